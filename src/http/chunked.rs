//! Byte-stepped decoder of the chunked transfer coding (RFC 9112 §7.1).
//!
//! Input: the body bytes of one chunked message, in any pieces, plus gaps.
//! Output: how many bytes belong to the body, whether the body ended (after
//! the last-chunk, the trailer section and its final CRLF), the decoded
//! payload size, or a framing error. Nothing is buffered: the state enum
//! carries exactly the numbers it needs, so any chunk boundary gives the same
//! result.
//!
//! Leniency: bare LF line ends, whitespace between size and `;` or line end.
//! Chunk extensions and trailer fields are skipped (trailers are counted as
//! body wire bytes, not kept), under the limits below.
//!
//! Invariant: hex sizes use checked arithmetic; an oversized size is a
//! [`ChunkError::SizeOverflow`], never a panic or wrap.

/// Longest chunk-extension run accepted on one size line.
///
/// Source: hyper's `CHUNKED_EXTENSIONS_LIMIT` (16 KiB). Extensions are
/// skipped, not stored; the limit only stops a garbage stream from being
/// consumed forever as one "extension".
pub const MAX_CHUNK_EXTENSION_BYTES: u32 = 16 * 1024;

/// Largest trailer section accepted.
///
/// Source: the same order as the default head limit (64 KiB); real trailers
/// are a few fields. Trailers are skipped, not stored.
pub const MAX_TRAILER_BYTES: u32 = 64 * 1024;

/// Why the chunked framing could not be followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkError {
    /// The hex size does not fit in 64 bits.
    SizeOverflow,
    /// A size line that does not start with hex digits.
    BadSize,
    /// A CR not followed by LF, or data not followed by a line end.
    BadLineEnd,
    ExtensionTooLong,
    TrailersTooLong,
}

impl ChunkError {
    /// Anomaly kind.
    pub fn kind(self) -> &'static str {
        match self {
            ChunkError::SizeOverflow => "chunk_size_overflow",
            ChunkError::BadSize => "bad_chunk_size",
            ChunkError::BadLineEnd => "bad_chunk_line_end",
            ChunkError::ExtensionTooLong => "chunk_extension_too_long",
            ChunkError::TrailersTooLong => "chunk_trailers_too_long",
        }
    }
}

/// Result of feeding bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    NeedMore,
    /// The body ended; bytes after the consumed count are the next message.
    Done,
    Failed(ChunkError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// In the hex size; `digits` counts digits seen.
    Size {
        value: u64,
        digits: u32,
    },
    /// Whitespace after the size.
    SizeWs {
        value: u64,
    },
    /// In `;ext...`; `len` bytes so far.
    Ext {
        value: u64,
        len: u32,
    },
    /// After CR of the size line.
    SizeLf {
        value: u64,
    },
    Data {
        remaining: u64,
    },
    /// Expecting the CR (or bare LF) after chunk data.
    DataCr,
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart,
    InTrailer,
    TrailerLf,
    /// After the CR of the final empty line.
    EndLf,
    Done,
    Failed(ChunkError),
}

/// The decoder. Create one per chunked message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkedDecoder {
    state: State,
    decoded: u64,
    trailer_bytes: u32,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

