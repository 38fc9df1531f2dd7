//! The MCP gateway's real peers, checked directly (no Envoy): each backend starts as an owned
//! child, speaks the wire generations and session behaviour the gateway tests rely on (including
//! how it answers a session it lost in a restart), and passes the official `mcp` client suite
//! (`clients/test_mcp_client.py`) in both connect modes.

mod support;

use ai_gateway_test_harness::{pytest, McpBackend, McpBackendKind};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{json, Value};

/// The newest handshake-era protocol, what `mode="legacy"` negotiates with every backend.
const HANDSHAKE_VERSION: &str = "2025-11-25";
/// The stateless protocol `mode="auto"` adopts when the server answers `server/discover`.
const STATELESS_VERSION: &str = "2026-07-28";

/// What the client suite must find on `kind` (MCP_EXPECT): its own names, unprefixed.
fn expectations(kind: McpBackendKind) -> Value {
    let auto_version = if kind.speaks_2026_07_28() {
        STATELESS_VERSION
    } else {
        HANDSHAKE_VERSION
    };
    let protocol = json!({ "auto": auto_version, "legacy": HANDSHAKE_VERSION });
    match kind {
        McpBackendKind::PythonSession => {
            python_expectations("session", "add", "greeting", protocol).merge(json!({
                "calls": [
                    { "tool": "echo", "arguments": { "message": "hi" }, "text": "session: hi" },
                    { "tool": "add", "arguments": { "a": 2, "b": 40 }, "text": "42" },
                ],
                "prompt_gets": [{
                    "name": "greeting",
                    "arguments": { "name": "Ada", "style": "formal" },
                    "text": "[session] Write a formal greeting for Ada.",
                }],
            }))
        }
        McpBackendKind::PythonStateless => {
            python_expectations("stateless", "shout", "review", protocol).merge(json!({
                "calls": [
                    { "tool": "echo", "arguments": { "message": "hi" }, "text": "stateless: hi" },
                    { "tool": "shout", "arguments": { "text": "quiet" }, "text": "QUIET" },
                ],
                "prompt_gets": [{
                    "name": "review",
                    "arguments": { "code": "fn main() {}" },
                    "text": "[stateless] Review this code:\nfn main() {}",
                }],
            }))
        }
        McpBackendKind::Everything => json!({
            "tools": ["echo", "get-sum"],
            "prompts": ["simple-prompt", "args-prompt"],
            "resources": ["demo://resource/static/document/architecture.md"],
            "templates": ["demo://resource/dynamic/text/{resourceId}"],
            "calls": [
                { "tool": "echo", "arguments": { "message": "hi" }, "text": "Echo: hi" },
                { "tool": "get-sum", "arguments": { "a": 2, "b": 40 }, "text": "The sum of 2 and 40 is 42." },
            ],
            "reads": [
                { "uri": "demo://resource/static/document/architecture.md", "text": "Architecture" },
                { "uri": "demo://resource/dynamic/text/7", "text": "Resource 7:" },
            ],
            "prompt_gets": [
                { "name": "args-prompt", "arguments": { "city": "Paris" }, "text": "What's weather in Paris?" },
            ],
            "protocol": protocol,
        }),
    }
}

/// The names both Python flavours share the shape of: `echo`, one tool, one prompt, notes.
fn python_expectations(mode: &str, tool: &str, prompt: &str, protocol: Value) -> Value {
    json!({
        "tools": ["echo", tool],
        "prompts": [prompt],
        "resources": [format!("notes://{mode}/readme")],
        "templates": [format!("notes://{mode}/topics/{{topic}}")],
        "reads": [
            { "uri": format!("notes://{mode}/readme"), "text": format!("readme of the {mode} backend") },
            { "uri": format!("notes://{mode}/topics/envoy"), "text": format!("{mode} notes on envoy") },
        ],
        "protocol": protocol,
    })
}

/// Merging JSON objects, top-level keys of `other` winning.
trait Merge {
    fn merge(self, other: Value) -> Value;
}

impl Merge for Value {
    fn merge(mut self, other: Value) -> Value {
        if let (Some(this), Value::Object(other)) = (self.as_object_mut(), other) {
            this.extend(other);
        }
        self
    }
}

