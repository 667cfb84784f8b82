//! A TCP conversation described by what happens, written as a capture.
//!
//! ```ignore
//! let mut s = Scenario::ipv4("10.0.0.1:40000", "10.0.0.2:80");
//! s.at_ms(0).syn(1000);
//! s.at_ms(20).syn_ack(5000);
//! s.at_ms(40).ack(Side::Client);
//! s.client_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
//! let bytes = s.to_pcap(Link::Ethernet);
//! ```
//!
//! The scenario tracks both sides' next sequence numbers: a segment's
//! sequence number is its sender's next one, and its acknowledgment number
//! is everything the peer has sent so far (so a segment left out of the
//! capture with [`Seg::not_captured`] is still acknowledged by the receiver,
//! exactly as when the capture point drops it). [`Seg::seq`] and
//! [`Seg::ack`] override the numbers of one segment without changing the
//! tracking. Each segment is timestamped with the time set last by
//! `at_ms`/`at_us`/`at_ns`, counted from [`BASE_NS`].

use std::net::{IpAddr, SocketAddr};

use etherparse::{
    IpHeaders, IpNumber, Ipv4Header, Ipv6FlowLabel, Ipv6Header, PacketBuilder, TcpHeader,
    TcpOptionElement,
};

use super::pcap::{self, Interface, PcapFile, Precision, Record};

/// Capture time of offset zero: 2023-11-14T22:13:20Z, in nanoseconds.
pub const BASE_NS: i64 = 1_700_000_000_000_000_000;
/// [`BASE_NS`] in microseconds, the unit of the JSON report.
pub const BASE_US: i64 = BASE_NS / 1_000;

/// The report's microsecond timestamp of `ms` milliseconds after the base.
pub fn us_at_ms(ms: i64) -> i64 {
    BASE_US + ms * 1_000
}

/// `n` bytes of printable filler (not HTTP, not TLS).
pub fn filler(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }

    fn index(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }
}

/// The link layer frames are written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Ethernet,
    /// Linux "cooked" capture v1 (LINKTYPE 113).
    LinuxSll,
    /// Linux "cooked" capture v2 (LINKTYPE 276).
    LinuxSll2,
    /// Bare IP (LINKTYPE 101).
    Raw,
    /// BSD loopback, address family in little-endian host order (LINKTYPE 0).
    NullLe,
    /// BSD loopback, address family in big-endian host order (LINKTYPE 0).
    NullBe,
    /// OpenBSD loopback, address family always big-endian (LINKTYPE 108).
    Loop,
}

impl Link {
    pub const ALL: [Link; 7] = [
        Link::Ethernet,
        Link::LinuxSll,
        Link::LinuxSll2,
        Link::Raw,
        Link::NullLe,
        Link::NullBe,
        Link::Loop,
    ];

    pub fn linktype(self) -> u32 {
        match self {
            Link::Ethernet => pcap::LINKTYPE_ETHERNET,
            Link::LinuxSll => pcap::LINKTYPE_LINUX_SLL,
            Link::LinuxSll2 => pcap::LINKTYPE_LINUX_SLL2,
            Link::Raw => pcap::LINKTYPE_RAW,
            Link::NullLe | Link::NullBe => pcap::LINKTYPE_NULL,
            Link::Loop => pcap::LINKTYPE_LOOP,
        }
    }

    /// The name the report gives this link type in `capture.link_types`.
    pub fn report_name(self) -> &'static str {
        match self {
            Link::Ethernet => "ethernet",
            Link::LinuxSll => "linux_sll",
            Link::LinuxSll2 => "linux_sll2",
            Link::Raw => "raw",
            Link::NullLe | Link::NullBe => "null",
            Link::Loop => "loop",
        }
    }
}

/// How segments become frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Framing {
    pub link: Link,
    /// Ethernet only: VLAN tag protocol identifiers, outermost first
    /// (0x8100 for 802.1Q, 0x88A8 for an 802.1ad service tag).
    pub vlan_tpids: Vec<u16>,
    /// Ethernet only: pad frames shorter than 60 bytes with zeros, as the
    /// minimum Ethernet frame size requires (the padding is on the wire, so
    /// it counts in the original length).
    pub pad_to_60: bool,
    /// Cut each frame after this many bytes (its original length stays).
    pub snaplen: Option<u32>,
}

