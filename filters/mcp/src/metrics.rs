//! The filter's metrics and their bounded tag values.
//!
//! Every labelled stat costs on each request (Envoy builds the stat name from the tags: about
//! 3.5k instructions per stat, README "Benchmark"), so a request records exactly two:
//! the counter and the latency histogram. Tag values never come straight from a client:
//! methods are the MCP methods the gateway knows (else `other`), backends are configured
//! names (else `none`), tools pass a [`ai_gateway_core::TagLimiter`] (else `other`).

use ai_gateway_core::jsonrpc;
use ai_gateway_core::{MetricDef, MetricId, MetricKind};

use crate::routing::{FanOutMethod, SingleMethod};

/// `mcp_requests_total{method, backend, tool, outcome}`.
pub const REQUESTS_TOTAL: MetricId = MetricId(0);
/// `mcp_request_duration_ms{method, backend}`.
pub const REQUEST_DURATION_MS: MetricId = MetricId(1);

/// `mcp_fanout_failures_total{method, backend}`: a backend failed during a fan-out (recorded
/// only on failure, so it costs nothing on the happy path).
pub const FANOUT_FAILURES_TOTAL: MetricId = MetricId(2);
/// `mcp_sessions_total{event, reason}`: `created`/`none`, `resumed`/`none` (a valid token first
/// seen by this process: issued by another replica or before a restart), `rejected`/<why the
/// token failed>,
/// `upstream_reinitialized`/<backend>, `upstream_bridged`/<backend> (a session opened for a
/// sessionless 2026-07-28 client).
pub const SESSIONS_TOTAL: MetricId = MetricId(3);
/// `mcp_stream_events_total{backend, event}`: events a backend streamed to a client (routed
/// SSE answers and GET streams), by kind: `request` (server→client), `notification`,
/// `response`, `other`.
pub const STREAM_EVENTS_TOTAL: MetricId = MetricId(4);
/// `mcp_server_request_rtt_ms{backend}`: from relaying a backend's server→client request to the
/// client's answer (measured by whichever replica receives the answer).
pub const SERVER_REQUEST_RTT_MS: MetricId = MetricId(5);

/// Every metric of the filter, indexed by the ids above.
pub static METRICS: [MetricDef; 6] = [
    MetricDef {
        name: "mcp_requests_total",
        kind: MetricKind::Counter,
        tag_keys: &["method", "backend", "tool", "outcome"],
    },
    MetricDef {
        name: "mcp_request_duration_ms",
        kind: MetricKind::Histogram,
        tag_keys: &["method", "backend"],
    },
    MetricDef {
        name: "mcp_fanout_failures_total",
        kind: MetricKind::Counter,
        tag_keys: &["method", "backend"],
    },
    MetricDef {
        name: "mcp_sessions_total",
        kind: MetricKind::Counter,
        tag_keys: &["event", "reason"],
    },
    MetricDef {
        name: "mcp_stream_events_total",
        kind: MetricKind::Counter,
        tag_keys: &["backend", "event"],
    },
    MetricDef {
        name: "mcp_server_request_rtt_ms",
        kind: MetricKind::Histogram,
        tag_keys: &["backend"],
    },
];

/// `backend` tag of a request no backend served (answered by the gateway itself).
pub const NO_BACKEND: &str = "none";
/// `tool` tag of a request that names no tool (anything but `tools/call`).
pub const NO_TOOL: &str = "none";
/// `method` tag of a body that is not a readable JSON-RPC message.
pub const INVALID: &str = "invalid";
/// `method` tag of a request refused before its body was read (Origin, size, HTTP method).
pub const UNREAD: &str = "unread";
/// `outcome` tag of a tool call the gateway answered itself (an OpenAPI backend's) with
/// `isError: true`: the API said no, timed out or the arguments could not make a request.
pub const TOOL_ERROR: &str = "tool_error";
/// `method` tag of a client's answer to a server→client request.
pub const CLIENT_RESPONSE: &str = "response";
/// `method` tag of a session-based client's GET stream.
pub const LISTEN: &str = "listen";

