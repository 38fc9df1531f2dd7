//! A routed request's answer that the client could not read as the JSON-RPC response it waits
//! for is replaced by a JSON-RPC error for the request's id (-32603, naming the backend):
//! - Envoy's own error page for a failed upstream (connect failure, reset before the answer,
//!   timeout: a 5xx that is not JSON), status kept;
//! - a 2xx of another content type (e.g. text/html): 502;
//! - a JSON answer that is not a JSON-RPC response: 502. Such answers are held whole to be
//!   checked when they declare a length up to [`CHECKED_JSON_BYTES`]; longer or unsized ones
//!   stream through unchecked, as before;
//! - an event stream that ends without the response (e.g. closed mid-event): an error event
//!   ends it.
//!
//! A stream reset after the answer started cannot be replaced (its headers are gone): the
//! client sees its connection cut, and the request is counted with the `reset` outcome.

use ai_gateway_core::jsonrpc::{self, Id, Message, Response, INTERNAL_ERROR};
use ai_gateway_core::sse::Event;
use ai_gateway_core::{Action, Direction, Host};

use super::replies::Reply;
use super::{McpFilter, Phase};
use crate::event_rewrite::{EventKind, Rewritten};

/// Largest declared JSON answer held to be checked: well under Envoy's default per-connection
/// buffer limit (1 MiB), which bounds what a filter may hold.
pub(super) const CHECKED_JSON_BYTES: usize = 256 * 1024;

/// What the filter knows about a routed request's answer.
#[derive(Debug, Default)]
pub(super) struct AnswerCheck {
    /// The routed request's id: a single-target request waits for one response.
    id: Option<Id>,
    /// A JSON answer is held until it is whole.
    held: bool,
    /// The routed event stream carried a response.
    answered: bool,
    /// The answer reached its end (it was not reset).
    ended: bool,
}

impl AnswerCheck {
    /// The answer must be the response to `id`.
    pub(super) fn expect(&mut self, id: Id) {
        if id != Id::Null {
            self.id = Some(id);
        }
    }
}

impl McpFilter {
    /// At a routed answer's headers: `Some` with the callback's action when the answer is
    /// replaced, or held to be checked whole.
    pub(super) fn check_answer_headers(
        &mut self,
        host: &mut dyn Host,
        end_of_stream: bool,
    ) -> Option<Action> {
        self.answer_check.ended = end_of_stream;
        let id = self.answer_check.id.clone()?;
        let status = self.status.unwrap_or(0);
        let content_type = host
            .header(Direction::Response, "content-type")
            .unwrap_or_default()
            .trim_start()
            .to_ascii_lowercase();
        let json = content_type.starts_with("application/json");
        if status >= 500 && !json {
            return Some(self.backend_failed(host, status, id, &format!("failed: HTTP {status}")));
        }
        if !(200..300).contains(&status) || end_of_stream {
            return None;
        }
        if json {
            let declared = host
                .header(Direction::Response, "content-length")
                .and_then(|v| v.trim().parse::<usize>().ok());
            let checked = declared.is_some_and(|n| n <= CHECKED_JSON_BYTES);
            self.answer_check.held = checked;
            return checked.then_some(Action::Pause);
        }
        // No content type says nothing either way: passed as it is.
        if !content_type.is_empty() && !content_type.starts_with("text/event-stream") {
            let why = format!("answered {content_type:?}, not JSON-RPC");
            return Some(self.backend_failed(host, 502, id, &why));
        }
        None
    }

    /// A held JSON answer: passed on once whole if it is a JSON-RPC response, else replaced.
    pub(super) fn check_answer_body(
        &mut self,
        host: &mut dyn Host,
        end_of_stream: bool,
    ) -> Option<Action> {
        self.answer_check.ended |= end_of_stream;
        if !self.answer_check.held || self.phase != Phase::Forwarded {
            return None;
        }
        let id = self.answer_check.id.clone()?;
        let body = host.body(Direction::Response);
        if body.len() > CHECKED_JSON_BYTES {
            let why = "answered more than its declared length";
            return Some(self.backend_failed(host, 502, id, why));
        }
        if !end_of_stream {
            return Some(Action::Pause);
        }
        self.answer_check.held = false;
        let why = match jsonrpc::parse_message(&body) {
            Ok(Message::Response(_)) => return Some(Action::Continue),
            Ok(_) => "answered a JSON-RPC message that is not a response".to_string(),
            Err(err) => format!("answered a body that is not JSON-RPC: {err}"),
        };
        Some(self.backend_failed(host, 502, id, &why))
    }

    /// Ends a routed event stream that closed without the response with an error event.
    pub(super) fn end_answer_stream(&mut self, rewritten: &mut Rewritten, end_of_stream: bool) {
        self.answer_check.answered |= rewritten.count(EventKind::Response) > 0;
        if !end_of_stream || self.answer_check.answered {
            return;
        }
        let Some(id) = self.answer_check.id.clone() else {
            return;
        };
        let message = format!(
            "backend {} ended its event stream without the response",
            self.backend_name()
        );
        let response = Message::Response(Response::error(id, INTERNAL_ERROR, message));
        let event = Event {
            event: Some("message".into()),
            ..Event::data(response.to_value().to_string())
        };
        event.write_to(&mut rewritten.bytes);
        self.jsonrpc_error = Some(INTERNAL_ERROR);
    }

    /// The status the `outcome` tag reads: none for a routed answer that never ended (reset).
    pub(super) fn answered_status(&self) -> Option<u16> {
        let cut = self.phase == Phase::Forwarded
            && self.answer_check.id.is_some()
            && !self.answer_check.ended;
        if cut {
            None
        } else {
            self.status
        }
    }

    fn backend_failed(&mut self, host: &mut dyn Host, status: u16, id: Id, why: &str) -> Action {
        let message = format!("backend {} {why}", self.backend_name());
        self.answer(host, Reply::jsonrpc(status, id, INTERNAL_ERROR, message))
    }

    fn backend_name(&self) -> String {
        self.backend
            .map(|i| self.settings.backends[i].name.clone())
            .unwrap_or_default()
    }
}
