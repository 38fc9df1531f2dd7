//! A `tools/call`'s arguments → the HTTP request of its operation: each parameter placed and
//! serialized per its `in`, `style` and `explode` (OpenAPI "Style Examples"), the `body`
//! argument encoded per the operation's media type.

use serde_json::{Map, Value};

use super::derive::{Body, BodyKind, Location, Operation, Param, Style, BODY_ARGUMENT};
use super::encode::{self, percent, percent_allow_reserved, scalar};

/// The HTTP request for one call (the filter adds `:authority` and the static headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Upper-case method.
    pub method: String,
    /// Base path, operation path with its parameters, and query.
    pub path: String,
    /// Header and cookie parameters and `content-type` (names lower-case).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Arguments that cannot make a request (answered as a tool error, not sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgumentError {
    #[error("arguments must be an object")]
    NotObject,
    #[error("missing required argument `{0}`")]
    Missing(String),
    #[error("argument `{name}`: {why}")]
    Invalid { name: String, why: String },
}

/// Builds the request of `op` under `base_path`; `seed` varies the multipart boundary.
pub fn build(
    op: &Operation,
    base_path: &str,
    arguments: Option<&Value>,
    seed: u64,
) -> Result<HttpRequest, ArgumentError> {
    let empty = Map::new();
    let args = match arguments {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => return Err(ArgumentError::NotObject),
    };
    let mut path = op.path.clone();
    let mut query: Vec<String> = Vec::new();
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut cookies: Vec<String> = Vec::new();
    for param in &op.params {
        let value = match args.get(&param.name) {
            None | Some(Value::Null) if param.required => {
                return Err(ArgumentError::Missing(param.name.clone()))
            }
            None | Some(Value::Null) => continue,
            Some(value) => value,
        };
        match param.location {
            Location::Path => {
                let text = path_value(param, value);
                path = path.replace(&format!("{{{}}}", param.name), &text);
            }
            Location::Query => query.extend(query_pairs(param, value)),
            Location::Header => {
                let text = match param.style {
                    Style::Json => value.to_string(),
                    _ => simple(value, param.explode, &|s| s.to_string()),
                };
                if text.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                    return Err(ArgumentError::Invalid {
                        name: param.name.clone(),
                        why: "a header value cannot hold CR, LF or NUL".into(),
                    });
                }
                headers.push((param.name.to_ascii_lowercase(), text));
            }
            Location::Cookie => {
                let text = match param.style {
                    Style::Json => percent(&value.to_string()),
                    _ => simple(value, false, &percent),
                };
                cookies.push(format!("{}={text}", param.name));
            }
        }
    }
    if !cookies.is_empty() {
        headers.push(("cookie".into(), cookies.join("; ")));
    }
    let mut full = format!("{base_path}{path}");
    if !query.is_empty() {
        full.push('?');
        full.push_str(&query.join("&"));
    }
    let body = match (&op.body, args.get(BODY_ARGUMENT)) {
        (Some(spec), None | Some(Value::Null)) if spec.required => {
            return Err(ArgumentError::Missing(BODY_ARGUMENT.into()))
        }
        (Some(spec), Some(value)) if !value.is_null() => {
            let (content_type, bytes) = encode_body(spec, value, seed)?;
            headers.push(("content-type".into(), content_type));
            bytes
        }
        _ => Vec::new(),
    };
    Ok(HttpRequest {
        method: op.method.clone(),
        path: full,
        headers,
        body,
    })
}

fn encode_body(spec: &Body, value: &Value, seed: u64) -> Result<(String, Vec<u8>), ArgumentError> {
    let not_object = || ArgumentError::Invalid {
        name: BODY_ARGUMENT.into(),
        why: format!("{} bodies are objects of fields", spec.content_type),
    };
    Ok(match spec.kind {
        BodyKind::Json => (spec.content_type.clone(), value.to_string().into_bytes()),
        BodyKind::Text => {
            let text = scalar(value).unwrap_or_default();
            (spec.content_type.clone(), text.into_bytes())
        }
        BodyKind::Form => {
            let fields = encode::fields(value.as_object().ok_or_else(not_object)?);
            (
                spec.content_type.clone(),
                encode::form(&fields).into_bytes(),
            )
        }
        BodyKind::Multipart => {
            let fields = encode::fields(value.as_object().ok_or_else(not_object)?);
            let boundary = encode::boundary(&fields, seed);
            let body = encode::multipart(&fields, &boundary);
            (format!("multipart/form-data; boundary={boundary}"), body)
        }
    })
}

