//! Terminal tables (comfy-table), at most 100 columns wide.

use std::io::{self, Write};

use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table, Width};
use unicode_width::UnicodeWidthStr;

use super::digest::DigestReport;
use super::model::{ConnectionOut, Report, TransactionOut};
use super::row_spool::{put_cells, take_array, take_cells, SpooledRow, SpooledRows};

/// Widest a table may be; fits a default terminal with room to spare.
pub const MAX_WIDTH: u16 = 100;

/// No borders, a rule under the header, columns one space apart: the most
/// data per line (comfy-table preset string; see its `presets` module).
const PRESET: &str = "     ──            ";

fn new_table(headers: &[&str]) -> Table {
    let mut t = bare_table();
    t.set_header(headers.iter().copied());
    no_padding(&mut t);
    t
}

/// The house style, no columns yet.
fn bare_table() -> Table {
    let mut t = Table::new();
    t.load_preset(PRESET)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(MAX_WIDTH);
    t
}

/// Columns one space apart, nothing else (once the columns exist).
fn no_padding(t: &mut Table) {
    for col in t.column_iter_mut() {
        col.set_padding((0, 0));
    }
}

/// Width of "255.255.255.255:65535".
const WIDE: usize = 21;

/// Keeps endpoint columns wide enough for "255.255.255.255:65535".
fn keep_wide(t: &mut Table, cols: &[usize]) {
    for &c in cols {
        if let Some(col) = t.column_mut(c) {
            col.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(WIDE as u16)));
        }
    }
}

