//! Fault injection through real Envoy, once per flavour (`dynmod::*`, `wasm::*`): MCP backends and
//! LLM providers that reset mid-stream, stall past the timeout or answer garbage (not JSON, an
//! SSE stream closed mid-event, text/html), a JWKS endpoint down at startup, an EPP that hangs
//! in front of a FailClose pool (the inference guard's eppTimeoutMs). Each time the client gets
//! a well-formed error in its protocol within the configured timeout, a metric counts it, and
//! Envoy keeps serving: a normal request right after succeeds.
//!
//! Covered elsewhere and not repeated here: a killed MCP backend (mcp_gateway.rs: left out of
//! lists, failClosed error), an LLM stream cut after whole events or reset (llm_gateway.rs
//! `a_stream_cut_mid_way_ends_in_an_error_event`, `a_stream_reset_mid_way_does_not_hang`), JWKS
//! failing after good keys were fetched (auth_authz.rs `failed_refresh_keeps_the_last_good_keys`),
//! an EPP down or hanging with FailOpen and down with FailClose (inference_failures.rs).
//!
//! Timeouts: MCP fan-out callouts use the config's `timeoutMs`; a routed MCP call and an LLM
//! request have no deadline in the shipped routes (they stream for as long as the tool or model
//! runs), so the stall tests give those routes an operator's `timeout` ([`start_envoy`]).
//!
//! MCP cases here; LLM in faults/llm.rs, JWKS and EPP in faults/services.rs.

mod inference_common;
mod support;

#[path = "faults/llm.rs"]
mod llm;
#[path = "faults/services.rs"]
mod services;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ai_gateway_test_harness::{
    mcp_config, Bootstrap, Envoy, Fault, FaultyUpstream, Flavour, McpBackend, McpBackendKind,
    McpBackendRoute, RecordedRequest, MCP_ENDPOINT_PATH,
};
use bytes::Bytes;
use serde_json::{json, Value};

use llm::{
    llm_provider_garbage_becomes_an_error_in_the_clients_format,
    llm_provider_stalled_past_the_route_timeout,
};
use services::{
    a_model_slower_than_the_epp_deadline_is_not_cut_off,
    an_epp_that_hangs_before_a_fail_close_pool_is_a_clear_503,
    jwks_down_at_startup_refuses_then_recovers,
};
use support::mcp::SESSION_KEY;

per_flavour_with_attrs!(
    mcp_routed_sse_answer_reset_mid_stream,
    mcp_fan_out_answer_reset_mid_stream_is_left_out,
    mcp_fan_out_stalled_past_timeout_ms_fails_closed,
    mcp_routed_call_stalled_past_the_route_timeout,
    mcp_routed_garbage_becomes_a_json_rpc_error,
    llm_provider_stalled_past_the_route_timeout,
    llm_provider_garbage_becomes_an_error_in_the_clients_format,
    jwks_down_at_startup_refuses_then_recovers,
    an_epp_that_hangs_before_a_fail_close_pool_is_a_clear_503,
    a_model_slower_than_the_epp_deadline_is_not_cut_off,
);

/// How long a fault may take to reach the client beyond the configured timeout (Envoy and the
/// test share two loaded cores).
const SLACK: Duration = Duration::from_secs(4);
/// The MCP callout timeout and the route timeout of the stall tests.
const TIMEOUT_MS: u64 = 1000;

/// What the faulty backend or provider does with the next request of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Misbehaviour {
    /// Answers properly.
    Good,
    /// Starts an SSE answer (one whole event, half of the next) and resets the connection.
    ResetMidStream,
    /// Never answers.
    Stall,
    /// `200 application/json` with a body that is not JSON.
    NotJson,
    /// `200 text/html`.
    Html,
    /// An SSE answer whose body ends (cleanly) in the middle of an event.
    TruncatedSse,
}

