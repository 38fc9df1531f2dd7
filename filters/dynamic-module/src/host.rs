//! `ai_gateway_core::Host` over Envoy's dynamic-module callbacks, for one stream and one hook.

use std::fmt;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ai_gateway_core::text::lossy;
use ai_gateway_core::{
    CalloutFailure, CalloutId, CalloutRequest, CalloutResponse, CalloutResult, Capabilities,
    Direction, Host, HostError, LogLevel, MetadataSink, MetricId, MetricKind, SharedValue,
    StreamId,
};

use crate::abi::{self, HttpBodyType, HttpHeaderType, ModuleBuffer};
use crate::envoy_log;
use crate::metrics::Metrics;
use crate::shared_store;
use crate::timer::StreamTimer;

/// The host as seen from one hook of one stream. `envoy` is only valid during that hook,
/// so an `EnvoyHost` is created per hook and never stored.
pub struct EnvoyHost<'a> {
    envoy: abi::HttpFilterEnvoyPtr,
    metrics: &'a Metrics,
    /// The stream's timer, when the hook runs for a stream that has one.
    timer: Option<&'a mut StreamTimer>,
}

impl<'a> EnvoyHost<'a> {
    /// Wraps the filter pointer Envoy passed to the current hook.
    pub fn new(envoy: abi::HttpFilterEnvoyPtr, metrics: &'a Metrics) -> Self {
        EnvoyHost {
            envoy,
            metrics,
            timer: None,
        }
    }

    /// The host with the stream's timer, for `Host::start_timer`.
    pub fn with_timer(self, timer: &'a mut StreamTimer) -> Self {
        EnvoyHost {
            timer: Some(timer),
            ..self
        }
    }

    /// Whether the current chunk is itself the buffered body (an earlier filter buffered and
    /// resumed), so it must not be counted twice.
    fn received_is_buffered(&self, dir: Direction) -> bool {
        // SAFETY: `envoy` is valid for the current hook.
        unsafe {
            match dir {
                Direction::Request => {
                    abi::envoy_dynamic_module_callback_http_received_buffered_request_body(
                        self.envoy,
                    )
                }
                Direction::Response => {
                    abi::envoy_dynamic_module_callback_http_received_buffered_response_body(
                        self.envoy,
                    )
                }
            }
        }
    }

    /// Appends every chunk of one body to `out`; false when that body is not available.
    fn copy_body(&self, body: HttpBodyType, out: &mut Vec<u8>) -> bool {
        // SAFETY: `envoy` is valid for the current hook; the chunk array is sized by Envoy's
        // own count and the chunks stay valid until the next body mutation.
        unsafe {
            let count =
                abi::envoy_dynamic_module_callback_http_get_body_chunks_size(self.envoy, body);
            if count == 0 {
                return false;
            }
            let mut chunks = vec![abi::EnvoyBuffer::empty(); count];
            if !abi::envoy_dynamic_module_callback_http_get_body_chunks(
                self.envoy,
                body,
                chunks.as_mut_ptr(),
            ) {
                return false;
            }
            for chunk in &chunks {
                if let Some(bytes) = chunk.as_bytes() {
                    out.extend_from_slice(bytes);
                }
            }
            true
        }
    }

    /// Drains one body entirely.
    fn drain(&self, body: HttpBodyType) {
        // SAFETY: `envoy` is valid for the current hook.
        unsafe {
            let size = abi::envoy_dynamic_module_callback_http_get_body_size(self.envoy, body);
            if size > 0 {
                abi::envoy_dynamic_module_callback_http_drain_body(self.envoy, body, size);
            }
        }
    }

    /// Whether Envoy has a current chunk for this direction (only inside body hooks).
    fn has_received(&self, received: HttpBodyType) -> bool {
        // SAFETY: `envoy` is valid for the current hook.
        unsafe {
            abi::envoy_dynamic_module_callback_http_get_body_chunks_size(self.envoy, received) > 0
        }
    }

