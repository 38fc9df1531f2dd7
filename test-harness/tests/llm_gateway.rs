//! The `llm` gateway in front of strict provider fakes, once per flavour: the official `openai`
//! SDK reaches the Anthropic fake, the official `anthropic` SDK the OpenAI fake, and both the
//! Bedrock fake through it (clients/test_llm_gateway_*.py); bad input, upstream errors and
//! streams cut mid-way come back to each client in its own API's format.

mod support;

use std::time::Duration;

use ai_gateway_test_harness::{pytest, Answer, Flavour, LlmFake};
use serde_json::{json, Value};

use support::llm::{
    LlmGateway, ANTHROPIC_KEY, BEDROCK_ALIAS, CLAUDE_ON_OPENAI, CLIENT_KEY, COMPAT_ALIAS,
    COMPAT_PREFIX, GPT_ON_ANTHROPIC, OPENAI_KEY,
};

per_flavour_with_attrs!(
    openai_sdk_reaches_anthropic,
    anthropic_sdk_reaches_openai,
    both_sdks_reach_bedrock,
    invalid_json_is_400_in_the_clients_format,
    an_unsupported_feature_is_400_naming_it,
    upstream_429_keeps_retry_after_in_the_clients_format,
    upstream_500_is_translated,
    a_stream_reset_mid_way_does_not_hang,
    the_client_key_is_replaced_by_the_configured_one,
    events_split_across_body_chunks_are_translated,
    eventstream_messages_split_across_body_chunks_are_decoded,
    an_openai_compatible_server_is_reached_under_its_prefix_without_a_key,
    a_stream_cut_mid_way_ends_in_an_error_event,
);

async fn run_suite(gateway: &LlmGateway, file: &str) {
    let env = gateway.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = pytest(file, &env).await.unwrap();
    assert!(
        run.passed,
        "{file} through the gateway failed:\n{}\nEnvoy log:\n{}",
        run.output,
        gateway.envoy.log()
    );
}

async fn openai_sdk_reaches_anthropic(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    run_suite(&gateway, "test_llm_gateway_openai.py").await;
    // Nothing leaked to the wrong provider.
    assert!(gateway.openai.requests().is_empty());
    assert!(gateway.bedrock.requests().is_empty());
}

async fn anthropic_sdk_reaches_openai(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    run_suite(&gateway, "test_llm_gateway_anthropic.py").await;
    assert!(gateway.anthropic.requests().is_empty());
}

async fn both_sdks_reach_bedrock(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    run_suite(&gateway, "test_llm_gateway_bedrock.py").await;
    assert!(gateway.anthropic.requests().is_empty());
}

fn chat(model: &str, stream: bool) -> Value {
    json!({ "model": model, "stream": stream, "messages": [{ "role": "user", "content": "hi" }] })
}

fn messages(model: &str, stream: bool) -> Value {
    json!({ "model": model, "max_tokens": 50, "stream": stream,
            "messages": [{ "role": "user", "content": "hi" }] })
}

