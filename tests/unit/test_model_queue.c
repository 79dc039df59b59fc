// The queueing kernels: WVA's test vectors, numerical stability against an independent
// rescaled-sum solution, percentiles against a Monte-Carlo run of the same chain, the inverse's
// properties, replicas.
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/queue.h"
#include "tests/unit/tap.h"

static const sl_perf_t P4 = {.kind = SL_PERF_4P, .v = {7.47, 0.044, 15.415, 0.000337}};
static const sl_perf_t P3 = {.kind = SL_PERF_3P, .v = {12, 0.05, 0.0005}};

// Equal when rounded to 4 significant figures (want given to exactly 4).
static int near4(double got, double want) {
  double unit = pow(10, floor(log10(fabs(want))) - 3);
  return fabs(got - want) <= 0.5 * unit * (1 + 1e-9);
}

static void wva_vectors(void) {
  sl_err_t err;
  sl_shape_t s4 = {.max_batch = 64, .max_queue = -1, .in_tokens = 128, .out_tokens = 128};
  sl_queue_t *q = sl_queue_new(&P4, &s4, &err);
  T_OK(q != NULL, "4p queue builds");
  T_EQ_INT(q->k, 64 + 640, "default max queue is 10 N");
  T_OK(near4(sl_queue_rate_limit(q), 48.27), "4p stability limit 48.27 (got %.6g)",
       sl_queue_rate_limit(q));
  double r, r_ttft, r_itl;
  sl_limit_t lim;
  sl_slo_t slo = {.ttft_ms = 1000, .itl_ms = 10};
  T_EQ_INT(sl_queue_max_rate(q, &slo, &r, &lim, &err), 0, "4p max rate");
  T_OK(near4(r, 44.11), "4p max_rate 44.11 (got %.6g)", r);
  T_EQ_INT(lim, SL_LIMIT_ITL, "ITL binds");
  sl_slo_t only_ttft = {.ttft_ms = 1000}, only_itl = {.itl_ms = 10};
  sl_queue_max_rate(q, &only_ttft, &r_ttft, &lim, &err);
  T_OK(near4(r_ttft, 47.49) && lim == SL_LIMIT_TTFT, "lambda*_TTFT 47.49 (got %.6g)", r_ttft);
  sl_queue_max_rate(q, &only_itl, &r_itl, &lim, &err);
  T_OK(r_itl == r, "the ITL-only search gives the combined answer when ITL binds");
  sl_pred_t o;
  T_EQ_INT(sl_queue_predict(q, r, 0, &o, &err), 0, "predict at max rate");
  T_OK(near4(o.ttft_ms, 92.48), "TTFT 92.48 ms at max rate (got %.6g)", o.ttft_ms);
  T_OK(near4(o.itl_ms, 10.00), "ITL 10.00 ms at max rate (got %.6g)", o.itl_ms);
  T_OK(fabs(o.in_service - 56.8) < 0.05, "L_s 56.8 (got %.4g)", o.in_service);
  T_NEAR(o.utilization, o.in_service / 64, 1e-12, "utilisation is L_s / N");
  sl_queue_free(q);

  sl_shape_t s3 = {.max_batch = 48, .max_queue = 128, .in_tokens = 128, .out_tokens = 512};
  q = sl_queue_new(&P3, &s3, &err);
  sl_slo_t none = {0};
  T_EQ_INT(sl_queue_max_rate(q, &none, &r, &lim, &err), 0, "3p max rate without targets");
  T_OK(near4(r, 3.821) && lim == SL_LIMIT_STABILITY, "3p max_rate 3.821 (got %.6g)", r);
  T_NEAR(r, sl_queue_rate_limit(q), 0, "no targets: the stability limit 0.999 mu(N)");
  sl_queue_predict(q, 3, 0, &o, &err);
  T_OK(near4(o.ttft_ms, 75.32), "3p TTFT 75.32 (got %.6g)", o.ttft_ms);
  T_OK(near4(o.itl_ms, 20.53), "3p ITL 20.53 (got %.6g)", o.itl_ms);
  T_OK(near4(o.throughput, 3.000), "3p throughput 3.000 (got %.6g)", o.throughput);
  T_OK(near4(o.wait_ms, 28.275), "3p mean wait 28.275 (got %.6g)", o.wait_ms);
  T_OK(near4(o.in_service, 31.621), "3p mean in service 31.621 (got %.6g)", o.in_service);
  sl_queue_free(q);
}

