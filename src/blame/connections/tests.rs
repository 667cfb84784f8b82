//! Tests of [`super`]: hand-built records for every finding kind (positive
//! and negative cases), then the lab captures in `samples/` against their
//! truth files.

use super::*;
use crate::anomaly::AnomalyCounts;
use crate::blame::rtt::PathRtt;
use crate::blame::Confidence;
use crate::pipeline::{ConnectionRecord, DirectionRecord};
use crate::tcp::conn::Vantage;
use crate::tcp::conn::{Handshake, Mark, RoleSource};
use crate::transaction::{Message, Protocol, Transaction};

const MS: i64 = 1_000_000;
const T0: i64 = 1_700_000_000 * 1_000_000_000;
const RTT_MS: i64 = 80;

fn t(ms: i64) -> Timestamp {
    Timestamp(T0 + ms * MS)
}

fn server() -> SocketAddr {
    "10.0.0.2:80".parse().unwrap()
}

/// A connection from 10.0.0.1:`port` opened (SYN) at `open_ms` whose last
/// frame is at `end_ms`, handshake RTT 80 ms, still open, no transactions.
/// Frames: SYN = 100 × id + 1.
fn conn(id: u32, port: u16, open_ms: i64, end_ms: i64) -> ConnectionRecord {
    let mark = |ms: i64, n: u64| {
        Some(Mark {
            ts: t(ms),
            frame: 100 * u64::from(id) + n,
        })
    };
    let handshake = Handshake {
        syn: mark(open_ms, 1),
        last_syn: mark(open_ms, 1),
        synack: mark(open_ms + RTT_MS, 2),
        ack: mark(open_ms + RTT_MS, 3),
        syn_retransmits: 0,
        synack_retransmits: 0,
    };
    ConnectionRecord {
        id,
        file: 0,
        client: SocketAddr::new("10.0.0.1".parse().unwrap(), port),
        server: server(),
        roles: RoleSource::Syn,
        first_frame: 100 * u64::from(id) + 1,
        start: t(open_ms),
        end: t(end_ms),
        handshake: Some(handshake),
        handshake_rtt_ns: Some(RTT_MS * MS),
        vantage: Vantage::NearClient,
        dirs: [DirectionRecord::default(), DirectionRecord::default()],
        close_by: None,
        close_how: CloseHow::Open,
        active_closer: None,
        port_reused: None,
        protocol: Some(Protocol::Http),
        transactions: Vec::new(),
        first_tx_id: 0,
        blame: Vec::new(),
        findings: Vec::new(),
        rtt: PathRtt::default(),
        dns: None,
        anomalies: AnomalyCounts::default(),
        timeline: None,
    }
}

fn msg(start_ms: i64, end_ms: i64, frame: u64) -> Message {
    Message {
        first_frame: frame,
        last_frame: frame,
        start: t(start_ms),
        end: t(end_ms),
        head_bytes: 100,
        body_bytes: 0,
        body_decoded_bytes: None,
        headers: Vec::new(),
        chunked: false,
        content_length: Some(0),
    }
}

/// Adds `GET uri` sent at `req_ms`, answered (last byte) at `resp_ms`.
fn tx(mut r: ConnectionRecord, uri: &str, req_ms: i64, resp_ms: Option<i64>) -> ConnectionRecord {
    let index = r.transactions.len() as u32;
    let base = 100 * u64::from(r.id) + 10 + 2 * u64::from(index);
    let pipelined = r
        .transactions
        .last()
        .is_some_and(|p| p.response.as_ref().is_none_or(|m| m.end > t(req_ms)));
    r.transactions.push(Transaction {
        index,
        method: Some("GET".into()),
        uri: Some(uri.into()),
        request: Some(msg(req_ms, req_ms, base)),
        response: resp_ms.map(|e| msg(e, e, base + 1)),
        pipelined,
        incomplete: resp_ms.is_none().then(|| "no_response".into()),
        ..Transaction::default()
    });
    r
}

/// Closes: `by` sends the first FIN (or RST), both FINs seen for a FIN close.
fn close(mut r: ConnectionRecord, by: Side, how: CloseHow) -> ConnectionRecord {
    r.close_by = Some(by);
    r.close_how = how;
    match how {
        CloseHow::Fin => {
            r.active_closer = Some(by);
            r.dirs[0].fin = true;
            r.dirs[1].fin = true;
        }
        CloseHow::Rst => r.dirs[by.index()].rst = true,
        CloseHow::Open => {}
    }
    r
}

