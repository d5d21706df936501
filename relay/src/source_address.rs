//! Limits by the address a connection comes from: how many connections one
//! source may hold open at once. (New accounts per source are limited in
//! [`crate::server`], with the same [`source_key`].)
//!
//! Nothing here is logged or stored: the counts live in memory only, and an
//! entry goes away with the source's last connection.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

/// The key a source is counted under: an IPv4 address (also when it comes
/// IPv4-mapped over IPv6), or the /64 prefix of an IPv6 address, since one
/// IPv6 host is usually given a whole /64 and could otherwise count as
/// 2^64 sources.
pub fn source_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !(u128::from(u64::MAX));
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// Open connections per source, capped.
pub struct ConnectionSlots {
    open: Mutex<HashMap<IpAddr, usize>>,
    cap: usize,
}

/// One connection's place among its source's; given back on drop.
pub struct ConnectionSlot {
    slots: Arc<ConnectionSlots>,
    source: IpAddr,
}

impl ConnectionSlots {
    /// At most `cap` connections per source.
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            open: Mutex::new(HashMap::new()),
            cap,
        })
    }

    /// A slot for a connection from `address`, or `None` when its source
    /// already holds `cap` connections.
    pub fn take(self: &Arc<Self>, address: IpAddr) -> Option<ConnectionSlot> {
        let source = source_key(address);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(source).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot {
            slots: self.clone(),
            source,
        })
    }
}

impl ConnectionSlot {
    /// The source this connection is counted under.
    pub fn source(&self) -> IpAddr {
        self.source
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.source) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_hosts_count_by_their_64_prefix_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("address");
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().expect("address");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("address");
        assert_eq!(source_key(a), source_key(b));
        assert_ne!(source_key(a), source_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("address");
        let v4: IpAddr = "192.0.2.7".parse().expect("address");
        assert_eq!(source_key(mapped), v4);
    }

    #[test]
    fn slots_are_capped_per_source_and_given_back() {
        let slots = ConnectionSlots::new(2);
        let here: IpAddr = "192.0.2.1".parse().expect("address");
        let there: IpAddr = "192.0.2.2".parse().expect("address");
        let first = slots.take(here).expect("first");
        let _second = slots.take(here).expect("second");
        assert!(slots.take(here).is_none());
        assert!(
            slots.take(there).is_some(),
            "other sources are not affected"
        );
        drop(first);
        assert!(slots.take(here).is_some());
    }
}
