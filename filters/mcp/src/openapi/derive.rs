//! Operations → MCP tools.
//!
//! - Name: the `operationId` with every character outside MCP's tool-name set
//!   (`A-Z a-z 0-9 _ - .`) replaced by `_`, at most [`MAX_NAME_LEN`] characters; without an
//!   operationId, `<method>_<path>` the same way (`GET /pets/{id}` → `get_pets_id`). Two
//!   operations with one name are a config error naming both.
//! - `inputSchema`: an object with one property per path, query, header and cookie parameter
//!   (path parameters always required) and `body` for the request body, so names never
//!   collide with body fields; two parameters of one name in different places are an error.
//! - `outputSchema`: the JSON schema of the first 2xx response (`200`…`299`, then `2XX`). MCP
//!   wants an object there, so any other schema is wrapped as `{"result": …}`, and the
//!   structured result is wrapped the same way ([`Operation::wraps_output`]).
//! - `annotations.readOnlyHint`: true for GET and HEAD.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::schema::Resolver;
use super::{Selection, SpecError};

/// Longest tool name produced (MCP allows 128; the backend prefix needs room too).
pub const MAX_NAME_LEN: usize = 64;
/// The `inputSchema` property holding the request body.
pub const BODY_ARGUMENT: &str = "body";

/// HTTP methods an OpenAPI path item may hold, in the order tools are listed.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Path,
    Query,
    Header,
    Cookie,
}

/// A parameter's serialization style (OpenAPI "Style Values").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Simple,
    Label,
    Matrix,
    Form,
    SpaceDelimited,
    PipeDelimited,
    DeepObject,
    /// `content` instead of `schema`: the value is sent as JSON text.
    Json,
}

/// One parameter of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub location: Location,
    pub style: Style,
    pub explode: bool,
    pub required: bool,
    /// `allowReserved` (query only): RFC 3986 reserved characters are sent unencoded.
    pub allow_reserved: bool,
}

/// How the request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Form,
    Multipart,
    Text,
}

/// The operation's request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub kind: BodyKind,
    /// The media type as the document names it (sent as `content-type`).
    pub content_type: String,
    pub required: bool,
}

/// One operation, ready to be called as a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The tool name.
    pub name: String,
    pub operation_id: Option<String>,
    /// Upper-case HTTP method.
    pub method: String,
    /// The path template, e.g. `/pets/{petId}`.
    pub path: String,
    pub params: Vec<Param>,
    pub body: Option<Body>,
    /// The structured result is `{"result": <response>}` (the response schema is not an
    /// object schema).
    pub wraps_output: bool,
    /// The MCP `Tool` object.
    pub tool: Value,
}

impl Operation {
    /// `GET /pets/{petId}`, for messages.
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// An operation as derived, with what makes it unservable (an error only if it is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    pub op: Operation,
    pub problem: Option<SpecError>,
}

/// Every operation of the document, in document order.
pub fn operations(document: &Value) -> Result<Vec<Derived>, SpecError> {
    let mut resolver = Resolver::new(document);
    let mut out = Vec::new();
    let Some(paths) = document.get("paths").and_then(Value::as_object) else {
        return Ok(out);
    };
    for (path, item) in paths {
        let item = resolver.object(item, &format!("paths.{path}"))?;
        let shared = item.get("parameters");
        for method in METHODS {
            let Some(spec) = item.get(method) else {
                continue;
            };
            let operation_id = spec
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_string);
            let mut op = Operation {
                name: tool_name(operation_id.as_deref(), method, path),
                operation_id,
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                params: Vec::new(),
                body: None,
                wraps_output: false,
                tool: Value::Null,
            };
            let problem = complete(&mut resolver, &mut op, spec, shared).err();
            out.push(Derived { op, problem });
        }
    }
    Ok(out)
}

/// Applies `include`/`exclude` (checking every entry names an operation), then checks that
/// no two kept operations share a tool name.
pub fn select(all: Vec<Derived>, selection: &Selection) -> Result<Vec<Operation>, SpecError> {
    let names =
        |op: &Operation, entry: &str| op.name == entry || op.operation_id.as_deref() == Some(entry);
    let lists = [
        ("include", selection.include.as_deref().unwrap_or_default()),
        ("exclude", selection.exclude.as_slice()),
    ];
    for (list, entries) in lists {
        for (index, entry) in entries.iter().enumerate() {
            if !all.iter().any(|d| names(&d.op, entry)) {
                return Err(SpecError::UnknownSelection {
                    list,
                    index,
                    entry: entry.clone(),
                });
            }
        }
    }
    let mut kept = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for Derived { op, problem } in all {
        let included = selection
            .include
            .as_ref()
            .is_none_or(|list| list.iter().any(|e| names(&op, e)));
        if !included || selection.exclude.iter().any(|e| names(&op, e)) {
            continue;
        }
        if let Some(err) = problem {
            return Err(err);
        }
        if let Some(first) = seen.insert(op.name.clone(), op.label()) {
            return Err(SpecError::DuplicateName {
                name: op.name.clone(),
                first,
                second: op.label(),
            });
        }
        kept.push(op);
    }
    if kept.is_empty() {
        return Err(SpecError::NoOperations);
    }
    Ok(kept)
}

