//! The per-stream LLM filter: holds the client's request until it is complete, plans it
//! ([`crate::plan`]), rewrites path, credentials and body, picks the upstream cluster, and
//! translates the response (buffered JSON, errors, or the stream chunk by chunk).

use std::sync::Arc;

use ai_gateway_core::{Action, Direction, Host, HttpFilter, LogLevel};

mod account;
mod observe;
mod response;
mod upstream;

use crate::config::Settings;
use crate::metrics::{
    self, NONE, REQUESTS_TOTAL, REQUEST_DURATION_MS, TIME_TO_FIRST_TOKEN_MS, TOKENS_TOTAL,
};
use crate::models;
use crate::plan::{plan, Endpoint, Refusal, Translation};
use crate::stream::{StreamTokens, StreamTranslator};
use crate::translate::errors::Api;

/// Metadata namespace of the filter's request attributes (dynamic metadata in the dynamic
/// module, filter state `wasm.ai_gateway.llm.<key>` under Wasm), each set as soon as known:
/// `provider`, `model` (the provider's model), `request_model` (the client's), `operation` when
/// the request is forwarded; `input_tokens` as soon as the provider reports it (Anthropic
/// streams: at `message_start`); `output_tokens`, `total_tokens`, `cached_tokens`,
/// `reasoning_tokens` and `response_model` when the answer ends, e.g. for an access log or a
/// rate limit applied on stream done with `hits_addend` from `total_tokens`. Not written when
/// `accounting.enabled` is false (except `provider` and `model`).
pub const METADATA_NAMESPACE: &str = "ai_gateway.llm";

/// The request header naming the provider's Envoy cluster; the route's `cluster_header`.
pub const CLUSTER_HEADER: &str = "x-ai-gateway-llm-cluster";

/// Headers that carry a client's own provider key.
const CLIENT_KEY_HEADERS: [&str; 3] = ["authorization", "x-api-key", "api-key"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not an LLM endpoint: untouched.
    Idle,
    /// `GET /v1/models`, answered from the config (not a model request: no metrics).
    Listed,
    /// Holding the request body.
    Buffering(Endpoint),
    /// Answered locally.
    Answered,
    /// Sent upstream.
    Forwarded,
}

/// What happens to the response body.
enum ResponseMode {
    /// Forwarded as is.
    Pass,
    /// Forwarded as is while its usage is read (same-API answers).
    Observe(Box<observe::Observer>),
    /// Held whole, then translated (a success body or an error body).
    Buffer { error: bool },
    /// Translated chunk by chunk.
    Stream(Box<dyn StreamTranslator>),
}

/// One HTTP stream through the LLM filter.
pub struct LlmFilter {
    settings: Arc<Settings>,
    phase: Phase,
    /// The client's endpoint, once known.
    endpoint: Option<Endpoint>,
    api: Api,
    provider: Option<usize>,
    model: Option<String>,
    translation: Translation,
    response: ResponseMode,
    status: Option<u16>,
    stream_failed: bool,
    tokens: StreamTokens,
    started_nanos: u64,
    /// The response is a 2xx stream (SSE or eventstream).
    streaming: bool,
    /// Milliseconds from the request to the first streamed bytes sent to the client.
    first_token_ms: Option<u64>,
    recorded: bool,
    /// The client's output-token ceiling (a budget's estimate).
    max_tokens: u64,
    /// The provider's model the request was sent for.
    provider_model: Option<String>,
    /// The model the provider says answered.
    response_model: Option<String>,
    /// Remove the usage chunk the gateway asked for from the client's stream.
    strip_usage: bool,
    input_published: bool,
    /// Budget tokens held until the answer's usage is known.
    reservation: Option<crate::accounting::budget::Reservation>,
}

impl LlmFilter {
    /// A filter for one stream.
    pub fn new(settings: Arc<Settings>) -> Self {
        LlmFilter {
            settings,
            phase: Phase::Idle,
            endpoint: None,
            api: Api::OpenAi,
            provider: None,
            model: None,
            translation: Translation::Passthrough,
            response: ResponseMode::Pass,
            status: None,
            stream_failed: false,
            tokens: StreamTokens::default(),
            started_nanos: 0,
            streaming: false,
            first_token_ms: None,
            recorded: false,
            max_tokens: 0,
            provider_model: None,
            response_model: None,
            strip_usage: false,
            input_published: false,
            reservation: None,
        }
    }

