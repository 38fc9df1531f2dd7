use std::sync::Arc;

use ai_gateway_core::fake_host::FakeHost;
use ai_gateway_core::{
    Action, CalloutFailure, CalloutId, CalloutResponse, Direction, FilterFactory, Host, HttpFilter,
    LogLevel,
};
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

use crate::metrics::{AUTHN_TOTAL, DECISIONS_TOTAL, JWKS_FETCHES_TOTAL};
use crate::test_keys::{claims, jwks_json, public_jwk, raw_token, signed, NOW};

const RESOURCE: &str = "https://gw.test/mcp";
const METADATA_URL: &str = "https://gw.test/.well-known/oauth-protected-resource/mcp";

fn config(extra: Value) -> Value {
    let mut config = json!({
        "issuers": ["https://issuer.test"],
        "audiences": ["api"],
        "jwks": { "remote": { "cluster": "idp", "url": "http://idp.test/jwks" } },
        "resourceMetadata": {
            "resource": RESOURCE,
            "authorizationServers": ["https://issuer.test"],
            "scopesSupported": ["tools:read"]
        },
        "policies": [{
            "name": "no-admin-path",
            "when": "request.path.startsWith('/admin')",
            "allow": "'admin' in jwt.roles",
            "scope": "admin"
        }],
        "claimHeaders": [{ "claim": "sub", "header": "x-user" }],
        "refresh": { "minRefetchIntervalSeconds": 10 }
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

/// The factory and a host driver for one config: streams share the factory's state.
pub(crate) struct Gateway {
    pub(crate) factory: Arc<dyn FilterFactory>,
    pub(crate) now: u64,
}

impl Gateway {
    pub(crate) fn new(extra: Value) -> Gateway {
        Gateway {
            factory: crate::factory(&config(extra).to_string()).unwrap(),
            now: NOW,
        }
    }

    pub(crate) fn host(&self, headers: &[(&str, &str)]) -> FakeHost {
        let mut host = FakeHost::with_request_headers(headers);
        host.unix_seconds = self.now;
        host
    }

    /// Sends request headers; returns the filter, host and first action.
    pub(crate) fn request(
        &self,
        path: &str,
        auth: Option<&str>,
    ) -> (Box<dyn HttpFilter>, FakeHost, Action) {
        let mut headers = vec![(":method", "GET"), (":path", path), ("x-user", "spoofed")];
        if let Some(auth) = auth {
            headers.push(("authorization", auth));
        }
        let mut host = self.host(&headers);
        let mut filter = self.factory.new_filter();
        let action = filter.on_request_headers(&mut host, true);
        (filter, host, action)
    }
}

pub(crate) fn jwks_response(keys: &[Value], cache_control: Option<&str>) -> CalloutResponse {
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let Some(cc) = cache_control {
        headers.push(("cache-control".to_string(), cc.to_string()));
    }
    CalloutResponse {
        status: 200,
        headers,
        body: jwks_json(keys).into_bytes(),
    }
}

pub(crate) fn key_a() -> Value {
    public_jwk("rsa-a", Algorithm::RS256, "a")
}

pub(crate) fn token_a() -> String {
    format!(
        "Bearer {}",
        signed("rsa-a", Algorithm::RS256, Some("a"), &claims())
    )
}

fn header(host: &FakeHost, name: &str) -> Option<String> {
    host.header(Direction::Request, name)
}

fn reply_header(host: &FakeHost, name: &str) -> Option<String> {
    let reply = host.local_reply.as_ref()?;
    reply
        .headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// Runs the first request (which fetches the JWKS) to completion with `keys`.
fn prime(gateway: &Gateway, keys: &[Value]) {
    let (mut filter, mut host, action) = gateway.request("/mcp", Some(&token_a()));
    assert_eq!(action, Action::Pause);
    filter.on_callout_done(&mut host, CalloutId(1), Ok(jwks_response(keys, None)));
}

#[test]
fn first_token_fetches_the_jwks_then_passes() {
    let gateway = Gateway::new(json!({}));
    let (mut filter, mut host, action) = gateway.request("/mcp", Some(&token_a()));
    assert_eq!(action, Action::Pause);
    let callout = &host.callouts[0];
    assert_eq!(callout.cluster, "idp");
    assert!(callout.headers.contains(&(":path".into(), "/jwks".into())));
    assert!(callout
        .headers
        .contains(&(":authority".into(), "idp.test".into())));
    assert_eq!(
        filter.on_request_body(&mut host, false),
        Action::Pause,
        "body held until decided"
    );

    filter.on_callout_done(&mut host, CalloutId(1), Ok(jwks_response(&[key_a()], None)));
    assert_eq!(host.resumed, vec![Direction::Request]);
    assert!(host.local_reply.is_none());
    assert_eq!(
        header(&host, "x-user").as_deref(),
        Some("alice"),
        "claim forwarded, spoof replaced"
    );
    assert_eq!(header(&host, "authorization"), None, "token not forwarded");
    assert_eq!(filter.on_request_body(&mut host, true), Action::Continue);
    assert_eq!(host.counter(JWKS_FETCHES_TOTAL, &["ok", "initial"]), 1);
    assert_eq!(host.counter(AUTHN_TOTAL, &["ok"]), 1);
}

#[test]
fn later_requests_use_the_cached_keys_and_tokens() {
    let gateway = Gateway::new(json!({}));
    prime(&gateway, &[key_a()]);
    let (_, host, action) = gateway.request("/mcp", Some(&token_a()));
    assert_eq!(action, Action::Continue);
    assert!(host.callouts.is_empty());
    let mut bob = claims();
    bob["sub"] = json!("bob");
    let other = signed("rsa-a", Algorithm::RS256, Some("a"), &bob);
    let (_, host, action) = gateway.request("/mcp", Some(&format!("bearer {other}")));
    assert_eq!(
        action,
        Action::Continue,
        "lower-case scheme, not cached yet: verified"
    );
    assert!(host.callouts.is_empty());
}

#[test]
fn missing_token_gets_401_pointing_at_the_metadata() {
    let gateway = Gateway::new(json!({}));
    let (_, host, action) = gateway.request("/mcp", None);
    assert_eq!(action, Action::Pause);
    assert_eq!(host.local_reply.as_ref().unwrap().status, 401);
    assert_eq!(
        reply_header(&host, "www-authenticate").unwrap(),
        format!("Bearer resource_metadata=\"{METADATA_URL}\"")
    );
    assert_eq!(host.counter(AUTHN_TOTAL, &["missing"]), 1);
    assert!(host.callouts.is_empty());
}

#[test]
fn refused_tokens_get_invalid_token_with_the_reason_counted() {
    let gateway = Gateway::new(json!({}));
    prime(&gateway, &[key_a()]);
    let mut expired = claims();
    expired["exp"] = json!(NOW - 3600);
    let mut wrong_aud = claims();
    wrong_aud["aud"] = json!("elsewhere");
    let mut wrong_iss = claims();
    wrong_iss["iss"] = json!("https://evil.test");
    let cases: Vec<(String, &str)> = vec![
        (
            raw_token(&json!({"alg": "none"}), &claims(), b""),
            "bad_algorithm",
        ),
        (
            signed("rsa-a", Algorithm::RS256, Some("a"), &expired),
            "expired",
        ),
        (
            signed("rsa-a", Algorithm::RS256, Some("a"), &wrong_aud),
            "bad_audience",
        ),
        (
            signed("rsa-a", Algorithm::RS256, Some("a"), &wrong_iss),
            "bad_issuer",
        ),
        (
            signed("rsa-b", Algorithm::RS256, Some("a"), &claims()),
            "bad_signature",
        ),
        ("not-a-jwt".to_string(), "malformed"),
        (
            format!(
                "{} x",
                signed("rsa-a", Algorithm::RS256, Some("a"), &claims())
            ),
            "malformed",
        ),
    ];
    for (token, reason) in cases {
        let (_, host, action) = gateway.request("/mcp", Some(&format!("Bearer {token}")));
        assert_eq!(action, Action::Pause, "{reason}");
        let reply = host.local_reply.as_ref().unwrap();
        assert_eq!(reply.status, 401, "{reason}");
        let challenge = reply_header(&host, "www-authenticate").unwrap();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\""),
            "{challenge}"
        );
        assert!(challenge.ends_with(&format!("resource_metadata=\"{METADATA_URL}\"")));
        assert_eq!(host.counter(AUTHN_TOTAL, &[reason]), 1, "{reason}");
    }
    let (_, host, _) = gateway.request("/mcp", Some("Basic dXNlcjpwYXNz"));
    assert_eq!(host.counter(AUTHN_TOTAL, &["malformed"]), 1);
}

#[test]
fn unknown_kid_refetches_once_and_accepts_the_rotated_key() {
    let mut gateway = Gateway::new(json!({}));
    prime(&gateway, &[key_a()]);
    gateway.now += 11;
    let rotated = format!(
        "Bearer {}",
        signed("rsa-b", Algorithm::RS256, Some("b"), &claims())
    );
    let (mut filter, mut host, action) = gateway.request("/mcp", Some(&rotated));
    assert_eq!(action, Action::Pause);
    let key_b = public_jwk("rsa-b", Algorithm::RS256, "b");
    filter.on_callout_done(&mut host, CalloutId(1), Ok(jwks_response(&[key_b], None)));
    assert_eq!(host.resumed, vec![Direction::Request]);
    assert_eq!(host.counter(JWKS_FETCHES_TOTAL, &["ok", "unknown_kid"]), 1);

    // Another unknown kid right away is refused without a fetch (rate limit).
    let stranger = format!(
        "Bearer {}",
        signed("rsa-a", Algorithm::RS256, Some("zzz"), &claims())
    );
    let (_, host, _) = gateway.request("/mcp", Some(&stranger));
    assert!(host.callouts.is_empty());
    assert_eq!(host.local_reply.as_ref().unwrap().status, 401);
    assert_eq!(host.counter(AUTHN_TOTAL, &["unknown_kid"]), 1);
}

#[test]
fn failed_refresh_keeps_the_last_good_keys() {
    let mut gateway = Gateway::new(json!({}));
    prime(&gateway, &[key_a()]);
    gateway.now += 600;
    let mut bob = claims();
    bob["sub"] = json!("bob");
    bob["exp"] = json!(NOW + 3600);
    let fresh = format!(
        "Bearer {}",
        signed("rsa-a", Algorithm::RS256, Some("a"), &bob)
    );
    let (mut filter, mut host, action) = gateway.request("/mcp", Some(&fresh));
    assert_eq!(action, Action::Pause, "the interval ran out: refresh first");
    filter.on_callout_done(&mut host, CalloutId(1), Err(CalloutFailure::Reset));
    assert_eq!(
        host.resumed,
        vec![Direction::Request],
        "the old keys still verify"
    );
    assert_eq!(host.counter(JWKS_FETCHES_TOTAL, &["failed", "interval"]), 1);
    assert!(host.logged(LogLevel::Warn, "keeping the last good keys"));
}

#[test]
fn no_keys_at_all_is_503_not_401() {
    let gateway = Gateway::new(json!({}));
    let (mut filter, mut host, _) = gateway.request("/mcp", Some(&token_a()));
    filter.on_callout_done(&mut host, CalloutId(1), Err(CalloutFailure::Timeout));
    let reply = host.local_reply.as_ref().unwrap();
    assert_eq!(
        reply.status, 503,
        "the token may be fine: the keys are missing"
    );
    assert_eq!(reply_header(&host, "retry-after").as_deref(), Some("10"));
    assert_eq!(host.counter(AUTHN_TOTAL, &["jwks_unavailable"]), 1);
    assert_eq!(host.counter(JWKS_FETCHES_TOTAL, &["failed", "initial"]), 1);
    // Within the retry interval the next request does not hammer the IdP.
    let (_, host, _) = gateway.request("/mcp", Some(&token_a()));
    assert!(host.callouts.is_empty());
    assert_eq!(host.local_reply.as_ref().unwrap().status, 503);
}

#[test]
fn max_age_sets_the_keys_lifetime() {
    let mut gateway = Gateway::new(json!({}));
    let (mut filter, mut host, _) = gateway.request("/mcp", Some(&token_a()));
    filter.on_callout_done(
        &mut host,
        CalloutId(1),
        Ok(jwks_response(&[key_a()], Some("max-age=60"))),
    );
    gateway.now += 59;
    let mut bob = claims();
    bob["sub"] = json!("bob");
    let another = format!(
        "Bearer {}",
        signed("rsa-a", Algorithm::RS256, Some("a"), &bob)
    );
    let (_, host, action) = gateway.request("/mcp", Some(&another));
    assert_eq!(action, Action::Continue);
    assert!(host.callouts.is_empty());
    gateway.now += 1;
    bob["sub"] = json!("carol");
    let third = format!(
        "Bearer {}",
        signed("rsa-a", Algorithm::RS256, Some("a"), &bob)
    );
    let (_, host, action) = gateway.request("/mcp", Some(&third));
    assert_eq!(action, Action::Pause);
    assert_eq!(host.callouts.len(), 1);
}

#[test]
fn oidc_discovery_then_keys() {
    let gateway = Gateway::new(json!({
        "jwks": { "oidc": { "cluster": "idp", "issuer": "https://issuer.test" } }
    }));
    let (mut filter, mut host, _) = gateway.request("/mcp", Some(&token_a()));
    assert!(host.callouts[0]
        .headers
        .contains(&(":path".into(), "/.well-known/openid-configuration".into())));
    let discovery = CalloutResponse {
        status: 200,
        headers: vec![],
        body:
            json!({ "issuer": "https://issuer.test", "jwks_uri": "https://keys.issuer.test/certs" })
                .to_string()
                .into_bytes(),
    };
    filter.on_callout_done(&mut host, CalloutId(1), Ok(discovery));
    assert!(host.resumed.is_empty());
    assert!(host.callouts[1]
        .headers
        .contains(&(":path".into(), "/certs".into())));
    assert!(host.callouts[1]
        .headers
        .contains(&(":authority".into(), "keys.issuer.test".into())));
    filter.on_callout_done(&mut host, CalloutId(2), Ok(jwks_response(&[key_a()], None)));
    assert_eq!(host.resumed, vec![Direction::Request]);
}

#[test]
fn policy_denial_is_403_insufficient_scope() {
    let gateway = Gateway::new(json!({}));
    prime(&gateway, &[key_a()]);
    let mut reader = claims();
    reader["roles"] = json!(["reader"]);
    let reader = format!(
        "Bearer {}",
        signed("rsa-a", Algorithm::RS256, Some("a"), &reader)
    );
    let (_, host, action) = gateway.request("/admin/users", Some(&reader));
    assert_eq!(action, Action::Pause);
    let reply = host.local_reply.as_ref().unwrap();
    assert_eq!(reply.status, 403);
    let body: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(body["policy"], "no-admin-path");
    assert_eq!(
        reply_header(&host, "www-authenticate").unwrap(),
        format!("Bearer error=\"insufficient_scope\", scope=\"admin\", resource_metadata=\"{METADATA_URL}\"")
    );
    assert_eq!(host.counter(DECISIONS_TOTAL, &["no-admin-path", "deny"]), 1);
    let mut admin = claims();
    admin["roles"] = json!(["admin"]);
    let admin = format!(
        "Bearer {}",
        signed("rsa-a", Algorithm::RS256, Some("a"), &admin)
    );
    let (_, host, action) = gateway.request("/admin/users", Some(&admin));
    assert_eq!(action, Action::Continue);
    assert_eq!(
        host.counter(DECISIONS_TOTAL, &["no-admin-path", "allow"]),
        1
    );
}

#[test]
fn policy_error_fails_closed_and_is_logged() {
    let gateway = Gateway::new(json!({
        "policies": [{ "name": "broken", "allow": "jwt.no_such_claim == 1" }]
    }));
    prime(&gateway, &[key_a()]);
    let (_, host, _) = gateway.request("/mcp", Some(&token_a()));
    assert_eq!(host.local_reply.as_ref().unwrap().status, 403);
    assert!(host.logged(LogLevel::Warn, "policy broken failed"));
    assert_eq!(host.counter(DECISIONS_TOTAL, &["broken", "error"]), 1);
}

#[test]
fn metadata_document_is_served_with_cors() {
    let gateway = Gateway::new(json!({}));
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let (_, host, action) = gateway.request(path, None);
        assert_eq!(action, Action::Pause);
        let reply = host.local_reply.as_ref().unwrap();
        assert_eq!(reply.status, 200, "{path}");
        let doc: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(doc["resource"], RESOURCE);
        assert_eq!(doc["authorization_servers"], json!(["https://issuer.test"]));
        assert_eq!(
            reply_header(&host, "access-control-allow-origin").as_deref(),
            Some("*")
        );
    }
    let mut host = gateway.host(&[
        (":method", "OPTIONS"),
        (":path", "/.well-known/oauth-protected-resource/mcp"),
    ]);
    gateway
        .factory
        .new_filter()
        .on_request_headers(&mut host, true);
    assert_eq!(host.local_reply.as_ref().unwrap().status, 204);
}

#[test]
fn token_forwarded_only_when_configured_and_anonymous_when_allowed() {
    let gateway =
        Gateway::new(json!({ "forwardToken": true, "allowAnonymous": true, "policies": [] }));
    prime(&gateway, &[key_a()]);
    let (_, host, action) = gateway.request("/mcp", Some(&token_a()));
    assert_eq!(action, Action::Continue);
    assert_eq!(header(&host, "authorization"), Some(token_a()));
    let (_, host, action) = gateway.request("/mcp", None);
    assert_eq!(action, Action::Continue);
    assert_eq!(
        header(&host, "x-user"),
        None,
        "the spoofed identity header is removed"
    );
    assert_eq!(host.counter(AUTHN_TOTAL, &["anonymous"]), 1);
}

#[test]
fn inline_keys_and_cookie_source() {
    let gateway = Gateway::new(json!({
        "jwks": { "inline": { "keys": [key_a()] } },
        "tokenSource": { "cookie": "session" }
    }));
    let token = signed("rsa-a", Algorithm::RS256, Some("a"), &claims());
    let cookie = format!("theme=dark; session={token}");
    let mut host = gateway.host(&[(":method", "GET"), (":path", "/mcp"), ("cookie", &cookie)]);
    let action = gateway
        .factory
        .new_filter()
        .on_request_headers(&mut host, true);
    assert_eq!(action, Action::Continue);
    assert!(host.callouts.is_empty());
}

/// A POST with `body` through a gateway whose policies read MCP bodies: headers, then the
/// whole body in one chunk. Returns the host and the body callback's action.
fn post_mcp(gateway: &Gateway, body: &Value) -> (Box<dyn HttpFilter>, FakeHost, Action, Action) {
    let token = token_a();
    let mut host = gateway.host(&[
        (":method", "POST"),
        (":path", "/mcp"),
        ("authorization", &token),
    ]);
    let mut filter = gateway.factory.new_filter();
    let headers = filter.on_request_headers(&mut host, false);
    host.request_body = body.to_string().into_bytes();
    let body_action = filter.on_request_body(&mut host, true);
    (filter, host, headers, body_action)
}

fn mcp_gateway() -> Gateway {
    Gateway::new(json!({
        "inspectBody": "mcp",
        "maxBodyBytes": 256,
        "policies": [{
            "name": "search-only",
            "when": "mcp.method == 'tools/call'",
            "allow": "mcp.tool.endsWith('_search') && mcp.arguments.limit <= 10",
            "scope": "tools:write"
        }]
    }))
}

fn tool_call(name: &str, limit: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
           "params": {"name": name, "arguments": {"limit": limit}}})
}

