// The /scale subresource of Deployments (apps/v1) and LeaderWorkerSets
// (leaderworkerset.x-k8s.io/v1): read it, and set spec.replicas with a merge patch made
// conditional on the resourceVersion just read, so a concurrent change is never silently
// overwritten; a 409 is retried once on a fresh read (and skipped when that read already shows
// the wanted replicas). Also status-subresource writes for custom resources, with the
// VariantAutoscaling (llmd.ai/v1alpha1) status WVA's users read.
#pragma once

#include "core/kube/client.h"

typedef enum { SL_KUBE_DEPLOYMENT, SL_KUBE_LEADERWORKERSET } sl_kube_workload_t;

typedef struct {
  int spec_replicas;   // desired
  int status_replicas; // observed
  char selector[512];  // status.selector: the pods' label selector, query syntax
  char rv[64];         // metadata.resourceVersion
} sl_kube_scale_t;

// res is the last call's result (res->rc == SL_OK on success); scale is what the server holds
// after the operation (NULL when unknown). `writes` counts PATCHes that were applied (0 or 1).
typedef void (*sl_kube_scale_fn)(void *ud, const sl_kube_result_t *res,
                                 const sl_kube_scale_t *scale, int writes);

typedef struct sl_kube_scale_op sl_kube_scale_op_t;

sl_kube_scale_op_t *sl_kube_scale_get(sl_kube_client_t *c, sl_kube_workload_t kind, const char *ns,
                                      const char *name, sl_kube_scale_fn cb, void *ud,
                                      sl_err_t *err);
// GET, then PATCH {"metadata":{"resourceVersion":rv},"spec":{"replicas":n}}; on 409 one more
// GET and PATCH. A read that already shows n completes without writing.
sl_kube_scale_op_t *sl_kube_scale_set(sl_kube_client_t *c, sl_kube_workload_t kind, const char *ns,
                                      const char *name, int replicas, sl_kube_scale_fn cb, void *ud,
                                      sl_err_t *err);
void sl_kube_scale_cancel(sl_kube_scale_op_t *op);
// The /scale path of a workload.
int sl_kube_scale_path(char *buf, size_t n, sl_kube_workload_t kind, const char *ns,
                       const char *name);

// Merge-patches {"status": status} into /apis/GROUP/VERSION/namespaces/NS/PLURAL/NAME/status.
sl_kube_call_t *sl_kube_status_patch(sl_kube_client_t *c, const char *group, const char *version,
                                     const char *plural, const char *ns, const char *name,
                                     const sl_json_t *status, sl_kube_done_fn done, void *ud,
                                     sl_err_t *err);
// A VariantAutoscaling's status: desiredOptimizedAlloc {numReplicas, accelerator, lastRunTime},
// actuation.applied, and the OptimizationReady condition carrying the policy's reason.
sl_kube_call_t *sl_kube_va_status(sl_kube_client_t *c, const char *ns, const char *name,
                                  int desired, const char *accelerator, const char *reason,
                                  int applied, double wall, sl_kube_done_fn done, void *ud,
                                  sl_err_t *err);
