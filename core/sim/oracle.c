// The oracle. See oracle.h.
#include "core/sim/oracle.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/sim/gateway.h"
#include "core/sim/heap.h"
#include "core/sim/replica.h"
#include "core/sim/trace.h"
#include "core/sim/world.h"
#include "core/state/store.h"

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Whether a served request met variant v's SLO, judged as the world judges it (core/sim/world.c).
static int judge(const sl_cluster_t *cl, int v, double t_arrive, uint32_t in, uint32_t out,
                 double t_first, double t_end) {
  const sl_variant_t *d = &cl->cfg.variants[v];
  if (!d->slo) return 1;
  double extra = cl->vx[v].engine.step.request_ms * 1e-3;
  double ttft = t_first - t_arrive + extra;
  if (ttft * 1e3 > sl_slo_ttft_ms(d->slo, in)) return 0;
  if (out > 1 && (t_end - t_first) / (out - 1) * 1e3 > d->slo->itl_ms) return 0;
  return 1;
}

// ---- feasibility: one request alone on an idle server ------------------------------------------

typedef struct {
  const sl_cluster_t *cl;
  int v, done, met;
} alone_t;

static void alone_done(void *ud, sl_replica_t *r, int32_t id, double t,
                       sl_replica_outcome_t outcome) {
  alone_t *a = ud;
  const sl_inflight_t *q = &r->pool->r[id];
  a->done = 1;
  a->met = outcome == SL_REPLICA_FINISHED &&
           judge(a->cl, a->v, q->t_arrive, q->in, q->out, q->t_first, t);
  sl_inflight_release(r->pool, id);
}

int sl_oracle_feasible(sl_oracle_t *o, const sl_cluster_t *cl, int v, uint32_t in, uint32_t out) {
  char key[64];
  snprintf(key, sizeof key, "%d/%u/%u", v, in, out);
  void *hit = sl_map_get(&o->feasible, key);
  if (hit) return (int)((intptr_t)hit - 1);
  sl_inflight_pool_t pool;
  sl_inflight_pool_init(&pool);
  alone_t a = {cl, v, 0, 0};
  sl_replica_t rep;
  sl_replica_init(&rep, &cl->vx[v].engine, &pool, alone_done, &a);
  int32_t id = sl_inflight_alloc(&pool);
  if (id >= 0) {
    sl_inflight_t *q = &pool.r[id];
    q->t_arrive = 0;
    q->in = in;
    q->out = out;
    q->model = (uint16_t)cl->vx[v].model;
    q->variant = (uint16_t)v;
    sl_replica_submit(&rep, id, 0);
    while (!a.done && !rep.oom && isfinite(sl_replica_next_event(&rep))) sl_replica_advance(&rep);
  }
  sl_replica_deinit(&rep);
  sl_inflight_pool_deinit(&pool);
  // Out of memory counts as feasible: it never excuses a miss.
  int ok = a.done ? a.met : 1;
  sl_map_put(&o->feasible, key, (void *)(intptr_t)(ok + 1));
  return ok;
}

// ---- the search's servers
// -------------------------------------------------------------------------

typedef struct {
  double t;
  uint32_t in, out;
} oreq_t;

typedef struct search search_t;

typedef struct {
  sl_replica_t rep;
  sl_gateway_ep_t ep;
  sl_heap_node_t ev, grace; // next step boundary; while draining, the end of its grace
  uint64_t id;
  int draining;
} osrv_t;

#define SRV_OF(node, field) ((osrv_t *)((char *)(node)-offsetof(osrv_t, field)))

// The servers of one model and what is in flight on them, at one moment: a bin's start. A trial
// works on a copy.
typedef struct {
  search_t *S;
  sl_inflight_pool_t pool;
  sl_gateway_t gw;
  osrv_t **srv; // live servers, in creation order (draining included)
  int nsrv, cap;
  sl_heap_t ev, grace;
  uint64_t next_id;
  size_t cursor; // the next arrival (index into the search's requests)
  // The bin under trial: its requests arrived, still open, met, and missed but infeasible.
  long bin;
  uint64_t n, open, met, infeasible;
  int oom;
} ost_t;

