//! The per-stream MCP filter. On a request to the gateway's MCP endpoint it checks `Origin`,
//! buffers the JSON-RPC body (bounded by `maxRequestBytes`), classifies it and either routes it
//! to the one backend owning its target (body rewritten, routing header set, route cache
//! cleared: Envoy's router then forwards it with `cluster_header`) or answers it locally with
//! the JSON-RPC error the spec asks for. Responses of routed requests stream back unchanged.
//!
//! Not yet: fan-out methods (`initialize`, `tools/list`, …) are answered with -32601 (see
//! [`McpFilter::fan_out`], where the merge will plug in), and sessions (`Mcp-Session-Id` is
//! removed from routed requests so a gateway token never reaches a backend).

mod replies;

use std::sync::Arc;

use ai_gateway_core::jsonrpc::{Id, Message, Request, INTERNAL_ERROR, METHOD_NOT_FOUND};
use ai_gateway_core::{Action, Direction, Host, HttpFilter, LogLevel, TagLimiter};

use crate::config::Settings;
use crate::metrics::{self, NO_BACKEND, NO_TOOL, REQUESTS_TOTAL, REQUEST_DURATION_MS};
use crate::routing::headers::{self, McpHeaders};
use crate::routing::{self, FanOutMethod, Listings, Route, SingleMethod, SingleTarget};
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
    /// Answered by the gateway itself.
    Answered,
}

/// One HTTP stream through the MCP filter.
pub struct McpFilter {
    settings: Arc<Settings>,
    tool_tags: Arc<TagLimiter>,
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
}

impl McpFilter {
    /// A filter for one stream; `tool_tags` bounds the `tool` metric tag.
    pub fn new(settings: Arc<Settings>, tool_tags: Arc<TagLimiter>) -> Self {
        McpFilter {
            settings,
            tool_tags,
            phase: Phase::PassThrough,
            started_nanos: 0,
            method: metrics::UNREAD,
            backend: None,
            tool: NO_TOOL.to_string(),
            status: None,
            jsonrpc_error: None,
            recorded: false,
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
        let mcp_headers = McpHeaders {
            protocol_version: version.as_deref(),
            method: method.as_deref(),
            name: name.as_deref(),
        };
        if let Err(err) = headers::check(&mcp_headers, &message, &route) {
            return self.answer(host, Reply::route_error(&err, id));
        }
        match (route, &message) {
            (Route::Single(single), Message::Request(request)) => {
                self.forward(host, request, &single)
            }
            (Route::FanOut(fan_out), _) => self.fan_out(host, fan_out, id),
            (Route::Unknown(method), _) => self.answer(
                host,
                Reply::jsonrpc(
                    200,
                    id,
                    METHOD_NOT_FOUND,
                    format!("Method not found: {method}"),
                ),
            ),
            // A notification or a client's answer to a server request: no backend receives
            // these yet (they need the session that tells which backend asked).
            _ => self.answer(
                host,
                Reply::jsonrpc(
                    400,
                    Id::Null,
                    METHOD_NOT_FOUND,
                    "notifications and client responses are not supported by this gateway yet",
                ),
            ),
        }
    }

    /// Where fan-out (parallel callouts to every backend, merged into one local answer) plugs
    /// in. Until it exists, a clear -32601.
    fn fan_out(&mut self, host: &mut dyn Host, method: FanOutMethod, id: Id) -> Action {
        if method == FanOutMethod::Initialized {
            return self.answer(
                host,
                Reply::jsonrpc(
                    400,
                    Id::Null,
                    METHOD_NOT_FOUND,
                    "notifications/initialized is not supported by this gateway yet",
                ),
            );
        }
        self.answer(
            host,
            Reply::jsonrpc(
                200,
                id,
                METHOD_NOT_FOUND,
                format!("{} is not supported by this gateway yet", method.as_str()),
            ),
        )
    }

    /// Rewrites a single-target request for its backend and lets Envoy's router send it there.
    fn forward(&mut self, host: &mut dyn Host, request: &Request, single: &SingleTarget) -> Action {
        if single.method == SingleMethod::ToolsCall {
            self.tool = self.tool_tags.limit(single.target.value()).to_string();
        }
        // No listing tables yet: in `always` prefix mode the prefix alone names the backend.
        let routed = match routing::route_single(
            &self.settings.naming,
            &Listings::default(),
            request,
            single,
        ) {
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
        if let Err(err) = host.set_body(Direction::Request, &routed.body) {
            host.log(
                LogLevel::Error,
                format_args!("mcp: could not replace the request body: {err}"),
            );
            return self.internal_error(host, request.id.clone(), "could not rewrite the request");
        }
        self.backend = Some(index);
        host.set_header(
            Direction::Request,
            "content-length",
            &routed.body.len().to_string(),
        );
        if host.header(Direction::Request, "mcp-name").is_some() {
            host.set_header(Direction::Request, "mcp-name", &routed.mcp_name);
        }
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
        host.remove_header(Direction::Request, "mcp-session-id");

        let origin = host.header(Direction::Request, "origin");
        if !self.settings.origins.allows(origin.as_deref()) {
            return self.answer(
                host,
                Reply::refused(403, "Origin not allowed", "mcp_origin_refused"),
            );
        }
        if host.header(Direction::Request, ":method").as_deref() != Some("POST") {
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
            Phase::Answered => return Action::Pause,
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

    fn on_response_headers(&mut self, host: &mut dyn Host, _end_of_stream: bool) -> Action {
        if self.phase == Phase::Forwarded {
            self.status = host
                .header(Direction::Response, ":status")
                .and_then(|s| s.trim().parse().ok());
        }
        Action::Continue
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
        let outcome = metrics::outcome(self.status, self.jsonrpc_error);
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
