//! Fan-out and sessions against the fake host: callouts out, answers in, one merged reply.

use super::*;
use crate::metrics::FANOUT_FAILURES_TOTAL;
use ai_gateway_core::{CalloutFailure, CalloutId, CalloutResponse};

fn answer(id: u64, result: Value) -> CalloutResult {
    json_answer(json!({"jsonrpc": "2.0", "id": id, "result": result}), &[])
}

fn json_answer(body: Value, extra: &[(&str, &str)]) -> CalloutResult {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    Ok(CalloutResponse {
        status: 200,
        headers,
        body: body.to_string().into_bytes(),
    })
}

fn sse_answer(body: Value) -> CalloutResult {
    Ok(CalloutResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: format!("event: message\ndata: {body}\n\n").into_bytes(),
    })
}

pub(super) fn header<'a>(
    request: &'a ai_gateway_core::CalloutRequest,
    name: &str,
) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn tools(names: &[&str]) -> Value {
    let tools: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "inputSchema": {}}))
        .collect();
    json!({ "tools": tools })
}

#[test]
fn tools_list_is_fanned_out_and_merged_with_prefixes() {
    let mut filter = super::filter();
    let mut host = post(&[]);
    let action = send(
        &mut filter,
        &mut host,
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#,
    );
    assert_eq!(action, Action::Pause);
    assert!(host.local_reply.is_none());
    assert_eq!(host.callouts.len(), 2);
    let b = &host.callouts[1];
    assert_eq!(b.cluster, "mcp_b");
    assert_eq!(header(b, ":path"), Some("/b/mcp"));
    assert_eq!(header(b, ":authority"), Some("b.internal"));
    assert_eq!(header(b, "x-api-key"), Some("secret"));
    assert_eq!(header(&host.callouts[0], ":authority"), Some("mcp_a"));
    let sent: Value = serde_json::from_slice(&b.body).unwrap();
    assert_eq!(sent["method"], "tools/list");

    filter.on_callout_done(
        &mut host,
        CalloutId(2),
        sse_answer(json!({"jsonrpc": "2.0", "id": 5, "result": tools(&["echo", "add"])})),
    );
    assert!(host.local_reply.is_none(), "waits for every backend");
    filter.on_callout_done(&mut host, CalloutId(1), answer(5, tools(&["echo"])));
    let (status, body) = reply_json(&host);
    assert_eq!(status, 200);
    let names: Vec<&str> = body["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a_echo", "b_echo", "b_add"]);

    // The listing now bounds the tool tag.
    let cache = Arc::clone(&filter.cache);
    let mut routed = McpFilter::new(settings(json!({})), cache, Arc::clone(&filter.recovered));
    let mut host = post(&[]);
    send(&mut routed, &mut host, &call("b_add"));
    // No response seen in this fake exchange: the outcome is `reset`.
    routed.on_stream_done(&mut host);
    assert_eq!(counted(&host, "tools/call", "b", "b_add", "reset"), 1);
}

#[test]
fn a_failed_fail_open_backend_is_left_out_and_counted() {
    let mut filter = super::filter();
    let mut host = post(&[]);
    send(
        &mut filter,
        &mut host,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    );
    filter.on_callout_done(&mut host, CalloutId(1), Err(CalloutFailure::Timeout));
    filter.on_callout_done(&mut host, CalloutId(2), answer(1, tools(&["echo"])));
    let (_, body) = reply_json(&host);
    assert_eq!(body["result"]["tools"][0]["name"], "b_echo");
    assert_eq!(host.counter(FANOUT_FAILURES_TOTAL, &["tools/list", "a"]), 1);
}

#[test]
fn fail_closed_names_the_backend() {
    let mut filter = filter_with(json!({"failureMode": "failClosed"}));
    let mut host = post(&[]);
    send(
        &mut filter,
        &mut host,
        r#"{"jsonrpc":"2.0","id":1,"method":"prompts/list"}"#,
    );
    filter.on_callout_done(&mut host, CalloutId(1), Err(CalloutFailure::Reset));
    filter.on_callout_done(&mut host, CalloutId(2), answer(1, json!({"prompts": []})));
    let (_, body) = reply_json(&host);
    assert_eq!(body["error"]["code"], -32603);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("backend a"));
}

#[test]
fn a_method_no_backend_offers_is_method_not_found() {
    let mut filter = super::filter();
    let mut host = post(&[]);
    send(
        &mut filter,
        &mut host,
        r#"{"jsonrpc":"2.0","id":"x","method":"resources/list"}"#,
    );
    let missing = json!({"jsonrpc": "2.0", "id": "x", "error": {"code": -32601, "message": "no"}});
    filter.on_callout_done(&mut host, CalloutId(1), json_answer(missing.clone(), &[]));
    filter.on_callout_done(&mut host, CalloutId(2), json_answer(missing, &[]));
    let (status, body) = reply_json(&host);
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (200, json!(-32601))
    );
}

