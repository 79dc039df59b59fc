// The step kind's engine under load (core/model/stepmix.h) and the chain built on it: the step
// mix against a Monte-Carlo run of the same steps at a fixed decode batch, the solver's limits,
// and the queue's interpolation and one-pass chain against an every-state long-double chain.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/queue.h"
#include "core/model/stepmix.h"
#include "core/util/rng.h"
#include "tests/unit/tap.h"

static const sl_step_t *S = &sl_step_llama31_8b_h100;

// ---- Monte Carlo of the steps at a fixed decode batch -------------------------------------------

typedef struct {
  double step;  // mean engine step, ms
  double ttft;  // mean arrival -> end of the step with its prompt's last chunk, ms
  double itl_l; // mean over prompts of the mean of the `len` steps after their first token
} mc_t;

// Engine steps back to back with `d` requests decoding (each holding `ctx` tokens); prompts
// arrive Poisson at `lam` per ms with lognormal lengths (mean `in`, coefficient of variation
// `cv`), wait FCFS and take what the budget leaves after the decodes, in chunks.
static void mc_steps(double d, double ctx, double lam, double in, double cv, int budget, int len,
                     long steps, mc_t *o) {
  enum { Q = 1 << 16 };
  static double plen[Q], done[Q], arr[Q];
  static double hist[Q]; // step times, for the window after each first token
  static long first[Q];  // step index of each finished prompt's first token
  long nfirst = 0;
  int head = 0, tail = 0;
  sl_rng_t rng;
  sl_rng_seed(&rng, 11);
  double s2 = log1p(cv * cv), mu = log(in) - s2 / 2;
  double now = 0, next = sl_rng_exp(&rng, lam * 1000) * 1000;
  double sum_t = 0, sum_ttft = 0, sum_win = 0;
  long n_t = 0, n_ttft = 0, n_win = 0, warm = steps / 20;
  for (long k = 0; k < steps; k++) {
    while (next <= now) {
      plen[tail] = fmax(1, round(exp(mu + sqrt(s2) * sl_rng_normal(&rng))));
      done[tail] = 0;
      arr[tail] = next;
      tail = (tail + 1) % Q;
      next += sl_rng_exp(&rng, lam * 1000) * 1000;
    }
    double room = budget - d, p = 0, pairs = 0;
    int fin = 0;
    for (int i = head; i != tail && room > 0; i = (i + 1) % Q) {
      double c = fmin(plen[i] - done[i], room);
      pairs += c * (done[i] + c / 2);
      p += c, room -= c, done[i] += c;
      if (done[i] >= plen[i]) fin++;
    }
    double t = sl_step_ms_ex(S, d, d * ctx, p, pairs);
    now += t;
    hist[k % Q] = t;
    for (int j = 0; j < fin; j++, head = (head + 1) % Q) {
      if (k < warm) continue;
      sum_ttft += now - arr[head], n_ttft++;
      first[nfirst++ % Q] = k;
    }
    // Windows of `len` steps after a first token, closed in order.
    while (n_win < nfirst && first[n_win % Q] + len <= k) {
      long f = first[n_win % Q];
      double w = 0;
      for (long j = f + 1; j <= f + len; j++) w += hist[j % Q];
      sum_win += w / len;
      n_win++;
    }
    if (k >= warm) sum_t += t, n_t++;
  }
  o->step = sum_t / n_t;
  o->ttft = sum_ttft / n_ttft;
  o->itl_l = sum_win / n_win;
}

