//! Sealed stateless session tokens: the gateway's `Mcp-Session-Id` is an AES-256-GCM token
//! holding everything a replica needs to serve the session, so any Envoy with the key serves
//! any request and a restart loses nothing.
//!
//! Token text = base64url (no padding) of `key id (1 byte) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`.
//! The key id is derived from the key itself (not its position in the list), so a key keeps its
//! id when a new key is put in front of it. Nonces are random (from `Host::random_bytes`):
//! with 96-bit random nonces one key stays within NIST's bound for ~2^32 tokens, far beyond the
//! number of sessions a key lives to seal when keys rotate.
//!
//! The payload is JSON with one-letter field names: the client's capabilities and info are
//! arbitrary JSON that must come back verbatim, which rules out non-self-describing binary
//! formats, and JSON keeps a realistic 3-backend token under 500 characters (see the tests).

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::cipher::BlockCipherEncrypt;
use aes_gcm::aes::Aes256;
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Bytes in a session key (AES-256).
pub const KEY_LEN: usize = 32;
/// Bytes in an AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Longest token text [`Sealer::open`] decodes; longer ones are malformed without more work.
pub const MAX_TOKEN_CHARS: usize = 8 * 1024;

const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + NONCE_LEN;
/// Associated data: binds a token to this purpose and format version, so bytes sealed for
/// something else with the same key (e.g. a pagination cursor) never open as a session.
const AAD: &[u8] = b"ai-gateway mcp session v1";
/// Associated data of [`Sealer::seal_for`] is this followed by the purpose. It differs from
/// [`AAD`] at its 16th byte whatever the purpose, so no purpose can open a session token.
const PURPOSE_AAD_PREFIX: &[u8] = b"ai-gateway mcp purpose:";
/// Encrypted with a key to derive its id; distinct from GCM's own zero block (the hash key).
const KEY_ID_BLOCK: [u8; 16] = *b"mcp-key-id-block";

/// A 32-byte AES-256 key for sealing session tokens. Its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey([u8; KEY_LEN]);

/// Why a configured key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not standard base64 (as printed by `openssl rand -base64 32`).
    #[error("not valid standard base64 (generate one with `openssl rand -base64 32`)")]
    Base64,
    /// Decoded to the wrong number of bytes.
    #[error("decodes to {0} bytes, AES-256 needs exactly 32")]
    Length(usize),
}

impl SessionKey {
    /// A key from its raw bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        SessionKey(bytes)
    }

    /// A key from standard base64 (padded) decoding to exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| KeyError::Base64)?;
        let len = bytes.len();
        <[u8; KEY_LEN]>::try_from(bytes)
            .map(SessionKey)
            .map_err(|_| KeyError::Length(len))
    }

    /// The one-byte id written in front of tokens this key seals: the first byte of
    /// AES-256(key, [`KEY_ID_BLOCK`]), which reveals nothing usable about the key.
    pub fn id(&self) -> u8 {
        let cipher = Aes256::new(&self.0.into());
        let mut block = KEY_ID_BLOCK.into();
        cipher.encrypt_block(&mut block);
        block[0]
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey(id {:#04x}, bytes redacted)", self.id())
    }
}

/// What a session token carries: enough to serve the session on any replica.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionPayload {
    /// The protocol version negotiated at `initialize` (e.g. `2025-11-25`).
    #[serde(rename = "v")]
    pub protocol_version: String,
    /// The client's `capabilities` from `initialize`, replayed when a backend is re-initialized.
    #[serde(rename = "c", default)]
    pub client_capabilities: Value,
    /// The client's `clientInfo` from `initialize`.
    #[serde(rename = "i", default)]
    pub client_info: Value,
    /// Backend name → the `Mcp-Session-Id` that backend issued (stateless backends absent).
    #[serde(rename = "s", default)]
    pub upstream_sessions: BTreeMap<String, String>,
    /// Backend name → the protocol version it negotiated (its `MCP-Protocol-Version`).
    #[serde(rename = "b", default)]
    pub backend_versions: BTreeMap<String, String>,
    /// When the session was created, in seconds since the Unix epoch.
    #[serde(rename = "t")]
    pub issued_at: u64,
}

