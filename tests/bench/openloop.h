// One simulated model server (core/sim/replica.h) under open-loop Poisson arrivals with lognormal
// token lengths: mean TTFT and ITL as a client measures them, throughput, and the saturation
// rate. Shared by the kernel-against-simulator test and benchmark, which compare the queueing
// kernel's predictions (core/model/queue.h) with these. Header-only: both are single-file
// programs.
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/sim/replica.h"
#include "core/sim/trace.h"
#include "core/util/rng.h"

// A token mix: lognormal lengths with these means and log-space spreads (sigma 0 = fixed).
typedef struct {
  const char *name;
  double in_mean, out_mean;
  double in_sigma, out_sigma;
} ol_mix_t;

typedef struct {
  double rate;              // offered, req/s
  double throughput;        // completions per second over the measured window
  double ttft_ms, itl_ms;   // means over measured requests (ITL: per-request mean, out > 1)
  double in_mean, out_mean; // realised token means of the measured requests
  double in_sq, out_sq;     // and second moments
  long measured;            // requests in the means
  int saturated;            // the waiting queue grew without bound
  double met;               // share of measured requests within the SLO given to ol_run
} ol_result_t;

typedef struct {
  sl_inflight_pool_t pool;
  double t_from; // requests arriving from then on are measured
  double request_ms;
  double slo_ttft_ms, slo_itl_ms;
  double sum_ttft, sum_itl, sum_in, sum_out, sum_in2, sum_out2;
  long n, n_itl, done, met;
} ol_state_t;

static void ol_done(void *ud, sl_replica_t *r, int32_t id, double t, sl_replica_outcome_t o) {
  ol_state_t *s = ud;
  sl_inflight_t *q = &s->pool.r[id];
  s->done++;
  if (o == SL_REPLICA_FINISHED && q->t_arrive >= s->t_from) {
    s->n++;
    double ttft = q->t_first - q->t_arrive + s->request_ms * 1e-3;
    double itl = q->out > 1 ? (t - q->t_first) / (q->out - 1) : 0;
    s->sum_ttft += ttft;
    if (q->out > 1) {
      s->sum_itl += itl;
      s->n_itl++;
    }
    // The simulator's SLO: TTFT and the request's own mean inter-token latency.
    s->met += ttft * 1e3 <= s->slo_ttft_ms && itl * 1e3 <= s->slo_itl_ms;
    s->sum_in += q->in, s->sum_out += q->out;
    s->sum_in2 += (double)q->in * q->in, s->sum_out2 += (double)q->out * q->out;
  }
  sl_inflight_release(&s->pool, id);
}

static inline void ol_tokens(const ol_mix_t *m, sl_trace_tokens_t *t) {
  memset(t, 0, sizeof *t);
  if (m->in_sigma == 0 && m->out_sigma == 0) {
    t->fixed = 1;
    t->in_n = (uint32_t)m->in_mean;
    t->out_n = (uint32_t)m->out_mean;
    return;
  }
  t->in_mu = log(m->in_mean) - m->in_sigma * m->in_sigma / 2;
  t->in_sigma = m->in_sigma;
  t->out_mu = log(m->out_mean) - m->out_sigma * m->out_sigma / 2;
  t->out_sigma = m->out_sigma;
  t->in_max = t->out_max = 4294967295.0;
}

