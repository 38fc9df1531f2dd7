//! Routed answers the client could not read, replaced by JSON-RPC errors (or counted as reset),
//! against the fake host.

use super::*;

/// A routed `tools/call` (id 7) to backend `a`, answered with `headers`.
fn answered(headers: &[(&str, &str)], end_of_stream: bool) -> (McpFilter, FakeHost, Action) {
    let mut filter = filter();
    let mut host = post(&[]);
    assert_eq!(
        send(&mut filter, &mut host, &call("a_echo")),
        Action::Continue
    );
    host.response_headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let action = filter.on_response_headers(&mut host, end_of_stream);
    (filter, host, action)
}

fn assert_backend_error(host: &FakeHost, status: u16) {
    let (got, body) = reply_json(host);
    assert_eq!(got, status, "{body}");
    assert_eq!(body["id"], 7, "{body}");
    assert_eq!(body["error"]["code"], -32603, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("backend a "), "{body}");
}

#[test]
fn envoys_error_page_for_a_failed_upstream_becomes_a_json_rpc_error() {
    for status in ["503", "504"] {
        let headers = [(":status", status), ("content-type", "text/plain")];
        let (mut filter, mut host, action) = answered(&headers, false);
        assert_eq!(action, Action::Pause);
        assert_backend_error(&host, status.parse().unwrap());
        filter.on_stream_done(&mut host);
        assert_eq!(
            counted(&host, "tools/call", "a", "other", "jsonrpc_-32603"),
            1
        );
    }
}

#[test]
fn a_2xx_of_another_content_type_is_502() {
    let headers = [(":status", "200"), ("content-type", "text/html")];
    let (_, host, action) = answered(&headers, false);
    assert_eq!(action, Action::Pause);
    assert_backend_error(&host, 502);
}

#[test]
fn client_errors_and_json_errors_pass_untouched() {
    for headers in [
        [(":status", "401"), ("content-type", "text/plain")],
        [(":status", "500"), ("content-type", "application/json")],
    ] {
        let (_, host, action) = answered(&headers, false);
        assert_eq!(action, Action::Continue, "{headers:?}");
        assert!(host.local_reply.is_none(), "{headers:?}");
    }
}

#[test]
fn a_json_answer_of_declared_length_is_checked_whole() {
    let good = br#"{"jsonrpc":"2.0","id":7,"result":{"content":[]}}"#;
    for (body, replaced) in [
        (&good[..], false),
        (&b"upstream says: oops"[..], true),
        (
            &br#"{"jsonrpc":"2.0","method":"notifications/message"}"#[..],
            true,
        ),
    ] {
        let length = body.len().to_string();
        let headers = [
            (":status", "200"),
            ("content-type", "application/json"),
            ("content-length", length.as_str()),
        ];
        let (mut filter, mut host, action) = answered(&headers, false);
        assert_eq!(action, Action::Pause, "held until whole");
        host.response_body = body[..5].to_vec();
        assert_eq!(filter.on_response_body(&mut host, false), Action::Pause);
        host.response_body = body.to_vec();
        let action = filter.on_response_body(&mut host, true);
        if replaced {
            assert_eq!(action, Action::Pause);
            assert_backend_error(&host, 502);
        } else {
            assert_eq!(action, Action::Continue);
            assert!(host.local_reply.is_none());
            assert_eq!(host.response_body, body.to_vec());
        }
    }
}

#[test]
fn an_event_stream_that_ends_without_the_response_ends_with_an_error_event() {
    let headers = [(":status", "200"), ("content-type", "text/event-stream")];
    let (mut filter, mut host, _) = answered(&headers, false);
    let note = r#"{"jsonrpc":"2.0","method":"notifications/message","params":{}}"#;
    host.response_body =
        format!("event: message\ndata: {note}\n\nevent: message\ndata: {{\"jsonrpc\":")
            .into_bytes();
    filter.on_response_body(&mut host, true);
    let text = String::from_utf8(host.response_body.clone()).unwrap();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 2, "{text}");
    assert!(events[0].contains("notifications/message"), "{text}");
    let error: Value = serde_json::from_str(events[1].split("data: ").nth(1).unwrap()).unwrap();
    assert_eq!(error["id"], 7, "{text}");
    assert_eq!(error["error"]["code"], -32603, "{text}");
    filter.on_stream_done(&mut host);
    assert_eq!(
        counted(&host, "tools/call", "a", "other", "jsonrpc_-32603"),
        1
    );
}

#[test]
fn an_event_stream_with_the_response_ends_as_it_is() {
    let headers = [(":status", "200"), ("content-type", "text/event-stream")];
    let (mut filter, mut host, _) = answered(&headers, false);
    let answer = r#"{"jsonrpc":"2.0","id":7,"result":{}}"#;
    let stream = format!("event: message\ndata: {answer}\n\n");
    host.response_body = stream.clone().into_bytes();
    filter.on_response_body(&mut host, true);
    assert_eq!(host.response_body, stream.into_bytes());
    filter.on_stream_done(&mut host);
    assert_eq!(counted(&host, "tools/call", "a", "other", "2xx"), 1);
}

#[test]
fn an_answer_cut_before_its_end_is_counted_as_reset() {
    let headers = [(":status", "200"), ("content-type", "text/event-stream")];
    let (mut filter, mut host, _) = answered(&headers, false);
    host.response_body = b"event: message\ndata: {\"jsonrpc\":".to_vec();
    filter.on_response_body(&mut host, false);
    filter.on_stream_done(&mut host);
    assert_eq!(counted(&host, "tools/call", "a", "other", "reset"), 1);
}
