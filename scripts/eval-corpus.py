#!/usr/bin/env python3
"""Scores dedupd's verdicts on the labelled development corpus
(tests/data/corpus, a copy of ../shared/corpus) the way its README says:
one verdict per input line in stream order; a verdict is right if it equals
`verdict` or is in `accept`; DUPLICATE/NEAR_DUPLICATE also need the right
match (`match` or any of `match_any`, trailing slash ignored).

   scripts/eval-corpus.py [--dedupd BUILD/daemon/app/dedupd] [--set KEY=VALUE ...]
                          [--json OUT.json] [--markdown OUT.md] [--min-copy-precision 0.98 ...]

Prints per-verdict precision/recall, the merged "is a copy" figure, false
REVISED, a confusion matrix and per-label accuracy. With --min-* options it
exits 1 when a target is missed (the unit test uses that)."""
import argparse
import collections
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERDICTS = ["NEW", "UNCHANGED", "REVISED", "DUPLICATE", "NEAR_DUPLICATE"]
COPY = {"DUPLICATE", "NEAR_DUPLICATE"}


def run_dedupd(binary, corpus, overrides):
    cmd = [binary, "scan", corpus]
    for o in overrides:
        cmd += ["--set", o]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        sys.exit("dedupd scan failed: " + proc.stderr.decode(errors="replace"))
    got = []
    for line in proc.stdout.decode().splitlines():
        rec = json.loads(line)
        if "event" in rec:
            e = rec["event"]
            got.append((e.get("verdict"), (e.get("match") or {}).get("url")))
        elif "dead_letter" in rec:
            got.append(("DEAD_LETTER:" + rec["dead_letter"].get("reason_code", ""), None))
        elif "skipped" in rec:
            got.append(("SKIPPED", None))
    return got


def norm(url):
    return url.rstrip("/") if url else url


def score(expected, got):
    assert len(expected) == len(got), f"{len(got)} verdicts for {len(expected)} lines: misaligned"
    confusion = collections.Counter()
    per_label = collections.defaultdict(lambda: [0, 0])
    tp = collections.Counter()
    fp = collections.Counter()
    fn = collections.Counter()
    copy = {"tp": 0, "fp": 0, "fn": 0}
    false_revised = []
    wrong = []
    for exp, (verdict, match) in zip(expected, got):
        ok_verdicts = {exp["verdict"]} | set(exp.get("accept", []))
        right_verdict = verdict in ok_verdicts
        if right_verdict and verdict in COPY:
            ok_matches = {norm(exp.get("match"))} | {norm(m) for m in exp.get("match_any", [])}
            right = norm(match) in ok_matches
        else:
            right = right_verdict
        shown = exp["verdict"] if right else verdict
        confusion[(exp["verdict"], shown)] += 1
        per_label[exp["label"]][0] += right
        per_label[exp["label"]][1] += 1
        if right:
            tp[exp["verdict"]] += 1
        else:
            fn[exp["verdict"]] += 1
            fp[verdict] += 1
            wrong.append({"line": exp["line"], "expected": exp["verdict"], "got": verdict,
                          "label": exp["label"], "match": match, "want_match": exp.get("match")})
        exp_copy = exp["verdict"] in COPY or bool(set(exp.get("accept", [])) & COPY)
        got_copy = verdict in COPY
        if got_copy and exp_copy:
            ok_matches = {norm(exp.get("match"))} | {norm(m) for m in exp.get("match_any", [])}
            if norm(match) in ok_matches:
                copy["tp"] += 1
            else:
                copy["fp"] += 1
                copy["fn"] += 1
        elif got_copy:
            copy["fp"] += 1
        elif exp_copy:
            copy["fn"] += 1
        if verdict == "REVISED" and exp["verdict"] != "REVISED":
            false_revised.append(exp["line"])
    def pr(t, f_p, f_n):
        p = t / (t + f_p) if t + f_p else 1.0
        r = t / (t + f_n) if t + f_n else 1.0
        return p, r
    result = {"lines": len(expected), "per_verdict": {}, "per_label": {}, "confusion": {},
              "false_revised": false_revised, "wrong": wrong}
    for v in VERDICTS:
        p, r = pr(tp[v], fp[v], fn[v])
        result["per_verdict"][v] = {"precision": p, "recall": r, "support": tp[v] + fn[v]}
    p, r = pr(copy["tp"], copy["fp"], copy["fn"])
    result["copy"] = {"precision": p, "recall": r, **copy}
    for label, (right, total) in sorted(per_label.items()):
        result["per_label"][label] = {"accuracy": right / total, "right": right, "total": total}
    for (e, g), n in confusion.items():
        result["confusion"].setdefault(e, {})[g] = n
    return result


