//! The filter's metrics and the `outcome` tag.

use ai_gateway_core::{MetricDef, MetricId, MetricKind};

/// `llm_requests_total{provider, model, client_api, outcome}`.
pub const REQUESTS_TOTAL: MetricId = MetricId(0);
/// `llm_request_duration_ms{provider, client_api}`.
pub const REQUEST_DURATION_MS: MetricId = MetricId(1);
/// `llm_tokens_total{provider, model, type}` (`type`: `input`, `output`).
pub const TOKENS_TOTAL: MetricId = MetricId(2);
/// `llm_time_to_first_token_ms{provider, client_api}`: streamed responses, request start to the
/// first bytes sent on to the client.
pub const TIME_TO_FIRST_TOKEN_MS: MetricId = MetricId(3);

/// Every metric of the filter, indexed by the ids above.
pub static METRICS: [MetricDef; 4] = [
    MetricDef {
        name: "llm_requests_total",
        kind: MetricKind::Counter,
        tag_keys: &["provider", "model", "client_api", "outcome"],
    },
    MetricDef {
        name: "llm_request_duration_ms",
        kind: MetricKind::Histogram,
        tag_keys: &["provider", "client_api"],
    },
    MetricDef {
        name: "llm_tokens_total",
        kind: MetricKind::Counter,
        tag_keys: &["provider", "model", "type"],
    },
    MetricDef {
        name: "llm_time_to_first_token_ms",
        kind: MetricKind::Histogram,
        tag_keys: &["provider", "client_api"],
    },
];

/// Tag value when no provider or model was chosen (the request was refused first).
pub const NONE: &str = "none";

/// The `outcome` tag: the client's HTTP status class, `stream_error` when a stream the client
/// got ended with an error event, `reset` when no response came.
pub fn outcome(status: Option<u16>, stream_failed: bool) -> &'static str {
    if stream_failed {
        return "stream_error";
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes() {
        let cases = [
            (Some(200), false, "2xx"),
            (Some(429), false, "4xx"),
            (Some(503), false, "5xx"),
            (Some(200), true, "stream_error"),
            (None, false, "reset"),
        ];
        for (status, failed, want) in cases {
            assert_eq!(outcome(status, failed), want);
        }
    }

    #[test]
    fn metric_ids_index_their_definitions() {
        assert_eq!(METRICS[REQUESTS_TOTAL.0].name, "llm_requests_total");
        assert_eq!(
            METRICS[REQUEST_DURATION_MS.0].name,
            "llm_request_duration_ms"
        );
        assert_eq!(METRICS[TOKENS_TOTAL.0].name, "llm_tokens_total");
        assert_eq!(
            METRICS[TIME_TO_FIRST_TOKEN_MS.0].name,
            "llm_time_to_first_token_ms"
        );
    }
}
