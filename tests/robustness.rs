//! No panic on any input: a deterministic sweep of damaged captures.
//!
//! Inputs: every `samples/*.pcap` and every file of the shared corpus
//! (`../shared/corpus/{http,edge}`; skipped with a notice when absent, a
//! failure when `CI=true`). For each input:
//!
//! - [`TRUNCATIONS`] truncated copies: cut inside the file header, inside the
//!   first record, at points spread over the file, and inside the last record;
//! - [`MUTANTS`] bit-flip mutants: 1 to 8 bits flipped by a seeded xorshift
//!   ([`SEED`]), half at uniformly random offsets, half aimed at the
//!   structure (file header, record or block headers, the first 64 bytes of
//!   frames: link, IP and TCP headers, where a flip changes a length).
//!
//! Each copy goes through `pipeline::run` in process (written to a temp
//! file), under `catch_unwind`: no panic; the result is `Ok` (exit 0) or a
//! fatal `Error` (exit 2); an `Ok` report serializes to JSON that parses back.
//!
//! Debug-build budget: the cost is the bytes analyzed. Files larger than
//! [`PREFIX`] have their spread-out truncation points and their mutants taken
//! from their first [`PREFIX`] bytes (a mutant of a big file is the mutated
//! prefix, itself a capture cut short); only the few cuts inside the last
//! record ([`TAIL_CUTS`]) read the whole file. See docs/robustness.md.
//!
//! A failure prints the input, the cut or the flipped bits, and writes the
//! damaged copy to the temp directory so that it can be replayed with
//! `wireblame analyze`.
//!
//! Also here: a CLI-level check on a handful of damaged copies through the
//! real binary, and the regression tests for inputs the fuzzers found
//! (`tests/regressions/`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use wireblame::pipeline::{self, ConnectionRecord, PassOptions};
use wireblame::report;

use crate::support::{bin, TempFile};

/// Seed of every random choice in this file.
const SEED: u64 = 0x7769_7265_626c_616d; // "wireblam"
/// Truncated copies per input.
const TRUNCATIONS: usize = 32;
/// Bit-flip mutants per input.
const MUTANTS: usize = 64;
/// Bytes of a big input that its mutants and spread-out cuts use.
const PREFIX: usize = 256 * 1024;
/// Cuts measured back from the end of the whole file (inside the last record
/// for any record of 200 bytes or more, and inside its header otherwise).
const TAIL_CUTS: [usize; 4] = [1, 7, 40, 200];

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A seed per input, so that adding a file does not change the others' mutants.
fn seed_for(name: &str) -> u64 {
    name.bytes().fold(SEED, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

// ---------------------------------------------------------------------------
// Inputs.

fn samples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("samples/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no samples/*.pcap");
    files
}

/// Files of `../shared/corpus/<sub>`, or None (with a notice) when absent.
fn corpus(sub: &str) -> Option<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(sub);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{} is required under CI but is missing", dir.display());
        }
        eprintln!(
            "notice: {} not found; robustness sweep of it skipped",
            dir.display()
        );
        return None;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Some(files)
}

// ---------------------------------------------------------------------------
// Damage.

/// Cuts inside the file header (24 bytes for pcap, 28+ for pcapng's
/// section header) and the first record's header.
const HEADER_CUTS: [usize; 13] = [0, 1, 3, 4, 8, 12, 20, 23, 24, 25, 31, 39, 40];

/// Where to cut a file of `len` bytes: [`HEADER_CUTS`], [`TAIL_CUTS`] from
/// the end, and the rest of the [`TRUNCATIONS`] spread over the first
/// [`PREFIX`] bytes (one seeded point per equal stretch). Sorted, distinct,
/// each `< len`.
fn cut_points(len: usize, rng: &mut Rng) -> Vec<usize> {
    let mut cuts: std::collections::BTreeSet<usize> = HEADER_CUTS
        .iter()
        .copied()
        .chain(TAIL_CUTS.iter().filter_map(|&b| len.checked_sub(b)))
        .filter(|&c| c < len)
        .collect();
    let span = len.min(PREFIX);
    let slots = TRUNCATIONS.saturating_sub(cuts.len());
    for k in 0..slots {
        let (lo, hi) = (span * k / slots, span * (k + 1) / slots);
        if hi > lo {
            cuts.insert(lo + rng.below(hi - lo));
        }
    }
    cuts.into_iter().collect()
}

