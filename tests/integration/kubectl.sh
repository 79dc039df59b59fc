#!/usr/bin/env bash
# The real kubectl against `sluice emulate`: apply (create, 3-way update, unchanged), get with
# server-side Tables, watch, scale, the three patch types, edit, describe, label/annotate,
# wait, rollout status, CRDs (VariantAutoscaling, LeaderWorkerSet with /scale, ScaledObject),
# HPA, events, a stale update's 409, GPU exhaustion, delete cascades, and faults. Each step
# checks the exact outcome; waits are bounded polls, never timed assertions.
# No pipefail: `kubectl ... | grep -q X` must not fail when grep stops reading at the first
# match and kubectl gets SIGPIPE; a kubectl failure still shows, as output without X.
set -u
command -v kubectl >/dev/null || { echo "kubectl not installed: skipped"; exit 0; }
d=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$d"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$d/emu.log" ] && tail -20 "$d/emu.log"; exit 1; }

# Bad flags: exit 2 naming the flag, before anything listens.
bad_flag() { # expected message, args...
  local want=$1; shift
  out=$("$SLUICE" emulate "$@" 2>&1); rc=$?
  [ $rc -eq 2 ] || fail "emulate $*: exit $rc, want 2 ($out)"
  echo "$out" | grep -qF -- "$want" || fail "emulate $*: '$out' lacks '$want'"
}
bad_flag "--port: '70000' is not a port number" --port 70000
bad_flag "--start-delay: '-1'" --start-delay -1
bad_flag "--host: 'localhost' is not an IPv4 address" --host localhost
bad_flag "--fault 500=2: the rate must be a number in [0, 1]" --fault 500=2
bad_flag "--fault pod:x=slow:1: name the pod as NAMESPACE/NAME" --fault pod:x=slow:1
bad_flag "--fault nope=1: unknown fault" --fault nope=1
bad_flag "--nodes H100:x: the count must be an integer" --nodes H100:x
bad_flag "unknown argument '--frobnicate'" --frobnicate
bad_flag "--seed needs a value" --seed
"$SLUICE" emulate --help | grep -q '^usage: sluice emulate' || fail "emulate --help"

# kubectl keeps its discovery cache under $HOME; a fresh one per run.
export HOME="$d" KUBECONFIG="$d/kubeconfig"
"$SLUICE" emulate --backend simple --port 0 --kubeconfig "$KUBECONFIG" --start-delay 0.3 --seed 7 \
  --bookmark-interval 1 >"$d/emu.log" 2>&1 &
