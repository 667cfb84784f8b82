//! Reports: the JSON document (built from finished connections) and the
//! terminal tables.

pub mod digest;
pub mod har;
pub mod har_writer;
pub mod html;
pub mod json;
pub mod model;
pub mod row_spool;
pub mod strings;
pub mod table;
pub mod to_json;

use std::collections::BTreeMap;

use crate::anomaly::AnomalyCounts;
use crate::blame::attribute::TxBlame;
use crate::blame::connections::{recommendation_group, ConnectionAnalyzer, ConnectionBrief};
use crate::decode::linktype;
use crate::pipeline::{ConnectionRecord, PassSummary};
use crate::stream::Side;
use crate::tcp::conn::{CloseHow, RoleSource};
use crate::time::{ns_to_us, Timestamp};
use crate::transaction::{Protocol, Transaction};

use model::*;

/// The report lines of one finished connection.
pub struct RecordOut {
    pub connection: ConnectionOut,
    pub transactions: Vec<TransactionOut>,
    pub findings: Vec<FindingOut>,
}

/// Serializes one connection; its transactions are numbered from
/// `r.first_tx_id`.
pub fn record_out(r: &ConnectionRecord, multi: bool) -> RecordOut {
    let findings = r
        .findings
        .iter()
        .map(|f| finding_out(f, |idx| tx_id(r, idx)))
        .collect();
    record_out_with(r, multi, findings)
}

/// As [`record_out`], moving the findings out of the record instead of
/// copying them (their texts are most of a record's strings).
pub fn record_out_taking(r: &mut ConnectionRecord, multi: bool) -> RecordOut {
    let taken = std::mem::take(&mut r.findings);
    let findings = taken
        .into_iter()
        .map(|f| {
            let tx = f.transaction.and_then(|idx| tx_id(r, idx));
            finding_out_owned(f, tx)
        })
        .collect();
    record_out_with(r, multi, findings)
}

/// The report id of the transaction with index `idx` on `r`.
fn tx_id(r: &ConnectionRecord, idx: u32) -> Option<u64> {
    // Indexes are positions but for a few cases (a capture starting
    // mid-connection): look there first.
    let at = match r.transactions.get(idx as usize) {
        Some(t) if t.index == idx => Some(idx as usize),
        _ => r.transactions.iter().position(|t| t.index == idx),
    };
    at.map(|p| r.first_tx_id + p as u64)
}

fn record_out_with(r: &ConnectionRecord, multi: bool, findings: Vec<FindingOut>) -> RecordOut {
    let first_id = r.first_tx_id;
    let mut transactions = Vec::with_capacity(r.transactions.len());
    let mut prev_response_end: Option<Timestamp> = None;
    for (i, t) in r.transactions.iter().enumerate() {
        let blame = r.blame.get(i).and_then(|b| b.as_ref());
        let mut out = transaction_out(r, t, blame, first_id + i as u64, prev_response_end);
        out.file = multi.then_some(r.file);
        transactions.push(out);
        if let Some(resp) = &t.response {
            prev_response_end = Some(resp.end);
        }
    }
    RecordOut {
        connection: connection_out(r, multi),
        transactions,
        findings,
    }
}

/// Accumulates what the summary needs, one connection at a time, so that a
/// streaming writer need not keep the whole report.
#[derive(Default)]
pub struct SummaryAcc {
    connections: u64,
    http_connections: u64,
    tls_connections: u64,
    transactions: u64,
    /// Per cause, the transactions' non-zero µs, for percentiles (most causes
    /// are zero for most transactions).
    nonzero: [crate::histogram::Histogram; 15],
    /// Per cause, µs (integers: the sum is the same in any order).
    totals: [i64; 15],
    quality: QualityAcc,
    /// The findings with the most time (at most `TOP_FINDINGS`).
    top: Vec<FindingOut>,
    /// (kind, the change it recommends) → (occurrences, saving in µs, the
    /// least of their own texts: shown when there is one).
    recommendations: std::collections::BTreeMap<(String, String), (u64, i64, String)>,
}

const TOP_FINDINGS: usize = 10;

#[derive(Default)]
struct QualityAcc {
    votes: [u64; 4],
    handshakes_seen: u64,
    capture_loss_bytes: u64,
    gap_bytes: u64,
    payload: u64,
}

/// The top findings' order: longest first, then a total order so the list
/// is the same whatever order connections finish in.
fn top_order(a: &FindingOut, b: &FindingOut) -> std::cmp::Ordering {
    b.duration_us
        .cmp(&a.duration_us)
        .then(a.start_us.cmp(&b.start_us))
        .then(a.kind.cmp(b.kind))
        .then(a.connection.cmp(&b.connection))
        .then(a.transaction.cmp(&b.transaction))
        .then(a.frames.cmp(&b.frames))
        .then(a.detail.cmp(&b.detail))
}

