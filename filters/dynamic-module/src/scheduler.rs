//! Envoy's config scheduler: events committed from any thread run on Envoy's main thread as
//! `on_http_filter_config_scheduled(event_id)`, where the config-level callbacks may be used.

use crate::abi::{self, HttpFilterConfigEnvoyPtr, HttpFilterConfigSchedulerPtr};

/// Event id: apply the pending metric updates.
pub const METRICS_EVENT: u64 = 0;
/// Event id: run the filter factory's background tick.
pub const TICK_EVENT: u64 = 1;

/// One scheduler of a config; deleted when dropped.
pub struct Scheduler(HttpFilterConfigSchedulerPtr);

// SAFETY: the scheduler only posts events to Envoy's main-thread dispatcher, which is
// thread-safe (Envoy documents `commit` as callable from any thread); it is deleted once, by
// `Drop`, when no thread holds it any more.
unsafe impl Send for Scheduler {}
unsafe impl Sync for Scheduler {}

impl Scheduler {
    /// A new scheduler for the config; `None` if Envoy gave none.
    pub fn new(config_envoy: HttpFilterConfigEnvoyPtr) -> Option<Scheduler> {
        // SAFETY: `config_envoy` is the pointer Envoy passed to `on_http_filter_config_new`.
        let raw = unsafe {
            abi::envoy_dynamic_module_callback_http_filter_config_scheduler_new(config_envoy)
        };
        (!raw.is_null()).then_some(Scheduler(raw))
    }

    /// Asks Envoy to run `event_id` on the main thread.
    pub fn commit(&self, event_id: u64) {
        // SAFETY: the scheduler is alive until `Drop`.
        unsafe {
            abi::envoy_dynamic_module_callback_http_filter_config_scheduler_commit(self.0, event_id)
        };
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        // SAFETY: dropped once, when no thread can commit through it any more.
        unsafe { abi::envoy_dynamic_module_callback_http_filter_config_scheduler_delete(self.0) };
    }
}
