//! Which protocol versions the gateway offers clients (`protocolVersions`), and how a request
//! in another is refused.

use ai_gateway_core::jsonrpc::{
    ErrorObject, Id, Outcome, Response, INVALID_REQUEST, METHOD_NOT_FOUND,
};
use serde_json::json;

use super::replies::Reply;
use super::McpFilter;
use crate::routing::headers::{MODERN_PROTOCOL_VERSION, UNSUPPORTED_PROTOCOL_VERSION};
use crate::routing::{FanOutMethod, Route};

impl McpFilter {
    /// A request in a protocol version the configuration does not offer: a 400 (as the spec
    /// asks for an unsupported `MCP-Protocol-Version`; with 2026-07-28 offered, its
    /// UnsupportedProtocolVersion error naming the supported versions), or method-not-found for
    /// the 2026-07-28 probe `server/discover`, so that a client that probes falls back to
    /// `initialize`.
    pub(super) fn unoffered_version(
        &self,
        version: Option<&str>,
        route: &Route,
        id: &Id,
    ) -> Option<Reply> {
        let offered = &self.settings.protocol_versions;
        if *route == Route::FanOut(FanOutMethod::ServerDiscover)
            && !offered.contains(&MODERN_PROTOCOL_VERSION)
        {
            return Some(Reply::jsonrpc(
                200,
                id.clone(),
                METHOD_NOT_FOUND,
                "Method not found: server/discover (this gateway offers session-based protocol versions only)",
            ));
        }
        let version = version.filter(|v| !offered.contains(v))?;
        if *route == Route::FanOut(FanOutMethod::Initialize) {
            return None;
        }
        let message = format!(
            "Unsupported protocol version: {version} (supported: {})",
            offered.join(", ")
        );
        if !offered.contains(&MODERN_PROTOCOL_VERSION) {
            // Answered as a session-era server would: a client that speaks both generations
            // reads a 400 without the 2026-07-28 error as "fall back to initialize".
            return Some(Reply::jsonrpc(400, id.clone(), INVALID_REQUEST, message));
        }
        let mut error = ErrorObject::new(UNSUPPORTED_PROTOCOL_VERSION, message);
        error.data = Some(json!({"requested": version, "supported": offered}));
        let response = Response {
            id: id.clone(),
            outcome: Outcome::Error(error),
        };
        Some(Reply::from_response(
            400,
            response,
            "mcp_unsupported_version",
        ))
    }
}
