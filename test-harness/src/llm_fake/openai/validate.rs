//! The Chat Completions API's request rules, with its 400 messages and `param` paths.

use serde_json::{Map, Value};

use crate::llm_fake::check::{closed_objects, object, word_count, Invalid};
use crate::llm_fake::script::{Ask, ToolChoice, ToolDef};

/// Top-level parameters of `POST /v1/chat/completions`.
const FIELDS: &[&str] = &[
    "model",
    "messages",
    "audio",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "metadata",
    "modalities",
    "n",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "prompt_cache_key",
    "prompt_cache_retention",
    "reasoning_effort",
    "response_format",
    "safety_identifier",
    "seed",
    "service_tier",
    "stop",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "user",
    "verbosity",
    "web_search_options",
];

/// What a valid request asks for.
#[derive(Debug)]
pub(crate) struct Valid {
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    pub ask: Ask,
}

/// Validates a chat completions body.
pub(crate) fn request(body: &Value) -> Result<Valid, Invalid> {
    let top = body
        .as_object()
        .ok_or_else(|| Invalid::whole("Invalid type for request body: expected an object."))?;
    if let Some(key) = top.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(Invalid::whole(format!(
            "Unrecognized request argument supplied: {key}"
        )));
    }
    let model = top
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| Invalid::at("model", "you must provide a model parameter"))?
        .to_string();
    let stream = match top.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(stream)) => *stream,
        Some(_) => return Err(invalid_type("stream", "a boolean")),
    };
    let include_usage = stream_options(top.get("stream_options"), stream)?;
    numbers(top)?;
    stop(top.get("stop"))?;
    let tools = tools(top.get("tools"))?;
    let tool_choice = tool_choice(top.get("tool_choice"), &tools)?;
    let messages = match top.get("messages") {
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err(invalid_type("messages", "an array")),
        None => {
            return Err(Invalid::at(
                "messages",
                "Missing required parameter: 'messages'.",
            ))
        }
    };
    let last_user_text = super::messages::check(messages)?;
    let output_schema = response_format(top.get("response_format"), messages)?;
    let input_tokens = word_count(&Value::Array(messages.clone()));
    let max_tokens = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|field| top.get(*field).and_then(Value::as_u64));
    let stop_sequences = match top.get("stop") {
        Some(Value::String(stop)) => vec![stop.clone()],
        Some(Value::Array(stops)) => stops
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let reasoning = top
        .get("reasoning_effort")
        .and_then(Value::as_str)
        .is_some_and(|effort| effort != "none");
    Ok(Valid {
        model,
        stream,
        include_usage,
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

pub(crate) fn invalid_type(param: &str, expected: &str) -> Invalid {
    Invalid::at(
        param,
        format!("Invalid type for '{param}': expected {expected}."),
    )
}

fn stream_options(options: Option<&Value>, stream: bool) -> Result<bool, Invalid> {
    let Some(options) = options.filter(|o| !o.is_null()) else {
        return Ok(false);
    };
    if !stream {
        return Err(Invalid::at(
            "stream_options",
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        ));
    }
    let map = object(options, "stream_options")?;
    if let Some(key) = map
        .keys()
        .find(|k| !["include_usage", "include_obfuscation"].contains(&k.as_str()))
    {
        return Err(Invalid::at(
            format!("stream_options.{key}"),
            format!("Unrecognized request argument supplied: stream_options.{key}"),
        ));
    }
    Ok(map.get("include_usage") == Some(&Value::Bool(true)))
}

fn numbers(top: &Map<String, Value>) -> Result<(), Invalid> {
    for (field, min, max) in [
        ("temperature", 0.0, 2.0),
        ("top_p", 0.0, 1.0),
        ("frequency_penalty", -2.0, 2.0),
        ("presence_penalty", -2.0, 2.0),
    ] {
        match top.get(field) {
            None | Some(Value::Null) => {}
            Some(value) => {
                let number = value
                    .as_f64()
                    .ok_or_else(|| invalid_type(field, "a decimal"))?;
                if !(min..=max).contains(&number) {
                    let message = if number < min {
                        format!("Invalid '{field}': decimal below minimum value. Expected a value >= {min}, but got {number} instead.")
                    } else {
                        format!("Invalid '{field}': decimal above maximum value. Expected a value <= {max}, but got {number} instead.")
                    };
                    return Err(Invalid::at(field, message));
                }
            }
        }
    }
    for field in [
        "max_tokens",
        "max_completion_tokens",
        "n",
        "seed",
        "top_logprobs",
    ] {
        match top.get(field) {
            None | Some(Value::Null) => {}
            Some(value) if value.is_i64() || value.is_u64() => {}
            Some(_) => return Err(invalid_type(field, "an integer")),
        }
    }
    if top.get("n").and_then(Value::as_u64).is_some_and(|n| n != 1) {
        return Err(Invalid::at("n", "this fake answers only n=1"));
    }
    if let Some(effort) = top.get("reasoning_effort").filter(|e| !e.is_null()) {
        let known = ["none", "minimal", "low", "medium", "high", "xhigh"];
        if !effort.as_str().is_some_and(|e| known.contains(&e)) {
            return Err(Invalid::at(
                "reasoning_effort",
                format!("Invalid value: {effort}. Supported values are: 'none', 'minimal', 'low', 'medium', 'high', and 'xhigh'."),
            ));
        }
    }
    Ok(())
}

fn stop(stop: Option<&Value>) -> Result<(), Invalid> {
    match stop {
        None | Some(Value::Null) | Some(Value::String(_)) => Ok(()),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            if items.len() > 4 {
                return Err(Invalid::at(
                    "stop",
                    format!("Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length {} instead.", items.len()),
                ));
            }
            Ok(())
        }
        Some(_) => Err(invalid_type("stop", "a string or an array of strings")),
    }
}

fn tools(tools: Option<&Value>) -> Result<Vec<ToolDef>, Invalid> {
    let Some(tools) = tools.filter(|t| !t.is_null()) else {
        return Ok(Vec::new());
    };
    let list = tools
        .as_array()
        .ok_or_else(|| invalid_type("tools", "an array"))?;
    let mut out = Vec::new();
    for (i, tool) in list.iter().enumerate() {
        let path = format!("tools[{i}]");
        let map = object(tool, &path)?;
        if map.get("type").and_then(Value::as_str) != Some("function") {
            return Err(Invalid::at(
                format!("{path}.type"),
                format!("Invalid value for '{path}.type': expected 'function'."),
            ));
        }
        let function = object(
            map.get("function").unwrap_or(&Value::Null),
            &format!("{path}.function"),
        )?;
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Invalid::at(
                    format!("{path}.function.name"),
                    format!("Missing required parameter: '{path}.function.name'."),
                )
            })?;
        let name_ok = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(Invalid::at(
                format!("{path}.function.name"),
                format!("Invalid '{path}.function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."),
            ));
        }
        let parameters = function
            .get("parameters")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({ "type": "object", "properties": {} }));
        if function.get("strict") == Some(&Value::Bool(true)) {
            strict_schema(&parameters, &format!("function '{name}'"))?;
        }
        out.push(ToolDef {
            name: name.to_string(),
            schema: parameters,
        });
    }
    Ok(out)
}

