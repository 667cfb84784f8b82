#!/usr/bin/env python3
"""wireblame trace lab: a small HTTP/1.1 server whose TCP knobs matter.

Responses are generated: the body is `size` bytes.  Every knob has a
command-line default and most can be overridden per request in the query
string, e.g.  GET /r?size=2000000&think=300&split=1&close=1

Knobs
  --nodelay            set TCP_NODELAY on accepted sockets (default: off, Nagle on)
  --split / split=1    write the response head and the body in two send() calls
  --think-ms / think=  sleep before answering (server think time), ms
  --size / size=       body size in bytes
  --close / close=1    answer with "Connection: close" and close after the response
  --no-length / nolen=1  no Content-Length: body delimited by closing the connection
  --chunked N / chunked=N  Transfer-Encoding: chunked with N-byte chunks
  --chunk-gap-ms / chunkgap=  pause between chunks
  --rst-after B / rst=B  send the head and B body bytes, wait --rst-wait-ms, then
                       close with SO_LINGER 0 (RST mid-response)
  --sndbuf / --rcvbuf  SO_SNDBUF / SO_RCVBUF on accepted sockets (set on the
                       listener so that they apply from the SYN on)
  --cc NAME            TCP_CONGESTION on the listener (inherited by accepted sockets)
Pipelined requests are answered in order.  A client half-close (EOF after the
request) is answered, then the connection is closed.
"""
import argparse
import socket
import sys
import threading
import time
import urllib.parse

TCP_CONGESTION = getattr(socket, "TCP_CONGESTION", 13)


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--nodelay", action="store_true")
    ap.add_argument("--split", action="store_true")
    ap.add_argument("--think-ms", type=float, default=0)
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--close", action="store_true")
    ap.add_argument("--no-length", action="store_true")
    ap.add_argument("--chunked", type=int, default=0)
    ap.add_argument("--chunk-gap-ms", type=float, default=0)
    ap.add_argument("--rst-after", type=int, default=-1)
    ap.add_argument("--rst-wait-ms", type=float, default=200)
    ap.add_argument("--sndbuf", type=int, default=0)
    ap.add_argument("--rcvbuf", type=int, default=0)
    ap.add_argument("--cc", default="")
    return ap.parse_args()


A = parse_args()
BLOCK = (b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_" * 1024)


def body_bytes(n):
    out = []
    while n > 0:
        k = min(n, len(BLOCK))
        out.append(BLOCK[:k])
        n -= k
    return b"".join(out)


def read_request(conn, buf):
    """Return (method, uri, headers, body, rest) or None on EOF."""
    while b"\r\n\r\n" not in buf:
        d = conn.recv(65536)
        if not d:
            return None, buf
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, uri, _ = lines[0].split(" ", 2)
    hdrs = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    clen = int(hdrs.get("content-length", "0") or 0)
    while len(rest) < clen:
        d = conn.recv(65536)
        if not d:
            break
        rest += d
    return (method, uri, hdrs, rest[:clen]), rest[clen:]


def handle(conn):
    buf = b""
    try:
        while True:
            req, buf = read_request(conn, buf)
            if req is None:
                break
            method, uri, hdrs, body = req
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(uri).query))
            size = int(q.get("size", A.size))
            think = float(q.get("think", A.think_ms))
            split = q.get("split", "1" if A.split else "0") == "1"
            close = q.get("close", "1" if A.close else "0") == "1" or \
                hdrs.get("connection", "").lower() == "close"
            nolen = q.get("nolen", "1" if A.no_length else "0") == "1"
            chunked = int(q.get("chunked", A.chunked))
            chunkgap = float(q.get("chunkgap", A.chunk_gap_ms))
            rst = int(q.get("rst", A.rst_after))
            if think > 0:
                time.sleep(think / 1000.0)
            h = ["HTTP/1.1 200 OK"]
            if chunked:
                h.append("Transfer-Encoding: chunked")
            elif not nolen:
                h.append("Content-Length: %d" % size)
            if close or nolen:
                h.append("Connection: close")
            head = ("\r\n".join(h) + "\r\n\r\n").encode()
            data = body_bytes(size)
            if rst >= 0:
                conn.sendall(head + data[:rst])
                time.sleep(A.rst_wait_ms / 1000.0)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                conn.close()
                return
            if chunked:
                conn.sendall(head)
                for i in range(0, size, chunked):
                    c = data[i:i + chunked]
                    if chunkgap and i:
                        time.sleep(chunkgap / 1000.0)
                    conn.sendall(b"%x\r\n" % len(c) + c + b"\r\n")
                conn.sendall(b"0\r\n\r\n")
            elif split:
                conn.sendall(head)
                conn.sendall(data)
            else:
                conn.sendall(head + data)
            if close or nolen:
                break
    except (ConnectionResetError, BrokenPipeError):
        pass
    try:
        conn.close()
    except OSError:
        pass


def main():
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if A.sndbuf:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, A.sndbuf)
    if A.rcvbuf:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, A.rcvbuf)
    if A.cc:
        ls.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, A.cc.encode())
    if A.nodelay:
        ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ls.bind((A.addr, A.port))
    ls.listen(512)
    print("listening", flush=True)
    while True:
        c, _ = ls.accept()
        if A.nodelay:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=handle, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
