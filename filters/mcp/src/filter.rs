//! The per-stream MCP filter. On a request to the gateway's MCP endpoint it checks `Origin`,
//! buffers the JSON-RPC body (bounded by `maxRequestBytes`), classifies it and either routes it
//! to the one backend owning its target (body rewritten, routing header set, route cache
//! cleared: Envoy's router then forwards it with `cluster_header`) or answers it locally with
//! the JSON-RPC error the spec asks for. Responses of routed requests stream back unchanged.
//!
//! Fan-out methods (`initialize`, `tools/list`, …) become one callout per backend, merged
//! and answered locally ([`fanout`]). Sessions: `initialize` returns a sealed token holding
//! every backend's own session; later requests present it (unknown, tampered or expired:
//! 404) and each backend receives its own session id, never the gateway's token.

mod answer_check;
mod bridge;
mod bridge_input;
mod fanout;
mod listen;
mod openapi_call;
mod recovery;
mod relay;
mod replies;
mod subscriptions;
mod upstream;
mod versions;

use std::sync::Arc;

use crate::bridged::ClientMeta;
use crate::config::Settings;
use crate::listen_events::LISTEN_METHOD;
use crate::listing_cache::ListingCache;
use crate::metrics::{
    self, NO_BACKEND, NO_TOOL, REQUESTS_TOTAL, REQUEST_DURATION_MS, SESSIONS_TOTAL,
};
use crate::recovered::RecoveredSessions;
use crate::routing::headers::{self, McpHeaders};
use crate::routing::{self, FanOutMethod, Listings, Route, SingleMethod, SingleTarget};
use crate::session_token::SessionPayload;
use ai_gateway_core::jsonrpc::{Id, Message, Request, INTERNAL_ERROR, METHOD_NOT_FOUND};
use ai_gateway_core::{
    Action, CalloutId, CalloutResult, Direction, Host, HttpFilter, LogLevel, StreamId,
};
use replies::Reply;

/// The request header naming the backend's Envoy cluster; the MCP route forwards with
/// `cluster_header` on it. Only the filter may set it: any client copy is removed first.
pub const BACKEND_HEADER: &str = "x-ai-gateway-mcp-backend";

/// The gateway's MCP endpoint path (the SDKs' default). Requests elsewhere pass untouched.
/// Fixed until the configuration gains an endpoint-path field.
pub const ENDPOINT_PATH: &str = "/mcp";

/// Where the stream stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not an MCP endpoint request: untouched, not counted.
    PassThrough,
    /// Holding the request body until it is complete.
    Buffering,
    /// Sent to a backend through Envoy's router.
    Forwarded,
    /// Waiting for the callouts of a fan-out.
    FanningOut,
    /// Answered by the gateway itself.
    Answered,
}

/// One HTTP stream through the MCP filter.
pub struct McpFilter {
    settings: Arc<Settings>,
    cache: Arc<ListingCache>,
    recovered: Arc<RecoveredSessions>,
    phase: Phase,
    started_nanos: u64,
    method: &'static str,
    /// Index of the serving backend in `settings.backends`.
    backend: Option<usize>,
    /// The bounded `tool` tag.
    tool: String,
    status: Option<u16>,
    /// The JSON-RPC error code the gateway answered with, for the `outcome` tag.
    jsonrpc_error: Option<i64>,
    recorded: bool,
    /// The client's `Mcp-Session-Id` (the gateway's token), read before it is removed.
    token: Option<String>,
    /// The opened token and its text (the key of recovered upstream sessions).
    session: Option<Arc<SessionPayload>>,
    session_token: String,
    /// The client's `MCP-Protocol-Version` header.
    client_version: Option<String>,
    /// The outstanding fan-out.
    fan: Option<fanout::FanOut>,
    /// The token an `initialize` answer carries.
    session_created: Option<String>,
    /// A sessionless 2026-07-28 client's capabilities and info (the bridging cache key).
    client: Option<ClientMeta>,
    /// The body of a request routed on an upstream session (or for a sessionless 2026-07-28
    /// client), kept to retry it by callout if the backend lost that session ([`recovery`])
    /// or turns out to be session-based ([`bridge`]).
    routed_body: Option<Vec<u8>>,
    /// Rewrites a routed SSE answer: its server→client requests ([`relay`]), or a listen
    /// stream's events ([`subscriptions`]).
    events: Option<listen::Part>,
    /// A bridged call that may ask the client for input ([`bridge_input`]).
    input: Option<bridge_input::InputCall>,
    /// The backends' GET streams merged into this one ([`listen`]).
    merged: Option<listen::MergedStreams>,
    /// A `tools/call` sent to an OpenAPI backend's API ([`openapi_call`]).
    pending: Option<openapi_call::PendingCall>,
    /// The tool call was answered with `isError: true` (the `tool_error` outcome).
    tool_error: bool,
    /// What a routed request's answer must be ([`answer_check`]).
    answer_check: answer_check::AnswerCheck,
}

