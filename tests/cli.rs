//! The command line as a user meets it: the real binary, real files, real
//! exit codes and messages.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{bin, run, to_pcap_many, Link, Scenario, Side, TempFile};

/// 27 bytes.
const REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
/// 43 bytes.
const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

/// A capture of `n` complete HTTP connections from distinct client ports,
/// 10 ms apart, between two long IPv6 addresses (wide table cells).
fn many_connections(n: u16) -> Vec<u8> {
    let conns: Vec<Scenario> = (0..n)
        .map(|i| {
            let mut c = Scenario::ipv6(
                &format!("[2001:db8:1234:5678:9abc:def0:1234:5678]:{}", 40_000 + i),
                "[2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff]:8080",
            );
            let t = u64::from(i) * 10;
            c.at_ms(t).syn(1000 + u32::from(i));
            c.at_ms(t + 1).syn_ack(7000);
            c.at_ms(t + 2).ack(Side::Client);
            c.at_ms(t + 2).client_data(REQ);
            c.at_ms(t + 4).server_data(RESP);
            c.at_ms(t + 5).fin(Side::Client);
            c.at_ms(t + 6).fin(Side::Server);
            c.at_ms(t + 7).ack(Side::Client);
            c
        })
        .collect();
    to_pcap_many(&conns, Link::Ethernet)
}

fn one_connection() -> Scenario {
    let mut s = Scenario::ipv4("10.0.0.1:40000", "10.0.0.2:80");
    s.at_ms(0).syn(1000);
    s.at_ms(20).syn_ack(5000);
    s.at_ms(40).ack(Side::Client);
    s.at_ms(41).client_data(REQ);
    s.at_ms(60).server_data(RESP);
    s.at_ms(100).fin(Side::Client);
    s.at_ms(120).fin(Side::Server);
    s.at_ms(121).ack(Side::Client);
    s
}

/// The single line of standard error, without its newline.
fn one_stderr_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one stderr line, got {stderr:?}");
    lines[0]
}

#[test]
fn connections_table_fits_100_columns() {
    let file = TempFile::with_bytes("table-width.pcap", &many_connections(12));
    let out = run(&["connections", file.as_str()], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    let text = out.stdout_str();
    // Box-drawing characters and the ellipsis are one column each.
    for line in text.lines() {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    assert!(text.contains("12 connections"), "{text}");
    // One row per connection: the client cell starts on one line each
    // (the rest of a long endpoint may wrap onto the next lines).
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("[2001:db8:1234:5678:"))
            .count(),
        12,
        "{text}"
    );
}

#[test]
fn bare_file_argument_means_analyze() {
    let file = TempFile::with_bytes(
        "implicit-analyze.pcap",
        &one_connection().to_pcap(Link::Ethernet),
    );
    let explicit = run(&["analyze", "--format", "json", file.as_str()], None);
    let implicit = run(&[file.as_str(), "--format", "json"], None);
    assert_eq!(
        (explicit.code, implicit.code),
        (0, 0),
        "{}",
        implicit.stderr
    );
    assert_eq!(explicit.json(), implicit.json());
    let table_explicit = run(&["analyze", file.as_str()], None);
    let table_implicit = run(&[file.as_str()], None);
    assert_eq!(table_implicit.code, 0);
    assert_eq!(table_explicit.stdout, table_implicit.stdout);
    assert!(!table_implicit.stdout.is_empty());
}

#[test]
fn missing_file() {
    let path = TempFile::path_for("does-not-exist.pcap");
    let out = run(&["analyze", path.as_str()], None);
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, b"");
    let line = one_stderr_line(&out.stderr);
    assert!(line.contains(path.as_str()), "{line}");
    assert!(line.contains("no such file"), "{line}");
}

