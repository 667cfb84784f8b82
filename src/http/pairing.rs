//! Pairs requests with responses on one connection and builds transactions.
//!
//! Input: the [`Sink`] calls of the connection's two [`MessageReader`]s.
//! Output: [`Transaction`]s in connection order, plus anomalies.
//!
//! Rules:
//! - FIFO (RFC 9112 §9.3.2): a response answers the oldest request that has
//!   no final response yet. Pending requests are a contiguous tail of the
//!   transaction list, starting at `next_response`.
//! - A 1xx other than 101 is interim: its code is recorded and the request
//!   stays pending. A response with no pending request becomes its own
//!   transaction (`no_request`), placed where it appeared.
//! - A request head lost to a gap (or cut) still becomes a transaction, so
//!   the response that follows pairs with it and not with the next request.
//!   Likewise a response whose start fell into a gap between responses
//!   consumes the oldest pending request (`gap_in_head`, no response).
//! - `pipelined`: the request's first byte came before the previous request's
//!   response had ended (not yet complete, or completed later in time).
//! - At most `max_pending_requests` wait for a response; beyond that the
//!   oldest is given up as `no_response` (anomaly `too_many_pending_requests`).
//! - `incomplete` keeps the first reason recorded; `no_response` /
//!   `no_request` are set at the end only when nothing else was.
//! - The first `max_transactions` transactions are kept; later ones are
//!   paired as usual (so that responses still answer the right requests)
//!   and then counted, not kept (anomaly `too_many_transactions`).
//!
//! Invariant: memory per connection is at most `max_transactions`
//! transactions, the pending requests beyond them (`max_pending_requests`)
//! and [`MAX_ANOMALIES`] anomalies.
//!
//! [`MessageReader`]: crate::http::reader::MessageReader

use std::collections::VecDeque;

use crate::anomaly::Anomaly;
use crate::http::framing::{self, ContentLength, Framing, HeaderSummary, Persistence};
use crate::http::parse::{Head, RequestLine, StartLine};
use crate::http::reader::{Cut, HeadEvent, HeadKind, MessageEnd, Sink, Span};
use crate::http::Role;
use crate::time::Timestamp;
use crate::transaction::{HttpLimits, Message, Transaction};

/// Most anomalies kept per connection; further ones are only counted.
///
/// Source: our bound on per-connection memory; a hostile stream can produce
/// one anomaly per message. The overflow is reported as one
/// `http_anomalies_dropped` anomaly with the count.
pub const MAX_ANOMALIES: usize = 1024;

/// Most interim (1xx) codes kept per transaction.
///
/// Source: our bound; real servers send one or two (100, 103). A longer run
/// is reported as `too_many_interim_responses`.
pub const MAX_INTERIM: usize = 16;

/// A change of the connection's protocol that the other direction must follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    /// 2xx to CONNECT: a tunnel, which may itself carry plain HTTP (as
    /// libhtp does, the client's first tunnel bytes are probed).
    Connect,
    /// 101 Switching Protocols: another protocol from now on.
    Upgrade,
    /// The CONNECT tunnel turned out to carry HTTP: parse responses again.
    TunnelCarriesHttp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Request,
    FinalResponse,
    Interim,
}

/// The message in flight in one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Current {
    entry: usize,
    slot: Slot,
}

#[derive(Clone, Debug)]
struct Entry {
    tx: Transaction,
    /// The final response ended (completely or cut).
    response_done: bool,
    /// The request was an HTTP/0.9 simple request.
    simple: bool,
}

/// The entries of one connection by index (0-based, connection order): the
/// first `cap` are kept to the end; later ones only while pairing still
/// needs them.
#[derive(Debug)]
struct Entries {
    cap: usize,
    /// Indices `0..kept.len()`; `kept.len() <= cap`.
    kept: Vec<Entry>,
    /// Indices from `window_first` on; used once `kept` is full.
    window: VecDeque<Entry>,
    /// Index of `window[0]`; `cap` until the first entry beyond it is dropped.
    window_first: usize,
    /// Entries beyond the cap dropped so far.
    dropped: u64,
}

impl Entries {
    fn new(cap: usize) -> Entries {
        Entries {
            cap,
            kept: Vec::new(),
            window: VecDeque::new(),
            window_first: cap,
            dropped: 0,
        }
    }

    /// Entries created so far (kept, held or dropped).
    fn len(&self) -> usize {
        if self.kept.len() < self.cap {
            self.kept.len()
        } else {
            self.window_first.saturating_add(self.window.len())
        }
    }

