// The simulator's request path without the control plane: one simulated Llama-3.1-8B/H100 server
// fed Poisson arrivals with Azure-conv token lengths, in ns of wall time per request and per
// engine step; and the histogram costs per observation.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/model/step.h"
#include "core/sim/lhist.h"
#include "core/sim/replica.h"
#include "core/sim/trace.h"
#include "core/util/rng.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static sl_inflight_pool_t pool;
static long finished;

static void done(void *ud, sl_replica_t *r, int32_t id, double t, sl_replica_outcome_t o) {
  finished++;
  sl_inflight_release(&pool, id);
}

int main(void) {
  sl_trace_tokens_t tok;
  sl_err_t err;
  if (sl_trace_tokens_parse("azure", &tok, &err) < 0) {
    fprintf(stderr, "bench_sim: %s\n", err.msg);
    return 1;
  }
  printf("one simulated server (Llama-3.1-8B/H100, Azure conv token lengths), Poisson arrivals\n");
  printf("  %8s %10s %12s %12s %10s\n", "req/s", "requests", "ns/request", "steps/req", "ns/step");
  double rates[] = {5, 10, 18};
  for (int k = 0; k < 3; k++) {
    sl_inflight_pool_init(&pool);
    sl_replica_cfg_t cfg = {sl_step_llama31_8b_h100, 256, 8192, 436000};
    sl_replica_t r;
    sl_replica_init(&r, &cfg, &pool, done, NULL);
    sl_rng_t rng;
    sl_rng_seed(&rng, 42);
    long n = getenv("BENCH_N") ? atol(getenv("BENCH_N")) : 1000000;
    double t = 0, t0 = now_s();
    for (long i = 0; i < n; i++) {
      t += sl_rng_exp(&rng, rates[k]);
      while (sl_replica_next_event(&r) <= t) sl_replica_advance(&r);
      int32_t id = sl_inflight_alloc(&pool);
      sl_inflight_t *q = &pool.r[id];
      uint32_t in, out;
      sl_trace_tokens_draw(&tok, &rng, &in, &out);
      q->t_arrive = t;
      q->in = in;
      q->out = out;
      sl_replica_submit(&r, id, t);
    }
    while (sl_replica_next_event(&r) < 1e300) sl_replica_advance(&r);
    double el = now_s() - t0;
    printf("  %8.0f %10ld %12.0f %12.1f %10.1f\n", rates[k], finished, el / n * 1e9,
           (double)r.steps / n, el / r.steps * 1e9);
    finished = 0;
    sl_replica_deinit(&r);
    sl_inflight_pool_deinit(&pool);
  }
  sl_lhist_t h;
  sl_lhist_init(&h, 7);
  sl_rng_t rng;
  sl_rng_seed(&rng, 1);
  double t0 = now_s();
  for (int i = 0; i < 10000000; i++) sl_lhist_add(&h, 0.001 + (i & 1023) * 1e-4);
  printf("log histogram: %.1f ns per value added\n", (now_s() - t0) / 1e7 * 1e9);
  sl_lhist_deinit(&h);
  return 0;
}
