//! The A2A filter against real Envoy, once per flavour (`dynmod::*` and `wasm::*`): the real
//! a2a-sdk client, card rewriting, per-method metrics, bad inputs, bounded cardinality and
//! unbuffered streaming.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use ai_gateway_test_harness::{
    jsonrpc, pytest, AgentRoute, Bootstrap, Envoy, FakeUpstream, Flavour, PythonServer,
    RecordedRequest, Reply,
};
use rand::Rng;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use support::{
    cards, config_with, expected_rewrite, gateway, get, metric, post, requests, v03_card, v1_card,
    DURATION_COUNT, REQUESTS_TOTAL,
};

per_flavour!(
    sdk_client_resolves_card_and_exchanges_messages,
    metrics_count_per_agent_method_and_outcome,
    card_that_is_not_json_passes_unchanged,
    card_over_the_limit_passes_unchanged,
    malformed_jsonrpc_is_forwarded_and_counted_as_unknown,
    invalid_config_is_refused_naming_the_field,
    random_method_names_do_not_grow_the_stats,
    signed_card_is_stripped_by_default,
    signed_card_kept_or_rejected_when_configured,
    v03_card_on_legacy_path_is_rewritten,
    extended_cards_are_rewritten,
    public_base_from_config_or_forwarded_headers,
    streaming_response_is_not_buffered,
);

async fn sdk_client_resolves_card_and_exchanges_messages(flavour: Flavour) {
    let agent = PythonServer::a2a_agent().await.unwrap();
    let envoy = gateway(flavour, agent.addr(), json!({})).await;
    let gateway_url = format!("{}/a2a/demo", envoy.gateway_url());
    let run = pytest("test_a2a_client.py", &[("GATEWAY_URL", &gateway_url)])
        .await
        .unwrap();
    assert!(
        run.passed,
        "a2a-sdk client suite failed:\n{}\nagent log:\n{}",
        run.output,
        agent.log()
    );

    // test_a2a_client.py sends one SendMessage and one SendStreamingMessage per binding
    // (JSON-RPC, HTTP+JSON), and fetches the card 7 times (2 raw, 1 resolver, 4 exchanges).
    assert_eq!(requests(&envoy, "SendMessage", "2xx", 2.0).await, 2.0);
    assert_eq!(
        requests(&envoy, "SendStreamingMessage", "2xx", 2.0).await,
        2.0
    );
    assert_eq!(requests(&envoy, "card", "2xx", 7.0).await, 7.0);
    assert_eq!(cards(&envoy, "rewritten", 7.0).await, 7.0);
}

/// A fake agent for scripted traffic: cards at the well-known paths, 500 under `/fail`,
/// JSON-RPC errors for GetTask (-32001), unknown methods (-32601) and unreadable bodies (-32700).
fn scripted_agent(request: &RecordedRequest) -> Reply {
    if request.path.ends_with("/fail") {
        return Reply::with(500, Some("text/plain"), "boom");
    }
    if request.method == "GET" && request.path.contains("/.well-known/") {
        return Reply::json(v1_card().to_string());
    }
    if request.path.ends_with("/message:send") {
        return Reply::json(json!({ "task": { "id": "t1" } }).to_string());
    }
    match jsonrpc::method_and_id(request) {
        Some((method, _)) if method == "GetTask" => jsonrpc::error(request, -32001, "no such task"),
        Some((method, _)) if method == "SendMessage" || method == "message/send" => {
            jsonrpc::result(request, json!({ "task": { "id": "t1" } }))
        }
        Some(_) => jsonrpc::error(request, -32601, "method not found"),
        None => jsonrpc::error(request, -32700, "parse error"),
    }
}

/// The scripted traffic and the `a2a_requests_total{agent="demo"}` series it must produce.
const SCRIPTED: &[(&str, &str, f64)] = &[
    ("SendMessage", "2xx", 5.0),
    ("message/send", "2xx", 2.0),
    ("GetTask", "jsonrpc_-32001", 1.0),
    ("other", "jsonrpc_-32601", 1.0),
    ("unknown", "jsonrpc_-32700", 1.0),
    ("SendMessage", "5xx", 1.0),
    ("card", "2xx", 1.0),
];