impl McpFilter {
    /// A filter for one stream; `cache` holds this process's last listings, `recovered` its
    /// replacement upstream sessions.
    pub fn new(
        settings: Arc<Settings>,
        cache: Arc<ListingCache>,
        recovered: Arc<RecoveredSessions>,
    ) -> Self {
        McpFilter {
            settings,
            cache,
            recovered,
            phase: Phase::PassThrough,
            started_nanos: 0,
            method: metrics::UNREAD,
            backend: None,
            tool: NO_TOOL.to_string(),
            status: None,
            jsonrpc_error: None,
            recorded: false,
            token: None,
            session: None,
            session_token: String::new(),
            client_version: None,
            fan: None,
            session_created: None,
            client: None,
            routed_body: None,
            events: None,
            input: None,
            merged: None,
            pending: None,
            tool_error: false,
            answer_check: answer_check::AnswerCheck::default(),
        }
    }

    /// Opens the client's token; `false` when it was refused (answered 404, counted).
    fn open_session(&mut self, host: &mut dyn Host) -> bool {
        let Some(token) = self.token.take() else {
            return true;
        };
        let now = host.unix_seconds();
        if let Some(payload) = self.recovered.opened.get(&token) {
            if !self.settings.sealer.expired(&payload, now) {
                self.session = Some(payload);
                self.session_token = token;
                return true;
            }
        }
        match self.settings.sealer.open(&token, now) {
            Ok(payload) => {
                // Valid, and not opened or issued here while remembered: a session from
                // another replica or from before a restart.
                host.counter_add(SESSIONS_TOTAL, &["resumed", "none"], 1);
                let payload = Arc::new(payload);
                self.recovered
                    .opened
                    .insert(token.clone(), Arc::clone(&payload));
                self.session = Some(payload);
                self.session_token = token;
                true
            }
            Err(err) => {
                host.counter_add(SESSIONS_TOTAL, &["rejected", err.metric_tag()], 1);
                self.answer(
                    host,
                    Reply::refused(
                        404,
                        &format!("Session not found: {err}"),
                        "mcp_session_rejected",
                    ),
                );
                false
            }
        }
    }

    /// Sends `reply` as the local answer; the callback then returns [`Action::Pause`].
    fn answer(&mut self, host: &mut dyn Host, reply: Reply) -> Action {
        self.phase = Phase::Answered;
        self.status = Some(reply.status);
        self.jsonrpc_error = reply.counted_code;
        let mut headers = vec![("content-type", "application/json")];
        if reply.status == 405 {
            headers.push(("allow", "POST"));
        }
        host.send_local_reply(reply.status, &headers, &reply.body, reply.details);
        Action::Pause
    }

