//! HTTP conversation scripts (`tests/http/*.txt`) driving `HttpConversation`
//! directly, without TCP: each script is turned into `StreamItem`s with
//! increasing fake timestamps and frame numbers.
//!
//! # Script format
//!
//! A script is a list of *steps* followed by expectations. Lines starting with
//! `#` before the first step, and anywhere in the expectation sections, are
//! comments.
//!
//! - `>>>` on its own: client bytes follow, up to the next line starting with
//!   `>>>`, `<<<` or `###`. `<<<`: server bytes follow.
//! - `>>> gap N` / `<<< gap N`: a hole of N bytes in that direction.
//! - `>>> fin`, `<<< fin`, `>>> rst`, `<<< rst`: the direction ends.
//!
//! Every step is one item (one data step = one chunk) with frame number = its
//! 1-based position among all steps, and `ts` = `first_seen` = frame × 1 ms.
//!
//! Bytes of a data section: the file's lines, each followed by CRLF (so a
//! script written with LF line ends carries CRLF on the wire). A line that
//! ends with a single `\` gets no line end (so a body can stop mid-line, or be
//! followed directly by the next message). Escapes inside lines: `\r`, `\n`,
//! `\t`, `\\`, `\xHH` (for bare-LF heads write `...\n\` ). Blank lines
//! are CRLFs, including the one that ends a head.
//!
//! Expectations:
//! - `### expect`: one line per transaction, in order, exactly as rendered by
//!   [`render`]: `METHOD URI STATUS req_frames=A-B req_body=N resp_frames=C-D
//!   resp_body=M interim=100,103 incomplete=REASON pipelined=yes|no` with `-`
//!   for anything absent, then, only when not the default, `version=…`,
//!   `req_decoded=N`, `resp_decoded=N`, `tunnel=yes`.
//! - `### anomalies`: one line of anomaly kinds in order of appearance (`-`
//!   for none). Without this section anomalies are not checked.
//! - `### protocol`: `http`, `tls`, `unknown` or `none` (default `http`).
//! - `### options`: `chunk-boundaries-matter` for a script that relies on the
//!   one rule that looks at chunk starts (sniffing a parked direction, e.g.
//!   after a SOCKS handshake); the boundary-invariance tests skip it.

use std::fmt::Write as _;
use std::path::PathBuf;

use proptest::prelude::*;
use wireblame::stream::{Chunk, EndReason, Side, StreamItem};
use wireblame::time::Timestamp;
use wireblame::transaction::{
    ConversationResult, HttpConversation, HttpLimits, Message, Protocol, Transaction,
};

const SCRIPT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/http");

/// One step of a script.
#[derive(Clone, Debug)]
enum Step {
    Data(Side, Vec<u8>),
    Gap(Side, u64),
    End(Side, EndReason),
}

#[derive(Clone, Debug, Default)]
struct Script {
    steps: Vec<Step>,
    expect: Vec<String>,
    anomalies: Option<Vec<String>>,
    protocol: Option<String>,
    chunk_boundaries_matter: bool,
}

/// Decodes one data line; the bool says whether a line end follows.
fn decode_line(line: &str) -> Result<(Vec<u8>, bool), String> {
    // An odd number of trailing backslashes ends in a continuation mark.
    let trailing = line.bytes().rev().take_while(|&b| b == b'\\').count();
    let (body, line_end) = match line.strip_suffix('\\') {
        Some(body) if trailing % 2 == 1 => (body, false),
        _ => (line, true),
    };
    let mut out = Vec::new();
    let mut bytes = body.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex: String = [bytes.next(), bytes.next()]
                    .iter()
                    .flatten()
                    .map(|&c| char::from(c))
                    .collect();
                let v = u8::from_str_radix(&hex, 16).map_err(|e| format!("bad \\x{hex}: {e}"))?;
                out.push(v);
            }
            other => return Err(format!("bad escape {other:?} in {line:?}")),
        }
    }
    if line_end {
        out.extend_from_slice(b"\r\n");
    }
    Ok((out, line_end))
}

