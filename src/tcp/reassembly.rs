//! Reassembly of one direction's bytes into in-order [`StreamItem`]s.
//!
//! Input: segments as absolute 64-bit positions (see [`super::seq`]), the
//! peer's cumulative ACKs, the FIN position, and the end of the connection.
//! Output: items passed to a sink in stream order: contiguous bytes as soon as
//! they are contiguous, explicit gaps for bytes the capture never saw, and one
//! `End`.
//!
//! Policy (Zeek's, see the style guide §3.5):
//! - The first copy of a byte wins; retransmitted bytes already delivered are
//!   dropped here (the tracker classifies them).
//! - Out-of-order bytes wait in a buffer capped at [`MAX_BUFFERED_BYTES`] per
//!   direction. Past the cap, the hole below the buffer is declared a gap and
//!   the buffer delivered, so memory stays bounded whatever the capture holds.
//! - A hole is declared a gap only on evidence: the receiver ACKed past it
//!   (the capture missed the bytes), the capture or connection ended, or the
//!   cap was hit. Never because "the other side spoke".
//! - Bytes a snaplen cut from a segment are a gap at their place in order.

use std::collections::BTreeMap;

use crate::stream::{Chunk, EndReason, StreamItem};
use crate::time::Timestamp;

/// Out-of-order bytes buffered per direction before a hole is given up.
/// 4 MiB covers a window of several hundred segments on a fast path while
/// keeping 1000 live damaged connections under 4 GiB in the worst case; the
/// common case buffers nothing.
pub const MAX_BUFFERED_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug)]
enum Held {
    Bytes(Vec<u8>),
    /// Sent but not captured (snaplen): this many bytes.
    Missing(u64),
}

impl Held {
    fn len(&self) -> u64 {
        match self {
            Held::Bytes(b) => b.len() as u64,
            Held::Missing(n) => *n,
        }
    }
}

#[derive(Debug)]
struct Pending {
    held: Held,
    first_seen: Timestamp,
    /// The frame that brought these bytes.
    frame: u64,
}

/// What became of a segment's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// All of it was delivered before: a retransmission (or duplicate).
    AlreadyDelivered,
    /// It starts at or below the delivery point and extends it.
    InOrder,
    /// It lies beyond a hole and was buffered.
    Buffered,
    /// The direction has ended; ignored.
    AfterEnd,
}

/// The reassembly state of one direction.
#[derive(Debug, Default)]
pub struct Reassembler {
    /// Absolute position of stream offset 0; set once.
    base: Option<u64>,
    /// Next absolute position to deliver.
    next: u64,
    pending: BTreeMap<u64, Pending>,
    pending_bytes: usize,
    fin_pos: Option<u64>,
    ended: bool,
    /// Keep no bytes (the application layer lost interest); positions and
    /// gaps are still tracked.
    discard: bool,
    /// Bytes declared missing so far.
    pub gap_bytes: u64,
    /// Times the buffer cap forced a gap.
    pub cap_hits: u64,
}

impl Reassembler {
    /// Sets where stream offset 0 is (first byte after the SYN, or the first
    /// byte seen on a connection picked up mid-stream). Later calls are ignored.
    pub fn set_base(&mut self, pos: u64) {
        if self.base.is_none() {
            self.base = Some(pos);
            self.next = pos;
        }
    }

    pub fn base(&self) -> Option<u64> {
        self.base
    }

    /// Next absolute position to deliver.
    pub fn next_pos(&self) -> u64 {
        self.next
    }

    pub fn has_ended(&self) -> bool {
        self.ended
    }

    /// Stop keeping bytes (nothing downstream wants them).
    pub fn set_discard(&mut self) {
        self.discard = true;
        self.pending_bytes = 0;
        for p in self.pending.values_mut() {
            if let Held::Bytes(b) = &p.held {
                p.held = Held::Missing(b.len() as u64);
            }
        }
    }

    /// True when `[pos, pos+len)` overlaps bytes already delivered or buffered.
    pub fn seen_before(&self, pos: u64, len: u64) -> bool {
        if pos < self.next {
            return true;
        }
        let end = pos.saturating_add(len);
        self.pending
            .range(..end)
            .next_back()
            .is_some_and(|(s, p)| s.saturating_add(p.held.len()) > pos)
    }

