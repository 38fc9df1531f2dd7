//! Anthropic SSE events → OpenAI `chat.completion.chunk` stream ending in `data: [DONE]`.

use ai_gateway_core::sse::{Event, SseParser};

use crate::anthropic::{BlockDelta, ResponseBlock, StreamEvent, Usage};
use crate::openai::{ChatChunk, ChunkChoice, Delta, FunctionDelta, FunctionKind, ToolCallDelta};
use crate::stream::{EventSink, StreamTokens, StreamTranslator, MAX_EVENT_BYTES};
use crate::translate::errors::{stream_error_event, Api};
use crate::translate::reasons::{finish_reason, merge_delta_usage, openai_usage};
use crate::translate::ResponseContext;

/// Event types of the Messages stream; others are skipped, as the API reference asks.
const KNOWN_EVENTS: [&str; 8] = [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
];

/// The translator for one response.
pub struct AnthropicToOpenAi {
    parser: SseParser,
    ctx: ResponseContext,
    created: u64,
    id: String,
    model: String,
    usage: Usage,
    /// (content block index, tool call index) of each client tool call.
    tools: Vec<(u32, u32)>,
    /// Content blocks carrying structured output (the forced tool): streamed as text.
    structured: Vec<u32>,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Streaming,
    Done,
    Failed,
}

impl AnthropicToOpenAi {
    /// A translator; `created` is the Unix time the chunks report.
    pub fn new(ctx: ResponseContext, created: u64) -> Self {
        AnthropicToOpenAi {
            parser: SseParser::new(MAX_EVENT_BYTES),
            ctx,
            created,
            id: String::new(),
            model: String::new(),
            usage: Usage::default(),
            tools: Vec::new(),
            structured: Vec::new(),
            state: State::Streaming,
        }
    }

    fn chunk(&self, out: &mut Vec<u8>, delta: Delta, finish: Option<String>) {
        let chunk = ChatChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".to_string(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish,
            }],
            usage: None,
        };
        write_data(out, &chunk);
    }

    fn fail(&mut self, out: &mut Vec<u8>, message: &str) {
        out.extend(stream_error_event(Api::OpenAi, 502, message));
        self.state = State::Failed;
    }

    fn handle(&mut self, out: &mut Vec<u8>, event: StreamEvent) {
        match event {
            StreamEvent::MessageStart { message } => {
                self.id = message.id;
                self.model = message.model;
                self.usage = message.usage;
                let delta = Delta {
                    role: Some("assistant".into()),
                    content: Some(String::new()),
                    ..Delta::default()
                };
                self.chunk(out, delta, None);
            }
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => self.block_start(out, index, content_block),
            StreamEvent::ContentBlockDelta { index, delta } => self.block_delta(out, index, delta),
            StreamEvent::ContentBlockStop { .. } | StreamEvent::Ping => {}
            StreamEvent::MessageDelta { delta, usage } => {
                merge_delta_usage(&mut self.usage, &usage);
                let finish = delta.stop_reason.as_deref().map(|reason| {
                    let structured_only = !self.structured.is_empty() && self.tools.is_empty();
                    if reason == "tool_use" && structured_only {
                        "stop".to_string()
                    } else {
                        finish_reason(reason).to_string()
                    }
                });
                self.chunk(out, Delta::default(), finish);
            }
            StreamEvent::MessageStop => {
                if self.ctx.include_usage {
                    let chunk = ChatChunk {
                        id: self.id.clone(),
                        object: "chat.completion.chunk".to_string(),
                        created: self.created,
                        model: self.model.clone(),
                        choices: Vec::new(),
                        usage: Some(openai_usage(&self.usage)),
                    };
                    write_data(out, &chunk);
                }
                out.extend_from_slice(b"data: [DONE]\n\n");
                self.state = State::Done;
            }
            StreamEvent::Error { error } => {
                let status = match error.kind.as_str() {
                    "overloaded_error" => 503,
                    "rate_limit_error" => 429,
                    _ => 500,
                };
                out.extend(stream_error_event(Api::OpenAi, status, &error.message));
                self.state = State::Failed;
            }
        }
    }

    fn block_start(&mut self, out: &mut Vec<u8>, index: u32, block: ResponseBlock) {
        match block {
            ResponseBlock::ToolUse { name, .. }
                if self.ctx.forced_tool.as_deref() == Some(name.as_str()) =>
            {
                self.structured.push(index);
            }
            ResponseBlock::ToolUse { id, name, .. } => {
                let call = self.tools.len() as u32;
                self.tools.push((index, call));
                let delta = Delta {
                    tool_calls: Some(vec![ToolCallDelta {
                        index: call,
                        id: Some(id),
                        kind: Some(FunctionKind::Function),
                        function: Some(FunctionDelta {
                            name: Some(name),
                            arguments: Some(String::new()),
                        }),
                    }]),
                    ..Delta::default()
                };
                self.chunk(out, delta, None);
            }
            ResponseBlock::Text { text } if !text.is_empty() => self.text(out, text),
            ResponseBlock::Thinking { thinking, .. } if !thinking.is_empty() => {
                self.reasoning(out, thinking)
            }
            _ => {}
        }
    }

    fn block_delta(&mut self, out: &mut Vec<u8>, index: u32, delta: BlockDelta) {
        match delta {
            BlockDelta::TextDelta { text } => self.text(out, text),
            BlockDelta::ThinkingDelta { thinking } => self.reasoning(out, thinking),
            BlockDelta::InputJsonDelta { partial_json } if self.structured.contains(&index) => {
                self.text(out, partial_json)
            }
            BlockDelta::InputJsonDelta { partial_json } => {
                let Some(&(_, call)) = self.tools.iter().find(|(block, _)| *block == index) else {
                    return;
                };
                let delta = Delta {
                    tool_calls: Some(vec![ToolCallDelta {
                        index: call,
                        function: Some(FunctionDelta {
                            name: None,
                            arguments: Some(partial_json),
                        }),
                        ..ToolCallDelta::default()
                    }]),
                    ..Delta::default()
                };
                self.chunk(out, delta, None);
            }
            BlockDelta::SignatureDelta { .. } | BlockDelta::Other => {}
        }
    }

    fn text(&self, out: &mut Vec<u8>, text: String) {
        let delta = Delta {
            content: Some(text),
            ..Delta::default()
        };
        self.chunk(out, delta, None);
    }

    fn reasoning(&self, out: &mut Vec<u8>, text: String) {
        let delta = Delta {
            reasoning_content: Some(text),
            ..Delta::default()
        };
        self.chunk(out, delta, None);
    }
}

