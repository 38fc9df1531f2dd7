//! The event hooks Envoy resolves in the module (`envoy_dynamic_module_on_*`).
//!
//! Envoy 1.40 refuses an HTTP-filter module that lacks any hook it resolves as required, so
//! every HTTP-filter hook the binary looks up is exported; the ones this adapter has no use for
//! (config-level streamed callouts, watermarks, per-route config) do nothing. Every hook that runs
//! code runs it under [`guard::catch`], so a panic never unwinds into Envoy; the empty hooks and
//! the constant `on_http_filter_local_reply` contain nothing that could panic.

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use ai_gateway_core::{Action, HttpFilter, LogLevel, StreamId};

use crate::abi::{
    self, BodyStatus, HeadersStatus, HttpFilterConfigEnvoyPtr, HttpFilterConfigModulePtr,
    HttpFilterEnvoyPtr, HttpFilterModulePtr, HttpFilterPerRouteConfigModulePtr, LocalReplyStatus,
    TrailersStatus,
};
use crate::config::FilterConfig;
use crate::config_host::ConfigHost;
use crate::envoy_log;
use crate::guard;
use crate::host::{callout_result, EnvoyHost};
use crate::metrics::Metrics;
use crate::scheduler::TICK_EVENT;
use crate::stream::{Outcome, Phase, Stream};
use crate::ticker::Ticker;

/// Logs a panic caught outside any stream (config creation, filter creation, destruction).
fn log_panic(hook: &str, message: &str) {
    envoy_log::log(LogLevel::Error, format_args!("panic in {hook}: {message}"));
}

/// Runs one filter callback for the stream behind `module`.
///
/// # Safety
/// `module` must be a pointer returned by `on_http_filter_new` and not yet destroyed, and
/// `envoy` the Envoy filter pointer of the current hook.
unsafe fn run_stream(
    envoy: HttpFilterEnvoyPtr,
    module: HttpFilterModulePtr,
    hook: &str,
    phase: Phase,
    callback: impl FnOnce(&mut dyn HttpFilter, &mut dyn ai_gateway_core::Host) -> Action,
) -> Outcome {
    // SAFETY: per the contract above, `module` is our live, exclusively-used `Stream`: Envoy
    // calls a stream's hooks one at a time on its worker thread.
    let stream = &mut *(module as *mut Stream);
    let (config, runner, timer) = stream.split();
    let mut host = EnvoyHost::new(envoy, &config.metrics).with_timer(timer);
    runner.run(&mut host, &config.filter_name, hook, phase, callback)
}

fn headers_status(outcome: Outcome) -> HeadersStatus {
    match outcome {
        Outcome::Filter(Action::Continue) | Outcome::Bypassed => HeadersStatus::Continue,
        Outcome::Filter(Action::Pause) | Outcome::Failed => HeadersStatus::StopIteration,
    }
}

fn body_status(outcome: Outcome) -> BodyStatus {
    match outcome {
        Outcome::Filter(Action::Continue) | Outcome::Bypassed => BodyStatus::Continue,
        Outcome::Filter(Action::Pause) => BodyStatus::StopIterationAndBuffer,
        Outcome::Failed => BodyStatus::StopIterationNoBuffer,
    }
}

fn trailers_status(outcome: Outcome) -> TrailersStatus {
    match outcome {
        Outcome::Filter(Action::Continue) | Outcome::Bypassed => TrailersStatus::Continue,
        Outcome::Filter(Action::Pause) | Outcome::Failed => TrailersStatus::StopIteration,
    }
}

/// A UTF-8 view of an Envoy buffer (config name and JSON).
unsafe fn envoy_str<'a>(buffer: abi::EnvoyBuffer) -> Result<&'a str, std::str::Utf8Error> {
    std::str::from_utf8(buffer.as_bytes().unwrap_or_default())
}

// ------------------------------------------------------------------ program and config --

/// Called once when Envoy loads the module; returns the ABI version it was built against.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const c_char {
    match guard::catch(guard::install_panic_hook) {
        Ok(()) => abi::ABI_VERSION.as_ptr().cast(),
        Err(message) => {
            log_panic("program_init", &message);
            std::ptr::null()
        }
    }
}

