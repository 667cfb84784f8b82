//! Frame bytes × every link type through `decode::decode_link`. The first
//! byte picks the link type, the next two the wire length relative to the
//! captured length (so snaplen-cut frames are covered), the rest is the frame.
//! A decoded fragment is also pushed through a `Defragmenter`, twice, so that
//! the completion path runs on fuzzer-chosen payloads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wireblame::decode::{self, linktype, Decoded};
use wireblame::defrag::Defragmenter;
use wireblame::time::Timestamp;

const LINK_TYPES: &[u32] = &[
    linktype::NULL,
    linktype::ETHERNET,
    linktype::FDDI,
    linktype::RAW_BSD,
    linktype::RAW_OPENBSD,
    linktype::RAW,
    linktype::IEEE802_11,
    linktype::LOOP,
    linktype::LINUX_SLL,
    linktype::IEEE802_11_RADIOTAP,
    linktype::IPV4,
    linktype::IPV6,
    linktype::NFLOG,
    linktype::LINUX_SLL2,
    // Not decoded: must be reported as such, not misread.
    147,
    u32::MAX,
];

fuzz_target!(|input: &[u8]| {
    let [pick, extra_hi, extra_lo, frame @ ..] = input else {
        return;
    };
    let extra = u16::from_be_bytes([*extra_hi, *extra_lo]) as u32;
    let orig_len = (frame.len() as u32).saturating_add(extra);
    // One pick per run, plus every link type on the same bytes for the
    // first few thousand runs of short inputs (cheap, broad).
    let lt = LINK_TYPES[*pick as usize % LINK_TYPES.len()];
    check(lt, frame, orig_len);
    if pick & 0x80 != 0 {
        for &lt in LINK_TYPES {
            check(lt, frame, orig_len);
        }
    }
    let _ = decode::parse_options(frame);
});

fn check(lt: u32, frame: &[u8], orig_len: u32) {
    match decode::decode_link(lt, frame, orig_len) {
        Decoded::Tcp(seg) => {
            // Documented invariant of `Segment`.
            assert!(seg.payload.len() as u64 <= u64::from(seg.seg_len));
            let _ = (
                seg.src,
                seg.dst,
                seg.seq,
                seg.ack,
                seg.flags.0,
                seg.window,
                seg.options,
            );
        }
        Decoded::Fragment(f) => {
            let mut d = Defragmenter::default();
            let first = d.push(&f, Timestamp(0));
            // The same fragment as the last piece and as the first piece.
            let mut last = f;
            last.more = false;
            let _ = d.push(&last, Timestamp(1));
            let mut head = f;
            head.offset = 0;
            if let Some(packet) = d.push(&head, Timestamp(2)).or(first) {
                let _ = decode::decode_link(linktype::RAW, &packet, packet.len() as u32);
            }
        }
        Decoded::Udp(d) => {
            let mut dns = wireblame::dns::DnsTable::new();
            dns.observe(&d, Timestamp(0), 1);
            let _ = dns.failures();
        }
        Decoded::Other | Decoded::UnsupportedLink(_) | Decoded::Malformed(_) => {}
    }
}
