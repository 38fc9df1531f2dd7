//! Pagination: sealed cursors across backends.

use super::*;
use crate::cursor::CursorError;

#[test]
fn cursor_round_trips_and_skips_exhausted_backends() {
    let merger = Merger::new(PrefixMode::Always);
    let first = merger.list(
        ListKind::Tools,
        &[
            ok("a", with_cursor(tools(&["x1"]), "a-page-2")),
            ok("b", tools(&["y"])),
            ok("c", with_cursor(tools(&["z1"]), "c-page-2")),
        ],
    );
    let text = first.value.result["nextCursor"].as_str().unwrap();
    assert!(!text.contains("page-2"), "sealed, not readable: {text}");
    let page = Page::from_client(&merger.sealer, ListKind::Tools, Some(text)).unwrap();
    let asks: Vec<Ask<'_>> = BACKENDS.iter().map(|b| page.ask(b)).collect();
    assert_eq!(
        asks,
        [Ask::After("a-page-2"), Ask::Skip, Ask::After("c-page-2")]
    );
    assert_eq!(asks[0].cursor(), Some("a-page-2"));
    let second = merger.list(
        ListKind::Tools,
        &[
            ok("a", tools(&["x2"])),
            ok("c", with_cursor(tools(&["z2"]), "c-page-3")),
        ],
    );
    assert_eq!(names(&second.value, ListKind::Tools), ["a_x2", "c_z2"]);
    let text = second.value.result["nextCursor"].as_str().unwrap();
    let page = Page::from_client(&merger.sealer, ListKind::Tools, Some(text)).unwrap();
    assert_eq!(page.ask("a"), Ask::Skip);
    assert_eq!(page.ask("c"), Ask::After("c-page-3"));
    let last = merger.list(ListKind::Tools, &[ok("c", tools(&["z3"]))]);
    assert!(last.value.result.get("nextCursor").is_none());
    assert!(last.value.next.is_exhausted());
}

#[test]
fn no_client_cursor_asks_every_backend_for_its_first_page() {
    let page = Page::from_client(&sealer(), ListKind::Tools, None).unwrap();
    assert!(BACKENDS.iter().all(|b| page.ask(b) == Ask::FirstPage));
    assert_eq!(Ask::FirstPage.cursor(), None);
}

#[test]
fn empty_or_missing_upstream_cursors_mean_exhausted() {
    let merged = Merger::new(PrefixMode::Always).list(
        ListKind::Tools,
        &[
            ok("a", with_cursor(tools(&["x"]), "")),
            ok("b", json!({"tools": [], "nextCursor": null})),
        ],
    );
    assert!(merged.value.result.get("nextCursor").is_none());
}

#[test]
fn a_failed_backend_is_not_carried_in_the_cursor() {
    let merged = Merger::new(PrefixMode::Always).list(
        ListKind::Tools,
        &[
            ok("a", with_cursor(tools(&["x"]), "a2")),
            timeout("b", FailureMode::FailOpen),
        ],
    );
    assert_eq!(merged.value.next, PageCursor::new([("a", "a2")]));
}

#[test]
fn forged_cursor_is_refused() {
    let sealer = sealer();
    let genuine = PageCursor::new([("a", "a2")])
        .seal(&sealer, ListKind::Tools, [3; NONCE_LEN])
        .unwrap();
    let mut altered = genuine.clone().into_bytes();
    let last = altered.len() - 2;
    altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let other_key = Sealer::new(&[SessionKey::from_bytes([2; 32])], 3600).unwrap();
    let foreign = PageCursor::new([("a", "a2")])
        .seal(&other_key, ListKind::Tools, [3; NONCE_LEN])
        .unwrap();
    let for_prompts = PageCursor::new([("a", "a2")])
        .seal(&sealer, ListKind::Prompts, [3; NONCE_LEN])
        .unwrap();
    let session = sealer
        .seal(
            &SessionPayload {
                protocol_version: "2025-11-25".into(),
                client_capabilities: json!({}),
                client_info: json!({}),
                upstream_sessions: Default::default(),
                backend_versions: Default::default(),
                issued_at: 1,
            },
            [4; NONCE_LEN],
        )
        .unwrap();
    let hand_made = r#"{"a":"../admin"}"#;
    let huge = "A".repeat(crate::cursor::MAX_CURSOR_CHARS + 1);
    for forged in [
        altered.as_str(),
        &foreign,
        &for_prompts,
        &session,
        hand_made,
        "",
        &huge,
    ] {
        let err = Page::from_client(&sealer, ListKind::Tools, Some(forged)).unwrap_err();
        assert_eq!(err.code(), INVALID_PARAMS, "{forged:.30}");
        let response = err.response(Id::from(1));
        assert_eq!(response.error_object().unwrap().code, INVALID_PARAMS);
    }
    assert!(Page::from_client(&sealer, ListKind::Tools, Some(&genuine)).is_ok());
}

#[test]
fn cursors_stay_compact() {
    let uuid = "5f2a9c1e-8b7d-4e3f-a1c6-0d9e8f7a6b5c";
    let text = PageCursor::new(BACKENDS.map(|b| (b, uuid)))
        .seal(&sealer(), ListKind::Tools, [5; NONCE_LEN])
        .unwrap();
    let plaintext = serde_json::to_vec(&json!({"a": uuid, "b": uuid, "c": uuid}))
        .unwrap()
        .len();
    // base64url of key id + nonce + JSON + tag, nothing more.
    assert_eq!(
        text.len(),
        ((1 + NONCE_LEN + plaintext + 16) * 4).div_ceil(3)
    );
    assert!(text.len() < 240, "{} chars", text.len());
}

#[test]
fn upstream_params_carry_the_backends_own_cursor_and_the_clients_meta() {
    let sealer = sealer();
    let text = PageCursor::new([("a", "a2")])
        .seal(&sealer, ListKind::Tools, [3; NONCE_LEN])
        .unwrap();
    let client = json!({"cursor": text, "_meta": {"progressToken": 1}});
    let page = Page::from_params(&sealer, ListKind::Tools, Some(&client)).unwrap();
    assert_eq!(
        page.upstream_params("a", Some(&client)),
        Some(json!({"cursor": "a2", "_meta": {"progressToken": 1}}))
    );
    assert_eq!(page.upstream_params("b", Some(&client)), None);
    let first = Page::from_params(&sealer, ListKind::Tools, None).unwrap();
    assert_eq!(first, Page::First);
    assert_eq!(first.upstream_params("b", None), Some(json!({})));
    let null_cursor = json!({"cursor": null});
    assert_eq!(
        Page::from_params(&sealer, ListKind::Tools, Some(&null_cursor)),
        Ok(Page::First)
    );
    let numeric = json!({"cursor": 7});
    assert_eq!(
        Page::from_params(&sealer, ListKind::Tools, Some(&numeric)),
        Err(CursorError::NotText)
    );
}
