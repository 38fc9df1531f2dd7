//! Real-Envoy test harness: renders bootstraps from `envoy/` for either flavour of the gateway's
//! filters, runs Envoy, Python and Node children owned by the test, and serves fake upstreams in-process.

pub mod auth;
mod bootstrap;
mod child;
mod cors;
pub mod demo;
mod envoy;
mod error;
mod fake_upstream;
mod faulty_upstream;
mod flavour;
pub mod inference;
mod inspector;
pub mod jsonrpc;
pub mod llm_fake;
mod mcp_backend;
mod node;
pub mod paths;
mod prometheus;
mod python;
mod ratelimit_fake;
mod rest_api;
mod template;

pub use bootstrap::{
    a2a_config, mcp_config, AgentRoute, Bootstrap, FilterEntry, LlmProviderRoute, McpBackendRoute,
    PresetMetadata, TlsClusterRoute, LLM_PATH_PREFIX, LLM_RATELIMIT_CLUSTER, MCP_ENDPOINT_PATH,
};
pub use child::OwnedChild;
pub use envoy::{Envoy, DYNAMIC_MODULES_SEARCH_PATH};
pub use error::HarnessError;
pub use fake_upstream::{FakeUpstream, RecordedRequest, Reply};
pub use faulty_upstream::{Fault, FaultyUpstream};
pub use flavour::Flavour;
pub use inspector::{InspectorCli, InspectorRun};
pub use llm_fake::{Answer, LlmFake, Provider};
pub use mcp_backend::{McpBackend, McpBackendKind};
pub use node::EverythingServer;
pub use paths::Artifacts;
pub use prometheus::{Prometheus, Sample};
pub use python::{pytest, McpServerMode, PytestRun, PythonServer, MCP_PATH};
pub use ratelimit_fake::{RateLimitCall, RateLimitDescriptorCall, RateLimitFake};
pub use rest_api::{RestApi, REST_API_HOST};
