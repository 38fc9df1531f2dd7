//! `empty` (catalog feature `diagnostic-filters`, never in release builds): a filter that does
//! nothing. `scripts/bench` loads it to measure what Envoy's Wasm and dynamic-module machinery
//! (and our adapters) cost before any filter logic runs.

use std::sync::Arc;

use ai_gateway_core::{ConfigError, FilterFactory, HttpFilter, MetricDef};

struct EmptyFactory;

struct EmptyFilter;

impl HttpFilter for EmptyFilter {}

impl FilterFactory for EmptyFactory {
    fn metrics(&self) -> &'static [MetricDef] {
        &[]
    }

    fn new_filter(&self) -> Box<dyn HttpFilter> {
        Box::new(EmptyFilter)
    }
}

/// The empty filter accepts only an empty configuration.
pub fn factory(config: &str) -> Result<Arc<dyn FilterFactory>, ConfigError> {
    ai_gateway_core::parse_config::<EmptyConfig>(config)?;
    Ok(Arc::new(EmptyFactory))
}

/// No fields: anything else is a mistake worth refusing.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EmptyConfig {}
