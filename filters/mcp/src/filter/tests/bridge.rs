//! Bridging a sessionless 2026-07-28 client to a session-based backend, against the fake host.

use super::*;
use ai_gateway_core::{CalloutId, CalloutRequest, CalloutResponse};

pub(super) fn status(code: u16) -> CalloutResult {
    Ok(CalloutResponse {
        status: code,
        headers: Vec::new(),
        body: Vec::new(),
    })
}

fn answer(body: Value, session: Option<&str>) -> CalloutResult {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(session) = session {
        headers.push(("mcp-session-id".into(), session.into()));
    }
    Ok(CalloutResponse {
        status: 200,
        headers,
        body: body.to_string().into_bytes(),
    })
}

pub(super) fn header<'a>(request: &'a CalloutRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

pub(super) fn body(request: &CalloutRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

/// A 2026-07-28 request: headers and `_meta` as the SDK sends them.
pub(super) fn modern(method: &str, name: Option<&str>, params: Value) -> (FakeHost, String) {
    let mut headers = vec![
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", method),
    ];
    if let Some(name) = name {
        headers.push(("mcp-name", name));
    }
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"sampling": {}},
        "io.modelcontextprotocol/clientInfo": {"name": "sdk", "version": "1"},
    });
    let request = json!({"jsonrpc": "2.0", "id": 3, "method": method, "params": params});
    (post(&headers), request.to_string())
}

#[test]
fn a_session_based_backend_is_learned_initialized_and_reused_for_routed_calls() {
    let recovered = Arc::new(RecoveredSessions::default());
    let new_filter = || {
        McpFilter::new(
            settings(json!({})),
            Arc::new(ListingCache::default()),
            Arc::clone(&recovered),
        )
    };
    let mut filter = new_filter();
    let (mut host, request) = modern("tools/list", None, json!({}));
    assert_eq!(send(&mut filter, &mut host, &request), Action::Pause);
    assert_eq!(header(&host.callouts[0], "mcp-method"), Some("tools/list"));
    // Backend a refuses a request without its session: it is session-based.
    filter.on_callout_done(&mut host, CalloutId(1), status(400));
    let init = &host.callouts[2];
    assert_eq!(body(init)["method"], "initialize");
    assert_eq!(
        body(init)["params"]["capabilities"],
        json!({"sampling": {}})
    );
    assert_eq!(body(init)["params"]["clientInfo"]["name"], "sdk");
    assert_eq!(header(init, "mcp-method"), None);
    let init_result = json!({"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                             "serverInfo": {"name": "a", "version": "1"}});
    filter.on_callout_done(
        &mut host,
        CalloutId(3),
        answer(
            json!({"jsonrpc": "2.0", "id": "ai-gateway-reinitialize", "result": init_result}),
            Some("up-a"),
        ),
    );
    assert_eq!(
        body(&host.callouts[3])["method"],
        "notifications/initialized"
    );
    filter.on_callout_done(&mut host, CalloutId(4), status(202));
    let retry = &host.callouts[4];
    assert_eq!(body(retry)["method"], "tools/list");
    assert_eq!(header(retry, "mcp-session-id"), Some("up-a"));
    assert_eq!(header(retry, "mcp-protocol-version"), Some("2025-11-25"));
    assert_eq!(header(retry, "mcp-method"), None);
    let tools = json!({"tools": [{"name": "echo", "inputSchema": {}}]});
    filter.on_callout_done(
        &mut host,
        CalloutId(5),
        answer(json!({"jsonrpc": "2.0", "id": 3, "result": tools}), None),
    );
    filter.on_callout_done(
        &mut host,
        CalloutId(2),
        answer(json!({"jsonrpc": "2.0", "id": 3, "result": tools}), None),
    );
    let (code, reply) = reply_json(&host);
    assert_eq!(code, 200, "{reply}");
    assert_eq!(reply["result"]["tools"].as_array().unwrap().len(), 2);
    assert_eq!(host.counter(SESSIONS_TOTAL, &["upstream_bridged", "a"]), 1);

    // Another request of a client with the same capabilities: server/discover answers from
    // the cached initialize result, a routed call goes by callout on the cached session (a
    // whole callout where callouts cannot stream: see bridge_input.rs for the other case).
    let mut filter = new_filter();
    let (mut host, request) = modern("server/discover", None, json!({}));
    send(&mut filter, &mut host, &request);
    assert_eq!(host.callouts.len(), 1, "only b is asked");
    assert_eq!(host.callouts[0].cluster, "mcp_b");

    let mut filter = new_filter();
    let (mut host, request) = modern(
        "tools/call",
        Some("a_echo"),
        json!({"name": "a_echo", "arguments": {}}),
    );
    host.capabilities.streaming_callouts = false;
    assert_eq!(send(&mut filter, &mut host, &request), Action::Pause);
    let call = &host.callouts[0];
    assert_eq!(call.cluster, "mcp_a");
    assert_eq!(body(call)["params"]["name"], "echo");
    assert_eq!(header(call, "mcp-session-id"), Some("up-a"));
    assert_eq!(header(call, "mcp-name"), None);
    let result = json!({"content": [{"type": "text", "text": "hi"}]});
    filter.on_callout_done(
        &mut host,
        CalloutId(1),
        answer(json!({"jsonrpc": "2.0", "id": 3, "result": result}), None),
    );
    let (code, reply) = reply_json(&host);
    assert_eq!(code, 200);
    assert_eq!(reply["result"]["resultType"], "complete");
    assert_eq!(reply["result"]["content"][0]["text"], "hi");
}

#[test]
fn a_routed_refusal_bridges_and_a_backend_that_will_not_initialize_is_unlearned() {
    let recovered = Arc::new(RecoveredSessions::default());
    let mut filter = McpFilter::new(
        settings(json!({})),
        Arc::new(ListingCache::default()),
        Arc::clone(&recovered),
    );
    let (mut host, request) = modern(
        "tools/call",
        Some("a_echo"),
        json!({"name": "a_echo", "arguments": {}}),
    );
    assert_eq!(send(&mut filter, &mut host, &request), Action::Continue);
    assert!(host.callouts.is_empty(), "routed through Envoy's router");
    host.response_headers = vec![(":status".into(), "400".into())];
    assert_eq!(filter.on_response_headers(&mut host, false), Action::Pause);
    assert_eq!(filter.on_response_body(&mut host, true), Action::Pause);
    assert!(recovered.bridged.is_session_based("a"));
    let init = &host.callouts[0];
    assert_eq!(body(init)["method"], "initialize");
    // An answer without a session: not a session-based server after all.
    let init_result = json!({"protocolVersion": "2025-11-25", "capabilities": {}});
    filter.on_callout_done(
        &mut host,
        CalloutId(1),
        answer(
            json!({"jsonrpc": "2.0", "id": "ai-gateway-reinitialize", "result": init_result}),
            None,
        ),
    );
    assert!(!recovered.bridged.is_session_based("a"));
    let (code, reply) = reply_json(&host);
    assert_eq!(code, 500);
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("backend a failed"),
        "{reply}"
    );
}