pid=$!
for _ in $(seq 300); do [ -f "$KUBECONFIG" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
[ -f "$KUBECONFIG" ] || fail "no kubeconfig written"
url=$(sed -n 's/^ *server: //p' "$KUBECONFIG")
grep -q "serving $url" "$d/emu.log" || fail "start message does not name $url"

# Polls "$@" until it succeeds (bounded: a minute, so slow sanitizer builds pass too).
wait_for() {
  local what=$1; shift
  for _ in $(seq 600); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "timed out waiting for $what"
}
k() { kubectl "$@"; }
jqget() { k get "$1" -o json | jq -r "$2"; }

# --- discovery, version, nodes -------------------------------------------------------------
k version | grep -q 'Server Version: v1.32' || fail "server version"
[ "$(k get nodes -o json | jq '[.items[] | select(.status.conditions[] | .type=="Ready" and .status=="True")] | length')" = 2 ] ||
  fail "two Ready nodes"
[ "$(k get nodes -o json | jq -r '[.items[].status.allocatable["nvidia.com/gpu"]] | join(",")')" = "8,8" ] ||
  fail "nodes carry nvidia.com/gpu allocatable"
k api-resources | grep -q '^deployments .*deploy .*apps/v1 .*true .*Deployment' || fail "api-resources lists deployments"

# --- apply: create, 3-way update, unchanged ------------------------------------------------
cat >"$d/web.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: vllm
        image: vllm/vllm-openai:v0.6.0
        env:
        - {name: MODEL, value: llama-8b}
        resources:
          limits: {nvidia.com/gpu: "1"}
YAML
out=$(k apply -f "$d/web.yaml" -v=6 2>&1) || fail "apply: $out"
echo "$out" | grep -q 'deployment.apps/web created' || fail "apply create: $out"
# Default validation went to the server (no --validate=false, no OpenAPI v2 download).
echo "$out" | grep -q 'deployments?fieldManager=kubectl-client-side-apply&fieldValidation=Strict 201' ||
  fail "apply did not ask for server-side field validation: $out"
[ "$(jqget deploy/web .spec.replicas)" = 1 ] || fail "replicas defaulted to 1"
wait_for "1 pod Running" sh -c "kubectl get pods -l app=web --no-headers | grep -c '1/1 *Running' | grep -qx 1"

k scale deploy/web --replicas=3 | grep -q 'deployment.apps/web scaled' || fail "scale"
k annotate deploy web owner=team-a | grep -q annotated || fail "annotate"
sed -e 's/value: llama-8b/value: llama-70b/' -e 's/^        resources:/        - {name: EXTRA, value: "1"}\n        resources:/' \
  "$d/web.yaml" >"$d/web2.yaml"
k apply -f "$d/web2.yaml" | grep -q 'deployment.apps/web configured' || fail "apply update"
j=$(k get deploy web -o json)
[ "$(echo "$j" | jq .spec.replicas)" = 3 ] || fail "3-way apply reset replicas set by kubectl scale"
[ "$(echo "$j" | jq -r .metadata.annotations.owner)" = team-a ] || fail "3-way apply dropped an annotation set by another client"
[ "$(echo "$j" | jq -c '[.spec.template.spec.containers[0].env[] | .name + "=" + .value]')" = '["MODEL=llama-70b","EXTRA=1"]' ] ||
  fail "env after apply: $(echo "$j" | jq -c .spec.template.spec.containers[0].env)"
[ "$(echo "$j" | jq -r .spec.strategy.rollingUpdate.maxSurge)" = 25% ] || fail "server default (strategy) lost"
[ "$(echo "$j" | jq .metadata.generation)" = 3 ] || fail "generation after create, scale, template change: $(echo "$j" | jq .metadata.generation)"
k apply -f "$d/web2.yaml" | grep -q 'deployment.apps/web unchanged' || fail "re-apply is unchanged"

# --- Tables, readiness, rollout, wait ------------------------------------------------------
wait_for "3 pods Running/Ready" sh -c "kubectl get pods -l app=web --no-headers | grep -c '1/1 *Running' | grep -qx 3"
out=$(k get pods -l app=web 2>&1)
echo "$out" | head -1 | grep -q '^NAME *READY *STATUS *RESTARTS *AGE$' || fail "pod table header: $out"
k get deploy web | grep -q '^web *3/3 *3 *3 ' || fail "deployment table: $(k get deploy web)"
out=$(k get all)
for want in 'pod/web-' 'deployment.apps/web ' 'replicaset.apps/web-'; do
  echo "$out" | grep -q "^$want" || fail "kubectl get all lacks $want: $out"
done
k rollout status deploy/web --timeout=60s | grep -q 'successfully rolled out' || fail "rollout status"
k wait --for=condition=Available deploy/web --timeout=60s | grep -q 'condition met' || fail "wait Available"

# --- watch sees a scale and the pods it makes ----------------------------------------------
k get pods -l app=web --watch >"$d/watch.out" 2>&1 &
wpid=$!
wait_for "the watch to list the 3 pods" sh -c "grep -c Running '$d/watch.out' | grep -qx 3"
k scale deploy/web --replicas=5 >/dev/null || fail "scale to 5"
wait_for "the watch to see 5 distinct pods Running" sh -c \
  "grep Running '$d/watch.out' | awk '{print \$1}' | sort -u | wc -l | grep -qx 5"
grep -q ' 0/1 *Pending ' "$d/watch.out" || fail "the watch did not see the new pods Pending first"
kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null
out=$(k wait --for=condition=Ready pod -l app=web --timeout=60s) || fail "wait Ready: $out"
[ "$(echo "$out" | grep -c 'condition met')" = 5 ] || fail "wait Ready on 5 pods: $out"

# A pod deleted by hand is replaced, as its replica set would.
victim=$(k get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
k delete pod "$victim" | grep -q "pod \"$victim\" deleted" || fail "delete pod"
wait_for "a replacement for $victim" sh -c "kubectl get pods -l app=web --no-headers | grep -v '^$victim ' | grep -c '1/1 *Running' | grep -qx 5"
k get pod "$victim" >/dev/null 2>&1 && fail "the deleted pod is still there"

# --- patches ---------------------------------------------------------------------------------
k patch deploy web --type merge -p '{"metadata":{"labels":{"tier":"gpu"}}}' | grep -q patched || fail "merge patch"
[ "$(jqget deploy/web .metadata.labels.tier)" = gpu ] || fail "merge patch result"
k patch deploy web --type json -p '[{"op":"replace","path":"/spec/replicas","value":4}]' >/dev/null || fail "json patch"
[ "$(jqget deploy/web .spec.replicas)" = 4 ] || fail "json patch result"
out=$(k patch deploy web --type json -p '[{"op":"test","path":"/spec/replicas","value":9}]' 2>&1) &&
  fail "a failed json-patch test was accepted"
echo "$out" | grep -q 'testing value /spec/replicas failed' || fail "test failure message: $out"
k patch deploy web --type strategic \
  -p '{"spec":{"template":{"spec":{"containers":[{"name":"vllm","env":[{"name":"EXTRA","value":"2"}]}]}}}}' >/dev/null ||
  fail "strategic patch"
[ "$(jqget deploy/web '[.spec.template.spec.containers[0].env[] | .name + "=" + .value] | join(",")')" = "MODEL=llama-70b,EXTRA=2" ] ||
  fail "strategic patch merged env by name: $(jqget deploy/web -c .spec.template.spec.containers[0].env)"

# --- edit ----------------------------------------------------------------------------------------
printf '#!/bin/sh\nsed -i "s#image: vllm/vllm-openai:v0.6.0#image: vllm/vllm-openai:v0.7.0#" "$1"\n' >"$d/editor.sh"
chmod +x "$d/editor.sh"
EDITOR="$d/editor.sh" k edit deploy/web | grep -q 'deployment.apps/web edited' || fail "edit"
[ "$(jqget deploy/web '.spec.template.spec.containers[0].image')" = vllm/vllm-openai:v0.7.0 ] || fail "edit result"
wait_for "4 pods of the new image Ready" sh -c \
  "kubectl get pods -l app=web -o json | jq -e '[.items[] | select(.spec.containers[0].image==\"vllm/vllm-openai:v0.7.0\" and .status.phase==\"Running\")] | length == 4'"
k rollout status deploy/web --timeout=60s >/dev/null || fail "rollout after edit"

# --- describe, label, annotate, events -------------------------------------------------------
out=$(k describe deploy web)
echo "$out" | grep -q 'Replicas: *4 desired | 4 updated | 4 total | 4 available | 0 unavailable' ||
  fail "describe deploy replicas: $(echo "$out" | grep Replicas)"
echo "$out" | grep -q 'ScalingReplicaSet' || fail "describe deploy shows its events"
echo "$out" | grep -q 'NewReplicaSet: *web-' || fail "describe deploy shows its replica set"
pod=$(k get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
out=$(k describe pod "$pod")
echo "$out" | grep -q '^Node: *emu-h100-[01]/127.0.0.1' || fail "describe pod node: $(echo "$out" | grep ^Node)"
echo "$out" | grep -q 'Successfully assigned default/'"$pod" || fail "describe pod shows Scheduled"
k label deploy web team=ml | grep -q labeled || fail "label"
k annotate deploy web owner=team-b --overwrite | grep -q annotated || fail "annotate --overwrite"
[ "$(jqget deploy/web '.metadata.labels.team + "/" + .metadata.annotations.owner')" = ml/team-b ] || fail "label/annotate result"
k label deploy web team- | grep -q unlabeled || fail "label removal"
[ "$(jqget deploy/web '.metadata.labels.team // "none"')" = none ] || fail "label removed"
out=$(k get events)
echo "$out" | head -1 | grep -q 'LAST SEEN *TYPE *REASON *OBJECT *MESSAGE' || fail "events table header"
echo "$out" | grep -q "Scheduled *pod/$pod" || fail "events: Scheduled for $pod"
echo "$out" | grep -q 'ScalingReplicaSet *deployment/web' || fail "events: ScalingReplicaSet"

# --- -o json checked field by field --------------------------------------------------------
j=$(k get deploy web -o json)
echo "$j" | jq -e '.kind == "Deployment" and .apiVersion == "apps/v1"' >/dev/null || fail "kind/apiVersion"
echo "$j" | jq -e '.metadata.uid | test("^[0-9a-f-]{36}$")' >/dev/null || fail "uid"
echo "$j" | jq -e '.metadata.resourceVersion | test("^[0-9]+$")' >/dev/null || fail "resourceVersion"
echo "$j" | jq -e '.metadata.creationTimestamp | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")' >/dev/null || fail "creationTimestamp"
echo "$j" | jq -e '.status.observedGeneration == .metadata.generation' >/dev/null || fail "observedGeneration"
echo "$j" | jq -e '.status.readyReplicas == 4 and .status.availableReplicas == 4 and .status.updatedReplicas == 4' >/dev/null ||
  fail "status counts: $(echo "$j" | jq -c .status)"
echo "$j" | jq -e '.status.conditions | map(select(.type=="Available"))[0].status == "True"' >/dev/null || fail "Available condition"
echo "$j" | jq -e '.spec.template.spec.containers[0].imagePullPolicy == "IfNotPresent"' >/dev/null || fail "imagePullPolicy default"
k get pods -l app=web -o json | jq -e '.items | length == 4 and all(.status.podIP == "127.0.0.1" and
  (.metadata.ownerReferences[0].kind == "ReplicaSet") and (.metadata.labels["pod-template-hash"] | length) == 10)' >/dev/null ||
  fail "pods: ip, owner, template hash"

# --- a stale update is refused -------------------------------------------------------------
k get deploy web -o json | jq '.metadata.resourceVersion = "1" | .spec.replicas = 2' >"$d/stale.json"
out=$(k replace -f "$d/stale.json" 2>&1) && fail "stale replace accepted"
echo "$out" | grep -q 'Conflict.*the object has been modified' || fail "stale replace: $out"
[ "$(jqget deploy/web .spec.replicas)" = 4 ] || fail "the stale update changed the object"
out=$(curl -s -o "$d/body" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
  --data @"$d/stale.json" "$url/apis/apps/v1/namespaces/default/deployments/web")
[ "$out" = 409 ] && jq -e '.kind == "Status" and .reason == "Conflict" and .code == 409' "$d/body" >/dev/null ||
  fail "stale PUT: $out $(cat "$d/body")"

# --- GPUs run out: a pod stays Pending; scale-down removes it first --------------------------
k scale deploy/web --replicas=17 >/dev/null
wait_for "one unschedulable pod" sh -c "kubectl get pods -l app=web -o json | jq -e \
  '[.items[] | select(.status.conditions[]? | .type==\"PodScheduled\" and .status==\"False\" and .reason==\"Unschedulable\")] | length == 1'"
msg=$(k get pods -l app=web -o json | jq -r '.items[].status.conditions[]? | select(.type=="PodScheduled" and .status=="False") | .message')
[ "$msg" = "0/2 nodes are available: 2 Insufficient nvidia.com/gpu." ] || fail "unschedulable message: $msg"
k scale deploy/web --replicas=16 >/dev/null
wait_for "16 pods, all placed" sh -c "kubectl get pods -l app=web -o json | jq -e \
  '(.items | length == 16) and all(.items[]; .spec.nodeName != null)'"

# --- ConfigMap, HPA -------------------------------------------------------------------------
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: policy}\ndata: {target: "8"}\n' >"$d/cm.yaml"
k apply -f "$d/cm.yaml" | grep -q 'configmap/policy created' || fail "configmap apply"
sed -i 's/"8"/"12"/' "$d/cm.yaml"
k apply -f "$d/cm.yaml" | grep -q 'configmap/policy configured' || fail "configmap re-apply"
[ "$(jqget cm/policy .data.target)" = 12 ] || fail "configmap data"
cat >"$d/hpa.yaml" <<'YAML'
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: web
  annotations: {llm-d.ai/managed: "true"}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 8
  metrics:
  - type: External
    external:
      metric:
        name: wva_desired_replicas
        selector: {matchLabels: {variant_name: web}}
      target: {type: AverageValue, averageValue: "1"}
YAML
k apply -f "$d/hpa.yaml" | grep -q 'horizontalpodautoscaler.autoscaling/web created' || fail "hpa apply"
k get hpa web | grep -q '^web *Deployment/web .* 1 *8 ' || fail "hpa table: $(k get hpa web)"

# --- CRDs: VariantAutoscaling ------------------------------------------------------------------
cat >"$d/va-crd.yaml" <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: variantautoscalings.llmd.ai}
spec:
  group: llmd.ai
  names: {kind: VariantAutoscaling, listKind: VariantAutoscalingList, plural: variantautoscalings,
          singular: variantautoscaling, shortNames: [va]}
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Model, type: string, jsonPath: .spec.modelID}
    - {name: Optimized, type: string, jsonPath: .status.desiredOptimizedAlloc.numReplicas}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
