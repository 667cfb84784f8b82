//! The HTML report: one self-contained page (inline CSS, JavaScript and SVG,
//! no network access, opens from disk).
//!
//! The parts that are small and fixed — capture summary, quality, warnings,
//! time by cause, recommendations, top findings, the legend — are rendered
//! here as static HTML, so they read without JavaScript. The parts that grow
//! with the capture — the waterfall of every transaction, the time–sequence
//! graph of a chosen connection, the full findings list — are drawn by
//! `html/report.js` from one compact JSON blob: a DOM node per transaction
//! would make a 10,000-transaction page slow and large, while the blob costs
//! about 100 bytes per transaction and the script renders only the rows on
//! screen.
//!
//! The blob is bounded (see [`Budget`]): timeline points, finding details and
//! URIs are sampled or clipped so a large capture still gives a file of a few
//! megabytes; the page says when it left something out. Output is
//! deterministic: no clocks, no hash-ordered iteration.
//!
//! `docs/html.md` describes the page; the blob layout is documented at the
//! top of `html/report.js`, next to the code that reads it.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde::Serialize;

use crate::report::model::{BlameMs, FindingOut, Report, TransactionOut};
use crate::report::strings::StringTable;
use crate::report::LeftOut;

/// Per connection, the packets for the time–sequence graph (the lead fills it
/// from the internal timeline).
pub struct ConnectionTimeline {
    pub connection: u32,
    pub points: Vec<SeqPoint>,
}

/// One segment for the time–sequence graph.
pub struct SeqPoint {
    pub t_us: i64,
    /// 0 client, 1 server: the side that sent the segment.
    pub side: u8,
    /// Payload as stream offsets `[seq_start, seq_end)` of the sender's direction.
    pub seq_start: u64,
    pub seq_end: u64,
    /// Cumulative ACK, as a stream offset of the other direction.
    pub ack: Option<u64>,
    /// Receive window the sender advertised, in bytes (scaled).
    pub window: u64,
    /// "new", "retransmission", "fast_retransmission",
    /// "spurious_retransmission", "out_of_order", "control", "keepalive",
    /// "window_probe", "duplicate".
    pub kind: &'static str,
    pub frame: u64,
}

const CSS: &str = include_str!("html/report.css");
const JS: &str = include_str!("html/report.js");

/// Cause keys in `blame_ms` order, their labels, and their colors. The
/// palette groups related causes in one hue family (round trips blue, loss
/// red, transfer green…) so the chart reads at a glance; loss and unexplained
/// also get a texture in the CSS so they stay distinct without color vision.
const CAUSES: [(&str, &str, &str); 15] = [
    ("dns", "DNS", "#2f5e8e"),
    ("connect_rtt", "Connect (RTT)", "#4e79a7"),
    ("syn_retransmit", "SYN retransmit", "#ff9d9a"),
    ("client", "Client", "#b07aa1"),
    ("request_send", "Request send", "#d4a6c8"),
    ("network_rtt", "Network RTT", "#a0cbe8"),
    ("server", "Server", "#f28e2b"),
    ("head_of_line", "Head-of-line", "#edc948"),
    ("transfer", "Transfer", "#59a14f"),
    ("slow_start", "Slow start", "#8cd17d"),
    ("loss_recovery", "Loss recovery", "#e15759"),
    ("receive_window", "Receive window", "#9d7660"),
    ("nagle", "Nagle", "#499894"),
    ("delayed_ack", "Delayed ACK", "#86bcb6"),
    ("unexplained", "Unexplained", "#bab0ac"),
];

/// Order in which a bar stacks its cause segments: roughly the order the
/// causes happen in a transaction (the blame gives totals, not positions).
const STACK_ORDER: [usize; 15] = [0, 2, 1, 3, 4, 5, 7, 6, 8, 9, 10, 11, 12, 13, 14];

/// Limits that keep the page small; see [`render`] for how they tighten.
#[derive(Clone, Copy, Debug)]
struct Budget {
    /// Time–sequence points over all connections.
    points: usize,
    /// Points of one connection.
    points_per_connection: usize,
    /// Below this share a connection gets no graph rather than a useless one.
    min_points: usize,
    /// Bytes of finding `detail` text (longest findings first).
    detail_bytes: usize,
    /// Characters of one URI.
    uri_chars: usize,
    /// Characters of one finding detail.
    detail_chars: usize,
    /// Stall marks over all connections.
    stalls: usize,
}

const BUDGETS: [Budget; 3] = [
    Budget {
        points: 40_000,
        points_per_connection: 15_000,
        min_points: 300,
        detail_bytes: 1_000_000,
        uri_chars: 300,
        detail_chars: 400,
        stalls: 20_000,
    },
    Budget {
        points: 15_000,
        points_per_connection: 8_000,
        min_points: 300,
        detail_bytes: 200_000,
        uri_chars: 120,
        detail_chars: 300,
        stalls: 5_000,
    },
    Budget {
        points: 0,
        points_per_connection: 0,
        min_points: 1,
        detail_bytes: 0,
        uri_chars: 80,
        detail_chars: 0,
        stalls: 0,
    },
];

/// The command line puts at most this many connections and transactions on
/// a page (those with the lowest ids; `report::ReportBuilder`), and the
/// page says how many it left out.
///
/// Source: a byte budget. The page stays under the 5 MiB it is meant to
/// open with in a browser (`scripts/html-browser-test.sh` checks it): with
/// their connections and findings, transactions take 140 to 230 bytes of
/// page each (big.pcap's first 25,000 made 5.7 MB). Building the page
/// holds a few KB per transaction (the report objects, then the rows and
/// the data text): about 120 MiB in all. Trade-off: a larger capture's page
/// shows its first part only (before, a 1 GB capture took 1.3 GiB to make a
/// 77 MB page, and a SYN flood of a million connections 1.5 GiB).
pub const MAX_CONNECTIONS: usize = 10_000;
pub const MAX_TRANSACTIONS: usize = 20_000;

/// The data blob past which a tighter [`Budget`] is tried (the static part
/// and the script add well under 100 kB).
const BLOB_TARGET_BYTES: usize = 4_400_000;

/// Renders the report as one self-contained HTML page.
pub fn render(report: &Report, timelines: &[ConnectionTimeline]) -> String {
    render_with(report, timelines, &LeftOut::default())
}

/// As [`render`], for a report that [`MAX_CONNECTIONS`] and
/// [`MAX_TRANSACTIONS`] cut short: the page says what `left_out` counts.
pub fn render_with(
    report: &Report,
    timelines: &[ConnectionTimeline],
    left_out: &LeftOut,
) -> String {
    let mut blob = String::new();
    for budget in BUDGETS {
        // The larger blob goes before the next is built.
        drop(std::mem::take(&mut blob));
        blob = data_blob(report, timelines, &budget);
        if blob.len() <= BLOB_TARGET_BYTES {
            break;
        }
    }
    page(report, &blob, left_out)
}

