// The workload projection: what the controller keeps of each Deployment or LeaderWorkerSet it
// may scale — identity, desired replicas, the pods' selector, the annotations that opt it in
// (llm-d.ai/managed, model-id, variant-cost), the accelerator its pods ask for and their GPUs —
// for the informer's cache. Also the HorizontalPodAutoscaler / ScaledObject projection WVA's
// annotation discovery reads (the annotations can sit on those instead, with min and max).
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/util/json.h"

typedef struct {
  char *name, *namespace;
  int replicas;    // spec.replicas (1 when unset, as the API defaults it)
  char **selector; // matchLabels, flattened (key, value) pairs
  size_t n_selector;
  char **annotations; // llm-d.ai/* and sluice.io/*, pairs
  size_t n_annotations;
  char *accelerator; // the pod template's nodeSelector[accelerator label], "" when none
  int64_t gpu_milli; // GPUs one pod requests (thousandths), summed over its containers
  int group_size;    // pods per replica: LeaderWorkerSet's size, 1 for a Deployment
  int lws;           // a LeaderWorkerSet
  size_t size;       // bytes held
} sl_kube_workload_t;

// Which node label names the accelerator (the projection reads the template's nodeSelector
// and required node affinity for it). `ud` of the callbacks below.
typedef struct {
  const char *accelerator_label;
} sl_kube_workload_proj_t;

// sl_informer_handlers_t callbacks for deployments.apps and leaderworkersets.
void *sl_kube_workload_project(void *ud, const sl_json_t *obj, size_t *bytes);
void sl_kube_workload_free(void *ud, void *rec);
int sl_kube_workload_equal(void *ud, const void *a, const void *b);
// The value of annotation `key`, or NULL.
const char *sl_kube_workload_annotation(const sl_kube_workload_t *w, const char *key);
// Whether a pod with these labels (flattened pairs) belongs to the workload: every matchLabel
// present with its value, and for a LeaderWorkerSet only group leaders (worker-index 0), since
// one replica is one group.
int sl_kube_workload_owns(const sl_kube_workload_t *w, const char *const *labels, size_t n);

// An HPA (autoscaling/v2) or a KEDA ScaledObject: its target and bounds, and its annotations.
typedef struct {
  char *name, *namespace;
  char *target_kind, *target_name; // scaleTargetRef
  int min, max;                    // minReplicas / minReplicaCount (default 1), max
  char **annotations;
  size_t n_annotations;
  size_t size;
} sl_kube_scaler_t;

void *sl_kube_scaler_project(void *ud, const sl_json_t *obj, size_t *bytes);
void sl_kube_scaler_free(void *ud, void *rec);
int sl_kube_scaler_equal(void *ud, const void *a, const void *b);
const char *sl_kube_scaler_annotation(const sl_kube_scaler_t *s, const char *key);
