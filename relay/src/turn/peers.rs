//! Which peers a relayed port may talk to. A TURN server relays from its
//! own host, so an open one is a way into everything that host can reach:
//! its private networks, its loopback services, the relay itself. The
//! embedded server refuses all of those by default (as coturn does with
//! `denied-peer-ip` and `no-loopback-peers`); a call's peer is a phone on
//! the internet, or another allocation on this same server.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;

/// The peer policy of the embedded TURN server.
#[derive(Clone, Debug)]
pub struct PeerPolicy {
    /// Loopback peers allowed (tests and single-machine setups only).
    pub allow_loopback: bool,
    /// The relay host's own addresses: refused as peers except on the
    /// relayed ports, so that two allocations on this server can talk.
    pub own_ips: Vec<IpAddr>,
    /// The relayed port range.
    pub relay_ports: RangeInclusive<u16>,
    /// The TURN server's own port, refused even inside that range.
    pub listen_port: u16,
}

impl PeerPolicy {
    /// Whether a relayed port may exchange datagrams with `peer`.
    pub fn allows(&self, peer: SocketAddr) -> bool {
        let ip = canonical(peer.ip());
        if ip.is_loopback() {
            if !self.allow_loopback {
                return false;
            }
        } else if !is_global_enough(ip) {
            return false;
        }
        let own = self.own_ips.iter().any(|own| canonical(*own) == ip);
        !own || (self.relay_ports.contains(&peer.port()) && peer.port() != self.listen_port)
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`, or behind the
/// well-known NAT64 prefix `64:ff9b::/96`) is judged as the IPv4 address a
/// datagram to it would reach.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped().or_else(|| nat64_embedded(v6)) {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

fn nat64_embedded(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let [a, b, 0, 0, 0, 0, hi, lo] = v6.segments() else {
        return None;
    };
    ((a, b) == (0x64, 0xff9b)).then(|| {
        let [h1, h2] = hi.to_be_bytes();
        let [l1, l2] = lo.to_be_bytes();
        Ipv4Addr::new(h1, h2, l1, l2)
    })
}

/// Not loopback, and reachable on the public internet as far as this
/// check goes: no private, shared (carrier-grade NAT), link-local,
/// unspecified, multicast, broadcast or reserved range.
fn is_global_enough(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || is_this_network(v4)
                || is_shared(v4)
                || is_reserved(v4))
        }
        IpAddr::V6(v6) => {
            !(v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || is_site_local(v6)
                || is_ipv4_compatible(v6)
                || is_nat64_local_use(v6))
        }
    }
}

/// 0.0.0.0/8: "this network", the unspecified address among them.
fn is_this_network(v4: Ipv4Addr) -> bool {
    v4.octets()[0] == 0
}

/// 100.64.0.0/10: shared address space for carrier-grade NAT (RFC 6598).
fn is_shared(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    a == 100 && (b & 0xc0) == 64
}

/// 240.0.0.0/4: reserved (the broadcast address is its last).
fn is_reserved(v4: Ipv4Addr) -> bool {
    v4.octets()[0] >= 240
}

/// fec0::/10: the deprecated site-local range, still private where used.
fn is_site_local(v6: Ipv6Addr) -> bool {
    (v6.segments()[0] & 0xffc0) == 0xfec0
}

/// ::/96 (but `::` and `::1`, judged on their own): the deprecated
/// IPv4-compatible form, which some stacks still route as IPv4.
fn is_ipv4_compatible(v6: Ipv6Addr) -> bool {
    v6.segments()[..6].iter().all(|s| *s == 0)
}

/// 64:ff9b:1::/48: NAT64 prefixes for local use (RFC 8215).
fn is_nat64_local_use(v6: Ipv6Addr) -> bool {
    let [a, b, c, ..] = v6.segments();
    (a, b, c) == (0x64, 0xff9b, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow_loopback: bool) -> PeerPolicy {
        PeerPolicy {
            allow_loopback,
            own_ips: vec!["198.51.100.7".parse().expect("ip")],
            relay_ports: 49152..=65535,
            listen_port: 50000,
        }
    }

    fn at(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().expect("ip"), 5000)
    }

    #[test]
    fn public_peers_are_allowed() {
        for ip in [
            "203.0.113.7",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2001:db8::1",
            "2a00:1450::1",
            "::ffff:203.0.113.7",
            "64:ff9b::203.0.113.7",
        ] {
            assert!(policy(false).allows(at(ip)), "{ip}");
        }
    }

    #[test]
    fn private_local_and_special_peers_are_refused() {
        for ip in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.254",
            "169.254.169.254",
            "127.0.0.1",
            "127.3.2.1",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::10.0.0.1",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::ffff:192.168.1.1",
            "::ffff:100.64.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.1.1",
            "::ffff:0.0.0.0",
            "::ffff:255.255.255.255",
            "64:ff9b::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b:1::1",
        ] {
            assert!(!policy(false).allows(at(ip)), "{ip}");
        }
    }

    #[test]
    fn loopback_only_when_allowed() {
        for ip in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(!policy(false).allows(at(ip)), "{ip}");
            assert!(policy(true).allows(at(ip)), "{ip}");
        }
        // Allowing loopback allows nothing else.
        assert!(!policy(true).allows(at("10.0.0.1")));
    }

    #[test]
    fn the_relays_own_addresses_only_on_relayed_ports() {
        let own = |port| SocketAddr::new("198.51.100.7".parse().expect("ip"), port);
        assert!(!policy(false).allows(own(3478)));
        assert!(!policy(false).allows(own(7443)));
        assert!(!policy(false).allows(own(22)));
        assert!(policy(false).allows(own(49152)));
        assert!(policy(false).allows(own(65535)));
        // The TURN port itself, even inside the relayed range.
        assert!(!policy(false).allows(own(50000)));
        let mapped = SocketAddr::new("::ffff:198.51.100.7".parse().expect("ip"), 3478);
        assert!(!policy(false).allows(mapped));
        // On loopback too, where tests run.
        let local = PeerPolicy {
            own_ips: vec!["127.0.0.1".parse().expect("ip")],
            ..policy(true)
        };
        assert!(!local.allows(at("127.0.0.1")));
        assert!(local.allows(SocketAddr::new("127.0.0.1".parse().expect("ip"), 50001)));
    }
}
