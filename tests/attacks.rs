//! Memory caps under attack: captures built to make one structure grow
//! without bound, and the cap (with its warning) that stops it.
//!
//! | attack | cap | warning kind |
//! |---|---|---|
//! | (a) SYN flood: half-open connections | `tcp::flow::MAX_LIVE_CONNECTIONS` | `live_connection_cap` |
//! | (b) a hole, then endless out-of-order data | `tcp::reassembly::MAX_BUFFERED_BYTES` | `reassembly_buffer_full` |
//! | (c) an HTTP head without CRLF | `transaction::DEFAULT_MAX_HEAD_BYTES` | `http_head_too_large` |
//! | (d) pipelined requests, no responses | `transaction::DEFAULT_MAX_PENDING_REQUESTS`, `transaction::DEFAULT_MAX_TRANSACTIONS` | `too_many_pending_requests`, `too_many_transactions` |
//! | (e) chunk sizes beyond 64 bits | (parse error, no buffer) | `chunk_size_overflow` |
//! | (f) first IP fragments only | `defrag::MAX_PENDING_BYTES`, `FRAGMENT_TIMEOUT_NS` | `ip_fragments_incomplete` |
//! | (g) complete handshakes from distinct addresses | `blame::connections::MAX_PAIRS` | `connection_pair_cap` |
//!
//! Every attack capture also carries two ordinary HTTP exchanges, one before
//! and one after the attack (`/before`, `/after`, both 200 with a body): the
//! tests check that both still come out complete, and that the warning
//! naming the cap is there.
//!
//! The tests here run scaled-down attacks (fast in a debug build). The
//! full-size captures are written by the ignored test
//! [`write_full_size_attack_captures`] into `$ATTACK_DIR`, for
//! `scripts/attack-rss.sh`, which measures the release binary's peak RSS on
//! each (see docs/robustness.md).

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use wireblame::pipeline::{self, ConnectionRecord, PassOptions, PassSummary};
use wireblame::report::{self, model::Report};

use crate::support::TempFile;

// ---------------------------------------------------------------------------
// Capture writing: classic pcap, microseconds, Ethernet, streamed.

/// Writes a little-endian microsecond pcap with Ethernet frames, one record
/// at a time (the full-size attacks are hundreds of megabytes).
struct PcapOut<W: Write> {
    w: W,
    frame: Vec<u8>,
    /// Capture time of the next frame, microseconds since the epoch.
    now_us: u64,
    records: u64,
}

/// 2023-11-14 22:13:20 UTC.
const T0_US: u64 = 1_700_000_000_000_000;

