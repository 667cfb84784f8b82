//! The single pass: frames → decode → flow table → finished connections.
//!
//! Reads one or more capture files in one streaming pass each, routes TCP
//! segments to the flow table, and turns every finalized connection into a
//! [`ConnectionRecord`] (its counters plus its HTTP transactions), handed to a
//! caller-supplied sink as soon as the connection is finalized. Memory is
//! bounded by live connections; nothing keeps the frames.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::anomaly::AnomalyCounts;
use crate::blame::attribute::{self, DnsLink, TxBlame};
use crate::blame::rtt::PathRtt;
use crate::blame::Finding;
use crate::capture::{CaptureDamage, CaptureFormat, CaptureReader};
use crate::decode::{self, Decoded};
use crate::error::Error;
use crate::stream::Side;
use crate::tcp::conn::{CloseHow, Connection, Handshake, Retransmissions, RoleSource, Vantage};
use crate::tcp::flow::FlowTable;
use crate::time::Timestamp;
use crate::transaction::{Protocol, Transaction};

/// What was read from one capture file.
#[derive(Clone, Debug)]
pub struct CaptureInfo {
    pub path: String,
    pub format: CaptureFormat,
    pub compressed: bool,
    /// Records per link type.
    pub link_types: BTreeMap<u32, u64>,
    pub packets: u64,
    /// Captured bytes of all records.
    pub bytes: u64,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
    pub damage: Option<CaptureDamage>,
}

/// How the frames decoded.
#[derive(Clone, Debug, Default)]
pub struct DecodeCounts {
    pub tcp: u64,
    pub udp: u64,
    pub ip_fragments: u64,
    pub ip_datagrams_reassembled: u64,
    /// Fragmented datagrams never completed (timeout, memory cap, end of file).
    pub ip_datagrams_incomplete: u64,
    pub other: u64,
    pub unsupported_link: BTreeMap<u32, u64>,
    pub malformed: BTreeMap<&'static str, u64>,
}

/// Per-direction figures of a finished connection.
#[derive(Clone, Debug, Default)]
pub struct DirectionRecord {
    pub packets: u64,
    pub bytes: u64,
    pub retrans: Retransmissions,
    pub out_of_order: u64,
    pub duplicate_frames: u64,
    pub keepalives: u64,
    pub zero_windows: u64,
    pub acked_unseen: u64,
    pub gap_bytes: u64,
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    pub timestamps: bool,
    pub fin: bool,
    pub rst: bool,
}

/// A finished connection, ready for reporting.
#[derive(Clone, Debug)]
pub struct ConnectionRecord {
    pub id: u32,
    /// Index of the capture file it came from (several files in one run).
    pub file: usize,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub roles: RoleSource,
    pub first_frame: u64,
    pub start: Timestamp,
    pub end: Timestamp,
    pub handshake: Option<Handshake>,
    pub handshake_rtt_ns: Option<i64>,
    pub vantage: Vantage,
    pub dirs: [DirectionRecord; 2],
    pub close_by: Option<Side>,
    pub close_how: CloseHow,
    pub active_closer: Option<Side>,
    pub port_reused: Option<Option<i64>>,
    pub protocol: Option<Protocol>,
    pub transactions: Vec<Transaction>,
    /// Report id of the first transaction; the others follow. Transactions
    /// are numbered across the run in the order connections are finalized,
    /// so every output format (and a filtered run) gives a transaction the
    /// same id.
    pub first_tx_id: u64,
    /// Attribution of each transaction (parallel to `transactions`).
    pub blame: Vec<Option<TxBlame>>,
    pub findings: Vec<Finding>,
    pub rtt: PathRtt,
    pub dns: Option<DnsLink>,
    pub anomalies: AnomalyCounts,
    /// The segment timeline, kept only when asked for (HTML graphs).
    pub timeline: Option<Vec<crate::tcp::timeline::SegEvent>>,
}

