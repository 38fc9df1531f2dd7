//! Bedrock Converse's request rules, with its `ValidationException` messages: a conversation
//! starts with a user turn and alternates, every content block holds exactly one member, and
//! every `toolUse` is answered by a `toolResult` in the next turn.

use serde_json::{Map, Value};

use crate::llm_fake::check::{word_count, Invalid};
use crate::llm_fake::script::{Ask, ToolChoice, ToolDef};

const FIELDS: &[&str] = &[
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "promptVariables",
    "requestMetadata",
    "performanceConfig",
];

const BLOCK_MEMBERS: &[&str] = &[
    "text",
    "image",
    "document",
    "video",
    "toolUse",
    "toolResult",
    "guardContent",
    "cachePoint",
    "reasoningContent",
    "citationsContent",
];

fn malformed(what: impl std::fmt::Display) -> Invalid {
    Invalid::whole(format!(
        "Malformed input request: {what}, please reformat your input and try again."
    ))
}

fn map<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, Invalid> {
    value
        .as_object()
        .ok_or_else(|| malformed(format!("{path}: expected type: JSONObject")))
}

fn only(map: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), Invalid> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(malformed(format!(
            "{path}: extraneous key [{key}] is not permitted"
        ))),
        None => Ok(()),
    }
}

/// Validates a Converse / ConverseStream body.
pub(crate) fn request(body: &Value) -> Result<Ask, Invalid> {
    let top = map(body, "#")?;
    only(top, "#", FIELDS)?;
    if let Some(system) = top.get("system") {
        let blocks = system
            .as_array()
            .ok_or_else(|| malformed("#/system: expected type: JSONArray"))?;
        for (i, block) in blocks.iter().enumerate() {
            only(
                map(block, &format!("#/system/{i}"))?,
                &format!("#/system/{i}"),
                &["text", "cachePoint", "guardContent"],
            )?;
        }
    }
    inference_config(top.get("inferenceConfig"))?;
    let (tools, tool_choice) = tool_config(top.get("toolConfig"))?;
    let messages = top
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| Invalid::at("messages", "A conversation must start with a user message. Try again with a conversation that starts with a user message."))?;
    let last_user_text = conversation(messages, !tools.is_empty())?;
    let input_tokens = word_count(top.get("system").unwrap_or(&Value::Null))
        + word_count(&Value::Array(messages.clone()));
    let inference = top.get("inferenceConfig");
    let max_tokens = inference
        .and_then(|c| c.get("maxTokens"))
        .and_then(Value::as_u64);
    let stop_sequences = inference
        .and_then(|c| c.get("stopSequences"))
        .and_then(Value::as_array)
        .map(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(Ask {
        last_user_text,
        tools,
        tool_choice,
        output_schema: None,
        input_tokens: input_tokens.max(1),
        max_tokens,
        stop_sequences,
        reasoning: false,
    })
}

fn inference_config(config: Option<&Value>) -> Result<(), Invalid> {
    let Some(config) = config else {
        return Ok(());
    };
    let config = map(config, "#/inferenceConfig")?;
    only(
        config,
        "#/inferenceConfig",
        &["maxTokens", "temperature", "topP", "stopSequences"],
    )?;
    if let Some(max) = config.get("maxTokens") {
        if max.as_u64().is_none_or(|m| m < 1) {
            return Err(Invalid::at("inferenceConfig.maxTokens", "1 validation error detected: Value at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1"));
        }
    }
    for field in ["temperature", "topP"] {
        if let Some(value) = config.get(field) {
            if !value.as_f64().is_some_and(|v| (0.0..=1.0).contains(&v)) {
                return Err(Invalid::at(format!("inferenceConfig.{field}"), format!("1 validation error detected: Value at 'inferenceConfig.{field}' failed to satisfy constraint: Member must have value less than or equal to 1")));
            }
        }
    }
    if let Some(stops) = config.get("stopSequences") {
        if !stops
            .as_array()
            .is_some_and(|s| s.iter().all(Value::is_string))
        {
            return Err(malformed(
                "#/inferenceConfig/stopSequences: expected type: JSONArray of String",
            ));
        }
    }
    Ok(())
}

