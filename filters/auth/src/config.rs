//! The `authz` filter's JSON configuration (see the README's "authz filter" section), parsed and
//! validated once into [`Settings`].

use std::collections::HashMap;

use ai_gateway_core::{parse_config, ConfigError};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;

use crate::body::BodyProtocol;
use crate::discovery::{configuration_path, split_url, UrlParts};
use crate::keys::KeySet;
use crate::metadata::{MetadataEndpoint, ResourceMetadata};
use crate::policy::{PolicySet, RuleConfig};
use crate::refresh::RefreshPolicy;
use crate::token::TokenSource;
use crate::validate::{Validator, ASYMMETRIC};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConfig {
    #[serde(default)]
    issuers: Vec<String>,
    #[serde(default)]
    audiences: Vec<String>,
    #[serde(default = "default_skew")]
    clock_skew_seconds: u64,
    #[serde(default)]
    algorithms: Option<Vec<String>>,
    #[serde(default)]
    shared_secret: Option<String>,
    #[serde(default = "yes")]
    require_exp: bool,
    #[serde(default)]
    jwks: Option<RawJwks>,
    #[serde(default)]
    refresh: RawRefresh,
    #[serde(default)]
    token_source: Option<RawTokenSource>,
    #[serde(default)]
    allow_anonymous: bool,
    #[serde(default)]
    forward_token: bool,
    #[serde(default)]
    claim_headers: Vec<RawClaimHeader>,
    #[serde(default)]
    resource_metadata: Option<RawMetadata>,
    #[serde(default)]
    policies: Vec<RuleConfig>,
    #[serde(default = "default_cache_size")]
    token_cache_size: usize,
    #[serde(default)]
    inspect_body: Option<BodyProtocol>,
    #[serde(default = "default_max_body")]
    max_body_bytes: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawJwks {
    #[serde(default)]
    inline: Option<serde_json::Value>,
    #[serde(default)]
    remote: Option<RawRemote>,
    #[serde(default)]
    oidc: Option<RawOidc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRemote {
    cluster: String,
    url: String,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawOidc {
    cluster: String,
    issuer: String,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRefresh {
    #[serde(default = "default_interval")]
    interval_seconds: u64,
    #[serde(default = "default_min_refetch")]
    min_refetch_interval_seconds: u64,
    #[serde(default = "default_max_interval")]
    max_interval_seconds: u64,
}

impl Default for RawRefresh {
    fn default() -> Self {
        RawRefresh {
            interval_seconds: default_interval(),
            min_refetch_interval_seconds: default_min_refetch(),
            max_interval_seconds: default_max_interval(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawTokenSource {
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    cookie: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawClaimHeader {
    claim: String,
    header: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawMetadata {
    resource: String,
    #[serde(default)]
    authorization_servers: Vec<String>,
    #[serde(default)]
    scopes_supported: Vec<String>,
    #[serde(default)]
    resource_name: Option<String>,
    #[serde(default)]
    resource_documentation: Option<String>,
}

fn yes() -> bool {
    true
}
fn default_skew() -> u64 {
    60
}
fn default_timeout_ms() -> u64 {
    5_000
}
fn default_interval() -> u64 {
    600
}
fn default_min_refetch() -> u64 {
    10
}
fn default_max_interval() -> u64 {
    86_400
}
fn default_cache_size() -> usize {
    1_024
}
fn default_max_body() -> usize {
    64 * 1024
}

/// Where the keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// Keys in the config; never fetched.
    Inline,
    /// A JWKS URL, fetched through an Envoy cluster.
    Remote {
        cluster: String,
        url: UrlParts,
        timeout_ms: u64,
    },
    /// An issuer whose discovery document names the JWKS URL (fetched through the cluster).
    Oidc {
        cluster: String,
        configuration: UrlParts,
        timeout_ms: u64,
    },
}

/// One claim copied into an upstream request header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimHeader {
    /// Claim name (top level).
    pub claim: String,
    /// Header name, lower-case.
    pub header: String,
}

/// The parsed, validated configuration shared by every stream.
pub struct Settings {
    /// Signature and claim checks.
    pub validator: Validator,
    /// Where the keys come from.
    pub jwks_source: JwksSource,
    /// Inline keys, when configured so.
    pub inline_keys: Option<KeySet>,
    /// Refresh timing.
    pub refresh: RefreshPolicy,
    /// Where the token is read.
    pub token_source: TokenSource,
    /// Requests without a token reach the policies with an empty `jwt` instead of a 401.
    pub allow_anonymous: bool,
    /// Keep the client's token on the upstream request.
    pub forward_token: bool,
    /// Claims forwarded as headers (the client's own copies are always removed).
    pub claim_headers: Vec<ClaimHeader>,
    /// RFC 9728 metadata, when configured.
    pub metadata: Option<MetadataEndpoint>,
    /// Authorization rules.
    pub policies: PolicySet,
    /// Verified tokens remembered per process.
    pub token_cache_size: usize,
    /// The protocol whose request bodies feed the policies, when a rule reads its variable.
    pub inspect_body: Option<BodyProtocol>,
    /// Largest body held for inspection (413 beyond).
    pub max_body_bytes: usize,
}

impl Settings {
    /// Parses and validates the JSON configuration.
    pub fn from_json(json: &str) -> Result<Settings, ConfigError> {
        let raw: RawConfig = parse_config(json)?;
        let shared_secret = raw
            .shared_secret
            .as_deref()
            .map(|secret| {
                if secret.len() < 32 {
                    return Err(ConfigError::invalid(
                        "sharedSecret",
                        "must be at least 32 bytes (RFC 7518 §3.2)",
                    ));
                }
                Ok(DecodingKey::from_secret(secret.as_bytes()))
            })
            .transpose()?;
        let algorithms = algorithms(raw.algorithms.as_deref(), shared_secret.is_some())?;
        let (jwks_source, inline_keys) = jwks(raw.jwks, &algorithms)?;
        if raw.refresh.min_refetch_interval_seconds > raw.refresh.interval_seconds
            || raw.refresh.interval_seconds > raw.refresh.max_interval_seconds
        {
            return Err(ConfigError::invalid(
                "refresh",
                "needs minRefetchIntervalSeconds <= intervalSeconds <= maxIntervalSeconds",
            ));
        }
        let timeout_ms = match &jwks_source {
            JwksSource::Remote { timeout_ms, .. } | JwksSource::Oidc { timeout_ms, .. } => {
                *timeout_ms
            }
            JwksSource::Inline => default_timeout_ms(),
        };
        let refresh = RefreshPolicy {
            interval: raw.refresh.interval_seconds,
            min_refetch_interval: raw.refresh.min_refetch_interval_seconds,
            max_interval: raw.refresh.max_interval_seconds,
            fetch_timeout: timeout_ms.div_ceil(1000).max(1) * 2,
        };
        let policies = PolicySet::compile(&raw.policies).map_err(|e| {
            ConfigError::invalid(format!("policies[{}].{}", e.index, e.field), e.message)
        })?;
        Ok(Settings {
            validator: Validator {
                issuers: raw.issuers,
                audiences: raw.audiences,
                skew_seconds: raw.clock_skew_seconds,
                algorithms,
                shared_secret,
                require_exp: raw.require_exp,
            },
            jwks_source,
            inline_keys,
            refresh,
            token_source: token_source(raw.token_source)?,
            allow_anonymous: raw.allow_anonymous,
            forward_token: raw.forward_token,
            claim_headers: claim_headers(raw.claim_headers)?,
            metadata: raw.resource_metadata.map(metadata).transpose()?,
            inspect_body: raw
                .inspect_body
                .filter(|protocol| policies.uses_variable(protocol.variable())),
            max_body_bytes: raw.max_body_bytes,
            policies,
            token_cache_size: raw.token_cache_size,
        })
    }
}

fn algorithms(names: Option<&[String]>, has_secret: bool) -> Result<Vec<Algorithm>, ConfigError> {
    let Some(names) = names else {
        let mut all = ASYMMETRIC.to_vec();
        if has_secret {
            all.extend(AlgorithmFamily::Hmac.algorithms());
        }
        return Ok(all);
    };
    let mut out = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let field = format!("algorithms[{i}]");
        let alg: Algorithm = name
            .parse()
            .map_err(|_| ConfigError::invalid(&field, format!("unknown algorithm `{name}`")))?;
        if alg.family() == AlgorithmFamily::Hmac && !has_secret {
            return Err(ConfigError::invalid(
                field,
                "HMAC algorithms need sharedSecret",
            ));
        }
        out.push(alg);
    }
    if out.is_empty() {
        return Err(ConfigError::invalid("algorithms", "must not be empty"));
    }
    Ok(out)
}

fn jwks(
    raw: Option<RawJwks>,
    algorithms: &[Algorithm],
) -> Result<(JwksSource, Option<KeySet>), ConfigError> {
    let only_hmac = algorithms
        .iter()
        .all(|a| a.family() == AlgorithmFamily::Hmac);
    let Some(raw) = raw else {
        if only_hmac {
            return Ok((JwksSource::Inline, Some(KeySet::default())));
        }
        return Err(ConfigError::invalid("jwks", "missing field `jwks`"));
    };
    match (raw.inline, raw.remote, raw.oidc) {
        (Some(inline), None, None) => {
            let keys = KeySet::from_json(inline.to_string().as_bytes())
                .map_err(|e| ConfigError::invalid("jwks.inline", e.to_string()))?;
            Ok((JwksSource::Inline, Some(keys)))
        }
        (None, Some(remote), None) => {
            let url = split_url(&remote.url)
                .map_err(|e| ConfigError::invalid("jwks.remote.url", e.to_string()))?;
            nonempty("jwks.remote.cluster", &remote.cluster)?;
            Ok((
                JwksSource::Remote {
                    cluster: remote.cluster,
                    url,
                    timeout_ms: remote.timeout_ms,
                },
                None,
            ))
        }
        (None, None, Some(oidc)) => {
            let mut issuer = split_url(&oidc.issuer)
                .map_err(|e| ConfigError::invalid("jwks.oidc.issuer", e.to_string()))?;
            nonempty("jwks.oidc.cluster", &oidc.cluster)?;
            issuer.path = configuration_path(&issuer.path);
            Ok((
                JwksSource::Oidc {
                    cluster: oidc.cluster,
                    configuration: issuer,
                    timeout_ms: oidc.timeout_ms,
                },
                None,
            ))
        }
        _ => Err(ConfigError::invalid(
            "jwks",
            "exactly one of `inline`, `remote`, `oidc`",
        )),
    }
}

fn nonempty(field: &str, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() {
        return Err(ConfigError::invalid(field, "must not be empty"));
    }
    Ok(())
}

fn token_source(raw: Option<RawTokenSource>) -> Result<TokenSource, ConfigError> {
    match raw {
        None => Ok(TokenSource::Authorization),
        Some(RawTokenSource {
            header: Some(header),
            prefix,
            cookie: None,
        }) => {
            nonempty("tokenSource.header", &header)?;
            Ok(TokenSource::Header {
                name: header.to_ascii_lowercase(),
                prefix,
            })
        }
        Some(RawTokenSource {
            header: None,
            cookie: Some(name),
            ..
        }) => {
            nonempty("tokenSource.cookie", &name)?;
            Ok(TokenSource::Cookie { name })
        }
        Some(_) => Err(ConfigError::invalid(
            "tokenSource",
            "exactly one of `header`, `cookie`",
        )),
    }
}

fn claim_headers(raw: Vec<RawClaimHeader>) -> Result<Vec<ClaimHeader>, ConfigError> {
    let mut seen = HashMap::new();
    raw.into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let header = entry.header.to_ascii_lowercase();
            let valid = !header.is_empty()
                && header
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid || header == "authorization" || header.starts_with(':') {
                return Err(ConfigError::invalid(
                    format!("claimHeaders[{i}].header"),
                    "must be a plain header name other than authorization",
                ));
            }
            if seen.insert(header.clone(), i).is_some() {
                return Err(ConfigError::invalid(
                    format!("claimHeaders[{i}].header"),
                    "duplicate header",
                ));
            }
            nonempty(&format!("claimHeaders[{i}].claim"), &entry.claim)?;
            Ok(ClaimHeader {
                claim: entry.claim,
                header,
            })
        })
        .collect()
}

fn metadata(raw: RawMetadata) -> Result<MetadataEndpoint, ConfigError> {
    ResourceMetadata {
        resource: raw.resource,
        authorization_servers: raw.authorization_servers,
        scopes_supported: raw.scopes_supported,
        bearer_methods_supported: vec!["header".to_string()],
        resource_name: raw.resource_name,
        resource_documentation: raw.resource_documentation,
    }
    .endpoint()
    .map_err(|e| ConfigError::invalid("resourceMetadata.resource", e.to_string()))
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