impl SummaryAcc {
    pub fn add(&mut self, r: &ConnectionRecord, out: &RecordOut) {
        use crate::tcp::conn::Vantage;
        self.connections += 1;
        match r.protocol {
            Some(Protocol::Http) => self.http_connections += 1,
            Some(Protocol::Tls) => self.tls_connections += 1,
            _ => {}
        }
        // The causes' microseconds as attributed (what `blame_ms` shows,
        // divided by 1000), without reading them back from the report's
        // floats; a transaction without attribution counts as all zeros.
        self.transactions += out.transactions.len() as u64;
        let attributed = r.blame.iter().take(out.transactions.len()).flatten();
        for b in attributed {
            for ((total, values), &us) in self
                .totals
                .iter_mut()
                .zip(&mut self.nonzero)
                .zip(&b.parts_us)
            {
                *total = total.saturating_add(us);
                if us > 0 {
                    values.add(us.unsigned_abs());
                }
            }
        }
        let q = &mut self.quality;
        if r.handshake.is_some() {
            q.handshakes_seen += 1;
            let i = match r.vantage {
                Vantage::NearClient => 0,
                Vantage::NearServer => 1,
                Vantage::Middle => 2,
                Vantage::Unknown => 3,
            };
            q.votes[i] += 1;
        }
        for d in &r.dirs {
            q.capture_loss_bytes += d.acked_unseen;
            q.gap_bytes += d.gap_bytes;
            q.payload += d.bytes;
        }
        self.add_findings(&out.findings);
    }

    /// Adds findings to the recommendations and the top list.
    pub fn add_findings(&mut self, findings: &[FindingOut]) {
        for f in findings {
            if let Some(text) = &f.recommendation {
                let group = recommendation_group(f.kind, text);
                let e = self
                    .recommendations
                    .entry((f.kind.to_string(), group.to_string()))
                    .or_insert_with(|| (0, 0, text.clone()));
                e.0 += 1;
                e.1 = e.1.saturating_add(ms_to_us(f.saving_ms.unwrap_or(0.0)));
                // Any finishing order gives the same text.
                if *text < e.2 {
                    e.2.clone_from(text);
                }
            }
            // Sub-millisecond evidence stays in `findings` but is not "top".
            // Most findings do not make the list: compare before cloning.
            if f.duration_us < 1000
                || self
                    .top
                    .get(TOP_FINDINGS.saturating_sub(1))
                    .is_some_and(|last| top_order(f, last).is_ge())
            {
                continue;
            }
            let at = self.top.partition_point(|t| top_order(t, f).is_le());
            self.top.insert(at, f.clone());
            self.top.truncate(TOP_FINDINGS);
        }
    }

    pub fn finish(self, summary: &PassSummary) -> SummaryOut {
        SummaryOut {
            connections: self.connections,
            transactions: self.transactions,
            http_connections: self.http_connections,
            tls_connections: self.tls_connections,
            peak_live_connections: summary.peak_live_connections as u64,
            quality: quality(summary, &self.quality, self.connections),
            time_by_cause: time_by_cause(self.transactions, self.nonzero, &self.totals),
            top_findings: self.top,
            recommendations: recommendations(self.recommendations),
        }
    }
}

/// Options of the report that are not about single connections.
#[derive(Clone, Debug, Default)]
pub struct ReportOptions {
    pub connections: crate::blame::connections::ConnectionOptions,
}

/// Builds the report document with default options.
pub fn build(summary: &PassSummary, records: &[ConnectionRecord]) -> Report {
    build_with(summary, records, &ReportOptions::default())
}

/// Builds the report document. `records` must be sorted by connection id.
pub fn build_with(
    summary: &PassSummary,
    records: &[ConnectionRecord],
    options: &ReportOptions,
) -> Report {
    let mut connections = Vec::with_capacity(records.len());
    let mut transactions = Vec::new();
    let mut findings = Vec::new();
    let multi = summary.captures.len() > 1;
    let mut acc = SummaryAcc::default();
    let mut anomalies = AnomalyCounts::default();
    for r in records {
        anomalies.merge(&r.anomalies);
        let out = record_out(r, multi);
        acc.add(r, &out);
        connections.push(out.connection);
        transactions.extend(out.transactions);
        findings.extend(out.findings);
    }
    let mut extra = Vec::new();
    let mut analysis = ConnectionFindings::new(options);
    for r in records {
        analysis.push(r, true, &mut |f| extra.push(f));
    }
    anomalies.merge(&analysis.finish(&mut |f| extra.push(f)));
    acc.add_findings(&extra);
    findings.extend(extra);
    Report {
        schema_version: SCHEMA_VERSION,
        tool: tool(),
        capture: capture_out(summary),
        warnings: warnings_from(summary, anomalies),
        summary: acc.finish(summary),
        connections,
        transactions,
        findings,
    }
}

