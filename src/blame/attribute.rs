//! Attribution: each transaction's span partitioned exactly into causes.
//!
//! The span runs from the DNS query (if one is linked), or the SYN (first
//! transaction of a connection whose SYN was captured), or the first request
//! byte, to the last response byte (or the last byte seen, if incomplete).
//!
//! The span is first cut into base phases in time order: `dns`, the client's
//! pause before the SYN, `syn_retransmit` and `connect_rtt`, the client's
//! pause before the request, `request_send`, the wait (`server` by default),
//! and the response (`transfer` by default). Detectors then claim
//! sub-intervals (stalls in [`super::stalls`], head-of-line blocking, the
//! network round trip and retransmitted requests inside the wait). Where
//! claims overlap the stronger wins, in this order: loss, receive window,
//! Nagle, delayed ACK, slow start, application pause, head of line, network
//! RTT. Every instant of the span gets exactly one cause, so the parts are
//! non-negative and sum to the span; rounding to microseconds keeps the sum
//! exact (largest remainder).

use crate::stream::Side;
use crate::tcp::conn::{Connection, Vantage};
use crate::tcp::timeline::SegKind;
use crate::time::{Ms1, Timestamp};
use crate::transaction::Transaction;

use super::rtt::{self, PathRtt};
use super::stalls::{self, Claim, StallContext};
use super::{Cause, Confidence, Finding};

/// Default MSS when the SYN was not captured (Ethernet, IPv4, no options).
const DEFAULT_MSS: u64 = 1460;

/// A DNS resolution linked to a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsLink {
    pub name: String,
    pub query_ts: Timestamp,
    pub answer_ts: Timestamp,
    pub query_frame: u64,
    pub answer_frame: u64,
    pub retries: u32,
}

/// HAR-style phases in microseconds; -1 where a phase does not apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Phases {
    pub blocked: i64,
    pub dns: i64,
    pub connect: i64,
    pub send: i64,
    pub wait: i64,
    pub receive: i64,
}

/// One transaction's attribution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxBlame {
    pub start: Timestamp,
    pub end: Timestamp,
    /// Microseconds per cause (index with `Cause::index()`); sums to `total_us`.
    pub parts_us: [i64; 15],
    pub total_us: i64,
    pub dominant: Cause,
    /// HAR phases; the non-negative ones sum to `total_us`.
    pub phases: Phases,
}

/// A connection's attribution.
#[derive(Clone, Debug, Default)]
pub struct ConnectionBlame {
    /// Parallel to the transactions.
    pub transactions: Vec<Option<TxBlame>>,
    pub findings: Vec<Finding>,
    pub rtt: PathRtt,
}

/// Priority of claimed causes where they overlap (higher wins).
fn priority(c: Cause) -> u8 {
    match c {
        Cause::LossRecovery => 9,
        Cause::ReceiveWindow => 8,
        Cause::Nagle => 7,
        Cause::DelayedAck => 6,
        Cause::SlowStart => 5,
        Cause::Server | Cause::Client => 4,
        Cause::HeadOfLine => 3,
        Cause::NetworkRtt => 2,
        _ => 1,
    }
}

