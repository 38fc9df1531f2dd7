//! Chat Completions' rules for `messages`: role shapes, content parts, and the pairing of an
//! assistant's `tool_calls` with the `tool` messages that must follow it.

use serde_json::{Map, Value};

use super::validate::invalid_type;
use crate::llm_fake::check::{object, Invalid};

/// Checks every message; returns the text of the last user-side turn (a user message, or the
/// tool messages after the last assistant message).
pub(crate) fn check(messages: &[Value]) -> Result<String, Invalid> {
    if messages.is_empty() {
        return Err(Invalid::at(
            "messages",
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        ));
    }
    let mut pending: Vec<String> = Vec::new();
    let mut pending_from = 0;
    let mut last_user_text = String::new();
    for (i, message) in messages.iter().enumerate() {
        let path = format!("messages[{i}]");
        let map = object(message, &path)?;
        let role = map.get("role").and_then(Value::as_str).unwrap_or_default();
        if role != "tool" && !pending.is_empty() {
            return Err(unanswered(pending_from, &pending));
        }
        match role {
            "system" | "developer" => {
                keys(map, &path, &["role", "content", "name"])?;
                text_content(map.get("content"), &format!("{path}.content"), false)?;
            }
            "user" => {
                keys(map, &path, &["role", "content", "name"])?;
                last_user_text = user_content(map.get("content"), &format!("{path}.content"))?;
            }
            "assistant" => {
                keys(
                    map,
                    &path,
                    &["role", "content", "name", "tool_calls", "refusal", "audio", "function_call", "annotations"],
                )?;
                let calls = tool_calls(map.get("tool_calls"), &path)?;
                let content = map.get("content").filter(|c| !c.is_null());
                if content.is_none() && calls.is_empty() && map.get("function_call").is_none() {
                    return Err(Invalid::at(
                        format!("{path}.content"),
                        format!("Invalid value for '{path}.content': expected a string, got null."),
                    ));
                }
                if let Some(content) = content {
                    text_content(Some(content), &format!("{path}.content"), true)?;
                }
                pending = calls;
                pending_from = i;
                last_user_text.clear();
            }
            "tool" => {
                keys(map, &path, &["role", "content", "tool_call_id"])?;
                let id = map
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        Invalid::at(
                            format!("{path}.tool_call_id"),
                            format!("Missing required parameter: '{path}.tool_call_id'."),
                        )
                    })?;
                let Some(at) = pending.iter().position(|p| p == id) else {
                    return Err(Invalid::at(
                        format!("{path}.role"),
                        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                    ));
                };
                pending.remove(at);
                let text = text_content(map.get("content"), &format!("{path}.content"), false)?;
                if !last_user_text.is_empty() {
                    last_user_text.push(' ');
                }
                last_user_text.push_str(&text);
            }
            "function" => {
                return Err(Invalid::at(
                    format!("{path}.role"),
                    "this fake does not serve the deprecated 'function' role",
                ))
            }
            other => {
                return Err(Invalid::at(
                    format!("{path}.role"),
                    format!("Invalid value: '{other}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."),
                ))
            }
        }
    }
    if !pending.is_empty() {
        return Err(unanswered(pending_from, &pending));
    }
    Ok(last_user_text)
}

fn unanswered(at: usize, ids: &[String]) -> Invalid {
    Invalid::at(
        format!("messages.[{at}].role"),
        format!(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
            ids.join(", ")
        ),
    )
}

fn keys(map: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), Invalid> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(Invalid::at(
            format!("{path}.{key}"),
            format!("Unrecognized request argument supplied: {path}.{key}"),
        )),
        None => Ok(()),
    }
}

