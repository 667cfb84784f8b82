//! Frame decode: link layer → IP → TCP (or UDP), borrowing the frame's bytes.
//!
//! Input: one [`Frame`]. Output: a [`Decoded`] value; layers above never see
//! etherparse types. Link layers we parse ourselves (etherparse has no lax
//! SLL, SLL2, NULL or NFLOG); IP is sliced with etherparse's *lax* slicer so
//! that snaplen-cut frames still decode.
//!
//! Invariant: the TCP segment length (`Segment::seg_len`) comes from the IP
//! length fields, never from the captured length, so Ethernet padding and FCS
//! never become data and snaplen-cut frames keep their sequence accounting.
//! When the IP length field is 0 (TSO on the capturing host) the captured
//! length is used. RFC 9293 §3.1 (TCP header), RFC 791, RFC 8200.

use std::net::{IpAddr, SocketAddr};

use etherparse::{LaxIpSlice, LenSource};

use crate::capture::Frame;

/// LINKTYPE_* values (tcpdump.org/linktypes.html).
pub mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const FDDI: u32 = 10;
    /// DLT_RAW as written by some BSDs (12 on most, 14 on OpenBSD).
    pub const RAW_BSD: u32 = 12;
    pub const RAW_OPENBSD: u32 = 14;
    pub const RAW: u32 = 101;
    pub const IEEE802_11: u32 = 105;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    /// ARCNET with the Linux header (source, destination, 2-byte offset).
    pub const ARCNET_LINUX: u32 = 129;
    pub const IEEE802_11_RADIOTAP: u32 = 127;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const NFLOG: u32 = 239;
    pub const LINUX_SLL2: u32 = 276;

    /// A short name for reports.
    pub fn name(lt: u32) -> String {
        match lt {
            NULL => "null".into(),
            ETHERNET => "ethernet".into(),
            FDDI => "fddi".into(),
            RAW_BSD | RAW_OPENBSD | RAW => "raw".into(),
            IEEE802_11 => "ieee802_11".into(),
            LOOP => "loop".into(),
            LINUX_SLL => "linux_sll".into(),
            ARCNET_LINUX => "arcnet_linux".into(),
            IEEE802_11_RADIOTAP => "ieee802_11_radiotap".into(),
            IPV4 => "ipv4".into(),
            IPV6 => "ipv6".into(),
            NFLOG => "nflog".into(),
            LINUX_SLL2 => "linux_sll2".into(),
            other => format!("linktype_{other}"),
        }
    }
}

/// How deep tunnels may nest before we give up (GRE in VXLAN in …).
const MAX_ENCAPSULATION_DEPTH: u8 = 4;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88A8;
const ETHERTYPE_QINQ_OLD1: u16 = 0x9100;
const ETHERTYPE_QINQ_OLD2: u16 = 0x9200;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MC: u16 = 0x8848;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
const ETHERTYPE_TEB: u16 = 0x6558;
const ETHERTYPE_ERSPAN2: u16 = 0x88BE;
const ETHERTYPE_ERSPAN3: u16 = 0x22EB;

const UDP_PORT_VXLAN: u16 = 4789;
const UDP_PORT_GTPU: u16 = 2152;
const UDP_PORT_AYIYA: u16 = 5072;
const UDP_PORT_TEREDO: u16 = 3544;
const UDP_PORT_L2TP: u16 = 1701;
/// Aruba's GRE protocol types carrying 802.11 frames from access points.
const GRE_ARUBA: std::ops::RangeInclusive<u16> = 0x8200..=0x83FF;

/// TCP header flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;

    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
    pub fn psh(self) -> bool {
        self.0 & Self::PSH != 0
    }
}

/// The TCP options wireblame uses (RFC 9293 §3.2, RFC 7323, RFC 2018).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// (TSval, TSecr)
    pub timestamps: Option<(u32, u32)>,
    /// SACK blocks as raw (left, right) sequence numbers; `sack_count` valid.
    pub sack: [(u32, u32); 4],
    pub sack_count: u8,
    /// A TCP-MD5 signature (RFC 2385, kind 19) or TCP-AO (RFC 5925, kind 29).
    pub signature: bool,
}

