//! DNS table (`wireblame::dns`): pairing, retries, failures, lookup rules and
//! robustness, on DNS messages built by hand; plus a no-panic sweep over the
//! shared corpus (skipped when the corpus is missing).

use std::net::{IpAddr, SocketAddr};

use wireblame::capture::CaptureReader;
use wireblame::decode::{self, Datagram, Decoded};
use wireblame::dns::{
    DnsStats, DnsTable, DNS_RETRY_WINDOW_NS, MAX_ANSWERS_PER_ADDRESS, MAX_PENDING_QUERIES,
};
use wireblame::time::Timestamp;

const CLIENT: &str = "10.0.0.2:40000";
const RESOLVER: &str = "10.0.0.1:53";
const MS: i64 = 1_000_000;
const A: u16 = 1;
const CNAME: u16 = 5;
const AAAA: u16 = 28;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A hand-built DNS message (RFC 1035 §4.1).
struct Msg(Vec<u8>);

impl Msg {
    /// Header with one question; `flags` as on the wire.
    fn new(id: u16, flags: u16, ancount: u16) -> Msg {
        let mut m = Msg(Vec::new());
        for v in [id, flags, 1, ancount, 0, 0] {
            m.u16(v);
        }
        m
    }
    fn query(id: u16, name: &str, qtype: u16) -> Msg {
        Msg::new(id, 0x0100, 0).question(name, qtype)
    }
    fn response(id: u16, rcode: u16, ancount: u16, name: &str, qtype: u16) -> Msg {
        Msg::new(id, 0x8180 | rcode, ancount).question(name, qtype)
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn name(mut self, name: &str) -> Msg {
        for label in name.split('.').filter(|l| !l.is_empty()) {
            self.0.push(label.len() as u8);
            self.0.extend_from_slice(label.as_bytes());
        }
        self.0.push(0);
        self
    }
    fn ptr(mut self, off: u16) -> Msg {
        self.u16(0xC000 | off);
        self
    }
    fn question(self, name: &str, qtype: u16) -> Msg {
        let mut m = self.name(name);
        m.u16(qtype);
        m.u16(1);
        m
    }
    /// The rest of a record whose owner was just written.
    fn rr(mut self, rtype: u16, rdata: &[u8]) -> Msg {
        self.u16(rtype);
        self.u16(1);
        self.0.extend_from_slice(&[0, 0, 0, 60]);
        self.u16(rdata.len() as u16);
        self.0.extend_from_slice(rdata);
        self
    }
    fn a(self, owner: &str, addr: &str) -> Msg {
        let IpAddr::V4(v4) = ip(addr) else { panic!() };
        self.name(owner).rr(A, &v4.octets())
    }
    fn aaaa(self, owner: &str, addr: &str) -> Msg {
        let IpAddr::V6(v6) = ip(addr) else { panic!() };
        self.name(owner).rr(AAAA, &v6.octets())
    }
    fn cname(self, owner: &str, target: &str) -> Msg {
        let t = Msg(Vec::new()).name(target).0;
        self.name(owner).rr(CNAME, &t)
    }
    fn cut(mut self, n: usize) -> Msg {
        self.0.truncate(self.0.len().saturating_sub(n));
        self
    }
}

fn feed(t: &mut DnsTable, from: &str, to: &str, m: &Msg, ms: i64, frame: u64) {
    let d = Datagram {
        src: sa(from),
        dst: sa(to),
        payload: &m.0,
    };
    t.observe(&d, Timestamp(ms * MS), frame);
}

/// Query for `name` (type A) at `q_ms`, frame 1; `answer` at `a_ms`, frame 2.
fn resolve(t: &mut DnsTable, id: u16, name: &str, answer: Msg, q_ms: i64, a_ms: i64) {
    feed(t, CLIENT, RESOLVER, &Msg::query(id, name, A), q_ms, 1);
    feed(t, RESOLVER, CLIENT, &answer, a_ms, 2);
}

#[test]
fn a_answer_pairs_with_its_query() {
    let mut t = DnsTable::new();
    let ans = Msg::response(7, 0, 1, "Example.COM", A).a("example.com", "93.184.216.34");
    feed(
        &mut t,
        CLIENT,
        RESOLVER,
        &Msg::query(7, "Example.COM.", A),
        100,
        3,
    );
    feed(&mut t, RESOLVER, CLIENT, &ans, 130, 4);
    let l = t
        .lookup(ip("93.184.216.34"), Timestamp(200 * MS), None)
        .unwrap();
    assert_eq!(l.name, "example.com");
    assert_eq!((l.query_frame, l.answer_frame, l.retries), (3, 4, 0));
    assert_eq!(
        (l.query_ts, l.duration_ns()),
        (Timestamp(100 * MS), 30 * MS)
    );
    assert_eq!((l.resolver, l.client), (sa(RESOLVER), ip("10.0.0.2")));
    assert!(l.cnames.is_empty());
    let s = t.stats();
    assert_eq!((s.queries, s.answers, s.lookups, s.timeouts), (1, 1, 1, 0));
    assert!(t.failures().is_empty());
}

#[test]
fn aaaa_answer() {
    let mut t = DnsTable::new();
    feed(
        &mut t,
        CLIENT,
        RESOLVER,
        &Msg::query(9, "v6.test", AAAA),
        0,
        1,
    );
    let ans = Msg::response(9, 0, 2, "v6.test", AAAA)
        .aaaa("v6.test", "2001:db8::1")
        .aaaa("v6.test", "2001:db8::1");
    feed(&mut t, RESOLVER, CLIENT, &ans, 5, 2);
    let l = t
        .lookup(ip("2001:db8::1"), Timestamp(5 * MS), None)
        .unwrap();
    assert_eq!(l.addresses, vec![ip("2001:db8::1")], "repeats dropped");
}

#[test]
fn cname_chain_with_compression_pointers() {
    // The question name starts at offset 12 ("www" label), "shop" at 16.
    let ans = Msg::response(1, 0, 4, "www.shop.test", A)
        .ptr(12)
        .rr(CNAME, &[3, b'c', b'd', b'n', 0xC0, 16]) // cdn.shop.test
        .cname("cdn.shop.test", "Edge.NET")
        .a("edge.net", "192.0.2.7")
        .a("unrelated.test", "192.0.2.99");
    let mut t = DnsTable::new();
    resolve(&mut t, 1, "www.shop.test", ans, 0, 20);
    let l = t.lookup(ip("192.0.2.7"), Timestamp(20 * MS), None).unwrap();
    assert_eq!(l.name, "www.shop.test");
    assert_eq!(l.cnames, vec!["cdn.shop.test", "edge.net"]);
    assert_eq!(l.addresses, vec![ip("192.0.2.7")]);
    let off_chain = t.lookup(ip("192.0.2.99"), Timestamp(20 * MS), None);
    assert!(
        off_chain.is_none(),
        "records off the CNAME chain are not taken"
    );
}

#[test]
fn cname_loop_ends() {
    let ans = Msg::response(1, 0, 3, "a.test", A)
        .cname("a.test", "b.test")
        .cname("b.test", "a.test")
        .a("b.test", "192.0.2.1");
    let mut t = DnsTable::new();
    resolve(&mut t, 1, "a.test", ans, 0, 1);
    let l = t.lookups().next().unwrap();
    assert_eq!(
        (l.cnames.clone(), l.addresses.clone()),
        (vec!["b.test".to_string()], vec![ip("192.0.2.1")])
    );
}

#[test]
fn pointer_loops_do_not_hang() {
    let mut t = DnsTable::new();
    // A question name that points at itself.
    let mut m = Msg::new(1, 0x0100, 0);
    m.u16(0xC00C);
    m.u16(A);
    m.u16(1);
    feed(&mut t, CLIENT, RESOLVER, &m, 0, 1);
    assert_eq!((t.stats().malformed, t.stats().queries), (1, 0));
    // An answer owner made of two pointers to each other: the query is
    // still answered (the answer section is damaged), with no addresses.
    let base = Msg::response(2, 0, 1, "loop.test", A);
    let at = base.0.len() as u16;
    let looped = base.ptr(at + 2).ptr(at).rr(A, &[192, 0, 2, 1]);
    resolve(&mut t, 2, "loop.test", looped, 10, 11);
    let s = t.stats();
    assert_eq!((s.damaged, s.lookups, s.unmatched_answers), (1, 0, 0));
    assert!(t.failures().is_empty());
}

#[test]
fn names_are_lowercased_and_escaped() {
    let mut t = DnsTable::new();
    let mut q = Msg::new(1, 0x0100, 0);
    q.0.extend_from_slice(&[2, 0xFF, b'.', 3, b'C', b'o', b'M', 0]);
    q.u16(A);
    q.u16(1);
    feed(&mut t, CLIENT, RESOLVER, &q, 0, 1);
    let f = t.failures();
    assert!(f.is_empty());
    feed(
        &mut t,
        CLIENT,
        "10.0.0.1:53",
        &Msg::query(2, "later.test", A),
        6_000,
        2,
    );
    assert_eq!(t.failures()[0].name, "\\255\\046.com");
}

#[test]
fn truncated_messages() {
    let mut t = DnsTable::new();
    feed(&mut t, CLIENT, RESOLVER, &Msg(vec![0, 1, 1]), 0, 1);
    feed(
        &mut t,
        CLIENT,
        RESOLVER,
        &Msg::query(1, "cut.test", A).cut(3),
        0,
        2,
    );
    assert_eq!(t.stats().malformed, 2);
    // A response cut inside its second record still answers the query,
    // with the records before the cut.
    let cut = Msg::response(2, 0, 2, "cut.test", A)
        .a("cut.test", "192.0.2.1")
        .a("cut.test", "192.0.2.2")
        .cut(2);
    resolve(&mut t, 2, "cut.test", cut, 10, 20);
    let s = t.stats();
    assert_eq!((s.damaged, s.lookups, s.answers), (1, 1, 1));
    let l = t.lookup(ip("192.0.2.1"), Timestamp(30 * MS), None).unwrap();
    assert_eq!(l.addresses, vec![ip("192.0.2.1")]);
}

#[test]
fn retry_then_answer_counts_from_first_query() {
    let mut t = DnsTable::new();
    feed(
        &mut t,
        CLIENT,
        RESOLVER,
        &Msg::query(1, "slow.test", A),
        0,
        1,
    );
    // glibc's retry after 5 s, to the second nameserver, with a new id.
    let (client2, resolver2) = ("10.0.0.2:40001", "10.0.0.9:53");
    feed(
        &mut t,
        client2,
        resolver2,
        &Msg::query(2, "slow.test", A),
        5_001,
        7,
    );
    let ans = Msg::response(2, 0, 1, "slow.test", A).a("slow.test", "192.0.2.5");
    feed(&mut t, resolver2, client2, &ans, 5_020, 9);
    let l = t
        .lookup(ip("192.0.2.5"), Timestamp(6_000 * MS), None)
        .unwrap();
    assert_eq!((l.query_ts, l.query_frame, l.retries), (Timestamp(0), 1, 1));
    assert_eq!((l.answer_frame, l.resolver), (9, sa(resolver2)));
    assert_eq!(t.stats().retries, 1);
    assert!(t.failures().is_empty());
}

#[test]
fn same_id_resend_is_a_retry_but_capture_duplicate_is_not() {
    let mut t = DnsTable::new();
    let q = Msg::query(3, "dup.test", A);
    feed(&mut t, CLIENT, RESOLVER, &q, 0, 1);
    feed(&mut t, CLIENT, RESOLVER, &q, 0, 2);
    feed(&mut t, CLIENT, RESOLVER, &q, 1_000, 3);
    let ans = Msg::response(3, 0, 1, "dup.test", A).a("dup.test", "192.0.2.3");
    feed(&mut t, RESOLVER, CLIENT, &ans, 1_010, 4);
    feed(&mut t, RESOLVER, CLIENT, &ans, 1_010, 5);
    let l = t.lookups().next().unwrap();
    assert_eq!((l.query_frame, l.retries), (1, 1));
    let s = t.stats();
    assert_eq!((s.queries, s.duplicates, s.unmatched_answers), (2, 1, 1));
}

#[test]
fn parallel_lookup_is_not_a_retry() {
    // A browser and the OS resolver ask the same name 5 ms apart.
    let mut t = DnsTable::new();
    let other = "10.0.0.2:40002";
    feed(
        &mut t,
        CLIENT,
        RESOLVER,
        &Msg::query(1, "both.test", A),
        0,
        1,
    );
    feed(
        &mut t,
        other,
        RESOLVER,
        &Msg::query(2, "both.test", A),
        5,
        2,
    );
    let ans = |id| Msg::response(id, 0, 1, "both.test", A).a("both.test", "192.0.2.6");
    feed(&mut t, RESOLVER, other, &ans(2), 20, 3);
    feed(&mut t, RESOLVER, CLIENT, &ans(1), 21, 4);
    // Two chains, each timed from its own query.
    let chains: Vec<_> = t
        .lookups()
        .map(|l| (l.query_frame, l.answer_frame, l.retries))
        .collect();
    assert_eq!(chains, vec![(2, 3, 0), (1, 4, 0)]);
    let s = t.stats();
    assert_eq!(
        (s.queries, s.parallel, s.retries, s.unmatched_answers),
        (2, 1, 0, 0)
    );
    let l = t.lookup(ip("192.0.2.6"), Timestamp(30 * MS), None).unwrap();
    assert_eq!(l.duration_ns(), 21 * MS);
}

#[test]
fn answers_pair_only_by_endpoints_id_and_question() {
    let mut t = DnsTable::new();
    feed(&mut t, CLIENT, RESOLVER, &Msg::query(4, "x.test", A), 0, 1);
    let wrong_id = Msg::response(5, 0, 1, "x.test", A).a("x.test", "192.0.2.4");
    feed(&mut t, RESOLVER, CLIENT, &wrong_id, 1, 2);
    let wrong_q = Msg::response(4, 0, 1, "y.test", A).a("y.test", "192.0.2.4");
    feed(&mut t, RESOLVER, CLIENT, &wrong_q, 1, 3);
    let other_server = Msg::response(4, 0, 1, "x.test", A).a("x.test", "192.0.2.4");
    feed(&mut t, "10.0.0.8:53", CLIENT, &other_server, 1, 4);
    feed(&mut t, RESOLVER, "10.0.0.2:40009", &other_server, 1, 5);
    assert_eq!(t.stats().unmatched_answers, 4);
    assert_eq!(t.lookups().count(), 0);
    // A and AAAA for the same name are separate chains, not retries.
    feed(
        &mut t,
        CLIENT,
        RESOLVER,
        &Msg::query(6, "x.test", AAAA),
        2,
        6,
    );
    assert_eq!(t.stats().retries, 0);
}

#[test]
fn error_rcodes_are_failures() {
    let mut t = DnsTable::new();
    resolve(
        &mut t,
        6,
        "nope.test",
        Msg::response(6, 3, 0, "nope.test", A),
        10,
        25,
    );
    let f = t.failures();
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].kind, f[0].name.as_str(), f[0].qtype),
        ("nxdomain", "nope.test", A)
    );
    assert_eq!(
        (f[0].query_ts, f[0].answer_ts),
        (Timestamp(10 * MS), Some(Timestamp(25 * MS)))
    );
    assert_eq!((f[0].answer_frame, f[0].resolver), (Some(2), sa(RESOLVER)));
    assert_eq!(t.stats().errors, 1);
    resolve(
        &mut t,
        7,
        "sf.test",
        Msg::response(7, 2, 0, "sf.test", A),
        30,
        40,
    );
    resolve(
        &mut t,
        8,
        "odd.test",
        Msg::response(8, 12, 0, "odd.test", A),
        50,
        60,
    );
    let kinds: Vec<_> = t.failures().iter().map(|f| f.kind).collect();
    assert_eq!(kinds, vec!["nxdomain", "servfail", "rcode_12"]);
    assert_eq!(t.lookups().count(), 0);
}