// ---------------------------------------------------------------- the page

/// Appends formatted text to a String (writing to a String cannot fail).
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {
        let _ = write!($out, $($arg)*);
    };
}

fn page(report: &Report, blob: &str, left_out: &LeftOut) -> String {
    let mut o = String::with_capacity(blob.len() + CSS.len() + JS.len() + 64 * 1024);
    let title = format!("wireblame — {}", file_name(&report.capture.path));
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    o.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // No network access: the page may hold hostile URIs from the capture, and
    // this policy keeps any injected markup from loading anything.
    o.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n",
    );
    w!(o, "<title>{}</title>\n<style>\n", esc(&title));
    o.push_str(CSS);
    o.push_str(&cause_css());
    o.push_str("</style>\n</head>\n<body>\n");
    // First in the body so that errors in the main script are caught too.
    o.push_str("<div id=\"errors\" role=\"alert\" hidden></div>\n");
    o.push_str(
        "<script>(function(){var box=document.getElementById('errors');\
         function add(m){box.hidden=false;var d=document.createElement('div');\
         d.textContent=String(m);box.appendChild(d);}\
         window.addEventListener('error',function(e){add('Error: '+(e.message||e.error));});\
         window.addEventListener('unhandledrejection',function(e){add('Unhandled rejection: '+e.reason);});\
         var ce=console.error;console.error=function(){add(Array.prototype.join.call(arguments,' '));\
         ce.apply(console,arguments);};window.wbError=add;})();</script>\n",
    );
    header(&mut o, report);
    o.push_str("<main>\n");
    summary_cards(&mut o, report, left_out);
    o.push_str("<div class=\"grid2\">\n");
    time_by_cause(&mut o, report);
    o.push_str("<div class=\"col\">\n");
    recommendations(&mut o, report);
    quality(&mut o, report);
    o.push_str("</div>\n</div>\n");
    waterfall_shell(&mut o, report, left_out);
    connection_shell(&mut o);
    top_findings(&mut o, report);
    findings_shell(&mut o, report, left_out);
    o.push_str("</main>\n");
    w!(
        o,
        "<footer>Generated by {} {} · schema {} · all times are from the capture's clock</footer>\n",
        esc(report.tool.name),
        esc(&report.tool.version),
        report.schema_version
    );
    o.push_str("<div id=\"tip\" class=\"tip\" hidden></div>\n");
    o.push_str("<script type=\"application/json\" id=\"data\">");
    o.push_str(blob);
    o.push_str("</script>\n<script>\n");
    o.push_str(JS);
    o.push_str("</script>\n</body>\n</html>\n");
    o
}

fn cause_css() -> String {
    let mut o = String::new();
    for (i, (_, _, color)) in CAUSES.iter().enumerate() {
        w!(
            o,
            ".c{i}{{background-color:{color}}}.f{i}{{fill:{color}}}.s{i}{{stroke:{color}}}\n"
        );
    }
    // Textures for the causes that matter most to tell apart (loss in red
    // next to transfer in green is the classic red–green confusion).
    o.push_str(
        ".c2,.c10{background-image:repeating-linear-gradient(135deg,rgba(255,255,255,.45) 0 2px,transparent 2px 5px)}\n\
         .c14{background-image:repeating-linear-gradient(90deg,rgba(255,255,255,.55) 0 1px,transparent 1px 4px)}\n",
    );
    o
}

fn header(o: &mut String, r: &Report) {
    let c = &r.capture;
    o.push_str("<header>\n<div class=\"brand\">wireblame <span>report</span></div>\n");
    w!(
        o,
        "<h1 title=\"{0}\">{0}</h1>\n<p class=\"meta\">",
        esc(&c.path)
    );
    let mut parts: Vec<String> = Vec::new();
    parts.push(format!(
        "{}{}",
        c.format,
        if c.compressed { " (gzip)" } else { "" }
    ));
    if !c.link_types.is_empty() {
        parts.push(c.link_types.join(", "));
    }
    if let Some(first) = c.first_us {
        parts.push(format!("starts {}", utc(first)));
    }
    parts.push(format!("{} v{}", r.tool.name, r.tool.version));
    let joined: Vec<String> = parts.iter().map(|p| esc(p).into_owned()).collect();
    o.push_str(&joined.join(" · "));
    o.push_str("</p>\n</header>\n");
}

fn summary_cards(o: &mut String, r: &Report, left_out: &LeftOut) {
    let c = &r.capture;
    let s = &r.summary;
    let duration = match (c.first_us, c.last_us) {
        (Some(a), Some(b)) => fmt_us(b - a),
        _ => "—".to_string(),
    };
    let listed_ms: f64 = r.transactions.iter().map(|t| t.timings_ms.total).sum();
    let total_ms = listed_ms + left_out.transaction_ms;
    let q = &s.quality;
    o.push_str("<section class=\"cards\" aria-label=\"Capture summary\">\n");
    let mut card = |label: &str, value: &str, sub: &str, class: &str| {
        w!(
            o,
            "<div class=\"card {class}\"><div class=\"k\">{}</div><div class=\"v\">{}</div><div class=\"sub\">{}</div></div>\n",
            esc(label),
            esc(value),
            esc(sub)
        );
    };
    card(
        "Capture",
        &duration,
        &format!("{} packets · {}", group(c.packets), fmt_bytes(c.bytes)),
        "",
    );
    card(
        "Connections",
        &group(s.connections),
        &format!(
            "{} HTTP · {} TLS · peak {} open",
            group(s.http_connections),
            group(s.tls_connections),
            group(s.peak_live_connections)
        ),
        "",
    );
    card(
        "Transactions",
        &group(s.transactions),
        &format!(
            "{} of transaction time",
            fmt_us((total_ms * 1000.0).round() as i64)
        ),
        "",
    );
    let dominant = s
        .time_by_cause
        .iter()
        .filter(|c| c.total_ms > 0.0)
        .max_by(|a, b| a.total_ms.total_cmp(&b.total_ms));
    match dominant {
        Some(d) => card(
            "Most time",
            cause_label(d.cause),
            &format!(
                "{} ({})",
                fmt_us((d.total_ms * 1000.0).round() as i64),
                pct(d.total_ms, total_ms)
            ),
            "",
        ),
        None => card("Most time", "—", "no transaction time", ""),
    }
    card(
        "Capture quality",
        q.verdict,
        &format!("vantage {}", q.vantage.replace('_', " ")),
        &format!("q-{}", q.verdict),
    );
    o.push_str("</section>\n");
}