struct search {
  sl_oracle_t *o;
  const sl_sim_t *sim;
  const sl_cluster_t *cl;
  int m, v;
  double bin_s;
  sl_trace_t *tr;
  int eof, failed;
  sl_err_t ferr;
  oreq_t *req; // requests [base, base + n)
  size_t base, n, cap;
};

// Request k of the model's trace, reading on as needed; NULL after the last (or on an error).
static const oreq_t *req_at(search_t *S, size_t k) {
  while (k >= S->base + S->n && !S->eof && !S->failed) {
    sl_req_t r;
    int rc = sl_trace_next(S->tr, &r, &S->ferr);
    if (rc < 0) S->failed = 1;
    if (rc <= 0) {
      S->eof = 1;
      break;
    }
    if (S->n == S->cap) {
      size_t cap = S->cap ? S->cap * 2 : 4096;
      oreq_t *n = realloc(S->req, sizeof *n * cap);
      if (!n) {
        S->failed = 1;
        sl_err(&S->ferr, SL_ENOMEM, "out of memory");
        break;
      }
      S->req = n;
      S->cap = cap;
    }
    S->req[S->n++] = (oreq_t){r.t, r.in_tokens, r.out_tokens};
  }
  return k < S->base + S->n ? &S->req[k - S->base] : NULL;
}

// Forgets the requests before k (no state will read them again).
static void req_trim(search_t *S, size_t k) {
  if (k <= S->base || k - S->base < S->n / 2 + 1024) return;
  size_t drop = k - S->base;
  if (drop > S->n) drop = S->n;
  memmove(S->req, S->req + drop, sizeof *S->req * (S->n - drop));
  S->n -= drop;
  S->base += drop;
}

static long bin_of(const search_t *S, double t) {
  return (long)(size_t)(t / S->bin_s);
}

static void account(ost_t *T, const sl_inflight_t *q, int finished, double t_end) {
  search_t *S = T->S;
  if (bin_of(S, q->t_arrive) != T->bin) return;
  T->open--;
  if (finished && judge(S->cl, S->v, q->t_arrive, q->in, q->out, q->t_first, t_end))
    T->met++;
  else if (!sl_oracle_feasible(S->o, S->cl, S->v, q->in, q->out))
    T->infeasible++;
}

static void trial_done(void *ud, sl_replica_t *r, int32_t id, double t,
                       sl_replica_outcome_t outcome) {
  (void)r;
  ost_t *T = ud;
  account(T, &T->pool.r[id], outcome == SL_REPLICA_FINISHED, t);
  sl_inflight_release(&T->pool, id);
}

static void ost_free(ost_t *T) {
  if (!T) return;
  for (int i = 0; i < T->nsrv; i++) {
    sl_replica_deinit(&T->srv[i]->rep);
    free(T->srv[i]);
  }
  free(T->srv);
  T->ev.n = T->grace.n = 0; // the nodes were inside the servers
  sl_heap_deinit(&T->ev);
  sl_heap_deinit(&T->grace);
  sl_gateway_deinit(&T->gw);
  sl_inflight_pool_deinit(&T->pool);
  free(T);
}

static ost_t *ost_new(search_t *S) {
  ost_t *T = calloc(1, sizeof *T);
  if (!T) return NULL;
  T->S = S;
  sl_inflight_pool_init(&T->pool);
  sl_heap_init(&T->ev);
  sl_heap_init(&T->grace);
  const sl_cluster_t *cl = S->cl;
  if (sl_gateway_init(&T->gw, cl->nmodels, &T->pool, cl->queue_threshold, cl->kv_threshold,
                      cl->drop_timeout) < 0) {
    free(T);
    return NULL;
  }
  T->bin = -1;
  return T;
}

static int srv_append(ost_t *T, osrv_t *s) {
  if (T->nsrv == T->cap) {
    int cap = T->cap ? T->cap * 2 : 16;
    osrv_t **n = realloc(T->srv, sizeof *n * (size_t)cap);
    if (!n) return -1;
    T->srv = n;
    T->cap = cap;
  }
  T->srv[T->nsrv++] = s;
  return 0;
}

