//! `subscriptions/listen` from a 2026-07-28 client ([`crate::listen_events`]). The dynamic
//! module opens every MCP backend's stream by streamed callout — a 2026-07-28 backend's own
//! `subscriptions/listen` (asked for the client's flags and its URIs on that backend), a
//! session-based backend's GET stream on the client's bridged session ([`super::bridge`]) — and
//! answers with one stream: the gateway's acknowledgment once every backend stream is ready,
//! then their events rewritten, then its result when all ended gracefully ([`super::listen`]).
//! Resource subscriptions are honoured on 2026-07-28 backends only (a session-based backend
//! would need `resources/subscribe` on a session other clients share).
//!
//! Wasm (whole callouts only) routes the request through Envoy to one backend — the only MCP
//! backend, else `listenBackend` — when that backend speaks 2026-07-28, its answer rewritten
//! on the way; otherwise the client is told, with a JSON-RPC error, that this gateway does not
//! serve the method.

use std::sync::Arc;

use ai_gateway_core::jsonrpc::{Message, Request, INTERNAL_ERROR, METHOD_NOT_FOUND};
use ai_gateway_core::{Action, Host, LogLevel};
use serde_json::{json, Value};

use super::listen::{ClientListen, MergedStreams, Part};
use super::replies::Reply;
use super::upstream::{self, CallHeaders};
use super::{McpFilter, Phase};
use crate::listen_events::{id_value, Framing, ListenPart, Source, Wanted, LISTEN_METHOD};
use crate::metrics::LISTEN;
use crate::naming::uri::resource_tag;
use crate::naming::PrefixMode;

impl McpFilter {
    /// A 2026-07-28 client's `subscriptions/listen`.
    pub(super) fn subscriptions_listen(
        &mut self,
        host: &mut dyn Host,
        request: &Request,
    ) -> Action {
        self.method = LISTEN;
        let wanted = Wanted::from_params(request.params.as_ref());
        let listened: Vec<usize> = (self.settings.backends.iter().enumerate())
            .filter(|(_, b)| b.openapi.is_none())
            .map(|(i, _)| i)
            .collect();
        if host.capabilities().streaming_callouts {
            return self.listen_merged(host, request, wanted, &listened);
        }
        let target = match listened.as_slice() {
            [only] => Some(*only),
            _ => self
                .settings
                .listen_backend
                .filter(|i| listened.contains(i)),
        };
        let Some(index) = target else {
            return self.not_served(
                host,
                request,
                "several backends and none is the listenBackend",
            );
        };
        let name = self.settings.backends[index].name.clone();
        if self.bridging(&name) {
            return self.not_served(
                host,
                request,
                &format!("the listenBackend {name} keeps sessions (no subscriptions/listen)"),
            );
        }
        let (uris, prefix) = self.subscribed_uris(index, &wanted);
        let body = listen_body(request, &wanted, &uris);
        self.events = Some(Part::Listen(ListenPart::new(
            Source::Listen,
            Framing::Routed,
            wanted,
            id_value(&request.id),
            uris,
            prefix,
            self.settings.max_response_bytes,
        )));
        self.send_routed(host, index, body, request.id.clone(), false)
    }

    fn not_served(&mut self, host: &mut dyn Host, request: &Request, why: &str) -> Action {
        let message = format!("Method not found: {LISTEN_METHOD} ({why})");
        self.answer(
            host,
            Reply::jsonrpc(200, request.id.clone(), METHOD_NOT_FOUND, message),
        )
    }