fn quality(o: &mut String, r: &Report) {
    let q = &r.summary.quality;
    o.push_str("<section class=\"panel\" id=\"quality\">\n<h2>Capture quality</h2>\n");
    w!(
        o,
        "<p><span class=\"badge q-{0}\">{0}</span> ",
        esc(q.verdict)
    );
    if q.reasons.is_empty() {
        o.push_str("Every connection's handshake was captured and nothing was lost or damaged.");
    }
    o.push_str("</p>\n");
    if !q.reasons.is_empty() {
        o.push_str("<ul class=\"reasons\">");
        for reason in &q.reasons {
            w!(o, "<li>{}</li>", esc(reason));
        }
        o.push_str("</ul>\n");
    }
    o.push_str("<dl class=\"facts\">");
    let mut fact = |k: &str, v: String| {
        w!(o, "<div><dt>{}</dt><dd>{}</dd></div>", esc(k), esc(&v));
    };
    fact("Vantage", q.vantage.replace('_', " "));
    fact(
        "Handshakes seen",
        format!(
            "{} of {}",
            group(q.handshakes_seen),
            group(r.summary.connections)
        ),
    );
    fact("Capture loss", fmt_bytes(q.capture_loss_bytes));
    fact("Bytes not captured", fmt_bytes(q.gap_bytes));
    fact("Frames not analyzed", group(q.frames_not_analyzed));
    fact(
        "File",
        if q.truncated { "cut short" } else { "complete" }.to_string(),
    );
    o.push_str("</dl>\n");
    if let Some(d) = &r.capture.truncated_at {
        w!(
            o,
            "<p class=\"note\">Reading stopped at byte {} of {} after frame {}: {}</p>\n",
            d.offset,
            esc(&d.path),
            d.after_frame,
            esc(&d.detail)
        );
    }
    if !r.warnings.is_empty() {
        w!(
            o,
            "<details><summary>Warnings ({})</summary>\n<table class=\"list\"><thead><tr><th>Kind</th><th class=\"num\">Count</th><th>First occurrence</th></tr></thead><tbody>\n",
            r.warnings.len()
        );
        for wn in &r.warnings {
            w!(
                o,
                "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td>{}</td></tr>\n",
                esc(&wn.kind),
                group(wn.count),
                esc(&clip(&wn.detail, 400))
            );
        }
        o.push_str("</tbody></table></details>\n");
    }
    o.push_str("</section>\n");
}

fn time_by_cause(o: &mut String, r: &Report) {
    let rows: Vec<(usize, &crate::report::model::CauseTotal)> = r
        .summary
        .time_by_cause
        .iter()
        .filter_map(|c| cause_index(c.cause).map(|i| (i, c)))
        .collect();
    let total: f64 = rows.iter().map(|(_, c)| c.total_ms).sum();
    let max = rows.iter().map(|(_, c)| c.total_ms).fold(0.0, f64::max);
    o.push_str("<section class=\"panel\" id=\"causes\">\n<h2>Time by cause</h2>\n");
    if total <= 0.0 {
        o.push_str("<p class=\"empty\">No transaction time to attribute.</p>\n</section>\n");
        return;
    }
    w!(
        o,
        "<p class=\"lead\">{} of transaction time over {} transactions, partitioned by cause.</p>\n",
        fmt_us((total * 1000.0).round() as i64),
        group(r.summary.transactions)
    );
    // The 100% stack: the shares in one glance, in the waterfall's order.
    o.push_str(
        "<div class=\"stack\" role=\"img\" aria-label=\"Share of transaction time by cause\">",
    );
    for i in STACK_ORDER {
        if let Some((_, c)) = rows.iter().find(|(j, _)| *j == i) {
            if c.total_ms > 0.0 {
                w!(
                    o,
                    "<i class=\"c{i}\" style=\"width:{:.3}%\" title=\"{}: {} ({})\"></i>",
                    c.total_ms / total * 100.0,
                    CAUSES[i].1,
                    fmt_us((c.total_ms * 1000.0).round() as i64),
                    pct(c.total_ms, total)
                );
            }
        }
    }
    o.push_str("</div>\n");
    let mut sorted: Vec<&(usize, &crate::report::model::CauseTotal)> =
        rows.iter().filter(|(_, c)| c.total_ms > 0.0).collect();
    sorted.sort_by(|a, b| b.1.total_ms.total_cmp(&a.1.total_ms).then(a.0.cmp(&b.0)));
    o.push_str(
        "<table class=\"causes\"><thead><tr><th>Cause</th><th class=\"num\">Total</th><th class=\"num\">Share</th>\
         <th class=\"barcol\"><span class=\"sr\">Bar</span></th><th class=\"num\" title=\"Median over all transactions\">p50</th>\
         <th class=\"num\">p90</th><th class=\"num\">p99</th><th class=\"num\" title=\"Transactions with some time in this cause\">Tx</th></tr></thead><tbody>\n",
    );
    for (i, c) in sorted {
        let ms = |v: f64| fmt_us((v * 1000.0).round() as i64);
        w!(
            o,
            "<tr><td><span class=\"sw c{i}\"></span>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"barcol\"><div class=\"hbar\"><i class=\"c{i}\" style=\"width:{:.2}%\"></i></div></td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
            CAUSES[*i].1,
            ms(c.total_ms),
            pct(c.total_ms, total),
            if max > 0.0 { (c.total_ms / max * 100.0).max(0.5) } else { 0.0 },
            ms(c.p50_ms),
            ms(c.p90_ms),
            ms(c.p99_ms),
            group(c.transactions)
        );
    }
    o.push_str("</tbody></table>\n");
    let zero: Vec<&str> = rows
        .iter()
        .filter(|(_, c)| c.total_ms <= 0.0)
        .map(|(i, _)| CAUSES[*i].1)
        .collect();
    if !zero.is_empty() {
        w!(
            o,
            "<p class=\"note\">No time: {}.</p>\n",
            esc(&zero.join(", "))
        );
    }
    o.push_str("</section>\n");
}

fn recommendations(o: &mut String, r: &Report) {
    let recs = &r.summary.recommendations;
    o.push_str("<section class=\"panel\" id=\"recommendations\">\n<h2>Recommendations</h2>\n");
    if recs.is_empty() {
        o.push_str("<p class=\"empty\">No change to recommend: no finding had a fix with an estimated saving.</p>\n");
    } else {
        // The first few are what a reader acts on; the rest stay one click
        // away so the panel does not outgrow the chart beside it.
        const SHOWN: usize = 5;
        let item = |o: &mut String, rec: &crate::report::model::Recommendation| {
            let saving = if rec.saving_ms > 0.0 {
                format!(
                    "saves ≈ <b>{}</b>",
                    fmt_us((rec.saving_ms * 1000.0).round() as i64)
                )
            } else {
                "no saving estimate".to_string()
            };
            w!(
                o,
                "<li><div class=\"rt\">{}</div><div class=\"rm\"><code>{}</code> · {} × · {saving}</div></li>\n",
                esc(&rec.text),
                esc(&rec.kind),
                group(rec.occurrences)
            );
        };
        o.push_str("<ol class=\"recs\">\n");
        for rec in recs.iter().take(SHOWN) {
            item(o, rec);
        }
        o.push_str("</ol>\n");
        if recs.len() > SHOWN {
            w!(
                o,
                "<details><summary>{} more</summary><ol class=\"recs\" start=\"{}\">\n",
                recs.len() - SHOWN,
                SHOWN + 1
            );
            for rec in recs.iter().skip(SHOWN) {
                item(o, rec);
            }
            o.push_str("</ol></details>\n");
        }
    }
    o.push_str("</section>\n");
}

