//! Bedrock through the filter: either client API reaches Converse / ConverseStream, signed
//! with SigV4; eventstream answers become the client's stream.

mod common;

use std::sync::Arc;

use ai_gateway_core::FilterFactory;
use ai_gateway_llm::bedrock::eventstream::encode;
use common::{exchange, post, response, Message};
use serde_json::{json, Value};

const CONFIG: &str = r#"{
    "providers": {
        "aws": {"kind": "bedrock", "cluster": "bedrock_rt", "region": "us-east-1",
                "accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
    },
    "models": {"haiku": {"provider": "aws", "model": "anthropic.claude-3-5-haiku-20241022-v1:0"}},
    "defaultMaxTokens": 512
}"#;

fn factory() -> Arc<dyn FilterFactory> {
    ai_gateway_llm::factory(CONFIG).unwrap()
}

fn event(kind: &str, payload: Value) -> Vec<u8> {
    encode(
        &[
            (":event-type", kind),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// A ConverseStream answer: text, then a tool call, then stop and metadata.
fn converse_stream() -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(event(
        "messageStart",
        json!({"role": "assistant", "p": "abc"}),
    ));
    out.extend(event(
        "contentBlockDelta",
        json!({"contentBlockIndex": 0, "delta": {"text": "Let me "}}),
    ));
    out.extend(event(
        "contentBlockDelta",
        json!({"contentBlockIndex": 0, "delta": {"text": "check."}}),
    ));
    out.extend(event("contentBlockStop", json!({"contentBlockIndex": 0})));
    out.extend(event("contentBlockStart", json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather"}}})));
    out.extend(event(
        "contentBlockDelta",
        json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"city\":"}}}),
    ));
    out.extend(event(
        "contentBlockDelta",
        json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "\"Paris\"}"}}}),
    ));
    out.extend(event("contentBlockStop", json!({"contentBlockIndex": 1})));
    out.extend(event("messageStop", json!({"stopReason": "tool_use"})));
    out.extend(event("metadata", json!({"usage": {"inputTokens": 30, "outputTokens": 12, "totalTokens": 42}, "metrics": {"latencyMs": 100}})));
    out
}

fn eventstream_response(body: &[u8]) -> Message {
    Message::new(&[
        (":status", "200"),
        ("content-type", "application/vnd.amazon.eventstream"),
        ("x-amzn-requestid", "req-1"),
    ])
    .chunked(body, 5)
}

#[test]
fn openai_client_reaches_converse_signed() {
    let req = json!({"model": "haiku", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "temperature": 0.5});
    let answer = json!({"output": {"message": {"role": "assistant", "content": [{"text": "Hello!"}]}},
        "stopReason": "end_turn", "usage": {"inputTokens": 9, "outputTokens": 2, "totalTokens": 11}, "metrics": {"latencyMs": 5}});
    let upstream =
        response(200, "application/json", answer.to_string()).header("x-amzn-requestid", "req-9");
    let ex = exchange(
        &factory(),
        post("/v1/chat/completions", req.to_string()).header("authorization", "Bearer sk-client"),
        Some(upstream),
    );
    assert_eq!(
        ex.upstream_header(":path").as_deref(),
        Some("/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse")
    );
    assert_eq!(
        ex.upstream_header(":authority").as_deref(),
        Some("bedrock-runtime.us-east-1.amazonaws.com")
    );
    assert_eq!(
        ex.upstream_header("x-ai-gateway-llm-cluster").as_deref(),
        Some("bedrock_rt")
    );
    assert_eq!(
        ex.upstream_header("x-amz-date").as_deref(),
        Some("20231114T221320Z")
    );
    let auth = ex.upstream_header("authorization").unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature="),
        "{auth}"
    );
    assert_eq!(
        ex.upstream_json(),
        json!({"messages": [{"role": "user", "content": [{"text": "Hi"}]}], "system": [{"text": "Be brief."}],
               "inferenceConfig": {"maxTokens": 512, "temperature": 0.5}})
    );
    let body = ex.client_json();
    assert_eq!(body["id"], "msg_bdrk_req-9");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello!");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11})
    );
    assert_eq!(
        ex.counter("llm_requests_total", &["aws", "haiku", "openai", "2xx"]),
        1
    );
}

