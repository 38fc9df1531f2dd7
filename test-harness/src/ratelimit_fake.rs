//! An in-process fake of Envoy's global rate limit service (`envoy.service.ratelimit.v3`,
//! gRPC): records every `ShouldRateLimit` call (domain, descriptors with their `hits_addend`)
//! and answers `OK`, so tests can see what Envoy's `ratelimit` filter sent.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_response::Code;
use envoy_types::pb::envoy::service::ratelimit::v3::rate_limit_service_server::{
    RateLimitService, RateLimitServiceServer,
};
use envoy_types::pb::envoy::service::ratelimit::v3::{RateLimitRequest, RateLimitResponse};
use tokio::sync::oneshot;
use tonic::transport::server::TcpIncoming;

use crate::error::HarnessError;

/// One descriptor of a call: its entries (key, value) and the descriptor's own hits addend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitDescriptorCall {
    pub entries: Vec<(String, String)>,
    pub hits_addend: Option<u64>,
}

/// One `ShouldRateLimit` call as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitCall {
    pub domain: String,
    pub descriptors: Vec<RateLimitDescriptorCall>,
    /// The request-level addend (0 when unset).
    pub hits_addend: u32,
}

type Calls = Arc<Mutex<Vec<RateLimitCall>>>;

struct Service {
    calls: Calls,
}

#[tonic::async_trait]
impl RateLimitService for Service {
    async fn should_rate_limit(
        &self,
        request: tonic::Request<RateLimitRequest>,
    ) -> Result<tonic::Response<RateLimitResponse>, tonic::Status> {
        let request = request.into_inner();
        let call = RateLimitCall {
            domain: request.domain,
            descriptors: request
                .descriptors
                .into_iter()
                .map(|d| RateLimitDescriptorCall {
                    entries: d.entries.into_iter().map(|e| (e.key, e.value)).collect(),
                    hits_addend: d.hits_addend.map(|h| h.value),
                })
                .collect(),
            hits_addend: request.hits_addend,
        };
        self.calls
            .lock()
            .expect("no test panics while holding it")
            .push(call);
        Ok(tonic::Response::new(RateLimitResponse {
            overall_code: Code::Ok as i32,
            ..RateLimitResponse::default()
        }))
    }
}

/// A running rate limit service on a free loopback port; stops when dropped.
pub struct RateLimitFake {
    addr: SocketAddr,
    calls: Calls,
    _stop: oneshot::Sender<()>,
}

impl RateLimitFake {
    /// Starts the service.
    pub async fn start() -> Result<RateLimitFake, HarnessError> {
        let incoming = TcpIncoming::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .map_err(|e| HarnessError::io("binding the rate limit fake", e))?;
        let addr = incoming
            .local_addr()
            .map_err(|e| HarnessError::io("reading the rate limit fake's address", e))?;
        let calls = Calls::default();
        let service = RateLimitServiceServer::new(Service {
            calls: Arc::clone(&calls),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(RateLimitFake {
            addr,
            calls,
            _stop: stop,
        })
    }

    /// Where the service listens (an HTTP/2 cluster in Envoy).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every call received so far.
    pub fn calls(&self) -> Vec<RateLimitCall> {
        self.calls
            .lock()
            .expect("no test panics while holding it")
            .clone()
    }
}
