//! Hand-written bindings to the part of Envoy's dynamic-module C ABI this adapter uses
//! (`source/extensions/dynamic_modules/abi/abi.h`, Envoy 1.40, ABI version "v0.2.0").
//!
//! Only what the adapter calls or must export is declared here. Every callback name was checked
//! against the symbols the Envoy 1.40 binary exports (`nm -D --defined-only envoy`), because a
//! callback Envoy does not export makes `dlopen` of the module fail.
//!
//! C enums are 32-bit. Enums the module hands to Envoy are Rust `#[repr(u32)]` enums; values
//! Envoy hands to the module are plain `u32` with named constants, so an enumerator added by a
//! newer Envoy can never be an invalid Rust enum value.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void};

/// The ABI version this module is built against, returned from `on_program_init`.
pub const ABI_VERSION: &[u8] = b"v0.2.0\0";

/// Envoy's `DynamicModuleHttpFilterConfig` (owned by Envoy).
pub type HttpFilterConfigEnvoyPtr = *mut c_void;
/// The module's per-config state (owned by the module until `on_http_filter_config_destroy`).
pub type HttpFilterConfigModulePtr = *const c_void;
/// Envoy's scheduler of events for a config on the main thread (owned by the module until
/// `..._config_scheduler_delete`).
pub type HttpFilterConfigSchedulerPtr = *mut c_void;
/// Envoy's scheduler of events for one stream on its worker thread (owned by the module until
/// `..._http_filter_scheduler_delete`).
pub type HttpFilterSchedulerPtr = *mut c_void;
/// The module's per-route config (this module has none).
pub type HttpFilterPerRouteConfigModulePtr = *const c_void;
/// Envoy's `DynamicModuleHttpFilter`, valid until `on_http_filter_destroy`.
pub type HttpFilterEnvoyPtr = *mut c_void;
/// The module's per-stream state (owned by the module until `on_http_filter_destroy`).
pub type HttpFilterModulePtr = *const c_void;

/// A byte buffer owned by Envoy, valid for the duration of the current hook.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct EnvoyBuffer {
    pub ptr: *const c_char,
    pub length: usize,
}

impl EnvoyBuffer {
    /// An empty buffer for Envoy to fill in.
    pub const fn empty() -> Self {
        EnvoyBuffer {
            ptr: std::ptr::null(),
            length: 0,
        }
    }

    /// The bytes, or `None` when Envoy left the pointer null.
    ///
    /// # Safety
    /// `ptr`/`length` must describe memory Envoy keeps valid for the returned lifetime.
    pub unsafe fn as_bytes<'a>(&self) -> Option<&'a [u8]> {
        if self.ptr.is_null() {
            None
        } else {
            Some(std::slice::from_raw_parts(
                self.ptr.cast::<u8>(),
                self.length,
            ))
        }
    }
}

/// A byte buffer owned by the module, read by Envoy during the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ModuleBuffer {
    pub ptr: *const c_char,
    pub length: usize,
}

impl ModuleBuffer {
    /// Borrows `bytes` for the duration of one callback.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        ModuleBuffer {
            ptr: bytes.as_ptr().cast(),
            length: bytes.len(),
        }
    }

    /// Borrows a string for the duration of one callback.
    pub fn from_text(text: &str) -> Self {
        ModuleBuffer::from_bytes(text.as_bytes())
    }

    /// The null buffer, which some callbacks read as "absent" (e.g. remove a header).
    pub const fn null() -> Self {
        ModuleBuffer {
            ptr: std::ptr::null(),
            length: 0,
        }
    }
}

/// A header owned by the module (local replies, callouts).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ModuleHttpHeader {
    pub key_ptr: *const c_char,
    pub key_length: usize,
    pub value_ptr: *const c_char,
    pub value_length: usize,
}

impl ModuleHttpHeader {
    /// Borrows a name and value for the duration of one callback.
    pub fn new(key: &str, value: &str) -> Self {
        ModuleHttpHeader {
            key_ptr: key.as_ptr().cast(),
            key_length: key.len(),
            value_ptr: value.as_ptr().cast(),
            value_length: value.len(),
        }
    }
}

/// A header owned by Envoy's header map.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct EnvoyHttpHeader {
    pub key_ptr: *const c_char,
    pub key_length: usize,
    pub value_ptr: *const c_char,
    pub value_length: usize,
}

impl EnvoyHttpHeader {
    /// A zeroed entry for Envoy to fill in.
    pub const fn empty() -> Self {
        EnvoyHttpHeader {
            key_ptr: std::ptr::null(),
            key_length: 0,
            value_ptr: std::ptr::null(),
            value_length: 0,
        }
    }

