#!/usr/bin/env bash
# Installs the tools that the ops tests (tests/ops/) need and Debian does not
# package: helm (built from source through the Go module proxy) and a Python
# venv with kubernetes-validate (the Kubernetes JSON schemas, from PyPI).
# Everything lands in a cache directory, so a second run returns at once.
#
#   tests/ops/install-tools.sh            # install what is missing, print the paths
#   tests/ops/install-tools.sh --check    # exit 1 if something is missing; install nothing
#
# Environment:
#   DEDUPD_CACHE   cache root (default ~/.cache/dedupd); binaries go to $DEDUPD_CACHE/bin,
#                  the venv to $DEDUPD_CACHE/ops-venv
#   HELM_VERSION   helm v3 release to build (default below; pinned, so CI is reproducible)
#
# Output (stdout, one per line, for scripts to eval): HELM=/path  OPS_PYTHON=/path
# Why from source: the machines reach package registries only (the Go module
# proxy, PyPI, Debian), never get.helm.sh or GitHub; Debian bookworm has no helm.
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v3.22.0}"
KUBERNETES_VALIDATE_VERSION="${KUBERNETES_VALIDATE_VERSION:-1.37.0}"
CACHE="${DEDUPD_CACHE:-$HOME/.cache/dedupd}"
BIN="$CACHE/bin"
VENV="$CACHE/ops-venv"
mode="${1:-install}"

log() { echo "install-tools: $*" >&2; }

# Bump when the build recipe below changes, so cached binaries are rebuilt.
HELM_RECIPE=2
helm_ok() {
  [ -x "$BIN/helm" ] && [ "$("$BIN/helm" version --template '{{.Version}}' 2>/dev/null)" = "$HELM_VERSION" ] &&
    [ "$(cat "$BIN/helm.recipe" 2>/dev/null)" = "$HELM_VERSION recipe $HELM_RECIPE" ]
}
venv_ok() {
  [ -x "$VENV/bin/python" ] &&
    [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("kubernetes-validate"))' 2>/dev/null)" = "$KUBERNETES_VALIDATE_VERSION" ]
}

if [ "$mode" = --check ]; then
  rc=0
  helm_ok || { log "helm $HELM_VERSION missing in $BIN"; rc=1; }
  venv_ok || { log "kubernetes-validate $KUBERNETES_VALIDATE_VERSION missing in $VENV"; rc=1; }
  [ $rc -eq 0 ] && { echo "HELM=$BIN/helm"; echo "OPS_PYTHON=$VENV/bin/python"; }
  exit $rc
fi

mkdir -p "$BIN"

if ! helm_ok; then
  command -v go >/dev/null 2>&1 || { log "go not found: helm is built with 'go install'"; exit 1; }
  log "building helm $HELM_VERSION with go install (a few minutes on 2 cores)"
  start=$(date +%s)
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  # The ldflags are those of helm's Makefile for a release build: the version
  # (else `helm version` is empty) and the Kubernetes version that `helm
  # template` and `helm lint` assume, taken like the Makefile does from the
  # client-go that helm's go.mod requires (v0.N.x -> Kubernetes 1.N; without
  # it helm assumes 1.20).
  gomod="$(cd "$tmp" && go mod download -json "helm.sh/helm/v3@$HELM_VERSION" |
           python3 -c 'import json, sys; print(json.load(sys.stdin)["GoMod"])')"
  k8s_minor="$(sed -n 's|^[[:space:]]*k8s.io/client-go v0\.\([0-9]*\)\..*|\1|p' "$gomod" | head -1)"
  [ -n "$k8s_minor" ] || { log "cannot find k8s.io/client-go in $gomod"; exit 1; }
  ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.metadata="
  for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    ld="$ld -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$k8s_minor"
  done
  # Outside any module; -mod=mod lets the build resolve helm's own go.mod.
  (cd "$tmp" && GOFLAGS=-mod=mod GOBIN="$tmp" CGO_ENABLED=0 \
    go install -trimpath -ldflags "$ld" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
  mv "$tmp/helm" "$BIN/helm.new" && mv "$BIN/helm.new" "$BIN/helm"
  echo "$HELM_VERSION recipe $HELM_RECIPE" > "$BIN/helm.recipe"
  helm_ok || { log "built helm does not report $HELM_VERSION: $("$BIN/helm" version 2>&1)"; exit 1; }
  log "helm assumes Kubernetes 1.$k8s_minor by default"
  log "helm $HELM_VERSION built in $(( $(date +%s) - start ))s"
fi

if ! venv_ok; then
  log "creating $VENV with kubernetes-validate $KUBERNETES_VALIDATE_VERSION"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  venv_ok || { log "kubernetes-validate did not install into $VENV"; exit 1; }
fi

echo "HELM=$BIN/helm"
echo "OPS_PYTHON=$VENV/bin/python"
