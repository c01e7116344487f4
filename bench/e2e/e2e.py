#!/usr/bin/env python3
"""End-to-end throughput through a real local Kafka broker: N generated pages
are produced to a topic, then `kcat -C -e -o beginning` reads the topic (the
plain reading rate: the yardstick), then `dedupd run` processes the same topic
to the end, once per processing mode, each from an empty state.

   bench/e2e/e2e.py --dedupd BUILD/daemon/app/dedupd --create-topic BUILD/bench/e2e/bench_create_topic \
       --input pages.jsonl --work /tmp/e2e --json e2e.json [--modes at_least_once,exactly_once]

Timing of a dedupd run: its /metrics counter dedupd_input_messages_total is
polled every --poll-interval (0.2 s; every 10 ms until the first message is
seen and once the last is due within two intervals); "processing" is from the first poll that sees a message
to the first that sees all N (start-up, group join and the fingerprint-topic
bootstrap are reported separately as "start-up"). Afterwards the committed
(read_committed) page-events are counted and must equal N. CPU seconds of
dedupd and of the broker over the processing window come from /proc (and
for kcat from its rusage), so that the CPU cost per page can be compared
when the wall-clock rates are distorted by other load on the machine.
Starts its own broker (scripts/kafka start --port 0 --dir WORK/kafka) and
stops it at the end; stops only the processes it started, by pid.

Comparing builds or settings (issue #12): --dedupd may be given several
times as LABEL=PATH [--flag=value ...] (flags added to that run's command
line); with --rounds R every (build, mode) runs R times in alternation, so
that all of them go through the same minutes of a shared machine. --perf DIR
attaches `perf record -e cpu-clock -g` to each dedupd for its processing
window (DIR/LABEL-MODE-ROUND.data; --perf-call-graph dwarf to see the callers
inside libraries built without frame pointers). --latency 0.5,1 then runs each build
that exports dedupd_event_latency_seconds again, on a fresh topic, fed at
that fraction of its own median rate (kcat -P fed line by line at a steady
pace), and reports p50/p99 of the histogram (interpolated within buckets).

Warm-up: a broker started a minute ago spends much of its CPU compiling
(in the first 30,000-page dedupd run, 57% of its samples were its C1/C2
JIT threads, and its CPU per page was 4x that of a warm one). Before
anything is measured, kcat reads the topic once and the first build runs
--warmup-runs times (3) in every mode, each into its own topics; their
figures are kept under "warmup". --perf-broker DIR records the broker during
each run (bench/e2e/broker_threads.py splits the profiles by JVM thread)."""
import argparse
import json
import os
import re
import resource
import shlex
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
    stat = proc_stat(pid)
    return None if stat is None else stat[0] + stat[1]


