//! The filter's metrics. `pool` is a configured name; `endpoint` is a configured pool member
//! (tag-safe form, see [`crate::config::endpoint_tag`]) or `other`, so the stat set is bounded.

use ai_gateway_core::{MetricDef, MetricId, MetricKind};

/// `inference_requests_total{pool, endpoint, outcome}`: routed requests by HTTP status class.
pub const REQUESTS_TOTAL: MetricId = MetricId(0);
/// `inference_request_duration_ms{pool, endpoint}`: from request headers to stream end.
pub const REQUEST_DURATION_MS: MetricId = MetricId(1);
/// `inference_tokens_total{pool, endpoint, type}`: `prompt` and `completion` tokens from usage.
pub const TOKENS_TOTAL: MetricId = MetricId(2);
/// `inference_decisions_total{pool, reason}`: how each request's endpoint was chosen or refused.
pub const DECISIONS_TOTAL: MetricId = MetricId(3);
/// `inference_forged_headers_total`: client requests carrying a routing header (stripped).
pub const FORGED_HEADERS_TOTAL: MetricId = MetricId(4);
/// `inference_epp_timeouts_total`: requests the guard answered 503 because the EPP exchange
/// outlasted `eppTimeoutMs` (no pool tag: the guard runs before the pool is known).
pub const EPP_TIMEOUTS_TOTAL: MetricId = MetricId(5);

/// Every metric of the filter, indexed by the ids above.
pub static METRICS: [MetricDef; 6] = [
    MetricDef {
        name: "inference_requests_total",
        kind: MetricKind::Counter,
        tag_keys: &["pool", "endpoint", "outcome"],
    },
    MetricDef {
        name: "inference_request_duration_ms",
        kind: MetricKind::Histogram,
        tag_keys: &["pool", "endpoint"],
    },
    MetricDef {
        name: "inference_tokens_total",
        kind: MetricKind::Counter,
        tag_keys: &["pool", "endpoint", "type"],
    },
    MetricDef {
        name: "inference_decisions_total",
        kind: MetricKind::Counter,
        tag_keys: &["pool", "reason"],
    },
    MetricDef {
        name: "inference_forged_headers_total",
        kind: MetricKind::Counter,
        tag_keys: &[],
    },
    MetricDef {
        name: "inference_epp_timeouts_total",
        kind: MetricKind::Counter,
        tag_keys: &[],
    },
];

/// The `reason` tag of [`DECISIONS_TOTAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The EPP's first candidate was used.
    Epp,
    /// A later candidate of the EPP's list was used (earlier ones refused or malformed).
    EppFallback,
    /// A candidate outside the pool (address range or port) was refused.
    OutsidePool,
    /// The EPP named nothing usable; FailOpen: the filter's picker chose.
    FailOpen,
    /// The EPP named nothing usable; FailClose: answered 503.
    FailClose,
}

impl Reason {
    /// The tag value.
    pub fn tag(self) -> &'static str {
        match self {
            Reason::Epp => "epp",
            Reason::EppFallback => "epp_fallback",
            Reason::OutsidePool => "outside_pool",
            Reason::FailOpen => "fail_open",
            Reason::FailClose => "fail_close",
        }
    }
}

/// The `outcome` tag: HTTP status class, or `reset` without a status.
pub fn outcome(status: Option<u16>) -> &'static str {
    match status {
        Some(100..=199) => "1xx",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        _ => "reset",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_ids_index_their_definitions() {
        assert_eq!(METRICS[REQUESTS_TOTAL.0].name, "inference_requests_total");
        assert_eq!(
            METRICS[REQUEST_DURATION_MS.0].name,
            "inference_request_duration_ms"
        );
        assert_eq!(METRICS[TOKENS_TOTAL.0].name, "inference_tokens_total");
        assert_eq!(METRICS[DECISIONS_TOTAL.0].name, "inference_decisions_total");
        assert_eq!(
            METRICS[FORGED_HEADERS_TOTAL.0].name,
            "inference_forged_headers_total"
        );
        assert_eq!(
            METRICS[EPP_TIMEOUTS_TOTAL.0].name,
            "inference_epp_timeouts_total"
        );
    }

    #[test]
    fn outcomes_are_status_classes() {
        let cases = [
            (Some(200), "2xx"),
            (Some(429), "4xx"),
            (Some(503), "5xx"),
            (Some(101), "1xx"),
            (None, "reset"),
        ];
        for (status, want) in cases {
            assert_eq!(outcome(status), want);
        }
    }
}
