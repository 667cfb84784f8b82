//! Unit tests of [`crate::transaction::HttpConversation`]: classification,
//! roles, pairing details. Whole conversations live in `tests/http/*.txt`.

use super::*;

/// Feeds (side, bytes) steps, one frame each, then finishes.
struct Feeder {
    conv: HttpConversation,
    frame: u64,
    offsets: [u64; 2],
}

impl Feeder {
    fn new(limits: HttpLimits) -> Self {
        Feeder {
            conv: HttpConversation::new(limits),
            frame: 0,
            offsets: [0, 0],
        }
    }

    fn send(&mut self, side: Side, bytes: &[u8]) -> &mut Self {
        self.frame += 1;
        let ts = Timestamp(self.frame as i64 * 1000);
        let offset = &mut self.offsets[side.index()];
        let chunk = Chunk {
            offset: *offset,
            bytes,
            ts,
            frame: self.frame,
            first_seen: ts,
        };
        *offset += bytes.len() as u64;
        self.conv.push(side, &StreamItem::Data(chunk));
        self
    }

    fn end(&mut self, side: Side, reason: EndReason) -> &mut Self {
        self.frame += 1;
        let ts = Timestamp(self.frame as i64 * 1000);
        self.conv.push(
            side,
            &StreamItem::End {
                reason,
                ts,
                frame: self.frame,
            },
        );
        self
    }
}

fn kinds(r: &ConversationResult) -> Vec<&'static str> {
    r.anomalies.iter().map(|a| a.kind).collect()
}

