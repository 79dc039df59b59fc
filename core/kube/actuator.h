// The `scale` actuator: sets a variant's replicas through the /scale subresource of its
// Deployment or LeaderWorkerSet (core/kube/scale.h: a PATCH conditional on the resourceVersion
// just read, 409 retried once). The pipeline's call returns at once — the PATCH goes out on the
// loop, a tick never waits on the network — and only one write per variant is in flight: a newer
// target waits for it and then replaces what it would have written. Only the leader writes
// (sl_kube_actuator_set_leading); a follower's changes are refused with a reason that says so.
#pragma once

#include "core/kube/client.h"
#include "core/state/actuator.h"

typedef struct sl_kube_actuator sl_kube_actuator_t;

typedef struct {
  long requested, patched, unchanged, failed, refused_follower;
  double last_ack_s; // the last PATCH's round trip, from the call to its acknowledgement
} sl_kube_actuator_stats_t;

sl_kube_actuator_t *sl_kube_actuator_new(sl_kube_client_t *c, sl_err_t *err);
void sl_kube_actuator_free(sl_kube_actuator_t *a);
sl_actuator_t *sl_kube_actuator_get(sl_kube_actuator_t *a);
// Whether this instance may write (leader election); on by default.
void sl_kube_actuator_set_leading(sl_kube_actuator_t *a, int leading);
// Writes queued or in flight.
size_t sl_kube_actuator_pending(const sl_kube_actuator_t *a);
void sl_kube_actuator_stats(const sl_kube_actuator_t *a, sl_kube_actuator_stats_t *out);
