//! The attack suite, once per flavour: what a hostile client (or a broken backend) tries, and
//! the status and metric each attempt must meet. MCP session tokens that were forged, sealed
//! with a key the gateway does not have, or replayed after their TTL (404, counted by reason);
//! a browser `Origin` outside the allowlist (403); oversized bodies (413) and headers (Envoy's
//! 431); JSON nested far past the parser's depth bound (-32700, 400); CRLF in a tool name that
//! the gateway mirrors into `Mcp-Name` (no header injected); an SSE event without end from a
//! backend (skipped within `maxResponseBytes`, not buffered); JWT `alg` confusion (401); a
//! client-chosen destination endpoint on an inference route (not followed).

mod inference_common;
mod support;

use std::time::{Duration, Instant};

use ai_gateway_test_harness::auth::{unsigned_token, TestKey};
use ai_gateway_test_harness::inference::{Pick, DESTINATION};
use ai_gateway_test_harness::{
    jsonrpc, mcp_config, AgentRoute, Bootstrap, Envoy, FakeUpstream, Flavour, McpBackendRoute,
    RecordedRequest, Reply, MCP_ENDPOINT_PATH,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};

use support::mcp::{NEW_SESSION_KEY, SESSION_KEY};
use support::{http, mcp_post, metric};

per_flavour!(
    session_tokens_that_do_not_open_are_404_and_counted,
    an_origin_outside_the_allowlist_is_403_and_counted,
    oversized_bodies_are_413_and_oversized_headers_431,
    json_nested_past_the_depth_bound_is_a_parse_error,
    an_llm_body_100k_levels_deep_is_400_in_the_clients_format,
    a_crlf_in_a_tool_name_injects_no_header,
    crlf_in_agent_card_fields_injects_no_header,
    an_sse_event_without_end_is_skipped_not_buffered,
    jwt_alg_confusion_is_401,
    a_client_chosen_destination_is_not_followed,
);

/// The only browser origin the MCP gateway trusts.
const TRUSTED_ORIGIN: &str = "https://app.example.com";
const MAX_REQUEST_BYTES: usize = 4096;
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The shortest session TTL the mcp filter accepts.
const SESSION_TTL_SECONDS: u64 = 60;

/// A fake MCP server: `initialize`, one tool `echo` answering with the request headers it
/// received, and `endless`, which streams an SSE event four times `MAX_RESPONSE_BYTES` long
/// before its answer.
async fn mcp_backend() -> FakeUpstream {
    FakeUpstream::start(|request: &RecordedRequest| {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        match (body["method"].as_str(), body["params"]["name"].as_str()) {
            (Some("initialize"), _) => jsonrpc::result(
                request,
                json!({ "protocolVersion": "2025-11-25", "capabilities": { "tools": {} },
                        "serverInfo": { "name": "fake", "version": "1" } }),
            ),
            (Some("tools/list"), _) => jsonrpc::result(
                request,
                json!({ "tools": [{ "name": "echo", "inputSchema": { "type": "object" } },
                                  { "name": "endless", "inputSchema": { "type": "object" } }] }),
            ),
            (Some("tools/call"), Some("endless")) => endless_event_then_answer(&body["id"]),
            (Some("tools/call"), _) => {
                let headers: Vec<String> = request
                    .headers
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect();
                let text = headers.join("\n");
                jsonrpc::result(
                    request,
                    json!({ "content": [{ "type": "text", "text": text }] }),
                )
            }
            (Some(_), _) if body.get("id").is_none() => Reply::with(202, None, ""),
            _ => jsonrpc::error(request, -32601, "fake backend: method not found"),
        }
    })
    .await
    .expect("a fake MCP backend starts")
}

