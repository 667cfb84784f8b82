//! HTTP conversation bytes, split at fuzzer-chosen points, fed to
//! `HttpConversation::push` as `StreamItem`s on both sides.
//!
//! Input: one byte of options, then a list of operations, each a control
//! byte `c` followed by its argument:
//!
//! - side: `c & 0x80` set = server, clear = client;
//! - `c & 0x60` = 0x00 or 0x20: data. Length `c & 0x1f`; 31 means "the
//!   next two bytes, little-endian". The bytes follow (fewer if the input
//!   ends). So the fuzzer chooses every split point and the interleaving.
//! - 0x40: a gap; its length is the next two bytes, little-endian (0 = 1).
//! - 0x60: the end of that direction; `c & 3` picks fin, rst, end of capture.
//!
//! Options byte: bit 0 selects tiny limits (head 128 bytes, 3 pending
//! requests, 4 headers kept) so that every cap is reachable; bit 1 makes
//! timestamps go backwards now and then (captures do that).
//!
//! `fuzz/seeds.py` turns `tests/http/*.txt` scripts into this format.
//! Checked besides "no panic": buffered memory stays within the documented
//! caps after every push.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wireblame::http::sniff::MAX_PROBE_BYTES;
use wireblame::stream::{Chunk, EndReason, Side, StreamItem};
use wireblame::time::Timestamp;
use wireblame::transaction::{HttpConversation, HttpLimits};

fuzz_target!(|input: &[u8]| {
    let Some((&options, mut rest)) = input.split_first() else {
        return;
    };
    let limits = if options & 1 != 0 {
        HttpLimits {
            max_head_bytes: 128,
            max_pending_requests: 3,
            max_headers_kept: 4,
            max_transactions: 5,
        }
    } else {
        HttpLimits::default()
    };
    let backwards = options & 2 != 0;
    // Head buffers and probes, both sides, with Vec growth slack.
    let bound = 2 * (2 * limits.max_head_bytes + 4 * MAX_PROBE_BYTES) + 4096;
    let mut conv = HttpConversation::new(limits);
    let mut offsets = [0u64; 2];
    let mut step = 0u64;
    while let Some((&c, tail)) = rest.split_first() {
        rest = tail;
        step += 1;
        let side = if c & 0x80 != 0 {
            Side::Server
        } else {
            Side::Client
        };
        let mut ms = step as i64;
        if backwards && step.is_multiple_of(7) {
            ms -= 5;
        }
        let ts = Timestamp(ms * 1_000_000);
        let offset = &mut offsets[side.index()];
        let item = match c & 0x60 {
            0x00 | 0x20 => {
                let mut len = (c & 0x1f) as usize;
                if len == 31 {
                    len = take_u16(&mut rest) as usize;
                }
                let n = len.min(rest.len());
                let (bytes, tail) = rest.split_at(n);
                rest = tail;
                let chunk = Chunk {
                    offset: *offset,
                    bytes,
                    ts,
                    frame: step,
                    first_seen: ts,
                };
                *offset += n as u64;
                StreamItem::Data(chunk)
            }
            0x40 => {
                let len = u64::from(take_u16(&mut rest).max(1));
                let item = StreamItem::Gap {
                    offset: *offset,
                    len,
                    ts,
                    frame: step,
                };
                *offset += len;
                item
            }
            _ => StreamItem::End {
                reason: match c & 3 {
                    0 => EndReason::Fin,
                    1 => EndReason::Rst,
                    _ => EndReason::EndOfCapture,
                },
                ts,
                frame: step,
            },
        };
        conv.push(side, &item);
        let held = conv.buffered_bytes();
        assert!(held <= bound, "{held} bytes buffered, bound {bound}");
        let _ = (conv.protocol(), conv.is_done(), conv.tunnel_bytes(side));
    }
    let result = conv.finish();
    for t in &result.transactions {
        for m in t.request.iter().chain(t.response.iter()) {
            assert!(m.headers.len() <= limits.max_headers_kept);
        }
    }
    let _ = format!("{:?}", result.anomalies);
});

fn take_u16(rest: &mut &[u8]) -> u16 {
    match rest {
        [a, b, tail @ ..] => {
            let v = u16::from_le_bytes([*a, *b]);
            *rest = tail;
            v
        }
        _ => {
            *rest = &[];
            0
        }
    }
}
