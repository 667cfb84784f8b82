//! Capture reader: pcap and pcapng files, streamed one record at a time.
//!
//! Input: a path (or `-` for standard input), optionally gzip-compressed
//! (detected by its magic bytes). Output: [`Frame`]s in file order, each with
//! its 1-based record number (Wireshark's `frame.number`), its timestamp in
//! integer nanoseconds, its link type and its bytes.
//!
//! Memory: one read buffer that holds at most one record plus read-ahead.
//! Records are parsed with pcap-parser's block parsers, but only after this
//! module has checked that the whole record is in the buffer, so pcap-parser
//! never sees a partial record and the well-known `Incomplete` → refill loop on
//! a truncated tail cannot happen. A record cut short, or one whose length
//! field is absurd, ends the reading with [`CaptureDamage`], which names the
//! byte offset; everything before it has been delivered.

use std::fs::File;
use std::io::{self, BufReader, Read};

use flate2::read::MultiGzDecoder;
use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapNGPacketBlock;

use crate::error::Error;
use crate::time::Timestamp;

/// Largest record we accept. libpcap caps snaplen at 256 KiB and Wireshark
/// refuses records over 2^28; a larger length field means a damaged file.
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// Bytes requested from the source per read.
const READ_CHUNK: usize = 256 * 1024;

const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_IDB: u32 = 0x0000_0001;
const PCAPNG_OPB: u32 = 0x0000_0002;
const PCAPNG_SPB: u32 = 0x0000_0003;
const PCAPNG_EPB: u32 = 0x0000_0006;
const PCAPNG_BOM: u32 = 0x1A2B_3C4D;

/// The container format of a capture file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureFormat {
    Pcap,
    PcapNg,
}

impl CaptureFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureFormat::Pcap => "pcap",
            CaptureFormat::PcapNg => "pcapng",
        }
    }
}

/// One captured record.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// 1-based record number, as Wireshark's `frame.number`.
    pub number: u64,
    pub ts: Timestamp,
    /// LINKTYPE_* value of the interface the record came from.
    pub link_type: u32,
    /// Length of the packet on the wire (may exceed `data.len()` when the
    /// capture's snaplen cut it).
    pub orig_len: u32,
    pub data: &'a [u8],
}

/// Where and why reading stopped early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureDamage {
    /// Byte offset in the (decompressed) file where the damaged record starts.
    pub offset: u64,
    pub detail: String,
}

