//! Fan-out: one callout per backend (in parallel), each answer collected whole, merged with
//! [`crate::merge`], and answered locally. Also the session lifecycle that rides on it:
//! `initialize` seals the backends' sessions into the gateway's token, and
//! `notifications/initialized` and DELETE reach every backend's own session.
//!
//! Lost upstream sessions ([`super::recovery`]): when a backend answers a fan-out list, `ping`, `logging/setLevel`
//! or `server/discover` with 404 (400 from server-everything) for its session, it is
//! initialized again from the capabilities and client info in the token, sent
//! `notifications/initialized`, and asked once more; the replacement is remembered per
//! process ([`crate::recovered`]) and used by later requests, routed ones included. A routed
//! request that meets a lost session first (its refusal arrives through Envoy's router) is
//! recovered the same way and retried once by callout; the retried answer (JSON) replaces the
//! refusal ([`super::recovery`]).

use std::sync::Arc;

use ai_gateway_core::jsonrpc::{Id, Message, Notification, Request, Response, METHOD_NOT_FOUND};
use ai_gateway_core::{Action, CalloutId, CalloutResult, Host, LogLevel};
use serde_json::Value;

use super::openapi_call;
use super::recovery::{lost_session, Stage, REINIT_ID};
use super::upstream::{self, CallHeaders};
use super::{McpFilter, Phase, Reply};
use crate::cursor::Page;
use crate::merge::{
    self, BackendReply, FanOutError, GatewayInfo, ListContext, ListKind, ListTable, Merged,
    ResultStyle,
};
use crate::metrics::{FANOUT_FAILURES_TOTAL, SESSIONS_TOTAL};
use crate::routing::FanOutMethod;
use crate::session_token::{SessionPayload, NONCE_LEN};

/// What the merged answer will be.
#[derive(Debug)]
pub(super) enum Goal {
    List(ListKind, Page),
    /// `ping`, `logging/setLevel`: an empty result.
    Empty,
    Discover,
    /// `initialize` with the client's params (capabilities and info go into the token).
    Initialize(Option<Value>),
    /// A notification: 202 once every backend has it.
    Notify,
    /// DELETE of the session: 204 once every backend's session is ended.
    Delete,
    /// A routed request sent by callout over a bridged session ([`super::bridge`]).
    Forward,
}

/// An outstanding fan-out.
#[derive(Debug)]
pub(super) struct FanOut {
    pub(super) goal: Goal,
    pub(super) method: &'static str,
    pub(super) id: Id,
    /// Callout → backend index and what the callout is.
    pub(super) calls: Vec<(CalloutId, usize, Stage)>,
    /// The request body each backend with a session got, for a retry after recovery.
    pub(super) bodies: Vec<(usize, Vec<u8>)>,
    /// Backends whose lost session was already recovered once in this fan-out.
    pub(super) recovered: Vec<usize>,
    /// Backend index, its reply and the upstream session it issued.
    pub(super) replies: Vec<(usize, merge::Reply, Option<String>)>,
}

impl FanOut {
    /// A fan-out with nothing sent yet.
    pub(super) fn new(goal: Goal, method: &'static str, id: Id) -> Self {
        FanOut {
            goal,
            method,
            id,
            calls: Vec::new(),
            bodies: Vec::new(),
            recovered: Vec::new(),
            replies: Vec::new(),
        }
    }
}

