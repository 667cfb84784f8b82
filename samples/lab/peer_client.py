#!/usr/bin/env python3
"""wireblame trace lab: a small HTTP/1.1 client whose TCP knobs matter.

Requests are given as positional arguments: "GET /uri" or "POST /uri 300"
(POST with a 300-byte body).  Modes:

  keepalive     all requests, one after the other, on one connection
  newconn       one connection per request (client closes first)
  pipeline      all requests written back to back on one connection, then
                the responses read in order
  parallel      the first request on connection 0, then the remaining ones
                spread over --parallel connections (worker 0 reuses
                connection 0), each worker sequential keep-alive

Knobs
  --nodelay          TCP_NODELAY on (default off: Nagle on)
  --split-write      send request head and body (POST) in two send() calls
  --gap-ms           pause between requests (keepalive/newconn)
  --repeat N         repeat the request list N times
  --rcvbuf/--sndbuf  SO_RCVBUF/SO_SNDBUF before connect
  --cc NAME          TCP_CONGESTION before connect
  --read-chunk B --read-gap-ms MS   slow reader: recv(B) then sleep MS
  --half-close       shutdown(SHUT_WR) after sending the (last) request
  --conn-close       send "Connection: close"
  --bind-ports a,b,c bind the client socket to these ports in turn (SO_REUSEADDR)
  --host NAME        connect to NAME (resolved with getaddrinfo: DNS in the lab)
Prints one JSON line per transaction (application-level timing).
"""
import argparse
import json
import socket
import sys
import threading
import time

TCP_CONGESTION = getattr(socket, "TCP_CONGESTION", 13)

ap = argparse.ArgumentParser()
ap.add_argument("requests", nargs="+")
ap.add_argument("--host", default="10.77.0.2")
ap.add_argument("--port", type=int, default=80)
ap.add_argument("--mode", default="keepalive", choices=["keepalive", "newconn", "pipeline", "parallel"])
ap.add_argument("--parallel", type=int, default=6)
ap.add_argument("--nodelay", action="store_true")
ap.add_argument("--split-write", action="store_true")
ap.add_argument("--gap-ms", type=float, default=0)
ap.add_argument("--repeat", type=int, default=1)
ap.add_argument("--rcvbuf", type=int, default=0)
ap.add_argument("--sndbuf", type=int, default=0)
ap.add_argument("--cc", default="")
ap.add_argument("--read-chunk", type=int, default=65536)
ap.add_argument("--read-gap-ms", type=float, default=0)
ap.add_argument("--half-close", action="store_true")
ap.add_argument("--conn-close", action="store_true")
ap.add_argument("--bind-ports", default="")
A = ap.parse_args()

T0 = time.monotonic()
OUT_LOCK = threading.Lock()
BIND_PORTS = [int(x) for x in A.bind_ports.split(",") if x]
_bind_i = [0]


def out(**kw):
    with OUT_LOCK:
        print(json.dumps(kw), flush=True)


def now():
    return round((time.monotonic() - T0) * 1000, 3)


def connect():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if A.rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, A.rcvbuf)
    if A.sndbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, A.sndbuf)
    if A.cc:
        s.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, A.cc.encode())
    if A.nodelay:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if BIND_PORTS:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with OUT_LOCK:
            p = BIND_PORTS[_bind_i[0] % len(BIND_PORTS)]
            _bind_i[0] += 1
        s.bind(("0.0.0.0", p))
    t = now()
    addr = socket.getaddrinfo(A.host, A.port, socket.AF_INET, socket.SOCK_STREAM)[0][4]
    t_dns = now()
    s.connect(addr)
    out(event="connect", local_port=s.getsockname()[1], t_start=t, t_resolved=t_dns, t_connected=now())
    return s


def build(req):
    parts = req.split()
    method, uri = parts[0], parts[1]
    blen = int(parts[2]) if len(parts) > 2 else 0
    h = ["%s %s HTTP/1.1" % (method, uri), "Host: %s" % A.host]
    if blen:
        h.append("Content-Length: %d" % blen)
    if A.conn_close:
        h.append("Connection: close")
    head = ("\r\n".join(h) + "\r\n\r\n").encode()
    return method, uri, head, b"b" * blen


