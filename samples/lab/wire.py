#!/usr/bin/env python3
"""wireblame trace lab: user-space wire between two TAP devices.

The forwarder runs in the root namespace.  It creates two TAP devices (one for
the client namespace, one for the server namespace), writes a ready file, and
then copies Ethernet frames between them (ARP included) applying, per
direction:

  * a one-way delay (ms),
  * an optional rate limit (Mbit/s, counted on Ethernet frame bytes) with a
    bounded drop-tail queue (packets waiting for serialization),
  * scripted drops (flow, direction, n-th data segment / SYN / byte offset),
  * seeded random loss.

The orchestrator (lab.py) moves the TAP devices into the namespaces after the
ready file appears.  The TAP file descriptors keep working after the move.

Config is a JSON file:
{
  "delay_ms": {"c2s": 40, "s2c": 40},
  "rate_mbit": {"c2s": null, "s2c": 20},
  "queue_packets": {"c2s": null, "s2c": 1000},
  "drops": [
     {"dir": "c2s", "what": "syn", "nth": 1},                # 1st SYN overall (conn may be given)
     {"dir": "s2c", "what": "data", "nth": 30, "conn": 0},   # 30th data segment server->client of conn 0
     {"dir": "s2c", "what": "byte", "offset": 9999, "conn": 0, "occurrences": [1, 2]}
  ],
  "random_loss": {"c2s": 0.0, "s2c": 0.0, "seed": 1}
}
"data" counts every TCP segment with payload (retransmissions included) in
that direction (of that connection when "conn" is given).  "byte" drops the
segments whose payload covers the given stream offset (0 = first payload byte
after the SYN); "occurrences" says which transmissions of it to drop
(default [1]).  Connections are numbered 0,1,2... in the order of their first
SYN (a SYN on a 4-tuple that was closed starts a new connection).

Events (drops, queue overflows) are appended as JSON lines to --log.
Stops on SIGTERM/SIGINT; the TAP devices disappear with the process.
"""
import argparse
import collections
import fcntl
import heapq
import json
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    ifr = struct.pack("16sH22x", name.encode(), IFF_TAP | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    fl = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, fl | os.O_NONBLOCK)
    return fd


