//! The session-based GET stream through the `mcp` gateway in front of two backends that both
//! keep sessions (server-everything and the Python session backend). The dynamic module merges
//! both backends' streams: a list change from the Python backend and a log message from
//! server-everything reach the one client stream. Wasm (no streamed callouts) declines the GET
//! with 405 unless `listenBackend` names the backend whose stream it serves. With one backend
//! the stream is that backend's, resumable with `Last-Event-ID`.
//!
//! A 2026-07-28 client (the `mcp` SDK in automatic mode) listens with `subscriptions/listen`:
//! the dynamic module merges the Python backend's own listen stream and server-everything's GET
//! stream (on the client's bridged session), so changes on either reach the client; Wasm routes
//! it to `listenBackend` and refuses it (-32601) without one.

mod support;

use std::time::{Duration, Instant};

use ai_gateway_test_harness::{pytest, Flavour, McpBackendKind};
use serde_json::{json, Value};

use support::mcp::Gateway;

per_flavour!(
    the_get_stream_carries_what_the_backends_announce,
    a_single_backends_stream_resumes_after_the_last_event_id,
    a_2026_client_hears_list_changes_on_subscriptions_listen,
);

const KINDS: [McpBackendKind; 2] = [McpBackendKind::Everything, McpBackendKind::PythonSession];

/// An open GET stream and what it delivered so far.
struct Listening {
    response: reqwest::Response,
    seen: String,
}

impl Listening {
    async fn open(gateway: &Gateway, token: &str) -> Result<Listening, u16> {
        Listening::resume(gateway, token, None).await
    }

    /// Opens the stream, resuming after `last_event_id` when given.
    async fn resume(
        gateway: &Gateway,
        token: &str,
        last_event_id: Option<&str>,
    ) -> Result<Listening, u16> {
        let mut request = support::http()
            .get(gateway.url())
            .header("accept", "text/event-stream")
            .header("mcp-session-id", token)
            .header("mcp-protocol-version", "2025-11-25")
            .timeout(Duration::from_secs(60));
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("the gateway answers");
        match response.status().as_u16() {
            200 => Ok(Listening {
                response,
                seen: String::new(),
            }),
            other => Err(other),
        }
    }

    /// Reads until `needle` arrived or `within` passed; whether it arrived.
    async fn wait_for(&mut self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while !self.seen.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.seen.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return false,
            }
        }
        true
    }
}

async fn session(gateway: &Gateway) -> String {
    let token = gateway.initialize().await;
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(gateway.in_session(&token, initialized).await.0, 202);
    token
}

async fn call(gateway: &Gateway, token: &str, tool: &str) -> Value {
    let request = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                         "params": {"name": tool, "arguments": {}}});
    let (status, body) = gateway.in_session(token, request).await;
    assert_eq!(status, 200, "{tool}: {body}");
    body
}

async fn the_get_stream_carries_what_the_backends_announce(flavour: Flavour) {
    let gateway = Gateway::start(flavour, &KINDS).await;
    let token = session(&gateway).await;
    match flavour {
        Flavour::DynamicModule => {
            let mut stream = Listening::open(&gateway, &token)
                .await
                .expect("the merged GET stream opens");
            call(&gateway, &token, "session_announce_tools_changed").await;
            assert!(
                stream
                    .wait_for("notifications/tools/list_changed", Duration::from_secs(10))
                    .await,
                "no list change from the Python backend: {}",
                stream.seen
            );
            // server-everything then logs on its own stream every few seconds.
            call(&gateway, &token, "everything_toggle-simulated-logging").await;
            assert!(
                stream
                    .wait_for("notifications/message", Duration::from_secs(20))
                    .await,
                "no log message from server-everything: {}\n{}",
                stream.seen,
                gateway.logs()
            );
        }
        Flavour::Wasm => {
            assert_eq!(Listening::open(&gateway, &token).await.err(), Some(405));
            let chosen = gateway
                .replica(|config| config["listenBackend"] = json!("session"))
                .await;
            let mut stream = Listening::open(&chosen, &token)
                .await
                .expect("listenBackend's stream opens");
            call(&chosen, &token, "session_announce_tools_changed").await;
            assert!(
                stream
                    .wait_for("notifications/tools/list_changed", Duration::from_secs(10))
                    .await,
                "no list change on the listenBackend's stream: {}",
                stream.seen
            );
        }
    }
}

/// The `id:` of the first event in `seen` carrying `needle`.
fn event_id_of(seen: &str, needle: &str) -> Option<String> {
    seen.split("\n\n")
        .find(|event| event.contains(needle))?
        .lines()
        .find_map(|line| line.strip_prefix("id:"))
        .map(|id| id.trim().to_string())
}

async fn a_single_backends_stream_resumes_after_the_last_event_id(flavour: Flavour) {
    let gateway = Gateway::start(flavour, &[McpBackendKind::Everything]).await;
    let token = session(&gateway).await;
    let mut stream = Listening::open(&gateway, &token)
        .await
        .expect("the backend's GET stream opens");
    call(&gateway, &token, "everything_toggle-simulated-logging").await;
    assert!(
        stream
            .wait_for("notifications/message", Duration::from_secs(20))
            .await,
        "no log message: {}",
        stream.seen
    );
    let last = event_id_of(&stream.seen, "notifications/message")
        .unwrap_or_else(|| panic!("the log event has an id: {}", stream.seen));
    drop(stream);
    // The backend logs every few seconds; what it sent while nobody listened is replayed.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let mut resumed = Listening::resume(&gateway, &token, Some(&last))
        .await
        .expect("the stream resumes");
    assert!(
        resumed
            .wait_for("notifications/message", Duration::from_secs(3))
            .await,
        "nothing replayed after {last}: {}",
        resumed.seen
    );
    let replayed = event_id_of(&resumed.seen, "notifications/message").unwrap_or_default();
    assert_ne!(
        replayed, last,
        "the replay starts after the last seen event"
    );
}

/// Runs test_mcp_listen.py through `gateway`, expecting `promise` (see the script).
async fn listen_suite(gateway: &Gateway, promise: &str) {
    let url = gateway.url();
    let run = pytest(
        "test_mcp_listen.py",
        &[("MCP_URL", &url), ("MCP_LISTEN", promise)],
    )
    .await
    .unwrap();
    assert!(
        run.passed,
        "listen suite ({promise}) failed:\n{}\nbackends:\n{}\nenvoy:\n{}",
        run.output,
        gateway.logs(),
        gateway.envoy.log()
    );
}

async fn a_2026_client_hears_list_changes_on_subscriptions_listen(flavour: Flavour) {
    let gateway = Gateway::start(flavour, &KINDS).await;
    match flavour {
        Flavour::DynamicModule => listen_suite(&gateway, "merged").await,
        Flavour::Wasm => {
            listen_suite(&gateway, "refused").await;
            let chosen = gateway
                .replica(|config| config["listenBackend"] = json!("session"))
                .await;
            listen_suite(&chosen, "routed").await;
        }
    }
}
