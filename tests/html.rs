//! The HTML report (`src/report/html.rs`): every sample renders a
//! self-contained, bounded, deterministic page with one waterfall row per
//! transaction, and a 10,000-transaction report stays under 5 MB.
//!
//! The page is checked as text here; `scripts/html-browser-test.sh` loads it
//! in headless Chromium and checks what the script draws.

use std::path::{Path, PathBuf};

use serde_json::Value;
use wireblame::pipeline::{self, ConnectionRecord, PassOptions};
use wireblame::report::html::{self, ConnectionTimeline, SeqPoint};
use wireblame::report::{self, model::Report};

/// The size the issue allows for one page.
const MAX_BYTES: usize = 5 * 1024 * 1024;

const DATA_OPEN: &str = "<script type=\"application/json\" id=\"data\">";

/// With `WIREBLAME_HTML_DUMP=DIR`, pages are also written there (for a
/// look in a browser; `scripts/html-browser-test.sh --synthetic` uses it).
fn dump(name: &str, page: &str) {
    if let Some(dir) = std::env::var_os("WIREBLAME_HTML_DUMP") {
        let path = Path::new(&dir).join(format!("{name}.html"));
        std::fs::write(&path, page).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// Runs the analysis in process, keeping timelines as `--format html` does.
fn analyze(path: &Path) -> (Report, Vec<ConnectionTimeline>) {
    let mut records: Vec<ConnectionRecord> = Vec::new();
    let options = PassOptions {
        keep_timeline: true,
        ..PassOptions::default()
    };
    let summary = pipeline::run(&[path.to_string_lossy().into_owned()], &options, &mut |r| {
        records.push(r)
    })
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    records.sort_by_key(|r| r.id);
    let report = report::build(&summary, &records);
    (report, wireblame::run::timelines(&records))
}

fn samples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("samples directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no samples in {}", dir.display());
    v
}

/// The page split into the data blob (parsed) and everything else.
fn split(page: &str) -> (Value, String) {
    let start = page.find(DATA_OPEN).expect("data blob") + DATA_OPEN.len();
    let len = page[start..].find("</script>").expect("data blob end");
    let blob = &page[start..start + len];
    assert!(
        !blob.contains('<'),
        "the blob must not contain '<' (it could close the script)"
    );
    let data: Value = serde_json::from_str(blob).expect("the blob is JSON");
    let rest = format!("{}{}", &page[..start], &page[start + len..]);
    (data, rest)
}

/// Checks the invariants every page must hold; returns the blob.
fn check_page(name: &str, page: &str, report: &Report) -> Value {
    assert!(
        page.len() < MAX_BYTES,
        "{name}: page is {} bytes",
        page.len()
    );
    assert!(page.starts_with("<!DOCTYPE html>"), "{name}: doctype");
    let (data, rest) = split(page);
    // Self-contained: nothing outside the data may point at the network or
    // at another file. (The data can hold URLs from the capture; the script
    // only ever shows them as escaped text.)
    let lower = rest.to_ascii_lowercase();
    for needle in [
        "http://", "https://", "<link", "src=", "@import", "<iframe", "<img", "//cdn",
    ] {
        assert!(
            !lower.contains(needle),
            "{name}: page references {needle:?}"
        );
    }
    for (i, _) in lower.match_indices("url(") {
        assert!(
            lower[i..].starts_with("url(#"),
            "{name}: url() that is not a fragment at {i}"
        );
    }
    assert_eq!(
        lower.matches("<script").count(),
        lower.matches("</script>").count(),
        "{name}: script tags balanced"
    );
    assert!(rest.contains("<div id=\"errors\""), "{name}: error box");
    // One waterfall data row per transaction, in report order.
    let rows = data["T"].as_array().expect("T is an array");
    assert_eq!(rows.len(), report.transactions.len(), "{name}: rows");
    for (row, t) in rows.iter().zip(&report.transactions) {
        assert_eq!(row[0].as_u64(), Some(t.id), "{name}: row id");
        // The sparse blame sums to the total (to rounding of each part).
        let blame = row[9].as_array().expect("blame");
        let sum: i64 = blame
            .iter()
            .skip(1)
            .step_by(2)
            .filter_map(Value::as_i64)
            .sum();
        let total = row[8].as_i64().expect("total");
        assert!(
            (sum - total).abs() <= 8,
            "{name}: tx {} blame {sum} vs total {total}",
            t.id
        );
    }
    assert_eq!(
        data["C"].as_array().map(Vec::len),
        Some(report.connections.len()),
        "{name}: connections"
    );
    assert_eq!(
        data["F"].as_array().map(Vec::len),
        Some(report.findings.len()),
        "{name}: findings"
    );
    data
}

#[test]
fn every_sample_renders_a_self_contained_page() {
    let mut largest = (0usize, String::new());
    for path in samples() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (report, tl) = analyze(&path);
        let page = html::render(&report, &tl);
        let data = check_page(&name, &page, &report);
        dump(name.trim_end_matches(".pcap"), &page);
        // Deterministic: the same input gives the same bytes, also through a
        // second analysis of the file.
        assert_eq!(page, html::render(&report, &tl), "{name}: render twice");
        let (report2, tl2) = analyze(&path);
        assert_eq!(page, html::render(&report2, &tl2), "{name}: analyze twice");
        // Every connection with segments gets a graph (samples are small).
        let graphs = data["G"].as_array().expect("G").len();
        let with_points = tl.iter().filter(|t| !t.points.is_empty()).count();
        assert_eq!(graphs, with_points, "{name}: graphs");
        if page.len() > largest.0 {
            largest = (page.len(), name);
        }
    }
    eprintln!("largest sample page: {} ({} bytes)", largest.1, largest.0);
}

