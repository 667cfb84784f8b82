//! DNS over UDP: which resolution gave a connection its server address, how
//! long it took, and which resolutions failed.
//!
//! Role: a side table next to the TCP flow table, fed every UDP datagram in
//! capture order ([`DnsTable::observe`]). [`DnsTable::lookup`] finds the
//! latest answer before a SYN that carried the server's address (preferring
//! the HTTP `Host`); its `answer_ts - query_ts` is the DNS time.
//!
//! Inputs: UDP datagrams with port 53 on either side (mDNS on 5353 and LLMNR
//! on 5355 are ignored), with capture time and 1-based frame number. DNS over
//! TCP is not reassembled here, but [`DnsTable::observe_message`] takes one
//! message without its 2-byte length prefix from any transport.
//!
//! Outputs: [`Lookup`] (one answered query chain that carried addresses),
//! [`DnsFailure`] (timeouts, error RCODEs) and [`DnsStats`].
//!
//! Pairing: a response answers a query when client address and port,
//! resolver address and port, transaction id and question (name, type,
//! class) all match. A query for a question that the same client IP asked
//! earlier, still unanswered, and at least [`RETRY_MIN_GAP_NS`] ago is a
//! retry (stub resolvers re-send on timeout, often to the next server and
//! with a fresh id or port): it joins that *chain*, whose `query_ts` is its
//! first transmission, so the retry timeout counts as DNS time.
//!
//! Invariants: no panic on any input (every read is bounds-checked, name
//! decompression is bounded by [`MAX_POINTER_JUMPS`] and RFC 1035's
//! 255-octet name limit); memory is bounded by [`MAX_PENDING_QUERIES`],
//! [`MAX_ANSWERS`], [`MAX_ANSWER_BYTES`] and [`MAX_FAILURES`]; results never
//! depend on hash order (only `BTreeMap`/`BTreeSet`, and failures are sorted).
//!
//! RFCs: RFC 1035 §4.1 (message format), §4.1.4 (compression), §2.3.4 (size
//! limits); RFC 3596 (AAAA); RFC 6895 §2.3 (RCODE names); RFC 6891 §5
//! (extended label types, rejected).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::decode::Datagram;
use crate::time::Timestamp;

/// The DNS server port (RFC 1035 §4.2.1).
pub const DNS_PORT: u16 = 53;

/// A query unanswered for this long is a timeout: glibc's default
/// `options timeout:5` (RES_TIMEOUT, resolv.conf(5)). Shorter would report
/// slow-but-answered queries as failures; longer resolvers (none common)
/// would see their slow answers reported as timeouts at capture end.
pub const DNS_TIMEOUT_NS: i64 = 5_000_000_000;

/// An unanswered query stays open this long after its latest transmission,
/// so that a re-send joins its chain and a slow answer still pairs. glibc
/// doubles its per-try wait each round and caps `timeout:` at 30 s
/// (resolv.conf(5)); a recursive resolver may answer SERVFAIL only when its
/// own budget ends (BIND's `resolver-query-timeout`, 10 s now, 30 s in old
/// releases; the corpus's zeek_erspan.pcap has SERVFAILs after 11.1 s). Too
/// long: a client that gave up and asks again later joins the old chain.
pub const DNS_RETRY_WINDOW_NS: i64 = 30_000_000_000;

/// A query for a question already in flight from the same host is a retry
/// only if sent at least this long after the chain's latest transmission.
/// Sooner, the same query (endpoints and id) is a capture duplicate (two
/// interfaces, a SPAN port), and another one starts a parallel chain (a
/// second process or socket; browsers often race the OS resolver). Common
/// stub resolvers wait longer before re-sending (Windows 1 s, glibc's
/// `timeout:` at least 1 s); ones with RTT-based timeouts may re-send sooner
/// and are then seen as parallel lookups, not retries.
pub const RETRY_MIN_GAP_NS: i64 = 250_000_000;

/// At most this many query chains wait for answers; beyond it the one quiet
/// longest is dropped (counted; a timeout if already older than
/// [`DNS_TIMEOUT_NS`]). About 400 bytes each, so about 4 MB.
pub const MAX_PENDING_QUERIES: usize = 10_000;

/// At most this many answered lookups are kept for [`DnsTable::lookup`];
/// the oldest are forgotten first, so a connection opened long after a
/// flood of DNS may find no lookup.
pub const MAX_ANSWERS: usize = 100_000;

