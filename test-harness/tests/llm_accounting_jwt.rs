//! A token budget keyed by a JWT claim, once per flavour: the `authz` filter verifies the token
//! and copies its `team` claim into a header (removing any client copy), the `llm` filter keys
//! its budget on that header. A team is refused once its tokens are spent, whatever header the
//! client sends; another team is served.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use ai_gateway_test_harness::auth::{JwksServer, TestKey};
use ai_gateway_test_harness::{AgentRoute, Bootstrap, Envoy, Flavour, LlmFake, LlmProviderRoute};
use serde_json::{json, Value};

use support::llm::OPENAI_KEY;

per_flavour!(a_jwt_claim_keys_the_budget);

const ISSUER: &str = "https://idp.test";
const AUDIENCE: &str = "llm-gateway";
/// The header authz writes the `team` claim into, and the budget reads.
const TEAM_HEADER: &str = "x-budget-team";
const MODEL: &str = "gpt-4o-mini";

fn token(key: &TestKey, team: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    key.sign(
        &json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": format!("user-of-{team}"),
                      "team": team, "iat": now, "exp": now + 600 }),
    )
}

fn chat() -> Value {
    json!({ "model": MODEL, "messages": [{ "role": "user", "content": "spend some tokens" }] })
}

/// Total tokens the fake spends on one [`chat`] (the fakes are deterministic).
async fn tokens_per_chat(fake: &LlmFake) -> u64 {
    let answer: Value = support::http()
        .post(format!("{}/v1/chat/completions", fake.url()))
        .header("authorization", format!("Bearer {OPENAI_KEY}"))
        .json(&chat())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["usage"]["total_tokens"].as_u64().unwrap()
}

async fn a_jwt_claim_keys_the_budget(flavour: Flavour) {
    let openai = LlmFake::openai(OPENAI_KEY).await.unwrap();
    let per_chat = tokens_per_chat(&openai).await;
    let idp = JwksServer::start().await.unwrap();
    let key = TestKey::rsa("key-1").unwrap();
    idp.publish(vec![key.jwk()]);
    let authz = json!({
        "issuers": [ISSUER],
        "audiences": [AUDIENCE],
        "jwks": { "remote": { "cluster": "agent_idp", "url": idp.jwks_url() } },
        "claimHeaders": [{ "claim": "team", "header": TEAM_HEADER }],
    });
    let llm = json!({
        "providers": { "openai": { "kind": "openai", "cluster": "llm_openai", "apiKey": OPENAI_KEY } },
        "models": { MODEL: { "provider": "openai", "model": MODEL } },
        "accounting": { "budget": {
            "key": { "header": TEAM_HEADER }, "windowSeconds": 3600, "totalTokens": 2 * per_chat,
        }},
    });
    let bootstrap = Bootstrap::new(Some(flavour))
        .concurrency(2)
        .filter("authz", authz)
        .filter("llm", llm)
        .llm_provider(LlmProviderRoute::new("openai", openai.addr()))
        .agent(AgentRoute::new("idp", idp.addr()));
    let envoy = Envoy::start(&bootstrap)
        .await
        .expect("Envoy starts with authz and llm");
    let send = |team: &str, claimed: Option<&str>| {
        let mut request = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
            .post(format!("{}/v1/chat/completions", envoy.gateway_url()))
            .bearer_auth(token(&key, team))
            .json(&chat());
        if let Some(claimed) = claimed {
            request = request.header(TEAM_HEADER, claimed);
        }
        request.send()
    };
    for i in 0..2 {
        let status = send("red", None).await.unwrap().status();
        assert_eq!(
            status,
            200,
            "answer {i} within red's budget\n{}",
            envoy.log()
        );
    }
    let refused = send("red", None).await.unwrap();
    assert_eq!(refused.status(), 429);
    // Claiming another team in the header does not help: authz replaces it with the claim.
    let refused = send("red", Some("blue")).await.unwrap();
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["type"], "rate_limit_exceeded", "{body}");
    // Another team's token is served.
    assert_eq!(send("blue", None).await.unwrap().status(), 200);
    assert_eq!(openai.reported_usage().answers, 1 + 2 + 1);
}
