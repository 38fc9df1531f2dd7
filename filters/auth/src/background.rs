//! Keys renewed by the config's background tick: fetched once the config loads, and again
//! ahead of expiry, so requests do not wait for a fetch (the per-request path stays for an
//! unknown `kid` and as the fallback when a background fetch could not run).

use ai_gateway_core::{BackgroundHost, CalloutId, CalloutRequest, CalloutResult, LogLevel};

use crate::config::{JwksSource, Settings};
use crate::fetch::Step;
use crate::key_fetch::{self, Fetcher};
use crate::refresh::FetchReason;
use crate::shared::{BackgroundFetch, Shared};

/// How often the tick looks at the keys: the refresh state machine decides whether to fetch,
/// so a second's resolution is all the timing it needs.
const TICK_PERIOD_MS: u64 = 1000;

/// The tick period for a config: only configs whose keys are fetched need one.
pub fn tick_period_ms(settings: &Settings) -> Option<u64> {
    (settings.jwks_source != JwksSource::Inline).then_some(TICK_PERIOD_MS)
}

/// One tick: starts a fetch when the keys are missing or about to expire.
pub fn tick(settings: &Settings, shared: &Shared, host: &mut dyn BackgroundHost) {
    if settings.jwks_source == JwksSource::Inline {
        return;
    }
    let now = host.unix_seconds();
    let Some(reason) = shared.jwks().background_due(&settings.refresh, now) else {
        return;
    };
    if let Some((step, request)) = key_fetch::begin(settings, shared, Fetcher::Background, now) {
        send(settings, shared, host, step, reason, request);
    }
}

/// A background callout finished: apply it, and make the next step's callout if any.
pub fn callout_done(
    settings: &Settings,
    shared: &Shared,
    host: &mut dyn BackgroundHost,
    id: CalloutId,
    result: CalloutResult,
) {
    let Some(fetch) = shared.background().take_if(|fetch| fetch.id == id) else {
        return;
    };
    let next = key_fetch::step_done(settings, shared, host, fetch.step, fetch.reason, result);
    if let Some((step, request)) = next {
        send(settings, shared, host, step, fetch.reason, request);
    }
}

fn send(
    settings: &Settings,
    shared: &Shared,
    host: &mut dyn BackgroundHost,
    step: Step,
    reason: FetchReason,
    request: CalloutRequest,
) {
    match host.http_callout(request) {
        Ok(id) => *shared.background() = Some(BackgroundFetch { id, step, reason }),
        Err(err) => {
            host.log(
                LogLevel::Debug,
                format_args!("authz: background JWKS callout refused: {err}"),
            );
            key_fetch::failed(settings, shared, host, reason, &err.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use ai_gateway_core::fake_host::FakeHost;
    use ai_gateway_core::{Action, CalloutFailure, CalloutId};
    use serde_json::json;

    use crate::filter::tests::{jwks_response, key_a, token_a, Gateway};
    use crate::metrics::JWKS_FETCHES_TOTAL;

    fn ticked(gateway: &Gateway, host: &mut FakeHost, now: u64) {
        host.unix_seconds = now;
        gateway.factory.on_tick(host);
    }

    #[test]
    fn keys_are_fetched_on_load_and_renewed_ahead_of_expiry_without_a_request() {
        let gateway = Gateway::new(json!({}));
        assert_eq!(gateway.factory.tick_period_ms(), Some(1000));
        let mut host = FakeHost::default();
        ticked(&gateway, &mut host, gateway.now);
        assert_eq!(host.callouts.len(), 1, "the first tick fetches the keys");
        assert_eq!(host.callouts[0].cluster, "idp");
        ticked(&gateway, &mut host, gateway.now + 1);
        assert_eq!(host.callouts.len(), 1, "one fetch at a time");
        let response = jwks_response(&[key_a()], Some("max-age=120"));
        gateway
            .factory
            .on_background_callout_done(&mut host, CalloutId(1), Ok(response));
        assert_eq!(host.counter(JWKS_FETCHES_TOTAL, &["ok", "initial"]), 1);

        // A request finds the keys: no callout of its own.
        let (_, request_host, action) = gateway.request("/x", Some(&token_a()));
        assert_eq!(action, Action::Continue);
        assert!(request_host.callouts.is_empty());

        ticked(&gateway, &mut host, gateway.now + 60);
        assert_eq!(host.callouts.len(), 1, "keys valid for two minutes");
        // Expiry at +121 (fetched at +1); renewed a fetch timeout (10 s: twice the callout's
        // 5 s default) ahead of it.
        ticked(&gateway, &mut host, gateway.now + 110);
        assert_eq!(host.callouts.len(), 1, "not yet");
        ticked(&gateway, &mut host, gateway.now + 111);
        assert_eq!(host.callouts.len(), 2, "renewed before expiry");
        gateway.factory.on_background_callout_done(
            &mut host,
            CalloutId(2),
            Err(CalloutFailure::Reset),
        );
        assert_eq!(host.counter(JWKS_FETCHES_TOTAL, &["failed", "interval"]), 1);
        let (_, _, action) = gateway.request("/x", Some(&token_a()));
        assert_eq!(action, Action::Continue, "the last good keys still serve");
    }

    #[test]
    fn an_unknown_callout_is_ignored_and_inline_keys_need_no_tick() {
        let gateway = Gateway::new(json!({}));
        let mut host = FakeHost::default();
        ticked(&gateway, &mut host, gateway.now);
        let response = jwks_response(&[key_a()], None);
        gateway
            .factory
            .on_background_callout_done(&mut host, CalloutId(9), Ok(response));
        assert_eq!(host.counter(JWKS_FETCHES_TOTAL, &["ok", "initial"]), 0);

        let inline = Gateway::new(json!({ "jwks": { "inline": { "keys": [key_a()] } } }));
        assert_eq!(inline.factory.tick_period_ms(), None);
        let mut host = FakeHost::default();
        ticked(&inline, &mut host, inline.now);
        assert!(host.callouts.is_empty());
    }
}