impl<W: Write> PcapOut<W> {
    fn new(mut w: W) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend(0xa1b2_c3d4u32.to_le_bytes());
        h.extend(2u16.to_le_bytes());
        h.extend(4u16.to_le_bytes());
        h.extend(0i32.to_le_bytes());
        h.extend(0u32.to_le_bytes());
        h.extend(262_144u32.to_le_bytes()); // snaplen
        h.extend(1u32.to_le_bytes()); // LINKTYPE_ETHERNET
        w.write_all(&h)?;
        Ok(PcapOut {
            w,
            frame: Vec::with_capacity(2048),
            now_us: T0_US,
            records: 0,
        })
    }

    /// Advances the clock by `us` microseconds.
    fn tick(&mut self, us: u64) {
        self.now_us += us;
    }

    /// Writes `self.frame` as one record at the current time.
    fn emit(&mut self) -> io::Result<()> {
        let mut r = [0u8; 16];
        r[0..4].copy_from_slice(&((self.now_us / 1_000_000) as u32).to_le_bytes());
        r[4..8].copy_from_slice(&((self.now_us % 1_000_000) as u32).to_le_bytes());
        let len = self.frame.len() as u32;
        r[8..12].copy_from_slice(&len.to_le_bytes());
        r[12..16].copy_from_slice(&len.to_le_bytes());
        self.w.write_all(&r)?;
        self.w.write_all(&self.frame)?;
        self.records += 1;
        Ok(())
    }

    /// One Ethernet/IPv4/TCP frame.
    fn tcp(&mut self, s: &Seg<'_>) -> io::Result<()> {
        self.frame.clear();
        ethernet_ipv4(
            &mut self.frame,
            s.src,
            s.dst,
            6,
            20 + s.payload.len(),
            s.ip_id,
            0,
        );
        let f = &mut self.frame;
        f.extend(s.sport.to_be_bytes());
        f.extend(s.dport.to_be_bytes());
        f.extend(s.seq.to_be_bytes());
        f.extend(s.ack.to_be_bytes());
        f.push(5 << 4); // data offset: 20 bytes, no options
        f.push(s.flags);
        f.extend(65_535u16.to_be_bytes()); // window
        f.extend([0, 0, 0, 0]); // checksum (never verified), urgent pointer
        f.extend_from_slice(s.payload);
        self.emit()
    }

    /// One Ethernet/IPv4 fragment carrying `payload` at `offset` (a multiple of 8).
    fn fragment(
        &mut self,
        src: [u8; 4],
        dst: [u8; 4],
        id: u16,
        offset: usize,
        more: bool,
        payload: &[u8],
    ) -> io::Result<()> {
        self.frame.clear();
        let flags_offset = ((more as u16) << 13) | (offset / 8) as u16;
        ethernet_ipv4(
            &mut self.frame,
            src,
            dst,
            6,
            payload.len(),
            id,
            flags_offset,
        );
        self.frame.extend_from_slice(payload);
        self.emit()
    }

    fn finish(mut self) -> io::Result<u64> {
        self.w.flush()?;
        Ok(self.records)
    }
}

