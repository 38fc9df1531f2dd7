//! What the gateway does with one client message: send it to the one backend that owns
//! its target, fan it out to all backends, or pass it on as something it does not route.
//!
//! Single-target requests and where their target sits (MCP 2025-06-18 .. 2026-07-28):
//! `tools/call` and `prompts/get` → `params.name`; `resources/read`, `resources/subscribe`
//! and `resources/unsubscribe` → `params.uri`; `completion/complete` → `params.ref.name`
//! (`"type": "ref/prompt"`) or `params.ref.uri` (`"type": "ref/resource"`, a URI or URI
//! template).
//!
//! 2026-07-28 removed `initialize`, `notifications/initialized`, `ping`, `logging/setLevel`
//! and `resources/(un)subscribe` and added `server/discover` and `subscriptions/listen`;
//! the classification covers both generations, and `subscriptions/listen` (a long-lived
//! stream, not a merge) comes back as [`Route::Unknown`] for the filter to decide.
//!
//! Everything here is pure: the filter parses, classifies, resolves the target against the
//! last listings, rewrites the body for the backend and checks the 2026-07-28 `Mcp-*`
//! headers ([`headers`]); failures come back as a [`RouteError`] that knows its JSON-RPC
//! code.

pub mod headers;

use ai_gateway_core::jsonrpc::{
    self, ErrorObject, Id, JsonRpcError, Message, Outcome, Request, Response, INVALID_PARAMS,
};
use serde_json::{json, Value};

use crate::naming::{NameTable, Naming, Upstream, UriTable};

/// JSON-RPC code of the 2026-07-28 `HeaderMismatch` error (streamable-http, "Server
/// Validation"; renumbered from -32001 in that revision's changelog), answered with HTTP 400.
pub const HEADER_MISMATCH: i64 = -32020;

/// A request that goes to the one backend owning its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SingleMethod {
    ToolsCall,
    PromptsGet,
    ResourcesRead,
    ResourcesSubscribe,
    ResourcesUnsubscribe,
    CompletionComplete,
}

impl SingleMethod {
    /// The method a JSON-RPC request names, when it is single-target.
    pub fn from_method(method: &str) -> Option<SingleMethod> {
        Some(match method {
            "tools/call" => SingleMethod::ToolsCall,
            "prompts/get" => SingleMethod::PromptsGet,
            "resources/read" => SingleMethod::ResourcesRead,
            "resources/subscribe" => SingleMethod::ResourcesSubscribe,
            "resources/unsubscribe" => SingleMethod::ResourcesUnsubscribe,
            "completion/complete" => SingleMethod::CompletionComplete,
            _ => return None,
        })
    }

    /// The JSON-RPC method name.
    pub fn as_str(self) -> &'static str {
        match self {
            SingleMethod::ToolsCall => "tools/call",
            SingleMethod::PromptsGet => "prompts/get",
            SingleMethod::ResourcesRead => "resources/read",
            SingleMethod::ResourcesSubscribe => "resources/subscribe",
            SingleMethod::ResourcesUnsubscribe => "resources/unsubscribe",
            SingleMethod::CompletionComplete => "completion/complete",
        }
    }
}

/// A message the gateway sends to every backend and answers by merging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanOutMethod {
    Initialize,
    /// `notifications/initialized` (a notification, not a request).
    Initialized,
    /// Any other client notification (cancelled, roots/list_changed, progress the gateway
    /// cannot attribute): every backend gets it, and ignores what is not its own.
    ClientNotification,
    Ping,
    ToolsList,
    PromptsList,
    ResourcesList,
    ResourceTemplatesList,
    LoggingSetLevel,
    ServerDiscover,
}

impl FanOutMethod {
    /// The fan-out method of a request's method name.
    pub(crate) fn for_request(method: &str) -> Option<FanOutMethod> {
        Some(match method {
            "initialize" => FanOutMethod::Initialize,
            "ping" => FanOutMethod::Ping,
            "tools/list" => FanOutMethod::ToolsList,
            "prompts/list" => FanOutMethod::PromptsList,
            "resources/list" => FanOutMethod::ResourcesList,
            "resources/templates/list" => FanOutMethod::ResourceTemplatesList,
            "logging/setLevel" => FanOutMethod::LoggingSetLevel,
            "server/discover" => FanOutMethod::ServerDiscover,
            _ => return None,
        })
    }