YAML
cat >"$d/va.yaml" <<'YAML'
apiVersion: llmd.ai/v1alpha1
kind: VariantAutoscaling
metadata: {name: web}
spec:
  scaleTargetRef: {kind: Deployment, name: web}
  modelID: meta/llama-3.1-8b
  variantCost: "10.0"
YAML
k get va >/dev/null 2>&1 && fail "va served before its CRD"
k apply -f "$d/va-crd.yaml" | grep -q 'customresourcedefinition.apiextensions.k8s.io/variantautoscalings.llmd.ai created' || fail "CRD apply"
k wait --for=condition=Established crd/variantautoscalings.llmd.ai --timeout=30s >/dev/null || fail "CRD Established"
out=$(k apply -f "$d/va.yaml" -v=6 2>&1) || fail "VA apply: $out"
echo "$out" | grep -q 'variantautoscaling.llmd.ai/web created' || fail "VA created: $out"
echo "$out" | grep -q 'fieldValidation=Strict 201' || fail "VA apply validated on the server: $out"
sed -i 's/"10.0"/"12.5"/' "$d/va.yaml"
k apply -f "$d/va.yaml" | grep -q 'variantautoscaling.llmd.ai/web configured' || fail "VA re-apply"
[ "$(jqget va/web '.spec.variantCost + " " + (.metadata.generation|tostring)')" = "12.5 2" ] || fail "VA update"
k patch va web --subresource=status --type=merge -p '{"status":{"desiredOptimizedAlloc":{"numReplicas":3}}}' >/dev/null ||
  fail "VA status patch"