async fn client_suite_passes_in_both_modes(kind: McpBackendKind) {
    let backend = McpBackend::start(kind).await.unwrap();
    let expect = expectations(kind).to_string();
    let url = backend.url();
    let run = pytest(
        "test_mcp_client.py",
        &[
            ("MCP_URL", &url),
            ("MCP_EXPECT", &expect),
            ("MCP_MODES", "auto,legacy"),
        ],
    )
    .await
    .unwrap();
    assert!(
        run.passed,
        "mcp client suite against {kind:?} at {url} failed:\n{}\nbackend log:\n{}",
        run.output,
        backend.log()
    );
    // Each mode ran: a suite that skipped or collected nothing must not pass silently.
    for mode in ["auto", "legacy"] {
        let call = format!("test_calls_tool[{mode}-0]");
        assert!(
            run.output
                .lines()
                .any(|line| line.starts_with("PASSED") && line.contains(&call)),
            "no {mode} call passed in:\n{}",
            run.output
        );
    }
    assert!(!run.output.contains("SKIPPED"), "{}", run.output);
}

/// POSTs one JSON-RPC message with the headers a Streamable HTTP client sends, plus `headers`.
async fn post(url: &str, headers: &[(&str, &str)], body: Value) -> reqwest::Response {
    let mut request = support::http()
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, "application/json, text/event-stream")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// A handshake-era `initialize` request.
fn initialize() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": HANDSHAKE_VERSION,
            "capabilities": {},
            "clientInfo": { "name": "mcp_backends.rs", "version": "1" },
        },
    })
}

/// `tools/list` within handshake-era session `session`.
async fn list_tools_in_session(url: &str, session: &str) -> u16 {
    let headers = [
        ("mcp-session-id", session),
        ("mcp-protocol-version", HANDSHAKE_VERSION),
    ];
    let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {} });
    post(url, &headers, list).await.status().as_u16()
}

/// The session behaviour and wire generations `McpBackendKind` claims, on the wire.
async fn wire_matches_kind(kind: McpBackendKind) {
    let backend = McpBackend::start(kind).await.unwrap();
    let url = backend.url();
    let response = post(&url, &[], initialize()).await;
    assert_eq!(response.status(), 200, "{kind:?}: {}", backend.log());
    let session = response.headers().get("mcp-session-id").cloned();
    let text = response.text().await.unwrap();
    assert!(
        text.contains(&format!("\"protocolVersion\":\"{HANDSHAKE_VERSION}\"")),
        "{kind:?} initialize: {text}"
    );
    assert_eq!(
        session.is_some(),
        kind.issues_sessions(),
        "{kind:?}: Mcp-Session-Id {session:?}"
    );

    let discover = json!({
        "jsonrpc": "2.0", "id": 2, "method": "server/discover",
        "params": { "_meta": {
            "io.modelcontextprotocol/protocolVersion": STATELESS_VERSION,
            "io.modelcontextprotocol/clientCapabilities": {},
        }},
    });
    let headers = [
        ("mcp-protocol-version", STATELESS_VERSION),
        ("mcp-method", "server/discover"),
    ];
    let response = post(&url, &headers, discover).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    let supported = format!("\"supportedVersions\":[\"{STATELESS_VERSION}\"]");
    if kind.speaks_2026_07_28() {
        assert_eq!(status, 200, "{kind:?} server/discover: {text}");
        assert!(
            text.contains(&supported),
            "{kind:?} server/discover: {text}"
        );
    } else {
        assert_eq!(status, 400, "{kind:?} server/discover: {text}");
        assert!(
            !text.contains(&supported),
            "{kind:?} server/discover: {text}"
        );
    }
}

/// A backend restarted in place has lost its sessions, and says so with the status
/// `McpBackendKind::unknown_session_status` documents (what a gateway's recovery keys on).
async fn restart_loses_sessions(kind: McpBackendKind) {
    let backend = McpBackend::start(kind).await.unwrap();
    let url = backend.url();
    let response = post(&url, &[], initialize()).await;
    assert_eq!(response.status(), 200, "{kind:?}: {}", backend.log());
    let session = match response.headers().get("mcp-session-id") {
        Some(id) => id.to_str().unwrap().to_string(),
        None => "never-issued".to_string(),
    };
    assert_eq!(list_tools_in_session(&url, &session).await, 200, "{kind:?}");

    let backend = backend.restart().await.unwrap();
    assert_eq!(backend.url(), url, "restarted on the same port");
    assert_eq!(
        list_tools_in_session(&url, &session).await,
        kind.unknown_session_status(),
        "{kind:?} after restart: {}",
        backend.log()
    );
}

macro_rules! per_backend {
    ($($test:ident),+ $(,)?) => {
        $(
            mod $test {
                use ai_gateway_test_harness::McpBackendKind;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn python_session() {
                    super::support::bounded(super::$test(McpBackendKind::PythonSession)).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn python_stateless() {
                    super::support::bounded(super::$test(McpBackendKind::PythonStateless)).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn everything() {
                    super::support::bounded(super::$test(McpBackendKind::Everything)).await;
                }
            }
        )+
    };
}

per_backend!(
    client_suite_passes_in_both_modes,
    wire_matches_kind,
    restart_loses_sessions,
);
