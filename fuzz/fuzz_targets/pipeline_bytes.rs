//! The whole pipeline on pcap/pcapng bytes, in memory: `CaptureReader` →
//! `decode` → `Defragmenter` → `DnsTable` → `FlowTable` (TCP tracking,
//! reassembly, HTTP) → `ConnectionRecord` (blame) → the reports the command
//! line writes: `report::build` as JSON and tables, the analyze table from
//! `report::digest`, and HAR from `report::har_writer` (connections in the
//! order they finished), through the same `pipeline::run_readers` the
//! command line uses.
//!
//! Checked besides "no panic": the JSON and HAR documents parse back.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use wireblame::capture::CaptureReader;
use wireblame::pipeline::{self, ConnectionRecord, Numbering, PassOptions, PassSummary};
use wireblame::report;

/// The records of one pass over `data`, in the order they finished.
fn pass(data: &[u8]) -> Option<(PassSummary, Vec<ConnectionRecord>)> {
    let reader =
        CaptureReader::from_reader_with("fuzz", Box::new(Cursor::new(data.to_vec())), false)
            .ok()?;
    let options = PassOptions {
        keep_timeline: true,
        keep_headers: true,
        ..PassOptions::default()
    };
    let mut numbering = Numbering::default();
    let mut records: Vec<ConnectionRecord> = Vec::new();
    let opened = [Ok(("fuzz".to_string(), reader))];
    // A fatal error (exit 2) leaves nothing to report.
    let summary = pipeline::run_readers(opened, &options, &mut |f| {
        records.push(numbering.record(f, true))
    })
    .ok()?;
    Some((summary, records))
}

fuzz_target!(|data: &[u8]| {
    let Some((summary, mut records)) = pass(data) else {
        return;
    };
    // HAR and the analyze table take findings and headers out of the
    // records: each gets a pass of its own.
    let mut har = report::har_writer::HarWriter::new(false, &Default::default());
    for r in &mut records {
        har.add(r, true).expect("HAR spool in memory");
    }
    let mut doc = Vec::new();
    har.finish(&summary, &mut doc).expect("HAR written");
    let _: serde_json::Value = serde_json::from_slice(&doc).expect("HAR parses");

    let Some((summary, mut records)) = pass(data) else {
        return;
    };
    let mut digest = report::digest::Digest::new(false, 10, &Default::default());
    for r in &mut records {
        digest.add(r, true);
    }
    let _ = report::table::analyze(&digest.finish(&summary), 10, false);

    let Some((summary, mut records)) = pass(data) else {
        return;
    };
    records.sort_by_key(|r| r.id);
    let report = report::build(&summary, &records);
    let json = serde_json::to_string(&report).expect("report serializes");
    let _: serde_json::Value = serde_json::from_str(&json).expect("report JSON parses");
    let whole = report::table::transactions(&report);
    // The long-table path: rows spooled and read back, written in chunks.
    let mut spool = report::row_spool::RowSpool::default();
    for t in &report.transactions {
        let row = report::table::transaction_row(t);
        spool.add(t.connection, std::slice::from_ref(&row)).expect("spool in memory");
    }
    let mut long = Vec::new();
    let rows = spool.finish().expect("spool in memory");
    report::table::write_transactions_table(rows, 0, &mut long).expect("written to memory");
    if !report.transactions.is_empty() && whole.lines().count() == report.transactions.len() + 3 {
        assert_eq!(String::from_utf8(long).expect("UTF-8"), whole, "a table that fits");
    }
});
