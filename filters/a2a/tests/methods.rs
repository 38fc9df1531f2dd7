//! Method observability: which method and outcome each request is counted under, and that
//! observing never holds traffic back.

mod common;

use std::sync::Arc;

use ai_gateway_core::FilterFactory;
use common::{exchange, get, post, response, Message};

const CONFIG: &str =
    r#"{"agents":[{"name":"demo","pathPrefix":"/a2a/demo"}],"extraMethods":["acme/Audit"]}"#;

fn factory() -> Arc<dyn FilterFactory> {
    ai_gateway_a2a::factory(CONFIG).unwrap()
}

fn rpc(method: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":"r1","method":"{method}","params":{{"message":{{"parts":[]}}}}}}"#
    )
}

fn ok() -> Message {
    response(
        200,
        "application/json",
        r#"{"jsonrpc":"2.0","id":"r1","result":{}}"#,
    )
}

#[test]
fn json_rpc_methods_of_both_generations_are_counted_by_name() {
    let factory = factory();
    let methods = [
        "SendMessage",
        "SendStreamingMessage",
        "GetTask",
        "ListTasks",
        "CancelTask",
        "SubscribeToTask",
        "CreateTaskPushNotificationConfig",
        "GetTaskPushNotificationConfig",
        "ListTaskPushNotificationConfigs",
        "DeleteTaskPushNotificationConfig",
        "message/send",
        "message/stream",
        "tasks/get",
        "tasks/cancel",
        "tasks/resubscribe",
        "tasks/pushNotificationConfig/set",
        "tasks/pushNotificationConfig/get",
        "tasks/pushNotificationConfig/list",
        "tasks/pushNotificationConfig/delete",
        "acme/Audit",
    ];
    for method in methods {
        let ex = exchange(&factory, post("/a2a/demo/", rpc(method)), Some(ok()));
        assert_eq!(
            ex.counters("a2a_requests_total"),
            vec![(vec!["demo".into(), method.into(), "2xx".into()], 1)]
        );
    }
}

