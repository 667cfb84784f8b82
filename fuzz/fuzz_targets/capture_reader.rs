//! Whole-file bytes through `CaptureReader::from_reader`: every record until
//! the end, damage or a fatal error. Must never panic; the reader's own
//! promises are checked too (1-based increasing frame numbers, records no
//! larger than `MAX_RECORD_BYTES`, damage only at an offset inside the input).
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use wireblame::capture::{CaptureReader, MAX_RECORD_BYTES};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) =
        CaptureReader::from_reader_with("fuzz", Box::new(Cursor::new(data.to_vec())), false)
    else {
        return;
    };
    let _ = (reader.format(), reader.is_compressed());
    let mut last = 0u64;
    loop {
        match reader.next_frame() {
            Ok(Some(frame)) => {
                assert_eq!(frame.number, last + 1, "frame numbers are consecutive");
                last = frame.number;
                assert!(frame.data.len() <= MAX_RECORD_BYTES);
                // Touch every field the pipeline reads.
                let _ = (frame.ts, frame.link_type, frame.orig_len);
            }
            Ok(None) => break,
            Err(_) => return,
        }
    }
    if let Some(d) = reader.damage() {
        // Offsets are in the decompressed stream; only check plain input.
        if !reader.is_compressed() {
            assert!(
                d.offset <= data.len() as u64,
                "damage offset {} beyond input",
                d.offset
            );
        }
    }
    let _ = (reader.position(), reader.bytes_read());
});
