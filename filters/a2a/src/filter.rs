//! The per-stream A2A filter: classifies the request, buffers and rewrites agent-card
//! responses (and only those), observes everything else without holding it back, and
//! records metrics when the stream ends.

use std::borrow::Cow;
use std::sync::Arc;

use ai_gateway_core::{Action, Direction, Host, HttpFilter, LogLevel};

use crate::card_rewrite::{
    rejection_body, rewrite_card, CardDecision, CardEnvelope, CardResult, RewriteTarget,
};
use crate::config::Settings;
use crate::inspect::{jsonrpc_error_code, BoundedCopy, ResponseInspector};
use crate::methods::{self, BodyMethod};
use crate::metrics::{self, CARDS_TOTAL, REQUESTS_TOTAL, REQUEST_DURATION_MS};
use crate::url::{base_from_request, path_only};

/// Paths (below the agent prefix) serving the public card, or the v0.3 extended card.
const CARD_PATH_SUFFIXES: [&str; 3] = [
    "/.well-known/agent-card.json",
    "/.well-known/agent.json",
    "/agent/authenticatedExtendedCard",
];

/// What the request is, as far as the filter cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestKind {
    /// A GET whose response is an agent card.
    Card,
    /// A POST to a JSON-RPC endpoint: the body names the method.
    JsonRpc,
    /// Anything else (REST calls, other paths).
    Other,
}

/// Progress of a card response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CardState {
    /// Not a card response (or already handled).
    Idle,
    /// Holding the response body until it is complete.
    Buffering(CardEnvelope),
}

/// One HTTP stream through the A2A filter.
pub struct A2aFilter {
    settings: Arc<Settings>,
    /// Index of the matched agent in `settings.agents`.
    agent: Option<usize>,
    kind: RequestKind,
    /// The bounded `method` tag; `None` until a JSON-RPC body has been read.
    method: Option<Cow<'static, str>>,
    request_copy: Option<BoundedCopy>,
    /// The public base URL for card rewriting, when this request may return a card.
    public_base: Option<String>,
    started_nanos: u64,
    seen_request: bool,
    card: CardState,
    inspector: ResponseInspector,
    status: Option<u16>,
    jsonrpc_error: Option<i64>,
    recorded: bool,
}

impl A2aFilter {
    /// A filter for one stream.
    pub fn new(settings: Arc<Settings>) -> Self {
        A2aFilter {
            settings,
            agent: None,
            kind: RequestKind::Other,
            method: None,
            request_copy: None,
            public_base: None,
            started_nanos: 0,
            seen_request: false,
            card: CardState::Idle,
            inspector: ResponseInspector::Off,
            status: None,
            jsonrpc_error: None,
            recorded: false,
        }
    }

    fn agent_name(&self) -> &str {
        match self.agent {
            Some(i) => &self.settings.agents[i].name,
            None => ai_gateway_core::metrics::OTHER,
        }
    }

    /// Sets the method tag from a JSON-RPC body: parsed whole when it was complete and fit the
    /// copy, else scanned from the copied prefix.
    fn resolve_body_method(&mut self, complete: bool) {
        let found = match &self.request_copy {
            Some(copy) if complete && !copy.truncated() => methods::method_of_body(copy.bytes()),
            Some(copy) => methods::method_of_prefix(copy.bytes()),
            None => BodyMethod::Malformed,
        };
        self.request_copy = None;
        let tag = match found {
            BodyMethod::Named(name) => self.settings.method_tags.limit(&name).to_string(),
            BodyMethod::Malformed => methods::UNKNOWN.to_string(),
        };
        self.method = Some(Cow::Owned(tag));
    }

    fn method_tag(&self) -> &str {
        self.method.as_deref().unwrap_or(methods::UNKNOWN)
    }

    fn count_card(&self, host: &mut dyn Host, result: CardResult) {
        host.counter_add(CARDS_TOTAL, &[self.agent_name(), result.as_str()], 1);
    }

    /// Decides at response headers whether to hold the body for rewriting.
    fn card_envelope(&self) -> Option<CardEnvelope> {
        match self.kind {
            RequestKind::Card => Some(CardEnvelope::Bare),
            RequestKind::JsonRpc
                if self
                    .method
                    .as_deref()
                    .is_some_and(methods::is_extended_card_method) =>
            {
                Some(CardEnvelope::JsonRpcResult)
            }
            RequestKind::Other
                if self.method.as_deref() == Some(methods::GET_EXTENDED_AGENT_CARD) =>
            {
                Some(CardEnvelope::Bare)
            }
            _ => None,
        }
    }

