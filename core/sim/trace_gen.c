// Synthetic arrival generators (poisson, gamma, weibull, diurnal, step) and the k=v parser of
// specs. Every generator is a renewal process with unit-mean gaps in "operational time", mapped to
// real time through a piecewise-constant rate: constant for poisson/gamma/weibull, two pieces for
// step, short steps of a log-sinusoidal day (plus bursts) for diurnal. The gap law sets the
// burstiness (CV) and the rate sets the mean, independently.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sim/trace_gen.h"
#include "core/sim/trace_lines.h"

#define MAX_PARAMS 16

int sl_trace_gen_params(const char *what, const char *kv, sl_trace_gen_param_t *p, int np,
                        sl_err_t *err) {
  bool seen[MAX_PARAMS] = {0};
  const char *s = kv ? kv : "";
  while (*s) {
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    const char *eq = memchr(s, '=', len);
    if (!eq || eq == s)
      return sl_err(err, SL_EINVAL, "%s: expected key=value, got '%.*s'", what, (int)len, s);
    size_t klen = (size_t)(eq - s);
    int i = 0;
    while (i < np && !(strlen(p[i].key) == klen && !strncmp(p[i].key, s, klen))) i++;
    if (i == np) {
      char known[256] = "";
      for (int j = 0; j < np; j++) {
        if (j) strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, p[j].key, sizeof known - strlen(known) - 1);
      }
      return sl_err(err, SL_EINVAL, "%s: unknown parameter '%.*s' (known: %s)", what, (int)klen, s,
                    known);
    }
    if (seen[i]) return sl_err(err, SL_EINVAL, "%s: %s given twice", what, p[i].key);
    seen[i] = true;
    const char *v = eq + 1;
    size_t vlen = len - klen - 1;
    double x;
    if (!sl_trace_lines_num(v, vlen, &x))
      return sl_err(err, SL_EINVAL, "%s: %s must be a number, got '%.*s'", what, p[i].key,
                    (int)vlen, v);
    if (x < p[i].min || (p[i].min_open && x <= p[i].min) || x > p[i].max)
      return sl_err(err, SL_EINVAL, "%s: %s must be %s %g and <= %g, got %g", what, p[i].key,
                    p[i].min_open ? ">" : ">=", p[i].min, p[i].max, x);
    *p[i].dst = x;
    s = comma ? comma + 1 : s + len;
  }
  for (int i = 0; i < np; i++)
    if (p[i].required && !seen[i]) return sl_err(err, SL_EINVAL, "%s needs %s=", what, p[i].key);
  return 0;
}

enum { G_POISSON, G_GAMMA, G_WEIBULL, G_DIURNAL, G_STEP, G_N };
static const char *const names[G_N] = {"poisson", "gamma", "weibull", "diurnal", "step"};

enum { GAP_EXP, GAP_GAMMA, GAP_WEIBULL };

typedef struct {
  sl_trace_src_t base;
  int kind;
  double rate, cv, shape, mean, peak, period, peak_at, bursts, burst_x, burst_s, to, at, dur;
  int gap;
  double gk, gscale; // gap law parameters, unit mean
  double t;          // current time
  double seg_end, seg_rate;
  long long seg;       // diurnal step index
  double step, a, i0e; // diurnal: step length, concentration, e^-a I0(a)
  double *burst;       // diurnal burst start times, sorted
  int nb;
  sl_rng_t rng;
} gen_t;

static int kind_of(const char *spec, size_t n) {
  for (int i = 0; i < G_N; i++)
    if (strlen(names[i]) == n && !strncmp(names[i], spec, n)) return i;
  return -1;
}

bool sl_trace_gen_is(const char *spec) {
  const char *c = strchr(spec, ':');
  return kind_of(spec, c ? (size_t)(c - spec) : strlen(spec)) >= 0;
}