// A copy of a state, with the servers' batches, queues and caches as they are.
static ost_t *ost_clone(const ost_t *src) {
  ost_t *T = ost_new(src->S);
  if (!T) return NULL;
  T->next_id = src->next_id;
  T->cursor = src->cursor;
  T->pool = src->pool;
  T->pool.r = NULL;
  if (src->pool.cap) {
    T->pool.r = malloc(sizeof *T->pool.r * (size_t)src->pool.cap);
    if (!T->pool.r) goto oom;
    memcpy(T->pool.r, src->pool.r, sizeof *T->pool.r * (size_t)src->pool.cap);
  }
  int m = src->S->m;
  sl_gateway_model_t *gd = &T->gw.m[m];
  const sl_gateway_model_t *gs = &src->gw.m[m];
  gd->head = gs->head, gd->tail = gs->tail, gd->n = gs->n, gd->bytes = gs->bytes;
  for (int i = 0; i < src->nsrv; i++) {
    const osrv_t *a = src->srv[i];
    osrv_t *b = malloc(sizeof *b);
    if (!b) goto oom;
    *b = *a;
    b->rep.pool = &T->pool;
    b->rep.ud = T;
    b->rep.heap = NULL, b->rep.chunks = NULL;
    b->rep.heap_cap = b->rep.chunks_cap = 0;
    // The search's requests name no prompt blocks: its servers' prefix caches stay empty.
    sl_pcache_init(&b->rep.pc);
    b->rep.chain = NULL, b->rep.chain_cap = 0;
    if (srv_append(T, b) < 0) {
      free(b);
      goto oom;
    }
    if (a->rep.heap_cap) {
      if (!(b->rep.heap = malloc(sizeof *b->rep.heap * (size_t)a->rep.heap_cap))) goto oom;
      memcpy(b->rep.heap, a->rep.heap, sizeof *b->rep.heap * (size_t)a->rep.nheap);
      b->rep.heap_cap = a->rep.heap_cap;
    }
    if (a->rep.chunks_cap) {
      if (!(b->rep.chunks = malloc(sizeof *b->rep.chunks * (size_t)a->rep.chunks_cap))) goto oom;
      memcpy(b->rep.chunks, a->rep.chunks, sizeof *b->rep.chunks * (size_t)a->rep.nchunks);
      b->rep.chunks_cap = a->rep.chunks_cap;
    }
    sl_gateway_ep_init(&b->ep, &b->rep, b->id);
    sl_heap_node_init(&b->ev, b->id);
    sl_heap_node_init(&b->grace, b->id);
    if ((!b->draining && sl_gateway_add_endpoint(&T->gw, m, &b->ep) < 0) ||
        sl_heap_set(&T->ev, &b->ev, a->ev.key) < 0 ||
        sl_heap_set(&T->grace, &b->grace, a->grace.key) < 0)
      goto oom;
  }
  return T;
oom:
  ost_free(T);
  return NULL;
}

static void srv_gone(ost_t *T, osrv_t *s) {
  sl_gateway_remove_endpoint(&T->gw, &s->ep);
  sl_heap_set(&T->ev, &s->ev, INFINITY);
  sl_heap_set(&T->grace, &s->grace, INFINITY);
  for (int i = 0; i < T->nsrv; i++)
    if (T->srv[i] == s) {
      memmove(T->srv + i, T->srv + i + 1, sizeof *T->srv * (size_t)(T->nsrv - i - 1));
      T->nsrv--;
      break;
    }
  sl_replica_deinit(&s->rep);
  free(s);
}

// After anything changed a server: refiles its next event; a draining server that has emptied
// goes. Returns 1 when it went.
static int touch(ost_t *T, osrv_t *s) {
  if (s->draining && s->rep.n_running + s->rep.n_waiting == 0) {
    srv_gone(T, s);
    return 1;
  }
  if (sl_heap_set(&T->ev, &s->ev, sl_replica_next_event(&s->rep)) < 0) T->oom = 1;
  return 0;
}

static void dispatch(ost_t *T, sl_replica_t *rep, int32_t id, double now) {
  osrv_t *s = (osrv_t *)((char *)rep - offsetof(osrv_t, rep));
  T->pool.r[id].variant = (uint16_t)T->S->v;
  sl_replica_submit(rep, id, now);
  if (!touch(T, s)) sl_gateway_update(&T->gw, &s->ep);
}

