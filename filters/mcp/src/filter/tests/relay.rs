//! Server→client requests in routed SSE answers, and the client's answers and notifications
//! on their way back, against the fake host.

use super::fan_out::{header, initialize};
use super::*;
use crate::metrics::{SERVER_REQUEST_RTT_MS, STREAM_EVENTS_TOTAL};
use ai_gateway_core::{CalloutId, CalloutResponse};

fn in_session(token: &str) -> FakeHost {
    post(&[("mcp-session-id", token)])
}

fn sse_event(data: &Value) -> String {
    format!("event: message\ndata: {data}\n\n")
}

/// The data of every complete event in `bytes`.
fn events(bytes: &[u8]) -> Vec<Value> {
    let mut parser = ai_gateway_core::sse::SseParser::new(1 << 20);
    parser
        .feed(bytes)
        .into_iter()
        .map(|e| serde_json::from_str(&e.unwrap().data).unwrap())
        .collect()
}

#[test]
fn server_requests_in_a_routed_sse_answer_get_backend_qualified_ids() {
    let token = initialize();
    let mut filter = filter();
    let mut host = in_session(&token);
    assert_eq!(
        send(&mut filter, &mut host, &call("a_echo")),
        Action::Continue
    );
    host.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "text/event-stream".into()),
        ("content-length".into(), "999".into()),
    ];
    assert_eq!(
        filter.on_response_headers(&mut host, false),
        Action::Continue
    );
    assert_eq!(host.header(Direction::Response, "content-length"), None);

    let sampling = json!({"jsonrpc": "2.0", "id": 0, "method": "sampling/createMessage",
                          "params": {"maxTokens": 5, "_meta": {"progressToken": 4}}});
    let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
                          "params": {"progressToken": "client-token", "progress": 1}});
    let stream = [sse_event(&progress), sse_event(&sampling)].concat();
    let (first, second) = stream.as_bytes().split_at(stream.len() - 10);

    host.response_body = first.to_vec();
    assert_eq!(filter.on_response_body(&mut host, false), Action::Continue);
    assert_eq!(
        events(&host.response_body),
        vec![progress],
        "complete events only"
    );
    host.response_body = second.to_vec();
    // The stream stays open: the backend waits for the client's answer to its request.
    filter.on_response_body(&mut host, false);
    let mut expected = sampling.clone();
    expected["id"] = json!("a~1700000000000~0");
    expected["params"]["_meta"]["progressToken"] = json!("a~1700000000000~4");
    assert_eq!(events(&host.response_body), vec![expected]);
    let streamed = |kind: &str| host.counter(STREAM_EVENTS_TOTAL, &["a", kind]);
    assert_eq!((streamed("notification"), streamed("request")), (1, 1));
}

#[test]
fn a_json_answer_passes_untouched() {
    let mut filter = filter();
    let mut host = post(&[]);
    send(&mut filter, &mut host, &call("a_echo"));
    host.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/json".into()),
    ];
    filter.on_response_headers(&mut host, false);
    let body = br#"{"jsonrpc":"2.0","id":"x~5~1","method":"sampling/createMessage"}"#;
    host.response_body = body.to_vec();
    filter.on_response_body(&mut host, true);
    assert_eq!(host.response_body, body.to_vec());
}

#[test]
fn the_clients_answer_goes_to_the_backend_that_asked_with_its_own_id() {
    let token = initialize();
    let mut filter = filter();
    let mut host = in_session(&token);
    // Relayed 1.5 s before the fake host's clock.
    let answer = json!({"jsonrpc": "2.0", "id": "a~1699999998500~0",
                        "result": {"role": "assistant", "content": {"type": "text", "text": "hi"}}});
    assert_eq!(
        send(&mut filter, &mut host, &answer.to_string()),
        Action::Continue
    );
    let sent: Value = serde_json::from_slice(&host.request_body).unwrap();
    assert_eq!(sent["id"], json!(0));
    assert_eq!(sent["result"], answer["result"]);
    assert_eq!(
        host.header(Direction::Request, BACKEND_HEADER).as_deref(),
        Some("mcp_a")
    );
    assert_eq!(
        host.header(Direction::Request, "mcp-session-id").as_deref(),
        Some("up-a")
    );
    assert_eq!(host.route_cache_cleared, 1);
    host.response_headers = vec![(":status".into(), "202".into())];
    filter.on_response_headers(&mut host, true);
    filter.on_stream_done(&mut host);
    assert_eq!(counted(&host, "response", "a", "none", "2xx"), 1);
    assert_eq!(
        host.histograms
            .get(&(SERVER_REQUEST_RTT_MS.0, vec!["a".to_string()])),
        Some(&vec![1500])
    );
}

#[test]
fn an_answer_to_an_id_the_gateway_did_not_relay_is_400() {
    for id in [
        json!(0),
        json!("plain"),
        json!("a~0"),
        json!("nobackend~5~0"),
    ] {
        let mut host = post(&[]);
        let answer = json!({"jsonrpc": "2.0", "id": id, "result": {}});
        send(&mut filter(), &mut host, &answer.to_string());
        let (status, body) = reply_json(&host);
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (400, json!(-32602))
        );
        assert!(
            host.request_body.starts_with(b"{\"jsonrpc\""),
            "not forwarded"
        );
        assert_eq!(host.header(Direction::Request, BACKEND_HEADER), None);
    }
}

#[test]
fn progress_on_a_qualified_token_goes_to_its_backend() {
    let mut filter = filter();
    let mut host = post(&[]);
    let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
                          "params": {"progressToken": "b~5~\"t\"", "progress": 2}});
    assert_eq!(
        send(&mut filter, &mut host, &progress.to_string()),
        Action::Continue
    );
    let sent: Value = serde_json::from_slice(&host.request_body).unwrap();
    assert_eq!(sent["params"]["progressToken"], json!("t"));
    assert_eq!(
        host.header(Direction::Request, BACKEND_HEADER).as_deref(),
        Some("mcp_b")
    );
}

#[test]
fn a_cancellation_reaches_every_backend_of_the_session() {
    let token = initialize();
    let mut filter = filter();
    let mut host = in_session(&token);
    let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                        "params": {"requestId": 7, "reason": "user"}});
    assert_eq!(
        send(&mut filter, &mut host, &cancel.to_string()),
        Action::Pause
    );
    assert_eq!(host.callouts.len(), 2);
    for callout in &host.callouts {
        let sent: Value = serde_json::from_slice(&callout.body).unwrap();
        assert_eq!(sent, cancel);
    }
    assert_eq!(header(&host.callouts[0], "mcp-session-id"), Some("up-a"));
    for id in [1, 2] {
        filter.on_callout_done(
            &mut host,
            CalloutId(id),
            Ok(CalloutResponse {
                status: 202,
                headers: vec![],
                body: vec![],
            }),
        );
    }
    assert_eq!(host.local_reply.as_ref().unwrap().status, 202);
}