/// `data: xxxx…` with no blank line for 4 × `MAX_RESPONSE_BYTES`, then the event's end and the
/// call's answer as a second event.
fn endless_event_then_answer(id: &Value) -> Reply {
    let (sender, chunks) = tokio::sync::mpsc::channel(8);
    let answer = json!({ "jsonrpc": "2.0", "id": id,
                         "result": { "content": [{ "type": "text", "text": "after" }] } });
    tokio::spawn(async move {
        let mut parts = vec![Bytes::from_static(b"event: message\ndata: ")];
        parts.extend((0..64).map(|_| Bytes::from(vec![b'x'; MAX_RESPONSE_BYTES / 16])));
        parts.push(Bytes::from(format!(
            "\n\nevent: message\ndata: {answer}\n\n"
        )));
        for part in parts {
            if sender.send(part).await.is_err() {
                return;
            }
        }
    });
    Reply::Streamed {
        status: 200,
        content_type: "text/event-stream".into(),
        chunks,
    }
}

/// Envoy with the mcp filter (sessions sealed with `key`) in front of one fake backend `a`.
async fn mcp_gateway(flavour: Flavour, key: &str) -> (FakeUpstream, Envoy) {
    let backend = mcp_backend().await;
    let route = McpBackendRoute::new("a", backend.addr());
    let mut config = mcp_config(std::slice::from_ref(&route), key);
    config["session"]["ttlSeconds"] = json!(SESSION_TTL_SECONDS);
    config["allowedOrigins"] = json!([TRUSTED_ORIGIN]);
    config["maxRequestBytes"] = json!(MAX_REQUEST_BYTES);
    config["maxResponseBytes"] = json!(MAX_RESPONSE_BYTES);
    let bootstrap = Bootstrap::new(Some(flavour))
        .mcp_backend(route)
        .filter("mcp", config);
    let envoy = Envoy::start(&bootstrap)
        .await
        .expect("Envoy starts with the mcp filter");
    (backend, envoy)
}

/// `POST /mcp`: status, headers and JSON body.
async fn post(
    envoy: &Envoy,
    headers: &[(&str, &str)],
    body: String,
) -> (u16, reqwest::header::HeaderMap, Value) {
    mcp_post(
        &format!("{}{MCP_ENDPOINT_PATH}", envoy.gateway_url()),
        headers,
        body,
    )
    .await
}

/// An `initialize`: the session token.
async fn initialize(envoy: &Envoy) -> String {
    let params = json!({ "protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": { "name": "attacker", "version": "1" } });
    let (status, headers, body) = post(envoy, &[], jsonrpc::request(1, "initialize", params)).await;
    assert_eq!(status, 200, "{body}");
    headers["mcp-session-id"].to_str().unwrap().to_string()
}

/// `mcp_requests_total{method, outcome}` of a request refused before routing (no backend, no
/// tool), awaited up to `want`.
async fn mcp_requests(envoy: &Envoy, method: &str, outcome: &str, want: f64) -> f64 {
    let labels = [
        ("method", method),
        ("backend", "none"),
        ("tool", "none"),
        ("outcome", outcome),
    ];
    metric(envoy, "mcp_requests_total", &labels, want).await
}

/// Nothing reached `backend`, and a plain call is still served afterwards.
async fn refused_before_the_backend_and_still_serving(backend: &FakeUpstream, envoy: &Envoy) {
    assert!(backend.requests().is_empty(), "nothing reached the backend");
    let (status, _, answer) = post(envoy, &[], call(99, "a_echo")).await;
    assert_eq!(status, 200, "Envoy still serves: {answer}");
}

fn call(id: u64, tool: &str) -> String {
    jsonrpc::request(id, "tools/call", json!({ "name": tool, "arguments": {} }))
}