/// One GET per connection, client closes after the response (curl-like):
/// SYN at `open`, request at +80, response at +160, final ACK at +241.
fn one_shot(id: u32, port: u16, open: i64) -> ConnectionRecord {
    let r = tx(
        conn(id, port, open, open + 241),
        "/page.html",
        open + 80,
        Some(open + 160),
    );
    close(r, Side::Client, CloseHow::Fin)
}

fn kinds(a: &ConnectionAnalysis, kind: &str) -> Vec<Finding> {
    a.findings
        .iter()
        .filter(|f| f.kind == kind)
        .cloned()
        .collect()
}

fn briefs(records: &[ConnectionRecord]) -> Vec<ConnectionBrief> {
    records.iter().filter_map(ConnectionBrief::of).collect()
}

fn run(records: &[ConnectionRecord]) -> ConnectionAnalysis {
    analyze(&briefs(records), &ConnectionOptions::default())
}

#[test]
fn defaults_are_linux() {
    let o = ConnectionOptions::default();
    assert_eq!(o.time_wait_ns, 60_000_000_000);
    assert_eq!(o.ephemeral_ports, 28_232);
    assert_eq!(
        run(&[]),
        ConnectionAnalysis {
            pairs: vec![],
            findings: vec![]
        }
    );
}

#[test]
fn new_connection_per_request_counts_avoidable_handshakes() {
    let recs = [
        one_shot(0, 50000, 0),
        one_shot(1, 50001, 171),
        one_shot(2, 50002, 342),
    ];
    let a = run(&recs);
    let p = &a.pairs[0];
    assert_eq!(
        (
            p.connections,
            p.reused_connections,
            p.transactions,
            p.handshakes
        ),
        (3, 0, 3, 3)
    );
    // The median comes from a histogram: within 0.05 %.
    let median = p.handshake_rtt_ns_median.unwrap();
    assert!((median - 80 * MS).abs() <= 80 * MS / 2000, "{median}");
    assert_eq!(
        (p.peak_concurrency, p.closes_by_client, p.closes_by_server),
        (1, 3, 0)
    );
    let f = kinds(&a, "new_connection_per_request");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].frames, vec![101, 201]);
    assert_eq!(f[0].saving_ns, Some(2 * median));
    assert_eq!(f[0].confidence, Confidence::High);
    assert_eq!(f[0].vantage, Vantage::NearClient);
    assert_eq!(
        f[0].recommendation.as_deref(),
        Some("reuse connections (keep-alive) to 10.0.0.2:80: 2 handshakes × 80.0 ms = 0.160 s")
    );
    // Other clients of the same server recommend the same change.
    let text = f[0].recommendation.as_deref().unwrap_or_default();
    assert_eq!(
        recommendation_group("new_connection_per_request", text),
        "reuse connections (keep-alive) to 10.0.0.2:80"
    );
    assert!(kinds(&a, "parallel_connections").is_empty());
}

#[test]
fn keepalive_reuse_is_not_new_connection_per_request() {
    let r = tx(conn(0, 50000, 0, 500), "/a", 80, Some(160));
    let r = tx(tx(r, "/b", 161, Some(241)), "/c", 242, Some(322));
    let a = run(&[close(r, Side::Client, CloseHow::Fin)]);
    assert!(kinds(&a, "new_connection_per_request").is_empty());
    let p = &a.pairs[0];
    assert_eq!(
        (
            p.connections,
            p.reused_connections,
            p.transactions,
            p.max_pipeline_depth
        ),
        (1, 1, 3, 1)
    );
    assert!(a.findings.iter().all(|f| f.kind != "pipelining"));
}

#[test]
fn overlapping_single_requests_are_parallel_not_avoidable() {
    // Both open before either finished: keep-alive could not have served them.
    let a = run(&[one_shot(0, 50000, 0), one_shot(1, 50001, 10)]);
    assert!(kinds(&a, "new_connection_per_request").is_empty());
    assert_eq!(a.pairs[0].peak_concurrency, 2);
}