/// Estimated bytes of stored lookups (names, CNAMEs, addresses, index) at
/// most; bounds a capture of crafted maximal-size answers, which
/// [`MAX_ANSWERS`] alone would let grow to hundreds of megabytes.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// At most this many answers are indexed per address (latest kept): an
/// address resolved again every few seconds for hours would otherwise make
/// [`DnsTable::lookup`] scan a long list. A connection opened before that
/// many later resolutions of its address loses its lookup.
pub const MAX_ANSWERS_PER_ADDRESS: usize = 1_024;

/// Failures kept for findings (more are counted: [`DnsStats::failures_dropped`]).
pub const MAX_FAILURES: usize = 1_000;

/// Compression pointers followed while reading one name (RFC 1035 §4.1.4):
/// a name has at most 127 labels (255 octets), so an honest message needs
/// no more than one pointer per label; crafted ones loop, and this ends them.
pub const MAX_POINTER_JUMPS: usize = 128;

/// Longest name on the wire, length octets included (RFC 1035 §2.3.4).
const MAX_NAME_WIRE_LEN: usize = 255;

/// Answer records examined per message: real answers hold a few CNAMEs and
/// a handful of addresses; this bounds the work a crafted message causes.
const MAX_ANSWER_RECORDS: usize = 256;

/// CNAME hops followed from the question name: more than recursive
/// resolvers follow before giving up (about a dozen); also ends CNAME loops.
const MAX_CNAME_CHAIN: usize = 16;

/// Addresses kept per lookup (large round-robin sets are cut).
const MAX_ADDRESSES_PER_LOOKUP: usize = 32;

/// Transmissions remembered per chain for pairing (glibc sends at most
/// `attempts:5` × 3 nameservers = 15); answers to later ones do not pair.
const MAX_SENDS_PER_QUERY: usize = 16;

/// Fixed header length (RFC 1035 §4.1.1).
const HEADER_LEN: usize = 12;

/// RR TYPE and CLASS values (RFC 1035 §3.2.2, §3.2.4; RFC 3596 §2.1).
const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

/// One resolution as seen on the wire.
#[derive(Clone, Debug, PartialEq)]
pub struct Lookup {
    /// The queried name, lower-case, no trailing dot (the root is `.`); odd
    /// bytes in labels appear as `\DDD` (RFC 1035 §5.1).
    pub name: String,
    /// First transmission of the chain this answer answers (retries included).
    pub query_ts: Timestamp,
    pub answer_ts: Timestamp,
    pub query_frame: u64,
    pub answer_frame: u64,
    /// Re-sends of the same question before the answer.
    pub retries: u32,
    /// A/AAAA records of the answer owned by the name or its CNAME chain, in
    /// record order, without repeats.
    pub addresses: Vec<IpAddr>,
    /// The CNAME chain from `name`, in order.
    pub cnames: Vec<String>,
    /// Who answered.
    pub resolver: SocketAddr,
    /// Who asked (the first transmission's source address).
    pub client: IpAddr,
}

impl Lookup {
    /// Answer time minus first query time, in nanoseconds (negative only if
    /// the capture's clock went backwards).
    pub fn duration_ns(&self) -> i64 {
        self.answer_ts.since(self.query_ts)
    }

    /// Rough heap plus inline size, for [`MAX_ANSWER_BYTES`]; each address
    /// also costs an index entry.
    fn cost(&self) -> usize {
        let cnames: usize = self
            .cnames
            .iter()
            .map(|c| c.len() + size_of::<String>())
            .sum();
        size_of::<Lookup>()
            + self.name.len()
            + cnames
            + self.addresses.len() * (size_of::<IpAddr>() + 16)
    }
}

/// A query chain that failed. Field order is the sort order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DnsFailure {
    /// First transmission of the chain.
    pub query_ts: Timestamp,
    pub query_frame: u64,
    pub name: String,
    /// Query type: 1 = A, 28 = AAAA, 65 = HTTPS, … (IANA DNS parameters).
    pub qtype: u16,
    /// `timeout`, or the RCODE's name: `nxdomain`, `servfail`, `refused`,
    /// `formerr`, `notimp`, … (RFC 6895 §2.3), `rcode_N` when unassigned.
    pub kind: &'static str,
    pub retries: u32,
    /// The error answer; `None` for a timeout.
    pub answer_ts: Option<Timestamp>,
    pub answer_frame: Option<u64>,
    /// Who answered, or for a timeout the resolver asked last.
    pub resolver: SocketAddr,
}

