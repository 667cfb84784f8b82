//! The seven detectors of [`super`], one function per finding kind, and the
//! wording of their details and recommendations.
//!
//! Pair-level detectors read one pair's [`PairStats`] and its connections in
//! open order; connection-level ones read one [`View`]. Each pushes at most
//! one finding per pair or per connection (per failed request for the stale
//! keep-alive race); [`super::analyze`] sorts them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{
    rtt, ConnectionOptions, PairStats, View, BROWSER_CONNECTIONS_PER_HOST, IDLE_CLOSE_MIN_NS,
    KINDS, MAX_EVIDENCE_FRAMES, PORT_RATE_ALARM_PCT, STALE_RETRY_WINDOW_NS, TIME_WAIT_PEAK_ALARM,
};
use crate::blame::{Confidence, Finding};
use crate::stream::Side;
use crate::tcp::conn::{CloseHow, Vantage};
use crate::time::{ns_to_ms, Timestamp};

/// One pair: its statistics and its connections in open order.
pub(super) struct PairCtx<'p, 'v> {
    pub(super) stats: &'p PairStats,
    pub(super) members: &'p [&'v View<'v>],
    /// Earliest connection of the run (details show times after it).
    pub(super) origin: Timestamp,
    pub(super) options: &'p ConnectionOptions,
}

impl PairCtx<'_, '_> {
    fn label(&self) -> String {
        format!("{} → {}", self.stats.client, self.stats.server)
    }

    /// The members' common vantage, else unknown.
    fn vantage(&self) -> Vantage {
        let first = self
            .members
            .first()
            .map_or(Vantage::Unknown, |v| v.r.vantage);
        if self.members.iter().all(|v| v.r.vantage == first) {
            first
        } else {
            Vantage::Unknown
        }
    }

    fn at(&self, t: Timestamp) -> String {
        format!("+{:.3} s", t.since(self.origin) as f64 / 1e9)
    }

    fn finding(
        &self,
        kind: &'static str,
        span: (Timestamp, Timestamp),
        frames: Vec<u64>,
        detail: String,
    ) -> Finding {
        finding(kind, None, span, frames, detail, self.vantage())
    }
}

/// A finding over `span`, evidence capped at [`MAX_EVIDENCE_FRAMES`],
/// confidence medium until the caller says otherwise.
fn finding(
    kind: &'static str,
    on: Option<(u32, Option<u32>)>,
    span: (Timestamp, Timestamp),
    mut frames: Vec<u64>,
    detail: String,
    vantage: Vantage,
) -> Finding {
    frames.truncate(MAX_EVIDENCE_FRAMES);
    Finding {
        kind,
        connection: on.map(|(id, _)| id),
        transaction: on.and_then(|(_, t)| t),
        start: span.0,
        duration_ns: span.1.since(span.0).max(0),
        frames,
        detail,
        confidence: Confidence::Medium,
        vantage,
        saving_ns: None,
        recommendation: None,
    }
}

fn ms(ns: i64) -> String {
    format!("{:.1} ms", ns_to_ms(ns))
}

