//! One client→server pair's running state and the seven detectors of
//! [`super`], with the wording of their details and recommendations.
//!
//! Members arrive in open order ([`PairState::add`]). Connection-level
//! findings (pipelining, port reuse in TIME_WAIT) are emitted at once; idle
//! closes and stale keep-alive races wait for a later member (or the pair's
//! end); pair-level findings (new connection per request, parallel
//! connections, TIME_WAIT accumulation) come from [`PairState::finish`].
//!
//! Two sweeps keep exact peaks without keeping every connection: the
//! connections in use now (SYN to release), and the TIME_WAIT intervals
//! whose events are not yet behind the watermark (every later connection
//! opens, closes and cuts a TIME_WAIT short at or after it).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::net::{IpAddr, SocketAddr};

use super::{
    rtt, ConnectionOptions, Emit, Member, PairStats, BROWSER_CONNECTIONS_PER_HOST,
    IDLE_CLOSE_INSTANCE, IDLE_CLOSE_MIN_NS, KINDS, MAX_EVIDENCE_FRAMES, NEW_CONNECTION_INSTANCE,
    PORT_RATE_ALARM_PCT, RATE_WINDOW_NS, STALE_RACE_INSTANCE, STALE_RETRY_WINDOW_NS,
    TIME_WAIT_PEAK_ALARM,
};
use crate::blame::{Confidence, Finding};
use crate::histogram::Histogram;
use crate::stream::Side;
use crate::tcp::conn::{CloseHow, Vantage};
use crate::time::{Ms1, Timestamp};

/// Up to [`MAX_EVIDENCE_FRAMES`] connection ids and frames, and how many
/// there were in all.
#[derive(Clone, Debug, Default)]
struct Evidence {
    ids: Vec<u32>,
    frames: Vec<u64>,
    count: u64,
}

impl Evidence {
    fn add(&mut self, id: u32, frame: u64) {
        self.count += 1;
        if self.ids.len() < MAX_EVIDENCE_FRAMES {
            self.ids.push(id);
            self.frames.push(frame);
        }
    }

    /// "3, 4, 5" (with "…" past [`MAX_EVIDENCE_FRAMES`]).
    fn ids(&self) -> String {
        let mut s: Vec<String> = self.ids.iter().map(u32::to_string).collect();
        if self.count > MAX_EVIDENCE_FRAMES as u64 {
            s.push("…".to_string());
        }
        s.join(", ")
    }
}

/// A connection in use now.
struct InUse {
    id: u32,
    syn_frame: u64,
    release: Timestamp,
    has_syn: bool,
}

/// The peak of connections in use.
#[derive(Default)]
struct ConcurrencyPeak {
    count: u64,
    at: Option<Timestamp>,
    open: Evidence,
    until: Option<Timestamp>,
    all_syn: bool,
}

/// An idle close waiting for the pair's next connection.
struct IdleClose {
    finding: Finding,
    tx_id: Option<u64>,
    last: Timestamp,
    release: Timestamp,
    by: Side,
    id: u32,
}

/// A request that failed on a closed keep-alive connection, waiting for its
/// retry on a new connection.
struct StaleRequest {
    id: u32,
    vantage: Vantage,
    tx_index: u32,
    tx_id: Option<u64>,
    req_start: Timestamp,
    req_frame: u64,
    key: Option<u64>,
    names: Option<(String, String)>,
}

/// The last connection seen on a four-tuple: one is kept per client port
/// used in the last 2MSL (24 bytes, 32 with its port in the map).
struct Tuple {
    first_frame: u64,
    end: Timestamp,
    id: u32,
    active_closer: Option<Side>,
    reset: bool,
    /// It entered TIME_WAIT at `end`, to leave `time_wait_ns` later unless
    /// the next connection on the port (which replaces this tuple) cuts it
    /// short.
    time_wait: bool,
}

/// A pending TIME_WAIT event: (time, kind and connection id). The kind is
/// the top bit, so that at the same time exits come before enters, then
/// connections in open order (ids follow it).
type TwEvent = (Timestamp, u64);
const TW_ENTER: u64 = 1 << 63;

fn tw_event(t: Timestamp, enter: bool, id: u32) -> TwEvent {
    (t, if enter { TW_ENTER } else { 0 } | u64::from(id))
}

