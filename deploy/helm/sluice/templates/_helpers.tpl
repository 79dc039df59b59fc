{{/* Names and labels, as `helm create` makes them. */}}
{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sluice.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sluice.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "sluice.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "sluice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sluice.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sluice.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.namespace -}}
{{- end -}}

{{/* The Lease this release campaigns for: <lease>, or <lease>-<shard> with a shard. */}}
{{- define "sluice.leaseName" -}}
{{- if .Values.shard -}}
{{- printf "%s-%s" .Values.leaderElection.lease .Values.shard -}}
{{- else -}}
{{- .Values.leaderElection.lease -}}
{{- end -}}
{{- end -}}

{{/* (list $ NAME WHERE): NAME as sluice.yaml's `file:`, when it is a canned policy or one of
customPolicies; anything else stops the rendering, naming WHERE. */}}
{{- define "sluice.policyFile" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $canned := list "hpa" "keda" "wva" "wva-optimizer" "slo" "igw-queue" "target" -}}
{{- if has $name $canned -}}
{{- $name -}}
{{- else if hasKey $root.Values.customPolicies (toString $name) -}}
{{- $name -}}
{{- else -}}
{{- fail (printf "%s: %q is neither a canned policy (%s) nor a key of customPolicies" (index . 2) (toString $name) (join ", " $canned)) -}}
{{- end -}}
{{- end -}}

{{/* true when some variant is actuated through /scale: then sluice may read and patch it. */}}
{{- define "sluice.needsScale" -}}
{{- $need := eq (toString .Values.actuator) "scale" -}}
{{- range .Values.variants -}}
{{- if eq (toString (.actuator | default "")) "scale" -}}{{- $need = true -}}{{- end -}}
{{- end -}}
{{- if $need -}}true{{- end -}}
{{- end -}}

{{/* The port of prometheus.url: the URL's, else its scheme's. */}}
{{- define "sluice.prometheusPort" -}}
{{- $u := urlParse .Values.prometheus.url -}}
{{- if not (has $u.scheme (list "http" "https")) -}}
{{- fail (printf "prometheus.url: %q is not an http:// or https:// URL" .Values.prometheus.url) -}}
{{- end -}}
{{- $hp := splitList ":" $u.host -}}
{{- if gt (len $hp) 1 -}}{{ last $hp }}{{- else if eq $u.scheme "https" -}}443{{- else -}}80{{- end -}}
{{- end -}}

{{/* sluice.yaml's policies: the global policy for every variant, then one entry per model. */}}
{{- define "sluice.policies" -}}
{{- $v := .Values -}}
{{- $policies := list -}}
{{- if $v.policy -}}
{{- $p := dict "file" (include "sluice.policyFile" (list . $v.policy "policy")) -}}
{{- with $v.policyParams -}}{{- $_ := set $p "params" . -}}{{- end -}}
{{- $policies = append $policies $p -}}
{{- end -}}
{{- range $model, $m := $v.models -}}
{{- $m = default (dict) $m -}}
{{- $where := printf "models[%s].policy" $model -}}
{{- if $m.policy -}}
{{- $p := dict "file" (include "sluice.policyFile" (list $ $m.policy $where)) "model" $model -}}
{{- with $m.params -}}{{- $_ := set $p "params" . -}}{{- end -}}
{{- with $m.period -}}{{- $_ := set $p "period" . -}}{{- end -}}
{{- $policies = append $policies $p -}}
{{- else if not $v.policy -}}
{{- fail (printf "%s is required when policy is empty" $where) -}}
{{- else if or $m.params $m.period -}}
{{- $p := dict "file" (include "sluice.policyFile" (list $ $v.policy "policy")) "model" $model -}}
{{- with $m.params -}}{{- $_ := set $p "params" . -}}{{- end -}}
{{- with $m.period -}}{{- $_ := set $p "period" . -}}{{- end -}}
{{- $policies = append $policies $p -}}
{{- end -}}
{{- end -}}
{{- if not $policies -}}
{{- fail "no policy: set policy, or give every model in models its own" -}}
{{- end -}}
{{- range $i, $s := $v.shadowPolicies -}}
{{- $s = ternary (dict "policy" $s) $s (kindIs "string" $s) -}}
{{- $p := dict "file" (include "sluice.policyFile" (list $ $s.policy (printf "shadowPolicies[%d]" $i))) "shadow" true -}}
{{- with $s.model -}}{{- $_ := set $p "model" . -}}{{- end -}}
{{- with $s.params -}}{{- $_ := set $p "params" . -}}{{- end -}}
{{- $policies = append $policies $p -}}
{{- end -}}
{{- toYaml $policies -}}
{{- end -}}

