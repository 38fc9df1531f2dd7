//! A backend's SSE stream (the answer to a routed request, or its GET stream), rewritten chunk
//! by chunk on its way to the client: an event whose data is a server→client request
//! (sampling, elicitation, roots) gets its id and progress token qualified with the backend
//! ([`crate::relay_ids`]), so that the client's answer can be routed back; every other event
//! passes with its data unchanged. Events are counted by kind.
//! An event split across body chunks is held until its end (bounded: a larger event is dropped
//! and counted, as the SSE parser skips it).

use ai_gateway_core::sse::{Event, SseParser};
use serde_json::Value;

use crate::relay_ids::qualify_server_request;

/// What an event carried, for the `mcp_stream_events_total{event}` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    /// A server→client request (sampling, elicitation, roots).
    Request,
    /// A notification (progress, log message, list change).
    Notification,
    /// A JSON-RPC response (the answer to the routed request).
    Response,
    /// Anything else (not JSON-RPC).
    Other,
}

impl EventKind {
    /// Every kind, in tag order.
    pub const ALL: [EventKind; 4] = [
        EventKind::Request,
        EventKind::Notification,
        EventKind::Response,
        EventKind::Other,
    ];

    /// The metric tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Request => "request",
            EventKind::Notification => "notification",
            EventKind::Response => "response",
            EventKind::Other => "other",
        }
    }

    fn of(message: &Value) -> EventKind {
        match (message.get("method"), message.get("id")) {
            (Some(_), Some(id)) if !id.is_null() => EventKind::Request,
            (Some(_), _) => EventKind::Notification,
            (None, Some(_)) => EventKind::Response,
            (None, None) => EventKind::Other,
        }
    }
}

/// What one chunk became.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rewritten {
    /// The bytes to send in place of the chunk (complete events only).
    pub bytes: Vec<u8>,
    /// Complete events by kind, indexed like [`EventKind::ALL`].
    pub kinds: [usize; 4],
    /// Events dropped for exceeding the size bound.
    pub dropped: usize,
}

impl Rewritten {
    /// How many events of `kind` the chunk completed.
    pub fn count(&self, kind: EventKind) -> usize {
        self.kinds[kind as usize]
    }
}

/// Rewrites one SSE response stream from `backend`.
pub struct EventRewriter {
    backend: String,
    parser: SseParser,
}

impl EventRewriter {
    /// A rewriter for a stream from `backend`, holding at most `max_event_bytes` of one event.
    pub fn new(backend: &str, max_event_bytes: usize) -> Self {
        EventRewriter {
            backend: backend.to_string(),
            parser: SseParser::new(max_event_bytes),
        }
    }

    /// The events `chunk` completes, rewritten where needed (server→client requests
    /// qualified as relayed at `now_millis`), in wire form.
    pub fn feed(&mut self, chunk: &[u8], now_millis: u64) -> Rewritten {
        let mut out = Rewritten::default();
        for item in self.parser.feed(chunk) {
            match item {
                Ok(mut event) => {
                    let kind = self.rewrite(&mut event, now_millis);
                    out.kinds[kind as usize] += 1;
                    event.write_to(&mut out.bytes);
                }
                Err(_) => out.dropped += 1,
            }
        }
        out
    }

    /// Qualifies a server→client request in place; the event's kind.
    fn rewrite(&self, event: &mut Event, now_millis: u64) -> EventKind {
        // Only requests and notifications carry a `"method"`: the largest events, answers, are
        // told apart without being parsed.
        if !event.data.contains("\"method\"") {
            let data = event.data.trim_start();
            return if data.starts_with('{') && data.contains("\"id\"") {
                EventKind::Response
            } else {
                EventKind::Other
            };
        }
        let Ok(mut message) = serde_json::from_str::<Value>(&event.data) else {
            return EventKind::Other;
        };
        let kind = EventKind::of(&message);
        if kind == EventKind::Request
            && qualify_server_request(&self.backend, now_millis, &mut message)
        {
            event.data = message.to_string();
        }
        kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: &str, data: &Value) -> String {
        format!("event: message\nid: {id}\ndata: {data}\n\n")
    }

    fn data_of(bytes: &[u8]) -> Vec<Value> {
        let mut parser = SseParser::new(1 << 20);
        parser
            .feed(bytes)
            .into_iter()
            .map(|e| serde_json::from_str(&e.unwrap().data).unwrap())
            .collect()
    }

    #[test]
    fn server_requests_are_qualified_and_the_rest_passes() {
        let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
                              "params": {"progressToken": 5, "progress": 1}});
        let sampling = json!({"jsonrpc": "2.0", "id": 0, "method": "sampling/createMessage",
                              "params": {"maxTokens": 10}});
        let result = json!({"jsonrpc": "2.0", "id": 9, "result": {"content": []}});
        let stream = [
            event("1", &progress),
            event("2", &sampling),
            event("3", &result),
        ]
        .concat();
        let mut rewriter = EventRewriter::new("everything", 1 << 16);
        let out = rewriter.feed(stream.as_bytes(), 7);
        assert_eq!(out.dropped, 0);
        assert_eq!(out.count(EventKind::Request), 1);
        assert_eq!(out.count(EventKind::Notification), 1);
        assert_eq!(out.count(EventKind::Response), 1);
        let mut expected = sampling.clone();
        expected["id"] = json!("everything~7~0");
        assert_eq!(data_of(&out.bytes), vec![progress, expected, result]);
        assert!(String::from_utf8(out.bytes).unwrap().contains("id: 2\n"));
    }

    #[test]
    fn events_are_counted_by_kind_without_parsing_answers() {
        let answer = json!({"jsonrpc": "2.0", "id": 1, "result": {"text": "a \"method\" word"}});
        let stream = format!(
            "data: not json\n\ndata: {answer}\n\ndata: {}\n\n",
            json!({"jsonrpc": "2.0", "id": 2, "result": {}})
        );
        let out = EventRewriter::new("b", 1 << 16).feed(stream.as_bytes(), 0);
        assert_eq!(out.count(EventKind::Other), 1);
        assert_eq!(out.count(EventKind::Response), 2);
        assert_eq!(out.count(EventKind::Request), 0);
    }

    #[test]
    fn events_split_across_chunks_come_out_whole() {
        let sampling = json!({"jsonrpc": "2.0", "id": "s", "method": "elicitation/create"});
        let stream = event("7", &sampling);
        let mut rewriter = EventRewriter::new("b", 1 << 16);
        let mut bytes = Vec::new();
        let mut requests = 0;
        for piece in stream.as_bytes().chunks(5) {
            let out = rewriter.feed(piece, 3);
            requests += out.count(EventKind::Request);
            bytes.extend(out.bytes);
        }
        assert_eq!(requests, 1);
        assert_eq!(data_of(&bytes)[0]["id"], json!("b~3~\"s\""));
    }

    #[test]
    fn an_event_over_the_bound_is_dropped_and_counted() {
        let big = json!({"jsonrpc": "2.0", "method": "notifications/message",
                         "params": {"data": "x".repeat(200)}});
        let small = json!({"jsonrpc": "2.0", "id": 1, "result": {}});
        let stream = [event("1", &big), event("2", &small)].concat();
        let mut rewriter = EventRewriter::new("b", 100);
        let out = rewriter.feed(stream.as_bytes(), 0);
        assert_eq!(out.dropped, 1);
        assert_eq!(data_of(&out.bytes), vec![small]);
    }
}
