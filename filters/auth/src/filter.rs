//! The per-stream `authz` filter: serves the RFC 9728 metadata, authenticates the bearer token
//! (fetching the JWKS by callout when due), authorizes with the CEL policies, and forwards the
//! identity as configured.

use std::sync::Arc;

use ai_gateway_core::{
    Action, CalloutId, CalloutResult, Direction, Host, HttpFilter, LogLevel, StreamBackground,
};
use jsonwebtoken::AlgorithmFamily;

use crate::body;
use crate::config::{JwksSource, Settings};
use crate::decision_cache::{Cached, DecisionCache};
use crate::fetch::Step;
use crate::key_fetch::{self, Fetcher};
use crate::keys::Lookup;
use crate::listing::{listed_kind, trim_listing};
use crate::metadata::Challenge;
use crate::metrics::{AUTHN_TOTAL, DECISIONS_TOTAL};
use crate::policy::{Claims, Context, Decision, ItemKind, RequestInfo};
use crate::refresh::FetchReason;
use crate::reply;
use crate::shared::{Identity, Shared};
use crate::token::{has_whitespace, TokenError};
use crate::validate::{parse, AuthnFailure};

/// Longest a token without `exp` stays in the cache, seconds.
const CACHE_TTL_WITHOUT_EXP: u64 = 300;
/// Largest listing answer held to be trimmed; a larger one passes whole (logged): the
/// policies still refuse each call of what it shows.
const MAX_LISTING_BYTES: usize = 4 << 20;

/// Where the stream is.
enum Stage {
    /// Deciding (or nothing to decide yet).
    Checking,
    /// Waiting for a JWKS callout before verifying `token`.
    Fetching {
        id: CalloutId,
        step: Step,
        reason: FetchReason,
        token: String,
    },
    /// Authenticated; the policies wait for the whole body (`inspectBody`).
    AwaitingBody,
    /// Allowed: the request flows.
    Allowed,
    /// Answered locally.
    Replied,
}

/// What a decision did.
enum Verdict {
    /// The request may go on.
    Allowed,
    /// A local reply was sent.
    Replied,
    /// A callout was started; the stream waits for it.
    Waiting,
}

/// One HTTP stream through the `authz` filter.
pub struct AuthzFilter {
    settings: Arc<Settings>,
    shared: Arc<Shared>,
    stage: Stage,
    method: String,
    path: String,
    /// Whether the policies read this request's body (configured, and the request has one).
    needs_body: bool,
    /// The complete body, once read (only when `needs_body`).
    body: Option<Vec<u8>>,
    /// The body outgrew `maxBodyBytes` while a key fetch was outstanding: 413 once it answers
    /// (answering now would drop the fetch's result).
    body_too_large: bool,
    /// The authenticated caller (`None`: anonymous).
    identity: Option<Arc<Identity>>,
    /// An allowed MCP listing: its kind and the decision's context, to trim the answer.
    listing: Option<(ItemKind, Context)>,
}

impl AuthzFilter {
    /// A filter for one stream.
    pub fn new(settings: Arc<Settings>, shared: Arc<Shared>) -> Self {
        AuthzFilter {
            settings,
            shared,
            stage: Stage::Checking,
            method: String::new(),
            path: String::new(),
            needs_body: false,
            body: None,
            body_too_large: false,
            identity: None,
            listing: None,
        }
    }

    fn authenticate(&mut self, host: &mut dyn Host, token: &str, fetched: bool) -> Verdict {
        let now = host.unix_seconds();
        let (keys, generation) = {
            let jwks = self.shared.jwks();
            (jwks.keys(), jwks.generation())
        };
        let cached = self.shared.cache().get(token, generation, now);
        if let Some(identity) = cached {
            host.counter_add(AUTHN_TOTAL, &["ok"], 1);
            return self.admit(host, Some(identity));
        }
        if has_whitespace(token) {
            return self.refuse(host, AuthnFailure::Malformed);
        }
        let parsed = match parse(token) {
            Ok(parsed) => parsed,
            Err(failure) => return self.refuse(host, failure),
        };
        if !fetched && parsed.alg.family() != AlgorithmFamily::Hmac {
            let unknown_kid = !keys.is_empty()
                && keys.lookup(parsed.kid.as_deref(), parsed.alg) == Lookup::UnknownKid;
            let due = self
                .shared
                .jwks()
                .fetch_due(&self.settings.refresh, now, unknown_kid)
                .filter(|_| self.settings.jwks_source != JwksSource::Inline);
            if let Some(reason) = due {
                return self.start_fetch(host, reason, token.to_string());
            }
        }
        match self.settings.validator.verify(&parsed, &keys, now) {
            Ok(verified) => {
                host.counter_add(AUTHN_TOTAL, &["ok"], 1);
                let expires_at = verified
                    .expires_at
                    .unwrap_or(now.saturating_add(CACHE_TTL_WITHOUT_EXP));
                let identity = Arc::new(Identity {
                    cel: Arc::new(Claims::from_json(&verified.claims)),
                    claims: verified.claims,
                    decisions: DecisionCache::default(),
                });
                self.shared.cache().insert(
                    token,
                    Arc::clone(&identity),
                    expires_at,
                    generation,
                    now,
                );
                self.admit(host, Some(identity))
            }
            Err(failure) => self.refuse(host, failure),
        }
    }

