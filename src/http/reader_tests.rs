//! Unit tests of [`super::MessageReader`] with a recording sink.

use super::*;
use crate::http::framing;
use crate::http::parse::StartLine;
use crate::stream::EndReason;

/// Records every sink call as a line; frames stand in for timing.
#[derive(Default)]
struct Recorder {
    events: Vec<String>,
    simple_next: bool,
}

impl Sink for Recorder {
    fn head(&mut self, role: Role, event: HeadEvent) -> Framing {
        let s = event.span;
        let framing = match &event.kind {
            HeadKind::SimpleResponse => Framing::UntilClose,
            HeadKind::Parsed(head) => {
                let summary = framing::summarize(head.fields.iter_bytes());
                match (&head.start, role) {
                    (StartLine::Request(_), _) => framing::request_framing(&summary).framing,
                    (StartLine::Status(line), _) => {
                        framing::response_framing(line.code, None, &summary).framing
                    }
                }
            }
        };
        let what = match &event.kind {
            HeadKind::SimpleResponse => "simple".to_owned(),
            HeadKind::Parsed(h) => match &h.start {
                StartLine::Request(r) => format!("{} {}", r.method, r.target),
                StartLine::Status(st) => st.code.to_string(),
            },
        };
        self.events.push(format!(
            "head {what} {}-{} {}b {framing:?}",
            s.first_frame, s.last_frame, event.head_bytes
        ));
        framing
    }
    fn body_gap(&mut self, _: Role) {
        self.events.push("body_gap".into());
    }
    fn end(&mut self, _: Role, e: MessageEnd) {
        self.events.push(format!(
            "end @{} body={} decoded={:?}",
            e.last_frame, e.body_bytes, e.decoded
        ));
    }
    fn cut(&mut self, role: Role, c: Cut) {
        let partial = c.partial.map(|p| {
            let start = match p.start {
                Some(StartLine::Request(r)) => r.target,
                Some(StartLine::Status(s)) => s.code.to_string(),
                None => "?".into(),
            };
            format!(" partial {start} {}b", p.head_bytes)
        });
        self.events.push(format!(
            "cut {} body={}{}",
            c.reason.label(role),
            c.progress.body_bytes,
            partial.unwrap_or_default()
        ));
    }
    fn anomaly(&mut self, a: Anomaly) {
        self.events.push(format!("anomaly {}", a.kind));
    }
    fn response_start_lost(&mut self, _: Timestamp, frame: u64) {
        self.events.push(format!("response_start_lost @{frame}"));
    }
    fn tunnel_carries_http(&mut self) {
        self.events.push("tunnel_carries_http".into());
    }
    fn simple_response_expected(&self) -> bool {
        self.simple_next
    }
}

fn data(offset: u64, bytes: &[u8], frame: u64) -> StreamItem<'_> {
    let ts = Timestamp(frame as i64);
    StreamItem::Data(Chunk {
        offset,
        bytes,
        ts,
        frame,
        first_seen: ts,
    })
}

fn gap(len: u64, frame: u64) -> StreamItem<'static> {
    StreamItem::Gap {
        offset: 0,
        len,
        ts: Timestamp(frame as i64),
        frame,
    }
}

fn end(reason: EndReason) -> StreamItem<'static> {
    StreamItem::End {
        reason,
        ts: Timestamp(99),
        frame: 99,
    }
}

fn reader(role: Role) -> MessageReader {
    let side = match role {
        Role::Request => Side::Client,
        Role::Response => Side::Server,
    };
    MessageReader::new(side, role, 1024)
}

