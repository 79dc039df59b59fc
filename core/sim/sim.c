// The simulator's event loop and the glue between trace, gateway, pods, probe and pipeline.
// See sim.h.
#include "core/sim/sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/sim/fleet.h"
#include "core/sim/gateway.h"
#include "core/sim/lhist.h"
#include "core/sim/probe.h"
#include "core/sim/trace.h"

void sl_sim_opts_init(sl_sim_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->seed = 1;
  o->rate_scale = 1;
  o->time_scale = 1;
  o->bin_s = 60;
}

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

// ---- traces ---------------------------------------------------------------------------------

static const char *model_trace(const sl_sim_opts_t *o, int m) {
  const char *t = o->cluster->models[m].trace;
  return t ? t : o->trace;
}

static void trace_opts(const sl_sim_opts_t *o, int m, double rate_scale, sl_trace_opts_t *to) {
  sl_trace_opts_init(to);
  // Each model draws its own stream, so two models on the same generator are not copies.
  to->seed = o->seed + 0x9e3779b97f4a7c15ULL * (uint64_t)m;
  to->rate_scale = rate_scale * o->cluster->models[m].rate_scale;
  to->time_scale = o->time_scale;
  to->duration = o->duration > 0 ? o->duration / o->time_scale : 0;
  to->model = (uint16_t)m;
  to->tokens = o->tokens;
}

// All models' traces merged in time order.
typedef struct {
  int n;
  sl_trace_t **t;
  sl_req_t *head;
  int *live;
  double last_t;
} merge_t;

static void merge_free(merge_t *g) {
  for (int i = 0; i < g->n; i++) sl_trace_free(g->t[i]);
  free(g->t), free(g->head), free(g->live);
  memset(g, 0, sizeof *g);
}

