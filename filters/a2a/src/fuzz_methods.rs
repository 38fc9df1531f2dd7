//! Fuzz target: the A2A method readers — the JSON-RPC parse of a whole body and the prefix
//! scanner used for bodies too large to copy. No panic, and the scanner never names a method
//! other than the one the whole body carries, duplicate `method` members included (a client
//! cannot make the metrics see one method while the agent runs another).

use ai_gateway_core::fuzz::{self, check};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::json;

use crate::methods::{method_of_body, method_of_prefix, BodyMethod};

/// A2A requests as the specification's examples write them.
fn seeds() -> Vec<serde_json::Value> {
    vec![
        json!({"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": {
            "role": "user", "parts": [{"kind": "text", "text": "tell me a joke"}],
            "messageId": "9229e770-767c-417b-a0b0-f0741243c589"}, "metadata": {}}}),
        json!({"jsonrpc": "2.0", "id": "req-7", "method": "tasks/get",
               "params": {"id": "363422be-b0f9-4692-a24d-278670e7c7f1", "historyLength": 10}}),
        json!({"method": "SendStreamingMessage", "params": {"message": {"role": "ROLE_USER",
               "parts": [{"text": "hi"}]}}, "id": 3, "jsonrpc": "2.0"}),
    ]
}

#[test]
fn fuzz_a2a_method_readers() {
    let input = (fuzz::json_mutated(seeds(), 4), any::<Index>());
    fuzz::run("a2a_method_readers", input, |(body, cut)| {
        let whole = method_of_body(&body);
        let cut = cut.index(body.len() + 1);
        // A `method` member past the prefix (or straddling its end) is beyond what a prefix
        // scan can know: only prefixes that hold every one are checked.
        let after = &body[cut.saturating_sub(8)..];
        if cut < body.len() && after.windows(6).any(|w| w == b"method") {
            return Ok(());
        }
        if let (BodyMethod::Named(full), BodyMethod::Named(seen)) =
            (&whole, method_of_prefix(&body[..cut]))
        {
            check(*full == seen, || {
                let body = String::from_utf8_lossy(&body);
                format!("scanner read {seen:?}, body says {full:?}: {body}")
            })?;
        }
        Ok(())
    });
}

#[test]
fn a_duplicate_method_member_reads_as_the_last() {
    // Found by fuzz_a2a_method_readers: the prefix scanner stopped at the first `method` while
    // the JSON-RPC parse (and so the agent) takes the last.
    let body =
        br#"{"jsonrpc":"2.0","id":1,"method":"tasks/get","method":"message/send","params":{}}"#;
    let want = BodyMethod::Named("message/send".into());
    assert_eq!(method_of_body(body), want);
    assert_eq!(method_of_prefix(body), want);
    assert_eq!(method_of_prefix(&body[..body.len() - 12]), want);
}