static void pump(ost_t *T, double now) {
  int m = T->S->m;
  while (T->gw.m[m].n > 0) {
    sl_replica_t *rep = sl_gateway_pick(&T->gw, m);
    if (!rep) break;
    dispatch(T, rep, sl_gateway_pop(&T->gw, m), now);
  }
}

// The count of servers taking requests becomes n at `now`: new ones are Ready at once (zero cold
// start); surplus ones, newest first, drain as the world's pods do.
static void scale(ost_t *T, int n, double now) {
  const sl_cluster_t *cl = T->S->cl;
  int live = 0;
  for (int i = 0; i < T->nsrv; i++) live += !T->srv[i]->draining;
  for (; live < n; live++) {
    osrv_t *s = calloc(1, sizeof *s);
    if (!s || srv_append(T, s) < 0) {
      free(s);
      T->oom = 1;
      return;
    }
    s->id = T->next_id++;
    sl_replica_init(&s->rep, &cl->vx[T->S->v].engine, &T->pool, trial_done, T);
    sl_gateway_ep_init(&s->ep, &s->rep, s->id);
    sl_heap_node_init(&s->ev, s->id);
    sl_heap_node_init(&s->grace, s->id);
    if (sl_gateway_add_endpoint(&T->gw, T->S->m, &s->ep) < 0) T->oom = 1;
  }
  for (int i = T->nsrv - 1; i >= 0 && live > n; i--) {
    osrv_t *s = T->srv[i];
    if (s->draining) continue;
    live--;
    s->draining = 1;
    sl_gateway_remove_endpoint(&T->gw, &s->ep);
    if (s->rep.n_running + s->rep.n_waiting == 0)
      srv_gone(T, s);
    else
      sl_heap_set(&T->grace, &s->grace, now + cl->drain_grace);
  }
  pump(T, now);
}

static void arrive(ost_t *T, const oreq_t *r) {
  search_t *S = T->S;
  int32_t id = sl_inflight_alloc(&T->pool);
  if (id < 0) {
    T->oom = 1;
    return;
  }
  sl_inflight_t *q = &T->pool.r[id];
  q->t_arrive = r->t;
  q->in = r->in;
  q->out = r->out;
  q->model = (uint16_t)S->m;
  if (bin_of(S, r->t) == T->bin) T->n++, T->open++;
  sl_replica_t *rep = T->gw.m[S->m].n == 0 ? sl_gateway_pick(&T->gw, S->m) : NULL;
  if (rep)
    dispatch(T, rep, id, r->t);
  else
    sl_gateway_enqueue(&T->gw, S->m, id);
}

// Runs T's events before t_stop, in the world's order at equal times (server steps, drain ends,
// queue timeouts, arrivals); with until_closed, stops once the bin's requests have all ended.
static void run(ost_t *T, double t_stop, int until_closed) {
  search_t *S = T->S;
  int m = S->m;
  for (;;) {
    if (until_closed && T->open == 0) break;
    const oreq_t *a = req_at(S, T->cursor);
    double ta = a ? a->t : INFINITY;
    double ts = sl_heap_top_key(&T->ev), tg = sl_heap_top_key(&T->grace);
    double td = sl_gateway_next_drop(&T->gw, NULL);
    double t = fmin(fmin(ts, tg), fmin(td, ta));
    if (!(t < t_stop)) break;
    if (t == ts) {
      osrv_t *s = SRV_OF(sl_heap_top(&T->ev), ev);
      sl_replica_advance(&s->rep);
      if (s->rep.oom) T->oom = 1;
      if (!touch(T, s)) sl_gateway_update(&T->gw, &s->ep);
      if (T->gw.m[m].n > 0) pump(T, t);
    } else if (t == tg) {
      osrv_t *s = SRV_OF(sl_heap_top(&T->grace), grace);
      sl_heap_set(&T->grace, &s->grace, INFINITY);
      sl_replica_cut(&s->rep, t);
      srv_gone(T, s);
    } else if (t == td) {
      int32_t id = sl_gateway_pop(&T->gw, m);
      account(T, &T->pool.r[id], 0, t);
      sl_inflight_release(&T->pool, id);
    } else {
      T->cursor++;
      arrive(T, a);
    }
    if (T->oom || S->failed) break;
  }
}

