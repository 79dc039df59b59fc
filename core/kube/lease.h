// Leader election on a coordination.k8s.io/v1 Lease with client-go's semantics: lease duration
// 15 s, renew deadline 10 s, retry period 2 s; holderIdentity, acquireTime, renewTime,
// leaseTransitions; a lease is taken over only once it has expired as measured on *our* clock
// since we last saw the record change (immune to skew between replicas); every write is a PUT
// conditional on the resourceVersion read, so two candidates cannot both win; a leader that
// cannot renew for the renew deadline steps down (and keeps campaigning). The lease name is
// configurable, so shards can each elect their own leader.
#pragma once

#include "core/kube/client.h"

typedef struct {
  const char *namespace;        // required
  const char *name;             // required, e.g. "sluice-leader" or "sluice-shard-3"
  const char *identity;         // required, e.g. "<pod name>_<uuid>"
  double lease_duration_s;      // default 15
  double renew_deadline_s;      // default 10 (must be < lease duration)
  double retry_period_s;        // default 2
  int release_on_stop;          // sl_kube_lease_stop releases a held lease (holder cleared)
  uint64_t seed;                // jitter (0 = from the clock)
  void (*on_started)(void *ud); // became leader
  void (*on_stopped)(void *ud); // no longer leader: stop acting
  void (*on_new_leader)(void *ud, const char *identity); // the observed holder changed
  void *ud;
} sl_kube_lease_opts_t;

typedef struct sl_kube_lease sl_kube_lease_t;

typedef struct {
  long attempts, acquired, renewed, failures, lost;
} sl_kube_lease_stats_t;

sl_kube_lease_t *sl_kube_lease_new(sl_kube_client_t *c, const sl_kube_lease_opts_t *o,
                                   sl_err_t *err);
int sl_kube_lease_start(sl_kube_lease_t *l, sl_err_t *err);
// Stops campaigning; a leader calls on_stopped (and releases the lease when asked to: the
// release is a request, so run the loop until it is done before freeing).
void sl_kube_lease_stop(sl_kube_lease_t *l);
void sl_kube_lease_free(sl_kube_lease_t *l);
int sl_kube_lease_is_leader(const sl_kube_lease_t *l);
// The holder last observed in the lease ("" when none).
const char *sl_kube_lease_holder(const sl_kube_lease_t *l);
void sl_kube_lease_stats(const sl_kube_lease_t *l, sl_kube_lease_stats_t *out);
