//! Micro-benchmarks of the hot paths: frame decode, flow lookup, reassembly
//! and HTTP parsing. `cargo bench`; whole-run numbers come from
//! `scripts/bench.sh` (docs/performance.md).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use etherparse::PacketBuilder;
use wireblame::decode::{self, linktype, Decoded};
use wireblame::stream::{Chunk, Side, StreamItem};
use wireblame::tcp::flow::FlowTable;
use wireblame::tcp::reassembly::Reassembler;
use wireblame::time::Timestamp;
use wireblame::transaction::{HttpConversation, HttpLimits};

fn frame(sport: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(sport, 80, seq, 65535)
        .ack(1);
    let mut v = Vec::new();
    b.write(&mut v, payload).expect("build frame");
    v
}

fn bench_decode(c: &mut Criterion) {
    let f = frame(40000, 1, &[b'x'; 1448]);
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ethernet_ipv4_tcp_1448", |b| {
        b.iter(|| decode::decode_link(linktype::ETHERNET, black_box(&f), f.len() as u32))
    });
    g.finish();
}

fn bench_flow_lookup(c: &mut Criterion) {
    // 10,000 live connections; each iteration routes one segment to one of them.
    let frames: Vec<Vec<u8>> = (0..10_000u16).map(|i| frame(10_000 + i, 1, b"")).collect();
    let mut table = FlowTable::new();
    let mut done = |_c| {};
    for (i, f) in frames.iter().enumerate() {
        if let Decoded::Tcp(s) = decode::decode_link(linktype::ETHERNET, f, f.len() as u32) {
            table.segment(&s, Timestamp(i as i64), i as u64 + 1, &mut done);
        }
    }
    let mut g = c.benchmark_group("flow");
    g.throughput(Throughput::Elements(1));
    let mut n = 0usize;
    g.bench_function("lookup_among_10k", |b| {
        b.iter(|| {
            n = (n + 7919) % frames.len();
            let f = &frames[n];
            if let Decoded::Tcp(s) = decode::decode_link(linktype::ETHERNET, f, f.len() as u32) {
                table.segment(&s, Timestamp(1_000_000), 20_000, &mut done);
            }
        })
    });
    g.finish();
}

fn bench_reassembly(c: &mut Criterion) {
    let payload = vec![b'y'; 1448];
    let mut g = c.benchmark_group("reassembly");
    g.throughput(Throughput::Bytes(1448 * 64));
    g.bench_function("in_order_64_segments", |b| {
        b.iter(|| {
            let mut r = Reassembler::default();
            r.set_base(0);
            let mut sink = |_: &StreamItem<'_>| {};
            for i in 0..64u64 {
                r.segment(i * 1448, 1448, &payload, Timestamp(0), i, &mut sink);
            }
        })
    });
    g.bench_function("reversed_64_segments", |b| {
        b.iter(|| {
            let mut r = Reassembler::default();
            r.set_base(0);
            let mut sink = |_: &StreamItem<'_>| {};
            for i in (0..64u64).rev() {
                r.segment(i * 1448, 1448, &payload, Timestamp(0), i, &mut sink);
            }
        })
    });
    g.finish();
}

fn bench_http(c: &mut Criterion) {
    let mut req = Vec::new();
    let mut resp = Vec::new();
    for i in 0..100 {
        req.extend(format!("GET /item/{i} HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n").as_bytes());
        resp.extend(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n");
        resp.extend(std::iter::repeat_n(b'z', 1000));
    }
    let mut g = c.benchmark_group("http");
    g.throughput(Throughput::Bytes((req.len() + resp.len()) as u64));
    g.bench_function("100_pipelined_transactions", |b| {
        b.iter(|| {
            let mut conv = HttpConversation::new(HttpLimits::default());
            for (side, bytes) in [(Side::Client, &req), (Side::Server, &resp)] {
                for (k, part) in bytes.chunks(1448).enumerate() {
                    let item = StreamItem::Data(Chunk {
                        offset: (k * 1448) as u64,
                        bytes: part,
                        ts: Timestamp(k as i64),
                        frame: k as u64,
                        first_seen: Timestamp(k as i64),
                    });
                    conv.push(side, &item);
                }
            }
            black_box(conv.finish())
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_decode,
    bench_flow_lookup,
    bench_reassembly,
    bench_http
);
criterion_main!(benches);
