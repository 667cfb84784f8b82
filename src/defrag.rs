//! IP defragmentation (RFC 791 §2.3 for IPv4, RFC 8200 §4.5 for IPv6).
//!
//! Input: fragments as decoded (addresses, identification, offset, the
//! more-fragments flag, payload). Output: the reassembled datagram as a raw
//! IP packet (a fresh header followed by the whole payload), ready for
//! [`crate::decode::decode_link`] with the raw-IP link type; it is credited
//! to the frame of the fragment that completed it, as Wireshark does.
//!
//! Memory: at most [`MAX_PENDING_BYTES`] across all datagrams, each at most
//! 65,535 bytes; a datagram incomplete for [`FRAGMENT_TIMEOUT_NS`] of capture
//! time is dropped. Both are counted and reported.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use crate::time::Timestamp;

/// Fragments of one datagram older than this are given up (Linux
/// `net.ipv4.ipfrag_time` = 30 s).
pub const FRAGMENT_TIMEOUT_NS: i64 = 30_000_000_000;

/// Bytes of fragments kept at once, across datagrams (Linux's
/// `ipfrag_high_thresh` is 4 MiB).
pub const MAX_PENDING_BYTES: usize = 4 * 1024 * 1024;

/// Largest IP payload (the 16-bit length field).
const MAX_DATAGRAM: usize = 65_535;

/// Bookkeeping charged per pending datagram against [`MAX_PENDING_BYTES`],
/// so that empty or tiny fragments cannot pile up without bound.
const DATAGRAM_OVERHEAD: usize = 128;

/// One fragment, as decoded from a frame.
#[derive(Clone, Copy, Debug)]
pub struct Fragment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    /// Protocol of the payload (6 = TCP, 17 = UDP).
    pub protocol: u8,
    /// Byte offset of this fragment's payload in the datagram.
    pub offset: usize,
    pub more: bool,
    pub payload: &'a [u8],
}

type Key = (IpAddr, IpAddr, u32, u8);

struct Pending {
    pieces: Vec<(usize, Vec<u8>)>,
    /// Payload length, known once the last fragment arrived.
    total: Option<usize>,
    first_seen: Timestamp,
    bytes: usize,
}

/// Fragments waiting for the rest of their datagram.
#[derive(Default)]
pub struct Defragmenter {
    pending: HashMap<Key, Pending>,
    /// Datagrams in arrival order of their first fragment, so that expiry
    /// and eviction take the oldest without scanning (stale entries, whose
    /// datagram completed or was replaced, are skipped).
    order: VecDeque<(Timestamp, Key)>,
    bytes: usize,
    /// Datagrams reassembled.
    pub completed: u64,
    /// Datagrams given up (timeout or memory cap).
    pub dropped: u64,
}

impl Defragmenter {
    /// Adds a fragment; returns the reassembled IP packet when it completes a datagram.
    pub fn push(&mut self, f: &Fragment<'_>, ts: Timestamp) -> Option<Vec<u8>> {
        self.expire(ts);
        let end = f.offset.checked_add(f.payload.len())?;
        if end > MAX_DATAGRAM {
            self.dropped += 1;
            return None;
        }
        while self.bytes + f.payload.len() > MAX_PENDING_BYTES && !self.pending.is_empty() {
            self.drop_oldest();
        }
        let key = (f.src, f.dst, f.id, f.protocol);
        if !self.pending.contains_key(&key) {
            self.order.push_back((ts, key));
            self.bytes += DATAGRAM_OVERHEAD;
        }
        let p = self.pending.entry(key).or_insert_with(|| Pending {
            pieces: Vec::new(),
            total: None,
            first_seen: ts,
            bytes: DATAGRAM_OVERHEAD,
        });
        if !f.more {
            p.total = Some(end);
        }
        p.pieces.push((f.offset, f.payload.to_vec()));
        p.bytes += f.payload.len();
        self.bytes += f.payload.len();
        let total = p.total?;
        // Complete when the pieces cover [0, total) without holes.
        p.pieces.sort_by_key(|(o, _)| *o);
        let mut covered = 0usize;
        for (o, d) in &p.pieces {
            if *o > covered {
                return None;
            }
            covered = covered.max(o + d.len());
        }
        if covered < total {
            return None;
        }
        let p = self.pending.remove(&key)?;
        self.bytes -= p.bytes;
        let mut payload = vec![0u8; total];
        // Later copies of overlapping bytes lose (first wins, as in reassembly).
        for (o, d) in p.pieces.iter().rev() {
            let n = d.len().min(total.saturating_sub(*o));
            payload[*o..*o + n].copy_from_slice(&d[..n]);
        }
        self.completed += 1;
        Some(ip_packet(f.src, f.dst, f.protocol, &payload))
    }