k get va web | grep -q '^web *meta/llama-3.1-8b *3$' || fail "VA printer columns: $(k get va web)"
[ "$(jqget va/web .metadata.generation)" = 2 ] || fail "a status write bumped the generation"
k patch va web --type=merge -p '{"status":{"desiredOptimizedAlloc":{"numReplicas":9}}}' >/dev/null
[ "$(jqget va/web .status.desiredOptimizedAlloc.numReplicas)" = 3 ] || fail "a main-resource patch changed status"
out=$(k patch va web --type strategic -p '{"spec":{"x":1}}' 2>&1) && fail "strategic merge on a custom resource"
echo "$out" | grep -q 'UnsupportedMediaType\|unknown format' || fail "strategic on a CR: $out"

# --- CRDs: LeaderWorkerSet with a scale subresource; KEDA ScaledObject ------------------------
cat >"$d/lws-crd.yaml" <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: leaderworkersets.leaderworkerset.x-k8s.io}
spec:
  group: leaderworkerset.x-k8s.io
  names: {kind: LeaderWorkerSet, plural: leaderworkersets, singular: leaderworkerset, shortNames: [lws]}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas, labelSelectorPath: .status.hpaPodSelector}
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
YAML
k apply -f "$d/lws-crd.yaml" >/dev/null || fail "LWS CRD"
printf 'apiVersion: leaderworkerset.x-k8s.io/v1\nkind: LeaderWorkerSet\nmetadata: {name: big}\nspec: {replicas: 1, leaderWorkerTemplate: {size: 2}}\n' >"$d/lws.yaml"
wait_for "LWS served" sh -c "kubectl apply -f '$d/lws.yaml'"
k scale lws/big --replicas=3 | grep -q 'leaderworkerset.leaderworkerset.x-k8s.io/big scaled' || fail "scale LWS"
[ "$(jqget lws/big .spec.replicas)" = 3 ] || fail "LWS spec.replicas through /scale"
wait_for "LWS status.replicas mirrored" sh -c "kubectl get lws big -o json | jq -e '.status.replicas == 3'"
[ "$(k get --raw /apis/leaderworkerset.x-k8s.io/v1/namespaces/default/leaderworkersets/big/scale | jq -c '[.kind, .spec.replicas, .status.replicas]')" = '["Scale",3,3]' ] ||
  fail "LWS scale subresource"
