#!/usr/bin/env python3
"""Structural checks of dedupd's Grafana dashboards (dashboards/*.json),
beyond the PromQL that promql_test.py checks:

- valid JSON; uid stable (`dedupd-...`, equal to the file name), unique;
  top-level id null (provisioning assigns it); schemaVersion >= 38 (Grafana 10+)
- variables: `datasource` of type datasource for prometheus; `namespace`,
  `job` and `instance` query variables
- every panel and target uses the data source `${datasource}` (no hard-coded
  data source uid); panel ids unique; grid positions inside 24 columns and not
  overlapping; every panel has a title and a description
- every dedupd_* and process_* selector filters on namespace=~"$namespace",
  job=~"$job" and instance=~"$instance" (so the variables apply to every
  panel, and two deployments of one job in two namespaces stay apart)
- links to other dashboards name uids that exist

  tests/ops/dashboards_test.py [DASHBOARD.json ...]   # default: ROOT/dashboards/*.json

Standard library only.
"""
import json
import os
import re
import sys

DS = {"type": "prometheus", "uid": "${datasource}"}
SELECTOR_RE = re.compile(r"(?<![A-Za-z0-9_:])((?:dedupd|process)_[A-Za-z0-9_]+)\s*(\{[^}]*\})?")
FILTERS = ('namespace=~"$namespace"', 'job=~"$job"', 'instance=~"$instance"')


def walk(panels):
    for p in panels or []:
        yield p
        yield from walk(p.get("panels"))


def check(path, uids, problems):
    rel = os.path.relpath(path)

    def bad(msg):
        problems.append(f"{rel}: {msg}")

    try:
        d = json.load(open(path, encoding="utf-8"))
    except json.JSONDecodeError as e:
        bad(f"invalid JSON: {e}")
        return None
    uid = d.get("uid", "")
    if not re.fullmatch(r"dedupd-[a-z0-9-]{1,33}", uid):
        bad(f"uid {uid!r} is not dedupd-<name> (at most 40 characters)")
    if os.path.basename(path) != f"{uid}.json":
        bad(f"file name should be {uid}.json, so the uid stays stable with the file")
    if uid in uids:
        bad(f"uid {uid} also used by {uids[uid]}")
    uids[uid] = rel
    if d.get("id") is not None:
        bad("top-level id must be null")
    if not isinstance(d.get("schemaVersion"), int) or d["schemaVersion"] < 38:
        bad(f"schemaVersion {d.get('schemaVersion')} < 38 (Grafana 10)")
    if not d.get("title"):
        bad("no title")

    variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    dsv = variables.get("datasource")
    if not dsv or dsv.get("type") != "datasource" or dsv.get("query") != "prometheus":
        bad("no variable `datasource` of type datasource with query prometheus")
    for name in ("namespace", "job", "instance"):
        v = variables.get(name)
        if not v or v.get("type") != "query":
            bad(f"no query variable `{name}`")
        elif v.get("datasource") != DS:
            bad(f"variable `{name}` does not query ${{datasource}}")

    ids = set()
    cells = {}
    for p in walk(d.get("panels")):
        title = p.get("title") or f"id {p.get('id')}"
        pid = p.get("id")
        if pid in ids:
            bad(f"panel id {pid} used twice")
        ids.add(pid)
        g = p.get("gridPos") or {}
        if not all(isinstance(g.get(k), int) for k in "hwxy"):
            bad(f"panel {title!r}: gridPos incomplete")
            continue
        if g["x"] < 0 or g["w"] < 1 or g["x"] + g["w"] > 24:
            bad(f"panel {title!r}: gridPos outside 24 columns")
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    bad(f"panel {title!r} overlaps panel {cells[(x, y)]!r}")
                    break
                cells[(x, y)] = title
            else:
                continue
            break
        if p.get("type") == "row":
            continue
        if not p.get("title") or not p.get("description"):
            bad(f"panel {title!r}: needs a title and a description (shown as the panel's (i) help)")
        if p.get("datasource") != DS:
            bad(f"panel {title!r}: datasource {p.get('datasource')} is not ${{datasource}}")
        targets = p.get("targets") or []
        if not targets:
            bad(f"panel {title!r}: no targets")
        for t in targets:
            if t.get("datasource", DS) != DS:
                bad(f"panel {title!r} target {t.get('refId')}: datasource is not ${{datasource}}")
            for name, sel in SELECTOR_RE.findall(t.get("expr", "")):
                missing = [f for f in FILTERS if f not in sel]
                if missing:
                    bad(f"panel {title!r}: selector {name}{sel} lacks {' / '.join(missing)}")
        # Revision panels link to dedupd's page of edits (issue #13 item 5):
        # a data link from ${dedupd_url}, the site of the series when the
        # panel splits by site.
        exprs = " ".join(t.get("expr", "") for t in targets)
        if "dedupd_revisions_total" in exprs:
            if "dedupd_url" not in variables or variables["dedupd_url"].get("type") != "textbox":
                bad(f"panel {title!r} shows revisions but the dashboard has no textbox variable `dedupd_url`")
            links = ((p.get("fieldConfig") or {}).get("defaults") or {}).get("links") or []
            urls = [link.get("url", "") for link in links]
            if not any(u.startswith("${dedupd_url}/ui/site?site=") for u in urls):
                bad(f"panel {title!r}: no data link to ${{dedupd_url}}/ui/site?site=...")
            if re.search(r"by \(([^)]*\b)?site\b", exprs) and not any(
                    "${__field.labels.site}" in u for u in urls):
                bad(f"panel {title!r}: splits by site but its data link does not carry ${{__field.labels.site}}")
    return d


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = sys.argv[1:] or sorted(os.path.join(root, "dashboards", f)
                                   for f in os.listdir(os.path.join(root, "dashboards")) if f.endswith(".json"))
    problems, uids, dashes = [], {}, []
    for p in paths:
        d = check(p, uids, problems)
        if d:
            dashes.append((p, d))
    for p, d in dashes:
        for link in d.get("links", []):
            m = re.match(r"^/d/([^/?]+)", link.get("url", ""))
            if m and m.group(1) not in uids:
                problems.append(f"{os.path.relpath(p)}: link to unknown dashboard uid {m.group(1)}")
    if not paths:
        problems.append("no dashboards found")
    for pr in problems:
        print("FAIL " + pr)
    print(f"dashboards_test: {len(paths)} dashboards: " + ("ok" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
