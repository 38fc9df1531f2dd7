//! Strict in-process fakes of the LLM providers the `llm` filter talks to (Anthropic Messages,
//! OpenAI Chat Completions and OpenAI-compatible servers, Bedrock Converse/ConverseStream).
//! Each validates requests as the real API does, answering invalid ones with that API's error
//! JSON and status; answers valid ones in the real wire format (JSON, SSE, AWS eventstream);
//! follows a per-request script (text, tool call, error, stream cut) and records every request.

mod anthropic;
mod bedrock;
mod check;
pub mod eventstream;
mod openai;
mod schema;
mod script;
mod server;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::error::HarnessError;
use crate::fake_upstream::RecordedRequest;

pub use anthropic::MODELS as ANTHROPIC_MODELS;
pub use bedrock::sigv4::authorization as bedrock_authorization;
pub use bedrock::MODELS as BEDROCK_MODELS;
pub use openai::MODELS as OPENAI_MODELS;
pub use schema::instance as schema_instance;
pub use script::Answer;

/// Paths under this prefix control the fake instead of reaching the provider API (not
/// recorded): `POST /_fake/script` queues an answer ([`Answer::from_json`]); `GET
/// /_fake/requests` lists what was received (method, path, headers, JSON body).
pub const CONTROL_PREFIX: &str = "/_fake/";

/// Which provider API a fake speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Anthropic Messages API.
    Anthropic,
    /// OpenAI Chat Completions (also OpenAI-compatible servers under a path prefix).
    OpenAi,
    /// Amazon Bedrock Converse / ConverseStream.
    Bedrock,
}

/// State a provider module reads while answering.
pub(crate) struct Shared {
    /// The API key the fake accepts (OpenAI-compatible: `None`, no key needed); Bedrock: the
    /// access key id.
    pub key: Option<String>,
    /// Bedrock: the secret access key signatures are verified with.
    pub secret: String,
    /// Bedrock: the region the SigV4 credential scope must name.
    pub region: String,
    /// OpenAI-compatible: the path prefix before `/v1/...`.
    pub path_prefix: String,
    script: Mutex<VecDeque<Answer>>,
    ids: AtomicU64,
    reported: Mutex<ReportedUsage>,
}

/// The usage a fake reported in its answers, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportedUsage {
    /// Answers that carried usage.
    pub answers: u64,
    pub input_tokens: u64,
    /// Every output token, reasoning included.
    pub output_tokens: u64,
}

fn control(
    shared: &Shared,
    requests: &Mutex<Vec<RecordedRequest>>,
    request: &RecordedRequest,
) -> server::FakeResponse {
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/_fake/script") => {
            let spec: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            match Answer::from_json(&spec) {
                Ok(answer) => {
                    shared.push(answer);
                    server::FakeResponse::json(200, &serde_json::json!({ "queued": true }))
                }
                Err(message) => {
                    server::FakeResponse::json(400, &serde_json::json!({ "error": message }))
                }
            }
        }
        ("GET", "/_fake/requests") => {
            let list: Vec<Value> = requests
                .lock()
                .expect("no test panics while holding it")
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "method": r.method,
                        "path": r.path,
                        "headers": r.headers.iter()
                            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                            .collect::<serde_json::Map<String, Value>>(),
                        "body": serde_json::from_slice::<Value>(&r.body).unwrap_or(Value::Null),
                    })
                })
                .collect();
            server::FakeResponse::json(200, &Value::Array(list))
        }
        _ => {
            server::FakeResponse::json(404, &serde_json::json!({ "error": "unknown control path" }))
        }
    }
}

impl Shared {
    fn new(key: Option<&str>, path_prefix: &str) -> Shared {
        Shared {
            key: key.map(str::to_string),
            secret: String::new(),
            region: String::new(),
            path_prefix: path_prefix.trim_end_matches('/').to_string(),
            script: Mutex::new(VecDeque::new()),
            ids: AtomicU64::new(0),
            reported: Mutex::new(ReportedUsage::default()),
        }
    }

    fn push(&self, answer: Answer) {
        self.script
            .lock()
            .expect("no test panics while holding it")
            .push_back(answer);
    }

    /// The next scripted answer, or [`Answer::auto`].
    pub fn next_answer(&self) -> Answer {
        self.script
            .lock()
            .expect("no test panics while holding it")
            .pop_front()
            .unwrap_or_else(Answer::auto)
    }

