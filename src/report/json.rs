//! The JSON report, written while the pass runs, in memory that does not
//! grow with the capture.
//!
//! The document lists connections, transactions and findings in connection-id
//! order, and its warnings come before them, but connections finish in
//! another order and the warnings are known only at the end. So each
//! finished connection is serialized at once into three [`Spool`]s, one per
//! array (memory up to [`SPOOL_MEMORY_BYTES`] each, then an anonymous
//! temporary file that the operating system deletes), and the document is
//! assembled at the end from the spooled pieces: each array is read back
//! from its own file through a small block cache, and pieces that
//! follow each other in the file are copied as one. What stays in memory per
//! connection is an index entry (32 bytes). The connection-management
//! findings are spooled as the analyzer gives them and listed after the
//! connections' own findings.
//!
//! The bytes are the same as `serde_json::to_writer_pretty` of
//! [`super::build_with`]'s [`super::model::Report`] (a test checks it), except
//! when the connection analysis had to stop waiting for a connection open
//! too long ([`crate::blame::connections::MAX_WAITING`]): finishing order then
//! decides when it is analyzed.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

use serde::Serialize;

use super::model::FindingOut;
use super::to_json::{JsonBuf, ToJson};
use super::{
    capture_out, record_out, record_out_taking, tool, ReportAcc, ReportOptions, SCHEMA_VERSION,
};
use crate::pipeline::{ConnectionRecord, PassSummary};

/// Bytes each spool keeps in memory before moving to a temporary file.
pub const SPOOL_MEMORY_BYTES: usize = 1 << 19;

/// The document's three arrays, each spooled on its own so that reading one
/// back is (nearly) sequential.
const PARTS: [&str; 3] = ["connections", "transactions", "findings"];

/// Where one connection's pieces start in the three part spools: its
/// connection object, its transactions, its findings (each piece a run of
/// array elements, each after its separator, possibly empty). A piece ends where
/// the next connection's starts, so only starts are kept (32 bytes each).
struct Entry {
    id: u32,
    starts: [u64; 3],
}

/// Builds the JSON report one finished connection at a time.
pub struct JsonReportWriter {
    multi: bool,
    totals: ReportAcc,
    /// In the order the connections were added.
    index: Vec<Entry>,
    parts: [Spool; 3],
    /// The connection-management findings, each after its separator.
    extra: Spool,
}

impl JsonReportWriter {
    /// `multi`: several capture files (each record names its file).
    pub fn new(multi: bool, options: &ReportOptions) -> JsonReportWriter {
        Self::with_spool_memory(multi, options, SPOOL_MEMORY_BYTES)
    }

    /// As [`Self::new`], moving the spool to a temporary file past
    /// `spool_memory` bytes (tests use a tiny limit).
    pub fn with_spool_memory(
        multi: bool,
        options: &ReportOptions,
        spool_memory: usize,
    ) -> JsonReportWriter {
        JsonReportWriter {
            multi,
            totals: ReportAcc::new(options),
            index: Vec::new(),
            parts: [(); 3].map(|_| Spool::new(spool_memory)),
            extra: Spool::new(spool_memory),
        }
    }

    /// Serializes one finished connection into the spool; `keep`: false
    /// when a filter left it out (then only its id reaches the connection
    /// analysis, to keep the numbering).
    pub fn add(&mut self, r: &ConnectionRecord, keep: bool) -> io::Result<()> {
        self.analyze(r, keep)?;
        if !keep {
            return Ok(());
        }
        self.spool_record(r, record_out(r, self.multi))
    }

    /// As [`Self::add`], moving the record's findings into the report.
    pub fn add_taking(&mut self, r: &mut ConnectionRecord, keep: bool) -> io::Result<()> {
        self.analyze(r, keep)?;
        if !keep {
            return Ok(());
        }
        let out = record_out_taking(r, self.multi);
        self.spool_record(r, out)
    }

