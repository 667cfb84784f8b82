//! The JSON report's serialization types: the contract with dashboards.
//!
//! These types are separate from the internal ones so the internals can
//! change freely; `docs/json.md` documents every field. Adding fields is
//! allowed; renaming or removing one bumps [`SCHEMA_VERSION`]. Times are
//! integer microseconds since the Unix epoch (`*_us`), durations in
//! milliseconds (`*_ms`) with microsecond precision.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::Serialize;

/// Version of the report layout.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub capture: CaptureOut,
    pub warnings: Vec<Warning>,
    pub connections: Vec<ConnectionOut>,
    pub transactions: Vec<TransactionOut>,
    pub findings: Vec<FindingOut>,
    pub summary: SummaryOut,
}

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct Tool {
    pub name: &'static str,
    pub version: String,
}

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct CaptureOut {
    /// The file analyzed (several files: joined with ", ").
    pub path: String,
    /// "pcap" or "pcapng" (of the first file).
    pub format: &'static str,
    pub compressed: bool,
    /// Link types present, e.g. "ethernet", "linux_sll2".
    pub link_types: Vec<String>,
    pub packets: u64,
    pub bytes: u64,
    pub first_us: Option<i64>,
    pub last_us: Option<i64>,
    /// True when reading stopped at damage (a file cut short).
    pub truncated: bool,
    /// Where reading stopped, when `truncated`.
    pub truncated_at: Option<Damage>,
    /// Per-file details when several files were analyzed together.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileOut>,
    pub decode: DecodeOut,
}

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct FileOut {
    pub path: String,
    pub format: &'static str,
    pub packets: u64,
    pub truncated: bool,
}

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct Damage {
    pub path: String,
    pub offset: u64,
    pub after_frame: u64,
    pub detail: String,
}

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct DecodeOut {
    pub tcp: u64,
    pub udp: u64,
    pub ip_fragments: u64,
    /// Datagrams rebuilt from fragments (then decoded like any other).
    pub ip_datagrams_reassembled: u64,
    pub other: u64,
    /// Frames of link types wireblame does not decode, by link type name.
    pub not_analyzed: Vec<Count>,
    /// Frames cut or damaged before the TCP header ended, by layer.
    pub malformed: Vec<Count>,
}

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct Count {
    pub name: String,
    pub count: u64,
}

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct Warning {
    pub kind: String,
    pub count: u64,
    pub detail: String,
}

#[derive(Serialize, JsonSchema, Debug, Clone, Copy)]
pub struct PerSide<T> {
    pub client: T,
    pub server: T,
}

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct HandshakeOut {
    pub syn_us: Option<i64>,
    pub synack_us: Option<i64>,
    pub ack_us: Option<i64>,
    /// First SYN (the last one if it was retransmitted) to the client's ACK.
    pub rtt_us: Option<i64>,
    pub syn_retransmits: u32,
    pub synack_retransmits: u32,
    pub syn_frame: Option<u64>,
    pub synack_frame: Option<u64>,
    pub ack_frame: Option<u64>,
}

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct CloseOut {
    /// Who sent the first FIN or RST.
    pub by: Option<&'static str>,
    /// "fin", "rst" or "open" (still open at the end of the capture).
    pub how: &'static str,
    /// The side that closed first with FIN and so holds TIME_WAIT.
    pub active_closer: Option<&'static str>,
}

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct RetransOut {
    pub timeout: u64,
    pub fast: u64,
    pub spurious: u64,
    pub syn: u64,
    pub window_probe: u64,
    /// Of `timeout`: transmissions inferred from IP ID gaps (tail loss seen
    /// at the receiver's side), never captured.
    pub inferred: u64,
}

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct DirectionOut {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    pub timestamps: bool,
    pub retransmission_kinds: RetransOut,
    pub out_of_order: u64,
    pub duplicate_frames: u64,
    pub keepalives: u64,
    pub zero_windows: u64,
    /// Bytes the receiver acknowledged that the capture never saw.
    pub acked_unseen_bytes: u64,
    /// Bytes never captured (holes delivered as gaps).
    pub gap_bytes: u64,
}

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct ConnectionOut {
    /// = Wireshark's `tcp.stream`.
    pub id: u32,
    pub client: String,
    pub server: String,
    /// How the roles were decided: "syn", "synack" or "guessed".
    pub roles: &'static str,
    /// "http", "tls", "unknown", or null when no payload was seen.
    pub protocol: Option<&'static str>,
    pub first_frame: u64,
    pub start_us: i64,
    pub end_us: i64,
    pub handshake: Option<HandshakeOut>,
    pub vantage: &'static str,
    pub packets: PerSide<u64>,
    pub bytes: PerSide<u64>,
    pub retransmissions: PerSide<u64>,
    pub close: CloseOut,
    pub port_reused: bool,
    /// Time since the previous connection on this four-tuple closed.
    pub port_reused_after_us: Option<i64>,
    pub transactions: u32,
    pub details: PerSide<DirectionOut>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<usize>,
}

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct TimingsMs {
    pub blocked: f64,
    pub dns: f64,
    pub connect: f64,
    pub send: f64,
    pub wait: f64,
    pub receive: f64,
    pub total: f64,
}

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct TransactionOut {
    pub id: u64,
    pub connection: u32,
    pub index: u32,
    pub method: Option<Cow<'static, str>>,
    pub uri: Option<String>,
    pub host: Option<String>,
    pub version: Option<Cow<'static, str>>,
    pub status: Option<u16>,
    pub interim: Vec<u16>,
    pub request_head_bytes: Option<u64>,
    pub request_body_bytes: Option<u64>,
    pub request_body_decoded_bytes: Option<u64>,
    pub response_head_bytes: Option<u64>,
    pub response_body_bytes: Option<u64>,
    pub response_body_decoded_bytes: Option<u64>,
    pub request_first_frame: Option<u64>,
    pub request_last_frame: Option<u64>,
    pub response_first_frame: Option<u64>,
    pub response_last_frame: Option<u64>,
    pub request_start_us: Option<i64>,
    pub request_end_us: Option<i64>,
    pub response_start_us: Option<i64>,
    pub response_end_us: Option<i64>,
    pub incomplete: Option<String>,
    pub reused_connection: bool,
    pub pipelined: bool,
    pub idle_before_us: Option<i64>,
    pub timings_ms: TimingsMs,
    /// The transaction's whole time, partitioned by cause; sums to `timings_ms.total`.
    pub blame_ms: BlameMs,
    /// The cause with the most time.
    pub dominant_cause: &'static str,
    /// Start of the attributed span (DNS query, SYN or first request byte).
    pub span_start_us: i64,
    /// Index into `capture.files`, only when several files were analyzed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<usize>,
}