/// The tool name of an operation (see the module docs).
pub fn tool_name(operation_id: Option<&str>, method: &str, path: &str) -> String {
    let raw = match operation_id {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => format!("{method}_{}", path.replace(['{', '}'], "")),
    };
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if operation_id.is_none_or(str::is_empty) {
        // `get_/pets/` → `get_pets`: no doubled or trailing separators from the path.
        while name.contains("__") {
            name = name.replace("__", "_");
        }
        name = name.trim_end_matches('_').to_string();
    }
    name.truncate(MAX_NAME_LEN);
    name
}

/// Fills in parameters, body, schemas and the tool object of `op`.
fn complete(
    resolver: &mut Resolver<'_>,
    op: &mut Operation,
    spec: &Value,
    shared: Option<&Value>,
) -> Result<(), SpecError> {
    let at = op.label();
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (param, schema) in parameters(resolver, spec, shared, &at)? {
        if let Some(other) = op.params.iter().find(|p| p.name == param.name) {
            return Err(SpecError::InputClash {
                operation: at,
                name: param.name.clone(),
                why: format!("{:?} and {:?} parameters", other.location, param.location),
            });
        }
        if param.required {
            required.push(json!(param.name));
        }
        properties.insert(param.name.clone(), schema);
        op.params.push(param);
    }
    if let Some(raw) = spec.get("requestBody") {
        let raw = resolver.object(raw, &at)?;
        let (body, schema) = request_body(resolver, raw, &at)?;
        if op.params.iter().any(|p| p.name == BODY_ARGUMENT) {
            return Err(SpecError::InputClash {
                operation: at,
                name: BODY_ARGUMENT.into(),
                why: "a parameter and the request body".into(),
            });
        }
        if body.required {
            required.push(json!(BODY_ARGUMENT));
        }
        properties.insert(BODY_ARGUMENT.into(), schema);
        op.body = Some(body);
    }
    let mut input = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        input["required"] = Value::Array(required);
    }
    let mut tool = Map::new();
    tool.insert("name".into(), json!(op.name));
    let text = |key: &str| {
        spec.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    if let Some(summary) = text("summary") {
        tool.insert("title".into(), json!(summary));
    }
    let description = match (text("summary"), text("description")) {
        (Some(s), Some(d)) => format!("{s}\n\n{d}"),
        (Some(s), None) => s.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => op.label(),
    };
    tool.insert("description".into(), json!(description));
    tool.insert("inputSchema".into(), input);
    if let Some(output) = output_schema(resolver, spec, &at)? {
        let is_object = output.get("type") == Some(&json!("object"))
            || (output.get("type").is_none() && output.get("properties").is_some());
        let output = if is_object {
            let mut output = output;
            output["type"] = json!("object");
            output
        } else {
            op.wraps_output = true;
            json!({"type": "object", "properties": {"result": output}, "required": ["result"]})
        };
        tool.insert("outputSchema".into(), output);
    }
    let read_only = matches!(op.method.as_str(), "GET" | "HEAD");
    tool.insert("annotations".into(), json!({"readOnlyHint": read_only}));
    op.tool = Value::Object(tool);
    Ok(())
}

/// The operation's parameters (path-item ones overridden by the operation's of the same name
/// and place) with their input schemas.
fn parameters(
    resolver: &mut Resolver<'_>,
    spec: &Value,
    shared: Option<&Value>,
    at: &str,
) -> Result<Vec<(Param, Value)>, SpecError> {
    let mut out: Vec<(Param, Value)> = Vec::new();
    let lists = [shared, spec.get("parameters")];
    for raw in lists
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
    {
        let raw = resolver.object(raw, at)?;
        let (param, schema) = parameter(resolver, raw, at)?;
        if param.location == Location::Header && !header_allowed(&param.name, at)? {
            continue;
        }
        out.retain(|(p, _)| !(p.name == param.name && p.location == param.location));
        out.push((param, schema));
    }
    Ok(out)
}

/// Header parameters the OpenAPI specification says to ignore.
const IGNORED_HEADERS: [&str; 3] = ["accept", "content-type", "authorization"];
/// Headers a parameter may not set: the gateway's or the connection's.
const FORBIDDEN_HEADERS: [&str; 10] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "upgrade",
    "cookie",
    "x-ai-gateway-mcp-backend",
];

/// Whether a header parameter is kept: `false` for the ones the spec ignores, an error for
/// names that are not header names or that would set what the gateway owns.
fn header_allowed(name: &str, at: &str) -> Result<bool, SpecError> {
    let lower = name.to_ascii_lowercase();
    if IGNORED_HEADERS.contains(&lower.as_str()) {
        return Ok(false);
    }
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) || FORBIDDEN_HEADERS.contains(&lower.as_str()) {
        return Err(SpecError::Invalid {
            at: at.to_string(),
            why: format!("header parameter `{name}` cannot be sent by the gateway"),
        });
    }
    Ok(true)
}

