//! Connections per client address (`limits.max_connections_per_ip`).
//!
//! A listener counts its open connections per client address in one small map; an address over
//! the cap has its new connection closed before any TLS or HTTP work. An address's entry goes
//! away when its last connection closes, so the map never holds more entries than the listener
//! has open connections (at most `max_connections`). IPv4-mapped IPv6 addresses count as IPv4,
//! and IPv6 addresses count per /64 (one host usually owns a whole /64, and could otherwise open
//! the cap's worth of connections from each of its addresses).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};

/// Below this many slots the map is never shrunk (shrinking small maps buys nothing).
const SHRINK_ABOVE: usize = 1024;

/// Open connections per client address of one listener.
#[derive(Debug)]
pub(crate) struct PerIp {
    max: usize,
    /// Never held across an `.await`: only for a lookup and an add.
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// One counted connection; the count goes down (and the entry away at zero) when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    table: Arc<PerIp>,
    key: IpAddr,
}

impl PerIp {
    /// A table allowing `max` connections per address; `None` when `max` is 0 (unlimited).
    pub(crate) fn new(max: usize) -> Option<Arc<PerIp>> {
        (max > 0).then(|| {
            Arc::new(PerIp {
                max,
                counts: Mutex::new(HashMap::new()),
            })
        })
    }

    /// Counts a new connection from `ip`, or `None` when the address already has `max` open.
    pub(crate) fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let key = key(ip);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(key).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Slot {
            table: self.clone(),
            key,
        })
    }

    /// Addresses with at least one open connection.
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn release(&self, key: IpAddr) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&key);
                // After a burst from many addresses, give the memory back.
                let (len, capacity) = (counts.len(), counts.capacity());
                if capacity > SHRINK_ABOVE && len < capacity / 4 {
                    counts.shrink_to(len * 2);
                }
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.table.release(self.key);
    }
}

/// The address a connection counts under: IPv4 as is (also when IPv4-mapped), IPv6 as its /64.
fn key(ip: IpAddr) -> IpAddr {
    match crate::forwarding::canonical(ip) {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests;
