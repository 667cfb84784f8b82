//! Scenario tests: a capture built packet by packet, run through the real
//! binary (`wireblame analyze --format json`), with exact expectations on the
//! report's `connections[]`, `capture` and `warnings`.
//!
//! Times are milliseconds after `BASE_NS` unless a test says otherwise; the
//! report carries microseconds since the epoch, hence `us_at_ms`.

use serde_json::{json, Value};

use crate::support::pcap::{Precision, PCAP_RECORD_HEADER_LEN};
use crate::support::{analyze, filler, us_at_ms, Analysis, Framing, Link, Scenario, Side, BASE_US};

/// 27 bytes.
const REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
/// 43 bytes: 38 of head, 5 of body.
const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

const V4_CLIENT: &str = "10.0.0.1:40000";
const V4_SERVER: &str = "10.0.0.2:80";
const V6_CLIENT: &str = "[2001:db8::1]:40000";
const V6_SERVER: &str = "[2001:db8::2]:80";

/// The handshake, one request and response, and a close begun by the client.
/// Client: SYN, ACK, request, ACK, FIN, ACK (6). Server: SYN/ACK, response,
/// FIN (3). Payload: 27 bytes from the client, 43 from the server.
fn standard(client: &str, server: &str) -> Scenario {
    let mut s = Scenario::new(client, server);
    s.at_ms(0).syn(1000);
    s.at_ms(20).syn_ack(5000);
    s.at_ms(40).ack(Side::Client);
    s.at_ms(41).client_data(REQ);
    s.at_ms(60).server_data(RESP);
    s.at_ms(61).ack(Side::Client);
    s.at_ms(100).fin(Side::Client);
    s.at_ms(120).fin(Side::Server);
    s.at_ms(121).ack(Side::Client);
    s
}

fn no_retransmissions() -> Value {
    json!({"timeout": 0, "fast": 0, "spurious": 0, "syn": 0, "window_probe": 0, "inferred": 0})
}

/// Every field of the standard connection, whatever the link layer.
fn assert_standard(c: &Value, client: &str, server: &str) {
    assert_eq!(c["id"], 0);
    assert_eq!(c["client"], client);
    assert_eq!(c["server"], server);
    assert_eq!(c["roles"], "syn");
    assert_eq!(c["protocol"], "http");
    assert_eq!(c["first_frame"], 1);
    assert_eq!(c["start_us"], us_at_ms(0));
    assert_eq!(c["end_us"], us_at_ms(121));
    let h = &c["handshake"];
    assert_eq!(h["syn_us"], us_at_ms(0));
    assert_eq!(h["synack_us"], us_at_ms(20));
    assert_eq!(h["ack_us"], us_at_ms(40));
    assert_eq!(h["rtt_us"], 40_000);
    assert_eq!(h["syn_retransmits"], 0);
    assert_eq!(h["synack_retransmits"], 0);
    assert_eq!(
        (&h["syn_frame"], &h["synack_frame"], &h["ack_frame"]),
        (&json!(1), &json!(2), &json!(3))
    );
    assert_eq!(c["vantage"], "middle");
    assert_eq!(c["packets"], json!({"client": 6, "server": 3}));
    assert_eq!(c["bytes"], json!({"client": 27, "server": 43}));
    assert_eq!(c["retransmissions"], json!({"client": 0, "server": 0}));
    assert_eq!(
        c["close"],
        json!({"by": "client", "how": "fin", "active_closer": "client"})
    );
    assert_eq!(c["port_reused"], false);
    assert_eq!(c["port_reused_after_us"], Value::Null);
    assert_eq!(c["transactions"], 1);
    for side in ["client", "server"] {
        let d = &c["details"][side];
        assert_eq!(d["retransmission_kinds"], no_retransmissions(), "{side}");
        assert_eq!(d["out_of_order"], 0, "{side}");
        assert_eq!(d["duplicate_frames"], 0, "{side}");
        assert_eq!(d["keepalives"], 0, "{side}");
        assert_eq!(d["zero_windows"], 0, "{side}");
        assert_eq!(d["acked_unseen_bytes"], 0, "{side}");
        assert_eq!(d["gap_bytes"], 0, "{side}");
    }
}

fn assert_no_warnings(a: &Analysis) {
    assert_eq!(
        a.warning_kinds(),
        Vec::<String>::new(),
        "{:#}",
        a.json["warnings"]
    );
}

// ---------------------------------------------------------------- link layers

/// Link-layer header bytes per frame.
fn link_header_len(link: Link) -> u64 {
    match link {
        Link::Ethernet => 14,
        Link::LinuxSll => 16,
        Link::LinuxSll2 => 20,
        Link::Raw => 0,
        Link::NullLe | Link::NullBe | Link::Loop => 4,
    }
}

