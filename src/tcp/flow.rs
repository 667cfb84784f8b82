//! The flow table: four-tuple → live [`Connection`], numbering, port reuse,
//! and eviction by capture time.
//!
//! Numbering: connections get ids 0, 1, 2 … in the order of their first
//! packet, which equals Wireshark's `tcp.stream` for the same capture.
//!
//! Port reuse (Wireshark's rule, also Zeek's `IsReuse`): a pure SYN whose
//! sequence number differs from the ISN that side used before on the same
//! four-tuple (or from a side that already sent segments without a SYN)
//! starts a new connection; the same ISN is a SYN retransmission.
//!
//! Memory: a connection is finalized and handed to the caller when it has
//! been closed (FIN both ways or RST) and quiet for [`CLOSED_LINGER_NS`],
//! when its four-tuple is reused, or at the end of the capture. A small
//! tombstone per finalized four-tuple remains for [`TOMBSTONE_TTL_NS`], so
//! that port reuse can report the time since close and stray late segments
//! are not mistaken for new connections; none is kept for a connection
//! evicted for memory that was only ever a SYN (see [`FlowTable::sweep`]).
//! Idle open connections stay live (see [`MAX_LIVE_CONNECTIONS`]).

use rustc_hash::FxHashMap as HashMap;
use std::net::SocketAddr;

use crate::decode::Segment;
use crate::stream::EndReason;
use crate::time::Timestamp;
use crate::transaction::HttpLimits;

use super::conn::Connection;
use super::tombstones::{tomb_key, Tombstone, Tombstones};
pub use super::tombstones::{MAX_TOMBSTONES, TOMBSTONE_TTL_NS};

/// A closed connection is finalized after this much quiet capture time:
/// Linux's TIME_WAIT (60 s), within which the closed peer may still resend
/// its SYN or FIN on the same four-tuple (Wireshark keeps those in the same
/// stream, and so do we).
pub const CLOSED_LINGER_NS: i64 = 60_000_000_000;

/// Open connections are never finalized for being idle (Wireshark never
/// splits a stream for idleness, and ids must match `tcp.stream`), except
/// when more than this many are live: then the stalest tenth is finalized
/// (warning `live_connection_cap`).
///
/// Source: a byte budget. A live half-open connection costs about 1.5 KB:
/// the boxed [`Connection`] (1,240 bytes on 64-bit targets), its one
/// timeline event (72) and its hash-map slot (73, twice that just after
/// the map grew). 50,000 of them hold about 75 MB, well inside half of the
/// 256 MiB budget of `scripts/attack-rss.sh` (checked by
/// `attacks::live_table_at_its_cap_fits_half_the_budget`). Trade-off: a
/// capture with more than 50,000 connections open at once has its stalest
/// ones finalized early; their later segments are counted as late.
pub const MAX_LIVE_CONNECTIONS: usize = 50_000;

/// How often (in capture time) the table looks for connections to finalize.
const SWEEP_INTERVAL_NS: i64 = 1_000_000_000;

/// Canonical four-tuple: the two endpoints in sorted order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    lo: SocketAddr,
    hi: SocketAddr,
}

impl FlowKey {
    pub fn new(a: SocketAddr, b: SocketAddr) -> FlowKey {
        if a <= b {
            FlowKey { lo: a, hi: b }
        } else {
            FlowKey { lo: b, hi: a }
        }
    }

    /// The lower endpoint.
    pub fn lo(&self) -> SocketAddr {
        self.lo
    }

    /// The higher endpoint.
    pub fn hi(&self) -> SocketAddr {
        self.hi
    }
}

/// Live connections, keyed by four-tuple.
#[derive(Default)]
pub struct FlowTable {
    /// Boxed so the table's buckets stay small (a connection is ~2 KB):
    /// probing touches fewer cache lines.
    live: HashMap<FlowKey, Box<Connection>>,
    /// Finalized four-tuples of the last [`TOMBSTONE_TTL_NS`].
    tombstones: Tombstones,
    next_id: u32,
    next_sweep: Timestamp,
    /// Segments that arrived for a four-tuple after its connection was
    /// finalized and were not a new SYN.
    pub late_segments: u64,
    /// Peak number of live connections.
    pub peak_live: usize,
    /// Connections finalized early because too many were live.
    pub evicted_for_memory: u64,
    /// Of those, connections that were only a SYN and left no tombstone.
    pub forgotten_syns: u64,
    /// Limits of each new connection's HTTP parser.
    pub http_limits: HttpLimits,
}

impl FlowTable {
    pub fn new() -> FlowTable {
        FlowTable::default()
    }

    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    /// The live connection of a four-tuple.
    pub fn get_mut(&mut self, a: SocketAddr, b: SocketAddr) -> Option<&mut Connection> {
        self.live.get_mut(&FlowKey::new(a, b)).map(|c| &mut **c)
    }