/// Runs `initialize` against both backends; returns the gateway's token.
pub(super) fn initialize() -> String {
    initialize_on(super::filter())
}

/// [`initialize`] through `filter` (which may share a process's state with other filters).
fn initialize_on(mut filter: McpFilter) -> String {
    let mut host = post(&[]);
    let request = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {"sampling": {}},
        "clientInfo": {"name": "t", "version": "1"}}});
    send(&mut filter, &mut host, &request.to_string());
    let sent: Value = serde_json::from_slice(&host.callouts[0].body).unwrap();
    assert_eq!(sent["params"]["capabilities"], json!({"sampling": {}}));
    let init = |version: &str| {
        json!({"jsonrpc": "2.0", "id": 0, "result": {"protocolVersion": version,
               "capabilities": {"tools": {}}, "serverInfo": {"name": "s", "version": "1"}}})
    };
    filter.on_callout_done(
        &mut host,
        CalloutId(1),
        json_answer(init("2025-11-25"), &[("mcp-session-id", "up-a")]),
    );
    filter.on_callout_done(
        &mut host,
        CalloutId(2),
        json_answer(init("2025-06-18"), &[]),
    );
    let reply = host.local_reply.as_ref().unwrap();
    assert_eq!(reply.status, 200);
    let body: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(body["result"]["serverInfo"]["name"], "ai-gateway");
    assert_eq!(host.counter(SESSIONS_TOTAL, &["created", "none"]), 1);
    reply
        .headers
        .iter()
        .find(|(n, _)| n == "mcp-session-id")
        .map(|(_, v)| v.clone())
        .expect("a session token")
}

#[test]
fn a_session_carries_each_backend_its_own_session_and_version() {
    let token = initialize();
    let mut filter = super::filter();
    let mut host = post(&[("mcp-session-id", &token)]);
    send(
        &mut filter,
        &mut host,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    );
    assert_eq!(header(&host.callouts[0], "mcp-session-id"), Some("up-a"));
    assert_eq!(
        header(&host.callouts[0], "mcp-protocol-version"),
        Some("2025-11-25")
    );
    assert_eq!(header(&host.callouts[1], "mcp-session-id"), None);
    assert_eq!(
        header(&host.callouts[1], "mcp-protocol-version"),
        Some("2025-06-18")
    );

    let mut filter = super::filter();
    let mut host = post(&[("mcp-session-id", &token)]);
    send(&mut filter, &mut host, &call("a_echo"));
    assert_eq!(
        host.header(Direction::Request, "mcp-session-id").as_deref(),
        Some("up-a")
    );

    let mut filter = super::filter();
    let mut host = post(&[("mcp-session-id", &token)]);
    send(
        &mut filter,
        &mut host,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    );
    assert_eq!(host.callouts.len(), 2);
    filter.on_callout_done(
        &mut host,
        CalloutId(1),
        Ok(CalloutResponse {
            status: 202,
            headers: vec![],
            body: vec![],
        }),
    );
    filter.on_callout_done(
        &mut host,
        CalloutId(2),
        Ok(CalloutResponse {
            status: 202,
            headers: vec![],
            body: vec![],
        }),
    );
    assert_eq!(host.local_reply.as_ref().unwrap().status, 202);

    let mut filter = super::filter();
    let mut host = FakeHost::with_request_headers(&[
        (":method", "DELETE"),
        (":path", "/mcp"),
        (":authority", "gateway"),
        ("mcp-session-id", &token),
    ]);
    assert_eq!(filter.on_request_headers(&mut host, true), Action::Pause);
    assert_eq!(host.callouts.len(), 1, "only backend a has a session");
    assert_eq!(header(&host.callouts[0], ":method"), Some("DELETE"));
    assert_eq!(header(&host.callouts[0], "mcp-session-id"), Some("up-a"));
    filter.on_callout_done(
        &mut host,
        CalloutId(1),
        Ok(CalloutResponse {
            status: 200,
            headers: vec![],
            body: vec![],
        }),
    );
    assert_eq!(host.local_reply.as_ref().unwrap().status, 204);
}

/// Runs `tools/call a_echo` on `token` through a filter sharing `recovered`; the host after it.
fn routed_call(recovered: &Arc<RecoveredSessions>, token: &str) -> FakeHost {
    let mut filter = super::filter();
    filter.recovered = Arc::clone(recovered);
    let mut host = post(&[("mcp-session-id", token)]);
    assert_eq!(
        send(&mut filter, &mut host, &call("a_echo")),
        Action::Continue
    );
    assert_eq!(
        host.header(Direction::Request, "mcp-session-id").as_deref(),
        Some("up-a")
    );
    host
}