fn parameter(
    resolver: &mut Resolver<'_>,
    raw: &Value,
    at: &str,
) -> Result<(Param, Value), SpecError> {
    let invalid = |why: String| SpecError::Invalid {
        at: at.to_string(),
        why,
    };
    let name = raw
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("a parameter without a name".into()))?;
    let location = match raw.get("in").and_then(Value::as_str) {
        Some("path") => Location::Path,
        Some("query") => Location::Query,
        Some("header") => Location::Header,
        Some("cookie") => Location::Cookie,
        other => return Err(invalid(format!("parameter `{name}` has `in` {other:?}"))),
    };
    let (style, mut schema) = match (raw.get("schema"), raw.get("content")) {
        (Some(schema), _) => {
            let style = match raw.get("style").and_then(Value::as_str) {
                None => default_style(location),
                Some(text) => parse_style(text)
                    .ok_or_else(|| invalid(format!("parameter `{name}` has style {text:?}")))?,
            };
            (style, resolver.schema(schema, at)?)
        }
        (None, Some(content)) => {
            let schema = content
                .as_object()
                .and_then(|c| c.values().next())
                .and_then(|m| m.get("schema"))
                .map_or(Ok(json!({})), |s| resolver.schema(s, at))?;
            (Style::Json, schema)
        }
        (None, None) => (default_style(location), json!({})),
    };
    if let (Some(description), Value::Object(schema)) = (raw.get("description"), &mut schema) {
        schema
            .entry("description")
            .or_insert_with(|| description.clone());
    }
    let explode = raw
        .get("explode")
        .and_then(Value::as_bool)
        .unwrap_or(style == Style::Form);
    let param = Param {
        name: name.to_string(),
        location,
        style,
        explode,
        required: location == Location::Path
            || raw.get("required").and_then(Value::as_bool) == Some(true),
        allow_reserved: raw.get("allowReserved").and_then(Value::as_bool) == Some(true),
    };
    Ok((param, schema))
}

fn default_style(location: Location) -> Style {
    match location {
        Location::Path | Location::Header => Style::Simple,
        Location::Query | Location::Cookie => Style::Form,
    }
}

fn parse_style(text: &str) -> Option<Style> {
    Some(match text {
        "simple" => Style::Simple,
        "label" => Style::Label,
        "matrix" => Style::Matrix,
        "form" => Style::Form,
        "spaceDelimited" => Style::SpaceDelimited,
        "pipeDelimited" => Style::PipeDelimited,
        "deepObject" => Style::DeepObject,
        _ => return None,
    })
}

/// Media types in the order a body is preferred in; `+json` types count as JSON.
fn body_kind(media: &str) -> Option<BodyKind> {
    let essence = media.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        Some(BodyKind::Json)
    } else if essence == "application/x-www-form-urlencoded" {
        Some(BodyKind::Form)
    } else if essence == "multipart/form-data" {
        Some(BodyKind::Multipart)
    } else if essence == "text/plain" {
        Some(BodyKind::Text)
    } else {
        None
    }
}

fn request_body(
    resolver: &mut Resolver<'_>,
    raw: &Value,
    at: &str,
) -> Result<(Body, Value), SpecError> {
    let content = raw.get("content").and_then(Value::as_object);
    let found: Vec<String> = content
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default();
    let best = content
        .into_iter()
        .flatten()
        .filter_map(|(media, spec)| Some((body_kind(media)?, media, spec)))
        .min_by_key(|(kind, _, _)| *kind as u8);
    let Some((kind, media, spec)) = best else {
        return Err(SpecError::UnsupportedBody {
            operation: at.to_string(),
            found,
        });
    };
    let mut schema = match spec.get("schema") {
        Some(schema) => resolver.schema(schema, at)?,
        None if kind == BodyKind::Text => json!({"type": "string"}),
        None => json!({}),
    };
    if let (Some(description), Value::Object(schema)) = (raw.get("description"), &mut schema) {
        schema
            .entry("description")
            .or_insert_with(|| description.clone());
    }
    let body = Body {
        kind,
        content_type: media.clone(),
        required: raw.get("required").and_then(Value::as_bool) == Some(true),
    };
    Ok((body, schema))
}

/// The JSON schema of the first 2xx response that has one.
fn output_schema(
    resolver: &mut Resolver<'_>,
    spec: &Value,
    at: &str,
) -> Result<Option<Value>, SpecError> {
    let Some(responses) = spec.get("responses").and_then(Value::as_object) else {
        return Ok(None);
    };
    let mut codes: Vec<&String> = responses
        .keys()
        .filter(|code| code.starts_with('2'))
        .collect();
    // `200`…`299` before the `2XX` range.
    codes.sort_by_key(|code| (code.eq_ignore_ascii_case("2XX"), code.to_string()));
    for code in codes {
        let response = resolver.object(&responses[code.as_str()], at)?;
        let json = response
            .get("content")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .find(|(media, _)| body_kind(media) == Some(BodyKind::Json));
        if let Some(schema) = json.and_then(|(_, media)| media.get("schema")) {
            return resolver.schema(schema, at).map(Some);
        }
    }
    Ok(None)
}
