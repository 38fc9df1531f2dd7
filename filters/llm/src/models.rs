//! `GET /v1/models`, answered from the configuration in the client's format.

use serde_json::{json, Value};

use crate::config::Settings;
use crate::translate::errors::Api;

/// The model list: every configured alias, owned by its provider.
pub fn list(settings: &Settings, api: Api) -> Vec<u8> {
    let entries = settings.models.iter().map(|(alias, route)| {
        let owner = &settings.providers[route.provider].name;
        match api {
            Api::OpenAi => json!({"id": alias, "object": "model", "created": 0, "owned_by": owner}),
            Api::Anthropic => json!({
                "type": "model", "id": alias, "display_name": alias,
                "created_at": "1970-01-01T00:00:00Z"
            }),
        }
    });
    let data: Vec<Value> = entries.collect();
    let body = match api {
        Api::OpenAi => json!({"object": "list", "data": data}),
        Api::Anthropic => json!({
            "data": data,
            "has_more": false,
            "first_id": settings.models.keys().next(),
            "last_id": settings.models.keys().next_back(),
        }),
    };
    body.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_aliases_in_each_format() {
        let settings = Settings::from_json(
            r#"{"providers": {"c": {"kind": "anthropic", "cluster": "x"}},
                "models": {"b": {"provider": "c", "model": "m1"}, "a": {"provider": "c", "model": "m2"}}}"#,
        )
        .unwrap();
        let oa: Value = serde_json::from_slice(&list(&settings, Api::OpenAi)).unwrap();
        assert_eq!(
            oa,
            json!({"object": "list", "data": [
                {"id": "a", "object": "model", "created": 0, "owned_by": "c"},
                {"id": "b", "object": "model", "created": 0, "owned_by": "c"}]})
        );
        let an: Value = serde_json::from_slice(&list(&settings, Api::Anthropic)).unwrap();
        assert_eq!(an["data"][1]["id"], "b");
        assert_eq!(
            (an["first_id"].as_str(), an["last_id"].as_str()),
            (Some("a"), Some("b"))
        );
    }
}
