//! State shared by every stream of one config (per worker VM in Wasm, per process in the
//! dynamic module): the current keys and their refresh state, the discovered JWKS URL, and the
//! verified-token cache.

use std::sync::{Arc, Mutex, MutexGuard};

use ai_gateway_core::CalloutId;

use crate::discovery::UrlParts;
use crate::fetch::Step;
use crate::refresh::{FetchReason, JwksState};
use crate::token_cache::TokenCache;

/// What a verified token yields, kept in the token cache.
#[derive(Debug)]
pub struct Identity {
    /// The claims object.
    pub claims: serde_json::Value,
    /// The claims as CEL sees them, converted once.
    pub cel: Arc<crate::policy::Claims>,
    /// Decisions already made for this token (routes whose policies read no headers or body).
    pub decisions: crate::decision_cache::DecisionCache,
}

/// The mutable state behind a config.
pub struct Shared {
    jwks: Mutex<JwksState>,
    discovered: Mutex<Option<UrlParts>>,
    cache: Mutex<TokenCache<Identity>>,
    background: Mutex<Option<BackgroundFetch>>,
}

/// The background tick's outstanding fetch step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackgroundFetch {
    /// The callout carrying the step.
    pub id: CalloutId,
    /// Which document it fetches.
    pub step: Step,
    /// Why the fetch started.
    pub reason: FetchReason,
}

/// Locks without panicking: a poisoned lock still holds consistent data here (every update is
/// a single assignment), and filter code must not panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// State starting from `jwks`, with a token cache of `cache_size`.
    pub fn new(jwks: JwksState, cache_size: usize) -> Arc<Shared> {
        Arc::new(Shared {
            jwks: Mutex::new(jwks),
            discovered: Mutex::new(None),
            cache: Mutex::new(TokenCache::new(cache_size)),
            background: Mutex::new(None),
        })
    }

    /// The key state.
    pub fn jwks(&self) -> MutexGuard<'_, JwksState> {
        lock(&self.jwks)
    }

    /// The JWKS URL found by OIDC discovery, once known.
    pub fn discovered(&self) -> MutexGuard<'_, Option<UrlParts>> {
        lock(&self.discovered)
    }

    /// The background tick's outstanding fetch step, if any.
    pub fn background(&self) -> MutexGuard<'_, Option<BackgroundFetch>> {
        lock(&self.background)
    }

    /// The verified-token cache.
    pub fn cache(&self) -> MutexGuard<'_, TokenCache<Identity>> {
        lock(&self.cache)
    }
}