typedef struct {
  uint64_t n, met, infeasible;
} tally_t;

static int meets(const sl_oracle_t *o, uint64_t n, uint64_t met, uint64_t infeasible) {
  return n == 0 || (double)(met + infeasible) >= o->target * (double)n - 1e-9;
}

// One candidate: bin i from state S0 with n servers. *next (when not NULL) receives the state at
// the bin's end. Returns 1 when the bin meets the target, 0 when not, < 0 on an error.
static int trial(search_t *S, const ost_t *S0, long i, int n, ost_t **next, tally_t *tl) {
  S->o->trials++;
  ost_t *T = ost_clone(S0);
  if (!T) return SL_ENOMEM;
  T->bin = i;
  double t0 = (double)i * S->bin_s, t1 = t0 + S->bin_s;
  scale(T, n, t0);
  run(T, t1, 0);
  if (next && !T->oom && !S->failed && !(*next = ost_clone(T))) T->oom = 1;
  if (!T->oom && !S->failed) run(T, INFINITY, 1);
  int rc = T->oom ? SL_ENOMEM : S->failed ? S->ferr.code : SL_OK;
  *tl = (tally_t){T->n, T->met, T->infeasible};
  ost_free(T);
  if (rc < 0 && next) ost_free(*next), *next = NULL;
  return rc < 0 ? rc : meets(S->o, tl->n, tl->met, tl->infeasible);
}

// The fewest servers for bin i from state *cur, which becomes the state at the bin's end.
static int search_bin(search_t *S, ost_t **cur, long i, int start, int lo_bound, int hi_bound,
                      int *chosen, int *capped) {
  // Candidates found to pass keep their end state; the fewest wins.
  ost_t *best = NULL;
  int best_n = -1, rc = 0;
  tally_t tl;
#define TRY_N(k)                                                                                   \
  do {                                                                                             \
    ost_t *nx = NULL;                                                                              \
    rc = trial(S, *cur, i, (k), &nx, &tl);                                                         \
    if (rc < 0) goto done;                                                                         \
    if (rc == 1 && (best_n < 0 || (k) < best_n)) {                                                 \
      ost_free(best);                                                                              \
      best = nx, best_n = (k);                                                                     \
    } else {                                                                                       \
      ost_free(nx);                                                                                \
    }                                                                                              \
  } while (0)
  int n = start < lo_bound ? lo_bound : start > hi_bound ? hi_bound : start;
  int fail = lo_bound - 1; // the most known to fail
  TRY_N(n);
  if (rc == 1) {
    // Down: gallop until a count fails, then bisect.
    int step = 1;
    while (best_n - step >= lo_bound) {
      int k = best_n - step;
      TRY_N(k);
      if (rc == 0) {
        fail = k;
        break;
      }
      step *= 2;
    }
  } else {
    // Up: gallop until a count passes (or the bound), then bisect.
    fail = n;
    int step = 1;
    while (best_n < 0 && fail < hi_bound) {
      int k = fail + step > hi_bound ? hi_bound : fail + step;
      TRY_N(k);
      if (rc == 0) fail = k;
      step *= 2;
    }
  }
  while (best_n >= 0 && best_n - fail > 1) {
    int k = fail + (best_n - fail) / 2;
    TRY_N(k);
    if (rc == 0) fail = k;
  }
  *capped = 0;
  if (best_n < 0) {
    // No count up to the bound meets the target: the bound, reported.
    *capped = 1;
    ost_t *nx = NULL;
    if ((rc = trial(S, *cur, i, hi_bound, &nx, &tl)) < 0) goto done;
    best = nx, best_n = hi_bound;
  }
  ost_free(*cur);
  *cur = best;
  best = NULL;
  *chosen = best_n;
  rc = SL_OK;
done:
#undef TRY_N
  ost_free(best);
  return rc;
}

