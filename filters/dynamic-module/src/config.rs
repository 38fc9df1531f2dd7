//! Per-config state: the filter's factory plus the Envoy ids of the metrics it records.
//! Built once on Envoy's main thread, then shared read-only by every worker.

use std::sync::Arc;

use ai_gateway_core::{FilterFactory, MetricDef, MetricKind};

use crate::abi;

/// One metric as Envoy knows it: its kind, Envoy's id and how many tag values it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricSlot {
    pub kind: MetricKind,
    pub envoy_id: usize,
    pub tag_count: usize,
}

/// Everything a stream needs from its configuration. `Send + Sync`: the factory is, and the
/// metric table is immutable after construction.
pub struct FilterConfig {
    /// The filter name from `filter_name`, for log lines.
    pub filter_name: String,
    pub factory: Arc<dyn FilterFactory>,
    /// Indexed by [`ai_gateway_core::MetricId`].
    pub metrics: Vec<MetricSlot>,
}

// Envoy shares a config across worker threads.
const _: fn() = || {
    fn shared_across_threads<T: Send + Sync>() {}
    shared_across_threads::<FilterConfig>();
};

/// Why Envoy refused a metric definition.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("Envoy refused to define metric `{name}` (metrics result {code})")]
pub struct MetricDefineError {
    pub name: &'static str,
    pub code: abi::MetricsResult,
}

/// Defines every metric of `defs` on the Envoy config, in order.
pub fn define_metrics(
    config_envoy: abi::HttpFilterConfigEnvoyPtr,
    defs: &[MetricDef],
) -> Result<Vec<MetricSlot>, MetricDefineError> {
    defs.iter()
        .map(|def| define_metric(config_envoy, def))
        .collect()
}

fn define_metric(
    config_envoy: abi::HttpFilterConfigEnvoyPtr,
    def: &MetricDef,
) -> Result<MetricSlot, MetricDefineError> {
    let mut labels: Vec<abi::ModuleBuffer> = def
        .tag_keys
        .iter()
        .map(|key| abi::ModuleBuffer::from_text(key))
        .collect();
    let define = match def.kind {
        MetricKind::Counter => abi::envoy_dynamic_module_callback_http_filter_config_define_counter,
        MetricKind::Gauge => abi::envoy_dynamic_module_callback_http_filter_config_define_gauge,
        MetricKind::Histogram => {
            abi::envoy_dynamic_module_callback_http_filter_config_define_histogram
        }
    };
    let mut envoy_id = 0usize;
    // SAFETY: `config_envoy` is the pointer Envoy passed to `on_http_filter_config_new`; the
    // name and label buffers outlive the call.
    let code = unsafe {
        define(
            config_envoy,
            abi::ModuleBuffer::from_text(def.name),
            labels.as_mut_ptr(),
            labels.len(),
            &mut envoy_id,
        )
    };
    if code != abi::METRICS_SUCCESS {
        return Err(MetricDefineError {
            name: def.name,
            code,
        });
    }
    Ok(MetricSlot {
        kind: def.kind,
        envoy_id,
        tag_count: def.tag_keys.len(),
    })
}