#[test]
fn directory_instead_of_file() {
    let dir = TempFile::path_for("a-directory");
    std::fs::create_dir_all(dir.path()).unwrap();
    let out = run(&["analyze", dir.as_str()], None);
    assert_eq!(out.code, 2);
    let line = one_stderr_line(&out.stderr);
    assert!(line.contains(dir.as_str()), "{line}");
    assert!(line.contains("directory"), "{line}");
}

#[test]
fn empty_file() {
    let file = TempFile::with_bytes("empty.pcap", b"");
    let out = run(&["analyze", file.as_str()], None);
    assert_eq!(out.code, 2);
    let line = one_stderr_line(&out.stderr);
    assert!(line.contains(file.as_str()), "{line}");
    assert!(line.contains("empty file"), "{line}");
}

#[test]
fn png_file() {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend([0u8; 40]);
    let file = TempFile::with_bytes("image.png", &png);
    let out = run(&["analyze", file.as_str()], None);
    assert_eq!(out.code, 2);
    let line = one_stderr_line(&out.stderr);
    assert!(line.contains(file.as_str()), "{line}");
    assert!(line.contains("PNG"), "{line}");
}

#[test]
fn unreadable_file() {
    use std::os::unix::fs::PermissionsExt;
    let file = TempFile::with_bytes("unreadable.pcap", &one_connection().to_pcap(Link::Ethernet));
    std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(file.path()).is_ok() {
        // Running as root (or with CAP_DAC_OVERRIDE): the file is readable.
        eprintln!("note: unreadable_file skipped, permissions are not enforced for this user");
        return;
    }
    let out = run(&["analyze", file.as_str()], None);
    assert_eq!(out.code, 2);
    let line = one_stderr_line(&out.stderr);
    assert!(line.contains(file.as_str()), "{line}");
    assert!(line.contains("permission denied"), "{line}");
}

#[test]
fn unwritable_output_path() {
    let file = TempFile::with_bytes(
        "unwritable-out.pcap",
        &one_connection().to_pcap(Link::Ethernet),
    );
    let out = run(
        &[
            "analyze",
            "--format",
            "json",
            "-o",
            "/nonexistent/dir/x.json",
            file.as_str(),
        ],
        None,
    );
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, b"");
    let line = one_stderr_line(&out.stderr);
    assert!(line.contains("/nonexistent/dir/x.json"), "{line}");
}

/// The JSON report goes through temporary files once it outgrows memory;
/// when they cannot be made, the one line names their directory.
#[test]
fn json_spool_directory_that_cannot_be_used_is_named() {
    let file = TempFile::with_bytes("spool-tmpdir.pcap", &many_connections(1500));
    // JSON and HAR both spool past 512 KiB.
    for format in ["json", "har"] {
        let mut cmd = Command::new(bin());
        cmd.args([
            "analyze",
            "--format",
            format,
            "-o",
            "/dev/null",
            file.as_str(),
        ]);
        let out = cmd.env("TMPDIR", "/nonexistent/tmp").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{format}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = one_stderr_line(&stderr);
        assert!(
            line.contains("temporary file in /nonexistent/tmp"),
            "{format}: {line}"
        );
    }
    // With a usable directory the same capture is reported.
    let ok = run(&["analyze", "--format", "json", file.as_str()], None);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.json()["connections"].as_array().unwrap().len(), 1500);
    let ok = run(&["analyze", "--format", "har", file.as_str()], None);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.json()["log"]["entries"].as_array().unwrap().len(), 1500);
}

#[test]
fn output_file_holds_the_report() {
    let file = TempFile::with_bytes("out-file.pcap", &one_connection().to_pcap(Link::Ethernet));
    let target = TempFile::path_for("out-file.json");
    let out = run(
        &[
            "analyze",
            "--format",
            "json",
            "-o",
            target.as_str(),
            file.as_str(),
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, b"");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(target.path()).unwrap()).unwrap();
    let direct = run(&["analyze", "--format", "json", file.as_str()], None).json();
    assert_eq!(written, direct);
}