#[test]
fn mcp_body_rules_decide_once_the_body_is_complete() {
    let gateway = mcp_gateway();
    prime(&gateway, &[key_a()]);
    let (_, host, headers, body) = post_mcp(&gateway, &tool_call("gh_search", 5));
    assert_eq!((headers, body), (Action::Pause, Action::Continue));
    assert!(host.local_reply.is_none());
    assert_eq!(header(&host, "x-user").as_deref(), Some("alice"));

    let cases = [tool_call("gh_delete", 5), tool_call("gh_search", 50)];
    for call in cases {
        let (_, host, _, body) = post_mcp(&gateway, &call);
        assert_eq!(body, Action::Pause, "{call}");
        assert_eq!(host.local_reply.as_ref().unwrap().status, 403, "{call}");
        assert_eq!(host.counter(DECISIONS_TOTAL, &["search-only", "deny"]), 1);
    }
    let listing = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let (_, _, _, body) = post_mcp(&gateway, &listing);
    assert_eq!(
        body,
        Action::Continue,
        "the rule does not apply to listings"
    );
}

#[test]
fn a_denied_mcp_request_without_a_scope_to_gain_is_a_jsonrpc_error() {
    let gateway = Gateway::new(json!({
        "inspectBody": "mcp",
        "policies": [{ "name": "no-delete", "allow": "mcp.tool != 'gh_delete'" }]
    }));
    prime(&gateway, &[key_a()]);
    let (_, host, _, body) = post_mcp(&gateway, &tool_call("gh_delete", 1));
    assert_eq!(body, Action::Pause);
    let reply = host.local_reply.as_ref().unwrap();
    assert_eq!(reply.status, 200);
    let answer: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(
        answer,
        json!({"jsonrpc": "2.0", "id": 7, "error": {
            "code": crate::reply::MCP_DENIED_CODE,
            "message": "denied by policy no-delete",
            "data": {"policy": "no-delete"}}})
    );
    // A notification has no id to answer: the plain 403.
    let notification = json!({"jsonrpc": "2.0", "method": "tools/call",
                              "params": {"name": "gh_delete"}});
    let (_, host, _, _) = post_mcp(&gateway, &notification);
    assert_eq!(host.local_reply.as_ref().unwrap().status, 403);
}

