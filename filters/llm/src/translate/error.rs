//! Why a request could not be translated: a typed error naming the field, answered as a 400
//! in the client's API format.

use serde::de::DeserializeOwned;

/// A request the gateway cannot carry to its provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    /// The body is not JSON, or does not match the client API's schema.
    #[error("invalid request at `{field}`: {message}")]
    Invalid { field: String, message: String },
    /// The provider's API cannot express this field (or this value of it).
    #[error("`{field}` cannot be sent to a {target} provider: {reason}")]
    Unsupported {
        field: String,
        target: &'static str,
        reason: String,
    },
}

impl TranslateError {
    /// The JSON path of the offending field.
    pub fn field(&self) -> &str {
        match self {
            TranslateError::Invalid { field, .. } | TranslateError::Unsupported { field, .. } => {
                field
            }
        }
    }

    /// An unsupported field.
    pub fn unsupported(
        field: impl Into<String>,
        target: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        TranslateError::Unsupported {
            field: field.into(),
            target,
            reason: reason.into(),
        }
    }

    /// An invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        TranslateError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Parses a request body into its wire type; the error names the JSON path of the field that
/// did not fit (for an unknown field, the field itself).
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, TranslateError> {
    // Plain serde first: tracking the path costs more than the parse itself (measured: ~10k
    // instructions per request), and only a body that does not fit needs it, for the message.
    if let Ok(parsed) = serde_json::from_slice(body) {
        return Ok(parsed);
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let message = err.inner().to_string();
        let path = err.path().to_string();
        let field = if err.inner().is_syntax() || err.inner().is_eof() {
            "body".to_string()
        } else {
            match backquoted(&message) {
                Some(name) if message.starts_with("unknown field") => join(&path, &name),
                Some(name) if message.starts_with("missing field") => join(&path, &name),
                _ => path,
            }
        };
        TranslateError::Invalid { field, message }
    })
}

fn join(path: &str, name: &str) -> String {
    match path {
        "." | "" => name.to_string(),
        parent => format!("{parent}.{name}"),
    }
}

/// serde names fields and variants in backquotes.
fn backquoted(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::ChatRequest;

    fn field_of(body: &str) -> String {
        parse_body::<ChatRequest>(body.as_bytes())
            .unwrap_err()
            .field()
            .to_string()
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("{", "body"),
            (r#"{"messages": []}"#, "model"),
            (
                r#"{"model": "m", "messages": [{"role": "user"}]}"#,
                "messages[0].content",
            ),
            (
                r#"{"model": "m", "messages": [{"role": "user", "content": "x", "audio": 1}]}"#,
                "messages[0].audio",
            ),
            (
                r#"{"model": "m", "messages": [], "temperature": "hot"}"#,
                "temperature",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(field_of(body), field, "{body}");
        }
    }
}