    fn get(&self, idx: usize) -> Option<&Entry> {
        if idx < self.kept.len() {
            self.kept.get(idx)
        } else {
            self.window.get(idx.checked_sub(self.window_first)?)
        }
    }

    /// None for an entry dropped beyond the cap: what would have changed
    /// it is lost with it.
    fn get_mut(&mut self, idx: usize) -> Option<&mut Entry> {
        if idx < self.kept.len() {
            self.kept.get_mut(idx)
        } else {
            self.window.get_mut(idx.checked_sub(self.window_first)?)
        }
    }

    fn push(&mut self, entry: Entry) {
        if self.kept.len() < self.cap {
            self.kept.push(entry);
        } else {
            self.window.push_back(entry);
        }
    }

    /// Drops the entries beyond the cap below `next_response`: their final
    /// response has come (or was given up), so FIFO pairing never looks at
    /// them again. One of them may still be receiving its message's body;
    /// that transaction is not reported anyway.
    fn trim(&mut self, next_response: usize) {
        while self.window_first < next_response && self.window.pop_front().is_some() {
            self.window_first = self.window_first.saturating_add(1);
            self.dropped = self.dropped.saturating_add(1);
        }
    }

    /// Newest first. Dropped entries are missing; only transactions beyond
    /// the cap (not reported) can be judged with them missing.
    fn iter_rev(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.kept.iter().chain(self.window.iter()).rev()
    }
}

/// The pairing state of one connection.
#[derive(Debug)]
pub struct Pairing {
    limits: HttpLimits,
    entries: Entries,
    /// First entry still waiting for its final response.
    next_response: usize,
    /// By [`Role::index`].
    current: [Option<Current>; 2],
    anomalies: Vec<Anomaly>,
    dropped_anomalies: u64,
    switch: Option<Switch>,
    close_announced: bool,
    pending_cap_reported: bool,
}

fn empty_tx() -> Transaction {
    Transaction {
        index: 0,
        method: None,
        uri: None,
        host: None,
        version: None,
        status: None,
        interim: Vec::new(),
        request: None,
        response: None,
        incomplete: None,
        pipelined: false,
        tunnel: false,
    }
}

fn new_message(span: Span, head_bytes: u64) -> Message {
    Message {
        first_frame: span.first_frame,
        last_frame: span.last_frame,
        start: span.start,
        end: span.end,
        head_bytes,
        body_bytes: 0,
        body_decoded_bytes: None,
        headers: Vec::new(),
        chunked: false,
        content_length: None,
    }
}

/// The authority of an absolute-form target (`http://host:port/...`).
fn absolute_authority(target: &str) -> Option<&str> {
    let (scheme, rest) = target.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or(authority);
    (!host.is_empty()).then_some(host)
}

/// Host per RFC 9112 §3.2.2: an absolute target's authority wins over Host;
/// a CONNECT target is itself the authority.
/// `host_field`: the request's Host field, if any (moved, not copied).
fn request_host(line: &RequestLine, host_field: Option<String>) -> Option<String> {
    if let Some(authority) = absolute_authority(&line.target) {
        return Some(authority.to_owned());
    }
    match host_field {
        Some(host) => Some(host),
        None if line.method == "CONNECT" => Some(line.target.clone()),
        None => None,
    }
}

fn set_end(message: &mut Message, end: MessageEnd) {
    message.end = end.end;
    message.last_frame = end.last_frame;
    message.body_bytes = end.body_bytes;
    message.body_decoded_bytes = end.decoded;
}

impl Pairing {
    pub fn new(limits: HttpLimits) -> Self {
        Pairing {
            limits,
            entries: Entries::new(limits.max_transactions),
            next_response: 0,
            current: [None, None],
            anomalies: Vec::new(),
            dropped_anomalies: 0,
            switch: None,
            close_announced: false,
            pending_cap_reported: false,
        }
    }

    /// A protocol switch the other direction has to follow, once.
    pub fn take_switch(&mut self) -> Option<Switch> {
        self.switch.take()
    }

    /// Adds an anomaly (also usable by the conversation).
    pub fn note(&mut self, anomaly: Anomaly) {
        if self.anomalies.len() < MAX_ANOMALIES {
            self.anomalies.push(anomaly);
        } else {
            self.dropped_anomalies = self.dropped_anomalies.saturating_add(1);
        }
    }

