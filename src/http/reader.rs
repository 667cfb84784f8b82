//! Per-direction incremental message reader.
//!
//! Input: one direction's [`StreamItem`]s in stream order (data chunks, gaps,
//! the end). Output: calls on a [`Sink`]: a complete head (the sink answers
//! with the body's [`Framing`]), a gap skipped inside a body, the end of a
//! message, a message cut off, anomalies.
//!
//! How: between messages the reader skips empty lines, then scans for the end
//! of the head (an empty line: CRLF CRLF, or bare LF LF) from where the last
//! scan stopped, copying only the head's bytes, never more than
//! `max_head_bytes`. The complete head is parsed once ([`crate::http::parse`]).
//! Bodies are counted, never stored. After a gap in a head or in chunk
//! framing, or a malformed head, the direction is *lost* until a candidate
//! position holds a plausible start line (rule in [`crate::http`]); while
//! probing such a candidate, only its first line is buffered. Gaps and the
//! end of the direction are handled in `reader_edges.rs`.
//!
//! Timing: a message starts at `first_seen` of the chunk holding its first
//! byte, and ends at `ts` of the chunk holding its last byte (for a bodiless
//! message, the head's final LF; when the last body byte was in a gap, the
//! gap's time; for a close-delimited body ended by FIN, the FIN).
//!
//! Invariants: results do not depend on how the stream is cut into chunks
//! (apart from the timestamps and frames taken from them, and the chunk-start
//! resync candidates of a lost direction); the buffer never exceeds
//! `max_head_bytes`; no panic on any input.
//! Governing RFCs: RFC 9112 §2.2 (empty lines before a message), §6.3.

use crate::anomaly::Anomaly;
use crate::http::chunked::{ChunkedDecoder, Progress};
pub use crate::http::events::{
    Cut, CutReason, HeadEvent, HeadKind, MessageEnd, PartialHead, Sink, Span,
};
use crate::http::framing::Framing;
use crate::http::parse::{self, StartKind, StartLine};
use crate::http::sniff::{self, Verdict};
use crate::http::Role;
use crate::stream::{Chunk, Side, StreamItem};
use crate::time::Timestamp;

/// Head-buffer capacity kept between messages; a larger one is freed.
///
/// Source: our choice, a typical head size (most heads are under 1–2 KiB).
/// Trade-off: keeps idle connections small at the cost of a reallocation for
/// an unusually large head.
const RETAINED_BUFFER_BYTES: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Point {
    ts: Timestamp,
    frame: u64,
}

/// Terminator scan: what the bytes since the last line start look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Term {
    /// Inside a line.
    Mid,
    /// Just after an LF.
    Lf,
    /// After LF CR.
    LfCr,
}

/// The line-end state after `bytes` (no LF among them): one CR right after
/// an LF keeps the line empty so far; anything else makes it a line.
fn after_line_bytes(term: Term, bytes: &[u8]) -> Term {
    match (term, bytes) {
        (t, []) => t,
        (Term::Lf, [b'\r']) => Term::LfCr,
        _ => Term::Mid,
    }
}

/// Whether the start line is confirmed or still a candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScanMode {
    /// A resync candidate: must look like a start line.
    Probe,
    /// Answers an HTTP/0.9 request: a status line makes it a normal
    /// response, anything else is the first byte of a head-less body.
    MaybeSimple,
    /// First bytes inside a CONNECT tunnel: a request line means the tunnel
    /// carries plain HTTP; anything else is tunnel data.
    TunnelProbe,
    Confirmed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HeadScan {
    mode: ScanMode,
    /// First byte's time and frame, once a byte arrived.
    origin: Option<Point>,
    last: Point,
    term: Term,
    /// Index in the buffer of the first LF.
    first_lf: Option<usize>,
}