/// One decoded TCP segment.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub options: TcpOptions,
    /// Payload length the sender sent, from the IP length fields.
    pub seg_len: u32,
    /// Payload bytes captured: `payload.len() <= seg_len`.
    pub payload: &'a [u8],
    /// IPv4 identification, for telling switch duplicates from retransmissions.
    pub ip_id: Option<u16>,
}

/// One decoded UDP datagram (used for DNS).
#[derive(Clone, Copy, Debug)]
pub struct Datagram<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: &'a [u8],
}

/// What a frame turned out to be.
#[derive(Clone, Copy, Debug)]
pub enum Decoded<'a> {
    Tcp(Segment<'a>),
    Udp(Datagram<'a>),
    /// An IP fragment, for [`crate::defrag::Defragmenter`].
    Fragment(crate::defrag::Fragment<'a>),
    /// Readable, but not TCP or UDP over IP (ARP, ICMP, LLC, …).
    Other,
    /// A link type wireblame does not decode.
    UnsupportedLink(u32),
    /// Damaged or cut before the TCP header ended; the string names the layer.
    Malformed(&'static str),
}

/// Decodes one frame.
pub fn decode<'a>(frame: &Frame<'a>) -> Decoded<'a> {
    decode_link(frame.link_type, frame.data, frame.orig_len)
}

/// Decodes bytes of link type `link_type`.
pub fn decode_link(link_type: u32, data: &[u8], orig_len: u32) -> Decoded<'_> {
    // Bytes missing at the end of the frame (snaplen) matter only when the IP
    // length field is unusable; see `ip_payload_len`.
    let cut = orig_len.saturating_sub(data.len() as u32);
    match link_type {
        linktype::ETHERNET => ethernet(data, cut, 0),
        linktype::LINUX_SLL => match data.get(14..16) {
            Some(p) if data.len() >= 16 => {
                ether_type(u16::from_be_bytes([p[0], p[1]]), &data[16..], cut, 0)
            }
            _ => Decoded::Malformed("linux_sll"),
        },
        linktype::LINUX_SLL2 => match data.get(0..2) {
            Some(p) if data.len() >= 20 => {
                ether_type(u16::from_be_bytes([p[0], p[1]]), &data[20..], cut, 0)
            }
            _ => Decoded::Malformed("linux_sll2"),
        },
        linktype::RAW | linktype::RAW_BSD | linktype::RAW_OPENBSD => ip(data, cut, 0),
        linktype::IPV4 | linktype::IPV6 => ip(data, cut, 0),
        linktype::NULL | linktype::LOOP => null_loop(link_type, data, cut),
        linktype::NFLOG => nflog(data, cut),
        linktype::IEEE802_11 => wifi(data, cut),
        linktype::IEEE802_11_RADIOTAP => match data.get(2..4) {
            Some(l) => {
                let len = u16::from_le_bytes([l[0], l[1]]) as usize;
                match data.get(len..) {
                    Some(rest) => wifi(rest, cut),
                    None => Decoded::Malformed("radiotap"),
                }
            }
            None => Decoded::Malformed("radiotap"),
        },
        linktype::FDDI => match data.get(13..) {
            Some(llc) => llc_snap(llc, cut),
            None => Decoded::Malformed("fddi"),
        },
        linktype::ARCNET_LINUX => arcnet(data.get(4..).unwrap_or_default(), cut),
        other => Decoded::UnsupportedLink(other),
    }
}

/// ARCNET after source, destination (and, for Linux, the offset): the
/// protocol ID, then for RFC 1201 a split flag (+4 bytes when it is 0xFF, an
/// exception packet) and a 2-byte sequence number; RFC 1051 has neither.
fn arcnet(data: &[u8], cut: u32) -> Decoded<'_> {
    let Some(&proto) = data.first() else {
        return Decoded::Malformed("arcnet");
    };
    let rfc1201 = |data: &[u8]| -> Option<usize> {
        let split = *data.get(1)?;
        Some(if split == 0xFF { 8 } else { 4 })
    };
    let at = match proto {
        0xD4 | 0xC4 => rfc1201(data),
        0xF0 => Some(1),
        _ => return Decoded::Other,
    };
    match at.and_then(|n| data.get(n..)) {
        Some(ip_bytes) => ip(ip_bytes, cut, 0),
        None => Decoded::Malformed("arcnet"),
    }
}

