//! The session-based GET stream, where backends send what is not tied to a request (list
//! changes, log messages, server→client requests). A session has one stream per backend that
//! keeps sessions; with one, the client's GET is that backend's stream (through Envoy's router,
//! its server→client requests qualified like in routed answers). With several, a flavour with
//! streamed callouts (the dynamic module) opens every backend's stream and merges their events,
//! each rewritten for its backend, into one response it streams itself; elsewhere the
//! configured `listenBackend`'s stream serves, else 405 — the spec lets a server decline GET.

use std::collections::BTreeMap;
use std::sync::Arc;

use ai_gateway_core::jsonrpc::Id;
use ai_gateway_core::{Action, Host, LogLevel, StreamId};

use super::replies::Reply;
use super::upstream::{self, CallHeaders};
use super::{McpFilter, Phase};
use crate::event_rewrite::{EventRewriter, Rewritten};
use crate::listen_events::{self, ListenPart};
use crate::metrics::LISTEN;

/// How one backend stream is rewritten for the client.
pub(super) enum Part {
    /// A GET stream (or a routed answer) of the session-based protocol.
    Relay(EventRewriter),
    /// A part of a 2026-07-28 `subscriptions/listen` stream ([`listen_events`]).
    Listen(ListenPart),
}

impl Part {
    /// The client's bytes for `chunk`.
    pub(super) fn feed(&mut self, chunk: &[u8], now_millis: u64) -> Rewritten {
        match self {
            Part::Relay(rewriter) => rewriter.feed(chunk, now_millis),
            Part::Listen(part) => part.feed(chunk),
        }
    }

    fn ready(&self) -> bool {
        match self {
            Part::Relay(_) => true,
            Part::Listen(part) => part.acknowledged(),
        }
    }
}

/// The backend streams merged into one client stream: stream → (backend index, rewriter).
#[derive(Default)]
pub(super) struct MergedStreams {
    pub(super) open: BTreeMap<StreamId, (usize, Part)>,
    /// For a `subscriptions/listen` stream: the client's listen.
    pub(super) listen: Option<ClientListen>,
}

/// A 2026-07-28 client's listen stream: its request id, the filter the gateway acknowledges
/// once every backend stream is ready, and how the backend streams ended.
pub(super) struct ClientListen {
    pub(super) id: serde_json::Value,
    pub(super) honoured: serde_json::Value,
    pub(super) acknowledged: bool,
    /// A backend stream ended without its graceful result.
    pub(super) lost: bool,
}

impl McpFilter {
    /// A GET on the endpoint.
    pub(super) fn listen(&mut self, host: &mut dyn Host) -> Action {
        self.method = LISTEN;
        if self.token.is_none() {
            // Sessionless (2026-07-28) clients listen with `subscriptions/listen`.
            return self.decline(host, "a GET stream needs an Mcp-Session-Id");
        }
        if !self.open_session(host) {
            return Action::Pause;
        }
        let settings = Arc::clone(&self.settings);
        let streaming: Vec<usize> = settings
            .backends
            .iter()
            .enumerate()
            .filter(|(_, b)| self.upstream_session(&b.name).is_some())
            .map(|(i, _)| i)
            .collect();
        if let [only] = streaming.as_slice() {
            return self.route_to(host, *only, None);
        }
        if streaming.is_empty() {
            return self.decline(host, "no backend of this session keeps a stream");
        }
        if host.capabilities().streaming_callouts {
            return self.merge(host, &streaming);
        }
        match settings.listen_backend {
            Some(listen) if streaming.contains(&listen) => self.route_to(host, listen, None),
            _ => self.decline(
                host,
                "several backends keep streams for this session and none is the listenBackend",
            ),
        }
    }

    fn decline(&mut self, host: &mut dyn Host, why: &str) -> Action {
        self.answer(host, Reply::refused(405, why, "mcp_get_declined"))
    }

    /// Opens the GET stream of every backend in `backends` and answers the client with one
    /// stream of their events.
    fn merge(&mut self, host: &mut dyn Host, backends: &[usize]) -> Action {
        let settings = Arc::clone(&self.settings);
        let mut merged = MergedStreams::default();
        for &index in backends {
            let backend = &settings.backends[index];
            let session = self.upstream_session(&backend.name);
            let headers = CallHeaders {
                protocol_version: self.backend_version(&backend.name),
                session: session.as_deref(),
                mcp_method: None,
            };
            // No timeout: the stream lasts as long as the client listens.
            let request = upstream::callout(backend, "GET", headers, Vec::new(), 0);
            match host.start_stream(request) {
                Ok(id) => {
                    let rewriter = EventRewriter::new(&backend.name, settings.max_response_bytes);
                    merged.open.insert(id, (index, Part::Relay(rewriter)));
                }
                Err(err) => host.log(
                    LogLevel::Warn,
                    format_args!("mcp: GET stream of backend {}: {err}", backend.name),
                ),
            }
        }
        if merged.open.is_empty() {
            return self.answer(
                host,
                Reply::refused(502, "no backend stream could be opened", "mcp_get_failed"),
            );
        }
        let headers = [
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
        ];
        if let Err(err) = host.send_response_headers(200, &headers, false) {
            host.log(LogLevel::Error, format_args!("mcp: cannot stream: {err}"));
            return self.internal_error(host, Id::Null, "cannot stream");
        }
        self.status = Some(200);
        self.merged = Some(merged);
        self.phase = Phase::Answered;
        Action::Pause
    }