#[test]
fn unanswered_query_times_out() {
    let mut t = DnsTable::new();
    let other = ("10.0.0.5:1000", "10.0.0.6:53");
    feed(
        &mut t,
        CLIENT,
        RESOLVER,
        &Msg::query(1, "lost.test", A),
        0,
        1,
    );
    feed(
        &mut t,
        CLIENT,
        RESOLVER,
        &Msg::query(2, "lost.test", A),
        5_000,
        2,
    );
    // Within the timeout of the re-send: not yet a failure.
    feed(&mut t, other.0, other.1, &Msg::query(9, "z", A), 9_000, 3);
    assert!(t.failures().is_empty());
    // Over DNS_TIMEOUT_NS after the last send: a timeout at capture end.
    feed(&mut t, other.0, other.1, &Msg::query(9, "z", A), 10_001, 4);
    let f = t.failures();
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].kind, f[0].retries, f[0].query_frame),
        ("timeout", 1, 1)
    );
    assert_eq!((f[0].answer_ts, f[0].resolver), (None, sa(RESOLVER)));
    assert_eq!(t.stats().timeouts, 1);
    // After the retry window the chain is closed: an answer no longer pairs.
    let late = 5_000 + DNS_RETRY_WINDOW_NS / MS + 1;
    feed(
        &mut t,
        other.0,
        other.1,
        &Msg::query(3, "other.test", A),
        late,
        5,
    );
    let ans = Msg::response(2, 0, 1, "lost.test", A).a("lost.test", "192.0.2.8");
    feed(&mut t, RESOLVER, CLIENT, &ans, late, 6);
    assert_eq!(t.failures().len(), 2, "lost.test and z");
    assert_eq!(t.stats().timeouts, 2);
    assert_eq!(t.stats().unmatched_answers, 1);
}

