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
//! when its four-tuple is reused, or at the end of the capture. A small tombstone per finalized four-tuple remains for
//! [`TOMBSTONE_TTL_NS`], so that port reuse can report the time since close
//! and stray late segments are not mistaken for new connections. Idle open
//! connections stay live (see [`MAX_LIVE_CONNECTIONS`]).

use std::collections::VecDeque;

use rustc_hash::FxHashMap as HashMap;
use std::net::SocketAddr;

use crate::decode::Segment;
use crate::stream::{EndReason, Side};
use crate::time::Timestamp;
use crate::transaction::HttpLimits;

use super::conn::Connection;

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

/// How long a finalized four-tuple is remembered, so that reuse inside
/// TIME_WAIT is recognized and a peer that keeps resending its FIN (Linux
/// retries for minutes) is not taken for a new connection.
pub const TOMBSTONE_TTL_NS: i64 = 600_000_000_000;

/// At most this many finalized four-tuples are remembered (about 100 bytes
/// each); the oldest are forgotten first.
pub const MAX_TOMBSTONES: usize = 200_000;

/// How often (in capture time) the table looks for connections to finalize.
const SWEEP_INTERVAL_NS: i64 = 1_000_000_000;

/// Each side's address and (initial or implied) ISN.
fn isns_of(c: &Connection) -> [(SocketAddr, Option<u32>); 2] {
    [Side::Client, Side::Server].map(|s| {
        let d = c.dir(s);
        let addr = if s == Side::Client {
            c.client
        } else {
            c.server
        };
        (addr, d.isn.or(d.implied_isn))
    })
}

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
}

#[derive(Clone, Copy, Debug)]
struct Tombstone {
    /// When the old connection closed (or was last seen, if never closed).
    closed: Timestamp,
    was_closed: bool,
    /// (address, initial or implied ISN) of each side: a SYN repeating its
    /// side's ISN belongs to the old connection (Wireshark keeps it there).
    isns: [(SocketAddr, Option<u32>); 2],
    /// When it was finalized; it is forgotten [`TOMBSTONE_TTL_NS`] later.
    finalized: Timestamp,
}

/// Live connections, keyed by four-tuple.
#[derive(Default)]
pub struct FlowTable {
    /// Boxed so the table's buckets stay small (a connection is ~2 KB):
    /// probing touches fewer cache lines.
    live: HashMap<FlowKey, Box<Connection>>,
    tombstones: HashMap<FlowKey, Tombstone>,
    /// Finalization order of the tombstones, for expiry.
    tomb_order: VecDeque<(Timestamp, FlowKey)>,
    next_id: u32,
    next_sweep: Timestamp,
    /// Segments that arrived for a four-tuple after its connection was
    /// finalized and were not a new SYN.
    pub late_segments: u64,
    /// Peak number of live connections.
    pub peak_live: usize,
    /// Connections finalized early because too many were live.
    pub evicted_for_memory: u64,
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
                    self.finish_one(key, ts, done);
                }
                return;
            }
            if let Some(mut old) = self.live.remove(&key) {
                let was_closed = old.is_closed();
                let closed = old.close_ts.unwrap_or(old.last);
                let (t, f) = (old.last, old.last_frame);
                old.finish_streams(EndReason::EndOfCapture, t, f);
                let isns = isns_of(&old);
                done(*old);
                self.bury(
                    key,
                    Tombstone {
                        closed,
                        was_closed,
                        isns,
                        finalized: ts,
                    },
                );
            }
        } else if let Some(t) = self.tombstones.get(&key) {
            // A straggler (late ACK, retransmitted FIN, RST, or a SYN that
            // repeats the old ISN) of a connection already finalized.
            let old_isn = t
                .isns
                .iter()
                .find(|(a, _)| *a == seg.src)
                .and_then(|(_, i)| *i);
            if !pure_syn || old_isn == Some(seg.seq) {
                self.late_segments += 1;
                return;
            }
        }
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        let mut conn = Connection::new(id, seg, ts, frame, self.http_limits);
        if pure_syn {
            if let Some(t) = self.tombstones.remove(&key) {
                conn.port_reused = Some(t.was_closed.then(|| ts.since(t.closed)));
                if !t.was_closed {
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
            self.finish_one(key, ts, done);
        }
    }

    /// Finalizes the connection of `key`, which is over: its state is freed
    /// as soon as it ends (by capture time).
    fn finish_one(&mut self, key: FlowKey, ts: Timestamp, done: &mut dyn FnMut(Connection)) {
        if let Some(mut c) = self.live.remove(&key) {
            let (t, f) = (c.last, c.last_frame);
            let reason = if c.dirs.iter().any(|d| d.rst.is_some()) {
                EndReason::Rst
            } else {
                EndReason::Fin
            };
            c.finish_streams(reason, t, f);
            let tomb = Tombstone {
                closed: c.close_ts.unwrap_or(c.last),
                was_closed: true,
                isns: isns_of(&c),
                finalized: ts,
            };
            self.bury(key, tomb);
            done(*c);
        }
    }

    /// Finalizes connections that are closed and quiet, or idle.
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
                let (t, f) = (c.last, c.last_frame);
                c.finish_streams(reason, t, f);
                self.bury(
                    key,
                    Tombstone {
                        closed: c.close_ts.unwrap_or(c.last),
                        was_closed: c.is_closed(),
                        isns: isns_of(&c),
                        finalized: now,
                    },
                );
                finished.push(c);
            }
        }
        // Deterministic order for whoever streams them out.
        finished.sort_by_key(|c| c.id);
        for c in finished {
            done(*c);
        }
        while let Some(&(when, key)) = self.tomb_order.front() {
            if now.since(when) <= TOMBSTONE_TTL_NS && self.tomb_order.len() <= MAX_TOMBSTONES {
                break;
            }
            self.tomb_order.pop_front();
            if self
                .tombstones
                .get(&key)
                .is_some_and(|t| t.finalized == when)
            {
                self.tombstones.remove(&key);
            }
        }
    }

    fn bury(&mut self, key: FlowKey, t: Tombstone) {
        self.tomb_order.push_back((t.finalized, key));
        self.tombstones.insert(key, t);
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