/// Counters over the whole capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DnsStats {
    /// Query messages (capture duplicates excluded).
    pub queries: u64,
    /// Queries too soon after an open one to be retries ([`RETRY_MIN_GAP_NS`]):
    /// separate chains.
    pub parallel: u64,
    /// Response messages with a readable header and question.
    pub answers: u64,
    /// Re-sent queries (see [`Lookup::retries`]).
    pub retries: u64,
    /// Query chains never answered (see [`DNS_TIMEOUT_NS`]).
    pub timeouts: u64,
    /// Responses with a non-zero RCODE that answered a seen query.
    pub errors: u64,
    /// Queries seen twice within [`RETRY_MIN_GAP_NS`].
    pub duplicates: u64,
    /// Messages whose header or question could not be read (ignored).
    pub malformed: u64,
    /// Paired responses with a cut or damaged answer section (earlier records used).
    pub damaged: u64,
    /// Responses with the TC bit (the client retries over TCP).
    pub truncated: u64,
    /// Responses to no open query: capture started late, a second answer
    /// (duplicate, parallel lookup, retry), or after [`DNS_RETRY_WINDOW_NS`].
    pub unmatched_answers: u64,
    /// Messages with an opcode other than QUERY, or no question.
    pub ignored: u64,
    /// Lookups stored (answers with addresses).
    pub lookups: u64,
    /// Lookups forgotten for [`MAX_ANSWERS`] or [`MAX_ANSWER_BYTES`].
    pub lookups_evicted: u64,
    /// Chains dropped for [`MAX_PENDING_QUERIES`] before their timeout.
    pub queries_evicted: u64,
    /// Failures not kept for [`MAX_FAILURES`].
    pub failures_dropped: u64,
}

/// A question as asked by one client host.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct QuestionKey {
    client: IpAddr,
    name: String,
    qtype: u16,
    qclass: u16,
}

/// One transmission of a query (or of a response, seen from the client).
#[derive(Clone, Copy, Debug)]
struct Send {
    client: SocketAddr,
    resolver: SocketAddr,
    id: u16,
    ts: Timestamp,
    frame: u64,
}

impl Send {
    /// Same endpoints and transaction id (RFC 1035 §7.3: how a stub
    /// resolver matches a response to its query).
    fn same_exchange(&self, other: &Send) -> bool {
        self.client == other.client && self.resolver == other.resolver && self.id == other.id
    }
}

/// An unanswered query chain.
#[derive(Clone, Debug)]
struct Pending {
    key: QuestionKey,
    first_ts: Timestamp,
    first_frame: u64,
    /// Latest transmission; the chain expires [`DNS_RETRY_WINDOW_NS`] after.
    last_ts: Timestamp,
    retries: u32,
    /// Resolver of the latest transmission.
    resolver: SocketAddr,
    sends: Vec<Send>,
}

impl Pending {
    /// `answer`: the error answer, seen from the client.
    fn failure(&self, kind: &'static str, answer: Option<&Send>) -> DnsFailure {
        DnsFailure {
            name: self.key.name.clone(),
            qtype: self.key.qtype,
            query_ts: self.first_ts,
            query_frame: self.first_frame,
            kind,
            retries: self.retries,
            answer_ts: answer.map(|a| a.ts),
            answer_frame: answer.map(|a| a.frame),
            resolver: answer.map_or(self.resolver, |a| a.resolver),
        }
    }
}

/// DNS state of one capture: pending queries, answered lookups indexed by
/// address, and failures. Memory is bounded (see the module docs).
#[derive(Debug, Default)]
pub struct DnsTable {
    pending: BTreeMap<u64, Pending>,
    /// Open chains per question, oldest first (several if run in parallel).
    by_question: BTreeMap<QuestionKey, Vec<u64>>,
    /// (latest transmission, chain id), oldest first.
    by_age: BTreeSet<(Timestamp, u64)>,
    next_chain: u64,
    /// Stored lookups, oldest answer first; the front is number `first_seq`.
    answers: VecDeque<Lookup>,
    first_seq: u64,
    answer_bytes: usize,
    /// Address → (answer_ts, sequence number), sorted.
    by_address: BTreeMap<IpAddr, VecDeque<(Timestamp, u64)>>,
    failures: Vec<DnsFailure>,
    /// Latest capture time seen.
    latest: Option<Timestamp>,
    stats: DnsStats,
    /// Answer frames already charged to a connection (see [`Self::claim`]).
    charged: BTreeSet<u64>,
}

