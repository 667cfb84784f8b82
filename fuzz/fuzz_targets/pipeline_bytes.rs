//! The whole pipeline on pcap/pcapng bytes, in memory: `CaptureReader` →
//! `decode` → `Defragmenter` → `DnsTable` → `FlowTable` (TCP tracking,
//! reassembly, HTTP) → `ConnectionRecord` (blame) → `report::build` → JSON,
//! table and HAR output. This mirrors `pipeline::read_one` (private) step by
//! step; keep it in step when that function changes.
//!
//! Checked besides "no panic": the JSON document parses back.
#![no_main]

use std::collections::BTreeMap;
use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use wireblame::capture::CaptureReader;
use wireblame::decode::{self, Decoded};
use wireblame::defrag::Defragmenter;
use wireblame::dns::DnsTable;
use wireblame::pipeline::{CaptureInfo, ConnectionRecord, PassSummary};
use wireblame::report;
use wireblame::tcp::conn::Connection;
use wireblame::tcp::flow::FlowTable;
use wireblame::time::Timestamp;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::from_reader("fuzz", Box::new(Cursor::new(data.to_vec())))
    else {
        return;
    };
    let mut summary = PassSummary::default();
    let mut records: Vec<ConnectionRecord> = Vec::new();
    let mut table = FlowTable::new();
    let mut info = CaptureInfo {
        path: "fuzz".into(),
        format: reader.format(),
        compressed: reader.is_compressed(),
        link_types: BTreeMap::new(),
        packets: 0,
        bytes: 0,
        first_ts: None,
        last_ts: None,
        damage: None,
    };
    {
        let mut done = |c: Connection| records.push(ConnectionRecord::from_connection(c, 0, true));
        let mut defrag = Defragmenter::default();
        let mut dns = DnsTable::new();
        loop {
            let frame = match reader.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(_) => return, // fatal (exit 2): nothing to report
            };
            info.packets += 1;
            info.bytes += frame.data.len() as u64;
            *info.link_types.entry(frame.link_type).or_insert(0) += 1;
            info.first_ts = Some(info.first_ts.map_or(frame.ts, |t| t.min(frame.ts)));
            info.last_ts = Some(info.last_ts.map_or(frame.ts, |t| t.max(frame.ts)));
            let decoded = decode::decode(&frame);
            let reassembled = match &decoded {
                Decoded::Fragment(f) => {
                    summary.decode.ip_fragments += 1;
                    defrag.push(f, frame.ts)
                }
                _ => None,
            };
            let decoded = match &reassembled {
                Some(p) => decode::decode_link(decode::linktype::RAW, p, p.len() as u32),
                None => decoded,
            };
            match decoded {
                Decoded::Tcp(seg) => {
                    summary.decode.tcp += 1;
                    let before = table.created();
                    table.segment(&seg, frame.ts, frame.number, &mut done);
                    if table.created() > before && seg.flags.syn() && !seg.flags.ack() {
                        link_dns(&mut table, &mut dns, &seg, frame.ts);
                    }
                }
                Decoded::Udp(d) => {
                    summary.decode.udp += 1;
                    dns.observe(&d, frame.ts, frame.number);
                }
                Decoded::Fragment(_) => {}
                Decoded::Other => summary.decode.other += 1,
                Decoded::UnsupportedLink(lt) => {
                    *summary.decode.unsupported_link.entry(lt).or_insert(0) += 1
                }
                Decoded::Malformed(l) => *summary.decode.malformed.entry(l).or_insert(0) += 1,
            }
        }
        if let Some(t) = info.last_ts {
            dns.advance(t);
        }
        for f in dns.failures() {
            summary.anomalies.add_n("dns_error", 1, f.kind.to_string());
        }
        summary.decode.ip_datagrams_reassembled += defrag.completed;
        summary.decode.ip_datagrams_incomplete += defrag.dropped + defrag.incomplete();
        table.finish(&mut done);
    }
    info.damage = reader.damage().cloned();
    summary.captures.push(info);
    summary.connections = u64::from(table.created());
    summary.peak_live_connections = table.peak_live;
    records.sort_by_key(|r| r.id);
    let report = report::build(&summary, &records);
    let json = serde_json::to_string(&report).expect("report serializes");
    let _: serde_json::Value = serde_json::from_str(&json).expect("report JSON parses");
    let _ = report::table::analyze(&report, 10, false);
    let _ = report::table::transactions(&report);
    let _ = report::har::to_har(&report, &BTreeMap::new());
});

/// As `pipeline::link_dns` (private).
fn link_dns(table: &mut FlowTable, dns: &mut DnsTable, seg: &decode::Segment<'_>, ts: Timestamp) {
    let Some(l) = dns
        .lookup(seg.dst.ip(), ts, None)
        .filter(|l| l.client == seg.src.ip())
    else {
        return;
    };
    let link = wireblame::blame::attribute::DnsLink {
        name: l.name.clone(),
        query_ts: l.query_ts,
        answer_ts: l.answer_ts,
        query_frame: l.query_frame,
        answer_frame: l.answer_frame,
        retries: l.retries,
    };
    if !dns.claim(link.answer_frame) {
        return;
    }
    if let Some(c) = table.get_mut(seg.src, seg.dst) {
        c.dns = Some(link);
    }
}
