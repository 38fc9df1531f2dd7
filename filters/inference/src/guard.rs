//! The guard stage, placed before ext_proc: a client must never choose a pod, so any routing
//! header it sent is removed before the EPP (and everything after it) can mistake it for the
//! EPP's answer. With body routing, it also reads the request's `model` and exposes it as
//! `x-gateway-model-name` for route matching, before ext_proc picks its per-route settings.
//! On the way back it removes the served-endpoint header the route stage left for the EPP.
//!
//! With `eppTimeoutMs` it also bounds the EPP exchange: ext_proc in `FULL_DUPLEX_STREAMED` mode
//! has no message timeout, so an EPP that takes the stream and never answers would hold the
//! request forever. The guard arms a stream timer at the request headers; when it fires before
//! the route stage marked the stream ([`ROUTED_NAMESPACE`]/[`ROUTED_KEY`], written once ext_proc
//! let the request go) and before any response began, the client gets a 503.

use std::sync::Arc;

use ai_gateway_core::{Action, Direction, Host, HttpFilter, LogLevel};

use crate::config::GuardSettings;
use crate::headers::{served_header_used, CLIENT_FORBIDDEN, MODEL_NAME, SERVED};
use crate::metrics::{EPP_TIMEOUTS_TOTAL, FORGED_HEADERS_TOTAL};
use crate::request_body;

/// Metadata namespace of the route stage's per-stream marker (dynamic metadata in the dynamic
/// module, filter state `wasm.<namespace>.<key>` in Wasm; both read back by `Host::metadata`).
pub(crate) const ROUTED_NAMESPACE: &str = "ai_gateway.inference";
/// The marker's key: set when the route stage saw the request, i.e. ext_proc let it go.
pub(crate) const ROUTED_KEY: &str = "routed";

/// Response-code details of the 503 for an EPP exchange past `eppTimeoutMs`.
pub const EPP_TIMEOUT_DETAILS: &str = "inference_epp_timeout";

/// One request's guard.
pub struct GuardFilter {
    settings: Arc<GuardSettings>,
    reading_body: bool,
    /// The EPP deadline is armed and has not been settled (fired, or made moot by a response).
    deadline_pending: bool,
}

impl GuardFilter {
    /// A guard over the shared settings.
    pub fn new(settings: Arc<GuardSettings>) -> Self {
        GuardFilter {
            settings,
            reading_body: false,
            deadline_pending: false,
        }
    }

    fn arm_deadline(&mut self, host: &mut dyn Host) {
        let Some(ms) = self.settings.epp_timeout_ms else {
            return;
        };
        match host.start_timer(ms) {
            Ok(()) => self.deadline_pending = true,
            Err(err) => host.log(
                LogLevel::Warn,
                format_args!("inference: eppTimeoutMs not enforced, no stream timer: {err}"),
            ),
        }
    }
}