fn ethernet(data: &[u8], cut: u32, depth: u8) -> Decoded<'_> {
    match data.get(12..14) {
        Some(t) if data.len() >= 14 => {
            let ty = u16::from_be_bytes([t[0], t[1]]);
            if ty <= 1500 {
                // 802.3 length field: LLC follows.
                return llc_snap(&data[14..], cut);
            }
            ether_type(ty, &data[14..], cut, depth)
        }
        _ => Decoded::Malformed("ethernet"),
    }
}

/// Follows an EtherType through VLAN tags, MPLS and PPPoE down to IP.
fn ether_type(mut ty: u16, mut data: &[u8], cut: u32, depth: u8) -> Decoded<'_> {
    // Any number of stacked 802.1Q / 802.1ad tags, bounded by the frame size.
    loop {
        match ty {
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD1 | ETHERTYPE_QINQ_OLD2 => {
                let Some(t) = data.get(2..4) else {
                    return Decoded::Malformed("vlan");
                };
                ty = u16::from_be_bytes([t[0], t[1]]);
                data = &data[4..];
            }
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => return ip(data, cut, depth),
            ETHERTYPE_MPLS | ETHERTYPE_MPLS_MC => return mpls(data, cut, depth),
            ETHERTYPE_PPPOE_SESSION => {
                let Some(p) = data.get(6..8) else {
                    return Decoded::Malformed("pppoe");
                };
                return match u16::from_be_bytes([p[0], p[1]]) {
                    0x0021 | 0x0057 => ip(&data[8..], cut, depth),
                    _ => Decoded::Other,
                };
            }
            ETHERTYPE_TEB if depth < MAX_ENCAPSULATION_DEPTH => {
                return ethernet(data, cut, depth + 1)
            }
            _ => return Decoded::Other,
        }
    }
}

fn mpls(mut data: &[u8], cut: u32, depth: u8) -> Decoded<'_> {
    loop {
        let Some(l) = data.get(0..4) else {
            return Decoded::Malformed("mpls");
        };
        let bottom = l[2] & 0x01 != 0;
        data = &data[4..];
        if bottom {
            break;
        }
    }
    match data.first().map(|b| b >> 4) {
        Some(4) | Some(6) => ip(data, cut, depth),
        _ => Decoded::Other,
    }
}

fn llc_snap(data: &[u8], cut: u32) -> Decoded<'_> {
    match data.get(0..8) {
        Some(h) if h[0] == 0xAA && h[1] == 0xAA && h[2] == 0x03 => {
            ether_type(u16::from_be_bytes([h[6], h[7]]), &data[8..], cut, 0)
        }
        _ => Decoded::Other,
    }
}

fn null_loop(link_type: u32, data: &[u8], cut: u32) -> Decoded<'_> {
    let Some(h) = data.get(0..4) else {
        return Decoded::Malformed("null");
    };
    let family = if link_type == linktype::LOOP {
        u32::from_be_bytes([h[0], h[1], h[2], h[3]])
    } else {
        // Host byte order of the capturing machine: the family is small, so
        // a value that only fits swapped was written big-endian.
        let le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        if le > 0xFFFF {
            le.swap_bytes()
        } else {
            le
        }
    };
    match family {
        // AF_INET; AF_INET6 on BSD (24), FreeBSD (28), macOS (30), Linux (10).
        2 | 10 | 24 | 28 | 30 => ip(&data[4..], cut, 0),
        _ => Decoded::Other,
    }
}