async fn json_of(response: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a complete body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

/// OpenAI's error shape: `{"error": {"message": "...", "type": "..."}}`.
fn assert_openai_error(body: &Value) {
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"]["type"].is_string(), "{body}");
}

/// Anthropic's error shape: `{"type": "error", "error": {"type": "...", "message": "..."}}`.
fn assert_anthropic_error(body: &Value, kind: &str) {
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

async fn invalid_json_is_400_in_the_clients_format(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    let (status, _, body) =
        json_of(gateway.post("/v1/chat/completions", "{\"model\": ").await).await;
    assert_eq!(status, 400, "{body}");
    assert_openai_error(&body);
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");

    let (status, _, body) = json_of(gateway.post("/v1/messages", "[1, 2").await).await;
    assert_eq!(status, 400, "{body}");
    assert_anthropic_error(&body, "invalid_request_error");
    // Refused at the gateway: no provider saw them.
    assert!(gateway.anthropic.requests().is_empty());
    assert!(gateway.openai.requests().is_empty());
}

async fn an_unsupported_feature_is_400_naming_it(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    // Anthropic has no token log-probabilities: an OpenAI client asking for them on a model
    // served by Anthropic must hear so, not get an answer without them.
    let mut body = chat(GPT_ON_ANTHROPIC, false);
    body["logprobs"] = json!(true);
    let (status, _, body) =
        json_of(gateway.post("/v1/chat/completions", body.to_string()).await).await;
    assert_eq!(status, 400, "{body}");
    assert_openai_error(&body);
    let named = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("logprobs")
        || body["error"]["param"] == "logprobs";
    assert!(named, "the error names the field: {body}");
    assert!(gateway.anthropic.requests().is_empty());
}

async fn upstream_429_keeps_retry_after_in_the_clients_format(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    gateway.anthropic.script(Answer::error(429).retry_after(7));
    let response = gateway
        .post(
            "/v1/chat/completions",
            chat(GPT_ON_ANTHROPIC, false).to_string(),
        )
        .await;
    let (status, headers, body) = json_of(response).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        headers.get("retry-after").map(|v| v.to_str().unwrap()),
        Some("7")
    );
    assert_openai_error(&body);

    gateway.openai.script(Answer::error(429).retry_after(11));
    let response = gateway
        .post(
            "/v1/messages",
            messages(CLAUDE_ON_OPENAI, false).to_string(),
        )
        .await;
    let (status, headers, body) = json_of(response).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        headers.get("retry-after").map(|v| v.to_str().unwrap()),
        Some("11")
    );
    assert_anthropic_error(&body, "rate_limit_error");
}

async fn upstream_500_is_translated(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    gateway.anthropic.script(Answer::error(500));
    let response = gateway
        .post(
            "/v1/chat/completions",
            chat(GPT_ON_ANTHROPIC, false).to_string(),
        )
        .await;
    let (status, _, body) = json_of(response).await;
    assert_eq!(status, 500, "{body}");
    assert_openai_error(&body);

    gateway.openai.script(Answer::error(500));
    let response = gateway
        .post(
            "/v1/messages",
            messages(CLAUDE_ON_OPENAI, false).to_string(),
        )
        .await;
    let (status, _, body) = json_of(response).await;
    assert_eq!(status, 500, "{body}");
    assert_anthropic_error(&body, "api_error");
}

/// The SSE `data:` payloads of `text`, with their `event:` names (empty when none).
fn sse_events(text: &str) -> Vec<(String, String)> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let field = |name: &str| {
                block
                    .lines()
                    .filter_map(|line| line.strip_prefix(name))
                    .map(|v| v.strip_prefix(' ').unwrap_or(v))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            (field("event:"), field("data:"))
        })
        .collect()
}

async fn a_stream_cut_mid_way_ends_in_an_error_event(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    let long = "a long answer that will never arrive whole at the client";

    gateway.anthropic.script(Answer::text(long).cut_after(5));
    let response = gateway
        .post(
            "/v1/chat/completions",
            chat(GPT_ON_ANTHROPIC, true).to_string(),
        )
        .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("the stream ends, not hangs");
    let events = sse_events(&text);
    let last_json = events
        .iter()
        .rev()
        .find_map(|(_, data)| serde_json::from_str::<Value>(data).ok())
        .unwrap_or_default();
    assert!(
        last_json["error"]["message"].is_string(),
        "OpenAI error event last:\n{text}\nEnvoy log:\n{}",
        gateway.envoy.log()
    );
    assert!(!text.contains("\"finish_reason\":\"stop\""), "{text}");

    gateway.openai.script(Answer::text(long).cut_after(5));
    let response = gateway
        .post("/v1/messages", messages(CLAUDE_ON_OPENAI, true).to_string())
        .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("the stream ends, not hangs");
    let events = sse_events(&text);
    let (name, data) = events.last().cloned().unwrap_or_default();
    assert_eq!(
        name,
        "error",
        "Anthropic error event last:\n{text}\nEnvoy log:\n{}",
        gateway.envoy.log()
    );
    let error: Value = serde_json::from_str(&data).expect("the error event is JSON");
    assert_eq!(error["type"], "error", "{error}");
    assert!(error["error"]["type"].is_string(), "{error}");
    assert!(
        !events.iter().any(|(name, _)| name == "message_stop"),
        "{text}"
    );

    // The official SDKs see those events as errors and raise.
    run_suite(&gateway, "test_llm_gateway_cut.py").await;
}