    /// The JSON-RPC method name.
    pub fn as_str(self) -> &'static str {
        match self {
            FanOutMethod::Initialize => "initialize",
            FanOutMethod::Initialized => "notifications/initialized",
            FanOutMethod::ClientNotification => "notifications/client",
            FanOutMethod::Ping => "ping",
            FanOutMethod::ToolsList => "tools/list",
            FanOutMethod::PromptsList => "prompts/list",
            FanOutMethod::ResourcesList => "resources/list",
            FanOutMethod::ResourceTemplatesList => "resources/templates/list",
            FanOutMethod::LoggingSetLevel => "logging/setLevel",
            FanOutMethod::ServerDiscover => "server/discover",
        }
    }
}

/// The client-facing name or URI a single-target request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Tool(String),
    Prompt(String),
    /// A resource URI, or for `completion/complete` possibly a URI template.
    Resource(String),
}

impl Target {
    /// The name or URI as the client wrote it.
    pub fn value(&self) -> &str {
        match self {
            Target::Tool(v) | Target::Prompt(v) | Target::Resource(v) => v,
        }
    }

    /// `tool`, `prompt` or `resource`, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Tool(_) => "tool",
            Target::Prompt(_) => "prompt",
            Target::Resource(_) => "resource",
        }
    }
}

/// A single-target request: its method and target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleTarget {
    pub method: SingleMethod,
    pub target: Target,
}

/// What to do with one client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Route to the backend owning the target.
    Single(SingleTarget),
    /// Send to every backend and merge.
    FanOut(FanOutMethod),
    /// The client answering a server→client request (sampling, elicitation, roots).
    ClientResponse,
    /// A client notification other than `notifications/initialized` (cancelled, progress,
    /// roots/list_changed): carries its method.
    ClientNotification(String),
    /// A request whose method the gateway does not know: carries its method.
    Unknown(String),
}

/// Why a message cannot be routed, with the JSON-RPC error it is answered with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// Not JSON (-32700) or not a single JSON-RPC message (-32600).
    #[error(transparent)]
    Malformed(#[from] JsonRpcError),
    /// A routed request lacks the field its target sits in (-32602).
    #[error("invalid params: {method} needs {field}")]
    MissingTarget {
        method: &'static str,
        field: &'static str,
    },
    /// No backend owns the target: -32602, as the spec's "Unknown tool: x" example and
    /// 2026-07-28's resource-not-found (2025-11-25 used -32002 for resources; clients of
    /// 2026-07-28 are told to accept both).
    #[error("Unknown {}: {}", .0.kind(), .0.value())]
    UnknownTarget(Target),
    /// 2026-07-28 `Mcp-*` headers disagree with the body (-32020, HTTP 400).
    #[error("Header mismatch: {0}")]
    HeaderMismatch(String),
}

impl RouteError {
    /// The JSON-RPC error code.
    pub fn code(&self) -> i64 {
        match self {
            RouteError::Malformed(e) => e.code(),
            RouteError::MissingTarget { .. } | RouteError::UnknownTarget(_) => INVALID_PARAMS,
            RouteError::HeaderMismatch(_) => HEADER_MISMATCH,
        }
    }

    /// The HTTP status the spec fixes for this error, where it fixes one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            RouteError::HeaderMismatch(_) => Some(400),
            _ => None,
        }
    }

    /// The error response to the request with this id (use [`Id::Null`] when the id could
    /// not be read). An unknown resource carries its URI in `data`, as the spec's
    /// resource-not-found example does.
    pub fn response(&self, id: Id) -> Response {
        let data = match self {
            RouteError::UnknownTarget(Target::Resource(uri)) => Some(json!({ "uri": uri })),
            _ => None,
        };
        Response {
            id,
            outcome: Outcome::Error(ErrorObject {
                code: self.code(),
                message: self.to_string(),
                data,
            }),
        }
    }
}

/// Parses an HTTP body holding one JSON-RPC message.
pub fn parse(body: &[u8]) -> Result<Message, RouteError> {
    Ok(jsonrpc::parse_message(body)?)
}

/// Decides what to do with a message and reads its target.
pub fn classify(message: &Message) -> Result<Route, RouteError> {
    match message {
        Message::Response(_) => Ok(Route::ClientResponse),
        Message::Notification(n) if n.method == FanOutMethod::Initialized.as_str() => {
            Ok(Route::FanOut(FanOutMethod::Initialized))
        }
        Message::Notification(n) => Ok(Route::ClientNotification(n.method.clone())),
        Message::Request(r) => {
            if let Some(method) = SingleMethod::from_method(&r.method) {
                let target = read_target(method, r.params.as_ref())?;
                return Ok(Route::Single(SingleTarget { method, target }));
            }
            Ok(match FanOutMethod::for_request(&r.method) {
                Some(fan_out) => Route::FanOut(fan_out),
                None => Route::Unknown(r.method.clone()),
            })
        }
    }
}

