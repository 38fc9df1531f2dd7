use super::*;
use ai_gateway_core::fake_host::FakeHost;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

fn settings(extra: Value) -> Arc<Settings> {
    let mut config = json!({
        "backends": [
            {"name": "a", "cluster": "mcp_a"},
            {"name": "b", "cluster": "mcp_b", "path": "/b/mcp", "host": "b.internal",
             "headers": {"x-api-key": "secret"}}
        ],
        "session": {"keys": [STANDARD.encode([7u8; 32])]},
        "allowedOrigins": ["https://app.example.com"],
        "maxRequestBytes": 2048
    });
    if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
        config.extend(extra);
    }
    Arc::new(Settings::from_json(&config.to_string()).unwrap())
}

fn filter() -> McpFilter {
    filter_with(json!({}))
}

fn filter_with(extra: Value) -> McpFilter {
    McpFilter::new(
        settings(extra),
        Arc::new(ListingCache::default()),
        Arc::new(RecoveredSessions::default()),
    )
}

fn post(extra: &[(&str, &str)]) -> FakeHost {
    let mut headers = vec![
        (":method", "POST"),
        (":path", "/mcp"),
        (":authority", "gateway"),
        ("content-type", "application/json"),
    ];
    headers.extend_from_slice(extra);
    FakeHost::with_request_headers(&headers)
}

/// Runs the request phase with `body` arriving in one chunk; returns the last action.
fn send(filter: &mut McpFilter, host: &mut FakeHost, body: &str) -> Action {
    let action = filter.on_request_headers(host, false);
    if host.local_reply.is_some() {
        return action;
    }
    assert_eq!(action, Action::Pause, "headers wait for the body");
    host.request_body = body.as_bytes().to_vec();
    filter.on_request_body(host, true)
}

fn call(name: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
           "params": {"name": name, "arguments": {"text": "hi"}}})
    .to_string()
}

fn reply_json(host: &FakeHost) -> (u16, Value) {
    let reply = host.local_reply.as_ref().expect("a local reply");
    (reply.status, serde_json::from_slice(&reply.body).unwrap())
}

fn counted(host: &FakeHost, method: &str, backend: &str, tool: &str, outcome: &str) -> u64 {
    host.counter(REQUESTS_TOTAL, &[method, backend, tool, outcome])
}

#[test]
fn prefixed_tool_call_is_routed_to_its_backend_without_the_prefix() {
    let mut filter = filter();
    let mut host = post(&[("mcp-name", "a_echo")]);
    assert_eq!(
        send(&mut filter, &mut host, &call("a_echo")),
        Action::Continue
    );
    assert!(host.local_reply.is_none());
    let body: Value = serde_json::from_slice(&host.request_body).unwrap();
    assert_eq!(body["params"]["name"], "echo");
    assert_eq!(body["params"]["arguments"]["text"], "hi");
    assert_eq!(body["id"], 7);
    assert_eq!(
        host.header(Direction::Request, BACKEND_HEADER).as_deref(),
        Some("mcp_a")
    );
    assert_eq!(
        host.header(Direction::Request, "mcp-name").as_deref(),
        Some("echo")
    );
    assert_eq!(
        host.header(Direction::Request, "content-length"),
        Some(host.request_body.len().to_string())
    );
    assert_eq!(
        host.header(Direction::Request, ":path").as_deref(),
        Some("/mcp")
    );
    assert_eq!(host.route_cache_cleared, 1);

    host.response_headers = vec![(":status".into(), "200".into())];
    filter.on_response_headers(&mut host, false);
    filter.on_response_body(&mut host, true);
    filter.on_stream_done(&mut host);
    assert_eq!(counted(&host, "tools/call", "a", "other", "2xx"), 1);
    assert_eq!(host.histograms.len(), 1);
}

#[test]
fn backend_path_host_and_headers_are_applied() {
    let mut filter = filter();
    let mut host = post(&[]);
    assert_eq!(
        send(&mut filter, &mut host, &call("b_echo")),
        Action::Continue
    );
    assert_eq!(
        host.header(Direction::Request, BACKEND_HEADER).as_deref(),
        Some("mcp_b")
    );
    assert_eq!(
        host.header(Direction::Request, ":path").as_deref(),
        Some("/b/mcp")
    );
    assert_eq!(
        host.header(Direction::Request, ":authority").as_deref(),
        Some("b.internal")
    );
    assert_eq!(
        host.header(Direction::Request, "x-api-key").as_deref(),
        Some("secret")
    );
    // No Mcp-Name from the client (an older protocol version): none is added.
    assert_eq!(host.header(Direction::Request, "mcp-name"), None);
}

