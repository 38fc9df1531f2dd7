//! What a request body tells the policies, for routes whose protocol the config names
//! (`inspectBody`): the MCP call (method, tool / prompt / resource, arguments), the A2A
//! JSON-RPC method, the LLM model. A body that is not JSON leaves the fields empty.

use serde::Deserialize;
use serde_json::Value;

use crate::policy::Context;

/// The protocol of the route's bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyProtocol {
    /// MCP JSON-RPC requests: `mcp.method`, `mcp.tool`/`prompt`/`resource`, `mcp.arguments`.
    Mcp,
    /// A2A JSON-RPC requests: `a2a.method`.
    A2a,
    /// OpenAI / Anthropic requests: `llm.model`.
    Llm,
}

impl BodyProtocol {
    /// The policy variable this protocol fills.
    pub fn variable(self) -> &'static str {
        match self {
            BodyProtocol::Mcp => "mcp",
            BodyProtocol::A2a => "a2a",
            BodyProtocol::Llm => "llm",
        }
    }
}

/// A body the policies cannot judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// A JSON-RPC batch: one decision cannot cover several calls (MCP removed batches in
    /// 2025-06-18), so it is refused rather than judged by its first call.
    #[error("JSON-RPC batches are not accepted on this route")]
    Batch,
}

/// Fills `context` from `body`; returns the id of an MCP JSON-RPC request (a denied request
/// with an id is answered with a JSON-RPC error), `None` for notifications and other protocols.
pub fn fill(
    protocol: BodyProtocol,
    body: &[u8],
    context: &mut Context,
) -> Result<Option<Value>, BodyError> {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return Ok(None);
    };
    if json.is_array() && protocol != BodyProtocol::Llm {
        return Err(BodyError::Batch);
    }
    let text = |value: &Value, key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match protocol {
        BodyProtocol::Mcp => {
            let mcp = &mut context.mcp;
            mcp.method = text(&json, "method");
            let params = json.get("params").unwrap_or(&Value::Null);
            match mcp.method.as_str() {
                "tools/call" => mcp.tool = text(params, "name"),
                "prompts/get" => mcp.prompt = text(params, "name"),
                "resources/read" | "resources/subscribe" | "resources/unsubscribe" => {
                    mcp.resource = text(params, "uri")
                }
                _ => {}
            }
            mcp.arguments = params.get("arguments").cloned().unwrap_or(Value::Null);
            return Ok(json.get("id").filter(|id| !id.is_null()).cloned());
        }
        BodyProtocol::A2a => context.a2a.method = text(&json, "method"),
        BodyProtocol::Llm => context.llm.model = text(&json, "model"),
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filled(protocol: BodyProtocol, body: Value) -> Result<Context, BodyError> {
        let mut context = Context::default();
        let id = fill(protocol, body.to_string().as_bytes(), &mut context)?;
        let expected = body.get("id").filter(|_| protocol == BodyProtocol::Mcp);
        assert_eq!(id.as_ref(), expected, "the MCP request id, only for MCP");
        Ok(context)
    }

    #[test]
    fn mcp_calls_name_their_target() {
        let call = filled(
            BodyProtocol::Mcp,
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "github_search", "arguments": {"q": "rust"}}}),
        )
        .unwrap();
        assert_eq!(call.mcp.method, "tools/call");
        assert_eq!(call.mcp.tool, "github_search");
        assert_eq!(call.mcp.arguments, json!({"q": "rust"}));
        let prompt = filled(
            BodyProtocol::Mcp,
            json!({"jsonrpc": "2.0", "id": 2, "method": "prompts/get", "params": {"name": "review"}}),
        )
        .unwrap();
        assert_eq!(
            (prompt.mcp.prompt.as_str(), prompt.mcp.tool.as_str()),
            ("review", "")
        );
        let read = filled(
            BodyProtocol::Mcp,
            json!({"jsonrpc": "2.0", "id": 3, "method": "resources/read", "params": {"uri": "file:///a"}}),
        )
        .unwrap();
        assert_eq!(read.mcp.resource, "file:///a");
    }

    #[test]
    fn a2a_method_and_llm_model() {
        let a2a = filled(
            BodyProtocol::A2a,
            json!({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {}}),
        )
        .unwrap();
        assert_eq!(a2a.a2a.method, "SendMessage");
        let llm = filled(
            BodyProtocol::Llm,
            json!({"model": "gpt-4o", "messages": []}),
        )
        .unwrap();
        assert_eq!(llm.llm.model, "gpt-4o");
    }

    #[test]
    fn batches_are_refused_and_non_json_leaves_fields_empty() {
        let batch = json!([{"jsonrpc": "2.0", "id": 1, "method": "tools/call"}]);
        assert_eq!(
            filled(BodyProtocol::Mcp, batch).err(),
            Some(BodyError::Batch)
        );
        let mut context = Context::default();
        fill(BodyProtocol::Mcp, b"not json", &mut context).unwrap();
        assert_eq!(context.mcp.method, "");
    }
}