// The schedule of model m on variant v: counts per bin into *sched (grown as bins appear).
static int search_variant(sl_sim_t *sim, sl_oracle_t *o, int m, int v, int **sched, size_t *nb,
                          size_t *capped, sl_err_t *err) {
  const sl_sim_opts_t *so = &sim->o;
  const sl_cluster_t *cl = so->cluster;
  const sl_variant_t *d = &cl->cfg.variants[v];
  search_t S = {.o = o, .sim = sim, .cl = cl, .m = m, .v = v, .bin_s = o->bin_s};
  sl_trace_opts_t to;
  sl_sim_trace_opts(so, m, sim->rate_scale, &to);
  int rc = sl_trace_open(sl_sim_model_trace(so, m), &to, &S.tr, err);
  if (rc < 0) return rc;
  int hi = d->max;
  for (int a = 0; a < cl->cfg.naccels; a++)
    if (!strcmp(cl->cfg.accels[a].type, d->accelerator) && cl->cfg.accels[a].count > 0 &&
        cl->cfg.accels[a].count / d->gpus_per_replica < hi)
      hi = cl->cfg.accels[a].count / d->gpus_per_replica;
  int lo = d->min < hi ? d->min : hi;
  size_t min_bins = so->duration > 0 ? (size_t)ceil(so->duration / o->bin_s - 1e-9) : 0;
  ost_t *cur = ost_new(&S);
  size_t cap = 0;
  *nb = 0;
  *sched = NULL;
  *capped = 0;
  int prev = lo;
  if (!cur) rc = SL_ENOMEM;
  for (long i = 0; rc == 0; i++) {
    const oreq_t *next = req_at(&S, cur->cursor);
    if (S.failed) break;
    // Done once the trace is over (bins past the last arrival, up to a set duration, hold the
    // lower bound).
    if (!next && (size_t)i >= min_bins) break;
    int n = prev, c = 0;
    if (next || cur->nsrv) {
      if ((rc = search_bin(&S, &cur, i, prev, lo, hi, &n, &c)) < 0) break;
    } else {
      n = lo;
    }
    if ((size_t)i >= cap) {
      size_t nc = cap ? cap * 2 : 256;
      int *p = realloc(*sched, sizeof *p * nc);
      if (!p) {
        rc = SL_ENOMEM;
        break;
      }
      *sched = p;
      cap = nc;
    }
    (*sched)[i] = n;
    *nb = (size_t)i + 1;
    *capped += (size_t)c;
    prev = n;
    req_trim(&S, cur->cursor);
  }
  if (S.failed && rc == 0)
    rc = sl_err(err, S.ferr.code, "%s", S.ferr.msg);
  else if (rc == SL_ENOMEM)
    rc = sl_err(err, SL_ENOMEM, "out of memory");
  ost_free(cur);
  sl_trace_free(S.tr);
  free(S.req);
  if (rc < 0) free(*sched), *sched = NULL;
  return rc;
}

void sl_oracle_deinit(sl_oracle_t *o) {
  free(o->variant_of);
  free(o->replicas);
  free(o->peak_gpus_by_type);
  free(o->bin_count), free(o->bin_met), free(o->bin_infeasible);
  sl_map_deinit(&o->feasible);
  memset(o, 0, sizeof *o);
}

static void peaks(sl_oracle_t *o, const sl_cluster_t *cl) {
  o->peak_replicas = o->peak_gpus = 0;
  int na = cl->cfg.naccels;
  for (int a = 0; a < na; a++) o->peak_gpus_by_type[a] = 0;
  for (size_t i = 0; i < o->nbins; i++) {
    int reps = 0, gpus = 0;
    int by[64] = {0};
    for (int v = 0; v < o->nv; v++) {
      int n = o->replicas[i * (size_t)o->nv + (size_t)v];
      const sl_variant_t *d = &cl->cfg.variants[v];
      reps += n;
      gpus += n * d->gpus_per_replica;
      for (int a = 0; a < na && a < 64; a++)
        if (!strcmp(cl->cfg.accels[a].type, d->accelerator)) by[a] += n * d->gpus_per_replica;
    }
    if (reps > o->peak_replicas) o->peak_replicas = reps;
    if (gpus > o->peak_gpus) o->peak_gpus = gpus;
    for (int a = 0; a < na && a < 64; a++)
      if (by[a] > o->peak_gpus_by_type[a]) o->peak_gpus_by_type[a] = by[a];
  }
}

