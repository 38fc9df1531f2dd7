//! Stats defined lazily, one per (metric, tag values), their ids cached for the VM's lifetime.
//! Filters bound client-supplied tag values before they get here, so the cache stays small.
//!
//! Counter and gauge updates are summed per stat and sent on the root context's next tick
//! ([`FLUSH_PERIOD_MS`] after the first pending update), because every host call crosses the
//! V8 boundary (thousands of instructions); histogram samples cannot be summed and go at once.

use ai_gateway_core::{MetricDef, MetricId, MetricKind};
use proxy_wasm::types::MetricType;

use crate::abi;
use crate::stat_names;
use crate::word_hash::WordMap;

/// How long counter and gauge sums wait for more updates before they are sent.
pub(crate) const FLUSH_PERIOD_MS: u32 = 20;

/// The stat ids of one plugin's metrics; lives in its root context (a VM is single-threaded).
pub(crate) struct MetricIds {
    defs: &'static [MetricDef],
    ids: WordMap<String, u32>,
    /// Reused to build stat names, so a cache hit allocates nothing.
    scratch: String,
    /// Counter and gauge sums not yet sent, by stat id.
    pending: WordMap<u32, i64>,
    /// Whether the root context ticks every [`FLUSH_PERIOD_MS`] (only while sums are pending).
    fast_tick: bool,
    /// The tick period between flushes: the filter factory's background tick, 0 for none.
    idle_tick_ms: u32,
    /// Stream timers are pending: the fast tick stays on to fire them (see `timers`).
    held: bool,
}

impl MetricIds {
    /// An empty cache for the metrics a filter factory declares.
    pub(crate) fn new(defs: &'static [MetricDef]) -> Self {
        MetricIds {
            defs,
            ids: WordMap::default(),
            scratch: String::new(),
            pending: WordMap::default(),
            fast_tick: false,
            idle_tick_ms: 0,
            held: false,
        }
    }

    /// Sets the tick period kept between flushes (the factory's background tick) and asks for
    /// a tick soon, so background work starts right after the configuration is loaded.
    pub(crate) fn keep_ticking(&mut self, period_ms: u32) {
        self.idle_tick_ms = period_ms;
        self.tick_soon();
    }

    /// Keeps the fast tick on while `held` (stream timers are pending), else lets the next
    /// flush slow it down.
    pub(crate) fn hold_fast_tick(&mut self, held: bool) {
        self.held = held;
        if held {
            self.tick_soon();
        }
    }

    /// Arms the fast tick unless it is running; `false` if the host refused.
    fn tick_soon(&mut self) -> bool {
        if !self.fast_tick {
            match abi::set_tick_period(FLUSH_PERIOD_MS) {
                Ok(()) => self.fast_tick = true,
                Err(err) => {
                    log::debug!("no tick ({err})");
                    return false;
                }
            }
        }
        true
    }

    /// Adds to a counter (sent on the next tick).
    pub(crate) fn counter_add(&mut self, metric: MetricId, tags: &[&str], delta: u64) {
        self.add(metric, tags, i64::try_from(delta).unwrap_or(i64::MAX));
    }

    /// Adds to (or subtracts from) a gauge (sent on the next tick).
    pub(crate) fn gauge_add(&mut self, metric: MetricId, tags: &[&str], delta: i64) {
        self.add(metric, tags, delta);
    }

    fn add(&mut self, metric: MetricId, tags: &[&str], delta: i64) {
        if delta == 0 {
            return;
        }
        let Some(id) = self.id(metric, tags) else {
            return;
        };
        let sum = self.pending.entry(id).or_insert(0);
        *sum = sum.saturating_add(delta);
        // Without a tick the sums would wait for the next update, however late.
        if !self.tick_soon() {
            self.flush();
        }
    }

    /// Sends the pending sums and slows the tick to the idle period (0: stops it); the root
    /// context calls it on each tick.
    pub(crate) fn flush(&mut self) {
        for (id, sum) in self.pending.drain() {
            // Envoy refuses a zero increment (a gauge's ups and downs may cancel out).
            if sum != 0 {
                report(abi::increment_metric(id, sum));
            }
        }
        if self.fast_tick && !self.held {
            report(abi::set_tick_period(self.idle_tick_ms));
            self.fast_tick = false;
        }
    }

    /// Records one histogram sample.
    pub(crate) fn histogram_record(&mut self, metric: MetricId, tags: &[&str], value: u64) {
        if let Some(id) = self.id(metric, tags) {
            report(abi::record_metric(id, value));
        }
    }

    fn id(&mut self, metric: MetricId, tags: &[&str]) -> Option<u32> {
        let Some(def) = self.defs.get(metric.0) else {
            log::warn!("metric id {} is not declared by the filter", metric.0);
            return None;
        };
        if tags.len() != def.tag_keys.len() {
            log::debug!(
                "metric {} got {} tag values for {} keys",
                def.name,
                tags.len(),
                def.tag_keys.len()
            );
        }
        stat_names::encode_into(&mut self.scratch, def.name, def.tag_keys, tags);
        if let Some(id) = self.ids.get(self.scratch.as_str()) {
            return Some(*id);
        }
        match abi::define_metric(metric_type(def.kind), &self.scratch) {
            Ok(id) => {
                self.ids.insert(self.scratch.clone(), id);
                Some(id)
            }
            Err(err) => {
                log::warn!("cannot define stat {}: {err}", self.scratch);
                None
            }
        }
    }
}

fn metric_type(kind: MetricKind) -> MetricType {
    match kind {
        MetricKind::Counter => MetricType::Counter,
        MetricKind::Gauge => MetricType::Gauge,
        MetricKind::Histogram => MetricType::Histogram,
    }
}

fn report(result: abi::HostResult<()>) {
    if let Err(err) = result {
        log::debug!("stat update dropped: {err}");
    }
}
