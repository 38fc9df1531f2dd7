//! Anthropic Messages request ⇄ Bedrock Converse. Both client APIs reach Bedrock through the
//! Anthropic types: an OpenAI request is first translated to a Messages request, and a
//! Converse response comes back as a Messages response (then, for OpenAI clients, a chat
//! completion).

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::anthropic::{
    Block, Content, ImageSource, MessageResponse, MessagesRequest, ResponseBlock, Role, Thinking,
    ToolChoice, ToolResultContent, Usage,
};
use crate::translate::{TranslateError, BEDROCK};

/// Translates a Messages request into a Converse body. `default_max_tokens` applies when the
/// request names none.
pub fn messages_to_converse(
    req: MessagesRequest,
    default_max_tokens: u32,
) -> Result<Value, TranslateError> {
    if let Some(name) = req.extra.keys().next() {
        return Err(TranslateError::unsupported(
            name.clone(),
            BEDROCK,
            "Converse has no equivalent",
        ));
    }
    if req
        .output_config
        .as_ref()
        .is_some_and(|c| c.format.is_some())
        || req.output_format.is_some()
    {
        return Err(TranslateError::unsupported(
            "output_config.format",
            BEDROCK,
            "Converse has no JSON-schema output; use a tool",
        ));
    }
    if req
        .output_config
        .as_ref()
        .is_some_and(|c| c.effort.is_some())
    {
        return Err(TranslateError::unsupported(
            "output_config.effort",
            BEDROCK,
            "Converse has no effort setting",
        ));
    }
    let mut body = Map::new();
    let mut messages = Vec::new();
    for (i, message) in req.messages.into_iter().enumerate() {
        let role = match message.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let content = match message.content {
            Content::Text(text) => vec![json!({"text": text})],
            Content::Blocks(blocks) => blocks
                .into_iter()
                .enumerate()
                .map(|(j, b)| block(&format!("messages[{i}].content[{j}]"), b))
                .collect::<Result<Vec<_>, _>>()?,
        };
        messages.push(json!({"role": role, "content": content}));
    }
    body.insert("messages".into(), Value::Array(messages));
    if let Some(system) = req.system {
        let blocks: Vec<Value> = match system {
            crate::anthropic::SystemPrompt::Text(text) => vec![json!({"text": text})],
            crate::anthropic::SystemPrompt::Blocks(blocks) => blocks
                .into_iter()
                .map(|b| json!({"text": b.text}))
                .collect(),
        };
        body.insert("system".into(), Value::Array(blocks));
    }
    let mut inference = Map::new();
    inference.insert(
        "maxTokens".into(),
        json!(req.max_tokens.unwrap_or(default_max_tokens)),
    );
    if let Some(t) = req.temperature {
        inference.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        inference.insert("topP".into(), json!(p));
    }
    if let Some(stops) = req.stop_sequences {
        inference.insert("stopSequences".into(), json!(stops));
    }
    body.insert("inferenceConfig".into(), Value::Object(inference));
    if let Some(config) = tool_config(req.tools, req.tool_choice)? {
        body.insert("toolConfig".into(), config);
    }
    // Model-specific fields (Anthropic models on Bedrock) travel as additional fields.
    let mut additional = Map::new();
    if let Some(top_k) = req.top_k {
        additional.insert("top_k".into(), json!(top_k));
    }
    match req.thinking {
        Some(Thinking::Enabled { budget_tokens, .. }) => {
            additional.insert(
                "thinking".into(),
                json!({"type": "enabled", "budget_tokens": budget_tokens}),
            );
        }
        Some(Thinking::Adaptive { .. }) => {
            return Err(TranslateError::unsupported(
                "thinking.type",
                BEDROCK,
                "adaptive thinking is not offered through Converse; give a budget",
            ))
        }
        Some(Thinking::Disabled) | None => {}
    }
    if !additional.is_empty() {
        body.insert(
            "additionalModelRequestFields".into(),
            Value::Object(additional),
        );
    }
    if let Some(user) = req.metadata.and_then(|m| m.user_id) {
        body.insert("requestMetadata".into(), json!({"user_id": user}));
    }
    Ok(Value::Object(body))
}