impl DnsTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one UDP datagram: used when either port is 53, else only its
    /// time is noted (see [`Self::advance`]).
    pub fn observe(&mut self, d: &Datagram<'_>, ts: Timestamp, frame: u64) {
        self.advance(ts);
        if d.src.port() == DNS_PORT || d.dst.port() == DNS_PORT {
            self.observe_message(d.src, d.dst, d.payload, ts, frame);
        }
    }

    /// Feeds one DNS message sent from `src` to `dst` (any transport).
    pub fn observe_message(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        msg: &[u8],
        ts: Timestamp,
        frame: u64,
    ) {
        self.advance(ts);
        let Some(h) = Header::parse(msg) else {
            self.stats.malformed += 1;
            return;
        };
        if h.opcode != 0 || h.qdcount == 0 {
            self.stats.ignored += 1;
            return;
        }
        let (client, resolver) = if h.response { (dst, src) } else { (src, dst) };
        let Some((key, after_question)) = read_question(msg, client.ip()) else {
            self.stats.malformed += 1;
            return;
        };
        let id = h.id;
        let send = Send {
            client,
            resolver,
            id,
            ts,
            frame,
        };
        if h.response {
            self.answer(&h, key, send, msg, after_question);
        } else {
            self.query(key, send);
        }
    }

    /// Notes that capture time has reached `now`: chains quiet for longer
    /// than [`DNS_RETRY_WINDOW_NS`] close as timeouts. Call it with the last
    /// frame's time at the end (or with every frame's), so that a query
    /// followed by no more UDP still counts as a timeout.
    pub fn advance(&mut self, now: Timestamp) {
        let now = self.latest.map_or(now, |l| l.max(now));
        self.latest = Some(now);
        while let Some(&(last, _)) = self.by_age.first() {
            if now.since(last) <= DNS_RETRY_WINDOW_NS {
                break;
            }
            self.close_oldest(true);
        }
    }

    /// The latest lookup answered at or before `before` (equal times count:
    /// capture clocks are coarse) that carried `server`. With `host` (an
    /// HTTP Host value; case, port and trailing dot ignored), a lookup whose
    /// name or CNAME chain is that host wins over later ones that are not.
    /// Any client's lookup counts ([`Lookup::client`] says who asked).
    pub fn lookup(&self, server: IpAddr, before: Timestamp, host: Option<&str>) -> Option<&Lookup> {
        let list = self.by_address.get(&server)?;
        let end = list.partition_point(|e| e.0 <= before);
        let host = host.map(normalize_host);
        let mut latest = None;
        for &(_, seq) in list.iter().take(end).rev() {
            // Indexed lookups are never older than `first_seq` (see `store`).
            let i = seq.wrapping_sub(self.first_seq) as usize;
            let Some(l) = self.answers.get(i) else {
                continue;
            };
            latest = latest.or(Some(l));
            match &host {
                Some(h) if l.name != *h && !l.cnames.contains(h) => {}
                _ => return Some(l),
            }
        }
        latest
    }

    /// Stored lookups, oldest answer first (for reports and tests).
    /// Marks the answer in `answer_frame` as charged to a connection; false
    /// if it already was (a cached address costs later connections nothing).
    /// Bounded like the answers themselves.
    pub fn claim(&mut self, answer_frame: u64) -> bool {
        if self.charged.len() >= MAX_ANSWERS {
            if let Some(&oldest) = self.charged.iter().next() {
                self.charged.remove(&oldest);
            }
        }
        self.charged.insert(answer_frame)
    }

    pub fn lookups(&self) -> impl Iterator<Item = &Lookup> + '_ {
        self.answers.iter()
    }

    /// Failed chains sorted by first query: error answers, chains that
    /// expired unanswered, and chains still open whose latest transmission
    /// is more than [`DNS_TIMEOUT_NS`] before the latest time observed
    /// (meant for the end of the capture, when no answer can follow).
    pub fn failures(&self) -> Vec<DnsFailure> {
        let mut out = self.failures.clone();
        out.extend(self.open_timeouts().map(|p| p.failure("timeout", None)));
        out.sort();
        out
    }

    /// Counters; `timeouts` includes open chains as in [`Self::failures`].
    pub fn stats(&self) -> DnsStats {
        let mut s = self.stats;
        s.timeouts += self.open_timeouts().count() as u64;
        s
    }

    fn open_timeouts(&self) -> impl Iterator<Item = &Pending> + '_ {
        let now = self.latest.unwrap_or_default();
        self.pending
            .values()
            .filter(move |p| now.since(p.last_ts) > DNS_TIMEOUT_NS)
    }

    fn query(&mut self, key: QuestionKey, send: Send) {
        let ts = send.ts;
        let known = self.chain_of(&key, &send);
        let newest = self.by_question.get(&key).and_then(|v| v.last().copied());
        if let Some((cid, p)) = known
            .or(newest)
            .and_then(|c| self.pending.get_mut(&c).map(|p| (c, p)))
        {
            let soon = ts.since(p.last_ts) < RETRY_MIN_GAP_NS;
            if soon && known.is_some() {
                self.stats.duplicates += 1;
                return;
            }
            if !soon {
                if known.is_none() && p.sends.len() < MAX_SENDS_PER_QUERY {
                    p.sends.push(send);
                }
                self.stats.queries += 1;
                self.stats.retries += 1;
                p.retries = p.retries.saturating_add(1);
                p.resolver = send.resolver;
                if ts > p.last_ts {
                    self.by_age.remove(&(p.last_ts, cid));
                    p.last_ts = ts;
                    self.by_age.insert((ts, cid));
                }
                return;
            }
            self.stats.parallel += 1;
        }
        self.stats.queries += 1;
        while let Some(&(last, _)) = self.by_age.first() {
            if self.pending.len() < MAX_PENDING_QUERIES {
                break;
            }
            let timed_out = self.latest.unwrap_or(ts).since(last) > DNS_TIMEOUT_NS;
            self.stats.queries_evicted += u64::from(!timed_out);
            self.close_oldest(timed_out);
        }
        let cid = self.next_chain;
        self.next_chain += 1;
        self.by_question.entry(key.clone()).or_default().push(cid);
        self.by_age.insert((ts, cid));
        let p = Pending {
            key,
            first_ts: ts,
            first_frame: send.frame,
            last_ts: ts,
            retries: 0,
            resolver: send.resolver,
            sends: vec![send],
        };
        self.pending.insert(cid, p);
    }

    /// `reply` is the response as a [`Send`] from the client's point of view.
    fn answer(&mut self, h: &Header, key: QuestionKey, reply: Send, msg: &[u8], at: usize) {
        self.stats.answers += 1;
        let cid = self.chain_of(&key, &reply);
        let Some((cid, p)) = cid.and_then(|c| self.pending.remove(&c).map(|p| (c, p))) else {
            self.stats.unmatched_answers += 1;
            return;
        };
        self.by_age.remove(&(p.last_ts, cid));
        self.unlink(&p.key, cid);
        self.stats.truncated += u64::from(h.truncated);
        let (records, damaged) = read_answers(msg, at, h.ancount);
        self.stats.damaged += u64::from(damaged);
        if h.rcode != 0 {
            self.stats.errors += 1;
            self.push_failure(p.failure(rcode_name(h.rcode), Some(&reply)));
            return;
        }
        let (addresses, cnames) = follow_chain(&p.key.name, &records);
        if !addresses.is_empty() {
            self.store(Lookup {
                name: p.key.name,
                query_ts: p.first_ts,
                answer_ts: reply.ts,
                query_frame: p.first_frame,
                answer_frame: reply.frame,
                retries: p.retries,
                addresses,
                cnames,
                resolver: reply.resolver,
                client: p.key.client,
            });
        }
    }

    /// Drops the chain quiet longest, recording a timeout if `timed_out`.
    fn close_oldest(&mut self, timed_out: bool) {
        let Some((_, cid)) = self.by_age.pop_first() else {
            return;
        };
        let Some(p) = self.pending.remove(&cid) else {
            return;
        };
        self.unlink(&p.key, cid);
        if timed_out {
            self.stats.timeouts += 1;
            self.push_failure(p.failure("timeout", None));
        }
    }

    /// The open chain for `key` that holds the exchange of `send`.
    fn chain_of(&self, key: &QuestionKey, send: &Send) -> Option<u64> {
        let open = self.by_question.get(key)?;
        open.iter().copied().find(|c| {
            let p = self.pending.get(c);
            p.is_some_and(|p| p.sends.iter().any(|s| s.same_exchange(send)))
        })
    }

    fn unlink(&mut self, key: &QuestionKey, cid: u64) {
        if let Some(open) = self.by_question.get_mut(key) {
            open.retain(|&c| c != cid);
            if open.is_empty() {
                self.by_question.remove(key);
            }
        }
    }

    fn push_failure(&mut self, f: DnsFailure) {
        if self.failures.len() < MAX_FAILURES {
            self.failures.push(f);
        } else {
            self.stats.failures_dropped += 1;
        }
    }

    fn store(&mut self, l: Lookup) {
        let seq = self.first_seq + self.answers.len() as u64;
        for a in &l.addresses {
            let list = self.by_address.entry(*a).or_default();
            let at = list.partition_point(|e| e.0 <= l.answer_ts);
            list.insert(at, (l.answer_ts, seq));
            if list.len() > MAX_ANSWERS_PER_ADDRESS {
                list.pop_front();
            }
        }
        self.stats.lookups += 1;
        self.answer_bytes += l.cost();
        self.answers.push_back(l);
        while self.answers.len() > MAX_ANSWERS || self.answer_bytes > MAX_ANSWER_BYTES {
            let Some(old) = self.answers.pop_front() else {
                break;
            };
            let seq = self.first_seq;
            self.first_seq += 1;
            self.answer_bytes = self.answer_bytes.saturating_sub(old.cost());
            self.stats.lookups_evicted += 1;
            for a in &old.addresses {
                if let Some(list) = self.by_address.get_mut(a) {
                    list.retain(|e| e.1 != seq);
                    if list.is_empty() {
                        self.by_address.remove(a);
                    }
                }
            }
        }
    }
}

