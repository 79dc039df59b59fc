// Scrape and delay line. See probe.h.
#include "core/sim/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { PG_WAITING, PG_RUNNING, PG_KV, PG_KV_CAP, PG__N };
enum { PC_REQUESTS, PC_PROMPT, PC_GEN, PC_PREEMPT, PC__N };

struct sl_probe_pod {
  char name[96];
  double g[PG__N], c[PC__N];
  double cum[SL_RH__COUNT][SL_PROMHIST_MAXB];
  double hsum[SL_RH__COUNT], hcount[SL_RH__COUNT];
  const double *bounds[SL_RH__COUNT];
  int nb[SL_RH__COUNT];
};

enum { GG_QUEUE, GG_BYTES, GG_RUNNING, GG_SAT, GG_TOKENS, GG_READY, GG__N };

struct sl_probe_gw {
  double g[GG__N];
  double requests, dropped;
  double cum[SL_PROMHIST_MAXB], sum, count;
  const double *bounds;
  int nb;
};

static const sl_metric_t pod_gauge[PG__N] = {SL_M_WAITING, SL_M_RUNNING, SL_M_KV_USAGE,
                                             SL_M_KV_CAPACITY_TOKENS};
static const sl_metric_t pod_counter[PC__N] = {SL_M_REQUESTS, SL_M_PROMPT_TOKENS,
                                               SL_M_GENERATION_TOKENS, SL_M_PREEMPTIONS};
static const sl_metric_t pod_hist[SL_RH__COUNT] = {SL_M_TTFT, SL_M_ITL, SL_M_E2E,
                                                   SL_M_REQ_PROMPT_TOKENS, SL_M_REQ_GEN_TOKENS};
static const sl_metric_t gw_gauge[GG__N] = {SL_M_GW_QUEUE_SIZE,      SL_M_GW_QUEUE_BYTES,
                                            SL_M_GW_RUNNING,         SL_M_GW_SATURATION,
                                            SL_M_GW_INFLIGHT_TOKENS, SL_M_GW_READY_ENDPOINTS};

int sl_probe_init(sl_probe_t *p, sl_store_t *store, const sl_cluster_t *cl, double interval,
                  double lag, double start, sl_err_t *err) {
  memset(p, 0, sizeof *p);
  if (!(interval > 0)) return sl_err(err, SL_EINVAL, "scrape_interval: must be > 0");
  if (!(lag >= 0)) return sl_err(err, SL_EINVAL, "lag: must be >= 0");
  p->store = store;
  p->cl = cl;
  p->interval = interval;
  p->lag = lag;
  p->next_scrape = start;
  // Snapshots in flight at once: one per scrape within the lag, plus the one being taken.
  p->cap = (int)ceil(lag / interval) + 2;
  p->ring = calloc((size_t)p->cap, sizeof *p->ring);
  if (!p->ring) return sl_err(err, SL_ENOMEM, "out of memory");
  for (int i = 0; i < p->cap; i++) {
    p->ring[i].gw = calloc((size_t)cl->nmodels, sizeof *p->ring[i].gw);
    if (!p->ring[i].gw) {
      sl_probe_deinit(p);
      return sl_err(err, SL_ENOMEM, "out of memory");
    }
  }
  return SL_OK;
}

void sl_probe_deinit(sl_probe_t *p) {
  for (int i = 0; p->ring && i < p->cap; i++) {
    free(p->ring[i].pods);
    free(p->ring[i].gw);
  }
  free(p->ring);
  memset(p, 0, sizeof *p);
}

double sl_probe_next(const sl_probe_t *p) {
  double t = p->next_scrape;
  if (p->len > 0) {
    double d = p->ring[(p->head - p->len + p->cap) % p->cap].t + p->lag;
    if (d < t) t = d;
  }
  return t;
}

static void read_pod(sl_probe_pod_t *s, const sl_simpod_t *pod, double now) {
  const sl_replica_t *r = &pod->rep;
  memcpy(s->name, pod->name, sizeof s->name);
  sl_replica_gauges_t g;
  sl_replica_peek(r, now, &g);
  s->g[PG_WAITING] = g.waiting;
  s->g[PG_RUNNING] = g.running;
  s->g[PG_KV] = g.kv_usage;
  s->g[PG_KV_CAP] = r->cfg->kv_capacity;
  s->c[PC_REQUESTS] = g.requests;
  s->c[PC_PROMPT] = g.prompt_tokens;
  s->c[PC_GEN] = g.gen_tokens;
  s->c[PC_PREEMPT] = g.preemptions;
  for (int k = 0; k < SL_RH__COUNT; k++) {
    sl_promhist_cumulative(&r->h[k], s->cum[k]);
    s->hsum[k] = r->h[k].sum;
    s->hcount[k] = r->h[k].count;
    s->bounds[k] = r->h[k].bounds;
    s->nb[k] = r->h[k].nb;
  }
}

