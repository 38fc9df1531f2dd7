//! Trimming MCP listings to what the caller may use: a `tools/list`, `prompts/list` or
//! `resources/list` answer (JSON, or SSE carrying it) loses the items the policies would refuse
//! the caller, so a client never sees a tool it could not call.

use serde_json::Value;

use crate::policy::ItemKind;

/// The listed kind of an MCP listing method, if it is one.
pub fn listed_kind(method: &str) -> Option<ItemKind> {
    match method {
        "tools/list" => Some(ItemKind::Tool),
        "prompts/list" => Some(ItemKind::Prompt),
        "resources/list" => Some(ItemKind::Resource),
        _ => None,
    }
}

/// The array of a listing result and the field naming each item.
fn items_of(kind: ItemKind) -> (&'static str, &'static str) {
    match kind {
        ItemKind::Tool => ("tools", "name"),
        ItemKind::Prompt => ("prompts", "name"),
        ItemKind::Resource => ("resources", "uri"),
    }
}

/// Drops from the listing in `message` the items `keep` refuses; true when it changed.
fn trim(message: &mut Value, kind: ItemKind, keep: &dyn Fn(&[&str]) -> Vec<bool>) -> bool {
    let (array, field) = items_of(kind);
    let Some(items) = message
        .pointer_mut(&format!("/result/{array}"))
        .and_then(Value::as_array_mut)
    else {
        return false;
    };
    let names: Vec<&str> = items
        .iter()
        .map(|item| item.get(field).and_then(Value::as_str).unwrap_or_default())
        .collect();
    let verdicts = keep(&names);
    let before = items.len();
    let mut verdicts = verdicts.into_iter();
    items.retain(|_| verdicts.next().unwrap_or(false));
    items.len() != before
}

/// The body of a listing answer with the refused items dropped: a JSON answer, or an SSE answer
/// whose events are rewritten one by one. `None` when nothing changed (or it is neither).
pub fn trim_listing(
    body: &[u8],
    kind: ItemKind,
    keep: &dyn Fn(&[&str]) -> Vec<bool>,
) -> Option<Vec<u8>> {
    if let Ok(mut message) = serde_json::from_slice::<Value>(body) {
        return trim(&mut message, kind, keep).then(|| message.to_string().into_bytes());
    }
    let mut parser = ai_gateway_core::sse::SseParser::new(body.len().max(1));
    let mut out = Vec::with_capacity(body.len());
    let mut changed = false;
    for event in parser.feed(body) {
        let Ok(mut event) = event else {
            return None;
        };
        if let Ok(mut message) = serde_json::from_str::<Value>(&event.data) {
            if trim(&mut message, kind, keep) {
                event.data = message.to_string();
                changed = true;
            }
        }
        event.write_to(&mut out);
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_secrets(names: &[&str]) -> Vec<bool> {
        names.iter().map(|n| !n.contains("secret")).collect()
    }

    #[test]
    fn json_listings_lose_the_refused_items() {
        let body = json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": [
            {"name": "a_echo", "inputSchema": {}}, {"name": "a_secret", "inputSchema": {}}],
            "nextCursor": "c"}});
        let out = trim_listing(body.to_string().as_bytes(), ItemKind::Tool, &no_secrets).unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            out["result"]["tools"],
            json!([{"name": "a_echo", "inputSchema": {}}])
        );
        assert_eq!(out["result"]["nextCursor"], "c");
    }

    #[test]
    fn sse_listings_are_trimmed_event_by_event() {
        let listing = json!({"jsonrpc": "2.0", "id": 1, "result": {"resources": [
            {"uri": "notes://secret"}, {"uri": "notes://open"}]}});
        let body = format!("event: message\ndata: {listing}\n\n");
        let out = trim_listing(body.as_bytes(), ItemKind::Resource, &no_secrets).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("notes://open") && !text.contains("notes://secret"),
            "{text}"
        );
    }

    #[test]
    fn nothing_to_drop_or_no_listing_leaves_the_body() {
        let open = json!({"jsonrpc": "2.0", "id": 1, "result": {"prompts": [{"name": "hi"}]}});
        assert_eq!(
            trim_listing(open.to_string().as_bytes(), ItemKind::Prompt, &no_secrets),
            None
        );
        let error = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "x"}});
        assert_eq!(
            trim_listing(error.to_string().as_bytes(), ItemKind::Tool, &no_secrets),
            None
        );
        assert_eq!(trim_listing(b"not json", ItemKind::Tool, &no_secrets), None);
        assert_eq!(listed_kind("tools/call"), None);
        assert_eq!(listed_kind("prompts/list"), Some(ItemKind::Prompt));
    }
}