impl Framing {
    pub fn new(link: Link) -> Framing {
        Framing {
            link,
            vlan_tpids: Vec::new(),
            pad_to_60: false,
            snaplen: None,
        }
    }

    /// The snaplen written in the file header.
    pub fn header_snaplen(&self) -> u32 {
        self.snaplen.unwrap_or(262_144)
    }
}

const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// One TCP segment of a scenario. The setters change only this segment.
#[derive(Clone, Debug)]
pub struct Seg {
    pub from: Side,
    pub ts_ns: i64,
    pub seq: u32,
    /// `Some` sets the ACK flag with this acknowledgment number.
    pub ack: Option<u32>,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub psh: bool,
    pub window: u16,
    pub options: Vec<TcpOptionElement>,
    pub payload: Vec<u8>,
    /// False: sent on the wire but missing from the capture.
    pub captured: bool,
    /// pcapng interface the segment was captured on.
    pub iface: u32,
    pub ip_id: u16,
}

impl Seg {
    pub fn seq(&mut self, seq: u32) -> &mut Seg {
        self.seq = seq;
        self
    }

    /// Sets the ACK flag and the acknowledgment number.
    pub fn ack(&mut self, ack: u32) -> &mut Seg {
        self.ack = Some(ack);
        self
    }

    /// Clears the ACK flag.
    pub fn no_ack(&mut self) -> &mut Seg {
        self.ack = None;
        self
    }

    pub fn window(&mut self, window: u16) -> &mut Seg {
        self.window = window;
        self
    }

    pub fn mss(&mut self, mss: u16) -> &mut Seg {
        self.options.push(TcpOptionElement::MaximumSegmentSize(mss));
        self
    }

    pub fn window_scale(&mut self, shift: u8) -> &mut Seg {
        self.options.push(TcpOptionElement::Noop);
        self.options.push(TcpOptionElement::WindowScale(shift));
        self
    }

    pub fn sack_permitted(&mut self) -> &mut Seg {
        self.options.push(TcpOptionElement::Noop);
        self.options.push(TcpOptionElement::Noop);
        self.options
            .push(TcpOptionElement::SelectiveAcknowledgementPermitted);
        self
    }

    pub fn timestamps(&mut self, tsval: u32, tsecr: u32) -> &mut Seg {
        self.options.push(TcpOptionElement::Noop);
        self.options.push(TcpOptionElement::Noop);
        self.options.push(TcpOptionElement::Timestamp(tsval, tsecr));
        self
    }

    /// One SACK block `[left, right)` in raw sequence numbers.
    pub fn sack(&mut self, left: u32, right: u32) -> &mut Seg {
        self.options.push(TcpOptionElement::Noop);
        self.options.push(TcpOptionElement::Noop);
        self.options
            .push(TcpOptionElement::SelectiveAcknowledgement(
                (left, right),
                [None, None, None],
            ));
        self
    }

    /// The segment was sent (and, if data, is acknowledged later) but the
    /// capture does not contain it.
    pub fn not_captured(&mut self) -> &mut Seg {
        self.captured = false;
        self
    }

    pub fn iface(&mut self, iface: u32) -> &mut Seg {
        self.iface = iface;
        self
    }

    pub fn ip_id(&mut self, id: u16) -> &mut Seg {
        self.ip_id = id;
        self
    }

    /// Payload length plus one for SYN and FIN: the sequence space used.
    pub fn seq_len(&self) -> u32 {
        self.payload.len() as u32 + u32::from(self.syn) + u32::from(self.fin)
    }
}

/// A TCP conversation between one client and one server endpoint.
#[derive(Clone, Debug)]
pub struct Scenario {
    client: SocketAddr,
    server: SocketAddr,
    now_ns: i64,
    next_seq: [u32; 2],
    next_ip_id: [u16; 2],
    window: [u16; 2],
    segs: Vec<Seg>,
}

