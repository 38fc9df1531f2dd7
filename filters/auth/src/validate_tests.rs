use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde_json::{json, Value};

use super::*;
use crate::test_keys::{claims, key_set, public_jwk, raw_token, signed, NOW};

fn validator() -> Validator {
    Validator {
        issuers: vec!["https://issuer.test".into()],
        audiences: vec!["api".into(), "other".into()],
        skew_seconds: 30,
        algorithms: ASYMMETRIC.to_vec(),
        shared_secret: None,
        require_exp: true,
    }
}

fn keys() -> KeySet {
    key_set(&[
        public_jwk("rsa-a", Algorithm::RS256, "a"),
        public_jwk("es256", Algorithm::ES256, "ec"),
        public_jwk("es384", Algorithm::ES384, "ec384"),
        public_jwk("ed25519", Algorithm::EdDSA, "ed"),
    ])
}

fn check(validator: &Validator, token: &str) -> Result<Verified, AuthnFailure> {
    validator.verify(&parse(token)?, &keys(), NOW)
}

fn with(changes: Value) -> Value {
    let mut claims = claims();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

#[test]
fn every_asymmetric_algorithm_verifies() {
    let rsa_any = key_set(&[{
        let mut jwk = public_jwk("rsa-a", Algorithm::RS256, "a");
        jwk.as_object_mut().unwrap().remove("alg");
        jwk
    }]);
    for alg in [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ] {
        let token = signed("rsa-a", alg, Some("a"), &claims());
        let verified = validator().verify(&parse(&token).unwrap(), &rsa_any, NOW);
        assert_eq!(verified.unwrap().claims, claims(), "{alg:?}");
    }
    for (name, alg, kid) in [
        ("es256", Algorithm::ES256, "ec"),
        ("es384", Algorithm::ES384, "ec384"),
        ("ed25519", Algorithm::EdDSA, "ed"),
    ] {
        let token = signed(name, alg, Some(kid), &claims());
        let verified = check(&validator(), &token).unwrap();
        assert_eq!(verified.expires_at, Some(NOW + 300), "{alg:?}");
    }
}

#[test]
fn token_without_kid_tries_the_keys_of_its_algorithm() {
    let token = signed("es256", Algorithm::ES256, None, &claims());
    assert!(check(&validator(), &token).is_ok());
}

#[test]
fn refused_tokens_and_their_reasons() {
    let rsa_public_der = {
        // The attacker's HMAC secret: the server's published RSA key, as PEM text.
        let jwk = public_jwk("rsa-a", Algorithm::RS256, "a");
        jwk["n"].as_str().unwrap().as_bytes().to_vec()
    };
    let hs_with_public_key = jsonwebtoken::encode(
        &{
            let mut h = jsonwebtoken::Header::new(Algorithm::HS256);
            h.kid = Some("a".into());
            h
        },
        &claims(),
        &EncodingKey::from_secret(&rsa_public_der),
    )
    .unwrap();
    let good = signed("rsa-a", Algorithm::RS256, Some("a"), &claims());
    let mut tampered_parts: Vec<&str> = good.split('.').collect();
    let other_payload = URL_SAFE_NO_PAD.encode(with(json!({"sub": "mallory"})).to_string());
    tampered_parts[1] = &other_payload;
    let tampered = tampered_parts.join(".");

    let cases: Vec<(&str, String, AuthnFailure)> = vec![
        (
            "alg none",
            raw_token(&json!({"alg": "none", "typ": "JWT"}), &claims(), b""),
            AuthnFailure::BadAlgorithm,
        ),
        (
            "alg None",
            raw_token(&json!({"alg": "None"}), &claims(), b""),
            AuthnFailure::BadAlgorithm,
        ),
        (
            "HS256 with the RSA public key",
            hs_with_public_key,
            AuthnFailure::BadAlgorithm,
        ),
        ("tampered payload", tampered, AuthnFailure::BadSignature),
        (
            "signed by another key under a known kid",
            signed("rsa-b", Algorithm::RS256, Some("a"), &claims()),
            AuthnFailure::BadSignature,
        ),
        (
            "unknown kid",
            signed("rsa-b", Algorithm::RS256, Some("b"), &claims()),
            AuthnFailure::UnknownKid,
        ),
        (
            "kid of another key type",
            signed("rsa-a", Algorithm::RS256, Some("ec"), &claims()),
            AuthnFailure::BadAlgorithm,
        ),
        (
            "expired beyond the skew",
            signed(
                "rsa-a",
                Algorithm::RS256,
                Some("a"),
                &with(json!({"exp": NOW - 31})),
            ),
            AuthnFailure::Expired,
        ),
        (
            "no exp",
            signed(
                "rsa-a",
                Algorithm::RS256,
                Some("a"),
                &with(json!({"exp": null})),
            ),
            AuthnFailure::Expired,
        ),
        (
            "not yet valid",
            signed(
                "rsa-a",
                Algorithm::RS256,
                Some("a"),
                &with(json!({"nbf": NOW + 31})),
            ),
            AuthnFailure::NotYetValid,
        ),
        (
            "wrong issuer",
            signed(
                "rsa-a",
                Algorithm::RS256,
                Some("a"),
                &with(json!({"iss": "https://evil.test"})),
            ),
            AuthnFailure::BadIssuer,
        ),
        (
            "no issuer",
            signed(
                "rsa-a",
                Algorithm::RS256,
                Some("a"),
                &with(json!({"iss": null})),
            ),
            AuthnFailure::BadIssuer,
        ),
        (
            "wrong audience",
            signed(
                "rsa-a",
                Algorithm::RS256,
                Some("a"),
                &with(json!({"aud": "someone-else"})),
            ),
            AuthnFailure::BadAudience,
        ),
        (
            "audience list without ours",
            signed(
                "rsa-a",
                Algorithm::RS256,
                Some("a"),
                &with(json!({"aud": ["x", "y"]})),
            ),
            AuthnFailure::BadAudience,
        ),
        (
            "exp not a number",
            signed(
                "rsa-a",
                Algorithm::RS256,
                Some("a"),
                &with(json!({"exp": "soon"})),
            ),
            AuthnFailure::Malformed,
        ),
        ("two parts", "abc.def".to_string(), AuthnFailure::Malformed),
        ("four parts", format!("{good}.x"), AuthnFailure::Malformed),
        (
            "header not base64",
            "!!!.e30.sig".to_string(),
            AuthnFailure::Malformed,
        ),
        (
            "header not JSON",
            format!("{}.e30.sig", URL_SAFE_NO_PAD.encode("nope")),
            AuthnFailure::Malformed,
        ),
        (
            "crit header",
            raw_token(
                &json!({"alg": "RS256", "kid": "a", "crit": ["exp"]}),
                &claims(),
                b"x",
            ),
            AuthnFailure::BadAlgorithm,
        ),
        (
            "oversized",
            "a".repeat(MAX_TOKEN_BYTES + 1),
            AuthnFailure::Malformed,
        ),
    ];
    for (name, token, expected) in cases {
        assert_eq!(check(&validator(), &token).err(), Some(expected), "{name}");
    }
}

#[test]
fn skew_tolerates_small_clock_differences() {
    let token = signed(
        "rsa-a",
        Algorithm::RS256,
        Some("a"),
        &with(json!({"exp": NOW - 30, "nbf": NOW + 30})),
    );
    assert!(check(&validator(), &token).is_ok());
}

#[test]
fn audience_list_with_one_of_ours_passes() {
    let token = signed(
        "rsa-a",
        Algorithm::RS256,
        Some("a"),
        &with(json!({"aud": ["x", "other"]})),
    );
    assert!(check(&validator(), &token).is_ok());
}

#[test]
fn disallowed_algorithm_is_refused_even_with_a_key() {
    let only_es = Validator {
        algorithms: vec![Algorithm::ES256],
        ..validator()
    };
    let token = signed("rsa-a", Algorithm::RS256, Some("a"), &claims());
    assert_eq!(
        check(&only_es, &token).err(),
        Some(AuthnFailure::BadAlgorithm)
    );
}

#[test]
fn hmac_only_with_the_configured_secret() {
    let secret = b"a shared secret of at least 32 bytes!";
    let with_secret = Validator {
        algorithms: vec![Algorithm::HS256, Algorithm::RS256],
        shared_secret: Some(DecodingKey::from_secret(secret)),
        ..validator()
    };
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(secret),
    )
    .unwrap();
    assert!(check(&with_secret, &token).is_ok());
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(b"the RSA public key bytes"),
    )
    .unwrap();
    assert_eq!(
        check(&with_secret, &forged).err(),
        Some(AuthnFailure::BadSignature)
    );
    assert_eq!(
        check(&validator(), &token).err(),
        Some(AuthnFailure::BadAlgorithm)
    );
}

#[test]
fn no_keys_yet_is_its_own_reason() {
    let token = signed("rsa-a", Algorithm::RS256, Some("a"), &claims());
    let verified = validator().verify(&parse(&token).unwrap(), &KeySet::default(), NOW);
    assert_eq!(verified.err(), Some(AuthnFailure::NoKeys));
}
