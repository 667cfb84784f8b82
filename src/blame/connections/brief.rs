//! What the connection-management analysis needs of a finished connection,
//! and no more: a few dozen bytes per connection (plus a small box for
//! connections that carried HTTP), so a run can keep one per connection until
//! the end without growing with the transactions or their headers.
//!
//! Connections that never carried a byte, never closed and did not reuse a
//! four-tuple (a SYN flood, a port scan, a handshake cut by the end of the
//! capture) give no brief: they cannot hold TIME_WAIT, carry a request or
//! be reused, and keeping a million of them is what an attack costs.

use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

use crate::pipeline::ConnectionRecord;
use crate::stream::Side;
use crate::tcp::conn::{CloseHow, Vantage};
use crate::time::Timestamp;
use crate::transaction::Transaction;

/// One finished connection, as the connection analysis sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionBrief {
    pub id: u32,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub first_frame: u64,
    /// First and last frame times.
    pub start: Timestamp,
    pub end: Timestamp,
    /// First SYN: time and frame.
    pub syn: Option<(Timestamp, u64)>,
    /// Time from the first to the last SYN, when the SYN was retransmitted.
    pub syn_retry_ns: Option<i64>,
    pub handshake_rtt_ns: Option<i64>,
    pub vantage: Vantage,
    pub close_by: Option<Side>,
    pub close_how: CloseHow,
    pub active_closer: Option<Side>,
    /// A RST from either side.
    pub reset: bool,
    /// FINs from both sides.
    pub both_fin: bool,
    pub port_reused: Option<Option<i64>>,
    /// Report id of the connection's first transaction (the others follow).
    pub first_tx_id: u64,
    pub http: Option<Box<HttpBrief>>,
}

/// The connection's HTTP, summarized.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpBrief {
    pub transactions: u32,
    /// Transactions whose request came before the previous response ended.
    pub pipelined: u32,
    /// End of the last HTTP message, and the last frame of that message.
    pub activity_end: Option<(Timestamp, u64)>,
    /// Most requests outstanding at once (0: no requests).
    pub pipeline_depth: u64,
    /// The deepest pipelined burst, when any request was pipelined.
    pub burst: Option<Burst>,
    pub first: Option<TxBrief>,
    pub last: Option<TxBrief>,
}

/// The transactions `first..=last` with the most requests outstanding.
#[derive(Clone, Debug, PartialEq)]
pub struct Burst {
    pub first: u32,
    pub last: u32,
    /// First request's start, and the end of the last one's response (else
    /// of its request).
    pub start: Timestamp,
    pub end: Timestamp,
    /// First frames of the burst's requests (at most
    /// [`super::MAX_EVIDENCE_FRAMES`]).
    pub frames: Vec<u64>,
}

/// One transaction, as far as a stale keep-alive race needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct TxBrief {
    pub index: u32,
    /// Request start and first frame.
    pub request: Option<(Timestamp, u64)>,
    pub answered: bool,
    /// Hash of (method, URI), to tell whether a retry is the same request.
    pub request_key: Option<u64>,
    /// Method and URI, kept only for a possible failed request (no response
    /// on a connection the server closed and reset), which a detail names.
    pub names: Option<Box<(String, String)>>,
}

impl ConnectionBrief {
    /// The brief of a record, or `None` for a connection that never carried
    /// a byte, never closed and did not reuse a four-tuple.
    pub fn of(r: &ConnectionRecord) -> Option<ConnectionBrief> {
        let reset = r.dirs.iter().any(|d| d.rst);
        let both_fin = r.dirs.iter().all(|d| d.fin);
        let carried = r.dirs.iter().any(|d| d.bytes > 0) || !r.transactions.is_empty();
        let closed = r.close_how != CloseHow::Open || reset || r.dirs.iter().any(|d| d.fin);
        if !carried && !closed && r.port_reused.is_none() {
            return None;
        }
        let hs = r.handshake.as_ref();
        let syn = hs.and_then(|h| h.syn).map(|m| (m.ts, m.frame));
        let syn_retry_ns = hs
            .and_then(|h| Some(h.last_syn?.ts.since(h.syn?.ts)))
            .filter(|d| *d > 0);
        let failed_candidate =
            r.close_by == Some(Side::Server) && r.close_how == CloseHow::Fin && reset;
        Some(ConnectionBrief {
            id: r.id,
            client: r.client,
            server: r.server,
            first_frame: r.first_frame,
            start: r.start,
            end: r.end,
            syn,
            syn_retry_ns,
            handshake_rtt_ns: r.handshake_rtt_ns,
            vantage: r.vantage,
            close_by: r.close_by,
            close_how: r.close_how,
            active_closer: r.active_closer,
            reset,
            both_fin,
            port_reused: r.port_reused,
            first_tx_id: r.first_tx_id,
            http: (!r.transactions.is_empty())
                .then(|| Box::new(HttpBrief::of(&r.transactions, failed_candidate))),
        })
    }