#[test]
fn every_link_type_decodes_the_same_ipv4_connection() {
    for link in Link::ALL {
        let s = standard(V4_CLIENT, V4_SERVER);
        let a = analyze(&format!("link-v4-{link:?}"), &s.to_pcap(link));
        assert_standard(a.conn(), V4_CLIENT, V4_SERVER);
        let cap = &a.json["capture"];
        assert_eq!(cap["format"], "pcap", "{link:?}");
        assert_eq!(cap["link_types"], json!([link.report_name()]), "{link:?}");
        assert_eq!(cap["packets"], 9, "{link:?}");
        // 9 × (20 IP + 20 TCP) + 70 payload, plus the link headers.
        assert_eq!(cap["bytes"], 430 + 9 * link_header_len(link), "{link:?}");
        assert_eq!(cap["decode"]["tcp"], 9, "{link:?}");
        assert_eq!(cap["first_us"], us_at_ms(0), "{link:?}");
        assert_eq!(cap["last_us"], us_at_ms(121), "{link:?}");
        assert_eq!(cap["truncated"], false, "{link:?}");
        assert_no_warnings(&a);
    }
}

#[test]
fn every_link_type_decodes_the_same_ipv6_connection() {
    for link in Link::ALL {
        let s = standard(V6_CLIENT, V6_SERVER);
        let a = analyze(&format!("link-v6-{link:?}"), &s.to_pcap(link));
        assert_standard(a.conn(), "[2001:db8::1]:40000", "[2001:db8::2]:80");
        let cap = &a.json["capture"];
        assert_eq!(cap["link_types"], json!([link.report_name()]), "{link:?}");
        assert_eq!(cap["packets"], 9, "{link:?}");
        // 9 × (40 IPv6 + 20 TCP) + 70 payload, plus the link headers.
        assert_eq!(cap["bytes"], 610 + 9 * link_header_len(link), "{link:?}");
        assert_eq!(cap["decode"]["tcp"], 9, "{link:?}");
        assert_no_warnings(&a);
    }
}

#[test]
fn three_stacked_vlan_tags() {
    let s = standard(V4_CLIENT, V4_SERVER);
    let mut framing = Framing::new(Link::Ethernet);
    framing.vlan_tpids = vec![0x88A8, 0x8100, 0x8100];
    let file = s.to_pcap_with(&framing, Precision::Micro);
    let a = analyze("vlan3", &file.bytes);
    assert_standard(a.conn(), V4_CLIENT, V4_SERVER);
    assert_eq!(a.json["capture"]["bytes"], 430 + 9 * (14 + 12));
    assert_eq!(a.json["capture"]["decode"]["tcp"], 9);
    assert_no_warnings(&a);
}

#[test]
fn ethernet_padding_is_not_payload() {
    let s = standard(V4_CLIENT, V4_SERVER);
    let mut framing = Framing::new(Link::Ethernet);
    framing.pad_to_60 = true;
    let file = s.to_pcap_with(&framing, Precision::Micro);
    // The seven empty segments are 54-byte frames padded to 60.
    let lens: Vec<usize> = s.records(&framing).iter().map(|r| r.data.len()).collect();
    assert_eq!(lens, vec![60, 60, 60, 81, 97, 60, 60, 60, 60]);
    let a = analyze("padding", &file.bytes);
    assert_standard(a.conn(), V4_CLIENT, V4_SERVER);
    assert_eq!(a.json["capture"]["bytes"], 7 * 60 + 81 + 97);
    let t = &a.json["transactions"][0];
    assert_eq!(t["request_head_bytes"], 27);
    assert_eq!(t["response_head_bytes"], 38);
    assert_eq!(t["response_body_bytes"], 5);
    assert_eq!(t["status"], 200);
    assert_no_warnings(&a);
}

// -------------------------------------------------------------------- snaplen

#[test]
fn snaplen_cut_keeps_segment_length_and_leaves_a_gap() {
    // 41 bytes of head, then 1419 of body: 1460 in one segment, of which a
    // snaplen of 96 keeps 96 - 54 = 42 bytes.
    let head = b"POST / HTTP/1.1\r\nContent-Length: 1419\r\n\r\n";
    assert_eq!(head.len(), 41);
    let mut req = head.to_vec();
    req.extend(filler(1419));
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let mut s = Scenario::ipv4(V4_CLIENT, V4_SERVER);
    s.at_ms(0).syn(1000);
    s.at_ms(20).syn_ack(5000);
    s.at_ms(40).ack(Side::Client);
    s.at_ms(41).client_data(&req);
    s.at_ms(60).ack(Side::Server);
    s.at_ms(61).server_data(resp);
    s.at_ms(62).ack(Side::Client);
    s.at_ms(100).fin(Side::Client);
    s.at_ms(120).fin(Side::Server);
    s.at_ms(121).ack(Side::Client);
    let mut framing = Framing::new(Link::Ethernet);
    framing.snaplen = Some(96);
    let a = analyze(
        "snaplen96",
        &s.to_pcap_with(&framing, Precision::Micro).bytes,
    );
    let c = a.conn();
    assert_eq!(c["bytes"], json!({"client": 1460, "server": 38}));
    assert_eq!(c["packets"], json!({"client": 6, "server": 4}));
    assert_eq!(c["retransmissions"], json!({"client": 0, "server": 0}));
    let d = &c["details"]["client"];
    assert_eq!(d["retransmission_kinds"], no_retransmissions());
    assert_eq!(d["gap_bytes"], 1460 - 42);
    assert_eq!(d["acked_unseen_bytes"], 0);
    assert_eq!(d["out_of_order"], 0);
    assert_eq!(c["details"]["server"]["gap_bytes"], 0);
    // 8 frames of 54 bytes, the cut one (96) and the response (92).
    assert_eq!(a.json["capture"]["bytes"], 8 * 54 + 96 + 92);
    // The HTTP layer saw the body's missing bytes as a gap.
    assert_eq!(c["transactions"], 1);
    let t = &a.json["transactions"][0];
    assert_eq!(t["method"], "POST");
    assert_eq!(t["request_head_bytes"], 41);
    assert_eq!(t["request_body_bytes"], 1419);
    assert_eq!(t["status"], 200);
    assert_eq!(t["incomplete"], "gap_in_body");
    assert_eq!(a.warning_count("acked_unseen_segment"), 0);
    assert_eq!(a.warning_count("capture_truncated"), 0);
}