#[test]
fn time_advances_without_more_dns() {
    let mut t = DnsTable::new();
    feed(&mut t, CLIENT, RESOLVER, &Msg::query(1, "q.test", A), 0, 1);
    // Other UDP traffic moves the clock; so does `advance` at capture end.
    feed(
        &mut t,
        "10.0.0.2:5000",
        "10.0.0.3:5001",
        &Msg(vec![0; 8]),
        6_000,
        2,
    );
    assert_eq!(t.failures().len(), 1);
    t.advance(Timestamp(60_000 * MS));
    assert_eq!((t.failures().len(), t.stats().timeouts), (1, 1));
    assert_eq!(t.failures()[0].kind, "timeout");
}

#[test]
fn slow_answer_within_retry_window_still_pairs() {
    let mut t = DnsTable::new();
    let ans = Msg::response(1, 0, 1, "slow.test", A).a("slow.test", "192.0.2.9");
    resolve(&mut t, 1, "slow.test", ans, 0, 7_000);
    assert_eq!(t.lookups().next().unwrap().duration_ns(), 7_000 * MS);
    assert!(t.failures().is_empty());
}

#[test]
fn lookup_prefers_host_then_latest() {
    let mut t = DnsTable::new();
    let a1 = Msg::response(1, 0, 1, "a.test", A).a("a.test", "192.0.2.10");
    resolve(&mut t, 1, "a.test", a1, 0, 10);
    let a2 = Msg::response(2, 0, 2, "b.test", A)
        .cname("b.test", "lb.test")
        .a("lb.test", "192.0.2.10");
    resolve(&mut t, 2, "b.test", a2, 20, 30);
    let (server, at) = (ip("192.0.2.10"), Timestamp(100 * MS));
    let name = |host| t.lookup(server, at, host).unwrap().name.clone();
    assert_eq!(name(None), "b.test");
    assert_eq!(name(Some("A.test.:8080")), "a.test");
    assert_eq!(name(Some(" a.TEST ")), "a.test");
    assert_eq!(name(Some("LB.test")), "b.test", "CNAME chain matches");
    assert_eq!(name(Some("c.test")), "b.test", "no match: latest");
    assert_eq!(name(Some("[2001:db8::1]:80")), "b.test");
    assert!(t.lookup(ip("192.0.2.11"), at, None).is_none());
}

