//! What a target API cannot express is refused with an error naming the field, never dropped.

use ai_gateway_llm::anthropic::MessagesRequest;
use ai_gateway_llm::openai::ChatRequest;
use ai_gateway_llm::translate::request_to_anthropic::{chat_to_messages, AnthropicTarget};
use ai_gateway_llm::translate::request_to_openai::{messages_to_chat, OpenAiTarget};
use ai_gateway_llm::translate::{parse_body, StructuredOutput, TranslateError};
use serde_json::{json, Value};

fn to_anthropic(body: Value) -> Result<(), TranslateError> {
    let req: ChatRequest = parse_body(body.to_string().as_bytes())?;
    let target = AnthropicTarget {
        model: "claude",
        default_max_tokens: 4096,
        structured_output: StructuredOutput::Native,
    };
    chat_to_messages(req, &target).map(|_| ())
}

fn to_openai(body: Value) -> Result<(), TranslateError> {
    let req: MessagesRequest = parse_body(body.to_string().as_bytes())?;
    messages_to_chat(
        req,
        &OpenAiTarget {
            model: "gpt",
            compatible: false,
        },
    )
    .map(|_| ())
}

fn user(content: Value) -> Value {
    json!([{"role": "user", "content": content}])
}

#[test]
fn openai_fields_anthropic_cannot_express_are_refused_by_name() {
    let hi = user(json!("hi"));
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"model": "m", "messages": hi, "temperature": 1.5}),
            "temperature",
        ),
        (json!({"model": "m", "messages": hi, "n": 2}), "n"),
        (
            json!({"model": "m", "messages": hi, "logprobs": true}),
            "logprobs",
        ),
        (json!({"model": "m", "messages": hi, "seed": 42}), "seed"),
        (
            json!({"model": "m", "messages": hi, "presence_penalty": 0.5}),
            "presence_penalty",
        ),
        (
            json!({"model": "m", "messages": hi, "functions": []}),
            "functions",
        ),
        (
            json!({"model": "m", "messages": hi, "response_format": {"type": "json_object"}}),
            "response_format.type",
        ),
        (
            json!({"model": "m", "messages": hi, "reasoning_effort": "high", "max_completion_tokens": 1000}),
            "reasoning_effort",
        ),
        (
            json!({"model": "m", "messages": hi, "reasoning_effort": "extreme"}),
            "reasoning_effort",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "hi", "name": "bob"}]}),
            "messages[0].name",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "hi", "audio": {}}]}),
            "messages[0].audio",
        ),
        (
            json!({"model": "m", "messages": user(json!([{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]))}),
            "messages[0]",
        ),
        (
            json!({"model": "m", "messages": user(json!([{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]))}),
            "messages[0].content[0].image_url.url",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}]}),
            "messages[1].tool_calls[0].function.arguments",
        ),
        (
            json!({"model": "m", "messages": [{"role": "function", "name": "f", "content": "x"}]}),
            "messages[0].role",
        ),
    ];
    for (body, field) in cases {
        let err = to_anthropic(body.clone()).expect_err(&body.to_string());
        assert_eq!(err.field(), field, "{body}: {err}");
    }
}

#[test]
fn harmless_values_of_unmodelled_openai_fields_pass() {
    let body = json!({"model": "m", "messages": user(json!("hi")), "n": 1, "store": false,
        "logprobs": false, "presence_penalty": 0, "frequency_penalty": 0.0, "modalities": ["text"],
        "service_tier": "auto", "metadata": {}, "seed": null});
    to_anthropic(body).unwrap();
}

#[test]
fn anthropic_fields_openai_cannot_express_are_refused_by_name() {
    let hi = user(json!("hi"));
    let tool_result = |block: Value| {
        json!([{"role": "user", "content": "go"},
               {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
               {"role": "user", "content": [block]}])
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"model": "m", "max_tokens": 5, "messages": hi, "top_k": 5}),
            "top_k",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": hi, "stop_sequences": ["a", "b", "c", "d", "e"]}),
            "stop_sequences",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": hi, "service_tier": "auto"}),
            "service_tier",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": hi, "mcp_servers": []}),
            "mcp_servers",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": hi, "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
            "tools[0].type",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": tool_result(json!({"type": "tool_result", "tool_use_id": "t", "content": "boom", "is_error": true}))}),
            "messages[2].content[0].is_error",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": tool_result(json!({"type": "tool_result", "tool_use_id": "t", "content": [
            {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]}))}),
            "messages[2].content[0].content[0].type",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": user(json!([{"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}]))}),
            "messages[0].content",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": user(json!([{"type": "tool_use", "id": "t", "name": "f", "input": {}}]))}),
            "messages[0].content[0].type",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": hi, "thinking": {"type": "sometimes"}}),
            "thinking.type",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": hi, "output_config": {"effort": "extreme"}}),
            "output_config.effort",
        ),
    ];
    for (body, field) in cases {
        let err = to_openai(body.clone()).expect_err(&body.to_string());
        assert_eq!(err.field(), field, "{body}: {err}");
    }
}

fn to_bedrock(body: Value) -> Result<(), TranslateError> {
    let req: MessagesRequest = parse_body(body.to_string().as_bytes())?;
    ai_gateway_llm::bedrock::converse::messages_to_converse(req, 4096).map(|_| ())
}

#[test]
fn anthropic_fields_converse_cannot_express_are_refused_by_name() {
    let hi = user(json!("hi"));
    let tools = json!([{"name": "f", "input_schema": {"type": "object"}}]);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"model": "m", "max_tokens": 5, "messages": user(json!([{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]))}),
            "messages[0].content[0].source",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": user(json!([{"type": "image", "source": {"type": "base64", "media_type": "image/tiff", "data": "AA=="}}]))}),
            "messages[0].content[0].source.media_type",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": hi, "tools": tools, "tool_choice": {"type": "none"}}),
            "tool_choice.type",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": hi, "tools": tools, "tool_choice": {"type": "auto", "disable_parallel_tool_use": true}}),
            "tool_choice.disable_parallel_tool_use",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": hi, "thinking": {"type": "adaptive"}}),
            "thinking.type",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": hi, "output_config": {"format": {"type": "json_schema", "schema": {}}}}),
            "output_config.format",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": hi, "tools": [{"type": "bash_20250124", "name": "bash"}]}),
            "tools[0].type",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": hi, "container": "c"}),
            "container",
        ),
    ];
    for (body, field) in cases {
        let err = to_bedrock(body.clone()).expect_err(&body.to_string());
        assert_eq!(err.field(), field, "{body}: {err}");
    }
}

#[test]
fn empty_arguments_and_empty_text_parts_are_normalized_for_anthropic() {
    let body = json!({"model": "m", "messages": [
        {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "go"}]},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "now", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "noon"}]});
    let req: ChatRequest = parse_body(body.to_string().as_bytes()).unwrap();
    let target = AnthropicTarget {
        model: "claude",
        default_max_tokens: 4096,
        structured_output: StructuredOutput::Native,
    };
    let (out, _) = chat_to_messages(req, &target).unwrap();
    assert_eq!(
        serde_json::to_value(&out.messages).unwrap(),
        json!([
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "c1", "name": "now", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1", "content": "noon"}]}
        ])
    );
}
