//! The route stage against a fake host: one behaviour of the issue per test.

use std::sync::Arc;

use ai_gateway_core::fake_host::FakeHost;
use ai_gateway_core::{Action, Direction, Host, HttpFilter, MetadataSink};

use crate::config::{RouteSettings, Settings};
use crate::headers::{DESTINATION, LB_NAMESPACE, ORIGINAL_DST_HOST, POOL, SERVED};
use crate::metrics::{DECISIONS_TOTAL, REQUESTS_TOTAL, TOKENS_TOTAL};
use crate::picker;
use crate::route::RouteFilter;

fn settings(failure_mode: &str, final_hop: &str) -> Arc<RouteSettings> {
    let json = format!(
        r#"{{"stage":"route","finalHop":"{final_hop}",
            "pools":[{{"name":"p","failureMode":"{failure_mode}",
                     "cidrs":["127.0.0.2/32","127.0.0.3/32","::1/128"],
                     "targetPorts":[8000,8001],
                     "endpoints":["127.0.0.2:8000","127.0.0.3:8000","[::1]:8000"]}},
                    {{"name":"q","cidrs":["10.0.0.0/8"],"targetPorts":[80]}}]}}"#
    );
    match Settings::from_json(&json).unwrap() {
        Settings::Route(s) => Arc::new(s),
        Settings::Guard(_) => unreachable!("a route config"),
    }
}

fn close() -> Arc<RouteSettings> {
    settings("FailClose", "overrideHost")
}

fn decisions(host: &FakeHost, reason: &str) -> u64 {
    host.counter(DECISIONS_TOTAL, &["p", reason])
}

fn with_pick(value: &str) -> FakeHost {
    FakeHost::with_request_headers(&[
        (":path", "/v1/completions"),
        (POOL, "p"),
        (DESTINATION, value),
    ])
}

fn without_pick() -> FakeHost {
    FakeHost::with_request_headers(&[(":path", "/v1/completions"), (POOL, "p")])
}

#[test]
fn the_epp_pick_is_followed() {
    let mut host = with_pick("127.0.0.2:8000");
    let mut filter = RouteFilter::new(close());
    assert_eq!(filter.on_request_headers(&mut host, true), Action::Continue);
    assert_eq!(
        host.header(Direction::Request, DESTINATION).as_deref(),
        Some("127.0.0.2:8000")
    );
    assert_eq!(decisions(&host, "epp"), 1);
    assert!(host.local_reply.is_none());
}

#[test]
fn the_metadata_pick_wins_over_the_header() {
    let mut host = with_pick("127.0.0.2:8000");
    host.metadata_in.insert(
        (LB_NAMESPACE.into(), DESTINATION.into()),
        "127.0.0.3:8001".into(),
    );
    RouteFilter::new(close()).on_request_headers(&mut host, true);
    assert_eq!(
        host.header(Direction::Request, DESTINATION).as_deref(),
        Some("127.0.0.3:8001")
    );
}

#[test]
fn a_fallback_list_keeps_only_pool_members_in_order() {
    let mut host = with_pick("10.1.1.1:8000, [::1]:8001 ,bogus,127.0.0.3:9999,127.0.0.2:8000");
    RouteFilter::new(close()).on_request_headers(&mut host, true);
    assert_eq!(
        host.header(Direction::Request, DESTINATION).as_deref(),
        Some("[::1]:8001,127.0.0.2:8000")
    );
    assert_eq!(decisions(&host, "outside_pool"), 2);
    assert_eq!(decisions(&host, "epp_fallback"), 1);
}

#[test]
fn an_epp_pick_outside_the_pool_is_refused_with_fail_close() {
    let mut host = with_pick("127.0.0.5:8000");
    let mut filter = RouteFilter::new(close());
    assert_eq!(filter.on_request_headers(&mut host, true), Action::Pause);
    let reply = host.local_reply.clone().expect("a local reply");
    assert_eq!(reply.status, 503);
    assert!(String::from_utf8_lossy(&reply.body).contains("outside the pool"));
    assert_eq!(decisions(&host, "fail_close"), 1);
}

