//! Metric declarations and bounded tag values.
//!
//! Envoy never frees a stat, so any tag value that comes from a client (agent, method,
//! tool or model name) must pass through a [`TagLimiter`] before it reaches a metric.

use std::collections::HashSet;

/// Counter, gauge or histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

/// A metric a filter records: its name, kind and tag keys. Adapters turn tags into native
/// labels (dynamic module) or encode them in the stat name for Envoy's tag extraction (Wasm).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    /// Stat name without tags, e.g. `a2a_requests_total`.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Tag keys, in the order tag values are passed to the host.
    pub tag_keys: &'static [&'static str],
}

/// Index of a metric in its factory's [`crate::FilterFactory::metrics`] slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetricId(pub usize);

/// The tag value recorded for anything outside the allowed set.
pub const OTHER: &str = "other";

/// Maps client-supplied tag values onto a fixed set: allowed values pass, everything else
/// becomes [`OTHER`]. Built once per config; lookups allocate nothing.
#[derive(Debug, Clone, Default)]
pub struct TagLimiter {
    allowed: HashSet<String>,
}

impl TagLimiter {
    /// A limiter accepting exactly these values.
    pub fn new<I, S>(allowed: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        TagLimiter {
            allowed: allowed.into_iter().map(Into::into).collect(),
        }
    }

    /// The value itself when allowed, otherwise [`OTHER`].
    pub fn limit<'a>(&'a self, value: &str) -> &'a str {
        match self.allowed.get(value) {
            Some(v) => v.as_str(),
            None => OTHER,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_pass_and_others_collapse() {
        let limiter = TagLimiter::new(["SendMessage", "GetTask"]);
        assert_eq!(limiter.limit("SendMessage"), "SendMessage");
        assert_eq!(limiter.limit("GetTask"), "GetTask");
        assert_eq!(limiter.limit("x-random-1234"), OTHER);
        assert_eq!(limiter.limit(""), OTHER);
    }
}
