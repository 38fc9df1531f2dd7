//! Bad input: cards that are not JSON or too large, malformed JSON-RPC, hostile method names.
//! Each passes through unchanged and is counted.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use ai_gateway_core::{FilterFactory, LogLevel};
use common::{exchange, get, post, response, Message};

const CONFIG: &str = r#"{"agents":[{"name":"demo","pathPrefix":"/a2a/demo"}],"maxCardBytes":256}"#;

fn factory() -> Arc<dyn FilterFactory> {
    ai_gateway_a2a::factory(CONFIG).unwrap()
}

fn big_card() -> String {
    format!(
        r#"{{"url":"http://localhost:9999/","description":"{}"}}"#,
        "d".repeat(400)
    )
}

#[test]
fn oversized_card_passes_through_unchanged() {
    let body = big_card();
    let ex = exchange(
        &factory(),
        get("/a2a/demo/.well-known/agent-card.json"),
        Some(response(200, "application/json", &body)),
    );
    assert_eq!(ex.client_body, body.as_bytes());
    assert_eq!(
        ex.max_response_buffered, 0,
        "a declared length over the limit is never buffered"
    );
    assert_eq!(
        ex.client_header("content-length"),
        Some(body.len().to_string())
    );
    assert_eq!(ex.counter("a2a_cards_total", &["demo", "too_large"]), 1);
    assert!(ex.logged(LogLevel::Warn, "larger than maxCardBytes"));
}

#[test]
fn oversized_card_without_length_is_released_once_over_the_limit() {
    let body = big_card();
    let upstream = Message::new(&[(":status", "200"), ("content-type", "application/json")])
        .chunked(&body, 50);
    let ex = exchange(
        &factory(),
        get("/a2a/demo/.well-known/agent-card.json"),
        Some(upstream),
    );
    assert_eq!(ex.client_body, body.as_bytes());
    assert!(ex.max_response_buffered <= 256);
    assert_eq!(ex.counter("a2a_cards_total", &["demo", "too_large"]), 1);
}

#[test]
fn non_json_card_passes_through_unchanged() {
    for body in [
        "<html>not a card</html>",
        "[1,2,3]",
        "{\"url\": \"http://x/\"",
    ] {
        let ex = exchange(
            &factory(),
            get("/a2a/demo/.well-known/agent-card.json"),
            Some(response(200, "application/json", body)),
        );
        assert_eq!(ex.client_body, body.as_bytes());
        assert_eq!(
            ex.counter("a2a_cards_total", &["demo", "not_json"]),
            1,
            "{body}"
        );
        assert!(ex.logged(LogLevel::Warn, "not_json"));
    }
}

#[test]
fn compressed_card_passes_through_unchanged() {
    let upstream = Message::new(&[
        (":status", "200"),
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
    ])
    .body([0x1f, 0x8b, 0x08, 0x00]);
    let ex = exchange(
        &factory(),
        get("/a2a/demo/.well-known/agent-card.json"),
        Some(upstream),
    );
    assert_eq!(ex.client_body, [0x1f, 0x8b, 0x08, 0x00]);
    assert_eq!(ex.counter("a2a_cards_total", &["demo", "not_json"]), 1);
}

#[test]
fn malformed_json_rpc_is_forwarded_and_counted_as_unknown() {
    let bodies = [
        "{not json",
        "",
        r#"{"jsonrpc":"1.0","id":1,"method":"SendMessage"}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":42}"#,
        r#"[{"jsonrpc":"2.0","id":1,"method":"SendMessage"}]"#,
        "\u{0}\u{1}\u{2}",
    ];
    for body in bodies {
        let mut request = post("/a2a/demo/", body);
        if body.is_empty() {
            request.chunks.clear();
        }
        let ex = exchange(
            &factory(),
            request,
            Some(response(400, "application/json", "{}")),
        );
        assert_eq!(ex.upstream_body, body.as_bytes(), "forwarded unchanged");
        assert!(!ex.request_paused);
        assert_eq!(
            ex.counter("a2a_requests_total", &["demo", "unknown", "4xx"]),
            1,
            "{body:?}"
        );
    }
}

#[test]
fn random_method_names_collapse_to_other() {
    let factory = factory();
    let mut tag_sets = BTreeSet::new();
    for i in 0..10_000 {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{i},"method":"m-{i:x}-{}"}}"#,
            i * 7919
        );
        let ex = exchange(
            &factory,
            post("/a2a/demo/", body),
            Some(response(200, "application/json", "{}")),
        );
        for (tags, _) in ex.counters("a2a_requests_total") {
            tag_sets.insert(tags);
        }
    }
    assert_eq!(
        tag_sets.into_iter().collect::<Vec<_>>(),
        vec![vec![
            "demo".to_string(),
            "other".to_string(),
            "2xx".to_string()
        ]]
    );
}

#[test]
fn hostile_paths_do_not_create_agents() {
    let factory = factory();
    let mut agents = BTreeSet::new();
    for i in 0..100 {
        let ex = exchange(
            &factory,
            get(&format!("/x{i}/.well-known/agent-card.json")),
            None,
        );
        for (tags, _) in ex.counters("a2a_requests_total") {
            agents.insert(tags[0].clone());
        }
    }
    assert_eq!(
        agents.into_iter().collect::<Vec<_>>(),
        vec!["other".to_string()]
    );
}

#[test]
fn invalid_config_is_refused_naming_the_field() {
    let err = match ai_gateway_a2a::factory(r#"{"agents":[{"name":"a","pathPrefix":"no-slash"}]}"#)
    {
        Err(err) => err.to_string(),
        Ok(_) => panic!("config accepted"),
    };
    assert!(err.contains("agents[0].pathPrefix"), "{err}");
}
