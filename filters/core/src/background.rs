//! Work a filter config does outside any stream: periodic ticks and the callouts they start
//! (e.g. refreshing keys before they expire, so no request waits for the fetch).
//!
//! Where it runs: in the dynamic module on Envoy's main thread (one config per process); in
//! Wasm on each worker VM's root context (one config per worker, as Wasm state is per VM).

use std::fmt;

use crate::host::{CalloutId, CalloutRequest, HostError, LogLevel};
use crate::metrics::MetricId;

/// The proxy as seen by a filter config's background work.
pub trait BackgroundHost {
    /// Starts an HTTP callout; the result arrives in
    /// [`crate::FilterFactory::on_background_callout_done`].
    fn http_callout(&mut self, request: CalloutRequest) -> Result<CalloutId, HostError>;
    /// Adds to one of the config's counters.
    fn counter_add(&mut self, metric: MetricId, tags: &[&str], delta: u64);
    /// Wall-clock time in seconds since the Unix epoch.
    fn unix_seconds(&self) -> u64;
    /// Writes to Envoy's log.
    fn log(&self, level: LogLevel, message: fmt::Arguments<'_>);
}

/// A stream's [`crate::Host`] used where background work's narrower host is expected, so code
/// shared by both paths (e.g. one key-fetch step) is written once.
pub struct StreamBackground<'a>(pub &'a mut dyn crate::Host);

impl BackgroundHost for StreamBackground<'_> {
    fn http_callout(&mut self, request: CalloutRequest) -> Result<CalloutId, HostError> {
        self.0.http_callout(request)
    }

    fn counter_add(&mut self, metric: MetricId, tags: &[&str], delta: u64) {
        self.0.counter_add(metric, tags, delta)
    }

    fn unix_seconds(&self) -> u64 {
        self.0.unix_seconds()
    }

    fn log(&self, level: LogLevel, message: fmt::Arguments<'_>) {
        self.0.log(level, message)
    }
}
