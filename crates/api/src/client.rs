//! Who is calling, by network address: the peer, or, when the peer is a proxy the
//! operator trusts, the address that proxy says it forwarded for (`X-Forwarded-For`,
//! read from the right: the nearest address no trusted proxy owns). Every adapter
//! that throttles sign-in attempts per client reads the address the same way.

use std::net::IpAddr;

/// Addresses (`10.0.0.7`) and networks (`10.0.0.0/8`, `fd00::/8`) of the proxies in
/// front of the server.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

/// Why a proxy entry is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyError(pub String);

impl std::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "'{}' is not an IP address or a network (10.0.0.0/8, fd00::/8)",
            self.0
        )
    }
}

impl std::error::Error for ProxyError {}

fn mask(ip: IpAddr, bits: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let keep = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & keep).into())
        }
        IpAddr::V6(v6) => {
            let keep = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & keep).into())
        }
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:a.b.c.d`) as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl TrustedProxies {
    /// # Errors
    /// An entry that is neither an address nor `address/prefix`.
    pub fn parse(entries: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Self, ProxyError> {
        let mut nets = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry.is_empty() {
                continue;
            }
            let bad = || ProxyError(entry.to_owned());
            let (addr, bits) = match entry.split_once('/') {
                Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| bad())?)),
                None => (entry, None),
            };
            let ip = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = bits.unwrap_or(max);
            if bits > max {
                return Err(bad());
            }
            nets.push((mask(ip, bits), bits));
        }
        Ok(Self(nets))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|(net, bits)| net.is_ipv4() == ip.is_ipv4() && mask(ip, *bits) == *net)
    }

    /// The client's address for a request from `peer` carrying `forwarded_for` (the
    /// `X-Forwarded-For` values, in order).
    pub fn client(&self, peer: Option<IpAddr>, forwarded_for: &[&str]) -> Option<IpAddr> {
        let peer = peer.map(canonical)?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let mut nearest = peer;
        for hop in forwarded_for.iter().rev().flat_map(|v| v.rsplit(',')) {
            let Ok(ip) = hop.trim().parse::<IpAddr>().map(canonical) else {
                // A hop we cannot read: the nearest address we could is the client.
                return Some(nearest);
            };
            nearest = ip;
            if !self.trusts(ip) {
                return Some(ip);
            }
        }
        Some(nearest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_nearest_address_no_trusted_proxy_owns() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(Some(ip("203.0.113.9")), &["198.51.100.1"]),
            Some(ip("203.0.113.9"))
        );
        let lb = TrustedProxies::parse(["10.0.0.0/8", "fd00::/8", "192.0.2.1"]).unwrap();
        // Forwarded by a trusted proxy: the rightmost untrusted hop, not a spoofed left one.
        assert_eq!(
            lb.client(Some(ip("10.1.2.3")), &["6.6.6.6, 203.0.113.9, 10.0.0.5"]),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            lb.client(Some(ip("10.1.2.3")), &["6.6.6.6", "203.0.113.9"]),
            Some(ip("203.0.113.9"))
        );
        // From an untrusted peer the header is ignored.
        assert_eq!(
            lb.client(Some(ip("203.0.113.9")), &["1.2.3.4"]),
            Some(ip("203.0.113.9"))
        );
        // A trusted peer that names nobody is the client itself.
        assert_eq!(lb.client(Some(ip("192.0.2.1")), &[]), Some(ip("192.0.2.1")));
        assert_eq!(
            lb.client(Some(ip("::ffff:10.0.0.1")), &["203.0.113.9"]),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            lb.client(Some(ip("fd12::1")), &["junk"]),
            Some(ip("fd12::1"))
        );
        assert_eq!(lb.client(None, &["203.0.113.9"]), None);
        assert!(TrustedProxies::parse(["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(["example.com"]).is_err());
    }
}
