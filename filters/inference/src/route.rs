//! The route stage, placed after ext_proc: reads the EPP's pick (`envoy.lb` metadata, else the
//! request header), keeps only candidates inside the pool, and hands them to the final hop.
//! When nothing usable came back, FailClose answers 503 and FailOpen lets the filter's picker
//! choose. On the response it reports the served endpoint and counts per endpoint and pool.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ai_gateway_core::{Action, Direction, Host, HostError, HttpFilter, LogLevel};

use crate::config::{FailureMode, FinalHop, PoolSettings, RouteSettings};
use crate::endpoint::join;
use crate::guard::{ROUTED_KEY, ROUTED_NAMESPACE};
use crate::headers::{
    served_header_used, DESTINATION, LB_NAMESPACE, ORIGINAL_DST_HOST, POOL, SERVED,
};
use crate::metrics::{self, Reason};
use crate::picker;
use crate::request_body;
use crate::usage::UsageReader;

/// One request's routing state.
pub struct RouteFilter {
    settings: Arc<RouteSettings>,
    /// Index of the request's pool in `settings.pools`.
    pool: usize,
    started_nanos: u64,
    /// The endpoint handed to the final hop first (the served one unless retries moved on).
    routed: Option<SocketAddr>,
    /// Reading the request body for the picker's weight (FailOpen only).
    reading_body: bool,
    /// The endpoint that answered, once response headers arrived.
    served: Option<SocketAddr>,
    /// Work added to a member's shared load by the picker: (member, weight).
    picker_load: Option<(usize, i64)>,
    status: Option<u16>,
    usage: Option<UsageReader>,
    /// Routing headers the request arrived with at this stage (the EPP's or a client's).
    arrived: ArrivedHeaders,
}

/// The final-hop headers present when the route stage ran: only changed where they differ from
/// what the stage decides (each header call crosses into Envoy).
#[derive(Default)]
struct ArrivedHeaders {
    destination: Option<String>,
    original_dst: bool,
}

impl RouteFilter {
    /// A route stage over the shared settings.
    pub fn new(settings: Arc<RouteSettings>) -> Self {
        RouteFilter {
            settings,
            pool: 0,
            started_nanos: 0,
            routed: None,
            served: None,
            reading_body: false,
            picker_load: None,
            status: None,
            usage: None,
            arrived: ArrivedHeaders::default(),
        }
    }

    fn pool(&self) -> &PoolSettings {
        &self.settings.pools[self.pool]
    }

    fn decide(&self, host: &mut dyn Host, reason: Reason) {
        let pool = self.pool().pool.name.as_str();
        host.counter_add(metrics::DECISIONS_TOTAL, &[pool, reason.tag()], 1);
    }

    /// The pool named by the pool header; the only pool when there is one and no header.
    fn select_pool(&self, named: Option<&str>) -> Option<usize> {
        let pools = &self.settings.pools;
        match named {
            Some(name) => pools.iter().position(|p| p.pool.name == name),
            None if pools.len() == 1 => Some(0),
            None => None,
        }
    }

    /// Hands `endpoints` (in the pool, in preference order) to the final hop, leaving only the
    /// header that hop reads: this stage alone decides what the final hop sees.
    fn route(&mut self, host: &mut dyn Host, endpoints: &[SocketAddr]) -> Result<(), HostError> {
        let mut keep_destination = false;
        match self.settings.final_hop {
            FinalHop::OverrideHost => {
                let value = join(endpoints);
                if self.arrived.destination.as_deref() != Some(value.as_str()) {
                    host.set_header(Direction::Request, DESTINATION, &value);
                }
                keep_destination = true;
            }
            FinalHop::OriginalDst => {
                host.set_header(
                    Direction::Request,
                    ORIGINAL_DST_HOST,
                    &endpoints[0].to_string(),
                );
                self.arrived.original_dst = false;
            }
            FinalHop::HostOverride => {
                if let Err(err) = host.set_upstream_override_host(&endpoints[0].to_string(), true) {
                    host.log(
                        LogLevel::Error,
                        format_args!("inference: finalHop hostOverride refused: {err}"),
                    );
                    return Err(err);
                }
            }
        }
        if self.arrived.destination.is_some() && !keep_destination {
            host.remove_header(Direction::Request, DESTINATION);
        }
        if self.arrived.original_dst {
            host.remove_header(Direction::Request, ORIGINAL_DST_HOST);
        }
        self.routed = Some(endpoints[0]);
        Ok(())
    }

