//! When to fetch the JWKS, as a pure state machine over Unix seconds.
//!
//! The keys are refreshed when the response's `Cache-Control: max-age` (or the configured
//! interval) runs out; a token with an unknown `kid` triggers one refetch, rate-limited by
//! `min_refetch_interval`; a failed fetch keeps the last good keys and is retried after
//! `min_refetch_interval`. The config's background tick asks [`JwksState::background_due`]
//! (keys renewed ahead of expiry); each request asks [`JwksState::fetch_due`] (missing or
//! expired keys, unknown `kid`).

use std::sync::Arc;

use crate::keys::KeySet;

/// Timing of the refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Lifetime of fetched keys when the response has no `max-age`.
    pub interval: u64,
    /// Least time between two fetches triggered by unknown `kid`s or retries after failures,
    /// and the least lifetime granted by `max-age`.
    pub min_refetch_interval: u64,
    /// Most time a `max-age` may keep keys.
    pub max_interval: u64,
    /// After this long an unanswered fetch no longer blocks another.
    pub fetch_timeout: u64,
}

/// Why a fetch is started (the `reason` tag of `authz_jwks_fetches_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchReason {
    /// No keys yet.
    Initial,
    /// The keys' lifetime ran out.
    Interval,
    /// A token named a `kid` the keys lack.
    UnknownKid,
}

impl FetchReason {
    /// Metric tag.
    pub fn as_str(self) -> &'static str {
        match self {
            FetchReason::Initial => "initial",
            FetchReason::Interval => "interval",
            FetchReason::UnknownKid => "unknown_kid",
        }
    }
}

/// The shared key state of one filter config.
#[derive(Debug, Clone, Default)]
pub struct JwksState {
    keys: Arc<KeySet>,
    /// Bumped whenever the keys are replaced (cached verifications of older keys are dropped).
    generation: u64,
    refresh_at: Option<u64>,
    /// When the background tick fetches: ahead of `refresh_at` by the time a fetch may take
    /// (at most a tenth of the keys' lifetime), so requests never find the keys stale.
    renew_at: Option<u64>,
    last_attempt_at: Option<u64>,
    in_flight_since: Option<u64>,
    /// The background tick's own attempts, apart from the requests' (a request finding no keys
    /// fetches them itself rather than failing while a background fetch is under way).
    background_attempt_at: Option<u64>,
    background_since: Option<u64>,
}

impl JwksState {
    /// State with inline keys that never expire.
    pub fn fixed(keys: KeySet) -> Self {
        JwksState {
            keys: Arc::new(keys),
            generation: 1,
            refresh_at: Some(u64::MAX),
            renew_at: Some(u64::MAX),
            ..JwksState::default()
        }
    }

