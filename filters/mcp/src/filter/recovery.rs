//! Recovery of a backend that lost the session a gateway token names: initialize it again,
//! complete the handshake, remember the replacement, ask the request once more (see the
//! [`super::fanout`] module docs for when this applies).

use ai_gateway_core::jsonrpc::{self, Id, Message, Notification, Request};
use ai_gateway_core::{Action, CalloutResult, Host, LogLevel};
use serde_json::{json, Value};

use super::fanout::{FanOut, Goal};
use super::upstream::{self, CallHeaders};
use super::McpFilter;
use crate::bridged::Bridged;
use crate::metrics::SESSIONS_TOTAL;

/// What one callout of a fan-out is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Stage {
    /// The fanned-out request itself.
    Request,
    /// Re-initializing a backend that lost its session.
    Reinit,
    /// Its `notifications/initialized`, carrying the replacement session.
    Reinitialized(String),
    /// The request again, on the replacement session (no second recovery).
    Retry,
}

/// The version a bridged session asks for: the newest session-based one.
const BRIDGED_VERSION: &str = "2025-11-25";

/// The JSON-RPC id of the gateway's own re-initialize requests.
pub(super) const REINIT_ID: &str = "ai-gateway-reinitialize";

/// Whether a backend answered a request with "unknown session" (404 by the spec;
/// server-everything says 400) for a session it issued, not yet recovered in this fan-out.
/// Only requests that are safe to send twice are retried, and a bridged routed request
/// (one refused for its session was never run).
pub(super) fn lost_session(fan: &FanOut, index: usize, result: &CalloutResult) -> bool {
    let status = match result {
        Ok(response) => response.status,
        Err(_) => return false,
    };
    (status == 404 || status == 400)
        && matches!(
            fan.goal,
            Goal::List(..) | Goal::Empty | Goal::Discover | Goal::Forward
        )
        && !fan.recovered.contains(&index)
        && fan.bodies.iter().any(|(i, _)| *i == index)
}

impl McpFilter {
    /// Initializes backend `index` again with the client's capabilities and info from the
    /// token, so the server shows the client what it showed at the first initialize.
    pub(super) fn reinitialize(&mut self, host: &mut dyn Host, fan: &mut FanOut, index: usize) {
        let settings = std::sync::Arc::clone(&self.settings);
        let backend = &settings.backends[index];
        // A token's client, or a sessionless 2026-07-28 client bridged to this backend (which
        // is offered the newest session-based version).
        let (version, capabilities, client_info) = match (&self.session, &self.client) {
            (Some(session), _) => (
                self.backend_version(&backend.name)
                    .unwrap_or_else(|| session.protocol_version.clone()),
                session.client_capabilities.clone(),
                session.client_info.clone(),
            ),
            (None, Some(client)) => (
                BRIDGED_VERSION.to_string(),
                client.capabilities.clone(),
                client.info.clone(),
            ),
            (None, None) => return,
        };
        let gateway = json!({"name": "ai-gateway", "version": env!("CARGO_PKG_VERSION")});
        let client_info = if client_info.get("name").is_some() {
            client_info
        } else {
            gateway
        };
        let capabilities = if capabilities.is_object() {
            capabilities
        } else {
            json!({})
        };
        let body = Message::Request(Request {
            id: Id::String(REINIT_ID.into()),
            method: "initialize".into(),
            params: Some(json!({
                "protocolVersion": version,
                "capabilities": capabilities,
                "clientInfo": client_info,
            })),
        })
        .to_vec();
        host.log(
            LogLevel::Info,
            format_args!(
                "mcp: backend {} lost its session; initializing it again",
                backend.name
            ),
        );
        let request = upstream::callout(
            backend,
            "POST",
            CallHeaders::default(),
            body,
            settings.timeout_ms,
        );
        self.start_call(host, fan, index, Stage::Reinit, request);
    }

    /// Remembers the replacement session and completes its handshake.
    pub(super) fn reinitialized(
        &mut self,
        host: &mut dyn Host,
        fan: &mut FanOut,
        index: usize,
        session: String,
        init: Value,
    ) {
        let settings = std::sync::Arc::clone(&self.settings);
        let backend = &settings.backends[index];
        let event = match &self.client {
            Some(client) if self.session.is_none() => {
                let version = init
                    .get("protocolVersion")
                    .and_then(Value::as_str)
                    .unwrap_or(BRIDGED_VERSION)
                    .to_string();
                let bridged = Bridged {
                    session: session.clone(),
                    version,
                    init,
                };
                self.recovered
                    .bridged
                    .insert(&backend.name, client.key, bridged);
                "upstream_bridged"
            }
            _ => {
                self.recovered
                    .insert(&self.session_token, &backend.name, session.clone());
                "upstream_reinitialized"
            }
        };
        host.counter_add(SESSIONS_TOTAL, &[event, &backend.name], 1);
        let body = Message::Notification(Notification {
            method: "notifications/initialized".into(),
            params: None,
        })
        .to_vec();
        let headers = CallHeaders {
            protocol_version: self.backend_version(&backend.name),
            session: Some(&session),
            mcp_method: None,
        };
        let request = upstream::callout(backend, "POST", headers, body, settings.timeout_ms);
        let stage = Stage::Reinitialized(session.clone());
        self.start_call(host, fan, index, stage, request);
    }

    /// Sends the original request again on the replacement session.
    pub(super) fn retry(
        &mut self,
        host: &mut dyn Host,
        fan: &mut FanOut,
        index: usize,
        session: &str,
    ) {
        let settings = std::sync::Arc::clone(&self.settings);
        let backend = &settings.backends[index];
        let Some(body) = fan
            .bodies
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, b)| b.clone())
        else {
            return;
        };
        let headers = CallHeaders {
            protocol_version: self.backend_version(&backend.name),
            session: Some(session),
            mcp_method: None,
        };
        let request = upstream::callout(backend, "POST", headers, body, settings.timeout_ms);
        self.start_call(host, fan, index, Stage::Retry, request);
    }

    /// A routed request met a lost upstream session (404; 400 from server-everything): the
    /// backend is initialized again from the token and the request retried once by callout;
    /// its answer replaces the refusal (JSON, server notifications before it dropped). For a
    /// sessionless 2026-07-28 client the refusal teaches that the backend is session-based:
    /// the request is bridged ([`super::bridge`]).
    pub(super) fn recover_routed(&mut self, host: &mut dyn Host, body: Vec<u8>) -> Action {
        let Some(index) = self.backend else {
            return Action::Continue;
        };
        let id = match jsonrpc::parse_message(&body) {
            Ok(Message::Request(request)) => request.id,
            _ => return Action::Continue,
        };
        if self.session.is_none() {
            // A sessionless 2026-07-28 client: the backend is session-based; bridge it.
            if self.client.is_none() {
                return Action::Continue;
            }
            self.learn_session_based(index);
            return self.bridge_call(host, index, id, body);
        }
        let mut fan = FanOut::new(Goal::Forward, self.method, id);
        fan.bodies.push((index, body));
        fan.recovered.push(index);
        self.reinitialize(host, &mut fan, index);
        if fan.calls.is_empty() {
            return Action::Continue;
        }
        self.phase = super::Phase::FanningOut;
        self.fan = Some(fan);
        Action::Pause
    }
}
