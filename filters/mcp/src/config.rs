//! The `mcp` filter's configuration: JSON (camelCase, unknown fields refused) parsed with
//! [`ai_gateway_core::parse_config`], then validated into an immutable [`Settings`]. Every
//! error names the JSON path of the offending value, e.g. `backends[1].name`.
//!
//! ```json
//! {
//!   "backends": [
//!     {"name": "weather", "cluster": "mcp_weather", "path": "/mcp",
//!      "host": "weather.internal", "headers": {"x-api-key": "…"}, "failureMode": "failClosed"}
//!   ],
//!   "naming": {"separator": "_", "prefix": "always"},
//!   "failureMode": "failOpen",
//!   "session": {"keys": ["<base64 of 32 random bytes>"], "ttlSeconds": 86400},
//!   "allowedOrigins": ["https://app.example.com"],
//!   "maxRequestBytes": 1048576, "maxResponseBytes": 4194304, "timeoutMs": 10000
//! }
//! ```
//!
//! A backend with `"type": "openapi"` is a REST API whose operations are served as tools
//! ([`crate::openapi`]): `spec` holds its OpenAPI 3.0/3.1 document (a JSON object, or YAML or
//! JSON text), `cluster` serves the API (HTTPS is the cluster's transport socket), `basePath`
//! overrides the path of the document's first server URL, `include`/`exclude` pick operations
//! by operationId or tool name; `host` and `headers` (e.g. an API key) work as for MCP
//! backends, `path` does not apply.
//!
//! ```json
//! {"name": "pets", "type": "openapi", "cluster": "petstore", "host": "petstore.example.com",
//!  "spec": {"openapi": "3.1.0", "…": "…"}, "basePath": "/v1",
//!  "headers": {"x-api-key": "…"}, "exclude": ["deletePet"]}
//! ```
//!
//! `allowedOrigins`: the MCP Streamable HTTP transport (2025-06-18 onward, "Security Warning")
//! says servers MUST validate `Origin` to stop DNS rebinding, and answer 403 when it is present
//! and invalid. Non-browser clients send no `Origin`, so a request without one passes; a
//! request with one passes only when it is listed. Absent or empty therefore means "no
//! browser origin is trusted" (the safe default), and `["*"]` explicitly trusts every origin.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use ai_gateway_core::{parse_config, ConfigError};
use serde::Deserialize;

use crate::naming::{Naming, NamingError, PrefixMode};
use crate::openapi::OpenApi;

/// Every protocol version the gateway speaks, newest first.
pub const SUPPORTED_VERSIONS: [&str; 4] = ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"];
use crate::session_token::{Sealer, SessionKey};

mod openapi_backend;

/// Default upstream path of an MCP endpoint (the SDKs' default).
pub const DEFAULT_PATH: &str = "/mcp";
/// Default separator between a backend name and a tool or prompt name.
pub const DEFAULT_SEPARATOR: &str = "_";
/// Default session token lifetime: one day.
pub const DEFAULT_TTL_SECONDS: u64 = 86_400;
/// Default largest request body: 1 MiB (JSON-RPC requests are small; uploads go elsewhere).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1 << 20;
/// Default largest buffered response: 4 MiB (large `tools/list` answers fit comfortably).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 << 20;
/// Default callout timeout: 10 s.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// At most this many backends: each name is a metric tag value, so the set stays small.
const MAX_BACKENDS: usize = 64;
const MAX_BACKEND_NAME_LEN: usize = 64;
const MAX_SEPARATOR_LEN: usize = 8;
const MAX_KEYS: usize = 16;
const TTL_RANGE: (u64, u64) = (60, 365 * 86_400);
const BODY_LIMIT_RANGE: (u64, u64) = (1024, 64 << 20);
const TIMEOUT_RANGE: (u64, u64) = (1, 300_000);
const MAX_PATH_LEN: usize = 2048;
const MAX_HOST_LEN: usize = 255;
/// Headers the gateway sets itself on upstream requests; a backend may not override them.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "upgrade",
    "origin",
    "mcp-session-id",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
];