pub(super) struct PairState {
    stats: PairStats,
    /// Members so far (open order).
    seq: u64,
    rtts: Histogram,
    vantage: Option<Vantage>,
    mixed_vantage: bool,
    /// Latest member end plus the horizon.
    quiet_after: Timestamp,
    /// Latest member open.
    latest_open: Timestamp,

    // Connections in use: open now, by member; their ends.
    in_use: BTreeMap<u64, InUse>,
    in_use_ends: BinaryHeap<Reverse<(Timestamp, u64)>>,
    /// Open time of the members not yet counted into the peak.
    pending_open: Option<Timestamp>,
    peak: ConcurrencyPeak,

    // New connection per request.
    singles: u64,
    /// Free times still ahead of the watermark, and how many are behind it.
    free_ahead: BinaryHeap<Reverse<Timestamp>>,
    free_now: u64,
    avoidable: Evidence,
    avoidable_span: Option<(Timestamp, Timestamp)>,

    idle: Vec<IdleClose>,
    stale: Vec<StaleRequest>,

    // TIME_WAIT.
    /// By client port (the pair fixes the rest of the four-tuple).
    tuples: rustc_hash::FxHashMap<u16, Tuple>,
    /// Pending exits: one per four-tuple in TIME_WAIT, the bulk of this
    /// state, so kept to 16 bytes.
    tw_exits: BTreeSet<TwEvent>,
    /// Pending enters (of connections not yet closed at the watermark: a
    /// few), with the member's first frame.
    tw_enters: BTreeMap<TwEvent, u64>,
    /// Four-tuples in TIME_WAIT now.
    tw_count: u64,
    /// Up to [`MAX_EVIDENCE_FRAMES`] of them, as (id, first frame): the
    /// first to enter while there was room, the evidence of a peak (keeping
    /// the earliest of all would take a set of every four-tuple in
    /// TIME_WAIT).
    tw_held: Vec<(u64, u64)>,
    tw_peak: (u64, Option<Timestamp>, Vec<u64>),
    tw_first_enter: Option<Timestamp>,
    syn_window: VecDeque<Timestamp>,
    syn_rate_max: u64,
    added_since_trim: u32,
}

impl PairState {
    pub(super) fn new(client: IpAddr, server: SocketAddr) -> PairState {
        PairState {
            stats: PairStats {
                client,
                server,
                connections: 0,
                reused_connections: 0,
                transactions: 0,
                handshakes: 0,
                handshake_rtt_ns_median: None,
                peak_concurrency: 0,
                peak_concurrency_at: None,
                max_pipeline_depth: 0,
                closes_by_client: 0,
                closes_by_server: 0,
                resets: 0,
                time_wait_holder_client: 0,
                time_wait_holder_server: 0,
                peak_time_wait: 0,
                peak_time_wait_at: None,
                peak_new_conn_rate_per_s: 0.0,
                port_reuses: 0,
                reused_in_time_wait: 0,
            },
            seq: 0,
            rtts: Histogram::default(),
            vantage: None,
            mixed_vantage: false,
            quiet_after: Timestamp::default(),
            latest_open: Timestamp::default(),
            in_use: BTreeMap::new(),
            in_use_ends: BinaryHeap::new(),
            pending_open: None,
            peak: ConcurrencyPeak::default(),
            singles: 0,
            free_ahead: BinaryHeap::new(),
            free_now: 0,
            avoidable: Evidence::default(),
            avoidable_span: None,
            idle: Vec::new(),
            stale: Vec::new(),
            tuples: Default::default(),
            tw_exits: BTreeSet::new(),
            tw_enters: BTreeMap::new(),
            tw_count: 0,
            tw_held: Vec::new(),
            tw_peak: (0, None, Vec::new()),
            tw_first_enter: None,
            syn_window: VecDeque::new(),
            syn_rate_max: 0,
            added_since_trim: 0,
        }
    }

    /// When the pair can be finished: nothing it holds can matter to a
    /// connection opened later.
    pub(super) fn quiet_after(&self) -> Timestamp {
        self.quiet_after
    }