impl Misbehaviour {
    /// The fault for an answer whose good form is `good`, streamed as `events` (SSE payloads,
    /// the answer last).
    fn fault(self, good: Value, events: &[(&str, Value)]) -> Fault {
        let sse = |(name, data): &(&str, Value)| format!("event: {name}\ndata: {data}\n\n");
        let whole: Vec<Bytes> = events.iter().map(|e| Bytes::from(sse(e))).collect();
        // Everything but the last event, then the first half of it.
        let cut = || {
            let mut chunks = whole[..whole.len() - 1].to_vec();
            let last = &whole[whole.len() - 1];
            chunks.push(last.slice(..last.len() / 2));
            chunks
        };
        match self {
            Misbehaviour::Good => Fault::json(good.to_string()),
            Misbehaviour::ResetMidStream => Fault::ResetMidStream {
                status: 200,
                content_type: "text/event-stream".into(),
                chunks: cut(),
            },
            Misbehaviour::Stall => Fault::Stall,
            Misbehaviour::NotJson => Fault::answer(200, "application/json", "upstream says: oops"),
            Misbehaviour::Html => Fault::answer(
                200,
                "text/html",
                "<html><body><h1>502 Bad Gateway</h1></body></html>",
            ),
            Misbehaviour::TruncatedSse => Fault::EndEarly {
                status: 200,
                content_type: "text/event-stream".into(),
                chunks: cut(),
            },
        }
    }
}