    fn refuse(&mut self, host: &mut dyn Host, failure: AuthnFailure) -> Verdict {
        host.counter_add(AUTHN_TOTAL, &[failure.reason()], 1);
        if failure == AuthnFailure::NoKeys {
            reply::keys_unavailable(host, self.settings.refresh.min_refetch_interval);
            return Verdict::Replied;
        }
        let description = failure.to_string();
        reply::unauthorized(
            host,
            self.settings.metadata.as_ref(),
            &Challenge::InvalidToken {
                description: &description,
            },
        );
        Verdict::Replied
    }

    fn start_fetch(&mut self, host: &mut dyn Host, reason: FetchReason, token: String) -> Verdict {
        let now = host.unix_seconds();
        match key_fetch::begin(&self.settings, &self.shared, Fetcher::Request, now) {
            Some((step, request)) => self.send(host, step, reason, token, request),
            None => self.authenticate(host, &token, true),
        }
    }

    fn send(
        &mut self,
        host: &mut dyn Host,
        step: Step,
        reason: FetchReason,
        token: String,
        request: ai_gateway_core::CalloutRequest,
    ) -> Verdict {
        match host.http_callout(request) {
            Ok(id) => {
                self.stage = Stage::Fetching {
                    id,
                    step,
                    reason,
                    token,
                };
                Verdict::Waiting
            }
            Err(e) => {
                let mut background = StreamBackground(host);
                key_fetch::failed(
                    &self.settings,
                    &self.shared,
                    &mut background,
                    reason,
                    &e.to_string(),
                );
                self.authenticate(host, &token, true)
            }
        }
    }

    fn fetched(
        &mut self,
        host: &mut dyn Host,
        step: Step,
        reason: FetchReason,
        token: String,
        result: CalloutResult,
    ) -> Verdict {
        let mut background = StreamBackground(host);
        let next = key_fetch::step_done(
            &self.settings,
            &self.shared,
            &mut background,
            step,
            reason,
            result,
        );
        if let Some((step, request)) = next {
            return self.send(host, step, reason, token, request);
        }
        self.authenticate(host, &token, true)
    }

    /// The caller is authenticated (or anonymous): forward its identity, then authorize now,
    /// or once the body is complete when the policies read it.
    fn admit(&mut self, host: &mut dyn Host, identity: Option<Arc<Identity>>) -> Verdict {
        let settings = Arc::clone(&self.settings);
        if let Some(identity) = &identity {
            for forward in &settings.claim_headers {
                if let Some(value) = identity.claims.get(&forward.claim).and_then(header_value) {
                    host.set_header(Direction::Request, &forward.header, &value);
                }
            }
        }
        if !settings.forward_token {
            host.remove_header(Direction::Request, settings.token_source.header_name());
        }
        self.identity = identity;
        if self.body_too_large {
            reply::too_large(host, settings.max_body_bytes);
            return Verdict::Replied;
        }
        if self.needs_body && self.body.is_none() {
            self.stage = Stage::AwaitingBody;
            return Verdict::Waiting;
        }
        self.authorize(host)
    }