    /// Adds the next member in open order.
    pub(super) fn add(&mut self, m: &Member<'_>, options: &ConnectionOptions, emit: &mut Emit<'_>) {
        let b = m.b;
        // The pair's own watermark: no later member of the pair opens before
        // it (ids follow open order), whatever other pairs' clocks say.
        self.latest_open = self.latest_open.max(m.open);
        let now = self.latest_open;
        let seq = self.seq;
        self.seq += 1;
        let horizon = options.time_wait_ns.max(STALE_RETRY_WINDOW_NS);
        self.quiet_after = self
            .quiet_after
            .max(Timestamp(b.end.0.saturating_add(horizon)));
        match self.vantage {
            None => self.vantage = Some(b.vantage),
            Some(v) if v != b.vantage => self.mixed_vantage = true,
            Some(_) => {}
        }
        self.count(m, options);
        self.resolve_waiting(m, emit);
        self.concurrency(m, seq);
        self.keep_alive_chain(m);
        self.time_wait(m, now, options, emit);
        if let Some(f) = pipelining(m) {
            emit(f.0, f.1);
        }
        self.candidates(m);
    }

    fn count(&mut self, m: &Member<'_>, options: &ConnectionOptions) {
        let b = m.b;
        let s = &mut self.stats;
        let txs = b.transactions();
        s.connections += 1;
        s.reused_connections += u64::from(txs > 1);
        s.transactions += u64::from(txs);
        if let Some(r) = rtt(b) {
            self.rtts.add(r.unsigned_abs());
        }
        let depth = b.http.as_ref().map_or(0, |h| h.pipeline_depth);
        s.max_pipeline_depth = s.max_pipeline_depth.max(depth);
        s.closes_by_client += u64::from(b.close_by == Some(Side::Client));
        s.closes_by_server += u64::from(b.close_by == Some(Side::Server));
        s.resets += u64::from(b.reset);
        match m.time_wait.map(|t| t.2) {
            Some(Side::Client) => s.time_wait_holder_client += 1,
            Some(Side::Server) => s.time_wait_holder_server += 1,
            None => {}
        }
        s.port_reuses += u64::from(b.port_reused.is_some());
        let in_tw =
            matches!(b.port_reused, Some(Some(ns)) if (0..options.time_wait_ns).contains(&ns));
        s.reused_in_time_wait += u64::from(in_tw);
        if let Some((t, _)) = m.syn {
            s.handshakes += 1;
            while self
                .syn_window
                .front()
                .is_some_and(|f| t.since(*f) >= RATE_WINDOW_NS)
            {
                self.syn_window.pop_front();
            }
            self.syn_window.push_back(t);
            self.syn_rate_max = self.syn_rate_max.max(self.syn_window.len() as u64);
        }
        if txs == 1 {
            self.singles += 1;
        }
    }

    /// Idle closes and failed requests waiting for a later connection.
    fn resolve_waiting(&mut self, n: &Member<'_>, emit: &mut Emit<'_>) {
        let mut i = 0;
        while i < self.idle.len() {
            if n.open < self.idle[i].release || n.b.id == self.idle[i].id {
                i += 1;
                continue;
            }
            let mut c = self.idle.remove(i);
            let gap = n.open.since(c.last);
            c.finding.detail += &format!(
                "; connection {} to the same server opened {} after the last message",
                n.b.id,
                secs(gap)
            );
            c.finding.frames.push(n.syn_frame());
            if n.syn.is_some() {
                c.finding.saving_ns = rtt(n.b);
                c.finding.recommendation = Some(format!(
                    "raise the {}'s keep-alive idle timeout{IDLE_CLOSE_INSTANCE}{} so connection {} could have been reused",
                    c.by.as_str(),
                    secs(gap),
                    n.b.id
                ));
            }
            emit(c.finding, c.tx_id);
        }
        let server = self.stats.server;
        self.stale.retain(|r| {
            let window_end = Timestamp(r.req_start.0.saturating_add(STALE_RETRY_WINDOW_NS));
            if n.open > window_end {
                return false;
            }
            if n.open < r.req_start || n.b.id == r.id {
                return true;
            }
            let Some(t) = n.b.http.as_ref().and_then(|h| h.first.as_ref()) else {
                return true;
            };
            let Some((m_start, m_frame)) = t.request else {
                return true;
            };
            let same = match (r.key, t.request_key) {
                (Some(a), Some(b)) => Some(a == b),
                _ => None,
            };
            if m_start.since(r.req_start) > STALE_RETRY_WINDOW_NS || same == Some(false) {
                return true;
            }
            let (f, tx) = stale_race(r, n, (m_start, m_frame), same.is_some(), server);
            emit(f, tx);
            false
        });
    }

