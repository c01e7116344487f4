#!/usr/bin/env python3
"""Quality of dedupd against a MinHash LSH and a SimHash pipeline on the
labelled corpus (tests/data/corpus), all scored by scripts/eval-corpus.py's
own rules (imported, not copied), plus precision/recall sweeps over dedupd's
near-duplicate thresholds and the baselines' settings.

   bench/quality/quality.py --dedupd BUILD/daemon/app/dedupd --out DIR [--small]
                            [--gen-stream pages.jsonl --gen-expected expected.jsonl]

Writes DIR/quality.json, DIR/quality.md (tables for docs/quality.md) and
DIR/quality-pr.png. Needs the bench venv (datasketch, simhash, matplotlib):
bench/run creates it. See docs/quality.md for the method."""
import argparse
import importlib.util
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import baselines  # noqa: E402


def load_scorer():
    spec = importlib.util.spec_from_file_location("eval_corpus", os.path.join(ROOT, "scripts", "eval-corpus.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ev = load_scorer()
TARGET_P, TARGET_R = 0.98, 0.95

SWEEPS_FULL = {
    "detect.near_dup_containment": [0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99],
    "detect.near_dup_jaccard": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
    "minhash.threshold": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
    "simhash.k": [1, 2, 3, 4, 6, 8, 10, 12, 16, 20],
}
SWEEPS_SMALL = {
    "detect.near_dup_containment": [0.5, 0.8, 0.95],
    "detect.near_dup_jaccard": [0.1, 0.3, 0.6],
    "minhash.threshold": [0.5, 0.8],
    "simhash.k": [3, 8],
}
DOC_MINHASH = 0.5  # datasketch's documented example threshold
DOC_SIMHASH = 3    # the simhash README's k


def summary(res):
    c = res["copy"]
    p, r = c["precision"], c["recall"]
    return {"copy_precision": p, "copy_recall": r, "copy_f1": 2 * p * r / (p + r) if p + r else 0.0,
            "false_revised": len(res["false_revised"])}


def read_messages(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f]


def run_baseline(kind, setting, prepared):
    engine = baselines.MinHashEngine(threshold=setting) if kind == "minhash" else baselines.SimHashEngine(k=setting)
    return baselines.Stream(engine).run(prepared)


def false_revised_by_label(res, expected):
    by_line = {e["line"]: e["label"] for e in expected}
    out = {}
    for line in res["false_revised"]:
        out[by_line[line]] = out.get(by_line[line], 0) + 1
    return out


def fmt_pr(s):
    return f"{s['precision']:.3f} / {s['recall']:.3f}"


def target_text(p, r):
    dp, dr = p - TARGET_P, r - TARGET_R
    parts = [f"precision {p:.3f} ({'met' if dp >= 0 else 'missed'} by {abs(dp):.3f})",
             f"recall {r:.3f} ({'met' if dr >= 0 else 'missed'} by {abs(dr):.3f})"]
    return ", ".join(parts)


def plot(sweeps, defaults, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(13, 6), dpi=110)
    styles = {"detect.near_dup_containment": ("dedupd, near_dup_containment (jaccard 0.3)", "C0", "o"),
              "detect.near_dup_jaccard": ("dedupd, near_dup_jaccard (containment 0.8)", "C2", "s"),
              "minhash.threshold": ("datasketch MinHash LSH, threshold", "C1", "^"),
              "simhash.k": ("simhash SimhashIndex, k", "C3", "v")}
    for ax, zoom in zip(axes, (False, True)):
        for name, pts in sweeps.items():
            label, color, marker = styles[name]
            xs = [p["copy_recall"] for p in pts]
            ys = [p["copy_precision"] for p in pts]
            ax.plot(xs, ys, marker=marker, color=color, label=label, linewidth=1.2, markersize=5)
            for p in pts:
                if zoom and not (p["copy_recall"] >= 0.9 and p["copy_precision"] >= 0.9):
                    continue
                ax.annotate(f"{p['value']:g}", (p["copy_recall"], p["copy_precision"]), fontsize=7,
                            xytext=(3, 3), textcoords="offset points", color=color)
        for label, d, marker in defaults:
            ax.plot([d["copy_recall"]], [d["copy_precision"]], marker=marker, color="black", markersize=11,
                    fillstyle="none", linestyle="none", label=label)
        ax.axhline(TARGET_P, color="grey", linestyle="--", linewidth=0.8)
        ax.axvline(TARGET_R, color="grey", linestyle="--", linewidth=0.8)
        if zoom:
            ax.set_xlim(0.9, 1.005)
            ax.set_ylim(0.9, 1.005)
            ax.fill_between([TARGET_R, 1.005], TARGET_P, 1.005, color="green", alpha=0.07)
            ax.text(TARGET_R + 0.002, TARGET_P - 0.006, "targets: precision >= 0.98, recall >= 0.95",
                    fontsize=7, color="grey")
            ax.set_title("zoom: the target region (shaded)", fontsize=10)
        else:
            ax.set_title("Labelled corpus (1,594 messages): precision/recall by threshold", fontsize=10)
            ax.legend(fontsize=7, loc="lower left")
        ax.set_xlabel('recall of "is a copy" (DUPLICATE + NEAR_DUPLICATE, match checked)')
        ax.set_ylabel('precision of "is a copy"')
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dedupd", required=True)
    ap.add_argument("--corpus", default=os.path.join(ROOT, "tests/data/corpus"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--small", action="store_true", help="fewer sweep points (CI)")
    ap.add_argument("--gen-stream")
    ap.add_argument("--gen-expected")
    ap.add_argument("--no-gen-baselines", action="store_true", help="only dedupd on the generated stream")
    ap.add_argument("--progress", help="file to append progress lines to")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    def progress(msg):
        if args.progress:
            with open(args.progress, "a") as f:
                f.write(msg + "\n")

    corpus_file = os.path.join(args.corpus, "dev.jsonl")
    expected = read_messages(os.path.join(args.corpus, "dev-expected.jsonl"))
    messages = read_messages(corpus_file)
    result = {"lines": len(expected), "engines": {}, "sweeps": {}}

    # dedupd at its defaults, scored exactly as scripts/eval-corpus.py scores it
    progress("dedupd at defaults")
    got = ev.run_dedupd(args.dedupd, corpus_file, [])
    res_dedupd = ev.score(expected, got)
    result["dedupd_markdown"] = ev.markdown(res_dedupd)

    progress("baseline fingerprints")
    t0 = time.process_time()
    prepared = baselines.prepare(messages)
    result["baseline_prepare_cpu_s"] = time.process_time() - t0

    engines = {}
    engines["dedupd (defaults)"] = ("dedupd", "defaults", res_dedupd)
    for kind, setting, name in (("minhash", DOC_MINHASH, "datasketch MinHash LSH"),
                                ("simhash", DOC_SIMHASH, "simhash SimhashIndex")):
        progress(f"{name} {setting}")
        engines[f"{name} (documented setting)"] = (kind, setting, ev.score(expected, run_baseline(kind, setting, prepared)))

    sweeps = SWEEPS_SMALL if args.small else SWEEPS_FULL
    for name, values in sweeps.items():
        pts = []
        for v in values:
            progress(f"sweep {name}={v}")
            if name.startswith("detect."):
                res = ev.score(expected, ev.run_dedupd(args.dedupd, corpus_file, [f"{name}={v}"]))
            else:
                res = ev.score(expected, run_baseline(name.split(".")[0], v, prepared))
            pts.append(dict(value=v, **summary(res), per_verdict=res["per_verdict"]))
        result["sweeps"][name] = pts

    # sensitivity: the same engines when the HTML strip also drops nav/footer/header/aside
    if not args.small:
        progress("baseline fingerprints, chrome-aware strip")
        prepared_chrome = baselines.prepare(messages, strip="chrome")
        for kind, setting, name in (("minhash", DOC_MINHASH, "datasketch MinHash LSH"),
                                    ("simhash", DOC_SIMHASH, "simhash SimhashIndex")):
            engines[f"{name} (documented setting, nav/footer dropped)"] = (
                kind, setting, ev.score(expected, run_baseline(kind, setting, prepared_chrome)))

    # each baseline at its best setting on this corpus (best copy F1, then precision)
    for kind, name in (("minhash", "datasketch MinHash LSH"), ("simhash", "simhash SimhashIndex")):
        pts = result["sweeps"][f"{kind}.{'threshold' if kind == 'minhash' else 'k'}"]
        best = max(pts, key=lambda p: (round(p["copy_f1"], 6), p["copy_precision"]))
        engines[f"{name} (best on corpus)"] = (kind, best["value"], ev.score(expected, run_baseline(kind, best["value"], prepared)))

    rows = []
    for label, (kind, setting, res) in engines.items():
        s = summary(res)
        setting_text = setting if kind == "dedupd" else (f"threshold={setting:g}" if kind == "minhash" else f"k={setting}")
        result["engines"][label] = {"kind": kind, "setting": setting_text, **s, "per_verdict": res["per_verdict"],
                                    "per_label": res["per_label"],
                                    "false_revised_by_label": false_revised_by_label(res, expected)}
        pv = res["per_verdict"]
        rows.append(f"| {label} | {setting_text} | **{s['copy_precision']:.3f}** | **{s['copy_recall']:.3f}** | "
                    f"{s['false_revised']} | " + " | ".join(fmt_pr(pv[v]) for v in ev.VERDICTS) + " |")

    md = ["### Side by side on the corpus (same stream, same order, same scorer)", "",
          "| engine | setting | copy precision | copy recall | false REVISED | " +
          " | ".join(f"{v} P / R" for v in ev.VERDICTS) + " |",
          "|---|---|---:|---:|---:|" + "---:|" * len(ev.VERDICTS)] + rows
    d = result["engines"]["dedupd (defaults)"]
    result["targets"] = {"copy_precision": d["copy_precision"], "copy_recall": d["copy_recall"],
                         "precision_target": TARGET_P, "recall_target": TARGET_R,
                         "text": target_text(d["copy_precision"], d["copy_recall"])}
    md += ["", f"Target (DUPLICATE + NEAR_DUPLICATE together, precision >= {TARGET_P}, recall >= {TARGET_R}): "
           f"dedupd {result['targets']['text']}.", ""]

    md += ["### False REVISED by label", "", "| engine | false REVISED | by label |", "|---|---:|---|"]
    for label, e in result["engines"].items():
        by = ", ".join(f"{k} {v}" for k, v in sorted(e["false_revised_by_label"].items())) or "none"
        md.append(f"| {label} | {e['false_revised']} | {by} |")

    labels = list(res_dedupd["per_label"])
    names = list(result["engines"])
    md += ["", "### Accuracy per label (right / total)", "",
           "| label | lines | " + " | ".join(names) + " |", "|---|---:|" + "---:|" * len(names)]
    for lab in labels:
        total = res_dedupd["per_label"][lab]["total"]
        md.append(f"| {lab} | {total} | " + " | ".join(
            f"{result['engines'][n]['per_label'][lab]['right']}" for n in names) + " |")

    md += ["", "### Threshold sweeps (copy precision / recall / F1, false REVISED)", ""]
    for name, pts in result["sweeps"].items():
        md += [f"`{name}`:", "", "| value | copy precision | copy recall | F1 | false REVISED | NEAR_DUPLICATE P / R |",
               "|---:|---:|---:|---:|---:|---:|"]
        for p in pts:
            md.append(f"| {p['value']:g} | {p['copy_precision']:.3f} | {p['copy_recall']:.3f} | {p['copy_f1']:.3f} | "
                      f"{p['false_revised']} | {fmt_pr(p['per_verdict']['NEAR_DUPLICATE'])} |")
        md.append("")

    # The generated stream (synthetic recombinations; designed labels): targeted checks
    if args.gen_stream and args.gen_expected:
        progress("generated stream")
        gexp = read_messages(args.gen_expected)
        gmsgs = read_messages(args.gen_stream)
        gres = {"dedupd (defaults)": ev.score(gexp, ev.run_dedupd(args.dedupd, args.gen_stream, []))}
        if not args.no_gen_baselines:
            gprep = baselines.prepare(gmsgs)
            gres[f"datasketch MinHash LSH (threshold={DOC_MINHASH:g})"] = ev.score(gexp, run_baseline("minhash", DOC_MINHASH, gprep))
            gres[f"simhash SimhashIndex (k={DOC_SIMHASH})"] = ev.score(gexp, run_baseline("simhash", DOC_SIMHASH, gprep))
        glabels = sorted({e["label"] for e in gexp})
        result["generated"] = {}
        md += [f"### Generated stream ({len(gexp)} messages, synthetic recombinations, designed labels)", "",
               "| engine | copy precision | copy recall | false REVISED | " + " | ".join(glabels) + " |",
               "|---|---:|---:|---:|" + "---:|" * len(glabels)]
        for name, res in gres.items():
            s = summary(res)
            result["generated"][name] = {**s, "per_label": res["per_label"],
                                         "false_revised_by_label": false_revised_by_label(res, gexp)}
            md.append(f"| {name} | {s['copy_precision']:.3f} | {s['copy_recall']:.3f} | {s['false_revised']} | " +
                      " | ".join(f"{res['per_label'][l]['right']}/{res['per_label'][l]['total']}" for l in glabels) + " |")
        md.append("")

    plot(result["sweeps"],
         [("dedupd defaults", result["engines"]["dedupd (defaults)"], "o"),
          ("MinHash documented (0.5)", result["engines"]["datasketch MinHash LSH (documented setting)"], "^"),
          ("SimHash documented (k=3)", result["engines"]["simhash SimhashIndex (documented setting)"], "v")],
         os.path.join(args.out, "quality-pr.png"))
    result["markdown"] = "\n".join(md)
    with open(os.path.join(args.out, "quality.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(args.out, "quality.md"), "w") as f:
        f.write(result["dedupd_markdown"] + "\n\n" + result["markdown"] + "\n")
    print(result["markdown"])


if __name__ == "__main__":
    main()
