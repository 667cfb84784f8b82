//! Connection management: how connections were opened, shared, closed and
//! recycled, per capture and per client→server pair.
//!
//! Input: a [`ConnectionBrief`] of each finished connection of a run (see
//! `brief` for what it keeps and which connections it skips), fed to a
//! [`ConnectionAnalyzer`] as connections finish. Output: [`Finding`]s of
//! seven kinds ([`KINDS`], documented in `docs/connection-management.md`):
//! handshakes keep-alive would have saved, parallel connections, pipelining
//! depth, idle closes, stale keep-alive races, TIME_WAIT accumulation and
//! four-tuples reused while possibly in TIME_WAIT.
//!
//! Times the record does not carry are estimated, and every estimate is named:
//! a connection is *in use* from its SYN (else its first frame) until its
//! *release*: the estimated first FIN/RST, which is the last frame minus one
//! handshake RTT when both FINs were seen (the closing exchange after the
//! first FIN takes about one round trip from any vantage), else the last
//! frame; a close less than [`IDLE_CLOSE_MIN_NS`] after the last HTTP byte
//! releases the connection at that byte. A connection closed with FIN
//! and no RST enters TIME_WAIT on its active closer (RFC 9293 §3.6) at its last
//! frame and stays `time_wait_ns`, or until its four-tuple is reused.
//!
//! Streaming: connections are analyzed in id order (the order they were
//! first seen, which is open order), so a connection waits in a reorder
//! buffer only while an earlier one is still live. Each client→server pair
//! keeps running state: counters, the connections in use now, the
//! four-tuples whose TIME_WAIT could still matter, and the idle-close and
//! stale keep-alive candidates still waiting for a later connection. A pair
//! quiet for longer than its horizon (the later of 2MSL and the stale-retry
//! window after its last frame) is finished and forgotten; a connection
//! after that starts the pair afresh. So memory follows the live connections
//! and the connections of the last 2MSL, never the length of the capture.
//! Findings are emitted as soon as they are final (per-connection ones at
//! once, pair-level ones when the pair is finished).
//!
//! Layout: this file holds the API, the reorder buffer and the derived times
//! (`Member`); `pair` holds a pair's running state and the seven detectors;
//! `tests` builds records by hand and checks the lab captures in `samples/`.
//!
//! Invariants: no panics; output depends only on the records and their ids,
//! not on the order they are pushed in.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::{IpAddr, SocketAddr};

use super::Finding;
use crate::stream::Side;
use crate::tcp::conn::CloseHow;
use crate::time::Timestamp;

mod brief;
mod pair;
pub use brief::{Burst, ConnectionBrief, HttpBrief, TxBrief};
use pair::PairState;

/// Default TIME_WAIT length (2MSL), 60 s.
///
/// Source: Linux `TCP_TIMEWAIT_LEN` (include/net/tcp.h, not tunable); RFC 9293
/// §3.4.2 suggests MSL = 2 min (2MSL = 4 min), Windows defaults to 120 s. A
/// shorter value than the holder's real one under-counts TIME_WAIT.
pub const DEFAULT_TIME_WAIT_NS: i64 = 60_000_000_000;

/// Default size of the ephemeral port range, 28,232 ports.
///
/// Source: Linux `net.ipv4.ip_local_port_range` default 32768–60999. Windows
/// and the IANA range (49152–65535) give 16,384.
pub const DEFAULT_EPHEMERAL_PORTS: u32 = 28_232;

/// Peak TIME_WAIT four-tuples of one pair that make a finding.
///
/// Source: our threshold; a few hundred is where operators start to see them
/// in `ss -s` (prior-art §2.8). Lower values flag every short burst.
pub const TIME_WAIT_PEAK_ALARM: u64 = 100;

/// Fraction (percent) of the sustainable new-connection rate
/// (`ephemeral_ports / 2MSL`) that makes a finding.
///
/// Source: our threshold; at 100 % a client runs out of ports to one server
/// (NANOG 2012 "TCP time_wait and port exhaustion"), half leaves room for bursts.
pub const PORT_RATE_ALARM_PCT: u64 = 50;

/// Window over which the new-connection rate is counted, 1 s.
pub const RATE_WINDOW_NS: i64 = 1_000_000_000;