#[test]
fn a_token_from_elsewhere_counts_as_resumed_once_per_process() {
    let foreign = initialize();
    let process = Arc::new(RecoveredSessions::default());
    let resumed = |host: &FakeHost| host.counter(SESSIONS_TOTAL, &["resumed", "none"]);
    assert_eq!(resumed(&routed_call(&process, &foreign)), 1);
    assert_eq!(resumed(&routed_call(&process, &foreign)), 0, "remembered");
    let other_process = Arc::new(RecoveredSessions::default());
    assert_eq!(resumed(&routed_call(&other_process, &foreign)), 1);

    let mut issuing = super::filter();
    issuing.recovered = Arc::clone(&process);
    let own = initialize_on(issuing);
    assert_eq!(resumed(&routed_call(&process, &own)), 0, "issued here");
}

#[test]
fn a_tampered_token_is_404_and_counted() {
    let token = initialize();
    let middle = token.len() / 2;
    let flipped = if &token[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    let token = format!("{}{flipped}{}", &token[..middle], &token[middle + 1..]);
    let mut filter = super::filter();
    let mut host = post(&[("mcp-session-id", &token)]);
    send(
        &mut filter,
        &mut host,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    );
    assert_eq!(reply_json(&host).0, 404);
    assert!(host.callouts.is_empty());
    assert_eq!(host.counter(SESSIONS_TOTAL, &["rejected", "tampered"]), 1);
}

fn status(code: u16) -> CalloutResult {
    Ok(CalloutResponse {
        status: code,
        headers: vec![],
        body: vec![],
    })
}

#[test]
fn a_backend_that_lost_its_session_is_initialized_again_and_asked_again() {
    let token = initialize();
    let mut filter = super::filter();
    let recovered = Arc::clone(&filter.recovered);
    let mut host = post(&[("mcp-session-id", &token)]);
    send(
        &mut filter,
        &mut host,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    );
    filter.on_callout_done(&mut host, CalloutId(2), answer(1, tools(&["echo"])));
    filter.on_callout_done(&mut host, CalloutId(1), status(404));
    assert!(host.local_reply.is_none(), "recovering backend a");
    let reinit = &host.callouts[2];
    assert_eq!(reinit.cluster, "mcp_a");
    assert_eq!(header(reinit, "mcp-session-id"), None);
    let sent: Value = serde_json::from_slice(&reinit.body).unwrap();
    assert_eq!(sent["method"], "initialize");
    assert_eq!(sent["params"]["capabilities"], json!({"sampling": {}}));
    assert_eq!(sent["params"]["clientInfo"]["name"], "t");
    let init = json!({"jsonrpc": "2.0", "id": sent["id"], "result": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "serverInfo": {"name": "s", "version": "1"}}});
    filter.on_callout_done(
        &mut host,
        CalloutId(3),
        json_answer(init, &[("mcp-session-id", "up-a2")]),
    );
    let initialized = &host.callouts[3];
    assert_eq!(header(initialized, "mcp-session-id"), Some("up-a2"));
    filter.on_callout_done(&mut host, CalloutId(4), status(202));
    let retry = &host.callouts[4];
    assert_eq!(header(retry, "mcp-session-id"), Some("up-a2"));
    let sent: Value = serde_json::from_slice(&retry.body).unwrap();
    assert_eq!(sent["method"], "tools/list");
    filter.on_callout_done(&mut host, CalloutId(5), answer(1, tools(&["echo"])));
    let (_, body) = reply_json(&host);
    assert_eq!(
        body["result"]["tools"].as_array().unwrap().len(),
        2,
        "{body}"
    );
    assert_eq!(
        host.counter(SESSIONS_TOTAL, &["upstream_reinitialized", "a"]),
        1
    );

    // Later requests of the session on this process use the replacement.
    let mut routed = McpFilter::new(
        settings(json!({})),
        Arc::new(ListingCache::default()),
        recovered,
    );
    let mut host = post(&[("mcp-session-id", &token)]);
    send(&mut routed, &mut host, &call("a_echo"));
    assert_eq!(
        host.header(Direction::Request, "mcp-session-id").as_deref(),
        Some("up-a2")
    );
}

#[test]
fn a_second_loss_in_one_fan_out_is_a_failure_not_a_loop() {
    let token = initialize();
    let mut filter = super::filter();
    let mut host = post(&[("mcp-session-id", &token)]);
    send(
        &mut filter,
        &mut host,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    );
    filter.on_callout_done(&mut host, CalloutId(2), answer(1, tools(&["echo"])));
    filter.on_callout_done(&mut host, CalloutId(1), status(404));
    let init = json!({"jsonrpc": "2.0", "id": "ai-gateway-reinitialize", "result": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "serverInfo": {"name": "s", "version": "1"}}});
    filter.on_callout_done(
        &mut host,
        CalloutId(3),
        json_answer(init, &[("mcp-session-id", "up-a2")]),
    );
    filter.on_callout_done(&mut host, CalloutId(4), status(202));
    filter.on_callout_done(&mut host, CalloutId(5), status(404));
    assert_eq!(host.callouts.len(), 5);
    let (_, body) = reply_json(&host);
    assert_eq!(body["result"]["tools"][0]["name"], "b_echo", "{body}");
    assert_eq!(host.counter(FANOUT_FAILURES_TOTAL, &["tools/list", "a"]), 1);
}
