//! The `authz` filter against real Envoy, once per flavour (`dynmod::*` and `wasm::*`): JWTs
//! verified with keys fetched from a JWKS server through an Envoy cluster, keys rotated while
//! Envoy runs, forged and invalid tokens refused with RFC 6750 challenges pointing at the RFC
//! 9728 metadata the filter serves, and a CEL rule over the request's method and path.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ai_gateway_test_harness::auth::{unsigned_token, JwksServer, TestKey};
use ai_gateway_test_harness::{AgentRoute, Bootstrap, Envoy, FakeUpstream, Flavour, Reply};
use serde_json::{json, Value};

use support::{http, metric, metric_at_least};

per_flavour!(
    valid_token_passes_with_identity_forwarded_and_token_stripped,
    lower_case_bearer_scheme_is_accepted,
    refused_alg_none,
    refused_hs256_signed_with_the_rsa_public_key,
    refused_expired,
    refused_wrong_audience,
    refused_wrong_issuer,
    refused_malformed_token,
    missing_token_401_points_at_the_metadata_document,
    rotated_key_is_accepted_after_an_unknown_kid_refetch,
    interval_refresh_picks_up_a_rotation,
    keys_are_renewed_in_the_background_without_requests,
    failed_refresh_keeps_the_last_good_keys,
    cel_rule_denies_by_method_and_path,
    invalid_policy_is_refused_naming_the_field,
    oidc_discovery_finds_the_jwks,
    cel_rule_over_the_a2a_method_in_the_body,
);

/// The issuer and audience the gateway accepts.
const ISSUER: &str = "https://idp.test";
const AUDIENCE: &str = "gateway-api";
/// The public URL of the protected route (what `resource` names).
const RESOURCE: &str = "https://gateway.test/a2a/demo";
const METADATA_PATH: &str = "/.well-known/oauth-protected-resource/a2a/demo";
/// The Envoy cluster of the JWKS server (AgentRoute `idp` → cluster `agent_idp`).
const IDP_CLUSTER: &str = "agent_idp";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Claims valid now for the gateway; `changes` are merged over them (null removes).
fn claims(changes: Value) -> Value {
    let mut claims = json!({
        "iss": ISSUER,
        "aud": [AUDIENCE, "other-api"],
        "sub": "alice",
        "roles": ["reader"],
        "iat": now(),
        "exp": now() + 600,
        "jti": format!("{:x}", rand::random::<u64>()),
    });
    for (key, value) in changes.as_object().into_iter().flatten() {
        claims[key] = value.clone();
    }
    claims
}

fn filter_config(idp: &JwksServer, extra: Value) -> Value {
    let mut config = json!({
        "issuers": [ISSUER],
        "audiences": [AUDIENCE],
        "jwks": { "remote": { "cluster": IDP_CLUSTER, "url": idp.jwks_url() } },
        "refresh": { "minRefetchIntervalSeconds": 1 },
        "resourceMetadata": {
            "resource": RESOURCE,
            "authorizationServers": [ISSUER],
            "scopesSupported": ["files:read", "admin"],
            "resourceName": "demo"
        },
        "claimHeaders": [{ "claim": "sub", "header": "x-user" }],
        "policies": [{
            "name": "admin-writes",
            "when": "request.method == 'DELETE' || request.path.startsWith('/a2a/demo/admin')",
            "allow": "'admin' in jwt.roles",
            "scope": "admin"
        }]
    });
    for (key, value) in extra.as_object().into_iter().flatten() {
        config[key] = value.clone();
    }
    config
}

/// Envoy with the authz filter in front of an upstream that answers 200, keys from `idp`.
struct Gateway {
    envoy: Envoy,
    idp: JwksServer,
    upstream: FakeUpstream,
    key: TestKey,
}

async fn gateway(flavour: Flavour, extra: Value) -> Gateway {
    gateway_with(flavour, |idp| filter_config(idp, extra)).await
}

