//! Fuzz target: the JSON-RPC envelope parser. Structure-aware messages round-trip through
//! `to_vec` → `parse`; mutated bodies never panic, re-serialize to a bounded size and parse
//! back to the same message; nesting far past serde_json's recursion limit is a parse error.

use proptest::prelude::*;

use crate::fuzz::{self, check};
use crate::jsonrpc::{
    parse, parse_message, ErrorObject, Id, JsonRpcError, Message, Notification, Outcome, Payload,
    Request, Response,
};

fn id() -> impl Strategy<Value = Id> {
    prop_oneof![
        any::<i64>().prop_map(Id::from),
        any::<u64>().prop_map(|n| Id::Number(n.into())),
        ".{0,16}".prop_map(Id::String),
        Just(Id::Null),
    ]
}

fn params() -> impl Strategy<Value = Option<serde_json::Value>> {
    proptest::option::of(
        fuzz::json_value(3).prop_filter("params are an object or an array", |v| {
            v.is_object() || v.is_array()
        }),
    )
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("tools/call".to_string()),
        Just("initialize".to_string()),
        Just("notifications/initialized".to_string()),
        ".{0,24}",
    ]
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (id(), method(), params()).prop_map(|(id, method, params)| Message::Request(Request {
            id,
            method,
            params
        })),
        (method(), params())
            .prop_map(|(method, params)| Message::Notification(Notification { method, params })),
        (id(), fuzz::json_value(3)).prop_map(|(id, v)| Message::Response(Response::result(id, v))),
        (
            id(),
            any::<i64>(),
            ".{0,24}",
            proptest::option::of(fuzz::json_value(2))
        )
            .prop_map(|(id, code, message, data)| {
                Message::Response(Response {
                    id,
                    outcome: Outcome::Error(ErrorObject {
                        code,
                        message,
                        data,
                    }),
                })
            }),
    ]
}

/// The JSON-RPC 2.0 specification's examples: real envelopes to mutate.
const SPEC_EXAMPLES: &[&str] = &[
    r#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#,
    r#"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}"#,
    r#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#,
    r#"{"jsonrpc": "2.0", "result": 19, "id": 1}"#,
    r#"{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}"#,
    r#"{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}"#,
    r#"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},{"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},{"foo": "boo"},{"jsonrpc": "2.0", "method": "get_data", "id": "9"}]"#,
    r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"weather__get","arguments":{"city":"Paris"},"_meta":{"progressToken":"p1"}}}"#,
];

#[test]
fn fuzz_jsonrpc_round_trip() {
    fuzz::run("jsonrpc_round_trip", message(), |message| {
        let bytes = message.to_vec();
        let parsed = parse_message(&bytes);
        check(parsed.as_ref() == Ok(&message), || {
            format!("parsed back as {parsed:?}")
        })
    });
}

#[test]
fn fuzz_jsonrpc_mutated() {
    let seeds: Vec<Vec<u8>> = SPEC_EXAMPLES
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    fuzz::run("jsonrpc_mutated", fuzz::mutated(seeds, 8), |bytes| {
        let Ok(payload) = parse(&bytes) else {
            return Ok(());
        };
        let out = payload.to_vec();
        // Re-serialization only normalizes (escapes, number forms, whitespace): bounded.
        check(out.len() <= 4 * bytes.len() + 64, || {
            format!("{} bytes out of {}", out.len(), bytes.len())
        })?;
        let valid = |p: &Payload| match p {
            Payload::Single(m) => vec![m.clone()],
            Payload::Batch(items) => items.iter().filter_map(|i| i.clone().ok()).collect(),
        };
        // A batch of only invalid members serializes as `[]` (invalid members are skipped),
        // which is no batch: nothing to read back.
        if valid(&payload).is_empty() {
            return check(out == b"[]", || String::from_utf8_lossy(&out).into_owned());
        }
        let again = parse(&out).map_err(|e| TestCaseError::fail(format!("re-parse: {e}")))?;
        let values = |p: &Payload| {
            serde_json::Value::Array(valid(p).iter().map(Message::to_value).collect())
        };
        let (first, second) = (values(&payload), values(&again));
        check(fuzz::same_json(&first, &second), || {
            format!("{first} re-parsed as {second}")
        })
    });
}

#[test]
fn nesting_past_the_recursion_limit_is_a_parse_error() {
    for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
        let unclosed = open.repeat(100_000);
        let err = parse(unclosed.as_bytes()).expect_err("not JSON");
        assert!(matches!(err, JsonRpcError::Parse(_)), "{err:?}");
        // Well-formed, but deeper than serde_json's limit of 128: refused, not recursed into.
        let deep = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":{}0{}}}"#,
            open.repeat(200),
            close.repeat(200)
        );
        let err = parse(deep.as_bytes()).expect_err("too deep");
        assert!(matches!(err, JsonRpcError::Parse(_)), "{err:?}");
    }
}
