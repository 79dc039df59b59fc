// One replay of the trace against a simulated cluster. See world.h.
#include "core/sim/world.h"

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

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

// ---- the trace: every model's, merged in time order --------------------------------------------

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
    sl_sim_trace_opts(o, m, rate_scale, &to);
    int rc = sl_trace_open(sl_sim_model_trace(o, m), &to, &g->t[m], err);
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

// ---- the world ---------------------------------------------------------------------------------

typedef struct {
  double t;
  int variant, ready;
} ready_change_t;

typedef struct sl_sim_world {
  sl_sim_t *sim;
  const sl_sim_opts_t *o;
  const sl_cluster_t *cl;
  sl_store_t *store;
  sl_source_t source;
  sl_actuator_t act;
  sl_observer_t obs;
  sl_inflight_pool_t pool;
  sl_fleet_t fleet;
  sl_gateway_t gw;
  sl_probe_t probe;
  sl_record_t *rec;
  merge_t trace;
  sl_clair_bins_t *bins; // counted when the sim has none yet
  sl_sim_result_t *res;
  sl_lhist_t ttft, itl, e2e;
  double ttft_sum, itl_sum, e2e_sum;
  sl_sim_world_cfg_t wc;
  double end;
  ready_change_t *log;
  size_t nlog, caplog;
  int *ready; // per variant, for the log
  int failed;
  sl_err_t ferr;
  // The event loop's position, kept between advance() calls.
  double until; // end of the replay (INFINITY until the trace shows it)
  int control;  // scrapes, ticks and bins still run (0: draining what is in flight)
  uint64_t nevents;
  double t0, last_print;
  int done;
} sl_sim_world_t;

static void fail(sl_sim_world_t *R, int code, const char *msg) {
  if (R->failed) return;
  R->failed = 1;
  sl_err(&R->ferr, code, "%s", msg);
}

