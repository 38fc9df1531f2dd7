//! The filter over FakeHost: routing, credentials, translation of bodies, streams and errors,
//! limits and metrics.

mod common;

use std::sync::Arc;

use ai_gateway_core::FilterFactory;
use common::{exchange, post, response, Message};
use serde_json::{json, Value};

const CONFIG: &str = r#"{
    "providers": {
        "claude": {"kind": "anthropic", "cluster": "anthropic_api", "host": "api.anthropic.com", "apiKey": "sk-ant-gw"},
        "gpt": {"kind": "openai", "cluster": "openai_api", "host": "api.openai.com", "apiKey": "sk-oa-gw"},
        "local": {"kind": "openai-compatible", "cluster": "vllm", "pathPrefix": "/serving/v1"},
        "claude-tool": {"kind": "anthropic", "cluster": "anthropic_api", "structuredOutput": "tool"},
        "aws": {"kind": "bedrock", "cluster": "bedrock", "region": "us-east-1",
                "accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
    },
    "models": {
        "fast": {"provider": "claude", "model": "claude-haiku-4-5"},
        "gpt-4o": {"provider": "gpt", "model": "gpt-4o-2024-08-06"},
        "llama": {"provider": "local", "model": "meta-llama/Llama-3.1-8B-Instruct"},
        "forced": {"provider": "claude-tool", "model": "claude-3-haiku"},
        "haiku-on-aws": {"provider": "aws", "model": "anthropic.claude-3-5-haiku-20241022-v1:0"}
    },
    "defaultProvider": "claude",
    "maxRequestBytes": 4096,
    "maxResponseBytes": 8192
}"#;

fn factory(config: &str) -> Arc<dyn FilterFactory> {
    ai_gateway_llm::factory(config).unwrap()
}

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello!"}]})
}

fn anthropic_message(text: &str) -> Value {
    json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
           "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": null,
           "usage": {"input_tokens": 12, "output_tokens": 3}})
}

fn openai_client(body: &Value) -> Message {
    post("/v1/chat/completions", body.to_string()).header("authorization", "Bearer sk-client")
}

fn anthropic_client(body: &Value) -> Message {
    post("/v1/messages", body.to_string())
        .header("x-api-key", "sk-ant-client")
        .header("anthropic-version", "2023-06-01")
}

#[test]
fn openai_client_reaches_anthropic_provider() {
    let f = factory(CONFIG);
    let ex = exchange(
        &f,
        openai_client(&chat("fast")),
        Some(response(
            200,
            "application/json",
            anthropic_message("Hi!").to_string(),
        )),
    );
    assert_eq!(ex.upstream_header(":path").as_deref(), Some("/v1/messages"));
    assert_eq!(
        ex.upstream_header(":authority").as_deref(),
        Some("api.anthropic.com")
    );
    assert_eq!(
        ex.upstream_header("x-api-key").as_deref(),
        Some("sk-ant-gw")
    );
    assert_eq!(
        ex.upstream_header("anthropic-version").as_deref(),
        Some("2023-06-01")
    );
    assert_eq!(
        ex.upstream_header("authorization"),
        None,
        "the client's key is stripped"
    );
    assert_eq!(
        ex.upstream_header("x-ai-gateway-llm-cluster").as_deref(),
        Some("anthropic_api")
    );
    assert_eq!(ex.host.route_cache_cleared, 1);
    assert_eq!(
        ex.upstream_json(),
        json!({"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "Hello!"}],
               "max_tokens": 4096, "system": "Be brief."})
    );
    assert_eq!(
        ex.upstream_header("content-length"),
        Some(ex.upstream_body.len().to_string())
    );
    assert_eq!(ex.client_status, Some(200));
    let body = ex.client_json();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["content"], "Hi!");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["total_tokens"], 15);
    assert_eq!(
        ex.client_header("content-length"),
        Some(ex.client_body.len().to_string())
    );
    assert_eq!(
        ex.counter("llm_requests_total", &["claude", "fast", "openai", "2xx"]),
        1
    );
    assert_eq!(
        ex.counter("llm_tokens_total", &["claude", "fast", "input"]),
        12
    );
    assert_eq!(
        ex.counter("llm_tokens_total", &["claude", "fast", "output"]),
        3
    );
    assert_eq!(
        metadata(&ex),
        [
            ("cached_tokens", "0"),
            ("input_tokens", "12"),
            ("model", "claude-haiku-4-5"),
            ("operation", "chat"),
            ("output_tokens", "3"),
            ("provider", "claude"),
            ("reasoning_tokens", "0"),
            ("request_model", "fast"),
            ("response_model", "claude-haiku-4-5"),
            ("total_tokens", "15")
        ]
    );
}

