#!/usr/bin/env bash
# sluice emulate --speed 10 with the simulation backend: the real kubectl finds a model server
# pod's metrics port in its annotations; its /metrics serves live vLLM values that change over
# time as the load rises; the EPP serves the gateway's; a pod scaled up by kubectl serves its own
# page; metric-endpoint faults switched through the admin endpoint (garbage, dead, slow) take
# effect and clear; a deleted pod's endpoint goes away; --load 0 runs the cluster without traffic
# and POST /_emu/load switches it at run time; GET /_emu/scales lists the scale with its time.
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
  tail -20 "$d/emu.log"
  exit 1
}
export HOME="$d" KUBECONFIG="$d/kubeconfig"

"$SLUICE" emulate --help | grep -q -- '--speed X' || fail "emulate --help lacks --speed"
out=$("$SLUICE" emulate --speed 0 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q -- "--speed: '0'" || fail "--speed 0: exit $rc ($out)"
out=$("$SLUICE" emulate --cluster "$d/none.yaml" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -qF "$d/none.yaml" || fail "missing --cluster: exit $rc ($out)"

"$SLUICE" emulate --port 0 --kubeconfig "$KUBECONFIG" --speed 10 --start-delay 5 --seed 4 \
  >"$d/emu.log" 2>&1 &
emu=$!
pids+=("$emu")
for _ in $(seq 300); do [ -f "$KUBECONFIG" ] && break; sleep 0.05; done
[ -f "$KUBECONFIG" ] || fail "no kubeconfig"
url=$(sed -n 's/^ *server: //p' "$KUBECONFIG")
faults() { curl -fsS -X POST -H 'Content-Type: application/json' -d "$1" "$url/_emu/faults" >/dev/null; }
wait_for() { # what, command...
  local what=$1; shift
  for _ in $(seq 200); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  fail "timed out waiting for $what"
}
# name=port of the Ready pods of a deployment, from the annotations sluice's client reads.
ports() {
  kubectl get pods -n llm -l "app=$1" -o json | jq -r '.items[] |
    select(any(.status.conditions[]?; .type=="Ready" and .status=="True")) |
    select(.metadata.annotations["prometheus.io/port"]) |
    "\(.metadata.name)=\(.metadata.annotations["prometheus.io/port"])"'
}
first_port() { ports "$1" | head -1 | cut -d= -f2; }
metric() { # port name: the first sample's value
  curl -fsS -m 5 "http://127.0.0.1:$1/metrics" | awk -v n="$2" '!done && $1 ~ "^"n"({|$)" {print $2; done = 1}'
}
ready_pods() { test -n "$(first_port "$1")"; }

# --load 0: the cluster without traffic (servers and EPPs serve pages of zeros).
"$SLUICE" emulate --port 0 --kubeconfig "$d/idle.kc" --speed 100 --load 0 >"$d/idle.log" 2>&1 &
idle=$!
pids+=("$idle")
for _ in $(seq 300); do [ -f "$d/idle.kc" ] && break; sleep 0.05; done
[ -f "$d/idle.kc" ] || fail "no kubeconfig from the idle emulator"
KUBECONFIG="$d/idle.kc" wait_for "an idle EPP" ready_pods llama-3-1-8b-instruct-epp
sleep 0.5
n=$(metric "$(KUBECONFIG="$d/idle.kc" first_port llama-3-1-8b-instruct-epp)" inference_objective_request_total)
[ "$n" = 0.0 ] || fail "--load 0 sent $n requests"
n=$(metric "$(KUBECONFIG="$d/idle.kc" first_port llama-8b-h100)" vllm:request_success_total)
[ "$n" = 0.0 ] || fail "--load 0: a server finished $n requests"
# The load switched at run time: POST /_emu/load starts the traffic, bad bodies name the field,
# and load 0 stops it again.
iurl=$(sed -n 's/^ *server: //p' "$d/idle.kc")
iload() { curl -sS -o "$d/load.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "$1" "$iurl/_emu/load"; }
[ "$(iload '{"load": -1}')" = 400 ] && grep -q "load must be a number in \[0, 1000\]" "$d/load.out" ||
  fail "load -1: $(cat "$d/load.out")"
[ "$(iload '{"models": {"no/such-model": 2}}')" = 400 ] && grep -q "no model 'no/such-model'" "$d/load.out" ||
  fail "an unknown model: $(cat "$d/load.out")"
[ "$(iload '{"lod": 2}')" = 400 ] && grep -q "unknown field 'lod'" "$d/load.out" ||
  fail "an unknown field: $(cat "$d/load.out")"
[ "$(iload '{"models": {"llama-3-1-8b-instruct": 1}}')" = 200 ] || fail "setting the load: $(cat "$d/load.out")"
[ "$(curl -fsS "$iurl/_emu/load" | jq '.models["meta-llama/Llama-3.1-8B-Instruct"].load')" = 1 ] ||
  fail "GET /_emu/load does not show the 8B model's new load"
[ "$(curl -fsS "$iurl/_emu/load" | jq '.models["meta-llama/Llama-3.2-3B-Instruct"].load')" = 0 ] ||
  fail "the 3B model's load changed with the 8B model's"
ieep=$(KUBECONFIG="$d/idle.kc" first_port llama-3-1-8b-instruct-epp)
arriving() { [ "$(metric "$ieep" inference_objective_request_total)" != 0.0 ]; }
wait_for "requests after POST /_emu/load" arriving
[ "$(iload '{"load": 0}')" = 200 ] || fail "load 0: $(cat "$d/load.out")"
sleep 0.3 # at --speed 100, what had arrived is counted
n1=$(metric "$ieep" inference_objective_request_total)
sleep 0.5
n2=$(metric "$ieep" inference_objective_request_total)
[ "$n1" = "$n2" ] || fail "requests still arriving after load 0 ($n1, then $n2)"
kill "$idle"

wait_for "a Ready llama-8b-h100 pod" ready_pods llama-8b-h100
wait_for "the 8B model's EPP" ready_pods llama-3-1-8b-instruct-epp
pod=$(ports llama-8b-h100 | head -1 | cut -d= -f1)
port=$(first_port llama-8b-h100)
epp=$(first_port llama-3-1-8b-instruct-epp)
[ "$(kubectl get pod -n llm "$pod" -o jsonpath='{.status.podIP}')" = 127.0.0.1 ] || fail "podIP"
[ "$(kubectl get pod -n llm "$pod" -o jsonpath='{.spec.containers[0].ports[?(@.name=="metrics")].containerPort}')" = "$port" ] ||
  fail "the container port is not the annotated $port"
[ "$(kubectl get pod -n llm "$pod" -o jsonpath='{.metadata.annotations.prometheus\.io/path}')" = /metrics ] ||
  fail "prometheus.io/path"

page=$(curl -fsS "http://127.0.0.1:$port/metrics") || fail "no page on port $port"
for f in vllm:num_requests_running vllm:num_requests_waiting vllm:kv_cache_usage_perc \
  vllm:prompt_tokens_total vllm:generation_tokens_total vllm:request_success_total \
  vllm:time_to_first_token_seconds vllm:inter_token_latency_seconds \
  vllm:e2e_request_latency_seconds vllm:cache_config_info; do
  echo "$page" | grep -q "^# TYPE $f " || fail "the vLLM page lacks $f"
done
echo "$page" | grep -q '^vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} ' ||
  fail "running requests are not labelled with the model"

# Live values: counters grow, and the built-in load steps up at 120 simulated seconds (12 s here).
g1=$(metric "$port" vllm:generation_tokens_total)
r1=$(metric "$epp" inference_objective_request_total)
sleep 1
g2=$(metric "$port" vllm:generation_tokens_total)
r2=$(metric "$epp" inference_objective_request_total)
awk -v a="$g1" -v b="$g2" 'BEGIN {exit !(b > a)}' || fail "generated tokens did not grow ($g1 -> $g2)"
awk -v a="$r1" -v b="$r2" 'BEGIN {exit !(b > a)}' || fail "EPP requests did not grow ($r1 -> $r2)"
busy() { awk -v r="$(metric "$port" vllm:num_requests_running)" 'BEGIN {exit !(r >= 100)}'; }
for _ in $(seq 300); do busy && break; sleep 0.1; done
busy || fail "the server never got busy as the load rose ($(metric "$port" vllm:num_requests_running) running)"
r3=$(metric "$epp" inference_objective_request_total)
sleep 1
r4=$(metric "$epp" inference_objective_request_total)
awk -v r1="$r1" -v r2="$r2" -v r3="$r3" -v r4="$r4" 'BEGIN {exit !((r4 - r3) > 3 * (r2 - r1))}' ||
  fail "the arrival rate did not rise several-fold ($r1 $r2 -> $r3 $r4)"

# kubectl scale: the new pod becomes a replica with a page of its own, and the EPP counts it.
kubectl scale -n llm deploy/llama-8b-h100 --replicas=2 >/dev/null || fail "kubectl scale"
# GET /_emu/scales: the client's scale, with the time it was stored.
now=$(date +%s)
curl -fsS "$url/_emu/scales" | jq -e --argjson now "$now" '.scales[-1] |
  .name == "llama-8b-h100" and .namespace == "llm" and .from == 1 and .to == 2 and
  (.time - $now | fabs) < 5' >/dev/null || fail "the scale is not in /_emu/scales: $(curl -fsS "$url/_emu/scales")"
two() { [ "$(ports llama-8b-h100 | wc -l)" = 2 ]; }
wait_for "the second llama-8b-h100 pod" two
new=$(ports llama-8b-h100 | grep -v "^$pod=" | cut -d= -f2)
[ -n "$new" ] && [ "$new" != "$port" ] || fail "the new pod has no port of its own ($new)"
serving() { awk -v r="$(metric "$new" vllm:num_requests_running)" 'BEGIN {exit !(r > 0)}'; }
wait_for "the new pod to run requests" serving
ready3() { [ "$(metric "$epp" inference_pool_ready_pods)" = 3.0 ]; }
wait_for "the EPP to count three servers" ready3

# Faults on the first pod's endpoint: garbage, dead, slow, then clear.
faults "{\"pods\":{\"llm/$pod\":{\"mode\":\"garbage\"}}}" || fail "garbage fault"
curl -fsS "http://127.0.0.1:$port/metrics" | grep '^# TYPE' >/dev/null && fail "a garbage page still looks like one"
faults "{\"pods\":{\"llm/$pod\":{\"mode\":\"dead\"}}}" || fail "dead fault"
refused() { curl -sS -m 2 "http://127.0.0.1:$port/metrics" 2>&1 | grep "Couldn't connect\|Failed to connect" >/dev/null; }
wait_for "the dead endpoint to refuse connections" refused
faults "{\"pods\":{\"llm/$pod\":{\"mode\":\"slow\",\"delaySeconds\":1}}}" || fail "slow fault"
wait_for "the endpoint to listen again" curl -fsS -o /dev/null -m 3 "http://127.0.0.1:$port/metrics"
t=$(curl -fsS -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/metrics")
awk -v t="$t" 'BEGIN {exit !(t >= 0.9)}' || fail "a slow endpoint answered in $t s"
faults "{\"pods\":{\"llm/$pod\":{\"mode\":\"ok\"}}}" || fail "clearing the fault"
t=$(curl -fsS -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/metrics")
awk -v t="$t" 'BEGIN {exit !(t < 0.5)}' || fail "the cleared endpoint answered in $t s"
curl -fsS "http://127.0.0.1:$port/metrics" | grep '^# TYPE vllm:num_requests_running gauge' >/dev/null ||
  fail "the cleared endpoint's page"

# A deleted pod's endpoint goes away.
kubectl delete pod -n llm "$pod" >/dev/null || fail "kubectl delete pod"
wait_for "the deleted pod's endpoint to go" refused
# A slow request in flight and a dead endpoint when it stops: it still exits cleanly (sanitizer
# builds check for leaks at exit).
faults "{\"pods\":{\"llm/$(ports llama-8b-a100 | head -1 | cut -d= -f1)\":{\"mode\":\"dead\"}}}" ||
  fail "dead fault"
faults "{\"pods\":{\"llm/$(ports llama-3b-a100 | head -1 | cut -d= -f1)\":{\"mode\":\"slow\",\"delaySeconds\":30}}}" ||
  fail "slow fault"
curl -s -m 20 -o /dev/null "http://127.0.0.1:$(first_port llama-3b-a100)/metrics" &
pids+=($!)
sleep 0.5
kill -TERM "$emu"
wait "$emu"; rc=$?
[ $rc -eq 0 ] || fail "emulate exited $rc on SIGTERM"
echo "emulate_metrics: ports from annotations, live vLLM and EPP values, the rising load, scale-up, faults, deletion"