    /// The header map's entries (views into Envoy's buffers, valid for the current hook).
    fn header_entries(&self, dir: Direction) -> Vec<abi::EnvoyHttpHeader> {
        // SAFETY: `envoy` is valid for the current hook; the array is sized by Envoy's count.
        unsafe {
            let count = abi::envoy_dynamic_module_callback_http_get_headers_size(
                self.envoy,
                header_type(dir),
            );
            if count == 0 {
                return Vec::new();
            }
            let mut entries = vec![abi::EnvoyHttpHeader::empty(); count];
            if !abi::envoy_dynamic_module_callback_http_get_headers(
                self.envoy,
                header_type(dir),
                entries.as_mut_ptr(),
            ) {
                return Vec::new();
            }
            entries
        }
    }
}

fn header_type(dir: Direction) -> HttpHeaderType {
    match dir {
        Direction::Request => HttpHeaderType::RequestHeader,
        Direction::Response => HttpHeaderType::ResponseHeader,
    }
}

/// (current chunk, buffered body) for a direction.
fn body_types(dir: Direction) -> (HttpBodyType, HttpBodyType) {
    match dir {
        Direction::Request => (
            HttpBodyType::ReceivedRequestBody,
            HttpBodyType::BufferedRequestBody,
        ),
        Direction::Response => (
            HttpBodyType::ReceivedResponseBody,
            HttpBodyType::BufferedResponseBody,
        ),
    }
}

/// A filter's headers as the module-owned entries Envoy reads during one call.
fn module_headers(headers: &[(String, String)]) -> Vec<abi::ModuleHttpHeader> {
    headers
        .iter()
        .map(|(k, v)| abi::ModuleHttpHeader::new(k, v))
        .collect()
}

/// Starts `request` with `start`, one of Envoy's callout-starting callbacks (stream- or
/// config-level, bound to its owner), given the id slot, cluster, headers, body and timeout;
/// returns the callout's id.
pub(crate) fn start_callout(
    request: &CalloutRequest,
    start: impl FnOnce(
        *mut u64,
        ModuleBuffer,
        *mut abi::ModuleHttpHeader,
        usize,
        ModuleBuffer,
        u64,
    ) -> abi::CalloutInitResult,
) -> Result<u64, HostError> {
    let mut headers = module_headers(&request.headers);
    let mut id = 0u64;
    let code = start(
        &mut id,
        ModuleBuffer::from_text(&request.cluster),
        headers.as_mut_ptr(),
        headers.len(),
        ModuleBuffer::from_bytes(&request.body),
        request.timeout_ms,
    );
    init_result(code, &request.cluster).map(|()| id)
}

/// Wall-clock seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Envoy's answer to starting a callout, as the host's error.
fn init_result(code: abi::CalloutInitResult, cluster: &str) -> Result<(), HostError> {
    match code {
        abi::CALLOUT_INIT_SUCCESS => Ok(()),
        abi::CALLOUT_INIT_MISSING_REQUIRED_HEADERS => Err(HostError::CalloutRefused(
            "missing :method, :path or :authority".to_string(),
        )),
        abi::CALLOUT_INIT_CLUSTER_NOT_FOUND => Err(HostError::CalloutRefused(format!(
            "cluster `{cluster}` not found"
        ))),
        abi::CALLOUT_INIT_DUPLICATE_CALLOUT_ID => Err(HostError::CalloutRefused(
            "duplicate callout id".to_string(),
        )),
        abi::CALLOUT_INIT_CANNOT_CREATE_REQUEST => Err(HostError::CalloutRefused(format!(
            "cannot create a request to cluster `{cluster}`"
        ))),
        other => Err(HostError::CalloutRefused(format!("init result {other}"))),
    }
}