fn secs(ns: i64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

fn ids(views: &[&View<'_>]) -> String {
    let mut s: Vec<String> = views
        .iter()
        .take(MAX_EVIDENCE_FRAMES)
        .map(|v| v.r.id.to_string())
        .collect();
    if views.len() > MAX_EVIDENCE_FRAMES {
        s.push("…".to_string());
    }
    s.join(", ")
}

/// Single-transaction connections opened after an earlier connection of the
/// pair had finished its work: each paid a handshake keep-alive would save.
pub(super) fn new_connection_per_request(ctx: &PairCtx<'_, '_>, out: &mut Vec<Finding>) {
    let singles = ctx
        .members
        .iter()
        .filter(|v| v.r.transactions() == 1)
        .count();
    if singles < 2 {
        return;
    }
    // Earliest free time first: each finished connection could carry one
    // later request, which then carries the next (a keep-alive chain).
    let mut free: BinaryHeap<Reverse<Timestamp>> = BinaryHeap::new();
    let mut avoidable: Vec<&View<'_>> = Vec::new();
    for v in ctx.members {
        if v.r.transactions() == 1 && v.syn.is_some() && free.peek().is_some_and(|f| f.0 <= v.open)
        {
            free.pop();
            avoidable.push(v);
        }
        free.push(Reverse(v.free_at()));
    }
    let (Some(first), Some(last)) = (avoidable.first(), avoidable.last()) else {
        return;
    };
    let n = avoidable.len() as i64;
    let median = ctx.stats.handshake_rtt_ns_median;
    let mut f = ctx.finding(
        KINDS[0],
        (first.open, last.open),
        avoidable.iter().map(|v| v.syn_frame()).collect(),
        format!(
            "{}: {singles} of {} connections carried exactly one transaction; {n} of them (connections {}) opened after an earlier connection to the same server had finished, so keep-alive (RFC 9112 §9.3) would have served them; median handshake RTT {}",
            ctx.label(),
            ctx.stats.connections,
            ids(&avoidable),
            median.map_or("unknown".to_string(), ms),
        ),
    );
    if let Some(m) = median {
        let saving = m.saturating_mul(n);
        f.saving_ns = Some(saving);
        f.confidence = Confidence::High;
        f.recommendation = Some(format!(
            "reuse connections (keep-alive) to {}: {n} handshakes × {} = {}",
            ctx.stats.server,
            ms(m),
            secs(saving)
        ));
    } else {
        f.recommendation = Some(format!(
            "reuse connections (keep-alive) to {}: {n} handshakes",
            ctx.stats.server
        ));
    }
    out.push(f);
}

pub(super) fn parallel_connections(ctx: &PairCtx<'_, '_>, out: &mut Vec<Finding>) {
    let (peak, Some(at)) = (ctx.stats.peak_concurrency, ctx.stats.peak_concurrency_at) else {
        return;
    };
    if peak < 2 {
        return;
    }
    let open: Vec<&View<'_>> = ctx
        .members
        .iter()
        .copied()
        .filter(|v| v.open <= at && at < v.release.max(Timestamp(v.open.0.saturating_add(1))))
        .collect();
    let until = open.iter().map(|v| v.release).min().unwrap_or(at);
    let over = peak > BROWSER_CONNECTIONS_PER_HOST;
    let mut f = ctx.finding(
        KINDS[1],
        (at, until),
        open.iter().map(|v| v.syn_frame()).collect(),
        format!(
            "{}: peak {peak} connections in use at once at {} (connections {}; in use = SYN to the estimated first FIN/RST){}",
            ctx.label(),
            ctx.at(at),
            ids(&open),
            if over {
                format!("; more than the {BROWSER_CONNECTIONS_PER_HOST} per host browsers open (RFC 9112 §9.4: clients ought to limit connections per server)")
            } else {
                String::new()
            }
        ),
    );
    if open.iter().all(|v| v.syn.is_some()) {
        f.confidence = Confidence::High;
    }
    if over {
        f.recommendation = Some(format!(
            "limit the connection pool to {} to at most {BROWSER_CONNECTIONS_PER_HOST} and reuse its connections",
            ctx.stats.server
        ));
    }
    out.push(f);
}

pub(super) fn pipelining(v: &View<'_>) -> Option<Finding> {
    let r = v.r;
    let http = r.http.as_ref()?;
    let burst = http.burst.as_ref()?;
    let mut f = finding(
        KINDS[2],
        Some((r.id, Some(burst.last))),
        (burst.start, burst.end),
        burst.frames.clone(),
        format!(
            "{} of {} requests were pipelined; at most {} requests outstanding at once (transactions {}–{}); responses come in request order (RFC 9112 §9.3.2), so each waits for the ones before it",
            http.pipelined,
            http.transactions,
            http.pipeline_depth,
            burst.first,
            burst.last,
        ),
        r.vantage,
    );
    f.confidence = Confidence::High;
    Some(f)
}

pub(super) fn idle_closes(ctx: &PairCtx<'_, '_>, out: &mut Vec<Finding>) {
    for (i, v) in ctx.members.iter().enumerate() {
        let (Some(by), Some(last)) = (v.r.close_by, v.activity_end) else {
            continue;
        };
        let idle = v.release.since(last);
        if v.r.close_how == CloseHow::Open || idle < IDLE_CLOSE_MIN_NS {
            continue;
        }
        let how = if v.r.close_how == CloseHow::Rst {
            "RST"
        } else {
            "FIN"
        };
        let http = v.r.http.as_ref();
        let last_frame = http.and_then(|h| h.activity_end).map(|(_, f)| f);
        let later = ctx.members.get(i + 1..).unwrap_or(&[]);
        let next = later.get(later.partition_point(|n| n.open < v.release));
        let detail = format!(
            "the {} closed with {how} after {} idle following the last HTTP message (idle threshold {}; close time estimated from the last frame)",
            by.as_str(),
            secs(idle),
            secs(IDLE_CLOSE_MIN_NS)
        );
        let tx = http.and_then(|h| h.last.as_ref()).map(|t| t.index);
        let frames = last_frame.into_iter().collect();
        let mut f = finding(
            KINDS[3],
            Some((v.r.id, tx)),
            (last, v.release),
            frames,
            detail,
            v.r.vantage,
        );
        if let Some(n) = next {
            let gap = n.open.since(last);
            f.detail += &format!(
                "; connection {} to the same server opened {} after the last message",
                n.r.id,
                secs(gap)
            );
            f.frames.push(n.syn_frame());
            if n.syn.is_some() {
                f.saving_ns = rtt(n.r);
                f.recommendation = Some(format!(
                    "raise the {}'s keep-alive idle timeout above {} so connection {} could have been reused",
                    by.as_str(),
                    secs(gap),
                    n.r.id
                ));
            }
        }
        out.push(f);
    }
}

pub(super) fn stale_keepalive_races(ctx: &PairCtx<'_, '_>, out: &mut Vec<Finding>) {
    for v in ctx.members {
        let r = v.r;
        if r.close_by != Some(Side::Server) || r.close_how != CloseHow::Fin || !r.reset {
            continue;
        }
        let Some(tx) = r.http.as_ref().and_then(|h| h.last.as_ref()) else {
            continue;
        };
        let (Some(req), false, true) = (tx.request, tx.answered, tx.index >= 1) else {
            continue;
        };
        let same = |t: &super::TxBrief| match (tx.request_key, t.request_key) {
            (Some(a), Some(b)) => Some(a == b),
            _ => None,
        };
        let (req_start, req_frame) = req;
        let from = ctx.members.partition_point(|w| w.open < req_start);
        let window_end = Timestamp(req_start.0.saturating_add(STALE_RETRY_WINDOW_NS));
        let candidates = ctx
            .members
            .get(from..)
            .unwrap_or(&[])
            .iter()
            .take_while(|w| w.open <= window_end);
        let retry = candidates.filter(|w| w.r.id != r.id).find_map(|w| {
            let t = w.r.http.as_ref()?.first.as_ref()?;
            let (m_start, m_frame) = t.request?;
            let dt = m_start.since(req_start);
            (dt <= STALE_RETRY_WINDOW_NS && same(t) != Some(false)).then_some((
                w,
                (m_start, m_frame),
                same(t).is_some(),
            ))
        });
        let Some((w, (m_start, m_frame), matched)) = retry else {
            continue;
        };
        let names = tx.names.as_deref();
        let saving = m_start.since(req_start);
        let mut f = finding(
            KINDS[4],
            Some((r.id, Some(tx.index))),
            (req_start, m_start),
            vec![req_frame, w.syn_frame(), m_frame],
            format!(
                "request {} {} was sent on connection {} after the server's FIN, got no response and a RST; {} it was sent again on new connection {} {} later (retry window {})",
                name_or_unknown(names.map(|n| n.0.as_str())),
                name_or_unknown(names.map(|n| n.1.as_str())),
                r.id,
                if matched { "the same request (method and URI)" } else { "a request (method/URI unknown)" },
                w.r.id,
                ms(saving),
                secs(STALE_RETRY_WINDOW_NS)
            ),
            r.vantage,
        );
        if matched {
            f.confidence = Confidence::High;
        }
        f.saving_ns = Some(saving);
        f.recommendation = Some(format!(
            "close pooled connections to {} before the server's keep-alive timeout (client idle timeout < server's), or retry faster: this retry cost {}",
            ctx.stats.server,
            ms(saving)
        ));
        out.push(f);
    }
}

pub(super) fn time_wait_accumulation(ctx: &PairCtx<'_, '_>, out: &mut Vec<Finding>) {
    let s = ctx.stats;
    let o = ctx.options;
    let limit =
        (o.time_wait_ns > 0).then(|| f64::from(o.ephemeral_ports) * 1e9 / o.time_wait_ns as f64);
    let alarm_rate = limit.map(|l| l * PORT_RATE_ALARM_PCT as f64 / 100.0);
    let rate_high = alarm_rate.is_some_and(|a| s.peak_new_conn_rate_per_s > a);
    if s.peak_time_wait < TIME_WAIT_PEAK_ALARM && !rate_high {
        return;
    }
    let at = s.peak_time_wait_at.unwrap_or(ctx.origin);
    let held: Vec<&View<'_>> = ctx
        .members
        .iter()
        .copied()
        .filter(|v| v.time_wait.is_some_and(|(a, b, _)| a <= at && at < b))
        .collect();
    let first = ctx
        .members
        .iter()
        .filter_map(|v| v.time_wait.map(|t| t.0))
        .min()
        .unwrap_or(at);
    let holder = match (s.time_wait_holder_client, s.time_wait_holder_server) {
        (c, 0) if c > 0 => "the client".to_string(),
        (0, sv) if sv > 0 => "the server".to_string(),
        (c, sv) => format!("both (client {c}, server {sv})"),
    };
    let mut f = ctx.finding(
        KINDS[5],
        (first, at),
        held.iter().map(|v| v.r.first_frame).collect(),
        format!(
            "{}: TIME_WAIT held by {holder} (active closer of {} of {} connections: client {}, server {}); peak {} four-tuples in TIME_WAIT at {} (2MSL = {}, alarm at {TIME_WAIT_PEAK_ALARM}); new connections up to {:.0}/s vs {} ports / {} ≈ {}/s (alarm above {PORT_RATE_ALARM_PCT} %)",
            ctx.label(),
            s.time_wait_holder_client + s.time_wait_holder_server,
            s.connections,
            s.time_wait_holder_client,
            s.time_wait_holder_server,
            s.peak_time_wait,
            ctx.at(at),
            secs(o.time_wait_ns),
            s.peak_new_conn_rate_per_s,
            o.ephemeral_ports,
            secs(o.time_wait_ns),
            limit.map_or("unlimited".to_string(), per_second),
        ),
    );
    f.recommendation = Some(
        "keep connections alive, or let the server close (the active closer holds TIME_WAIT)"
            .to_string(),
    );
    out.push(f);
}

pub(super) fn port_reuse_in_time_wait(
    v: &View<'_>,
    views: &[View<'_>],
    options: &ConnectionOptions,
) -> Option<Finding> {
    let Some(Some(after)) = v.r.port_reused else {
        return None;
    };
    if !(0..options.time_wait_ns).contains(&after) {
        return None;
    }
    let prev = v.prev.and_then(|p| views.get(p));
    let (holder, confidence) = match prev {
        Some(p) => match p.r.active_closer {
            Some(side) if !p.r.reset => (
                format!(
                    "the {} (active closer of connection {})",
                    side.as_str(),
                    p.r.id
                ),
                Confidence::Medium,
            ),
            _ => return None,
        },
        None => (
            "unknown (the earlier connection is not in the capture)".to_string(),
            Confidence::Low,
        ),
    };
    let syn_retry = v.r.syn_retry_ns;
    let mut frames = vec![v.syn_frame()];
    frames.extend(prev.map(|p| p.r.first_frame));
    let mut f = finding(
        KINDS[6],
        Some((v.r.id, None)),
        (v.open, v.open),
        frames,
        format!(
            "{} → {} reused {} after the previous connection on it closed, within 2MSL = {}; TIME_WAIT holder: {holder}; accepting it relies on RFC 6191 timestamps{}",
            v.r.client,
            v.r.server,
            ms(after),
            secs(options.time_wait_ns),
            syn_retry.map_or(String::new(), |d| format!("; the SYN was retransmitted, connecting took {} longer", ms(d)))
        ),
        v.r.vantage,
    );
    f.confidence = confidence;
    f.saving_ns = syn_retry;
    f.recommendation = Some("keep connections alive instead of reopening a four-tuple within 2MSL (let the client's kernel pick ephemeral ports)".to_string());
    Some(f)
}

fn name_or_unknown(s: Option<&str>) -> &str {
    s.filter(|s| !s.is_empty()).unwrap_or("?")
}

/// A rate for details: whole units (rounded down, "≈ 470") from 10 up.
fn per_second(rate: f64) -> String {
    if rate >= 10.0 {
        format!("{:.0}", rate.floor())
    } else {
        format!("{rate:.1}")
    }
}