/// Feeds `pieces` (each its own frame, 1-based) and then `tail` items.
fn feed(role: Role, pieces: &[&[u8]], tail: &[StreamItem<'_>]) -> Vec<String> {
    let mut r = reader(role);
    let mut sink = Recorder::default();
    let mut offset = 0;
    for (i, p) in pieces.iter().enumerate() {
        r.push(&data(offset, p, i as u64 + 1), &mut sink);
        offset += p.len() as u64;
    }
    for item in tail {
        r.push(item, &mut sink);
    }
    sink.events
}

const TWO_RESPONSES: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n";

#[test]
fn responses_in_one_chunk() {
    assert_eq!(
        feed(Role::Response, &[TWO_RESPONSES], &[]),
        vec![
            "head 200 1-1 38b Length(3)",
            "end @1 body=3 decoded=None",
            "head 200 1-1 47b Chunked",
            "end @1 body=12 decoded=Some(2)",
        ]
    );
}

/// Every 2-split gives the same events, apart from frame numbers.
#[test]
fn every_split_gives_the_same_messages() {
    let strip = |events: Vec<String>| -> Vec<String> {
        events
            .into_iter()
            .map(|e| e.replace('2', "1").replace("@1", "@").replace("1-1", ""))
            .collect()
    };
    let whole = strip(feed(Role::Response, &[TWO_RESPONSES], &[]));
    for cut in 0..=TWO_RESPONSES.len() {
        let (a, b) = TWO_RESPONSES.split_at(cut);
        assert_eq!(
            strip(feed(Role::Response, &[a, b], &[])),
            whole,
            "cut {cut}"
        );
    }
}

#[test]
fn head_timing_spans_chunks() {
    let events = feed(
        Role::Request,
        &[b"GET / HT", b"TP/1.1\r\nHost: a\r\n", b"\r\n"],
        &[],
    );
    assert_eq!(
        events,
        vec!["head GET / 1-3 27b NoBody", "end @3 body=0 decoded=None"]
    );
}

#[test]
fn empty_lines_before_a_message_are_skipped() {
    let events = feed(Role::Request, &[b"\r\n\r\nGET /x HTTP/1.0\r\n\r\n"], &[]);
    assert_eq!(events[0], "head GET /x 1-1 19b NoBody");
}

#[test]
fn simple_request_is_one_line() {
    let events = feed(Role::Request, &[b"GET /old\r\n"], &[]);
    assert_eq!(
        events,
        vec!["head GET /old 1-1 10b NoBody", "end @1 body=0 decoded=None"]
    );
}

#[test]
fn simple_response_runs_until_close() {
    let mut r = reader(Role::Response);
    let mut sink = Recorder {
        simple_next: true,
        ..Recorder::default()
    };
    r.push(&data(0, b"<html>", 1), &mut sink);
    r.push(&data(6, b"</html>", 2), &mut sink);
    r.push(&end(EndReason::Fin), &mut sink);
    assert_eq!(
        sink.events,
        vec![
            "head simple 1-1 0b UntilClose",
            "end @99 body=13 decoded=None"
        ]
    );
}

#[test]
fn head_too_large_is_bounded_and_stops() {
    let mut r = reader(Role::Request);
    let mut sink = Recorder::default();
    let mut line = b"GET /".to_vec();
    line.extend(std::iter::repeat_n(b'a', 300));
    r.push(&data(0, &line, 1), &mut sink);
    for i in 0..20u64 {
        r.push(&data(0, &[b'b'; 300], i + 2), &mut sink);
        assert!(r.buffered() <= 1024, "holding {}", r.buffered());
    }
    // The request line itself was cut at the cap: the method and the part
    // of the target kept are reported.
    let target = format!("/{}{}", "a".repeat(300), "b".repeat(1024 - 305));
    assert_eq!(
        sink.events,
        vec![
            "anomaly http_head_too_large".to_owned(),
            format!("cut head_too_large body=0 partial {target} 1024b")
        ]
    );
    assert!(r.is_stopped());
}

#[test]
fn unparsable_head_resyncs_after_it() {
    let events = feed(
        Role::Response,
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 2x0 Bad\r\n\r\nHTTP/1.1 204 OK\r\n\r\n"],
        &[],
    );
    assert_eq!(
        events,
        vec![
            "head 200 1-1 38b NoBody",
            "end @1 body=0 decoded=None",
            "anomaly http_bad_status_line",
            "head 204 1-1 19b NoBody",
            "end @1 body=0 decoded=None",
        ]
    );
}

#[test]
fn probe_rejects_garbage_then_finds_a_line_start() {
    let events = feed(
        Role::Request,
        &[b"xx GET /no HTTP/1.1\r\nGET /yes HTTP/1.1\r\n\r\n"],
        &[],
    );
    assert_eq!(events[0], "head GET /yes 1-1 21b NoBody");
}

#[test]
fn gap_past_the_body_end_resyncs() {
    let mut r = reader(Role::Response);
    let mut sink = Recorder::default();
    r.push(
        &data(0, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", 1),
        &mut sink,
    );
    r.push(&gap(10, 2), &mut sink);
    r.push(
        &data(0, b"garbage\r\nHTTP/1.1 304 NM\r\n\r\n", 3),
        &mut sink,
    );
    assert_eq!(
        sink.events,
        vec![
            "head 200 1-1 38b Length(4)",
            "body_gap",
            "end @2 body=4 decoded=None",
            "response_start_lost @2",
            "head 304 3-3 19b NoBody",
            "end @3 body=0 decoded=None",
        ]
    );
}

#[test]
fn gap_in_head_cuts_with_partial_start_line() {
    let events = feed(Role::Request, &[b"POST /p HTTP/1.1\r\nHost"], &[gap(5, 2)]);
    assert_eq!(
        events,
        vec![
            "anomaly gap_in_http_head",
            "cut gap_in_head body=0 partial /p 22b"
        ]
    );
}

#[test]
fn gap_between_messages_is_quiet() {
    let events = feed(
        Role::Request,
        &[b"GET /a HTTP/1.1\r\n\r\n"],
        &[gap(5, 2), data(0, b"GET /b HTTP/1.1\r\n\r\n", 3)],
    );
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events[2], "head GET /b 3-3 19b NoBody");
}

#[test]
fn until_close_ends_by_fin_but_is_cut_by_rst() {
    let resp: &[u8] = b"HTTP/1.0 200 OK\r\n\r\nbody";
    let fin = feed(Role::Response, &[resp], &[end(EndReason::Fin)]);
    assert_eq!(fin[1], "end @99 body=4 decoded=None", "ends at the FIN");
    let rst = feed(Role::Response, &[resp], &[end(EndReason::Rst)]);
    assert_eq!(rst[1], "cut response_cut_by_rst body=4");
    let eoc = feed(Role::Response, &[resp], &[end(EndReason::EndOfCapture)]);
    assert_eq!(eoc[1], "cut response_cut_by_end_of_capture body=4");
}

#[test]
fn tunnel_counts_bytes() {
    let mut r = reader(Role::Response);
    let mut sink = Recorder::default();
    r.push(
        &data(0, b"HTTP/1.1 101 Switching\r\n\r\n\x81\x00", 1),
        &mut sink,
    );
    r.push(&gap(10, 2), &mut sink);
    r.push(&data(0, b"HTTP/1.1 200 OK\r\n\r\n", 3), &mut sink);
    assert_eq!(r.tunnel_bytes(), 2 + 10 + 19);
    assert_eq!(sink.events.len(), 2);
}

#[test]
fn enter_tunnel_after_current_body() {
    let mut r = reader(Role::Request);
    let mut sink = Recorder::default();
    r.push(
        &data(0, b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab", 1),
        &mut sink,
    );
    r.enter_tunnel();
    r.push(&data(0, b"cdGET / HTTP/1.1\r\n\r\n", 2), &mut sink);
    assert_eq!(
        sink.events.last().map(String::as_str),
        Some("end @2 body=4 decoded=None")
    );
    assert_eq!(r.tunnel_bytes(), 18);
}

#[test]
fn lost_direction_probes_chunk_starts_and_line_starts() {
    let mut r = reader(Role::Response);
    let mut sink = Recorder::default();
    r.push(&data(0, b"binary body", 1), &mut sink);
    r.push(&data(0, b"more HTTP/1.1 200 OK\r\n\r\n", 2), &mut sink);
    assert!(sink.events.is_empty(), "mid-line: {:?}", sink.events);
    r.push(
        &data(0, b"HTTP/1.1 204 OK\r\n\r\nx\nHTTP/1.1 304 OK\r\n\r\n", 3),
        &mut sink,
    );
    assert_eq!(sink.events[0], "head 204 3-3 19b NoBody");
    assert_eq!(sink.events[2], "anomaly http_bad_status_line");
}

#[test]
fn random_streams_never_panic() {
    let alphabet: &[u8] = b"HTTP/1.1 200 GET /\r\n:0123456789abcdefContent-Length: chunked";
    let mut seed = 0x9e37_79b9u32;
    let mut next = |n: usize| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 8) as usize % n
    };
    for round in 0..300 {
        let role = if round % 2 == 0 {
            Role::Request
        } else {
            Role::Response
        };
        let mut r = MessageReader::new(Side::Client, role, 256);
        let mut sink = Recorder::default();
        for frame in 1..30u64 {
            match next(10) {
                0 => r.push(&gap(next(50) as u64, frame), &mut sink),
                _ => {
                    let len = next(40);
                    let bytes: Vec<u8> = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
                    r.push(&data(0, &bytes, frame), &mut sink);
                }
            }
            assert!(r.buffered() <= 256);
        }
        r.push(&end(EndReason::EndOfCapture), &mut sink);
    }
}
