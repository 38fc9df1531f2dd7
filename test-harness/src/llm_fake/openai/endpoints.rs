//! The OpenAI fake's other metered endpoints, in their documented wire shapes: `POST
//! /v1/embeddings` (a list of vectors and `usage.prompt_tokens`) and `POST /v1/responses` (a
//! `response` object, or its SSE events ending in `response.completed`, with
//! `usage.input_tokens`/`output_tokens`). Token figures are word counts, as in chat.

use bytes::Bytes;
use serde_json::{json, Value};

use super::{error, CREATED};
use crate::llm_fake::script::words;
use crate::llm_fake::server::{Delivery, FakeBody, FakeResponse};
use crate::llm_fake::Shared;

/// Models with embeddings.
const EMBEDDING_MODELS: &[&str] = &["text-embedding-3-small", "text-embedding-3-large"];

/// The text of an `input` (a string or a list of strings / message items).
fn input_text(input: &Value) -> Option<String> {
    match input {
        Value::String(text) => Some(text.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|item| match item {
                    Value::String(text) => Some(text.clone()),
                    other => other
                        .get("content")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

/// `POST /v1/embeddings`.
pub(crate) fn embeddings(shared: &Shared, body: &Value) -> FakeResponse {
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return error(400, "you must provide a model parameter", None, None);
    };
    if !EMBEDDING_MODELS.contains(&model) {
        let message =
            format!("The model `{model}` does not exist or you do not have access to it.");
        return error(404, &message, None, Some("model_not_found"));
    }
    let Some(text) = body.get("input").and_then(input_text) else {
        return error(400, "'input' is a required property", Some("input"), None);
    };
    let tokens = words(&text).max(1);
    shared.report(tokens, 0);
    FakeResponse::json(
        200,
        &json!({
            "object": "list",
            "data": [{ "object": "embedding", "embedding": [0.0023064255, -0.009327292, 0.015797347], "index": 0 }],
            "model": model,
            "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
        }),
    )
}

/// `POST /v1/responses`.
pub(crate) fn responses(shared: &Shared, body: &Value) -> FakeResponse {
    let Some(model) = body.get("model").and_then(Value::as_str) else {
        return error(
            400,
            "Missing required parameter: 'model'.",
            Some("model"),
            None,
        );
    };
    if !super::MODELS.contains(&model) {
        let message =
            format!("The model `{model}` does not exist or you do not have access to it.");
        return error(404, &message, None, Some("model_not_found"));
    }
    let Some(text) = body.get("input").and_then(input_text) else {
        return error(
            400,
            "Missing required parameter: 'input'.",
            Some("input"),
            None,
        );
    };
    let answer = format!("echo: {text}");
    let (input, output) = (words(&text).max(1), words(&answer));
    shared.report(input, output);
    let id = format!("resp_fake{:04}", shared.id());
    let usage = json!({
        "input_tokens": input, "input_tokens_details": { "cached_tokens": 0 },
        "output_tokens": output, "output_tokens_details": { "reasoning_tokens": 0 },
        "total_tokens": input + output,
    });
    let message = json!({
        "type": "message", "id": format!("msg_{id}"), "status": "completed", "role": "assistant",
        "content": [{ "type": "output_text", "text": answer, "annotations": [] }],
    });
    let response = |status: &str, output: Value, usage: Value| {
        json!({
            "id": id, "object": "response", "created_at": CREATED, "status": status,
            "model": model, "output": output, "usage": usage,
            "parallel_tool_calls": true, "tool_choice": "auto", "tools": [],
        })
    };
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        return FakeResponse::json(200, &response("completed", json!([message]), usage));
    }
    let events = [
        (
            "response.created",
            json!({ "type": "response.created", "sequence_number": 0,
                    "response": response("in_progress", json!([]), Value::Null) }),
        ),
        (
            "response.output_text.delta",
            json!({ "type": "response.output_text.delta", "sequence_number": 1,
                    "item_id": format!("msg_{id}"), "output_index": 0, "content_index": 0,
                    "delta": answer }),
        ),
        (
            "response.completed",
            json!({ "type": "response.completed", "sequence_number": 2,
                    "response": response("completed", json!([message]), usage) }),
        ),
    ];
    let frames = events
        .iter()
        .map(|(name, data)| Bytes::from(format!("event: {name}\ndata: {data}\n\n")))
        .collect();
    FakeResponse {
        status: 200,
        headers: vec![(
            "content-type".into(),
            "text/event-stream; charset=utf-8".into(),
        )],
        body: FakeBody::Frames(frames, Delivery::default()),
    }
}
