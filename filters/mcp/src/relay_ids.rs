//! The ids a client sees for what a backend asks of it. A server→client request's id (and the
//! progress token it asks the client to report with) becomes
//! `<backend>~<unix ms when relayed>~<original as JSON>`, so the client's answer, or its
//! progress report, names the backend that asked and carries the original back, and the
//! answer's round-trip time can be measured, with no state in any gateway process (another
//! replica may receive the answer); requests from two backends that happen to use the same id
//! stay distinct. Backend names cannot hold `~` (config validation), so the first `~` ends the
//! name.

use serde_json::Value;

/// Between the backend name, the time and the original id.
pub const SEPARATOR: char = '~';

/// A qualified id taken apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Qualified<'a> {
    /// The backend that asked.
    pub backend: &'a str,
    /// Unix milliseconds when the gateway relayed the request.
    pub sent_millis: u64,
    /// The backend's own id (a string or number).
    pub original: Value,
}

/// The client-facing form of `original` (a string or number) from `backend`, relayed at
/// `now_millis`.
pub fn qualify(backend: &str, now_millis: u64, original: &Value) -> Value {
    Value::String(format!(
        "{backend}{SEPARATOR}{now_millis}{SEPARATOR}{original}"
    ))
}

/// The parts of a qualified id; `None` for anything the gateway did not issue (wrong type,
/// missing parts, an original that is not a string or number).
pub fn unqualify(value: &Value) -> Option<Qualified<'_>> {
    let (backend, rest) = value.as_str()?.split_once(SEPARATOR)?;
    let (sent, original) = rest.split_once(SEPARATOR)?;
    let sent_millis = sent.parse().ok()?;
    match serde_json::from_str(original).ok()? {
        original @ (Value::String(_) | Value::Number(_)) if !backend.is_empty() => {
            Some(Qualified {
                backend,
                sent_millis,
                original,
            })
        }
        _ => None,
    }
}

/// Qualifies a message a backend sent the client when it is a request (it has a `method` and
/// an `id`): its id and its `params._meta.progressToken`. Returns whether anything changed;
/// notifications and responses stay as they are.
pub fn qualify_server_request(backend: &str, now_millis: u64, message: &mut Value) -> bool {
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
    *id = qualify(backend, now_millis, id);
    let token = object
        .get_mut("params")
        .and_then(|p| p.get_mut("_meta"))
        .and_then(|m| m.get_mut("progressToken"))
        .filter(|t| t.is_string() || t.is_number());
    if let Some(token) = token {
        *token = qualify(backend, now_millis, token);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_round_trip_with_their_backend_and_time() {
        for original in [
            json!(0),
            json!(42),
            json!(-1.5),
            json!("abc"),
            json!("a~b\"c"),
        ] {
            let qualified = qualify("everything", 1_700_000_000_123, &original);
            assert!(qualified.is_string());
            assert_eq!(
                unqualify(&qualified),
                Some(Qualified {
                    backend: "everything",
                    sent_millis: 1_700_000_000_123,
                    original: original.clone(),
                }),
                "{original}"
            );
        }
        assert_eq!(qualify("b-1", 5, &json!(7)), json!("b-1~5~7"));
        assert_eq!(qualify("b", 5, &json!("x")), json!("b~5~\"x\""));
    }

    #[test]
    fn ids_the_gateway_did_not_issue_are_not_unqualified() {
        for value in [
            json!(7),
            json!("plain"),
            json!("~5~7"),
            json!("b~5~"),
            json!("b~7"),
            json!("b~soon~7"),
            json!("b~5~not json"),
            json!("b~5~{\"a\":1}"),
            json!("b~5~null"),
            json!(null),
        ] {
            assert_eq!(unqualify(&value), None, "{value}");
        }
    }

    #[test]
    fn server_requests_get_qualified_ids_and_progress_tokens() {
        let mut request = json!({"jsonrpc": "2.0", "id": 3, "method": "sampling/createMessage",
            "params": {"_meta": {"progressToken": "p1"}, "maxTokens": 5}});
        assert!(qualify_server_request("a", 9, &mut request));
        assert_eq!(request["id"], json!("a~9~3"));
        assert_eq!(
            request["params"]["_meta"]["progressToken"],
            json!("a~9~\"p1\"")
        );
        assert_eq!(request["params"]["maxTokens"], json!(5));

        let mut roots = json!({"jsonrpc": "2.0", "id": "r", "method": "roots/list"});
        assert!(qualify_server_request("a", 9, &mut roots));
        assert_eq!(roots["id"], json!("a~9~\"r\""));
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
            assert!(!qualify_server_request("a", 9, &mut rewritten));
            assert_eq!(rewritten, message);
        }
    }
}
