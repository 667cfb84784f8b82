#!/usr/bin/env python3
"""wireblame trace lab: scenario runner.

  python3 lab.py                 run every scenario
  python3 lab.py NAME...         run some (names with or without the "lab-" prefix)
  python3 lab.py --list          list scenarios
  python3 lab.py --cleanup       remove leftovers of a crashed run

Each scenario writes samples/<name>.pcap (client vantage) and
samples/<name>.truth.json, plus samples/<name>-server.pcap/.truth.json where
the server vantage is committed.  Root is required.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labnet  # noqa: E402
import pcapan  # noqa: E402
from labnet import Lab, IP_S, PY, HERE, log  # noqa: E402

SAMPLES = os.path.abspath(os.path.join(HERE, ".."))
MSS = 1448            # payload per full segment (timestamps on)
WIRE_PER_SEG = 1514   # Ethernet frame bytes of a full segment


def ms_model_transfer(nbytes, rate_mbit):
    """Serialization time of nbytes of payload at the bottleneck (ms)."""
    if not rate_mbit:
        return 0.0
    segs = -(-nbytes // MSS)
    return (nbytes + segs * (WIRE_PER_SEG - MSS)) * 8 / (rate_mbit * 1e3)


def ms_model_slow_start(nbytes, rtt, rate_mbit, iw=10):
    """Idealised slow start (doubling per RTT from IW) vs line-rate transfer.

    Returns the extra time (ms) slow start costs on top of RTT + serialization.
    """
    segs = -(-nbytes // MSS)
    ser = ms_model_transfer(MSS, rate_mbit) if rate_mbit else 0.0
    t, sent, cwnd = 0.0, 0, iw
    while sent < segs:
        n = min(cwnd, segs - sent)
        if sent + n >= segs:
            t += rtt / 2 * 0 + n * ser + rtt / 2 * 0
            break
        # a round lasts one RTT unless the window already fills the pipe
        if cwnd * ser >= rtt:
            t += (segs - sent) * ser
            sent = segs
            break
        t += rtt
        sent += n
        cwnd *= 2
    ideal = segs * ser
    return max(0.0, t - ideal)


def head_len(size):
    """Length of peer_server.py's response head for a Content-Length response."""
    return len("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)


def approx(v, tol_pct):
    return {"approx": round(v, 1), "tol_pct": tol_pct}


def rng(lo, hi):
    return {"min": round(lo, 1), "max": round(hi, 1)}


# ---------------------------------------------------------------------------
# scenario definitions
# Each scenario: dict with
#   name, description, wire (config for wire.py), sysctl_cli/srv,
#   server(lab) -> server description string,
#   run(lab, ctx) -> client description string,
#   snaplen, server_vantage (commit server pcap too),
#   expect(tx, ctx) -> {"dominant", "causes_ms", ...} per transaction,
#   findings(ctx) -> list, checks(ctx) -> list of (text, ok)
# ---------------------------------------------------------------------------
SCEN = []


def scenario(**kw):
    SCEN.append(kw)
    return kw


def delay(ms_one_way, **extra):
    w = {"delay_ms": {"c2s": ms_one_way, "s2c": ms_one_way}}
    w.update(extra)
    return w


def curl(*urls, extra=()):
    return ["curl", "-s", "-S", "-o", "/dev/null", "-w", "%{http_code} %{time_connect} %{time_starttransfer} %{time_total}\\n"] + list(extra) + list(urls)


def nginx_files(**files):
    return files


def conn_first_tx(tx):
    return tx["index"] == 0 and tx.get("syn_first_ms") is not None


def base_causes(tx, ctx, wait_dom=True):
    """connect_rtt for the first transaction of a connection + network_rtt."""
    R = ctx["R"]
    c = {}
    if conn_first_tx(tx):
        c["connect_rtt"] = approx(R, 10)
    if ctx.get("vantage", "client") == "client":
        c["network_rtt"] = approx(R, 10)
    return c


# 1 ------------------------------------------------------------------------
scenario(
    name="lab-new-conn-per-request",
    description="Three GETs, each by a fresh curl process on a new connection at RTT 80 ms: every "
                "transaction pays a full TCP handshake (one RTT) before its request can be sent.",
    wire=delay(40),
    server=lambda lab: (lab.start_nginx(files={"page.html": 1200}), "nginx (stock, keepalive_timeout 75s)")[1],
    run=lambda lab, ctx: [lab.client(curl("http://%s/page.html" % IP_S)) for _ in range(3)] and
    "3 x curl http://10.77.0.2/page.html (separate processes)",
    expect=lambda tx, ctx: {
        "dominant": "connect_rtt", "dominant_alternatives": ["network_rtt"],
        "note": "handshake (1 RTT) and request->response wait (1 RTT + ~0.2 ms nginx) are equal; "
                "the handshake is what a reused connection avoids",
        "causes_ms": base_causes(tx, ctx)},
    findings=lambda ctx: [{"kind": "close", "by": "client", "how": "fin"},
                          {"kind": "time_wait", "holder": "client"}],
)

# 2 ------------------------------------------------------------------------
scenario(
    name="lab-keepalive-reuse",
    description="Three GETs by one curl on one keep-alive connection at RTT 80 ms: only the first pays "
                "the handshake, the others wait one RTT each.",
    wire=delay(40),
    server=lambda lab: (lab.start_nginx(files={"a.html": 1200, "b.css": 1500, "c.js": 1800}), "nginx (stock)")[1],
    run=lambda lab, ctx: lab.client(curl(*["http://%s/%s" % (IP_S, f) for f in ("a.html", "b.css", "c.js")])) and
    "curl http://10.77.0.2/a.html http://10.77.0.2/b.css http://10.77.0.2/c.js (one process, connection reused)",
    expect=lambda tx, ctx: {
        "dominant": "connect_rtt" if conn_first_tx(tx) else "network_rtt",
        **({"dominant_alternatives": ["network_rtt"]} if conn_first_tx(tx) else {}),
        "causes_ms": base_causes(tx, ctx)},
    findings=lambda ctx: [{"kind": "connection_reused", "connection": 0, "transactions": 3}],
)

# 3 ------------------------------------------------------------------------
scenario(
    name="lab-new-conn-same-requests",
    description="The same three GETs as lab-keepalive-reuse (a.html, b.css, c.js, RTT 80 ms) but each by "
                "its own curl process on a new connection: every transaction pays one handshake RTT "
                "more than on the reused connection; curl closes first at exit (client TIME_WAIT).",
    wire=delay(40),
    server=lambda lab: (lab.start_nginx(files={"a.html": 1200, "b.css": 1500, "c.js": 1800}), "nginx (stock)")[1],
    run=lambda lab, ctx: [lab.client(curl("http://%s/%s" % (IP_S, f))) for f in ("a.html", "b.css", "c.js")] and
    "curl http://10.77.0.2/a.html; curl http://10.77.0.2/b.css; curl http://10.77.0.2/c.js (separate processes)",
    expect=lambda tx, ctx: {
        "dominant": "connect_rtt", "dominant_alternatives": ["network_rtt"],
        "causes_ms": base_causes(tx, ctx)},
    findings=lambda ctx: [{"kind": "close", "by": "client", "how": "fin"},
                          {"kind": "time_wait", "holder": "client"}],
)

# 4 ------------------------------------------------------------------------
scenario(
    name="lab-pipelining-3",
    description="Three requests pipelined on one connection (RTT 40 ms); the first costs 200 ms of "
                "server think time and the two fast ones wait behind it (head-of-line blocking).",
    wire=delay(20),
    server=lambda lab: (lab.peer_server("--nodelay"), "peer_server.py --nodelay (per-request think via query)")[1],
    run=lambda lab, ctx: lab.peer_client("--mode", "pipeline", "--nodelay", "GET /slow?think=200&size=1000",
                                         "GET /a?size=1000", "GET /b?size=1000") and
    "peer_client.py --mode pipeline --nodelay 'GET /slow?think=200&size=1000' 'GET /a?size=1000' 'GET /b?size=1000'",
    expect=lambda tx, ctx: (
        {"dominant": "server", "causes_ms": {**base_causes(tx, ctx), "server": approx(200, 5)}}
        if tx["index"] == 0 else
        {"dominant": "head_of_line",
         "causes_ms": {"head_of_line": rng(190, 215)}}),
    findings=lambda ctx: [{"kind": "pipelined", "connection": 0, "depth": 3}],
)

# 5 ------------------------------------------------------------------------
PAR_RES = ["/res/r%02d.js" % i for i in range(12)]
scenario(
    name="lab-parallel-6",
    description="A page then its 12 resources over 6 parallel keep-alive connections (browser style, "
                "RTT 80 ms): five extra handshakes overlap, peak concurrency 6.",
    wire=delay(40),
    server=lambda lab: (lab.start_nginx(files=dict([("index.html", 3000)] + [(r, 4000) for r in PAR_RES])),
                        "nginx (stock)")[1],
    run=lambda lab, ctx: lab.peer_client("--mode", "parallel", "--parallel", "6", "GET /index.html",
                                         *["GET " + r for r in PAR_RES]) and
    "peer_client.py --mode parallel --parallel 6 'GET /index.html' 'GET /res/r00.js' ... 'GET /res/r11.js'",
    expect=lambda tx, ctx: {
        "dominant": "connect_rtt" if conn_first_tx(tx) else "network_rtt",
        **({"dominant_alternatives": ["network_rtt"]} if conn_first_tx(tx) else {}),
        "causes_ms": base_causes(tx, ctx)},
    findings=lambda ctx: [{"kind": "parallel_connections", "peak": 6}],
)


# 6/7 --------------------------------------------------------------------
def nagle_client_expect(tx, ctx):
    R = ctx["R"]
    if tx.get("req_segments", 1) >= 2 and tx["req_last_ms"] - tx["req_first_ms"] > 25:
        e = {"dominant": "nagle", "causes_ms": {"nagle": rng(30, 60 + R)},
             "note": "request body (2nd write) held by Nagle until the server's delayed ACK of the head"}
        if ctx.get("vantage") == "server":
            e["dominant_alternatives"] = ["delayed_ack", "request_send"]
            e["note"] += "; at the server the head arrives, the server's own ACK leaves ~40 ms later, the body one RTT after that"
        return e
    return {"dominant": "connect_rtt" if ctx.get("vantage") == "server" else "network_rtt",
            "causes_ms": base_causes(tx, ctx),
            "note": "no Nagle stall: the server was still in quick-ack mode (connection start), it acked the head at once"}


NAGLE_REQS = ["POST /api?size=200 300"]
scenario(
    name="lab-nagle-client",
    description="Client without TCP_NODELAY writes each POST's head and body in two send() calls; the "
                "small body waits (Nagle) for the ACK of the head, which the Linux server delays by "
                "~40 ms (RTT 2 ms).",
    wire=delay(1),
    server=lambda lab: (lab.peer_server(), "peer_server.py (Nagle on, response in one write)")[1],
    run=lambda lab, ctx: lab.peer_client("--mode", "keepalive", "--split-write", "--repeat", "6", "--gap-ms", "100",
                                         *NAGLE_REQS) and
    "peer_client.py --mode keepalive --split-write --repeat 6 --gap-ms 100 'POST /api?size=200 300'",
    expect=nagle_client_expect,
    server_vantage=True,
    checks=lambda ctx: [("at least 4 transactions show a Nagle stall 30-60+RTT ms",
                         sum(1 for t in ctx["txs"] if t["dominant"] == "nagle") >= 4)],
)

scenario(
    name="lab-nagle-client-nodelay",
    description="Control for lab-nagle-client: same two-write POSTs with TCP_NODELAY on the client; the "
                "body leaves immediately, each transaction is ~1 RTT (2 ms).",
    wire=delay(1),
    server=lambda lab: (lab.peer_server(), "peer_server.py (Nagle on, response in one write)")[1],
    run=lambda lab, ctx: lab.peer_client("--mode", "keepalive", "--split-write", "--nodelay", "--repeat", "6",
                                         "--gap-ms", "100", *NAGLE_REQS) and
    "peer_client.py --mode keepalive --split-write --nodelay --repeat 6 --gap-ms 100 'POST /api?size=200 300'",
    expect=lambda tx, ctx: {"dominant": "connect_rtt" if conn_first_tx(tx) else "network_rtt",
                            **({"dominant_alternatives": ["network_rtt"]} if conn_first_tx(tx) else {}),
                            "causes_ms": {**base_causes(tx, ctx), "nagle": rng(0, 1)}},
    checks=lambda ctx: [("no request takes more than 5 ms to send",
                         all(t["observed"]["req_last_ms"] - t["observed"]["req_first_ms"] < 5 for t in ctx["txs"]))],
)


# 8 ------------------------------------------------------------------------
def nagle_server_expect(tx, ctx):
    R = ctx["R"]
    if tx.get("transfer_ms", 0) > 25:
        # The held time is one interval: blamed on Nagle (the fix is
        # TCP_NODELAY), so it cannot also be counted as delayed_ack.
        return {"dominant": "nagle", "causes_ms": {"nagle": rng(30, 60 + R)},
                "note": "server held the small body (Nagle) until the client's delayed ACK of the head"}
    return {"dominant": "network_rtt", "causes_ms": {"network_rtt": approx(R, 15),
                                                      **({"connect_rtt": approx(R, 15)} if conn_first_tx(tx) else {})},
            "note": "no stall: the client acked the head at once (quick-ack mode at connection start)"}


scenario(
    name="lab-nagle-server",
    description="Server without TCP_NODELAY writes the response head and a 500-byte body in two "
                "send() calls; the body is held (Nagle) until the client's delayed ACK (~40 ms) of "
                "the head (RTT 2 ms).",
    wire=delay(1),
    server=lambda lab: (lab.peer_server("--split", "--size", "500"), "peer_server.py --split --size 500 (Nagle on)")[1],
    run=lambda lab, ctx: lab.peer_client("--mode", "keepalive", "--repeat", "6", "GET /r") and
    "peer_client.py --mode keepalive --repeat 6 'GET /r'",
    expect=nagle_server_expect,
    checks=lambda ctx: [("at least 4 transactions show a Nagle stall",
                         sum(1 for t in ctx["txs"] if t["dominant"] == "nagle") >= 4)],
)

# 9 ------------------------------------------------------------------------
scenario(
    name="lab-server-think-300",
    description="Server thinks 300 ms before each of three keep-alive responses (RTT 20 ms): the "
                "server is the dominant cause.",
    wire=delay(10),
    server=lambda lab: (lab.peer_server("--think-ms", "300", "--nodelay"), "peer_server.py --think-ms 300 --nodelay")[1],
    run=lambda lab, ctx: lab.peer_client("--mode", "keepalive", "--repeat", "3", "GET /slow?size=2000") and
    "peer_client.py --mode keepalive --repeat 3 'GET /slow?size=2000'",
    expect=lambda tx, ctx: {"dominant": "server",
                            "causes_ms": {**base_causes(tx, ctx), "server": {"approx": 300, "tol_ms": 5}}},
    checks=lambda ctx: [("wait - RTT within 5 ms of 300",
                         all(abs(t["observed"]["wait_ms"] - ctx["R"] - 300) < 5 for t in ctx["txs"]))],
)

# 10-12 --------------------------------------------------------------------
BULK = 2000000
BULK_WIRE = delay(50, rate_mbit={"c2s": 20, "s2c": 20}, queue_packets={"c2s": 1000, "s2c": 1000})


def bulk_expect(tx, ctx):
    R = ctx["R"]
    n = tx["resp_bytes"]
    tr = ms_model_transfer(n, 20)
    ss_model = ms_model_slow_start(n, R, 20)
    observed_ss = tx["transfer_ms"] - tr
    warm = tx["index"] > 0 and ctx["scenario"]["name"] == "lab-bulk-warm"
    causes = {"transfer": approx(tr, 10)}
    if conn_first_tx(tx):
        causes["connect_rtt"] = approx(R, 10)
    causes["network_rtt"] = approx(R, 10)
    if warm:
        causes["slow_start"] = rng(0, 60)
        dom = "transfer"
    else:
        causes["slow_start"] = {"approx": round(observed_ss, 1), "tol_pct": 25,
                                "model_ms": round(ss_model, 1)}
        dom = "transfer"
    return {"dominant": dom, "causes_ms": causes,
            "observed_extra": {"transfer_minus_ideal_ms": round(observed_ss, 1),
                               "ideal_transfer_ms": round(tr, 1), "slow_start_model_ms": round(ss_model, 1)}}


scenario(
    name="lab-bulk-cold",
    description="A 2 MB response on a new connection at RTT 100 ms through a 20 Mbit/s bottleneck: "
                "0.84 s of serialization plus several RTTs of cold slow start.",
    wire=BULK_WIRE, snaplen=200,
    server=lambda lab: (lab.peer_server("--nodelay"), "peer_server.py --nodelay")[1],
    run=lambda lab, ctx: lab.peer_client("--mode", "keepalive", "GET /big?size=%d" % BULK) and
    "peer_client.py --mode keepalive 'GET /big?size=2000000'",
    expect=bulk_expect,
    checks=lambda ctx: [("no retransmissions", ctx["retx"] == {"client": 0, "server": 0}),
                        ("slow start visible: transfer exceeds ideal by >= 1.5 RTT",
                         ctx["txs"][0]["observed"]["transfer_minus_ideal_ms"] > 1.5 * ctx["R"])],
)

scenario(
    name="lab-bulk-cold-bbr",
    description="lab-bulk-cold with the server socket switched to BBR (TCP_CONGESTION per socket): "
                "startup paces the 2 MB response instead of cubic's ACK-clocked doubling.",
    wire=BULK_WIRE, snaplen=200,
    server=lambda lab: (lab.peer_server("--nodelay", "--cc", "bbr"), "peer_server.py --nodelay --cc bbr")[1],
    run=lambda lab, ctx: lab.peer_client("--mode", "keepalive", "GET /big?size=%d" % BULK) and
    "peer_client.py --mode keepalive 'GET /big?size=2000000'",
    expect=bulk_expect,
    checks=lambda ctx: [("no retransmissions", ctx["retx"] == {"client": 0, "server": 0}),
                        ("slow start visible: transfer exceeds ideal by >= 1.5 RTT",
                         ctx["txs"][0]["observed"]["transfer_minus_ideal_ms"] > 1.5 * ctx["R"])],
)

scenario(
    name="lab-bulk-warm",
    description="Two 2 MB responses back to back on one connection (RTT 100 ms, 20 Mbit/s): the first "
                "pays cold slow start, the second runs at the bottleneck rate from the start (warm "
                "congestion window).",
    wire=BULK_WIRE, snaplen=200,
    server=lambda lab: (lab.peer_server("--nodelay"), "peer_server.py --nodelay")[1],
    run=lambda lab, ctx: lab.peer_client("--mode", "keepalive", "--repeat", "2", "GET /big?size=%d" % BULK) and
    "peer_client.py --mode keepalive --repeat 2 'GET /big?size=2000000'",
    expect=bulk_expect,
    checks=lambda ctx: [("no retransmissions", ctx["retx"] == {"client": 0, "server": 0}),
                        ("warm transfer within 60 ms of ideal",
                         ctx["txs"][1]["observed"]["transfer_minus_ideal_ms"] < 60)],
)

IDLE_RUN = ("--mode", "keepalive", "--rcvbuf", "400000", "--repeat", "2", "--gap-ms", "1500",
            "GET /big?size=%d" % BULK)
IDLE_DESC = "peer_client.py --mode keepalive --rcvbuf 400000 --repeat 2 --gap-ms 1500 'GET /big?size=2000000'"
scenario(
    name="lab-bulk-idle-restart",
    description="Two 2 MB responses on one connection separated by 1.5 s idle (RTT 100 ms, 20 Mbit/s, "
                "tcp_slow_start_after_idle=1): the idle period (> several RTOs) shrinks the congestion "
                "window, so the second transfer slow-starts again.",
    wire=BULK_WIRE, snaplen=200, sysctl_srv={"net.ipv4.tcp_slow_start_after_idle": 1},
    server=lambda lab: (lab.peer_server("--nodelay"), "peer_server.py --nodelay")[1],
    run=lambda lab, ctx: lab.peer_client(*IDLE_RUN) and IDLE_DESC,
    expect=bulk_expect,
    checks=lambda ctx: [("no retransmissions", ctx["retx"] == {"client": 0, "server": 0}),
                        ("second transfer slow-starts again (>= 1 RTT over ideal)",
                         ctx["txs"][1]["observed"]["transfer_minus_ideal_ms"] > 1.0 * ctx["R"])],
    findings=lambda ctx: [{"kind": "idle_before_request", "connection": 0, "index": 1, "idle_ms": rng(1450, 1700)}],
)

scenario(
    name="lab-bulk-idle-no-restart",
    description="Control for lab-bulk-idle-restart with tcp_slow_start_after_idle=0 on the server: after "
                "the 1.5 s idle the second 2 MB transfer keeps its congestion window and runs at the "
                "bottleneck rate.",
    wire=BULK_WIRE, snaplen=200, sysctl_srv={"net.ipv4.tcp_slow_start_after_idle": 0},
    server=lambda lab: (lab.peer_server("--nodelay"), "peer_server.py --nodelay")[1],
    run=lambda lab, ctx: lab.peer_client(*IDLE_RUN) and IDLE_DESC,
    expect=lambda tx, ctx: {**bulk_expect(tx, ctx), **({"causes_ms": {**bulk_expect(tx, ctx)["causes_ms"],
                                                                       "slow_start": rng(0, 60)}}
                                                        if tx["index"] == 1 else {})},
    checks=lambda ctx: [("no retransmissions", ctx["retx"] == {"client": 0, "server": 0}),
                        ("second transfer within 60 ms of ideal",
                         ctx["txs"][1]["observed"]["transfer_minus_ideal_ms"] < 60)],
    findings=lambda ctx: [{"kind": "idle_before_request", "connection": 0, "index": 1, "idle_ms": rng(1450, 1700)}],
)


# 13-15 loss ---------------------------------------------------------------
def loss_expect_fast(tx, ctx):
    R = ctx["R"]
    if tx["index"] == 0:
        return {"dominant": "slow_start", "dominant_alternatives": ["transfer", "connect_rtt", "network_rtt"],
                "note": "warm-up response, no loss", "causes_ms": base_causes(tx, ctx)}
    holes = tx.get("resp_holes_ms") or []
    c = {"loss_recovery": rng(0.8 * R, 1.5 * R)}
    if ctx.get("vantage") == "client":
        c["network_rtt"] = approx(R, 10)
    return {"dominant": "loss_recovery", "dominant_alternatives": ["network_rtt", "transfer"],
            "note": "one segment dropped; SACK-based fast retransmit fills the hole about one RTT after "
                    "the next segment arrived (hole duration = loss_recovery); the whole response "
                    "finishes only ~%d ms later than at line rate" % round(tx["transfer_ms"] - ms_model_transfer(tx["resp_bytes"], 20)),
            "causes_ms": c}


scenario(
    name="lab-loss-fast-retransmit",
    description="Warm-up 100 kB response, then a 60 kB response whose 10th data segment is dropped "
                "by the wire (RTT 40 ms, 20 Mbit/s): SACK/fast retransmit repairs it after about one "
                "RTT, no timeout.",
    wire=delay(20, rate_mbit={"c2s": 20, "s2c": 20}, queue_packets={"c2s": 1000, "s2c": 1000}),
    drops_fn=lambda: [{"dir": "s2c", "what": "byte", "conn": 0,
                       "offset": head_len(100000) + 100000 + 9 * MSS + 100, "occurrences": [1]}],
    server=lambda lab: (lab.peer_server("--nodelay"), "peer_server.py --nodelay")[1],
    run=lambda lab, ctx: lab.peer_client("--mode", "keepalive", "GET /warm?size=100000",
                                         "GET /lossy?size=60000") and
    "peer_client.py --mode keepalive 'GET /warm?size=100000' 'GET /lossy?size=60000'",
    expect=loss_expect_fast, server_vantage=True,
    retx_expected={"client": 0, "server": 1},
)


def tail_expect(kind):
    def f(tx, ctx):
        R = ctx["R"]
        # Linux PTO = 2*srtt, + tcp_rto_min (200 ms) when only one packet is outstanding
        pto = 2 * R + 200
        if kind == "tlp":
            lo, hi = pto - 10, pto + R + 20
        else:
            lo, hi = pto + 200, pto + 200 + 3 * R + 150
        return {"dominant": "loss_recovery",
                "causes_ms": {**base_causes(tx, ctx), "loss_recovery": rng(lo, hi)},
                "model": "PTO = 2*srtt + 200 ms (one packet outstanding) = %.0f ms" % pto
                if kind == "tlp" else "PTO (%.0f ms, probe also dropped) then RTO (>= srtt + 200 ms, backed off)" % pto,
                "note": "last segment of the response dropped; repaired by a tail-loss probe"
                if kind == "tlp" else "last segment and its tail-loss probe dropped; repaired by RTO"}
    return f


TAIL_SIZE = 10000
scenario(
    name="lab-loss-tail-tlp",
    description="A 10 kB response whose last data segment is dropped (RTT 40 ms): no later segment "
                "can trigger duplicate ACKs; the server's tail-loss probe (PTO = 2*srtt + 200 ms with one packet outstanding) repairs it.",
    wire=delay(20),
    drops_fn=lambda: [{"dir": "s2c", "what": "byte", "conn": 0, "offset": head_len(TAIL_SIZE) + TAIL_SIZE - 1, "occurrences": [1]}],
    server=lambda lab: (lab.peer_server("--nodelay"), "peer_server.py --nodelay")[1],
    run=lambda lab, ctx: lab.peer_client("--mode", "keepalive", "GET /t?size=%d" % TAIL_SIZE) and
    "peer_client.py --mode keepalive 'GET /t?size=10000'",
    expect=tail_expect("tlp"), retx_expected={"client": 0, "server": 1},
)

scenario(
    name="lab-loss-tail-rto",
    description="Like lab-loss-tail-tlp but the tail-loss probe is dropped too: the server waits for "
                "its retransmission timeout (>= 200 ms) before resending the last segment.",
    wire=delay(20),
    drops_fn=lambda: [{"dir": "s2c", "what": "byte", "conn": 0, "offset": head_len(TAIL_SIZE) + TAIL_SIZE - 1, "occurrences": [1, 2]}],
    server=lambda lab: (lab.peer_server("--nodelay"), "peer_server.py --nodelay")[1],
    run=lambda lab, ctx: lab.peer_client("--mode", "keepalive", "GET /t?size=%d" % TAIL_SIZE) and
    "peer_client.py --mode keepalive 'GET /t?size=10000'",
    expect=tail_expect("rto"), retx_expected={"client": 0, "server": 2},
)

# 16 SYN drop ---------------------------------------------------------------
scenario(
    name="lab-syn-drop",
    description="The client's first SYN is dropped (RTT 20 ms): curl connects only after the 1 s "
                "initial SYN retransmission timeout.",
    wire=delay(10),
    drops_fn=lambda: [{"dir": "c2s", "what": "syn", "nth": 1}],
    server=lambda lab: (lab.start_nginx(files={"index.html": 2000}), "nginx (stock)")[1],
    run=lambda lab, ctx: lab.client(curl("http://%s/index.html" % IP_S)) and "curl http://10.77.0.2/index.html",
    expect=lambda tx, ctx: {"dominant": "syn_retransmit",
                            "causes_ms": {"syn_retransmit": approx(1000, 10), "connect_rtt": approx(ctx["R"], 10),
                                          "network_rtt": approx(ctx["R"], 10)}},
    retx_expected={"client": 1, "server": 0},
)

# 17 receive window --------------------------------------------------------
RW_RUN = ("--mode", "keepalive", "--rcvbuf", "8192", "--read-chunk", "4096", "--read-gap-ms", "100",
          "GET /data?size=60000")
scenario(
    name="lab-rcvbuf-slow-reader",
    description="Client with SO_RCVBUF 8192 reading 4 kB every 100 ms fetches 60 kB (RTT 20 ms): the "
                "server is blocked by the small receive window, which drops to zero while the reader "
                "sleeps (zero-window probes / window updates).",
    wire=delay(10),
    server=lambda lab: (lab.peer_server("--nodelay"), "peer_server.py --nodelay")[1],
    run=lambda lab, ctx: lab.peer_client(*RW_RUN) and
    "peer_client.py " + " ".join(RW_RUN[:-1]) + " 'GET /data?size=60000'",
    expect=lambda tx, ctx: {"dominant": "receive_window",
                            "causes_ms": {**base_causes(tx, ctx),
                                          "receive_window": rng(0.5 * tx["transfer_ms"], 1.05 * tx["transfer_ms"])},
                            "note": "the reader drains 4096 B per 100 ms (~40 kB/s); at the path's speed "
                                    "60 kB would take about 2 RTTs"},
    server_vantage=True,
    checks=lambda ctx: [("zero windows advertised by the client",
                         sum(c["zero_window_client"] for c in ctx["an"]["connections"]) > 0)],
    findings=lambda ctx: [{"kind": "zero_window", "by": "client",
                           "count": sum(c["zero_window_client"] for c in ctx["an"]["connections"])}],
)


# 18 DNS ---------------------------------------------------------------
def dns_server(lab):
    os.makedirs("/etc/netns/" + labnet.NS_C, exist_ok=True)
    with open("/etc/netns/%s/resolv.conf" % labnet.NS_C, "w") as f:
        f.write("nameserver %s\noptions attempts:1 timeout:2\n" % IP_S)
    with open("/etc/netns/%s/hosts" % labnet.NS_C, "w") as f:
        f.write("127.0.0.1 localhost\n")
    lab.start_server([PY, os.path.join(HERE, "dns_server.py"), "--delay-ms", "100"], port=53, udp=True, name="dns")
    lab.start_nginx(files={"index.html": 2000})
    return "nginx (stock) + dns_server.py --delay-ms 100 (answers A lab.wireblame.test = 10.77.0.2)"


def dns_ms(ctx):
    u = ctx["an"]["udp"]
    return round(u[-1][0] - u[0][0], 3) if u else None


scenario(
    name="lab-dns-lookup",
    description="curl resolves lab.wireblame.test (A and AAAA queries over UDP, resolver answers after "
                "100 ms + RTT 40 ms) before connecting: the DNS lookup dominates.",
    wire=delay(20),
    server=dns_server,
    run=lambda lab, ctx: lab.client(curl("http://lab.wireblame.test/index.html")) and
    "curl http://lab.wireblame.test/index.html (resolv.conf in the client namespace -> 10.77.0.2)",
    expect=lambda tx, ctx: {"dominant": "dns",
                            "causes_ms": {"dns": approx(100 + ctx["R"], 10), **base_causes(tx, ctx)},
                            "observed_extra": {"dns_ms": dns_ms(ctx), "dns_packets": len(ctx["an"]["udp"])}},
    checks=lambda ctx: [("DNS query and answer captured before the SYN", len(ctx["an"]["udp"]) >= 2 and
                         ctx["an"]["udp"][-1][0] < ctx["an"]["connections"][0]["syn_ms"][0]),
                        ("DNS lookup (first query -> last answer) within 10%% of 100 ms + RTT: %s" % dns_ms(ctx),
                         abs(dns_ms(ctx) - 100 - ctx["R"]) < 0.1 * (100 + ctx["R"]))],
)

# 19-20 connection management ---------------------------------------------
scenario(
    name="lab-time-wait-client",
    description="200 short keep-alive-capable connections, one GET each, where the client closes first "
                "(RTT 2 ms): the client holds 200 sockets in TIME_WAIT.",
    wire=delay(1),
    server=lambda lab: (lab.peer_server("--nodelay"), "peer_server.py --nodelay")[1],
    run=lambda lab, ctx: lab.peer_client("--mode", "newconn", "--nodelay", "--repeat", "200",
                                         "GET /s?size=100", timeout=300) and
    "peer_client.py --mode newconn --nodelay --repeat 200 'GET /s?size=100'",
    expect=None, transactions_count=200,
    findings=lambda ctx: [{"kind": "time_wait", "holder": "client", "count": 200},
                          {"kind": "close", "by": "client", "how": "fin"},
                          {"kind": "port_reused", "count": 0}],
)

scenario(
    name="lab-port-reuse",
    description="12 'Connection: close' requests from client ports 40001-40004 in turn (RTT 2 ms, server "
                "thinks 20 ms): the "
                "server closes first and holds TIME_WAIT; each port is reused while the server's old "
                "connection is still in TIME_WAIT (accepted thanks to newer timestamps).",
    wire=delay(1),
    server=lambda lab: (lab.peer_server("--nodelay", "--close", "--think-ms", "20"),
                        "peer_server.py --nodelay --close --think-ms 20")[1],
    run=lambda lab, ctx: lab.peer_client("--mode", "newconn", "--nodelay", "--conn-close", "--repeat", "12",
                                         "--bind-ports", "40001,40002,40003,40004", "GET /s?size=100") and
    "peer_client.py --mode newconn --nodelay --conn-close --repeat 12 --bind-ports 40001,40002,40003,40004 'GET /s?size=100'",
    expect=lambda tx, ctx: {"dominant": "server",
                            "causes_ms": {**base_causes(tx, ctx), "server": approx(20, 15)}},
    findings=lambda ctx: [{"kind": "port_reused", "count": 8},
                          {"kind": "time_wait", "holder": "server"},
                          {"kind": "close", "by": "server", "how": "fin"}],
)

# 21-24 framing / termination ----------------------------------------------
scenario(
    name="lab-close-delimited",
    description="Response without Content-Length or chunking, delimited by the server closing the "
                "connection (server thinks 120 ms, RTT 40 ms).",
    wire=delay(20),
    server=lambda lab: (lab.peer_server("--no-length", "--think-ms", "120", "--size", "5000"),
                        "peer_server.py --no-length --think-ms 120 --size 5000")[1],
    run=lambda lab, ctx: lab.client(curl("http://%s/legacy" % IP_S)) and "curl http://10.77.0.2/legacy",
    expect=lambda tx, ctx: {"dominant": "server", "framing": "close",
                            "causes_ms": {**base_causes(tx, ctx), "server": approx(120, 5)}},
    findings=lambda ctx: [{"kind": "close", "by": "server", "how": "fin"},
                          {"kind": "body_delimited_by_close", "connection": 0}],
)

scenario(
    name="lab-rst-mid-response",
    description="Server announces 100000 bytes, sends 30000, then aborts with SO_LINGER 0 (RST); curl "
                "reports a partial transfer (RTT 40 ms, server thinks 120 ms).",
    wire=delay(20),
    server=lambda lab: (lab.peer_server("--think-ms", "120", "--rst-after", "30000", "--size", "100000"),
                        "peer_server.py --think-ms 120 --size 100000 --rst-after 30000 --rst-wait-ms 200")[1],
    run=lambda lab, ctx: lab.client(curl("http://%s/abort" % IP_S)) and "curl http://10.77.0.2/abort",
    expect=lambda tx, ctx: {"dominant": "server", "complete": False,
                            "causes_ms": {**base_causes(tx, ctx), "server": approx(120, 5)}},
    findings=lambda ctx: [{"kind": "close", "by": "server", "how": "rst"},
                          {"kind": "incomplete_response", "connection": 0, "received_body_bytes": 30000,
                           "declared_body_bytes": 100000}],
)

scenario(
    name="lab-chunked",
    description="Chunked response (12000 bytes in 4096-byte chunks, within the initial window) after "
                "120 ms server think time, RTT 40 ms.",
    wire=delay(20),
    server=lambda lab: (lab.peer_server("--chunked", "4096", "--size", "12000", "--think-ms", "120", "--nodelay"),
                        "peer_server.py --chunked 4096 --size 12000 --think-ms 120 --nodelay")[1],
    run=lambda lab, ctx: lab.client(curl("http://%s/stream" % IP_S)) and "curl http://10.77.0.2/stream",
    expect=lambda tx, ctx: {"dominant": "server", "framing": "chunked",
                            "causes_ms": {**base_causes(tx, ctx), "server": approx(120, 5)}},
)

scenario(
    name="lab-half-close",
    description="Client sends its GET and immediately half-closes (shutdown SHUT_WR); the server still "
                "answers (after 120 ms think time) and then closes (RTT 40 ms).",
    wire=delay(20),
    server=lambda lab: (lab.peer_server("--think-ms", "120", "--nodelay"), "peer_server.py --think-ms 120 --nodelay")[1],
    run=lambda lab, ctx: lab.peer_client("--mode", "keepalive", "--half-close", "GET /h?size=3000") and
    "peer_client.py --mode keepalive --half-close 'GET /h?size=3000'",
    expect=lambda tx, ctx: {"dominant": "server",
                            "causes_ms": {**base_causes(tx, ctx), "server": approx(120, 5)}},
    findings=lambda ctx: [{"kind": "half_close", "by": "client"}],
)


# ---------------------------------------------------------------------------
def tshark_summary(path):
    try:
        r = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "tcp.stream", "-e",
                            "tcp.analysis.retransmission", "-e", "tcp.analysis.fast_retransmission",
                            "-e", "tcp.analysis.zero_window", "-e", "http.request.method",
                            "-e", "http.response.code", "-e", "dns.flags.response", "-e", "tcp.analysis.window_full",
                            "-e", "tcp.analysis.lost_segment"],
                           capture_output=True, text=True, timeout=120)
    except Exception as e:  # noqa
        return {"error": str(e)}
    streams, retx, fretx, zw, req, resp, dns, wf, lost = set(), 0, 0, 0, 0, 0, 0, 0, 0
    for ln in r.stdout.splitlines():
        f = ln.split("\t")
        f += [""] * (9 - len(f))
        if f[0]:
            streams.add(f[0])
        retx += bool(f[1])
        fretx += bool(f[2])
        zw += bool(f[3])
        req += len([x for x in f[4].split(",") if x])
        resp += len([x for x in f[5].split(",") if x])
        dns += bool(f[6])
        wf += bool(f[7])
        lost += bool(f[8])
    return {"tcp_streams": len(streams), "http_requests": req, "http_responses": resp,
            "analysis_retransmission": retx, "analysis_fast_retransmission": fretx,
            "analysis_zero_window": zw, "analysis_window_full": wf, "analysis_lost_segment": lost,
            "dns_packets": dns}


