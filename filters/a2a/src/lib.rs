//! A2A filter: rewrites agent cards to point at the gateway and observes JSON-RPC methods.

use std::sync::Arc;

use ai_gateway_core::{ConfigError, FilterFactory};

/// Parses the filter's JSON configuration into a factory.
pub fn factory(_config: &str) -> Result<Arc<dyn FilterFactory>, ConfigError> {
    Err(ConfigError::invalid("", "not built yet"))
}