    /// The current keys (empty before the first successful fetch).
    pub fn keys(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys)
    }

    /// Changes whenever the keys are replaced.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether a request at `now` should fetch first; `unknown_kid` when its token names a
    /// `kid` the current keys lack. At most one fetch is outstanding at a time.
    pub fn fetch_due(
        &self,
        policy: &RefreshPolicy,
        now: u64,
        unknown_kid: bool,
    ) -> Option<FetchReason> {
        if self
            .in_flight_since
            .is_some_and(|since| now < since.saturating_add(policy.fetch_timeout))
        {
            return None;
        }
        let recently_tried = self
            .last_attempt_at
            .is_some_and(|at| now < at.saturating_add(policy.min_refetch_interval));
        if self.keys.is_empty() {
            return (!recently_tried).then_some(FetchReason::Initial);
        }
        if unknown_kid {
            return (!recently_tried).then_some(FetchReason::UnknownKid);
        }
        match self.refresh_at {
            Some(at) if now >= at => Some(FetchReason::Interval),
            _ => None,
        }
    }

    /// Whether the config's background tick should fetch at `now`: no keys yet, or keys about
    /// to expire (see `renew_at`). Never while a fetch is outstanding, nor sooner than
    /// `min_refetch_interval` after the last attempt.
    pub fn background_due(&self, policy: &RefreshPolicy, now: u64) -> Option<FetchReason> {
        let within =
            |at: Option<u64>, span: u64| at.is_some_and(|at| now < at.saturating_add(span));
        let in_flight = within(self.in_flight_since, policy.fetch_timeout)
            || within(self.background_since, policy.fetch_timeout);
        if in_flight || within(self.background_attempt_at, policy.min_refetch_interval) {
            return None;
        }
        if self.keys.is_empty() {
            return Some(FetchReason::Initial);
        }
        match self.renew_at {
            Some(at) if now >= at => Some(FetchReason::Interval),
            _ => None,
        }
    }

    /// A request's fetch started at `now`.
    pub fn fetch_started(&mut self, now: u64) {
        self.in_flight_since = Some(now);
        self.last_attempt_at = Some(now);
    }

    /// The background tick's fetch started at `now`.
    pub fn background_started(&mut self, now: u64) {
        self.background_since = Some(now);
        self.background_attempt_at = Some(now);
    }

    /// A fetch delivered `keys`; `max_age` from the response's `Cache-Control`.
    pub fn fetch_succeeded(
        &mut self,
        policy: &RefreshPolicy,
        keys: KeySet,
        max_age: Option<u64>,
        now: u64,
    ) {
        let lifetime = max_age
            .unwrap_or(policy.interval)
            .clamp(policy.min_refetch_interval, policy.max_interval);
        self.keys = Arc::new(keys);
        self.generation += 1;
        self.refresh_at = Some(now.saturating_add(lifetime));
        let ahead = policy.fetch_timeout.min(lifetime / 10);
        self.renew_at = Some(now.saturating_add(lifetime - ahead));
        self.in_flight_since = None;
        self.background_since = None;
    }

    /// A fetch failed at `now`: the last good keys stay; retried after `min_refetch_interval`.
    pub fn fetch_failed(&mut self, policy: &RefreshPolicy, now: u64) {
        self.in_flight_since = None;
        self.background_since = None;
        self.refresh_at = Some(now.saturating_add(policy.min_refetch_interval));
        self.renew_at = self.refresh_at;
    }
}

