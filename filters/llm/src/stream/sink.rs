//! Where translated Anthropic stream events go: written as Anthropic SSE for an Anthropic
//! client, or turned into OpenAI chunks ([`crate::stream::AnthropicToOpenAi`]) for an OpenAI
//! client. Streams from providers that are not Anthropic (Bedrock) are translated to these
//! events first.

use ai_gateway_core::sse::Event;

use crate::anthropic::{StreamEvent, Usage};
use crate::stream::StreamTokens;
use crate::translate::errors::{stream_error_event, Api};
use crate::translate::reasons::merge_delta_usage;

/// A consumer of Anthropic stream events.
pub trait EventSink {
    /// Handles one event, appending the client's bytes to `out`.
    fn event(&mut self, out: &mut Vec<u8>, event: StreamEvent);
    /// Ends the client's stream with an error event.
    fn fail(&mut self, out: &mut Vec<u8>, status: u16, message: &str);
    /// Whether the stream ended as it should.
    fn completed(&self) -> bool;
    /// Tokens reported so far.
    fn tokens(&self) -> StreamTokens;
}

/// Appends one `event: <type>` / `data: <json>` event.
pub fn write_event(out: &mut Vec<u8>, event: &StreamEvent) {
    Event {
        event: Some(event.name().to_string()),
        data: serde_json::to_string(event).unwrap_or_default(),
        ..Event::default()
    }
    .write_to(out);
}

/// Writes events as the Anthropic SSE stream.
#[derive(Debug, Default)]
pub struct AnthropicSse {
    usage: Usage,
    done: bool,
    failed: bool,
}

impl EventSink for AnthropicSse {
    fn event(&mut self, out: &mut Vec<u8>, event: StreamEvent) {
        if self.done || self.failed {
            return;
        }
        match &event {
            StreamEvent::MessageStart { message } => self.usage = message.usage.clone(),
            StreamEvent::MessageDelta { usage, .. } => merge_delta_usage(&mut self.usage, usage),
            StreamEvent::MessageStop => self.done = true,
            StreamEvent::Error { .. } => self.failed = true,
            _ => {}
        }
        write_event(out, &event);
    }

    fn fail(&mut self, out: &mut Vec<u8>, status: u16, message: &str) {
        if !self.done && !self.failed {
            out.extend(stream_error_event(Api::Anthropic, status, message));
            self.failed = true;
        }
    }

    fn completed(&self) -> bool {
        self.done
    }

    fn tokens(&self) -> StreamTokens {
        StreamTokens::from_anthropic(&self.usage)
    }
}