def proc_stat(pid):
    """(user, system) CPU seconds and minor page faults of a process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) / TICK, int(fields[12]) / TICK, int(fields[7])  # utime, stime, minflt
    except OSError:
        return None


def io_bytes(pid):
    """Bytes the process handed to write() (wchar) and sent to the block layer (write_bytes)."""
    try:
        with open(f"/proc/{pid}/io") as f:
            fields = dict(line.split(": ") for line in f.read().splitlines())
        return int(fields["wchar"]), int(fields["write_bytes"])
    except (OSError, KeyError, ValueError):
        return None


def thread_cpu(pid):
    """CPU seconds of a process's threads, summed by thread name (rdk:broker1,
    rocksdb:high, ...; the main and worker threads are named dedupd)."""
    by_name = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return by_name
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                head, rest = f.read().rsplit(")", 1)
            fields = rest.split()
            name = head.split("(", 1)[1]
            by_name[name] = by_name.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, IndexError, ValueError):
            continue
    return by_name


def snapshot(pid):
    """What the per-page figures of a window are taken from, at one end of it."""
    return {"cpu": cpu_seconds(pid), "stat": proc_stat(pid), "io": io_bytes(pid), "threads": thread_cpu(pid)}


def per_page(first, done, pages):
    """dedupd's CPU, kernel time, minor faults, writes and CPU by thread per
    page between two snapshots (None where a figure could not be read)."""
    stat = first["stat"] and done["stat"]
    io = first["io"] and done["io"]
    return {
        "dedupd_cpu_ms_per_page": (done["cpu"] - first["cpu"]) * 1000 / pages,
        # of which in the kernel, and the minor page faults (memory the
        # process touched for the first time, or again after returning it)
        "dedupd_sys_ms_per_page": (done["stat"][1] - first["stat"][1]) * 1000 / pages if stat else None,
        "dedupd_minor_faults_per_page": (done["stat"][2] - first["stat"][2]) / pages if stat else None,
        # what dedupd wrote (the state store, its logs): handed to write(),
        # and what reached the block layer
        "dedupd_wchar_bytes_per_page": (done["io"][0] - first["io"][0]) / pages if io else None,
        "dedupd_write_bytes_per_page": (done["io"][1] - first["io"][1]) / pages if io else None,
        # CPU by thread name (a thread that ended in the window is missed)
        "dedupd_thread_cpu_ms_per_page": {
            name: (secs - first["threads"].get(name, 0.0)) * 1000 / pages
            for name, secs in sorted(done["threads"].items())
            if secs - first["threads"].get(name, 0.0) > 0},
    }


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


def histogram(port, name):
    """The cumulative buckets [(le, count)], the count and the sum of a histogram."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    buckets = []
    for m in re.finditer(rf'^{name}_bucket{{[^}}]*le="([^"]+)"[^}}]*}} ([0-9.e+]+)$', text, re.M):
        buckets.append((float(m.group(1)), float(m.group(2))))
    if not buckets:
        return None
    count = float(re.search(rf"^{name}_count(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M).group(1))
    total = float(re.search(rf"^{name}_sum(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M).group(1))
    return sorted(buckets), count, total


def quantile(buckets, q):
    """Prometheus' histogram_quantile: linear within the bucket."""
    total = buckets[-1][1]
    if total == 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return lower
            return lower + (le - lower) * (rank - below) / max(count - below, 1e-9)
        lower, below = le, count
    return lower


def parse_builds(specs):
    builds = []
    for spec in specs:
        words = shlex.split(spec)
        label, _, path = words[0].rpartition("=")
        builds.append({"label": label or f"b{len(builds)}", "path": path, "flags": words[1:]})
    return builds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dedupd", required=True, action="append", help="[LABEL=]PATH [--flag=value ...]")
    ap.add_argument("--create-topic", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--modes", default="at_least_once,exactly_once")
    ap.add_argument("--kcat-rounds", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1, help="alternating rounds of every (build, mode)")
    ap.add_argument("--perf", help="directory for perf record profiles of the processing window")
    ap.add_argument("--perf-call-graph", default="fp",
                    help="perf record --call-graph: fp (default), or dwarf (callers through libraries "
                         "built without frame pointers, e.g. libzstd; large files: use a smaller --input)")
    ap.add_argument("--perf-broker", help="directory for perf record profiles of the broker (JVM) during "
                                          "each run's processing window; its JIT symbols are written to "
                                          "/tmp/perf-PID.map (jcmd Compiler.perfmap) before it stops")
    ap.add_argument("--latency", default="", help="fractions of the measured rate, e.g. 0.5,1")
    ap.add_argument("--latency-builds", default="", help="labels of the builds to measure latency of (all)")
    ap.add_argument("--warmup-runs", type=int, default=3,
                    help="unmeasured runs of the first build, each mode, before the measured ones: "
                         "the broker's JIT compiles its produce and transaction paths meanwhile")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per dedupd run")
    ap.add_argument("--poll-interval", type=float, default=0.2,
                    help="seconds between two reads of dedupd's /metrics during a run (0.05 until "
                         "session 8: rendering the metrics 20 times a second cost ~4%% of dedupd's CPU)")
    ap.add_argument("--steady-from", type=float, default=0,
                    help="also report CPU per page over the pages after this fraction of the run "
                         "(e.g. 0.5: the second half), once the process has grown")
    ap.add_argument("--json", required=True)
    ap.add_argument("--progress", help="file to append progress lines to")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    builds = parse_builds(args.dedupd)
    single = len(builds) == 1 and args.rounds == 1

    def progress(msg):
        if args.progress:
            with open(args.progress, "a") as f:
                f.write(f"{time.strftime('%H:%M:%S')} {msg} (load {os.getloadavg()[0]:.2f})\n")

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
    result = {"messages": n, "value_bytes": value_bytes, "modes": {}, "runs": [], "latency": []}

    kdir = os.path.join(args.work, "kafka")
    progress("starting the broker")
    out = subprocess.run([os.path.join(ROOT, "scripts", "kafka"), "start", "--port", "0", "--dir", kdir],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if out.returncode != 0:
        sys.exit("e2e: broker did not start: " + out.stderr[-2000:])
    bootstrap = re.search(r"bootstrap=(\S+)", out.stdout).group(1)
    with open(os.path.join(kdir, "kafka.pid")) as f:
        broker_pid = int(f.read().strip())

    def start_dedupd(build, mode, tag, topic):
        port = free_port()
        log_path = os.path.join(args.work, f"dedupd-{tag}.log")
        cmd = [build["path"], "run",  # built-in defaults: every key of config/dedupd.yaml
               f"--kafka.bootstrap_servers={bootstrap}", "--kafka.partitions=1",
               f"--kafka.group_id=bench-{tag}", f"--kafka.transactional_id=bench-{tag}",
               f"--topics.input={topic}", f"--topics.events=bench-events-{tag}",
               f"--topics.diffs=bench-diffs-{tag}", f"--topics.dlq=bench-dlq-{tag}",
               f"--topics.state=bench-state-{tag}", f"--topics.fingerprints=bench-fingerprints-{tag}",
               f"--state.dir={os.path.join(args.work, 'state-' + tag)}", f"--processing.mode={mode}",
               f"--metrics.port={port}", "--metrics.bind=127.0.0.1", "--log.level=warn"] + build["flags"]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        return proc, port, log_path

    def stop_dedupd(proc):
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def committed_events(tag, want):
        events = 0
        for _ in range(100):
            events = kcat_count(bootstrap, f"bench-events-{tag}")
            if events >= want:
                break
            time.sleep(0.2)
        return events

    def run_once(build, mode, rnd, topic, tag=None):
        if tag is None:
            tag = f"{build['label']}-{mode.replace('_', '-')}-{rnd}" if not single else mode.replace("_", "-")
        progress(f"dedupd run {tag}")
        t_launch = time.perf_counter()
        proc, port, log_path = start_dedupd(build, mode, tag, topic)
        t_first = t_done = None
        first = broker_first = None
        steady = None
        perf = perf_broker = None
        deadline = t_launch + args.timeout
        last = 0
        while time.perf_counter() < deadline:
            if proc.poll() is not None:
                sys.exit(f"e2e: dedupd exited with {proc.returncode} (log: {log_path})")
            c = metric(port, "dedupd_input_messages_total")
            now = time.perf_counter()
            if c is not None and c > 0 and t_first is None:
                t_first = now
                first, broker_first = snapshot(proc.pid), cpu_seconds(broker_pid)
                if args.perf:
                    os.makedirs(args.perf, exist_ok=True)
                    perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock",
                                             "--call-graph", args.perf_call_graph, "-p", str(proc.pid),
                                             "-o", os.path.join(args.perf, f"{tag}.data")],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if args.perf_broker:
                    os.makedirs(args.perf_broker, exist_ok=True)
                    perf_broker = subprocess.Popen(
                        ["perf", "record", "-e", "cpu-clock", "-g", "-p", str(broker_pid),
                         "-o", os.path.join(args.perf_broker, f"{tag}-broker.data")],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if (args.steady_from and steady is None and c is not None and c >= args.steady_from * n
                    and c < n):
                # The later part of the run, once the process has grown (its
                # fetch queue, memtables and indexes touched for the first time)
                steady = {"pages": c, "t": now, "at": snapshot(proc.pid)}
            if c is not None and c >= n:
                t_done = now
                break
            if c is not None and c - last >= n / 10:
                progress(f"dedupd run {tag}: {int(c)}/{n}")
                last = c
            # Until the first message is seen, poll every 10 ms: a fast run of a
            # small stream can otherwise be over between two polls (processing 0 s).
            # Likewise once the end is due within two intervals: with 0.2 s polls
            # throughout, a 2.5 s run's time came in 0.2 s steps (the rates of a
            # series fell on 10.5k, 11.3k, 12.2k pages/s), an 8% resolution.
            fine = t_first is None
            if not fine and c is not None and c > 0 and now > t_first:
                rate = c / (now - t_first)
                fine = (n - c) / rate < 2 * args.poll_interval
            time.sleep(min(args.poll_interval, 0.01) if fine else args.poll_interval)
        if t_done is None:
            proc.kill()
            sys.exit(f"e2e: dedupd {tag} did not process {n} messages in {args.timeout} s")
        done, broker_done = snapshot(proc.pid), cpu_seconds(broker_pid)
        for p in (perf, perf_broker):
            if p is not None:
                p.send_signal(signal.SIGINT)
                p.wait()
        rss = rss_bytes(proc.pid)
        # every input's event, committed: wait for the last commit
        events = committed_events(tag, n)
        # How long commits held the loop (dedupd_commit_seconds; None from a
        # build without it): the share of the run the loop decided nothing.
        commits = histogram(port, "dedupd_commit_seconds")
        stop_dedupd(proc)
        secs = t_done - t_first
        if secs <= 0:
            sys.exit(f"e2e: dedupd {tag} processed all {n} messages between two polls of /metrics; "
                     f"use a larger --input or a smaller --poll-interval")
        run = {"label": build["label"], "mode": mode, "round": rnd, "flags": build["flags"],
               "startup_seconds": t_first - t_launch, "processing_seconds": secs,
               "pages_per_s": n / secs, "mb_per_s": value_bytes / secs / 1e6,
               "ratio_to_kcat": (n / secs) / result["kcat"]["pages_per_s"] if "kcat" in result else None,
               "dedupd_cpu_seconds": done["cpu"] - first["cpu"], "broker_cpu_seconds": broker_done - broker_first,
               **per_page(first, done, n),
               "broker_cpu_ms_per_page": (broker_done - broker_first) * 1000 / n,
               "steady": None if steady is None else {
                   "from_page": steady["pages"], "pages": n - steady["pages"],
                   "pages_per_s": (n - steady["pages"]) / (t_done - steady["t"]) if t_done > steady["t"] else None,
                   **per_page(steady["at"], done, n - steady["pages"])},
               "rss_bytes": rss, "events_committed": events, "exit_code": proc.returncode,
               "commits": commits[1] if commits else None,
               "commit_seconds": commits[2] if commits else None,
               "commit_share": commits[2] / secs if commits else None,
               "load": os.getloadavg()[0]}
        progress(f"  {tag}: {run['pages_per_s']:.0f} pages/s, dedupd {run['dedupd_cpu_ms_per_page']:.3f} "
                 f"ms CPU/page, broker {run['broker_cpu_ms_per_page']:.3f}"
                 + (f", {commits[1]:.0f} commits holding the loop {run['commit_share']:.0%} of the time"
                    if commits else ""))
        if events != n:
            sys.exit(f"e2e: {events} committed events for {n} inputs in {tag} (log: {log_path})")
        return run

    def run_latency(build, mode, fraction, rate):
        tag = f"lat-{build['label']}-{mode.replace('_', '-')}-{fraction}"
        topic = f"bench-pages-{tag}"
        subprocess.run([args.create_topic, bootstrap, topic, "1"], check=True)
        progress(f"latency {tag}: {rate:.0f} pages/s")
        proc, port, log_path = start_dedupd(build, mode, tag, topic)
        for _ in range(600):  # until it is ready (assigned, restored)
            if metric(port, "dedupd_ready") == 1 and metric(port, "dedupd_assigned_partitions") == 1:
                break
            if proc.poll() is not None:
                sys.exit(f"e2e: dedupd exited with {proc.returncode} (log: {log_path})")
            time.sleep(0.1)
        cpu0, broker0 = cpu_seconds(proc.pid), cpu_seconds(broker_pid)
        feeder = subprocess.Popen(["kcat", "-P", "-b", bootstrap, "-t", topic, "-K", "\x1f",
                                   "-X", "message.max.bytes=10485760", "-X", "linger.ms=1"],
                                  stdin=subprocess.PIPE)
        t0 = time.perf_counter()
        with open(keyed, "rb") as src:
            for i, line in enumerate(src):
                due = t0 + i / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    feeder.stdin.flush()
                    time.sleep(wait)
                feeder.stdin.write(line)
        feeder.stdin.close()
        feeder.wait()
        fed = time.perf_counter() - t0
        h = None
        for _ in range(int(args.timeout * 10)):
            h = histogram(port, "dedupd_event_latency_seconds")
            if h is not None and h[1] >= n:
                break
            time.sleep(0.1)
        cpu1, broker1 = cpu_seconds(proc.pid), cpu_seconds(broker_pid)
        events = committed_events(tag, n)
        # How long commits held the loop (dedupd_commit_seconds; None from a
        # build without it): the share of the run the loop decided nothing.
        commits = histogram(port, "dedupd_commit_seconds")
        stop_dedupd(proc)
        buckets, count, total = h
        lat = {"label": build["label"], "mode": mode, "fraction": fraction, "rate": rate,
               "fed_pages_per_s": n / fed, "count": count, "mean_s": total / max(count, 1),
               "p50_s": quantile(buckets, 0.5), "p99_s": quantile(buckets, 0.99),
               "dedupd_cpu_ms_per_page": (cpu1 - cpu0) * 1000 / n,
               "broker_cpu_ms_per_page": (broker1 - broker0) * 1000 / n,
               "events_committed": events, "load": os.getloadavg()[0]}
        progress(f"  {tag}: p50 {lat['p50_s']:.3f} s, p99 {lat['p99_s']:.3f} s, fed at {lat['fed_pages_per_s']:.0f}/s")
        return lat

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

        # A broker started a minute ago is not what dedupd meets in production:
        # in the first 30,000-page run, half of the broker's CPU was its JIT
        # compilers (C1/C2 threads), 26% still in the third (docs/benchmarks.md,
        # "Session 13"). Unmeasured runs over the same topic first: a kcat read
        # (the fetch path) and dedupd in every mode (produce, transactions,
        # offset commits), each into its own topics.
        result["warmup"] = []
        if args.warmup_runs > 0:
            progress("warm-up: kcat read")
            with open(os.devnull, "wb") as devnull:
                subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q"],
                               stdout=devnull, stderr=subprocess.DEVNULL, check=True)
        for i in range(args.warmup_runs):
            for mode in [m for m in args.modes.split(",") if m]:
                w = run_once(builds[0], mode, i, topic, tag=f"warmup-{mode.replace('_', '-')}-{i}")
                result["warmup"].append({k: w[k] for k in ("mode", "round", "pages_per_s",
                                                            "dedupd_cpu_ms_per_page", "broker_cpu_ms_per_page")})

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
        progress(f"kcat: {n / kc:.0f} pages/s")

        modes = [m for m in args.modes.split(",") if m]
        for rnd in range(args.rounds):
            for build in builds:
                for mode in modes:
                    result["runs"].append(run_once(build, mode, rnd, topic))
        # medians per (build, mode); the single-build form keeps its old keys
        summary = {}
        for build in builds:
            for mode in modes:
                runs = [r for r in result["runs"] if r["label"] == build["label"] and r["mode"] == mode]
                med = {k: statistics.median(r[k] for r in runs)
                       for k in ("processing_seconds", "pages_per_s", "mb_per_s", "ratio_to_kcat",
                                 "dedupd_cpu_seconds", "broker_cpu_seconds", "dedupd_cpu_ms_per_page",
                                 "broker_cpu_ms_per_page", "startup_seconds", "rss_bytes")}
                med.update({"events_committed": runs[-1]["events_committed"], "exit_code": runs[-1]["exit_code"],
                            "runs": len(runs)})
                summary.setdefault(build["label"], {})[mode] = med
        if single:
            result["modes"] = summary[builds[0]["label"]]
        else:
            result["modes"] = summary

        for fraction in [float(f) for f in args.latency.split(",") if f]:
            for build in builds:
                if args.latency_builds and build["label"] not in args.latency_builds.split(","):
                    continue
                for mode in modes:
                    rate = summary[build["label"]][mode]["pages_per_s"] * fraction
                    result["latency"].append(run_latency(build, mode, fraction, rate))
    finally:
        if args.perf_broker:
            subprocess.run(["jcmd", str(broker_pid), "Compiler.perfmap"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([os.path.join(ROOT, "scripts", "kafka"), "stop", "--dir", kdir],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