#[test]
fn no_pick_with_fail_close_answers_503() {
    let mut host = without_pick();
    let mut filter = RouteFilter::new(close());
    assert_eq!(filter.on_request_headers(&mut host, false), Action::Pause);
    assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(503));
    assert_eq!(
        host.local_reply.as_ref().map(|r| r.details.as_str()),
        Some("inference_no_endpoint")
    );
    filter.on_stream_done(&mut host);
    assert!(host.counters.keys().all(|(m, _)| *m != REQUESTS_TOTAL.0));
}

#[test]
fn no_pick_with_fail_open_uses_the_least_loaded_member_weighted_by_max_tokens() {
    let settings = settings("FailOpen", "overrideHost");
    // Member 0 already carries a large request.
    let mut host = without_pick();
    ai_gateway_core::shared::add_i64(&host, &picker::load_key("p", 0), 5000).unwrap();
    let mut filter = RouteFilter::new(settings.clone());
    assert_eq!(filter.on_request_headers(&mut host, false), Action::Pause);
    host.request_body = br#"{"model":"m","prompt":"hi","max_tokens":700}"#.to_vec();
    assert_eq!(filter.on_request_body(&mut host, true), Action::Continue);
    let chosen = host.header(Direction::Request, DESTINATION).unwrap();
    assert_ne!(chosen, "127.0.0.2:8000", "the busy member is avoided");
    let index = if chosen == "127.0.0.3:8000" { 1 } else { 2 };
    let key = picker::load_key("p", index);
    assert_eq!(ai_gateway_core::shared::read_i64(&host, &key), 700);
    assert_eq!(decisions(&host, "fail_open"), 1);
    filter.on_stream_done(&mut host);
    assert_eq!(
        ai_gateway_core::shared::read_i64(&host, &key),
        0,
        "released when done"
    );
}

#[test]
fn fail_open_without_a_body_uses_the_default_weight() {
    let mut host = without_pick();
    let mut filter = RouteFilter::new(settings("FailOpen", "overrideHost"));
    assert_eq!(filter.on_request_headers(&mut host, true), Action::Continue);
    let total: i64 = (0..3)
        .map(|i| ai_gateway_core::shared::read_i64(&host, &picker::load_key("p", i)))
        .sum();
    assert_eq!(total, 256);
}

#[test]
fn original_dst_gets_the_first_valid_candidate_only() {
    let mut host = with_pick("127.0.0.9:8000,127.0.0.3:8000,127.0.0.2:8000");
    host.request_headers
        .push((ORIGINAL_DST_HOST.into(), "leftover".into()));
    RouteFilter::new(settings("FailClose", "originalDst")).on_request_headers(&mut host, true);
    assert_eq!(
        host.header(Direction::Request, ORIGINAL_DST_HOST)
            .as_deref(),
        Some("127.0.0.3:8000")
    );
    assert_eq!(host.header(Direction::Request, DESTINATION), None);
}

#[test]
fn ipv6_picks_are_routed_bracketed() {
    let mut host = with_pick("[::1]:8000");
    RouteFilter::new(settings("FailClose", "originalDst")).on_request_headers(&mut host, true);
    assert_eq!(
        host.header(Direction::Request, ORIGINAL_DST_HOST)
            .as_deref(),
        Some("[::1]:8000")
    );
}

#[test]
fn the_served_endpoint_is_reported_and_counted_with_tokens() {
    let mut host = with_pick("127.0.0.3:8000");
    let mut filter = RouteFilter::new(close());
    filter.on_request_headers(&mut host, true);
    host.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/json".into()),
    ];
    filter.on_response_headers(&mut host, false);
    assert_eq!(
        host.metadata_out
            .get(&(LB_NAMESPACE.into(), SERVED.into()))
            .map(String::as_str),
        Some("127.0.0.3:8000")
    );
    // The dynamic module writes the metadata itself: no header for header_to_metadata.
    assert_eq!(host.header(Direction::Response, SERVED), None);
    host.response_body =
        br#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#.to_vec();
    filter.on_response_body(&mut host, true);
    filter.on_stream_done(&mut host);
    assert_eq!(
        host.counter(REQUESTS_TOTAL, &["p", "127_0_0_3_8000", "2xx"]),
        1
    );
    assert_eq!(
        host.counter(TOKENS_TOTAL, &["p", "127_0_0_3_8000", "completion"]),
        4
    );
    assert_eq!(
        host.counter(TOKENS_TOTAL, &["p", "127_0_0_3_8000", "prompt"]),
        3
    );
}

