//! OpenAI chat completion request → Anthropic messages request.

use serde_json::{json, Map, Value};

use crate::anthropic::{
    Block, Content, ImageSource, Message, MessagesRequest, Metadata, OutputConfig, OutputFormat,
    Role, SystemPrompt, TextBlock, TextKind, Thinking, Tool, ToolChoice,
};
use crate::openai::{
    AssistantContent, AssistantMessage, ChatMessage, ChatRequest, ContentPart, ResponseFormat,
    Stop, ToolChoice as OaToolChoice, ToolChoiceMode, UserContent,
};
use crate::translate::{ResponseContext, StructuredOutput, TranslateError, ANTHROPIC};

/// What the target needs besides the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnthropicTarget<'a> {
    /// The provider's model name.
    pub model: &'a str,
    /// `max_tokens` when the client set none (Anthropic requires it).
    pub default_max_tokens: u32,
    /// How `response_format: json_schema` is expressed.
    pub structured_output: StructuredOutput,
}

/// Smallest thinking budget Anthropic accepts.
pub const MIN_THINKING_BUDGET: u32 = 1024;

/// Thinking budget for each `reasoning_effort`.
pub fn thinking_budget(effort: &str) -> Option<u32> {
    match effort {
        "minimal" | "low" => Some(MIN_THINKING_BUDGET),
        "medium" => Some(4096),
        "high" => Some(16384),
        _ => None,
    }
}

/// Translates the request. Anything Anthropic cannot express is an error naming the field.
pub fn chat_to_messages(
    req: ChatRequest,
    target: &AnthropicTarget<'_>,
) -> Result<(MessagesRequest, ResponseContext), TranslateError> {
    check_extra(&req.extra)?;
    let mut ctx = ResponseContext {
        stream: req.stream.unwrap_or(false),
        include_usage: req
            .stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false),
        forced_tool: None,
    };
    let (system, messages) = conversation(req.messages)?;
    let max_tokens = req
        .max_completion_tokens
        .or(req.max_tokens)
        .unwrap_or(target.default_max_tokens);
    if let Some(t) = req.temperature {
        if !(0.0..=1.0).contains(&t) {
            return Err(TranslateError::unsupported(
                "temperature",
                ANTHROPIC,
                format!("{t} is outside Anthropic's range 0..1"),
            ));
        }
    }
    let stop_sequences = req.stop.map(|s| match s {
        Stop::One(one) => vec![one],
        Stop::Many(many) => many,
    });
    let mut tools: Option<Vec<Tool>> = req.tools.map(|tools| {
        tools
            .into_iter()
            .map(|t| Tool {
                kind: None,
                name: t.function.name,
                description: t.function.description,
                input_schema: Some(
                    t.function
                        .parameters
                        .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                ),
                strict: t.function.strict,
                cache_control: None,
            })
            .collect()
    });
    let disable_parallel = req.parallel_tool_calls.map(|p| !p).filter(|d| *d);
    let mut tool_choice = match req.tool_choice {
        None if disable_parallel.is_some() && tools.is_some() => Some(ToolChoice::Auto {
            disable_parallel_tool_use: disable_parallel,
        }),
        None => None,
        Some(OaToolChoice::Mode(ToolChoiceMode::None)) => Some(ToolChoice::None),
        Some(OaToolChoice::Mode(ToolChoiceMode::Auto)) => Some(ToolChoice::Auto {
            disable_parallel_tool_use: disable_parallel,
        }),
        Some(OaToolChoice::Mode(ToolChoiceMode::Required)) => Some(ToolChoice::Any {
            disable_parallel_tool_use: disable_parallel,
        }),
        Some(OaToolChoice::Named(named)) => Some(ToolChoice::Tool {
            name: named.function.name,
            disable_parallel_tool_use: disable_parallel,
        }),
    };

    let thinking = match req.reasoning_effort.as_deref() {
        None | Some("none") => None,
        Some(effort) => {
            let budget = thinking_budget(effort).ok_or_else(|| {
                TranslateError::invalid(
                    "reasoning_effort",
                    format!(
                        "unknown value {effort:?} (expected none, minimal, low, medium or high)"
                    ),
                )
            })?;
            // The budget must stay below max_tokens; a tight max_tokens shrinks it.
            let budget = budget.min(max_tokens.saturating_sub(1));
            if budget < MIN_THINKING_BUDGET {
                return Err(TranslateError::unsupported(
                    "reasoning_effort",
                    ANTHROPIC,
                    format!(
                        "thinking needs max_tokens above {MIN_THINKING_BUDGET} (got {max_tokens})"
                    ),
                ));
            }
            Some(Thinking::Enabled {
                budget_tokens: budget,
                display: None,
            })
        }
    };

    let mut output_config = None;
    match req.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => {
            return Err(TranslateError::unsupported(
                "response_format.type",
                ANTHROPIC,
                "json_object has no Anthropic equivalent; use json_schema",
            ))
        }
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            let schema = json_schema.schema.ok_or_else(|| {
                TranslateError::invalid("response_format.json_schema.schema", "missing schema")
            })?;
            match target.structured_output {
                StructuredOutput::Native => {
                    output_config = Some(OutputConfig {
                        effort: None,
                        format: Some(OutputFormat::JsonSchema { schema }),
                    })
                }
                StructuredOutput::ForcedTool => {
                    if tool_choice.is_some() {
                        return Err(TranslateError::unsupported(
                            "tool_choice",
                            ANTHROPIC,
                            "cannot be combined with response_format when structured output \
                             is carried by a forced tool",
                        ));
                    }
                    tools.get_or_insert_with(Vec::new).push(Tool {
                        kind: None,
                        name: json_schema.name.clone(),
                        description: json_schema.description,
                        input_schema: Some(schema),
                        strict: json_schema.strict,
                        cache_control: None,
                    });
                    tool_choice = Some(ToolChoice::Tool {
                        name: json_schema.name.clone(),
                        disable_parallel_tool_use: None,
                    });
                    ctx.forced_tool = Some(json_schema.name);
                }
            }
        }
    }

    let out = MessagesRequest {
        model: target.model.to_string(),
        messages,
        max_tokens: Some(max_tokens),
        system,
        stop_sequences,
        temperature: req.temperature,
        top_p: req.top_p,
        top_k: None,
        stream: req.stream.filter(|s| *s),
        tools,
        tool_choice,
        thinking,
        metadata: req.user.map(|user| Metadata {
            user_id: Some(user),
        }),
        output_config,
        output_format: None,
        extra: Map::new(),
    };
    Ok((out, ctx))
}