fn right_align(t: &mut Table, cols: &[usize]) {
    for &c in cols {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// Milliseconds with one decimal, or "-" when not applicable.
pub fn fmt_ms(v: f64) -> String {
    if v < 0.0 {
        "-".to_string()
    } else {
        format!("{v:.1}")
    }
}

fn fmt_bytes(n: u64) -> String {
    if n >= 10 * 1024 * 1024 {
        format!("{}M", n / (1024 * 1024))
    } else if n >= 10 * 1024 {
        format!("{}k", n / 1024)
    } else {
        n.to_string()
    }
}

/// Seconds since the capture's first packet, with millisecond precision.
fn rel_time(us: i64, first_us: Option<i64>) -> String {
    let d = us - first_us.unwrap_or(us);
    format!("{}.{:03}", d / 1_000_000, (d % 1_000_000) / 1_000)
}

fn close_str(c: &ConnectionOut) -> String {
    match c.close.by {
        Some(by) => format!("{} {}", c.close.how, &by[..1]),
        None => c.close.how.to_string(),
    }
}

/// One row per connection.
pub fn connections(report: &Report) -> String {
    let rows: Vec<ConnectionRow> = report.connections.iter().map(connection_row).collect();
    connections_table(rows, report.capture.first_us)
}

/// A connection's row of the connections table, made as the connection
/// finishes; its start column waits for the capture's first timestamp.
pub struct ConnectionRow {
    start_us: i64,
    /// Every column but the start.
    cells: Vec<String>,
}

pub fn connection_row(c: &ConnectionOut) -> ConnectionRow {
    let rtt = c
        .handshake
        .as_ref()
        .and_then(|h| h.rtt_us)
        .map_or("-".to_string(), |us| format!("{:.1}", us as f64 / 1000.0));
    ConnectionRow {
        start_us: c.start_us,
        cells: vec![
            c.id.to_string(),
            c.client.clone(),
            c.server.clone(),
            format!("{:.1}", (c.end_us - c.start_us) as f64 / 1000.0),
            rtt,
            format!("{}/{}", c.packets.client, c.packets.server),
            format!(
                "{}/{}",
                fmt_bytes(c.bytes.client),
                fmt_bytes(c.bytes.server)
            ),
            format!("{}/{}", c.retransmissions.client, c.retransmissions.server),
            close_str(c),
        ],
    }
}

/// The connections table's columns.
const CONNECTION_COLUMNS: Columns = Columns {
    headers: &[
        "id",
        "client",
        "server",
        "start s",
        "dur ms",
        "rtt ms",
        "pkts c/s",
        "bytes c/s",
        "retx",
        "close",
    ],
    right: &[0, 3, 4, 5, 6, 7, 8],
    wide: &[1, 2],
};

impl ConnectionRow {
    /// Its cells, the start one made from the capture's first timestamp.
    fn into_cells(self, first_us: Option<i64>) -> Vec<String> {
        let mut cells = self.cells;
        cells.insert(3.min(cells.len()), rel_time(self.start_us, first_us));
        cells
    }
}

impl SpooledRow for ConnectionRow {
    fn encode(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&self.start_us.to_le_bytes());
        put_cells(buf, &self.cells);
    }

    fn decode(bytes: &mut &[u8]) -> Option<ConnectionRow> {
        let start_us = i64::from_le_bytes(take_array(bytes)?);
        let cells = take_cells(bytes)?;
        Some(ConnectionRow { start_us, cells })
    }
}

/// The connections table of `rows` (in order); `first_us`: the capture's
/// first timestamp.
pub fn connections_table(rows: Vec<ConnectionRow>, first_us: Option<i64>) -> String {
    let count = rows.len();
    let cells = rows.into_iter().map(|r| r.into_cells(first_us));
    let t = CONNECTION_COLUMNS.whole(cells);
    format!("{t}\n{}", connections_footer(count))
}

fn connections_footer(count: usize) -> String {
    format!("{count} connections (close: who closed first, c = client, s = server)\n")
}

/// Writes the connections table of spooled rows: as [`connections_table`]
/// up to `exact_rows` rows, longer ones a chunk at a time ([`write_long`]).
pub fn write_connections_table(
    mut rows: SpooledRows<ConnectionRow>,
    first_us: Option<i64>,
    exact_rows: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    if rows.len() <= exact_rows {
        let text = connections_table(rows.collect()?, first_us);
        return out.write_all(text.as_bytes());
    }
    let count = rows.len();
    write_long(
        &CONNECTION_COLUMNS,
        &mut rows,
        |r| r.into_cells(first_us),
        out,
    )?;
    write!(out, "\n{}", connections_footer(count))
}

/// "host/uri", cut to `max` characters with an ellipsis.
fn target(t: &TransactionOut, max: usize) -> String {
    let s = format!(
        "{}{}",
        t.host.as_deref().unwrap_or(""),
        t.uri.as_deref().unwrap_or("?")
    );
    shorten(&s, max)
}

pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let keep: String = s.chars().take(max.saturating_sub(1)).collect();
    format!("{keep}…")
}

/// One row per HTTP transaction.
pub fn transactions(report: &Report) -> String {
    let rows: Vec<TransactionRow> = report.transactions.iter().map(transaction_row).collect();
    transactions_table(rows)
}

/// A transaction's row of the transactions table, made as its connection
/// finishes.
pub struct TransactionRow {
    cells: Vec<String>,
    incomplete: bool,
}

pub fn transaction_row(x: &TransactionOut) -> TransactionRow {
    let tm = &x.timings_ms;
    let mut status = x.status.map_or("-".to_string(), |s| s.to_string());
    if x.incomplete.is_some() {
        status.push('*');
    }
    let req = x.request_head_bytes.unwrap_or(0) + x.request_body_bytes.unwrap_or(0);
    let resp = x.response_head_bytes.unwrap_or(0) + x.response_body_bytes.unwrap_or(0);
    TransactionRow {
        cells: vec![
            x.id.to_string(),
            x.connection.to_string(),
            x.method.as_deref().unwrap_or("-").to_string(),
            target(x, 30),
            status,
            format!("{}/{}", fmt_bytes(req), fmt_bytes(resp)),
            fmt_ms(tm.connect),
            fmt_ms(tm.send),
            fmt_ms(tm.wait),
            fmt_ms(tm.receive),
            fmt_ms(tm.total),
        ],
        incomplete: x.incomplete.is_some(),
    }
}

