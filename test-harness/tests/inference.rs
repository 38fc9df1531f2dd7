//! Inference routing (Gateway API Inference Extension) through real Envoy, once per flavour:
//! Envoy's ext_proc asks a fake endpoint picker (EPP), the `inference` filter validates the
//! pick and hands it to the final hop, fake model servers on several loopback addresses say who
//! served. The tests mirror the extension's conformance suite.

mod support;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ai_gateway_test_harness::inference::{
    FakeEpp, FinalHop, InferenceBootstrap, InferenceGateway, InferencePool, ModelServer, Pick,
    DESTINATION, SERVED,
};
use ai_gateway_test_harness::Flavour;
use serde_json::{json, Value};

per_flavour!(
    the_epp_pick_is_followed_and_the_served_endpoint_reported,
    a_metadata_only_pick_is_followed,
    several_ports_per_address_are_told_apart,
    the_fallback_list_is_used_when_the_first_pick_is_down,
    epp_unavailable_with_fail_open_is_served_by_the_filters_picker,
    epp_unavailable_with_fail_close_is_503,
    a_fail_open_pool_still_follows_a_live_epp,
    an_epp_429_passes_through_unchanged,
    two_pools_split_by_route_weights_each_follow_their_own_epp,
    a_client_forged_destination_is_ignored,
    an_epp_pick_outside_the_pool_is_refused,
    an_epp_pick_outside_the_pool_is_refused_with_original_dst,
    ipv6_endpoints_work,
    a_streaming_completion_streams_through,
    body_based_routing_sends_each_model_to_its_pool,
    a_pick_in_the_pool_but_not_in_the_cluster,
    the_fail_open_picker_sees_work_in_flight_on_every_worker,
);

const V4_A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
const V4_B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 3));
const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);
/// Loopback address outside every pool.
const OUTSIDE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 5));

/// Three model servers (127.0.0.2, 127.0.0.3, [::1]) behind one pool and its EPP.
struct Fixture {
    servers: Vec<ModelServer>,
    epp: FakeEpp,
    gateway: InferenceGateway,
}

