//! Field-level translation through the `llm` gateway, once per flavour, checked on both sides:
//! what the strict provider fake received (it refuses what the real API would) and what the
//! client got back — finish reasons (stop sequences, max tokens), reasoning, images, sampling;
//! a client reaching a provider of its own API (keys still swapped, count_tokens); the request
//! size limit.

mod support;

use ai_gateway_test_harness::Flavour;
use serde_json::{json, Value};

use support::llm::{
    LlmGateway, ANTHROPIC_KEY, CLAUDE_ON_ANTHROPIC, CLAUDE_ON_OPENAI, CLIENT_KEY, GPT_ON_ANTHROPIC,
    GPT_ON_OPENAI, OPENAI_KEY,
};

per_flavour_with_attrs!(
    openai_stop_and_length_come_back_from_anthropic,
    anthropic_stop_sequences_and_max_tokens_come_back_from_openai,
    openai_reasoning_effort_becomes_an_anthropic_thinking_budget,
    openai_images_become_anthropic_image_blocks,
    anthropic_images_become_openai_image_parts,
    sampling_parameters_reach_the_provider,
    same_api_requests_reach_their_provider_with_the_gateways_key,
    anthropic_count_tokens_reaches_anthropic,
    a_request_over_max_request_bytes_is_413_in_the_clients_format,
);

async fn post(gateway: &LlmGateway, path: &str, body: Value) -> Value {
    let response = gateway.post(path, body.to_string()).await;
    let status = response.status().as_u16();
    let text = response.text().await.expect("a complete body");
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).expect("a JSON answer")
}

fn hello_openai(extra: Value) -> Value {
    let mut body = json!({ "model": GPT_ON_ANTHROPIC,
        "messages": [{ "role": "user", "content": "hello there" }] });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

fn hello_anthropic(extra: Value) -> Value {
    let mut body = json!({ "model": CLAUDE_ON_OPENAI, "max_tokens": 100,
        "messages": [{ "role": "user", "content": "hello there" }] });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

async fn openai_stop_and_length_come_back_from_anthropic(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    let path = "/v1/chat/completions";
    let stopped = post(&gateway, path, hello_openai(json!({ "stop": ["there"] }))).await;
    assert_eq!(
        gateway.anthropic.last_body()["stop_sequences"],
        json!(["there"])
    );
    assert_eq!(stopped["choices"][0]["message"]["content"], "echo: hello ");
    assert_eq!(stopped["choices"][0]["finish_reason"], "stop");

    let cut = post(
        &gateway,
        path,
        hello_openai(json!({ "max_completion_tokens": 2 })),
    )
    .await;
    assert_eq!(gateway.anthropic.last_body()["max_tokens"], 2);
    assert_eq!(cut["choices"][0]["message"]["content"], "echo: hello");
    assert_eq!(cut["choices"][0]["finish_reason"], "length");
    // The older max_tokens spelling too.
    let cut = post(&gateway, path, hello_openai(json!({ "max_tokens": 2 }))).await;
    assert_eq!(cut["choices"][0]["finish_reason"], "length");
}

async fn anthropic_stop_sequences_and_max_tokens_come_back_from_openai(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    let stopped = post(
        &gateway,
        "/v1/messages",
        hello_anthropic(json!({ "stop_sequences": ["there"] })),
    )
    .await;
    assert_eq!(gateway.openai.last_body()["stop"], json!(["there"]));
    assert_eq!(stopped["content"][0]["text"], "echo: hello ");
    // Chat Completions says only "stop", whether a sequence or the end of the turn stopped it.
    let reason = stopped["stop_reason"].as_str().unwrap_or_default();
    assert!(["stop_sequence", "end_turn"].contains(&reason), "{stopped}");

    let cut = post(
        &gateway,
        "/v1/messages",
        hello_anthropic(json!({ "max_tokens": 2 })),
    )
    .await;
    let sent = gateway.openai.last_body();
    let sent_max = sent.get("max_completion_tokens").or(sent.get("max_tokens"));
    assert_eq!(sent_max, Some(&json!(2)), "{sent}");
    assert_eq!(cut["content"][0]["text"], "echo: hello");
    assert_eq!(cut["stop_reason"], "max_tokens");
}

async fn openai_reasoning_effort_becomes_an_anthropic_thinking_budget(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    let answer = post(
        &gateway,
        "/v1/chat/completions",
        hello_openai(json!({ "reasoning_effort": "medium", "max_completion_tokens": 4000 })),
    )
    .await;
    let sent = gateway.anthropic.last_body();
    let kind = sent["thinking"]["type"].as_str().unwrap_or_default();
    assert!(["enabled", "adaptive"].contains(&kind), "{sent}");
    // The fake answers a thinking block, then the text: the text is the message content.
    assert_eq!(
        answer["choices"][0]["message"]["content"], "echo: hello there",
        "{answer}"
    );
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
}

async fn openai_images_become_anthropic_image_blocks(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    let content = json!([
        { "type": "text", "text": "what is in these" },
        { "type": "image_url", "image_url": { "url": "https://example.com/cat.jpg" } },
        { "type": "image_url", "image_url": { "url": format!("data:image/png;base64,{png}"), "detail": "low" } },
    ]);
    let body =
        json!({ "model": GPT_ON_ANTHROPIC, "messages": [{ "role": "user", "content": content }] });
    let answer = post(&gateway, "/v1/chat/completions", body).await;
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "echo: what is in these"
    );
    let blocks = &gateway.anthropic.last_body()["messages"][0]["content"];
    assert_eq!(blocks[1]["type"], "image", "{blocks}");
    assert_eq!(
        blocks[1]["source"],
        json!({ "type": "url", "url": "https://example.com/cat.jpg" })
    );
    assert_eq!(
        blocks[2]["source"],
        json!({ "type": "base64", "media_type": "image/png", "data": png })
    );
}

async fn anthropic_images_become_openai_image_parts(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    let content = json!([
        { "type": "image", "source": { "type": "base64", "media_type": "image/png", "data": png } },
        { "type": "image", "source": { "type": "url", "url": "https://example.com/cat.jpg" } },
        { "type": "text", "text": "what is in these" },
    ]);
    let body = json!({ "model": CLAUDE_ON_OPENAI, "max_tokens": 100,
        "messages": [{ "role": "user", "content": content }] });
    let answer = post(&gateway, "/v1/messages", body).await;
    assert_eq!(answer["content"][0]["text"], "echo: what is in these");
    let parts = &gateway.openai.last_body()["messages"][0]["content"];
    let urls: Vec<&str> = parts
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["image_url"]["url"].as_str())
        .collect();
    assert_eq!(
        urls,
        [
            format!("data:image/png;base64,{png}").as_str(),
            "https://example.com/cat.jpg"
        ],
        "{parts}"
    );
}

