#!/usr/bin/env bash
# sluice run in cluster mode against `sluice emulate`, with the real kubectl beside it:
# discovery of annotated Deployments, scaling through /scale, Events with the policy's reason,
# a `kubectl scale` by hand seen within a tick, API faults (500s, 429s with Retry-After, 409 on
# writes, watches cut mid-event and 410s) ending in recovery with nothing applied twice, the API
# gone (hold, then recover), leader election (kill -9 of the leader, the other takes over), two
# shards on one emulator, and a kubeconfig with a wrong CA refused. The emulator's simple
# backend serves no /metrics, so sluice's scrapes of its pods fail and the guard's staleness rule
# is off; the policy decides on replica counts alone. (Scraping in cluster mode:
# tests/integration/scrape.sh and tests/unit/test_cluster_scrape.c.)
set -u
command -v kubectl >/dev/null || { echo "kubectl not installed: skipped"; exit 0; }
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
  for f in "$d"/*.log; do echo "--- $f"; tail -15 "$f"; done
  exit 1
}
export HOME="$d" KUBECONFIG="$d/kubeconfig"
# The emulator's instant-pod backend, where the build has a choice of backends.
backend=""
"$SLUICE" emulate --help 2>&1 | grep -q -- '--backend' && backend="--backend simple"
"$SLUICE" emulate $backend --port 0 --kubeconfig "$KUBECONFIG" --start-delay 0.2 \
  --seed 3 >"$d/emu.log" 2>&1 &
emu=$!
pids+=("$emu")
for _ in $(seq 300); do [ -f "$KUBECONFIG" ] && break; sleep 0.05; done
[ -f "$KUBECONFIG" ] || fail "no kubeconfig"
url=$(sed -n 's/^ *server: //p' "$KUBECONFIG")
k() { kubectl "$@"; }
wait_for() { # what, command...
  local what=$1; shift
  for _ in $(seq 600); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "timed out waiting for $what"
}
replicas() { k get deploy "$1" -n "${2:-llm}" -o jsonpath='{.spec.replicas}'; }
at() { test "$(replicas "$1" "${3:-llm}")" = "$2"; } # at NAME N [NAMESPACE]
faults() { curl -fsS -X POST -H 'Content-Type: application/json' -d "$1" "$url/_emu/faults" >/dev/null; }
stats() { curl -fsS "$url/_emu/stats"; }

k create namespace llm >/dev/null
k create namespace team-b >/dev/null
deployment() { # name, namespace, model
  cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $1
  namespace: $2
  annotations: {llm-d.ai/managed: "true", llm-d.ai/model-id: $3, llm-d.ai/variant-cost: "4"}
spec:
  replicas: 1
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
      containers:
      - {name: vllm, image: vllm/vllm-openai, resources: {limits: {nvidia.com/gpu: "1"}}}
YAML
}
deployment llama llm meta-llama/Llama-3.1-8B | k apply -f - >/dev/null || fail "apply llama"
# A VariantAutoscaling for llama: its status is sluice's to write.
k apply -f "$(dirname "$0")/../../deploy/crds/variantautoscaling.yaml" >/dev/null || fail "VA CRD"
wait_for "the VA CRD" kubectl get crd variantautoscalings.llmd.ai
cat <<YAML | k apply -f - >/dev/null || fail "apply VA"
apiVersion: llmd.ai/v1alpha1
kind: VariantAutoscaling
metadata: {name: llama, namespace: llm}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: llama}
  modelID: meta-llama/Llama-3.1-8B
YAML
deployment qwen team-b qwen/Qwen2.5-7B | k apply -f - >/dev/null || fail "apply qwen"

mkdir -p "$d/policies"
want() { # replicas the policy asks for, for every variant it manages
  cat > "$d/policies/.w.tmp" <<LUA
return { name = "want", decide = function(view, params, state)
  local out = {}
  for id, v in view:variants() do
    out[id] = { replicas = $1, reason = "want $1 (saw spec " .. v.replicas.spec .. ")" }
  end
  return out
end }
LUA
  mv "$d/policies/.w.tmp" "$d/policies/want.lua"
}
want 3
cat > "$d/sluice.yaml" <<YAML
interval: 500ms
source: {kubernetes: {}}
policy_dir: policies
guard: {stale_after: 0}
accelerators: {H100: {count: 16, cost: 4}}
policies: [want.lua]
shards:
  a: {namespace: llm}
  b: {namespace: team-b}
YAML

# --- discovery, /scale, Events ----------------------------------------------------------------
"$SLUICE" run -c "$d/sluice.yaml" --kubeconfig "$KUBECONFIG" --shard a --repl-socket "$d/a.sock" \
  >"$d/run-a.log" 2>&1 &
run_a=$!
pids+=("$run_a")
wait_for "discovery of llm/llama" grep -q "discovered variant llm/llama" "$d/run-a.log"
grep -q "discovered variant team-b/qwen" "$d/run-a.log" && fail "shard a discovered team-b's variant"
wait_for "llama at 3" at llama 3
grep -q '"variant":"llm/llama","from":1,"to":3,"policy":"want"' "$d/run-a.log" ||
  fail "no JSON decision line for 1 -> 3"
wait_for "the ScaledUp event" sh -c "kubectl get events -n llm -o json |
  jq -e '.items[] | select(.reason==\"ScaledUp\" and .source.component==\"sluice\" and
  (.message | contains(\"1 -> 3 by want: want 3\")))'"
[ "$(replicas qwen team-b)" = 1 ] || fail "shard a scaled team-b/qwen"
wait_for "the VA's status" sh -c "kubectl get va llama -n llm -o json |
  jq -e '.status.desiredOptimizedAlloc.numReplicas == 3 and
         (.status.conditions[] | select(.type==\"OptimizationReady\") | .message | contains(\"want 3\"))'"

# --- the REPL follows the controller when discovery rebuilds it ---------------------------------
repl() { "$SLUICE" repl --socket "$d/a.sock" -e "$1"; }
repl variants | grep -q "llm/llama" || fail "repl variants: no llm/llama ($(repl variants 2>&1))"
deployment mistral llm mistralai/Mistral-7B | k apply -f - >/dev/null || fail "apply mistral"
wait_for "discovery of llm/mistral" grep -q "discovered variant llm/mistral" "$d/run-a.log"
wait_for "mistral at 3" at mistral 3
repl variants | grep -q "llm/mistral" || fail "repl variants after rediscovery: no llm/mistral"
repl 'outcomes["llm/mistral"].target' | grep -qx 3 ||
  fail "repl reads the old controller: $(repl 'outcomes["llm/mistral"].target' 2>&1)"
k delete deploy mistral -n llm >/dev/null || fail "delete mistral"
wait_for "mistral gone from the REPL" sh -c "! '$SLUICE' repl --socket '$d/a.sock' -e variants | grep -q mistral"

# --- a kubectl scale by hand is seen within a tick ----------------------------------------
want 5
wait_for "llama at 5" at llama 5
k scale deploy/llama -n llm --replicas=2 >/dev/null
wait_for "the hand-set 2 in the view" grep -q "want 5 (saw spec 2)" "$d/run-a.log"
wait_for "llama back at 5" at llama 5

# --- faults: 500s, 429s with Retry-After, watches cut mid-event, 410s; then 409 on writes --------
generation() { k get deploy "$1" -n "${2:-llm}" -o jsonpath='{.metadata.generation}'; }
g0=$(generation llama)
faults '{"error500": 0.3, "error429": 0.3, "retryAfterSeconds": 1, "watchDropEverySeconds": 1,
         "expireNext": 3}'
want 7
wait_for "llama at 7 through the faults" at llama 7
sleep 2
curl -fsS -X DELETE "$url/_emu/faults" >/dev/null
[ "$(replicas llama)" = 7 ] || fail "llama moved off 7 after the faults"
# The spec changed once: retries, relists and reconnects did not write again.
[ "$(generation llama)" = $((g0 + 1)) ] || fail "generation $g0 -> $(generation llama) for one change"
kill -0 $run_a 2>/dev/null || fail "sluice run died under API faults"
g0=$(generation llama)
faults '{"conflict409": 1.0}'
want 9
wait_for "a refused write" grep -q "409\|Conflict" "$d/run-a.log"
[ "$(replicas llama)" = 7 ] || fail "a write got through every 409"
curl -fsS -X DELETE "$url/_emu/faults" >/dev/null
wait_for "llama at 9 once the 409s stop" at llama 9
[ "$(generation llama)" = $((g0 + 1)) ] || fail "9 applied more than once"
kill -TERM $run_a; wait $run_a || fail "sluice run exited $? on SIGTERM"

# --- the API gone: hold on stale cluster state, then recover -----------------------------
# A variant with no Ready pod has no signals to be stale, so only its cluster state can be:
# ghost's pods ask for an accelerator no node has and stay Pending.
deployment ghost llm meta-llama/Llama-3.1-8B | sed 's/NVIDIA-H100-80GB-HBM3/NONE/' |
  k apply -f - >/dev/null || fail "apply ghost"
sed -i 's/guard: {stale_after: 0}/guard: {stale_after: 3s}/' "$d/sluice.yaml"
want 9
"$SLUICE" run -c "$d/sluice.yaml" --kubeconfig "$KUBECONFIG" --shard a >"$d/run-a2.log" 2>&1 &
run_a=$!
pids+=("$run_a")
wait_for "ghost at 9" at ghost 9
faults '{"error500": 1.0, "watchDropEverySeconds": 0.5}'
wait_for "a hold on stale cluster state" grep -q "llm/ghost.*hold: stale cluster state" "$d/run-a2.log"
applied=$(grep -c '"variant":"llm/ghost"' "$d/run-a2.log")
want 12  # up: with no signals at all, the guard never scales down
wait_for "the new version deciding" grep -q "swapped (version 2)" "$d/run-a2.log"
sleep 2
# (kubectl cannot look now: every API call fails.) Nothing was applied while it was down.
[ "$(grep -c '"variant":"llm/ghost"' "$d/run-a2.log")" = "$applied" ] ||
  fail "ghost scaled while the API was unreachable"
curl -fsS -X DELETE "$url/_emu/faults" >/dev/null
wait_for "ghost at 12 after recovery" at ghost 12
kill -TERM $run_a; wait $run_a
sed -i 's/guard: {stale_after: 3s}/guard: {stale_after: 0}/' "$d/sluice.yaml"

# --- leader election: two instances, kill -9 the leader, the other takes over ----------------
"$SLUICE" run -c "$d/sluice.yaml" --kubeconfig "$KUBECONFIG" --shard a --leader-elect \
  >"$d/lead1.log" 2>&1 &
l1=$!
pids+=("$l1")
wait_for "instance 1 leads" grep -q "this instance leads" "$d/lead1.log"
"$SLUICE" run -c "$d/sluice.yaml" --kubeconfig "$KUBECONFIG" --shard a --leader-elect \
  >"$d/lead2.log" 2>&1 &
l2=$!
pids+=("$l2")
wait_for "instance 2 campaigning" grep -q "campaigning for lease" "$d/lead2.log"
wait_for "llama at 12 from the leader" at llama 12
grep -q '"to":' "$d/lead2.log" && fail "the follower applied a decision"
holder=$(k get lease sluice-a -n default -o jsonpath='{.spec.holderIdentity}')
echo "$holder" | grep -q "_$l1\$" || fail "lease held by '$holder', not instance 1 ($l1)"
kill -9 $l1
want 14
wait_for "instance 2 takes over" grep -q "this instance leads" "$d/lead2.log"
wait_for "llama at 14 from the new leader" at llama 14
[ "$(grep -c '"variant":"llm/llama".*"to":14' "$d/lead2.log")" -eq 1 ] ||
  fail "12 -> 14 applied more than once"
kill -TERM $l2; wait $l2

# --- two shards on one emulator, each scaling only its own ----------------------------------
want 16  # up again: without signals the guard never scales down
"$SLUICE" run -c "$d/sluice.yaml" --kubeconfig "$KUBECONFIG" --shard a >"$d/sa.log" 2>&1 &
sa=$!
"$SLUICE" run -c "$d/sluice.yaml" --kubeconfig "$KUBECONFIG" --shard b >"$d/sb.log" 2>&1 &
sb=$!
pids+=("$sa" "$sb")
wait_for "llama at 16" at llama 16
wait_for "qwen at 16" at qwen 16 team-b
grep -q "team-b/qwen" "$d/sa.log" && fail "shard a touched team-b/qwen"
grep -q "llm/llama" "$d/sb.log" && fail "shard b touched llm/llama"
kill -TERM $sa $sb; wait $sa $sb

# --- a kubeconfig with a wrong CA ---------------------------------------------------------
"$SLUICE" emulate $backend --tls --port 0 --kubeconfig "$d/tls.kubeconfig" >"$d/emu-tls.log" 2>&1 &
pids+=("$!")
for _ in $(seq 300); do [ -f "$d/tls.kubeconfig" ] && break; sleep 0.05; done
tls_url=$(sed -n 's/^ *server: //p' "$d/tls.kubeconfig")
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=wrong -days 1 -keyout "$d/k.pem" \
  -out "$d/ca.pem" >/dev/null 2>&1 || fail "openssl"
cat > "$d/bad.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "$tls_url", certificate-authority: $d/ca.pem}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
YAML
out=$(timeout 30 "$SLUICE" run -c "$d/sluice.yaml" --kubeconfig "$d/bad.kubeconfig" 2>&1); rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "a bad CA did not stop sluice run (exit $rc): $out"
echo "$out" | grep -q "certificate" || fail "no clear error with a bad CA: $out"
echo "cluster: discovery, /scale, Events, faults, stale hold, leader election, shards, bad CA"
