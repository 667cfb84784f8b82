#!/usr/bin/env bash
# Regenerate the wireblame trace-lab samples (samples/lab-*.pcap + .truth.json).
#   samples/lab/regenerate.sh            all scenarios (a few minutes)
#   samples/lab/regenerate.sh NAME...    some of them (see --list)
#   samples/lab/regenerate.sh --list
# Needs root, python3, tcpdump, tshark, nginx, curl, iproute2, iputils-ping, chrt.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "$(id -u)" != 0 ]; then
  echo "regenerate.sh: root is needed (network namespaces, TAP devices, tcpdump)" >&2
  exit 1
fi
for t in python3 tcpdump tshark nginx curl ip ping chrt ss; do
  command -v "$t" >/dev/null || { echo "regenerate.sh: missing $t (apt-get install -y tcpdump tshark nginx curl iproute2 iputils-ping util-linux)" >&2; exit 1; }
done
PYTHON="${PYTHON:-python3}"
cleanup() { "$PYTHON" "$HERE/lab.py" --cleanup || true; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$PYTHON" "$HERE/lab.py" "$@"
