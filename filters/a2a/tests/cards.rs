//! Agent-card behaviour: which responses are held and rewritten, and what happens around them.

mod common;

use std::sync::Arc;

use ai_gateway_core::{FilterFactory, LogLevel};
use common::{exchange, get, post, response, Message};

const CONFIG: &str =
    r#"{"agents":[{"name":"demo","pathPrefix":"/a2a/demo","upstreamPathPrefix":"/"}]}"#;

fn factory(config: &str) -> Arc<dyn FilterFactory> {
    ai_gateway_a2a::factory(config).unwrap()
}

fn card(url: &str) -> String {
    format!(
        r#"{{"name":"demo","url":"{url}","supportedInterfaces":[{{"url":"{url}","protocolBinding":"JSONRPC"}}]}}"#
    )
}

fn card_response(body: &str) -> Message {
    response(200, "application/json", body)
}

#[test]
fn well_known_card_is_rewritten() {
    let ex = exchange(
        &factory(CONFIG),
        get("/a2a/demo/.well-known/agent-card.json"),
        Some(card_response(&card("http://localhost:9999/"))),
    );
    let out = ex.client_json();
    assert_eq!(out["url"], "http://gw.example:10000/a2a/demo/");
    assert_eq!(
        out["supportedInterfaces"][0]["url"],
        "http://gw.example:10000/a2a/demo/"
    );
    assert_eq!(ex.counter("a2a_cards_total", &["demo", "rewritten"]), 1);
    assert_eq!(
        ex.counter("a2a_requests_total", &["demo", "card", "2xx"]),
        1
    );
}

#[test]
fn legacy_card_path_is_rewritten() {
    let ex = exchange(
        &factory(CONFIG),
        get("/a2a/demo/.well-known/agent.json"),
        Some(card_response(&card("http://localhost:9999/rpc"))),
    );
    assert_eq!(
        ex.client_json()["url"],
        "http://gw.example:10000/a2a/demo/rpc"
    );
    assert_eq!(ex.counter("a2a_cards_total", &["demo", "rewritten"]), 1);
}

#[test]
fn extended_card_fetches_are_rewritten_in_every_form() {
    let body = card("http://localhost:9999/");
    let rest_forms = [
        ("/a2a/demo/extendedAgentCard", "GetExtendedAgentCard"),
        ("/a2a/demo/v1/card", "GetExtendedAgentCard"),
        ("/a2a/demo/agent/authenticatedExtendedCard", "card"),
    ];
    for (path, method) in rest_forms {
        let ex = exchange(&factory(CONFIG), get(path), Some(card_response(&body)));
        assert_eq!(
            ex.client_json()["url"],
            "http://gw.example:10000/a2a/demo/",
            "{path}"
        );
        assert_eq!(
            ex.counter("a2a_requests_total", &["demo", method, "2xx"]),
            1,
            "{path}"
        );
    }
    for method in ["GetExtendedAgentCard", "agent/getAuthenticatedExtendedCard"] {
        let request = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}"}}"#);
        let answer = format!(r#"{{"jsonrpc":"2.0","id":1,"result":{body}}}"#);
        let ex = exchange(
            &factory(CONFIG),
            post("/a2a/demo/", request),
            Some(card_response(&answer)),
        );
        assert_eq!(
            ex.client_json()["result"]["url"],
            "http://gw.example:10000/a2a/demo/",
            "{method}"
        );
        assert_eq!(
            ex.counter("a2a_requests_total", &["demo", method, "2xx"]),
            1
        );
    }
}

#[test]
fn extended_card_json_rpc_error_passes_through_with_its_code() {
    let answer = r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32007,"message":"not configured"}}"#;
    let ex = exchange(
        &factory(CONFIG),
        post(
            "/a2a/demo/",
            r#"{"jsonrpc":"2.0","id":1,"method":"GetExtendedAgentCard"}"#,
        ),
        Some(card_response(answer)),
    );
    assert_eq!(ex.client_body, answer.as_bytes());
    assert!(ex.counters("a2a_cards_total").is_empty());
    assert_eq!(
        ex.counter(
            "a2a_requests_total",
            &["demo", "GetExtendedAgentCard", "jsonrpc_-32007"]
        ),
        1
    );
}

