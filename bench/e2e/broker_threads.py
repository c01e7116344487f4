#!/usr/bin/env python3
"""Where a broker's CPU went, by JVM thread group, for each profile that
`e2e.py --perf-broker DIR` recorded (perf record -e cpu-clock of the broker
during one dedupd run's processing window):

   bench/e2e/broker_threads.py DIR/*-broker.data

JIT = the C1/C2 compiler threads (a freshly started JVM compiling the code
it now runs hot), GC = the garbage collector's threads, requests = Kafka's
request handlers and network threads, other = the rest (raft, transaction
markers, log cleaner, ...). Shares of the profile's samples."""
import re
import subprocess
import sys

GROUPS = [("JIT", re.compile(r"^C[12] CompilerThre")),
          ("GC", re.compile(r"^(GC Thread|G1 )")),
          ("requests", re.compile(r"^data-plane-kafk")),
          ("other", re.compile(r"."))]


def shares(path):
    out = subprocess.run(["perf", "report", "-i", path, "--no-children", "--sort", "comm", "-g", "none",
                          "--stdio"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    total = {g: 0.0 for g, _ in GROUPS}
    samples = None
    for line in out.splitlines():
        m = re.match(r"# Samples: (\S+)", line)
        if m:
            samples = m.group(1)
        m = re.match(r"\s+([\d.]+)%\s+(.*\S)\s*$", line)
        if not m:
            continue
        for g, rx in GROUPS:
            if rx.search(m.group(2)):
                total[g] += float(m.group(1))
                break
    return samples, total


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    print("%-48s %8s " % ("profile", "samples") + " ".join("%9s" % g for g, _ in GROUPS))
    for path in sys.argv[1:]:
        samples, total = shares(path)
        print("%-48s %8s " % (path.split("/")[-1], samples) + " ".join("%8.1f%%" % total[g] for g, _ in GROUPS))


if __name__ == "__main__":
    main()
