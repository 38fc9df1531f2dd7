//! Fake OpenAI-compatible model servers, each on its own loopback address, that say who served:
//! header `x-served-by` and field `served_by` carry the server's `ip:port` (IPv6 bracketed).
//! `"stream": true` gets a `chat.completion.chunk` SSE stream ending with a usage chunk and
//! `data: [DONE]`, sent in separate writes with a pause, so a test can see it arrive in pieces.
//! A request field `"x_delay_ms": N` holds the answer N milliseconds (a request in flight).

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::error::HarnessError;
use crate::fake_upstream::RecordedRequest;

/// Largest request body a fake model server reads.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Pause between streamed chunks.
const CHUNK_PAUSE: Duration = Duration::from_millis(30);

/// A model server at one address; stops when dropped.
pub struct ModelServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl ModelServer {
    /// Serves on `ip` at a free port (`ip` must be a local address: 127.0.0.0/8 or ::1).
    pub async fn start(ip: IpAddr) -> Result<ModelServer, HarnessError> {
        Self::start_at(SocketAddr::new(ip, 0)).await
    }

    /// Serves at exactly `addr`.
    pub async fn start_at(addr: SocketAddr) -> Result<ModelServer, HarnessError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| HarnessError::io(format!("binding a model server on {addr}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| HarnessError::io("reading a model server's address", e))?;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let app = Router::new().fallback(move |request: Request| {
            let recorded = Arc::clone(&recorded);
            async move { serve(addr, request, &recorded).await }
        });
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(ModelServer {
            addr,
            requests,
            shutdown: Some(shutdown),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request it served.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests
            .lock()
            .expect("no test panics while holding it")
            .clone()
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

async fn serve(
    me: SocketAddr,
    request: Request,
    recorded: &Mutex<Vec<RecordedRequest>>,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    recorded
        .lock()
        .expect("no test panics while holding it")
        .push(RecordedRequest {
            method: parts.method.to_string(),
            path: parts.uri.to_string(),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body,
        });
    if let Some(delay) = parsed["x_delay_ms"].as_u64() {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let served_by = me.to_string();
    let model = parsed["model"].as_str().unwrap_or("fake-model").to_string();
    let mut response = if parsed["stream"].as_bool() == Some(true) {
        let mut response = Response::new(Body::from_stream(stream(served_by.clone(), model)));
        set(&mut response, "content-type", "text/event-stream");
        response
    } else {
        let answer = json!({
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": model,
            "served_by": served_by,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("hello from {served_by}")}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
        });
        let mut response = Response::new(Body::from(answer.to_string()));
        set(&mut response, "content-type", "application/json");
        response
    };
    set(&mut response, "x-served-by", &served_by);
    response
}

fn set(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// Three content chunks, the usage chunk, `[DONE]`, each its own write.
fn stream(
    served_by: String,
    model: String,
) -> impl tokio_stream::Stream<Item = Result<Bytes, Infallible>> {
    let chunk = |delta: Value, usage: Option<Value>| {
        let mut event = json!({
            "id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
            "served_by": served_by,
            "choices": if delta.is_null() { json!([]) } else { json!([{"index": 0, "delta": delta}]) }
        });
        if let Some(usage) = usage {
            event["usage"] = usage;
        }
        Bytes::from(format!("data: {event}\n\n"))
    };
    let events = vec![
        chunk(json!({"role": "assistant", "content": "one "}), None),
        chunk(json!({"content": "two "}), None),
        chunk(json!({"content": "three"}), None),
        chunk(
            Value::Null,
            Some(json!({"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7})),
        ),
        Bytes::from_static(b"data: [DONE]\n\n"),
    ];
    tokio_stream::StreamExt::throttle(tokio_stream::iter(events.into_iter().map(Ok)), CHUNK_PAUSE)
}
