// The pod projection: what the controller keeps of each pod (identity, labels, phase,
// readiness, node, IP, GPU requests, a few annotations) packed into one allocation of a few
// hundred bytes, for the informer's cache. Also Kubernetes quantities and timestamps.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/util/json.h"

typedef struct {
  const char *name, *namespace, *node, *ip, *phase; // "" when absent
  const char *owner;         // the controller ownerReference's name ("" when none)
  const char *const *labels; // n_labels (key, value) pairs, flattened
  size_t n_labels;
  const char *const *annotations; // kept annotations, pairs
  size_t n_annotations;
  int ready;         // condition Ready is True
  int scheduled;     // condition PodScheduled is True, or a node is assigned
  int deleting;      // metadata.deletionTimestamp is set
  int64_t gpu_milli; // GPU requests (limits when requests are absent), summed over containers
  double start_time, ready_time; // status.startTime, Ready's lastTransitionTime (0 = unknown)
  size_t size;                   // bytes of this record
} sl_kube_pod_t;

// Which annotations are kept (by prefix) and which resources count as GPUs. NULL lists take
// the defaults: annotations under "llm-d.ai/" and "sluice.io/"; "nvidia.com/gpu",
// "amd.com/gpu".
typedef struct {
  const char *const *annotation_prefixes;
  const char *const *gpu_resources;
} sl_kube_pod_proj_t;

// sl_informer_handlers_t callbacks; `ud` is a sl_kube_pod_proj_t or NULL.
void *sl_kube_pod_project(void *ud, const sl_json_t *obj, size_t *bytes);
void sl_kube_pod_free(void *ud, void *rec);
int sl_kube_pod_equal(void *ud, const void *a, const void *b);
// The value of label `key`, or NULL.
const char *sl_kube_pod_label(const sl_kube_pod_t *p, const char *key);

// A quantity ("2", "500m", "1.5", "1Gi", "1e3") in thousandths, rounded up as Kubernetes'
// MilliValue does. 0 or SL_EINVAL.
int sl_kube_quantity_milli(const char *s, int64_t *out);
// RFC 3339 ("2025-06-01T12:00:00Z", fractional seconds and offsets allowed) to Unix seconds.
int sl_kube_time_parse(const char *s, double *out);