/// The RFC 1035 §4.1.1 header fields wireblame uses.
struct Header {
    id: u16,
    response: bool,
    opcode: u8,
    truncated: bool,
    rcode: u8,
    qdcount: u16,
    ancount: u16,
}

impl Header {
    fn parse(msg: &[u8]) -> Option<Header> {
        be16(msg, HEADER_LEN - 2)?; // the whole header is there
        let flags = be16(msg, 2)?;
        Some(Header {
            id: be16(msg, 0)?,
            response: flags & 0x8000 != 0,
            opcode: ((flags >> 11) & 0x0F) as u8,
            truncated: flags & 0x0200 != 0,
            rcode: (flags & 0x000F) as u8,
            qdcount: be16(msg, 4)?,
            ancount: be16(msg, 6)?,
        })
    }
}

/// What one answer record says, for the record types used here.
enum Data {
    Address(IpAddr),
    Cname(String),
}

fn be16(msg: &[u8], at: usize) -> Option<u16> {
    let b = msg.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(b.try_into().ok()?))
}

/// Reads the (possibly compressed) name at `start`; returns it and the
/// offset just past it where it started (RFC 1035 §4.1.4). `None` when cut,
/// looping, too long, or using a reserved label type.
fn read_name(msg: &[u8], start: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut pos = start;
    let mut resume = None;
    let mut jumps = 0;
    let mut wire_len = 1;
    loop {
        let len = *msg.get(pos)?;
        match len & 0xC0 {
            0x00 if len == 0 => break,
            0x00 => {
                let n = usize::from(len);
                let label = msg.get(pos + 1..pos + 1 + n)?;
                wire_len += 1 + n;
                if wire_len > MAX_NAME_WIRE_LEN {
                    return None;
                }
                if !name.is_empty() {
                    name.push('.');
                }
                push_label(&mut name, label);
                pos += 1 + n;
            }
            0xC0 => {
                let low = *msg.get(pos + 1)?;
                jumps += 1;
                if jumps > MAX_POINTER_JUMPS {
                    return None;
                }
                resume.get_or_insert(pos + 2);
                pos = (usize::from(len & 0x3F) << 8) | usize::from(low);
            }
            // 0x40 extended label (RFC 6891 §5), 0x80 reserved.
            _ => return None,
        }
    }
    if name.is_empty() {
        name.push('.');
    }
    Some((name, resume.unwrap_or(pos + 1)))
}

