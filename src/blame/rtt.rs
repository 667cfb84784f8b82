//! Round-trip estimates of one connection, split at the capture point.
//!
//! `server_leg` is the round trip capture → server → capture; `client_leg`
//! capture → client → capture. Their sum is the path RTT. From the handshake
//! (SYN → SYN/ACK is the server leg, SYN/ACK → ACK the client leg; the split
//! PacketShaper and Wireshark's iRTT use), else the smallest data → ACK lag
//! seen in the timeline (an upper bound: a delayed ACK only inflates it, and
//! the minimum over many samples removes that).

use std::collections::VecDeque;

use crate::stream::Side;
use crate::tcp::conn::Connection;
use crate::tcp::timeline::SegKind;

/// Round-trip estimates, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathRtt {
    pub server_leg: Option<i64>,
    pub client_leg: Option<i64>,
    /// True when the legs come from the handshake (more reliable).
    pub from_handshake: bool,
}

impl PathRtt {
    /// The whole round trip, client ↔ server, when both legs are known.
    pub fn full(&self) -> Option<i64> {
        match (self.server_leg, self.client_leg) {
            (Some(s), Some(c)) => Some(s + c),
            (Some(s), None) => Some(s),
            (None, Some(c)) => Some(c),
            _ => None,
        }
    }

    /// Round trip from the capture point to the receiver of data sent by `sender`.
    pub fn toward_receiver_of(&self, sender: Side) -> Option<i64> {
        match sender {
            Side::Client => self.server_leg,
            Side::Server => self.client_leg,
        }
    }
}

/// Estimates the legs of `conn`.
pub fn estimate(conn: &Connection) -> PathRtt {
    let h = &conn.handshake;
    if let (Some(syn), Some(synack), Some(ack)) = (h.last_syn.or(h.syn), h.synack, h.ack) {
        let s = synack.ts.since(syn.ts);
        let c = ack.ts.since(synack.ts);
        if s >= 0 && c >= 0 {
            return PathRtt {
                server_leg: Some(s),
                client_leg: Some(c),
                from_handshake: true,
            };
        }
    }
    PathRtt {
        // Client data is acknowledged by the server: that lag is the server leg.
        server_leg: min_ack_lag(conn, Side::Client),
        client_leg: min_ack_lag(conn, Side::Server),
        from_handshake: false,
    }
}

/// Smallest time from a data segment of `sender` to the first ACK covering it.
fn min_ack_lag(conn: &Connection, sender: Side) -> Option<i64> {
    let mut pending: VecDeque<(u64, crate::time::Timestamp)> = VecDeque::new();
    let mut best: Option<i64> = None;
    for e in &conn.timeline.events {
        if e.side == sender {
            // Karn's rule: only first transmissions give RTT samples.
            if e.kind == SegKind::New && e.end > e.start {
                pending.push_back((e.end, e.ts));
            } else if e.kind.is_retransmission() {
                pending.clear();
            }
        } else if let Some(ack) = e.ack {
            let mut last = None;
            while let Some(&(end, ts)) = pending.front() {
                if end > ack {
                    break;
                }
                last = Some(ts);
                pending.pop_front();
            }
            if let Some(ts) = last {
                let lag = e.ts.since(ts);
                if lag >= 0 {
                    best = Some(best.map_or(lag, |b| b.min(lag)));
                }
            }
        }
    }
    best
}