    fn note_kinds(&mut self, kinds: &[&'static str], role: Role, span: Span) {
        for kind in kinds {
            let detail = format!("{} ending in frame {}", role.as_str(), span.last_frame);
            self.note(Anomaly::new(kind, detail));
        }
    }

    /// The transactions in connection order, and the anomalies.
    pub fn finish(mut self) -> (Vec<Transaction>, Vec<Anomaly>) {
        if self.dropped_anomalies > 0 {
            let detail = format!(
                "{} more anomalies on this connection",
                self.dropped_anomalies
            );
            self.anomalies
                .push(Anomaly::new("http_anomalies_dropped", detail));
        }
        let beyond = self
            .entries
            .dropped
            .saturating_add(self.entries.window.len() as u64);
        if beyond > 0 {
            let detail = format!(
                "{beyond} transactions after the first {} on this connection were counted, not kept",
                self.entries.cap
            );
            self.anomalies
                .push(Anomaly::new("too_many_transactions", detail));
        }
        let txs = self
            .entries
            .kept
            .into_iter()
            .enumerate()
            .map(|(i, entry)| {
                let mut tx = entry.tx;
                tx.index = u32::try_from(i).unwrap_or(u32::MAX);
                if tx.incomplete.is_none() {
                    if tx.request.is_none() {
                        tx.incomplete = Some("no_request".to_owned());
                    } else if tx.response.is_none() {
                        tx.incomplete = Some("no_response".to_owned());
                    }
                }
                tx
            })
            .collect();
        (txs, self.anomalies)
    }

    fn is_pipelined(&self, start: Timestamp) -> bool {
        let Some(prev) = self.entries.iter_rev().find(|e| e.tx.request.is_some()) else {
            return false;
        };
        let done_before =
            prev.response_done && prev.tx.response.as_ref().is_some_and(|r| r.end <= start);
        !done_before
    }

    /// Appends a request entry, giving up the oldest pending one at the cap.
    fn push_request(&mut self, tx: Transaction, simple: bool) -> usize {
        let pending = self.entries.len().saturating_sub(self.next_response);
        if pending >= self.limits.max_pending_requests {
            if let Some(oldest) = self.entries.get_mut(self.next_response) {
                oldest
                    .tx
                    .incomplete
                    .get_or_insert_with(|| "no_response".to_owned());
                self.next_response = self.next_response.saturating_add(1);
            }
            if !self.pending_cap_reported {
                self.pending_cap_reported = true;
                let detail = format!(
                    "more than {} requests without a response",
                    self.limits.max_pending_requests
                );
                self.note(Anomaly::new("too_many_pending_requests", detail));
            }
        }
        self.entries.trim(self.next_response);
        self.entries.push(Entry {
            tx,
            response_done: false,
            simple,
        });
        self.entries.len().saturating_sub(1)
    }

    /// The entry the next final response belongs to (a new unmatched one when
    /// no request is pending).
    fn response_entry(&mut self) -> usize {
        if self.next_response >= self.entries.len() {
            self.entries.trim(self.next_response);
            self.entries.push(Entry {
                tx: empty_tx(),
                response_done: false,
                simple: false,
            });
        }
        self.next_response
    }

    /// The transaction a request line starts; the line's strings move into
    /// it (one request line per transaction: no copies).
    fn request_tx(
        &self,
        line: Option<RequestLine>,
        host_field: Option<String>,
        span: Span,
    ) -> Transaction {
        let mut tx = empty_tx();
        if let Some(line) = line {
            tx.host = request_host(&line, host_field);
            tx.version = line.version_label();
            tx.uri = (!line.target.is_empty()).then_some(line.target);
            tx.method = Some(line.method);
        }
        tx.pipelined = self.is_pipelined(span.start);
        tx
    }

    fn request_head(&mut self, head: Head, span: Span, head_bytes: u64) -> Framing {
        let Head { start, fields, .. } = head;
        let StartLine::Request(line) = start else {
            return Framing::NoBody;
        };
        let mut summary = framing::summarize(fields.iter_bytes());
        let simple = line.is_simple();
        let decision = if simple {
            framing::Decision {
                framing: Framing::NoBody,
                anomalies: Vec::new(),
            }
        } else {
            framing::request_framing(&summary)
        };
        self.note_kinds(&decision.anomalies, Role::Request, span);
        if self.close_announced {
            self.note_kinds(&["request_after_connection_close"], Role::Request, span);
        }
        let version = line.known_version();
        if version.is_some_and(|v| framing::persistence(v, &summary) == Persistence::Close) {
            self.close_announced = true;
        }
        let host_field = summary.host.take();
        let mut tx = self.request_tx(Some(line), host_field, span);
        tx.request = Some(self.message(span, head_bytes, &fields, &summary, decision.framing));
        let entry = self.push_request(tx, simple);
        self.current[Role::Request.index()] = Some(Current {
            entry,
            slot: Slot::Request,
        });
        decision.framing
    }

    fn message(
        &self,
        span: Span,
        head_bytes: u64,
        fields: &crate::http::parse::Fields,
        summary: &HeaderSummary,
        framing: Framing,
    ) -> Message {
        let fields = fields.to_vec(self.limits.max_headers_kept);
        let chunked = framing == Framing::Chunked;
        Message {
            headers: fields,
            chunked,
            body_decoded_bytes: chunked.then_some(0),
            content_length: match summary.content_length {
                ContentLength::Valid(n) | ContentLength::Conflicting(n) => Some(n),
                ContentLength::Absent | ContentLength::Invalid => None,
            },
            ..new_message(span, head_bytes)
        }
    }

    fn response_head(&mut self, head: Head, span: Span, head_bytes: u64) -> Framing {
        let StartLine::Status(line) = &head.start else {
            return Framing::NoBody;
        };
        let summary = framing::summarize(head.fields.iter_bytes());
        let idx = self.response_entry();
        let method = self.entries.get(idx).and_then(|e| e.tx.method.clone());
        let decision = framing::response_framing(line.code, method.as_deref(), &summary);
        self.note_kinds(&decision.anomalies, Role::Response, span);
        let interim = (100..200).contains(&line.code) && line.code != 101;
        if !interim && framing::persistence(line.version, &summary) == Persistence::Close {
            self.close_announced = true;
        }
        let message = self.message(span, head_bytes, &head.fields, &summary, decision.framing);
        let mut too_many_interim = false;
        if let Some(entry) = self.entries.get_mut(idx) {
            let tx = &mut entry.tx;
            if interim {
                if tx.interim.len() < MAX_INTERIM {
                    tx.interim.push(line.code);
                } else {
                    too_many_interim = true;
                }
            } else {
                tx.status = Some(line.code);
                tx.version.get_or_insert_with(|| line.version.label());
                tx.response = Some(message);
                if decision.framing == Framing::Tunnel {
                    tx.tunnel = true;
                    self.switch = Some(if line.code == 101 {
                        Switch::Upgrade
                    } else {
                        Switch::Connect
                    });
                }
            }
        }
        if too_many_interim {
            self.note_kinds(&["too_many_interim_responses"], Role::Response, span);
        }
        let slot = if interim {
            Slot::Interim
        } else {
            self.next_response = idx.saturating_add(1);
            Slot::FinalResponse
        };
        self.current[Role::Response.index()] = Some(Current { entry: idx, slot });
        decision.framing
    }

    fn simple_response(&mut self, span: Span) -> Framing {
        let idx = self.response_entry();
        if let Some(entry) = self.entries.get_mut(idx) {
            entry.tx.response = Some(new_message(span, 0));
        }
        self.next_response = idx.saturating_add(1);
        self.current[Role::Response.index()] = Some(Current {
            entry: idx,
            slot: Slot::FinalResponse,
        });
        Framing::UntilClose
    }

    /// A head that never completed becomes a (partial) message.
    fn cut_partial(
        &mut self,
        role: Role,
        partial: crate::http::reader::PartialHead,
        reason: String,
    ) {
        let span = partial.span;
        let message = new_message(span, partial.head_bytes);
        match (role, partial.start) {
            (Role::Request, start) => {
                let line = match start {
                    Some(StartLine::Request(line)) => Some(line),
                    _ => None,
                };
                let simple = line.as_ref().is_some_and(RequestLine::is_simple);
                let mut tx = self.request_tx(line, None, span);
                tx.request = Some(message);
                tx.incomplete = Some(reason);
                self.push_request(tx, simple);
            }
            (Role::Response, Some(StartLine::Status(line)))
                if (100..200).contains(&line.code) && line.code != 101 =>
            {
                let idx = self.response_entry();
                if let Some(entry) = self.entries.get_mut(idx) {
                    if entry.tx.interim.len() < MAX_INTERIM {
                        entry.tx.interim.push(line.code);
                    }
                    entry.tx.incomplete.get_or_insert(reason);
                }
            }
            (Role::Response, start) => {
                let idx = self.response_entry();
                if let Some(entry) = self.entries.get_mut(idx) {
                    if let Some(StartLine::Status(line)) = start {
                        entry.tx.status = Some(line.code);
                        entry.tx.version.get_or_insert_with(|| line.version.label());
                    }
                    entry.tx.response = Some(message);
                    entry.tx.incomplete.get_or_insert(reason);
                    entry.response_done = true;
                }
                self.next_response = idx.saturating_add(1);
            }
        }
    }
}

impl Sink for Pairing {
    fn head(&mut self, role: Role, event: HeadEvent) -> Framing {
        match (role, event.kind) {
            (Role::Request, HeadKind::Parsed(head)) => {
                self.request_head(head, event.span, event.head_bytes)
            }
            (Role::Response, HeadKind::Parsed(head)) => {
                self.response_head(head, event.span, event.head_bytes)
            }
            (Role::Response, HeadKind::SimpleResponse) => self.simple_response(event.span),
            (Role::Request, HeadKind::SimpleResponse) => Framing::NoBody,
        }
    }