#[test]
fn openai_client_streams_from_converse_stream() {
    let req = json!({"model": "haiku", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "Weather in Paris?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]});
    let ex = exchange(
        &factory(),
        post("/v1/chat/completions", req.to_string()),
        Some(eventstream_response(&converse_stream())),
    );
    assert_eq!(
        ex.upstream_header(":path").as_deref(),
        Some("/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream")
    );
    assert_eq!(
        ex.upstream_json()["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]})
    );
    assert_eq!(
        ex.client_header("content-type").as_deref(),
        Some("text/event-stream")
    );
    let text = String::from_utf8(ex.client_body.clone()).unwrap();
    let chunks: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "Let me check.");
    let args: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(args, r#"{"city":"Paris"}"#);
    assert_eq!(
        chunks
            .iter()
            .filter_map(|c| c["choices"][0]["finish_reason"].as_str())
            .collect::<Vec<_>>(),
        ["tool_calls"]
    );
    assert_eq!(
        chunks.last().unwrap()["usage"],
        json!({"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42})
    );
    assert!(text.ends_with("data: [DONE]\n\n"));
    assert_eq!(ex.max_response_held, 0);
    assert_eq!(
        ex.counter("llm_tokens_total", &["aws", "haiku", "input"]),
        30
    );
    // The metadata event's figures reach the gen_ai metrics and the request attributes.
    let model = "anthropic.claude-3-5-haiku-20241022-v1:0";
    assert_eq!(
        ex.histogram(
            "gen_ai_client_token_usage",
            &["chat", "aws", "haiku", model, "output"]
        ),
        [12]
    );
    let total = ex.host.metadata_out.get(&(
        ai_gateway_llm::METADATA_NAMESPACE.to_string(),
        "total_tokens".to_string(),
    ));
    assert_eq!(total.map(String::as_str), Some("42"));
}

#[test]
fn anthropic_client_streams_from_converse_stream() {
    let req = json!({"model": "haiku", "max_tokens": 100, "stream": true, "messages": [{"role": "user", "content": "Weather?"}]});
    let ex = exchange(
        &factory(),
        post("/v1/messages", req.to_string()).header("anthropic-version", "2023-06-01"),
        Some(eventstream_response(&converse_stream())),
    );
    assert_eq!(ex.upstream_header("anthropic-version"), None);
    assert_eq!(
        ex.upstream_json()["inferenceConfig"],
        json!({"maxTokens": 100})
    );
    let text = String::from_utf8(ex.client_body.clone()).unwrap();
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert!(text.contains(r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":12,"input_tokens":30}}"#), "{text}");
    assert!(text.contains(r#""content_block":{"type":"tool_use","id":"tooluse_1","name":"get_weather","input":{}}"#), "{text}");
}

#[test]
fn a_converse_stream_exception_or_cut_ends_with_an_error_event() {
    let req = json!({"model": "haiku", "max_tokens": 100, "stream": true, "messages": [{"role": "user", "content": "x"}]});
    let mut stream = event("messageStart", json!({"role": "assistant"}));
    stream.extend(encode(
        &[
            (":exception-type", "throttlingException"),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        br#"{"message":"Too many tokens, please wait before trying again."}"#,
    ));
    let ex = exchange(
        &factory(),
        post("/v1/messages", req.to_string()),
        Some(eventstream_response(&stream)),
    );
    let text = String::from_utf8(ex.client_body.clone()).unwrap();
    assert!(
        text.ends_with("\n\n") && text.contains("event: error\n"),
        "{text}"
    );
    assert!(text.contains(r#""type":"rate_limit_error""#), "{text}");

    let cut = converse_stream()[..200].to_vec();
    let ex = exchange(&factory(), post("/v1/chat/completions", json!({"model": "haiku", "stream": true, "messages": [{"role": "user", "content": "x"}]}).to_string()), Some(eventstream_response(&cut)));
    let text = String::from_utf8(ex.client_body.clone()).unwrap();
    assert!(
        text.trim_end()
            .lines()
            .last()
            .unwrap()
            .contains(r#""error""#),
        "{text}"
    );
    assert_eq!(
        ex.counter(
            "llm_requests_total",
            &["aws", "haiku", "openai", "stream_error"]
        ),
        1
    );
}

#[test]
fn bedrock_errors_are_translated_with_retry_after() {
    let upstream = response(
        429,
        "application/json",
        r#"{"message":"Too many requests, please wait before trying again."}"#,
    )
    .header(
        "x-amzn-errortype",
        "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
    )
    .header("retry-after", "4");
    let ex = exchange(
        &factory(),
        post(
            "/v1/chat/completions",
            json!({"model": "haiku", "messages": [{"role": "user", "content": "x"}]}).to_string(),
        ),
        Some(upstream),
    );
    assert_eq!(ex.client_status, Some(429));
    assert_eq!(ex.client_header("retry-after").as_deref(), Some("4"));
    assert_eq!(
        ex.client_json()["error"]["message"],
        "Too many requests, please wait before trying again."
    );
}
