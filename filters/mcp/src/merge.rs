//! Fan-out merging: N backends' answers to one request become the gateway's one answer.
//! Pure: the filter makes the callouts and hands over each backend's parsed JSON-RPC result
//! or its failure, in configuration order (which is the order of merged items).
//!
//! What counts as what, for every method:
//! - [`Reply::Result`]: an answer. For 2026-07-28 results a `resultType` other than
//!   `complete` is a failure (a fan-out request never asks for input).
//! - [`Reply::Error`] with `-32601` (method not found) on a list method, `ping` or
//!   `logging/setLevel`: the backend does not offer that feature (no prompts, no logging;
//!   2026-07-28 servers have no `ping`) but is reachable. It adds nothing and is not a
//!   failure. Any other JSON-RPC error is a failure; on `initialize` and `server/discover`
//!   every error is.
//! - [`Reply::Failed`]: no usable answer (timeout, reset, HTTP error, unparseable body).
//!
//! Failures follow each backend's [`FailureMode`]: a failOpen backend is left out and
//! reported in [`Merged::left_out`] (for a log line and a metric); one failed failClosed
//! backend turns the whole answer into a [`FanOutError`]. When every backend failed there
//! is nothing to merge and the answer is a [`FanOutError`] too, whatever the modes: an empty
//! list or capability set would hide the outage from the client.
//!
//! The error code is `-32603` (internal error). JSON-RPC has no "bad gateway" code; the MCP
//! spec reserves `-32020..-32099` for codes it defines and gives `-32000..-32019` no
//! cross-implementation meaning, so `-32603` is the one code every client understands as
//! "the server could not do it" (not "you asked wrongly"). The message names the failed
//! backends; `data.backends` lists them with reasons for programs.

pub mod capabilities;
pub mod list;

use ai_gateway_core::jsonrpc::METHOD_NOT_FOUND;
use ai_gateway_core::jsonrpc::{ErrorObject, Id, Outcome, Response, INTERNAL_ERROR};
use serde_json::{json, Map, Value};

use crate::config::FailureMode;
use crate::routing::FanOutMethod;
use crate::session_token::SealError;

pub use capabilities::{merge_discover, merge_initialize, GatewayInfo, Initialized};
pub use list::{merge_list, ListContext, ListKind, ListPage, ListTable};

/// The first protocol version whose results carry `resultType` and cache hints.
pub const STATELESS_VERSION: &str = "2026-07-28";
/// Longest backend-provided text kept in a failure reason (upstream messages can be long).
const MAX_REASON_CHARS: usize = 200;

/// What one backend answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The JSON-RPC `result`.
    Result(Value),
    /// The JSON-RPC `error`.
    Error(ErrorObject),
    /// No usable answer; the reason is for logs (e.g. `timeout`, `HTTP 503`).
    Failed(String),
}

/// One backend's answer to a fan-out request.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendReply<'a> {
    /// The configured backend name.
    pub backend: &'a str,
    /// Its effective failure mode ([`crate::config::Backend::failure_mode`]).
    pub failure_mode: FailureMode,
    pub reply: Reply,
}

/// A backend that failed during fan-out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub backend: String,
    /// Why, for logs; short and free of client data.
    pub reason: String,
}

/// A merged answer and the failOpen backends left out of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged<T> {
    pub value: T,
    /// Failed failOpen backends, in configuration order: log and count each.
    pub left_out: Vec<Failure>,
}

/// Why a fan-out request is answered with an error (always `-32603`, see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FanOutError {
    /// A failClosed backend failed, or no backend answered.
    #[error("{method} failed on {}", describe(.failures))]
    Backends {
        method: &'static str,
        /// Every failed backend (failOpen ones included), in configuration order.
        failures: Vec<Failure>,
    },
    /// The next-page cursor could not be sealed.
    #[error("{method}: cannot build the next cursor: {source}")]
    Cursor {
        method: &'static str,
        source: SealError,
    },
}

impl FanOutError {
    /// The JSON-RPC error code: internal error.
    pub fn code(&self) -> i64 {
        INTERNAL_ERROR
    }

    /// The failed backends (empty for a cursor error): count each in the failure metric.
    pub fn failures(&self) -> &[Failure] {
        match self {
            FanOutError::Backends { failures, .. } => failures,
            FanOutError::Cursor { .. } => &[],
        }
    }

    /// The error response, `data.backends` = `[{name, reason}]` of the failed backends.
    pub fn response(&self, id: Id) -> Response {
        let mut error = ErrorObject::new(self.code(), self.to_string());
        if let FanOutError::Backends { failures, .. } = self {
            let backends: Vec<Value> = failures
                .iter()
                .map(|f| json!({"name": f.backend, "reason": f.reason}))
                .collect();
            error.data = Some(json!({ "backends": backends }));
        }
        Response {
            id,
            outcome: Outcome::Error(error),
        }
    }
}

fn describe(failures: &[Failure]) -> String {
    let parts: Vec<String> = failures
        .iter()
        .map(|f| format!("backend {} ({})", f.backend, f.reason))
        .collect();
    if parts.is_empty() {
        "every backend (none answered)".to_string()
    } else {
        parts.join(", ")
    }
}