/// Linux NFLOG (LINKTYPE 239): a 4-byte header then TLVs; NFULA_PAYLOAD (9)
/// holds the IP packet.
fn nflog(data: &[u8], cut: u32) -> Decoded<'_> {
    let mut rest = match data.get(4..) {
        Some(r) => r,
        None => return Decoded::Malformed("nflog"),
    };
    while rest.len() >= 4 {
        let len = u16::from_le_bytes([rest[0], rest[1]]) as usize;
        let ty = u16::from_le_bytes([rest[2], rest[3]]) & 0x7fff;
        if len < 4 {
            return Decoded::Malformed("nflog");
        }
        if ty == 9 {
            return match rest.get(4..len) {
                Some(p) => ip(p, cut, 0),
                None => ip(&rest[4..], cut, 0),
            };
        }
        let padded = len.div_ceil(4) * 4;
        rest = match rest.get(padded..) {
            Some(r) => r,
            None => break,
        };
    }
    Decoded::Other
}

/// IEEE 802.11 data frames carrying LLC/SNAP; protected frames are opaque.
fn wifi(data: &[u8], cut: u32) -> Decoded<'_> {
    let Some(fc) = data.get(0..2) else {
        return Decoded::Malformed("ieee802_11");
    };
    let frame_type = (fc[0] >> 2) & 0x3;
    if frame_type != 2 {
        return Decoded::Other;
    }
    let subtype = fc[0] >> 4;
    if subtype & 0x4 != 0 {
        return Decoded::Other; // null-data frames
    }
    if fc[1] & 0x40 != 0 {
        return Decoded::Other; // protected (encrypted)
    }
    let mut hdr = 24;
    if fc[1] & 0x03 == 0x03 {
        hdr += 6; // four addresses
    }
    if subtype & 0x8 != 0 {
        hdr += 2; // QoS control
        if fc[1] & 0x80 != 0 {
            hdr += 4; // HT control
        }
    }
    match data.get(hdr..) {
        Some(llc) => llc_snap(llc, cut),
        None => Decoded::Malformed("ieee802_11"),
    }
}

fn ip(data: &[u8], cut: u32, depth: u8) -> Decoded<'_> {
    let sliced = match LaxIpSlice::from_slice(data) {
        Ok((s, _)) => s,
        Err(_) => return Decoded::Malformed("ip"),
    };
    let payload = sliced.payload();
    if payload.fragmented {
        return fragment(&sliced, payload.payload, payload.ip_number.0);
    }
    let src = sliced.source_addr();
    let dst = sliced.destination_addr();
    let ip_id = sliced.ipv4().map(|v4| v4.header().identification());
    // The IP-declared payload length; the captured bytes may be fewer.
    let declared = ip_payload_len(data, payload.payload, payload.len_source, cut);
    let proto = payload.ip_number.0;
    match proto {
        6 => tcp(src, dst, payload.payload, declared, ip_id),
        17 => udp(src, dst, payload.payload, cut, depth),
        4 | 41 if depth < MAX_ENCAPSULATION_DEPTH => ip(payload.payload, cut, depth + 1),
        47 if depth < MAX_ENCAPSULATION_DEPTH => gre(payload.payload, cut, depth + 1),
        _ => Decoded::Other,
    }
}

/// Offset, identification and more-fragments flag of a fragment.
fn fragment<'a>(sliced: &LaxIpSlice<'a>, payload: &'a [u8], protocol: u8) -> Decoded<'a> {
    let (id, offset, more) = if let Some(v4) = sliced.ipv4() {
        let h = v4.header();
        (
            h.identification() as u32,
            h.fragments_offset().value() as usize * 8,
            h.more_fragments(),
        )
    } else if let Some(v6) = sliced.ipv6() {
        let exts = v6.extensions();
        let Some(fh) = ipv6_fragment_header(exts.first_header().map(|n| n.0), exts.slice()) else {
            return Decoded::Malformed("ipv6 fragment");
        };
        fh
    } else {
        return Decoded::Malformed("ip fragment");
    };
    Decoded::Fragment(crate::defrag::Fragment {
        src: sliced.source_addr(),
        dst: sliced.destination_addr(),
        id,
        protocol,
        offset,
        more,
        payload,
    })
}

