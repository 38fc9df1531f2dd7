//! Token figures of answers passed through unchanged (client and provider speak the same
//! API): read from the usage the provider reports, without holding a byte. One change is made
//! when asked: the usage-only chunk of an OpenAI stream whose client did not ask for it (the
//! gateway did, see [`crate::accounting::inject_include_usage`]) is removed.

use ai_gateway_core::sse::{Event, SseParser};
use serde_json::Value;

use crate::stream::{StreamTokens, MAX_EVENT_BYTES};

/// The wire format of a passed-through answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// OpenAI Chat Completions (JSON or `chat.completion.chunk` SSE).
    Chat,
    /// Anthropic Messages (JSON or SSE).
    Messages,
    /// OpenAI Embeddings (JSON only).
    Embeddings,
    /// OpenAI Responses (JSON or SSE of `response.*` events).
    Responses,
}

/// Watches one passed-through answer.
pub enum Observer {
    /// A JSON answer: a bounded copy, parsed at the end.
    Json {
        copy: Vec<u8>,
        limit: usize,
        wire: Wire,
    },
    /// An SSE answer: usage read from the events as they pass.
    Stream {
        parser: SseParser,
        wire: Wire,
        tokens: StreamTokens,
        model: Option<String>,
        /// Drop the usage-only chunk (and the `"usage":null` of the others).
        strip_usage: bool,
    },
}

/// What one more chunk told.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// The bytes to send instead of the chunk (only when stripping).
    pub replacement: Option<Vec<u8>>,
    /// The input figure became known with this chunk (Anthropic's `message_start`).
    pub input_known: bool,
}

impl Observer {
    /// An observer for a JSON answer of at most `limit` bytes (larger ones are not counted).
    pub fn json(wire: Wire, limit: usize) -> Self {
        Observer::Json {
            copy: Vec::new(),
            limit,
            wire,
        }
    }

    /// An observer for an SSE answer; `strip_usage` removes the usage the client did not ask
    /// for (OpenAI chat streams only).
    pub fn stream(wire: Wire, strip_usage: bool) -> Self {
        Observer::Stream {
            parser: SseParser::new(MAX_EVENT_BYTES),
            wire,
            tokens: StreamTokens::default(),
            model: None,
            strip_usage: strip_usage && wire == Wire::Chat,
        }
    }

    /// Looks at one more chunk.
    pub fn chunk(&mut self, chunk: &[u8]) -> Seen {
        match self {
            Observer::Json { copy, limit, .. } => {
                if copy.len() + chunk.len() <= *limit {
                    copy.extend_from_slice(chunk);
                } else {
                    // Too large to count: stop copying for good.
                    *limit = 0;
                    copy.clear();
                }
                Seen::default()
            }
            Observer::Stream {
                parser,
                wire,
                tokens,
                model,
                strip_usage,
            } => {
                let mut seen = Seen::default();
                let mut out = Vec::new();
                for event in parser.feed(chunk).into_iter().flatten() {
                    let value = serde_json::from_str::<Value>(&event.data).ok();
                    if let Some(value) = &value {
                        let had_input = tokens.input > 0;
                        stream_usage(*wire, value, tokens, model);
                        seen.input_known |= !had_input && tokens.input > 0;
                    }
                    if *strip_usage {
                        strip(&event, value.as_ref(), &mut out);
                    }
                }
                if *strip_usage {
                    seen.replacement = Some(out);
                }
                seen
            }
        }
    }

    /// The figures, once the answer is complete.
    pub fn tokens(&self) -> StreamTokens {
        match self {
            Observer::Json { copy, wire, .. } => serde_json::from_slice::<Value>(copy)
                .ok()
                .and_then(|v| v.get("usage").map(|u| usage(*wire, u)))
                .unwrap_or_default(),
            Observer::Stream { tokens, .. } => *tokens,
        }
    }

