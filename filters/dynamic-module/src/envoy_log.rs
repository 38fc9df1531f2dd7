//! Writing to Envoy's log (the `dynamic_modules` logger id).

use std::fmt;

use ai_gateway_core::LogLevel;

use crate::abi;

/// The ABI log level for a core log level.
fn abi_level(level: LogLevel) -> abi::LogLevel {
    match level {
        LogLevel::Trace => abi::LogLevel::Trace,
        LogLevel::Debug => abi::LogLevel::Debug,
        LogLevel::Info => abi::LogLevel::Info,
        LogLevel::Warn => abi::LogLevel::Warn,
        LogLevel::Error => abi::LogLevel::Error,
    }
}

/// Logs `message` at `level`, formatting it only when Envoy would print it.
pub fn log(level: LogLevel, message: fmt::Arguments<'_>) {
    let level = abi_level(level);
    // SAFETY: plain FFI calls; the buffers borrow `text` for the duration of the call.
    unsafe {
        if !abi::envoy_dynamic_module_callback_log_enabled(level) {
            return;
        }
        let text = format!("ai_gateway: {message}");
        abi::envoy_dynamic_module_callback_log_v2(
            level,
            abi::ModuleBuffer::from_text(&text),
            abi::ModuleBuffer::null(),
            0,
        );
    }
}