/// Appends a label lower-cased, escaping as RFC 1035 §5.1 `\DDD` the bytes
/// that are not printable ASCII and those that would change its reading.
fn push_label(name: &mut String, label: &[u8]) {
    for &b in label {
        if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
            name.push(char::from(b.to_ascii_lowercase()));
        } else {
            name.push_str(&format!("\\{b:03}"));
        }
    }
}

/// The first question (RFC 1035 §4.1.2), as asked by `client`, and the
/// offset after it.
fn read_question(msg: &[u8], client: IpAddr) -> Option<(QuestionKey, usize)> {
    let (name, after) = read_name(msg, HEADER_LEN)?;
    let q = QuestionKey {
        client,
        name,
        qtype: be16(msg, after)?,
        qclass: be16(msg, after + 2)?,
    };
    Some((q, after + 4))
}

/// The A, AAAA and CNAME records (class IN) among the first `count` records
/// at `at`, as (owner, data); `true` when the section was cut or damaged
/// (the records before the damage are returned).
fn read_answers(msg: &[u8], mut at: usize, count: u16) -> (Vec<(String, Data)>, bool) {
    let mut out = Vec::new();
    for _ in 0..usize::from(count).min(MAX_ANSWER_RECORDS) {
        let Some((owner, after)) = read_name(msg, at) else {
            return (out, true);
        };
        let fixed = (be16(msg, after), be16(msg, after + 2), be16(msg, after + 8));
        let (Some(rtype), Some(class), Some(rdlen)) = fixed else {
            return (out, true);
        };
        let rdata_at = after + 10;
        let Some(rdata) = msg.get(rdata_at..rdata_at + usize::from(rdlen)) else {
            return (out, true);
        };
        at = rdata_at + usize::from(rdlen);
        if class != CLASS_IN {
            continue;
        }
        let data = match rtype {
            TYPE_A => <[u8; 4]>::try_from(rdata)
                .ok()
                .map(|b| Data::Address(IpAddr::V4(Ipv4Addr::from(b)))),
            TYPE_AAAA => <[u8; 16]>::try_from(rdata)
                .ok()
                .map(|b| Data::Address(IpAddr::V6(Ipv6Addr::from(b)))),
            // The target may be compressed against any earlier name.
            TYPE_CNAME => read_name(msg, rdata_at).map(|(n, _)| Data::Cname(n)),
            _ => continue,
        };
        match data {
            Some(d) => out.push((owner, d)),
            None => return (out, true),
        }
    }
    (out, false)
}

