//! The floor of issue 7 as its text defines it: read every record of a
//! capture with pcap-parser and slice every header with etherparse, nothing
//! more. `scripts/bench.sh` times it beside wireblame's own decode-only pass
//! (`analyze --decode-only`), which reads with wireblame's reader.
//!
//! Usage: cargo run --release --example floor -- CAPTURE
use etherparse::{LaxSlicedPacket, TransportSlice};
use pcap_parser::{Linktype, PcapBlockOwned, PcapError};
use std::fs::File;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: floor CAPTURE");
        return ExitCode::from(2);
    };
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("floor: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let mut reader = match pcap_parser::create_reader(1 << 20, file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("floor: {path}: not a capture: {e:?}");
            return ExitCode::from(2);
        }
    };
    let (mut frames, mut tcp, mut payload) = (0u64, 0u64, 0u64);
    let mut link = Linktype::ETHERNET;
    let mut count = |link: Linktype, data: &[u8]| {
        frames += 1;
        let sliced = match link {
            Linktype::ETHERNET => LaxSlicedPacket::from_ethernet(data).ok(),
            Linktype::RAW | Linktype::IPV4 | Linktype::IPV6 => LaxSlicedPacket::from_ip(data).ok(),
            _ => None,
        };
        if let Some(TransportSlice::Tcp(t)) = sliced.and_then(|s| s.transport) {
            tcp += 1;
            payload += t.payload().len() as u64;
        }
    };
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => link = h.network,
                    PcapBlockOwned::Legacy(b) => count(link, b.data),
                    PcapBlockOwned::NG(pcap_parser::Block::InterfaceDescription(i)) => {
                        link = i.linktype
                    }
                    PcapBlockOwned::NG(pcap_parser::Block::EnhancedPacket(p)) => {
                        count(link, p.data)
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if let Err(e) = reader.refill() {
                    eprintln!("floor: {path}: {e:?}");
                    return ExitCode::from(1);
                }
            }
            Err(e) => {
                eprintln!("floor: {path}: damaged after {frames} frames: {e:?}");
                return ExitCode::from(1);
            }
        }
    }
    println!("{frames} frames, {tcp} TCP segments, {payload} payload bytes");
    ExitCode::SUCCESS
}
