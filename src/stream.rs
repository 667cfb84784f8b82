//! The interface between TCP reassembly and the application layer.
//!
//! Reassembly turns each direction of a connection into an ordered sequence of
//! [`StreamItem`]s: contiguous bytes (with the frame and time that made them
//! contiguous), explicit gaps for bytes the capture never saw, and the end of
//! the direction. Consumers (the HTTP layer) never see packets.

use crate::time::Timestamp;

/// Who sent a segment or a byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    /// 0 for the client, 1 for the server: the index into per-side arrays.
    pub fn index(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// Contiguous bytes of one direction.
#[derive(Clone, Copy, Debug)]
pub struct Chunk<'a> {
    /// Stream offset of `bytes[0]`: bytes since the first byte after the SYN
    /// (or since the first byte seen, for a connection picked up mid-stream).
    pub offset: u64,
    pub bytes: &'a [u8],
    /// Time of the frame that made these bytes contiguous.
    pub ts: Timestamp,
    /// 1-based frame number of that frame (Wireshark's `frame.number`).
    pub frame: u64,
    /// Time these bytes were first seen on the wire (earlier than `ts` when
    /// they arrived out of order and waited for a hole to fill).
    pub first_seen: Timestamp,
}

/// Why a direction ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The sender's FIN.
    Fin,
    /// A RST from either side.
    Rst,
    /// The capture ended while the direction was still open.
    EndOfCapture,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Fin => "fin",
            EndReason::Rst => "rst",
            EndReason::EndOfCapture => "end_of_capture",
        }
    }
}

/// One item of a reassembled direction, in stream order.
#[derive(Clone, Copy, Debug)]
pub enum StreamItem<'a> {
    Data(Chunk<'a>),
    /// `len` bytes at `offset` that the capture never saw (acknowledged by the
    /// receiver, or skipped at the end or under memory pressure).
    Gap {
        offset: u64,
        len: u64,
        ts: Timestamp,
        frame: u64,
    },
    End {
        reason: EndReason,
        ts: Timestamp,
        frame: u64,
    },
}