// e^-a I0(a) by its power series (a <= ~450 here, where I0 still fits a double).
static double i0e(double a) {
  double term = 1, sum = 1, q = a * a / 4;
  for (int k = 1; k < 2000; k++) {
    term *= q / ((double)k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum * exp(-a);
}

static double diurnal_rate(const gen_t *g, double t) {
  double r = g->mean * exp(g->a * (cos(2 * M_PI * (t - g->peak_at) / g->period) - 1)) / g->i0e;
  // Overlapping bursts do not compound: one burst_x however many cover t.
  for (int i = 0; i < g->nb && g->burst[i] <= t; i++)
    if (t < g->burst[i] + g->burst_s) return r * g->burst_x;
  return r;
}

// Sets the piece of the rate function containing g->t (diurnal: step g->seg).
static void segment(gen_t *g) {
  switch (g->kind) {
  case G_STEP:
    if (g->t < g->at) {
      g->seg_end = g->at;
      g->seg_rate = g->rate;
    } else {
      g->seg_end = INFINITY;
      g->seg_rate = g->to;
    }
    break;
  case G_DIURNAL:
    g->seg_end = (double)(g->seg + 1) * g->step;
    g->seg_rate = diurnal_rate(g, ((double)g->seg + 0.5) * g->step);
    break;
  default:
    g->seg_end = INFINITY;
    g->seg_rate = g->rate;
  }
}

static double gap(gen_t *g) {
  switch (g->gap) {
  case GAP_GAMMA:
    return sl_rng_gamma(&g->rng, g->gk, 1) * g->gscale;
  case GAP_WEIBULL:
    return sl_rng_weibull(&g->rng, g->gk, g->gscale);
  default:
    return -log(sl_rng_uniform_pos(&g->rng));
  }
}

static int gen_next(sl_trace_src_t *s, sl_req_t *r, sl_rng_t **rng, sl_err_t *err) {
  gen_t *g = (gen_t *)s;
  if (g->t >= g->dur) return 0;
  double x = gap(g);
  for (;;) {
    if (g->seg_rate > 0) {
      double need = x / g->seg_rate;
      if (g->t + need < g->seg_end) {
        g->t += need;
        break;
      }
      x -= g->seg_rate * (g->seg_end - g->t);
      if (x < 0) x = 0;
    }
    g->t = g->seg_end;
    if (g->t >= g->dur) return 0;
    g->seg++;
    segment(g);
  }
  if (g->t >= g->dur) return 0;
  memset(r, 0, sizeof *r);
  r->t = g->t;
  return 1;
}

static void gen_seek(sl_trace_src_t *s, double t) {
  gen_t *g = (gen_t *)s;
  if (t <= g->t) return;
  g->t = t;
  if (g->kind == G_DIURNAL) g->seg = (long long)floor(t / g->step);
  segment(g);
}

static void gen_free(sl_trace_src_t *s) {
  gen_t *g = (gen_t *)s;
  free(g->burst);
  free(g);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

#define DMAX 1e9 // durations, periods and times: ~31 years
#define RMAX 1e9 // requests per second

int sl_trace_gen_open(const char *spec, const sl_trace_opts_t *o, sl_trace_src_t **out,
                      sl_err_t *err) {
  const char *colon = strchr(spec, ':');
  size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
  int kind = kind_of(spec, nlen);
  if (kind < 0)
    return sl_err(err, SL_EINVAL,
                  "unknown generator '%.*s' (known: poisson, gamma, weibull, diurnal, step)",
                  (int)nlen, spec);
  gen_t *g = calloc(1, sizeof *g);
  if (!g) return sl_err(err, SL_ENOMEM, "out of memory");
  g->kind = kind;
  g->cv = 1;
  g->dur = 3600;
  g->period = 86400;
  g->peak_at = NAN;
  g->burst_x = 3;
  g->burst_s = 120;
  g->at = NAN;
  double dur = NAN;
  char what[32];
  snprintf(what, sizeof what, "generator '%s'", names[kind]);
  const char *kv = colon ? colon + 1 : "";
  sl_trace_gen_param_t p[MAX_PARAMS];
  int np = 0;
#define P(k, d, lo, hi, req, open)                                                                 \
  p[np++] = (sl_trace_gen_param_t) {                                                               \
    k, d, lo, hi, req, open                                                                        \
  }
  switch (kind) {
  case G_POISSON:
    P("rate", &g->rate, 0, RMAX, true, true);
    break;
  case G_GAMMA:
    P("rate", &g->rate, 0, RMAX, true, true);
    P("cv", &g->cv, 0, 100, true, true);
    break;
  case G_WEIBULL:
    P("rate", &g->rate, 0, RMAX, true, true);
    P("shape", &g->shape, 0.05, 100, true, false);
    break;
  case G_DIURNAL:
    P("mean", &g->mean, 0, RMAX, true, true);
    P("peak", &g->peak, 0, RMAX, true, true);
    P("period", &g->period, 60, DMAX, false, false);
    P("peak_at", &g->peak_at, 0, DMAX, false, false);
    P("cv", &g->cv, 0, 100, false, true);
    P("bursts", &g->bursts, 0, 10000, false, false);
    P("burst_x", &g->burst_x, 0, 1000, false, true);
    P("burst_s", &g->burst_s, 0, DMAX, false, true);
    break;
  case G_STEP:
    P("rate", &g->rate, 0, RMAX, true, false);
    P("to", &g->to, 0, RMAX, true, false);
    P("at", &g->at, 0, DMAX, false, false);
    P("cv", &g->cv, 0, 100, false, true);
    break;
  }
  P("duration", &dur, 0, DMAX, false, true);
#undef P
  int rc = sl_trace_gen_params(what, kv, p, np, err);
  if (rc < 0) goto fail;
  if (kind == G_DIURNAL) g->dur = g->period;
  if (!isnan(dur)) g->dur = dur;
  double own = g->dur; // bursts spread over the generator's own span, whatever the slice
  // Stop where the slice ends, not only where the generator would: walking a long empty stretch
  // of a low rate costs time.
  if (o && o->duration > 0) g->dur = fmin(g->dur, o->start + o->duration);

  g->gap = GAP_EXP;
  if (kind == G_WEIBULL) {
    g->gap = GAP_WEIBULL;
    g->gk = g->shape;
    g->gscale = 1 / tgamma(1 + 1 / g->shape);
  } else if (g->cv != 1) {
    g->gap = GAP_GAMMA;
    g->gk = 1 / (g->cv * g->cv);
    g->gscale = g->cv * g->cv;
  }
  if (kind == G_STEP) {
    if (g->rate == 0 && g->to == 0) {
      rc = sl_err(err, SL_EINVAL, "%s: rate and to cannot both be 0", what);
      goto fail;
    }
    if (isnan(g->at)) g->at = g->dur / 2;
  }
  if (kind == G_DIURNAL) {
    double ratio = g->peak / g->mean;
    if (ratio < 1 || ratio > 50) {
      rc = sl_err(err, SL_EINVAL, "%s: peak must lie between mean and 50 * mean, got %g / %g", what,
                  g->peak, g->mean);
      goto fail;
    }
    if (isnan(g->peak_at)) g->peak_at = g->period / 2;
    // The peak/mean ratio of exp(a cos x) / I0(a) is 1 / i0e(a), increasing in a.
    double lo = 0, hi = 450;
    for (int i = 0; i < 100; i++) {
      double mid = (lo + hi) / 2;
      if (1 / i0e(mid) < ratio)
        lo = mid;
      else
        hi = mid;
    }
    g->a = ratio == 1 ? 0 : (lo + hi) / 2;
    g->i0e = i0e(g->a);
    // 8640 steps a period (10 s for a day), finer for short bursts, but never more than 1e6
    // a period: a trough where the rate underflows to 0 is walked step by step.
    g->step = g->period / 8640;
    if (g->bursts > 0) g->step = fmin(g->step, g->burst_s / 10);
    g->step = fmax(g->step, fmax(0.01, g->period / 1e6));
    g->nb = (int)g->bursts;
    if (g->bursts != g->nb) {
      rc = sl_err(err, SL_EINVAL, "%s: bursts must be a whole number, got %g", what, g->bursts);
      goto fail;
    }
  }

  uint64_t seed = o ? o->seed : 1;
  sl_rng_seed(&g->rng, seed ^ 0x67656e657261746fULL);
  if (g->nb > 0) {
    g->burst = malloc(sizeof *g->burst * (size_t)g->nb);
    if (!g->burst) {
      rc = sl_err(err, SL_ENOMEM, "out of memory");
      goto fail;
    }
    double span = fmax(0, own - g->burst_s);
    for (int i = 0; i < g->nb; i++) g->burst[i] = span * sl_rng_uniform(&g->rng);
    qsort(g->burst, (size_t)g->nb, sizeof *g->burst, cmp_double);
  }
  segment(g);
  g->base.next = gen_next;
  g->base.seek = gen_seek;
  g->base.free = gen_free;
  g->base.kind = names[kind];
  g->base.has_tokens = false;
  g->base.end = g->dur;
  *out = &g->base;
  return 0;
fail:
  gen_free(&g->base);
  return rc;
}
