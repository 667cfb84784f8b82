//! The edges of a direction's stream for [`MessageReader`]: gaps (skipped
//! inside a body of known size, otherwise the direction is lost) and the end
//! (FIN, RST, end of capture), which closes or cuts the open message.
//!
//! Split from `reader.rs` only for size; the rules are in [`crate::http`].

use super::{no_body, Body, BodyKind, MessageReader, Point, ScanMode, State};
use crate::http::events::{Cut, CutReason, Sink};
use crate::http::Role;
use crate::stream::EndReason;

impl MessageReader {
    pub(super) fn gap(&mut self, offset: u64, len: u64, at: Point, sink: &mut dyn Sink) {
        match std::mem::replace(&mut self.state, State::Stopped) {
            State::Head(scan) if scan.mode == ScanMode::TunnelProbe => {
                self.state = State::Head(scan);
                self.enter_tunnel();
                self.tunnel_bytes = self.tunnel_bytes.saturating_add(len);
            }
            State::Head(scan) => {
                self.state = State::Head(scan);
                if let Some(partial) = self.partial_head() {
                    let what = format!("{len} bytes missing at offset {offset}");
                    self.anomaly(sink, "gap_in_http_head", at.frame, &what);
                    let cut = Cut {
                        reason: CutReason::GapInHead,
                        progress: no_body(partial.span),
                        partial: Some(partial),
                    };
                    sink.cut(self.role, cut);
                } else if scan.origin.is_none() && self.role == Role::Response {
                    // Between responses: the hole holds the next one's start.
                    sink.response_start_lost(at.ts, at.frame);
                }
                self.release_buffer();
                self.state = State::Lost { at_candidate: true };
            }
            State::Body(body) => self.body_gap(body, len, at, sink),
            State::Tunnel => {
                self.tunnel_bytes = self.tunnel_bytes.saturating_add(len);
                self.state = State::Tunnel;
            }
            State::Lost { .. } => self.state = State::Lost { at_candidate: true },
            State::Stopped => {}
        }
    }

    fn body_gap(&mut self, mut body: Body, len: u64, at: Point, sink: &mut dyn Sink) {
        enum After {
            Continue,
            Finished { overrun: bool },
            FramingLost,
        }
        let after = match &mut body.kind {
            BodyKind::Length(remaining) => {
                let inside = len.min(*remaining);
                *remaining -= inside;
                body.bytes = body.bytes.saturating_add(inside);
                if *remaining > 0 {
                    After::Continue
                } else {
                    After::Finished {
                        overrun: len > inside,
                    }
                }
            }
            BodyKind::Chunked(decoder) => {
                if decoder.skip_gap(len) {
                    body.bytes = body.bytes.saturating_add(len);
                    After::Continue
                } else {
                    After::FramingLost
                }
            }
            BodyKind::UntilClose => {
                body.bytes = body.bytes.saturating_add(len);
                After::Continue
            }
        };
        match after {
            After::Continue => {
                sink.body_gap(self.role);
                self.state = State::Body(body);
            }
            After::Finished { overrun } => {
                sink.body_gap(self.role);
                body.last = at;
                self.finish_body(&body, sink);
                if overrun {
                    // The gap also swallowed the start of what followed.
                    if self.role == Role::Response {
                        sink.response_start_lost(at.ts, at.frame);
                    }
                    self.state = State::Lost { at_candidate: true };
                }
            }
            After::FramingLost => {
                let what = format!("{len} bytes missing across chunk framing");
                self.anomaly(sink, "gap_in_chunked_framing", at.frame, &what);
                let cut = Cut {
                    reason: CutReason::GapInFraming,
                    progress: Self::body_progress(&body),
                    partial: None,
                };
                sink.cut(self.role, cut);
                self.state = State::Lost { at_candidate: true };
            }
        }
    }

    /// The direction ended at an unknown point (the end of the capture):
    /// close or cut what is open, then stop.
    pub fn end(&mut self, reason: EndReason, sink: &mut dyn Sink) {
        self.close(reason, None, sink);
    }

    /// Closes or cuts what is open, then stops. A close-delimited body ended
    /// by FIN ends at the FIN (`at`): only then is it known to be complete.
    pub(super) fn close(&mut self, reason: EndReason, at: Option<Point>, sink: &mut dyn Sink) {
        if let State::Head(scan) = self.state {
            if scan.mode == ScanMode::MaybeSimple && scan.origin.is_some() {
                self.become_simple(scan, sink);
            }
        }
        match std::mem::replace(&mut self.state, State::Stopped) {
            State::Head(scan) => {
                self.state = State::Head(scan);
                if let Some(partial) = self.partial_head() {
                    let cut = Cut {
                        reason: CutReason::End(reason),
                        progress: no_body(partial.span),
                        partial: Some(partial),
                    };
                    sink.cut(self.role, cut);
                }
            }
            State::Body(mut body) => {
                if body.kind == BodyKind::UntilClose && reason == EndReason::Fin {
                    if let Some(at) = at {
                        body.last = at;
                    }
                    sink.end(self.role, Self::body_progress(&body));
                } else {
                    let cut = Cut {
                        reason: CutReason::End(reason),
                        progress: Self::body_progress(&body),
                        partial: None,
                    };
                    sink.cut(self.role, cut);
                }
            }
            State::Tunnel | State::Lost { .. } | State::Stopped => {}
        }
        self.buf = Vec::new();
        self.lfs = Vec::new();
        self.state = State::Stopped;
    }
}
