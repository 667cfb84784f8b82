//! Every output format on every sample (and, for the cheap ones, every corpus
//! file): tables fit 100 columns, NDJSON lines parse and agree with the JSON
//! report, JSON is byte-for-byte deterministic.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use wireblame::report::table;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wireblame")
}

fn samples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    v.sort();
    v
}

fn corpus_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let mut v = Vec::new();
    for sub in ["http", "edge"] {
        if let Ok(rd) = std::fs::read_dir(dir.join(sub)) {
            v.extend(rd.filter_map(|e| e.ok().map(|e| e.path())));
        }
    }
    v.sort();
    v
}

/// Every sample and the first 40 corpus files: enough variety for the
/// checks that run the whole pipeline twice per file.
fn samples_and_some_corpus() -> Vec<PathBuf> {
    let mut files = samples();
    files.extend(corpus_files().into_iter().take(40));
    files
}

/// The pass's summary and records (by id) of one capture, as the whole
/// report is built from them; `None` when it is not a capture.
fn pass_records(
    file: &Path,
) -> Option<(
    wireblame::pipeline::PassSummary,
    Vec<wireblame::pipeline::ConnectionRecord>,
)> {
    let mut records = Vec::new();
    let summary = wireblame::pipeline::run(
        &[file.to_string_lossy().into_owned()],
        &Default::default(),
        &mut |r| records.push(r),
    )
    .ok()?;
    records.sort_by_key(|r| r.id);
    Some((summary, records))
}

fn run(args: &[&str], file: &Path) -> (i32, Vec<u8>) {
    let out = Command::new(bin())
        .args(args)
        .arg(file)
        .output()
        .expect("run wireblame");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{}: {stderr}", file.display());
    (out.status.code().unwrap_or(-1), out.stdout)
}

fn assert_fits(text: &str, what: &str) {
    for line in text.lines() {
        let cols = line.chars().count();
        assert!(
            cols <= table::MAX_WIDTH as usize,
            "{what}: {cols} columns: {line}"
        );
    }
}

#[test]
fn tables_fit_100_columns_everywhere() {
    let mut files = samples();
    files.extend(corpus_files());
    for f in &files {
        let what = f.display().to_string();
        for view in ["analyze", "connections", "transactions"] {
            let (code, out) = run(&[view, "--no-color"], f);
            assert!(code == 0 || code == 2, "{what} {view}: exit {code}");
            if code == 0 {
                assert_fits(&String::from_utf8_lossy(&out), &format!("{what} {view}"));
            }
        }
    }
}

#[test]
fn ndjson_agrees_with_json_on_every_sample() {
    for f in samples() {
        let what = f.display().to_string();
        let (code, json) = run(&["analyze", "-f", "json"], &f);
        assert_eq!(code, 0, "{what}");
        let report: Value = serde_json::from_slice(&json).unwrap();
        let (code, nd) = run(&["analyze", "-f", "ndjson"], &f);
        assert_eq!(code, 0, "{what}");
        let lines: Vec<Value> = String::from_utf8(nd)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: {e}: {l}")))
            .collect();
        let count = |t: &str| lines.iter().filter(|l| l["type"] == t).count();
        assert_eq!(
            count("connection"),
            report["connections"].as_array().unwrap().len(),
            "{what}"
        );
        assert_eq!(
            count("transaction"),
            report["transactions"].as_array().unwrap().len(),
            "{what}"
        );
        assert_eq!(
            count("finding"),
            report["findings"].as_array().unwrap().len(),
            "{what}"
        );
        assert_eq!(count("summary"), 1, "{what}");
        // The same objects with the same ids (transaction ids included, also
        // in the connection-level findings), whatever the order.
        for (t, key) in [
            ("connection", "connections"),
            ("transaction", "transactions"),
            ("finding", "findings"),
        ] {
            let mut from_lines: Vec<String> = lines
                .iter()
                .filter(|l| l["type"] == t)
                .map(|l| {
                    let mut l = l.clone();
                    l.as_object_mut().unwrap().remove("type");
                    l.to_string()
                })
                .collect();
            let mut from_report: Vec<String> = report[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.to_string())
                .collect();
            from_lines.sort();
            from_report.sort();
            assert_eq!(from_lines, from_report, "{what}: {key}");
        }
        let last = lines.last().unwrap();
        assert_eq!(last["type"], "summary", "{what}: summary comes last");
        assert_eq!(
            last["transactions"], report["summary"]["transactions"],
            "{what}"
        );
        assert_eq!(
            last["time_by_cause"], report["summary"]["time_by_cause"],
            "{what}"
        );
        assert_eq!(last["warnings"], report["warnings"], "{what}: warnings");
    }
}