async fn session_tokens_that_do_not_open_are_404_and_counted(flavour: Flavour) {
    let (_backend, envoy) = mcp_gateway(flavour, SESSION_KEY).await;
    let issued = Instant::now();
    let genuine = initialize(&envoy).await;
    // Forged: the configured key's id byte, then bytes of the attacker's choosing.
    let mut bytes = URL_SAFE_NO_PAD.decode(&genuine).unwrap();
    bytes[1..]
        .iter_mut()
        .for_each(|b| *b = b.wrapping_mul(31).wrapping_add(7));
    let forged = URL_SAFE_NO_PAD.encode(bytes);
    // Cross-key: genuine, but sealed by a gateway whose key this one does not have.
    let (_other_backend, other) = mcp_gateway(flavour, NEW_SESSION_KEY).await;
    let cross_key = initialize(&other).await;
    let list = || jsonrpc::request(2, "tools/list", json!({}));
    for (token, reason) in [
        (forged.as_str(), "tampered"),
        (cross_key.as_str(), "unknown_key"),
        ("not a token!", "malformed"),
    ] {
        let headers = [
            ("mcp-session-id", token),
            ("mcp-protocol-version", "2025-11-25"),
        ];
        let (status, _, body) = post(&envoy, &headers, list()).await;
        assert_eq!(status, 404, "{reason}: {body}");
        assert_eq!(
            support::mcp::sessions(&envoy, "rejected", reason, 1.0).await,
            1.0,
            "{reason}"
        );
    }
    // The genuine token works until its TTL, and replayed after it is 404 too.
    let headers = [
        ("mcp-session-id", genuine.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    assert_eq!(post(&envoy, &headers, list()).await.0, 200);
    let expiry = Duration::from_secs(SESSION_TTL_SECONDS + 1);
    tokio::time::sleep(expiry.saturating_sub(issued.elapsed())).await;
    let (status, _, body) = post(&envoy, &headers, list()).await;
    assert_eq!(status, 404, "replayed after expiry: {body}");
    assert_eq!(
        support::mcp::sessions(&envoy, "rejected", "expired", 1.0).await,
        1.0
    );
}

async fn an_origin_outside_the_allowlist_is_403_and_counted(flavour: Flavour) {
    let (backend, envoy) = mcp_gateway(flavour, SESSION_KEY).await;
    let (status, _, body) = post(
        &envoy,
        &[("origin", "https://evil.example")],
        call(1, "a_echo"),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // A look-alike is not the trusted origin either.
    let lookalike = format!("{TRUSTED_ORIGIN}.evil.example");
    assert_eq!(
        post(&envoy, &[("origin", &lookalike)], call(2, "a_echo"))
            .await
            .0,
        403
    );
    assert_eq!(mcp_requests(&envoy, "unread", "403", 2.0).await, 2.0);
    refused_before_the_backend_and_still_serving(&backend, &envoy).await;
    let (status, _, _) = post(&envoy, &[("origin", TRUSTED_ORIGIN)], call(3, "a_echo")).await;
    assert_eq!(status, 200);
}

async fn oversized_bodies_are_413_and_oversized_headers_431(flavour: Flavour) {
    let (backend, envoy) = mcp_gateway(flavour, SESSION_KEY).await;
    let padded = format!("{}{}", call(1, "a_echo"), " ".repeat(4 * MAX_REQUEST_BYTES));
    let (status, _, body) = post(&envoy, &[], padded).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(mcp_requests(&envoy, "unread", "413", 1.0).await, 1.0);
    // Headers past Envoy's 60 KiB limit never reach a filter: Envoy answers 431 itself.
    let huge = "h".repeat(100 * 1024);
    let (status, _, _) = post(&envoy, &[("x-padding", &huge)], call(2, "a_echo")).await;
    assert_eq!(status, 431);
    // Both refusals are 4xx answers of the gateway's connection manager.
    let labels = [
        ("envoy_http_conn_manager_prefix", "gateway"),
        ("envoy_response_code_class", "4"),
    ];
    let counted = metric(&envoy, "envoy_http_downstream_rq_xx", &labels, 2.0).await;
    assert_eq!(
        counted,
        2.0,
        "{:?}",
        envoy
            .prometheus()
            .await
            .unwrap()
            .with_prefix("envoy_http_downstream_rq")
            .collect::<Vec<_>>()
    );
    refused_before_the_backend_and_still_serving(&backend, &envoy).await;
}

async fn json_nested_past_the_depth_bound_is_a_parse_error(flavour: Flavour) {
    let (backend, envoy) = mcp_gateway(flavour, SESSION_KEY).await;
    for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
        // Within maxRequestBytes, nearly 5× deeper than serde_json's recursion limit of 128.
        let deep = format!("{}1{}", open.repeat(600), close.repeat(600));
        let params = format!(r#"{{"name":"a_echo","arguments":{{"x":{deep}}}}}"#);
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{params}}}"#);
        assert!(body.len() <= MAX_REQUEST_BYTES, "{} bytes", body.len());
        let (status, _, answer) = post(&envoy, &[], body).await;
        assert_eq!(
            (status, &answer["error"]["code"]),
            (400, &json!(-32700)),
            "{answer}"
        );
    }
    assert_eq!(
        mcp_requests(&envoy, "invalid", "jsonrpc_-32700", 2.0).await,
        2.0
    );
    refused_before_the_backend_and_still_serving(&backend, &envoy).await;
}

async fn an_llm_body_100k_levels_deep_is_400_in_the_clients_format(flavour: Flavour) {
    let gateway = support::llm::LlmGateway::start(flavour).await;
    let response = gateway
        .post("/v1/chat/completions", "[".repeat(100_000))
        .await;
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("an OpenAI error body");
    assert!(body["error"]["message"].is_string(), "{body}");
    // Counted as the client's 4xx; an unreadable body names no provider or model.
    let labels = [
        ("provider", "none"),
        ("model", "none"),
        ("client_api", "openai"),
        ("outcome", "4xx"),
    ];
    let counted = metric(&gateway.envoy, "llm_requests_total", &labels, 1.0).await;
    let series = gateway.envoy.prometheus().await.expect("admin answers");
    let series: Vec<_> = series.with_prefix("llm_requests_total").collect();
    assert_eq!(counted, 1.0, "{series:?}");
    assert!(gateway.anthropic.requests().is_empty() && gateway.openai.requests().is_empty());
}

async fn a_crlf_in_a_tool_name_injects_no_header(flavour: Flavour) {
    let (backend, envoy) = mcp_gateway(flavour, SESSION_KEY).await;
    // 2026-07-28 requests mirror the tool name into `Mcp-Name`, which the gateway rewrites for
    // the backend (prefix removed): a name with CRLF must not become a header line.
    let name = "a_echo\r\nx-injected: 1";
    let sentinel = format!(
        "=?base64?{}?=",
        base64::engine::general_purpose::STANDARD.encode(name)
    );
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", sentinel.as_str()),
    ];
    let (status, response_headers, answer) = post(&envoy, &headers, call(1, name)).await;
    assert!(status == 200 || status == 400, "{status} {answer}");
    assert!(!response_headers.contains_key("x-injected"));
    for request in backend.requests() {
        assert_eq!(request.header("x-injected"), None, "{:?}", request.headers);
        if let Some(mcp_name) = request.header("mcp-name") {
            assert!(!mcp_name.contains(['\r', '\n']), "{mcp_name:?}");
        }
    }
    // Unlisted names never become metric tags either (a client cannot grow the stat set).
    let stats = envoy.prometheus().await.expect("admin answers");
    assert!(
        !format!("{stats:?}").contains("x-injected"),
        "a tag holds the injected text"
    );
}