/// Ethernet II header and a 20-byte IPv4 header (with a valid checksum).
fn ethernet_ipv4(
    f: &mut Vec<u8>,
    src: [u8; 4],
    dst: [u8; 4],
    protocol: u8,
    payload_len: usize,
    id: u16,
    flags_offset: u16,
) {
    f.extend([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00]);
    let start = f.len();
    f.extend([0x45, 0]);
    f.extend(((20 + payload_len) as u16).to_be_bytes());
    f.extend(id.to_be_bytes());
    f.extend(flags_offset.to_be_bytes());
    f.extend([64, protocol, 0, 0]);
    f.extend(src);
    f.extend(dst);
    let mut sum = 0u32;
    for w in f[start..].chunks(2) {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let ck = !(sum as u16);
    f[start + 10..start + 12].copy_from_slice(&ck.to_be_bytes());
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

struct Seg<'a> {
    src: [u8; 4],
    dst: [u8; 4],
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &'a [u8],
    ip_id: u16,
}

/// One TCP connection as seen from the middle: both directions' next
/// sequence numbers, so that callers only say who sends what.
struct Conn {
    client: [u8; 4],
    server: [u8; 4],
    cport: u16,
    sport: u16,
    /// Next sequence number of the client, of the server.
    cseq: u32,
    sseq: u32,
    ip_id: u16,
}

/// Largest TCP payload per frame (Ethernet MTU, no options).
const MSS: usize = 1460;

impl Conn {
    fn new(client: [u8; 4], cport: u16, server: [u8; 4]) -> Conn {
        Conn {
            client,
            server,
            cport,
            sport: 80,
            cseq: 1_000_000,
            sseq: 3_000_000_000, // wraps past 2^32 in the big transfers
            ip_id: 1,
        }
    }

    fn send<W: Write>(
        &mut self,
        out: &mut PcapOut<W>,
        from_client: bool,
        flags: u8,
        payload: &[u8],
    ) -> io::Result<()> {
        self.ip_id = self.ip_id.wrapping_add(1);
        let s = if from_client {
            Seg {
                src: self.client,
                dst: self.server,
                sport: self.cport,
                dport: self.sport,
                seq: self.cseq,
                ack: self.sseq,
                flags,
                payload,
                ip_id: self.ip_id,
            }
        } else {
            Seg {
                src: self.server,
                dst: self.client,
                sport: self.sport,
                dport: self.cport,
                seq: self.sseq,
                ack: self.cseq,
                flags,
                payload,
                ip_id: self.ip_id,
            }
        };
        out.tcp(&s)?;
        let advance = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        if from_client {
            self.cseq = self.cseq.wrapping_add(advance);
        } else {
            self.sseq = self.sseq.wrapping_add(advance);
        }
        Ok(())
    }

    fn handshake<W: Write>(&mut self, out: &mut PcapOut<W>) -> io::Result<()> {
        self.send(out, true, SYN, &[])?;
        out.tick(1_000);
        self.send(out, false, SYN | ACK, &[])?;
        out.tick(1_000);
        self.send(out, true, ACK, &[])
    }

    /// Sends `bytes` from one side in MSS-sized segments, each ACKed by the
    /// other side every `ack_every` segments (0: never).
    fn stream<W: Write>(
        &mut self,
        out: &mut PcapOut<W>,
        from_client: bool,
        bytes: &[u8],
        ack_every: usize,
    ) -> io::Result<()> {
        for (i, piece) in bytes.chunks(MSS).enumerate() {
            self.send(out, from_client, ACK | PSH, piece)?;
            out.tick(10);
            if ack_every > 0 && (i + 1) % ack_every == 0 {
                self.send(out, !from_client, ACK, &[])?;
            }
        }
        Ok(())
    }

    fn close<W: Write>(&mut self, out: &mut PcapOut<W>) -> io::Result<()> {
        self.send(out, true, FIN | ACK, &[])?;
        out.tick(1_000);
        self.send(out, false, FIN | ACK, &[])?;
        out.tick(1_000);
        self.send(out, true, ACK, &[])
    }
}

/// A complete, ordinary exchange: handshake, `GET uri`, `200` with a
/// 3000-byte body, close. The tests check it survives every attack.
fn benign<W: Write>(out: &mut PcapOut<W>, cport: u16, uri: &str) -> io::Result<()> {
    let mut c = Conn::new([198, 51, 100, 7], cport, [192, 0, 2, 10]);
    c.handshake(out)?;
    out.tick(1_000);
    let req = format!("GET {uri} HTTP/1.1\r\nHost: benign.example\r\n\r\n");
    c.stream(out, true, req.as_bytes(), 0)?;
    out.tick(5_000);
    let mut resp = b"HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n".to_vec();
    resp.extend(std::iter::repeat_n(b'b', 3000));
    c.stream(out, false, &resp, 2)?;
    out.tick(1_000);
    c.send(out, true, ACK, &[])?;
    c.close(out)?;
    out.tick(10_000);
    Ok(())
}

/// xorshift64*: small, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

// ---------------------------------------------------------------------------
// The attacks. Each writes `benign(/before)`, the attack, `benign(/after)`.

/// (a) `syns` pure SYNs from distinct scattered addresses (up to 2^24) and
/// random ports, 10 µs apart, never
/// answered: every one is a new half-open connection.
fn syn_flood<W: Write>(out: &mut PcapOut<W>, syns: usize) -> io::Result<()> {
    benign(out, 40_001, "/before")?;
    let mut rng = Rng(0x5eed_0001);
    for i in 0..syns {
        let r = rng.next();
        // An odd multiplier permutes 0..2^24: distinct, scattered addresses.
        let a = (i as u32).wrapping_mul(0x9e37_79b1) & 0x00ff_ffff;
        let src = [10, (a >> 16) as u8, (a >> 8) as u8, a as u8];
        let s = Seg {
            src,
            dst: [192, 0, 2, 80],
            sport: 1024 + (r >> 32) as u16 % 60_000,
            dport: 80,
            seq: (r >> 16) as u32,
            ack: 0,
            flags: SYN,
            payload: &[],
            ip_id: r as u16,
        };
        out.tcp(&s)?;
        out.tick(10);
    }
    benign(out, 40_002, "/after")
}

/// (g) `n` connections from distinct addresses, 100 µs apart: SYN,
/// SYN/ACK, RST. Unlike (a) each is a complete exchange, so it reaches the
/// connection-management analysis, and each address is a client→server
/// pair of its own that stays 2MSL (the whole capture).
fn handshake_flood<W: Write>(out: &mut PcapOut<W>, n: usize) -> io::Result<()> {
    const RST: u8 = 0x04;
    benign(out, 40_001, "/before")?;
    for i in 0..n {
        let a = (i as u32).wrapping_mul(0x9e37_79b1) & 0x00ff_ffff;
        let mut c = Conn::new(
            [10, (a >> 16) as u8, (a >> 8) as u8, a as u8],
            40_000,
            [192, 0, 2, 80],
        );
        c.send(out, true, SYN, &[])?;
        out.tick(10);
        c.send(out, false, SYN | ACK, &[])?;
        out.tick(10);
        c.send(out, true, RST, &[])?;
        out.tick(80);
    }
    benign(out, 40_002, "/after")
}

/// (b) A response whose body skips 1 MiB right after its head (a hole the
/// capture never fills, never ACKed), then `beyond` bytes sent in order but
/// with every 64th segment missing, so that data keeps arriving behind holes.
fn sequence_hole<W: Write>(out: &mut PcapOut<W>, beyond: usize) -> io::Result<()> {
    benign(out, 40_001, "/before")?;
    let mut c = Conn::new([198, 51, 100, 20], 50_000, [192, 0, 2, 20]);
    c.handshake(out)?;
    c.stream(out, true, b"GET /huge HTTP/1.1\r\nHost: hole\r\n\r\n", 0)?;
    let hole = 1 << 20;
    let total = hole + beyond;
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n");
    c.stream(out, false, head.as_bytes(), 1)?;
    c.sseq = c.sseq.wrapping_add(hole as u32);
    let segment = [b'h'; MSS];
    for i in 0..beyond.div_ceil(MSS) {
        let len = MSS.min(beyond - i * MSS);
        if i % 64 == 63 {
            c.sseq = c.sseq.wrapping_add(len as u32);
            continue;
        }
        c.send(out, false, ACK, &segment[..len])?;
        out.tick(5);
    }
    benign(out, 40_002, "/after")
}

/// (c) A request line of `len` bytes that never ends (no CR, no LF).
fn endless_head<W: Write>(out: &mut PcapOut<W>, len: usize) -> io::Result<()> {
    benign(out, 40_001, "/before")?;
    let mut c = Conn::new([198, 51, 100, 30], 50_000, [192, 0, 2, 30]);
    c.handshake(out)?;
    let mut head = b"GET /".to_vec();
    head.resize(len, b'a');
    c.stream(out, true, &head, 8)?;
    c.close(out)?;
    benign(out, 40_002, "/after")
}

/// (d) `n` pipelined GETs on one connection; the server only ACKs.
fn pipelined<W: Write>(out: &mut PcapOut<W>, n: usize) -> io::Result<()> {
    benign(out, 40_001, "/before")?;
    let mut c = Conn::new([198, 51, 100, 40], 50_000, [192, 0, 2, 40]);
    c.handshake(out)?;
    let mut buf = Vec::with_capacity(2 * MSS);
    for i in 0..n {
        buf.extend(format!("GET /p/{i} HTTP/1.1\r\nHost: pipeline\r\n\r\n").as_bytes());
        if buf.len() >= MSS || i + 1 == n {
            let rest = buf.split_off(buf.len().min(MSS));
            c.send(out, true, ACK | PSH, &buf)?;
            c.send(out, false, ACK, &[])?;
            out.tick(20);
            buf = rest;
        }
    }
    if !buf.is_empty() {
        c.send(out, true, ACK | PSH, &buf)?;
    }
    c.close(out)?;
    benign(out, 40_002, "/after")
}

/// (e) `conns` connections, each answered with a chunked body whose first
/// chunk size does not fit 64 bits (three spellings), then `tail` body bytes.
fn chunk_overflow<W: Write>(out: &mut PcapOut<W>, conns: usize, tail: usize) -> io::Result<()> {
    const SIZES: [&str; 3] = [
        "ffffffffffffffffffff",
        "10000000000000000",
        "00000000fffffffffffffffffff;ext=1",
    ];
    benign(out, 40_001, "/before")?;
    for i in 0..conns {
        let mut c = Conn::new(
            [198, 51, 100, 50],
            20_000 + (i % 40_000) as u16,
            [192, 0, 2, 50],
        );
        c.handshake(out)?;
        c.stream(
            out,
            true,
            b"GET /chunks HTTP/1.1\r\nHost: chunks\r\n\r\n",
            0,
        )?;
        let mut resp = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{}\r\n",
            SIZES[i % SIZES.len()]
        )
        .into_bytes();
        resp.resize(resp.len() + tail, b'c');
        c.stream(out, false, &resp, 4)?;
        c.close(out)?;
    }
    benign(out, 40_002, "/after")
}

