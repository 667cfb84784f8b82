//! The trace lab's captures against their truth files (`samples/*.truth.json`,
//! made by `samples/lab/regenerate.sh` from real kernels): connection counts,
//! retransmission counts, each transaction's dominant cause and the
//! magnitudes of its causes within the stated tolerance. Plus the blame
//! invariant on every sample: parts are non-negative and sum to the total.

use std::path::{Path, PathBuf};

use serde_json::Value;
use wireblame::pipeline::{self, ConnectionRecord, PassOptions};
use wireblame::report::{self, model::Report};

fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples")
}

pub fn analyze(path: &Path) -> Report {
    let mut records: Vec<ConnectionRecord> = Vec::new();
    let summary = pipeline::run(
        &[path.to_string_lossy().into_owned()],
        &PassOptions::default(),
        &mut |r| records.push(r),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    records.sort_by_key(|r| r.id);
    let report = report::build(&summary, &records);
    crate::schema::assert_valid(
        &serde_json::to_value(&report).unwrap(),
        &path.display().to_string(),
    );
    report
}

fn blame_of(t: &Value) -> serde_json::Map<String, Value> {
    t["blame_ms"].as_object().cloned().unwrap_or_default()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

/// `{min, max}` or `{approx, tol_pct}` from a truth file.
fn within(range: &Value, v: f64) -> bool {
    if let (Some(lo), Some(hi)) = (range["min"].as_f64(), range["max"].as_f64()) {
        return lo <= v && v <= hi;
    }
    if let Some(a) = range["approx"].as_f64() {
        let tol = a * range["tol_pct"].as_f64().unwrap_or(10.0) / 100.0 + num(&range["tol_ms"]);
        return (v - a).abs() <= tol;
    }
    true
}

/// Checks one scenario; returns the problems found.
fn check_scenario(truth: &Value, report: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let expect = &truth["expect"];
    let conns = report["connections"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if let Some(n) = expect["connections"].as_u64() {
        if conns.len() as u64 != n {
            problems.push(format!("{} connections, expected {n}", conns.len()));
        }
    }
    if expect["retransmissions"].is_object() {
        for side in ["client", "server"] {
            let got: u64 = conns
                .iter()
                .map(|c| c["retransmissions"][side].as_u64().unwrap_or(0))
                .sum();
            let want = expect["retransmissions"][side].as_u64().unwrap_or(0);
            if got != want {
                problems.push(format!("{side} retransmissions {got}, expected {want}"));
            }
        }
    }
    let txs = report["transactions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for x in expect["transactions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let (c, i) = (x["connection"].as_u64(), x["index"].as_u64());
        let Some(t) = txs
            .iter()
            .find(|t| t["connection"].as_u64() == c && t["index"].as_u64() == i)
        else {
            problems.push(format!("transaction {c:?}/{i:?} missing"));
            continue;
        };
        let blame = blame_of(t);
        let ours = t["dominant_cause"].as_str().unwrap_or("");
        let want = x["dominant"].as_str().unwrap_or("");
        let mut accepted: Vec<&str> = vec![want];
        if let Some(alts) = x["dominant_alternatives"].as_array() {
            accepted.extend(alts.iter().filter_map(|a| a.as_str()));
        }
        // Ties within 10 % are not a different verdict (a handshake and a
        // request's wait are both one RTT).
        let ours_ms = blame.get(ours).map_or(0.0, num);
        let want_ms = blame.get(want).map_or(0.0, num);
        if !accepted.contains(&ours) && want_ms < 0.9 * ours_ms {
            problems.push(format!(
                "transaction {c:?}/{i:?}: dominant {ours} ({ours_ms} ms), expected {want} ({want_ms} ms)"
            ));
        }
        if let Some(causes) = x["causes_ms"].as_object() {
            for (cause, range) in causes {
                let v = blame.get(cause).map_or(0.0, num);
                if !within(range, v) {
                    problems.push(format!(
                        "transaction {c:?}/{i:?}: {cause} = {v} ms, expected {range}"
                    ));
                }
            }
        }
    }
    problems
}

#[test]
fn lab_captures_match_their_truth() {
    let mut truths: Vec<PathBuf> = std::fs::read_dir(samples())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".truth.json"))
        .collect();
    truths.sort();
    assert!(
        truths.len() >= 20,
        "lab truth files missing: {}",
        truths.len()
    );
    let mut failures = Vec::new();
    for tf in &truths {
        let truth: Value = serde_json::from_str(&std::fs::read_to_string(tf).unwrap()).unwrap();
        let pcap = PathBuf::from(tf.to_string_lossy().replace(".truth.json", ".pcap"));
        let report = serde_json::to_value(analyze(&pcap)).unwrap();
        let problems = check_scenario(&truth, &report);
        eprintln!(
            "{} {}: {}",
            if problems.is_empty() { "ok " } else { "BAD" },
            truth["scenario"].as_str().unwrap_or("?"),
            problems.join("; ")
        );
        if !problems.is_empty() {
            failures.push(format!("{}: {}", tf.display(), problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every transaction's causes are non-negative and sum to its total.
pub fn assert_blame_sums(report: &Report, what: &str) {
    let v = serde_json::to_value(report).unwrap();
    for t in v["transactions"].as_array().unwrap() {
        let blame = blame_of(t);
        assert_eq!(blame.len(), 15, "{what}: blame keys");
        let sum: f64 = blame.values().map(num).sum();
        assert!(
            blame.values().all(|x| num(x) >= 0.0),
            "{what}: negative part in {t}"
        );
        let total = num(&t["timings_ms"]["total"]);
        assert!(
            (sum - total).abs() < 0.001,
            "{what}: blame sums to {sum}, total {total}: {t}"
        );
        let phases: f64 = ["blocked", "dns", "connect", "send", "wait", "receive"]
            .iter()
            .map(|k| num(&t["timings_ms"][*k]))
            .filter(|x| *x >= 0.0)
            .sum();
        assert!(
            (phases - total).abs() < 0.001,
            "{what}: phases sum to {phases}, total {total}: {t}"
        );
    }
}

#[test]
fn blame_sums_to_total_on_every_sample() {
    for e in std::fs::read_dir(samples()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "pcap") {
            assert_blame_sums(&analyze(&p), &p.display().to_string());
        }
    }
}
