//! Every call into the host, in one place. Each wrapper returns a `Result` instead of
//! panicking: the proxy-wasm crate's own `hostcalls` panic on statuses Envoy really returns
//! (e.g. `BadArgument` for response headers read while the request is still in flight, or
//! non-UTF-8 header bytes), and a panic in Wasm aborts the VM.
//!
//! Only `dispatch_http_call` goes through the crate, because its dispatcher must learn the
//! token to route `on_http_call_response` back to the stream; Envoy returns only the statuses
//! that function handles (`Ok`, `BadArgument`, `InternalFailure`).

use std::ptr::{null, null_mut};
use std::time::Duration;

use proxy_wasm::types::{BufferType, LogLevel, MapType, MetricType, StreamType};

use crate::wire;

/// A host call that returned a status other than success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{call} failed with proxy-wasm status {status}")]
pub(crate) struct HostCallError {
    /// The ABI function that failed.
    pub call: &'static str,
    /// The proxy-wasm status code (1 NotFound, 2 BadArgument, 10 InternalFailure, ...).
    pub status: u32,
}

/// The outcome of a host call.
pub(crate) type HostResult<T> = Result<T, HostCallError>;

const OK: u32 = 0;
const NOT_FOUND: u32 = 1;
/// proxy-wasm's `CasMismatch` status.
pub(crate) const CAS_MISMATCH: u32 = 8;
const WASI_CLOCK_MONOTONIC: i32 = 1;

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_log_level(return_level: *mut u32) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    fn proxy_set_buffer_bytes(
        buffer_type: u32,
        start: usize,
        size: usize,
        data: *const u8,
        data_size: usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(
        map_type: u32,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    fn proxy_replace_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
    fn proxy_get_property(
        path_data: *const u8,
        path_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    fn proxy_set_property(
        path_data: *const u8,
        path_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_continue_stream(stream_type: u32) -> u32;
    fn proxy_send_local_response(
        status_code: u32,
        details_data: *const u8,
        details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_call_foreign_function(
        name_data: *const u8,
        name_size: usize,
        args_data: *const u8,
        args_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    fn proxy_define_metric(
        metric_type: u32,
        name_data: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_record_metric(metric_id: u32, value: u64) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_set_effective_context(context_id: u32) -> u32;
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
}

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    /// Same import (and wasm signature) as Rust std's `Instant::now`, minus its panic on error.
    fn clock_time_get(clock_id: i32, precision: i64, time: i32) -> i32;
    /// Envoy (proxy-wasm-cpp-host) fills it from BoringSSL's `RAND_bytes`.
    fn random_get(buf: i32, buf_len: i32) -> i32;
}

/// The most `random_get` fills per call in Envoy (proxy-wasm-cpp-host refuses more, EINVAL).
const RANDOM_GET_MAX_BYTES: usize = 64 * 1024;

fn check(call: &'static str, status: u32) -> HostResult<()> {
    match status {
        OK => Ok(()),
        status => Err(HostCallError { call, status }),
    }
}

/// Takes ownership of a host-returned buffer. The host allocated it through the proxy-wasm
/// crate's `proxy_on_memory_allocate`, which hands out exactly `size` bytes from our allocator.
///
/// # Safety
/// `data`/`size` must come from a host call that just returned `Ok`.
unsafe fn take_host_bytes(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() {
        Vec::new()
    } else {
        Vec::from_raw_parts(data, size, size)
    }
}

/// Writes a line to Envoy's log at `level`.
pub(crate) fn log(level: LogLevel, message: &str) -> HostResult<()> {
    let status = unsafe { proxy_log(level as u32, message.as_ptr(), message.len()) };
    check("proxy_log", status)
}

/// Envoy's current log level, as spdlog numbers it (0 trace .. 5 critical, 6 off).
pub(crate) fn log_level() -> HostResult<u32> {
    let mut level = 0u32;
    check("proxy_get_log_level", unsafe {
        proxy_get_log_level(&mut level)
    })?;
    Ok(level)
}

/// Wall-clock time in nanoseconds since the Unix epoch.
pub(crate) fn wall_clock_nanos() -> HostResult<u64> {
    let mut nanos = 0u64;
    let status = unsafe { proxy_get_current_time_nanoseconds(&mut nanos) };
    check("proxy_get_current_time_nanoseconds", status)?;
    Ok(nanos)
}

/// Wall-clock seconds since the Unix epoch (0 if the host cannot tell).
pub(crate) fn unix_seconds() -> u64 {
    wall_clock_nanos().map_or(0, |nanos| nanos / 1_000_000_000)
}

/// Envoy's monotonic clock through WASI `clock_time_get(CLOCK_MONOTONIC)`.
pub(crate) fn monotonic_nanos() -> HostResult<u64> {
    let mut nanos = 0u64;
    // The wasm32 ABI passes the out-pointer as an i32 address.
    let errno = unsafe { clock_time_get(WASI_CLOCK_MONOTONIC, 1, &mut nanos as *mut u64 as i32) };
    match errno {
        0 => Ok(nanos),
        errno => Err(HostCallError {
            call: "clock_time_get",
            status: errno as u32,
        }),
    }
}

/// Fills `buf` from the host's CSPRNG through WASI `random_get`.
pub(crate) fn random_bytes(buf: &mut [u8]) -> HostResult<()> {
    for chunk in buf.chunks_mut(RANDOM_GET_MAX_BYTES) {
        // The wasm32 ABI passes the pointer as an i32 address; a chunk's length fits in i32.
        let errno = unsafe { random_get(chunk.as_mut_ptr() as i32, chunk.len() as i32) };
        if errno != 0 {
            return Err(HostCallError {
                call: "random_get",
                status: errno as u32,
            });
        }
    }
    Ok(())
}

/// A shared-data key's bytes and compare-and-swap token; `None` when the key is absent.
pub(crate) fn shared_data(key: &str) -> HostResult<Option<(Vec<u8>, u32)>> {
    let mut data = null_mut();
    let mut size = 0usize;
    let mut cas = 0u32;
    let status =
        unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) };
    match status {
        OK => Ok(Some((unsafe { take_host_bytes(data, size) }, cas))),
        NOT_FOUND => Ok(None),
        status => Err(HostCallError {
            call: "proxy_get_shared_data",
            status,
        }),
    }
}

/// Writes a shared-data key; `cas` 0 writes unconditionally.
pub(crate) fn set_shared_data(key: &str, value: &[u8], cas: u32) -> HostResult<()> {
    let status =
        unsafe { proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas) };
    check("proxy_set_shared_data", status)
}

/// Up to `max_size` bytes of a host buffer from `start`; empty when the buffer is absent.
pub(crate) fn buffer(kind: BufferType, start: usize, max_size: usize) -> HostResult<Vec<u8>> {
    let mut data = null_mut();
    let mut size = 0usize;
    let status =
        unsafe { proxy_get_buffer_bytes(kind as u32, start, max_size, &mut data, &mut size) };
    match status {
        OK => Ok(unsafe { take_host_bytes(data, size) }),
        NOT_FOUND => Ok(Vec::new()),
        status => Err(HostCallError {
            call: "proxy_get_buffer_bytes",
            status,
        }),
    }
}

/// Replaces `size` bytes of a host buffer from `start` with `data` (Envoy: from 0 with a size
/// covering the whole buffer replaces all of it).
pub(crate) fn set_buffer(
    kind: BufferType,
    start: usize,
    size: usize,
    data: &[u8],
) -> HostResult<()> {
    let status =
        unsafe { proxy_set_buffer_bytes(kind as u32, start, size, data.as_ptr(), data.len()) };
    check("proxy_set_buffer_bytes", status)
}

/// Every entry of a header map, in order.
pub(crate) fn header_pairs(map: MapType) -> HostResult<Vec<(String, String)>> {
    header_map_bytes(map).map(|bytes| wire::decode_pairs(&bytes))
}

/// The first value of each of `names` in a header map, in one host call.
pub(crate) fn header_values(map: MapType, names: &[&str]) -> HostResult<Vec<Option<String>>> {
    header_map_bytes(map).map(|bytes| wire::find_values(&bytes, names))
}

/// A whole header map, encoded as `wire` decodes it.
fn header_map_bytes(map: MapType) -> HostResult<Vec<u8>> {
    let mut data = null_mut();
    let mut size = 0usize;
    let status = unsafe { proxy_get_header_map_pairs(map as u32, &mut data, &mut size) };
    check("proxy_get_header_map_pairs", status)?;
    Ok(unsafe { take_host_bytes(data, size) })
}

/// The first value of a header; `None` when absent.
pub(crate) fn header_value(map: MapType, name: &str) -> HostResult<Option<String>> {
    let mut data = null_mut();
    let mut size = 0usize;
    let status = unsafe {
        proxy_get_header_map_value(map as u32, name.as_ptr(), name.len(), &mut data, &mut size)
    };
    match status {
        OK => {
            let bytes = unsafe { take_host_bytes(data, size) };
            Ok(Some(ai_gateway_core::text::lossy_owned(bytes)))
        }
        NOT_FOUND => Ok(None),
        status => Err(HostCallError {
            call: "proxy_get_header_map_value",
            status,
        }),
    }
}

/// Sets a header to a single value.
pub(crate) fn replace_header(map: MapType, name: &str, value: &str) -> HostResult<()> {
    let status = unsafe {
        proxy_replace_header_map_value(
            map as u32,
            name.as_ptr(),
            name.len(),
            value.as_ptr(),
            value.len(),
        )
    };
    check("proxy_replace_header_map_value", status)
}

/// Removes every value of a header.
pub(crate) fn remove_header(map: MapType, name: &str) -> HostResult<()> {
    let status = unsafe { proxy_remove_header_map_value(map as u32, name.as_ptr(), name.len()) };
    check("proxy_remove_header_map_value", status)
}

/// A property's serialized value; `None` when the path does not resolve.
pub(crate) fn property(path: &[&str]) -> HostResult<Option<Vec<u8>>> {
    let encoded = wire::encode_path(path);
    let mut data = null_mut();
    let mut size = 0usize;
    let status =
        unsafe { proxy_get_property(encoded.as_ptr(), encoded.len(), &mut data, &mut size) };
    match status {
        OK => Ok(Some(unsafe { take_host_bytes(data, size) })),
        NOT_FOUND => Ok(None),
        status => Err(HostCallError {
            call: "proxy_get_property",
            status,
        }),
    }
}

/// Writes a property; Envoy stores it as filter state `wasm.<path>`.
pub(crate) fn set_property(path: &[&str], value: &[u8]) -> HostResult<()> {
    let encoded = wire::encode_path(path);
    let status =
        unsafe { proxy_set_property(encoded.as_ptr(), encoded.len(), value.as_ptr(), value.len()) };
    check("proxy_set_property", status)
}

/// Resumes a paused request or response.
pub(crate) fn continue_stream(kind: StreamType) -> HostResult<()> {
    check("proxy_continue_stream", unsafe {
        proxy_continue_stream(kind as u32)
    })
}

/// Answers the request locally; `details` becomes `%RESPONSE_CODE_DETAILS%`.
pub(crate) fn send_local_response(
    status_code: u16,
    details: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> HostResult<()> {
    let headers = wire::encode_pairs(headers);
    // -1: no gRPC status, so Envoy adds no grpc-status header.
    let status = unsafe {
        proxy_send_local_response(
            u32::from(status_code),
            details.as_ptr(),
            details.len(),
            body.as_ptr(),
            body.len(),
            headers.as_ptr(),
            headers.len(),
            -1,
        )
    };
    check("proxy_send_local_response", status)
}

/// Calls a host-side foreign function (e.g. Envoy's `clear_route_cache`).
pub(crate) fn call_foreign_function(name: &str, args: &[u8]) -> HostResult<Vec<u8>> {
    let mut data = null_mut();
    let mut size = 0usize;
    let args_ptr = if args.is_empty() {
        null()
    } else {
        args.as_ptr()
    };
    let status = unsafe {
        proxy_call_foreign_function(
            name.as_ptr(),
            name.len(),
            args_ptr,
            args.len(),
            &mut data,
            &mut size,
        )
    };
    check("proxy_call_foreign_function", status)?;
    Ok(unsafe { take_host_bytes(data, size) })
}

/// Starts an HTTP call to an Envoy cluster; the response arrives in `on_http_call_response`.
pub(crate) fn dispatch_http_call(
    cluster: &str,
    headers: Vec<(&str, &str)>,
    body: Option<&[u8]>,
    timeout: Duration,
) -> HostResult<u32> {
    proxy_wasm::hostcalls::dispatch_http_call(cluster, headers, body, Vec::new(), timeout).map_err(
        |status| HostCallError {
            call: "proxy_http_call",
            status: status as u32,
        },
    )
}

/// Defines (or finds) a stat; Envoy prefixes the name with `wasmcustom.`.
pub(crate) fn define_metric(kind: MetricType, name: &str) -> HostResult<u32> {
    let mut id = 0u32;
    let status = unsafe { proxy_define_metric(kind as u32, name.as_ptr(), name.len(), &mut id) };
    check("proxy_define_metric", status)?;
    Ok(id)
}

/// Adds to a counter (`offset` > 0) or a gauge (any sign).
pub(crate) fn increment_metric(id: u32, offset: i64) -> HostResult<()> {
    check("proxy_increment_metric", unsafe {
        proxy_increment_metric(id, offset)
    })
}

/// Records a histogram sample (or sets a gauge).
pub(crate) fn record_metric(id: u32, value: u64) -> HostResult<()> {
    check("proxy_record_metric", unsafe {
        proxy_record_metric(id, value)
    })
}

/// Makes the following host calls act on context `context_id` (a stream, from the root's tick:
/// its headers, its local reply). Envoy resets it when the current callback returns.
pub(crate) fn set_effective_context(context_id: u32) -> HostResult<()> {
    check("proxy_set_effective_context", unsafe {
        proxy_set_effective_context(context_id)
    })
}

/// Calls the root context's `on_tick` every `period_ms` (0 stops the ticks). From a stream,
/// Envoy applies it to the stream's root context.
pub(crate) fn set_tick_period(period_ms: u32) -> HostResult<()> {
    check("proxy_set_tick_period_milliseconds", unsafe {
        proxy_set_tick_period_milliseconds(period_ms)
    })
}