fn top_findings(o: &mut String, r: &Report) {
    let top = &r.summary.top_findings;
    o.push_str("<section class=\"panel\" id=\"top-findings\">\n<h2>Top findings</h2>\n");
    if top.is_empty() {
        o.push_str("<p class=\"empty\">No finding of a millisecond or more.</p>\n</section>\n");
        return;
    }
    o.push_str(
        "<table class=\"list\"><thead><tr><th>Finding</th><th class=\"num\">At</th><th class=\"num\">Duration</th>\
         <th>Where</th><th>Frames</th><th>Confidence</th><th>Evidence</th></tr></thead><tbody>\n",
    );
    let t0 = time_origin(r);
    for f in top {
        // A grey swatch for findings without a cause keeps the names aligned.
        let cause = finding_cause(f.kind)
            .map_or("<span class=\"sw sw0\"></span>".to_string(), |i| {
                format!("<span class=\"sw c{i}\"></span>")
            });
        w!(
            o,
            "<tr><td class=\"nowrap\">{cause}<code>{}</code></td><td class=\"num\">+{}</td><td class=\"num\">{}</td>\
             <td class=\"nowrap\">{}</td><td class=\"frames\">{}</td><td>{}</td><td>{}{}</td></tr>\n",
            esc(f.kind),
            fmt_us(f.start_us - t0),
            fmt_us(f.duration_us),
            where_link(f),
            esc(&frames_text(&f.frames)),
            esc(f.confidence),
            esc(&clip(&f.detail, 600)),
            f.recommendation
                .as_ref()
                .map(|r| format!("<div class=\"rec\">→ {}</div>", esc(r)))
                .unwrap_or_default()
        );
    }
    o.push_str("</tbody></table>\n</section>\n");
}

/// "conn 3 · tx 7" as links the script turns into selections.
fn where_link(f: &FindingOut) -> String {
    let mut s = String::new();
    if let Some(c) = f.connection {
        w!(s, "<a href=\"#connection\" data-conn=\"{c}\">conn {c}</a>");
    }
    if let Some(t) = f.transaction {
        if !s.is_empty() {
            s.push_str(" · ");
        }
        w!(s, "<a href=\"#waterfall\" data-tx=\"{t}\">tx {t}</a>");
    }
    if s.is_empty() {
        s.push('—');
    }
    s
}

fn legend(o: &mut String, r: &Report) {
    // Only causes with time appear, so the legend explains what is drawn.
    let used: Vec<usize> = STACK_ORDER
        .iter()
        .copied()
        .filter(|i| {
            r.summary
                .time_by_cause
                .iter()
                .any(|c| c.cause == CAUSES[*i].0 && c.total_ms > 0.0)
        })
        .collect();
    o.push_str("<div class=\"legend\" aria-label=\"Cause colors\">");
    for i in used {
        w!(
            o,
            "<span title=\"{}\"><i class=\"sw c{i}\"></i>{}</span>",
            CAUSES[i].0,
            CAUSES[i].1
        );
    }
    o.push_str("</div>\n");
}

fn waterfall_shell(o: &mut String, r: &Report, left_out: &LeftOut) {
    o.push_str("<section class=\"panel\" id=\"waterfall\">\n<div class=\"ph\"><h2>Waterfall</h2>");
    o.push_str(
        "<div class=\"tools\"><input id=\"wf-filter\" type=\"search\" placeholder=\"Filter: URI, host, status, cause, conn 3…\" aria-label=\"Filter transactions\">\
         <select id=\"wf-order\" aria-label=\"Order\"><option value=\"conn\">Grouped by connection</option><option value=\"slow\">Slowest first</option><option value=\"start\">By start time</option></select>\
         <button id=\"wf-zoomsel\" type=\"button\" title=\"Zoom the time axis to the selected connection\">Zoom to connection</button>\
         <button id=\"wf-reset\" type=\"button\" disabled>Reset zoom</button></div></div>\n",
    );
    o.push_str("<p class=\"hint\">Each bar is one transaction on a shared time axis, split by cause. Hover a bar for milliseconds and evidence frames; click a row to open its connection's time–sequence graph; drag across the time axis to zoom.</p>\n");
    if left_out.connections > 0 {
        w!(
            o,
            "<p class=\"note\" id=\"left-out\">This page lists the first {} (by id) and their {}. Another {}, with {} and {}, are left out to keep the page and the memory it takes bounded (at most {} and {}); the summary above counts them all, and the JSON report lists them.</p>\n",
            counted(r.connections.len() as u64, "connection"),
            counted(r.transactions.len() as u64, "transaction"),
            counted(left_out.connections, "connection"),
            counted(left_out.transactions, "transaction"),
            counted(left_out.findings, "finding"),
            counted(MAX_CONNECTIONS as u64, "connection"),
            counted(MAX_TRANSACTIONS as u64, "transaction")
        );
    }
    legend(o, r);
    o.push_str(
        "<div class=\"wf\" id=\"wf\"><div class=\"wf-head\"><div class=\"wf-lbl\">Connection / request</div>\
         <div class=\"wf-dur\">Time</div><div class=\"wf-axis\" id=\"wf-axis\" title=\"Drag to zoom; double-click to reset\"></div></div>\
         <div class=\"wf-scroll\" id=\"wf-scroll\" tabindex=\"0\"><div class=\"wf-inner\" id=\"wf-inner\"></div></div></div>\n",
    );
    o.push_str("<p class=\"note\" id=\"wf-status\"></p>\n");
    o.push_str("<noscript><p class=\"empty\">The waterfall, the time–sequence graphs and the findings list need JavaScript.</p></noscript>\n");
    o.push_str("</section>\n");
}

fn connection_shell(o: &mut String) {
    o.push_str(
        "<section class=\"panel\" id=\"connection\">\n<div class=\"ph\"><h2>Connection</h2>\
         <div class=\"tools\"><select id=\"conn-select\" aria-label=\"Connection\"></select>\
         <span class=\"seg\" role=\"group\" aria-label=\"Direction\"><button type=\"button\" id=\"dir-1\" class=\"on\">Server → client data</button>\
         <button type=\"button\" id=\"dir-0\">Client → server data</button></span>\
         <button id=\"tsg-reset\" type=\"button\" disabled>Reset zoom</button></div></div>\n\
         <div id=\"conn-facts\" class=\"facts-row\"></div>\n\
         <div class=\"tsg-legend\"><span><i class=\"ln data\"></i>data segment</span><span><i class=\"ln retx\"></i>retransmission</span>\
         <span><i class=\"ln ooo\"></i>out of order / probe</span><span><i class=\"ln ack\"></i>ACK (receiver)</span>\
         <span><i class=\"ln win\"></i>ACK + receive window</span><span><i class=\"bx stall\"></i>stall</span>\
         <span><i class=\"bx find\"></i>finding</span></div>\n\
         <div id=\"tsg\" class=\"tsg\" title=\"Drag to zoom; double-click to reset\"></div>\n\
         <p class=\"note\" id=\"tsg-note\"></p>\n<div id=\"conn-findings\"></div>\n</section>\n",
    );
}

