//! Terminal tables (comfy-table), at most 100 columns wide.

use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table, Width};

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
    let first = report.capture.first_us;
    for c in &report.connections {
        let rtt = c
            .handshake
            .as_ref()
            .and_then(|h| h.rtt_us)
            .map_or("-".to_string(), |us| format!("{:.1}", us as f64 / 1000.0));
        t.add_row(vec![
            c.id.to_string(),
            c.client.clone(),
            c.server.clone(),
            rel_time(c.start_us, first),
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
        ]);
    }
    right_align(&mut t, &[0, 3, 4, 5, 6, 7, 8]);
    keep_wide(&mut t, &[1, 2]);
    format!(
        "{t}\n{} connections (close: who closed first, c = client, s = server)\n",
        report.connections.len()
    )
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
    for x in &report.transactions {
        let tm = &x.timings_ms;
        let mut status = x.status.map_or("-".to_string(), |s| s.to_string());
        if x.incomplete.is_some() {
            status.push('*');
        }
        let req = x.request_head_bytes.unwrap_or(0) + x.request_body_bytes.unwrap_or(0);
        let resp = x.response_head_bytes.unwrap_or(0) + x.response_body_bytes.unwrap_or(0);
        t.add_row(vec![
            x.id.to_string(),
            x.connection.to_string(),
            x.method.clone().unwrap_or_else(|| "-".into()),
            target(x, 30),
            status,
            format!("{}/{}", fmt_bytes(req), fmt_bytes(resp)),
            fmt_ms(tm.connect),
            fmt_ms(tm.send),
            fmt_ms(tm.wait),
            fmt_ms(tm.receive),
            fmt_ms(tm.total),
        ]);
    }
    right_align(&mut t, &[0, 1, 5, 6, 7, 8, 9, 10]);
    let incomplete = report
        .transactions
        .iter()
        .filter(|x| x.incomplete.is_some())
        .count();
    let mut out = format!("{t}\n{} transactions", report.transactions.len());
    if incomplete > 0 {
        out.push_str(&format!(" ({incomplete} incomplete, marked *)"));
    }
    out.push('\n');
    out
}

/// The capture in one line: what was read and how healthy it is.
pub fn capture_line(report: &Report) -> String {
    let c = &report.capture;
    let span = match (c.first_us, c.last_us) {
        (Some(a), Some(b)) => format!("{:.3} s", (b - a) as f64 / 1e6),
        _ => "empty".to_string(),
    };
    let mut s = format!(
        "{} ({}, {}): {} packets over {}, {} connections, {} transactions",
        c.path,
        c.format,
        c.link_types.join("+"),
        c.packets,
        span,
        report.connections.len(),
        report.transactions.len()
    );
    if let Some(d) = &c.truncated_at {
        s.push_str(&format!(
            "; TRUNCATED at byte {} after frame {}",
            d.offset, d.after_frame
        ));
    }
    s
}

/// Warnings, one line each.
pub fn warnings(report: &Report) -> String {
    let mut s = String::new();
    for w in &report.warnings {
        s.push_str(&format!("warning: {} ×{}: {}\n", w.kind, w.count, w.detail));
    }
    s
}