// ----------------------------------------------------------------- port reuse

#[test]
fn port_reuse_with_a_new_isn_starts_a_second_connection() {
    let mut s = standard(V4_CLIENT, V4_SERVER);
    // The first connection closed at 120 ms (the second FIN); 30 s later the
    // client opens the same four-tuple with a new ISN.
    s.at_ms(30_120).syn(900_000);
    s.at_ms(30_140).syn_ack(777_000);
    s.at_ms(30_160).ack(Side::Client);
    s.at_ms(30_200).fin(Side::Client);
    s.at_ms(30_220).fin(Side::Server);
    s.at_ms(30_221).ack(Side::Client);
    let a = analyze("port-reuse", &s.to_pcap(Link::Ethernet));
    let conns = a.connections();
    assert_eq!(conns.len(), 2);
    assert_standard(&conns[0], V4_CLIENT, V4_SERVER);
    let c = &conns[1];
    assert_eq!(c["id"], 1);
    assert_eq!(c["client"], V4_CLIENT);
    assert_eq!(c["server"], V4_SERVER);
    assert_eq!(c["first_frame"], 10);
    assert_eq!(c["start_us"], us_at_ms(30_120));
    assert_eq!(c["end_us"], us_at_ms(30_221));
    assert_eq!(c["handshake"]["syn_us"], us_at_ms(30_120));
    assert_eq!(c["handshake"]["rtt_us"], 40_000);
    assert_eq!(c["handshake"]["syn_retransmits"], 0);
    assert_eq!(c["port_reused"], true);
    assert_eq!(c["port_reused_after_us"], 30_000_000);
    assert_eq!(c["packets"], json!({"client": 4, "server": 2}));
    assert_eq!(c["retransmissions"], json!({"client": 0, "server": 0}));
    assert_eq!(a.json["summary"]["connections"], 2);
    assert_eq!(a.warning_count("active_connection_reuse"), 0);
}

#[test]
fn retransmitted_syn_with_the_same_isn_is_one_connection() {
    let mut s = Scenario::ipv4(V4_CLIENT, V4_SERVER);
    s.at_ms(0).syn(1000);
    s.at_ms(1000).syn(1000);
    s.at_ms(1020).syn_ack(5000);
    s.at_ms(1040).ack(Side::Client);
    s.at_ms(1041).client_data(REQ);
    s.at_ms(1060).server_data(RESP);
    s.at_ms(1100).fin(Side::Client);
    s.at_ms(1120).fin(Side::Server);
    s.at_ms(1121).ack(Side::Client);
    let a = analyze("syn-retransmit", &s.to_pcap(Link::Ethernet));
    let c = a.conn();
    assert_eq!(c["start_us"], us_at_ms(0));
    let h = &c["handshake"];
    assert_eq!(h["syn_us"], us_at_ms(0));
    assert_eq!(h["syn_frame"], 1);
    assert_eq!(h["synack_us"], us_at_ms(1020));
    assert_eq!(h["ack_us"], us_at_ms(1040));
    assert_eq!(h["syn_retransmits"], 1);
    // Measured from the SYN that was answered, not the first one.
    assert_eq!(h["rtt_us"], 40_000);
    assert_eq!(c["vantage"], "middle");
    assert_eq!(c["retransmissions"], json!({"client": 1, "server": 0}));
    assert_eq!(c["details"]["client"]["retransmission_kinds"]["syn"], 1);
    // SYN twice, ACK, request, FIN, ACK; SYN/ACK, response, FIN.
    assert_eq!(c["packets"], json!({"client": 6, "server": 3}));
    assert_eq!(c["port_reused"], false);
}

// ------------------------------------------------------------- sequence wrap

