#!/usr/bin/env bash
# tools/helm-render against its own chart (tests/helm-render/chart), output compared byte for
# byte with what `helm template` prints for it (worked out from Helm's rules, in
# tests/helm-render/expected/): values files merged in order and coalesced with the chart's
# (maps merge deeply, lists replace, null deletes), --set and --set-string typing and escapes,
# define/include/nindent, tpl, toYaml (sorted keys) and toJson, required and fail with Helm's
# error wording, .Release/.Chart/.Capabilities/.Template/.Files, documents sorted by kind in
# Helm's install order, empty templates, partials and NOTES.txt left out, --include-crds and
# --show-only. Numbers are float64 as in Helm (1000000 prints as 1e+06).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build}
"$root/scripts/build-helm-render.sh" "$build" || { echo "FAIL: helm-render does not build"; exit 1; }
r="$build/helm-render"
t="$root/tests/helm-render"
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
same() { # expected-file, args...
  local want=$1; shift
  "$r" "$@" >"$d/out" 2>"$d/err" || fail "helm-render $*: exit $? ($(cat "$d/err"))"
  diff -u "$t/expected/$want" "$d/out" || fail "helm-render $*: output differs from expected/$want"
  [ -s "$d/err" ] && fail "helm-render $*: warnings: $(cat "$d/err")"
  return 0
}
cd "$t"
same default.yaml rel chart -n ns1
same override.yaml rel chart -n ns1 -f override.yaml -f override2.yaml \
  --set image.tag=v2,labels.zone=010 --set-string ratio=7 --set 'config.list[1]=w' \
  --set extra.count=12
same show-only.yaml rel chart -n ns1 --include-crds -s crds/widget.yaml \
  -s templates/optional.yaml -s 'templates/config*.yaml' \
  --set 'extra.csv=a\,b,extra.on=TRUE,extra.zero=0,extra.lead=007' --set labels=null
# --values=FILE and --namespace=NS spellings are the same flags.
same default.yaml rel chart --namespace=ns1 --values=/dev/null

# Errors: exit 1 with Helm's wording, nothing on stdout.
err() { # code, expected stderr, args...
  local code=$1 want=$2; shift 2
  "$r" "$@" >"$d/out" 2>"$d/err"
  local rc=$?
  [ $rc -eq "$code" ] || fail "helm-render $*: exit $rc, want $code"
  grep -qF -- "$want" "$d/err" || fail "helm-render $*: stderr '$(cat "$d/err")' lacks '$want'"
  [ -s "$d/out" ] && fail "helm-render $*: printed a partial rendering"
  return 0
}
err 1 "Error: execution error at (demo/templates/configmap.yaml:14:11): required.name is needed" \
  rel chart -f missing.yaml
err 1 "Error: execution error at (demo/templates/guard.yaml:2:4): forbidden is set to yes" \
  chart --set forbidden=yes
err 1 "Error: failed to parse bad.yaml: error converting YAML to JSON: yaml: line 1:" chart -f bad.yaml
err 1 "Error: could not find template templates/nope.yaml in chart" chart -s templates/nope.yaml
err 1 "failed parsing --set data" chart --set 'a[0'
err 1 "no Chart.yaml" "$d"
err 2 "unknown flag --bogus" chart --bogus
# Chart.yaml's kubeVersion constraint, checked as Helm checks it (a -0 pre-release floor).
err 1 "chart requires kubeVersion: >=1.23.0-0 which is incompatible with Kubernetes v1.22.0" \
  "$root/deploy/helm/sluice" --kube-version 1.22
"$r" "$root/deploy/helm/sluice" --kube-version v1.23.0 >/dev/null 2>&1 || fail "kubeVersion 1.23 refused"

err 2 "expected [NAME] CHART" a b c

# A nested table given a scalar keeps the scalar, with Helm's warning (at the top level a scalar
# replaces a table silently).
"$r" chart --set config.alpha=plain -s templates/configmap.yaml >"$d/out" 2>"$d/err" ||
  fail "config.alpha=plain: $(cat "$d/err")"
grep -qx '    alpha: plain' "$d/out" || fail "a scalar over a nested table: $(grep -A1 config.yaml "$d/out")"
grep -qxF "warning: cannot overwrite table with non table for demo.config.alpha (map[a:1 b:2])" "$d/err" ||
  fail "no warning for a scalar over a table: $(cat "$d/err")"
echo "helm-render: ok"