/// The transactions table's columns.
const TRANSACTION_COLUMNS: Columns = Columns {
    headers: &[
        "id",
        "conn",
        "method",
        "host + uri",
        "st",
        "req/resp B",
        "conn",
        "send",
        "wait",
        "recv",
        "total",
    ],
    right: &[0, 1, 5, 6, 7, 8, 9, 10],
    wide: &[],
};

impl SpooledRow for TransactionRow {
    fn flagged(&self) -> bool {
        self.incomplete
    }

    fn encode(&self, buf: &mut Vec<u8>) {
        buf.push(u8::from(self.incomplete));
        put_cells(buf, &self.cells);
    }

    fn decode(bytes: &mut &[u8]) -> Option<TransactionRow> {
        let [incomplete] = take_array::<1>(bytes)?;
        let cells = take_cells(bytes)?;
        Some(TransactionRow {
            cells,
            incomplete: incomplete != 0,
        })
    }
}

/// The transactions table of `rows` (in order).
pub fn transactions_table(rows: Vec<TransactionRow>) -> String {
    let count = rows.len();
    let incomplete = rows.iter().filter(|r| r.incomplete).count();
    let t = TRANSACTION_COLUMNS.whole(rows.into_iter().map(|r| r.cells));
    format!("{t}\n{}", transactions_footer(count, incomplete))
}

fn transactions_footer(count: usize, incomplete: usize) -> String {
    let mut out = format!("{count} transactions");
    if incomplete > 0 {
        out.push_str(&format!(" ({incomplete} incomplete, marked *)"));
    }
    out.push('\n');
    out
}

/// Writes the transactions table of spooled rows: as
/// [`transactions_table`] up to `exact_rows` rows, longer ones a chunk at a
/// time ([`write_long`]).
pub fn write_transactions_table(
    mut rows: SpooledRows<TransactionRow>,
    exact_rows: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    if rows.len() <= exact_rows {
        let text = transactions_table(rows.collect()?);
        return out.write_all(text.as_bytes());
    }
    let (count, incomplete) = (rows.len(), rows.flagged());
    write_long(&TRANSACTION_COLUMNS, &mut rows, |r| r.cells, out)?;
    write!(out, "\n{}", transactions_footer(count, incomplete))
}

/// Tables longer than this are written a chunk at a time ([`write_long`]);
/// shorter ones are laid out whole by comfy-table.
pub const EXACT_ROWS: usize = 10_000;

/// Rows a long table renders at a time.
const CHUNK_ROWS: usize = 1_000;

/// A list table's columns: headers, the right-aligned ones, and the
/// endpoint columns kept wide enough for "255.255.255.255:65535".
struct Columns {
    headers: &'static [&'static str],
    right: &'static [usize],
    wide: &'static [usize],
}

impl Columns {
    /// The whole table, laid out by comfy-table from every cell.
    fn whole(&self, rows: impl Iterator<Item = Vec<String>>) -> Table {
        let mut t = new_table(self.headers);
        for cells in rows {
            t.add_row(cells);
        }
        right_align(&mut t, self.right);
        keep_wide(&mut t, self.wide);
        t
    }

    /// Some rows of a long table, with the widths fixed.
    fn chunk(&self, header: bool, rows: Vec<Vec<String>>, widths: &[u16]) -> Table {
        let mut t = bare_table();
        if header {
            t.set_header(self.headers.iter().copied());
        }
        for cells in rows {
            t.add_row(cells);
        }
        no_padding(&mut t);
        for (col, &w) in t.column_iter_mut().zip(widths) {
            col.set_constraint(ColumnConstraint::Absolute(Width::Fixed(w)));
        }
        right_align(&mut t, self.right);
        t
    }