static int scrape(sl_probe_t *p, double now, const sl_fleet_t *f, const sl_gateway_t *g,
                  sl_err_t *err) {
  sl_probe_snap_t *s = &p->ring[p->head];
  int n = 0;
  for (int vi = 0; vi < f->nv; vi++) n += f->v[vi].n[SL_POD_READY] + f->v[vi].n[SL_POD_DRAINING];
  if (n > s->cap) {
    int cap = n + 8;
    sl_probe_pod_t *pods = realloc(s->pods, sizeof *pods * (size_t)cap);
    if (!pods) return sl_err(err, SL_ENOMEM, "out of memory");
    s->pods = pods;
    s->cap = cap;
  }
  s->t = now;
  s->npods = 0;
  for (int vi = 0; vi < f->nv; vi++)
    for (int k = 0; k < f->v[vi].npods; k++) {
      const sl_simpod_t *pod = f->v[vi].pods[k];
      if (pod->phase == SL_POD_READY || pod->phase == SL_POD_DRAINING)
        read_pod(&s->pods[s->npods++], pod, now);
    }
  for (int mi = 0; mi < g->nm; mi++) {
    const sl_gateway_model_t *m = &g->m[mi];
    sl_probe_gw_t *o = &s->gw[mi];
    o->g[GG_QUEUE] = m->n;
    o->g[GG_BYTES] = m->bytes;
    o->g[GG_RUNNING] = m->inflight;
    o->g[GG_SAT] = sl_gateway_saturation(g, mi);
    o->g[GG_TOKENS] = m->inflight_tokens;
    o->g[GG_READY] = m->eps.n;
    o->requests = m->requests;
    o->dropped = m->dropped;
    sl_promhist_cumulative(&m->qdur, o->cum);
    o->sum = m->qdur.sum;
    o->count = m->qdur.count;
    o->bounds = m->qdur.bounds;
    o->nb = m->qdur.nb;
  }
  p->head = (p->head + 1) % p->cap;
  if (p->len < p->cap) p->len++;
  p->scrapes++;
  return SL_OK;
}

// Samples are stamped with their delivery time: a policy reading windows at time T then sees
// exactly what a query made `lag` seconds earlier returned (a cache, a slow pipeline), rather than
// windows whose newest `lag` seconds are empty.
static int deliver(sl_probe_t *p, const sl_probe_snap_t *s, sl_err_t *err) {
  sl_store_t *st = p->store;
  double t = s->t + p->lag;
  for (int i = 0; i < s->npods; i++) {
    const sl_probe_pod_t *pod = &s->pods[i];
    // A pod that has gone since the scrape is no longer in the store: its sample is dropped.
    sl_pod_t *sp = sl_store_find_pod(st, pod->name);
    if (!sp) continue;
    int rc = 0;
    for (int k = 0; k < PG__N && rc == 0; k++)
      rc = sl_store_put_pod_at(st, sp, pod_gauge[k], t, pod->g[k], err);
    for (int k = 0; k < PC__N && rc == 0; k++)
      rc = sl_store_put_pod_at(st, sp, pod_counter[k], t, pod->c[k], err);
    for (int k = 0; k < SL_RH__COUNT && rc == 0; k++)
      rc = sl_store_put_pod_hist_at(st, sp, pod_hist[k], t, pod->bounds[k], pod->cum[k], pod->nb[k],
                                    pod->hsum[k], pod->hcount[k], err);
    if (rc < 0) return rc;
    p->samples += PG__N + PC__N + SL_RH__COUNT;
  }
  for (int mi = 0; mi < p->cl->nmodels; mi++) {
    const sl_probe_gw_t *o = &s->gw[mi];
    const char *name = p->cl->models[mi].name;
    int rc = 0;
    for (int k = 0; k < GG__N && rc == 0; k++)
      rc = sl_store_put_model(st, name, gw_gauge[k], t, o->g[k], err);
    if (rc == 0) rc = sl_store_put_model(st, name, SL_M_GW_REQUESTS, t, o->requests, err);
    if (rc == 0) rc = sl_store_put_model(st, name, SL_M_GW_DROPPED, t, o->dropped, err);
    if (rc == 0)
      rc = sl_store_put_model_hist(st, name, SL_M_GW_QUEUE_DURATION, t, o->bounds, o->cum, o->nb,
                                   o->sum, o->count, err);
    if (rc < 0) return rc;
    p->samples += GG__N + 3;
  }
  return SL_OK;
}

int sl_probe_run(sl_probe_t *p, double now, const sl_fleet_t *f, const sl_gateway_t *g,
                 sl_err_t *err) {
  if (p->next_scrape <= now) {
    // A lag longer than the ring allows cannot happen: cap covers lag / interval + 2.
    int rc = scrape(p, now, f, g, err);
    if (rc < 0) return rc;
    p->next_scrape += p->interval;
    if (p->next_scrape <= now) p->next_scrape = now + p->interval;
  }
  while (p->len > 0) {
    const sl_probe_snap_t *s = &p->ring[(p->head - p->len + p->cap) % p->cap];
    if (s->t + p->lag > now) break;
    int rc = deliver(p, s, err);
    if (rc < 0) return rc;
    p->len--;
  }
  return SL_OK;
}