static void against_monte_carlo(void) {
  struct {
    const char *name;
    double in, cv, out, d, lam;
    int budget;
  } cases[] = {
      // Short prompts: mixed steps stay memory-bound until several prompts share one.
      {"128 tokens, 106 req/s", 128, 0.65, 128, 150, 0.106, 8192},
      // Azure-like prompts at 80% of saturation: most steps compute-bound.
      {"1200 tokens, 18 req/s", 1200, 0.67, 211, 100, 0.018, 8192},
      // Long prompts, some over the budget.
      {"4096 tokens, 4.2 req/s", 4096, 0.65, 256, 28, 0.0042, 8192},
      // Prompts four times the budget: every prompt is a run of chunks.
      {"8000 tokens, budget 2048", 8000, 0.3, 200, 10, 0.0025, 2048},
      // Short outputs: a request's steps follow its own prefill closely.
      {"2000 tokens, 20 out", 2000, 0.53, 20, 14, 0.015, 8192},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sl_stepmix_t m;
    sl_stepmix_init(&m, S, cases[i].in, cases[i].cv, cases[i].out, 0, cases[i].budget);
    sl_stepmix_at_t a;
    sl_stepmix_at(&m, cases[i].d, &a);
    sl_stepmix_sol_t o;
    sl_stepmix_solve(&m, &a, cases[i].lam, 0, NULL, &o);
    mc_t mc;
    int len = (int)cases[i].out - 1;
    mc_steps(cases[i].d, m.ctx, cases[i].lam, cases[i].in, cases[i].cv, cases[i].budget, len,
             400000, &mc);
    double ttft = o.resid + o.own;
    printf("# %s: step %.2f / MC %.2f, TTFT %.1f / %.1f, ITL over %d steps %.2f / %.2f\n",
           cases[i].name, o.itl_step, mc.step, ttft, mc.ttft, len, o.itl, mc.itl_l);
    T_OK(fabs(o.itl_step / mc.step - 1) <= 0.03, "%s: mean engine step within 3%% of Monte Carlo",
         cases[i].name);
    T_OK(fabs(ttft / mc.ttft - 1) <= 0.10, "%s: arrival to first token within 10%%", cases[i].name);
    T_OK(fabs(o.itl / mc.itl_l - 1) <= 0.12,
         "%s: a request's mean step over its %d steps within 12%%", cases[i].name, len);
    T_OK(o.iters > 0 && o.iters < 100, "%s: the fixed point converged (%d iterations)",
         cases[i].name, o.iters);
  }
}

static void limits(void) {
  sl_stepmix_t m;
  sl_stepmix_init(&m, S, 1200, 0.67, 211, 0.96, 0);
  T_NEAR(m.budget, SL_STEPMIX_BUDGET, 0, "budget 0 is vLLM's 8192");
  T_NEAR(m.ctx, 1200 + (211 * 211 * (1 + 0.96 * 0.96) - 3 * 211 + 2) / (2 * 210), 1e-9,
         "a decoding request's context: the prompt and, weighted by steps, half its output");
  sl_stepmix_at_t a;
  sl_stepmix_at(&m, 100, &a);
  sl_stepmix_sol_t o;
  sl_stepmix_solve(&m, &a, 0, 0, NULL, &o);
  double decode = sl_step_ms_ex(S, 100, 100 * m.ctx, 0, 0);
  T_NEAR(o.itl, decode, 1e-9, "with no arrivals every step is decode-only");
  T_NEAR(o.resid, decode / 2, 1e-9, "and an arrival waits half a step");
  // The step time rises with the rate, and the fixed point converges up to the room's limit.
  double room_rate = sl_stepmix_room_rate(&m, &a), last = o.itl_step;
  int rises = 1, converges = 1;
  for (int i = 1; i <= 40; i++) {
    sl_stepmix_solve(&m, &a, room_rate * 0.98 * i / 40, 0, NULL, &o);
    rises &= o.itl_step > last;
    converges &= o.iters < 100;
    last = o.itl_step;
  }
  T_OK(rises && converges, "the step time rises with the rate up to 98%% of the room's rate");
  // Admissions per engine step (a saturated server): one prompt per step on average.
  sl_stepmix_solve(&m, &a, 1, 1, NULL, &o);
  T_NEAR(o.prompts, 1, 1e-12, "per-step admissions: the mean prompts per step is the rate");
  sl_stepmix_solve(&m, &a, 0.01, 0, NULL, &o);
  T_NEAR(o.prompts, 0.01 * o.itl_step, 1e-12, "arrivals in time: the rate times the mean step");
  // Prompts that cannot fit: the step time is capped, not infinite.
  sl_stepmix_solve(&m, &a, room_rate * 1.5, 0, NULL, &o);
  T_OK(isfinite(o.itl) && isfinite(o.resid) && o.resid > 1000, "overload is capped (%.3g ms)",
       o.resid);
}

// ---- the queue's chain against every state ------------------------------------------------------