impl ConnectionRecord {
    pub fn from_connection(
        mut c: Connection,
        file: usize,
        keep_timeline: bool,
    ) -> ConnectionRecord {
        let dns = c.dns.take();
        let handshake =
            (c.handshake.syn.is_some() || c.handshake.synack.is_some()).then_some(c.handshake);
        let handshake_rtt_ns = c.handshake_rtt_ns();
        let vantage = c.vantage();
        let active_closer = c.active_closer();
        let dirs = [Side::Client, Side::Server].map(|s| {
            let d = c.dir(s);
            DirectionRecord {
                packets: d.packets,
                bytes: d.bytes,
                retrans: d.retrans,
                out_of_order: d.out_of_order,
                duplicate_frames: d.duplicate_frames,
                keepalives: d.keepalives,
                zero_windows: d.zero_windows,
                acked_unseen: d.acked_unseen,
                gap_bytes: d.reasm.gap_bytes,
                mss: d.mss,
                window_scale: d.window_scale,
                sack_permitted: d.sack_permitted,
                timestamps: d.timestamps,
                fin: d.fin.is_some(),
                rst: d.rst.is_some(),
            }
        });
        let http = std::mem::replace(
            &mut c.http,
            crate::transaction::HttpConversation::new(Default::default()),
        );
        let result = http.finish();
        let blame = attribute::blame_connection(&c, &result.transactions, dns.as_ref());
        let mut anomalies = c.anomalies;
        for a in result.anomalies {
            anomalies.add(a);
        }
        ConnectionRecord {
            id: c.id,
            file,
            client: c.client,
            server: c.server,
            roles: c.roles,
            first_frame: c.first_frame,
            start: c.start,
            end: c.last,
            handshake,
            handshake_rtt_ns,
            vantage,
            dirs,
            close_by: c.close_by,
            close_how: c.close_how,
            active_closer,
            port_reused: c.port_reused,
            protocol: result.protocol,
            transactions: result.transactions,
            first_tx_id: 0,
            blame: blame.transactions,
            findings: blame.findings,
            rtt: blame.rtt,
            dns,
            anomalies,
            timeline: keep_timeline.then(|| std::mem::take(&mut c.timeline.events)),
        }
    }

    pub fn dir(&self, side: Side) -> &DirectionRecord {
        &self.dirs[side.index()]
    }
}

/// Everything the pass produced besides the connection records.
#[derive(Clone, Debug, Default)]
pub struct PassSummary {
    pub captures: Vec<CaptureInfo>,
    pub decode: DecodeCounts,
    pub anomalies: AnomalyCounts,
    pub connections: u64,
    pub peak_live_connections: usize,
}

/// Called now and then with (file, captured bytes read, frames read).
pub type ProgressHook = std::rc::Rc<dyn Fn(&str, u64, u64)>;

/// How often (in frames) the progress hook is called.
const PROGRESS_EVERY: u64 = 1 << 16;

/// Options for a pass.
#[derive(Clone, Default)]
pub struct PassOptions {
    /// Skip the flow table (decode only): the benchmark floor.
    pub decode_only: bool,
    /// Keep each connection's segment timeline in its record (HTML graphs).
    pub keep_timeline: bool,
    /// Keep HTTP headers in the transactions (HAR); other outputs do
    /// not show them, and not copying them saves most of the allocations.
    pub keep_headers: bool,
    pub progress: Option<ProgressHook>,
    /// Read the capture on a thread of its own (not with `--threads 1`).
    pub read_ahead: bool,
}

impl std::fmt::Debug for PassOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassOptions")
            .field("decode_only", &self.decode_only)
            .field("keep_timeline", &self.keep_timeline)
            .field("keep_headers", &self.keep_headers)
            .field("progress", &self.progress.is_some())
            .field("read_ahead", &self.read_ahead)
            .finish()
    }
}

/// A finalized connection, not yet turned into a [`ConnectionRecord`]: that
/// work (HTTP finish, blame attribution) can run on another thread, in the
/// same order, through [`Numbering`].
pub struct Finished {
    pub conn: Connection,
    /// Index of the capture file it came from.
    pub file: usize,
}

/// Turns finished connections into records, numbering transactions across
/// the run in the order connections are finalized.
#[derive(Debug, Default)]
pub struct Numbering {
    next_tx_id: u64,
}

impl Numbering {
    pub fn record(&mut self, f: Finished, keep_timeline: bool) -> ConnectionRecord {
        let mut r = ConnectionRecord::from_connection(f.conn, f.file, keep_timeline);
        r.first_tx_id = self.next_tx_id;
        self.next_tx_id += r.transactions.len() as u64;
        r
    }
}

