//! The authz filter's metrics.

use ai_gateway_core::{MetricDef, MetricId, MetricKind};

/// `authz_authn_total{outcome}`: `ok` or the refusal reason ([`crate::AuthnFailure::reason`],
/// plus `missing` and `anonymous`).
pub const AUTHN_TOTAL: MetricId = MetricId(0);
/// `authz_jwks_fetches_total{result, reason}`: reason `initial`/`interval`/`unknown_kid`,
/// result `ok`/`failed`.
pub const JWKS_FETCHES_TOTAL: MetricId = MetricId(1);
/// `authz_decisions_total{policy, outcome}`: per applicable rule, `allow`/`deny`/`error`.
pub const DECISIONS_TOTAL: MetricId = MetricId(2);

/// Every metric of the filter, indexed by the ids above.
pub static METRICS: [MetricDef; 3] = [
    MetricDef {
        name: "authz_authn_total",
        kind: MetricKind::Counter,
        tag_keys: &["outcome"],
    },
    MetricDef {
        name: "authz_jwks_fetches_total",
        kind: MetricKind::Counter,
        tag_keys: &["result", "reason"],
    },
    MetricDef {
        name: "authz_decisions_total",
        kind: MetricKind::Counter,
        tag_keys: &["policy", "outcome"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_ids_index_their_definitions() {
        assert_eq!(METRICS[AUTHN_TOTAL.0].name, "authz_authn_total");
        assert_eq!(
            METRICS[JWKS_FETCHES_TOTAL.0].name,
            "authz_jwks_fetches_total"
        );
        assert_eq!(METRICS[DECISIONS_TOTAL.0].name, "authz_decisions_total");
    }
}
