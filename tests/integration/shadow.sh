#!/usr/bin/env bash
# A shadow policy beside the live one, in cluster mode against `sluice emulate`: it decides every
# tick, its wish is on /metrics (sluice_shadow_desired_replicas), in the JSON log and in the
# REPL's `variants`, and it never reaches the /scale subresource — the Deployment stays where
# the live policy puts it and no Event carries the shadow's count.
set -u
command -v kubectl >/dev/null || { echo "kubectl not installed: skipped"; exit 0; }
. "$(dirname "$0")/lib/emu.bash"
start_emulator --start-delay 0.2
replicas() { kubectl get deploy llama -n llm -o jsonpath='{.spec.replicas}'; }
at() { test "$(replicas)" = "$1"; }

kubectl create namespace llm >/dev/null || fail "namespace"
managed_deployment llama meta-llama/Llama-3.1-8B

mkdir -p "$d/policies"
policy() { # file, name, replicas
  cat > "$d/policies/$1" <<LUA
return { name = "$2", decide = function(view)
  local out = {}
  for id in view:variants() do out[id] = { replicas = $3, reason = "$2 wants $3" } end
  return out
end }
LUA
}
policy live.lua live 2
policy try.lua try 6
cat > "$d/sluice.yaml" <<YAML
interval: 300ms
source: {kubernetes: {}}
policy_dir: policies
guard: {stale_after: 0}
policies:
  - live.lua
  - {file: try.lua, shadow: true}
YAML
"$SLUICE" run -c "$d/sluice.yaml" --kubeconfig "$KUBECONFIG" --metrics-bind-address 127.0.0.1:0 \
  --repl-socket "$d/repl.sock" >"$d/run.log" 2>&1 &
pids+=("$!")
wait_for "the metrics port" grep -q "serving /metrics.* on port" "$d/run.log"
port=$(metrics_port "$d/run.log")
wait_for "llama at 2" at 2
metric='sluice_shadow_desired_replicas{variant="llm/llama",variant_name="llama",namespace="llm",policy="try"} 6'
wait_for "the shadow's 6 on /metrics" sh -c "curl -fsS http://127.0.0.1:$port/metrics | cat | grep -qF '$metric'"
grep -q '"variant":"llm/llama","shadow":"try","current":[0-9]*,"wants":6' "$d/run.log" ||
  fail "no JSON line for the shadow's wish"
"$SLUICE" repl --socket "$d/repl.sock" -e variants | grep -q "shadow try: wants 6" ||
  fail "the REPL's variants does not show the shadow ($("$SLUICE" repl --socket "$d/repl.sock" -e variants 2>&1))"
# Ten more ticks: the shadow keeps wanting 6 and the Deployment stays at the live policy's 2.
sleep 3
[ "$(replicas)" = 2 ] || fail "llama at $(replicas): the shadow was actuated"
kubectl get events -n llm -o json | jq -e '[.items[] | select(.message | contains("try"))] | length == 0' \
  >/dev/null || fail "an Event names the shadow policy"
curl -fsS "http://127.0.0.1:$port/metrics" | cat | grep -q '^wva_desired_replicas{.*variant_name="llama".*} 2$' ||
  fail "wva_desired_replicas is not the live policy's 2"
echo "shadow: decided every tick, on /metrics, in the log and the REPL, never actuated"