/// Reads the captures in order and feeds every finished connection to `sink`.
/// Connection ids continue across files.
pub fn run(
    paths: &[String],
    options: &PassOptions,
    sink: &mut dyn FnMut(ConnectionRecord),
) -> Result<PassSummary, Error> {
    let mut numbering = Numbering::default();
    let keep = options.keep_timeline;
    run_connections(paths, options, &mut |f| sink(numbering.record(f, keep)))
}

/// As [`run`], handing over connections before they become records.
pub fn run_connections(
    paths: &[String],
    options: &PassOptions,
    sink: &mut dyn FnMut(Finished),
) -> Result<PassSummary, Error> {
    // Each file is opened only when its turn comes (a later missing file
    // still fails after the earlier ones were read, as before).
    let readers = paths
        .iter()
        .map(|path| CaptureReader::open_with(path, options.read_ahead).map(|r| (path.clone(), r)));
    run_readers(readers, options, sink)
}

/// The pass over already opened captures, `(name, reader)` in order: what
/// [`run_connections`] does after opening its files (the fuzz target feeds
/// in-memory bytes through here).
pub fn run_readers(
    readers: impl IntoIterator<Item = Result<(String, CaptureReader), Error>>,
    options: &PassOptions,
    sink: &mut dyn FnMut(Finished),
) -> Result<PassSummary, Error> {
    let mut summary = PassSummary::default();
    let mut table = FlowTable::new();
    if !options.keep_headers {
        table.http_limits.max_headers_kept = 0;
    }
    for (file, opened) in readers.into_iter().enumerate() {
        let (path, mut reader) = opened?;
        let path = path.as_str();
        let info = read_one(
            &mut reader,
            path,
            file,
            &mut table,
            &mut summary,
            options,
            sink,
        )?;
        summary.captures.push(info);
        // Connections do not span files: finish them at each file's end.
        table.finish(&mut |conn| sink(Finished { conn, file }));
    }
    summary.connections = table.created() as u64;
    summary.peak_live_connections = table.peak_live;
    if table.evicted_for_memory > 0 {
        summary.anomalies.add_n(
            "live_connection_cap",
            table.evicted_for_memory,
            format!(
                "more than {} connections were open at once; the stalest were finalized early",
                crate::tcp::flow::MAX_LIVE_CONNECTIONS
            ),
        );
    }
    if table.late_segments > 0 {
        summary.anomalies.add_n(
            "late_segment",
            table.late_segments,
            "segments of a connection that had already been closed and finalized",
        );
    }
    Ok(summary)
}

/// Links a new connection to the DNS answer that gave its server's address
/// just before the SYN. Each answer is charged to the first connection after
/// it only (later connections reuse the cached address).
fn link_dns(
    table: &mut FlowTable,
    dns: &mut crate::dns::DnsTable,
    seg: &crate::decode::Segment<'_>,
    ts: Timestamp,
) {
    let Some(link) = dns
        .lookup(seg.dst.ip(), ts, None)
        .filter(|l| l.client == seg.src.ip())
        .map(|l| DnsLink {
            name: l.name.clone(),
            query_ts: l.query_ts,
            answer_ts: l.answer_ts,
            query_frame: l.query_frame,
            answer_frame: l.answer_frame,
            retries: l.retries,
        })
    else {
        return;
    };
    if !dns.claim(link.answer_frame) {
        return;
    }
    if let Some(c) = table.get_mut(seg.src, seg.dst) {
        c.dns = Some(link);
    }
}