#[test]
fn sequence_numbers_wrapping_inside_a_transfer() {
    let body = filler(10_000);
    let mut resp = b"HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n".to_vec();
    assert_eq!(resp.len(), 42);
    resp.extend(&body);
    let mut s = Scenario::ipv4(V4_CLIENT, V4_SERVER);
    // The request crosses 2^32 after 10 bytes, the response after 4000.
    s.at_ms(0).syn(u32::MAX - 10);
    s.at_ms(20).syn_ack(u32::MAX - 4000);
    s.at_ms(40).ack(Side::Client);
    s.at_ms(41).client_data(REQ);
    let mut t = 60;
    for (i, chunk) in resp.chunks(1448).enumerate() {
        s.at_ms(t).server_data(chunk);
        if i % 2 == 1 {
            s.at_ms(t + 1).ack(Side::Client);
        }
        t += 2;
    }
    s.at_ms(t).ack(Side::Client);
    s.at_ms(200).fin(Side::Client);
    s.at_ms(220).fin(Side::Server);
    s.at_ms(221).ack(Side::Client);
    assert_eq!(
        s.next_seq(Side::Server),
        (u32::MAX - 4000).wrapping_add(1 + 10_042 + 1)
    );
    let a = analyze("seq-wrap", &s.to_pcap(Link::Ethernet));
    let c = a.conn();
    assert_eq!(c["bytes"], json!({"client": 27, "server": 10_042}));
    // 7 data segments + FIN; SYN/ACK.
    assert_eq!(c["packets"]["server"], 9);
    assert_eq!(c["retransmissions"], json!({"client": 0, "server": 0}));
    for side in ["client", "server"] {
        let d = &c["details"][side];
        assert_eq!(d["retransmission_kinds"], no_retransmissions(), "{side}");
        assert_eq!(d["gap_bytes"], 0, "{side}");
        assert_eq!(d["acked_unseen_bytes"], 0, "{side}");
        assert_eq!(d["out_of_order"], 0, "{side}");
        assert_eq!(d["keepalives"], 0, "{side}");
    }
    assert_eq!(c["close"]["how"], "fin");
    let t = &a.json["transactions"][0];
    assert_eq!(t["response_body_bytes"], 10_000);
    assert_eq!(t["incomplete"], Value::Null);
    assert_no_warnings(&a);
}

// ------------------------------------------------------------ retransmissions

#[test]
fn retransmission_after_timeout() {
    let mut s = Scenario::ipv4(V4_CLIENT, V4_SERVER);
    s.at_ms(0).syn(1000);
    s.at_ms(20).syn_ack(5000);
    s.at_ms(40).ack(Side::Client);
    s.at_ms(41).client_data(REQ);
    s.at_ms(60).server_data(RESP);
    let resp = s.last_index();
    // No ACK arrives; the server's RTO fires 300 ms later.
    s.at_ms(360).retransmit(resp);
    s.at_ms(380).ack(Side::Client);
    s.at_ms(400).fin(Side::Client);
    s.at_ms(420).fin(Side::Server);
    s.at_ms(421).ack(Side::Client);
    let a = analyze("rto", &s.to_pcap(Link::Ethernet));
    let c = a.conn();
    assert_eq!(c["retransmissions"], json!({"client": 0, "server": 1}));
    assert_eq!(
        c["details"]["server"]["retransmission_kinds"],
        json!({"timeout": 1, "fast": 0, "spurious": 0, "syn": 0, "window_probe": 0, "inferred": 0})
    );
    assert_eq!(c["details"]["server"]["out_of_order"], 0);
    assert_eq!(c["details"]["server"]["duplicate_frames"], 0);
    assert_eq!(c["details"]["server"]["gap_bytes"], 0);
    // Bytes sent count both transmissions.
    assert_eq!(c["bytes"], json!({"client": 27, "server": 86}));
    // SYN, ACK, request, ACK, FIN, ACK; SYN/ACK, response twice, FIN.
    assert_eq!(c["packets"], json!({"client": 6, "server": 4}));
    assert_eq!(c["transactions"], 1);
    assert_eq!(a.json["transactions"][0]["incomplete"], Value::Null);
}

/// Handshake, request, and a 5000-byte response in five 1000-byte segments
/// A..E at 60..64 ms; the client ACKs A at 80 ms and sends three duplicate
/// ACKs for it at 81..83 ms; the server resends B at 85 ms (2 ms after the
/// last duplicate ACK) and the client then ACKs everything.
fn fast_retransmit(b_captured: bool) -> Scenario {
    let mut resp = b"HTTP/1.1 200 OK\r\nContent-Length: 4959\r\n\r\n".to_vec();
    resp.extend(filler(4959));
    assert_eq!(resp.len(), 5000);
    let mut s = Scenario::ipv4(V4_CLIENT, V4_SERVER);
    s.at_ms(0).syn(1000);
    s.at_ms(20).syn_ack(5000);
    s.at_ms(40).ack(Side::Client);
    s.at_ms(41).client_data(REQ);
    let mut b_index = 0;
    for (i, chunk) in resp.chunks(1000).enumerate() {
        let seg = s.at_ms(60 + i as u64).server_data(chunk);
        if i == 1 && !b_captured {
            seg.not_captured();
        }
        if i == 1 {
            b_index = s.last_index();
        }
    }
    let a_end = 5001 + 1000;
    for t in [80, 81, 82, 83] {
        s.at_ms(t).ack(Side::Client).ack(a_end);
    }
    s.at_ms(85).retransmit(b_index);
    s.at_ms(86).ack(Side::Client);
    s.at_ms(100).fin(Side::Client);
    s.at_ms(120).fin(Side::Server);
    s.at_ms(121).ack(Side::Client);
    s
}