/// Builds the named filter's config. A bad config is logged (the message names the field)
/// and null is returned, which makes Envoy refuse the configuration.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    config_envoy: HttpFilterConfigEnvoyPtr,
    name: abi::EnvoyBuffer,
    config: abi::EnvoyBuffer,
) -> HttpFilterConfigModulePtr {
    let built = guard::catch(|| {
        // SAFETY: Envoy keeps both buffers valid for this call.
        let (name, json) = match unsafe { (envoy_str(name), envoy_str(config)) } {
            (Ok(name), Ok(json)) => (name, json),
            _ => {
                envoy_log::log(
                    LogLevel::Error,
                    format_args!("filter name or config is not UTF-8"),
                );
                return std::ptr::null();
            }
        };
        let factory = match ai_gateway_catalog::build(name, json) {
            Ok(factory) => factory,
            Err(err) => {
                envoy_log::log(LogLevel::Error, format_args!("filter `{name}`: {err}"));
                return std::ptr::null();
            }
        };
        let metrics = match Metrics::define(config_envoy, factory.metrics()) {
            Ok(metrics) => metrics,
            Err(err) => {
                envoy_log::log(LogLevel::Error, format_args!("filter `{name}`: {err}"));
                return std::ptr::null();
            }
        };
        let ticker = match factory.tick_period_ms() {
            Some(period) => match Ticker::start(config_envoy, Duration::from_millis(period)) {
                Ok(ticker) => Some(ticker),
                Err(err) => {
                    envoy_log::log(LogLevel::Error, format_args!("filter `{name}`: {err}"));
                    return std::ptr::null();
                }
            },
            None => None,
        };
        let state = FilterConfig {
            filter_name: name.to_string(),
            factory,
            metrics,
            ticker,
        };
        Arc::into_raw(Arc::new(state)).cast()
    });
    built.unwrap_or_else(|message| {
        log_panic("http_filter_config_new", &message);
        std::ptr::null()
    })
}

/// Releases a config built by `on_http_filter_config_new`.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(
    config: HttpFilterConfigModulePtr,
) {
    if let Err(message) = guard::catch(|| {
        // SAFETY: `config` came from `Arc::into_raw` in `on_http_filter_config_new`; Envoy
        // destroys it once. Streams hold their own `Arc`.
        drop(unsafe { Arc::from_raw(config.cast::<FilterConfig>()) })
    }) {
        log_panic("http_filter_config_destroy", &message);
    }
}

/// A config's scheduled event, on the main thread: the metrics flusher's (apply the pending
/// metric updates) or the background tick's (run the factory's `on_tick`).
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_scheduled(
    config_envoy: HttpFilterConfigEnvoyPtr,
    config: HttpFilterConfigModulePtr,
    event_id: u64,
) {
    if let Err(message) = guard::catch(|| {
        // SAFETY: Envoy only runs a config's events while the config, and so the module state
        // it was created with (released in `on_http_filter_config_destroy`), is alive.
        let config = unsafe { &*config.cast::<FilterConfig>() };
        match event_id {
            TICK_EVENT => config
                .factory
                .on_tick(&mut ConfigHost::new(config_envoy, &config.metrics)),
            _ => config.metrics.apply(config_envoy),
        }
    }) {
        log_panic("http_filter_config_scheduled", &message);
    }
}

/// Per-route configuration is not supported: refusing it makes a misconfiguration visible.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_per_route_config_new(
    _name: abi::EnvoyBuffer,
    _config: abi::EnvoyBuffer,
) -> HttpFilterPerRouteConfigModulePtr {
    envoy_log::log(
        LogLevel::Error,
        format_args!("per-route filter config is not supported by this module"),
    );
    std::ptr::null()
}

/// Never called: `on_http_filter_per_route_config_new` never returns a config.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_per_route_config_destroy(
    _config: HttpFilterPerRouteConfigModulePtr,
) {
}

// ---------------------------------------------------------------------------- streams --