/// Milliseconds per cause (keys documented in docs/causes.md).
#[derive(Serialize, JsonSchema, Debug, Clone, Default)]
pub struct BlameMs {
    pub dns: f64,
    pub connect_rtt: f64,
    pub syn_retransmit: f64,
    pub client: f64,
    pub request_send: f64,
    pub network_rtt: f64,
    pub server: f64,
    pub head_of_line: f64,
    pub transfer: f64,
    pub slow_start: f64,
    pub loss_recovery: f64,
    pub receive_window: f64,
    pub nagle: f64,
    pub delayed_ack: f64,
    pub unexplained: f64,
}

impl BlameMs {
    /// The values in key order (index with `Cause::index()`).
    pub fn values(&self) -> [f64; 15] {
        let b = self;
        [
            b.dns,
            b.connect_rtt,
            b.syn_retransmit,
            b.client,
            b.request_send,
            b.network_rtt,
            b.server,
            b.head_of_line,
            b.transfer,
            b.slow_start,
            b.loss_recovery,
            b.receive_window,
            b.nagle,
            b.delayed_ack,
            b.unexplained,
        ]
    }

    /// From microseconds indexed by `Cause::index()`.
    pub fn from_us(p: &[i64; 15]) -> BlameMs {
        let ms = |i: usize| p[i] as f64 / 1000.0;
        BlameMs {
            dns: ms(0),
            connect_rtt: ms(1),
            syn_retransmit: ms(2),
            client: ms(3),
            request_send: ms(4),
            network_rtt: ms(5),
            server: ms(6),
            head_of_line: ms(7),
            transfer: ms(8),
            slow_start: ms(9),
            loss_recovery: ms(10),
            receive_window: ms(11),
            nagle: ms(12),
            delayed_ack: ms(13),
            unexplained: ms(14),
        }
    }
}

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct FindingOut {
    pub kind: &'static str,
    pub connection: Option<u32>,
    /// The transaction's `id` in `transactions`.
    pub transaction: Option<u64>,
    pub start_us: i64,
    pub duration_us: i64,
    pub frames: Vec<u64>,
    pub detail: String,
    pub confidence: &'static str,
    pub vantage: &'static str,
    /// Estimated time the recommendation would save, when known.
    pub saving_ms: Option<f64>,
    pub recommendation: Option<String>,
}

#[derive(Serialize, JsonSchema, Debug, Clone, Default)]
pub struct SummaryOut {
    pub connections: u64,
    pub transactions: u64,
    pub http_connections: u64,
    pub tls_connections: u64,
    pub peak_live_connections: u64,
    pub quality: QualityOut,
    /// Time by cause over all transactions, in `blame_ms` key order.
    pub time_by_cause: Vec<CauseTotal>,
    /// The findings with the most time, at most 10.
    pub top_findings: Vec<FindingOut>,
    /// What to change, ranked by estimated saving.
    pub recommendations: Vec<Recommendation>,
}

/// How far the capture can be trusted.
#[derive(Serialize, JsonSchema, Debug, Clone, Default)]
pub struct QualityOut {
    /// Most common vantage point of connections with a handshake.
    pub vantage: &'static str,
    /// Connections whose handshake was captured / all connections.
    pub handshakes_seen: u64,
    /// Bytes receivers acknowledged that the capture never saw.
    pub capture_loss_bytes: u64,
    /// Bytes never captured (capture loss, snaplen, holes at the end).
    pub gap_bytes: u64,
    pub truncated: bool,
    /// Frames not decoded (unsupported link types, damaged, fragments).
    pub frames_not_analyzed: u64,
    /// "good", "fair" or "poor", with the reasons.
    pub verdict: &'static str,
    pub reasons: Vec<String>,
}

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct CauseTotal {
    pub cause: &'static str,
    pub total_ms: f64,
    /// Percentiles over transactions (nearest rank), including zeros.
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    /// Transactions with a non-zero share of this cause.
    pub transactions: u64,
}

#[derive(Serialize, JsonSchema, Debug, Clone)]
pub struct Recommendation {
    pub kind: String,
    pub text: String,
    pub occurrences: u64,
    pub saving_ms: f64,
}
