//! The `mcp` filter's single-target routing against real Envoy, once per flavour: two fake MCP
//! backends `a` and `b` (FakeUpstreams answering JSON-RPC) behind the gateway's `/mcp`; tools
//! are `a_<tool>` and `b_<tool>` there (prefix mode `always`).

mod support;

use ai_gateway_test_harness::{
    jsonrpc, mcp_config, Bootstrap, Envoy, FakeUpstream, Flavour, McpBackend, McpBackendKind,
    McpBackendRoute, RecordedRequest, MCP_ENDPOINT_PATH,
};
use serde_json::{json, Value};

use support::{http, mcp_post, metric};

per_flavour!(
    prefixed_tools_reach_their_backend_without_the_prefix,
    client_routing_header_cannot_steer_the_request,
    bad_requests_are_answered_by_the_gateway,
    a_real_stateless_mcp_server_answers_a_routed_call,
);

/// A session key for the config (base64 of the bytes 1..=32); no test opens a session.
const SESSION_KEY: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
/// The smallest `maxRequestBytes` the config accepts, so a test can exceed it cheaply.
const MAX_REQUEST_BYTES: usize = 1024;
/// The only browser origin the gateway trusts in these tests.
const TRUSTED_ORIGIN: &str = "https://app.example.com";

/// A fake MCP server: answers `tools/call` with a text naming itself and the tool it was asked
/// for, anything else with -32601.
async fn backend(name: &'static str) -> FakeUpstream {
    FakeUpstream::start(move |request: &RecordedRequest| {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        if body["method"] == "tools/call" {
            let tool = body["params"]["name"].as_str().unwrap_or("?");
            let text = format!("{name} ran {tool}");
            jsonrpc::result(
                request,
                json!({ "content": [{ "type": "text", "text": text }], "isError": false }),
            )
        } else {
            jsonrpc::error(request, -32601, "fake backend: method not found")
        }
    })
    .await
    .expect("a fake MCP backend starts")
}

/// Two backends and Envoy with the mcp filter routing to them.
struct Gateway {
    a: FakeUpstream,
    b: FakeUpstream,
    envoy: Envoy,
}

impl Gateway {
    async fn start(flavour: Flavour) -> Gateway {
        let (a, b) = (backend("a").await, backend("b").await);
        let routes = [
            McpBackendRoute::new("a", a.addr()),
            McpBackendRoute::new("b", b.addr()),
        ];
        let mut config = mcp_config(&routes, SESSION_KEY);
        config["allowedOrigins"] = json!([TRUSTED_ORIGIN]);
        config["maxRequestBytes"] = json!(MAX_REQUEST_BYTES);
        let bootstrap = routes
            .into_iter()
            .fold(Bootstrap::new(Some(flavour)), Bootstrap::mcp_backend)
            .filter("mcp", config);
        let envoy = Envoy::start(&bootstrap)
            .await
            .expect("Envoy starts with the mcp filter");
        Gateway { a, b, envoy }
    }

    /// `POST /mcp` with `body` and extra `headers`: status and body.
    async fn post(&self, headers: &[(&str, &str)], body: String) -> (u16, Value) {
        let url = format!("{}{MCP_ENDPOINT_PATH}", self.envoy.gateway_url());
        let (status, _, json) = mcp_post(&url, headers, body).await;
        (status, json)
    }

    /// Every request the backends received, as (backend, body).
    fn upstream_bodies(&self) -> Vec<(&'static str, Value)> {
        let seen = |name, upstream: &FakeUpstream| {
            upstream
                .requests()
                .into_iter()
                .map(move |r| (name, serde_json::from_slice(&r.body).unwrap()))
                .collect::<Vec<_>>()
        };
        let mut all = seen("a", &self.a);
        all.extend(seen("b", &self.b));
        all
    }
}

fn call(id: u64, tool: &str) -> String {
    jsonrpc::request(
        id,
        "tools/call",
        json!({ "name": tool, "arguments": { "x": 1 } }),
    )
}

fn text_of(answer: &Value) -> &str {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("a tool result: {answer}"))
}

async fn prefixed_tools_reach_their_backend_without_the_prefix(flavour: Flavour) {
    let gateway = Gateway::start(flavour).await;

    let (status, answer) = gateway.post(&[], call(1, "a_echo")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["id"], 1);
    assert_eq!(text_of(&answer), "a ran echo");

    // 2026-07-28 style, with the Mcp-* headers mirroring the body: Mcp-Name is rewritten too.
    let modern = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "b_echo"),
    ];
    let (status, answer) = gateway.post(&modern, call(2, "b_echo")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(text_of(&answer), "b ran echo");

    let (a, b) = (gateway.a.requests(), gateway.b.requests());
    assert_eq!((a.len(), b.len()), (1, 1));
    let sent_to_a: Value = serde_json::from_slice(&a[0].body).unwrap();
    assert_eq!(
        sent_to_a["params"],
        json!({ "name": "echo", "arguments": { "x": 1 } })
    );
    assert_eq!(a[0].path, MCP_ENDPOINT_PATH);
    assert_eq!(b[0].header("mcp-name"), Some("echo"));

    let labels = |backend| {
        [
            ("method", "tools/call"),
            ("backend", backend),
            ("tool", "other"),
            ("outcome", "2xx"),
        ]
    };
    for backend in ["a", "b"] {
        let counted = metric(&gateway.envoy, "mcp_requests_total", &labels(backend), 1.0).await;
        assert_eq!(counted, 1.0, "mcp_requests_total for {backend}");
    }
    let timed = metric(
        &gateway.envoy,
        "mcp_request_duration_ms_count",
        &[("method", "tools/call"), ("backend", "a")],
        1.0,
    )
    .await;
    assert_eq!(timed, 1.0);
}

