//! What flows besides request → answer through the `mcp` gateway, once per flavour: the
//! official SDK client (session-based protocol) answers server-everything's sampling and
//! elicitation requests mid-call and its roots request on the GET stream, and receives its
//! progress notifications in order; a client's
//! cancellation reaches the backend running the call; a thousand progress events stream through
//! as they come, without Envoy holding them. A 2026-07-28 client is asked the same questions
//! through the session-based backend: bridged in the dynamic module, a JSON-RPC error in Wasm.

mod support;

use std::time::{Duration, Instant};

use ai_gateway_test_harness::{pytest, Flavour, McpBackendKind};
use serde_json::{json, Value};

use support::mcp::Gateway;

per_flavour!(
    the_sdk_client_answers_server_requests_and_gets_progress,
    an_auto_mode_client_falls_back_where_only_session_versions_are_offered,
    elicitations_work_in_both_generations_with_python_backends,
    a_cancelled_call_is_cancelled_on_its_backend,
    progress_events_stream_through_as_they_come,
    a_2026_client_is_asked_through_a_session_based_backend,
);

/// server-everything and the Python session backend behind Envoy with `extra` config, the
/// client's GET stream being server-everything's.
async fn relay_gateway(flavour: Flavour, extra: Value) -> Gateway {
    let mut config = json!({"listenBackend": "everything"});
    if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
        config.extend(extra);
    }
    Gateway::start_with(
        flavour,
        &[McpBackendKind::Everything, McpBackendKind::PythonSession],
        config,
    )
    .await
}

/// Runs test_mcp_relay.py through `gateway` with the SDK connecting in `mode`.
async fn relay_suite(gateway: &Gateway, mode: &str) {
    let url = gateway.url();
    let run = pytest(
        "test_mcp_relay.py",
        &[
            ("MCP_URL", &url),
            ("MCP_PREFIX", "everything_"),
            ("MCP_MODES", mode),
        ],
    )
    .await
    .unwrap();
    assert!(
        run.passed,
        "relay suite ({mode}) through the gateway failed:\n{}\nbackends:\n{}\nenvoy:\n{}",
        run.output,
        gateway.logs(),
        gateway.envoy.log()
    );
}

async fn the_sdk_client_answers_server_requests_and_gets_progress(flavour: Flavour) {
    let gateway = relay_gateway(flavour, json!({})).await;
    relay_suite(&gateway, "legacy").await;
    // Sampling, elicitation and at least one roots request were relayed and answered.
    let everything = [("backend", "everything")];
    let requests = [("backend", "everything"), ("event", "request")];
    let progress = [("backend", "everything"), ("event", "notification")];
    for (name, labels, least) in [
        ("mcp_stream_events_total", &requests[..], 3.0),
        ("mcp_stream_events_total", &progress[..], 4.0),
        ("mcp_server_request_rtt_ms_count", &everything[..], 3.0),
    ] {
        let got = at_least(&gateway, name, labels, least).await;
        assert!(got >= least, "{name}{labels:?}: {got} < {least}");
    }
}

/// A metric's value once it reached `least` (or whatever it is after a few seconds).
async fn at_least(gateway: &Gateway, name: &str, labels: &[(&str, &str)], least: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let prometheus = gateway.envoy.prometheus().await.expect("admin answers");
        let got = prometheus.value(name, labels).unwrap_or(0.0);
        if got >= least || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A 2026-07-28 client cannot be asked questions mid-call through a session-based backend by
/// callout; offering it only session-based versions makes the SDK's automatic negotiation
/// (`server/discover` probe) fall back to `initialize`, where everything above works.
async fn an_auto_mode_client_falls_back_where_only_session_versions_are_offered(flavour: Flavour) {
    let versions = json!({"protocolVersions": ["2025-11-25", "2025-06-18", "2025-03-26"]});
    let gateway = relay_gateway(flavour, versions).await;
    relay_suite(&gateway, "auto").await;
}

/// 2026-07-28 backends ask with an `InputRequiredResult` that passes through to the client,
/// whose retry (with its answers and the opaque request state) is routed back by the tool's
/// name; a session-based client is asked mid-call through the session backend.
async fn elicitations_work_in_both_generations_with_python_backends(flavour: Flavour) {
    let gateway = Gateway::start(
        flavour,
        &[
            McpBackendKind::PythonSession,
            McpBackendKind::PythonStateless,
        ],
    )
    .await;
    let cases = json!([
        {"mode": "auto", "tool": "stateless_ask_name", "text": "stateless: hello"},
        {"mode": "auto", "tool": "session_ask_name", "text": "session: hello"},
        {"mode": "legacy", "tool": "session_ask_name", "text": "session: hello"},
    ])
    .to_string();
    let url = gateway.url();
    let run = pytest(
        "test_mcp_elicit.py",
        &[("MCP_URL", &url), ("MCP_CASES", &cases)],
    )
    .await
    .unwrap();
    assert!(
        run.passed,
        "elicitation suite failed:\n{}\nbackends:\n{}",
        run.output,
        gateway.logs()
    );
}

async fn a_cancelled_call_is_cancelled_on_its_backend(flavour: Flavour) {
    let gateway = Gateway::start(
        flavour,
        &[McpBackendKind::PythonSession, McpBackendKind::Everything],
    )
    .await;
    let token = gateway.initialize().await;
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(gateway.in_session(&token, initialized).await.0, 202);

    let waiting = {
        let (url, token) = (gateway.url(), token.clone());
        tokio::spawn(async move {
            let call = json!({"jsonrpc": "2.0", "id": 42, "method": "tools/call",
                              "params": {"name": "session_wait", "arguments": {"seconds": 30}}});
            let headers = [
                ("mcp-session-id", token.as_str()),
                ("mcp-protocol-version", "2025-11-25"),
            ];
            support::mcp_post(&url, &headers, call.to_string()).await
        })
    };
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                        "params": {"requestId": 42, "reason": "the user gave up"}});
    let cancelled = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                           "params": {"name": "session_cancellations", "arguments": {}}});
    // The call must be running on the backend before it can be cancelled there.
    let deadline = Instant::now() + Duration::from_secs(20);
    let seen = loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (status, body) = gateway.in_session(&token, cancel.clone()).await;
        assert_eq!(status, 202, "{body}");
        let (status, body) = gateway.in_session(&token, cancelled.clone()).await;
        assert_eq!(status, 200, "{body}");
        if body.to_string().contains("42") || Instant::now() > deadline {
            break body.to_string();
        }
    };
    assert!(
        seen.contains("42"),
        "the backend saw no cancellation of call 42: {seen}\n{}",
        gateway.logs()
    );
    let (status, _, answer) = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the cancelled call ends well before its 30 s")
        .unwrap();
    assert_eq!(status, 200);
    assert!(answer.to_string().contains("Request cancelled"), "{answer}");
}