#[test]
fn hostile_strings_stay_inert() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/lab-pipelining-3.pcap");
    let (mut report, tl) = analyze(&path);
    let evil = "/</script><script>alert(1)</script><!--&\u{2028}";
    report.capture.path = format!("x{evil}.pcap");
    for t in &mut report.transactions {
        t.uri = Some(evil.to_string());
        t.host = Some("https://example.invalid/".to_string());
    }
    for f in &mut report.findings {
        f.detail = evil.to_string();
    }
    let page = html::render(&report, &tl);
    let (data, rest) = split(&page);
    assert!(!rest.contains("<script>alert"), "markup escaped");
    assert_eq!(
        rest.matches("<script").count(),
        3,
        "only the page's scripts"
    );
    let uri = data["T"][0][4].as_i64().expect("uri index") as usize;
    assert_eq!(data["S"][uri], evil, "the data keeps the exact text");
}

#[test]
fn empty_report_renders() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/lab-pipelining-3.pcap");
    let (mut report, _) = analyze(&path);
    report.transactions.clear();
    report.connections.clear();
    report.findings.clear();
    report.summary = Default::default();
    report.capture.first_us = None;
    report.capture.last_us = None;
    let page = html::render(&report, &[]);
    check_page("empty", &page, &report);
}

/// A report of 10,000 transactions on 2,500 connections, each a copy of a
/// sample's transactions, findings and segments shifted in time.
fn synthetic(n_tx: usize) -> (Report, Vec<ConnectionTimeline>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/lab-nagle-client.pcap");
    let (base, base_tl) = analyze(&path);
    let conn = base.connections[0].clone();
    let per_conn = base.transactions.len().max(1);
    let mut r = base.clone();
    r.transactions.clear();
    r.connections.clear();
    r.findings.clear();
    let mut tls = Vec::new();
    let step_us = 50_000i64;
    let mut id = 0u64;
    let mut c = 0u32;
    while (id as usize) < n_tx {
        let shift = i64::from(c) * step_us;
        let mut co = conn.clone();
        co.id = c;
        co.start_us += shift;
        co.end_us += shift;
        co.client = format!(
            "10.{}.{}.{}:{}",
            c >> 16 & 255,
            c >> 8 & 255,
            c & 255,
            40000 + c % 20000
        );
        r.connections.push(co);
        for (k, t) in base.transactions.iter().enumerate() {
            if id as usize >= n_tx {
                break;
            }
            let mut t = t.clone();
            let old_id = base.transactions[k].id;
            t.id = id;
            t.connection = c;
            t.span_start_us += shift;
            t.uri = Some(format!("/api/v1/items/{id}?page={}&sort=desc", id % 97));
            for f in base
                .findings
                .iter()
                .filter(|f| f.transaction == Some(old_id))
            {
                let mut f = f.clone();
                f.transaction = Some(id);
                f.connection = Some(c);
                f.start_us += shift;
                f.detail = format!("{} (copy {id})", f.detail);
                r.findings.push(f);
            }
            r.transactions.push(t);
            id += 1;
        }
        let points = base_tl
            .iter()
            .flat_map(|t| t.points.iter())
            .map(|p| SeqPoint {
                t_us: p.t_us + shift,
                side: p.side,
                seq_start: p.seq_start,
                seq_end: p.seq_end,
                ack: p.ack,
                window: p.window,
                kind: p.kind,
                frame: p.frame + u64::from(c) * 1000,
            })
            .collect();
        tls.push(ConnectionTimeline {
            connection: c,
            points,
        });
        c += 1;
    }
    assert_eq!(r.transactions.len(), n_tx);
    assert!(per_conn > 1, "the base sample has several transactions");
    r.summary.transactions = n_tx as u64;
    r.summary.connections = u64::from(c);
    (r, tls)
}

