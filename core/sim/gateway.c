// Simulated gateway. See gateway.h.
#include "core/sim/gateway.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/err.h"

int sl_gateway_init(sl_gateway_t *g, int nmodels, sl_inflight_pool_t *pool, double queue_threshold,
                    double kv_threshold, double drop_timeout) {
  memset(g, 0, sizeof *g);
  g->pool = pool;
  g->nm = nmodels;
  g->queue_threshold = queue_threshold;
  g->kv_threshold = kv_threshold;
  g->drop_timeout = drop_timeout;
  g->m = calloc((size_t)(nmodels ? nmodels : 1), sizeof *g->m);
  if (!g->m) return SL_ENOMEM;
  for (int i = 0; i < nmodels; i++) {
    g->m[i].head = g->m[i].tail = -1;
    sl_heap_init(&g->m[i].eps);
    sl_promhist_init(&g->m[i].qdur, SL_PH_QUEUE_TIME);
  }
  return SL_OK;
}

void sl_gateway_deinit(sl_gateway_t *g) {
  for (int i = 0; i < g->nm; i++) {
    g->m[i].eps.n = 0; // the nodes belong to the endpoints' owners
    sl_heap_deinit(&g->m[i].eps);
  }
  free(g->m);
  free(g->chain);
  memset(g, 0, sizeof *g);
}

#define EP_OF(n) ((sl_gateway_ep_t *)((char *)(n)-offsetof(sl_gateway_ep_t, node)))

// KV occupancy in whole percent: routing and saturation read it at this grain, so a server's
// endpoint is refiled when its occupancy crosses a percent, not at every decode step.
static int kv_pct(const sl_replica_t *r) {
  return (int)floor(sl_replica_kv(r) * 100 + 1e-9);
}

static int saturated(const sl_gateway_t *g, int waiting, int kv) {
  return waiting >= g->queue_threshold || kv >= g->kv_threshold * 100 - 1e-9;
}

// Lower is less loaded: waiting and KV occupancy against their saturation thresholds, plus the
// running batch against its limit.
static double score(const sl_gateway_t *g, sl_gateway_ep_t *ep) {
  const sl_replica_t *r = ep->rep;
  ep->waiting = r->n_waiting;
  ep->running = r->n_running;
  ep->kv_pct = kv_pct(r);
  double s = ep->waiting / g->queue_threshold + ep->kv_pct / (100 * g->kv_threshold) +
             (double)ep->running / r->cfg->max_num_seqs;
  return saturated(g, ep->waiting, ep->kv_pct) ? SL_GATEWAY_SATURATED + s : s;
}

void sl_gateway_ep_init(sl_gateway_ep_t *ep, sl_replica_t *rep, uint64_t tie) {
  ep->rep = rep;
  ep->model = -1;
  sl_heap_node_init(&ep->node, tie);
}

int sl_gateway_add_endpoint(sl_gateway_t *g, int model, sl_gateway_ep_t *ep) {
  if (ep->model >= 0) return SL_OK;
  int rc = sl_heap_set(&g->m[model].eps, &ep->node, score(g, ep));
  if (rc == 0) ep->model = model;
  return rc;
}

void sl_gateway_remove_endpoint(sl_gateway_t *g, sl_gateway_ep_t *ep) {
  if (ep->model < 0) return;
  sl_heap_set(&g->m[ep->model].eps, &ep->node, INFINITY);
  ep->model = -1;
}

void sl_gateway_update(sl_gateway_t *g, sl_gateway_ep_t *ep) {
  if (ep->model < 0) return;
  const sl_replica_t *r = ep->rep;
  if (r->n_waiting == ep->waiting && r->n_running == ep->running && kv_pct(r) == ep->kv_pct) return;
  sl_heap_set(&g->m[ep->model].eps, &ep->node, score(g, ep));
}

sl_replica_t *sl_gateway_pick(const sl_gateway_t *g, int model) {
  const sl_heap_node_t *top = sl_heap_top(&g->m[model].eps);
  return top && top->key < SL_GATEWAY_SATURATED ? EP_OF(top)->rep : NULL;
}

void sl_gateway_set_routing(sl_gateway_t *g, const sl_gateway_routing_t *rt, uint64_t seed) {
  g->rt = *rt;
  sl_rng_seed(&g->rng, seed ^ 0x6570705f73636f72ULL);
}