#[test]
fn parallel_six_and_over_the_browser_limit() {
    let six: Vec<_> = (0..6)
        .map(|i| one_shot(i, 50000 + i as u16, i64::from(i)))
        .collect();
    let a = run(&six);
    assert_eq!(a.pairs[0].peak_concurrency, 6);
    assert_eq!(a.pairs[0].peak_concurrency_at, Some(t(5)));
    let f = kinds(&a, "parallel_connections");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].frames, vec![1, 101, 201, 301, 401, 501]);
    assert_eq!(
        (f[0].saving_ns, f[0].recommendation.is_none()),
        (None, true)
    );
    assert!(
        f[0].detail.contains("peak 6 connections"),
        "{}",
        f[0].detail
    );

    let eight: Vec<_> = (0..8)
        .map(|i| one_shot(i, 50000 + i as u16, i64::from(i)))
        .collect();
    let f = kinds(&run(&eight), "parallel_connections");
    assert!(
        f[0].detail.contains("more than the 6 per host"),
        "{}",
        f[0].detail
    );
    assert!(f[0].recommendation.is_some());
}

#[test]
fn far_apart_connections_have_concurrency_one() {
    let a = run(&[one_shot(0, 50000, 0), one_shot(1, 50001, 10_000)]);
    assert_eq!(a.pairs[0].peak_concurrency, 1);
    assert!(kinds(&a, "parallel_connections").is_empty());
}

#[test]
fn pipelining_depth() {
    let r = tx(conn(0, 50000, 0, 400), "/1", 80, Some(240));
    let r = tx(tx(r, "/2", 81, Some(241)), "/3", 82, Some(242));
    let a = run(&[r]);
    let f = kinds(&a, "pipelining");
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].connection, f[0].transaction), (Some(0), Some(2)));
    assert_eq!(f[0].frames, vec![10, 12, 14]);
    assert_eq!((f[0].start, f[0].duration_ns), (t(80), 162 * MS));
    assert!(
        f[0].detail.contains("at most 3 requests outstanding"),
        "{}",
        f[0].detail
    );
    assert_eq!(a.pairs[0].max_pipeline_depth, 3);

    // Request 3 leaves after response 1 ended: at most 2 outstanding.
    let r = tx(conn(0, 50000, 0, 400), "/1", 80, Some(100));
    let r = tx(tx(r, "/2", 90, Some(200)), "/3", 150, Some(250));
    assert_eq!(run(&[r]).pairs[0].max_pipeline_depth, 2);
}

#[test]
fn idle_close_by_server_then_new_connection() {
    // Response at 160 ms; server FIN at 5160, final ACK one RTT later.
    let r = close(
        tx(conn(0, 50000, 0, 5240), "/a", 80, Some(160)),
        Side::Server,
        CloseHow::Fin,
    );
    let next = tx(conn(1, 50001, 7000, 7300), "/b", 7080, Some(7160));
    let a = run(&[r, next]);
    let f = kinds(&a, "idle_close");
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].connection, f[0].transaction), (Some(0), Some(0)));
    assert_eq!((f[0].start, f[0].duration_ns), (t(160), 5000 * MS));
    assert_eq!(f[0].frames, vec![11, 101]);
    assert_eq!(f[0].saving_ns, Some(80 * MS));
    assert!(
        f[0].detail
            .starts_with("the server closed with FIN after 5.000 s idle"),
        "{}",
        f[0].detail
    );
    assert_eq!(
        f[0].recommendation.as_deref(),
        Some("raise the server's keep-alive idle timeout above 6.840 s so connection 1 could have been reused")
    );
    let text = f[0].recommendation.as_deref().unwrap_or_default();
    assert_eq!(
        recommendation_group("idle_close", text),
        "raise the server's keep-alive idle timeout"
    );
    assert_eq!(a.pairs[0].time_wait_holder_server, 1);

    // Closed right after the response: not idle.
    assert!(kinds(&run(&[one_shot(0, 50000, 0)]), "idle_close").is_empty());
}

