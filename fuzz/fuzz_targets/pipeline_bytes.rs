//! The whole pipeline on pcap/pcapng bytes, in memory: `CaptureReader` →
//! `decode` → `Defragmenter` → `DnsTable` → `FlowTable` (TCP tracking,
//! reassembly, HTTP) → `ConnectionRecord` (blame) → `report::build` → JSON,
//! table and HAR output, through the same `pipeline::run_readers` the
//! command line uses.
//!
//! Checked besides "no panic": the JSON document parses back.
#![no_main]

use std::collections::BTreeMap;
use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use wireblame::capture::CaptureReader;
use wireblame::pipeline::{self, ConnectionRecord, Numbering, PassOptions};
use wireblame::report;

fuzz_target!(|data: &[u8]| {
    let Ok(reader) =
        CaptureReader::from_reader_with("fuzz", Box::new(Cursor::new(data.to_vec())), false)
    else {
        return;
    };
    let options = PassOptions {
        keep_timeline: true,
        keep_headers: true,
        ..PassOptions::default()
    };
    let mut numbering = Numbering::default();
    let mut records: Vec<ConnectionRecord> = Vec::new();
    let opened = [Ok(("fuzz".to_string(), reader))];
    let Ok(summary) = pipeline::run_readers(opened, &options, &mut |f| {
        records.push(numbering.record(f, true))
    }) else {
        return; // fatal (exit 2): nothing to report
    };
    records.sort_by_key(|r| r.id);
    let report = report::build(&summary, &records);
    let json = serde_json::to_string(&report).expect("report serializes");
    let _: serde_json::Value = serde_json::from_str(&json).expect("report JSON parses");
    let _ = report::table::analyze(&report, 10, false);
    let _ = report::table::transactions(&report);
    let _ = report::har::to_har(&report, &BTreeMap::new());
});