fn hex_value(b: u8) -> Option<u64> {
    match b {
        b'0'..=b'9' => Some(u64::from(b - b'0')),
        b'a'..=b'f' => Some(u64::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u64::from(b - b'A' + 10)),
        _ => None,
    }
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        ChunkedDecoder {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            decoded: 0,
            trailer_bytes: 0,
        }
    }

    /// Payload bytes so far (chunk data, including data lost in gaps).
    pub fn decoded(&self) -> u64 {
        self.decoded
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes body bytes from the front of `bytes`. Returns how many belong
    /// to this body and the progress. On `Done` or `Failed`, the rest of
    /// `bytes` is not consumed.
    pub fn feed(&mut self, bytes: &[u8]) -> (usize, Progress) {
        let mut i = 0usize;
        loop {
            match self.state {
                State::Done => return (i, Progress::Done),
                State::Failed(e) => return (i, Progress::Failed(e)),
                State::Data { remaining } => {
                    let avail = bytes.len().saturating_sub(i);
                    if avail == 0 {
                        return (i, Progress::NeedMore);
                    }
                    let take = usize::try_from(remaining).map_or(avail, |r| r.min(avail));
                    i = i.saturating_add(take);
                    let left = remaining.saturating_sub(take as u64);
                    self.decoded = self.decoded.saturating_add(take as u64);
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data { remaining: left }
                    };
                }
                _ => match bytes.get(i) {
                    None => return (i, Progress::NeedMore),
                    Some(&b) => {
                        i = i.saturating_add(1);
                        self.state = self.step(b);
                    }
                },
            }
        }
    }

    /// Skips a gap of `len` bytes. Only possible inside chunk data; otherwise
    /// the framing is lost and this returns `false`.
    pub fn skip_gap(&mut self, len: u64) -> bool {
        match self.state {
            State::Data { remaining } if len <= remaining => {
                let left = remaining - len;
                self.decoded = self.decoded.saturating_add(len);
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data { remaining: left }
                };
                true
            }
            _ => false,
        }
    }

    /// The state after one framing byte.
    fn step(&mut self, b: u8) -> State {
        use State::*;
        let after_size_line = |value: u64| {
            if value == 0 {
                TrailerStart
            } else {
                Data { remaining: value }
            }
        };
        match self.state {
            Size { value, digits } => match (hex_value(b), b) {
                (Some(d), _) => match value.checked_mul(16).and_then(|v| v.checked_add(d)) {
                    Some(value) => Size {
                        value,
                        digits: digits.saturating_add(1),
                    },
                    None => Failed(ChunkError::SizeOverflow),
                },
                _ if digits == 0 => Failed(ChunkError::BadSize),
                (None, b' ' | b'\t') => SizeWs { value },
                (None, b';') => Ext { value, len: 0 },
                (None, b'\r') => SizeLf { value },
                (None, b'\n') => after_size_line(value),
                (None, _) => Failed(ChunkError::BadSize),
            },
            SizeWs { value } => match b {
                b' ' | b'\t' => SizeWs { value },
                b';' => Ext { value, len: 0 },
                b'\r' => SizeLf { value },
                b'\n' => after_size_line(value),
                _ => Failed(ChunkError::BadSize),
            },
            Ext { value, len } => match b {
                b'\r' => SizeLf { value },
                b'\n' => after_size_line(value),
                _ if len >= MAX_CHUNK_EXTENSION_BYTES => Failed(ChunkError::ExtensionTooLong),
                _ => Ext {
                    value,
                    len: len.saturating_add(1),
                },
            },
            SizeLf { value } => match b {
                b'\n' => after_size_line(value),
                _ => Failed(ChunkError::BadLineEnd),
            },
            DataCr => match b {
                b'\r' => DataLf,
                b'\n' => Size {
                    value: 0,
                    digits: 0,
                },
                _ => Failed(ChunkError::BadLineEnd),
            },
            DataLf => match b {
                b'\n' => Size {
                    value: 0,
                    digits: 0,
                },
                _ => Failed(ChunkError::BadLineEnd),
            },
            TrailerStart | InTrailer | TrailerLf => self.trailer_step(b),
            EndLf => match b {
                b'\n' => Done,
                _ => Failed(ChunkError::BadLineEnd),
            },
            // Not reached: `feed` handles these without stepping.
            Data { remaining } => Data { remaining },
            Done => Done,
            Failed(e) => Failed(e),
        }
    }

    fn trailer_step(&mut self, b: u8) -> State {
        use State::*;
        if self.trailer_bytes >= MAX_TRAILER_BYTES {
            return Failed(ChunkError::TrailersTooLong);
        }
        self.trailer_bytes = self.trailer_bytes.saturating_add(1);
        match (self.state, b) {
            (TrailerStart, b'\r') => EndLf,
            (TrailerStart, b'\n') => Done,
            (InTrailer, b'\r') => TrailerLf,
            (InTrailer, b'\n') => TrailerStart,
            (TrailerStart | InTrailer, _) => InTrailer,
            (_, b'\n') => TrailerStart,
            _ => Failed(ChunkError::BadLineEnd),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] =
        b"5;name=\"v\"\r\nhello\r\n1A \r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 1\r\nX-B: 2\r\n\r\n";
    const NEXT: &[u8] = b"HTTP/1.1 200 OK\r\n";

    /// Feeds `pieces` in order; returns (consumed, progress, decoded).
    fn run(pieces: &[&[u8]]) -> (usize, Progress, u64) {
        let mut d = ChunkedDecoder::new();
        let mut total = 0;
        let mut last = Progress::NeedMore;
        for p in pieces {
            let (n, progress) = d.feed(p);
            total += n;
            last = progress;
            if progress != Progress::NeedMore {
                break;
            }
        }
        (total, last, d.decoded())
    }

    fn whole() -> Vec<u8> {
        [BODY, NEXT].concat()
    }

    #[test]
    fn whole_body() {
        assert_eq!(run(&[&whole()]), (BODY.len(), Progress::Done, 31));
    }

    #[test]
    fn byte_by_byte() {
        let all = whole();
        let pieces: Vec<&[u8]> = all.chunks(1).collect();
        assert_eq!(run(&pieces), (BODY.len(), Progress::Done, 31));
    }

    #[test]
    fn every_two_split() {
        let all = whole();
        for cut in 0..=all.len() {
            let (a, b) = all.split_at(cut);
            assert_eq!(run(&[a, b]), (BODY.len(), Progress::Done, 31), "cut {cut}");
        }
    }

    #[test]
    fn bare_lf_and_no_trailers() {
        assert_eq!(run(&[b"3\nabc\n0\n\n"]), (9, Progress::Done, 3));
        assert_eq!(run(&[b"0\r\n\r\n"]), (5, Progress::Done, 0));
    }

    #[test]
    fn size_overflow_is_an_error() {
        let (_, p, _) = run(&[b"1ffffffffffffffff\r\n"]);
        assert_eq!(p, Progress::Failed(ChunkError::SizeOverflow));
        // 16 hex digits still fit.
        let (_, p, _) = run(&[b"ffffffffffffffff\r\nab"]);
        assert_eq!(p, Progress::NeedMore);
    }

    #[test]
    fn bad_framing() {
        assert_eq!(run(&[b"\r\n"]).1, Progress::Failed(ChunkError::BadSize));
        assert_eq!(run(&[b"zz\r\n"]).1, Progress::Failed(ChunkError::BadSize));
        assert_eq!(run(&[b"2\rx"]).1, Progress::Failed(ChunkError::BadLineEnd));
        assert_eq!(
            run(&[b"2\r\nabc"]).1,
            Progress::Failed(ChunkError::BadLineEnd)
        );
        assert_eq!(
            run(&[b"0\r\n\rx"]).1,
            Progress::Failed(ChunkError::BadLineEnd)
        );
        let mut long_ext = b"1;".to_vec();
        long_ext.extend(std::iter::repeat_n(
            b'x',
            MAX_CHUNK_EXTENSION_BYTES as usize + 1,
        ));
        assert_eq!(
            run(&[&long_ext]).1,
            Progress::Failed(ChunkError::ExtensionTooLong)
        );
        let mut trailers = b"0\r\n".to_vec();
        trailers.extend(std::iter::repeat_n(b'x', MAX_TRAILER_BYTES as usize + 1));
        assert_eq!(
            run(&[&trailers]).1,
            Progress::Failed(ChunkError::TrailersTooLong)
        );
    }

    #[test]
    fn failed_decoder_stays_failed() {
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.feed(b"x").1, Progress::Failed(ChunkError::BadSize));
        assert_eq!(
            d.feed(b"0\r\n\r\n"),
            (0, Progress::Failed(ChunkError::BadSize))
        );
    }

    #[test]
    fn gaps_inside_data_only() {
        let mut d = ChunkedDecoder::new();
        assert_eq!(d.feed(b"a\r\nab").1, Progress::NeedMore);
        assert!(d.skip_gap(5));
        assert!(!d.skip_gap(4), "gap over the chunk's CRLF loses framing");
        assert!(d.skip_gap(3));
        assert_eq!(d.feed(b"\r\n0\r\n\r\n"), (7, Progress::Done));
        assert_eq!(d.decoded(), 10);
        let mut d = ChunkedDecoder::new();
        assert!(!d.skip_gap(1), "gap in a size line");
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed = 7u32;
        for _ in 0..2000 {
            let mut d = ChunkedDecoder::new();
            let bytes: Vec<u8> = (0..64)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    b"0123456789abcdefF;\r\n \tx"[(seed >> 16) as usize % 23]
                })
                .collect();
            let (n, _) = d.feed(&bytes);
            assert!(n <= bytes.len());
        }
    }
}
