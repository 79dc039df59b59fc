// Fast samplers on top of core/util/rng.h for the per-request hot path of trace generation: a
// ziggurat standard normal (Marsaglia & Tsang 2000, 128 layers; the layer index and the magnitude
// come from disjoint bits of one 64-bit draw) and Marsaglia-Tsang gamma built on it. Box-Muller
// costs a log, a sqrt and a cos per normal, which dominated generating ServeGen days.
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "core/sim/trace_src.h"

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

double sl_trace_normal(sl_rng_t *r) {
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

double sl_trace_gamma(sl_rng_t *r, double k) {
  if (k < 1) return sl_trace_gamma(r, k + 1) * pow(sl_rng_uniform_pos(r), 1 / k);
  double d = k - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = sl_trace_normal(r);
      v = 1.0 + c * x;
    } while (v <= 0);
    v = v * v * v;
    double u = sl_rng_uniform_pos(r), x2 = x * x;
    if (u < 1.0 - 0.0331 * x2 * x2) return d * v;
    if (log(u) < 0.5 * x2 + d * (1.0 - v + log(v))) return d * v;
  }
}
