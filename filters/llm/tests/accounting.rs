//! Token accounting over FakeHost: usage on every path, the injected `include_usage` and its
//! stripped chunk, request attributes, gen_ai metrics, budgets, and the switch that turns it
//! all off.

mod common;

use std::rc::Rc;
use std::sync::Arc;

use ai_gateway_core::fake_host::FakeHost;
use ai_gateway_core::{Action, FilterFactory};
use common::{exchange, post, response, Message};
use serde_json::{json, Value};

const PROVIDERS: &str = r#"
    "providers": {
        "claude": {"kind": "anthropic", "cluster": "anthropic_api", "apiKey": "sk-ant-gw"},
        "gpt": {"kind": "openai", "cluster": "openai_api", "apiKey": "sk-oa-gw"},
        "aws": {"kind": "bedrock", "cluster": "bedrock", "region": "us-east-1",
                "accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
    },
    "models": {
        "gpt-4o-mini": {"provider": "gpt", "model": "gpt-4o-mini"},
        "text-embedding-3-small": {"provider": "gpt", "model": "text-embedding-3-small"},
        "claude-sonnet-4-5": {"provider": "claude", "model": "claude-sonnet-4-5"},
        "gpt-on-claude": {"provider": "claude", "model": "claude-sonnet-4-5"},
        "haiku-on-aws": {"provider": "aws", "model": "anthropic.claude-3-5-haiku-20241022-v1:0"}
    }"#;

fn factory(extra: &str) -> Arc<dyn FilterFactory> {
    ai_gateway_llm::factory(&format!("{{{PROVIDERS}{extra}}}")).unwrap()
}

fn fixture(name: &str) -> String {
    let path = format!("{}/testdata/usage/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn sse(body: impl AsRef<[u8]>) -> Message {
    Message::new(&[(":status", "200"), ("content-type", "text/event-stream")]).chunked(body, 9)
}

fn metadata(ex: &common::Exchange, key: &str) -> Option<String> {
    ex.host
        .metadata_out
        .get(&(
            ai_gateway_llm::METADATA_NAMESPACE.to_string(),
            key.to_string(),
        ))
        .cloned()
}

fn openai_stream_request(model: &str) -> Message {
    let req = json!({"model": model, "stream": true,
                     "messages": [{"role": "user", "content": "Hello!"}]});
    post("/v1/chat/completions", req.to_string()).header("authorization", "Bearer sk-client")
}

const CHAT_TAGS: [&str; 4] = ["chat", "gpt", "gpt-4o-mini", "gpt-4o-mini"];

fn usage_tags(base: [&'static str; 4], kind: &'static str) -> Vec<&'static str> {
    let mut tags = base.to_vec();
    tags.push(kind);
    tags
}

#[test]
fn an_openai_stream_reports_usage_the_client_never_sees() {
    let f = factory("");
    let ex = exchange(
        &f,
        openai_stream_request("gpt-4o-mini"),
        Some(sse(fixture("openai_chat_stream_usage.sse"))),
    );
    assert_eq!(
        ex.upstream_json()["stream_options"],
        json!({"include_usage": true})
    );
    assert_eq!(
        String::from_utf8(ex.client_body.clone()).unwrap(),
        fixture("openai_chat_stream_usage.stripped.sse")
    );
    assert_eq!(ex.client_header("content-length"), None);
    assert_eq!(
        ex.histogram("gen_ai_client_token_usage", &usage_tags(CHAT_TAGS, "input")),
        [9]
    );
    assert_eq!(
        ex.histogram(
            "gen_ai_client_token_usage",
            &usage_tags(CHAT_TAGS, "output")
        ),
        [12]
    );
    // No cached or reasoning tokens: no samples of those types.
    assert!(ex
        .histogram(
            "gen_ai_client_token_usage",
            &usage_tags(CHAT_TAGS, "cached")
        )
        .is_empty());
    assert_eq!(metadata(&ex, "total_tokens").as_deref(), Some("21"));
    assert_eq!(
        metadata(&ex, "request_model").as_deref(),
        Some("gpt-4o-mini")
    );
    assert_eq!(metadata(&ex, "operation").as_deref(), Some("chat"));
    assert_eq!(
        ex.histogram("gen_ai_server_time_to_first_token_ms", &CHAT_TAGS),
        [7]
    );
    assert_eq!(
        ex.histogram("gen_ai_server_time_per_output_token_ms", &CHAT_TAGS)
            .len(),
        1
    );
    let mut duration_tags = CHAT_TAGS.to_vec();
    duration_tags.push("none");
    assert_eq!(
        ex.histogram("gen_ai_client_operation_duration_ms", &duration_tags),
        [7]
    );
}

#[test]
fn anthropic_stream_input_is_published_at_message_start_and_output_is_cumulative() {
    let f = factory("");
    let req = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": true,
                     "messages": [{"role": "user", "content": "Hello"}]});
    let body = fixture("anthropic_stream.sse");
    let split = body.find("event: content_block_start").unwrap();
    let mut filter = f.new_filter();
    let mut host = FakeHost::with_request_headers(&[
        (":method", "POST"),
        (":path", "/v1/messages"),
        ("anthropic-version", "2023-06-01"),
    ]);
    assert_eq!(filter.on_request_headers(&mut host, false), Action::Pause);
    host.request_body = req.to_string().into_bytes();
    assert_eq!(filter.on_request_body(&mut host, true), Action::Continue);
    host.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "text/event-stream".into()),
    ];
    filter.on_response_headers(&mut host, false);
    host.response_body = body.as_bytes()[..split].to_vec();
    filter.on_response_body(&mut host, false);
    let key = |k: &str| {
        (
            ai_gateway_llm::METADATA_NAMESPACE.to_string(),
            k.to_string(),
        )
    };
    assert_eq!(
        host.metadata_out
            .get(&key("input_tokens"))
            .map(String::as_str),
        Some("25")
    );
    assert_eq!(host.metadata_out.get(&key("output_tokens")), None);
    host.response_body = body.as_bytes()[split..].to_vec();
    filter.on_response_body(&mut host, true);
    assert_eq!(
        host.metadata_out
            .get(&key("output_tokens"))
            .map(String::as_str),
        Some("15")
    );
    assert_eq!(
        host.metadata_out
            .get(&key("response_model"))
            .map(String::as_str),
        Some("claude-sonnet-4-5-20250929")
    );
}