fn assert_one_fast_retransmission(a: &Analysis, server_packets: u64, server_bytes: u64) {
    let c = a.conn();
    assert_eq!(c["retransmissions"], json!({"client": 0, "server": 1}));
    let d = &c["details"]["server"];
    assert_eq!(
        d["retransmission_kinds"],
        json!({"timeout": 0, "fast": 1, "spurious": 0, "syn": 0, "window_probe": 0, "inferred": 0})
    );
    assert_eq!(d["out_of_order"], 0);
    assert_eq!(d["gap_bytes"], 0);
    assert_eq!(d["acked_unseen_bytes"], 0);
    assert_eq!(c["packets"]["server"], server_packets);
    assert_eq!(c["bytes"]["server"], server_bytes);
    // SYN, ACK, request, four ACKs of A, the final ACK, FIN, ACK.
    assert_eq!(c["packets"]["client"], 10);
    assert_eq!(a.json["transactions"][0]["response_body_bytes"], 4959);
    assert_eq!(a.json["transactions"][0]["incomplete"], Value::Null);
}

#[test]
fn fast_retransmission_after_three_duplicate_acks() {
    // Captured at the sender: B was captured, then lost on the way.
    let s = fast_retransmit(true);
    let a = analyze("fast-retransmit-sender", &s.to_pcap(Link::Ethernet));
    assert_one_fast_retransmission(&a, 8, 6000);
}

#[test]
fn fast_retransmission_captured_at_the_receiver() {
    // Captured at the receiver: the first B never reached the capture point,
    // so its retransmission fills a hole. Wireshark still calls it a fast
    // retransmission: >= 2 duplicate ACKs for its sequence number, within
    // 20 ms of the last one (packet-tcp.c checks this before out-of-order).
    let s = fast_retransmit(false);
    let a = analyze("fast-retransmit-receiver", &s.to_pcap(Link::Ethernet));
    assert_one_fast_retransmission(&a, 7, 5000);
}

// --------------------------------------------------------------- capture loss

#[test]
fn capture_loss_of_the_last_segment_before_an_ack() {
    // The response in two segments; the capture misses the second, which the
    // client acknowledges.
    let mut s = Scenario::ipv4(V4_CLIENT, V4_SERVER);
    s.at_ms(0).syn(1000);
    s.at_ms(20).syn_ack(5000);
    s.at_ms(40).ack(Side::Client);
    s.at_ms(41).client_data(REQ);
    s.at_ms(60).server_data(&RESP[..20]);
    s.at_ms(61).server_data(&RESP[20..]).not_captured();
    s.at_ms(70).ack(Side::Client);
    s.at_ms(100).fin(Side::Client);
    s.at_ms(120).fin(Side::Server);
    s.at_ms(121).ack(Side::Client);
    let a = analyze("loss-tail", &s.to_pcap(Link::Ethernet));
    let c = a.conn();
    let d = &c["details"]["server"];
    assert_eq!(d["acked_unseen_bytes"], 23);
    assert_eq!(d["gap_bytes"], 23);
    assert_eq!(d["retransmission_kinds"], no_retransmissions());
    assert_eq!(c["retransmissions"], json!({"client": 0, "server": 0}));
    assert_eq!(c["bytes"], json!({"client": 27, "server": 20}));
    assert_eq!(c["packets"], json!({"client": 6, "server": 3}));
    assert_eq!(a.warning_count("acked_unseen_segment"), 1);
}

#[test]

