//! Fixtures shared by the e2e suites: one gateway per test, agent cards, the per-flavour macro.

#![allow(dead_code)] // each suite uses its own subset

pub mod llm;
pub mod mcp;

use ai_gateway_test_harness::{a2a_config, AgentRoute, Bootstrap, Envoy, Flavour};
use std::time::Duration;

use serde_json::{json, Value};

/// Longest an e2e test may run: a gateway that holds a request forever fails, not hangs.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(180);

/// Longest a single request through the gateway may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A client whose requests give up after [`REQUEST_TIMEOUT`].
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("a plain HTTP client builds")
}

/// Runs one e2e test body under [`TEST_TIMEOUT`].
pub async fn bounded(test: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(TEST_TIMEOUT, test)
        .await
        .expect("the test finished in time");
}

/// Generates, for each named `async fn name(flavour: Flavour)`, one test per flavour:
/// `dynmod::name` and `wasm::name`.
#[macro_export]
macro_rules! per_flavour {
    ($($test:ident),+ $(,)?) => {
        mod dynmod {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::support::bounded(super::$test(ai_gateway_test_harness::Flavour::DynamicModule)).await;
                }
            )+
        }
        mod wasm {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::support::bounded(super::$test(ai_gateway_test_harness::Flavour::Wasm)).await;
                }
            )+
        }
    };
}

/// The `a2a` filter config for `agents`, with `extra` fields merged over it.
pub fn config_with(agents: &[AgentRoute], extra: Value) -> Value {
    let mut config = a2a_config(agents);
    if let (Some(config), Value::Object(extra)) = (config.as_object_mut(), extra) {
        config.extend(extra);
    }
    config
}

/// Envoy with the a2a filter in front of one agent `demo` at `upstream`.
pub async fn gateway(flavour: Flavour, upstream: std::net::SocketAddr, extra: Value) -> Envoy {
    let demo = AgentRoute::new("demo", upstream);
    let bootstrap = Bootstrap::new(Some(flavour))
        .filter("a2a", config_with(std::slice::from_ref(&demo), extra))
        .agent(demo);
    Envoy::start(&bootstrap)
        .await
        .expect("Envoy starts with the a2a filter")
}

/// Where fake agents claim to live: nothing listens there, so a URL left unrewritten is obvious.
pub const AGENT_BASE: &str = "http://agent.internal:9999";

/// A v1.0 card: JSON-RPC at `<AGENT_BASE>/`, HTTP+JSON at `<AGENT_BASE>/rest`, plus fields the
/// gateway must leave alone.
pub fn v1_card() -> Value {
    json!({
        "name": "fake",
        "description": "a fake agent",
        "version": "1.0.0",
        "supportedInterfaces": [
            { "url": format!("{AGENT_BASE}/"), "protocolBinding": "JSONRPC", "protocolVersion": "1.0" },
            { "url": format!("{AGENT_BASE}/rest"), "protocolBinding": "HTTP+JSON", "protocolVersion": "1.0" }
        ],
        "provider": { "organization": "tests", "url": "https://example.com/provider" },
        "documentationUrl": "https://example.com/docs",
        "capabilities": { "streaming": true },
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{ "id": "echo", "name": "Echo", "description": "echo", "tags": ["echo"] }],
        "securitySchemes": {
            "oauth": { "oauth2SecurityScheme": { "flows": { "clientCredentials": {
                "tokenUrl": "https://auth.example.com/token", "scopes": {} } } } }
        },
        "x-vendor-extension": { "kept": [1, 2, 3], "url": "http://agent.internal:9999/not-an-interface" }
    })
}

/// A v0.3 card: top-level `url`, `preferredTransport`, `additionalInterfaces`.
pub fn v03_card() -> Value {
    json!({
        "name": "fake-v03",
        "description": "a v0.3 agent",
        "version": "0.3.1",
        "protocolVersion": "0.3.0",
        "url": format!("{AGENT_BASE}/"),
        "preferredTransport": "JSONRPC",
        "additionalInterfaces": [
            { "url": format!("{AGENT_BASE}/"), "transport": "JSONRPC" },
            { "url": format!("{AGENT_BASE}/rest"), "transport": "HTTP+JSON" }
        ],
        "capabilities": { "streaming": true },
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [],
        "iconUrl": "https://example.com/icon.png"
    })
}

