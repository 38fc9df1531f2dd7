//! What a policy sees: the verified claims and the request, and what the protocol filters know
//! about the call (MCP method and target, A2A method, LLM model), as CEL values.

use std::collections::HashMap;
use std::sync::Arc;

use cel::common::types::{CelMap, CelMapKey, CelNull, CelString};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
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

/// Verified claims converted to CEL once (the token cache keeps them), so a request binds
/// them by reference instead of copying the map.
#[derive(Debug)]
pub struct Claims(Option<Box<dyn Val>>);

impl Claims {
    /// The claims object of a verified token.
    pub fn from_json(claims: &serde_json::Value) -> Claims {
        Claims(Box::<dyn Val>::try_from(json_value(claims)).ok())
    }
}

/// Everything a policy may reference. Unknown parts stay empty strings / empty maps, so a rule
/// over `mcp.tool` on a non-MCP route sees `""` rather than failing.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The token's claims ([`Claims::from_json`]); `{}` to policies without a token.
    pub jwt: Option<Arc<Claims>>,
    /// The HTTP request.
    pub request: RequestInfo,
    /// The MCP call, if any.
    pub mcp: McpInfo,
    /// The A2A call, if any.
    pub a2a: A2aInfo,
    /// The LLM call, if any.
    pub llm: LlmInfo,
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

/// A CEL string borrowing `text`.
fn string(text: &str) -> Box<dyn Val + '_> {
    Box::new(CelString::from(text))
}

/// A CEL map of borrowed keys and values.
fn map<'a>(entries: impl IntoIterator<Item = (&'a str, Box<dyn Val + 'a>)>) -> Box<dyn Val + 'a> {
    let entries: HashMap<CelMapKey<'a>, Box<dyn Val + 'a>> = entries
        .into_iter()
        .map(|(key, value)| (CelMapKey::from(key), value))
        .collect();
    Box::new(CelMap::from(entries))
}

impl RequestInfo {
    pub(crate) fn val(&self, with_headers: bool) -> Box<dyn Val + '_> {
        let headers = if with_headers {
            map(self.headers.iter().map(|(k, v)| (k.as_str(), string(v))))
        } else {
            map([])
        };
        map([
            ("method", string(&self.method)),
            ("path", string(&self.path)),
            ("headers", headers),
        ])
    }
}

impl McpInfo {
    pub(crate) fn val(&self) -> Box<dyn Val + '_> {
        let arguments = val(json_value(&self.arguments)).unwrap_or_else(|| Box::new(CelNull));
        map([
            ("method", string(&self.method)),
            ("backend", string(&self.backend)),
            ("tool", string(&self.tool)),
            ("prompt", string(&self.prompt)),
            ("resource", string(&self.resource)),
            ("arguments", arguments),
        ])
    }
}

impl A2aInfo {
    pub(crate) fn val(&self) -> Box<dyn Val + '_> {
        map([("method", string(&self.method))])
    }
}

impl LlmInfo {
    pub(crate) fn val(&self) -> Box<dyn Val + '_> {
        map([
            ("model", string(&self.model)),
            ("provider", string(&self.provider)),
        ])
    }
}

/// The variables of one evaluation, built once and lent to every reference (a resolver is
/// consulted on each use of a variable, so nothing is converted per lookup).
pub(crate) struct Bindings<'a> {
    pub jwt: Option<&'a dyn Val>,
    pub request: Option<Box<dyn Val + 'a>>,
    pub mcp: Option<Box<dyn Val + 'a>>,
    pub a2a: Option<Box<dyn Val + 'a>>,
    pub llm: Option<Box<dyn Val + 'a>>,
}

/// A CEL value as the interpreter's own representation.
pub(crate) fn val(value: Value) -> Option<Box<dyn Val>> {
    Box::<dyn Val>::try_from(value).ok()
}

/// An empty CEL map (the `jwt` of an anonymous request).
pub(crate) fn empty_map() -> Option<Box<dyn Val>> {
    Some(map([]))
}

impl<'a> Bindings<'a> {
    /// Claims of `context`, or `empty` for an anonymous request.
    pub(crate) fn jwt_of(
        context: &'a Context,
        empty: &'a Option<Box<dyn Val>>,
    ) -> Option<&'a dyn Val> {
        match &context.jwt {
            Some(claims) => claims.0.as_deref(),
            None => empty.as_deref(),
        }
    }
}

impl VariableResolver for Bindings<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        let value: &'b dyn Val = match variable {
            "jwt" => self.jwt?,
            "request" => self.request.as_deref()?,
            "mcp" => self.mcp.as_deref()?,
            "a2a" => self.a2a.as_deref()?,
            "llm" => self.llm.as_deref()?,
            _ => return None,
        };
        Some(CowVal::Borrowed(value))
    }
}