    fn concurrency(&mut self, m: &Member<'_>, seq: u64) {
        if self.pending_open.is_some_and(|p| m.open > p) {
            self.count_peak();
        }
        let at = self.pending_open.map_or(m.open, |p| p.max(m.open));
        self.pending_open = Some(at);
        // An empty interval lasts 1 ns.
        let end = m.release.max(Timestamp(m.open.0.saturating_add(1)));
        self.in_use.insert(
            seq,
            InUse {
                id: m.b.id,
                syn_frame: m.syn_frame(),
                release: m.release,
                has_syn: m.syn.is_some(),
            },
        );
        self.in_use_ends.push(Reverse((end, seq)));
    }

    /// Counts the connections in use at the pending open time.
    fn count_peak(&mut self) {
        let Some(at) = self.pending_open.take() else {
            return;
        };
        while let Some(Reverse((end, seq))) = self.in_use_ends.peek().copied() {
            if end > at {
                break;
            }
            self.in_use_ends.pop();
            self.in_use.remove(&seq);
        }
        let count = self.in_use.len() as u64;
        if count <= self.peak.count {
            return;
        }
        let mut open = Evidence::default();
        for u in self.in_use.values() {
            open.add(u.id, u.syn_frame);
        }
        self.peak = ConcurrencyPeak {
            count,
            at: Some(at),
            open,
            until: self.in_use.values().map(|u| u.release).min(),
            all_syn: self.in_use.values().all(|u| u.has_syn),
        };
    }

    /// Each finished connection could carry one later request, which then
    /// carries the next (a keep-alive chain); earliest free time first.
    fn keep_alive_chain(&mut self, m: &Member<'_>) {
        while let Some(Reverse(f)) = self.free_ahead.peek().copied() {
            if f > m.open {
                break;
            }
            self.free_ahead.pop();
            self.free_now += 1;
        }
        if m.b.transactions() == 1 && m.syn.is_some() && self.free_now > 0 {
            self.free_now -= 1;
            self.avoidable.add(m.b.id, m.syn_frame());
            let first = self.avoidable_span.map_or(m.open, |s| s.0);
            self.avoidable_span = Some((first, m.open));
        }
        let free = m.free_at();
        if free <= m.open {
            self.free_now += 1;
        } else {
            self.free_ahead.push(Reverse(free));
        }
    }

    fn time_wait(
        &mut self,
        m: &Member<'_>,
        now: Timestamp,
        options: &ConnectionOptions,
        emit: &mut Emit<'_>,
    ) {
        let b = m.b;
        // A reuse ends the earlier connection's TIME_WAIT (the holder accepted
        // the SYN, RFC 6191).
        let port = b.client.port();
        if let Some(prev) = self.tuples.get(&port).filter(|p| p.time_wait) {
            let (enter, exit) = (
                prev.end,
                Timestamp(prev.end.0.saturating_add(options.time_wait_ns)),
            );
            if m.open >= enter && m.open < exit {
                // Both events are still pending: the watermark is at most
                // this member's open.
                self.tw_exits.remove(&tw_event(exit, false, prev.id));
                if m.open > enter {
                    self.tw_exits.insert(tw_event(m.open, false, prev.id));
                } else {
                    self.tw_enters.remove(&tw_event(enter, true, prev.id));
                }
            }
        }
        if let Some(f) = port_reuse_in_time_wait(m, self.tuples.get(&port), options) {
            emit(f, None);
        }
        let mut time_wait = false;
        if let Some((enter, exit, _)) = m.time_wait {
            self.tw_first_enter = Some(self.tw_first_enter.map_or(enter, |f| f.min(enter)));
            if exit > enter {
                // The tuple's TIME_WAIT is then (end, end + time_wait_ns).
                debug_assert_eq!(
                    (enter, exit.0),
                    (b.end, b.end.0.saturating_add(options.time_wait_ns))
                );
                self.tw_enters
                    .insert(tw_event(enter, true, b.id), b.first_frame);
                self.tw_exits.insert(tw_event(exit, false, b.id));
                time_wait = true;
            }
        }
        self.tuples.insert(
            port,
            Tuple {
                id: b.id,
                active_closer: b.active_closer,
                reset: b.reset,
                first_frame: b.first_frame,
                end: b.end,
                time_wait,
            },
        );
        self.sweep_time_wait(Some(now));
        // Forget four-tuples that can no longer be reused within 2MSL.
        self.added_since_trim += 1;
        if self.added_since_trim >= 4096 {
            self.added_since_trim = 0;
            let tw_ns = options.time_wait_ns;
            self.tuples
                .retain(|_, t| Timestamp(t.end.0.saturating_add(tw_ns)) >= now);
        }
    }