fn block(field: &str, block: Block) -> Result<Value, TranslateError> {
    Ok(match block {
        Block::Text { text, .. } => json!({"text": text}),
        Block::Image { source, .. } => image(field, source)?,
        Block::ToolUse {
            id, name, input, ..
        } => {
            json!({"toolUse": {"toolUseId": id, "name": name, "input": input}})
        }
        Block::ToolResult {
            tool_use_id,
            content,
            is_error,
            ..
        } => {
            let content = match content {
                None => vec![json!({"text": ""})],
                Some(ToolResultContent::Text(text)) => vec![json!({"text": text})],
                Some(ToolResultContent::Blocks(blocks)) => blocks
                    .into_iter()
                    .enumerate()
                    .map(|(k, b)| match b {
                        Block::Text { text, .. } => Ok(json!({"text": text})),
                        Block::Image { source, .. } => {
                            image(&format!("{field}.content[{k}]"), source)
                        }
                        _ => Err(TranslateError::unsupported(
                            format!("{field}.content[{k}].type"),
                            BEDROCK,
                            "tool results hold text and images",
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            };
            let mut result = json!({"toolUseId": tool_use_id, "content": content});
            if is_error == Some(true) {
                result["status"] = json!("error");
            }
            json!({"toolResult": result})
        }
        Block::Thinking {
            thinking,
            signature,
        } => {
            json!({"reasoningContent": {"reasoningText": {"text": thinking, "signature": signature}}})
        }
        Block::RedactedThinking { data } => json!({"reasoningContent": {"redactedContent": data}}),
    })
}

fn image(field: &str, source: ImageSource) -> Result<Value, TranslateError> {
    match source {
        ImageSource::Base64 { media_type, data } => {
            let format = match media_type.as_str() {
                "image/png" => "png",
                "image/jpeg" => "jpeg",
                "image/gif" => "gif",
                "image/webp" => "webp",
                other => {
                    return Err(TranslateError::unsupported(
                        format!("{field}.source.media_type"),
                        BEDROCK,
                        format!("image type {other:?} (png, jpeg, gif, webp)"),
                    ))
                }
            };
            Ok(json!({"image": {"format": format, "source": {"bytes": data}}}))
        }
        ImageSource::Url { .. } => Err(TranslateError::unsupported(
            format!("{field}.source"),
            BEDROCK,
            "Converse takes images as bytes, not URLs",
        )),
    }
}

fn tool_config(
    tools: Option<Vec<crate::anthropic::Tool>>,
    choice: Option<ToolChoice>,
) -> Result<Option<Value>, TranslateError> {
    let Some(tools) = tools.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let specs = tools
        .into_iter()
        .enumerate()
        .map(|(i, tool)| {
            if tool.kind.as_deref().is_some_and(|k| k != "custom") {
                return Err(TranslateError::unsupported(
                    format!("tools[{i}].type"),
                    BEDROCK,
                    "server tools run only on Anthropic",
                ));
            }
            let mut spec = json!({
                "name": tool.name,
                "inputSchema": {"json": tool.input_schema.unwrap_or_else(|| json!({"type": "object"}))},
            });
            if let Some(description) = tool.description {
                spec["description"] = json!(description);
            }
            Ok(json!({"toolSpec": spec}))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut config = json!({"tools": specs});
    let parallel_off = |d: Option<bool>| d == Some(true);
    let choice = match choice {
        None => None,
        Some(ToolChoice::Auto {
            disable_parallel_tool_use: d,
        }) if !parallel_off(d) => Some(json!({"auto": {}})),
        Some(ToolChoice::Any {
            disable_parallel_tool_use: d,
        }) if !parallel_off(d) => Some(json!({"any": {}})),
        Some(ToolChoice::Tool {
            name,
            disable_parallel_tool_use: d,
        }) if !parallel_off(d) => Some(json!({"tool": {"name": name}})),
        Some(ToolChoice::None) => {
            return Err(TranslateError::unsupported(
                "tool_choice.type",
                BEDROCK,
                "Converse cannot forbid tool use while offering tools",
            ))
        }
        Some(_) => {
            return Err(TranslateError::unsupported(
                "tool_choice.disable_parallel_tool_use",
                BEDROCK,
                "Converse has no such switch",
            ))
        }
    };
    if let Some(choice) = choice {
        config["toolChoice"] = choice;
    }
    Ok(Some(config))
}

/// A Converse response.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConverseResponse {
    output: Output,
    stop_reason: String,
    #[serde(default)]
    usage: ConverseUsage,
}

#[derive(Debug, Deserialize)]
struct Output {
    message: OutputMessage,
}

#[derive(Debug, Deserialize)]
struct OutputMessage {
    content: Vec<Value>,
}

/// Converse token usage.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_write_input_tokens: Option<u64>,
}

impl ConverseUsage {
    /// As Anthropic usage.
    pub fn anthropic(self) -> Usage {
        Usage {
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cache_creation_input_tokens: self.cache_write_input_tokens,
            cache_read_input_tokens: self.cache_read_input_tokens,
        }
    }
}

/// Converse `stopReason` → Anthropic `stop_reason`.
pub fn stop_reason(reason: &str) -> &'static str {
    match reason {
        "tool_use" => "tool_use",
        "max_tokens" => "max_tokens",
        "stop_sequence" => "stop_sequence",
        "guardrail_intervened" | "content_filtered" => "refusal",
        "model_context_window_exceeded" => "model_context_window_exceeded",
        _ => "end_turn",
    }
}

/// One Converse content block as an Anthropic response block.
pub fn response_block(block: &Value) -> ResponseBlock {
    if let Some(text) = block.get("text").and_then(Value::as_str) {
        return ResponseBlock::Text {
            text: text.to_string(),
        };
    }
    if let Some(tool) = block.get("toolUse") {
        return ResponseBlock::ToolUse {
            id: str_of(tool, "toolUseId"),
            name: str_of(tool, "name"),
            input: tool.get("input").cloned().unwrap_or_else(|| json!({})),
        };
    }
    if let Some(reasoning) = block.get("reasoningContent") {
        if let Some(text) = reasoning.get("reasoningText") {
            return ResponseBlock::Thinking {
                thinking: str_of(text, "text"),
                signature: str_of(text, "signature"),
            };
        }
        if let Some(data) = reasoning.get("redactedContent").and_then(Value::as_str) {
            return ResponseBlock::RedactedThinking {
                data: data.to_string(),
            };
        }
    }
    ResponseBlock::Other
}

fn str_of(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A Converse response as a Messages response. Converse names no message id: `id` (the
/// request id Bedrock returned) stands in.
pub fn converse_to_message(
    body: &[u8],
    id: &str,
    model: &str,
) -> Result<MessageResponse, TranslateError> {
    let resp: ConverseResponse = crate::translate::parse_body(body)?;
    Ok(MessageResponse {
        id: id.to_string(),
        kind: "message".into(),
        role: "assistant".into(),
        content: resp
            .output
            .message
            .content
            .iter()
            .map(response_block)
            .collect(),
        model: model.to_string(),
        stop_reason: Some(stop_reason(&resp.stop_reason).to_string()),
        stop_sequence: None,
        usage: resp.usage.anthropic(),
    })
}
