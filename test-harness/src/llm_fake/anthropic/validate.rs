//! The Anthropic Messages API's request rules, as its 400 `invalid_request_error`s state them.
//! Stricter than the API in one place, as the gateway's issue asks: roles must alternate
//! (the API would merge consecutive same-role turns), so a translator must group tool results.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::llm_fake::check::{closed_objects, object, only_keys, word_count, Invalid};
use crate::llm_fake::script::{Ask, ToolChoice, ToolDef};

/// Top-level fields of `POST /v1/messages`.
const FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "system",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "output_config",
    "service_tier",
    "cache_control",
    "container",
    "inference_geo",
    "speed",
];

/// What a valid request asks for.
#[derive(Debug)]
pub(crate) struct Valid {
    pub model: String,
    pub stream: bool,
    pub ask: Ask,
}

fn extra(path: &str) -> String {
    format!("{path}: Extra inputs are not permitted")
}

/// Validates a `/v1/messages` body (`count_tokens`: the count-tokens variant, no `max_tokens`).
pub(crate) fn request(body: &Value, count_tokens: bool) -> Result<Valid, Invalid> {
    let top = object(body, "body")?;
    only_keys(top, "", FIELDS, extra)?;
    let model = match top.get("model") {
        Some(Value::String(model)) => model.clone(),
        Some(_) => {
            return Err(Invalid::at(
                "model",
                "model: Input should be a valid string",
            ))
        }
        None => return Err(Invalid::at("model", "model: Field required")),
    };
    let max_tokens = match top.get("max_tokens") {
        Some(value) => {
            let tokens = value.as_u64().ok_or_else(|| {
                Invalid::at("max_tokens", "max_tokens: Input should be a valid integer")
            })?;
            if tokens < 1 {
                return Err(Invalid::at(
                    "max_tokens",
                    "max_tokens: Input should be greater than or equal to 1",
                ));
            }
            Some(tokens)
        }
        None if count_tokens => None,
        None => return Err(Invalid::at("max_tokens", "max_tokens: Field required")),
    };
    let stream = match top.get("stream") {
        None => false,
        Some(Value::Bool(stream)) if !count_tokens => *stream,
        Some(_) => {
            return Err(Invalid::at(
                "stream",
                "stream: Input should be a valid boolean",
            ))
        }
    };
    sampling(top)?;
    system(top.get("system"))?;
    if let Some(stops) = top.get("stop_sequences") {
        let ok = stops
            .as_array()
            .is_some_and(|s| s.iter().all(Value::is_string));
        if !ok {
            return Err(Invalid::at(
                "stop_sequences",
                "stop_sequences: Input should be a valid list of strings",
            ));
        }
    }
    if let Some(metadata) = top.get("metadata") {
        only_keys(
            object(metadata, "metadata")?,
            "metadata",
            &["user_id"],
            extra,
        )?;
    }
    let tools = tools(top.get("tools"))?;
    let tool_choice = tool_choice(top.get("tool_choice"), &tools)?;
    thinking(top, max_tokens, &tool_choice)?;
    let output_schema = output_config(top.get("output_config"))?;
    let messages = match top.get("messages") {
        Some(Value::Array(messages)) => messages,
        Some(_) => {
            return Err(Invalid::at(
                "messages",
                "messages: Input should be a valid list",
            ))
        }
        None => return Err(Invalid::at("messages", "messages: Field required")),
    };
    let last_user_text = super::messages::check(messages, !tools.is_empty())?;
    let reasoning = matches!(
        top.get("thinking")
            .and_then(|t| t.get("type"))
            .and_then(Value::as_str),
        Some("enabled" | "adaptive")
    );
    if reasoning {
        super::messages::thinking_kept_in_tool_loop(messages)?;
    }
    let stop_sequences = top
        .get("stop_sequences")
        .and_then(Value::as_array)
        .map(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let input_tokens = word_count(top.get("system").unwrap_or(&Value::Null))
        + word_count(&Value::Array(messages.clone()));
    Ok(Valid {
        model,
        stream,
        ask: Ask {
            last_user_text,
            tools,
            tool_choice,
            output_schema,
            input_tokens: input_tokens.max(1),
            max_tokens,
            stop_sequences,
            reasoning,
        },
    })
}

fn sampling(top: &Map<String, Value>) -> Result<(), Invalid> {
    for (field, max) in [("temperature", 1.0), ("top_p", 1.0)] {
        if let Some(value) = top.get(field) {
            let in_range = value.as_f64().is_some_and(|v| (0.0..=max).contains(&v));
            if !in_range {
                return Err(Invalid::at(field, format!("{field}: range: 0..{max}")));
            }
        }
    }
    if let Some(top_k) = top.get("top_k") {
        if top_k.as_u64().is_none() {
            return Err(Invalid::at(
                "top_k",
                "top_k: Input should be a valid integer",
            ));
        }
    }
    Ok(())
}

fn system(system: Option<&Value>) -> Result<(), Invalid> {
    match system {
        None | Some(Value::String(_)) => Ok(()),
        Some(Value::Array(blocks)) => {
            for (i, block) in blocks.iter().enumerate() {
                let path = format!("system.{i}");
                let map = object(block, &path)?;
                only_keys(
                    map,
                    &path,
                    &["type", "text", "cache_control", "citations"],
                    extra,
                )?;
                if map.get("type").and_then(Value::as_str) != Some("text") {
                    return Err(Invalid::at(
                        &path,
                        format!("{path}.type: Input should be 'text'"),
                    ));
                }
                if !map.get("text").is_some_and(Value::is_string) {
                    return Err(Invalid::at(&path, format!("{path}.text: Field required")));
                }
            }
            Ok(())
        }
        Some(_) => Err(Invalid::at(
            "system",
            "system: Input should be a valid string or a list of text blocks",
        )),
    }
}

fn tools(tools: Option<&Value>) -> Result<Vec<ToolDef>, Invalid> {
    let Some(tools) = tools else {
        return Ok(Vec::new());
    };
    let list = tools
        .as_array()
        .ok_or_else(|| Invalid::at("tools", "tools: Input should be a valid list"))?;
    let mut out: Vec<ToolDef> = Vec::new();
    for (i, tool) in list.iter().enumerate() {
        let path = format!("tools.{i}");
        let map = object(tool, &path)?;
        const TOOL_FIELDS: &[&str] = &[
            "type",
            "name",
            "description",
            "input_schema",
            "cache_control",
            "strict",
        ];
        only_keys(map, &path, TOOL_FIELDS, extra)?;
        if map.get("type").is_some_and(|t| t != "custom") {
            return Err(Invalid::at(
                &path,
                format!("{path}.type: only custom tools are served by this fake"),
            ));
        }
        let name = map.get("name").and_then(Value::as_str).unwrap_or_default();
        let name_ok = (1..=128).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(Invalid::at(
                format!("{path}.name"),
                format!("{path}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"),
            ));
        }
        let schema = map.get("input_schema").ok_or_else(|| {
            Invalid::at(
                format!("{path}.input_schema"),
                format!("{path}.input_schema: Field required"),
            )
        })?;
        if schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(Invalid::at(
                format!("{path}.input_schema"),
                format!("{path}.input_schema.type: Input should be 'object'"),
            ));
        }
        if out.iter().any(|t| t.name == name) {
            return Err(Invalid::at("tools", "tools: Tool names must be unique."));
        }
        out.push(ToolDef {
            name: name.to_string(),
            schema: schema.clone(),
        });
    }
    Ok(out)
}

