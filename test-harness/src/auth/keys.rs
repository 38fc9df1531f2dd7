//! RSA signing keys generated per test run, their public JWKs, and the tokens (good and
//! forged) the auth suites send.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::rand_core::OsRng;
use rsa::RsaPrivateKey;
use serde_json::Value;

/// A test key that could not be made.
#[derive(Debug, thiserror::Error)]
#[error("test RSA key {kid}: {what}: {message}")]
pub struct KeyError {
    kid: String,
    what: &'static str,
    message: String,
}

/// An RSA-2048 key pair with a key id.
pub struct TestKey {
    kid: String,
    private: EncodingKey,
    public_pem: String,
    jwk: Value,
}

impl TestKey {
    /// A fresh RSA key named `kid`.
    pub fn rsa(kid: &str) -> Result<TestKey, KeyError> {
        let failed = |what: &'static str, e: &dyn std::fmt::Display| KeyError {
            kid: kid.to_string(),
            what,
            message: e.to_string(),
        };
        let key = RsaPrivateKey::new(&mut OsRng, 2048).map_err(|e| failed("generate", &e))?;
        let der = key.to_pkcs1_der().map_err(|e| failed("encode", &e))?;
        let private = EncodingKey::from_rsa_der(der.as_bytes());
        let public_pem = key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| failed("public PEM", &e))?;
        let mut jwk =
            Jwk::from_encoding_key(&private, Algorithm::RS256).map_err(|e| failed("JWK", &e))?;
        jwk.common.key_id = Some(kid.to_string());
        let jwk = serde_json::to_value(jwk).map_err(|e| failed("JWK JSON", &e))?;
        Ok(TestKey {
            kid: kid.to_string(),
            private,
            public_pem,
            jwk,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK (`kty: RSA`, `alg: RS256`, `kid`), as a JWKS publishes it.
    pub fn jwk(&self) -> Value {
        self.jwk.clone()
    }

    /// A token over `claims` signed RS256 with this key, `kid` in the header.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.private).unwrap_or_default()
    }

    /// The classic algorithm-confusion forgery: HS256 with this key's *public* key (its PEM
    /// text, as a verifier that takes "the key" for an HMAC secret would use it).
    pub fn forge_hs256_with_public_key(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        let secret = EncodingKey::from_secret(self.public_pem.as_bytes());
        jsonwebtoken::encode(&header, claims, &secret).unwrap_or_default()
    }
}

/// An unsecured JWT (`alg: none`, RFC 7519 §6): header, claims, empty signature.
pub fn unsigned_token(claims: &Value) -> String {
    let header = serde_json::json!({ "alg": "none", "typ": "JWT" });
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}