#[test]
fn client_routing_header_and_session_token_are_removed() {
    let mut filter = filter();
    let mut host = post(&[(BACKEND_HEADER, "mcp_b")]);
    send(&mut filter, &mut host, &call("a_echo"));
    assert_eq!(
        host.header(Direction::Request, BACKEND_HEADER).as_deref(),
        Some("mcp_a")
    );
    // A token that does not open is refused (404) and never forwarded.
    let mut host = post(&[("mcp-session-id", "token")]);
    send(&mut filter_with(json!({})), &mut host, &call("a_echo"));
    assert_eq!(host.header(Direction::Request, "mcp-session-id"), None);
    assert_eq!(reply_json(&host).0, 404);

    // Even on a request the filter does not answer, and one it refuses.
    let mut other = FakeHost::with_request_headers(&[
        (":method", "GET"),
        (":path", "/elsewhere"),
        (BACKEND_HEADER, "mcp_b"),
    ]);
    assert_eq!(
        filter_with(json!({})).on_request_headers(&mut other, true),
        Action::Continue
    );
    assert_eq!(other.header(Direction::Request, BACKEND_HEADER), None);
    assert_eq!(
        other.route_cache_cleared, 1,
        "the route chosen with it is dropped"
    );
    let mut unknown = post(&[(BACKEND_HEADER, "mcp_b")]);
    send(&mut filter_with(json!({})), &mut unknown, &call("zz_echo"));
    assert_eq!(unknown.header(Direction::Request, BACKEND_HEADER), None);
}

#[test]
fn other_paths_pass_through_uncounted() {
    let mut filter = filter();
    let mut host = FakeHost::with_request_headers(&[(":method", "POST"), (":path", "/other")]);
    assert_eq!(
        filter.on_request_headers(&mut host, false),
        Action::Continue
    );
    host.request_body = b"not json".to_vec();
    assert_eq!(filter.on_request_body(&mut host, true), Action::Continue);
    filter.on_stream_done(&mut host);
    assert!(host.local_reply.is_none());
    assert!(host.counters.is_empty());
}

#[test]
fn unknown_prefix_is_invalid_params_naming_the_tool() {
    let mut filter = filter();
    let mut host = post(&[]);
    assert_eq!(
        send(&mut filter, &mut host, &call("zz_echo")),
        Action::Pause
    );
    let (status, body) = reply_json(&host);
    assert_eq!(status, 200);
    assert_eq!(body["id"], 7);
    assert_eq!(body["error"]["code"], -32602);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("zz_echo"));
    assert_eq!(host.header(Direction::Request, BACKEND_HEADER), None);
    filter.on_stream_done(&mut host);
    assert_eq!(
        counted(&host, "tools/call", "none", "other", "jsonrpc_-32602"),
        1
    );
}

#[test]
fn invalid_json_is_a_parse_error_with_400() {
    let mut filter = filter();
    let mut host = post(&[]);
    send(&mut filter, &mut host, "{not json");
    let (status, body) = reply_json(&host);
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], -32700);
    assert_eq!(body["id"], Value::Null);
    filter.on_stream_done(&mut host);
    assert_eq!(
        counted(&host, "invalid", "none", "none", "jsonrpc_-32700"),
        1
    );
}

#[test]
fn json_that_is_not_json_rpc_is_an_invalid_request() {
    let mut host = post(&[]);
    send(&mut filter(), &mut host, r#"{"hello": "world"}"#);
    let (status, body) = reply_json(&host);
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], -32600);
}

#[test]
fn empty_body_is_a_parse_error() {
    let mut filter = filter();
    let mut host = post(&[]);
    assert_eq!(filter.on_request_headers(&mut host, true), Action::Pause);
    assert_eq!(reply_json(&host).1["error"]["code"], -32700);
}

#[test]
fn oversized_body_is_413_by_declared_length_or_by_what_arrived() {
    let mut filter = filter();
    let mut host = post(&[("content-length", "4096")]);
    assert_eq!(filter.on_request_headers(&mut host, false), Action::Pause);
    let (status, body) = reply_json(&host);
    assert_eq!(status, 413);
    assert!(body["error"]["message"].as_str().unwrap().contains("2048"));
    filter.on_stream_done(&mut host);
    assert_eq!(counted(&host, "unread", "none", "none", "413"), 1);

    // Chunked: no length up front, the buffered body crosses the limit.
    let mut filter = filter_with(json!({}));
    let mut host = post(&[]);
    assert_eq!(filter.on_request_headers(&mut host, false), Action::Pause);
    host.request_body = vec![b' '; 1500];
    assert_eq!(filter.on_request_body(&mut host, false), Action::Pause);
    assert!(host.local_reply.is_none());
    host.request_body = vec![b' '; 3000];
    assert_eq!(filter.on_request_body(&mut host, false), Action::Pause);
    assert_eq!(reply_json(&host).0, 413);
}