async fn send_scripted_traffic(envoy: &Envoy) {
    let http = support::http();
    let send = |id| jsonrpc::request(id, "SendMessage", json!({ "message": {} }));
    for id in 0..3 {
        assert_eq!(post(&http, envoy, "/", send(id)).await.0, 200);
    }
    for path in ["/rest/message:send", "/rest/message:send"] {
        assert_eq!(
            post(&http, envoy, path, json!({ "message": {} }).to_string())
                .await
                .0,
            200
        );
    }
    for id in 10..12 {
        let body = jsonrpc::request(id, "message/send", json!({}));
        assert_eq!(post(&http, envoy, "/", body).await.0, 200);
    }
    post(
        &http,
        envoy,
        "/",
        jsonrpc::request(20, "GetTask", json!({ "id": "x" })),
    )
    .await;
    post(
        &http,
        envoy,
        "/",
        jsonrpc::request(21, "NoSuchMethod", json!({})),
    )
    .await;
    post(
        &http,
        envoy,
        "/",
        "{\"jsonrpc\": \"2.0\", \"meth".to_string(),
    )
    .await;
    assert_eq!(post(&http, envoy, "/fail", send(30)).await.0, 500);
    assert_eq!(get(envoy, "/.well-known/agent-card.json").await.0, 200);
}

async fn metrics_count_per_agent_method_and_outcome(flavour: Flavour) {
    let upstream = FakeUpstream::start(scripted_agent).await.unwrap();
    let envoy = gateway(flavour, upstream.addr(), json!({})).await;
    send_scripted_traffic(&envoy).await;

    for &(method, outcome, want) in SCRIPTED {
        assert_eq!(
            requests(&envoy, method, outcome, want).await,
            want,
            "{method} {outcome}"
        );
    }
    let latency = |method| [("agent", "demo"), ("method", method)];
    assert_eq!(
        metric(&envoy, DURATION_COUNT, &latency("SendMessage"), 6.0).await,
        6.0
    );
    assert_eq!(
        metric(&envoy, DURATION_COUNT, &latency("card"), 1.0).await,
        1.0
    );
    let total: f64 = envoy
        .prometheus()
        .await
        .unwrap()
        .samples
        .iter()
        .filter(|s| s.name == REQUESTS_TOTAL)
        .map(|s| s.value)
        .sum();
    assert_eq!(total, 12.0, "no series beyond the scripted ones");
    assert_eq!(cards(&envoy, "rewritten", 1.0).await, 1.0);
}

/// Both flavours render the same `envoy_a2a_*` lines for the same traffic (histogram buckets
/// and sums, which hold timings, left out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_flavours_render_the_same_metric_lines() {
    support::bounded(same_metric_lines_in_both_flavours()).await;
}

async fn same_metric_lines_in_both_flavours() {
    let mut rendered = Vec::new();
    for flavour in Flavour::ALL {
        let upstream = FakeUpstream::start(scripted_agent).await.unwrap();
        let envoy = gateway(flavour, upstream.addr(), json!({})).await;
        send_scripted_traffic(&envoy).await;
        let card_latency = [("agent", "demo"), ("method", "card")];
        metric(&envoy, DURATION_COUNT, &card_latency, 1.0).await;
        let text = envoy.admin_get("/stats/prometheus").await.unwrap();
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("a2a_") || l.starts_with("# TYPE a2a_"))
            .filter(|l| !l.contains("_bucket{") && !l.contains("_sum{"))
            .map(str::to_string)
            .collect();
        lines.sort();
        rendered.push(lines);
    }
    assert!(rendered[0].len() > SCRIPTED.len(), "{:#?}", rendered[0]);
    assert_eq!(
        rendered[0], rendered[1],
        "dynmod (left) and wasm (right) differ"
    );
}

