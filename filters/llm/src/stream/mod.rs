//! Incremental stream translation: state machines fed body chunks as they arrive (events may
//! be split anywhere across chunks), each returning the bytes to send on at once.

pub mod anthropic_to_openai;
pub mod openai_to_anthropic;
pub mod sink;

pub use anthropic_to_openai::AnthropicToOpenAi;
pub use openai_to_anthropic::OpenAiToAnthropic;
pub use sink::{AnthropicSse, EventSink};

/// Largest single SSE event the translators accept (a bigger one is a broken stream).
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Token figures seen in a stream, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamTokens {
    pub input: u64,
    pub output: u64,
}

/// A stream translator.
pub trait StreamTranslator {
    /// Translates one more chunk of the provider's stream.
    fn feed(&mut self, chunk: &[u8]) -> Vec<u8>;
    /// The provider's stream ended: whatever must close the client's stream (an error event
    /// when the provider stopped mid-way).
    fn finish(&mut self) -> Vec<u8>;
    /// Whether the stream ended as it should (complete, no error event).
    fn completed(&self) -> bool;
    /// Tokens reported so far.
    fn tokens(&self) -> StreamTokens;
}
