//! What the flow table remembers of finalized four-tuples: a [`Tombstone`]
//! each, for [`TOMBSTONE_TTL_NS`] after the connection closed.
//!
//! A busy capture finalizes every connection it sees into here (49,000 in
//! big.pcap's 29 s), so this is the flow table's only state that grows with
//! the connection rate rather than with the connections open now. It is
//! kept in generations: hash tables of a fixed capacity
//! ([`GENERATION_CAPACITY`]), filled in burial order and dropped whole once
//! all of theirs are past the TTL. Against one growing table and a queue
//! for expiry, that costs 29 bytes an entry instead of about 50, needs no
//! queue, and never holds a table twice its size while it grows (mimalloc
//! kept those doubled tables' pages: 2.7 MiB of big.pcap's peak RSS went to
//! 1.6 MB of tombstones). A lookup tries each generation, newest first: a
//! few dozen probes at most, for the first segment of each connection.

use std::collections::VecDeque;

use rustc_hash::FxHashMap as HashMap;
use std::net::SocketAddr;

use super::conn::Connection;
use super::flow::FlowKey;
use crate::time::Timestamp;

/// How long a finalized four-tuple is remembered after its connection
/// closed (or was last seen), so that reuse inside TIME_WAIT is recognized
/// and a peer that keeps resending its FIN (Linux retries for minutes) is
/// not taken for a new connection. A tombstone older than this is never
/// used, even while its generation is still kept.
pub const TOMBSTONE_TTL_NS: i64 = 600_000_000_000;

/// At most about this many finalized four-tuples are remembered; past it
/// the oldest generation is forgotten. Each costs 29 bytes (key 8,
/// tombstone 20, control byte) at a generation's full load of 7/8: 200,000
/// of them hold about 6.6 MB.
pub const MAX_TOMBSTONES: usize = 200_000;

/// Tombstones per generation: hashbrown gives 4,096 buckets for this many
/// (its load limit is 7/8), about 119 KB.
pub const GENERATION_CAPACITY: usize = 3_584;

/// A tombstone's key: a 64-bit SipHash of the four-tuple, as two halves so
/// that an entry aligns to 4 bytes (28, not 32). A capture keeps every
/// four-tuple of the last minutes here, so the 64-byte four-tuple would be
/// most of their memory. Two four-tuples share a key with probability about
/// n²/2⁶⁵ (10⁻⁹ for 200,000 tombstones); if they did, a new connection's
/// first segment would be counted as a straggler of the other one.
pub type TombKey = [u32; 2];

pub fn tomb_key(key: &FlowKey) -> TombKey {
    use std::hash::{Hash, Hasher};
    // Fixed keys: the same capture gives the same result every run.
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    let k = h.finish();
    [k as u32, (k >> 32) as u32]
}

/// What is remembered of a finalized four-tuple (20 bytes). The addresses
/// are the key's.
#[derive(Clone, Copy, Debug)]
pub struct Tombstone {
    /// When the old connection closed (or was last seen, if never closed),
    /// nanoseconds as two halves (low, high) to keep the alignment at 4.
    closed: [u32; 2],
    /// Initial (or implied) ISN of each endpoint, in the key's order (`lo`,
    /// `hi`), valid where `flags` says so: a SYN repeating its side's ISN
    /// belongs to the old connection (Wireshark keeps it there).
    isns: [u32; 2],
    /// [`ISN_KNOWN`] (shifted by the endpoint's index) and [`WAS_CLOSED`].
    flags: u8,
}

const ISN_KNOWN: u8 = 1;
const WAS_CLOSED: u8 = 1 << 2;

impl Tombstone {
    pub fn of(key: &FlowKey, c: &Connection) -> Tombstone {
        let mut isns = [0; 2];
        let mut flags = 0;
        for (i, addr) in [key.lo(), key.hi()].into_iter().enumerate() {
            let d = c.dir(c.side_of(addr));
            if let Some(isn) = d.isn.or(d.implied_isn) {
                isns[i] = isn;
                flags |= ISN_KNOWN << i;
            }
        }
        if c.is_closed() {
            flags |= WAS_CLOSED;
        }
        let closed = c.close_ts.unwrap_or(c.last).0 as u64;
        Tombstone {
            closed: [closed as u32, (closed >> 32) as u32],
            isns,
            flags,
        }
    }

    /// Marks the connection as closed (finalized because it was over).
    pub fn set_closed(&mut self) {
        self.flags |= WAS_CLOSED;
    }

    pub fn closed(&self) -> Timestamp {
        Timestamp((u64::from(self.closed[0]) | u64::from(self.closed[1]) << 32) as i64)
    }

    /// The ISN the endpoint `src` of `key` used on the old connection.
    pub fn isn_of(&self, key: &FlowKey, src: SocketAddr) -> Option<u32> {
        let i = usize::from(src != key.lo());
        (self.flags & (ISN_KNOWN << i) != 0).then_some(self.isns[i])
    }

    pub fn was_closed(&self) -> bool {
        self.flags & WAS_CLOSED != 0
    }

    fn alive_at(&self, now: Timestamp) -> bool {
        now.since(self.closed()) <= TOMBSTONE_TTL_NS
    }
}

/// One generation: up to [`GENERATION_CAPACITY`] tombstones, and the latest
/// close among them (the generation goes a TTL after it).
struct Generation {
    map: HashMap<TombKey, Tombstone>,
    latest: Timestamp,
}

