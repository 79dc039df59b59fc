// Time series: a ring buffer of samples per series (gauge, counter or histogram) with the
// windowed queries the view and policies use: rate, increase, mean, max, min, and
// histogram_quantile over a window. Part of the store, kept apart because it knows nothing of
// pods, variants or models.
#pragma once

#include <stdint.h>

#include "core/state/signals.h"
#include "core/util/err.h"

typedef struct sl_series {
  sl_kind_t kind;
  int cap, head, len; // ring: oldest sample at (head - len + cap) % cap
  double *t, *v;      // time and value (gauge/counter); for histograms v holds the count
  double *adj;        // counters: reset-adjusted running total, so an increase is one subtraction
  // Histograms: cumulative bucket counts per sample (nb per sample), plus sum. Counts are
  // integers in practice, so they are kept as 32-bit offsets from a base row (half the memory of
  // doubles, and pods' histograms are most of the store); the first count that is not an integer,
  // falls below the base (a reset) or outgrows the offsets even after rebasing on the oldest
  // sample turns the series to doubles for good. Either way a sample reads back exactly.
  int nb;
  double *bounds;  // upper bounds, ascending, last may be +Inf
  double *buckets; // cap x nb, when wide (NULL otherwise)
  uint32_t *off;   // cap x nb offsets from base, when narrow
  double *base;    // nb
  double *sum;     // cap
} sl_series_t;

int sl_series_init(sl_series_t *s, sl_kind_t kind, int cap);
void sl_series_deinit(sl_series_t *s);
// Appends a sample. A sample at the newest time replaces it (the same scrape delivered twice);
// an older one is dropped.
void sl_series_push(sl_series_t *s, double t, double v);
// Appends a histogram sample: cumulative counts per bucket (bounds must match earlier samples;
// a change of bucket layout restarts the series).
int sl_series_push_hist(sl_series_t *s, double t, const double *bounds, const double *cum, int nb,
                        double sum, double count);
// Latest value (NaN when empty) and its time in *t (may be NULL).
double sl_series_last(const sl_series_t *s, double *t);
// Windowed queries over (now - window, now]. NaN when the window has too few samples.
double sl_series_avg_over(const sl_series_t *s, double now, double window);
double sl_series_max_over(const sl_series_t *s, double now, double window);
double sl_series_min_over(const sl_series_t *s, double now, double window);
// Counter increase over the window, reset-aware (a drop counts as a restart from 0), and the
// time span it covers in *span. NaN with fewer than two samples.
double sl_series_increase(const sl_series_t *s, double now, double window, double *span);
double sl_series_rate(const sl_series_t *s, double now, double window);
// Histogram: per-bucket increase over the window added into acc[nb] (and *sum, *count). Returns
// the number of buckets, or 0 when the window has fewer than two samples.
int sl_series_hist_delta(const sl_series_t *s, double now, double window, double *acc, double *sum,
                         double *count);
// The cumulative bucket counts of the k-th oldest sample into out[nb]; the number of buckets, or
// 0 when there is no such sample.
int sl_series_hist_row(const sl_series_t *s, int k, double *out);
// Prometheus histogram_quantile over cumulative bucket counts (linear within a bucket; a rank in
// the +Inf bucket returns the largest finite bound).
double sl_series_hist_quantile(const double *bounds, const double *cum, int nb, double q);
