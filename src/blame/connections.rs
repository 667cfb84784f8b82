//! Connection management: how connections were opened, shared, closed and
//! recycled, per capture and per client→server pair.
//!
//! Input: a [`ConnectionBrief`] of each finished connection of a run (any
//! order; see `brief` for what it keeps and which connections it skips). Output:
//! [`PairStats`] per (client IP, server IP:port), sorted, and [`Finding`]s of
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
//! Layout: this file holds the API, the derived times (`View`) and the
//! per-pair statistics; `detect` holds one function per finding kind; `tests`
//! builds records by hand and checks the lab captures in `samples/`.
//!
//! Invariants: no panics; memory linear in the number of records; output
//! depends only on the records (BTreeMap grouping, explicit sort keys).

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use super::Finding;
use crate::stream::Side;
use crate::tcp::conn::CloseHow;
use crate::time::Timestamp;

mod brief;
mod detect;
pub use brief::{Burst, ConnectionBrief, HttpBrief, TxBrief};
use detect::{
    idle_closes, new_connection_per_request, parallel_connections, pipelining,
    port_reuse_in_time_wait, stale_keepalive_races, time_wait_accumulation, PairCtx,
};

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

/// Per client→server pair (client IP, server IP:port) statistics, sorted by
/// (client, server).
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
    /// Lower median of the handshake RTTs.
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

/// One record with the times this module derives from it.
struct View<'a> {
    r: &'a ConnectionBrief,
    /// First SYN: time and frame.
    syn: Option<(Timestamp, u64)>,
    /// SYN time, else first frame.
    open: Timestamp,
    /// End of the last HTTP message.
    activity_end: Option<Timestamp>,
    /// Estimated end of use (see the module doc).
    release: Timestamp,
    /// TIME_WAIT interval and holder.
    time_wait: Option<(Timestamp, Timestamp, Side)>,
    /// Position (in open order) of the previous connection on the four-tuple.
    prev: Option<usize>,
}

