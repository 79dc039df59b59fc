// The cluster as a source: informers on the workloads sluice may scale (Deployments, and
// LeaderWorkerSets where the API serves them), their pods, the nodes, and — for discovery —
// HorizontalPodAutoscalers, KEDA ScaledObjects and VariantAutoscalings where served. At each
// tick it keeps the store as the simulator's fleet keeps its own: each configured variant's
// replicas (desired from its workload, ready / starting / pending from its pods, classed as
// docs/view.md defines), the pods and their phases, and the inventory per accelerator type
// (nodes' allocatable GPUs minus what scheduled pods request). It says how fresh that is, so
// the guard holds a variant whose cluster state could not be confirmed, and it names the
// scrape targets (Ready model-server pods, and each model's gateway) for the direct scraper.
#pragma once

#include <stddef.h>

#include "core/kube/client.h"
#include "core/state/config.h"
#include "core/state/source.h"
#include "core/util/sched.h"

typedef struct {
  const sl_config_t *cfg;        // the variants to fill and the accelerator types (borrowed)
  const char *namespace;         // scope: only this namespace (NULL: all)
  const char *selector;          // scope: only workloads matching this label selector
  const char *accelerator_label; // node label naming the accelerator type
  double stale_after;            // without contact this long, counts are not confirmed
} sl_kube_cluster_opts_t;

// A scrape target: a Ready pod of a variant (variant set, model NULL) or a model's gateway
// (model set, variant NULL). `pod` is the store's key for the pod ("namespace/name").
typedef struct {
  const char *url, *pod, *variant, *model;
} sl_kube_target_t;
typedef void (*sl_kube_targets_fn)(void *ud, const sl_kube_target_t *t, size_t n);

// A variant the cluster declares: a workload annotated llm-d.ai/managed (on itself, or on the
// HPA or ScaledObject that targets it, as WVA v0.9 discovers them), or a VariantAutoscaling.
typedef struct {
  char *namespace, *name, *kind, *model, *accelerator;
  double cost;      // NaN when not given
  int min, max;     // -1 when not given
  int gpus;         // per replica, 0 when unknown
  const char *from; // "annotation", "hpa", "scaledobject", "variantautoscaling"
} sl_kube_found_t;

typedef struct sl_kube_cluster sl_kube_cluster_t;

sl_kube_cluster_t *sl_kube_cluster_new(sl_kube_client_t *client, sl_sched_t *sched,
                                       const sl_kube_cluster_opts_t *o, sl_err_t *err);
void sl_kube_cluster_free(sl_kube_cluster_t *c);
sl_source_t *sl_kube_cluster_source(sl_kube_cluster_t *c);
// The configuration changed (variants discovered or gone): fill these from the next sync.
void sl_kube_cluster_set_config(sl_kube_cluster_t *c, const sl_config_t *cfg);
// Every informer has listed once.
int sl_kube_cluster_synced(const sl_kube_cluster_t *c);
// An error retrying cannot fix (the server's certificate does not verify), or NULL.
const char *sl_kube_cluster_fatal(const sl_kube_cluster_t *c);
// Called with the whole target list whenever it changes (and once when it is first known).
void sl_kube_cluster_on_targets(sl_kube_cluster_t *c, sl_kube_targets_fn fn, void *ud);
// The variants the cluster declares now, sorted by namespace/name. Free with
// sl_kube_cluster_found_free.
int sl_kube_cluster_discover(const sl_kube_cluster_t *c, sl_kube_found_t **out, size_t *n,
                             sl_err_t *err);
void sl_kube_cluster_found_free(sl_kube_found_t *f, size_t n);
// Whether a VariantAutoscaling named ns/name exists (its status is sluice's to write).
int sl_kube_cluster_has_va(const sl_kube_cluster_t *c, const char *ns, const char *name);
