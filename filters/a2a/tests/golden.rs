//! Golden cards: each input card in testdata/ is served through the filter and the body the
//! client receives must equal the expected file member for member, in order.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use ai_gateway_core::FilterFactory;
use common::{exchange, response, Message};
use serde_json::Value;

fn testdata(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn factory(config_file: &str, signed_cards: Option<&str>) -> Arc<dyn FilterFactory> {
    let mut config: Value = serde_json::from_str(&testdata(config_file)).unwrap();
    if let Some(policy) = signed_cards {
        config["signedCards"] = Value::String(policy.to_string());
    }
    ai_gateway_a2a::factory(&config.to_string()).unwrap()
}

/// Pretty form of a JSON document: equal strings mean equal members in equal order.
fn canonical(json: &[u8]) -> String {
    let value: Value = serde_json::from_slice(json).expect("valid JSON");
    serde_json::to_string_pretty(&value).unwrap()
}

fn request(method: &str, path: &str, body: Option<&str>) -> Message {
    let mut m = Message::new(&[
        (":method", method),
        (":path", path),
        (":authority", "127.0.0.1:10000"),
    ]);
    if let Some(body) = body {
        m = m.body(body);
    }
    m
}

struct Case {
    name: &'static str,
    config: &'static str,
    signed_cards: Option<&'static str>,
    method: &'static str,
    path: &'static str,
    body: Option<&'static str>,
    input: &'static str,
    expected: &'static str,
    agent: &'static str,
    result: &'static str,
}

const PUBLIC: &str = "config_public_base.json";
const FROM_HOST: &str = "config_from_host.json";

const CASES: &[Case] = &[
    Case {
        name: "v1.0 card at the well-known path",
        config: PUBLIC,
        signed_cards: None,
        method: "GET",
        path: "/agents/planner/.well-known/agent-card.json",
        body: None,
        input: "v1_card.json",
        expected: "v1_card.rewritten.json",
        agent: "planner",
        result: "rewritten",
    },
    Case {
        name: "signed v1.0 card, default policy strips",
        config: PUBLIC,
        signed_cards: None,
        method: "GET",
        path: "/agents/planner/.well-known/agent-card.json",
        body: None,
        input: "v1_card_signed.json",
        expected: "v1_card_signed.stripped.json",
        agent: "planner",
        result: "signature_stripped",
    },
    Case {
        name: "signed v1.0 card, keep policy",
        config: PUBLIC,
        signed_cards: Some("keep"),
        method: "GET",
        path: "/agents/planner/.well-known/agent-card.json",
        body: None,
        input: "v1_card_signed.json",
        expected: "v1_card_signed.kept.json",
        agent: "planner",
        result: "signed_kept",
    },
    Case {
        name: "v0.3 card at the legacy path",
        config: PUBLIC,
        signed_cards: None,
        method: "GET",
        path: "/fx/.well-known/agent.json",
        body: None,
        input: "v03_card.json",
        expected: "v03_card.rewritten.json",
        agent: "fx",
        result: "rewritten",
    },
    Case {
        name: "signed v0.3 card",
        config: PUBLIC,
        signed_cards: Some("strip"),
        method: "GET",
        path: "/fx/.well-known/agent-card.json",
        body: None,
        input: "v03_card_signed.json",
        expected: "v03_card_signed.stripped.json",
        agent: "fx",
        result: "signature_stripped",
    },
    Case {
        name: "a2a-sdk hybrid card, base URL from the Host header",
        config: FROM_HOST,
        signed_cards: None,
        method: "GET",
        path: "/a2a/demo/.well-known/agent-card.json",
        body: None,
        input: "sdk_hybrid_card.json",
        expected: "sdk_hybrid_card.rewritten.json",
        agent: "demo",
        result: "rewritten",
    },
    Case {
        name: "v1.0 HTTP+JSON extended card",
        config: PUBLIC,
        signed_cards: None,
        method: "GET",
        path: "/agents/planner/extendedAgentCard",
        body: None,
        input: "v1_card.json",
        expected: "v1_card.rewritten.json",
        agent: "planner",
        result: "rewritten",
    },
    Case {
        name: "v0.3 HTTP+JSON extended card",
        config: PUBLIC,
        signed_cards: None,
        method: "GET",
        path: "/fx/v1/card",
        body: None,
        input: "v03_card.json",
        expected: "v03_card.rewritten.json",
        agent: "fx",
        result: "rewritten",
    },
    Case {
        name: "v0.3 authenticated extended card endpoint",
        config: PUBLIC,
        signed_cards: None,
        method: "GET",
        path: "/fx/agent/authenticatedExtendedCard",
        body: None,
        input: "v03_card.json",
        expected: "v03_card.rewritten.json",
        agent: "fx",
        result: "rewritten",
    },
    Case {
        name: "v1.0 JSON-RPC GetExtendedAgentCard result",
        config: PUBLIC,
        signed_cards: None,
        method: "POST",
        path: "/agents/planner/v1",
        body: Some(r#"{"jsonrpc":"2.0","id":"req-7","method":"GetExtendedAgentCard","params":{}}"#),
        input: "jsonrpc_extended_card_v1.json",
        expected: "jsonrpc_extended_card_v1.rewritten.json",
        agent: "planner",
        result: "rewritten",
    },
    Case {
        name: "v0.3 JSON-RPC agent/getAuthenticatedExtendedCard result, signed",
        config: PUBLIC,
        signed_cards: None,
        method: "POST",
        path: "/fx/jsonrpc/",
        body: Some(r#"{"jsonrpc":"2.0","id":11,"method":"agent/getAuthenticatedExtendedCard"}"#),
        input: "jsonrpc_extended_card_v03_signed.json",
        expected: "jsonrpc_extended_card_v03_signed.stripped.json",
        agent: "fx",
        result: "signature_stripped",
    },
];

#[test]
fn golden_cards_are_rewritten_exactly() {
    for case in CASES {
        let factory = factory(case.config, case.signed_cards);
        let card = testdata(case.input);
        let expected = canonical(testdata(case.expected).as_bytes());
        // Whole body, then small chunks: buffering must reassemble the same card.
        for chunk_size in [card.len(), 7] {
            let upstream =
                Message::new(&[(":status", "200"), ("content-type", "application/json")])
                    .chunked(&card, chunk_size);
            let ex = exchange(
                &factory,
                request(case.method, case.path, case.body),
                Some(upstream),
            );
            assert_eq!(
                canonical(&ex.client_body),
                expected,
                "case: {} (chunks of {chunk_size})",
                case.name
            );
            assert_eq!(
                ex.counters("a2a_cards_total"),
                vec![(vec![case.agent.to_string(), case.result.to_string()], 1)],
                "case: {}",
                case.name
            );
        }
    }
}

#[test]
fn golden_signed_card_is_rejected_with_an_explanation() {
    let factory = factory(PUBLIC, Some("reject"));
    let card = testdata("v1_card_signed.json");
    let ex = exchange(
        &factory,
        request("GET", "/agents/planner/.well-known/agent-card.json", None),
        Some(response(200, "application/json", &card)),
    );
    assert_eq!(ex.client_status, Some(502));
    let body = ex.client_json();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("signedCards"));
    assert!(!String::from_utf8_lossy(&ex.client_body).contains("planner.internal"));
    assert_eq!(
        ex.counter("a2a_cards_total", &["planner", "signed_rejected"]),
        1
    );
    assert_eq!(
        ex.counter("a2a_requests_total", &["planner", "card", "5xx"]),
        1
    );
}

#[test]
fn golden_inputs_differ_from_their_expected_outputs() {
    // Guards the goldens themselves: an expected file equal to its input would let a filter
    // that changes nothing pass.
    for case in CASES {
        assert_ne!(
            canonical(testdata(case.input).as_bytes()),
            canonical(testdata(case.expected).as_bytes()),
            "case: {}",
            case.name
        );
    }
}