#[test]
fn json_is_deterministic() {
    for f in samples().iter().take(8) {
        let (_, a) = run(&["analyze", "-f", "json"], f);
        let (_, b) = run(&["analyze", "-f", "json"], f);
        assert!(a == b, "{}: two runs differ", f.display());
    }
}

#[test]
fn two_threads_write_the_same_bytes_as_one() {
    let mut files = samples();
    files.extend(corpus_files().into_iter().step_by(11));
    for f in files {
        for format in ["ndjson", "json"] {
            let (c1, one) = run(&["analyze", "-f", format, "--threads", "1"], &f);
            let (c2, two) = run(&["analyze", "-f", format, "--threads", "2"], &f);
            assert_eq!(c1, c2, "{}", f.display());
            assert!(one == two, "{} ({format}): outputs differ", f.display());
        }
    }
}

/// The streamed JSON report (spooled while the pass runs) and the report
/// built a connection at a time are byte for byte the in-memory report
/// serialized at once.
#[test]
fn streamed_json_is_the_in_memory_report() {
    let mut files = samples();
    files.extend(corpus_files().into_iter().step_by(7));
    for f in files {
        let what = f.display().to_string();
        let (code, streamed) = run(&["analyze", "-f", "json"], &f);
        let Some((summary, records)) = pass_records(&f) else {
            assert_eq!(code, 2, "{what}: not a capture, exit 2");
            continue;
        };
        assert_eq!(code, 0, "{what}");
        let mut whole =
            serde_json::to_vec_pretty(&wireblame::report::build(&summary, &records)).unwrap();
        whole.push(b'\n');
        assert!(streamed == whole, "{what}: streamed JSON differs");
        // Again with the spool moved to a temporary file after 1 KiB, the
        // connections added in reverse order.
        let mut w = wireblame::report::json::JsonReportWriter::with_spool_memory(
            false,
            &Default::default(),
            1024,
        );
        for r in records.iter().rev() {
            w.add(r, true).unwrap();
        }
        let mut spooled = Vec::new();
        w.finish(&summary, &mut spooled).unwrap();
        assert!(spooled == whole, "{what}: spooled JSON differs");
        // And the report built a connection at a time (HAR, HTML), also
        // in reverse order.
        let mut b = wireblame::report::ReportBuilder::new(false, &Default::default());
        for mut r in records.into_iter().rev() {
            b.add(&mut r, true);
        }
        let mut built = serde_json::to_vec_pretty(&b.finish(&summary)).unwrap();
        built.push(b'\n');
        assert!(built == whole, "{what}: report built by connection differs");
    }
}