/// (f) `n` IPv4 datagrams of which only the first fragment (offset 0, more
/// fragments set, `payload` bytes) is ever captured, 10 µs apart.
fn first_fragments<W: Write>(out: &mut PcapOut<W>, n: usize, payload: usize) -> io::Result<()> {
    benign(out, 40_001, "/before")?;
    let mut rng = Rng(0x5eed_000f);
    // A TCP header, then filler: what a first fragment of a segment holds.
    let mut bytes = vec![0u8; payload.max(8)];
    bytes[0..4].copy_from_slice(&[0x9c, 0x40, 0, 80]);
    for i in 0..n {
        let r = rng.next();
        let src = [10, (r >> 8) as u8, (r >> 16) as u8, (r >> 24) as u8];
        out.fragment(src, [192, 0, 2, 60], i as u16, 0, true, &bytes)?;
        out.tick(10);
    }
    benign(out, 40_002, "/after")
}

// ---------------------------------------------------------------------------
// Running and checking.

/// The analysis of one attack capture: the pass summary, the report built
/// from the records worth keeping, and how many records there were.
struct Outcome {
    summary: PassSummary,
    report: Report,
    records: u64,
}

/// Runs the pipeline in process. Records without transactions and without
/// anomalies (a SYN flood's hundreds of thousands of half-open connections)
/// are counted, not kept, so that the test itself stays small.
fn analyze(
    name: &str,
    write: impl FnOnce(&mut PcapOut<&mut Vec<u8>>) -> io::Result<()>,
) -> Outcome {
    let started = Instant::now();
    let mut bytes = Vec::new();
    {
        let mut out = PcapOut::new(&mut bytes).expect("pcap header");
        write(&mut out).expect("write attack");
        out.finish().expect("flush");
    }
    let file = TempFile::with_bytes(&format!("attack-{name}.pcap"), &bytes);
    let size = bytes.len();
    drop(bytes);
    let mut kept: Vec<ConnectionRecord> = Vec::new();
    let mut records = 0u64;
    let summary = pipeline::run(
        &[file.as_str().to_owned()],
        &PassOptions::default(),
        &mut |r| {
            records += 1;
            if !r.transactions.is_empty() || !r.anomalies.is_empty() {
                kept.push(r);
            }
        },
    )
    .unwrap_or_else(|e| panic!("{name}: fatal error {e}"));
    kept.sort_by_key(|r| r.id);
    let report = report::build(&summary, &kept);
    eprintln!(
        "attack {name}: {:.1} MB, {records} connections, {:.1} s",
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Outcome {
        summary,
        report,
        records,
    }
}

impl Outcome {
    fn warning(&self, kind: &str) -> u64 {
        let w = self.report.warnings.iter().find(|w| w.kind == kind);
        w.map_or(0, |w| w.count)
    }

    fn assert_warning(&self, kind: &str) -> u64 {
        let n = self.warning(kind);
        let kinds: Vec<&str> = self
            .report
            .warnings
            .iter()
            .map(|w| w.kind.as_str())
            .collect();
        assert!(n > 0, "warning {kind} missing; warnings: {kinds:?}");
        n
    }

    /// The two ordinary exchanges came through whole.
    fn assert_benign_intact(&self) {
        for uri in ["/before", "/after"] {
            let t = self
                .report
                .transactions
                .iter()
                .find(|t| t.uri.as_deref() == Some(uri))
                .unwrap_or_else(|| panic!("transaction {uri} missing"));
            assert_eq!(t.status, Some(200), "{uri}");
            assert_eq!(t.response_body_bytes, Some(3000), "{uri}");
            assert_eq!(t.incomplete, None, "{uri}");
        }
    }
}

#[test]
fn syn_flood_is_capped_by_live_connections() {
    use wireblame::tcp::flow::MAX_LIVE_CONNECTIONS;
    let syns = 2 * MAX_LIVE_CONNECTIONS;
    let o = analyze("syn-flood", |out| syn_flood(out, syns));
    // The segment after the one that puts the table one over its cap
    // evicts the stalest tenth: ten times during the flood (at SYN
    // cap + 2 + k × cap/10), and once more at the SYN/ACK of the ordinary
    // exchange after it, whose SYN took the table over its cap again.
    assert_eq!(
        o.assert_warning("live_connection_cap"),
        (MAX_LIVE_CONNECTIONS + MAX_LIVE_CONNECTIONS / 10) as u64
    );
    assert_eq!(o.summary.peak_live_connections, MAX_LIVE_CONNECTIONS + 1);
    assert_eq!(o.records, syns as u64 + 2);
    // Evicted SYN-only connections leave no tombstone, so nothing is late.
    assert_eq!(o.warning("late_segment"), 0);
    o.assert_benign_intact();
}

#[test]
fn sequence_hole_is_capped_by_the_reassembly_buffer() {
    use wireblame::tcp::reassembly::MAX_BUFFERED_BYTES;
    let beyond = 20 << 20;
    let o = analyze("sequence-hole", |out| sequence_hole(out, beyond));
    o.assert_warning("reassembly_buffer_full");
    o.assert_benign_intact();
    // Everything beyond the buffer was delivered in order (with gaps).
    let huge = o
        .report
        .transactions
        .iter()
        .find(|t| t.uri.as_deref() == Some("/huge"))
        .expect("the attacked transaction is reported");
    assert_eq!(huge.status, Some(200));
    let gaps = o.report.summary.quality.gap_bytes;
    assert!(gaps >= 1 << 20, "gap bytes {gaps}");
    let _ = MAX_BUFFERED_BYTES;
}

#[test]
fn endless_head_is_capped_at_64_kib() {
    let o = analyze("endless-head", |out| endless_head(out, 10 << 20));
    o.assert_warning("http_head_too_large");
    o.assert_benign_intact();
}

#[test]
fn unanswered_pipeline_is_capped_by_pending_requests_and_transactions_kept() {
    use wireblame::transaction::{DEFAULT_MAX_PENDING_REQUESTS, DEFAULT_MAX_TRANSACTIONS};
    let n = DEFAULT_MAX_PENDING_REQUESTS.max(DEFAULT_MAX_TRANSACTIONS) + 5_000;
    let o = analyze("pipelined", |out| pipelined(out, n));
    // One warning of each per connection.
    assert_eq!(o.assert_warning("too_many_pending_requests"), 1);
    assert_eq!(o.assert_warning("too_many_transactions"), 1);
    let detail = o
        .report
        .warnings
        .iter()
        .find(|w| w.kind == "too_many_transactions")
        .map(|w| w.detail.as_str());
    let beyond = n - DEFAULT_MAX_TRANSACTIONS;
    assert_eq!(
        detail,
        Some(
            format!(
                "{beyond} transactions after the first {DEFAULT_MAX_TRANSACTIONS} on this connection were counted, not kept"
            )
            .as_str()
        )
    );
    o.assert_benign_intact();
    // The first DEFAULT_MAX_TRANSACTIONS requests are reported, in order,
    // each as no_response; the rest are only counted.
    let attacked: Vec<_> = o
        .report
        .transactions
        .iter()
        .filter(|t| t.uri.as_deref().is_some_and(|u| u.starts_with("/p/")))
        .collect();
    assert_eq!(attacked.len(), DEFAULT_MAX_TRANSACTIONS);
    for (i, t) in attacked.iter().enumerate() {
        assert_eq!(t.uri.as_deref(), Some(format!("/p/{i}").as_str()));
        assert_eq!(t.incomplete.as_deref(), Some("no_response"), "/p/{i}");
    }
}

#[test]
fn chunk_size_overflow_is_an_anomaly() {
    let o = analyze("chunk-overflow", |out| chunk_overflow(out, 30, 4096));
    assert!(o.assert_warning("chunk_size_overflow") >= 30);
    o.assert_benign_intact();
}

/// Every address is a pair of its own, kept for 2MSL: past `MAX_PAIRS` the
/// pair quiet soonest is finished early, one for each new pair (the
/// ordinary exchanges' pair too, which `/after` then starts afresh).
#[test]
fn handshake_flood_is_capped_by_pairs() {
    use wireblame::blame::connections::MAX_PAIRS;
    let n = MAX_PAIRS + 5_000;
    let o = analyze("handshake-flood", |out| handshake_flood(out, n));
    assert_eq!(o.records, n as u64 + 2);
    o.assert_benign_intact();
    // `analyze` keeps only the records with transactions or anomalies; the
    // connection analysis must see them all.
    let mut bytes = Vec::new();
    {
        let mut out = PcapOut::new(&mut bytes).expect("pcap header");
        handshake_flood(&mut out, n).expect("write attack");
        out.finish().expect("flush");
    }
    let file = TempFile::with_bytes("attack-handshake-flood-all.pcap", &bytes);
    let options = report::ReportOptions::default();
    let mut analysis = report::ConnectionFindings::new(&options);
    pipeline::run(
        &[file.as_str().to_owned()],
        &PassOptions::default(),
        &mut |r| analysis.push(&r, true, &mut |_| {}),
    )
    .expect("pass");
    let warnings = analysis.finish(&mut |_| {});
    let counts: Vec<(&str, u64)> = warnings.iter().map(|(k, n, _)| (k, n)).collect();
    assert_eq!(
        counts,
        [("connection_pair_cap", (n + 2 - MAX_PAIRS) as u64)]
    );
}

#[test]
fn incomplete_fragments_are_capped() {
    use wireblame::defrag::MAX_PENDING_BYTES;
    // 1480-byte first fragments: the 4 MiB cap holds under 3,000 of them.
    let n = 3 * MAX_PENDING_BYTES / 1480;
    let o = analyze("fragments", |out| first_fragments(out, n, 1480));
    assert_eq!(o.assert_warning("ip_fragments_incomplete"), n as u64);
    o.assert_benign_intact();
}

#[test]
fn tiny_incomplete_fragments_are_counted() {
    // 8-byte first fragments stay far below the byte cap.
    let n = 5_000;
    let o = analyze("tiny-fragments", |out| first_fragments(out, n, 8));
    assert_eq!(o.assert_warning("ip_fragments_incomplete"), n as u64);
    o.assert_benign_intact();
}

// ---------------------------------------------------------------------------
// Structures that used to grow without bound (see docs/robustness.md,
// "What grows").

/// The live table must fit well inside the 256 MiB budget at its cap: half
/// of it for `MAX_LIVE_CONNECTIONS` half-open connections, each counted
/// with what it holds: the boxed `Connection` (its HTTP state is created
/// only when a byte arrives), its one timeline event, and two hash-map
/// slots (key, box pointer, control byte: a hashbrown table just past a
/// doubling is half empty). It used to fail: 1,768 B × 100,000 = 177 MB for
/// the boxes alone, and the 1M-SYN flood peaked at 1.8 GiB (json) /
/// 1.2 GiB (ndjson) with scripts/attack-rss.sh.
#[test]
fn live_table_at_its_cap_fits_half_the_budget() {
    use std::mem::size_of;
    use wireblame::tcp::{
        conn::Connection,
        flow::{FlowKey, MAX_LIVE_CONNECTIONS},
        timeline::SegEvent,
    };
    let slot = size_of::<FlowKey>() + size_of::<Box<Connection>>() + 1;
    let each = size_of::<Connection>() + size_of::<SegEvent>() + 2 * slot;
    let bytes = each * MAX_LIVE_CONNECTIONS;
    assert!(
        bytes <= 128 << 20,
        "{each} B × {MAX_LIVE_CONNECTIONS} = {bytes} B"
    );
}

/// Pending fragments cost linear time. `Defragmenter::push` used to scan
/// every pending datagram (`expire`) on every fragment, so n tiny first
/// fragments took O(n²) (release binary: 25,000 → 0.6 s, 50,000 → 2.6 s,
/// 100,000 → 14 s of CPU). Fixed in 314c6f3 (arrival-order queue).
#[test]
fn tiny_fragments_cost_linear_time() {
    use wireblame::defrag::{Defragmenter, Fragment};
    use wireblame::time::Timestamp;
    let run = |n: u32| {
        let mut d = Defragmenter::default();
        let started = Instant::now();
        for i in 0..n {
            let f = Fragment {
                src: std::net::IpAddr::from([10, (i >> 16) as u8, (i >> 8) as u8, i as u8]),
                dst: std::net::IpAddr::from([192, 0, 2, 60]),
                id: i,
                protocol: 6,
                offset: 0,
                more: true,
                payload: &[0u8; 8],
            };
            assert!(d.push(&f, Timestamp(i64::from(i) * 10_000)).is_none());
        }
        assert_eq!(d.incomplete(), u64::from(n));
        started.elapsed().as_secs_f64()
    };
    let small = run(4_000);
    let large = run(16_000);
    // Linear: about 4×; quadratic: about 16×. Allow noise.
    assert!(
        large < small * 8.0 + 0.05,
        "4,000: {small:.3} s, 16,000: {large:.3} s"
    );
}

// ---------------------------------------------------------------------------
// Full-size captures for scripts/attack-rss.sh.

/// Writes one attack capture.
type AttackWriter = Box<dyn Fn(&mut PcapOut<BufWriter<std::fs::File>>) -> io::Result<()>>;

/// The full-size attacks, by file name.
fn full_size() -> Vec<(&'static str, AttackWriter)> {
    vec![
        ("a-syn-flood-1m", Box::new(|o| syn_flood(o, 1_000_000))),
        (
            "b-sequence-hole-100mb",
            Box::new(|o| sequence_hole(o, 100 << 20)),
        ),
        (
            "c-endless-head-10mb",
            Box::new(|o| endless_head(o, 10 << 20)),
        ),
        ("d-pipelined-100k", Box::new(|o| pipelined(o, 100_000))),
        (
            "e-chunk-overflow-10k",
            Box::new(|o| chunk_overflow(o, 10_000, 1 << 14)),
        ),
        (
            "f-first-fragments-100k",
            Box::new(|o| first_fragments(o, 100_000, 1480)),
        ),
        (
            "f-tiny-first-fragments-100k",
            Box::new(|o| first_fragments(o, 100_000, 8)),
        ),
        (
            "g-handshake-flood-400k",
            Box::new(|o| handshake_flood(o, 400_000)),
        ),
    ]
}

/// Writes every full-size attack capture into `$ATTACK_DIR` (one
/// `<name>.pcap` each). Run by scripts/attack-rss.sh:
/// `ATTACK_DIR=… cargo test --release --test integration attacks -- --ignored`.
#[test]
#[ignore = "writes ~700 MB of captures; run by scripts/attack-rss.sh"]
fn write_full_size_attack_captures() {
    let Some(dir) = std::env::var_os("ATTACK_DIR") else {
        eprintln!("notice: ATTACK_DIR not set; no capture written");
        return;
    };
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).expect("create ATTACK_DIR");
    for (name, write) in full_size() {
        let path = dir.join(format!("{name}.pcap"));
        let file = std::fs::File::create(&path).expect("create capture");
        let mut out = PcapOut::new(BufWriter::with_capacity(1 << 20, file)).expect("header");
        write(&mut out).expect("write capture");
        let records = out.finish().expect("flush");
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        eprintln!("{}: {records} frames, {size} bytes", path.display());
    }
}
