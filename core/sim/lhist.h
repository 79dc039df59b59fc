// Log-bucketed histograms of positive values, for percentiles over millions of requests without
// keeping them: each octave is split into 2^bits equal buckets, so a quantile is within half a
// bucket (relative error below 2^-(bits+1), 0.4% at the default 7 bits) of the exact one. The
// bucket of a value comes from the bits of its double, with no log() on the hot path.
#pragma once

#include <stdint.h>

#define SL_LHIST_EMIN (-30) // smallest octave: 2^-30 (about 1e-9)
#define SL_LHIST_EMAX 30    // values at or above 2^30 land in the last bucket

typedef struct {
  int bits; // sub-buckets per octave = 1 << bits
  int nb;   // buckets
  uint64_t *b;
  uint64_t n;    // values added (including zeros)
  uint64_t zero; // values <= 0 or below the range
  int lo, hi;    // touched bucket range (for cheap resets), lo > hi when none
  double sum, min, max;
} sl_lhist_t;

// bits in 1..10. Returns 0 or SL_ENOMEM.
int sl_lhist_init(sl_lhist_t *h, int bits);
void sl_lhist_deinit(sl_lhist_t *h);
void sl_lhist_reset(sl_lhist_t *h);

static inline int sl_lhist_index(const sl_lhist_t *h, double x) {
  union {
    double d;
    uint64_t u;
  } v = {x};
  int e = (int)((v.u >> 52) & 0x7ff) - 1023;
  if (e < SL_LHIST_EMIN) return -1;
  if (e >= SL_LHIST_EMAX) return h->nb - 1;
  int sub = (int)((v.u >> (52 - h->bits)) & ((1u << h->bits) - 1));
  return ((e - SL_LHIST_EMIN) << h->bits) + sub;
}

static inline void sl_lhist_add_n(sl_lhist_t *h, double x, uint64_t count) {
  if (!(x > 0)) x = 0; // NaN and negatives count as zero
  if (!h->n) {
    h->min = h->max = x;
  } else {
    if (x < h->min) h->min = x;
    if (x > h->max) h->max = x;
  }
  h->n += count;
  h->sum += x * (double)count;
  int i = x > 0 ? sl_lhist_index(h, x) : -1;
  if (i < 0) {
    h->zero += count;
    return;
  }
  h->b[i] += count;
  if (i < h->lo) h->lo = i;
  if (i > h->hi) h->hi = i;
}

static inline void sl_lhist_add(sl_lhist_t *h, double x) {
  sl_lhist_add_n(h, x, 1);
}

// The q-quantile (0..1), nearest rank: the midpoint of the bucket holding the ceil(q n)-th
// smallest value, clamped to [min, max]. NaN when empty.
double sl_lhist_quantile(const sl_lhist_t *h, double q);