    /// Widths for a table laid out a chunk at a time, from each column's
    /// widest cell or header (`widest`): comfy-table's own arrangement of
    /// those maxima. For a table that fits in [`MAX_WIDTH`] that is each
    /// column as wide as its widest cell (endpoint columns at least 21), as
    /// for the whole table; a wider one may wrap other cells than the whole
    /// table would, since comfy-table then looks at every cell's words.
    ///
    /// The arrangement is not public, so it is read off a rendered probe:
    /// one row of cells as wide as each column's widest, without spaces to
    /// wrap at, whose first line is each column's width in `x`s.
    fn fixed_widths(&self, widest: &[usize]) -> Vec<u16> {
        let mut probe = bare_table();
        probe.add_row(widest.iter().enumerate().map(|(i, &w)| {
            // As wide as the column's lower boundary too, so that no
            // padding splits the line.
            let floor = if self.wide.contains(&i) { WIDE } else { 1 };
            "x".repeat(w.max(floor))
        }));
        no_padding(&mut probe);
        keep_wide(&mut probe, self.wide);
        let text = probe.to_string();
        let first = text.lines().next().unwrap_or("");
        let widths: Vec<u16> = first
            .split(' ')
            .map(|run| u16::try_from(run.len()).unwrap_or(u16::MAX))
            .collect();
        if widths.len() == widest.len() && widths.iter().all(|&w| w > 0) {
            widths
        } else {
            // Not a probe line after all: no column narrower than its cells.
            widest
                .iter()
                .map(|&w| u16::try_from(w.max(1)).unwrap_or(u16::MAX))
                .collect()
        }
    }
}

/// Display width of a cell as comfy-table measures it: its widest line.
fn cell_width(cell: &str) -> usize {
    cell.split('\n')
        .map(UnicodeWidthStr::width)
        .max()
        .unwrap_or(0)
}

/// Writes a table too long to lay out whole (comfy-table keeps every cell,
/// some 2.8 kB a row): one pass over the rows for each column's widest
/// cell, then [`CHUNK_ROWS`] rows at a time with the widths that gives
/// fixed. For a table that fits in [`MAX_WIDTH`] the lines are those of
/// the whole table (a test checks it). No trailing newline.
fn write_long<R: SpooledRow>(
    columns: &Columns,
    rows: &mut SpooledRows<R>,
    mut cells: impl FnMut(R) -> Vec<String>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut widest: Vec<usize> = columns.headers.iter().map(|h| cell_width(h)).collect();
    rows.for_each(|r| {
        for (w, c) in widest.iter_mut().zip(cells(r).iter()) {
            *w = (*w).max(cell_width(c));
        }
        Ok(())
    })?;
    let widths = columns.fixed_widths(&widest);
    let mut chunk = Vec::with_capacity(CHUNK_ROWS);
    let mut first = true;
    let mut flush = |chunk: &mut Vec<Vec<String>>, out: &mut dyn Write| -> io::Result<()> {
        let t = columns.chunk(first, std::mem::take(chunk), &widths);
        if !first {
            out.write_all(b"\n")?;
        }
        first = false;
        write!(out, "{t}")
    };
    rows.for_each(|r| {
        chunk.push(cells(r));
        if chunk.len() == CHUNK_ROWS {
            flush(&mut chunk, out)?;
        }
        Ok(())
    })?;
    if !chunk.is_empty() {
        flush(&mut chunk, out)?;
    }
    Ok(())
}