/// Byte ranges worth hitting: the file header, each record's (or block's)
/// header and the first 64 bytes of its frame. Classic pcap (both byte
/// orders, micro/nano, Kuznetzov's modified pcap) and pcapng are walked;
/// anything else yields the first 64 bytes.
fn structure(b: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = vec![(0, b.len().min(64))];
    let u32_at = |off: usize, le: bool| -> Option<u32> {
        let w: [u8; 4] = b.get(off..off + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        })
    };
    let Some(magic) = u32_at(0, true) else {
        return spans;
    };
    let pcap = [0xa1b2_c3d4u32, 0xa1b2_3c4d, 0xa1b2_cd34];
    if let Some((le, modified)) = if pcap.contains(&magic) {
        Some((true, magic == 0xa1b2_cd34))
    } else if pcap.contains(&magic.swap_bytes()) {
        Some((false, magic.swap_bytes() == 0xa1b2_cd34))
    } else {
        None
    } {
        let rec_header = if modified { 24 } else { 16 };
        let mut off = 24;
        while off < b.len() && spans.len() < 4096 {
            spans.push((off, (off + rec_header + 64).min(b.len())));
            let Some(incl) = u32_at(off + 8, le) else {
                break;
            };
            off += rec_header + incl as usize;
        }
        return spans;
    }
    if magic == 0x0a0d_0d0a {
        let le = u32_at(8, true) == Some(0x1a2b_3c4d);
        let mut off = 0;
        while off < b.len() && spans.len() < 4096 {
            spans.push((off, (off + 28 + 64).min(b.len())));
            match u32_at(off + 4, le) {
                Some(total) if total >= 12 => off += total as usize,
                _ => break,
            }
        }
    }
    spans
}

/// Flips 1–8 bits; returns the mutant and the flips (offset, bit mask).
fn mutate(b: &[u8], spans: &[(usize, usize)], rng: &mut Rng) -> (Vec<u8>, Vec<(usize, u8)>) {
    let mut out = b.to_vec();
    let mut flips = Vec::new();
    if out.is_empty() {
        return (out, flips);
    }
    let aimed = rng.next() & 1 == 0;
    for _ in 0..1 + rng.below(8) {
        let off = match spans.get(rng.below(spans.len().max(1))) {
            Some(&(s, e)) if aimed && e > s => s + rng.below(e - s),
            _ => rng.below(out.len()),
        };
        let mask = 1u8 << rng.below(8);
        if let Some(byte) = out.get_mut(off) {
            *byte ^= mask;
            flips.push((off, mask));
        }
    }
    (out, flips)
}

// ---------------------------------------------------------------------------
// Running.

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Analyzed (exit 0): connections and transactions in the report.
    Analyzed {
        connections: usize,
        transactions: usize,
    },
    /// A fatal input error (exit 2).
    Fatal,
}

/// Runs the whole analysis on `bytes` (written to `file`) and checks the
/// report's JSON; Err describes a panic or a bad report.
fn analyze_bytes(file: &TempFile, bytes: &[u8]) -> Result<Verdict, String> {
    std::fs::write(file.path(), bytes).map_err(|e| format!("write temp file: {e}"))?;
    let path = file.as_str().to_owned();
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<Verdict, String> {
        let mut records: Vec<ConnectionRecord> = Vec::new();
        let summary =
            match pipeline::run(&[path], &PassOptions::default(), &mut |r| records.push(r)) {
                Ok(s) => s,
                Err(e) => {
                    let text = e.to_string();
                    return if text.is_empty() {
                        Err("fatal error with an empty message".into())
                    } else {
                        Ok(Verdict::Fatal)
                    };
                }
            };
        records.sort_by_key(|r| r.id);
        let report = report::build(&summary, &records);
        let json = serde_json::to_string(&report).map_err(|e| format!("serialize: {e}"))?;
        let v: Value = serde_json::from_str(&json).map_err(|e| format!("parse back: {e}"))?;
        if !v["connections"].is_array() || !v["transactions"].is_array() {
            return Err("report without connections/transactions arrays".into());
        }
        Ok(Verdict::Analyzed {
            connections: report.connections.len(),
            transactions: report.transactions.len(),
        })
    }));
    match result {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic".into());
            Err(format!("panicked: {msg}"))
        }
    }
}

