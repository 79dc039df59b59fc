// Log-bucketed histograms. See lhist.h.
#include "core/sim/lhist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/err.h"

int sl_lhist_init(sl_lhist_t *h, int bits) {
  memset(h, 0, sizeof *h);
  if (bits < 1) bits = 1;
  if (bits > 10) bits = 10;
  h->bits = bits;
  h->nb = (SL_LHIST_EMAX - SL_LHIST_EMIN) << bits;
  h->b = calloc((size_t)h->nb, sizeof *h->b);
  if (!h->b) return SL_ENOMEM;
  h->lo = h->nb;
  h->hi = -1;
  return SL_OK;
}

void sl_lhist_deinit(sl_lhist_t *h) {
  free(h->b);
  memset(h, 0, sizeof *h);
}

void sl_lhist_reset(sl_lhist_t *h) {
  if (h->hi >= h->lo) memset(h->b + h->lo, 0, sizeof *h->b * (size_t)(h->hi - h->lo + 1));
  h->n = h->zero = 0;
  h->lo = h->nb;
  h->hi = -1;
  h->sum = h->min = h->max = 0;
}

static double bucket_mid(const sl_lhist_t *h, int i) {
  int e = (i >> h->bits) + SL_LHIST_EMIN;
  int sub = i & ((1 << h->bits) - 1);
  return ldexp(1.0 + (sub + 0.5) / (double)(1 << h->bits), e);
}

double sl_lhist_quantile(const sl_lhist_t *h, double q) {
  if (!h->n) return NAN;
  if (q <= 0) return h->min;
  if (q >= 1) return h->max;
  uint64_t rank = (uint64_t)ceil(q * (double)h->n);
  if (rank < 1) rank = 1;
  if (rank <= h->zero) return h->min;
  uint64_t seen = h->zero;
  for (int i = h->lo; i <= h->hi; i++) {
    seen += h->b[i];
    if (seen >= rank) {
      double x = bucket_mid(h, i);
      return x < h->min ? h->min : x > h->max ? h->max : x;
    }
  }
  return h->max;
}