/// Attributes every transaction of `conn`.
pub fn blame_connection(
    conn: &Connection,
    txs: &[Transaction],
    dns: Option<&DnsLink>,
) -> ConnectionBlame {
    let rtt = rtt::estimate(conn);
    let timestamps = conn.dir(Side::Client).timestamps && conn.dir(Side::Server).timestamps;
    let mss = [Side::Client, Side::Server].map(|s| {
        // A sender's segments are bounded by the MSS its peer announced,
        // less 12 bytes per segment when timestamps are on (RFC 7323 §3).
        let announced = conn
            .dir(s.other())
            .mss
            .map(|m| u64::from(m).saturating_sub(if timestamps { 12 } else { 0 }));
        match announced {
            // TSO captures show segments larger than the MSS; keep the MSS.
            Some(m) => m.max(1),
            None => {
                let seen = conn
                    .timeline
                    .events
                    .iter()
                    .filter(|e| e.side == s && e.kind == SegKind::New)
                    .map(|e| e.end - e.start)
                    .max()
                    .unwrap_or(0);
                seen.clamp(1, 65_535)
                    .max(if seen == 0 { DEFAULT_MSS } else { 1 })
            }
        }
    });
    let vantage = conn.vantage();
    let mut out = ConnectionBlame {
        rtt,
        ..Default::default()
    };
    let mut prev_response_end: Option<Timestamp> = None;
    for (i, t) in txs.iter().enumerate() {
        let ctx = StallContext {
            events: &conn.timeline.events,
            rtt,
            vantage,
            conn_id: conn.id,
            tx_index: t.index,
            mss,
            endpoints: [
                stalls::Endpoint::Client(conn.client.ip()),
                stalls::Endpoint::Server(conn.server),
            ],
        };
        let b = blame_transaction(
            conn,
            &ctx,
            t,
            i == 0,
            dns,
            prev_response_end,
            &mut out.findings,
        );
        if let Some(r) = &t.response {
            prev_response_end = Some(prev_response_end.map_or(r.end, |p| p.max(r.end)));
        }
        out.transactions.push(b);
    }
    if conn.timeline.truncated {
        out.findings.push(Finding {
            kind: "timeline_truncated",
            connection: Some(conn.id),
            transaction: None,
            start: conn.start,
            duration_ns: conn.last.since(conn.start),
            frames: vec![conn.first_frame],
            detail: format!(
                "only the first {} segments were kept for analysis; later stalls are not explained",
                crate::tcp::timeline::MAX_TIMELINE_EVENTS
            ),
            confidence: Confidence::Low,
            vantage,
            saving_ns: None,
            recommendation: None,
        });
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn blame_transaction(
    conn: &Connection,
    ctx: &StallContext<'_>,
    t: &Transaction,
    first: bool,
    dns: Option<&DnsLink>,
    prev_response_end: Option<Timestamp>,
    findings: &mut Vec<Finding>,
) -> Option<TxBlame> {
    let req = t.request.as_ref();
    let resp = t.response.as_ref();
    let msg_start = req.map(|m| m.start).or(resp.map(|m| m.start))?;
    let h = &conn.handshake;
    let syn_first = h
        .syn
        .filter(|s| first && req.is_some() && s.ts <= msg_start);
    let dns =
        dns.filter(|d| syn_first.is_some_and(|s| d.answer_ts <= s.ts && d.query_ts <= d.answer_ts));
    let start = match (dns, syn_first) {
        (Some(d), _) => d.query_ts,
        (None, Some(s)) => s.ts,
        _ => msg_start,
    };
    // At a sender-side capture the last byte leaves before a lost segment is
    // resent: the receiver has the response only at the last repair.
    let delivered = resp.and_then(|m| last_repair(ctx, Side::Server, m.start, m.end));
    let end = resp
        .map(|m| m.end)
        .into_iter()
        .chain(req.map(|m| m.end))
        .chain(delivered)
        .max()?
        .max(start);

    // Base phases, in time order; each starts where the previous ended.
    // (Room for every phase and a few claims up front: growing these a step
    // at a time was several reallocations per transaction.)
    let mut ph = Phaser {
        base: Vec::with_capacity(8),
        cursor: start,
        end,
    };
    let mut phases = PhaseNs::default();
    let mut claims: Vec<Claim> = Vec::with_capacity(4);
    if let Some(d) = dns {
        phases.dns = Some(ph.push(Cause::Dns, d.answer_ts));
        findings.push(Finding {
            kind: "dns_lookup",
            connection: Some(conn.id),
            transaction: Some(t.index),
            start: d.query_ts,
            duration_ns: d.answer_ts.since(d.query_ts),
            frames: vec![d.query_frame, d.answer_frame],
            detail: format!(
                "resolving {} took {} ms{}",
                d.name,
                Ms1(d.answer_ts.since(d.query_ts)),
                if d.retries > 0 {
                    format!(
                        " ({} retries: the resolver did not answer the first query)",
                        d.retries
                    )
                } else {
                    String::new()
                }
            ),
            confidence: Confidence::High,
            vantage: ctx.vantage,
            saving_ns: None,
            recommendation: None,
        });
    }
    if let Some(syn) = syn_first {
        let gap = ph.push(Cause::Client, syn.ts);
        *phases.blocked.get_or_insert(0) += gap;
        let last_syn = h.last_syn.unwrap_or(syn);
        let mut connect = ph.push(Cause::SynRetransmit, last_syn.ts);
        if h.syn_retransmits > 0 {
            findings.push(Finding {
                kind: "syn_retransmit",
                connection: Some(conn.id),
                transaction: Some(t.index),
                start: syn.ts,
                duration_ns: last_syn.ts.since(syn.ts),
                frames: vec![syn.frame, last_syn.frame],
                detail: format!(
                    "the SYN was sent {} times; the connection waited {} ms for the retransmission timeout (initial RTO 1 s, RFC 6298 §2.1)",
                    h.syn_retransmits + 1,
                    Ms1(last_syn.ts.since(syn.ts))
                ),
                confidence: Confidence::High,
                vantage: ctx.vantage,
                saving_ns: Some(last_syn.ts.since(syn.ts)),
                recommendation: Some("find where the SYN was lost (server backlog, firewall, path loss)".into()),
            });
        }
        let hs_end = h.ack.or(h.synack).unwrap_or(last_syn).ts;
        connect += ph.push(Cause::ConnectRtt, hs_end);
        phases.connect = Some(connect);
        let gap = ph.push(Cause::Client, msg_start);
        *phases.blocked.get_or_insert(0) += gap;
    }
    if let Some(r) = req {
        phases.send = Some(ph.push(Cause::RequestSend, r.end));
        let (c, f) = stalls::analyze(ctx, Side::Client, r.start, r.end);
        claims.extend(c);
        findings.extend(f);
    }
    if let Some(r) = resp {
        let wait_start = ph.cursor;
        let w = ph.push(Cause::Server, r.start);
        if req.is_some() {
            phases.wait = Some(w);
        }
        if w > 0 {
            wait_claims(
                conn,
                ctx,
                t,
                wait_start,
                r.start,
                r.first_frame,
                prev_response_end,
                &mut claims,
                findings,
            );
        }
        phases.receive = Some(ph.push(Cause::Transfer, end));
        let (c, f) = stalls::analyze(ctx, Side::Server, r.start, end);
        claims.extend(c);
        findings.extend(f);
    }
    ph.push(Cause::Unexplained, end);

    let mut parts_ns = partition(start, end, &ph.base, &claims);
    if let Some(r) = resp {
        slow_start_by_rate(ctx, conn, t, r.start, end, &mut parts_ns, findings);
    }
    let total_us = end.as_micros() - start.as_micros();
    let parts_us = round_exact(&parts_ns, total_us);
    let dominant = Cause::ALL
        .iter()
        .copied()
        .max_by_key(|c| (parts_us[c.index()], std::cmp::Reverse(c.index())))
        .unwrap_or(Cause::Unexplained);
    let phase_list = [
        phases.blocked,
        phases.dns,
        phases.connect,
        phases.send,
        phases.wait,
        phases.receive,
    ];
    let present: Vec<i64> = phase_list.iter().map(|p| p.unwrap_or(0)).collect();
    let rounded: [i64; 6] = round_exact(&present, total_us);
    let pick = |i: usize| {
        if phase_list[i].is_some() {
            rounded[i]
        } else {
            -1
        }
    };
    Some(TxBlame {
        start,
        end,
        parts_us,
        total_us,
        dominant,
        phases: Phases {
            blocked: pick(0),
            dns: pick(1),
            connect: pick(2),
            send: pick(3),
            wait: pick(4),
            receive: pick(5),
        },
    })
}

/// Cuts the span into consecutive base phases.
struct Phaser {
    base: Vec<(Cause, Timestamp, Timestamp)>,
    cursor: Timestamp,
    end: Timestamp,
}

impl Phaser {
    /// Gives `[cursor, until)` (clamped to the span) to `cause`; returns its length.
    fn push(&mut self, cause: Cause, until: Timestamp) -> i64 {
        let until = until.clamp(self.cursor, self.end);
        let d = until.since(self.cursor);
        if d > 0 {
            self.base.push((cause, self.cursor, until));
        }
        self.cursor = until;
        d
    }
}

#[derive(Default)]
struct PhaseNs {
    blocked: Option<i64>,
    dns: Option<i64>,
    connect: Option<i64>,
    send: Option<i64>,
    wait: Option<i64>,
    receive: Option<i64>,
}

/// The last retransmission, after `to`, of bytes `sender` sent in `[from, to]`.
fn last_repair(
    ctx: &StallContext<'_>,
    sender: Side,
    from: Timestamp,
    to: Timestamp,
) -> Option<Timestamp> {
    let ev = ctx.events;
    let lo = ev.partition_point(|e| e.ts < from);
    let hi = ev.partition_point(|e| e.ts <= to).max(lo);
    let sent = ev[lo..hi]
        .iter()
        .filter(|e| e.side == sender && e.end > e.start);
    let lo_off = sent.clone().map(|e| e.start).min()?;
    let hi_off = sent.map(|e| e.end).max()?;
    ev[hi..]
        .iter()
        .take_while(|e| !(e.side != sender && e.end > e.start)) // until the peer speaks again
        .filter(|e| {
            e.side == sender
                && matches!(e.kind, SegKind::FastRetransmit | SegKind::TimeoutRetransmit)
                && e.start >= lo_off
                && e.start < hi_off
        })
        .map(|e| e.ts)
        .max()
}

/// Slow start that pacing hides from the gap rules: the response's plain
/// transfer time beyond what its bytes need at the bottleneck rate, when the
/// connection was young or idle (RFC 5681 §3.1 slow start, §4.1 restart
/// after idle). The bottleneck rate is the fastest the receiver acknowledged
/// data over any window of at least one RTT on this connection.
fn slow_start_by_rate(
    ctx: &StallContext<'_>,
    conn: &Connection,
    t: &Transaction,
    from: Timestamp,
    to: Timestamp,
    parts_ns: &mut [i64; 15],
    findings: &mut Vec<Finding>,
) {
    let Some(rtt) = ctx.rtt.full().filter(|r| *r > 0) else {
        return;
    };
    let mss = ctx.mss[Side::Server.index()];
    let ev = ctx.events;
    let lo = ev.partition_point(|e| e.ts < from);
    let hi = ev.partition_point(|e| e.ts <= to).max(lo);
    let bytes: u64 = ev[lo..hi]
        .iter()
        .filter(|e| e.side == Side::Server && e.kind == SegKind::New)
        .map(|e| e.end - e.start)
        .sum();
    if bytes < SLOW_START_MIN_SEGMENTS * mss {
        return;
    }
    // Young: the response starts within a few RTTs of the first data, or
    // after an idle gap longer than an RTO floor (Linux restarts slow start
    // after one RTO of idleness).
    let first_data = ev
        .iter()
        .find(|e| e.side == Side::Server && e.end > e.start)
        .map(|e| e.ts);
    let young = first_data.is_some_and(|f| from.since(f) < SLOW_START_YOUNG_RTTS * rtt);
    let idle_before = ev[..lo]
        .iter()
        .rev()
        .find(|e| e.side == Side::Server && e.end > e.start)
        .map(|e| from.since(e.ts));
    let restarted = idle_before.is_some_and(|i| i > rtt.max(MIN_RTO_NS));
    if !(young || restarted) {
        return;
    }
    let Some(rate) = bottleneck_rate(ev, rtt) else {
        return;
    };
    let ideal = (bytes as f64 / rate * 1e9) as i64;
    let transfer = parts_ns[Cause::Transfer.index()];
    let excess = transfer - ideal;
    if excess <= transfer / 10 || excess <= 0 {
        return;
    }
    parts_ns[Cause::Transfer.index()] -= excess;
    parts_ns[Cause::SlowStart.index()] += excess;
    findings.push(Finding {
        kind: "slow_start",
        connection: Some(conn.id),
        transaction: Some(t.index),
        start: from,
        duration_ns: excess,
        frames: vec![t.response.as_ref().map_or(0, |r| r.first_frame)],
        detail: format!(
            "{bytes} bytes would take {} ms at the connection's best delivery rate ({:.2} Mbit/s); the transfer took {} ms more while the congestion window grew{}",
            Ms1(ideal),
            rate * 8.0 / 1e6,
            Ms1(excess),
            if restarted && !young { " again after idle (slow-start restart)" } else { "" }
        ),
        confidence: Confidence::Medium,
        vantage: ctx.vantage,
        saving_ns: None,
        recommendation: if restarted && !young {
            Some("disable slow-start restart after idle (net.ipv4.tcp_slow_start_after_idle=0) on the server".into())
        } else {
            Some("reuse warm connections for large responses".into())
        },
    });
}

/// A response shorter than this many segments fits the initial window
/// (RFC 6928: 10 segments) and has no slow start to speak of.
const SLOW_START_MIN_SEGMENTS: u64 = 10;
/// "Young" connection: within this many RTTs of its first data.
const SLOW_START_YOUNG_RTTS: i64 = 3;
/// Linux's minimum retransmission timeout (TCP_RTO_MIN, 200 ms): the idle
/// time after which slow start restarts.
const MIN_RTO_NS: i64 = 200_000_000;

/// Bytes per second: the most the receiver acknowledged in any window of at
/// least one RTT.
fn bottleneck_rate(ev: &[crate::tcp::timeline::SegEvent], rtt: i64) -> Option<f64> {
    let acks: Vec<(Timestamp, u64)> = ev
        .iter()
        .filter(|e| e.side == Side::Client)
        .filter_map(|e| e.ack.map(|a| (e.ts, a)))
        .collect();
    let mut best: Option<f64> = None;
    let mut i = 0;
    for j in 0..acks.len() {
        while i < j && acks[j].0.since(acks[i + 1].0) >= rtt {
            i += 1;
        }
        let dt = acks[j].0.since(acks[i].0);
        if dt >= rtt && acks[j].1 > acks[i].1 {
            let r = (acks[j].1 - acks[i].1) as f64 / (dt as f64 / 1e9);
            best = Some(best.map_or(r, |b: f64| b.max(r)));
        }
    }
    best
}

/// Claims inside the wait (last request byte → first response byte).
#[allow(clippy::too_many_arguments)]
fn wait_claims(
    conn: &Connection,
    ctx: &StallContext<'_>,
    t: &Transaction,
    from: Timestamp,
    to: Timestamp,
    response_frame: u64,
    prev_response_end: Option<Timestamp>,
    claims: &mut Vec<Claim>,
    findings: &mut Vec<Finding>,
) {
    let mut w0 = from;
    // One round trip capture → server → capture belongs to the network (at
    // a server-side capture it is ~0, so the wait is all server).
    if let Some(leg) = ctx.rtt.server_leg {
        let net_end = Timestamp(w0.0.saturating_add(leg)).min(to);
        claims.push(Claim {
            cause: Cause::NetworkRtt,
            start: w0,
            end: net_end,
        });
        w0 = net_end;
    }
    // Head of line: even after the round trip, the response could not start
    // before the earlier responses on the connection had ended.
    if let Some(prev) = prev_response_end.filter(|p| *p > w0 && t.pipelined) {
        let hol_end = prev.min(to);
        claims.push(Claim {
            cause: Cause::HeadOfLine,
            start: w0,
            end: hol_end,
        });
        findings.push(Finding {
            kind: "head_of_line",
            connection: Some(conn.id),
            transaction: Some(t.index),
            start: w0,
            duration_ns: hol_end.since(w0),
            frames: vec![response_frame],
            detail: format!(
                "pipelined request waited {} ms beyond the round trip for earlier responses on the connection",
                Ms1(hol_end.since(w0))
            ),
            confidence: Confidence::High,
            vantage: ctx.vantage,
            saving_ns: Some(hol_end.since(w0)),
            recommendation: Some("send independent requests on parallel connections (or HTTP/2)".into()),
        });
        w0 = hol_end;
    }
    // A request segment resent during the wait: the server could not answer
    // before the repair arrived.
    // (A binary search, as the stall analysis does: a scan of the whole
    // timeline per transaction made long keep-alive connections quadratic.)
    let lo = ctx.events.partition_point(|e| e.ts <= from);
    let hi = ctx.events.partition_point(|e| e.ts < to).max(lo);
    let retrans = ctx.events[lo..hi]
        .iter()
        .rev()
        .find(|e| e.side == Side::Client && e.kind.is_retransmission() && e.ts > from && e.ts < to);
    if let Some(e) = retrans {
        claims.push(Claim {
            cause: Cause::LossRecovery,
            start: from,
            end: e.ts,
        });
        findings.push(Finding {
            kind: "loss_recovery",
            connection: Some(conn.id),
            transaction: Some(t.index),
            start: from,
            duration_ns: e.ts.since(from),
            frames: vec![e.frame],
            detail: format!(
                "request data was retransmitted (frame {}) {} ms into the wait",
                e.frame,
                Ms1(e.ts.since(from))
            ),
            confidence: Confidence::High,
            vantage: ctx.vantage,
            saving_ns: None,
            recommendation: None,
        });
        w0 = w0.max(e.ts);
    }
    let server = to.since(w0);
    if server > 0 {
        let confidence = match (ctx.rtt.from_handshake, ctx.vantage) {
            (true, Vantage::NearClient | Vantage::NearServer) => Confidence::High,
            (true, _) => Confidence::Medium,
            _ => Confidence::Low,
        };
        findings.push(Finding {
            kind: "server_think_time",
            connection: Some(conn.id),
            transaction: Some(t.index),
            start: w0,
            duration_ns: server,
            frames: vec![response_frame],
            detail: format!(
                "the server took {} ms to start responding (wait minus one capture↔server round trip of {} ms)",
                Ms1(server),
                Ms1(ctx.rtt.server_leg.unwrap_or(0))
            ),
            confidence,
            vantage: ctx.vantage,
            saving_ns: None,
            recommendation: None,
        });
    }
}

/// Sums, per cause, the time of `[start, end)` under the base phases and the
/// claims (highest priority wins).
fn partition(
    start: Timestamp,
    end: Timestamp,
    base: &[(Cause, Timestamp, Timestamp)],
    claims: &[Claim],
) -> [i64; 15] {
    let mut parts = [0i64; 15];
    let mut cuts: Vec<Timestamp> = Vec::with_capacity(2 + 2 * (base.len() + claims.len()));
    cuts.extend([start, end]);
    for (_, a, b) in base {
        cuts.push(*a);
        cuts.push(*b);
    }
    for c in claims {
        cuts.push(c.start.clamp(start, end));
        cuts.push(c.end.clamp(start, end));
    }
    cuts.sort();
    cuts.dedup();
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let d = b.since(a);
        if d <= 0 {
            continue;
        }
        let claimed = claims
            .iter()
            .filter(|c| c.start <= a && c.end >= b)
            .max_by_key(|c| priority(c.cause))
            .map(|c| c.cause);
        let cause = claimed.unwrap_or_else(|| {
            base.iter()
                .find(|(_, s, e)| *s <= a && *e >= b)
                .map_or(Cause::Unexplained, |(c, _, _)| *c)
        });
        parts[cause.index()] += d;
    }
    parts
}

/// Converts nanosecond parts to microseconds summing exactly to `total_us`
/// (largest remainder; ties to the earlier part).
pub fn round_exact<const N: usize>(parts_ns: &[i64], total_us: i64) -> [i64; N]
where
    [i64; N]: Default,
{
    let mut out: [i64; N] = Default::default();
    let mut rem: Vec<(i64, usize)> = Vec::with_capacity(N);
    for (i, &p) in parts_ns.iter().enumerate().take(N) {
        let p = p.max(0);
        out[i] = p / 1000;
        rem.push((p % 1000, i));
    }
    let mut diff = total_us - out.iter().sum::<i64>();
    rem.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut k = 0;
    while diff > 0 && !rem.is_empty() {
        out[rem[k % rem.len()].1] += 1;
        diff -= 1;
        k += 1;
    }
    let mut k = rem.len();
    while diff < 0 && k > 0 {
        k -= 1;
        let i = rem[k].1;
        if out[i] > 0 {
            out[i] -= 1;
            diff += 1;
        }
        if k == 0 && diff < 0 {
            k = rem.len();
            if out.iter().all(|v| *v == 0) {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_keeps_the_sum() {
        let parts = [1_499, 1_501, 2_000, 0, 999];
        let r: [i64; 5] = round_exact(&parts, 6);
        assert_eq!(r.iter().sum::<i64>(), 6);
        assert_eq!(r, [1, 2, 2, 0, 1]);
        let r: [i64; 3] = round_exact(&[400, 400, 400], 0);
        assert_eq!(r, [0, 0, 0]);
        let r: [i64; 3] = round_exact(&[1000, 1000, 0], 1);
        assert_eq!(r.iter().sum::<i64>(), 1);
    }

    #[test]
    fn claims_override_base_by_priority() {
        let t = |ms: i64| Timestamp(ms * 1_000_000);
        let base = vec![
            (Cause::RequestSend, t(0), t(10)),
            (Cause::Transfer, t(10), t(100)),
        ];
        let claims = vec![
            Claim {
                cause: Cause::SlowStart,
                start: t(20),
                end: t(60),
            },
            Claim {
                cause: Cause::LossRecovery,
                start: t(50),
                end: t(80),
            },
        ];
        let p = partition(t(0), t(100), &base, &claims);
        assert_eq!(p[Cause::RequestSend.index()], 10_000_000);
        assert_eq!(p[Cause::SlowStart.index()], 30_000_000);
        assert_eq!(p[Cause::LossRecovery.index()], 30_000_000);
        assert_eq!(p[Cause::Transfer.index()], 30_000_000);
        assert_eq!(p.iter().sum::<i64>(), 100_000_000);
    }
}