    pub fn transactions(&self) -> u32 {
        self.http.as_ref().map_or(0, |h| h.transactions)
    }

    /// End of the last HTTP message.
    pub fn activity_end(&self) -> Option<Timestamp> {
        self.http
            .as_ref()
            .and_then(|h| h.activity_end)
            .map(|(t, _)| t)
    }
}

impl HttpBrief {
    fn of(txs: &[Transaction], failed_candidate: bool) -> HttpBrief {
        let activity_end = txs
            .iter()
            .flat_map(|t| [t.request.as_ref(), t.response.as_ref()])
            .flatten()
            .max_by_key(|m| (m.end, m.last_frame))
            .map(|m| (m.end, m.last_frame));
        let pipelined = txs.iter().filter(|t| t.pipelined).count();
        let (pipeline_depth, first, deepest) = pipeline_depth(txs);
        let burst = if pipelined > 0 {
            txs.get(first..=deepest).and_then(|b| {
                let start = b.first()?.request.as_ref()?.start;
                let last = b.last()?;
                let end = last
                    .response
                    .as_ref()
                    .or(last.request.as_ref())
                    .map_or(start, |m| m.end);
                Some(Burst {
                    first: b.first()?.index,
                    last: last.index,
                    start,
                    end,
                    frames: b
                        .iter()
                        .filter_map(|t| t.request.as_ref().map(|m| m.first_frame))
                        .take(super::MAX_EVIDENCE_FRAMES)
                        .collect(),
                })
            })
        } else {
            None
        };
        let last = txs.last().map(|t| {
            let mut b = TxBrief::of(t);
            if failed_candidate && t.response.is_none() {
                b.names = Some(Box::new((
                    t.method.as_deref().unwrap_or_default().to_string(),
                    t.uri.clone().unwrap_or_default(),
                )));
            }
            b
        });
        HttpBrief {
            transactions: u32::try_from(txs.len()).unwrap_or(u32::MAX),
            pipelined: u32::try_from(pipelined).unwrap_or(u32::MAX),
            activity_end,
            pipeline_depth,
            burst,
            first: txs.first().map(TxBrief::of),
            last,
        }
    }
}

impl TxBrief {
    fn of(t: &Transaction) -> TxBrief {
        let request_key = match (&t.method, &t.uri) {
            (Some(m), Some(u)) => {
                let mut h = rustc_hash::FxHasher::default();
                (m, u).hash(&mut h);
                Some(h.finish())
            }
            _ => None,
        };
        TxBrief {
            index: t.index,
            request: t.request.as_ref().map(|m| (m.start, m.first_frame)),
            answered: t.response.is_some(),
            request_key,
            names: None,
        }
    }
}

/// Most requests outstanding at once on the connection, and the transaction
/// positions `(first, deepest)` of that burst.
pub(super) fn pipeline_depth(txs: &[Transaction]) -> (u64, usize, usize) {
    let (mut best, mut at) = (0u64, (0usize, 0usize));
    let mut k = 0usize;
    for (j, tx) in txs.iter().enumerate() {
        let Some(req) = &tx.request else { continue };
        if !tx.pipelined {
            k = j;
        }
        while k < j && txs[k].response.as_ref().is_some_and(|m| m.end <= req.start) {
            k += 1;
        }
        let depth = (j - k + 1) as u64;
        if depth > best {
            best = depth;
            at = (k, j);
        }
    }
    (best, at.0, at.1)
}
