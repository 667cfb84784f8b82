//! Stalls inside one message's transfer, and what caused each.
//!
//! Input: the connection's timeline, the side sending the message, the time
//! window of the message (first byte to last byte), and the path RTT legs.
//! Output: [`Claim`]s (time intervals with a cause) and [`Finding`]s naming the
//! frames. The base cause of the window (transfer or request send) is decided
//! by the caller; only stalls are claimed here.
//!
//! A stall is a gap between consecutive data segments of the message longer
//! than [`stall_threshold`]. Each stall is explained by the first rule that
//! holds (rules and sources in `docs/causes.md`):
//! 1. a retransmission ends it, or the sender's IP ID skipped (a segment of
//!    the sender was lost before the capture point) → `loss_recovery`;
//! 2. the receiver's window was zero or full → `receive_window`;
//! 3. the receiver's ACK that released the next segment was delayed: the next
//!    segment is small and data was unacknowledged (Nagle, RFC 896) → `nagle`;
//!    otherwise → `delayed_ack` for the delay and `slow_start` for the rest;
//! 4. the sender had nothing unacknowledged and did not wait for an ACK:
//!    the application was slow → `server` (or `client` for a request);
//! 5. otherwise the sender waited for ACKs with data in flight: its congestion
//!    window was the limit → `slow_start`.

use crate::stream::Side;
use crate::tcp::conn::Vantage;
use crate::tcp::timeline::{SegEvent, SegKind};
use crate::time::{Ms1, Timestamp};

use super::rtt::PathRtt;
use super::{Cause, Confidence, Finding};

/// Smallest excess ACK delay counted as a delayed ACK: above scheduling
/// jitter, below Linux's 40 ms delayed-ACK minimum (TCP_DELACK_MIN, RFC 1122
/// §4.2.3.2 allows up to 500 ms; Windows uses 200 ms).
pub const DELAYED_ACK_MIN_EXCESS_NS: i64 = 15_000_000;

/// A stall with data in flight longer than this many round trips is not
/// congestion-window pacing (which waits about one RTT per round).
const UNEXPLAINED_STALL_RTTS: i64 = 2;

/// Stall threshold when no RTT is known.
const DEFAULT_STALL_NS: i64 = 5_000_000;

/// Floor of the stall threshold: below this a pause is serialization or
/// scheduling noise (a 1500-byte frame takes 1.2 ms at 10 Mbit/s).
const MIN_STALL_NS: i64 = 2_000_000;

/// A gap between data segments longer than this is a stall: a quarter of the
/// path RTT (a flight's ACK clock cannot pause for less), at least 2 ms.
pub fn stall_threshold(rtt: &PathRtt) -> i64 {
    match rtt.full() {
        Some(r) => (r / 4).max(MIN_STALL_NS),
        None => DEFAULT_STALL_NS,
    }
}

/// Slack when matching "the segment left right after the ACK": a quarter of
/// the leg, at least 2 ms.
fn release_slack(leg: i64) -> i64 {
    (leg / 4).max(MIN_STALL_NS)
}

/// A time interval claimed by a cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    pub cause: Cause,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// What the stall analysis needs about the connection.
pub struct StallContext<'a> {
    pub events: &'a [SegEvent],
    pub rtt: PathRtt,
    pub vantage: Vantage,
    pub conn_id: u32,
    pub tx_index: u32,
    /// Maximum segment size of each side's data (index with `Side::index()`).
    pub mss: [u64; 2],
    /// Each side, for recommendations.
    pub endpoints: [Endpoint; 2],
}

/// A side named for a person: the client by its host (its port is
/// ephemeral), the server by "ip:port". Formatted only when a finding names
/// it, not once per transaction.
#[derive(Clone, Copy, Debug)]
pub enum Endpoint {
    Client(std::net::IpAddr),
    Server(std::net::SocketAddr),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Client(ip) => write!(f, "client {ip}"),
            Endpoint::Server(addr) => write!(f, "server {addr}"),
        }
    }
}

/// Receiver state just before event `i`: its latest ACK of the sender's data
/// and its latest advertised window.
fn receiver_state(events: &[SegEvent], i: usize, sender: Side) -> (Option<u64>, Option<u64>) {
    let mut ack = None;
    let mut window = None;
    for e in events[..i].iter().rev() {
        if e.side != sender {
            if ack.is_none() {
                ack = e.ack;
            }
            if window.is_none() && !e.syn {
                window = Some(e.window);
            }
            if ack.is_some() && window.is_some() {
                break;
            }
        }
    }
    (ack, window)
}