    /// The model the provider says answered, when it said.
    pub fn model(&self) -> Option<String> {
        match self {
            Observer::Json { copy, .. } => serde_json::from_slice::<Value>(copy)
                .ok()
                .and_then(|v| v.get("model").and_then(Value::as_str).map(str::to_string)),
            Observer::Stream { model, .. } => model.clone(),
        }
    }
}

/// Re-emits one event of a stripped stream: the usage-only chunk is dropped, and the
/// `"usage":null` that `include_usage` adds to every other chunk is cut from the JSON text
/// (a literal `,"usage":null` with bare quotes cannot occur inside a JSON string).
fn strip(event: &Event, value: Option<&Value>, out: &mut Vec<u8>) {
    let usage_only = value.is_some_and(|v| {
        v.get("usage").is_some_and(Value::is_object)
            && v.get("choices")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty)
    });
    if usage_only {
        return;
    }
    if event.data.contains(r#","usage":null"#) {
        let mut kept = event.clone();
        kept.data = event.data.replace(r#","usage":null"#, "");
        kept.write_to(out);
    } else {
        event.write_to(out);
    }
}

fn number(value: &Value, pointer: &str) -> u64 {
    value.pointer(pointer).and_then(Value::as_u64).unwrap_or(0)
}

/// The figures of a usage object in each wire format.
fn usage(wire: Wire, usage: &Value) -> StreamTokens {
    match wire {
        Wire::Chat => StreamTokens {
            input: number(usage, "/prompt_tokens"),
            output: number(usage, "/completion_tokens"),
            cached: number(usage, "/prompt_tokens_details/cached_tokens"),
            reasoning: number(usage, "/completion_tokens_details/reasoning_tokens"),
        },
        Wire::Embeddings => StreamTokens {
            input: number(usage, "/prompt_tokens"),
            ..StreamTokens::default()
        },
        Wire::Responses => StreamTokens {
            input: number(usage, "/input_tokens"),
            output: number(usage, "/output_tokens"),
            cached: number(usage, "/input_tokens_details/cached_tokens"),
            reasoning: number(usage, "/output_tokens_details/reasoning_tokens"),
        },
        Wire::Messages => {
            let cached = number(usage, "/cache_read_input_tokens");
            StreamTokens {
                input: number(usage, "/input_tokens")
                    .saturating_add(cached)
                    .saturating_add(number(usage, "/cache_creation_input_tokens")),
                output: number(usage, "/output_tokens"),
                cached,
                reasoning: 0,
            }
        }
    }
}

/// Folds one stream event in: OpenAI's final usage chunk; Anthropic's `message_start`
/// (input) and `message_delta` (cumulative output, and input where the API repeats it);
/// Responses' `response.completed`.
fn stream_usage(wire: Wire, event: &Value, tokens: &mut StreamTokens, model: &mut Option<String>) {
    let model_at = |pointer: &str| event.pointer(pointer).and_then(Value::as_str);
    match wire {
        Wire::Chat | Wire::Embeddings => {
            if model.is_none() {
                *model = model_at("/model").map(str::to_string);
            }
            if let Some(u) = event.get("usage").filter(|u| u.is_object()) {
                *tokens = usage(wire, u);
            }
        }
        Wire::Responses => {
            if model.is_none() {
                *model = model_at("/response/model").map(str::to_string);
            }
            if let Some(u) = event.pointer("/response/usage").filter(|u| u.is_object()) {
                *tokens = usage(wire, u);
            }
        }
        Wire::Messages => match event.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                *model = model_at("/message/model").map(str::to_string);
                if let Some(u) = event.pointer("/message/usage") {
                    *tokens = usage(wire, u);
                }
            }
            Some("message_delta") => {
                if let Some(u) = event.get("usage") {
                    // Cumulative: the last figures replace the earlier ones.
                    let delta = usage(wire, u);
                    tokens.output = delta.output;
                    if delta.input > 0 {
                        tokens.input = delta.input;
                        tokens.cached = delta.cached;
                    }
                }
            }
            _ => {}
        },
    }
}

#[cfg(test)]
#[path = "observe_tests.rs"]
mod tests;