fn findings_shell(o: &mut String, r: &Report, left_out: &LeftOut) {
    w!(
        o,
        "<section class=\"panel\" id=\"findings\">\n<div class=\"ph\"><h2>All findings <span class=\"count\">{}</span></h2>\
         <div class=\"tools\"><select id=\"f-kind\" aria-label=\"Finding kind\"><option value=\"\">All kinds</option></select>\
         <input id=\"f-filter\" type=\"search\" placeholder=\"Filter findings\" aria-label=\"Filter findings\"></div></div>\n\
         <div id=\"f-list\"></div>\n</section>\n",
        if left_out.findings > 0 {
            format!(
                "{} listed, {} left out",
                group(r.findings.len() as u64),
                group(left_out.findings)
            )
        } else {
            group(r.findings.len() as u64)
        }
    );
}

// ---------------------------------------------------------------- the blob

/// Interned strings: repeated hosts, methods, kinds and recommendations are
/// stored once and referred to by index (-1: none).
#[derive(Default)]
struct Strings(StringTable);

impl Strings {
    fn id(&mut self, s: &str) -> i64 {
        self.0.id(s).map_or(-1, i64::from)
    }

    fn opt(&mut self, s: Option<&str>) -> i64 {
        s.map_or(-1, |s| self.id(s))
    }
}