    /// Name and value bytes (empty when null).
    ///
    /// # Safety
    /// The pointers must describe memory Envoy keeps valid for the returned lifetime.
    pub unsafe fn as_pair<'a>(&self) -> (&'a [u8], &'a [u8]) {
        let part = |ptr: *const c_char, len: usize| -> &'a [u8] {
            if ptr.is_null() {
                &[]
            } else {
                std::slice::from_raw_parts(ptr.cast::<u8>(), len)
            }
        };
        (
            part(self.key_ptr, self.key_length),
            part(self.value_ptr, self.value_length),
        )
    }
}

/// Which header map a header callback addresses.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpHeaderType {
    RequestHeader = 0,
    RequestTrailer = 1,
    ResponseHeader = 2,
    ResponseTrailer = 3,
}

/// Which body a body callback addresses: the chunk of the current hook, or what earlier hooks
/// buffered.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpBodyType {
    ReceivedRequestBody = 0,
    BufferedRequestBody = 1,
    ReceivedResponseBody = 2,
    BufferedResponseBody = 3,
}

/// Envoy log levels (spdlog order).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Critical = 5,
}

/// Where a metadata read looks.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataSource {
    /// The stream's dynamic metadata.
    Dynamic = 0,
}

/// `envoy_dynamic_module_type_attribute_id_UpstreamAddress` (`upstream.address`): its index in
/// abi.h's attribute enum (request.* 0-14, response.* 15-23, source/destination 24-27,
/// connection.* 28-40). The host-conformance and inference e2e suites check the value.
pub const ATTRIBUTE_UPSTREAM_ADDRESS: u32 = 41;

/// `FilterHeadersStatus` for request and response headers.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadersStatus {
    Continue = 0,
    StopIteration = 1,
}

/// `FilterDataStatus` for request and response bodies.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyStatus {
    Continue = 0,
    StopIterationAndBuffer = 1,
    StopIterationNoBuffer = 3,
}

/// `FilterTrailersStatus` for request and response trailers.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrailersStatus {
    Continue = 0,
    StopIteration = 1,
}

/// What Envoy does after `on_http_filter_local_reply`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalReplyStatus {
    Continue = 0,
}

/// `envoy_dynamic_module_type_metrics_result`.
pub type MetricsResult = u32;
pub const METRICS_SUCCESS: MetricsResult = 0;

/// `envoy_dynamic_module_type_http_callout_init_result`.
pub type CalloutInitResult = u32;
pub const CALLOUT_INIT_SUCCESS: CalloutInitResult = 0;
pub const CALLOUT_INIT_MISSING_REQUIRED_HEADERS: CalloutInitResult = 1;
pub const CALLOUT_INIT_CLUSTER_NOT_FOUND: CalloutInitResult = 2;
pub const CALLOUT_INIT_DUPLICATE_CALLOUT_ID: CalloutInitResult = 3;
pub const CALLOUT_INIT_CANNOT_CREATE_REQUEST: CalloutInitResult = 4;

/// `envoy_dynamic_module_type_http_callout_result`.
pub type CalloutResultCode = u32;
pub const CALLOUT_SUCCESS: CalloutResultCode = 0;
pub const CALLOUT_RESET: CalloutResultCode = 1;
pub const CALLOUT_EXCEED_RESPONSE_BUFFER_LIMIT: CalloutResultCode = 2;

/// `envoy_dynamic_module_type_http_stream_reset_reason` (streamed callouts; unused here).
pub type HttpStreamResetReason = u32;

