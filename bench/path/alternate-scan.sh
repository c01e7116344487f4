#!/usr/bin/env bash
# Runs `dedupd scan` (in-memory state, output to /dev/null) on one stream with
# several builds in alternation and prints each build's CPU cost per page
# (user + sys seconds of the whole process / pages in the stream): best and
# median of the rounds, and the ratio of the first build's median to each
# other's. Alternating puts every build through the same minutes of a shared
# machine (as bench/path/alternate.sh does for the fingerprint path).
#
#   bench/gen/gen.py --pages 30000 --lang zh --page-bytes 5000 --seed 11 --out zh.jsonl
#   bench/path/alternate-scan.sh zh.jsonl 5 old/dedupd new/dedupd
#
# Arguments: the stream (JSON lines), the number of rounds, then the dedupd
# binaries. CPU: $CPU (default: not pinned).
set -euo pipefail
if [[ $# -lt 3 ]]; then
  echo "usage: $0 STREAM ROUNDS DEDUPD..." >&2
  exit 2
fi
stream=$1
rounds=$2
shift 2
pages=$(wc -l < "$stream")
pin=()
[[ -n ${CPU:-} ]] && pin=(taskset -c "$CPU")
times=$(mktemp)
trap 'rm -f "$times"' EXIT
for ((r = 0; r < rounds; ++r)); do
  for bin in "$@"; do
    /usr/bin/time -o "$times" -f "%U %S" "${pin[@]}" "$bin" scan "$stream" > /dev/null 2> /dev/null
    echo "$bin $(tail -1 "$times") $(cut -d' ' -f1 /proc/loadavg)"
  done
done | PAGES=$pages python3 -c '
import os, statistics, sys
pages = int(os.environ["PAGES"])
runs, order = {}, []
for line in sys.stdin:
    binary, user, sys_, load = line.split()
    ms = (float(user) + float(sys_)) * 1000 / pages
    print(f"{binary}: {ms:.4f} ms CPU/page (load {load})", flush=True)
    if binary not in runs:
        order.append(binary)
    runs.setdefault(binary, []).append(ms)
first = statistics.median(runs[order[0]])
for binary in order:
    xs = sorted(runs[binary])
    med = statistics.median(xs)
    print(f"{binary}: best {xs[0]:.4f}  median {med:.4f} ms CPU/page  "
          f"({1000 / med:,.0f} pages per CPU-second; {first / med:.2f}x vs first; {len(xs)} runs)")
'
