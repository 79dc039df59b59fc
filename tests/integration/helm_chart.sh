#!/usr/bin/env bash
# The chart deploy/helm/sluice, as a user meets it: deploy/manifests/ is what the chart renders
# today; each example in deploy/examples/ renders, and its sluice.yaml and policies pass
# `sluice check`; bad values stop the rendering with the value named; the rendered manifests
# (default values, and every example, the ServiceMonitor included) are applied with the real
# kubectl to `sluice emulate`, which stores every kind they hold; and `sluice run` started as the
# Deployment starts it, with its ConfigMaps laid out as the kubelet mounts them (sluice.yaml by
# subPath, the policies ConfigMap as a volume: a timestamped directory, the ..data link, one link
# per key), becomes ready, takes the Lease the Role names, discovers an annotated Deployment,
# scales it through /scale, and follows a ConfigMap edit (the ..data swap) to a new policy that
# `sluice repl -e explain` shows, keeping the old one when the edit is broken. The dashboard's
# queries name only series a running sluice serves.
# No pipefail: `kubectl ... | grep -q X` must not fail on SIGPIPE.
set -u
command -v kubectl >/dev/null || { echo "kubectl not installed: skipped"; exit 0; }
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$root/build}
chart="$root/deploy/helm/sluice"
d=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$d"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$d"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }; done
  exit 1
}
"$root/scripts/build-helm-render.sh" "$build" || fail "helm-render does not build"
render() { "$build/helm-render" "$@"; }