/// What the filter published under its metadata namespace, sorted by key.
fn metadata(ex: &common::Exchange) -> Vec<(&str, &str)> {
    ex.host
        .metadata_out
        .iter()
        .filter(|((ns, _), _)| ns == ai_gateway_llm::METADATA_NAMESPACE)
        .map(|((_, k), v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn anthropic_client_reaches_openai_provider_streaming_chunk_by_chunk() {
    let f = factory(CONFIG);
    let req = json!({"model": "gpt-4o", "max_tokens": 100, "stream": true,
                     "messages": [{"role": "user", "content": "Hello"}]});
    let stream = concat!(
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi there\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":2,\"total_tokens\":10}}\n\n",
        "data: [DONE]\n\n"
    );
    let upstream = Message::new(&[(":status", "200"), ("content-type", "text/event-stream")])
        .chunked(stream, 7);
    let ex = exchange(&f, anthropic_client(&req), Some(upstream));
    assert_eq!(
        ex.upstream_header(":path").as_deref(),
        Some("/v1/chat/completions")
    );
    assert_eq!(
        ex.upstream_header("authorization").as_deref(),
        Some("Bearer sk-oa-gw")
    );
    assert_eq!(ex.upstream_header("x-api-key"), None);
    assert_eq!(ex.upstream_header("anthropic-version"), None);
    assert_eq!(
        ex.upstream_json()["stream_options"],
        json!({"include_usage": true})
    );
    assert_eq!(ex.max_response_held, 0, "the stream is never held back");
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
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert!(
        text.contains(r#""usage":{"output_tokens":2,"input_tokens":8}"#),
        "{text}"
    );
    assert_eq!(ex.client_header("content-length"), None);
    assert_eq!(
        ex.counter("llm_requests_total", &["gpt", "gpt-4o", "anthropic", "2xx"]),
        1
    );
    assert_eq!(
        ex.histogram("llm_time_to_first_token_ms", &["gpt", "anthropic"]),
        [7]
    );
    assert_eq!(
        ex.histogram("llm_request_duration_ms", &["gpt", "anthropic"]),
        [7]
    );
}

#[test]
fn passthrough_streams_are_timed_but_untouched() {
    let f = factory(CONFIG);
    let mut req = chat("gpt-4o");
    req["stream"] = json!(true);
    // Asked for by the client: the usage chunk is its own (tests/accounting.rs: when not).
    req["stream_options"] = json!({"include_usage": true});
    let stream = "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":6}}\n\ndata: [DONE]\n\n";
    let upstream = Message::new(&[(":status", "200"), ("content-type", "text/event-stream")])
        .chunked(stream, 10);
    let ex = exchange(&f, openai_client(&req), Some(upstream));
    assert_eq!(ex.client_body, stream.as_bytes());
    assert_eq!(
        ex.histogram("llm_time_to_first_token_ms", &["gpt", "openai"]),
        [7]
    );
    assert_eq!(
        ex.counter("llm_tokens_total", &["gpt", "gpt-4o", "output"]),
        6
    );
    assert!(metadata(&ex).contains(&("total_tokens", "10")));
    let ex = exchange(
        &f,
        openai_client(&chat("gpt-4o")),
        Some(response(200, "application/json", "{}")),
    );
    assert!(ex
        .histogram("llm_time_to_first_token_ms", &["gpt", "openai"])
        .is_empty());
}

#[test]
fn same_api_requests_pass_through_with_only_model_credentials_and_path_changed() {
    let f = factory(CONFIG);
    let body = json!({"model": "llama", "messages": [{"role": "user", "content": "x"}], "seed": 7, "logit_bias": {"1": 2}});
    let ex = exchange(
        &f,
        openai_client(&body),
        Some(response(
            200,
            "application/json",
            r#"{"anything": "as is"}"#,
        )),
    );
    let mut expected = body.clone();
    expected["model"] = json!("meta-llama/Llama-3.1-8B-Instruct");
    assert_eq!(ex.upstream_json(), expected);
    assert_eq!(
        ex.upstream_header(":path").as_deref(),
        Some("/serving/v1/chat/completions")
    );
    assert_eq!(
        ex.upstream_header(":authority").as_deref(),
        Some("gw.example:10000")
    );
    assert_eq!(
        ex.upstream_header("authorization"),
        None,
        "no key configured, client key stripped"
    );
    assert_eq!(ex.client_body, br#"{"anything": "as is"}"#);

    let untouched = json!({"model": "claude-opus-4-1", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]});
    let raw = untouched.to_string();
    let ex = exchange(
        &f,
        anthropic_client(&untouched),
        Some(response(200, "application/json", "{}")),
    );
    assert_eq!(
        ex.upstream_body,
        raw.as_bytes(),
        "default provider, same model: bytes unchanged"
    );
    assert_eq!(
        ex.upstream_header("x-api-key").as_deref(),
        Some("sk-ant-gw")
    );
    assert_eq!(
        ex.counter(
            "llm_requests_total",
            &["claude", "other", "anthropic", "2xx"]
        ),
        1
    );
}

#[test]
fn client_keys_pass_through_when_configured_in_the_provider_header() {
    let f = factory(
        r#"{"providers": {"a": {"kind": "anthropic", "cluster": "c"}, "o": {"kind": "openai", "cluster": "d"}},
        "models": {"m": {"provider": "o", "model": "gpt"}}, "defaultProvider": "a", "passthroughClientKeys": true}"#,
    );
    let ex = exchange(&f, openai_client(&chat("claude-x")), None);
    assert_eq!(
        ex.upstream_header("x-api-key").as_deref(),
        Some("sk-client")
    );
    assert_eq!(ex.upstream_header("authorization"), None);
    let req =
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]});
    let ex = exchange(&f, anthropic_client(&req), None);
    assert_eq!(
        ex.upstream_header("authorization").as_deref(),
        Some("Bearer sk-ant-client")
    );
}

