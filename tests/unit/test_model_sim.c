// The queueing kernel with the calibrated step profile against the simulated vLLM server that
// replays the same step function step by step (core/sim/replica.h): open-loop Poisson arrivals
// with lognormal lengths, four token mixes, 20-80% of the server's measured saturation. Mean ITL
// within 10%, mean TTFT within 20%, saturation within 10% (12% for the one mix where the KV cache,
// not the seats, is the limit: there vLLM recomputes preempted prompts, which the kernel puts at
// out - 1 tokens per request, and spread-out prompts get preempted more). The longer sweep (more
// mixes, budgets, 95% load) is bench_model_sim; docs/kernels.md has its table.
#include <math.h>
#include <stdio.h>

#include "core/model/queue.h"
#include "tests/bench/openloop.h"
#include "tests/unit/tap.h"

int main(void) {
  // Lognormal lengths with these means and log-space spreads; "azure" is the simulator's default
  // fit to the Azure conversation trace (input mean about 1200, output about 211).
  static const ol_mix_t mixes[] = {
      {"128/128", 128, 128, 0.6, 0.6},
      {"azure", 0, 0, 0, 0},
      {"4096/256", 4096, 256, 0.6, 0.6},
      {"256/1024", 256, 1024, 0.6, 0.6},
  };
  static const double loads[] = {0.2, 0.4, 0.6, 0.8};
  // One Llama-3.1-8B server on an H100: 256 seats, an 8192-token budget, 440k tokens of KV (the
  // 4096/256 mix is KV-bound: about 100 requests fit).
  sl_replica_cfg_t cfg = {sl_step_llama31_8b_h100, 256, 8192, 440000};
  sl_perf_t perf;
  sl_perf_from_step(&cfg.step, &perf);
  printf("# mix        load   req/s | TTFT sim  kernel   err | ITL sim kernel   err\n");
  for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++) {
    const ol_mix_t *mx = &mixes[i];
    sl_trace_tokens_t tok;
    sl_err_t err;
    if (mx->in_mean > 0)
      ol_tokens(mx, &tok);
    else
      sl_trace_tokens_parse("azure", &tok, &err);
    double sat = ol_saturation(&cfg, &tok, 5000, 50000, 7);
    for (size_t k = 0; k < sizeof loads / sizeof loads[0]; k++) {
      ol_result_t o;
      ol_run(&cfg, &tok, loads[k] * sat, 10000, 100000, 11 + k, 100000, &o);
      // The kernel sees what a policy or the clairvoyant would: the mix's means and spreads, and
      // the engine's seats, KV cache and budget.
      sl_shape_t shape = {.max_batch = cfg.max_num_seqs,
                          .max_queue = -1,
                          .in_tokens = o.in_mean,
                          .out_tokens = o.out_mean,
                          .in_cv = sqrt(o.in_sq - o.in_mean * o.in_mean) / o.in_mean,
                          .out_cv = sqrt(o.out_sq - o.out_mean * o.out_mean) / o.out_mean,
                          .max_batched_tokens = cfg.max_num_batched_tokens,
                          .kv_tokens = cfg.kv_capacity};
      sl_queue_t *q = sl_queue_new(&perf, &shape, &err);
      T_OK(q != NULL, "%s: the kernel builds", mx->name);
      if (!q) continue;
      if (k == 0) {
        double lim = sl_queue_rate_limit(q) / 0.999;
        printf("# %-9s saturation: simulated %.2f req/s, kernel %.2f (%+.1f%%)\n", mx->name, sat,
               lim, 100 * (lim / sat - 1));
        double tol = q->kv_bound ? 0.12 : 0.10;
        T_OK(fabs(lim / sat - 1) <= tol,
             "%s: saturation %.2f req/s within %.0f%% of the "
             "simulated %.2f",
             mx->name, lim, tol * 100, sat);
      }
      sl_pred_t p;
      sl_queue_predict(q, loads[k] * sat, 0, &p, &err);
      double et = p.ttft_ms / o.ttft_ms - 1, ei = p.itl_ms / o.itl_ms - 1;
      printf("# %-9s %4.0f%% %7.2f | %8.1f %7.1f %+5.1f%% | %7.2f %6.2f %+5.1f%%\n", mx->name,
             loads[k] * 100, loads[k] * sat, o.ttft_ms, p.ttft_ms, et * 100, o.itl_ms, p.itl_ms,
             ei * 100);
      T_OK(!o.saturated && o.measured == 100000, "%s at %.0f%%: the server kept up", mx->name,
           loads[k] * 100);
      T_OK(fabs(ei) <= 0.10, "%s at %.0f%%: ITL %.2f ms within 10%% of the simulated %.2f",
           mx->name, loads[k] * 100, p.itl_ms, o.itl_ms);
      T_OK(fabs(et) <= 0.20, "%s at %.0f%%: TTFT %.1f ms within 20%% of the simulated %.1f",
           mx->name, loads[k] * 100, p.ttft_ms, o.ttft_ms);
      sl_queue_free(q);
    }
  }
  return tap_done();
}
