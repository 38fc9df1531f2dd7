//! A strict fake of the Anthropic Messages API: `POST /v1/messages` (JSON or SSE),
//! `POST /v1/messages/count_tokens`, `GET /v1/models`; `x-api-key` and `anthropic-version`
//! required; errors as `{"type":"error","error":{type,message},"request_id"}`.

mod messages;
mod stream;
mod validate;

use serde_json::{json, Value};

use super::check::Invalid;
use super::script::{decide, Block, Decision, Stop, Turn};
use super::server::{FakeBody, FakeResponse};
use super::Shared;
use crate::fake_upstream::RecordedRequest;

/// Models this fake serves; any other is 404 `not_found_error`, as the API answers.
pub const MODELS: &[&str] = &["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"];

/// `anthropic-version`s the fake accepts: the long-standing one and the one the pinned
/// `anthropic` SDK (2.10) sends.
const VERSIONS: &[&str] = &["2023-06-01", "2026-10-21"];

/// Answers one request.
pub(crate) fn handle(shared: &Shared, request: &RecordedRequest) -> FakeResponse {
    let path = request.path.split('?').next().unwrap_or_default();
    let route = (request.method.as_str(), path);
    if !matches!(
        route,
        ("POST", "/v1/messages") | ("POST", "/v1/messages/count_tokens") | ("GET", "/v1/models")
    ) {
        return error(shared, 404, "Not Found");
    }
    // The API takes the key as `x-api-key` or (as the current SDK sends it) a Bearer token.
    let bearer = request
        .header("authorization")
        .and_then(|value| value.strip_prefix("Bearer "));
    match request.header("x-api-key").or(bearer) {
        None => return error(shared, 401, "x-api-key header is required"),
        Some(key) if key != shared.key() => return error(shared, 401, "invalid x-api-key"),
        Some(_) => {}
    }
    match request.header("anthropic-version") {
        None => return error(shared, 400, "anthropic-version: header is required"),
        Some(version) if VERSIONS.contains(&version) => {}
        Some(other) => {
            return error(
                shared,
                400,
                &format!("anthropic-version: invalid version {other:?}"),
            )
        }
    }
    if route.0 == "GET" {
        return models(shared);
    }
    if !request
        .header("content-type")
        .is_some_and(|ct| ct.starts_with("application/json"))
    {
        return error(shared, 400, "content-type: must be application/json");
    }
    let body: Value = match serde_json::from_slice(&request.body) {
        Ok(body) => body,
        Err(e) => {
            return error(
                shared,
                400,
                &format!("There was an error parsing the body: {e}"),
            )
        }
    };
    let count_tokens = path.ends_with("/count_tokens");
    let valid = match validate::request(&body, count_tokens) {
        Ok(valid) => valid,
        Err(Invalid { message, .. }) => return error(shared, 400, &message),
    };
    if !MODELS.contains(&valid.model.as_str()) {
        return error(shared, 404, &format!("model: {}", valid.model));
    }
    if count_tokens {
        return FakeResponse::json(200, &json!({ "input_tokens": valid.ask.input_tokens }));
    }
    let answer = shared.next_answer();
    let tool_id = format!("toolu_fake{:04}", shared.id());
    match decide(&valid.ask, &answer, tool_id) {
        Decision::Turn(turn) => {
            shared.report(turn.input_tokens, turn.output_tokens);
            let id = format!("msg_fake{:04}", shared.id());
            if valid.stream {
                let frames = stream::frames(&id, &valid.model, &turn);
                FakeResponse {
                    status: 200,
                    headers: vec![
                        (
                            "content-type".into(),
                            "text/event-stream; charset=utf-8".into(),
                        ),
                        ("cache-control".into(), "no-cache".into()),
                        ("request-id".into(), format!("req_fake{:04}", shared.id())),
                    ],
                    body: FakeBody::Frames(frames, answer.delivery),
                }
            } else {
                FakeResponse::json(200, &message(&id, &valid.model, &turn))
                    .header("request-id", format!("req_fake{:04}", shared.id()))
            }
        }
        Decision::Error {
            status,
            retry_after,
        } => {
            let response = error(shared, status, &scripted_message(status));
            match retry_after {
                Some(seconds) => response.header("retry-after", seconds.to_string()),
                None => response,
            }
        }
        Decision::BadScript(message) => error(shared, 400, &format!("test script: {message}")),
    }
}

/// The API's `message` object for a complete turn.
pub(crate) fn message(id: &str, model: &str, turn: &Turn) -> Value {
    let content: Vec<Value> = turn.blocks.iter().map(block).collect();
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(turn.stop),
        "stop_sequence": turn.stop_sequence,
        "usage": usage(turn.input_tokens, turn.output_tokens),
    })
}

pub(crate) fn usage(input_tokens: u64, output_tokens: u64) -> Value {
    json!({
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    })
}

fn block(block: &Block) -> Value {
    match block {
        Block::Thinking { text, signature } => {
            json!({ "type": "thinking", "thinking": text, "signature": signature })
        }
        Block::Text(text) => json!({ "type": "text", "text": text }),
        Block::ToolUse { id, name, input } => {
            json!({ "type": "tool_use", "id": id, "name": name, "input": input })
        }
    }
}

pub(crate) fn stop_reason(stop: Stop) -> &'static str {
    match stop {
        Stop::EndTurn => "end_turn",
        Stop::ToolUse => "tool_use",
        Stop::MaxTokens => "max_tokens",
        Stop::Sequence => "stop_sequence",
    }
}

fn models(shared: &Shared) -> FakeResponse {
    let data: Vec<Value> = MODELS
        .iter()
        .map(|id| {
            json!({ "type": "model", "id": id, "display_name": id, "created_at": "2025-09-29T00:00:00Z" })
        })
        .collect();
    let body = json!({
        "data": data,
        "has_more": false,
        "first_id": MODELS.first(),
        "last_id": MODELS.last(),
    });
    FakeResponse::json(200, &body).header("request-id", format!("req_fake{:04}", shared.id()))
}

/// The API's error type for an HTTP status.
pub(crate) fn error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

fn scripted_message(status: u16) -> String {
    match status {
        429 => "Number of request tokens has exceeded your per-minute rate limit".into(),
        529 => "Overloaded".into(),
        500 => "Internal server error".into(),
        other => format!("scripted error {other}"),
    }
}

fn error(shared: &Shared, status: u16, message: &str) -> FakeResponse {
    let request_id = format!("req_fake{:04}", shared.id());
    let body = json!({
        "type": "error",
        "error": { "type": error_type(status), "message": message },
        "request_id": request_id,
    });
    FakeResponse::json(status, &body).header("request-id", request_id)
}