#[test]
fn stale_keepalive_race_and_its_retry() {
    let r = tx(conn(0, 50000, 0, 10_100), "/a", 80, Some(160));
    let r = tx(r, "/b", 10_000, None);
    let mut r = close(r, Side::Server, CloseHow::Fin);
    r.dirs[1].rst = true;
    let retry = tx(conn(1, 50001, 10_041, 10_300), "/b", 10_121, Some(10_201));
    let a = run(&[r.clone(), retry.clone()]);
    let f = kinds(&a, "stale_keepalive_race");
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].connection, f[0].transaction), (Some(0), Some(1)));
    assert_eq!(f[0].frames, vec![12, 101, 110]);
    assert_eq!(
        (f[0].saving_ns, f[0].confidence),
        (Some(121 * MS), Confidence::High)
    );
    let text = f[0].recommendation.as_deref().unwrap_or_default();
    assert_eq!(
        recommendation_group("stale_keepalive_race", text),
        "close pooled connections to 10.0.0.2:80 before the server's keep-alive timeout (client idle timeout < server's), or retry faster"
    );
    assert!(text.ends_with(": this retry cost 121.0 ms"), "{text}");
    assert_eq!(a.pairs[0].resets, 1);
    assert_eq!(
        a.pairs[0].time_wait_holder_server, 0,
        "a RST ends TIME_WAIT"
    );

    // A different request is not a retry; one too late is not either.
    let other = tx(conn(1, 50001, 10_041, 10_300), "/c", 10_121, Some(10_201));
    assert!(kinds(&run(&[r.clone(), other]), "stale_keepalive_race").is_empty());
    let late = tx(conn(1, 50001, 16_000, 16_300), "/b", 16_080, Some(16_160));
    assert!(kinds(&run(&[r, late]), "stale_keepalive_race").is_empty());
}

#[test]
fn time_wait_accumulation_on_the_client() {
    // 150 connections 10 ms apart, each closed by the client.
    let recs: Vec<_> = (0..150)
        .map(|i| one_shot(i, 40000 + i as u16, 10 * i64::from(i)))
        .collect();
    let a = run(&recs);
    let p = &a.pairs[0];
    assert_eq!(
        (p.time_wait_holder_client, p.time_wait_holder_server),
        (150, 0)
    );
    assert_eq!(p.peak_time_wait, 150);
    assert_eq!(p.peak_time_wait_at, Some(t(1490 + 241)));
    assert_eq!(p.peak_new_conn_rate_per_s, 100.0);
    let f = kinds(&a, "time_wait_accumulation");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].frames.len(), MAX_EVIDENCE_FRAMES);
    assert!(
        f[0].detail.contains("TIME_WAIT held by the client"),
        "{}",
        f[0].detail
    );
    assert!(
        f[0].detail.contains("peak 150 four-tuples"),
        "{}",
        f[0].detail
    );
    assert!(
        f[0].detail
            .contains("up to 100/s vs 28232 ports / 60.000 s ≈ 470/s"),
        "{}",
        f[0].detail
    );
    assert_eq!(
        f[0].recommendation.as_deref(),
        Some("keep connections alive, or let the server close (the active closer holds TIME_WAIT)")
    );

    // Fewer than 100 at a low rate: counted, not reported.
    let a = run(&recs[..20]);
    assert_eq!(a.pairs[0].peak_time_wait, 20);
    assert!(kinds(&a, "time_wait_accumulation").is_empty());
}

#[test]
fn time_wait_by_rate_and_server_holder() {
    // Server closes first: the server holds TIME_WAIT.
    let recs: Vec<_> = (0..3)
        .map(|i| {
            close(
                tx(
                    conn(
                        i,
                        40000 + i as u16,
                        300 * i64::from(i),
                        300 * i64::from(i) + 241,
                    ),
                    "/",
                    80,
                    Some(160),
                ),
                Side::Server,
                CloseHow::Fin,
            )
        })
        .collect();
    let a = run(&recs);
    assert_eq!(
        (
            a.pairs[0].time_wait_holder_client,
            a.pairs[0].time_wait_holder_server
        ),
        (0, 3)
    );
    assert!(kinds(&a, "time_wait_accumulation").is_empty());
    // 3/s against 100 ports / 60 s (1.7/s): over half the sustainable rate.
    let small = ConnectionOptions {
        ephemeral_ports: 100,
        ..ConnectionOptions::default()
    };
    let f: Vec<_> = analyze(&briefs(&recs), &small)
        .findings
        .into_iter()
        .filter(|f| f.kind == "time_wait_accumulation")
        .collect();
    assert_eq!(f.len(), 1);
    assert!(
        f[0].detail.contains("held by the server"),
        "{}",
        f[0].detail
    );
    assert!(
        f[0].detail
            .contains("up to 3/s vs 100 ports / 60.000 s ≈ 1.7/s"),
        "{}",
        f[0].detail
    );
}

