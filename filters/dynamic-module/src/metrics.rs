//! A config's metrics as Envoy knows them, and how updates reach Envoy: streams add to a
//! [`MetricBatch`]; a flusher thread, woken by the first update of a batch, waits
//! [`FLUSH_WINDOW`] and then asks Envoy (through the config scheduler) to call
//! `on_http_filter_config_scheduled` on the main thread, which applies the whole batch with
//! the config-level metric callbacks. The worker's cost per update is a lock and a map entry
//! instead of Envoy resolving the tags; metrics show in `/stats` within the window.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use ai_gateway_core::{LogLevel, MetricDef, MetricId, MetricKind};

use crate::abi::{self, HttpFilterConfigEnvoyPtr, ModuleBuffer};
use crate::envoy_log;
use crate::metric_batch::{unpack, MetricBatch, Update};
use crate::scheduler::{Scheduler, METRICS_EVENT};

/// How long the flusher gathers updates before asking for a batch to be applied.
pub const FLUSH_WINDOW: Duration = Duration::from_millis(20);

/// One metric as Envoy knows it: its kind, Envoy's id and how many tag values it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricSlot {
    pub kind: MetricKind,
    pub envoy_id: usize,
    pub tag_count: usize,
}

/// Why a config's metrics could not be set up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetricsError {
    #[error("Envoy refused to define metric `{name}` (metrics result {code})")]
    Define {
        name: &'static str,
        code: abi::MetricsResult,
    },
    #[error("Envoy did not create a config scheduler for applying metrics")]
    NoScheduler,
    #[error("could not start the metrics flusher thread: {0}")]
    Thread(String),
}

/// The metrics of one filter config. `Send + Sync`: shared by every worker's streams.
pub struct Metrics {
    /// Indexed by [`MetricId`].
    slots: Vec<MetricSlot>,
    batch: Arc<MetricBatch>,
    /// `None` only for configs built without Envoy (unit tests).
    flusher: Option<Flusher>,
}

impl Metrics {
    /// Defines every metric of `defs` on the Envoy config, in order, and starts the flusher.
    pub fn define(
        config_envoy: HttpFilterConfigEnvoyPtr,
        defs: &[MetricDef],
    ) -> Result<Metrics, MetricsError> {
        let slots = defs
            .iter()
            .map(|def| define_metric(config_envoy, def))
            .collect::<Result<Vec<_>, _>>()?;
        let batch = Arc::new(MetricBatch::default());
        let flusher = Flusher::start(config_envoy, batch.clone())?;
        Ok(Metrics {
            slots,
            batch,
            flusher: Some(flusher),
        })
    }

    /// No metrics and no flusher, for configs built without Envoy.
    #[cfg(test)]
    pub fn none() -> Metrics {
        Metrics {
            slots: Vec::new(),
            batch: Arc::default(),
            flusher: None,
        }
    }

    /// The slot of `metric` when the filter uses it as defined (kind and number of tags,
    /// which Envoy requires to match); logs the filter's mistake otherwise.
    fn checked(&self, metric: MetricId, tags: &[&str], kind: MetricKind) -> bool {
        match self.slots.get(metric.0) {
            Some(slot) if slot.kind == kind && slot.tag_count == tags.len() => true,
            _ => {
                envoy_log::log(
                    LogLevel::Error,
                    format_args!(
                        "metric {} used as {kind:?} with {} tags",
                        metric.0,
                        tags.len()
                    ),
                );
                false
            }
        }
    }

    /// Adds `delta` to a counter or gauge.
    pub fn add(&self, metric: MetricId, kind: MetricKind, tags: &[&str], delta: i64) {
        if self.checked(metric, tags, kind) && self.batch.add(metric.0, tags, delta) {
            self.wake_flusher();
        }
    }

    /// Records one histogram sample.
    pub fn sample(&self, metric: MetricId, tags: &[&str], value: u64) {
        if self.checked(metric, tags, MetricKind::Histogram)
            && self.batch.sample(metric.0, tags, value)
        {
            self.wake_flusher();
        }
    }

    fn wake_flusher(&self) {
        if let Some(flusher) = &self.flusher {
            flusher.wake();
        }
    }