#[derive(Clone, Copy, Debug)]
enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        match self {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        }
    }

    fn u16(self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        match self {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct PcapLayout {
    endian: Endian,
    /// Fraction units per second: 1e6 (microsecond) or 1e9 (nanosecond).
    units: u64,
    link_type: u32,
    /// Record header size: 16, or 24 for Kuznetzov's "modified" pcap.
    header_len: usize,
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    link_type: u32,
    units: u64,
    offset_secs: i64,
    snaplen: u32,
}

#[derive(Debug)]
enum Layout {
    Pcap(PcapLayout),
    PcapNg {
        endian: Endian,
        interfaces: Vec<Interface>,
    },
}

/// Streaming reader over one capture file.
pub struct CaptureReader {
    source: ReadAhead,
    buf: Vec<u8>,
    /// Start of unconsumed bytes in `buf`.
    start: usize,
    /// End of the bytes read into `buf`.
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    /// Length of the record returned last; consumed on the next call.
    pending_consume: usize,
    eof: bool,
    layout: Layout,
    format: CaptureFormat,
    frames: u64,
    last_ts: Timestamp,
    damage: Option<CaptureDamage>,
    bytes_read: u64,
    compressed: bool,
    path: String,
}

impl CaptureReader {
    /// Opens a file (`-` = standard input) and reads its header; the bytes
    /// are read on a thread of their own.
    pub fn open(path: &str) -> Result<CaptureReader, Error> {
        Self::open_with(path, true)
    }

    /// As [`Self::open`]; `read_ahead`: false reads on the calling thread.
    pub fn open_with(path: &str, read_ahead: bool) -> Result<CaptureReader, Error> {
        let io_err = |source| Error::Io {
            path: path.to_string(),
            source,
        };
        let source: Box<dyn Read + Send> = if path == "-" {
            Box::new(io::stdin())
        } else {
            let meta = std::fs::metadata(path).map_err(io_err)?;
            if meta.is_dir() {
                return Err(io_err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    "is a directory",
                )));
            }
            Box::new(File::open(path).map_err(io_err)?)
        };
        CaptureReader::from_reader_with(path, source, read_ahead)
    }

    /// Reads a capture from any byte source, on a thread of its own; `name`
    /// is used in messages.
    pub fn from_reader(name: &str, source: Box<dyn Read + Send>) -> Result<CaptureReader, Error> {
        Self::from_reader_with(name, source, true)
    }

    /// As [`Self::from_reader`]; `read_ahead`: false reads on the calling
    /// thread.
    pub fn from_reader_with(
        name: &str,
        source: Box<dyn Read + Send>,
        read_ahead: bool,
    ) -> Result<CaptureReader, Error> {
        let mut raw = BufReader::with_capacity(READ_CHUNK, source);
        let mut magic = [0u8; 2];
        let n = read_full(&mut raw, &mut magic).map_err(|source| Error::Io {
            path: name.to_string(),
            source,
        })?;
        let prefix = magic[..n].to_vec();
        let chained = io::Cursor::new(prefix).chain(raw);
        let compressed = n == 2 && magic == [0x1f, 0x8b];
        let source = if compressed {
            ReadAhead::start(MultiGzDecoder::new(chained), true, read_ahead)
        } else {
            ReadAhead::start(chained, false, read_ahead)
        };
        let mut reader = CaptureReader {
            source,
            buf: Vec::new(),
            start: 0,
            end: 0,
            offset: 0,
            pending_consume: 0,
            eof: false,
            layout: Layout::PcapNg {
                endian: Endian::Little,
                interfaces: Vec::new(),
            },
            format: CaptureFormat::PcapNg,
            frames: 0,
            last_ts: Timestamp(0),
            damage: None,
            bytes_read: 0,
            compressed,
            path: name.to_string(),
        };
        reader.read_file_header()?;
        Ok(reader)
    }

    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// Where reading stopped early, if it did.
    pub fn damage(&self) -> Option<&CaptureDamage> {
        self.damage.as_ref()
    }

    /// Bytes of (decompressed) file consumed so far.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// Bytes read from the source so far (decompressed).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    fn available(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// Makes at least `n` bytes available; false if the source ends first.
    fn fill(&mut self, n: usize) -> Result<bool, Error> {
        while self.end - self.start < n {
            if self.eof {
                return Ok(false);
            }
            let (block, filled) = match self.source.next_block() {
                Ok(Some(got)) => got,
                Ok(None) => {
                    self.eof = true;
                    return Ok(false);
                }
                Err(e) => {
                    self.eof = true;
                    // A corrupt gzip stream is damage, not an I/O failure.
                    if self.compressed
                        && matches!(
                            e.kind(),
                            io::ErrorKind::InvalidInput
                                | io::ErrorKind::InvalidData
                                | io::ErrorKind::UnexpectedEof
                        )
                    {
                        self.set_damage(format!("decompression failed: {e}"));
                        return Ok(false);
                    }
                    return Err(Error::Io {
                        path: self.path.clone(),
                        source: e,
                    });
                }
            };
            self.bytes_read += (filled - BLOCK_HEADROOM) as u64;
            let tail = self.end - self.start;
            if tail <= BLOCK_HEADROOM {
                // The unconsumed tail (less than one record) goes into the
                // new block's headroom, right before its data: the file's
                // bytes are copied once, by the kernel, on the reading thread.
                let mut block = block;
                let at = BLOCK_HEADROOM - tail;
                block[at..BLOCK_HEADROOM].copy_from_slice(&self.buf[self.start..self.end]);
                let used = std::mem::replace(&mut self.buf, block);
                self.source.give_back(used);
                self.start = at;
                self.end = filled;
            } else {
                // A record longer than the headroom: this buffer grows.
                self.buf.copy_within(self.start..self.end, 0);
                self.buf.truncate(tail);
                self.buf.extend_from_slice(&block[BLOCK_HEADROOM..filled]);
                self.start = 0;
                self.end = self.buf.len();
                self.source.give_back(block);
            }
        }
        Ok(true)
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    fn set_damage(&mut self, detail: String) {
        if self.damage.is_none() {
            self.damage = Some(CaptureDamage {
                offset: self.offset,
                detail,
            });
        }
    }

    fn read_file_header(&mut self) -> Result<(), Error> {
        self.fill(24)?;
        let head = self.available();
        if head.is_empty() {
            return Err(self.not_capture("empty file".to_string()));
        }
        if head.len() < 4 {
            return Err(self.not_capture(format!("only {} bytes", head.len())));
        }
        let magic = [head[0], head[1], head[2], head[3]];
        match magic {
            [0x0a, 0x0d, 0x0d, 0x0a] => {
                self.format = CaptureFormat::PcapNg;
                self.check_first_section()
            }
            [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x34, 0xcd, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xcd, 0x34] => self.read_pcap_header(),
            _ => Err(self.not_capture(identify(head))),
        }
    }

    /// The first Section Header Block must be readable and of version 1;
    /// later sections that are not are damage, not a fatal error.
    fn check_first_section(&mut self) -> Result<(), Error> {
        let path = self.path.clone();
        let bad = |detail: String| Error::BadHeader {
            path: path.clone(),
            detail,
        };
        let head = self.available();
        if head.len() < 12 {
            return Err(bad("pcapng section header is cut short".into()));
        }
        let bom = [head[8], head[9], head[10], head[11]];
        let endian = if u32::from_le_bytes(bom) == PCAPNG_BOM {
            Endian::Little
        } else if u32::from_be_bytes(bom) == PCAPNG_BOM {
            Endian::Big
        } else {
            return Err(bad("pcapng byte-order magic is invalid".into()));
        };
        let len = endian.u32(&head[4..8]) as usize;
        if !(28..=MAX_RECORD_BYTES).contains(&len) {
            return Err(bad(format!(
                "pcapng section header length {len} is invalid"
            )));
        }
        if !self.fill(len)? {
            return Err(bad("pcapng section header is cut short".into()));
        }
        let block = &self.available()[..len];
        let major = endian.u16(&block[12..14]);
        if major != 1 {
            let minor = endian.u16(&block[14..16]);
            return Err(bad(format!(
                "pcapng version {major}.{minor} is not supported"
            )));
        }
        if pcap_parser::pcapng::parse_sectionheaderblock(block).is_err()
            || !options_fit(endian, block, 24)
        {
            return Err(bad(
                "pcapng section header does not parse (damaged options)".into(),
            ));
        }
        Ok(())
    }

    fn read_pcap_header(&mut self) -> Result<(), Error> {
        let head = self.available();
        if head.len() < 24 {
            return Err(Error::BadHeader {
                path: self.path.clone(),
                detail: format!("pcap file header is {} bytes, 24 are needed", head.len()),
            });
        }
        let (header, endian) = match pcap_parser::parse_pcap_header(head) {
            Ok((_, h)) => {
                let endian = if h.is_bigendian() {
                    Endian::Big
                } else {
                    Endian::Little
                };
                (h, endian)
            }
            Err(_) => {
                return Err(Error::BadHeader {
                    path: self.path.clone(),
                    detail: "pcap file header does not parse".to_string(),
                })
            }
        };
        if header.version_major != 2 {
            return Err(Error::BadHeader {
                path: self.path.clone(),
                detail: format!("pcap version {} is not supported", header.version_major),
            });
        }
        // The link-type field's bits 16-25 are reserved (bits 26-31 carry
        // the FCS length); libpcap and Wireshark refuse a file that sets them.
        let network = header.network.0 as u32;
        if network & 0x03FF_0000 != 0 {
            return Err(Error::BadHeader {
                path: self.path.clone(),
                detail: format!("link-type field {network:#010x} has reserved bits set"),
            });
        }
        let units = if header.is_nanosecond_precision() {
            1_000_000_000
        } else {
            1_000_000
        };
        self.format = CaptureFormat::Pcap;
        self.layout = Layout::Pcap(PcapLayout {
            endian,
            units,
            link_type: network & 0xFFFF,
            header_len: if header.is_modified_format() { 24 } else { 16 },
        });
        self.consume(24);
        Ok(())
    }

    fn not_capture(&self, what: String) -> Error {
        Error::NotACapture {
            path: self.path.clone(),
            what,
        }
    }

    /// The next frame, or `None` at the end of the file or at damage (see
    /// [`CaptureReader::damage`]). Errors are I/O failures only.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, Error> {
        let n = std::mem::take(&mut self.pending_consume);
        self.consume(n);
        if self.damage.is_some() {
            return Ok(None);
        }
        loop {
            let step = match self.layout {
                Layout::Pcap(layout) => self.step_pcap(layout)?,
                Layout::PcapNg { .. } => self.step_pcapng()?,
            };
            match step {
                Step::End => return Ok(None),
                Step::Skip(len) => self.consume(len),
                Step::Frame(rec) => {
                    self.frames += 1;
                    self.pending_consume = rec.record_len;
                    self.last_ts = rec.ts;
                    let data = self
                        .available()
                        .get(rec.data_start..rec.data_start + rec.caplen)
                        .unwrap_or(&[]);
                    return Ok(Some(Frame {
                        number: self.frames,
                        ts: rec.ts,
                        link_type: rec.link_type,
                        orig_len: rec.orig_len,
                        data,
                    }));
                }
            }
        }
    }

    fn step_pcap(&mut self, layout: PcapLayout) -> Result<Step, Error> {
        let hl = layout.header_len;
        if !self.fill(hl)? {
            let left = self.available().len();
            if left > 0 {
                self.set_damage(format!(
                    "file ends inside a record header ({left} of {hl} bytes)"
                ));
            }
            return Ok(Step::End);
        }
        let h = self.available();
        let caplen = layout.endian.u32(&h[8..12]) as usize;
        if caplen > MAX_RECORD_BYTES {
            self.set_damage(format!(
                "record claims {caplen} captured bytes (limit {MAX_RECORD_BYTES})"
            ));
            return Ok(Step::End);
        }
        let total = hl + caplen;
        if !self.fill(total)? {
            let left = self.available().len();
            self.set_damage(format!(
                "file ends inside a record ({left} of {total} bytes)"
            ));
            return Ok(Step::End);
        }
        let h = &self.available()[..total];
        // pcap-parser sees only complete records (see the module docs).
        let parsed = match (layout.endian, hl) {
            (_, 24) => pcap_parser::parse_pcap_frame_modified(h),
            (Endian::Big, _) => pcap_parser::parse_pcap_frame_be(h),
            (Endian::Little, _) => pcap_parser::parse_pcap_frame(h),
        };
        let block = match parsed {
            Ok((_, b)) => b,
            Err(_) => {
                self.set_damage("record does not parse".to_string());
                return Ok(Step::End);
            }
        };
        let frac = block.ts_usec as u64;
        let ts = Timestamp::from_parts(block.ts_sec as i64, frac, layout.units);
        Ok(Step::Frame(Record {
            ts,
            link_type: layout.link_type,
            orig_len: block.origlen,
            caplen,
            data_start: hl,
            record_len: total,
        }))
    }

    fn step_pcapng(&mut self) -> Result<Step, Error> {
        if !self.fill(12)? {
            let left = self.available().len();
            if left > 0 {
                self.set_damage(format!(
                    "file ends inside a block header ({left} of 12 bytes)"
                ));
            }
            return Ok(Step::End);
        }
        let h = self.available();
        let raw_type = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let endian = if raw_type == PCAPNG_SHB {
            let bom = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
            if bom == PCAPNG_BOM {
                Endian::Little
            } else if bom.swap_bytes() == PCAPNG_BOM {
                Endian::Big
            } else {
                self.set_damage("section header with an unknown byte-order magic".to_string());
                return Ok(Step::End);
            }
        } else {
            match &self.layout {
                Layout::PcapNg { endian, .. } => *endian,
                Layout::Pcap(_) => Endian::Little,
            }
        };
        let block_type = endian.u32(&h[0..4]);
        let len = endian.u32(&h[4..8]) as usize;
        if len < 12 || len % 4 != 0 || len > MAX_RECORD_BYTES + 64 {
            self.set_damage(format!(
                "block of type {block_type:#x} has invalid length {len}"
            ));
            return Ok(Step::End);
        }
        if !self.fill(len)? {
            let left = self.available().len();
            self.set_damage(format!("file ends inside a block ({left} of {len} bytes)"));
            return Ok(Step::End);
        }
        let bytes = &self.available()[..len];
        if endian.u32(&bytes[len - 4..]) as usize != len {
            self.set_damage(format!(
                "block of type {block_type:#x}: trailing length does not match {len}"
            ));
            return Ok(Step::End);
        }
        if block_type == PCAPNG_SHB {
            let major = endian.u16(&bytes[12..14]);
            if major != 1 || len < 28 {
                self.set_damage(format!(
                    "a later section has unsupported pcapng version {major}"
                ));
                return Ok(Step::End);
            }
            self.layout = Layout::PcapNg {
                endian,
                interfaces: Vec::new(),
            };
            return Ok(Step::Skip(len));
        }
        if block_type == PCAPNG_OPB {
            return Ok(self.obsolete_packet(endian, len));
        }
        if block_type != PCAPNG_IDB && block_type != PCAPNG_EPB && block_type != PCAPNG_SPB {
            return Ok(Step::Skip(len));
        }
        let parsed = parse_ng_block(endian, bytes);
        let Layout::PcapNg { interfaces, .. } = &mut self.layout else {
            return Ok(Step::Skip(len));
        };
        match parsed {
            NgBlock::Interface(iface) => {
                interfaces.push(iface);
                Ok(Step::Skip(len))
            }
            NgBlock::Packet {
                if_id,
                ticks,
                orig_len,
                data_start,
                caplen,
            } => {
                let Some(iface) = interfaces.get(if_id).copied() else {
                    return Ok(Step::Skip(len));
                };
                // Simple Packet Blocks (no `ticks`) carry no timestamp; reuse the last one.
                let ts = ticks.map_or(self.last_ts, |t| ticks_to_ts(t, iface));
                let caplen = if ticks.is_none() && iface.snaplen > 0 {
                    caplen.min(iface.snaplen as usize)
                } else {
                    caplen
                };
                Ok(Step::Frame(Record {
                    ts,
                    link_type: iface.link_type,
                    orig_len,
                    caplen,
                    data_start,
                    record_len: len,
                }))
            }
            NgBlock::Other => Ok(Step::Skip(len)),
        }
    }

    /// The obsolete Packet Block (type 2), which pcap-parser does not parse.
    fn obsolete_packet(&mut self, endian: Endian, len: usize) -> Step {
        let b = &self.available()[..len];
        if len < 32 {
            return Step::Skip(len);
        }
        let if_id = endian.u16(&b[8..10]) as usize;
        let ticks = ((endian.u32(&b[12..16]) as u64) << 32) | endian.u32(&b[16..20]) as u64;
        let caplen = endian.u32(&b[20..24]) as usize;
        let orig_len = endian.u32(&b[24..28]);
        let Layout::PcapNg { interfaces, .. } = &self.layout else {
            return Step::Skip(len);
        };
        let Some(iface) = interfaces.get(if_id).copied() else {
            return Step::Skip(len);
        };
        if 28 + caplen > len - 4 {
            return Step::Skip(len);
        }
        Step::Frame(Record {
            ts: ticks_to_ts(ticks, iface),
            link_type: iface.link_type,
            orig_len,
            caplen,
            data_start: 28,
            record_len: len,
        })
    }
}