def markdown(res):
    lines = ["| verdict | precision | recall | support |", "|---|---:|---:|---:|"]
    for v in VERDICTS:
        s = res["per_verdict"][v]
        lines.append(f"| {v} | {s['precision']:.3f} | {s['recall']:.3f} | {s['support']} |")
    c = res["copy"]
    lines.append(f"| **copy** (DUPLICATE + NEAR_DUPLICATE, match checked) | **{c['precision']:.3f}** | **{c['recall']:.3f}** | {c['tp'] + c['fn']} |")
    lines += ["", f"False REVISED: {len(res['false_revised'])} {res['false_revised'][:20]}", "",
              "Confusion (rows: expected, columns: got; a right verdict with a wrong match counts as the verdict it gave):", ""]
    cols = VERDICTS + sorted({g for row in res["confusion"].values() for g in row if g not in VERDICTS})
    lines.append("| expected \\ got | " + " | ".join(cols) + " |")
    lines.append("|---|" + "---:|" * len(cols))
    for e in VERDICTS:
        row = res["confusion"].get(e, {})
        lines.append(f"| {e} | " + " | ".join(str(row.get(g, 0)) for g in cols) + " |")
    lines += ["", "| label | accuracy | right / total |", "|---|---:|---:|"]
    for label, s in res["per_label"].items():
        lines.append(f"| {label} | {s['accuracy']:.3f} | {s['right']} / {s['total']} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dedupd", default=os.path.join(ROOT, "build/daemon/app/dedupd"))
    ap.add_argument("--corpus", default=os.path.join(ROOT, "tests/data/corpus"))
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    ap.add_argument("--show-wrong", type=int, default=0)
    ap.add_argument("--min-copy-precision", type=float)
    ap.add_argument("--min-copy-recall", type=float)
    ap.add_argument("--max-false-revised", type=int)
    args = ap.parse_args()
    expected = [json.loads(l) for l in open(os.path.join(args.corpus, "dev-expected.jsonl"), encoding="utf-8")]
    got = run_dedupd(args.dedupd, os.path.join(args.corpus, "dev.jsonl"), args.overrides)
    res = score(expected, got)
    md = markdown(res)
    print(md)
    for w in res["wrong"][: args.show_wrong]:
        print(json.dumps(w, ensure_ascii=False))
    if args.json:
        json.dump(res, open(args.json, "w"), indent=1)
    if args.markdown:
        open(args.markdown, "w").write(md + "\n")
    failed = []
    if args.min_copy_precision is not None and res["copy"]["precision"] < args.min_copy_precision:
        failed.append(f"copy precision {res['copy']['precision']:.3f} < {args.min_copy_precision}")
    if args.min_copy_recall is not None and res["copy"]["recall"] < args.min_copy_recall:
        failed.append(f"copy recall {res['copy']['recall']:.3f} < {args.min_copy_recall}")
    if args.max_false_revised is not None and len(res["false_revised"]) > args.max_false_revised:
        failed.append(f"false REVISED {len(res['false_revised'])} > {args.max_false_revised}")
    if failed:
        print("\nTARGETS MISSED: " + "; ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