#[test]
fn lookup_ignores_answers_after_before() {
    let mut t = DnsTable::new();
    for (id, q, a) in [(1, 0, 10), (2, 50, 60)] {
        let ans = Msg::response(id, 0, 1, "a.test", A).a("a.test", "192.0.2.10");
        resolve(&mut t, id, "a.test", ans, q, a);
    }
    let server = ip("192.0.2.10");
    let at = |ms| {
        t.lookup(server, Timestamp(ms * MS), None)
            .map(|l| l.answer_ts)
    };
    assert_eq!(at(9), None);
    assert_eq!(
        at(10),
        Some(Timestamp(10 * MS)),
        "same time counts as before"
    );
    assert_eq!(at(59), Some(Timestamp(10 * MS)));
    assert_eq!(at(61), Some(Timestamp(60 * MS)));
    assert_eq!(
        t.lookup(server, Timestamp(55 * MS), Some("a.test"))
            .unwrap()
            .query_ts,
        Timestamp(0)
    );
}

#[test]
fn other_ports_and_mdns_are_ignored() {
    let mut t = DnsTable::new();
    let q = Msg::query(0, "printer.local", A);
    feed(&mut t, "10.0.0.2:5353", "224.0.0.251:5353", &q, 0, 1);
    feed(
        &mut t,
        "10.0.0.2:5000",
        "10.0.0.3:5001",
        &Msg(vec![0xFF; 40]),
        0,
        2,
    );
    assert_eq!(t.stats(), DnsStats::default());
    // Opcode NOTIFY (4) on port 53: ignored, not malformed.
    let mut notify = Msg::new(1, 4 << 11, 0).question("zone.test", 6);
    notify.u16(0);
    feed(&mut t, CLIENT, RESOLVER, &notify, 0, 3);
    assert_eq!((t.stats().ignored, t.stats().queries), (1, 0));
}