fn ticks_to_ts(ticks: u64, iface: Interface) -> Timestamp {
    let units = iface.units.max(1);
    let secs = (ticks / units) as i64;
    let frac = ticks % units;
    let base = Timestamp::from_parts(secs, frac, units);
    Timestamp(
        base.0
            .saturating_add(iface.offset_secs.saturating_mul(1_000_000_000)),
    )
}

/// What a pcapng block holds, copied out of the read buffer.
enum NgBlock {
    Interface(Interface),
    Packet {
        if_id: usize,
        /// None for a Simple Packet Block.
        ticks: Option<u64>,
        orig_len: u32,
        data_start: usize,
        caplen: usize,
    },
    Other,
}

/// Parses one complete pcapng block with pcap-parser.
fn parse_ng_block(endian: Endian, bytes: &[u8]) -> NgBlock {
    let parsed = match endian {
        Endian::Little => pcap_parser::pcapng::parse_block_le(bytes),
        Endian::Big => pcap_parser::pcapng::parse_block_be(bytes),
    };
    // A block that does not parse is skipped: its length is sound, so the
    // rest of the file can still be read.
    let Ok((_, block)) = parsed else {
        return NgBlock::Other;
    };
    let start_of = |data: &[u8]| data.as_ptr() as usize - bytes.as_ptr() as usize;
    match block {
        Block::InterfaceDescription(idb) => NgBlock::Interface(Interface {
            link_type: idb.linktype.0 as u32,
            units: idb.ts_resolution().unwrap_or(1_000_000),
            offset_secs: idb.ts_offset(),
            snaplen: idb.snaplen,
        }),
        Block::EnhancedPacket(epb) => {
            let data = epb.packet_data();
            NgBlock::Packet {
                if_id: epb.if_id as usize,
                ticks: Some(((epb.ts_high as u64) << 32) | epb.ts_low as u64),
                orig_len: epb.origlen,
                data_start: start_of(data),
                caplen: data.len(),
            }
        }
        Block::SimplePacket(spb) => {
            let data = spb.packet_data();
            NgBlock::Packet {
                if_id: 0,
                ticks: None,
                orig_len: spb.origlen,
                data_start: start_of(data),
                caplen: data.len(),
            }
        }
        _ => NgBlock::Other,
    }
}