def parse_tcp(frame):
    """Return dict for IPv4/TCP frames, else None."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[9] != 6:
        return None
    total = struct.unpack("!H", ip[2:4])[0]
    tcp = ip[ihl:]
    if len(tcp) < 20:
        return None
    sport, dport, seq, ack = struct.unpack("!HHII", tcp[:12])
    doff = (tcp[12] >> 4) * 4
    flags = tcp[13]
    return {
        "src": ip[12:16], "dst": ip[16:20], "sport": sport, "dport": dport,
        "seq": seq, "ack": ack, "flags": flags,
        "plen": total - ihl - doff,
    }


class Flows:
    """Assigns connection numbers and tracks ISNs (per direction)."""

    def __init__(self):
        self.next_id = 0
        self.by_key = {}      # client-oriented 4-tuple -> state
        self.data_count = collections.Counter()  # (conn, dir) -> n
        self.dir_count = collections.Counter()   # dir -> n data segments
        self.syn_count = collections.Counter()   # (conn or None, dir) -> n
        self.byte_seen = collections.Counter()   # (rule idx) -> occurrences

    def key(self, p, direction):
        if direction == "c2s":
            return (p["src"], p["sport"], p["dst"], p["dport"])
        return (p["dst"], p["dport"], p["src"], p["sport"])

    def observe(self, p, direction):
        k = self.key(p, direction)
        syn = p["flags"] & 0x02
        ack = p["flags"] & 0x10
        st = self.by_key.get(k)
        if syn and not ack and direction == "c2s":
            if st is None or st.get("closing"):
                st = {"id": self.next_id, "isn": {}}
                self.next_id += 1
                self.by_key[k] = st
        if st is None:
            return None
        if syn:
            st["isn"][direction] = p["seq"]
        if p["flags"] & 0x05:  # FIN or RST
            st["closing"] = True
        return st


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tap-client", required=True)
    ap.add_argument("--tap-server", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--ready", required=True, help="file written when taps exist")
    ap.add_argument("--log", required=True)
    a = ap.parse_args()

    cfg = json.load(open(a.config))
    delay = {d: cfg.get("delay_ms", {}).get(d, 0) / 1000.0 for d in ("c2s", "s2c")}
    rate = {d: cfg.get("rate_mbit", {}).get(d) for d in ("c2s", "s2c")}
    qmax = {d: cfg.get("queue_packets", {}).get(d) for d in ("c2s", "s2c")}
    drops = cfg.get("drops", [])
    rl = cfg.get("random_loss", {}) or {}
    rng = random.Random(rl.get("seed", 1))
    loss = {d: float(rl.get(d, 0) or 0) for d in ("c2s", "s2c")}

    fdc = open_tap(a.tap_client)
    fds = open_tap(a.tap_server)
    out_of = {fdc: fds, fds: fdc}
    dir_of = {fdc: "c2s", fds: "s2c"}
    log = open(a.log, "a", buffering=1)
    t0 = time.monotonic()

    def ev(**kw):
        kw["t"] = round(time.monotonic() - t0, 6)
        log.write(json.dumps(kw) + "\n")

    stop = [False]

    def on_sig(*_):
        stop[0] = True
    signal.signal(signal.SIGTERM, on_sig)
    signal.signal(signal.SIGINT, on_sig)

    with open(a.ready + ".tmp", "w") as f:
        f.write(json.dumps({"pid": os.getpid(), "taps": [a.tap_client, a.tap_server]}))
    os.rename(a.ready + ".tmp", a.ready)

    flows = Flows()
    heap = []
    seqno = 0
    busy_until = {"c2s": 0.0, "s2c": 0.0}
    inq = {"c2s": collections.deque(), "s2c": collections.deque()}
    stats = collections.Counter()

    def should_drop(frame, direction):
        p = parse_tcp(frame)
        if p is None:
            return None
        st = flows.observe(p, direction)
        conn = st["id"] if st else None
        syn = p["flags"] & 0x02
        reason = None
        if syn:
            flows.syn_count[(None, direction)] += 1
            if conn is not None:
                flows.syn_count[(conn, direction)] += 1
        if p["plen"] > 0:
            flows.dir_count[direction] += 1
            if conn is not None:
                flows.data_count[(conn, direction)] += 1
        for i, r in enumerate(drops):
            if r["dir"] != direction:
                continue
            rc = r.get("conn")
            if rc is not None and rc != conn:
                continue
            what = r["what"]
            if what == "syn" and syn:
                n = flows.syn_count[(rc, direction)]
                if n == r["nth"]:
                    reason = ("syn", i, n)
            elif what == "data" and p["plen"] > 0:
                n = flows.data_count[(conn, direction)] if rc is not None else flows.dir_count[direction]
                if n == r["nth"]:
                    reason = ("data", i, n)
            elif what == "byte" and p["plen"] > 0 and st and direction in st["isn"]:
                off = (p["seq"] - st["isn"][direction] - 1) & 0xFFFFFFFF
                if off <= r["offset"] < off + p["plen"]:
                    flows.byte_seen[i] += 1
                    if flows.byte_seen[i] in r.get("occurrences", [1]):
                        reason = ("byte", i, flows.byte_seen[i])
        if reason:
            off = None
            if st and direction in st["isn"]:
                off = (p["seq"] - st["isn"][direction] - 1) & 0xFFFFFFFF
            ev(event="drop", kind=reason[0], rule=reason[1], n=reason[2], dir=direction,
               conn=conn, stream_offset=off, len=p["plen"], flags=p["flags"])
        return reason

    while not stop[0]:
        now = time.monotonic()
        timeout = max(0.0, heap[0][0] - now) if heap else 0.5
        try:
            r, _, _ = select.select([fdc, fds], [], [], timeout)
        except InterruptedError:
            continue
        for fd in r:
            direction = dir_of[fd]
            for _ in range(256):
                try:
                    frame = os.read(fd, 65536)
                except BlockingIOError:
                    break
                if not frame:
                    break
                now = time.monotonic()
                stats["rx_" + direction] += 1
                if should_drop(frame, direction):
                    stats["drop_" + direction] += 1
                    continue
                if loss[direction] and rng.random() < loss[direction]:
                    stats["rloss_" + direction] += 1
                    p = parse_tcp(frame)
                    ev(event="random_loss", dir=direction, len=len(frame),
                       tcp_len=p["plen"] if p else None)
                    continue
                if rate[direction]:
                    q = inq[direction]
                    while q and q[0] <= now:
                        q.popleft()
                    if qmax[direction] is not None and len(q) >= qmax[direction]:
                        stats["qdrop_" + direction] += 1
                        ev(event="queue_overflow", dir=direction, len=len(frame), qlen=len(q))
                        continue
                    tx_end = max(now, busy_until[direction]) + len(frame) * 8 / (rate[direction] * 1e6)
                    busy_until[direction] = tx_end
                    q.append(tx_end)
                    due = tx_end + delay[direction]
                else:
                    due = now + delay[direction]
                seqno += 1
                heapq.heappush(heap, (due, seqno, out_of[fd], frame))
        now = time.monotonic()
        while heap and heap[0][0] <= now + 0.00002:
            _, _, ofd, frame = heapq.heappop(heap)
            try:
                os.write(ofd, frame)
            except OSError as e:
                stats["tx_err"] += 1
    ev(event="stats", **stats)


if __name__ == "__main__":
    main()