#[test]
fn embeddings_and_responses_pass_through_with_their_usage() {
    let f = factory("");
    let req = json!({"model": "text-embedding-3-small", "input": "The food was delicious"});
    let ex = exchange(
        &f,
        post("/v1/embeddings", req.to_string()),
        Some(response(
            200,
            "application/json",
            fixture("openai_embeddings.json"),
        )),
    );
    assert_eq!(
        ex.upstream_header(":path").as_deref(),
        Some("/v1/embeddings")
    );
    assert_eq!(ex.client_body, fixture("openai_embeddings.json").as_bytes());
    // The documented answer names another model: outside the configured ones, it is `other`.
    let tags = [
        "embeddings",
        "gpt",
        "text-embedding-3-small",
        "other",
        "input",
    ];
    assert_eq!(ex.histogram("gen_ai_client_token_usage", &tags), [8]);

    let req = json!({"model": "gpt-4o-mini", "input": "Tell me a story", "stream": true});
    let ex = exchange(
        &f,
        post("/v1/responses", req.to_string()),
        Some(sse(fixture("openai_responses_stream.sse"))),
    );
    assert_eq!(
        ex.upstream_header(":path").as_deref(),
        Some("/v1/responses")
    );
    assert_eq!(ex.upstream_json().get("stream_options"), None);
    assert_eq!(
        ex.client_body,
        fixture("openai_responses_stream.sse").as_bytes()
    );
    assert_eq!(metadata(&ex, "total_tokens").as_deref(), Some("48"));

    // Not an OpenAI-style provider: refused in OpenAI's format, naming the endpoint.
    let req = json!({"model": "claude-sonnet-4-5", "input": "x"});
    let ex = exchange(&f, post("/v1/responses", req.to_string()), None);
    assert_eq!(ex.client_status, Some(404));
    assert!(ex.client_json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/v1/responses"));
}

#[test]
fn translated_answers_count_cached_and_reasoning_tokens() {
    let f = factory("");
    let req = json!({"model": "claude-sonnet-4-5", "max_tokens": 100,
                     "messages": [{"role": "user", "content": "Hello"}]});
    // An Anthropic client on an OpenAI model: the figures are OpenAI's, reasoning included.
    let f2 = ai_gateway_llm::factory(
        r#"{"providers": {"gpt": {"kind": "openai", "cluster": "c"}},
            "models": {"claude-sonnet-4-5": {"provider": "gpt", "model": "o3-mini"}}}"#,
    )
    .unwrap();
    let answer = fixture("openai_chat_reasoning.json");
    let ex = exchange(
        &f2,
        post("/v1/messages", req.to_string()).header("anthropic-version", "2023-06-01"),
        Some(response(200, "application/json", answer)),
    );
    let tags = |kind| ["chat", "gpt", "claude-sonnet-4-5", "o3-mini", kind];
    assert_eq!(
        ex.histogram("gen_ai_client_token_usage", &tags("input")),
        [2006]
    );
    assert_eq!(
        ex.histogram("gen_ai_client_token_usage", &tags("cached")),
        [1920]
    );
    assert_eq!(
        ex.histogram("gen_ai_client_token_usage", &tags("reasoning")),
        [256]
    );
    assert_eq!(metadata(&ex, "reasoning_tokens").as_deref(), Some("256"));

    // An OpenAI client on an Anthropic model: cache reads and writes are input.
    let req = json!({"model": "gpt-on-claude", "messages": [{"role": "user", "content": "Hi"}]});
    let ex = exchange(
        &f,
        post("/v1/chat/completions", req.to_string()),
        Some(response(
            200,
            "application/json",
            fixture("anthropic_message.json"),
        )),
    );
    assert_eq!(metadata(&ex, "input_tokens").as_deref(), Some("6197"));
    assert_eq!(metadata(&ex, "cached_tokens").as_deref(), Some("2051"));
    assert_eq!(metadata(&ex, "output_tokens").as_deref(), Some("503"));
}

