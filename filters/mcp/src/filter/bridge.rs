//! Bridging a sessionless 2026-07-28 client to session-based backends ([`crate::bridged`]).
//!
//! - A backend is known to be session-based once it answered a sessionless 2026-07-28
//!   fan-out request (`server/discover`, a list) with HTTP 400 or 404: it is then initialized
//!   by callout with the client's `_meta` capabilities and info (+ `notifications/initialized`)
//!   and asked again on that session; `server/discover` uses its initialize result instead.
//! - Later fan-outs use the cached session (initializing first on a cache miss), with the
//!   session-era headers: its session id and negotiated version, no `Mcp-Method`.
//! - A routed request to such a backend is sent by callout on that session (initialized first
//!   on a cache miss) and answered locally as JSON in the 2026-07-28 shape (`resultType`
//!   added); server notifications before the answer are dropped. Envoy's router cannot carry
//!   it: the session-era answer needs rewriting, and a callout can be retried.
//! - A bridged session the backend lost (404, 400), in a fan-out or a routed request, is
//!   rebuilt like a token's ([`super::recovery`]) and the request asked once more.
//!
//! A routed request to a backend not yet known as session-based goes out as 2026-07-28
//! through Envoy's router; if the backend refuses it with 400 or 404 it is learned and the
//! request bridged by callout ([`super::recovery`]). A backend that then refuses to initialize
//! is unlearned (its 400 meant something else).

use std::sync::Arc;

use ai_gateway_core::jsonrpc::{Id, Message, Outcome, Response};
use ai_gateway_core::{Action, Host};
use serde_json::Value;

use super::fanout::{FanOut, Goal};
use super::recovery::Stage;
use super::upstream::{self, CallHeaders};
use super::{McpFilter, Phase};
use crate::bridged::Bridged;
use crate::merge;

impl McpFilter {
    /// Whether requests to `backend` go over a bridged session: a sessionless 2026-07-28
    /// client and a backend known to be session-based.
    pub(super) fn bridging(&self, backend: &str) -> bool {
        self.session.is_none()
            && self.client.is_some()
            && self.recovered.bridged.is_session_based(backend)
    }

    /// The bridged session of `backend` for this client, if one is cached.
    pub(super) fn bridged_for(&self, backend: &str) -> Option<Bridged> {
        let client = self.client.as_ref()?;
        if !self.bridging(backend) {
            return None;
        }
        self.recovered.bridged.get(backend, client.key)
    }

    /// A backend answered a sessionless 2026-07-28 request as a session-based server would:
    /// remember it (and forget a bridged session it no longer knows).
    pub(super) fn learn_session_based(&mut self, index: usize) {
        let (Some(client), None) = (&self.client, &self.session) else {
            return;
        };
        let name = &self.settings.backends[index].name;
        self.recovered.bridged.mark_session_based(name);
        self.recovered.bridged.remove(name, client.key);
    }

    /// The backend refused to initialize for a sessionless 2026-07-28 client: it is not
    /// session-based after all (its 400 was about something else); ask it directly again.
    pub(super) fn unlearn_session_based(&mut self, index: usize) {
        if self.session.is_none() && self.client.is_some() {
            let name = &self.settings.backends[index].name;
            self.recovered.bridged.unmark_session_based(name);
        }
    }

    /// Fan-out to a bridged backend: `server/discover` answered from the cached initialize
    /// result, a cache miss initialized first (the request follows on the new session).
    /// `true` when the request was handled here.
    pub(super) fn bridge_fan_out(
        &mut self,
        host: &mut dyn Host,
        fan: &mut FanOut,
        index: usize,
        body: &[u8],
    ) -> bool {
        let name = self.settings.backends[index].name.clone();
        if !self.bridging(&name) {
            return false;
        }
        match self.bridged_for(&name) {
            Some(bridged) if matches!(fan.goal, Goal::Discover) => {
                fan.replies
                    .push((index, merge::Reply::Result(bridged.init), None));
                true
            }
            Some(_) => false,
            None => {
                fan.bodies.push((index, body.to_vec()));
                fan.recovered.push(index);
                self.reinitialize(host, fan, index);
                true
            }
        }
    }

    /// After a bridged initialize of a `server/discover` fan-out: its result is the answer.
    pub(super) fn bridged_discover(&mut self, fan: &mut FanOut, index: usize) -> bool {
        if !matches!(fan.goal, Goal::Discover) {
            return false;
        }
        let name = &self.settings.backends[index].name;
        let Some(bridged) = self.bridged_for(name) else {
            return false;
        };
        fan.replies
            .push((index, merge::Reply::Result(bridged.init), None));
        true
    }

    /// A routed request to a bridged backend, sent by callout on its session (initialized
    /// first on a cache miss); the answer comes back through [`Self::answer_bridged`].
    pub(super) fn bridge_call(
        &mut self,
        host: &mut dyn Host,
        index: usize,
        id: Id,
        body: Vec<u8>,
    ) -> Action {
        let mut fan = FanOut::new(Goal::Forward, self.method, id);
        fan.bodies.push((index, body.clone()));
        let settings = Arc::clone(&self.settings);
        let backend = &settings.backends[index];
        match self.bridged_for(&backend.name) {
            Some(bridged) => {
                let headers = CallHeaders {
                    protocol_version: Some(bridged.version),
                    session: Some(&bridged.session),
                    mcp_method: None,
                };
                let request =
                    upstream::callout(backend, "POST", headers, body, settings.timeout_ms);
                self.start_call(host, &mut fan, index, Stage::Request, request);
            }
            None => {
                fan.recovered.push(index);
                self.reinitialize(host, &mut fan, index);
            }
        }
        self.await_fan_out(host, fan)
    }

    /// A routed answer got by callout (bridged, or retried after a lost session), as the
    /// client expects it: for a 2026-07-28 client a result gains `resultType: "complete"`
    /// (session-era servers never ask for input mid-request).
    /// Server notifications sent before the answer are not passed on.
    pub(super) fn answer_bridged(
        &mut self,
        host: &mut dyn Host,
        id: Id,
        replies: &[(usize, merge::Reply, Option<String>)],
    ) -> Action {
        let response = match replies.first().map(|(_, reply, _)| reply) {
            Some(merge::Reply::Result(result)) => {
                let mut result = result.clone();
                let stateless = self.speaks_stateless();
                if let Some(object) = result.as_object_mut().filter(|_| stateless) {
                    object
                        .entry("resultType")
                        .or_insert_with(|| Value::from("complete"));
                }
                Response::result(id, result)
            }
            Some(merge::Reply::Error(error)) => Response {
                id,
                outcome: Outcome::Error(error.clone()),
            },
            Some(merge::Reply::Failed(reason)) => {
                let backend = self.backend.map(|i| self.settings.backends[i].name.clone());
                let why = format!("backend {} failed: {reason}", backend.unwrap_or_default());
                return self.internal_error(host, id, &why);
            }
            None => return self.internal_error(host, id, "no answer from the backend"),
        };
        let body = Message::Response(response).to_vec();
        self.phase = Phase::Answered;
        self.status = Some(200);
        host.send_local_reply(
            200,
            &[("content-type", "application/json")],
            &body,
            "mcp_bridged",
        );
        Action::Pause
    }
}