#[test]
fn classification_waits_for_enough_bytes() {
    let mut f = Feeder::new(HttpLimits::default());
    f.send(Side::Client, b"G");
    assert_eq!(f.conv.protocol(), None);
    f.send(Side::Client, b"ET /x HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(f.conv.protocol(), Some(Protocol::Http));
    f.send(Side::Server, b"HTTP/1.1 204 No Content\r\n\r\n");
    let r = f.conv.finish();
    assert_eq!(r.transactions.len(), 1);
    let tx = &r.transactions[0];
    assert_eq!(tx.uri.as_deref(), Some("/x"));
    assert_eq!(tx.host.as_deref(), Some("h"));
    assert_eq!(tx.request.as_ref().map(|m| m.first_frame), Some(1));
    assert_eq!(tx.incomplete, None);
}

#[test]
fn tls_is_done_at_once() {
    let mut f = Feeder::new(HttpLimits::default());
    f.send(Side::Client, b"\x16\x03\x01\x00");
    assert_eq!(f.conv.protocol(), Some(Protocol::Tls));
    assert!(f.conv.is_done());
    assert!(f.conv.finish().transactions.is_empty());
}

#[test]
fn unknown_needs_both_sides() {
    let mut f = Feeder::new(HttpLimits::default());
    let binary = vec![0u8; MAX_PARKED_BYTES as usize];
    f.send(Side::Client, b"\x00\x01binary");
    f.send(Side::Server, b"\x05\x00");
    assert_eq!(f.conv.protocol(), None, "may be a proxy handshake");
    f.send(Side::Client, &binary);
    assert_eq!(f.conv.protocol(), None, "the server may still speak HTTP");
    assert!(!f.conv.is_done());
    f.end(Side::Server, EndReason::Fin);
    assert_eq!(f.conv.protocol(), Some(Protocol::Unknown));
    assert!(f.conv.is_done());
}

#[test]
fn http_after_a_socks_handshake() {
    let mut f = Feeder::new(HttpLimits::default());
    f.send(Side::Client, b"\x05\x01\x00")
        .send(Side::Server, b"\x05\x00")
        .send(Side::Client, b"\x05\x01\x00\x03\x01a\x00\x50")
        .send(Side::Server, b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50")
        .send(Side::Client, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .send(Side::Server, b"HTTP/1.1 204 No Content\r\n\r\n");
    let r = f.conv.finish();
    assert_eq!(r.protocol, Some(Protocol::Http));
    assert_eq!(r.transactions.len(), 1);
    assert_eq!(r.transactions[0].status, Some(204));
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
}

#[test]
fn undecided_bytes_at_the_end_are_unknown() {
    let mut f = Feeder::new(HttpLimits::default());
    f.send(Side::Client, b"GE");
    assert_eq!(f.conv.finish().protocol, Some(Protocol::Unknown));
    let f = Feeder::new(HttpLimits::default());
    assert_eq!(f.conv.finish().protocol, None);
}

#[test]
fn response_on_client_side_flips_roles() {
    let mut f = Feeder::new(HttpLimits::default());
    f.send(
        Side::Client,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    let r = f.conv.finish();
    assert_eq!(kinds(&r), vec!["http_roles_flipped"]);
    assert_eq!(r.transactions[0].incomplete.as_deref(), Some("no_request"));
}

#[test]
fn host_from_absolute_target_and_connect() {
    let mut f = Feeder::new(HttpLimits::default());
    f.send(
        Side::Client,
        b"GET http://proxy.example:8080/p HTTP/1.1\r\nHost: other\r\n\r\nCONNECT db:5432 HTTP/1.1\r\n\r\n",
    );
    let r = f.conv.finish();
    let hosts: Vec<_> = r.transactions.iter().map(|t| t.host.as_deref()).collect();
    assert_eq!(hosts, vec![Some("proxy.example:8080"), Some("db:5432")]);
}

#[test]
fn pending_requests_are_capped() {
    let limits = HttpLimits {
        max_pending_requests: 2,
        ..HttpLimits::default()
    };
    let mut f = Feeder::new(limits);
    for _ in 0..4 {
        f.send(Side::Client, b"GET / HTTP/1.1\r\n\r\n");
    }
    f.send(
        Side::Server,
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    let r = f.conv.finish();
    assert_eq!(kinds(&r), vec!["too_many_pending_requests"]);
    let summary: Vec<_> = r
        .transactions
        .iter()
        .map(|t| (t.status, t.incomplete.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (None, Some("no_response")),
            (None, Some("no_response")),
            (Some(200), None),
            (None, Some("no_response")),
        ]
    );
}

#[test]
fn pipelined_means_before_the_previous_response_ended() {
    let mut f = Feeder::new(HttpLimits::default());
    f.send(Side::Client, b"GET /1 HTTP/1.1\r\n\r\n")
        .send(
            Side::Server,
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab",
        )
        .send(Side::Client, b"GET /2 HTTP/1.1\r\n\r\n")
        .send(Side::Server, b"cd")
        .send(Side::Client, b"GET /3 HTTP/1.1\r\n\r\n")
        .send(
            Side::Server,
            b"HTTP/1.1 204 OK\r\n\r\nHTTP/1.1 204 OK\r\n\r\n",
        )
        .send(Side::Client, b"GET /4 HTTP/1.1\r\n\r\n");
    let r = f.conv.finish();
    let flags: Vec<bool> = r.transactions.iter().map(|t| t.pipelined).collect();
    // /3 came before /2's response; /4 after /3's.
    assert_eq!(flags, vec![false, true, true, false]);
}

#[test]
fn request_after_close_is_reported() {
    let mut f = Feeder::new(HttpLimits::default());
    f.send(
        Side::Client,
        b"GET /1 HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    .send(Side::Client, b"GET /2 HTTP/1.1\r\n\r\n");
    let r = f.conv.finish();
    assert_eq!(kinds(&r), vec!["request_after_connection_close"]);
}

#[test]
fn rst_on_one_side_cuts_the_other_at_finish() {
    let mut f = Feeder::new(HttpLimits::default());
    f.send(Side::Client, b"GET / HTTP/1.0\r\n\r\n")
        .send(Side::Server, b"HTTP/1.0 200 OK\r\n\r\npartial")
        .end(Side::Client, EndReason::Rst);
    let r = f.conv.finish();
    assert_eq!(
        r.transactions[0].incomplete.as_deref(),
        Some("response_cut_by_rst")
    );
}

#[test]
fn transactions_beyond_the_cap_are_paired_then_counted() {
    let limits = HttpLimits {
        max_transactions: 3,
        ..HttpLimits::default()
    };
    let mut f = Feeder::new(limits);
    // Five pipelined requests, then their five responses: the first three
    // must still get the first three responses (FIFO), and the last two,
    // paired beyond the cap, must not become no_request transactions.
    for i in 0..5 {
        f.send(
            Side::Client,
            format!("GET /{i} HTTP/1.1\r\n\r\n").as_bytes(),
        );
    }
    for code in [200, 201, 202, 203, 207] {
        let resp = format!("HTTP/1.1 {code} X\r\nContent-Length: 2\r\n\r\nok");
        f.send(Side::Server, resp.as_bytes());
    }
    // One more exchange after the pipeline, also beyond the cap.
    f.send(Side::Client, b"GET /5 HTTP/1.1\r\n\r\n")
        .send(Side::Server, b"HTTP/1.1 208 X\r\nContent-Length: 0\r\n\r\n");
    let r = f.conv.finish();
    let summary: Vec<_> = r
        .transactions
        .iter()
        .map(|t| (t.index, t.uri.as_deref(), t.status, t.incomplete.as_deref()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (0, Some("/0"), Some(200), None),
            (1, Some("/1"), Some(201), None),
            (2, Some("/2"), Some(202), None),
        ]
    );
    assert_eq!(
        kinds(&r),
        vec!["too_many_transactions"],
        "{:?}",
        r.anomalies
    );
    assert_eq!(
        r.anomalies[0].detail,
        "3 transactions after the first 3 on this connection were counted, not kept"
    );
}

#[test]
fn unanswered_requests_beyond_the_cap_are_counted_at_the_end() {
    let limits = HttpLimits {
        max_transactions: 2,
        max_pending_requests: 3,
        ..HttpLimits::default()
    };
    let mut f = Feeder::new(limits);
    for i in 0..10 {
        f.send(
            Side::Client,
            format!("GET /{i} HTTP/1.1\r\n\r\n").as_bytes(),
        );
    }
    let r = f.conv.finish();
    let uris: Vec<_> = r.transactions.iter().map(|t| t.uri.as_deref()).collect();
    assert_eq!(uris, vec![Some("/0"), Some("/1")]);
    assert!(r
        .transactions
        .iter()
        .all(|t| t.incomplete.as_deref() == Some("no_response")));
    assert_eq!(
        kinds(&r),
        vec!["too_many_pending_requests", "too_many_transactions"]
    );
    assert!(r.anomalies[1]
        .detail
        .starts_with("8 transactions after the first 2 "));
}

#[test]
fn headers_kept_are_capped_but_all_frame() {
    let limits = HttpLimits {
        max_headers_kept: 1,
        ..HttpLimits::default()
    };
    let mut f = Feeder::new(limits);
    f.send(Side::Client, b"GET / HTTP/1.1\r\n\r\n").send(
        Side::Server,
        b"HTTP/1.1 200 OK\r\nA: 1\r\nContent-Length: 2\r\n\r\nok",
    );
    let r = f.conv.finish();
    let resp = r.transactions[0].response.as_ref().expect("response");
    assert_eq!(resp.headers, vec![("A".to_owned(), "1".to_owned())]);
    assert_eq!((resp.content_length, resp.body_bytes), (Some(2), 2));
    assert_eq!(r.transactions[0].incomplete, None);
}

#[test]
fn timing_uses_first_seen_and_ts() {
    let mut conv = HttpConversation::new(HttpLimits::default());
    let req = b"GET / HTTP/1.1\r\n\r\n";
    conv.push(
        Side::Client,
        &StreamItem::Data(Chunk {
            offset: 0,
            bytes: req,
            ts: Timestamp(50),
            frame: 7,
            first_seen: Timestamp(10),
        }),
    );
    let r = conv.finish();
    let m = r.transactions[0].request.as_ref().expect("request");
    assert_eq!((m.start, m.end), (Timestamp(10), Timestamp(50)));
    assert_eq!((m.first_frame, m.last_frame, m.head_bytes), (7, 7, 18));
}

/// Pieces of HTTP (some cut mid-message, some odd) for the property below.
const PIECES: [(Side, &[u8]); 14] = [
    (Side::Client, b"GET /a HTTP/1.1\r\n\r\n"),
    (Side::Client, b"HEAD /h HTTP/1.1\r\n\r\n"),
    (
        Side::Client,
        b"POST /p HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody",
    ),
    (Side::Client, b"POST /c HTTP/1.1\r\nContent-Len"),
    (Side::Client, b"gth: 2\r\n\r\nok"),
    (
        Side::Client,
        b"GET /close HTTP/1.1\r\nConnection: close\r\n\r\n",
    ),
    (
        Side::Server,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ),
    (Side::Server, b"HTTP/1.1 204 No Content\r\n\r\n"),
    (Side::Server, b"HTTP/1.1 100 Continue\r\n\r\n"),
    (
        Side::Server,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    ),
    (Side::Server, b"3\r\nabc\r\n0\r\n\r\n"),
    (Side::Server, b"HTTP/1.1 404 Not"),
    (Side::Server, b" Found\r\nContent-Length: 0\r\n\r\n"),
    (Side::Server, b"garbage\r\n"),
];

fn run_pieces(steps: &[usize], end: Option<EndReason>, limits: HttpLimits) -> ConversationResult {
    let mut f = Feeder::new(limits);
    for &i in steps {
        let (side, bytes) = PIECES[i % PIECES.len()];
        f.send(side, bytes);
    }
    if let Some(reason) = end {
        f.end(Side::Server, reason).end(Side::Client, reason);
    }
    f.conv.finish()
}

proptest::proptest! {
    /// The transaction cap only cuts the list: whatever the input, the
    /// capped result is the uncapped one's first `cap` transactions, with
    /// the same anomalies plus one `too_many_transactions` giving the rest.
    #[test]
    fn the_transaction_cap_keeps_exactly_the_first_ones(
        steps in proptest::collection::vec(0..PIECES.len(), 0..60),
        cap in 0usize..8,
        pending in 1usize..6,
        end in proptest::option::of(proptest::sample::select(vec![
            EndReason::Fin,
            EndReason::Rst,
            EndReason::EndOfCapture,
        ])),
    ) {
        let open = HttpLimits {
            max_pending_requests: pending,
            max_transactions: usize::MAX,
            ..HttpLimits::default()
        };
        let capped = HttpLimits { max_transactions: cap, ..open };
        let all = run_pieces(&steps, end, open);
        let some = run_pieces(&steps, end, capped);
        let kept = all.transactions.len().min(cap);
        proptest::prop_assert_eq!(&some.transactions[..], &all.transactions[..kept]);
        proptest::prop_assert_eq!(some.protocol, all.protocol);
        let mut expected = all.anomalies.clone();
        let beyond = all.transactions.len() - kept;
        if beyond > 0 {
            expected.push(Anomaly::new(
                "too_many_transactions",
                format!("{beyond} transactions after the first {cap} on this connection were counted, not kept"),
            ));
        }
        proptest::prop_assert_eq!(some.anomalies, expected);
    }
}