/// Why a token was refused. Each answers HTTP 404 (the client re-initializes); they are
/// told apart only for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not base64url, too short or too long, or an authentic token whose payload is not one.
    #[error("malformed session token")]
    Malformed,
    /// Sealed with a key that is not (or no longer) configured.
    #[error("session token sealed with an unknown key")]
    UnknownKey,
    /// Failed authentication: altered, or forged.
    #[error("session token failed authentication")]
    Tampered,
    /// Older than the configured TTL.
    #[error("session token expired")]
    Expired,
}

impl TokenError {
    /// A stable metric tag value for this rejection.
    pub fn metric_tag(self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed",
            TokenError::UnknownKey => "unknown_key",
            TokenError::Tampered => "tampered",
            TokenError::Expired => "expired",
        }
    }
}

/// Why a token could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// A sealer needs at least one key.
    #[error("no session key configured")]
    NoKeys,
    /// The payload could not be serialized.
    #[error("session payload not serializable: {0}")]
    Encode(String),
    /// AES-GCM refused the plaintext (only possible beyond its 64 GiB limit).
    #[error("encryption failed")]
    Encrypt,
}

/// One configured key, its cipher state prepared once.
struct KeySlot {
    id: u8,
    cipher: Aes256Gcm,
}

/// Seals and opens session tokens. Built once per filter configuration (key schedules are
/// computed here, never per request) and shared by every stream: it is `Send + Sync`.
pub struct Sealer {
    /// The first seals; all open.
    keys: Vec<KeySlot>,
    ttl_seconds: u64,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<u8> = self.keys.iter().map(|k| k.id).collect();
        f.debug_struct("Sealer")
            .field("key_ids", &ids)
            .field("ttl_seconds", &self.ttl_seconds)
            .finish()
    }
}

impl Sealer {
    /// A sealer whose first key seals and whose keys all open, for tokens younger than
    /// `ttl_seconds`.
    pub fn new(keys: &[SessionKey], ttl_seconds: u64) -> Result<Self, SealError> {
        if keys.is_empty() {
            return Err(SealError::NoKeys);
        }
        let keys = keys
            .iter()
            .map(|key| KeySlot {
                id: key.id(),
                cipher: Aes256Gcm::new(&key.0.into()),
            })
            .collect();
        Ok(Sealer { keys, ttl_seconds })
    }

    /// How long a token stays valid after `issued_at`.
    pub fn ttl_seconds(&self) -> u64 {
        self.ttl_seconds
    }

    /// Seals `payload` with the first key. `nonce` must be fresh random bytes
    /// (`Host::random_bytes`): reusing one under the same key breaks AES-GCM.
    pub fn seal(
        &self,
        payload: &SessionPayload,
        nonce: [u8; NONCE_LEN],
    ) -> Result<String, SealError> {
        let plaintext =
            serde_json::to_vec(payload).map_err(|err| SealError::Encode(err.to_string()))?;
        self.seal_bytes(&plaintext, nonce)
    }

    /// Opens a token at time `now` (Unix seconds): authentic, sealed by a configured key,
    /// and younger than the TTL.
    pub fn open(&self, token: &str, now: u64) -> Result<SessionPayload, TokenError> {
        let plaintext = self.open_bytes(token)?;
        let payload: SessionPayload =
            serde_json::from_slice(&plaintext).map_err(|_| TokenError::Malformed)?;
        if self.expired(&payload, now) {
            return Err(TokenError::Expired);
        }
        Ok(payload)
    }

    /// Whether a session issued at `payload.issued_at` has outlived the TTL at `now`.
    pub fn expired(&self, payload: &SessionPayload, now: u64) -> bool {
        now >= payload.issued_at.saturating_add(self.ttl_seconds)
    }