/// Parallel connections per host browsers open; more is worth a note.
///
/// Source: Chrome's and Firefox's per-host limit (6) for HTTP/1.x; RFC 9112
/// §9.4 asks clients to limit simultaneous connections to a server.
pub const BROWSER_CONNECTIONS_PER_HOST: u64 = 6;

/// Idle time after the last HTTP byte before a close counts as an idle close.
///
/// Source: our threshold, below the shortest common keep-alive timeouts
/// (Apache httpd and Node.js 5 s, nginx 75 s) and above the round trips of
/// the closing exchange. A close within 1 s is a close after the response.
pub const IDLE_CLOSE_MIN_NS: i64 = 1_000_000_000;

/// Longest time from a failed request to its retry on a new connection for a
/// stale keep-alive race.
///
/// Source: our threshold; clients retry idempotent requests at once (RFC 9110
/// §9.2.2, e.g. Go's net/http, Python urllib3), after at most a handshake.
pub const STALE_RETRY_WINDOW_NS: i64 = 5_000_000_000;

/// Frames listed as evidence per finding (the detail gives the full count).
pub const MAX_EVIDENCE_FRAMES: usize = 16;

/// The finding kinds, in output order.
pub const KINDS: [&str; 7] = [
    "new_connection_per_request",
    "parallel_connections",
    "pipelining",
    "idle_close",
    "stale_keepalive_race",
    "time_wait_accumulation",
    "port_reuse_in_time_wait",
];

/// Where an idle close's recommendation turns from the change to this
/// instance's numbers (the idle time, the connection that could have been
/// reused); see [`recommendation_group`].
const IDLE_CLOSE_INSTANCE: &str = " above ";

/// The same for a stale keep-alive race's (what this retry cost).
const STALE_RACE_INSTANCE: &str = ": this retry cost ";

/// The same for a pair's new connections per request (how many handshakes
/// one client could have saved; each client address is a pair of its own).
const NEW_CONNECTION_INSTANCE: &str = ": ";

/// The part of a finding's recommendation that names the change, without
/// this instance's numbers: the summary groups recommendations by it, so
/// that a thousand idle closes make one line, not a thousand.
pub fn recommendation_group<'a>(kind: &str, text: &'a str) -> &'a str {
    let instance = match kind {
        "idle_close" => IDLE_CLOSE_INSTANCE,
        "stale_keepalive_race" => STALE_RACE_INSTANCE,
        "new_connection_per_request" => NEW_CONNECTION_INSTANCE,
        _ => return text,
    };
    text.find(instance).map_or(text, |i| &text[..i])
}

/// Analysis settings (`--time-wait` sets `time_wait_ns`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionOptions {
    /// 2MSL, how long the active closer keeps a four-tuple.
    pub time_wait_ns: i64,
    /// Size of the client's ephemeral port range.
    pub ephemeral_ports: u32,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        ConnectionOptions {
            time_wait_ns: DEFAULT_TIME_WAIT_NS,
            ephemeral_ports: DEFAULT_EPHEMERAL_PORTS,
        }
    }
}

/// Per client→server pair (client IP, server IP:port) statistics.
#[derive(Clone, Debug, PartialEq)]
pub struct PairStats {
    pub client: IpAddr,
    pub server: SocketAddr,
    pub connections: u64,
    /// Connections carrying more than one transaction.
    pub reused_connections: u64,
    pub transactions: u64,
    /// Connections whose SYN was captured.
    pub handshakes: u64,
    /// Lower median of the handshake RTTs (within 0.05 %, see
    /// [`crate::histogram`]).
    pub handshake_rtt_ns_median: Option<i64>,
    /// Most connections in use at once (SYN to release).
    pub peak_concurrency: u64,
    pub peak_concurrency_at: Option<Timestamp>,
    /// Most requests outstanding at once on one connection (0: no requests).
    pub max_pipeline_depth: u64,
    /// Connections whose first FIN or RST came from the client / the server.
    pub closes_by_client: u64,
    pub closes_by_server: u64,
    /// Connections with a RST from either side.
    pub resets: u64,
    /// Connections closed with FIN and no RST, by active closer (who holds
    /// TIME_WAIT).
    pub time_wait_holder_client: u64,
    pub time_wait_holder_server: u64,
    pub peak_time_wait: u64,
    pub peak_time_wait_at: Option<Timestamp>,
    /// Most SYNs in any [`RATE_WINDOW_NS`] window, per second.
    pub peak_new_conn_rate_per_s: f64,
    /// Connections that reused the four-tuple of an earlier one.
    pub port_reuses: u64,
    /// Of those, reused less than `time_wait_ns` after the earlier one closed.
    pub reused_in_time_wait: u64,
}

