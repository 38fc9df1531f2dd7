//! Pure translation between the OpenAI Chat Completions and Anthropic Messages APIs:
//! requests, whole responses, errors. Streams are in [`crate::stream`].

pub mod error;
pub mod errors;
pub mod reasons;
pub mod request_to_anthropic;
pub mod request_to_openai;
pub mod response_to_anthropic;
pub mod response_to_openai;

pub use error::{parse_body, TranslateError};

/// How structured output (`response_format: json_schema`) reaches an Anthropic provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StructuredOutput {
    /// Anthropic's own `output_config.format`.
    #[default]
    Native,
    /// A tool whose input schema is the requested schema, forced with `tool_choice`; its
    /// input becomes the message content (for models without native structured output).
    ForcedTool,
}

/// What the response translation must know about the request that produced it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseContext {
    /// The tool that carries structured output ([`StructuredOutput::ForcedTool`]).
    pub forced_tool: Option<String>,
    /// The OpenAI client asked for a final usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
    /// The client asked for a stream.
    pub stream: bool,
}

/// Label of the Anthropic API in errors.
pub const ANTHROPIC: &str = "anthropic";
/// Label of the OpenAI API in errors.
pub const OPENAI: &str = "openai";
/// Label of Bedrock Converse in errors.
pub const BEDROCK: &str = "bedrock";
