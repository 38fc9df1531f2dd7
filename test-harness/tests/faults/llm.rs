//! LLM faults: a faulty provider behind both translated directions (OpenAI client → Anthropic
//! wire, Anthropic client → OpenAI wire), next to a healthy OpenAI fake.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ai_gateway_test_harness::{
    Bootstrap, Envoy, Fault, FaultyUpstream, Flavour, LlmFake, LlmProviderRoute, RecordedRequest,
};
use serde_json::{json, Value};

use super::{counted, send, start_envoy, support, Answer, Misbehaviour, SLACK, TIMEOUT_MS};

const ANTHROPIC_KEY: &str = "sk-ant-faults";
const OPENAI_KEY: &str = "sk-openai-faults";
/// OpenAI clients ask for it; the faulty provider serves it as Anthropic.
const TO_FAULTY_ANTHROPIC: &str = "gpt-4o";
/// Anthropic clients ask for it; the faulty provider serves it as OpenAI.
const TO_FAULTY_OPENAI: &str = "claude-sonnet-4-5";
/// OpenAI clients ask for it; the healthy OpenAI fake serves it.
const TO_HEALTHY: &str = "gpt-4o-mini";

/// The faulty provider (as two providers, one per wire) and a healthy one behind one Envoy.
struct LlmFaults {
    plan: Arc<Mutex<Misbehaviour>>,
    _faulty: FaultyUpstream,
    _healthy: LlmFake,
    envoy: Envoy,
}

/// The faulty provider's answer in the wire of the API asked (`/v1/messages`: Anthropic).
fn llm_answer(request: &RecordedRequest, misbehaviour: Misbehaviour) -> Fault {
    if request.path.ends_with("/messages") {
        // Anthropic's documented message and stream events.
        let message = json!({"id": "msg_1", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5", "content": [{"type": "text", "text": "Hi"}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 5, "output_tokens": 2}});
        let events = [
            (
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_1",
                "type": "message", "role": "assistant", "content": [], "model": "claude-sonnet-4-5",
                "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 5, "output_tokens": 1}}}),
            ),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": "Hi there, this will be cut"}}),
            ),
        ];
        return misbehaviour.fault(message, &events);
    }
    let completion = json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1,
        "model": "gpt-4o", "choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": "Hi"}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}});
    let chunk = |delta: Value| {
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
               "model": "gpt-4o", "choices": [{"index": 0, "delta": delta, "finish_reason": null}]})
    };
    let events = [
        (
            "message",
            chunk(json!({"role": "assistant", "content": ""})),
        ),
        (
            "message",
            chunk(json!({"content": "Hi there, this will be cut"})),
        ),
    ];
    misbehaviour.fault(completion, &events)
}

impl LlmFaults {
    /// With a route timeout for model requests if given.
    async fn start(flavour: Flavour, route_timeout_ms: Option<u64>) -> LlmFaults {
        let plan = Arc::new(Mutex::new(Misbehaviour::Good));
        let shared = Arc::clone(&plan);
        let faulty = FaultyUpstream::start(move |request| {
            let misbehaviour = *shared.lock().unwrap();
            llm_answer(request, misbehaviour)
        })
        .await
        .expect("the faulty provider starts");
        let healthy = LlmFake::openai(OPENAI_KEY).await.unwrap();
        let config = json!({
            "providers": {
                "faulty_anthropic": { "kind": "anthropic", "cluster": "llm_faulty_anthropic",
                                      "apiKey": ANTHROPIC_KEY },
                "faulty_openai": { "kind": "openai", "cluster": "llm_faulty_openai",
                                   "apiKey": OPENAI_KEY },
                "healthy": { "kind": "openai", "cluster": "llm_healthy", "apiKey": OPENAI_KEY },
            },
            "models": {
                TO_FAULTY_ANTHROPIC: { "provider": "faulty_anthropic", "model": "claude-sonnet-4-5" },
                TO_FAULTY_OPENAI: { "provider": "faulty_openai", "model": "gpt-4o" },
                TO_HEALTHY: { "provider": "healthy", "model": "gpt-4o-mini" },
            },
            "defaultMaxTokens": 256,
        });
        let bootstrap = Bootstrap::new(Some(flavour))
            .llm_provider(LlmProviderRoute::new("faulty_anthropic", faulty.addr()))
            .llm_provider(LlmProviderRoute::new("faulty_openai", faulty.addr()))
            .llm_provider(LlmProviderRoute::new("healthy", healthy.addr()))
            .filter("llm", config);
        let envoy = start_envoy(&bootstrap, route_timeout_ms).await;
        LlmFaults {
            plan,
            _faulty: faulty,
            _healthy: healthy,
            envoy,
        }
    }

    /// A chat (OpenAI client) or messages (Anthropic client) request for `model`.
    async fn ask(&self, path: &str, model: &str, stream: bool, extra: &[(&str, &str)]) -> Answer {
        let body = json!({"model": model, "stream": stream, "max_tokens": 50,
                          "messages": [{"role": "user", "content": "hi"}]});
        let mut request = support::http()
            .post(format!("{}{path}", self.envoy.gateway_url()))
            .header("content-type", "application/json")
            .header("authorization", "Bearer sk-client-own")
            .header("anthropic-version", "2023-06-01");
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        Answer::from(send(request, &body).await)
    }

    fn set(&self, misbehaviour: Misbehaviour) {
        *self.plan.lock().unwrap() = misbehaviour;
    }