#[test]
fn disallowed_origin_is_403_and_allowed_or_absent_passes() {
    let mut host = post(&[("origin", "https://evil.example.com")]);
    send(&mut filter(), &mut host, &call("a_echo"));
    assert_eq!(reply_json(&host).0, 403);
    assert_eq!(host.header(Direction::Request, BACKEND_HEADER), None);

    let mut host = post(&[("origin", "https://app.example.com")]);
    assert_eq!(
        send(&mut filter(), &mut host, &call("a_echo")),
        Action::Continue
    );
    assert!(host.local_reply.is_none());
}

#[test]
fn non_post_methods_get_405() {
    for method in ["GET", "DELETE"] {
        let mut host = FakeHost::with_request_headers(&[(":method", method), (":path", "/mcp")]);
        assert_eq!(filter().on_request_headers(&mut host, true), Action::Pause);
        let reply = host.local_reply.as_ref().unwrap();
        assert_eq!(reply.status, 405);
        assert!(reply.headers.contains(&("allow".into(), "POST".into())));
    }
}

#[test]
fn unknown_methods_are_method_not_found() {
    let mut host = post(&[]);
    send(
        &mut filter(),
        &mut host,
        r#"{"jsonrpc":"2.0","id":1,"method":"x/y"}"#,
    );
    let (status, body) = reply_json(&host);
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (200, json!(-32601))
    );
}

#[test]
fn without_2026_07_28_offered_discovery_is_unknown_and_its_requests_400() {
    let offered = json!({"protocolVersions": ["2025-11-25", "2025-06-18"]});
    let mut host = post(&[]);
    send(
        &mut filter_with(offered.clone()),
        &mut host,
        r#"{"jsonrpc":"2.0","id":1,"method":"server/discover"}"#,
    );
    let (status, body) = reply_json(&host);
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (200, json!(-32601))
    );
    assert!(host.callouts.is_empty());

    let mut host = post(&[
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "a_echo"),
    ]);
    send(&mut filter_with(offered), &mut host, &call("a_echo"));
    let (status, body) = reply_json(&host);
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!(-32600))
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2026-07-28"));
}

#[test]
fn an_unknown_version_gets_the_2026_07_28_error_naming_the_supported_ones() {
    let mut host = post(&[("mcp-protocol-version", "2099-01-01")]);
    send(
        &mut filter(),
        &mut host,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#,
    );
    let (status, body) = reply_json(&host);
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!(-32022))
    );
    assert_eq!(body["error"]["data"]["requested"], "2099-01-01");
    assert_eq!(
        body["error"]["data"]["supported"],
        json!(["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"])
    );
    assert!(host.callouts.is_empty());
}

#[test]
fn modern_header_mismatch_is_400() {
    let mut host = post(&[
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "a_other"),
    ]);
    send(&mut filter(), &mut host, &call("a_echo"));
    let (status, body) = reply_json(&host);
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], -32020);
}

#[test]
fn modern_headers_that_match_are_rewritten_with_the_body() {
    let mut host = post(&[
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "b_echo"),
    ]);
    assert_eq!(
        send(&mut filter(), &mut host, &call("b_echo")),
        Action::Continue
    );
    assert_eq!(
        host.header(Direction::Request, "mcp-name").as_deref(),
        Some("echo")
    );
}

#[test]
fn body_arriving_in_chunks_is_buffered_until_the_end() {
    let mut filter = filter();
    let mut host = post(&[]);
    assert_eq!(filter.on_request_headers(&mut host, false), Action::Pause);
    let whole = call("a_echo");
    host.request_body = whole.as_bytes()[..10].to_vec();
    assert_eq!(filter.on_request_body(&mut host, false), Action::Pause);
    host.request_body = whole.into_bytes();
    assert_eq!(filter.on_request_body(&mut host, true), Action::Continue);
    assert_eq!(
        host.header(Direction::Request, BACKEND_HEADER).as_deref(),
        Some("mcp_a")
    );
}

#[test]
fn stream_done_records_once() {
    let mut filter = filter();
    let mut host = post(&[]);
    send(&mut filter, &mut host, &call("zz_x"));
    filter.on_stream_done(&mut host);
    filter.on_stream_done(&mut host);
    assert_eq!(
        counted(&host, "tools/call", "none", "other", "jsonrpc_-32602"),
        1
    );
}

mod answer_check;
mod bridge;
mod bridge_input;
mod fan_out;
mod listen;
mod openapi;
mod relay;