/// Sums the series `name` whose labels include `labels`, polled until it reaches `least` (or
/// 5 s pass); returns the last sum.
async fn counted(envoy: &Envoy, name: &str, labels: &[(&str, &str)], least: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let prometheus = envoy.prometheus().await.expect("admin answers");
        let sum: f64 = prometheus
            .with_prefix(name)
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum();
        if sum >= least || Instant::now() > deadline {
            return sum;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Envoy with `bootstrap`; with `route_timeout_ms`, the routes that have no deadline (the MCP
/// and LLM routes: `timeout: 0s`) get that one, as an operator would set for tools and models.
async fn start_envoy(bootstrap: &Bootstrap, route_timeout_ms: Option<u64>) -> Envoy {
    let Some(ms) = route_timeout_ms else {
        return Envoy::start(bootstrap).await.expect("Envoy starts");
    };
    let yaml = bootstrap.render().expect("the bootstrap renders");
    assert!(yaml.contains("timeout: 0s"), "{yaml}");
    let yaml = yaml.replace("timeout: 0s", &format!("timeout: {}s", ms as f64 / 1000.0));
    Envoy::start_with_config(bootstrap, yaml)
        .await
        .expect("Envoy starts with route timeouts")
}

/// A client's view of one answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    body: Result<String, String>,
    took: Duration,
}

impl From<(u16, String, Result<String, String>, Duration)> for Answer {
    fn from(
        (status, content_type, body, took): (u16, String, Result<String, String>, Duration),
    ) -> Self {
        Answer {
            status,
            content_type,
            body,
            took,
        }
    }
}

/// Sends `request` with `body`: status, content type, the whole answer (or why it could not be
/// read) and how long the answer took.
async fn send(
    request: reqwest::RequestBuilder,
    body: &Value,
) -> (u16, String, Result<String, String>, Duration) {
    let started = Instant::now();
    let response = request
        .body(body.to_string())
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.text().await.map_err(|e| format!("{e:?}"));
    (status, content_type, text, started.elapsed())
}

// MCP: a faulty backend `faulty` (tool `flaky`) next to the Python SDK's session backend.

/// What the faulty MCP backend does with `tools/list` and `tools/call`.
#[derive(Debug, Clone, Copy)]
struct McpPlan {
    list: Misbehaviour,
    call: Misbehaviour,
}

/// The faulty backend and the session backend behind one Envoy with the mcp filter.
struct McpFaults {
    plan: Arc<Mutex<McpPlan>>,
    _faulty: FaultyUpstream,
    session: McpBackend,
    envoy: Envoy,
}

/// The faulty backend's answer: a proper MCP server's for the handshake, `plan`'s for lists and
/// calls.
fn mcp_answer(request: &RecordedRequest, plan: McpPlan) -> Fault {
    let message: Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let id = message["id"].clone();
    let reply = |result: Value| json!({"jsonrpc": "2.0", "id": id, "result": result});
    let progress = json!({"jsonrpc": "2.0", "method": "notifications/message",
                          "params": {"level": "info", "data": "working"}});
    match message["method"].as_str().unwrap_or_default() {
        "initialize" => Fault::json(
            reply(
                json!({"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                         "serverInfo": {"name": "faulty", "version": "1"}}),
            )
            .to_string(),
        ),
        "tools/list" => {
            let list = reply(json!({"tools": [{"name": "flaky", "description": "fails",
                                               "inputSchema": {"type": "object"}}]}));
            plan.list
                .fault(list.clone(), &[("message", progress), ("message", list)])
        }
        "tools/call" => {
            let done = reply(json!({"content": [{"type": "text", "text": "flaky done"}]}));
            plan.call
                .fault(done.clone(), &[("message", progress), ("message", done)])
        }
        method if method.starts_with("notifications/") => Fault::accepted(),
        _ => Fault::json(
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "no"}})
                .to_string(),
        ),
    }
}

impl McpFaults {
    /// With mcp config fields `extra`, and a route timeout for routed calls if given.
    async fn start(flavour: Flavour, extra: Value, route_timeout_ms: Option<u64>) -> McpFaults {
        let plan = Arc::new(Mutex::new(McpPlan {
            list: Misbehaviour::Good,
            call: Misbehaviour::Good,
        }));
        let shared = Arc::clone(&plan);
        let faulty = FaultyUpstream::start(move |request| {
            let plan = *shared.lock().unwrap();
            mcp_answer(request, plan)
        })
        .await
        .expect("the faulty backend starts");
        let session = McpBackend::start(McpBackendKind::PythonSession)
            .await
            .expect("the MCP backend starts (run scripts/setup)");
        let routes = [
            McpBackendRoute::new("faulty", faulty.addr()),
            McpBackendRoute {
                path: session.path().to_string(),
                ..McpBackendRoute::new("session", session.addr())
            },
        ];
        let mut config = mcp_config(&routes, SESSION_KEY);
        for (route, entry) in routes
            .iter()
            .zip(config["backends"].as_array_mut().unwrap())
        {
            entry["host"] = json!(route.upstream.to_string());
        }
        config["timeoutMs"] = json!(TIMEOUT_MS);
        for (key, value) in extra.as_object().into_iter().flatten() {
            config[key] = value.clone();
        }
        let bootstrap = routes
            .into_iter()
            .fold(Bootstrap::new(Some(flavour)), Bootstrap::mcp_backend)
            .filter("mcp", config);
        let envoy = start_envoy(&bootstrap, route_timeout_ms).await;
        McpFaults {
            plan,
            _faulty: faulty,
            session,
            envoy,
        }
    }

    fn set(&self, change: impl FnOnce(&mut McpPlan)) {
        change(&mut self.plan.lock().unwrap());
    }

    /// `POST /mcp`: status, content type and the body (or the error that cut it), and how long
    /// the whole answer took.
    async fn post(
        &self,
        headers: &[(&str, &str)],
        body: Value,
    ) -> (u16, String, Result<String, String>, Duration) {
        let mut request = support::http()
            .post(format!("{}{MCP_ENDPOINT_PATH}", self.envoy.gateway_url()))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        send(request, &body).await
    }

    async fn initialize(&self) -> String {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "faults", "version": "1"}}});
        let (status, headers, body) = support::mcp_post(&self.url(), &[], body.to_string()).await;
        assert_eq!(status, 200, "{body}\n{}", self.envoy.log());
        headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .expect("initialize returns the gateway's session token")
            .to_string()
    }

    fn url(&self) -> String {
        format!("{}{MCP_ENDPOINT_PATH}", self.envoy.gateway_url())
    }

    async fn in_session(
        &self,
        token: &str,
        extra: &[(&str, &str)],
        body: Value,
    ) -> (u16, String, Result<String, String>, Duration) {
        let mut headers = vec![
            ("mcp-session-id", token),
            ("mcp-protocol-version", "2025-11-25"),
        ];
        headers.extend_from_slice(extra);
        self.post(&headers, body).await
    }

    async fn call(&self, token: &str, id: u64, tool: &str, extra: &[(&str, &str)]) -> Answer {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                          "params": {"name": tool, "arguments": {"message": "still here"}}});
        Answer::from(self.in_session(token, extra, body).await)
    }

    /// Envoy keeps serving: a call to the healthy backend succeeds.
    async fn healthy_call_succeeds(&self, token: &str) {
        let answer = self.call(token, 99, "session_echo", &[]).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let message = answer.message();
        assert_eq!(
            message["result"]["content"][0]["text"],
            "session: still here",
            "{answer:?}\nbackend log:\n{}",
            self.session.log()
        );
    }

    /// `mcp_requests_total` of `tools/call` on the faulty backend with `outcome`.
    async fn call_outcomes(&self, outcome: &str, least: f64) -> f64 {
        let labels = [
            ("method", "tools/call"),
            ("backend", "faulty"),
            ("outcome", outcome),
        ];
        counted(&self.envoy, "mcp_requests_total", &labels, least).await
    }
}

