//! A JSON Web Key Set (RFC 7517) prepared for verification: each usable public key decoded once,
//! looked up by `kid` and algorithm.

use std::str::FromStr;

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;

/// Largest key set accepted: a bound on memory and on the keys tried for a token without `kid`.
pub const MAX_KEYS: usize = 64;

/// One verification key.
#[derive(Clone)]
pub struct Key {
    /// The JWK's `kid`, if any.
    pub kid: Option<String>,
    /// The JWK's `alg`, if any: the key then verifies only that algorithm (RFC 7517 §4.4).
    pub alg: Option<Algorithm>,
    /// RSA, EC or Ed (never HMAC: a shared secret is configured, never published).
    pub family: AlgorithmFamily,
    /// The decoded key.
    pub key: DecodingKey,
}

impl Key {
    fn verifies(&self, alg: Algorithm) -> bool {
        self.family == alg.family() && self.alg.is_none_or(|own| own == alg)
    }
}

/// The keys of one JWKS document.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Key>,
}

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// Keys to try, in order (one when the token names a `kid`).
    Found(Vec<&'a Key>),
    /// The token names a `kid` the set does not have: a refetch may find it.
    UnknownKid,
    /// A key exists for the `kid` but not for this algorithm (or no key fits a `kid`-less token).
    NoKeyForAlgorithm,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({:?}, {:?})", self.kid, self.alg)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.kid == other.kid && self.alg == other.alg && self.family == other.family
    }
}

impl Eq for Key {}

/// Why a JWKS document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeySetError {
    /// Not JSON, or no `keys` array.
    #[error("not a JWKS document: {0}")]
    NotJwks(String),
    /// More than [`MAX_KEYS`] keys.
    #[error("more than {MAX_KEYS} keys")]
    TooManyKeys,
    /// No key the filter can verify with.
    #[error("no usable signing key")]
    NoUsableKey,
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Parses a JWKS document. Keys that are not for signatures, of an unknown type or
    /// algorithm, or symmetric (`oct`) are skipped; a set with no usable key is an error, so a
    /// broken document never replaces good keys.
    pub fn from_json(body: &[u8]) -> Result<KeySet, KeySetError> {
        let doc: Document =
            serde_json::from_slice(body).map_err(|e| KeySetError::NotJwks(e.to_string()))?;
        if doc.keys.len() > MAX_KEYS {
            return Err(KeySetError::TooManyKeys);
        }
        let keys: Vec<Key> = doc.keys.into_iter().filter_map(usable_key).collect();
        if keys.is_empty() {
            return Err(KeySetError::NoUsableKey);
        }
        Ok(KeySet { keys })
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set has no key (only before the first successful fetch).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys that may verify a token with this `kid` and `alg`.
    pub fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Lookup<'_> {
        match kid {
            Some(kid) => {
                let named: Vec<&Key> = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .collect();
                if named.is_empty() {
                    return Lookup::UnknownKid;
                }
                match named.into_iter().find(|k| k.verifies(alg)) {
                    Some(key) => Lookup::Found(vec![key]),
                    None => Lookup::NoKeyForAlgorithm,
                }
            }
            None => {
                let fitting: Vec<&Key> = self.keys.iter().filter(|k| k.verifies(alg)).collect();
                if fitting.is_empty() {
                    Lookup::NoKeyForAlgorithm
                } else {
                    Lookup::Found(fitting)
                }
            }
        }
    }
}

fn usable_key(value: serde_json::Value) -> Option<Key> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa,
        AlgorithmParameters::EllipticCurve(_) => AlgorithmFamily::Ec,
        AlgorithmParameters::OctetKeyPair(_) => AlgorithmFamily::Ed,
        _ => return None,
    };
    let alg = match jwk.common.key_algorithm {
        Some(key_alg) => {
            let alg = Algorithm::from_str(&key_alg.to_string()).ok()?;
            if alg.family() != family {
                return None;
            }
            Some(alg)
        }
        None => None,
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some(Key {
        kid: jwk.common.key_id.clone(),
        alg,
        family,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rsa_jwk(kid: &str, alg: Option<&str>) -> serde_json::Value {
        // RFC 7517 Appendix A.1's RSA public key.
        let mut key = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "kid": kid,
        });
        if let Some(alg) = alg {
            key["alg"] = json!(alg);
        }
        key
    }

    fn ec_jwk(kid: &str) -> serde_json::Value {
        // RFC 7517 Appendix A.1's EC public key.
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "kid": kid,
            "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
        })
    }

    fn set(keys: Vec<serde_json::Value>) -> Result<KeySet, KeySetError> {
        KeySet::from_json(json!({ "keys": keys }).to_string().as_bytes())
    }

    type Check = fn(&KeySetError) -> bool;

    #[test]
    fn documents_that_are_refused() {
        let cases: &[(&[u8], Check)] = &[
            (b"not json", |e| matches!(e, KeySetError::NotJwks(_))),
            (b"{}", |e| matches!(e, KeySetError::NotJwks(_))),
            (b"{\"keys\": []}", |e| *e == KeySetError::NoUsableKey),
            (
                b"{\"keys\": [{\"kty\": \"oct\", \"k\": \"c2VjcmV0\"}]}",
                |e| *e == KeySetError::NoUsableKey,
            ),
        ];
        for (body, check) in cases {
            let err = KeySet::from_json(body).unwrap_err();
            assert!(check(&err), "{}: {err:?}", String::from_utf8_lossy(body));
        }
        let many = (0..=MAX_KEYS).map(|i| ec_jwk(&i.to_string())).collect();
        assert_eq!(set(many).unwrap_err(), KeySetError::TooManyKeys);
    }

    #[test]
    fn unusable_keys_are_skipped() {
        let mut enc = ec_jwk("enc");
        enc["use"] = json!("enc");
        let mismatched = rsa_jwk("rsa-es", Some("ES256"));
        let keys = set(vec![enc, mismatched, ec_jwk("good")]).unwrap();
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn lookup_by_kid_and_algorithm() {
        let keys = set(vec![
            rsa_jwk("r1", Some("RS256")),
            rsa_jwk("r2", None),
            ec_jwk("e1"),
        ])
        .unwrap();
        assert!(
            matches!(keys.lookup(Some("r1"), Algorithm::RS256), Lookup::Found(k) if k.len() == 1)
        );
        assert_eq!(
            keys.lookup(Some("r1"), Algorithm::PS256),
            Lookup::NoKeyForAlgorithm
        );
        assert!(matches!(
            keys.lookup(Some("r2"), Algorithm::PS512),
            Lookup::Found(_)
        ));
        assert_eq!(
            keys.lookup(Some("r1"), Algorithm::HS256),
            Lookup::NoKeyForAlgorithm
        );
        assert_eq!(
            keys.lookup(Some("nope"), Algorithm::RS256),
            Lookup::UnknownKid
        );
        assert!(matches!(keys.lookup(None, Algorithm::ES256), Lookup::Found(k) if k.len() == 1));
        assert!(matches!(keys.lookup(None, Algorithm::RS256), Lookup::Found(k) if k.len() == 2));
        assert_eq!(
            keys.lookup(None, Algorithm::EdDSA),
            Lookup::NoKeyForAlgorithm
        );
    }
}