    fn analyze(&mut self, r: &ConnectionRecord, keep: bool) -> io::Result<()> {
        let found = self.totals.analyze(r, keep);
        self.spool_findings(found)
    }

    fn spool_record(&mut self, r: &ConnectionRecord, out: super::RecordOut) -> io::Result<()> {
        self.totals.add(r, &out);
        let starts = self.parts.each_ref().map(Spool::len);
        self.element(0, &out.connection)?;
        for t in &out.transactions {
            self.element(1, t)?;
        }
        for f in &out.findings {
            self.element(2, f)?;
        }
        self.index.push(Entry { id: r.id, starts });
        Ok(())
    }

    /// Appends one array element to a part's spool.
    fn element<T: ToJson>(&mut self, part: usize, value: &T) -> io::Result<()> {
        self.parts[part].append(|buf| element(buf, value))
    }

    fn spool_findings(&mut self, found: Vec<FindingOut>) -> io::Result<()> {
        for f in &found {
            self.extra.append(|buf| element(buf, f))?;
        }
        Ok(())
    }

    /// Runs the connection analysis and writes the whole document.
    pub fn finish(mut self, summary: &PassSummary, out: &mut dyn Write) -> io::Result<()> {
        let found = self.totals.finish_analysis();
        self.spool_findings(found)?;
        let (warnings, summary_out) = self.totals.finish(summary);
        // The pieces in connection-id order: positions in `index`, sorted
        // (a piece ends where the next one added starts).
        let ends = self.parts.each_ref().map(Spool::len);
        let index = std::mem::take(&mut self.index);
        let mut order: Vec<usize> = (0..index.len()).collect();
        order.sort_unstable_by_key(|&i| index[i].id);
        let piece = |i: usize, part: usize| {
            let end = index.get(i + 1).map_or(ends[part], |n| n.starts[part]);
            (index[i].starts[part], end)
        };
        let extra_len = self.extra.len();
        let mut extra = Some(self.extra);
        let mut buf = Vec::new();

        out.write_all(b"{\n  \"schema_version\": ")?;
        field(out, &mut buf, &SCHEMA_VERSION)?;
        out.write_all(b",\n  \"tool\": ")?;
        field(out, &mut buf, &tool())?;
        out.write_all(b",\n  \"capture\": ")?;
        field(out, &mut buf, &capture_out(summary))?;
        out.write_all(b",\n  \"warnings\": ")?;
        field(out, &mut buf, &warnings)?;
        let mut buffers = Vec::new();
        std::thread::scope(|scope| -> io::Result<()> {
            for (part, spool) in self.parts.into_iter().enumerate() {
                write!(out, ",\n  \"{}\": [", PARTS[part])?;
                let mut reader = spool.into_reader(std::mem::take(&mut buffers))?;
                // Every element starts with its separator, so pieces that follow
                // each other in the spool are copied as one run; the first
                // element of the array loses the comma.
                let mut run: Option<(u64, u64)> = None;
                for (from, to) in order.iter().map(|&i| piece(i, part)) {
                    match &mut run {
                        _ if to == from => {}
                        Some((_, end)) if *end == from => *end = to,
                        Some(done) => {
                            reader.copy(done.0, done.1, out)?;
                            run = Some((from, to));
                        }
                        None => run = Some((from + 1, to)),
                    }
                }
                if let Some((from, to)) = run {
                    reader.copy(from, to, out)?;
                }
                let mut any = run.is_some();
                if part == 2 && extra_len > 0 {
                    let skip = u64::from(!any);
                    if let Some(extra) = extra.take() {
                        extra.into_reader(Vec::new())?.copy(skip, extra_len, out)?;
                    }
                    any = true;
                }
                out.write_all(if any { b"\n  ]" } else { b"]" })?;
                // Closing a spool file frees its page cache (40 ms for
                // 500 MB): that happens while the next part is copied (or
                // here, if no thread can be made). The block buffers stay
                // on this thread, for the next part.
                let (file, blocks) = reader.into_parts();
                buffers = blocks;
                if let Some(file) = file {
                    let closing = std::thread::Builder::new().name("wireblame-spool".into());
                    let _ = closing.spawn_scoped(scope, move || drop(file));
                }
            }
            Ok(())
        })?;
        out.write_all(b",\n  \"summary\": ")?;
        field(out, &mut buf, &summary_out)?;
        out.write_all(b"\n}\n")
    }
}