/// `simple` style: `a,b,c`; objects `k,v,k,v` (`k=v,k=v` exploded).
fn simple(value: &Value, explode: bool, escape: &dyn Fn(&str) -> String) -> String {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(scalar)
            .map(|s| escape(&s))
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(map) => {
            let pairs = map
                .iter()
                .filter_map(|(k, v)| Some((escape(k), escape(&scalar(v)?))));
            if explode {
                pairs
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                pairs
                    .map(|(k, v)| format!("{k},{v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            }
        }
        other => escape(&scalar(other).unwrap_or_default()),
    }
}

fn path_value(param: &Param, value: &Value) -> String {
    let name = &param.name;
    match param.style {
        Style::Label => {
            let sep = if param.explode { "." } else { "," };
            let inner = match value {
                Value::Array(items) => items
                    .iter()
                    .filter_map(scalar)
                    .map(|s| percent(&s))
                    .collect::<Vec<_>>()
                    .join(sep),
                Value::Object(_) if param.explode => {
                    simple(value, true, &percent).replace(',', ".")
                }
                other => simple(other, false, &percent),
            };
            format!(".{inner}")
        }
        Style::Matrix => match value {
            Value::Array(items) if param.explode => items
                .iter()
                .filter_map(scalar)
                .map(|s| format!(";{name}={}", percent(&s)))
                .collect(),
            Value::Object(map) if param.explode => map
                .iter()
                .filter_map(|(k, v)| Some(format!(";{}={}", percent(k), percent(&scalar(v)?))))
                .collect(),
            other => format!(";{name}={}", simple(other, false, &percent)),
        },
        Style::Json => percent(&value.to_string()),
        _ => simple(value, param.explode, &percent),
    }
}

fn query_pairs(param: &Param, value: &Value) -> Vec<String> {
    let escape: &dyn Fn(&str) -> String = if param.allow_reserved {
        &percent_allow_reserved
    } else {
        &percent
    };
    let name = percent(&param.name);
    let items = |v: &Vec<Value>| -> Vec<String> {
        v.iter().filter_map(scalar).map(|s| escape(&s)).collect()
    };
    match (param.style, value) {
        (Style::Json, v) => vec![format!("{name}={}", percent(&v.to_string()))],
        (Style::DeepObject, Value::Object(map)) => map
            .iter()
            .filter_map(|(k, v)| {
                Some(format!(
                    "{name}%5B{}%5D={}",
                    percent(k),
                    escape(&scalar(v)?)
                ))
            })
            .collect(),
        (Style::SpaceDelimited, Value::Array(v)) => {
            vec![format!("{name}={}", items(v).join("%20"))]
        }
        (Style::PipeDelimited, Value::Array(v)) => vec![format!("{name}={}", items(v).join("%7C"))],
        (_, Value::Array(v)) if param.explode => items(v)
            .into_iter()
            .map(|s| format!("{name}={s}"))
            .collect(),
        (_, Value::Array(v)) => vec![format!("{name}={}", items(v).join(","))],
        (_, Value::Object(map)) if param.explode => map
            .iter()
            .filter_map(|(k, v)| Some(format!("{}={}", percent(k), escape(&scalar(v)?))))
            .collect(),
        (_, Value::Object(_)) => vec![format!("{name}={}", simple(value, false, escape))],
        (_, other) => vec![format!(
            "{name}={}",
            escape(&scalar(other).unwrap_or_default())
        )],
    }
}

#[cfg(test)]
mod tests;
