//! The filter's metrics and the `outcome` tag.

use ai_gateway_core::{MetricDef, MetricId, MetricKind};

/// `llm_requests_total{provider, model, client_api, outcome}`.
pub const REQUESTS_TOTAL: MetricId = MetricId(0);
/// `llm_request_duration_ms{provider, client_api}`.
pub const REQUEST_DURATION_MS: MetricId = MetricId(1);
/// `llm_tokens_total{provider, model, type}` (`type`: `input`, `output`, and the parts of
/// those read from the prompt cache, `cached`, or spent reasoning, `reasoning`): exact counts
/// (the gen_ai histograms' sums are approximate, as Envoy's histograms are).
pub const TOKENS_TOTAL: MetricId = MetricId(2);
/// `llm_time_to_first_token_ms{provider, client_api}`: streamed responses, request start to the
/// first bytes sent on to the client.
pub const TIME_TO_FIRST_TOKEN_MS: MetricId = MetricId(3);

/// `gen_ai_client_token_usage{operation, provider, request_model, response_model, token_type}`
/// (OpenTelemetry `gen_ai.client.token.usage`): one sample per answer and token type
/// (`input`, `output`, `cached`, `reasoning`).
pub const GEN_AI_TOKEN_USAGE: MetricId = MetricId(4);
/// `gen_ai_client_operation_duration_ms{operation, provider, request_model, response_model,
/// error_type}` (`gen_ai.client.operation.duration`, in milliseconds).
pub const GEN_AI_OPERATION_DURATION_MS: MetricId = MetricId(5);
/// `gen_ai_server_time_to_first_token_ms{operation, provider, request_model, response_model}`.
pub const GEN_AI_TIME_TO_FIRST_TOKEN_MS: MetricId = MetricId(6);
/// `gen_ai_server_time_per_output_token_ms{operation, provider, request_model, response_model}`:
/// after the first token, per further output token.
pub const GEN_AI_TIME_PER_OUTPUT_TOKEN_MS: MetricId = MetricId(7);
/// `llm_budget_refusals_total{provider, model, type}` (`type`: the limit: input, output, total).
pub const BUDGET_REFUSALS_TOTAL: MetricId = MetricId(8);

/// Tag keys shared by the gen_ai metrics, in the order of envoy/wasm-stats-tags.yaml's rules.
const GEN_AI_TAGS: [&str; 4] = ["operation", "provider", "request_model", "response_model"];

/// Every metric of the filter, indexed by the ids above.
pub static METRICS: [MetricDef; 9] = [
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
    MetricDef {
        name: "gen_ai_client_token_usage",
        kind: MetricKind::Histogram,
        tag_keys: &[
            GEN_AI_TAGS[0],
            GEN_AI_TAGS[1],
            GEN_AI_TAGS[2],
            GEN_AI_TAGS[3],
            "token_type",
        ],
    },
    MetricDef {
        name: "gen_ai_client_operation_duration_ms",
        kind: MetricKind::Histogram,
        tag_keys: &[
            GEN_AI_TAGS[0],
            GEN_AI_TAGS[1],
            GEN_AI_TAGS[2],
            GEN_AI_TAGS[3],
            "error_type",
        ],
    },
    MetricDef {
        name: "gen_ai_server_time_to_first_token_ms",
        kind: MetricKind::Histogram,
        tag_keys: &GEN_AI_TAGS,
    },
    MetricDef {
        name: "gen_ai_server_time_per_output_token_ms",
        kind: MetricKind::Histogram,
        tag_keys: &GEN_AI_TAGS,
    },
    MetricDef {
        name: "llm_budget_refusals_total",
        kind: MetricKind::Counter,
        tag_keys: &["provider", "model", "type"],
    },
];

/// The gen_ai `error_type` tag: `none` on success, else the client's HTTP
/// status code, `stream_error` or `reset` (bounded: status codes are three digits).
pub fn error_type(status: Option<u16>, stream_failed: bool) -> String {
    if stream_failed {
        return "stream_error".to_string();
    }
    match status {
        Some(200..=299) => "none".to_string(),
        Some(code @ 100..=599) => code.to_string(),
        Some(_) | None => "reset".to_string(),
    }
}

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
        assert_eq!(
            METRICS[GEN_AI_TOKEN_USAGE.0].name,
            "gen_ai_client_token_usage"
        );
        assert_eq!(
            METRICS[GEN_AI_OPERATION_DURATION_MS.0].name,
            "gen_ai_client_operation_duration_ms"
        );
        assert_eq!(
            METRICS[GEN_AI_TIME_TO_FIRST_TOKEN_MS.0].name,
            "gen_ai_server_time_to_first_token_ms"
        );
        assert_eq!(
            METRICS[GEN_AI_TIME_PER_OUTPUT_TOKEN_MS.0].name,
            "gen_ai_server_time_per_output_token_ms"
        );
        assert_eq!(
            METRICS[BUDGET_REFUSALS_TOTAL.0].name,
            "llm_budget_refusals_total"
        );
    }

    #[test]
    fn error_types() {
        assert_eq!(error_type(Some(200), false), "none");
        assert_eq!(error_type(Some(429), false), "429");
        assert_eq!(error_type(Some(200), true), "stream_error");
        assert_eq!(error_type(None, false), "reset");
    }
}
