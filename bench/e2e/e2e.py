#!/usr/bin/env python3
"""End-to-end throughput through a real local Kafka broker: N generated pages
are produced to a topic, then `kcat -C -e -o beginning` reads the topic (the
plain reading rate: the yardstick), then `dedupd run` processes the same topic
to the end, once per processing mode, each from an empty state.

   bench/e2e/e2e.py --dedupd BUILD/daemon/app/dedupd --create-topic BUILD/bench/e2e/bench_create_topic \
       --input pages.jsonl --work /tmp/e2e --json e2e.json [--modes at_least_once,exactly_once]

Timing of a dedupd run: its /metrics counter dedupd_input_messages_total is
polled every 50 ms; "processing" is from the first poll that sees a message
to the first that sees all N (start-up, group join and the fingerprint-topic
bootstrap are reported separately as "start-up"). Afterwards the committed
(read_committed) page-events are counted and must equal N. CPU seconds of
dedupd and of the broker over the processing window come from /proc (and
for kcat from its rusage), so that the CPU cost per page can be compared
when the wall-clock rates are distorted by other load on the machine.
Starts its own broker (scripts/kafka start --port 0 --dir WORK/kafka) and
stops it at the end; stops only the processes it started, by pid."""
import argparse
import json
import os
import re
import resource
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
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
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


def metric(port, name):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    total = None
    for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M):
        total = (total or 0) + float(m.group(1))
    return total


