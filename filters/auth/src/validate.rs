//! JWT validation (RFC 7519, RFC 7515 compact form): header, signature against the key set or
//! the configured shared secret, then `exp`/`nbf` with skew, `iss` and `aud`.
//!
//! The header is read before any key is chosen, and the algorithm decides the key kind: an
//! HMAC algorithm is verified only with the configured secret, never with a published key (the
//! "HS256 signed with the RSA public key" confusion), and `alg: none` is never accepted.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;
use serde_json::Value;

use crate::keys::{KeySet, Lookup};

/// Largest token accepted, in bytes (a bound on decoding work per request).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a token was refused; [`AuthnFailure::reason`] is the metric tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthnFailure {
    /// Not three base64url parts, or a header/payload that is not a JSON object.
    #[error("malformed token")]
    Malformed,
    /// `alg` is `none`, unknown, not allowed, or HMAC without a configured secret.
    #[error("algorithm not allowed")]
    BadAlgorithm,
    /// The `kid` is in no key set (even after a refetch).
    #[error("unknown key id")]
    UnknownKid,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `exp` is past (beyond the skew), or missing when required.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond the skew).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iss` is not a configured issuer.
    #[error("wrong issuer")]
    BadIssuer,
    /// No `aud` value is a configured audience.
    #[error("wrong audience")]
    BadAudience,
    /// No keys are available (the JWKS could not be fetched yet).
    #[error("no verification keys available")]
    NoKeys,
}

impl AuthnFailure {
    /// The `reason` tag of `authz_authn_total`.
    pub fn reason(self) -> &'static str {
        match self {
            AuthnFailure::Malformed => "malformed",
            AuthnFailure::BadAlgorithm => "bad_algorithm",
            AuthnFailure::UnknownKid => "unknown_kid",
            AuthnFailure::BadSignature => "bad_signature",
            AuthnFailure::Expired => "expired",
            AuthnFailure::NotYetValid => "not_yet_valid",
            AuthnFailure::BadIssuer => "bad_issuer",
            AuthnFailure::BadAudience => "bad_audience",
            AuthnFailure::NoKeys => "jwks_unavailable",
        }
    }
}

/// A token split and its header read, before any signature check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedToken<'a> {
    /// The header's algorithm.
    pub alg: Algorithm,
    /// The header's `kid`, if any.
    pub kid: Option<String>,
    signing_input: &'a str,
    payload: &'a str,
    signature: &'a str,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// Splits a compact JWS and reads its header.
pub fn parse(token: &str) -> Result<ParsedToken<'_>, AuthnFailure> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthnFailure::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header_part), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthnFailure::Malformed);
    };
    let header_json = URL_SAFE_NO_PAD
        .decode(header_part)
        .map_err(|_| AuthnFailure::Malformed)?;
    let header: Header =
        serde_json::from_slice(&header_json).map_err(|_| AuthnFailure::Malformed)?;
    // Extensions this validator does not understand must make the token invalid (RFC 7515 §4.1.11).
    if header.crit.is_some() {
        return Err(AuthnFailure::BadAlgorithm);
    }
    let alg = header
        .alg
        .parse::<Algorithm>()
        .map_err(|_| AuthnFailure::BadAlgorithm)?;
    Ok(ParsedToken {
        alg,
        kid: header.kid,
        signing_input: &token[..header_part.len() + 1 + payload.len()],
        payload,
        signature,
    })
}

/// What a verified token yields.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The claims object.
    pub claims: Value,
    /// `exp`, when present: the token cache keeps it no longer.
    pub expires_at: Option<u64>,
}

/// The checks of one configuration, prepared once.
pub struct Validator {
    /// Accepted `iss` values (empty: any).
    pub issuers: Vec<String>,
    /// Accepted `aud` values (empty: any).
    pub audiences: Vec<String>,
    /// Allowed clock skew for `exp` and `nbf`, seconds.
    pub skew_seconds: u64,
    /// Allowed algorithms.
    pub algorithms: Vec<Algorithm>,
    /// The shared secret for HS*; without it HMAC tokens are refused.
    pub shared_secret: Option<DecodingKey>,
    /// Whether a token without `exp` is refused.
    pub require_exp: bool,
}

/// Every asymmetric algorithm jsonwebtoken verifies.
pub const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

impl Validator {
    /// Verifies the signature of `token` with `keys` (or the secret) and checks its claims at
    /// `now` (Unix seconds).
    pub fn verify(
        &self,
        token: &ParsedToken<'_>,
        keys: &KeySet,
        now: u64,
    ) -> Result<Verified, AuthnFailure> {
        if !self.algorithms.contains(&token.alg) {
            return Err(AuthnFailure::BadAlgorithm);
        }
        if token.alg.family() == AlgorithmFamily::Hmac {
            let secret = self
                .shared_secret
                .as_ref()
                .ok_or(AuthnFailure::BadAlgorithm)?;
            self.check_signature(token, secret)?;
        } else {
            if keys.is_empty() {
                return Err(AuthnFailure::NoKeys);
            }
            match keys.lookup(token.kid.as_deref(), token.alg) {
                Lookup::UnknownKid => return Err(AuthnFailure::UnknownKid),
                Lookup::NoKeyForAlgorithm => return Err(AuthnFailure::BadAlgorithm),
                Lookup::Found(candidates) => {
                    let verified = candidates
                        .iter()
                        .any(|key| self.check_signature(token, &key.key).is_ok());
                    if !verified {
                        return Err(AuthnFailure::BadSignature);
                    }
                }
            }
        }
        let payload = URL_SAFE_NO_PAD
            .decode(token.payload)
            .map_err(|_| AuthnFailure::Malformed)?;
        let claims: Value =
            serde_json::from_slice(&payload).map_err(|_| AuthnFailure::Malformed)?;
        if !claims.is_object() {
            return Err(AuthnFailure::Malformed);
        }
        let expires_at = self.check_claims(&claims, now)?;
        Ok(Verified { claims, expires_at })
    }

    fn check_signature(
        &self,
        token: &ParsedToken<'_>,
        key: &DecodingKey,
    ) -> Result<(), AuthnFailure> {
        match jsonwebtoken::crypto::verify(
            token.signature,
            token.signing_input.as_bytes(),
            key,
            token.alg,
        ) {
            Ok(true) => Ok(()),
            _ => Err(AuthnFailure::BadSignature),
        }
    }

    /// Time, issuer and audience checks; returns `exp`.
    fn check_claims(&self, claims: &Value, now: u64) -> Result<Option<u64>, AuthnFailure> {
        let exp = numeric_date(claims, "exp")?;
        match exp {
            Some(exp) if now > exp.saturating_add(self.skew_seconds) => {
                return Err(AuthnFailure::Expired)
            }
            None if self.require_exp => return Err(AuthnFailure::Expired),
            _ => {}
        }
        if let Some(nbf) = numeric_date(claims, "nbf")? {
            if now.saturating_add(self.skew_seconds) < nbf {
                return Err(AuthnFailure::NotYetValid);
            }
        }
        if !self.issuers.is_empty() {
            let iss = claims.get("iss").and_then(Value::as_str);
            if !iss.is_some_and(|iss| self.issuers.iter().any(|i| i == iss)) {
                return Err(AuthnFailure::BadIssuer);
            }
        }
        if !self.audiences.is_empty() {
            let matches = |aud: &str| self.audiences.iter().any(|a| a == aud);
            let ok = match claims.get("aud") {
                Some(Value::String(aud)) => matches(aud),
                Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(matches),
                _ => false,
            };
            if !ok {
                return Err(AuthnFailure::BadAudience);
            }
        }
        Ok(exp)
    }
}

/// A NumericDate claim (RFC 7519 §2): seconds, possibly fractional; anything else is malformed.
fn numeric_date(claims: &Value, name: &str) -> Result<Option<u64>, AuthnFailure> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(secs), _) => Ok(Some(secs)),
            (None, Some(secs)) if secs >= 0.0 && secs.is_finite() => Ok(Some(secs as u64)),
            _ => Err(AuthnFailure::Malformed),
        },
        Some(_) => Err(AuthnFailure::Malformed),
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
