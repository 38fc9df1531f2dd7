//! One JWKS fetch's effect on the shared key state, written once for both callers: a stream
//! that must wait for keys (first use, unknown `kid`, expired keys) and the config's
//! background tick that renews them ahead of expiry.

use ai_gateway_core::{BackgroundHost, CalloutRequest, CalloutResult, LogLevel};

use crate::config::Settings;
use crate::fetch::{self, Fetched, Step};
use crate::metrics::JWKS_FETCHES_TOTAL;
use crate::refresh::FetchReason;
use crate::shared::Shared;

/// Who fetches: a request (which waits for the keys) or the config's background tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetcher {
    Request,
    Background,
}

/// The first callout of a fetch (the keys, or OIDC discovery while the JWKS URL is unknown),
/// marked in flight for its fetcher; `None` for inline keys.
pub fn begin(
    settings: &Settings,
    shared: &Shared,
    fetcher: Fetcher,
    now: u64,
) -> Option<(Step, CalloutRequest)> {
    let discovered = shared.discovered().clone();
    let first = fetch::first_request(&settings.jwks_source, discovered.as_ref())?;
    match fetcher {
        Fetcher::Request => shared.jwks().fetch_started(now),
        Fetcher::Background => shared.jwks().background_started(now),
    }
    Some(first)
}

/// Applies a step's response: new keys replace the old (counted), discovery yields the keys
/// callout to make next, a failure keeps the last good keys (counted, logged).
pub fn step_done(
    settings: &Settings,
    shared: &Shared,
    host: &mut dyn BackgroundHost,
    step: Step,
    reason: FetchReason,
    result: CalloutResult,
) -> Option<(Step, CalloutRequest)> {
    match fetch::interpret(step, result) {
        Fetched::Keys(keys, max_age) => {
            let now = host.unix_seconds();
            shared
                .jwks()
                .fetch_succeeded(&settings.refresh, keys, max_age, now);
            host.counter_add(JWKS_FETCHES_TOTAL, &["ok", reason.as_str()], 1);
            None
        }
        Fetched::JwksUrl(url) => {
            let request = fetch::keys_request(&settings.jwks_source, &url);
            *shared.discovered() = Some(url);
            match request {
                Some(request) => Some((Step::Keys, request)),
                None => {
                    failed(
                        settings,
                        shared,
                        host,
                        reason,
                        "no JWKS request for the source",
                    );
                    None
                }
            }
        }
        Fetched::Failed(why) => {
            failed(settings, shared, host, reason, &why);
            None
        }
    }
}

/// A fetch failed: the last good keys stay, retried after `minRefetchIntervalSeconds`.
pub fn failed(
    settings: &Settings,
    shared: &Shared,
    host: &mut dyn BackgroundHost,
    reason: FetchReason,
    why: &str,
) {
    let now = host.unix_seconds();
    shared.jwks().fetch_failed(&settings.refresh, now);
    // Discovery is repeated on the next fetch: the provider may have moved its keys.
    shared.discovered().take();
    host.counter_add(JWKS_FETCHES_TOTAL, &["failed", reason.as_str()], 1);
    host.log(
        LogLevel::Warn,
        format_args!(
            "authz: JWKS fetch ({}) failed, keeping the last good keys: {why}",
            reason.as_str()
        ),
    );
}
