//! OpenAI `chat.completion.chunk` stream → Anthropic SSE events (`message_start`,
//! `content_block_start/delta/stop`, `message_delta` with usage, `message_stop`).

use ai_gateway_core::sse::SseParser;
use serde_json::json;

use crate::anthropic::{
    BlockDelta, DeltaUsage, MessageDelta, MessageResponse, ResponseBlock, StreamEvent, Usage,
};
use crate::openai::{ChatChunk, ErrorBody, ToolCallDelta, Usage as OaUsage};
use crate::stream::sink::write_event as write;
use crate::stream::{StreamTokens, StreamTranslator, MAX_EVENT_BYTES};
use crate::translate::errors::{stream_error_event, Api};
use crate::translate::reasons::{anthropic_usage, stop_reason};

/// The kind of the open text-like block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Streaming,
    Done,
    Failed,
}

/// The translator for one response.
pub struct OpenAiToAnthropic {
    parser: SseParser,
    started: bool,
    next_block: u32,
    /// The open text or thinking block.
    open: Option<(u32, Open)>,
    /// (tool call index, content block index) of each tool call, all open until the end.
    tools: Vec<(u32, u32)>,
    stop_reason: Option<&'static str>,
    usage: Option<OaUsage>,
    state: State,
}

impl Default for OpenAiToAnthropic {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenAiToAnthropic {
    /// A translator for one stream.
    pub fn new() -> Self {
        OpenAiToAnthropic {
            parser: SseParser::new(MAX_EVENT_BYTES),
            started: false,
            next_block: 0,
            open: None,
            tools: Vec::new(),
            stop_reason: None,
            usage: None,
            state: State::Streaming,
        }
    }

    fn fail(&mut self, out: &mut Vec<u8>, status: u16, message: &str) {
        out.extend(stream_error_event(Api::Anthropic, status, message));
        self.state = State::Failed;
    }

    fn start(&mut self, out: &mut Vec<u8>, chunk: &ChatChunk) {
        self.started = true;
        let message = MessageResponse {
            id: chunk.id.clone(),
            kind: "message".into(),
            role: "assistant".into(),
            content: Vec::new(),
            model: chunk.model.clone(),
            stop_reason: None,
            stop_sequence: None,
            // OpenAI reports usage only at the end: the figures follow in message_delta.
            usage: Usage::default(),
        };
        write(out, &StreamEvent::MessageStart { message });
    }

