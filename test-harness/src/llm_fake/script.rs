//! What a fake model answers: scripted per request by the test, or decided from the request
//! (echo the last user turn, call a forced tool, fill a requested JSON schema).

use serde_json::Value;

use super::schema;
use super::server::{Delivery, StreamEnd};

/// The fake model's next answer, queued with `LlmFake::script`.
#[derive(Debug, Clone)]
pub struct Answer {
    pub(crate) kind: AnswerKind,
    pub(crate) delivery: Delivery,
}

#[derive(Debug, Clone)]
pub(crate) enum AnswerKind {
    Auto,
    Text(String),
    ToolCall {
        name: String,
        arguments: Value,
    },
    Error {
        status: u16,
        retry_after: Option<u32>,
    },
}

impl Answer {
    /// Decided from the request, as when nothing is scripted: a forced tool is called with
    /// arguments matching its schema; a requested JSON schema is answered with a matching
    /// instance; otherwise the text `echo: <last user turn's text>`.
    pub fn auto() -> Answer {
        Answer::of(AnswerKind::Auto)
    }

    /// This assistant text.
    pub fn text(text: &str) -> Answer {
        Answer::of(AnswerKind::Text(text.to_string()))
    }

    /// A call of tool `name` with these arguments (the tool must be in the request).
    pub fn tool_call(name: &str, arguments: Value) -> Answer {
        Answer::of(AnswerKind::ToolCall {
            name: name.to_string(),
            arguments,
        })
    }

    /// The provider's error for `status` (429, 500, 529, 503, ...) in its own error format.
    pub fn error(status: u16) -> Answer {
        Answer::of(AnswerKind::Error {
            status,
            retry_after: None,
        })
    }

    /// With a `retry-after: <seconds>` header (errors only).
    pub fn retry_after(mut self, seconds: u32) -> Answer {
        if let AnswerKind::Error { retry_after, .. } = &mut self.kind {
            *retry_after = Some(seconds);
        }
        self
    }

    /// When streamed: only the first `frames` events are sent, then the body ends normally.
    pub fn cut_after(mut self, frames: usize) -> Answer {
        self.delivery.end = StreamEnd::CleanCutAfter(frames);
        self
    }

    /// When streamed: only the first `frames` events are sent, then the connection is reset.
    pub fn reset_after(mut self, frames: usize) -> Answer {
        self.delivery.end = StreamEnd::ResetAfter(frames);
        self
    }

    /// An answer from its JSON form, as posted to a fake's `/_fake/script` by Python tests:
    /// `{"auto":true}`, `{"text":"..."}`, `{"tool_call":{"name":"..","arguments":{..}}}` or
    /// `{"error":429,"retry_after":7}`, each optionally with `"cut_after": n` or
    /// `"reset_after": n`, and `"pieces_of": bytes`.
    pub fn from_json(spec: &Value) -> Result<Answer, String> {
        let answer = if let Some(text) = spec.get("text").and_then(Value::as_str) {
            Answer::text(text)
        } else if let Some(call) = spec.get("tool_call") {
            let name = call
                .get("name")
                .and_then(Value::as_str)
                .ok_or("tool_call.name: a string is required")?;
            Answer::tool_call(name, call.get("arguments").cloned().unwrap_or_default())
        } else if let Some(status) = spec.get("error").and_then(Value::as_u64) {
            let status = u16::try_from(status).map_err(|_| "error: not an HTTP status")?;
            let answer = Answer::error(status);
            match spec.get("retry_after").and_then(Value::as_u64) {
                Some(seconds) => answer.retry_after(seconds as u32),
                None => answer,
            }
        } else if spec.get("auto") == Some(&Value::Bool(true)) {
            Answer::auto()
        } else {
            return Err(format!("not an answer: {spec}"));
        };
        let frames = |key: &str| spec.get(key).and_then(Value::as_u64).map(|n| n as usize);
        let answer = match (frames("cut_after"), frames("reset_after")) {
            (Some(n), _) => answer.cut_after(n),
            (None, Some(n)) => answer.reset_after(n),
            (None, None) => answer,
        };
        Ok(match frames("pieces_of") {
            Some(bytes) => answer.in_pieces_of(bytes),
            None => answer,
        })
    }

    /// When streamed: the bytes go out in pieces of `bytes` bytes, splitting events (and
    /// eventstream messages) across body chunks.
    pub fn in_pieces_of(mut self, bytes: usize) -> Answer {
        self.delivery.piece_bytes = Some(bytes);
        self
    }

    fn of(kind: AnswerKind) -> Answer {
        Answer {
            kind,
            delivery: Delivery::default(),
        }
    }
}

/// A tool the request offers.
#[derive(Debug, Clone)]
pub(crate) struct ToolDef {
    pub name: String,
    pub schema: Value,
}

/// Which tool use the request demands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ToolChoice {
    Auto,
    None,
    Any,
    Named(String),
}

/// What a validated request asks for, whatever the provider's format.
#[derive(Debug, Clone)]
pub(crate) struct Ask {
    /// Text of the last user-side turn (user text and tool results).
    pub last_user_text: String,
    pub tools: Vec<ToolDef>,
    pub tool_choice: ToolChoice,
    /// The JSON schema the answer must match (structured output).
    pub output_schema: Option<Value>,
    /// Words in every prompt text: the fake's input token count.
    pub input_tokens: u64,
    /// The most output tokens (words) the answer may have.
    pub max_tokens: Option<u64>,
    /// The answer text stops before the first of these.
    pub stop_sequences: Vec<String>,
    /// The request enables reasoning (Anthropic `thinking`, OpenAI `reasoning_effort`): the
    /// turn starts with a thinking block and counts reasoning tokens.
    pub reasoning: bool,
}