extern "C" {
    // --- Logging ---
    pub fn envoy_dynamic_module_callback_log_enabled(level: LogLevel) -> bool;
    pub fn envoy_dynamic_module_callback_log_v2(
        level: LogLevel,
        message: ModuleBuffer,
        source_file: ModuleBuffer,
        source_line: u32,
    );

    // --- Metrics (defined on the config at creation) ---
    pub fn envoy_dynamic_module_callback_http_filter_config_define_counter(
        config: HttpFilterConfigEnvoyPtr,
        name: ModuleBuffer,
        label_names: *mut ModuleBuffer,
        label_names_length: usize,
        counter_id: *mut usize,
    ) -> MetricsResult;
    pub fn envoy_dynamic_module_callback_http_filter_config_define_gauge(
        config: HttpFilterConfigEnvoyPtr,
        name: ModuleBuffer,
        label_names: *mut ModuleBuffer,
        label_names_length: usize,
        gauge_id: *mut usize,
    ) -> MetricsResult;
    pub fn envoy_dynamic_module_callback_http_filter_config_define_histogram(
        config: HttpFilterConfigEnvoyPtr,
        name: ModuleBuffer,
        label_names: *mut ModuleBuffer,
        label_names_length: usize,
        histogram_id: *mut usize,
    ) -> MetricsResult;

    // --- Metrics recorded on the config (main thread, batched updates) ---
    pub fn envoy_dynamic_module_callback_http_filter_config_increment_counter(
        config: HttpFilterConfigEnvoyPtr,
        id: usize,
        label_values: *mut ModuleBuffer,
        label_values_length: usize,
        value: u64,
    ) -> MetricsResult;
    pub fn envoy_dynamic_module_callback_http_filter_config_increment_gauge(
        config: HttpFilterConfigEnvoyPtr,
        id: usize,
        label_values: *mut ModuleBuffer,
        label_values_length: usize,
        value: u64,
    ) -> MetricsResult;
    pub fn envoy_dynamic_module_callback_http_filter_config_decrement_gauge(
        config: HttpFilterConfigEnvoyPtr,
        id: usize,
        label_values: *mut ModuleBuffer,
        label_values_length: usize,
        value: u64,
    ) -> MetricsResult;
    pub fn envoy_dynamic_module_callback_http_filter_config_record_histogram_value(
        config: HttpFilterConfigEnvoyPtr,
        id: usize,
        label_values: *mut ModuleBuffer,
        label_values_length: usize,
        value: u64,
    ) -> MetricsResult;

    // --- Config scheduler: runs `on_http_filter_config_scheduled` on the main thread ---
    pub fn envoy_dynamic_module_callback_http_filter_config_scheduler_new(
        config: HttpFilterConfigEnvoyPtr,
    ) -> HttpFilterConfigSchedulerPtr;
    /// Thread-safe: posts the event to the main thread's dispatcher.
    pub fn envoy_dynamic_module_callback_http_filter_config_scheduler_commit(
        scheduler: HttpFilterConfigSchedulerPtr,
        event_id: u64,
    );
    pub fn envoy_dynamic_module_callback_http_filter_config_scheduler_delete(
        scheduler: HttpFilterConfigSchedulerPtr,
    );

    // --- Stream scheduler: runs `on_http_filter_scheduled` on the stream's worker thread ---
    pub fn envoy_dynamic_module_callback_http_filter_scheduler_new(
        filter: HttpFilterEnvoyPtr,
    ) -> HttpFilterSchedulerPtr;
    /// Thread-safe: posts the event to the stream's worker dispatcher.
    pub fn envoy_dynamic_module_callback_http_filter_scheduler_commit(
        scheduler: HttpFilterSchedulerPtr,
        event_id: u64,
    );
    pub fn envoy_dynamic_module_callback_http_filter_scheduler_delete(
        scheduler: HttpFilterSchedulerPtr,
    );

    // --- Headers ---
    pub fn envoy_dynamic_module_callback_http_get_header(
        filter: HttpFilterEnvoyPtr,
        header_type: HttpHeaderType,
        key: ModuleBuffer,
        result: *mut EnvoyBuffer,
        index: usize,
        optional_size: *mut usize,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_get_headers_size(
        filter: HttpFilterEnvoyPtr,
        header_type: HttpHeaderType,
    ) -> usize;
    pub fn envoy_dynamic_module_callback_http_get_headers(
        filter: HttpFilterEnvoyPtr,
        header_type: HttpHeaderType,
        result_headers: *mut EnvoyHttpHeader,
    ) -> bool;
    /// Replaces every value of `key`; a null `value` removes the header.
    pub fn envoy_dynamic_module_callback_http_set_header(
        filter: HttpFilterEnvoyPtr,
        header_type: HttpHeaderType,
        key: ModuleBuffer,
        value: ModuleBuffer,
    ) -> bool;

    // --- Local reply ---
    pub fn envoy_dynamic_module_callback_http_send_response(
        filter: HttpFilterEnvoyPtr,
        status_code: u32,
        headers: *mut ModuleHttpHeader,
        headers_size: usize,
        body: ModuleBuffer,
        details: ModuleBuffer,
    );
    /// Starts a response the module streams; `:status` must be among the headers.
    pub fn envoy_dynamic_module_callback_http_send_response_headers(
        filter: HttpFilterEnvoyPtr,
        headers: *mut ModuleHttpHeader,
        headers_size: usize,
        end_stream: bool,
    );
    pub fn envoy_dynamic_module_callback_http_send_response_data(
        filter: HttpFilterEnvoyPtr,
        data: ModuleBuffer,
        end_stream: bool,
    );

    // --- Streamed callouts (answers arrive in `on_http_filter_http_stream_*`) ---
    pub fn envoy_dynamic_module_callback_http_filter_start_http_stream(
        filter: HttpFilterEnvoyPtr,
        stream_id: *mut u64,
        cluster: ModuleBuffer,
        headers: *mut ModuleHttpHeader,
        headers_size: usize,
        body: ModuleBuffer,
        end_stream: bool,
        timeout_milliseconds: u64,
    ) -> CalloutInitResult;

    // --- Body ---
    pub fn envoy_dynamic_module_callback_http_get_body_size(
        filter: HttpFilterEnvoyPtr,
        body_type: HttpBodyType,
    ) -> usize;
    pub fn envoy_dynamic_module_callback_http_get_body_chunks_size(
        filter: HttpFilterEnvoyPtr,
        body_type: HttpBodyType,
    ) -> usize;
    pub fn envoy_dynamic_module_callback_http_get_body_chunks(
        filter: HttpFilterEnvoyPtr,
        body_type: HttpBodyType,
        result: *mut EnvoyBuffer,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_append_body(
        filter: HttpFilterEnvoyPtr,
        body_type: HttpBodyType,
        data: ModuleBuffer,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_drain_body(
        filter: HttpFilterEnvoyPtr,
        body_type: HttpBodyType,
        number_of_bytes: usize,
    ) -> bool;
    /// Whether the current request chunk *is* the buffered request body (an earlier filter
    /// buffered it and resumed).
    pub fn envoy_dynamic_module_callback_http_received_buffered_request_body(
        filter: HttpFilterEnvoyPtr,
    ) -> bool;
    /// Response-side twin of the above.
    pub fn envoy_dynamic_module_callback_http_received_buffered_response_body(
        filter: HttpFilterEnvoyPtr,
    ) -> bool;

    // --- Dynamic metadata ---
    pub fn envoy_dynamic_module_callback_http_get_metadata_string(
        filter: HttpFilterEnvoyPtr,
        source: MetadataSource,
        namespace: ModuleBuffer,
        key: ModuleBuffer,
        result: *mut EnvoyBuffer,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_set_dynamic_metadata_string(
        filter: HttpFilterEnvoyPtr,
        namespace: ModuleBuffer,
        key: ModuleBuffer,
        value: ModuleBuffer,
    );

    // --- Upstream ---
    /// `attribute_id` 41 is `upstream.address` (see [`ATTRIBUTE_UPSTREAM_ADDRESS`]).
    pub fn envoy_dynamic_module_callback_http_filter_get_attribute_string(
        filter: HttpFilterEnvoyPtr,
        attribute_id: u32,
        result: *mut EnvoyBuffer,
    ) -> bool;
    pub fn envoy_dynamic_module_callback_http_set_upstream_override_host(
        filter: HttpFilterEnvoyPtr,
        host: ModuleBuffer,
        strict: bool,
    ) -> bool;

    // --- Stream control ---
    pub fn envoy_dynamic_module_callback_http_clear_route_cache(filter: HttpFilterEnvoyPtr);
    pub fn envoy_dynamic_module_callback_http_filter_continue_decoding(filter: HttpFilterEnvoyPtr);
    pub fn envoy_dynamic_module_callback_http_filter_continue_encoding(filter: HttpFilterEnvoyPtr);

    // --- HTTP callouts ---
    pub fn envoy_dynamic_module_callback_http_filter_http_callout(
        filter: HttpFilterEnvoyPtr,
        callout_id_out: *mut u64,
        cluster_name: ModuleBuffer,
        headers: *mut ModuleHttpHeader,
        headers_size: usize,
        body: ModuleBuffer,
        timeout_milliseconds: u64,
    ) -> CalloutInitResult;
    /// A callout of the config itself (main thread); answered in
    /// `on_http_filter_config_http_callout_done`.
    pub fn envoy_dynamic_module_callback_http_filter_config_http_callout(
        config: HttpFilterConfigEnvoyPtr,
        callout_id_out: *mut u64,
        cluster_name: ModuleBuffer,
        headers: *mut ModuleHttpHeader,
        headers_size: usize,
        body: ModuleBuffer,
        timeout_milliseconds: u64,
    ) -> CalloutInitResult;
}
