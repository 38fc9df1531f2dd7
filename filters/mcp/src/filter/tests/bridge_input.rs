//! A session-based backend asking a 2026-07-28 client for input mid-call, where callouts
//! stream: asked as an `InputRequiredResult`, answered by the client's retry, the call's stream
//! resumed after the last event read.

use super::bridge::{body, header, modern, status};
use super::*;
use crate::bridged::{Bridged, ClientMeta, CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY};
use crate::metrics::SERVER_REQUEST_RTT_MS;
use ai_gateway_core::{CalloutId, StreamId};

/// Filters sharing one process's bridged sessions, backend `a` known as session-based with a
/// session for the clients `modern` plays.
fn bridged_process() -> impl Fn() -> McpFilter {
    let recovered = Arc::new(RecoveredSessions::default());
    let meta = json!({"_meta": {CAPABILITIES_META_KEY: {"sampling": {}},
                                CLIENT_INFO_META_KEY: {"name": "sdk", "version": "1"}}});
    let key = ClientMeta::from_params(Some(&meta)).key;
    recovered.bridged.mark_session_based("a");
    let session = Bridged {
        session: "up-a".into(),
        version: "2025-11-25".into(),
        init: json!({}),
    };
    recovered.bridged.insert("a", key, session);
    move || {
        McpFilter::new(
            settings(json!({})),
            Arc::new(ListingCache::default()),
            Arc::clone(&recovered),
        )
    }
}

fn event(id: &str, message: Value) -> Vec<u8> {
    format!("id: {id}\ndata: {message}\n\n").into_bytes()
}

/// The messages of the streamed answer so far.
fn streamed(host: &FakeHost) -> Vec<Value> {
    let mut parser = ai_gateway_core::sse::SseParser::new(1 << 20);
    (parser.feed(&host.streamed_body).into_iter())
        .map(|e| serde_json::from_str(&e.unwrap().data).unwrap())
        .collect()
}

fn call_params(extra: Value) -> Value {
    let mut params = json!({"name": "a_sample", "arguments": {"prompt": "p"}});
    if let (Some(params), Value::Object(extra)) = (params.as_object_mut(), extra) {
        params.extend(extra);
    }
    params
}

#[test]
fn a_backends_request_is_asked_and_the_retry_resumes_the_call() {
    let new_filter = bridged_process();
    let mut filter = new_filter();
    let (mut host, request) = modern("tools/call", Some("a_sample"), call_params(json!({})));
    assert_eq!(send(&mut filter, &mut host, &request), Action::Pause);
    assert!(host.callouts.is_empty() && host.local_reply.is_none());
    let call = host.streams[0].clone();
    assert_eq!(header(&call, "mcp-session-id"), Some("up-a"));
    let upstream_id = body(&call)["id"].clone();
    assert!(
        upstream_id.as_str().unwrap().starts_with("gw-"),
        "{upstream_id}"
    );
    assert_eq!(body(&call)["params"]["name"], "sample");

    filter.on_stream_headers(&mut host, StreamId(1), 200, false);
    let progress = json!({"jsonrpc": "2.0", "method": "notifications/progress",
                          "params": {"progressToken": 1, "progress": 1}});
    let sampling = json!({"jsonrpc": "2.0", "id": 0, "method": "sampling/createMessage",
                          "params": {"maxTokens": 5, "messages": []}});
    filter.on_stream_data(
        &mut host,
        StreamId(1),
        &event("e1", progress.clone()),
        false,
    );
    // Progress turns the answer into a stream, passed as it comes.
    assert!(host.local_reply.is_none());
    assert_eq!(host.streamed_response.as_ref().map(|(s, _)| *s), Some(200));
    assert_eq!(streamed(&host), vec![progress]);
    filter.on_stream_data(&mut host, StreamId(1), &event("e2", sampling), false);
    assert!(host.streamed_ended);
    let reply = streamed(&host).pop().unwrap();
    assert_eq!(reply["id"], 3);
    let asked = &reply["result"];
    assert_eq!(asked["resultType"], "input_required");
    assert_eq!(
        asked["inputRequests"]["input-1"],
        json!({"method": "sampling/createMessage", "params": {"maxTokens": 5, "messages": []}})
    );
    let state = asked["requestState"].as_str().unwrap().to_string();
    assert!(
        state.starts_with("mcpgw1.") && !state.contains("up-a"),
        "{state}"
    );

    // The retry (any worker): the answer goes back under the backend's id, then the stream
    // resumes after the sampling request's event.
    let mut filter = new_filter();
    let answer = json!({"role": "assistant", "content": {"type": "text", "text": "t"},
                        "model": "m"});
    let retry = call_params(json!({"inputResponses": {"input-1": answer},
                                   "requestState": state}));
    let (mut host, request) = modern("tools/call", Some("a_sample"), retry);
    assert_eq!(send(&mut filter, &mut host, &request), Action::Pause);
    let posted = &host.callouts[0];
    assert_eq!(
        body(posted),
        json!({"jsonrpc": "2.0", "id": 0, "result": answer})
    );
    assert_eq!(header(posted, "mcp-session-id"), Some("up-a"));
    assert!(
        host.streams.is_empty(),
        "resumed only once the answer was taken"
    );
    filter.on_callout_done(&mut host, CalloutId(1), status(202));
    let resume = &host.streams[0];
    assert_eq!(header(resume, ":method"), Some("GET"));
    assert_eq!(header(resume, "last-event-id"), Some("e2"));
    assert_eq!(header(resume, "mcp-session-id"), Some("up-a"));

    filter.on_stream_headers(&mut host, StreamId(1), 200, false);
    let other = json!({"jsonrpc": "2.0", "id": "someone-else", "result": {}});
    let result = json!({"jsonrpc": "2.0", "id": upstream_id,
                        "result": {"content": [{"type": "text", "text": "done"}]}});
    let replay = [event("e3", other), event("e4", result)].concat();
    filter.on_stream_data(&mut host, StreamId(1), &replay, false);
    let (code, reply) = reply_json(&host);
    assert_eq!(code, 200);
    assert_eq!(reply["id"], 3);
    assert_eq!(reply["result"]["resultType"], "complete");
    assert_eq!(reply["result"]["content"][0]["text"], "done");
    assert_eq!(
        host.histograms[&(SERVER_REQUEST_RTT_MS.0, vec!["a".to_string()])].len(),
        1
    );
}

