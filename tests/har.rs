//! HAR export: every bundled sample and every capture of the shared HTTP
//! corpus is converted to HAR, checked entry by entry against the report it
//! came from, then validated by the npm package `har-validator` (the HAR 1.2
//! JSON schema) through `scripts/har-validate.mjs`.
//!
//! The corpus and the validator live outside the crate. When either is
//! missing the test prints a notice and skips that part, except under CI
//! (`CI=true`), where it fails: CI runs `npm ci --prefix scripts` first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use wireblame::pipeline::{self, ConnectionRecord, PassOptions};
use wireblame::report::har::{to_har, TxHeaders};
use wireblame::report::har_writer::HarWriter;
use wireblame::report::{self, model::Report};

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Samples, then the corpus's HTTP captures (sorted, for stable output).
fn inputs() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut list = |dir: &Path, only_pcap: bool| {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        v.retain(|p| p.is_file() && (!only_pcap || p.extension().is_some_and(|e| e == "pcap")));
        v.sort();
        files.extend(v);
    };
    list(&manifest().join("samples"), true);
    let corpus = manifest().join("../shared/corpus/http");
    if corpus.is_dir() {
        list(&corpus, false);
    } else if under_ci() {
        panic!("../shared/corpus/http is required under CI but is missing");
    } else {
        eprintln!("notice: ../shared/corpus/http not found; HAR check covers the samples only");
    }
    files
}

/// The report, the headers map and the CLI's document.
type Analyzed = (Report, BTreeMap<u64, TxHeaders>, Vec<u8>);

/// The report and the headers map `to_har` is checked with (transaction ids
/// are assigned as `report::build` does: connections by id, then
/// position), and the document the CLI's [`HarWriter`] writes for the same
/// records, given in reverse order, its spools moved to temporary files
/// after 1 KiB.
fn analyze(path: &Path) -> Result<Analyzed, String> {
    let mut records: Vec<ConnectionRecord> = Vec::new();
    let options = PassOptions {
        keep_headers: true,
        ..PassOptions::default()
    };
    let summary = pipeline::run(&[path.to_string_lossy().into_owned()], &options, &mut |r| {
        records.push(r)
    })
    .map_err(|e| e.to_string())?;
    records.sort_by_key(|r| r.id);
    let report = report::build(&summary, &records);
    let headers = wireblame::run::headers(&records);
    let mut har = HarWriter::with_spool_memory(false, &Default::default(), 1024);
    for mut r in records.into_iter().rev() {
        har.add(&mut r, true).map_err(|e| e.to_string())?;
    }
    let mut streamed = Vec::new();
    har.finish(&summary, &mut streamed)
        .map_err(|e| e.to_string())?;
    Ok((report, headers, streamed))
}

fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 0.001 + 1e-9
}

/// RFC 3986 characters (after percent-encoding nothing else may remain).
fn uri_chars_ok(u: &str) -> bool {
    u.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b))
}

