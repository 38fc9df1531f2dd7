//! Fixtures shared by the inference e2e suites (inference.rs, inference_failures.rs): three model
//! servers behind one pool and its fake EPP, a chat-completion client, metric polling.

#![allow(dead_code)] // each suite uses its own subset

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ai_gateway_test_harness::inference::{
    FakeEpp, InferenceBootstrap, InferenceGateway, InferencePool, ModelServer, Pick, SERVED,
};
use ai_gateway_test_harness::Flavour;
use serde_json::{json, Value};

use crate::support;

pub const V4_A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
pub const V4_B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 3));
pub const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);
/// Loopback address outside every pool.
pub const OUTSIDE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 5));

/// Three model servers (127.0.0.2, 127.0.0.3, [::1]) behind one pool and its EPP.
pub struct Fixture {
    pub servers: Vec<ModelServer>,
    pub epp: FakeEpp,
    pub gateway: InferenceGateway,
}

impl Fixture {
    pub async fn start(
        flavour: Flavour,
        pick: Pick,
        adjust: impl FnOnce(&mut InferenceBootstrap),
    ) -> Fixture {
        let mut servers = Vec::new();
        for ip in [V4_A, V4_B, V6] {
            servers.push(ModelServer::start(ip).await.expect("a model server starts"));
        }
        let epp = FakeEpp::start(pick).await.expect("the EPP starts");
        let members: Vec<SocketAddr> = servers.iter().map(ModelServer::addr).collect();
        let mut bootstrap = InferenceBootstrap::new(
            flavour,
            vec![InferencePool::new("pool-a", epp.addr(), &members)],
        );
        adjust(&mut bootstrap);
        let gateway = InferenceGateway::start(&bootstrap)
            .await
            .expect("Envoy starts with the inference chain");
        Fixture {
            servers,
            epp,
            gateway,
        }
    }

    pub fn addr(&self, index: usize) -> SocketAddr {
        self.servers[index].addr()
    }

    /// How many requests each server got.
    pub fn served_counts(&self) -> Vec<usize> {
        self.servers.iter().map(|s| s.requests().len()).collect()
    }
}

/// POST a chat completion; status, `x-served-by` (or the served header for checks), body.
pub async fn chat(gateway: &InferenceGateway, headers: &[(&str, &str)], body: Value) -> Reply {
    let mut request = support::http()
        .post(format!("{}/v1/chat/completions", gateway.gateway_url()))
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .body(body.to_string())
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let served_by = header("x-served-by");
    let served_header = header(SERVED);
    let text = response.text().await.expect("a complete body");
    Reply {
        status,
        served_by,
        served_header,
        text,
    }
}

pub struct Reply {
    pub status: u16,
    pub served_by: Option<String>,
    pub served_header: Option<String>,
    pub text: String,
}

impl Reply {
    /// Asserts the status; a mismatch shows the body and the gateway's log.
    #[track_caller]
    pub fn assert_status(&self, status: u16, gateway: &InferenceGateway) {
        assert_eq!(self.status, status, "{}\n{}", self.text, gateway.log());
    }
}

pub fn completion() -> Value {
    json!({"model": "llama-3", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16})
}

/// The pool member's endpoint tag (the filter's flavour-independent form).
pub fn endpoint_tag(addr: SocketAddr) -> String {
    addr.to_string()
        .chars()
        .filter(|c| !matches!(c, '[' | ']'))
        .map(|c| if c == '.' || c == ':' { '_' } else { c })
        .collect()
}

pub async fn metric(
    gateway: &InferenceGateway,
    name: &str,
    labels: &[(&str, &str)],
    want: f64,
) -> f64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let got = gateway
            .prometheus()
            .await
            .expect("admin answers")
            .value(name, labels)
            .unwrap_or(0.0);
        if got == want {
            return got;
        }
        if tokio::time::Instant::now() > deadline {
            let text = gateway
                .admin_get("/stats/prometheus")
                .await
                .unwrap_or_default();
            let ours: Vec<&str> = text.lines().filter(|l| l.contains("inference_")).collect();
            eprintln!(
                "{name}{labels:?} is {got}, not {want}; the filter's series:\n{}",
                ours.join("\n")
            );
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The EPP got the served endpoint as `envoy.lb` metadata (the dynamic module writes it; in
/// Wasm Envoy's header_to_metadata copies the filter's response header) and as the header.
pub fn assert_served_reported(fixture: &Fixture, want: SocketAddr) {
    let exchanges = fixture.epp.exchanges();
    let last = exchanges.last().expect("the EPP saw the request");
    let want = want.to_string();
    // The header is how Wasm's header_to_metadata gets the value; the dynamic module writes the
    // metadata itself and sets no header.
    if let Some(header) = last.response_header(SERVED) {
        assert_eq!(header, want, "{exchanges:?}");
    }
    assert_eq!(
        last.served_metadata.as_deref(),
        Some(want.as_str()),
        "{exchanges:?}"
    );
}

/// A loopback port nothing listens on.
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}
