//! The root context: parses the plugin configuration once and creates one stream per request.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use ai_gateway_core::{CalloutId, FilterFactory};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType};

use crate::abi;
use crate::background::{RootHost, Schedule};
use crate::callout;
use crate::host::{self, BodyWindow, TimerRef, WasmHost};
use crate::logging;
use crate::metrics::MetricIds;
use crate::plugin_config;
use crate::stream::Stream;
use crate::timers::StreamTimers;

/// A configured plugin: its filter factory, the ids of the stats its filters record and its
/// streams' pending timers.
pub(crate) struct Plugin {
    pub factory: Arc<dyn FilterFactory>,
    pub metrics: RefCell<MetricIds>,
    pub timers: RefCell<StreamTimers>,
}

/// One per plugin configuration (per worker VM).
pub(crate) struct Root {
    /// This root's proxy-wasm context id (the effective context again after stream timers).
    context_id: u32,
    plugin: Option<Rc<Plugin>>,
    /// The factory's background tick, when it asks for one.
    schedule: Option<Schedule>,
}

impl Root {
    /// The root context `context_id`, not configured yet.
    pub(crate) fn new(context_id: u32) -> Self {
        Root {
            context_id,
            plugin: None,
            schedule: None,
        }
    }

    /// Runs `on_timer` of every stream whose timer is due, with that stream as the effective
    /// context, and keeps the fast tick on while timers remain.
    fn fire_stream_timers(&self, plugin: &Plugin) {
        let due = match plugin.timers.try_borrow_mut() {
            Ok(mut timers) if timers.any() => timers.take_due(host::now_ms()),
            _ => return,
        };
        for (context_id, filter) in &due {
            // Refused when the stream is gone: nothing to answer.
            if abi::set_effective_context(*context_id).is_err() {
                continue;
            }
            let Ok(mut guard) = filter.try_borrow_mut() else {
                continue;
            };
            let mut body = BodyWindow::default();
            let mut host = WasmHost {
                metrics: &plugin.metrics,
                body: &mut body,
                timer: TimerRef {
                    timers: &plugin.timers,
                    context_id: *context_id,
                    filter,
                },
            };
            guard.on_timer(&mut host);
        }
        if !due.is_empty() {
            if let Err(err) = abi::set_effective_context(self.context_id) {
                log::debug!("back to the root context: {err}");
            }
        }
        let pending = plugin.timers.try_borrow().map_or(true, |t| t.any());
        if let Ok(mut metrics) = plugin.metrics.try_borrow_mut() {
            metrics.hold_fast_tick(pending);
        }
    }
}

/// Answers to the callouts the factory's background tick started.
impl Context for Root {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        if let Some(plugin) = &self.plugin {
            let result = callout::result(num_headers, body_size);
            let mut host = RootHost {
                metrics: &plugin.metrics,
            };
            plugin.factory.on_background_callout_done(
                &mut host,
                CalloutId(u64::from(token_id)),
                result,
            );
        }
    }
}

impl RootContext for Root {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        logging::install();
        true
    }

    /// Returning false makes Envoy refuse the configuration; the logged error names the field.
    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        logging::install();
        let bytes = match abi::buffer(
            BufferType::PluginConfiguration,
            0,
            plugin_configuration_size,
        ) {
            Ok(bytes) => bytes,
            Err(err) => {
                log::error!("cannot read the plugin configuration: {err}");
                return false;
            }
        };
        match plugin_config::build(&bytes) {
            Ok((name, factory)) => {
                log::info!("filter `{name}` configured");
                let mut metrics = MetricIds::new(factory.metrics());
                self.schedule = factory.tick_period_ms().map(|period| {
                    metrics.keep_ticking(u32::try_from(period).unwrap_or(u32::MAX));
                    Schedule::every(period)
                });
                let metrics = RefCell::new(metrics);
                let timers = RefCell::default();
                self.plugin = Some(Rc::new(Plugin {
                    factory,
                    metrics,
                    timers,
                }));
                true
            }
            Err(err) => {
                log::error!("plugin configuration refused: {err}");
                false
            }
        }
    }

    /// Runs while metric sums or stream timers are pending (see `metrics`, `timers`): fires
    /// the due timers and sends the sums; and at the factory's tick period, when it has one:
    /// runs its background tick.
    fn on_tick(&mut self) {
        let Some(plugin) = &self.plugin else {
            return;
        };
        self.fire_stream_timers(plugin);
        if let Ok(mut metrics) = plugin.metrics.try_borrow_mut() {
            metrics.flush();
        }
        if self.schedule.as_mut().is_some_and(Schedule::due) {
            let mut host = RootHost {
                metrics: &plugin.metrics,
            };
            plugin.factory.on_tick(&mut host);
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        // Never None: the proxy-wasm dispatcher panics on it.
        Some(Box::new(Stream::new(context_id, self.plugin.clone())))
    }
}
