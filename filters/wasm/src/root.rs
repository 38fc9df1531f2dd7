//! The root context: parses the plugin configuration once and creates one stream per request.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use ai_gateway_core::FilterFactory;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType};

use crate::abi;
use crate::logging;
use crate::metrics::MetricIds;
use crate::plugin_config;
use crate::stream::Stream;

/// A configured plugin: its filter factory and the ids of the stats its filters record.
pub(crate) struct Plugin {
    pub factory: Arc<dyn FilterFactory>,
    pub metrics: RefCell<MetricIds>,
}

/// One per plugin configuration (per worker VM).
#[derive(Default)]
pub(crate) struct Root {
    plugin: Option<Rc<Plugin>>,
}

impl Context for Root {}

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
                let metrics = RefCell::new(MetricIds::new(factory.metrics()));
                self.plugin = Some(Rc::new(Plugin { factory, metrics }));
                true
            }
            Err(err) => {
                log::error!("plugin configuration refused: {err}");
                false
            }
        }
    }

    /// Runs while metric sums are pending (see `metrics`): sends them.
    fn on_tick(&mut self) {
        if let Some(plugin) = &self.plugin {
            if let Ok(mut metrics) = plugin.metrics.try_borrow_mut() {
                metrics.flush();
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        // Never None: the proxy-wasm dispatcher panics on it.
        Some(Box::new(Stream::new(self.plugin.clone())))
    }
}