static int merge_open(merge_t *g, const sl_sim_opts_t *o, double rate_scale, sl_err_t *err) {
  memset(g, 0, sizeof *g);
  int n = o->cluster->nmodels;
  g->t = calloc((size_t)n, sizeof *g->t);
  g->head = calloc((size_t)n, sizeof *g->head);
  g->live = calloc((size_t)n, sizeof *g->live);
  if (!g->t || !g->head || !g->live) {
    merge_free(g);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  g->n = n;
  for (int m = 0; m < n; m++) {
    sl_trace_opts_t to;
    trace_opts(o, m, rate_scale, &to);
    int rc = sl_trace_open(model_trace(o, m), &to, &g->t[m], err);
    if (rc == 0) rc = sl_trace_next(g->t[m], &g->head[m], err);
    if (rc < 0) {
      merge_free(g);
      return rc;
    }
    g->live[m] = rc;
  }
  return SL_OK;
}

// The model whose next request comes first, or -1 at the end.
static int merge_peek(const merge_t *g) {
  int best = -1;
  for (int m = 0; m < g->n; m++)
    if (g->live[m] && (best < 0 || g->head[m].t < g->head[best].t)) best = m;
  return best;
}

static int merge_advance(merge_t *g, int m, sl_err_t *err) {
  g->last_t = g->head[m].t;
  int rc = sl_trace_next(g->t[m], &g->head[m], err);
  if (rc < 0) return rc;
  g->live[m] = rc;
  return SL_OK;
}

// ---- one run ----------------------------------------------------------------------------------

typedef struct {
  double t;
  int variant, ready;
} ready_change_t;

typedef struct {
  sl_sim_t *sim;
  const sl_sim_opts_t *o;
  const sl_cluster_t *cl;
  sl_config_t cfg; // the cluster's, with this policy's window, interval and guard
  sl_clock_t clock;
  sl_store_t *store;
  sl_pipeline_t pipe;
  int pipe_ok;
  sl_actuator_t act;
  sl_inflight_pool_t pool;
  sl_fleet_t fleet;
  sl_gateway_t gw;
  sl_probe_t probe;
  sl_simrec_t *rec;
  merge_t trace;
  sl_clair_bins_t *bins; // counted when the sim has none yet
  sl_sim_result_t *res;
  sl_lhist_t ttft, itl;
  double end;
  ready_change_t *log;
  size_t nlog, caplog;
  int *ready; // per variant, for the log
  int failed;
  sl_err_t ferr;
} run_t;

static void fail(run_t *R, int code, const char *msg) {
  if (R->failed) return;
  R->failed = 1;
  sl_err(&R->ferr, code, "%s", msg);
}

static void log_ready(run_t *R, int v, int delta, double t) {
  R->ready[v] += delta;
  if (R->nlog == R->caplog) {
    size_t cap = R->caplog ? R->caplog * 2 : 256;
    ready_change_t *n = realloc(R->log, sizeof *n * cap);
    if (!n) return fail(R, SL_ENOMEM, "out of memory");
    R->log = n;
    R->caplog = cap;
  }
  R->log[R->nlog++] = (ready_change_t){t, v, R->ready[v]};
}

static void on_done(void *ud, sl_replica_t *r, int32_t id, double t, sl_replica_outcome_t outcome) {
  run_t *R = ud;
  sl_inflight_t *q = &R->pool.r[id];
  sl_gateway_model_t *gm = &R->gw.m[q->model];
  gm->inflight -= 1;
  gm->inflight_tokens -= q->in;
  int met = 0;
  if (outcome == SL_REPLICA_FINISHED) {
    R->res->completed++;
    const sl_variant_t *d = &R->cl->cfg.variants[q->variant];
    double extra = R->cl->vx[q->variant].engine.step.request_ms * 1e-3;
    double ttft = q->t_first - q->t_arrive + extra;
    sl_lhist_add(&R->ttft, ttft);
    sl_simrec_first_token(R->rec, q->model, ttft);
    double itl = q->out > 1 ? (t - q->t_first) / (q->out - 1) : NAN;
    if (q->out > 1) sl_lhist_add(&R->itl, itl);
    met = 1;
    if (d->slo) {
      if (ttft * 1e3 > d->slo->ttft_ms) met = 0, R->res->late_ttft++;
      if (q->out > 1 && itl * 1e3 > d->slo->itl_ms) met = 0, R->res->late_itl++;
    }
    R->res->met += (uint64_t)met;
  } else if (outcome == SL_REPLICA_CUT) {
    R->res->cut++;
  } else {
    R->res->dropped++;
    gm->dropped += 1;
  }
  sl_simrec_end(R->rec, q->model, met);
  sl_inflight_release(&R->pool, id);
}

static void dispatch(run_t *R, sl_replica_t *rep, int32_t id, double now) {
  sl_simpod_t *pod = SL_SIMPOD_OF(rep);
  sl_inflight_t *q = &R->pool.r[id];
  sl_gateway_model_t *gm = &R->gw.m[q->model];
  q->variant = (uint16_t)pod->variant;
  gm->inflight += 1;
  gm->inflight_tokens += q->in;
  sl_promhist_add(&gm->qdur, now - q->t_arrive, 1);
  sl_replica_submit(rep, id, now);
  sl_fleet_touch(&R->fleet, pod, now);
  sl_gateway_update(&R->gw, &pod->ep);
}

// Sends queued requests of a model to servers while any is unsaturated.
static void pump(run_t *R, int model, double now) {
  sl_gateway_model_t *gm = &R->gw.m[model];
  while (gm->n > 0) {
    sl_replica_t *rep = sl_gateway_pick(&R->gw, model);
    if (!rep) break;
    dispatch(R, rep, sl_gateway_pop(&R->gw, model), now);
  }
}

static void on_phase(void *ud, sl_simpod_t *p, sl_pod_phase_t from, double now) {
  run_t *R = ud;
  if (p->phase == SL_POD_READY) {
    if (sl_gateway_add_endpoint(&R->gw, p->model, &p->ep) < 0)
      return fail(R, SL_ENOMEM, "out of memory");
    log_ready(R, p->variant, 1, now);
    pump(R, p->model, now);
  } else if (from == SL_POD_READY) {
    sl_gateway_remove_endpoint(&R->gw, &p->ep);
    log_ready(R, p->variant, -1, now);
  }
}

static void on_gone(void *ud, sl_simpod_t *p, double now) {
  run_t *R = ud;
  if (p->ep.model >= 0) {
    sl_gateway_remove_endpoint(&R->gw, &p->ep);
    log_ready(R, p->variant, -1, now);
  }
}

static int act_scale(sl_actuator_t *a, const sl_variant_t *v, int from, int to, const char *reason,
                     double now, sl_err_t *err) {
  run_t *R = a->ud;
  int vi = (int)(v - R->cl->cfg.variants);
  if (vi < 0 || vi >= R->cl->cfg.nvariants)
    return sl_err(err, SL_EINVAL, "unknown variant %s", v->id);
  R->res->scale_events++;
  sl_fleet_scale(&R->fleet, vi, to, now);
  return SL_OK;
}

static void on_outcome(void *ud, double now, const sl_outcome_t *o) {
  run_t *R = ud;
  if (!o->actuated) return;
  fprintf(R->o->decisions, "%s t=%.1f %s %d -> %d: %s\n", R->res->policy, now, o->variant->id,
          o->current, o->target, o->reason);
}

static int close_bin(run_t *R, double t) {
  sl_fleet_account(&R->fleet, t);
  int nv = R->cl->cfg.nvariants, nm = R->cl->nmodels;
  int ready[64], starting[64], pending[64];
  double queue[64];
  for (int v = 0; v < nv && v < 64; v++) {
    ready[v] = R->fleet.v[v].n[SL_POD_READY];
    starting[v] = R->fleet.v[v].n[SL_POD_STARTING];
    pending[v] = R->fleet.v[v].n[SL_POD_PENDING];
  }
  for (int m = 0; m < nm && m < 64; m++) queue[m] = R->gw.m[m].n;
  return sl_simrec_close(R->rec, ready, starting, pending, queue, R->fleet.cost,
                         R->fleet.held_gpus);
}

static void count_bin(run_t *R, const sl_req_t *r) {
  sl_clair_bins_t *b = R->bins;
  if (!b) return;
  size_t i = (size_t)(r->t / b->bin_s);
  if (sl_clair_bins_reserve(b, i) < 0) return fail(R, SL_ENOMEM, "out of memory");
  sl_clair_bins_add(b, i, r->model, r->in_tokens, r->out_tokens);
}

static int arrival(run_t *R, int m, sl_err_t *err) {
  const sl_req_t *r = &R->trace.head[m];
  int32_t id = sl_inflight_alloc(&R->pool);
  if (id < 0) return sl_err(err, SL_ENOMEM, "out of memory");
  sl_inflight_t *q = &R->pool.r[id];
  q->t_arrive = r->t;
  q->in = r->in_tokens;
  q->out = r->out_tokens;
  q->model = (uint16_t)m;
  R->res->requests++;
  R->gw.m[m].requests += 1;
  sl_simrec_arrival(R->rec, m);
  count_bin(R, r);
  sl_gateway_model_t *gm = &R->gw.m[m];
  sl_replica_t *rep = gm->n == 0 ? sl_gateway_pick(&R->gw, m) : NULL;
  if (rep) {
    dispatch(R, rep, id, r->t);
  } else {
    sl_gateway_enqueue(&R->gw, m, id);
    sl_simrec_queue(R->rec, m, gm->n);
  }
  return merge_advance(&R->trace, m, err);
}

static void drop(run_t *R, int m, double now) {
  int32_t id = sl_gateway_pop(&R->gw, m);
  sl_gateway_model_t *gm = &R->gw.m[m];
  sl_inflight_t *q = &R->pool.r[id];
  gm->dropped += 1;
  sl_promhist_add(&gm->qdur, now - q->t_arrive, 1);
  R->res->dropped++;
  sl_simrec_end(R->rec, m, 0);
  sl_inflight_release(&R->pool, id);
}

static void server_event(run_t *R) {
  sl_simpod_t *p = sl_fleet_server_due(&R->fleet);
  double now = p->ev.key;
  int model = p->model;
  sl_replica_advance(&p->rep);
  if (!sl_fleet_touch(&R->fleet, p, now)) // may end a draining pod
    sl_gateway_update(&R->gw, &p->ep);
  if (R->gw.m[model].n > 0) pump(R, model, now);
}

static void progress(run_t *R, double t, double t0, double *last_print) {
  double now = wall_now();
  if (now - t0 < 3 || now - *last_print < (isatty(2) ? 0.5 : 10)) return;
  *last_print = now;
  double end = R->sim->end > 0 ? R->sim->end : R->sim->est_end;
  double pct = end > 0 ? fmin(100, 100 * t / end) : 0;
  fprintf(stderr, "%ssim: %s %5.1f%%  t=%.0fs  %.2fM requests  %.0fk req/s%s",
          isatty(2) ? "\r" : "", R->res->policy, pct, t, R->res->requests / 1e6,
          R->res->requests / (now - t0) / 1e3, isatty(2) ? "  " : "\n");
  fflush(stderr);
}

// Mean time from load first exceeding what the Ready replicas serve under the SLO until enough
// are Ready, per model, from the ready-count log and the per-bin demand.
static void reaction(run_t *R, const sl_clair_bins_t *b, sl_err_t *err) {
  const sl_cluster_t *cl = R->cl;
  int nv = cl->cfg.nvariants;
  double total = 0;
  int episodes = 0;
  int *ready = calloc((size_t)nv, sizeof *ready);
  if (!ready) return;
  for (int m = 0; m < cl->nmodels; m++) {
    memset(ready, 0, sizeof *ready * (size_t)nv);
    size_t li = 0;
    double over_since = NAN;
    size_t nb = (size_t)ceil(R->end / b->bin_s - 1e-9);
    for (size_t i = 0; i < nb && i < b->n; i++) {
      double t0 = (double)i * b->bin_s, t1 = fmin(t0 + b->bin_s, R->end);
      sl_clair_mix_t mix;
      sl_clair_bin_mix(b, i, m, &mix);
      double rate = mix.rate;
      double cap_per[64] = {0};
      for (int v = 0; v < nv && v < 64; v++)
        if (cl->vx[v].model == m && rate > 0 &&
            sl_clair_rate(&R->sim->clair, v, &mix, &cap_per[v], err) < 0) {
          free(ready);
          return;
        }
      double t = t0;
      for (;;) {
        // Apply the changes at or before t, then judge the stretch until the next change.
        while (li < R->nlog && R->log[li].t <= t) {
          ready[R->log[li].variant] = R->log[li].ready;
          li++;
        }
        double cap = 0;
        for (int v = 0; v < nv && v < 64; v++)
          if (cl->vx[v].model == m) cap += ready[v] * cap_per[v];
        int over = rate > cap * (1 + 1e-9);
        if (over && isnan(over_since)) over_since = t;
        if (!over && !isnan(over_since)) {
          total += t - over_since;
          episodes++;
          over_since = NAN;
        }
        double next = li < R->nlog ? R->log[li].t : INFINITY;
        if (next >= t1) break;
        t = next;
      }
    }
    if (!isnan(over_since)) { // still short at the end: counted up to the end
      total += R->end - over_since;
      episodes++;
    }
  }
  free(ready);
  R->res->episodes = episodes;
  R->res->reaction_s = episodes ? total / episodes : NAN;
}

int sl_sim_run(sl_sim_t *s, sl_sim_policy_t *pol, sl_sim_result_t *res, sl_err_t *err) {
  const sl_sim_opts_t *o = &s->o;
  const sl_cluster_t *cl = o->cluster;
  memset(res, 0, sizeof *res);
  snprintf(res->policy, sizeof res->policy, "%s", pol->name);
  run_t *R = calloc(1, sizeof *R);
  if (!R) return sl_err(err, SL_ENOMEM, "out of memory");
  R->sim = s;
  R->o = o;
  R->cl = cl;
  R->res = res;
  R->rec = &res->rec;
  int rc = SL_OK;
  double t_wall = wall_now();
  int nv = cl->cfg.nvariants;

  // The policy's own settings decide how its signals are sampled; attach needs a pipeline, so
  // the config is completed after it (the pipeline reads window and guard at every tick).
  R->cfg = cl->cfg;
  R->cfg.interval = 1;
  R->cfg.window = 60;
  R->cfg.guard = (sl_guard_cfg_t){0, 60, 0, 0};
  R->cfg.policies = NULL;
  R->cfg.npolicies = 0;
  sl_clock_init_sim(&R->clock, 0);
  sl_inflight_pool_init(&R->pool);
  R->ready = calloc((size_t)nv, sizeof *R->ready);
  if (!R->ready || sl_lhist_init(&R->ttft, 7) < 0 || sl_lhist_init(&R->itl, 7) < 0) {
    rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto out;
  }
  R->store = sl_store_new(64); // replaced below once the sampling rate is known
  R->act = (sl_actuator_t){"sim", act_scale, NULL, R};
  if (!R->store ||
      (rc = sl_pipeline_init(&R->pipe, &R->cfg, &R->clock, R->store, &R->act, err)) < 0) {
    if (rc == 0) rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto out;
  }
  R->pipe_ok = 1;
  if (o->decisions) {
    R->pipe.on_outcome = on_outcome;
    R->pipe.on_outcome_ud = R;
  }
  pol->period = pol->scrape_interval = pol->lag = pol->window = NAN;
  pol->scale_from_zero = -1;
  if ((rc = pol->attach(pol, &R->pipe, &R->cfg, &R->clock, err)) < 0) goto out;
  res->period = isnan(pol->period) ? 1 : pol->period;
  res->scrape_interval = isnan(pol->scrape_interval) ? 1 : pol->scrape_interval;
  res->lag = isnan(pol->lag) ? 0 : pol->lag;
  res->window = isnan(pol->window) ? 60 : pol->window;
  R->cfg.window = res->window;
  R->cfg.interval = res->period;
  // A sample is late only when it is older than the lag plus three scrapes.
  R->cfg.guard.stale_after = fmax(60, res->lag + 3 * res->scrape_interval);
  {
    // Keep 10 minutes (or the window, if longer) of samples at the finer of scrape and tick.
    double step = fmin(res->scrape_interval, res->period);
    double horizon = fmax(600, 2 * res->window);
    double cap = ceil(horizon / step) + 16;
    R->store->cap = (int)(cap < 64 ? 64 : cap > 4096 ? 4096 : cap);
  }

  if ((rc = sl_gateway_init(&R->gw, cl->nmodels, &R->pool, cl->queue_threshold, cl->kv_threshold,
                            cl->drop_timeout)) < 0) {
    rc = sl_err(err, rc, "out of memory");
    goto out;
  }
  sl_fleet_cb_t cb = {on_phase, on_gone, R};
  if ((rc = sl_fleet_init(&R->fleet, cl, R->store, &R->pool, on_done, R, &cb, o->seed, err)) < 0)
    goto out;
  if ((rc = sl_probe_init(&R->probe, R->store, cl, res->scrape_interval, res->lag, 0, err)) < 0)
    goto out;
  double rbin = o->record_bin_s > 0 ? o->record_bin_s : 60;
  if (!(o->record_bin_s > 0) && s->est_end / rbin > 5000) rbin = ceil(s->est_end / 5000 / 60) * 60;
  if (sl_simrec_init(R->rec, rbin, nv, cl->nmodels, (size_t)(s->est_end / rbin) + 2) < 0) {
    rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto out;
  }
  if (!s->have_bins) {
    sl_clair_bins_free(&s->bins); // what a failed first run left
    if (sl_clair_bins_init(&s->bins, o->bin_s, cl->nmodels, 0) < 0) {
      rc = sl_err(err, SL_ENOMEM, "out of memory");
      goto out;
    }
    R->bins = &s->bins;
  }
  if ((rc = merge_open(&R->trace, o, s->rate_scale, err)) < 0) goto out;

  // Warm start: the clairvoyant count of the first bin, Ready at time 0 and held there for that
  // first bin: policies start deciding once their signals have a minute of traffic behind them,
  // not on the empty servers of time 0.
  for (int v = 0; v < nv; v++) sl_fleet_warm(&R->fleet, v, s->warm[v], 0);
  for (int k = 0; k < R->pipe.ndeciders; k++)
    if (R->pipe.deciders[k]->next_due < o->bin_s) R->pipe.deciders[k]->next_due = o->bin_s;

  double t0 = wall_now(), last_print = t0;
  uint64_t nevents = 0;
  double end = o->duration > 0 ? o->duration : INFINITY;
  int control = 1;
  for (;;) {
    int m = merge_peek(&R->trace);
    double ta = m >= 0 ? R->trace.head[m].t : INFINITY;
    if (m >= 0 && ta > end) {
      m = -1;
      ta = INFINITY;
    }
    if (m < 0 && control && isinf(end)) end = fmax(R->trace.last_t, 0);
    double ts = sl_fleet_next_server(&R->fleet);
    double tt = sl_fleet_next_timer(&R->fleet);
    int dm = -1;
    double td = sl_gateway_next_drop(&R->gw, &dm);
    double tp = INFINITY, tk = INFINITY, tb = INFINITY;
    if (control) {
      tp = sl_probe_next(&R->probe);
      tk = sl_pipeline_next_due(&R->pipe);
      tb = sl_simrec_next(R->rec);
      if (tp > end) tp = INFINITY;
      if (tk > end) tk = INFINITY;
      if (tb >= end) tb = INFINITY;
      if (m < 0 && isinf(tp) && isinf(tk) && isinf(tb) && tt > end && ts > end && td > end) {
        // The replay is over: account and record up to its end, then let what is in flight
        // finish on the servers that exist, with no more decisions.
        control = 0;
        R->end = end;
        sl_fleet_account(&R->fleet, end);
        res->gpu_hours = R->fleet.gpu_seconds / 3600.0;
        res->cost = R->fleet.cost;
        if ((rc = close_bin(R, end)) < 0) {
          rc = sl_err(err, SL_ENOMEM, "out of memory");
          goto out;
        }
        continue;
      }
    } else if (isinf(ts) && (isinf(td) || isinf(tt))) {
      // Done: no server has work. Requests still queued with nothing to serve them are dropped.
      for (int k = 0; k < cl->nmodels; k++)
        while (R->gw.m[k].n > 0) drop(R, k, fmax(R->end, td));
      break;
    }
    double t = fmin(fmin(fmin(ts, tt), fmin(td, ta)), fmin(fmin(tp, tk), tb));
    if (t == ts) {
      server_event(R);
    } else if (t == tt) {
      sl_fleet_fire_timer(&R->fleet);
    } else if (t == td) {
      drop(R, dm, t);
    } else if (t == ta) {
      if ((rc = arrival(R, m, err)) < 0) goto out;
    } else if (t == tp) {
      if ((rc = sl_probe_run(&R->probe, t, &R->fleet, &R->gw, err)) < 0) goto out;
    } else if (t == tk) {
      sl_clock_set(&R->clock, t);
      if ((rc = sl_pipeline_tick(&R->pipe, err)) < 0) goto out;
    } else if (t == tb) {
      if ((rc = close_bin(R, t)) < 0) {
        rc = sl_err(err, SL_ENOMEM, "out of memory");
        goto out;
      }
    } else {
      break; // nothing left
    }
    if (R->failed || R->fleet.oom) {
      rc = R->failed ? sl_err(err, R->ferr.code, "%s", R->ferr.msg)
                     : sl_err(err, SL_ENOMEM, "out of memory");
      goto out;
    }
    if (o->progress && (++nevents & 0xffff) == 0) progress(R, t, t0, &last_print);
  }
  if (o->progress && wall_now() - t0 >= 3 && isatty(2)) fprintf(stderr, "\n");

  if (R->bins) {
    R->bins->end = R->end;
    s->have_bins = 1;
    s->end = R->end;
  }
  reaction(R, &s->bins, err);
  res->pods_created = R->fleet.pods_created;
  uint64_t ended = res->completed + res->dropped + res->cut;
  res->slo_attainment = ended ? (double)res->met / (double)ended : NAN;
  res->ttft_p50_ms = sl_lhist_quantile(&R->ttft, 0.50) * 1e3;
  res->ttft_p90_ms = sl_lhist_quantile(&R->ttft, 0.90) * 1e3;
  res->ttft_p99_ms = sl_lhist_quantile(&R->ttft, 0.99) * 1e3;
  res->itl_p50_ms = sl_lhist_quantile(&R->itl, 0.50) * 1e3;
  res->itl_p99_ms = sl_lhist_quantile(&R->itl, 0.99) * 1e3;

out:
  res->wall_s = wall_now() - t_wall;
  s->total_requests += res->requests;
  s->total_wall += res->wall_s;
  if (pol->detach) pol->detach(pol);
  merge_free(&R->trace);
  sl_probe_deinit(&R->probe);
  sl_fleet_deinit(&R->fleet);
  sl_gateway_deinit(&R->gw);
  if (R->pipe_ok) sl_pipeline_deinit(&R->pipe);
  if (R->store) sl_store_free(R->store);
  sl_inflight_pool_deinit(&R->pool);
  sl_lhist_deinit(&R->ttft);
  sl_lhist_deinit(&R->itl);
  free(R->log);
  free(R->ready);
  free(R);
  if (rc < 0) sl_simrec_deinit(&res->rec);
  return rc;
}

void sl_sim_result_free(sl_sim_result_t *r) {
  sl_simrec_deinit(&r->rec);
}

// ---- the session ------------------------------------------------------------------------------

static int init_warm(sl_sim_t *s, const sl_clair_bins_t *b, sl_err_t *err) {
  const sl_cluster_t *cl = s->o.cluster;
  int nm = cl->nmodels, nv = cl->cfg.nvariants;
  size_t n = (size_t)(nm > 0 ? nm : 1);
  sl_clair_mix_t *mix = calloc(n, sizeof *mix);
  int rc = SL_OK;
  if (!mix) {
    rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto done;
  }
  for (int m = 0; m < nm; m++) sl_clair_bin_mix(b, 0, m, &mix[m]);
  rc = sl_clair_place(&s->clair, mix, s->warm, err);
  if (rc > 0) rc = SL_OK;
  for (int v = 0; v < nv && rc == 0; v++)
    if (s->warm[v] < cl->cfg.variants[v].min) s->warm[v] = cl->cfg.variants[v].min;
done:
  free(mix);
  return rc;
}

// Demand of the first bin, read from the head of each trace.
static int first_bin(sl_sim_t *s, sl_clair_bins_t *b, sl_err_t *err) {
  const sl_sim_opts_t *o = &s->o;
  int rc = sl_clair_bins_init(b, o->bin_s, o->cluster->nmodels, 1);
  if (rc < 0) return sl_err(err, rc, "out of memory");
  b->end = o->bin_s;
  for (int m = 0; m < o->cluster->nmodels; m++) {
    sl_trace_opts_t to;
    trace_opts(o, m, s->rate_scale, &to);
    sl_trace_t *t;
    if ((rc = sl_trace_open(model_trace(o, m), &to, &t, err)) < 0) return rc;
    sl_req_t r;
    while ((rc = sl_trace_next(t, &r, err)) > 0 && r.t < o->bin_s)
      sl_clair_bins_add(b, 0, m, r.in_tokens, r.out_tokens);
    sl_trace_free(t);
    if (rc < 0) return rc;
  }
  return SL_OK;
}

// --peak-replicas: the rate scale at which the busiest bin needs that many replicas of each
// model's cheapest variant; the warm start uses the scaled expectation of the first bin.
static int peak_scale(sl_sim_t *s, sl_clair_bins_t *first, sl_err_t *err) {
  const sl_sim_opts_t *o = &s->o;
  const sl_cluster_t *cl = o->cluster;
  int nm = cl->nmodels, rc = SL_OK;
  sl_trace_bins_t *tb = calloc((size_t)nm, sizeof *tb);
  int *cheap = calloc((size_t)nm, sizeof *cheap);
  if (!tb || !cheap) {
    rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto done;
  }
  size_t nb = 0;
  for (int m = 0; m < nm; m++) {
    sl_trace_opts_t to;
    trace_opts(o, m, 1, &to);
    if ((rc = sl_trace_bins(model_trace(o, m), &to, o->bin_s, &tb[m], err)) < 0) goto done;
    if (tb[m].n > nb) nb = tb[m].n;
    s->est_end = fmax(s->est_end, tb[m].last_t);
    cheap[m] = -1;
    for (int v = 0; v < cl->cfg.nvariants; v++)
      if (cl->vx[v].model == m &&
          (cheap[m] < 0 || cl->cfg.variants[v].cost < cl->cfg.variants[cheap[m]].cost))
        cheap[m] = v;
  }
  if (o->duration > 0) s->est_end = o->duration;
  double peak = 0;
  for (size_t i = 0; i < nb; i++) {
    double need = 0;
    for (int m = 0; m < nm; m++) {
      if (i >= tb[m].n || !tb[m].count[i]) continue;
      double n = (double)tb[m].count[i], r;
      double len = o->bin_s;
      if (i == tb[m].n - 1 && tb[m].last_t < (double)(i + 1) * o->bin_s && o->duration <= 0)
        len = fmax(tb[m].last_t - (double)i * o->bin_s, 1);
      sl_clair_mix_t mix = {.in = (double)tb[m].in_tokens[i] / n,
                            .out = (double)tb[m].out_tokens[i] / n};
      double vi = tb[m].in_sq[i] / n - mix.in * mix.in;
      double vo = tb[m].out_sq[i] / n - mix.out * mix.out;
      mix.in_cv = n > 1 && vi > 0 ? sqrt(vi) / mix.in : 0;
      mix.out_cv = n > 1 && vo > 0 ? sqrt(vo) / mix.out : 0;
      if ((rc = sl_clair_rate(&s->clair, cheap[m], &mix, &r, err)) < 0) goto done;
      need += n / len / r;
    }
    if (need > peak) peak = need;
  }
  if (!(peak > 0)) {
    rc = sl_err(err, SL_EINVAL, "--peak-replicas: the trace has no requests to scale");
    goto done;
  }
  s->rate_scale = o->peak_replicas / peak;
  if ((rc = sl_clair_bins_init(first, o->bin_s, nm, 1)) < 0) {
    rc = sl_err(err, rc, "out of memory");
    goto done;
  }
  first->end = o->bin_s;
  for (int m = 0; m < nm; m++) {
    if (!tb[m].n) continue;
    double k = s->rate_scale * cl->models[m].rate_scale;
    first->count[m] = (double)tb[m].count[0] * k;
    first->in_sum[m] = (double)tb[m].in_tokens[0] * k;
    first->out_sum[m] = (double)tb[m].out_tokens[0] * k;
    first->in_sq[m] = tb[m].in_sq[0] * k;
    first->out_sq[m] = tb[m].out_sq[0] * k;
  }
done:
  for (int m = 0; tb && m < nm; m++) sl_trace_bins_free(&tb[m]);
  free(tb);
  free(cheap);
  return rc;
}

int sl_sim_init(sl_sim_t *s, const sl_sim_opts_t *o, sl_err_t *err) {
  memset(s, 0, sizeof *s);
  s->o = *o;
  const sl_cluster_t *cl = o->cluster;
  if (!cl) return sl_err(err, SL_EINVAL, "no cluster");
  if (cl->cfg.nvariants > 64 || cl->nmodels > 64)
    return sl_err(err, SL_EINVAL, "the simulator takes at most 64 variants and 64 models");
  for (int m = 0; m < cl->nmodels; m++)
    if (!model_trace(o, m))
      return sl_err(err, SL_EINVAL, "model '%s' has no trace: give --trace or models[%d].trace",
                    cl->models[m].name, m);
  if (!(o->bin_s > 0)) return sl_err(err, SL_EINVAL, "bin_s must be > 0");
  if (!(o->time_scale > 0)) return sl_err(err, SL_EINVAL, "--time-scale must be > 0");
  if (!(o->rate_scale >= 0)) return sl_err(err, SL_EINVAL, "--rate-scale must be >= 0");
  if (o->tokens) {
    sl_trace_tokens_t tk;
    int rc = sl_trace_tokens_parse(o->tokens, &tk, err);
    if (rc < 0) return rc;
  }
  s->rate_scale = o->rate_scale;
  s->est_end = o->duration;
  s->warm = calloc((size_t)cl->cfg.nvariants, sizeof *s->warm);
  if (!s->warm) return sl_err(err, SL_ENOMEM, "out of memory");
  sl_clair_init(&s->clair, cl, o->slo_percentile);
  sl_clair_bins_t first = {0};
  int rc = o->peak_replicas > 0 ? peak_scale(s, &first, err) : first_bin(s, &first, err);
  if (rc == 0) rc = init_warm(s, &first, err);
  sl_clair_bins_free(&first);
  if (rc < 0) sl_sim_deinit(s);
  return rc;
}

void sl_sim_deinit(sl_sim_t *s) {
  free(s->warm);
  sl_clair_deinit(&s->clair);
  sl_clair_bins_free(&s->bins);
  memset(s, 0, sizeof *s);
}

int sl_sim_clairvoyant(sl_sim_t *s, sl_clair_result_t *out, sl_err_t *err) {
  if (!s->have_bins) return sl_err(err, SL_ESTATE, "the clairvoyant needs a run first");
  return sl_clair_run(&s->clair, &s->bins, out, err);
}

double sl_sim_rate(const sl_sim_t *s) {
  return s->total_wall > 0 ? (double)s->total_requests / s->total_wall : 0;
}