/// [`gateway`] with the filter config made from the started JWKS server.
async fn gateway_with(flavour: Flavour, config: impl FnOnce(&JwksServer) -> Value) -> Gateway {
    let idp = JwksServer::start().await.expect("the JWKS server starts");
    let key = TestKey::rsa("key-1").expect("an RSA test key");
    idp.publish(vec![key.jwk()]);
    let upstream = FakeUpstream::start(|_| Reply::with(200, Some("text/plain"), "upstream ok"))
        .await
        .expect("the upstream starts");
    let bootstrap = Bootstrap::new(Some(flavour))
        .filter("authz", config(&idp))
        .agent(AgentRoute::new("demo", upstream.addr()))
        .agent(AgentRoute::new("idp", idp.addr()));
    let envoy = Envoy::start(&bootstrap)
        .await
        .expect("Envoy starts with the authz filter");
    Gateway {
        envoy,
        idp,
        upstream,
        key,
    }
}

/// An answer: status, `www-authenticate`, body.
struct Answer {
    status: u16,
    challenge: Option<String>,
    body: String,
}

impl Gateway {
    async fn send(&self, method: &str, path: &str, authorization: Option<&str>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = http().request(method, format!("{}{path}", self.envoy.gateway_url()));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response.text().await.unwrap_or_default();
        Answer {
            status,
            challenge,
            body,
        }
    }

    async fn get_with(&self, token: &str) -> Answer {
        self.send("GET", "/a2a/demo/items", Some(&format!("Bearer {token}")))
            .await
    }

    async fn authn(&self, outcome: &str, want: f64) -> f64 {
        metric(
            &self.envoy,
            "authz_authn_total",
            &[("outcome", outcome)],
            want,
        )
        .await
    }

    async fn fetches(&self, result: &str, reason: &str, want: f64) -> f64 {
        let labels = [("result", result), ("reason", reason)];
        metric(&self.envoy, "authz_jwks_fetches_total", &labels, want).await
    }

    /// Whether a JWKS fetch `result`/`reason` happened (background refreshes repeat).
    async fn fetched(&self, result: &str, reason: &str) -> bool {
        let labels = [("result", result), ("reason", reason)];
        metric_at_least(&self.envoy, "authz_jwks_fetches_total", &labels, 1.0).await >= 1.0
    }

    /// Whether the keys were fetched initially: exactly once in the dynamic module (one config
    /// per process), at least once in Wasm (each VM fetches in the background).
    async fn fetched_initially(&self, flavour: Flavour) -> bool {
        match flavour {
            Flavour::DynamicModule => self.fetches("ok", "initial", 1.0).await == 1.0,
            Flavour::Wasm => self.fetched("ok", "initial").await,
        }
    }
}

fn metadata_url() -> String {
    format!("https://gateway.test{METADATA_PATH}")
}

async fn valid_token_passes_with_identity_forwarded_and_token_stripped(flavour: Flavour) {
    let gw = gateway(flavour, json!({})).await;
    let answer = gw.get_with(&gw.key.sign(&claims(json!({})))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, "upstream ok");
    let seen = gw.upstream.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x-user"), Some("alice"));
    assert_eq!(
        seen[0].header("authorization"),
        None,
        "the token is not forwarded"
    );
    assert_eq!(gw.authn("ok", 1.0).await, 1.0);
    assert!(gw.fetched_initially(flavour).await);
}

async fn lower_case_bearer_scheme_is_accepted(flavour: Flavour) {
    let gw = gateway(flavour, json!({})).await;
    let token = gw.key.sign(&claims(json!({})));
    let answer = gw
        .send("GET", "/a2a/demo/items", Some(&format!("bearer {token}")))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

/// Sends `token`; expects 401 `invalid_token` pointing at the metadata, counted as `reason`.
async fn assert_refused(gw: &Gateway, token: &str, reason: &str) {
    let answer = gw.get_with(token).await;
    assert_eq!(answer.status, 401, "{reason}: {}", answer.body);
    let challenge = answer.challenge.expect("a WWW-Authenticate header");
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{challenge}"
    );
    assert!(
        challenge.ends_with(&format!("resource_metadata=\"{}\"", metadata_url())),
        "{challenge}"
    );
    let body: Value = serde_json::from_str(&answer.body).expect("a JSON error body");
    assert_eq!(body["error"], "invalid_token");
    assert!(
        gw.upstream.requests().is_empty(),
        "nothing reached upstream"
    );
    assert_eq!(gw.authn(reason, 1.0).await, 1.0, "{reason}");
}

