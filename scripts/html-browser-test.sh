#!/usr/bin/env bash
# Loads wireblame's HTML report in headless Chromium and checks what the
# page's script draws: no errors, one waterfall bar per transaction, a
# time–sequence graph for the connections; then saves a screenshot.
#
#   scripts/html-browser-test.sh CAPTURE [SCREENSHOT.png]
#   scripts/html-browser-test.sh --page REPORT.html N_TRANSACTIONS [SCREENSHOT.png]
#
# The first form builds the release binary and runs
# `wireblame analyze --format html`; the second checks a page made some
# other way (e.g. the 10,000-transaction page `cargo test html::` writes
# with WIREBLAME_HTML_DUMP=DIR). The screenshot defaults to
# /tmp/wireblame-report.png (1400×1000).
#
# How the check works: the page runs a self-test when opened with
# `?selftest` — it renders every waterfall row once (rows are otherwise
# drawn only when scrolled into view), sets `data-bars` on <body> to the
# number of distinct transactions it drew a bar for, draws graphs, and writes
# any error or console.error into #errors. `--dump-dom` after a virtual-time
# budget gives the resulting DOM. Needs: chromium (Debian package
# `chromium`), python3.
set -euo pipefail

die() { echo "html-browser-test: $*" >&2; exit 1; }

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ "${1:-}" == "--page" ]]; then
  [[ $# -ge 3 ]] || die "usage: $0 --page REPORT.html N_TRANSACTIONS [SCREENSHOT.png]"
  page=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
  expected=$3
  shot=${4:-/tmp/wireblame-report.png}
else
  [[ $# -ge 1 ]] || die "usage: $0 CAPTURE [SCREENSHOT.png]"
  capture=$1
  shot=${2:-/tmp/wireblame-report.png}
  [[ -f "$capture" ]] || die "no such capture: $capture"
  bin=${WIREBLAME_BIN:-}
  if [[ -z "$bin" ]]; then
    (cd "$root" && cargo build --release --quiet) || die "cargo build failed"
    bin="${CARGO_TARGET_DIR:-$root/target}/release/wireblame"
  fi
  page="$work/report.html"
  "$bin" analyze --format html -o "$page" "$capture" || die "wireblame --format html failed"
  in_report=$("$bin" analyze --format json "$capture" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["transactions"]))')
  # The rows the page lists: every transaction, unless the page says it
  # left some out (past html::MAX_TRANSACTIONS or MAX_CONNECTIONS).
  expected=$(python3 - "$page" "$in_report" <<'PY'
import json, sys
page = open(sys.argv[1], encoding="utf-8").read()
start = page.index('id="data">') + len('id="data">')
rows = len(json.loads(page[start:page.index("</script>", start)])["T"])
in_report = int(sys.argv[2])
if 'id="left-out"' in page:
    if rows >= in_report:
        sys.exit(f"the page says it left transactions out but lists {rows} of {in_report}")
elif rows != in_report:
    sys.exit(f"the page lists {rows} of {in_report} transactions and does not say why")
print(rows)
PY
) || die "page rows"
fi

chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[[ -n "$chrome" ]] || die "chromium not found (Debian: apt-get install -y chromium)"

# A fresh profile each run, and every background feature that could touch
# the network switched off: the page must work offline.
run_chrome() {
  local profile
  profile=$(mktemp -d "$work/profile.XXXX")
  timeout 180 "$chrome" --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update \
    --disable-sync --disable-extensions --hide-scrollbars \
    --user-data-dir="$profile" --enable-logging=stderr --v=0 "$@"
}

size=$(wc -c <"$page")
echo "page: $size bytes, $expected transactions"
(( size < 5 * 1024 * 1024 )) || die "page is $size bytes (limit 5 MiB)"

run_chrome --virtual-time-budget=20000 --dump-dom "file://$page?selftest" \
  >"$work/dom.html" 2>"$work/chrome.log" || die "chromium failed; log: $(tail -5 "$work/chrome.log")"

python3 - "$work/dom.html" "$work/chrome.log" "$expected" <<'EOF'
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
log = open(sys.argv[2], encoding="utf-8", errors="replace").read()
expected = int(sys.argv[3])
body = re.search(r"<body([^>]*)>", dom)
if not body:
    sys.exit("no <body> in the dumped DOM")
attrs = dict(re.findall(r'data-([\w-]+)="([^"]*)"', body.group(1)))
problems = []
if attrs.get("ready") != "1":
    problems.append("the page script did not finish (data-ready missing)")
if attrs.get("selftest") != "ok":
    problems.append("self-test: %r" % attrs.get("selftest"))
if attrs.get("bars") != str(expected):
    problems.append("data-bars=%r, expected %d" % (attrs.get("bars"), expected))
errors = re.search(r'<div id="errors"[^>]*>(.*?)</div>\s*<script', dom, re.S)
if errors is None:
    problems.append("#errors element missing")
elif errors.group(1).strip():
    problems.append("#errors: " + re.sub(r"<[^>]+>", " | ", errors.group(1)).strip())
# Console errors that escaped the page's own handler (e.g. CSP violations).
for line in log.splitlines():
    if "CONSOLE" in line and ("Uncaught" in line or "Refused" in line or ":ERROR:" in line):
        problems.append("console: " + line.strip())
if "<svg" not in dom and expected:
    problems.append("no SVG (time-sequence graph) in the DOM")
if problems:
    print("FAIL")
    for p in problems:
        print("  - " + p)
    sys.exit(1)
print("ok: %s bars, self-test ok, no errors" % attrs["bars"])
EOF

run_chrome --virtual-time-budget=5000 --window-size=1400,1000 --screenshot="$shot" \
  "file://$page" >/dev/null 2>"$work/shot.log" || die "screenshot failed"
[[ -s "$shot" ]] || die "no screenshot written"
echo "screenshot: $shot"
