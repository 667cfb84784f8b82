//! HTTP transactions of one TCP connection: the HTTP layer's public API.
//!
//! Role in the pipeline: the TCP layer feeds each reassembled direction of a
//! connection, as [`StreamItem`]s, to one [`HttpConversation`]. It classifies
//! the connection by content (not port), runs one
//! [`MessageReader`] per direction and
//! pairs requests with responses ([`crate::http::pairing`]). [`finish`]
//! returns the [`Transaction`]s, in connection order, with per-message timing.
//!
//! Classification: the first bytes of each direction are sniffed
//! ([`crate::http::sniff`]): a request line or `HTTP/1.` makes the connection
//! HTTP (whichever side carries request lines is the requester; if that is the
//! TCP server, anomaly `http_roles_flipped`), `16 03` makes it TLS. Bytes that
//! are neither park that direction; while it has sent fewer than
//! [`MAX_PARKED_BYTES`], the start of each later chunk is sniffed again (so
//! HTTP after a SOCKS handshake is found). The connection is `Unknown` once
//! both directions are parked beyond that budget or ended (so `protocol()`
//! stays `None` meanwhile). A parked direction of an HTTP connection (say, a
//! capture that starts in the middle of a request body) resynchronizes at its
//! next chunk start or after its next LF.
//!
//! Extras beyond the pipeline's needs: [`HttpConversation::tunnel_bytes`]
//! (bytes after a 101 / CONNECT switch) and
//! [`HttpConversation::buffered_bytes`] (memory held, for bound checks).
//!
//! Invariants: no panic on any input; memory per connection is bounded by the
//! head cap per direction, [`MAX_PROBE_BYTES`] per undecided direction, and
//! at most `max_transactions` transactions plus `max_pending_requests`
//! waiting ones. Timing and frame fields follow [`Message`]. Governing RFCs:
//! see [`crate::http`].
//!
//! [`finish`]: HttpConversation::finish

use crate::anomaly::Anomaly;
use crate::http::pairing::{Pairing, Switch};
use crate::http::reader::MessageReader;
use crate::http::reader::Sink as _;
use crate::http::sniff::{self, Sniff, MAX_PROBE_BYTES};
use crate::http::Role;
use crate::stream::{Chunk, EndReason, Side, StreamItem};
use crate::time::Timestamp;
use std::borrow::Cow;

/// Resource caps for one conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest head (start line and fields) buffered; a longer one is the
    /// anomaly `http_head_too_large` and stops that direction.
    pub max_head_bytes: usize,
    /// Most requests waiting for a response; beyond it the oldest is given up
    /// (`too_many_pending_requests`).
    pub max_pending_requests: usize,
    /// Most header fields kept per message (all are used for framing).
    pub max_headers_kept: usize,
    /// Most transactions kept per connection; later ones are paired, then
    /// counted and dropped (`too_many_transactions`).
    pub max_transactions: usize,
}

/// Bytes of a direction judged not HTTP after which its later chunk starts are
/// no longer sniffed (and the connection can be settled as `Unknown`).
///
/// Source: proxy handshakes that precede HTTP on the same connection (SOCKS4/5,
/// RFC 1928: a few hundred bytes at most). Trade-off: a non-HTTP connection
/// stays undecided until this many bytes per direction (or its end).
pub const MAX_PARKED_BYTES: u64 = 4096;

/// Default head cap, 64 KiB.
///
/// Source: the order of common server limits (nginx 4×8 KiB, Apache 100
/// fields × 8 KiB, Node 16 KiB). Trade-off: a larger head is reported and its
/// direction stops; memory per direction never exceeds this.
pub const DEFAULT_MAX_HEAD_BYTES: usize = 64 * 1024;

/// Default cap on pending requests.
///
/// Source: our bound (real pipelines are a few requests deep); it limits the
/// queue of a one-sided capture full of requests.
pub const DEFAULT_MAX_PENDING_REQUESTS: usize = 10_000;

