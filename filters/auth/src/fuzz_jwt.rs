//! Fuzz target: the JWT front-end — credential extraction, token splitting and header parsing,
//! and the signature check behind them. Structure-aware tokens (any `alg`, `kid`, `crit`,
//! header and payload) and byte-level mutations of real signed tokens: never a panic, the
//! header read is the header written, and no token verifies unless its header and claims are
//! exactly the ones that were signed.

use ai_gateway_core::fuzz::{self, check};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::test_keys::{claims, key_set, public_jwk, raw_token, signed, NOW};
use crate::token::TokenSource;
use crate::validate::{parse, Validator, ASYMMETRIC};

fn validator() -> Validator {
    Validator {
        issuers: vec!["https://issuer.test".into()],
        audiences: vec!["api".into()],
        skew_seconds: 30,
        algorithms: [&ASYMMETRIC[..], &[Algorithm::HS256]].concat(),
        shared_secret: Some(DecodingKey::from_secret(b"fuzz-shared-secret")),
        require_exp: true,
    }
}

fn header() -> impl Strategy<Value = Value> {
    let alg = prop_oneof![
        Just("none"),
        Just("HS256"),
        Just("RS256"),
        Just("PS512"),
        Just("ES256"),
        Just("EdDSA"),
        Just("hs256"),
        Just(""),
    ];
    (
        alg,
        proptest::option::of("[a-z]{0,4}"),
        any::<bool>(),
        fuzz::json_value(1),
    )
        .prop_map(|(alg, kid, crit, extra)| {
            let mut header = json!({"alg": alg, "typ": "JWT"});
            if let Some(kid) = kid {
                header["kid"] = json!(kid);
            }
            if crit {
                header["crit"] = json!(["b64"]);
            }
            header["x"] = extra;
            header
        })
}

/// The (header, claims) segments of a compact token, decoded.
fn signed_parts(token: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut parts = token.split('.');
    let header = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
    let payload = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
    Some((header, payload))
}

#[test]
fn fuzz_jwt_structured() {
    let keys = key_set(&[public_jwk("rsa-a", Algorithm::RS256, "a")]);
    let validator = validator();
    let input = (
        header(),
        fuzz::json_value(2),
        proptest::collection::vec(any::<u8>(), 0..300),
    );
    fuzz::run("jwt_structured", input, |(header, claims, signature)| {
        let token = raw_token(&header, &claims, &signature);
        let Ok(parsed) = parse(&token) else {
            return Ok(());
        };
        check(header.get("crit").is_none(), || "crit accepted".into())?;
        let alg = format!("{:?}", parsed.alg);
        check(header["alg"] == json!(alg), || {
            format!("{alg} read from {header}")
        })?;
        check(parsed.kid.as_deref() == header["kid"].as_str(), || {
            "kid".into()
        })?;
        // Random signatures never verify (an HS256 one would need the secret).
        let verified = validator.verify(&parsed, &keys, NOW);
        check(verified.is_err(), || {
            format!("forged token verified: {token}")
        })
    });
}

#[test]
fn fuzz_jwt_mutated() {
    let keys = key_set(&[
        public_jwk("rsa-a", Algorithm::RS256, "a"),
        public_jwk("es256", Algorithm::ES256, "ec"),
        public_jwk("ed25519", Algorithm::EdDSA, "ed"),
    ]);
    let originals = [
        signed("rsa-a", Algorithm::RS256, Some("a"), &claims()),
        signed("es256", Algorithm::ES256, Some("ec"), &claims()),
        signed("ed25519", Algorithm::EdDSA, Some("ed"), &claims()),
    ];
    let validator = validator();
    let sources = [
        TokenSource::Authorization,
        TokenSource::Cookie {
            name: "session".into(),
        },
    ];
    let seeds = originals
        .iter()
        .map(|t| format!("Bearer {t}").into_bytes())
        .collect();
    let input = (fuzz::mutated(seeds, 6), any::<bool>());
    fuzz::run("jwt_mutated", input, |(bytes, as_cookie)| {
        let value = String::from_utf8_lossy(&bytes);
        let (source, value) = match as_cookie {
            true => (
                &sources[1],
                format!("a=b; session={}", value.trim_start_matches("Bearer ")),
            ),
            false => (&sources[0], value.into_owned()),
        };
        let Ok(token) = source.extract(Some(&value)) else {
            return Ok(());
        };
        let Ok(parsed) = parse(token) else {
            return Ok(());
        };
        if validator.verify(&parsed, &keys, NOW).is_ok() {
            let authentic = originals
                .iter()
                .any(|o| signed_parts(o) == signed_parts(token));
            check(authentic, || format!("altered token verified: {token}"))?;
        }
        Ok(())
    });
}