    /// Applies every pending update to Envoy. Main thread only (the config scheduler's event).
    pub fn apply(&self, config_envoy: HttpFilterConfigEnvoyPtr) {
        let dropped = self.batch.drain(|metric, tags, update| {
            if let Some(slot) = self.slots.get(metric) {
                apply_one(config_envoy, *slot, tags, update);
            }
        });
        if dropped > 0 {
            envoy_log::log(
                LogLevel::Warn,
                format_args!("{dropped} metric updates dropped: more than a batch holds"),
            );
        }
    }
}

fn define_metric(
    config_envoy: HttpFilterConfigEnvoyPtr,
    def: &MetricDef,
) -> Result<MetricSlot, MetricsError> {
    let mut labels: Vec<ModuleBuffer> = def
        .tag_keys
        .iter()
        .map(|key| ModuleBuffer::from_text(key))
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
            ModuleBuffer::from_text(def.name),
            labels.as_mut_ptr(),
            labels.len(),
            &mut envoy_id,
        )
    };
    if code != abi::METRICS_SUCCESS {
        return Err(MetricsError::Define {
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

/// One update through the config-level callback of its kind.
fn apply_one(
    config_envoy: HttpFilterConfigEnvoyPtr,
    slot: MetricSlot,
    tags: &[u8],
    update: Update,
) {
    type Recorder = unsafe extern "C" fn(
        HttpFilterConfigEnvoyPtr,
        usize,
        *mut ModuleBuffer,
        usize,
        u64,
    ) -> abi::MetricsResult;
    let (record, value): (Recorder, u64) = match (slot.kind, update) {
        (MetricKind::Histogram, Update::Sample(value)) => (
            abi::envoy_dynamic_module_callback_http_filter_config_record_histogram_value,
            value,
        ),
        (MetricKind::Counter, Update::Sum(delta)) if delta > 0 => (
            abi::envoy_dynamic_module_callback_http_filter_config_increment_counter,
            delta.unsigned_abs(),
        ),
        (MetricKind::Gauge, Update::Sum(delta)) if delta > 0 => (
            abi::envoy_dynamic_module_callback_http_filter_config_increment_gauge,
            delta.unsigned_abs(),
        ),
        (MetricKind::Gauge, Update::Sum(delta)) if delta < 0 => (
            abi::envoy_dynamic_module_callback_http_filter_config_decrement_gauge,
            delta.unsigned_abs(),
        ),
        _ => return,
    };
    let mut values: Vec<ModuleBuffer> = unpack(tags).map(ModuleBuffer::from_bytes).collect();
    // SAFETY: called on the main thread from the config scheduler's event, while Envoy's
    // config is alive; `values` outlives the call and has the defined number of tags.
    let code = unsafe {
        record(
            config_envoy,
            slot.envoy_id,
            values.as_mut_ptr(),
            values.len(),
            value,
        )
    };
    if code != abi::METRICS_SUCCESS {
        envoy_log::log(
            LogLevel::Debug,
            format_args!("recording metric {} failed with code {code}", slot.envoy_id),
        );
    }
}

/// The thread that turns "the batch is dirty" into a scheduler event after the window.
struct Flusher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    fn start(
        config_envoy: HttpFilterConfigEnvoyPtr,
        batch: Arc<MetricBatch>,
    ) -> Result<Flusher, MetricsError> {
        // Moved into the thread: deleted when the thread ends.
        let scheduler = Scheduler::new(config_envoy).ok_or(MetricsError::NoScheduler)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = thread::Builder::new()
            .name("ai-gateway-metrics".into())
            .spawn({
                let stop = stop.clone();
                move || flush_loop(&batch, &stop, &scheduler)
            });
        match thread {
            Ok(thread) => Ok(Flusher {
                stop,
                thread: Some(thread),
            }),
            Err(err) => Err(MetricsError::Thread(err.to_string())),
        }
    }

    fn wake(&self) {
        if let Some(thread) = &self.thread {
            thread.thread().unpark();
        }
    }
}

fn flush_loop(batch: &MetricBatch, stop: &AtomicBool, scheduler: &Scheduler) {
    loop {
        while !batch.is_dirty() && !stop.load(Ordering::Acquire) {
            thread::park();
        }
        thread::sleep(FLUSH_WINDOW);
        if stop.load(Ordering::Acquire) {
            return;
        }
        scheduler.commit(METRICS_EVENT);
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            if thread.join().is_err() {
                envoy_log::log(LogLevel::Error, format_args!("metrics flusher panicked"));
            }
        }
    }
}