#[test]
fn inspected_bodies_are_bounded_and_batches_refused() {
    let gateway = mcp_gateway();
    prime(&gateway, &[key_a()]);
    let big = tool_call(&"x".repeat(300), 1);
    let (_, host, _, body) = post_mcp(&gateway, &big);
    assert_eq!(body, Action::Pause);
    assert_eq!(host.local_reply.as_ref().unwrap().status, 413);
    let batch = json!([tool_call("gh_search", 1)]);
    let (_, host, _, _) = post_mcp(&gateway, &batch);
    assert_eq!(host.local_reply.as_ref().unwrap().status, 400);
}

#[test]
fn body_that_arrived_during_the_key_fetch_is_judged_after_it() {
    let gateway = mcp_gateway();
    let (mut filter, mut host, headers, body) = post_mcp(&gateway, &tool_call("gh_delete", 1));
    assert_eq!((headers, body), (Action::Pause, Action::Pause));
    filter.on_callout_done(&mut host, CalloutId(1), Ok(jwks_response(&[key_a()], None)));
    assert!(host.resumed.is_empty());
    assert_eq!(host.local_reply.as_ref().unwrap().status, 403);

    let (mut filter, mut host, _, _) = post_mcp(&gateway, &tool_call("gh_search", 1));
    assert!(host.callouts.is_empty(), "keys cached by now");
    filter.on_callout_done(&mut host, CalloutId(1), Ok(jwks_response(&[key_a()], None)));
    assert!(host.local_reply.is_none());
}

