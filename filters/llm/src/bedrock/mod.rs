//! AWS Bedrock Converse / ConverseStream: request and response translation (through the
//! Anthropic Messages types, which both client APIs already translate to and from), the
//! eventstream framing, and SigV4 signing.

pub mod converse;
pub mod eventstream;
pub mod sigv4;
pub mod stream;

pub use stream::ConverseStream;