cat >"$d/so-crd.yaml" <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: scaledobjects.keda.sh}
spec:
  group: keda.sh
  names: {kind: ScaledObject, plural: scaledobjects, singular: scaledobject, shortNames: [so]}
  scope: Namespaced
  versions:
  - {name: v1alpha1, served: true, storage: true, subresources: {status: {}},
     schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
YAML
k apply -f "$d/so-crd.yaml" >/dev/null || fail "ScaledObject CRD"
printf 'apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: web}\nspec: {scaleTargetRef: {name: web}, maxReplicaCount: 10}\n' >"$d/so.yaml"
wait_for "ScaledObject served" sh -c "kubectl apply -f '$d/so.yaml'"
[ "$(jqget so/web .spec.maxReplicaCount)" = 10 ] || fail "ScaledObject stored"
cat >"$d/sm-crd.yaml" <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: servicemonitors.monitoring.coreos.com}
spec:
  group: monitoring.coreos.com
  names: {kind: ServiceMonitor, plural: servicemonitors, singular: servicemonitor, shortNames: [smon],
          categories: [prometheus-operator]}
  scope: Namespaced
  versions:
  - {name: v1, served: true, storage: true,
     schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
YAML
k apply -f "$d/sm-crd.yaml" >/dev/null || fail "ServiceMonitor CRD"
printf 'apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: vllm}\nspec: {selector: {matchLabels: {app: web}}, endpoints: [{port: metrics, interval: 15s}]}\n' >"$d/sm.yaml"
wait_for "ServiceMonitor served" sh -c "kubectl apply -f '$d/sm.yaml'"
k get prometheus-operator --no-headers | grep -q '^vllm ' || fail "a CRD's category lists its objects"
[ "$(jqget smon/vllm '.spec.endpoints[0].interval')" = 15s ] || fail "ServiceMonitor stored"
k delete crd scaledobjects.keda.sh >/dev/null || fail "delete CRD"
wait_for "ScaledObject unserved after its CRD went" sh -c "! kubectl get so web"

# --- rollout history and undo ----------------------------------------------------------------
# Four templates so far (create, apply, strategic patch, edit); undo brings back the third,
# whose replica set becomes revision 5.
k rollout undo deploy/web | grep -q 'deployment.apps/web rolled back' || fail "rollout undo"
[ "$(jqget deploy/web '.spec.template.spec.containers[0].image')" = vllm/vllm-openai:v0.6.0 ] ||
  fail "undo restored the previous template's image"
revs=$(k rollout history deploy/web | awk '/^[0-9]/ {print $1}' | tr '\n' ' ')
[ "$revs" = "1 2 4 5 " ] || fail "rollout history after undo: '$revs'"
k rollout status deploy/web --timeout=60s >/dev/null || fail "rollout after undo"

# --- kubectl's typed create commands (protobuf bodies) ------------------------------------------
k create namespace typed | grep -q 'namespace/typed created' || fail "create namespace"
k -n typed create configmap c --from-literal=a=1 | grep -q 'configmap/c created' || fail "create configmap"
k -n typed create secret generic s --from-literal=pw=hunter2 | grep -q 'secret/s created' || fail "create secret"
[ "$(k -n typed get secret s -o jsonpath='{.data.pw}' | base64 -d)" = hunter2 ] || fail "secret data"
[ "$(k -n typed get cm c -o jsonpath='{.data.a}')" = 1 ] || fail "configmap data"
out=$(k -n typed create deployment x --image=i 2>&1) && fail "a protobuf Deployment was decoded"
echo "$out" | grep -q 'protobuf bodies are decoded only for' || fail "create deployment: $out"

# --- delete ------------------------------------------------------------------------------------
k delete deploy web | grep -q 'deployment.apps "web" deleted' || fail "delete deploy"
wait_for "pods and replica sets gone" sh -c "[ -z \"\$(kubectl get pods,rs -l app=web -o name)\" ]"
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: scratch}\n' >"$d/ns.yaml"
k apply -f "$d/ns.yaml" >/dev/null || fail "namespace apply"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: scratch}\ndata: {a: b}\n' | k apply -f - >/dev/null || fail "cm in scratch"
k -n scratch get sa default >/dev/null || fail "a new namespace has its default service account"
k delete ns scratch >/dev/null || fail "delete namespace"
out=$(k -n scratch get cm x 2>&1) && fail "a namespace's objects outlived it"
echo "$out" | grep -q 'NotFound' || fail "cm after namespace delete: $out"
out=$(k get frobnicators 2>&1) && fail "unknown resource"
echo "$out" | grep -q "the server doesn't have a resource type \"frobnicators\"" || fail "unknown resource: $out"