async fn crlf_in_agent_card_fields_injects_no_header(flavour: Flavour) {
    let injected = "\r\nx-injected: 1";
    let mut card = support::v1_card();
    card["name"] = json!(format!("evil{injected}"));
    card["supportedInterfaces"][1]["url"] =
        json!(format!("{}/rest{injected}", support::AGENT_BASE));
    let agent = FakeUpstream::fixed(200, Some("application/json"), card.to_string())
        .await
        .expect("the agent starts");
    let envoy = support::gateway(flavour, agent.addr(), json!({})).await;
    let url = format!(
        "{}/a2a/demo/.well-known/agent-card.json",
        envoy.gateway_url()
    );
    let response = http().get(url).send().await.expect("the gateway answers");
    assert_eq!(response.status().as_u16(), 200);
    assert!(!response.headers().contains_key("x-injected"));
    let served: Value = response.json().await.expect("the card is JSON");
    // The fields stay data inside the (rewritten) card: the CRLF is escaped JSON text.
    assert_eq!(served["name"], card["name"]);
    let rest = served["supportedInterfaces"][1]["url"].as_str().unwrap();
    assert!(rest.ends_with(&format!("/rest{injected}")), "{rest}");
    assert_eq!(support::cards(&envoy, "rewritten", 1.0).await, 1.0);
}

