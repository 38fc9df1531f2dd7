//! Fuzz target: the EPP endpoint-list parser (the destination value an EPP, or a client trying
//! to steer routing, writes). Whatever the text: no panic, at most [`MAX_CANDIDATES`] entries
//! looked at, endpoints canonical, distinct and non-zero-port, and the kept list round-trips
//! through its wire form.

use std::net::{IpAddr, SocketAddr};

use ai_gateway_core::fuzz::{self, check};
use proptest::prelude::*;

use crate::endpoint::{join, parse_candidates, MAX_CANDIDATES};

/// One entry: an address as an EPP writes it, or junk an attacker might.
fn entry() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<SocketAddr>().prop_map(|a| a.to_string()),
        any::<std::net::Ipv4Addr>().prop_map(|ip| format!("[::ffff:{ip}]:8000")),
        "[ -~]{0,24}",
        Just("localhost:80".to_string()),
        Just("10.0.0.1".to_string()),
        Just("::1:80".to_string()),
        Just("[::1]:0".to_string()),
        Just(" 10.0.0.2:8000 ".to_string()),
    ]
}

fn value() -> impl Strategy<Value = String> {
    let structured = proptest::collection::vec(entry(), 0..24).prop_map(|e| e.join(","));
    let seeds = vec![
        b"10.0.0.1:8000".to_vec(),
        b"10.0.0.1:8000,10.0.0.2:8000,[fd00::3]:8000".to_vec(),
        b"[::ffff:10.0.0.1]:8000, ,10.0.0.1:8000,".to_vec(),
    ];
    let mutated = fuzz::mutated(seeds, 8).prop_map(|b| String::from_utf8_lossy(&b).into_owned());
    prop_oneof![structured, mutated]
}

#[test]
fn fuzz_endpoint_list() {
    fuzz::run("epp_endpoint_list", value(), |text| {
        let list = parse_candidates(&text);
        let looked_at = list.endpoints.len() + list.malformed.len();
        check(looked_at <= MAX_CANDIDATES, || {
            format!("{looked_at} entries")
        })?;
        for (i, endpoint) in list.endpoints.iter().enumerate() {
            check(endpoint.port() != 0, || format!("port 0: {endpoint}"))?;
            let mapped = matches!(endpoint.ip(), IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
            check(!mapped, || format!("not canonical: {endpoint}"))?;
            check(!list.endpoints[..i].contains(endpoint), || {
                format!("duplicate {endpoint}")
            })?;
        }
        let again = parse_candidates(&join(&list.endpoints));
        check(
            again.endpoints == list.endpoints && again.malformed.is_empty(),
            || format!("{:?} read back as {again:?}", list.endpoints),
        )
    });
}