/// Request fields the types do not model pass only with a value that changes nothing.
fn check_extra(extra: &Map<String, Value>) -> Result<(), TranslateError> {
    for (name, value) in extra {
        let harmless = match (name.as_str(), value) {
            (_, Value::Null) => true,
            ("n", v) => v.as_u64() == Some(1),
            ("store" | "logprobs", v) => v.as_bool() == Some(false),
            ("presence_penalty" | "frequency_penalty", v) => v.as_f64() == Some(0.0),
            ("modalities", v) => *v == json!(["text"]),
            ("service_tier", v) => matches!(v.as_str(), Some("auto" | "default")),
            ("metadata", v) => v.as_object().is_some_and(Map::is_empty),
            _ => false,
        };
        if !harmless {
            return Err(TranslateError::unsupported(
                name.clone(),
                ANTHROPIC,
                "the Messages API has no equivalent",
            ));
        }
    }
    Ok(())
}

/// Splits out the system prompt and builds alternating user/assistant turns: tool results
/// become `tool_result` blocks of a user turn, and consecutive same-role turns are merged.
fn conversation(
    messages: Vec<ChatMessage>,
) -> Result<(Option<SystemPrompt>, Vec<Message>), TranslateError> {
    let mut system: Vec<TextBlock> = Vec::new();
    let mut turns: Vec<Message> = Vec::new();
    for (i, message) in messages.into_iter().enumerate() {
        let (role, blocks) = match message {
            ChatMessage::System(m) | ChatMessage::Developer(m) => {
                if m.name.is_some() {
                    return Err(name_unsupported(i));
                }
                system.push(TextBlock {
                    kind: TextKind::Text,
                    text: m.content.joined(),
                    cache_control: None,
                });
                continue;
            }
            ChatMessage::User(m) => {
                if m.name.is_some() {
                    return Err(name_unsupported(i));
                }
                (Role::User, user_blocks(i, m.content)?)
            }
            ChatMessage::Assistant(m) => (Role::Assistant, assistant_blocks(i, m)?),
            ChatMessage::Tool(m) => (
                Role::User,
                vec![Block::ToolResult {
                    tool_use_id: m.tool_call_id,
                    content: Some(crate::anthropic::ToolResultContent::Text(
                        m.content.joined(),
                    )),
                    is_error: None,
                    cache_control: None,
                }],
            ),
        };
        match turns.last_mut() {
            Some(last) if last.role == role => append_blocks(&mut last.content, blocks),
            _ => turns.push(Message {
                role,
                content: Content::Blocks(blocks),
            }),
        }
    }
    let system = (!system.is_empty()).then(|| {
        if system.len() == 1 {
            SystemPrompt::Text(system.remove(0).text)
        } else {
            SystemPrompt::Blocks(system)
        }
    });
    // Anthropic refuses empty text blocks; OpenAI clients send them (e.g. `content: ""` next to
    // tool calls). A turn that is only empty text keeps it, so the provider names the problem.
    for turn in &mut turns {
        if let Content::Blocks(blocks) = &mut turn.content {
            let empty = |b: &Block| matches!(b, Block::Text { text, .. } if text.is_empty());
            if blocks.iter().any(|b| !empty(b)) {
                blocks.retain(|b| !empty(b));
            }
        }
    }
    // A turn holding one text block reads best (and round-trips) as a plain string.
    for turn in &mut turns {
        if let Content::Blocks(blocks) = &turn.content {
            if let [Block::Text {
                text,
                cache_control: None,
            }] = blocks.as_slice()
            {
                turn.content = Content::Text(text.clone());
            }
        }
    }
    Ok((system, turns))
}