    fn authorize(&mut self, host: &mut dyn Host) -> Verdict {
        let settings = Arc::clone(&self.settings);
        if settings.policies.is_empty() {
            return Verdict::Allowed;
        }
        // Policies that read only the token and the request line decide the same way for the
        // same token and line: remembered with the token.
        let remembered = settings.inspect_body.is_none() && !settings.policies.uses_headers();
        let identity = self.identity.clone().filter(|_| remembered);
        if let Some(identity) = &identity {
            if let Some(cached) = identity.decisions.get(&self.method, &self.path) {
                for (policy, outcome) in &cached.outcomes {
                    host.counter_add(DECISIONS_TOTAL, &[policy, outcome.as_str()], 1);
                }
                return self.conclude(host, cached.decision.clone(), None, Context::default());
            }
        }
        let mut context = Context {
            jwt: self.identity.as_ref().map(|i| Arc::clone(&i.cel)),
            // The decision is the last use of method and path.
            request: RequestInfo {
                method: std::mem::take(&mut self.method),
                path: std::mem::take(&mut self.path),
                headers: if settings.policies.uses_headers() {
                    host.headers(Direction::Request)
                } else {
                    Vec::new()
                },
            },
            ..Context::default()
        };
        let mut mcp_request_id = None;
        if let (Some(protocol), Some(body)) = (settings.inspect_body, &self.body) {
            match body::fill(protocol, body, &mut context) {
                Ok(id) => mcp_request_id = id,
                Err(error) => {
                    host.counter_add(DECISIONS_TOTAL, &["body", "error"], 1);
                    reply::bad_request(host, &error.to_string());
                    return Verdict::Replied;
                }
            }
        }
        let mut outcomes = Vec::new();
        let decision = settings.policies.evaluate(&context, |policy, outcome| {
            host.counter_add(DECISIONS_TOTAL, &[policy, outcome.as_str()], 1);
            if identity.is_some() {
                outcomes.push((policy.to_string(), outcome));
            }
        });
        if let Some(identity) = &identity {
            let cached = Cached {
                decision: decision.clone(),
                outcomes,
            };
            let request = &context.request;
            identity
                .decisions
                .insert(&request.method, &request.path, cached);
        }
        self.conclude(host, decision, mcp_request_id, context)
    }

    /// Acts on a decision: the request flows (an MCP listing to be trimmed is remembered with
    /// its `context`), or is answered as denied.
    fn conclude(
        &mut self,
        host: &mut dyn Host,
        decision: Decision,
        mcp_request_id: Option<serde_json::Value>,
        context: Context,
    ) -> Verdict {
        let settings = Arc::clone(&self.settings);
        match decision {
            Decision::Allow => {
                if let Some(kind) = listed_kind(&context.mcp.method) {
                    self.listing = Some((kind, context));
                }
                Verdict::Allowed
            }
            Decision::Deny {
                policy,
                scope,
                error,
            } => {
                if let Some(error) = error {
                    host.log(
                        LogLevel::Warn,
                        format_args!("authz: policy {policy} failed, request denied: {error}"),
                    );
                }
                match (mcp_request_id, scope) {
                    // MCP's scope challenge (403 insufficient_scope) is for a denial a token
                    // with more scope would lift; any other denied call is a JSON-RPC error.
                    (Some(id), None) => reply::mcp_call_denied(host, id, &policy),
                    (_, scope) => reply::forbidden(
                        host,
                        settings.metadata.as_ref(),
                        &policy,
                        scope.as_deref(),
                    ),
                }
                Verdict::Replied
            }
        }
    }

    fn settle(&mut self, verdict: Verdict) -> Action {
        match verdict {
            Verdict::Allowed => {
                self.stage = Stage::Allowed;
                Action::Continue
            }
            Verdict::Replied => {
                self.stage = Stage::Replied;
                Action::Pause
            }
            Verdict::Waiting => Action::Pause,
        }
    }
}

/// A claim as a header value: strings as they are, other scalars as JSON, string lists
/// comma-separated; control characters dropped (they would split the header).
fn header_value(claim: &serde_json::Value) -> Option<String> {
    let text = match claim {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) if items.iter().all(|i| i.is_string()) => items
            .iter()
            .filter_map(|i| i.as_str())
            .collect::<Vec<_>>()
            .join(","),
        serde_json::Value::Null => return None,
        other => other.to_string(),
    };
    Some(text.chars().filter(|c| !c.is_control()).collect())
}

