#!/usr/bin/env python3
"""Fills fuzz/corpus/<target>/ with seed inputs (the corpus is git-ignored).

- capture_reader, pipeline_bytes: samples/*.pcap and every file of
  ../shared/corpus/{http,edge} (when present), cut to their first 64 KiB.
- decode_frame: the first frames of those captures, each prefixed with the
  fuzz target's three control bytes (link type pick, extra wire length).
- http_random_splits: tests/http/*.txt conversation scripts converted to the
  target's operation format (see fuzz_targets/http_random_splits.rs), each
  once whole and once split at seeded random points.

Usage: python3 fuzz/seeds.py   (from the repository root or from fuzz/)
"""
import os
import random
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
SEED_MAX = 64 * 1024
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "corpus")

# decode_frame's LINK_TYPES order: pick byte -> link type.
LINK_PICK = {0: 0, 1: 1, 10: 2, 12: 3, 14: 4, 101: 5, 105: 6, 108: 7, 113: 8,
             127: 9, 228: 10, 229: 11, 239: 12, 276: 13}


def captures():
    out = []
    sdir = os.path.join(ROOT, "samples")
    out += sorted(os.path.join(sdir, f) for f in os.listdir(sdir) if f.endswith(".pcap"))
    for sub in ("http", "edge"):
        d = os.path.join(SHARED, sub)
        if os.path.isdir(d):
            out += sorted(os.path.join(d, f) for f in os.listdir(d))
    return out


def pcap_frames(data, limit=8):
    """(link type, frame) of the first records of a classic pcap."""
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return []
    lt = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
    off, frames = 24, []
    while off + 16 <= len(data) and len(frames) < limit:
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + incl]
        if len(frame) != incl:
            break
        frames.append((lt, frame))
        off += 16 + incl
    return frames


def decode_line(line):
    trailing = len(line) - len(line.rstrip("\\"))
    line_end = True
    body = line
    if line.endswith("\\") and trailing % 2 == 1:
        body, line_end = line[:-1], False
    out, i = bytearray(), 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("latin-1", "replace")
            i += 1
            continue
        n = body[i + 1] if i + 1 < len(body) else ""
        if n == "x":
            out.append(int(body[i + 2:i + 4], 16))
            i += 4
            continue
        out += {"r": b"\r", "n": b"\n", "t": b"\t", "\\": b"\\"}.get(n, b"")
        i += 2
    if line_end:
        out += b"\r\n"
    return bytes(out)


def script_steps(text):
    steps, data, in_expect = [], None, False
    for line in text.splitlines():
        directive = line.startswith((">>>", "<<<", "###"))
        if directive and data is not None:
            steps.append(("data",) + data)
            data = None
        if line.startswith("###"):
            in_expect = True
            continue
        if in_expect:
            continue
        if directive:
            side = 0 if line.startswith(">>>") else 1
            arg = line[3:].split()
            if not arg:
                data = (side, bytearray())
            elif arg[0] == "gap":
                steps.append(("gap", side, int(arg[1])))
            elif arg[0] in ("fin", "rst"):
                steps.append(("end", side, 0 if arg[0] == "fin" else 1))
            continue
        if data is not None:
            data[1].extend(decode_line(line))
    if data is not None:
        steps.append(("data",) + data)
    return steps


def encode(steps, rng, options=0):
    out = bytearray([options])
    for step in steps:
        kind, side = step[0], step[1]
        s = 0x80 if side else 0
        if kind == "data":
            b = bytes(step[2])
            cuts = sorted(set([0, len(b)] + ([rng.randrange(len(b) + 1) for _ in range(rng.randrange(4))] if rng else [])))
            for a, z in zip(cuts, cuts[1:]):
                piece = b[a:z]
                while piece:
                    part, piece = piece[:65535], piece[65535:]
                    if len(part) < 31:
                        out += bytes([s | len(part)]) + part
                    else:
                        out += bytes([s | 31]) + struct.pack("<H", len(part)) + part
        elif kind == "gap":
            out += bytes([s | 0x40]) + struct.pack("<H", min(step[2], 65535))
        else:
            out += bytes([s | 0x60 | step[2]])
    return bytes(out)


def main():
    for t in ("capture_reader", "pipeline_bytes", "decode_frame", "http_random_splits"):
        os.makedirs(os.path.join(CORPUS, t), exist_ok=True)
    n = 0
    for path in captures():
        name = os.path.basename(os.path.dirname(path)) + "_" + os.path.basename(path)
        with open(path, "rb") as f:
            data = f.read(1 << 20)
        # Cut to SEED_MAX (a cut capture is a valid input too): big seeds
        # make every execution slow and the fuzzer runs with -max_len.
        for t in ("capture_reader", "pipeline_bytes"):
            with open(os.path.join(CORPUS, t, name), "wb") as f:
                f.write(data[:SEED_MAX])
        for i, (lt, frame) in enumerate(pcap_frames(data)):
            pick = LINK_PICK.get(lt)
            if pick is None:
                continue
            with open(os.path.join(CORPUS, "decode_frame", f"{name}.{i}"), "wb") as f:
                f.write(bytes([pick, 0, 0]) + frame)
        n += 1
    hdir = os.path.join(ROOT, "tests", "http")
    m = 0
    for fn in sorted(os.listdir(hdir)):
        if not fn.endswith(".txt"):
            continue
        with open(os.path.join(hdir, fn), encoding="utf-8", errors="replace") as f:
            steps = script_steps(f.read())
        rng = random.Random(fn)
        for k, (r, opt) in enumerate([(None, 0), (rng, 0), (rng, 1)]):
            with open(os.path.join(CORPUS, "http_random_splits", f"{fn}.{k}"), "wb") as f:
                f.write(encode(steps, r, opt))
            m += 1
    print(f"seeded {n} captures and {m} HTTP conversations into {CORPUS}", file=sys.stderr)


if __name__ == "__main__":
    main()
