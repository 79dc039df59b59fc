#!/usr/bin/env bash
# Policies as a ConfigMap, against `sluice emulate`: the ConfigMap is projected into a directory
# the way the kubelet's atomic writer does it (a timestamped directory, a `..data` symlink
# swapped with rename, each key a symlink into `..data`), and sluice runs with that directory as
# its policy_dir. An edit takes effect without a restart (a PolicyReloaded Event on the
# ConfigMap); a broken edit keeps the old version deciding (a hand-made change is undone by it)
# and shows on the log, the ConfigMap's Events (PolicyRejected, file:line), /metrics and the
# REPL's `errors`.
set -u
command -v kubectl >/dev/null || { echo "kubectl not installed: skipped"; exit 0; }
. "$(dirname "$0")/lib/emu.bash"
start_emulator --start-delay 0.2
kubectl create namespace llm >/dev/null || fail "namespace"
managed_deployment llama meta-llama/Llama-3.1-8B
replicas() { kubectl get deploy llama -n llm -o jsonpath='{.spec.replicas}'; }
at() { test "$(replicas)" = "$1"; }

policy_cm() { # the ConfigMap with want.lua asking for N replicas (or broken Lua)
  local body
  if [ "$1" = broken ]; then
    body='return { name = "want", decide = function(view) return {} end'  # no closing brace
  else
    body="return { name = \"want\", decide = function(view)
  local out = {}
  for id in view:variants() do out[id] = { replicas = $1, reason = \"want $1\" } end
  return out
end }"
  fi
  kubectl create configmap sluice-policies -n llm --from-literal=want.lua="$body" \
    --dry-run=client -o yaml | kubectl apply -f - >/dev/null
}
# The kubelet's projection of the ConfigMap into $d/vol.
n=0
project() {
  n=$((n + 1))
  local ts="..2026_12_07_00_00_0$n.$$"
  mkdir -p "$d/vol/$ts"
  kubectl get configmap sluice-policies -n llm -o json | jq -r '.data["want.lua"]' > "$d/vol/$ts/want.lua"
  ln -sfn "$ts" "$d/vol/..data_tmp"
  mv -T "$d/vol/..data_tmp" "$d/vol/..data"
  [ -L "$d/vol/want.lua" ] || ln -s ..data/want.lua "$d/vol/want.lua"
}
policy_cm 2 || fail "create the ConfigMap"
project

cat > "$d/sluice.yaml" <<YAML
interval: 300ms
source: {kubernetes: {}}
policy_dir: vol
policy_configmap: llm/sluice-policies
guard: {stale_after: 0}
policies: [want.lua]
YAML
"$SLUICE" run -c "$d/sluice.yaml" --kubeconfig "$KUBECONFIG" --metrics-bind-address 127.0.0.1:0 \
  --repl-socket "$d/repl.sock" >"$d/run.log" 2>&1 &
pids+=("$!")
wait_for "the metrics port" grep -q "serving /metrics.* on port" "$d/run.log"
port=$(metrics_port "$d/run.log")
wait_for "llama at 2" at 2

cm_events() { kubectl get events -n llm -o json | jq -e --arg r "$1" --arg m "$2" \
  '[.items[] | select(.involvedObject.kind=="ConfigMap" and .involvedObject.name=="sluice-policies"
     and .reason==$r and (.message | contains($m)))] | length > 0'; }

# An edit: the new version decides, without a restart.
policy_cm 4 || fail "edit the ConfigMap"
project
wait_for "llama at 4 after the edit" at 4
wait_for "a PolicyReloaded Event on the ConfigMap" cm_events PolicyReloaded "version 2 is deciding"
explain() { "$SLUICE" repl --socket "$d/repl.sock" -e 'explain llm/llama'; }
wait_for "explain showing the new reasoning" sh -c "'$SLUICE' repl --socket '$d/repl.sock' -e 'explain llm/llama' | grep -q 'want 4'"
explain | grep -q "version 2" || fail "explain does not name version 2: $(explain 2>&1 | head -5)"

# A broken edit: refused, the running version keeps deciding.
policy_cm broken || fail "break the ConfigMap"
project
wait_for "the rejection in the log" grep -q "want.lua.*rejected\|rejected.*want.lua" "$d/run.log"
wait_for "a PolicyRejected Event naming file:line" cm_events PolicyRejected "want.lua:"
curl -fsS "http://127.0.0.1:$port/metrics" | cat |
  grep -q '^sluice_policy_reloads_total{file="want.lua",result="rejected"} 1$' ||
  fail "/metrics does not count the rejection"
"$SLUICE" repl --socket "$d/repl.sock" -e errors | grep -q "want.lua" ||
  fail "the REPL's errors does not show it"
kubectl scale deploy llama -n llm --replicas=3 >/dev/null
wait_for "the old version putting llama back at 4" at 4
echo "configmap: an edit reloads without a restart; a broken one is refused, visible, and the old version decides"
