//! Canned JSON-RPC answers for fake agents.

use serde_json::{json, Value};

use crate::fake_upstream::{RecordedRequest, Reply};

/// The request's `method` and `id`, when its body is a JSON-RPC object.
pub fn method_and_id(request: &RecordedRequest) -> Option<(String, Value)> {
    let body: Value = serde_json::from_slice(&request.body).ok()?;
    let method = body.get("method")?.as_str()?.to_string();
    Some((method, body.get("id").cloned().unwrap_or(Value::Null)))
}

/// `{"jsonrpc":"2.0","id":<id>,"result":<result>}`, echoing the request's id (null if none).
pub fn result(request: &RecordedRequest, result: Value) -> Reply {
    let id = method_and_id(request).map_or(Value::Null, |(_, id)| id);
    Reply::json(json!({ "jsonrpc": "2.0", "id": id, "result": result }).to_string())
}

/// A JSON-RPC error answer (HTTP 200, as A2A agents send them).
pub fn error(request: &RecordedRequest, code: i64, message: &str) -> Reply {
    let id = method_and_id(request).map_or(Value::Null, |(_, id)| id);
    Reply::json(
        json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
            .to_string(),
    )
}

/// A JSON-RPC request body.
pub fn request(id: u64, method: &str, params: Value) -> String {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }).to_string()
}
