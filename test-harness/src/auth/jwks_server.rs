//! A JWKS/OIDC server on a free loopback port: `GET /.well-known/openid-configuration` names
//! `jwks_uri` = `<issuer>/jwks`; `GET /jwks` serves the keys a test published last, with an
//! optional `Cache-Control: max-age`. Keys rotate while Envoy runs; requests are counted.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::error::HarnessError;

/// What the server publishes and what it was asked.
#[derive(Default)]
struct Published {
    keys: Vec<Value>,
    max_age: Option<u64>,
    failing: bool,
    jwks_requests: usize,
    discovery_requests: usize,
}

type Shared = Arc<Mutex<Published>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Published> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The identity provider's key endpoint; stops when dropped.
pub struct JwksServer {
    addr: SocketAddr,
    shared: Shared,
    shutdown: Option<oneshot::Sender<()>>,
}

impl JwksServer {
    /// Starts serving an empty key set.
    pub async fn start() -> Result<JwksServer, HarnessError> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| HarnessError::io("binding the JWKS server", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| HarnessError::io("reading the JWKS server's address", e))?;
        let shared: Shared = Arc::default();
        let app = Router::new()
            .route("/jwks", get(jwks))
            .route("/.well-known/openid-configuration", get(discovery))
            .with_state((Arc::clone(&shared), addr));
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(JwksServer {
            addr,
            shared,
            shutdown: Some(shutdown),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`: the issuer whose discovery document this server serves.
    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://<addr>/jwks`.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.issuer())
    }

    /// Replaces the published keys (a rotation).
    pub fn publish(&self, jwks: Vec<Value>) {
        lock(&self.shared).keys = jwks;
    }

    /// Sends `Cache-Control: max-age=<seconds>` with the keys (none: no header).
    pub fn set_max_age(&self, seconds: Option<u64>) {
        lock(&self.shared).max_age = seconds;
    }

    /// Makes `/jwks` answer 503 (true) or the keys again (false).
    pub fn set_failing(&self, failing: bool) {
        lock(&self.shared).failing = failing;
    }

    /// `GET /jwks` requests so far.
    pub fn jwks_requests(&self) -> usize {
        lock(&self.shared).jwks_requests
    }

    /// Discovery requests so far.
    pub fn discovery_requests(&self) -> usize {
        lock(&self.shared).discovery_requests
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

async fn jwks(State((shared, _)): State<(Shared, SocketAddr)>) -> Response {
    let mut published = lock(&shared);
    published.jwks_requests += 1;
    if published.failing {
        return (StatusCode::SERVICE_UNAVAILABLE, "keys unavailable").into_response();
    }
    let body = json!({ "keys": published.keys }).to_string();
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    if let Some(max_age) = published.max_age {
        if let Ok(value) = format!("max-age={max_age}").parse() {
            response.headers_mut().insert(header::CACHE_CONTROL, value);
        }
    }
    response
}

async fn discovery(State((shared, addr)): State<(Shared, SocketAddr)>) -> Response {
    lock(&shared).discovery_requests += 1;
    let issuer = format!("http://{addr}");
    // The fields OpenID Connect Discovery 1.0 §3 requires, plus jwks_uri.
    let body = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
