//! Runs one command: the pass over the captures, then the chosen view.
//!
//! HAR and HTML need the whole report (sorted by connection) and the
//! records' headers or timelines, and so keep the finished connections; the
//! connections and transactions tables keep their rows' text only.
//! NDJSON writes each connection's lines as soon as it is finalized, so a
//! huge capture starts producing output at once; JSON spools them; the
//! analyze table keeps running totals and the slowest transactions. For
//! those three, memory stays flat.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::rc::Rc;

use serde::Serialize;

use crate::cli::{Config, Filter, Format, View};
use crate::error::Error;
use crate::pipeline::{self, ConnectionRecord, PassOptions};
use crate::report::har::TxHeaders;
use crate::report::html::{ConnectionTimeline, SeqPoint};
use crate::report::{self, table};

/// Runs the configured analysis and writes its output.
pub fn run(config: &Config) -> Result<(), Error> {
    config.validate()?;
    let out = Output::open(config.output.as_deref())?;
    let progress = Progress::new(config);
    let options = PassOptions {
        decode_only: config.decode_only,
        keep_timeline: config.format == Format::Html,
        keep_headers: config.format == Format::Har,
        progress: progress.hook(),
        read_ahead: config.threads > 1,
    };
    let multi = config.captures.len() > 1;
    let result = match (config.format, config.view) {
        (Format::Ndjson, _) => run_ndjson(config, &options, out),
        (Format::Json, _) => {
            let json = report::json::JsonReportWriter::new(multi, &report_options(config));
            run_spooled(config, &options, out, json, &progress)
        }
        (Format::Table, View::Analyze) => run_analyze_table(config, &options, out),
        (Format::Table, View::Connections | View::Transactions) => {
            run_list_table(config, &options, out)
        }
        (Format::Har, _) => {
            let har = report::har_writer::HarWriter::new(multi, &report_options(config));
            run_spooled(config, &options, out, har, &progress)
        }
        (Format::Html, _) => run_html(config, &options, out, &progress),
    };
    progress.finish();
    result
}

/// A document written at the end from what was spooled as connections
/// finished (JSON, HAR): memory stays flat however many there are.
trait SpooledDocument: Send + 'static {
    /// One finished connection (`keep`: false when a filter left it out).
    fn add(&mut self, r: &mut ConnectionRecord, keep: bool) -> io::Result<()>;
    fn finish(self, summary: &pipeline::PassSummary, out: &mut dyn Write) -> io::Result<()>;
}

impl SpooledDocument for report::json::JsonReportWriter {
    fn add(&mut self, r: &mut ConnectionRecord, keep: bool) -> io::Result<()> {
        self.add_taking(r, keep)
    }

    fn finish(self, summary: &pipeline::PassSummary, out: &mut dyn Write) -> io::Result<()> {
        self.finish(summary, out)
    }
}

impl SpooledDocument for report::har_writer::HarWriter {
    fn add(&mut self, r: &mut ConnectionRecord, keep: bool) -> io::Result<()> {
        self.add(r, keep)
    }

    fn finish(self, summary: &pipeline::PassSummary, out: &mut dyn Write) -> io::Result<()> {
        self.finish(summary, out)
    }
}

/// JSON ([`report::json`]) and HAR ([`report::har_writer`]).
fn run_spooled<D: SpooledDocument>(
    config: &Config,
    options: &PassOptions,
    mut out: Output,
    document: D,
    progress: &Progress,
) -> Result<(), Error> {
    struct Sink<D> {
        document: D,
        filters: Vec<Filter>,
        error: Option<io::Error>,
    }
    let sink = Sink {
        document,
        filters: config.filters.clone(),
        error: None,
    };
    let (sink, summary) = pass(config, options, sink, |s: &mut Sink<D>, r| {
        if s.error.is_none() {
            let keep = s.filters.iter().all(|f| f.matches(r));
            s.error = s.document.add(r, keep).err();
        }
    })?;
    // The bar is done before the document is assembled.
    progress.finish();
    if let Some(e) = sink.error {
        return Err(out.spool_or_output_err(e));
    }
    let written = sink.document.finish(&summary, &mut out.w);
    written.map_err(|e| out.spool_or_output_err(e))?;
    out.finish()
}

