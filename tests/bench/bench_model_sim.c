// The queueing kernel (step profile llama-3.1-8b/h100) against the simulated vLLM server that
// replays the same step function (core/sim/replica.h), under open-loop Poisson arrivals: per token
// mix and engine setting, the saturation rate and mean TTFT / ITL from 20% to 95% of saturation,
// then what one replica sustains under the built-in scenario's interactive SLO (TTFT 1 s, ITL
// 50 ms, per request). Prints markdown tables (docs/kernels.md quotes them).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/model/queue.h"
#include "tests/bench/openloop.h"

typedef struct {
  const char *name;
  ol_mix_t mix; // in_mean 0: the simulator's Azure conversation fit
  int budget;
  double kv;
} case_t;

static void tokens(const ol_mix_t *m, sl_trace_tokens_t *t) {
  sl_err_t err;
  if (m->in_mean > 0)
    ol_tokens(m, t);
  else
    sl_trace_tokens_parse("azure", t, &err);
}

// The kernel for the mix a run realised (means and spreads) on cfg's engine.
static sl_queue_t *kernel(const sl_replica_cfg_t *cfg, const ol_result_t *o) {
  sl_perf_t perf;
  sl_perf_from_step(&cfg->step, &perf);
  sl_shape_t shape = {.max_batch = cfg->max_num_seqs,
                      .max_queue = -1,
                      .in_tokens = o->in_mean,
                      .out_tokens = o->out_mean,
                      .in_cv = sqrt(fmax(0, o->in_sq - o->in_mean * o->in_mean)) / o->in_mean,
                      .out_cv = sqrt(fmax(0, o->out_sq - o->out_mean * o->out_mean)) / o->out_mean,
                      .max_batched_tokens = cfg->max_num_batched_tokens,
                      .kv_tokens = cfg->kv_capacity};
  sl_err_t err;
  sl_queue_t *q = sl_queue_new(&perf, &shape, &err);
  if (!q) fprintf(stderr, "bench_model_sim: %s\n", err.msg);
  return q;
}

int main(void) {
  long n = getenv("BENCH_N") ? atol(getenv("BENCH_N")) : 200000;
  static const case_t cases[] = {
      {"128/128", {"", 128, 128, 0.6, 0.6}, 8192, 440000},
      {"Azure conv", {"", 0, 0, 0, 0}, 8192, 440000},
      {"4096/256 (KV-bound)", {"", 4096, 256, 0.6, 0.6}, 8192, 440000},
      {"256/1024", {"", 256, 1024, 0.6, 0.6}, 8192, 440000},
      {"2000/20", {"", 2000, 20, 0.5, 0.5}, 8192, 440000},
      {"Azure conv, budget 2048", {"", 0, 0, 0, 0}, 2048, 440000},
      {"Azure conv, budget 512", {"", 0, 0, 0, 0}, 512, 440000},
      {"8000/200, budget 2048", {"", 8000, 200, 0.3, 0.3}, 2048, 1e9},
      {"Azure conv, KV 200k (KV-bound)", {"", 0, 0, 0, 0}, 8192, 200000},
  };
  static const double loads[] = {0.2, 0.4, 0.6, 0.8, 0.9, 0.95};
  printf("Llama-3.1-8B/H100 step profile; one simulated server, 256 seats; lognormal lengths "
         "(sigma 0.6 unless named); %ld requests per point\n\n",
         n);
  printf("| mix | saturation sim / kernel | load | TTFT sim / kernel ms | ITL sim / kernel ms |\n");
  printf("| --- | --- | ---: | --- | --- |\n");
  double t0 = clock();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const case_t *c = &cases[i];
    sl_replica_cfg_t cfg = {sl_step_llama31_8b_h100, 256, c->budget, c->kv};
    sl_trace_tokens_t tok;
    tokens(&c->mix, &tok);
    double sat = ol_saturation(&cfg, &tok, 5000, 50000, 7);
    for (size_t k = 0; k < sizeof loads / sizeof loads[0]; k++) {
      ol_result_t o;
      ol_run(&cfg, &tok, loads[k] * sat, n / 10, n, 11 + k, 1 << 30, &o);
      sl_queue_t *q = kernel(&cfg, &o);
      if (!q) return 1;
      sl_pred_t p;
      sl_err_t err;
      sl_queue_predict(q, loads[k] * sat, 0, &p, &err);
      char satcol[64] = "";
      if (k == 0) {
        double lim = sl_queue_rate_limit(q) / 0.999;
        snprintf(satcol, sizeof satcol, "%.2f / %.2f (%+.1f%%)", sat, lim, 100 * (lim / sat - 1));
      }
      printf("| %s | %s | %.0f%% | %.1f / %.1f (%+.0f%%) | %.2f / %.2f (%+.0f%%) |\n",
             k == 0 ? c->name : "", satcol, loads[k] * 100, o.ttft_ms, p.ttft_ms,
             100 * (p.ttft_ms / o.ttft_ms - 1), o.itl_ms, p.itl_ms,
             100 * (p.itl_ms / o.itl_ms - 1));
      sl_queue_free(q);
    }
  }

  // One replica under the interactive SLO at Azure lengths: the kernel's highest rate for the
  // targets on means and on p99, and the share of requests the simulated server keeps within
  // the SLO at those rates; and the rate at which it keeps 99% (bisection on the simulator).
  printf("\nAzure conv lengths, SLO TTFT 1000 ms and ITL 50 ms per request:\n\n");
  printf("| rate from | req/s | sim TTFT ms | sim ITL ms | requests within the SLO |\n");
  printf("| --- | ---: | ---: | ---: | ---: |\n");
  sl_replica_cfg_t cfg = {sl_step_llama31_8b_h100, 256, 8192, 440000};
  sl_trace_tokens_t tok;
  tokens(&cases[1].mix, &tok);
  const double slo[2] = {1000, 50};
  ol_result_t o;
  ol_run_slo(&cfg, &tok, 10, n / 10, n, 3, 1 << 30, slo, &o);
  sl_queue_t *q = kernel(&cfg, &o);
  if (!q) return 1;
  for (int pct = 0; pct < 2; pct++) {
    sl_slo_t s = {.ttft_ms = slo[0], .itl_ms = slo[1], .percentile = pct ? 0.99 : 0};
    double r;
    sl_limit_t lim;
    sl_err_t err;
    sl_queue_max_rate(q, &s, &r, &lim, &err);
    ol_run_slo(&cfg, &tok, r, n / 10, n, 5, 1 << 30, slo, &o);
    printf("| kernel, targets on %s (%s binds) | %.2f | %.1f | %.2f | %.2f%% |\n",
           pct ? "p99" : "means", sl_queue_limit_name(lim), r, o.ttft_ms, o.itl_ms, o.met * 100);
  }
  double lo = 1, hi = sl_queue_rate_limit(q);
  for (int it = 0; it < 12; it++) {
    double mid = 0.5 * (lo + hi);
    ol_run_slo(&cfg, &tok, mid, n / 10, n, 5, 1 << 30, slo, &o);
    if (o.met >= 0.99)
      lo = mid;
    else
      hi = mid;
  }
  ol_run_slo(&cfg, &tok, lo, n / 10, n, 5, 1 << 30, slo, &o);
  printf("| simulator, 99%% within the SLO | %.2f | %.1f | %.2f | %.2f%% |\n", lo, o.ttft_ms,
         o.itl_ms, o.met * 100);
  sl_queue_free(q);
  printf("\n%.1f s of CPU\n", (clock() - t0) / CLOCKS_PER_SEC);
  return 0;
}
