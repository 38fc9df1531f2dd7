//! The filter's local replies: 401/403 with RFC 6750 challenges, and the RFC 9728 metadata
//! document with CORS headers for browser clients.

use ai_gateway_core::Host;
use serde_json::{json, Value};

use crate::metadata::{www_authenticate, Challenge, MetadataEndpoint};

/// 401: no token (no `error=`) or an invalid one.
pub fn unauthorized(
    host: &mut dyn Host,
    metadata: Option<&MetadataEndpoint>,
    challenge: &Challenge<'_>,
) {
    let header = www_authenticate(metadata.map(|m| m.url.as_str()), challenge);
    let body = match challenge {
        Challenge::InvalidToken { description } => {
            json!({ "error": "invalid_token", "error_description": description })
        }
        _ => json!({ "error": "unauthorized", "error_description": "a bearer token is required" }),
    };
    host.send_local_reply(
        401,
        &[
            ("www-authenticate", &header),
            ("content-type", "application/json"),
        ],
        body.to_string().as_bytes(),
        "authz_unauthorized",
    );
}

/// 503: no keys to verify with yet (the JWKS could not be fetched). Not a 401: the client's
/// token may be fine, and a 401 would make it throw the token away.
pub fn keys_unavailable(host: &mut dyn Host, retry_after_seconds: u64) {
    let body = json!({
        "error": "temporarily_unavailable",
        "error_description": "token verification keys are not available yet",
    });
    let retry_after = retry_after_seconds.max(1).to_string();
    host.send_local_reply(
        503,
        &[
            ("retry-after", &retry_after),
            ("content-type", "application/json"),
        ],
        body.to_string().as_bytes(),
        "authz_keys_unavailable",
    );
}

/// 403: a policy denied the request.
pub fn forbidden(
    host: &mut dyn Host,
    metadata: Option<&MetadataEndpoint>,
    policy: &str,
    scope: Option<&str>,
) {
    let header = www_authenticate(
        metadata.map(|m| m.url.as_str()),
        &Challenge::InsufficientScope { scope },
    );
    let body = json!({
        "error": "insufficient_scope",
        "error_description": format!("denied by policy {policy}"),
        "policy": policy,
    });
    host.send_local_reply(
        403,
        &[
            ("www-authenticate", &header),
            ("content-type", "application/json"),
        ],
        body.to_string().as_bytes(),
        "authz_forbidden",
    );
}

/// JSON-RPC error code of an MCP request a policy denied (implementation-defined server-error
/// range; MCP defines no code for it).
pub const MCP_DENIED_CODE: i64 = -32003;

/// An MCP request a policy denied without a scope to step up to: HTTP 200 carrying a JSON-RPC
/// error for the request's `id`, which MCP clients surface as the call's error.
pub fn mcp_call_denied(host: &mut dyn Host, id: Value, policy: &str) {
    let body = json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {
            "code": MCP_DENIED_CODE,
            "message": format!("denied by policy {policy}"),
            "data": { "policy": policy },
        },
    });
    host.send_local_reply(
        200,
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
        "authz_mcp_denied",
    );
}

/// 400: a body the policies cannot judge.
pub fn bad_request(host: &mut dyn Host, description: &str) {
    let body = json!({ "error": "invalid_request", "error_description": description });
    host.send_local_reply(
        400,
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
        "authz_bad_body",
    );
}

/// 413: a body larger than `maxBodyBytes` on a route whose policies read bodies.
pub fn too_large(host: &mut dyn Host, limit: usize) {
    let body = json!({
        "error": "request_too_large",
        "error_description": format!("bodies are inspected up to {limit} bytes"),
    });
    host.send_local_reply(
        413,
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
        "authz_body_too_large",
    );
}

const CORS: [(&str, &str); 3] = [
    ("access-control-allow-origin", "*"),
    ("access-control-allow-methods", "GET, OPTIONS"),
    (
        "access-control-allow-headers",
        "authorization, content-type, mcp-protocol-version",
    ),
];

/// Serves the metadata document (GET/HEAD), a CORS preflight (OPTIONS), or 405.
pub fn metadata(host: &mut dyn Host, endpoint: &MetadataEndpoint, method: &str) {
    let mut headers: Vec<(&str, &str)> = CORS.to_vec();
    match method {
        "GET" | "HEAD" => {
            headers.push(("content-type", "application/json"));
            headers.push(("cache-control", "max-age=3600"));
            host.send_local_reply(200, &headers, endpoint.body.as_bytes(), "authz_metadata");
        }
        "OPTIONS" => {
            headers.push(("access-control-max-age", "86400"));
            host.send_local_reply(204, &headers, b"", "authz_metadata_preflight");
        }
        _ => {
            headers.push(("allow", "GET, HEAD, OPTIONS"));
            host.send_local_reply(405, &headers, b"", "authz_metadata_method");
        }
    }
}