// The chain for a step profile at every batch size, from the documented per-state model, summed
// in long double: returns L_s, the mean TTFT and the token-weighted ITL.
static void every_state(const sl_queue_t *q, double rate, double *ls, double *ttft, double *itl) {
  const sl_stepmix_t *m = &q->mix;
  int n_max = q->n, k_max = q->k;
  double lam = rate / 1000, le = lam < q->mu_n ? lam : q->mu_n;
  double *mu = calloc(n_max + 1, sizeof *mu), *pre = calloc(n_max + 1, sizeof *pre),
         *dec = calloc(n_max + 1, sizeof *dec), *dd = calloc(n_max + 1, sizeof *dd),
         *seat = calloc(n_max + 1, sizeof *seat);
  for (int n = 0; n < n_max; n++) {
    dd[n] = n * sl_stepmix_decoding(m, n);
    sl_stepmix_at_t a;
    sl_stepmix_at(m, dd[n], &a);
    double r = n ? le : 0, cap = SL_QUEUE_PREFILL_HEADROOM * sl_stepmix_room_rate(m, &a);
    sl_stepmix_sol_t o;
    sl_stepmix_solve(m, &a, r < cap ? r : cap, 0, NULL, &o);
    dec[n] = o.itl;
    pre[n] = n ? o.resid + o.own : o.own;
    seat[n] = o.seat;
  }
  dd[n_max] = n_max * sl_stepmix_decoding(m, n_max);
  dec[n_max] = q->dec_sat;
  for (int n = 1; n < n_max; n++) mu[n] = n / (seat[n - 1] + (m->out - 1) * dec[n]);
  mu[n_max] = q->mu_n;
  long double p = 1, z = 0, a = 0, as = 0, tt = 0, num = 0, den = 0;
  for (int n = 0; n <= k_max; n++) {
    int b = n < n_max ? n : n_max;
    z += p, a += n * p, as += b * p;
    if (n < k_max) tt += p * (n < n_max ? pre[n] : q->pre_sat);
    if (b > 0 && dd[b] > 0) num += p * dd[b], den += p * dd[b] / dec[b];
    if (n < k_max) p *= lam / mu[n + 1 < n_max ? n + 1 : n_max];
    if (p > 1e300L)
      p *= 1e-300L, z *= 1e-300L, a *= 1e-300L, as *= 1e-300L, tt *= 1e-300L, num *= 1e-300L,
          den *= 1e-300L;
  }
  long double pk = p / z, x = lam * (1 - pk);
  *ls = (double)(as / z);
  *ttft = (double)((a - as) / z / x + tt / z / (1 - pk)) + m->s.request_ms;
  *itl = (double)(num / den);
  free(mu), free(pre), free(dec), free(dd), free(seat);
}

static void interpolation(void) {
  sl_perf_t p;
  sl_perf_from_step(S, &p);
  struct {
    sl_shape_t shape;
  } cases[] = {
      {{.max_batch = 256,
        .max_queue = -1,
        .in_tokens = 1200,
        .out_tokens = 211,
        .in_cv = 0.67,
        .out_cv = 0.96}},
      {{.max_batch = 256,
        .max_queue = -1,
        .in_tokens = 128,
        .out_tokens = 128,
        .in_cv = 0.65,
        .out_cv = 0.65}},
      {{.max_batch = 256,
        .max_queue = -1,
        .in_tokens = 4096,
        .out_tokens = 256,
        .in_cv = 0.65,
        .out_cv = 0.65,
        .kv_tokens = 440000}},
      {{.max_batch = 1024,
        .max_queue = -1,
        .in_tokens = 512,
        .out_tokens = 512,
        .in_cv = 1,
        .out_cv = 1}},
      {{.max_batch = 64, .max_queue = 100, .in_tokens = 2000, .out_tokens = 20, .in_cv = 0.5}},
  };
  double worst = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sl_err_t err;
    sl_queue_t *q = sl_queue_new(&p, &cases[i].shape, &err);
    T_OK(q != NULL, "case %zu builds", i);
    if (!q) continue;
    double lim = sl_queue_rate_limit(q);
    for (int k = 1; k <= 10; k++) {
      double rate = lim * (k < 10 ? k / 10.0 : 1.2); // the last one overloaded
      sl_pred_t o;
      sl_queue_predict(q, rate, 0, &o, &err);
      double ls, ttft, itl;
      every_state(q, rate, &ls, &ttft, &itl);
      double e = fmax(fabs(o.in_service / ls - 1),
                      fmax(fabs(o.ttft_ms / ttft - 1), fabs(o.itl_ms / itl - 1)));
      if (e > worst) worst = e;
      T_OK(e < 0.01,
           "case %zu at %.1f of the limit: L_s %.4g / %.4g, TTFT %.4g / %.4g, ITL %.4g / %.4g", i,
           rate / lim, o.in_service, ls, o.ttft_ms, ttft, o.itl_ms, itl);
    }
    sl_queue_free(q);
  }
  printf("# knots and the one-pass chain against every state: worst %.3f%%\n", worst * 100);
}

int main(void) {
  limits();
  against_monte_carlo();
  interpolation();
  return tap_done();
}
