#!/usr/bin/env bash
# sluice driving an existing HPA, as WVA does: sluice run with `actuator: metric` only publishes
# wva_desired_replicas; a real Prometheus scrapes it (as a pod in another namespace, so the
# variant's namespace arrives as exported_namespace); the HPA from WVA's README, applied with the
# real kubectl, reads it through the emulator's HPA controller (External metric, AverageValue 1,
# prometheus-adapter's query) and scales the Deployment. Prometheus stopped: the HPA holds
# (ScalingActive False, FailedGetExternalMetric) and nothing moves; back, it follows again.
set -u
command -v kubectl >/dev/null || { echo "kubectl not installed: skipped"; exit 0; }
command -v prometheus >/dev/null || { echo "prometheus not installed (make deps installs it): skipped"; exit 0; }
. "$(dirname "$0")/lib/emu.bash"
on_cleanup=stop_prometheus

# Usage errors first.
out=$("$SLUICE" emulate --hpa-sync-period 2 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q -- "need --hpa-metrics" || fail "--hpa-sync-period alone: exit $rc ($out)"
out=$("$SLUICE" emulate --hpa-metrics localhost:9090 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q -- "--hpa-metrics: 'localhost:9090'" || fail "a bare host: exit $rc ($out)"

prom_port=$(free_port)
start_emulator --speed 10 --start-delay 1 --seed 3 \
  --hpa-metrics "http://127.0.0.1:$prom_port" --hpa-sync-period 1
variants() { kubectl get deploy -n llm -o json |
  jq -r '.items[] | select(.metadata.annotations["llm-d.ai/managed"] == "true") | .metadata.name'; }
wait_for "the scenario's variants" sh -c "kubectl get deploy -n llm -o name | grep -q ."
deploy=$(variants | sed -n 1p)
other=$(variants | sed -n 2p)
[ -n "$deploy" ] && [ -n "$other" ] || fail "the scenario has fewer than two deployments"
replicas() { kubectl get deploy "$1" -n llm -o jsonpath='{.spec.replicas}'; }
other0=$(replicas "$other")

# A policy that asks for a fixed count, rewritten (hot reload) to change it.
mkdir -p "$d/policies"
want() {
  cat > "$d/policies/.f" <<LUA
return { name = "fixed", decide = function(view)
  local out = {}
  for id in view:variants() do out[id] = { replicas = $1, reason = "fixed $1" } end
  return out
end }
LUA
  mv "$d/policies/.f" "$d/policies/fixed.lua"
}
want 3
cat > "$d/sluice.yaml" <<YAML
interval: 500ms
source:
  kubernetes: {}
  scrape: {interval: 500ms}
policy_dir: policies
policies: [fixed.lua]
actuator: metric
metrics_bind_address: 127.0.0.1:0
repl_socket: ''
YAML
"$SLUICE" run -c "$d/sluice.yaml" --kubeconfig "$KUBECONFIG" >"$d/run.log" 2>&1 &
pids+=("$!")
wait_for "the metrics port" grep -q "serving /metrics.* on port" "$d/run.log"
sport=$(metrics_port "$d/run.log")

cat > "$d/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: sluice
    static_configs: [{targets: ['127.0.0.1:$sport'], labels: {namespace: sluice-system}}]
YAML
start_prometheus

# WVA's README HPA, with its windows shortened for a test.
cat <<YAML | kubectl apply -f - >/dev/null || fail "apply the HPA"
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: $deploy-autoscaler
  namespace: llm
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: $deploy}
  minReplicas: 1
  maxReplicas: 6
  behavior:
    scaleUp: {stabilizationWindowSeconds: 0, policies: [{type: Pods, value: 10, periodSeconds: 15}]}
    scaleDown: {stabilizationWindowSeconds: 0, policies: [{type: Pods, value: 10, periodSeconds: 15}]}
  metrics:
  - type: External
    external:
      metric:
        name: wva_desired_replicas
        selector: {matchLabels: {variant_name: $deploy, exported_namespace: llm}}
      target: {type: AverageValue, averageValue: "1"}
YAML
hpa() { kubectl get hpa "$deploy-autoscaler" -n llm -o json; }
at() { test "$(replicas "$deploy")" = "$1"; }
wait_for "$deploy at 3 through the HPA" at 3
hpa | jq -e '.status.desiredReplicas == 3 and .status.currentMetrics[0].external.current.averageValue == "3"' \
  >/dev/null || fail "the HPA's status: $(hpa | jq -c .status)"
hpa | jq -e '.status.conditions[] | select(.type == "ScalingActive" and .status == "True" and
  .reason == "ValidMetricFound")' >/dev/null || fail "ScalingActive is not ValidMetricFound"