    /// Four-tuples remembered after their connection was finalized.
    pub fn tombstone_count(&self) -> usize {
        self.tombstones.len()
    }

    /// Number of connections created so far.
    pub fn created(&self) -> u32 {
        self.next_id
    }

    /// Routes one segment to its connection; finalized connections go to `done`.
    pub fn segment(
        &mut self,
        seg: &Segment<'_>,
        ts: Timestamp,
        frame: u64,
        done: &mut dyn FnMut(Connection),
    ) {
        if ts >= self.next_sweep {
            self.sweep(ts, done);
            self.next_sweep = Timestamp(ts.0.saturating_add(SWEEP_INTERVAL_NS));
        }
        if self.live.len() > MAX_LIVE_CONNECTIONS {
            self.sweep(ts, done);
        }
        let key = FlowKey::new(seg.src, seg.dst);
        let pure_syn = seg.flags.syn() && !seg.flags.ack();
        if let Some(conn) = self.live.get_mut(&key) {
            let side = conn.side_of(seg.src);
            let dir = conn.dir(side);
            let reused = pure_syn
                && match dir.isn.or(dir.implied_isn) {
                    Some(isn) => isn != seg.seq,
                    None => false,
                };
            if !reused {
                conn.process(seg, side, ts, frame);
                if conn.is_finished() {
                    self.finish_one(key, done);
                }
                return;
            }
        }
        // What the four-tuple's previous connection left: the new SYN takes
        // it at once, so a live four-tuple never has a tombstone.
        let mut previous = None;
        if let Some(mut old) = self.live.remove(&key) {
            previous = Some(Tombstone::of(&key, &old));
            let (t, f) = (old.last, old.last_frame);
            old.finish_streams(EndReason::EndOfCapture, t, f);
            done(*old);
        } else {
            // One lookup: taken (with one past its TTL), and put back for
            // a straggler.
            let tk = tomb_key(&key);
            if let Some(t) = self.tombstones.take(tk, ts) {
                // A straggler (late ACK, retransmitted FIN, RST, or a SYN
                // that repeats the old ISN) of a connection already finalized.
                if !pure_syn || t.isn_of(&key, seg.src) == Some(seg.seq) {
                    self.late_segments += 1;
                    self.tombstones.bury(tk, t);
                    return;
                }
                previous = Some(t);
            }
        }
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        let mut conn = Connection::new(id, seg, ts, frame, self.http_limits);
        if pure_syn {
            if let Some(t) = previous {
                conn.port_reused = Some(t.was_closed().then(|| ts.since(t.closed())));
                if !t.was_closed() {
                    conn.anomalies.add_n(
                        "active_connection_reuse",
                        1,
                        format!("frame {frame}: new SYN on a four-tuple whose connection had not closed"),
                    );
                }
            }
        }
        let side = conn.side_of(seg.src);
        conn.process(seg, side, ts, frame);
        let finished = conn.is_finished();
        self.live.insert(key, Box::new(conn));
        self.peak_live = self.peak_live.max(self.live.len());
        if finished {
            self.finish_one(key, done);
        }
    }

    /// Finalizes the connection of `key`, which is over: its state is freed
    /// as soon as it ends (by capture time).
    fn finish_one(&mut self, key: FlowKey, done: &mut dyn FnMut(Connection)) {
        if let Some(mut c) = self.live.remove(&key) {
            let (t, f) = (c.last, c.last_frame);
            let reason = if c.dirs.iter().any(|d| d.rst.is_some()) {
                EndReason::Rst
            } else {
                EndReason::Fin
            };
            c.finish_streams(reason, t, f);
            let mut tomb = Tombstone::of(&key, &c);
            tomb.set_closed();
            self.bury(key, tomb);
            done(*c);
        }
    }

