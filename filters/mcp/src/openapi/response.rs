//! The API's answer → an MCP `CallToolResult`: JSON becomes `structuredContent` plus a text
//! block with the same JSON; other text types become text; images an image block; anything
//! else a short description. Non-2xx answers, timeouts, failed calls and answers over the size
//! limit are tool errors (`isError: true`) that say what happened, so a model can react.

use ai_gateway_core::{CalloutFailure, CalloutResult};
use base64::Engine;
use serde_json::{json, Value};

use super::derive::Operation;

/// Most characters of an error body quoted back in a tool error.
pub const MAX_ERROR_BODY_CHARS: usize = 2000;

/// A `CallToolResult` with one text block, flagged as an error.
pub fn tool_error(text: impl Into<String>) -> Value {
    json!({"content": [{"type": "text", "text": text.into()}], "isError": true})
}

/// The tool result of `op` for the API's answer; `max_bytes` bounds the body, `timeout_ms`
/// is quoted when the call timed out.
pub fn tool_result(
    op: &Operation,
    result: &CalloutResult,
    max_bytes: usize,
    timeout_ms: u64,
) -> Value {
    let response = match result {
        Ok(response) => response,
        Err(CalloutFailure::Timeout) => {
            return tool_error(format!(
                "{} did not answer within {timeout_ms} ms (timed out)",
                op.label()
            ))
        }
        Err(failure) => return tool_error(format!("{} failed: {failure}", op.label())),
    };
    if response.body.len() > max_bytes {
        return tool_error(format!(
            "{} answered {} bytes, more than maxResponseBytes ({max_bytes})",
            op.label(),
            response.body.len()
        ));
    }
    let content_type = response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !(200..300).contains(&response.status) {
        let text = String::from_utf8_lossy(&response.body);
        let quoted = match text.char_indices().nth(MAX_ERROR_BODY_CHARS) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.into_owned(),
        };
        return tool_error(format!("HTTP {}: {quoted}", response.status));
    }
    let is_json = essence == "application/json" || essence.ends_with("+json");
    if is_json {
        if let Ok(value) = serde_json::from_slice::<Value>(&response.body) {
            let structured = if value.is_object() && !op.wraps_output {
                value
            } else {
                json!({ "result": value })
            };
            // The spec's advice for structured results: the same JSON as text too, for
            // clients that read only content blocks.
            return json!({
                "content": [{"type": "text", "text": structured.to_string()}],
                "structuredContent": structured,
                "isError": false,
            });
        }
    }
    if essence.starts_with("image/") {
        let data = base64::engine::general_purpose::STANDARD.encode(&response.body);
        return json!({
            "content": [{"type": "image", "data": data, "mimeType": essence}],
            "isError": false,
        });
    }
    let is_text = essence.starts_with("text/")
        || is_json
        || essence.ends_with("+xml")
        || essence == "application/xml"
        || essence.is_empty();
    let text = if response.body.is_empty() {
        format!("HTTP {} (no content)", response.status)
    } else if is_text {
        String::from_utf8_lossy(&response.body).into_owned()
    } else {
        format!(
            "HTTP {}: {} bytes of {essence} (not shown)",
            response.status,
            response.body.len()
        )
    };
    json!({"content": [{"type": "text", "text": text}], "isError": false})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openapi::{OpenApi, Selection};
    use ai_gateway_core::CalloutResponse;

    fn ops() -> OpenApi {
        let spec = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
            "paths": {"/one": {"get": {"operationId": "one", "responses": {"200": {"content": {
                         "application/json": {"schema": {"type": "object"}}}}}}},
                      "/many": {"get": {"operationId": "many", "responses": {"200": {"content": {
                         "application/json": {"schema": {"type": "array"}}}}}}}}});
        OpenApi::from_spec(&spec, None, &Selection::default()).unwrap()
    }

    fn answer(status: u16, content_type: &str, body: &[u8]) -> CalloutResult {
        Ok(CalloutResponse {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.to_vec(),
        })
    }

    #[test]
    fn json_becomes_structured_content_and_text() {
        let api = ops();
        let one = api.operation("one").unwrap();
        let result = tool_result(
            one,
            &answer(200, "application/json", br#"{"id":1}"#),
            1024,
            5,
        );
        assert_eq!(
            result,
            json!({"content": [{"type": "text", "text": "{\"id\":1}"}],
                   "structuredContent": {"id": 1}, "isError": false})
        );
        let many = api.operation("many").unwrap();
        let result = tool_result(
            many,
            &answer(200, "application/json; charset=utf-8", b"[1,2]"),
            1024,
            5,
        );
        assert_eq!(result["structuredContent"], json!({"result": [1, 2]}));
        assert_eq!(result["content"][0]["text"], "{\"result\":[1,2]}");
    }

    #[test]
    fn other_types_become_text_or_images() {
        let one = ops().operation("one").unwrap().clone();
        let result = tool_result(&one, &answer(200, "text/plain", b"pong"), 1024, 5);
        assert_eq!(
            result,
            json!({"content": [{"type": "text", "text": "pong"}], "isError": false})
        );
        let result = tool_result(&one, &answer(200, "image/png", b"\x89PNG"), 1024, 5);
        assert_eq!(
            result["content"][0],
            json!({"type": "image", "data": "iVBORw==", "mimeType": "image/png"})
        );
        let result = tool_result(
            &one,
            &answer(200, "application/octet-stream", b"\0\0"),
            1024,
            5,
        );
        assert_eq!(
            result["content"][0]["text"],
            "HTTP 200: 2 bytes of application/octet-stream (not shown)"
        );
        let result = tool_result(&one, &answer(204, "", b""), 1024, 5);
        assert_eq!(result["content"][0]["text"], "HTTP 204 (no content)");
    }

    #[test]
    fn failures_are_tool_errors_that_say_what_happened() {
        let one = ops().operation("one").unwrap().clone();
        let result = tool_result(
            &one,
            &answer(404, "application/json", br#"{"detail":"Not Found"}"#),
            1024,
            5,
        );
        assert_eq!(
            result,
            json!({"content": [{"type": "text", "text": "HTTP 404: {\"detail\":\"Not Found\"}"}],
                   "isError": true})
        );
        let result = tool_result(&one, &Err(CalloutFailure::Timeout), 1024, 2500);
        assert_eq!(
            result["content"][0]["text"],
            "GET /one did not answer within 2500 ms (timed out)"
        );
        assert_eq!(result["isError"], true);
        let result = tool_result(
            &one,
            &answer(200, "application/json", &[b' '; 2048]),
            1024,
            5,
        );
        assert_eq!(
            result["content"][0]["text"],
            "GET /one answered 2048 bytes, more than maxResponseBytes (1024)"
        );
        let long = "x".repeat(MAX_ERROR_BODY_CHARS + 10);
        let result = tool_result(
            &one,
            &answer(500, "text/plain", long.as_bytes()),
            1 << 20,
            5,
        );
        let text = result["content"][0]["text"].as_str().unwrap();
        assert!(
            text.starts_with("HTTP 500: xxx") && text.ends_with('…'),
            "{text}"
        );
        assert_eq!(
            text.chars().count(),
            "HTTP 500: ".len() + MAX_ERROR_BODY_CHARS + 1
        );
    }
}
