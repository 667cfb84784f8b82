#!/usr/bin/env bash
# Peak memory (RSS) of the release binary on full-size attack captures.
#
# Builds target/release/wireblame, writes each attack capture of
# tests/attacks.rs at full size into a temporary directory (the ignored test
# `attacks::write_full_size_attack_captures`), then runs
#   /usr/bin/time -v wireblame analyze -f FORMAT -o /dev/null FILE
# on each and prints a table: exit code, wall time, peak RSS. Exits 1 when
# any run exceeds LIMIT_MIB or does not exit 0.
#
# Environment:
#   LIMIT_MIB   the RSS budget per run, MiB (default 256)
#   FORMATS     output formats to measure, space-separated (default "json";
#               "json ndjson" shows what keeping the whole report costs)
#   ATTACK_DIR  where the captures go (default: a fresh temp dir, removed at
#               the end unless KEEP=1); existing captures there are reused
#   KEEP=1      keep the captures
#   CARGO_TARGET_DIR  as for cargo
#
# About 700 MB of disk and a few minutes. See docs/robustness.md.
set -euo pipefail
cd "$(dirname "$0")/.."

LIMIT_MIB=${LIMIT_MIB:-256}
FORMATS=${FORMATS:-json}
KEEP=${KEEP:-0}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
TIME=/usr/bin/time
if [[ ! -x $TIME ]]; then
    echo "attack-rss: $TIME (GNU time) is required" >&2
    exit 2
fi

made_dir=0
if [[ -z ${ATTACK_DIR:-} ]]; then
    ATTACK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wireblame-attacks.XXXXXX")
    made_dir=1
fi
cleanup() {
    if [[ $made_dir == 1 && $KEEP != 1 ]]; then
        rm -rf -- "$ATTACK_DIR"
    fi
}
trap cleanup EXIT

cargo build --release --quiet --bin wireblame
BIN="$TARGET_DIR/release/wireblame"

if ! compgen -G "$ATTACK_DIR/*.pcap" >/dev/null; then
    echo "attack-rss: writing full-size attack captures to $ATTACK_DIR" >&2
    ATTACK_DIR="$ATTACK_DIR" cargo test --release --quiet --test integration \
        attacks::write_full_size_attack_captures -- --ignored --nocapture >&2
fi

printf '%-30s %-7s %9s %5s %9s %10s %s\n' capture format "size MB" exit "wall s" "peak MiB" verdict
status=0
log=$(mktemp)
for f in "$ATTACK_DIR"/*.pcap; do
    name=$(basename "$f" .pcap)
    size_mb=$(awk -v b="$(stat -c %s "$f")" 'BEGIN { printf "%.1f", b / 1e6 }')
    for fmt in $FORMATS; do
        set +e
        "$TIME" -v "$BIN" analyze -f "$fmt" -o /dev/null "$f" 2>"$log"
        code=$?
        set -e
        kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
        wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$log" |
            awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.1f", s }')
        mib=$(awk -v k="${kb:-0}" 'BEGIN { printf "%.1f", k / 1024 }')
        verdict=ok
        if [[ $code != 0 ]]; then
            verdict="FAIL (exit $code: $(grep -m1 -v '^\s' "$log" || true))"
            status=1
        elif awk -v m="$mib" -v l="$LIMIT_MIB" 'BEGIN { exit !(m > l) }'; then
            verdict="OVER ${LIMIT_MIB} MiB"
            status=1
        fi
        printf '%-30s %-7s %9s %5s %9s %10s %s\n' "$name" "$fmt" "$size_mb" "$code" "$wall" "$mib" "$verdict"
    done
done
rm -f "$log"
exit $status