    /// Seals arbitrary bytes for another purpose than sessions (e.g. `"cursor tools/list v1"`)
    /// with the first key; only [`Sealer::open_for`] with the same purpose opens them. Same
    /// text format and nonce rule as [`Sealer::seal`].
    pub fn seal_for(
        &self,
        purpose: &str,
        plaintext: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Result<String, SealError> {
        self.seal_with(&purpose_aad(purpose), plaintext, nonce)
    }

    /// Opens what [`Sealer::seal_for`] sealed for `purpose`; text longer than `max_chars` is
    /// malformed without more work. No expiry: the caller puts a time in the bytes if needed.
    pub fn open_for(
        &self,
        purpose: &str,
        text: &str,
        max_chars: usize,
    ) -> Result<Vec<u8>, TokenError> {
        if text.len() > max_chars {
            return Err(TokenError::Malformed);
        }
        self.open_with(&purpose_aad(purpose), text)
    }

    fn seal_bytes(&self, plaintext: &[u8], nonce: [u8; NONCE_LEN]) -> Result<String, SealError> {
        self.seal_with(AAD, plaintext, nonce)
    }

    fn seal_with(
        &self,
        aad: &[u8],
        plaintext: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Result<String, SealError> {
        let key = self.keys.first().ok_or(SealError::NoKeys)?;
        let sealed = key
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| SealError::Encrypt)?;
        let mut token = Vec::with_capacity(HEADER_LEN + sealed.len());
        token.push(key.id);
        token.extend_from_slice(&nonce);
        token.extend_from_slice(&sealed);
        Ok(URL_SAFE_NO_PAD.encode(token))
    }

    fn open_bytes(&self, token: &str) -> Result<Vec<u8>, TokenError> {
        if token.len() > MAX_TOKEN_CHARS {
            return Err(TokenError::Malformed);
        }
        self.open_with(AAD, token)
    }

    fn open_with(&self, aad: &[u8], token: &str) -> Result<Vec<u8>, TokenError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| TokenError::Malformed)?;
        if bytes.len() < HEADER_LEN + TAG_LEN {
            return Err(TokenError::Malformed);
        }
        let (header, sealed) = bytes.split_at(HEADER_LEN);
        let key_id = header[0];
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&header[1..]);
        let nonce = Nonce::from(nonce);
        // Two keys may share an id (1 in 256 per pair): try each; the tag tells them apart.
        let mut candidates = self.keys.iter().filter(|k| k.id == key_id).peekable();
        if candidates.peek().is_none() {
            return Err(TokenError::UnknownKey);
        }
        candidates
            .find_map(|key| {
                key.cipher
                    .decrypt(&nonce, Payload { msg: sealed, aad })
                    .ok()
            })
            .ok_or(TokenError::Tampered)
    }
}

