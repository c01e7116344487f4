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
#   2. helm lint --strict with the default values, with every option on and
#      with the test-broker values (helm/dedupd/ci/test-values.yaml)
#   3. helm template for these value sets (default, full, existing secrets,
#      a custom job name and transactional id prefix, the test broker, a
#      PodMonitor, the same release in two other namespaces), each checked by
#      helm_validate.py against the Kubernetes schemas of the oldest supported
#      (Chart.yaml kubeVersion) and the newest known Kubernetes version, and
#      for distinct transactional ids across namespaces; the production
#      defaults (no topic creation, replication 3) and absolute runbook links
#   4. values the chart must refuse are refused (values.schema.json, whose
#      `config` is closed: misspelt keys; required values; fail)
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
"$HELM" lint --strict "$chart" -f "$chart/ci/test-values.yaml"

step "3. helm template + Kubernetes schemas"
min_kube="$(sed -n 's/^kubeVersion: *"*>=\([0-9.]*\).*/\1/p' "$chart/Chart.yaml")"
max_kube="$("$OPS_PYTHON" -c 'from kubernetes_validate.utils import latest_version; print(latest_version())')"
[ -n "$min_kube" ] || { echo "FAIL no kubeVersion >=X in Chart.yaml"; exit 1; }
render() {  # name, helm args... (NS: namespace, default dedupd)
  local name="$1"; shift
  "$HELM" template dedupd "$chart" --namespace "${NS:-dedupd}" --kube-version "$max_kube" "$@" > "$out/$name.yaml"
}
render default
render full -f "$ops/testdata/values-full.yaml"
render existing-secrets -f "$ops/testdata/values-existing-secrets.yaml"
render other-release --set fullnameOverride=dedupd-eu,serviceMonitor.enabled=true,prometheusRule.enabled=true,prometheusRule.runbookBaseUrl=https://wiki.example.org/eu/,config.metrics.port=9100,transactionalIdPrefix=prod-eu
render test-broker -f "$chart/ci/test-values.yaml" --set config.detect.near_dup_jaccard=0.35
render podmonitor --set podMonitor.enabled=true,podMonitor.jobName=dedupd-pods,prometheusRule.enabled=true,prometheusRule.runbookBaseUrl=https://wiki.example.org/ops/dedupd
# Two deployments on one cluster: the same release in two namespaces.
NS=team-a render team-a
NS=team-b render team-b
# Production defaults: the topics exist beforehand, replicated 3 times; the
# test-broker values let the daemon create them with one replica.
topic_settings() { grep -E '^ +(create_topics|replication_factor):' "$out/$1.yaml" | tr -s ' ' | tr '\n' ' '; }
[ "$(topic_settings default)" = " create_topics: false  replication_factor: 3 " ] ||
  { echo "FAIL default values: want create_topics false, replication_factor 3; got [$(topic_settings default)]"; fail=1; }
[ "$(topic_settings test-broker)" = " create_topics: true  replication_factor: 1 " ] ||
  { echo "FAIL ci/test-values.yaml: want create_topics true, replication_factor 1; got [$(topic_settings test-broker)]"; fail=1; }
grep -q 'up{job="dedupd-pods"}' "$out/podmonitor.yaml" || { echo "FAIL PrometheusRule does not use podMonitor.jobName"; fail=1; }
grep -q 'runbook_url: https://wiki.example.org/ops/dedupd/docs/runbook.md#dedupddown' "$out/podmonitor.yaml" ||
  { echo "FAIL runbookBaseUrl without a trailing slash does not give .../docs/runbook.md#..."; fail=1; }
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
  --kube-versions "$min_kube,$max_kube" --txn-prefix other-release.yaml=prod-eu "$out"/*.yaml || fail=1

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
# The closed `config` section: a misspelt key fails here, not at pod start.
refuse "misspelt config key (bootstrap_server)" --set config.kafka.bootstrap_server=kafka:9092
refuse "misspelt config key (simhash_distnace)" --set config.detect.simhash_distnace=4
refuse "unknown config section" --set config.procesing.batch_size=10
refuse "config key in the wrong section" --set config.kafka.batch_size=10
refuse "config value of the wrong type" --set config.processing.batch_size=many
refuse "config value out of the daemon's range" --set config.kafka.replication_factor=0
refuse "config value out of the daemon's range" --set config.detect.simhash_distance=9
refuse "config value out of the daemon's range" --set-json config.detect.near_dup_jaccard=1.5
refuse "config value out of the daemon's range" --set config.detect.near_dup_jaccard=1.5
refuse "config section that is not a map" --set config.log=debug
refuse "ServiceMonitor and PodMonitor both on" --set serviceMonitor.enabled=true,podMonitor.enabled=true
refuse "relative runbook base URL" --set prometheusRule.runbookBaseUrl=docs/
refuse "PrometheusRule without a runbook base URL" --set prometheusRule.enabled=true
refuse "transactional id prefix with a slash" --set transactionalIdPrefix=team/a

if [ "$fail" -ne 0 ]; then
  echo "helm_test: FAILED"
  exit 1
fi
echo "helm_test: ok (helm $("$HELM" version --template '{{.Version}}'), Kubernetes $min_kube and $max_kube)"
