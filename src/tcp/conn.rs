//! One TCP connection: roles, handshake, the two directions, and how it closed.
//!
//! Input: decoded segments of one four-tuple in capture order, each with the
//! side that sent it. Output: the connection's counters and verdicts (read by
//! the report) and, through reassembly, each direction's bytes pushed into the
//! connection's [`HttpConversation`].
//!
//! Sequence spaces: every `*_pos` below is an absolute 64-bit position from
//! the direction's [`SeqUnwrapper`]; stream offsets are positions minus the
//! reassembler's base. Rules follow RFC 9293 (TCP), RFC 7323 (window scale,
//! timestamps), RFC 5681 (duplicate ACKs), RFC 6298 (RTO) and Wireshark's
//! expert-info vocabulary (retransmission, fast retransmission, spurious
//! retransmission, out-of-order, ACKed unseen segment, zero window, keep-alive).

use std::net::SocketAddr;

use crate::anomaly::AnomalyCounts;
use crate::decode::Segment;
use crate::stream::{EndReason, Side, StreamItem};
use crate::time::Timestamp;
use crate::transaction::{HttpConversation, HttpLimits};

use super::reassembly::{Placement, Reassembler};
use super::seq::SeqUnwrapper;
use super::timeline::{SegEvent, SegKind, Timeline};

/// A hole-filling segment that arrives within this time of the segment that
/// opened the hole is reordering, not a retransmission. Wireshark uses the
/// handshake RTT or 3 ms when there was no handshake; we do the same.
pub const OUT_OF_ORDER_DEFAULT_NS: i64 = 3_000_000;

/// Duplicate ACKs before a retransmission counts as a fast retransmission.
/// RFC 5681 §3.2 uses 3; Wireshark accepts 2, since the capture point may
/// miss one. We follow Wireshark so counts cross-check.
pub const FAST_RETRANSMIT_DUPACKS: u32 = 2;

/// IP ID steps of exactly one before a skip is believed (Linux gives each
/// connection its own counter for DF packets; Windows and some BSDs use a
/// global counter, which never runs this long without skips).
const IP_ID_RUN: u32 = 4;
/// Largest skip read as lost packets (a tail-loss probe and a few RTO
/// retransmissions).
const MAX_IP_ID_SKIP: u16 = 8;

/// How the roles were decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleSource {
    /// The client sent the SYN.
    Syn,
    /// Only the server's SYN/ACK was captured.
    SynAck,
    /// No handshake: the lower, well-known or HTTP port is taken as the server
    /// (see `guess_server`).
    Guessed,
}

/// Where the capture was taken, judged from the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vantage {
    NearClient,
    NearServer,
    Middle,
    Unknown,
}

impl Vantage {
    pub fn as_str(self) -> &'static str {
        match self {
            Vantage::NearClient => "near_client",
            Vantage::NearServer => "near_server",
            Vantage::Middle => "middle",
            Vantage::Unknown => "unknown",
        }
    }
}

/// A timestamped frame reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub ts: Timestamp,
    pub frame: u64,
}

/// The three-way handshake as captured.
#[derive(Clone, Copy, Debug, Default)]
pub struct Handshake {
    /// First SYN from the client.
    pub syn: Option<Mark>,
    /// Last SYN retransmission seen (the one that was answered, usually).
    pub last_syn: Option<Mark>,
    /// First SYN/ACK.
    pub synack: Option<Mark>,
    /// The client's first ACK of the SYN/ACK.
    pub ack: Option<Mark>,
    pub syn_retransmits: u32,
    pub synack_retransmits: u32,
}

/// Retransmitted segments of one direction, by kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct Retransmissions {
    /// After a retransmission timeout (no duplicate ACKs preceded it).
    pub timeout: u64,
    /// After duplicate ACKs.
    pub fast: u64,
    /// Of data the receiver had already acknowledged.
    pub spurious: u64,
    /// Zero-window probes repeated.
    pub window_probe: u64,
    /// Of `timeout`: transmissions the capture never saw, inferred from the
    /// sender's IP ID skipping before a late tail segment (receiver-side
    /// captures of tail loss).
    pub inferred: u64,
    /// SYN or SYN/ACK sent again.
    pub syn: u64,
}