#[test]
fn signed_card_is_stripped_by_default() {
    let body =
        r#"{"url":"http://localhost:9999/","signatures":[{"protected":"e30","signature":"c2ln"}]}"#;
    let ex = exchange(
        &factory(CONFIG),
        get("/a2a/demo/.well-known/agent-card.json"),
        Some(card_response(body)),
    );
    let out = ex.client_json();
    assert!(out.get("signatures").is_none());
    assert_eq!(out["url"], "http://gw.example:10000/a2a/demo/");
    assert_eq!(
        ex.counter("a2a_cards_total", &["demo", "signature_stripped"]),
        1
    );
    assert!(ex.logged(LogLevel::Info, "signatures stripped"));
}

#[test]
fn signed_card_is_kept_when_configured() {
    let config = r#"{"agents":[{"name":"demo","pathPrefix":"/a2a/demo"}],"signedCards":"keep"}"#;
    let body =
        r#"{"url":"http://localhost:9999/","signatures":[{"protected":"e30","signature":"c2ln"}]}"#;
    let ex = exchange(
        &factory(config),
        get("/a2a/demo/.well-known/agent-card.json"),
        Some(card_response(body)),
    );
    let out = ex.client_json();
    assert_eq!(out["signatures"][0]["signature"], "c2ln");
    assert_eq!(out["url"], "http://gw.example:10000/a2a/demo/");
    assert_eq!(ex.counter("a2a_cards_total", &["demo", "signed_kept"]), 1);
}

#[test]
fn signed_card_is_rejected_with_502_when_configured() {
    let config = r#"{"agents":[{"name":"demo","pathPrefix":"/a2a/demo"}],"signedCards":"reject"}"#;
    let body =
        r#"{"url":"http://localhost:9999/","signatures":[{"protected":"e30","signature":"c2ln"}]}"#;
    let ex = exchange(
        &factory(config),
        get("/a2a/demo/.well-known/agent-card.json"),
        Some(card_response(body)),
    );
    assert_eq!(ex.client_status, Some(502));
    let reply = ex.host.local_reply.as_ref().unwrap();
    assert!(reply
        .headers
        .contains(&("content-type".to_string(), "application/json".to_string())));
    assert_eq!(reply.details, "a2a_signed_card_rejected");
    assert!(ex.client_json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("signatures"));
    assert_eq!(
        ex.counter("a2a_cards_total", &["demo", "signed_rejected"]),
        1
    );
    assert_eq!(
        ex.counter("a2a_requests_total", &["demo", "card", "5xx"]),
        1
    );
}

#[test]
fn configured_public_base_url_wins_over_the_host_header() {
    let config = r#"{"agents":[{"name":"demo","pathPrefix":"/a2a/demo"}],"publicBaseUrl":"https://agents.example.com/"}"#;
    let ex = exchange(
        &factory(config),
        get("/a2a/demo/.well-known/agent-card.json"),
        Some(card_response(&card("http://localhost:9999/x"))),
    );
    assert_eq!(
        ex.client_json()["url"],
        "https://agents.example.com/a2a/demo/x"
    );
}

#[test]
fn forwarded_proto_and_host_make_the_base_url_when_none_is_configured() {
    let request = Message::new(&[
        (":method", "GET"),
        (":path", "/a2a/demo/.well-known/agent-card.json"),
        ("host", "public.example.org"),
        ("x-forwarded-proto", "https"),
    ]);
    let ex = exchange(
        &factory(CONFIG),
        request,
        Some(card_response(&card("http://localhost:9999/"))),
    );
    assert_eq!(
        ex.client_json()["url"],
        "https://public.example.org/a2a/demo/"
    );
}

