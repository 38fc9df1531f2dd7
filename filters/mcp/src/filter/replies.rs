//! The gateway's own answers: a status, a JSON-RPC error body, and what the metrics record.

use ai_gateway_core::jsonrpc::{Id, Message, Response, INVALID_REQUEST};

use crate::routing::RouteError;

/// A local reply the filter sends instead of forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reply {
    /// HTTP status.
    pub status: u16,
    /// A JSON-RPC error response.
    pub body: Vec<u8>,
    /// The code the `outcome` tag records; `None` for transport-level refusals (403, 405,
    /// 413), which are counted by their HTTP status.
    pub counted_code: Option<i64>,
    /// Envoy's response-code details (`%RESPONSE_CODE_DETAILS%`).
    pub details: &'static str,
}

impl Reply {
    /// An error answer to the request `id`.
    pub fn jsonrpc(status: u16, id: Id, code: i64, message: impl Into<String>) -> Reply {
        Reply::from_response(
            status,
            Response::error(id, code, message),
            "mcp_local_error",
        )
    }

    /// The answer to a message that could not be routed: 400 for a body that is not one
    /// JSON-RPC message (the transport's "cannot accept the input"), the spec's status where it
    /// fixes one (-32020 → 400), else 200 with the error in the body.
    pub fn route_error(err: &RouteError, id: Id) -> Reply {
        let status = err.http_status().unwrap_or(match err {
            RouteError::Malformed(_) => 400,
            _ => 200,
        });
        Reply::from_response(status, err.response(id), "mcp_route_error")
    }

    /// `response` (an error response) sent with `status`.
    pub fn from_response(status: u16, response: Response, details: &'static str) -> Reply {
        let counted_code = response.error_object().map(|e| e.code);
        Reply {
            status,
            body: Message::Response(response).to_vec(),
            counted_code,
            details,
        }
    }

    /// A request refused before its body was read (the body still says why, as JSON-RPC).
    pub fn refused(status: u16, message: &str, details: &'static str) -> Reply {
        Reply {
            counted_code: None,
            details,
            ..Reply::from_response(
                status,
                Response::error(Id::Null, INVALID_REQUEST, message),
                details,
            )
        }
    }

    /// 413: the body is larger than `maxRequestBytes`.
    pub fn too_large(limit: usize) -> Reply {
        Reply::refused(
            413,
            &format!("request body exceeds maxRequestBytes ({limit} bytes)"),
            "mcp_request_too_large",
        )
    }
}
