// Simulated pods. See fleet.h.
#include "core/sim/fleet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// z of the 95th percentile of a standard normal.
#define Z95 1.6448536269514722

int sl_fleet_init(sl_fleet_t *f, const sl_cluster_t *cl, sl_store_t *store,
                  sl_inflight_pool_t *pool, sl_replica_done_fn on_done, void *done_ud,
                  const sl_fleet_cb_t *cb, uint64_t seed, sl_err_t *err) {
  memset(f, 0, sizeof *f);
  f->cl = cl;
  f->store = store;
  f->pool = pool;
  f->on_done = on_done;
  f->done_ud = done_ud;
  if (cb) f->cb = *cb;
  sl_heap_init(&f->timers);
  sl_heap_init(&f->events);
  sl_rng_seed(&f->rng, seed ^ 0x636f6c6473746172ULL);
  f->cold_mu = log(cl->cold_median > 0 ? cl->cold_median : 1e-9);
  f->cold_sigma = cl->cold_p95 > cl->cold_median ? log(cl->cold_p95 / cl->cold_median) / Z95 : 0;
  const sl_config_t *cfg = &cl->cfg;
  f->nv = cfg->nvariants;
  f->v = calloc((size_t)f->nv, sizeof *f->v);
  f->nacc = cfg->naccels;
  f->acc = calloc((size_t)(f->nacc ? f->nacc : 1), sizeof *f->acc);
  if (!f->v || !f->acc) {
    sl_fleet_deinit(f);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  for (int i = 0; i < f->nacc; i++)
    f->acc[i] =
        (sl_fleet_accel_t){cfg->accels[i].type, cfg->accels[i].count, 0, cfg->accels[i].cost};
  for (int i = 0; i < f->nv; i++) {
    f->v[i].acc = -1;
    for (int k = 0; k < f->nacc; k++)
      if (!strcmp(f->acc[k].type, cfg->variants[i].accelerator)) f->v[i].acc = k;
  }
  if (store) {
    for (int k = 0; k < f->nacc; k++)
      sl_store_set_accelerator(store, f->acc[k].type, f->acc[k].total, 0, f->acc[k].cost);
    for (int i = 0; i < f->nv; i++) sl_store_set_replicas(store, cfg->variants[i].id, 0, 0, 0, 0);
  }
  return SL_OK;
}

static void pod_free(sl_simpod_t *p) {
  sl_replica_deinit(&p->rep);
  free(p);
}

void sl_fleet_deinit(sl_fleet_t *f) {
  for (int i = 0; i < f->nv; i++) {
    for (int k = 0; k < f->v[i].npods; k++) pod_free(f->v[i].pods[k]);
    free(f->v[i].pods);
  }
  free(f->v);
  free(f->acc);
  free(f->pending);
  f->timers.n = f->events.n = 0; // the nodes were inside the pods
  sl_heap_deinit(&f->timers);
  sl_heap_deinit(&f->events);
  memset(f, 0, sizeof *f);
}

void sl_fleet_account(sl_fleet_t *f, double now) {
  double dt = now - f->t_acct;
  if (dt > 0) {
    f->gpu_seconds += f->held_gpus * dt;
    f->cost += f->held_rate * dt / 3600.0;
  }
  if (now > f->t_acct) f->t_acct = now;
}

static void publish(sl_fleet_t *f, int vi) {
  if (!f->store) return;
  const sl_fleet_variant_t *v = &f->v[vi];
  sl_store_set_replicas(f->store, f->cl->cfg.variants[vi].id, v->desired, v->n[SL_POD_READY],
                        v->n[SL_POD_STARTING], v->n[SL_POD_PENDING]);
  if (v->acc >= 0) {
    const sl_fleet_accel_t *a = &f->acc[v->acc];
    sl_store_set_accelerator(f->store, a->type, a->total, a->used, a->cost);
  }
}

static void set_phase(sl_fleet_t *f, sl_simpod_t *p, sl_pod_phase_t to, double now) {
  sl_pod_phase_t from = p->phase;
  sl_fleet_variant_t *v = &f->v[p->variant];
  v->n[from]--;
  v->n[to]++;
  p->phase = to;
  if (f->store) sl_store_set_pod(f->store, f->cl->cfg.variants[p->variant].id, p->name, to);
  if (f->cb.on_phase) f->cb.on_phase(f->cb.ud, p, from, now);
}

static double cold_start(sl_fleet_t *f) {
  const sl_cluster_t *cl = f->cl;
  double t =
      f->cold_sigma > 0 ? sl_rng_lognormal(&f->rng, f->cold_mu, f->cold_sigma) : cl->cold_median;
  if (t < cl->cold_min) t = cl->cold_min;
  if (t > cl->cold_max) t = cl->cold_max;
  return t;
}

static int fits(const sl_fleet_t *f, int vi) {
  const sl_fleet_variant_t *v = &f->v[vi];
  if (v->acc < 0) return 1;
  const sl_fleet_accel_t *a = &f->acc[v->acc];
  return a->total == 0 || a->used + f->cl->cfg.variants[vi].gpus_per_replica <= a->total;
}

static void hold(sl_fleet_t *f, sl_simpod_t *p, int take, double now) {
  const sl_variant_t *d = &f->cl->cfg.variants[p->variant];
  sl_fleet_account(f, now);
  int sign = take ? 1 : -1;
  f->held_gpus += sign * d->gpus_per_replica;
  f->held_rate += sign * d->cost;
  f->held_pods += sign;
  if (f->held_gpus < 0.5) f->held_gpus = 0, f->held_rate = 0;
  if (f->held_gpus > f->peak_gpus) f->peak_gpus = f->held_gpus;
  if (f->held_pods > f->peak_pods) f->peak_pods = f->held_pods;
  int ai = f->v[p->variant].acc;
  if (ai >= 0) f->acc[ai].used += sign * d->gpus_per_replica;
  p->scheduled = take;
}

static void start(sl_fleet_t *f, sl_simpod_t *p, double now) {
  hold(f, p, 1, now);
  set_phase(f, p, SL_POD_STARTING, now);
  sl_heap_set(&f->timers, &p->timer, now + (f->zero_start ? 0 : cold_start(f)));
}

static int pending_cmp_first(const sl_fleet_t *f, const sl_simpod_t *a, const sl_simpod_t *b) {
  int pa = f->cl->cfg.variants[a->variant].priority, pb = f->cl->cfg.variants[b->variant].priority;
  return pa != pb ? pa > pb : a->id < b->id;
}

// Schedules pending pods that now fit, higher priority first, then oldest.
static void schedule(sl_fleet_t *f, double now) {
  for (;;) {
    int best = -1;
    for (int i = 0; i < f->npending; i++)
      if (fits(f, f->pending[i]->variant) &&
          (best < 0 || pending_cmp_first(f, f->pending[i], f->pending[best])))
        best = i;
    if (best < 0) break;
    sl_simpod_t *p = f->pending[best];
    memmove(f->pending + best, f->pending + best + 1,
            sizeof *f->pending * (size_t)(f->npending - best - 1));
    f->npending--;
    start(f, p, now);
    publish(f, p->variant);
  }
}

static void pending_remove(sl_fleet_t *f, sl_simpod_t *p) {
  for (int i = 0; i < f->npending; i++)
    if (f->pending[i] == p) {
      memmove(f->pending + i, f->pending + i + 1,
              sizeof *f->pending * (size_t)(f->npending - i - 1));
      f->npending--;
      return;
    }
}

static sl_simpod_t *create(sl_fleet_t *f, int vi, double now) {
  sl_fleet_variant_t *v = &f->v[vi];
  sl_simpod_t *p = calloc(1, sizeof *p);
  if (!p) return f->oom = 1, NULL;
  if (v->npods == v->cap) {
    int cap = v->cap ? v->cap * 2 : 8;
    sl_simpod_t **n = realloc(v->pods, sizeof *n * (size_t)cap);
    if (!n) return free(p), f->oom = 1, NULL;
    v->pods = n;
    v->cap = cap;
  }
  const sl_variant_t *d = &f->cl->cfg.variants[vi];
  p->id = f->next_id++;
  p->variant = vi;
  p->model = f->cl->vx[vi].model;
  snprintf(p->name, sizeof p->name, "%s-%llu", d->name, (unsigned long long)p->id);
  p->phase = SL_POD_PENDING;
  p->t_created = now;
  p->t_ready = NAN;
  sl_heap_node_init(&p->timer, p->id);
  sl_heap_node_init(&p->ev, p->id);
  sl_replica_init(&p->rep, &f->cl->vx[vi].engine, f->pool, f->on_done, f->done_ud);
  sl_gateway_ep_init(&p->ep, &p->rep, p->id);
  p->vslot = v->npods;
  v->pods[v->npods++] = p;
  v->n[SL_POD_PENDING]++;
  f->pods_created++;
  if (f->store) sl_store_set_pod(f->store, d->id, p->name, SL_POD_PENDING);
  return p;
}

static void gone(sl_fleet_t *f, sl_simpod_t *p, double now) {
  if (f->cb.on_gone) f->cb.on_gone(f->cb.ud, p, now);
  sl_fleet_variant_t *v = &f->v[p->variant];
  if (p->scheduled) hold(f, p, 0, now);
  if (p->phase == SL_POD_PENDING) pending_remove(f, p);
  sl_heap_set(&f->timers, &p->timer, INFINITY);
  sl_heap_set(&f->events, &p->ev, INFINITY);
  v->n[p->phase]--;
  for (int i = p->vslot + 1; i < v->npods; i++) v->pods[i]->vslot = i - 1;
  memmove(v->pods + p->vslot, v->pods + p->vslot + 1,
          sizeof *v->pods * (size_t)(v->npods - p->vslot - 1));
  v->npods--;
  if (f->store) sl_store_remove_pod(f->store, p->name);
  int vi = p->variant;
  pod_free(p);
  schedule(f, now);
  publish(f, vi);
}

static void drain(sl_fleet_t *f, sl_simpod_t *p, double now) {
  set_phase(f, p, SL_POD_DRAINING, now);
  if (p->rep.n_running + p->rep.n_waiting == 0) {
    gone(f, p, now);
    return;
  }
  sl_heap_set(&f->timers, &p->timer, now + f->cl->drain_grace);
}

static int pending_add(sl_fleet_t *f, sl_simpod_t *p) {
  if (f->npending == f->cap_pending) {
    int cap = f->cap_pending ? f->cap_pending * 2 : 16;
    sl_simpod_t **n = realloc(f->pending, sizeof *n * (size_t)cap);
    if (!n) return f->oom = 1, -1;
    f->pending = n;
    f->cap_pending = cap;
  }
  f->pending[f->npending++] = p;
  return 0;
}

void sl_fleet_warm(sl_fleet_t *f, int vi, int n, double now) {
  sl_fleet_variant_t *v = &f->v[vi];
  v->desired = n;
  for (int i = 0; i < n; i++) {
    sl_simpod_t *p = create(f, vi, now);
    if (!p) return;
    if (fits(f, vi)) {
      hold(f, p, 1, now);
      set_phase(f, p, SL_POD_READY, now);
      p->t_ready = now;
    } else if (pending_add(f, p) < 0) {
      return;
    }
  }
  publish(f, vi);
}

// Pods a Deployment counts: not terminating.
static int counted(const sl_fleet_variant_t *v) {
  return v->n[SL_POD_PENDING] + v->n[SL_POD_STARTING] + v->n[SL_POD_READY];
}

// The pod a ReplicaSet deletes first: unscheduled before scheduled, not ready before ready,
// newest first.
static sl_simpod_t *victim(const sl_fleet_variant_t *v) {
  static const sl_pod_phase_t order[] = {SL_POD_PENDING, SL_POD_STARTING, SL_POD_READY};
  for (int k = 0; k < 3; k++)
    for (int i = v->npods - 1; i >= 0; i--)
      if (v->pods[i]->phase == order[k]) return v->pods[i];
  return NULL;
}

void sl_fleet_scale(sl_fleet_t *f, int vi, int desired, double now) {
  sl_fleet_variant_t *v = &f->v[vi];
  if (desired < 0) desired = 0;
  v->desired = desired;
  while (counted(v) < desired) {
    sl_simpod_t *p = create(f, vi, now);
    if (!p || pending_add(f, p) < 0) break;
  }
  while (counted(v) > desired) {
    sl_simpod_t *p = victim(v);
    if (p->phase == SL_POD_READY)
      drain(f, p, now);
    else
      gone(f, p, now);
  }
  schedule(f, now);
  publish(f, vi);
}

void sl_fleet_fire_timer(sl_fleet_t *f) {
  sl_heap_node_t *n = sl_heap_top(&f->timers);
  if (!n) return;
  sl_simpod_t *p = (sl_simpod_t *)((char *)n - offsetof(sl_simpod_t, timer));
  double now = n->key;
  sl_heap_set(&f->timers, n, INFINITY);
  if (p->phase == SL_POD_STARTING) {
    p->t_ready = now;
    set_phase(f, p, SL_POD_READY, now);
    publish(f, p->variant);
  } else if (p->phase == SL_POD_DRAINING) {
    f->pods_cut_requests += (uint64_t)sl_replica_cut(&p->rep, now);
    gone(f, p, now);
  }
}

int sl_fleet_touch(sl_fleet_t *f, sl_simpod_t *p, double now) {
  if (p->phase == SL_POD_DRAINING && p->rep.n_running + p->rep.n_waiting == 0) {
    gone(f, p, now);
    return 1;
  }
  if (sl_heap_set(&f->events, &p->ev, sl_replica_next_event(&p->rep)) < 0) f->oom = 1;
  return 0;
}
