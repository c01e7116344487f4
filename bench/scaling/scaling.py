#!/usr/bin/env python3
"""Whole-daemon scaling: cost per page, memory per indexed document and
start-up (state load) time as dedupd's state grows, through `dedupd scan
--state-dir` (RocksDB, as the daemon keeps it), on a generated stream.

   bench/scaling/scaling.py --dedupd BUILD/daemon/app/dedupd --input pages.jsonl \
       --checkpoints 10000,100000,1000000 --work /tmp/scaling --json scaling.json

The stream is fed in segments that end at each checkpoint (messages), each
segment by a new `dedupd scan - --state-dir DIR` that first loads the state of
the previous segments. Per segment: CPU and wall time per page from the first
output line on (the load is measured separately), taken by reading the output
as it comes. After each segment the state is loaded alone, twice, by `dedupd
scan /dev/null --state-dir DIR --metrics-port P --hold S`: start-up = time
until /metrics answers (the server starts after the load), then the resident
memory, dedupd_index_documents and the state directory's size on disk are
read, and the process (ours) is stopped. Memory per indexed document =
(RSS after loading N documents - RSS after loading none) / N, and the
marginal figure between two checkpoints (which leaves out RocksDB's fixed
buffers)."""
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

TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def dir_bytes(path):
    total = 0
    for base, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(base, name))
            except OSError:
                pass
    return total


def metrics(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as r:
            return r.read().decode()
    except OSError:
        return None


def value(text, name):
    m = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else None


def load_only(dedupd, state_dir):
    """Start-up with the state as it is: seconds until /metrics answers, RSS, index size."""
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([dedupd, "scan", "/dev/null", "--state-dir", state_dir, "--metrics-port", str(port),
                             "--hold", "600", "--set", "metrics.bind=127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                sys.exit(f"scaling: dedupd scan exited with {proc.returncode} while loading {state_dir}")
            text = metrics(port)
            if text is not None:
                break
            time.sleep(0.01)
        startup = time.perf_counter() - t0
        time.sleep(0.3)  # the gauges are set after the (empty) input is read
        text = metrics(port) or text
        return {"startup_seconds": startup, "rss_bytes": rss_bytes(proc.pid), "cpu_seconds": cpu_seconds(proc.pid),
                "index_documents": value(text, "dedupd_index_documents") or 0,
                "state_bytes_metric": value(text, "dedupd_state_bytes") or 0}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def feed(dedupd, path, start, count, state_dir, window):
    """Messages [start, start+count) of the file through one `dedupd scan -`."""
    proc = subprocess.Popen(f"tail -n +{start + 1} '{path}' | head -n {count} | "
                            f"'{dedupd}' scan - --state-dir '{state_dir}'",
                            shell=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=1 << 20)
    # the pid of dedupd itself (the last command of the pipeline)
    dedupd_pid = None
    t_first = cpu_first = None
    seen = 0
    verdicts = {}
    points = []
    for line in proc.stdout:
        if line.startswith(b'{"event"'):
            m = re.search(rb'"verdict":"([A-Z_]+)"', line)
            v = m.group(1).decode() if m else "?"
            verdicts[v] = verdicts.get(v, 0) + 1
        elif not (line.startswith(b'{"dead_letter"') or line.startswith(b'{"skipped"')):
            continue  # diffs
        seen += 1
        if t_first is None:
            t_first = time.perf_counter()
            dedupd_pid = find_child(proc.pid, "dedupd")
            cpu_first = cpu_seconds(dedupd_pid) if dedupd_pid else None
        if seen % window == 0:
            points.append((seen, time.perf_counter(), cpu_seconds(dedupd_pid) if dedupd_pid else None))
    t_end = time.perf_counter()
    cpu_end = points[-1][2] if points else None
    proc.wait()
    if proc.returncode != 0 or seen != count:
        sys.exit(f"scaling: dedupd scan gave {seen} records for {count} messages (exit {proc.returncode})")
    return {"messages": count, "wall_seconds": t_end - t_first, "verdicts": verdicts,
            "cpu_seconds": (cpu_end - cpu_first) if cpu_end is not None and cpu_first is not None else None,
            "cpu_messages": (points[-1][0] - 1) if points else None, "points": points}


def find_child(shell_pid, name):
    """The pid of `name` among the shell's children (the pipeline's last command)."""
    for _ in range(200):
        try:
            kids = open(f"/proc/{shell_pid}/task/{shell_pid}/children").read().split()
        except OSError:
            kids = []
        for k in kids:
            try:
                if open(f"/proc/{k}/comm").read().strip() == name:
                    return int(k)
            except OSError:
                pass
        time.sleep(0.005)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dedupd", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--checkpoints", default="10000,100000")
    ap.add_argument("--work", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--progress")
    args = ap.parse_args()
    checkpoints = sorted(int(x) for x in args.checkpoints.split(","))
    state_dir = os.path.join(args.work, "state")
    subprocess.run(["rm", "-rf", state_dir], check=True)
    os.makedirs(state_dir)

    def progress(msg):
        if args.progress:
            with open(args.progress, "a") as f:
                f.write(msg + "\n")

    with open(args.input, "rb") as f:
        available = sum(1 for _ in f)
    if checkpoints[-1] > available:
        sys.exit(f"scaling: {args.input} has {available} messages, fewer than {checkpoints[-1]}")
    progress("empty state")
    empty = load_only(args.dedupd, state_dir)
    result = {"input": args.input, "empty": empty, "checkpoints": []}
    done = 0
    prev_rss, prev_docs = empty["rss_bytes"], 0
    for cp in checkpoints:
        progress(f"scan to {cp} messages")
        seg = feed(args.dedupd, args.input, done, cp - done, state_dir, max(100, (cp - done) // 20))
        done = cp
        progress(f"load {cp}")
        loads = [load_only(args.dedupd, state_dir) for _ in range(2)]
        docs = loads[-1]["index_documents"]
        rss = statistics.median(l["rss_bytes"] for l in loads)
        entry = {"messages": cp, "index_documents": docs, "segment": seg,
                 "us_per_page_cpu": 1e6 * seg["cpu_seconds"] / seg["cpu_messages"] if seg["cpu_seconds"] else None,
                 "us_per_page_wall": 1e6 * seg["wall_seconds"] / seg["messages"],
                 "startup_seconds": statistics.median(l["startup_seconds"] for l in loads),
                 "startup_cpu_seconds": statistics.median(l["cpu_seconds"] for l in loads),
                 "rss_bytes": rss, "rss_bytes_per_doc": (rss - empty["rss_bytes"]) / docs if docs else None,
                 "rss_bytes_per_added_doc": (rss - prev_rss) / (docs - prev_docs) if docs > prev_docs else None,
                 "state_dir_bytes": dir_bytes(state_dir),
                 "state_dir_bytes_per_doc": dir_bytes(state_dir) / docs if docs else None}
        result["checkpoints"].append(entry)
        prev_rss, prev_docs = rss, docs
        progress(f"{cp}: {docs:.0f} docs, {entry['us_per_page_wall']:.0f} us/page, start-up {entry['startup_seconds']:.2f} s")
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items()}, indent=1)[:4000])


if __name__ == "__main__":
    main()