#[test]
fn json_answers_forged_states_unresumable_streams_and_lost_sessions() {
    let new_filter = bridged_process();
    let forged = call_params(json!({"inputResponses": {}, "requestState": "mcpgw1.forged"}));
    let mut filter = new_filter();
    let (mut host, request) = modern("tools/call", Some("a_sample"), forged);
    send(&mut filter, &mut host, &request);
    let (_, reply) = reply_json(&host);
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
    assert!(host.callouts.is_empty() && host.streams.is_empty());

    // A backend without event ids cannot be resumed: said at once, not at the timeout.
    let mut filter = new_filter();
    let (mut host, request) = modern("tools/call", Some("a_sample"), call_params(json!({})));
    send(&mut filter, &mut host, &request);
    filter.on_stream_headers(&mut host, StreamId(1), 200, false);
    let elicit = json!({"jsonrpc": "2.0", "id": 1, "method": "elicitation/create"});
    let data = format!("data: {elicit}\n\n");
    filter.on_stream_data(&mut host, StreamId(1), data.as_bytes(), false);
    let (_, reply) = reply_json(&host);
    assert_eq!(reply["error"]["code"], -32603, "{reply}");
    assert!(reply["error"]["message"]
        .as_str()
        .unwrap()
        .contains("cannot resume"));

    // A stream that ends without an answer.
    let mut filter = new_filter();
    let (mut host, request) = modern("tools/call", Some("a_sample"), call_params(json!({})));
    send(&mut filter, &mut host, &request);
    filter.on_stream_end(&mut host, StreamId(1), true);
    let (_, reply) = reply_json(&host);
    assert_eq!(reply["error"]["code"], -32603, "{reply}");
    // A backend answering with plain JSON.
    let mut filter = new_filter();
    let (mut host, request) = modern("tools/call", Some("a_sample"), call_params(json!({})));
    send(&mut filter, &mut host, &request);
    let upstream_id = body(&host.streams[0])["id"].clone();
    filter.on_stream_headers(&mut host, StreamId(1), 200, false);
    let answer = json!({"jsonrpc": "2.0", "id": upstream_id, "result": {"content": []}});
    let answer = answer.to_string().into_bytes();
    let (head, tail) = answer.split_at(10);
    filter.on_stream_data(&mut host, StreamId(1), head, false);
    filter.on_stream_data(&mut host, StreamId(1), tail, true);
    let (_, reply) = reply_json(&host);
    assert_eq!(reply["id"], 3);
    assert_eq!(reply["result"]["resultType"], "complete", "{reply}");

    // A lost bridged session: rebuilt (initialize by callout) and the call asked again.
    let mut filter = new_filter();
    let (mut host, request) = modern("tools/call", Some("a_sample"), call_params(json!({})));
    send(&mut filter, &mut host, &request);
    filter.on_stream_headers(&mut host, StreamId(1), 404, false);
    assert!(host.local_reply.is_none());
    assert_eq!(body(&host.callouts[0])["method"], "initialize");
    assert_eq!(header(&host.callouts[0], "mcp-session-id"), None);
}
