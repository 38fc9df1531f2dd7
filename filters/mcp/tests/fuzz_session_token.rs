//! Fuzz target: the session token sealer/opener. Any payload seals and opens back within its
//! TTL; a token altered in any way, sealed with a key that is not configured, or not a token at
//! all never opens and never panics.

use std::collections::BTreeMap;

use ai_gateway_core::fuzz::{self, check};
use ai_gateway_mcp::session_token::{
    Sealer, SessionKey, SessionPayload, TokenError, KEY_LEN, MAX_TOKEN_CHARS, NONCE_LEN,
};
use proptest::prelude::*;

const TTL: u64 = 3600;
const ISSUED: u64 = 1_800_000_000;

fn payload() -> impl Strategy<Value = SessionPayload> {
    let sessions = || proptest::collection::btree_map("[a-z]{1,8}", ".{0,40}", 0..4);
    (
        ".{0,12}",
        fuzz::json_value(2),
        fuzz::json_value(2),
        sessions(),
        sessions(),
        any::<u64>(),
    )
        .prop_map(
            |(version, caps, info, sessions, versions, issued_at)| SessionPayload {
                protocol_version: version,
                client_capabilities: caps,
                client_info: info,
                upstream_sessions: sessions,
                backend_versions: versions,
                issued_at,
            },
        )
}

fn sealer(key: [u8; KEY_LEN]) -> Sealer {
    Sealer::new(&[SessionKey::from_bytes(key)], TTL).expect("one key")
}

/// A realistic session (the Python SDK's initialize), sealed with `nonce`.
fn capture(sealer: &Sealer, nonce: [u8; NONCE_LEN]) -> String {
    let payload = SessionPayload {
        protocol_version: "2025-11-25".into(),
        client_capabilities: serde_json::json!({"roots": {"listChanged": true}, "sampling": {}}),
        client_info: serde_json::json!({"name": "mcp-python-client", "version": "1.22.0"}),
        upstream_sessions: BTreeMap::from([(
            "weather".into(),
            "5f2a9c1e-8b7d-4e3f-a1c6-0d9e8f7a6b5c".into(),
        )]),
        backend_versions: BTreeMap::new(),
        issued_at: ISSUED,
    };
    sealer.seal(&payload, nonce).expect("seals")
}

#[test]
fn fuzz_session_token_round_trip() {
    let input = (
        payload(),
        any::<[u8; KEY_LEN]>(),
        any::<[u8; NONCE_LEN]>(),
        0..TTL,
    );
    fuzz::run(
        "session_token_round_trip",
        input,
        |(payload, key, nonce, age)| {
            let sealer = sealer(key);
            let token = sealer.seal(&payload, nonce).expect("seals");
            check(token.len() <= MAX_TOKEN_CHARS, || "too long to open".into())?;
            // Header-safe (it travels as Mcp-Session-Id): base64url without padding.
            let safe = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            check(token.bytes().all(safe), || token.clone())?;
            let opened = sealer.open(&token, payload.issued_at.saturating_add(age));
            let Some(expiry) = payload.issued_at.checked_add(TTL) else {
                // Issued so late that the TTL saturates: never valid, never a panic.
                return check(opened == Err(TokenError::Expired), || format!("{opened:?}"));
            };
            check(opened.as_ref() == Ok(&payload), || format!("{opened:?}"))?;
            let later = sealer.open(&token, expiry);
            check(later == Err(TokenError::Expired), || {
                format!("at expiry: {later:?}")
            })
        },
    );
}

#[test]
fn fuzz_session_token_mutated() {
    let sealer = sealer([1; KEY_LEN]);
    let token = capture(&sealer, [7; NONCE_LEN]);
    let input = fuzz::mutated(vec![token.clone().into_bytes()], 6);
    fuzz::run("session_token_mutated", input, |bytes| {
        let text = String::from_utf8_lossy(&bytes);
        let opened = sealer.open(&text, ISSUED + 10);
        check(opened.is_err() || text == token, || {
            format!("{text} opened: {opened:?}")
        })
    });
}

#[test]
fn fuzz_session_token_foreign() {
    // Arbitrary text, and well-formed tokens sealed with a key this sealer does not have.
    let input = (".{0,200}", any::<[u8; KEY_LEN]>(), any::<[u8; NONCE_LEN]>());
    let configured = sealer([1; KEY_LEN]);
    fuzz::run("session_token_foreign", input, |(text, key, nonce)| {
        check(configured.open(&text, ISSUED + 10).is_err(), || {
            text.clone()
        })?;
        if key == [1; KEY_LEN] {
            return Ok(());
        }
        let opened = configured.open(&capture(&sealer(key), nonce), ISSUED + 10);
        check(
            matches!(opened, Err(TokenError::UnknownKey | TokenError::Tampered)),
            || format!("cross-key token: {opened:?}"),
        )
    });
}
