//! TCP: sequence math, the flow table, per-connection tracking and reassembly.
//!
//! - [`seq`]: wrap-aware sequence numbers → 64-bit positions.
//! - [`flow`]: four-tuple → connection, numbering (= Wireshark `tcp.stream`),
//!   port reuse, eviction by capture time.
//! - [`conn`]: one connection: roles, handshake, both directions' counters and
//!   verdicts, close.
//! - [`reassembly`]: one direction's bytes in order, with explicit gaps.
//! - [`timeline`]: the compact per-segment record the blame detectors replay.
//! - [`tombstones`]: what is remembered of finalized four-tuples, for stragglers
//!   and port reuse.

pub mod conn;
pub mod flow;
pub mod reassembly;
pub mod seq;
pub mod timeline;
pub mod tombstones;