#[test]
fn json_format_header_fields() {
    let file = TempFile::with_bytes(
        "json-header.pcap",
        &one_connection().to_pcap(Link::Ethernet),
    );
    let out = run(&["analyze", "--format", "json", file.as_str()], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = out.json();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["tool"]["name"], "wireblame");
    assert_eq!(v["tool"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["capture"]["path"], file.as_str());
    assert_eq!(v["connections"].as_array().unwrap().len(), 1);
    // The other views take --format json too and print the same document.
    for view in ["connections", "transactions"] {
        let o = run(&[view, "--format", "json", file.as_str()], None);
        assert_eq!(o.code, 0, "{view}: {}", o.stderr);
        assert_eq!(o.json()["connections"], v["connections"], "{view}");
    }
}

#[test]
fn stdin_gives_the_same_connections_as_the_file() {
    let bytes = many_connections(3);
    let file = TempFile::with_bytes("stdin-compare.pcap", &bytes);
    let from_file = run(&["analyze", "--format", "json", file.as_str()], None);
    let from_stdin = run(&["analyze", "--format", "json", "-"], Some(&bytes));
    assert_eq!(
        (from_file.code, from_stdin.code),
        (0, 0),
        "{}",
        from_stdin.stderr
    );
    let (a, b) = (from_file.json(), from_stdin.json());
    assert_eq!(a["connections"].as_array().unwrap().len(), 3);
    assert_eq!(a["connections"], b["connections"]);
    assert_eq!(a["transactions"], b["transactions"]);
    assert_eq!(b["capture"]["path"], "-");
}

#[test]
fn stdin_twice_is_a_usage_error() {
    let out = run(&["analyze", "-", "-"], Some(b""));
    assert_eq!(out.code, 2);
    let line = one_stderr_line(&out.stderr);
    assert!(line.contains("standard input"), "{line}");
}

#[test]
fn closed_stdout_exits_quietly() {
    // 300 connections make a JSON report of several hundred kilobytes, more
    // than any pipe buffer. The capture arrives on standard input, so the
    // program cannot write anything before the pipe is closed: the order is
    // deterministic.
    let bytes = many_connections(300);
    let mut child = Command::new(bin())
        .args(["analyze", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wireblame");
    drop(child.stdout.take());
    {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&bytes).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr, "");
    // The report would indeed have been large.
    let full = run(&["analyze", "--format", "json", "-"], Some(&bytes));
    assert!(
        full.stdout.len() > 256 * 1024,
        "{} bytes",
        full.stdout.len()
    );
}

#[test]
fn version_flag() {
    let out = run(&["--version"], None);
    assert_eq!(out.code, 0);
    // "wireblame 0.1.0 (<git commit>)"
    let text = out.stdout_str();
    let prefix = format!("wireblame {} (", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&prefix), "{text}");
    assert!(text.ends_with(")\n"), "{text}");
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = run(&["analyze", "--no-such-flag", "x.pcap"], None);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--no-such-flag"), "{}", out.stderr);
}

/// NDJSON lines already written for a first file reach the output when a
/// later file turns out not to be a capture (then exit 2), with one or two
/// threads.
#[test]
fn ndjson_keeps_its_lines_when_a_later_file_fails() {
    let good = TempFile::with_bytes("good-first.pcap", &many_connections(3));
    let bad = TempFile::with_bytes("not-a-capture.txt", b"hello, this is text\n");
    for threads in ["1", "2"] {
        let out = run(
            &[
                "analyze",
                "-f",
                "ndjson",
                "--threads",
                threads,
                good.as_str(),
                bad.as_str(),
            ],
            None,
        );
        assert_eq!(out.code, 2, "threads {threads}");
        let text = String::from_utf8(out.stdout).unwrap();
        let connections = text
            .lines()
            .filter(|l| l.starts_with("{\"type\":\"connection\""))
            .count();
        assert_eq!(connections, 3, "threads {threads}: {text}");
        let line = one_stderr_line(&out.stderr);
        assert!(line.contains(bad.as_str()), "{line}");
    }
}
