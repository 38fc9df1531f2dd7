//! MCP gateway filter (issue 4): one MCP endpoint on Envoy fronting many MCP servers. Built in
//! slices: configuration, sealed session tokens, naming and request classification are pure
//! modules; [`filter`] wires them to the host (single-target routing, fan-out, sessions).
//! A backend may also be a REST API described by an OpenAPI document (issue 7): [`openapi`]
//! turns its operations into tools and tool calls into HTTP requests.

use std::sync::Arc;

use ai_gateway_core::{ConfigError, FilterFactory, HttpFilter, MetricDef};

pub mod bridged;
pub mod config;
pub mod cursor;
pub mod event_rewrite;
pub mod filter;
pub mod input_state;
pub mod listen_events;
pub mod listing_cache;
pub mod merge;
pub mod metrics;
pub mod naming;
pub mod openapi;
pub mod opened;
pub mod recovered;
pub mod relay_ids;
pub mod routing;
pub mod session_token;

use config::Settings;
use filter::McpFilter;
use listing_cache::ListingCache;
use recovered::RecoveredSessions;

/// Parses the filter's JSON configuration into a factory.
pub fn factory(config: &str) -> Result<Arc<dyn FilterFactory>, ConfigError> {
    Ok(Arc::new(McpFactory {
        settings: Arc::new(Settings::from_json(config)?),
        // Tool names become tags only once backends have listed them (a client cannot grow
        // the stat set).
        cache: Arc::new(ListingCache::default()),
        recovered: Arc::new(RecoveredSessions::default()),
    }))
}

/// Creates one [`McpFilter`] per stream over the shared settings.
struct McpFactory {
    settings: Arc<Settings>,
    cache: Arc<ListingCache>,
    recovered: Arc<RecoveredSessions>,
}

impl FilterFactory for McpFactory {
    fn metrics(&self) -> &'static [MetricDef] {
        &metrics::METRICS
    }

    fn new_filter(&self) -> Box<dyn HttpFilter> {
        Box::new(McpFilter::new(
            Arc::clone(&self.settings),
            Arc::clone(&self.cache),
            Arc::clone(&self.recovered),
        ))
    }
}