impl Retransmissions {
    /// Retransmitted segments counted the way Wireshark's
    /// `tcp.analysis.retransmission` does (probes excluded).
    pub fn total(&self) -> u64 {
        self.timeout + self.fast + self.spurious + self.syn
    }
}

/// One direction: the bytes one side sent, and what the capture saw of them.
#[derive(Debug, Default)]
pub struct Direction {
    unwrap: Option<SeqUnwrapper>,
    /// Initial sequence number, from this side's SYN.
    pub isn: Option<u32>,
    /// The ISN implied without this side's SYN: the peer's SYN/ACK
    /// acknowledged it, or this side's first segment started after it.
    /// Wireshark compares a new SYN against this too (its `base_seq`).
    pub implied_isn: Option<u32>,
    /// Highest position sent + 1 (data and FIN).
    pub max_end: u64,
    pub max_end_ts: Timestamp,
    /// `max_end` and its time before the current segment.
    prev_max_end: u64,
    prev_max_end_ts: Timestamp,
    /// When a segment last jumped past `max_end`, leaving a hole below it.
    pub hole_opened: Option<Timestamp>,
    /// Highest cumulative ACK position received from the peer.
    pub acked: u64,
    acked_set: bool,
    /// Duplicate ACKs the peer sent for `acked`.
    pub dupacks: u32,
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    pub timestamps: bool,
    /// This side's SYN carried a TCP-MD5 / TCP-AO option.
    pub signed: bool,
    /// This side sent a segment with the ACK flag.
    pub sent_ack: bool,
    /// Receive window this side advertised last, in bytes (scaled).
    pub window: u64,
    pub packets: u64,
    /// Payload bytes sent, as declared by IP (retransmissions included).
    pub bytes: u64,
    /// New payload bytes (first transmissions only).
    pub unique_bytes: u64,
    pub retrans: Retransmissions,
    pub out_of_order: u64,
    /// Copies of the same frame (same IP ID, sequence and length): a span
    /// port or a capture on two interfaces, not a retransmission.
    pub duplicate_frames: u64,
    pub keepalives: u64,
    pub zero_windows: u64,
    /// Bytes the peer acknowledged that the capture never saw.
    pub acked_unseen: u64,
    pub fin: Option<Mark>,
    /// Position just after the FIN; the peer's ACK of it completes the close.
    fin_end: Option<u64>,
    pub fin_acked: bool,
    pub rst: Option<Mark>,
    last_frame_sig: Option<(u16, u32, u32)>,
    last_ip_id: Option<u16>,
    /// Consecutive +1 steps of the IP ID (a per-connection counter, as
    /// Linux uses for DF packets); `None` before the first packet.
    ip_id_run: Option<u32>,
    pub reasm: Reassembler,
}

impl Direction {
    fn pos(&mut self, raw: u32) -> u64 {
        match &mut self.unwrap {
            Some(u) => u.unwrap(raw),
            None => {
                let mut u = SeqUnwrapper::new(raw);
                let p = u.unwrap(raw);
                self.unwrap = Some(u);
                p
            }
        }
    }

    /// Packets of this sender the capture missed, judged from the IP ID, when
    /// the IDs have been strictly sequential (at least [`IP_ID_RUN`] steps).
    fn ip_id_skip(&mut self, id: Option<u16>) -> u16 {
        let Some(id) = id else { return 0 };
        let prev = self.last_ip_id.replace(id);
        let Some(prev) = prev else {
            self.ip_id_run = Some(0);
            return 0;
        };
        let step = id.wrapping_sub(prev);
        match (self.ip_id_run, step) {
            (Some(n), 1) => {
                self.ip_id_run = Some(n + 1);
                0
            }
            (Some(n), 2..=MAX_IP_ID_SKIP) if n >= IP_ID_RUN => step - 1,
            (_, 0) => 0,
            // Not a counter step (a SYN/ACK with ID 0, another host's
            // counter): start counting again.
            _ => {
                self.ip_id_run = Some(0);
                0
            }
        }
    }

    fn peek(&self, raw: u32) -> Option<u64> {
        self.unwrap.as_ref().map(|u| u.peek(raw))
    }