/// The result of [`analyze`].
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionAnalysis {
    pub pairs: Vec<PairStats>,
    pub findings: Vec<Finding>,
}

/// A connection with the times this module derives from it.
struct Member<'a> {
    b: &'a ConnectionBrief,
    /// First SYN: time and frame.
    syn: Option<(Timestamp, u64)>,
    /// SYN time, else first frame.
    open: Timestamp,
    /// End of the last HTTP message.
    activity_end: Option<Timestamp>,
    /// Estimated end of use (see the module doc).
    release: Timestamp,
    /// TIME_WAIT interval and holder (before a reuse cuts it short).
    time_wait: Option<(Timestamp, Timestamp, Side)>,
}

impl<'a> Member<'a> {
    fn new(b: &'a ConnectionBrief, time_wait_ns: i64) -> Member<'a> {
        let open = b.syn.map_or(b.start, |s| s.0);
        let activity_end = b.activity_end();
        let closed = b.close_how != CloseHow::Open;
        let mut release = match closed && b.both_fin && !b.reset {
            true => Timestamp(b.end.0.saturating_sub(rtt(b).unwrap_or(0))),
            false => b.end,
        };
        if let Some(a) = activity_end {
            // A close soon after the last message is a close after the response.
            if closed && release.since(a) < IDLE_CLOSE_MIN_NS {
                release = a;
            }
            release = release.max(a);
        }
        let release = release.max(open);
        let time_wait = match (b.active_closer, b.reset) {
            (Some(side), false) => {
                Some((b.end, Timestamp(b.end.0.saturating_add(time_wait_ns)), side))
            }
            _ => None,
        };
        Member {
            b,
            syn: b.syn,
            open,
            activity_end,
            release,
            time_wait,
        }
    }

    /// When the connection could have served another request.
    fn free_at(&self) -> Timestamp {
        self.activity_end.unwrap_or(self.release)
    }

    fn syn_frame(&self) -> u64 {
        self.syn.map_or(self.b.first_frame, |s| s.1)
    }

    /// Report id of the transaction at `index` on this connection.
    fn tx_id(&self, index: u32) -> Option<u64> {
        (index < self.b.transactions()).then(|| self.b.first_tx_id + u64::from(index))
    }
}

fn rtt(r: &ConnectionBrief) -> Option<i64> {
    r.handshake_rtt_ns.filter(|n| *n >= 0)
}

/// Most finished connections kept waiting for an earlier one that is still
/// open (about 250 B each: 16 MB). Past it the analysis goes on without the
/// open ones, which are analyzed when they finish, out of order (their
/// pair's peaks and chains may then miss them, and a pair finished in the
/// meantime starts afresh). Only a connection open for the whole of 65,536
/// later ones (a WebSocket, a long poll) gets there.
pub const MAX_WAITING: usize = 65_536;

/// Most client→server pairs kept at once. Past it the pair that would be
/// finished soonest anyway (the earliest quiet time) is finished early; a
/// later connection of it starts the pair afresh (its counts and peaks are
/// then split in two, and a reuse of one of its four-tuples names no
/// TIME_WAIT holder).
///
/// Source: a byte budget. A pair costs about 2 KB while it has a
/// connection in use (its state, 848 bytes boxed, and the first nodes of
/// its collections): 20,000 pairs hold about 40 MB. A capture reaches it
/// with more than 20,000 client addresses active within 2MSL, e.g. a busy
/// server seen from its own side, or a flood of complete handshakes from
/// distinct addresses (100,000 of those held 240 MB before the cap).
pub const MAX_PAIRS: usize = 20_000;

/// Opens whose minimum is the expiry watermark.
const WATERMARK_OPENS: usize = 16;

/// A finding and the report id of the transaction it names, if any.
pub type Emit<'a> = dyn FnMut(Finding, Option<u64>) + 'a;

type PairKey = (IpAddr, SocketAddr);

/// Connection-management analysis over connections pushed as they finish.
pub struct ConnectionAnalyzer {
    options: ConnectionOptions,
    /// Connections finished ahead of an earlier id, waiting for it.
    waiting: BTreeMap<u32, Option<ConnectionBrief>>,
    next_id: u32,
    /// Earliest open seen (details show times after it).
    origin: Option<Timestamp>,
    /// The last opens processed; their minimum is the watermark before
    /// which pairs may be forgotten (a minimum, so that one frame with a
    /// wild timestamp cannot finish every pair at once).
    recent_opens: std::collections::VecDeque<Timestamp>,
    /// Boxed: a pair's state is 848 bytes, and most pairs of a busy
    /// server are one client's one or two connections.
    pairs: BTreeMap<PairKey, Box<PairState>>,
    /// (quiet after, pair): when a pair may be finished, one entry per
    /// pair. A pair's quiet time only moves later; an entry found early is
    /// put back at the pair's time then (one entry per connection instead
    /// held every connection of the last 2MSL: 4 MB on big.pcap).
    expiry: BinaryHeap<Reverse<(Timestamp, PairKey)>>,
    /// Statistics of the finished pairs, when asked for.
    keep_pairs: bool,
    finished_pairs: Vec<PairStats>,
    /// Pairs finished early for [`MAX_PAIRS`].
    finished_early: u64,
}

impl ConnectionAnalyzer {
    pub fn new(options: ConnectionOptions) -> ConnectionAnalyzer {
        ConnectionAnalyzer {
            options,
            waiting: BTreeMap::new(),
            next_id: 0,
            origin: None,
            recent_opens: std::collections::VecDeque::with_capacity(WATERMARK_OPENS),
            pairs: BTreeMap::new(),
            expiry: BinaryHeap::new(),
            keep_pairs: false,
            finished_pairs: Vec::new(),
            finished_early: 0,
        }
    }