/// Walks IPv6 extension headers to the fragment header (RFC 8200 §4.5):
/// (identification, offset, more fragments).
fn ipv6_fragment_header(mut next: Option<u8>, mut b: &[u8]) -> Option<(u32, usize, bool)> {
    while let Some(kind) = next {
        match kind {
            44 => {
                let h = b.get(0..8)?;
                let off = u16::from_be_bytes([h[2], h[3]]);
                let id = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
                return Some((id, (off >> 3) as usize * 8, off & 1 == 1));
            }
            0 | 43 | 60 | 51 => {
                let len = *b.get(1)? as usize;
                let size = if kind == 51 {
                    (len + 2) * 4
                } else {
                    (len + 1) * 8
                };
                next = b.first().copied();
                b = b.get(size..)?;
            }
            _ => return None,
        }
    }
    None
}

/// Payload length of the IP packet as its sender meant it.
fn ip_payload_len(ip_bytes: &[u8], payload: &[u8], source: LenSource, cut: u32) -> u32 {
    let captured = payload.len() as u32;
    match source {
        // The IP header gave the length; etherparse cut the payload to it,
        // or to the captured bytes when fewer were captured.
        LenSource::Ipv4HeaderTotalLen | LenSource::Ipv6HeaderPayloadLen => {
            let header_len = (payload.as_ptr() as usize).saturating_sub(ip_bytes.as_ptr() as usize);
            let total = declared_total(ip_bytes).unwrap_or(0) as usize;
            (total.saturating_sub(header_len) as u32).max(captured)
        }
        // The length field was 0 (TSO/GSO on the capturing host) or absent:
        // what was captured, plus what snaplen cut.
        _ => captured.saturating_add(cut),
    }
}

/// Total IP packet length from the header (IPv4 total length; 40 + IPv6 payload length).
fn declared_total(ip_bytes: &[u8]) -> Option<u32> {
    match ip_bytes.first()? >> 4 {
        4 => {
            let t = ip_bytes.get(2..4)?;
            Some(u16::from_be_bytes([t[0], t[1]]) as u32)
        }
        6 => {
            let t = ip_bytes.get(4..6)?;
            Some(40 + u16::from_be_bytes([t[0], t[1]]) as u32)
        }
        _ => None,
    }
}

fn tcp<'a>(
    src: IpAddr,
    dst: IpAddr,
    data: &'a [u8],
    declared: u32,
    ip_id: Option<u16>,
) -> Decoded<'a> {
    let Some(h) = data.get(0..20) else {
        return Decoded::Malformed("tcp");
    };
    let data_offset = ((h[12] >> 4) as usize) * 4;
    if data_offset < 20 {
        return Decoded::Malformed("tcp");
    }
    let Some(opts) = data.get(20..data_offset) else {
        return Decoded::Malformed("tcp");
    };
    let payload = &data[data_offset..];
    let seg_len = declared.saturating_sub(data_offset as u32);
    let payload = payload.get(..seg_len as usize).unwrap_or(payload);
    Decoded::Tcp(Segment {
        src: SocketAddr::new(src, u16::from_be_bytes([h[0], h[1]])),
        dst: SocketAddr::new(dst, u16::from_be_bytes([h[2], h[3]])),
        seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
        flags: TcpFlags(h[13]),
        window: u16::from_be_bytes([h[14], h[15]]),
        options: parse_options(opts),
        seg_len,
        payload,
        ip_id,
    })
}

/// Parses TCP options; a malformed option ends the list (never panics).
pub fn parse_options(mut b: &[u8]) -> TcpOptions {
    let mut o = TcpOptions::default();
    while let Some(&kind) = b.first() {
        match kind {
            0 => break,
            1 => {
                b = &b[1..];
                continue;
            }
            _ => {}
        }
        let Some(&len) = b.get(1) else { break };
        let len = len as usize;
        if len < 2 || len > b.len() {
            break;
        }
        let v = &b[2..len];
        match (kind, v.len()) {
            (2, 2) => o.mss = Some(u16::from_be_bytes([v[0], v[1]])),
            (3, 1) => o.window_scale = Some(v[0]),
            (4, 0) => o.sack_permitted = true,
            (5, n) if n % 8 == 0 => {
                for (i, blk) in v.chunks_exact(8).take(4).enumerate() {
                    o.sack[i] = (
                        u32::from_be_bytes([blk[0], blk[1], blk[2], blk[3]]),
                        u32::from_be_bytes([blk[4], blk[5], blk[6], blk[7]]),
                    );
                    o.sack_count = (i + 1) as u8;
                }
            }
            (19, 16) | (29, _) => o.signature = true,
            (8, 8) => {
                o.timestamps = Some((
                    u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
                    u32::from_be_bytes([v[4], v[5], v[6], v[7]]),
                ))
            }
            _ => {}
        }
        b = &b[len..];
    }
    o
}