/// The capture in one line: what was read and how healthy it is.
/// The capture's line: `connections` and `transactions` are the numbers in
/// the whole report.
pub fn capture_line(report: &Report, connections: usize, transactions: usize) -> String {
    let c = &report.capture;
    let span = match (c.first_us, c.last_us) {
        (Some(a), Some(b)) => format!("{:.3} s", (b - a) as f64 / 1e6),
        _ => "empty".to_string(),
    };
    let mut s = format!(
        "{} ({}, {}): {} packets over {}, {}, {}",
        c.path,
        c.format,
        c.link_types.join("+"),
        c.packets,
        span,
        plural(connections, "connection"),
        plural(transactions, "transaction")
    );
    if let Some(d) = &c.truncated_at {
        s.push_str(&format!(
            "; TRUNCATED at byte {} after frame {}",
            d.offset, d.after_frame
        ));
    }
    s
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Warnings, one line each.
pub fn warnings(report: &Report) -> String {
    let mut s = String::new();
    for w in &report.warnings {
        let line = format!("warning: {} ×{}: {}", w.kind, w.count, w.detail);
        s.push_str(&wrap(&line, 98, "  "));
        s.push('\n');
    }
    s
}

/// One character per cause for the breakdown bars (legend printed below).
const BAR_CHARS: [char; 15] = [
    'D', 'C', 'S', 'c', 'q', 'n', 'W', 'H', 't', 's', 'L', 'R', 'N', 'A', '?',
];

/// ANSI colors per cause, used only on a terminal.
const BAR_COLORS: [u8; 15] = [95, 94, 91, 37, 36, 34, 33, 35, 32, 92, 31, 93, 41, 45, 90];

fn blame_array(t: &TransactionOut) -> [f64; 15] {
    t.blame_ms.values()
}

/// A bar of `width` cells split by cause (largest remainder).
fn bar(values: &[f64; 15], width: usize, color: bool) -> String {
    let total: f64 = values.iter().sum();
    if total <= 0.0 {
        return " ".repeat(width);
    }
    let mut cells: Vec<(usize, f64, usize)> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let exact = v / total * width as f64;
            (i, exact - exact.floor(), exact.floor() as usize)
        })
        .collect();
    let used: usize = cells.iter().map(|c| c.2).sum();
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by(|a, b| cells[*b].1.total_cmp(&cells[*a].1));
    for &i in order.iter().take(width.saturating_sub(used)) {
        cells[i].2 += 1;
    }
    let mut out = String::new();
    for (i, _, n) in cells {
        if n == 0 {
            continue;
        }
        if color {
            out.push_str(&format!("\x1b[{}m{}\x1b[0m", BAR_COLORS[i], "█".repeat(n)));
        } else {
            out.extend(std::iter::repeat_n(BAR_CHARS[i], n));
        }
    }
    out
}