/// One array element after its separator, pretty-printed at the depth of
/// the report's arrays.
fn element<T: ToJson>(buf: &mut Vec<u8>, value: &T) {
    buf.extend_from_slice(b",\n    ");
    value.to_json(&mut JsonBuf::pretty(buf, 4));
}

/// A top-level value: pretty-printed at depth 1.
fn field<T: Serialize>(out: &mut dyn Write, buf: &mut Vec<u8>, value: &T) -> io::Result<()> {
    write_pretty(out, buf, value, 2)
}

/// Writes [`pretty_indented`]'s text of `value` (through `buf`).
pub(crate) fn write_pretty<T: Serialize>(
    out: &mut dyn Write,
    buf: &mut Vec<u8>,
    value: &T,
    indent: usize,
) -> io::Result<()> {
    buf.clear();
    pretty_indented(buf, value, indent)?;
    out.write_all(buf)
}

/// `serde_json::to_writer_pretty` of `value` as if nested `indent` spaces
/// deep: every line after the first is indented that much more.
pub(crate) fn pretty_indented<T: Serialize>(
    out: &mut Vec<u8>,
    value: &T,
    indent: usize,
) -> io::Result<()> {
    let formatter = NestedPretty {
        base: indent,
        depth: 0,
        has_value: false,
    };
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, formatter);
    value.serialize(&mut ser).map_err(io::Error::other)
}

/// serde_json's `PrettyFormatter` (two spaces a level) starting `base`
/// spaces in, so that array elements can be printed on their own and
/// spliced into the document.
struct NestedPretty {
    base: usize,
    depth: usize,
    has_value: bool,
}

impl NestedPretty {
    fn newline<W: ?Sized + Write>(&self, w: &mut W, prefix: &[u8]) -> io::Result<()> {
        const SPACES: [u8; 64] = [b' '; 64];
        w.write_all(prefix)?;
        let mut n = self.base + 2 * self.depth;
        while n > 0 {
            let k = n.min(SPACES.len());
            w.write_all(&SPACES[..k])?;
            n -= k;
        }
        Ok(())
    }
}

impl serde_json::ser::Formatter for NestedPretty {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.has_value {
            self.newline(w, b"\n")?;
        }
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.newline(w, if first { b"\n" } else { b",\n" })
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.has_value {
            self.newline(w, b"\n")?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.newline(w, if first { b"\n" } else { b",\n" })
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// A spool file is read back in aligned blocks of this size, the last
/// [`CACHED_BLOCKS`] used kept. Connections finish out of id order, so
/// reading an array in id order jumps back and forth within a few MiB: on
/// big.pcap one 1 MiB window read 2.7 GB for the 0.74 GB spooled; four
/// cached 512 KiB blocks read 0.85 GB (eight: 0.81 GB).
const BLOCK_BYTES: usize = 1 << 19;
const CACHED_BLOCKS: usize = 4;

/// An I/O error on the spool's temporary file, not on the output.
#[derive(Debug)]
pub struct SpoolError(pub io::Error);

impl std::fmt::Display for SpoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "temporary spool file: {}", self.0)
    }
}

impl std::error::Error for SpoolError {}

pub(super) fn spool_error(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), SpoolError(e))
}

/// True for an error of the spool's temporary file (the output is fine).
pub fn is_spool_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<SpoolError>())
}

