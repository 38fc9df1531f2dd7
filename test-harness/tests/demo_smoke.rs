//! scripts/demo serves every capability (issue 12's smoke test), once per flavour: the demo
//! (scripts/lib/demo.py, with this build's `demo-gateway`) starts on free ports, each route answers
//! once — MCP initialize, tools/list across the MCP servers and the OpenAPI backend, an OpenAPI
//! tool call, a CORS preflight, authz's metadata and a refused and an accepted token, the A2A card, an OpenAI chat completion and an Anthropic message
//! through the llm filter, an inference completion through the EPP, admin /ready — and the demo
//! stops with every process it started.

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ai_gateway_test_harness::{paths, Flavour};
use serde_json::{json, Value};

use support::{http, mcp_post};

per_flavour!(the_demo_serves_every_route);

/// How long the demo may take to start (three Python servers, Node, V8 compiling the plugin).
const START_TIMEOUT: Duration = Duration::from_secs(150);

/// The running demo; stopped as a user stops it (SIGTERM: it stops its own children) on drop,
/// its output printed when the test failed.
struct Demo {
    child: Child,
    log: std::path::PathBuf,
}

impl Demo {
    fn start(flavour: Flavour, gateway: u16, admin: u16, dir: &Path) -> Demo {
        let log = dir.join("demo.log");
        let out = std::fs::File::create(&log).expect("a log file");
        let err = out.try_clone().expect("a second handle");
        let child = Command::new(paths::venv_python().expect("scripts/setup ran"))
            .arg("-u")
            .arg(paths::repo_root().join("scripts/lib/demo.py"))
            .env("FLAVOUR", flavour.name())
            .env("GATEWAY_PORT", gateway.to_string())
            .env("ADMIN_PORT", admin.to_string())
            .env("DEMO_GATEWAY_BIN", env!("CARGO_BIN_EXE_demo-gateway"))
            .env("DEMO_CONFIG", dir.join("envoy-demo.yaml"))
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("the demo starts");
        Demo { child, log }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_ready(&mut self) {
        let start = Instant::now();
        while !self.output().contains("DEMO READY") {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the demo exited ({status}):\n{}", self.output());
            }
            assert!(
                start.elapsed() < START_TIMEOUT,
                "the demo did not get ready:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGTERM, then the demo's own cleanup; true when it exited within 30 s.
    fn stop(&mut self) -> bool {
        if let Ok(Some(_)) = self.child.try_wait() {
            return true;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let stopped = self.stop();
        if !stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            let _ = writeln!(
                std::io::stderr(),
                "----- demo output -----\n{}",
                self.output()
            );
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

async fn the_demo_serves_every_route(flavour: Flavour) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (gateway_port, admin_port) = (free_port(), free_port());
    let mut demo = Demo::start(flavour, gateway_port, admin_port, dir.path());
    demo.wait_ready().await;
    let base = format!("http://127.0.0.1:{gateway_port}");
    let mcp = format!("{base}/mcp");

    // MCP: initialize, tools/list over the three MCP servers and the OpenAPI backend, a call.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "demo-smoke", "version": "1"}}});
    let (status, headers, body) = mcp_post(&mcp, &[], init.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let session = headers["mcp-session-id"]
        .to_str()
        .expect("a session")
        .to_string();
    let in_session = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let (status, _, body) = mcp_post(&mcp, &in_session, list.to_string()).await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    for tool in [
        "session_echo",
        "stateless_echo",
        "everything_echo",
        "clinic_getPet",
    ] {
        assert!(names.contains(&tool), "{tool} missing from {names:?}");
    }
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "clinic_getPet", "arguments": {"pet_id": 1}}});
    let (status, _, body) = mcp_post(&mcp, &in_session, call.to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["structuredContent"]["id"], 1, "{body}");

    // CORS: a browser preflight from the MCP Inspector's origin is answered by Envoy.
    let preflight = http()
        .request(reqwest::Method::OPTIONS, &mcp)
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(preflight.status(), 200);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:6274"
    );

    // authz: its RFC 9728 document; a token that does not verify is refused, the demo's passes.
    let metadata: Value = http()
        .get(format!("{base}/.well-known/oauth-protected-resource/mcp"))
        .send()
        .await
        .expect("the gateway answers")
        .json()
        .await
        .expect("a JSON document");
    assert_eq!(metadata["resource"], format!("{base}/mcp"), "{metadata}");
    let card_url = format!("{base}/a2a/demo/.well-known/agent-card.json");
    let refused = http()
        .get(&card_url)
        .header("authorization", "Bearer not-a-jwt")
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(refused.status(), 401);
    let token = demo
        .output()
        .lines()
        .find_map(|line| line.trim().strip_prefix("TOKEN=").map(str::to_string))
        .expect("the tour prints the demo token");
    let accepted = http()
        .get(&card_url)
        .bearer_auth(token)
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(accepted.status(), 200);

    // A2A: the agent card points at the gateway.
    let card: Value = http()
        .get(format!("{base}/a2a/demo/.well-known/agent-card.json"))
        .send()
        .await
        .expect("the gateway answers")
        .json()
        .await
        .expect("a JSON card");
    assert_eq!(
        card["supportedInterfaces"][0]["url"],
        format!("{base}/a2a/demo/"),
        "{card}"
    );

    // LLM: an OpenAI client to the (fake) Anthropic API, an Anthropic client to the OpenAI one.
    let chat = post_json(
        &format!("{base}/v1/chat/completions"),
        json!({"model": "claude-haiku-4-5", "max_tokens": 32,
               "messages": [{"role": "user", "content": "Hello"}]}),
    )
    .await;
    assert_eq!(chat["object"], "chat.completion", "{chat}");
    let message = post_json(
        &format!("{base}/v1/messages"),
        json!({"model": "gpt-4o-mini", "max_tokens": 32,
               "messages": [{"role": "user", "content": "Hello"}]}),
    )
    .await;
    assert_eq!(message["type"], "message", "{message}");

    // Inference: the fake EPP's pick serves the completion.
    let completion = http()
        .post(format!("{base}/inference/v1/chat/completions"))
        .json(&json!({"model": "llama-3", "messages": [{"role": "user", "content": "Hello"}]}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(completion.status(), 200);
    let served_by = completion.headers()["x-served-by"]
        .to_str()
        .unwrap_or_default();
    assert!(
        demo.output().contains(served_by),
        "{served_by} is a demo model server"
    );

    // Admin, and the rendered config func-e would run.
    let ready = http()
        .get(format!("http://127.0.0.1:{admin_port}/ready"))
        .send()
        .await
        .expect("admin answers");
    assert_eq!(ready.text().await.unwrap_or_default().trim(), "LIVE");
    let config = std::fs::read_to_string(dir.path().join("envoy-demo.yaml")).expect("DEMO_CONFIG");
    assert!(config.contains("ai_gateway.inference_route"), "{config}");

    assert!(demo.stop(), "the demo stops on SIGTERM:\n{}", demo.output());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", gateway_port)).is_err(),
        "Envoy stopped with the demo"
    );
}

/// POSTs `body` as JSON (with `anthropic-version` for the Messages API); the 200 answer's JSON.
async fn post_json(url: &str, body: Value) -> Value {
    let response = http()
        .post(url)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status();
    let answer: Value = response.json().await.expect("a JSON answer");
    assert_eq!(status, 200, "{answer}");
    answer
}
