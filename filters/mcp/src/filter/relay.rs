//! Traffic between a backend and the client beyond request → answer: server→client requests
//! (sampling, elicitation, roots) inside a routed SSE answer get backend-qualified ids
//! ([`crate::relay_ids`]); the client's answers go back to the backend that asked, under the
//! original id; the client's notifications reach the backend they concern (progress on a
//! qualified token) or every backend (cancellation of the client's own request, whose id says
//! nothing about the backend; list changes). Nothing is remembered between requests.

use ai_gateway_core::jsonrpc::{Id, Message, Notification, Response, INVALID_PARAMS};
use ai_gateway_core::{Action, Direction, Host, LogLevel};
use serde_json::Value;

use super::listen::Part;
use super::replies::Reply;
use super::{McpFilter, Phase};
use crate::event_rewrite::{EventKind, EventRewriter, Rewritten};
use crate::metrics::{CLIENT_RESPONSE, SERVER_REQUEST_RTT_MS, STREAM_EVENTS_TOTAL};
use crate::relay_ids::{unqualify, Qualified};
use crate::routing::FanOutMethod;

impl McpFilter {
    /// The client answers a server→client request: to the backend whose id it carries.
    pub(super) fn relay_response(&mut self, host: &mut dyn Host, response: &Response) -> Action {
        self.method = CLIENT_RESPONSE;
        let mut message = Message::Response(response.clone()).to_value();
        let Some((index, qualified)) = self.qualified_target(message.get("id")) else {
            return self.unknown_target(host, "a response to a request this gateway did not relay");
        };
        let rtt = host.unix_millis().saturating_sub(qualified.sent_millis);
        let backend = self.settings.backends[index].name.as_str();
        host.histogram_record(SERVER_REQUEST_RTT_MS, &[backend], rtt);
        message["id"] = qualified.original;
        self.send_routed(
            host,
            index,
            message.to_string().into_bytes(),
            Id::Null,
            false,
        )
    }

    /// A client notification: progress on a qualified token goes to its backend, the rest to
    /// every backend.
    pub(super) fn relay_notification(
        &mut self,
        host: &mut dyn Host,
        notification: &Notification,
        message: &Message,
    ) -> Action {
        if notification.method == "notifications/progress" {
            let mut value = message.to_value();
            let token = value.pointer("/params/progressToken");
            let Some((index, qualified)) = self.qualified_target(token) else {
                return self.fan_out(host, FanOutMethod::ClientNotification, message);
            };
            value["params"]["progressToken"] = qualified.original;
            return self.send_routed(host, index, value.to_string().into_bytes(), Id::Null, false);
        }
        self.fan_out(host, FanOutMethod::ClientNotification, message)
    }

    /// The backend index and parts of a qualified id or token.
    fn qualified_target<'v>(&self, value: Option<&'v Value>) -> Option<(usize, Qualified<'v>)> {
        let qualified = unqualify(value?)?;
        let index = self
            .settings
            .backends
            .iter()
            // An OpenAPI backend never sends requests of its own: an id naming one is forged.
            .position(|b| b.name == qualified.backend && b.openapi.is_none())?;
        Some((index, qualified))
    }

    /// Counts a backend stream's events by kind.
    pub(super) fn count_events(&self, host: &mut dyn Host, index: usize, events: &Rewritten) {
        let backend = self.settings.backends[index].name.as_str();
        for kind in EventKind::ALL {
            let n = events.count(kind);
            if n > 0 {
                host.counter_add(STREAM_EVENTS_TOTAL, &[backend, kind.as_str()], n as u64);
            }
        }
    }

    fn unknown_target(&mut self, host: &mut dyn Host, why: &str) -> Action {
        self.answer(host, Reply::jsonrpc(400, Id::Null, INVALID_PARAMS, why))
    }

    /// At a routed answer's headers: an SSE answer is rewritten event by event.
    pub(super) fn start_event_rewrite(&mut self, host: &mut dyn Host) {
        let (Some(index), Some(200..=299)) = (self.backend, self.status) else {
            return;
        };
        let is_sse = host
            .header(Direction::Response, "content-type")
            .is_some_and(|t| t.trim_start().starts_with("text/event-stream"));
        if !is_sse {
            // A listen request answered with JSON (an error) passes as it is.
            self.events = None;
            return;
        }
        // The rewritten events have other lengths.
        host.remove_header(Direction::Response, "content-length");
        if self.events.is_none() {
            let backend = &self.settings.backends[index].name;
            let rewriter = EventRewriter::new(backend, self.settings.max_response_bytes);
            self.events = Some(Part::Relay(rewriter));
        }
    }

    /// Replaces the current chunk of a routed SSE answer by its rewritten events (at the end,
    /// with an error event if the response never came: [`super::answer_check`]).
    pub(super) fn rewrite_events(&mut self, host: &mut dyn Host, end_of_stream: bool) {
        if self.phase != Phase::Forwarded {
            return;
        }
        let Some(events) = &mut self.events else {
            return;
        };
        let mut rewritten = events.feed(&host.body(Direction::Response), host.unix_millis());
        if let Some(index) = self.backend {
            self.count_events(host, index, &rewritten);
        }
        if rewritten.dropped > 0 {
            host.log(
                LogLevel::Warn,
                format_args!(
                    "mcp: {} event(s) over maxResponseBytes dropped from a routed stream",
                    rewritten.dropped
                ),
            );
        }
        self.end_answer_stream(&mut rewritten, end_of_stream);
        if let Err(err) = host.set_body(Direction::Response, &rewritten.bytes) {
            host.log(
                LogLevel::Error,
                format_args!("mcp: could not rewrite a routed stream: {err}"),
            );
        }
    }
}
