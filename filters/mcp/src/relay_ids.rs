//! The ids a client sees for what a backend asks of it. A server→client request's id (and the
//! progress token it asks the client to report with) becomes `<backend>~<original as JSON>`,
//! so the client's answer, or its progress report, names the backend that asked and carries
//! the original back: no gateway process keeps any state for it, and requests from two
//! backends that happen to use the same id stay distinct. Backend names cannot hold `~`
//! (config validation), so the first `~` ends the name.

use serde_json::Value;

/// Between the backend name and the original id.
pub const SEPARATOR: char = '~';

/// The client-facing form of `original` (a string or number) from `backend`.
pub fn qualify(backend: &str, original: &Value) -> Value {
    Value::String(format!("{backend}{SEPARATOR}{original}"))
}

/// The backend and original id of a qualified id; `None` for anything the gateway did not
/// issue (wrong type, no separator, an original that is not a string or number).
pub fn unqualify(value: &Value) -> Option<(&str, Value)> {
    let (backend, original) = value.as_str()?.split_once(SEPARATOR)?;
    match serde_json::from_str(original).ok()? {
        original @ (Value::String(_) | Value::Number(_)) if !backend.is_empty() => {
            Some((backend, original))
        }
        _ => None,
    }
}

/// Qualifies a message a backend sent the client when it is a request (it has a `method` and
/// an `id`): its id and its `params._meta.progressToken`. Returns whether anything changed;
/// notifications and responses stay as they are.
pub fn qualify_server_request(backend: &str, message: &mut Value) -> bool {
    let Some(object) = message.as_object_mut() else {
        return false;
    };
    if !object.contains_key("method") {
        return false;
    }
    let Some(id) = object
        .get_mut("id")
        .filter(|id| id.is_string() || id.is_number())
    else {
        return false;
    };
    *id = qualify(backend, id);
    let token = object
        .get_mut("params")
        .and_then(|p| p.get_mut("_meta"))
        .and_then(|m| m.get_mut("progressToken"))
        .filter(|t| t.is_string() || t.is_number());
    if let Some(token) = token {
        *token = qualify(backend, token);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_round_trip_with_their_backend() {
        for original in [
            json!(0),
            json!(42),
            json!(-1.5),
            json!("abc"),
            json!("a~b\"c"),
        ] {
            let qualified = qualify("everything", &original);
            assert!(qualified.is_string());
            assert_eq!(
                unqualify(&qualified),
                Some(("everything", original.clone())),
                "{original}"
            );
        }
        assert_eq!(qualify("b-1", &json!(7)), json!("b-1~7"));
        assert_eq!(qualify("b", &json!("x")), json!("b~\"x\""));
    }

    #[test]
    fn ids_the_gateway_did_not_issue_are_not_unqualified() {
        for value in [
            json!(7),
            json!("plain"),
            json!("~7"),
            json!("b~"),
            json!("b~not json"),
            json!("b~{\"a\":1}"),
            json!("b~null"),
            json!(null),
        ] {
            assert_eq!(unqualify(&value), None, "{value}");
        }
    }

    #[test]
    fn server_requests_get_qualified_ids_and_progress_tokens() {
        let mut request = json!({"jsonrpc": "2.0", "id": 3, "method": "sampling/createMessage",
            "params": {"_meta": {"progressToken": "p1"}, "maxTokens": 5}});
        assert!(qualify_server_request("a", &mut request));
        assert_eq!(request["id"], json!("a~3"));
        assert_eq!(
            request["params"]["_meta"]["progressToken"],
            json!("a~\"p1\"")
        );
        assert_eq!(request["params"]["maxTokens"], json!(5));

        let mut roots = json!({"jsonrpc": "2.0", "id": "r", "method": "roots/list"});
        assert!(qualify_server_request("a", &mut roots));
        assert_eq!(roots["id"], json!("a~\"r\""));
    }

    #[test]
    fn notifications_and_responses_stay_as_they_are() {
        for message in [
            json!({"jsonrpc": "2.0", "method": "notifications/progress",
                   "params": {"progressToken": 1, "progress": 0.5}}),
            json!({"jsonrpc": "2.0", "id": 1, "result": {"content": []}}),
            json!({"jsonrpc": "2.0", "id": null, "method": "odd"}),
            json!("not an object"),
        ] {
            let mut rewritten = message.clone();
            assert!(!qualify_server_request("a", &mut rewritten));
            assert_eq!(rewritten, message);
        }
    }
}
