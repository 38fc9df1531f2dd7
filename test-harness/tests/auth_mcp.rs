//! The `authz` filter in front of the `mcp` filter on the MCP endpoint, once per flavour: the
//! official Python `mcp` SDK client with a bearer token lists and calls tools; without a token
//! it gets a 401 whose `resource_metadata` leads (through the SDK's own discovery helpers) to a
//! correct RFC 9728 document; a token without the required scope gets 403 `insufficient_scope`;
//! a tool a policy refuses is left out of `tools/list` and its call fails with a JSON-RPC error
//! (code -32003, the policy named in `data`) that leaves the session usable.

mod support;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::time::{SystemTime, UNIX_EPOCH};

use ai_gateway_test_harness::auth::{JwksServer, TestKey};
use ai_gateway_test_harness::{
    mcp_config, pytest, AgentRoute, Bootstrap, Envoy, Flavour, McpBackend, McpBackendKind,
    McpBackendRoute, MCP_ENDPOINT_PATH,
};
use serde_json::{json, Value};

per_flavour!(python_mcp_client_with_bearer_token);

const ISSUER: &str = "https://idp.test";
const SCOPE: &str = "mcp:tools";
/// A tool of the backend that a policy refuses to everyone.
const HIDDEN_TOOL: &str = "stateless_shout";
/// Base64 of the bytes 1..=32, the mcp filter's session key.
const SESSION_KEY: &str = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

/// A loopback port free right now: the resource URL must be known before Envoy starts.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

fn token(key: &TestKey, resource: &str, scope: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    // MCP's authorization spec: the token's audience is the resource (RFC 8707).
    key.sign(&json!({
        "iss": ISSUER,
        "aud": resource,
        "sub": "alice",
        "scope": scope,
        "iat": now,
        "exp": now + 600,
    }))
}

fn authz_config(idp: &JwksServer, resource: &str) -> Value {
    json!({
        "issuers": [ISSUER],
        "audiences": [resource],
        "jwks": { "remote": { "cluster": "agent_idp", "url": idp.jwks_url() } },
        "resourceMetadata": {
            "resource": resource,
            "authorizationServers": [ISSUER],
            "scopesSupported": [SCOPE]
        },
        "inspectBody": "mcp",
        "policies": [{
            "name": "mcp-scope",
            "allow": format!("'{SCOPE}' in jwt.scope.split(' ')"),
            "scope": SCOPE
        }, {
            // Nobody may shout: the tool is neither listed nor callable.
            "name": "no-shouting",
            "allow": format!("mcp.tool != '{HIDDEN_TOOL}'")
        }]
    })
}

async fn python_mcp_client_with_bearer_token(flavour: Flavour) {
    let idp = JwksServer::start().await.expect("the JWKS server starts");
    let key = TestKey::rsa("mcp-key").expect("an RSA test key");
    idp.publish(vec![key.jwk()]);
    let backend = McpBackend::start(McpBackendKind::PythonStateless)
        .await
        .expect("the MCP backend starts (run scripts/setup)");
    let route = McpBackendRoute {
        path: backend.path().to_string(),
        ..McpBackendRoute::new("stateless", backend.addr())
    };
    let mut mcp = mcp_config(std::slice::from_ref(&route), SESSION_KEY);
    mcp["backends"][0]["host"] = json!(backend.addr().to_string());
    mcp["timeoutMs"] = json!(5000);

    let mut bootstrap = Bootstrap::new(Some(flavour));
    bootstrap.listener = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
    let resource = format!("http://{}{MCP_ENDPOINT_PATH}", bootstrap.listener);
    let bootstrap = bootstrap
        .mcp_backend(route)
        .agent(AgentRoute::new("idp", idp.addr()))
        .filter("authz", authz_config(&idp, &resource))
        .filter("mcp", mcp);
    let envoy = Envoy::start(&bootstrap)
        .await
        .expect("Envoy starts with the authz and mcp filters");
    assert_eq!(
        format!("{}{MCP_ENDPOINT_PATH}", envoy.gateway_url()),
        resource
    );

    let scoped = token(&key, &resource, &format!("profile {SCOPE}"));
    let unscoped = token(&key, &resource, "profile");
    let run = pytest(
        "test_auth_mcp_client.py",
        &[
            ("MCP_URL", &resource),
            ("MCP_ISSUER", ISSUER),
            ("MCP_TOKEN", &scoped),
            ("MCP_TOKEN_NO_SCOPE", &unscoped),
            ("MCP_TOOL", "stateless_echo"),
            ("MCP_HIDDEN_TOOL", HIDDEN_TOOL),
            ("MCP_DENIED_CODE", "-32003"),
        ],
    )
    .await
    .expect("pytest runs");
    assert!(
        run.passed,
        "the mcp SDK client suite failed:\n{}\nEnvoy log:\n{}",
        run.output,
        envoy.log()
    );
    assert!(run.output.contains("4 passed"), "{}", run.output);
}
