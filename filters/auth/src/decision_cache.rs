//! Decisions remembered per verified token, for routes whose policies read only the token and
//! the request line (no headers, no body): a client repeating a call with the same token (the
//! common case: one access token, a handful of endpoints) skips the CEL evaluation. Bounded per
//! token; it lives and dies with the token's cache entry, so new keys or an expired token start
//! afresh.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use crate::policy::{Decision, Outcome};

/// Request lines remembered per token.
const CAPACITY: usize = 8;

/// One evaluation: its decision and each applicable rule's outcome (replayed into the metrics).
#[derive(Debug)]
pub struct Cached {
    /// What the policies decided.
    pub decision: Decision,
    /// `(policy, outcome)` of every applicable rule, in order.
    pub outcomes: Vec<(String, Outcome)>,
}

/// The decisions of one token, by method and path.
#[derive(Debug, Default)]
pub struct DecisionCache {
    entries: Mutex<VecDeque<(String, String, Arc<Cached>)>>,
}

impl DecisionCache {
    /// The decision for `method path`, if evaluated before.
    pub fn get(&self, method: &str, path: &str) -> Option<Arc<Cached>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .iter()
            .find(|(m, p, _)| m == method && p == path)
            .map(|(_, _, cached)| Arc::clone(cached))
    }

    /// Remembers an evaluation (the oldest is forgotten past the capacity). Evaluations with
    /// an error are not remembered: each such request fails closed and is logged anew.
    pub fn insert(&self, method: &str, path: &str, cached: Cached) {
        if cached.outcomes.iter().any(|(_, o)| *o == Outcome::Error) {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() == CAPACITY {
            entries.pop_front();
        }
        entries.push_back((method.to_string(), path.to_string(), Arc::new(cached)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ai_gateway_core::fake_host::FakeHost;
    use ai_gateway_core::{Action, HttpFilter};
    use jsonwebtoken::Algorithm;
    use serde_json::json;

    use crate::config::Settings;
    use crate::filter::AuthzFilter;
    use crate::metrics::DECISIONS_TOTAL;
    use crate::refresh::JwksState;
    use crate::shared::Shared;
    use crate::test_keys::{claims, public_jwk, signed, NOW};

    fn cached(outcome: Outcome) -> Cached {
        Cached {
            decision: Decision::Allow,
            outcomes: vec![("rule".to_string(), outcome)],
        }
    }

    #[test]
    fn remembers_by_request_line_bounded_and_never_errors() {
        let cache = DecisionCache::default();
        cache.insert("GET", "/a", cached(Outcome::Allow));
        assert_eq!(cache.get("GET", "/a").unwrap().decision, Decision::Allow);
        assert!(cache.get("POST", "/a").is_none());
        assert!(cache.get("GET", "/b").is_none());
        cache.insert("GET", "/err", cached(Outcome::Error));
        assert!(cache.get("GET", "/err").is_none());
        for i in 0..CAPACITY {
            cache.insert("GET", &format!("/{i}"), cached(Outcome::Deny));
        }
        assert!(cache.get("GET", "/a").is_none(), "the oldest went");
        assert!(cache.get("GET", &format!("/{}", CAPACITY - 1)).is_some());
    }

    /// Sends `GET path` with the token through a new stream of the filter.
    fn get(settings: &Arc<Settings>, shared: &Arc<Shared>, token: &str, path: &str) -> FakeHost {
        let bearer = format!("Bearer {token}");
        let mut host = FakeHost::with_request_headers(&[
            (":method", "GET"),
            (":path", path),
            ("authorization", &bearer),
        ]);
        host.unix_seconds = NOW;
        let mut filter = AuthzFilter::new(Arc::clone(settings), Arc::clone(shared));
        let _: Action = filter.on_request_headers(&mut host, true);
        host
    }

    fn gateway(policy: serde_json::Value) -> (Arc<Settings>, Arc<Shared>) {
        let config = json!({
            "issuers": ["https://issuer.test"],
            "audiences": ["api"],
            "jwks": { "inline": { "keys": [public_jwk("rsa-a", Algorithm::RS256, "a")] } },
            "policies": [policy]
        });
        let settings = Settings::from_json(&config.to_string()).unwrap();
        let keys = settings.inline_keys.clone().unwrap();
        let shared = Shared::new(JwksState::fixed(keys), 16);
        (Arc::new(settings), shared)
    }

    #[test]
    fn the_filter_remembers_decisions_per_token_and_still_counts_them() {
        let (settings, shared) =
            gateway(json!({ "name": "no-admin", "allow": "!request.path.startsWith('/admin')" }));
        let token = signed("rsa-a", Algorithm::RS256, Some("a"), &claims());
        let generation = shared.jwks().generation();
        for round in 1..=2 {
            let host = get(&settings, &shared, &token, "/admin/users");
            assert_eq!(
                host.local_reply.as_ref().unwrap().status,
                403,
                "round {round}"
            );
            let host = get(&settings, &shared, &token, "/items");
            assert!(host.local_reply.is_none(), "round {round}");
            assert_eq!(host.counter(DECISIONS_TOTAL, &["no-admin", "allow"]), 1);
        }
        let identity = shared.cache().get(&token, generation, NOW).unwrap();
        assert!(identity.decisions.get("GET", "/admin/users").is_some());
        assert!(identity.decisions.get("GET", "/items").is_some());

        let (settings, shared) = gateway(json!({
            "name": "by-header", "allow": "!('x-team' in request.headers)"
        }));
        let host = get(&settings, &shared, &token, "/items");
        assert!(
            host.local_reply.is_none(),
            "allowed, without an evaluation error"
        );
        let identity = shared.cache().get(&token, generation, NOW).unwrap();
        assert!(
            identity.decisions.get("GET", "/items").is_none(),
            "policies reading headers are evaluated every time"
        );
    }
}
