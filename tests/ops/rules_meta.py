#!/usr/bin/env python3
"""Checks what promtool does not: every alert in the rule files has
summary, description and runbook_url annotations, a severity label of page or
ticket, a runbook_url of the form docs/runbook.md#<anchor> whose anchor is a
heading of docs/runbook.md, and at least one firing and one non-firing case in
the promtool tests. Run by tests/ops/rules_test.sh.

  rules_meta.py --runbook docs/runbook.md --rules a.yaml --tests a.test.yaml

Standard library only: the rule files are read line by line (promtool has
already parsed them in full by the time this runs).
"""
import argparse
import re
import sys


def slug(heading):
    """GitHub's heading anchor: lower case, punctuation dropped, spaces -> '-'."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def alerts(path):
    """{name: {"annotations": {k: v}, "labels": {k: v}, "line": n}}"""
    out = {}
    cur = None
    section = None
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        m = re.match(r"^\s*-\s+(alert|record):\s*(\S+)", line)
        if m:
            cur = None
            if m.group(1) == "alert":
                cur = out.setdefault(m.group(2), {"annotations": {}, "labels": {}, "line": n, "file": path})
            section = None
            continue
        if re.match(r"^\s*-\s+name:", line):
            cur = None
            continue
        if cur is None:
            continue
        m = re.match(r"^\s*(labels|annotations):\s*$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r"^\s*(expr|for|keep_firing_for):", line)
        if m:
            section = None
            continue
        m = re.match(r"^\s+([A-Za-z_][A-Za-z0-9_]*):\s*(.*)$", line)
        if m and section:
            cur[section][m.group(1)] = m.group(2).strip().strip('"').strip("'")
    return out


def test_cases(paths):
    """{alertname: {"fires": n, "quiet": n}} from promtool test files."""
    cases = {}
    for path in paths:
        lines = open(path, encoding="utf-8").read().split("\n")
        for i, line in enumerate(lines):
            m = re.match(r"^\s*alertname:\s*(\S+)", line)
            if not m:
                continue
            c = cases.setdefault(m.group(1), {"fires": 0, "quiet": 0})
            # exp_alerts is the sibling key, before or after alertname
            for j in list(range(i + 1, min(i + 4, len(lines)))) + list(range(i - 1, max(i - 4, -1), -1)):
                e = re.match(r"^\s*exp_alerts:\s*(.*)$", lines[j])
                if e:
                    c["quiet" if e.group(1).strip() == "[]" else "fires"] += 1
                    break
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runbook", required=True)
    ap.add_argument("--rules", nargs="+", required=True)
    ap.add_argument("--tests", nargs="+", required=True)
    a = ap.parse_args()

    anchors = {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$",
                                                         open(a.runbook, encoding="utf-8").read(), re.M)}
    found = {}
    for r in a.rules:
        found.update(alerts(r))
    cases = test_cases(a.tests)
    problems = []
    for name, al in sorted(found.items()):
        where = f"{al['file']}:{al['line']} {name}"
        for key in ("summary", "description", "runbook_url"):
            if not al["annotations"].get(key):
                problems.append(f"{where}: no {key} annotation")
        sev = al["labels"].get("severity")
        if sev not in ("page", "ticket"):
            problems.append(f"{where}: severity label is {sev!r}, want page or ticket")
        url = al["annotations"].get("runbook_url", "")
        m = re.fullmatch(r"docs/runbook\.md#([\w\-]+)", url)
        if not m:
            problems.append(f"{where}: runbook_url {url!r} is not docs/runbook.md#<anchor>")
        elif m.group(1) not in anchors:
            problems.append(f"{where}: runbook_url anchor #{m.group(1)} is no heading of {a.runbook}")
        c = cases.get(name, {"fires": 0, "quiet": 0})
        if not c["fires"]:
            problems.append(f"{where}: no test case where it fires")
        if not c["quiet"]:
            problems.append(f"{where}: no test case where it must not fire (exp_alerts: [])")
    for name in sorted(set(cases) - set(found)):
        problems.append(f"tests name alert {name}, which no rule file defines")
    if not found:
        problems.append("no alerts found")
    for p in problems:
        print("FAIL " + p)
    print(f"rules_meta: {len(found)} alerts, {sum(c['fires'] + c['quiet'] for c in cases.values())} test evaluations: "
          + ("ok" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