kubectl get events -n llm -o json | jq -e '.items[] | select(.reason == "SuccessfulRescale" and
  (.message | startswith("New size: 3; reason: external metric wva_desired_replicas")))' >/dev/null ||
  fail "no SuccessfulRescale event"
kubectl get hpa -n llm | grep -q "wva_desired_replicas: 3/1 (avg)" || fail "kubectl get hpa: $(kubectl get hpa -n llm)"
[ "$(replicas "$other")" = "$other0" ] || fail "$other moved (to $(replicas "$other")) with no HPA: sluice only publishes"

# What the emulated controller cannot do, and a careless HPA, are said in the conditions.
cat <<YAML | kubectl apply -f - >/dev/null || fail "apply the odd HPAs"
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: by-pods, namespace: llm}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: $other}
  maxReplicas: 4
  metrics:
  - type: Pods
    pods: {metric: {name: vllm:num_requests_waiting}, target: {type: AverageValue, averageValue: "5"}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: nowhere, namespace: llm}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: no-such-deployment}
  maxReplicas: 4
  metrics:
  - type: External
    external: {metric: {name: wva_desired_replicas}, target: {type: AverageValue, averageValue: "1"}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: bad-name, namespace: llm}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: $other}
  maxReplicas: 4
  metrics:
  - type: External
    external: {metric: {name: 'wva desired"}'}, target: {type: AverageValue, averageValue: "1"}}
YAML
reason() { # hpa condition-type: its reason
  kubectl get hpa "$1" -n llm -o json | jq -r --arg t "$2" '.status.conditions[]? | select(.type == $t) | .reason'
}
wait_for "by-pods: InvalidMetricSourceType" sh -c "test \"\$(kubectl get hpa by-pods -n llm -o json |
  jq -r '.status.conditions[]? | select(.type == \"ScalingActive\") | .reason')\" = InvalidMetricSourceType"
wait_for "nowhere: FailedGetScale" sh -c "kubectl get hpa nowhere -n llm -o json |
  jq -e '.status.conditions[]? | select(.type == \"AbleToScale\" and .reason == \"FailedGetScale\")'"
[ "$(reason bad-name ScalingActive)" = FailedGetExternalMetric ] || fail "bad-name: $(reason bad-name ScalingActive)"
kubectl get hpa bad-name -n llm -o json | jq -e '.status.conditions[] | select(.type == "ScalingActive") |
  .message | contains("is not a metric name")' >/dev/null || fail "bad-name's message does not say why"
[ "$(replicas "$other")" = "$other0" ] || fail "$other moved (to $(replicas "$other")) under HPAs that cannot compute"
kubectl delete hpa by-pods nowhere bad-name -n llm >/dev/null || fail "delete the odd HPAs"

# Prometheus stopped: the HPA cannot read its metric and holds, whatever sluice now says.
stop_prometheus
want 1
wait_for "ScalingActive False" sh -c "kubectl get hpa $deploy-autoscaler -n llm -o json | jq -e '
  .status.conditions[] | select(.type == \"ScalingActive\" and .status == \"False\" and
  .reason == \"FailedGetExternalMetric\")'"
sleep 2
at 3 || fail "$deploy moved to $(replicas "$deploy") while the metric could not be read"

# Back: the new count (1) arrives and the HPA scales down to it.
start_prometheus
wait_for "$deploy down to 1 through the HPA" at 1
echo "hpa: sluice's wva_desired_replicas scaled $deploy through an HPA (3, held, 1)"
