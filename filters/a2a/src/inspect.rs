//! Observing bodies without holding them back: bounded copies of JSON bodies, and an
//! incremental SSE reader, both used only to learn a method name or a JSON-RPC error code.

use ai_gateway_core::jsonrpc::{self, Message};
use ai_gateway_core::sse::SseParser;

/// A copy of the first `limit` bytes of a body.
#[derive(Debug, Clone)]
pub struct BoundedCopy {
    bytes: Vec<u8>,
    limit: usize,
    truncated: bool,
}

impl BoundedCopy {
    /// An empty copy keeping at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        BoundedCopy {
            bytes: Vec::new(),
            limit,
            truncated: false,
        }
    }

    /// Whether more bytes are wanted (so the caller can skip reading the chunk at all).
    pub fn wants_more(&self) -> bool {
        !self.truncated
    }

    /// Appends a chunk, keeping at most `limit` bytes in total.
    pub fn push(&mut self, chunk: &[u8]) {
        let room = self.limit - self.bytes.len();
        if chunk.len() > room {
            self.bytes.extend_from_slice(&chunk[..room]);
            self.truncated = true;
        } else {
            self.bytes.extend_from_slice(chunk);
        }
    }

    /// The copied bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether the body was longer than the limit.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

/// The JSON-RPC error code of a complete response body, if it is an error response.
pub fn jsonrpc_error_code(body: &[u8]) -> Option<i64> {
    match jsonrpc::parse_message(body) {
        Ok(Message::Response(r)) => r.error_object().map(|e| e.code),
        _ => None,
    }
}

/// Reads a response for the first JSON-RPC error it carries.
#[derive(Debug)]
pub enum ResponseInspector {
    /// Not inspected (not JSON-RPC, or compressed).
    Off,
    /// An `application/json` body, copied up to the limit and parsed at the end.
    Json(BoundedCopy),
    /// A `text/event-stream` body, each event parsed as it completes.
    Sse(SseParser),
}

impl ResponseInspector {
    /// The inspector for a response with this content type and encoding.
    pub fn for_response(
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        limit: usize,
    ) -> Self {
        if content_encoding.is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity")) {
            return ResponseInspector::Off;
        }
        let media_type = content_type
            .and_then(|ct| ct.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase());
        match media_type.as_deref() {
            Some("text/event-stream") => ResponseInspector::Sse(SseParser::new(limit)),
            Some(m) if m == "application/json" || m.ends_with("+json") => {
                ResponseInspector::Json(BoundedCopy::new(limit))
            }
            _ => ResponseInspector::Off,
        }
    }

    /// Whether the next chunk should be handed to [`ResponseInspector::chunk`].
    pub fn wants_data(&self) -> bool {
        match self {
            ResponseInspector::Off => false,
            ResponseInspector::Json(copy) => copy.wants_more(),
            ResponseInspector::Sse(_) => true,
        }
    }

    /// Inspects one chunk; returns the JSON-RPC error code once one is seen. After that (or
    /// when the body cannot be inspected) the inspector switches itself off.
    pub fn chunk(&mut self, chunk: &[u8], end_of_stream: bool) -> Option<i64> {
        let found = match self {
            ResponseInspector::Off => return None,
            ResponseInspector::Json(copy) => {
                copy.push(chunk);
                if !end_of_stream {
                    return None;
                }
                // A truncated copy cannot be parsed; error responses are small anyway.
                (!copy.truncated())
                    .then(|| jsonrpc_error_code(copy.bytes()))
                    .flatten()
            }
            ResponseInspector::Sse(parser) => parser
                .feed(chunk)
                .into_iter()
                .flatten()
                .find_map(|event| jsonrpc_error_code(event.data.as_bytes())),
        };
        if found.is_some() || end_of_stream {
            *self = ResponseInspector::Off;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_copy_keeps_only_the_limit() {
        let mut copy = BoundedCopy::new(5);
        copy.push(b"abc");
        assert!(copy.wants_more());
        copy.push(b"defg");
        assert_eq!(copy.bytes(), b"abcde");
        assert!(copy.truncated());
        assert!(!copy.wants_more());
    }

    #[test]
    fn json_error_responses_report_their_code() {
        let body = br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"nope"}}"#;
        let mut inspector = ResponseInspector::for_response(Some("application/json"), None, 1024);
        assert_eq!(inspector.chunk(&body[..10], false), None);
        assert_eq!(inspector.chunk(&body[10..], true), Some(-32601));
    }

    #[test]
    fn json_results_and_truncated_bodies_report_nothing() {
        let ok = br#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
        let mut inspector =
            ResponseInspector::for_response(Some("application/json; charset=utf-8"), None, 1024);
        assert_eq!(inspector.chunk(ok, true), None);

        let err = br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"nope"}}"#;
        let mut small = ResponseInspector::for_response(Some("application/json"), None, 10);
        assert_eq!(small.chunk(err, true), None);
    }

    #[test]
    fn sse_errors_are_found_across_chunks() {
        let stream = b"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"task\":{}}}\n\n\
                       data: {\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32004,\"message\":\"x\"}}\n\n";
        for cut in 0..stream.len() {
            let mut inspector =
                ResponseInspector::for_response(Some("text/event-stream"), None, 4096);
            let first = inspector.chunk(&stream[..cut], false);
            let second = inspector.chunk(&stream[cut..], true);
            assert_eq!(first.or(second), Some(-32004), "cut at {cut}");
        }
    }

    #[test]
    fn compressed_and_non_json_responses_are_not_inspected() {
        assert!(matches!(
            ResponseInspector::for_response(Some("application/json"), Some("gzip"), 10),
            ResponseInspector::Off
        ));
        assert!(matches!(
            ResponseInspector::for_response(Some("text/html"), None, 10),
            ResponseInspector::Off
        ));
        assert!(matches!(
            ResponseInspector::for_response(None, None, 10),
            ResponseInspector::Off
        ));
        assert!(matches!(
            ResponseInspector::for_response(Some("application/a2a+json"), Some("identity"), 10),
            ResponseInspector::Json(_)
        ));
    }
}