impl McpFilter {
    /// Starts a fan-out of `message` (a request or notification) to every backend.
    pub(super) fn fan_out(
        &mut self,
        host: &mut dyn Host,
        method: FanOutMethod,
        message: &Message,
    ) -> Action {
        let (id, params) = match message {
            Message::Request(r) => (r.id.clone(), r.params.clone()),
            Message::Notification(n) => (Id::Null, n.params.clone()),
            Message::Response(_) => (Id::Null, None),
        };
        let goal = match method {
            FanOutMethod::Initialize => Goal::Initialize(params.clone()),
            FanOutMethod::Initialized | FanOutMethod::ClientNotification => Goal::Notify,
            FanOutMethod::ServerDiscover => Goal::Discover,
            FanOutMethod::Ping | FanOutMethod::LoggingSetLevel => Goal::Empty,
            other => {
                let Some(kind) = ListKind::from_fan_out(other) else {
                    return self
                        .answer(host, Reply::jsonrpc(200, id, METHOD_NOT_FOUND, "no merge"));
                };
                match Page::from_params(&self.settings.sealer, kind, params.as_ref()) {
                    Ok(page) => Goal::List(kind, page),
                    Err(err) => {
                        return self.answer(
                            host,
                            Reply::from_response(200, err.response(id), "mcp_bad_cursor"),
                        )
                    }
                }
            }
        };
        let mut fan = FanOut::new(goal, method.as_str(), id.clone());
        let settings = std::sync::Arc::clone(&self.settings);
        for (index, backend) in settings.backends.iter().enumerate() {
            let params = match &fan.goal {
                Goal::List(_, page) => match page.upstream_params(&backend.name, params.as_ref()) {
                    Some(p) => Some(p),
                    None => continue,
                },
                Goal::Notify if !self.answered_initialize(&backend.name) => continue,
                _ => params.clone(),
            };
            let body = match message {
                Message::Notification(n) => Message::Notification(Notification {
                    method: n.method.clone(),
                    params,
                }),
                _ => Message::Request(Request {
                    id: id.clone(),
                    method: method.as_str().to_string(),
                    params,
                }),
            }
            .to_vec();
            if let Some(api) = &backend.openapi {
                if let Some(reply) = openapi_call::fan_out_reply(api, &fan.goal, method.as_str()) {
                    fan.replies.push((index, reply, None));
                }
                continue;
            }
            if self.bridge_fan_out(host, &mut fan, index, &body) {
                continue;
            }
            let session = self.upstream_session(&backend.name);
            let headers = self.call_headers(
                &backend.name,
                session.as_deref(),
                method.as_str(),
                &fan.goal,
            );
            if session.is_some() || self.client.is_some() {
                fan.bodies.push((index, body.clone()));
            }
            let request = upstream::callout(backend, "POST", headers, body, settings.timeout_ms);
            self.start_call(host, &mut fan, index, Stage::Request, request);
        }
        self.await_fan_out(host, fan)
    }

    /// DELETE of a gateway session: ends every backend's own session.
    pub(super) fn end_session(&mut self, host: &mut dyn Host) -> Action {
        let mut fan = FanOut::new(Goal::Delete, "delete", Id::Null);
        let settings = std::sync::Arc::clone(&self.settings);
        for (index, backend) in settings.backends.iter().enumerate() {
            let Some(session) = self.upstream_session(&backend.name) else {
                continue;
            };
            let headers = CallHeaders {
                protocol_version: self.backend_version(&backend.name),
                session: Some(&session),
                mcp_method: None,
            };
            let request =
                upstream::callout(backend, "DELETE", headers, Vec::new(), settings.timeout_ms);
            self.start_call(host, &mut fan, index, Stage::Request, request);
        }
        self.await_fan_out(host, fan)
    }

    pub(super) fn start_call(
        &mut self,
        host: &mut dyn Host,
        fan: &mut FanOut,
        index: usize,
        stage: Stage,
        request: ai_gateway_core::CalloutRequest,
    ) {
        match host.http_callout(request) {
            Ok(call) => fan.calls.push((call, index, stage)),
            Err(err) => fan
                .replies
                .push((index, merge::Reply::Failed(err.to_string()), None)),
        }
    }

    pub(super) fn await_fan_out(&mut self, host: &mut dyn Host, fan: FanOut) -> Action {
        if fan.calls.is_empty() {
            return self.finish(host, fan);
        }
        self.phase = Phase::FanningOut;
        self.fan = Some(fan);
        Action::Pause
    }

