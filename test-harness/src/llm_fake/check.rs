//! Small validation helpers shared by the provider fakes: each failure names the offending field
//! the way the provider's error messages do.

use serde_json::{Map, Value};

/// A request the provider would refuse with 400; `param` is the field's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub message: String,
    pub param: Option<String>,
}

impl Invalid {
    /// An error about field `param`.
    pub fn at(param: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid {
            message: message.into(),
            param: Some(param.into()),
        }
    }

    /// An error about the request as a whole.
    pub fn whole(message: impl Into<String>) -> Invalid {
        Invalid {
            message: message.into(),
            param: None,
        }
    }
}

/// `value` as a JSON object, or `what` is named as not one.
pub(crate) fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, Invalid> {
    value
        .as_object()
        .ok_or_else(|| Invalid::at(path, format!("{path}: Input should be a valid dictionary")))
}

/// Fails on the first key of `object` not in `allowed`, with `message` (given the key's path).
pub(crate) fn only_keys(
    object: &Map<String, Value>,
    path: &str,
    allowed: &[&str],
    message: impl Fn(&str) -> String,
) -> Result<(), Invalid> {
    match object.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => {
            let at = join(path, key);
            Err(Invalid::at(at.clone(), message(&at)))
        }
        None => Ok(()),
    }
}

/// `path.key`, or `key` at the top level.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Keys whose string values are structure, not prompt text.
const NOT_TEXT: &[&str] = &[
    "role",
    "type",
    "id",
    "name",
    "tool_call_id",
    "tool_use_id",
    "toolUseId",
    "media_type",
    "format",
    "status",
    "detail",
    "signature",
    "url",
    "data",
    "bytes",
    "cache_control",
];

/// Every prompt string reachable in `value`, for token counting.
pub(crate) fn texts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| texts(item, out)),
        Value::Object(map) => map
            .iter()
            .filter(|(key, _)| !NOT_TEXT.contains(&key.as_str()))
            .for_each(|(_, item)| texts(item, out)),
        _ => {}
    }
}

/// Words in every string of `value`.
pub(crate) fn word_count(value: &Value) -> u64 {
    let mut all = Vec::new();
    texts(value, &mut all);
    all.iter().map(|text| super::script::words(text)).sum()
}

/// Whether `schema` (and every nested object schema) sets `additionalProperties: false`;
/// `Err` holds the path of the first object that does not.
pub(crate) fn closed_objects(schema: &Value, path: &str) -> Result<(), String> {
    let Some(map) = schema.as_object() else {
        return Ok(());
    };
    let is_object =
        map.get("type").and_then(Value::as_str) == Some("object") || map.contains_key("properties");
    if is_object && map.get("additionalProperties") != Some(&Value::Bool(false)) {
        return Err(path.to_string());
    }
    for (key, child) in map {
        match (key.as_str(), child) {
            ("properties" | "$defs" | "definitions", Value::Object(children)) => {
                for (name, child) in children {
                    closed_objects(child, &format!("{path}.{key}.{name}"))?;
                }
            }
            ("items", child) => closed_objects(child, &format!("{path}.items"))?,
            ("anyOf" | "oneOf" | "allOf", Value::Array(children)) => {
                for (i, child) in children.iter().enumerate() {
                    closed_objects(child, &format!("{path}.{key}[{i}]"))?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}
