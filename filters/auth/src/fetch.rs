//! The JWKS fetch as HTTP callouts: the request for each step (OIDC discovery, then keys) and
//! what a response means.

use ai_gateway_core::{CalloutRequest, CalloutResult};

use crate::config::JwksSource;
use crate::discovery::{jwks_uri, split_url, UrlParts};
use crate::keys::KeySet;
use crate::refresh::max_age;

/// Which document a callout fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The OpenID provider configuration.
    Discovery,
    /// The JWKS.
    Keys,
}

/// What a fetch step produced.
pub enum Fetched {
    /// A key set, with the response's `max-age`.
    Keys(KeySet, Option<u64>),
    /// The JWKS URL from discovery: fetch it next.
    JwksUrl(UrlParts),
    /// Nothing usable; the message is logged.
    Failed(String),
}

/// The first callout of a fetch: the keys when their URL is known, else discovery.
pub fn first_request(
    source: &JwksSource,
    discovered: Option<&UrlParts>,
) -> Option<(Step, CalloutRequest)> {
    match source {
        JwksSource::Inline => None,
        JwksSource::Remote {
            cluster,
            url,
            timeout_ms,
        } => Some((Step::Keys, get(cluster, url, *timeout_ms))),
        JwksSource::Oidc {
            cluster,
            configuration,
            timeout_ms,
        } => Some(match discovered {
            Some(url) => (Step::Keys, get(cluster, url, *timeout_ms)),
            None => (Step::Discovery, get(cluster, configuration, *timeout_ms)),
        }),
    }
}

/// The keys callout after discovery found `url`.
pub fn keys_request(source: &JwksSource, url: &UrlParts) -> Option<CalloutRequest> {
    match source {
        JwksSource::Oidc {
            cluster,
            timeout_ms,
            ..
        } => Some(get(cluster, url, *timeout_ms)),
        _ => None,
    }
}

fn get(cluster: &str, url: &UrlParts, timeout_ms: u64) -> CalloutRequest {
    CalloutRequest {
        cluster: cluster.to_string(),
        headers: vec![
            (":method".into(), "GET".into()),
            (":path".into(), url.path.clone()),
            (":authority".into(), url.authority.clone()),
            (":scheme".into(), url.scheme.clone()),
            ("accept".into(), "application/json".into()),
        ],
        body: Vec::new(),
        timeout_ms,
    }
}

/// Interprets a step's response.
pub fn interpret(step: Step, result: CalloutResult) -> Fetched {
    let response = match result {
        Ok(response) if response.status == 200 => response,
        Ok(response) => return Fetched::Failed(format!("status {}", response.status)),
        Err(failure) => return Fetched::Failed(failure.to_string()),
    };
    match step {
        Step::Discovery => match jwks_uri(&response.body).and_then(|uri| split_url(&uri)) {
            Ok(url) => Fetched::JwksUrl(url),
            Err(e) => Fetched::Failed(e.to_string()),
        },
        Step::Keys => match KeySet::from_json(&response.body) {
            Ok(keys) => {
                let max_age = response
                    .headers
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case("cache-control"))
                    .and_then(|(_, value)| max_age(value));
                Fetched::Keys(keys, max_age)
            }
            Err(e) => Fetched::Failed(e.to_string()),
        },
    }
}
