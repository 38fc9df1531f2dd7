//! Inference routing through real Envoy, once per flavour: what happens when the EPP is down,
//! sheds load or picks what it must not, and what a client must not be able to choose (the
//! extension's conformance list, continued from inference.rs).

mod inference_common;
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use ai_gateway_test_harness::inference::{
    FakeEpp, FinalHop, InferenceBootstrap, InferenceGateway, InferencePool, ModelServer, Pick,
    DESTINATION,
};
use ai_gateway_test_harness::Flavour;
use serde_json::json;

use inference_common::*;

per_flavour!(
    an_epp_timeout_is_handled_like_an_epp_down,
    epp_unavailable_with_fail_open_is_served_by_the_filters_picker,
    a_fail_open_pool_still_follows_a_live_epp,
    epp_unavailable_with_fail_close_is_503,
    an_epp_429_passes_through_unchanged,
    a_client_forged_destination_is_ignored,
    an_epp_pick_outside_the_pool_is_refused,
    an_epp_pick_outside_the_pool_is_refused_with_original_dst,
    a_pick_in_the_pool_but_not_in_the_cluster,
    the_fail_open_picker_sees_work_in_flight_on_every_worker,
);

async fn epp_unavailable_with_fail_open_is_served_by_the_filters_picker(flavour: Flavour) {
    let fixture = Fixture::start(flavour, Pick::Nothing, |b| {
        b.pools[0].failure_mode = "FailOpen";
        b.pools[0].epp = closed_port();
    })
    .await;
    for _ in 0..6 {
        let reply = chat(&fixture.gateway, &[], completion()).await;
        reply.assert_status(200, &fixture.gateway);
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
        reply.assert_status(200, &fixture.gateway);
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
    reply.assert_status(200, &fixture.gateway);
    assert_eq!(reply.served_by, Some(member.to_string()));
    assert!(outsider.requests().is_empty());
}

async fn an_epp_pick_outside_the_pool_is_refused(flavour: Flavour) {
    refused_outside_the_pool(flavour, FinalHop::OverrideHost).await;
}

async fn an_epp_pick_outside_the_pool_is_refused_with_original_dst(flavour: Flavour) {
    refused_outside_the_pool(flavour, FinalHop::OriginalDst).await;
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

async fn an_epp_timeout_is_handled_like_an_epp_down(flavour: Flavour) {
    let fixture = Fixture::start(flavour, Pick::Hang, |b| {
        b.pools[0].failure_mode = "FailOpen";
        b.epp_timeout_ms = 300;
    })
    .await;
    let reply = chat(&fixture.gateway, &[], completion()).await;
    reply.assert_status(200, &fixture.gateway);
    assert!(reply.served_by.is_some());
    assert_eq!(fixture.epp.exchanges().len(), 1, "the EPP was asked");
    let decisions = [("pool", "pool-a"), ("reason", "fail_open")];
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
}