async fn card_that_is_not_json_passes_unchanged(flavour: Flavour) {
    let body = "this is {not json at all";
    let upstream = FakeUpstream::fixed(200, Some("application/json"), body)
        .await
        .unwrap();
    let envoy = gateway(flavour, upstream.addr(), json!({})).await;

    let (status, got) = get(&envoy, "/.well-known/agent-card.json").await;
    assert_eq!(status, 200);
    assert_eq!(&got[..], body.as_bytes());
    assert_eq!(requests(&envoy, "card", "2xx", 1.0).await, 1.0);
    assert_eq!(cards(&envoy, "not_json", 1.0).await, 1.0);
    assert_eq!(cards(&envoy, "rewritten", 0.0).await, 0.0);
}

async fn card_over_the_limit_passes_unchanged(flavour: Flavour) {
    let mut card = v1_card();
    card["description"] = Value::String("x".repeat(4096));
    let body = card.to_string();
    let upstream = FakeUpstream::fixed(200, Some("application/json"), body.clone())
        .await
        .unwrap();
    let envoy = gateway(flavour, upstream.addr(), json!({ "maxCardBytes": 1024 })).await;

    let (status, got) = get(&envoy, "/.well-known/agent-card.json").await;
    assert_eq!(status, 200);
    assert_eq!(
        &got[..],
        body.as_bytes(),
        "an oversized card is forwarded byte for byte"
    );
    assert_eq!(cards(&envoy, "too_large", 1.0).await, 1.0);
    assert_eq!(cards(&envoy, "rewritten", 0.0).await, 0.0);
}

async fn malformed_jsonrpc_is_forwarded_and_counted_as_unknown(flavour: Flavour) {
    let upstream = FakeUpstream::start(scripted_agent).await.unwrap();
    let envoy = gateway(flavour, upstream.addr(), json!({})).await;
    let http = support::http();
    let bodies = [
        "{\"jsonrpc\": \"2.0\", \"method\": ".to_string(),
        "hello".to_string(),
        json!([{ "jsonrpc": "2.0", "id": 1, "method": "SendMessage" }]).to_string(),
    ];
    for body in &bodies {
        let (status, answer) = post(&http, &envoy, "/", body.clone()).await;
        assert_eq!(status, 200);
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(
            answer["error"]["code"], -32700,
            "the agent's own error comes back"
        );
    }
    let forwarded: Vec<String> = upstream
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(forwarded, bodies, "the agent received each body unchanged");
    assert_eq!(
        requests(&envoy, "unknown", "jsonrpc_-32700", 3.0).await,
        3.0
    );
}

async fn invalid_config_is_refused_naming_the_field(flavour: Flavour) {
    let demo = AgentRoute::new("demo", "127.0.0.1:9".parse().unwrap());
    let agents = std::slice::from_ref(&demo);
    let cases = [
        (
            config_with(agents, json!({ "signedCards": "sometimes" })),
            "signedCards",
        ),
        (
            config_with(agents, json!({ "maxCardByte": 1024 })),
            "maxCardByte",
        ),
        (json!({ "publicBaseUrl": "http://gw" }), "agents"),
    ];
    for (config, field) in cases {
        let bootstrap = Bootstrap::new(Some(flavour))
            .filter("a2a", config.clone())
            .agent(demo.clone());
        let output = Envoy::expect_refusal(&bootstrap).await.unwrap();
        assert!(
            output.contains("invalid filter config") && output.contains(field),
            "Envoy's output for {config} does not name `{field}`:\n{output}"
        );
    }
}