/// Default cap on transactions kept per connection.
///
/// Source: servers close a keep-alive connection long before (nginx's
/// `keepalive_requests` default is 1,000, Apache's `MaxKeepAliveRequests`
/// 100), so only a hostile or one-sided stream gets here: say 100,000
/// pipelined requests never answered, which kept ~2.4 KB each in the JSON
/// report. Trade-off: transactions past the cap are missing from every
/// output; the warning gives their number.
pub const DEFAULT_MAX_TRANSACTIONS: usize = 10_000;

/// Default header fields kept per message.
///
/// Source: Apache's `LimitRequestFields` default (100).
pub const DEFAULT_MAX_HEADERS_KEPT: usize = 100;

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_head_bytes: DEFAULT_MAX_HEAD_BYTES,
            max_pending_requests: DEFAULT_MAX_PENDING_REQUESTS,
            max_headers_kept: DEFAULT_MAX_HEADERS_KEPT,
            max_transactions: DEFAULT_MAX_TRANSACTIONS,
        }
    }
}

/// What a connection carries, judged by content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Tls,
    Unknown,
}

/// One HTTP message (request or final response).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Frame of the chunk holding the first byte.
    pub first_frame: u64,
    /// Frame that made the last byte contiguous (the FIN's frame for a
    /// close-delimited body).
    pub last_frame: u64,
    /// `first_seen` of the chunk holding the first byte.
    pub start: Timestamp,
    /// `ts` of the chunk holding the last byte (the head's final LF for a
    /// bodiless message; the FIN for a close-delimited body; the last byte
    /// seen for a cut one).
    pub end: Timestamp,
    /// Wire bytes of the head, empty line included.
    pub head_bytes: u64,
    /// Wire bytes of the body (chunk framing and gap bytes included).
    pub body_bytes: u64,
    /// Payload bytes after removing chunked framing (chunked bodies only).
    pub body_decoded_bytes: Option<u64>,
    /// As received (lossy UTF-8), at most `max_headers_kept`.
    pub headers: Vec<(String, String)>,
    pub chunked: bool,
    pub content_length: Option<u64>,
}

/// A request and its response; either may be missing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transaction {
    /// 0-based position on its connection.
    pub index: u32,
    pub method: Option<Cow<'static, str>>,
    /// As on the wire (lossy UTF-8), cut at 2048 characters.
    pub uri: Option<String>,
    /// Authority of an absolute target, else the Host field.
    pub host: Option<String>,
    /// The request's version, else the response's (`HTTP/1.1`, `HTTP/0.9`).
    pub version: Option<Cow<'static, str>>,
    pub status: Option<u16>,
    /// 1xx codes before the final response (101 is final).
    pub interim: Vec<u16>,
    pub request: Option<Message>,
    pub response: Option<Message>,
    /// Why the transaction is incomplete: `no_response`, `no_request`,
    /// `gap_in_body`, `gap_in_head`, `gap_in_framing`, `head_too_large`,
    /// `bad_chunked_framing`, `{request,response}_cut_by_{fin,rst,end_of_capture}`.
    pub incomplete: Option<String>,
    /// The request's first byte came before the previous response had ended.
    pub pipelined: bool,
    /// 101, or 2xx to CONNECT: the connection switched protocols after this.
    pub tunnel: bool,
}

/// Everything one connection produced.
#[derive(Clone, Debug, Default)]
pub struct ConversationResult {
    pub protocol: Option<Protocol>,
    pub transactions: Vec<Transaction>,
    pub anomalies: Vec<Anomaly>,
}

/// A chunk kept while a direction is being classified.
#[derive(Clone, Debug)]
struct OwnedChunk {
    offset: u64,
    bytes: Vec<u8>,
    ts: Timestamp,
    frame: u64,
    first_seen: Timestamp,
}

impl OwnedChunk {
    fn item(&self) -> StreamItem<'_> {
        StreamItem::Data(Chunk {
            offset: self.offset,
            bytes: &self.bytes,
            ts: self.ts,
            frame: self.frame,
            first_seen: self.first_seen,
        })
    }
}

