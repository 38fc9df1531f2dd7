//! The harness against bare Envoy (no gateway filter): routing per the templates, and proof that
//! the a2a-sdk client suite notices when nothing rewrites the card.

use ai_gateway_test_harness::{pytest, AgentRoute, Bootstrap, Envoy, FakeUpstream, PythonServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_prefix_is_rewritten_to_the_upstream_prefix() {
    let upstream = FakeUpstream::fixed(200, Some("text/plain"), "hi")
        .await
        .unwrap();
    let envoy = Envoy::start(&Bootstrap::new(None).agent(AgentRoute::new("demo", upstream.addr())))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    for path in [
        "/a2a/demo/.well-known/agent-card.json",
        "/a2a/demo",
        "/a2a/demo/",
    ] {
        let response = http
            .get(format!("{}{path}", envoy.gateway_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.text().await.unwrap(), "hi");
    }
    let unrouted = http
        .get(format!("{}/a2a/other/x", envoy.gateway_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unrouted.status(), 404);

    let paths: Vec<String> = upstream.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/.well-known/agent-card.json", "/", "/"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_suite_fails_when_nothing_rewrites_the_card() {
    let agent = PythonServer::a2a_agent().await.unwrap();
    let envoy = Envoy::start(&Bootstrap::new(None).agent(AgentRoute::new("demo", agent.addr())))
        .await
        .unwrap();
    let gateway = format!("{}/a2a/demo", envoy.gateway_url());
    let run = pytest("test_a2a_client.py", &[("GATEWAY_URL", &gateway)])
        .await
        .unwrap();
    assert!(
        !run.passed,
        "the client suite passed without a gateway filter:\n{}",
        run.output
    );
    assert!(
        run.output.contains("FAILED") && run.output.contains("test_raw_card_has_only_gateway_urls"),
        "{}",
        run.output
    );
}
