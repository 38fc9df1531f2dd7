//! The HTTP side shared by the provider fakes: one axum server per fake that records every
//! request and sends what the provider module decided, including streams cut mid-way.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use tokio::sync::oneshot;

use crate::error::HarnessError;
use crate::fake_upstream::RecordedRequest;

/// Largest request body a fake accepts (the providers' own limits are far larger; tests send
/// small bodies).
const MAX_REQUEST_BODY: usize = 32 * 1024 * 1024;

/// How a streamed answer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// Every frame is sent and the body ends normally.
    Complete,
    /// Only the first `n` frames are sent, then the body ends normally (a truncated stream: the
    /// provider's closing events never come).
    CleanCutAfter(usize),
    /// Only the first `n` frames are sent, then the connection is aborted mid-body.
    ResetAfter(usize),
}

/// What a fake sends back for one request.
#[derive(Debug)]
pub struct FakeResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers (content type included).
    pub headers: Vec<(String, String)>,
    /// The body: whole, or frames flushed one by one.
    pub body: FakeBody,
}

/// How a streamed answer is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// How the stream ends.
    pub end: StreamEnd,
    /// Send the bytes in pieces of this many bytes, cutting across frame boundaries (`None`:
    /// one chunk per frame).
    pub piece_bytes: Option<usize>,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery {
            end: StreamEnd::Complete,
            piece_bytes: None,
        }
    }
}

/// A response body.
#[derive(Debug)]
pub enum FakeBody {
    /// One complete body.
    Full(Bytes),
    /// Frames (SSE events or eventstream messages), sent as the delivery says.
    Frames(Vec<Bytes>, Delivery),
}

impl FakeResponse {
    /// A JSON body with `status`.
    pub fn json(status: u16, body: &serde_json::Value) -> FakeResponse {
        FakeResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: FakeBody::Full(Bytes::from(body.to_string())),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> FakeResponse {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// Decides the response to one recorded request.
pub type Handler = dyn Fn(&RecordedRequest) -> FakeResponse + Send + Sync;

/// A running server; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Server {
    /// Serves every request with `handler` on a free loopback port, recording each request
    /// with `record` before the handler runs.
    pub async fn start(
        handler: Arc<Handler>,
        record: Arc<dyn Fn(RecordedRequest) + Send + Sync>,
    ) -> Result<Server, HarnessError> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| HarnessError::io("binding an LLM provider fake", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| HarnessError::io("reading an LLM provider fake's address", e))?;
        let app = Router::new().fallback(move |request: Request| {
            let handler = Arc::clone(&handler);
            let record = Arc::clone(&record);
            async move {
                match recorded(request).await {
                    Ok(request) => {
                        let response = handler(&request);
                        record(request);
                        into_response(response)
                    }
                    Err(message) => into_response(FakeResponse {
                        status: 413,
                        headers: Vec::new(),
                        body: FakeBody::Full(Bytes::from(message)),
                    }),
                }
            }
        });
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Server {
            addr,
            shutdown: Some(shutdown),
        })
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

async fn recorded(request: Request) -> Result<RecordedRequest, String> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_REQUEST_BODY)
        .await
        .map_err(|e| format!("LLM fake: request body: {e}"))?;
    Ok(RecordedRequest {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_string(), |pq| pq.to_string()),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                (k.to_string(), value)
            })
            .collect(),
        body,
    })
}

fn into_response(fake: FakeResponse) -> Response {
    let body = match fake.body {
        FakeBody::Full(bytes) => Body::from(bytes),
        FakeBody::Frames(frames, delivery) => Body::from_stream(frame_stream(frames, delivery)),
    };
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(fake.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in fake.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// The frames as a body stream, one chunk each (or pieces of a fixed size) with a pause between
/// them so they leave as separate writes; an aborted stream ends in an error, which makes hyper
/// drop the connection.
fn frame_stream(
    frames: Vec<Bytes>,
    delivery: Delivery,
) -> impl tokio_stream::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let (keep, abort) = match delivery.end {
        StreamEnd::Complete => (frames.len(), false),
        StreamEnd::CleanCutAfter(n) => (n.min(frames.len()), false),
        StreamEnd::ResetAfter(n) => (n.min(frames.len()), true),
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let kept = frames.into_iter().take(keep);
    let chunks: Vec<Bytes> = match delivery.piece_bytes {
        None => kept.collect(),
        Some(size) => {
            let all: Vec<u8> = kept.flat_map(|frame| frame.to_vec()).collect();
            all.chunks(size.max(1))
                .map(Bytes::copy_from_slice)
                .collect()
        }
    };
    tokio::spawn(async move {
        for frame in chunks {
            if sender.send(Ok(frame)).await.is_err() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        if abort {
            let cut = std::io::Error::other("LLM fake: stream reset mid-way (scripted)");
            let _ = sender.send(Err(cut)).await;
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(receiver)
}
