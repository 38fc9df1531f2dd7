//! OpenAPI backends ([`crate::openapi`]) in the filter: they take part in fan-outs without a
//! callout (their answers are known from the config: the tool list, an initialize result
//! offering tools), and a `tools/call` of one of their tools becomes one HTTP callout to the
//! API's cluster, answered locally as the JSON-RPC result. No session, no GET stream, no
//! prompts or resources.

use std::sync::Arc;

use ai_gateway_core::jsonrpc::{Id, Message, Request, Response, METHOD_NOT_FOUND};
use ai_gateway_core::{Action, CalloutId, CalloutRequest, CalloutResult, Host, LogLevel};
use serde_json::{json, Value};

use super::fanout::Goal;
use super::replies::Reply;
use super::{McpFilter, Phase};
use crate::config::{Backend, SUPPORTED_VERSIONS};
use crate::merge::{self, ListKind};
use crate::openapi::request::{self, HttpRequest};
use crate::openapi::response::{tool_error, tool_result};
use crate::openapi::OpenApi;
use crate::routing::{RouteError, SingleMethod, SingleTarget};

/// The version an OpenAPI backend answers `initialize` with when the client's is unknown.
const FALLBACK_VERSION: &str = "2025-11-25";

/// A `tools/call` waiting for the API's answer.
#[derive(Debug)]
pub(super) struct PendingCall {
    callout: CalloutId,
    backend: usize,
    operation: usize,
    id: Id,
}

/// What an OpenAPI backend answers a fan-out with; `None` when it takes no part (notifications,
/// DELETE: it has no session).
pub(super) fn fan_out_reply(api: &OpenApi, goal: &Goal, method: &str) -> Option<merge::Reply> {
    let not_offered = || {
        merge::Reply::Error(ai_gateway_core::jsonrpc::ErrorObject::new(
            METHOD_NOT_FOUND,
            format!("Method not found: {method}"),
        ))
    };
    let server_info = json!({"name": api.title, "version": env!("CARGO_PKG_VERSION")});
    let mut capabilities = json!({"capabilities": {"tools": {}}, "serverInfo": server_info});
    if let Some(description) = &api.description {
        capabilities["instructions"] = json!(description);
    }
    Some(match goal {
        Goal::List(ListKind::Tools, _) => merge::Reply::Result(json!({"tools": api.tools})),
        Goal::List(..) => not_offered(),
        Goal::Empty if method == "ping" => merge::Reply::Result(json!({})),
        Goal::Empty => not_offered(),
        Goal::Discover => {
            capabilities["supportedVersions"] = json!(SUPPORTED_VERSIONS);
            merge::Reply::Result(capabilities)
        }
        Goal::Initialize(params) => {
            let requested = params
                .as_ref()
                .and_then(|p| p.get("protocolVersion"))
                .and_then(Value::as_str)
                .filter(|v| SUPPORTED_VERSIONS.contains(v))
                .unwrap_or(FALLBACK_VERSION);
            capabilities["protocolVersion"] = json!(requested);
            merge::Reply::Result(capabilities)
        }
        Goal::Notify | Goal::Delete | Goal::Forward => return None,
    })
}

