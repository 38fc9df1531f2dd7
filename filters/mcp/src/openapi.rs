//! OpenAPI → MCP (issue 7): a REST API described by an OpenAPI 3.0 or 3.1 document becomes a
//! backend whose operations are tools. Pure: the filter hands over the spec once at config
//! load ([`OpenApi::from_spec`]), the arguments of a `tools/call` ([`request::build`]) and the
//! API's whole answer ([`response::tool_result`]).
//!
//! The document is walked as JSON (YAML is read into the same model): both versions share the
//! structure this needs (paths, operations, parameters, request bodies, responses), and only
//! their schemas differ, which [`schema`] turns into JSON Schema 2020-12 (what MCP's
//! `inputSchema`/`outputSchema` are) with every local `$ref` resolved, `allOf` merged and
//! recursion cut off.

pub mod derive;
pub mod encode;
pub mod request;
pub mod response;
pub mod schema;

use serde_json::Value;

pub use derive::{BodyKind, Location, Operation, Param, Style};

/// Largest document accepted (its JSON model stays in memory for the config's life).
pub const MAX_SPEC_BYTES: usize = 4 << 20;

/// Which operations become tools: `include` (when given) keeps only those, `exclude` drops
/// some. Entries are operationIds or tool names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub include: Option<Vec<String>>,
    pub exclude: Vec<String>,
}

/// Why an OpenAPI document cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("not a readable YAML or JSON document: {0}")]
    Unreadable(String),
    #[error("the document is larger than {MAX_SPEC_BYTES} bytes")]
    TooLarge,
    #[error("`openapi` must be a 3.0.x or 3.1.x version string, found {0}")]
    Version(String),
    #[error("`$ref` {reference:?} at {at} does not resolve in this document")]
    UnresolvedRef { reference: String, at: String },
    #[error(
        "`$ref` {reference:?} at {at}: only references inside the document (`#/…`) are supported"
    )]
    ExternalRef { reference: String, at: String },
    #[error("the schemas at {at} expand to more than {limit} nodes")]
    SchemaTooLarge { at: String, limit: usize },
    #[error("{at}: {why}")]
    Invalid { at: String, why: String },
    #[error("operations {first} and {second} both become the tool name `{name}`; give one an operationId or exclude it")]
    DuplicateName {
        name: String,
        first: String,
        second: String,
    },
    #[error("{operation}: `{name}` is used by two inputs ({why}); exclude the operation")]
    InputClash {
        operation: String,
        name: String,
        why: String,
    },
    #[error("{operation}: no supported request body type among {found:?} (supported: application/json, application/x-www-form-urlencoded, multipart/form-data, text/plain); exclude the operation")]
    UnsupportedBody {
        operation: String,
        found: Vec<String>,
    },
    /// An `include`/`exclude` entry (its list and index) names no operation.
    #[error("{list}[{index}]: `{entry}` is neither an operationId nor a tool name of this API")]
    UnknownSelection {
        list: &'static str,
        index: usize,
        entry: String,
    },
    #[error("no operation is left to serve as a tool")]
    NoOperations,
}

impl SpecError {
    /// The config field (relative to the backend) the error is about.
    pub fn field(&self) -> String {
        match self {
            SpecError::UnknownSelection { list, index, .. } => format!("{list}[{index}]"),
            _ => "spec".to_string(),
        }
    }
}

/// One OpenAPI backend made ready: its operations and the tools they list as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenApi {
    /// Operations in document order, one per tool.
    pub operations: Vec<Operation>,
    /// The MCP `Tool` objects, in the same order.
    pub tools: Vec<Value>,
    /// Prepended to every operation path (no trailing `/`; empty for none).
    pub base_path: String,
    /// `info.title`, for the backend's initialize answer.
    pub title: String,
    /// `info.description`, the backend's instructions.
    pub description: Option<String>,
}

impl OpenApi {
    /// Reads the document (a JSON object, or YAML/JSON text), derives the tools, keeps the
    /// selected ones. `base_path` overrides the path of the document's first server URL.
    pub fn from_spec(
        spec: &Value,
        base_path: Option<&str>,
        selection: &Selection,
    ) -> Result<OpenApi, SpecError> {
        let owned;
        let document = match spec {
            Value::String(text) => {
                owned = parse_text(text)?;
                &owned
            }
            other => other,
        };
        check_version(document)?;
        let all = derive::operations(document)?;
        let operations = derive::select(all, selection)?;
        let tools = operations.iter().map(|op| op.tool.clone()).collect();
        let info = document.get("info");
        let text = |key: &str| {
            info.and_then(|i| i.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Ok(OpenApi {
            operations,
            tools,
            base_path: base_path
                .map(str::to_string)
                .unwrap_or_else(|| server_path(document))
                .trim_end_matches('/')
                .to_string(),
            title: text("title").unwrap_or_else(|| "openapi".to_string()),
            description: text("description"),
        })
    }

    /// The operation behind a tool name.
    pub fn operation(&self, tool: &str) -> Option<&Operation> {
        self.operations.iter().find(|op| op.name == tool)
    }
}

/// YAML (a superset of JSON) text to the JSON model.
fn parse_text(text: &str) -> Result<Value, SpecError> {
    if text.len() > MAX_SPEC_BYTES {
        return Err(SpecError::TooLarge);
    }
    serde_yaml_ng::from_str::<Value>(text).map_err(|e| SpecError::Unreadable(e.to_string()))
}

fn check_version(document: &Value) -> Result<(), SpecError> {
    if !document.is_object() {
        return Err(SpecError::Unreadable(
            "the document is not an object".into(),
        ));
    }
    match document.get("openapi") {
        Some(Value::String(v)) if v.starts_with("3.0.") || v.starts_with("3.1.") => Ok(()),
        Some(other) => Err(SpecError::Version(other.to_string())),
        None => Err(SpecError::Version(
            "nothing (Swagger 2.0 documents are not supported)".into(),
        )),
    }
}

/// The path of `servers[0].url` (`https://api.example.com/v3` → `/v3`, `/api` → `/api`);
/// empty when there is none or it has template variables.
fn server_path(document: &Value) -> String {
    let Some(url) = document.pointer("/servers/0/url").and_then(Value::as_str) else {
        return String::new();
    };
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => url,
    };
    if path.contains('{') || !path.starts_with('/') {
        return String::new();
    }
    path.to_string()
}

#[cfg(test)]
mod tests;
