//! Chat Completions' SSE stream for a turn: `chat.completion.chunk`s (role first, then content
//! or tool-call argument deltas, then the finish reason), a usage-only chunk when
//! `stream_options.include_usage` is set (every other chunk then carries `"usage": null`), and
//! `data: [DONE]`.

use bytes::Bytes;
use serde_json::{json, Value};

use super::{finish_reason, usage, CREATED};
use crate::llm_fake::script::{pieces, Block, Turn};

/// One SSE event per frame.
pub(crate) fn frames(id: &str, model: &str, turn: &Turn, include_usage: bool) -> Vec<Bytes> {
    let chunk = |choices: Value, usage_value: Option<Value>| {
        let mut chunk = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
            "choices": choices,
        });
        if include_usage {
            chunk["usage"] = usage_value.unwrap_or(Value::Null);
        }
        data(&chunk)
    };
    let delta = |delta: Value, finish: Option<&str>| json!([{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }]);
    let mut out = vec![chunk(
        delta(
            json!({ "role": "assistant", "content": "", "refusal": null }),
            None,
        ),
        None,
    )];
    let mut call_index = 0;
    for block in &turn.blocks {
        match block {
            Block::Thinking { .. } => {}
            Block::Text(text) => {
                for piece in pieces(text) {
                    out.push(chunk(delta(json!({ "content": piece }), None), None));
                }
            }
            Block::ToolUse {
                id: call_id,
                name,
                input,
            } => {
                out.push(chunk(
                    delta(
                        json!({ "tool_calls": [{ "index": call_index, "id": call_id, "type": "function",
                            "function": { "name": name, "arguments": "" } }] }),
                        None,
                    ),
                    None,
                ));
                for piece in pieces(&input.to_string()) {
                    out.push(chunk(
                        delta(
                            json!({ "tool_calls": [{ "index": call_index, "function": { "arguments": piece } }] }),
                            None,
                        ),
                        None,
                    ));
                }
                call_index += 1;
            }
        }
    }
    out.push(chunk(
        delta(json!({}), Some(finish_reason(turn.stop))),
        None,
    ));
    if include_usage {
        out.push(chunk(json!([]), Some(usage(turn))));
    }
    out.push(Bytes::from_static(b"data: [DONE]\n\n"));
    out
}

fn data(chunk: &Value) -> Bytes {
    Bytes::from(format!("data: {chunk}\n\n"))
}