async fn random_method_names_do_not_grow_the_stats(flavour: Flavour) {
    const WARM_UP: usize = 200;
    const TOTAL: usize = 10_000;
    const CONCURRENCY: usize = 8;
    let upstream = FakeUpstream::start(|r| jsonrpc::error(r, -32601, "method not found"))
        .await
        .unwrap();
    let envoy = gateway(flavour, upstream.addr(), json!({})).await;
    let url = format!("{}/a2a/demo/", envoy.gateway_url());
    let http = support::http();

    let send_random = |count: usize| {
        assert_eq!(count % CONCURRENCY, 0, "every task sends the same number");
        let per_task = count / CONCURRENCY;
        let tasks: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                let (http, url) = (http.clone(), url.clone());
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        let name = format!("m{:016x}", rand::rng().random::<u64>());
                        let body = jsonrpc::request(1, &name, json!({}));
                        let response = http.post(&url).body(body).send().await.unwrap();
                        assert_eq!(response.status(), 200);
                        response.bytes().await.unwrap();
                    }
                })
            })
            .collect();
        async move {
            for task in tasks {
                task.await.unwrap();
            }
        }
    };

    send_random(WARM_UP).await;
    let warm = requests(&envoy, "other", "jsonrpc_-32601", WARM_UP as f64).await;
    assert_eq!(warm, WARM_UP as f64);
    let stats_after_warm_up = envoy.stat_count().await.unwrap();

    send_random(TOTAL - WARM_UP).await;
    let all = requests(&envoy, "other", "jsonrpc_-32601", TOTAL as f64).await;
    assert_eq!(all, TOTAL as f64);
    assert_eq!(
        envoy.stat_count().await.unwrap(),
        stats_after_warm_up,
        "random method names created stats"
    );
}

fn signed(mut card: Value) -> Value {
    card["signatures"] = json!([{ "protected": "eyJhbGciOiJFUzI1NiJ9", "signature": "c2ln" }]);
    card
}

async fn signed_card_is_stripped_by_default(flavour: Flavour) {
    let upstream =
        FakeUpstream::fixed(200, Some("application/json"), signed(v1_card()).to_string())
            .await
            .unwrap();
    let envoy = gateway(flavour, upstream.addr(), json!({})).await;

    let (status, body) = get(&envoy, "/.well-known/agent-card.json").await;
    assert_eq!(status, 200);
    let card: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(card, expected_rewrite(v1_card(), &envoy.gateway_url()));
    assert_eq!(cards(&envoy, "signature_stripped", 1.0).await, 1.0);
}

async fn signed_card_kept_or_rejected_when_configured(flavour: Flavour) {
    let upstream =
        FakeUpstream::fixed(200, Some("application/json"), signed(v1_card()).to_string())
            .await
            .unwrap();

    let keep = gateway(flavour, upstream.addr(), json!({ "signedCards": "keep" })).await;
    let (status, body) = get(&keep, "/.well-known/agent-card.json").await;
    assert_eq!(status, 200);
    let card: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        card,
        expected_rewrite(signed(v1_card()), &keep.gateway_url())
    );
    assert_eq!(cards(&keep, "signed_kept", 1.0).await, 1.0);

    let reject = gateway(flavour, upstream.addr(), json!({ "signedCards": "reject" })).await;
    let (status, body) = get(&reject, "/.well-known/agent-card.json").await;
    assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));
    assert!(
        !String::from_utf8_lossy(&body).contains("agent.internal"),
        "no agent URL leaks"
    );
    assert_eq!(cards(&reject, "signed_rejected", 1.0).await, 1.0);
}

async fn v03_card_on_legacy_path_is_rewritten(flavour: Flavour) {
    let upstream = FakeUpstream::fixed(200, Some("application/json"), v03_card().to_string())
        .await
        .unwrap();
    let envoy = gateway(flavour, upstream.addr(), json!({})).await;

    let (status, body) = get(&envoy, "/.well-known/agent.json").await;
    assert_eq!(status, 200);
    let card: Value = serde_json::from_slice(&body).unwrap();
    let want = expected_rewrite(v03_card(), &envoy.gateway_url());
    assert_eq!(card["url"], format!("{}/a2a/demo/", envoy.gateway_url()));
    assert_eq!(
        card, want,
        "interfaces rewritten, everything else unchanged"
    );
    assert_eq!(upstream.requests()[0].path, "/.well-known/agent.json");
    assert_eq!(cards(&envoy, "rewritten", 1.0).await, 1.0);
}