    fn refuse(&mut self, host: &mut dyn Host, refusal: Refusal) -> Action {
        self.phase = Phase::Answered;
        self.status = Some(refusal.status);
        let retry_after = refusal.retry_after.map(|s| s.to_string());
        let mut headers = vec![("content-type", "application/json")];
        if let Some(seconds) = &retry_after {
            headers.push(("retry-after", seconds.as_str()));
        }
        host.send_local_reply(refusal.status, &headers, &refusal.body, refusal.details);
        Action::Pause
    }

    fn too_large(&mut self, host: &mut dyn Host) -> Action {
        let limit = self.settings.max_request_bytes;
        let refusal = Refusal::new(
            self.api,
            413,
            &format!("the request body exceeds the gateway's limit of {limit} bytes"),
            None,
            "llm_request_too_large",
        );
        self.refuse(host, refusal)
    }

    fn dispatch(&mut self, host: &mut dyn Host, endpoint: Endpoint, body: &[u8]) -> Action {
        let decision = plan(&self.settings, endpoint, body);
        self.model = decision.model;
        self.max_tokens = decision.max_tokens;
        let plan = match decision.result {
            Ok(plan) => plan,
            Err(refusal) => return self.refuse(host, refusal),
        };
        if let Err(refusal) = self.admit(host, plan.provider) {
            self.provider = Some(plan.provider);
            return self.refuse(host, refusal);
        }
        if let Err(err) = host.set_body(Direction::Request, &plan.body) {
            host.log(
                LogLevel::Error,
                format_args!("llm: could not replace the request body: {err}"),
            );
            let refusal = Refusal::new(
                self.api,
                500,
                "could not rewrite the request",
                None,
                "llm_internal",
            );
            return self.refuse(host, refusal);
        }
        self.forward(host, plan);
        Action::Continue
    }

    fn record(&mut self, host: &mut dyn Host) {
        let provider = self
            .provider
            .map(|i| self.settings.providers[i].name.as_str())
            .unwrap_or(NONE);
        let model = self.model_tag();
        let api = self.api.as_str();
        let outcome = metrics::outcome(self.status, self.stream_failed);
        host.counter_add(REQUESTS_TOTAL, &[provider, model, api, outcome], 1);
        host.histogram_record(
            REQUEST_DURATION_MS,
            &[provider, api],
            elapsed_ms(host, self.started_nanos),
        );
        if let Some(ms) = self.first_token_ms {
            host.histogram_record(TIME_TO_FIRST_TOKEN_MS, &[provider, api], ms);
        }
        self.record_gen_ai(host, provider);
        let t = self.tokens;
        let kinds = [
            ("input", t.input),
            ("output", t.output),
            ("cached", t.cached),
            ("reasoning", t.reasoning),
        ];
        for (kind, count) in kinds {
            if count > 0 {
                host.counter_add(TOKENS_TOTAL, &[provider, model, kind], count);
            }
        }
    }
}

fn elapsed_ms(host: &dyn Host, since_nanos: u64) -> u64 {
    host.monotonic_nanos().saturating_sub(since_nanos) / 1_000_000
}

/// Whether the client speaks the Anthropic API on an endpoint both APIs share.
fn anthropic_client(host: &dyn Host) -> bool {
    host.header(Direction::Request, "anthropic-version")
        .is_some()
}