/// Highest data offset the sender had sent up to and including event `i`.
fn sender_max_end(events: &[SegEvent], i: usize, sender: Side) -> u64 {
    events[..=i]
        .iter()
        .filter(|e| e.side == sender)
        .map(|e| e.end)
        .max()
        .unwrap_or(0)
}

/// A segment Nagle would hold: shorter than the MSS by more than the 40
/// bytes that SACK options can take from a full-sized segment (RFC 2018).
fn is_small(len: u64, mss: u64) -> bool {
    len + 40 < mss
}

fn carries_data(e: &SegEvent) -> bool {
    e.end > e.start && !matches!(e.kind, SegKind::KeepAlive | SegKind::Duplicate)
}

/// Analyses the stalls of the message `sender` sent between `from` and `to`.
pub fn analyze(
    ctx: &StallContext<'_>,
    sender: Side,
    from: Timestamp,
    to: Timestamp,
) -> (Vec<Claim>, Vec<Finding>) {
    let mut claims = Vec::new();
    let mut findings = Vec::new();
    let ev = ctx.events;
    let threshold = stall_threshold(&ctx.rtt);
    // The timeline is in capture order, which is time order but for rare
    // backwards timestamps; a binary search keeps this linear per message.
    let lo = ev.partition_point(|e| e.ts < from);
    let hi = ev.partition_point(|e| e.ts <= to).max(lo);
    let data: Vec<usize> = (lo..hi)
        .filter(|&i| ev[i].side == sender && carries_data(&ev[i]))
        .collect();
    let receiver_leg = ctx.rtt.toward_receiver_of(sender).unwrap_or(0);
    let sender_leg = ctx.rtt.toward_receiver_of(sender.other()).unwrap_or(0);
    let mss = ctx.mss[sender.index()].max(1);
    let mut slow_start_gaps = 0u32;
    let mut slow_start_ns = 0i64;
    for pair in data.windows(2) {
        let (p, k) = (pair[0], pair[1]);
        let (prev, next) = (&ev[p], &ev[k]);
        let gap = next.ts.since(prev.ts);
        if gap <= threshold {
            continue;
        }
        let (start, end) = (prev.ts, next.ts);
        let frames = vec![prev.frame, next.frame];
        let between = &ev[p + 1..k];
        let (ack_before, window_before) = receiver_state(ev, p + 1, sender);
        let max_end = sender_max_end(ev, p, sender);
        let in_flight = max_end.saturating_sub(ack_before.unwrap_or(0));

        // 1. Loss: the gap ends with a retransmission, or the sender's IP ID
        //    skipped while it sent nothing we saw (the segment was lost
        //    before the capture point: tail loss seen from the receiver).
        let id_skip = match (prev.ip_id, next.ip_id) {
            (Some(a), Some(b)) => {
                let sender_between = between.iter().filter(|e| e.side == sender).count() as u16;
                let d = b.wrapping_sub(a);
                d > sender_between + 1 && d <= sender_between + 8 && a != 0 && b != 0
            }
            _ => false,
        };
        if next.kind.is_retransmission() || next.kind == SegKind::OutOfOrder || id_skip {
            claims.push(Claim {
                cause: Cause::LossRecovery,
                start,
                end,
            });
            if matches!(
                next.kind,
                SegKind::FastRetransmit | SegKind::TimeoutRetransmit
            ) {
                continue; // reported by `loss_intervals`
            }
            let (how, confidence) = if next.kind.is_retransmission() {
                (
                    match next.kind {
                        SegKind::FastRetransmit => "fast retransmission",
                        SegKind::Spurious => "spurious retransmission",
                        _ => "retransmission after a timeout",
                    },
                    Confidence::High,
                )
            } else if id_skip {
                (
                    "IP ID skipped: a segment was lost before the capture point and resent",
                    Confidence::Medium,
                )
            } else {
                ("a hole filled by a late segment", Confidence::Medium)
            };
            findings.push(finding(
                ctx,
                "loss_recovery",
                start,
                gap,
                frames,
                format!(
                    "{} data stalled {} ms until frame {} repaired it ({how})",
                    sender.as_str(),
                    Ms1(gap),
                    next.frame
                ),
                confidence,
            ));
            continue;
        }

        // 2. Receive window: zero, or too small for one more segment.
        let window_full = window_before.is_some_and(|w| w == 0 || in_flight + mss > w);
        let probed = between
            .iter()
            .any(|e| e.side == sender && e.kind == SegKind::WindowProbe);
        if window_full || probed {
            claims.push(Claim {
                cause: Cause::ReceiveWindow,
                start,
                end,
            });
            findings.push(finding(
                ctx,
                "receive_window_stall",
                start,
                gap,
                frames,
                format!(
                    "{} waited {} ms: the receiver advertised {} bytes with {} in flight (window full when in flight + MSS {} > window)",
                    sender.as_str(),
                    Ms1(gap),
                    window_before.unwrap_or(0),
                    in_flight,
                    mss
                ),
                Confidence::High,
            ));
            continue;
        }

        // 3. Released by an ACK of the receiver's: was that ACK delayed?
        let release = between.iter().rev().find(|e| {
            e.side != sender
                && e.ack
                    .is_some_and(|a| a > ack_before.unwrap_or(0) || ack_before.is_none())
        });
        let released_by =
            release.filter(|a| next.ts.since(a.ts) <= sender_leg + release_slack(sender_leg));
        if let Some(ack) = released_by {
            // The data this ACK answered: the latest sender segment before it.
            let answered = ev[..=p]
                .iter()
                .rev()
                .chain(between.iter().rev())
                .filter(|e| e.side == sender && e.ts <= ack.ts && carries_data(e))
                .map(|e| e.ts)
                .max()
                .unwrap_or(prev.ts);
            let excess = ack.ts.since(answered) - receiver_leg;
            // RFC 896: a small segment waits while anything is unacknowledged;
            // with under two segments in flight no congestion window (RFC 5681
            // §3.1: at least 2 MSS) explains the wait, so Nagle does.
            let nagle_hold = is_small(next.len(), mss) && in_flight > 0 && in_flight < 2 * mss;
            if excess >= DELAYED_ACK_MIN_EXCESS_NS || nagle_hold {
                let frames = vec![prev.frame, ack.frame, next.frame];
                if is_small(next.len(), mss) && in_flight > 0 {
                    claims.push(Claim {
                        cause: Cause::Nagle,
                        start,
                        end,
                    });
                    let why = if excess >= DELAYED_ACK_MIN_EXCESS_NS {
                        format!(
                            "that ACK came {} ms late (delayed ACK ≥ {} ms beyond the RTT): Nagle × delayed ACK",
                            Ms1(excess),
                            DELAYED_ACK_MIN_EXCESS_NS / 1_000_000
                        )
                    } else {
                        "the ACK was prompt, so the hold cost one round trip".to_string()
                    };
                    let who = &ctx.endpoints[sender.index()];
                    let mut f = finding(
                        ctx,
                        "nagle_stall",
                        start,
                        gap,
                        frames,
                        format!(
                            "{who} held a {}-byte segment {} ms until frame {} acknowledged the earlier {in_flight} bytes (Nagle, RFC 896); {why}",
                            next.len(),
                            Ms1(gap),
                            ack.frame,
                        ),
                        Confidence::High,
                    );
                    f.saving_ns = Some(gap);
                    f.recommendation = Some(format!(
                        "set TCP_NODELAY on {who}, or send the message in one write"
                    ));
                    findings.push(f);
                } else {
                    let delayed_end = Timestamp(start.0 + excess.min(gap));
                    claims.push(Claim {
                        cause: Cause::DelayedAck,
                        start,
                        end: delayed_end,
                    });
                    claims.push(Claim {
                        cause: Cause::SlowStart,
                        start: delayed_end,
                        end,
                    });
                    let peer = &ctx.endpoints[sender.other().index()];
                    let mut f = finding(
                        ctx,
                        "delayed_ack_stall",
                        start,
                        excess.min(gap),
                        frames,
                        format!(
                            "{} waited for an ACK that {peer} delayed {} ms beyond the RTT (frame {})",
                            sender.as_str(),
                            Ms1(excess),
                            ack.frame
                        ),
                        Confidence::Medium,
                    );
                    f.saving_ns = Some(excess.min(gap));
                    findings.push(f);
                }
                continue;
            }
        }

        // 4. Nothing unacknowledged and no ACK awaited: the application paused.
        let all_acked = ack_before.is_some_and(|a| a >= max_end)
            || between.iter().any(|e| {
                e.side != sender
                    && e.ack.is_some_and(|a| a >= max_end)
                    && e.ts.since(prev.ts) <= receiver_leg + release_slack(receiver_leg)
            }) && released_by.is_none();
        if all_acked {
            let cause = match sender {
                Side::Server => Cause::Server,
                Side::Client => Cause::Client,
            };
            claims.push(Claim { cause, start, end });
            findings.push(finding(
                ctx,
                if sender == Side::Server { "server_pause" } else { "client_pause" },
                start,
                gap,
                frames,
                format!(
                    "{} sent nothing for {} ms with all its data acknowledged and the window open: the application was not writing",
                    sender.as_str(),
                    Ms1(gap)
                ),
                Confidence::Medium,
            ));
            continue;
        }

        // 5. Waiting for ACKs with data in flight: congestion window. An ACK
        //    clock pauses for at most about one round trip; a longer stall,
        //    or one with no ACK of the receiver's captured, cannot be told
        //    apart from loss the capture missed: say so.
        let acks_seen = between.iter().any(|e| e.side != sender && e.ack.is_some());
        let rtt_full = ctx.rtt.full().unwrap_or(DEFAULT_STALL_NS);
        if !acks_seen || gap > UNEXPLAINED_STALL_RTTS * rtt_full + threshold {
            claims.push(Claim {
                cause: Cause::Unexplained,
                start,
                end,
            });
            findings.push(finding(
                ctx,
                "unexplained_stall",
                start,
                gap,
                frames,
                format!(
                    "{} sent nothing for {} ms with {in_flight} bytes unacknowledged; {}",
                    sender.as_str(),
                    Ms1(gap),
                    if acks_seen {
                        "longer than two round trips and no retransmission was captured (loss before the capture point?)"
                    } else {
                        "the receiver's ACKs are not in the capture, so the cause cannot be told"
                    }
                ),
                Confidence::Low,
            ));
            continue;
        }
        claims.push(Claim {
            cause: Cause::SlowStart,
            start,
            end,
        });
        slow_start_gaps += 1;
        slow_start_ns += gap;
    }
    loss_intervals(ctx, sender, &data, &mut claims, &mut findings);
    if slow_start_gaps > 0 {
        let first = data.first().map_or(from, |&i| ev[i].ts);
        let initial_window = initial_flight(ev, &data, threshold);
        findings.push(finding(
            ctx,
            "slow_start",
            first,
            slow_start_ns,
            data.first().map(|&i| vec![ev[i].frame]).unwrap_or_default(),
            format!(
                "{} paused {slow_start_gaps} times ({} ms) waiting for ACKs with data in flight: congestion window growing (first flight {initial_window} segments)",
                sender.as_str(),
                Ms1(slow_start_ns)
            ),
            Confidence::Medium,
        ));
    }
    (claims, findings)
}

