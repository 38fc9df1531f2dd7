//! Per-config state: the filter's factory plus the metrics it records.
//! Built once on Envoy's main thread, then shared by every worker.

use std::sync::Arc;

use ai_gateway_core::FilterFactory;

use crate::metrics::Metrics;
use crate::ticker::Ticker;

/// Everything a stream needs from its configuration. `Send + Sync`: the factory and the
/// metrics are.
pub struct FilterConfig {
    /// The filter name from `filter_name`, for log lines.
    pub filter_name: String,
    pub factory: Arc<dyn FilterFactory>,
    pub metrics: Metrics,
    /// The factory's background tick, when it asks for one (stopped with the config).
    pub ticker: Option<Ticker>,
}

// Envoy shares a config across worker threads.
const _: fn() = || {
    fn shared_across_threads<T: Send + Sync>() {}
    shared_across_threads::<FilterConfig>();
};