    /// The next pending TIME_WAIT event, whether it enters, and its frame.
    fn next_tw_event(&self) -> Option<(TwEvent, Option<u64>)> {
        let exit = self.tw_exits.first().copied();
        let enter = self.tw_enters.first_key_value().map(|(&e, &f)| (e, f));
        match (exit, enter) {
            (Some(x), Some((e, f))) if e < x => Some((e, Some(f))),
            (Some(x), _) => Some((x, None)),
            (None, Some((e, f))) => Some((e, Some(f))),
            (None, None) => None,
        }
    }

    /// Applies the TIME_WAIT events before `until` (all of them: `None`),
    /// counting the peak after the last event at each time.
    fn sweep_time_wait(&mut self, until: Option<Timestamp>) {
        while let Some(((t, member), frame)) = self.next_tw_event() {
            if until.is_some_and(|u| t >= u) {
                break;
            }
            let id = member & !TW_ENTER;
            match frame {
                Some(frame) => {
                    self.tw_enters.pop_first();
                    self.tw_count += 1;
                    if self.tw_held.len() < MAX_EVIDENCE_FRAMES {
                        self.tw_held.push((id, frame));
                    }
                }
                None => {
                    self.tw_exits.pop_first();
                    self.tw_count = self.tw_count.saturating_sub(1);
                    self.tw_held.retain(|&(i, _)| i != id);
                }
            }
            let last_at_t = self.next_tw_event().is_none_or(|(n, _)| n.0 != t);
            if last_at_t && self.tw_count > self.tw_peak.0 {
                let mut held = self.tw_held.clone();
                held.sort_unstable();
                let frames = held.into_iter().map(|(_, f)| f).collect();
                self.tw_peak = (self.tw_count, Some(t), frames);
            }
        }
    }

    /// Remembers the idle close and the failed request this member may
    /// show, for a later member to complete.
    fn candidates(&mut self, m: &Member<'_>) {
        let b = m.b;
        let http = b.http.as_ref();
        if let (Some(by), Some(last)) = (b.close_by, m.activity_end) {
            let idle = m.release.since(last);
            if b.close_how != CloseHow::Open && idle >= IDLE_CLOSE_MIN_NS {
                let how = if b.close_how == CloseHow::Rst {
                    "RST"
                } else {
                    "FIN"
                };
                let last_frame = http.and_then(|h| h.activity_end).map(|(_, f)| f);
                let detail = format!(
                    "the {} closed with {how} after {} idle following the last HTTP message (idle threshold {}; close time estimated from the last frame)",
                    by.as_str(),
                    secs(idle),
                    secs(IDLE_CLOSE_MIN_NS)
                );
                let tx = http.and_then(|h| h.last.as_ref()).map(|t| t.index);
                let finding = finding(
                    KINDS[3],
                    Some((b.id, tx)),
                    (last, m.release),
                    last_frame.into_iter().collect(),
                    detail,
                    b.vantage,
                );
                self.idle.push(IdleClose {
                    finding,
                    tx_id: tx.and_then(|i| m.tx_id(i)),
                    last,
                    release: m.release,
                    by,
                    id: b.id,
                });
            }
        }
        if b.close_by != Some(Side::Server) || b.close_how != CloseHow::Fin || !b.reset {
            return;
        }
        let Some(tx) = http.and_then(|h| h.last.as_ref()) else {
            return;
        };
        let (Some((req_start, req_frame)), false, true) = (tx.request, tx.answered, tx.index >= 1)
        else {
            return;
        };
        self.stale.push(StaleRequest {
            id: b.id,
            vantage: b.vantage,
            tx_index: tx.index,
            tx_id: m.tx_id(tx.index),
            req_start,
            req_frame,
            key: tx.request_key,
            names: tx.names.as_deref().cloned(),
        });
    }

