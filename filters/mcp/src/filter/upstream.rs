//! Talking to a backend by HTTP callout: the request the gateway sends for a fan-out, and
//! the JSON-RPC answer read back from a whole response (JSON or SSE).

use ai_gateway_core::jsonrpc::{self, Id, Message, Outcome};
use ai_gateway_core::sse::SseParser;
use ai_gateway_core::{CalloutRequest, CalloutResult};

use crate::config::Backend;
use crate::merge::Reply;

/// What the gateway sends one backend besides the body.
#[derive(Debug, Clone, Default)]
pub(super) struct CallHeaders<'a> {
    /// `MCP-Protocol-Version`, when one is known.
    pub protocol_version: Option<String>,
    /// The backend's own `Mcp-Session-Id`.
    pub session: Option<&'a str>,
    /// `Mcp-Method` (2026-07-28 requests carry it).
    pub mcp_method: Option<&'a str>,
}

/// A callout to `backend` with the given HTTP method and body.
pub(super) fn callout(
    backend: &Backend,
    http_method: &str,
    headers: CallHeaders<'_>,
    body: Vec<u8>,
    timeout_ms: u64,
) -> CalloutRequest {
    let authority = backend.host.as_deref().unwrap_or(&backend.cluster);
    let mut list: Vec<(String, String)> = vec![
        (":method".into(), http_method.into()),
        (":path".into(), backend.path.clone()),
        (":authority".into(), authority.into()),
        (
            "accept".into(),
            "application/json, text/event-stream".into(),
        ),
    ];
    if !body.is_empty() {
        list.push(("content-type".into(), "application/json".into()));
    }
    if let Some(version) = headers.protocol_version {
        list.push(("mcp-protocol-version".into(), version));
    }
    if let Some(session) = headers.session {
        list.push(("mcp-session-id".into(), session.into()));
    }
    if let Some(method) = headers.mcp_method {
        list.push(("mcp-method".into(), method.into()));
    }
    list.extend(backend.headers.iter().cloned());
    CalloutRequest {
        cluster: backend.cluster.clone(),
        headers: list,
        body,
        timeout_ms,
    }
}

/// A backend's answer to the request `id`, and the `Mcp-Session-Id` it issued (if any).
pub(super) fn read_reply(
    result: CalloutResult,
    id: &Id,
    max_bytes: usize,
) -> (Reply, Option<String>) {
    let response = match result {
        Ok(response) => response,
        Err(failure) => return (Reply::Failed(failure.to_string()), None),
    };
    let session = header(&response.headers, "mcp-session-id").map(str::to_string);
    if !(200..300).contains(&response.status) {
        return (Reply::Failed(format!("HTTP {}", response.status)), session);
    }
    if response.body.len() > max_bytes {
        return (
            Reply::Failed("response exceeds maxResponseBytes".into()),
            session,
        );
    }
    let is_sse = header(&response.headers, "content-type")
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/event-stream"));
    let reply = if is_sse {
        from_sse(&response.body, id, max_bytes)
    } else {
        from_json(&response.body, id)
    };
    (reply, session)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn from_json(body: &[u8], id: &Id) -> Reply {
    match jsonrpc::parse_message(body) {
        Ok(Message::Response(response)) if &response.id == id => outcome(response.outcome),
        Ok(_) => Reply::Failed("body is not the response to the request".into()),
        Err(err) => Reply::Failed(format!("unreadable body: {err}")),
    }
}

/// The first event whose data is the response to `id` (servers may send notifications and
/// requests of their own first).
fn from_sse(body: &[u8], id: &Id, max_bytes: usize) -> Reply {
    let mut parser = SseParser::new(max_bytes);
    let mut events = parser.feed(body);
    // A final event without its blank line is still dispatched.
    events.extend(parser.feed(b"\n\n"));
    for event in events.into_iter().flatten() {
        if let Ok(Message::Response(response)) = jsonrpc::parse_message(event.data.as_bytes()) {
            if &response.id == id {
                return outcome(response.outcome);
            }
        }
    }
    Reply::Failed("event stream without the response".into())
}

fn outcome(outcome: Outcome) -> Reply {
    match outcome {
        Outcome::Result(value) => Reply::Result(value),
        Outcome::Error(error) => Reply::Error(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ai_gateway_core::{CalloutFailure, CalloutResponse};
    use serde_json::json;

    fn ok(content_type: &str, body: &str) -> CalloutResult {
        Ok(CalloutResponse {
            status: 200,
            headers: vec![
                ("content-type".into(), content_type.into()),
                ("mcp-session-id".into(), "up-1".into()),
            ],
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn json_and_sse_answers_are_read_by_id() {
        let (reply, session) = read_reply(
            ok(
                "application/json",
                r#"{"jsonrpc":"2.0","id":3,"result":{"a":1}}"#,
            ),
            &Id::Number(3.into()),
            1024,
        );
        assert_eq!(reply, Reply::Result(json!({"a": 1})));
        assert_eq!(session.as_deref(), Some("up-1"));
        let sse = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n\n\
                   event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32601,\"message\":\"no\"}}\n\n";
        let (reply, _) = read_reply(ok("text/event-stream", sse), &Id::Number(3.into()), 1024);
        assert!(matches!(reply, Reply::Error(e) if e.code == -32601));
    }

    #[test]
    fn failures_are_described() {
        let (reply, _) = read_reply(Err(CalloutFailure::Timeout), &Id::Number(1.into()), 1024);
        assert_eq!(reply, Reply::Failed("timed out".into()));
        let (reply, _) = read_reply(
            ok(
                "application/json",
                r#"{"jsonrpc":"2.0","id":9,"result":{}}"#,
            ),
            &Id::Number(1.into()),
            1024,
        );
        assert!(matches!(reply, Reply::Failed(_)));
        let mut bad = ok("application/json", "{}").unwrap();
        bad.status = 503;
        let (reply, _) = read_reply(Ok(bad), &Id::Number(1.into()), 1024);
        assert_eq!(reply, Reply::Failed("HTTP 503".into()));
    }
}