/// One block of the model's turn.
#[derive(Debug, Clone)]
pub(crate) enum Block {
    Thinking {
        text: String,
        signature: String,
    },
    Text(String),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    EndTurn,
    ToolUse,
    /// `max_tokens` reached: the text is cut after that many words.
    MaxTokens,
    /// A stop sequence met: the text ends before it ([`Turn::stop_sequence`]).
    Sequence,
}

/// The model's turn, ready to render in a provider's format.
#[derive(Debug, Clone)]
pub(crate) struct Turn {
    pub blocks: Vec<Block>,
    pub stop: Stop,
    /// The stop sequence met, with [`Stop::Sequence`].
    pub stop_sequence: Option<String>,
    pub input_tokens: u64,
    /// Every output token, reasoning included.
    pub output_tokens: u64,
    /// Of those, reasoning.
    pub reasoning_tokens: u64,
}

/// What the fake does with a valid request.
#[derive(Debug, Clone)]
pub(crate) enum Decision {
    Turn(Turn),
    Error {
        status: u16,
        retry_after: Option<u32>,
    },
    /// The scripted tool is not among the request's tools: the test's mistake, said plainly.
    BadScript(String),
}

/// Decides the turn for `ask`; `tool_id` names the tool call it may make.
pub(crate) fn decide(ask: &Ask, answer: &Answer, tool_id: String) -> Decision {
    let block = match &answer.kind {
        AnswerKind::Error {
            status,
            retry_after,
        } => {
            return Decision::Error {
                status: *status,
                retry_after: *retry_after,
            }
        }
        AnswerKind::Text(text) => Block::Text(text.clone()),
        AnswerKind::ToolCall { name, arguments } => {
            if !ask.tools.iter().any(|tool| &tool.name == name) {
                return Decision::BadScript(format!(
                    "scripted a call of tool {name:?}, which the request does not offer"
                ));
            }
            Block::ToolUse {
                id: tool_id,
                name: name.clone(),
                input: arguments.clone(),
            }
        }
        AnswerKind::Auto => auto_block(ask, tool_id),
    };
    let (block, stop, stop_sequence) = match block {
        Block::Text(text) => limit(ask, text),
        other => (other, Stop::ToolUse, None),
    };
    let answer_tokens = match &block {
        Block::Text(text) => words(text),
        Block::ToolUse { input, .. } => words(&input.to_string()),
        Block::Thinking { text, .. } => words(text),
    };
    let mut blocks = vec![block];
    let mut reasoning_tokens = 0;
    if ask.reasoning {
        let text = format!("thinking about: {}", ask.last_user_text);
        reasoning_tokens = words(&text);
        let signature = format!("sig_fake_{}", text.len());
        blocks.insert(0, Block::Thinking { text, signature });
    }
    Decision::Turn(Turn {
        blocks,
        stop,
        stop_sequence,
        input_tokens: ask.input_tokens,
        output_tokens: answer_tokens.max(1) + reasoning_tokens,
        reasoning_tokens,
    })
}

/// `text` ended before the first stop sequence in it, then cut to `max_tokens` words.
fn limit(ask: &Ask, text: String) -> (Block, Stop, Option<String>) {
    let first_stop = ask
        .stop_sequences
        .iter()
        .filter(|seq| !seq.is_empty())
        .filter_map(|seq| text.find(seq.as_str()).map(|at| (at, seq)))
        .min_by_key(|(at, _)| *at);
    let (mut text, stop, sequence) = match first_stop {
        Some((at, seq)) => (text[..at].to_string(), Stop::Sequence, Some(seq.clone())),
        None => (text, Stop::EndTurn, None),
    };
    if let Some(max) = ask.max_tokens {
        if words(&text) > max {
            text = text
                .split_whitespace()
                .take(max as usize)
                .collect::<Vec<_>>()
                .join(" ");
            return (Block::Text(text), Stop::MaxTokens, None);
        }
    }
    (Block::Text(text), stop, sequence)
}

fn auto_block(ask: &Ask, tool_id: String) -> Block {
    let forced = match &ask.tool_choice {
        ToolChoice::Named(name) => ask.tools.iter().find(|tool| &tool.name == name),
        ToolChoice::Any => ask.tools.first(),
        ToolChoice::Auto | ToolChoice::None => None,
    };
    if let Some(tool) = forced {
        return Block::ToolUse {
            id: tool_id,
            name: tool.name.clone(),
            input: schema::instance(&tool.schema),
        };
    }
    match &ask.output_schema {
        Some(schema) => Block::Text(schema::instance(schema).to_string()),
        None => Block::Text(format!("echo: {}", ask.last_user_text)),
    }
}

/// Whitespace-separated words: the fakes' token count.
pub(crate) fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Splits `text` into pieces of a few characters each (on char boundaries), as a model streams.
pub(crate) fn pieces(text: &str) -> Vec<String> {
    const PIECE_CHARS: usize = 6;
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    chars
        .chunks(PIECE_CHARS)
        .map(|chunk| chunk.iter().collect())
        .collect()
}