#[test]
fn bad_requests_get_errors_in_the_clients_format() {
    let f = factory(CONFIG);
    let oa = |body: &str| exchange(&f, post("/v1/chat/completions", body), None);
    let an = |body: &str| exchange(&f, post("/v1/messages", body), None);

    let ex = oa("{not json");
    assert_eq!(ex.client_status, Some(400));
    assert_eq!(ex.client_json()["error"]["type"], "invalid_request_error");
    assert!(ex.upstream_headers.is_none());
    let ex = an("{not json");
    assert_eq!(ex.client_status, Some(400));
    assert_eq!(ex.client_json()["type"], "error");
    assert_eq!(ex.client_json()["error"]["type"], "invalid_request_error");

    let ex = oa(
        &json!({"model": "fast", "messages": [{"role": "user", "content": "x"}], "logprobs": true})
            .to_string(),
    );
    assert_eq!(ex.client_status, Some(400));
    assert_eq!(ex.client_json()["error"]["param"], "logprobs");
    assert!(ex.client_json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("logprobs"));

    let ex = an(&json!({"model": "gpt-4o", "max_tokens": 5, "top_k": 3, "messages": [{"role": "user", "content": "x"}]}).to_string());
    assert_eq!(ex.client_status, Some(400));
    assert!(ex.client_json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("top_k"));

    let ex = oa(r#"{"messages": []}"#);
    assert_eq!(
        (
            ex.client_status,
            ex.client_json()["error"]["param"].as_str()
        ),
        (Some(400), Some("model"))
    );

    let image = json!({"model": "haiku-on-aws", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]});
    let ex = oa(&image.to_string());
    assert_eq!(ex.client_status, Some(400));
    assert_eq!(
        ex.client_json()["error"]["param"],
        "messages[0].content[0].source"
    );

    let ex = exchange(
        &f,
        Message::new(&[(":method", "GET"), (":path", "/v1/chat/completions")]),
        None,
    );
    assert_eq!(ex.client_status, Some(405));
}