/// HTML: the report and the connections' timelines, up to
/// [`report::html::MAX_CONNECTIONS`] and [`report::html::MAX_TRANSACTIONS`]
/// (the lowest ids). Each record is turned into its report objects as it
/// finishes and then dropped.
fn run_html(
    config: &Config,
    options: &PassOptions,
    mut out: Output,
    progress: &Progress,
) -> Result<(), Error> {
    struct Sink {
        report: report::ReportBuilder,
        filters: Vec<Filter>,
        /// Of the connections the report has.
        timelines: BTreeMap<u32, ConnectionTimeline>,
    }
    let limit = report::Limit {
        connections: report::html::MAX_CONNECTIONS,
        transactions: report::html::MAX_TRANSACTIONS,
    };
    let sink = Sink {
        report: report::ReportBuilder::with_limit(
            config.captures.len() > 1,
            &report_options(config),
            limit,
        ),
        filters: config.filters.clone(),
        timelines: BTreeMap::new(),
    };
    let (sink, summary) = pass(config, options, sink, |s, r| {
        let keep = s.filters.iter().all(|f| f.matches(r));
        s.report.add(r, keep);
        if !s.report.has(r.id) {
            return;
        }
        if let Some(t) = timeline(r) {
            s.timelines.insert(r.id, t);
        }
        // The report drops its highest ids when over the limit.
        while let Some(id) = s.timelines.last_key_value().map(|(id, _)| *id) {
            if s.report.has(id) {
                break;
            }
            s.timelines.pop_last();
        }
    })?;
    // The bar is done before the page is made.
    progress.finish();
    let (report, left_out) = sink.report.finish_with_left_out(&summary);
    let timelines: Vec<ConnectionTimeline> = sink.timelines.into_values().collect();
    out.write(report::html::render_with(&report, &timelines, &left_out).as_bytes())?;
    out.finish()
}

fn report_options(config: &Config) -> report::ReportOptions {
    report::ReportOptions {
        connections: crate::blame::connections::ConnectionOptions {
            time_wait_ns: config.time_wait_ns,
            ..Default::default()
        },
    }
}

/// The last NDJSON line: the summary and, since NDJSON has no top-level
/// object, the report's `warnings` (the caps hit, damage, …).
#[derive(Serialize)]
struct SummaryLine {
    #[serde(flatten)]
    summary: report::model::SummaryOut,
    warnings: Vec<report::model::Warning>,
}

/// Writes NDJSON lines for each finished connection and keeps what the
/// summary and the connection-level findings need.
struct NdjsonSink {
    out: Output,
    acc: report::SummaryAcc,
    multi: bool,
    filters: Vec<Filter>,
    /// The connection-management analysis, fed as connections finish.
    analysis: report::ConnectionFindings,
    anomalies: report::AnomalyAcc,
    error: Option<Error>,
}

impl NdjsonSink {
    fn record(&mut self, r: &mut ConnectionRecord) {
        if self.error.is_some() {
            return;
        }
        let keep = self.filters.iter().all(|f| f.matches(r));
        let (out, acc, error) = (&mut self.out, &mut self.acc, &mut self.error);
        self.analysis.push(r, keep, &mut |f| {
            acc.add_findings(std::slice::from_ref(&f));
            if error.is_none() {
                *error = out.record_line("finding", &f).err();
            }
        });
        if !keep || self.error.is_some() {
            return;
        }
        let lines = report::record_out_taking(r, self.multi);
        self.anomalies.add(r.id, &r.anomalies);
        self.acc.add(r, &lines);
        let out = &mut self.out;
        let written = out
            .record_line("connection", &lines.connection)
            .and_then(|()| {
                lines
                    .transactions
                    .iter()
                    .try_for_each(|t| out.record_line("transaction", t))
            })
            .and_then(|()| {
                lines
                    .findings
                    .iter()
                    .try_for_each(|f| out.record_line("finding", f))
            });
        if let Err(e) = written {
            self.error = Some(e);
        }
    }