fn append_blocks(content: &mut Content, blocks: Vec<Block>) {
    if let Content::Blocks(existing) = content {
        existing.extend(blocks);
    }
}

fn name_unsupported(i: usize) -> TranslateError {
    TranslateError::unsupported(
        format!("messages[{i}].name"),
        ANTHROPIC,
        "Anthropic messages have no participant names",
    )
}

fn text_block(text: String) -> Block {
    Block::Text {
        text,
        cache_control: None,
    }
}

fn user_blocks(i: usize, content: UserContent) -> Result<Vec<Block>, TranslateError> {
    match content {
        UserContent::Text(text) => Ok(vec![text_block(text)]),
        UserContent::Parts(parts) => parts
            .into_iter()
            .enumerate()
            .map(|(j, part)| match part {
                ContentPart::Text { text } => Ok(text_block(text)),
                ContentPart::ImageUrl { image_url } => Ok(Block::Image {
                    source: image_source(&image_url.url).ok_or_else(|| {
                        TranslateError::invalid(
                            format!("messages[{i}].content[{j}].image_url.url"),
                            "expected an http(s) URL or a base64 data: URL",
                        )
                    })?,
                    cache_control: None,
                }),
            })
            .collect(),
    }
}

/// `data:<media type>;base64,<data>` → base64 source; `http(s)://…` → URL source.
pub fn image_source(url: &str) -> Option<ImageSource> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (header, data) = rest.split_once(',')?;
        let media_type = header.strip_suffix(";base64")?;
        return Some(ImageSource::Base64 {
            media_type: media_type.to_string(),
            data: data.to_string(),
        });
    }
    (url.starts_with("https://") || url.starts_with("http://")).then(|| ImageSource::Url {
        url: url.to_string(),
    })
}

fn assistant_blocks(i: usize, m: AssistantMessage) -> Result<Vec<Block>, TranslateError> {
    if m.name.is_some() {
        return Err(name_unsupported(i));
    }
    let mut blocks = Vec::new();
    match m.content {
        None => {}
        Some(AssistantContent::Text(text)) if text.is_empty() => {}
        Some(AssistantContent::Text(text)) => blocks.push(text_block(text)),
        Some(AssistantContent::Parts(parts)) => {
            for part in parts {
                match part {
                    crate::openai::AssistantPart::Text { text } => blocks.push(text_block(text)),
                    crate::openai::AssistantPart::Refusal { refusal } => {
                        blocks.push(text_block(refusal))
                    }
                }
            }
        }
    }
    if let Some(refusal) = m.refusal {
        blocks.push(text_block(refusal));
    }
    for (j, call) in m.tool_calls.into_iter().flatten().enumerate() {
        let arguments = call.function.arguments.trim();
        // A call without arguments is often sent as "": Anthropic wants an object.
        let input: Value = if arguments.is_empty() {
            json!({})
        } else {
            serde_json::from_str(arguments).map_err(|e| {
                TranslateError::invalid(
                    format!("messages[{i}].tool_calls[{j}].function.arguments"),
                    format!("not JSON: {e}"),
                )
            })?
        };
        blocks.push(Block::ToolUse {
            id: call.id,
            name: call.function.name,
            input,
            cache_control: None,
        });
    }
    Ok(blocks)
}