    fn body_gap(&mut self, role: Role) {
        let Some(cur) = self.current[role.index()] else {
            return;
        };
        if let Some(entry) = self.entries.get_mut(cur.entry) {
            entry
                .tx
                .incomplete
                .get_or_insert_with(|| "gap_in_body".to_owned());
        }
    }

    fn end(&mut self, role: Role, end: MessageEnd) {
        let Some(cur) = self.current[role.index()].take() else {
            return;
        };
        let Some(entry) = self.entries.get_mut(cur.entry) else {
            return;
        };
        match cur.slot {
            Slot::Request => {
                if let Some(m) = entry.tx.request.as_mut() {
                    set_end(m, end);
                }
            }
            Slot::FinalResponse => {
                if let Some(m) = entry.tx.response.as_mut() {
                    set_end(m, end);
                }
                entry.response_done = true;
            }
            Slot::Interim => {}
        }
    }

    fn cut(&mut self, role: Role, cut: Cut) {
        let reason = cut.reason.label(role);
        if let Some(partial) = cut.partial {
            self.cut_partial(role, partial, reason);
            return;
        }
        let Some(cur) = self.current[role.index()].take() else {
            return;
        };
        let Some(entry) = self.entries.get_mut(cur.entry) else {
            return;
        };
        let message = match cur.slot {
            Slot::Request => entry.tx.request.as_mut(),
            Slot::FinalResponse => {
                entry.response_done = true;
                entry.tx.response.as_mut()
            }
            Slot::Interim => None,
        };
        if let Some(m) = message {
            set_end(m, cut.progress);
        }
        entry.tx.incomplete.get_or_insert(reason);
    }