async fn refused_alg_none(flavour: Flavour) {
    let gw = gateway(flavour, json!({})).await;
    assert_refused(&gw, &unsigned_token(&claims(json!({}))), "bad_algorithm").await;
}

async fn refused_hs256_signed_with_the_rsa_public_key(flavour: Flavour) {
    let gw = gateway(flavour, json!({})).await;
    let forged = gw.key.forge_hs256_with_public_key(&claims(json!({})));
    assert_refused(&gw, &forged, "bad_algorithm").await;
}

async fn refused_expired(flavour: Flavour) {
    let gw = gateway(flavour, json!({})).await;
    let expired = claims(json!({ "iat": now() - 7200, "exp": now() - 3600 }));
    assert_refused(&gw, &gw.key.sign(&expired), "expired").await;
}

async fn refused_wrong_audience(flavour: Flavour) {
    let gw = gateway(flavour, json!({})).await;
    let token = gw.key.sign(&claims(json!({ "aud": "someone-else" })));
    assert_refused(&gw, &token, "bad_audience").await;
}

async fn refused_wrong_issuer(flavour: Flavour) {
    let gw = gateway(flavour, json!({})).await;
    let token = gw.key.sign(&claims(json!({ "iss": "https://evil.test" })));
    assert_refused(&gw, &token, "bad_issuer").await;
}

async fn refused_malformed_token(flavour: Flavour) {
    let gw = gateway(flavour, json!({})).await;
    assert_refused(&gw, "not.a-jwt", "malformed").await;
}

