#!/usr/bin/env python3
"""Loads wireblame's NDJSON output into DuckDB and runs the dashboard queries
of docs/dashboards.md, failing if any of them comes back empty.

    pip install duckdb
    python3 scripts/dashboards.py [CAPTURE...]      # default: a few lab samples
    python3 scripts/dashboards.py --ndjson DIR      # load existing *.ndjson files

Each capture is analyzed to its own NDJSON file (`analyze --format ndjson`),
the way a pipeline would ingest many captures; DuckDB reads them all with one
glob and keeps the file name, since connection and transaction ids are only
unique within one capture.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Samples chosen so every query has rows: keep-alive reuse, server think time,
# Nagle stalls on either side, tail loss.
DEFAULT_CAPTURES = [
    "samples/lab-keepalive-reuse.pcap",
    "samples/lab-server-think-300.pcap",
    "samples/lab-nagle-client.pcap",
    "samples/lab-nagle-server.pcap",
    "samples/lab-loss-tail-rto.pcap",
    "samples/lab-parallel-6.pcap",
]

# A real browsing capture, for a "slowest hosts" with more than one host; used
# when the shared corpus is beside the repository.
OPTIONAL_CAPTURES = ["../shared/corpus/http/ppa_http_espn.pcapng"]

# One view over every line, then one view per line type. `union_by_name`
# because the line types have different keys; `sample_size=-1` so the types
# are inferred from every line, not the first few thousand.
LOAD = """
CREATE VIEW lines AS
  SELECT * FROM read_json_auto('{glob}', format = 'newline_delimited',
                               union_by_name = true, sample_size = -1,
                               filename = true);
CREATE VIEW connections  AS SELECT * FROM lines WHERE type = 'connection';
CREATE VIEW transactions AS SELECT * FROM lines WHERE type = 'transaction';
CREATE VIEW findings     AS SELECT * FROM lines WHERE type = 'finding';
CREATE VIEW summaries    AS SELECT * FROM lines WHERE type = 'summary';
"""

QUERIES = {
    # blame_ms partitions each transaction's time: unpivot its fifteen keys
    # into (cause, ms) rows and add them up.
    "time by cause across transactions": """
        SELECT cause,
               round(sum(ms), 1)                                   AS total_ms,
               round(100 * sum(ms) / sum(sum(ms)) OVER (), 1)      AS pct,
               count(*) FILTER (WHERE ms > 0)                      AS transactions,
               round(quantile_cont(ms, 0.9), 1)                    AS p90_ms
        FROM (UNPIVOT (SELECT blame_ms.* FROM transactions)
              ON COLUMNS(*) INTO NAME cause VALUE ms)
        GROUP BY cause
        HAVING sum(ms) > 0
        ORDER BY total_ms DESC
    """,
    # Host header, else the server address (a response without request has
    # neither host nor method).
    "slowest hosts (p90 of total time)": """
        SELECT coalesce(t.host, c.server)                  AS host,
               count(*)                                     AS transactions,
               round(avg(t.timings_ms.total), 1)            AS avg_ms,
               round(quantile_cont(t.timings_ms.total, 0.9), 1) AS p90_ms,
               round(max(t.timings_ms.total), 1)            AS max_ms,
               mode(t.dominant_cause)                       AS usual_cause
        FROM transactions t
        JOIN connections c ON c.filename = t.filename AND c.id = t.connection
        GROUP BY ALL
        ORDER BY p90_ms DESC
        LIMIT 10
    """,
    # A nagle_stall finding's detail starts with the side and the endpoint
    # that held the segment: "client 10.77.0.1 held a 300-byte segment ...".
    "Nagle stalls by endpoint": """
        SELECT regexp_extract(f.detail, '^(client|server) ', 1)      AS side,
               regexp_extract(f.detail, '^(client|server) (\\S+) held', 2) AS endpoint,
               c.server                                              AS server,
               count(*)                                              AS stalls,
               round(sum(f.duration_us) / 1000, 1)                   AS stalled_ms,
               round(max(f.duration_us) / 1000, 1)                   AS worst_ms,
               any_value(f.recommendation)                           AS recommendation
        FROM findings f
        JOIN connections c ON c.filename = f.filename AND c.id = f.connection
        WHERE f.kind = 'nagle_stall'
        GROUP BY ALL
        ORDER BY stalled_ms DESC
    """,
    # The summary lines: one per capture.
    "capture quality": """
        SELECT regexp_extract(filename, '[^/]*$') AS file,
               transactions, quality.verdict AS verdict, quality.vantage AS vantage
        FROM summaries
        ORDER BY file
    """,
}


def wireblame_ndjson(captures, out_dir):
    """Runs `wireblame analyze --format ndjson` per capture; returns the files."""
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    files = []
    for i, capture in enumerate(captures):
        out = out_dir / f"{i:03}-{Path(capture).stem}.ndjson"
        with open(out, "wb") as f:
            subprocess.run(
                ["cargo", "run", "--release", "--quiet", "--",
                 "analyze", "--format", "ndjson", str(capture)],
                cwd=ROOT, stdout=f, check=True)
        files.append(out)
    return files


def show(con, title, sql):
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    rows = cur.fetchall()
    print(f"\n== {title} ({len(rows)} rows)")
    cells = [cols] + [["NULL" if v is None else str(v) for v in r] for r in rows]
    widths = [min(max(len(r[i]) for r in cells), 48) for i in range(len(cols))]
    for r in cells:
        print("  ".join(c[:w].ljust(w) for c, w in zip(r, widths)).rstrip())
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("captures", nargs="*", help="captures to analyze")
    ap.add_argument("--ndjson", type=Path, help="folder of existing .ndjson files")
    args = ap.parse_args()
    try:
        import duckdb
    except ImportError:
        sys.exit("dashboards.py: DuckDB is not installed; run: pip install duckdb")

    with tempfile.TemporaryDirectory(prefix="wireblame-dash-") as tmp:
        if args.ndjson:
            folder = args.ndjson
        else:
            folder = Path(tmp)
            captures = args.captures or [ROOT / c for c in DEFAULT_CAPTURES] + [
                ROOT / c for c in OPTIONAL_CAPTURES if (ROOT / c).is_file()]
            wireblame_ndjson(captures, folder)
        glob = str(folder / "*.ndjson").replace("'", "''")
        con = duckdb.connect()
        con.execute(LOAD.format(glob=glob))
        counts = con.execute(
            "SELECT type, count(*) FROM lines GROUP BY type ORDER BY type").fetchall()
        print("loaded:", ", ".join(f"{n} {t}" for t, n in counts))
        empty = [title for title, sql in QUERIES.items() if not show(con, title, sql)]
    if empty:
        sys.exit(f"dashboards.py: no rows from: {', '.join(empty)}")
    print("\nok: every query returned rows")


if __name__ == "__main__":
    main()
