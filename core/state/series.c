// Time series: ring buffers of samples with windowed rate, mean, max, min and
// quantile-from-histogram queries. See series.h.
#include "core/state/series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int sl_series_init(sl_series_t *s, sl_kind_t kind, int cap) {
  memset(s, 0, sizeof *s);
  s->kind = kind;
  s->cap = cap < 2 ? 2 : cap;
  s->t = malloc(sizeof(double) * s->cap);
  s->v = malloc(sizeof(double) * s->cap);
  if (kind == SL_KIND_COUNTER) s->adj = malloc(sizeof(double) * s->cap);
  if (!s->t || !s->v || (kind == SL_KIND_COUNTER && !s->adj)) {
    sl_series_deinit(s);
    return SL_ENOMEM;
  }
  return SL_OK;
}

void sl_series_deinit(sl_series_t *s) {
  free(s->t);
  free(s->v);
  free(s->adj);
  free(s->bounds);
  free(s->buckets);
  free(s->off);
  free(s->base);
  free(s->sum);
  memset(s, 0, sizeof *s);
}

static inline int idx(const sl_series_t *s, int i) { // i-th oldest sample
  return (s->head - s->len + i + s->cap) % s->cap;
}

static int push_slot(sl_series_t *s, double t) {
  if (s->len > 0) {
    int last = idx(s, s->len - 1);
    if (t == s->t[last]) return last; // the same scrape delivered twice: overwrite
    if (t < s->t[last]) return -1;    // out of order: windows assume increasing time
  }
  int at = s->head;
  s->head = (s->head + 1) % s->cap;
  if (s->len < s->cap) s->len++;
  return at;
}

void sl_series_push(sl_series_t *s, double t, double v) {
  int at = push_slot(s, t);
  if (at < 0) return;
  s->t[at] = t;
  s->v[at] = v;
  if (s->adj) {
    if (s->len < 2) {
      s->adj[at] = 0;
    } else {
      int prev = idx(s, s->len - 2);
      double pv = s->v[prev];
      s->adj[at] = s->adj[prev] + (v >= pv ? v - pv : v); // a drop is a restart from zero
    }
  }
}

static void hist_free(sl_series_t *s) {
  free(s->bounds), free(s->buckets), free(s->off), free(s->base), free(s->sum);
  s->bounds = s->buckets = s->base = s->sum = NULL;
  s->off = NULL;
  s->nb = 0;
}

// Cumulative count of bucket i at slot `at`.
static inline double hist_at(const sl_series_t *s, int at, int i) {
  size_t k = (size_t)at * s->nb + i;
  return s->buckets ? s->buckets[k] : s->base[i] + s->off[k];
}

// Whether x is base + an offset the narrow form holds.
static inline int fits(double x, double base) {
  double d = x - base;
  return d >= 0 && d <= UINT32_MAX && d == floor(d) && x < 0x1p53;
}

// The narrow form's offsets measured from the oldest row that stays in the ring once `cum` is
// in, when `cum` fits that way (the rows after it do: counts only grow in the narrow form).
static int rebase(sl_series_t *s, const double *cum) {
  int k0 = s->len == s->cap ? 1 : 0; // a full ring drops its oldest row for cum
  if (s->len <= k0) return 0;
  int o = idx(s, k0), nb = s->nb;
  for (int i = 0; i < nb; i++)
    if (!fits(cum[i], hist_at(s, o, i))) return 0;
  for (int i = 0; i < nb; i++) {
    uint32_t d = s->off[(size_t)o * nb + i];
    for (int k = k0; k < s->len; k++) s->off[(size_t)idx(s, k) * nb + i] -= d;
    s->base[i] += d;
  }
  return 1;
}

// To doubles for good: every sample converted exactly.
static int widen(sl_series_t *s) {
  double *w = malloc(sizeof(double) * (size_t)s->nb * s->cap);
  if (!w) return SL_ENOMEM;
  for (int k = 0; k < s->len; k++) {
    int at = idx(s, k);
    for (int i = 0; i < s->nb; i++) w[(size_t)at * s->nb + i] = hist_at(s, at, i);
  }
  s->buckets = w;
  free(s->off), free(s->base);
  s->off = NULL;
  s->base = NULL;
  return SL_OK;
}

int sl_series_push_hist(sl_series_t *s, double t, const double *bounds, const double *cum, int nb,
                        double sum, double count) {
  if (nb <= 0) return SL_EINVAL;
  int same = s->nb == nb && s->bounds;
  for (int i = 0; same && i < nb; i++) same = s->bounds[i] == bounds[i];
  if (!same) {
    hist_free(s);
    s->bounds = malloc(sizeof(double) * nb);
    s->off = malloc(sizeof(uint32_t) * nb * s->cap);
    s->base = malloc(sizeof(double) * nb);
    s->sum = malloc(sizeof(double) * s->cap);
    if (!s->bounds || !s->off || !s->base || !s->sum) {
      hist_free(s);
      return SL_ENOMEM;
    }
    memcpy(s->bounds, bounds, sizeof(double) * nb);
    s->nb = nb;
    s->len = 0;
    s->head = 0;
    // The first row is the base; one that is not whole counts starts wide.
    for (int i = 0; i < nb; i++) s->base[i] = cum[i] >= 0 && cum[i] < 0x1p53 ? floor(cum[i]) : 0;
  }
  if (!s->buckets) {
    int ok = 1;
    for (int i = 0; ok && i < nb; i++) ok = fits(cum[i], s->base[i]);
    if (!ok && !rebase(s, cum) && widen(s) < 0) return SL_ENOMEM;
  }
  // The slot is taken only now: a rebase measures from the oldest sample still in the ring.
  int at = push_slot(s, t);
  if (at < 0) return SL_OK;
  s->t[at] = t;
  s->v[at] = count;
  s->sum[at] = sum;
  if (s->buckets) {
    memcpy(s->buckets + (size_t)at * nb, cum, sizeof(double) * nb);
  } else {
    uint32_t *o = s->off + (size_t)at * nb;
    for (int i = 0; i < nb; i++) o[i] = (uint32_t)(cum[i] - s->base[i]);
  }
  return SL_OK;
}

