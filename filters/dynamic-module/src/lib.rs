//! Envoy dynamic-module adapter: every filter of the catalog in one `libai_gateway.so`.
//!
//! Envoy loads the module as `dynamic_module_config.name: ai_gateway`; the HTTP filter's
//! `filter_name` picks the filter and `filter_config` (a string) carries its JSON config.
//! The adapter only translates: [`abi`] is the C ABI, [`host`] maps `ai_gateway_core::Host` onto
//! it, `exports` holds the hooks Envoy calls (exported by `#[no_mangle]`, so the module itself
//! stays private), [`stream`] the per-stream panic policy, [`guard`] the panic barrier,
//! [`metrics`] the batched path of metric updates to Envoy and [`timer`] the stream timers.

pub mod abi;
pub mod config;
mod config_host;
mod envoy_log;
mod exports;
pub mod guard;
pub mod host;
mod metric_batch;
pub mod metrics;
mod scheduler;
mod shared_store;
pub mod stream;
#[cfg(test)]
mod test_envoy_stubs;
mod ticker;
pub mod timer;
