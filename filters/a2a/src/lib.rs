//! A2A filter: rewrites agent cards so every interface URL points at the gateway, and
//! observes A2A methods (JSON-RPC and HTTP+JSON bindings, v1.0 and v0.3) in metrics.

use std::sync::Arc;

use ai_gateway_core::{ConfigError, FilterFactory, HttpFilter, MetricDef};

mod card_rewrite;
mod config;
mod filter;
mod inspect;
mod methods;
mod metrics;
mod url;

#[cfg(test)]
mod fuzz_card_rewrite;
#[cfg(test)]
mod fuzz_methods;

pub use config::{Settings, SignedCards};
pub use filter::A2aFilter;

/// Parses the filter's JSON configuration into a factory.
pub fn factory(config: &str) -> Result<Arc<dyn FilterFactory>, ConfigError> {
    Ok(Arc::new(A2aFactory {
        settings: Arc::new(Settings::from_json(config)?),
    }))
}

/// Creates one [`A2aFilter`] per stream over the shared settings.
struct A2aFactory {
    settings: Arc<Settings>,
}

impl FilterFactory for A2aFactory {
    fn metrics(&self) -> &'static [MetricDef] {
        &metrics::METRICS
    }

    fn new_filter(&self) -> Box<dyn HttpFilter> {
        Box::new(A2aFilter::new(self.settings.clone()))
    }
}
