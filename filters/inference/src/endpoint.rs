//! The EPP's destination value: `ip:port`, or a comma-separated list in preference order
//! (fallbacks), IPv6 addresses in brackets (`[::1]:8000`).

use std::net::{IpAddr, SocketAddr};

/// Most candidates one value may carry: a longer list is cut (and counted), so a hostile or
/// broken EPP cannot make the filter parse without bound.
pub const MAX_CANDIDATES: usize = 16;

/// Why one entry of the list is not an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CandidateError {
    /// Not `ip:port` / `[ipv6]:port` (a host name, a missing port, an unbracketed IPv6, ...).
    #[error("`{0}` is not ip:port (IPv6 in brackets)")]
    Malformed(String),
    /// Port 0 cannot be connected to.
    #[error("`{0}` has port 0")]
    PortZero(String),
}

/// The entries of one destination value, in order: parsed endpoints and the entries that did
/// not parse. Empty entries (`a,,b`, trailing commas, blanks) are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CandidateList {
    /// Entries that parsed, canonical (IPv4-mapped IPv6 becomes IPv4), first preference first.
    pub endpoints: Vec<SocketAddr>,
    /// Entries that did not parse.
    pub malformed: Vec<CandidateError>,
    /// Whether entries beyond [`MAX_CANDIDATES`] were dropped.
    pub truncated: bool,
}

/// Parses a destination value. Never fails: bad entries are reported, good ones kept, so one
/// typo in a fallback list does not lose the whole pick.
pub fn parse_candidates(value: &str) -> CandidateList {
    let mut list = CandidateList::default();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if list.endpoints.len() + list.malformed.len() == MAX_CANDIDATES {
            list.truncated = true;
            break;
        }
        match parse_one(entry) {
            Ok(addr) if !list.endpoints.contains(&addr) => list.endpoints.push(addr),
            Ok(_) => {}
            Err(err) => list.malformed.push(err),
        }
    }
    list
}

/// One `ip:port` / `[ipv6]:port` entry.
pub fn parse_one(entry: &str) -> Result<SocketAddr, CandidateError> {
    let addr: SocketAddr = entry
        .parse()
        .map_err(|_| CandidateError::Malformed(entry.to_string()))?;
    if addr.port() == 0 {
        return Err(CandidateError::PortZero(entry.to_string()));
    }
    Ok(canonical(addr))
}

/// IPv4-mapped IPv6 (`[::ffff:10.0.0.1]:80`) is the IPv4 endpoint: one spelling per endpoint,
/// so pool checks and comparisons cannot be sidestepped by writing an address differently.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
            None => addr,
        },
        IpAddr::V4(_) => addr,
    }
}

/// The list in wire form: `a:1,[::1]:2`.
pub fn join(endpoints: &[SocketAddr]) -> String {
    let mut out = String::new();
    for (i, endpoint) in endpoints.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&endpoint.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &CandidateList) -> Vec<String> {
        list.endpoints.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn destination_values_parse_into_ordered_candidates() {
        let cases: &[(&str, &[&str], usize)] = &[
            ("10.0.0.1:8000", &["10.0.0.1:8000"], 0),
            (" 10.0.0.1:8000 ", &["10.0.0.1:8000"], 0),
            (
                "10.0.0.1:8000,10.0.0.2:8000",
                &["10.0.0.1:8000", "10.0.0.2:8000"],
                0,
            ),
            (
                "10.0.0.1:8000, 10.0.0.2:8001 ,",
                &["10.0.0.1:8000", "10.0.0.2:8001"],
                0,
            ),
            ("[::1]:8000", &["[::1]:8000"], 0),
            (
                "[fd00::2]:9000,10.0.0.1:1",
                &["[fd00::2]:9000", "10.0.0.1:1"],
                0,
            ),
            ("[::ffff:10.0.0.7]:80", &["10.0.0.7:80"], 0),
            ("10.0.0.1:8000,10.0.0.1:8000", &["10.0.0.1:8000"], 0),
            (
                "10.0.0.1:8000,10.0.0.1:8001",
                &["10.0.0.1:8000", "10.0.0.1:8001"],
                0,
            ),
            (",,", &[], 0),
            ("", &[], 0),
            ("::1:8000", &[], 1),
            ("[::1]", &[], 1),
            ("10.0.0.1", &[], 1),
            ("pod.ns.svc:8000", &[], 1),
            ("10.0.0.1:0", &[], 1),
            ("10.0.0.1:65536", &[], 1),
            ("10.0.0.1:80 extra", &[], 1),
            ("bad,10.0.0.2:8000", &["10.0.0.2:8000"], 1),
        ];
        for (value, want, malformed) in cases {
            let list = parse_candidates(value);
            assert_eq!(addrs(&list), *want, "value {value:?}");
            assert_eq!(list.malformed.len(), *malformed, "value {value:?}");
            assert!(!list.truncated);
        }
    }

    #[test]
    fn long_lists_are_cut_at_the_bound() {
        let value: Vec<String> = (1..=40).map(|i| format!("10.0.0.{i}:80")).collect();
        let list = parse_candidates(&value.join(","));
        assert_eq!(list.endpoints.len(), MAX_CANDIDATES);
        assert!(list.truncated);
    }

    #[test]
    fn join_round_trips_with_brackets() {
        let list = parse_candidates("[::1]:8000,127.0.0.2:8001");
        assert_eq!(join(&list.endpoints), "[::1]:8000,127.0.0.2:8001");
        assert_eq!(join(&[]), "");
    }
}