fn tool_config(config: Option<&Value>) -> Result<(Vec<ToolDef>, ToolChoice), Invalid> {
    let Some(config) = config else {
        return Ok((Vec::new(), ToolChoice::Auto));
    };
    let config = map(config, "#/toolConfig")?;
    only(config, "#/toolConfig", &["tools", "toolChoice"])?;
    let list = config
        .get("tools")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Invalid::at("toolConfig.tools", "1 validation error detected: Value at 'toolConfig.tools' failed to satisfy constraint: Member must have length greater than or equal to 1"))?;
    let mut tools = Vec::new();
    for (i, tool) in list.iter().enumerate() {
        let path = format!("#/toolConfig/tools/{i}");
        let tool = map(tool, &path)?;
        only(tool, &path, &["toolSpec", "cachePoint"])?;
        let Some(spec) = tool.get("toolSpec") else {
            continue;
        };
        let spec = map(spec, &format!("{path}/toolSpec"))?;
        only(
            spec,
            &format!("{path}/toolSpec"),
            &["name", "description", "inputSchema", "strict"],
        )?;
        let name = spec.get("name").and_then(Value::as_str).unwrap_or_default();
        let name_ok = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(Invalid::at(format!("toolConfig.tools.{i}.member.toolSpec.name"), format!("1 validation error detected: Value at 'toolConfig.tools.{}.member.toolSpec.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+", i + 1)));
        }
        let schema = spec
            .get("inputSchema")
            .and_then(|s| s.get("json"))
            .filter(|s| s.is_object())
            .ok_or_else(|| {
                malformed(format!(
                    "{path}/toolSpec/inputSchema: required key [json] not found"
                ))
            })?;
        tools.push(ToolDef {
            name: name.to_string(),
            schema: schema.clone(),
        });
    }
    let choice = match config.get("toolChoice") {
        None => ToolChoice::Auto,
        Some(choice) => {
            let choice = map(choice, "#/toolConfig/toolChoice")?;
            only(choice, "#/toolConfig/toolChoice", &["auto", "any", "tool"])?;
            if choice.len() != 1 {
                return Err(malformed(
                    "#/toolConfig/toolChoice: exactly one of [auto, any, tool] must be set",
                ));
            }
            if choice.contains_key("auto") {
                ToolChoice::Auto
            } else if choice.contains_key("any") {
                ToolChoice::Any
            } else {
                let name = choice["tool"]
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !tools.iter().any(|t| t.name == name) {
                    return Err(Invalid::at(
                        "toolConfig.toolChoice.tool.name",
                        format!(
                            "The tool {name} in toolChoice is not defined in toolConfig.tools."
                        ),
                    ));
                }
                ToolChoice::Named(name.to_string())
            }
        }
    };
    Ok((tools, choice))
}