{{/* sluice.yaml (docs/cluster.md), from the values. */}}
{{- define "sluice.config" -}}
{{- $v := .Values -}}
{{- if not (has (toString $v.actuator) (list "scale" "metric" "keda-metrics-api")) -}}
{{- fail (printf "actuator: %q is not one of scale, metric, keda-metrics-api" (toString $v.actuator)) -}}
{{- end -}}
{{- $kube := dict "accelerator_label" $v.watch.acceleratorLabel "discover" $v.watch.discover "qps" $v.watch.qps "burst" $v.watch.burst -}}
{{- with $v.watch.namespace -}}{{- $_ := set $kube "namespace" . -}}{{- end -}}
{{- with $v.watch.selector -}}{{- $_ := set $kube "selector" . -}}{{- end -}}
{{- $source := dict "kubernetes" $kube -}}
{{- if $v.prometheus.url -}}
{{- $_ := include "sluice.prometheusPort" . -}}
{{- $pm := $v.prometheus -}}
{{- $prom := dict "url" $pm.url "interval" $pm.interval "timeout" $pm.timeout "namespace_label" $pm.namespaceLabel "pod_label" $pm.podLabel -}}
{{- with $pm.matchers -}}{{- $_ := set $prom "matchers" . -}}{{- end -}}
{{- with $pm.bearerTokenFile -}}{{- $_ := set $prom "bearer_token_file" . -}}{{- end -}}
{{- with $pm.caFile -}}{{- $_ := set $prom "ca_file" . -}}{{- end -}}
{{- if $pm.insecureSkipTLSVerify -}}{{- $_ := set $prom "insecure_skip_tls_verify" true -}}{{- end -}}
{{- $_ := set $source "prometheus" $prom -}}
{{- else -}}
{{- $_ := set $source "scrape" (dict "interval" $v.scrape.interval "timeout" $v.scrape.timeout) -}}
{{- end -}}
{{- $cfg := dict "interval" $v.interval "window" $v.window "source" $source "actuator" $v.actuator -}}
{{- $_ := set $cfg "policy_dir" "policies" -}}
{{- /* Reloads leave Events on the ConfigMap the policies came from (in the release namespace). */ -}}
{{- $_ := set $cfg "policy_configmap" (printf "%s-policies" (include "sluice.fullname" .)) -}}
{{- $_ := set $cfg "guard" (dict "max_step" $v.guard.maxStep "stale_after" $v.guard.staleAfter "dry_run" $v.guard.dryRun "paused" $v.guard.paused) -}}
{{- if $v.leaderElection.enabled -}}
{{- $_ := set $cfg "leader_election" (dict "lease" $v.leaderElection.lease "namespace" (include "sluice.leaseNamespace" .)) -}}
{{- end -}}
{{- if $v.shard -}}
{{- if not (hasKey (default (dict) $v.shards) $v.shard) -}}
{{- fail (printf "shard: %q is not one of shards" $v.shard) -}}
{{- end -}}
{{- end -}}
{{- with $v.shards -}}{{- $_ := set $cfg "shards" . -}}{{- end -}}
{{- with $v.accelerators -}}{{- $_ := set $cfg "accelerators" . -}}{{- end -}}
{{- with $v.sloClasses -}}{{- $_ := set $cfg "slo_classes" . -}}{{- end -}}
{{- with $v.variants -}}{{- $_ := set $cfg "variants" . -}}{{- end -}}
{{- $_ := set $cfg "policies" (include "sluice.policies" . | fromYamlArray) -}}
{{- $cfg = mergeOverwrite $cfg (deepCopy (default (dict) $v.extraConfig)) -}}
{{- toYaml $cfg -}}
{{- end -}}
