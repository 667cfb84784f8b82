//! A connection's compact timeline: one small record per segment, kept until
//! the connection is finalized so the blame detectors can replay it.
//!
//! Offsets are stream offsets (bytes after the SYN) of the sender's direction;
//! `ack` is a stream offset of the other direction. Memory is bounded by
//! [`MAX_TIMELINE_EVENTS`] per connection; past it the timeline stops growing
//! and is marked truncated (the detectors then say so).

use crate::stream::Side;
use crate::time::Timestamp;

/// Segments kept per connection (about 64 bytes each, so 16 MiB at most).
/// Far above an HTTP transaction's needs; a multi-gigabyte single transfer
/// keeps its first 250,000 segments.
pub const MAX_TIMELINE_EVENTS: usize = 250_000;

/// What a segment carried, as the tracker classified it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegKind {
    /// No payload (pure ACK, SYN, FIN, RST).
    Control,
    /// New data (beyond everything the sender had sent before).
    New,
    /// Filled a hole shortly after it opened: reordering.
    OutOfOrder,
    /// Retransmission after duplicate ACKs.
    FastRetransmit,
    /// Retransmission after a timeout (or of data lost before the capture point).
    TimeoutRetransmit,
    /// Retransmission of data already acknowledged.
    Spurious,
    /// Keep-alive probe.
    KeepAlive,
    /// Zero-window probe.
    WindowProbe,
    /// The same IP datagram captured twice.
    Duplicate,
}

impl SegKind {
    pub fn is_retransmission(self) -> bool {
        matches!(
            self,
            SegKind::FastRetransmit | SegKind::TimeoutRetransmit | SegKind::Spurious
        )
    }
}

/// One segment.
#[derive(Clone, Copy, Debug)]
pub struct SegEvent {
    pub ts: Timestamp,
    pub frame: u64,
    pub side: Side,
    pub kind: SegKind,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    /// Payload: stream offsets `[start, end)` in the sender's direction.
    pub start: u64,
    pub end: u64,
    /// Cumulative ACK as a stream offset of the other direction.
    pub ack: Option<u64>,
    /// Receive window the sender advertised, in bytes (scaled).
    pub window: u64,
    pub ip_id: Option<u16>,
}

impl SegEvent {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// Events a timeline makes room for at its second segment.
const FIRST_GROWTH: usize = 16;

/// The recorded segments of one connection, in capture order.
#[derive(Debug, Default)]
pub struct Timeline {
    pub events: Vec<SegEvent>,
    pub truncated: bool,
}

impl Timeline {
    pub fn push(&mut self, e: SegEvent) {
        if self.events.len() < MAX_TIMELINE_EVENTS {
            // Room for exactly one event at first: most connections of a SYN
            // flood never send a second segment, and a default first growth
            // (4 events, 288 bytes) would cost 216 bytes each for nothing.
            // A second segment makes a real connection (most have dozens):
            // room for 16 then, rather than growing through 4 and 8 with a
            // copy each time. Later growth doubles as usual.
            match self.events.capacity() {
                0 => self.events.reserve_exact(1),
                1 => self.events.reserve_exact(FIRST_GROWTH - 1),
                _ => {}
            }
            self.events.push(e);
        } else {
            self.truncated = true;
        }
    }
}
