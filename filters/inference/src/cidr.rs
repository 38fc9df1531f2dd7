//! Address ranges of an inference pool (`10.0.0.0/8`, `fd00::/64`, or a bare address).

use std::net::IpAddr;

/// One address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a range did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// Neither `ip/prefix` nor a bare IP.
    #[error("`{0}` is not an address range (ip/prefix or ip)")]
    Malformed(String),
    /// The prefix is longer than the address (33+ for IPv4, 129+ for IPv6).
    #[error("`{0}`: prefix longer than the address")]
    PrefixTooLong(String),
    /// Bits set after the prefix (`10.0.0.1/8`): almost always a typo for a narrower range.
    #[error("`{0}`: host bits set after the prefix")]
    HostBitsSet(String),
}

impl Cidr {
    /// Parses `ip/prefix` or a bare IP (a single-address range).
    pub fn parse(text: &str) -> Result<Cidr, CidrError> {
        let malformed = || CidrError::Malformed(text.to_string());
        let (ip_text, prefix_text) = match text.split_once('/') {
            Some((ip, prefix)) => (ip, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = ip_text.parse().map_err(|_| malformed())?;
        let width = bits(network);
        let prefix = match prefix_text {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| malformed())?
            }
            Some(_) => return Err(malformed()),
            None => width,
        };
        if prefix > width {
            return Err(CidrError::PrefixTooLong(text.to_string()));
        }
        let cidr = Cidr { network, prefix };
        if as_u128(network) & !cidr.mask() != 0 {
            return Err(CidrError::HostBitsSet(text.to_string()));
        }
        Ok(cidr)
    }

    /// Whether `ip` lies in the range (same family only: IPv4-mapped IPv6 is converted to IPv4
    /// before it gets here, see [`crate::endpoint::canonical`]).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let same_family = matches!(
            (self.network, ip),
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
        );
        same_family && as_u128(ip) & self.mask() == as_u128(self.network)
    }

    /// The prefix bits as a mask over the address's width (held in the low bits of a u128).
    fn mask(&self) -> u128 {
        let width = u32::from(bits(self.network));
        let all = if width == 128 {
            u128::MAX
        } else {
            (1u128 << width) - 1
        };
        let host_bits = width - u32::from(self.prefix);
        if host_bits >= 128 {
            0
        } else {
            all & !((1u128 << host_bits) - 1)
        }
    }
}

fn bits(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn as_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_contain_exactly_their_addresses() {
        let cases: &[(&str, &str, bool)] = &[
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("127.0.0.2/32", "127.0.0.2", true),
            ("127.0.0.2/32", "127.0.0.3", false),
            ("127.0.0.2", "127.0.0.2", true),
            ("0.0.0.0/0", "192.0.2.1", true),
            ("0.0.0.0/0", "::1", false),
            ("192.168.4.0/23", "192.168.5.9", true),
            ("192.168.4.0/23", "192.168.6.1", false),
            ("::1/128", "::1", true),
            ("::1", "::2", false),
            ("fd00::/64", "fd00::abcd", true),
            ("fd00::/64", "fd00:0:0:1::1", false),
            ("::/0", "2001:db8::1", true),
            ("::/0", "10.0.0.1", false),
        ];
        for (range, addr, want) in cases {
            let cidr = Cidr::parse(range).unwrap();
            assert_eq!(cidr.contains(ip(addr)), *want, "{range} ∋ {addr}");
        }
    }

    #[test]
    fn bad_ranges_are_refused() {
        type IsExpected = fn(&CidrError) -> bool;
        let cases: &[(&str, IsExpected)] = &[
            ("10.0.0.0/33", |e| matches!(e, CidrError::PrefixTooLong(_))),
            ("::/129", |e| matches!(e, CidrError::PrefixTooLong(_))),
            ("10.0.0.1/8", |e| matches!(e, CidrError::HostBitsSet(_))),
            ("10.0.0.0/", |e| matches!(e, CidrError::Malformed(_))),
            ("10.0.0.0/+8", |e| matches!(e, CidrError::Malformed(_))),
            ("10.0.0/8", |e| matches!(e, CidrError::Malformed(_))),
            ("pods", |e| matches!(e, CidrError::Malformed(_))),
            ("", |e| matches!(e, CidrError::Malformed(_))),
        ];
        for (text, check) in cases {
            let err = Cidr::parse(text).unwrap_err();
            assert!(check(&err), "{text}: {err:?}");
        }
    }
}
