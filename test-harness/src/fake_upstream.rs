//! In-process fake upstreams (tokio + axum) whose answers a test chooses, recording every request.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use crate::error::HarnessError;

/// Largest request body a fake records.
const MAX_REQUEST_BODY: usize = 64 * 1024 * 1024;

/// A request as the fake received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query, as forwarded by Envoy.
    pub path: String,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The whole request body.
    pub body: Bytes,
}

impl RecordedRequest {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a fake answers.
#[derive(Debug)]
pub enum Reply {
    /// A complete response.
    Full {
        /// HTTP status.
        status: u16,
        /// `content-type`, if any.
        content_type: Option<String>,
        /// The body, sent as is.
        body: Bytes,
    },
    /// A response whose body chunks the test sends when it wants (the stream ends when the
    /// sender is dropped).
    Streamed {
        /// HTTP status.
        status: u16,
        /// `content-type`, e.g. `text/event-stream`.
        content_type: String,
        /// Body chunks, flushed as they arrive.
        chunks: mpsc::Receiver<Bytes>,
    },
}

impl Reply {
    /// `200` with a JSON body.
    pub fn json(body: impl Into<Bytes>) -> Reply {
        Reply::with(200, Some("application/json"), body)
    }

    /// Any status, content type and body.
    pub fn with(status: u16, content_type: Option<&str>, body: impl Into<Bytes>) -> Reply {
        Reply::Full {
            status,
            content_type: content_type.map(str::to_string),
            body: body.into(),
        }
    }
}

type Responder = dyn Fn(&RecordedRequest) -> Reply + Send + Sync;

/// A fake upstream on a free loopback port; stops when dropped.
pub struct FakeUpstream {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl FakeUpstream {
    /// Serves every request with `responder`.
    pub async fn start<F>(responder: F) -> Result<FakeUpstream, HarnessError>
    where
        F: Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| HarnessError::io("binding a fake upstream", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| HarnessError::io("reading a fake upstream's address", e))?;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let responder: Arc<Responder> = Arc::new(responder);
        let recorded = Arc::clone(&requests);
        let app = Router::new().fallback(move |request: Request| {
            let responder = Arc::clone(&responder);
            let recorded = Arc::clone(&recorded);
            async move { handle(request, &*responder, &recorded).await }
        });
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(FakeUpstream {
            addr,
            requests,
            shutdown: Some(shutdown),
        })
    }

    /// Answers every request with the same status, content type and body.
    pub async fn fixed(
        status: u16,
        content_type: Option<&str>,
        body: impl Into<Bytes>,
    ) -> Result<FakeUpstream, HarnessError> {
        let content_type = content_type.map(str::to_string);
        let body = body.into();
        Self::start(move |_| Reply::with(status, content_type.as_deref(), body.clone())).await
    }

    /// Where the fake listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests
            .lock()
            .expect("no test panics while holding it")
            .clone()
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

async fn handle(
    request: Request,
    responder: &Responder,
    recorded: &Mutex<Vec<RecordedRequest>>,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_REQUEST_BODY).await {
        Ok(body) => body,
        Err(e) => {
            return plain(StatusCode::BAD_REQUEST, format!("fake upstream: {e}"));
        }
    };
    let request = RecordedRequest {
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_string(), |pq| pq.to_string()),
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
    };
    let reply = responder(&request);
    recorded
        .lock()
        .expect("no test panics while holding it")
        .push(request);
    match reply {
        Reply::Full {
            status,
            content_type,
            body,
        } => respond(status, content_type.as_deref(), Body::from(body)),
        Reply::Streamed {
            status,
            content_type,
            chunks,
        } => {
            let stream = ReceiverStream::new(chunks).map(Ok::<Bytes, Infallible>);
            respond(status, Some(&content_type), Body::from_stream(stream))
        }
    }
}

fn respond(status: u16, content_type: Option<&str>, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(value) = content_type.and_then(|ct| HeaderValue::from_str(ct).ok()) {
        response.headers_mut().insert("content-type", value);
    }
    response
}

fn plain(status: StatusCode, text: String) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
}
