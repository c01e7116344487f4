#!/usr/bin/env python3
"""Checks every PromQL expression that dedupd's dashboards and alert rules use.

For each expression in dashboards/*.json (panel targets and variable queries)
and in config/alerts/*.yaml (rule `expr`s):
  1. it parses: Grafana variables are substituted ($__rate_interval -> 2m,
     $job -> dedupd, ...), then all expressions go into one temporary rule
     file as recording rules and `promtool check rules` parses them;
  2. every dedupd_* metric it names exists: in the metric contract
     (tests/ops/metric_names.txt) or, with --metrics FILE, in a real /metrics
     scrape of the daemon (histograms: name_bucket/_sum/_count);
  3. every label it names (selectors, by/without/on/ignoring/group_*, and the
     panel's legend {{label}}) belongs to one of the metrics it uses.
The rule files' annotations, comments and test series are also scanned for
dedupd_* names, so a runbook hint never names a metric that does not exist.

  tests/ops/promql_test.py                        # against the contract list
  tests/ops/promql_test.py --metrics scrape.txt   # against a real scrape
  tests/ops/promql_test.py --metrics scrape.txt --lazy dedupd_kafka_errors_total
                                    # ... a family the daemon creates on first
                                    # use is checked against the contract when
                                    # the scrape does not have it
  tests/ops/promql_test.py --promtool /usr/bin/promtool --root /work/main

Python 3 standard library only. Exit status 0 when every check passes.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# Values for Grafana's built-in variables; durations must be valid PromQL.
BUILTIN_VARS = {
    "__rate_interval": "2m",
    "__interval": "1m",
    "__interval_ms": "60000",
    "__range": "6h",
    "__range_s": "21600",
    "__range_ms": "21600000",
}
# Labels every scraped series carries, added by Prometheus (job, instance)
# and, in Kubernetes, by the Prometheus Operator's ServiceMonitor or PodMonitor
# (namespace, pod: the rules keep them so two deployments stay apart).
TARGET_LABELS = {"job", "instance", "namespace", "pod"}

VAR_RE = re.compile(r"\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)(?::[^\]]*)?\]\]")
STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
# dedupd's own metrics and the Prometheus client's process_* ones (both in
# the contract).
NAME_RE = re.compile(r"(?<![A-Za-z0-9_:.])((?:dedupd|process)_[A-Za-z0-9_]+)")
SELECTOR_RE = re.compile(r"(?<![A-Za-z0-9_:])((?:dedupd|process)_[A-Za-z0-9_]+)\s*\{([^}]*)\}")
MATCHER_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"")
GROUPING_RE = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
LEGEND_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class Expr:
    def __init__(self, origin, text, legend=None):
        self.origin = origin   # "file: where"
        self.text = text       # after variable substitution
        self.legend = legend


class Failures:
    def __init__(self):
        self.items = []

    def add(self, origin, msg):
        self.items.append(f"{origin}: {msg}")


# ---------------------------------------------------------------- the known names

class Catalogue:
    """Metric names and their labels, from the contract list or a scrape."""

    def __init__(self, source):
        self.source = source
        self.labels = {}    # series name -> set of label names, or None if unknown

    def has(self, name):
        return name in self.labels

    @staticmethod
    def from_contract(path):
        cat = Catalogue(os.path.basename(path))
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.split("#", 1)[0].split()
                if not line:
                    continue
                name, kind, labels = line[0], line[1], set(line[2:])
                if kind == "histogram":
                    cat.labels[name + "_bucket"] = labels | {"le"}
                    cat.labels[name + "_sum"] = set(labels)
                    cat.labels[name + "_count"] = set(labels)
                elif kind in ("counter", "gauge"):
                    cat.labels[name] = labels
                else:
                    raise SystemExit(f"{path}: unknown metric type {kind!r} for {name}")
        return cat

    @staticmethod
    def from_scrape(path):
        """Parses the Prometheus text exposition format (0.0.4)."""
        cat = Catalogue(os.path.basename(path))
        types = {}
        sample_re = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+\S+")
        label_re = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="(?:[^"\\]|\\.)*"')
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("# TYPE "):
                    parts = line.split()
                    if len(parts) >= 4:
                        types[parts[2]] = parts[3]
                    continue
                if not line or line.startswith("#"):
                    continue
                m = sample_re.match(line)
                if not m:
                    continue
                labels = set(label_re.findall(m.group(3) or ""))
                cat.labels.setdefault(m.group(1), set()).update(labels)
        # Families declared without samples yet (a labelled counter nothing has
        # incremented) exist but their labels are unknown.
        for name, kind in types.items():
            names = [name]
            if kind == "histogram":
                names = [name + "_bucket", name + "_sum", name + "_count"]
            elif kind == "summary":
                names = [name, name + "_sum", name + "_count"]
            elif kind == "counter" and not name.endswith("_total"):
                # OpenMetrics-style family name; samples carry _total.
                names = [name + "_total"]
            for n in names:
                cat.labels.setdefault(n, None)
        if not cat.labels:
            raise SystemExit(f"{path}: no metrics found; is it a /metrics scrape?")
        return cat


# ---------------------------------------------------------------- extraction

def substitute(text, variables, origin, failures):
    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in BUILTIN_VARS:
            return BUILTIN_VARS[name]
        if name in variables:
            return variables[name]
        failures.add(origin, f"uses undefined Grafana variable ${name}")
        return "undefined_variable"
    return VAR_RE.sub(repl, text)


def label_values_inner(query):
    """label_values(EXPR, label) / query_result(EXPR) -> EXPR; else None."""
    q = query.strip()
    for fn in ("label_values", "query_result"):
        if q.startswith(fn + "(") and q.endswith(")"):
            inner = q[len(fn) + 1:-1]
            if fn == "label_values":
                # The last top-level comma separates the label name.
                depth, cut = 0, -1
                for i, c in enumerate(inner):
                    if c in "({[":
                        depth += 1
                    elif c in ")}]":
                        depth -= 1
                    elif c == "," and depth == 0:
                        cut = i
                if cut < 0:
                    return None   # label_values(label): no expression
                inner = inner[:cut]
            return inner.strip()
    return None


def walk_panels(panels):
    for p in panels or []:
        yield p
        yield from walk_panels(p.get("panels"))


def dashboard_exprs(path, failures):
    rel = os.path.relpath(path)
    with open(path, encoding="utf-8") as f:
        try:
            dash = json.load(f)
        except json.JSONDecodeError as e:
            failures.add(rel, f"invalid JSON: {e}")
            return []
    variables = {}
    for v in dash.get("templating", {}).get("list", []):
        # Any value works inside a matcher string; ".*" is what "All" sends.
        variables[v["name"]] = v.get("allValue") or "dedupd"
    out = []
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query", "")
        inner = label_values_inner(q or "")
        origin = f"{rel}: variable ${v['name']}"
        if inner is None:
            # label_values(label) has no expression to check; anything else
            # (metrics(), raw PromQL) is not something these dashboards use.
            if not re.fullmatch(r"\s*label_values\(\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*", q or ""):
                failures.add(origin, f"query {q!r} is not label_values(...) or query_result(...)")
        else:
            out.append(Expr(origin, substitute(inner, variables, origin, failures)))
    for p in walk_panels(dash.get("panels")):
        for t in p.get("targets", []) or []:
            expr = t.get("expr")
            if expr is None:
                continue
            origin = f"{rel}: panel {p.get('title')!r} target {t.get('refId')}"
            if not expr.strip():
                failures.add(origin, "empty expression")
                continue
            legend = t.get("legendFormat")
            out.append(Expr(origin, substitute(expr, variables, origin, failures), legend))
    return out


def yaml_exprs(path):
    """`expr:` values of a rule file: plain, quoted or block scalars.

    A YAML subset parser (the standard library has none): enough for rule
    files, which promtool itself checks in full in rules_test.
    """
    rel = os.path.relpath(path)
    lines = open(path, encoding="utf-8").read().split("\n")
    out = []
    key_re = re.compile(r"^(\s*)(?:-\s+)?expr:\s*(.*)$")
    alert_re = re.compile(r"^\s*(?:-\s+)?(?:alert|record):\s*(\S+)")
    current = "?"
    i = 0
    while i < len(lines):
        a = alert_re.match(lines[i])
        if a:
            current = a.group(1)
        m = key_re.match(lines[i])
        if not m:
            i += 1
            continue
        indent = len(m.group(1)) + (lines[i][len(m.group(1)):].startswith("-") and 2 or 0)
        value = m.group(2).strip()
        origin = f"{rel}: {current} (line {i + 1})"
        if value[:1] in ("|", ">"):
            block = []
            i += 1
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                block.append(lines[i])
                i += 1
            text = "\n".join(block).strip()
            if value[0] == ">":
                text = " ".join(text.split("\n"))
            out.append(Expr(origin, text))
            continue
        if value[:1] == '"':
            value = json.loads(value)
        elif value[:1] == "'":
            value = value[1:-1].replace("''", "'")
        out.append(Expr(origin, value))
        i += 1
    return out


# ---------------------------------------------------------------- checks

def check_parse(exprs, promtool, failures):
    """All expressions in one rule file; on failure, one by one to name them."""
    def run(batch):
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("groups:\n  - name: promql_test\n    rules:\n")
            for n, e in enumerate(batch):
                f.write(f"      - record: promql_test:expr_{n}\n        expr: {json.dumps(e.text)}\n")
            name = f.name
        try:
            r = subprocess.run([promtool, "check", "rules", name], capture_output=True, text=True)
            return r.returncode, (r.stdout + r.stderr).replace(name, "<expr>")
        finally:
            os.unlink(name)

    rc, _ = run(exprs)
    if rc == 0:
        return
    for e in exprs:
        rc, out = run([e])
        if rc != 0:
            msg = " ".join(l.strip() for l in out.splitlines() if l.strip() and not l.startswith("Checking"))
            failures.add(e.origin, f"does not parse: {msg}\n    expr: {e.text}")


def check_names(exprs, cat, failures):
    for e in exprs:
        bare = STRING_RE.sub('""', e.text)
        used = set(NAME_RE.findall(bare))
        known_labels = set(TARGET_LABELS)
        labels_known = True
        for name in sorted(used):
            if not cat.has(name):
                failures.add(e.origin, f"metric {name} is not in {cat.source}")
                labels_known = False
                continue
            if cat.labels[name] is None:
                labels_known = False
            else:
                known_labels |= cat.labels[name]
        for name, body in SELECTOR_RE.findall(e.text):
            if not cat.has(name) or cat.labels[name] is None:
                continue
            for label in MATCHER_RE.findall(body):
                if label not in cat.labels[name] | TARGET_LABELS:
                    failures.add(e.origin, f"{name} has no label {label!r} (labels: {sorted(cat.labels[name])})")
        if not used or not labels_known:
            continue
        for group in GROUPING_RE.findall(bare):
            for label in filter(None, (x.strip() for x in group.split(","))):
                if label not in known_labels:
                    failures.add(e.origin, f"groups or matches on label {label!r}, which none of {sorted(used)} has")
        for label in LEGEND_RE.findall(e.legend or ""):
            if label not in known_labels:
                failures.add(e.origin, f"legend uses label {label!r}, which none of {sorted(used)} has")


def check_mentions(paths, cat, failures):
    """dedupd_* names anywhere in the rule and rule-test files (annotations,
    comments, test series) must exist too."""
    for path in paths:
        rel = os.path.relpath(path)
        for n, line in enumerate(open(path, encoding="utf-8"), 1):
            for name in NAME_RE.findall(line):
                if not cat.has(name):
                    failures.add(f"{rel}:{n}", f"mentions {name}, which is not in {cat.source}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(here)), help="repository root")
    ap.add_argument("--metrics", help="a /metrics scrape of the daemon to check names against")
    ap.add_argument("--lazy", action="append", default=[], metavar="NAME[,NAME...]",
                    help="with --metrics: contract metrics the daemon only exports after their "
                         "first increment (prometheus-cpp omits a family without series); when "
                         "the scrape lacks one, it is checked against the contract instead")
    ap.add_argument("--contract", default=os.path.join(here, "metric_names.txt"))
    ap.add_argument("--promtool", default=shutil.which("promtool") or "promtool")
    ap.add_argument("--dashboards", nargs="*", help="dashboard files (default: ROOT/dashboards/*.json)")
    ap.add_argument("--rules", nargs="*", help="rule files (default: ROOT/config/alerts/*.yaml but *.test.yaml)")
    args = ap.parse_args()

    os.chdir(args.root)
    adir, ddir = "config/alerts", "dashboards"
    dashboards = args.dashboards if args.dashboards is not None else sorted(
        os.path.join(ddir, f) for f in os.listdir(ddir) if f.endswith(".json"))
    rules = args.rules if args.rules is not None else sorted(
        os.path.join(adir, f) for f in os.listdir(adir)
        if f.endswith((".yaml", ".yml")) and ".test." not in f)
    tests = sorted(os.path.join(adir, f) for f in os.listdir(adir) if ".test." in f) if args.rules is None else []
    if not dashboards or not rules:
        print(f"promql_test: nothing to check (dashboards: {dashboards}, rules: {rules})")
        return 1

    failures = Failures()
    exprs = []
    for d in dashboards:
        exprs += dashboard_exprs(d, failures)
    for r in rules:
        found = yaml_exprs(r)
        if not found:
            failures.add(r, "no expr found")
        exprs += found

    cat = Catalogue.from_scrape(args.metrics) if args.metrics else Catalogue.from_contract(args.contract)
    lazy_used = []
    if args.lazy:
        if not args.metrics:
            failures.add("--lazy", "only makes sense with --metrics")
        contract = Catalogue.from_contract(args.contract)
        for name in sorted({n.strip() for group in args.lazy for n in group.split(",") if n.strip()}):
            variants = [n for n in contract.labels if n == name or n.rsplit("_", 1)[0] == name]
            if not variants:
                failures.add("--lazy", f"{name} is not in {contract.source}")
                continue
            if all(cat.has(v) for v in variants):
                continue   # exported after all: checked against the scrape
            for v in variants:
                cat.labels.setdefault(v, contract.labels[v])
            lazy_used.append(name)
    check_parse(exprs, args.promtool, failures)
    check_names(exprs, cat, failures)
    check_mentions(rules + tests, cat, failures)

    if args.metrics:
        contract = Catalogue.from_contract(args.contract)
        missing = sorted(n for n in contract.labels if not cat.has(n))
        if missing:
            print(f"note: contract metrics absent from {cat.source} (not used by a failing check): {', '.join(missing)}")
        if lazy_used:
            print(f"note: not in {cat.source}, checked against {contract.source} as created on first use: "
                  f"{', '.join(lazy_used)}")

    for f in failures.items:
        print("FAIL " + f)
    print(f"promql_test: {len(exprs)} expressions from {len(dashboards)} dashboards and {len(rules)} rule files "
          f"checked against {cat.source}: {'ok' if not failures.items else str(len(failures.items)) + ' problems'}")
    return 1 if failures.items else 0


if __name__ == "__main__":
    sys.exit(main())