// The request's full prompt blocks into g->chain; how many (0 when it names none).
static uint32_t request_chain(sl_gateway_t *g, const sl_gateway_model_t *m,
                              const sl_inflight_t *q) {
  const sl_blocks_t *b = m->blocks;
  if (!b || q->block == SL_BLOCK_NONE) return 0;
  uint32_t n = sl_blocks_depth(b, q->block), full = q->in / b->tokens;
  if (full < n) n = full;
  if (n > g->chain_cap) {
    uint32_t cap = g->chain_cap ? g->chain_cap : 64;
    while (cap < n) cap *= 2;
    uint32_t *c = realloc(g->chain, sizeof *c * cap);
    if (!c) return 0; // scored as if it named no blocks
    g->chain = c;
    g->chain_cap = cap;
  }
  sl_blocks_chain(b, q->block, n, g->chain);
  return n;
}

// The scorer mix over every unsaturated endpoint, as the EPP's scheduling cycle scores every pod.
sl_replica_t *sl_gateway_pick_mix(sl_gateway_t *g, int model, int32_t id) {
  sl_gateway_model_t *m = &g->m[model];
  // The heap's top is the least loaded: saturated there means saturated everywhere.
  if (!(sl_heap_top_key(&m->eps) < SL_GATEWAY_SATURATED)) return NULL;
  int qmin = INT32_MAX, qmax = INT32_MIN;
  for (int i = 0; i < m->eps.n; i++) {
    const sl_gateway_ep_t *ep = EP_OF(m->eps.a[i]);
    if (ep->node.key >= SL_GATEWAY_SATURATED) continue;
    int w = ep->rep->n_waiting;
    if (w < qmin) qmin = w;
    if (w > qmax) qmax = w;
  }
  uint32_t n = request_chain(g, m, &g->pool->r[id]);
  const sl_gateway_routing_t *rt = &g->rt;
  sl_replica_t *best = NULL;
  double best_s = -INFINITY;
  int ties = 0;
  for (int i = 0; i < m->eps.n; i++) {
    const sl_gateway_ep_t *ep = EP_OF(m->eps.a[i]);
    if (ep->node.key >= SL_GATEWAY_SATURATED) continue;
    sl_replica_t *r = ep->rep;
    double sq = qmax == qmin ? 1 : (double)(qmax - r->n_waiting) / (qmax - qmin);
    double sk = 1 - fmin(1, sl_replica_kv(r));
    double sp = n ? (double)sl_replica_cached_blocks(r, g->chain, n) / n : 0;
    double s = rt->w_prefix * sp + rt->w_kv * sk + rt->w_queue * sq;
    if (s > best_s) {
      best = r, best_s = s, ties = 1;
    } else if (s == best_s && sl_rng_uniform(&g->rng) * ++ties < 1) {
      best = r; // each of the tied endpoints equally likely
    }
  }
  return best;
}

double sl_gateway_saturation(const sl_gateway_t *g, int model) {
  const sl_gateway_model_t *m = &g->m[model];
  if (m->eps.n == 0) return m->n > 0 ? 1 : 0;
  double s = 0;
  for (int i = 0; i < m->eps.n; i++) {
    const sl_replica_t *r = EP_OF(m->eps.a[i])->rep;
    s += fmax(r->n_waiting / g->queue_threshold, kv_pct(r) / (100 * g->kv_threshold));
  }
  return s / m->eps.n;
}

void sl_gateway_enqueue(sl_gateway_t *g, int model, int32_t id) {
  sl_gateway_model_t *m = &g->m[model];
  sl_inflight_t *q = &g->pool->r[id];
  q->state = SL_INFLIGHT_QUEUED;
  q->next = -1;
  q->prev = m->tail;
  if (m->tail >= 0)
    g->pool->r[m->tail].next = id;
  else
    m->head = id;
  m->tail = id;
  m->n++;
  m->bytes += q->in * SL_GATEWAY_BYTES_PER_TOKEN;
}

int32_t sl_gateway_pop(sl_gateway_t *g, int model) {
  sl_gateway_model_t *m = &g->m[model];
  int32_t id = m->head;
  if (id < 0) return -1;
  sl_inflight_t *q = &g->pool->r[id];
  m->head = q->next;
  if (m->head >= 0)
    g->pool->r[m->head].prev = -1;
  else
    m->tail = -1;
  q->prev = q->next = -1;
  m->n--;
  m->bytes -= q->in * SL_GATEWAY_BYTES_PER_TOKEN;
  if (m->n == 0) m->bytes = 0;
  return id;
}

double sl_gateway_next_drop(const sl_gateway_t *g, int *model) {
  double t = INFINITY;
  for (int i = 0; i < g->nm; i++) {
    if (g->m[i].head < 0) continue;
    double d = g->pool->r[g->m[i].head].t_arrive + g->drop_timeout;
    if (d < t) {
      t = d;
      if (model) *model = i;
    }
  }
  return t;
}