impl Answer {
    /// The JSON-RPC response in the body: the whole JSON body, or the SSE event with an `id`.
    fn message(&self) -> Value {
        let text = self.body.as_deref().unwrap_or_default();
        if self.content_type.starts_with("text/event-stream") {
            return text
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
                .find(|m| m.get("id").is_some() && m.get("method").is_none())
                .unwrap_or_default();
        }
        serde_json::from_str(text).unwrap_or_default()
    }

    /// Asserts a JSON-RPC error answer to request `id` naming the faulty backend.
    fn assert_backend_error(&self, id: u64) {
        let message = self.message();
        assert_eq!(message["jsonrpc"], "2.0", "{self:?}");
        assert_eq!(message["id"], id, "{self:?}");
        assert_eq!(message["error"]["code"], -32603, "{self:?}");
        let text = message["error"]["message"].as_str().unwrap_or_default();
        assert!(
            text.contains("faulty"),
            "the error names the backend: {self:?}"
        );
    }
}

async fn mcp_routed_sse_answer_reset_mid_stream(flavour: Flavour) {
    let gw = McpFaults::start(flavour, json!({}), None).await;
    let token = gw.initialize().await;
    gw.set(|p| p.call = Misbehaviour::ResetMidStream);
    let answer = gw.call(&token, 7, "faulty_flaky", &[]).await;
    // The answer had started (200, one event) when the backend reset: the client's stream is cut
    // too, promptly — never a stream that looks complete, never a hang.
    assert!(answer.took < SLACK, "{answer:?}");
    assert_eq!(answer.status, 200, "{answer:?}");
    match &answer.body {
        Err(_) => {}
        Ok(text) => panic!("the client must see the stream cut, got a complete body: {text}"),
    }
    assert_eq!(gw.call_outcomes("reset", 1.0).await, 1.0);
    gw.healthy_call_succeeds(&token).await;
}

async fn mcp_fan_out_answer_reset_mid_stream_is_left_out(flavour: Flavour) {
    let gw = McpFaults::start(flavour, json!({}), None).await;
    let token = gw.initialize().await;
    gw.set(|p| p.list = Misbehaviour::ResetMidStream);
    let list = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"});
    let answer = Answer::from(gw.in_session(&token, &[], list.clone()).await);
    assert!(answer.took < SLACK, "{answer:?}");
    assert_eq!(answer.status, 200, "{answer:?}");
    let tools = answer.message()["result"]["tools"].to_string();
    // failOpen: the others' merged answer.
    assert!(tools.contains("session_echo"), "{answer:?}");
    assert!(!tools.contains("faulty_flaky"), "{answer:?}");
    let labels = [("method", "tools/list"), ("backend", "faulty")];
    assert_eq!(
        counted(&gw.envoy, "mcp_fanout_failures_total", &labels, 1.0).await,
        1.0
    );
    // The backend behaves again: it is back in the list.
    gw.set(|p| p.list = Misbehaviour::Good);
    let answer = Answer::from(gw.in_session(&token, &[], list).await);
    assert!(
        answer.message()["result"]["tools"]
            .to_string()
            .contains("faulty_flaky"),
        "{answer:?}"
    );
    gw.healthy_call_succeeds(&token).await;
}

