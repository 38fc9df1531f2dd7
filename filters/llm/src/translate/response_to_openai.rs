//! Anthropic message response → OpenAI chat completion.

use crate::anthropic::{MessageResponse, ResponseBlock};
use crate::openai::{
    ChatCompletion, Choice, FunctionCall, FunctionKind, ResponseMessage, ToolCall,
};
use crate::translate::reasons::{finish_reason, openai_usage};
use crate::translate::{ResponseContext, TranslateError, OPENAI};

/// Translates a whole response. `created` is the Unix time to report.
pub fn message_to_completion(
    msg: MessageResponse,
    ctx: &ResponseContext,
    created: u64,
) -> Result<ChatCompletion, TranslateError> {
    let mut text: Option<String> = None;
    let mut reasoning: Option<String> = None;
    let mut calls = Vec::new();
    let mut structured = false;
    for (i, block) in msg.content.into_iter().enumerate() {
        match block {
            ResponseBlock::Text { text: t } => text.get_or_insert_with(String::new).push_str(&t),
            ResponseBlock::Thinking { thinking, .. } => reasoning
                .get_or_insert_with(String::new)
                .push_str(&thinking),
            ResponseBlock::RedactedThinking { .. } => {}
            ResponseBlock::ToolUse { name, input, .. }
                if ctx.forced_tool.as_deref() == Some(name.as_str()) =>
            {
                // Structured output carried by a forced tool: its input is the answer.
                structured = true;
                text.get_or_insert_with(String::new)
                    .push_str(&serde_json::to_string(&input).unwrap_or_default());
            }
            ResponseBlock::ToolUse { id, name, input } => calls.push(ToolCall {
                id,
                kind: FunctionKind::Function,
                function: FunctionCall {
                    name,
                    arguments: serde_json::to_string(&input).unwrap_or_else(|_| "{}".into()),
                },
            }),
            ResponseBlock::Other => {
                return Err(TranslateError::unsupported(
                    format!("content[{i}].type"),
                    OPENAI,
                    "the provider answered with a block type chat completions cannot carry",
                ))
            }
        }
    }
    let finish = match msg.stop_reason.as_deref() {
        Some("tool_use") if structured && calls.is_empty() => Some("stop".to_string()),
        Some(reason) => Some(finish_reason(reason).to_string()),
        None => None,
    };
    let refusal = (msg.stop_reason.as_deref() == Some("refusal"))
        .then(|| text.clone())
        .flatten();
    Ok(ChatCompletion {
        id: msg.id,
        object: "chat.completion".to_string(),
        created,
        model: msg.model,
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".to_string(),
                content: text,
                reasoning_content: reasoning,
                tool_calls: (!calls.is_empty()).then_some(calls),
                refusal,
            },
            finish_reason: finish,
            logprobs: None,
        }],
        usage: Some(openai_usage(&msg.usage)),
        system_fingerprint: None,
    })
}
