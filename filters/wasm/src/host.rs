//! `ai_gateway_core::Host` over proxy-wasm: what a filter asks for, translated into host calls.
//! One `WasmHost` is built per callback, borrowing the stream's state.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use ai_gateway_core::{
    CalloutId, CalloutRequest, Capabilities, Direction, Host, HostError, LogLevel, MetadataSink,
    MetricId, SharedValue,
};
use proxy_wasm::types::{BufferType, MapType, StreamType};

use crate::abi::{self, HostResult};
use crate::callout;
use crate::logging;
use crate::metrics::MetricIds;
use crate::timers::{FilterCell, StreamTimers};

/// Where proxy-wasm lands written metadata: Envoy filter state `wasm.<namespace>.<key>`.
pub(crate) const CAPABILITIES: Capabilities = Capabilities {
    metadata_sink: MetadataSink::FilterState,
    streaming_callouts: false,
};

/// Which body, if any, the current callback may see, and how many bytes Envoy reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BodyWindow {
    /// The direction whose body callback is running.
    pub direction: Option<Direction>,
    /// Buffered bytes plus the current chunk, as passed to the body callback.
    pub size: usize,
}

/// The host as one callback of one stream sees it.
pub(crate) struct WasmHost<'a> {
    pub metrics: &'a RefCell<MetricIds>,
    pub body: &'a mut BodyWindow,
    pub timer: TimerRef<'a>,
}

/// What `Host::start_timer` needs: the plugin's timer table and the stream's place in it.
pub(crate) struct TimerRef<'a> {
    pub timers: &'a RefCell<StreamTimers>,
    pub context_id: u32,
    pub filter: &'a Rc<FilterCell>,
}

/// Monotonic milliseconds (wall clock where the host has no monotonic clock), the clock of
/// stream timers.
pub(crate) fn now_ms() -> u64 {
    abi::monotonic_nanos()
        .or_else(|_| abi::wall_clock_nanos())
        .unwrap_or(0)
        / 1_000_000
}

fn header_map(dir: Direction) -> MapType {
    match dir {
        Direction::Request => MapType::HttpRequestHeaders,
        Direction::Response => MapType::HttpResponseHeaders,
    }
}

fn body_buffer(dir: Direction) -> BufferType {
    match dir {
        Direction::Request => BufferType::HttpRequestBody,
        Direction::Response => BufferType::HttpResponseBody,
    }
}

fn stream_type(dir: Direction) -> StreamType {
    match dir {
        Direction::Request => StreamType::HttpRequest,
        Direction::Response => StreamType::HttpResponse,
    }
}

/// Logs a failed host call for a trait method that has no error channel.
fn debug_on_error<T>(what: &str, result: HostResult<T>) -> Option<T> {
    result.map_err(|err| log::debug!("{what}: {err}")).ok()
}

impl WasmHost<'_> {
    fn body_size(&self, dir: Direction) -> Option<usize> {
        (self.body.direction == Some(dir)).then_some(self.body.size)
    }

    fn with_metrics(&self, update: impl FnOnce(&mut MetricIds)) {
        // A VM is single-threaded and nothing re-enters here, so the borrow always succeeds;
        // dropping one sample beats panicking if that ever changes.
        if let Ok(mut metrics) = self.metrics.try_borrow_mut() {
            update(&mut metrics);
        }
    }
}