/// The `analyze` view: quality, where the time went, the slowest
/// transactions with their breakdown, findings and recommendations.
/// The analyze view: `digest.report` holds at least the `top` slowest
/// transactions, the digest counts all of them.
pub fn analyze(digest: &DigestReport, top: usize, color: bool) -> String {
    let report = &digest.report;
    let mut s = wrap(
        &capture_line(report, digest.connections, digest.transactions),
        98,
        "  ",
    );
    s.push('\n');
    let q = &report.summary.quality;
    let mut quality = format!("quality: {}", q.verdict);
    if !q.reasons.is_empty() {
        quality.push_str(&format!(" ({})", q.reasons.join("; ")));
    }
    quality.push_str(&format!("; vantage: {}", q.vantage.replace('_', " ")));
    s.push_str(&wrap(&quality, 98, "  "));
    s.push('\n');
    let total: f64 = report
        .summary
        .time_by_cause
        .iter()
        .map(|c| c.total_ms)
        .sum();
    if digest.transactions == 0 {
        s.push_str("\nno HTTP transactions found\n");
    } else {
        s.push_str(&format!(
            "\nWhere the time went ({} transactions, {:.1} ms in all):\n",
            digest.transactions, total
        ));
        let mut causes: Vec<_> = report
            .summary
            .time_by_cause
            .iter()
            .enumerate()
            .filter(|(_, c)| c.total_ms > 0.0)
            .collect();
        causes.sort_by(|a, b| b.1.total_ms.total_cmp(&a.1.total_ms));
        for (i, c) in causes {
            let share = if total > 0.0 { c.total_ms / total } else { 0.0 };
            let cells = (share * 40.0).round() as usize;
            let glyph = if color {
                format!("\x1b[{}m{}\x1b[0m", BAR_COLORS[i], "█".repeat(cells))
            } else {
                BAR_CHARS[i].to_string().repeat(cells)
            };
            s.push_str(&format!(
                "  {} {:<15} {:>10.1} ms {:>5.1}%  {}\n",
                BAR_CHARS[i],
                c.cause,
                c.total_ms,
                share * 100.0,
                glyph
            ));
        }
        let mut slow: Vec<&TransactionOut> = report.transactions.iter().collect();
        slow.sort_by(|a, b| {
            b.timings_ms
                .total
                .total_cmp(&a.timings_ms.total)
                .then(a.id.cmp(&b.id))
        });
        s.push_str(&format!(
            "\nSlowest transactions (top {}):\n",
            top.min(digest.transactions)
        ));
        for t in slow.into_iter().take(top) {
            let status = t.status.map_or("-".to_string(), |c| c.to_string());
            s.push_str(&format!(
                "  {:>4} {:<6} {:<26} {:>3} {:>9.1} ms {} {}\n",
                t.id,
                shorten(t.method.as_deref().unwrap_or("-"), 6),
                target(t, 26),
                status,
                t.timings_ms.total,
                bar(&blame_array(t), 24, color),
                t.dominant_cause
            ));
        }
        s.push_str("  legend: ");
        let legend: Vec<String> = crate::blame::Cause::ALL
            .iter()
            .map(|c| format!("{}={}", BAR_CHARS[c.index()], c.key()))
            .collect();
        s.push_str(&wrap(&legend.join(" "), 88, "          "));
        s.push('\n');
    }
    if !report.summary.top_findings.is_empty() {
        s.push_str("\nFindings (largest first):\n");
        for f in &report.summary.top_findings {
            let line = format!(
                "{} [{}] conn {}: {}",
                f.kind,
                f.confidence,
                f.connection.map_or("-".to_string(), |c| c.to_string()),
                f.detail
            );
            s.push_str("  - ");
            s.push_str(&wrap(&line, 94, "    "));
            s.push('\n');
        }
    }
    if !report.summary.recommendations.is_empty() {
        s.push_str("\nRecommendations (by estimated saving):\n");
        for (i, r) in report.summary.recommendations.iter().take(10).enumerate() {
            s.push_str(&format!("  {}. ", i + 1));
            s.push_str(&wrap(&r.text, 94, "     "));
            s.push('\n');
        }
    }
    let w = warnings(report);
    if !w.is_empty() {
        s.push('\n');
        s.push_str(&w);
    }
    s
}

