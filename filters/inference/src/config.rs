//! The filter's JSON configuration and its validation. The filter runs twice in the chain, so
//! the config names its `stage`: `guard` (before ext_proc) or `route` (after ext_proc).

use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;

use ai_gateway_core::{parse_config, ConfigError};
use serde::Deserialize;

use crate::cidr::Cidr;
use crate::endpoint::parse_one;
use crate::pool::Pool;

/// Where the filter instance sits relative to Envoy's ext_proc (the EPP exchange).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Stage {
    /// Before ext_proc: strips client-supplied routing headers, optionally routes by body model.
    Guard,
    /// After ext_proc: validates the EPP's pick and hands it to the final hop.
    Route,
}

/// What to do when the EPP named no usable endpoint (down, timed out, or only bad picks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum FailureMode {
    /// Answer 503 (the Inference Extension's default).
    #[default]
    FailClose,
    /// Route with the filter's own picker over `pool.endpoints`.
    FailOpen,
}

/// How the chosen endpoint reaches Envoy's router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FinalHop {
    /// Request header `x-gateway-destination-endpoint` = the valid candidates, for a cluster
    /// with the `override_host` load-balancing policy reading that header (it takes the first
    /// address in the cluster; retries walk the list).
    #[default]
    OverrideHost,
    /// Request header `x-envoy-original-dst-host` = the first valid candidate, for an
    /// `ORIGINAL_DST` cluster with `use_http_header` (one address only).
    OriginalDst,
    /// The first valid candidate set as the stream's upstream override host, strict (dynamic
    /// module only): a pick not in the route's cluster fails with 503 instead of being balanced
    /// elsewhere. Any cluster type with the pool's endpoints; no fallback list.
    HostOverride,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPool {
    name: String,
    cidrs: Vec<String>,
    target_ports: Vec<u16>,
    #[serde(default)]
    endpoints: Vec<String>,
    #[serde(default)]
    failure_mode: FailureMode,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawBodyRouting {
    #[serde(default = "default_max_body_bytes")]
    max_body_bytes: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConfig {
    stage: Stage,
    // guard
    #[serde(default)]
    body_routing: Option<RawBodyRouting>,
    #[serde(default)]
    expose_served_endpoint: bool,
    #[serde(default)]
    epp_timeout_ms: Option<u64>,
    // route
    #[serde(default)]
    pools: Vec<RawPool>,
    #[serde(default)]
    final_hop: FinalHop,
    #[serde(default = "default_max_tokens")]
    default_max_tokens: u64,
    #[serde(default = "default_max_body_bytes")]
    max_body_bytes: usize,
}

fn default_max_body_bytes() -> usize {
    1024 * 1024
}

fn default_max_tokens() -> u64 {
    256
}

/// Most pool endpoints: each is a metric tag value and a shared-store key.
pub const MAX_ENDPOINTS: usize = 256;

/// The guard stage's settings.
#[derive(Debug)]
pub struct GuardSettings {
    /// Body-based routing: the largest body read for `model` (None: off).
    pub body_routing_max_bytes: Option<usize>,
    /// Keep `x-gateway-destination-endpoint-served` on the client's response.
    pub expose_served_endpoint: bool,
    /// The longest a request may wait between this stage and the route stage (the EPP
    /// exchange) before it is answered 503: ext_proc has no message timeout in
    /// `FULL_DUPLEX_STREAMED` mode, so a hung EPP would hold the request forever. None: off.
    pub epp_timeout_ms: Option<u64>,
}

/// Largest `eppTimeoutMs`: one hour (a deadline, not a way to park requests).
pub const MAX_EPP_TIMEOUT_MS: u64 = 3_600_000;

/// One pool of the route stage.
#[derive(Debug)]
pub struct PoolSettings {
    pub pool: Pool,
    /// Tag-safe form of each `pool.endpoints` entry (same index).
    pub endpoint_tags: Vec<String>,
    pub failure_mode: FailureMode,
}

/// Most pools one route stage serves.
pub const MAX_POOLS: usize = 64;

/// The route stage's settings.
#[derive(Debug)]
pub struct RouteSettings {
    /// The pools; with several, request header `x-ai-gateway-inference-pool` (set per route by
    /// Envoy's header_mutation filter) names the request's pool.
    pub pools: Vec<PoolSettings>,
    pub final_hop: FinalHop,
    /// Weight of a request without an output cap.
    pub default_max_tokens: u64,
    /// Bound on request bytes read for the picker and response bytes read for usage.
    pub max_body_bytes: usize,
    /// Rotates the picker's tie-break across requests.
    pub rotation: AtomicUsize,
}

/// A validated configuration.
#[derive(Debug)]
pub enum Settings {
    Guard(GuardSettings),
    Route(RouteSettings),
}

impl Settings {
    /// Parses and validates; errors name the offending field.
    pub fn from_json(json: &str) -> Result<Settings, ConfigError> {
        let raw: RawConfig = parse_config(json)?;
        match raw.stage {
            Stage::Guard => guard(raw),
            Stage::Route => route(raw),
        }
    }
}

fn guard(raw: RawConfig) -> Result<Settings, ConfigError> {
    if !raw.pools.is_empty() {
        return Err(ConfigError::invalid(
            "pools",
            "only for stage \"route\" (the guard runs before the EPP has picked)",
        ));
    }
    let body_routing_max_bytes = match raw.body_routing {
        Some(b) if b.max_body_bytes == 0 => {
            return Err(ConfigError::invalid(
                "bodyRouting.maxBodyBytes",
                "must be greater than 0",
            ))
        }
        Some(b) => Some(b.max_body_bytes),
        None => None,
    };
    if let Some(ms) = raw.epp_timeout_ms {
        if ms == 0 || ms > MAX_EPP_TIMEOUT_MS {
            return Err(ConfigError::invalid(
                "eppTimeoutMs",
                format!("1 to {MAX_EPP_TIMEOUT_MS} milliseconds"),
            ));
        }
    }
    Ok(Settings::Guard(GuardSettings {
        body_routing_max_bytes,
        expose_served_endpoint: raw.expose_served_endpoint,
        epp_timeout_ms: raw.epp_timeout_ms,
    }))
}

fn route(raw: RawConfig) -> Result<Settings, ConfigError> {
    if raw.body_routing.is_some() {
        return Err(ConfigError::invalid(
            "bodyRouting",
            "only for stage \"guard\" (the route must be chosen before ext_proc runs)",
        ));
    }
    if raw.epp_timeout_ms.is_some() {
        return Err(ConfigError::invalid(
            "eppTimeoutMs",
            "only for stage \"guard\" (the deadline starts before ext_proc)",
        ));
    }
    if raw.pools.is_empty() || raw.pools.len() > MAX_POOLS {
        return Err(ConfigError::invalid(
            "pools",
            format!("1 to {MAX_POOLS} pools for stage \"route\""),
        ));
    }
    let mut pools: Vec<PoolSettings> = Vec::with_capacity(raw.pools.len());
    for (i, raw_pool) in raw.pools.into_iter().enumerate() {
        let failure_mode = raw_pool.failure_mode;
        let pool = validate_pool(raw_pool, &format!("pools[{i}]"))?;
        if pools.iter().any(|p| p.pool.name == pool.name) {
            return Err(ConfigError::invalid(
                format!("pools[{i}].name"),
                format!("duplicate pool {:?}", pool.name),
            ));
        }
        if failure_mode == FailureMode::FailOpen && pool.endpoints.is_empty() {
            return Err(ConfigError::invalid(
                format!("pools[{i}].endpoints"),
                "FailOpen needs at least one endpoint for the filter's picker",
            ));
        }
        let endpoint_tags = pool.endpoints.iter().map(|e| endpoint_tag(*e)).collect();
        pools.push(PoolSettings {
            pool,
            endpoint_tags,
            failure_mode,
        });
    }
    if raw.max_body_bytes == 0 {
        return Err(ConfigError::invalid(
            "maxBodyBytes",
            "must be greater than 0",
        ));
    }
    Ok(Settings::Route(RouteSettings {
        pools,
        final_hop: raw.final_hop,
        default_max_tokens: raw.default_max_tokens,
        max_body_bytes: raw.max_body_bytes,
        rotation: AtomicUsize::new(0),
    }))
}

fn validate_pool(raw: RawPool, at: &str) -> Result<Pool, ConfigError> {
    if !is_tag_safe(&raw.name) {
        return Err(ConfigError::invalid(
            format!("{at}.name"),
            "must be 1 to 64 ASCII letters, digits, '-' or '_' (a metric tag value)",
        ));
    }
    if raw.cidrs.is_empty() {
        return Err(ConfigError::invalid(
            format!("{at}.cidrs"),
            "at least one address range is required (nothing outside it is ever routed to)",
        ));
    }
    let mut cidrs = Vec::with_capacity(raw.cidrs.len());
    for (i, text) in raw.cidrs.iter().enumerate() {
        cidrs.push(
            Cidr::parse(text)
                .map_err(|e| ConfigError::invalid(format!("{at}.cidrs[{i}]"), e.to_string()))?,
        );
    }
    if raw.target_ports.is_empty() || raw.target_ports.contains(&0) {
        return Err(ConfigError::invalid(
            format!("{at}.targetPorts"),
            "at least one port, none of them 0",
        ));
    }
    if raw.endpoints.len() > MAX_ENDPOINTS {
        return Err(ConfigError::invalid(
            format!("{at}.endpoints"),
            format!("at most {MAX_ENDPOINTS} (each is a metric tag value)"),
        ));
    }
    let mut pool = Pool {
        name: raw.name,
        cidrs,
        target_ports: raw.target_ports,
        endpoints: Vec::with_capacity(raw.endpoints.len()),
    };
    for (i, text) in raw.endpoints.iter().enumerate() {
        let field = format!("{at}.endpoints[{i}]");
        let addr: SocketAddr =
            parse_one(text).map_err(|e| ConfigError::invalid(&field, e.to_string()))?;
        if let Some(reason) = pool.refusal(addr) {
            return Err(ConfigError::invalid(
                field,
                format!("{addr} is not in the pool ({reason:?})"),
            ));
        }
        if pool.endpoints.contains(&addr) {
            return Err(ConfigError::invalid(field, format!("duplicate {addr}")));
        }
        pool.endpoints.push(addr);
    }
    Ok(pool)
}

fn is_tag_safe(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name != ai_gateway_core::metrics::OTHER
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An endpoint as a metric tag value, the same in both flavours: `.` and `:` end or break a
/// Wasm stat-name tag, so `10.0.0.1:8000` becomes `10_0_0_1_8000` and `[::1]:8000` `__1_8000`.
pub fn endpoint_tag(addr: SocketAddr) -> String {
    addr.to_string()
        .chars()
        .filter(|c| !matches!(c, '[' | ']'))
        .map(|c| if c == '.' || c == ':' { '_' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POOL: &str = r#""pools":[{"name":"p","cidrs":["127.0.0.0/24","::1/128"],"targetPorts":[8000],"endpoints":["127.0.0.2:8000","[::1]:8000"]}]"#;

    fn field_of(json: &str) -> String {
        match Settings::from_json(json).unwrap_err() {
            ConfigError::Invalid { field, .. } => field,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_route_config_gets_the_documented_defaults() {
        let Settings::Route(s) =
            Settings::from_json(&format!(r#"{{"stage":"route",{POOL}}}"#)).unwrap()
        else {
            panic!("route settings expected");
        };
        assert_eq!(s.pools[0].failure_mode, FailureMode::FailClose);
        assert_eq!(s.final_hop, FinalHop::OverrideHost);
        assert_eq!(s.default_max_tokens, 256);
        assert_eq!(s.pools[0].endpoint_tags, ["127_0_0_2_8000", "__1_8000"]);
    }

    #[test]
    fn a_guard_config_reads_body_routing() {
        let Settings::Guard(g) =
            Settings::from_json(r#"{"stage":"guard","bodyRouting":{}}"#).unwrap()
        else {
            panic!("guard settings expected");
        };
        assert_eq!(g.body_routing_max_bytes, Some(1024 * 1024));
        assert!(!g.expose_served_endpoint);
        assert_eq!(g.epp_timeout_ms, None);
    }

    #[test]
    fn a_guard_config_reads_the_epp_timeout() {
        let Settings::Guard(g) =
            Settings::from_json(r#"{"stage":"guard","eppTimeoutMs":2500}"#).unwrap()
        else {
            panic!("guard settings expected");
        };
        assert_eq!(g.epp_timeout_ms, Some(2500));
    }

    #[test]
    fn invalid_configs_name_the_field() {
        let route = |extra: &str| format!(r#"{{"stage":"route",{POOL}{extra}}}"#);
        let cases: Vec<(String, &str)> = vec![
            (r#"{}"#.into(), "stage"),
            (r#"{"stage":"middle"}"#.into(), "stage"),
            (r#"{"stage":"route"}"#.into(), "pools"),
            (format!(r#"{{"stage":"guard",{POOL}}}"#), "pools"),
            (route(r#","bodyRouting":{}"#), "bodyRouting"),
            (r#"{"stage":"guard","bodyRouting":{"maxBodyBytes":0}}"#.into(), "bodyRouting.maxBodyBytes"),
            (r#"{"stage":"guard","eppTimeoutMs":0}"#.into(), "eppTimeoutMs"),
            (r#"{"stage":"guard","eppTimeoutMs":3600001}"#.into(), "eppTimeoutMs"),
            (route(r#","eppTimeoutMs":1000"#), "eppTimeoutMs"),
            (r#"{"stage":"route","pools":[{"name":"p","cidrs":["10.0.0.0/8"],"targetPorts":[1],"failureMode":"Sometimes"}]}"#.into(), "pools[0].failureMode"),
            (route(r#","finalHop":"dns""#), "finalHop"),
            (route(r#","maxBodyBytes":0"#), "maxBodyBytes"),
            (route(r#","bogus":1"#), "bogus"),
            (r#"{"stage":"route","pools":[{"name":"a b","cidrs":["10.0.0.0/8"],"targetPorts":[1]}]}"#.into(), "pools[0].name"),
            (r#"{"stage":"route","pools":[{"name":"other","cidrs":["10.0.0.0/8"],"targetPorts":[1]}]}"#.into(), "pools[0].name"),
            (r#"{"stage":"route","pools":[{"name":"p","cidrs":[],"targetPorts":[1]}]}"#.into(), "pools[0].cidrs"),
            (r#"{"stage":"route","pools":[{"name":"p","cidrs":["10.0.0.0/8","10.1.1.1/8"],"targetPorts":[1]}]}"#.into(), "pools[0].cidrs[1]"),
            (r#"{"stage":"route","pools":[{"name":"p","cidrs":["10.0.0.0/8"],"targetPorts":[]}]}"#.into(), "pools[0].targetPorts"),
            (r#"{"stage":"route","pools":[{"name":"p","cidrs":["10.0.0.0/8"],"targetPorts":[0]}]}"#.into(), "pools[0].targetPorts"),
            (r#"{"stage":"route","pools":[{"name":"p","cidrs":["10.0.0.0/8"],"targetPorts":[1],"endpoints":["11.0.0.1:1"]}]}"#.into(), "pools[0].endpoints[0]"),
            (r#"{"stage":"route","pools":[{"name":"p","cidrs":["10.0.0.0/8"],"targetPorts":[1],"endpoints":["10.0.0.1:2"]}]}"#.into(), "pools[0].endpoints[0]"),
            (r#"{"stage":"route","pools":[{"name":"p","cidrs":["10.0.0.0/8"],"targetPorts":[1],"endpoints":["10.0.0.1:1","10.0.0.1:1"]}]}"#.into(), "pools[0].endpoints[1]"),
            (r#"{"stage":"route","pools":[{"name":"p","cidrs":["10.0.0.0/8"],"targetPorts":[1],"endpoints":["pod:1"]}]}"#.into(), "pools[0].endpoints[0]"),
            (r#"{"stage":"route","pools":[{"name":"p","failureMode":"FailOpen","cidrs":["10.0.0.0/8"],"targetPorts":[1]}]}"#.into(), "pools[0].endpoints"),
            (r#"{"stage":"route","pools":[{"name":"p","cidrs":["10.0.0.0/8"],"targetPorts":[1]},{"name":"p","cidrs":["10.0.0.0/8"],"targetPorts":[1]}]}"#.into(), "pools[1].name"),
            (r#"{"stage":"route","pools":[]}"#.into(), "pools"),
        ];
        for (json, field) in &cases {
            assert_eq!(&field_of(json), field, "config: {json}");
        }
    }

    #[test]
    fn endpoint_tags_are_flavour_safe() {
        let tag = |s: &str| endpoint_tag(s.parse().unwrap());
        assert_eq!(tag("10.0.0.1:8000"), "10_0_0_1_8000");
        assert_eq!(tag("[fd00::2]:9000"), "fd00__2_9000");
    }
}