    /// Stream offset (bytes after the SYN) of an absolute position.
    pub fn offset_of(&self, pos: u64) -> u64 {
        pos.saturating_sub(self.reasm.base().unwrap_or(pos))
    }
}

/// How the connection ended (first FIN or RST).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseHow {
    Fin,
    Rst,
    Open,
}

/// A live or finished connection.
pub struct Connection {
    pub id: u32,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub roles: RoleSource,
    pub first_frame: u64,
    pub start: Timestamp,
    pub last: Timestamp,
    /// Frame number of the last segment processed.
    pub last_frame: u64,
    pub handshake: Handshake,
    /// Index with `Side::index()`.
    pub dirs: [Direction; 2],
    /// First FIN or RST: who and how.
    pub close_by: Option<Side>,
    pub close_how: CloseHow,
    pub close_ts: Option<Timestamp>,
    /// Set when this connection reused the four-tuple of an earlier one:
    /// nanoseconds since that one closed (None if it never closed).
    pub port_reused: Option<Option<i64>>,
    pub http: HttpConversation,
    pub anomalies: AnomalyCounts,
    pub timeline: Timeline,
    /// The DNS resolution that preceded the SYN, if one was captured.
    pub dns: Option<crate::blame::attribute::DnsLink>,
    /// The HTTP layer wants no more bytes (TLS, other protocols).
    discarding: bool,
}

impl Connection {
    /// Creates a connection from its first segment.
    pub fn new(
        id: u32,
        seg: &Segment<'_>,
        ts: Timestamp,
        frame: u64,
        limits: HttpLimits,
    ) -> Connection {
        let (client, server, roles) = if seg.flags.syn() && !seg.flags.ack() {
            (seg.src, seg.dst, RoleSource::Syn)
        } else if seg.flags.syn() {
            (seg.dst, seg.src, RoleSource::SynAck)
        } else if guess_server(seg.src, seg.dst) {
            (seg.src, seg.dst, RoleSource::Guessed)
        } else {
            (seg.dst, seg.src, RoleSource::Guessed)
        };
        Connection {
            id,
            client,
            server,
            roles,
            first_frame: frame,
            start: ts,
            last: ts,
            last_frame: frame,
            handshake: Handshake::default(),
            dirs: [Direction::default(), Direction::default()],
            close_by: None,
            close_how: CloseHow::Open,
            close_ts: None,
            port_reused: None,
            http: HttpConversation::new(limits),
            anomalies: AnomalyCounts::default(),
            timeline: Timeline::default(),
            dns: None,
            discarding: false,
        }
    }

    pub fn side_of(&self, src: SocketAddr) -> Side {
        if src == self.client {
            Side::Client
        } else {
            Side::Server
        }
    }

    pub fn dir(&self, side: Side) -> &Direction {
        &self.dirs[side.index()]
    }

    /// True when both sides sent FIN, or either sent RST.
    pub fn is_closed(&self) -> bool {
        self.dirs.iter().any(|d| d.rst.is_some()) || self.dirs.iter().all(|d| d.fin.is_some())
    }

    /// Nothing more is expected: a RST, or both FINs sent and acknowledged.
    /// The connection can be finalized at once; stragglers are counted by
    /// the flow table's tombstone.
    pub fn is_finished(&self) -> bool {
        self.dirs.iter().any(|d| d.rst.is_some())
            || self.dirs.iter().all(|d| d.fin.is_some() && d.fin_acked)
    }

    /// Nothing but the client's SYN (and its retransmissions) was seen: no
    /// answer, no ACK, no payload, no FIN or RST. A SYN flood's connections;
    /// the flow table keeps no tombstone for them when it evicts them.
    pub fn only_syns(&self) -> bool {
        let client = self.dir(Side::Client);
        self.roles == RoleSource::Syn
            && self.dir(Side::Server).packets == 0
            && !client.sent_ack
            && client.bytes == 0
            && client.fin.is_none()
            && client.rst.is_none()
    }

    /// The initial sequence number `side` used, if its SYN was seen.
    pub fn isn(&self, side: Side) -> Option<u32> {
        self.dirs[side.index()].isn
    }

    /// The side that closed first with a FIN (it holds TIME_WAIT).
    pub fn active_closer(&self) -> Option<Side> {
        match (self.close_how, self.close_by) {
            (CloseHow::Fin, Some(s)) => Some(s),
            _ => None,
        }
    }