impl McpFilter {
    /// A single-target request resolved to OpenAPI backend `index`: `tools/call` is sent to the
    /// API; anything else names something such a backend does not have.
    pub(super) fn openapi_request(
        &mut self,
        host: &mut dyn Host,
        index: usize,
        request: &Request,
        single: &SingleTarget,
        tool: &str,
    ) -> Action {
        let settings = Arc::clone(&self.settings);
        let backend = &settings.backends[index];
        self.backend = Some(index);
        let api = backend.openapi.as_ref();
        let found = api.and_then(|api| {
            let at = api.operations.iter().position(|op| op.name == tool)?;
            Some((api, at))
        });
        let (api, operation) = match (single.method, found) {
            (SingleMethod::ToolsCall, Some(found)) => found,
            _ => {
                let err = RouteError::UnknownTarget(single.target.clone());
                return self.answer(host, Reply::route_error(&err, request.id.clone()));
            }
        };
        let op = &api.operations[operation];
        let arguments = request.params.as_ref().and_then(|p| p.get("arguments"));
        let mut seed = [0u8; 8];
        // Only the multipart boundary uses it; a fixed one is still checked against the fields.
        let _ = host.random_bytes(&mut seed);
        let http = match request::build(op, &api.base_path, arguments, u64::from_le_bytes(seed)) {
            Ok(http) => http,
            Err(err) => {
                let result = tool_error(format!("{}: {err}", op.name));
                return self.answer_tool(host, request.id.clone(), result);
            }
        };
        let callout = callout(backend, http, settings.timeout_ms);
        match host.http_callout(callout) {
            Ok(id) => {
                self.pending = Some(PendingCall {
                    callout: id,
                    backend: index,
                    operation,
                    id: request.id.clone(),
                });
                self.phase = Phase::FanningOut;
                Action::Pause
            }
            Err(err) => {
                host.log(
                    LogLevel::Warn,
                    format_args!("mcp: callout to {} failed: {err}", backend.cluster),
                );
                let result = tool_error(format!("{} could not be called: {err}", op.label()));
                self.answer_tool(host, request.id.clone(), result)
            }
        }
    }

    /// The API answered (or the callout failed): `false` when `id` is not this filter's call.
    pub(super) fn openapi_done(
        &mut self,
        host: &mut dyn Host,
        id: CalloutId,
        result: &CalloutResult,
    ) -> bool {
        if self.pending.as_ref().is_none_or(|p| p.callout != id) {
            return false;
        }
        let Some(pending) = self.pending.take() else {
            return false;
        };
        let settings = Arc::clone(&self.settings);
        let Some(op) = settings.backends[pending.backend]
            .openapi
            .as_ref()
            .and_then(|api| api.operations.get(pending.operation))
        else {
            return false;
        };
        let max = settings.max_response_bytes;
        let answer = tool_result(op, result, max, settings.timeout_ms);
        self.answer_tool(host, pending.id, answer);
        true
    }

    /// Answers a `tools/call` with `result` (a `CallToolResult`); a 2026-07-28 client's result
    /// says it is complete. Tool errors are counted as such.
    fn answer_tool(&mut self, host: &mut dyn Host, id: Id, mut result: Value) -> Action {
        self.tool_error = result.get("isError") == Some(&Value::Bool(true));
        if self.speaks_stateless() {
            result["resultType"] = json!("complete");
        }
        let body = Message::Response(Response::result(id, result)).to_vec();
        self.phase = Phase::Answered;
        self.status = Some(200);
        host.send_local_reply(
            200,
            &[("content-type", "application/json")],
            &body,
            "mcp_openapi",
        );
        Action::Pause
    }
}

/// The callout of one operation call: the built request, the backend's authority and headers.
fn callout(backend: &Backend, http: HttpRequest, timeout_ms: u64) -> CalloutRequest {
    let authority = backend.host.as_deref().unwrap_or(&backend.cluster);
    let mut headers: Vec<(String, String)> = vec![
        (":method".into(), http.method),
        (":path".into(), http.path),
        (":authority".into(), authority.into()),
        (
            "accept".into(),
            "application/json, text/plain;q=0.9, */*;q=0.8".into(),
        ),
    ];
    // The configured headers (credentials) win over a parameter of the same name.
    let configured = |name: &str| backend.headers.iter().any(|(n, _)| n == name);
    headers.extend(http.headers.into_iter().filter(|(n, _)| !configured(n)));
    headers.extend(backend.headers.iter().cloned());
    CalloutRequest {
        cluster: backend.cluster.clone(),
        headers,
        body: http.body,
        timeout_ms,
    }
}