/// What happens when a backend fails or times out during fan-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FailureMode {
    /// Leave the backend out of the merged answer (logged, counted); the others still work.
    #[default]
    FailOpen,
    /// Answer a JSON-RPC error naming the backend.
    FailClosed,
}

/// One upstream MCP server (Streamable HTTP). Its `Debug` omits header values (credentials).
#[derive(Clone, PartialEq, Eq)]
pub struct Backend {
    /// Tool/prompt prefix and metric tag: `A-Z a-z 0-9 _ -`, unique.
    pub name: String,
    /// The Envoy cluster requests and callouts go to.
    pub cluster: String,
    /// The MCP endpoint's path (default `/mcp`).
    pub path: String,
    /// `:authority` for upstream requests; `None` leaves it to the filter (the cluster name).
    pub host: Option<String>,
    /// Extra headers on every upstream request (names lower-case), e.g. credentials.
    pub headers: Vec<(String, String)>,
    /// This backend's failure mode: its own `failureMode`, else the top-level one.
    pub failure_mode: FailureMode,
    /// `Some` for an OpenAPI backend: a REST API served as tools, not an MCP server.
    pub openapi: Option<Arc<OpenApi>>,
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Backend")
            .field("name", &self.name)
            .field("cluster", &self.cluster)
            .field("path", &self.path)
            .field("host", &self.host)
            .field("header_names", &header_names)
            .field("failure_mode", &self.failure_mode)
            .field(
                "openapi_tools",
                &self.openapi.as_ref().map(|a| a.tools.len()),
            )
            .finish()
    }
}

/// Which `Origin` request headers are trusted (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origins {
    /// `"*"` was listed: every origin is trusted.
    any: bool,
    /// Lower-cased `scheme://host[:port]` entries.
    allowed: BTreeSet<String>,
}

impl Origins {
    /// Whether a request with this `Origin` header (or none) may proceed; false means 403.
    pub fn allows(&self, origin: Option<&str>) -> bool {
        match origin {
            None => true,
            Some(origin) => self.any || self.allowed.contains(&origin.to_ascii_lowercase()),
        }
    }
}

/// The validated configuration, built once per Envoy config and shared by every stream.
#[derive(Debug)]
pub struct Settings {
    /// Backends in configuration order.
    pub backends: Vec<Backend>,
    /// Naming rules (separator, prefix mode, backend names).
    pub naming: Naming,
    /// The top-level failure mode (each [`Backend`] carries its effective one).
    pub failure_mode: FailureMode,
    /// Seals and opens session tokens with the configured keys and TTL.
    pub sealer: Sealer,
    /// Trusted `Origin` values.
    pub origins: Origins,
    /// Largest request body accepted (413 beyond).
    pub max_request_bytes: usize,
    /// Largest upstream response body buffered (callouts and rewritten responses).
    pub max_response_bytes: usize,
    /// Timeout of each HTTP callout to a backend.
    pub timeout_ms: u64,
    /// Index of the backend whose GET stream a client gets when its session spans several
    /// session-based backends and the flavour cannot merge their streams.
    pub listen_backend: Option<usize>,
    /// The protocol versions offered to clients, newest first (a subset of what the gateway
    /// speaks; without 2026-07-28, clients that probe for it fall back to `initialize`).
    pub protocol_versions: Vec<&'static str>,
}

impl Settings {
    /// Parses and validates the filter's JSON configuration.
    pub fn from_json(json: &str) -> Result<Settings, ConfigError> {
        validate(parse_config(json)?)
    }

