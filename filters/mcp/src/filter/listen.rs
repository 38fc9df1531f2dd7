//! The session-based GET stream, where backends send what is not tied to a request (list
//! changes, log messages, server→client requests). A session has one stream per backend that
//! keeps sessions; with one, the client's GET is that backend's stream (through Envoy's router,
//! its server→client requests qualified like in routed answers); with several, the configured
//! `listenBackend`'s, else 405 — the spec lets a server decline GET.

use ai_gateway_core::{Action, Host};

use super::replies::Reply;
use super::McpFilter;
use crate::metrics::LISTEN;

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
        let settings = std::sync::Arc::clone(&self.settings);
        let streaming: Vec<usize> = settings
            .backends
            .iter()
            .enumerate()
            .filter(|(_, b)| self.upstream_session(&b.name).is_some())
            .map(|(i, _)| i)
            .collect();
        let chosen =
            match (streaming.as_slice(), settings.listen_backend) {
                ([only], _) => *only,
                ([], _) => return self.decline(host, "no backend of this session keeps a stream"),
                (_, Some(listen)) if streaming.contains(&listen) => listen,
                _ => return self.decline(
                    host,
                    "several backends keep streams for this session and none is the listenBackend",
                ),
            };
        self.route_to(host, chosen, None)
    }

    fn decline(&mut self, host: &mut dyn Host, why: &str) -> Action {
        self.answer(host, Reply::refused(405, why, "mcp_get_declined"))
    }
}