#[test]
fn oversized_body_during_a_key_fetch_is_refused_after_it() {
    let gateway = mcp_gateway();
    let big = tool_call(&"x".repeat(300), 1);
    let (mut filter, mut host, _, body) = post_mcp(&gateway, &big);
    assert_eq!(body, Action::Pause);
    assert!(host.local_reply.is_none(), "the fetch is still outstanding");
    filter.on_callout_done(&mut host, CalloutId(1), Ok(jwks_response(&[key_a()], None)));
    assert_eq!(host.local_reply.as_ref().unwrap().status, 413);
    assert_eq!(
        host.counter(JWKS_FETCHES_TOTAL, &["ok", "initial"]),
        1,
        "keys kept"
    );
    let (_, host, _, body) = post_mcp(&gateway, &tool_call("gh_search", 1));
    assert!(host.callouts.is_empty());
    assert_eq!(body, Action::Continue);
}

#[test]
fn llm_model_rule() {
    let gateway = Gateway::new(json!({
        "inspectBody": "llm",
        "policies": [{ "name": "small-models", "allow": "llm.model.startsWith('gpt-4o-mini')" }]
    }));
    prime(&gateway, &[key_a()]);
    let token = token_a();
    for (model, allowed) in [("gpt-4o-mini", true), ("o3-pro", false)] {
        let mut host = gateway.host(&[
            (":method", "POST"),
            (":path", "/v1/chat/completions"),
            ("authorization", &token),
        ]);
        let mut filter = gateway.factory.new_filter();
        assert_eq!(filter.on_request_headers(&mut host, false), Action::Pause);
        host.request_body = json!({"model": model, "messages": []})
            .to_string()
            .into_bytes();
        let action = filter.on_request_body(&mut host, true);
        assert_eq!(action == Action::Continue, allowed, "{model}");
    }
}