impl Scenario {
    /// A conversation between two `ip:port` endpoints (IPv4 or `[v6]:port`).
    pub fn new(client: &str, server: &str) -> Scenario {
        let client: SocketAddr = client.parse().expect("client endpoint");
        let server: SocketAddr = server.parse().expect("server endpoint");
        assert_eq!(
            client.is_ipv4(),
            server.is_ipv4(),
            "both endpoints in one IP version"
        );
        Scenario {
            client,
            server,
            now_ns: BASE_NS,
            next_seq: [0, 0],
            next_ip_id: [0x1000, 0x8000],
            window: [64_240, 65_160],
            segs: Vec::new(),
        }
    }

    pub fn ipv4(client: &str, server: &str) -> Scenario {
        let s = Scenario::new(client, server);
        assert!(s.client.is_ipv4());
        s
    }

    pub fn ipv6(client: &str, server: &str) -> Scenario {
        let s = Scenario::new(client, server);
        assert!(s.client.is_ipv6());
        s
    }

    /// Sets the time of the following segments, `ms` after [`BASE_NS`].
    pub fn at_ms(&mut self, ms: u64) -> &mut Scenario {
        self.at_ns(ms * 1_000_000)
    }

    pub fn at_us(&mut self, us: u64) -> &mut Scenario {
        self.at_ns(us * 1_000)
    }

    pub fn at_ns(&mut self, ns: u64) -> &mut Scenario {
        self.now_ns = BASE_NS + i64::try_from(ns).expect("offset fits");
        self
    }

    /// Sets both sides' next sequence numbers, for a conversation picked up
    /// without its handshake.
    pub fn mid_stream(&mut self, client_next: u32, server_next: u32) -> &mut Scenario {
        self.next_seq = [client_next, server_next];
        self
    }

    /// The window the side advertises from now on.
    pub fn set_window(&mut self, side: Side, window: u16) -> &mut Scenario {
        self.window[side.index()] = window;
        self
    }

    /// The next sequence number `side` will send.
    pub fn next_seq(&self, side: Side) -> u32 {
        self.next_seq[side.index()]
    }

    pub fn segs(&self) -> &[Seg] {
        &self.segs
    }

    pub fn seg_mut(&mut self, index: usize) -> &mut Seg {
        &mut self.segs[index]
    }

    /// Index of the segment added last.
    pub fn last_index(&self) -> usize {
        self.segs.len() - 1
    }

    fn push(&mut self, from: Side, syn: bool, fin: bool, payload: &[u8]) -> &mut Seg {
        let i = from.index();
        let id = self.next_ip_id[i];
        self.next_ip_id[i] = id.wrapping_add(1);
        let seg = Seg {
            from,
            ts_ns: self.now_ns,
            seq: self.next_seq[i],
            ack: Some(self.next_seq[from.other().index()]),
            syn,
            fin,
            rst: false,
            psh: !payload.is_empty(),
            window: self.window[i],
            options: Vec::new(),
            payload: payload.to_vec(),
            captured: true,
            iface: 0,
            ip_id: id,
        };
        self.next_seq[i] = self.next_seq[i].wrapping_add(seg.seq_len());
        self.segs.push(seg);
        self.segs.last_mut().expect("just pushed")
    }

    /// The client's SYN with initial sequence number `isn` (no ACK flag).
    /// Sending it again with the same `isn` is a SYN retransmission.
    pub fn syn(&mut self, isn: u32) -> &mut Seg {
        self.next_seq[0] = isn;
        self.push(Side::Client, true, false, &[]).no_ack()
    }

    /// The server's SYN/ACK with initial sequence number `isn`.
    pub fn syn_ack(&mut self, isn: u32) -> &mut Seg {
        self.next_seq[1] = isn;
        self.push(Side::Server, true, false, &[])
    }

    /// A pure ACK from `side`.
    pub fn ack(&mut self, side: Side) -> &mut Seg {
        self.push(side, false, false, &[])
    }

