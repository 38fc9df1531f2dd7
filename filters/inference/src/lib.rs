//! Inference routing for the Gateway API Inference Extension: Envoy's stock `ext_proc` filter
//! asks the endpoint picker (EPP) where each request goes; this filter, run twice around it,
//! keeps clients from choosing a pod (`guard` stage, before ext_proc), and validates the EPP's
//! pick against the pool, hands it to Envoy's final hop, applies the pool's failure mode and
//! reports the served endpoint (`route` stage, after ext_proc).
//!
//! Envoy 1.40 facts this relies on (each checked by test-harness/tests/inference.rs):
//! - ext_proc drops the EPP's `envoy.lb` metadata unless `metadata_options` lists the namespace.
//! - `override_host` takes the first listed address that is in its cluster, walks the list on
//!   retries, and silently balances elsewhere when none is: FailClose is this filter's job.
//! - `ORIGINAL_DST` with `use_http_header` connects to any one address: the pool check is the
//!   only guard there.
//! - ext_proc in `FULL_DUPLEX_STREAMED` cannot fail open once body bytes went to the EPP (the
//!   client gets ext_proc's `status_on_error`); FailOpen pools need `BUFFERED`.
//!
//! Flavour limits: Wasm cannot write dynamic metadata, so there the served endpoint leaves the
//! filter as the response header `x-gateway-destination-endpoint-served`, which Envoy's stock
//! header_to_metadata filter turns into `envoy.lb` metadata before ext_proc forwards it
//! (envoy/inference-filter-served-metadata.yaml; the guard removes the header before the
//! client). Wasm cannot set the upstream override host (`finalHop: hostOverride` answers 500).

use std::sync::Arc;

use ai_gateway_core::{ConfigError, FilterFactory, HttpFilter, MetricDef};

mod cidr;
mod config;
mod endpoint;
mod guard;
mod headers;
mod metrics;
mod picker;
mod pool;
mod request_body;
mod route;
mod usage;

pub use config::{FailureMode, FinalHop, GuardSettings, RouteSettings, Settings};
pub use guard::GuardFilter;
pub use route::RouteFilter;

/// Parses the filter's JSON configuration into a factory for its stage.
pub fn factory(config: &str) -> Result<Arc<dyn FilterFactory>, ConfigError> {
    Ok(Arc::new(match Settings::from_json(config)? {
        Settings::Guard(settings) => InferenceFactory::Guard(Arc::new(settings)),
        Settings::Route(settings) => InferenceFactory::Route(Arc::new(settings)),
    }))
}

/// Creates one stage filter per stream over the shared settings.
enum InferenceFactory {
    Guard(Arc<GuardSettings>),
    Route(Arc<RouteSettings>),
}

impl FilterFactory for InferenceFactory {
    fn metrics(&self) -> &'static [MetricDef] {
        &metrics::METRICS
    }

    fn new_filter(&self) -> Box<dyn HttpFilter> {
        match self {
            InferenceFactory::Guard(settings) => Box::new(GuardFilter::new(settings.clone())),
            InferenceFactory::Route(settings) => Box::new(RouteFilter::new(settings.clone())),
        }
    }
}

#[cfg(test)]
mod fuzz_endpoint;
#[cfg(test)]
mod fuzz_usage;
#[cfg(test)]
mod route_tests;