#[test]
fn ten_thousand_transactions_stay_under_five_megabytes() {
    let (report, tl) = synthetic(10_000);
    let page = html::render(&report, &tl);
    eprintln!(
        "10,000 transactions, {} findings, {} connections: {} bytes",
        report.findings.len(),
        report.connections.len(),
        page.len()
    );
    let data = check_page("synthetic-10k", &page, &report);
    dump("synthetic-10k", &page);
    assert!(
        !data["G"].as_array().expect("G").is_empty(),
        "some graphs kept"
    );
    assert_eq!(page, html::render(&report, &tl), "deterministic");
}

#[test]
fn huge_timelines_are_sampled_within_budget() {
    // One connection with 300,000 segments (more than a timeline keeps):
    // the page stays small and keeps every retransmission that fits.
    let (mut report, _) = synthetic(1);
    report.connections.truncate(1);
    let points: Vec<SeqPoint> = (0..300_000u64)
        .map(|i| SeqPoint {
            t_us: report.connections[0].start_us + i as i64 * 10,
            side: (i % 2) as u8,
            seq_start: i / 2 * 1448,
            seq_end: if i % 2 == 1 { i / 2 * 1448 + 1448 } else { 0 },
            ack: Some(i / 2 * 1448),
            window: 65_535,
            kind: if i % 10_007 == 0 {
                "retransmission"
            } else if i % 2 == 1 {
                "new"
            } else {
                "control"
            },
            frame: i + 1,
        })
        .collect();
    let tl = vec![ConnectionTimeline {
        connection: report.connections[0].id,
        points,
    }];
    let page = html::render(&report, &tl);
    let data = check_page("huge-timeline", &page, &report);
    let g = &data["G"][0];
    assert_eq!(g[1].as_u64(), Some(300_000), "recorded count kept");
    let kept = g[2].as_array().expect("points").len() / 7;
    assert!(kept > 1_000 && kept <= 15_000, "kept {kept}");
    assert!(page.len() < 2 * 1024 * 1024, "page {} bytes", page.len());
}