double sl_series_last(const sl_series_t *s, double *t) {
  if (!s || s->len == 0) {
    if (t) *t = -INFINITY;
    return NAN;
  }
  int last = idx(s, s->len - 1);
  if (t) *t = s->t[last];
  return s->v[last];
}

// First sample index (0-based age order) inside (now - window, now], or len when none.
static int first_in(const sl_series_t *s, double now, double window) {
  int lo = 0, hi = s->len; // binary search: times are increasing
  double from = now - window;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (s->t[idx(s, mid)] > from)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

static int last_in(const sl_series_t *s, double now) {
  int lo = 0, hi = s->len; // first index with t > now
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (s->t[idx(s, mid)] > now)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo - 1;
}

double sl_series_avg_over(const sl_series_t *s, double now, double window) {
  if (!s) return NAN;
  int a = first_in(s, now, window), b = last_in(s, now);
  if (a > b) return NAN;
  double sum = 0;
  int n = 0;
  for (int i = a; i <= b; i++) {
    double v = s->v[idx(s, i)];
    if (isnan(v)) continue;
    sum += v;
    n++;
  }
  return n ? sum / n : NAN;
}

static double extreme_over(const sl_series_t *s, double now, double window, int want_max) {
  if (!s) return NAN;
  int a = first_in(s, now, window), b = last_in(s, now);
  double best = NAN;
  for (int i = a; i <= b; i++) {
    double v = s->v[idx(s, i)];
    if (isnan(v)) continue;
    if (isnan(best) || (want_max ? v > best : v < best)) best = v;
  }
  return best;
}

double sl_series_max_over(const sl_series_t *s, double now, double window) {
  return extreme_over(s, now, window, 1);
}

double sl_series_min_over(const sl_series_t *s, double now, double window) {
  return extreme_over(s, now, window, 0);
}

double sl_series_increase(const sl_series_t *s, double now, double window, double *span) {
  if (span) *span = 0;
  if (!s) return NAN;
  int a = first_in(s, now, window), b = last_in(s, now);
  if (b - a < 1) return NAN;
  double inc;
  if (s->adj) {
    inc = s->adj[idx(s, b)] - s->adj[idx(s, a)];
  } else {
    inc = 0;
    double prev = s->v[idx(s, a)];
    for (int i = a + 1; i <= b; i++) {
      double v = s->v[idx(s, i)];
      inc += v >= prev ? v - prev : v; // a drop is a restart from zero
      prev = v;
    }
  }
  if (span) *span = s->t[idx(s, b)] - s->t[idx(s, a)];
  return inc;
}

double sl_series_rate(const sl_series_t *s, double now, double window) {
  double span;
  double inc = sl_series_increase(s, now, window, &span);
  if (isnan(inc) || span <= 0) return NAN;
  return inc / span;
}

int sl_series_hist_delta(const sl_series_t *s, double now, double window, double *acc, double *sum,
                         double *count) {
  if (!s || s->nb == 0) return 0;
  int a = first_in(s, now, window), b = last_in(s, now);
  if (b - a < 1) return 0;
  int ia = idx(s, a), ib = idx(s, b);
  int reset = s->v[ib] < s->v[ia];
  for (int i = 0; i < s->nb; i++) {
    double cb = hist_at(s, ib, i);
    acc[i] += reset ? cb : cb - hist_at(s, ia, i);
  }
  *sum += reset ? s->sum[ib] : s->sum[ib] - s->sum[ia];
  *count += reset ? s->v[ib] : s->v[ib] - s->v[ia];
  return s->nb;
}

int sl_series_hist_row(const sl_series_t *s, int k, double *out) {
  if (!s || !s->nb || k < 0 || k >= s->len) return 0;
  int at = idx(s, k);
  for (int i = 0; i < s->nb; i++) out[i] = hist_at(s, at, i);
  return s->nb;
}

double sl_series_hist_quantile(const double *bounds, const double *cum, int nb, double q) {
  if (nb < 1 || isnan(q) || q < 0 || q > 1) return NAN;
  double total = cum[nb - 1];
  if (!(total > 0)) return NAN;
  double rank = q * total;
  int i = 0;
  while (i < nb - 1 && cum[i] < rank) i++;
  if (isinf(bounds[i])) {
    // Rank falls in the +Inf bucket: the best we can say is the largest finite bound.
    for (int j = i - 1; j >= 0; j--)
      if (!isinf(bounds[j])) return bounds[j];
    return NAN;
  }
  double lo = i == 0 ? (bounds[0] > 0 ? 0 : bounds[0]) : bounds[i - 1];
  double below = i == 0 ? 0 : cum[i - 1];
  double in = cum[i] - below;
  if (in <= 0) return bounds[i];
  return lo + (bounds[i] - lo) * (rank - below) / in;
}
