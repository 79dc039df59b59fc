// Samplers: determinism by seed and first two moments of each distribution.
#include <math.h>

#include "core/util/rng.h"
#include "tests/unit/tap.h"

#define N 200000

static void moments(double (*draw)(sl_rng_t *, const double *), const double *p, double mean,
                    double var, const char *what) {
  sl_rng_t r;
  sl_rng_seed(&r, 42);
  double s = 0, s2 = 0;
  for (int i = 0; i < N; i++) {
    double x = draw(&r, p);
    s += x;
    s2 += x * x;
  }
  double m = s / N, v = s2 / N - m * m;
  T_NEAR(m / mean, 1.0, 0.02, what);
  T_NEAR(v / var, 1.0, 0.06, what);
}

static double d_exp(sl_rng_t *r, const double *p) {
  return sl_rng_exp(r, p[0]);
}
static double d_gamma(sl_rng_t *r, const double *p) {
  return sl_rng_gamma(r, p[0], p[1]);
}
static double d_weib(sl_rng_t *r, const double *p) {
  return sl_rng_weibull(r, p[0], p[1]);
}
static double d_logn(sl_rng_t *r, const double *p) {
  return sl_rng_lognormal(r, p[0], p[1]);
}
static double d_unif(sl_rng_t *r, const double *p) {
  return sl_rng_uniform(r);
}

int main(void) {
  sl_rng_t a, b;
  sl_rng_seed(&a, 7);
  sl_rng_seed(&b, 7);
  int same = 1;
  for (int i = 0; i < 1000; i++) same &= sl_rng_u64(&a) == sl_rng_u64(&b);
  T_OK(same, "same seed gives the same stream");
  sl_rng_seed(&b, 8);
  T_OK(sl_rng_u64(&a) != sl_rng_u64(&b), "different seeds differ");

  moments(d_unif, (double[]){0}, 0.5, 1.0 / 12, "uniform mean/var");
  moments(d_exp, (double[]){4}, 0.25, 1.0 / 16, "exponential(4) mean/var");
  moments(d_gamma, (double[]){2.5, 2}, 5.0, 10.0, "gamma(2.5, 2) mean/var");
  moments(d_gamma, (double[]){0.3, 1}, 0.3, 0.3, "gamma(0.3, 1) mean/var (k < 1 path)");
  double k = 0.7, l = 1.5;
  double g1 = tgamma(1 + 1 / k), g2 = tgamma(1 + 2 / k);
  moments(d_weib, (double[]){k, l}, l * g1, l * l * (g2 - g1 * g1), "weibull(0.7, 1.5) mean/var");
  double mu = 1, s = 0.5;
  moments(d_logn, (double[]){mu, s}, exp(mu + s * s / 2), (exp(s * s) - 1) * exp(2 * mu + s * s),
          "lognormal(1, 0.5) mean/var");
  return tap_done();
}