    /// `llm_requests_total` of `provider` with `outcome`.
    async fn outcomes(&self, provider: &str, outcome: &str, least: f64) -> f64 {
        let labels = [("provider", provider), ("outcome", outcome)];
        counted(&self.envoy, "llm_requests_total", &labels, least).await
    }

    /// Envoy keeps serving: a request to the healthy provider succeeds.
    async fn healthy_request_succeeds(&self) {
        let answer = self
            .ask("/v1/chat/completions", TO_HEALTHY, false, &[])
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let body: Value = serde_json::from_str(answer.body.as_deref().unwrap()).unwrap();
        assert!(
            body["choices"][0]["message"]["content"].is_string(),
            "{body}"
        );
    }
}

/// OpenAI's error object: `{"error": {"message", "type"}}`.
fn assert_openai_error(answer: &Answer) {
    let body: Value = serde_json::from_str(answer.body.as_deref().unwrap_or_default())
        .unwrap_or_else(|_| panic!("a JSON error body: {answer:?}"));
    assert!(body["error"]["message"].is_string(), "{answer:?}");
    assert!(body["error"]["type"].is_string(), "{answer:?}");
}

/// The last SSE `data:` payload that is JSON, with its `event:` name.
fn last_event(answer: &Answer) -> (String, Value) {
    let text = answer.body.as_deref().unwrap_or_default();
    text.split("\n\n")
        .filter_map(|block| {
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim().to_string())
            };
            let data = serde_json::from_str(&field("data:")?).ok()?;
            Some((field("event:").unwrap_or_default(), data))
        })
        .last()
        .unwrap_or_default()
}

pub(super) async fn llm_provider_stalled_past_the_route_timeout(flavour: Flavour) {
    let gw = LlmFaults::start(flavour, Some(TIMEOUT_MS)).await;
    gw.set(Misbehaviour::Stall);
    let answer = gw
        .ask("/v1/chat/completions", TO_FAULTY_ANTHROPIC, true, &[])
        .await;
    assert!(
        answer.took >= Duration::from_millis(TIMEOUT_MS - 100),
        "{answer:?}"
    );
    assert!(
        answer.took < Duration::from_millis(TIMEOUT_MS) + SLACK,
        "{answer:?}"
    );
    assert_eq!(answer.status, 504, "{answer:?}");
    assert_openai_error(&answer);
    let answer = gw.ask("/v1/messages", TO_FAULTY_OPENAI, false, &[]).await;
    assert_eq!(answer.status, 504, "{answer:?}");
    let body: Value = serde_json::from_str(answer.body.as_deref().unwrap_or_default())
        .unwrap_or_else(|_| panic!("a JSON error body: {answer:?}"));
    assert_eq!(body["type"], "error", "{answer:?}");
    assert_eq!(body["error"]["type"], "timeout_error", "{answer:?}");
    assert_eq!(gw.outcomes("faulty_anthropic", "5xx", 1.0).await, 1.0);
    assert_eq!(gw.outcomes("faulty_openai", "5xx", 1.0).await, 1.0);
    gw.healthy_request_succeeds().await;
}

pub(super) async fn llm_provider_garbage_becomes_an_error_in_the_clients_format(flavour: Flavour) {
    let gw = LlmFaults::start(flavour, None).await;
    // Not JSON with 200, and text/html to a streaming request: 502 in OpenAI's format.
    for (misbehaviour, stream) in [(Misbehaviour::NotJson, false), (Misbehaviour::Html, true)] {
        gw.set(misbehaviour);
        let answer = gw
            .ask("/v1/chat/completions", TO_FAULTY_ANTHROPIC, stream, &[])
            .await;
        assert!(answer.took < SLACK, "{misbehaviour:?}: {answer:?}");
        assert_eq!(answer.status, 502, "{misbehaviour:?}: {answer:?}");
        assert_openai_error(&answer);
    }
    assert_eq!(gw.outcomes("faulty_anthropic", "5xx", 2.0).await, 2.0);

    // A stream that closes in the middle of an event, or is reset there: the client's stream
    // ends with an error event in its own format.
    for (n, misbehaviour) in [Misbehaviour::TruncatedSse, Misbehaviour::ResetMidStream]
        .into_iter()
        .enumerate()
    {
        gw.set(misbehaviour);
        let answer = gw
            .ask("/v1/chat/completions", TO_FAULTY_ANTHROPIC, true, &[])
            .await;
        assert!(answer.took < SLACK, "{misbehaviour:?}: {answer:?}");
        assert_eq!(answer.status, 200, "{answer:?}");
        if misbehaviour == Misbehaviour::TruncatedSse || answer.body.is_ok() {
            let (_, last) = last_event(&answer);
            assert!(
                last["error"]["message"].is_string(),
                "{misbehaviour:?}: {answer:?}"
            );
        }
        let least = (n + 1) as f64;
        assert_eq!(
            gw.outcomes("faulty_anthropic", "stream_error", least).await,
            least
        );

        let answer = gw.ask("/v1/messages", TO_FAULTY_OPENAI, true, &[]).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        if misbehaviour == Misbehaviour::TruncatedSse || answer.body.is_ok() {
            let (name, last) = last_event(&answer);
            assert_eq!(name, "error", "{misbehaviour:?}: {answer:?}");
            assert_eq!(last["type"], "error", "{answer:?}");
            assert!(last["error"]["type"].is_string(), "{answer:?}");
        }
        assert_eq!(
            gw.outcomes("faulty_openai", "stream_error", least).await,
            least
        );
        gw.healthy_request_succeeds().await;
    }
}