/// Process start for [`Host::monotonic_nanos`].
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl Host for EnvoyHost<'_> {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            metadata_sink: MetadataSink::DynamicMetadata,
            streaming_callouts: true,
        }
    }

    fn header(&self, dir: Direction, name: &str) -> Option<String> {
        let mut value = abi::EnvoyBuffer::empty();
        // SAFETY: `envoy` is valid for the current hook; `value` is written by Envoy and read
        // before any header mutation.
        unsafe {
            abi::envoy_dynamic_module_callback_http_get_header(
                self.envoy,
                header_type(dir),
                ModuleBuffer::from_text(name),
                &mut value,
                0,
                std::ptr::null_mut(),
            );
            value.as_bytes().map(|v| lossy(v).into_owned())
        }
    }

    fn header_values(&self, dir: Direction, names: &[&str]) -> Vec<Option<String>> {
        // One lookup is one `get_header`; for several, one fetch of the whole map is cheaper
        // than a by-name lookup each (Envoy lowercases the name and scans the map per call).
        if names.len() < 2 {
            return names.iter().map(|name| self.header(dir, name)).collect();
        }
        let entries = self.header_entries(dir);
        names
            .iter()
            .map(|name| {
                entries.iter().find_map(|entry| {
                    // SAFETY: Envoy keeps the map's buffers valid for the current hook.
                    let (key, value) = unsafe { entry.as_pair() };
                    (key == name.as_bytes()).then(|| lossy(value).into_owned())
                })
            })
            .collect()
    }

    fn headers(&self, dir: Direction) -> Vec<(String, String)> {
        self.header_entries(dir)
            .iter()
            .map(|entry| {
                // SAFETY: Envoy keeps the map's buffers valid for the current hook.
                let (key, value) = unsafe { entry.as_pair() };
                (lossy(key).into_owned(), lossy(value).into_owned())
            })
            .collect()
    }

    fn set_header(&mut self, dir: Direction, name: &str, value: &str) {
        // SAFETY: `envoy` is valid for the current hook; buffers outlive the call.
        unsafe {
            abi::envoy_dynamic_module_callback_http_set_header(
                self.envoy,
                header_type(dir),
                ModuleBuffer::from_text(name),
                ModuleBuffer::from_text(value),
            );
        }
    }

    fn remove_header(&mut self, dir: Direction, name: &str) {
        // SAFETY: as above; a null value asks Envoy to remove the header.
        unsafe {
            abi::envoy_dynamic_module_callback_http_set_header(
                self.envoy,
                header_type(dir),
                ModuleBuffer::from_text(name),
                ModuleBuffer::null(),
            );
        }
    }

    fn body(&self, dir: Direction) -> Vec<u8> {
        let (received, buffered) = body_types(dir);
        let mut out = Vec::new();
        let current_is_buffered = self.has_received(received) && self.received_is_buffered(dir);
        if !current_is_buffered {
            self.copy_body(buffered, &mut out);
        }
        self.copy_body(received, &mut out);
        out
    }

    fn set_body(&mut self, dir: Direction, data: &[u8]) -> Result<(), HostError> {
        let (received, buffered) = body_types(dir);
        // Outside a body hook there is no current chunk: the span is the buffered body alone.
        let target = if self.has_received(received) {
            if !self.received_is_buffered(dir) {
                self.drain(buffered);
            }
            received
        } else {
            buffered
        };
        self.drain(target);
        if data.is_empty() {
            return Ok(());
        }
        // SAFETY: `envoy` is valid for the current hook; `data` outlives the call.
        let append = |body| unsafe {
            abi::envoy_dynamic_module_callback_http_append_body(
                self.envoy,
                body,
                ModuleBuffer::from_bytes(data),
            )
        };
        // An empty last chunk (end of stream without data) counts as no current chunk, yet
        // bytes appended to the buffered body then never leave: the (empty) current chunk
        // takes them when there is one; outside body hooks only the buffered body exists.
        let appended = if target == buffered {
            append(received) || append(buffered)
        } else {
            append(received)
        };
        if appended {
            Ok(())
        } else {
            Err(HostError::NotAvailable("body"))
        }
    }

    fn send_local_reply(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        details: &str,
    ) {
        let mut entries: Vec<abi::ModuleHttpHeader> = headers
            .iter()
            .map(|(k, v)| abi::ModuleHttpHeader::new(k, v))
            .collect();
        // SAFETY: `envoy` is valid for the current hook; headers, body and details outlive
        // the call.
        unsafe {
            abi::envoy_dynamic_module_callback_http_send_response(
                self.envoy,
                u32::from(status),
                entries.as_mut_ptr(),
                entries.len(),
                ModuleBuffer::from_bytes(body),
                ModuleBuffer::from_text(details),
            );
        }
    }

    fn resume(&mut self, dir: Direction) {
        // SAFETY: `envoy` is valid for the current hook.
        unsafe {
            match dir {
                Direction::Request => {
                    abi::envoy_dynamic_module_callback_http_filter_continue_decoding(self.envoy)
                }
                Direction::Response => {
                    abi::envoy_dynamic_module_callback_http_filter_continue_encoding(self.envoy)
                }
            }
        }
    }

    fn clear_route_cache(&mut self) {
        // SAFETY: `envoy` is valid for the current hook; Envoy ignores it in the wrong phase.
        unsafe { abi::envoy_dynamic_module_callback_http_clear_route_cache(self.envoy) }
    }

    fn http_callout(&mut self, request: CalloutRequest) -> Result<CalloutId, HostError> {
        let envoy = self.envoy;
        // SAFETY: `envoy` is valid for the current hook; `start_callout`'s buffers outlive the call.
        start_callout(
            &request,
            |id, cluster, headers, count, body, timeout| unsafe {
                abi::envoy_dynamic_module_callback_http_filter_http_callout(
                    envoy, id, cluster, headers, count, body, timeout,
                )
            },
        )
        .map(CalloutId)
    }

    fn start_stream(&mut self, request: CalloutRequest) -> Result<StreamId, HostError> {
        let envoy = self.envoy;
        // SAFETY: as in `http_callout`; the request ends with its body.
        start_callout(
            &request,
            |id, cluster, headers, count, body, timeout| unsafe {
                abi::envoy_dynamic_module_callback_http_filter_start_http_stream(
                    envoy, id, cluster, headers, count, body, true, timeout,
                )
            },
        )
        .map(StreamId)
    }

    fn send_response_headers(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        end_of_stream: bool,
    ) -> Result<(), HostError> {
        let status = status.to_string();
        let mut all = vec![abi::ModuleHttpHeader::new(":status", &status)];
        all.extend(
            headers
                .iter()
                .map(|(k, v)| abi::ModuleHttpHeader::new(k, v)),
        );
        // SAFETY: `envoy` is valid for the current hook; the headers outlive the call.
        unsafe {
            abi::envoy_dynamic_module_callback_http_send_response_headers(
                self.envoy,
                all.as_mut_ptr(),
                all.len(),
                end_of_stream,
            );
        }
        Ok(())
    }

    fn send_response_data(&mut self, data: &[u8], end_of_stream: bool) -> Result<(), HostError> {
        // SAFETY: `envoy` is valid for the current hook; `data` outlives the call.
        unsafe {
            abi::envoy_dynamic_module_callback_http_send_response_data(
                self.envoy,
                ModuleBuffer::from_bytes(data),
                end_of_stream,
            );
        }
        Ok(())
    }

    fn metadata(&self, namespace: &str, key: &str) -> Option<String> {
        let mut value = abi::EnvoyBuffer::empty();
        // SAFETY: `envoy` is valid for the current hook; `value` is read before any mutation.
        unsafe {
            let found = abi::envoy_dynamic_module_callback_http_get_metadata_string(
                self.envoy,
                abi::MetadataSource::Dynamic,
                ModuleBuffer::from_text(namespace),
                ModuleBuffer::from_text(key),
                &mut value,
            );
            if found {
                value.as_bytes().map(|v| lossy(v).into_owned())
            } else {
                None
            }
        }
    }

    fn upstream_address(&self) -> Option<String> {
        let mut value = abi::EnvoyBuffer::empty();
        // SAFETY: `envoy` is valid for the current hook; `value` is read before any mutation.
        unsafe {
            let found = abi::envoy_dynamic_module_callback_http_filter_get_attribute_string(
                self.envoy,
                abi::ATTRIBUTE_UPSTREAM_ADDRESS,
                &mut value,
            );
            if found {
                value.as_bytes().map(|v| lossy(v).into_owned())
            } else {
                None
            }
        }
    }

    fn set_upstream_override_host(&mut self, host: &str, strict: bool) -> Result<(), HostError> {
        // SAFETY: `envoy` is valid for the current hook; the buffer outlives the call.
        let accepted = unsafe {
            abi::envoy_dynamic_module_callback_http_set_upstream_override_host(
                self.envoy,
                ModuleBuffer::from_text(host),
                strict,
            )
        };
        if accepted {
            Ok(())
        } else {
            Err(HostError::NotAvailable(
                "upstream override host (not an IP address, or no request in progress)",
            ))
        }
    }

    fn start_timer(&mut self, delay_ms: u64) -> Result<(), HostError> {
        let timer = self
            .timer
            .as_deref_mut()
            .ok_or(HostError::NotAvailable("stream timers outside a stream"))?;
        // SAFETY: `envoy` is the filter pointer of the current hook of the timer's stream.
        unsafe { timer.arm(self.envoy, std::time::Duration::from_millis(delay_ms)) }
    }

    fn set_metadata(&mut self, namespace: &str, key: &str, value: &str) {
        // SAFETY: `envoy` is valid for the current hook; buffers outlive the call.
        unsafe {
            abi::envoy_dynamic_module_callback_http_set_dynamic_metadata_string(
                self.envoy,
                ModuleBuffer::from_text(namespace),
                ModuleBuffer::from_text(key),
                ModuleBuffer::from_text(value),
            );
        }
    }

    fn counter_add(&mut self, metric: MetricId, tags: &[&str], delta: u64) {
        let delta = i64::try_from(delta).unwrap_or(i64::MAX);
        self.metrics.add(metric, MetricKind::Counter, tags, delta);
    }

    fn gauge_add(&mut self, metric: MetricId, tags: &[&str], delta: i64) {
        self.metrics.add(metric, MetricKind::Gauge, tags, delta);
    }

    fn histogram_record(&mut self, metric: MetricId, tags: &[&str], value: u64) {
        self.metrics.sample(metric, tags, value);
    }

    fn monotonic_nanos(&self) -> u64 {
        u64::try_from(epoch().elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn unix_seconds(&self) -> u64 {
        unix_seconds()
    }

    fn unix_millis(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    fn shared_get(&self, key: &str) -> Option<SharedValue> {
        shared_store::get(key)
    }

    fn shared_set(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError> {
        shared_store::set(key, value, cas)
    }

    fn random_bytes(&self, buf: &mut [u8]) -> Result<(), HostError> {
        // The OS CSPRNG (getrandom(2) on Linux): Envoy's dynamic-module ABI has no random callback.
        getrandom::fill(buf).map_err(|err| {
            envoy_log::log(LogLevel::Error, format_args!("OS randomness failed: {err}"));
            HostError::NotAvailable("OS randomness")
        })
    }

    fn log(&self, level: LogLevel, message: fmt::Arguments<'_>) {
        envoy_log::log(level, message);
    }
}

/// Converts a finished callout as Envoy reports it into the core's result.
///
/// # Safety
/// `headers`/`body` must be Envoy's arrays of the given sizes (or null), valid for the hook.
pub unsafe fn callout_result(
    code: abi::CalloutResultCode,
    headers: *const abi::EnvoyHttpHeader,
    headers_size: usize,
    body: *const abi::EnvoyBuffer,
    body_size: usize,
) -> CalloutResult {
    match code {
        abi::CALLOUT_SUCCESS => {}
        abi::CALLOUT_EXCEED_RESPONSE_BUFFER_LIMIT => return Err(CalloutFailure::TooLarge),
        _ => return Err(CalloutFailure::Reset),
    }
    let headers: Vec<(String, String)> = if headers.is_null() {
        Vec::new()
    } else {
        std::slice::from_raw_parts(headers, headers_size)
            .iter()
            .map(|entry| {
                let (key, value) = entry.as_pair();
                (lossy(key).into_owned(), lossy(value).into_owned())
            })
            .collect()
    };
    let mut bytes = Vec::new();
    if !body.is_null() {
        for chunk in std::slice::from_raw_parts(body, body_size) {
            if let Some(data) = chunk.as_bytes() {
                bytes.extend_from_slice(data);
            }
        }
    }
    let status = headers
        .iter()
        .find(|(k, _)| k == ":status")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    Ok(CalloutResponse {
        status,
        headers,
        body: bytes,
    })
}
