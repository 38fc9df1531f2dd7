//! The Envoy callbacks the unit-test binary links against without Envoy: the drop of a
//! config's metrics and its log lines reach them, though tests build configs without a
//! flusher. Logging is silent; nothing else here may ever run.

use crate::abi::{HttpFilterConfigSchedulerPtr, HttpFilterSchedulerPtr, LogLevel, ModuleBuffer};

#[no_mangle]
extern "C" fn envoy_dynamic_module_callback_log_enabled(_level: LogLevel) -> bool {
    false
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_callback_log_v2(
    _level: LogLevel,
    _message: ModuleBuffer,
    _source_file: ModuleBuffer,
    _source_line: u32,
) {
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_callback_http_filter_config_scheduler_delete(
    _scheduler: HttpFilterConfigSchedulerPtr,
) {
    unreachable!("unit tests build configs without a metrics flusher")
}

#[no_mangle]
extern "C" fn envoy_dynamic_module_callback_http_filter_scheduler_delete(
    _scheduler: HttpFilterSchedulerPtr,
) {
    unreachable!("unit tests never arm a stream timer")
}
