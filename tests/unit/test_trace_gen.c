// Generators (rate and CV over long runs), token-length distributions, rate/time scaling,
// determinism by seed, the per-bin pre-pass, and the hot-path samplers.
#include <math.h>

#include "core/sim/trace.h"
#include "core/sim/trace_src.h"
#include "tests/unit/tap.h"
#include "tests/unit/trace_fixture.h"

static double gap_cv(const fx_reqs_t *o) {
  double s = 0, s2 = 0;
  size_t n = o->n - 1;
  for (size_t i = 1; i < o->n; i++) {
    double g = o->r[i].t - o->r[i - 1].t;
    s += g;
    s2 += g * g;
  }
  double m = s / n;
  return sqrt(s2 / n - m * m) / m;
}

static size_t count_in(const fx_reqs_t *o, double a, double b) {
  size_t n = 0;
  for (size_t i = 0; i < o->n; i++) n += o->r[i].t >= a && o->r[i].t < b;
  return n;
}

// Arrivals per bin of w seconds, nb bins.
static size_t *histogram(const fx_reqs_t *o, double w, int nb) {
  size_t *h = calloc((size_t)nb, sizeof *h);
  for (size_t i = 0; i < o->n; i++) {
    int k = (int)(o->r[i].t / w);
    if (k >= 0 && k < nb) h[k]++;
  }
  return h;
}

static void rate_cv(const char *spec, double dur, double rate, double cv, double rtol,
                    double cvtol) {
  fx_reqs_t o = fx_drain(spec, NULL);
  T_EQ_INT(o.rc, 0, spec);
  T_OK(fx_ordered(&o), "%s: time order", spec);
  T_OK(o.n > 0 && o.r[o.n - 1].t < dur, "%s: ends before its duration", spec);
  T_NEAR(o.n / dur / rate, 1, rtol, "mean rate / requested rate");
  T_NEAR(gap_cv(&o) / cv, 1, cvtol, "inter-arrival CV / expected CV");
  free(o.r);
}