    fn finish(mut self, summary: &pipeline::PassSummary) -> Result<(), Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let (out, acc, mut error) = (&mut self.out, &mut self.acc, None);
        let analysis_warnings = self.analysis.finish(&mut |f| {
            acc.add_findings(std::slice::from_ref(&f));
            if error.is_none() {
                error = out.record_line("finding", &f).err();
            }
        });
        if let Some(e) = error {
            return Err(e);
        }
        let mut counts = self.anomalies.into_counts();
        counts.merge(&analysis_warnings);
        let summary_out = SummaryLine {
            summary: self.acc.finish(summary),
            warnings: report::warnings_from(summary, counts),
        };
        self.out.line("summary", &summary_out)?;
        self.out.finish()
    }
}

/// Batches of finished connections queued between the pass and the writer
/// thread (a batch per channel message: fewer thread wake-ups). At most 256
/// connections in flight; 16 batches of 16 kept both threads busier than 4
/// of 64 (0.59 against 0.61 s median on big.pcap, alternating runs).
const WRITER_QUEUE: usize = 16;
const WRITER_BATCH: usize = 16;

/// Runs the pass and hands each finished connection's record to `consume`,
/// on a second thread when `--threads` allows: turning a finished connection
/// into its record (HTTP finish, blame) and its output takes as long as the
/// pass. Connections cross a FIFO channel and are numbered there, so the
/// output is the same bytes as with one thread.
fn pass<S: Send + 'static>(
    config: &Config,
    options: &PassOptions,
    mut sink: S,
    consume: fn(&mut S, &mut ConnectionRecord),
) -> Result<(S, pipeline::PassSummary), Error> {
    if config.threads <= 1 {
        let summary = pipeline::run(&config.captures, options, &mut |mut r| {
            consume(&mut sink, &mut r)
        })?;
        return Ok((sink, summary));
    }
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<pipeline::Finished>>(WRITER_QUEUE);
    // Records go back to be dropped where their parts were allocated: a
    // free from another thread costs the allocator several times a local one
    // (the owner has to collect it later), and a record holds a dozen
    // allocations per transaction.
    let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<Vec<ConnectionRecord>>(WRITER_QUEUE);
    let keep_timeline = options.keep_timeline;
    let writer = std::thread::Builder::new()
        .name("wireblame-output".into())
        .spawn(move || {
            let mut numbering = pipeline::Numbering::default();
            for batch in rx {
                let mut done = Vec::with_capacity(batch.len());
                for f in batch {
                    let mut record = numbering.record(f, keep_timeline);
                    consume(&mut sink, &mut record);
                    done.push(record);
                }
                // Full (the pass is busy): dropped here instead.
                let _ = done_tx.try_send(done);
            }
            sink
        })
        .map_err(|e| Error::Usage(format!("cannot start the output thread: {e}")))?;
    let mut batch = Vec::with_capacity(WRITER_BATCH);
    let result = pipeline::run_connections(&config.captures, options, &mut |f| {
        batch.push(f);
        if batch.len() == WRITER_BATCH {
            // A send fails only if the writer died; its panic surfaces at join.
            let _ = tx.send(std::mem::replace(
                &mut batch,
                Vec::with_capacity(WRITER_BATCH),
            ));
            while let Ok(done) = done_rx.try_recv() {
                drop(done);
            }
        }
    });
    if !batch.is_empty() {
        let _ = tx.send(batch);
    }
    drop(tx);
    let sink = writer
        .join()
        .map_err(|_| Error::Usage("the output thread failed".into()))?;
    Ok((sink, result?))
}

