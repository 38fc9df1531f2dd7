//! What a policy sees: the verified claims and the request, and what the protocol filters know
//! about the call (MCP method and target, A2A method, LLM model), as CEL values.

use std::collections::HashMap;
use std::sync::Arc;

use cel::Value;

/// The HTTP request.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// `:method`.
    pub method: String,
    /// `:path` without the query.
    pub path: String,
    /// Headers (lower-case names; the first value of each).
    pub headers: Vec<(String, String)>,
}

/// An MCP call, as the mcp filter resolved it.
#[derive(Debug, Clone, Default)]
pub struct McpInfo {
    /// JSON-RPC method, e.g. `tools/call`.
    pub method: String,
    /// The backend the call goes to.
    pub backend: String,
    /// Tool name (as the client sees it) for `tools/call` and tool filtering.
    pub tool: String,
    /// Prompt name for `prompts/get` and prompt filtering.
    pub prompt: String,
    /// Resource URI for `resources/read` and resource filtering.
    pub resource: String,
    /// The call's `arguments` object (`null` when none).
    pub arguments: serde_json::Value,
}

/// An A2A call.
#[derive(Debug, Clone, Default)]
pub struct A2aInfo {
    /// A2A method, e.g. `SendMessage`.
    pub method: String,
}

/// An LLM call.
#[derive(Debug, Clone, Default)]
pub struct LlmInfo {
    /// Requested model.
    pub model: String,
    /// Provider the call is routed to.
    pub provider: String,
}

/// Everything a policy may reference. Unknown parts stay empty strings / empty maps, so a rule
/// over `mcp.tool` on a non-MCP route sees `""` rather than failing.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The token's claims as a CEL map (see [`claims_value`]); empty without a token.
    pub jwt: Option<Value>,
    /// The HTTP request.
    pub request: RequestInfo,
    /// The MCP call, if any.
    pub mcp: McpInfo,
    /// The A2A call, if any.
    pub a2a: A2aInfo,
    /// The LLM call, if any.
    pub llm: LlmInfo,
}

/// Converts verified claims to a CEL value once (the token cache keeps the result).
pub fn claims_value(claims: &serde_json::Value) -> Value {
    json_value(claims)
}

/// JSON → CEL: integers that fit become `int`, other numbers `double`.
pub fn json_value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::String(Arc::new(s.clone())),
        serde_json::Value::Array(items) => {
            Value::List(Arc::new(items.iter().map(json_value).collect()))
        }
        serde_json::Value::Object(map) => map_value(
            map.iter()
                .map(|(k, v)| (k.clone(), json_value(v)))
                .collect(),
        ),
    }
}

fn map_value(entries: HashMap<String, Value>) -> Value {
    Value::from(entries)
}

fn text(s: &str) -> Value {
    Value::String(Arc::new(s.to_string()))
}

impl RequestInfo {
    pub(crate) fn value(&self, with_headers: bool) -> Value {
        let mut map = HashMap::with_capacity(3);
        map.insert("method".to_string(), text(&self.method));
        map.insert("path".to_string(), text(&self.path));
        let headers: HashMap<String, Value> = if with_headers {
            self.headers
                .iter()
                .map(|(k, v)| (k.clone(), text(v)))
                .collect()
        } else {
            HashMap::new()
        };
        map.insert("headers".to_string(), map_value(headers));
        map_value(map)
    }
}

impl McpInfo {
    pub(crate) fn value(&self) -> Value {
        let entries = [
            ("method", text(&self.method)),
            ("backend", text(&self.backend)),
            ("tool", text(&self.tool)),
            ("prompt", text(&self.prompt)),
            ("resource", text(&self.resource)),
            ("arguments", json_value(&self.arguments)),
        ];
        map_value(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }
}

impl A2aInfo {
    pub(crate) fn value(&self) -> Value {
        map_value(HashMap::from([("method".to_string(), text(&self.method))]))
    }
}

impl LlmInfo {
    pub(crate) fn value(&self) -> Value {
        map_value(HashMap::from([
            ("model".to_string(), text(&self.model)),
            ("provider".to_string(), text(&self.provider)),
        ]))
    }
}

/// An empty CEL map (the `jwt` of an anonymous request).
pub(crate) fn empty_map() -> Value {
    map_value(HashMap::new())
}
