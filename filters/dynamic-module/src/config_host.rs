//! The host of a config's background work, on Envoy's main thread (the config scheduler's
//! tick event and the config-level callouts it starts).

use std::fmt;

use ai_gateway_core::{
    BackgroundHost, CalloutId, CalloutRequest, HostError, LogLevel, MetricId, MetricKind,
};

use crate::abi::{self, HttpFilterConfigEnvoyPtr};
use crate::envoy_log;
use crate::host::{self, start_callout};
use crate::metrics::Metrics;

/// A config as its background work sees it.
pub struct ConfigHost<'a> {
    envoy: HttpFilterConfigEnvoyPtr,
    metrics: &'a Metrics,
}

impl<'a> ConfigHost<'a> {
    /// The host of the config `envoy`, valid during the current config-level hook.
    pub fn new(envoy: HttpFilterConfigEnvoyPtr, metrics: &'a Metrics) -> Self {
        ConfigHost { envoy, metrics }
    }
}

impl BackgroundHost for ConfigHost<'_> {
    fn http_callout(&mut self, request: CalloutRequest) -> Result<CalloutId, HostError> {
        let envoy = self.envoy;
        // SAFETY: `envoy` is valid for the current config-level hook (main thread);
        // `start_callout`'s buffers outlive the call.
        start_callout(
            &request,
            |id, cluster, headers, count, body, timeout| unsafe {
                abi::envoy_dynamic_module_callback_http_filter_config_http_callout(
                    envoy, id, cluster, headers, count, body, timeout,
                )
            },
        )
        .map(CalloutId)
    }

    fn counter_add(&mut self, metric: MetricId, tags: &[&str], delta: u64) {
        let delta = i64::try_from(delta).unwrap_or(i64::MAX);
        self.metrics.add(metric, MetricKind::Counter, tags, delta);
    }

    fn unix_seconds(&self) -> u64 {
        host::unix_seconds()
    }

    fn log(&self, level: LogLevel, message: fmt::Arguments<'_>) {
        envoy_log::log(level, message);
    }
}