    /// Also keep each pair's [`PairStats`] (tests and [`analyze`]).
    pub fn keep_pair_stats(mut self) -> ConnectionAnalyzer {
        self.keep_pairs = true;
        self
    }

    /// One finished connection: its id and its brief (`None` for a
    /// connection without one, or left out by a filter). Every id of the
    /// run should be pushed once; connections are analyzed in id order.
    pub fn push(&mut self, id: u32, brief: Option<ConnectionBrief>, emit: &mut Emit<'_>) {
        if id < self.next_id {
            // Skipped past (see MAX_WAITING): analyzed now, late.
            if let Some(b) = brief {
                self.process(&b, emit);
            }
            return;
        }
        self.waiting.insert(id, brief);
        if self.waiting.len() > MAX_WAITING {
            // One connection has stayed open while MAX_WAITING later ones
            // finished: stop waiting for the ids before the first waiting one.
            if let Some((&first, _)) = self.waiting.first_key_value() {
                self.next_id = first;
            }
        }
        while let Some(b) = self.waiting.remove(&self.next_id) {
            self.next_id = self.next_id.saturating_add(1);
            if let Some(b) = b {
                self.process(&b, emit);
            }
        }
    }

    /// Connections waiting in the reorder buffer now.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Pairs kept now.
    pub fn pairs(&self) -> usize {
        self.pairs.len()
    }

    /// Pairs finished early so far because more than [`MAX_PAIRS`] were
    /// kept.
    pub fn finished_early(&self) -> u64 {
        self.finished_early
    }

    /// Analyzes what is still waiting (in id order) and finishes every pair.
    pub fn finish(mut self, emit: &mut Emit<'_>) -> Vec<PairStats> {
        for (_, b) in std::mem::take(&mut self.waiting) {
            if let Some(b) = b {
                self.process(&b, emit);
            }
        }
        let origin = self.origin.unwrap_or_default();
        for (_, pair) in std::mem::take(&mut self.pairs) {
            let stats = pair.finish(origin, &self.options, emit);
            if self.keep_pairs {
                self.finished_pairs.push(stats);
            }
        }
        self.finished_pairs
    }