fn run_ndjson(config: &Config, options: &PassOptions, out: Output) -> Result<(), Error> {
    let report_options = report_options(config);
    let sink = NdjsonSink {
        out,
        acc: report::SummaryAcc::default(),
        multi: config.captures.len() > 1,
        filters: config.filters.clone(),
        analysis: report::ConnectionFindings::new(&report_options),
        anomalies: report::AnomalyAcc::default(),
        error: None,
    };
    let (sink, summary) = pass(config, options, sink, |s, r| s.record(r))?;
    sink.finish(&summary)
}

/// Request and response headers by transaction id (same numbering as the report).
pub fn headers(records: &[ConnectionRecord]) -> BTreeMap<u64, TxHeaders> {
    records.iter().flat_map(headers_of).collect()
}

fn headers_of(r: &ConnectionRecord) -> impl Iterator<Item = (u64, TxHeaders)> + '_ {
    let fields = |m: Option<&crate::transaction::Message>| m.map(|m| m.headers.clone());
    // Keyed like the report's transaction ids: by position on the
    // connection (the index differs when the capture starts mid-connection).
    (r.first_tx_id..).zip(&r.transactions).map(move |(id, t)| {
        let h = TxHeaders {
            request: fields(t.request.as_ref()).unwrap_or_default(),
            response: fields(t.response.as_ref()).unwrap_or_default(),
        };
        (id, h)
    })
}

/// Segments for the HTML time–sequence graphs.
pub fn timelines(records: &[ConnectionRecord]) -> Vec<ConnectionTimeline> {
    records.iter().filter_map(timeline).collect()
}

/// One record's segments, if its timeline was kept.
fn timeline(r: &ConnectionRecord) -> Option<ConnectionTimeline> {
    use crate::tcp::timeline::SegKind;
    let events = r.timeline.as_ref()?;
    let points = events
        .iter()
        .map(|e| SeqPoint {
            t_us: e.ts.as_micros(),
            side: e.side.index() as u8,
            seq_start: e.start,
            seq_end: e.end,
            ack: e.ack,
            window: e.window,
            kind: match e.kind {
                SegKind::Control => "control",
                SegKind::New => "new",
                SegKind::OutOfOrder => "out_of_order",
                SegKind::FastRetransmit => "fast_retransmission",
                SegKind::TimeoutRetransmit => "retransmission",
                SegKind::Spurious => "spurious_retransmission",
                SegKind::KeepAlive => "keepalive",
                SegKind::WindowProbe => "window_probe",
                SegKind::Duplicate => "duplicate",
            },
            frame: e.frame,
        })
        .collect();
    Some(ConnectionTimeline {
        connection: r.id,
        points,
    })
}

/// The analyze table, from running totals and the slowest transactions
/// (see [`report::digest`]): memory stays flat however many connections
/// and transactions there are.
fn run_analyze_table(config: &Config, options: &PassOptions, mut out: Output) -> Result<(), Error> {
    struct Digester {
        digest: report::digest::Digest,
        filters: Vec<Filter>,
    }
    let digester = Digester {
        digest: report::digest::Digest::new(
            config.captures.len() > 1,
            config.top,
            &report_options(config),
        ),
        filters: config.filters.clone(),
    };
    let (digester, summary) = pass(config, options, digester, |d, r| {
        let keep = d.filters.iter().all(|f| f.matches(r));
        d.digest.add(r, keep);
    })?;
    let digest = digester.digest.finish(&summary);
    out.write(table::analyze(&digest, config.top, config.color()).as_bytes())?;
    out.finish()
}