fn udp(src: IpAddr, dst: IpAddr, data: &[u8], cut: u32, depth: u8) -> Decoded<'_> {
    let Some(h) = data.get(0..8) else {
        return Decoded::Malformed("udp");
    };
    let sport = u16::from_be_bytes([h[0], h[1]]);
    let dport = u16::from_be_bytes([h[2], h[3]]);
    let ulen = u16::from_be_bytes([h[4], h[5]]) as usize;
    let body = &data[8..];
    let body = if ulen >= 8 {
        body.get(..ulen - 8).unwrap_or(body)
    } else {
        body
    };
    if depth < MAX_ENCAPSULATION_DEPTH {
        let port = |p: u16| sport == p || dport == p;
        if port(UDP_PORT_VXLAN) && body.len() > 8 && body[0] & 0x08 != 0 {
            return ethernet(&body[8..], cut, depth + 1);
        }
        if port(UDP_PORT_GTPU) {
            if let Some(inner) = gtpu_payload(body) {
                return ip(inner, cut, depth + 1);
            }
        }
        if port(UDP_PORT_AYIYA) {
            if let Some(inner) = ayiya_payload(body) {
                return ip(inner, cut, depth + 1);
            }
        }
        if port(UDP_PORT_L2TP) {
            if let Some(inner) = l2tp_payload(body) {
                return inner_ppp(inner, cut, depth + 1);
            }
        }
        if port(UDP_PORT_TEREDO) && body.first().map(|b| b >> 4) == Some(6) {
            return ip(body, cut, depth + 1);
        }
    }
    Decoded::Udp(Datagram {
        src: SocketAddr::new(src, sport),
        dst: SocketAddr::new(dst, dport),
        payload: body,
    })
}

/// L2TPv2 data message (RFC 2661 §3.1): the PPP frame after the header.
fn l2tp_payload(b: &[u8]) -> Option<&[u8]> {
    let flags = u16::from_be_bytes([*b.first()?, *b.get(1)?]);
    if flags & 0x8000 != 0 || flags & 0x000F != 2 {
        return None; // control message, or not version 2
    }
    let mut off = 2;
    if flags & 0x4000 != 0 {
        off += 2; // length
    }
    off += 4; // tunnel and session ids
    if flags & 0x0800 != 0 {
        off += 4; // Ns, Nr
    }
    if flags & 0x0200 != 0 {
        let size = u16::from_be_bytes([*b.get(off)?, *b.get(off + 1)?]) as usize;
        off += 2 + size;
    }
    b.get(off..)
}

/// A PPP frame (with or without address/control and protocol compression).
fn inner_ppp(b: &[u8], cut: u32, depth: u8) -> Decoded<'_> {
    let b = match b.get(0..2) {
        Some([0xFF, 0x03]) => &b[2..],
        _ => b,
    };
    let (proto, rest) = match b.first() {
        Some(p) if p & 1 == 1 => (*p as u16, &b[1..]),
        Some(_) if b.len() >= 2 => (u16::from_be_bytes([b[0], b[1]]), &b[2..]),
        _ => return Decoded::Malformed("ppp"),
    };
    match proto {
        0x0021 | 0x0057 => ip(rest, cut, depth),
        _ => Decoded::Other,
    }
}