def peak_concurrency(an):
    ev = []
    for c in an["_conns"]:
        ts = [s[0] for d in c.d.values() for s in d.segs] + c.d["c2s"].syn_ts
        end = max([c.d["c2s"].fin_ts or 0, c.d["s2c"].fin_ts or 0, c.d["c2s"].rst_ts or 0,
                   c.d["s2c"].rst_ts or 0] + ts)
        ev.append((c.first_ts, 1))
        ev.append((end, -1))
    cur = peak = 0
    for _, d in sorted(ev, key=lambda x: (x[0], x[1])):
        cur += d
        peak = max(peak, cur)
    return peak


def observed_of(tx):
    keys = ["req_first_ms", "req_last_ms", "req_segments", "resp_first_ms", "resp_last_ms", "resp_bytes",
            "wait_ms", "transfer_ms", "syn_first_ms", "connect_ms", "synack_to_ack_ms", "syn_count",
            "resp_max_gap_ms", "resp_holes_ms", "framing", "resp_complete"]
    return {k: tx[k] for k in keys if k in tx}


def build_truth(sc, ctx, an, vantage, pcap_rel):
    txs = []
    if sc.get("expect"):
        for t in an["transactions"]:
            e = sc["expect"](t, ctx)
            if t.get("req_first_ms") is not None and ctx.get("prev_gap") is None:
                pass
            entry = {"connection": t["connection"], "index": t["index"], "method": t["method"], "uri": t["uri"],
                     "status": t.get("status")}
            entry.update(e)
            entry["observed"] = observed_of(t)
            if "observed_extra" in entry:
                entry["observed"].update(entry.pop("observed_extra"))
            txs.append(entry)
    expect = {"connections": len(an["connections"]), "transactions": txs}
    if sc.get("transactions_count"):
        expect["transactions_count"] = sc["transactions_count"]
    expect["retransmissions"] = ctx["retx"]
    expect["findings"] = sc["findings"](ctx) if sc.get("findings") else []
    return expect