    /// The backend of that name.
    pub fn backend(&self, name: &str) -> Option<&Backend> {
        self.backends.iter().find(|b| b.name == name)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConfig {
    backends: Vec<RawBackend>,
    #[serde(default)]
    naming: RawNaming,
    #[serde(default)]
    failure_mode: FailureMode,
    session: RawSession,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default = "default_max_request_bytes")]
    max_request_bytes: u64,
    #[serde(default = "default_max_response_bytes")]
    max_response_bytes: u64,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    listen_backend: Option<String>,
    protocol_versions: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawBackend {
    name: String,
    #[serde(default, rename = "type")]
    kind: BackendKind,
    cluster: String,
    path: Option<String>,
    host: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    failure_mode: Option<FailureMode>,
    spec: Option<serde_json::Value>,
    base_path: Option<String>,
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
}

/// What a backend is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
enum BackendKind {
    /// An MCP server (Streamable HTTP).
    #[default]
    Mcp,
    /// A REST API described by an OpenAPI document.
    Openapi,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawNaming {
    #[serde(default = "default_separator")]
    separator: String,
    #[serde(default)]
    prefix: RawPrefix,
}

impl Default for RawNaming {
    fn default() -> Self {
        RawNaming {
            separator: default_separator(),
            prefix: RawPrefix::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
enum RawPrefix {
    #[default]
    Always,
    Conditional,
    Never,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSession {
    keys: Vec<String>,
    #[serde(default = "default_ttl_seconds")]
    ttl_seconds: u64,
}

fn default_separator() -> String {
    DEFAULT_SEPARATOR.to_string()
}
fn default_ttl_seconds() -> u64 {
    DEFAULT_TTL_SECONDS
}
fn default_max_request_bytes() -> u64 {
    DEFAULT_MAX_REQUEST_BYTES as u64
}
fn default_max_response_bytes() -> u64 {
    DEFAULT_MAX_RESPONSE_BYTES as u64
}
fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

fn validate(raw: RawConfig) -> Result<Settings, ConfigError> {
    let backends = validate_backends(&raw.backends, raw.failure_mode)?;
    let naming = validate_naming(&raw.naming, &backends)?;
    let sealer = validate_session(&raw.session)?;
    let origins = validate_origins(&raw.allowed_origins)?;
    let max_request_bytes = in_range("maxRequestBytes", raw.max_request_bytes, BODY_LIMIT_RANGE)?;
    let max_response_bytes =
        in_range("maxResponseBytes", raw.max_response_bytes, BODY_LIMIT_RANGE)?;
    let timeout_ms = in_range("timeoutMs", raw.timeout_ms, TIMEOUT_RANGE)?;
    let listen_backend = match &raw.listen_backend {
        None => None,
        Some(name) => Some(
            backends
                .iter()
                .position(|b| &b.name == name)
                .ok_or_else(|| {
                    ConfigError::invalid("listenBackend", format!("no backend is named {name:?}"))
                })?,
        ),
    };
    let protocol_versions = validate_protocol_versions(raw.protocol_versions.as_deref())?;
    Ok(Settings {
        backends,
        naming,
        failure_mode: raw.failure_mode,
        sealer,
        origins,
        max_request_bytes: usize::try_from(max_request_bytes).unwrap_or(usize::MAX),
        max_response_bytes: usize::try_from(max_response_bytes).unwrap_or(usize::MAX),
        timeout_ms,
        listen_backend,
        protocol_versions,
    })
}

fn validate_protocol_versions(raw: Option<&[String]>) -> Result<Vec<&'static str>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(SUPPORTED_VERSIONS.to_vec());
    };
    if raw.is_empty() {
        return Err(ConfigError::invalid(
            "protocolVersions",
            "at least one version",
        ));
    }
    for (i, version) in raw.iter().enumerate() {
        if !SUPPORTED_VERSIONS.contains(&version.as_str()) {
            return Err(ConfigError::invalid(
                format!("protocolVersions[{i}]"),
                format!("{version:?} is not one of {SUPPORTED_VERSIONS:?}"),
            ));
        }
    }
    // Newest first, as negotiation expects.
    Ok(SUPPORTED_VERSIONS
        .iter()
        .copied()
        .filter(|v| raw.iter().any(|r| r == v))
        .collect())
}

fn in_range(field: &str, value: u64, (min, max): (u64, u64)) -> Result<u64, ConfigError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::invalid(
            field,
            format!("{value} is outside {min}..={max}"),
        ))
    }
}

fn validate_backends(
    raw: &[RawBackend],
    default_mode: FailureMode,
) -> Result<Vec<Backend>, ConfigError> {
    if raw.is_empty() {
        return Err(ConfigError::invalid("backends", "at least one backend"));
    }
    if raw.len() > MAX_BACKENDS {
        return Err(ConfigError::invalid(
            "backends",
            format!("{} backends, at most {MAX_BACKENDS}", raw.len()),
        ));
    }
    let mut seen = BTreeSet::new();
    raw.iter()
        .enumerate()
        .map(|(i, backend)| {
            let at = |field: &str| format!("backends[{i}].{field}");
            check_backend_name(&backend.name).map_err(|m| ConfigError::invalid(at("name"), m))?;
            if !seen.insert(backend.name.as_str()) {
                return Err(ConfigError::invalid(
                    at("name"),
                    format!("`{}` is already the name of another backend", backend.name),
                ));
            }
            if backend.cluster.is_empty() || !is_visible_ascii(&backend.cluster) {
                return Err(ConfigError::invalid(
                    at("cluster"),
                    "an Envoy cluster name: non-empty, no spaces or control characters",
                ));
            }
            let path = backend.path.as_deref().unwrap_or(DEFAULT_PATH);
            check_path(path).map_err(|m| ConfigError::invalid(at("path"), m))?;
            let openapi = openapi_backend::validate_kind(backend, &at)?;
            if let Some(host) = &backend.host {
                check_host(host).map_err(|m| ConfigError::invalid(at("host"), m))?;
            }
            let headers = backend
                .headers
                .iter()
                .map(|(name, value)| {
                    check_header(name, value)
                        .map_err(|m| ConfigError::invalid(at(&format!("headers.{name}")), m))
                })
                .collect::<Result<_, _>>()?;
            Ok(Backend {
                name: backend.name.clone(),
                cluster: backend.cluster.clone(),
                path: path.to_string(),
                host: backend.host.clone(),
                headers,
                failure_mode: backend.failure_mode.unwrap_or(default_mode),
                openapi,
            })
        })
        .collect()
}

fn check_backend_name(name: &str) -> Result<(), String> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if name.is_empty() || name.len() > MAX_BACKEND_NAME_LEN || !valid_chars {
        return Err(format!(
            "`{name}`: 1 to {MAX_BACKEND_NAME_LEN} characters of A-Z a-z 0-9 _ - \
             (it prefixes tool names and tags metrics)"
        ));
    }
    Ok(())
}