impl HttpFilter for LlmFilter {
    fn on_request_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        // A client must never pick the cluster itself.
        if host.header(Direction::Request, CLUSTER_HEADER).is_some() {
            host.remove_header(Direction::Request, CLUSTER_HEADER);
            host.clear_route_cache();
        }
        let path = host.header(Direction::Request, ":path").unwrap_or_default();
        let method = host
            .header(Direction::Request, ":method")
            .unwrap_or_default();
        if path.split(['?', '#']).next() == Some("/v1/models") && method == "GET" {
            let api = if anthropic_client(host) {
                Api::Anthropic
            } else {
                Api::OpenAi
            };
            self.phase = Phase::Listed;
            let body = models::list(&self.settings, api);
            host.send_local_reply(
                200,
                &[("content-type", "application/json")],
                &body,
                "llm_models",
            );
            return Action::Pause;
        }
        let Some(endpoint) = Endpoint::of_path(&path) else {
            return Action::Continue;
        };
        self.api = endpoint.api();
        self.endpoint = Some(endpoint);
        self.started_nanos = host.monotonic_nanos();
        self.phase = Phase::Buffering(endpoint);
        if method != "POST" {
            let refusal = Refusal::new(
                self.api,
                405,
                "only POST is served on this endpoint",
                None,
                "llm_method_not_allowed",
            );
            return self.refuse(host, refusal);
        }
        let declared = host
            .header(Direction::Request, "content-length")
            .and_then(|v| v.trim().parse::<usize>().ok());
        if declared.is_some_and(|len| len > self.settings.max_request_bytes) {
            return self.too_large(host);
        }
        if end_of_stream {
            return self.dispatch(host, endpoint, &[]);
        }
        Action::Pause
    }

    fn on_request_body(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        let endpoint = match self.phase {
            Phase::Buffering(endpoint) => endpoint,
            Phase::Answered | Phase::Listed => return Action::Pause,
            Phase::Idle | Phase::Forwarded => return Action::Continue,
        };
        let body = host.body(Direction::Request);
        if body.len() > self.settings.max_request_bytes {
            return self.too_large(host);
        }
        if !end_of_stream {
            return Action::Pause;
        }
        self.dispatch(host, endpoint, &body)
    }

    fn on_response_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        if self.phase != Phase::Forwarded {
            return Action::Continue;
        }
        self.status = host
            .header(Direction::Response, ":status")
            .and_then(|s| s.trim().parse().ok());
        self.start_response(host, end_of_stream)
    }

    fn on_response_body(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        match &mut self.response {
            ResponseMode::Pass => Action::Continue,
            ResponseMode::Observe(observer) => {
                let chunk = host.body(Direction::Response);
                let seen = observer.chunk(&chunk);
                if seen.input_known || end_of_stream {
                    self.tokens = observer.tokens();
                }
                if end_of_stream {
                    self.response_model = observer.model();
                }
                let sent = match seen.replacement {
                    Some(bytes) => {
                        let sent = !bytes.is_empty();
                        if let Err(err) = host.set_body(Direction::Response, &bytes) {
                            host.log(
                                LogLevel::Error,
                                format_args!("llm: could not replace a stream chunk: {err}"),
                            );
                        }
                        sent
                    }
                    None => !chunk.is_empty(),
                };
                if self.streaming && self.first_token_ms.is_none() && sent {
                    self.first_token_ms = Some(elapsed_ms(host, self.started_nanos));
                }
                self.publish_input(host);
                if end_of_stream {
                    self.publish_tokens(host);
                }
                Action::Continue
            }
            ResponseMode::Stream(translator) => {
                let chunk = host.body(Direction::Response);
                let mut out = translator.feed(&chunk);
                if end_of_stream {
                    out.extend(translator.finish());
                    self.stream_failed = !translator.completed();
                }
                if self.first_token_ms.is_none() && !out.is_empty() {
                    self.first_token_ms = Some(elapsed_ms(host, self.started_nanos));
                }
                self.tokens = translator.tokens();
                self.publish_input(host);
                if let Err(err) = host.set_body(Direction::Response, &out) {
                    host.log(
                        LogLevel::Error,
                        format_args!("llm: could not replace a stream chunk: {err}"),
                    );
                }
                if end_of_stream {
                    self.publish_tokens(host);
                }
                Action::Continue
            }
            ResponseMode::Buffer { .. } => {
                let body = host.body(Direction::Response);
                if body.len() > self.settings.max_response_bytes {
                    return self.response_too_large(host);
                }
                if !end_of_stream {
                    return Action::Pause;
                }
                self.finish_buffered(host, &body);
                Action::Continue
            }
        }
    }

    fn on_stream_done(&mut self, host: &mut dyn Host) {
        if self.recorded || matches!(self.phase, Phase::Idle | Phase::Listed) {
            return;
        }
        self.recorded = true;
        // An answer that never ended releases its budget reservation.
        self.settle(host);
        if let ResponseMode::Stream(translator) = &self.response {
            // A stream that never saw its end (reset mid-way) did not complete.
            self.stream_failed |= !translator.completed();
        }
        self.record(host);
    }
}