# --- faults ------------------------------------------------------------------------------------
curl -sf -X POST -d '{"error500": 1}' "$url/_emu/faults" >/dev/null || fail "set 500 fault"
out=$(k get cm 2>&1) && fail "kubectl succeeded through a 500 fault"
echo "$out" | grep -q 'InternalError\|Internal error' || fail "500 fault: $out"
curl -sf -X DELETE "$url/_emu/faults" >/dev/null || fail "clear faults"
k get cm policy >/dev/null || fail "after clearing faults"
curl -sf -X POST -d '{"error429": 1, "retryAfterSeconds": 3}' "$url/_emu/faults" >/dev/null
h=$(curl -s -D - -o /dev/null "$url/api/v1/namespaces/default/configmaps")
curl -sf -X DELETE "$url/_emu/faults" >/dev/null
echo "$h" | grep -q '^HTTP/1.1 429' || fail "429 fault status: $h"
echo "$h" | grep -qi '^Retry-After: 3' || fail "429 Retry-After: $h"
out=$(curl -s -X POST -d '{"error500": 7}' "$url/_emu/faults")
echo "$out" | grep -q 'error500 must be a number in \[0, 1\]' || fail "bad fault rate: $out"

# --- the emulator stops cleanly on SIGTERM (sanitizer builds check for leaks here) ------------
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
[ $rc -eq 0 ] || fail "emulate exited $rc on SIGTERM: $(tail -20 "$d/emu.log")"
echo "ok"
