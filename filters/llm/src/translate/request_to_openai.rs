//! Anthropic messages request → OpenAI chat completion request.

use serde_json::{json, Map, Value};

use crate::anthropic::{
    Block, Content, ImageSource, Message, MessagesRequest, OutputFormat, Role, Thinking,
    ToolChoice, ToolResultContent,
};
use crate::openai::{
    AssistantContent, AssistantMessage, ChatMessage, ChatRequest, ContentPart, FunctionCall,
    FunctionDef, FunctionKind, ImageUrl, InstructionMessage, JsonSchemaFormat, NamedFunction,
    NamedToolChoice, ResponseFormat, Stop, StreamOptions, TextContent, Tool, ToolCall,
    ToolChoice as OaToolChoice, ToolChoiceMode, ToolMessage, UserContent, UserMessage,
};
use crate::translate::{ResponseContext, TranslateError, OPENAI};

/// What the target needs besides the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAiTarget<'a> {
    /// The provider's model name.
    pub model: &'a str,
    /// An OpenAI-compatible server (vLLM, Ollama, …): `max_tokens` instead of
    /// `max_completion_tokens`, and `top_k` passes as the extension those servers accept.
    pub compatible: bool,
}

/// Most stop sequences OpenAI accepts.
const MAX_STOP: usize = 4;

/// `reasoning_effort` for a thinking budget.
pub fn reasoning_effort(budget_tokens: u32) -> &'static str {
    match budget_tokens {
        0..=2047 => "low",
        2048..=8191 => "medium",
        _ => "high",
    }
}

