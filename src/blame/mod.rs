//! Blame: detect what delayed each transaction and partition its time exactly
//! into causes, with the packet evidence for each.
//!
//! Input: a finished connection's timeline (every segment, compactly) and its
//! HTTP transactions. Output: per transaction, the time of each [`Cause`]
//! (summing exactly to the transaction's span), and [`Finding`]s that name
//! the frames and thresholds behind each inference. Detectors are plain
//! functions with named thresholds; `docs/causes.md` documents each cause.

pub mod attribute;
pub mod connections;
pub mod rtt;
pub mod stalls;

use crate::tcp::conn::Vantage;
use crate::time::Timestamp;

/// Where a transaction's time went. The order is the order of the JSON keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    Dns,
    ConnectRtt,
    SynRetransmit,
    Client,
    RequestSend,
    NetworkRtt,
    Server,
    HeadOfLine,
    Transfer,
    SlowStart,
    LossRecovery,
    ReceiveWindow,
    Nagle,
    DelayedAck,
    Unexplained,
}

impl Cause {
    pub const ALL: [Cause; 15] = [
        Cause::Dns,
        Cause::ConnectRtt,
        Cause::SynRetransmit,
        Cause::Client,
        Cause::RequestSend,
        Cause::NetworkRtt,
        Cause::Server,
        Cause::HeadOfLine,
        Cause::Transfer,
        Cause::SlowStart,
        Cause::LossRecovery,
        Cause::ReceiveWindow,
        Cause::Nagle,
        Cause::DelayedAck,
        Cause::Unexplained,
    ];

    /// The `blame_ms` key.
    pub fn key(self) -> &'static str {
        match self {
            Cause::Dns => "dns",
            Cause::ConnectRtt => "connect_rtt",
            Cause::SynRetransmit => "syn_retransmit",
            Cause::Client => "client",
            Cause::RequestSend => "request_send",
            Cause::NetworkRtt => "network_rtt",
            Cause::Server => "server",
            Cause::HeadOfLine => "head_of_line",
            Cause::Transfer => "transfer",
            Cause::SlowStart => "slow_start",
            Cause::LossRecovery => "loss_recovery",
            Cause::ReceiveWindow => "receive_window",
            Cause::Nagle => "nagle",
            Cause::DelayedAck => "delayed_ack",
            Cause::Unexplained => "unexplained",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// How sure an inference is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// One piece of evidence: what happened, when, which frames show it.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// Stable snake_case name, e.g. `nagle_stall`, `time_wait_accumulation`.
    pub kind: &'static str,
    /// Connection id, when the finding is about one connection.
    pub connection: Option<u32>,
    /// Index of the transaction on its connection, when about one transaction.
    pub transaction: Option<u32>,
    pub start: Timestamp,
    pub duration_ns: i64,
    /// 1-based frame numbers of the evidence.
    pub frames: Vec<u64>,
    /// What was seen and which thresholds decided it.
    pub detail: String,
    pub confidence: Confidence,
    pub vantage: Vantage,
    /// Estimated time the recommended change would save, when known.
    pub saving_ns: Option<i64>,
    /// What to change, in one sentence, when there is something to change.
    pub recommendation: Option<String>,
}
