// What the cluster hears of sluice's decisions: a core/v1 Event on the scaled workload for every
// applied change (reason ScaledUp / ScaledDown, the policy's reason as the message; a Warning
// when actuation failed), through the correlator of core/kube/events.h, and the status of a
// VariantAutoscaling that names the workload (desired replicas and the reason), so tooling built
// for WVA keeps working; and an Event on the policies' ConfigMap for every reload, refused or
// taken. An observer of the controller's outcomes; only the leader records.
#pragma once

#include "core/kube/cluster.h"
#include "core/kube/events.h"
#include "core/state/observer.h"

typedef struct sl_kube_recorder sl_kube_recorder_t;

typedef struct {
  long events, va_writes, va_failures;
} sl_kube_recorder_stats_t;

// `cluster` (optional) says which variants have a VariantAutoscaling.
sl_kube_recorder_t *sl_kube_recorder_new(sl_kube_client_t *c, sl_kube_events_t *events,
                                         const sl_kube_cluster_t *cluster, sl_err_t *err);
void sl_kube_recorder_free(sl_kube_recorder_t *r);
sl_observer_t *sl_kube_recorder_observer(sl_kube_recorder_t *r);
void sl_kube_recorder_set_leading(sl_kube_recorder_t *r, int leading);
// Events about policy reloads (PolicyReloaded, PolicyRejected, PolicyRestored) go to this
// ConfigMap (namespace NULL: "default"); name NULL: none.
int sl_kube_recorder_set_policy_configmap(sl_kube_recorder_t *r, const char *ns, const char *name);
void sl_kube_recorder_stats(const sl_kube_recorder_t *r, sl_kube_recorder_stats_t *out);