struct Record {
    ts: Timestamp,
    link_type: u32,
    orig_len: u32,
    caplen: usize,
    data_start: usize,
    record_len: usize,
}

enum Step {
    End,
    Skip(usize),
    Frame(Record),
}

/// True when the options of a pcapng block (starting at `start`) each fit
/// inside the block; pcap-parser tolerates some that overflow.
fn options_fit(endian: Endian, block: &[u8], start: usize) -> bool {
    let end = block.len().saturating_sub(4);
    let mut off = start;
    while off + 4 <= end {
        let code = endian.u16(&block[off..off + 2]);
        let len = endian.u16(&block[off + 2..off + 4]) as usize;
        if code == 0 {
            return true;
        }
        off += 4 + len.div_ceil(4) * 4;
        if off > end {
            return false;
        }
    }
    true
}

/// Reads until `buf` is full or the source ends; returns the count read.
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(g) => n += g,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Names a non-capture file from its first bytes, for the error message.
fn identify(head: &[u8]) -> String {
    let starts = |p: &[u8]| head.starts_with(p);
    if starts(b"snoop\0\0\0") {
        "a Sun snoop capture; convert it with `editcap -F pcap`".to_string()
    } else if starts(b"\x89PNG") {
        "a PNG image".to_string()
    } else if starts(b"\x7fELF") {
        "an ELF executable".to_string()
    } else if starts(b"%PDF") {
        "a PDF document".to_string()
    } else if starts(b"PK\x03\x04") {
        "a zip archive".to_string()
    } else if starts(b"\xff\xd8\xff") {
        "a JPEG image".to_string()
    } else if starts(b"\x7f\x45\x54\x48") || starts(b"\x7fver") {
        "an EtherPeek/AiroPeek capture".to_string()
    } else if head.len() >= 16 && (head[8] & 0x7f) <= 30 && head[10] < 0x80 && is_erf(head) {
        "looks like an Endace ERF capture; convert it with `editcap -F pcap`".to_string()
    } else if head
        .iter()
        .take(64)
        .all(|b| b.is_ascii() && (*b >= 0x20 || b"\r\n\t".contains(b)))
    {
        "a text file".to_string()
    } else {
        let hex: Vec<String> = head.iter().take(4).map(|b| format!("{b:02x}")).collect();
        format!("unknown format, first bytes {}", hex.join(" "))
    }
}