/// Wraps at word boundaries to `width` columns, indenting continuation lines.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = 0usize;
    for word in text.split(' ') {
        let n = word.chars().count();
        if line > 0 && line + 1 + n > width {
            out.push('\n');
            out.push_str(indent);
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::row_spool::RowSpool;

    fn tx_row(i: usize, method: &str) -> TransactionRow {
        let incomplete = i % 7 == 0;
        TransactionRow {
            cells: vec![
                i.to_string(),
                (i / 3).to_string(),
                method.to_string(),
                format!("host{}/{}", i % 13, "p".repeat(i % 17)),
                if incomplete { "200*" } else { "200" }.to_string(),
                format!("{}/{}", i % 500, i * 37 % 100_000),
                fmt_ms((i % 1000) as f64 / 10.0),
                "0.0".to_string(),
                fmt_ms(i as f64),
                "-".to_string(),
                fmt_ms(i as f64 * 1.5),
            ],
            incomplete,
        }
    }

    /// Rows spooled as the command line does, several connections' rows
    /// each, through a temporary file.
    fn spooled<R: SpooledRow>(rows: Vec<R>) -> SpooledRows<R> {
        let mut spool = RowSpool::with_memory(64);
        let mut rows = rows.into_iter().peekable();
        let mut id = 0;
        while rows.peek().is_some() {
            let piece: Vec<R> = rows.by_ref().take(1 + id as usize % 4).collect();
            spool.add(id, &piece).unwrap();
            id += 1;
        }
        spool.finish().unwrap()
    }

    fn write(f: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// A table that fits in 100 columns comes out of the chunked writer
    /// with the bytes comfy-table gives the whole table, across chunks.
    #[test]
    fn a_long_table_that_fits_is_the_whole_table() {
        let n = 2 * CHUNK_ROWS + 345;
        let rows = || (0..n).map(|i| tx_row(i, ["GET", "POST", "OPTIONS"][i % 3]));
        let whole = transactions_table(rows().collect());
        assert_eq!(
            whole.lines().count(),
            n + 3,
            "the test table must fit:\n{}",
            &whole[..whole.len().min(3000)]
        );
        let long = write(|out| write_transactions_table(spooled(rows().collect()), 0, out));
        assert_eq!(long, whole);
        assert!(long.ends_with(&format!("{n} transactions (335 incomplete, marked *)\n")));
        // Up to the limit, the same function lays the table out whole.
        let exact = write(|out| write_transactions_table(spooled(rows().collect()), n, out));
        assert_eq!(exact, whole);

        let conns = || {
            (0..n).map(|i| ConnectionRow {
                start_us: 1_000_000 + i as i64 * 7_919,
                cells: (0..9).map(|c| format!("{}", i * (c + 1) % 100)).collect(),
            })
        };
        let whole = connections_table(conns().collect(), Some(1_000_000));
        assert_eq!(
            whole.lines().count(),
            n + 3,
            "the test table must fit:\n{}",
            &whole[..whole.len().min(3000)]
        );
        let long = write(|out| {
            write_connections_table(spooled(conns().collect()), Some(1_000_000), 0, out)
        });
        assert_eq!(long, whole);
    }

    /// A table too wide for 100 columns is narrowed and wrapped as
    /// comfy-table arranges its widest cells: every line still fits, the
    /// header and its rule come once, and every row is there.
    #[test]
    fn a_long_table_too_wide_still_fits_and_keeps_every_row() {
        let n = CHUNK_ROWS + 10;
        let method = "M".repeat(40);
        let rows: Vec<TransactionRow> = (0..n).map(|i| tx_row(i, &method)).collect();
        let widest = TRANSACTION_COLUMNS.fixed_widths(&{
            let mut w: Vec<usize> = TRANSACTION_COLUMNS
                .headers
                .iter()
                .map(|h| h.len())
                .collect();
            for r in &rows {
                for (w, c) in w.iter_mut().zip(&r.cells) {
                    *w = (*w).max(cell_width(c));
                }
            }
            w
        });
        let sum: usize = widest.iter().map(|&w| usize::from(w)).sum();
        assert!(
            sum + widest.len() - 1 <= usize::from(MAX_WIDTH),
            "{widest:?}"
        );
        let long = write(|out| write_transactions_table(spooled(rows), 0, out));
        for line in long.lines() {
            assert!(
                UnicodeWidthStr::width(line) <= usize::from(MAX_WIDTH),
                "{line}"
            );
        }
        assert_eq!(long.matches("host + uri").count(), 1);
        assert_eq!(long.lines().filter(|l| l.starts_with('─')).count(), 1);
        // Every row's method is there, wrapped.
        assert_eq!(long.matches('M').count(), n * 40);
        assert!(long.ends_with(&format!("{n} transactions (145 incomplete, marked *)\n")));
    }

    /// The width probe reads comfy-table's arrangement: each column's
    /// widest cell when they fit, endpoint columns at least 21.
    #[test]
    fn fixed_widths_are_the_maxima_when_the_table_fits() {
        let widest = [2, 14, 19, 7, 6, 6, 8, 9, 4, 5];
        assert_eq!(
            CONNECTION_COLUMNS.fixed_widths(&widest),
            [2, 21, 21, 7, 6, 6, 8, 9, 4, 5]
        );
    }
}