/// Classification state of one direction.
#[derive(Clone, Debug, Default)]
struct Probe {
    /// Set once the direction's bytes were judged `Other`; they are dropped
    /// until a later chunk start (within [`MAX_PARKED_BYTES`]) or the other
    /// direction shows HTTP.
    parked: bool,
    /// Bytes judged `Other` so far.
    parked_bytes: u64,
    /// First bytes, at most [`MAX_PROBE_BYTES`].
    prefix: Vec<u8>,
    /// Chunks held until the verdict (their total is under the prefix cap).
    pending: Vec<OwnedChunk>,
}

/// The HTTP view of one TCP connection.
///
/// Its state is created on the first item pushed: a connection that never
/// carries a byte (a half-open SYN, nearly all of a SYN flood's live table)
/// then costs the size of this handle, not the ~560 bytes of the parser and
/// pairing state (see docs/robustness.md, "Memory caps under attack").
#[derive(Debug)]
pub struct HttpConversation {
    limits: HttpLimits,
    state: Option<Box<Conversation>>,
}

impl HttpConversation {
    pub fn new(limits: HttpLimits) -> Self {
        HttpConversation {
            limits,
            state: None,
        }
    }

    /// Feed one reassembled item of the direction sent by `side`
    /// (`Side::Client` = the TCP client, i.e. SYN sender). Items of one side
    /// arrive in stream order; the two sides are interleaved in capture order.
    pub fn push(&mut self, side: Side, item: &StreamItem<'_>) {
        let limits = self.limits;
        self.state
            .get_or_insert_with(|| Box::new(Conversation::new(limits)))
            .push(side, item);
    }

    /// Classification so far (None until enough bytes were seen).
    pub fn protocol(&self) -> Option<Protocol> {
        self.state.as_ref().and_then(|s| s.protocol)
    }

    /// True once this conversation will never produce HTTP output.
    pub fn is_done(&self) -> bool {
        self.state.as_ref().is_some_and(|s| s.is_done())
    }

    /// Bytes seen on `side` after the connection became a tunnel.
    pub fn tunnel_bytes(&self, side: Side) -> u64 {
        self.state.as_ref().map_or(0, |s| s.tunnel_bytes(side))
    }

    /// Memory currently held for buffering (head buffers and probes).
    pub fn buffered_bytes(&self) -> usize {
        self.state.as_ref().map_or(0, |s| s.buffered_bytes())
    }

    /// Finalize: close every open message (reason from the End items seen, or
    /// `end_of_capture`), return results. Nothing pushed: no protocol, no
    /// transactions.
    pub fn finish(self) -> ConversationResult {
        self.state
            .map_or_else(ConversationResult::default, |s| s.finish())
    }
}

/// The state behind [`HttpConversation`], once the connection carried
/// something.
#[derive(Debug)]
struct Conversation {
    limits: HttpLimits,
    protocol: Option<Protocol>,
    /// By [`Side::index`].
    probes: [Probe; 2],
    readers: [Option<MessageReader>; 2],
    ends: [Option<(EndReason, Timestamp, u64)>; 2],
    pairing: Pairing,
}

impl Conversation {
    fn new(limits: HttpLimits) -> Self {
        Conversation {
            limits,
            protocol: None,
            probes: [Probe::default(), Probe::default()],
            readers: [None, None],
            ends: [None, None],
            pairing: Pairing::new(limits),
        }
    }

    /// Feed one reassembled item of the direction sent by `side`
    /// (`Side::Client` = the TCP client, i.e. SYN sender). Items of one side
    /// arrive in stream order; the two sides are interleaved in capture order.
    fn push(&mut self, side: Side, item: &StreamItem<'_>) {
        let i = side.index();
        if let StreamItem::End { reason, ts, frame } = *item {
            if self.ends[i].is_some() {
                return;
            }
            self.ends[i] = Some((reason, ts, frame));
        }
        match self.protocol {
            Some(Protocol::Tls | Protocol::Unknown) => {}
            Some(Protocol::Http) => self.feed_reader(side, item),
            None => self.probe(side, item),
        }
    }

