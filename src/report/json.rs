//! The JSON report, written while the pass runs, in memory that does not
//! grow with the capture.
//!
//! The document lists connections, transactions and findings in connection-id
//! order, and its warnings come before them, but connections finish in
//! another order and the warnings are known only at the end. So each
//! finished connection is serialized at once into a [`Spool`] (memory up to
//! [`SPOOL_MEMORY_BYTES`] each, then an anonymous temporary file that the
//! operating system deletes), and the document is assembled at the end from
//! the spooled pieces. What stays in memory per connection is an index entry
//! (40 bytes). The connection-management findings are spooled as the
//! analyzer gives them and listed after the connections' own findings.
//!
//! The bytes are the same as `serde_json::to_writer_pretty` of
//! [`super::build_with`]'s [`super::model::Report`] (a test checks it), except
//! when the connection analysis had to stop waiting for a connection open
//! too long ([`crate::blame::connections::MAX_WAITING`]): finishing order then
//! decides when it is analyzed.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};

use serde::Serialize;

use super::model::FindingOut;
use super::to_json::{JsonBuf, ToJson};
use super::{
    capture_out, record_out, record_out_taking, tool, warnings_from, AnomalyAcc,
    ConnectionFindings, ReportOptions, SummaryAcc, SCHEMA_VERSION,
};
use crate::pipeline::{ConnectionRecord, PassSummary};

/// Spooled bytes kept in memory before moving to a temporary file.
pub const SPOOL_MEMORY_BYTES: usize = 2 << 20;

/// Where one connection's pieces are in the spool: its connection object,
/// then its transactions, then its findings (each piece a comma-separated run
/// of array elements, possibly empty).
struct Entry {
    id: u32,
    start: u64,
    ends: [u64; 3],
}

/// Builds the JSON report one finished connection at a time.
pub struct JsonReportWriter {
    multi: bool,
    acc: SummaryAcc,
    anomalies: AnomalyAcc,
    analysis: Option<ConnectionFindings>,
    index: Vec<Entry>,
    spool: Spool,
    /// The connection-management findings, comma-separated.
    extra: Spool,
    scratch: Vec<u8>,
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
            acc: SummaryAcc::default(),
            anomalies: AnomalyAcc::default(),
            analysis: Some(ConnectionFindings::new(options)),
            index: Vec::new(),
            spool: Spool::new(spool_memory),
            extra: Spool::new(spool_memory),
            scratch: Vec::new(),
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
        let mut found = Vec::new();
        if let Some(a) = &mut self.analysis {
            a.push(r, keep, &mut |f| found.push(f));
        }
        self.spool_findings(found)
    }

    fn spool_record(&mut self, r: &ConnectionRecord, out: super::RecordOut) -> io::Result<()> {
        self.acc.add(r, &out);
        self.anomalies.add(r.id, &r.anomalies);
        let start = self.spool.len;
        let mut ends = [start; 3];
        self.element(&out.connection, true)?;
        ends[0] = self.spool.len;
        for (i, t) in out.transactions.iter().enumerate() {
            self.element(t, i == 0)?;
        }
        ends[1] = self.spool.len;
        for (i, f) in out.findings.iter().enumerate() {
            self.element(f, i == 0)?;
        }
        ends[2] = self.spool.len;
        self.index.push(Entry {
            id: r.id,
            start,
            ends,
        });
        Ok(())
    }

    /// Appends one array element, pretty-printed at the depth of the
    /// report's arrays, after a separator unless it is a piece's first.
    fn element<T: ToJson>(&mut self, value: &T, first: bool) -> io::Result<()> {
        self.scratch.clear();
        if !first {
            self.scratch.extend_from_slice(b",\n    ");
        }
        value.to_json(&mut JsonBuf::pretty(&mut self.scratch, 4));
        self.spool.append(&self.scratch)
    }

    fn spool_findings(&mut self, found: Vec<FindingOut>) -> io::Result<()> {
        self.acc.add_findings(&found);
        for f in &found {
            self.scratch.clear();
            if self.extra.len > 0 {
                self.scratch.extend_from_slice(b",\n    ");
            }
            f.to_json(&mut JsonBuf::pretty(&mut self.scratch, 4));
            self.extra.append(&self.scratch)?;
        }
        Ok(())
    }

    /// Runs the connection analysis and writes the whole document.
    pub fn finish(mut self, summary: &PassSummary, out: &mut dyn Write) -> io::Result<()> {
        let mut found = Vec::new();
        if let Some(a) = self.analysis.take() {
            a.finish(&mut |f| found.push(f));
        }
        self.spool_findings(found)?;
        let warnings = warnings_from(summary, self.anomalies.into_counts());
        let summary_out = self.acc.finish(summary);
        self.index.sort_unstable_by_key(|e| e.id);
        let mut spool = self.spool.into_reader()?;
        let extra_len = self.extra.len;
        let mut extra = self.extra.into_reader()?;
        let mut buf = Vec::new();

        out.write_all(b"{\n  \"schema_version\": ")?;
        field(out, &mut buf, &SCHEMA_VERSION)?;
        out.write_all(b",\n  \"tool\": ")?;
        field(out, &mut buf, &tool())?;
        out.write_all(b",\n  \"capture\": ")?;
        field(out, &mut buf, &capture_out(summary))?;
        out.write_all(b",\n  \"warnings\": ")?;
        field(out, &mut buf, &warnings)?;
        for (part, name) in ["connections", "transactions", "findings"]
            .into_iter()
            .enumerate()
        {
            write!(out, ",\n  \"{name}\": [")?;
            let mut any = false;
            for e in &self.index {
                let from = if part == 0 { e.start } else { e.ends[part - 1] };
                let to = e.ends[part];
                if to == from {
                    continue;
                }
                out.write_all(if any { b",\n    " } else { b"\n    " })?;
                spool.copy(from, to, out, &mut buf)?;
                any = true;
            }
            if part == 2 && extra_len > 0 {
                out.write_all(if any { b",\n    " } else { b"\n    " })?;
                extra.copy(0, extra_len, out, &mut buf)?;
                any = true;
            }
            out.write_all(if any { b"\n  ]" } else { b"]" })?;
        }
        out.write_all(b",\n  \"summary\": ")?;
        field(out, &mut buf, &summary_out)?;
        out.write_all(b"\n}\n")
    }
}