#[test]
fn port_reuse_within_time_wait() {
    let first = one_shot(0, 40001, 0);
    let mut again = one_shot(1, 40001, 1000);
    again.port_reused = Some(Some(759 * MS));
    let a = run(&[first.clone(), again.clone()]);
    let p = &a.pairs[0];
    assert_eq!((p.port_reuses, p.reused_in_time_wait), (1, 1));
    assert_eq!(p.peak_time_wait, 1, "the reuse ends the first TIME_WAIT");
    let f = kinds(&a, "port_reuse_in_time_wait");
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].connection, f[0].frames.clone()),
        (Some(1), vec![101, 1])
    );
    assert!(
        f[0].detail.contains("TIME_WAIT holder: the client"),
        "{}",
        f[0].detail
    );

    // After 2MSL, or after a RST close: no TIME_WAIT to collide with.
    let mut late = one_shot(1, 40001, 70_000);
    late.port_reused = Some(Some(69_759 * MS));
    assert!(kinds(&run(&[first, late]), "port_reuse_in_time_wait").is_empty());
    let reset = close(
        tx(conn(0, 40001, 0, 241), "/", 80, Some(160)),
        Side::Client,
        CloseHow::Rst,
    );
    assert!(kinds(&run(&[reset, again]), "port_reuse_in_time_wait").is_empty());
}

#[test]
fn output_is_independent_of_input_order_and_sorted() {
    let mut recs: Vec<_> = (0..8)
        .map(|i| one_shot(i, 50000 + i as u16, i64::from(i)))
        .collect();
    recs.push(one_shot(8, 50100, 5000));
    recs.push(one_shot(9, 50101, 9000));
    let forward = run(&recs);
    recs.reverse();
    assert_eq!(forward, run(&recs));
    let ranks: Vec<_> = forward.findings.iter().map(|f| kind_rank(f.kind)).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
    let ranked = ranked_by_saving(&forward.findings);
    assert_eq!(
        ranked.first().map(|f| f.kind),
        Some("new_connection_per_request")
    );
}

// ---- the lab captures -------------------------------------------------

fn lab(name: &str) -> Option<(ConnectionAnalysis, serde_json::Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let pcap = dir.join(format!("{name}.pcap"));
    let truth = std::fs::read_to_string(dir.join(format!("{name}.truth.json"))).ok()?;
    if !pcap.is_file() {
        eprintln!("notice: {} missing; skipped", pcap.display());
        return None;
    }
    let mut records = Vec::new();
    crate::pipeline::run(
        &[pcap.to_string_lossy().into_owned()],
        &Default::default(),
        &mut |r| records.push(r),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    let truth = serde_json::from_str(&truth).unwrap_or_else(|e| panic!("{name}: {e}"));
    Some((run(&records), truth))
}

/// Checks one truth finding against the analysis; false when the kind is
/// not about connection management.
fn check_truth(name: &str, a: &ConnectionAnalysis, e: &serde_json::Value) -> bool {
    let sum = |f: fn(&PairStats) -> u64| a.pairs.iter().map(f).sum::<u64>();
    let conns = sum(|p| p.connections);
    let by = e["by"].as_str().or(e["holder"].as_str());
    match e["kind"].as_str() {
        Some("close") => match by {
            Some("client") => assert_eq!(sum(|p| p.closes_by_client), conns, "{name}"),
            _ => assert_eq!(sum(|p| p.closes_by_server), conns, "{name}"),
        },
        Some("time_wait") => {
            let n = e["count"].as_u64().unwrap_or(conns);
            match by {
                Some("client") => assert_eq!(sum(|p| p.time_wait_holder_client), n, "{name}"),
                _ => assert_eq!(sum(|p| p.time_wait_holder_server), n, "{name}"),
            }
            if n >= TIME_WAIT_PEAK_ALARM {
                assert_eq!(sum(|p| p.peak_time_wait), n, "{name}");
                let f = kinds(a, "time_wait_accumulation");
                assert!(
                    f[0].detail
                        .contains(&format!("held by the {}", by.unwrap_or("?"))),
                    "{name}"
                );
            }
        }
        Some("parallel_connections") => {
            let peak = e["peak"].as_u64();
            assert_eq!(
                a.pairs.iter().map(|p| p.peak_concurrency).max(),
                peak,
                "{name}"
            );
            assert_eq!(kinds(a, "parallel_connections").len(), 1, "{name}");
        }
        Some("pipelined") => {
            assert_eq!(
                Some(sum(|p| p.max_pipeline_depth)),
                e["depth"].as_u64(),
                "{name}"
            );
            let f = kinds(a, "pipelining");
            assert_eq!(
                f.iter()
                    .map(|f| f.connection.map(u64::from))
                    .collect::<Vec<_>>(),
                vec![e["connection"].as_u64()]
            );
        }
        Some("port_reused") => {
            assert_eq!(Some(sum(|p| p.port_reuses)), e["count"].as_u64(), "{name}")
        }
        Some("connection_reused") => {
            assert_eq!(sum(|p| p.reused_connections), 1, "{name}");
            assert_eq!(
                Some(sum(|p| p.transactions)),
                e["transactions"].as_u64(),
                "{name}"
            );
            assert!(kinds(a, "new_connection_per_request").is_empty(), "{name}");
        }
        _ => return false,
    }
    true
}

#[test]
fn lab_captures_match_their_truth() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".truth.json")
                .map(str::to_string)
        })
        .filter(|n| n.starts_with("lab-"))
        .collect();
    names.sort();
    let mut checked = 0;
    for name in &names {
        let Some((a, truth)) = lab(name) else {
            continue;
        };
        if truth["expect"]["connections"]
            .as_u64()
            .is_some_and(|n| n > 0)
        {
            assert!(!a.pairs.is_empty(), "{name}");
        }
        for e in truth["expect"]["findings"].as_array().into_iter().flatten() {
            checked += usize::from(check_truth(name, &a, e));
        }
        // Nothing here waits on a stale keep-alive race or port reuse in TIME_WAIT
        // except where the truth says so.
        assert!(kinds(&a, "stale_keepalive_race").is_empty(), "{name}");
    }
    eprintln!(
        "{checked} truth findings checked over {} lab captures",
        names.len()
    );
}