fn capture_loss_inside_a_transfer() {
    // A, B, C from the server; the capture misses B; the client ACKs all.
    let mut resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2959\r\n\r\n".to_vec();
    resp.extend(filler(2959));
    assert_eq!(resp.len(), 3000);
    let mut s = Scenario::ipv4(V4_CLIENT, V4_SERVER);
    s.at_ms(0).syn(1000);
    s.at_ms(20).syn_ack(5000);
    s.at_ms(40).ack(Side::Client);
    s.at_ms(41).client_data(REQ);
    s.at_ms(60).server_data(&resp[..1000]);
    s.at_ms(61).server_data(&resp[1000..2000]).not_captured();
    s.at_ms(62).server_data(&resp[2000..]);
    s.at_ms(70).ack(Side::Client);
    s.at_ms(100).fin(Side::Client);
    s.at_ms(120).fin(Side::Server);
    s.at_ms(121).ack(Side::Client);
    let a = analyze("loss-middle", &s.to_pcap(Link::Ethernet));
    let c = a.conn();
    let d = &c["details"]["server"];
    assert_eq!(d["gap_bytes"], 1000);
    assert_eq!(d["retransmission_kinds"], no_retransmissions());
    assert_eq!(d["out_of_order"], 0);
    assert_eq!(c["retransmissions"], json!({"client": 0, "server": 0}));
    assert_eq!(c["bytes"]["server"], 2000);
    assert_eq!(a.warning_count("acked_unseen_segment"), 1);
    // "Bytes the receiver acknowledged that the capture never saw."
    assert_eq!(d["acked_unseen_bytes"], 1000);
}

// ------------------------------------------------------------------ mid-stream

#[test]
fn mid_stream_start_guesses_roles_from_the_port() {
    let mut s = Scenario::ipv4(V4_CLIENT, V4_SERVER);
    s.mid_stream(70_000, 90_000);
    // The first captured packet goes from the server to the client.
    s.at_ms(0).server_data(RESP);
    s.at_ms(1).ack(Side::Client);
    s.at_ms(10).client_data(REQ);
    s.at_ms(30).server_data(RESP);
    s.at_ms(31).ack(Side::Client);
    let a = analyze("mid-stream", &s.to_pcap(Link::Ethernet));
    let c = a.conn();
    assert_eq!(c["handshake"], Value::Null);
    assert_eq!(c["roles"], "guessed");
    assert_eq!(c["client"], V4_CLIENT);
    assert_eq!(c["server"], V4_SERVER);
    assert_eq!(c["vantage"], "unknown");
    assert_eq!(c["start_us"], us_at_ms(0));
    assert_eq!(c["end_us"], us_at_ms(31));
    assert_eq!(c["packets"], json!({"client": 3, "server": 2}));
    assert_eq!(c["bytes"], json!({"client": 27, "server": 86}));
    assert_eq!(c["retransmissions"], json!({"client": 0, "server": 0}));
    assert_eq!(
        c["close"],
        json!({"by": null, "how": "open", "active_closer": null})
    );
    for side in ["client", "server"] {
        assert_eq!(c["details"][side]["gap_bytes"], 0, "{side}");
        assert_eq!(c["details"][side]["acked_unseen_bytes"], 0, "{side}");
    }
}

// ------------------------------------------------------------ damaged captures

#[test]
fn truncated_tail_keeps_every_complete_record() {
    // Cut inside the last record's header, then inside its data.
    for keep in [7, PCAP_RECORD_HEADER_LEN + 10] {
        let s = standard(V4_CLIENT, V4_SERVER);
        let mut file = s.to_pcap_with(&Framing::new(Link::Ethernet), Precision::Micro);
        let offset = file.truncate_last_record(keep);
        assert_eq!(offset, file.record_offsets[8]);
        let a = analyze(&format!("truncated-{keep}"), &file.bytes);
        assert_eq!(a.code, 0);
        let cap = &a.json["capture"];
        assert_eq!(cap["truncated"], true, "keep {keep}");
        assert_eq!(cap["truncated_at"]["offset"], offset, "keep {keep}");
        assert_eq!(cap["truncated_at"]["after_frame"], 8, "keep {keep}");
        assert_eq!(cap["packets"], 8, "keep {keep}");
        assert_eq!(cap["last_us"], us_at_ms(120), "keep {keep}");
        assert_eq!(a.warning_kinds(), vec!["capture_truncated"], "keep {keep}");
        assert_eq!(a.warning_count("capture_truncated"), 1);
        let c = a.conn();
        assert_eq!(
            c["packets"],
            json!({"client": 5, "server": 3}),
            "keep {keep}"
        );
        assert_eq!(
            c["bytes"],
            json!({"client": 27, "server": 43}),
            "keep {keep}"
        );
        assert_eq!(c["end_us"], us_at_ms(120), "keep {keep}");
        assert_eq!(c["close"]["how"], "fin");
    }
}

// ---------------------------------------------------------- pcapng and gzip

