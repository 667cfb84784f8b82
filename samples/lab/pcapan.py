#!/usr/bin/env python3
"""wireblame trace lab: a minimal pcap reader used to VERIFY lab captures.

It is deliberately independent of wireblame.  It reads classic pcap
(Ethernet), splits TCP connections (numbered like Wireshark's tcp.stream: in
order of first packet, a new SYN after FIN/RST on the same 4-tuple starts a
new connection), reassembles both byte streams, finds HTTP/1.x
request/response boundaries and reports per-transaction timestamps.
Usage: python3 pcapan.py file.pcap   (prints JSON)
"""
import json
import struct
import sys


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic == 0xA1B2C3D4:
        e, nano = "<", False
    elif magic == 0xD4C3B2A1:
        e, nano = ">", False
    elif magic == 0xA1B23C4D:
        e, nano = "<", True
    else:
        raise ValueError("not a classic pcap")
    linktype = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    out = []
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        out.append((sec + frac / (1e9 if nano else 1e6), data[off:off + incl], orig))
        off += incl
    return linktype, out


def parse(frame):
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    proto = ip[9]
    src = ".".join(map(str, ip[12:16]))
    dst = ".".join(map(str, ip[16:20]))
    l4 = ip[ihl:]
    if proto == 17:
        sport, dport = struct.unpack("!HH", l4[:4])
        return {"proto": "udp", "src": src, "dst": dst, "sport": sport, "dport": dport,
                "payload": l4[8:total - ihl]}
    if proto != 6:
        return {"proto": proto, "src": src, "dst": dst}
    sport, dport, seq, ack = struct.unpack("!HHII", l4[:12])
    doff = (l4[12] >> 4) * 4
    flags = l4[13]
    win = struct.unpack("!H", l4[14:16])[0]
    wscale = None
    opts = l4[20:doff]
    i = 0
    while i < len(opts):
        k = opts[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= len(opts):
            break
        ln = opts[i + 1]
        if k == 3 and ln == 3:
            wscale = opts[i + 2]
        i += max(ln, 2)
    plen = total - ihl - doff
    return {"proto": "tcp", "src": src, "dst": dst, "sport": sport, "dport": dport,
            "seq": seq, "ack": ack, "flags": flags, "win": win, "wscale": wscale,
            "plen": plen, "payload": l4[doff:doff + plen]}


SYN, ACK, FIN, RST = 0x02, 0x10, 0x01, 0x04


class Dir:
    def __init__(self):
        self.isn = None
        self.segs = []       # (ts, rel_start, len, captured_payload)
        self.wscale = None
        self.syn_ts = []
        self.fin_ts = None
        self.rst_ts = None
        self.retx = 0        # retransmitted data segments / SYNs seen
        self.zero_win = 0
        self.wins = []       # (ts, window bytes)
        self._seen = []      # list of (start, end) sent ranges (coarse)
        self._high = 0

    def stream_bytes(self):
        if not self.segs:
            return bytearray(), bytearray()
        end = max(s + n for _, s, n, _ in self.segs)
        buf = bytearray(end)
        known = bytearray(end)
        for _, s, n, p in self.segs:
            if s < 0:
                continue
            buf[s:s + len(p)] = p
            known[s:s + len(p)] = b"\x01" * len(p)
        return buf, known

    def first_seen(self, off):
        best = None
        for ts, s, n, _ in self.segs:
            if s <= off < s + n and (best is None or ts < best):
                best = ts
        return best

    def complete_at(self, a, b):
        """Time when every byte of [a, b) has been seen at least once."""
        if b <= a:
            return self.first_seen(a)
        cov = bytearray(b - a)
        remaining = b - a
        for ts, s, n, _ in sorted(self.segs, key=lambda x: x[0]):
            lo, hi = max(s, a), min(s + n, b)
            if lo >= hi:
                continue
            sl = cov[lo - a:hi - a]
            z = sl.count(0)
            if z:
                remaining -= z
                cov[lo - a:hi - a] = b"\x01" * (hi - lo)
                if remaining == 0:
                    return ts
        return None

    def gaps(self, a, b):
        """(max gap between successive first arrivals of new bytes in [a,b),
        list of hole durations: how long bytes filled late (retransmitted or
        reordered) were missing after later bytes had arrived)."""
        segs = sorted([(ts, s, n) for ts, s, n, _ in self.segs if s < b and s + n > a])
        high, last_new, maxgap, holes = a, None, 0.0, []
        first_beyond = []  # (start, ts) of segments starting above high when seen
        for ts, s, n in segs:
            if s + n > high:
                if s > high:
                    first_beyond.append((high, ts))
                if last_new is not None:
                    maxgap = max(maxgap, ts - last_new)
                last_new = ts
                high = s + n
            else:
                # fills a hole below high
                opened = [t for (h, t) in first_beyond if s >= h - n and s < high]
                if opened:
                    holes.append(ts - min(opened))
                if last_new is not None:
                    maxgap = max(maxgap, ts - last_new)
                last_new = ts
        return maxgap, holes

    def segments_in(self, a, b):
        return [(ts, s, n) for ts, s, n, _ in self.segs if s < b and s + n > a]


class Conn:
    def __init__(self, cid, client, server):
        self.id = cid
        self.client = client  # (ip, port)
        self.server = server
        self.d = {"c2s": Dir(), "s2c": Dir()}
        self.first_ts = None
        self.synack_ts = None
        self.est_ts = None
        self.closed_flags = False
        self.pkts = 0


def conns_of(pkts):
    conns = []
    bykey = {}
    t0 = pkts[0][0] if pkts else 0
    udp = []
    for ts, frame, orig in pkts:
        p = parse(frame)
        if p is None:
            continue
        if p["proto"] == "udp":
            udp.append((ts - t0, p))
            continue
        if p["proto"] != "tcp":
            continue
        ts -= t0
        a, b = (p["src"], p["sport"]), (p["dst"], p["dport"])
        key = tuple(sorted([a, b]))
        c = bykey.get(key)
        syn_only = (p["flags"] & SYN) and not (p["flags"] & ACK)
        if c is None or (syn_only and c.closed_flags and c.d["c2s"].isn != p["seq"]):
            c = Conn(len(conns), a, b) if syn_only else Conn(len(conns), b, a)
            conns.append(c)
            bykey[key] = c
        c.pkts += 1
        if c.first_ts is None:
            c.first_ts = ts
        direction = "c2s" if a == c.client else "s2c"
        d = c.d[direction]
        if p["flags"] & SYN:
            if d.isn is not None and d.isn == p["seq"]:
                d.retx += 1
            d.isn = p["seq"]
            d.syn_ts.append(ts)
            d.wscale = p["wscale"]
            if direction == "s2c" and c.synack_ts is None:
                c.synack_ts = ts
        if d.isn is None:
            continue
        if p["flags"] & (FIN | RST):
            c.closed_flags = True
        if p["flags"] & FIN and d.fin_ts is None:
            d.fin_ts = ts
        if p["flags"] & RST and d.rst_ts is None:
            d.rst_ts = ts
        if direction == "c2s" and c.synack_ts is not None and c.est_ts is None and not p["flags"] & SYN:
            c.est_ts = ts
        if not p["flags"] & SYN:
            both = c.d["c2s"].wscale is not None and c.d["s2c"].wscale is not None
            w = p["win"] << (d.wscale if both else 0)
            d.wins.append((ts, w))
            if w == 0 and not p["flags"] & RST:
                d.zero_win += 1
        if p["plen"] > 0:
            rel = (p["seq"] - d.isn - 1) & 0xFFFFFFFF
            if rel > 0x7FFFFFFF:
                rel -= 1 << 32
            if rel < d._high:
                d.retx += 1
            d._high = max(d._high, rel + p["plen"])
            d.segs.append((ts, rel, p["plen"], bytes(p["payload"])))
    return conns, udp


def parse_requests(buf):
    out = []
    pos = 0
    while True:
        i = buf.find(b"\r\n\r\n", pos)
        if i < 0:
            break
        head = bytes(buf[pos:i]).decode("latin-1")
        lines = head.split("\r\n")
        try:
            method, uri, _ = lines[0].split(" ", 2)
        except ValueError:
            break
        clen = 0
        for ln in lines[1:]:
            if ln.lower().startswith("content-length:"):
                clen = int(ln.split(":", 1)[1])
        end = i + 4 + clen
        out.append({"method": method, "uri": uri, "start": pos, "end": end})
        pos = end
    return out


def parse_responses(buf, known, stream_end, closed):
    out = []
    pos = 0
    while pos < stream_end:
        i = buf.find(b"\r\n\r\n", pos, pos + 4096)
        if i < 0 or not bytes(buf[pos:pos + 5]) == b"HTTP/":
            break
        lines = bytes(buf[pos:i]).decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for ln in lines[1:]:
            if ":" in ln:
                k, v = ln.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        body = i + 4
        framing = "length"
        if "content-length" in hdrs:
            end = body + int(hdrs["content-length"])
        elif hdrs.get("transfer-encoding", "").lower() == "chunked":
            framing = "chunked"
            p = body
            end = None
            while p < stream_end:
                j = buf.find(b"\r\n", p)
                if j < 0:
                    break
                sz = int(bytes(buf[p:j]).split(b";")[0], 16)
                p = j + 2 + sz + 2
                if sz == 0:
                    end = p
                    break
            if end is None:
                end = stream_end
        else:
            framing = "close"
            end = stream_end
        complete = end <= stream_end
        out.append({"status": status, "start": pos, "head_end": body, "end": min(end, stream_end),
                    "declared_end": end, "framing": framing, "complete": complete,
                    "headers": hdrs})
        pos = end
    return out


def ms(x):
    return None if x is None else round(x * 1000, 3)


def analyze(path):
    linktype, pkts = read_pcap(path)
    conns, udp = conns_of(pkts)
    txs = []
    conn_out = []
    for c in conns:
        cs, sc = c.d["c2s"], c.d["s2c"]
        cbuf, _ = cs.stream_bytes()
        sbuf, sknown = sc.stream_bytes()
        reqs = parse_requests(cbuf)
        s_end = max([s + n for _, s, n, _ in sc.segs], default=0)
        resps = parse_responses(sbuf, sknown, s_end, sc.fin_ts is not None or sc.rst_ts is not None)
        conn_out.append({
            "id": c.id, "client_port": c.client[1], "server_port": c.server[1],
            "first_ms": ms(c.first_ts),
            "syn_ms": [ms(t) for t in cs.syn_ts], "synack_ms": [ms(t) for t in sc.syn_ts],
            "handshake_ms": ms(c.synack_ts - cs.syn_ts[-1]) if c.synack_ts is not None and cs.syn_ts else None,
            "fin_client_ms": ms(cs.fin_ts), "fin_server_ms": ms(sc.fin_ts),
            "rst_client_ms": ms(cs.rst_ts), "rst_server_ms": ms(sc.rst_ts),
            "retx_client": cs.retx, "retx_server": sc.retx,
            "zero_window_client": cs.zero_win, "zero_window_server": sc.zero_win,
            "requests": len(reqs), "responses": len(resps),
            "last_ms": None,
        })
        prev_end = c.est_ts
        for k, rq in enumerate(reqs):
            rp = resps[k] if k < len(resps) else None
            t = {
                "connection": c.id, "index": k, "method": rq["method"], "uri": rq["uri"],
                "req_first_ms": ms(cs.first_seen(rq["start"])),
                "req_last_ms": ms(cs.complete_at(rq["start"], rq["end"])),
                "req_segments": len(cs.segments_in(rq["start"], rq["end"])),
            }
            if rp:
                t.update({
                    "status": rp["status"], "framing": rp["framing"],
                    "resp_bytes": rp["end"] - rp["start"],
                    "resp_complete": rp["complete"],
                    "resp_first_ms": ms(sc.first_seen(rp["start"])),
                    "resp_last_ms": ms(sc.complete_at(rp["start"], rp["end"])),
                })
                t["wait_ms"] = round(t["resp_first_ms"] - t["req_last_ms"], 3)
                mg, holes = sc.gaps(rp["start"], rp["end"])
                t["resp_max_gap_ms"] = ms(mg)
                t["resp_holes_ms"] = [ms(h) for h in holes]
                t["transfer_ms"] = round(t["resp_last_ms"] - t["resp_first_ms"], 3) if t["resp_last_ms"] is not None else None
            if k == 0 and cs.syn_ts:
                t["syn_first_ms"] = ms(cs.syn_ts[0])
                t["connect_ms"] = ms(c.synack_ts - cs.syn_ts[0]) if c.synack_ts is not None else None
                t["synack_to_ack_ms"] = ms(c.est_ts - c.synack_ts) if c.est_ts is not None and c.synack_ts is not None else None
                t["syn_count"] = len(cs.syn_ts)
            txs.append(t)
    txs.sort(key=lambda t: (t["req_first_ms"], t["connection"]))
    return {"linktype": linktype, "packets": len(pkts), "connections": conn_out,
            "transactions": txs, "udp": [(ms(t), p["src"], p["sport"], p["dst"], p["dport"], len(p["payload"])) for t, p in udp],
            "_conns": conns}


if __name__ == "__main__":
    r = analyze(sys.argv[1])
    r.pop("_conns")
    print(json.dumps(r, indent=1))
