//! Capture-file writers for tests: classic pcap (microsecond or nanosecond
//! magic, 16-byte record headers), pcapng (SHB + IDBs + EPBs) and gzip.
//!
//! Everything is written little-endian, exactly as libpcap does on x86, so
//! that byte offsets in assertions can be computed by hand: the pcap file
//! header is [`PCAP_HEADER_LEN`] bytes and each record adds
//! [`PCAP_RECORD_HEADER_LEN`] bytes before its data.

use std::io::Write;

/// LINKTYPE_* values (tcpdump.org/linktypes.html).
pub const LINKTYPE_NULL: u32 = 0;
pub const LINKTYPE_ETHERNET: u32 = 1;
pub const LINKTYPE_RAW: u32 = 101;
pub const LINKTYPE_LOOP: u32 = 108;
pub const LINKTYPE_LINUX_SLL: u32 = 113;
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

pub const PCAP_HEADER_LEN: usize = 24;
pub const PCAP_RECORD_HEADER_LEN: usize = 16;

/// One captured packet, ready to be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    /// Interface index (pcapng only; classic pcap ignores it).
    pub iface: u32,
    /// The captured bytes (possibly cut by a snaplen).
    pub data: Vec<u8>,
    /// Length of the packet on the wire.
    pub orig_len: u32,
}

/// Timestamp precision of a classic pcap file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// Magic 0xa1b2c3d4: the fraction counts microseconds.
    Micro,
    /// Magic 0xa1b23c4d: the fraction counts nanoseconds.
    Nano,
}

/// A classic pcap file and where each of its records starts.
#[derive(Clone, Debug)]
pub struct PcapFile {
    pub bytes: Vec<u8>,
    /// Byte offset of each record header, in record order.
    pub record_offsets: Vec<usize>,
}

impl PcapFile {
    /// Cuts the file inside its last record so that only `keep` bytes of it
    /// (record header included) remain. Returns the byte offset at which the
    /// damaged record starts.
    pub fn truncate_last_record(&mut self, keep: usize) -> usize {
        let start = *self
            .record_offsets
            .last()
            .expect("a file with at least one record");
        assert!(
            start + keep < self.bytes.len(),
            "keep ({keep}) must cut the last record short"
        );
        self.bytes.truncate(start + keep);
        start
    }
}

/// Writes a classic pcap file (version 2.4, little-endian).
pub fn write_pcap(
    link_type: u32,
    precision: Precision,
    snaplen: u32,
    records: &[Record],
) -> PcapFile {
    let magic: u32 = match precision {
        Precision::Micro => 0xa1b2_c3d4,
        Precision::Nano => 0xa1b2_3c4d,
    };
    let mut b = Vec::new();
    b.extend(magic.to_le_bytes());
    b.extend(2u16.to_le_bytes());
    b.extend(4u16.to_le_bytes());
    b.extend(0i32.to_le_bytes()); // thiszone
    b.extend(0u32.to_le_bytes()); // sigfigs
    b.extend(snaplen.to_le_bytes());
    b.extend(link_type.to_le_bytes());
    assert_eq!(b.len(), PCAP_HEADER_LEN);
    let mut record_offsets = Vec::with_capacity(records.len());
    for r in records {
        record_offsets.push(b.len());
        let secs = r.ts_ns.div_euclid(1_000_000_000);
        let ns = r.ts_ns.rem_euclid(1_000_000_000);
        let frac = match precision {
            Precision::Micro => ns / 1_000,
            Precision::Nano => ns,
        };
        b.extend(
            u32::try_from(secs)
                .expect("timestamp fits pcap")
                .to_le_bytes(),
        );
        b.extend((frac as u32).to_le_bytes());
        b.extend((r.data.len() as u32).to_le_bytes());
        b.extend(r.orig_len.to_le_bytes());
        b.extend(&r.data);
    }
    PcapFile {
        bytes: b,
        record_offsets,
    }
}

/// One pcapng interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interface {
    pub link_type: u32,
    pub snaplen: u32,
    /// `if_tsresol` as a power of ten (6 = microseconds, 9 = nanoseconds);
    /// `None` writes no option (the default, microseconds).
    pub tsresol: Option<u8>,
}

const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
const PCAPNG_IDB: u32 = 1;
const PCAPNG_EPB: u32 = 6;
const PCAPNG_BOM: u32 = 0x1A2B_3C4D;

fn ng_block(block_type: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let total = (12 + padded) as u32;
    let mut v = Vec::with_capacity(total as usize);
    v.extend(block_type.to_le_bytes());
    v.extend(total.to_le_bytes());
    v.extend(body);
    v.resize(8 + padded, 0);
    v.extend(total.to_le_bytes());
    v
}

/// Writes a little-endian pcapng file: one section, the interfaces, then one
/// Enhanced Packet Block per record.
pub fn write_pcapng(interfaces: &[Interface], records: &[Record]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut shb = PCAPNG_BOM.to_le_bytes().to_vec();
    shb.extend(1u16.to_le_bytes());
    shb.extend(0u16.to_le_bytes());
    shb.extend((-1i64).to_le_bytes()); // section length unknown
    out.extend(ng_block(PCAPNG_SHB, &shb));
    for iface in interfaces {
        let mut idb = u16::try_from(iface.link_type)
            .expect("pcapng link types are 16-bit")
            .to_le_bytes()
            .to_vec();
        idb.extend(0u16.to_le_bytes());
        idb.extend(iface.snaplen.to_le_bytes());
        if let Some(res) = iface.tsresol {
            assert!(res < 0x80, "only decimal resolutions are written");
            idb.extend(9u16.to_le_bytes()); // if_tsresol
            idb.extend(1u16.to_le_bytes());
            idb.extend([res, 0, 0, 0]);
            idb.extend([0u8; 4]); // opt_endofopt
        }
        out.extend(ng_block(PCAPNG_IDB, &idb));
    }
    for r in records {
        let iface = interfaces
            .get(r.iface as usize)
            .unwrap_or_else(|| panic!("record on undeclared interface {}", r.iface));
        let res = iface.tsresol.unwrap_or(6);
        let ticks = i128::from(r.ts_ns) * 10i128.pow(u32::from(res)) / 1_000_000_000;
        let ticks = u64::try_from(ticks).expect("timestamp after 1970");
        let mut epb = r.iface.to_le_bytes().to_vec();
        epb.extend(((ticks >> 32) as u32).to_le_bytes());
        epb.extend((ticks as u32).to_le_bytes());
        epb.extend((r.data.len() as u32).to_le_bytes());
        epb.extend(r.orig_len.to_le_bytes());
        epb.extend(&r.data);
        out.extend(ng_block(PCAPNG_EPB, &epb));
    }
    out
}

/// Gzip-compresses a whole file.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}
