#!/usr/bin/env bash
# rules_test: the Prometheus alert rules in config/alerts/ parse, their unit
# tests pass, and every alert carries what an operator needs.
#   tests/ops/rules_test.sh [REPO_ROOT]
#   PROMTOOL=/path/to/promtool tests/ops/rules_test.sh
# Steps:
#   1. promtool check rules   on every rule file (syntax, PromQL, templates)
#   2. promtool test rules    on every *.test.yaml (firing and quiet cases)
#   3. rules_meta.py          summary/description/runbook_url on every alert,
#                             the runbook anchor exists in docs/runbook.md,
#                             severity is page|ticket, and every alert has a
#                             firing and a non-firing test case.
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
promtool="${PROMTOOL:-$(command -v promtool || true)}"
if [ -z "$promtool" ]; then
  echo "rules_test: promtool not found (Debian package 'prometheus'; scripts/setup installs it)" >&2
  exit 1
fi
cd "$root/config/alerts"
shopt -s nullglob
rules=()
for f in *.yaml *.yml; do
  case "$f" in *.test.yaml|*.test.yml) ;; *) rules+=("$f") ;; esac
done
tests=(*.test.yaml *.test.yml)
if [ ${#rules[@]} -eq 0 ] || [ ${#tests[@]} -eq 0 ]; then
  echo "rules_test: no rule files or no rule tests in $PWD" >&2
  exit 1
fi
"$promtool" check rules "${rules[@]}"
"$promtool" test rules "${tests[@]}"
python3 "$root/tests/ops/rules_meta.py" --runbook "$root/docs/runbook.md" \
  --rules "${rules[@]}" --tests "${tests[@]}"