/// GTP-U v1 G-PDU (3GPP TS 29.281 §5): 8-byte header, 4 more when E/S/PN is set.
fn gtpu_payload(b: &[u8]) -> Option<&[u8]> {
    let flags = *b.first()?;
    if flags >> 5 != 1 || *b.get(1)? != 0xFF {
        return None;
    }
    let mut off = 8;
    if flags & 0x07 != 0 {
        off += 4;
        // Extension headers: (length in 4-byte units, …, next type).
        let mut next = *b.get(off - 1)?;
        while next != 0 {
            let units = *b.get(off)? as usize;
            if units == 0 {
                return None;
            }
            off += units * 4;
            next = *b.get(off - 1)?;
        }
    }
    let inner = b.get(off..)?;
    matches!(inner.first().map(|v| v >> 4), Some(4) | Some(6)).then_some(inner)
}

/// AYIYA (draft-massar-v6ops-ayiya): identity and signature lengths in nibbles.
fn ayiya_payload(b: &[u8]) -> Option<&[u8]> {
    let h = b.get(0..4)?;
    let id_len = 1usize << (h[0] >> 4);
    let sig_len = ((h[1] >> 4) as usize) * 4;
    let next = *b.get(3)?;
    if next != 41 && next != 4 {
        return None;
    }
    b.get(8 + id_len + sig_len..)
}