/// The analyze table is built from running totals and the slowest
/// transactions only (`report::digest`); it must agree with the whole JSON
/// report: the counts, and the slowest transactions in order.
#[test]
fn analyze_table_agrees_with_json_on_every_sample() {
    let files = samples_and_some_corpus();
    let mut listed = 0;
    for f in &files {
        let what = f.display().to_string();
        let (code, json) = run(&["analyze", "-f", "json"], f);
        if code != 0 {
            continue;
        }
        let doc: Value = serde_json::from_slice(&json).unwrap();
        let (code, text) = run(&["analyze", "--no-color", "--top", "5"], f);
        assert_eq!(code, 0, "{what}");
        let text = String::from_utf8(text).unwrap();
        let n_conn = doc["connections"].as_array().unwrap().len();
        let txs = doc["transactions"].as_array().unwrap();
        let plural = |n: usize, w: &str| match n {
            1 => format!("1 {w}"),
            n => format!("{n} {w}s"),
        };
        // The capture line, wrapped: words joined by single spaces.
        let head: String = text
            .lines()
            .take_while(|l| !l.starts_with("quality:"))
            .flat_map(str::split_whitespace)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            head.contains(&plural(n_conn, "connection")),
            "{what}: {head}"
        );
        assert!(
            head.contains(&plural(txs.len(), "transaction")),
            "{what}: {head}"
        );
        let mut expected: Vec<(f64, u64)> = txs
            .iter()
            .map(|t| {
                let total = t["timings_ms"]["total"].as_f64().unwrap();
                (total, t["id"].as_u64().unwrap())
            })
            .collect();
        expected.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let shown: Vec<u64> = text
            .lines()
            .skip_while(|l| !l.starts_with("Slowest transactions"))
            .skip(1)
            .take_while(|l| !l.trim_start().starts_with("legend:"))
            .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
            .collect();
        let want: Vec<u64> = expected.iter().take(5).map(|e| e.1).collect();
        assert_eq!(shown, want, "{what}");
        listed += shown.len();
    }
    assert!(listed > 50, "only {listed} transactions listed");
}

/// The connections and transactions tables are made row by row as
/// connections finish; they must be the tables of the whole report.
#[test]
fn list_tables_are_the_whole_reports_tables() {
    let files = samples_and_some_corpus();
    let mut rows = 0;
    for f in &files {
        let what = f.display().to_string();
        let Some((summary, records)) = pass_records(f) else {
            continue;
        };
        let report = wireblame::report::build(&summary, &records);
        let (code, conns) = run(&["connections", "--no-color"], f);
        assert_eq!(code, 0, "{what}");
        assert_eq!(
            String::from_utf8(conns).unwrap(),
            table::connections(&report),
            "{what}"
        );
        let (code, txs) = run(&["transactions", "--no-color"], f);
        assert_eq!(code, 0, "{what}");
        assert_eq!(
            String::from_utf8(txs).unwrap(),
            table::transactions(&report),
            "{what}"
        );
        rows += report.connections.len() + report.transactions.len();
    }
    assert!(rows > 500, "only {rows} rows");
}

/// Tables longer than `--exact-table-rows` are written a chunk at a time
/// (memory that does not grow with the capture). With the limit at 0, every
/// sample's and part of the corpus's tables go that way: a table that fits
/// in 100 columns has the bytes of the whole table, one that does not (its
/// cells wrap) still fits and has the same last line.
#[test]
fn long_tables_written_in_chunks_are_the_whole_tables() {
    let (mut same, mut wrapped) = (0, 0);
    for f in &samples_and_some_corpus() {
        let what = f.display().to_string();
        for view in ["connections", "transactions"] {
            let (code, whole) = run(&[view, "--no-color"], f);
            let (long_code, long) = run(&[view, "--no-color", "--exact-table-rows", "0"], f);
            assert_eq!(long_code, code, "{what}");
            if code != 0 {
                continue;
            }
            let (whole, long) = (
                String::from_utf8(whole).unwrap(),
                String::from_utf8(long).unwrap(),
            );
            let rows: usize = whole
                .lines()
                .last()
                .and_then(|l| l.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if rows == 0 {
                continue;
            }
            if whole.lines().count() == rows + 3 {
                assert_eq!(long, whole, "{view} {what}");
                same += 1;
            } else {
                assert_fits(&long, &what);
                assert_eq!(long.lines().last(), whole.lines().last(), "{view} {what}");
                wrapped += 1;
            }
        }
    }
    assert!(
        same > 60 && wrapped > 2,
        "{same} tables compared, {wrapped} wrapped"
    );
}