impl<'a> View<'a> {
    fn new(r: &'a ConnectionBrief, time_wait_ns: i64) -> View<'a> {
        let syn = r.syn;
        let open = syn.map_or(r.start, |s| s.0);
        let activity_end = r.activity_end();
        let (reset, both_fin) = (r.reset, r.both_fin);
        let closed = r.close_how != CloseHow::Open;
        let mut release = match closed && both_fin && !reset {
            true => Timestamp(r.end.0.saturating_sub(rtt(r).unwrap_or(0))),
            false => r.end,
        };
        if let Some(a) = activity_end {
            // A close soon after the last message is a close after the response.
            if closed && release.since(a) < IDLE_CLOSE_MIN_NS {
                release = a;
            }
            release = release.max(a);
        }
        let release = release.max(open);
        let time_wait = match (r.active_closer, reset) {
            (Some(side), false) => {
                Some((r.end, Timestamp(r.end.0.saturating_add(time_wait_ns)), side))
            }
            _ => None,
        };
        View {
            r,
            syn,
            open,
            activity_end,
            release,
            time_wait,
            prev: None,
        }
    }

    /// When the connection could have served another request.
    fn free_at(&self) -> Timestamp {
        self.activity_end.unwrap_or(self.release)
    }

    fn syn_frame(&self) -> u64 {
        self.syn.map_or(self.r.first_frame, |s| s.1)
    }
}

fn rtt(r: &ConnectionBrief) -> Option<i64> {
    r.handshake_rtt_ns.filter(|n| *n >= 0)
}

/// Analyzes every connection of a run.
pub fn analyze(records: &[ConnectionBrief], options: &ConnectionOptions) -> ConnectionAnalysis {
    let mut views: Vec<View<'_>> = records
        .iter()
        .map(|r| View::new(r, options.time_wait_ns))
        .collect();
    views.sort_by_key(|v| (v.open, v.r.id));
    link_four_tuples(&mut views);
    let origin = views.iter().map(|v| v.open).min().unwrap_or_default();
    let mut pairs: BTreeMap<(IpAddr, SocketAddr), Vec<&View<'_>>> = BTreeMap::new();
    for v in &views {
        pairs
            .entry((v.r.client.ip(), v.r.server))
            .or_default()
            .push(v);
    }
    let mut out = ConnectionAnalysis {
        pairs: Vec::new(),
        findings: Vec::new(),
    };
    for ((client, server), members) in &pairs {
        let stats = pair_stats(*client, *server, members, options);
        let ctx = PairCtx {
            stats: &stats,
            members,
            origin,
            options,
        };
        new_connection_per_request(&ctx, &mut out.findings);
        parallel_connections(&ctx, &mut out.findings);
        stale_keepalive_races(&ctx, &mut out.findings);
        idle_closes(&ctx, &mut out.findings);
        time_wait_accumulation(&ctx, &mut out.findings);
        out.pairs.push(stats);
    }
    for v in &views {
        if let Some(f) = pipelining(v) {
            out.findings.push(f);
        }
        if let Some(f) = port_reuse_in_time_wait(v, &views, options) {
            out.findings.push(f);
        }
    }
    sort_findings(&mut out.findings);
    out
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

/// Links each connection to the previous one on its four-tuple; a reuse ends
/// the earlier one's TIME_WAIT (the holder accepted the SYN, RFC 6191).
fn link_four_tuples(views: &mut [View<'_>]) {
    let mut last_of_tuple: BTreeMap<(SocketAddr, SocketAddr), usize> = BTreeMap::new();
    for i in 0..views.len() {
        let key = (views[i].r.client, views[i].r.server);
        let open = views[i].open;
        if let Some(&p) = last_of_tuple.get(&key) {
            views[i].prev = Some(p);
            if let Some((enter, exit, side)) = views[p].time_wait {
                if open >= enter && open < exit {
                    views[p].time_wait = Some((enter, open, side));
                }
            }
        }
        last_of_tuple.insert(key, i);
    }
}

/// Peak of overlapping intervals `[a, b)` (an empty one lasts 1 ns): the
/// count and the first time it was reached.
fn peak(intervals: &[(Timestamp, Timestamp)]) -> (u64, Option<Timestamp>) {
    let mut events: Vec<(Timestamp, i8)> = Vec::with_capacity(intervals.len() * 2);
    for &(a, b) in intervals {
        events.push((a, 1));
        events.push((b.max(Timestamp(a.0.saturating_add(1))), -1));
    }
    events.sort();
    let (mut now, mut best, mut at) = (0i64, 0i64, None);
    for (i, &(t, d)) in events.iter().enumerate() {
        now += i64::from(d);
        let last_at_t = events.get(i + 1).is_none_or(|n| n.0 != t);
        if last_at_t && now > best {
            best = now;
            at = Some(t);
        }
    }
    (u64::try_from(best).unwrap_or(0), at)
}

/// Most timestamps within any [`RATE_WINDOW_NS`] (input sorted).
fn max_in_window(sorted: &[Timestamp]) -> u64 {
    let (mut lo, mut best) = (0usize, 0usize);
    for hi in 0..sorted.len() {
        while sorted[hi].since(sorted[lo]) >= RATE_WINDOW_NS {
            lo += 1;
        }
        best = best.max(hi + 1 - lo);
    }
    best as u64
}

fn pair_stats(
    client: IpAddr,
    server: SocketAddr,
    members: &[&View<'_>],
    options: &ConnectionOptions,
) -> PairStats {
    let count = |f: &dyn Fn(&View<'_>) -> bool| members.iter().filter(|v| f(v)).count() as u64;
    let mut rtts: Vec<i64> = members.iter().filter_map(|v| rtt(v.r)).collect();
    rtts.sort_unstable();
    let in_use: Vec<_> = members.iter().map(|v| (v.open, v.release)).collect();
    let (peak_concurrency, peak_concurrency_at) = peak(&in_use);
    let tw: Vec<_> = members
        .iter()
        .filter_map(|v| v.time_wait.map(|(a, b, _)| (a, b)))
        .filter(|(a, b)| b > a)
        .collect();
    let (peak_time_wait, peak_time_wait_at) = peak(&tw);
    let syns: Vec<Timestamp> = members.iter().filter_map(|v| v.syn.map(|s| s.0)).collect();
    let mut syns = syns;
    syns.sort_unstable();
    let per_s = 1e9 / RATE_WINDOW_NS as f64;
    let reused_in_tw = |v: &View<'_>| matches!(v.r.port_reused, Some(Some(ns)) if (0..options.time_wait_ns).contains(&ns));
    PairStats {
        client,
        server,
        connections: members.len() as u64,
        reused_connections: count(&|v| v.r.transactions() > 1),
        transactions: members.iter().map(|v| u64::from(v.r.transactions())).sum(),
        handshakes: syns.len() as u64,
        handshake_rtt_ns_median: rtts.get(rtts.len().saturating_sub(1) / 2).copied(),
        peak_concurrency,
        peak_concurrency_at,
        max_pipeline_depth: members
            .iter()
            .map(|v| v.r.http.as_ref().map_or(0, |h| h.pipeline_depth))
            .max()
            .unwrap_or(0),
        closes_by_client: count(&|v| v.r.close_by == Some(Side::Client)),
        closes_by_server: count(&|v| v.r.close_by == Some(Side::Server)),
        resets: count(&|v| v.r.reset),
        time_wait_holder_client: count(&|v| v.time_wait.is_some_and(|t| t.2 == Side::Client)),
        time_wait_holder_server: count(&|v| v.time_wait.is_some_and(|t| t.2 == Side::Server)),
        peak_time_wait,
        peak_time_wait_at,
        peak_new_conn_rate_per_s: max_in_window(&syns) as f64 * per_s,
        port_reuses: count(&|v| v.r.port_reused.is_some()),
        reused_in_time_wait: count(&reused_in_tw),
    }
}

#[cfg(test)]
mod tests;
