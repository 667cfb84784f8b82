//! What a [`MessageReader`](crate::http::reader::MessageReader) reports, and
//! the [`Sink`] trait it reports to.
//!
//! Role: the vocabulary between the per-direction reader (which finds message
//! boundaries) and the pairing (which decides framing and builds
//! transactions). Inputs/outputs: plain data; no behaviour beyond
//! [`CutReason::label`]. Invariant: a reader calls `head` once per message
//! start, then exactly one of `end` / `cut` for it (a head that never
//! completed is reported by `cut` with `partial`).

use crate::anomaly::Anomaly;
use crate::http::framing::Framing;
use crate::http::parse::{Head, StartLine};
use crate::http::Role;
use crate::stream::EndReason;
use crate::time::Timestamp;

/// Where a message (or its head) lies in the capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub start: Timestamp,
    pub first_frame: u64,
    pub end: Timestamp,
    pub last_frame: u64,
}

/// What started the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeadKind {
    Parsed(Head),
    /// The head-less response to an HTTP/0.9 simple request.
    SimpleResponse,
}

/// A complete head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadEvent {
    pub kind: HeadKind,
    /// From the first byte to the chunk holding the head's last byte.
    pub span: Span,
    pub head_bytes: u64,
}

/// How far a message got: its end and its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageEnd {
    pub end: Timestamp,
    pub last_frame: u64,
    /// Wire bytes after the head (chunk framing and gap bytes included).
    pub body_bytes: u64,
    /// Payload bytes of a chunked body.
    pub decoded: Option<u64>,
}

/// Why a message did not end normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutReason {
    End(EndReason),
    GapInHead,
    GapInFraming,
    HeadTooLarge,
    BadChunk,
}

impl CutReason {
    /// The transaction's `incomplete` reason.
    pub fn label(self, role: Role) -> String {
        match self {
            CutReason::End(r) => format!("{}_cut_by_{}", role.as_str(), r.as_str()),
            CutReason::GapInHead => "gap_in_head".to_owned(),
            CutReason::GapInFraming => "gap_in_framing".to_owned(),
            CutReason::HeadTooLarge => "head_too_large".to_owned(),
            CutReason::BadChunk => "bad_chunked_framing".to_owned(),
        }
    }
}

/// A head that was never completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartialHead {
    /// The start line, when its line was complete and parsed.
    pub start: Option<StartLine>,
    pub span: Span,
    pub head_bytes: u64,
}

/// A message cut off. With `partial`, its head was never completed (the sink
/// saw no head for it); without, the current message was cut in its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    pub reason: CutReason,
    pub progress: MessageEnd,
    pub partial: Option<PartialHead>,
}

/// Receives what a reader finds.
pub trait Sink {
    /// A head is complete; the answer is the framing of its body.
    fn head(&mut self, role: Role, event: HeadEvent) -> Framing;
    /// A gap inside the current body was skipped; framing survives.
    fn body_gap(&mut self, role: Role);
    /// The current message ended normally.
    fn end(&mut self, role: Role, end: MessageEnd);
    fn cut(&mut self, role: Role, cut: Cut);
    fn anomaly(&mut self, anomaly: Anomaly);
    /// A gap between responses swallowed the start of the next one.
    fn response_start_lost(&mut self, ts: Timestamp, frame: u64);
    /// The client's first bytes in a CONNECT tunnel are an HTTP request.
    fn tunnel_carries_http(&mut self);
    /// Whether the next response answers an HTTP/0.9 simple request.
    fn simple_response_expected(&self) -> bool;
}