/// Every capture of the shared corpus renders within the limits (no panic,
/// self-contained, one row per transaction). Skipped when the corpus is absent.
#[test]
fn corpus_pages_are_self_contained() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let mut files: Vec<PathBuf> = ["http", "edge"]
        .iter()
        .filter_map(|d| std::fs::read_dir(root.join(d)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    if files.is_empty() {
        eprintln!("notice: ../shared/corpus not found; corpus HTML check skipped");
        return;
    }
    files.sort();
    let mut rendered = 0;
    for path in files {
        let mut records: Vec<ConnectionRecord> = Vec::new();
        let options = PassOptions {
            keep_timeline: true,
            ..PassOptions::default()
        };
        // Unreadable files are the CLI's business (an error exit), not ours.
        let Ok(summary) =
            pipeline::run(&[path.to_string_lossy().into_owned()], &options, &mut |r| {
                records.push(r)
            })
        else {
            continue;
        };
        records.sort_by_key(|r| r.id);
        let report = report::build(&summary, &records);
        let page = html::render(&report, &wireblame::run::timelines(&records));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        check_page(&name, &page, &report);
        rendered += 1;
    }
    eprintln!("corpus: {rendered} pages rendered");
    assert!(rendered > 100, "only {rendered} corpus files rendered");
}

/// Past [`html::MAX_CONNECTIONS`] or [`html::MAX_TRANSACTIONS`] the page
/// keeps the connections with the lowest ids, whatever order they finish
/// in, and says what it left out; the summary still counts everything.
#[test]
fn a_limited_report_keeps_the_lowest_ids_and_says_what_it_left_out() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/lab-parallel-6.pcap");
    let options = PassOptions {
        keep_timeline: true,
        ..PassOptions::default()
    };
    let pass = || {
        let mut records: Vec<ConnectionRecord> = Vec::new();
        let summary = pipeline::run(&[path.to_string_lossy().into_owned()], &options, &mut |r| {
            records.push(r)
        })
        .unwrap();
        records.sort_by_key(|r| std::cmp::Reverse(r.id));
        (summary, records)
    };
    let (summary, mut sorted) = pass();
    sorted.sort_by_key(|r| r.id);
    let full = report::build(&summary, &sorted);
    let n = full.connections.len() as u64;
    assert!(n >= 4, "{n} connections");
    let per_conn: Vec<usize> = full
        .connections
        .iter()
        .map(|c| c.transactions as usize)
        .collect();
    for (limit, kept) in [
        (
            report::Limit {
                connections: 2,
                transactions: usize::MAX,
            },
            2,
        ),
        // Transactions: the first connections whose transactions fit.
        (
            report::Limit {
                connections: usize::MAX,
                transactions: per_conn[0] + per_conn[1],
            },
            2,
        ),
        (report::Limit::NONE, n as usize),
    ] {
        let mut b = report::ReportBuilder::with_limit(false, &Default::default(), limit);
        let (_, mut records) = pass();
        for r in &mut records {
            b.add(r, true);
        }
        let (rep, left_out) = b.finish_with_left_out(&summary);
        let ids: Vec<u32> = rep.connections.iter().map(|c| c.id).collect();
        let lowest: Vec<u32> = full.connections.iter().take(kept).map(|c| c.id).collect();
        assert_eq!(ids, lowest, "{limit:?}");
        assert_eq!(left_out.connections, n - kept as u64, "{limit:?}");
        assert_eq!(
            left_out.transactions + rep.transactions.len() as u64,
            full.transactions.len() as u64,
            "{limit:?}"
        );
        assert_eq!(
            rep.summary.transactions, full.summary.transactions,
            "{limit:?}"
        );
        let page = html::render_with(&rep, &[], &left_out);
        let data = check_page("limited", &page, &rep);
        assert_eq!(data["C"].as_array().map(Vec::len), Some(kept));
        assert_eq!(
            page.contains("id=\"left-out\""),
            left_out.connections > 0,
            "{limit:?}"
        );
        // The cards count every transaction's time, listed or not.
        let total_time = |page: &str| {
            let end = page
                .find(" of transaction time")
                .expect("transaction time card");
            page[..end]
                .rsplit('>')
                .next()
                .unwrap_or_default()
                .to_string()
        };
        let whole = html::render(&full, &[]);
        assert_eq!(total_time(&page), total_time(&whole), "{limit:?}");
    }
}
