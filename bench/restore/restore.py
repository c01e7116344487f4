#!/usr/bin/env python3
"""Restore speed of a new instance (issue #15 item 2): how long a fresh
`dedupd run` takes from its start to /readyz 200 when the fingerprints topic
(the global index) holds N documents.

   bench/restore/restore.py --dedupd BUILD/daemon/app/dedupd [--old /tmp/old/dedupd] \
       --gen BUILD/bench/restore/bench_restore_gen --create-topic BUILD/bench/e2e/bench_create_topic \
       --sizes 100000,300000,1000000 --rounds 2 --work /tmp/restore --json restore.json

Starts its own broker (scripts/kafka start --port 0 --dir WORK/kafka, loopback
only) and stops it at the end. The fingerprints topic (compacted, 6
partitions) is filled incrementally by bench_restore_gen (--format compact:
the text-free format-5 records `dedupd run` writes since issue #15; full: the
~2.7 KB format-4 records with text it wrote before)
up to each size in turn. At each size, each binary (--dedupd, and --old when
given, alternating, --rounds times) is started as a new instance: an empty
state directory, a new consumer group with an empty 6-partition input topic
(so its changelog is empty: only the global index is restored), the shared
fingerprints topic. Measured: seconds from the launch to the first /readyz 200
(polled every 100 ms), the daemon's own "fingerprints read" seconds (its
bootstrap) and "state loaded" line, its CPU seconds and RSS when ready, the
load average. The slope between sizes gives the extrapolation to 10 M.
Every wait is bounded (--timeout per start); only processes it started are
stopped, by pid."""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except OSError:
        return None


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def ready(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def log_field(text, msg, field):
    """The value of `field` in the last log line with message `msg` (the daemon's
    text log: `TIME LEVEL MESSAGE key=value ...`)."""
    value = None
    for line in text.splitlines():
        if f" {msg} " in line:
            m = re.search(rf'\b{field}=([^ ]+)', line)
            if m:
                value = m.group(1)
    return value


def start_instance(binary, bootstrap, fingerprints, work, tag, partitions, timeout, create_topic, perf=None):
    port = free_port()
    topic = f"in-{tag}"
    subprocess.run([create_topic, bootstrap, topic, str(partitions)], check=True)
    log_path = os.path.join(work, f"dedupd-{tag}.log")
    cmd = [binary, "run",
           f"--kafka.bootstrap_servers={bootstrap}", f"--kafka.partitions={partitions}",
           f"--kafka.group_id=g-{tag}", f"--kafka.transactional_id=t-{tag}",
           f"--topics.input={topic}", f"--topics.events=ev-{tag}", f"--topics.diffs=df-{tag}",
           f"--topics.dlq=dlq-{tag}", f"--topics.state=st-{tag}",
           f"--topics.fingerprints={fingerprints}",
           f"--state.dir={os.path.join(work, 'state-' + tag)}",
           f"--metrics.port={port}", "--metrics.bind=127.0.0.1", "--log.level=info"]
    load = os.getloadavg()
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    recorder = None
    if perf:
        os.makedirs(perf, exist_ok=True)
        recorder = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "499", "-p", str(proc.pid),
                                     "-o", os.path.join(perf, f"{tag}.data")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t_ready = None
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            break
        if ready(port):
            t_ready = time.perf_counter()
            break
        time.sleep(0.1)
    cpu, rss = cpu_seconds(proc.pid), rss_bytes(proc.pid)
    if recorder is not None:
        recorder.send_signal(signal.SIGINT)
        try:
            recorder.wait(timeout=60)
        except subprocess.TimeoutExpired:
            recorder.kill()
            recorder.wait()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    with open(log_path, errors="replace") as f:
        text = f.read()
    if t_ready is None:
        sys.exit(f"restore: {binary} was not ready within {timeout} s (exit {proc.returncode}; log: {log_path})")
    return {"ready_seconds": t_ready - t0,
            "bootstrap_seconds": float(log_field(text, "fingerprints read", "seconds") or "nan"),
            "bootstrap_records": int(log_field(text, "fingerprints read", "records") or "0"),
            "loaded_urls": log_field(text, "state loaded", "urls"),
            "cpu_seconds": cpu, "rss_bytes": rss, "loadavg_at_start": load}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dedupd", required=True)
    ap.add_argument("--old", help="a second binary, measured in alternation with --dedupd")
    ap.add_argument("--gen", required=True)
    ap.add_argument("--create-topic", required=True)
    ap.add_argument("--sizes", default="100000,300000,1000000")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--words", type=int, default=500, help="words of text per generated record")
    ap.add_argument("--format", choices=["compact", "full"], default="compact",
                    help="fingerprint records as dedupd run writes them now (compact, format 5) "
                         "or before issue #15 / under state.fingerprint_format: full (format 4, with text)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per start")
    ap.add_argument("--work", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--bootstrap", help="use this broker instead of starting one")
    ap.add_argument("--existing", help="measure this already filled fingerprints topic (its size: "
                    "the one --sizes entry) instead of generating one")
    ap.add_argument("--perf", help="record a cpu-clock profile of each start into this directory")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    binaries = {"new": args.dedupd}
    if args.old:
        binaries["old"] = args.old

    kdir = os.path.join(args.work, "kafka")
    broker_pid = None
    if args.bootstrap:
        bootstrap = args.bootstrap
    else:
        out = subprocess.run([os.path.join(ROOT, "scripts", "kafka"), "start", "--port", "0", "--dir", kdir],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if out.returncode != 0:
            sys.exit("restore: broker did not start: " + out.stderr[-2000:])
        bootstrap = re.search(r"bootstrap=(\S+)", out.stdout).group(1)
        with open(os.path.join(kdir, "kafka.pid")) as f:
            broker_pid = int(f.read().strip())
    result = {"bootstrap": bootstrap, "sizes": {}}
    fingerprints = args.existing or "bench-fingerprints"
    have = 0
    try:
        for size in sizes:
            t0 = time.perf_counter()
            if args.existing:
                gen = {"mean_value_bytes": "nan"}
            else:
                out = subprocess.run([args.gen, bootstrap, fingerprints, str(args.partitions), str(size - have),
                                      str(have), str(args.words), args.format], stdout=subprocess.PIPE, text=True,
                                     check=True)
                gen = dict(kv.split("=") for kv in out.stdout.split())
            print(f"size {size}: produced {size - have} records in {time.perf_counter() - t0:.1f} s "
                  f"(mean value {gen['mean_value_bytes']} B)", flush=True)
            have = size
            runs = {name: [] for name in binaries}
            for r in range(args.rounds):
                order = list(binaries.items()) if r % 2 == 0 else list(reversed(binaries.items()))
                for name, binary in order:
                    tag = f"{name}-{size}-{r}"
                    m = start_instance(binary, bootstrap, fingerprints, args.work, tag, args.partitions,
                                       args.timeout, args.create_topic, args.perf)
                    m["broker_cpu_seconds_total"] = cpu_seconds(broker_pid) if broker_pid else None
                    runs[name].append(m)
                    print(f"size {size} {name} round {r}: ready {m['ready_seconds']:.2f} s, bootstrap "
                          f"{m['bootstrap_seconds']:.2f} s ({m['bootstrap_records']} records), cpu "
                          f"{m['cpu_seconds']:.1f} s, rss {m['rss_bytes'] / 1e6:.0f} MB, load "
                          f"{m['loadavg_at_start'][0]:.2f}", flush=True)
            result["sizes"][size] = {
                "mean_value_bytes": float(gen["mean_value_bytes"]),
                "runs": runs,
                "median_ready_seconds": {n: statistics.median(x["ready_seconds"] for x in v)
                                         for n, v in runs.items()}}
        # Extrapolation: the slope of the median ready time between the
        # smallest and the largest size, per binary.
        if len(sizes) >= 2:
            lo, hi = sizes[0], sizes[-1]
            result["extrapolation"] = {}
            for name in binaries:
                a = result["sizes"][lo]["median_ready_seconds"][name]
                b = result["sizes"][hi]["median_ready_seconds"][name]
                slope = (b - a) / (hi - lo)
                result["extrapolation"][name] = {
                    "seconds_per_million": slope * 1e6, "intercept_seconds": a - slope * lo,
                    "ready_seconds_at_10M": a + slope * (10_000_000 - lo)}
    finally:
        if broker_pid is not None:
            subprocess.run([os.path.join(ROOT, "scripts", "kafka"), "stop", "--dir", kdir],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result.get("extrapolation", {}), indent=1))


if __name__ == "__main__":
    main()
