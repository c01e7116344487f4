#!/usr/bin/env bash
# Runs one bench_path benchmark on several builds in alternation, short runs
# pinned to one CPU, and prints each build's best, second best and median
# MB/s. On a shared VM whose speed moves by 1.5-2x from one minute to the next,
# alternating puts every build through the same minutes; the best of many
# short runs is the build's speed when the machine is quiet.
#
#   bench/path/alternate.sh 'BM_Path/cjk_whole' 16 old/bench_path new/bench_path
#
# Arguments: a --benchmark_filter regex matching ONE benchmark, the number of
# rounds, then the bench_path binaries. CPU: $CPU (default 0).
set -euo pipefail
if [[ $# -lt 3 ]]; then
  echo "usage: $0 FILTER ROUNDS BENCH_PATH..." >&2
  exit 2
fi
filter=$1
rounds=$2
shift 2
cpu=${CPU:-0}
for ((r = 0; r < rounds; ++r)); do
  for bin in "$@"; do
    rate=$(taskset -c "$cpu" "$bin" --benchmark_filter="$filter" --benchmark_min_time=0.2 \
      2>/dev/null | awk '/^BM_/ { for (i = 1; i <= NF; i++) if ($i ~ /^bytes_per_second=/) {
        sub("bytes_per_second=", "", $i); print $i } }')
    [[ -n $rate ]] || { echo "$bin: no result for '$filter'" >&2; exit 1; }
    echo "$bin $rate"
  done
done | python3 -c '
import re, statistics, sys
runs = {}
for line in sys.stdin:
    binary, rate = line.split()
    m = re.fullmatch(r"([\d.]+)([kMG]?)/s", rate)
    scale = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}[m.group(2)]
    runs.setdefault(binary, []).append(float(m.group(1)) * scale / 1e6)
for binary, xs in runs.items():
    xs.sort()
    second = xs[-2] if len(xs) > 1 else xs[-1]
    print(f"{binary}: best {xs[-1]:.1f}  second {second:.1f}  median {statistics.median(xs):.1f} MB/s"
          f"  ({len(xs)} runs)")
'
