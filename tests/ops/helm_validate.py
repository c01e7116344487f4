#!/usr/bin/env python3
"""Validates the objects that `helm template` rendered from helm/dedupd.

Run by tests/ops/helm_test.sh with the venv python from install-tools.sh
(needs PyYAML and kubernetes-validate, which ships the Kubernetes JSON schemas
for every Kubernetes minor version it supports, so nothing is fetched at run
time).

  helm_validate.py --root REPO --kube-versions 1.25.0,1.37.0 rendered1.yaml ...

Checks, per rendered file:
  - every built-in kind validates strictly (no unknown fields) against the
    Kubernetes JSON schema of each --kube-versions version;
  - kinds without a bundled schema are only allowed if we check them here:
    PrometheusRule (its spec is written out as a rule file and checked with
    `promtool check rules`; its alerts must be those of
    config/alerts/dedupd-rules.yaml; its runbook_url annotations are absolute)
    and ServiceMonitor / PodMonitor (selects the metrics Service / the pods,
    on a port they have; never both);
  - the objects fit together: selectors match the pod labels, the StatefulSet's
    serviceName is a headless Service, every ConfigMap/Secret a pod mounts or
    reads is rendered (or named as an existingSecret), probes and Service
    target a container port, the config file in the ConfigMap is YAML whose
    metrics.port is the container port and state.dir is the data mount, the
    pod runs as non-root with a read-only root filesystem;
  - the dashboards ConfigMap carries grafana_dashboard and holds exactly
    dashboards/*.json.
Transactional ids: the first pod's id is <namespace>.<release>.<pod name>
(or <prefix>.<pod name> for a rendering given --txn-prefix FILE=PREFIX), at
most 249 characters, and no two renderings in different namespaces give the
same id (two releases on one Kafka cluster must not fence each other).
With --dedupd-bin: the daemon itself accepts each rendered configuration
(`dedupd check-config`, with the pod's environment), its effective
transactional id is the one above, and SASL credentials reach both Kafka
clients.
Once: the chart's values `config:` mirrors config/dedupd.yaml (the daemon's
documented defaults): every section is there, every key exists in the daemon's
file with the same default (besides the librdkafka passthrough maps and the
few chart defaults listed in CHART_DEFAULTS); and values.schema.json's closed
`config` section allows exactly the daemon's settings (config/dedupd.yaml,
and with --dedupd-bin the keys `dedupd check-config` prints), so the two
cannot drift.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml
from kubernetes_validate.version import __version__ as KV_VERSION
from kubernetes_validate import utils as kv

CHECKED_CRDS = {("monitoring.coreos.com/v1", "PrometheusRule"), ("monitoring.coreos.com/v1", "ServiceMonitor"),
                ("monitoring.coreos.com/v1", "PodMonitor")}
# Secrets the test values name as existing (created outside the chart).
problems = []
# rendered file -> (namespace, transactional id of its first pod)
txn_ids = {}


def bad(where, msg):
    problems.append(f"{where}: {msg}")


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def validate_schema(doc, where, versions):
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in CHECKED_CRDS:
        return
    for v in versions:
        try:
            kv.validate(doc, v, strict=True)
        except kv.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            bad(where, f"invalid for Kubernetes {v}: {path}: {e.message}")
        except kv.SchemaNotFoundError:
            bad(where, f"no Kubernetes {v} schema for {key[0]} {key[1]} and no check of ours")
        except kv.VersionNotSupportedError:
            bad(where, f"kubernetes-validate {KV_VERSION} does not know Kubernetes {v}")


def check_prometheus_rule(doc, where, root, promtool):
    spec = doc.get("spec") or {}
    groups = spec.get("groups")
    if not groups:
        bad(where, "PrometheusRule without spec.groups")
        return
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump({"groups": groups}, f)
        name = f.name
    try:
        r = subprocess.run([promtool, "check", "rules", name], capture_output=True, text=True)
        if r.returncode != 0:
            bad(where, "promtool check rules failed on spec.groups:\n" + r.stdout + r.stderr)
    finally:
        os.unlink(name)
    source = yaml.safe_load(open(os.path.join(root, "config/alerts/dedupd-rules.yaml"), encoding="utf-8"))
    want = sorted(r["alert"] for g in source["groups"] for r in g["rules"] if "alert" in r)
    got = sorted(r["alert"] for g in groups for r in g.get("rules", []) if "alert" in r)
    if want != got:
        bad(where, f"alerts {got} differ from config/alerts/dedupd-rules.yaml {want}")
    for g in groups:
        for r in g.get("rules", []):
            url = (r.get("annotations") or {}).get("runbook_url")
            if "alert" in r and not re.match(r"^https?://[^/]+/.*docs/runbook\.md#[a-z0-9-]+$", url or ""):
                bad(where, f"{r['alert']}: runbook_url {url!r} is not an absolute link to docs/runbook.md")


def check_file(path, root, versions, promtool, dedupd_bin, txn_prefix):
    rel = os.path.basename(path)
    docs = [d for d in yaml.safe_load_all(open(path, encoding="utf-8")) if d]
    if not docs:
        bad(rel, "nothing rendered")
        return
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    ns = {d["metadata"].get("namespace") for d in docs if d["kind"] != "ConfigMap" or "dashboards" not in d["metadata"]["name"]}
    if len(ns) != 1 or None in ns:
        bad(rel, f"objects are not all in one explicit namespace: {ns}")
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}

    for d in docs:
        where = f"{rel}: {d['kind']}/{d['metadata']['name']}"
        validate_schema(d, where, versions)
        if d["kind"] == "PrometheusRule":
            check_prometheus_rule(d, where, root, promtool)

    sts_list = by_kind.get("StatefulSet", [])
    if len(sts_list) != 1:
        bad(rel, f"expected one StatefulSet, got {len(sts_list)}")
        return
    sts = sts_list[0]
    where = f"{rel}: StatefulSet/{sts['metadata']['name']}"
    spec = sts["spec"]
    pod = spec["template"]
    pod_labels = pod["metadata"]["labels"]
    if not matches(spec["selector"]["matchLabels"], pod_labels):
        bad(where, "selector does not match the pod template labels")
    headless = [s for s in by_kind.get("Service", []) if s["metadata"]["name"] == spec.get("serviceName")]
    if not headless or headless[0]["spec"].get("clusterIP") != "None":
        bad(where, f"serviceName {spec.get('serviceName')} is not a rendered headless Service")
    pspec = pod["spec"]
    c = pspec["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    psc, csc = pspec.get("securityContext", {}), c.get("securityContext", {})
    if not (psc.get("runAsNonRoot") or csc.get("runAsNonRoot")) or (psc.get("runAsUser", csc.get("runAsUser", 0)) == 0):
        bad(where, "pod may run as root")
    if csc.get("readOnlyRootFilesystem") is not True:
        bad(where, "root filesystem is not read-only")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        p = c.get(probe, {}).get("httpGet", {})
        if p.get("path") != path:
            bad(where, f"{probe} path is {p.get('path')}, want {path}")
        if isinstance(p.get("port"), str) and p["port"] not in ports:
            bad(where, f"{probe} port {p['port']} is no container port")
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pspec.get("volumes", [])}
    claims = {t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])}
    for m in mounts:
        if m not in volumes and m not in claims:
            bad(where, f"volumeMount {m} has no volume or volumeClaimTemplate")
    if "data" in claims and "data" in volumes:
        bad(where, "data is both a volume and a volumeClaimTemplate")
    existing = set()
    for v in volumes.values():
        if "configMap" in v and ("ConfigMap", v["configMap"]["name"]) not in names:
            bad(where, f"mounts ConfigMap {v['configMap']['name']}, which is not rendered")
        if "secret" in v:
            existing.add(v["secret"]["secretName"])
    for e in c.get("env", []):
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            existing.add(ref["name"])
    rendered_secrets = {n for k, n in names if k == "Secret"}
    for s in sorted(existing - rendered_secrets):
        if not s.startswith("existing-"):   # the test values name existing Secrets existing-*
            bad(where, f"refers to Secret {s}, which is neither rendered nor an existingSecret")

    # the configuration file
    cms = [d for d in by_kind.get("ConfigMap", []) if "dedupd.yaml" in (d.get("data") or {})]
    if len(cms) != 1:
        bad(rel, "no ConfigMap with dedupd.yaml")
    else:
        try:
            cfg = yaml.safe_load(cms[0]["data"]["dedupd.yaml"])
        except yaml.YAMLError as e:
            bad(rel, f"dedupd.yaml in the ConfigMap is not YAML: {e}")
            cfg = {}
        if cfg.get("metrics", {}).get("port") != ports.get("metrics"):
            bad(rel, f"config metrics.port {cfg.get('metrics', {}).get('port')} != container port {ports.get('metrics')}")
        if cfg.get("state", {}).get("dir") != mounts.get("data"):
            bad(rel, f"config state.dir {cfg.get('state', {}).get('dir')} is not the data mount {mounts.get('data')}")
        if mounts.get("config") != "/etc/dedupd":
            bad(rel, "config is not mounted at /etc/dedupd (the image runs --config /etc/dedupd/dedupd.yaml)")
        for client in ("common", "consumer", "producer"):
            props = (cfg.get("kafka", {}) or {}).get(client) or {}
            if any(k in props for k in ("sasl.password", "sasl.username")):
                bad(rel, f"SASL credentials in the ConfigMap (kafka.{client})")
        check_transactional_id(rel, cms[0]["data"]["dedupd.yaml"], sts, c, dedupd_bin, txn_prefix)

    # Services, PDB, ServiceMonitor select the pods / the Service
    metrics_svc = None
    for s in by_kind.get("Service", []):
        w = f"{rel}: Service/{s['metadata']['name']}"
        if not matches(s["spec"].get("selector"), pod_labels):
            bad(w, "selector does not match the pods")
        for p in s["spec"].get("ports", []):
            if isinstance(p.get("targetPort"), str) and p["targetPort"] not in ports:
                bad(w, f"targetPort {p['targetPort']} is no container port")
        if s["metadata"]["labels"].get("app.kubernetes.io/component") == "metrics":
            metrics_svc = s
    if metrics_svc is None:
        bad(rel, "no metrics Service (label app.kubernetes.io/component: metrics)")
    for p in by_kind.get("PodDisruptionBudget", []):
        if not matches(p["spec"]["selector"]["matchLabels"], pod_labels):
            bad(f"{rel}: PodDisruptionBudget", "selector does not match the pods")
    for sm in by_kind.get("ServiceMonitor", []):
        w = f"{rel}: ServiceMonitor/{sm['metadata']['name']}"
        if metrics_svc is None or not matches(sm["spec"]["selector"]["matchLabels"], metrics_svc["metadata"]["labels"]):
            bad(w, "does not select the metrics Service")
            continue
        svc_ports = {p["name"] for p in metrics_svc["spec"]["ports"]}
        for ep in sm["spec"].get("endpoints", []):
            if ep.get("port") not in svc_ports:
                bad(w, f"endpoint port {ep.get('port')} is not a port of the metrics Service")
        if metrics_svc["metadata"].get("namespace") not in sm["spec"].get("namespaceSelector", {}).get("matchNames", []):
            bad(w, "namespaceSelector does not include the Service's namespace")

    for pm in by_kind.get("PodMonitor", []):
        w = f"{rel}: PodMonitor/{pm['metadata']['name']}"
        if by_kind.get("ServiceMonitor"):
            bad(w, "rendered together with a ServiceMonitor: every pod would be scraped twice")
        if not matches(pm["spec"]["selector"]["matchLabels"], pod_labels):
            bad(w, "does not select the pods")
        for ep in pm["spec"].get("podMetricsEndpoints", []):
            if ep.get("port") not in ports:
                bad(w, f"endpoint port {ep.get('port')} is no container port")
        if pm["metadata"].get("namespace") not in pm["spec"].get("namespaceSelector", {}).get("matchNames", []):
            bad(w, "namespaceSelector does not include the pods' namespace")

    # dashboards
    for cm in by_kind.get("ConfigMap", []):
        if not cm["metadata"]["name"].endswith("-dashboards"):
            continue
        w = f"{rel}: ConfigMap/{cm['metadata']['name']}"
        if cm["metadata"].get("labels", {}).get("grafana_dashboard") != "1":
            bad(w, "no label grafana_dashboard: \"1\" for the Grafana sidecar")
        want = {f: open(os.path.join(root, "dashboards", f), encoding="utf-8").read()
                for f in os.listdir(os.path.join(root, "dashboards")) if f.endswith(".json")}
        got = cm.get("data") or {}
        if set(got) != set(want):
            bad(w, f"holds {sorted(got)}, dashboards/ has {sorted(want)}")
        for f in set(got) & set(want):
            if json.loads(got[f]) != json.loads(want[f]):
                bad(w, f"{f} differs from dashboards/{f}")


# Values whose chart default differs from the daemon's on purpose (values.yaml
# says why at each).
CHART_DEFAULTS = {"kafka.bootstrap_servers", "state.dir", "kafka.create_topics", "kafka.replication_factor"}
PASSTHROUGH = {"kafka.common", "kafka.consumer", "kafka.producer"}


def check_transactional_id(rel, text, sts, container, dedupd_bin, txn_prefix):
    """The first pod's transactional id, from its environment and, with
    dedupd_bin, as the daemon reads it (`dedupd check-config` on the rendered
    file, Secret values replaced by placeholders)."""
    pod = sts["metadata"]["name"] + "-0"
    ns = sts["metadata"]["namespace"]
    release = sts["metadata"]["labels"]["app.kubernetes.io/instance"]
    field = {"metadata.name": pod, "metadata.namespace": ns}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for e in container.get("env", []):
        if "value" in e:
            v = e["value"]
            for k, val in env.items():
                v = v.replace(f"$({k})", val)
            env[e["name"]] = v
        elif "fieldRef" in e.get("valueFrom", {}):
            env[e["name"]] = field[e["valueFrom"]["fieldRef"]["fieldPath"]]
        elif "secretKeyRef" in e.get("valueFrom", {}):
            env[e["name"]] = "secret-" + e["valueFrom"]["secretKeyRef"]["key"]
    want = f"{txn_prefix.get(rel) or f'{ns}.{release}'}.{pod}"
    got = env.get("DEDUPD_KAFKA_TRANSACTIONAL_ID")
    if got != want:
        bad(rel, f"transactional id of {pod} is {got!r}, want {want!r} (unique per namespace and release)")
    elif len(got) > 249:
        bad(rel, f"transactional id {got!r} is longer than 249 characters")
    txn_ids[rel] = (ns, got)
    if not dedupd_bin:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(text)
        name = f.name
    try:
        r = subprocess.run([dedupd_bin, "check-config", name], capture_output=True, text=True, env=env)
    finally:
        os.unlink(name)
    w = f"{rel}: dedupd check-config"
    if r.returncode != 0 or "configuration is valid" not in r.stdout:
        bad(w, f"refused the rendered configuration (exit {r.returncode}):\n{r.stderr.strip()}")
        return
    out = r.stdout
    if not re.search(rf"^kafka\.transactional_id = {re.escape(want)}\s", out, re.M):
        bad(w, f"effective kafka.transactional_id is not {want}")
    # A user name may come from a Secret too and is shown; passwords and tokens never.
    for secret in [v for k, v in env.items()
                   if v.startswith("secret-") and re.search("PASSWORD|TOKEN|SECRET", k)]:
        if secret in out or secret in r.stderr:
            bad(w, f"printed a Secret's value ({secret}): secrets must show as (redacted)")
    if "DEDUPD_KAFKA_COMMON_SASL_PASSWORD" in env:
        for client in ("consumer", "producer"):
            if f"kafka {client} property sasl.password = (redacted)" not in out:
                bad(w, f"the SASL password from the Secret does not reach the {client}")
    am_env = [n for n in ("DEDUPD_ALERTMANAGER_PASSWORD", "DEDUPD_ALERTMANAGER_BEARER_TOKEN") if n in env]
    for name in am_env:
        key = name[len("DEDUPD_"):].lower().replace("alertmanager_", "alertmanager.", 1)
        if f"{key} = (redacted)    (env {name})" not in out:
            bad(w, f"the Alertmanager credential from the Secret ({name}) does not reach {key}")
    for key in ("alertmanager.password_file", "alertmanager.bearer_token_file"):
        m = re.search(rf"^{re.escape(key)} = (\S+)", out, re.M)
        if m and m.group(1) != "(unset)" and not any(
                m.group(1).startswith(vm["mountPath"] + "/") for vm in container.get("volumeMounts", [])):
            bad(w, f"{key} = {m.group(1)} is not under a mounted volume")


def config_keys(root):
    """values `config:` mirrors config/dedupd.yaml: every key exists there and
    has the same default, except CHART_DEFAULTS."""
    daemon_cfg = os.path.join(root, "config", "dedupd.yaml")
    if not os.path.exists(daemon_cfg):
        bad("config/dedupd.yaml", "missing: cannot compare the chart's values `config:` with it")
        return
    daemon = yaml.safe_load(open(daemon_cfg, encoding="utf-8")) or {}
    values = yaml.safe_load(open(os.path.join(root, "helm/dedupd/values.yaml"), encoding="utf-8"))["config"]
    where = "helm/dedupd/values.yaml"

    def walk(v, d, path):
        for k, sub in v.items():
            p = f"{path}.{k}" if path else k
            if not isinstance(d, dict) or k not in d:
                bad(where, f"config key {p} is not in config/dedupd.yaml (renamed or removed there?)")
                continue
            if p in PASSTHROUGH:
                continue
            if isinstance(sub, dict):
                walk(sub, d[k], p)
            elif p not in CHART_DEFAULTS and sub != d[k]:
                bad(where, f"config.{p} is {sub!r}, config/dedupd.yaml says {d[k]!r}; "
                           "mirror the daemon's default or add it to CHART_DEFAULTS with a reason")
    walk(values, daemon, "")
    for section in daemon:
        if section not in values:
            bad(where, f"config section {section} of config/dedupd.yaml is not mirrored")


def distinct_ids_across_namespaces():
    """Renderings in two namespaces (two releases on one Kafka cluster) must
    give their pods different transactional ids, or each fences the other."""
    seen = {}
    for rel, (ns, tid) in sorted(txn_ids.items()):
        other = seen.get(tid)
        if other and other[0] != ns:
            bad(rel, f"transactional id {tid} also used by {other[1]} in namespace {other[0]}: "
                     "two releases on one Kafka cluster would fence each other")
        seen.setdefault(tid, (ns, rel))


def schema_keys(root, dedupd_bin):
    """values.schema.json's `config` is closed: it must allow every setting
    the daemon declares and nothing else (keys of config/dedupd.yaml, which a
    unit test holds equal to daemon/config/config.cc, and the keys `dedupd
    check-config` prints)."""
    where = "helm/dedupd/values.schema.json"
    schema = json.load(open(os.path.join(root, where), encoding="utf-8"))

    def flat_schema(node, path, out):
        if node.get("additionalProperties") is not False:
            bad(where, f"config{'.' + path if path else ''} is open (additionalProperties is not false)")
        for k, sub in (node.get("properties") or {}).items():
            p = f"{path}.{k}" if path else k
            if p in PASSTHROUGH:
                continue
            if sub.get("type") == "object":
                flat_schema(sub, p, out)
            else:
                out.add(p)
        return out

    def flat_yaml(node, path, out):
        for k, sub in node.items():
            p = f"{path}.{k}" if path else k
            if p in PASSTHROUGH:
                continue
            if isinstance(sub, dict):
                flat_yaml(sub, p, out)
            else:
                out.add(p)
        return out

    allowed = flat_schema(schema["properties"]["config"], "", set())
    daemon = {"config/dedupd.yaml": flat_yaml(
        yaml.safe_load(open(os.path.join(root, "config", "dedupd.yaml"), encoding="utf-8")) or {}, "", set())}
    if dedupd_bin:
        r = subprocess.run([dedupd_bin, "check-config", os.path.join(root, "config", "dedupd.yaml")],
                           capture_output=True, text=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        keys = {l.split(" = ", 1)[0] for l in r.stdout.splitlines()
                if " = " in l and not l.startswith("kafka ") and "." in l.split(" = ", 1)[0]}
        if r.returncode != 0 or not keys:
            bad(where, f"dedupd check-config config/dedupd.yaml failed (exit {r.returncode}): {r.stderr.strip()}")
        else:
            daemon["dedupd check-config"] = keys
    for source, keys in daemon.items():
        for k in sorted(keys - allowed):
            bad(where, f"config.{k} ({source}) is refused by the closed schema: add it to config.properties")
        for k in sorted(allowed - keys):
            bad(where, f"config.{k} is allowed by the schema but is no setting of the daemon ({source})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--promtool", default="promtool")
    ap.add_argument("--dedupd-bin", help="the daemon: run `dedupd check-config` on each rendered configuration")
    ap.add_argument("--kube-versions", required=True, help="comma-separated, e.g. 1.25.0,1.37.0")
    ap.add_argument("--txn-prefix", action="append", default=[], metavar="FILE=PREFIX",
                    help="the rendering FILE (base name) set transactionalIdPrefix=PREFIX")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    versions = [v for v in a.kube_versions.split(",") if v]
    txn_prefix = dict(x.split("=", 1) for x in a.txn_prefix)
    for f in a.files:
        check_file(f, a.root, versions, a.promtool, a.dedupd_bin, txn_prefix)
    distinct_ids_across_namespaces()
    config_keys(a.root)
    schema_keys(a.root, a.dedupd_bin)
    for p in problems:
        print("FAIL " + p)
    print(f"helm_validate: {len(a.files)} renderings against Kubernetes {', '.join(versions)} "
          f"(kubernetes-validate {KV_VERSION}): "
          + ("ok" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