/// ERF has no magic; check that the first record header is self-consistent.
fn is_erf(head: &[u8]) -> bool {
    let rlen = u16::from_be_bytes([head[10], head[11]]) as usize;
    let ty = head[8] & 0x7f;
    (1..=30).contains(&ty) && (16..=16384).contains(&rlen)
}

/// The capture's bytes in blocks, each with [`BLOCK_HEADROOM`] free bytes
/// before its data, where the reader puts the end of the previous block that
/// a record straddles; blocks are reused. Normally read (and decompressed)
/// on a thread of its own a few blocks ahead: the kernel's copy of the file,
/// or the decompression, then costs the analysis thread nothing. With
/// `--threads 1`, read in line.
enum ReadAhead {
    Thread {
        /// (block, end of its data) or the source's error; the data is
        /// `block[BLOCK_HEADROOM..end]`, and a block without data ends it.
        blocks: std::sync::mpsc::Receiver<io::Result<(Vec<u8>, usize)>>,
        spare: std::sync::mpsc::SyncSender<Vec<u8>>,
        done: bool,
    },
    Inline {
        source: Box<dyn Read + Send>,
        fill: bool,
        spare: Option<Vec<u8>>,
        /// What ended the last block, reported with the next one.
        ended: Option<io::Result<()>>,
    },
}