/// The ids of an assistant's `tool_calls`, each checked.
fn tool_calls(calls: Option<&Value>, path: &str) -> Result<Vec<String>, Invalid> {
    let Some(calls) = calls.filter(|c| !c.is_null()) else {
        return Ok(Vec::new());
    };
    let list = calls
        .as_array()
        .ok_or_else(|| invalid_type(&format!("{path}.tool_calls"), "an array"))?;
    let mut ids = Vec::new();
    for (j, call) in list.iter().enumerate() {
        let call_path = format!("{path}.tool_calls[{j}]");
        let map = object(call, &call_path)?;
        keys(map, &call_path, &["id", "type", "function"])?;
        let id = map.get("id").and_then(Value::as_str).ok_or_else(|| {
            Invalid::at(
                format!("{call_path}.id"),
                format!("Missing required parameter: '{call_path}.id'."),
            )
        })?;
        if map.get("type").and_then(Value::as_str) != Some("function") {
            return Err(Invalid::at(
                format!("{call_path}.type"),
                format!("Missing required parameter: '{call_path}.type'."),
            ));
        }
        let function = object(
            map.get("function").unwrap_or(&Value::Null),
            &format!("{call_path}.function"),
        )?;
        if !function.get("name").is_some_and(Value::is_string) {
            return Err(Invalid::at(
                format!("{call_path}.function.name"),
                format!("Missing required parameter: '{call_path}.function.name'."),
            ));
        }
        if !function.get("arguments").is_some_and(Value::is_string) {
            return Err(invalid_type(
                &format!("{call_path}.function.arguments"),
                "a string",
            ));
        }
        ids.push(id.to_string());
    }
    Ok(ids)
}

/// Text-only content (system, developer, assistant, tool): a string or text parts (assistant
/// also `refusal` parts); returns the text.
fn text_content(content: Option<&Value>, path: &str, assistant: bool) -> Result<String, Invalid> {
    match content {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Array(parts)) => {
            let mut out = Vec::new();
            for (k, part) in parts.iter().enumerate() {
                let part_path = format!("{path}[{k}]");
                let map = object(part, &part_path)?;
                match map.get("type").and_then(Value::as_str) {
                    Some("text") => out.push(text_part(map, &part_path)?),
                    Some("refusal") if assistant => {}
                    other => {
                        return Err(Invalid::at(
                            format!("{part_path}.type"),
                            format!(
                                "Invalid value: '{}'. Supported values are: 'text'.",
                                other.unwrap_or("null")
                            ),
                        ))
                    }
                }
            }
            Ok(out.join(" "))
        }
        _ => Err(invalid_type(path, "one of a string or array of objects")),
    }
}

fn text_part(map: &Map<String, Value>, path: &str) -> Result<String, Invalid> {
    keys(map, path, &["type", "text"])?;
    map.get("text")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            Invalid::at(
                format!("{path}.text"),
                format!("Missing required parameter: '{path}.text'."),
            )
        })
}

fn user_content(content: Option<&Value>, path: &str) -> Result<String, Invalid> {
    let Some(Value::Array(parts)) = content else {
        return text_content(content, path, false);
    };
    let mut out = Vec::new();
    for (k, part) in parts.iter().enumerate() {
        let part_path = format!("{path}[{k}]");
        let map = object(part, &part_path)?;
        match map.get("type").and_then(Value::as_str) {
            Some("text") => out.push(text_part(map, &part_path)?),
            Some("image_url") => image_url(map, &part_path)?,
            Some("input_audio" | "file") => {}
            other => {
                return Err(Invalid::at(
                    format!("{part_path}.type"),
                    format!("Invalid value: '{}'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', 'audio', and 'file'.", other.unwrap_or("null")),
                ))
            }
        }
    }
    Ok(out.join(" "))
}

fn image_url(map: &Map<String, Value>, path: &str) -> Result<(), Invalid> {
    keys(map, path, &["type", "image_url"])?;
    let image = object(
        map.get("image_url").unwrap_or(&Value::Null),
        &format!("{path}.image_url"),
    )?;
    keys(image, &format!("{path}.image_url"), &["url", "detail"])?;
    let url = image.get("url").and_then(Value::as_str).unwrap_or_default();
    let ok = url.starts_with("https://")
        || url.starts_with("http://")
        || (url.starts_with("data:image/") && url.contains(";base64,"));
    if !ok {
        return Err(Invalid::at(
            format!("{path}.image_url.url"),
            format!("Invalid '{path}.image_url.url': Expected a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,...'), or a valid URL."),
        ));
    }
    if let Some(detail) = image.get("detail") {
        if !detail
            .as_str()
            .is_some_and(|d| ["auto", "low", "high"].contains(&d))
        {
            return Err(Invalid::at(
                format!("{path}.image_url.detail"),
                "Invalid value for 'detail': expected 'auto', 'low' or 'high'.",
            ));
        }
    }
    Ok(())
}
