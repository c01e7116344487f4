#!/usr/bin/env bash
# helm_test: the Helm chart helm/dedupd lints, renders, and the rendered objects
# are valid Kubernetes objects that fit together.
#   tests/ops/helm_test.sh [REPO_ROOT]
# Tools: helm and a Python venv with kubernetes-validate (Kubernetes JSON
# schemas from PyPI), both installed and cached by tests/ops/install-tools.sh
# under ${DEDUPD_CACHE:-~/.cache/dedupd} (first run: a few minutes to build
# helm; later runs: instant). promtool (Debian) checks the PrometheusRule.
# Steps:
#   1. the chart's copies equal their sources: files/dedupd-rules.yaml ==
#      config/alerts/dedupd-rules.yaml, files/dashboards/*.json == dashboards/*.json
#   2. helm lint --strict with the default values and with every option on
#   3. helm template for four value sets (default, full, existing secrets,
#      a custom job name), each checked by helm_validate.py against the
#      Kubernetes schemas of the oldest supported (Chart.yaml kubeVersion) and
#      the newest known Kubernetes version
#   4. values the chart must refuse are refused (values.schema.json, required)
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
ops="$root/tests/ops"
chart="$root/helm/dedupd"
eval "$("$ops/install-tools.sh")"
promtool="${PROMTOOL:-$(command -v promtool || echo promtool)}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
fail=0
step() { echo "== $*"; }

step "1. chart copies equal their sources"
cmp "$root/config/alerts/dedupd-rules.yaml" "$chart/files/dedupd-rules.yaml" || {
  echo "FAIL helm/dedupd/files/dedupd-rules.yaml differs: cp config/alerts/dedupd-rules.yaml helm/dedupd/files/"; fail=1; }
src_list="$(cd "$root/dashboards" && printf '%s\n' *.json | sort)"
copy_list="$(cd "$chart/files/dashboards" && printf '%s\n' *.json | sort)"
if [ "$src_list" != "$copy_list" ]; then
  echo "FAIL helm/dedupd/files/dashboards has [$copy_list], dashboards/ has [$src_list]"; fail=1
fi
for f in $src_list; do
  cmp "$root/dashboards/$f" "$chart/files/dashboards/$f" || {
    echo "FAIL helm/dedupd/files/dashboards/$f differs: cp dashboards/*.json helm/dedupd/files/dashboards/"; fail=1; }
done

step "2. helm lint"
"$HELM" lint --strict "$chart"
"$HELM" lint --strict "$chart" -f "$ops/testdata/values-full.yaml"
"$HELM" lint --strict "$chart" -f "$ops/testdata/values-existing-secrets.yaml"

step "3. helm template + Kubernetes schemas"
min_kube="$(sed -n 's/^kubeVersion: *"*>=\([0-9.]*\).*/\1/p' "$chart/Chart.yaml")"
max_kube="$("$OPS_PYTHON" -c 'from kubernetes_validate.utils import latest_version; print(latest_version())')"
[ -n "$min_kube" ] || { echo "FAIL no kubeVersion >=X in Chart.yaml"; exit 1; }
render() {  # name, helm args...
  local name="$1"; shift
  "$HELM" template dedupd "$chart" --namespace dedupd --kube-version "$max_kube" "$@" > "$out/$name.yaml"
}
render default
render full -f "$ops/testdata/values-full.yaml"
render existing-secrets -f "$ops/testdata/values-existing-secrets.yaml"
render other-release --set fullnameOverride=dedupd-eu,serviceMonitor.enabled=true,prometheusRule.enabled=true,config.metrics.port=9100
# The PrometheusRule follows serviceMonitor.jobName and runbookBaseUrl.
grep -q 'up{job="dedupd-eu"}' "$out/existing-secrets.yaml" || { echo "FAIL PrometheusRule does not use serviceMonitor.jobName"; fail=1; }
grep -q 'runbook_url: https://git.example.org/dedupd/blob/main/docs/runbook.md#dedupddown' "$out/full.yaml" ||
  { echo "FAIL PrometheusRule does not use prometheusRule.runbookBaseUrl"; fail=1; }
# DEDUPD_BIN (set by CTest when the daemon target exists): the daemon checks
# every rendered configuration itself.
daemon_args=()
if [ -n "${DEDUPD_BIN:-}" ]; then
  if [ -x "$DEDUPD_BIN" ]; then
    daemon_args=(--dedupd-bin "$DEDUPD_BIN")
  else
    echo "SKIP dedupd check-config: $DEDUPD_BIN is not built (ninja dedupd)"
  fi
fi
"$OPS_PYTHON" "$ops/helm_validate.py" --root "$root" --promtool "$promtool" "${daemon_args[@]}" \
  --kube-versions "$min_kube,$max_kube" "$out"/*.yaml || fail=1

step "4. bad values are refused"
refuse() {  # reason, helm args...
  local why="$1"; shift
  if "$HELM" template dedupd "$chart" "$@" > "$out/refused.yaml" 2> "$out/refused.err"; then
    echo "FAIL accepted: $why ($*)"; fail=1
  else
    echo "ok refused: $why: $(grep -m1 -E '^- at|execution error|incompatible' "$out/refused.err" | cut -c1-110)"
  fi
}
refuse "negative replicaCount" --set replicaCount=-1
refuse "unknown output format" --set config.output.format=xml
refuse "privileged metrics port" --set config.metrics.port=80
refuse "relative state dir" --set config.state.dir=state
refuse "alertmanager on without url" --set config.alertmanager.enabled=true,config.alertmanager.url=
refuse "alertmanager url with user:password@" --set config.alertmanager.enabled=true,config.alertmanager.url=https://u:p@am:9093
refuse "alertmanager password in the ConfigMap" --set config.alertmanager.password=hunter2
refuse "alertmanager auth without secret or existingSecret" --set alertmanagerAuth.type=bearer
refuse "alertmanager basic auth without a username" --set alertmanagerAuth.type=basic,alertmanagerAuth.existingSecret=s
refuse "SASL without credentials or existingSecret" --set kafkaAuth.sasl.enabled=true
refuse "TLS without CA or existingSecret" --set kafkaAuth.tls.enabled=true
refuse "misspelt top-level value" --set replicas=3
refuse "unknown processing mode" --set config.processing.mode=exactly_twice
refuse "Kubernetes older than kubeVersion" --kube-version 1.24.0

if [ "$fail" -ne 0 ]; then
  echo "helm_test: FAILED"
  exit 1
fi
echo "helm_test: ok (helm $("$HELM" version --template '{{.Version}}'), Kubernetes $min_kube and $max_kube)"
