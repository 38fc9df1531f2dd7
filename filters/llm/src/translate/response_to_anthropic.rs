//! OpenAI chat completion → Anthropic message response.

use serde_json::Value;

use crate::anthropic::{MessageResponse, ResponseBlock};
use crate::openai::ChatCompletion;
use crate::translate::reasons::{anthropic_usage, stop_reason};
use crate::translate::{TranslateError, ANTHROPIC};

/// Translates a whole response (its first choice: Anthropic has one answer per request).
pub fn completion_to_message(
    completion: ChatCompletion,
) -> Result<MessageResponse, TranslateError> {
    let choice = completion.choices.into_iter().next().ok_or_else(|| {
        TranslateError::invalid("choices", "the provider answered without a choice")
    })?;
    let message = choice.message;
    let mut content = Vec::new();
    if let Some(thinking) = message.reasoning_content.filter(|t| !t.is_empty()) {
        // No signature: OpenAI-side reasoning cannot be verified by Anthropic.
        content.push(ResponseBlock::Thinking {
            thinking,
            signature: String::new(),
        });
    }
    let refused = message.refusal.is_some();
    if let Some(text) = message.content.filter(|t| !t.is_empty()) {
        content.push(ResponseBlock::Text { text });
    }
    if let Some(refusal) = message.refusal {
        content.push(ResponseBlock::Text { text: refusal });
    }
    for (j, call) in message.tool_calls.into_iter().flatten().enumerate() {
        let input: Value = serde_json::from_str(&call.function.arguments).map_err(|e| {
            TranslateError::unsupported(
                format!("choices[0].message.tool_calls[{j}].function.arguments"),
                ANTHROPIC,
                format!("tool arguments are not JSON: {e}"),
            )
        })?;
        content.push(ResponseBlock::ToolUse {
            id: call.id,
            name: call.function.name,
            input,
        });
    }
    let stop = match (refused, choice.finish_reason.as_deref()) {
        (true, _) => Some("refusal".to_string()),
        (false, Some(reason)) => Some(stop_reason(reason).to_string()),
        (false, None) => None,
    };
    Ok(MessageResponse {
        id: completion.id,
        kind: "message".to_string(),
        role: "assistant".to_string(),
        content,
        model: completion.model,
        stop_reason: stop,
        stop_sequence: None,
        usage: completion
            .usage
            .as_ref()
            .map(anthropic_usage)
            .unwrap_or_default(),
    })
}