/// Printable ASCII without spaces.
fn is_visible_ascii(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_graphic())
}

fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') || path.len() > MAX_PATH_LEN {
        return Err(format!(
            "`{path}`: an absolute path starting with `/`, at most {MAX_PATH_LEN} characters"
        ));
    }
    if !is_visible_ascii(path) || path.contains('#') {
        return Err(format!(
            "`{path}`: no spaces, control characters, non-ASCII or fragment"
        ));
    }
    Ok(())
}

fn check_host(host: &str) -> Result<(), String> {
    let forbidden = |c: char| matches!(c, '/' | '?' | '#' | '@');
    if host.is_empty()
        || host.len() > MAX_HOST_LEN
        || !is_visible_ascii(host)
        || host.contains(forbidden)
    {
        return Err(format!(
            "`{host}`: a host[:port] authority, no path, userinfo, spaces or control characters"
        ));
    }
    Ok(())
}

/// RFC 9110 `tchar`.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn check_header(name: &str, value: &str) -> Result<(String, String), String> {
    if name.is_empty() || !name.bytes().all(is_token_char) {
        return Err(format!("`{name}` is not a valid header name"));
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_HEADERS.contains(&lower.as_str()) {
        return Err(format!("`{name}` is set by the gateway itself"));
    }
    if !value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return Err("the value must be printable ASCII (no CR, LF or NUL)".to_string());
    }
    Ok((lower, value.to_string()))
}

