#!/usr/bin/env python3
"""Speed of the Python baselines (bench/quality/baselines.py) and of the whole
`dedupd scan` file mode on the same JSON-lines stream, in the same run as
bench_throughput (bench/run puts them side by side in docs/benchmarks.md).

   bench/throughput/python_speed.py --input tests/data/corpus/dev.jsonl --rounds 5 \
       --dedupd BUILD/daemon/app/dedupd --json out.json

Stages, each over every message of the input, once per round (rounds
alternate stages, like bench_throughput):
  py_tokenise        naive tag strip + NFKC/lower + shingles (what both baselines share)
  minhash_fp         tokenise + datasketch MinHash(num_perm=128).update_batch
  simhash_fp         tokenise + simhash.Simhash over the shingle counts
  minhash_pipeline   minhash_fp + MinHashLSH(0.5) + the per-URL verdict logic
  simhash_pipeline   simhash_fp + SimhashIndex(k=3) + the per-URL verdict logic
  dedupd_scan        `dedupd scan FILE > /dev/null`: JSON in, pipeline, JSON out
Reported per stage: median CPU seconds (process CPU; for dedupd_scan the
child's user+sys) and median wall seconds; pages/s and MB/s of body bytes per
CPU second."""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "quality"))
import baselines  # noqa: E402


def tokenise(msgs):
    for m in msgs:
        t = baselines.naive_text(m)
        baselines.content_key(t)
        baselines.shingle_list(t, baselines.language(t))


def fingerprints(msgs, kind):
    for m in msgs:
        t = baselines.naive_text(m)
        baselines.content_key(t)
        sh = baselines.shingle_list(t, baselines.language(t))
        if kind == "minhash":
            baselines.minhash_of(sh)
        else:
            baselines.simhash_of(sh)


def pipeline(msgs, kind):
    prepared = baselines.prepare(msgs, engines=(kind,))
    engine = baselines.MinHashEngine(threshold=0.5) if kind == "minhash" else baselines.SimHashEngine(k=3)
    baselines.Stream(engine).run(prepared)


def run_scan(dedupd, path):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.devnull, "wb") as devnull:
        subprocess.run([dedupd, "scan", path], stdout=devnull, stderr=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--limit", type=int, default=0, help="first N messages only")
    ap.add_argument("--dedupd")
    ap.add_argument("--stages", default="py_tokenise,minhash_fp,simhash_fp,minhash_pipeline,simhash_pipeline,dedupd_scan")
    ap.add_argument("--json")
    args = ap.parse_args()
    with open(args.input, encoding="utf-8") as f:
        lines = f.readlines()
    if args.limit:
        lines = lines[:args.limit]
    msgs = [json.loads(l) for l in lines]
    body_bytes = sum(len(m["body"].encode()) for m in msgs)
    scan_input = args.input
    if args.limit:
        scan_input = args.json + ".input.jsonl" if args.json else "/tmp/python_speed_input.jsonl"
        with open(scan_input, "w", encoding="utf-8") as f:
            f.writelines(lines)
    stages = [s for s in args.stages.split(",") if s and (s != "dedupd_scan" or args.dedupd)]
    cpu = {s: [] for s in stages}
    wall = {s: [] for s in stages}
    for _ in range(args.rounds):
        for s in stages:
            w0, c0 = time.perf_counter(), time.process_time()
            if s == "py_tokenise":
                tokenise(msgs)
            elif s in ("minhash_fp", "simhash_fp"):
                fingerprints(msgs, s.split("_")[0])
            elif s in ("minhash_pipeline", "simhash_pipeline"):
                pipeline(msgs, s.split("_")[0])
            elif s == "dedupd_scan":
                c = run_scan(args.dedupd, scan_input)
                wall[s].append(time.perf_counter() - w0)
                cpu[s].append(c)
                continue
            else:
                sys.exit(f"unknown stage {s}")
            wall[s].append(time.perf_counter() - w0)
            cpu[s].append(time.process_time() - c0)
    out = {"input": args.input, "pages": len(msgs), "body_bytes": body_bytes, "rounds": args.rounds, "stages": {}}
    for s in stages:
        mc, mw = statistics.median(cpu[s]), statistics.median(wall[s])
        out["stages"][s] = {"cpu": cpu[s], "wall": wall[s], "median_cpu": mc, "median_wall": mw,
                            "pages_per_s": len(msgs) / mc if mc else 0, "mb_per_s": body_bytes / mc / 1e6 if mc else 0}
        print(f"{s:18s} median cpu {mc:.3f} s (wall {mw:.3f} s) {len(msgs) / mc:9.1f} pages/s {body_bytes / mc / 1e6:7.2f} MB/s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