    /// Emits what is still waiting and the pair-level findings; returns the
    /// pair's statistics.
    pub(super) fn finish(
        mut self,
        origin: Timestamp,
        options: &ConnectionOptions,
        emit: &mut Emit<'_>,
    ) -> PairStats {
        self.count_peak();
        self.sweep_time_wait(None);
        for c in std::mem::take(&mut self.idle) {
            emit(c.finding, c.tx_id);
        }
        let s = &mut self.stats;
        s.handshake_rtt_ns_median = (!self.rtts.is_empty())
            .then(|| self.rtts.at_rank(self.rtts.len().saturating_sub(1) / 2 + 1))
            .flatten()
            .map(|v| i64::try_from(v).unwrap_or(i64::MAX));
        s.peak_concurrency = self.peak.count;
        s.peak_concurrency_at = self.peak.at;
        s.peak_time_wait = self.tw_peak.0;
        s.peak_time_wait_at = self.tw_peak.1;
        s.peak_new_conn_rate_per_s = self.syn_rate_max as f64 * (1e9 / RATE_WINDOW_NS as f64);
        let ctx = Ctx {
            stats: &self.stats,
            origin,
            options,
            vantage: match (self.vantage, self.mixed_vantage) {
                (Some(v), false) => v,
                _ => Vantage::Unknown,
            },
        };
        if let Some(f) =
            new_connection_per_request(&ctx, self.singles, &self.avoidable, self.avoidable_span)
        {
            emit(f, None);
        }
        if let Some(f) = parallel_connections(&ctx, &self.peak) {
            emit(f, None);
        }
        if let Some(f) = time_wait_accumulation(&ctx, self.tw_first_enter, &self.tw_peak.2) {
            emit(f, None);
        }
        self.stats
    }
}

/// What pair-level details need.
struct Ctx<'a> {
    stats: &'a PairStats,
    /// Earliest connection of the run (details show times after it).
    origin: Timestamp,
    options: &'a ConnectionOptions,
    /// The members' common vantage, else unknown.
    vantage: Vantage,
}

impl Ctx<'_> {
    fn label(&self) -> String {
        format!("{} → {}", self.stats.client, self.stats.server)
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
        finding(kind, None, span, frames, detail, self.vantage)
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
    format!("{} ms", Ms1(ns))
}

