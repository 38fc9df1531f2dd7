//! proxy-wasm adapter: every built-in filter in one `.wasm` for Envoy's `envoy.filters.http.wasm`.
//!
//! The plugin `configuration` is `{"filter": "<name>", "config": {...}}`; the root context
//! builds the named filter's factory once (an invalid configuration is logged, naming the
//! field, and refused), and each HTTP context runs one `HttpFilter` against `host::WasmHost`.
//!
//! Layout: `abi` holds every host call, `host` maps `ai_gateway_core::Host` onto them,
//! `root`/`stream` map proxy-wasm's contexts onto the filter callbacks (`background`: the
//! factory's tick and its callouts on the root context; `timers`: stream timers fired from the
//! root's tick), `callout` starts and reads callouts,
//! `metrics` +
//! `stat_names` encode metric tags into stat names for Envoy's tag extraction.
//!
//! Envoy config the filters rely on: `allow_on_headers_stop_iteration: true` in the plugin
//! config. Without it Envoy turns a headers `Pause` into "stop everything", so the body
//! callbacks a paused filter waits for never come (e.g. an A2A card fetch hangs).
//!
//! Filter state: written metadata lands in Envoy filter state `wasm.<namespace>.<key>`,
//! readable in access logs as `%FILTER_STATE(wasm.<namespace>.<key>:PLAIN)%`.

#[cfg(target_arch = "wasm32")]
mod abi;
#[cfg(target_arch = "wasm32")]
mod background;
#[cfg(target_arch = "wasm32")]
mod callout;
#[cfg(target_arch = "wasm32")]
mod host;
#[cfg(target_arch = "wasm32")]
mod logging;
#[cfg(target_arch = "wasm32")]
mod metrics;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod plugin_config;
#[cfg(target_arch = "wasm32")]
mod root;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod stat_names;
#[cfg(target_arch = "wasm32")]
mod stream;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod timers;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod wire;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod word_hash;

#[cfg(target_arch = "wasm32")]
proxy_wasm::main! {{
    proxy_wasm::set_root_context(|context_id| Box::new(root::Root::new(context_id)));
}}