/// Creates the filter for one stream; null (on a panic) makes Envoy close the stream.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_new(
    config: HttpFilterConfigModulePtr,
    _envoy: HttpFilterEnvoyPtr,
) -> HttpFilterModulePtr {
    let created = guard::catch(|| {
        // SAFETY: `config` is a live `Arc<FilterConfig>` pointer from `on_http_filter_config_new`;
        // the stream takes its own reference so it never depends on destruction order.
        let config = unsafe {
            Arc::increment_strong_count(config.cast::<FilterConfig>());
            Arc::from_raw(config.cast::<FilterConfig>())
        };
        let filter = config.factory.new_filter();
        Box::into_raw(Box::new(Stream::new(filter, config)))
            .cast_const()
            .cast()
    });
    created.unwrap_or_else(|message| {
        log_panic("http_filter_new", &message);
        std::ptr::null()
    })
}

/// Releases a stream created by `on_http_filter_new`.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_destroy(module: HttpFilterModulePtr) {
    if let Err(message) = guard::catch(|| {
        // SAFETY: `module` came from `Box::into_raw` in `on_http_filter_new`; Envoy destroys
        // it once.
        drop(unsafe { Box::from_raw(module as *mut Stream) })
    }) {
        log_panic("http_filter_destroy", &message);
    }
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(
    envoy: HttpFilterEnvoyPtr,
    module: HttpFilterModulePtr,
    end_of_stream: bool,
) -> HeadersStatus {
    // SAFETY: Envoy passes a live stream and its own filter pointer.
    let outcome = unsafe {
        run_stream(envoy, module, "request_headers", Phase::Active, |f, h| {
            f.on_request_headers(h, end_of_stream)
        })
    };
    headers_status(outcome)
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_body(
    envoy: HttpFilterEnvoyPtr,
    module: HttpFilterModulePtr,
    end_of_stream: bool,
) -> BodyStatus {
    // SAFETY: as above.
    let outcome = unsafe {
        run_stream(envoy, module, "request_body", Phase::Active, |f, h| {
            f.on_request_body(h, end_of_stream)
        })
    };
    body_status(outcome)
}

/// Trailers end the body: the filter sees one last body call with `end_of_stream`, so a filter
/// that buffers until the end is not left waiting when the request carries trailers.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_request_trailers(
    envoy: HttpFilterEnvoyPtr,
    module: HttpFilterModulePtr,
) -> TrailersStatus {
    // SAFETY: as above.
    let outcome = unsafe {
        run_stream(envoy, module, "request_trailers", Phase::Active, |f, h| {
            f.on_request_body(h, true)
        })
    };
    trailers_status(outcome)
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(
    envoy: HttpFilterEnvoyPtr,
    module: HttpFilterModulePtr,
    end_of_stream: bool,
) -> HeadersStatus {
    // SAFETY: as above.
    let outcome = unsafe {
        run_stream(envoy, module, "response_headers", Phase::Active, |f, h| {
            f.on_response_headers(h, end_of_stream)
        })
    };
    headers_status(outcome)
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_body(
    envoy: HttpFilterEnvoyPtr,
    module: HttpFilterModulePtr,
    end_of_stream: bool,
) -> BodyStatus {
    // SAFETY: as above.
    let outcome = unsafe {
        run_stream(envoy, module, "response_body", Phase::Active, |f, h| {
            f.on_response_body(h, end_of_stream)
        })
    };
    body_status(outcome)
}

/// Response twin of `on_http_filter_request_trailers`.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_response_trailers(
    envoy: HttpFilterEnvoyPtr,
    module: HttpFilterModulePtr,
) -> TrailersStatus {
    // SAFETY: as above.
    let outcome = unsafe {
        run_stream(envoy, module, "response_trailers", Phase::Active, |f, h| {
            f.on_response_body(h, true)
        })
    };
    trailers_status(outcome)
}

/// The stream is over (completed, reset or answered locally); called before destroy and
/// before access logs are flushed.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_stream_complete(
    envoy: HttpFilterEnvoyPtr,
    module: HttpFilterModulePtr,
) {
    // SAFETY: as above.
    unsafe {
        run_stream(envoy, module, "stream_complete", Phase::Done, |f, h| {
            f.on_stream_done(h);
            Action::Continue
        });
    }
}

