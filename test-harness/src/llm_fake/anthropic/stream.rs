//! The Messages API's SSE stream for a turn: `message_start`, per block `content_block_start`,
//! deltas (`text_delta`, `input_json_delta`) and `content_block_stop`, a `ping`, then
//! `message_delta` (stop reason, output usage) and `message_stop`.

use bytes::Bytes;
use serde_json::{json, Value};

use super::{stop_reason, usage};
use crate::llm_fake::script::{pieces, Block, Turn};

/// One SSE event per frame.
pub(crate) fn frames(id: &str, model: &str, turn: &Turn) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut start_usage = usage(turn.input_tokens, 1);
    start_usage["output_tokens"] = json!(1);
    out.push(event(
        "message_start",
        json!({ "type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null, "usage": start_usage,
        } }),
    ));
    for (index, block) in turn.blocks.iter().enumerate() {
        let (start, deltas) = match block {
            Block::Thinking { text, signature } => {
                let mut deltas: Vec<Value> = pieces(text)
                    .into_iter()
                    .map(|piece| json!({ "type": "thinking_delta", "thinking": piece }))
                    .collect();
                deltas.push(json!({ "type": "signature_delta", "signature": signature }));
                (
                    json!({ "type": "thinking", "thinking": "", "signature": "" }),
                    deltas,
                )
            }
            Block::Text(text) => (
                json!({ "type": "text", "text": "" }),
                pieces(text)
                    .into_iter()
                    .map(|piece| json!({ "type": "text_delta", "text": piece }))
                    .collect::<Vec<_>>(),
            ),
            Block::ToolUse { id, name, input } => {
                let mut deltas = vec![json!({ "type": "input_json_delta", "partial_json": "" })];
                deltas.extend(
                    pieces(&input.to_string())
                        .into_iter()
                        .map(|piece| json!({ "type": "input_json_delta", "partial_json": piece })),
                );
                (
                    json!({ "type": "tool_use", "id": id, "name": name, "input": {} }),
                    deltas,
                )
            }
        };
        out.push(event(
            "content_block_start",
            json!({ "type": "content_block_start", "index": index, "content_block": start }),
        ));
        if index == 0 {
            out.push(event("ping", json!({ "type": "ping" })));
        }
        for delta in deltas {
            out.push(event(
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": index, "delta": delta }),
            ));
        }
        out.push(event(
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": index }),
        ));
    }
    out.push(event(
        "message_delta",
        json!({
            "type": "message_delta",
            "delta": { "stop_reason": stop_reason(turn.stop), "stop_sequence": turn.stop_sequence },
            "usage": { "output_tokens": turn.output_tokens },
        }),
    ));
    out.push(event("message_stop", json!({ "type": "message_stop" })));
    out
}

fn event(name: &str, data: Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}