/// The report of [`build_with`], built one finished connection at a time in
/// any order, so that the records need not all be kept: for HTML, which
/// needs every transaction at the end. A test checks it against
/// [`build_with`]. With a [`Limit`] it keeps only the connections with the
/// lowest ids that fit, and counts the rest ([`LeftOut`]); the summary and
/// warnings still cover every connection.
pub struct ReportBuilder {
    multi: bool,
    totals: ReportAcc,
    /// By connection id.
    records: BTreeMap<u32, RecordOut>,
    /// Connection-management findings, as the analysis gives them.
    extra: Vec<FindingOut>,
    limit: Limit,
    /// Transactions in `records`.
    transactions: usize,
    left_out: LeftOut,
}

/// At most this many connections and transactions (the latter only past the
/// first connection) kept by a [`ReportBuilder`].
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub connections: usize,
    pub transactions: usize,
}

impl Limit {
    pub const NONE: Limit = Limit {
        connections: usize::MAX,
        transactions: usize::MAX,
    };
}

/// What a [`Limit`] left out of the report.
#[derive(Clone, Copy, Debug, Default)]
pub struct LeftOut {
    pub connections: u64,
    pub transactions: u64,
    pub findings: u64,
    /// The left-out transactions' `timings_ms.total`, summed.
    pub transaction_ms: f64,
}

impl ReportBuilder {
    /// `multi`: several capture files (each record names its file).
    pub fn new(multi: bool, options: &ReportOptions) -> ReportBuilder {
        Self::with_limit(multi, options, Limit::NONE)
    }

    pub fn with_limit(multi: bool, options: &ReportOptions, limit: Limit) -> ReportBuilder {
        ReportBuilder {
            multi,
            totals: ReportAcc::new(options),
            records: BTreeMap::new(),
            extra: Vec::new(),
            limit,
            transactions: 0,
            left_out: LeftOut::default(),
        }
    }

    /// One finished connection (`keep`: false when a filter left it out);
    /// its findings are moved into the report.
    pub fn add(&mut self, r: &mut ConnectionRecord, keep: bool) {
        let found = self.totals.analyze(r, keep);
        self.extra.extend(found);
        if !keep {
            return;
        }
        let out = record_out_taking(r, self.multi);
        self.totals.add(r, &out);
        self.transactions += out.transactions.len();
        self.records.insert(r.id, out);
        // Connections finish out of id order: the highest ids go.
        while self.records.len() > self.limit.connections
            || (self.transactions > self.limit.transactions && self.records.len() > 1)
        {
            let Some((_, out)) = self.records.pop_last() else {
                break;
            };
            self.transactions -= out.transactions.len();
            self.left_out.connections += 1;
            self.left_out.transactions += out.transactions.len() as u64;
            self.left_out.transaction_ms += out
                .transactions
                .iter()
                .map(|t| t.timings_ms.total)
                .sum::<f64>();
            self.left_out.findings += out.findings.len() as u64;
        }
    }

    /// Whether the connection `id` is in the report so far (a later
    /// connection with a lower id can still push it out).
    pub fn has(&self, id: u32) -> bool {
        self.records.contains_key(&id)
    }

    pub fn finish(self, summary: &PassSummary) -> Report {
        self.finish_with_left_out(summary).0
    }

    /// The report and what the limit left out of it. Connection-management
    /// findings about a connection left out go too.
    pub fn finish_with_left_out(mut self, summary: &PassSummary) -> (Report, LeftOut) {
        let found = self.totals.finish_analysis();
        self.extra.extend(found);
        let (warnings, summary_out) = self.totals.finish(summary);
        if self.left_out.connections > 0 {
            let records = &self.records;
            let before = self.extra.len();
            self.extra
                .retain(|f| f.connection.is_none_or(|c| records.contains_key(&c)));
            self.left_out.findings += (before - self.extra.len()) as u64;
        }
        // Sized exactly: on big.pcap the transactions alone are 270 MB.
        let fs = self
            .records
            .values()
            .map(|o| o.findings.len())
            .sum::<usize>();
        let mut connections = Vec::with_capacity(self.records.len());
        let mut transactions = Vec::with_capacity(self.transactions);
        let mut findings = Vec::with_capacity(fs + self.extra.len());
        for out in self.records.into_values() {
            connections.push(out.connection);
            transactions.extend(out.transactions);
            findings.extend(out.findings);
        }
        findings.extend(self.extra);
        let report = Report {
            schema_version: SCHEMA_VERSION,
            tool: tool(),
            capture: capture_out(summary),
            warnings,
            summary: summary_out,
            connections,
            transactions,
            findings,
        };
        (report, self.left_out)
    }
}

