//! The per-stream LLM filter: holds the client's request until it is complete, plans it
//! ([`crate::plan`]), rewrites path, credentials and body, picks the upstream cluster, and
//! translates the response (buffered JSON, errors, or the stream chunk by chunk).

use std::sync::Arc;

use ai_gateway_core::{Action, Direction, Host, HttpFilter, LogLevel};

use crate::bedrock::converse::converse_to_message;
use crate::bedrock::{sigv4, ConverseStream};
use crate::config::{Provider, ProviderKind, Settings};
use crate::metrics::{
    self, NONE, REQUESTS_TOTAL, REQUEST_DURATION_MS, TIME_TO_FIRST_TOKEN_MS, TOKENS_TOTAL,
};
use crate::models;
use crate::plan::{plan, Endpoint, Plan, Refusal, Translation};
use crate::stream::{
    AnthropicSse, AnthropicToOpenAi, OpenAiToAnthropic, StreamTokens, StreamTranslator,
};
use crate::translate::errors::{error_body, translate_error, Api};
use crate::translate::response_to_anthropic::completion_to_message;
use crate::translate::response_to_openai::message_to_completion;
use crate::translate::TranslateError;

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
    /// Held whole, then translated (a success body or an error body).
    Buffer { error: bool },
    /// Translated chunk by chunk.
    Stream(Box<dyn StreamTranslator>),
}

/// One HTTP stream through the LLM filter.
pub struct LlmFilter {
    settings: Arc<Settings>,
    phase: Phase,
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
}

impl LlmFilter {
    /// A filter for one stream.
    pub fn new(settings: Arc<Settings>) -> Self {
        LlmFilter {
            settings,
            phase: Phase::Idle,
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
        }
    }