/// The listings a target is resolved against; `None` where this replica has none yet.
#[derive(Debug, Clone, Copy, Default)]
pub struct Listings<'a> {
    /// From the last `tools/list` fan-out.
    pub tools: Option<&'a NameTable>,
    /// From the last `prompts/list` fan-out.
    pub prompts: Option<&'a NameTable>,
    /// From the last `resources/list` and `resources/templates/list` fan-outs together.
    pub resources: Option<&'a UriTable>,
}

/// The backend and upstream name or URI of a target.
pub fn resolve(
    naming: &Naming,
    listings: &Listings<'_>,
    target: &Target,
) -> Result<Upstream, RouteError> {
    let found = match target {
        Target::Tool(name) => naming.resolve_name(listings.tools, name),
        Target::Prompt(name) => naming.resolve_name(listings.prompts, name),
        Target::Resource(uri) => naming.resolve_uri(listings.resources, uri),
    };
    found.ok_or_else(|| RouteError::UnknownTarget(target.clone()))
}

/// A single-target request made ready for its backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// The backend and the upstream name or URI.
    pub upstream: Upstream,
    /// The request body with the upstream name or URI in place of the client-facing one.
    pub body: Vec<u8>,
    /// The `Mcp-Name` header value for the backend (2026-07-28).
    pub mcp_name: String,
}

/// Resolves a single-target request and rewrites it for its backend.
pub fn route_single(
    naming: &Naming,
    listings: &Listings<'_>,
    request: &Request,
    single: &SingleTarget,
) -> Result<Routed, RouteError> {
    let upstream = resolve(naming, listings, &single.target)?;
    Ok(Routed {
        body: rewrite_request(request, single, &upstream.name),
        mcp_name: headers::rewritten_mcp_name(&upstream.name),
        upstream,
    })
}

/// The request body for the backend: the target replaced by its upstream name or URI,
/// everything else (member order included) as the client sent it.
pub fn rewrite_request(request: &Request, single: &SingleTarget, upstream_name: &str) -> Vec<u8> {
    let mut request = request.clone();
    let path = target_path(single.method, &single.target);
    if let Some(slot) = request.params.as_mut().and_then(|p| pointer_mut(p, path)) {
        *slot = Value::String(upstream_name.to_string());
    }
    Message::Request(request).to_vec()
}

/// Where the target sits in `params`.
fn target_path(method: SingleMethod, target: &Target) -> &'static [&'static str] {
    match (method, target) {
        (SingleMethod::ToolsCall | SingleMethod::PromptsGet, _) => &["name"],
        (SingleMethod::CompletionComplete, Target::Resource(_)) => &["ref", "uri"],
        (SingleMethod::CompletionComplete, _) => &["ref", "name"],
        (
            SingleMethod::ResourcesRead
            | SingleMethod::ResourcesSubscribe
            | SingleMethod::ResourcesUnsubscribe,
            _,
        ) => &["uri"],
    }
}

fn pointer_mut<'v>(value: &'v mut Value, path: &[&str]) -> Option<&'v mut Value> {
    path.iter()
        .try_fold(value, |v, key| v.as_object_mut()?.get_mut(*key))
}

fn read_target(method: SingleMethod, params: Option<&Value>) -> Result<Target, RouteError> {
    let missing = |field| RouteError::MissingTarget {
        method: method.as_str(),
        field,
    };
    let text = |path: &[&str], field| {
        params
            .and_then(|p| path.iter().try_fold(p, |v, key| v.get(*key)))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| missing(field))
    };
    match method {
        SingleMethod::ToolsCall => Ok(Target::Tool(text(&["name"], "params.name")?)),
        SingleMethod::PromptsGet => Ok(Target::Prompt(text(&["name"], "params.name")?)),
        SingleMethod::ResourcesRead
        | SingleMethod::ResourcesSubscribe
        | SingleMethod::ResourcesUnsubscribe => Ok(Target::Resource(text(&["uri"], "params.uri")?)),
        SingleMethod::CompletionComplete => {
            let kind = text(&["ref", "type"], "params.ref.type")?;
            match kind.as_str() {
                "ref/prompt" => Ok(Target::Prompt(text(&["ref", "name"], "params.ref.name")?)),
                "ref/resource" => Ok(Target::Resource(text(&["ref", "uri"], "params.ref.uri")?)),
                _ => Err(missing(
                    "params.ref.type \"ref/prompt\" or \"ref/resource\"",
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests;