#[test]
fn lab_new_connection_per_request() {
    for name in ["lab-new-conn-per-request", "lab-new-conn-same-requests"] {
        let Some((a, _)) = lab(name) else { continue };
        let f = kinds(&a, "new_connection_per_request");
        assert_eq!(f.len(), 1, "{name}");
        let rec = f[0].recommendation.as_deref().unwrap_or("");
        assert!(
            rec.starts_with("reuse connections (keep-alive) to 10.77.0.2:80: 2 handshakes × 80."),
            "{name}: {rec}"
        );
        let saving = f[0].saving_ns.unwrap_or(0);
        assert!((155 * MS..=170 * MS).contains(&saving), "{name}: {saving}");
        assert_eq!(a.pairs[0].peak_concurrency, 1, "{name}");
    }
}

#[test]
fn lab_parallel_and_port_reuse() {
    if let Some((a, _)) = lab("lab-parallel-6") {
        assert_eq!(a.pairs[0].peak_concurrency, 6);
        assert!(kinds(&a, "new_connection_per_request").is_empty());
    }
    if let Some((a, _)) = lab("lab-port-reuse") {
        let p = &a.pairs[0];
        assert_eq!(
            (
                p.port_reuses,
                p.reused_in_time_wait,
                p.time_wait_holder_server
            ),
            (8, 8, 12)
        );
        assert_eq!(
            p.peak_time_wait, 4,
            "four ports, each reuse ends the previous TIME_WAIT"
        );
        assert_eq!(kinds(&a, "port_reuse_in_time_wait").len(), 8);
    }
    if let Some((a, _)) = lab("lab-time-wait-client") {
        assert_eq!(kinds(&a, "time_wait_accumulation").len(), 1);
        assert_eq!(a.pairs[0].reused_in_time_wait, 0);
    }
}

