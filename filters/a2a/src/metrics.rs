//! The filter's metrics (names and tags are a cross-helper contract: see notes/contracts.md)
//! and the `outcome` tag.

use ai_gateway_core::jsonrpc;
use ai_gateway_core::{MetricDef, MetricId, MetricKind};

/// `a2a_requests_total{agent, method, outcome}`.
pub const REQUESTS_TOTAL: MetricId = MetricId(0);
/// `a2a_request_duration_ms{agent, method}`.
pub const REQUEST_DURATION_MS: MetricId = MetricId(1);
/// `a2a_cards_total{agent, result}`.
pub const CARDS_TOTAL: MetricId = MetricId(2);

/// Every metric of the filter, indexed by the ids above.
pub static METRICS: [MetricDef; 3] = [
    MetricDef {
        name: "a2a_requests_total",
        kind: MetricKind::Counter,
        tag_keys: &["agent", "method", "outcome"],
    },
    MetricDef {
        name: "a2a_request_duration_ms",
        kind: MetricKind::Histogram,
        tag_keys: &["agent", "method"],
    },
    MetricDef {
        name: "a2a_cards_total",
        kind: MetricKind::Counter,
        tag_keys: &["agent", "result"],
    },
];

/// The `outcome` tag: a JSON-RPC error code when the response carried one (known codes only,
/// so a misbehaving agent cannot grow the stat set), else the HTTP status class, else `reset`.
pub fn outcome(status: Option<u16>, jsonrpc_error: Option<i64>) -> &'static str {
    if let Some(code) = jsonrpc_error {
        return jsonrpc_outcome(code);
    }
    match status {
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) | None => "reset",
    }
}

fn jsonrpc_outcome(code: i64) -> &'static str {
    match code {
        jsonrpc::PARSE_ERROR => "jsonrpc_-32700",
        jsonrpc::INVALID_REQUEST => "jsonrpc_-32600",
        jsonrpc::METHOD_NOT_FOUND => "jsonrpc_-32601",
        jsonrpc::INVALID_PARAMS => "jsonrpc_-32602",
        jsonrpc::INTERNAL_ERROR => "jsonrpc_-32603",
        -32001 => "jsonrpc_-32001",
        -32002 => "jsonrpc_-32002",
        -32003 => "jsonrpc_-32003",
        -32004 => "jsonrpc_-32004",
        -32005 => "jsonrpc_-32005",
        -32006 => "jsonrpc_-32006",
        -32007 => "jsonrpc_-32007",
        -32008 => "jsonrpc_-32008",
        -32009 => "jsonrpc_-32009",
        _ => "jsonrpc_other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_follow_status_class_and_json_rpc_codes() {
        let cases: &[(Option<u16>, Option<i64>, &str)] = &[
            (Some(200), None, "2xx"),
            (Some(204), None, "2xx"),
            (Some(302), None, "3xx"),
            (Some(404), None, "4xx"),
            (Some(503), None, "5xx"),
            (None, None, "reset"),
            (Some(200), Some(-32601), "jsonrpc_-32601"),
            (Some(200), Some(-32700), "jsonrpc_-32700"),
            (Some(500), Some(-32603), "jsonrpc_-32603"),
            (Some(200), Some(-32001), "jsonrpc_-32001"),
            (Some(200), Some(-32009), "jsonrpc_-32009"),
            (Some(200), Some(-32099), "jsonrpc_other"),
            (Some(200), Some(12345), "jsonrpc_other"),
        ];
        for (status, code, expected) in cases {
            assert_eq!(outcome(*status, *code), *expected, "{status:?} {code:?}");
        }
    }

    /// A2A-specific JSON-RPC error codes (TaskNotFound … VersionNotSupported).
    const A2A_ERROR_CODES: [i64; 9] = [
        -32001, -32002, -32003, -32004, -32005, -32006, -32007, -32008, -32009,
    ];

    #[test]
    fn every_a2a_code_has_its_own_outcome() {
        for code in A2A_ERROR_CODES {
            assert_eq!(outcome(Some(200), Some(code)), format!("jsonrpc_{code}"));
        }
    }

    #[test]
    fn metric_ids_index_their_definitions() {
        assert_eq!(METRICS[REQUESTS_TOTAL.0].name, "a2a_requests_total");
        assert_eq!(
            METRICS[REQUEST_DURATION_MS.0].name,
            "a2a_request_duration_ms"
        );
        assert_eq!(METRICS[CARDS_TOTAL.0].name, "a2a_cards_total");
    }
}
