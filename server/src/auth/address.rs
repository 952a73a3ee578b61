//! Which address a request comes from, for throttling: the peer, or, when the peer is a
//! configured reverse proxy (`trusted_proxies`), the client it names in `X-Forwarded-For`.
//! Anyone can send that header, so it is read only from trusted peers, right to left, skipping
//! the trusted proxies of a chain. IPv6 clients are counted by /64, the block one host gets.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr};

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

#[derive(Debug, thiserror::Error)]
#[error("{0:?} is neither an IP address nor a CIDR block (such as 10.0.0.0/8)")]
pub struct BadProxy(pub String);

impl TrustedProxies {
    /// Addresses (`10.0.0.7`, `::1`) or blocks (`10.0.0.0/8`, `fd00::/8`).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, BadProxy> {
        entries
            .iter()
            .map(|e| {
                let e = e.as_ref().trim();
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| BadProxy(e.to_string()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each block in its canonical form, for the configuration log.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|n| n.to_string()).collect()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: `peer`, or the right-most untrusted hop of the `X-Forwarded-For`
    /// values when `peer` is trusted. A malformed hop ends the walk there (at the proxy that
    /// handed it over), so junk cannot pick an address of the sender's choosing.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for hop in forwarded_for
            .iter()
            .rev()
            .flat_map(|v| v.rsplit(','))
            .map(str::trim)
        {
            match hop.parse::<IpAddr>().map(canonical) {
                Ok(ip) => {
                    client = ip;
                    if !self.trusts(ip) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The throttle's key for an address: IPv4 as is, IPv6 by its /64.
pub fn throttle_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse(&["10.0.0.1", "192.168.0.0/16"]).unwrap();
        // Untrusted peer: the header is ignored.
        assert_eq!(
            proxies.client(ip("203.0.113.5"), &["1.2.3.4"]),
            ip("203.0.113.5")
        );
        // Trusted peer: the right-most untrusted hop; spoofed hops to its left are ignored.
        assert_eq!(
            proxies.client(ip("10.0.0.1"), &["6.6.6.6, 198.51.100.7"]),
            ip("198.51.100.7")
        );
        assert_eq!(
            proxies.client(ip("10.0.0.1"), &["6.6.6.6", "198.51.100.7, 192.168.3.3"]),
            ip("198.51.100.7")
        );
        // No header, or junk: the proxy itself.
        assert_eq!(proxies.client(ip("10.0.0.1"), &[]), ip("10.0.0.1"));
        assert_eq!(
            proxies.client(ip("10.0.0.1"), &["6.6.6.6, junk"]),
            ip("10.0.0.1")
        );
        assert_eq!(
            proxies.client(ip("::ffff:10.0.0.1"), &["198.51.100.7"]),
            ip("198.51.100.7")
        );
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(&["proxy.lan"]).is_err());
        assert!(TrustedProxies::default().is_empty());
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        assert_eq!(
            throttle_key(ip("2001:db8:1:2:aaaa::1")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            throttle_key(ip("2001:db8:1:2:bbbb::9")),
            throttle_key(ip("2001:db8:1:2:aaaa::1"))
        );
        assert_eq!(throttle_key(ip("127.0.0.7")), "127.0.0.7");
        assert_eq!(throttle_key(ip("::ffff:127.0.0.7")), "127.0.0.7");
    }
}