#[test]
fn rest_binding_paths_are_counted_under_v1_names() {
    let factory = factory();
    let cases = [
        ("POST", "/a2a/demo/message:send", "SendMessage"),
        ("POST", "/a2a/demo/message:stream", "SendStreamingMessage"),
        ("GET", "/a2a/demo/tasks/t-1", "GetTask"),
        ("GET", "/a2a/demo/tasks", "ListTasks"),
        ("POST", "/a2a/demo/tasks/t-1:cancel", "CancelTask"),
        ("GET", "/a2a/demo/tasks/t-1:subscribe", "SubscribeToTask"),
        (
            "POST",
            "/a2a/demo/tasks/t-1/pushNotificationConfigs",
            "CreateTaskPushNotificationConfig",
        ),
        (
            "GET",
            "/a2a/demo/tasks/t-1/pushNotificationConfigs/c",
            "GetTaskPushNotificationConfig",
        ),
        (
            "GET",
            "/a2a/demo/tasks/t-1/pushNotificationConfigs",
            "ListTaskPushNotificationConfigs",
        ),
        (
            "DELETE",
            "/a2a/demo/tasks/t-1/pushNotificationConfigs/c",
            "DeleteTaskPushNotificationConfig",
        ),
        ("POST", "/a2a/demo/v1/message:send", "SendMessage"),
        ("GET", "/a2a/demo/v1/tasks/t-1", "GetTask"),
        ("POST", "/a2a/demo/v1/tasks/t-1:cancel", "CancelTask"),
    ];
    for (verb, path, method) in cases {
        let mut request = Message::new(&[(":method", verb), (":path", path), (":authority", "gw")]);
        if verb == "POST" {
            request = request.body(r#"{"message":{"role":"ROLE_USER","parts":[{"text":"hi"}]}}"#);
        }
        let ex = exchange(
            &factory,
            request,
            Some(response(200, "application/json", "{}")),
        );
        assert_eq!(
            ex.counter("a2a_requests_total", &["demo", method, "2xx"]),
            1,
            "{verb} {path}"
        );
    }
}

#[test]
fn json_rpc_errors_in_json_responses_become_the_outcome() {
    let factory = factory();
    let cases = [
        (-32601, "jsonrpc_-32601"),
        (-32602, "jsonrpc_-32602"),
        (-32001, "jsonrpc_-32001"),
        (-32050, "jsonrpc_other"),
    ];
    for (code, outcome) in cases {
        let body =
            format!(r#"{{"jsonrpc":"2.0","id":"r1","error":{{"code":{code},"message":"m"}}}}"#);
        let ex = exchange(
            &factory,
            post("/a2a/demo/", rpc("GetTask")),
            Some(
                Message::new(&[(":status", "200"), ("content-type", "application/json")])
                    .chunked(&body, 9),
            ),
        );
        assert_eq!(
            ex.counter("a2a_requests_total", &["demo", "GetTask", outcome]),
            1,
            "{code}"
        );
        assert_eq!(ex.client_body, body.as_bytes());
    }
}

#[test]
fn http_status_classes_become_the_outcome() {
    let factory = factory();
    for (status, class) in [(200, "2xx"), (301, "3xx"), (401, "4xx"), (503, "5xx")] {
        let ex = exchange(
            &factory,
            post("/a2a/demo/", rpc("GetTask")),
            Some(response(status, "text/plain", "x")),
        );
        assert_eq!(
            ex.counter("a2a_requests_total", &["demo", "GetTask", class]),
            1
        );
    }
}

#[test]
fn streaming_responses_pass_through_unbuffered() {
    let events: Vec<String> = (0..20)
        .map(|i| format!("data: {{\"jsonrpc\":\"2.0\",\"id\":\"r1\",\"result\":{{\"statusUpdate\":{{\"n\":{i}}}}}}}\n\n"))
        .collect();
    let stream = events.concat();
    let upstream = Message::new(&[(":status", "200"), ("content-type", "text/event-stream")])
        .chunked(&stream, 13);
    let ex = exchange(
        &factory(),
        post("/a2a/demo/", rpc("SendStreamingMessage")),
        Some(upstream),
    );
    assert_eq!(ex.max_response_buffered, 0);
    assert_eq!(ex.client_body, stream.as_bytes());
    assert_eq!(
        ex.counter(
            "a2a_requests_total",
            &["demo", "SendStreamingMessage", "2xx"]
        ),
        1
    );
}

#[test]
fn json_rpc_error_inside_an_sse_stream_becomes_the_outcome() {
    let stream = "data: {\"jsonrpc\":\"2.0\",\"id\":\"r1\",\"result\":{\"task\":{}}}\r\n\r\n\
                  : keep-alive\r\n\r\n\
                  event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"r1\",\r\ndata: \"error\":{\"code\":-32004,\"message\":\"no\"}}\r\n\r\n";
    for chunk in [1, 5, stream.len()] {
        let upstream = Message::new(&[
            (":status", "200"),
            ("content-type", "text/event-stream; charset=utf-8"),
        ])
        .chunked(stream, chunk);
        let ex = exchange(
            &factory(),
            post("/a2a/demo/", rpc("message/stream")),
            Some(upstream),
        );
        assert_eq!(
            ex.counter(
                "a2a_requests_total",
                &["demo", "message/stream", "jsonrpc_-32004"]
            ),
            1,
            "chunks of {chunk}"
        );
        assert_eq!(ex.client_body, stream.as_bytes());
    }
}

#[test]
fn latency_is_recorded_per_agent_and_method() {
    let ex = exchange(&factory(), post("/a2a/demo/", rpc("tasks/get")), Some(ok()));
    assert_eq!(
        ex.histogram("a2a_request_duration_ms", &["demo", "tasks/get"]),
        vec![5]
    );
}

#[test]
fn request_bodies_are_observed_without_pausing() {
    let body = rpc("SendMessage");
    let mut request = post("/a2a/demo/", "");
    request.chunks.clear();
    let request = request.chunked(&body, 4);
    let ex = exchange(&factory(), request, Some(ok()));
    assert!(!ex.request_paused);
    assert_eq!(ex.upstream_body, body.as_bytes());
    assert_eq!(
        ex.counter("a2a_requests_total", &["demo", "SendMessage", "2xx"]),
        1
    );
}

#[test]
fn large_requests_are_named_from_their_first_bytes() {
    let config = r#"{"agents":[{"name":"demo","pathPrefix":"/a2a/demo"}],"maxInspectBytes":64}"#;
    let factory = ai_gateway_a2a::factory(config).unwrap();
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{{"text":"{}"}}}}"#,
        "y".repeat(5000)
    );
    let request =
        Message::new(&[(":method", "POST"), (":path", "/a2a/demo/")]).chunked(&body, 1000);
    let ex = exchange(&factory, request, Some(ok()));
    assert_eq!(ex.upstream_body, body.as_bytes());
    assert_eq!(
        ex.counter("a2a_requests_total", &["demo", "SendMessage", "2xx"]),
        1
    );
}

#[test]
fn requests_without_a_response_are_counted_as_reset() {
    let ex = exchange(&factory(), post("/a2a/demo/", rpc("GetTask")), None);
    assert_eq!(
        ex.counter("a2a_requests_total", &["demo", "GetTask", "reset"]),
        1
    );
}

#[test]
fn other_paths_and_agents_use_other() {
    let factory = factory();
    let ex = exchange(
        &factory,
        get("/a2a/demo/favicon.ico"),
        Some(response(404, "text/plain", "")),
    );
    assert_eq!(
        ex.counter("a2a_requests_total", &["demo", "other", "4xx"]),
        1
    );
    let ex = exchange(&factory, post("/elsewhere", rpc("GetTask")), Some(ok()));
    assert_eq!(
        ex.counter("a2a_requests_total", &["other", "GetTask", "2xx"]),
        1
    );
}
