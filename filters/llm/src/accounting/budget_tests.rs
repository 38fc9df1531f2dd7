use std::rc::Rc;

use ai_gateway_core::fake_host::FakeHost;

use super::*;

fn budget(limits: Limits) -> Budget {
    Budget {
        key: BudgetKey::Header("x-team".into()),
        window_seconds: 60,
        limits,
        overrides: Default::default(),
    }
}

fn total(n: u64) -> Limits {
    Limits {
        total: Some(n),
        ..Limits::default()
    }
}

fn used(input: u64, output: u64) -> StreamTokens {
    StreamTokens {
        input,
        output,
        ..StreamTokens::default()
    }
}

fn admitted(admission: Admission) -> Reservation {
    match admission {
        Admission::Admitted(r) => r,
        other => panic!("refused: {other:?}"),
    }
}

#[test]
fn check_refuses_spent_limits_and_estimates_that_do_not_fit() {
    let spent = Spent {
        window: 0,
        input: 40,
        output: 50,
    };
    assert_eq!(check(&total(100), &spent, 10), Ok(()));
    assert_eq!(check(&total(100), &spent, 11), Err(Exceeded::Total));
    assert_eq!(check(&total(90), &spent, 0), Err(Exceeded::Total));
    let input = Limits {
        input: Some(40),
        ..Limits::default()
    };
    assert_eq!(check(&input, &spent, 0), Err(Exceeded::Input));
    let output = Limits {
        output: Some(60),
        ..Limits::default()
    };
    assert_eq!(check(&output, &spent, 10), Ok(()));
    assert_eq!(check(&output, &spent, 20), Err(Exceeded::Output));
}

#[test]
fn a_key_is_served_until_spent_then_refused_until_the_window_ends() {
    let b = budget(total(100));
    // A host without headers (FakeHost's private fields rule out struct-update syntax).
    let mut host = FakeHost::with_request_headers(&[]);
    host.unix_seconds = 1_000_030;
    for _ in 0..2 {
        let r = admitted(admit(&b, &host, Some("team-a"), 0).unwrap());
        charge(&b, &host, &r, used(20, 30)).unwrap();
    }
    match admit(&b, &host, Some("team-a"), 0).unwrap() {
        Admission::Refused {
            exceeded,
            retry_after,
        } => {
            assert_eq!(exceeded, Exceeded::Total);
            // The window began at 1_000_020 (a multiple of 60) and ends in 50 s.
            assert_eq!(retry_after, 50);
        }
        other => panic!("{other:?}"),
    }
    // Another key is unaffected; no key is not limited.
    admitted(admit(&b, &host, Some("team-b"), 0).unwrap());
    assert_eq!(admit(&b, &host, None, 0).unwrap(), Admission::Unkeyed);
    // The next window starts afresh.
    host.unix_seconds += 60;
    admitted(admit(&b, &host, Some("team-a"), 0).unwrap());
}

#[test]
fn reservations_count_for_other_workers_and_are_replaced_by_usage() {
    let b = budget(total(100));
    let first = FakeHost::default();
    let mut second = FakeHost::with_request_headers(&[]);
    second.shared = Rc::clone(&first.shared);
    let r = admitted(admit(&b, &first, Some("k"), 60).unwrap());
    // In flight: the other worker sees the 60 held and cannot hold 50 more.
    assert!(matches!(
        admit(&b, &second, Some("k"), 50).unwrap(),
        Admission::Refused { .. }
    ));
    // The answer used 10 + 5: the remaining 85 is free again.
    charge(&b, &first, &r, used(10, 5)).unwrap();
    admitted(admit(&b, &second, Some("k"), 85).unwrap());
}

#[test]
fn a_released_reservation_frees_its_estimate() {
    let b = budget(total(100));
    let host = FakeHost::default();
    let r = admitted(admit(&b, &host, Some("k"), 100).unwrap());
    charge(&b, &host, &r, StreamTokens::default()).unwrap();
    admitted(admit(&b, &host, Some("k"), 100).unwrap());
}

#[test]
fn updates_survive_a_concurrent_write() {
    let b = budget(total(1000));
    let host = FakeHost::default();
    let r = admitted(admit(&b, &host, Some("k"), 0).unwrap());
    // Another worker charged 7 output tokens between our read and write.
    let foreign = Spent {
        window: r.window,
        input: 0,
        output: 7,
    };
    host.shared_interleave_once(&r.store_key, &foreign.encode());
    charge(&b, &host, &r, used(1, 2)).unwrap();
    let stored = host.shared_get(&r.store_key).unwrap();
    assert_eq!(
        Spent::decode(&stored.bytes),
        Some(Spent {
            window: r.window,
            input: 1,
            output: 9
        })
    );
}

#[test]
fn keys_come_from_the_configured_header_or_the_api_key() {
    let host =
        FakeHost::with_request_headers(&[("x-team", "blue"), ("authorization", "Bearer sk-1")]);
    assert_eq!(key_of(&budget(total(1)), &host).as_deref(), Some("blue"));
    let api = Budget {
        key: BudgetKey::ApiKey,
        ..budget(total(1))
    };
    assert_eq!(key_of(&api, &host).as_deref(), Some("sk-1"));
    let anthropic = FakeHost::with_request_headers(&[("x-api-key", "sk-ant")]);
    assert_eq!(key_of(&api, &anthropic).as_deref(), Some("sk-ant"));
    assert_eq!(key_of(&budget(total(1)), &anthropic), None);
    // Store keys never spell the client's key.
    assert!(!store_key("sk-1").contains("sk-1"));
    assert_eq!(store_key("sk-1"), store_key("sk-1"));
    assert_ne!(store_key("sk-1"), store_key("sk-2"));
}

#[test]
fn huge_estimates_and_figures_saturate() {
    let b = budget(Limits {
        input: Some(10),
        ..Limits::default()
    });
    let host = FakeHost::default();
    for _ in 0..2 {
        let r = admitted(admit(&b, &host, Some("k"), u64::MAX).unwrap());
        charge(&b, &host, &r, used(1, u64::MAX)).unwrap();
    }
    let totals = budget(total(10));
    assert!(matches!(
        admit(&totals, &host, Some("k"), u64::MAX).unwrap(),
        Admission::Refused { .. }
    ));
}

#[test]
fn named_keys_have_their_own_limits_and_others_may_be_unlimited() {
    let mut b = budget(Limits::default());
    b.overrides.insert("small".into(), total(10));
    let host = FakeHost::default();
    let r = admitted(admit(&b, &host, Some("small"), 0).unwrap());
    charge(&b, &host, &r, used(5, 5)).unwrap();
    assert!(matches!(
        admit(&b, &host, Some("small"), 0).unwrap(),
        Admission::Refused { .. }
    ));
    // Not named, no default limits: not limited, nothing stored.
    assert_eq!(
        admit(&b, &host, Some("big"), 0).unwrap(),
        Admission::Unkeyed
    );
    assert!(host.shared_get(&store_key("big")).is_none());
}