fn purpose_aad(purpose: &str) -> Vec<u8> {
    [PURPOSE_AAD_PREFIX, purpose.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ai_gateway_core::fake_host::FakeHost;
    use ai_gateway_core::Host;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;
    const TTL: u64 = 3600;

    fn key(fill: u8) -> SessionKey {
        SessionKey::from_bytes([fill; KEY_LEN])
    }

    fn sealer(keys: &[SessionKey]) -> Sealer {
        Sealer::new(keys, TTL).unwrap()
    }

    /// What a real session looks like: the Python SDK's capabilities and info, three backends
    /// with UUID / hex session ids as the SDKs and server-everything issue them.
    fn realistic() -> SessionPayload {
        SessionPayload {
            protocol_version: "2025-11-25".to_string(),
            client_capabilities: json!({
                "roots": {"listChanged": true},
                "sampling": {},
                "elicitation": {"form": {}, "url": {}}
            }),
            client_info: json!({"name": "mcp-python-client", "version": "1.22.0"}),
            upstream_sessions: BTreeMap::from([
                (
                    "weather".to_string(),
                    "5f2a9c1e-8b7d-4e3f-a1c6-0d9e8f7a6b5c".to_string(),
                ),
                (
                    "everything".to_string(),
                    "b1e4c7a2-3d6f-4a8b-9c0e-1f2d3c4b5a69".to_string(),
                ),
                (
                    "files".to_string(),
                    "9f86d081884c7d659a2feaa0c55ad015".to_string(),
                ),
            ]),
            backend_versions: Default::default(),
            issued_at: NOW,
        }
    }

    fn sealed(sealer: &Sealer, nonce_fill: u8) -> String {
        sealer.seal(&realistic(), [nonce_fill; NONCE_LEN]).unwrap()
    }

    /// Flips one bit of the decoded token at `index` and re-encodes it.
    fn flip(token: &str, index: usize) -> String {
        let mut bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
        bytes[index] ^= 0x01;
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn round_trip() {
        let sealer = sealer(&[key(1)]);
        let token = sealed(&sealer, 7);
        assert_eq!(sealer.open(&token, NOW + 10).unwrap(), realistic());
    }

    #[test]
    fn round_trip_with_a_host_nonce_and_empty_fields() {
        let host = FakeHost::default();
        let mut nonce = [0u8; NONCE_LEN];
        host.random_bytes(&mut nonce).unwrap();
        let payload = SessionPayload {
            protocol_version: "2025-03-26".to_string(),
            client_capabilities: Value::Null,
            client_info: json!({}),
            upstream_sessions: BTreeMap::new(),
            backend_versions: Default::default(),
            issued_at: NOW,
        };
        let sealer = sealer(&[key(1)]);
        let token = sealer.seal(&payload, nonce).unwrap();
        assert_eq!(sealer.open(&token, NOW).unwrap(), payload);
    }

    #[test]
    fn tokens_are_header_safe_and_differ_per_nonce() {
        let sealer = sealer(&[key(1)]);
        let (a, b) = (sealed(&sealer, 1), sealed(&sealer, 2));
        assert_ne!(a, b);
        // Mcp-Session-Id must be visible ASCII; base64url without padding is.
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn every_altered_byte_is_tampered() {
        let sealer = sealer(&[key(1)]);
        let token = sealed(&sealer, 7);
        let len = URL_SAFE_NO_PAD.decode(&token).unwrap().len();
        // Byte 0 is the key id (altering it finds no key); every later byte is authenticated.
        for index in 1..len {
            assert_eq!(
                sealer.open(&flip(&token, index), NOW),
                Err(TokenError::Tampered),
                "byte {index}"
            );
        }
        assert_eq!(
            sealer.open(&flip(&token, 0), NOW),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn a_token_from_an_unconfigured_key_is_unknown() {
        let token = sealed(&sealer(&[key(1)]), 7);
        assert_ne!(key(1).id(), key(2).id());
        assert_eq!(
            sealer(&[key(2)]).open(&token, NOW),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn a_different_key_with_the_same_id_is_tampered_not_accepted() {
        let target = key(1).id();
        // Deterministic: the first of up to 4096 other keys whose id collides (one in 256 does).
        let twin = (1..4096u16)
            .map(|n| {
                let mut bytes = [2u8; KEY_LEN];
                bytes[..2].copy_from_slice(&n.to_le_bytes());
                SessionKey::from_bytes(bytes)
            })
            .find(|k| k.id() == target)
            .expect("a key with the same one-byte id");
        let token = sealed(&sealer(&[key(1)]), 7);
        assert_eq!(
            sealer(std::slice::from_ref(&twin)).open(&token, NOW),
            Err(TokenError::Tampered)
        );
        // With both configured, the right one is found whatever the order.
        assert!(sealer(&[twin, key(1)]).open(&token, NOW).is_ok());
    }

    #[test]
    fn expiry_is_at_issued_at_plus_ttl() {
        let sealer = sealer(&[key(1)]);
        let token = sealed(&sealer, 7);
        assert!(sealer.open(&token, NOW + TTL - 1).is_ok());
        assert_eq!(sealer.open(&token, NOW + TTL), Err(TokenError::Expired));
        // A replica whose clock lags the sealing one still accepts the token.
        assert!(sealer.open(&token, NOW - 30).is_ok());
    }

    #[test]
    fn rotation_keeps_old_tokens_open_and_seals_with_the_new_key() {
        let old = sealer(&[key(1)]);
        let rotated = sealer(&[key(2), key(1)]);
        let old_token = sealed(&old, 7);
        assert_eq!(rotated.open(&old_token, NOW).unwrap(), realistic());
        let new_token = sealed(&rotated, 8);
        assert_eq!(URL_SAFE_NO_PAD.decode(&new_token).unwrap()[0], key(2).id());
        // A replica not yet rotated cannot open it; after the old key is dropped, old tokens die.
        assert_eq!(old.open(&new_token, NOW), Err(TokenError::UnknownKey));
        assert_eq!(
            sealer(&[key(2)]).open(&old_token, NOW),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn malformed_tokens() {
        let sealer = sealer(&[key(1)]);
        let short = URL_SAFE_NO_PAD.encode([key(1).id(); HEADER_LEN + TAG_LEN - 1]);
        let padded = format!("{}=", sealed(&sealer, 7));
        let huge = "A".repeat(MAX_TOKEN_CHARS + 1);
        for token in ["", "not a token!", "abc+/def", &short, &padded, &huge] {
            assert_eq!(
                sealer.open(token, NOW),
                Err(TokenError::Malformed),
                "{token:.40}"
            );
        }
    }

    #[test]
    fn authentic_bytes_that_are_not_a_payload_are_malformed() {
        let sealer = sealer(&[key(1)]);
        let token = sealer.seal_bytes(b"{\"not\":\"a session\"}", [7; NONCE_LEN]);
        assert_eq!(
            sealer.open(&token.unwrap(), NOW),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn purposes_never_open_each_other_nor_sessions() {
        let sealer = sealer(&[key(1)]);
        let session = sealed(&sealer, 7);
        let cursor = sealer.seal_for("cursor a", b"{}", [8; NONCE_LEN]).unwrap();
        assert_eq!(sealer.open_for("cursor a", &cursor, 100).unwrap(), b"{}");
        assert_eq!(
            sealer.open_for("cursor b", &cursor, 100),
            Err(TokenError::Tampered)
        );
        assert_eq!(sealer.open(&cursor, NOW), Err(TokenError::Tampered));
        assert_eq!(
            sealer.open_for("session v1", &session, MAX_TOKEN_CHARS),
            Err(TokenError::Tampered)
        );
        assert_eq!(
            sealer.open_for("cursor a", &cursor, cursor.len() - 1),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn realistic_three_backend_token_fits_in_a_header() {
        let token = sealed(&sealer(&[key(1)]), 7);
        let plaintext = serde_json::to_vec(&realistic()).unwrap().len();
        println!(
            "3-backend token: {plaintext} bytes of JSON, {} chars",
            token.len()
        );
        // 4/3 of (plaintext + id + nonce + tag), nothing more.
        let sealed_bytes = HEADER_LEN + plaintext + TAG_LEN;
        assert_eq!(token.len(), (sealed_bytes * 4).div_ceil(3), "{token}");
        assert!(token.len() < 1024, "token is {} chars", token.len());
    }

    #[test]
    fn keys_parse_from_standard_base64_of_32_bytes_and_never_print() {
        let text = STANDARD.encode([9u8; KEY_LEN]);
        let parsed = SessionKey::from_base64(&text).unwrap();
        assert_eq!(parsed, SessionKey::from_bytes([9; KEY_LEN]));
        assert_eq!(
            SessionKey::from_base64(&STANDARD.encode([9u8; 16])),
            Err(KeyError::Length(16))
        );
        assert_eq!(SessionKey::from_base64("***"), Err(KeyError::Base64));
        let shown = format!("{parsed:?} {:?}", sealer(std::slice::from_ref(&parsed)));
        assert!(!shown.contains("9, 9") && !shown.contains(&text), "{shown}");
    }

    #[test]
    fn a_sealer_needs_a_key_and_is_shareable() {
        assert!(matches!(Sealer::new(&[], TTL), Err(SealError::NoKeys)));
        fn shareable<T: Send + Sync>() {}
        shareable::<Sealer>();
    }

    #[test]
    fn rejections_have_distinct_metric_tags() {
        let tags = [
            TokenError::Malformed,
            TokenError::UnknownKey,
            TokenError::Tampered,
            TokenError::Expired,
        ]
        .map(TokenError::metric_tag);
        let unique: std::collections::BTreeSet<_> = tags.iter().collect();
        assert_eq!(unique.len(), tags.len());
    }
}
