#!/usr/bin/env python3
"""Print the sample table of samples/README.md from the truth files."""
import glob
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
S = os.path.abspath(os.path.join(HERE, ".."))
print("| file | link type | vantage | RTT (measured) | what it demonstrates | produced by |")
print("| --- | --- | --- | --- | --- | --- |")
for tf in sorted(glob.glob(os.path.join(S, "lab-*.truth.json"))):
    t = json.load(open(tf))
    name = t["scenario"]
    size = os.path.getsize(os.path.join(S, name + ".pcap"))
    snap = t["capture"].get("note")
    desc = t["description"].replace("|", "/")
    if snap:
        desc += " Frames truncated to %d bytes." % t["capture"]["snaplen"]
    print("| `%s.pcap` (%d kB) + `%s.truth.json` | Ethernet (pcap, µs) | %s | %.2f ms | %s | `%s` |" % (
        name, round(size / 1024), name, t["vantage"], t["measured"]["path_rtt_ms"], desc, t["generated_by"]))