/// The connections or transactions table: every row, made as its
/// connection finishes and spooled ([`report::row_spool`]); the records are
/// not kept, nor the report's objects.
fn run_list_table(config: &Config, options: &PassOptions, mut out: Output) -> Result<(), Error> {
    use report::row_spool::RowSpool;
    enum Spooled {
        Connections(RowSpool<table::ConnectionRow>),
        Transactions(RowSpool<table::TransactionRow>),
    }
    struct Rows {
        spooled: Spooled,
        multi: bool,
        filters: Vec<Filter>,
        error: Option<io::Error>,
    }
    let rows = Rows {
        spooled: if config.view == View::Transactions {
            Spooled::Transactions(RowSpool::default())
        } else {
            Spooled::Connections(RowSpool::default())
        },
        multi: config.captures.len() > 1,
        filters: config.filters.clone(),
        error: None,
    };
    let (rows, summary) = pass(config, options, rows, |rows, r| {
        if rows.error.is_some() || !rows.filters.iter().all(|f| f.matches(r)) {
            return;
        }
        let out = report::record_out_taking(r, rows.multi);
        let added = match &mut rows.spooled {
            Spooled::Transactions(spool) => {
                let txs: Vec<_> = out
                    .transactions
                    .iter()
                    .map(table::transaction_row)
                    .collect();
                spool.add(r.id, &txs)
            }
            Spooled::Connections(spool) => {
                let row = table::connection_row(&out.connection);
                spool.add(r.id, std::slice::from_ref(&row))
            }
        };
        rows.error = added.err();
    })?;
    if let Some(e) = rows.error {
        return Err(out.spool_or_output_err(e));
    }
    // In connection-id order, as in the report.
    let exact = config.exact_table_rows;
    let written = match rows.spooled {
        Spooled::Transactions(spool) => spool
            .finish()
            .and_then(|t| table::write_transactions_table(t, exact, &mut out.w)),
        Spooled::Connections(spool) => {
            let first_us = report::capture_out(&summary).first_us;
            spool
                .finish()
                .and_then(|c| table::write_connections_table(c, first_us, exact, &mut out.w))
        }
    };
    written.map_err(|e| out.spool_or_output_err(e))?;
    out.finish()
}

/// Where the output goes: standard output or a file, buffered.
struct Output {
    path: String,
    w: Box<dyn Write + Send>,
    /// NDJSON lines serialized but not yet written (up to
    /// [`PENDING_LINES_BYTES`]): written in large calls, copied once.
    pending: Vec<u8>,
}

impl Output {
    fn open(path: Option<&str>) -> Result<Output, Error> {
        match path {
            None | Some("-") => Ok(Output {
                path: "<stdout>".into(),
                w: Box::new(BufWriter::with_capacity(1 << 16, io::stdout())),
                pending: Vec::new(),
            }),
            Some(p) => {
                let f = File::create(p).map_err(|source| Error::Output {
                    path: p.to_string(),
                    source,
                })?;
                Ok(Output {
                    path: p.to_string(),
                    w: Box::new(BufWriter::with_capacity(1 << 16, f)),
                    pending: Vec::new(),
                })
            }
        }
    }

    fn err(&self, source: io::Error) -> Error {
        Error::Output {
            path: self.path.clone(),
            source,
        }
    }