impl HttpFilter for AuthzFilter {
    fn on_request_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        let settings = Arc::clone(&self.settings);
        self.needs_body = settings.inspect_body.is_some() && !end_of_stream;
        let names = [":method", ":path", settings.token_source.header_name()];
        let [method, path, credential]: [Option<String>; 3] = host
            .header_values(Direction::Request, &names)
            .try_into()
            .unwrap_or_default();
        self.method = method.unwrap_or_default();
        self.path = path.unwrap_or_default();
        if let Some(query) = self.path.find('?') {
            self.path.truncate(query);
        }
        // The client never chooses the identity headers.
        for forward in &settings.claim_headers {
            host.remove_header(Direction::Request, &forward.header);
        }
        if let Some(endpoint) = &settings.metadata {
            if endpoint.paths.contains(&self.path) {
                reply::metadata(host, endpoint, &self.method);
                return self.settle(Verdict::Replied);
            }
        }
        let verdict = match settings.token_source.extract(credential.as_deref()) {
            Ok(token) => self.authenticate(host, token, false),
            Err(TokenError::Missing) if settings.allow_anonymous => {
                host.counter_add(AUTHN_TOTAL, &["anonymous"], 1);
                self.admit(host, None)
            }
            Err(TokenError::Missing) => {
                host.counter_add(AUTHN_TOTAL, &["missing"], 1);
                reply::unauthorized(host, settings.metadata.as_ref(), &Challenge::NoToken);
                Verdict::Replied
            }
            Err(TokenError::Malformed) => self.refuse(host, AuthnFailure::Malformed),
        };
        self.settle(verdict)
    }

    fn on_request_body(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        // Until the decision, the body waits (a Continue here would let the request through).
        match self.stage {
            Stage::Allowed => return Action::Continue,
            Stage::Replied => return Action::Pause,
            Stage::Checking | Stage::Fetching { .. } | Stage::AwaitingBody => {}
        }
        if !self.needs_body || self.body.is_some() || self.body_too_large {
            return Action::Pause;
        }
        let body = host.body(Direction::Request);
        if body.len() > self.settings.max_body_bytes {
            if let Stage::Fetching { .. } = self.stage {
                self.body_too_large = true;
                return Action::Pause;
            }
            reply::too_large(host, self.settings.max_body_bytes);
            return self.settle(Verdict::Replied);
        }
        if !end_of_stream {
            return Action::Pause;
        }
        self.body = Some(body);
        match self.stage {
            Stage::AwaitingBody => {
                let verdict = self.authorize(host);
                self.settle(verdict)
            }
            // Still fetching keys: the decision comes with the callout's answer.
            _ => Action::Pause,
        }
    }

    fn on_response_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        if self.listing.is_none() {
            return Action::Continue;
        }
        let success = host
            .header(Direction::Response, ":status")
            .is_some_and(|s| s.starts_with('2'));
        if end_of_stream || !success {
            self.listing = None;
            return Action::Continue;
        }
        // The trimmed answer is shorter.
        host.remove_header(Direction::Response, "content-length");
        Action::Pause
    }

    fn on_response_body(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        let Some((kind, context)) = &self.listing else {
            return Action::Continue;
        };
        let body = host.body(Direction::Response);
        if body.len() > MAX_LISTING_BYTES {
            host.log(
                LogLevel::Warn,
                format_args!("authz: listing over {MAX_LISTING_BYTES} bytes passed untrimmed"),
            );
            self.listing = None;
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let policies = &self.settings.policies;
        let keep = |names: &[&str]| policies.filter_names(context, *kind, names);
        if let Some(trimmed) = trim_listing(&body, *kind, &keep) {
            if let Err(err) = host.set_body(Direction::Response, &trimmed) {
                host.log(
                    LogLevel::Error,
                    format_args!("authz: cannot trim a listing: {err}"),
                );
            }
        }
        self.listing = None;
        Action::Continue
    }

    fn on_callout_done(&mut self, host: &mut dyn Host, id: CalloutId, result: CalloutResult) {
        let Stage::Fetching {
            id: expected,
            step,
            reason,
            ..
        } = &self.stage
        else {
            return;
        };
        if *expected != id {
            return;
        }
        let (step, reason) = (*step, *reason);
        let Stage::Fetching { token, .. } = std::mem::replace(&mut self.stage, Stage::Checking)
        else {
            return;
        };
        let verdict = self.fetched(host, step, reason, token, result);
        if let Action::Continue = self.settle(verdict) {
            host.resume(Direction::Request);
        }
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
pub(crate) mod tests;