    /// Finalizes connections that are closed and quiet, or idle.
    ///
    /// A connection evicted for memory that was only ever a SYN (nothing
    /// answered, nothing else sent) leaves no tombstone: a SYN flood would
    /// otherwise fill [`MAX_TOMBSTONES`] with four-tuples nobody reuses. What
    /// that gives up, for those four-tuples only: a retransmission of the
    /// same SYN (or a late SYN/ACK or RST) starts a new connection instead of
    /// being counted as late, so from there on ids can differ from
    /// Wireshark's `tcp.stream` by one per such segment; and a new SYN there
    /// is not reported as `active_connection_reuse`. The retransmitted SYN's
    /// connection is then analyzed in full rather than dropped as late.
    pub fn sweep(&mut self, now: Timestamp, done: &mut dyn FnMut(Connection)) {
        let mut expired: Vec<FlowKey> = self
            .live
            .iter()
            .filter(|(_, c)| c.is_closed() && now.since(c.last) > CLOSED_LINGER_NS)
            .map(|(k, _)| *k)
            .collect();
        if self.live.len() > MAX_LIVE_CONNECTIONS {
            let mut by_age: Vec<(Timestamp, FlowKey)> =
                self.live.iter().map(|(k, c)| (c.last, *k)).collect();
            by_age.sort();
            expired.extend(
                by_age
                    .iter()
                    .take(MAX_LIVE_CONNECTIONS / 10)
                    .map(|(_, k)| *k),
            );
            expired.sort();
            expired.dedup();
            self.evicted_for_memory += (MAX_LIVE_CONNECTIONS / 10) as u64;
        }
        let mut finished: Vec<Box<Connection>> = Vec::with_capacity(expired.len());
        for key in expired {
            if let Some(mut c) = self.live.remove(&key) {
                let reason = if c.is_closed() {
                    EndReason::Fin
                } else {
                    EndReason::EndOfCapture
                };
                let tomb = Tombstone::of(&key, &c);
                let (t, f) = (c.last, c.last_frame);
                c.finish_streams(reason, t, f);
                if c.is_closed() || !c.only_syns() {
                    self.bury(key, tomb);
                } else {
                    self.forgotten_syns += 1;
                }
                finished.push(c);
            }
        }
        // Deterministic order for whoever streams them out.
        finished.sort_by_key(|c| c.id);
        for c in finished {
            done(*c);
        }
        self.tombstones.expire(now);
    }

    fn bury(&mut self, key: FlowKey, t: Tombstone) {
        self.tombstones.bury(tomb_key(&key), t);
    }

    /// Finalizes every live connection (end of capture), in id order.
    pub fn finish(&mut self, done: &mut dyn FnMut(Connection)) {
        let mut rest: Vec<Box<Connection>> = self.live.drain().map(|(_, c)| c).collect();
        rest.sort_by_key(|c| c.id);
        for mut c in rest {
            let (t, f) = (c.last, c.last_frame);
            c.finish_streams(EndReason::EndOfCapture, t, f);
            done(*c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{TcpFlags, TcpOptions};

    fn seg(src: SocketAddr, dst: SocketAddr, flags: u8, seq: u32, ack: u32) -> Segment<'static> {
        Segment {
            src,
            dst,
            seq,
            ack,
            flags: TcpFlags(flags),
            window: 65_535,
            options: TcpOptions::default(),
            seg_len: 0,
            payload: &[],
            ip_id: None,
        }
    }

    fn client(i: u32) -> SocketAddr {
        SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 40_000))
    }

    const SERVER: ([u8; 4], u16) = ([192, 0, 2, 80], 80);
    const SYN: u8 = TcpFlags::SYN;
    const SYN_ACK: u8 = TcpFlags::SYN | TcpFlags::ACK;

    /// `n` SYNs from distinct clients, 10 µs apart, none answered except
    /// those `answered` says; returns the table and the finalized ids.
    fn flood(n: u32, answered: impl Fn(u32) -> bool) -> (FlowTable, Vec<u32>) {
        let mut table = FlowTable::new();
        let mut done = Vec::new();
        let server = SocketAddr::from(SERVER);
        for i in 0..n {
            let ts = Timestamp(i64::from(i) * 10_000);
            let frame = u64::from(i);
            table.segment(&seg(client(i), server, SYN, i, 0), ts, frame, &mut |c| {
                done.push(c.id)
            });
            if answered(i) {
                let s = seg(server, client(i), SYN_ACK, 7, i.wrapping_add(1));
                table.segment(&s, ts, frame, &mut |c| done.push(c.id));
            }
        }
        (table, done)
    }

    #[test]
    fn syn_only_connections_evicted_for_memory_leave_no_tombstone() {
        let n = (MAX_LIVE_CONNECTIONS + 1) as u32;
        let (mut table, done) = flood(n + 1, |_| false);
        // The table went past its cap once: the stalest tenth was evicted.
        let evicted = MAX_LIVE_CONNECTIONS / 10;
        assert_eq!(done.len(), evicted);
        assert_eq!(table.evicted_for_memory, evicted as u64);
        assert_eq!(table.forgotten_syns, evicted as u64);
        assert_eq!(table.tombstone_count(), 0);
        // The oldest SYN retransmitted: nothing remembers it, so it starts
        // a new connection (Wireshark would keep it in stream 0).
        let server = SocketAddr::from(SERVER);
        let ts = Timestamp(i64::from(n + 1) * 10_000);
        table.segment(&seg(client(0), server, SYN, 0, 0), ts, 0, &mut |_| {});
        assert_eq!(table.created(), n + 2);
        assert_eq!(table.late_segments, 0);
    }