/// Bytes of file data per block.
const BLOCK_DATA: usize = 256 * 1024;
/// Room before a block's data for the previous block's last partial record.
const BLOCK_HEADROOM: usize = 64 * 1024;
/// Blocks read ahead.
const BLOCKS_AHEAD: usize = 6;

/// Reads the next block's data into `block` (resized to a whole block):
/// the bytes read, and what ended them early (the source's end or error).
/// `fill`: keep reading until the block is full (a decompressor's reads are
/// short); otherwise a short read ends the block, so that a pipe's bytes are
/// analyzed as they come.
fn read_block(
    source: &mut (impl Read + ?Sized),
    block: &mut Vec<u8>,
    fill: bool,
) -> (usize, Option<io::Result<()>>) {
    if block.len() < BLOCK_HEADROOM + BLOCK_DATA {
        block.resize(BLOCK_HEADROOM + BLOCK_DATA, 0);
    }
    let mut n = 0;
    while n < BLOCK_DATA {
        match source.read(&mut block[BLOCK_HEADROOM + n..]) {
            Ok(0) => return (n, Some(Ok(()))),
            Ok(got) => {
                n += got;
                if !fill {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (n, Some(Err(e))),
        }
    }
    (n, None)
}

impl ReadAhead {
    fn start<R: Read + Send + 'static>(source: R, fill: bool, thread: bool) -> ReadAhead {
        if !thread {
            return ReadAhead::Inline {
                source: Box::new(source),
                fill,
                spare: None,
                ended: None,
            };
        }
        let mut source = source;
        let (tx, blocks) = std::sync::mpsc::sync_channel(BLOCKS_AHEAD);
        let (spare, spares) = std::sync::mpsc::sync_channel::<Vec<u8>>(BLOCKS_AHEAD + 2);
        let failed = tx.clone();
        let spawned = std::thread::Builder::new()
            .name("wireblame-read".into())
            .spawn(move || loop {
                let mut block = spares.try_recv().unwrap_or_default();
                let (n, ended) = read_block(&mut source, &mut block, fill);
                // The bytes before an error or the end are delivered first.
                // A failed send: the reader is gone (dropped early).
                if n > 0 && tx.send(Ok((block, BLOCK_HEADROOM + n))).is_err() {
                    return;
                }
                match ended {
                    None => {}
                    Some(Ok(())) => {
                        let _ = tx.send(Ok((Vec::new(), BLOCK_HEADROOM)));
                        return;
                    }
                    Some(Err(e)) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            });
        if let Err(e) = spawned {
            let _ = failed.send(Err(e));
        }
        ReadAhead::Thread {
            blocks,
            spare,
            done: false,
        }
    }

    /// The next block with data and the end of its data, `None` at the end.
    fn next_block(&mut self) -> io::Result<Option<(Vec<u8>, usize)>> {
        match self {
            ReadAhead::Thread { blocks, done, .. } => {
                if *done {
                    return Ok(None);
                }
                match blocks.recv() {
                    Ok(Ok((block, end))) if end > BLOCK_HEADROOM => Ok(Some((block, end))),
                    Ok(Ok(_)) => {
                        *done = true;
                        Ok(None)
                    }
                    Ok(Err(e)) => {
                        *done = true;
                        Err(e)
                    }
                    Err(_) => {
                        // The thread ended without the stream's end.
                        *done = true;
                        Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "the reading thread stopped",
                        ))
                    }
                }
            }
            ReadAhead::Inline {
                source,
                fill,
                spare,
                ended,
            } => {
                match ended.take() {
                    None => {}
                    Some(Ok(())) => {
                        *ended = Some(Ok(()));
                        return Ok(None);
                    }
                    Some(Err(e)) => {
                        *ended = Some(Ok(()));
                        return Err(e);
                    }
                }
                let mut block = spare.take().unwrap_or_default();
                let (n, end) = read_block(source, &mut block, *fill);
                *ended = end;
                if n > 0 {
                    return Ok(Some((block, BLOCK_HEADROOM + n)));
                }
                *spare = Some(block);
                self.next_block()
            }
        }
    }

    fn give_back(&mut self, block: Vec<u8>) {
        if block.len() < BLOCK_HEADROOM + BLOCK_DATA {
            return;
        }
        match self {
            ReadAhead::Thread { spare, .. } => {
                let _ = spare.try_send(block);
            }
            ReadAhead::Inline { spare, .. } => *spare = Some(block),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_header(magic: [u8; 4], link: u32, be: bool) -> Vec<u8> {
        let mut v = magic.to_vec();
        let put16 = |v: &mut Vec<u8>, x: u16| {
            v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() })
        };
        put16(&mut v, 2);
        put16(&mut v, 4);
        v.extend_from_slice(&[0; 8]);
        let snap: u32 = 65535;
        v.extend_from_slice(&if be {
            snap.to_be_bytes()
        } else {
            snap.to_le_bytes()
        });
        v.extend_from_slice(&if be {
            link.to_be_bytes()
        } else {
            link.to_le_bytes()
        });
        v
    }

    fn record(ts: u32, frac: u32, data: &[u8], be: bool) -> Vec<u8> {
        let mut v = Vec::new();
        for x in [ts, frac, data.len() as u32, data.len() as u32] {
            v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
        }
        v.extend_from_slice(data);
        v
    }

    fn read_all(bytes: Vec<u8>) -> (Vec<(u64, i64, usize)>, Option<CaptureDamage>) {
        let mut r = CaptureReader::from_reader("t", Box::new(io::Cursor::new(bytes))).unwrap();
        let mut out = Vec::new();
        while let Some(f) = r.next_frame().unwrap() {
            out.push((f.number, f.ts.0, f.data.len()));
        }
        (out, r.damage().cloned())
    }

    /// Records of every size around the read-ahead blocks' headroom cross
    /// block boundaries at every offset; each comes out whole, in order,
    /// from a plain and from a trickling (pipe-like) source, read on a
    /// thread or in line.
    #[test]
    fn records_straddling_read_ahead_blocks() {
        struct Trickle(io::Cursor<Vec<u8>>);
        impl Read for Trickle {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = out.len().min(7_919);
                self.0.read(&mut out[..n])
            }
        }
        let sizes = [
            1,
            60,
            1_514,
            BLOCK_HEADROOM - 16,
            BLOCK_HEADROOM + 1,
            200_000,
            9_000,
        ];
        let mut bytes = pcap_header([0xd4, 0xc3, 0xb2, 0xa1], 1, false);
        let mut expected = Vec::new();
        for i in 0..120u32 {
            let len = sizes[i as usize % sizes.len()];
            let data: Vec<u8> = (0..len).map(|k| (k as u32 ^ i) as u8).collect();
            bytes.extend(record(i, 0, &data, false));
            expected.push(data);
        }
        let total: usize = expected.iter().map(Vec::len).sum();
        assert!(total > 8 * BLOCK_DATA);
        for (trickle, read_ahead) in [(false, true), (true, true), (false, false), (true, false)] {
            let source: Box<dyn Read + Send> = match trickle {
                false => Box::new(io::Cursor::new(bytes.clone())),
                true => Box::new(Trickle(io::Cursor::new(bytes.clone()))),
            };
            let mut r = CaptureReader::from_reader_with("t", source, read_ahead).unwrap();
            let mut got = 0;
            while let Some(f) = r.next_frame().unwrap() {
                assert_eq!(f.data, &expected[got][..], "record {got}");
                got += 1;
            }
            assert_eq!((got, r.damage().is_none()), (expected.len(), true));
        }
    }

    #[test]
    fn little_and_big_endian_micro_and_nano() {
        for (magic, be, units) in [
            ([0xd4, 0xc3, 0xb2, 0xa1], false, 1_000),
            ([0xa1, 0xb2, 0xc3, 0xd4], true, 1_000),
            ([0x4d, 0x3c, 0xb2, 0xa1], false, 1),
            ([0xa1, 0xb2, 0x3c, 0x4d], true, 1),
        ] {
            let mut f = pcap_header(magic, 1, be);
            f.extend(record(10, 7, &[1, 2, 3], be));
            f.extend(record(11, 8, &[4; 60], be));
            let (frames, damage) = read_all(f);
            assert_eq!(damage, None);
            assert_eq!(
                frames,
                vec![
                    (1, 10_000_000_000 + 7 * units, 3),
                    (2, 11_000_000_000 + 8 * units, 60)
                ]
            );
        }
    }

    #[test]
    fn truncated_tail_names_offset() {
        let mut f = pcap_header([0xd4, 0xc3, 0xb2, 0xa1], 1, false);
        f.extend(record(1, 0, &[0; 40], false));
        let mut last = record(2, 0, &[0; 40], false);
        last.truncate(30);
        f.extend(last);
        let (frames, damage) = read_all(f);
        assert_eq!(frames.len(), 1);
        let d = damage.unwrap();
        assert_eq!(d.offset, 24 + 16 + 40);
        assert!(d.detail.contains("30 of 56"), "{}", d.detail);
    }

    #[test]
    fn absurd_record_length_is_damage_not_allocation() {
        let mut f = pcap_header([0xd4, 0xc3, 0xb2, 0xa1], 1, false);
        let mut r = record(1, 0, &[0; 4], false);
        r[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        f.extend(r);
        let (frames, damage) = read_all(f);
        assert!(frames.is_empty());
        assert!(damage.unwrap().detail.contains("claims"));
    }

    #[test]
    fn not_a_capture() {
        for (bytes, what) in [
            (Vec::new(), "empty"),
            (b"\x89PNG\r\n\x1a\n0000000000000000".to_vec(), "PNG"),
            (b"snoop\0\0\0\0\0\0\x02\0\0\0\x04".to_vec(), "snoop"),
        ] {
            let e = CaptureReader::from_reader("x", Box::new(io::Cursor::new(bytes)))
                .err()
                .unwrap();
            assert!(e.to_string().contains(what), "{e}");
        }
    }

    fn ng_block(ty: u32, body: &[u8]) -> Vec<u8> {
        let len = 12 + body.len().div_ceil(4) * 4;
        let mut v = ty.to_le_bytes().to_vec();
        v.extend((len as u32).to_le_bytes());
        v.extend(body);
        v.resize(len - 4, 0);
        v.extend((len as u32).to_le_bytes());
        v
    }

    fn shb() -> Vec<u8> {
        let mut body = PCAPNG_BOM.to_le_bytes().to_vec();
        body.extend(1u16.to_le_bytes());
        body.extend(0u16.to_le_bytes());
        body.extend((-1i64).to_le_bytes());
        ng_block(PCAPNG_SHB, &body)
    }

    fn idb(link: u16, tsresol: Option<u8>, tsoffset: Option<i64>) -> Vec<u8> {
        let mut body = link.to_le_bytes().to_vec();
        body.extend(0u16.to_le_bytes());
        body.extend(0u32.to_le_bytes());
        if let Some(r) = tsresol {
            body.extend(9u16.to_le_bytes());
            body.extend(1u16.to_le_bytes());
            body.extend([r, 0, 0, 0]);
        }
        if let Some(o) = tsoffset {
            body.extend(14u16.to_le_bytes());
            body.extend(8u16.to_le_bytes());
            body.extend(o.to_le_bytes());
        }
        body.extend([0u8; 4]);
        ng_block(PCAPNG_IDB, &body)
    }

    fn epb(if_id: u32, ticks: u64, data: &[u8]) -> Vec<u8> {
        let mut body = if_id.to_le_bytes().to_vec();
        body.extend(((ticks >> 32) as u32).to_le_bytes());
        body.extend((ticks as u32).to_le_bytes());
        body.extend((data.len() as u32).to_le_bytes());
        body.extend((data.len() as u32).to_le_bytes());
        body.extend(data);
        ng_block(PCAPNG_EPB, &body)
    }

    #[test]
    fn pcapng_interfaces_resolution_offset_and_sections() {
        let mut f = shb();
        f.extend(idb(1, None, None));
        f.extend(idb(113, Some(9), Some(100)));
        f.extend(epb(0, 1_500_000, &[1; 5]));
        f.extend(epb(1, 2_000_000_123, &[2; 7]));
        // A second section resets the interfaces.
        f.extend(shb());
        f.extend(idb(101, Some(3), None));
        f.extend(epb(0, 4_321, &[3; 1]));
        let mut r = CaptureReader::from_reader("t", Box::new(io::Cursor::new(f))).unwrap();
        let mut got = Vec::new();
        while let Some(fr) = r.next_frame().unwrap() {
            got.push((fr.number, fr.ts.0, fr.link_type, fr.data.to_vec()));
        }
        assert_eq!(r.format(), CaptureFormat::PcapNg);
        assert_eq!(r.damage(), None);
        assert_eq!(got[0], (1, 1_500_000_000, 1, vec![1; 5]));
        assert_eq!(got[1], (2, 102_000_000_123, 113, vec![2; 7]));
        assert_eq!(got[2], (3, 4_321_000_000, 101, vec![3]));
    }

    #[test]
    fn gzip_is_transparent() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut f = pcap_header([0xd4, 0xc3, 0xb2, 0xa1], 1, false);
        f.extend(record(1, 0, &[9; 20], false));
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&f).unwrap();
        let (frames, damage) = read_all(enc.finish().unwrap());
        assert_eq!(frames, vec![(1, 1_000_000_000, 20)]);
        assert_eq!(damage, None);
    }
}