# --- deploy/manifests/ is current, and the chart's CRDs are deploy/crds/ ---------------------------
"$root/scripts/manifests.sh" --check "$build" || fail "deploy/manifests/ is stale: run make manifests"
for f in "$chart"/crds/*.yaml; do
  cmp -s "$f" "$root/deploy/crds/$(basename "$f")" || fail "$f differs from deploy/crds/"
done

# --- bad values stop the rendering, naming the value -----------------------------------------------
bad() { # expected message, helm-render args...
  local want=$1; shift
  render sluice "$chart" "$@" >"$d/out" 2>"$d/err" && fail "rendered with $*"
  grep -qF -- "$want" "$d/err" || fail "$*: '$(cat "$d/err")' lacks '$want'"
}
bad 'policy: "nope" is neither a canned policy' --set policy=nope
bad 'actuator: "hpa" is not one of scale, metric, keda-metrics-api' --set actuator=hpa
bad 'models[m].policy is required when policy is empty' --set policy= --set models.m.period=5s
bad 'no policy: set policy, or give every model in models its own' --set policy=
bad 'shard: "c" is not one of shards' --set shard=c
render sluice "$chart" --set metrics.prometheusAnnotations=true,metrics.port=9100 -s templates/deployment.yaml >"$d/out" ||
  fail "prometheusAnnotations"
grep -qx '        prometheus.io/port: "9100"' "$d/out" || fail "prometheus.io/port is not the metrics port"
grep -q "prometheus.io/" "$root/deploy/manifests/sluice.yaml" && fail "prometheus.io annotations by default"
bad 'prometheus.url: "ftp://p" is not an http:// or https:// URL' --set prometheus.url=ftp://p
bad 'shadowPolicies[1]: "nope" is neither a canned policy' --set 'shadowPolicies={slo,nope}'
bad 'customPolicies: "x y.lua" must be a file name' --set-string 'customPolicies.x y\.lua=return 1'

# A sluice.yaml out of a rendering: the config ConfigMap's one key, de-indented.
config_of() { sed -n '/^  sluice.yaml: |$/,/^---$/p' "$1" | sed '1d;/^---$/d;s/^    //'; }

# --- every example renders and its configuration and policies pass sluice check --------------------
printf 'frames:\n  - {}\n' >"$d/empty-views.yaml"
for values in "$root"/deploy/examples/values-*.yaml ""; do
  name=$(basename "${values:-default}" .yaml)
  out="$d/$name.yaml"
  render "sluice-$name" "$chart" -n "ex-$name" ${values:+-f "$values"} >"$out" 2>"$d/err" ||
    fail "$name does not render: $(cat "$d/err")"
  [ -s "$d/err" ] && fail "$name renders with warnings: $(cat "$d/err")"
  mkdir -p "$d/check-$name"
  config_of "$out" >"$d/check-$name/sluice.yaml"
  grep -q '^source:' "$d/check-$name/sluice.yaml" || fail "$name: no sluice.yaml in the config ConfigMap"
  # The policies sluice.yaml names, canned or one of the policies ConfigMap's keys.
  files=$(sed -n 's/^- file: //p' "$d/check-$name/sluice.yaml" | sort -u)
  [ -n "$files" ] || fail "$name: sluice.yaml names no policy"
  views="$root/deploy/examples/fixture-views.yaml"
  grep -q '^variants:' "$d/check-$name/sluice.yaml" || views="$d/empty-views.yaml"
  cp "$out" "$d/cms"
  for f in $files; do
    case $f in
    *.lua) # custom: its text from the policies ConfigMap
      awk -v key="  $f: |" '$0 == key { on = 1; next } on && /^(    |$)/ { print substr($0, 5); next } { on = 0 }' \
        "$d/cms" >"$d/check-$name/$f"
      [ -s "$d/check-$name/$f" ] || fail "$name: $f is not in the policies ConfigMap" ;;
    esac
  done
  (cd "$d/check-$name" && "$SLUICE" check -c sluice.yaml --fixture "$views" $files) >"$d/check.out" 2>&1 ||
    fail "$name: sluice check: $(cat "$d/check.out")"
  [ "$(grep -c '^ok ' "$d/check.out")" = "$(echo "$files" | wc -l)" ] ||
    fail "$name: not every policy checked: $(cat "$d/check.out")"
done
grep -q 'kind: ServiceMonitor' "$d/values-wva.yaml" || fail "values-wva has no ServiceMonitor"
grep -q 'file: floor.lua' "$d/check-values-slo/sluice.yaml" || fail "values-slo: floor.lua not in sluice.yaml"
# values-wva reads the series from Prometheus: source.prometheus, and egress to it, not to pods.
grep -qx '  prometheus:' "$d/check-values-wva/sluice.yaml" || fail "values-wva: no source.prometheus"
grep -qx '  scrape:' "$d/check-values-wva/sluice.yaml" && fail "values-wva: scrape beside prometheus"
sed -n '/^kind: NetworkPolicy/,/^---/p' "$d/values-wva.yaml" >"$d/np"
grep -q 'port: 9090' "$d/np" && ! grep -q 'port: 8000' "$d/np" || fail "values-wva: NetworkPolicy egress $(cat "$d/np")"
grep -A1 -x -- '- file: slo' "$d/check-values-hpa/sluice.yaml" | grep -qx '  shadow: true' ||
  fail "values-hpa: slo is not a shadow"
grep -A1 -x -- '- file: hpa' "$d/check-values-hpa/sluice.yaml" | grep -q shadow &&
  fail "values-hpa: hpa is a shadow"

# --- the manifests applied with kubectl to the emulator --------------------------------------------
export HOME="$d" KUBECONFIG="$d/kubeconfig"
"$SLUICE" emulate --port 0 --kubeconfig "$KUBECONFIG" --start-delay 0.2 --seed 5 >"$d/emu.log" 2>&1 &
pids+=("$!")
for _ in $(seq 300); do [ -f "$KUBECONFIG" ] && break; sleep 0.05; done
[ -f "$KUBECONFIG" ] || fail "no kubeconfig"
k() { kubectl "$@"; }
wait_for() { # what, command...
  local what=$1; shift
  for _ in $(seq 600); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "timed out waiting for $what"
}
k apply -f "$root/deploy/manifests/" >"$d/apply.out" 2>&1 || fail "kubectl apply: $(cat "$d/apply.out")"
ns=sluice-system
kinds="networkpolicy/sluice poddisruptionbudget/sluice serviceaccount/sluice configmap/sluice-config
  configmap/sluice-policies role/sluice-leader-election rolebinding/sluice-leader-election
  service/sluice deployment/sluice"
for o in $kinds; do
  k get -n $ns "$o" >/dev/null 2>&1 || fail "$o not stored"
  grep -qx "${o%%/*}[.a-z0-9]*/${o#*/} created" "$d/apply.out" ||
    fail "kubectl did not report $o created: $(cat "$d/apply.out")"
done
for o in clusterrole/sluice clusterrolebinding/sluice crd/variantautoscalings.llmd.ai namespace/$ns; do
  k get "$o" >/dev/null 2>&1 || fail "$o not stored"
done
# Applied again: nothing changes. kubectl always sends a PDB's selector (its patchStrategy is
# replace, so the computed patch is never empty) and says "configured", against any server; the
# stored object stays as it was.
pdb_rv=$(k get -n $ns pdb sluice -o jsonpath='{.metadata.resourceVersion}')
k apply -f "$root/deploy/manifests/" >"$d/apply2.out" 2>&1 || fail "second apply: $(cat "$d/apply2.out")"
grep -v ' unchanged$' "$d/apply2.out" | grep -vx 'poddisruptionbudget.policy/sluice configured' | grep -q . &&
  fail "a second apply changed: $(cat "$d/apply2.out")"
[ "$(k get -n $ns pdb sluice -o jsonpath='{.metadata.resourceVersion}')" = "$pdb_rv" ] ||
  fail "the PDB's no-op patch wrote a new version"
# What was stored is what was rendered.
[ "$(k get -n $ns networkpolicy sluice -o jsonpath='{.spec.egress[2].ports[*].port}')" = "8000 9090" ] ||
  fail "the NetworkPolicy's scrape ports"
[ "$(k get -n $ns deploy sluice -o jsonpath='{.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem}')" = true ] ||
  fail "readOnlyRootFilesystem"
[ "$(k get -n $ns pdb sluice -o jsonpath='{.spec.maxUnavailable}')" = 1 ] || fail "the PDB"

# Every example in a namespace of its own, the ServiceMonitor CRD first (the Prometheus Operator's).
k apply -f "$root/tests/helm/servicemonitor-crd.yaml" >/dev/null || fail "ServiceMonitor CRD"
wait_for "the ServiceMonitor CRD" kubectl get crd servicemonitors.monitoring.coreos.com
for values in "$root"/deploy/examples/values-*.yaml; do
  name=$(basename "$values" .yaml)
  k create namespace "ex-$name" >/dev/null || fail "namespace ex-$name"
  # The namespaces the example watches (its Role lives there).
  for n in $(sed -n 's/^ *namespace: //p' "$d/check-$name/sluice.yaml" | sort -u); do
    k get namespace "$n" >/dev/null 2>&1 || k create namespace "$n" >/dev/null
  done
  k apply -f "$d/$name.yaml" >"$d/apply.out" 2>&1 || fail "kubectl apply $name: $(cat "$d/apply.out")"
done
k get -n ex-values-wva servicemonitor sluice-values-wva -o jsonpath='{.spec.endpoints[0].port}' |
  grep -qx metrics || fail "the ServiceMonitor was not stored"
k get -n llm-d-sim role sluice-values-wva >/dev/null 2>&1 || fail "watch.namespace: no Role in llm-d-sim"
k get -n ex-values-wva role sluice-values-wva-policy-events >/dev/null 2>&1 ||
  fail "watch.namespace: no Role for the ConfigMap's Events in the release namespace"

# --- sluice run, as the Deployment runs it, on its ConfigMaps as the kubelet mounts them -----------
# mount_configmap CM DIR: the ConfigMap's keys under DIR as a configMap volume lays them out. Run
# again, it swaps ..data to a new timestamped directory in one rename, as the kubelet does.
mount_configmap() {
  local cm=$1 dir=$2 ts old
  mkdir -p "$dir"
  ts="..$(date -u +%Y_%m_%d_%H_%M_%S).$RANDOM$RANDOM"
  mkdir "$dir/$ts"
  k get -n $ns configmap "$cm" -o json >"$d/cm.json" || fail "get configmap $cm"
  for key in $(jq -r '.data // {} | keys[]' "$d/cm.json"); do
    jq -j --arg k "$key" '.data[$k]' "$d/cm.json" >"$dir/$ts/$key"
    [ -L "$dir/$key" ] || ln -s "..data/$key" "$dir/$key"
  done
  old=$(readlink "$dir/..data" 2>/dev/null || true)
  ln -s "$ts" "$dir/..data_tmp" && mv -T "$dir/..data_tmp" "$dir/..data"
  [ -n "$old" ] && rm -rf "${dir:?}/$old"
  for l in "$dir"/*; do [ -L "$l" ] && [ ! -e "$l" ] && rm -f "$l"; done
  return 0
}
fs="$d/pod"                            # the container's filesystem
mkdir -p "$fs/etc/sluice" "$fs/run/sluice"
k get -n $ns configmap sluice-config -o json | jq -j '.data["sluice.yaml"]' >"$fs/etc/sluice/sluice.yaml"
mount_configmap sluice-policies "$fs/etc/sluice/policies"
# The container's command and args, with its paths under $fs and the metrics port on loopback.
jq_dep() { k get -n $ns deploy sluice -o json | jq -r "$1"; }
[ "$(jq_dep '.spec.template.spec.containers[0].command | join(" ")')" = sluice ] || fail "command"
[ "$(jq_dep '.spec.template.spec.containers[0].env[] | select(.name=="POD_NAMESPACE") | .valueFrom.fieldRef.fieldPath')" = metadata.namespace ] ||
  fail "POD_NAMESPACE from the downward API"
[ "$(jq_dep '.spec.template.spec.volumes[] | select(.name=="run") | .emptyDir.medium')" = Memory ] ||
  fail "/run/sluice is an emptyDir"
mapfile -t args < <(jq_dep '.spec.template.spec.containers[0].args[]' |
  sed "s#^/etc/sluice#$fs/etc/sluice#; s#^/run/sluice#$fs/run/sluice#; s#^:8080\$#127.0.0.1:0#")
printf '%s\n' "${args[@]}" | grep -qx -- --leader-elect || fail "leader election is not on by default"

k get namespace llm >/dev/null 2>&1 || k create namespace llm >/dev/null
cat <<YAML | k apply -f - >/dev/null || fail "apply llama"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: llama
  namespace: llm
  annotations: {llm-d.ai/managed: "true", llm-d.ai/model-id: meta-llama/Llama-3.1-8B-Instruct}
spec:
  replicas: 1
  selector: {matchLabels: {app: llama}}
  template:
    metadata: {labels: {app: llama}}
    spec:
      containers:
      - {name: vllm, image: vllm/vllm-openai, resources: {limits: {nvidia.com/gpu: "1"}}}
YAML
(cd "$fs" && exec env POD_NAMESPACE=$ns "$SLUICE" "${args[@]}" --kubeconfig "$KUBECONFIG") >"$d/run.log" 2>&1 &
run=$!
pids+=("$run")
wait_for "the metrics port" grep -q "serving /metrics, /healthz and /readyz on port" "$d/run.log"
port=$(sed -n 's/.*on port \([0-9]*\).*/\1/p' "$d/run.log" | head -1)
m="http://127.0.0.1:$port"
curl -fsS "$m/healthz" >/dev/null || fail "/healthz"
wait_for "/readyz" curl -fsS "$m/readyz"
lease=$(k get -n $ns role sluice-leader-election -o jsonpath='{.rules[1].resourceNames[0]}')
[ "$lease" = sluice ] || fail "the Role names lease '$lease'"
wait_for "the Lease the Role names" sh -c "kubectl get -n $ns lease $lease -o jsonpath='{.spec.holderIdentity}' | grep -q ."
wait_for "leadership" sh -c "curl -fsS $m/metrics | grep -qx 'sluice_leader 1'"
wait_for "discovery of llm/llama" grep -q "discovered variant llm/llama" "$d/run.log"
sock="$fs/run/sluice/repl.sock"
[ "$(stat -c %a "$sock")" = 600 ] || fail "the REPL socket's mode"
wait_for "llm/llama in the REPL" sh -c "'$SLUICE' repl --socket '$sock' -e variants | grep -q llm/llama"
wait_for "llm/llama on /metrics" sh -c "curl -fsS $m/metrics | grep -q 'sluice_replicas{variant=\"llm/llama\",state=\"spec\"} 1'"

# --- the dashboard's series are the ones sluice serves ----------------------------------------------
dash="$root/deploy/dashboards/sluice.json"
jq -e '.panels | length > 0' "$dash" >/dev/null || fail "the dashboard is not a Grafana dashboard"
curl -fsS "$m/metrics" | sed -n 's/^# TYPE \([a-z_:]*\) .*/\1/p' >"$d/families"
used=$(jq -r '.. | objects | select(has("expr")) | .expr' "$dash" | grep -o '\b\(sluice\|wva\)_[a-z_]*' | sort -u)
[ -n "$used" ] || fail "the dashboard queries no sluice series"
for s in $used; do
  base=$(echo "$s" | sed 's/_\(bucket\|sum\|count\)$//')
  case $base in
  sluice_scrape_*) # the scraper's families, where this build has one
    grep -q '^sluice_scrape_' "$d/families" || continue ;;
  sluice_prometheus_*) # the Prometheus source's, checked on a sluice configured with one below
    echo "$base" >>"$d/prom-used"; continue ;;
  esac
  grep -qx "$base" "$d/families" || fail "the dashboard queries $s, which /metrics does not serve"
