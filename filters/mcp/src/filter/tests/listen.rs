//! The session-based GET stream against the fake host.

use super::*;
use crate::session_token::SessionPayload;
use ai_gateway_core::StreamId;

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
        String::from_utf8_lossy(&host.response_body).contains(r#""id":"a~1700000000000~1""#),
        "{}",
        String::from_utf8_lossy(&host.response_body)
    );
}

fn without_streamed_callouts(mut host: FakeHost) -> FakeHost {
    host.capabilities.streaming_callouts = false;
    host
}

#[test]
fn without_streamed_callouts_several_streaming_backends_need_a_listen_backend() {
    let token = token_with_sessions(&["a", "b"]);
    let mut host = without_streamed_callouts(get(Some(&token)));
    filter().on_request_headers(&mut host, true);
    assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(405));

    let mut chosen = filter_with(json!({"listenBackend": "b"}));
    let mut host = without_streamed_callouts(get(Some(&token)));
    assert_eq!(chosen.on_request_headers(&mut host, true), Action::Continue);
    assert_eq!(
        host.header(Direction::Request, "mcp-session-id").as_deref(),
        Some("up-b")
    );
}

fn stream_header<'a>(request: &'a ai_gateway_core::CalloutRequest, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn with_streamed_callouts_every_backend_stream_is_merged_into_one() {
    let token = token_with_sessions(&["a", "b"]);
    let mut filter = filter();
    let mut host = get(Some(&token));
    assert_eq!(filter.on_request_headers(&mut host, true), Action::Pause);
    assert_eq!(host.streams.len(), 2);
    assert_eq!(
        (
            host.streams[0].cluster.as_str(),
            stream_header(&host.streams[0], "mcp-session-id")
        ),
        ("mcp_a", Some("up-a"))
    );
    assert_eq!(stream_header(&host.streams[1], ":method"), Some("GET"));
    assert_eq!(
        stream_header(&host.streams[1], "mcp-session-id"),
        Some("up-b")
    );
    let (status, headers) = host.streamed_response.clone().expect("a streamed response");
    assert_eq!(status, 200);
    assert!(headers.contains(&("content-type".into(), "text/event-stream".into())));

    let (a, b) = (StreamId(1), StreamId(2));
    filter.on_stream_headers(&mut host, a, 200, false);
    filter.on_stream_headers(&mut host, b, 200, false);
    let changed =
        b"data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}\n\n";
    filter.on_stream_data(&mut host, b, changed, false);
    let roots = b"data: {\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"roots/list\"}\n\n";
    filter.on_stream_data(&mut host, a, &roots[..20], false);
    filter.on_stream_data(&mut host, a, &roots[20..], false);
    let body = String::from_utf8(host.streamed_body.clone()).unwrap();
    assert!(body.contains("notifications/tools/list_changed"), "{body}");
    assert!(body.contains(r#""id":"a~1700000000000~4""#), "{body}");
    assert!(!host.streamed_ended);

    filter.on_stream_end(&mut host, a, true);
    assert!(!host.streamed_ended, "b still streams");
    filter.on_stream_data(&mut host, b, b"", true);
    assert!(host.streamed_ended, "the last backend stream ended");
}

#[test]
fn a_backend_refusing_its_stream_leaves_the_others() {
    let token = token_with_sessions(&["a", "b"]);
    let mut filter = filter();
    let mut host = get(Some(&token));
    filter.on_request_headers(&mut host, true);
    filter.on_stream_headers(&mut host, StreamId(1), 405, false);
    assert!(!host.streamed_ended);
    filter.on_stream_headers(&mut host, StreamId(2), 200, false);
    filter.on_stream_data(&mut host, StreamId(2), b"data: {\"x\":1}\n\n", false);
    assert!(String::from_utf8_lossy(&host.streamed_body).contains("{\"x\":1}"));
    filter.on_stream_end(&mut host, StreamId(2), false);
    assert!(host.streamed_ended);
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