impl HeadScan {
    fn new(mode: ScanMode) -> Self {
        HeadScan {
            mode,
            origin: None,
            last: Point {
                ts: Timestamp(0),
                frame: 0,
            },
            term: Term::Mid,
            first_lf: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum BodyKind {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Body {
    kind: BodyKind,
    bytes: u64,
    last: Point,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Head(HeadScan),
    Body(Body),
    /// The connection switched protocols: bytes are counted only.
    Tunnel,
    /// Out of sync; `at_candidate` when the next byte is a candidate position.
    Lost {
        at_candidate: bool,
    },
    /// Ended, or gave up (head too large).
    Stopped,
}

/// Reads the messages of one direction.
#[derive(Clone, Debug)]
pub struct MessageReader {
    side: Side,
    role: Role,
    max_head_bytes: usize,
    state: State,
    /// The partial head (or resync candidate line); nothing else.
    buf: Vec<u8>,
    /// Where the LFs in `buf` are, found while scanning for the head's end,
    /// so that parsing it does not search for them again.
    lfs: Vec<u32>,
    tunnel_bytes: u64,
    /// Enter the tunnel once the current body ends.
    tunnel_after_body: bool,
}

/// Most consecutive loop turns that may consume nothing (state changes only).
///
/// Source: our own invariant; at most two such turns happen in a row (lost →
/// probe → simple-response body). A guard, so a bug cannot become a hang.
const MAX_IDLE_TURNS: u32 = 4;

impl MessageReader {
    /// A reader whose first byte is a candidate position: it probes for a
    /// start line there.
    pub fn new(side: Side, role: Role, max_head_bytes: usize) -> Self {
        let state = State::Head(HeadScan::new(ScanMode::Probe));
        MessageReader {
            side,
            role,
            max_head_bytes,
            state,
            buf: Vec::new(),
            lfs: Vec::new(),
            tunnel_bytes: 0,
            tunnel_after_body: false,
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// Bytes of memory held for buffering (capacity of the head buffer).
    pub fn buffered(&self) -> usize {
        self.buf.capacity()
    }

    /// Bytes seen (data and gaps) after the connection became a tunnel.
    pub fn tunnel_bytes(&self) -> u64 {
        self.tunnel_bytes
    }

    pub fn is_stopped(&self) -> bool {
        self.state == State::Stopped
    }

    /// The peer switched protocols: from now on (or after the current body),
    /// count bytes only.
    pub fn enter_tunnel(&mut self) {
        match self.state {
            State::Body(_) => self.tunnel_after_body = true,
            State::Head(_) | State::Lost { .. } => {
                self.tunnel_bytes = self.tunnel_bytes.saturating_add(self.buf.len() as u64);
                self.release_buffer();
                self.state = State::Tunnel;
            }
            State::Tunnel | State::Stopped => {}
        }
    }

    /// The peer accepted a CONNECT: count bytes from now on, unless the
    /// first ones are a request line. Returns true when the head already
    /// buffered shows that the tunnel carries HTTP.
    pub fn enter_tunnel_probing(&mut self) -> bool {
        match self.state {
            State::Head(mut scan) if scan.origin.is_none() => {
                scan.mode = ScanMode::TunnelProbe;
                self.state = State::Head(scan);
                false
            }
            State::Head(_) if sniff::plausible(self.role, &self.buf) == Verdict::Yes => true,
            _ => {
                self.enter_tunnel();
                false
            }
        }
    }

    /// The tunnel carries HTTP after all: parse again from the next byte.
    pub fn leave_tunnel(&mut self) {
        if self.state == State::Tunnel {
            self.state = State::Head(HeadScan::new(ScanMode::Probe));
        }
    }

    /// Feeds one item.
    pub fn push(&mut self, item: &StreamItem<'_>, sink: &mut dyn Sink) {
        match *item {
            StreamItem::Data(ref chunk) => self.data(chunk, sink),
            StreamItem::Gap {
                offset,
                len,
                ts,
                frame,
            } => self.gap(offset, len, Point { ts, frame }, sink),
            StreamItem::End { reason, ts, frame } => {
                self.close(reason, Some(Point { ts, frame }), sink)
            }
        }
    }

    fn data(&mut self, chunk: &Chunk<'_>, sink: &mut dyn Sink) {
        // A lost direction probes the start of every chunk: a sender often
        // starts a message in a new segment (the only resync rule that
        // depends on chunk boundaries; see the module docs of `http`).
        if self.state
            == (State::Lost {
                at_candidate: false,
            })
        {
            self.state = State::Lost { at_candidate: true };
        }
        let len = chunk.bytes.len();
        let mut pos = 0usize;
        let mut idle_turns = 0u32;
        while pos < len {
            let before = pos;
            pos = match self.state {
                State::Head(_) => self.head_data(chunk, pos, sink),
                State::Body(_) => self.body_data(chunk, pos, sink),
                State::Tunnel => {
                    let n = len.saturating_sub(pos) as u64;
                    self.tunnel_bytes = self.tunnel_bytes.saturating_add(n);
                    len
                }
                State::Lost { at_candidate } => self.lost_data(chunk, pos, at_candidate),
                State::Stopped => len,
            };
            if pos > before {
                idle_turns = 0;
            } else {
                idle_turns = idle_turns.saturating_add(1);
                debug_assert!(idle_turns <= MAX_IDLE_TURNS, "reader made no progress");
                if idle_turns > MAX_IDLE_TURNS {
                    return;
                }
            }
        }
    }

    fn start_kind(&self) -> StartKind {
        match self.role {
            Role::Request => StartKind::Request,
            Role::Response => StartKind::Status,
        }
    }

    fn anomaly(&self, sink: &mut dyn Sink, kind: &'static str, frame: u64, what: &str) {
        let detail = format!("{} data, frame {frame}: {what}", self.side.as_str());
        sink.anomaly(Anomaly::new(kind, detail));
    }

    fn release_buffer(&mut self) {
        self.buf.clear();
        self.lfs.clear();
        if self.buf.capacity() > RETAINED_BUFFER_BYTES {
            self.buf = Vec::new();
        }
    }

    /// Appends to the head buffer, never growing its capacity past the cap.
    fn append(&mut self, bytes: &[u8]) {
        let needed = self.buf.len().saturating_add(bytes.len());
        if needed > self.buf.capacity() {
            let target = needed
                .max(self.buf.capacity().saturating_mul(2))
                .min(self.max_head_bytes.max(needed));
            self.buf
                .reserve_exact(target.saturating_sub(self.buf.len()));
        }
        self.buf.extend_from_slice(bytes);
    }

    fn next_message(&mut self) {
        self.state = if self.tunnel_after_body {
            State::Tunnel
        } else {
            State::Head(HeadScan::new(ScanMode::Confirmed))
        };
    }

    fn lost_data(&mut self, chunk: &Chunk<'_>, pos: usize, at_candidate: bool) -> usize {
        if at_candidate {
            self.state = State::Head(HeadScan::new(ScanMode::Probe));
            return pos;
        }
        let rest = chunk.bytes.get(pos..).unwrap_or_default();
        match rest.iter().position(|&b| b == b'\n') {
            Some(lf) => {
                self.state = State::Lost { at_candidate: true };
                pos.saturating_add(lf).saturating_add(1)
            }
            None => chunk.bytes.len(),
        }
    }

    fn head_data(&mut self, chunk: &Chunk<'_>, pos: usize, sink: &mut dyn Sink) -> usize {
        let State::Head(mut scan) = self.state else {
            return pos;
        };
        let rest = chunk.bytes.get(pos..).unwrap_or_default();
        let here = Point {
            ts: chunk.ts,
            frame: chunk.frame,
        };
        let mut i = 0usize;
        if scan.origin.is_none() {
            // Empty lines before a message are ignored (RFC 9112 §2.2).
            i = rest
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            if i == rest.len() {
                return pos.saturating_add(i);
            }
            if self.role == Role::Response && sink.simple_response_expected() {
                scan.mode = ScanMode::MaybeSimple;
            }
            scan.origin = Some(Point {
                ts: chunk.first_seen,
                frame: chunk.frame,
            });
        }
        let batch_start = i;
        let mut complete = false;
        let mut first_line_ended = false;
        // Line by line (memchr finds each LF): the bytes before an LF only
        // decide whether the line was empty ("" or a lone CR after an LF).
        while i < rest.len() {
            let from = i;
            let lf = memchr::memchr(b'\n', rest.get(from..).unwrap_or_default());
            let line_end = lf.map_or(rest.len(), |k| from.saturating_add(k));
            scan.term = after_line_bytes(scan.term, rest.get(from..line_end).unwrap_or_default());
            if lf.is_none() {
                i = rest.len();
                break;
            }
            i = line_end.saturating_add(1);
            let at = self.buf.len().saturating_add(line_end - batch_start);
            self.lfs.push(u32::try_from(at).unwrap_or(u32::MAX));
            if matches!(scan.term, Term::Lf | Term::LfCr) {
                complete = true;
                break;
            }
            scan.term = Term::Lf;
            if scan.first_lf.is_none() {
                let in_batch = i.saturating_sub(batch_start).saturating_sub(1);
                scan.first_lf = Some(self.buf.len().saturating_add(in_batch));
                first_line_ended = true;
                break;
            }
        }
        let batch = rest.get(batch_start..i).unwrap_or_default();
        let consumed = pos.saturating_add(i);
        // Keep what fits under the cap, so that an overflowing head is cut at
        // the same byte whatever the chunk boundaries.
        let room = self.max_head_bytes.saturating_sub(self.buf.len());
        let overflow = batch.len() > room;
        self.append(batch.get(..room).unwrap_or(batch));
        scan.last = here;
        if scan.mode == ScanMode::MaybeSimple {
            match sniff::status_line_start(&self.buf) {
                Verdict::Yes => scan.mode = ScanMode::Confirmed,
                Verdict::NeedMore if !overflow => {}
                Verdict::NeedMore | Verdict::No => {
                    self.become_simple(scan, sink);
                    return consumed;
                }
            }
        }
        if scan.mode == ScanMode::TunnelProbe {
            match sniff::plausible(self.role, &self.buf) {
                Verdict::Yes => {
                    scan.mode = ScanMode::Confirmed;
                    sink.tunnel_carries_http();
                }
                Verdict::NeedMore if !overflow => {}
                Verdict::NeedMore | Verdict::No => {
                    self.state = State::Head(scan);
                    self.enter_tunnel();
                    return consumed;
                }
            }
        }
        if scan.mode == ScanMode::Probe {
            match sniff::plausible(self.role, &self.buf) {
                Verdict::Yes => scan.mode = ScanMode::Confirmed,
                Verdict::NeedMore if !overflow => {}
                Verdict::NeedMore | Verdict::No => {
                    self.release_buffer();
                    self.state = State::Lost {
                        at_candidate: batch.last() == Some(&b'\n'),
                    };
                    return consumed;
                }
            }
        }
        if overflow {
            self.state = State::Head(scan);
            self.head_too_large(sink, here);
            return consumed;
        }
        self.state = State::Head(scan);
        if first_line_ended && self.role == Role::Request {
            // An HTTP/0.9 simple request is a single line.
            let line = scan
                .first_lf
                .and_then(|lf| self.buf.get(..lf))
                .unwrap_or_default();
            complete = parse::is_simple_request_line(line);
        }
        if complete {
            self.complete_head(scan, sink);
        }
        consumed
    }

    /// The bytes buffered while deciding are the start of a head-less
    /// HTTP/0.9 response body.
    fn become_simple(&mut self, scan: HeadScan, sink: &mut dyn Sink) {
        let origin = scan.origin.unwrap_or(scan.last);
        let span = Span {
            start: origin.ts,
            first_frame: origin.frame,
            end: scan.last.ts,
            last_frame: scan.last.frame,
        };
        let event = HeadEvent {
            kind: HeadKind::SimpleResponse,
            span,
            head_bytes: 0,
        };
        let held = self.buf.len() as u64;
        self.release_buffer();
        let framing = sink.head(self.role, event);
        self.begin_body(framing, scan.last, sink);
        if let State::Body(body) = &mut self.state {
            body.bytes = held;
        }
    }

    fn head_too_large(&mut self, sink: &mut dyn Sink, here: Point) {
        let what = format!("head over {} bytes; direction stopped", self.max_head_bytes);
        self.anomaly(sink, "http_head_too_large", here.frame, &what);
        if let Some(partial) = self.partial_head() {
            sink.cut(
                self.role,
                Cut {
                    reason: CutReason::HeadTooLarge,
                    progress: no_body(partial.span),
                    partial: Some(partial),
                },
            );
        }
        self.buf = Vec::new();
        self.lfs = Vec::new();
        self.state = State::Stopped;
    }

    /// The confirmed head in progress, if any.
    fn partial_head(&self) -> Option<PartialHead> {
        let State::Head(scan) = self.state else {
            return None;
        };
        let origin = scan.origin.filter(|_| scan.mode == ScanMode::Confirmed)?;
        let start = match scan.first_lf.and_then(|lf| self.buf.get(..lf)) {
            Some(line) => parse::parse_start_line(self.start_kind(), line).ok(),
            None => parse::parse_truncated_start_line(self.start_kind(), &self.buf),
        };
        Some(PartialHead {
            start,
            span: Span {
                start: origin.ts,
                first_frame: origin.frame,
                end: scan.last.ts,
                last_frame: scan.last.frame,
            },
            head_bytes: self.buf.len() as u64,
        })
    }

    fn complete_head(&mut self, scan: HeadScan, sink: &mut dyn Sink) {
        let origin = scan.origin.unwrap_or(scan.last);
        let span = Span {
            start: origin.ts,
            first_frame: origin.frame,
            end: scan.last.ts,
            last_frame: scan.last.frame,
        };
        let head_bytes = self.buf.len() as u64;
        debug_assert!(
            self.lfs
                .iter()
                .map(|&p| p as usize)
                .eq(memchr::memchr_iter(b'\n', &self.buf)),
            "the scan recorded every LF of the head"
        );
        let parsed = parse::parse_head_at(self.start_kind(), &self.buf, &self.lfs);
        self.release_buffer();
        match parsed {
            Err(e) => {
                self.anomaly(sink, e.kind(), scan.last.frame, "unparsable head skipped");
                self.state = State::Lost { at_candidate: true };
            }
            Ok(head) => {
                let simple = matches!(&head.start, StartLine::Request(r) if r.is_simple());
                for kind in &head.leniencies {
                    self.anomaly(sink, kind, scan.last.frame, "tolerated in head");
                }
                let event = HeadEvent {
                    kind: HeadKind::Parsed(head),
                    span,
                    head_bytes,
                };
                let framing = sink.head(self.role, event);
                self.begin_body(framing, scan.last, sink);
                // After a one-line HTTP/0.9 request, whatever follows (often
                // the header lines of a malformed request) must look like a
                // request line before it is parsed as one.
                if simple {
                    if let State::Head(next) = &mut self.state {
                        next.mode = ScanMode::Probe;
                    }
                }
            }
        }
    }

    fn begin_body(&mut self, framing: Framing, at: Point, sink: &mut dyn Sink) {
        let body = |kind| {
            State::Body(Body {
                kind,
                bytes: 0,
                last: at,
            })
        };
        let ended = MessageEnd {
            end: at.ts,
            last_frame: at.frame,
            body_bytes: 0,
            decoded: None,
        };
        match framing {
            Framing::NoBody | Framing::Length(0) => {
                sink.end(self.role, ended);
                self.next_message();
            }
            Framing::Length(n) => self.state = body(BodyKind::Length(n)),
            Framing::Chunked => self.state = body(BodyKind::Chunked(ChunkedDecoder::new())),
            Framing::UntilClose => self.state = body(BodyKind::UntilClose),
            Framing::Tunnel => {
                sink.end(self.role, ended);
                self.state = State::Tunnel;
            }
            Framing::Unframable => {
                sink.end(self.role, ended);
                self.state = State::Lost { at_candidate: true };
            }
        }
    }

    fn body_progress(body: &Body) -> MessageEnd {
        MessageEnd {
            end: body.last.ts,
            last_frame: body.last.frame,
            body_bytes: body.bytes,
            decoded: match &body.kind {
                BodyKind::Chunked(d) => Some(d.decoded()),
                _ => None,
            },
        }
    }

    fn finish_body(&mut self, body: &Body, sink: &mut dyn Sink) {
        sink.end(self.role, Self::body_progress(body));
        self.next_message();
    }

    fn body_data(&mut self, chunk: &Chunk<'_>, pos: usize, sink: &mut dyn Sink) -> usize {
        let mut body = match std::mem::replace(&mut self.state, State::Stopped) {
            State::Body(body) => body,
            other => {
                self.state = other;
                return pos;
            }
        };
        let rest = chunk.bytes.get(pos..).unwrap_or_default();
        let here = Point {
            ts: chunk.ts,
            frame: chunk.frame,
        };
        let (taken, outcome) = match &mut body.kind {
            BodyKind::Length(remaining) => {
                let take = usize::try_from(*remaining).map_or(rest.len(), |r| r.min(rest.len()));
                *remaining = remaining.saturating_sub(take as u64);
                let outcome = if *remaining == 0 {
                    Progress::Done
                } else {
                    Progress::NeedMore
                };
                (take, outcome)
            }
            BodyKind::Chunked(decoder) => decoder.feed(rest),
            BodyKind::UntilClose => (rest.len(), Progress::NeedMore),
        };
        body.bytes = body.bytes.saturating_add(taken as u64);
        if taken > 0 {
            body.last = here;
        }
        match outcome {
            Progress::NeedMore => self.state = State::Body(body),
            Progress::Done => self.finish_body(&body, sink),
            Progress::Failed(e) => {
                self.anomaly(sink, e.kind(), chunk.frame, "chunked framing lost");
                let cut = Cut {
                    reason: CutReason::BadChunk,
                    progress: Self::body_progress(&body),
                    partial: None,
                };
                sink.cut(self.role, cut);
                let last = rest.get(..taken).and_then(|t| t.last());
                self.state = State::Lost {
                    at_candidate: last == Some(&b'\n'),
                };
            }
        }
        pos.saturating_add(taken)
    }
}

/// Progress of a message cut inside its head.
pub(super) fn no_body(span: Span) -> MessageEnd {
    MessageEnd {
        end: span.end,
        last_frame: span.last_frame,
        body_bytes: 0,
        decoded: None,
    }
}

#[path = "reader_edges.rs"]
mod edges;

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