/// `card` with its `url` fields rewritten as the gateway at `gateway_url` should for agent `demo`.
pub fn expected_rewrite(mut card: Value, gateway_url: &str) -> Value {
    let public = format!("{gateway_url}/a2a/demo");
    let fix = |url: &mut Value| {
        let text = url.as_str().expect("interface URLs are strings");
        let path = text
            .strip_prefix(AGENT_BASE)
            .expect("fixture URL under AGENT_BASE");
        *url = Value::String(format!("{public}{path}"));
    };
    if let Some(url) = card.get_mut("url") {
        fix(url);
    }
    for list in ["supportedInterfaces", "additionalInterfaces"] {
        if let Some(Value::Array(items)) = card.get_mut(list) {
            items.iter_mut().for_each(|item| fix(&mut item["url"]));
        }
    }
    card
}

/// `GET <gateway>/a2a/demo<path>`: status and body.
pub async fn get(envoy: &Envoy, path: &str) -> (u16, bytes::Bytes) {
    let response = http()
        .get(format!("{}/a2a/demo{path}", envoy.gateway_url()))
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("a complete body"))
}

/// `POST <gateway>/a2a/demo<path>` with a JSON body: status and body.
pub async fn post(
    http: &reqwest::Client,
    envoy: &Envoy,
    path: &str,
    body: String,
) -> (u16, bytes::Bytes) {
    let response = http
        .post(format!("{}/a2a/demo{path}", envoy.gateway_url()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("a complete body"))
}

/// Prometheus names of the a2a filter's series, the same in both flavours (Envoy strips the
/// custom stat namespaces `wasmcustom` and `dynamicmodulescustom`, see envoy/bootstrap.yaml).
pub const REQUESTS_TOTAL: &str = "a2a_requests_total";
/// `a2a_cards_total{agent, result}`.
pub const CARDS_TOTAL: &str = "a2a_cards_total";
/// Sample count of `a2a_request_duration_ms{agent, method}`.
pub const DURATION_COUNT: &str = "a2a_request_duration_ms_count";

/// How long a metric may take to show a finished stream (histograms merge asynchronously
/// after an admin request).
const METRIC_WAIT: Duration = Duration::from_secs(5);

/// Polls series `name{labels}` until it equals `want` or time runs out; returns the last value
/// (0 when the series does not exist).
pub async fn metric(envoy: &Envoy, name: &str, labels: &[(&str, &str)], want: f64) -> f64 {
    poll_metric(envoy, name, labels, |got| got == want).await
}

/// Polls series `name{labels}` until it reaches at least `least` or time runs out; returns the
/// last value. For counts that depend on how many Wasm VMs do background work.
pub async fn metric_at_least(
    envoy: &Envoy,
    name: &str,
    labels: &[(&str, &str)],
    least: f64,
) -> f64 {
    poll_metric(envoy, name, labels, |got| got >= least).await
}

/// Polls series `name{labels}` until `done` holds for its value or time runs out.
async fn poll_metric(
    envoy: &Envoy,
    name: &str,
    labels: &[(&str, &str)],
    done: impl Fn(f64) -> bool,
) -> f64 {
    let deadline = tokio::time::Instant::now() + METRIC_WAIT;
    loop {
        let prometheus = envoy.prometheus().await.expect("admin answers");
        let got = prometheus.value(name, labels).unwrap_or(0.0);
        if done(got) || tokio::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `a2a_requests_total{agent="demo", method, outcome}`, awaited up to `want`.
pub async fn requests(envoy: &Envoy, method: &str, outcome: &str, want: f64) -> f64 {
    let labels = [("agent", "demo"), ("method", method), ("outcome", outcome)];
    metric(envoy, REQUESTS_TOTAL, &labels, want).await
}

/// `a2a_cards_total{agent="demo", result}`, awaited up to `want`.
pub async fn cards(envoy: &Envoy, result: &str, want: f64) -> f64 {
    metric(
        envoy,
        CARDS_TOTAL,
        &[("agent", "demo"), ("result", result)],
        want,
    )
    .await
}

/// An MCP `POST` of `body` to `url` with extra `headers`: status, response headers and the
/// body as JSON (or as a JSON string holding the text when it is not JSON).
pub async fn mcp_post(
    url: &str,
    headers: &[(&str, &str)],
    body: String,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = http()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .body(body)
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("a complete body");
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, json)
}