/// Which result shape the client speaks: 2026-07-28 results carry `resultType`, cache hints
/// and the server's identity in `_meta`; earlier ones do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultStyle {
    /// 2025-03-26, 2025-06-18, 2025-11-25.
    SessionBased,
    /// 2026-07-28 and later.
    Stateless,
}

impl ResultStyle {
    /// The style of a protocol version (versions are dates, so they compare as text).
    pub fn for_version(version: &str) -> ResultStyle {
        if version >= STATELESS_VERSION {
            ResultStyle::Stateless
        } else {
            ResultStyle::SessionBased
        }
    }
}

/// `ping` and `logging/setLevel` (`method` names them in errors): an empty result once the
/// failure rules are met.
pub fn merge_empty(
    method: FanOutMethod,
    style: ResultStyle,
    gateway: &GatewayInfo,
    replies: &[BackendReply<'_>],
) -> Result<Merged<Value>, FanOutError> {
    let triage = triage(method.as_str(), replies, Unsupported::AddsNothing, |_| {
        Ok(())
    })?;
    let mut result = Map::new();
    stateless_fields(&mut result, style, gateway, &triage.answered);
    Ok(Merged {
        value: Value::Object(result),
        left_out: triage.left_out,
    })
}

/// How a `-32601` reply counts for a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unsupported {
    /// The backend lacks the feature: it adds nothing.
    AddsNothing,
    /// A failure like any other error.
    Fails,
}

/// A backend that answered usefully.
#[derive(Debug, Clone, Copy)]
struct Answered<'a> {
    backend: &'a str,
    result: &'a Value,
}

/// Replies sorted into answers and left-out failures, once the failure rules passed.
#[derive(Debug)]
struct Triage<'a> {
    answered: Vec<Answered<'a>>,
    left_out: Vec<Failure>,
}

/// Sorts replies and applies the failure rules; `check` vets a result's shape (its error
/// text becomes the failure reason).
fn triage<'a>(
    method: &'static str,
    replies: &'a [BackendReply<'a>],
    unsupported: Unsupported,
    check: impl Fn(&Value) -> Result<(), String>,
) -> Result<Triage<'a>, FanOutError> {
    let mut answered = Vec::new();
    let mut failures: Vec<(Failure, FailureMode)> = Vec::new();
    let mut lacking = 0;
    for reply in replies {
        let failed = |reason: String| Failure {
            backend: reply.backend.to_string(),
            reason: shorten(&reason),
        };
        match &reply.reply {
            Reply::Result(result) => match vet(result, &check) {
                Ok(()) => answered.push(Answered {
                    backend: reply.backend,
                    result,
                }),
                Err(reason) => failures.push((failed(reason), reply.failure_mode)),
            },
            Reply::Error(err)
                if err.code == METHOD_NOT_FOUND && unsupported == Unsupported::AddsNothing =>
            {
                lacking += 1;
            }
            Reply::Error(err) => failures.push((
                failed(format!("JSON-RPC error {}: {}", err.code, err.message)),
                reply.failure_mode,
            )),
            Reply::Failed(reason) => failures.push((failed(reason.clone()), reply.failure_mode)),
        }
    }
    let closed = failures
        .iter()
        .any(|(_, mode)| *mode == FailureMode::FailClosed);
    let none_answered = !replies.is_empty() && answered.is_empty() && lacking == 0;
    let failures: Vec<Failure> = failures.into_iter().map(|(f, _)| f).collect();
    if closed || none_answered {
        return Err(FanOutError::Backends { method, failures });
    }
    Ok(Triage {
        answered,
        left_out: failures,
    })
}

fn vet(result: &Value, check: impl Fn(&Value) -> Result<(), String>) -> Result<(), String> {
    if !result.is_object() {
        return Err("result is not an object".to_string());
    }
    match result.get("resultType").and_then(Value::as_str) {
        None | Some("complete") => check(result),
        Some(other) => Err(format!("unexpected resultType {other:?}")),
    }
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// 2026-07-28 result fields: `resultType`, cache hints (the shortest `ttlMs` any backend
/// gave, 0 when none did; `public` only when every backend said so), and the gateway as
/// `_meta` server info. Nothing for earlier versions.
fn stateless_fields(
    result: &mut Map<String, Value>,
    style: ResultStyle,
    gateway: &GatewayInfo,
    answered: &[Answered<'_>],
) {
    if style == ResultStyle::SessionBased {
        return;
    }
    let ttl = answered
        .iter()
        .filter_map(|a| a.result.get("ttlMs").and_then(Value::as_u64))
        .min()
        .unwrap_or(0);
    let public = !answered.is_empty()
        && answered
            .iter()
            .all(|a| a.result.get("cacheScope").and_then(Value::as_str) == Some("public"));
    result.insert("resultType".into(), json!("complete"));
    result.insert("ttlMs".into(), json!(ttl));
    result.insert(
        "cacheScope".into(),
        json!(if public { "public" } else { "private" }),
    );
    result.insert(
        "_meta".into(),
        json!({ "io.modelcontextprotocol/serverInfo": gateway.to_json() }),
    );
}

#[cfg(test)]
mod tests;
