//! Shared helpers for the integration tests: a capture writer
//! ([`pcap`], [`scenario`]) and a runner for the real `wireblame` binary.
//!
//! Not every test module uses every helper.
#![allow(dead_code)]

pub mod pcap;
pub mod scenario;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

pub use scenario::{filler, to_pcap_many, us_at_ms, Framing, Link, Scenario, Side, BASE_US};

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wireblame")
}

/// A file under the system temp directory, removed when dropped. The name
/// holds the test's name and the process id, so parallel tests and parallel
/// test runs never share a file.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// A path for `name` (not created).
    pub fn path_for(name: &str) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("wireblame-test-{}-{name}", std::process::id()));
        TempFile { path }
    }

    /// Writes `bytes` to a fresh file for `name`.
    pub fn with_bytes(name: &str, bytes: &[u8]) -> TempFile {
        let t = TempFile::path_for(name);
        std::fs::write(&t.path, bytes).expect("write temp file");
        t
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn as_str(&self) -> &str {
        self.path.to_str().expect("temp path is UTF-8")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.path.is_dir() {
            let _ = std::fs::remove_dir_all(&self.path);
        } else {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// What one run of the binary produced.
#[derive(Debug)]
pub struct Output {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    pub fn stdout_str(&self) -> String {
        String::from_utf8(self.stdout.clone()).expect("stdout is UTF-8")
    }

    /// Standard output parsed as JSON; panics with stderr when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}); exit {}, stderr:\n{}",
                self.code, self.stderr
            )
        })
    }
}

/// Runs the binary with `args` and standard input `stdin` (empty if None).
pub fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wireblame");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin piped");
        // The writer thread keeps a large input from deadlocking against a
        // child that fills its stdout pipe before reading all of stdin.
        let input = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
        let out = child.wait_with_output().expect("wait for wireblame");
        writer.join().expect("stdin writer");
        return to_output(out);
    }
    to_output(child.wait_with_output().expect("wait for wireblame"))
}

fn to_output(out: std::process::Output) -> Output {
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The result of `wireblame analyze --format json` on a capture.
#[derive(Debug)]
pub struct Analysis {
    pub code: i32,
    pub stderr: String,
    pub json: Value,
}

impl Analysis {
    pub fn connections(&self) -> &Vec<Value> {
        self.json["connections"]
            .as_array()
            .expect("connections is an array")
    }

    /// The only connection; panics unless there is exactly one.
    pub fn conn(&self) -> &Value {
        let c = self.connections();
        assert_eq!(c.len(), 1, "expected one connection: {c:#?}");
        &c[0]
    }

    /// Warning kinds, in report order.
    pub fn warning_kinds(&self) -> Vec<String> {
        self.json["warnings"]
            .as_array()
            .expect("warnings is an array")
            .iter()
            .map(|w| w["kind"].as_str().expect("kind").to_string())
            .collect()
    }

    /// The count of warning `kind`, 0 when absent.
    pub fn warning_count(&self, kind: &str) -> u64 {
        self.json["warnings"]
            .as_array()
            .expect("warnings is an array")
            .iter()
            .find(|w| w["kind"] == kind)
            .map_or(0, |w| w["count"].as_u64().expect("count"))
    }
}

/// Writes `bytes` to a temp file named after `name` and runs
/// `wireblame analyze --format json` on it. Panics unless it exits 0 with
/// JSON on standard output.
pub fn analyze(name: &str, bytes: &[u8]) -> Analysis {
    let file = TempFile::with_bytes(name, bytes);
    let out = run(&["analyze", "--format", "json", file.as_str()], None);
    assert_eq!(
        out.code, 0,
        "wireblame failed on {name}; stderr:\n{}",
        out.stderr
    );
    Analysis {
        code: out.code,
        json: out.json(),
        stderr: out.stderr,
    }
}