async fn an_sse_event_without_end_is_skipped_not_buffered(flavour: Flavour) {
    let (_backend, envoy) = mcp_gateway(flavour, SESSION_KEY).await;
    let response = http()
        .post(format!("{}{MCP_ENDPOINT_PATH}", envoy.gateway_url()))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(call(1, "a_endless"))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status().as_u16(), 200);
    let body = response.bytes().await.expect("the stream ends");
    let text = String::from_utf8_lossy(&body);
    // The oversized event is dropped at the bound, the answer after it still arrives.
    assert!(
        body.len() < MAX_RESPONSE_BYTES,
        "{} bytes passed",
        body.len()
    );
    assert!(text.contains("\"after\""), "{text}");
    assert_eq!(post(&envoy, &[], call(2, "a_echo")).await.0, 200);
}

async fn jwt_alg_confusion_is_401(flavour: Flavour) {
    let key = TestKey::rsa("key-1").expect("an RSA test key");
    let upstream = FakeUpstream::start(|_| Reply::with(200, Some("text/plain"), "upstream ok"))
        .await
        .expect("the upstream starts");
    let config = json!({ "jwks": { "inline": { "keys": [key.jwk()] } } });
    let bootstrap = Bootstrap::new(Some(flavour))
        .filter("authz", config)
        .agent(AgentRoute::new("demo", upstream.addr()));
    let envoy = Envoy::start(&bootstrap)
        .await
        .expect("Envoy starts with the authz filter");
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let claims = json!({ "sub": "mallory", "exp": exp });
    let url = format!("{}/a2a/demo/", envoy.gateway_url());
    for token in [
        unsigned_token(&claims),
        key.forge_hs256_with_public_key(&claims),
    ] {
        let response = http().get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{token}");
    }
    let labels = [("outcome", "bad_algorithm")];
    assert_eq!(metric(&envoy, "authz_authn_total", &labels, 2.0).await, 2.0);
    assert!(upstream.requests().is_empty(), "nothing reached upstream");
    let genuine = http()
        .get(&url)
        .bearer_auth(key.sign(&claims))
        .send()
        .await
        .unwrap();
    assert_eq!(genuine.status().as_u16(), 200);
}

async fn a_client_chosen_destination_is_not_followed(flavour: Flavour) {
    let fixture = inference_common::Fixture::start(flavour, Pick::Nothing, |_| {}).await;
    let picked = fixture.addr(2);
    fixture.epp.set_pick(Pick::Both(picked.to_string()));
    // Outside the pool (where an attacker would send traffic) and a member the EPP did not pick.
    let outside = std::net::SocketAddr::new(inference_common::OUTSIDE, 8000).to_string();
    let member = fixture.addr(0).to_string();
    for forged in [outside.as_str(), member.as_str()] {
        let headers = [(DESTINATION, forged), ("x-envoy-original-dst-host", forged)];
        let reply =
            inference_common::chat(&fixture.gateway, &headers, inference_common::completion())
                .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.served_by, Some(picked.to_string()), "forged {forged}");
    }
    let forged =
        inference_common::metric(&fixture.gateway, "inference_forged_headers_total", &[], 2.0)
            .await;
    assert_eq!(forged, 2.0);
    assert_eq!(fixture.served_counts(), vec![0, 0, 2]);
}
