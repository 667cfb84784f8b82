//! wireblame: why each HTTP transaction in a capture took as long as it did.
//!
//! The pipeline, one module per stage:
//!
//! ```text
//! capture (pcap/pcapng records) → decode (link, IP, TCP → Segment)
//!   → tcp::flow (four-tuple → Connection, numbered as Wireshark's tcp.stream)
//!   → tcp::conn (per-direction sequence tracking, handshake, close)
//!   → tcp::reassembly (in-order StreamItems with explicit gaps)
//!   → http + transaction (messages, request/response pairs)
//!   → pipeline (finished ConnectionRecords) → report (JSON model, tables)
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod anomaly;
pub mod blame;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod defrag;
pub mod dns;
pub mod error;
pub mod histogram;
pub mod http;
pub mod pipeline;
pub mod report;
pub mod run;
pub mod stream;
pub mod tcp;
pub mod time;
pub mod transaction;
