//! Routes the `log` crate and panic messages to Envoy's log through `proxy_log`.

use std::sync::Once;

use ai_gateway_core::LogLevel as CoreLevel;
use log::{Level, LevelFilter, Log, Metadata, Record};
use proxy_wasm::types::LogLevel;

use crate::abi;

struct EnvoyLogger;

static LOGGER: EnvoyLogger = EnvoyLogger;
static INSTALL: Once = Once::new();

/// Installs the logger and a panic hook that logs the panic before the VM aborts.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        // Only fails if a logger is already set, in which case that one stays.
        let _ = log::set_logger(&LOGGER);
        std::panic::set_hook(Box::new(|info| {
            let _ = abi::log(LogLevel::Critical, &format!("ai_gateway panicked: {info}"));
        }));
    });
    refresh_level();
}

/// Reads Envoy's current log level, so that disabled levels cost no formatting or host call.
/// Called at VM start and on each configuration; a later `/logging` change applies from the
/// next configuration.
pub(crate) fn refresh_level() {
    let filter = match abi::log_level() {
        Ok(0) => LevelFilter::Trace,
        Ok(1) => LevelFilter::Debug,
        Ok(2) => LevelFilter::Info,
        Ok(3) => LevelFilter::Warn,
        Ok(4) => LevelFilter::Error,
        Ok(_) => LevelFilter::Off,
        Err(_) => LevelFilter::Info,
    };
    log::set_max_level(filter);
}

/// The `log` crate level of a filter's log line.
pub(crate) fn level_of(level: CoreLevel) -> Level {
    match level {
        CoreLevel::Trace => Level::Trace,
        CoreLevel::Debug => Level::Debug,
        CoreLevel::Info => Level::Info,
        CoreLevel::Warn => Level::Warn,
        CoreLevel::Error => Level::Error,
    }
}

fn host_level(level: Level) -> LogLevel {
    match level {
        Level::Trace => LogLevel::Trace,
        Level::Debug => LogLevel::Debug,
        Level::Info => LogLevel::Info,
        Level::Warn => LogLevel::Warn,
        Level::Error => LogLevel::Error,
    }
}

impl Log for EnvoyLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            // Nowhere to report a failure to log.
            let _ = abi::log(host_level(record.level()), &record.args().to_string());
        }
    }

    fn flush(&self) {}
}