// An independent solution: every state summed in long double with periodic rescaling.
typedef struct {
  long double l, ls, pk;
} ref_t;

static ref_t reference(const sl_queue_t *q, double lam) {
  int N = q->n, K = q->k;
  sl_perf_times_t t;
  long double v = 1, z = 0, a = 0, as = 0, scale_log = 0;
  long double *mu = malloc(sizeof(long double) * (N + 1));
  for (int n = 1; n <= N; n++) {
    sl_perf_times(&q->perf, q->shape.in_tokens, q->shape.out_tokens, n, &t);
    mu[n] = n / (long double)t.svc;
  }
  long double vk = 0;
  for (int n = 0; n <= K; n++) {
    z += v;
    a += n * v;
    as += (n < N ? n : N) * v;
    vk = v;
    if (n == K) break;
    v *= lam / mu[n + 1 < N ? n + 1 : N];
    if (v > 1e300L) {
      v *= 1e-300L, z *= 1e-300L, a *= 1e-300L, as *= 1e-300L;
      scale_log += 300;
    }
  }
  (void)scale_log;
  free(mu);
  return (ref_t){a / z, as / z, vk / z};
}

static void stability(void) {
  sl_err_t err;
  sl_shape_t s = {
      .max_batch = 1024, .max_queue = 20000 - 1024, .in_tokens = 512, .out_tokens = 256};
  sl_queue_t *q = sl_queue_new(&P4, &s, &err);
  T_OK(q != NULL, "N 1024, K 20000 builds");
  double mu_n = q->mu_n;
  // Far below, just below, at (rho = 1 within 1e-9) and above mu(N), and deep overload.
  double lams[] = {mu_n * 1e-3, mu_n * 0.5,        mu_n * 0.999, mu_n * (1 - 1e-9),
                   mu_n,        mu_n * (1 + 1e-7), mu_n * 1.01,  mu_n * 3};
  for (size_t i = 0; i < sizeof lams / sizeof lams[0]; i++) {
    sl_pred_t o;
    sl_queue_predict(q, lams[i] * 1000, 0, &o, &err);
    ref_t r = reference(q, lams[i]);
    int finite = isfinite(o.in_system) && isfinite(o.ttft_ms) && isfinite(o.itl_ms);
    T_OK(finite, "finite predictions at rho %.9g", lams[i] / mu_n);
    T_OK(fabs(o.in_system - (double)r.l) <= 1e-8 * (double)r.l + 1e-12,
         "L at rho %.9g matches (%.12g vs %.12g)", lams[i] / mu_n, o.in_system, (double)r.l);
    T_OK(fabs(o.in_service - (double)r.ls) <= 1e-8 * (double)r.ls + 1e-12,
         "L_s at rho %.9g matches (%.12g vs %.12g)", lams[i] / mu_n, o.in_service, (double)r.ls);
    T_OK(fabs(o.blocking - (double)r.pk) <= 1e-8 * (double)r.pk + 1e-300,
         "blocking at rho %.9g matches (%.6g vs %.6g)", lams[i] / mu_n, o.blocking, (double)r.pk);
  }
  sl_queue_free(q);
}