#[test]
fn dataless_open_connections_have_no_brief() {
    // A bare handshake (or a SYN flood's SYN) that never carried a byte nor
    // closed takes no part in the analysis.
    assert_eq!(ConnectionBrief::of(&conn(1, 50000, 0, 100)), None);
    let mut reused = conn(2, 50001, 0, 100);
    reused.port_reused = Some(Some(5 * MS));
    let closed = close(conn(3, 50002, 0, 100), Side::Client, CloseHow::Fin);
    let mut with_bytes = conn(4, 50003, 0, 100);
    with_bytes.dirs[0].bytes = 1;
    for r in [reused, closed, with_bytes] {
        let b = ConnectionBrief::of(&r).expect("kept");
        assert_eq!((b.id, b.http.is_none()), (r.id, true));
    }
    let b = ConnectionBrief::of(&one_shot(5, 50004, 0)).expect("kept");
    let http = b.http.expect("http");
    assert_eq!((http.transactions, http.pipeline_depth), (1, 1));
    assert_eq!(http.activity_end.map(|(t, _)| t), Some(t(160)));
}

#[test]
fn a_connection_open_all_along_does_not_hold_every_later_one() {
    // Connection 0 stays open while MAX_WAITING + 100 later ones finish:
    // the reorder buffer stops waiting for it at its cap.
    let mut analyzer = ConnectionAnalyzer::new(ConnectionOptions::default());
    let mut found = 0usize;
    let n = (MAX_WAITING + 100) as u32;
    for id in 1..=n {
        let r = one_shot(id, (id % 28_000) as u16 + 30_000, i64::from(id) * 1000);
        analyzer.push(id, ConnectionBrief::of(&r), &mut |_, _| found += 1);
        assert!(analyzer.waiting() <= MAX_WAITING + 1, "{id}");
    }
    assert_eq!(analyzer.waiting(), 0);
    // It finishes at last and is analyzed then.
    let late = one_shot(0, 29_999, 0);
    analyzer.push(0, ConnectionBrief::of(&late), &mut |_, _| found += 1);
    analyzer.finish(&mut |_, _| found += 1);
    // Every one-shot after the first free one could have reused a connection.
    assert!(found > 0);
}

#[test]
fn one_wild_open_time_does_not_split_later_pairs() {
    // 20 one-shot connections a second apart; connection 5 comes from
    // another client and claims to open 1,000 s later (a damaged timestamp,
    // or a second file out of time order).
    let mut recs: Vec<ConnectionRecord> = (0..20u32)
        .map(|i| one_shot(i, 40_000 + i as u16, i64::from(i) * 1000))
        .collect();
    recs[5] = one_shot(5, 40_005, 1_000_000);
    recs[5].client = "10.0.0.9:40005".parse().unwrap();
    let a = run(&recs);
    assert_eq!(a.pairs.len(), 2, "{:?}", a.pairs);
    let f = kinds(&a, "new_connection_per_request");
    assert_eq!(f.len(), 1);
    assert!(
        f[0].detail
            .contains("19 of 19 connections carried exactly one transaction; 18 of them"),
        "{}",
        f[0].detail
    );
}

#[test]
fn past_the_pair_cap_the_pair_quiet_soonest_is_finished_early() {
    // MAX_PAIRS + 1 clients, one connection each, 1 ms apart: all within
    // 2MSL, so none is quiet yet. The first client's pair, quiet soonest,
    // is finished when the last one arrives; its next connection starts it
    // afresh, which finishes the second client's pair.
    let client = |i: u32| {
        let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
        SocketAddr::new(ip.into(), 40_000)
    };
    let mut analyzer = ConnectionAnalyzer::new(ConnectionOptions::default()).keep_pair_stats();
    let n = MAX_PAIRS as u32 + 1;
    for id in 0..n {
        let mut r = one_shot(id, 40_000, i64::from(id));
        r.client = client(id);
        analyzer.push(id, ConnectionBrief::of(&r), &mut |_, _| {});
        assert!(analyzer.pairs() <= MAX_PAIRS, "{id}");
    }
    assert_eq!(analyzer.finished_early(), 1);
    let mut again = one_shot(n, 40_001, i64::from(n));
    again.client = SocketAddr::new(client(0).ip(), 40_001);
    analyzer.push(n, ConnectionBrief::of(&again), &mut |_, _| {});
    assert_eq!(analyzer.finished_early(), 2);
    let pairs = analyzer.finish(&mut |_, _| {});
    assert_eq!(pairs.len(), n as usize + 1);
    let first: Vec<u64> = pairs
        .iter()
        .filter(|p| p.client == client(0).ip())
        .map(|p| p.connections)
        .collect();
    assert_eq!(first, [1, 1]);
}
