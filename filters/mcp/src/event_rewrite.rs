//! A backend's SSE answer to a routed request, rewritten chunk by chunk on its way to the
//! client: an event whose data is a server→client request (sampling, elicitation, roots) gets
//! its id and progress token qualified with the backend ([`crate::relay_ids`]), so that the
//! client's answer can be routed back; every other event passes with its data unchanged.
//! An event split across body chunks is held until its end (bounded: a larger event is dropped
//! and counted, as the SSE parser skips it).

use ai_gateway_core::sse::{Event, SseParser};
use serde_json::Value;

use crate::relay_ids::qualify_server_request;

/// What one chunk became.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rewritten {
    /// The bytes to send in place of the chunk (complete events only).
    pub bytes: Vec<u8>,
    /// Events that carried a server→client request.
    pub server_requests: usize,
    /// Events dropped for exceeding the size bound.
    pub dropped: usize,
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

    /// The events `chunk` completes, rewritten where needed, in wire form.
    pub fn feed(&mut self, chunk: &[u8]) -> Rewritten {
        let mut out = Rewritten::default();
        for item in self.parser.feed(chunk) {
            match item {
                Ok(mut event) => {
                    if self.qualify(&mut event) {
                        out.server_requests += 1;
                    }
                    event.write_to(&mut out.bytes);
                }
                Err(_) => out.dropped += 1,
            }
        }
        out
    }

    fn qualify(&self, event: &mut Event) -> bool {
        // Only JSON-RPC requests carry a `"method"` and an `"id"`; most events are neither
        // and are not parsed.
        if !event.data.contains("\"method\"") {
            return false;
        }
        let Ok(mut message) = serde_json::from_str::<Value>(&event.data) else {
            return false;
        };
        if !qualify_server_request(&self.backend, &mut message) {
            return false;
        }
        event.data = message.to_string();
        true
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
        let out = rewriter.feed(stream.as_bytes());
        assert_eq!((out.server_requests, out.dropped), (1, 0));
        let mut expected = sampling.clone();
        expected["id"] = json!("everything~0");
        assert_eq!(data_of(&out.bytes), vec![progress, expected, result]);
        assert!(String::from_utf8(out.bytes).unwrap().contains("id: 2\n"));
    }

    #[test]
    fn events_split_across_chunks_come_out_whole() {
        let sampling = json!({"jsonrpc": "2.0", "id": "s", "method": "elicitation/create"});
        let stream = event("7", &sampling);
        let mut rewriter = EventRewriter::new("b", 1 << 16);
        let mut bytes = Vec::new();
        let mut requests = 0;
        for piece in stream.as_bytes().chunks(5) {
            let out = rewriter.feed(piece);
            requests += out.server_requests;
            bytes.extend(out.bytes);
        }
        assert_eq!(requests, 1);
        assert_eq!(data_of(&bytes)[0]["id"], json!("b~\"s\""));
    }

    #[test]
    fn an_event_over_the_bound_is_dropped_and_counted() {
        let big = json!({"jsonrpc": "2.0", "method": "notifications/message",
                         "params": {"data": "x".repeat(200)}});
        let small = json!({"jsonrpc": "2.0", "id": 1, "result": {}});
        let stream = [event("1", &big), event("2", &small)].concat();
        let mut rewriter = EventRewriter::new("b", 100);
        let out = rewriter.feed(stream.as_bytes());
        assert_eq!(out.dropped, 1);
        assert_eq!(data_of(&out.bytes), vec![small]);
    }
}