    /// Handshake round trip, SYN (the last one sent) to the client's ACK.
    pub fn handshake_rtt_ns(&self) -> Option<i64> {
        let h = &self.handshake;
        let syn = h.last_syn.or(h.syn)?;
        let ack = h.ack?;
        Some(ack.ts.since(syn.ts))
    }

    pub fn vantage(&self) -> Vantage {
        let h = &self.handshake;
        let (Some(syn), Some(synack), Some(ack)) = (h.last_syn.or(h.syn), h.synack, h.ack) else {
            return Vantage::Unknown;
        };
        let to_server = synack.ts.since(syn.ts);
        let to_client = ack.ts.since(synack.ts);
        if to_server < 0 || to_client < 0 {
            return Vantage::Unknown;
        }
        // A leg under a fifth of the other is "near" that end (Wireshark's
        // and tcptrace's usual reading of the two handshake legs).
        if to_client.saturating_mul(5) <= to_server {
            Vantage::NearClient
        } else if to_server.saturating_mul(5) <= to_client {
            Vantage::NearServer
        } else {
            Vantage::Middle
        }
    }

    /// Out-of-order window: the handshake RTT, else 3 ms (Wireshark's rule).
    fn ooo_window(&self) -> i64 {
        self.handshake_rtt_ns()
            .filter(|r| *r > 0)
            .unwrap_or(OUT_OF_ORDER_DEFAULT_NS)
    }