    /// A backend stream's status: a refusal closes that backend's part.
    pub(super) fn merged_headers(&mut self, host: &mut dyn Host, id: StreamId, status: u16) {
        if (200..300).contains(&status) {
            let part = self.merged.as_mut().and_then(|m| m.open.get_mut(&id));
            if let Some((_, Part::Listen(part))) = part {
                part.opened();
                self.acknowledge_when_ready(host);
            }
            return;
        }
        if let Some(backend) = self.backend_of(id) {
            host.log(
                LogLevel::Warn,
                format_args!("mcp: backend {backend} refused its stream: HTTP {status}"),
            );
        }
        self.close_part(host, id);
    }

    /// Events of a backend stream, rewritten for the client.
    pub(super) fn merged_data(&mut self, host: &mut dyn Host, id: StreamId, data: &[u8]) {
        let now = host.unix_millis();
        let Some((index, part)) = self.merged.as_mut().and_then(|m| m.open.get_mut(&id)) else {
            return;
        };
        let index = *index;
        let rewritten = part.feed(data, now);
        self.count_events(host, index, &rewritten);
        // Listen events before the gateway's acknowledgment would be ignored by the client.
        self.acknowledge_when_ready(host);
        let held = self
            .merged
            .as_ref()
            .and_then(|m| m.listen.as_ref())
            .is_some_and(|l| !l.acknowledged);
        if !rewritten.bytes.is_empty() && !held {
            if let Err(err) = host.send_response_data(&rewritten.bytes, false) {
                host.log(LogLevel::Debug, format_args!("mcp: merged stream: {err}"));
            }
        }
    }

    /// A listen stream is acknowledged once every open backend stream is ready (a 2026-07-28
    /// backend acknowledged, a GET stream is open), so that what happens after the client
    /// heard the acknowledgment reaches it.
    fn acknowledge_when_ready(&mut self, host: &mut dyn Host) {
        let Some(merged) = self.merged.as_mut() else {
            return;
        };
        let Some(listen) = merged.listen.as_mut() else {
            return;
        };
        if listen.acknowledged || merged.open.is_empty() {
            return;
        }
        if merged.open.values().all(|(_, part)| part.ready()) {
            listen.acknowledged = true;
            let ack = listen_events::acknowledgment(&listen.id, listen.honoured.clone());
            if let Err(err) = host.send_response_data(&ack, false) {
                host.log(LogLevel::Debug, format_args!("mcp: listen stream: {err}"));
            }
        }
    }

    /// A backend stream ended; the client's ends with the last one (a listen stream with the
    /// gateway's result when every backend ended gracefully, with an error when none was
    /// heard, else abruptly: the client then knows it lost events).
    pub(super) fn close_part(&mut self, host: &mut dyn Host, id: StreamId) {
        let Some(merged) = self.merged.as_mut() else {
            return;
        };
        let Some((_, part)) = merged.open.remove(&id) else {
            return;
        };
        if let Some(listen) = merged.listen.as_mut() {
            let graceful = matches!(&part, Part::Listen(p) if p.ended_gracefully());
            listen.lost |= !graceful;
        }
        if !merged.open.is_empty() {
            self.acknowledge_when_ready(host);
            return;
        }
        let last = match &merged.listen {
            Some(listen) if !listen.acknowledged => Some(listen_events::closing(
                &listen.id,
                Some("no backend listen stream could be opened"),
            )),
            Some(listen) if !listen.lost => Some(listen_events::closing(&listen.id, None)),
            _ => None,
        };
        if let Some(last) = last {
            if let Err(err) = host.send_response_data(&last, false) {
                host.log(LogLevel::Debug, format_args!("mcp: listen stream: {err}"));
            }
        }
        if let Err(err) = host.send_response_data(&[], true) {
            host.log(
                LogLevel::Debug,
                format_args!("mcp: merged stream end: {err}"),
            );
        }
    }

    fn backend_of(&self, id: StreamId) -> Option<&str> {
        let (index, _) = self.merged.as_ref()?.open.get(&id)?;
        Some(&self.settings.backends[*index].name)
    }
}
