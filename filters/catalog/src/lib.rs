//! The filters every adapter serves, selected by name: one place to add a filter.

use std::sync::Arc;

use ai_gateway_core::{ConfigError, FilterFactory};

// Diagnostic filters (`empty` for scripts/bench's floor, `host-probe` for the adapter
// conformance suite): never in release builds.
#[cfg(feature = "diagnostic-filters")]
mod empty;
#[cfg(feature = "diagnostic-filters")]
mod host_probe;

/// Names of the built-in filters.
pub const FILTER_NAMES: &[&str] = &["a2a", "authz", "inference", "llm", "mcp"];

/// Builds the factory for the named filter from its JSON configuration.
pub fn build(name: &str, config: &str) -> Result<Arc<dyn FilterFactory>, ConfigError> {
    match name {
        "a2a" => ai_gateway_a2a::factory(config),
        "authz" => ai_gateway_auth::factory(config),
        "inference" => ai_gateway_inference::factory(config),
        "llm" => ai_gateway_llm::factory(config),
        "mcp" => ai_gateway_mcp::factory(config),
        #[cfg(feature = "diagnostic-filters")]
        "empty" => empty::factory(config),
        #[cfg(feature = "diagnostic-filters")]
        "host-probe" => host_probe::factory(config),
        other => Err(ConfigError::UnknownFilter(
            other.to_string(),
            FILTER_NAMES.join(", "),
        )),
    }
}