/// A client naming a cluster in the routing header reaches only the backend its tool names.
async fn client_routing_header_cannot_steer_the_request(flavour: Flavour) {
    let gateway = Gateway::start(flavour).await;
    let steer = [("x-ai-gateway-mcp-backend", "mcp_b")];

    let (status, answer) = gateway.post(&steer, call(1, "a_echo")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(text_of(&answer), "a ran echo");

    // A request the gateway answers itself does not reach any backend either.
    let (status, answer) = gateway.post(&steer, call(2, "zz_echo")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["error"]["code"], -32602);

    // Nor on a path the filter does not serve: Envoy matched the header route before the
    // filter removed the header, so the filter must have the route matched again.
    let response = http()
        .get(format!("{}/elsewhere", gateway.envoy.gateway_url()))
        .header("x-ai-gateway-mcp-backend", "mcp_b")
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status().as_u16(), 404);

    let seen = gateway.upstream_bodies();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, "a");
    assert!(gateway.a.requests()[0]
        .header("x-ai-gateway-mcp-backend")
        .is_some_and(|v| v == "mcp_a"));
}

async fn bad_requests_are_answered_by_the_gateway(flavour: Flavour) {
    let gateway = Gateway::start(flavour).await;

    let (status, answer) = gateway.post(&[], call(3, "zz_echo")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["id"], 3);
    assert_eq!(answer["error"]["code"], -32602);
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("zz_echo"), "{message}");

    let (status, answer) = gateway.post(&[], "{\"jsonrpc\": \"2.0\", ".into()).await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (400, &json!(-32700)),
        "{answer}"
    );

    let (status, answer) = gateway
        .post(&[], json!({ "hello": "world" }).to_string())
        .await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (400, &json!(-32600)),
        "{answer}"
    );

    let (status, answer) = gateway
        .post(&[], jsonrpc::request(4, "tools/list", json!({})))
        .await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (200, &json!(-32601)),
        "{answer}"
    );

    let padding = " ".repeat(MAX_REQUEST_BYTES * 4);
    let (status, answer) = gateway
        .post(&[], format!("{}{padding}", call(5, "a_echo")))
        .await;
    assert_eq!(status, 413, "{answer}");

    let (status, answer) = gateway
        .post(&[("origin", "https://evil.example.com")], call(6, "a_echo"))
        .await;
    assert_eq!(status, 403, "{answer}");

    let (status, answer) = gateway
        .post(&[("origin", TRUSTED_ORIGIN)], call(7, "a_echo"))
        .await;
    assert_eq!((status, text_of(&answer)), (200, "a ran echo"));

    // Only the trusted-origin call reached a backend (tools/list went to both as callouts,
    // and both said they have no tools: -32601 above).
    let seen: Vec<_> = gateway
        .upstream_bodies()
        .into_iter()
        .filter(|(_, body)| body["method"] == "tools/call")
        .collect();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].1["id"], 7);

    let refused = [
        ("tools/call", "jsonrpc_-32602", 1.0),
        ("invalid", "jsonrpc_-32700", 1.0),
        ("invalid", "jsonrpc_-32600", 1.0),
        ("tools/list", "jsonrpc_-32601", 1.0),
        ("unread", "413", 1.0),
        ("unread", "403", 1.0),
    ];
    for (method, outcome, want) in refused {
        let tool = if method == "tools/call" {
            "other"
        } else {
            "none"
        };
        let labels = [
            ("method", method),
            ("backend", "none"),
            ("tool", tool),
            ("outcome", outcome),
        ];
        let got = metric(&gateway.envoy, "mcp_requests_total", &labels, want).await;
        assert_eq!(got, want, "{method} {outcome}");
    }
}

/// The official `mcp` SDK's stateless server behind the gateway, called on the 2026-07-28 wire
/// (no session needed): the prefixed call is served under the server's own tool name, and its
/// answer (JSON or SSE, as the server chooses) streams back.
async fn a_real_stateless_mcp_server_answers_a_routed_call(flavour: Flavour) {
    let server = McpBackend::start(McpBackendKind::PythonStateless)
        .await
        .expect("the stateless Python MCP server starts (run scripts/setup)");
    let route = McpBackendRoute::new("py", server.addr());
    let bootstrap = Bootstrap::new(Some(flavour))
        .filter("mcp", mcp_config(std::slice::from_ref(&route), SESSION_KEY))
        .mcp_backend(route);
    let envoy = Envoy::start(&bootstrap)
        .await
        .expect("Envoy starts with the mcp filter");
    let version = "2026-07-28";
    let body = json!({
        "jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {
            "name": "py_echo",
            "arguments": { "message": "through the gateway" },
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": version,
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    });
    let response = http()
        .post(format!("{}{MCP_ENDPOINT_PATH}", envoy.gateway_url()))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", version)
        .header("mcp-method", "tools/call")
        .header("mcp-name", "py_echo")
        .body(body.to_string())
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a complete body");
    assert_eq!(status, 200, "{text}\n{}", server.log());
    assert!(text.contains("stateless: through the gateway"), "{text}");
    assert!(text.contains("\"id\":9"), "{text}");
}
