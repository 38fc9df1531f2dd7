//! The Wasm plugin `configuration`: `{"filter": "<name>", "config": {...}}`, naming one of the
//! built-in filters and carrying its JSON configuration.

use std::sync::Arc;

use ai_gateway_core::{parse_config, ConfigError, FilterFactory};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    filter: String,
    #[serde(default)]
    config: Option<serde_json::Value>,
}

/// The selected filter's name and its configuration as JSON text (`{}` when absent).
pub(crate) fn split(plugin_configuration: &[u8]) -> Result<(String, String), ConfigError> {
    let text = std::str::from_utf8(plugin_configuration)
        .map_err(|err| ConfigError::invalid("configuration", format!("not UTF-8: {err}")))?;
    let envelope: Envelope = parse_config(text)?;
    let config = match envelope.config {
        Some(value) => value.to_string(),
        None => "{}".to_string(),
    };
    Ok((envelope.filter, config))
}

/// Builds the named filter's factory from the plugin configuration.
pub(crate) fn build(
    plugin_configuration: &[u8],
) -> Result<(String, Arc<dyn FilterFactory>), ConfigError> {
    let (name, config) = split(plugin_configuration)?;
    let factory = ai_gateway_catalog::build(&name, &config)?;
    Ok((name, factory))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(err: ConfigError) -> String {
        match err {
            ConfigError::Invalid { field, .. } => field,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn splits_name_and_config() {
        let (name, config) = split(br#"{"filter": "a2a", "config": {"agents": []}}"#).unwrap();
        assert_eq!(name, "a2a");
        assert_eq!(config, r#"{"agents":[]}"#);
    }

    #[test]
    fn absent_config_is_an_empty_object() {
        assert_eq!(split(br#"{"filter": "a2a"}"#).unwrap().1, "{}");
    }

    #[test]
    fn envelope_errors_name_the_field() {
        assert_eq!(field_of(split(br#"{"config": {}}"#).unwrap_err()), "filter");
        assert_eq!(
            field_of(split(br#"{"filter": "a2a", "cfg": {}}"#).unwrap_err()),
            "cfg"
        );
        assert_eq!(field_of(split(br#"{"filter": 3}"#).unwrap_err()), "filter");
        assert_eq!(field_of(split(b"\xff").unwrap_err()), "configuration");
    }

    #[test]
    fn unknown_filter_is_refused_with_the_known_names() {
        let err = build(br#"{"filter": "nope"}"#).err().unwrap();
        let message = err.to_string();
        assert!(
            message.contains("nope") && message.contains("a2a"),
            "{message}"
        );
    }
}
