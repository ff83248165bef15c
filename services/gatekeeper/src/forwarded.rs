//! Whom to believe about the caller. By default nobody: the gatekeeper is the first hop, so a
//! caller's own `X-Forwarded-*` headers are dropped and the connection's address is the client
//! (the reference trusted every address, spec §5.2 #16). Behind an ingress or load balancer,
//! `forwarding.trusted_proxies` lists its addresses (CIDR); a connection from one of them keeps
//! its `X-Forwarded-For` (this hop's peer appended), `X-Forwarded-Proto` and `X-Forwarded-Host`,
//! and the client is the nearest address in `X-Forwarded-For` that is not a trusted proxy.

use std::net::IpAddr;

use anyhow::{Context, bail};

/// An address block: `10.0.0.0/8`, `fd00::/8`, or one address.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Block {
    net: IpAddr,
    prefix: u8,
}

impl Block {
    fn parse(s: &str) -> anyhow::Result<Self> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim()
            .parse()
            .with_context(|| format!("{s:?} is not an address or CIDR block"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .with_context(|| format!("{s:?}: the prefix length must be 0–{max}"))?,
        };
        Ok(Self { net, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The proxies whose forwarding headers are believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<Block>);

impl TrustedProxies {
    pub fn parse<S: AsRef<str>>(blocks: &[S]) -> anyhow::Result<Self> {
        let mut out = Vec::with_capacity(blocks.len());
        for b in blocks {
            let b = b.as_ref();
            if b.trim().is_empty() {
                bail!("forwarding.trusted_proxies: an empty entry");
            }
            out.push(Block::parse(b).context("forwarding.trusted_proxies")?);
        }
        Ok(Self(out))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|b| b.contains(ip))
    }

    /// The client behind a trusted `peer`: the nearest `X-Forwarded-For` entry (right to left)
    /// that is not itself a trusted proxy; the peer when it is not trusted, and the farthest
    /// valid entry when every one is trusted. An entry that is not an address ends the walk.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        for entry in forwarded_for
            .iter()
            .rev()
            .flat_map(|v| v.rsplit(','))
            .map(str::trim)
        {
            match entry.parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.contains(ip) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_match_by_prefix() {
        let t = TrustedProxies::parse(&["10.0.0.0/8", "192.168.1.7", "fd00::/8"]).unwrap();
        assert!(t.contains(ip("10.255.0.1")));
        assert!(!t.contains(ip("11.0.0.1")));
        assert!(t.contains(ip("192.168.1.7")));
        assert!(!t.contains(ip("192.168.1.8")));
        assert!(t.contains(ip("fd12::1")));
        assert!(!t.contains(ip("fe80::1")));
        // An IPv4 peer on an IPv6 socket.
        assert!(t.contains(ip("::ffff:10.1.2.3")));
        let all = TrustedProxies::parse(&["0.0.0.0/0"]).unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        assert!(!TrustedProxies::default().contains(ip("127.0.0.1")));
    }

    #[test]
    fn bad_blocks_are_refused() {
        for bad in [
            "10.0.0.0/33",
            "fd00::/129",
            "10.0.0/8",
            "",
            "ten",
            "10.0.0.0/x",
        ] {
            assert!(TrustedProxies::parse(&[bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_client_is_the_nearest_untrusted_address() {
        let t = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        // Untrusted peer: its claims do not count.
        assert_eq!(t.client(ip("203.0.113.9"), &["1.2.3.4"]), ip("203.0.113.9"));
        // Trusted peer: walk from the right past trusted hops.
        assert_eq!(
            t.client(ip("10.0.0.2"), &["6.6.6.6, 198.51.100.4", "10.0.0.3"]),
            ip("198.51.100.4")
        );
        // Garbage stops the walk at the last good address.
        assert_eq!(
            t.client(ip("10.0.0.2"), &["junk, 10.0.0.5"]),
            ip("10.0.0.5")
        );
        assert_eq!(t.client(ip("10.0.0.2"), &[]), ip("10.0.0.2"));
    }
}
