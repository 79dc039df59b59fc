// xoshiro256** seeded through splitmix64, plus inverse-transform and rejection samplers. The
// normal is a ziggurat (Marsaglia & Tsang 2000, 128 layers; layer index and magnitude come from
// disjoint bits of one 64-bit draw): Box-Muller's log, sqrt and cos per draw dominated trace
// generation. Gamma is Marsaglia-Tsang on top of it.
#include "core/util/rng.h"

#include <math.h>
#include <pthread.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

void sl_rng_seed(sl_rng_t *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

uint64_t sl_rng_u64(sl_rng_t *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double sl_rng_uniform(sl_rng_t *r) {
  return (sl_rng_u64(r) >> 11) * 0x1.0p-53;
}

double sl_rng_uniform_pos(sl_rng_t *r) {
  return ((sl_rng_u64(r) >> 11) + 0.5) * 0x1.0p-53;
}

double sl_rng_exp(sl_rng_t *r, double rate) {
  return -log(sl_rng_uniform_pos(r)) / rate;
}

#define ZN 128
#define ZR 3.442619855899      // start of the tail
#define ZV 9.91256303526217e-3 // area of each layer

static uint32_t kn[ZN];
static double wn[ZN], fn[ZN];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void) {
  const double m1 = 2147483648.0;
  double dn = ZR, tn = dn;
  double q = ZV / exp(-0.5 * dn * dn);
  kn[0] = (uint32_t)((dn / q) * m1);
  kn[1] = 0;
  wn[0] = q / m1;
  wn[ZN - 1] = dn / m1;
  fn[0] = 1.0;
  fn[ZN - 1] = exp(-0.5 * dn * dn);
  for (int i = ZN - 2; i >= 1; i--) {
    dn = sqrt(-2.0 * log(ZV / dn + exp(-0.5 * dn * dn)));
    kn[i + 1] = (uint32_t)((dn / tn) * m1);
    tn = dn;
    fn[i] = exp(-0.5 * dn * dn);
    wn[i] = dn / m1;
  }
}

double sl_rng_normal(sl_rng_t *r) {
  pthread_once(&once, init);
  for (;;) {
    uint64_t u = sl_rng_u64(r);
    int iz = (int)(u & (ZN - 1));
    int32_t hz = (int32_t)(uint32_t)(u >> 32);
    uint32_t mag = hz < 0 ? (uint32_t)(-(int64_t)hz) : (uint32_t)hz;
    double x = hz * wn[iz];
    if (mag < kn[iz]) return x;
    if (iz == 0) { // the tail beyond ZR
      double y;
      do {
        x = -log(sl_rng_uniform_pos(r)) / ZR;
        y = -log(sl_rng_uniform_pos(r));
      } while (y + y < x * x);
      return hz > 0 ? ZR + x : -ZR - x;
    }
    if (fn[iz] + sl_rng_uniform(r) * (fn[iz - 1] - fn[iz]) < exp(-0.5 * x * x)) return x;
  }
}

double sl_rng_lognormal(sl_rng_t *r, double mu, double sigma) {
  return exp(mu + sigma * sl_rng_normal(r));
}

double sl_rng_gamma(sl_rng_t *r, double k, double theta) {
  if (k < 1.0) {
    // Gamma(k) = Gamma(k + 1) * U^(1/k)
    double u = sl_rng_uniform_pos(r);
    return sl_rng_gamma(r, k + 1.0, theta) * pow(u, 1.0 / k);
  }
  double d = k - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = sl_rng_normal(r);
      v = 1.0 + c * x;
    } while (v <= 0);
    v = v * v * v;
    double u = sl_rng_uniform_pos(r), x2 = x * x;
    if (u < 1.0 - 0.0331 * x2 * x2) return d * v * theta;
    if (log(u) < 0.5 * x2 + d * (1.0 - v + log(v))) return d * v * theta;
  }
}

double sl_rng_weibull(sl_rng_t *r, double k, double lambda) {
  return lambda * pow(-log(sl_rng_uniform_pos(r)), 1.0 / k);
}

void sl_rng_split(sl_rng_t *parent, sl_rng_t *child) {
  sl_rng_seed(child, sl_rng_u64(parent) ^ 0x5851f42d4c957f2dULL);
}