    fn expire(&mut self, now: Timestamp) {
        while let Some(&(first, key)) = self.order.front() {
            let live = self
                .pending
                .get(&key)
                .is_some_and(|p| p.first_seen == first);
            if !live {
                // The datagram completed or was given up: a stale entry.
                self.order.pop_front();
                continue;
            }
            if now.since(first) <= FRAGMENT_TIMEOUT_NS {
                break;
            }
            self.drop_oldest();
        }
    }

    /// Gives up the oldest pending datagram (amortized constant time).
    fn drop_oldest(&mut self) {
        while let Some((first, key)) = self.order.pop_front() {
            let live = self
                .pending
                .get(&key)
                .is_some_and(|p| p.first_seen == first);
            if live {
                if let Some(p) = self.pending.remove(&key) {
                    self.bytes -= p.bytes;
                    self.dropped += 1;
                }
                return;
            }
        }
    }

    /// Datagrams still incomplete.
    pub fn incomplete(&self) -> u64 {
        self.pending.len() as u64
    }
}

/// A minimal IP packet carrying `payload` (checksums zero: never verified).
fn ip_packet(src: IpAddr, dst: IpAddr, protocol: u8, payload: &[u8]) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = (20 + payload.len()).min(u16::MAX as usize) as u16;
            let mut v = vec![0x45, 0];
            v.extend(total.to_be_bytes());
            v.extend([0, 0, 0, 0, 64, protocol, 0, 0]);
            v.extend(s.octets());
            v.extend(d.octets());
            v.extend_from_slice(payload);
            v
        }
        _ => {
            let (s, d) = (to_v6(src), to_v6(dst));
            let mut v = vec![0x60, 0, 0, 0];
            v.extend((payload.len().min(u16::MAX as usize) as u16).to_be_bytes());
            v.extend([protocol, 64]);
            v.extend(s.octets());
            v.extend(d.octets());
            v.extend_from_slice(payload);
            v
        }
    }
}

fn to_v6(a: IpAddr) -> std::net::Ipv6Addr {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(offset: usize, more: bool, data: &[u8]) -> Fragment<'_> {
        Fragment {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            id: 7,
            protocol: 6,
            offset,
            more,
            payload: data,
        }
    }

    #[test]
    fn reassembles_out_of_order() {
        let mut d = Defragmenter::default();
        assert!(d.push(&frag(8, true, b"89abcdef"), Timestamp(0)).is_none());
        assert!(d.push(&frag(16, false, b"gh"), Timestamp(1)).is_none());
        let pkt = d.push(&frag(0, true, b"01234567"), Timestamp(2)).unwrap();
        assert_eq!(&pkt[20..], b"0123456789abcdefgh");
        assert_eq!(u16::from_be_bytes([pkt[2], pkt[3]]), 38);
        assert_eq!(d.completed, 1);
        assert_eq!(d.incomplete(), 0);
    }

    #[test]
    fn never_completing_fragments_are_bounded() {
        let mut d = Defragmenter::default();
        let chunk = vec![0u8; 1000];
        for i in 0..20_000u32 {
            let mut f = frag(0, true, &chunk);
            f.id = i;
            assert!(d.push(&f, Timestamp(i as i64)).is_none());
            assert!(d.bytes <= MAX_PENDING_BYTES);
        }
        assert!(d.dropped > 0);
        // Timeout frees the rest.
        d.expire(Timestamp(FRAGMENT_TIMEOUT_NS * 2));
        assert_eq!(d.incomplete(), 0);
    }

    #[test]
    fn oversized_datagram_is_dropped() {
        let mut d = Defragmenter::default();
        assert!(d
            .push(&frag(65_530, false, b"0123456789"), Timestamp(0))
            .is_none());
        assert_eq!(d.dropped, 1);
    }
}