    /// True once this conversation will never produce HTTP output.
    fn is_done(&self) -> bool {
        match self.protocol {
            Some(Protocol::Tls | Protocol::Unknown) => true,
            Some(Protocol::Http) => self
                .readers
                .iter()
                .all(|r| r.as_ref().is_none_or(MessageReader::is_stopped)),
            None => false,
        }
    }

    /// Bytes seen on `side` after the connection became a tunnel.
    fn tunnel_bytes(&self, side: Side) -> u64 {
        self.readers[side.index()]
            .as_ref()
            .map_or(0, MessageReader::tunnel_bytes)
    }

    /// Memory currently held for buffering (head buffers and probes).
    fn buffered_bytes(&self) -> usize {
        let readers: usize = self.readers.iter().flatten().map(|r| r.buffered()).sum();
        let probes: usize = self
            .probes
            .iter()
            .map(|p| {
                p.prefix.capacity() + p.pending.iter().map(|c| c.bytes.capacity()).sum::<usize>()
            })
            .sum();
        readers + probes
    }

    /// Finalize: close every open message (reason from the End items seen, or
    /// `end_of_capture`), return results.
    fn finish(mut self) -> ConversationResult {
        if self.protocol.is_none() && self.probes.iter().any(|p| p.parked || !p.prefix.is_empty()) {
            self.protocol = Some(Protocol::Unknown);
        }
        if self.protocol == Some(Protocol::Http) {
            // Requests first, so a cut request exists before a cut response.
            let mut sides = [Side::Client, Side::Server];
            sides.sort_by_key(|s| {
                self.readers[s.index()]
                    .as_ref()
                    .map_or(0, |r| r.role().index())
            });
            for side in sides {
                let reason = self.end_reason(side);
                if let Some(reader) = self.readers[side.index()].as_mut() {
                    reader.end(reason, &mut self.pairing);
                }
            }
        }
        let (transactions, anomalies) = self.pairing.finish();
        ConversationResult {
            protocol: self.protocol,
            transactions,
            anomalies,
        }
    }

    /// The side's own end, else a RST seen on the other side, else the end
    /// of the capture.
    fn end_reason(&self, side: Side) -> EndReason {
        match (self.ends[side.index()], self.ends[side.other().index()]) {
            (Some((reason, _, _)), _) => reason,
            (None, Some((EndReason::Rst, _, _))) => EndReason::Rst,
            _ => EndReason::EndOfCapture,
        }
    }

    fn feed_reader(&mut self, side: Side, item: &StreamItem<'_>) {
        if let Some(reader) = self.readers[side.index()].as_mut() {
            reader.push(item, &mut self.pairing);
        }
        let Some(switch) = self.pairing.take_switch() else {
            return;
        };
        let follower = match switch {
            Switch::Connect | Switch::Upgrade => Role::Request,
            Switch::TunnelCarriesHttp => Role::Response,
        };
        for reader in self.readers.iter_mut().flatten() {
            if reader.role() != follower {
                continue;
            }
            match switch {
                Switch::Upgrade => reader.enter_tunnel(),
                Switch::Connect => {
                    if reader.enter_tunnel_probing() {
                        // The client was already sending HTTP in the tunnel.
                        self.pairing.tunnel_carries_http();
                    }
                }
                Switch::TunnelCarriesHttp => reader.leave_tunnel(),
            }
        }
        if let Some(Switch::TunnelCarriesHttp) = self.pairing.take_switch() {
            for reader in self.readers.iter_mut().flatten() {
                if reader.role() == Role::Response {
                    reader.leave_tunnel();
                }
            }
        }
    }