    /// Offers a segment at absolute `pos` that the sender sent with `seg_len`
    /// bytes, of which `captured` were captured.
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        pos: u64,
        seg_len: u64,
        captured: &[u8],
        ts: Timestamp,
        frame: u64,
        sink: &mut dyn FnMut(&StreamItem<'_>),
    ) -> Placement {
        if self.ended {
            return Placement::AfterEnd;
        }
        let Some(base) = self.base else {
            return Placement::AfterEnd;
        };
        let end = pos.saturating_add(seg_len);
        if end <= self.next || seg_len == 0 {
            return Placement::AlreadyDelivered;
        }
        let captured = captured.get(..seg_len as usize).unwrap_or(captured);
        if pos <= self.next {
            let skip = (self.next - pos) as usize;
            let cap_end = pos + captured.len() as u64;
            if cap_end > self.next {
                let bytes = captured.get(skip..).unwrap_or(&[]);
                self.emit_data(base, self.next, bytes, ts, ts, frame, sink);
                self.next = cap_end;
            }
            if end > self.next {
                // The snaplen cut the rest of this segment.
                self.emit_gap(base, end - self.next, ts, frame, sink);
                self.next = end;
            }
            self.drain(base, ts, frame, sink);
            self.check_fin(base, ts, frame, sink);
            return Placement::InOrder;
        }
        self.buffer(pos, seg_len, captured, ts, frame);
        if self.pending_bytes > MAX_BUFFERED_BYTES {
            self.cap_hits += 1;
            self.force_first_hole(base, ts, frame, sink);
        }
        Placement::Buffered
    }

    fn buffer(&mut self, pos: u64, seg_len: u64, captured: &[u8], ts: Timestamp, frame: u64) {
        if self.seen_before(pos, seg_len) && self.pending.contains_key(&pos) {
            // Same start buffered already: keep the first copy unless this one is longer.
            if self
                .pending
                .get(&pos)
                .is_some_and(|p| p.held.len() >= seg_len)
            {
                return;
            }
            if let Some(old) = self.pending.remove(&pos) {
                if let Held::Bytes(b) = old.held {
                    self.pending_bytes -= b.len();
                }
            }
        }
        let cap_len = captured.len() as u64;
        if cap_len > 0 {
            let held = if self.discard {
                Held::Missing(cap_len)
            } else {
                self.pending_bytes += captured.len();
                Held::Bytes(captured.to_vec())
            };
            self.pending.insert(
                pos,
                Pending {
                    held,
                    first_seen: ts,
                    frame,
                },
            );
        }
        if seg_len > cap_len {
            self.pending.entry(pos + cap_len).or_insert(Pending {
                held: Held::Missing(seg_len - cap_len),
                first_seen: ts,
                frame,
            });
        }
    }