#[test]
fn a_valid_pick_that_is_not_a_listed_member_is_tagged_other() {
    let mut host = with_pick("127.0.0.2:8001");
    let mut filter = RouteFilter::new(close());
    filter.on_request_headers(&mut host, true);
    host.response_headers = vec![(":status".into(), "503".into())];
    filter.on_response_headers(&mut host, true);
    filter.on_stream_done(&mut host);
    assert_eq!(host.counter(REQUESTS_TOTAL, &["p", "other", "5xx"]), 1);
}

#[test]
fn an_unrouted_request_reports_nothing() {
    let mut host = FakeHost::default();
    let mut filter = RouteFilter::new(close());
    host.response_headers = vec![(":status".into(), "429".into())];
    filter.on_response_headers(&mut host, true);
    assert!(host.metadata_out.is_empty());
}

#[test]
fn each_pool_checks_picks_against_its_own_ranges() {
    let mut host = FakeHost::with_request_headers(&[(POOL, "q"), (DESTINATION, "127.0.0.2:8000")]);
    let mut filter = RouteFilter::new(close());
    assert_eq!(filter.on_request_headers(&mut host, true), Action::Pause);
    assert_eq!(host.local_reply.as_ref().map(|r| r.status), Some(503));
    assert_eq!(host.counter(DECISIONS_TOTAL, &["q", "outside_pool"]), 1);
    let mut host = FakeHost::with_request_headers(&[(POOL, "q"), (DESTINATION, "10.1.2.3:80")]);
    RouteFilter::new(close()).on_request_headers(&mut host, true);
    assert_eq!(
        host.header(Direction::Request, DESTINATION).as_deref(),
        Some("10.1.2.3:80")
    );
    assert_eq!(
        host.header(Direction::Request, POOL),
        None,
        "the pool header stops here"
    );
}

#[test]
fn an_unknown_or_missing_pool_is_a_503_when_several_are_configured() {
    for headers in [
        vec![(POOL, "nope"), (DESTINATION, "127.0.0.2:8000")],
        vec![(DESTINATION, "127.0.0.2:8000")],
    ] {
        let mut host = FakeHost::with_request_headers(&headers);
        assert_eq!(
            RouteFilter::new(close()).on_request_headers(&mut host, true),
            Action::Pause
        );
        assert_eq!(
            host.local_reply.as_ref().map(|r| r.details.as_str()),
            Some("inference_no_pool")
        );
    }
}

#[test]
fn host_override_where_the_flavour_cannot_is_a_500_not_a_silent_fallback() {
    let mut host = with_pick("127.0.0.2:8000");
    let mut filter = RouteFilter::new(settings("FailClose", "hostOverride"));
    assert_eq!(filter.on_request_headers(&mut host, true), Action::Pause);
    let reply = host.local_reply.clone().expect("a local reply");
    assert_eq!(reply.status, 500);
    assert_eq!(reply.details, "inference_final_hop_unavailable");
}

#[test]
fn without_dynamic_metadata_the_served_endpoint_also_goes_in_a_response_header() {
    let mut host = with_pick("127.0.0.3:8000");
    host.capabilities.metadata_sink = MetadataSink::FilterState;
    let mut filter = RouteFilter::new(close());
    filter.on_request_headers(&mut host, true);
    host.response_headers = vec![(":status".into(), "200".into())];
    filter.on_response_headers(&mut host, false);
    assert_eq!(
        host.header(Direction::Response, SERVED).as_deref(),
        Some("127.0.0.3:8000")
    );
}
