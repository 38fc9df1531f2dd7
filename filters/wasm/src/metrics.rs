//! Stats defined lazily, one per (metric, tag values), their ids cached for the VM's lifetime.
//! Filters bound client-supplied tag values before they get here, so the cache stays small.

use std::collections::HashMap;

use ai_gateway_core::{MetricDef, MetricId, MetricKind};
use proxy_wasm::types::MetricType;

use crate::abi;
use crate::stat_names;

/// The stat ids of one plugin's metrics; lives in its root context (a VM is single-threaded).
pub(crate) struct MetricIds {
    defs: &'static [MetricDef],
    ids: HashMap<String, u32>,
    /// Reused to build stat names, so a cache hit allocates nothing.
    scratch: String,
}

impl MetricIds {
    /// An empty cache for the metrics a filter factory declares.
    pub(crate) fn new(defs: &'static [MetricDef]) -> Self {
        MetricIds {
            defs,
            ids: HashMap::new(),
            scratch: String::new(),
        }
    }

    /// Adds to a counter; Envoy refuses a zero increment, so none is sent.
    pub(crate) fn counter_add(&mut self, metric: MetricId, tags: &[&str], delta: u64) {
        if delta == 0 {
            return;
        }
        if let Some(id) = self.id(metric, tags) {
            let delta = i64::try_from(delta).unwrap_or(i64::MAX);
            report(abi::increment_metric(id, delta));
        }
    }

    /// Adds to (or subtracts from) a gauge.
    pub(crate) fn gauge_add(&mut self, metric: MetricId, tags: &[&str], delta: i64) {
        if delta == 0 {
            return;
        }
        if let Some(id) = self.id(metric, tags) {
            report(abi::increment_metric(id, delta));
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
