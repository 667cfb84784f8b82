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
//! decoder), [`reader`] (per-direction incremental state machine), [`pairing`].
//!
//! # Invariants
//!
//! - Bytes are parsed incrementally, never per packet, and the results (apart
//!   from the timestamps taken from chunks) do not depend on chunk boundaries.
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
//! A close-delimited response ended by FIN is complete; ended by RST or by the
//! end of the capture it is reported incomplete. HTTP/0.9 simple requests
//! (`GET /path` with no version) get a head-less response that runs until close.
//!
//! # Gaps and resynchronization
//!
//! - A gap inside a body of known size (Content-Length, or inside a chunk's
//!   data) is skipped: the transaction is marked `gap_in_body`, timing goes on.
//! - A gap inside a head, or one that swallows chunk framing, cuts the message
//!   (`gap_in_head` / `gap_in_framing`) and the direction is *lost*.
//! - A lost direction resynchronizes only at a *candidate position*: the first
//!   byte after a gap, or the byte after any LF. At a candidate, a request
//!   direction accepts a plausible request line (a known method, SP, and a
//!   target starting with `/`, `*`, `[` or an alphanumeric; or any upper-case
//!   token, SP, target, SP, `HTTP/`) and a response direction accepts a
//!   plausible status line (`HTTP/1.x NNN`); see [`sniff`]. Candidates do not
//!   depend on chunk boundaries, so neither does resynchronization.
//! - A request head lost to a gap still yields a transaction (partial request,
//!   `gap_in_head`) so that the response that follows pairs with it rather
//!   than with the next request (as Zeek does, responses keep being parsed).
//!
//! Governing RFCs: RFC 9110 (semantics: 1xx, 100-continue, CONNECT, Upgrade),
//! RFC 9112 (HTTP/1.1 message syntax, framing, persistence), RFC 1945 (HTTP/1.0
//! and the 0.9 simple request).

pub mod chunked;
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