#[derive(Serialize)]
struct Blob {
    v: u32,
    /// Absolute time (µs since the epoch) all other times are relative to.
    t0: i64,
    /// `[key, label]` per cause, in `blame_ms` order.
    causes: Vec<[&'static str; 2]>,
    #[serde(rename = "S")]
    strings: Vec<String>,
    #[serde(rename = "C")]
    connections: Vec<ConnRow>,
    #[serde(rename = "T")]
    transactions: Vec<TxRow>,
    #[serde(rename = "F")]
    findings: Vec<FindingRow>,
    #[serde(rename = "G")]
    graphs: Vec<GraphRow>,
    #[serde(rename = "X")]
    omitted: Omitted,
}

/// What the budget left out, so the page can say so.
#[derive(Serialize, Default)]
struct Omitted {
    details: u64,
    uris_clipped: u64,
    graphs: u64,
    points: u64,
    stalls: u64,
}

/// id, client, server, start, end, rtt, vantage, protocol, close, retrans
/// client/server, transactions, syn, synack, ack, bytes client/server,
/// packets client/server, roles, mss client/server, window scale
/// client/server, zero windows client/server.
#[derive(Serialize)]
struct ConnRow(
    u32,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    u64,
    u64,
    u32,
    i64,
    i64,
    i64,
    u64,
    u64,
    u64,
    u64,
    i64,
    [i64; 4],
    [u64; 2],
);

/// id, connection, index, method, uri, host, status, start, total, sparse
/// blame `[cause, µs, …]`, dominant cause, frames `[req first, req last,
/// resp first, resp last]`, incomplete, flags (1 pipelined, 2 reused), HAR
/// phases in µs `[blocked, dns, connect, send, wait, receive]`, finding
/// indices, request bytes, response bytes, version.
#[derive(Serialize)]
struct TxRow(
    u64,
    u32,
    u32,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    Vec<i64>,
    i64,
    [u64; 4],
    i64,
    u8,
    [i64; 6],
    Vec<u32>,
    i64,
    i64,
    i64,
);

/// kind, connection, transaction, start, duration, frames, detail,
/// confidence, saving µs, recommendation, cause index.
#[derive(Serialize)]
struct FindingRow(i64, i64, i64, i64, i64, Vec<u64>, i64, i64, i64, i64, i64);

/// connection, points recorded, flat points, stalls.
#[derive(Serialize)]
struct GraphRow(u32, u64, Vec<i64>, Vec<[i64; 5]>);

fn data_blob(report: &Report, timelines: &[ConnectionTimeline], budget: &Budget) -> String {
    let t0 = time_origin(report);
    let mut st = Strings::default();
    let mut omitted = Omitted::default();

    let connections = report
        .connections
        .iter()
        .map(|c| {
            let h = c.handshake.as_ref();
            let rel = |v: Option<i64>| v.map_or(-1, |v| v - t0);
            let close = match (c.close.how, c.close.by) {
                ("open", _) => "open at the end of the capture".to_string(),
                (how, Some(by)) => format!("{how} by {by}"),
                (how, None) => how.to_string(),
            };
            ConnRow(
                c.id,
                st.id(&c.client),
                st.id(&c.server),
                c.start_us - t0,
                c.end_us - t0,
                h.and_then(|h| h.rtt_us).unwrap_or(-1),
                st.id(c.vantage),
                st.opt(c.protocol),
                st.id(&close),
                c.retransmissions.client,
                c.retransmissions.server,
                c.transactions,
                rel(h.and_then(|h| h.syn_us)),
                rel(h.and_then(|h| h.synack_us)),
                rel(h.and_then(|h| h.ack_us)),
                c.bytes.client,
                c.bytes.server,
                c.packets.client,
                c.packets.server,
                st.id(c.roles),
                [
                    c.details.client.mss.map_or(-1, i64::from),
                    c.details.server.mss.map_or(-1, i64::from),
                    c.details.client.window_scale.map_or(-1, i64::from),
                    c.details.server.window_scale.map_or(-1, i64::from),
                ],
                [c.details.client.zero_windows, c.details.server.zero_windows],
            )
        })
        .collect();

    // Findings of each transaction, for the hover evidence.
    let mut by_tx: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    for (i, f) in report.findings.iter().enumerate() {
        if let Some(t) = f.transaction {
            by_tx.entry(t).or_default().push(i as u32);
        }
    }

    let transactions = report
        .transactions
        .iter()
        .map(|t| {
            let uri = t.uri.as_deref().map(|u| {
                let c = clip(u, budget.uri_chars);
                if matches!(c, Cow::Owned(_)) {
                    omitted.uris_clipped += 1;
                }
                c
            });
            tx_row(
                t,
                t0,
                &mut st,
                uri.as_deref(),
                by_tx.remove(&t.id).unwrap_or_default(),
            )
        })
        .collect();

    // Details go to the longest findings first: those are the ones a reader
    // opens; the rest keep kind, time and frames.
    let mut order: Vec<usize> = (0..report.findings.len()).collect();
    order.sort_by(|a, b| {
        report.findings[*b]
            .duration_us
            .cmp(&report.findings[*a].duration_us)
            .then(a.cmp(b))
    });
    let mut keep_detail = vec![false; report.findings.len()];
    let mut detail_left = budget.detail_bytes;
    for i in order {
        let len = report.findings[i].detail.len().min(budget.detail_chars * 4);
        if len <= detail_left && budget.detail_chars > 0 {
            detail_left -= len;
            keep_detail[i] = true;
        } else {
            omitted.details += 1;
        }
    }
    let findings = report
        .findings
        .iter()
        .zip(keep_detail)
        .map(|(f, keep)| {
            FindingRow(
                st.id(f.kind),
                f.connection.map_or(-1, i64::from),
                f.transaction.map_or(-1, |t| t as i64),
                f.start_us - t0,
                f.duration_us,
                f.frames.iter().copied().take(64).collect(),
                if keep {
                    st.id(&clip(&f.detail, budget.detail_chars))
                } else {
                    -1
                },
                st.id(f.confidence),
                f.saving_ms.map_or(-1, |s| (s * 1000.0).round() as i64),
                st.opt(f.recommendation.as_deref()),
                finding_cause(f.kind).map_or(-1, |i| i as i64),
            )
        })
        .collect();

    let graphs = graphs(report, timelines, t0, budget, &mut st, &mut omitted);

    let blob = Blob {
        v: 1,
        t0,
        causes: CAUSES.iter().map(|(k, l, _)| [*k, *l]).collect(),
        strings: st.0.into_list(),
        connections,
        transactions,
        findings,
        graphs,
        omitted,
    };
    let mut json = ScriptSafe::default();
    match serde_json::to_writer(&mut json, &blob) {
        Ok(()) => json.finish(),
        Err(_) => "{}".to_string(),
    }
}

fn tx_row(
    t: &TransactionOut,
    t0: i64,
    st: &mut Strings,
    uri: Option<&str>,
    findings: Vec<u32>,
) -> TxRow {
    let blame = blame_us(&t.blame_ms);
    let mut sparse = Vec::new();
    for (i, us) in blame.iter().enumerate() {
        if *us > 0 {
            sparse.push(i as i64);
            sparse.push(*us);
        }
    }
    let ph = |ms: f64| {
        if ms < 0.0 {
            -1
        } else {
            (ms * 1000.0).round() as i64
        }
    };
    let tm = &t.timings_ms;
    let bytes = |head: Option<u64>, body: Option<u64>| match (head, body) {
        (None, None) => -1,
        (h, b) => (h.unwrap_or(0) + b.unwrap_or(0)) as i64,
    };
    TxRow(
        t.id,
        t.connection,
        t.index,
        st.opt(t.method.as_deref()),
        st.opt(uri),
        st.opt(t.host.as_deref()),
        t.status.map_or(-1, i64::from),
        t.span_start_us - t0,
        (tm.total * 1000.0).round() as i64,
        sparse,
        cause_index(t.dominant_cause).map_or(14, |i| i as i64),
        [
            t.request_first_frame.unwrap_or(0),
            t.request_last_frame.unwrap_or(0),
            t.response_first_frame.unwrap_or(0),
            t.response_last_frame.unwrap_or(0),
        ],
        st.opt(t.incomplete.as_deref()),
        u8::from(t.pipelined) | (u8::from(t.reused_connection) << 1),
        [
            ph(tm.blocked),
            ph(tm.dns),
            ph(tm.connect),
            ph(tm.send),
            ph(tm.wait),
            ph(tm.receive),
        ],
        findings,
        bytes(t.request_head_bytes, t.request_body_bytes),
        bytes(t.response_head_bytes, t.response_body_bytes),
        st.opt(t.version.as_deref()),
    )
}

/// The time–sequence data: per connection, the points the budget allows and
/// the stalls found on all of them.
fn graphs(
    report: &Report,
    timelines: &[ConnectionTimeline],
    t0: i64,
    budget: &Budget,
    st: &mut Strings,
    omitted: &mut Omitted,
) -> Vec<GraphRow> {
    // Only connections in the report (a filtered report has fewer).
    let known: std::collections::HashSet<u32> = report.connections.iter().map(|c| c.id).collect();
    let mut tls: Vec<&ConnectionTimeline> = timelines
        .iter()
        .filter(|t| !t.points.is_empty() && known.contains(&t.connection))
        .collect();
    tls.sort_by_key(|t| t.connection);
    tls.dedup_by_key(|t| t.connection);

    // The slowest transaction of each connection ranks its graph when the
    // budget cannot give every connection a useful one.
    let mut slowest: HashMap<u32, i64> = HashMap::new();
    for t in &report.transactions {
        let us = (t.timings_ms.total * 1000.0).round() as i64;
        let e = slowest.entry(t.connection).or_insert(-1);
        *e = (*e).max(us);
    }
    let lens: Vec<usize> = tls.iter().map(|t| t.points.len()).collect();
    let ranks: Vec<i64> = tls
        .iter()
        .map(|t| slowest.get(&t.connection).copied().unwrap_or(-1))
        .collect();
    let alloc = allocate(&lens, &ranks, budget);

    let rtts: HashMap<u32, i64> = report
        .connections
        .iter()
        .filter_map(|c| Some((c.id, c.handshake.as_ref()?.rtt_us?)))
        .collect();
    let mut messages: HashMap<u32, Vec<(u8, u64, u64)>> = HashMap::new();
    for t in &report.transactions {
        let m = messages.entry(t.connection).or_default();
        if let (Some(a), Some(b)) = (t.request_first_frame, t.request_last_frame) {
            m.push((0, a, b));
        }
        if let (Some(a), Some(b)) = (t.response_first_frame, t.response_last_frame) {
            m.push((1, a, b));
        }
    }

    let mut all_stalls: Vec<(usize, [i64; 5])> = Vec::new();
    for (gi, tl) in tls.iter().enumerate() {
        let rtt = rtts.get(&tl.connection).copied();
        let empty = Vec::new();
        let msgs = messages.get(&tl.connection).unwrap_or(&empty);
        for s in stalls(&tl.points, rtt, msgs, t0) {
            all_stalls.push((gi, s));
        }
    }
    // Longest stalls first when they do not all fit.
    if all_stalls.len() > budget.stalls {
        omitted.stalls += (all_stalls.len() - budget.stalls) as u64;
        all_stalls.sort_by(|a, b| {
            b.1[2]
                .cmp(&a.1[2])
                .then(a.0.cmp(&b.0))
                .then(a.1[1].cmp(&b.1[1]))
        });
        all_stalls.truncate(budget.stalls);
    }
    let mut stalls_by: Vec<Vec<[i64; 5]>> = vec![Vec::new(); tls.len()];
    for (gi, s) in all_stalls {
        stalls_by[gi].push(s);
    }

    let mut out = Vec::new();
    for ((tl, take), mut stl) in tls.iter().zip(alloc).zip(stalls_by) {
        if take == 0 {
            omitted.graphs += 1;
            continue;
        }
        stl.sort_by(|a, b| a[1].cmp(&b[1]).then(a[0].cmp(&b[0])));
        let keep = sample(&tl.points, take);
        omitted.points += (tl.points.len() - keep.len()) as u64;
        let mut flat = Vec::with_capacity(keep.len() * 7);
        let (mut prev_t, mut prev_f) = (t0, 0i64);
        for i in keep {
            let p = &tl.points[i];
            let kind = st.id(p.kind);
            // Deltas keep times and frame numbers short; seq stays absolute
            // so each point decodes without its predecessors' lengths.
            flat.push(p.t_us - prev_t);
            flat.push(i64::from(p.side.min(1)) + 2 * kind);
            flat.push(p.seq_start as i64);
            flat.push(p.seq_end.saturating_sub(p.seq_start) as i64);
            flat.push(p.ack.map_or(-1, |a| a as i64));
            flat.push(p.window as i64);
            flat.push(p.frame as i64 - prev_f);
            prev_t = p.t_us;
            prev_f = p.frame as i64;
        }
        out.push(GraphRow(tl.connection, tl.points.len() as u64, flat, stl));
    }
    out
}

/// Shares the point budget: small timelines keep every point, large ones
/// split the rest equally; when that share would be too small to read, the
/// connections with the slowest transactions get `min_points` each instead.
fn allocate(lens: &[usize], ranks: &[i64], budget: &Budget) -> Vec<usize> {
    let n = lens.len();
    let mut alloc = vec![0usize; n];
    let mut by_len: Vec<usize> = (0..n).collect();
    by_len.sort_by_key(|&i| (lens[i], i));
    let mut left = budget.points;
    for (k, &i) in by_len.iter().enumerate() {
        let share = left / (n - k);
        if lens[i] <= share.min(budget.points_per_connection) {
            alloc[i] = lens[i];
            left -= lens[i];
            continue;
        }
        // Every remaining timeline is larger than the equal share.
        let rest: Vec<usize> = by_len[k..].to_vec();
        if share >= budget.min_points {
            for &j in &rest {
                alloc[j] = share.min(budget.points_per_connection).min(lens[j]);
            }
        } else {
            let mut ranked = rest;
            ranked.sort_by(|a, b| ranks[*b].cmp(&ranks[*a]).then(a.cmp(b)));
            for j in ranked {
                let take = budget.min_points.min(lens[j]).min(left);
                if take < budget.min_points.min(lens[j]) {
                    break;
                }
                alloc[j] = take;
                left -= take;
            }
        }
        break;
    }
    alloc
}

fn is_regular(kind: &str) -> bool {
    kind == "new" || kind == "control"
}

/// Indices of at most `take` points, in order: every unusual point
/// (retransmission, reordering, probe) while they fit in half the budget, the
/// first and the last, and the regular points evenly spread.
fn sample(points: &[SeqPoint], take: usize) -> Vec<usize> {
    let n = points.len();
    if take >= n {
        return (0..n).collect();
    }
    let special: Vec<usize> = (0..n).filter(|&i| !is_regular(points[i].kind)).collect();
    let mut keep: Vec<usize> = Vec::with_capacity(take);
    let special_room = take / 2;
    if special.len() <= special_room {
        keep.extend(&special);
    } else {
        keep.extend(spread(&special, special_room));
    }
    let regular: Vec<usize> = (0..n).filter(|&i| is_regular(points[i].kind)).collect();
    let room = take.saturating_sub(keep.len());
    keep.extend(spread(&regular, room));
    keep.sort_unstable();
    keep.dedup();
    keep
}

/// `k` elements of `v` evenly spaced, including the first and the last.
fn spread(v: &[usize], k: usize) -> Vec<usize> {
    if k == 0 || v.is_empty() {
        return Vec::new();
    }
    if k >= v.len() {
        return v.to_vec();
    }
    if k == 1 {
        return vec![v[0]];
    }
    (0..k).map(|j| v[j * (v.len() - 1) / (k - 1)]).collect()
}

/// Gaps between consecutive data segments of one message longer than the
/// stall threshold of `docs/causes.md` (max(RTT/4, 2 ms), 5 ms without an
/// RTT): `[side, start, duration, frame before, frame after]`, times
/// relative to `t0`.
fn stalls(
    points: &[SeqPoint],
    rtt_us: Option<i64>,
    msgs: &[(u8, u64, u64)],
    t0: i64,
) -> Vec<[i64; 5]> {
    let threshold = rtt_us.map_or(5_000, |r| (r / 4).max(2_000));
    // Per side, message frame ranges sorted by first frame: a binary search
    // finds a segment's message even on connections with many transactions.
    let mut ranges: [Vec<(u64, u64)>; 2] = [Vec::new(), Vec::new()];
    for (s, a, b) in msgs {
        ranges[usize::from((*s).min(1))].push((*a, *b));
    }
    for r in &mut ranges {
        r.sort_unstable();
    }
    let message_of = |side: usize, frame: u64| {
        let r = &ranges[side];
        let i = r.partition_point(|(a, _)| *a <= frame);
        (i > 0 && frame <= r[i - 1].1).then(|| i - 1)
    };
    let mut out = Vec::new();
    let mut last: [Option<(&SeqPoint, Option<usize>)>; 2] = [None, None];
    for p in points {
        if p.seq_end <= p.seq_start || p.kind == "control" || p.kind == "keepalive" {
            continue;
        }
        let side = usize::from(p.side.min(1));
        let msg = message_of(side, p.frame);
        if let Some((prev, prev_msg)) = last[side] {
            let gap = p.t_us - prev.t_us;
            if msg.is_some() && msg == prev_msg && gap > threshold {
                out.push([
                    side as i64,
                    prev.t_us - t0,
                    gap,
                    prev.frame as i64,
                    p.frame as i64,
                ]);
            }
        }
        last[side] = Some((p, msg));
    }
    out
}

// ---------------------------------------------------------------- helpers

/// Where relative times start: the capture's first record, else the
/// earliest time in the report.
fn time_origin(r: &Report) -> i64 {
    r.capture.first_us.unwrap_or_else(|| {
        r.transactions
            .iter()
            .map(|t| t.span_start_us)
            .chain(r.connections.iter().map(|c| c.start_us))
            .min()
            .unwrap_or(0)
    })
}

fn blame_us(b: &BlameMs) -> [i64; 15] {
    b.values().map(|ms| {
        if ms > 0.0 {
            (ms * 1000.0).round() as i64
        } else {
            0
        }
    })
}

fn cause_index(key: &str) -> Option<usize> {
    CAUSES.iter().position(|(k, _, _)| *k == key)
}

fn cause_label(key: &str) -> &'static str {
    cause_index(key).map_or("unexplained", |i| CAUSES[i].1)
}

