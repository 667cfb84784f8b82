//! Terminal tables (comfy-table), at most 100 columns wide.

use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table, Width};

use super::digest::DigestReport;
use super::model::{ConnectionOut, Report, TransactionOut};

/// Widest a table may be; fits a default terminal with room to spare.
pub const MAX_WIDTH: u16 = 100;

/// No borders, a rule under the header, columns one space apart: the most
/// data per line (comfy-table preset string; see its `presets` module).
const PRESET: &str = "     ──            ";

fn new_table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(PRESET)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(MAX_WIDTH)
        .set_header(headers.iter().copied());
    for col in t.column_iter_mut() {
        col.set_padding((0, 0));
    }
    t
}

/// Keeps endpoint columns wide enough for "255.255.255.255:65535".
fn keep_wide(t: &mut Table, cols: &[usize]) {
    for &c in cols {
        if let Some(col) = t.column_mut(c) {
            col.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(21)));
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

/// The connections table of `rows` (in order); `first_us`: the capture's
/// first timestamp.
pub fn connections_table(rows: Vec<ConnectionRow>, first_us: Option<i64>) -> String {
    let count = rows.len();
    let mut t = new_table(&[
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
    ]);
    for row in rows {
        let mut cells = row.cells;
        cells.insert(3.min(cells.len()), rel_time(row.start_us, first_us));
        t.add_row(cells);
    }
    right_align(&mut t, &[0, 3, 4, 5, 6, 7, 8]);
    keep_wide(&mut t, &[1, 2]);
    format!("{t}\n{count} connections (close: who closed first, c = client, s = server)\n")
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

/// The transactions table of `rows` (in order).
pub fn transactions_table(rows: Vec<TransactionRow>) -> String {
    let count = rows.len();
    let incomplete = rows.iter().filter(|r| r.incomplete).count();
    let mut t = new_table(&[
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
    ]);
    for row in rows {
        t.add_row(row.cells);
    }
    right_align(&mut t, &[0, 1, 5, 6, 7, 8, 9, 10]);
    let mut out = format!("{t}\n{count} transactions");
    if incomplete > 0 {
        out.push_str(&format!(" ({incomplete} incomplete, marked *)"));
    }
    out.push('\n');
    out
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