#[test]
fn unknown_model_without_default_provider_is_404() {
    let f = factory(r#"{"providers": {"a": {"kind": "anthropic", "cluster": "c"}}}"#);
    let ex = exchange(&f, openai_client(&chat("nope")), None);
    assert_eq!(ex.client_status, Some(404));
    assert!(ex.client_json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nope"));
    assert_eq!(
        ex.counter("llm_requests_total", &["none", "other", "openai", "4xx"]),
        1
    );
}

#[test]
fn requests_over_the_limit_get_413() {
    let f = factory(CONFIG);
    let big = json!({"model": "fast", "messages": [{"role": "user", "content": "x".repeat(5000)}]})
        .to_string();
    let by_length = exchange(
        &f,
        openai_client(&json!({})).header("content-length", "5000"),
        None,
    );
    assert_eq!(by_length.client_status, Some(413));
    let body = big.as_bytes();
    let mut chunked =
        Message::new(&[(":method", "POST"), (":path", "/v1/messages")]).chunked(body, 1000);
    chunked
        .headers
        .push(("anthropic-version".into(), "2023-06-01".into()));
    let ex = exchange(&f, chunked, None);
    assert_eq!(ex.client_status, Some(413));
    assert_eq!(ex.client_json()["error"]["type"], "request_too_large");
    assert!(ex.upstream_headers.is_none());
}

#[test]
fn provider_errors_are_translated_and_keep_retry_after() {
    let f = factory(CONFIG);
    let cases = [
        (429, "rate_limit_error", 429, "rate_limit_exceeded"),
        (529, "overloaded_error", 503, "server_error"),
        (500, "api_error", 500, "server_error"),
    ];
    for (status, kind, want_status, want_kind) in cases {
        let body = json!({"type": "error", "error": {"type": kind, "message": "slow down"}});
        let upstream =
            response(status, "application/json", body.to_string()).header("retry-after", "17");
        let ex = exchange(&f, openai_client(&chat("fast")), Some(upstream));
        assert_eq!(ex.client_status, Some(want_status), "{kind}");
        assert_eq!(
            ex.client_header("retry-after").as_deref(),
            Some("17"),
            "{kind}"
        );
        assert_eq!(
            ex.client_json(),
            json!({"error": {"message": "slow down", "type": want_kind, "param": null, "code": null}})
        );
    }
    let body = json!({"error": {"message": "Rate limit reached", "type": "requests", "param": null, "code": "rate_limit_exceeded"}});
    let upstream = response(429, "application/json", body.to_string()).header("retry-after", "3");
    let req =
        json!({"model": "gpt-4o", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]});
    let ex = exchange(&f, anthropic_client(&req), Some(upstream));
    assert_eq!(ex.client_status, Some(429));
    assert_eq!(ex.client_header("retry-after").as_deref(), Some("3"));
    assert_eq!(
        ex.client_json(),
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limit reached"}})
    );
    assert_eq!(
        ex.counter("llm_requests_total", &["gpt", "gpt-4o", "anthropic", "4xx"]),
        1
    );
}

#[test]
fn a_stream_cut_mid_way_ends_with_an_error_event() {
    let f = factory(CONFIG);
    let mut req = chat("fast");
    req["stream"] = json!(true);
    let stream = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-haiku-4-5\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n"
    );
    let upstream = Message::new(&[(":status", "200"), ("content-type", "text/event-stream")])
        .chunked(stream, 50);
    let ex = exchange(&f, openai_client(&req), Some(upstream));
    let text = String::from_utf8(ex.client_body.clone()).unwrap();
    let last = text.trim_end().lines().last().unwrap();
    let error: Value = serde_json::from_str(last.strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(error["error"]["type"], "server_error", "{text}");
    assert!(!text.contains("[DONE]"));
    assert_eq!(
        ex.counter(
            "llm_requests_total",
            &["claude", "fast", "openai", "stream_error"]
        ),
        1
    );
}

#[test]
fn a_stream_reset_before_its_end_counts_as_a_stream_error() {
    let f = factory(CONFIG);
    let mut req = chat("fast");
    req["stream"] = json!(true);
    let upstream = Message::new(&[(":status", "200"), ("content-type", "text/event-stream")])
        .body("event: ping\ndata: {\"type\":\"ping\"}\n\n")
        .reset();
    let ex = exchange(&f, openai_client(&req), Some(upstream));
    assert_eq!(
        ex.counter(
            "llm_requests_total",
            &["claude", "fast", "openai", "stream_error"]
        ),
        1
    );
}

#[test]
fn structured_output_by_forced_tool_comes_back_as_content() {
    let f = factory(CONFIG);
    let req = json!({"model": "forced", "messages": [{"role": "user", "content": "Alice meets Bob Friday"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "event", "schema": {"type": "object"}}}});
    let answer = json!({"id": "msg_2", "type": "message", "role": "assistant", "model": "claude-3-haiku",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "event", "input": {"who": ["Alice", "Bob"]}}],
        "stop_reason": "tool_use", "stop_sequence": null, "usage": {"input_tokens": 1, "output_tokens": 1}});
    let ex = exchange(
        &f,
        openai_client(&req),
        Some(response(200, "application/json", answer.to_string())),
    );
    assert_eq!(
        ex.upstream_json()["tool_choice"],
        json!({"type": "tool", "name": "event"})
    );
    let body = ex.client_json();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        r#"{"who":["Alice","Bob"]}"#
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["choices"][0]["message"].get("tool_calls").is_none());
}