impl HttpFilter for GuardFilter {
    fn on_request_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        self.arm_deadline(host);
        let present = host.header_values(Direction::Request, &CLIENT_FORBIDDEN);
        if present.iter().any(Option::is_some) {
            host.log(
                LogLevel::Info,
                format_args!("inference: client-supplied routing header removed"),
            );
            host.counter_add(FORGED_HEADERS_TOTAL, &[], 1);
            for (name, value) in CLIENT_FORBIDDEN.iter().zip(&present) {
                if value.is_some() {
                    host.remove_header(Direction::Request, name);
                }
            }
        }
        if self.settings.body_routing_max_bytes.is_none() {
            return Action::Continue;
        }
        // The model header is the body's to set, never the client's.
        host.remove_header(Direction::Request, MODEL_NAME);
        if end_of_stream {
            return Action::Continue;
        }
        self.reading_body = true;
        Action::Pause
    }

    fn on_request_body(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        let Some(limit) = self.settings.body_routing_max_bytes else {
            return Action::Continue;
        };
        if !self.reading_body {
            return Action::Continue;
        }
        let body = host.body(Direction::Request);
        if body.len() > limit {
            self.reading_body = false;
            host.send_local_reply(
                413,
                &[("content-type", "text/plain")],
                format!("request body exceeds {limit} bytes (inference body routing)\n").as_bytes(),
                "inference_body_too_large",
            );
            return Action::Pause;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        self.reading_body = false;
        if let Some(model) = request_body::facts(&body).model {
            host.set_header(Direction::Request, MODEL_NAME, &model);
            host.clear_route_cache();
        }
        Action::Continue
    }

    fn on_response_headers(&mut self, host: &mut dyn Host, _end_of_stream: bool) -> Action {
        // A response began (upstream, the EPP's immediate response or a local reply): the EPP
        // exchange is over either way.
        self.deadline_pending = false;
        if served_header_used(host) && !self.settings.expose_served_endpoint {
            host.remove_header(Direction::Response, SERVED);
        }
        Action::Continue
    }

    fn on_timer(&mut self, host: &mut dyn Host) {
        if !std::mem::take(&mut self.deadline_pending) {
            return;
        }
        if host.metadata(ROUTED_NAMESPACE, ROUTED_KEY).is_some() {
            return;
        }
        let ms = self.settings.epp_timeout_ms.unwrap_or_default();
        host.log(
            LogLevel::Warn,
            format_args!("inference: the endpoint picker did not answer within {ms} ms"),
        );
        host.counter_add(EPP_TIMEOUTS_TOTAL, &[], 1);
        host.send_local_reply(
            503,
            &[("content-type", "text/plain")],
            format!("no inference endpoint: the endpoint picker did not answer within {ms} ms\n")
                .as_bytes(),
            EPP_TIMEOUT_DETAILS,
        );
    }

    fn on_stream_done(&mut self, _host: &mut dyn Host) {
        self.deadline_pending = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{DESTINATION, ORIGINAL_DST_HOST, POOL};
    use ai_gateway_core::fake_host::FakeHost;
    use ai_gateway_core::MetadataSink;

    fn guard(body_routing: Option<usize>) -> GuardFilter {
        GuardFilter::new(Arc::new(GuardSettings {
            body_routing_max_bytes: body_routing,
            expose_served_endpoint: false,
            epp_timeout_ms: None,
        }))
    }

    fn guard_with_deadline(ms: u64) -> GuardFilter {
        GuardFilter::new(Arc::new(GuardSettings {
            body_routing_max_bytes: None,
            expose_served_endpoint: false,
            epp_timeout_ms: Some(ms),
        }))
    }

    #[test]
    fn without_an_epp_timeout_no_timer_is_armed() {
        let mut host = FakeHost::default();
        guard(None).on_request_headers(&mut host, true);
        assert_eq!(host.timer_ms, None);
    }

    #[test]
    fn an_epp_that_never_lets_the_request_go_is_a_503_at_the_deadline() {
        let mut host = FakeHost::default();
        let mut filter = guard_with_deadline(750);
        assert_eq!(
            filter.on_request_headers(&mut host, false),
            Action::Continue
        );
        assert_eq!(host.timer_ms, Some(750));
        filter.on_timer(&mut host);
        let reply = host.local_reply.as_ref().expect("a 503");
        assert_eq!(reply.status, 503);
        assert_eq!(reply.details, EPP_TIMEOUT_DETAILS);
        assert_eq!(
            String::from_utf8_lossy(&reply.body),
            "no inference endpoint: the endpoint picker did not answer within 750 ms\n"
        );
        assert_eq!(host.counter(EPP_TIMEOUTS_TOTAL, &[]), 1);
        // A late second firing answers nothing more.
        host.local_reply = None;
        filter.on_timer(&mut host);
        assert!(host.local_reply.is_none());
        assert_eq!(host.counter(EPP_TIMEOUTS_TOTAL, &[]), 1);
    }

    #[test]
    fn a_request_the_route_stage_saw_is_left_alone() {
        let mut host = FakeHost::default();
        let mut filter = guard_with_deadline(750);
        filter.on_request_headers(&mut host, true);
        // What the route stage writes once ext_proc let the request go.
        host.set_metadata(ROUTED_NAMESPACE, ROUTED_KEY, "1");
        filter.on_timer(&mut host);
        assert!(host.local_reply.is_none());
        assert_eq!(host.counter(EPP_TIMEOUTS_TOTAL, &[]), 0);
    }

    #[test]
    fn a_response_or_the_stream_end_settles_the_deadline() {
        for settle in [
            |f: &mut GuardFilter, h: &mut FakeHost| {
                f.on_response_headers(h, false);
            },
            |f: &mut GuardFilter, h: &mut FakeHost| f.on_stream_done(h),
        ] {
            let mut host = FakeHost::default();
            let mut filter = guard_with_deadline(750);
            filter.on_request_headers(&mut host, true);
            settle(&mut filter, &mut host);
            filter.on_timer(&mut host);
            assert!(host.local_reply.is_none());
            assert_eq!(host.counter(EPP_TIMEOUTS_TOTAL, &[]), 0);
        }
    }

    #[test]
    fn forged_destination_headers_are_stripped() {
        let mut host = FakeHost::with_request_headers(&[
            (":path", "/v1/chat/completions"),
            (DESTINATION, "10.9.9.9:80"),
            (ORIGINAL_DST_HOST, "10.9.9.9:80"),
            (POOL, "other-tenant"),
            ("x-other", "kept"),
        ]);
        assert_eq!(
            guard(None).on_request_headers(&mut host, true),
            Action::Continue
        );
        assert_eq!(host.header(Direction::Request, DESTINATION), None);
        assert_eq!(host.header(Direction::Request, ORIGINAL_DST_HOST), None);
        assert_eq!(
            host.header(Direction::Request, "x-other").as_deref(),
            Some("kept")
        );
        assert_eq!(host.counter(FORGED_HEADERS_TOTAL, &[]), 1);
    }

    #[test]
    fn clean_requests_pass_without_a_count() {
        let mut host = FakeHost::with_request_headers(&[(":path", "/v1/models")]);
        assert_eq!(
            guard(None).on_request_headers(&mut host, true),
            Action::Continue
        );
        assert_eq!(host.counter(FORGED_HEADERS_TOTAL, &[]), 0);
    }

    #[test]
    fn body_routing_exposes_the_model_and_clears_the_route_cache() {
        let mut host = FakeHost::with_request_headers(&[(MODEL_NAME, "forged")]);
        let mut filter = guard(Some(1024));
        assert_eq!(filter.on_request_headers(&mut host, false), Action::Pause);
        assert_eq!(host.header(Direction::Request, MODEL_NAME), None);
        host.request_body = br#"{"model":"llama-3","#.to_vec();
        assert_eq!(filter.on_request_body(&mut host, false), Action::Pause);
        host.request_body.extend_from_slice(br#""messages":[]}"#);
        assert_eq!(filter.on_request_body(&mut host, true), Action::Continue);
        assert_eq!(
            host.header(Direction::Request, MODEL_NAME).as_deref(),
            Some("llama-3")
        );
        assert_eq!(host.route_cache_cleared, 1);
    }

    #[test]
    fn body_routing_refuses_a_body_over_the_bound() {
        let mut host = FakeHost::default();
        let mut filter = guard(Some(8));
        filter.on_request_headers(&mut host, false);
        host.request_body = br#"{"model":"llama-3"}"#.to_vec();
        assert_eq!(filter.on_request_body(&mut host, false), Action::Pause);
        assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(413));
    }

    #[test]
    fn the_served_header_is_removed_from_the_client_response() {
        // Only the flavour without dynamic metadata (Wasm) has the route stage set it.
        let mut host = FakeHost {
            response_headers: vec![(SERVED.into(), "10.0.0.1:8000".into())],
            ..FakeHost::default()
        };
        host.capabilities.metadata_sink = MetadataSink::FilterState;
        guard(None).on_response_headers(&mut host, false);
        assert_eq!(host.header(Direction::Response, SERVED), None);
    }
}
