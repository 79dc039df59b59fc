// Simulated gateway. See gateway.h.
#include "core/sim/gateway.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/err.h"

int sl_gateway_init(sl_gateway_t *g, int nmodels, sl_inflight_pool_t *pool,
                    double queue_threshold, double kv_threshold, double drop_timeout) {
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
    sl_promhist_init(&g->m[i].qdur, SL_PH_QUEUE_TIME);
  }
  return SL_OK;
}

void sl_gateway_deinit(sl_gateway_t *g) {
  for (int i = 0; i < g->nm; i++) free(g->m[i].ep);
  free(g->m);
  memset(g, 0, sizeof *g);
}

int sl_gateway_add_endpoint(sl_gateway_t *g, int model, sl_replica_t *rep, int *slot) {
  sl_gateway_model_t *m = &g->m[model];
  if (m->nep == m->cap) {
    int cap = m->cap ? m->cap * 2 : 8;
    sl_gateway_ep_t *e = realloc(m->ep, sizeof *e * (size_t)cap);
    if (!e) return SL_ENOMEM;
    m->ep = e;
    m->cap = cap;
  }
  *slot = m->nep;
  m->ep[m->nep++] = (sl_gateway_ep_t){rep, slot};
  return SL_OK;
}

void sl_gateway_remove_endpoint(sl_gateway_t *g, int model, int *slot) {
  sl_gateway_model_t *m = &g->m[model];
  int i = *slot;
  if (i < 0 || i >= m->nep) return;
  // Keep the order of the others (routing ties go to the oldest endpoint).
  memmove(m->ep + i, m->ep + i + 1, sizeof *m->ep * (size_t)(m->nep - i - 1));
  m->nep--;
  for (int k = i; k < m->nep; k++) *m->ep[k].slot = k;
  *slot = -1;
}

int sl_gateway_saturated(const sl_gateway_t *g, const sl_replica_t *r) {
  return r->n_waiting >= g->queue_threshold || sl_replica_kv(r) >= g->kv_threshold;
}

sl_replica_t *sl_gateway_pick(const sl_gateway_t *g, int model) {
  const sl_gateway_model_t *m = &g->m[model];
  sl_replica_t *best = NULL;
  double best_score = INFINITY;
  for (int i = 0; i < m->nep; i++) {
    sl_replica_t *r = m->ep[i].rep;
    if (sl_gateway_saturated(g, r)) continue;
    double score = r->n_waiting / g->queue_threshold + sl_replica_kv(r) / g->kv_threshold +
                   (double)r->n_running / r->cfg->max_num_seqs;
    if (score < best_score) best = r, best_score = score;
  }
  return best;
}

double sl_gateway_saturation(const sl_gateway_t *g, int model) {
  const sl_gateway_model_t *m = &g->m[model];
  if (m->nep == 0) return m->n > 0 ? 1 : 0;
  double s = 0;
  for (int i = 0; i < m->nep; i++) {
    const sl_replica_t *r = m->ep[i].rep;
    s += fmax(r->n_waiting / g->queue_threshold, sl_replica_kv(r) / g->kv_threshold);
  }
  return s / m->nep;
}

void sl_gateway_enqueue(sl_gateway_t *g, int model, int32_t id) {
  sl_gateway_model_t *m = &g->m[model];
  sl_inflight_t *q = &g->pool->r[id];
  q->state = SL_INFLIGHT_QUEUED;
  q->next = -1;
  q->prev = m->tail;
  if (m->tail >= 0) g->pool->r[m->tail].next = id;
  else m->head = id;
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
  if (m->head >= 0) g->pool->r[m->head].prev = -1;
  else m->tail = -1;
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
