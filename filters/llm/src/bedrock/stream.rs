//! ConverseStream (AWS eventstream) → Anthropic stream events, handed to an [`EventSink`]
//! (Anthropic SSE for Anthropic clients, OpenAI chunks for OpenAI clients).

use serde_json::{json, Value};

use crate::anthropic::{
    BlockDelta, DeltaUsage, MessageDelta, MessageResponse, ResponseBlock, StreamEvent, Usage,
};
use crate::bedrock::converse::{stop_reason, ConverseUsage};
use crate::bedrock::eventstream::{Decoder, Message};
use crate::stream::{EventSink, StreamTokens, StreamTranslator, MAX_EVENT_BYTES};

/// The translator for one ConverseStream response.
pub struct ConverseStream<S: EventSink> {
    decoder: Decoder,
    sink: S,
    id: String,
    model: String,
    started: bool,
    /// Content blocks started and not yet stopped.
    open: Vec<u32>,
    stop_reason: Option<String>,
    ended: bool,
}

impl<S: EventSink> ConverseStream<S> {
    /// A translator; `id` names the message (Bedrock's request id), `model` the model.
    pub fn new(sink: S, id: String, model: String) -> Self {
        ConverseStream {
            decoder: Decoder::new(MAX_EVENT_BYTES),
            sink,
            id,
            model,
            started: false,
            open: Vec::new(),
            stop_reason: None,
            ended: false,
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, event: StreamEvent) {
        self.sink.event(out, event);
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let message = MessageResponse {
            id: self.id.clone(),
            kind: "message".into(),
            role: "assistant".into(),
            content: Vec::new(),
            model: self.model.clone(),
            stop_reason: None,
            stop_sequence: None,
            usage: Usage::default(),
        };
        self.emit(out, StreamEvent::MessageStart { message });
    }

    fn open_block(&mut self, out: &mut Vec<u8>, index: u32, block: ResponseBlock) {
        self.start(out);
        self.open.push(index);
        self.emit(
            out,
            StreamEvent::ContentBlockStart {
                index,
                content_block: block,
            },
        );
    }

    fn message(&mut self, out: &mut Vec<u8>, message: Message) {
        match message.header(":message-type") {
            Some("event") => {}
            Some("exception") => {
                let kind = message
                    .header(":exception-type")
                    .unwrap_or("exception")
                    .to_string();
                let text = serde_json::from_slice::<Value>(&message.payload)
                    .ok()
                    .and_then(|v| {
                        v.get("message")
                            .or(v.get("Message"))
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .unwrap_or_else(|| kind.clone());
                self.sink
                    .fail(out, exception_status(&kind), &format!("{kind}: {text}"));
                self.ended = true;
                return;
            }
            other => {
                let text = message
                    .header(":error-message")
                    .unwrap_or("eventstream error");
                let kind = message.header(":error-code").or(other).unwrap_or("error");
                self.sink.fail(out, 500, &format!("{kind}: {text}"));
                self.ended = true;
                return;
            }
        }
        let Ok(payload) = serde_json::from_slice::<Value>(&message.payload) else {
            self.sink
                .fail(out, 502, "Bedrock sent an event that is not JSON");
            self.ended = true;
            return;
        };
        let index = payload
            .get("contentBlockIndex")
            .and_then(Value::as_u64)
            .unwrap_or(0) as u32;
        match message.header(":event-type").unwrap_or_default() {
            "messageStart" => self.start(out),
            "contentBlockStart" => {
                if let Some(tool) = payload.pointer("/start/toolUse") {
                    let block = ResponseBlock::ToolUse {
                        id: text_of(tool, "toolUseId"),
                        name: text_of(tool, "name"),
                        input: json!({}),
                    };
                    self.open_block(out, index, block);
                }
            }
            "contentBlockDelta" => self.delta(out, index, payload.get("delta")),
            "contentBlockStop" => {
                if let Some(pos) = self.open.iter().position(|i| *i == index) {
                    self.open.remove(pos);
                    self.emit(out, StreamEvent::ContentBlockStop { index });
                }
            }
            "messageStop" => {
                self.stop_reason = payload
                    .get("stopReason")
                    .and_then(Value::as_str)
                    .map(|r| stop_reason(r).to_string());
            }
            "metadata" => {
                let usage: ConverseUsage = payload
                    .get("usage")
                    .and_then(|u| serde_json::from_value(u.clone()).ok())
                    .unwrap_or_default();
                self.end(out, usage);
            }
            // New event types are skipped, as the API reference asks of clients.
            _ => {}
        }
    }

    fn delta(&mut self, out: &mut Vec<u8>, index: u32, delta: Option<&Value>) {
        let Some(delta) = delta else { return };
        let text = delta.get("text").and_then(Value::as_str);
        let reasoning = delta.get("reasoningContent");
        if !self.open.contains(&index) {
            // Text and reasoning blocks start with their first delta.
            let block = match (text, reasoning) {
                (Some(_), _) => ResponseBlock::Text {
                    text: String::new(),
                },
                (None, Some(_)) => ResponseBlock::Thinking {
                    thinking: String::new(),
                    signature: String::new(),
                },
                _ => return,
            };
            self.open_block(out, index, block);
        }
        let delta = if let Some(text) = text {
            BlockDelta::TextDelta {
                text: text.to_string(),
            }
        } else if let Some(input) = delta.pointer("/toolUse/input").and_then(Value::as_str) {
            BlockDelta::InputJsonDelta {
                partial_json: input.to_string(),
            }
        } else if let Some(thinking) = reasoning
            .and_then(|r| r.get("text"))
            .and_then(Value::as_str)
        {
            BlockDelta::ThinkingDelta {
                thinking: thinking.to_string(),
            }
        } else if let Some(signature) = reasoning
            .and_then(|r| r.get("signature"))
            .and_then(Value::as_str)
        {
            BlockDelta::SignatureDelta {
                signature: signature.to_string(),
            }
        } else {
            return;
        };
        self.emit(out, StreamEvent::ContentBlockDelta { index, delta });
    }

    /// Closes open blocks and the message (usage arrives in `metadata`, after `messageStop`).
    fn end(&mut self, out: &mut Vec<u8>, usage: ConverseUsage) {
        self.start(out);
        for index in std::mem::take(&mut self.open) {
            self.emit(out, StreamEvent::ContentBlockStop { index });
        }
        let stop_reason = self.stop_reason.clone().or(Some("end_turn".to_string()));
        self.emit(
            out,
            StreamEvent::MessageDelta {
                delta: MessageDelta {
                    stop_reason,
                    stop_sequence: None,
                },
                usage: DeltaUsage {
                    output_tokens: usage.output_tokens,
                    input_tokens: Some(usage.input_tokens),
                    cache_creation_input_tokens: usage.cache_write_input_tokens,
                    cache_read_input_tokens: usage.cache_read_input_tokens,
                },
            },
        );
        self.emit(out, StreamEvent::MessageStop);
        self.ended = true;
    }
}

/// The HTTP status Bedrock gives each exception type.
fn exception_status(kind: &str) -> u16 {
    match kind {
        "throttlingException" | "ThrottlingException" => 429,
        "validationException" | "ValidationException" => 400,
        "serviceUnavailableException" | "ServiceUnavailableException" => 503,
        "modelStreamErrorException" | "ModelStreamErrorException" => 424,
        _ => 500,
    }
}

fn text_of(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

impl<S: EventSink> StreamTranslator for ConverseStream<S> {
    fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for item in self.decoder.feed(chunk) {
            if self.ended {
                break;
            }
            match item {
                Ok(message) => self.message(&mut out, message),
                Err(err) => {
                    self.sink
                        .fail(&mut out, 502, &format!("Bedrock stream: {err}"));
                    self.ended = true;
                }
            }
        }
        out
    }

    fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.ended {
            if self.stop_reason.is_some() {
                // messageStop came but no metadata: close without usage.
                self.end(&mut out, ConverseUsage::default());
            } else {
                self.sink.fail(
                    &mut out,
                    502,
                    "the provider's stream ended before the message was complete",
                );
                self.ended = true;
            }
        }
        out
    }

    fn completed(&self) -> bool {
        self.sink.completed()
    }

    fn tokens(&self) -> StreamTokens {
        self.sink.tokens()
    }
}