/// A callout started with `Host::http_callout` finished.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_callout_done(
    envoy: HttpFilterEnvoyPtr,
    module: HttpFilterModulePtr,
    callout_id: u64,
    result: abi::CalloutResultCode,
    headers: *mut abi::EnvoyHttpHeader,
    headers_size: usize,
    body_chunks: *mut abi::EnvoyBuffer,
    body_chunks_size: usize,
) {
    // SAFETY: as above; the header and body arrays are valid for this hook.
    unsafe {
        run_stream(envoy, module, "http_callout_done", Phase::Active, |f, h| {
            let result =
                callout_result(result, headers, headers_size, body_chunks, body_chunks_size);
            f.on_callout_done(h, ai_gateway_core::CalloutId(callout_id), result);
            Action::Continue
        });
    }
}

/// Local replies (ours or another filter's) go out unchanged.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_local_reply(
    _envoy: HttpFilterEnvoyPtr,
    _module: HttpFilterModulePtr,
    _response_code: u32,
    _details: abi::EnvoyBuffer,
    _reset_imminent: bool,
) -> LocalReplyStatus {
    LocalReplyStatus::Continue
}

// ------------------------------------- hooks for features this adapter does not use --

/// A stream's timer fired (the only event a stream's scheduler carries, see `timer`).
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_scheduled(
    envoy: HttpFilterEnvoyPtr,
    module: HttpFilterModulePtr,
    _event_id: u64,
) {
    // SAFETY: as for every stream hook (Envoy runs the event only while the stream lives).
    unsafe {
        run_stream(envoy, module, "timer", Phase::Active, |f, h| {
            f.on_timer(h);
            Action::Continue
        });
    }
}

/// Only terminal filters receive watermark events; this module's filters are not terminal.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(
    _envoy: HttpFilterEnvoyPtr,
    _module: HttpFilterModulePtr,
) {
}

/// See `on_http_filter_downstream_above_write_buffer_high_watermark`.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(
    _envoy: HttpFilterEnvoyPtr,
    _module: HttpFilterModulePtr,
) {
}

/// A streamed callout's response headers.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_headers(
    envoy: HttpFilterEnvoyPtr,
    module: HttpFilterModulePtr,
    stream_id: u64,
    headers: *mut abi::EnvoyHttpHeader,
    headers_size: usize,
    end_stream: bool,
) {
    // SAFETY: as for every stream hook; the header array is valid for this hook.
    unsafe {
        let status = stream_status(headers, headers_size);
        run_stream(
            envoy,
            module,
            "http_stream_headers",
            Phase::Active,
            |f, h| {
                f.on_stream_headers(h, StreamId(stream_id), status, end_stream);
                Action::Continue
            },
        );
    }
}

/// More body of a streamed callout's response.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_data(
    envoy: HttpFilterEnvoyPtr,
    module: HttpFilterModulePtr,
    stream_id: u64,
    data: *const abi::EnvoyBuffer,
    data_count: usize,
    end_stream: bool,
) {
    // SAFETY: as for every stream hook; the chunks are valid for this hook.
    unsafe {
        let mut bytes = Vec::new();
        if !data.is_null() {
            for chunk in std::slice::from_raw_parts(data, data_count) {
                bytes.extend_from_slice(chunk.as_bytes().unwrap_or_default());
            }
        }
        run_stream(envoy, module, "http_stream_data", Phase::Active, |f, h| {
            f.on_stream_data(h, StreamId(stream_id), &bytes, end_stream);
            Action::Continue
        });
    }
}

/// Trailers end a streamed callout's body (their content is not needed by any filter).
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_trailers(
    envoy: HttpFilterEnvoyPtr,
    module: HttpFilterModulePtr,
    stream_id: u64,
    _trailers: *mut abi::EnvoyHttpHeader,
    _trailers_size: usize,
) {
    // SAFETY: as for every stream hook.
    unsafe {
        run_stream(
            envoy,
            module,
            "http_stream_trailers",
            Phase::Active,
            |f, h| {
                f.on_stream_data(h, StreamId(stream_id), &[], true);
                Action::Continue
            },
        );
    }
}

