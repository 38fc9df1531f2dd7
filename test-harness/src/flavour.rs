//! The two builds of the gateway's filters that Envoy can load.

use std::fmt;
use std::str::FromStr;

use crate::error::HarnessError;

/// How Envoy loads the gateway's filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavour {
    /// `libai_gateway.so` through `envoy.filters.http.dynamic_modules`.
    DynamicModule,
    /// `ai_gateway_wasm.wasm` through `envoy.filters.http.wasm` (V8).
    Wasm,
}

impl Flavour {
    /// Both flavours, in the order suites run them.
    pub const ALL: [Flavour; 2] = [Flavour::DynamicModule, Flavour::Wasm];

    /// Short name, as `FLAVOUR=` and the renderer's `--flavour` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Flavour::DynamicModule => "dynmod",
            Flavour::Wasm => "wasm",
        }
    }

    /// The template (in `envoy/`) of one filter entry in this flavour.
    pub(crate) fn filter_template(self) -> &'static str {
        match self {
            Flavour::DynamicModule => "filter-dynamic-module.yaml",
            Flavour::Wasm => "filter-wasm.yaml",
        }
    }
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Flavour {
    type Err = HarnessError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dynmod" | "dynamic-module" => Ok(Flavour::DynamicModule),
            "wasm" => Ok(Flavour::Wasm),
            other => Err(HarnessError::Usage(format!(
                "unknown flavour {other:?} (expected dynmod or wasm)"
            ))),
        }
    }
}