/// The cause a finding explains, for its color.
fn finding_cause(kind: &str) -> Option<usize> {
    let key = match kind {
        "dns_lookup" => "dns",
        "syn_retransmit" => "syn_retransmit",
        "client_pause" => "client",
        "server_think_time" | "server_pause" => "server",
        "head_of_line" => "head_of_line",
        "slow_start" => "slow_start",
        "loss_recovery" => "loss_recovery",
        "receive_window_stall" => "receive_window",
        "nagle_stall" => "nagle",
        "delayed_ack_stall" => "delayed_ack",
        "new_connection_per_request" => "connect_rtt",
        _ => return None,
    };
    cause_index(key)
}

/// [`ScriptSafe`] of a whole text.
#[cfg(test)]
fn script_safe(json: &str) -> String {
    use std::io::Write as _;
    let mut w = ScriptSafe::default();
    let _ = w.write_all(json.as_bytes());
    w.finish()
}

/// JSON text made safe inside `<script>` as it is written: `<` cannot
/// start `</script>` or `<!--`, and the others keep HTML parsers of every
/// age calm. JSON only has these characters inside strings, where `\uXXXX`
/// means the same. Escaped as written, the page's data blob (megabytes)
/// is not held twice.
#[derive(Default)]
struct ScriptSafe {
    out: Vec<u8>,
}