    fn start_card(&mut self, host: &mut dyn Host, envelope: CardEnvelope) -> Action {
        let agent = self.agent_name().to_string();
        if self.public_base.is_none() {
            host.log(
                LogLevel::Warn,
                format_args!("a2a: agent {agent}: card not rewritten: no publicBaseUrl and no valid Host header"),
            );
            return Action::Continue;
        }
        if let Some(encoding) = host.header(Direction::Response, "content-encoding") {
            if !encoding.trim().eq_ignore_ascii_case("identity") {
                host.log(
                    LogLevel::Warn,
                    format_args!("a2a: agent {agent}: card passed through unchanged: content-encoding {encoding}"),
                );
                self.count_card(host, CardResult::NotJson);
                return Action::Continue;
            }
        }
        let declared = host
            .header(Direction::Response, "content-length")
            .and_then(|v| v.trim().parse::<usize>().ok());
        if declared.is_some_and(|len| len > self.settings.max_card_bytes) {
            self.card_too_large(host);
            return Action::Continue;
        }
        // The rewritten card has a different length (the proxy recomputes framing) and is a
        // different representation, so the agent's validator no longer describes it.
        host.remove_header(Direction::Response, "content-length");
        host.remove_header(Direction::Response, "etag");
        self.card = CardState::Buffering(envelope);
        Action::Pause
    }

    fn card_too_large(&mut self, host: &mut dyn Host) {
        let agent = self.agent_name().to_string();
        host.log(
            LogLevel::Warn,
            format_args!(
                "a2a: agent {agent}: card larger than maxCardBytes ({}) passed through unchanged",
                self.settings.max_card_bytes
            ),
        );
        self.count_card(host, CardResult::TooLarge);
        self.card = CardState::Idle;
    }

    fn finish_card(&mut self, host: &mut dyn Host, envelope: CardEnvelope) -> Action {
        self.card = CardState::Idle;
        let body = host.body(Direction::Response);
        if envelope == CardEnvelope::JsonRpcResult {
            self.jsonrpc_error = jsonrpc_error_code(&body);
        }
        let (Some(i), Some(base)) = (self.agent, self.public_base.as_deref()) else {
            return Action::Continue;
        };
        let agent = &self.settings.agents[i];
        let target = RewriteTarget {
            agent,
            public_base: base,
        };
        match rewrite_card(&body, envelope, target, self.settings.signed_cards) {
            CardDecision::Replace {
                body,
                result,
                skipped,
            } => {
                for s in &skipped {
                    host.log(
                        LogLevel::Warn,
                        format_args!(
                            "a2a: agent {}: card {} {:?} kept as is: {:?}",
                            agent.name, s.field, s.url, s.reason
                        ),
                    );
                }
                if result == CardResult::SignatureStripped {
                    host.log(
                        LogLevel::Info,
                        format_args!("a2a: agent {}: card signatures stripped (they cannot verify after rewriting)", agent.name),
                    );
                }
                if let Err(err) = host.set_body(Direction::Response, &body) {
                    host.log(
                        LogLevel::Error,
                        format_args!("a2a: agent {}: could not replace card: {err}", agent.name),
                    );
                    return Action::Continue;
                }
                self.count_card(host, result);
            }
            CardDecision::Unchanged {
                result: Some(result),
            } => {
                host.log(
                    LogLevel::Warn,
                    format_args!(
                        "a2a: agent {}: card passed through unchanged ({})",
                        agent.name,
                        result.as_str()
                    ),
                );
                self.count_card(host, result);
            }
            CardDecision::Unchanged { result: None } => {}
            CardDecision::Reject => {
                host.log(
                    LogLevel::Warn,
                    format_args!(
                        "a2a: agent {}: signed card rejected (signedCards: reject)",
                        agent.name
                    ),
                );
                self.count_card(host, CardResult::SignedRejected);
                self.status = Some(502);
                host.send_local_reply(
                    502,
                    &[("content-type", "application/json")],
                    &rejection_body(),
                    "a2a_signed_card_rejected",
                );
                return Action::Pause;
            }
        }
        Action::Continue
    }
}

