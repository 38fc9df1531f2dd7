//! Stop/finish reasons and token usage, both directions.

use crate::anthropic::{DeltaUsage, Usage as AnUsage};
use crate::openai::{PromptTokensDetails, Usage as OaUsage};

/// Anthropic `stop_reason` → OpenAI `finish_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn
        _ => "stop",
    }
}

/// OpenAI `finish_reason` → Anthropic `stop_reason`.
pub fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// Anthropic usage → OpenAI usage. OpenAI's prompt tokens include cached ones; Anthropic
/// counts cache reads and writes apart from `input_tokens`. Anthropic reports no separate
/// thinking figure (thinking is part of `output_tokens`).
pub fn openai_usage(usage: &AnUsage) -> OaUsage {
    let cache_read = usage.cache_read_input_tokens.unwrap_or(0);
    // Saturating: the figures are the provider's, and an overflow would trap a Wasm VM.
    let prompt = usage
        .input_tokens
        .saturating_add(cache_read)
        .saturating_add(usage.cache_creation_input_tokens.unwrap_or(0));
    OaUsage {
        prompt_tokens: prompt,
        completion_tokens: usage.output_tokens,
        total_tokens: prompt.saturating_add(usage.output_tokens),
        prompt_tokens_details: usage
            .cache_read_input_tokens
            .map(|cached| PromptTokensDetails {
                cached_tokens: Some(cached),
            }),
        completion_tokens_details: None,
    }
}

/// OpenAI usage → Anthropic usage (cached prompt tokens become cache reads).
pub fn anthropic_usage(usage: &OaUsage) -> AnUsage {
    let cached = usage
        .prompt_tokens_details
        .as_ref()
        .and_then(|d| d.cached_tokens);
    AnUsage {
        input_tokens: usage.prompt_tokens.saturating_sub(cached.unwrap_or(0)),
        output_tokens: usage.completion_tokens,
        cache_creation_input_tokens: None,
        cache_read_input_tokens: cached,
    }
}

/// Folds a `message_delta` usage into the usage known from `message_start`.
pub fn merge_delta_usage(usage: &mut AnUsage, delta: &DeltaUsage) {
    usage.output_tokens = delta.output_tokens;
    if let Some(v) = delta.input_tokens {
        usage.input_tokens = v;
    }
    if let Some(v) = delta.cache_read_input_tokens {
        usage.cache_read_input_tokens = Some(v);
    }
    if let Some(v) = delta.cache_creation_input_tokens {
        usage.cache_creation_input_tokens = Some(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_map_both_ways() {
        let cases = [
            ("end_turn", "stop", "end_turn"),
            ("stop_sequence", "stop", "end_turn"),
            ("max_tokens", "length", "max_tokens"),
            ("tool_use", "tool_calls", "tool_use"),
            ("refusal", "content_filter", "refusal"),
            ("pause_turn", "stop", "end_turn"),
        ];
        for (anthropic, openai, back) in cases {
            assert_eq!(finish_reason(anthropic), openai, "{anthropic}");
            assert_eq!(stop_reason(openai), back, "{openai}");
        }
    }

    #[test]
    fn cached_tokens_are_counted_in_openai_prompt_tokens() {
        let an = AnUsage {
            input_tokens: 10,
            output_tokens: 7,
            cache_creation_input_tokens: Some(5),
            cache_read_input_tokens: Some(100),
        };
        let oa = openai_usage(&an);
        assert_eq!(
            (oa.prompt_tokens, oa.completion_tokens, oa.total_tokens),
            (115, 7, 122)
        );
        assert_eq!(oa.prompt_tokens_details.unwrap().cached_tokens, Some(100));
    }

    #[test]
    fn openai_cached_tokens_become_cache_reads() {
        let oa = OaUsage {
            prompt_tokens: 120,
            completion_tokens: 9,
            total_tokens: 129,
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: Some(100),
            }),
            completion_tokens_details: None,
        };
        let an = anthropic_usage(&oa);
        assert_eq!(
            (
                an.input_tokens,
                an.output_tokens,
                an.cache_read_input_tokens
            ),
            (20, 9, Some(100))
        );
    }
}