/// Bytes written once, then read back by range. Values are serialized
/// straight into its buffer: in memory up to a limit, then a temporary file
/// the buffer is flushed to.
pub(super) struct Spool {
    buf: Vec<u8>,
    memory_limit: usize,
    file: Option<File>,
    /// Bytes already in the file.
    flushed: u64,
}

/// Buffered bytes written to a spool file at a time.
const FLUSH_BYTES: usize = 1 << 18;

impl Spool {
    pub(super) fn new(memory_limit: usize) -> Spool {
        Spool {
            buf: Vec::new(),
            memory_limit,
            file: None,
            flushed: 0,
        }
    }

    /// Bytes spooled so far.
    pub(super) fn len(&self) -> u64 {
        self.flushed + self.buf.len() as u64
    }

    /// Appends `write`'s bytes.
    pub(super) fn append(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        write(&mut self.buf);
        match &mut self.file {
            Some(f) if self.buf.len() >= FLUSH_BYTES => {
                f.write_all(&self.buf).map_err(spool_error)?;
                self.flushed += self.buf.len() as u64;
                self.buf.clear();
            }
            Some(_) => {}
            None if self.buf.len() > self.memory_limit => {
                let mut f = tempfile::tempfile().map_err(spool_error)?;
                f.write_all(&self.buf).map_err(spool_error)?;
                self.flushed = self.buf.len() as u64;
                self.buf = Vec::with_capacity(FLUSH_BYTES * 2);
                self.file = Some(f);
            }
            None => {}
        }
        Ok(())
    }

    /// A reader of the spooled bytes; `buffers`: block buffers to reuse.
    pub(super) fn into_reader(mut self, buffers: Vec<Vec<u8>>) -> io::Result<SpoolReader> {
        match self.file {
            None => Ok(SpoolReader::Memory(self.buf)),
            Some(mut file) => {
                file.write_all(&self.buf).map_err(spool_error)?;
                self.buf = Vec::new();
                Ok(SpoolReader::File(BlockCache::new(
                    file,
                    BLOCK_BYTES,
                    buffers,
                )))
            }
        }
    }
}

pub(super) enum SpoolReader {
    Memory(Vec<u8>),
    File(BlockCache),
}

impl SpoolReader {
    /// Its file, if any, and its block buffers.
    fn into_parts(self) -> (Option<File>, Vec<Vec<u8>>) {
        match self {
            SpoolReader::Memory(_) => (None, Vec::new()),
            SpoolReader::File(cache) => {
                let buffers = cache.blocks.into_iter().map(|b| b.2).collect();
                (Some(cache.file), buffers)
            }
        }
    }

    /// Writes the spooled bytes `from..to` to `out`.
    pub(super) fn copy(&mut self, from: u64, to: u64, out: &mut dyn Write) -> io::Result<()> {
        match self {
            SpoolReader::Memory(m) => {
                let range = usize::try_from(from).unwrap_or(usize::MAX)
                    ..usize::try_from(to).unwrap_or(usize::MAX);
                let bytes = m
                    .get(range)
                    .ok_or_else(|| spool_error(io::Error::other("spool range")))?;
                out.write_all(bytes)
            }
            SpoolReader::File(cache) => {
                let size = cache.block_bytes as u64;
                let mut from = from;
                while from < to {
                    let index = from / size;
                    let block = cache.block(index).map_err(spool_error)?;
                    let skip = (from - index * size) as usize;
                    let n = usize::try_from(to - from)
                        .unwrap_or(usize::MAX)
                        .min(size as usize - skip);
                    let bytes = block
                        .get(skip..skip + n)
                        .ok_or_else(|| spool_error(io::ErrorKind::UnexpectedEof.into()))?;
                    out.write_all(bytes)?;
                    from += n as u64;
                }
                Ok(())
            }
        }
    }
}

