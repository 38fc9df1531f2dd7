//! Token accounting: the `accounting` config (on by default; `{"enabled": false}` leaves
//! translation only), the `stream_options.include_usage` injection, the gen_ai operation names
//! and the in-filter token budgets ([`budget`]).

pub mod budget;
mod config;

use serde_json::Value;

pub use config::{Accounting, RawAccounting};

/// The gen_ai `operation` tag of an endpoint's requests.
pub fn operation(endpoint: crate::plan::Endpoint) -> &'static str {
    use crate::plan::Endpoint;
    match endpoint {
        Endpoint::ChatCompletions | Endpoint::Messages => "chat",
        Endpoint::Embeddings => "embeddings",
        Endpoint::Responses => "responses",
        Endpoint::CountTokens => "count_tokens",
    }
}

/// Makes an OpenAI chat request that streams report its usage: sets
/// `stream_options.include_usage` when the client did not. Returns whether it did (the usage
/// chunk must then be removed from the client's stream).
pub fn inject_include_usage(request: &mut Value) -> bool {
    if request.get("stream").and_then(Value::as_bool) != Some(true) {
        return false;
    }
    let asked = request
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    if asked {
        return false;
    }
    let Some(object) = request.as_object_mut() else {
        return false;
    };
    let options = object
        .entry("stream_options")
        .or_insert_with(|| Value::Object(Default::default()));
    if !options.is_object() {
        *options = Value::Object(Default::default());
    }
    options["include_usage"] = Value::Bool(true);
    true
}

/// The client's output-token ceiling (`max_tokens`, `max_completion_tokens`,
/// `max_output_tokens`): the estimate a budget checks before forwarding (0 when unset).
pub fn requested_max_tokens(request: &Value) -> u64 {
    ["max_tokens", "max_completion_tokens", "max_output_tokens"]
        .iter()
        .filter_map(|key| request.get(*key).and_then(Value::as_u64))
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn include_usage_is_added_only_when_streaming_without_it() {
        let mut plain = json!({"model": "m", "stream": true});
        assert!(inject_include_usage(&mut plain));
        assert_eq!(plain["stream_options"], json!({"include_usage": true}));

        let mut other_option =
            json!({"stream": true, "stream_options": {"include_obfuscation": false}});
        assert!(inject_include_usage(&mut other_option));
        assert_eq!(
            other_option["stream_options"],
            json!({"include_obfuscation": false, "include_usage": true})
        );

        let mut declined = json!({"stream": true, "stream_options": {"include_usage": false}});
        assert!(inject_include_usage(&mut declined));

        for mut untouched in [
            json!({"stream": true, "stream_options": {"include_usage": true}}),
            json!({"stream": false}),
            json!({"model": "m"}),
        ] {
            let before = untouched.clone();
            assert!(!inject_include_usage(&mut untouched));
            assert_eq!(untouched, before);
        }
    }

    #[test]
    fn the_estimate_is_the_largest_ceiling_named() {
        assert_eq!(requested_max_tokens(&json!({"max_tokens": 50})), 50);
        assert_eq!(
            requested_max_tokens(&json!({"max_completion_tokens": 70})),
            70
        );
        assert_eq!(requested_max_tokens(&json!({"max_output_tokens": 9})), 9);
        assert_eq!(requested_max_tokens(&json!({"model": "m"})), 0);
    }
}
