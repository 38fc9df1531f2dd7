//! An inference pool: the address ranges and target ports its model servers use, and the
//! endpoints the filter's own picker may choose. Nothing outside the pool is ever routed to.

use std::net::SocketAddr;

use crate::cidr::Cidr;
use crate::endpoint::{parse_candidates, CandidateList};

/// A validated pool (see the config's `pool`).
#[derive(Debug, Clone)]
pub struct Pool {
    /// Metric tag value and the shared-state key prefix.
    pub name: String,
    /// Address ranges of the pool's pods.
    pub cidrs: Vec<Cidr>,
    /// Ports the model servers listen on.
    pub target_ports: Vec<u16>,
    /// Known members: the FailOpen picker's choices, and the only `endpoint` tag values.
    pub endpoints: Vec<SocketAddr>,
}

/// Why a candidate is not routed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The address lies outside every configured range.
    OutsideCidrs,
    /// The port is not one of the pool's target ports.
    NotATargetPort,
}

/// The EPP's answer checked against the pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    /// Candidates in the pool, in the EPP's order of preference.
    pub valid: Vec<SocketAddr>,
    /// Candidates refused, with the reason.
    pub refused: Vec<(SocketAddr, Refusal)>,
    /// Entries that were not endpoints at all, plus entries cut by the list bound.
    pub malformed: usize,
}

impl Pool {
    /// Why `addr` may not be routed to, if it may not.
    pub fn refusal(&self, addr: SocketAddr) -> Option<Refusal> {
        if !self.cidrs.iter().any(|cidr| cidr.contains(addr.ip())) {
            return Some(Refusal::OutsideCidrs);
        }
        if !self.target_ports.contains(&addr.port()) {
            return Some(Refusal::NotATargetPort);
        }
        None
    }

    /// Parses a destination value and keeps the candidates inside the pool.
    pub fn check(&self, value: &str) -> Checked {
        let CandidateList {
            endpoints,
            malformed,
            truncated,
        } = parse_candidates(value);
        let mut checked = Checked {
            malformed: malformed.len() + usize::from(truncated),
            ..Checked::default()
        };
        for addr in endpoints {
            match self.refusal(addr) {
                None => checked.valid.push(addr),
                Some(reason) => checked.refused.push((addr, reason)),
            }
        }
        checked
    }

    /// Index of a known member, for bounded metric tags and the picker's load keys.
    pub fn member(&self, addr: SocketAddr) -> Option<usize> {
        self.endpoints.iter().position(|e| *e == addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> Pool {
        Pool {
            name: "p".into(),
            cidrs: vec![
                Cidr::parse("10.0.0.0/24").unwrap(),
                Cidr::parse("fd00::/64").unwrap(),
            ],
            target_ports: vec![8000, 8001],
            endpoints: vec!["10.0.0.1:8000".parse().unwrap()],
        }
    }

    fn strings(addrs: &[SocketAddr]) -> Vec<String> {
        addrs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn candidates_are_kept_only_inside_ranges_and_ports() {
        type Case<'a> = (&'a str, &'a [&'a str], &'a [Refusal], usize);
        let cases: &[Case] = &[
            ("10.0.0.1:8000", &["10.0.0.1:8000"], &[], 0),
            ("10.0.0.1:8001", &["10.0.0.1:8001"], &[], 0),
            ("10.0.1.1:8000", &[], &[Refusal::OutsideCidrs], 0),
            ("10.0.0.1:9000", &[], &[Refusal::NotATargetPort], 0),
            ("[fd00::5]:8000", &["[fd00::5]:8000"], &[], 0),
            ("[fd01::5]:8000", &[], &[Refusal::OutsideCidrs], 0),
            ("[::ffff:10.0.0.9]:8000", &["10.0.0.9:8000"], &[], 0),
            (
                "192.0.2.1:8000,10.0.0.2:8000",
                &["10.0.0.2:8000"],
                &[Refusal::OutsideCidrs],
                0,
            ),
            (
                "x,10.0.0.2:8000,10.0.0.3:8001",
                &["10.0.0.2:8000", "10.0.0.3:8001"],
                &[],
                1,
            ),
            ("", &[], &[], 0),
        ];
        for (value, valid, refused, malformed) in cases {
            let checked = pool().check(value);
            assert_eq!(strings(&checked.valid), *valid, "{value}");
            let reasons: Vec<Refusal> = checked.refused.iter().map(|(_, r)| *r).collect();
            assert_eq!(reasons, *refused, "{value}");
            assert_eq!(checked.malformed, *malformed, "{value}");
        }
    }

    #[test]
    fn members_are_found_by_address() {
        let pool = pool();
        assert_eq!(pool.member("10.0.0.1:8000".parse().unwrap()), Some(0));
        assert_eq!(pool.member("10.0.0.1:8001".parse().unwrap()), None);
    }
}