async fn a_stream_reset_mid_way_does_not_hang(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    let long = "a long answer that will never arrive whole at the client";
    gateway.anthropic.script(Answer::text(long).reset_after(5));
    let request = gateway.post(
        "/v1/chat/completions",
        chat(GPT_ON_ANTHROPIC, true).to_string(),
    );
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        let response = request.await;
        response.text().await
    })
    .await
    .expect("a reset upstream ends the client's stream promptly");
    // Either the connection is reset too, or the stream ends in an error event.
    if let Ok(text) = outcome {
        let last = sse_events(&text).last().cloned().unwrap_or_default().1;
        assert!(last.contains("\"error\""), "{text}");
    }
}

async fn the_client_key_is_replaced_by_the_configured_one(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    let (status, _, body) = json_of(
        gateway
            .post(
                "/v1/chat/completions",
                chat(GPT_ON_ANTHROPIC, false).to_string(),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = json_of(
        gateway
            .post(
                "/v1/messages",
                messages(CLAUDE_ON_OPENAI, false).to_string(),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let sent = |fake: &LlmFake| fake.requests().pop().expect("the provider was reached");
    let to_anthropic = sent(&gateway.anthropic);
    assert_eq!(to_anthropic.header("x-api-key"), Some(ANTHROPIC_KEY));
    assert!(to_anthropic.header("anthropic-version").is_some());
    let to_openai = sent(&gateway.openai);
    assert_eq!(
        to_openai.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    for request in [&to_anthropic, &to_openai] {
        for (name, value) in &request.headers {
            assert!(
                !value.contains(CLIENT_KEY),
                "client key forwarded in {name}"
            );
        }
    }
}

/// The text an OpenAI chunk stream carries, and its finish reasons.
fn openai_stream_text(sse: &str) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut finish = Vec::new();
    for (_, data) in sse_events(sse) {
        let Ok(chunk) = serde_json::from_str::<Value>(&data) else {
            continue;
        };
        let choice = &chunk["choices"][0];
        text.push_str(choice["delta"]["content"].as_str().unwrap_or_default());
        if let Some(reason) = choice["finish_reason"].as_str() {
            finish.push(reason.to_string());
        }
    }
    (text, finish)
}

/// The text an Anthropic event stream carries, and its event names.
fn anthropic_stream_text(sse: &str) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut names = Vec::new();
    for (name, data) in sse_events(sse) {
        let event: Value = serde_json::from_str(&data).unwrap_or_default();
        text.push_str(event["delta"]["text"].as_str().unwrap_or_default());
        names.push(name);
    }
    (text, names)
}

async fn events_split_across_body_chunks_are_translated(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    let answer = "split into pieces that cut every event in two";

    gateway
        .anthropic
        .script(Answer::text(answer).in_pieces_of(7));
    let response = gateway
        .post(
            "/v1/chat/completions",
            chat(GPT_ON_ANTHROPIC, true).to_string(),
        )
        .await;
    assert_eq!(response.status(), 200);
    let sse = response.text().await.unwrap();
    let (text, finish) = openai_stream_text(&sse);
    assert_eq!(text, answer, "{sse}");
    assert_eq!(finish, ["stop"], "{sse}");
    assert!(sse.trim_end().ends_with("data: [DONE]"), "{sse}");

    gateway.openai.script(Answer::text(answer).in_pieces_of(5));
    let response = gateway
        .post("/v1/messages", messages(CLAUDE_ON_OPENAI, true).to_string())
        .await;
    assert_eq!(response.status(), 200);
    let sse = response.text().await.unwrap();
    let (text, names) = anthropic_stream_text(&sse);
    assert_eq!(text, answer, "{sse}");
    assert_eq!(
        names.first().map(String::as_str),
        Some("message_start"),
        "{sse}"
    );
    assert_eq!(
        names.last().map(String::as_str),
        Some("message_stop"),
        "{sse}"
    );
}

async fn eventstream_messages_split_across_body_chunks_are_decoded(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    let answer = "split into pieces that cut every eventstream message";
    gateway.bedrock.script(Answer::text(answer).in_pieces_of(9));
    let response = gateway
        .post(
            "/v1/chat/completions",
            chat(BEDROCK_ALIAS, true).to_string(),
        )
        .await;
    assert_eq!(response.status(), 200);
    let sse = response.text().await.unwrap();
    let (text, finish) = openai_stream_text(&sse);
    assert_eq!(text, answer, "{sse}");
    assert_eq!(finish, ["stop"], "{sse}");
}

async fn an_openai_compatible_server_is_reached_under_its_prefix_without_a_key(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    let (status, _, body) = json_of(
        gateway
            .post("/v1/messages", messages(COMPAT_ALIAS, false).to_string())
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["content"][0]["text"], "echo: hi", "{body}");
    let sent = gateway
        .compat
        .requests()
        .pop()
        .expect("the server was reached");
    assert_eq!(sent.path, format!("{COMPAT_PREFIX}/v1/chat/completions"));
    assert_eq!(gateway.compat.last_body()["model"], "gpt-4o-mini");
    // No key configured: the client's key must not be passed on either.
    for (name, value) in &sent.headers {
        assert!(
            !value.contains(CLIENT_KEY),
            "client key forwarded in {name}"
        );
    }
}

/// Both flavours render the same `llm_*` lines for the same traffic (bucket and sum lines,
/// which hold timings, left out): the Wasm flavour's tag-extraction rules cover every tag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_flavours_render_the_same_metric_lines() {
    support::bounded(same_metric_lines_in_both_flavours()).await;
}

async fn same_metric_lines_in_both_flavours() {
    let mut rendered = Vec::new();
    for flavour in Flavour::ALL {
        let gateway = LlmGateway::start(flavour).await;
        gateway.anthropic.script(Answer::text("counted"));
        let response = gateway
            .post(
                "/v1/chat/completions",
                chat(GPT_ON_ANTHROPIC, false).to_string(),
            )
            .await;
        assert_eq!(response.status(), 200);
        let requests = [
            ("provider", "anthropic"),
            ("model", GPT_ON_ANTHROPIC),
            ("client_api", "openai"),
            ("outcome", "2xx"),
        ];
        let latency = [("provider", "anthropic"), ("client_api", "openai")];
        // Counters and histogram samples reach /stats a little after the request.
        support::metric(&gateway.envoy, "llm_requests_total", &requests, 1.0).await;
        support::metric(
            &gateway.envoy,
            "llm_request_duration_ms_count",
            &latency,
            1.0,
        )
        .await;
        let operation = [
            ("operation", "chat"),
            ("provider", "anthropic"),
            ("request_model", GPT_ON_ANTHROPIC),
            ("response_model", "claude-sonnet-4-5"),
            ("error_type", "none"),
        ];
        support::metric(
            &gateway.envoy,
            "gen_ai_client_operation_duration_ms_count",
            &operation,
            1.0,
        )
        .await;
        let text = gateway.envoy.admin_get("/stats/prometheus").await.unwrap();
        let ours = |l: &str| ["llm_", "gen_ai_"].iter().any(|p| l.starts_with(p));
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| ours(l) || l.strip_prefix("# TYPE ").is_some_and(ours))
            .filter(|l| !l.contains("_bucket{") && !l.contains("_sum{"))
            .map(str::to_string)
            .collect();
        lines.sort();
        rendered.push(lines);
    }
    assert!(
        rendered[0]
            .iter()
            .any(|l| l.starts_with("llm_requests_total{"))
            && rendered[0]
                .iter()
                .any(|l| l.starts_with("gen_ai_client_token_usage_count{")),
        "{:#?}",
        rendered[0]
    );
    assert_eq!(
        rendered[0], rendered[1],
        "dynmod (left) and wasm (right) differ"
    );
}