/// Bytes Envoy's allocator holds (`/memory`'s `allocated`).
async fn envoy_allocated(gateway: &Gateway) -> u64 {
    let memory: serde_json::Value =
        serde_json::from_str(&gateway.envoy.admin_get("/memory").await.unwrap()).unwrap();
    memory["allocated"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("/memory has allocated: {memory}"))
}

async fn progress_events_stream_through_as_they_come(flavour: Flavour) {
    const EVENTS: usize = 1000;
    const PAUSE_SECONDS: u64 = 2;
    let gateway = Gateway::start(flavour, &[McpBackendKind::PythonSession]).await;
    let token = gateway.initialize().await;
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(gateway.in_session(&token, initialized).await.0, 202);
    let before = envoy_allocated(&gateway).await;

    let call = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
        "name": "session_progress_burst", "arguments": {"count": EVENTS, "pause": PAUSE_SECONDS},
        "_meta": {"progressToken": "burst"}}});
    let mut response = support::http()
        .post(gateway.url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &token)
        .header("mcp-protocol-version", "2025-11-25")
        .body(call.to_string())
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 200);
    let mut text = String::new();
    let mut all_progress_at = None;
    while let Some(chunk) = response.chunk().await.expect("the stream continues") {
        text.push_str(&String::from_utf8_lossy(&chunk));
        if all_progress_at.is_none() && text.matches("notifications/progress").count() == EVENTS {
            all_progress_at = Some(Instant::now());
        }
    }
    let ended = Instant::now();
    let all_progress_at = all_progress_at.unwrap_or_else(|| {
        panic!(
            "{} of {EVENTS} progress events arrived",
            text.matches("notifications/progress").count()
        )
    });
    assert!(
        text.contains("1000 steps reported"),
        "the result came last: {text:.300}"
    );
    // The backend pauses after its last progress event: had Envoy held the events, they would
    // have arrived with the result.
    assert!(
        ended - all_progress_at >= Duration::from_millis(PAUSE_SECONDS * 1000 / 2),
        "progress events arrived only {:?} before the end",
        ended - all_progress_at
    );
    let after = envoy_allocated(&gateway).await;
    assert!(
        after.saturating_sub(before) < 4 << 20,
        "Envoy grew by {} bytes over {EVENTS} events",
        after.saturating_sub(before)
    );
}

/// A 2026-07-28 client in front of server-everything (session-based), whose tools ask the
/// client mid-call. The dynamic module bridges: the backend's request reaches the client as an
/// `InputRequiredResult`, the client's retry carries the answer back and resumes the call's
/// stream; a bridged call's progress streams to the client. Wasm cannot hold the call: it
/// ends at the gateway's timeout with a JSON-RPC error.
async fn a_2026_client_is_asked_through_a_session_based_backend(flavour: Flavour) {
    let gateway = relay_gateway(flavour, json!({"timeoutMs": 5000})).await;
    let (expect, shown): (&str, &[&str]) = match flavour {
        Flavour::DynamicModule => (
            "bridged",
            &[
                "test_sampling_and_elicitation_reach_the_2026_client_and_the_tools_complete",
                "test_progress_of_a_bridged_call_arrives_in_order_before_the_result",
                "test_a_forged_request_state_is_refused",
            ],
        ),
        Flavour::Wasm => ("error", &["test_the_call_fails_with_a_json_rpc_error"]),
    };
    let url = gateway.url();
    let run = pytest(
        "test_mcp_bridge_input.py",
        &[("MCP_URL", &url), ("MCP_EXPECT", expect)],
    )
    .await
    .unwrap();
    assert!(
        run.passed,
        "bridged input suite ({expect}) failed:\n{}\nbackends:\n{}\nenvoy:\n{}",
        run.output,
        gateway.logs(),
        gateway.envoy.log()
    );
    for test in shown {
        assert!(
            run.output
                .lines()
                .any(|line| line.starts_with("PASSED") && line.ends_with(&format!("::{test}"))),
            "{test} did not run:\n{}",
            run.output
        );
    }
}
