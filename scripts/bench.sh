#!/usr/bin/env bash
# Benchmark wireblame against the floor and its peers on one capture.
#
# Usage: scripts/bench.sh CAPTURE [RUNS]      (default 3 runs each)
#   Also measures CAPTURE's pcapng copy (same name, .pcapng) and a gzip copy
#   (CAPTURE.gz, e.g. `gzip -1 -k big.pcap`) when they exist.
#   Captures: OUT=/tmp/bench bash ../shared/bench/make-perf-pcap.sh (root, ~1 min)
#   writes mid.pcap (100 MB) and big.pcap (1 GB) and pcapng copies.
#
# For each command: median wall time, median CPU time (user+sys) and the peak
# RSS over RUNS runs (/usr/bin/time -v), and the ratios to the floor and to
# each peer. The floor is issue 7's: reading the file and parsing every
# header with pcap-parser + etherparse, on one thread (examples/floor.rs);
# the table also gives the ratio to wireblame's own decode-only pass on one
# thread (`--decode-only --threads 1`), which is a little faster. Peers that
# are not installed (tcptrace, tshark) are skipped with a notice.
# Prints a Markdown table (docs/performance.md shows one).
set -euo pipefail
cap=${1:?usage: scripts/bench.sh CAPTURE [RUNS]}
runs=${2:-3}
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin wireblame --example floor
bin=target/release/wireblame
floor_bin=target/release/examples/floor
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Warm the page cache so the first command is not charged for the disk.
cat "$cap" > /dev/null

measure() { # name, command...
  local name=$1; shift
  local walls=() cpus=() rss=0
  for _ in $(seq "$runs"); do
    /usr/bin/time -v -o "$tmp/t" "$@" > /dev/null 2> "$tmp/err" || { echo "$name failed: $(head -c 300 "$tmp/err")" >&2; return; }
    local w u s m
    w=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/t" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    u=$(awk -F': ' '/User time/ {print $2}' "$tmp/t")
    s=$(awk -F': ' '/System time/ {print $2}' "$tmp/t")
    m=$(awk -F': ' '/Maximum resident/ {print $2}' "$tmp/t")
    walls+=("$w"); cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')")
    [ "$m" -gt "$rss" ] && rss=$m
  done
  local wm cm
  wm=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  cm=$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$name|$wm|$cm|$rss" >> "$tmp/results"
}

# The floor as issue 7 words it: pcap-parser's reader and etherparse's
# slicing, nothing else (examples/floor.rs); the first row is the "× floor"
# column's base.
measure "floor, pcap-parser + etherparse" "$floor_bin" "$cap"
# wireblame's own reading and decoding alone, on one thread (the second
# ratio's base). With two threads the reading overlaps the decoding.
measure "decode only, 1 thread" "$bin" analyze --decode-only --threads 1 -f ndjson -o /dev/null "$cap"
measure "decode only, 2 threads" "$bin" analyze --decode-only -f ndjson -o /dev/null "$cap"
measure "wireblame json" "$bin" analyze -f json -o /dev/null "$cap"
measure "wireblame ndjson" "$bin" analyze -f ndjson -o /dev/null "$cap"
measure "wireblame ndjson, 1 thread" "$bin" analyze -f ndjson --threads 1 -o /dev/null "$cap"
# The default output (the analyze table): the same analysis, a summary out.
measure "wireblame analyze table (default)" "$bin" analyze --no-color -o /dev/null "$cap"
# Every transaction as a table row (comfy-table, a chunk at a time when long).
measure "wireblame transactions table" "$bin" transactions --no-color -o /dev/null "$cap"
# The same capture as pcapng and gzip, when they sit beside it.
ng="${cap%.pcap}.pcapng"
if [ "$ng" != "$cap" ] && [ -f "$ng" ]; then
  cat "$ng" > /dev/null
  measure "decode only, pcapng copy" "$bin" analyze --decode-only -f ndjson -o /dev/null "$ng"
  measure "wireblame ndjson, pcapng copy" "$bin" analyze -f ndjson -o /dev/null "$ng"
fi
if [ -f "$cap.gz" ]; then
  measure "decode only, gzip copy (decompression + decode)" "$bin" analyze --decode-only -f ndjson -o /dev/null "$cap.gz"
  measure "wireblame ndjson, gzip copy" "$bin" analyze -f ndjson -o /dev/null "$cap.gz"
fi
if command -v tcptrace >/dev/null; then
  measure "tcptrace -n" tcptrace -n "$cap"
else echo "notice: tcptrace not installed, skipped" >&2; fi
if command -v tshark >/dev/null; then
  measure "tshark -q -z http,tree" tshark -n -q -z http,tree -r "$cap"
  measure "tshark -T fields -e http.time" tshark -n -r "$cap" -Y http.response -T fields -e http.time
else echo "notice: tshark not installed, skipped" >&2; fi

floor=$(awk -F'|' 'NR==1 {print $2}' "$tmp/results")
own=$(awk -F'|' 'NR==2 {print $2}' "$tmp/results")
echo
echo "capture: $cap ($(du -h "$cap" | cut -f1)), $runs runs each, $(nproc) cores"
echo
echo "| command | wall s (median) | CPU s (median) | peak RSS MiB | × floor | × decode only, 1 thread |"
echo "|---|---:|---:|---:|---:|---:|"
while IFS='|' read -r name w c m; do
  awk -v n="$name" -v w="$w" -v c="$c" -v m="$m" -v f="$floor" -v o="$own" \
    'BEGIN { printf "| %s | %.2f | %.2f | %.0f | %.1f | %.1f |\n", n, w, c, m / 1024, w / f, w / o }'
done < "$tmp/results"
echo
echo "Ratios (peer wall time / wireblame wall time; above 1: wireblame is faster):"
for ours in "wireblame json" "wireblame ndjson"; do
  w_ours=$(awk -F'|' -v n="$ours" '$1 == n {print $2}' "$tmp/results")
  [ -n "$w_ours" ] || continue
  while IFS='|' read -r name w _ _; do
    case "$name" in tcptrace*|tshark*)
      awk -v a="$name" -v b="$ours" -v x="$w" -v y="$w_ours" 'BEGIN { printf "- %s / %s: %.1f×\n", a, b, x / y }' ;;
    esac
  done < "$tmp/results"
done
