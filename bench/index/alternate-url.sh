#!/usr/bin/env bash
# Runs the bench_index benchmarks matching FILTER on several builds in
# alternation (short runs pinned to one CPU), and prints per build and
# benchmark the median and best rate over the rounds: on a shared machine only
# rates measured in the same minutes compare (bench/path/alternate.sh).
#
#   bench/index/alternate-url.sh UrlTable 9 old/bench_index new/bench_index
#
# Arguments: a --benchmark_filter regex, the number of rounds, then the
# binaries. CPU: $CPU (default 0).
set -euo pipefail
if [[ $# -lt 3 ]]; then
  echo "usage: $0 FILTER ROUNDS BENCH_INDEX..." >&2
  exit 2
fi
filter=$1
rounds=$2
shift 2
cpu=${CPU:-0}
for ((r = 0; r < rounds; ++r)); do
  for bin in "$@"; do
    taskset -c "$cpu" "$bin" --benchmark_filter="$filter" --benchmark_min_time=0.3 \
      --benchmark_format=json 2>/dev/null | python3 -c '
import json, sys
for b in json.load(sys.stdin)["benchmarks"]:
    print(sys.argv[1], b["name"], b["items_per_second"])' "$bin"
  done
done | python3 -c '
import statistics, sys
runs = {}
for line in sys.stdin:
    binary, name, rate = line.split()
    runs.setdefault((name, binary), []).append(float(rate))
for (name, binary), xs in sorted(runs.items()):
    print(f"{name:24s} {binary}: median {statistics.median(xs)/1e6:7.3f}  best {max(xs)/1e6:7.3f} M/s  ({len(xs)} rounds)")
'