#[test]
fn accounting_off_is_translation_only() {
    let f = factory(r#", "accounting": {"enabled": false}"#);
    let ex = exchange(
        &f,
        openai_stream_request("gpt-4o-mini"),
        Some(sse(fixture("openai_chat_stream_usage.sse"))),
    );
    assert_eq!(ex.upstream_json().get("stream_options"), None);
    assert_eq!(
        ex.client_body,
        fixture("openai_chat_stream_usage.sse").as_bytes()
    );
    assert_eq!(metadata(&ex, "total_tokens"), None);
    assert_eq!(metadata(&ex, "request_model"), None);
    assert!(ex
        .host
        .histograms
        .keys()
        .all(|(id, _)| !ex.metrics[*id].name.starts_with("gen_ai")));
    // A budget without accounting is a config error naming the field.
    let err = ai_gateway_llm::factory(&format!(
        r#"{{{PROVIDERS}, "accounting": {{"enabled": false, "budget": {{"key": {{"apiKey": true}}, "windowSeconds": 60, "totalTokens": 5}}}}}}"#
    ))
    .err()
    .unwrap();
    assert!(err.to_string().contains("accounting.budget"), "{err}");
}

const BUDGET: &str = r#", "accounting": {"budget": {"key": {"header": "x-team"},
    "windowSeconds": 60, "totalTokens": 50}}"#;