async fn extended_cards_are_rewritten(flavour: Flavour) {
    let upstream = FakeUpstream::start(|request| {
        if request.method == "GET" {
            return Reply::json(v1_card().to_string());
        }
        jsonrpc::result(request, v1_card())
    })
    .await
    .unwrap();
    let envoy = gateway(flavour, upstream.addr(), json!({})).await;
    let want = expected_rewrite(v1_card(), &envoy.gateway_url());
    let http = support::http();

    for (id, method) in [
        (1, "GetExtendedAgentCard"),
        (2, "agent/getAuthenticatedExtendedCard"),
    ] {
        let (status, body) =
            post(&http, &envoy, "/", jsonrpc::request(id, method, json!({}))).await;
        assert_eq!(status, 200);
        let answer: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer["id"], id);
        assert_eq!(answer["result"], want, "{method}");
    }
    for path in [
        "/rest/extendedAgentCard",
        "/v1/card",
        "/agent/authenticatedExtendedCard",
    ] {
        let (status, body) = get(&envoy, path).await;
        assert_eq!(status, 200);
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            want,
            "{path}"
        );
    }
    assert_eq!(cards(&envoy, "rewritten", 5.0).await, 5.0);
}

async fn public_base_from_config_or_forwarded_headers(flavour: Flavour) {
    let upstream = FakeUpstream::fixed(200, Some("application/json"), v1_card().to_string())
        .await
        .unwrap();
    let interface_url = |body: &[u8]| -> String {
        let card: Value = serde_json::from_slice(body).unwrap();
        card["supportedInterfaces"][0]["url"]
            .as_str()
            .unwrap()
            .to_string()
    };

    let configured = json!({ "publicBaseUrl": "https://gateway.example.com" });
    let envoy = gateway(flavour, upstream.addr(), configured).await;
    let (_, body) = get(&envoy, "/.well-known/agent-card.json").await;
    assert_eq!(
        interface_url(&body),
        "https://gateway.example.com/a2a/demo/"
    );

    let envoy = gateway(flavour, upstream.addr(), json!({})).await;
    let response = support::http()
        .get(format!(
            "{}/a2a/demo/.well-known/agent-card.json",
            envoy.gateway_url()
        ))
        .header("host", "gw.example:8443")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let body = response.bytes().await.unwrap();
    assert_eq!(interface_url(&body), "https://gw.example:8443/a2a/demo/");
}

fn sse_event(id: u64, state: &str) -> bytes::Bytes {
    let result = json!({ "statusUpdate": { "taskId": "t1", "status": { "state": state } } });
    let data = json!({ "jsonrpc": "2.0", "id": id, "result": result });
    bytes::Bytes::from(format!("data: {data}\n\n"))
}

async fn streaming_response_is_not_buffered(flavour: Flavour) {
    let (events, chunks) = mpsc::channel(4);
    let chunks = Mutex::new(Some(chunks));
    let upstream = FakeUpstream::start(move |_| match chunks.lock().unwrap().take() {
        Some(chunks) => Reply::Streamed {
            status: 200,
            content_type: "text/event-stream".to_string(),
            chunks,
        },
        None => Reply::with(500, None, "one stream only"),
    })
    .await
    .unwrap();
    let envoy = gateway(flavour, upstream.addr(), json!({})).await;

    let first = sse_event(7, "TASK_STATE_WORKING");
    let last = sse_event(7, "TASK_STATE_COMPLETED");
    events.send(first.clone()).await.unwrap();
    let body = jsonrpc::request(7, "SendStreamingMessage", json!({ "message": {} }));
    let mut response = support::http()
        .post(format!("{}/a2a/demo/", envoy.gateway_url()))
        .header("accept", "text/event-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // The last event is not sent until the client holds the first: a buffering gateway
    // would leave the client waiting here.
    let mut received = Vec::new();
    while received.len() < first.len() {
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("the first event arrives while the stream is still open")
            .unwrap()
            .expect("the stream is still open");
        received.extend_from_slice(&chunk);
    }
    assert_eq!(received, first.to_vec());

    events.send(last.clone()).await.unwrap();
    drop(events);
    while let Some(chunk) = response.chunk().await.unwrap() {
        received.extend_from_slice(&chunk);
    }
    assert_eq!(received, [first, last].concat());
    assert_eq!(
        requests(&envoy, "SendStreamingMessage", "2xx", 1.0).await,
        1.0
    );
}
