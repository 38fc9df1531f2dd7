//! Authentication and authorization for the gateway's routes, and the `authz` filter.
//!
//! - **JWT** ([`validate`]): RS256/384/512, PS256/384/512, ES256/384, EdDSA against a JWKS;
//!   HS256/384/512 only with a configured shared secret (never with a published key);
//!   `alg: none` refused; `iss`, `aud` (list), `exp`/`nbf` with skew.
//! - **JWKS** ([`keys`], [`refresh`], [`discovery`]): inline, from a URL or via OIDC discovery,
//!   fetched by HTTP callout through an Envoy cluster; kept for the response's `max-age` or the
//!   configured interval (default 10 min); an unknown `kid` triggers one rate-limited refetch;
//!   a failed fetch keeps the last good keys. The config's background tick (`background`)
//!   fetches them at load and renews them ahead of expiry; a request fetches only when they
//!   are missing or expired, or for an unknown `kid`.
//! - **RFC 9728** ([`metadata`]): the protected-resource metadata document and the
//!   `WWW-Authenticate: Bearer resource_metadata="…"` challenges (with RFC 6750 `error=` and
//!   `scope=`).
//! - **Token cache** ([`token_cache`]): verified tokens until `exp`, so a repeated token costs
//!   a hash-map lookup instead of a signature check.
//! - **CEL policies** ([`policy`]).
//!
//! # The API for protocol filters (the mcp filter)
//!
//! Compile once per config with [`PolicySet::compile`] from [`RuleConfig`]s; per request, fill
//! a [`Context`] (`jwt`: [`Claims::from_json`] of the verified claims, `request`, and what the
//! protocol filter knows: [`McpInfo`] method, backend, tool/prompt/resource, arguments;
//! [`A2aInfo`]; [`LlmInfo`]) and call:
//!
//! - [`PolicySet::allows`]`(&context) -> `[`Decision`]: `Allow`, or `Deny { policy, scope,
//!   error }` (answer a denied `tools/call` with a JSON-RPC error, a denied HTTP request with
//!   403 and [`metadata::www_authenticate`] of `Challenge::InsufficientScope`);
//! - [`PolicySet::evaluate`] — the same, reporting each applicable rule's [`Outcome`] to a
//!   closure (for `authz_decisions_total{policy, outcome}`);
//! - [`PolicySet::filter_names`]`(&context, ItemKind::Tool, &names) -> Vec<bool>` to drop
//!   what the caller may not use from `tools/list`, `prompts/list`, `resources/list`.
//!
//! Authentication alone is [`Validator::verify`] over a [`KeySet`] after [`parse`].

use std::sync::Arc;

use ai_gateway_core::{
    BackgroundHost, CalloutId, CalloutResult, ConfigError, FilterFactory, HttpFilter, MetricDef,
};

mod background;
pub mod body;
mod config;
mod decision_cache;
pub mod discovery;
mod fetch;
mod filter;
mod key_fetch;
pub mod keys;
pub mod listing;
pub mod metadata;
mod metrics;
pub mod policy;
pub mod refresh;
mod reply;
mod shared;
pub mod token;
pub mod token_cache;
pub mod validate;

#[cfg(test)]
mod fuzz_jwt;
#[cfg(test)]
mod test_keys;

pub use config::{ClaimHeader, JwksSource, Settings};
pub use filter::AuthzFilter;
pub use keys::KeySet;
pub use policy::{
    A2aInfo, Claims, Context, Decision, ItemKind, LlmInfo, McpInfo, Outcome, PolicySet,
    RequestInfo, RuleConfig,
};
pub use validate::{parse, AuthnFailure, Validator};

use refresh::JwksState;
use shared::Shared;

/// Parses the `authz` filter's JSON configuration into a factory.
pub fn factory(config: &str) -> Result<Arc<dyn FilterFactory>, ConfigError> {
    let settings = Settings::from_json(config)?;
    let jwks = match &settings.inline_keys {
        Some(keys) => JwksState::fixed(keys.clone()),
        None => JwksState::default(),
    };
    let shared = Shared::new(jwks, settings.token_cache_size);
    Ok(Arc::new(AuthzFactory {
        settings: Arc::new(settings),
        shared,
    }))
}

/// Creates one [`AuthzFilter`] per stream over the shared settings and key state.
struct AuthzFactory {
    settings: Arc<Settings>,
    shared: Arc<Shared>,
}

impl FilterFactory for AuthzFactory {
    fn metrics(&self) -> &'static [MetricDef] {
        &metrics::METRICS
    }

    fn new_filter(&self) -> Box<dyn HttpFilter> {
        Box::new(AuthzFilter::new(
            Arc::clone(&self.settings),
            Arc::clone(&self.shared),
        ))
    }

    fn tick_period_ms(&self) -> Option<u64> {
        background::tick_period_ms(&self.settings)
    }

    fn on_tick(&self, host: &mut dyn BackgroundHost) {
        background::tick(&self.settings, &self.shared, host);
    }

    fn on_background_callout_done(
        &self,
        host: &mut dyn BackgroundHost,
        id: CalloutId,
        result: CalloutResult,
    ) {
        background::callout_done(&self.settings, &self.shared, host, id, result);
    }
}