#[test]
fn card_without_a_usable_host_is_passed_through() {
    let request = Message::new(&[
        (":method", "GET"),
        (":path", "/a2a/demo/.well-known/agent-card.json"),
        (":authority", "bad host/with path"),
    ]);
    let body = card("http://localhost:9999/");
    let ex = exchange(&factory(CONFIG), request, Some(card_response(&body)));
    assert_eq!(ex.client_body, body.as_bytes());
    assert!(ex.logged(LogLevel::Warn, "no publicBaseUrl and no valid Host"));
}

#[test]
fn rewritten_card_drops_length_and_validator_headers() {
    let upstream = Message::new(&[
        (":status", "200"),
        ("content-type", "application/json"),
        ("content-length", "999"),
        ("etag", "W/\"abc\""),
        ("cache-control", "max-age=60"),
    ])
    .body(card("http://localhost:9999/"));
    let mut request = get("/a2a/demo/.well-known/agent-card.json");
    request
        .headers
        .push(("accept-encoding".into(), "gzip, br".into()));
    request
        .headers
        .push(("if-none-match".into(), "W/\"abc\"".into()));
    let ex = exchange(&factory(CONFIG), request, Some(upstream));
    assert_eq!(ex.client_header("content-length"), None);
    assert_eq!(ex.client_header("etag"), None);
    assert_eq!(
        ex.client_header("cache-control").as_deref(),
        Some("max-age=60")
    );
    let forwarded: Vec<&str> = ex
        .upstream_request_headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert!(
        !forwarded.contains(&"accept-encoding"),
        "card requests ask for identity encoding"
    );
    assert!(
        !forwarded.contains(&"if-none-match"),
        "card requests always get a full card"
    );
}

#[test]
fn card_split_across_many_chunks_is_rewritten_once() {
    let body = card("http://localhost:9999/");
    let upstream =
        Message::new(&[(":status", "200"), ("content-type", "application/json")]).chunked(&body, 3);
    let ex = exchange(
        &factory(CONFIG),
        get("/a2a/demo/.well-known/agent-card.json"),
        Some(upstream),
    );
    assert_eq!(ex.client_json()["url"], "http://gw.example:10000/a2a/demo/");
    assert_eq!(ex.counter("a2a_cards_total", &["demo", "rewritten"]), 1);
}

#[test]
fn card_error_responses_are_not_touched() {
    let body = r#"{"url":"http://localhost:9999/"}"#;
    let ex = exchange(
        &factory(CONFIG),
        get("/a2a/demo/.well-known/agent-card.json"),
        Some(response(404, "application/json", body)),
    );
    assert_eq!(ex.client_body, body.as_bytes());
    assert_eq!(ex.max_response_buffered, 0);
    assert!(ex.counters("a2a_cards_total").is_empty());
    assert_eq!(
        ex.counter("a2a_requests_total", &["demo", "card", "4xx"]),
        1
    );
}

#[test]
fn card_of_an_unconfigured_path_is_not_rewritten() {
    let body = card("http://localhost:9999/");
    let ex = exchange(
        &factory(CONFIG),
        get("/.well-known/agent-card.json"),
        Some(card_response(&body)),
    );
    assert_eq!(ex.client_body, body.as_bytes());
    assert_eq!(
        ex.counter("a2a_requests_total", &["other", "card", "2xx"]),
        1
    );
}

#[test]
fn non_card_responses_are_never_buffered() {
    let factory = factory(CONFIG);
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"result":{{"text":"{}"}}}}"#,
        "x".repeat(10_000)
    );
    let ex = exchange(
        &factory,
        post(
            "/a2a/demo/",
            r#"{"jsonrpc":"2.0","id":1,"method":"SendMessage"}"#,
        ),
        Some(
            Message::new(&[(":status", "200"), ("content-type", "application/json")])
                .chunked(&big, 100),
        ),
    );
    assert_eq!(ex.max_response_buffered, 0);
    assert_eq!(ex.client_body, big.as_bytes());
    let ex = exchange(
        &factory,
        get("/a2a/demo/tasks/t1"),
        Some(
            Message::new(&[(":status", "200"), ("content-type", "application/json")])
                .chunked(&big, 100),
        ),
    );
    assert_eq!(ex.max_response_buffered, 0);
    assert!(ex.client_headers.is_some());
}