fn parse_script(text: &str) -> Result<Script, String> {
    let mut script = Script::default();
    let mut data: Option<(Side, Vec<u8>)> = None;
    let mut section: Option<String> = None;
    for line in text.lines() {
        let directive =
            line.starts_with(">>>") || line.starts_with("<<<") || line.starts_with("###");
        if directive {
            if let Some((side, bytes)) = data.take() {
                script.steps.push(Step::Data(side, bytes));
            }
        }
        if let Some(rest) = line.strip_prefix("###") {
            section = Some(rest.trim().to_owned());
            continue;
        }
        if let Some(name) = &section {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match name.as_str() {
                "expect" => script.expect.push(line.to_owned()),
                "anomalies" => {
                    let kinds = line.split_whitespace().filter(|k| *k != "-");
                    script
                        .anomalies
                        .get_or_insert_with(Vec::new)
                        .extend(kinds.map(str::to_owned));
                }
                "protocol" => script.protocol = Some(line.to_owned()),
                "options" if line == "chunk-boundaries-matter" => {
                    script.chunk_boundaries_matter = true;
                }
                other => return Err(format!("unknown section {other}")),
            }
            continue;
        }
        if directive {
            let side = if line.starts_with(">>>") {
                Side::Client
            } else {
                Side::Server
            };
            let arg: Vec<&str> = line.get(3..).unwrap_or("").split_whitespace().collect();
            match arg.as_slice() {
                [] => data = Some((side, Vec::new())),
                ["gap", n] => {
                    let n = n.parse().map_err(|e| format!("bad gap {n}: {e}"))?;
                    script.steps.push(Step::Gap(side, n));
                }
                ["fin"] => script.steps.push(Step::End(side, EndReason::Fin)),
                ["rst"] => script.steps.push(Step::End(side, EndReason::Rst)),
                other => return Err(format!("bad directive {other:?}")),
            }
            continue;
        }
        match &mut data {
            Some((_, bytes)) => bytes.extend(decode_line(line)?.0),
            None if line.trim().is_empty() || line.starts_with('#') => {}
            None => return Err(format!("data outside a section: {line:?}")),
        }
    }
    if let Some((side, bytes)) = data.take() {
        script.steps.push(Step::Data(side, bytes));
    }
    Ok(script)
}

/// Feeds the steps; `cuts` splits data step `i` at the given byte positions.
fn run(steps: &[Step], cuts: &dyn Fn(usize, usize) -> Vec<usize>) -> ConversationResult {
    let mut conv = HttpConversation::new(HttpLimits::default());
    let mut offsets = [0u64; 2];
    for (i, step) in steps.iter().enumerate() {
        let frame = i as u64 + 1;
        let ts = Timestamp(frame as i64 * 1_000_000);
        match step {
            Step::Data(side, bytes) => {
                let mut points = cuts(i, bytes.len());
                points.push(0);
                points.push(bytes.len());
                points.sort_unstable();
                points.dedup();
                for w in points.windows(2) {
                    let piece = &bytes[w[0]..w[1]];
                    let offset = &mut offsets[side.index()];
                    let chunk = Chunk {
                        offset: *offset,
                        bytes: piece,
                        ts,
                        frame,
                        first_seen: ts,
                    };
                    *offset += piece.len() as u64;
                    conv.push(*side, &StreamItem::Data(chunk));
                }
            }
            Step::Gap(side, len) => {
                let offset = &mut offsets[side.index()];
                let item = StreamItem::Gap {
                    offset: *offset,
                    len: *len,
                    ts,
                    frame,
                };
                *offset += len;
                conv.push(*side, &item);
            }
            Step::End(side, reason) => {
                conv.push(
                    *side,
                    &StreamItem::End {
                        reason: *reason,
                        ts,
                        frame,
                    },
                );
            }
        }
    }
    conv.finish()
}

fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn frames(m: Option<&Message>) -> String {
    m.map_or_else(
        || "-".to_owned(),
        |m| format!("{}-{}", m.first_frame, m.last_frame),
    )
}

/// The compact one-line form of a transaction used in `### expect`.
fn render(tx: &Transaction) -> String {
    let interim = if tx.interim.is_empty() {
        "-".to_owned()
    } else {
        tx.interim
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut line = format!(
        "{} {} {} req_frames={} req_body={} resp_frames={} resp_body={} interim={} incomplete={} pipelined={}",
        or_dash(tx.method.as_ref()),
        or_dash(tx.uri.as_ref()),
        or_dash(tx.status),
        frames(tx.request.as_ref()),
        or_dash(tx.request.as_ref().map(|m| m.body_bytes)),
        frames(tx.response.as_ref()),
        or_dash(tx.response.as_ref().map(|m| m.body_bytes)),
        interim,
        or_dash(tx.incomplete.as_ref()),
        if tx.pipelined { "yes" } else { "no" },
    );
    if let Some(v) = tx.version.as_deref().filter(|v| *v != "HTTP/1.1") {
        let _ = write!(line, " version={v}");
    }
    if let Some(n) = tx.request.as_ref().and_then(|m| m.body_decoded_bytes) {
        let _ = write!(line, " req_decoded={n}");
    }
    if let Some(n) = tx.response.as_ref().and_then(|m| m.body_decoded_bytes) {
        let _ = write!(line, " resp_decoded={n}");
    }
    if tx.tunnel {
        line.push_str(" tunnel=yes");
    }
    line
}

fn protocol_name(p: Option<Protocol>) -> &'static str {
    match p {
        Some(Protocol::Http) => "http",
        Some(Protocol::Tls) => "tls",
        Some(Protocol::Unknown) => "unknown",
        None => "none",
    }
}