int sl_oracle_search(sl_sim_t *s, double target, sl_oracle_t *o, sl_err_t *err) {
  const sl_cluster_t *cl = s->o.cluster;
  memset(o, 0, sizeof *o);
  sl_map_init(&o->feasible);
  if (!(target > 0 && target <= 1))
    return sl_err(err, SL_EINVAL, "the oracle's target share must be in (0, 1], got %g", target);
  o->bin_s = s->o.bin_s;
  o->target = target;
  o->nv = cl->cfg.nvariants;
  o->nm = cl->nmodels;
  o->variant_of = calloc((size_t)(o->nm ? o->nm : 1), sizeof *o->variant_of);
  o->peak_gpus_by_type = calloc((size_t)(cl->cfg.naccels ? cl->cfg.naccels : 1), sizeof(int));
  int **per = calloc((size_t)(o->nm ? o->nm : 1), sizeof *per);
  size_t *per_n = calloc((size_t)(o->nm ? o->nm : 1), sizeof *per_n);
  int rc = SL_OK;
  if (!o->variant_of || !o->peak_gpus_by_type || !per || !per_n) {
    rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto done;
  }
  for (int m = 0; m < o->nm; m++) {
    o->variant_of[m] = -1;
    double best_cost = INFINITY;
    size_t kept_capped = 0;
    for (int v = 0; v < o->nv; v++) {
      const sl_variant_t *d = &cl->cfg.variants[v];
      if (cl->vx[v].model != m || d->max == 0) continue;
      int *sched = NULL;
      size_t nb = 0, capped = 0;
      if ((rc = search_variant(s, o, m, v, &sched, &nb, &capped, err)) < 0) goto done;
      double cost = 0;
      for (size_t i = 0; i < nb; i++) cost += sched[i] * d->cost;
      if (o->variant_of[m] < 0 || cost < best_cost) {
        free(per[m]);
        per[m] = sched;
        per_n[m] = nb;
        o->variant_of[m] = v;
        best_cost = cost;
        kept_capped = capped;
      } else {
        free(sched);
      }
    }
    if (per_n[m] > o->nbins) o->nbins = per_n[m];
    o->capped_bins += kept_capped;
  }
  o->replicas = calloc(o->nbins * (size_t)o->nv + 1, sizeof *o->replicas);
  if (!o->replicas) {
    rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto done;
  }
  for (int m = 0; m < o->nm; m++) {
    int v = o->variant_of[m];
    if (v < 0) continue;
    int lo = cl->cfg.variants[v].min;
    for (size_t i = 0; i < o->nbins; i++)
      o->replicas[i * (size_t)o->nv + (size_t)v] = i < per_n[m] ? per[m][i] : lo;
  }
  peaks(o, cl);
done:
  for (int m = 0; per && m < o->nm; m++) free(per[m]);
  free(per), free(per_n);
  if (rc < 0) sl_oracle_deinit(o);
  return rc;
}

// ---- the replay
// -----------------------------------------------------------------------------------

typedef struct {
  sl_oracle_t *o;
  const sl_cluster_t *cl;
} replay_t;

static void replay_request(void *ud, const sl_sim_request_t *r) {
  replay_t *P = ud;
  sl_oracle_t *o = P->o;
  size_t i = (size_t)(r->t_arrive / o->bin_s);
  if (i >= o->cap_bins) i = o->cap_bins - 1;
  size_t k = i * (size_t)o->nm + (size_t)r->model;
  o->bin_count[k]++;
  o->requests++;
  if (r->outcome == SL_SIM_MET) {
    o->bin_met[k]++;
    return;
  }
  int v = r->variant >= 0 ? r->variant : o->variant_of[r->model];
  if (v >= 0 && !sl_oracle_feasible(o, P->cl, v, r->in, r->out)) {
    o->bin_infeasible[k]++;
    o->infeasible++;
  }
}

int sl_oracle_bin_ok(const sl_oracle_t *o, size_t i, int m) {
  if (i >= o->cap_bins) return 1;
  size_t k = i * (size_t)o->nm + (size_t)m;
  return meets(o, o->bin_count[k], o->bin_met[k], o->bin_infeasible[k]);
}