/// Each retransmission repairs a loss: from the original's departure (seen
/// at a sender-side capture) or from the first segment past the hole (seen
/// at a receiver-side capture) until the repair. Data may flow meanwhile
/// (SACK recovery), but the message cannot complete before the repair.
fn loss_intervals(
    ctx: &StallContext<'_>,
    sender: Side,
    data: &[usize],
    claims: &mut Vec<Claim>,
    findings: &mut Vec<Finding>,
) {
    let ev = ctx.events;
    for &i in data {
        let r = &ev[i];
        if !matches!(r.kind, SegKind::FastRetransmit | SegKind::TimeoutRetransmit) {
            continue;
        }
        let earlier = ev[..i]
            .iter()
            .filter(|e| e.side == sender && carries_data(e));
        let original = earlier
            .clone()
            .find(|e| e.start <= r.start && e.end > r.start);
        let (from, anchor, how) = match original {
            Some(o) => (o.ts, o.frame, "the original left"),
            None => match earlier.filter(|e| e.start > r.start).min_by_key(|e| e.ts) {
                Some(h) => (h.ts, h.frame, "the hole opened"),
                None => continue,
            },
        };
        let d = r.ts.since(from);
        if d <= 0 {
            continue;
        }
        claims.push(Claim {
            cause: Cause::LossRecovery,
            start: from,
            end: r.ts,
        });
        findings.push(finding(
            ctx,
            "loss_recovery",
            from,
            d,
            vec![anchor, r.frame],
            format!(
                "{} bytes of {} data were retransmitted in frame {} ({}), {} ms after {how} (frame {anchor})",
                r.len(),
                sender.as_str(),
                r.frame,
                if r.kind == SegKind::FastRetransmit { "fast retransmission" } else { "after a timeout" },
                Ms1(d)
            ),
            Confidence::High,
        ));
    }
}

/// Segments in the first flight (before the first stall).
fn initial_flight(ev: &[SegEvent], data: &[usize], threshold: i64) -> usize {
    let mut n = 1;
    for pair in data.windows(2) {
        if ev[pair[1]].ts.since(ev[pair[0]].ts) > threshold {
            break;
        }
        n += 1;
    }
    n.min(data.len())
}

fn finding(
    ctx: &StallContext<'_>,
    kind: &'static str,
    start: Timestamp,
    duration_ns: i64,
    frames: Vec<u64>,
    detail: String,
    confidence: Confidence,
) -> Finding {
    Finding {
        kind,
        connection: Some(ctx.conn_id),
        transaction: Some(ctx.tx_index),
        start,
        duration_ns,
        frames,
        detail,
        confidence,
        vantage: ctx.vantage,
        saving_ns: None,
        recommendation: None,
    }
}