    fn refuse(&mut self, host: &mut dyn Host, refusal: Refusal) -> Action {
        self.phase = Phase::Answered;
        self.status = Some(refusal.status);
        host.send_local_reply(
            refusal.status,
            &[("content-type", "application/json")],
            &refusal.body,
            refusal.details,
        );
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
        let plan = match decision.result {
            Ok(plan) => plan,
            Err(refusal) => return self.refuse(host, refusal),
        };
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

    fn forward(&mut self, host: &mut dyn Host, plan: Plan) {
        let settings = self.settings.clone();
        let provider = &settings.providers[plan.provider];
        self.provider = Some(plan.provider);
        self.phase = Phase::Forwarded;
        host.set_header(
            Direction::Request,
            "content-length",
            &plan.body.len().to_string(),
        );
        host.set_header(Direction::Request, ":path", &plan.path);
        if let Some(authority) = provider.authority() {
            host.set_header(Direction::Request, ":authority", &authority);
        }
        self.credentials(host, provider);
        if let Some(auth) = &provider.bedrock {
            let stream =
                matches!(&plan.translation, Translation::ToBedrock { ctx, .. } if ctx.stream);
            let accept = if stream {
                "application/vnd.amazon.eventstream"
            } else {
                "application/json"
            };
            host.set_header(Direction::Request, "content-type", "application/json");
            host.set_header(Direction::Request, "accept", accept);
            let authority = host
                .header(Direction::Request, ":authority")
                .unwrap_or_default();
            let request = sigv4::Request {
                method: "POST",
                host: &authority,
                path: &plan.path,
                content_type: "application/json",
                body: &plan.body,
            };
            let signed = sigv4::sign(
                &request,
                &auth.credentials,
                &auth.region,
                "bedrock",
                host.unix_seconds(),
            );
            for (name, value) in signed {
                host.set_header(Direction::Request, name, &value);
            }
        }
        if plan.translation != Translation::Passthrough {
            // The response body is parsed and rewritten: it must arrive uncompressed.
            host.remove_header(Direction::Request, "accept-encoding");
        }
        host.set_header(Direction::Request, CLUSTER_HEADER, &provider.cluster);
        host.clear_route_cache();
        self.translation = plan.translation;
    }

    /// The provider's key replaces the client's (kept only with `passthroughClientKeys`, and
    /// then moved to the header the provider reads when the client's API uses another).
    fn credentials(&self, host: &mut dyn Host, provider: &Provider) {
        let client_key = client_key(host);
        for name in CLIENT_KEY_HEADERS {
            host.remove_header(Direction::Request, name);
        }
        let key = match (&provider.api_key, self.settings.passthrough_client_keys) {
            (Some(key), _) => Some(key.clone()),
            (None, true) => client_key,
            (None, false) => None,
        };
        match provider.kind {
            ProviderKind::Anthropic => {
                if let Some(key) = key {
                    host.set_header(Direction::Request, "x-api-key", &key);
                }
                if self.api != Api::Anthropic
                    || host
                        .header(Direction::Request, "anthropic-version")
                        .is_none()
                {
                    host.set_header(
                        Direction::Request,
                        "anthropic-version",
                        &provider.anthropic_version,
                    );
                }
            }
            // Bedrock takes no key: requests are signed (see `forward`).
            ProviderKind::Bedrock => {
                host.remove_header(Direction::Request, "anthropic-version");
                host.remove_header(Direction::Request, "anthropic-beta");
            }
            ProviderKind::Openai | ProviderKind::OpenaiCompatible => {
                if let Some(key) = key {
                    host.set_header(
                        Direction::Request,
                        "authorization",
                        &format!("Bearer {key}"),
                    );
                }
                host.remove_header(Direction::Request, "anthropic-version");
                host.remove_header(Direction::Request, "anthropic-beta");
            }
        }
    }

    fn start_response(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        let status = self.status.unwrap_or(0);
        let content_type = host
            .header(Direction::Response, "content-type")
            .unwrap_or_default();
        let content_type = content_type.trim_start();
        let event_stream = content_type.starts_with("text/event-stream")
            || content_type.starts_with("application/vnd.amazon.eventstream");
        self.streaming = (200..300).contains(&status) && event_stream && !end_of_stream;
        if self.translation == Translation::Passthrough {
            return Action::Continue;
        }
        host.remove_header(Direction::Response, "content-length");
        if self.streaming {
            let translator = self.stream_translator(host);
            self.response = ResponseMode::Stream(translator);
            host.set_header(Direction::Response, "content-type", "text/event-stream");
            return Action::Continue;
        }
        self.response = ResponseMode::Buffer {
            error: !(200..300).contains(&status),
        };
        if end_of_stream {
            self.finish_buffered(host, &[]);
            return Action::Continue;
        }
        Action::Pause
    }

    fn stream_translator(&self, host: &dyn Host) -> Box<dyn StreamTranslator> {
        let created = host.unix_seconds();
        match &self.translation {
            Translation::OpenAiToAnthropic(ctx) => {
                Box::new(AnthropicToOpenAi::new(ctx.clone(), created))
            }
            Translation::ToBedrock { ctx, model } => {
                let id = bedrock_message_id(host);
                match self.api {
                    Api::OpenAi => Box::new(ConverseStream::new(
                        AnthropicToOpenAi::new(ctx.clone(), created),
                        id,
                        model.clone(),
                    )),
                    Api::Anthropic => Box::new(ConverseStream::new(
                        AnthropicSse::default(),
                        id,
                        model.clone(),
                    )),
                }
            }
            Translation::AnthropicToOpenAi(_) | Translation::Passthrough => {
                Box::new(OpenAiToAnthropic::new())
            }
        }
    }

    /// Translates a held body and sets the headers that describe the new one.
    fn finish_buffered(&mut self, host: &mut dyn Host, body: &[u8]) {
        let ResponseMode::Buffer { error } = self.response else {
            return;
        };
        let (status, out) = if error {
            let status = self.status.unwrap_or(502);
            translate_error(self.api, status, body)
        } else {
            match self.translate_success(host, body) {
                Ok(out) => (self.status.unwrap_or(200), out),
                Err(err) => {
                    host.log(
                        LogLevel::Warn,
                        format_args!("llm: provider response not translated: {err}"),
                    );
                    let message = format!("the provider's response could not be translated: {err}");
                    (502, error_body(self.api, 502, &message, None))
                }
            }
        };
        self.status = Some(status);
        host.set_header(Direction::Response, ":status", &status.to_string());
        host.set_header(Direction::Response, "content-type", "application/json");
        host.set_header(
            Direction::Response,
            "content-length",
            &out.len().to_string(),
        );
        if let Err(err) = host.set_body(Direction::Response, &out) {
            host.log(
                LogLevel::Error,
                format_args!("llm: could not replace the response body: {err}"),
            );
        }
    }

    fn translate_success(
        &mut self,
        host: &dyn Host,
        body: &[u8],
    ) -> Result<Vec<u8>, TranslateError> {
        let encoded = match &self.translation {
            Translation::OpenAiToAnthropic(ctx) => {
                let msg = crate::translate::parse_body(body)?;
                let out = message_to_completion(msg, ctx, host.unix_seconds())?;
                if let Some(usage) = &out.usage {
                    self.tokens = StreamTokens {
                        input: usage.prompt_tokens,
                        output: usage.completion_tokens,
                    };
                }
                serde_json::to_vec(&out)
            }
            Translation::AnthropicToOpenAi(_) => {
                let completion = crate::translate::parse_body(body)?;
                let out = completion_to_message(completion)?;
                self.tokens = StreamTokens {
                    input: out.usage.input_tokens + out.usage.cache_read_input_tokens.unwrap_or(0),
                    output: out.usage.output_tokens,
                };
                serde_json::to_vec(&out)
            }
            Translation::ToBedrock { ctx, model } => {
                let msg = converse_to_message(body, &bedrock_message_id(host), model)?;
                self.tokens = StreamTokens {
                    input: msg.usage.input_tokens + msg.usage.cache_read_input_tokens.unwrap_or(0),
                    output: msg.usage.output_tokens,
                };
                match self.api {
                    Api::OpenAi => {
                        serde_json::to_vec(&message_to_completion(msg, ctx, host.unix_seconds())?)
                    }
                    Api::Anthropic => serde_json::to_vec(&msg),
                }
            }
            Translation::Passthrough => return Ok(body.to_vec()),
        };
        encoded.map_err(|e| TranslateError::invalid("body", e.to_string()))
    }

    fn response_too_large(&mut self, host: &mut dyn Host) -> Action {
        let limit = self.settings.max_response_bytes;
        host.log(
            LogLevel::Warn,
            format_args!("llm: provider response exceeds maxResponseBytes ({limit})"),
        );
        self.response = ResponseMode::Pass;
        self.status = Some(502);
        let body = error_body(
            self.api,
            502,
            &format!("the provider's response exceeds the gateway's limit of {limit} bytes"),
            None,
        );
        host.send_local_reply(
            502,
            &[("content-type", "application/json")],
            &body,
            "llm_response_too_large",
        );
        Action::Pause
    }

    fn record(&mut self, host: &mut dyn Host) {
        let provider = self
            .provider
            .map(|i| self.settings.providers[i].name.as_str())
            .unwrap_or(NONE);
        let model = match &self.model {
            Some(m) => self.settings.model_tags.limit(m),
            None => NONE,
        };
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
        if self.tokens.input > 0 {
            host.counter_add(TOKENS_TOTAL, &[provider, model, "input"], self.tokens.input);
        }
        if self.tokens.output > 0 {
            host.counter_add(
                TOKENS_TOTAL,
                &[provider, model, "output"],
                self.tokens.output,
            );
        }
    }
}

fn elapsed_ms(host: &dyn Host, since_nanos: u64) -> u64 {
    host.monotonic_nanos().saturating_sub(since_nanos) / 1_000_000
}

/// The key the client sent: a bearer token or an `x-api-key`/`api-key` value.
fn client_key(host: &dyn Host) -> Option<String> {
    if let Some(auth) = host.header(Direction::Request, "authorization") {
        let token = auth.strip_prefix("Bearer ").unwrap_or(&auth).trim();
        if !token.is_empty() {
            return Some(token.to_string());
        }
    }
    host.header(Direction::Request, "x-api-key")
        .or_else(|| host.header(Direction::Request, "api-key"))
        .filter(|k| !k.is_empty())
}

/// The id of a Bedrock answer: Bedrock's request id (Converse has no message id).
fn bedrock_message_id(host: &dyn Host) -> String {
    match host.header(Direction::Response, "x-amzn-requestid") {
        Some(id) if !id.is_empty() => format!("msg_bdrk_{id}"),
        _ => "msg_bdrk".to_string(),
    }
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
            ResponseMode::Pass => {
                if self.streaming
                    && self.first_token_ms.is_none()
                    && !host.body(Direction::Response).is_empty()
                {
                    self.first_token_ms = Some(elapsed_ms(host, self.started_nanos));
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
                if let Err(err) = host.set_body(Direction::Response, &out) {
                    host.log(
                        LogLevel::Error,
                        format_args!("llm: could not replace a stream chunk: {err}"),
                    );
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
        if let ResponseMode::Stream(translator) = &self.response {
            // A stream that never saw its end (reset mid-way) did not complete.
            self.stream_failed |= !translator.completed();
        }
        self.record(host);
    }
}