/// Checks one HAR document against its report; returns the entry count.
fn check(har: &Value, report: &Report, name: &str) -> usize {
    let log = &har["log"];
    assert_eq!(log["version"], "1.2", "{name}");
    assert_eq!(log["creator"]["name"], "wireblame", "{name}");
    assert!(log["creator"]["version"].is_string(), "{name}");
    let pages = log["pages"].as_array().expect("pages");
    let page_ids: Vec<&str> = pages.iter().filter_map(|p| p["id"].as_str()).collect();
    for p in pages {
        for k in ["startedDateTime", "id", "title", "pageTimings"] {
            assert!(!p[k].is_null(), "{name}: page lacks {k}: {p}");
        }
    }
    let entries = log["entries"].as_array().expect("entries");
    // Every transaction becomes an entry (incomplete ones with placeholders).
    assert_eq!(entries.len(), report.transactions.len(), "{name}");
    let mut prev_start = i64::MIN;
    for e in entries {
        let id = e["_transaction"].as_u64().expect("_transaction");
        let t = report
            .transactions
            .iter()
            .find(|t| t.id == id)
            .expect("entry's transaction is in the report");
        let at = format!("{name}: transaction {id}");
        for k in [
            "pageref",
            "startedDateTime",
            "time",
            "request",
            "response",
            "cache",
            "timings",
            "connection",
            "_blame",
            "_findings",
        ] {
            assert!(!e[k].is_null(), "{at}: entry lacks {k}");
        }
        assert!(
            page_ids.contains(&e["pageref"].as_str().unwrap_or("")),
            "{at}"
        );
        assert_eq!(e["connection"], t.connection.to_string(), "{at}");
        // Sorted by start, as HAR prefers.
        assert!(t.span_start_us >= prev_start, "{at}: entries out of order");
        prev_start = t.span_start_us;
        let started = e["startedDateTime"].as_str().unwrap_or("");
        assert!(
            started.len() == 24 && started.ends_with('Z') && started.as_bytes()[19] == b'.',
            "{at}: startedDateTime {started}"
        );

        // Timings: the report's values; -1 kept where HAR allows it, 0 for
        // the required send/wait/receive.
        let tm = &t.timings_ms;
        let timings = &e["timings"];
        for (k, want, required) in [
            ("blocked", tm.blocked, false),
            ("dns", tm.dns, false),
            ("connect", tm.connect, false),
            ("send", tm.send, true),
            ("wait", tm.wait, true),
            ("receive", tm.receive, true),
        ] {
            let got = num(&timings[k], k);
            let want = if want >= 0.0 {
                want
            } else if required {
                0.0
            } else {
                -1.0
            };
            assert_eq!(got, want, "{at}: timings.{k}");
        }
        assert_eq!(num(&timings["ssl"], "ssl"), -1.0, "{at}");
        if t.reused_connection {
            assert_eq!(
                num(&timings["connect"], "connect"),
                -1.0,
                "{at}: connect on reuse"
            );
        }
        let sum: f64 = [
            "blocked", "dns", "connect", "send", "wait", "receive", "ssl",
        ]
        .iter()
        .map(|k| num(&timings[*k], k))
        .filter(|v| *v >= 0.0)
        .sum();
        let time = num(&e["time"], "time");
        assert!(close(time, sum), "{at}: time {time} != timings sum {sum}");
        assert!(
            close(time, tm.total),
            "{at}: time {time} != timings_ms.total {}",
            tm.total
        );

        let req = &e["request"];
        for k in [
            "method",
            "url",
            "httpVersion",
            "cookies",
            "headers",
            "queryString",
            "headersSize",
            "bodySize",
        ] {
            assert!(!req[k].is_null(), "{at}: request lacks {k}");
        }
        let url = req["url"].as_str().unwrap_or("");
        assert!(
            url.starts_with("http://") || url.starts_with("https://"),
            "{at}: {url}"
        );
        assert!(uri_chars_ok(url), "{at}: url {url}");
        assert_eq!(
            req["method"],
            t.method.as_deref().unwrap_or_default(),
            "{at}"
        );
        let resp = &e["response"];
        for k in [
            "status",
            "statusText",
            "httpVersion",
            "cookies",
            "headers",
            "content",
            "redirectURL",
            "headersSize",
            "bodySize",
        ] {
            assert!(!resp[k].is_null(), "{at}: response lacks {k}");
        }
        assert_eq!(resp["status"], t.status.unwrap_or(0), "{at}");
        assert!(resp["content"]["size"].is_i64(), "{at}");
        assert!(resp["content"]["mimeType"].is_string(), "{at}");
        if let Some(ip) = e.get("serverIPAddress") {
            let ip = ip.as_str().unwrap_or("");
            assert!(
                ip.parse::<std::net::IpAddr>().is_ok(),
                "{at}: serverIPAddress {ip}"
            );
        }

        // Causes: the blame object verbatim, this transaction's findings.
        assert_eq!(
            e["_blame"],
            serde_json::to_value(&t.blame_ms).unwrap(),
            "{at}"
        );
        let want = report
            .findings
            .iter()
            .filter(|f| f.transaction == Some(id))
            .count();
        assert_eq!(e["_findings"].as_array().map(Vec::len), Some(want), "{at}");
    }
    entries.len()
}

/// `node` and the installed validator, or None (fatal under CI).
fn validator() -> Option<PathBuf> {
    let script = manifest().join("scripts/har-validate.mjs");
    let installed = manifest()
        .join("scripts/node_modules/har-validator")
        .is_dir();
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if node && installed && script.is_file() {
        return Some(script);
    }
    let missing = if !node {
        "node"
    } else {
        "scripts/node_modules/har-validator"
    };
    if under_ci() {
        panic!("{missing} is required under CI: run `npm ci --prefix scripts`");
    }
    eprintln!(
        "notice: {missing} not found; HAR schema validation skipped (npm ci --prefix scripts)"
    );
    None
}

#[test]
fn har_export_of_samples_and_corpus_is_valid() {
    let dir = std::env::temp_dir().join(format!("wireblame-har-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut written = Vec::new();
    let (mut files, mut entries, mut pages, mut with_headers) = (0, 0, 0, 0);
    for path in inputs() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let analyzed = std::panic::catch_unwind(|| analyze(&path))
            .unwrap_or_else(|_| panic!("{name}: analysis panicked"));
        // Files the analyzer refuses (not a capture format it reads) are
        // the corpus test's business.
        let Ok((report, headers, streamed)) = analyzed else {
            continue;
        };
        let har = std::panic::catch_unwind(|| to_har(&report, &headers))
            .unwrap_or_else(|_| panic!("{name}: to_har panicked"));
        entries += check(&har, &report, &name);
        pages += har["log"]["pages"].as_array().map_or(0, Vec::len);
        with_headers += headers.values().filter(|h| !h.request.is_empty()).count();
        // Without headers the document must stay valid too.
        check(&to_har(&report, &BTreeMap::new()), &report, &name);
        files += 1;
        // The CLI spools the entries as connections finish: the same bytes.
        let mut whole = serde_json::to_vec_pretty(&har).unwrap();
        whole.push(b'\n');
        assert!(streamed == whole, "{name}: streamed HAR differs");
        let out = dir.join(format!("{files:03}-{name}.har"));
        std::fs::write(&out, whole).unwrap();
        written.push(out);
    }
    eprintln!(
        "HAR export: {files} captures, {entries} entries ({with_headers} with request headers), {pages} pages"
    );
    assert!(files > 0 && entries > 0);

    if let Some(script) = validator() {
        let out = Command::new("node")
            .arg(&script)
            .args(&written)
            .output()
            .expect("run node");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprint!("{stdout}");
        assert!(
            out.status.success(),
            "har-validator rejected HAR files:\n{stderr}"
        );
        assert!(
            stdout.contains(&format!("{n} of {n} HAR files valid", n = written.len())),
            "{stdout}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