fn chat_answer(input: u64, output: u64) -> Message {
    let answer = json!({"id": "c", "object": "chat.completion", "model": "gpt-4o-mini", "choices": [],
        "usage": {"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output}});
    response(200, "application/json", answer.to_string())
}

/// One request of `team` on a worker sharing `store`, answered with 10 + 10 tokens.
fn spend(
    f: &Arc<dyn FilterFactory>,
    store: &FakeHost,
    team: &str,
    request: Message,
    answer: Message,
) -> common::Exchange {
    let request = request.header("x-team", team);
    common::exchange_sharing(
        f,
        Rc::clone(&store.shared),
        store.unix_seconds,
        request,
        Some(answer),
    )
}

#[test]
fn a_budget_serves_a_key_until_spent_then_429s_in_the_clients_format() {
    let f = factory(BUDGET);
    let store = FakeHost::default();
    let openai = |model: &str| {
        post(
            "/v1/chat/completions",
            json!({"model": model, "messages": [{"role": "user", "content": "x"}]}).to_string(),
        )
    };
    for _ in 0..2 {
        let ex = spend(
            &f,
            &store,
            "blue",
            openai("gpt-4o-mini"),
            chat_answer(10, 10),
        );
        assert_eq!(ex.client_status, Some(200));
    }
    // 40 of 50 spent: one more (estimate 0) is served and overdraws; then the key is refused.
    let ex = spend(
        &f,
        &store,
        "blue",
        openai("gpt-4o-mini"),
        chat_answer(10, 10),
    );
    assert_eq!(ex.client_status, Some(200));
    let ex = spend(
        &f,
        &store,
        "blue",
        openai("gpt-4o-mini"),
        chat_answer(10, 10),
    );
    assert_eq!(ex.client_status, Some(429));
    assert_eq!(ex.upstream_headers, None, "refused before forwarding");
    let retry: u64 = ex.client_header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(ex.client_json()["error"]["type"], "rate_limit_exceeded");
    assert_eq!(
        ex.counter(
            "llm_budget_refusals_total",
            &["gpt", "gpt-4o-mini", "total"]
        ),
        1
    );
    // In Anthropic's format for an Anthropic client.
    let anthropic = post(
        "/v1/messages",
        json!({"model": "claude-sonnet-4-5", "max_tokens": 5,
               "messages": [{"role": "user", "content": "x"}]})
        .to_string(),
    )
    .header("anthropic-version", "2023-06-01");
    let ex = spend(&f, &store, "blue", anthropic, chat_answer(0, 0));
    assert_eq!(ex.client_status, Some(429));
    assert_eq!(ex.client_json()["error"]["type"], "rate_limit_error");
    // Another key is unaffected.
    let ex = spend(
        &f,
        &store,
        "green",
        openai("gpt-4o-mini"),
        chat_answer(1, 1),
    );
    assert_eq!(ex.client_status, Some(200));
}

#[test]
fn a_budget_refuses_a_max_tokens_that_cannot_fit() {
    let f = factory(BUDGET);
    let store = FakeHost::default();
    let ask = |max: u64| {
        post(
            "/v1/chat/completions",
            json!({"model": "gpt-4o-mini", "max_tokens": max,
                   "messages": [{"role": "user", "content": "x"}]})
            .to_string(),
        )
    };
    let ex = spend(&f, &store, "red", ask(51), chat_answer(1, 1));
    assert_eq!(ex.client_status, Some(429));
    let ex = spend(&f, &store, "red", ask(50), chat_answer(1, 1));
    assert_eq!(ex.client_status, Some(200));
    // The 50 held were replaced by the 2 used.
    let ex = spend(&f, &store, "red", ask(48), chat_answer(1, 1));
    assert_eq!(ex.client_status, Some(200));
}

#[test]
fn bedrock_usage_counts_from_its_metadata_event() {
    // ConverseStream's metadata event carries the figures (tests/bedrock.rs covers the frames);
    // here the JSON Converse answer.
    let f = factory("");
    let req = json!({"model": "haiku-on-aws", "messages": [{"role": "user", "content": "Hi"}]});
    let answer: Value = json!({
        "output": {"message": {"role": "assistant", "content": [{"text": "Hello"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 30, "outputTokens": 628, "totalTokens": 658},
        "metrics": {"latencyMs": 1275}
    });
    let ex = exchange(
        &f,
        post("/v1/chat/completions", req.to_string()),
        Some(response(200, "application/json", answer.to_string())),
    );
    assert_eq!(metadata(&ex, "total_tokens").as_deref(), Some("658"));
}

#[test]
fn token_counting_is_not_charged_to_a_budget() {
    let f = factory(BUDGET);
    let store = FakeHost::default();
    let count = || {
        post(
            "/v1/messages/count_tokens",
            json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "x"}]})
                .to_string(),
        )
        .header("anthropic-version", "2023-06-01")
    };
    // Spend the key's budget, then count tokens: still answered.
    let spent = post(
        "/v1/chat/completions",
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}).to_string(),
    );
    spend(&f, &store, "teal", spent, chat_answer(30, 30));
    let answer = response(200, "application/json", r#"{"input_tokens": 14}"#);
    let ex = spend(&f, &store, "teal", count(), answer);
    assert_eq!(ex.client_status, Some(200));
}

#[test]
fn budget_config_errors_name_the_field() {
    let cases = [
        (
            r#"{"key": {}, "windowSeconds": 60, "totalTokens": 1}"#,
            "accounting.budget.key",
        ),
        (
            r#"{"key": {"header": "x", "apiKey": true}, "windowSeconds": 60, "totalTokens": 1}"#,
            "accounting.budget.key",
        ),
        (
            r#"{"key": {"apiKey": true}, "windowSeconds": 0, "totalTokens": 1}"#,
            "accounting.budget.windowSeconds",
        ),
        (
            r#"{"key": {"apiKey": true}, "windowSeconds": 60}"#,
            "accounting.budget",
        ),
        (
            r#"{"key": {"apiKey": true}, "windowSeconds": 60, "keys": {"a": {}}}"#,
            "accounting.budget.keys.a",
        ),
        (
            r#"{"key": {"apiKey": true}, "windowSeconds": 60, "tokens": 1}"#,
            "accounting.budget.tokens",
        ),
    ];
    for (budget, field) in cases {
        let config = format!(r#"{{{PROVIDERS}, "accounting": {{"budget": {budget}}}}}"#);
        let err = ai_gateway_llm::factory(&config).err().unwrap();
        match err {
            ai_gateway_core::ConfigError::Invalid { field: got, .. } => {
                assert_eq!(got, field, "{budget}")
            }
            other => panic!("{budget}: {other:?}"),
        }
    }
}

#[test]
fn a_named_key_spends_its_own_budget() {
    let f = factory(
        r#", "accounting": {"budget": {"key": {"header": "x-team"}, "windowSeconds": 60,
            "totalTokens": 10, "keys": {"gold": {"totalTokens": 1000}}}}"#,
    );
    let store = FakeHost::default();
    let ask = || {
        post(
            "/v1/chat/completions",
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]})
                .to_string(),
        )
    };
    for team in ["gold", "plain"] {
        let ex = spend(&f, &store, team, ask(), chat_answer(10, 10));
        assert_eq!(ex.client_status, Some(200), "{team}");
    }
    assert_eq!(
        spend(&f, &store, "plain", ask(), chat_answer(1, 1)).client_status,
        Some(429)
    );
    assert_eq!(
        spend(&f, &store, "gold", ask(), chat_answer(1, 1)).client_status,
        Some(200)
    );
}