    /// As [`Self::err`], unless the error is a spool file's: those are
    /// anonymous, so their directory (TMPDIR) is named.
    fn spool_or_output_err(&self, source: io::Error) -> Error {
        if !report::json::is_spool_error(&source) {
            return self.err(source);
        }
        Error::Output {
            path: format!(
                "temporary file in {} (set TMPDIR elsewhere)",
                std::env::temp_dir().display()
            ),
            source,
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.write_pending()?;
        self.w.write_all(bytes).map_err(|e| self.err(e))
    }

    fn write_pending(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self.w.write_all(&self.pending).map_err(|e| self.err(e));
        self.pending.clear();
        written
    }

    /// `{"type":KIND,` followed by the fields of `data` (an object).
    fn line<T: Serialize>(&mut self, kind: &'static str, data: &T) -> Result<(), Error> {
        // Serializing the struct into memory and splicing the tag in is twice
        // as fast as `#[serde(flatten)]`, which goes through a map.
        let line = &mut self.pending;
        let start = line.len();
        line.extend_from_slice(b"{\"type\":\"");
        line.extend_from_slice(kind.as_bytes());
        line.push(b'"');
        let at = line.len();
        if let Err(e) = serde_json::to_writer(&mut *line, data) {
            line.truncate(start);
            return Err(self.json_err(e));
        }
        match line.get(at..) {
            Some(b"{}") => {
                line.truncate(at);
                line.push(b'}');
            }
            Some([b'{', ..]) => line[at] = b',',
            _ => {
                line.truncate(start);
                return Err(self.err(io::Error::other("an NDJSON line must be an object")));
            }
        }
        line.push(b'\n');
        if self.pending.len() >= PENDING_LINES_BYTES {
            self.write_pending()?;
        }
        Ok(())
    }

    /// As [`Self::line`] for the per-connection records, written by
    /// [`report::to_json`] (the same bytes, several times faster).
    fn record_line<T: report::to_json::JsonObject>(
        &mut self,
        kind: &'static str,
        data: &T,
    ) -> Result<(), Error> {
        let line = &mut self.pending;
        line.extend_from_slice(b"{\"type\":\"");
        line.extend_from_slice(kind.as_bytes());
        line.push(b'"');
        data.json_fields(&mut report::to_json::JsonBuf::compact(line), false);
        line.extend_from_slice(b"}\n");
        if self.pending.len() >= PENDING_LINES_BYTES {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Keeps the I/O error kind (a closed pipe must stay a closed pipe).
    fn json_err(&self, e: serde_json::Error) -> Error {
        match e.io_error_kind() {
            Some(kind) => self.err(io::Error::new(kind, e)),
            None => self.err(io::Error::other(e)),
        }
    }

    fn finish(mut self) -> Result<(), Error> {
        self.write_pending()?;
        self.w.flush().map_err(|e| self.err(e))
    }
}

impl Drop for Output {
    /// Lines already made reach the output even when the run stops on an
    /// error (the error is reported by whoever stopped it).
    fn drop(&mut self) {
        let _ = self.write_pending();
        let _ = self.w.flush();
    }
}

/// NDJSON bytes gathered before a write.
const PENDING_LINES_BYTES: usize = 256 << 10;

/// A progress bar on stderr for long inputs, only when stderr is a terminal.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(config: &Config) -> Progress {
        use std::io::IsTerminal;
        if config.quiet || !io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let total: u64 = config
            .captures
            .iter()
            .filter(|p| *p != "-")
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        // Short inputs finish before a bar would be readable.
        if total < (16 << 20) {
            return Progress { bar: None };
        }
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} {msg} ({eta} left)",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Progress { bar: Some(bar) }
    }

    fn hook(&self) -> Option<pipeline::ProgressHook> {
        let bar = self.bar.clone()?;
        let done_before = std::cell::Cell::new(0u64);
        let current = std::cell::RefCell::new(String::new());
        Some(Rc::new(move |path: &str, bytes: u64, packets: u64| {
            if *current.borrow() != path {
                done_before.set(bar.position());
                *current.borrow_mut() = path.to_string();
            }
            bar.set_position(done_before.get() + bytes);
            let secs = bar.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{packets} packets, {:.0} k/s",
                packets as f64 / secs / 1000.0
            ));
        }))
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Filter {
    /// True when the connection matches.
    pub fn matches(&self, r: &ConnectionRecord) -> bool {
        match self {
            Filter::Connection(id) => r.id == *id,
            Filter::Port(p) => r.client.port() == *p || r.server.port() == *p,
            Filter::Host(h) => {
                let h = h.to_ascii_lowercase();
                r.server.ip().to_string() == h
                    || r.client.ip().to_string() == h
                    || r.transactions.iter().any(|t| {
                        t.host.as_deref().is_some_and(|x| {
                            let x = x.to_ascii_lowercase();
                            x == h || x.split(':').next() == Some(h.as_str())
                        })
                    })
            }
        }
    }
}
