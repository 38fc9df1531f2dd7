//! The session-based GET stream against the fake host.

use super::*;
use crate::session_token::SessionPayload;

/// A token whose session holds upstream sessions for `backends` (as `up-<name>`).
fn token_with_sessions(backends: &[&str]) -> String {
    let payload = SessionPayload {
        protocol_version: "2025-11-25".into(),
        upstream_sessions: backends
            .iter()
            .map(|b| (b.to_string(), format!("up-{b}")))
            .collect(),
        backend_versions: ["a", "b"]
            .iter()
            .map(|b| (b.to_string(), "2025-11-25".to_string()))
            .collect(),
        issued_at: 1_700_000_000,
        ..SessionPayload::default()
    };
    settings(json!({})).sealer.seal(&payload, [3; 12]).unwrap()
}

fn get(token: Option<&str>) -> FakeHost {
    let mut headers = vec![
        (":method", "GET"),
        (":path", "/mcp"),
        (":authority", "gateway"),
        ("accept", "text/event-stream"),
    ];
    if let Some(token) = token {
        headers.push(("mcp-session-id", token));
    }
    FakeHost::with_request_headers(&headers)
}

#[test]
fn one_streaming_backend_serves_the_get_stream_through_the_router() {
    let token = token_with_sessions(&["a"]);
    let mut filter = filter();
    let mut host = get(Some(&token));
    assert_eq!(filter.on_request_headers(&mut host, true), Action::Continue);
    assert_eq!(
        host.header(Direction::Request, BACKEND_HEADER).as_deref(),
        Some("mcp_a")
    );
    assert_eq!(
        host.header(Direction::Request, "mcp-session-id").as_deref(),
        Some("up-a")
    );
    assert_eq!(host.route_cache_cleared, 1);

    host.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "text/event-stream".into()),
    ];
    filter.on_response_headers(&mut host, false);
    host.response_body =
        b"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"roots/list\"}\n\n".to_vec();
    filter.on_response_body(&mut host, false);
    assert!(
        String::from_utf8_lossy(&host.response_body).contains(r#""id":"a~1""#),
        "{}",
        String::from_utf8_lossy(&host.response_body)
    );
}

#[test]
fn several_streaming_backends_need_a_listen_backend() {
    let token = token_with_sessions(&["a", "b"]);
    let mut host = get(Some(&token));
    filter().on_request_headers(&mut host, true);
    assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(405));

    let mut chosen = filter_with(json!({"listenBackend": "b"}));
    let mut host = get(Some(&token));
    assert_eq!(chosen.on_request_headers(&mut host, true), Action::Continue);
    assert_eq!(
        host.header(Direction::Request, "mcp-session-id").as_deref(),
        Some("up-b")
    );
}

#[test]
fn a_get_without_a_session_or_a_streaming_backend_is_declined() {
    let mut host = get(None);
    filter().on_request_headers(&mut host, true);
    assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(405));

    let token = token_with_sessions(&[]);
    let mut host = get(Some(&token));
    filter().on_request_headers(&mut host, true);
    assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(405));
    assert_eq!(host.header(Direction::Request, BACKEND_HEADER), None);
}