/// Translates the request. Anything OpenAI cannot express is an error naming the field.
pub fn messages_to_chat(
    req: MessagesRequest,
    target: &OpenAiTarget<'_>,
) -> Result<(ChatRequest, ResponseContext), TranslateError> {
    if let Some(name) = req.extra.keys().next() {
        return Err(TranslateError::unsupported(
            name.clone(),
            OPENAI,
            "chat completions have no equivalent",
        ));
    }
    let stream = req.stream.unwrap_or(false);
    let ctx = ResponseContext {
        stream,
        include_usage: true,
        forced_tool: None,
    };
    let mut messages = Vec::new();
    if let Some(system) = &req.system {
        messages.push(ChatMessage::System(InstructionMessage {
            content: TextContent::Text(system.joined()),
            name: None,
        }));
    }
    for (i, message) in req.messages.into_iter().enumerate() {
        convert_turn(i, message, &mut messages)?;
    }
    if let Some(stops) = &req.stop_sequences {
        if stops.len() > MAX_STOP {
            return Err(TranslateError::unsupported(
                "stop_sequences",
                OPENAI,
                format!("at most {MAX_STOP} stop sequences (got {})", stops.len()),
            ));
        }
    }
    let mut extra = Map::new();
    if let Some(top_k) = req.top_k {
        if !target.compatible {
            return Err(TranslateError::unsupported(
                "top_k",
                OPENAI,
                "chat completions have no top_k",
            ));
        }
        extra.insert("top_k".into(), json!(top_k));
    }
    let tools = match req.tools {
        None => None,
        Some(tools) => Some(
            tools
                .into_iter()
                .enumerate()
                .map(|(i, tool)| {
                    if tool.kind.as_deref().is_some_and(|k| k != "custom") {
                        return Err(TranslateError::unsupported(
                            format!("tools[{i}].type"),
                            OPENAI,
                            format!(
                                "server tool {:?} runs only on Anthropic",
                                tool.kind.unwrap_or_default()
                            ),
                        ));
                    }
                    Ok(Tool {
                        kind: FunctionKind::Function,
                        function: FunctionDef {
                            name: tool.name,
                            description: tool.description,
                            parameters: tool.input_schema,
                            strict: tool.strict,
                        },
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let (tool_choice, parallel_tool_calls) = match req.tool_choice {
        None => (None, None),
        Some(ToolChoice::None) => (Some(OaToolChoice::Mode(ToolChoiceMode::None)), None),
        Some(ToolChoice::Auto {
            disable_parallel_tool_use,
        }) => (
            Some(OaToolChoice::Mode(ToolChoiceMode::Auto)),
            parallel(disable_parallel_tool_use),
        ),
        Some(ToolChoice::Any {
            disable_parallel_tool_use,
        }) => (
            Some(OaToolChoice::Mode(ToolChoiceMode::Required)),
            parallel(disable_parallel_tool_use),
        ),
        Some(ToolChoice::Tool {
            name,
            disable_parallel_tool_use,
        }) => (
            Some(OaToolChoice::Named(NamedToolChoice {
                kind: FunctionKind::Function,
                function: NamedFunction { name },
            })),
            parallel(disable_parallel_tool_use),
        ),
    };
    // `display` only chooses how thinking text is shown; OpenAI returns none to show.
    let by_thinking = match req.thinking {
        Some(Thinking::Enabled { budget_tokens, .. }) => Some(reasoning_effort(budget_tokens)),
        Some(Thinking::Adaptive { .. } | Thinking::Disabled) | None => None,
    };
    let (effort, format) = match req.output_config {
        Some(config) => (config.effort, config.format),
        None => (None, None),
    };
    let by_effort = match effort.as_deref() {
        None => None,
        Some("low") => Some("low"),
        Some("medium") => Some("medium"),
        Some("high" | "xhigh" | "max") => Some("high"),
        Some(other) => {
            return Err(TranslateError::invalid(
                "output_config.effort",
                format!("unknown effort {other:?}"),
            ))
        }
    };
    let reasoning_effort = by_effort.or(by_thinking).map(str::to_string);
    let format = match (format, req.output_format) {
        (Some(_), Some(_)) => {
            return Err(TranslateError::invalid(
                "output_format",
                "give either output_config.format or output_format, not both",
            ))
        }
        (a, b) => a.or(b),
    };
    let response_format =
        format.map(
            |OutputFormat::JsonSchema { schema }| ResponseFormat::JsonSchema {
                json_schema: JsonSchemaFormat {
                    name: "output".to_string(),
                    description: None,
                    schema: Some(schema),
                    strict: Some(true),
                },
            },
        );
    let (max_tokens, max_completion_tokens) = match target.compatible {
        true => (req.max_tokens, None),
        false => (None, req.max_tokens),
    };
    let out = ChatRequest {
        model: target.model.to_string(),
        messages,
        max_tokens,
        max_completion_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        stop: req.stop_sequences.map(Stop::Many),
        stream: stream.then_some(true),
        // Usage arrives in a stream only when asked for; Anthropic clients always get it.
        stream_options: stream.then_some(StreamOptions {
            include_usage: Some(true),
        }),
        tools,
        tool_choice,
        parallel_tool_calls,
        response_format,
        reasoning_effort,
        user: req.metadata.and_then(|m| m.user_id),
        extra,
    };
    Ok((out, ctx))
}

fn parallel(disable: Option<bool>) -> Option<bool> {
    disable.filter(|d| *d).map(|_| false)
}

/// One Anthropic turn becomes one or more OpenAI messages: a user turn's tool results become
/// `tool` messages (placed first: OpenAI wants them right after the assistant's calls).
fn convert_turn(
    i: usize,
    message: Message,
    out: &mut Vec<ChatMessage>,
) -> Result<(), TranslateError> {
    let blocks = match message.content {
        Content::Text(text) => {
            out.push(match message.role {
                Role::User => ChatMessage::User(UserMessage {
                    content: UserContent::Text(text),
                    name: None,
                }),
                Role::Assistant => ChatMessage::Assistant(AssistantMessage {
                    content: Some(AssistantContent::Text(text)),
                    ..AssistantMessage::default()
                }),
            });
            return Ok(());
        }
        Content::Blocks(blocks) => blocks,
    };
    match message.role {
        Role::User => user_turn(i, blocks, out),
        Role::Assistant => {
            out.push(ChatMessage::Assistant(assistant_turn(i, blocks)?));
            Ok(())
        }
    }
}

fn user_turn(
    i: usize,
    blocks: Vec<Block>,
    out: &mut Vec<ChatMessage>,
) -> Result<(), TranslateError> {
    let mut parts = Vec::new();
    for (j, block) in blocks.into_iter().enumerate() {
        let field = || format!("messages[{i}].content[{j}]");
        match block {
            Block::Text { text, .. } => parts.push(ContentPart::Text { text }),
            Block::Image { source, .. } => parts.push(ContentPart::ImageUrl {
                image_url: image_url(source),
            }),
            Block::ToolResult {
                tool_use_id,
                content,
                is_error,
                ..
            } => {
                if is_error == Some(true) {
                    return Err(TranslateError::unsupported(
                        format!("{}.is_error", field()),
                        OPENAI,
                        "tool messages cannot mark a failed tool call",
                    ));
                }
                out.push(ChatMessage::Tool(ToolMessage {
                    tool_call_id: tool_use_id,
                    content: TextContent::Text(tool_result_text(&field(), content)?),
                }));
            }
            Block::ToolUse { .. } | Block::Thinking { .. } | Block::RedactedThinking { .. } => {
                return Err(TranslateError::invalid(
                    format!("{}.type", field()),
                    "this block type belongs in an assistant turn",
                ))
            }
        }
    }
    if parts.is_empty() {
        return Ok(());
    }
    let content = match parts.as_slice() {
        [ContentPart::Text { text }] => UserContent::Text(text.clone()),
        _ => UserContent::Parts(parts),
    };
    out.push(ChatMessage::User(UserMessage {
        content,
        name: None,
    }));
    Ok(())
}

fn tool_result_text(
    field: &str,
    content: Option<ToolResultContent>,
) -> Result<String, TranslateError> {
    match content {
        None => Ok(String::new()),
        Some(ToolResultContent::Text(text)) => Ok(text),
        Some(ToolResultContent::Blocks(blocks)) => {
            let mut text = String::new();
            for (k, block) in blocks.into_iter().enumerate() {
                match block {
                    Block::Text { text: t, .. } => text.push_str(&t),
                    _ => {
                        return Err(TranslateError::unsupported(
                            format!("{field}.content[{k}].type"),
                            OPENAI,
                            "tool messages hold only text",
                        ))
                    }
                }
            }
            Ok(text)
        }
    }
}

fn image_url(source: ImageSource) -> ImageUrl {
    let url = match source {
        ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        ImageSource::Url { url } => url,
    };
    ImageUrl { url, detail: None }
}

/// Text joins into the content; tool uses become tool calls. Thinking blocks of earlier turns
/// are left out: Anthropic itself ignores them, and OpenAI has no place for them.
fn assistant_turn(i: usize, blocks: Vec<Block>) -> Result<AssistantMessage, TranslateError> {
    let mut text: Option<String> = None;
    let mut calls = Vec::new();
    for (j, block) in blocks.into_iter().enumerate() {
        match block {
            Block::Text { text: t, .. } => text.get_or_insert_with(String::new).push_str(&t),
            Block::ToolUse {
                id, name, input, ..
            } => calls.push(ToolCall {
                id,
                kind: FunctionKind::Function,
                function: FunctionCall {
                    name,
                    arguments: input_json(&input),
                },
            }),
            Block::Thinking { .. } | Block::RedactedThinking { .. } => {}
            Block::Image { .. } | Block::ToolResult { .. } => {
                return Err(TranslateError::unsupported(
                    format!("messages[{i}].content[{j}].type"),
                    OPENAI,
                    "assistant messages hold only text and tool calls",
                ))
            }
        }
    }
    Ok(AssistantMessage {
        content: text.map(AssistantContent::Text),
        tool_calls: (!calls.is_empty()).then_some(calls),
        ..AssistantMessage::default()
    })
}

fn input_json(input: &Value) -> String {
    serde_json::to_string(input).unwrap_or_else(|_| "{}".to_string())
}