/// Totals of one sweep.
#[derive(Default)]
struct Sweep {
    runs: u64,
    analyzed: u64,
    fatal: u64,
    bytes: u64,
    slowest: (Duration, String),
    failures: Vec<String>,
}

impl Sweep {
    fn run(&mut self, file: &TempFile, what: String, bytes: &[u8]) {
        let started = Instant::now();
        let verdict = analyze_bytes(file, bytes);
        let took = started.elapsed();
        self.runs += 1;
        self.bytes += bytes.len() as u64;
        if took > self.slowest.0 {
            self.slowest = (took, what.clone());
        }
        match verdict {
            Ok(Verdict::Analyzed { .. }) => self.analyzed += 1,
            Ok(Verdict::Fatal) => self.fatal += 1,
            Err(e) => {
                let keep = std::env::temp_dir().join(format!(
                    "wireblame-robustness-failure-{}-{}.bin",
                    std::process::id(),
                    self.failures.len()
                ));
                let _ = std::fs::write(&keep, bytes);
                self.failures
                    .push(format!("{what}: {e} (input kept at {})", keep.display()));
            }
        }
    }

    fn assert_clean(&self, name: &str, started: Instant) {
        eprintln!(
            "robustness {name}: {} runs ({} analyzed, {} fatal), {:.1} MB, {:.1} s; slowest {:.2} s: {}",
            self.runs,
            self.analyzed,
            self.fatal,
            self.bytes as f64 / 1e6,
            started.elapsed().as_secs_f64(),
            self.slowest.0.as_secs_f64(),
            self.slowest.1
        );
        assert!(
            self.failures.is_empty(),
            "{} of {} damaged inputs failed:\n{}",
            self.failures.len(),
            self.runs,
            self.failures.join("\n")
        );
    }
}

/// Truncations and mutants of every file.
fn sweep(name: &str, files: &[PathBuf]) {
    let started = Instant::now();
    let mut sweep = Sweep::default();
    let tmp = TempFile::path_for(&format!("robustness-{name}.bin"));
    for path in files {
        let bytes = std::fs::read(path).expect("read input");
        // "samples/x.pcap", "http/x.pcap": stable across checkouts (seeds).
        let label = path
            .iter()
            .rev()
            .take(2)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<PathBuf>()
            .display()
            .to_string();
        let mut rng = Rng::new(seed_for(&label));
        // The untouched file first: it must analyze like any other.
        sweep.run(&tmp, format!("{label} (intact)"), &bytes);
        for cut in cut_points(bytes.len(), &mut rng) {
            sweep.run(&tmp, format!("{label} cut at {cut}"), &bytes[..cut]);
        }
        let prefix = &bytes[..bytes.len().min(PREFIX)];
        let spans = structure(prefix);
        for i in 0..MUTANTS {
            let (m, flips) = mutate(prefix, &spans, &mut rng);
            let what = if prefix.len() < bytes.len() {
                format!("{label} mutant {i} of the first {PREFIX} bytes, flips {flips:?}")
            } else {
                format!("{label} mutant {i}, flips {flips:?}")
            };
            sweep.run(&tmp, what, &m);
        }
    }
    sweep.assert_clean(name, started);
}

#[test]
fn damaged_samples_never_panic() {
    sweep("samples", &samples());
}

#[test]
fn damaged_corpus_http_never_panic() {
    if let Some(files) = corpus("http") {
        // Every other file (the other half is the next test), so that the
        // harness runs the two side by side with similar work.
        let half: Vec<PathBuf> = files.iter().step_by(2).cloned().collect();
        sweep("corpus-http-1", &half);
    }
}

#[test]
fn damaged_corpus_http_2_never_panic() {
    if let Some(files) = corpus("http") {
        let half: Vec<PathBuf> = files.iter().skip(1).step_by(2).cloned().collect();
        sweep("corpus-http-2", &half);
    }
}

#[test]
fn damaged_corpus_edge_never_panic() {
    if let Some(files) = corpus("edge") {
        sweep("corpus-edge", &files);
    }
}

