//! Token accounting of the `llm` filter end to end, once per flavour, Envoy with two workers:
//! the official SDKs' usage equals Envoy's gen_ai token metrics; a streaming OpenAI client that
//! did not ask for usage gets none yet is counted; the shipped access-log example writes the
//! model and token figures; Envoy's `ratelimit` filter (shipped example) sends the answer's total
//! tokens as `hits_addend`; an in-filter token budget is shared by both workers, refuses in each
//! client's format and renews with its window.

mod support;

use std::time::Duration;

use ai_gateway_test_harness::{
    pytest, Bootstrap, Envoy, Flavour, LlmFake, LlmProviderRoute, Prometheus, RateLimitFake,
};
use serde_json::{json, Value};

use support::llm::{ANTHROPIC_KEY, CLIENT_KEY, OPENAI_KEY};

per_flavour!(
    sdk_usage_equals_the_token_metrics,
    embeddings_and_responses_are_counted,
    access_log_and_ratelimit_get_the_answers_tokens,
    a_budget_is_shared_by_both_workers_and_renews,
);

/// OpenAI clients: passed through to OpenAI.
const OPENAI_MODEL: &str = "gpt-4o-mini";
/// OpenAI clients: translated to Anthropic's `claude-sonnet-4-5`.
const GPT_ON_ANTHROPIC: &str = "gpt-4o";
/// Anthropic clients: passed through to Anthropic.
const ANTHROPIC_MODEL: &str = "claude-haiku-4-5";
/// Anthropic clients: translated to OpenAI's `gpt-4o`.
const CLAUDE_ON_OPENAI: &str = "claude-sonnet-4-5";

/// OpenAI clients: embeddings, passed through to OpenAI.
const EMBEDDING_MODEL: &str = "text-embedding-3-small";

/// The header the budget keys on, and the budget's window.
const BUDGET_HEADER: &str = "x-team";
const WINDOW_SECONDS: u64 = 6;

struct Gateway {
    anthropic: LlmFake,
    openai: LlmFake,
    ratelimit: RateLimitFake,
    envoy: Envoy,
    access_log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn config(budget_total: u64) -> Value {
    json!({
        "providers": {
            "anthropic": { "kind": "anthropic", "cluster": "llm_anthropic", "apiKey": ANTHROPIC_KEY },
            "openai": { "kind": "openai", "cluster": "llm_openai", "apiKey": OPENAI_KEY },
        },
        "models": {
            OPENAI_MODEL: { "provider": "openai", "model": "gpt-4o-mini" },
            GPT_ON_ANTHROPIC: { "provider": "anthropic", "model": "claude-sonnet-4-5" },
            ANTHROPIC_MODEL: { "provider": "anthropic", "model": "claude-haiku-4-5" },
            CLAUDE_ON_OPENAI: { "provider": "openai", "model": "gpt-4o" },
            EMBEDDING_MODEL: { "provider": "openai", "model": EMBEDDING_MODEL },
        },
        "accounting": { "budget": {
            "key": { "header": BUDGET_HEADER },
            "windowSeconds": WINDOW_SECONDS,
            "totalTokens": budget_total,
        }},
    })
}

impl Gateway {
    async fn start(flavour: Flavour, budget_total: u64) -> Gateway {
        let anthropic = LlmFake::anthropic(ANTHROPIC_KEY).await.unwrap();
        let openai = LlmFake::openai(OPENAI_KEY).await.unwrap();
        let ratelimit = RateLimitFake::start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let access_log = dir.path().join("access.log");
        let bootstrap = Bootstrap::new(Some(flavour))
            .concurrency(2)
            .llm_provider(LlmProviderRoute::new("anthropic", anthropic.addr()))
            .llm_provider(LlmProviderRoute::new("openai", openai.addr()))
            .llm_access_log(access_log.clone())
            .llm_ratelimit(ratelimit.addr())
            .filter("llm", config(budget_total));
        let envoy = Envoy::start(&bootstrap)
            .await
            .expect("Envoy starts with the llm filter and the accounting examples");
        Gateway {
            anthropic,
            openai,
            ratelimit,
            envoy,
            access_log,
            _dir: dir,
        }
    }