    /// Delivers buffered items that have become contiguous.
    fn drain(
        &mut self,
        base: u64,
        ts: Timestamp,
        frame: u64,
        sink: &mut dyn FnMut(&StreamItem<'_>),
    ) {
        self.drain_as(base, ts, frame, false, sink);
    }

    /// Delivers buffered items that have become contiguous. `after_gap`:
    /// they became contiguous only because the hole below them was declared
    /// a capture gap, so each keeps its own arrival (time and frame): the
    /// receiver had them then, the declaring segment only told us so.
    fn drain_as(
        &mut self,
        base: u64,
        ts: Timestamp,
        frame: u64,
        after_gap: bool,
        sink: &mut dyn FnMut(&StreamItem<'_>),
    ) {
        while let Some(entry) = self.pending.first_entry() {
            let start = *entry.key();
            if start > self.next {
                break;
            }
            let p = entry.remove();
            let len = p.held.len();
            if let Held::Bytes(b) = &p.held {
                self.pending_bytes -= b.len();
            }
            let end = start + len;
            if end <= self.next {
                continue;
            }
            let skip = (self.next - start) as usize;
            match &p.held {
                Held::Bytes(b) => {
                    let bytes = b.get(skip..).unwrap_or(&[]);
                    let (t, f) = if after_gap {
                        (p.first_seen, p.frame)
                    } else {
                        (ts, frame)
                    };
                    self.emit_data(base, self.next, bytes, t, p.first_seen, f, sink);
                }
                Held::Missing(_) => self.emit_gap(base, end - self.next, ts, frame, sink),
            }
            self.next = end;
        }
    }

    /// The peer acknowledged everything below `ack_pos`: any hole below it
    /// was sent but not captured.
    pub fn ack(
        &mut self,
        ack_pos: u64,
        ts: Timestamp,
        frame: u64,
        sink: &mut dyn FnMut(&StreamItem<'_>),
    ) -> u64 {
        let Some(base) = self.base else { return 0 };
        if self.ended {
            return 0;
        }
        // An ACK of the FIN covers one sequence number that is not data.
        let limit = match self.fin_pos {
            Some(f) => ack_pos.min(f),
            None => ack_pos,
        };
        let mut declared = 0;
        while self.next < limit {
            let next_start = self.pending.keys().next().copied();
            match next_start {
                Some(s) if s <= self.next => self.drain_as(base, ts, frame, true, sink),
                Some(s) if s < limit => {
                    declared += s - self.next;
                    self.emit_gap(base, s - self.next, ts, frame, sink);
                    self.next = s;
                }
                _ => {
                    declared += limit - self.next;
                    self.emit_gap(base, limit - self.next, ts, frame, sink);
                    self.next = limit;
                }
            }
        }
        self.drain_as(base, ts, frame, declared > 0, sink);
        self.check_fin(base, ts, frame, sink);
        declared
    }

    /// The sender's FIN occupies position `pos` (after its last data byte).
    pub fn fin(
        &mut self,
        pos: u64,
        ts: Timestamp,
        frame: u64,
        sink: &mut dyn FnMut(&StreamItem<'_>),
    ) {
        if self.fin_pos.is_none() {
            self.fin_pos = Some(pos);
        }
        if let Some(base) = self.base {
            self.check_fin(base, ts, frame, sink);
        }
    }

    fn check_fin(
        &mut self,
        _base: u64,
        ts: Timestamp,
        frame: u64,
        sink: &mut dyn FnMut(&StreamItem<'_>),
    ) {
        if let Some(f) = self.fin_pos {
            if self.next >= f && !self.ended {
                self.ended = true;
                sink(&StreamItem::End {
                    reason: EndReason::Fin,
                    ts,
                    frame,
                });
                self.pending.clear();
                self.pending_bytes = 0;
            }
        }
    }

    /// Ends the direction: every remaining hole becomes a gap, every buffered
    /// byte is delivered, then `End(reason)` (unless a FIN already ended it).
    pub fn finish(
        &mut self,
        reason: EndReason,
        ts: Timestamp,
        frame: u64,
        sink: &mut dyn FnMut(&StreamItem<'_>),
    ) {
        if self.ended {
            return;
        }
        if let Some(base) = self.base {
            while !self.pending.is_empty() {
                self.force_first_hole(base, ts, frame, sink);
            }
            if let Some(f) = self.fin_pos {
                if f > self.next {
                    self.emit_gap(base, f - self.next, ts, frame, sink);
                    self.next = f;
                }
                self.check_fin(base, ts, frame, sink);
                if self.ended {
                    return;
                }
            }
        }
        self.ended = true;
        sink(&StreamItem::End { reason, ts, frame });
    }

    /// Declares the hole below the lowest buffered segment a gap and delivers
    /// what becomes contiguous.
    fn force_first_hole(
        &mut self,
        base: u64,
        ts: Timestamp,
        frame: u64,
        sink: &mut dyn FnMut(&StreamItem<'_>),
    ) {
        if let Some(&s) = self.pending.keys().next() {
            if s > self.next {
                self.emit_gap(base, s - self.next, ts, frame, sink);
                self.next = s;
            }
            self.drain_as(base, ts, frame, true, sink);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_data(
        &mut self,
        base: u64,
        pos: u64,
        bytes: &[u8],
        ts: Timestamp,
        first_seen: Timestamp,
        frame: u64,
        sink: &mut dyn FnMut(&StreamItem<'_>),
    ) {
        if bytes.is_empty() {
            return;
        }
        if self.discard {
            return;
        }
        sink(&StreamItem::Data(Chunk {
            offset: pos - base,
            bytes,
            ts,
            frame,
            first_seen,
        }));
    }

    fn emit_gap(
        &mut self,
        base: u64,
        len: u64,
        ts: Timestamp,
        frame: u64,
        sink: &mut dyn FnMut(&StreamItem<'_>),
    ) {
        if len == 0 {
            return;
        }
        self.gap_bytes += len;
        if self.discard {
            return;
        }
        sink(&StreamItem::Gap {
            offset: self.next.saturating_sub(base),
            len,
            ts,
            frame,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Item {
        D(u64, Vec<u8>, u64),
        G(u64, u64),
        E(EndReason),
    }

    fn collect(out: &mut Vec<Item>) -> impl FnMut(&StreamItem<'_>) + '_ {
        |it| match it {
            StreamItem::Data(c) => out.push(Item::D(c.offset, c.bytes.to_vec(), c.frame)),
            StreamItem::Gap { offset, len, .. } => out.push(Item::G(*offset, *len)),
            StreamItem::End { reason, .. } => out.push(Item::E(*reason)),
        }
    }

    #[test]
    fn in_order_out_of_order_and_retransmission() {
        let mut r = Reassembler::default();
        r.set_base(100);
        let mut out = Vec::new();
        let mut sink = collect(&mut out);
        let t = Timestamp(0);
        assert_eq!(
            r.segment(100, 3, b"abc", t, 1, &mut sink),
            Placement::InOrder
        );
        assert_eq!(
            r.segment(106, 3, b"ghi", t, 2, &mut sink),
            Placement::Buffered
        );
        assert_eq!(
            r.segment(100, 3, b"XXX", t, 3, &mut sink),
            Placement::AlreadyDelivered
        );
        assert_eq!(
            r.segment(102, 5, b"cdefg", t, 4, &mut sink),
            Placement::InOrder
        );
        r.fin(109, t, 5, &mut sink);
        drop(sink);
        assert_eq!(
            out,
            vec![
                Item::D(0, b"abc".to_vec(), 1),
                Item::D(3, b"defg".to_vec(), 4),
                Item::D(7, b"hi".to_vec(), 4),
                Item::E(EndReason::Fin),
            ]
        );
    }

    #[test]
    fn ack_past_hole_declares_capture_gap() {
        let mut r = Reassembler::default();
        r.set_base(0);
        let mut out = Vec::new();
        let mut sink = collect(&mut out);
        let t = Timestamp(0);
        r.segment(0, 2, b"ab", t, 1, &mut sink);
        r.segment(5, 2, b"fg", t, 2, &mut sink);
        assert_eq!(r.ack(9, t, 3, &mut sink), 5);
        r.finish(EndReason::EndOfCapture, t, 4, &mut sink);
        drop(sink);
        assert_eq!(
            out,
            vec![
                Item::D(0, b"ab".to_vec(), 1),
                Item::G(2, 3),
                Item::D(5, b"fg".to_vec(), 2),
                Item::G(7, 2),
                Item::E(EndReason::EndOfCapture),
            ]
        );
        assert_eq!(r.gap_bytes, 5);
    }

    #[test]
    fn snaplen_cut_becomes_gap_in_place() {
        let mut r = Reassembler::default();
        r.set_base(0);
        let mut out = Vec::new();
        let mut sink = collect(&mut out);
        let t = Timestamp(0);
        r.segment(0, 10, b"abc", t, 1, &mut sink);
        r.segment(10, 2, b"kl", t, 2, &mut sink);
        drop(sink);
        assert_eq!(
            out,
            vec![
                Item::D(0, b"abc".to_vec(), 1),
                Item::G(3, 7),
                Item::D(10, b"kl".to_vec(), 2)
            ]
        );
    }

    #[test]
    fn buffer_cap_forces_gap() {
        let mut r = Reassembler::default();
        r.set_base(0);
        let mut gaps = 0u64;
        let mut sink = |it: &StreamItem<'_>| {
            if let StreamItem::Gap { len, .. } = it {
                gaps += len
            }
        };
        let chunk = vec![0u8; 64 * 1024];
        let mut pos = 1000;
        for i in 0..100u64 {
            r.segment(pos, chunk.len() as u64, &chunk, Timestamp(0), i, &mut sink);
            pos += chunk.len() as u64;
            assert!(r.pending_bytes <= MAX_BUFFERED_BYTES);
        }
        assert_eq!(r.cap_hits, 1);
        assert_eq!(gaps, 1000);
    }

    #[test]
    fn rst_with_holes_flushes() {
        let mut r = Reassembler::default();
        r.set_base(0);
        let mut out = Vec::new();
        let mut sink = collect(&mut out);
        r.segment(4, 2, b"ef", Timestamp(0), 1, &mut sink);
        r.finish(EndReason::Rst, Timestamp(1), 2, &mut sink);
        r.finish(EndReason::Rst, Timestamp(1), 3, &mut sink);
        drop(sink);
        assert_eq!(
            out,
            vec![
                Item::G(0, 4),
                Item::D(4, b"ef".to_vec(), 1),
                Item::E(EndReason::Rst)
            ]
        );
    }
}
