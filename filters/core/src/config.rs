//! Filter configuration: parsed once per Envoy config, shared immutably by every stream.

use serde::de::DeserializeOwned;

use crate::background::BackgroundHost;
use crate::filter::HttpFilter;
use crate::host::{CalloutId, CalloutResult};
use crate::metrics::MetricDef;

/// Parses a filter's JSON configuration into its typed form; the error names the JSON path
/// of the offending field (e.g. `agents[1].upstream`).
pub fn parse_config<T: DeserializeOwned>(json: &str) -> Result<T, ConfigError> {
    let text = if json.trim().is_empty() { "{}" } else { json };
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let message = err.inner().to_string();
        let path = err.path().to_string();
        let field = if err.inner().is_syntax() || err.inner().is_eof() {
            format!(
                "line {} column {}",
                err.inner().line(),
                err.inner().column()
            )
        } else {
            match field_named_in(&message) {
                // A missing field is reported at its parent; name the field itself.
                Some(name) if message.starts_with("missing field") => match path.as_str() {
                    "." => name,
                    parent => format!("{parent}.{name}"),
                },
                _ => path,
            }
        };
        ConfigError::Invalid { field, message }
    })
}

/// A parsed, validated filter configuration that creates one filter per stream.
pub trait FilterFactory: Send + Sync {
    /// The metrics this filter records; the adapter defines them once, at config load.
    /// [`crate::MetricId`] values handed to the host index into this slice.
    fn metrics(&self) -> &'static [MetricDef];

    /// A new filter for one HTTP stream.
    fn new_filter(&self) -> Box<dyn HttpFilter>;

    /// How often [`FilterFactory::on_tick`] runs, in milliseconds; `None` (the default): never.
    fn tick_period_ms(&self) -> Option<u64> {
        None
    }

    /// Periodic background work (see [`crate::background`]); the first tick comes right after
    /// the config is loaded.
    fn on_tick(&self, _host: &mut dyn BackgroundHost) {}

    /// A callout started by [`FilterFactory::on_tick`] finished.
    fn on_background_callout_done(
        &self,
        _host: &mut dyn BackgroundHost,
        _id: CalloutId,
        _result: CalloutResult,
    ) {
    }
}

/// Why a filter configuration was refused. `field` is the JSON path of the offending value,
/// so Envoy's config-load error names it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The configuration is not valid JSON, or does not match the schema.
    #[error("invalid filter config at `{field}`: {message}")]
    Invalid { field: String, message: String },
    /// No filter of that name is built into this module.
    #[error("unknown filter `{0}` (known filters: {1})")]
    UnknownFilter(String, String),
}

impl ConfigError {
    /// An error about one field of the configuration.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// serde_json names the field in backquotes for unknown, missing and duplicate fields.
fn field_named_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        limit: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        items: Vec<Sample>,
    }

    fn field_of(json: &str) -> String {
        match parse_config::<Outer>(json).unwrap_err() {
            ConfigError::Invalid { field, .. } => field,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unknown_field_error_names_the_field() {
        assert_eq!(
            field_of(r#"{"items": [{"limit": 1, "bogus": 2}]}"#),
            "items[0].bogus"
        );
    }

    #[test]
    fn missing_field_error_names_the_field() {
        assert_eq!(field_of(r#"{"items": [{}]}"#), "items[0].limit");
    }

    #[test]
    fn type_error_names_the_field() {
        assert_eq!(
            field_of(r#"{"items": [{"limit": 1}, {"limit": "x"}]}"#),
            "items[1].limit"
        );
    }

    #[test]
    fn syntax_error_gives_the_position() {
        assert!(field_of("{").contains("line 1"));
    }
}