fn conversation(messages: &[Value], has_tools: bool) -> Result<String, Invalid> {
    let mut previous_uses: Vec<String> = Vec::new();
    let mut last_user_text = String::new();
    for (i, message) in messages.iter().enumerate() {
        let path = format!("#/messages/{i}");
        let message = map(message, &path)?;
        only(message, &path, &["role", "content"])?;
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let expected = if i % 2 == 0 { "user" } else { "assistant" };
        if role != expected {
            let text = if i == 0 {
                "A conversation must start with a user message. Try again with a conversation that starts with a user message."
            } else {
                "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."
            };
            return Err(Invalid::at(format!("messages.{i}.role"), text));
        }
        let blocks = message
            .get("content")
            .and_then(Value::as_array)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Invalid::at(format!("messages.{i}.content"), format!("The content field in the Message object at messages.{i} is empty. Add a ContentBlock object to the content field and try again.")))?;
        let mut uses = Vec::new();
        let mut results = Vec::new();
        let mut text = Vec::new();
        for (j, block) in blocks.iter().enumerate() {
            let block_path = format!("{path}/content/{j}");
            let block = map(block, &block_path)?;
            only(block, &block_path, BLOCK_MEMBERS)?;
            if block.len() != 1 {
                return Err(malformed(format!(
                    "{block_path}: exactly one member of ContentBlock must be set"
                )));
            }
            if let Some(t) = block.get("text") {
                let t = t.as_str().unwrap_or_default();
                if t.trim().is_empty() {
                    return Err(Invalid::at(format!("messages.{i}.content.{j}"), format!("The text field in the ContentBlock object at messages.{i}.content.{j} is blank. Add text to the text field, and try again.")));
                }
                text.push(t.to_string());
            } else if let Some(tool_use) = block.get("toolUse") {
                if role != "assistant" {
                    return Err(malformed(format!(
                        "{block_path}: toolUse is only allowed in assistant messages"
                    )));
                }
                let tool_use = map(tool_use, &format!("{block_path}/toolUse"))?;
                only(
                    tool_use,
                    &format!("{block_path}/toolUse"),
                    &["toolUseId", "name", "input"],
                )?;
                if tool_use.get("input").is_none_or(|v| v.is_null())
                    || !tool_use.get("name").is_some_and(Value::is_string)
                {
                    return Err(malformed(format!(
                        "{block_path}/toolUse: required keys [name, input] not found"
                    )));
                }
                uses.push(
                    tool_use
                        .get("toolUseId")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                );
            } else if let Some(result) = block.get("toolResult") {
                if role != "user" {
                    return Err(malformed(format!(
                        "{block_path}: toolResult is only allowed in user messages"
                    )));
                }
                let result = map(result, &format!("{block_path}/toolResult"))?;
                only(
                    result,
                    &format!("{block_path}/toolResult"),
                    &["toolUseId", "content", "status"],
                )?;
                let parts = result
                    .get("content")
                    .and_then(Value::as_array)
                    .ok_or_else(|| {
                        malformed(format!(
                            "{block_path}/toolResult: required key [content] not found"
                        ))
                    })?;
                for part in parts {
                    let part = map(part, &format!("{block_path}/toolResult/content"))?;
                    only(
                        part,
                        &format!("{block_path}/toolResult/content"),
                        &["text", "json", "image", "document", "video"],
                    )?;
                    if let Some(t) = part.get("text").and_then(Value::as_str) {
                        text.push(t.to_string());
                    }
                    if let Some(json) = part.get("json") {
                        text.push(json.to_string());
                    }
                }
                if let Some(status) = result.get("status") {
                    if !status
                        .as_str()
                        .is_some_and(|s| s == "success" || s == "error")
                    {
                        return Err(malformed(format!(
                            "{block_path}/toolResult/status: success|error expected"
                        )));
                    }
                }
                results.push(
                    result
                        .get("toolUseId")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                );
            } else if let Some(image) = block.get("image") {
                let image = map(image, &format!("{block_path}/image"))?;
                let format = image
                    .get("format")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !["png", "jpeg", "gif", "webp"].contains(&format)
                    || image.get("source").and_then(|s| s.get("bytes")).is_none()
                {
                    return Err(malformed(format!(
                        "{block_path}/image: format (png|jpeg|gif|webp) and source.bytes required"
                    )));
                }
            }
        }
        if (!uses.is_empty() || !results.is_empty()) && !has_tools {
            return Err(Invalid::whole("The toolConfig field must be defined when using toolUse and toolResult content blocks."));
        }
        if role == "user" {
            if results.len() > previous_uses.len()
                || results.iter().any(|r| !previous_uses.contains(r))
            {
                return Err(Invalid::at(format!("messages.{i}.content"), format!("The number of toolResult blocks at messages.{i}.content exceeds the number of toolUse blocks of previous turn.")));
            }
            let missing: Vec<&str> = previous_uses
                .iter()
                .filter(|u| !results.contains(u))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                return Err(Invalid::at(format!("messages.{i}.content"), format!("Expected toolResult blocks at messages.{i}.content for the following Ids: {}", missing.join(", "))));
            }
            last_user_text = text.join(" ");
        }
        previous_uses = uses;
    }
    if !previous_uses.is_empty() {
        return Err(Invalid::whole(format!(
            "Expected toolResult blocks at messages.{}.content for the following Ids: {}",
            messages.len(),
            previous_uses.join(", ")
        )));
    }
    Ok(last_user_text)
}
