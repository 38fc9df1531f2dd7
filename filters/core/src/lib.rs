//! Host-agnostic API every filter is written against, plus the small protocol codecs
//! (JSON-RPC 2.0, Server-Sent Events) the filters share. No Envoy types live here:
//! the `wasm` and `dynamic-module` adapters map their host onto [`Host`].

pub mod background;
pub mod config;
pub mod filter;
pub mod host;
pub mod jsonrpc;
pub mod metrics;
pub mod shared;
pub mod sse;
pub mod text;

#[cfg(any(test, feature = "fake-host"))]
pub mod fake_host;

#[cfg(any(test, feature = "fuzz"))]
pub mod fuzz;

#[cfg(test)]
mod fuzz_jsonrpc;
#[cfg(test)]
mod fuzz_sse;

pub use background::{BackgroundHost, StreamBackground};
pub use config::{parse_config, ConfigError, FilterFactory};
pub use filter::{Action, HttpFilter};
pub use host::{
    CalloutFailure, CalloutId, CalloutRequest, CalloutResponse, CalloutResult, Capabilities,
    Direction, Host, HostError, LogLevel, MetadataSink, SharedValue, StreamId,
};
pub use metrics::{MetricDef, MetricId, MetricKind, TagLimiter};