fn load(name: &str) -> Script {
    let path = PathBuf::from(SCRIPT_DIR).join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_script(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn no_cuts(_: usize, _: usize) -> Vec<usize> {
    Vec::new()
}

/// Runs one script and compares every expectation.
fn check(name: &str) {
    let script = load(name);
    let result = run(&script.steps, &no_cuts);
    let got: Vec<String> = result.transactions.iter().map(render).collect();
    let kinds: Vec<String> = result.anomalies.iter().map(|a| a.kind.to_owned()).collect();
    let mut problems = String::new();
    if got != script.expect {
        let _ = write!(
            problems,
            "transactions differ\n  expected:\n    {}\n  got:\n    {}\n",
            script.expect.join("\n    "),
            got.join("\n    ")
        );
    }
    if let Some(expected) = &script.anomalies {
        if &kinds != expected {
            let details: Vec<String> = result
                .anomalies
                .iter()
                .map(|a| format!("{}: {}", a.kind, a.detail))
                .collect();
            let _ = write!(
                problems,
                "anomalies differ\n  expected: {expected:?}\n  got: {details:#?}\n"
            );
        }
    }
    let protocol = protocol_name(result.protocol);
    let expected_protocol = script.protocol.as_deref().unwrap_or("http");
    if protocol != expected_protocol {
        let _ = writeln!(
            problems,
            "protocol {protocol}, expected {expected_protocol}"
        );
    }
    for (i, tx) in result.transactions.iter().enumerate() {
        if tx.index as usize != i {
            let _ = writeln!(problems, "transaction {i} has index {}", tx.index);
        }
    }
    assert!(problems.is_empty(), "{name}:\n{problems}");
}

macro_rules! scripts {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check($file);
            }
        )*

        const ALL_SCRIPTS: &[&str] = &[$($file),*];
    };
}

scripts! {
    script_pipelined => "pipelined.txt",
    script_early_response => "early-response.txt",
    script_100_continue => "100-continue.txt",
    script_head_response => "head-response.txt",
    script_304 => "304.txt",
    script_chunked_trailers => "chunked-trailers.txt",
    script_until_close => "until-close.txt",
    script_until_close_end_of_capture => "until-close-end-of-capture.txt",
    script_connect_tunnel => "connect-tunnel.txt",
    script_connect_plain_http => "connect-plain-http.txt",
    script_101_upgrade => "101-upgrade.txt",
    script_gap_in_body => "gap-in-body.txt",
    script_gap_in_head => "gap-in-head.txt",
    script_gap_in_response_head => "gap-in-response-head.txt",
    script_gap_in_chunk_framing => "gap-in-chunk-framing.txt",
    script_te_and_cl => "te-and-cl.txt",
    script_multiple_cl => "multiple-cl.txt",
    script_unmatched_response => "unmatched-response.txt",
    script_rst_mid_response => "rst-mid-response.txt",
    script_http10_keepalive => "http10-keepalive.txt",
    script_http09 => "http09.txt",
    script_roles_flipped => "roles-flipped.txt",
    script_midstream_request_body => "midstream-request-body.txt",
    script_chunk_size_overflow => "chunk-size-overflow.txt",
    script_requests_cut => "requests-cut.txt",
    script_tls => "tls.txt",
    script_unknown => "unknown.txt",
    script_bare_lf => "bare-lf.txt",
    script_malformed_request_lines => "malformed-request-lines.txt",
    script_gap_between_responses => "gap-between-responses.txt",
    script_socks_then_http => "socks-then-http.txt",
    script_snaplen_cut_request_line => "snaplen-cut-request-line.txt",
}