    fn process(&mut self, b: &ConnectionBrief, emit: &mut Emit<'_>) {
        let m = Member::new(b, self.options.time_wait_ns);
        self.origin = Some(self.origin.map_or(m.open, |o| o.min(m.open)));
        if self.recent_opens.len() == WATERMARK_OPENS {
            self.recent_opens.pop_front();
        }
        self.recent_opens.push_back(m.open);
        self.expire(emit);
        let key = (b.client.ip(), b.server);
        if self.pairs.len() >= MAX_PAIRS && !self.pairs.contains_key(&key) {
            self.finished_early += self.finish_pairs(emit, |_, kept| kept >= MAX_PAIRS);
        }
        let mut new_pair = false;
        let pair = self.pairs.entry(key).or_insert_with(|| {
            new_pair = true;
            Box::new(PairState::new(key.0, key.1))
        });
        pair.add(&m, &self.options, emit);
        if new_pair {
            self.expiry.push(Reverse((pair.quiet_after(), key)));
        }
    }

    /// Finishes the pairs quiet since before the watermark.
    fn expire(&mut self, emit: &mut Emit<'_>) {
        let Some(watermark) = self.recent_opens.iter().min().copied() else {
            return;
        };
        self.finish_pairs(emit, |quiet, _| quiet < watermark);
    }

    /// Finishes pairs in the order of their quiet time while `due(quiet
    /// time, pairs kept)` says so; returns how many.
    fn finish_pairs(&mut self, emit: &mut Emit<'_>, due: impl Fn(Timestamp, usize) -> bool) -> u64 {
        let mut finished = 0;
        while let Some(Reverse((at, key))) = self.expiry.peek().copied() {
            if !due(at, self.pairs.len()) {
                break;
            }
            self.expiry.pop();
            match self.pairs.get(&key).map(|p| p.quiet_after()) {
                Some(current) if current == at => {}
                Some(later) => {
                    self.expiry.push(Reverse((later, key)));
                    continue;
                }
                None => continue,
            }
            if let Some(pair) = self.pairs.remove(&key) {
                let origin = self.origin.unwrap_or_default();
                let stats = pair.finish(origin, &self.options, emit);
                if self.keep_pairs {
                    self.finished_pairs.push(stats);
                }
                finished += 1;
            }
        }
        finished
    }
}

/// Analyzes every connection of a run at once: findings sorted by kind,
/// then connection and time; pairs sorted by (client, server).
pub fn analyze(briefs: &[ConnectionBrief], options: &ConnectionOptions) -> ConnectionAnalysis {
    let mut analyzer = ConnectionAnalyzer::new(*options).keep_pair_stats();
    let mut findings = Vec::new();
    let mut sorted: Vec<&ConnectionBrief> = briefs.iter().collect();
    sorted.sort_by_key(|b| b.id);
    for b in sorted {
        analyzer.push(b.id, Some(b.clone()), &mut |f, _| findings.push(f));
    }
    let mut pairs = analyzer.finish(&mut |f, _| findings.push(f));
    pairs.sort_by_key(|p| (p.client, p.server));
    sort_findings(&mut findings);
    ConnectionAnalysis { pairs, findings }
}

/// The findings that recommend a change, largest estimated saving first
/// (unknown savings last; ties in output order).
pub fn ranked_by_saving(findings: &[Finding]) -> Vec<&Finding> {
    let mut ranked: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.recommendation.is_some())
        .collect();
    ranked.sort_by_key(|f| Reverse(f.saving_ns.unwrap_or(-1)));
    ranked
}

fn kind_rank(kind: &str) -> usize {
    KINDS.iter().position(|k| *k == kind).unwrap_or(KINDS.len())
}

fn sort_findings(findings: &mut [Finding]) {
    type Key<'a> = (
        usize,
        Option<u32>,
        Timestamp,
        Option<u32>,
        &'a [u64],
        &'a str,
    );
    fn key(f: &Finding) -> Key<'_> {
        (
            kind_rank(f.kind),
            f.connection,
            f.start,
            f.transaction,
            &f.frames,
            &f.detail,
        )
    }
    findings.sort_by(|a, b| key(a).cmp(&key(b)));
}

#[cfg(test)]
mod tests;