fn tool_choice(choice: Option<&Value>, tools: &[ToolDef]) -> Result<ToolChoice, Invalid> {
    let Some(choice) = choice else {
        return Ok(ToolChoice::Auto);
    };
    let map = object(choice, "tool_choice")?;
    let kind = map.get("type").and_then(Value::as_str).unwrap_or_default();
    let allowed: &[&str] = match kind {
        "tool" => &["type", "name", "disable_parallel_tool_use"],
        "none" => &["type"],
        _ => &["type", "disable_parallel_tool_use"],
    };
    only_keys(map, "tool_choice", allowed, extra)?;
    if tools.is_empty() && kind != "none" {
        return Err(Invalid::at(
            "tool_choice",
            "tool_choice may only be specified while providing tools.",
        ));
    }
    match kind {
        "auto" => Ok(ToolChoice::Auto),
        "any" => Ok(ToolChoice::Any),
        "none" => Ok(ToolChoice::None),
        "tool" => {
            let name = map.get("name").and_then(Value::as_str).ok_or_else(|| {
                Invalid::at("tool_choice.name", "tool_choice.tool.name: Field required")
            })?;
            if !tools.iter().any(|t| t.name == name) {
                return Err(Invalid::at(
                    "tool_choice.name",
                    format!("tool_choice.name: Tool '{name}' not found in provided tools"),
                ));
            }
            Ok(ToolChoice::Named(name.to_string()))
        }
        other => Err(Invalid::at(
            "tool_choice.type",
            format!(
                "tool_choice: Input tag '{other}' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'"
            ),
        )),
    }
}