    fn anomaly(&mut self, anomaly: Anomaly) {
        self.note(anomaly);
    }

    fn response_start_lost(&mut self, ts: Timestamp, frame: u64) {
        // Only a pending request can lose its response this way; without one
        // the hole was not (known to be) a response.
        let Some(entry) = self.entries.get_mut(self.next_response) else {
            return;
        };
        if entry.tx.request.as_ref().is_none_or(|r| r.start > ts) {
            return;
        }
        entry
            .tx
            .incomplete
            .get_or_insert_with(|| "gap_in_head".to_owned());
        entry.response_done = true;
        let detail = format!(
            "response to transaction {} lost in a gap (frame {frame})",
            self.next_response
        );
        self.next_response = self.next_response.saturating_add(1);
        self.note(Anomaly::new("gap_in_http_head", detail));
    }

    fn tunnel_carries_http(&mut self) {
        self.switch = Some(Switch::TunnelCarriesHttp);
    }

    fn simple_response_expected(&self) -> bool {
        self.entries
            .get(self.next_response)
            .is_some_and(|e| e.simple && e.tx.response.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_of_absolute_targets() {
        assert_eq!(absolute_authority("http://a.b:8080/x?y"), Some("a.b:8080"));
        assert_eq!(absolute_authority("https://u:p@h/"), Some("h"));
        assert_eq!(absolute_authority("/x"), None);
        assert_eq!(absolute_authority("http:///x"), None);
        assert_eq!(absolute_authority("/r?u=http://x/"), None);
    }
}