    /// One callout finished; the last one completes the fan-out.
    pub(super) fn callout_done(
        &mut self,
        host: &mut dyn Host,
        call: CalloutId,
        result: CalloutResult,
    ) {
        let Some(mut fan) = self.fan.take() else {
            return;
        };
        let Some(at) = fan.calls.iter().position(|(c, _, _)| *c == call) else {
            self.fan = Some(fan);
            return;
        };
        let (_, index, stage) = fan.calls.swap_remove(at);
        let max = self.settings.max_response_bytes;
        match stage {
            Stage::Request if lost_session(&fan, index, &result) => {
                fan.recovered.push(index);
                self.learn_session_based(index);
                self.reinitialize(host, &mut fan, index);
            }
            Stage::Reinit => {
                let (reply, session) =
                    upstream::read_reply(result, &Id::String(REINIT_ID.into()), max);
                match (reply, session) {
                    (merge::Reply::Result(init), Some(session)) => {
                        self.reinitialized(host, &mut fan, index, session, init)
                    }
                    _ => {
                        self.unlearn_session_based(index);
                        fan.replies.push((
                            index,
                            merge::Reply::Failed("session lost and re-initialize failed".into()),
                            None,
                        ))
                    }
                }
            }
            Stage::Reinitialized(session) => {
                if !self.bridged_discover(&mut fan, index) {
                    self.retry(host, &mut fan, index, &session)
                }
            }
            Stage::Request | Stage::Retry => {
                let (reply, session) = match fan.goal {
                    Goal::Notify | Goal::Delete => (status_only(result), None),
                    _ => upstream::read_reply(result, &fan.id, max),
                };
                fan.replies.push((index, reply, session));
            }
        }
        if fan.calls.is_empty() {
            self.finish(host, fan);
        } else {
            self.fan = Some(fan);
        }
    }

