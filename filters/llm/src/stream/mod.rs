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

/// Token figures of one answer (streamed or not), for metrics, metadata and budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamTokens {
    /// Every input token, cached ones included.
    pub input: u64,
    /// Every output token, reasoning included.
    pub output: u64,
    /// Of the input, read from the provider's prompt cache.
    pub cached: u64,
    /// Of the output, spent on reasoning (where the provider reports it).
    pub reasoning: u64,
}

impl StreamTokens {
    /// Figures of an OpenAI usage object (prompt tokens include cached ones).
    pub fn from_openai(usage: &crate::openai::Usage) -> Self {
        StreamTokens {
            input: usage.prompt_tokens,
            output: usage.completion_tokens,
            cached: usage
                .prompt_tokens_details
                .as_ref()
                .and_then(|d| d.cached_tokens)
                .unwrap_or(0),
            reasoning: usage
                .completion_tokens_details
                .as_ref()
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
        }
    }

    /// Figures of an Anthropic usage object: cache reads and writes are counted apart from
    /// `input_tokens` there, so they are added back; thinking has no separate figure.
    pub fn from_anthropic(usage: &crate::anthropic::Usage) -> Self {
        let cached = usage.cache_read_input_tokens.unwrap_or(0);
        StreamTokens {
            input: usage
                .input_tokens
                .saturating_add(cached)
                .saturating_add(usage.cache_creation_input_tokens.unwrap_or(0)),
            output: usage.output_tokens,
            cached,
            reasoning: 0,
        }
    }

    /// Input plus output.
    pub fn total(&self) -> u64 {
        self.input.saturating_add(self.output)
    }

    /// Whether the provider reported anything.
    pub fn is_empty(&self) -> bool {
        self.input == 0 && self.output == 0
    }
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