fn validate_naming(raw: &RawNaming, backends: &[Backend]) -> Result<Naming, ConfigError> {
    let separator = &raw.separator;
    let valid_chars = separator
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if separator.is_empty() || separator.len() > MAX_SEPARATOR_LEN || !valid_chars {
        return Err(ConfigError::invalid(
            "naming.separator",
            format!(
                "`{separator}`: 1 to {MAX_SEPARATOR_LEN} characters of A-Z a-z 0-9 _ - . \
                 (the characters MCP allows in tool names)"
            ),
        ));
    }
    let mode = match raw.prefix {
        RawPrefix::Always => PrefixMode::Always,
        RawPrefix::Conditional => PrefixMode::Conditional,
        RawPrefix::Never => PrefixMode::Never,
    };
    Naming::new(separator, mode, backends.iter().map(|b| b.name.as_str())).map_err(|err| {
        // Names were checked above, so what is left is a clash between two backend names;
        // point at the later one.
        let named = match &err {
            NamingError::InvalidSeparator(_) => None,
            NamingError::InvalidBackendName(name) | NamingError::DuplicateBackend(name) => {
                Some(name)
            }
            NamingError::DuplicateResourceTag(_, name, _) => Some(name),
        };
        let field = named
            .and_then(|name| backends.iter().rposition(|b| &b.name == name))
            .map_or("naming.separator".to_string(), |i| {
                format!("backends[{i}].name")
            });
        ConfigError::invalid(field, err.to_string())
    })
}

fn validate_session(raw: &RawSession) -> Result<Sealer, ConfigError> {
    if raw.keys.is_empty() || raw.keys.len() > MAX_KEYS {
        return Err(ConfigError::invalid(
            "session.keys",
            format!("1 to {MAX_KEYS} keys (the first seals, all open)"),
        ));
    }
    let mut keys: Vec<SessionKey> = Vec::with_capacity(raw.keys.len());
    for (i, text) in raw.keys.iter().enumerate() {
        let field = format!("session.keys[{i}]");
        let key = SessionKey::from_base64(text)
            .map_err(|e| ConfigError::invalid(&field, e.to_string()))?;
        if keys.contains(&key) {
            return Err(ConfigError::invalid(field, "the same key is listed twice"));
        }
        keys.push(key);
    }
    let ttl = in_range("session.ttlSeconds", raw.ttl_seconds, TTL_RANGE)?;
    Sealer::new(&keys, ttl).map_err(|e| ConfigError::invalid("session.keys", e.to_string()))
}

fn validate_origins(raw: &[String]) -> Result<Origins, ConfigError> {
    let mut origins = Origins {
        any: false,
        allowed: BTreeSet::new(),
    };
    for (i, origin) in raw.iter().enumerate() {
        if origin == "*" {
            origins.any = true;
        } else if is_serialized_origin(origin) {
            origins.allowed.insert(origin.to_ascii_lowercase());
        } else {
            return Err(ConfigError::invalid(
                format!("allowedOrigins[{i}]"),
                format!("`{origin}`: an origin `scheme://host[:port]` (no path) or `*`"),
            ));
        }
    }
    Ok(origins)
}

/// `scheme://authority` as browsers send it in `Origin` (RFC 6454): no path, query or
/// fragment, no userinfo, no trailing slash.
fn is_serialized_origin(origin: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    scheme_ok
        && !authority.is_empty()
        && is_visible_ascii(authority)
        && !authority.contains(['/', '?', '#', '@'])
}

#[cfg(test)]
mod openapi_tests;
#[cfg(test)]
mod tests;
