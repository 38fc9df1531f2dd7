//! The Messages API's rules for `messages`: roles, content block shapes, and the pairing of
//! every `tool_use` with a `tool_result` in the next turn.

use serde_json::{Map, Value};

use crate::llm_fake::check::{object, only_keys, Invalid};

fn extra(path: &str) -> String {
    format!("{path}: Extra inputs are not permitted")
}

/// Checks every message; returns the text of the last user turn (text blocks and tool results).
pub(crate) fn check(messages: &[Value], has_tools: bool) -> Result<String, Invalid> {
    if messages.is_empty() {
        return Err(Invalid::at(
            "messages",
            "messages: at least one message is required",
        ));
    }
    let mut previous_tool_uses: Vec<String> = Vec::new();
    let mut all_tool_uses: Vec<String> = Vec::new();
    let mut last_user_text = String::new();
    for (i, message) in messages.iter().enumerate() {
        let path = format!("messages.{i}");
        let map = object(message, &path)?;
        only_keys(map, &path, &["role", "content"], extra)?;
        let role = match map.get("role").and_then(Value::as_str) {
            Some(role @ ("user" | "assistant")) => role,
            Some("system") => {
                return Err(Invalid::at(
                    format!("{path}.role"),
                    "messages: Unexpected role \"system\". The Messages API accepts a top-level `system` parameter, not \"system\" as an input message role.",
                ))
            }
            _ => {
                return Err(Invalid::at(
                    format!("{path}.role"),
                    format!("{path}.role: Input should be 'user' or 'assistant'"),
                ))
            }
        };
        let expected = if i % 2 == 0 { "user" } else { "assistant" };
        if role != expected {
            let message = if i == 0 {
                "messages: first message must use the \"user\" role".to_string()
            } else {
                format!("messages.{i}: roles must alternate between \"user\" and \"assistant\", but found multiple \"{role}\" roles in a row")
            };
            return Err(Invalid::at(format!("{path}.role"), message));
        }
        let blocks = blocks(map, &path, role)?;
        let mut tool_uses = Vec::new();
        let mut results = Vec::new();
        let mut text = Vec::new();
        let mut seen_other = false;
        for (j, block) in blocks.iter().enumerate() {
            match block.get("type").and_then(Value::as_str) {
                Some("tool_use") => {
                    let id = block["id"].as_str().unwrap_or_default().to_string();
                    tool_uses.push(id);
                }
                Some("tool_result") => {
                    if seen_other {
                        return Err(Invalid::at(
                            format!("{path}.content.{j}"),
                            format!("{path}.content: `tool_result` blocks must come first in the content array, before any other content"),
                        ));
                    }
                    results.push(
                        block["tool_use_id"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    );
                    text.push(tool_result_text(block));
                }
                Some("text") => {
                    seen_other = true;
                    text.push(block["text"].as_str().unwrap_or_default().to_string());
                }
                _ => seen_other = true,
            }
        }
        if (!tool_uses.is_empty() || !results.is_empty()) && !has_tools {
            return Err(Invalid::at(
                "tools",
                "Requests which include `tool_use` or `tool_result` blocks must define tools.",
            ));
        }
        if role == "user" {
            pair(&previous_tool_uses, &results, i)?;
            last_user_text = text.join(" ");
        }
        all_tool_uses.extend(tool_uses.iter().cloned());
        previous_tool_uses = tool_uses;
    }
    if !previous_tool_uses.is_empty() {
        return Err(Invalid::at(
            "messages",
            format!(
                "messages.{}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                messages.len() - 1,
                previous_tool_uses.join(", ")
            ),
        ));
    }
    super::validate::unique_ids(all_tool_uses.iter().map(String::as_str))?;
    Ok(last_user_text)
}

/// With thinking on, a tool loop in progress (the last user turn answers tool uses) must hand
/// back the assistant turn with its thinking block first, as the API insists.
pub(crate) fn thinking_kept_in_tool_loop(messages: &[Value]) -> Result<(), Invalid> {
    let Some(last) = messages.len().checked_sub(1) else {
        return Ok(());
    };
    let has_results = messages[last]["content"]
        .as_array()
        .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_result"));
    if !has_results || last == 0 {
        return Ok(());
    }
    let first = &messages[last - 1]["content"][0]["type"];
    let first = first.as_str().unwrap_or("text");
    if first == "thinking" || first == "redacted_thinking" {
        return Ok(());
    }
    Err(Invalid::at(
        format!("messages.{}.content.0.type", last - 1),
        format!("messages.{}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{first}`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`.", last - 1),
    ))
}

/// Every `tool_use` of the previous (assistant) turn has a result here, and every result has
/// its `tool_use` there.
fn pair(tool_uses: &[String], results: &[String], i: usize) -> Result<(), Invalid> {
    if let Some(orphan) = results.iter().find(|id| !tool_uses.contains(id)) {
        return Err(Invalid::at(
            format!("messages.{i}.content"),
            format!("messages.{i}.content: unexpected `tool_use_id` found in `tool_result` blocks: {orphan}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."),
        ));
    }
    let missing: Vec<&str> = tool_uses
        .iter()
        .filter(|id| !results.contains(id))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(Invalid::at(
            format!("messages.{}", i - 1),
            format!("messages.{}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i - 1, missing.join(", ")),
        ));
    }
    Ok(())
}

fn tool_result_text(block: &Map<String, Value>) -> String {
    match block.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The message's content as checked blocks (a string is one text block).
fn blocks(
    map: &Map<String, Value>,
    path: &str,
    role: &str,
) -> Result<Vec<Map<String, Value>>, Invalid> {
    let content_path = format!("{path}.content");
    match map.get("content") {
        Some(Value::String(text)) => {
            if text.is_empty() {
                return Err(Invalid::at(
                    &content_path,
                    "messages: text content blocks must be non-empty",
                ));
            }
            let mut block = Map::new();
            block.insert("type".into(), "text".into());
            block.insert("text".into(), text.clone().into());
            Ok(vec![block])
        }
        Some(Value::Array(items)) => {
            if items.is_empty() {
                return Err(Invalid::at(
                    &content_path,
                    format!(
                        "{content_path}: List should have at least 1 item after validation, not 0"
                    ),
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(j, item)| {
                    let block_path = format!("{content_path}.{j}");
                    let block = object(item, &block_path)?;
                    content_block(block, &block_path, role)?;
                    Ok(block.clone())
                })
                .collect()
        }
        Some(_) => Err(Invalid::at(
            &content_path,
            format!("{content_path}: Input should be a valid string or list"),
        )),
        None => Err(Invalid::at(
            &content_path,
            format!("{content_path}: Field required"),
        )),
    }
}

fn content_block(block: &Map<String, Value>, path: &str, role: &str) -> Result<(), Invalid> {
    let kind = block
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (fields, roles): (&[&str], &[&str]) = match kind {
        "text" => (&["type", "text", "cache_control", "citations"], &["user", "assistant"]),
        "image" | "document" => (
            &["type", "source", "cache_control", "title", "context", "citations"],
            &["user"],
        ),
        "tool_use" => (&["type", "id", "name", "input", "cache_control"], &["assistant"]),
        "tool_result" => (
            &["type", "tool_use_id", "content", "is_error", "cache_control"],
            &["user"],
        ),
        "thinking" => (&["type", "thinking", "signature"], &["assistant"]),
        "redacted_thinking" => (&["type", "data"], &["assistant"]),
        other => {
            return Err(Invalid::at(
                format!("{path}.type"),
                format!("{path}: Input tag '{other}' found using 'type' does not match any of the expected tags: 'text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking'"),
            ))
        }
    };
    only_keys(block, path, fields, extra)?;
    if !roles.contains(&role) {
        return Err(Invalid::at(
            path,
            format!("{path}: `{kind}` blocks are not allowed in `{role}` messages"),
        ));
    }
    let has_str = |field: &str| block.get(field).and_then(Value::as_str);
    let required = |field: &str| {
        Invalid::at(
            format!("{path}.{field}"),
            format!("{path}.{field}: Field required"),
        )
    };
    match kind {
        "text" => {
            let text = has_str("text").ok_or_else(|| required("text"))?;
            if text.is_empty() {
                return Err(Invalid::at(
                    path,
                    "messages: text content blocks must be non-empty",
                ));
            }
        }
        "image" => image_source(block.get("source"), &format!("{path}.source"))?,
        "tool_use" => {
            let id = has_str("id").ok_or_else(|| required("id"))?;
            if id.is_empty()
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(Invalid::at(
                    format!("{path}.id"),
                    format!("{path}.id: String should match pattern '^[a-zA-Z0-9_-]+$'"),
                ));
            }
            has_str("name").ok_or_else(|| required("name"))?;
            if !block.get("input").is_some_and(Value::is_object) {
                return Err(Invalid::at(
                    format!("{path}.input"),
                    format!("{path}.input: Input should be a valid dictionary"),
                ));
            }
        }
        "tool_result" => {
            has_str("tool_use_id").ok_or_else(|| required("tool_use_id"))?;
            match block.get("content") {
                None | Some(Value::String(_)) => {}
                Some(Value::Array(parts)) => {
                    for (k, part) in parts.iter().enumerate() {
                        let part_path = format!("{path}.content.{k}");
                        let part = object(part, &part_path)?;
                        match part.get("type").and_then(Value::as_str) {
                            Some("text" | "image" | "document" | "search_result") => {
                                content_block(part, &part_path, "user")?
                            }
                            _ => {
                                return Err(Invalid::at(
                                    part_path.clone(),
                                    format!("{part_path}.type: Input should be 'text', 'image', 'document' or 'search_result'"),
                                ))
                            }
                        }
                    }
                }
                Some(_) => {
                    return Err(Invalid::at(
                        format!("{path}.content"),
                        format!("{path}.content: Input should be a valid string or list"),
                    ))
                }
            }
            if block.get("is_error").is_some_and(|e| !e.is_boolean()) {
                return Err(Invalid::at(
                    format!("{path}.is_error"),
                    format!("{path}.is_error: Input should be a valid boolean"),
                ));
            }
        }
        "thinking" => {
            has_str("thinking").ok_or_else(|| required("thinking"))?;
            has_str("signature").ok_or_else(|| required("signature"))?;
        }
        _ => {}
    }
    Ok(())
}

fn image_source(source: Option<&Value>, path: &str) -> Result<(), Invalid> {
    let source = object(source.unwrap_or(&Value::Null), path)?;
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            only_keys(source, path, &["type", "media_type", "data"], extra)?;
            let media = source.get("media_type").and_then(Value::as_str).unwrap_or_default();
            if !["image/jpeg", "image/png", "image/gif", "image/webp"].contains(&media) {
                return Err(Invalid::at(
                    format!("{path}.media_type"),
                    format!("{path}.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"),
                ));
            }
            let data = source.get("data").and_then(Value::as_str).unwrap_or_default();
            let base64 = !data.is_empty()
                && data.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
            if !base64 {
                return Err(Invalid::at(
                    format!("{path}.data"),
                    format!("{path}.data: Input should be valid base64 (no data: URL prefix)"),
                ));
            }
            Ok(())
        }
        Some("url") => {
            only_keys(source, path, &["type", "url"], extra)?;
            let url = source.get("url").and_then(Value::as_str).unwrap_or_default();
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(Invalid::at(
                    format!("{path}.url"),
                    format!("{path}.url: Input should be an http(s) URL"),
                ));
            }
            Ok(())
        }
        Some("file") => only_keys(source, path, &["type", "file_id"], extra),
        _ => Err(Invalid::at(
            format!("{path}.type"),
            format!("{path}: Input tag found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'"),
        )),
    }
}