async fn sampling_parameters_reach_the_provider(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    post(
        &gateway,
        "/v1/chat/completions",
        hello_openai(json!({ "temperature": 0.5, "top_p": 0.9 })),
    )
    .await;
    let sent = gateway.anthropic.last_body();
    assert_eq!(sent["temperature"], 0.5, "{sent}");
    assert_eq!(sent["top_p"], 0.9, "{sent}");

    post(
        &gateway,
        "/v1/messages",
        hello_anthropic(json!({ "temperature": 0.25, "top_p": 0.5 })),
    )
    .await;
    let sent = gateway.openai.last_body();
    assert_eq!(sent["temperature"], 0.25, "{sent}");
    assert_eq!(sent["top_p"], 0.5, "{sent}");
}

async fn same_api_requests_reach_their_provider_with_the_gateways_key(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    let mut body = hello_anthropic(json!({ "stream": true }));
    body["model"] = json!(CLAUDE_ON_ANTHROPIC);
    let response = gateway.post("/v1/messages", body.to_string()).await;
    assert_eq!(response.status(), 200);
    let sse = response.text().await.unwrap();
    assert!(sse.contains("event: message_stop"), "{sse}");
    assert!(sse.contains("echo: "), "{sse}");
    let sent = gateway
        .anthropic
        .requests()
        .pop()
        .expect("Anthropic was reached");
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some(ANTHROPIC_KEY));
    assert_eq!(gateway.anthropic.last_body()["model"], CLAUDE_ON_ANTHROPIC);

    let mut body = hello_openai(json!({}));
    body["model"] = json!(GPT_ON_OPENAI);
    let answer = post(&gateway, "/v1/chat/completions", body).await;
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "echo: hello there"
    );
    let sent = gateway.openai.requests().pop().expect("OpenAI was reached");
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    for request in gateway
        .anthropic
        .requests()
        .iter()
        .chain(&gateway.openai.requests())
    {
        for (name, value) in &request.headers {
            assert!(
                !value.contains(CLIENT_KEY),
                "client key forwarded in {name}"
            );
        }
    }
}

async fn anthropic_count_tokens_reaches_anthropic(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    let body = json!({ "model": CLAUDE_ON_ANTHROPIC,
        "messages": [{ "role": "user", "content": "one two three" }] });
    let answer = post(&gateway, "/v1/messages/count_tokens", body).await;
    assert_eq!(answer, json!({ "input_tokens": 3 }));
    let sent = gateway
        .anthropic
        .requests()
        .pop()
        .expect("Anthropic was reached");
    assert_eq!(sent.path, "/v1/messages/count_tokens");
}

async fn a_request_over_max_request_bytes_is_413_in_the_clients_format(flavour: Flavour) {
    let gateway = LlmGateway::start(flavour).await;
    // Over the default maxRequestBytes (1 MiB), as one user message.
    let big = "word ".repeat(300_000);
    let body =
        json!({ "model": GPT_ON_ANTHROPIC, "messages": [{ "role": "user", "content": big }] });
    let response = gateway.post("/v1/chat/completions", body.to_string()).await;
    assert_eq!(response.status(), 413);
    let error: Value = response.json().await.expect("a JSON error");
    assert!(error["error"]["message"].is_string(), "{error}");

    let body = json!({ "model": CLAUDE_ON_OPENAI, "max_tokens": 10,
        "messages": [{ "role": "user", "content": big }] });
    let response = gateway.post("/v1/messages", body.to_string()).await;
    assert_eq!(response.status(), 413);
    let error: Value = response.json().await.expect("a JSON error");
    assert_eq!(error["type"], "error", "{error}");
    assert!(error["error"]["type"].is_string(), "{error}");
    assert!(gateway.anthropic.requests().is_empty());
    assert!(gateway.openai.requests().is_empty());
}