    /// The body is complete: parse, classify, check the 2026-07-28 headers, then route.
    fn dispatch(&mut self, host: &mut dyn Host, body: &[u8]) -> Action {
        let message = match routing::parse(body) {
            Ok(message) => message,
            Err(err) => {
                self.method = metrics::INVALID;
                return self.answer(host, Reply::route_error(&err, Id::Null));
            }
        };
        self.method = metrics::method_tag(message.method().unwrap_or_default());
        let id = match &message {
            Message::Request(r) => r.id.clone(),
            _ => Id::Null,
        };
        let route = match routing::classify(&message) {
            Ok(route) => route,
            Err(err) => return self.answer(host, Reply::route_error(&err, id)),
        };
        let (version, method, name) = (
            host.header(Direction::Request, "mcp-protocol-version"),
            host.header(Direction::Request, "mcp-method"),
            host.header(Direction::Request, "mcp-name"),
        );
        // Before the header check: a version the gateway does not offer has no rules to check.
        if let Some(refusal) = self.unoffered_version(version.as_deref(), &route, &id) {
            return self.answer(host, refusal);
        }
        let mcp_headers = McpHeaders {
            protocol_version: version.as_deref(),
            method: method.as_deref(),
            name: name.as_deref(),
        };
        if let Err(err) = headers::check(&mcp_headers, &message, &route) {
            return self.answer(host, Reply::route_error(&err, id));
        }
        self.client_version = version.clone();
        if route == Route::FanOut(FanOutMethod::Initialize) {
            // A new session: an old token plays no part.
            self.token = None;
        } else if !self.open_session(host) {
            return Action::Pause;
        }
        if self.session.is_none() && self.speaks_stateless() {
            let params = match &message {
                Message::Request(r) => r.params.as_ref(),
                _ => None,
            };
            self.client = Some(ClientMeta::from_params(params));
        }
        match (route, &message) {
            (Route::Single(single), Message::Request(request)) => {
                self.forward(host, request, &single)
            }
            (Route::FanOut(fan_out), _) => self.fan_out(host, fan_out, &message),
            (Route::Unknown(method), Message::Request(request))
                if method == LISTEN_METHOD && self.speaks_stateless() =>
            {
                self.subscriptions_listen(host, request)
            }
            (Route::Unknown(method), _) => self.answer(
                host,
                Reply::jsonrpc(
                    200,
                    id,
                    METHOD_NOT_FOUND,
                    format!("Method not found: {method}"),
                ),
            ),
            (Route::ClientResponse, Message::Response(response)) => {
                self.relay_response(host, response)
            }
            (Route::ClientNotification(_), Message::Notification(notification)) => {
                self.relay_notification(host, notification, &message)
            }
            // `classify` pairs each route with its kind of message.
            _ => self.internal_error(host, Id::Null, "unroutable message"),
        }
    }

    /// Rewrites a single-target request for its backend and lets Envoy's router send it there.
    fn forward(&mut self, host: &mut dyn Host, request: &Request, single: &SingleTarget) -> Action {
        let tables = self.cache.snapshot();
        if single.method == SingleMethod::ToolsCall {
            self.tool = tables.tool_tags.limit(single.target.value()).to_string();
        }
        // In `always` prefix mode the prefix alone names the backend; the other modes need
        // this process's last listings.
        let listings = Listings {
            tools: tables.tools.as_deref(),
            prompts: tables.prompts.as_deref(),
            resources: tables.resources.as_deref(),
        };
        let routed = match routing::route_single(&self.settings.naming, &listings, request, single)
        {
            Ok(routed) => routed,
            Err(err) => return self.answer(host, Reply::route_error(&err, request.id.clone())),
        };
        let settings = Arc::clone(&self.settings);
        let Some(index) = settings
            .backends
            .iter()
            .position(|b| b.name == routed.upstream.backend)
        else {
            return self.internal_error(host, request.id.clone(), "resolved an unknown backend");
        };
        let backend = &settings.backends[index];
        if backend.openapi.is_some() {
            return self.openapi_request(host, index, request, single, &routed.upstream.name);
        }
        if self.bridging(&backend.name) {
            // A session-based backend for a 2026-07-28 client: asked by callout (see [`bridge`]).
            self.backend = Some(index);
            let params = request.params.as_ref();
            if let Some(action) =
                self.bridge_with_input(host, index, &request.id, params, &routed.body)
            {
                return action;
            }
            return self.bridge_call(host, index, request.id.clone(), routed.body);
        }
        if host.header(Direction::Request, "mcp-name").is_some() {
            host.set_header(Direction::Request, "mcp-name", &routed.mcp_name);
        }
        self.answer_check.expect(request.id.clone());
        self.send_routed(host, index, routed.body, request.id.clone(), true)
    }

