//! Inference routing (Gateway API Inference Extension) through real Envoy, once per flavour:
//! Envoy's ext_proc asks a fake endpoint picker (EPP), the `inference` filter validates the
//! pick and hands it to the final hop, fake model servers on several loopback addresses say who
//! served. This suite follows the EPP's pick (the extension's conformance list); failure modes
//! and refusals are in inference_failures.rs.

mod inference_common;
mod support;

use ai_gateway_test_harness::inference::{
    FakeEpp, FinalHop, InferenceBootstrap, InferenceGateway, InferencePool, ModelServer, Pick,
};
use ai_gateway_test_harness::Flavour;
use serde_json::json;

use inference_common::*;

per_flavour!(
    the_epp_pick_is_followed_and_the_served_endpoint_reported,
    a_metadata_only_pick_is_followed,
    several_ports_per_address_are_told_apart,
    the_fallback_list_is_used_when_the_first_pick_is_down,
    two_pools_split_by_route_weights_each_follow_their_own_epp,
    ipv6_endpoints_work,
    a_streaming_completion_streams_through,
    body_based_routing_sends_each_model_to_its_pool,
);

async fn the_epp_pick_is_followed_and_the_served_endpoint_reported(flavour: Flavour) {
    let fixture = Fixture::start(flavour, Pick::Nothing, |_| {}).await;
    let target = fixture.addr(1);
    fixture.epp.set_pick(Pick::Both(target.to_string()));
    for _ in 0..3 {
        let reply = chat(&fixture.gateway, &[], completion()).await;
        reply.assert_status(200, &fixture.gateway);
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
    reply.assert_status(200, &fixture.gateway);
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
    reply.assert_status(200, &gateway);
    assert_eq!(reply.served_by, Some(live.addr().to_string()));
    let exchanges = epp.exchanges();
    // The served report names the fallback that answered, not the first pick.
    let last = exchanges.last().expect("the EPP saw the request");
    let live_text = live.addr().to_string();
    assert_eq!(last.served_metadata.as_deref(), Some(live_text.as_str()));
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
        reply.assert_status(200, &gateway);
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