impl HttpFilter for A2aFilter {
    fn on_request_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        self.seen_request = true;
        self.started_nanos = host.monotonic_nanos();
        let mut values = host
            .header_values(Direction::Request, &[":path", ":method"])
            .into_iter();
        let path = values.next().flatten().unwrap_or_default();
        let http_method = values.next().flatten().unwrap_or_default();
        self.agent = self.settings.agent_for_path(&path);
        let relative = match self.agent {
            Some(i) => &path[self.settings.agents[i].path_prefix.len()..],
            None => path.as_str(),
        };
        let relative_path = path_only(relative);

        if http_method == "GET"
            && CARD_PATH_SUFFIXES
                .iter()
                .any(|s| relative_path.ends_with(s))
        {
            self.kind = RequestKind::Card;
            self.method = Some(Cow::Borrowed(methods::CARD));
        } else if let Some(rest) = methods::rest_method(&http_method, relative_path) {
            self.method = Some(Cow::Borrowed(rest));
        } else if http_method == "POST" {
            self.kind = RequestKind::JsonRpc;
            if end_of_stream {
                self.method = Some(Cow::Borrowed(methods::UNKNOWN));
            } else {
                self.request_copy = Some(BoundedCopy::new(self.settings.max_inspect_bytes));
            }
        } else {
            self.method = Some(Cow::Borrowed(ai_gateway_core::metrics::OTHER));
        }

        let may_return_card = self.kind != RequestKind::Other
            || self.method.as_deref() == Some(methods::GET_EXTENDED_AGENT_CARD);
        if self.agent.is_some() && may_return_card {
            self.public_base = match &self.settings.public_base_url {
                Some(base) => Some(base.clone()),
                None => base_from_request(
                    host.header(Direction::Request, "x-forwarded-proto")
                        .as_deref(),
                    host.header(Direction::Request, ":authority")
                        .or_else(|| host.header(Direction::Request, "host"))
                        .as_deref(),
                ),
            };
            if self.kind != RequestKind::JsonRpc {
                // A compressed card could not be rewritten, and a 304 would let the client keep
                // a card rewritten under other settings: ask for a full, identity-encoded card.
                host.remove_header(Direction::Request, "accept-encoding");
                host.remove_header(Direction::Request, "if-none-match");
                host.remove_header(Direction::Request, "if-modified-since");
            }
        }
        Action::Continue
    }

    fn on_request_body(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        if let Some(copy) = &mut self.request_copy {
            if copy.wants_more() {
                copy.push(&host.body(Direction::Request));
            }
            if end_of_stream {
                self.resolve_body_method(true);
            }
        }
        Action::Continue
    }

    fn on_response_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        self.status = host
            .header(Direction::Response, ":status")
            .and_then(|s| s.trim().parse().ok());
        let success = self.status.is_some_and(|s| (200..300).contains(&s));
        if !end_of_stream && success && self.agent.is_some() {
            if let Some(envelope) = self.card_envelope() {
                return self.start_card(host, envelope);
            }
        }
        if self.kind == RequestKind::JsonRpc && !end_of_stream {
            self.inspector = ResponseInspector::for_response(
                host.header(Direction::Response, "content-type").as_deref(),
                host.header(Direction::Response, "content-encoding")
                    .as_deref(),
                self.settings.max_inspect_bytes,
            );
        }
        Action::Continue
    }

    fn on_response_body(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        if let CardState::Buffering(envelope) = self.card {
            let buffered = host.body(Direction::Response).len();
            if buffered > self.settings.max_card_bytes {
                self.card_too_large(host);
                return Action::Continue;
            }
            if !end_of_stream {
                return Action::Pause;
            }
            return self.finish_card(host, envelope);
        }
        if self.inspector.wants_data() {
            let chunk = host.body(Direction::Response);
            if let Some(code) = self.inspector.chunk(&chunk, end_of_stream) {
                self.jsonrpc_error.get_or_insert(code);
            }
        }
        Action::Continue
    }

    fn on_stream_done(&mut self, host: &mut dyn Host) {
        if self.recorded || !self.seen_request {
            return;
        }
        self.recorded = true;
        if self.method.is_none() {
            // The request body never finished: use whatever was copied.
            self.resolve_body_method(false);
        }
        let (agent, method) = (self.agent_name(), self.method_tag());
        let outcome = metrics::outcome(self.status, self.jsonrpc_error);
        host.counter_add(REQUESTS_TOTAL, &[agent, method, outcome], 1);
        let elapsed_ms = host.monotonic_nanos().saturating_sub(self.started_nanos) / 1_000_000;
        host.histogram_record(REQUEST_DURATION_MS, &[agent, method], elapsed_ms);
    }
}
