//! The shortest path through the filter: a card fetch and a JSON-RPC call.

mod common;

use common::{exchange, get, post, response};

const CONFIG: &str =
    r#"{"agents":[{"name":"demo","pathPrefix":"/a2a/demo","upstreamPathPrefix":"/"}]}"#;

#[test]
fn card_is_rewritten_and_a_call_is_counted() {
    let factory = ai_gateway_a2a::factory(CONFIG).unwrap();
    let card = r#"{"name":"demo","supportedInterfaces":[{"url":"http://localhost:9999/","protocolBinding":"JSONRPC"}]}"#;
    let ex = exchange(
        &factory,
        get("/a2a/demo/.well-known/agent-card.json"),
        Some(response(200, "application/json", card)),
    );
    assert_eq!(
        ex.client_json()["supportedInterfaces"][0]["url"],
        "http://gw.example:10000/a2a/demo/"
    );
    assert_eq!(
        ex.counter("a2a_requests_total", &["demo", "card", "2xx"]),
        1
    );

    let ex = exchange(
        &factory,
        post(
            "/a2a/demo/",
            r#"{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{}}"#,
        ),
        Some(response(
            200,
            "application/json",
            r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
        )),
    );
    assert_eq!(
        ex.counter("a2a_requests_total", &["demo", "SendMessage", "2xx"]),
        1
    );
    assert_eq!(
        ex.histogram("a2a_request_duration_ms", &["demo", "SendMessage"]),
        vec![5]
    );
}