done

# --- the walkthrough: a policy of your own in the ConfigMap, edited in place ------------------------
explain() { "$SLUICE" repl --socket "$sock" -e "explain llm/llama"; }
policy() { # replicas, reason
  cat <<LUA
return { name = "mine", decide = function(view, params, state)
  local out = {}
  for id in view:variants() do out[id] = { replicas = $1, reason = "$2" } end
  return out
end }
LUA
}
# No scraping here: the view has replica counts but no signals, so the guard's staleness rule is
# off, as in cluster.sh.
cat >"$d/mine.yaml" <<YAML
guard: {staleAfter: 0}
customPolicies:
  mine.lua: |
$(policy 2 "two, from the ConfigMap" | sed 's/^/    /')
policy: mine.lua
YAML
render sluice "$chart" -n $ns -f "$d/mine.yaml" >"$d/mine-render.yaml" || fail "render with mine.lua"
k apply -f "$d/mine-render.yaml" >/dev/null || fail "apply with mine.lua"
# sluice.yaml changed (the checksum rolls the pods): the new pod starts on the new config.
k get -n $ns configmap sluice-config -o json | jq -j '.data["sluice.yaml"]' >"$fs/etc/sluice/sluice.yaml"
grep -q 'file: mine.lua' "$fs/etc/sluice/sluice.yaml" || fail "sluice.yaml does not name mine.lua"
mount_configmap sluice-policies "$fs/etc/sluice/policies"
[ -L "$fs/etc/sluice/policies/mine.lua" ] || fail "mine.lua is not a link into ..data"
kill "$run"; wait "$run" 2>/dev/null
(cd "$fs" && exec env POD_NAMESPACE=$ns "$SLUICE" "${args[@]}" --kubeconfig "$KUBECONFIG") >"$d/run2.log" 2>&1 &
run=$!
pids+=("$run")
wait_for "the restarted controller" grep -q "on port" "$d/run2.log"
port=$(sed -n 's/.*on port \([0-9]*\).*/\1/p' "$d/run2.log" | head -1)
m="http://127.0.0.1:$port"
wait_for "/readyz after the restart" curl -fsS "$m/readyz"
wait_for "llama at 2" sh -c "[ \"\$(kubectl get -n llm deploy llama -o jsonpath='{.spec.replicas}')\" = 2 ]"
wait_for "explain naming mine" sh -c "'$SLUICE' repl --socket '$sock' -e 'explain llm/llama' | grep -q 'two, from the ConfigMap'"
# An edit of the policy alone: kubelet swaps ..data; the same pod reloads it.
cat >"$d/mine.yaml" <<YAML
guard: {staleAfter: 0}
customPolicies:
  mine.lua: |