    fn chunk(&mut self, out: &mut Vec<u8>, chunk: ChatChunk) {
        if !self.started {
            self.start(out, &chunk);
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage);
        }
        // Anthropic has one answer per request, so only choice 0 is asked for.
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            let delta = choice.delta;
            if let Some(thinking) = delta.reasoning_content.filter(|t| !t.is_empty()) {
                let index = self.open_block(out, Open::Thinking);
                write(
                    out,
                    &StreamEvent::ContentBlockDelta {
                        index,
                        delta: BlockDelta::ThinkingDelta { thinking },
                    },
                );
            }
            for text in [delta.content, delta.refusal.clone()].into_iter().flatten() {
                if text.is_empty() {
                    continue;
                }
                let index = self.open_block(out, Open::Text);
                write(
                    out,
                    &StreamEvent::ContentBlockDelta {
                        index,
                        delta: BlockDelta::TextDelta { text },
                    },
                );
            }
            if delta.refusal.is_some() {
                self.stop_reason = Some("refusal");
            }
            for call in delta.tool_calls.into_iter().flatten() {
                self.tool_call(out, call);
            }
            if let Some(reason) = choice.finish_reason {
                self.stop_reason.get_or_insert(stop_reason(&reason));
            }
        }
    }

    /// The index of an open block of `kind`, closing another open text-like block first.
    fn open_block(&mut self, out: &mut Vec<u8>, kind: Open) -> u32 {
        match self.open {
            Some((index, open)) if open == kind => return index,
            Some((index, _)) => write(out, &StreamEvent::ContentBlockStop { index }),
            None => {}
        }
        let index = self.next_block;
        self.next_block += 1;
        self.open = Some((index, kind));
        let content_block = match kind {
            Open::Text => ResponseBlock::Text {
                text: String::new(),
            },
            Open::Thinking => ResponseBlock::Thinking {
                thinking: String::new(),
                signature: String::new(),
            },
        };
        write(
            out,
            &StreamEvent::ContentBlockStart {
                index,
                content_block,
            },
        );
        index
    }

    fn tool_call(&mut self, out: &mut Vec<u8>, call: ToolCallDelta) {
        let known = self
            .tools
            .iter()
            .find(|(c, _)| *c == call.index)
            .map(|t| t.1);
        let function = call.function.unwrap_or_default();
        let block = match known {
            Some(block) => block,
            None => {
                if let Some((index, _)) = self.open.take() {
                    write(out, &StreamEvent::ContentBlockStop { index });
                }
                let block = self.next_block;
                self.next_block += 1;
                self.tools.push((call.index, block));
                write(
                    out,
                    &StreamEvent::ContentBlockStart {
                        index: block,
                        content_block: ResponseBlock::ToolUse {
                            id: call.id.unwrap_or_else(|| format!("toolu_{block}")),
                            name: function.name.unwrap_or_default(),
                            input: json!({}),
                        },
                    },
                );
                block
            }
        };
        if let Some(partial_json) = function.arguments.filter(|a| !a.is_empty()) {
            write(
                out,
                &StreamEvent::ContentBlockDelta {
                    index: block,
                    delta: BlockDelta::InputJsonDelta { partial_json },
                },
            );
        }
    }

    /// Closes every block and the message.
    fn end(&mut self, out: &mut Vec<u8>) {
        let mut open: Vec<u32> = self.tools.iter().map(|t| t.1).collect();
        open.extend(self.open.take().map(|(index, _)| index));
        open.sort_unstable();
        for index in open {
            write(out, &StreamEvent::ContentBlockStop { index });
        }
        let usage = self.usage.as_ref().map(anthropic_usage).unwrap_or_default();
        write(
            out,
            &StreamEvent::MessageDelta {
                delta: MessageDelta {
                    stop_reason: self.stop_reason.map(str::to_string),
                    stop_sequence: None,
                },
                usage: DeltaUsage {
                    output_tokens: usage.output_tokens,
                    input_tokens: Some(usage.input_tokens),
                    cache_creation_input_tokens: None,
                    cache_read_input_tokens: usage.cache_read_input_tokens,
                },
            },
        );
        write(out, &StreamEvent::MessageStop);
        self.state = State::Done;
    }

    fn data(&mut self, out: &mut Vec<u8>, data: &str) {
        if data.trim() == "[DONE]" {
            if self.stop_reason.is_some() {
                self.end(out);
            } else {
                self.fail(
                    out,
                    502,
                    "the provider's stream ended without a finish reason",
                );
            }
            return;
        }
        match serde_json::from_str::<ChatChunk>(data) {
            Ok(chunk) => self.chunk(out, chunk),
            Err(err) => match serde_json::from_str::<ErrorBody>(data) {
                Ok(body) => self.fail(out, 500, &body.error.message),
                Err(_) => self.fail(out, 502, &format!("provider sent a malformed chunk: {err}")),
            },
        }
    }
}

impl StreamTranslator for OpenAiToAnthropic {
    fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for item in self.parser.feed(chunk) {
            if self.state != State::Streaming {
                break;
            }
            match item {
                Ok(event) => self.data(&mut out, &event.data),
                Err(err) => self.fail(&mut out, 502, &format!("provider stream: {err}")),
            }
        }
        out
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.state == State::Streaming {
            // Some OpenAI-compatible servers end without `[DONE]` after the finish reason.
            if self.stop_reason.is_some() {
                self.end(&mut out);
            } else {
                self.fail(
                    &mut out,
                    502,
                    "the provider's stream ended before the message was complete",
                );
            }
        }
        out
    }

    fn completed(&self) -> bool {
        self.state == State::Done
    }

    fn tokens(&self) -> StreamTokens {
        self.usage
            .as_ref()
            .map(StreamTokens::from_openai)
            .unwrap_or_default()
    }
}