/// Follows CNAMEs from `qname` through `records`; returns the addresses
/// owned by any name on the chain and the chain itself.
fn follow_chain(qname: &str, records: &[(String, Data)]) -> (Vec<IpAddr>, Vec<String>) {
    let mut cnames: Vec<String> = Vec::new();
    let mut current = qname.to_string();
    while cnames.len() < MAX_CNAME_CHAIN {
        let next = records.iter().find_map(|(owner, d)| match d {
            Data::Cname(t) if *owner == current => Some(t),
            _ => None,
        });
        match next {
            Some(t) if t != qname && !cnames.contains(t) => {
                cnames.push(t.clone());
                current = t.clone();
            }
            _ => break,
        }
    }
    let mut addresses = Vec::new();
    for (owner, d) in records {
        if let Data::Address(a) = d {
            let on_chain = owner == qname || cnames.contains(owner);
            if on_chain && !addresses.contains(a) && addresses.len() < MAX_ADDRESSES_PER_LOOKUP {
                addresses.push(*a);
            }
        }
    }
    (addresses, cnames)
}

/// An HTTP Host value as a DNS name: no port, no brackets, no trailing dot,
/// lower-case.
fn normalize_host(host: &str) -> String {
    let h = host.trim();
    let h = match h.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or(rest, |(a, _)| a),
        // One colon is a port; more is a bare IPv6 literal.
        None if h.matches(':').count() == 1 => h.split_once(':').map_or(h, |(a, _)| a),
        None => h,
    };
    h.trim_end_matches('.').to_ascii_lowercase()
}

/// RCODE names (RFC 6895 §2.3), snake_case; 11–15 are unassigned.
fn rcode_name(rcode: u8) -> &'static str {
    const NAMES: [&str; 16] = [
        "noerror", "formerr", "servfail", "nxdomain", "notimp", "refused", "yxdomain", "yxrrset",
        "nxrrset", "notauth", "notzone", "rcode_11", "rcode_12", "rcode_13", "rcode_14",
        "rcode_15",
    ];
    NAMES.get(usize::from(rcode)).map_or("rcode_other", |n| n)
}
