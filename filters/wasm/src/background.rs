//! The filter factory's background work on the root context: its tick (on the root's
//! `on_tick`, which also flushes metric sums) and the callouts it starts.

use std::cell::RefCell;
use std::fmt;

use ai_gateway_core::{BackgroundHost, CalloutId, CalloutRequest, HostError, LogLevel, MetricId};

use crate::abi;
use crate::callout;
use crate::logging;
use crate::metrics::MetricIds;

/// When the factory's next tick is due.
pub(crate) struct Schedule {
    period_ms: u64,
    next_at_ms: u64,
}

impl Schedule {
    /// Ticks every `period_ms`, the first one at the first chance.
    pub(crate) fn every(period_ms: u64) -> Self {
        Schedule {
            period_ms,
            next_at_ms: 0,
        }
    }

    /// Whether a tick is due now (the root ticks more often while metric sums are pending).
    pub(crate) fn due(&mut self) -> bool {
        let Ok(now_ms) = abi::monotonic_nanos().map(|nanos| nanos / 1_000_000) else {
            return false;
        };
        if now_ms < self.next_at_ms {
            return false;
        }
        self.next_at_ms = now_ms.saturating_add(self.period_ms);
        true
    }
}

/// The root context as the factory's background work sees it.
pub(crate) struct RootHost<'a> {
    pub metrics: &'a RefCell<MetricIds>,
}

impl BackgroundHost for RootHost<'_> {
    fn http_callout(&mut self, request: CalloutRequest) -> Result<CalloutId, HostError> {
        callout::dispatch(request)
    }

    fn counter_add(&mut self, metric: MetricId, tags: &[&str], delta: u64) {
        if let Ok(mut metrics) = self.metrics.try_borrow_mut() {
            metrics.counter_add(metric, tags, delta);
        }
    }

    fn unix_seconds(&self) -> u64 {
        abi::unix_seconds()
    }

    fn log(&self, level: LogLevel, message: fmt::Arguments<'_>) {
        log::log!(logging::level_of(level), "{message}");
    }
}