#[test]
fn every_script_file_is_tested() {
    let mut files: Vec<String> = std::fs::read_dir(SCRIPT_DIR)
        .expect("script dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    files.sort();
    let mut listed: Vec<String> = ALL_SCRIPTS.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed);
}

#[test]
fn line_decoding() {
    assert_eq!(decode_line("ab").unwrap(), (b"ab\r\n".to_vec(), true));
    assert_eq!(decode_line("ab\\").unwrap(), (b"ab".to_vec(), false));
    assert_eq!(decode_line("a\\\\").unwrap(), (b"a\\\r\n".to_vec(), true));
    assert_eq!(
        decode_line("\\x16\\x03\\n\\").unwrap(),
        (b"\x16\x03\n".to_vec(), false)
    );
    assert!(decode_line("\\q").is_err());
}

/// A head that never ends: the reader gives up at the cap, never holds more.
#[test]
fn ten_megabyte_head_is_bounded() {
    let limits = HttpLimits::default();
    let mut conv = HttpConversation::new(limits);
    let block = vec![b'a'; 64 * 1024];
    let mut offset = 0u64;
    let mut first = b"GET /".to_vec();
    first.extend_from_slice(&block);
    let total = 10 * 1024 * 1024;
    let mut frame = 1u64;
    while offset < total {
        let bytes: &[u8] = if offset == 0 { &first } else { &block };
        let ts = Timestamp(frame as i64 * 1_000);
        let chunk = Chunk {
            offset,
            bytes,
            ts,
            frame,
            first_seen: ts,
        };
        conv.push(Side::Client, &StreamItem::Data(chunk));
        assert!(
            conv.buffered_bytes() <= limits.max_head_bytes,
            "holding {} bytes",
            conv.buffered_bytes()
        );
        offset += bytes.len() as u64;
        frame += 1;
    }
    let result = conv.finish();
    let kinds: Vec<&str> = result.anomalies.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, vec!["http_head_too_large"]);
    let tx = result
        .transactions
        .first()
        .expect("the cut request is reported");
    assert_eq!(tx.incomplete.as_deref(), Some("head_too_large"));
    assert_eq!(
        tx.request.as_ref().map(|m| m.head_bytes),
        Some(limits.max_head_bytes as u64)
    );
}

/// Cut points for data step `i`, derived from the proptest seeds.
fn seeded_cuts(seeds: &[u32]) -> impl Fn(usize, usize) -> Vec<usize> + '_ {
    move |i, len| {
        if len == 0 {
            return Vec::new();
        }
        seeds
            .iter()
            .enumerate()
            .filter(|(k, _)| k % 3 == i % 3)
            .map(|(_, s)| (*s as usize).wrapping_mul(i + 1) % len)
            .collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Cutting any script's data at random boundaries changes nothing.
    #[test]
    fn chunk_boundaries_do_not_matter(
        which in 0..ALL_SCRIPTS.len(),
        seeds in proptest::collection::vec(any::<u32>(), 0..24),
    ) {
        let script = load(ALL_SCRIPTS[which]);
        prop_assume!(!script.chunk_boundaries_matter);
        let whole = run(&script.steps, &no_cuts);
        let cut = run(&script.steps, &seeded_cuts(&seeds));
        prop_assert_eq!(&whole.transactions, &cut.transactions, "{}", ALL_SCRIPTS[which]);
        prop_assert_eq!(&whole.anomalies, &cut.anomalies);
        prop_assert_eq!(whole.protocol, cut.protocol);
    }

    /// The pipelined script byte by byte at random, the case the issue names.
    #[test]
    fn pipelined_any_cut(seeds in proptest::collection::vec(any::<u32>(), 1..64)) {
        let script = load("pipelined.txt");
        let whole = run(&script.steps, &no_cuts);
        let cut = run(&script.steps, &seeded_cuts(&seeds));
        prop_assert_eq!(whole.transactions, cut.transactions);
    }
}

#[test]
fn every_script_byte_by_byte() {
    let bytewise = |_: usize, len: usize| (1..len).collect::<Vec<_>>();
    for name in ALL_SCRIPTS {
        let script = load(name);
        if script.chunk_boundaries_matter {
            continue;
        }
        let whole = run(&script.steps, &no_cuts);
        let cut = run(&script.steps, &bytewise);
        assert_eq!(whole.transactions, cut.transactions, "{name}");
        assert_eq!(whole.anomalies, cut.anomalies, "{name}");
    }
}
