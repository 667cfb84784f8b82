//! Property test of the attribution invariant over generated timelines:
//! whatever the handshake, delays, segmentation, capture losses and
//! retransmissions, every transaction's causes are non-negative and sum to its
//! total, and the report validates against the schema.

use proptest::prelude::*;

use crate::support::scenario::{Link, Scenario, Side};
use crate::support::TempFile;

/// One generated keep-alive exchange: delays in µs, sizes in bytes.
#[derive(Clone, Debug)]
struct Exchange {
    think_us: u64,
    request: usize,
    request_split: usize,
    server_us: u64,
    response: usize,
    segment: usize,
    gap_us: u64,
    drop_one: bool,
    retransmit_one: bool,
}

fn exchange() -> impl Strategy<Value = Exchange> {
    (
        0u64..50_000,
        20usize..3_000,
        1usize..4,
        0u64..300_000,
        0usize..60_000,
        200usize..1_460,
        0u64..20_000,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                think_us,
                request,
                request_split,
                server_us,
                response,
                segment,
                gap_us,
                drop_one,
                retransmit_one,
            )| Exchange {
                think_us,
                request,
                request_split,
                server_us,
                response,
                segment,
                gap_us,
                drop_one,
                retransmit_one,
            },
        )
}

fn capture(rtt_us: u64, handshake: bool, exchanges: &[Exchange]) -> Vec<u8> {
    let mut s = Scenario::ipv4("10.1.0.1:41000", "10.1.0.2:80");
    let mut t = 0u64;
    let half = rtt_us / 2;
    if handshake {
        s.at_us(t).syn(1000);
        t += rtt_us;
        s.at_us(t).syn_ack(5000);
        s.at_us(t + 10).ack(Side::Client);
        t += 10;
    } else {
        s.mid_stream(1001, 5001);
    }
    for (i, x) in exchanges.iter().enumerate() {
        t += x.think_us;
        let head = format!(
            "POST /p/{i} HTTP/1.1\r\nHost: prop.test\r\nContent-Length: {}\r\n\r\n",
            x.request
        );
        let mut req = head.into_bytes();
        req.extend(std::iter::repeat_n(b'q', x.request));
        let part = req.len().div_ceil(x.request_split);
        for chunk in req.chunks(part) {
            s.at_us(t).client_data(chunk);
            t += x.gap_us / 4 + 5;
        }
        s.at_us(t + half).ack(Side::Server);
        t += rtt_us + x.server_us;
        let mut resp =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", x.response).into_bytes();
        resp.extend(std::iter::repeat_n(b'r', x.response));
        let mut first_data = None;
        for (k, chunk) in resp.chunks(x.segment).enumerate() {
            s.at_us(t).server_data(chunk);
            let idx = s.last_index();
            if k == 1 && x.drop_one {
                s.seg_mut(idx).not_captured();
            }
            first_data.get_or_insert(idx);
            t += 120 + if k % 10 == 9 { x.gap_us } else { 0 };
            if k % 2 == 1 {
                s.at_us(t + half).ack(Side::Client);
            }
        }
        if x.retransmit_one {
            if let Some(idx) = first_data {
                t += 200_000;
                s.at_us(t).retransmit(idx);
            }
        }
        s.at_us(t + half).ack(Side::Client);
        t += rtt_us;
    }
    s.at_us(t).fin(Side::Client);
    s.at_us(t + half).fin(Side::Server);
    s.at_us(t + rtt_us).ack(Side::Client);
    s.to_pcap(Link::Ethernet)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn causes_partition_every_generated_timeline(
        rtt_us in 50u64..200_000,
        handshake in any::<bool>(),
        exchanges in prop::collection::vec(exchange(), 1..5),
    ) {
        let bytes = capture(rtt_us, handshake, &exchanges);
        let file = TempFile::with_bytes("blame-prop.pcap", &bytes);
        let report = crate::lab::analyze(file.path());
        crate::lab::assert_blame_sums(&report, "generated timeline");
        prop_assert_eq!(report.transactions.len(), exchanges.len());
    }
}