$(policy 3 "three, after kubectl edit" | sed 's/^/    /')
policy: mine.lua
YAML
render sluice "$chart" -n $ns -f "$d/mine.yaml" | k apply -f - >/dev/null || fail "apply the edit"
cmp -s <(config_of "$d/mine-render.yaml") "$fs/etc/sluice/sluice.yaml" || fail "a policy edit changed sluice.yaml"
mount_configmap sluice-policies "$fs/etc/sluice/policies"
wait_for "llama at 3" sh -c "[ \"\$(kubectl get -n llm deploy llama -o jsonpath='{.spec.replicas}')\" = 3 ]"
wait_for "explain after the edit" sh -c "'$SLUICE' repl --socket '$sock' -e 'explain llm/llama' | grep -q 'three, after kubectl edit'"
# A broken edit: the running version keeps deciding, and the failure is on /metrics.
kubectl get -n $ns configmap sluice-policies -o json |
  jq '.data["mine.lua"] = "return { name = \"mine\", decide = function( }"' | k apply -f - >/dev/null ||
  fail "apply the broken edit"
mount_configmap sluice-policies "$fs/etc/sluice/policies"
wait_for "the rejected reload on /metrics" sh -c "curl -fsS $m/metrics | grep -q 'sluice_policy_reloads_total{file=\"mine.lua\",result=\"rejected\"} 1'"
explain | grep -q 'three, after kubectl edit' || fail "the old version stopped deciding: $(explain)"
# Both reloads left an Event on the ConfigMap sluice.yaml names (policy_configmap), where whoever
# edited it looks.
grep -qx 'policy_configmap: sluice-policies' "$fs/etc/sluice/sluice.yaml" || fail "policy_configmap"
cm_event() { # reason, text
  kubectl get events -n $ns -o json | jq -e --arg r "$1" --arg t "$2" '.items[] |
    select(.involvedObject.kind=="ConfigMap" and .involvedObject.name=="sluice-policies" and
           .reason==$r and (.message | contains($t)))' >/dev/null
}
wait_for "PolicyReloaded on the ConfigMap" cm_event PolicyReloaded mine.lua
wait_for "PolicyRejected on the ConfigMap" cm_event PolicyRejected "mine.lua:1:"
kill -0 "$run" || fail "sluice run died"

