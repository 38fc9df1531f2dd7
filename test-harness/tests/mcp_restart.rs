//! A gateway restart mid-session, once per flavour: the session lives in the sealed
//! `Mcp-Session-Id` (the client's capabilities and every backend's upstream session), so the
//! same Envoy config started again on the same address serves it without a new `initialize`,
//! both for raw requests and for the official `mcp` SDK client that stays connected.

mod support;

use std::path::Path;
use std::time::Duration;

use ai_gateway_test_harness::{pytest, Envoy, Flavour, McpBackendKind};
use serde_json::json;

use support::mcp::{sessions, Gateway};
use support::metric;

per_flavour!(
    a_session_continues_after_envoy_restarts,
    the_sdk_client_keeps_its_session_across_a_gateway_restart,
);

/// How long the SDK client may take to connect and make its first calls.
const CLIENT_READY: Duration = Duration::from_secs(60);

/// `tools/call` of `tool` with `message`, as JSON-RPC request `id`.
fn echo(id: u64, tool: &str, message: &str) -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": {"message": message}}})
}

/// The restarted Envoy neither sealed a new session nor re-initialized an upstream one: it
/// served the session from the token alone, and counted it once as resumed. Checked once the
/// one routed `everything_echo` call made after the restart is counted, so the zeros are not
/// read too early.
async fn assert_served_from_the_token(envoy: &Envoy) {
    let call = [
        ("method", "tools/call"),
        ("backend", "everything"),
        ("tool", "everything_echo"),
        ("outcome", "2xx"),
    ];
    assert_eq!(metric(envoy, "mcp_requests_total", &call, 1.0).await, 1.0);
    let prometheus = envoy.prometheus().await.expect("admin answers");
    let count = |event: &str, reason: &str| {
        let labels = [("event", event), ("reason", reason)];
        prometheus
            .value("mcp_sessions_total", &labels)
            .unwrap_or(0.0)
    };
    assert_eq!(count("created", "none"), 0.0);
    assert_eq!(
        count("resumed", "none"),
        1.0,
        "a token first seen after the restart"
    );
    for backend in ["session", "stateless", "everything"] {
        assert_eq!(count("upstream_reinitialized", backend), 0.0, "{backend}");
    }
}

async fn a_session_continues_after_envoy_restarts(flavour: Flavour) {
    let gateway = Gateway::start(flavour, &McpBackendKind::ALL).await;
    let token = gateway.initialize().await;
    let (status, body) = gateway
        .in_session(&token, echo(2, "everything_echo", "before"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("Echo: before"), "{body}");

    // The first Envoy counted the session it sealed; the restarted one starts from zero.
    assert_eq!(sessions(&gateway.envoy, "created", "none", 1.0).await, 1.0);
    let url = gateway.url();
    let gateway = gateway.restart_envoy().await;
    assert_eq!(
        gateway.url(),
        url,
        "the restarted gateway listens where it did"
    );

    let tools = gateway.tool_names(&token).await;
    for expected in ["session_echo", "stateless_echo", "everything_echo"] {
        assert!(tools.contains(&expected.to_string()), "{tools:?}");
    }
    for (id, tool, text) in [
        (3, "everything_echo", "Echo: after"),
        (4, "session_echo", "session: after"),
        (5, "stateless_echo", "stateless: after"),
    ] {
        let (status, body) = gateway.in_session(&token, echo(id, tool, "after")).await;
        assert_eq!(status, 200, "{tool}: {body}\n{}", gateway.logs());
        assert!(body.to_string().contains(text), "{tool}: {body}");
    }
    assert_served_from_the_token(&gateway.envoy).await;
}

/// Waits until the SDK client wrote `paused` into `dir` (or fails with its output if it ended).
async fn wait_until_paused(dir: &Path, client: &tokio::task::JoinHandle<String>) {
    let deadline = tokio::time::Instant::now() + CLIENT_READY;
    while !dir.join("paused").exists() {
        assert!(
            !client.is_finished(),
            "the SDK client ended before the restart"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "the SDK client did not reach the restart point"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn the_sdk_client_keeps_its_session_across_a_gateway_restart(flavour: Flavour) {
    let gateway = Gateway::start(flavour, &McpBackendKind::ALL).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let expect = json!({
        "tools": ["session_echo", "stateless_echo", "everything_echo"],
        "calls": [
            { "tool": "session_echo", "arguments": { "message": "hi" }, "text": "session: hi" },
            { "tool": "stateless_echo", "arguments": { "message": "hi" }, "text": "stateless: hi" },
            { "tool": "everything_echo", "arguments": { "message": "hi" }, "text": "Echo: hi" },
        ],
    });
    let env = [
        ("MCP_URL".to_string(), gateway.url()),
        ("MCP_EXPECT".to_string(), expect.to_string()),
        (
            "MCP_RESTART_DIR".to_string(),
            dir.path().display().to_string(),
        ),
    ];
    let client = tokio::spawn(async move {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let run = pytest("test_mcp_restart.py", &env)
            .await
            .expect("pytest runs");
        assert!(run.passed, "the SDK client failed:\n{}", run.output);
        run.output
    });
    wait_until_paused(dir.path(), &client).await;
    assert_eq!(sessions(&gateway.envoy, "created", "none", 1.0).await, 1.0);
    let gateway = gateway.restart_envoy().await;
    std::fs::write(dir.path().join("resumed"), "resumed").expect("the resume marker is written");
    let output = client.await.unwrap_or_else(|e| {
        panic!("{e}\nbackends:\n{}", gateway.logs());
    });
    assert!(output.contains("1 passed"), "{output}");
    assert_served_from_the_token(&gateway.envoy).await;
}