static void generators(void) {
  rate_cv("poisson:rate=50,duration=8000", 8000, 50, 1, 0.01, 0.02);
  rate_cv("gamma:rate=20,cv=3,duration=50000", 50000, 20, 3, 0.02, 0.05);
  rate_cv("gamma:rate=20,cv=0.5,duration=50000", 50000, 20, 0.5, 0.01, 0.02);
  rate_cv("weibull:rate=20,shape=0.5,duration=50000", 50000, 20, sqrt(5), 0.02, 0.06);
  // A burst generator like the Azure code trace: CV 13 at 2.6 req/s.
  rate_cv("gamma:rate=2.6,cv=13,duration=400000", 4e5, 2.6, 13, 0.1, 0.15);
  rate_cv("diurnal:mean=20,peak=20,cv=3,duration=50000", 50000, 20, 3, 0.02, 0.05);

  // Diurnal: the day's mean, the peak hour's rate and where it falls.
  fx_reqs_t d =
      fx_drain("diurnal:mean=10,peak=25,period=86400,peak_at=43200,duration=172800", NULL);
  T_NEAR(d.n / 172800.0, 10, 0.1, "diurnal: mean rate over two days");
  double best = 0;
  int best_h = -1;
  size_t *hours = histogram(&d, 3600, 48);
  for (int h = 0; h < 48; h++) {
    double r = hours[h] / 3600.0;
    if (r > best) best = r, best_h = h;
  }
  T_NEAR(best / 25, 1, 0.03, "diurnal: peak hour at the peak rate");
  T_OK(best_h == 11 || best_h == 12 || best_h == 35 || best_h == 36,
       "diurnal: peak near noon (hour %d)", best_h);
  double trough = hours[0] / 3600.0;
  T_OK(trough < 5, "diurnal: midnight well below the mean (%g)", trough);
  free(hours);
  free(d.r);

  // Bursts on a flat day: burst_x times the rate for burst_s seconds, bursts times.
  fx_reqs_t b =
      fx_drain("diurnal:mean=20,peak=20,bursts=4,burst_x=6,burst_s=900,duration=86400", NULL);
  int hot = 0;
  size_t *mins = histogram(&b, 60, 1440);
  for (int m = 0; m < 1440; m++) hot += mins[m] > 3 * 20 * 60;
  free(mins);
  T_OK(hot >= 52 && hot <= 62, "bursts: about 4 x 15 one-minute bins at 6x (got %d)", hot);
  // Overlapping bursts do not compound, so the mean can fall a little short of this.
  T_NEAR(b.n / 86400.0, 20 * (1 + 4 * 900 * 5 / 86400.0), 1.2, "bursts: mean includes them");
  free(b.r);

  fx_reqs_t s = fx_drain("step:rate=10,to=40,at=1000,duration=2000", NULL);
  T_NEAR(count_in(&s, 0, 1000) / 1000.0, 10, 0.5, "step: rate before");
  T_NEAR(count_in(&s, 1000, 2000) / 1000.0, 40, 1.2, "step: rate after");
  T_OK(s.n && s.r[s.n - 1].t < 2000, "step: duration honoured");
  free(s.r);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static void quantiles(const fx_reqs_t *o, int out, double *mean, double *p50, double *p99) {
  uint32_t *v = malloc(o->n * sizeof *v);
  double s = 0;
  for (size_t i = 0; i < o->n; i++) {
    v[i] = out ? o->r[i].out_tokens : o->r[i].in_tokens;
    s += v[i];
  }
  qsort(v, o->n, sizeof *v, cmp_u32);
  *mean = s / o->n;
  *p50 = v[o->n / 2];
  *p99 = v[(size_t)(o->n * 0.99)];
  free(v);
}

static void tokens(void) {
  fx_reqs_t o = fx_drain("poisson:rate=1000,duration=300", NULL);
  double m, p50, p99;
  quantiles(&o, 0, &m, &p50, &p99);
  T_NEAR(m / 1155, 1, 0.1, "default tokens: input mean vs Azure 1155");
  T_NEAR(p50 / 1020, 1, 0.1, "default tokens: input p50 vs Azure 1020");
  T_NEAR(p99 / 4142, 1, 0.1, "default tokens: input p99 vs Azure 4142");
  quantiles(&o, 1, &m, &p50, &p99);
  T_NEAR(m / 211, 1, 0.1, "default tokens: output mean vs Azure 211");
  T_NEAR(p50 / 129, 1, 0.1, "default tokens: output p50 vs Azure 129");
  T_NEAR(p99 / 601, 1, 0.1, "default tokens: output p99 vs Azure 601");
  free(o.r);

  sl_trace_opts_t op = fx_opts();
  op.tokens = "azure";
  fx_reqs_t a = fx_drain("poisson:rate=1000,duration=10", &op);
  fx_reqs_t def = fx_drain("poisson:rate=1000,duration=10", NULL);
  int same = a.n == def.n;
  for (size_t i = 0; same && i < a.n; i++) same = a.r[i].in_tokens == def.r[i].in_tokens;
  T_OK(same, "tokens 'azure' is the default");
  free(a.r);
  free(def.r);

  op.tokens = "fixed:in=100,out=7";
  o = fx_drain("poisson:rate=100,duration=10", &op);
  int fixed = o.n > 500;
  for (size_t i = 0; i < o.n; i++) fixed &= o.r[i].in_tokens == 100 && o.r[i].out_tokens == 7;
  T_OK(fixed, "tokens fixed");
  free(o.r);

  op.tokens = "lognormal:in_mu=5,in_sigma=0.5,out_mu=3,out_sigma=0.1,in_max=200";
  o = fx_drain("poisson:rate=1000,duration=100", &op);
  quantiles(&o, 1, &m, &p50, &p99);
  T_NEAR(p50 / exp(3), 1, 0.03, "lognormal: out median e^mu");
  T_NEAR(log(p99 / p50) / 0.1, 2.326, 0.15, "lognormal: out sigma from p99/p50");
  quantiles(&o, 0, &m, &p50, &p99);
  T_NEAR(p50 / exp(5), 1, 0.03, "lognormal: in median e^mu");
  T_EQ_INT(p99, 200, "lognormal: in_max clamps");
  free(o.r);
}

// Every time of a (sorted) appears in b (sorted).
static int subset(const fx_reqs_t *a, const fx_reqs_t *b) {
  size_t j = 0;
  for (size_t i = 0; i < a->n; i++) {
    while (j < b->n && b->r[j].t < a->r[i].t) j++;
    if (j == b->n || b->r[j].t != a->r[i].t) return 0;
    j++;
  }
  return 1;
}

static void scaling(void) {
  const char *spec = "poisson:rate=200,duration=1000";
  fx_reqs_t full = fx_drain(spec, NULL);
  sl_trace_opts_t o = fx_opts();

  o.rate_scale = 0.5;
  fx_reqs_t half = fx_drain(spec, &o);
  T_NEAR((double)half.n / full.n, 0.5, 0.01, "rate_scale 0.5 keeps half");
  T_OK(fx_ordered(&half), "rate_scale 0.5: time order");
  T_OK(subset(&half, &full), "rate_scale 0.5 keeps a subset of the same arrivals");

  o.rate_scale = 2.5;
  o.jitter_s = 0.5;
  fx_reqs_t more = fx_drain(spec, &o);
  T_NEAR((double)more.n / full.n, 2.5, 0.02, "rate_scale 2.5 gives 2.5x");
  T_OK(fx_ordered(&more), "rate_scale 2.5: time order kept across jittered copies");
  T_OK(subset(&full, &more), "rate_scale 2.5 keeps every original");
  // Copies land within jitter_s after an original: no request is further than that from the
  // latest original before it.
  size_t j = 0;
  double worst = 0;
  for (size_t i = 0; i < more.n; i++) {
    while (j + 1 < full.n && full.r[j + 1].t <= more.r[i].t) j++;
    double d = more.r[i].t - full.r[j].t;
    if (d > worst) worst = d;
  }
  T_OK(worst < 0.5, "copies lie within jitter_s of an original (worst %g)", worst);
  free(more.r);

  o.rate_scale = 3;
  o.jitter_s = 0;
  more = fx_drain(spec, &o);
  T_EQ_INT(more.n, 3 * full.n, "rate_scale 3 with no jitter: exactly three of each");
  free(more.r);

  o = fx_opts();
  o.rate_scale = 0;
  more = fx_drain(spec, &o);
  T_EQ_INT(more.n, 0, "rate_scale 0 keeps nothing");
  free(more.r);

  o = fx_opts();
  o.time_scale = 3;
  fx_reqs_t slow = fx_drain(spec, &o);
  int stretched = slow.n == full.n;
  for (size_t i = 0; stretched && i < slow.n; i++)
    stretched = slow.r[i].t == full.r[i].t * 3 && slow.r[i].in_tokens == full.r[i].in_tokens;
  T_OK(stretched, "time_scale 3 stretches every time by 3, same requests");
  free(slow.r);

  o = fx_opts();
  o.start = 300;
  o.duration = 200;
  fx_reqs_t part = fx_drain(spec, &o);
  T_OK(part.n > 0 && part.r[0].t >= 0 && part.r[part.n - 1].t < 200,
       "start/duration slice a generator");
  T_NEAR(part.n / 200.0, 200, 10, "slice keeps the rate");
  free(part.r);
  free(half.r);
  free(full.r);
}

static int same_reqs(const fx_reqs_t *a, const fx_reqs_t *b) {
  if (a->n != b->n) return 0;
  for (size_t i = 0; i < a->n; i++)
    if (a->r[i].t != b->r[i].t || a->r[i].in_tokens != b->r[i].in_tokens ||
        a->r[i].out_tokens != b->r[i].out_tokens)
      return 0;
  return 1;
}

static void determinism(void) {
  const char *specs[] = {
      "gamma:rate=50,cv=4,duration=500", "diurnal:mean=5,peak=9,period=3600,bursts=3,duration=7200",
      "weibull:rate=30,shape=0.7,duration=300", "step:rate=3,to=30,at=50,duration=100"};
  for (int i = 0; i < 4; i++) {
    sl_trace_opts_t o = fx_opts();
    o.seed = 42;
    o.rate_scale = 1.7;
    fx_reqs_t a = fx_drain(specs[i], &o), b = fx_drain(specs[i], &o);
    o.seed = 43;
    fx_reqs_t c = fx_drain(specs[i], &o);
    T_OK(a.n > 100 && same_reqs(&a, &b), "%s: same seed, same requests", specs[i]);
    T_OK(!same_reqs(&a, &c), "%s: another seed, other requests", specs[i]);
    free(a.r);
    free(b.r);
    free(c.r);
  }
}

static void bins(void) {
  sl_trace_opts_t o = fx_opts();
  o.rate_scale = 2.5;
  o.seed = 9;
  const char *spec = "gamma:rate=30,cv=2,duration=600";
  sl_trace_bins_t b;
  sl_err_t e;
  int rc = sl_trace_bins(spec, &o, 60, &b, &e);
  T_EQ_INT(rc, 0, "bins");
  fx_reqs_t r = fx_drain(spec, &o);
  uint64_t cnt[10] = {0}, in[10] = {0}, out[10] = {0};
  for (size_t i = 0; i < r.n; i++) {
    int k = (int)(r.r[i].t / 60);
    cnt[k]++;
    in[k] += r.r[i].in_tokens;
    out[k] += r.r[i].out_tokens;
  }
  int same = b.n == 10 && b.total == r.n;
  for (int k = 0; same && k < 10; k++)
    same = b.count[k] == cnt[k] && b.in_tokens[k] == in[k] && b.out_tokens[k] == out[k];
  T_OK(same, "bins match the stream bin for bin (counts and token sums)");
  T_NEAR(b.last_t, r.r[r.n - 1].t, 0, "bins: last arrival");
  sl_trace_bins_deinit(&b);
  free(r.r);

  rc = sl_trace_bins("step:rate=5,to=0,at=100,duration=600", NULL, 60, &b, &e);
  T_OK(rc == 0 && b.n == 10 && b.count[9] == 0 && b.count[0] > 200,
       "bins run to the trace's duration, empty tail included");
  sl_trace_bins_deinit(&b);
  rc = sl_trace_bins("poisson:rate=1", NULL, 0, &b, &e);
  T_EQ_INT(rc, SL_EINVAL, "bins: bin_s must be positive");
}

static void samplers(void) {
  sl_rng_t r;
  sl_rng_seed(&r, 5);
  double s = 0, s2 = 0;
  int tail3 = 0, tail4 = 0;
  const int n = 2000000;
  for (int i = 0; i < n; i++) {
    double z = sl_rng_normal(&r);
    s += z;
    s2 += z * z;
    tail3 += fabs(z) > 3;
    tail4 += fabs(z) > 3.6; // beyond the ziggurat's base layer
  }
  T_NEAR(s / n, 0, 0.003, "ziggurat normal: mean");
  T_NEAR(s2 / n, 1, 0.005, "ziggurat normal: variance");
  T_NEAR(tail3 / (double)n / 0.0026998, 1, 0.05, "ziggurat normal: P(|z| > 3)");
  T_NEAR(tail4 / (double)n / 0.00031828, 1, 0.12, "ziggurat normal: P(|z| > 3.6), the tail");
  double ks[] = {0.3, 1, 2.5};
  for (int j = 0; j < 3; j++) {
    s = s2 = 0;
    for (int i = 0; i < n / 4; i++) {
      double g = sl_rng_gamma(&r, ks[j], 1);
      s += g;
      s2 += g * g;
    }
    double m = s / (n / 4), v = s2 / (n / 4) - m * m;
    T_NEAR(m / ks[j], 1, 0.01, "gamma(k): mean k");
    T_NEAR(v / ks[j], 1, 0.04, "gamma(k): variance k");
  }
}

int main(void) {
  generators();
  tokens();
  scaling();
  determinism();
  bins();
  samplers();
  return tap_done();
}