#[test]
fn pcapng_two_interfaces_nanosecond_resolution() {
    for resolutions in [(Some(9), Some(9)), (None, Some(9))] {
        let mut s = Scenario::ipv4(V4_CLIENT, V4_SERVER);
        // Client segments on interface 0 (Ethernet), server segments on
        // interface 1 (Linux cooked); times with sub-microsecond parts.
        s.at_ns(123_456_999).syn(1000);
        s.at_ns(143_457_001).syn_ack(5000).iface(1);
        s.at_ns(163_458_001).ack(Side::Client);
        s.at_ns(164_000_500).client_data(REQ);
        s.at_ns(190_000_999).server_data(RESP).iface(1);
        s.at_ns(191_000_001).ack(Side::Client);
        s.at_ns(300_000_000).fin(Side::Client);
        s.at_ns(320_000_123).fin(Side::Server).iface(1);
        s.at_ns(321_999_999).ack(Side::Client);
        let bytes = s.to_pcapng(&[
            (Link::Ethernet, resolutions.0),
            (Link::LinuxSll, resolutions.1),
        ]);
        let a = analyze("pcapng-two-ifaces", &bytes);
        let cap = &a.json["capture"];
        assert_eq!(cap["format"], "pcapng");
        assert_eq!(cap["link_types"], json!(["ethernet", "linux_sll"]));
        assert_eq!(cap["packets"], 9);
        assert_eq!(cap["first_us"], BASE_US + 123_456);
        assert_eq!(cap["last_us"], BASE_US + 321_999);
        let c = a.conn();
        assert_eq!(c["start_us"], BASE_US + 123_456);
        assert_eq!(c["end_us"], BASE_US + 321_999);
        let h = &c["handshake"];
        assert_eq!(h["syn_us"], BASE_US + 123_456, "{resolutions:?}");
        assert_eq!(h["synack_us"], BASE_US + 143_457, "{resolutions:?}");
        assert_eq!(h["ack_us"], BASE_US + 163_458, "{resolutions:?}");
        // 163_458_001 - 123_456_999 ns is 40_001 µs; when interface 0 has
        // microsecond resolution both ends lose their nanoseconds first.
        let rtt = if resolutions.0 == Some(9) {
            40_001
        } else {
            40_002
        };
        assert_eq!(h["rtt_us"], rtt, "{resolutions:?}");
        assert_eq!(c["packets"], json!({"client": 6, "server": 3}));
        assert_eq!(c["bytes"], json!({"client": 27, "server": 43}));
        assert_eq!(c["close"]["active_closer"], "client");
        assert_no_warnings(&a);
    }
}

#[test]
fn nanosecond_pcap_timestamps() {
    let mut s = Scenario::ipv4(V4_CLIENT, V4_SERVER);
    s.at_ns(1_999).syn(1000);
    s.at_ns(20_000_999).syn_ack(5000);
    s.at_ns(40_001_001).ack(Side::Client);
    let file = s.to_pcap_with(&Framing::new(Link::Raw), Precision::Nano);
    let a = analyze("pcap-nano", &file.bytes);
    let h = &a.conn()["handshake"];
    assert_eq!(h["syn_us"], BASE_US + 1);
    assert_eq!(h["synack_us"], BASE_US + 20_000);
    assert_eq!(h["ack_us"], BASE_US + 40_001);
    assert_eq!(h["rtt_us"], (40_001_001 - 1_999) / 1_000);
}

#[test]
fn gzip_compressed_pcap_gives_the_same_report() {
    let s = standard(V4_CLIENT, V4_SERVER);
    let plain = s.to_pcap(Link::Ethernet);
    let gz = crate::support::pcap::gzip(&plain);
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    let a = analyze("gzip-plain", &plain);
    let b = analyze("gzip-compressed", &gz);
    assert_eq!(a.json["connections"], b.json["connections"]);
    assert_eq!(a.json["transactions"], b.json["transactions"]);
    assert_eq!(a.json["capture"]["compressed"], false);
    assert_eq!(b.json["capture"]["compressed"], true);
    assert_eq!(b.json["capture"]["packets"], 9);
    assert_eq!(b.json["capture"]["bytes"], a.json["capture"]["bytes"]);
    assert_standard(b.conn(), V4_CLIENT, V4_SERVER);
}

#[test]
fn gzip_cut_short_is_damage_after_the_readable_frames() {
    let plain = standard(V4_CLIENT, V4_SERVER).to_pcap(Link::Ethernet);
    let gz = crate::support::pcap::gzip(&plain);
    // Cut inside the deflate stream (decompressed on its own thread).
    let cut = &gz[..gz.len() - 40];
    let a = analyze("gzip-cut", cut);
    let capture = &a.json["capture"];
    assert_eq!(capture["truncated"], true, "{capture}");
    assert!(capture["packets"].as_u64().unwrap() < 9, "{capture}");
    let warnings = a.json["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w["kind"] == "capture_truncated"),
        "{warnings:?}"
    );
}

// -------------------------------------------------------------------- vantage

fn handshake_only(synack_us: u64, ack_us: u64) -> Analysis {
    let mut s = Scenario::ipv4(V4_CLIENT, V4_SERVER);
    s.at_us(0).syn(1000);
    s.at_us(synack_us).syn_ack(5000);
    s.at_us(ack_us).ack(Side::Client);
    analyze(
        &format!("vantage-{synack_us}-{ack_us}"),
        &s.to_pcap(Link::Ethernet),
    )
}

#[test]
fn vantage_near_client() {
    // SYN→SYN/ACK 50 ms, SYN/ACK→ACK 0.1 ms.
    let a = handshake_only(50_000, 50_100);
    let c = a.conn();
    assert_eq!(c["vantage"], "near_client");
    assert_eq!(c["handshake"]["rtt_us"], 50_100);
}