async fn mcp_fan_out_stalled_past_timeout_ms_fails_closed(flavour: Flavour) {
    let gw = McpFaults::start(flavour, json!({"failureMode": "failClosed"}), None).await;
    let token = gw.initialize().await;
    gw.set(|p| p.list = Misbehaviour::Stall);
    let list = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/list"});
    let answer = Answer::from(gw.in_session(&token, &[], list).await);
    assert!(
        answer.took >= Duration::from_millis(TIMEOUT_MS - 100),
        "{answer:?}"
    );
    assert!(
        answer.took < Duration::from_millis(TIMEOUT_MS) + SLACK,
        "{answer:?}"
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.assert_backend_error(4);
    let labels = [("method", "tools/list"), ("backend", "faulty")];
    assert_eq!(
        counted(&gw.envoy, "mcp_fanout_failures_total", &labels, 1.0).await,
        1.0
    );
    gw.healthy_call_succeeds(&token).await;
}

async fn mcp_routed_call_stalled_past_the_route_timeout(flavour: Flavour) {
    let gw = McpFaults::start(flavour, json!({}), Some(TIMEOUT_MS)).await;
    let token = gw.initialize().await;
    gw.set(|p| p.call = Misbehaviour::Stall);
    let answer = gw.call(&token, 8, "faulty_flaky", &[]).await;
    assert!(
        answer.took >= Duration::from_millis(TIMEOUT_MS - 100),
        "{answer:?}"
    );
    assert!(
        answer.took < Duration::from_millis(TIMEOUT_MS) + SLACK,
        "{answer:?}"
    );
    assert_eq!(answer.status, 504, "{answer:?}");
    assert!(
        answer.content_type.starts_with("application/json"),
        "{answer:?}"
    );
    answer.assert_backend_error(8);
    assert_eq!(gw.call_outcomes("jsonrpc_-32603", 1.0).await, 1.0);
    gw.healthy_call_succeeds(&token).await;
}

async fn mcp_routed_garbage_becomes_a_json_rpc_error(flavour: Flavour) {
    let gw = McpFaults::start(flavour, json!({}), None).await;
    let token = gw.initialize().await;
    let cases = [
        (Misbehaviour::NotJson, 502),
        (Misbehaviour::Html, 502),
        (Misbehaviour::TruncatedSse, 200),
    ];
    for (n, (misbehaviour, status)) in cases.into_iter().enumerate() {
        gw.set(|p| p.call = misbehaviour);
        let id = 10 + n as u64;
        let answer = gw.call(&token, id, "faulty_flaky", &[]).await;
        assert!(answer.took < SLACK, "{misbehaviour:?}: {answer:?}");
        assert_eq!(answer.status, status, "{misbehaviour:?}: {answer:?}");
        answer.assert_backend_error(id);
        if misbehaviour == Misbehaviour::TruncatedSse {
            // The events that arrived whole still reach the client, then the error event.
            let text = answer.body.as_deref().unwrap_or_default();
            assert!(text.contains("notifications/message"), "{answer:?}");
            assert!(!text.contains("flaky done"), "{answer:?}");
        }
        let least = (n + 1) as f64;
        assert_eq!(gw.call_outcomes("jsonrpc_-32603", least).await, least);
        gw.healthy_call_succeeds(&token).await;
    }
}
