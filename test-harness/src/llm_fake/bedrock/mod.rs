//! A strict fake of Bedrock's runtime Converse API: `POST /model/{modelId}/converse` (JSON) and
//! `/converse-stream` (AWS eventstream: `messageStart`, `contentBlockStart`/`Delta`/`Stop`,
//! `messageStop`, `metadata`); SigV4 signatures verified; errors as
//! `{"message"}` with `x-amzn-ErrorType`.

mod sha256;
pub(crate) mod sigv4;
mod validate;

use bytes::Bytes;
use serde_json::{json, Value};

use super::check::Invalid;
use super::eventstream;
use super::script::{decide, pieces, Block, Decision, Stop, Turn};
use super::server::{FakeBody, FakeResponse};
use super::Shared;
use crate::fake_upstream::RecordedRequest;

/// Model ids this fake serves; any other is a `ValidationException`, as Bedrock answers.
pub const MODELS: &[&str] = &[
    "anthropic.claude-3-5-haiku-20241022-v1:0",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "amazon.nova-lite-v1:0",
];

/// Answers one request.
pub(crate) fn handle(shared: &Shared, request: &RecordedRequest) -> FakeResponse {
    let path = request.path.split('?').next().unwrap_or_default();
    let Some((model, stream)) = route(&request.method, path) else {
        return error(
            shared,
            404,
            "UnknownOperationException",
            "Unknown operation",
        );
    };
    if let Err((kind, message)) =
        sigv4::check(request, shared.key(), &shared.secret, &shared.region)
    {
        return error(shared, 403, kind, &message);
    }
    if !request
        .header("content-type")
        .is_some_and(|ct| ct.starts_with("application/json"))
    {
        return error(
            shared,
            400,
            "ValidationException",
            "Content-Type must be application/json",
        );
    }
    let body: Value = match serde_json::from_slice(&request.body) {
        Ok(body) => body,
        Err(e) => {
            let message =
                format!("Malformed input request: {e}, please reformat your input and try again.");
            return error(shared, 400, "ValidationException", &message);
        }
    };
    let ask = match validate::request(&body) {
        Ok(ask) => ask,
        Err(Invalid { message, .. }) => return error(shared, 400, "ValidationException", &message),
    };
    if !MODELS.contains(&model.as_str()) {
        return error(
            shared,
            400,
            "ValidationException",
            "The provided model identifier is invalid.",
        );
    }
    let answer = shared.next_answer();
    let tool_id = format!("tooluse_fake{:04}", shared.id());
    match decide(&ask, &answer, tool_id) {
        Decision::Turn(turn) => {
            shared.report(turn.input_tokens, turn.output_tokens);
            let request_id = format!("fake-{:04}", shared.id());
            if stream {
                FakeResponse {
                    status: 200,
                    headers: vec![
                        (
                            "content-type".into(),
                            "application/vnd.amazon.eventstream".into(),
                        ),
                        ("x-amzn-requestid".into(), request_id),
                    ],
                    body: FakeBody::Frames(frames(&turn), answer.delivery),
                }
            } else {
                FakeResponse::json(200, &converse(&turn)).header("x-amzn-requestid", request_id)
            }
        }
        Decision::Error {
            status,
            retry_after,
        } => {
            let (kind, message) = match status {
                429 => (
                    "ThrottlingException",
                    "Too many requests, please wait before trying again.",
                ),
                503 => (
                    "ServiceUnavailableException",
                    "Bedrock is unable to process your request.",
                ),
                424 => ("ModelErrorException", "The model returned an error."),
                _ => (
                    "InternalServerException",
                    "The server encountered an internal error.",
                ),
            };
            let response = error(shared, status, kind, message);
            match retry_after {
                Some(seconds) => response.header("retry-after", seconds.to_string()),
                None => response,
            }
        }
        Decision::BadScript(message) => error(
            shared,
            400,
            "ValidationException",
            &format!("test script: {message}"),
        ),
    }
}

/// `(model id, streaming)` for `/model/{id}/converse[-stream]`, the id percent-decoded.
fn route(method: &str, path: &str) -> Option<(String, bool)> {
    if method != "POST" {
        return None;
    }
    let rest = path.strip_prefix("/model/")?;
    let (model, operation) = rest.rsplit_once('/')?;
    let stream = match operation {
        "converse" => false,
        "converse-stream" => true,
        _ => return None,
    };
    Some((percent_decode(model)?, stream))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn stop_reason(stop: Stop) -> &'static str {
    match stop {
        Stop::EndTurn => "end_turn",
        Stop::ToolUse => "tool_use",
        Stop::MaxTokens => "max_tokens",
        Stop::Sequence => "stop_sequence",
    }
}

fn usage(turn: &Turn) -> Value {
    json!({
        "inputTokens": turn.input_tokens,
        "outputTokens": turn.output_tokens,
        "totalTokens": turn.input_tokens + turn.output_tokens,
    })
}

fn converse(turn: &Turn) -> Value {
    let content: Vec<Value> = turn
        .blocks
        .iter()
        .filter_map(|block| match block {
            Block::Thinking { .. } => None,
            Block::Text(text) => Some(json!({ "text": text })),
            Block::ToolUse { id, name, input } => {
                Some(json!({ "toolUse": { "toolUseId": id, "name": name, "input": input } }))
            }
        })
        .collect();
    json!({
        "output": { "message": { "role": "assistant", "content": content } },
        "stopReason": stop_reason(turn.stop),
        "usage": usage(turn),
        "metrics": { "latencyMs": 12 },
    })
}

/// The ConverseStream events of `turn`, each one eventstream message. Payloads carry Bedrock's
/// `p` padding field, which clients must ignore.
fn frames(turn: &Turn) -> Vec<Bytes> {
    let mut out = vec![event("messageStart", json!({ "role": "assistant" }))];
    for (index, block) in turn.blocks.iter().enumerate() {
        match block {
            Block::Thinking { .. } => {}
            Block::Text(text) => {
                for piece in pieces(text) {
                    out.push(event(
                        "contentBlockDelta",
                        json!({ "contentBlockIndex": index, "delta": { "text": piece } }),
                    ));
                }
            }
            Block::ToolUse { id, name, input } => {
                out.push(event(
                    "contentBlockStart",
                    json!({ "contentBlockIndex": index,
                            "start": { "toolUse": { "toolUseId": id, "name": name } } }),
                ));
                for piece in pieces(&input.to_string()) {
                    out.push(event(
                        "contentBlockDelta",
                        json!({ "contentBlockIndex": index,
                                "delta": { "toolUse": { "input": piece } } }),
                    ));
                }
            }
        }
        out.push(event(
            "contentBlockStop",
            json!({ "contentBlockIndex": index }),
        ));
    }
    out.push(event(
        "messageStop",
        json!({ "stopReason": stop_reason(turn.stop) }),
    ));
    out.push(event(
        "metadata",
        json!({ "usage": usage(turn), "metrics": { "latencyMs": 12 } }),
    ));
    out
}

fn event(kind: &str, mut payload: Value) -> Bytes {
    payload["p"] = json!("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ");
    let headers = [
        (":event-type", kind),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ];
    Bytes::from(eventstream::encode(
        &headers,
        payload.to_string().as_bytes(),
    ))
}

fn error(shared: &Shared, status: u16, kind: &str, message: &str) -> FakeResponse {
    FakeResponse::json(status, &json!({ "message": message }))
        .header(
            "x-amzn-errortype",
            format!("{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        )
        .header("x-amzn-requestid", format!("fake-{:04}", shared.id()))
}
