#!/usr/bin/env bash
# CPU seconds (user + sys) of `dedupd scan` (in-memory state, output to
# /dev/null) on the corpus's HTML pages and on its plain-text pages, for
# several dedupd binaries run in alternation, one CPU, ROUNDS rounds; prints
# each binary's median (and min) per input, and the median of an empty input
# (process start-up, settings, tables), which is subtracted for the per-byte
# figures.
#
#   bench/text/html_scan.sh 15 old/daemon/app/dedupd new/daemon/app/dedupd
#
# Inputs are written to $OUT (default build/html-scan): corpus-html.jsonl
# (content_type text/html) and corpus-plain.jsonl (the rest), both in stream
# order. CPU: $CPU (default 0).
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: $0 ROUNDS DEDUPD..." >&2
  exit 2
fi
rounds=$1
shift
cpu=${CPU:-0}
out=${OUT:-build/html-scan}
mkdir -p "$out"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
with open(f"{out}/corpus-html.jsonl", "w") as h, open(f"{out}/corpus-plain.jsonl", "w") as p, \
     open("tests/data/corpus/dev.jsonl") as src:
    for line in src:
        (h if "html" in json.loads(line)["content_type"] else p).write(line)
PY
: > "$out/empty.jsonl"
# Timing in Python: os.wait4 gives the child's rusage in microseconds
# (/usr/bin/time rounds to 10 ms, a third of a run here).
python3 - "$rounds" "$cpu" "$out" "$@" <<'PY'
import os, statistics, subprocess, sys
rounds, cpu, out, binaries = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
inputs = ("empty", "corpus-html", "corpus-plain")
runs = {}
for _ in range(rounds):
    for binary in binaries:
        for inp in inputs:
            with open(os.devnull, "wb") as null:
                p = subprocess.Popen(["taskset", "-c", cpu, binary, "scan", f"{out}/{inp}.jsonl"],
                                     stdout=null, stderr=null)
                _, status, ru = os.wait4(p.pid, 0)
            if status != 0:
                sys.exit(f"{binary} scan {inp}: exit status {status}")
            runs.setdefault((binary, inp), []).append(ru.ru_utime + ru.ru_stime)
size = {i: os.path.getsize(f"{out}/{i}.jsonl") for i in inputs[1:]}
for binary in binaries:
    base = statistics.median(runs[(binary, "empty")])
    print(f"{binary}: empty input {base * 1000:.1f} ms")
    per = {}
    for inp in inputs[1:]:
        xs = runs[(binary, inp)]
        med = statistics.median(xs)
        per[inp] = (med - base) / size[inp] * 1e9
        print(f"  {inp}: median {med * 1000:.1f} ms (min {min(xs) * 1000:.1f}), "
              f"minus start-up {(med - base) * 1000:.1f} ms = {per[inp]:.1f} ns/byte "
              f"({size[inp] / 1e6:.2f} MB)")
    print(f"  HTML / plain per byte: {per['corpus-html'] / per['corpus-plain']:.2f}x")
PY
