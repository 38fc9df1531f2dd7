//! LLM filter: clients speaking the OpenAI Chat Completions API or the Anthropic Messages API
//! reach any configured provider. Requests, responses, streams and errors are translated
//! between the two APIs by pure functions ([`translate`], [`stream`]); the filter routes by
//! model alias, sets credentials and the upstream cluster.

use std::sync::Arc;

use ai_gateway_core::{ConfigError, FilterFactory, HttpFilter, MetricDef};

pub mod accounting;
pub mod anthropic;
pub mod bedrock;
mod config;
mod filter;
mod metrics;
mod models;
pub mod openai;
mod plan;
pub mod stream;
pub mod translate;

pub use config::{Provider, ProviderKind, Settings};
pub use filter::{LlmFilter, CLUSTER_HEADER, METADATA_NAMESPACE};

/// Parses the filter's JSON configuration into a factory.
pub fn factory(config: &str) -> Result<Arc<dyn FilterFactory>, ConfigError> {
    Ok(Arc::new(LlmFactory {
        settings: Arc::new(Settings::from_json(config)?),
    }))
}

/// Creates one [`LlmFilter`] per stream over the shared settings.
struct LlmFactory {
    settings: Arc<Settings>,
}

impl FilterFactory for LlmFactory {
    fn metrics(&self) -> &'static [MetricDef] {
        &metrics::METRICS
    }

    fn new_filter(&self) -> Box<dyn HttpFilter> {
        Box::new(LlmFilter::new(self.settings.clone()))
    }
}
