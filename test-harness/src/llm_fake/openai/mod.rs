//! A strict fake of OpenAI's Chat Completions API (and OpenAI-compatible servers under a path
//! prefix): `POST <prefix>/v1/chat/completions` (JSON or `chat.completion.chunk` SSE ending in
//! `[DONE]`), `POST <prefix>/v1/embeddings` and `/v1/responses` ([`endpoints`]),
//! `GET <prefix>/v1/models`; `Authorization: Bearer <key>`; errors as
//! `{"error":{message,type,param,code}}`.

mod endpoints;
mod messages;
mod stream;
mod validate;

use serde_json::{json, Value};

use super::check::Invalid;
use super::script::{decide, Block, Decision, Stop, Turn};
use super::server::{FakeBody, FakeResponse};
use super::Shared;
use crate::fake_upstream::RecordedRequest;

/// Models this fake serves; any other is 404 `model_not_found`, as the API answers.
pub const MODELS: &[&str] = &["gpt-4o", "gpt-4o-mini", "gpt-5"];

/// A fixed creation time, so answers are reproducible.
const CREATED: u64 = 1_764_000_000;

/// Answers one request.
pub(crate) fn handle(shared: &Shared, request: &RecordedRequest) -> FakeResponse {
    let path = request.path.split('?').next().unwrap_or_default();
    let Some(path) = path.strip_prefix(shared.path_prefix.as_str()) else {
        return not_found(path);
    };
    let route = (request.method.as_str(), path);
    if !matches!(
        route,
        (
            "POST",
            "/v1/chat/completions" | "/v1/embeddings" | "/v1/responses"
        ) | ("GET", "/v1/models")
    ) {
        return not_found(path);
    }
    if let Some(key) = &shared.key {
        match request.header("authorization") {
            None => return error(401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", None, None),
            Some(value) if value.strip_prefix("Bearer ") != Some(key.as_str()) => {
                let shown = value.strip_prefix("Bearer ").unwrap_or(value);
                let tail = &shown[shown.len().saturating_sub(4)..];
                return error(401, &format!("Incorrect API key provided: ****{tail}. You can find your API key at https://platform.openai.com/account/api-keys."), None, Some("invalid_api_key"));
            }
            Some(_) => {}
        }
    }
    if route.0 == "GET" {
        return models();
    }
    let body: Value = match serde_json::from_slice(&request.body) {
        Ok(body) => body,
        Err(_) => return error(400, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)", None, None),
    };
    match route.1 {
        "/v1/embeddings" => return endpoints::embeddings(shared, &body),
        "/v1/responses" => return endpoints::responses(shared, &body),
        _ => {}
    }
    let valid = match validate::request(&body) {
        Ok(valid) => valid,
        Err(Invalid { message, param }) => return error(400, &message, param.as_deref(), None),
    };
    if !MODELS.contains(&valid.model.as_str()) {
        let message = format!(
            "The model `{}` does not exist or you do not have access to it.",
            valid.model
        );
        return error(404, &message, None, Some("model_not_found"));
    }
    let answer = shared.next_answer();
    let tool_id = format!("call_fake{:04}", shared.id());
    match decide(&valid.ask, &answer, tool_id) {
        Decision::Turn(turn) => {
            shared.report(turn.input_tokens, turn.output_tokens);
            let id = format!("chatcmpl-fake{:04}", shared.id());
            let request_id = format!("req_fake{:04}", shared.id());
            if valid.stream {
                let frames = stream::frames(&id, &valid.model, &turn, valid.include_usage);
                FakeResponse {
                    status: 200,
                    headers: vec![
                        (
                            "content-type".into(),
                            "text/event-stream; charset=utf-8".into(),
                        ),
                        ("x-request-id".into(), request_id),
                    ],
                    body: FakeBody::Frames(frames, answer.delivery),
                }
            } else {
                FakeResponse::json(200, &completion(&id, &valid.model, &turn))
                    .header("x-request-id", request_id)
            }
        }
        Decision::Error {
            status,
            retry_after,
        } => {
            let response = scripted_error(status);
            match retry_after {
                Some(seconds) => response.header("retry-after", seconds.to_string()),
                None => response,
            }
        }
        Decision::BadScript(message) => error(400, &format!("test script: {message}"), None, None),
    }
}

fn completion(id: &str, model: &str, turn: &Turn) -> Value {
    let (content, tool_calls) = message_parts(turn);
    let mut message = json!({
        "role": "assistant",
        "content": content,
        "refusal": null,
        "annotations": [],
    });
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    json!({
        "id": id,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(turn.stop),
        }],
        "usage": usage(turn),
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    })
}

/// The message's text (null without text blocks) and its `tool_calls`.
fn message_parts(turn: &Turn) -> (Value, Vec<Value>) {
    let mut text: Option<String> = None;
    let mut calls = Vec::new();
    for block in &turn.blocks {
        match block {
            // Chat Completions returns no reasoning text, only its token count.
            Block::Thinking { .. } => {}
            Block::Text(t) => text.get_or_insert_with(String::new).push_str(t),
            Block::ToolUse { id, name, input } => calls.push(json!({
                "id": id,
                "type": "function",
                "function": { "name": name, "arguments": input.to_string() },
            })),
        }
    }
    (text.map_or(Value::Null, Value::String), calls)
}

pub(crate) fn finish_reason(stop: Stop) -> &'static str {
    match stop {
        Stop::EndTurn | Stop::Sequence => "stop",
        Stop::ToolUse => "tool_calls",
        Stop::MaxTokens => "length",
    }
}

pub(crate) fn usage(turn: &Turn) -> Value {
    json!({
        "prompt_tokens": turn.input_tokens,
        "completion_tokens": turn.output_tokens,
        "total_tokens": turn.input_tokens + turn.output_tokens,
        "prompt_tokens_details": { "cached_tokens": 0, "audio_tokens": 0 },
        "completion_tokens_details": {
            "reasoning_tokens": turn.reasoning_tokens, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
        },
    })
}

fn models() -> FakeResponse {
    let data: Vec<Value> = MODELS
        .iter()
        .map(|id| json!({ "id": id, "object": "model", "created": CREATED, "owned_by": "system" }))
        .collect();
    FakeResponse::json(200, &json!({ "object": "list", "data": data }))
}

fn not_found(path: &str) -> FakeResponse {
    error(404, &format!("Invalid URL (POST {path})"), None, None)
}

fn scripted_error(status: u16) -> FakeResponse {
    match status {
        429 => error(
            429,
            "Rate limit reached for gpt-4o in organization org-fake on requests per min (RPM): Limit 3, Used 3, Requested 1.",
            None,
            Some("rate_limit_exceeded"),
        ),
        500 => error(
            500,
            "The server had an error while processing your request. Sorry about that!",
            None,
            None,
        ),
        503 => error(503, "The engine is currently overloaded, please try again later.", None, None),
        other => error(other, &format!("scripted error {other}"), None, None),
    }
}

/// The API's error body: `type` from the status, as the API sets it.
pub(crate) fn error(
    status: u16,
    message: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> FakeResponse {
    let kind = match status {
        429 => "requests",
        500..=599 => "server_error",
        _ => "invalid_request_error",
    };
    let body = json!({
        "error": { "message": message, "type": kind, "param": param, "code": code }
    });
    FakeResponse::json(status, &body)
}