    /// Hands `endpoints` over, or answers 500 when this flavour cannot (a config mistake).
    fn route_or_fail(&mut self, host: &mut dyn Host, endpoints: &[SocketAddr]) -> Action {
        match self.route(host, endpoints) {
            Ok(()) => Action::Continue,
            Err(_) => {
                host.send_local_reply(
                    500,
                    &[("content-type", "text/plain")],
                    b"inference: this proxy flavour cannot set the upstream host (finalHop hostOverride needs the dynamic module)\n",
                    "inference_final_hop_unavailable",
                );
                Action::Pause
            }
        }
    }

    fn fail_close(&mut self, host: &mut dyn Host, why: &str) -> Action {
        self.decide(host, Reason::FailClose);
        let body = format!(
            "no inference endpoint available in pool {}: {why}\n",
            self.pool().pool.name
        );
        host.send_local_reply(
            503,
            &[("content-type", "text/plain")],
            body.as_bytes(),
            "inference_no_endpoint",
        );
        Action::Pause
    }

    /// FailOpen: the least loaded pool member, weighted by the request's output cap.
    fn pick(&mut self, host: &mut dyn Host, max_tokens: Option<u64>) -> Action {
        let pool = &self.settings.pools[self.pool].pool;
        let start = self.settings.rotation.fetch_add(1, Ordering::Relaxed);
        let Some(index) = picker::pick(host, pool, start) else {
            return self.fail_close(host, "the pool has no endpoints");
        };
        let weight = picker::weight(max_tokens, self.settings.default_max_tokens);
        picker::adjust(host, pool, index, weight);
        let endpoint = pool.endpoints[index];
        self.picker_load = Some((index, weight));
        self.decide(host, Reason::FailOpen);
        self.route_or_fail(host, &[endpoint])
    }

    fn endpoint_tag(&self) -> &str {
        self.served
            .or(self.routed)
            .and_then(|addr| self.pool().pool.member(addr))
            .map_or(ai_gateway_core::metrics::OTHER, |i| {
                self.pool().endpoint_tags[i].as_str()
            })
    }
}

impl HttpFilter for RouteFilter {
    fn on_request_headers(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        self.started_nanos = host.monotonic_nanos();
        // Tells the guard's EPP deadline that ext_proc let the request go.
        host.set_metadata(ROUTED_NAMESPACE, ROUTED_KEY, "1");
        let [named_pool, header_pick, original_dst] = host
            .header_values(Direction::Request, &[POOL, DESTINATION, ORIGINAL_DST_HOST])
            .try_into()
            .unwrap_or_default();
        self.arrived = ArrivedHeaders {
            destination: header_pick.clone(),
            original_dst: original_dst.is_some(),
        };
        let pick = host.metadata(LB_NAMESPACE, DESTINATION).or(header_pick);
        if named_pool.is_some() {
            host.remove_header(Direction::Request, POOL);
        }
        let Some(pool) = self.select_pool(named_pool.as_deref()) else {
            host.log(
                LogLevel::Error,
                format_args!("inference: no pool named {named_pool:?} in the route stage's config"),
            );
            host.send_local_reply(
                503,
                &[("content-type", "text/plain")],
                b"no inference pool configured for this route\n",
                "inference_no_pool",
            );
            return Action::Pause;
        };
        self.pool = pool;
        let checked = pick
            .as_deref()
            .map(|value| self.pool().pool.check(value))
            .unwrap_or_default();
        for (addr, refusal) in &checked.refused {
            host.log(
                LogLevel::Warn,
                format_args!(
                    "inference: EPP pick {addr} refused ({refusal:?}) for pool {}",
                    self.pool().pool.name
                ),
            );
            self.decide(host, Reason::OutsidePool);
        }
        if !checked.valid.is_empty() {
            let first_was_used = checked.refused.is_empty() && checked.malformed == 0
                || pick
                    .as_deref()
                    .and_then(|v| v.split(',').map(str::trim).find(|e| !e.is_empty()))
                    .and_then(|first| crate::endpoint::parse_one(first).ok())
                    == Some(checked.valid[0]);
            let reason = if first_was_used {
                Reason::Epp
            } else {
                Reason::EppFallback
            };
            self.decide(host, reason);
            return self.route_or_fail(host, &checked.valid);
        }
        let why = match &pick {
            None => "the endpoint picker gave no destination",
            Some(_) if !checked.refused.is_empty() => {
                "the endpoint picker's pick is outside the pool"
            }
            Some(_) => "the endpoint picker's destination is not ip:port",
        };
        match self.pool().failure_mode {
            FailureMode::FailClose => self.fail_close(host, why),
            FailureMode::FailOpen if end_of_stream => self.pick(host, None),
            FailureMode::FailOpen => {
                self.reading_body = true;
                Action::Pause
            }
        }
    }