impl Host for WasmHost<'_> {
    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn header(&self, dir: Direction, name: &str) -> Option<String> {
        // Envoy answers BadArgument when that map is not available in this phase.
        abi::header_value(header_map(dir), name).ok().flatten()
    }

    fn header_values(&self, dir: Direction, names: &[&str]) -> Vec<Option<String>> {
        // One host call for the whole map instead of one per name (each call crosses the
        // V8 boundary twice: the call and the allocation of its answer in the VM); only the
        // asked-for values are copied out of it.
        abi::header_values(header_map(dir), names).unwrap_or_else(|_| vec![None; names.len()])
    }

    fn headers(&self, dir: Direction) -> Vec<(String, String)> {
        abi::header_pairs(header_map(dir)).unwrap_or_default()
    }

    fn set_header(&mut self, dir: Direction, name: &str, value: &str) {
        debug_on_error(
            "set_header",
            abi::replace_header(header_map(dir), name, value),
        );
    }

    fn remove_header(&mut self, dir: Direction, name: &str) {
        debug_on_error("remove_header", abi::remove_header(header_map(dir), name));
    }

    fn body(&self, dir: Direction) -> Vec<u8> {
        match self.body_size(dir) {
            Some(0) | None => Vec::new(),
            Some(size) => {
                debug_on_error("body", abi::buffer(body_buffer(dir), 0, size)).unwrap_or_default()
            }
        }
    }

    fn set_body(&mut self, dir: Direction, data: &[u8]) -> Result<(), HostError> {
        let size = self
            .body_size(dir)
            .ok_or(HostError::NotAvailable("body outside its body callback"))?;
        abi::set_buffer(body_buffer(dir), 0, size, data)
            .map_err(|_| HostError::NotAvailable("body buffer refused the replacement"))?;
        self.body.size = data.len();
        Ok(())
    }

    fn send_local_reply(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        details: &str,
    ) {
        debug_on_error(
            "send_local_reply",
            abi::send_local_response(status, details, body, headers),
        );
    }

    fn resume(&mut self, dir: Direction) {
        debug_on_error("resume", abi::continue_stream(stream_type(dir)));
    }

    fn clear_route_cache(&mut self) {
        debug_on_error(
            "clear_route_cache",
            abi::call_foreign_function("clear_route_cache", &[]),
        );
    }

    fn http_callout(&mut self, request: CalloutRequest) -> Result<CalloutId, HostError> {
        callout::dispatch(request)
    }

    fn metadata(&self, namespace: &str, key: &str) -> Option<String> {
        let path = ["metadata", "filter_metadata", namespace, key];
        // Else what `set_metadata` wrote: filter state `wasm.<namespace>.<key>`, which Envoy
        // looks up for a first path segment that is no known attribute.
        let bytes = match abi::property(&path).ok().flatten() {
            Some(bytes) => bytes,
            None => abi::property(&[&format!("{namespace}.{key}")])
                .ok()
                .flatten()?,
        };
        // Envoy serializes the value by type: a string as its bytes, a number as an 8-byte
        // little-endian double, a bool as one byte. Only string values are meaningful here.
        String::from_utf8(bytes).ok()
    }

    fn start_timer(&mut self, delay_ms: u64) -> Result<(), HostError> {
        let timer = &self.timer;
        timer
            .timers
            .try_borrow_mut()
            .map_err(|_| HostError::NotAvailable("stream timers while they fire"))?
            .arm(
                timer.context_id,
                now_ms().saturating_add(delay_ms),
                timer.filter,
            );
        self.with_metrics(|m| m.hold_fast_tick(true));
        Ok(())
    }

    fn upstream_address(&self) -> Option<String> {
        let bytes = abi::property(&["upstream", "address"]).ok().flatten()?;
        String::from_utf8(bytes).ok()
    }

    fn set_metadata(&mut self, namespace: &str, key: &str, value: &str) {
        let name = format!("{namespace}.{key}");
        debug_on_error(
            "set_metadata",
            abi::set_property(&[&name], value.as_bytes()),
        );
    }

    fn counter_add(&mut self, metric: MetricId, tags: &[&str], delta: u64) {
        self.with_metrics(|m| m.counter_add(metric, tags, delta));
    }

    fn gauge_add(&mut self, metric: MetricId, tags: &[&str], delta: i64) {
        self.with_metrics(|m| m.gauge_add(metric, tags, delta));
    }

    fn histogram_record(&mut self, metric: MetricId, tags: &[&str], value: u64) {
        self.with_metrics(|m| m.histogram_record(metric, tags, value));
    }

    fn monotonic_nanos(&self) -> u64 {
        abi::monotonic_nanos()
            .or_else(|_| abi::wall_clock_nanos())
            .unwrap_or(0)
    }

    fn unix_seconds(&self) -> u64 {
        abi::unix_seconds()
    }

    fn unix_millis(&self) -> u64 {
        abi::wall_clock_nanos().map(|n| n / 1_000_000).unwrap_or(0)
    }

    fn shared_get(&self, key: &str) -> Option<SharedValue> {
        match abi::shared_data(key) {
            Ok(found) => found.map(|(bytes, cas)| SharedValue { bytes, cas }),
            Err(err) => {
                log::warn!("shared data {key}: {err}");
                None
            }
        }
    }

    fn shared_set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError> {
        abi::set_shared_data(key, value, cas.unwrap_or(0)).map_err(|err| match err.status {
            abi::CAS_MISMATCH => HostError::CasMismatch,
            _ => HostError::SharedStore(err.to_string()),
        })
    }

    fn random_bytes(&self, buf: &mut [u8]) -> Result<(), HostError> {
        abi::random_bytes(buf).map_err(|err| {
            log::error!("random_bytes: {err}");
            HostError::NotAvailable("WASI random_get")
        })
    }

    fn log(&self, level: LogLevel, message: fmt::Arguments<'_>) {
        log::log!(logging::level_of(level), "{message}");
    }
}
