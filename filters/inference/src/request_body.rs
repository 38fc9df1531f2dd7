//! What the filter reads from an OpenAI-style request body: the `model` (body-based routing)
//! and the expected output size (`max_completion_tokens` / `max_tokens`, the picker's weight).

use serde::Deserialize;

/// Longest model name exposed as a header: route matching needs no more, and a header is no
/// place for an unbounded client string.
pub const MAX_MODEL_LEN: usize = 256;

/// The fields of interest of a completion request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFacts {
    /// `model`, when present and usable as a header value.
    pub model: Option<String>,
    /// The client's output-token cap: `max_completion_tokens`, else `max_tokens`.
    pub max_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct Fields {
    model: Option<serde_json::Value>,
    max_tokens: Option<serde_json::Value>,
    max_completion_tokens: Option<serde_json::Value>,
}

/// Reads the facts from a JSON body; anything unreadable is simply absent (the request is the
/// model server's to refuse, not this filter's).
pub fn facts(body: &[u8]) -> RequestFacts {
    let Ok(fields) = serde_json::from_slice::<Fields>(body) else {
        return RequestFacts::default();
    };
    let model = fields
        .model
        .as_ref()
        .and_then(serde_json::Value::as_str)
        .filter(|m| is_header_safe(m))
        .map(str::to_string);
    let max_tokens = [fields.max_completion_tokens, fields.max_tokens]
        .iter()
        .flatten()
        .find_map(serde_json::Value::as_u64);
    RequestFacts { model, max_tokens }
}

/// Non-empty, bounded, visible ASCII (plus inner spaces): safe in a header and in route matches.
fn is_header_safe(model: &str) -> bool {
    !model.is_empty()
        && model.len() <= MAX_MODEL_LEN
        && model.bytes().all(|b| (0x20..0x7f).contains(&b))
        && model.trim() == model
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_and_output_cap_are_read_from_the_body() {
        let long = format!(r#"{{"model":"{}"}}"#, "m".repeat(MAX_MODEL_LEN + 1));
        let cases: &[(&str, Option<&str>, Option<u64>)] = &[
            (
                r#"{"model":"llama-3","messages":[{"role":"user","content":"hi"}],"max_tokens":64}"#,
                Some("llama-3"),
                Some(64),
            ),
            (
                r#"{"model":"gpt-x","max_completion_tokens":10,"max_tokens":99}"#,
                Some("gpt-x"),
                Some(10),
            ),
            (r#"{"model":"a/b:c-1.5"}"#, Some("a/b:c-1.5"), None),
            (r#"{"messages":[]}"#, None, None),
            (r#"{"model":42,"max_tokens":"many"}"#, None, None),
            (r#"{"model":"bad\nname"}"#, None, None),
            (r#"{"model":" padded"}"#, None, None),
            (r#"{"model":""}"#, None, None),
            (&long, None, None),
            (r#"{"model":"x","max_tokens":-1}"#, Some("x"), None),
            ("not json", None, None),
            ("", None, None),
            (r#"["model"]"#, None, None),
        ];
        for (body, model, max_tokens) in cases {
            let facts = facts(body.as_bytes());
            assert_eq!(facts.model.as_deref(), *model, "{body}");
            assert_eq!(facts.max_tokens, *max_tokens, "{body}");
        }
    }
}