    fn on_request_body(&mut self, host: &mut dyn Host, end_of_stream: bool) -> Action {
        if !self.reading_body {
            return Action::Continue;
        }
        let body = host.body(Direction::Request);
        let over = body.len() > self.settings.max_body_bytes;
        if !end_of_stream && !over {
            return Action::Pause;
        }
        self.reading_body = false;
        let max_tokens = if over {
            None
        } else {
            request_body::facts(&body).max_tokens
        };
        self.pick(host, max_tokens)
    }

    fn on_response_headers(&mut self, host: &mut dyn Host, _end_of_stream: bool) -> Action {
        let Some(routed) = self.routed else {
            return Action::Continue;
        };
        // The host that answered (a retry may have moved past the first candidate), else the
        // first candidate handed over.
        let (served, text) = served_endpoint(host.upstream_address(), routed);
        self.served = Some(served);
        let served = text.unwrap_or_else(|| served.to_string());
        let [status, content_type] = host
            .header_values(Direction::Response, &[":status", "content-type"])
            .try_into()
            .unwrap_or_default();
        self.status = status.and_then(|s| s.parse().ok());
        host.set_metadata(LB_NAMESPACE, SERVED, &served);
        if served_header_used(host) {
            host.set_header(Direction::Response, SERVED, &served);
        }
        self.usage = Some(UsageReader::new(
            content_type.as_deref().unwrap_or(""),
            self.settings.max_body_bytes,
        ));
        Action::Continue
    }

    fn on_response_body(&mut self, host: &mut dyn Host, _end_of_stream: bool) -> Action {
        if let Some(usage) = &mut self.usage {
            usage.feed(&host.body(Direction::Response));
        }
        Action::Continue
    }

    fn on_stream_done(&mut self, host: &mut dyn Host) {
        if let Some((index, weight)) = self.picker_load.take() {
            picker::adjust(host, &self.settings.pools[self.pool].pool, index, -weight);
        }
        if self.routed.is_none() {
            return;
        }
        let pool = self.pool().pool.name.as_str();
        let endpoint = self.endpoint_tag();
        let outcome = metrics::outcome(self.status);
        host.counter_add(metrics::REQUESTS_TOTAL, &[pool, endpoint, outcome], 1);
        let elapsed_ms = host.monotonic_nanos().saturating_sub(self.started_nanos) / 1_000_000;
        host.histogram_record(metrics::REQUEST_DURATION_MS, &[pool, endpoint], elapsed_ms);
        if let Some(usage) = self.usage.as_ref().and_then(UsageReader::finish) {
            let tags = |kind| [pool, endpoint, kind];
            host.counter_add(metrics::TOKENS_TOTAL, &tags("prompt"), usage.prompt_tokens);
            host.counter_add(
                metrics::TOKENS_TOTAL,
                &tags("completion"),
                usage.completion_tokens,
            );
        }
    }
}

/// The endpoint that answered (Envoy's upstream address; a retry may have moved past the first
/// candidate), else the first candidate handed over; with Envoy's own text of the address when
/// that is already the canonical form (saves formatting it again).
fn served_endpoint(upstream: Option<String>, routed: SocketAddr) -> (SocketAddr, Option<String>) {
    let Some(text) = upstream else {
        return (routed, None);
    };
    match text.parse::<SocketAddr>() {
        Ok(raw) if raw.port() != 0 => {
            let served = crate::endpoint::canonical(raw);
            (served, (served == raw).then_some(text))
        }
        _ => (routed, None),
    }
}