def send_req(s, req):
    method, uri, head, body = build(req)
    if A.split_write and body:
        s.sendall(head)
        s.sendall(body)
    else:
        s.sendall(head + body)
    return method, uri


class Reader:
    def __init__(self, s):
        self.s = s
        self.buf = b""
        self.eof = False
        self.err = None

    def more(self):
        if self.eof:
            return False
        try:
            d = self.s.recv(A.read_chunk)
        except ConnectionResetError as e:
            self.err = "reset"
            self.eof = True
            return False
        if A.read_gap_ms:
            time.sleep(A.read_gap_ms / 1000.0)
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def take(self, n):
        while len(self.buf) < n:
            if not self.more():
                break
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def line(self):
        while b"\r\n" not in self.buf:
            if not self.more():
                d, self.buf = self.buf, b""
                return d
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def response(self):
        """Read one response; return (status, body_len, complete, close)."""
        status_line = self.line()
        if not status_line:
            return None, 0, False, True
        status = int(status_line.split()[1])
        hdrs = {}
        while True:
            ln = self.line()
            if not ln:
                break
            k, v = ln.decode("latin-1").split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
        close = hdrs.get("connection", "").lower() == "close"
        if "content-length" in hdrs:
            n = int(hdrs["content-length"])
            got = len(self.take(n))
            return status, got, got == n and not self.err, close
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            total = 0
            while True:
                szl = self.line()
                if not szl:
                    return status, total, False, True
                sz = int(szl.split(b";")[0], 16)
                if sz == 0:
                    self.line()
                    return status, total, True, close
                total += len(self.take(sz))
                self.line()
        total = 0
        while self.more() or self.buf:
            total += len(self.buf)
            self.buf = b""
        return status, total, not self.err, True


def transact(s, rd, req, conn_label):
    t = now()
    method, uri = send_req(s, req)
    if A.half_close:
        s.shutdown(socket.SHUT_WR)
    st, n, ok, close = rd.response()
    out(event="tx", conn=conn_label, method=method, uri=uri, status=st, body=n, complete=ok,
        t_start=t, t_end=now(), error=rd.err)
    return close or not ok


def run_keepalive(reqs):
    s = connect()
    rd = Reader(s)
    for i, r in enumerate(reqs):
        if i and A.gap_ms:
            time.sleep(A.gap_ms / 1000.0)
        if transact(s, rd, r, 0):
            break
    s.close()


def run_newconn(reqs):
    for i, r in enumerate(reqs):
        if i and A.gap_ms:
            time.sleep(A.gap_ms / 1000.0)
        s = connect()
        rd = Reader(s)
        transact(s, rd, r, i)
        if A.conn_close:
            # let the server close first: wait for its FIN
            while rd.more():
                pass
        s.close()


def run_pipeline(reqs):
    s = connect()
    rd = Reader(s)
    t = now()
    sent = [send_req(s, r) for r in reqs]
    if A.half_close:
        s.shutdown(socket.SHUT_WR)
    for method, uri in sent:
        st, n, ok, close = rd.response()
        out(event="tx", conn=0, method=method, uri=uri, status=st, body=n, complete=ok,
            t_start=t, t_end=now(), error=rd.err)
    s.close()


def run_parallel(reqs):
    s0 = connect()
    rd0 = Reader(s0)
    transact(s0, rd0, reqs[0], 0)
    rest = reqs[1:]
    work = [rest[i::A.parallel] for i in range(A.parallel)]

    def worker(i):
        if i == 0:
            s, rd = s0, rd0
        else:
            s = connect()
            rd = Reader(s)
        for r in work[i]:
            transact(s, rd, r, i)
        s.close()
    th = [threading.Thread(target=worker, args=(i,)) for i in range(A.parallel)]
    for t in th:
        t.start()
    for t in th:
        t.join()


def main():
    reqs = A.requests * A.repeat
    {"keepalive": run_keepalive, "newconn": run_newconn, "pipeline": run_pipeline,
     "parallel": run_parallel}[A.mode](reqs)


if __name__ == "__main__":
    main()