fn secs(ns: i64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

/// Single-transaction connections opened after an earlier connection of the
/// pair had finished its work: each paid a handshake keep-alive would save.
fn new_connection_per_request(
    ctx: &Ctx<'_>,
    singles: u64,
    avoidable: &Evidence,
    span: Option<(Timestamp, Timestamp)>,
) -> Option<Finding> {
    if singles < 2 {
        return None;
    }
    let span = span?;
    let n = i64::try_from(avoidable.count).unwrap_or(i64::MAX);
    let median = ctx.stats.handshake_rtt_ns_median;
    let mut f = ctx.finding(
        KINDS[0],
        span,
        avoidable.frames.clone(),
        format!(
            "{}: {singles} of {} connections carried exactly one transaction; {n} of them (connections {}) opened after an earlier connection to the same server had finished, so keep-alive (RFC 9112 §9.3) would have served them; median handshake RTT {}",
            ctx.label(),
            ctx.stats.connections,
            avoidable.ids(),
            median.map_or("unknown".to_string(), ms),
        ),
    );
    if let Some(m) = median {
        let saving = m.saturating_mul(n);
        f.saving_ns = Some(saving);
        f.confidence = Confidence::High;
        f.recommendation = Some(format!(
            "reuse connections (keep-alive) to {}{NEW_CONNECTION_INSTANCE}{n} handshakes × {} = {}",
            ctx.stats.server,
            ms(m),
            secs(saving)
        ));
    } else {
        f.recommendation = Some(format!(
            "reuse connections (keep-alive) to {}{NEW_CONNECTION_INSTANCE}{n} handshakes",
            ctx.stats.server
        ));
    }
    Some(f)
}

fn parallel_connections(ctx: &Ctx<'_>, peak: &ConcurrencyPeak) -> Option<Finding> {
    let at = peak.at?;
    if peak.count < 2 {
        return None;
    }
    let until = peak.until.unwrap_or(at);
    let over = peak.count > BROWSER_CONNECTIONS_PER_HOST;
    let mut f = ctx.finding(
        KINDS[1],
        (at, until),
        peak.open.frames.clone(),
        format!(
            "{}: peak {} connections in use at once at {} (connections {}; in use = SYN to the estimated first FIN/RST){}",
            ctx.label(),
            peak.count,
            ctx.at(at),
            peak.open.ids(),
            if over {
                format!("; more than the {BROWSER_CONNECTIONS_PER_HOST} per host browsers open (RFC 9112 §9.4: clients ought to limit connections per server)")
            } else {
                String::new()
            }
        ),
    );
    if peak.all_syn {
        f.confidence = Confidence::High;
    }
    if over {
        f.recommendation = Some(format!(
            "limit the connection pool to {} to at most {BROWSER_CONNECTIONS_PER_HOST} and reuse its connections",
            ctx.stats.server
        ));
    }
    Some(f)
}

fn pipelining(m: &Member<'_>) -> Option<(Finding, Option<u64>)> {
    let r = m.b;
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
    Some((f, m.tx_id(burst.last)))
}

fn stale_race(
    r: &StaleRequest,
    w: &Member<'_>,
    (m_start, m_frame): (Timestamp, u64),
    matched: bool,
    server: SocketAddr,
) -> (Finding, Option<u64>) {
    let names = r.names.as_ref();
    let saving = m_start.since(r.req_start);
    let mut f = finding(
        KINDS[4],
        Some((r.id, Some(r.tx_index))),
        (r.req_start, m_start),
        vec![r.req_frame, w.syn_frame(), m_frame],
        format!(
            "request {} {} was sent on connection {} after the server's FIN, got no response and a RST; {} it was sent again on new connection {} {} later (retry window {})",
            name_or_unknown(names.map(|n| n.0.as_str())),
            name_or_unknown(names.map(|n| n.1.as_str())),
            r.id,
            if matched { "the same request (method and URI)" } else { "a request (method/URI unknown)" },
            w.b.id,
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
        "close pooled connections to {server} before the server's keep-alive timeout (client idle timeout < server's), or retry faster{STALE_RACE_INSTANCE}{}",
        ms(saving)
    ));
    (f, r.tx_id)
}

fn time_wait_accumulation(
    ctx: &Ctx<'_>,
    first_enter: Option<Timestamp>,
    held: &[u64],
) -> Option<Finding> {
    let s = ctx.stats;
    let o = ctx.options;
    let limit =
        (o.time_wait_ns > 0).then(|| f64::from(o.ephemeral_ports) * 1e9 / o.time_wait_ns as f64);
    let alarm_rate = limit.map(|l| l * PORT_RATE_ALARM_PCT as f64 / 100.0);
    let rate_high = alarm_rate.is_some_and(|a| s.peak_new_conn_rate_per_s > a);
    if s.peak_time_wait < TIME_WAIT_PEAK_ALARM && !rate_high {
        return None;
    }
    let at = s.peak_time_wait_at.unwrap_or(ctx.origin);
    let first = first_enter.unwrap_or(at);
    let holder = match (s.time_wait_holder_client, s.time_wait_holder_server) {
        (c, 0) if c > 0 => "the client".to_string(),
        (0, sv) if sv > 0 => "the server".to_string(),
        (c, sv) => format!("both (client {c}, server {sv})"),
    };
    let mut f = ctx.finding(
        KINDS[5],
        (first, at),
        held.to_vec(),
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
    Some(f)
}

fn port_reuse_in_time_wait(
    v: &Member<'_>,
    prev: Option<&Tuple>,
    options: &ConnectionOptions,
) -> Option<Finding> {
    let Some(Some(after)) = v.b.port_reused else {
        return None;
    };
    if !(0..options.time_wait_ns).contains(&after) {
        return None;
    }
    let (holder, confidence) = match prev {
        Some(p) => match p.active_closer {
            Some(side) if !p.reset => (
                format!(
                    "the {} (active closer of connection {})",
                    side.as_str(),
                    p.id
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
    let syn_retry = v.b.syn_retry_ns;
    let mut frames = vec![v.syn_frame()];
    frames.extend(prev.map(|p| p.first_frame));
    let mut f = finding(
        KINDS[6],
        Some((v.b.id, None)),
        (v.open, v.open),
        frames,
        format!(
            "{} → {} reused {} after the previous connection on it closed, within 2MSL = {}; TIME_WAIT holder: {holder}; accepting it relies on RFC 6191 timestamps{}",
            v.b.client,
            v.b.server,
            ms(after),
            secs(options.time_wait_ns),
            syn_retry.map_or(String::new(), |d| format!("; the SYN was retransmitted, connecting took {} longer", ms(d)))
        ),
        v.b.vantage,
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