/// The tombstones of the last [`TOMBSTONE_TTL_NS`], in generations (oldest
/// first).
#[derive(Default)]
pub struct Tombstones {
    generations: VecDeque<Generation>,
    len: usize,
}

impl Tombstones {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The tombstone of `key`, if it is not past the TTL at `now`.
    pub fn get(&self, key: TombKey, now: Timestamp) -> Option<&Tombstone> {
        self.generations
            .iter()
            .rev()
            .find_map(|g| g.map.get(&key))
            .filter(|t| t.alive_at(now))
    }

    /// Removes the tombstone of `key`; returns it if it is not past the TTL
    /// at `now`.
    pub fn take(&mut self, key: TombKey, now: Timestamp) -> Option<Tombstone> {
        self.remove(key).filter(|t| t.alive_at(now))
    }

    fn remove(&mut self, key: TombKey) -> Option<Tombstone> {
        let t = self
            .generations
            .iter_mut()
            .rev()
            .find_map(|g| g.map.remove(&key))?;
        self.len -= 1;
        Some(t)
    }

    /// Remembers `t` for `key` (replacing an earlier tombstone of it).
    /// The flow table takes a four-tuple's tombstone (past its TTL or
    /// not) when it opens a connection there, so `key` has none now.
    pub fn bury(&mut self, key: TombKey, t: Tombstone) {
        let full = self
            .generations
            .back()
            .is_none_or(|g| g.map.len() >= GENERATION_CAPACITY);
        if full {
            let mut map = HashMap::default();
            map.reserve(GENERATION_CAPACITY);
            self.generations.push_back(Generation {
                map,
                latest: t.closed(),
            });
        }
        if let Some(g) = self.generations.back_mut() {
            g.latest = g.latest.max(t.closed());
            g.map.insert(key, t);
            self.len += 1;
        }
    }

    /// Forgets the generations whose tombstones are all past the TTL at
    /// `now`, and the oldest ones past [`MAX_TOMBSTONES`]. Those behind a
    /// generation still kept wait for it (they are not used meanwhile).
    pub fn expire(&mut self, now: Timestamp) {
        while let Some(g) = self.generations.front() {
            let over = self.len > MAX_TOMBSTONES;
            if !over && now.since(g.latest) <= TOMBSTONE_TTL_NS {
                break;
            }
            self.len -= g.map.len();
            self.generations.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tomb(closed: i64) -> Tombstone {
        let c = closed as u64;
        Tombstone {
            closed: [c as u32, (c >> 32) as u32],
            isns: [0; 2],
            flags: WAS_CLOSED,
        }
    }

    #[test]
    fn entries_are_small() {
        assert_eq!(std::mem::size_of::<(TombKey, Tombstone)>(), 28);
    }

    #[test]
    fn closed_times_survive_the_split() {
        for ns in [0, 1, -1, 1_795_678_570_217_775_000, i64::MAX, i64::MIN] {
            assert_eq!(tomb(ns).closed(), Timestamp(ns));
        }
    }

    #[test]
    fn a_tombstone_past_the_ttl_is_not_used_while_its_generation_stays() {
        let mut t = Tombstones::default();
        t.bury([1, 0], tomb(0));
        t.bury([2, 0], tomb(TOMBSTONE_TTL_NS));
        let after = Timestamp(TOMBSTONE_TTL_NS + 1);
        t.expire(after);
        assert_eq!(t.len(), 2);
        assert!(t.get([1, 0], after).is_none());
        assert!(t.get([2, 0], after).is_some());
        assert!(t.take([1, 0], after).is_none());
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn generations_fill_up_and_go_whole() {
        let mut t = Tombstones::default();
        let n = GENERATION_CAPACITY as u32 * 2 + 1;
        for i in 0..n {
            t.bury([i, 7], tomb(i64::from(i)));
        }
        assert_eq!((t.len(), t.generations.len()), (n as usize, 3));
        // The first generation's latest close is capacity - 1.
        let cap = GENERATION_CAPACITY as i64;
        t.expire(Timestamp(cap - 1 + TOMBSTONE_TTL_NS));
        assert_eq!(t.generations.len(), 3);
        t.expire(Timestamp(cap + TOMBSTONE_TTL_NS));
        assert_eq!(
            (t.len(), t.generations.len()),
            (n as usize - cap as usize, 2)
        );
        let now = Timestamp(cap);
        assert!(t.get([0, 7], now).is_none());
        assert!(t.get([cap as u32, 7], now).is_some());
    }

    #[test]
    fn the_newest_burial_of_a_key_is_the_one_found() {
        let mut t = Tombstones::default();
        for i in 0..GENERATION_CAPACITY as u32 {
            t.bury([i, 0], tomb(0));
        }
        // Key 5 again, now in the second generation: the old one is gone.
        t.take([5, 0], Timestamp(1));
        t.bury([5, 0], tomb(9));
        assert_eq!(t.len(), GENERATION_CAPACITY);
        assert_eq!(
            t.get([5, 0], Timestamp(10)).map(Tombstone::closed),
            Some(Timestamp(9))
        );
    }

    #[test]
    fn the_cap_forgets_the_oldest_generation() {
        let mut t = Tombstones::default();
        let n = MAX_TOMBSTONES + 1;
        for i in 0..n as u32 {
            t.bury([i, 1], tomb(0));
        }
        t.expire(Timestamp(0));
        assert_eq!(t.len(), n - GENERATION_CAPACITY);
        assert!(t.get([0, 1], Timestamp(0)).is_none());
        assert!(t.get([n as u32 - 1, 1], Timestamp(0)).is_some());
    }
}
