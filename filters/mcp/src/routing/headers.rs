//! The 2026-07-28 request metadata headers (streamable-http, "Request Metadata"): checking
//! `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` against the body, and writing the
//! `Mcp-Name` a backend must see once the prefix is gone.
//!
//! What the spec says and this module does:
//! - `MCP-Protocol-Version` must equal `params._meta["io.modelcontextprotocol/protocolVersion"]`.
//! - `Mcp-Method` (= `method`) is required on every request.
//! - `Mcp-Name` (= `params.name` or `params.uri`) is required on `tools/call`,
//!   `resources/read` and `prompts/get`.
//! - A value that is not plain header-safe ASCII travels as `=?base64?<base64 of UTF-8>?=`
//!   and is decoded before comparing; so is a plain value that looks like that sentinel.
//! - Any failure (missing, different, invalid characters) is `HeaderMismatch`, code -32020,
//!   HTTP 400.
//!
//! Earlier protocol versions define none of these headers, so only a request whose
//! `MCP-Protocol-Version` is 2026-07-28 or later is checked (the spec tells intermediaries
//! not to trust mirrored headers on older versions, and the gateway routes on the body).

use ai_gateway_core::jsonrpc::Message;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;

use super::{Route, RouteError, SingleMethod};

/// The first protocol version with per-request metadata headers.
pub const MODERN_PROTOCOL_VERSION: &str = "2026-07-28";
/// 2026-07-28's UnsupportedProtocolVersion error (HTTP 400, data `{requested, supported}`).
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
/// The `_meta` key carrying the protocol version in the body.
pub const PROTOCOL_VERSION_META: &str = "io.modelcontextprotocol/protocolVersion";

const SENTINEL_START: &str = "=?base64?";
const SENTINEL_END: &str = "?=";

/// The MCP request headers as the client sent them (`None` when absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct McpHeaders<'a> {
    /// `MCP-Protocol-Version`.
    pub protocol_version: Option<&'a str>,
    /// `Mcp-Method`.
    pub method: Option<&'a str>,
    /// `Mcp-Name`.
    pub name: Option<&'a str>,
}

/// Whether a protocol version is 2026-07-28 or later (versions are `YYYY-MM-DD` dates).
pub fn is_modern(version: &str) -> bool {
    let is_date = version.len() == 10
        && version.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    is_date && version >= MODERN_PROTOCOL_VERSION
}

/// Checks the metadata headers of a 2026-07-28 (or later) message against its body and
/// route; messages of earlier versions pass unchecked.
pub fn check(headers: &McpHeaders<'_>, message: &Message, route: &Route) -> Result<(), RouteError> {
    let Some(version) = headers.protocol_version.filter(|v| is_modern(v)) else {
        return Ok(());
    };
    let (method, params, is_request) = match message {
        Message::Request(r) => (&r.method, r.params.as_ref(), true),
        Message::Notification(n) => (&n.method, n.params.as_ref(), false),
        Message::Response(_) => return Ok(()),
    };
    let body_version = params
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get(PROTOCOL_VERSION_META))
        .and_then(Value::as_str);
    if let Some(body_version) = body_version.filter(|b| *b != version) {
        return Err(differs("MCP-Protocol-Version", version, body_version));
    }
    match headers.method {
        Some(header) => compare("Mcp-Method", header, method)?,
        None if is_request => return Err(missing("Mcp-Method")),
        None => {}
    }
    if let Route::Single(single) = route {
        let needs_name = matches!(
            single.method,
            SingleMethod::ToolsCall | SingleMethod::PromptsGet | SingleMethod::ResourcesRead
        );
        match headers.name {
            Some(header) if needs_name => compare("Mcp-Name", header, single.target.value())?,
            None if needs_name => return Err(missing("Mcp-Name")),
            _ => {}
        }
    }
    Ok(())
}

/// The `Mcp-Name` value to send a backend for its upstream name or URI.
pub fn rewritten_mcp_name(upstream_name: &str) -> String {
    encode_value(upstream_name)
}

/// A header value for any text: as is when it is plain header-safe ASCII, else the
/// spec's Base64 sentinel form.
pub fn encode_value(value: &str) -> String {
    let plain = value.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && !value.starts_with(' ')
        && !value.ends_with(' ')
        && !looks_encoded(value);
    if plain {
        value.to_string()
    } else {
        format!(
            "{SENTINEL_START}{}{SENTINEL_END}",
            STANDARD.encode(value.as_bytes())
        )
    }
}

/// The text a header value stands for; `None` when it holds characters a header may not
/// hold, or a sentinel that is not valid Base64 of UTF-8.
pub fn decode_value(value: &str) -> Option<String> {
    if !is_header_safe(value) {
        return None;
    }
    if !looks_encoded(value) {
        return Some(value.to_string());
    }
    let inner = &value[SENTINEL_START.len()..value.len() - SENTINEL_END.len()];
    String::from_utf8(STANDARD.decode(inner).ok()?).ok()
}

/// Visible ASCII, space and tab: what RFC 9110 allows in a field value.
fn is_header_safe(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (0x20..=0x7e).contains(&b))
}

fn looks_encoded(value: &str) -> bool {
    value.len() >= SENTINEL_START.len() + SENTINEL_END.len()
        && value.starts_with(SENTINEL_START)
        && value.ends_with(SENTINEL_END)
}

/// Compares a header with its body value; only `Mcp-Name` may use the Base64 sentinel.
fn compare(header: &str, value: &str, body: &str) -> Result<(), RouteError> {
    let decoded = match header {
        "Mcp-Name" => decode_value(value),
        _ => is_header_safe(value).then(|| value.to_string()),
    };
    match decoded {
        Some(decoded) if decoded == body => Ok(()),
        Some(_) => Err(differs(header, value, body)),
        None => Err(RouteError::HeaderMismatch(format!(
            "{header} header value is malformed"
        ))),
    }
}

fn differs(header: &str, value: &str, body: &str) -> RouteError {
    RouteError::HeaderMismatch(format!(
        "{header} header value '{value}' does not match body value '{body}'"
    ))
}

fn missing(header: &str) -> RouteError {
    RouteError::HeaderMismatch(format!("required header {header} is missing"))
}

#[cfg(test)]
mod tests;