# --- values-wva's sluice.yaml runs too, its Prometheus source on /metrics --------------------------
# Its Prometheus is not here: a closed port.
mkdir -p "$d/wva/policies"
sed 's#url: http://prometheus-operated.monitoring.svc:9090#url: http://127.0.0.1:1#' \
  "$d/check-values-wva/sluice.yaml" >"$d/wva/sluice.yaml"
grep -q 'url: http://127.0.0.1:1' "$d/wva/sluice.yaml" || fail "values-wva's Prometheus URL"
"$SLUICE" run -c "$d/wva/sluice.yaml" --kubeconfig "$KUBECONFIG" --metrics-bind-address 127.0.0.1:0 \
  --repl-socket "$d/wva.sock" >"$d/run-wva.log" 2>&1 &
pids+=("$!")
wait_for "values-wva's metrics port" grep -q "on port" "$d/run-wva.log"
wport=$(sed -n 's/.*on port \([0-9]*\).*/\1/p' "$d/run-wva.log" | head -1)
wait_for "the Prometheus source on /metrics" sh -c \
  "curl -fsS http://127.0.0.1:$wport/metrics | grep -qx 'sluice_prometheus_up 0'"
curl -fsS "http://127.0.0.1:$wport/metrics" | sed -n 's/^# TYPE \([a-z_:]*\) .*/\1/p' >"$d/wva-families"
for s in $(sort -u "$d/prom-used"); do
  grep -qx "$s" "$d/wva-families" || fail "the dashboard queries $s, which a Prometheus-fed sluice does not serve"
done
echo "helm chart: ok"
