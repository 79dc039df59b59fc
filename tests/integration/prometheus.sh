#!/usr/bin/env bash
# A real Prometheus server beside `sluice run` and `sluice emulate`: Prometheus scrapes sluice's
# /metrics (a PromQL query returns wva_desired_replicas for the variant) and a model server's
# page, and sluice, on its Prometheus source, decides from what PromQL returns. Prometheus not
# yet up, then stopped: sluice holds (stale data, never a scale on nothing) and says so on its
# log and /metrics; restarted, sluice follows the new values.
set -u
command -v kubectl >/dev/null || { echo "kubectl not installed: skipped"; exit 0; }
command -v prometheus >/dev/null || { echo "prometheus not installed (make deps installs it): skipped"; exit 0; }
. "$(dirname "$0")/lib/emu.bash"
on_cleanup=stop_prometheus
start_emulator --start-delay 0.2
replicas() { kubectl get deploy llama -n llm -o jsonpath='{.spec.replicas}'; }
at() { test "$(replicas)" = "$1"; }

kubectl create namespace llm >/dev/null || fail "namespace"
managed_deployment llama meta-llama/Llama-3.1-8B
ready_pod() { kubectl get pods -n llm -o json | jq -er '[.items[] | select(.status.conditions[]? |
  select(.type=="Ready" and .status=="True"))][0].metadata.name'; }
wait_for "a Ready llama pod" ready_pod
pod=$(ready_pod)

# The model server's page, served by a plain HTTP server; its running count is what decides.
mkdir -p "$d/page"
page() { # running
  cat > "$d/page/.m" <<TXT
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B"} $1
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-8B"} 0
TXT
  mv "$d/page/.m" "$d/page/metrics"
}
page 23
page_port=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$d/page" "$page_port" >"$d/page.log" 2>&1 &
pids+=("$!")
wait_for "the page server" curl -fsS "http://127.0.0.1:$page_port/metrics"

# sluice on the Prometheus source, started before Prometheus is up.
prom_port=$(free_port)
mkdir -p "$d/policies"
cat > "$d/policies/running.lua" <<'LUA'
return { name = "running", decide = function(view)
  local out = {}
  for id, v in view:variants() do
    local r = v.signals.running
    if r then out[id] = { replicas = math.max(1, math.ceil(r / 8)), reason = "running " .. r } end
  end
  return out
end }
LUA
cat > "$d/sluice.yaml" <<YAML
interval: 500ms
source:
  kubernetes: {}
  prometheus: {url: "http://127.0.0.1:$prom_port", interval: 500ms}
policy_dir: policies
guard: {stale_after: 3s}
policies: [running.lua]
YAML
"$SLUICE" run -c "$d/sluice.yaml" --kubeconfig "$KUBECONFIG" --metrics-bind-address 127.0.0.1:0 \
  --repl-socket "$d/repl.sock" >"$d/run.log" 2>&1 &
pids+=("$!")
wait_for "the metrics port" grep -q "serving /metrics.* on port" "$d/run.log"
sport=$(metrics_port "$d/run.log")
wait_for "a failed poll reported" grep -q "prometheus: .*holding" "$d/run.log"
curl -fsS "http://127.0.0.1:$sport/metrics" | cat | grep -q '^sluice_prometheus_up 0$' ||
  fail "sluice_prometheus_up is not 0 with Prometheus down"
sleep 1
at 1 || fail "llama scaled to $(replicas) with no Prometheus to read"

cat > "$d/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: sluice
    static_configs: [{targets: ['127.0.0.1:$sport']}]
  - job_name: vllm
    static_configs: [{targets: ['127.0.0.1:$page_port'], labels: {namespace: llm, pod: $pod}}]
YAML
start_prometheus
wait_for "llama at 3 from running 23 through PromQL" at 3
grep -q "prometheus: answering again" "$d/run.log" || fail "the recovery was not said"
query() { curl -fsS "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1"; }
wait_for "wva_desired_replicas in Prometheus" sh -c "curl -fsS 'http://127.0.0.1:$prom_port/api/v1/query' \
  --data-urlencode 'query=wva_desired_replicas{variant_name=\"llama\",namespace=\"llm\"}' |
  jq -e '.data.result[0].value[1] == \"3\"'"
query 'sluice_prometheus_up' | jq -e '.data.result[0].value[1] == "1"' >/dev/null ||
  fail "sluice_prometheus_up is not 1 in Prometheus"

# Prometheus stopped: sluice holds on stale data and says why; nothing moves.
stop_prometheus
page 70
wait_for "a hold on stale data" grep -q "llm/llama.*hold: stale" "$d/run.log"
curl -fsS "http://127.0.0.1:$sport/metrics" | cat | grep -q '^sluice_prometheus_up 0$' ||
  fail "sluice_prometheus_up is not 0 after Prometheus stopped"
at 3 || fail "llama moved to $(replicas) while Prometheus was down"
"$SLUICE" repl --socket "$d/repl.sock" -e targets | grep -q "^prometheus: DOWN, .* failed" ||
  fail "the REPL's targets does not say Prometheus is down: $("$SLUICE" repl --socket "$d/repl.sock" -e targets 2>&1)"

# Back: the new page's 70 running -> 9 replicas.
start_prometheus
wait_for "llama at 9 after Prometheus came back" at 9
echo "prometheus: scraped sluice's /metrics, fed sluice's Prometheus source, held while it was down"