#[test]
fn vantage_near_server() {
    // SYN→SYN/ACK 0.1 ms, SYN/ACK→ACK 50 ms.
    let a = handshake_only(100, 50_100);
    let c = a.conn();
    assert_eq!(c["vantage"], "near_server");
    assert_eq!(c["handshake"]["rtt_us"], 50_100);
}

// ---------------------------------------------------------------------- close

#[test]
fn client_fin_first() {
    let a = analyze(
        "close-fin",
        &standard(V4_CLIENT, V4_SERVER).to_pcap(Link::Ethernet),
    );
    let c = a.conn();
    assert_eq!(
        c["close"],
        json!({"by": "client", "how": "fin", "active_closer": "client"})
    );
}

#[test]
fn server_fin_first() {
    let mut s = Scenario::ipv4(V4_CLIENT, V4_SERVER);
    s.at_ms(0).syn(1000);
    s.at_ms(20).syn_ack(5000);
    s.at_ms(40).ack(Side::Client);
    s.at_ms(41).client_data(REQ);
    s.at_ms(60).server_data(RESP);
    s.at_ms(61).fin(Side::Server);
    s.at_ms(80).fin(Side::Client);
    s.at_ms(100).ack(Side::Server);
    let a = analyze("close-server-fin", &s.to_pcap(Link::Ethernet));
    assert_eq!(
        a.conn()["close"],
        json!({"by": "server", "how": "fin", "active_closer": "server"})
    );
}

#[test]
fn rst_from_server() {
    let mut s = Scenario::ipv4(V4_CLIENT, V4_SERVER);
    s.at_ms(0).syn(1000);
    s.at_ms(20).syn_ack(5000);
    s.at_ms(40).ack(Side::Client);
    s.at_ms(41).client_data(REQ);
    s.at_ms(60).rst(Side::Server);
    let a = analyze("close-rst", &s.to_pcap(Link::Ethernet));
    let c = a.conn();
    assert_eq!(
        c["close"],
        json!({"by": "server", "how": "rst", "active_closer": null})
    );
    assert_eq!(c["end_us"], us_at_ms(60));
    assert_eq!(c["packets"], json!({"client": 3, "server": 2}));
    assert_eq!(c["retransmissions"], json!({"client": 0, "server": 0}));
}

// ------------------------------------------------------- options and windows

#[test]
fn handshake_options_are_reported_per_side() {
    let mut s = Scenario::ipv4(V4_CLIENT, V4_SERVER);
    s.at_ms(0)
        .syn(1000)
        .mss(1460)
        .sack_permitted()
        .timestamps(100, 0)
        .window_scale(7);
    s.at_ms(20)
        .syn_ack(5000)
        .mss(1400)
        .sack_permitted()
        .timestamps(900, 100)
        .window_scale(9);
    s.at_ms(40).ack(Side::Client).timestamps(101, 900);
    let a = analyze("options", &s.to_pcap(Link::Ethernet));
    let c = a.conn();
    let (cl, sv) = (&c["details"]["client"], &c["details"]["server"]);
    assert_eq!(
        (
            &cl["mss"],
            &cl["window_scale"],
            &cl["sack_permitted"],
            &cl["timestamps"]
        ),
        (&json!(1460), &json!(7), &json!(true), &json!(true))
    );
    assert_eq!(
        (
            &sv["mss"],
            &sv["window_scale"],
            &sv["sack_permitted"],
            &sv["timestamps"]
        ),
        (&json!(1400), &json!(9), &json!(true), &json!(true))
    );
}

#[test]
fn handshake_without_options() {
    let a = analyze(
        "no-options",
        &standard(V4_CLIENT, V4_SERVER).to_pcap(Link::Ethernet),
    );
    for side in ["client", "server"] {
        let d = &a.conn()["details"][side];
        assert_eq!(
            (
                &d["mss"],
                &d["window_scale"],
                &d["sack_permitted"],
                &d["timestamps"]
            ),
            (&Value::Null, &Value::Null, &json!(false), &json!(false)),
            "{side}"
        );
    }
}

#[test]
fn zero_window_advertisement_is_counted_once() {
    let mut s = Scenario::ipv4(V4_CLIENT, V4_SERVER);
    s.at_ms(0).syn(1000);
    s.at_ms(20).syn_ack(5000);
    s.at_ms(40).ack(Side::Client);
    s.at_ms(41).client_data(REQ);
    s.at_ms(60).server_data(RESP);
    s.at_ms(61).ack(Side::Client).window(0);
    s.at_ms(62).ack(Side::Client).window(0);
    s.at_ms(90).ack(Side::Client);
    let a = analyze("zero-window", &s.to_pcap(Link::Ethernet));
    let c = a.conn();
    assert_eq!(c["details"]["client"]["zero_windows"], 1);
    assert_eq!(c["details"]["server"]["zero_windows"], 0);
}