#[test]
fn responses_over_the_limit_get_502() {
    let f = factory(CONFIG);
    let big = anthropic_message(&"x".repeat(9000)).to_string();
    let upstream = Message::new(&[(":status", "200"), ("content-type", "application/json")])
        .chunked(big, 4000);
    let ex = exchange(&f, openai_client(&chat("fast")), Some(upstream));
    assert_eq!(ex.client_status, Some(502));
    assert!(ex.client_json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("8192"));
}

#[test]
fn a_provider_answer_that_cannot_be_translated_is_502() {
    let f = factory(CONFIG);
    let ex = exchange(
        &f,
        openai_client(&chat("fast")),
        Some(response(200, "application/json", "<html>")),
    );
    assert_eq!(ex.client_status, Some(502));
    assert_eq!(ex.client_json()["error"]["type"], "server_error");
}

#[test]
fn models_are_listed_from_config() {
    let f = factory(CONFIG);
    let ex = exchange(
        &f,
        Message::new(&[(":method", "GET"), (":path", "/v1/models")]),
        None,
    );
    assert_eq!(ex.client_status, Some(200));
    let ids: Vec<String> = ex.client_json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["fast", "forced", "gpt-4o", "haiku-on-aws", "llama"]);
    assert!(ex.counters("llm_requests_total").is_empty());
    let ex = exchange(
        &f,
        Message::new(&[
            (":method", "GET"),
            (":path", "/v1/models"),
            ("anthropic-version", "2023-06-01"),
        ]),
        None,
    );
    assert_eq!(ex.client_json()["has_more"], false);
}

#[test]
fn count_tokens_goes_only_to_anthropic_providers() {
    let f = factory(CONFIG);
    let req = json!({"model": "fast", "messages": [{"role": "user", "content": "x"}]});
    let ex = exchange(&f, post("/v1/messages/count_tokens", req.to_string()), None);
    assert_eq!(
        ex.upstream_header(":path").as_deref(),
        Some("/v1/messages/count_tokens")
    );
    assert_eq!(ex.upstream_json()["model"], "claude-haiku-4-5");
    let req = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]});
    let ex = exchange(&f, post("/v1/messages/count_tokens", req.to_string()), None);
    assert_eq!(ex.client_status, Some(404));
    assert_eq!(ex.client_json()["error"]["type"], "not_found_error");
}

#[test]
fn a_client_cannot_pick_the_cluster_and_other_paths_are_untouched() {
    let f = factory(CONFIG);
    let req = Message::new(&[
        (":method", "GET"),
        (":path", "/healthz"),
        ("x-ai-gateway-llm-cluster", "secret"),
    ]);
    let ex = exchange(&f, req, Some(response(200, "text/plain", "ok")));
    assert_eq!(ex.upstream_header("x-ai-gateway-llm-cluster"), None);
    assert_eq!(ex.host.route_cache_cleared, 1);
    assert_eq!(ex.client_body, b"ok");
    assert!(ex.counters("llm_requests_total").is_empty());
}

#[test]
fn passed_through_answers_have_their_usage_counted() {
    let f = factory(CONFIG);
    let answer = json!({"id": "chatcmpl-1", "object": "chat.completion", "choices": [],
        "usage": {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}});
    let ex = exchange(
        &f,
        openai_client(&chat("gpt-4o")),
        Some(response(200, "application/json", answer.to_string())),
    );
    assert_eq!(ex.client_body, answer.to_string().as_bytes());
    assert_eq!(
        ex.counter("llm_tokens_total", &["gpt", "gpt-4o", "input"]),
        9
    );
    assert_eq!(
        ex.counter("llm_tokens_total", &["gpt", "gpt-4o", "output"]),
        12
    );

    let req = json!({"model": "fast", "messages": [{"role": "user", "content": "x"}]});
    let ex = exchange(
        &f,
        post("/v1/messages/count_tokens", req.to_string()),
        Some(response(200, "application/json", r#"{"input_tokens": 14}"#)),
    );
    assert!(
        ex.counters("llm_tokens_total").is_empty(),
        "token counting is not usage"
    );
}