/// A streamed callout completed.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_complete(
    envoy: HttpFilterEnvoyPtr,
    module: HttpFilterModulePtr,
    stream_id: u64,
) {
    // SAFETY: as for every stream hook.
    unsafe {
        run_stream(
            envoy,
            module,
            "http_stream_complete",
            Phase::Active,
            |f, h| {
                f.on_stream_end(h, StreamId(stream_id), false);
                Action::Continue
            },
        );
    }
}

/// A streamed callout failed or was cancelled.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_http_stream_reset(
    envoy: HttpFilterEnvoyPtr,
    module: HttpFilterModulePtr,
    stream_id: u64,
    _reason: abi::HttpStreamResetReason,
) {
    // SAFETY: as for every stream hook.
    unsafe {
        run_stream(envoy, module, "http_stream_reset", Phase::Active, |f, h| {
            f.on_stream_end(h, StreamId(stream_id), true);
            Action::Continue
        });
    }
}

/// The `:status` among a streamed callout's response headers (0 when absent or invalid).
///
/// # Safety
/// `headers` must point to `headers_size` entries valid for the current hook (or be null).
unsafe fn stream_status(headers: *const abi::EnvoyHttpHeader, headers_size: usize) -> u16 {
    if headers.is_null() {
        return 0;
    }
    std::slice::from_raw_parts(headers, headers_size)
        .iter()
        .map(|h| h.as_pair())
        .find(|(key, _)| *key == b":status")
        .and_then(|(_, value)| std::str::from_utf8(value).ok()?.parse().ok())
        .unwrap_or(0)
}

/// A callout the config's background tick started, on the main thread.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_callout_done(
    config_envoy: HttpFilterConfigEnvoyPtr,
    config: HttpFilterConfigModulePtr,
    callout_id: u64,
    result: abi::CalloutResultCode,
    headers: *mut abi::EnvoyHttpHeader,
    headers_size: usize,
    body_chunks: *mut abi::EnvoyBuffer,
    body_chunks_size: usize,
) {
    if let Err(message) = guard::catch(|| {
        // SAFETY: as in `on_http_filter_config_scheduled`; the header and body arrays are
        // valid for this hook.
        let config = unsafe { &*config.cast::<FilterConfig>() };
        let result =
            unsafe { callout_result(result, headers, headers_size, body_chunks, body_chunks_size) };
        config.factory.on_background_callout_done(
            &mut ConfigHost::new(config_envoy, &config.metrics),
            ai_gateway_core::CalloutId(callout_id),
            result,
        );
    }) {
        log_panic("http_filter_config_http_callout_done", &message);
    }
}

/// Config-level streamed callouts are not started by this adapter.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_headers(
    _config_envoy: HttpFilterConfigEnvoyPtr,
    _config: HttpFilterConfigModulePtr,
    _stream_id: u64,
    _headers: *mut abi::EnvoyHttpHeader,
    _headers_size: usize,
    _end_stream: bool,
) {
}

/// Config-level streamed callouts are not started by this adapter.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_data(
    _config_envoy: HttpFilterConfigEnvoyPtr,
    _config: HttpFilterConfigModulePtr,
    _stream_id: u64,
    _data: *const abi::EnvoyBuffer,
    _data_count: usize,
    _end_stream: bool,
) {
}

/// Config-level streamed callouts are not started by this adapter.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_trailers(
    _config_envoy: HttpFilterConfigEnvoyPtr,
    _config: HttpFilterConfigModulePtr,
    _stream_id: u64,
    _trailers: *mut abi::EnvoyHttpHeader,
    _trailers_size: usize,
) {
}

/// Config-level streamed callouts are not started by this adapter.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_complete(
    _config_envoy: HttpFilterConfigEnvoyPtr,
    _config: HttpFilterConfigModulePtr,
    _stream_id: u64,
) {
}

/// Config-level streamed callouts are not started by this adapter.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_http_stream_reset(
    _config_envoy: HttpFilterConfigEnvoyPtr,
    _config: HttpFilterConfigModulePtr,
    _stream_id: u64,
    _reason: abi::HttpStreamResetReason,
) {
}