#[test]
fn pending_queries_are_bounded() {
    let mut t = DnsTable::new();
    for i in 0..MAX_PENDING_QUERIES + 5 {
        let q = Msg::query(1, &format!("n{i}.test"), A);
        feed(&mut t, CLIENT, RESOLVER, &q, 0, i as u64 + 1);
    }
    assert_eq!(t.stats().queries_evicted, 5);
    // The first chains are gone: their answers no longer pair.
    let ans = Msg::response(1, 0, 1, "n0.test", A).a("n0.test", "192.0.2.1");
    feed(&mut t, RESOLVER, CLIENT, &ans, 1, 0);
    assert_eq!(t.stats().unmatched_answers, 1);
}

#[test]
fn answers_per_address_are_bounded() {
    let mut t = DnsTable::new();
    for i in 0..MAX_ANSWERS_PER_ADDRESS as i64 + 3 {
        let ans = Msg::response(1, 0, 1, "r.test", A).a("r.test", "192.0.2.1");
        resolve(&mut t, 1, "r.test", ans, 2 * i, 2 * i + 1);
    }
    let server = ip("192.0.2.1");
    assert!(
        t.lookup(server, Timestamp(MS), None).is_none(),
        "oldest dropped"
    );
    assert_eq!(
        t.lookup(server, Timestamp(8 * MS), None).unwrap().answer_ts,
        Timestamp(7 * MS)
    );
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
        let mut t = DnsTable::new();
        feed(&mut t, CLIENT, RESOLVER, &Msg(bytes.clone()), 0, 1);
        feed(&mut t, RESOLVER, CLIENT, &Msg(bytes), 1, 2);
        let _ = (t.failures(), t.stats());
    }

    #[test]
    fn mutated_answers_never_panic(at in 0usize..90, value in proptest::num::u8::ANY, cut in 0usize..90) {
        let ans = Msg::response(1, 0, 3, "www.shop.test", A)
            .ptr(12)
            .rr(CNAME, &[3, b'c', b'd', b'n', 0xC0, 16])
            .cname("cdn.shop.test", "edge.net")
            .a("edge.net", "192.0.2.7");
        let mut bytes = ans.cut(cut).0;
        if let Some(b) = bytes.get_mut(at) {
            *b = value;
        }
        let mut t = DnsTable::new();
        resolve(&mut t, 1, "www.shop.test", Msg(bytes), 0, 1);
        let _ = (t.failures(), t.stats(), t.lookup(ip("192.0.2.7"), Timestamp(5 * MS), Some("www.shop.test")));
    }
}

/// Every corpus capture through capture → decode → DnsTable: no panic, and
/// the counters add up.
#[test]
fn corpus_sweep_never_panics() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let Ok(subdirs) = std::fs::read_dir(&dir) else {
        eprintln!("notice: ../shared/corpus not found; DNS corpus sweep skipped");
        return;
    };
    let mut files: Vec<_> = subdirs
        .flatten()
        .filter(|d| d.path().is_dir())
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
        .map(|e| e.path())
        .collect();
    files.sort();
    for path in files {
        let Ok(mut reader) = CaptureReader::open(&path.to_string_lossy()) else {
            continue;
        };
        let mut t = DnsTable::new();
        while let Ok(Some(frame)) = reader.next_frame() {
            if let Decoded::Udp(d) = decode::decode(&frame) {
                t.observe(&d, frame.ts, frame.number);
            }
        }
        let s = t.stats();
        assert!(
            s.lookups <= s.answers && s.answers >= s.errors,
            "{path:?}: {s:?}"
        );
        for l in t.lookups() {
            assert!(
                !l.addresses.is_empty() && l.query_frame < l.answer_frame,
                "{path:?}: {l:?}"
            );
        }
    }
}