    fn finish(&mut self, host: &mut dyn Host, mut fan: FanOut) -> Action {
        fan.replies.sort_by_key(|(index, _, _)| *index);
        let settings = std::sync::Arc::clone(&self.settings);
        let replies: Vec<BackendReply<'_>> = fan
            .replies
            .iter()
            .map(|(index, reply, _)| BackendReply {
                backend: &settings.backends[*index].name,
                failure_mode: settings.backends[*index].failure_mode,
                reply: reply.clone(),
            })
            .collect();
        let gateway = GatewayInfo {
            name: "ai-gateway".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        };
        let style = ResultStyle::for_version(self.client_version().unwrap_or("2025-11-25"));
        let id = fan.id.clone();
        match &fan.goal {
            Goal::Notify | Goal::Delete => {
                for reply in &replies {
                    if let merge::Reply::Failed(reason) = &reply.reply {
                        self.count_failure(host, fan.method, reply.backend, reason);
                    }
                }
                let status = if matches!(fan.goal, Goal::Notify) {
                    202
                } else {
                    204
                };
                self.phase = Phase::Answered;
                self.status = Some(status);
                host.send_local_reply(status, &[], b"", "mcp_fan_out");
                Action::Pause
            }
            Goal::Forward => self.answer_bridged(host, id, &fan.replies),
            Goal::Empty => {
                let method = if fan.method == "ping" {
                    FanOutMethod::Ping
                } else {
                    FanOutMethod::LoggingSetLevel
                };
                let merged = merge::merge_empty(method, style, &gateway, &replies);
                self.answer_merged(host, fan.method, id, merged, |v| v)
            }
            Goal::Discover => {
                let merged = merge::merge_discover(
                    &gateway,
                    &settings.naming,
                    &settings.protocol_versions,
                    &replies,
                );
                self.answer_merged(host, fan.method, id, merged, |v| v)
            }
            Goal::List(kind, page) => {
                let kind = *kind;
                let all_lack = !replies.is_empty()
                    && replies.iter().all(
                        |r| matches!(&r.reply, merge::Reply::Error(e) if e.code == METHOD_NOT_FOUND),
                    );
                if all_lack {
                    let message = format!("Method not found: no backend offers {}", kind.method());
                    return self.answer(host, Reply::jsonrpc(200, id, METHOD_NOT_FOUND, message));
                }
                let Some(nonce) = self.nonce(host) else {
                    return self.internal_error(host, id, "no random bytes for the cursor");
                };
                let ctx = ListContext {
                    naming: &settings.naming,
                    sealer: &settings.sealer,
                    nonce,
                    style,
                    gateway: &gateway,
                    known: &[],
                };
                let merged = merge::merge_list(kind, &ctx, &replies);
                if let (Ok(merged), Page::First) = (&merged, page) {
                    for refusal in &merged.value.refused {
                        host.log(
                            LogLevel::Warn,
                            format_args!(
                                "mcp: {} of backend {} left out of {}: {:?}",
                                refusal.name,
                                refusal.backend,
                                kind.method(),
                                refusal.reason
                            ),
                        );
                    }
                    match merged.value.table.clone() {
                        ListTable::Names(table) if kind == ListKind::Tools => {
                            self.cache.set_tools(table)
                        }
                        ListTable::Names(table) => self.cache.set_prompts(table),
                        ListTable::Uris(table) if kind == ListKind::Resources => {
                            self.cache.set_resources(table)
                        }
                        ListTable::Uris(_) => {}
                    }
                }
                self.answer_merged(host, fan.method, id, merged, |page| page.result)
            }
            Goal::Initialize(params) => {
                let requested = params
                    .as_ref()
                    .and_then(|p| p.get("protocolVersion"))
                    .and_then(Value::as_str)
                    .unwrap_or("2025-03-26")
                    .to_string();
                let merged = merge::merge_initialize(
                    &gateway,
                    &settings.naming,
                    &requested,
                    &settings.protocol_versions,
                    &replies,
                );
                let merged = match merged {
                    Ok(merged) => merged,
                    Err(err) => {
                        return self.answer_merged::<Value>(host, fan.method, id, Err(err), |v| v)
                    }
                };
                let payload = SessionPayload {
                    protocol_version: merged.value.protocol_version.clone(),
                    client_capabilities: field(params, "capabilities"),
                    client_info: field(params, "clientInfo"),
                    upstream_sessions: fan
                        .replies
                        .iter()
                        .filter_map(|(i, _, s)| {
                            Some((settings.backends[*i].name.clone(), s.clone()?))
                        })
                        .collect(),
                    backend_versions: merged.value.backend_versions.clone(),
                    issued_at: host.unix_seconds(),
                };
                let Some(nonce) = self.nonce(host) else {
                    return self.internal_error(host, id, "no random bytes for the session");
                };
                let token = match settings.sealer.seal(&payload, nonce) {
                    Ok(token) => token,
                    Err(err) => {
                        host.log(
                            LogLevel::Error,
                            format_args!("mcp: cannot seal a session: {err}"),
                        );
                        return self.internal_error(host, id, "cannot create the session");
                    }
                };
                host.counter_add(SESSIONS_TOTAL, &["created", "none"], 1);
                self.recovered
                    .opened
                    .insert(token.clone(), Arc::new(payload));
                self.session_created = Some(token);
                let result = Merged {
                    value: merged.value.result,
                    left_out: merged.left_out,
                };
                self.answer_merged(host, fan.method, id, Ok(result), |v| v)
            }
        }
    }

    /// Answers a merge: the result, or the error naming the failed backends. Failures are
    /// logged and counted either way.
    fn answer_merged<T>(
        &mut self,
        host: &mut dyn Host,
        method: &'static str,
        id: Id,
        merged: Result<Merged<T>, FanOutError>,
        result: impl FnOnce(T) -> Value,
    ) -> Action {
        match merged {
            Ok(merged) => {
                for failure in &merged.left_out {
                    self.count_failure(host, method, &failure.backend, &failure.reason);
                }
                let body = Message::Response(Response::result(id, result(merged.value))).to_vec();
                self.phase = Phase::Answered;
                self.status = Some(200);
                let mut headers = vec![("content-type", "application/json")];
                let token = self.session_created.take();
                if let Some(token) = &token {
                    headers.push(("mcp-session-id", token.as_str()));
                }
                host.send_local_reply(200, &headers, &body, "mcp_fan_out");
                Action::Pause
            }
            Err(err) => {
                for failure in err.failures() {
                    self.count_failure(host, method, &failure.backend, &failure.reason);
                }
                self.answer(
                    host,
                    Reply::from_response(200, err.response(id), "mcp_fan_out_failed"),
                )
            }
        }
    }