impl EventSink for AnthropicToOpenAi {
    fn event(&mut self, out: &mut Vec<u8>, event: StreamEvent) {
        if self.state == State::Streaming {
            self.handle(out, event);
        }
    }

    fn fail(&mut self, out: &mut Vec<u8>, status: u16, message: &str) {
        if self.state == State::Streaming {
            out.extend(stream_error_event(Api::OpenAi, status, message));
            self.state = State::Failed;
        }
    }

    fn completed(&self) -> bool {
        self.state == State::Done
    }

    fn tokens(&self) -> StreamTokens {
        StreamTranslator::tokens(self)
    }
}

impl StreamTranslator for AnthropicToOpenAi {
    fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for item in self.parser.feed(chunk) {
            if self.state != State::Streaming {
                break;
            }
            let event = match item {
                Ok(event) => event,
                Err(err) => {
                    self.fail(&mut out, &format!("provider stream: {err}"));
                    break;
                }
            };
            match serde_json::from_str::<StreamEvent>(&event.data) {
                Ok(parsed) => self.handle(&mut out, parsed),
                Err(_) if !is_known(&event) => {}
                Err(err) => self.fail(&mut out, &format!("provider sent a malformed event: {err}")),
            }
        }
        out
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.state == State::Streaming {
            self.fail(
                &mut out,
                "the provider's stream ended before the message was complete",
            );
        }
        out
    }

    fn completed(&self) -> bool {
        self.state == State::Done
    }

    fn tokens(&self) -> StreamTokens {
        StreamTokens::from_anthropic(&self.usage)
    }
}

/// Whether an event that failed to parse claims a known type (then it is malformed).
fn is_known(event: &Event) -> bool {
    let kind = serde_json::from_str::<serde_json::Value>(&event.data)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
        .or_else(|| event.event.clone());
    kind.is_some_and(|k| KNOWN_EVENTS.contains(&k.as_str()))
}

/// Appends one `data: <json>` event.
fn write_data<T: serde::Serialize>(out: &mut Vec<u8>, value: &T) {
    out.extend_from_slice(b"data: ");
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b"\n\n");
}