    /// Lets Envoy's router send `body` to backend `index` on the client's upstream session;
    /// with `retry`, keeps the body to ask again if that session turns out to be lost.
    fn send_routed(
        &mut self,
        host: &mut dyn Host,
        index: usize,
        body: Vec<u8>,
        id: Id,
        retry: bool,
    ) -> Action {
        if let Err(err) = host.set_body(Direction::Request, &body) {
            host.log(
                LogLevel::Error,
                format_args!("mcp: could not replace the request body: {err}"),
            );
            return self.internal_error(host, id, "could not rewrite the request");
        }
        host.set_header(
            Direction::Request,
            "content-length",
            &body.len().to_string(),
        );
        self.route_to(host, index, retry.then_some(body))
    }

    /// Points the request at backend `index` (path, host, headers, the client's upstream session
    /// and version) and has Envoy route it again; `retry_body` is kept to ask again by callout
    /// if that session turns out to be lost.
    fn route_to(
        &mut self,
        host: &mut dyn Host,
        index: usize,
        retry_body: Option<Vec<u8>>,
    ) -> Action {
        let settings = Arc::clone(&self.settings);
        let backend = &settings.backends[index];
        self.backend = Some(index);
        let path = host.header(Direction::Request, ":path").unwrap_or_default();
        if path != backend.path {
            host.set_header(Direction::Request, ":path", &backend.path);
        }
        if let Some(authority) = &backend.host {
            host.set_header(Direction::Request, ":authority", authority);
        }
        for (name, value) in &backend.headers {
            host.set_header(Direction::Request, name, value);
        }
        if let Some(session) = self.upstream_session(&backend.name) {
            host.set_header(Direction::Request, "mcp-session-id", &session);
            self.routed_body = retry_body;
        } else if self.client.is_some() {
            // A backend not yet known to be session-based may refuse it ([`bridge`]).
            self.routed_body = retry_body;
        }
        if let Some(version) = self.backend_version(&backend.name) {
            host.set_header(Direction::Request, "mcp-protocol-version", &version);
        }
        host.set_header(Direction::Request, BACKEND_HEADER, &backend.cluster);
        // Envoy chose the route before this filter ran; a dynamic module's header writes do not
        // make it look again (Wasm's do, but only for ABI 0.2.1 modules), so ask explicitly.
        host.clear_route_cache();
        self.phase = Phase::Forwarded;
        Action::Continue
    }

    fn internal_error(&mut self, host: &mut dyn Host, id: Id, why: &str) -> Action {
        self.answer(
            host,
            Reply::jsonrpc(500, id, INTERNAL_ERROR, format!("gateway error: {why}")),
        )
    }
}

impl HttpFilter for McpFilter {
    fn on_request_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        // On every request: a client-supplied routing header must never steer the route. Envoy
        // matched the route with it before this filter ran, so the route is matched again.
        if host.header(Direction::Request, BACKEND_HEADER).is_some() {
            host.remove_header(Direction::Request, BACKEND_HEADER);
            host.clear_route_cache();
        }
        let path = host.header(Direction::Request, ":path").unwrap_or_default();
        if path.split(['?', '#']).next() != Some(ENDPOINT_PATH) {
            return Action::Continue;
        }
        self.phase = Phase::Buffering;
        self.started_nanos = host.monotonic_nanos();
        // The client's gateway session token is never forwarded upstream.
        self.token = host.header(Direction::Request, "mcp-session-id");
        host.remove_header(Direction::Request, "mcp-session-id");