/// Connection-management findings (new connection per request,
/// parallelism, pipelining, idle closes, stale keep-alive races, TIME_WAIT)
/// as report findings, in the order the analyzer gives them.
pub struct ConnectionFindings {
    analyzer: ConnectionAnalyzer,
}

impl ConnectionFindings {
    pub fn new(options: &ReportOptions) -> ConnectionFindings {
        ConnectionFindings {
            analyzer: ConnectionAnalyzer::new(options.connections),
        }
    }

    /// One finished connection; `keep`: false when a filter left it out.
    pub fn push(&mut self, r: &ConnectionRecord, keep: bool, out: &mut dyn FnMut(FindingOut)) {
        let brief = keep.then(|| ConnectionBrief::of(r)).flatten();
        self.analyzer
            .push(r.id, brief, &mut |f, tx| out(finding_out(&f, |_| tx)));
    }

    /// The last findings; returns the analysis' own warnings (pairs it
    /// had to finish early).
    pub fn finish(self, out: &mut dyn FnMut(FindingOut)) -> AnomalyCounts {
        let mut warnings = AnomalyCounts::default();
        warnings.add_n(
            "connection_pair_cap",
            self.analyzer.finished_early(),
            format!(
                "more than {} client→server pairs were active within 2MSL; the quietest were finished early (a later connection of one starts it afresh)",
                crate::blame::connections::MAX_PAIRS
            ),
        );
        self.analyzer
            .finish(&mut |f, tx| out(finding_out(&f, |_| tx)));
        warnings
    }
}

/// The report's running totals, fed one finished connection at a time in
/// any order: the summary, the anomaly counts and the connection-management
/// analysis (shared by the streamed JSON report and the analyze table).
pub struct ReportAcc {
    acc: SummaryAcc,
    anomalies: AnomalyAcc,
    analysis: Option<ConnectionFindings>,
    /// The connection analysis' own warnings, once it is finished.
    analysis_warnings: AnomalyCounts,
}

impl ReportAcc {
    pub fn new(options: &ReportOptions) -> ReportAcc {
        ReportAcc {
            acc: SummaryAcc::default(),
            anomalies: AnomalyAcc::default(),
            analysis: Some(ConnectionFindings::new(options)),
            analysis_warnings: AnomalyCounts::default(),
        }
    }

    /// Feeds a finished connection to the connection analysis (`keep`:
    /// false when a filter left it out, to keep the numbering); the
    /// findings that became known, counted.
    pub fn analyze(&mut self, r: &ConnectionRecord, keep: bool) -> Vec<FindingOut> {
        let mut found = Vec::new();
        if let Some(a) = &mut self.analysis {
            a.push(r, keep, &mut |f| found.push(f));
        }
        self.acc.add_findings(&found);
        found
    }

    /// Counts a kept connection's report objects.
    pub fn add(&mut self, r: &ConnectionRecord, out: &RecordOut) {
        self.acc.add(r, out);
        self.anomalies.add(r.id, &r.anomalies);
    }

    /// Ends the connection analysis: its last findings, counted.
    pub fn finish_analysis(&mut self) -> Vec<FindingOut> {
        let mut found = Vec::new();
        if let Some(a) = self.analysis.take() {
            self.analysis_warnings = a.finish(&mut |f| found.push(f));
        }
        self.acc.add_findings(&found);
        found
    }

    /// The warnings and the summary (after [`Self::finish_analysis`]).
    pub fn finish(self, summary: &PassSummary) -> (Vec<Warning>, SummaryOut) {
        let mut counts = self.anomalies.into_counts();
        counts.merge(&self.analysis_warnings);
        let warnings = warnings_from(summary, counts);
        (warnings, self.acc.finish(summary))
    }
}

/// The JSON Schema (draft 2020-12) of the report, generated from the types;
/// `docs/schema/report.schema.json` is this, kept in step by a test.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Report)).unwrap_or_default()
}

