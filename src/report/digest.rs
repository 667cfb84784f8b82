//! The analyze view's report, gathered one finished connection at a time in
//! memory that does not grow with the capture.
//!
//! The view shows the capture, the summary (time by cause, top findings,
//! recommendations), the warnings, how many connections and transactions
//! there were, and the slowest transactions. All of it but the slowest
//! transactions comes from the same running totals as the streamed JSON
//! report ([`ReportAcc`]); of the transactions only the `top` slowest are
//! kept, so a 1 GB capture needs its live connections, not its 300,000
//! transactions, in memory.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::model::{Report, TransactionOut};
use super::{capture_out, record_out_taking, tool, ReportAcc, ReportOptions, SCHEMA_VERSION};
use crate::pipeline::{ConnectionRecord, PassSummary};

/// Builds the analyze view's report.
pub struct Digest {
    multi: bool,
    top: usize,
    totals: ReportAcc,
    connections: usize,
    transactions: usize,
    /// The `top` slowest so far, the fastest of them on top.
    slowest: BinaryHeap<Slow>,
}

/// What the analyze view needs: the report with the slowest transactions
/// only, and the counts of everything.
pub struct DigestReport {
    /// `transactions` holds the slowest ones (in no particular order);
    /// `connections` and `findings` are empty.
    pub report: Report,
    pub connections: usize,
    pub transactions: usize,
}

impl Digest {
    /// `multi`: several capture files; `top`: slowest transactions to keep.
    pub fn new(multi: bool, top: usize, options: &ReportOptions) -> Digest {
        Digest {
            multi,
            top,
            totals: ReportAcc::new(options),
            connections: 0,
            transactions: 0,
            slowest: BinaryHeap::new(),
        }
    }

    /// One finished connection; `keep`: false when a filter left it out.
    pub fn add(&mut self, r: &mut ConnectionRecord, keep: bool) {
        self.totals.analyze(r, keep);
        if !keep {
            return;
        }
        let out = record_out_taking(r, self.multi);
        self.totals.add(r, &out);
        self.connections += 1;
        self.transactions += out.transactions.len();
        for t in out.transactions {
            self.offer(t);
        }
    }

    fn offer(&mut self, t: TransactionOut) {
        if self.top == 0 {
            return;
        }
        let t = Slow(t);
        if self.slowest.len() < self.top {
            self.slowest.push(t);
        } else if self.slowest.peek().is_some_and(|fastest| t < *fastest) {
            self.slowest.pop();
            self.slowest.push(t);
        }
    }

    pub fn finish(mut self, summary: &PassSummary) -> DigestReport {
        self.totals.finish_analysis();
        let (warnings, summary_out) = self.totals.finish(summary);
        DigestReport {
            report: Report {
                schema_version: SCHEMA_VERSION,
                tool: tool(),
                capture: capture_out(summary),
                warnings,
                connections: Vec::new(),
                transactions: self.slowest.into_iter().map(|s| s.0).collect(),
                findings: Vec::new(),
                summary: summary_out,
            },
            connections: self.connections,
            transactions: self.transactions,
        }
    }
}

/// A transaction ordered as the view lists them: longer first, then by id;
/// so the heap's greatest is the one listed last.
struct Slow(TransactionOut);

impl Ord for Slow {
    fn cmp(&self, other: &Slow) -> Ordering {
        other
            .0
            .timings_ms
            .total
            .total_cmp(&self.0.timings_ms.total)
            .then(self.0.id.cmp(&other.0.id))
    }
}

impl PartialOrd for Slow {
    fn partial_cmp(&self, other: &Slow) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Slow {
    fn eq(&self, other: &Slow) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Slow {}
