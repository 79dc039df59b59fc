// Latency-model kernels: time per max_rate call for N = 256, K = 2,816 (the default 10 N queue)
// with mean targets (target < 1 ms) and with p99 targets, per profile kind; for the step kind also
// at Azure-conv lengths (with their spread and a KV cache) and including the queue's set-up, as a
// Lua call to model.max_rate pays it; and the cost of one prediction and of one step-time
// evaluation.
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "core/model/queue.h"
#include "core/model/step.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Sets per_call to the seconds per run of body: the best of 5 rounds of at least 0.1 s each, so
// a busy machine inflates the figure less.
#define TIME_CALLS(per_call, body)                                                                 \
  do {                                                                                             \
    per_call = INFINITY;                                                                           \
    for (int round_ = 0; round_ < 5; round_++) {                                                   \
      double t0_ = now_s(), el_;                                                                   \
      long n_ = 0;                                                                                 \
      do {                                                                                         \
        body;                                                                                      \
        n_++;                                                                                      \
      } while ((el_ = now_s() - t0_) < 0.1);                                                       \
      if (el_ / n_ < per_call) per_call = el_ / n_;                                                \
    }                                                                                              \
  } while (0)

int main(void) {
  sl_err_t err;
  sl_shape_t shape = {.max_batch = 256, .max_queue = 2560, .in_tokens = 512, .out_tokens = 256};
  const sl_perf_t *profiles[] = {sl_perf_builtin("llama-3.1-8b/h100:4p"),
                                 sl_perf_builtin("llama-3.1-8b/h100:3p"),
                                 sl_perf_builtin("llama-3.1-8b/h100")};
  printf("max_rate, N = %d, K = %d, %g in / %g out tokens (target < 1 ms per call with mean "
         "targets)\n",
         shape.max_batch, shape.max_batch + shape.max_queue, shape.in_tokens, shape.out_tokens);
  printf("  %-22s %-6s %10s %10s %10s %-10s %10s\n", "profile", "slo", "ttft_ms", "itl_ms",
         "max_rate", "limit", "us/call");
  volatile double sink = 0;
  for (int i = 0; i < 3; i++) {
    sl_queue_t *q = sl_queue_new(profiles[i], &shape, &err);
    if (!q) {
      fprintf(stderr, "bench_model: %s\n", err.msg);
      return 1;
    }
    // The same targets as means and as p99: 3x the TTFT and 1.5x the ITL of a lightly loaded
    // replica.
    sl_pred_t at;
    sl_queue_predict(q, 0.01 * sl_queue_rate_limit(q), 0, &at, &err);
    sl_slo_t mean = {.ttft_ms = 3 * at.ttft_ms, .itl_ms = 1.5 * at.itl_ms};
    sl_slo_t p99 = {.ttft_ms = 3 * at.ttft_ms, .itl_ms = 1.5 * at.itl_ms, .percentile = 0.99};
    const sl_slo_t *slos[] = {&mean, &p99};
    const char *names[] = {"mean", "p99"};
    for (int s = 0; s < 2; s++) {
      double r = 0, per;
      sl_limit_t lim = SL_LIMIT_STABILITY;
      TIME_CALLS(per, {
        sl_queue_max_rate(q, slos[s], &r, &lim, &err);
        sink += r;
      });
      printf("  %-22s %-6s %10.4g %10.4g %10.4g %-10s %10.1f\n", profiles[i]->name, names[s],
             slos[s]->ttft_ms, slos[s]->itl_ms, r, sl_queue_limit_name(lim), per * 1e6);
    }
    double per;
    sl_pred_t o;
    TIME_CALLS(per, {
      sl_queue_predict(q, 0.7 * sl_queue_rate_limit(q), 0, &o, &err);
      sink += o.ttft_ms;
    });
    printf("  %-22s predict (means) %.2f us/call\n", profiles[i]->name, per * 1e6);
    TIME_CALLS(per, {
      sl_queue_predict(q, 0.7 * sl_queue_rate_limit(q), 0.99, &o, &err);
      sink += o.ttft_p_ms;
    });
    printf("  %-22s predict (p99)   %.2f us/call\n", profiles[i]->name, per * 1e6);
    sl_queue_free(q);
  }
  // The step kind as policies and the clairvoyant use it: Azure-conv lengths with their spread, a
  // 440k-token KV cache, vLLM's 8192-token budget; set-up (knot tables) plus the search.
  sl_shape_t az = {.max_batch = 256,
                   .max_queue = -1,
                   .in_tokens = 1196,
                   .out_tokens = 211,
                   .in_cv = 0.67,
                   .out_cv = 0.96,
                   .kv_tokens = 440000};
  const sl_perf_t *sp = sl_perf_builtin("llama-3.1-8b/h100");
  printf("step profile, Azure conv lengths (1196 in cv 0.67, 211 out cv 0.96), N 256, KV 440k:\n");
  for (int pct = 0; pct < 2; pct++) {
    sl_slo_t slo = {.ttft_ms = 1000, .itl_ms = 50, .percentile = pct ? 0.99 : 0};
    double per_init, per_all, r = 0;
    sl_limit_t lim = SL_LIMIT_STABILITY;
    TIME_CALLS(per_init, {
      sl_queue_t *q = sl_queue_new(sp, &az, &err);
      sink += q->mu_n;
      sl_queue_free(q);
    });
    TIME_CALLS(per_all, {
      sl_queue_t *q = sl_queue_new(sp, &az, &err);
      sl_queue_max_rate(q, &slo, &r, &lim, &err);
      sink += r;
      sl_queue_free(q);
    });
    printf("  ttft 1000 ms, itl 50 ms (%s): max_rate %.4g req/s (%s), set-up %.1f us, set-up + "
           "max_rate %.1f us per call\n",
           pct ? "p99" : "means", r, sl_queue_limit_name(lim), per_init * 1e6, per_all * 1e6);
  }
  // The simulator's inner loop: one step time per engine step.
  const sl_step_t *st = &sl_step_llama31_8b_h100;
  double per;
  long steps = 0;
  TIME_CALLS(per, {
    for (int b = 1; b <= 1000; b++) sink += sl_step_ms(st, b & 255, (b & 255) * 1500.0, b & 511);
    steps += 1000;
  });
  printf("step time: %.2f ns per sl_step_ms call\n", per / 1000 * 1e9);
  (void)steps;
  return sink < 0;
}