int sl_oracle_replay(sl_sim_t *s, sl_oracle_t *o, const int *sched, sl_sim_result_t *res,
                     sl_err_t *err) {
  const sl_cluster_t *cl = s->o.cluster;
  if (!sched) sched = o->replicas;
  memset(res, 0, sizeof *res);
  snprintf(res->policy, sizeof res->policy, "oracle");
  res->period = res->scrape_interval = res->window = o->bin_s;
  double t_wall = wall_now();
  // Per-bin counts, sized for the schedule and a bin beyond (the last arrival's own bin).
  size_t nb = o->nbins + 1, per = nb * (size_t)o->nm;
  free(o->bin_count), free(o->bin_met), free(o->bin_infeasible);
  o->bin_count = calloc(per, sizeof *o->bin_count);
  o->bin_met = calloc(per, sizeof *o->bin_met);
  o->bin_infeasible = calloc(per, sizeof *o->bin_infeasible);
  o->cap_bins = nb;
  o->requests = o->infeasible = 0;
  sl_store_t *store = sl_store_new(64);
  if (!o->bin_count || !o->bin_met || !o->bin_infeasible || !store) {
    sl_store_free(store);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  replay_t P = {o, cl};
  sl_sim_world_cfg_t wc = {.warm = sched, .zero_start = 1, .on_request = replay_request, .ud = &P};
  sl_sim_world_t *w = NULL;
  int rc = sl_sim_world_new_cfg(s, store, o->bin_s, 0, &wc, res, &w, err);
  if (rc == 0) {
    sl_source_t *src = sl_sim_world_source(w);
    sl_actuator_t *act = sl_sim_world_actuator(w);
    for (size_t k = 1;; k++) {
      double t = (double)k * o->bin_s;
      if ((rc = src->advance(src, t, err)) <= 0) break;
      if (k >= o->nbins) continue;
      for (int v = 0; v < o->nv && rc >= 0; v++) {
        int from = sched[(k - 1) * (size_t)o->nv + (size_t)v], to = sched[k * (size_t)o->nv + v];
        if (from != to)
          rc = act->scale(act, &cl->cfg.variants[v], from, to, "oracle schedule", t, err);
      }
      if (rc < 0) break;
    }
    if (rc == 0) sl_sim_world_finish(w, err);
  }
  sl_sim_world_free(w);
  sl_store_free(store);
  res->wall_s = wall_now() - t_wall;
  s->total_requests += res->requests;
  s->total_wall += res->wall_s;
  if (rc < 0) sl_record_deinit(&res->rec);
  return rc < 0 ? rc : SL_OK;
}

int sl_oracle_run(sl_sim_t *s, double target, int max_rounds, sl_oracle_t *o, sl_sim_result_t *res,
                  sl_err_t *err) {
  const sl_cluster_t *cl = s->o.cluster;
  int rc = sl_oracle_search(s, target, o, err);
  if (rc < 0) return rc;
  if (max_rounds < 1) max_rounds = 1;
  for (o->rounds = 1;; o->rounds++) {
    if ((rc = sl_oracle_replay(s, o, NULL, res, err)) < 0) break;
    o->short_bins = 0;
    int bumped = 0;
    for (size_t i = 0; i < o->nbins; i++)
      for (int m = 0; m < o->nm; m++) {
        int v = o->variant_of[m];
        if (v < 0 || sl_oracle_bin_ok(o, i, m)) continue;
        o->short_bins++;
        int *n = &o->replicas[i * (size_t)o->nv + (size_t)v];
        if (o->rounds < max_rounds && *n < cl->cfg.variants[v].max) (*n)++, bumped = 1;
      }
    if (!o->short_bins || !bumped || o->rounds >= max_rounds) break;
    sl_sim_result_deinit(res);
  }
  o->infeasible_bins = 0;
  for (size_t i = 0; i < o->cap_bins; i++)
    for (int m = 0; m < o->nm; m++)
      if (o->bin_infeasible[i * (size_t)o->nm + (size_t)m]) {
        o->infeasible_bins++;
        break;
      }
  peaks(o, cl);
  if (rc < 0) sl_oracle_deinit(o);
  return rc;
}