def frame_counts(path):
    _, pkts = pcapan.read_pcap(path)
    n = {"c2s": 0, "s2c": 0}
    for _, fr, _ in pkts:
        p = pcapan.parse(fr)
        if p and p["proto"] in ("tcp", "udp"):
            n["c2s" if p["src"] == labnet.IP_C else "s2c"] += 1
    return n


def captures_consistent(cpcap, spcap, wire_events):
    """Frames seen at both vantage points agree, given the wire's drops."""
    c, s = frame_counts(cpcap), frame_counts(spcap)
    dropped = {"c2s": 0, "s2c": 0}
    for e in wire_events:
        if e.get("event") in ("drop", "random_loss", "queue_overflow"):
            dropped[e["dir"]] += 1
    ok = c["c2s"] - dropped["c2s"] == s["c2s"] and s["s2c"] - dropped["s2c"] == c["s2c"]
    return ok, {"client_capture": c, "server_capture": s, "wire_dropped": dropped}


def run_scenario(sc, attempt=1):
    name = sc["name"]
    wire = json.loads(json.dumps(sc["wire"]))
    wire["drops"] = sc["drops_fn"]() if sc.get("drops_fn") else []
    wire.setdefault("random_loss", {"c2s": 0, "s2c": 0, "seed": 1})
    lab = Lab(name, wire, sysctl_cli=sc.get("sysctl_cli"), sysctl_srv=sc.get("sysctl_srv"))
    want = 2 * wire["delay_ms"]["c2s"] if wire["delay_ms"]["c2s"] == wire["delay_ms"]["s2c"] else \
        wire["delay_ms"]["c2s"] + wire["delay_ms"]["s2c"]
    cpcap = os.path.join(lab.dir, "client.pcap")
    spcap = os.path.join(lab.dir, "server.pcap")
    ctx = {"scenario": sc}
    t_start = time.time()
    try:
        lab.up()
        samples = lab.probe()
        med = statistics.median(samples) if samples else None
        attempts = 1
        if med is None or abs(med - want) > 1.0:
            log(name, "probe RTT %s vs %s, retrying" % (med, want))
            time.sleep(0.5)
            samples = lab.probe()
            med = statistics.median(samples) if samples else None
            attempts = 2
        probe_ok = med is not None and abs(med - want) <= 1.0
        server_desc = sc["server"](lab)
        ccap = lab.capture("client", cpcap, sc.get("snaplen", 0))
        scap = lab.capture("server", spcap, sc.get("snaplen", 0))
        ctx["R"] = med
        client_desc = sc["run"](lab, ctx)
        time.sleep(max(0.5, 4 * want / 1000))
        tcpdump_stats = {"client": lab.stop_capture(ccap), "server": lab.stop_capture(scap)}
        wire_events = lab.wire_events()
    finally:
        lab.down()
    cons_ok, cons = captures_consistent(cpcap, spcap, wire_events)
    if not cons_ok and attempt < 3:
        log(name, "captures inconsistent (%s), running again" % cons)
        return run_scenario(sc, attempt + 1)
    an_c = pcapan.analyze(cpcap)
    an_s = pcapan.analyze(spcap)
    retx = {"client": sum(c["retx_client"] for c in an_c["connections"]),
            "server": sum(c["retx_server"] for c in an_s["connections"])}
    ctx.update({"retx": retx, "an": an_c, "an_server": an_s})
    R = med
    config = {"one_way_delay_ms": wire["delay_ms"]["c2s"] if wire["delay_ms"]["c2s"] == wire["delay_ms"]["s2c"]
              else wire["delay_ms"],
              "rate_mbit": (wire.get("rate_mbit") or {}).get("s2c"),
              "queue_packets": (wire.get("queue_packets") or {}).get("s2c"),
              "drops": wire["drops"], "random_loss": 0,
              "client": client_desc, "server": server_desc,
              "wire": wire, "mtu": 1500, "snaplen": sc.get("snaplen", 0) or 2048,
              "sysctl": {"client": {"net.ipv4.tcp_no_metrics_save": 1, "net.ipv4.tcp_congestion_control": "cubic",
                                    "net.ipv6.conf.all.disable_ipv6": 1, **(sc.get("sysctl_cli") or {})},
                         "server": {"net.ipv4.tcp_no_metrics_save": 1, "net.ipv4.tcp_congestion_control": "cubic",
                                    "net.ipv6.conf.all.disable_ipv6": 1, **(sc.get("sysctl_srv") or {})}},
              "congestion_control": (sc.get("sysctl_srv") or {}).get("net.ipv4.tcp_congestion_control", "cubic"),
              "addresses": {"client": labnet.IP_C, "server": IP_S},
              "kernel": os.uname().release}
    measured = {"path_rtt_ms": R, "probe_rtt_samples_ms": samples, "probe_method": "ICMP echo (ping -c 1, x7) client->server through wire.py; path_rtt_ms = median",
                "probe_attempts": attempts, "tcpdump_stats": tcpdump_stats, "probe_ok": probe_ok,
                "expected_rtt_ms": want,
                "wire_events": [e for e in wire_events if e.get("event") != "stats"][:50],
                "wire_stats": ([e for e in wire_events if e.get("event") == "stats"] or [{}])[0]}
    outs = []
    for vantage, an, src in (("client", an_c, cpcap), ("server", an_s, spcap)):
        if vantage == "server" and not sc.get("server_vantage"):
            continue
        fname = name if vantage == "client" else name + "-server"
        ctx["txs"] = []
        ctx["vantage"] = vantage
        ctx["an"] = an
        expect = build_truth(sc, ctx, an, vantage, fname)
        ctx["txs"] = expect["transactions"]
        checks = []
        if sc.get("retx_expected"):
            checks.append(("retransmissions == %s" % sc["retx_expected"], retx == sc["retx_expected"]))
        if sc.get("checks"):
            checks += sc["checks"](ctx)
        checks.append(("path probe within 1 ms of 2 x delay", probe_ok))
        checks.append(("client and server captures agree frame for frame (minus wire drops): %s" % cons, cons_ok))
        if sc.get("expect") and not sc.get("transactions_count"):
            checks.append(("every request got a response",
                           all(t.get("status") for t in expect["transactions"])))
        if any(f["kind"] == "parallel_connections" for f in expect["findings"]):
            pk = peak_concurrency(an)
            checks.append(("peak concurrency == 6 (measured %d)" % pk, pk == 6))
        for f in expect["findings"]:
            if f["kind"] in ("close", "time_wait"):
                bad = []
                for c in an["connections"]:
                    inf = float("inf")
                    cl = min(c["fin_client_ms"] if c["fin_client_ms"] is not None else inf,
                             c["rst_client_ms"] if c["rst_client_ms"] is not None else inf)
                    sv = min(c["fin_server_ms"] if c["fin_server_ms"] is not None else inf,
                             c["rst_server_ms"] if c["rst_server_ms"] is not None else inf)
                    by = "client" if cl < sv else "server"
                    rst = c["rst_client_ms"] if by == "client" else c["rst_server_ms"]
                    how = "rst" if rst is not None and rst <= min(cl, sv) else "fin"
                    want_by = f.get("by", f.get("holder"))
                    if by != want_by or (f["kind"] == "close" and how != f["how"]) or \
                            (f["kind"] == "time_wait" and how != "fin"):
                        bad.append(c["id"])
                checks.append(("%s finding %s holds for every connection (bad: %s)" % (f["kind"], f, bad), not bad))
        if any(f["kind"] == "port_reused" for f in expect["findings"]):
            ports = [c["client_port"] for c in an["connections"]]
            reused = len(ports) - len(set(ports))
            want_reuse = [f for f in expect["findings"] if f["kind"] == "port_reused"][0]["count"]
            checks.append(("port reuse count == %d (measured %d)" % (want_reuse, reused), reused == want_reuse))
        ts = tshark_summary(src)
        checks.append(("tshark tcp.stream count == connections (%s)" % ts.get("tcp_streams"),
                       ts.get("tcp_streams") == expect["connections"]))
        truth = {"scenario": fname, "description": sc["description"] +
                 ("" if vantage == "client" else " (capture taken at the server side)"),
                 "vantage": vantage,
                 "generated_by": "samples/lab/regenerate.sh %s" % name,
                 "config": config, "measured": measured, "expect": expect,
                 "verification": {"tshark": ts, "checks": [{"check": c, "ok": bool(ok)} for c, ok in checks],
                                  "all_ok": all(ok for _, ok in checks)},
                 "capture": {"file": "samples/%s.pcap" % fname, "linktype": "EN10MB (Ethernet)",
                             "snaplen": sc.get("snaplen", 0) or 2048,
                             "interface": labnet.TAP_C if vantage == "client" else labnet.TAP_S,
                             "packets": an["packets"]}}
        if sc.get("snaplen"):
            truth["capture"]["note"] = "frames truncated to %d bytes (headers kept; tcp.len from the IP header)" % sc["snaplen"]
        shutil.copy(src, os.path.join(SAMPLES, fname + ".pcap"))
        with open(os.path.join(SAMPLES, fname + ".truth.json"), "w") as f:
            json.dump(truth, f, indent=1)
            f.write("\n")
        outs.append((fname, truth["verification"]["all_ok"], [c for c, ok in checks if not ok]))
    log("%s done in %.1fs, RTT %.2f ms (want %s), retx %s, checks: %s" % (
        name, time.time() - t_start, R or -1, want, retx,
        "; ".join("%s=%s" % (n, "OK" if ok else "FAIL " + str(bad)) for n, ok, bad in outs)))
    return outs


def main(argv):
    if os.geteuid() != 0:
        sys.exit("root needed")
    if "--cleanup" in argv:
        labnet.cleanup_stale()
        labnet.restore_allowed_cc()
        return 0
    if "--list" in argv:
        for sc in SCEN:
            print(sc["name"])
        return 0
    names = [a if a.startswith("lab-") else "lab-" + a for a in argv]
    todo = [sc for sc in SCEN if not names or sc["name"] in names]
    unknown = set(names) - {sc["name"] for sc in SCEN}
    if unknown:
        sys.exit("unknown scenario(s): %s" % ", ".join(sorted(unknown)))
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    failed = []
    labnet.allow_cubic()
    try:
        failed = run_all(todo)
    finally:
        labnet.cleanup_stale()
        labnet.restore_allowed_cc()
    log("finished: %d scenario(s), %d with failed checks: %s" % (len(todo), len(failed), " ".join(failed)))
    return 1 if failed else 0


def run_all(todo):
    failed = []
    for sc in todo:
        try:
            outs = run_scenario(sc)
            failed += [n for n, ok, _ in outs if not ok]
        except Exception:
            traceback.print_exc()
            failed.append(sc["name"])
            labnet.cleanup_stale()
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
