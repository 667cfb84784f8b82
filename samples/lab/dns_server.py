#!/usr/bin/env python3
"""wireblame trace lab: a tiny authoritative DNS server for the lab zone.

Answers every A query with --answer (the lab server address) and every other
query type with an empty NOERROR answer, after --delay-ms (simulated
recursive-resolver latency).  UDP only.
"""
import argparse
import socket
import struct
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--addr", default="0.0.0.0")
ap.add_argument("--port", type=int, default=53)
ap.add_argument("--answer", default="10.77.0.2")
ap.add_argument("--delay-ms", type=float, default=0)
A = ap.parse_args()


def reply(sock, data, peer):
    if A.delay_ms:
        time.sleep(A.delay_ms / 1000.0)
    qid, flags, qd = struct.unpack("!HHH", data[:6])
    # walk the question name
    i = 12
    while data[i] != 0:
        i += data[i] + 1
    qend = i + 5
    qtype = struct.unpack("!H", data[i + 1:i + 3])[0]
    question = data[12:qend]
    rd = flags & 0x0100
    if qtype == 1:
        ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(A.answer)
        an = 1
    else:
        ans = b""
        an = 0
    hdr = struct.pack("!HHHHHH", qid, 0x8400 | rd | 0x0080, 1, an, 0, 0)
    sock.sendto(hdr + question + ans, peer)


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((A.addr, A.port))
    print("listening", flush=True)
    while True:
        data, peer = s.recvfrom(2048)
        threading.Thread(target=reply, args=(s, data, peer), daemon=True).start()


if __name__ == "__main__":
    main()
