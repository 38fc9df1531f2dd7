//! The guard stage, placed before ext_proc: a client must never choose a pod, so any routing
//! header it sent is removed before the EPP (and everything after it) can mistake it for the
//! EPP's answer. With body routing, it also reads the request's `model` and exposes it as
//! `x-gateway-model-name` for route matching, before ext_proc picks its per-route settings.
//! On the way back it removes the served-endpoint header the route stage left for the EPP.

use std::sync::Arc;

use ai_gateway_core::{Action, Direction, Host, HttpFilter, LogLevel, MetadataSink};

use crate::config::GuardSettings;
use crate::headers::{CLIENT_FORBIDDEN, MODEL_NAME, SERVED};
use crate::metrics::FORGED_HEADERS_TOTAL;
use crate::request_body;

/// One request's guard.
pub struct GuardFilter {
    settings: Arc<GuardSettings>,
    reading_body: bool,
}

impl GuardFilter {
    /// A guard over the shared settings.
    pub fn new(settings: Arc<GuardSettings>) -> Self {
        GuardFilter {
            settings,
            reading_body: false,
        }
    }
}

impl HttpFilter for GuardFilter {
    fn on_request_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
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
        // Only a flavour without dynamic metadata has the route stage set the header.
        let header_set = host.capabilities().metadata_sink != MetadataSink::DynamicMetadata;
        if header_set && !self.settings.expose_served_endpoint {
            host.remove_header(Direction::Response, SERVED);
        }
        Action::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::{DESTINATION, ORIGINAL_DST_HOST, POOL};
    use ai_gateway_core::fake_host::FakeHost;

    fn guard(body_routing: Option<usize>) -> GuardFilter {
        GuardFilter::new(Arc::new(GuardSettings {
            body_routing_max_bytes: body_routing,
            expose_served_endpoint: false,
        }))
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