    /// Adds one answer's usage to [`LlmFake::reported_usage`].
    pub fn report(&self, input_tokens: u64, output_tokens: u64) {
        let mut reported = self
            .reported
            .lock()
            .expect("no test panics while holding it");
        reported.answers += 1;
        reported.input_tokens += input_tokens;
        reported.output_tokens += output_tokens;
    }

    /// A fresh number for ids (`msg_fake0001`, `call_fake0002`, ...).
    pub fn id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The key, for providers that always require one.
    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or_default()
    }
}

/// A running provider fake on a free loopback port; stops when dropped.
pub struct LlmFake {
    provider: Provider,
    shared: Arc<Shared>,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    server: server::Server,
}

impl LlmFake {
    /// The Anthropic Messages API, accepting `x-api-key: <api_key>`.
    pub async fn anthropic(api_key: &str) -> Result<LlmFake, HarnessError> {
        Self::start(Provider::Anthropic, Shared::new(Some(api_key), "")).await
    }

    /// OpenAI Chat Completions, accepting `Authorization: Bearer <api_key>`.
    pub async fn openai(api_key: &str) -> Result<LlmFake, HarnessError> {
        Self::start(Provider::OpenAi, Shared::new(Some(api_key), "")).await
    }

    /// An OpenAI-compatible server (vLLM, Ollama, ...) serving `<path_prefix>/v1/...`, with an
    /// optional key.
    pub async fn openai_compatible(
        api_key: Option<&str>,
        path_prefix: &str,
    ) -> Result<LlmFake, HarnessError> {
        Self::start(Provider::OpenAi, Shared::new(api_key, path_prefix)).await
    }

    /// Bedrock's runtime API in `region`, accepting only requests SigV4-signed with this key.
    pub async fn bedrock(
        access_key_id: &str,
        secret_access_key: &str,
        region: &str,
    ) -> Result<LlmFake, HarnessError> {
        let shared = Shared::new(Some(access_key_id), "");
        let shared = Shared {
            secret: secret_access_key.to_string(),
            region: region.to_string(),
            ..shared
        };
        Self::start(Provider::Bedrock, shared).await
    }

    async fn start(provider: Provider, shared: Shared) -> Result<LlmFake, HarnessError> {
        let shared = Arc::new(shared);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answering = Arc::clone(&shared);
        let listed = Arc::clone(&requests);
        let handler: Arc<server::Handler> = Arc::new(move |request| {
            if request.path.starts_with(CONTROL_PREFIX) {
                return control(&answering, &listed, request);
            }
            match provider {
                Provider::Anthropic => anthropic::handle(&answering, request),
                Provider::OpenAi => openai::handle(&answering, request),
                Provider::Bedrock => bedrock::handle(&answering, request),
            }
        });
        let recorded = Arc::clone(&requests);
        let record = Arc::new(move |request: RecordedRequest| {
            if !request.path.starts_with(CONTROL_PREFIX) {
                recorded
                    .lock()
                    .expect("no test panics while holding it")
                    .push(request);
            }
        });
        let server = server::Server::start(handler, record).await?;
        Ok(LlmFake {
            provider,
            shared,
            requests,
            server,
        })
    }

    /// Which API this fake speaks.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// Where the fake listens.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://<addr>`: the base URL an SDK would use (OpenAI's adds `/v1`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Queues the answer to the next request that passes validation (in order; once the queue
    /// is empty, answers are [`Answer::auto`]).
    pub fn script(&self, answer: Answer) {
        self.shared.push(answer);
    }

    /// Every request received so far, valid or not.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests
            .lock()
            .expect("no test panics while holding it")
            .clone()
    }

    /// The usage this fake reported in its answers so far (a stream cut by the script may not
    /// have delivered all of it).
    pub fn reported_usage(&self) -> ReportedUsage {
        *self
            .shared
            .reported
            .lock()
            .expect("no test panics while holding it")
    }

    /// The JSON body of the last request received (`Null` if none or not JSON).
    pub fn last_body(&self) -> Value {
        self.requests()
            .last()
            .and_then(|r| serde_json::from_slice(&r.body).ok())
            .unwrap_or(Value::Null)
    }
}