// xoshiro256** for the Monte-Carlo runs (fixed seed: the test is deterministic).
static uint64_t rs[4] = {0x9E3779B97F4A7C15ull, 0xBF58476D1CE4E5B9ull, 0x94D049BB133111EBull, 7};
static inline uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}
static double uniform(void) {
  uint64_t r = rotl(rs[1] * 5, 7) * 9, t = rs[1] << 17;
  rs[2] ^= rs[0], rs[3] ^= rs[1], rs[1] ^= rs[2], rs[0] ^= rs[3], rs[2] ^= t;
  rs[3] = rotl(rs[3], 45);
  return ((r >> 11) + 0.5) * 0x1.0p-53;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

// Simulates the chain (Poisson arrivals, departures at mu(min(n, N)), FCFS queue up to K) and
// returns the empirical p-quantiles of the waiting time and of the token-weighted ITL.
static void monte_carlo(const sl_queue_t *q, double lam, double p, long arrivals, double *w_p,
                        double *itl_p) {
  int N = q->n, K = q->k;
  double *mu = malloc(sizeof(double) * (N + 1)), *td = malloc(sizeof(double) * (N + 1));
  for (int n = 1; n <= N; n++) {
    sl_perf_times_t t;
    sl_perf_times(&q->perf, q->shape.in_tokens, q->shape.out_tokens, n, &t);
    mu[n] = n / t.svc;
    td[n] = t.dec;
  }
  double *waits = malloc(sizeof(double) * arrivals);
  double *ring = malloc(sizeof(double) * (K + 1));
  long *ring_idx = malloc(sizeof(long) * (K + 1));
  double *tokens = calloc(N + 1, sizeof(double));
  long nw = 0, zero = 0, arr = 0, head = 0, tail = 0;
  int n = 0;
  double now = 0;
  long warm = arrivals / 20;
  while (arr < arrivals + warm) {
    double ra = n < K ? lam : 0, rd = n > 0 ? mu[n < N ? n : N] : 0;
    double dt = -log(uniform()) / (ra + rd);
    if (arr >= warm && n > 0) {
      int b = n < N ? n : N;
      tokens[b] += dt * b / td[b];
    }
    now += dt;
    if (uniform() * (ra + rd) < ra) {
      long idx = arr++;
      if (n < N) {
        if (idx >= warm) zero++;
      } else {
        ring[tail] = now;
        ring_idx[tail] = idx;
        tail = (tail + 1) % (K + 1);
      }
      n++;
    } else {
      if (n > N) {
        if (ring_idx[head] >= warm) waits[nw++] = now - ring[head];
        head = (head + 1) % (K + 1);
      }
      n--;
    }
  }
  qsort(waits, nw, sizeof(double), cmp_double);
  long total = zero + nw;
  long idx = (long)ceil(p * total) - 1 - zero;
  *w_p = idx < 0 ? 0 : waits[idx < nw ? idx : nw - 1];
  double all = 0, cum = 0;
  for (int b = 1; b <= N; b++) all += tokens[b];
  *itl_p = td[N];
  for (int b = 1; b <= N; b++) {
    cum += tokens[b];
    if (cum >= p * all) {
      *itl_p = td[b];
      break;
    }
  }
  free(mu), free(td), free(waits), free(ring), free(ring_idx), free(tokens);
}

static void percentiles(void) {
  sl_err_t err;
  // Monte-Carlo error shrinks slowly near saturation (long busy periods), so the cases use
  // small batches or enough arrivals to keep it near 1%.
  struct {
    const sl_perf_t *perf;
    sl_shape_t shape;
    double rho, p;
    long arrivals;
    int waits; // the p-quantile arrival waits (else the quantile is the no-wait TTFT)
  } cases[] = {
      {&P4,
       {.max_batch = 8, .max_queue = 56, .in_tokens = 512, .out_tokens = 64},
       0.9,
       0.95,
       4000000,
       1},
      // Light enough that the ITL quantile falls inside the batch range, not at N.
      {&P4,
       {.max_batch = 64, .max_queue = -1, .in_tokens = 128, .out_tokens = 128},
       0.7,
       0.7,
       1000000,
       0},
      // Overloaded with a short queue: rho > 1, heavy blocking.
      {&P3,
       {.max_batch = 48, .max_queue = 128, .in_tokens = 128, .out_tokens = 512},
       1.1,
       0.9,
       1000000,
       1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sl_queue_t *q = sl_queue_new(cases[i].perf, &cases[i].shape, &err);
    double lam = cases[i].rho * q->mu_n, p = cases[i].p;
    sl_pred_t o;
    sl_queue_predict(q, lam * 1000, p, &o, &err);
    double w_p, itl_p;
    monte_carlo(q, lam, p, cases[i].arrivals, &w_p, &itl_p);
    double prefill = o.ttft_ms - o.wait_ms;
    double ttft_mc = w_p + prefill;
    if (cases[i].waits)
      T_OK(w_p > 0 && o.ttft_p_ms > o.ttft_ms * 1.1,
           "case %zu: the p%g TTFT is well above the mean (%.4g > %.4g)", i, p * 100, o.ttft_p_ms,
           o.ttft_ms);
    else
      T_OK(w_p == 0 && o.ttft_p_ms == prefill, "case %zu: the p%g arrival does not wait", i,
           p * 100);
    T_OK(fabs(o.ttft_p_ms - ttft_mc) <= 0.02 * ttft_mc,
         "case %zu: p%g TTFT %.5g ms within 2%% of Monte-Carlo %.5g", i, p * 100, o.ttft_p_ms,
         ttft_mc);
    T_OK(fabs((o.ttft_p_ms - prefill) - w_p) <= 0.02 * w_p,
         "case %zu: p%g wait %.5g ms within 2%% of Monte-Carlo %.5g", i, p * 100,
         o.ttft_p_ms - prefill, w_p);
    T_OK(fabs(o.itl_p_ms - itl_p) <= 0.02 * itl_p,
         "case %zu: p%g ITL %.5g ms within 2%% of Monte-Carlo %.5g", i, p * 100, o.itl_p_ms, itl_p);
    sl_queue_free(q);
  }
  {
    // The ITL quantile inside the batch range is the decode time of that batch, below T_dec(N).
    sl_shape_t sh = {.max_batch = 64, .max_queue = -1, .in_tokens = 128, .out_tokens = 128};
    sl_queue_t *q = sl_queue_new(&P4, &sh, &err);
    sl_pred_t o;
    sl_queue_predict(q, 0.7 * q->mu_n * 1000, 0.7, &o, &err);
    double b = (o.itl_p_ms - 7.47) / 0.044;
    T_OK(b > 1 && b < 63 && fabs(b - round(b)) < 1e-6,
         "p70 ITL at 70%% load is the decode time of an interior whole batch (%.6g)", b);
    sl_queue_free(q);
  }
  // Nobody waits at light load: the percentile TTFT is the no-wait TTFT.
  sl_shape_t s = {.max_batch = 64, .max_queue = -1, .in_tokens = 128, .out_tokens = 128};
  sl_queue_t *q = sl_queue_new(&P4, &s, &err);
  sl_pred_t o;
  sl_queue_predict(q, 5, 0.9, &o, &err);
  T_NEAR(o.ttft_p_ms, o.ttft_ms - o.wait_ms, 1e-9, "p90 TTFT at light load has no wait");
  T_OK(o.itl_p_ms >= o.itl_ms - 0.05, "p90 ITL is not below the mean ITL");
  sl_queue_free(q);
}

static void properties(void) {
  sl_err_t err;
  sl_shape_t s = {.max_batch = 256, .max_queue = 2560, .in_tokens = 512, .out_tokens = 256};
  const sl_perf_t *profiles[] = {&P4, &P3, sl_perf_builtin("llama-3.1-8b/h100")};
  for (int k = 0; k < 3; k++) {
    sl_queue_t *q = sl_queue_new(profiles[k], &s, &err);
    T_OK(q != NULL, "profile %d builds", k);
    if (!q) continue;
    double lim = sl_queue_rate_limit(q);
    sl_pred_t prev = {0}, o;
    int ttft_up = 1, itl_up = 1, p_up = 1;
    for (int i = 1; i <= 200; i++) {
      sl_queue_predict(q, lim * i / 200.0, 0.95, &o, &err);
      if (i > 1) {
        ttft_up &= o.ttft_ms >= prev.ttft_ms - 1e-9 * prev.ttft_ms;
        itl_up &= o.itl_ms >= prev.itl_ms - 1e-9 * prev.itl_ms;
        p_up &=
            o.ttft_p_ms >= prev.ttft_p_ms - 1e-9 * prev.ttft_p_ms && o.itl_p_ms >= prev.itl_p_ms;
      }
      prev = o;
    }
    sl_pred_t lo;
    sl_queue_predict(q, lim / 200, 0, &lo, &err);
    T_OK(ttft_up && prev.ttft_ms > lo.ttft_ms, "%s: TTFT rises with rate",
         sl_perf_kind_name(profiles[k]->kind));
    T_OK(itl_up && prev.itl_ms > lo.itl_ms, "%s: ITL rises with rate",
         sl_perf_kind_name(profiles[k]->kind));
    T_OK(p_up, "%s: p95 TTFT and ITL rise with rate", sl_perf_kind_name(profiles[k]->kind));

    // Looser targets never lower the max rate (mean and p95, TTFT and ITL).
    sl_pred_t mid;
    sl_queue_predict(q, lim * 0.5, 0.95, &mid, &err);
    int mono = 1, feasible = 0;
    for (int pct = 0; pct < 2; pct++) {
      double last = 0;
      for (int i = 0; i < 40; i++) {
        double f = 0.5 + i * 0.05;
        sl_slo_t slo = {.ttft_ms = (pct ? mid.ttft_p_ms : mid.ttft_ms) * f,
                        .itl_ms = (pct ? mid.itl_p_ms : mid.itl_ms) * f,
                        .percentile = pct ? 0.95 : 0};
        double r = 0;
        int rc = sl_queue_max_rate(q, &slo, &r, NULL, &err);
        if (rc == 0)
          feasible++;
        else
          r = 0;
        mono &= r >= last;
        last = r;
      }
    }
    T_OK(mono && feasible > 40, "%s: a looser target never lowers max_rate (%d feasible)",
         sl_perf_kind_name(profiles[k]->kind), feasible);

    // Determinism: the same call gives bit-identical results.
    sl_slo_t slo = {.ttft_ms = mid.ttft_p_ms, .itl_ms = mid.itl_p_ms, .percentile = 0.95};
    double r1, r2;
    sl_queue_max_rate(q, &slo, &r1, NULL, &err);
    sl_queue_max_rate(q, &slo, &r2, NULL, &err);
    sl_pred_t a, b;
    sl_queue_predict(q, r1, 0.99, &a, &err);
    sl_queue_predict(q, r1, 0.99, &b, &err);
    T_OK(r1 == r2 && !memcmp(&a, &b, sizeof a), "%s: deterministic",
         sl_perf_kind_name(profiles[k]->kind));
    T_OK(r1 > 0.45 * lim && r1 < lim, "%s: p95 targets met at half load give a max rate above it",
         sl_perf_kind_name(profiles[k]->kind));
    sl_queue_free(q);
  }
}

static void errors(void) {
  sl_err_t err;
  sl_shape_t s = {.max_batch = 0, .max_queue = -1, .in_tokens = 128, .out_tokens = 128};
  T_OK(sl_queue_new(&P4, &s, &err) == NULL, "max_batch 0 refused");
  T_STR_HAS(err.msg, "max_batch", "error names max_batch");
  s.max_batch = 8, s.out_tokens = 0;
  T_OK(sl_queue_new(&P4, &s, &err) == NULL, "out_tokens 0 refused");
  T_STR_HAS(err.msg, "out_tokens", "error names out_tokens");
  s.out_tokens = 16;
  sl_perf_t bad = P4;
  bad.v[SL_P4_BETA] = -1;
  T_OK(sl_queue_new(&bad, &s, &err) == NULL, "negative beta refused");
  T_STR_HAS(err.msg, "beta", "error names beta");
  bad.v[SL_P4_BETA] = NAN;
  T_OK(sl_queue_new(&bad, &s, &err) == NULL, "NaN beta refused");

  sl_queue_t *q = sl_queue_new(&P4, &s, &err);
  sl_pred_t o;
  T_EQ_INT(sl_queue_predict(q, 0, 0, &o, &err), SL_EINVAL, "rate 0 refused");
  T_STR_HAS(err.msg, "rate", "error names rate");
  T_EQ_INT(sl_queue_predict(q, 1, 1, &o, &err), SL_EINVAL, "percentile 1 refused");
  double r;
  sl_limit_t lim;
  sl_slo_t tight = {.ttft_ms = 1};
  T_EQ_INT(sl_queue_max_rate(q, &tight, &r, &lim, &err), SL_ERANGE, "unreachable TTFT target");
  T_STR_HAS(err.msg, "ttft_ms target 1 is below", "the error says the TTFT target is too low");
  T_OK(r == 0 && lim == SL_LIMIT_TTFT, "max_rate 0 limited by ttft");
  sl_slo_t neg = {.itl_ms = -1};
  T_EQ_INT(sl_queue_max_rate(q, &neg, &r, &lim, &err), SL_EINVAL, "negative target refused");
  sl_queue_free(q);

  double frac;
  T_EQ_INT(sl_queue_replicas(100, 44.11, &frac, &err), 3, "100 req/s at 44.11 needs 3");
  T_NEAR(frac, 100 / 44.11, 1e-12, "fractional replicas");
  T_EQ_INT(sl_queue_replicas(88.22, 44.11, &frac, &err), 2, "exactly two replicas' worth is 2");
  T_EQ_INT(sl_queue_replicas(0, 44.11, &frac, &err), 0, "no demand, no replicas");
  T_EQ_INT(sl_queue_replicas(1, 0, &frac, &err), -1, "max_rate 0 refused");
  T_STR_HAS(err.msg, "max_rate", "error names max_rate");
  T_EQ_INT(sl_queue_replicas(-1, 1, &frac, &err), -1, "negative demand refused");
}

int main(void) {
  wva_vectors();
  stability();
  percentiles();
  properties();
  errors();
  return tap_done();
}