async fn missing_token_401_points_at_the_metadata_document(flavour: Flavour) {
    let gw = gateway(flavour, json!({})).await;
    let answer = gw.send("GET", "/a2a/demo/items", None).await;
    assert_eq!(answer.status, 401);
    let challenge = answer.challenge.expect("a WWW-Authenticate header");
    assert_eq!(
        challenge,
        format!("Bearer resource_metadata=\"{}\"", metadata_url())
    );
    assert_eq!(gw.authn("missing", 1.0).await, 1.0);

    // Follow resource_metadata (its path, on this gateway) like an MCP client does.
    let url = challenge
        .split("resource_metadata=\"")
        .nth(1)
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("a quoted URL");
    let path = url
        .strip_prefix("https://gateway.test")
        .expect("the URL names the public host");
    let response = http()
        .get(format!("{}{path}", gw.envoy.gateway_url()))
        .header("origin", "https://inspector.example")
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status().as_u16(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(header("access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    let document: Value = response.json().await.expect("a JSON document");
    // RFC 9728 §3.3: `resource` is exactly the identifier the metadata URL was built from.
    assert_eq!(
        document,
        json!({
            "resource": RESOURCE,
            "authorization_servers": [ISSUER],
            "scopes_supported": ["files:read", "admin"],
            "bearer_methods_supported": ["header"],
            "resource_name": "demo",
        })
    );

    let preflight = gw.send("OPTIONS", METADATA_PATH, None).await;
    assert_eq!(preflight.status, 204);
    let bare = gw
        .send("GET", "/.well-known/oauth-protected-resource", None)
        .await;
    assert_eq!(bare.status, 200);
    assert!(gw.upstream.requests().is_empty());
}

async fn rotated_key_is_accepted_after_an_unknown_kid_refetch(flavour: Flavour) {
    let gw = gateway(flavour, json!({})).await;
    assert_eq!(
        gw.get_with(&gw.key.sign(&claims(json!({})))).await.status,
        200
    );
    // Fetched by the background tick (in Wasm, once per VM) or by that first request.
    let fetched = gw.idp.jwks_requests();
    assert!(fetched >= 1);

    let rotated = TestKey::rsa("key-2").expect("a second RSA key");
    gw.idp.publish(vec![rotated.jwk()]);
    // Past minRefetchIntervalSeconds (1 s) since the first fetch.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let answer = gw.get_with(&rotated.sign(&claims(json!({})))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // Exactly one refetch, by the worker that served the request (in Wasm another VM's
    // background fetch may land in between, so the server's count is only a lower bound).
    assert!(
        gw.idp.jwks_requests() > fetched,
        "a refetch for the unknown kid"
    );
    assert_eq!(gw.fetches("ok", "unknown_kid", 1.0).await, 1.0);

    // A kid nobody published: one rate-limited refetch at most, then refused.
    let stranger = TestKey::rsa("key-3").expect("a third RSA key");
    let answer = gw.get_with(&stranger.sign(&claims(json!({})))).await;
    assert_eq!(answer.status, 401);
    let answer = gw.get_with(&stranger.sign(&claims(json!({})))).await;
    assert_eq!(answer.status, 401);
    let refetches = gw.fetches("ok", "unknown_kid", 1.0).await;
    assert!(
        refetches <= 2.0,
        "unknown kids are rate limited: {refetches}"
    );
    assert_eq!(gw.authn("unknown_kid", 2.0).await, 2.0);
}

async fn interval_refresh_picks_up_a_rotation(flavour: Flavour) {
    let gw = gateway(
        flavour,
        json!({ "refresh": { "intervalSeconds": 2, "minRefetchIntervalSeconds": 1 } }),
    )
    .await;
    assert_eq!(
        gw.get_with(&gw.key.sign(&claims(json!({})))).await.status,
        200
    );
    let rotated = TestKey::rsa("key-2").expect("a second RSA key");
    gw.idp.publish(vec![rotated.jwk()]);
    tokio::time::sleep(Duration::from_millis(2_300)).await;

    // The keys' lifetime ran out: refreshed (by the background tick, or by this request), the
    // retired key is gone.
    let answer = gw.get_with(&gw.key.sign(&claims(json!({})))).await;
    assert_eq!(answer.status, 401, "the retired key no longer verifies");
    assert!(gw.fetched("ok", "interval").await);
    let answer = gw.get_with(&rotated.sign(&claims(json!({})))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

async fn failed_refresh_keeps_the_last_good_keys(flavour: Flavour) {
    let gw = gateway(
        flavour,
        json!({ "refresh": { "intervalSeconds": 1, "minRefetchIntervalSeconds": 1 } }),
    )
    .await;
    assert_eq!(
        gw.get_with(&gw.key.sign(&claims(json!({})))).await.status,
        200
    );
    gw.idp.set_failing(true);
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let answer = gw.get_with(&gw.key.sign(&claims(json!({})))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(gw.fetched("failed", "interval").await);
    assert!(gw.envoy.log().contains("keeping the last good keys"));
}

/// The background tick fetches the keys once the config is loaded and renews them when they
/// expire, with no request to trigger either: a request signed by a rotated key then finds
/// the new keys already there.
async fn keys_are_renewed_in_the_background_without_requests(flavour: Flavour) {
    let gw = gateway(
        flavour,
        json!({ "refresh": { "intervalSeconds": 4, "minRefetchIntervalSeconds": 1 } }),
    )
    .await;
    assert!(
        gw.fetched_initially(flavour).await,
        "fetched at load, before any request"
    );
    let rotated = TestKey::rsa("key-2").expect("a second RSA key");
    gw.idp.publish(vec![rotated.jwk()]);
    let before = gw.idp.jwks_requests();
    // The keys expire 4 s after the first fetch; the tick looks every second. The next
    // renewal is due 4 s after this one, well after the request below.
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    let renewed = gw.idp.jwks_requests();
    assert!(renewed > before, "renewed without a request");
    assert!(gw.fetched("ok", "interval").await);
    assert!(gw.upstream.requests().is_empty(), "no request was sent");

    let answer = gw.get_with(&rotated.sign(&claims(json!({})))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        gw.idp.jwks_requests(),
        renewed,
        "the rotated key was already there: the request fetched nothing"
    );
}

async fn cel_rule_denies_by_method_and_path(flavour: Flavour) {
    let gw = gateway(flavour, json!({})).await;
    let reader = format!("Bearer {}", gw.key.sign(&claims(json!({}))));
    let admin = format!(
        "Bearer {}",
        gw.key
            .sign(&claims(json!({ "roles": ["reader", "admin"] })))
    );
    let cases = [
        ("GET", "/a2a/demo/items", &reader, 200),
        ("DELETE", "/a2a/demo/items/1", &reader, 403),
        ("GET", "/a2a/demo/admin/users", &reader, 403),
        ("DELETE", "/a2a/demo/items/1", &admin, 200),
        ("GET", "/a2a/demo/admin/users", &admin, 200),
    ];
    for (method, path, token, status) in cases {
        let answer = gw.send(method, path, Some(token)).await;
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.body);
        if status == 403 {
            assert_eq!(
                answer.challenge.as_deref(),
                Some(
                    format!(
                        "Bearer error=\"insufficient_scope\", scope=\"admin\", resource_metadata=\"{}\"",
                        metadata_url()
                    )
                    .as_str()
                )
            );
            let body: Value = serde_json::from_str(&answer.body).expect("a JSON body");
            assert_eq!(body["policy"], "admin-writes");
        }
    }
    let decisions = |outcome: &'static str, want: f64| {
        let labels = [("policy", "admin-writes"), ("outcome", outcome)];
        let envoy = &gw.envoy;
        async move { metric(envoy, "authz_decisions_total", &labels, want).await }
    };
    assert_eq!(decisions("deny", 2.0).await, 2.0);
    assert_eq!(decisions("allow", 2.0).await, 2.0);
    assert_eq!(gw.upstream.requests().len(), 3);
}

async fn invalid_policy_is_refused_naming_the_field(flavour: Flavour) {
    let idp = JwksServer::start().await.expect("the JWKS server starts");
    let config = filter_config(
        &idp,
        json!({ "policies": [{ "name": "broken", "allow": "request.path.startsWith(" }] }),
    );
    let bootstrap = Bootstrap::new(Some(flavour))
        .filter("authz", config)
        .agent(AgentRoute::new("idp", idp.addr()));
    let log = Envoy::expect_refusal(&bootstrap)
        .await
        .expect("Envoy runs and refuses");
    assert!(log.contains("policies[0].allow"), "{log}");
}

async fn oidc_discovery_finds_the_jwks(flavour: Flavour) {
    let gw = gateway_with(flavour, |idp| {
        let oidc = json!({ "oidc": { "cluster": IDP_CLUSTER, "issuer": idp.issuer() } });
        filter_config(idp, json!({ "jwks": oidc }))
    })
    .await;
    let answer = gw.get_with(&gw.key.sign(&claims(json!({})))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(gw.fetched_initially(flavour).await);
    // Discovery, then the keys, per fetching config (one in dynmod, one per VM in Wasm, where
    // another VM's keys fetch may still be under way).
    let (discoveries, keys) = (gw.idp.discovery_requests(), gw.idp.jwks_requests());
    assert!(
        discoveries >= 1 && keys >= 1 && keys <= discoveries,
        "{discoveries} {keys}"
    );
}

async fn cel_rule_over_the_a2a_method_in_the_body(flavour: Flavour) {
    let gw = gateway(
        flavour,
        json!({
            "inspectBody": "a2a",
            "policies": [{
                "name": "readers-read",
                "when": "a2a.method != 'GetTask'",
                "allow": "'writer' in jwt.roles"
            }]
        }),
    )
    .await;
    let reader = gw.key.sign(&claims(json!({})));
    let writer = gw.key.sign(&claims(json!({ "roles": ["writer"] })));
    let call = |method: &str| {
        json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": { "id": "t1" } }).to_string()
    };
    let cases = [
        ("GetTask", &reader, 200),
        ("SendMessage", &reader, 403),
        ("SendMessage", &writer, 200),
    ];
    for (method, token, status) in cases {
        let response = http()
            .post(format!("{}/a2a/demo/", gw.envoy.gateway_url()))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(call(method))
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(response.status().as_u16(), status, "{method}");
    }
    let bodies: Vec<String> = gw
        .upstream
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(
        bodies,
        vec![call("GetTask"), call("SendMessage")],
        "bodies reach upstream whole"
    );
}
