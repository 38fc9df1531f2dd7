//! Token figures of answers passed through unchanged (client and provider speak the same
//! API): read from the usage the provider reports, without holding or changing a byte.

use ai_gateway_core::sse::SseParser;
use serde_json::Value;

use crate::stream::{StreamTokens, MAX_EVENT_BYTES};
use crate::translate::errors::Api;

/// Watches one passed-through answer.
pub enum Observer {
    /// A JSON answer: a bounded copy, parsed at the end.
    Json {
        copy: Vec<u8>,
        limit: usize,
        api: Api,
    },
    /// An SSE answer: usage read from the events as they pass.
    Stream {
        parser: SseParser,
        api: Api,
        tokens: StreamTokens,
    },
}

impl Observer {
    /// An observer for a JSON answer of at most `limit` bytes (larger ones are not counted).
    pub fn json(api: Api, limit: usize) -> Self {
        Observer::Json {
            copy: Vec::new(),
            limit,
            api,
        }
    }

    /// An observer for an SSE answer.
    pub fn stream(api: Api) -> Self {
        Observer::Stream {
            parser: SseParser::new(MAX_EVENT_BYTES),
            api,
            tokens: StreamTokens::default(),
        }
    }

    /// Looks at one more chunk.
    pub fn chunk(&mut self, chunk: &[u8]) {
        match self {
            Observer::Json { copy, limit, .. } => {
                if copy.len() + chunk.len() <= *limit {
                    copy.extend_from_slice(chunk);
                } else {
                    // Too large to count: stop copying for good.
                    *limit = 0;
                    copy.clear();
                }
            }
            Observer::Stream {
                parser,
                api,
                tokens,
            } => {
                for event in parser.feed(chunk).into_iter().flatten() {
                    if let Ok(value) = serde_json::from_str::<Value>(&event.data) {
                        stream_usage(*api, &value, tokens);
                    }
                }
            }
        }
    }

    /// The figures, once the answer is complete.
    pub fn tokens(&self) -> StreamTokens {
        match self {
            Observer::Json { copy, api, .. } => serde_json::from_slice::<Value>(copy)
                .ok()
                .and_then(|v| v.get("usage").map(|u| usage(*api, u)))
                .unwrap_or_default(),
            Observer::Stream { tokens, .. } => *tokens,
        }
    }
}

fn number(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Input and output tokens of a usage object. Anthropic counts cache reads and writes apart
/// from `input_tokens`; OpenAI's prompt tokens include cached ones.
fn usage(api: Api, usage: &Value) -> StreamTokens {
    match api {
        Api::OpenAi => StreamTokens {
            input: number(usage, "prompt_tokens"),
            output: number(usage, "completion_tokens"),
        },
        Api::Anthropic => StreamTokens {
            input: number(usage, "input_tokens")
                + number(usage, "cache_read_input_tokens")
                + number(usage, "cache_creation_input_tokens"),
            output: number(usage, "output_tokens"),
        },
    }
}

/// Folds one stream event's usage in: OpenAI's final usage chunk; Anthropic's `message_start`
/// (input) and `message_delta` (cumulative output, and input where the API repeats it).
fn stream_usage(api: Api, event: &Value, tokens: &mut StreamTokens) {
    match api {
        Api::OpenAi => {
            if let Some(u) = event.get("usage").filter(|u| u.is_object()) {
                *tokens = usage(api, u);
            }
        }
        Api::Anthropic => match event.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                if let Some(u) = event.pointer("/message/usage") {
                    *tokens = usage(api, u);
                }
            }
            Some("message_delta") => {
                if let Some(u) = event.get("usage") {
                    let delta = usage(api, u);
                    tokens.output = delta.output;
                    if delta.input > 0 {
                        tokens.input = delta.input;
                    }
                }
            }
            _ => {}
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observe(mut observer: Observer, body: &str) -> StreamTokens {
        for piece in body.as_bytes().chunks(7) {
            observer.chunk(piece);
        }
        observer.tokens()
    }

    #[test]
    fn usage_is_read_from_each_format() {
        let cases = [
            (
                Observer::json(Api::OpenAi, 1000),
                r#"{"id":"c","usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}}"#,
                (9, 12),
            ),
            (
                Observer::json(Api::Anthropic, 1000),
                r#"{"id":"m","usage":{"input_tokens":21,"cache_read_input_tokens":100,"output_tokens":3}}"#,
                (121, 3),
            ),
            (
                Observer::json(Api::OpenAi, 10),
                r#"{"id":"c","usage":{"prompt_tokens":9,"completion_tokens":12}}"#,
                (0, 0),
            ),
            (
                Observer::stream(Api::OpenAi),
                "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"usage\":null}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n",
                (5, 2),
            ),
            (
                Observer::stream(Api::Anthropic),
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"output_tokens\":15}}\n\n",
                (25, 15),
            ),
        ];
        for (observer, body, (input, output)) in cases {
            assert_eq!(
                observe(observer, body),
                StreamTokens { input, output },
                "{body}"
            );
        }
    }
}