/// The last [`CACHED_BLOCKS`] blocks of a file read.
pub(super) struct BlockCache {
    file: File,
    block_bytes: usize,
    /// (block index, last use, bytes).
    blocks: Vec<(u64, u64, Vec<u8>)>,
    /// Buffers to use before allocating.
    spare: Vec<Vec<u8>>,
    uses: u64,
}

impl BlockCache {
    fn new(file: File, block_bytes: usize, spare: Vec<Vec<u8>>) -> BlockCache {
        BlockCache {
            file,
            block_bytes,
            blocks: Vec::with_capacity(CACHED_BLOCKS),
            spare,
            uses: 0,
        }
    }

    /// Block `index` (shorter than a block at the end of the file).
    fn block(&mut self, index: u64) -> io::Result<&[u8]> {
        self.uses += 1;
        let slot = match self.blocks.iter().position(|b| b.0 == index) {
            Some(i) => i,
            None => {
                let i = if self.blocks.len() < CACHED_BLOCKS {
                    let buf = self.spare.pop().unwrap_or_default();
                    self.blocks.push((index, 0, buf));
                    self.blocks.len() - 1
                } else {
                    // The least recently used.
                    let mut lru = 0;
                    for (i, b) in self.blocks.iter().enumerate() {
                        if b.1 < self.blocks[lru].1 {
                            lru = i;
                        }
                    }
                    lru
                };
                let buf = &mut self.blocks[i].2;
                buf.resize(self.block_bytes, 0);
                let n = read_at_most(&self.file, buf, index * self.block_bytes as u64)?;
                buf.truncate(n);
                self.blocks[i].0 = index;
                i
            }
        };
        self.blocks[slot].1 = self.uses;
        Ok(&self.blocks[slot].2)
    }
}

/// Fills `buf` from `offset` as far as the file goes; the count read.
fn read_at_most(mut file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    file.seek(SeekFrom::Start(offset))?;
    crate::capture::read_full(&mut file, buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pieces read back in any order, through blocks smaller than some of
    /// them, from memory and from the file (flushed to it more than once),
    /// are the bytes appended; a second reader reuses the first one's block
    /// buffers.
    #[test]
    fn spool_reads_back_any_range() {
        for memory_limit in [1 << 24, 10] {
            let mut buffers = Vec::new();
            for round in 0..2u32 {
                let mut spool = Spool::new(memory_limit);
                let mut expected = Vec::new();
                let mut pieces = Vec::new();
                for i in 0..400u32 {
                    let start = spool.len();
                    let n = (i * 37 + round) % 3001;
                    let piece: Vec<u8> = (0..n).map(|k| (k ^ i ^ round) as u8).collect();
                    spool.append(|buf| buf.extend_from_slice(&piece)).unwrap();
                    expected.extend_from_slice(&piece);
                    pieces.push((start, spool.len()));
                }
                assert!(expected.len() > 2 * FLUSH_BYTES);
                assert_eq!(spool.len(), expected.len() as u64);
                let mut reader = spool.into_reader(std::mem::take(&mut buffers)).unwrap();
                if let SpoolReader::File(cache) = &mut reader {
                    cache.block_bytes = 1000;
                    assert_eq!(
                        cache.spare.len(),
                        if round == 0 { 0 } else { CACHED_BLOCKS }
                    );
                } else {
                    assert!(memory_limit > expected.len());
                }
                // Backwards, then a long range across more blocks than are kept.
                for &(from, to) in pieces.iter().rev() {
                    let mut out = Vec::new();
                    reader.copy(from, to, &mut out).unwrap();
                    assert!(out == expected[from as usize..to as usize]);
                }
                let mut out = Vec::new();
                reader.copy(5, expected.len() as u64, &mut out).unwrap();
                assert!(out == expected[5..]);
                assert!(reader.copy(0, expected.len() as u64 + 1, &mut out).is_err());
                buffers = reader.into_parts().1;
            }
        }
    }
}