    /// Opens every backend's stream and answers with their merged events.
    fn listen_merged(
        &mut self,
        host: &mut dyn Host,
        request: &Request,
        wanted: Wanted,
        listened: &[usize],
    ) -> Action {
        let settings = Arc::clone(&self.settings);
        let client_id = id_value(&request.id);
        let mut merged = MergedStreams::default();
        let mut honoured_uris = Vec::new();
        for &index in listened {
            let backend = &settings.backends[index];
            let (uris, prefix) = self.subscribed_uris(index, &wanted);
            let (source, callout) = if self.bridging(&backend.name) {
                let Some(bridged) = self.bridged_for(&backend.name) else {
                    host.log(
                        LogLevel::Info,
                        format_args!("mcp: no bridged session of {} to listen on", backend.name),
                    );
                    continue;
                };
                let headers = CallHeaders {
                    protocol_version: Some(bridged.version),
                    session: Some(&bridged.session),
                    mcp_method: None,
                };
                // No timeout: the stream lasts as long as the client listens.
                let get = upstream::callout(backend, "GET", headers, Vec::new(), 0);
                (Source::SessionStream, get)
            } else {
                honoured_uris.extend(uris.iter().map(|(_, client)| client.clone()));
                let headers = CallHeaders {
                    protocol_version: self.backend_version(&backend.name),
                    session: None,
                    mcp_method: Some(LISTEN_METHOD),
                };
                let body = listen_body(request, &wanted, &uris);
                let post = upstream::callout(backend, "POST", headers, body, 0);
                (Source::Listen, post)
            };
            let uris = if source == Source::Listen {
                uris
            } else {
                Vec::new()
            };
            match host.start_stream(callout) {
                Ok(id) => {
                    let part = ListenPart::new(
                        source,
                        Framing::Merged,
                        wanted.clone(),
                        client_id.clone(),
                        uris,
                        prefix,
                        settings.max_response_bytes,
                    );
                    merged.open.insert(id, (index, Part::Listen(part)));
                }
                Err(err) => host.log(
                    LogLevel::Warn,
                    format_args!("mcp: listen stream of backend {}: {err}", backend.name),
                ),
            }
        }
        if merged.open.is_empty() {
            let why = "no backend listen stream could be opened";
            return self.answer(
                host,
                Reply::jsonrpc(200, request.id.clone(), INTERNAL_ERROR, why),
            );
        }
        merged.listen = Some(ClientListen {
            id: client_id,
            honoured: wanted.filter(&honoured_uris),
            acknowledged: false,
            lost: false,
        });
        let headers = [
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
        ];
        if let Err(err) = host.send_response_headers(200, &headers, false) {
            host.log(LogLevel::Error, format_args!("mcp: cannot stream: {err}"));
            return self.internal_error(host, request.id.clone(), "cannot stream");
        }
        self.status = Some(200);
        self.merged = Some(merged);
        self.phase = Phase::Answered;
        Action::Pause
    }

    /// The client's subscribed URIs that live on backend `index`, as (upstream, client-facing)
    /// pairs, and the prefix that backend's other URIs get (none where they stay bare).
    fn subscribed_uris(
        &self,
        index: usize,
        wanted: &Wanted,
    ) -> (Vec<(String, String)>, Option<String>) {
        let name = &self.settings.backends[index].name;
        let naming = &self.settings.naming;
        let table = self.cache.snapshot().resources;
        let pairs: Vec<(String, String)> = (wanted.uris.iter())
            .filter_map(|client| {
                let upstream = naming.resolve_uri(table.as_deref(), client)?;
                (&upstream.backend == name).then(|| (upstream.name, client.clone()))
            })
            .collect();
        let bare = pairs.iter().any(|(upstream, client)| upstream == client);
        let prefixed = !bare && naming.mode() != PrefixMode::Never;
        (pairs, prefixed.then(|| format!("{}+", resource_tag(name))))
    }
}

/// The listen request for one 2026-07-28 backend: the client's, asking for its URIs only.
fn listen_body(request: &Request, wanted: &Wanted, uris: &[(String, String)]) -> Vec<u8> {
    let upstream: Vec<String> = uris.iter().map(|(up, _)| up.clone()).collect();
    let mut params = request.params.clone().unwrap_or_else(|| json!({}));
    if let Value::Object(map) = &mut params {
        map.insert("notifications".into(), wanted.filter(&upstream));
    }
    let request = Request {
        id: request.id.clone(),
        method: LISTEN_METHOD.into(),
        params: Some(params),
    };
    Message::Request(request).to_vec()
}