fn thinking(
    top: &Map<String, Value>,
    max_tokens: Option<u64>,
    tool_choice: &ToolChoice,
) -> Result<(), Invalid> {
    let Some(thinking) = top.get("thinking") else {
        return Ok(());
    };
    let map = object(thinking, "thinking")?;
    match map.get("type").and_then(Value::as_str) {
        Some("disabled") => only_keys(map, "thinking", &["type"], extra),
        Some("adaptive") => only_keys(map, "thinking", &["type", "display"], extra),
        Some("enabled") => {
            only_keys(map, "thinking", &["type", "budget_tokens", "display"], extra)?;
            let budget = map
                .get("budget_tokens")
                .and_then(Value::as_u64)
                .ok_or_else(|| {
                    Invalid::at("thinking.budget_tokens", "thinking.enabled.budget_tokens: Field required")
                })?;
            if budget < 1024 {
                return Err(Invalid::at(
                    "thinking.budget_tokens",
                    "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
                ));
            }
            if max_tokens.is_some_and(|max| max <= budget) {
                return Err(Invalid::at(
                    "max_tokens",
                    "`max_tokens` must be greater than `thinking.budget_tokens`",
                ));
            }
            if top.get("temperature").is_some_and(|t| t.as_f64() != Some(1.0)) {
                return Err(Invalid::at(
                    "temperature",
                    "`temperature` may only be set to 1 when thinking is enabled",
                ));
            }
            if matches!(tool_choice, ToolChoice::Any | ToolChoice::Named(_)) {
                return Err(Invalid::at(
                    "tool_choice",
                    "Thinking may not be enabled when tool_choice forces tool use.",
                ));
            }
            Ok(())
        }
        _ => Err(Invalid::at(
            "thinking.type",
            "thinking: Input tag found using 'type' does not match any of the expected tags: 'enabled', 'disabled', 'adaptive'",
        )),
    }
}

fn output_config(config: Option<&Value>) -> Result<Option<Value>, Invalid> {
    let Some(config) = config else {
        return Ok(None);
    };
    let map = object(config, "output_config")?;
    only_keys(map, "output_config", &["effort", "format"], extra)?;
    if let Some(effort) = map.get("effort") {
        let known = ["low", "medium", "high", "xhigh", "max"];
        if !effort.as_str().is_some_and(|e| known.contains(&e)) {
            return Err(Invalid::at(
                "output_config.effort",
                "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'",
            ));
        }
    }
    let Some(format) = map.get("format").filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    let format = object(format, "output_config.format")?;
    only_keys(format, "output_config.format", &["type", "schema"], extra)?;
    if format.get("type").and_then(Value::as_str) != Some("json_schema") {
        return Err(Invalid::at(
            "output_config.format.type",
            "output_config.format.type: Input should be 'json_schema'",
        ));
    }
    let schema = format
        .get("schema")
        .filter(|s| s.is_object())
        .ok_or_else(|| {
            Invalid::at(
                "output_config.format.schema",
                "output_config.format.schema: Field required",
            )
        })?;
    closed_objects(schema, "output_config.format.schema").map_err(|at| {
        Invalid::at(
            at.clone(),
            format!(
                "{at}: For 'object' type, 'additionalProperties' must be explicitly set to false"
            ),
        )
    })?;
    Ok(Some(schema.clone()))
}

/// Tool-use ids must be unique across the conversation.
pub(crate) fn unique_ids<'a>(ids: impl Iterator<Item = &'a str>) -> Result<(), Invalid> {
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(Invalid::at(
                "messages",
                format!("messages: `tool_use` ids must be unique: {id}"),
            ));
        }
    }
    Ok(())
}
