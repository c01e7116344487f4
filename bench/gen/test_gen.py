#!/usr/bin/env python3
"""Unit test of the stream generator (CTest: bench_gen_reproducible): the same
seed gives the same bytes, another seed other bytes; every message meets the
input contract; the expected file is aligned and every scenario occurs."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = {"new", "rescrape", "rescrape_whitespace", "revision", "duplicate", "syndicated", "doubled",
             "same_topic", "rescrape_doubled", "rescrape_template"}


def gen(tmp, name, seed, pages=800):
    out, exp = os.path.join(tmp, name + ".jsonl"), os.path.join(tmp, name + ".expected.jsonl")
    subprocess.run([sys.executable, os.path.join(HERE, "gen.py"), "--pages", str(pages), "--seed", str(seed),
                    "--out", out, "--expected", exp, "--quiet"], check=True)
    return open(out, "rb").read(), open(exp, "rb").read()


def main():
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        a, ea = gen(tmp, "a", 5)
        b, eb = gen(tmp, "b", 5)
        c, _ = gen(tmp, "c", 6)
        if a != b or ea != eb:
            failures.append("the same seed gave different streams")
        if a == c:
            failures.append("two seeds gave the same stream")
        msgs = [json.loads(l) for l in a.decode().splitlines()]
        exps = [json.loads(l) for l in ea.decode().splitlines()]
        if len(msgs) != 800 or len(exps) != 800:
            failures.append(f"{len(msgs)} messages and {len(exps)} expected lines for 800")
        for i, (m, e) in enumerate(zip(msgs, exps), 1):
            if not (isinstance(m.get("url"), str) and m["url"].startswith("https://") and m.get("body", "").strip()):
                failures.append(f"line {i}: not a valid page: {str(m)[:100]}")
            if e["line"] != i or e["verdict"] not in ("NEW", "UNCHANGED", "REVISED", "DUPLICATE", "NEAR_DUPLICATE"):
                failures.append(f"line {i}: bad expected record {e}")
            if e["verdict"] in ("UNCHANGED", "REVISED") and e["match"] != m["url"]:
                failures.append(f"line {i}: {e['verdict']} must match its own URL")
        missing = SCENARIOS - {e["label"] for e in exps}
        if missing:
            failures.append("scenarios never generated: " + ", ".join(sorted(missing)))
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures[:20]))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