/// The `method` tag: an MCP method the gateway knows, else `other`.
pub fn method_tag(method: &str) -> &'static str {
    if let Some(single) = SingleMethod::from_method(method) {
        return single.as_str();
    }
    if let Some(fan_out) = FanOutMethod::for_request(method) {
        return fan_out.as_str();
    }
    CLIENT_NOTIFICATIONS
        .iter()
        .find(|known| **known == method)
        .copied()
        .unwrap_or(ai_gateway_core::metrics::OTHER)
}

/// Client notifications with their own `method` tag.
const CLIENT_NOTIFICATIONS: [&str; 4] = [
    "notifications/initialized",
    "notifications/cancelled",
    "notifications/progress",
    "notifications/roots/list_changed",
];

/// The `outcome` tag: the JSON-RPC error code the gateway answered (known codes only), else
/// the HTTP status class, else `reset` (no response status seen).
pub fn outcome(status: Option<u16>, jsonrpc_error: Option<i64>) -> &'static str {
    if let Some(code) = jsonrpc_error {
        return match code {
            jsonrpc::PARSE_ERROR => "jsonrpc_-32700",
            jsonrpc::INVALID_REQUEST => "jsonrpc_-32600",
            jsonrpc::METHOD_NOT_FOUND => "jsonrpc_-32601",
            jsonrpc::INVALID_PARAMS => "jsonrpc_-32602",
            jsonrpc::INTERNAL_ERROR => "jsonrpc_-32603",
            crate::routing::HEADER_MISMATCH => "jsonrpc_-32020",
            crate::routing::headers::UNSUPPORTED_PROTOCOL_VERSION => "jsonrpc_-32022",
            _ => "jsonrpc_other",
        };
    }
    match status {
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(413) => "413",
        Some(403) => "403",
        Some(405) => "405",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) | None => "reset",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_ids_index_their_definitions() {
        assert_eq!(METRICS[REQUESTS_TOTAL.0].name, "mcp_requests_total");
        assert_eq!(
            METRICS[REQUEST_DURATION_MS.0].name,
            "mcp_request_duration_ms"
        );
        assert_eq!(
            METRICS[FANOUT_FAILURES_TOTAL.0].name,
            "mcp_fanout_failures_total"
        );
        assert_eq!(METRICS[SESSIONS_TOTAL.0].name, "mcp_sessions_total");
        assert_eq!(
            METRICS[STREAM_EVENTS_TOTAL.0].name,
            "mcp_stream_events_total"
        );
        assert_eq!(
            METRICS[SERVER_REQUEST_RTT_MS.0].name,
            "mcp_server_request_rtt_ms"
        );
    }

    #[test]
    fn method_tags_are_bounded_to_known_methods() {
        assert_eq!(method_tag("tools/call"), "tools/call");
        assert_eq!(method_tag("tools/list"), "tools/list");
        assert_eq!(
            method_tag("notifications/initialized"),
            "notifications/initialized"
        );
        assert_eq!(method_tag("x/random-123"), "other");
        assert_eq!(method_tag(""), "other");
    }

    #[test]
    fn outcomes_follow_json_rpc_codes_then_status() {
        let cases: &[(Option<u16>, Option<i64>, &str)] = &[
            (Some(200), None, "2xx"),
            (Some(202), None, "2xx"),
            (Some(403), None, "403"),
            (Some(413), None, "413"),
            (Some(404), None, "4xx"),
            (Some(503), None, "5xx"),
            (None, None, "reset"),
            (Some(200), Some(-32602), "jsonrpc_-32602"),
            (Some(400), Some(-32700), "jsonrpc_-32700"),
            (Some(400), Some(-32020), "jsonrpc_-32020"),
            (Some(400), Some(-32022), "jsonrpc_-32022"),
            (Some(200), Some(12345), "jsonrpc_other"),
        ];
        for (status, code, expected) in cases {
            assert_eq!(outcome(*status, *code), *expected, "{status:?} {code:?}");
        }
    }
}