static void log_ready(sl_sim_world_t *R, int v, int delta, double t) {
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

const char *sl_sim_outcome_name(sl_sim_outcome_t o) {
  static const char *const names[] = {"met", "ttft", "itl", "both", "dropped", "cut"};
  return (unsigned)o < sizeof names / sizeof *names ? names[o] : "?";
}

// One request's end to the hook and the --requests file.
static void report_request(sl_sim_world_t *R, const sl_inflight_t *q, long long replica,
                           double ttft, double itl, double e2e, sl_sim_outcome_t outcome) {
  FILE *f = R->o->requests;
  if (!R->wc.on_request && !f) return;
  sl_sim_request_t x = {q->t_arrive, q->model,   replica >= 0 ? q->variant : -1,
                        replica,     q->in,      q->out,
                        q->cached,   ttft * 1e3, itl * 1e3,
                        e2e * 1e3,   outcome};
  if (R->wc.on_request) R->wc.on_request(R->wc.ud, &x);
  if (!f) return;
  const sl_cluster_t *cl = R->cl;
  fprintf(f, "%s,%.3f,%s,%s,%lld,%u,%u,%u,", R->res->policy, x.t_arrive, cl->models[x.model].name,
          x.variant >= 0 ? cl->cfg.variants[x.variant].id : "", x.replica, x.in, x.out, x.cached);
  double v[3] = {x.ttft_ms, x.itl_ms, x.e2e_ms};
  for (int k = 0; k < 3; k++)
    if (isfinite(v[k]))
      fprintf(f, "%.2f,", v[k]);
    else
      fputc(',', f);
  fprintf(f, "%s\n", sl_sim_outcome_name(outcome));
}

static void on_done(void *ud, sl_replica_t *r, int32_t id, double t, sl_replica_outcome_t outcome) {
  sl_sim_world_t *R = ud;
  sl_inflight_t *q = &R->pool.r[id];
  sl_gateway_model_t *gm = &R->gw.m[q->model];
  gm->inflight -= 1;
  gm->inflight_tokens -= q->in;
  int met = 0;
  long long pod = (long long)SL_SIMPOD_OF(r)->id;
  if (outcome == SL_REPLICA_FINISHED) {
    R->res->completed++;
    const sl_variant_t *d = &R->cl->cfg.variants[q->variant];
    double extra = R->cl->vx[q->variant].engine.step.request_ms * 1e-3;
    double ttft = q->t_first - q->t_arrive + extra;
    double e2e = t - q->t_arrive + extra;
    sl_lhist_add(&R->ttft, ttft);
    sl_lhist_add(&R->e2e, e2e);
    R->ttft_sum += ttft;
    R->e2e_sum += e2e;
    sl_record_first_token(R->rec, q->model, ttft);
    double itl = q->out > 1 ? (t - q->t_first) / (q->out - 1) : NAN;
    if (q->out > 1) sl_lhist_add(&R->itl, itl), R->itl_sum += itl;
    int late_t = 0, late_i = 0;
    if (d->slo) {
      if (ttft * 1e3 > sl_slo_ttft_ms(d->slo, q->in)) late_t = 1, R->res->late_ttft++;
      if (q->out > 1 && itl * 1e3 > d->slo->itl_ms) late_i = 1, R->res->late_itl++;
    }
    met = !late_t && !late_i;
    R->res->met += (uint64_t)met;
    if (r->blocks) R->res->prefix_prompt_tokens += q->in, R->res->prefix_hit_tokens += q->cached;
    report_request(R, q, pod, ttft, itl, e2e,
                   met      ? SL_SIM_MET
                   : late_t ? (late_i ? SL_SIM_BOTH : SL_SIM_TTFT)
                            : SL_SIM_ITL);
  } else if (outcome == SL_REPLICA_CUT) {
    R->res->cut++;
    report_request(R, q, pod, NAN, NAN, NAN, SL_SIM_CUT);
  } else {
    R->res->dropped++;
    gm->dropped += 1;
    report_request(R, q, pod, NAN, NAN, NAN, SL_SIM_DROPPED);
  }
  sl_record_end(R->rec, q->model, met);
  sl_inflight_release(&R->pool, id);
}

static void dispatch(sl_sim_world_t *R, sl_replica_t *rep, int32_t id, double now) {
  sl_simpod_t *pod = SL_SIMPOD_OF(rep);
  sl_inflight_t *q = &R->pool.r[id];
  sl_gateway_model_t *gm = &R->gw.m[q->model];
  q->variant = (uint16_t)pod->variant;
  gm->inflight += 1;
  gm->inflight_tokens += q->in;
  sl_promhist_add(&gm->qdur, now - q->t_arrive, 1);
  rep->blocks = gm->blocks;
  sl_replica_submit(rep, id, now);
  sl_fleet_touch(&R->fleet, pod, now);
  sl_gateway_update(&R->gw, &pod->ep);
}

// Sends queued requests of a model to servers while any is unsaturated.
static void pump(sl_sim_world_t *R, int model, double now) {
  sl_gateway_model_t *gm = &R->gw.m[model];
  while (gm->n > 0) {
    sl_replica_t *rep = sl_gateway_pick_for(&R->gw, model, gm->head);
    if (!rep) break;
    dispatch(R, rep, sl_gateway_pop(&R->gw, model), now);
  }
}

static void on_phase(void *ud, sl_simpod_t *p, sl_pod_phase_t from, double now) {
  sl_sim_world_t *R = ud;
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
  sl_sim_world_t *R = ud;
  if (p->ep.model >= 0) {
    sl_gateway_remove_endpoint(&R->gw, &p->ep);
    log_ready(R, p->variant, -1, now);
  }
}

static int act_scale(sl_actuator_t *a, const sl_variant_t *v, int from, int to, const char *reason,
                     double now, sl_err_t *err) {
  sl_sim_world_t *R = a->ud;
  int vi = (int)(v - R->cl->cfg.variants);
  if (vi < 0 || vi >= R->cl->cfg.nvariants)
    return sl_err(err, SL_EINVAL, "unknown variant %s", v->id);
  R->res->scale_events++;
  sl_fleet_scale(&R->fleet, vi, to, now);
  return SL_OK;
}

static void on_outcome(sl_observer_t *ob, double now, const sl_outcome_t *o) {
  sl_sim_world_t *R = ob->ud;
  if (!o->actuated) return;
  fprintf(R->o->decisions, "%s t=%.1f %s %d -> %d: %s\n", R->res->policy, now, o->variant->id,
          o->current, o->target, o->reason);
}

static int close_bin(sl_sim_world_t *R, double t) {
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
  return sl_record_close(R->rec, ready, starting, pending, queue, R->fleet.cost,
                         R->fleet.held_gpus);
}

static void count_bin(sl_sim_world_t *R, const sl_req_t *r) {
  sl_clair_bins_t *b = R->bins;
  if (!b) return;
  size_t i = (size_t)(r->t / b->bin_s);
  if (sl_clair_bins_reserve(b, i) < 0) return fail(R, SL_ENOMEM, "out of memory");
  sl_clair_bins_add(b, i, r->model, r->in_tokens, r->out_tokens);
}

static int arrival(sl_sim_world_t *R, int m, sl_err_t *err) {
  const sl_req_t *r = &R->trace.head[m];
  int32_t id = sl_inflight_alloc(&R->pool);
  if (id < 0) return sl_err(err, SL_ENOMEM, "out of memory");
  sl_inflight_t *q = &R->pool.r[id];
  q->t_arrive = r->t;
  q->in = r->in_tokens;
  q->out = r->out_tokens;
  q->block = r->block;
  q->model = (uint16_t)m;
  R->res->requests++;
  R->gw.m[m].requests += 1;
  sl_record_arrival(R->rec, m);
  count_bin(R, r);
  sl_gateway_model_t *gm = &R->gw.m[m];
  sl_replica_t *rep = gm->n == 0 ? sl_gateway_pick_for(&R->gw, m, id) : NULL;
  if (rep) {
    dispatch(R, rep, id, r->t);
  } else {
    sl_gateway_enqueue(&R->gw, m, id);
    sl_record_queue(R->rec, m, gm->n);
  }
  return merge_advance(&R->trace, m, err);
}

static void drop(sl_sim_world_t *R, int m, double now) {
  int32_t id = sl_gateway_pop(&R->gw, m);
  sl_gateway_model_t *gm = &R->gw.m[m];
  sl_inflight_t *q = &R->pool.r[id];
  gm->dropped += 1;
  sl_promhist_add(&gm->qdur, now - q->t_arrive, 1);
  R->res->dropped++;
  report_request(R, q, -1, NAN, NAN, NAN, SL_SIM_DROPPED);
  sl_record_end(R->rec, m, 0);
  sl_inflight_release(&R->pool, id);
}

static void server_event(sl_sim_world_t *R) {
  sl_simpod_t *p = sl_fleet_server_due(&R->fleet);
  double now = p->ev.key;
  int model = p->model;
  sl_replica_advance(&p->rep);
  if (!sl_fleet_touch(&R->fleet, p, now)) // may end a draining pod
    sl_gateway_update(&R->gw, &p->ep);
  if (R->gw.m[model].n > 0) pump(R, model, now);
}

static void progress(sl_sim_world_t *R, double t, double t0, double *last_print) {
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
static void reaction(sl_sim_world_t *R, const sl_clair_bins_t *b, sl_err_t *err) {
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

// ---- the event loop
// ------------------------------------------------------------------------------

// Runs the world's events in time order until the controller's tick at tick_at is next. At equal
// times the order is fixed: server steps, pod lifecycle timers, queue timeouts, arrivals, the
// probe, then the tick, then the recorder's bin, so a replay is the same whatever the machine.
static int advance(sl_source_t *src, double tick_at, sl_err_t *err) {
  sl_sim_world_t *R = src->ud;
  const sl_cluster_t *cl = R->cl;
  const sl_sim_opts_t *o = R->o;
  int rc;
  if (R->done) return 0;
  if (R->failed || R->fleet.oom) // the tick's actuation can fail too
    return R->failed ? sl_err(err, R->ferr.code, "%s", R->ferr.msg)
                     : sl_err(err, SL_ENOMEM, "out of memory");
  for (;;) {
    int m = merge_peek(&R->trace);
    double ta = m >= 0 ? R->trace.head[m].t : INFINITY;
    if (m >= 0 && ta > R->until) {
      m = -1;
      ta = INFINITY;
    }
    if (m < 0 && R->control && isinf(R->until)) R->until = fmax(R->trace.last_t, 0);
    double ts = sl_fleet_next_server(&R->fleet);
    double tt = sl_fleet_next_timer(&R->fleet);
    int dm = -1;
    double td = sl_gateway_next_drop(&R->gw, &dm);
    double tp = INFINITY, tk = INFINITY, tb = INFINITY;
    if (R->control) {
      tp = sl_probe_next(&R->probe);
      tk = tick_at;
      tb = sl_record_next(R->rec);
      if (tp > R->until) tp = INFINITY;
      if (tk > R->until) tk = INFINITY;
      if (tb >= R->until) tb = INFINITY;
      if (m < 0 && isinf(tp) && isinf(tk) && isinf(tb) && tt > R->until && ts > R->until &&
          td > R->until) {
        // The replay is over: account and record up to its end, then let what is in flight
        // finish on the servers that exist, with no more decisions.
        R->control = 0;
        R->end = R->until;
        sl_fleet_account(&R->fleet, R->until);
        R->res->gpu_hours = R->fleet.gpu_seconds / 3600.0;
        R->res->cost = R->fleet.cost;
        if (close_bin(R, R->until) < 0) return sl_err(err, SL_ENOMEM, "out of memory");
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
      if ((rc = arrival(R, m, err)) < 0) return rc;
    } else if (t == tp) {
      if ((rc = sl_probe_run(&R->probe, t, &R->fleet, &R->gw, err)) < 0) return rc;
    } else if (t == tk) {
      return 1; // the controller ticks now; failures it causes are seen on the next call
    } else if (t == tb) {
      if (close_bin(R, t) < 0) return sl_err(err, SL_ENOMEM, "out of memory");
    } else {
      break; // nothing left
    }
    if (R->failed || R->fleet.oom)
      return R->failed ? sl_err(err, R->ferr.code, "%s", R->ferr.msg)
                       : sl_err(err, SL_ENOMEM, "out of memory");
    if (o->progress && (++R->nevents & 0xffff) == 0) progress(R, t, R->t0, &R->last_print);
  }
  R->done = 1;
  return 0;
}

// ---- assembly
// ------------------------------------------------------------------------------------

int sl_sim_world_new(sl_sim_t *s, sl_store_t *store, double scrape_interval, double lag,
                     sl_sim_result_t *res, sl_sim_world_t **out, sl_err_t *err) {
  return sl_sim_world_new_cfg(s, store, scrape_interval, lag, NULL, res, out, err);
}

int sl_sim_world_new_cfg(sl_sim_t *s, sl_store_t *store, double scrape_interval, double lag,
                         const sl_sim_world_cfg_t *wc, sl_sim_result_t *res, sl_sim_world_t **out,
                         sl_err_t *err) {
  const sl_sim_opts_t *o = &s->o;
  const sl_cluster_t *cl = o->cluster;
  int nv = cl->cfg.nvariants, rc = SL_OK;
  sl_sim_world_t *R = calloc(1, sizeof *R);
  if (!R) return sl_err(err, SL_ENOMEM, "out of memory");
  R->sim = s;
  R->o = o;
  R->cl = cl;
  R->store = store;
  R->res = res;
  R->rec = &res->rec;
  if (wc) R->wc = *wc;
  R->until = o->duration > 0 ? o->duration : INFINITY;
  R->control = 1;
  R->source = (sl_source_t){.name = "simulator", .advance = advance, .ud = R};
  R->act = (sl_actuator_t){"sim", act_scale, NULL, R};
  R->obs = (sl_observer_t){.outcome = on_outcome, .ud = R};
  sl_inflight_pool_init(&R->pool);
  R->ready = calloc((size_t)nv, sizeof *R->ready);
  if (!R->ready || sl_lhist_init(&R->ttft, 7) < 0 || sl_lhist_init(&R->itl, 7) < 0 ||
      sl_lhist_init(&R->e2e, 7) < 0) {
    rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto fail;
  }
  if ((rc = sl_gateway_init(&R->gw, cl->nmodels, &R->pool, cl->queue_threshold, cl->kv_threshold,
                            cl->drop_timeout)) < 0) {
    rc = sl_err(err, rc, "out of memory");
    goto fail;
  }
  sl_fleet_cb_t cb = {on_phase, on_gone, R};
  if ((rc = sl_fleet_init(&R->fleet, cl, store, &R->pool, on_done, R, &cb, o->seed, err)) < 0)
    goto fail;
  R->fleet.zero_start = R->wc.zero_start;
  if ((rc = sl_probe_init(&R->probe, store, cl, scrape_interval, lag, 0, err)) < 0) goto fail;
  double rbin = o->record_bin_s > 0 ? o->record_bin_s : 60;
  if (!(o->record_bin_s > 0) && s->est_end / rbin > 5000) rbin = ceil(s->est_end / 5000 / 60) * 60;
  if (sl_record_init(R->rec, rbin, nv, cl->nmodels, (size_t)(s->est_end / rbin) + 2) < 0) {
    rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto fail;
  }
  if (!s->have_bins) {
    sl_clair_bins_deinit(&s->bins); // what a failed first run left
    if (sl_clair_bins_init(&s->bins, o->bin_s, cl->nmodels, 0) < 0) {
      rc = sl_err(err, SL_ENOMEM, "out of memory");
      goto fail;
    }
    R->bins = &s->bins;
  }
  if ((rc = merge_open(&R->trace, o, s->rate_scale, err)) < 0) goto fail;
  sl_gateway_set_routing(&R->gw, &cl->routing, o->seed);
  for (int m = 0; m < cl->nmodels; m++) R->gw.m[m].blocks = sl_trace_blocks(R->trace.t[m]);
  // Warm start: the clairvoyant count of the first bin, Ready at time 0 and held there for that
  // first bin (the controller defers the policies until then): policies start deciding once
  // their signals have a minute of traffic behind them, not on the empty servers of time 0.
  const int *warm = R->wc.warm ? R->wc.warm : s->warm;
  for (int v = 0; v < nv; v++) sl_fleet_warm(&R->fleet, v, warm[v], 0);
  R->t0 = R->last_print = wall_now();
  *out = R;
  return SL_OK;
fail:
  sl_sim_world_free(R);
  return rc;
}

sl_source_t *sl_sim_world_source(sl_sim_world_t *w) {
  return &w->source;
}

sl_actuator_t *sl_sim_world_actuator(sl_sim_world_t *w) {
  return &w->act;
}

sl_observer_t *sl_sim_world_observer(sl_sim_world_t *w) {
  return w->o->decisions ? &w->obs : NULL;
}

void sl_sim_world_finish(sl_sim_world_t *R, sl_err_t *err) {
  sl_sim_t *s = R->sim;
  sl_sim_result_t *res = R->res;
  if (R->o->progress && wall_now() - R->t0 >= 3 && isatty(2)) fprintf(stderr, "\n");
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
  res->e2e_p99_ms = sl_lhist_quantile(&R->e2e, 0.99) * 1e3;
  res->ttft_mean_ms = R->ttft.n ? R->ttft_sum / (double)R->ttft.n * 1e3 : NAN;
  res->itl_mean_ms = R->itl.n ? R->itl_sum / (double)R->itl.n * 1e3 : NAN;
  res->e2e_mean_ms = R->e2e.n ? R->e2e_sum / (double)R->e2e.n * 1e3 : NAN;
  // Only a trace that names prompt blocks can hit a prefix cache.
  int blocks = 0;
  for (int m = 0; m < R->trace.n; m++) {
    const sl_blocks_t *b = sl_trace_blocks(R->trace.t[m]);
    blocks |= b && b->n > 1;
  }
  res->prefix_hit_rate = blocks && res->prefix_prompt_tokens > 0
                             ? res->prefix_hit_tokens / res->prefix_prompt_tokens
                             : NAN;
  res->peak_replicas = R->fleet.peak_pods;
  res->peak_gpus = R->fleet.peak_gpus;
}

void sl_sim_world_free(sl_sim_world_t *R) {
  if (!R) return;
  merge_free(&R->trace);
  sl_probe_deinit(&R->probe);
  sl_fleet_deinit(&R->fleet);
  sl_gateway_deinit(&R->gw);
  sl_inflight_pool_deinit(&R->pool);
  sl_lhist_deinit(&R->ttft);
  sl_lhist_deinit(&R->itl);
  sl_lhist_deinit(&R->e2e);
  free(R->log);
  free(R->ready);
  free(R);
}
