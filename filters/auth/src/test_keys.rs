//! Test-only signing keys (testdata/*.key.pem) and token builders for the unit tests.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::keys::KeySet;

/// Issued-at used by the tests' claims; [`NOW`] is shortly after.
pub const NOW: u64 = 1_700_000_000;

/// The private key of a test key pair.
pub fn private_key(name: &str) -> EncodingKey {
    let pem: &[u8] = match name {
        "rsa-a" => include_bytes!("../testdata/rsa-a.key.pem"),
        "rsa-b" => include_bytes!("../testdata/rsa-b.key.pem"),
        "es256" => include_bytes!("../testdata/es256.key.pem"),
        "es384" => include_bytes!("../testdata/es384.key.pem"),
        "ed25519" => include_bytes!("../testdata/ed25519.key.pem"),
        other => panic!("no test key {other}"),
    };
    match name {
        "rsa-a" | "rsa-b" => EncodingKey::from_rsa_pem(pem),
        "es256" | "es384" => EncodingKey::from_ec_pem(pem),
        _ => EncodingKey::from_ed_pem(pem),
    }
    .expect("test key parses")
}

/// The public JWK of test key `name` for `alg`, with `kid`.
pub fn public_jwk(name: &str, alg: Algorithm, kid: &str) -> Value {
    let mut jwk = Jwk::from_encoding_key(&private_key(name), alg).expect("JWK from test key");
    jwk.common.key_id = Some(kid.to_string());
    serde_json::to_value(jwk).expect("JWK serializes")
}

/// A JWKS document of these JWKs.
pub fn jwks_json(jwks: &[Value]) -> String {
    json!({ "keys": jwks }).to_string()
}

/// A key set of these JWKs.
pub fn key_set(jwks: &[Value]) -> KeySet {
    KeySet::from_json(jwks_json(jwks).as_bytes()).expect("test JWKS parses")
}

/// A token signed with test key `name`.
pub fn signed(name: &str, alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, &private_key(name)).expect("test token signs")
}

/// A token with a hand-written header and signature (for `alg: none` and forgeries).
pub fn raw_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// Claims valid at [`NOW`] for issuer `https://issuer.test` and audience `api`.
pub fn claims() -> Value {
    json!({
        "iss": "https://issuer.test",
        "aud": "api",
        "sub": "alice",
        "iat": NOW - 10,
        "exp": NOW + 300,
        "scope": "tools:read",
    })
}