    /// Processes one segment sent by `side`.
    pub fn process(&mut self, seg: &Segment<'_>, side: Side, ts: Timestamp, frame: u64) {
        if ts < self.last {
            self.anomalies.add_n(
                "timestamp_backwards",
                1,
                format!("frame {frame} is earlier than the frame before it"),
            );
        }
        self.last = self.last.max(ts);
        self.last_frame = frame;
        let s = side.index();
        let r = side.other().index();
        let flags = seg.flags;

        // Copies of the same IP datagram are not retransmissions (tcptrace's
        // hardware duplicate rule): same IP ID, sequence and length.
        if let Some(id) = seg.ip_id {
            let sig = (id, seg.seq, seg.seg_len);
            if seg.seg_len > 0 && self.dirs[s].last_frame_sig == Some(sig) && id != 0 {
                self.dirs[s].duplicate_frames += 1;
                self.dirs[s].packets += 1;
                return;
            }
            self.dirs[s].last_frame_sig = Some(sig);
        }
        self.dirs[s].packets += 1;

        if let Some(why) = self.ignored_by_receiver(seg, side) {
            self.anomalies
                .add_n("segment_ignored", 1, format!("frame {frame}: {why}"));
            return;
        }
        self.dirs[s].sent_ack |= flags.ack();

        if flags.syn() {
            self.on_syn(seg, side, ts, frame);
            if flags.ack() && self.dirs[r].implied_isn.is_none() && self.dirs[r].isn.is_none() {
                self.dirs[r].implied_isn = Some(seg.ack.wrapping_sub(1));
            }
        } else if self.dirs[s].implied_isn.is_none() && self.dirs[s].isn.is_none() {
            self.dirs[s].implied_isn = Some(seg.seq.wrapping_sub(1));
        }
        let here = Mark { ts, frame };
        let syn_len = u64::from(flags.syn());
        let pos = self.dirs[s].pos(seg.seq) + syn_len;
        if self.dirs[s].reasm.base().is_none() {
            // Picked up mid-stream: offsets count from the first byte seen.
            self.dirs[s].reasm.set_base(pos);
        }

        // ACK first: it may declare gaps in the other direction before this
        // segment's own data is delivered (capture order).
        if flags.ack() {
            self.on_ack(seg, side, here);
        }
        if !flags.syn() && !flags.rst() {
            let scale = match (self.dirs[s].window_scale, self.dirs[r].window_scale) {
                (Some(ws), Some(_)) => ws.min(14),
                _ => 0,
            };
            let w = (seg.window as u64) << scale;
            if w == 0 && self.dirs[s].window != 0 {
                self.dirs[s].zero_windows += 1;
            }
            self.dirs[s].window = w;
        } else if flags.syn() {
            self.dirs[s].window = seg.window as u64;
        }

        let unseen_packets = self.dirs[s].ip_id_skip(seg.ip_id);
        let len = seg.seg_len as u64;
        let kind = if len > 0 {
            let k = self.on_data(seg, side, pos, here);
            self.infer_tail_loss(k, side, pos, unseen_packets, here)
        } else {
            SegKind::Control
        };
        let start = self.dirs[s].offset_of(pos);
        let ack = if flags.ack() {
            self.dirs[r]
                .peek(seg.ack)
                .map(|p| self.dirs[r].offset_of(p))
        } else {
            None
        };
        self.timeline.push(SegEvent {
            ts,
            frame,
            side,
            kind,
            syn: flags.syn(),
            fin: flags.fin(),
            rst: flags.rst(),
            start,
            end: start + len,
            ack,
            window: self.dirs[s].window,
            ip_id: seg.ip_id,
        });
        if flags.fin() {
            let fin_pos = pos + len;
            if self.dirs[s].fin.is_none() {
                self.dirs[s].fin = Some(here);
                if self.close_by.is_none() {
                    self.close_by = Some(side);
                    self.close_how = CloseHow::Fin;
                }
            }
            self.dirs[s].fin_end.get_or_insert(fin_pos + 1);
            if fin_pos + 1 > self.dirs[s].max_end {
                self.dirs[s].max_end = fin_pos + 1;
                self.dirs[s].max_end_ts = ts;
            }
            let http = &mut self.http;
            self.dirs[s]
                .reasm
                .fin(fin_pos, ts, frame, &mut |it: &StreamItem<'_>| {
                    http.push(side, it)
                });
        }
        if flags.rst() {
            if self.dirs[s].rst.is_none() {
                self.dirs[s].rst = Some(here);
            }
            if self.close_by.is_none() {
                self.close_by = Some(side);
                self.close_how = CloseHow::Rst;
            }
            self.finish_streams(EndReason::Rst, ts, frame);
        }
        if self.is_closed() && self.close_ts.is_none() {
            self.close_ts = Some(ts);
        }
        if !self.discarding && self.http.is_done() {
            self.discarding = true;
            for d in &mut self.dirs {
                d.reasm.set_discard();
            }
        }
    }

    /// Segments the receiver drops without any effect on this connection.
    fn ignored_by_receiver(&self, seg: &Segment<'_>, side: Side) -> Option<&'static str> {
        let flags = seg.flags;
        let client = &self.dirs[Side::Client.index()];
        // SYN-SENT as far as the capture shows: the client's SYN, no SYN/ACK,
        // and no ACK from the client yet (a missing SYN/ACK is not enough).
        let syn_sent = client.isn.is_some() && self.handshake.synack.is_none() && !client.sent_ack;
        if let (true, false, Some(isn)) = (syn_sent, flags.syn(), client.isn) {
            // RFC 9293 3.10.7.3 (SYN-SENT): an ACK that does not acknowledge
            // the SYN is answered with <SEQ=SEG.ACK><CTL=RST>; neither belongs
            // to this connection attempt (typically the server still holds
            // an older connection with the same ports).
            if side == Side::Server && flags.ack() && seg.ack != isn.wrapping_add(1) {
                return Some("ACK that does not acknowledge the SYN (SYN-SENT)");
            }
            if side == Side::Client && flags.rst() && seg.seq != isn.wrapping_add(1) {
                return Some("RST answering an unacceptable ACK (SYN-SENT)");
            }
        }
        // RFC 2385 / Linux tcp_inbound_md5_hash: a signed segment on an
        // unsigned connection is dropped.
        if flags.rst() && seg.options.signature && !self.dirs.iter().any(|d| d.signed) {
            return Some("RST with a TCP-MD5/AO signature on an unsigned connection");
        }
        None
    }

    fn on_syn(&mut self, seg: &Segment<'_>, side: Side, ts: Timestamp, frame: u64) {
        let s = side.index();
        let here = Mark { ts, frame };
        let d = &mut self.dirs[s];
        let again = d.isn == Some(seg.seq);
        if d.isn.is_none() {
            d.isn = Some(seg.seq);
            d.mss = seg.options.mss;
            d.window_scale = seg.options.window_scale;
            d.sack_permitted = seg.options.sack_permitted;
            d.timestamps = seg.options.timestamps.is_some();
            d.signed = seg.options.signature;
        }
        if again {
            d.retrans.syn += 1;
        }
        let h = &mut self.handshake;
        if seg.flags.ack() {
            if h.synack.is_none() {
                h.synack = Some(here);
            } else if again {
                h.synack_retransmits += 1;
            }
        } else {
            if h.syn.is_none() {
                h.syn = Some(here);
            } else if again {
                h.syn_retransmits += 1;
            }
            if h.synack.is_none() {
                h.last_syn = Some(here);
            }
        }
    }

    fn on_ack(&mut self, seg: &Segment<'_>, side: Side, here: Mark) {
        let s = side.index();
        let r = side.other().index();
        let Some(ack_pos) = self.dirs[r].peek(seg.ack) else {
            return;
        };
        // The client's ACK completing the handshake.
        if side == Side::Client
            && self.handshake.synack.is_some()
            && self.handshake.ack.is_none()
            && !seg.flags.syn()
            && self.dirs[r]
                .isn
                .is_some_and(|isn| seg.ack == isn.wrapping_add(1))
        {
            self.handshake.ack = Some(here);
        }
        let peer = &mut self.dirs[r];
        if ack_pos > peer.max_end && peer.max_end > 0 {
            // "ACKed unseen segment": the capture missed data the peer got
            // (counted below, from the gap reassembly declares).
            peer.max_end = ack_pos;
        }
        if peer.fin_end.is_some_and(|f| ack_pos >= f) {
            peer.fin_acked = true;
        }
        let pure = seg.seg_len == 0 && !seg.flags.syn() && !seg.flags.fin() && !seg.flags.rst();
        if !peer.acked_set || ack_pos > peer.acked {
            peer.acked = ack_pos;
            peer.acked_set = true;
            peer.dupacks = 0;
        } else if ack_pos == peer.acked && pure && peer.max_end > ack_pos {
            peer.dupacks += 1;
        }
        let http = &mut self.http;
        let declared = self.dirs[r]
            .reasm
            .ack(ack_pos, here.ts, here.frame, &mut |it| {
                http.push(side.other(), it)
            });
        if declared > 0 {
            self.dirs[r].acked_unseen += declared;
            self.anomalies.add_n(
                "acked_unseen_segment",
                1,
                format!(
                    "frame {} acknowledges {declared} bytes the capture never saw (capture loss, not network loss)",
                    here.frame
                ),
            );
        }
        let _ = s;
    }

    /// A new segment at the end of the data, arriving after a pause, right
    /// after packets of the sender the capture never saw: the missed packets
    /// were this segment's earlier transmissions, lost before the capture
    /// point (tail loss seen from the receiver's side).
    fn infer_tail_loss(
        &mut self,
        kind: SegKind,
        side: Side,
        pos: u64,
        unseen: u16,
        here: Mark,
    ) -> SegKind {
        let ooo = self.ooo_window();
        let d = &mut self.dirs[side.index()];
        if kind != SegKind::New || unseen == 0 || d.prev_max_end != pos {
            return kind;
        }
        if here.ts.since(d.prev_max_end_ts) < ooo {
            return kind;
        }
        d.retrans.timeout += unseen as u64;
        d.retrans.inferred += unseen as u64;
        SegKind::TimeoutRetransmit
    }

    fn on_data(&mut self, seg: &Segment<'_>, side: Side, pos: u64, here: Mark) -> SegKind {
        let s = side.index();
        let r = side.other().index();
        let len = seg.seg_len as u64;
        let end = pos + len;
        let ooo_window = self.ooo_window();
        let peer_window = self.dirs[r].window;
        let d = &mut self.dirs[s];
        d.bytes += len;
        d.prev_max_end = d.max_end;
        d.prev_max_end_ts = d.max_end_ts;
        let first = d.max_end == 0 && d.unique_bytes == 0;
        let kind;
        if first || pos >= d.max_end {
            kind = SegKind::New;
            if end > d.max_end {
                d.unique_bytes += end - d.max_end.max(pos).min(end);
            }
            if !first && pos > d.max_end {
                // "Previous segment not captured": a hole opens below.
                d.hole_opened = Some(here.ts);
            }
            d.max_end = end;
            d.max_end_ts = here.ts;
        } else if len <= 1 && end == d.max_end && d.acked >= d.max_end.saturating_sub(1) {
            // One byte (or none) below what the peer acknowledged: keep-alive.
            d.keepalives += 1;
            kind = SegKind::KeepAlive;
        } else if !d.reasm.seen_before(pos, len) {
            // Fills a hole: lost before the capture point and resent, or just
            // reordered. The receiver's duplicate ACKs for exactly this
            // position are the evidence of a fast retransmission; a hole open
            // for longer than the reordering window is a timeout retransmission
            // (Wireshark's rule uses the time since the highest segment, which
            // calls a fast retransmit behind a full window "out-of-order").
            let open_for = here.ts.since(d.hole_opened.unwrap_or(d.max_end_ts));
            if d.dupacks >= FAST_RETRANSMIT_DUPACKS && d.acked == pos {
                d.retrans.fast += 1;
                kind = SegKind::FastRetransmit;
            } else if open_for < ooo_window {
                d.out_of_order += 1;
                kind = SegKind::OutOfOrder;
            } else {
                d.retrans.timeout += 1;
                kind = SegKind::TimeoutRetransmit;
            }
            if end > d.max_end {
                d.max_end = end;
                d.max_end_ts = here.ts;
            }
        } else if len == 1 && peer_window == 0 {
            d.retrans.window_probe += 1;
            kind = SegKind::WindowProbe;
        } else if d.acked_set && end <= d.acked {
            d.retrans.spurious += 1;
            kind = SegKind::Spurious;
        } else if d.dupacks >= FAST_RETRANSMIT_DUPACKS && d.acked == pos {
            d.retrans.fast += 1;
            kind = SegKind::FastRetransmit;
        } else {
            d.retrans.timeout += 1;
            kind = SegKind::TimeoutRetransmit;
            if end > d.max_end {
                d.unique_bytes += end - d.max_end;
                d.max_end = end;
                d.max_end_ts = here.ts;
            }
        }
        let cap_hits_before = self.dirs[s].reasm.cap_hits;
        let http = &mut self.http;
        let placement = self.dirs[s].reasm.segment(
            pos,
            len,
            seg.payload,
            here.ts,
            here.frame,
            &mut |it: &StreamItem<'_>| http.push(side, it),
        );
        if placement == Placement::Buffered && self.dirs[s].reasm.cap_hits > cap_hits_before {
            self.anomalies.add_n(
                "reassembly_buffer_full",
                1,
                format!(
                    "frame {}: more than {} out-of-order bytes waited behind a hole; the hole was declared a gap",
                    here.frame,
                    super::reassembly::MAX_BUFFERED_BYTES
                ),
            );
        }
        kind
    }

    /// Ends both directions (RST, end of capture, eviction).
    pub fn finish_streams(&mut self, reason: EndReason, ts: Timestamp, frame: u64) {
        for side in [Side::Client, Side::Server] {
            let http = &mut self.http;
            self.dirs[side.index()]
                .reasm
                .finish(reason, ts, frame, &mut |it: &StreamItem<'_>| {
                    http.push(side, it)
                });
        }
    }
}

/// Ports that identify the server when no handshake was captured.
const SERVER_PORTS: &[u16] = &[80, 443, 8080, 8000, 8008, 8443, 8888, 3128, 3132, 8088];

/// True when `dst` looks like the server of a packet from `src` to `dst`:
/// a known HTTP port, else the lower port when it is privileged (< 1024) and
/// the other is not, else the destination of the first packet seen.
pub fn guess_server(src: SocketAddr, dst: SocketAddr) -> bool {
    let (sp, dp) = (src.port(), dst.port());
    if SERVER_PORTS.contains(&dp) && !SERVER_PORTS.contains(&sp) {
        return true;
    }
    if SERVER_PORTS.contains(&sp) && !SERVER_PORTS.contains(&dp) {
        return false;
    }
    if dp < 1024 && sp >= 1024 {
        return true;
    }
    if sp < 1024 && dp >= 1024 {
        return false;
    }
    true
}