#[test]
fn damage_helpers_are_deterministic_and_in_range() {
    let mut a = Rng::new(seed_for("x"));
    let mut b = Rng::new(seed_for("x"));
    assert_eq!(cut_points(5000, &mut a), cut_points(5000, &mut b));
    let cuts = cut_points(10_000_000, &mut a);
    assert!(cuts.len() <= TRUNCATIONS);
    assert!(cuts.contains(&23), "inside the pcap header");
    assert!(cuts.contains(&(10_000_000 - 1)), "inside the last record");
    assert!(cuts.windows(2).all(|w| w[0] < w[1]));
    assert!(cut_points(3, &mut a).iter().all(|&c| c < 3));
    assert!(cut_points(0, &mut a).is_empty());
    let data = vec![0u8; 100];
    for _ in 0..100 {
        let (m, flips) = mutate(&data, &structure(&data), &mut a);
        assert!((1..=8).contains(&flips.len()));
        let changed = m.iter().zip(&data).filter(|(x, y)| x != y).count();
        assert!(changed >= 1 && changed <= flips.len());
    }
}

// ---------------------------------------------------------------------------
// Through the real binary.

/// A dozen damaged copies of two samples, through `wireblame analyze --format
/// json`: exit 0 with a JSON report on stdout, or exit 2 with one
/// `wireblame:` line on stderr; never a panic.
#[test]
fn damaged_captures_through_the_binary() {
    let files = samples();
    let mut rng = Rng::new(SEED);
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for path in files.iter().take(2) {
        let bytes = std::fs::read(path).expect("read sample");
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        for cut in [0, 10, 24, 100, bytes.len() / 2, bytes.len() - 1] {
            cases.push((format!("{name} cut at {cut}"), bytes[..cut].to_vec()));
        }
        let spans = structure(&bytes);
        for i in 0..6 {
            let (m, flips) = mutate(&bytes, &spans, &mut rng);
            cases.push((format!("{name} mutant {i} {flips:?}"), m));
        }
    }
    let tmp = TempFile::path_for("robustness-cli.pcap");
    let mut exits = [0u32; 2];
    for (what, bytes) in &cases {
        std::fs::write(tmp.path(), bytes).expect("write temp file");
        let out = Command::new(bin())
            .args(["analyze", "--format", "json", tmp.as_str()])
            .output()
            .expect("run wireblame");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        match out.status.code() {
            Some(0) => {
                exits[0] += 1;
                let v: Value = serde_json::from_slice(&out.stdout)
                    .unwrap_or_else(|e| panic!("{what}: stdout is not JSON: {e}"));
                assert!(v["connections"].is_array(), "{what}");
            }
            Some(2) => {
                exits[1] += 1;
                assert!(stderr.starts_with("wireblame: "), "{what}: {stderr}");
            }
            other => panic!("{what}: exit {other:?}, stderr {stderr}"),
        }
    }
    // Both outcomes occur (a cut inside the file header is fatal).
    assert!(exits[0] > 0 && exits[1] > 0, "exits {exits:?}");
}

// ---------------------------------------------------------------------------
// Regressions: damaged inputs that once panicked, kept small in
// tests/regressions/. Each has a named test saying what it hit; all of them
// also go through the binary below.

fn regression(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/regressions")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn analyze_regression(name: &str) -> Verdict {
    let tmp = TempFile::path_for(&format!("regression-{name}"));
    analyze_bytes(&tmp, &regression(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Found by this sweep (bit flips in pcapng timestamps): a handshake whose
/// ACK comes 4e9 s after the SYN-ACK made `Connection::vantage` compute
/// `to_client * 5` in i64 and panic with "attempt to multiply with overflow"
/// (src/tcp/conn.rs). Fixed with `saturating_mul`.
#[test]
fn handshake_leg_of_4e9_seconds_does_not_overflow() {
    assert_eq!(
        analyze_regression("handshake-leg-overflow.pcap"),
        Verdict::Analyzed {
            connections: 1,
            transactions: 0
        }
    );
}

/// Every regression input through the real binary: exit 0 or 2, no panic.
#[test]
fn regression_inputs_through_the_binary() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/regressions/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for path in &names {
        let out = Command::new(bin())
            .args(["analyze", "--format", "json"])
            .arg(path)
            .output()
            .expect("run wireblame");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{}: {stderr}", path.display());
        assert!(
            matches!(out.status.code(), Some(0 | 2)),
            "{}: exit {:?}",
            path.display(),
            out.status.code()
        );
    }
}