    fn count_failure(
        &self,
        host: &mut dyn Host,
        method: &'static str,
        backend: &str,
        reason: &str,
    ) {
        host.log(
            LogLevel::Warn,
            format_args!("mcp: {method} fan-out: backend {backend} failed: {reason}"),
        );
        host.counter_add(FANOUT_FAILURES_TOTAL, &[method, backend], 1);
    }

    fn nonce(&self, host: &mut dyn Host) -> Option<[u8; NONCE_LEN]> {
        let mut nonce = [0u8; NONCE_LEN];
        match host.random_bytes(&mut nonce) {
            Ok(()) => Some(nonce),
            Err(err) => {
                host.log(LogLevel::Error, format_args!("mcp: no random bytes: {err}"));
                None
            }
        }
    }

    /// The headers of a fan-out callout to `backend`.
    fn call_headers<'a>(
        &'a self,
        backend: &str,
        session: Option<&'a str>,
        method: &'static str,
        goal: &Goal,
    ) -> CallHeaders<'a> {
        if matches!(goal, Goal::Initialize(_)) {
            return CallHeaders::default();
        }
        let modern = self.speaks_stateless() && !self.bridging(backend);
        CallHeaders {
            protocol_version: self.backend_version(backend),
            session,
            mcp_method: modern.then_some(method),
        }
    }

    /// The version the client speaks: its header, else the one its session negotiated.
    pub(super) fn client_version(&self) -> Option<&str> {
        self.client_version
            .as_deref()
            .or(self.session.as_ref().map(|s| s.protocol_version.as_str()))
    }

    /// Whether the client speaks the stateless 2026-07-28 wire.
    pub(super) fn speaks_stateless(&self) -> bool {
        self.client_version()
            .is_some_and(|v| ResultStyle::for_version(v) == ResultStyle::Stateless)
    }

    /// The version to send `backend`: the one it negotiated in the session (or its bridged
    /// session), else the client's.
    pub(super) fn backend_version(&self, backend: &str) -> Option<String> {
        if let Some(bridged) = self.bridged_for(backend) {
            return Some(bridged.version);
        }
        self.session
            .as_ref()
            .and_then(|s| s.backend_versions.get(backend))
            .map(String::as_str)
            .or(self.client_version())
            .map(str::to_string)
    }

    /// `backend`'s own session id in the client's session: a replacement made in this
    /// process when it lost the first one, else the one in the token.
    pub(super) fn upstream_session(&self, backend: &str) -> Option<String> {
        if let Some(bridged) = self.bridged_for(backend) {
            return Some(bridged.session);
        }
        let issued = self.session.as_ref()?.upstream_sessions.get(backend)?;
        Some(
            self.recovered
                .get(&self.session_token, backend)
                .unwrap_or_else(|| issued.clone()),
        )
    }

    /// Whether `backend` answered the session's `initialize` (without a session: every one).
    fn answered_initialize(&self, backend: &str) -> bool {
        self.session
            .as_ref()
            .is_none_or(|s| s.backend_versions.contains_key(backend))
    }
}

/// Success of a callout whose body does not matter (notifications, DELETE).
fn status_only(result: CalloutResult) -> merge::Reply {
    match result {
        Ok(r) if (200..300).contains(&r.status) => merge::Reply::Result(Value::Null),
        Ok(r) => merge::Reply::Failed(format!("HTTP {}", r.status)),
        Err(failure) => merge::Reply::Failed(failure.to_string()),
    }
}

fn field(params: &Option<Value>, name: &str) -> Value {
    params
        .as_ref()
        .and_then(|p| p.get(name))
        .cloned()
        .unwrap_or(Value::Null)
}