impl Fixture {
    async fn start(
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

    fn addr(&self, index: usize) -> SocketAddr {
        self.servers[index].addr()
    }

    /// How many requests each server got.
    fn served_counts(&self) -> Vec<usize> {
        self.servers.iter().map(|s| s.requests().len()).collect()
    }
}

/// POST a chat completion; status, `x-served-by` (or the served header for checks), body.
async fn chat(gateway: &InferenceGateway, headers: &[(&str, &str)], body: Value) -> Reply {
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

struct Reply {
    status: u16,
    served_by: Option<String>,
    served_header: Option<String>,
    text: String,
}

fn completion() -> Value {
    json!({"model": "llama-3", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16})
}

/// The pool member's endpoint tag (the filter's flavour-independent form).
fn endpoint_tag(addr: SocketAddr) -> String {
    addr.to_string()
        .chars()
        .filter(|c| !matches!(c, '[' | ']'))
        .map(|c| if c == '.' || c == ':' { '_' } else { c })
        .collect()
}

async fn metric(gateway: &InferenceGateway, name: &str, labels: &[(&str, &str)], want: f64) -> f64 {
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
fn assert_served_reported(fixture: &Fixture, want: SocketAddr) {
    let exchanges = fixture.epp.exchanges();
    let last = exchanges.last().expect("the EPP saw the request");
    let want = want.to_string();
    assert_eq!(
        last.response_header(SERVED),
        Some(want.as_str()),
        "{exchanges:?}"
    );
    assert_eq!(
        last.served_metadata.as_deref(),
        Some(want.as_str()),
        "{exchanges:?}"
    );
}

async fn the_epp_pick_is_followed_and_the_served_endpoint_reported(flavour: Flavour) {
    let fixture = Fixture::start(flavour, Pick::Nothing, |_| {}).await;
    let target = fixture.addr(1);
    fixture.epp.set_pick(Pick::Both(target.to_string()));
    for _ in 0..3 {
        let reply = chat(&fixture.gateway, &[], completion()).await;
        assert_eq!(
            reply.status,
            200,
            "{}\n{}",
            reply.text,
            fixture.gateway.log()
        );
        assert_eq!(reply.served_by, Some(target.to_string()));
        assert_eq!(
            reply.served_header, None,
            "the served header stays between Envoy and the EPP"
        );
    }
    assert_eq!(fixture.served_counts(), vec![0, 3, 0]);
    assert_served_reported(&fixture, target);
    let body = &fixture.epp.exchanges()[0].request_body;
    assert!(
        String::from_utf8_lossy(body).contains("llama-3"),
        "the EPP saw the streamed body"
    );
    let tag = endpoint_tag(target);
    let labels = [
        ("pool", "pool-a"),
        ("endpoint", tag.as_str()),
        ("outcome", "2xx"),
    ];
    assert_eq!(
        metric(&fixture.gateway, "inference_requests_total", &labels, 3.0).await,
        3.0
    );
    let tokens = [
        ("pool", "pool-a"),
        ("endpoint", tag.as_str()),
        ("type", "completion"),
    ];
    assert_eq!(
        metric(&fixture.gateway, "inference_tokens_total", &tokens, 15.0).await,
        15.0
    );
    let decisions = [("pool", "pool-a"), ("reason", "epp")];
    assert_eq!(
        metric(
            &fixture.gateway,
            "inference_decisions_total",
            &decisions,
            3.0
        )
        .await,
        3.0
    );
}

async fn a_metadata_only_pick_is_followed(flavour: Flavour) {
    let fixture = Fixture::start(flavour, Pick::Nothing, |_| {}).await;
    let target = fixture.addr(0);
    fixture.epp.set_pick(Pick::MetadataOnly(target.to_string()));
    let reply = chat(&fixture.gateway, &[], completion()).await;
    assert_eq!(
        reply.status,
        200,
        "{}\n{}",
        reply.text,
        fixture.gateway.log()
    );
    assert_eq!(reply.served_by, Some(target.to_string()));
}

async fn several_ports_per_address_are_told_apart(flavour: Flavour) {
    let first = ModelServer::start(V4_A).await.unwrap();
    let second = ModelServer::start(V4_A).await.unwrap();
    let epp = FakeEpp::start(Pick::Both(second.addr().to_string()))
        .await
        .unwrap();
    let pool = InferencePool::new("pool-a", epp.addr(), &[first.addr(), second.addr()]);
    let gateway = InferenceGateway::start(&InferenceBootstrap::new(flavour, vec![pool]))
        .await
        .unwrap();
    let reply = chat(&gateway, &[], completion()).await;
    assert_eq!(
        reply.served_by,
        Some(second.addr().to_string()),
        "{}",
        reply.text
    );
    epp.set_pick(Pick::Both(first.addr().to_string()));
    let reply = chat(&gateway, &[], completion()).await;
    assert_eq!(
        reply.served_by,
        Some(first.addr().to_string()),
        "{}",
        reply.text
    );
    assert_eq!((first.requests().len(), second.requests().len()), (1, 1));
}

async fn the_fallback_list_is_used_when_the_first_pick_is_down(flavour: Flavour) {
    let down = {
        let server = ModelServer::start(V4_B).await.unwrap();
        server.addr()
    };
    let live = ModelServer::start(V4_A).await.unwrap();
    let epp = FakeEpp::start(Pick::Both(format!("{down},{}", live.addr())))
        .await
        .unwrap();
    let pool = InferencePool::new("pool-a", epp.addr(), &[down, live.addr()]);
    let gateway = InferenceGateway::start(&InferenceBootstrap::new(flavour, vec![pool]))
        .await
        .unwrap();
    let reply = chat(&gateway, &[], completion()).await;
    assert_eq!(reply.status, 200, "{}\n{}", reply.text, gateway.log());
    assert_eq!(reply.served_by, Some(live.addr().to_string()));
    let exchanges = epp.exchanges();
    // The served report names the fallback that answered, not the first pick.
    let last = exchanges.last().expect("the EPP saw the request");
    let live_text = live.addr().to_string();
    assert_eq!(last.response_header(SERVED), Some(live_text.as_str()));
    assert_eq!(last.served_metadata.as_deref(), Some(live_text.as_str()));
}

async fn epp_unavailable_with_fail_open_is_served_by_the_filters_picker(flavour: Flavour) {
    let fixture = Fixture::start(flavour, Pick::Nothing, |b| {
        b.pools[0].failure_mode = "FailOpen";
        b.pools[0].epp = closed_port();
    })
    .await;
    for _ in 0..6 {
        let reply = chat(&fixture.gateway, &[], completion()).await;
        assert_eq!(
            reply.status,
            200,
            "{}\n{}",
            reply.text,
            fixture.gateway.log()
        );
    }
    let counts = fixture.served_counts();
    assert_eq!(counts.iter().sum::<usize>(), 6);
    assert!(
        counts.iter().all(|&n| n >= 1),
        "an idle pool is spread by the picker: {counts:?}"
    );
    let decisions = [("pool", "pool-a"), ("reason", "fail_open")];
    assert_eq!(
        metric(
            &fixture.gateway,
            "inference_decisions_total",
            &decisions,
            6.0
        )
        .await,
        6.0
    );
}

async fn a_fail_open_pool_still_follows_a_live_epp(flavour: Flavour) {
    // FailOpen pools talk to the EPP in BUFFERED mode: the pick comes in the body response.
    let fixture = Fixture::start(flavour, Pick::Nothing, |b| {
        b.pools[0].failure_mode = "FailOpen"
    })
    .await;
    let target = fixture.addr(2);
    fixture.epp.set_pick(Pick::Both(target.to_string()));
    for _ in 0..3 {
        let reply = chat(&fixture.gateway, &[], completion()).await;
        assert_eq!(
            reply.status,
            200,
            "{}\n{}",
            reply.text,
            fixture.gateway.log()
        );
        assert_eq!(reply.served_by, Some(target.to_string()));
    }
    let decisions = [("pool", "pool-a"), ("reason", "epp")];
    assert_eq!(
        metric(
            &fixture.gateway,
            "inference_decisions_total",
            &decisions,
            3.0
        )
        .await,
        3.0
    );
}

async fn epp_unavailable_with_fail_close_is_503(flavour: Flavour) {
    let fixture = Fixture::start(flavour, Pick::Nothing, |b| b.pools[0].epp = closed_port()).await;
    // With a body, Envoy's ext_proc (FULL_DUPLEX_STREAMED) answers itself: status_on_error 503.
    let reply = chat(&fixture.gateway, &[], completion()).await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    // Without one, ext_proc fails open and the filter's FailClose answers.
    let response = support::http()
        .get(format!("{}/v1/models", fixture.gateway.gateway_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("no inference endpoint available in pool pool-a"),
        "{text}"
    );
    assert_eq!(fixture.served_counts(), vec![0, 0, 0]);
}

async fn an_epp_429_passes_through_unchanged(flavour: Flavour) {
    let fixture = Fixture::start(flavour, Pick::Immediate(429), |_| {}).await;
    let reply = chat(&fixture.gateway, &[], completion()).await;
    assert_eq!(reply.status, 429, "{}", reply.text);
    assert_eq!(reply.text, "fake EPP: 429\n");
    fixture.epp.set_pick(Pick::Immediate(503));
    let reply = chat(&fixture.gateway, &[], completion()).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.text, "fake EPP: 503\n");
    assert_eq!(fixture.served_counts(), vec![0, 0, 0]);
}

async fn two_pools_split_by_route_weights_each_follow_their_own_epp(flavour: Flavour) {
    let a = ModelServer::start(V4_A).await.unwrap();
    let b = ModelServer::start(V4_B).await.unwrap();
    let epp_a = FakeEpp::start(Pick::Both(a.addr().to_string()))
        .await
        .unwrap();
    let epp_b = FakeEpp::start(Pick::Both(b.addr().to_string()))
        .await
        .unwrap();
    let pools = vec![
        InferencePool::new("pool-a", epp_a.addr(), &[a.addr()]),
        InferencePool::new("pool-b", epp_b.addr(), &[b.addr()]),
    ];
    let gateway = InferenceGateway::start(&InferenceBootstrap::new(flavour, pools))
        .await
        .unwrap();
    for _ in 0..24 {
        let reply = chat(&gateway, &[], completion()).await;
        assert_eq!(reply.status, 200, "{}\n{}", reply.text, gateway.log());
    }
    let (seen_a, seen_b) = (epp_a.exchanges().len(), epp_b.exchanges().len());
    assert!(
        seen_a > 0 && seen_b > 0,
        "both weighted pools got traffic: {seen_a}/{seen_b}"
    );
    assert_eq!(seen_a + seen_b, 24);
    assert_eq!(
        a.requests().len(),
        seen_a,
        "pool-a's requests went where pool-a's EPP said"
    );
    assert_eq!(
        b.requests().len(),
        seen_b,
        "pool-b's requests went where pool-b's EPP said"
    );
}

async fn a_client_forged_destination_is_ignored(flavour: Flavour) {
    let fixture = Fixture::start(flavour, Pick::Nothing, |_| {}).await;
    let (chosen, forged) = (fixture.addr(0), fixture.addr(1).to_string());
    fixture.epp.set_pick(Pick::Both(chosen.to_string()));
    let headers = [
        (DESTINATION, forged.as_str()),
        ("x-envoy-original-dst-host", forged.as_str()),
        ("x-ai-gateway-inference-pool", "pool-b"),
    ];
    let reply = chat(&fixture.gateway, &headers, completion()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.served_by, Some(chosen.to_string()));
    let seen = &fixture.epp.exchanges()[0];
    assert_eq!(
        seen.request_header(DESTINATION),
        None,
        "the EPP never sees the forgery"
    );
    assert_eq!(
        metric(&fixture.gateway, "inference_forged_headers_total", &[], 1.0).await,
        1.0
    );
    // Without an EPP answer, the forgery does not route either: FailClose.
    fixture.epp.set_pick(Pick::Nothing);
    let reply = chat(&fixture.gateway, &headers, completion()).await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert_eq!(fixture.served_counts(), vec![1, 0, 0]);
}

async fn refused_outside_the_pool(flavour: Flavour, final_hop: FinalHop) {
    let outsider = ModelServer::start(OUTSIDE).await.unwrap();
    let fixture = Fixture::start(flavour, Pick::Both(outsider.addr().to_string()), |b| {
        b.final_hop = final_hop;
    })
    .await;
    let reply = chat(&fixture.gateway, &[], completion()).await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert!(reply.text.contains("outside the pool"), "{}", reply.text);
    assert!(
        outsider.requests().is_empty(),
        "nothing reached the outsider"
    );
    let decisions = [("pool", "pool-a"), ("reason", "outside_pool")];
    assert_eq!(
        metric(
            &fixture.gateway,
            "inference_decisions_total",
            &decisions,
            1.0
        )
        .await,
        1.0
    );
    // A list with the outsider first falls to the pool member after it.
    let member = fixture.addr(2);
    fixture
        .epp
        .set_pick(Pick::Both(format!("{},{member}", outsider.addr())));
    let reply = chat(&fixture.gateway, &[], completion()).await;
    assert_eq!(
        reply.status,
        200,
        "{}\n{}",
        reply.text,
        fixture.gateway.log()
    );
    assert_eq!(reply.served_by, Some(member.to_string()));
    assert!(outsider.requests().is_empty());
}

async fn an_epp_pick_outside_the_pool_is_refused(flavour: Flavour) {
    refused_outside_the_pool(flavour, FinalHop::OverrideHost).await;
}

async fn an_epp_pick_outside_the_pool_is_refused_with_original_dst(flavour: Flavour) {
    refused_outside_the_pool(flavour, FinalHop::OriginalDst).await;
}

async fn ipv6_endpoints_work(flavour: Flavour) {
    for final_hop in [FinalHop::OverrideHost, FinalHop::OriginalDst] {
        let fixture = Fixture::start(flavour, Pick::Nothing, |b| b.final_hop = final_hop).await;
        let v6 = fixture.addr(2);
        assert!(v6.is_ipv6());
        fixture.epp.set_pick(Pick::Both(v6.to_string()));
        let reply = chat(&fixture.gateway, &[], completion()).await;
        assert_eq!(
            reply.status,
            200,
            "{final_hop:?}: {}\n{}",
            reply.text,
            fixture.gateway.log()
        );
        assert_eq!(reply.served_by, Some(v6.to_string()), "{final_hop:?}");
        assert_served_reported(&fixture, v6);
    }
}

async fn a_streaming_completion_streams_through(flavour: Flavour) {
    let fixture = Fixture::start(flavour, Pick::Nothing, |_| {}).await;
    let target = fixture.addr(0);
    fixture.epp.set_pick(Pick::Both(target.to_string()));
    let mut body = completion();
    body["stream"] = json!(true);
    let mut response = support::http()
        .post(format!(
            "{}/v1/chat/completions",
            fixture.gateway.gateway_url()
        ))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut pieces = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        pieces.push(String::from_utf8_lossy(&chunk).into_owned());
    }
    let text = pieces.concat();
    assert!(
        pieces.len() >= 3,
        "the answer arrived in pieces, not buffered: {pieces:?}"
    );
    assert!(text.contains("\"content\":\"three\""), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let tag = endpoint_tag(target);
    let tokens = [
        ("pool", "pool-a"),
        ("endpoint", tag.as_str()),
        ("type", "completion"),
    ];
    assert_eq!(
        metric(&fixture.gateway, "inference_tokens_total", &tokens, 3.0).await,
        3.0
    );
}

async fn body_based_routing_sends_each_model_to_its_pool(flavour: Flavour) {
    let llama = ModelServer::start(V4_A).await.unwrap();
    let qwen = ModelServer::start(V4_B).await.unwrap();
    let epp_llama = FakeEpp::start(Pick::Both(llama.addr().to_string()))
        .await
        .unwrap();
    let epp_qwen = FakeEpp::start(Pick::Both(qwen.addr().to_string()))
        .await
        .unwrap();
    let mut pools = vec![
        InferencePool::new("llama", epp_llama.addr(), &[llama.addr()]),
        InferencePool::new("qwen", epp_qwen.addr(), &[qwen.addr()]),
    ];
    pools[0].model = Some("llama-3".into());
    pools[1].model = Some("qwen-2".into());
    let mut bootstrap = InferenceBootstrap::new(flavour, pools);
    bootstrap.body_routing = true;
    let gateway = InferenceGateway::start(&bootstrap).await.unwrap();
    for (model, server) in [("qwen-2", &qwen), ("llama-3", &llama), ("qwen-2", &qwen)] {
        let mut body = completion();
        body["model"] = json!(model);
        let reply = chat(&gateway, &[("x-gateway-model-name", "llama-3")], body).await;
        assert_eq!(
            reply.status,
            200,
            "{model}: {}\n{}",
            reply.text,
            gateway.log()
        );
        assert_eq!(reply.served_by, Some(server.addr().to_string()), "{model}");
    }
    assert_eq!(
        (epp_llama.exchanges().len(), epp_qwen.exchanges().len()),
        (1, 2)
    );
    let mut body = completion();
    body["model"] = json!("unknown");
    let reply = chat(&gateway, &[], body).await;
    // No route names a pool for it: the route stage refuses rather than guess.
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert!(reply.text.contains("no inference pool"), "{}", reply.text);
}

/// A loopback port nothing listens on.
fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A pick the pool allows (range and port) that is not a server of the cluster: override_host
/// silently balances it to some member (fail-open by construction); the dynamic module's strict
/// upstream override host fails it with 503; Wasm cannot set it at all and answers 500.
async fn a_pick_in_the_pool_but_not_in_the_cluster(flavour: Flavour) {
    let a = ModelServer::start(V4_A).await.unwrap();
    let b = ModelServer::start(V4_B).await.unwrap();
    // 127.0.0.2 on b's port: inside the pool's ranges and ports, but no server of the cluster.
    let stray = SocketAddr::new(V4_A, b.addr().port());
    let epp = FakeEpp::start(Pick::Both(b.addr().to_string()))
        .await
        .unwrap();
    for final_hop in [FinalHop::OverrideHost, FinalHop::HostOverride] {
        let pool = InferencePool::new("pool-a", epp.addr(), &[a.addr(), b.addr()]);
        let mut bootstrap = InferenceBootstrap::new(flavour, vec![pool]);
        bootstrap.final_hop = final_hop;
        let gateway = InferenceGateway::start(&bootstrap).await.unwrap();
        epp.set_pick(Pick::Both(b.addr().to_string()));
        let reply = chat(&gateway, &[], completion()).await;
        let expected = match (final_hop, flavour) {
            (FinalHop::HostOverride, Flavour::Wasm) => 500,
            _ => 200,
        };
        assert_eq!(
            reply.status,
            expected,
            "{final_hop:?}: {}\n{}",
            reply.text,
            gateway.log()
        );
        if expected == 200 {
            assert_eq!(reply.served_by, Some(b.addr().to_string()), "{final_hop:?}");
        }
        epp.set_pick(Pick::Both(stray.to_string()));
        let reply = chat(&gateway, &[], completion()).await;
        match (final_hop, flavour) {
            (FinalHop::OverrideHost, _) => {
                assert_eq!(
                    reply.status, 200,
                    "override_host falls back: {}",
                    reply.text
                );
                assert!(reply.served_by.is_some());
            }
            (FinalHop::HostOverride, Flavour::DynamicModule) => {
                assert_eq!(reply.status, 503, "strict override: {}", reply.text);
            }
            (_, Flavour::Wasm) => assert_eq!(reply.status, 500, "{}", reply.text),
            _ => unreachable!("two final hops"),
        }
    }
}

/// FailOpen with two Envoy workers: a big request in flight on one member keeps the picker (on
/// whichever worker) away from that member, because outstanding work lives in the shared store.
async fn the_fail_open_picker_sees_work_in_flight_on_every_worker(flavour: Flavour) {
    let fixture = Fixture::start(flavour, Pick::Nothing, |b| {
        b.pools[0].failure_mode = "FailOpen";
        b.pools[0].epp = closed_port();
        b.concurrency = 2;
    })
    .await;
    let url = format!("{}/v1/chat/completions", fixture.gateway.gateway_url());
    let mut big = completion();
    big["max_tokens"] = json!(100_000);
    big["x_delay_ms"] = json!(3000);
    let in_flight = tokio::spawn(support::http().post(url.clone()).json(&big).send());
    // Wait until the big request reached its member.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let busy = loop {
        if let Some(i) = fixture.served_counts().iter().position(|&n| n == 1) {
            break i;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the big request reached no member"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for _ in 0..8 {
        // A fresh client (connection) each time, so the requests spread over both workers.
        let reply = support::http()
            .post(url.clone())
            .json(&completion())
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
    }
    let counts = fixture.served_counts();
    assert_eq!(
        counts[busy], 1,
        "no small request joined the busy member: {counts:?}"
    );
    assert_eq!(counts.iter().sum::<usize>(), 9, "{counts:?}");
    assert_eq!(in_flight.await.unwrap().unwrap().status(), 200);
}