/// A top-level value: pretty-printed at depth 1.
fn field<T: Serialize>(out: &mut dyn Write, buf: &mut Vec<u8>, value: &T) -> io::Result<()> {
    buf.clear();
    pretty_indented(buf, value, 2)?;
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

/// Bytes read back from the spool file at a time.
const COPY_PIECE: usize = 1 << 20;

/// An I/O error on the spool's temporary file, not on the output.
#[derive(Debug)]
pub struct SpoolError(pub io::Error);

impl std::fmt::Display for SpoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "temporary spool file: {}", self.0)
    }
}

impl std::error::Error for SpoolError {}

fn spool_error(e: io::Error) -> io::Error {
    io::Error::new(e.kind(), SpoolError(e))
}

/// True for an error of the spool's temporary file (the output is fine).
pub fn is_spool_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<SpoolError>())
}

/// Bytes written once, then read back by range.
struct Spool {
    memory: Vec<u8>,
    memory_limit: usize,
    file: Option<BufWriter<File>>,
    len: u64,
}

impl Spool {
    fn new(memory_limit: usize) -> Spool {
        Spool {
            memory: Vec::new(),
            memory_limit,
            file: None,
            len: 0,
        }
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.file.is_none() && self.memory.len() + bytes.len() > self.memory_limit {
            let mut f =
                BufWriter::with_capacity(1 << 20, tempfile::tempfile().map_err(spool_error)?);
            f.write_all(&self.memory).map_err(spool_error)?;
            self.memory = Vec::new();
            self.file = Some(f);
        }
        match &mut self.file {
            Some(f) => f.write_all(bytes).map_err(spool_error)?,
            None => self.memory.extend_from_slice(bytes),
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn into_reader(self) -> io::Result<SpoolReader> {
        match self.file {
            None => Ok(SpoolReader::Memory(self.memory)),
            Some(f) => Ok(SpoolReader::File(
                f.into_inner().map_err(|e| spool_error(e.into_error()))?,
            )),
        }
    }
}

enum SpoolReader {
    Memory(Vec<u8>),
    File(File),
}

impl SpoolReader {
    fn copy(
        &mut self,
        from: u64,
        to: u64,
        out: &mut dyn Write,
        buf: &mut Vec<u8>,
    ) -> io::Result<()> {
        match self {
            SpoolReader::Memory(m) => {
                let range = usize::try_from(from).unwrap_or(usize::MAX)
                    ..usize::try_from(to).unwrap_or(usize::MAX);
                let bytes = m
                    .get(range)
                    .ok_or_else(|| spool_error(io::Error::other("spool range")))?;
                out.write_all(bytes)
            }
            SpoolReader::File(f) => {
                // In pieces: a range can be long (all the connection findings).
                f.seek(SeekFrom::Start(from)).map_err(spool_error)?;
                let mut left = to.saturating_sub(from);
                while left > 0 {
                    let n = usize::try_from(left.min(COPY_PIECE as u64)).unwrap_or(COPY_PIECE);
                    buf.resize(n, 0);
                    f.read_exact(buf).map_err(spool_error)?;
                    out.write_all(buf)?;
                    left -= n as u64;
                }
                Ok(())
            }
        }
    }
}