impl std::io::Write for ScriptSafe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = memchr::memchr3(b'<', b'>', b'&', rest) {
            self.out.extend_from_slice(&rest[..i]);
            self.out.extend_from_slice(match rest[i] {
                b'<' => b"\\u003c",
                b'>' => b"\\u003e",
                _ => b"\\u0026",
            });
            rest = &rest[i + 1..];
        }
        self.out.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ScriptSafe {
    /// The text; U+2028 and U+2029 (three bytes each, which a write could
    /// split) are escaped here, in the rare text that has them.
    fn finish(self) -> String {
        // serde_json writes UTF-8: no copy.
        let text = String::from_utf8(self.out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        if !text.contains(['\u{2028}', '\u{2029}']) {
            return text;
        }
        text.replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029")
    }
}

/// HTML-escapes text for element content and quoted attributes. A "://"
/// in the text (a URL from the capture) is written with the colon as a
/// character reference: it reads the same, and the page source never holds
/// a literal URL outside the data blob, which keeps "references nothing" a
/// simple text check.
fn esc(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) && !s.contains("://") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out.replace("://", "&#58;//"))
}

/// At most `max` characters, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((end, _)) => Cow::Owned(format!("{}…", &s[..end])),
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// A duration in microseconds, with the precision a reader needs.
fn fmt_us(us: i64) -> String {
    let ms = us as f64 / 1000.0;
    let a = ms.abs();
    if us == 0 {
        "0 ms".to_string()
    } else if a >= 3_600_000.0 {
        format!("{:.1} h", ms / 3_600_000.0)
    } else if a >= 60_000.0 {
        format!("{:.1} min", ms / 60_000.0)
    } else if a >= 10_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if a >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if a >= 100.0 {
        format!("{ms:.0} ms")
    } else if a >= 10.0 {
        format!("{ms:.1} ms")
    } else if a >= 1.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.3} ms")
    }
}

fn fmt_bytes(b: u64) -> String {
    let f = b as f64;
    if b < 1024 {
        format!("{b} B")
    } else if f < 1024.0 * 1024.0 {
        format!("{:.1} KiB", f / 1024.0)
    } else if f < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MiB", f / 1024.0 / 1024.0)
    } else {
        format!("{:.2} GiB", f / 1024.0 / 1024.0 / 1024.0)
    }
}

fn pct(part: f64, whole: f64) -> String {
    if whole <= 0.0 {
        return "0%".to_string();
    }
    let p = part / whole * 100.0;
    if p > 0.0 && p < 0.1 {
        "<0.1%".to_string()
    } else if p < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// 12345 → "12,345".
/// "1 connection", "1,024 connections".
fn counted(n: u64, word: &str) -> String {
    format!("{} {word}{}", group(n), if n == 1 { "" } else { "s" })
}

fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// "4, 5, 9–12": runs of consecutive frames collapsed.
fn frames_text(frames: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < frames.len() && parts.len() < 12 {
        let mut j = i;
        while j + 1 < frames.len() && frames[j + 1] == frames[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}–{}", frames[i], frames[j])
        } else {
            frames[i].to_string()
        });
        i = j + 1;
    }
    if i < frames.len() {
        parts.push("…".to_string());
    }
    if parts.is_empty() {
        "—".to_string()
    } else {
        parts.join(", ")
    }
}

/// Microseconds since the epoch as "2026-11-26 07:17:03.123456 UTC"
/// (civil-from-days, so no clock or time zone is consulted).
fn utc(us: i64) -> String {
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{frac:06} UTC",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_matches_known_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00.000000 UTC");
        assert_eq!(utc(951_782_400_000_001), "2000-02-29 00:00:00.000001 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59:59.999999 UTC");
    }

    #[test]
    fn script_safe_escapes_closing_tags() {
        let s = script_safe("{\"a\":\"</script><!--&\u{2028}\u{2029}\"}");
        assert!(!s.contains(['<', '>', '&', '\u{2028}', '\u{2029}']), "{s}");
        let v: serde_json::Value = serde_json::from_str(&s).expect("still JSON");
        assert_eq!(v["a"], "</script><!--&\u{2028}\u{2029}");
    }

    #[test]
    fn allocation_respects_budget() {
        let b = BUDGETS[0];
        let lens = vec![10, 100_000, 50, 200_000];
        let alloc = allocate(&lens, &[0, 1, 2, 3], &b);
        assert_eq!(alloc[0], 10);
        assert_eq!(alloc[2], 50);
        assert!(alloc.iter().sum::<usize>() <= b.points);
        assert!(alloc[1] >= b.min_points && alloc[3] >= b.min_points);
        // Too many connections for a useful share: the slowest get graphs.
        let many = vec![1000; 1000];
        let ranks: Vec<i64> = (0..1000).collect();
        let alloc = allocate(&many, &ranks, &b);
        assert!(alloc.iter().sum::<usize>() <= b.points);
        assert_eq!(alloc[999], b.min_points);
        assert_eq!(alloc[0], 0);
    }

    #[test]
    fn sampling_keeps_retransmissions_and_ends() {
        let pts: Vec<SeqPoint> = (0..1000)
            .map(|i| SeqPoint {
                t_us: i,
                side: 1,
                seq_start: i as u64 * 10,
                seq_end: i as u64 * 10 + 10,
                ack: None,
                window: 0,
                kind: if i == 500 { "retransmission" } else { "new" },
                frame: i as u64 + 1,
            })
            .collect();
        let keep = sample(&pts, 100);
        assert!(keep.len() <= 100);
        assert!(keep.contains(&0) && keep.contains(&999) && keep.contains(&500));
        assert!(keep.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn frames_collapse_runs() {
        assert_eq!(frames_text(&[4, 5, 6, 9]), "4–6, 9");
        assert_eq!(frames_text(&[]), "—");
    }

    #[test]
    fn clip_is_char_safe() {
        assert_eq!(clip("héllo", 2), "hé…");
        assert_eq!(clip("abc", 3), "abc");
    }
}