def kcat_count(bootstrap, topic, committed=True):
    cmd = ["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%o\n"]
    if committed:
        cmd += ["-X", "isolation.level=read_committed"]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False).stdout
    return out.count(b"\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dedupd", required=True)
    ap.add_argument("--create-topic", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--modes", default="at_least_once,exactly_once")
    ap.add_argument("--kcat-rounds", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per dedupd run")
    ap.add_argument("--json", required=True)
    ap.add_argument("--progress", help="file to append progress lines to")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)

    def progress(msg):
        if args.progress:
            with open(args.progress, "a") as f:
                f.write(msg + "\n")

    # keyed by URL, as a scraper would produce them (the daemon does not trust keys anyway)
    keyed = os.path.join(args.work, "keyed.txt")
    n = 0
    value_bytes = 0
    with open(args.input, "rb") as src, open(keyed, "wb") as dst:
        for raw in src:
            raw = raw.rstrip(b"\n")
            if not raw:
                continue
            url = json.loads(raw)["url"].encode()
            dst.write(url + b"\x1f" + raw + b"\n")
            n += 1
            value_bytes += len(raw)
    result = {"messages": n, "value_bytes": value_bytes, "modes": {}}

    kdir = os.path.join(args.work, "kafka")
    progress("starting the broker")
    out = subprocess.run([os.path.join(ROOT, "scripts", "kafka"), "start", "--port", "0", "--dir", kdir],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if out.returncode != 0:
        sys.exit("e2e: broker did not start: " + out.stderr[-2000:])
    bootstrap = re.search(r"bootstrap=(\S+)", out.stdout).group(1)
    with open(os.path.join(kdir, "kafka.pid")) as f:
        broker_pid = int(f.read().strip())
    try:
        topic = "bench-pages"
        subprocess.run([args.create_topic, bootstrap, topic, "1"], check=True)
        progress(f"producing {n} messages")
        t0 = time.perf_counter()
        subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", topic, "-K", "\x1f", "-l", keyed,
                        "-X", "message.max.bytes=10485760"], check=True)
        result["produce_seconds"] = time.perf_counter() - t0
        have = kcat_count(bootstrap, topic, committed=False)
        if have != n:
            sys.exit(f"e2e: topic holds {have} messages, expected {n}")

        # the yardstick: kcat reading the topic from the beginning to the end
        rounds, kcat_cpu, broker_cpu = [], [], []
        for i in range(args.kcat_rounds):
            progress(f"kcat read {i + 1}/{args.kcat_rounds}")
            r0, b0 = resource.getrusage(resource.RUSAGE_CHILDREN), cpu_seconds(broker_pid)
            t0 = time.perf_counter()
            with open(os.devnull, "wb") as devnull:
                subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q"],
                               stdout=devnull, stderr=subprocess.DEVNULL, check=True)
            rounds.append(time.perf_counter() - t0)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            kcat_cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
            broker_cpu.append(cpu_seconds(broker_pid) - b0)
        kc = statistics.median(rounds)
        result["kcat"] = {"seconds": rounds, "median": kc, "pages_per_s": n / kc, "mb_per_s": value_bytes / kc / 1e6,
                          "kcat_cpu_seconds": statistics.median(kcat_cpu),
                          "broker_cpu_seconds": statistics.median(broker_cpu)}

        for mode in [m for m in args.modes.split(",") if m]:
            progress(f"dedupd run {mode}")
            port = free_port()
            tag = mode.replace("_", "-")
            log_path = os.path.join(args.work, f"dedupd-{tag}.log")
            cmd = [args.dedupd, "run",  # built-in defaults: every key of config/dedupd.yaml
                   f"--kafka.bootstrap_servers={bootstrap}", "--kafka.partitions=1",
                   f"--kafka.group_id=bench-{tag}", f"--kafka.transactional_id=bench-{tag}",
                   f"--topics.input={topic}", f"--topics.events=bench-events-{tag}",
                   f"--topics.diffs=bench-diffs-{tag}", f"--topics.dlq=bench-dlq-{tag}",
                   f"--topics.state=bench-state-{tag}", f"--topics.fingerprints=bench-fingerprints-{tag}",
                   f"--state.dir={os.path.join(args.work, 'state-' + tag)}", f"--processing.mode={mode}",
                   f"--metrics.port={port}", "--metrics.bind=127.0.0.1", "--log.level=warn"]
            with open(log_path, "wb") as log:
                t_launch = time.perf_counter()
                proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            t_first = t_done = None
            cpu_first = broker_first = None
            deadline = t_launch + args.timeout
            last = 0
            while time.perf_counter() < deadline:
                if proc.poll() is not None:
                    sys.exit(f"e2e: dedupd exited with {proc.returncode} (log: {log_path})")
                c = metric(port, "dedupd_input_messages_total")
                now = time.perf_counter()
                if c is not None and c > 0 and t_first is None:
                    t_first = now
                    cpu_first, broker_first = cpu_seconds(proc.pid), cpu_seconds(broker_pid)
                if c is not None and c >= n:
                    t_done = now
                    break
                if c is not None and c - last >= n / 10:
                    progress(f"dedupd run {mode}: {int(c)}/{n}")
                    last = c
                time.sleep(0.05)
            if t_done is None:
                proc.kill()
                sys.exit(f"e2e: dedupd {mode} did not process {n} messages in {args.timeout} s")
            cpu_done, broker_done = cpu_seconds(proc.pid), cpu_seconds(broker_pid)
            rss = rss_bytes(proc.pid)
            # every input's event, committed: wait for the last commit
            events = 0
            for _ in range(100):
                events = kcat_count(bootstrap, f"bench-events-{tag}")
                if events >= n:
                    break
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            secs = t_done - t_first
            result["modes"][mode] = {
                "startup_seconds": t_first - t_launch, "processing_seconds": secs,
                "pages_per_s": n / secs, "mb_per_s": value_bytes / secs / 1e6,
                "ratio_to_kcat": (n / secs) / result["kcat"]["pages_per_s"],
                "dedupd_cpu_seconds": cpu_done - cpu_first, "broker_cpu_seconds": broker_done - broker_first,
                "rss_bytes": rss, "events_committed": events, "exit_code": proc.returncode}
            if events != n:
                sys.exit(f"e2e: {events} committed events for {n} inputs in mode {mode} (log: {log_path})")
    finally:
        subprocess.run([os.path.join(ROOT, "scripts", "kafka"), "stop", "--dir", kdir],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