// Runs `warm` + `n` Poisson arrivals at `rate` req/s and measures the last n of them (every one
// runs to completion), and the share within an SLO of slo[0] ms TTFT and slo[1] ms mean ITL
// (slo may be NULL). Stops early, marking the result saturated, when more than `max_waiting`
// requests wait in the server.
static inline void ol_run_slo(const sl_replica_cfg_t *cfg, const sl_trace_tokens_t *tok,
                              double rate, long warm, long n, uint64_t seed, int max_waiting,
                              const double *slo, ol_result_t *out) {
  ol_state_t s;
  memset(&s, 0, sizeof s);
  if (slo) s.slo_ttft_ms = slo[0], s.slo_itl_ms = slo[1];
  sl_inflight_pool_init(&s.pool);
  s.t_from = INFINITY;
  s.request_ms = cfg->step.request_ms;
  sl_replica_t r;
  sl_replica_init(&r, cfg, &s.pool, ol_done, &s);
  sl_rng_t rng;
  sl_rng_seed(&rng, seed);
  memset(out, 0, sizeof *out);
  out->rate = rate;
  double t = 0, t_meas0 = 0, t_meas1 = 0;
  for (long i = 0; i < warm + n; i++) {
    t += sl_rng_exp(&rng, rate);
    while (sl_replica_next_event(&r) <= t) sl_replica_advance(&r);
    if (r.n_waiting > max_waiting) {
      out->saturated = 1;
      break;
    }
    if (i == warm) s.t_from = t_meas0 = t;
    int32_t id = sl_inflight_alloc(&s.pool);
    sl_inflight_t *q = &s.pool.r[id];
    uint32_t in, o;
    sl_trace_tokens_draw(tok, &rng, &in, &o);
    q->t_arrive = t;
    q->in = in;
    q->out = o;
    sl_replica_submit(&r, id, t);
  }
  t_meas1 = t;
  while (sl_replica_next_event(&r) < INFINITY) sl_replica_advance(&r);
  if (!out->saturated && s.n > 0) {
    out->ttft_ms = s.sum_ttft / s.n * 1e3;
    out->itl_ms = s.n_itl ? s.sum_itl / s.n_itl * 1e3 : 0;
    out->in_mean = s.sum_in / s.n;
    out->out_mean = s.sum_out / s.n;
    out->in_sq = s.sum_in2 / s.n;
    out->out_sq = s.sum_out2 / s.n;
    out->throughput = s.n / (t_meas1 - t_meas0);
    out->met = (double)s.met / s.n;
  }
  out->measured = s.n;
  sl_replica_deinit(&r);
  sl_inflight_pool_deinit(&s.pool);
}

static inline void ol_run(const sl_replica_cfg_t *cfg, const sl_trace_tokens_t *tok, double rate,
                          long warm, long n, uint64_t seed, int max_waiting, ol_result_t *out) {
  ol_run_slo(cfg, tok, rate, warm, n, seed, max_waiting, NULL, out);
}

// The saturation rate: completions per second of a server that always has work waiting (the
// waiting queue is topped up to 64 requests), over `n` completions after `warm`.
static inline double ol_saturation(const sl_replica_cfg_t *cfg, const sl_trace_tokens_t *tok,
                                   long warm, long n, uint64_t seed) {
  ol_state_t s;
  memset(&s, 0, sizeof s);
  sl_inflight_pool_init(&s.pool);
  s.t_from = INFINITY;
  sl_replica_t r;
  sl_replica_init(&r, cfg, &s.pool, ol_done, &s);
  sl_rng_t rng;
  sl_rng_seed(&rng, seed);
  int backlog = 64;
  double t = 0, t0 = 0;
  long d0 = 0;
  for (;;) {
    while (r.n_waiting < backlog) {
      int32_t id = sl_inflight_alloc(&s.pool);
      sl_inflight_t *q = &s.pool.r[id];
      uint32_t in, o;
      sl_trace_tokens_draw(tok, &rng, &in, &o);
      q->t_arrive = t;
      q->in = in;
      q->out = o;
      sl_replica_submit(&r, id, t);
    }
    if (s.done >= warm && d0 == 0) d0 = s.done, t0 = t;
    if (d0 > 0 && s.done - d0 >= n) break;
    t = sl_replica_next_event(&r);
    sl_replica_advance(&r);
  }
  double rate = (s.done - d0) / (t - t0);
  sl_replica_cut(&r, t);
  sl_replica_deinit(&r);
  sl_inflight_pool_deinit(&s.pool);
  return rate;
}