pub fn tool() -> Tool {
    Tool {
        name: "wireblame",
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

fn quality(summary: &PassSummary, q: &QualityAcc, connections: u64) -> QualityOut {
    let names = ["near_client", "near_server", "middle", "unknown"];
    let best = (0..4)
        .max_by_key(|&i| (q.votes[i], std::cmp::Reverse(i)))
        .unwrap_or(3);
    let vantage = if q.votes.iter().all(|v| *v == 0) {
        "unknown"
    } else {
        names[best]
    };
    let d = &summary.decode;
    let frames_not_analyzed = d.ip_datagrams_incomplete
        + d.unsupported_link.values().sum::<u64>()
        + d.malformed.values().sum::<u64>();
    let truncated = summary.captures.iter().any(|c| c.damage.is_some());
    let mut reasons = Vec::new();
    let mut poor = false;
    if truncated {
        reasons.push("the file was cut short".to_string());
    }
    if q.capture_loss_bytes > 0 {
        reasons.push(format!(
            "{} bytes acknowledged but never captured (capture loss)",
            q.capture_loss_bytes
        ));
        // More than 1 % of the payload missing makes every inference shaky.
        poor |= q.capture_loss_bytes * 100 > q.payload.max(1);
    }
    if q.gap_bytes > q.capture_loss_bytes {
        reasons.push(format!(
            "{} more bytes not captured (snaplen or holes)",
            q.gap_bytes - q.capture_loss_bytes
        ));
    }
    if q.handshakes_seen < connections {
        reasons.push(format!(
            "{} of {} connections started before the capture (no handshake: RTT and vantage estimated)",
            connections - q.handshakes_seen,
            connections
        ));
    }
    if frames_not_analyzed > 0 {
        reasons.push(format!("{frames_not_analyzed} frames not analyzed"));
    }
    let verdict = if poor {
        "poor"
    } else if reasons.is_empty() {
        "good"
    } else {
        "fair"
    };
    QualityOut {
        vantage,
        handshakes_seen: q.handshakes_seen,
        capture_loss_bytes: q.capture_loss_bytes,
        gap_bytes: q.gap_bytes,
        truncated,
        frames_not_analyzed,
        verdict,
        reasons,
    }
}

/// Milliseconds (three decimals in the report) as whole microseconds.
fn ms_to_us(ms: f64) -> i64 {
    (ms * 1000.0).round() as i64
}

fn us_to_ms(us: i64) -> f64 {
    us as f64 / 1000.0
}

/// Totals and nearest-rank percentiles over `n` transactions, of which the
/// ones not in `nonzero[cause]` had zero ms for that cause.
fn time_by_cause(
    n: u64,
    nonzero: [crate::histogram::Histogram; 15],
    totals: &[i64; 15],
) -> Vec<CauseTotal> {
    crate::blame::Cause::ALL
        .iter()
        .map(|c| {
            let v = &nonzero[c.index()];
            let zeros = n.saturating_sub(v.len());
            let pct = |p: f64| -> f64 {
                if n == 0 {
                    return 0.0;
                }
                let rank = ((p * n as f64).ceil() as u64).clamp(1, n);
                match rank.checked_sub(zeros) {
                    Some(r) if r > 0 => v.at_rank(r).map_or(0.0, |us| us as f64 / 1000.0),
                    _ => 0.0,
                }
            };
            CauseTotal {
                cause: c.key(),
                total_ms: us_to_ms(totals[c.index()]),
                p50_ms: pct(0.5),
                p90_ms: pct(0.9),
                p99_ms: pct(0.99),
                transactions: v.len(),
            }
        })
        .collect()
}

/// Groups findings that recommend the same change and ranks them by saving.
fn recommendations(
    groups: std::collections::BTreeMap<(String, String), (u64, i64, String)>,
) -> Vec<Recommendation> {
    let mut out: Vec<Recommendation> = groups
        .into_iter()
        .map(|((kind, text), (n, saving, one))| Recommendation {
            text: if n == 1 {
                one
            } else {
                format!(
                    "{text}: {n} × {}, {:.0} ms",
                    kind.replace('_', " "),
                    us_to_ms(saving)
                )
            },
            kind,
            occurrences: n,
            saving_ms: us_to_ms(saving),
        })
        .collect();
    out.sort_by(|a, b| {
        b.saving_ms
            .total_cmp(&a.saving_ms)
            .then(a.text.cmp(&b.text))
    });
    out
}

/// Serializes a finding; `tx_id` maps a transaction index on the finding's
/// connection to its global `id`.
pub fn finding_out(f: &crate::blame::Finding, tx_id: impl Fn(u32) -> Option<u64>) -> FindingOut {
    finding_out_owned(f.clone(), f.transaction.and_then(tx_id))
}

/// As [`finding_out`], moving the texts; `transaction`: its report id.
pub fn finding_out_owned(f: crate::blame::Finding, transaction: Option<u64>) -> FindingOut {
    FindingOut {
        kind: f.kind,
        connection: f.connection,
        transaction,
        start_us: f.start.as_micros(),
        duration_us: ns_to_us(f.duration_ns),
        frames: f.frames,
        detail: f.detail,
        confidence: f.confidence.as_str(),
        vantage: f.vantage.as_str(),
        saving_ms: f.saving_ns.map(|n| ns_to_us(n) as f64 / 1000.0),
        recommendation: f.recommendation,
    }
}

/// The report's `capture` object.
pub fn capture_out(summary: &PassSummary) -> CaptureOut {
    let caps = &summary.captures;
    let mut link_counts = std::collections::BTreeMap::new();
    for c in caps {
        for (lt, n) in &c.link_types {
            *link_counts.entry(*lt).or_insert(0u64) += n;
        }
    }
    let first = caps.iter().filter_map(|c| c.first_ts).min();
    let last = caps.iter().filter_map(|c| c.last_ts).max();
    let damage = caps.iter().find_map(|c| {
        c.damage.as_ref().map(|d| Damage {
            path: c.path.clone(),
            offset: d.offset,
            after_frame: c.packets,
            detail: d.detail.clone(),
        })
    });
    let d = &summary.decode;
    CaptureOut {
        path: caps
            .iter()
            .map(|c| c.path.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        format: caps.first().map_or("pcap", |c| c.format.as_str()),
        compressed: caps.iter().any(|c| c.compressed),
        link_types: link_counts.keys().map(|lt| linktype::name(*lt)).collect(),
        packets: caps.iter().map(|c| c.packets).sum(),
        bytes: caps.iter().map(|c| c.bytes).sum(),
        first_us: first.map(Timestamp::as_micros),
        last_us: last.map(Timestamp::as_micros),
        truncated: damage.is_some(),
        truncated_at: damage,
        files: if caps.len() > 1 {
            caps.iter()
                .map(|c| FileOut {
                    path: c.path.clone(),
                    format: c.format.as_str(),
                    packets: c.packets,
                    truncated: c.damage.is_some(),
                })
                .collect()
        } else {
            Vec::new()
        },
        decode: DecodeOut {
            tcp: d.tcp,
            udp: d.udp,
            ip_fragments: d.ip_fragments,
            ip_datagrams_reassembled: d.ip_datagrams_reassembled,
            other: d.other,
            not_analyzed: d
                .unsupported_link
                .iter()
                .map(|(lt, n)| Count {
                    name: linktype::name(*lt),
                    count: *n,
                })
                .collect(),
            malformed: d
                .malformed
                .iter()
                .map(|(l, n)| Count {
                    name: l.to_string(),
                    count: *n,
                })
                .collect(),
        },
    }
}

/// The connections' anomalies merged in connection-id order (each kind keeps
/// the detail of the connection with the lowest id), whatever order they are
/// added in.
#[derive(Default)]
pub struct AnomalyAcc {
    by_kind: std::collections::BTreeMap<&'static str, (u64, u32, String)>,
}

impl AnomalyAcc {
    pub fn add(&mut self, id: u32, counts: &AnomalyCounts) {
        for (kind, n, detail) in counts.iter() {
            let e = self
                .by_kind
                .entry(kind)
                .or_insert_with(|| (0, id, detail.to_string()));
            e.0 = e.0.saturating_add(n);
            if id < e.1 {
                e.1 = id;
                e.2 = detail.to_string();
            }
        }
    }

    pub fn into_counts(self) -> AnomalyCounts {
        let mut all = AnomalyCounts::default();
        for (kind, (n, _, detail)) in self.by_kind {
            all.add_n(kind, n, detail);
        }
        all
    }
}

/// The report's warnings: the pass's own, then the connections' (merged in
/// id order).
pub fn warnings_from(summary: &PassSummary, connections: AnomalyCounts) -> Vec<Warning> {
    let mut all = summary.anomalies.clone();
    all.merge(&connections);
    let d = &summary.decode;
    for (lt, n) in &d.unsupported_link {
        all.add_n(
            "link_type_not_analyzed",
            *n,
            format!(
                "{n} frames of link type {} are not decoded",
                linktype::name(*lt)
            ),
        );
    }
    if d.ip_datagrams_incomplete > 0 {
        all.add_n(
            "ip_fragments_incomplete",
            d.ip_datagrams_incomplete,
            format!(
                "fragmented IP datagrams never completed (timeout {} s, memory cap {} bytes)",
                crate::defrag::FRAGMENT_TIMEOUT_NS / 1_000_000_000,
                crate::defrag::MAX_PENDING_BYTES
            ),
        );
    }
    for (layer, n) in &d.malformed {
        all.add_n(
            "malformed_frame",
            *n,
            format!(
                "frames damaged or cut before the end of the TCP header (first at layer {layer})"
            ),
        );
    }
    all.iter()
        .map(|(kind, count, detail)| Warning {
            kind: kind.to_string(),
            count,
            detail: detail.to_string(),
        })
        .collect()
}

/// "ip:port", IPv6 as "[addr]:port" (SocketAddr's Display does exactly this).
pub fn endpoint(a: &std::net::SocketAddr) -> String {
    use std::fmt::Write;
    // Room for the longest IPv6 form up front: `to_string` grows the text
    // byte group by byte group (two reallocations per address).
    let mut s = String::with_capacity(48);
    let _ = write!(s, "{a}");
    s
}

fn side_str(s: Side) -> &'static str {
    s.as_str()
}

fn connection_out(r: &ConnectionRecord, multi: bool) -> ConnectionOut {
    let per = |f: &dyn Fn(Side) -> u64| PerSide {
        client: f(Side::Client),
        server: f(Side::Server),
    };
    let dir_out = |s: Side| {
        let d = r.dir(s);
        DirectionOut {
            mss: d.mss,
            window_scale: d.window_scale,
            sack_permitted: d.sack_permitted,
            timestamps: d.timestamps,
            retransmission_kinds: RetransOut {
                timeout: d.retrans.timeout,
                fast: d.retrans.fast,
                spurious: d.retrans.spurious,
                syn: d.retrans.syn,
                window_probe: d.retrans.window_probe,
                inferred: d.retrans.inferred,
            },
            out_of_order: d.out_of_order,
            duplicate_frames: d.duplicate_frames,
            keepalives: d.keepalives,
            zero_windows: d.zero_windows,
            acked_unseen_bytes: d.acked_unseen,
            gap_bytes: d.gap_bytes,
        }
    };
    ConnectionOut {
        id: r.id,
        client: endpoint(&r.client),
        server: endpoint(&r.server),
        roles: match r.roles {
            RoleSource::Syn => "syn",
            RoleSource::SynAck => "synack",
            RoleSource::Guessed => "guessed",
        },
        protocol: r.protocol.map(protocol_str),
        first_frame: r.first_frame,
        start_us: r.start.as_micros(),
        end_us: r.end.as_micros(),
        handshake: r.handshake.map(|h| HandshakeOut {
            syn_us: h.syn.map(|m| m.ts.as_micros()),
            synack_us: h.synack.map(|m| m.ts.as_micros()),
            ack_us: h.ack.map(|m| m.ts.as_micros()),
            rtt_us: r.handshake_rtt_ns.map(ns_to_us),
            syn_retransmits: h.syn_retransmits,
            synack_retransmits: h.synack_retransmits,
            syn_frame: h.syn.map(|m| m.frame),
            synack_frame: h.synack.map(|m| m.frame),
            ack_frame: h.ack.map(|m| m.frame),
        }),
        vantage: r.vantage.as_str(),
        packets: per(&|s| r.dir(s).packets),
        bytes: per(&|s| r.dir(s).bytes),
        retransmissions: per(&|s| r.dir(s).retrans.total()),
        close: CloseOut {
            by: r.close_by.map(side_str),
            how: match r.close_how {
                CloseHow::Fin => "fin",
                CloseHow::Rst => "rst",
                CloseHow::Open => "open",
            },
            active_closer: r.active_closer.map(side_str),
        },
        port_reused: r.port_reused.is_some(),
        port_reused_after_us: r.port_reused.flatten().map(ns_to_us),
        transactions: r.transactions.len() as u32,
        details: PerSide {
            client: dir_out(Side::Client),
            server: dir_out(Side::Server),
        },
        file: multi.then_some(r.file),
    }
}

pub fn protocol_str(p: Protocol) -> &'static str {
    match p {
        Protocol::Http => "http",
        Protocol::Tls => "tls",
        Protocol::Unknown => "unknown",
    }
}

/// Milliseconds with microsecond precision, from nanoseconds.
fn ms(ns: i64) -> f64 {
    (ns.div_euclid(1_000) as f64) / 1_000.0
}

/// HAR-style phase times of one transaction (HAR 1.2 meanings).
pub fn timings(r: &ConnectionRecord, t: &Transaction) -> TimingsMs {
    let fresh_first = t.index == 0 && r.handshake.is_some_and(|h| h.syn.is_some());
    let connect = match (fresh_first, r.handshake) {
        (true, Some(h)) => match (h.syn, h.ack) {
            (Some(syn), Some(ack)) => ms(ack.ts.since(syn.ts).max(0)),
            _ => -1.0,
        },
        _ => -1.0,
    };
    let (mut send, mut wait, mut receive) = (-1.0, -1.0, -1.0);
    if let Some(req) = &t.request {
        send = ms(req.end.since(req.start).max(0));
        if let Some(resp) = &t.response {
            // An early response (before the request ended) waits zero.
            let resp_from = resp.start.max(req.end);
            wait = ms(resp.start.since(req.end).max(0));
            receive = ms(resp.end.since(resp_from).max(0));
        }
    } else if let Some(resp) = &t.response {
        receive = ms(resp.end.since(resp.start).max(0));
    }
    let total = [connect, send, wait, receive]
        .iter()
        .filter(|v| **v >= 0.0)
        .sum::<f64>();
    TimingsMs {
        blocked: -1.0,
        dns: -1.0,
        connect,
        send,
        wait,
        receive,
        total: (total * 1000.0).round() / 1000.0,
    }
}

fn transaction_out(
    r: &ConnectionRecord,
    t: &Transaction,
    blame: Option<&TxBlame>,
    id: u64,
    prev_response_end: Option<Timestamp>,
) -> TransactionOut {
    let req = t.request.as_ref();
    let resp = t.response.as_ref();
    TransactionOut {
        id,
        connection: r.id,
        index: t.index,
        method: t.method.clone(),
        uri: t.uri.clone(),
        host: t.host.clone(),
        version: t.version.clone(),
        status: t.status,
        interim: t.interim.clone(),
        request_head_bytes: req.map(|m| m.head_bytes),
        request_body_bytes: req.map(|m| m.body_bytes),
        request_body_decoded_bytes: req.and_then(|m| m.body_decoded_bytes),
        response_head_bytes: resp.map(|m| m.head_bytes),
        response_body_bytes: resp.map(|m| m.body_bytes),
        response_body_decoded_bytes: resp.and_then(|m| m.body_decoded_bytes),
        request_first_frame: req.map(|m| m.first_frame),
        request_last_frame: req.map(|m| m.last_frame),
        response_first_frame: resp.map(|m| m.first_frame),
        response_last_frame: resp.map(|m| m.last_frame),
        request_start_us: req.map(|m| m.start.as_micros()),
        request_end_us: req.map(|m| m.end.as_micros()),
        response_start_us: resp.map(|m| m.start.as_micros()),
        response_end_us: resp.map(|m| m.end.as_micros()),
        incomplete: t.incomplete.clone(),
        reused_connection: t.index > 0,
        pipelined: t.pipelined,
        idle_before_us: match (prev_response_end, req) {
            (Some(prev), Some(m)) => Some(ns_to_us(m.start.since(prev).max(0))),
            _ => None,
        },
        timings_ms: match blame {
            Some(b) => timings_from_blame(b),
            None => timings(r, t),
        },
        blame_ms: blame.map_or_else(BlameMs::default, |b| BlameMs::from_us(&b.parts_us)),
        dominant_cause: blame.map_or("unexplained", |b| b.dominant.key()),
        span_start_us: blame.map_or_else(
            || req.or(resp).map_or(0, |m| m.start.as_micros()),
            |b| b.start.as_micros(),
        ),
        file: None,
    }
}

fn timings_from_blame(b: &TxBlame) -> TimingsMs {
    let ms = |us: i64| if us < 0 { -1.0 } else { us as f64 / 1000.0 };
    let p = &b.phases;
    TimingsMs {
        blocked: ms(p.blocked),
        dns: ms(p.dns),
        connect: ms(p.connect),
        send: ms(p.send),
        wait: ms(p.wait),
        receive: ms(p.receive),
        total: b.total_us as f64 / 1000.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(kind: &'static str, recommendation: &str, saving_ms: f64) -> FindingOut {
        FindingOut {
            kind,
            connection: Some(1),
            transaction: None,
            start_us: 0,
            duration_us: 0,
            frames: Vec::new(),
            detail: String::new(),
            confidence: "medium",
            vantage: "middle",
            saving_ms: Some(saving_ms),
            recommendation: Some(recommendation.to_string()),
        }
    }

    /// Idle closes recommend the same change with their own numbers: one
    /// line for all of them, in any order; a lone one keeps its own text.
    #[test]
    fn recommendations_of_one_change_make_one_line() {
        let idle = |gap: &str, id: u32, saving: f64| {
            let text = format!(
                "raise the server's keep-alive idle timeout above {gap} so connection {id} could have been reused"
            );
            finding("idle_close", &text, saving)
        };
        let nagle = finding(
            "nagle_stall",
            "set TCP_NODELAY on server 10.0.0.2:80, or send the message in one write",
            2.0,
        );
        let all = [
            idle("1.004 s", 7, 1.5),
            idle("2.000 s", 9, 2.5),
            nagle.clone(),
        ];
        let mut texts = Vec::new();
        for order in [[0, 1, 2], [2, 1, 0]] {
            let mut acc = SummaryAcc::default();
            for i in order {
                acc.add_findings(std::slice::from_ref(&all[i]));
            }
            let r = recommendations(acc.recommendations);
            let got: Vec<(String, u64)> =
                r.iter().map(|r| (r.text.clone(), r.occurrences)).collect();
            texts.push(got);
        }
        assert_eq!(texts[0], texts[1]);
        assert_eq!(
            texts[0],
            [
                (
                    "raise the server's keep-alive idle timeout: 2 × idle close, 4 ms".to_string(),
                    2
                ),
                (nagle.recommendation.clone().unwrap_or_default(), 1),
            ]
        );
        let mut acc = SummaryAcc::default();
        acc.add_findings(&[idle("2.000 s", 9, 2.5)]);
        let r = recommendations(acc.recommendations);
        assert_eq!(r[0].text, all[1].recommendation.clone().unwrap_or_default());
    }
}
