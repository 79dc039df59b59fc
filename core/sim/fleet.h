// The simulated cluster's pods: per variant, the desired replica count the actuator sets and the
// pods that carry it out. A new pod is Pending until an accelerator of its type is free
// (inventory counts, scheduled by priority then age), Starting for a cold start drawn from the
// cluster's distribution, then Ready with a model server; on scale-down the newest unready pods go
// first, and Ready pods drain: no new requests, in-flight ones finish or are cut when the grace
// period ends. GPU-hours and cost accrue while a pod holds its GPUs. The fleet keeps the store's
// object state (pods and phases, replica counts, inventory) current, as a Kubernetes watch would.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/state/store.h"
#include "core/sim/cluster.h"
#include "core/sim/gateway.h"
#include "core/sim/heap.h"
#include "core/sim/replica.h"
#include "core/util/rng.h"

typedef struct sl_simpod {
  uint64_t id; // creation order
  int variant, model;
  char name[96];
  sl_pod_phase_t phase;
  int scheduled; // holds its GPUs
  double t_created, t_ready;
  sl_heap_node_t timer; // Ready (starting) or end of grace (draining)
  sl_heap_node_t ev;    // the server's next step boundary
  sl_gateway_ep_t ep;   // as the gateway's endpoint (while Ready)
  int vslot;            // position in its variant's pod list
  sl_replica_t rep;
} sl_simpod_t;

#define SL_SIMPOD_OF(r) ((sl_simpod_t *)((char *)(r)-offsetof(sl_simpod_t, rep)))

typedef struct {
  int desired;
  sl_simpod_t **pods; // live pods (draining included), in creation order
  int npods, cap;
  int n[4]; // by sl_pod_phase_t
  int acc;  // index into accels, -1 when the type has no inventory entry
} sl_fleet_variant_t;

typedef struct {
  const char *type;
  int total; // GPUs; 0 = unlimited
  int used;
  double cost; // per GPU-hour
} sl_fleet_accel_t;

typedef struct sl_fleet sl_fleet_t;

typedef struct {
  // A pod changed phase (Ready, Draining, ...) at now; `from` is its previous phase.
  void (*on_phase)(void *ud, sl_simpod_t *p, sl_pod_phase_t from, double now);
  // A pod is about to be freed (its server is empty).
  void (*on_gone)(void *ud, sl_simpod_t *p, double now);
  void *ud;
} sl_fleet_cb_t;

struct sl_fleet {
  const sl_cluster_t *cl;
  sl_store_t *store; // may be NULL
  sl_inflight_pool_t *pool;
  sl_replica_done_fn on_done;
  void *done_ud;
  sl_fleet_cb_t cb;
  sl_fleet_variant_t *v;
  int nv;
  sl_fleet_accel_t *acc;
  int nacc;
  sl_heap_t timers, events;
  sl_rng_t rng;
  double cold_mu, cold_sigma;
  uint64_t next_id;
  sl_simpod_t **pending; // unscheduled pods, creation order
  int npending, cap_pending;
  double t_acct, gpu_seconds, cost, held_gpus, held_rate;
  int held_pods, peak_pods; // pods holding GPUs (pending excluded), now and at most
  double peak_gpus;         // GPUs held at once, at most
  int zero_start;           // a scheduled pod is Ready at once (the oracle's replay)
  uint64_t pods_created, pods_cut_requests;
  int oom;
};

int sl_fleet_init(sl_fleet_t *f, const sl_cluster_t *cl, sl_store_t *store,
                  sl_inflight_pool_t *pool, sl_replica_done_fn on_done, void *done_ud,
                  const sl_fleet_cb_t *cb, uint64_t seed, sl_err_t *err);
void sl_fleet_deinit(sl_fleet_t *f);

// Warm start: n pods of a variant Ready at `now` (as far as the inventory allows; the rest are
// Pending), and desired set to n.
void sl_fleet_warm(sl_fleet_t *f, int variant, int n, double now);
// The actuator's call: set a variant's desired replicas.
void sl_fleet_scale(sl_fleet_t *f, int variant, int desired, double now);

// The next lifecycle event and the next server event.
static inline double sl_fleet_next_timer(const sl_fleet_t *f) {
  return sl_heap_top_key(&f->timers);
}
static inline double sl_fleet_next_server(const sl_fleet_t *f) {
  return sl_heap_top_key(&f->events);
}
// Runs the lifecycle event due first (a pod becoming Ready, or a drain grace ending).
void sl_fleet_fire_timer(sl_fleet_t *f);
// The pod whose server has the next step boundary (the caller advances it, then calls touch).
static inline sl_simpod_t *sl_fleet_server_due(const sl_fleet_t *f) {
  sl_heap_node_t *n = sl_heap_top(&f->events);
  return n ? (sl_simpod_t *)((char *)n - offsetof(sl_simpod_t, ev)) : NULL;
}
// After anything changed a pod's server (advance, submit): refiles its next event, and ends a
// draining pod whose server has emptied. Returns 1 when the pod is gone.
int sl_fleet_touch(sl_fleet_t *f, sl_simpod_t *p, double now);

// Brings GPU-hours and cost up to `now`.
void sl_fleet_account(sl_fleet_t *f, double now);