/// GRE (RFC 2784/2890), including ERSPAN types II and III.
fn gre(b: &[u8], cut: u32, depth: u8) -> Decoded<'_> {
    let Some(h) = b.get(0..4) else {
        return Decoded::Malformed("gre");
    };
    let mut off = 4;
    if h[0] & 0x80 != 0 {
        off += 4; // checksum + reserved
    }
    if h[0] & 0x20 != 0 {
        off += 4; // key
    }
    if h[0] & 0x10 != 0 {
        off += 4; // sequence number
    }
    let ty = u16::from_be_bytes([h[2], h[3]]);
    let Some(rest) = b.get(off..) else {
        return Decoded::Malformed("gre");
    };
    match ty {
        ETHERTYPE_ERSPAN2 => match rest.get(8..) {
            Some(e) if h[0] & 0x10 != 0 => ethernet(e, cut, depth),
            // ERSPAN type I has no header and no sequence bit.
            _ => ethernet(rest, cut, depth),
        },
        ETHERTYPE_ERSPAN3 => {
            let Some(e) = rest.get(0..12) else {
                return Decoded::Malformed("erspan");
            };
            let extra = if e[11] & 0x01 != 0 { 8 } else { 0 };
            match rest.get(12 + extra..) {
                Some(inner) => ethernet(inner, cut, depth),
                None => Decoded::Malformed("erspan"),
            }
        }
        t if GRE_ARUBA.contains(&t) => wifi(rest, cut),
        _ => ether_type(ty, rest, cut, depth),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp_frame(payload: &[u8]) -> Vec<u8> {
        let b = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1234, 80, 1000, 65535)
            .ack(5);
        let mut v = Vec::new();
        b.write(&mut v, payload).unwrap();
        v
    }

    fn seg(d: Decoded<'_>) -> Segment<'_> {
        match d {
            Decoded::Tcp(s) => s,
            other => panic!("not tcp: {other:?}"),
        }
    }

    #[test]
    fn ethernet_padding_is_not_data() {
        let mut f = tcp_frame(&[]);
        assert_eq!(f.len(), 54);
        f.resize(60, 0); // minimum frame size padding
        let s = seg(decode_link(linktype::ETHERNET, &f, 60));
        assert_eq!(s.seg_len, 0);
        assert!(s.payload.is_empty());
        assert_eq!(s.src.to_string(), "10.0.0.1:1234");
        assert_eq!(s.ack, 5);
        assert!(s.flags.ack());
    }

    #[test]
    fn snaplen_cut_keeps_declared_length() {
        let f = tcp_frame(&[b'x'; 1000]);
        let cut = &f[..96];
        let s = seg(decode_link(linktype::ETHERNET, cut, f.len() as u32));
        assert_eq!(s.seg_len, 1000);
        assert_eq!(s.payload.len(), 96 - 54);
    }

    #[test]
    fn tso_zero_total_length_uses_captured_length() {
        let mut f = tcp_frame(&[b'y'; 3000]);
        f[16] = 0;
        f[17] = 0;
        let s = seg(decode_link(linktype::ETHERNET, &f, f.len() as u32));
        assert_eq!(s.seg_len, 3000);
    }

    #[test]
    fn vlan_stack_sll_sll2_null_loop_raw() {
        let eth = tcp_frame(b"hello");
        let ip_part = &eth[14..];
        // Three stacked tags (QinQ + 802.1Q + 802.1Q).
        let mut q = eth[..12].to_vec();
        for t in [0x88A8u16, 0x8100, 0x8100] {
            q.extend(t.to_be_bytes());
            q.extend([0, 7]);
        }
        q.extend(0x0800u16.to_be_bytes());
        q.extend(ip_part);
        assert_eq!(
            seg(decode_link(linktype::ETHERNET, &q, q.len() as u32)).seg_len,
            5
        );

        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        sll.extend(ip_part);
        assert_eq!(
            seg(decode_link(linktype::LINUX_SLL, &sll, 0)).payload,
            b"hello"
        );

        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        sll2.extend(ip_part);
        assert_eq!(
            seg(decode_link(linktype::LINUX_SLL2, &sll2, 0)).payload,
            b"hello"
        );

        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend(ip_part);
        assert_eq!(seg(decode_link(linktype::NULL, &null, 0)).payload, b"hello");
        let mut null_be = 2u32.to_be_bytes().to_vec();
        null_be.extend(ip_part);
        assert_eq!(
            seg(decode_link(linktype::NULL, &null_be, 0)).payload,
            b"hello"
        );
        let mut lo = 2u32.to_be_bytes().to_vec();
        lo.extend(ip_part);
        assert_eq!(seg(decode_link(linktype::LOOP, &lo, 0)).payload, b"hello");

        assert_eq!(
            seg(decode_link(linktype::RAW, ip_part, 0)).payload,
            b"hello"
        );
        assert_eq!(
            seg(decode_link(linktype::IPV4, ip_part, 0)).payload,
            b"hello"
        );
    }

    #[test]
    fn ipv6_with_extension_header() {
        let b = PacketBuilder::ipv6([1; 16], [2; 16], 64).tcp(5, 80, 1, 100);
        let mut v = Vec::new();
        b.write(&mut v, b"abc").unwrap();
        // Insert a hop-by-hop header (8 bytes) after the fixed header.
        let mut with_ext = v[..40].to_vec();
        with_ext[6] = 0; // next header: hop-by-hop
        let plen = u16::from_be_bytes([v[4], v[5]]) + 8;
        with_ext[4..6].copy_from_slice(&plen.to_be_bytes());
        with_ext.extend([6, 0, 1, 4, 0, 0, 0, 0]);
        with_ext.extend(&v[40..]);
        let s = seg(decode_link(linktype::RAW, &with_ext, 0));
        assert_eq!(s.payload, b"abc");
        assert_eq!(s.seg_len, 3);
        assert_eq!(s.dst.to_string(), "[202:202:202:202:202:202:202:202]:80");
    }

    #[test]
    fn options_parse_and_survive_garbage() {
        let o = parse_options(&[
            2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2,
        ]);
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.window_scale, Some(7));
        assert!(o.sack_permitted);
        assert_eq!(o.timestamps, Some((1, 2)));
        let bad = parse_options(&[2, 40, 1, 2]);
        assert_eq!(bad.mss, None);
        let sack = parse_options(&[1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        assert_eq!(sack.sack_count, 1);
        assert_eq!(sack.sack[0], (1, 2));
    }

    #[test]
    fn truncated_headers_are_malformed_not_panics() {
        let f = tcp_frame(b"x");
        for n in 0..f.len() {
            let _ = decode_link(linktype::ETHERNET, &f[..n], f.len() as u32);
            let _ = decode_link(linktype::LINUX_SLL2, &f[..n], 0);
            let _ = decode_link(linktype::NFLOG, &f[..n], 0);
            let _ = decode_link(linktype::IEEE802_11_RADIOTAP, &f[..n], 0);
        }
        assert!(matches!(
            decode_link(linktype::ETHERNET, &f[..40], 100),
            Decoded::Malformed(_)
        ));
    }
}