        let origin = host.header(Direction::Request, "origin");
        if !self.settings.origins.allows(origin.as_deref()) {
            return self.answer(
                host,
                Reply::refused(403, "Origin not allowed", "mcp_origin_refused"),
            );
        }
        let http_method = host.header(Direction::Request, ":method");
        if http_method.as_deref() == Some("DELETE") && self.token.is_some() {
            self.method = "delete";
            if !self.open_session(host) {
                return Action::Pause;
            }
            return self.end_session(host);
        }
        if http_method.as_deref() == Some("GET") {
            return self.listen(host);
        }
        if http_method.as_deref() != Some("POST") {
            return self.answer(
                host,
                Reply::refused(
                    405,
                    "only POST is served on this endpoint",
                    "mcp_method_not_allowed",
                ),
            );
        }
        let declared = host
            .header(Direction::Request, "content-length")
            .and_then(|v| v.trim().parse::<usize>().ok());
        if declared.is_some_and(|len| len > self.settings.max_request_bytes) {
            return self.answer(host, Reply::too_large(self.settings.max_request_bytes));
        }
        if end_of_stream {
            return self.dispatch(host, &[]);
        }
        Action::Pause
    }

    fn on_request_body(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        match self.phase {
            Phase::Buffering => {}
            Phase::Answered | Phase::FanningOut => return Action::Pause,
            Phase::PassThrough | Phase::Forwarded => return Action::Continue,
        }
        let body = host.body(Direction::Request);
        if body.len() > self.settings.max_request_bytes {
            return self.answer(host, Reply::too_large(self.settings.max_request_bytes));
        }
        if !end_of_stream {
            return Action::Pause;
        }
        self.dispatch(host, &body)
    }

    fn on_response_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        if self.phase == Phase::Forwarded {
            // The client holds the gateway's token; a backend's own session id stays here.
            host.remove_header(Direction::Response, "mcp-session-id");
            self.status = host
                .header(Direction::Response, ":status")
                .and_then(|s| s.trim().parse().ok());
            if matches!(self.status, Some(404 | 400)) {
                if let Some(body) = self.routed_body.take() {
                    return self.recover_routed(host, body);
                }
            }
            if let Some(action) = self.check_answer_headers(host, end_of_stream) {
                return action;
            }
            self.start_event_rewrite(host);
        }
        Action::Continue
    }

    fn on_response_body(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        // The backend's refusal of a lost session is replaced by the retried answer.
        if self.phase == Phase::FanningOut {
            return Action::Pause;
        }
        if let Some(action) = self.check_answer_body(host, end_of_stream) {
            return action;
        }
        self.rewrite_events(host, end_of_stream);
        Action::Continue
    }

    fn on_callout_done(&mut self, host: &mut dyn Host, id: CalloutId, result: CalloutResult) {
        if self.input_posted(host, id, &result) {
            return;
        }
        if !self.openapi_done(host, id, &result) {
            self.callout_done(host, id, result);
        }
    }

    fn on_stream_headers(&mut self, host: &mut dyn Host, id: StreamId, status: u16, end: bool) {
        if self.input_headers(host, id, status) {
            if end {
                self.input_end(host, id);
            }
            return;
        }
        self.merged_headers(host, id, status);
        if end {
            self.close_part(host, id);
        }
    }

    fn on_stream_data(&mut self, host: &mut dyn Host, id: StreamId, data: &[u8], end: bool) {
        if self.input_data(host, id, data) {
            if end {
                self.input_end(host, id);
            }
            return;
        }
        self.merged_data(host, id, data);
        if end {
            self.close_part(host, id);
        }
    }

    fn on_stream_end(&mut self, host: &mut dyn Host, id: StreamId, _reset: bool) {
        if self.input_end(host, id) {
            return;
        }
        self.close_part(host, id);
    }

    fn on_stream_done(&mut self, host: &mut dyn Host) {
        if self.recorded || self.phase == Phase::PassThrough {
            return;
        }
        self.recorded = true;
        let backend = match self.backend {
            Some(i) => self.settings.backends[i].name.as_str(),
            None => NO_BACKEND,
        };
        let outcome = if self.tool_error {
            metrics::TOOL_ERROR
        } else {
            metrics::outcome(self.answered_status(), self.jsonrpc_error)
        };
        host.counter_add(
            REQUESTS_TOTAL,
            &[self.method, backend, &self.tool, outcome],
            1,
        );
        let elapsed_ms = host.monotonic_nanos().saturating_sub(self.started_nanos) / 1_000_000;
        host.histogram_record(REQUEST_DURATION_MS, &[self.method, backend], elapsed_ms);
    }
}

#[cfg(test)]
mod tests;