    fn probe(&mut self, side: Side, item: &StreamItem<'_>) {
        let probe = &mut self.probes[side.index()];
        match item {
            StreamItem::Data(chunk) => {
                if probe.parked {
                    if probe.parked_bytes >= MAX_PARKED_BYTES {
                        return;
                    }
                    // Within the budget, each chunk start is sniffed afresh.
                    probe.parked = false;
                }
                if chunk.bytes.is_empty() {
                    return;
                }
                let room = MAX_PROBE_BYTES.saturating_sub(probe.prefix.len());
                let head = chunk.bytes.get(..room).unwrap_or(chunk.bytes);
                probe.prefix.extend_from_slice(head);
                match sniff::sniff(&probe.prefix) {
                    Sniff::NeedMore => probe.pending.push(OwnedChunk {
                        offset: chunk.offset,
                        bytes: chunk.bytes.to_vec(),
                        ts: chunk.ts,
                        frame: chunk.frame,
                        first_seen: chunk.first_seen,
                    }),
                    Sniff::Tls => self.settle(Protocol::Tls),
                    Sniff::Other => {
                        let held: usize = probe.pending.iter().map(|c| c.bytes.len()).sum();
                        let judged = held.saturating_add(chunk.bytes.len()) as u64;
                        *probe = Probe {
                            parked: true,
                            parked_bytes: probe.parked_bytes.saturating_add(judged),
                            ..Probe::default()
                        };
                        self.settle_if_unknown();
                    }
                    Sniff::Request => self.start_http(side, Role::Request, item),
                    Sniff::Response => self.start_http(side, Role::Response, item),
                }
            }
            StreamItem::Gap { .. } => {
                // Undecided bytes before a hole say nothing; start over after it.
                if !probe.parked {
                    *probe = Probe {
                        parked_bytes: probe.parked_bytes,
                        ..Probe::default()
                    };
                }
            }
            StreamItem::End { .. } => {
                if !probe.prefix.is_empty() {
                    *probe = Probe {
                        parked: true,
                        parked_bytes: probe.parked_bytes,
                        ..Probe::default()
                    };
                }
                self.settle_if_unknown();
            }
        }
    }

    fn settle(&mut self, protocol: Protocol) {
        self.protocol = Some(protocol);
        self.probes = [Probe::default(), Probe::default()];
    }

    /// Unknown once neither direction can still turn out to be HTTP: each
    /// has ended or is parked beyond its budget, and bytes were seen.
    fn settle_if_unknown(&mut self) {
        let spent = |p: &Probe| p.parked && p.parked_bytes >= MAX_PARKED_BYTES;
        let hopeless = |i: usize| spent(&self.probes[i]) || self.ends[i].is_some();
        let seen = self.probes.iter().any(|p| p.parked);
        if seen && hopeless(0) && hopeless(1) {
            self.settle(Protocol::Unknown);
        }
    }

    /// `side` showed a message of `role`: the connection is HTTP.
    fn start_http(&mut self, side: Side, role: Role, item: &StreamItem<'_>) {
        let expected = match side {
            Side::Client => Role::Request,
            Side::Server => Role::Response,
        };
        if role != expected {
            let detail = format!("the TCP {} sends {}s", side.as_str(), role.as_str());
            self.pairing
                .note(Anomaly::new("http_roles_flipped", detail));
        }
        self.protocol = Some(Protocol::Http);
        let other = side.other();
        let max_head = self.limits.max_head_bytes;
        // Both readers probe their next chunk start (a parked direction's
        // bytes so far were judged not to start a message).
        self.readers[side.index()] = Some(MessageReader::new(side, role, max_head));
        self.readers[other.index()] = Some(MessageReader::new(other, role.other(), max_head));
        let probes = std::mem::take(&mut self.probes);
        // The other side's held bytes arrived earlier than this item.
        let [client_probe, server_probe] = probes;
        let mut held = [client_probe.pending, server_probe.pending];
        for s in [other, side] {
            for chunk in std::mem::take(&mut held[s.index()]) {
                self.feed_reader(s, &chunk.item());
            }
        }
        self.feed_reader(side, item);
        if let Some((reason, ts, frame)) = self.ends[other.index()] {
            self.feed_reader(other, &StreamItem::End { reason, ts, frame });
        }
    }
}

#[cfg(test)]
#[path = "http/conversation_tests.rs"]
mod tests;
