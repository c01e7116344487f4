#!/usr/bin/env bash
# `dedupd scan` (in-memory state, output to /dev/null) on one stream with
# processing.threads = each of THREADS, in alternation, ROUNDS times: wall
# seconds, CPU seconds (user + sys) and the load average of each run, then
# per setting the median wall time, pages/s, CPU per page and the speed-up
# against the first setting (issue #12, docs/benchmarks.md "Workers").
#
#   bench/workers/scan-threads.sh zh.jsonl 5 build/daemon/app/dedupd 1 2
#
# Alternating puts every setting through the same minutes of a shared
# machine; only the ratios of one run mean anything there.
set -euo pipefail
if [[ $# -lt 4 ]]; then
  echo "usage: $0 STREAM ROUNDS DEDUPD THREADS..." >&2
  exit 2
fi
stream=$1
rounds=$2
dedupd=$3
shift 3
pages=$(wc -l < "$stream")
times=$(mktemp)
trap 'rm -f "$times"' EXIT
for ((r = 0; r < rounds; ++r)); do
  for t in "$@"; do
    /usr/bin/time -o "$times" -f "%e %U %S" "$dedupd" scan "$stream" \
      --set processing.threads="$t" > /dev/null 2> /dev/null
    echo "$t $(tail -1 "$times") $(cut -d' ' -f1 /proc/loadavg)"
  done
done | PAGES=$pages python3 -c '
import os, statistics, sys
pages = int(os.environ["PAGES"])
runs, order = {}, []
for line in sys.stdin:
    t, wall, user, sys_, load = line.split()
    wall, cpu = float(wall), float(user) + float(sys_)
    print(f"threads={t}: {wall:.2f} s wall, {cpu:.2f} s CPU (load {load})", flush=True)
    if t not in runs:
        order.append(t)
    runs.setdefault(t, []).append((wall, cpu))
first = statistics.median(w for w, _ in runs[order[0]])
for t in order:
    wall = statistics.median(w for w, _ in runs[t])
    cpu = statistics.median(c for _, c in runs[t])
    print(f"threads={t}: median {wall:.2f} s wall ({pages / wall:,.0f} pages/s), "
          f"{cpu * 1000 / pages:.4f} ms CPU/page, {first / wall:.2f}x the first; {len(runs[t])} runs")
'