/// `max-age` of a `Cache-Control` value (RFC 9111 §5.2.2.1); `no-store`/`no-cache` mean 0.
pub fn max_age(cache_control: &str) -> Option<u64> {
    let mut found = None;
    for directive in cache_control.split(',') {
        let directive = directive.trim();
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "no-store" | "no-cache" => return Some(0),
            "max-age" => found = value.trim().trim_matches('"').parse().ok(),
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_keys::{key_set, public_jwk};
    use jsonwebtoken::Algorithm;

    const POLICY: RefreshPolicy = RefreshPolicy {
        interval: 600,
        min_refetch_interval: 10,
        max_interval: 86_400,
        fetch_timeout: 5,
    };

    fn keys() -> KeySet {
        key_set(&[public_jwk("es256", Algorithm::ES256, "a")])
    }

    #[test]
    fn first_request_fetches_and_concurrent_ones_wait_for_none() {
        let mut state = JwksState::default();
        assert_eq!(
            state.fetch_due(&POLICY, 100, false),
            Some(FetchReason::Initial)
        );
        state.fetch_started(100);
        assert_eq!(
            state.fetch_due(&POLICY, 101, false),
            None,
            "one fetch at a time"
        );
        assert_eq!(
            state.fetch_due(&POLICY, 105, false),
            None,
            "a fresh failure is not retried before min_refetch_interval"
        );
        assert_eq!(
            state.fetch_due(&POLICY, 110, false),
            Some(FetchReason::Initial),
            "a lost fetch no longer blocks once timed out and rate limit passed"
        );
    }

    #[test]
    fn background_fetches_ahead_of_expiry_once_at_a_time() {
        let mut state = JwksState::default();
        assert_eq!(
            state.background_due(&POLICY, 100),
            Some(FetchReason::Initial)
        );
        state.background_started(100);
        assert_eq!(state.background_due(&POLICY, 101), None, "in flight");
        state.fetch_succeeded(&POLICY, keys(), None, 102);
        assert_eq!(state.background_due(&POLICY, 696), None, "not yet");
        assert_eq!(
            state.background_due(&POLICY, 697),
            Some(FetchReason::Interval),
            "a fetch timeout ahead of expiry (702), at most a tenth of the lifetime"
        );
        assert_eq!(
            state.fetch_due(&POLICY, 697, false),
            None,
            "requests still use the keys"
        );
        state.background_started(697);
        state.fetch_failed(&POLICY, 698);
        assert_eq!(
            state.background_due(&POLICY, 700),
            None,
            "a failure is retried after min_refetch_interval"
        );
        assert_eq!(state.background_due(&POLICY, 707), None);
        assert_eq!(
            state.background_due(&POLICY, 708),
            Some(FetchReason::Interval)
        );
        assert!(!state.keys().is_empty(), "the last good keys stay");
        state.background_started(708);
        assert_eq!(
            state.fetch_due(&POLICY, 709, false),
            Some(FetchReason::Interval),
            "a request needing keys does not wait on the background fetch"
        );
    }

    #[test]
    fn keys_live_for_the_interval_or_max_age() {
        let cases: &[(Option<u64>, u64)] = &[
            (None, 600),
            (Some(60), 60),
            (Some(1), 10),
            (Some(10_000_000), 86_400),
        ];
        for (max_age, lifetime) in cases {
            let mut state = JwksState::default();
            state.fetch_started(0);
            state.fetch_succeeded(&POLICY, keys(), *max_age, 0);
            assert_eq!(
                state.fetch_due(&POLICY, lifetime - 1, false),
                None,
                "{max_age:?}"
            );
            assert_eq!(
                state.fetch_due(&POLICY, *lifetime, false),
                Some(FetchReason::Interval),
                "{max_age:?}"
            );
        }
    }

    #[test]
    fn unknown_kid_refetches_once_per_rate_limit() {
        let mut state = JwksState::default();
        state.fetch_started(0);
        state.fetch_succeeded(&POLICY, keys(), None, 0);
        assert_eq!(
            state.fetch_due(&POLICY, 5, true),
            None,
            "too soon after the last fetch"
        );
        assert_eq!(
            state.fetch_due(&POLICY, 10, true),
            Some(FetchReason::UnknownKid)
        );
        state.fetch_started(10);
        state.fetch_succeeded(&POLICY, keys(), None, 11);
        assert_eq!(state.fetch_due(&POLICY, 12, true), None, "rate limited");
        assert_eq!(
            state.fetch_due(&POLICY, 20, true),
            Some(FetchReason::UnknownKid)
        );
    }

    #[test]
    fn failed_fetch_keeps_the_last_good_keys() {
        let mut state = JwksState::default();
        state.fetch_started(0);
        state.fetch_succeeded(&POLICY, keys(), None, 0);
        let generation = state.generation();
        state.fetch_started(600);
        state.fetch_failed(&POLICY, 601);
        assert_eq!(state.keys().len(), 1);
        assert_eq!(state.generation(), generation);
        assert_eq!(state.fetch_due(&POLICY, 605, false), None);
        assert_eq!(
            state.fetch_due(&POLICY, 611, false),
            Some(FetchReason::Interval)
        );
    }

    #[test]
    fn inline_keys_are_never_fetched() {
        let state = JwksState::fixed(keys());
        assert_eq!(state.fetch_due(&POLICY, u64::MAX - 1, false), None);
    }

    #[test]
    fn cache_control_max_age() {
        let cases: &[(&str, Option<u64>)] = &[
            ("max-age=300", Some(300)),
            ("public, max-age=3600, must-revalidate", Some(3600)),
            ("Max-Age=\"60\"", Some(60)),
            ("no-store", Some(0)),
            ("public", None),
            ("max-age=abc", None),
            ("", None),
        ];
        for (value, expected) in cases {
            assert_eq!(max_age(value), *expected, "{value}");
        }
    }
}