    /// An OpenAI chat request on a fresh connection (so requests spread over the workers).
    async fn chat(&self, team: &str, model: &str) -> reqwest::Response {
        let body = json!({ "model": model, "messages": [{ "role": "user", "content": "spend some tokens" }] });
        fresh_client()
            .post(format!("{}/v1/chat/completions", self.envoy.gateway_url()))
            .header("authorization", format!("Bearer {CLIENT_KEY}"))
            .header(BUDGET_HEADER, team)
            .json(&body)
            .send()
            .await
            .expect("the gateway answers")
    }
}

/// A client that opens a new connection per request.
fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(support::REQUEST_TIMEOUT)
        .build()
        .unwrap()
}

/// Sum of the samples named `name` whose labels include `labels`.
fn sum(prometheus: &Prometheus, name: &str, labels: &[(&str, &str)]) -> f64 {
    prometheus
        .samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

/// Polls until the sum equals `want` (metrics reach /stats asynchronously); the last sum.
async fn await_sum(envoy: &Envoy, name: &str, labels: &[(&str, &str)], want: f64) -> f64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let got = sum(&envoy.prometheus().await.unwrap(), name, labels);
        if got == want || tokio::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sdk_usage_equals_the_token_metrics(flavour: Flavour) {
    let gateway = Gateway::start(flavour, 1_000_000).await;
    let env = [
        ("GATEWAY_URL", gateway.envoy.gateway_url()),
        ("CLIENT_KEY", CLIENT_KEY.to_string()),
        ("OPENAI_MODEL", OPENAI_MODEL.to_string()),
        ("GPT_ON_ANTHROPIC", GPT_ON_ANTHROPIC.to_string()),
        ("ANTHROPIC_MODEL", ANTHROPIC_MODEL.to_string()),
        ("CLAUDE_ON_OPENAI", CLAUDE_ON_OPENAI.to_string()),
        ("OPENAI_FAKE_URL", gateway.openai.url()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = pytest("test_llm_accounting.py", &env).await.unwrap();
    assert!(
        run.passed,
        "the SDK suite failed:\n{}\nEnvoy log:\n{}",
        run.output,
        gateway.envoy.log()
    );
    let openai = gateway.openai.reported_usage();
    let anthropic = gateway.anthropic.reported_usage();
    // 2 models x (plain, stream with usage, stream without) + 2 models x (plain, stream).
    assert_eq!(openai.answers + anthropic.answers, 10);
    let input = (openai.input_tokens + anthropic.input_tokens) as f64;
    let output = (openai.output_tokens + anthropic.output_tokens) as f64;
    // Exact: the token counters.
    let counted = "llm_tokens_total";
    let got_input = await_sum(&gateway.envoy, counted, &[("type", "input")], input).await;
    let got_output = await_sum(&gateway.envoy, counted, &[("type", "output")], output).await;
    assert_eq!(
        (got_input, got_output),
        (input, output),
        "Envoy's token counts equal the fakes' usage"
    );
    // The gen_ai histogram: one sample per answer and token type; Envoy's histogram sums are
    // approximate (bucketed), within a few percent.
    let usage = "gen_ai_client_token_usage_sum";
    let samples = await_sum(
        &gateway.envoy,
        "gen_ai_client_token_usage_count",
        &[("token_type", "input")],
        10.0,
    )
    .await;
    assert_eq!(samples, 10.0, "one input sample per answer");
    let prometheus = gateway.envoy.prometheus().await.unwrap();
    for (kind, want) in [("input", input), ("output", output)] {
        let got = sum(&prometheus, usage, &[("token_type", kind)]);
        assert!((got - want).abs() <= want * 0.05, "{kind}: {got} vs {want}");
    }
    // Per provider and model: OpenAI's own figures under its passed-through model.
    assert_eq!(
        sum(
            &prometheus,
            "llm_tokens_total",
            &[("provider", "openai"), ("type", "input")]
        ),
        openai.input_tokens as f64
    );
    for (name, labels) in [
        ("gen_ai_server_time_to_first_token_ms_count", vec![]),
        ("gen_ai_server_time_per_output_token_ms_count", vec![]),
        (
            "gen_ai_client_operation_duration_ms_count",
            vec![("operation", "chat"), ("error_type", "none")],
        ),
    ] {
        let count = sum(&prometheus, name, &labels);
        assert!(
            count >= 1.0,
            "{name} has samples:\n{:?}",
            prometheus
                .with_prefix("gen_ai")
                .map(|s| &s.line)
                .collect::<Vec<_>>()
        );
    }
    // Model tags: the request model and the provider's answer.
    assert!(
        sum(
            &prometheus,
            usage,
            &[
                ("operation", "chat"),
                ("provider", "anthropic"),
                ("request_model", GPT_ON_ANTHROPIC),
                ("response_model", "claude-sonnet-4-5"),
                ("token_type", "output"),
            ]
        ) > 0.0
    );
}

async fn embeddings_and_responses_are_counted(flavour: Flavour) {
    let gateway = Gateway::start(flavour, 1_000_000).await;
    let env = [
        ("GATEWAY_URL", gateway.envoy.gateway_url()),
        ("CLIENT_KEY", CLIENT_KEY.to_string()),
        ("OPENAI_MODEL", OPENAI_MODEL.to_string()),
        ("EMBEDDING_MODEL", EMBEDDING_MODEL.to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = pytest("test_llm_accounting_endpoints.py", &env)
        .await
        .unwrap();
    assert!(run.passed, "the SDK suite failed:\n{}", run.output);
    let reported = gateway.openai.reported_usage();
    assert_eq!(reported.answers, 3);
    for (kind, want) in [
        ("input", reported.input_tokens),
        ("output", reported.output_tokens),
    ] {
        let got = await_sum(
            &gateway.envoy,
            "llm_tokens_total",
            &[("type", kind)],
            want as f64,
        )
        .await;
        assert_eq!(got, want as f64, "{kind} tokens");
    }
    for (operation, answers) in [("embeddings", 1.0), ("responses", 2.0)] {
        let got = await_sum(
            &gateway.envoy,
            "gen_ai_client_token_usage_count",
            &[("operation", operation), ("token_type", "input")],
            answers,
        )
        .await;
        assert_eq!(got, answers, "{operation}");
    }
}

/// Polls `read` until it gives something or time runs out.
async fn eventually<T>(mut read: impl FnMut() -> Option<T>) -> Option<T> {
    for _ in 0..100 {
        if let Some(value) = read() {
            return Some(value);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

async fn access_log_and_ratelimit_get_the_answers_tokens(flavour: Flavour) {
    let gateway = Gateway::start(flavour, 1_000_000).await;
    for model in [GPT_ON_ANTHROPIC, OPENAI_MODEL] {
        let response = gateway.chat("green", model).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        let total = body["usage"]["total_tokens"].as_u64().unwrap();
        let input = body["usage"]["prompt_tokens"].as_u64().unwrap();

        let path = gateway.access_log.clone();
        let line = eventually(|| {
            let text = std::fs::read_to_string(&path).ok()?;
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap_or_default())
                .find(|l| l["request_model"] == model)
        })
        .await;
        let Some(line) = line else {
            let log = std::fs::read_to_string(&gateway.access_log).unwrap_or_default();
            panic!("an access-log line for {model} in:\n{log}");
        };
        // The provider's path (the filter rewrote it).
        let path = if model == OPENAI_MODEL {
            "/v1/chat/completions"
        } else {
            "/v1/messages"
        };
        assert_eq!(line["path"], path, "{line}");
        assert_eq!(line["total_tokens"], total.to_string(), "{line}");
        assert_eq!(line["input_tokens"], input.to_string(), "{line}");
        assert_eq!(line["operation"], "chat", "{line}");
        assert!(
            line["model"].as_str().is_some_and(|m| !m.is_empty()),
            "{line}"
        );

        let call = eventually(|| {
            gateway
                .ratelimit
                .calls()
                .into_iter()
                .find(|c| c.descriptors.iter().any(|d| d.hits_addend == Some(total)))
        })
        .await;
        let calls = gateway.ratelimit.calls();
        let call = call.unwrap_or_else(|| panic!("a ratelimit call adding {total}: {calls:?}"));
        assert_eq!(call.domain, "ai_gateway_llm");
        assert_eq!(
            call.descriptors[0].entries,
            [("llm".to_string(), "tokens".to_string())]
        );
    }
}

/// Total tokens the fake spends on one [`Gateway::chat`] (the fakes are deterministic).
async fn tokens_per_chat() -> u64 {
    let fake = LlmFake::openai(OPENAI_KEY).await.unwrap();
    let body = json!({ "model": OPENAI_MODEL, "messages": [{ "role": "user", "content": "spend some tokens" }] });
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", fake.url()))
        .header("authorization", format!("Bearer {OPENAI_KEY}"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["usage"]["total_tokens"].as_u64().unwrap()
}

/// Sleeps until a budget window has just begun (windows start at multiples of their length).
async fn at_window_start() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let into = now.as_millis() as u64 % (WINDOW_SECONDS * 1000);
    tokio::time::sleep(Duration::from_millis(WINDOW_SECONDS * 1000 - into + 50)).await;
}

/// Connections accepted by each Envoy worker on the gateway listener.
async fn connections_per_worker(envoy: &Envoy) -> Vec<u64> {
    let stats = envoy
        .admin_get("/stats?filter=downstream_cx_total")
        .await
        .unwrap();
    stats
        .lines()
        .filter(|l| l.starts_with("listener.") && l.contains(".worker_"))
        .filter_map(|l| l.rsplit_once(": ")?.1.trim().parse().ok())
        .collect()
}

async fn a_budget_is_shared_by_both_workers_and_renews(flavour: Flavour) {
    let per_chat = tokens_per_chat().await;
    // Three answers spend the budget exactly.
    let gateway = Gateway::start(flavour, 3 * per_chat).await;
    at_window_start().await;
    for i in 0..3 {
        let response = gateway.chat("blue", OPENAI_MODEL).await;
        assert_eq!(response.status(), 200, "answer {i} within the budget");
    }
    let refused = gateway.chat("blue", OPENAI_MODEL).await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=WINDOW_SECONDS).contains(&retry_after), "{retry_after}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_exceeded", "{body}");
    // The same key from an Anthropic client: refused in Anthropic's format.
    let refused = fresh_client()
        .post(format!("{}/v1/messages", gateway.envoy.gateway_url()))
        .header("x-api-key", CLIENT_KEY)
        .header("anthropic-version", "2023-06-01")
        .header(BUDGET_HEADER, "blue")
        .json(&json!({ "model": ANTHROPIC_MODEL, "max_tokens": 10,
                       "messages": [{ "role": "user", "content": "hi" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], "rate_limit_error", "{body}");
    // Other keys are unaffected.
    for _ in 0..3 {
        assert_eq!(gateway.chat("orange", OPENAI_MODEL).await.status(), 200);
    }
    // The provider saw only what was served: 3 + 3.
    assert_eq!(gateway.openai.reported_usage().answers, 6);
    // Both workers served these connections (the kernel spreads them; 11 so far).
    let workers = connections_per_worker(&gateway.envoy).await;
    assert_eq!(workers.len(), 2, "{workers:?}");
    assert!(
        workers.iter().all(|n| *n > 0),
        "both workers served: {workers:?}"
    );
    // The window renews the budget.
    at_window_start().await;
    assert_eq!(gateway.chat("blue", OPENAI_MODEL).await.status(), 200);
    let refusals = await_sum(
        &gateway.envoy,
        "llm_budget_refusals_total",
        &[("type", "total")],
        2.0,
    )
    .await;
    assert_eq!(refusals, 2.0);
}
