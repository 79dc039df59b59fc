// Realistic pod JSON for the informer tests, fuzz seeds and benchmark: a vLLM decode pod of
// about 4 KB with the labels, annotations, containers, resources and status conditions a real
// llm-d deployment carries. Header-only.
#pragma once

#include <stdio.h>

// Writes one pod object (no trailing newline) into buf; returns its length.
static inline int kp_pod(char *buf, size_t n, const char *ns, const char *name, const char *rv,
                         const char *phase, int ready, const char *node) {
  return snprintf(
      buf, n,
      "{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"%s\",\"generateName\":"
      "\"vllm-decode-7d9f8c6b5-\",\"namespace\":\"%s\",\"uid\":\"6a0e2f1c-3b4d-4e5f-8a9b-"
      "0c1d2e3f4a5b\",\"resourceVersion\":\"%s\",\"creationTimestamp\":\"2025-06-01T10:00:00Z\","
      "\"labels\":{\"app\":\"vllm\",\"app.kubernetes.io/name\":\"vllm\",\"app.kubernetes.io/"
      "instance\":\"llama-8b\",\"app.kubernetes.io/component\":\"decode\",\"llm-d.ai/role\":"
      "\"decode\",\"llm-d.ai/model\":\"meta-llama-3-1-8b\",\"llm-d.ai/inferenceServing\":\"true\","
      "\"pod-template-hash\":\"7d9f8c6b5\"},\"annotations\":{\"llm-d.ai/model-id\":\"meta-llama/"
      "Llama-3.1-8B-Instruct\",\"llm-d.ai/variant-cost\":\"10.0\",\"llm-d.ai/managed\":\"true\","
      "\"prometheus.io/scrape\":\"true\",\"prometheus.io/port\":\"8000\",\"prometheus.io/path\":"
      "\"/metrics\",\"kubectl.kubernetes.io/default-container\":\"vllm\",\"cni.projectcalico.org/"
      "podIP\":\"10.244.3.17/32\"},\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":"
      "\"ReplicaSet\",\"name\":\"vllm-decode-7d9f8c6b5\",\"uid\":\"1b2c3d4e-5f6a-7b8c-9d0e-"
      "1f2a3b4c5d6e\",\"controller\":true,\"blockOwnerDeletion\":true}],\"managedFields\":[{"
      "\"manager\":\"kube-controller-manager\",\"operation\":\"Update\",\"apiVersion\":\"v1\","
      "\"time\":\"2025-06-01T10:00:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":"
      "{\"f:generateName\":{},\"f:labels\":{\".\":{},\"f:app\":{}}}}}]},\"spec\":{\"volumes\":[{"
      "\"name\":\"model-cache\",\"persistentVolumeClaim\":{\"claimName\":\"model-cache\"}},{"
      "\"name\":\"shm\",\"emptyDir\":{\"medium\":\"Memory\",\"sizeLimit\":\"16Gi\"}},{\"name\":"
      "\"kube-api-access-x7k2p\",\"projected\":{\"sources\":[{\"serviceAccountToken\":{"
      "\"expirationSeconds\":3607,\"path\":\"token\"}}],\"defaultMode\":420}}],\"containers\":[{"
      "\"name\":\"vllm\",\"image\":\"ghcr.io/llm-d/llm-d-cuda:v0.3.0\",\"args\":[\"--model\","
      "\"meta-llama/Llama-3.1-8B-Instruct\",\"--port\",\"8000\",\"--max-num-seqs\",\"256\","
      "\"--max-num-batched-tokens\",\"8192\",\"--gpu-memory-utilization\",\"0.90\","
      "\"--enable-prefix-caching\"],\"ports\":[{\"name\":\"http\",\"containerPort\":8000,"
      "\"protocol\":\"TCP\"}],\"env\":[{\"name\":\"HF_HOME\",\"value\":\"/models\"},{\"name\":"
      "\"VLLM_LOGGING_LEVEL\",\"value\":\"INFO\"},{\"name\":\"POD_IP\",\"valueFrom\":{"
      "\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":\"status.podIP\"}}}],\"resources\":{"
      "\"limits\":{\"cpu\":\"8\",\"memory\":\"64Gi\",\"nvidia.com/gpu\":\"1\"},\"requests\":{"
      "\"cpu\":\"4\",\"memory\":\"48Gi\",\"nvidia.com/gpu\":\"1\"}},\"volumeMounts\":[{\"name\":"
      "\"model-cache\",\"mountPath\":\"/models\"},{\"name\":\"shm\",\"mountPath\":\"/dev/shm\"}],"
      "\"readinessProbe\":{\"httpGet\":{\"path\":\"/health\",\"port\":8000,\"scheme\":\"HTTP\"},"
      "\"initialDelaySeconds\":30,\"periodSeconds\":5,\"failureThreshold\":3},\"startupProbe\":{"
      "\"httpGet\":{\"path\":\"/health\",\"port\":8000},\"periodSeconds\":10,"
      "\"failureThreshold\":60},\"imagePullPolicy\":\"IfNotPresent\"}],\"restartPolicy\":"
      "\"Always\",\"terminationGracePeriodSeconds\":120,\"nodeName\":\"%s\",\"schedulerName\":"
      "\"default-scheduler\",\"tolerations\":[{\"key\":\"nvidia.com/gpu\",\"operator\":"
      "\"Exists\",\"effect\":\"NoSchedule\"}],\"priority\":0},\"status\":{\"phase\":\"%s\","
      "\"conditions\":[{\"type\":\"PodReadyToStartContainers\",\"status\":\"True\","
      "\"lastTransitionTime\":\"2025-06-01T10:00:05Z\"},{\"type\":\"Initialized\",\"status\":"
      "\"True\",\"lastTransitionTime\":\"2025-06-01T10:00:02Z\"},{\"type\":\"Ready\",\"status\":"
      "\"%s\",\"lastTransitionTime\":\"2025-06-01T10:01:50Z\"},{\"type\":\"ContainersReady\","
      "\"status\":\"%s\",\"lastTransitionTime\":\"2025-06-01T10:01:50Z\"},{\"type\":"
      "\"PodScheduled\",\"status\":\"True\",\"lastTransitionTime\":\"2025-06-01T10:00:00Z\"}],"
      "\"hostIP\":\"10.0.3.4\",\"podIP\":\"10.244.3.17\",\"podIPs\":[{\"ip\":\"10.244.3.17\"}],"
      "\"startTime\":\"2025-06-01T10:00:00Z\",\"containerStatuses\":[{\"name\":\"vllm\","
      "\"state\":{\"running\":{\"startedAt\":\"2025-06-01T10:00:20Z\"}},\"lastState\":{},"
      "\"ready\":%s,\"restartCount\":0,\"image\":\"ghcr.io/llm-d/llm-d-cuda:v0.3.0\","
      "\"imageID\":\"ghcr.io/llm-d/llm-d-cuda@sha256:4f2a9c1e7b3d5f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e"
      "6b8d0f2a4c6e8b0d2f4a\",\"containerID\":\"containerd://9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e"
      "2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b\",\"started\":true}],\"qosClass\":\"Burstable\"}}",
      name, ns, rv, node, phase, ready ? "True" : "False", ready ? "True" : "False",
      ready ? "true" : "false");
}

// A watch event line for a pod.
static inline int kp_event(char *buf, size_t n, const char *type, const char *ns, const char *name,
                           const char *rv, int ready) {
  int w = snprintf(buf, n, "{\"type\":\"%s\",\"object\":", type);
  w += kp_pod(buf + w, n - (size_t)w, ns, name, rv, ready ? "Running" : "Pending", ready,
              "gpu-node-3");
  w += snprintf(buf + w, n - (size_t)w, "}\n");
  return w;
}