fn tool_choice(choice: Option<&Value>, tools: &[ToolDef]) -> Result<ToolChoice, Invalid> {
    let Some(choice) = choice.filter(|c| !c.is_null()) else {
        return Ok(ToolChoice::Auto);
    };
    if tools.is_empty() {
        return Err(Invalid::at(
            "tool_choice",
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
        ));
    }
    match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Any),
            other => Err(Invalid::at(
                "tool_choice",
                format!("Invalid value: '{other}'. Supported values are: 'none', 'auto', and 'required'."),
            )),
        },
        Value::Object(map) => {
            let name = map
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .filter(|_| map.get("type").and_then(Value::as_str) == Some("function"))
                .ok_or_else(|| {
                    Invalid::at(
                        "tool_choice.function.name",
                        "Missing required parameter: 'tool_choice.function.name'.",
                    )
                })?;
            if !tools.iter().any(|t| t.name == name) {
                return Err(Invalid::at(
                    "tool_choice",
                    format!("Invalid value for 'tool_choice': function '{name}' not found in 'tools'."),
                ));
            }
            Ok(ToolChoice::Named(name.to_string()))
        }
        _ => Err(invalid_type("tool_choice", "a string or an object")),
    }
}

fn response_format(format: Option<&Value>, messages: &[Value]) -> Result<Option<Value>, Invalid> {
    let Some(format) = format.filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    let map = object(format, "response_format")?;
    match map.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => {
            if !Value::Array(messages.to_vec()).to_string().to_lowercase().contains("json") {
                return Err(Invalid::at(
                    "messages",
                    "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                ));
            }
            Ok(Some(serde_json::json!({ "type": "object", "properties": {} })))
        }
        Some("json_schema") => {
            let spec = object(
                map.get("json_schema").unwrap_or(&Value::Null),
                "response_format.json_schema",
            )?;
            let name = spec.get("name").and_then(Value::as_str).ok_or_else(|| {
                Invalid::at(
                    "response_format.json_schema.name",
                    "Missing required parameter: 'response_format.json_schema.name'.",
                )
            })?;
            let schema = spec
                .get("schema")
                .cloned()
                .unwrap_or_else(|| serde_json::json!({ "type": "object", "properties": {} }));
            if spec.get("strict") == Some(&Value::Bool(true)) {
                strict_schema(&schema, &format!("response_format '{name}'"))?;
            }
            Ok(Some(schema))
        }
        other => Err(Invalid::at(
            "response_format.type",
            format!("Invalid value: {}. Supported values are: 'json_object', 'json_schema', and 'text'.", other.unwrap_or("null")),
        )),
    }
}

/// Strict mode: every object closed, every property required.
fn strict_schema(schema: &Value, what: &str) -> Result<(), Invalid> {
    closed_objects(schema, "").map_err(|at| {
        Invalid::at(
            "response_format",
            format!("Invalid schema for {what}: In context=({at}), 'additionalProperties' is required to be supplied and to be false."),
        )
    })?;
    all_required(schema).map_err(|key| {
        Invalid::at(
            "response_format",
            format!("Invalid schema for {what}: 'required' is required to be supplied and to be an array including every key in properties. Missing '{key}'."),
        )
    })
}

fn all_required(schema: &Value) -> Result<(), String> {
    let Some(map) = schema.as_object() else {
        return Ok(());
    };
    if let Some(properties) = map.get("properties").and_then(Value::as_object) {
        let required: Vec<&str> = map
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(missing) = properties.keys().find(|k| !required.contains(&k.as_str())) {
            return Err(missing.clone());
        }
    }
    for (key, child) in map {
        match (key.as_str(), child) {
            ("properties" | "$defs" | "definitions", Value::Object(children)) => {
                children.values().try_for_each(all_required)?
            }
            ("items", child) => all_required(child)?,
            ("anyOf", Value::Array(children)) => children.iter().try_for_each(all_required)?,
            _ => {}
        }
    }
    Ok(())
}