    pub fn data(&mut self, side: Side, payload: &[u8]) -> &mut Seg {
        assert!(!payload.is_empty(), "use ack() for an empty segment");
        self.push(side, false, false, payload)
    }

    pub fn client_data(&mut self, payload: &[u8]) -> &mut Seg {
        self.data(Side::Client, payload)
    }

    pub fn server_data(&mut self, payload: &[u8]) -> &mut Seg {
        self.data(Side::Server, payload)
    }

    /// FIN (with ACK) from `side`.
    pub fn fin(&mut self, side: Side) -> &mut Seg {
        self.push(side, false, true, &[])
    }

    /// RST (with ACK) from `side`; it uses no sequence space.
    pub fn rst(&mut self, side: Side) -> &mut Seg {
        let seg = self.push(side, false, false, &[]);
        seg.rst = true;
        seg
    }

    /// Sends segment `index` again at the current time (a new IP datagram:
    /// new IP identification, acknowledgment number as then, captured).
    pub fn retransmit(&mut self, index: usize) -> &mut Seg {
        let mut seg = self.segs[index].clone();
        let i = seg.from.index();
        seg.ip_id = self.next_ip_id[i];
        self.next_ip_id[i] = seg.ip_id.wrapping_add(1);
        seg.ts_ns = self.now_ns;
        seg.captured = true;
        self.segs.push(seg);
        self.segs.last_mut().expect("just pushed")
    }