    #[test]
    fn answered_connections_evicted_for_memory_keep_their_tombstone() {
        let n = (MAX_LIVE_CONNECTIONS + 2) as u32;
        // Every other SYN answered with a SYN/ACK.
        let (mut table, done) = flood(n, |i| i % 2 == 0);
        let evicted = MAX_LIVE_CONNECTIONS / 10;
        assert_eq!(done.len(), evicted);
        assert_eq!(table.forgotten_syns, evicted as u64 / 2);
        assert_eq!(table.tombstone_count(), evicted / 2);
        // Client 0 was answered and evicted: its SYN again is a straggler of
        // the old connection, client 1's starts a new one.
        let server = SocketAddr::from(SERVER);
        let ts = Timestamp(i64::from(n) * 10_000);
        table.segment(&seg(client(0), server, SYN, 0, 0), ts, 0, &mut |_| {});
        assert_eq!((table.created(), table.late_segments), (n, 1));
        table.segment(&seg(client(1), server, SYN, 1, 0), ts, 0, &mut |_| {});
        assert_eq!((table.created(), table.late_segments), (n + 1, 1));
    }

    /// A connection closed by RST, then a straggler ACK: late within the
    /// TTL after the close, a new connection after it.
    #[test]
    fn tombstones_are_forgotten_a_ttl_after_the_close() {
        const RST: u8 = TcpFlags::RST;
        const ACK: u8 = TcpFlags::ACK;
        let server = SocketAddr::from(SERVER);
        for (after, late) in [(TOMBSTONE_TTL_NS, 1), (TOMBSTONE_TTL_NS + 2, 0)] {
            let mut table = FlowTable::new();
            let mut done = 0;
            let mut send = |t: &mut FlowTable, s: Segment<'_>, ts: i64| {
                t.segment(&s, Timestamp(ts), 0, &mut |_| done += 1)
            };
            send(&mut table, seg(client(0), server, SYN, 0, 0), 0);
            send(&mut table, seg(server, client(0), SYN_ACK, 7, 1), 1);
            send(&mut table, seg(client(0), server, RST, 1, 0), 2);
            assert_eq!(table.tombstone_count(), 1);
            // Another connection's segment runs the sweep at this time.
            send(&mut table, seg(client(1), server, SYN, 0, 0), 2 + after);
            send(&mut table, seg(client(0), server, ACK, 1, 8), 2 + after);
            assert_eq!(table.late_segments, late, "{after}");
            assert_eq!(table.created(), 3 - late as u32, "{after}");
        }
    }

    /// A four-tuple buried again later does not hold back the tombstones
    /// buried after its first burial.
    #[test]
    fn a_reburied_tombstone_does_not_hold_back_the_queue() {
        const RST: u8 = TcpFlags::RST;
        const ACK: u8 = TcpFlags::ACK;
        let server = SocketAddr::from(SERVER);
        let mut table = FlowTable::new();
        let send = |t: &mut FlowTable, s: Segment<'_>, ts: i64| {
            t.segment(&s, Timestamp(ts), 0, &mut |_| {})
        };
        // Connection to bury: SYN, SYN/ACK, RST from `c` with ISN `isn`.
        let open_and_reset = |t: &mut FlowTable, c: SocketAddr, isn: u32, ts: i64| {
            t.segment(&seg(c, server, SYN, isn, 0), Timestamp(ts), 0, &mut |_| {});
            let syn_ack = seg(server, c, SYN_ACK, 7, isn.wrapping_add(1));
            t.segment(&syn_ack, Timestamp(ts), 0, &mut |_| {});
            let rst = seg(c, server, RST, isn.wrapping_add(1), 0);
            t.segment(&rst, Timestamp(ts), 0, &mut |_| {});
        };
        open_and_reset(&mut table, client(0), 100, 0);
        open_and_reset(&mut table, client(1), 100, 1);
        // client(0)'s four-tuple again, closed just before client(1)'s
        // tombstone is due.
        open_and_reset(&mut table, client(0), 5_000, TOMBSTONE_TTL_NS - 100);
        assert_eq!(table.tombstone_count(), 2);
        // The sweep after client(1)'s TTL forgets it (a late ACK of it then
        // starts a new connection), and keeps client(0)'s second burial.
        // (Sweeps run once a second of capture time.)
        let later = TOMBSTONE_TTL_NS + 2_000_000_000;
        send(&mut table, seg(client(2), server, SYN, 0, 0), later);
        send(&mut table, seg(client(1), server, ACK, 101, 8), later);
        assert_eq!(table.late_segments, 0);
        send(&mut table, seg(client(0), server, ACK, 5_001, 8), later);
        assert_eq!(table.late_segments, 1);
    }
}
