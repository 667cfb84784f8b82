//! HTTP/1.x over reassembled TCP bytes: heads, body framing, gaps, resync.
//!
//! Role in the pipeline: [`crate::transaction::HttpConversation`] feeds each
//! direction's [`crate::stream::StreamItem`]s (in stream order) to a
//! [`reader::MessageReader`], which finds message boundaries and reports heads,
//! body ends, gaps and cut-off messages to a [`reader::Sink`]. The sink
//! ([`pairing::Pairing`]) pairs requests with responses (FIFO, RFC 9112 §9.3.2)
//! and decides each message's framing, because a response's framing depends on
//! its request (HEAD, CONNECT, HTTP/0.9).
//!
//! Submodules: [`sniff`] (classification by content), [`parse`] (nom
//! complete-mode parsers of a head already known to be complete), [`framing`]
//! (the RFC 9112 §6.3 body-length decision), [`chunked`] (byte-stepped chunked
//! decoder), [`reader`] (per-direction incremental state machine), [`events`]
//! (what a reader reports), [`pairing`].
//!
//! # Invariants
//!
//! - Bytes are parsed incrementally, never per packet, and the results (apart
//!   from the timestamps taken from chunks) do not depend on chunk boundaries,
//!   with one documented exception: resynchronization of a lost direction
//!   (below) also probes chunk starts.
//! - Only a partial head is ever buffered, never more than
//!   `HttpLimits::max_head_bytes`; bodies are counted, not stored. Each head is
//!   scanned once for its end and parsed once.
//! - No input panics: lengths use checked arithmetic, wire data is never
//!   indexed unchecked.
//!
//! # Framing (RFC 9112 §6.3, applied in this order)
//!
//! | # | message                                         | body                         |
//! |---|-------------------------------------------------|------------------------------|
//! | 1 | response to HEAD; 1xx (not 101), 204, 304        | none                         |
//! | 2 | 2xx to CONNECT; 101 Switching Protocols          | tunnel: bytes counted only   |
//! | 3 | Transfer-Encoding with `chunked` last            | chunked (`te_and_cl` if CL)  |
//! | 3 | response with other Transfer-Encoding           | until close                  |
//! | 4 | request with other Transfer-Encoding            | unframable: direction resyncs|
//! | 5 | invalid Content-Length                          | response: until close; request: resync |
//! | 5 | differing Content-Lengths                       | first value, `multiple_content_length` |
//! | 6 | valid Content-Length                            | that many bytes              |
//! | 7 | request with neither                            | none                         |
//! | 8 | response with neither                           | until close                  |
//!
//! A close-delimited response ended by FIN is complete and ends at the FIN
//! (only then is it known to be complete, as in Wireshark); ended by RST or by
//! the end of the capture it is reported incomplete. A 2xx to CONNECT whose
//! client then sends a request line carries plain HTTP, which is parsed (as
//! libhtp does); anything else is tunnel data.
//!
//! Request lines are read leniently, as Wireshark does: the version is the
//! last word and the target everything between (scanners send spaces), a
//! damaged `HTTP/…` version is tolerated (`http_bad_request_version`), and a
//! registered method alone on its line is a request without target. `GET
//! /path` with no version is an HTTP/0.9 simple request; its response is
//! head-less and runs until close, unless it starts with a status line.
//!
//! # Gaps and resynchronization
//!
//! - A gap inside a body of known size (Content-Length, or inside a chunk's
//!   data) is skipped: the transaction is marked `gap_in_body`, timing goes on.
//! - A gap inside a head, or one that swallows chunk framing, cuts the message
//!   (`gap_in_head` / `gap_in_framing`) and the direction is *lost*.
//! - A lost direction resynchronizes only at a *candidate position*: the first
//!   byte after a gap, the byte after any LF, or the first byte of a later
//!   chunk (senders usually start a message in a new segment; this is the one
//!   rule that depends on chunk boundaries). At a candidate, a request
//!   direction accepts a plausible request line (a registered method, spaces
//!   and a visible byte; or any upper-case token, SP, target, SP, `HTTP/`)
//!   and a response direction a plausible status line (`HTTP/1.x NNN`); see
//!   [`sniff`]. Only the candidate's first line is buffered while probing.
//! - A request head lost to a gap still yields a transaction (partial request,
//!   `gap_in_head`, with method and target when its first line survived; a
//!   line itself cut, e.g. by a snap length, keeps a registered method and
//!   the part of the target seen, as Wireshark does) so that the response
//!   that follows pairs with it rather than with the next request (as Zeek
//!   does, responses keep being parsed).
//! - A gap on the response side between two responses (or one that runs past
//!   the end of a body) holds the start of the next response: the oldest
//!   pending request is marked `gap_in_head` without a response, so the
//!   responses after it still pair with their own requests.
//!
//! Governing RFCs: RFC 9110 (semantics: 1xx, 100-continue, CONNECT, Upgrade),
//! RFC 9112 (HTTP/1.1 message syntax, framing, persistence), RFC 1945 (HTTP/1.0
//! and the 0.9 simple request).

pub mod chunked;
pub mod events;
pub mod framing;
pub mod pairing;
pub mod parse;
pub mod reader;
pub mod sniff;

/// Which kind of message a direction carries.
///
/// Normally the TCP client sends requests, but when the handshake was not
/// captured the guessed client may be the server: roles are decided by content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Request,
    Response,
}

impl Role {
    pub fn other(self) -> Role {
        match self {
            Role::Request => Role::Response,
            Role::Response => Role::Request,
        }
    }

    /// 0 for requests, 1 for responses: the index into per-role arrays.
    pub fn index(self) -> usize {
        match self {
            Role::Request => 0,
            Role::Response => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Request => "request",
            Role::Response => "response",
        }
    }
}