    /// The IP packet (IP header, TCP header, payload) of one segment.
    pub fn ip_packet(&self, seg: &Seg) -> Vec<u8> {
        let (src, dst) = match seg.from {
            Side::Client => (self.client, self.server),
            Side::Server => (self.server, self.client),
        };
        let ip = match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut h = Ipv4Header::new(0, 64, IpNumber::TCP, s.octets(), d.octets())
                    .expect("empty IPv4 header");
                h.identification = seg.ip_id;
                h.dont_fragment = true;
                IpHeaders::Ipv4(h, Default::default())
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => IpHeaders::Ipv6(
                Ipv6Header {
                    traffic_class: 0,
                    flow_label: Ipv6FlowLabel::ZERO,
                    payload_length: 0,
                    next_header: IpNumber::TCP,
                    hop_limit: 64,
                    source: s.octets(),
                    destination: d.octets(),
                },
                Default::default(),
            ),
            _ => unreachable!("checked in Scenario::new"),
        };
        let mut tcp = TcpHeader::new(src.port(), dst.port(), seg.seq, seg.window);
        tcp.syn = seg.syn;
        tcp.fin = seg.fin;
        tcp.rst = seg.rst;
        tcp.psh = seg.psh;
        if let Some(ack) = seg.ack {
            tcp.ack = true;
            tcp.acknowledgment_number = ack;
        }
        tcp.set_options(&seg.options).expect("TCP options fit");
        let mut out = Vec::new();
        PacketBuilder::ip(ip)
            .tcp_header(tcp)
            .write(&mut out, &seg.payload)
            .expect("packet builds");
        out
    }

    /// The full frame of one segment, before any snaplen cut.
    pub fn frame(&self, seg: &Seg, framing: &Framing) -> Vec<u8> {
        let ip = self.ip_packet(seg);
        let v6 = self.client.is_ipv6();
        let ethertype: u16 = if v6 { 0x86DD } else { 0x0800 };
        let (src_mac, dst_mac) = match seg.from {
            Side::Client => (CLIENT_MAC, SERVER_MAC),
            Side::Server => (SERVER_MAC, CLIENT_MAC),
        };
        let mut f = Vec::with_capacity(ip.len() + 32);
        match framing.link {
            Link::Ethernet => {
                f.extend(dst_mac);
                f.extend(src_mac);
                for (i, tpid) in framing.vlan_tpids.iter().enumerate() {
                    f.extend(tpid.to_be_bytes());
                    f.extend((100 + i as u16).to_be_bytes()); // PCP 0, VLAN id
                }
                f.extend(ethertype.to_be_bytes());
            }
            Link::LinuxSll => {
                // Packet type: 0 = addressed to us, 4 = sent by us.
                let pkttype: u16 = if seg.from == Side::Client { 4 } else { 0 };
                f.extend(pkttype.to_be_bytes());
                f.extend(1u16.to_be_bytes()); // ARPHRD_ETHER
                f.extend(6u16.to_be_bytes());
                f.extend(src_mac);
                f.extend([0, 0]);
                f.extend(ethertype.to_be_bytes());
            }
            Link::LinuxSll2 => {
                f.extend(ethertype.to_be_bytes());
                f.extend([0, 0]); // reserved
                f.extend(2u32.to_be_bytes()); // interface index
                f.extend(1u16.to_be_bytes()); // ARPHRD_ETHER
                f.push(if seg.from == Side::Client { 4 } else { 0 });
                f.push(6);
                f.extend(src_mac);
                f.extend([0, 0]);
            }
            Link::Raw => {}
            Link::NullLe | Link::NullBe | Link::Loop => {
                // AF_INET = 2; AF_INET6 = 30 (macOS) little-endian, 24 (BSD) big-endian.
                let family: u32 = match (v6, framing.link) {
                    (false, _) => 2,
                    (true, Link::NullLe) => 30,
                    (true, _) => 24,
                };
                if framing.link == Link::NullLe {
                    f.extend(family.to_le_bytes());
                } else {
                    f.extend(family.to_be_bytes());
                }
            }
        }
        f.extend(ip);
        if framing.pad_to_60 && framing.link == Link::Ethernet && f.len() < 60 {
            f.resize(60, 0);
        }
        f
    }

    /// The captured segments as records (snaplen applied).
    pub fn records(&self, framing: &Framing) -> Vec<Record> {
        self.records_by(|_| framing.clone())
    }

    fn records_by(&self, framing_of: impl Fn(&Seg) -> Framing) -> Vec<Record> {
        self.segs
            .iter()
            .filter(|s| s.captured)
            .map(|seg| {
                let framing = framing_of(seg);
                let full = self.frame(seg, &framing);
                let orig_len = full.len() as u32;
                let cut = framing
                    .snaplen
                    .map_or(full.len(), |n| full.len().min(n as usize));
                Record {
                    ts_ns: seg.ts_ns,
                    iface: seg.iface,
                    data: full[..cut].to_vec(),
                    orig_len,
                }
            })
            .collect()
    }

    /// A microsecond pcap file with default framing for `link`.
    pub fn to_pcap(&self, link: Link) -> Vec<u8> {
        self.to_pcap_with(&Framing::new(link), Precision::Micro)
            .bytes
    }

    pub fn to_pcap_with(&self, framing: &Framing, precision: Precision) -> PcapFile {
        pcap::write_pcap(
            framing.link.linktype(),
            precision,
            framing.header_snaplen(),
            &self.records(framing),
        )
    }

    /// A pcapng file; each segment is written on the interface set with
    /// [`Seg::iface`] (default 0), framed for that interface's link.
    pub fn to_pcapng(&self, interfaces: &[(Link, Option<u8>)]) -> Vec<u8> {
        let ifaces: Vec<Interface> = interfaces
            .iter()
            .map(|(link, tsresol)| Interface {
                link_type: link.linktype(),
                snaplen: 262_144,
                tsresol: *tsresol,
            })
            .collect();
        let records = self.records_by(|seg| Framing::new(interfaces[seg.iface as usize].0));
        pcap::write_pcapng(&ifaces, &records)
    }
}

/// One microsecond pcap file holding several scenarios (several
/// connections), their segments merged in time order; segments with equal
/// times keep the order of `scenarios`.
pub fn to_pcap_many(scenarios: &[Scenario], link: Link) -> Vec<u8> {
    let framing = Framing::new(link);
    let mut records: Vec<Record> = scenarios.iter().flat_map(|s| s.records(&framing)).collect();
    records.sort_by_key(|r| r.ts_ns);
    pcap::write_pcap(
        link.linktype(),
        Precision::Micro,
        framing.header_snaplen(),
        &records,
    )
    .bytes
}
