//! Faults of the services a filter depends on: the authz filter's remote JWKS down when Envoy
//! starts, an EPP that hangs in front of a FailClose inference pool (FULL_DUPLEX_STREAMED: the
//! inference guard's eppTimeoutMs answers 503).

use std::time::{Duration, Instant};

use ai_gateway_test_harness::auth::{JwksServer, TestKey};
use ai_gateway_test_harness::inference::Pick;
use ai_gateway_test_harness::{AgentRoute, Bootstrap, Envoy, FakeUpstream, Flavour, Reply};
use serde_json::{json, Value};

use super::{counted, inference_common, support, SLACK};

pub(super) async fn jwks_down_at_startup_refuses_then_recovers(flavour: Flavour) {
    let idp = JwksServer::start().await.expect("the JWKS server starts");
    let key = TestKey::rsa("key-1").expect("an RSA test key");
    idp.publish(vec![key.jwk()]);
    idp.set_failing(true);
    let upstream = FakeUpstream::start(|_| Reply::with(200, Some("text/plain"), "upstream ok"))
        .await
        .expect("the upstream starts");
    let config = json!({
        "issuers": ["https://idp.test"],
        "audiences": ["gateway-api"],
        "jwks": { "remote": { "cluster": "agent_idp", "url": idp.jwks_url() } },
        "refresh": { "minRefetchIntervalSeconds": 1 },
    });
    let bootstrap = Bootstrap::new(Some(flavour))
        .filter("authz", config)
        .agent(AgentRoute::new("demo", upstream.addr()))
        .agent(AgentRoute::new("idp", idp.addr()));
    let envoy = Envoy::start(&bootstrap)
        .await
        .expect("Envoy starts with the authz filter");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = key.sign(&json!({"iss": "https://idp.test", "aud": "gateway-api",
                                 "sub": "alice", "iat": now, "exp": now + 600}));
    let get = || async {
        let response = support::http()
            .get(format!("{}/a2a/demo/items", envoy.gateway_url()))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .expect("the gateway answers");
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").cloned();
        (
            status,
            retry_after,
            response.text().await.unwrap_or_default(),
        )
    };
    // No keys yet: refused (503 + Retry-After, by design not 401, which would make a client
    // drop a token that may be fine), never forwarded, the failed fetch counted.
    let (status, retry_after, body) = get().await;
    assert_eq!(status, 503, "{body}");
    assert!(retry_after.is_some(), "{body}");
    let error: Value = serde_json::from_str(&body).expect("a JSON error body");
    assert_eq!(error["error"], "temporarily_unavailable", "{body}");
    let refusals = [("outcome", "jwks_unavailable")];
    assert!(counted(&envoy, "authz_authn_total", &refusals, 1.0).await >= 1.0);
    let failed = [("result", "failed")];
    assert!(counted(&envoy, "authz_jwks_fetches_total", &failed, 1.0).await >= 1.0);
    assert!(upstream.requests().is_empty());
    // The JWKS comes back: the next request past the refetch interval is served.
    idp.set_failing(false);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let (status, _, body) = get().await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still refused: {status} {body}");
    }
    assert_eq!(upstream.requests().len(), 1);
}

pub(super) async fn an_epp_that_hangs_before_a_fail_close_pool_is_a_clear_503(flavour: Flavour) {
    use inference_common::{chat, completion, Fixture};
    let fixture = Fixture::start(flavour, Pick::Hang, |b| {
        b.pools[0].failure_mode = "FailClose";
        b.epp_timeout_ms = 300;
    })
    .await;
    // ext_proc has no message timeout in FULL_DUPLEX_STREAMED mode: the guard stage's
    // eppTimeoutMs (the harness sets twice the EPP timeout) answers instead.
    let guard_timeout = Duration::from_millis(600);
    let started = Instant::now();
    let reply = chat(&fixture.gateway, &[], completion()).await;
    let took = started.elapsed();
    reply.assert_status(503, &fixture.gateway);
    assert!(
        took >= guard_timeout && took < guard_timeout + SLACK,
        "answered after {took:?}"
    );
    assert_eq!(
        reply.text, "no inference endpoint: the endpoint picker did not answer within 600 ms\n",
        "the body says what failed"
    );
    assert_eq!(fixture.served_counts(), vec![0, 0, 0]);
    assert!(
        inference_common::metric(&fixture.gateway, "inference_epp_timeouts_total", &[], 1.0).await
            >= 1.0
    );
    // The EPP answers again: the next request is served.
    fixture
        .epp
        .set_pick(Pick::Both(fixture.addr(1).to_string()));
    let reply = chat(&fixture.gateway, &[], completion()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(fixture.served_counts(), vec![0, 1, 0]);
}

/// The other side of the EPP deadline: once ext_proc let the request go (the route stage marked
/// it), a model server slower than the deadline is waited for.
pub(super) async fn a_model_slower_than_the_epp_deadline_is_not_cut_off(flavour: Flavour) {
    use inference_common::{chat, completion, Fixture};
    let fixture = Fixture::start(flavour, Pick::Hang, |b| {
        b.pools[0].failure_mode = "FailClose";
        b.epp_timeout_ms = 300;
    })
    .await;
    fixture
        .epp
        .set_pick(Pick::Both(fixture.addr(1).to_string()));
    let mut slow = completion();
    // Past the guard's 600 ms deadline, well inside any client patience.
    slow["x_delay_ms"] = json!(1500);
    let reply = chat(&fixture.gateway, &[], slow).await;
    reply.assert_status(200, &fixture.gateway);
    assert_eq!(fixture.served_counts(), vec![0, 1, 0]);
}