#[allow(clippy::too_many_arguments)]
fn read_one(
    reader: &mut CaptureReader,
    path: &str,
    file: usize,
    table: &mut FlowTable,
    summary: &mut PassSummary,
    options: &PassOptions,
    sink: &mut dyn FnMut(Finished),
) -> Result<CaptureInfo, Error> {
    let mut info = CaptureInfo {
        path: path.to_string(),
        format: reader.format(),
        compressed: reader.is_compressed(),
        link_types: BTreeMap::new(),
        packets: 0,
        bytes: 0,
        first_ts: None,
        last_ts: None,
        damage: None,
    };
    let mut done = |conn: Connection| sink(Finished { conn, file });
    let mut prev_ts: Option<Timestamp> = None;
    let mut link_run: Option<(u32, u64)> = None;
    let mut defrag = crate::defrag::Defragmenter::default();
    let mut dns = crate::dns::DnsTable::new();
    while let Some(frame) = reader.next_frame()? {
        info.packets += 1;
        if info.packets % PROGRESS_EVERY == 0 {
            if let Some(hook) = &options.progress {
                hook(path, info.bytes, info.packets);
            }
        }
        info.bytes += frame.data.len() as u64;
        // Counted per run of one link type (a map lookup per frame showed
        // in profiles); the last run is added after the loop.
        match &mut link_run {
            Some((link, n)) if *link == frame.link_type => *n += 1,
            _ => {
                if let Some((link, n)) = link_run.replace((frame.link_type, 1)) {
                    *info.link_types.entry(link).or_insert(0) += n;
                }
            }
        }
        info.first_ts = Some(info.first_ts.map_or(frame.ts, |t| t.min(frame.ts)));
        info.last_ts = Some(info.last_ts.map_or(frame.ts, |t| t.max(frame.ts)));
        if prev_ts.is_some_and(|p| frame.ts < p) {
            summary.anomalies.add_n(
                "timestamp_backwards",
                1,
                format!(
                    "{path}: frame {} is earlier than the frame before it",
                    frame.number
                ),
            );
        }
        prev_ts = Some(frame.ts);
        let decoded = decode::decode(&frame);
        // A fragment that completes a datagram yields the datagram, credited
        // to this frame (as Wireshark does).
        let reassembled = match &decoded {
            Decoded::Fragment(f) => {
                summary.decode.ip_fragments += 1;
                defrag.push(f, frame.ts)
            }
            _ => None,
        };
        // Matched by reference: a decoded frame is 180 bytes, and each move
        // of it was a copy per frame.
        let rebuilt;
        let decoded = match &reassembled {
            Some(packet) => {
                rebuilt = decode::decode_link(decode::linktype::RAW, packet, packet.len() as u32);
                &rebuilt
            }
            None => &decoded,
        };
        match decoded {
            Decoded::Tcp(seg) => {
                summary.decode.tcp += 1;
                if !options.decode_only {
                    let before = table.created();
                    table.segment(seg, frame.ts, frame.number, &mut done);
                    if table.created() > before && seg.flags.syn() && !seg.flags.ack() {
                        link_dns(table, &mut dns, seg, frame.ts);
                    }
                }
            }
            Decoded::Udp(d) => {
                summary.decode.udp += 1;
                dns.observe(d, frame.ts, frame.number);
            }
            Decoded::Fragment(_) => {}
            Decoded::Other => summary.decode.other += 1,
            Decoded::UnsupportedLink(lt) => {
                *summary.decode.unsupported_link.entry(*lt).or_insert(0) += 1
            }
            Decoded::Malformed(layer) => *summary.decode.malformed.entry(layer).or_insert(0) += 1,
        }
    }
    if let Some((link, n)) = link_run {
        *info.link_types.entry(link).or_insert(0) += n;
    }
    if let Some(d) = reader.damage() {
        summary.anomalies.add_n(
            "capture_truncated",
            1,
            format!(
                "{path}: reading stopped at byte offset {} after frame {}: {}",
                d.offset, info.packets, d.detail
            ),
        );
        info.damage = Some(d.clone());
    }
    if let Some(t) = info.last_ts {
        dns.advance(t);
    }
    for f in dns.failures() {
        let kind = if f.kind == "timeout" {
            "dns_timeout"
        } else {
            "dns_error"
        };
        summary.anomalies.add_n(
            kind,
            1,
            format!(
                "{path}: frame {}: lookup of {} {} ({} retries)",
                f.query_frame,
                f.name,
                if f.kind == "timeout" {
                    "got no answer".to_string()
                } else {
                    format!("failed: {}", f.kind)
                },
                f.retries
            ),
        );
    }
    summary.decode.ip_datagrams_reassembled += defrag.completed;
    summary.decode.ip_datagrams_incomplete += defrag.dropped + defrag.incomplete();
    Ok(info)
}
