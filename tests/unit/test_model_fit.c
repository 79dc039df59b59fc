// Online fitting: recovery of known 4p and 3p parameters from noisy observations spread over
// 10-90% utilisation, starting 2x off either way; outlier rejection; tracking a change; errors.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/fit.h"
#include "tests/unit/tap.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double uniform(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return ((rng >> 11) + 0.5) * 0x1.0p-53;
}
static double gauss(void) {
  return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

// Token mixes the observations cycle through: different mixes separate the parameters.
static const double mixes[][2] = {{128, 128},  {1024, 128}, {4096, 256},
                                  {256, 1024}, {2048, 64},  {512, 512}};
#define N_MIXES   6
#define MAX_BATCH 256

// The rate at which the true model shows utilisation u.
static double rate_at(const sl_perf_t *truth, const sl_shape_t *sh, double u) {
  sl_err_t err;
  sl_queue_t *q = sl_queue_new(truth, sh, &err);
  double lo = sl_queue_rate_floor(q), hi = sl_queue_rate_limit(q);
  for (int i = 0; i < 60; i++) {
    double mid = 0.5 * (lo + hi);
    sl_pred_t o;
    sl_queue_predict(q, mid, 0, &o, &err);
    if (o.utilization < u)
      lo = mid;
    else
      hi = mid;
  }
  sl_queue_free(q);
  return lo;
}

// One observation of `truth` at a random utilisation in [0.1, 0.9] with 5% Gaussian noise on
// TTFT and ITL (and on the batch when observed).
static sl_fit_obs_t observe(const sl_perf_t *truth, int k, int with_batch) {
  sl_err_t err;
  sl_shape_t sh = {.max_batch = MAX_BATCH,
                   .max_queue = -1,
                   .in_tokens = mixes[k % N_MIXES][0],
                   .out_tokens = mixes[k % N_MIXES][1]};
  double rate = rate_at(truth, &sh, 0.1 + 0.8 * uniform());
  sl_queue_t *q = sl_queue_new(truth, &sh, &err);
  sl_pred_t o;
  sl_queue_predict(q, rate, 0, &o, &err);
  sl_queue_free(q);
  return (sl_fit_obs_t){.rate = rate,
                        .in_tokens = sh.in_tokens,
                        .out_tokens = sh.out_tokens,
                        .ttft_ms = o.ttft_ms * (1 + 0.05 * gauss()),
                        .itl_ms = o.itl_ms * (1 + 0.05 * gauss()),
                        .batch = with_batch ? o.in_service * (1 + 0.05 * gauss()) : 0,
                        .max_batch = MAX_BATCH,
                        .max_queue = -1};
}

static double worst_error(const sl_fit_t *f, const sl_perf_t *truth) {
  sl_perf_t p;
  sl_fit_perf(f, &p);
  double worst = 0;
  for (int i = 0; i < f->dim; i++) worst = fmax(worst, fabs(p.v[i] / truth->v[i] - 1));
  return worst;
}

static void recovery(const char *name, const sl_perf_t *truth, double factor, int with_batch) {
  sl_err_t err;
  sl_perf_t guess = *truth;
  int n;
  sl_perf_params(truth->kind, &n);
  for (int i = 0; i < n; i++) guess.v[i] *= factor;
  sl_fit_t f;
  T_EQ_INT(sl_fit_init(&f, &guess, NULL, &err), 0, "fit starts");
  double start = worst_error(&f, truth);
  size_t bytes = sl_queue_bytes(MAX_BATCH);
  char *work = malloc(bytes);
  int failures = 0;
  long rejected_late = 0;
  for (int k = 0; k < 400; k++) {
    sl_fit_obs_t o = observe(truth, k, with_batch);
    if (k == 200) rejected_late = -f.rejected;
    if (sl_fit_update(&f, &o, work, bytes, NULL, &err)) failures++;
  }
  rejected_late += f.rejected;
  free(work);
  double end = worst_error(&f, truth);
  T_OK(failures == 0, "%s: every update runs", name);
  T_OK(start > 0.49 && end < 0.05,
       "%s from %gx%s: every parameter within 5%% after 400 observations (worst %.2f%%)", name,
       factor, with_batch ? " with batch" : "", end * 100);
  // Far from the truth, observations the guessed queue cannot explain are held back; once close,
  // the 99.9% gate should reject almost none of the clean ones.
  T_OK(rejected_late <= 2,
       "%s: clean observations are not rejected once converged (%ld of the "
       "last 200; %ld in all)",
       name, rejected_late, f.rejected);
}

static void outliers(void) {
  sl_err_t err;
  const sl_perf_t truth = {.kind = SL_PERF_3P, .v = {12, 0.05, 0.0005}};
  sl_fit_t f;
  sl_fit_init(&f, &truth, NULL, &err);
  int rejected_outliers = 0, outliers = 0;
  for (int k = 0; k < 300; k++) {
    sl_fit_obs_t o = observe(&truth, k, 0);
    int bad = k % 20 == 7; // 5% gross outliers: a stalled scrape, TTFT 4x
    if (bad) o.ttft_ms *= 4;
    int acc = 1;
    sl_fit_update(&f, &o, NULL, 0, &acc, &err);
    if (bad) outliers++, rejected_outliers += !acc;
  }
  T_OK(rejected_outliers == outliers, "every 4x TTFT outlier is rejected (%d of %d)",
       rejected_outliers, outliers);
  T_OK(worst_error(&f, &truth) < 0.05, "outliers do not pull the fit (worst %.2f%%)",
       worst_error(&f, &truth) * 100);
  // The state is a plain value: a copy fed the same observation ends up bit-identical.
  sl_fit_t copy = f;
  sl_fit_obs_t o = observe(&truth, 1, 0);
  sl_fit_update(&f, &o, NULL, 0, NULL, &err);
  sl_fit_update(&copy, &o, NULL, 0, NULL, &err);
  T_OK(!memcmp(&f, &copy, sizeof f) && copy.updates == 301, "a copied state updates identically");
}

static void tracking(void) {
  // A replica that becomes 40% slower per iteration (a noisy neighbour, a driver change): the
  // observations first look like outliers, then the fit widens and follows.
  sl_err_t err;
  sl_perf_t truth = {.kind = SL_PERF_4P, .v = {7.47, 0.044, 15.415, 0.000337}};
  sl_fit_t f;
  sl_fit_init(&f, &truth, NULL, &err);
  for (int k = 0; k < 200; k++) {
    sl_fit_obs_t o = observe(&truth, k, 0);
    sl_fit_update(&f, &o, NULL, 0, NULL, &err);
  }
  truth.v[SL_P4_ALPHA] *= 1.4;
  for (int k = 0; k < 400; k++) {
    sl_fit_obs_t o = observe(&truth, k, 0);
    sl_fit_update(&f, &o, NULL, 0, NULL, &err);
  }
  sl_perf_t p;
  sl_fit_perf(&f, &p);
  T_OK(fabs(p.v[SL_P4_ALPHA] / truth.v[SL_P4_ALPHA] - 1) < 0.05,
       "the fit follows a 40%% change in alpha (now %.4g, truth %.4g)", p.v[SL_P4_ALPHA],
       truth.v[SL_P4_ALPHA]);
}

static void errors(void) {
  sl_err_t err;
  sl_fit_t f;
  sl_perf_t step = *sl_perf_builtin("llama-3.1-8b/h100");
  T_EQ_INT(sl_fit_init(&f, &step, NULL, &err), SL_EINVAL, "step profiles are not fitted online");
  T_STR_HAS(err.msg, "kind", "error names kind");
  sl_perf_t zero = {.kind = SL_PERF_3P, .v = {12, 0, 0.0005}};
  T_EQ_INT(sl_fit_init(&f, &zero, NULL, &err), SL_EINVAL, "a zero guess is refused");
  T_STR_HAS(err.msg, "beta", "error names beta");
  sl_fit_opts_t bad = {.noise = 2};
  sl_perf_t p3 = {.kind = SL_PERF_3P, .v = {12, 0.05, 0.0005}};
  T_EQ_INT(sl_fit_init(&f, &p3, &bad, &err), SL_EINVAL, "noise 2 refused");
  T_STR_HAS(err.msg, "noise", "error names noise");
  sl_fit_init(&f, &p3, NULL, &err);
  sl_fit_t before = f;
  sl_fit_obs_t o = {.rate = 1,
                    .in_tokens = 128,
                    .out_tokens = 128,
                    .ttft_ms = 0,
                    .itl_ms = 20,
                    .max_batch = 48,
                    .max_queue = -1};
  T_EQ_INT(sl_fit_update(&f, &o, NULL, 0, NULL, &err), SL_EINVAL, "ttft_ms 0 refused");
  T_STR_HAS(err.msg, "ttft_ms", "error names ttft_ms");
  o.ttft_ms = 50, o.max_batch = 0;
  T_EQ_INT(sl_fit_update(&f, &o, NULL, 0, NULL, &err), SL_EINVAL, "max_batch 0 refused");
  T_STR_HAS(err.msg, "max_batch", "error names max_batch");
  o.max_batch = 48, o.batch = 60;
  T_EQ_INT(sl_fit_update(&f, &o, NULL, 0, NULL, &err), SL_EINVAL, "batch above max refused");
  T_OK(!memcmp(&before, &f, sizeof f), "a refused observation leaves the state untouched");
  f.cov[1] = 5; // not symmetric
  T_EQ_INT(sl_fit_check(&f, &err), SL_EINVAL, "a corrupted covariance is caught");
  T_STR_HAS(err.msg, "cov", "error names cov");
}

int main(void) {
  const sl_perf_t p4 = {.kind = SL_PERF_4P, .v = {7.47, 0.044, 15.415, 0.000337}};
  const sl_perf_t p3 = {.kind = SL_PERF_3P, .v = {12, 0.05, 0.0005}};
  const sl_perf_t p3h = {.kind = SL_PERF_3P, .v = {6.49, 0.0219, 4.96e-5}};
  recovery("4p", &p4, 2, 0);
  recovery("4p", &p4, 0.5, 0);
  recovery("4p", &p4, 2, 1);
  recovery("3p", &p3, 2, 0);
  recovery("3p", &p3, 0.5, 0);
  recovery("3p llama/h100", &p3h, 2, 0);
  recovery("3p llama/h100", &p3h, 0.5, 1);
  outliers();
  tracking();
  errors();
  return tap_done();
}
