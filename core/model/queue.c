// The state-dependent birth-death chain of one replica, its predictions and its inverse.
#include "core/model/queue.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Below this fraction of mu(1) the inverse does not search; above 0.999 mu(N) the queue is
// treated as unstable (WVA's bounds).
#define RATE_FLOOR_FRAC 0.001
#define RATE_LIMIT_FRAC 0.999
// The inverse bisects a fixed bracket until it is narrower than this fraction of its upper end.
// Every decision is monotone in the targets and the stopping rule looks at the bracket alone, so a
// looser target never gives a lower rate: two searches take the same steps until a decision
// differs, after which the looser one's bracket lies wholly above the other's.
#define INVERSE_REL_WIDTH 1e-10
#define INVERSE_MAX_STEPS 64

static inline double *lmu_cum(const sl_queue_t *q) {
  return (double *)q->data;
}
static inline double *t_dec(const sl_queue_t *q) {
  return (double *)q->data + q->n + 1;
}

// Step profiles solve the step mix at these batch sizes and interpolate linearly between them:
// every size up to 3, then two per octave, and N - 1 and N. The per-request times vary smoothly
// with the batch: predictions stay within 1% of solving at every size (tests/unit).
typedef struct {
  int n;    // requests in service
  double d; // of them decoding
  sl_stepmix_at_t at;
} knot_t;

#define KNOTS_DENSE      3
#define KNOTS_PER_OCTAVE 2
#define KNOTS_MAX        64 // enough for SL_QUEUE_MAX_BATCH

static inline knot_t *knots(const sl_queue_t *q) {
  return (knot_t *)q->data;
}

static int knot_sizes(int big_n, int *out) {
  int c = 0;
  for (int n = 0; n <= big_n && n <= KNOTS_DENSE; n++) out[c++] = n;
  for (int i = 1;; i++) {
    int n = (int)lround(KNOTS_DENSE * pow(2, (double)i / KNOTS_PER_OCTAVE));
    if (n >= big_n - 1) break;
    if (n > out[c - 1]) out[c++] = n;
  }
  for (int n = big_n - 1; n <= big_n; n++)
    if (n > out[c - 1]) out[c++] = n;
  return c;
}

size_t sl_queue_bytes(int max_batch) {
  if (max_batch < 1) max_batch = 1;
  size_t chain = 2 * ((size_t)max_batch + 1) * sizeof(double);
  int ns[KNOTS_MAX];
  size_t step = (size_t)knot_sizes(max_batch, ns) * sizeof(knot_t);
  return sizeof(sl_queue_t) + (chain > step ? chain : step);
}

static int check_shape(const sl_shape_t *s, sl_err_t *err) {
  if (s->max_batch < 1 || s->max_batch > SL_QUEUE_MAX_BATCH)
    return sl_err(err, SL_EINVAL, "max_batch: must be 1..%d (got %d)", SL_QUEUE_MAX_BATCH,
                  s->max_batch);
  if (s->max_queue > SL_QUEUE_MAX_QUEUE)
    return sl_err(err, SL_EINVAL, "max_queue: must be 0..%d (got %d)", SL_QUEUE_MAX_QUEUE,
                  s->max_queue);
  if (!isfinite(s->in_tokens) || s->in_tokens < 0 || s->in_tokens > 1e7)
    return sl_err(err, SL_EINVAL, "in_tokens: must be 0..1e7 (got %g)", s->in_tokens);
  if (!isfinite(s->out_tokens) || s->out_tokens < 1 || s->out_tokens > 1e7)
    return sl_err(err, SL_EINVAL, "out_tokens: must be 1..1e7 (got %g)", s->out_tokens);
  if (!isfinite(s->in_cv) || s->in_cv < 0 || s->in_cv > 100)
    return sl_err(err, SL_EINVAL, "in_cv: must be 0..100 (got %g)", s->in_cv);
  if (!isfinite(s->out_cv) || s->out_cv < 0 || s->out_cv > 100)
    return sl_err(err, SL_EINVAL, "out_cv: must be 0..100 (got %g)", s->out_cv);
  if (!isfinite(s->kv_tokens) || s->kv_tokens < 0)
    return sl_err(err, SL_EINVAL, "kv_tokens: must be >= 0, 0 for no limit (got %g)", s->kv_tokens);
  if (s->max_batched_tokens < 0 || s->max_batched_tokens > 16777216)
    return sl_err(err, SL_EINVAL, "max_batched_tokens: must be 1..16777216, or 0 for %d (got %d)",
                  SL_STEPMIX_BUDGET, s->max_batched_tokens);
  return SL_OK;
}

// The saturated state: every seat taken and requests waiting, so a request enters when one leaves,
// at a step boundary (no residual), joining the others admitted there. Each of the N requests
// spends about out engine steps in service, so N / out are admitted per engine step, whatever its
// length. When the KV cache is the limit, vLLM admits a prompt as soon as it fits, with no room
// kept for the outputs still to come, and preempts the newest request (recomputing it later)
// when a decode step does not fit: over the time to the next departure the decoders grow by about
// out tokens, which evictions of about a prompt each must free, so each request's prefill is
// redone for about out - 1 more tokens (docs/kernels.md measures it).
static void saturated(sl_queue_t *q) {
  const knot_t *kn = knots(q);
  int last = q->nknots - 1;
  double per_step = q->n / q->mix.out;
  sl_stepmix_t mix = q->mix;
  sl_stepmix_at_t at[2];
  if (q->kv_bound) sl_stepmix_add_prompt(&mix, mix.out - 1);
  sl_stepmix_at(&mix, kn[last - 1].d, &at[0]);
  sl_stepmix_at(&mix, kn[last].d, &at[1]);
  sl_stepmix_sol_t so, sd;
  sl_stepmix_solve(&mix, &at[0], q->n > 1 ? per_step : 0, 1, NULL, &so);
  sl_stepmix_solve(&mix, &at[1], per_step, 1, NULL, &sd);
  q->pre_sat = so.own;
  q->dec_sat = sd.itl;
  // Prefill-bound: if the admissions this implies need more prompt tokens than steps take, every
  // step carries a full budget and admits what it holds, budget - d tokens, and d requests decode:
  // d = admissions per step (out - 1), so d = budget (out - 1) / (in + out - 1). The other
  // seated requests wait for their prefill (counted in the time before their first token).
  double outm1 = mix.out - 1;
  if (mix.in > 0) {
    double d = mix.budget * outm1 / (mix.in + outm1);
    if (d > kn[last].d) d = kn[last].d;
    sl_stepmix_at_t full;
    sl_stepmix_at(&mix, d, &full);
    double mu = full.room / mix.in / full.t_room; // per ms
    if (q->n / (q->pre_sat + outm1 * q->dec_sat) > mu) {
      q->dec_sat = full.t_room;
      q->pre_sat = q->n / mu - outm1 * q->dec_sat;
      if (q->pre_sat < full.t_room) q->pre_sat = full.t_room;
    }
  }
}

static int init_step(sl_queue_t *q, sl_err_t *err) {
  sl_step_t s;
  sl_perf_to_step(&q->perf, &s);
  const sl_shape_t *sh = &q->shape;
  sl_stepmix_init(&q->mix, &s, sh->in_tokens, sh->in_cv, sh->out_tokens, sh->out_cv,
                  sh->max_batched_tokens);
  if (sh->kv_tokens > 0) {
    // Each request holds its prompt and what it has generated: on average the decoders' context.
    double fit = floor(sh->kv_tokens / (q->mix.ctx > 1 ? q->mix.ctx : 1));
    if (fit < 1) fit = 1;
    if (fit < q->n) q->n = (int)fit, q->kv_bound = 1;
  }
  int ns[KNOTS_MAX];
  q->nknots = knot_sizes(q->n, ns);
  knot_t *kn = knots(q);
  for (int j = 0; j < q->nknots; j++) {
    kn[j].n = ns[j];
    kn[j].d = ns[j] * sl_stepmix_decoding(&q->mix, ns[j]);
    sl_stepmix_at(&q->mix, kn[j].d, &kn[j].at);
  }
  // mu(1) at the lowest rates: a prompt alone, then decode steps alone.
  sl_stepmix_sol_t a, b;
  sl_stepmix_solve(&q->mix, &kn[0].at, 0, 0, NULL, &a);
  sl_stepmix_solve(&q->mix, &kn[1].at, 0, 0, NULL, &b);
  double svc1 = a.own + (q->mix.out - 1) * b.itl;
  if (!(svc1 > 0 && isfinite(svc1)))
    return sl_err(err, SL_EINVAL, "profile gives a service time of %g ms at batch 1", svc1);
  q->mu_1 = 1 / svc1;
  saturated(q);
  double svc = q->pre_sat + (q->mix.out - 1) * q->dec_sat;
  if (!(svc > 0 && isfinite(svc)))
    return sl_err(err, SL_EINVAL, "profile gives a service time of %g ms at batch %d", svc, q->n);
  q->mu_n = q->n / svc;
  return SL_OK;
}

int sl_queue_init(sl_queue_t *q, size_t bytes, const sl_perf_t *perf, const sl_shape_t *shape,
                  sl_err_t *err) {
  int rc = sl_perf_check(perf, err);
  if (rc) return rc;
  if ((rc = check_shape(shape, err))) return rc;
  if (bytes < sl_queue_bytes(shape->max_batch))
    return sl_err(err, SL_EINVAL, "queue buffer too small for max_batch %d", shape->max_batch);
  q->perf = *perf;
  q->shape = *shape;
  if (q->shape.max_queue < 0) q->shape.max_queue = 10 * shape->max_batch;
  if (q->shape.max_batched_tokens <= 0) q->shape.max_batched_tokens = SL_STEPMIX_BUDGET;
  q->n = shape->max_batch;
  q->kv_bound = 0;
  if (perf->kind == SL_PERF_STEP) {
    if ((rc = init_step(q, err))) return rc;
    q->k = q->n + q->shape.max_queue;
    return SL_OK;
  }
  q->k = q->n + q->shape.max_queue;
  double *lc = lmu_cum(q), *td = t_dec(q);
  sl_perf_times_t t;
  sl_perf_times(perf, shape->in_tokens, shape->out_tokens, 0, &t);
  lc[0] = 0;
  td[0] = t.dec;
  for (int n = 1; n <= q->n; n++) {
    sl_perf_times(perf, shape->in_tokens, shape->out_tokens, n, &t);
    if (!(t.svc > 0 && isfinite(t.svc)))
      return sl_err(err, SL_EINVAL, "profile gives a service time of %g ms at batch %d", t.svc, n);
    lc[n] = lc[n - 1] + log(n / t.svc);
    td[n] = t.dec;
  }
  q->mu_n = exp(lc[q->n] - lc[q->n - 1]);
  q->mu_1 = exp(lc[1]);
  return SL_OK;
}

sl_queue_t *sl_queue_new(const sl_perf_t *perf, const sl_shape_t *shape, sl_err_t *err) {
  int rc = check_shape(shape, err);
  if (rc) return NULL;
  size_t bytes = sl_queue_bytes(shape->max_batch);
  sl_queue_t *q = malloc(bytes);
  if (!q) {
    sl_err(err, SL_ENOMEM, "out of memory for a queue of max_batch %d", shape->max_batch);
    return NULL;
  }
  if (sl_queue_init(q, bytes, perf, shape, err)) {
    free(q);
    return NULL;
  }
  return q;
}

void sl_queue_free(sl_queue_t *q) {
  free(q);
}

double sl_queue_rate_limit(const sl_queue_t *q) {
  return RATE_LIMIT_FRAC * q->mu_n * 1000.0;
}

double sl_queue_rate_floor(const sl_queue_t *q) {
  return RATE_FLOOR_FRAC * q->mu_1 * 1000.0;
}

// log(sum_{m=0..n} e^(m*l)), stable for any sign of l and n up to millions.
static double log_geom(double l, double n) {
  if (n < 0) return -INFINITY;
  if (l == 0) return log(n + 1);
  if (l > 0) return n * l + log_geom(-l, n);
  return log(expm1((n + 1) * l) / expm1(l));
}

// s0 = sum_{m=0..M} e^(b + m*l), s1 = sum_{m=0..M} m e^(b + m*l), with every exponent <= ~0.
static void geom_sums(double b, double l, double M, double *s0, double *s1) {
  if (M <= 0) {
    *s0 = exp(b);
    *s1 = 0;
    return;
  }
  if (l > 0) {
    // Reflect (m' = M - m) so the ratio is below 1 and the largest term comes first.
    double r0, r1;
    geom_sums(b + M * l, -l, M, &r0, &r1);
    *s0 = r0;
    *s1 = M * r0 - r1;
    return;
  }
  double e = exp(b), x = -M * l; // x >= 0
  if (x < 1e-6) {
    // rho within 1e-6/M of 1: second-order series, relative error ~ x^2.
    *s0 = e * ((M + 1) + l * M * (M + 1) / 2);
    *s1 = e * (M * (M + 1) / 2 + l * M * (M + 1) * (2 * M + 1) / 6);
    return;
  }
  double u = -expm1(l);   // 1 - rho
  double rm = exp(M * l); // rho^M
  double one_m_rm = -expm1(M * l);
  *s0 = e * (-expm1((M + 1) * l) / u);
  // sum m rho^m = rho ((1 - rho^M) - M rho^M (1 - rho)) / (1 - rho)^2
  *s1 = e * exp(l) * (one_m_rm - M * rm * u) / (u * u);
  if (*s1 < 0) *s1 = 0;
}

// The stationary chain at lam (per ms), normalised: p_n = exp(n*ll - lmu_cum[n] - lz) for
// n <= N and p_{N+m} = exp(lp_n + m*lr) for m = 0..M.
typedef struct {
  double lam, ll, lz;
  double lp_n;   // log p_N
  double lr;     // log(lam / mu(N))
  double p_k;    // blocking
  double p_tail; // P(n >= N)
  double ls, l;  // mean in service, in system
} chain_t;

static void chain_solve(const sl_queue_t *q, double lam, chain_t *c) {
  const double *lc = lmu_cum(q);
  const int N = q->n;
  const double M = q->k - q->n;
  double ll = log(lam);
  double mx = -INFINITY;
  for (int n = 0; n <= N; n++) {
    double lp = n * ll - lc[n];
    if (lp > mx) mx = lp;
  }
  double lp_n = N * ll - lc[N];
  double lr = ll - log(q->mu_n);
  if (lr > 0 && lp_n + M * lr > mx) mx = lp_n + M * lr;
  double z = 0, a = 0;
  for (int n = 0; n < N; n++) {
    double e = exp(n * ll - lc[n] - mx);
    z += e;
    a += n * e;
  }
  double s0, s1;
  geom_sums(lp_n - mx, lr, M, &s0, &s1);
  z += s0;
  c->lam = lam;
  c->ll = ll;
  c->lz = mx + log(z);
  c->lp_n = lp_n - c->lz;
  c->lr = lr;
  c->p_k = exp(c->lp_n + M * lr);
  c->p_tail = s0 / z;
  c->ls = (a + N * s0) / z;
  c->l = (a + N * s0 + s1) / z;
}

// P(W > t) for an accepted arrival, and the density of W at t. An arrival finding N + j
// requests (j = 0..M-1) waits for j + 1 departures at rate mu(N): Erlang(j + 1, mu(N)). Summed
// over j and regrouped by the Poisson count i of departures in t:
//   P(W > t) (1 - p_K) = sum_i Pois(i; x) T_i,   T_i = sum_{j >= i} p_{N+j},   x = mu(N) t,
// walked outward from the Poisson mode so only the O(sqrt x) terms that matter are visited.
static double wait_tail(const sl_queue_t *q, const chain_t *c, double t, double *density) {
  const int M = q->k - q->n;
  double accept = 1 - c->p_k;
  if (M <= 0 || accept <= 0) {
    *density = 0;
    return 0;
  }
  double x = q->mu_n * t;
  int i0 = x < M - 1 ? (int)x : M - 1;
  double lpois = x > 0 ? i0 * log(x) - x - lgamma(i0 + 1.0) : (i0 == 0 ? 0 : -INFINITY);
  double rho = exp(c->lr);
  double q0 = exp(c->lp_n + i0 * c->lr);
  double t0 = exp(c->lp_n + i0 * c->lr + log_geom(c->lr, M - 1 - i0));
  double pm0 = exp(lpois);
  double sum = pm0 * t0, dens = pm0 * q0;
  // Upward: T_{i+1} = T_i - p_{N+i}; the subtraction's error is absolute, bounded by eps * T_i0.
  double pm = pm0, qq = q0, tt = t0;
  for (int i = i0 + 1; i < M; i++) {
    pm *= x / i;
    tt -= qq;
    qq *= rho;
    if (tt < 0) tt = 0;
    sum += pm * tt;
    dens += pm * qq;
    if (pm < 1e-18) break;
  }
  pm = pm0, qq = q0, tt = t0;
  for (int i = i0 - 1; i >= 0; i--) {
    pm *= (i + 1) / x;
    qq /= rho;
    tt += qq;
    sum += pm * tt;
    dens += pm * qq;
    if (pm < 1e-18) break;
  }
  *density = q->mu_n * dens / accept;
  return sum / accept;
}

// The p-quantile of the waiting time: 0 when at least a fraction p of arrivals do not wait,
// else the root of P(W > t) = 1 - p by Newton's method inside a shrinking bracket.
static double wait_quantile(const sl_queue_t *q, const chain_t *c, double p, double mean_wait) {
  double a = 1 - p;
  double accept = 1 - c->p_k;
  if (accept <= 0) return 0;
  double p_wait = (c->p_tail - c->p_k) / accept;
  if (p_wait <= a) return 0;
  double dens;
  // An exponential tail with the same mean gives the first guess and a bracket to grow.
  double theta = mean_wait / p_wait;
  if (!(theta > 0)) theta = 1 / q->mu_n;
  double lo = 0, hi = theta * log(p_wait / a) + 1 / q->mu_n;
  for (int i = 0; i < 200 && wait_tail(q, c, hi, &dens) > a; i++) {
    lo = hi;
    hi *= 2;
  }
  double t = 0.5 * (lo + hi);
  for (int it = 0; it < 100; it++) {
    double f = wait_tail(q, c, t, &dens) - a;
    if (f > 0)
      lo = t;
    else
      hi = t;
    if (fabs(f) < 1e-14 || hi - lo <= 1e-12 * hi) break;
    double next = dens > 0 ? t + f / dens : -1;
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    t = next;
  }
  return t;
}

// The decode step time at the p-quantile of the token-weighted batch size: in state n a replica
// emits min(n, N) / t_dec(min(n, N)) tokens per ms, so a random token saw batch b with
// probability proportional to P(batch = b) b / t_dec(b).
static double itl_quantile(const sl_queue_t *q, const chain_t *c, double p) {
  const double *lc = lmu_cum(q), *td = t_dec(q);
  const int N = q->n;
  double w_n = c->p_tail * N / td[N];
  double total = w_n;
  for (int n = 1; n < N; n++) total += exp(n * c->ll - lc[n] - c->lz) * n / td[n];
  if (!(total > 0)) return td[1];
  double want = p * total, cum = 0;
  for (int n = 1; n < N; n++) {
    cum += exp(n * c->ll - lc[n] - c->lz) * n / td[n];
    if (cum >= want) return td[n];
  }
  return td[N];
}

// The batch size whose service time is s (WVA's effective concurrency), clamped to [0, N].
static double effective_batch(const sl_queue_t *q, double s) {
  const sl_shape_t *sh = &q->shape;
  sl_perf_times_t t0, t1;
  sl_perf_times(&q->perf, sh->in_tokens, sh->out_tokens, 0, &t0);
  if (s <= t0.svc) return 0;
  if (q->perf.kind == SL_PERF_4P) {
    // Linear in n: solve directly (this is WVA's formula).
    sl_perf_times(&q->perf, sh->in_tokens, sh->out_tokens, 1, &t1);
    double slope = t1.svc - t0.svc;
    if (!(slope > 0)) return 0;
    double n = (s - t0.svc) / slope;
    return n > q->n ? q->n : n;
  }
  double lo = 0, hi = q->n;
  sl_perf_times(&q->perf, sh->in_tokens, sh->out_tokens, hi, &t1);
  if (s >= t1.svc) return hi;
  for (int i = 0; i < 60 && hi - lo > 1e-9; i++) {
    double mid = 0.5 * (lo + hi);
    sl_perf_times(&q->perf, sh->in_tokens, sh->out_tokens, mid, &t1);
    if (t1.svc < s)
      lo = mid;
    else
      hi = mid;
  }
  return 0.5 * (lo + hi);
}

// Step profiles at lam (per ms). The per-request times depend on the rate as well as the batch:
// the step mix is solved at each knot at the admission rate (lam, or mu(N) beyond it, since the
// chain then sits at N where admissions follow departures), interpolated in between, and the
// chain is summed in one pass (running rescale instead of a first pass for the maximum). The
// ITL is token-weighted over the chain's states, the TTFT arrival-weighted.
// Per knot: requests decoding d, their ITL dec, the time from an arrival to its first token pre
// (joining n others), and how long the arrival then holds a seat before decoding, seat: its own
// prefill step(s), not the wait for the step in progress or for the prompts ahead of it (vLLM
// keeps those waiting requests outside the running batch).
typedef struct {
  double n[KNOTS_MAX], d[KNOTS_MAX], dec[KNOTS_MAX], pre[KNOTS_MAX], seat[KNOTS_MAX];
  int nk, j;
} kvals_t;

typedef struct {
  double d, dec, pre, seat;
} kv_t;

// Interpolated values at batch x, for x non-decreasing between calls.
static inline void kv_at(kvals_t *v, double x, kv_t *o) {
  while (v->j + 2 < v->nk && v->n[v->j + 1] < x) v->j++;
  int j = v->j;
  double t = (x - v->n[j]) / (v->n[j + 1] - v->n[j]);
  if (t < 0) t = 0;
  if (t > 1) t = 1;
  o->d = v->d[j] + t * (v->d[j + 1] - v->d[j]);
  o->dec = v->dec[j] + t * (v->dec[j + 1] - v->dec[j]);
  o->pre = v->pre[j] + t * (v->pre[j + 1] - v->pre[j]);
  o->seat = v->seat[j] + t * (v->seat[j + 1] - v->seat[j]);
}

// Knot solutions from an earlier evaluation, to start from (the inverse's bisection evaluates
// nearby rates in turn).
typedef struct {
  int valid;
  double lam; // the rate they are for (per ms)
  sl_stepmix_sol_t sol[KNOTS_MAX];
} warm_t;

static void step_knots(const sl_queue_t *q, double lam, kvals_t *v, warm_t *warm) {
  const knot_t *kn = knots(q);
  double le = lam < q->mu_n ? lam : q->mu_n;
  sl_stepmix_sol_t so = {0}, prev = {0}, guess;
  v->nk = q->nknots;
  v->j = 0;
  for (int j = 0; j < q->nknots; j++) {
    v->n[j] = kn[j].n;
    v->d[j] = kn[j].d;
    if (kn[j].n == q->n && j > 0) {
      v->dec[j] = q->dec_sat, v->pre[j] = v->seat[j] = q->pre_sat;
      continue;
    }
    // Start from this knot's solution at the last rate evaluated, else from the two knots below,
    // extrapolated linearly in d, with the last Jacobian.
    const sl_stepmix_sol_t *g = NULL;
    if (warm && warm->valid && fabs(le - warm->lam) <= 0.5 * le) {
      g = &warm->sol[j];
    } else if (j > 1) {
      guess = so;
      if (j > 2 && kn[j - 1].d > kn[j - 2].d) {
        double t = (kn[j].d - kn[j - 1].d) / (kn[j - 1].d - kn[j - 2].d);
        double x = so.step + t * (so.step - prev.step);
        double v2 = so.step2 - so.step * so.step, pv = prev.step2 - prev.step * prev.step;
        double vv = v2 + t * (v2 - pv);
        if (x > 0 && vv >= 0) guess.step = x, guess.step2 = vv + x * x;
      }
      g = &guess;
    }
    prev = so;
    // With nobody in service the server is idle: a prompt alone, at once. Where this many decoding
    // requests leave the prompts too little room for the rate, prefill would back up without
    // bound; the chain only passes through such states, and its admissions there are what the
    // room takes, so the rate is held below that.
    const sl_stepmix_at_t *at = &kn[j].at;
    double rate = kn[j].n ? le : 0;
    double room_rate = SL_QUEUE_PREFILL_HEADROOM * sl_stepmix_room_rate(&q->mix, at);
    if (rate > room_rate) rate = room_rate;
    sl_stepmix_solve(&q->mix, at, rate, 0, g, &so);
    if (warm) warm->sol[j] = so;
    v->dec[j] = so.itl;
    v->pre[j] = kn[j].n ? so.resid + so.own : so.own;
    v->seat[j] = so.seat;
  }
  if (warm) warm->valid = 1, warm->lam = le;
}

// The chain's weights walked upward: p_n / p_(n-1) = lam / mu(n), kept as a mantissa e and a log
// offset le (renormalised every hundred orders of magnitude), against accumulators held at log
// offset ref (raised, and the accumulators scaled down, when the chain outgrows them). A weight
// is e * f, f = exp(le - ref).
typedef struct {
  double e, le, ref, f;
} walk_t;

static inline int walk_step(walk_t *w, double ratio) {
  w->e *= ratio;
  if (w->e > 1e100 || w->e < 1e-100) {
    w->le += log(w->e);
    w->e = 1;
    int raise = w->le > w->ref;
    if (raise) w->ref = w->le;
    w->f = exp(w->le - w->ref);
    return raise;
  }
  return 0;
}

static void evaluate_step(const sl_queue_t *q, double lam, double p, sl_pred_t *o, warm_t *warm) {
  const int N = q->n;
  const double M = q->k - q->n, outm1 = q->mix.out - 1;
  kvals_t v;
  step_knots(q, lam, &v, warm);
  double ll = log(lam);
  double z = 0, a = 0, tt = 0, inum = 0, iden = 0;
  double seat_prev = 0;
  kv_t k;
  walk_t w = {1, 0, 0, 1};
  for (int n = 0; n < N; n++) {
    kv_at(&v, n, &k);
    if (n > 0) {
      double old = w.ref;
      // A request in state n entered joining n - 1 others.
      if (walk_step(&w, lam * (seat_prev + outm1 * k.dec) / n)) {
        double r = exp(old - w.ref);
        z *= r, a *= r, tt *= r, inum *= r, iden *= r;
      }
    }
    seat_prev = k.seat;
    double e = w.e * w.f;
    z += e;
    a += n * e;
    tt += e * k.pre; // an arrival finding n in service joins n others
    if (n > 0 && k.d > 0) {
      inum += e * k.d;
      iden += e * k.d / k.dec;
    }
  }
  double d_n = v.d[v.nk - 1];
  double lr = ll - log(q->mu_n);
  double lp_n = w.e > 0 ? w.le + log(w.e) + lr : -INFINITY; // p_N = p_(N-1) lam / mu(N)
  double ref = w.ref, top = lr > 0 ? lp_n + M * lr : lp_n;
  if (top > ref) {
    double r = exp(ref - top);
    z *= r, a *= r, tt *= r, inum *= r, iden *= r;
    ref = top;
  }
  double s0 = 0, s1 = 0, ek = 0;
  if (lp_n > -INFINITY) {
    geom_sums(lp_n - ref, lr, M, &s0, &s1);
    ek = exp(lp_n + M * lr - ref);
  }
  z += s0;
  tt += (s0 - ek) * q->pre_sat;
  if (d_n > 0) {
    inum += s0 * d_n;
    iden += s0 * d_n / q->dec_sat;
  }
  chain_t c;
  c.lam = lam;
  c.ll = ll;
  c.lz = ref + log(z);
  c.lp_n = lp_n - c.lz;
  c.lr = lr;
  c.p_k = ek / z;
  c.p_tail = s0 / z;
  c.ls = (a + N * s0) / z;
  c.l = (a + N * s0 + s1) / z;

  double x = lam * (1 - c.p_k);
  double wait = x > 0 ? (c.l - c.ls) / x : 0;
  if (wait < 0) wait = 0;
  double accept = 1 - c.p_k;
  memset(o, 0, sizeof *o);
  o->rate = lam * 1000;
  o->throughput = x * 1000;
  o->ttft_ms = wait + (accept > 0 ? tt / z / accept : q->pre_sat) + q->mix.s.request_ms;
  o->itl_ms = iden > 0 ? inum / iden : q->dec_sat;
  o->wait_ms = wait;
  o->service_ms = x > 0 ? c.ls / x : 0;
  o->in_service = c.ls;
  o->in_system = c.l;
  o->utilization = c.ls / N;
  o->blocking = c.p_k;
  if (p > 0) {
    o->percentile = p;
    o->ttft_p_ms = wait_quantile(q, &c, p, wait) + (o->ttft_ms - wait);
    // The decode step time at the p-quantile of the token-weighted batch (a second walk, with the
    // accumulators' final offset).
    o->itl_p_ms = q->dec_sat;
    double want = p * iden, cum = 0;
    walk_t w2 = {1, 0, ref, exp(-ref)};
    v.j = 0;
    for (int n = 0; n < N && iden > 0; n++) {
      kv_at(&v, n, &k);
      if (n > 0) walk_step(&w2, lam * (seat_prev + outm1 * k.dec) / n);
      seat_prev = k.seat;
      if (n > 0 && k.d > 0) cum += w2.e * w2.f * k.d / k.dec;
      if (cum >= want) {
        o->itl_p_ms = k.dec;
        break;
      }
    }
  }
}

// Means (and percentiles when p > 0) at lam per ms; warm (may be NULL) carries step-profile
// solutions from one evaluation to the next.
static void evaluate_warm(const sl_queue_t *q, double lam, double p, sl_pred_t *o, warm_t *warm) {
  if (q->perf.kind == SL_PERF_STEP) {
    evaluate_step(q, lam, p, o, warm);
    return;
  }
  const sl_shape_t *sh = &q->shape;
  chain_t c;
  chain_solve(q, lam, &c);
  double x = lam * (1 - c.p_k); // per ms
  double w = x > 0 ? (c.l - c.ls) / x : 0;
  double s = x > 0 ? c.ls / x : 0;
  if (w < 0) w = 0;
  sl_perf_times_t t;
  double ttft, itl;
  if (q->perf.kind == SL_PERF_3P) {
    // WVA's queueing model reads latencies at the mean number in service.
    sl_perf_times(&q->perf, sh->in_tokens, sh->out_tokens, c.ls, &t);
    itl = (s - t.pre) / sh->out_tokens;
    ttft = w + t.pre + itl;
  } else {
    sl_perf_times(&q->perf, sh->in_tokens, sh->out_tokens, effective_batch(q, s), &t);
    itl = t.dec;
    ttft = w + t.pre + t.ttft_extra;
  }
  memset(o, 0, sizeof *o);
  o->rate = lam * 1000;
  o->throughput = x * 1000;
  o->ttft_ms = ttft;
  o->itl_ms = itl;
  o->wait_ms = w;
  o->service_ms = s;
  o->in_service = c.ls;
  o->in_system = c.l;
  o->utilization = c.ls / q->n;
  o->blocking = c.p_k;
  if (p > 0) {
    o->percentile = p;
    o->ttft_p_ms = wait_quantile(q, &c, p, w) + (ttft - w);
    o->itl_p_ms = itl_quantile(q, &c, p);
  }
}

static void evaluate(const sl_queue_t *q, double lam, double p, sl_pred_t *o) {
  evaluate_warm(q, lam, p, o, NULL);
}

int sl_queue_predict(const sl_queue_t *q, double rate, double percentile, sl_pred_t *out,
                     sl_err_t *err) {
  if (!(isfinite(rate) && rate > 0))
    return sl_err(err, SL_EINVAL, "rate: must be a positive number of req/s (got %g)", rate);
  if (!(isfinite(percentile) && percentile >= 0 && percentile < 1))
    return sl_err(err, SL_EINVAL, "percentile: must be in (0, 1), or 0 for means (got %g)",
                  percentile);
  evaluate(q, rate / 1000.0, percentile, out);
  return SL_OK;
}

const char *sl_queue_limit_name(sl_limit_t limit) {
  switch (limit) {
  case SL_LIMIT_STABILITY:
    return "stability";
  case SL_LIMIT_TTFT:
    return "ttft";
  case SL_LIMIT_ITL:
    return "itl";
  }
  return "?";
}

// Which target (if any) the prediction misses.
static int missed(const sl_slo_t *slo, const sl_pred_t *o, sl_limit_t *which) {
  int pct = slo->percentile > 0;
  double ttft = pct ? o->ttft_p_ms : o->ttft_ms, itl = pct ? o->itl_p_ms : o->itl_ms;
  if (slo->itl_ms > 0 && itl > slo->itl_ms) {
    *which = SL_LIMIT_ITL;
    return 1;
  }
  if (slo->ttft_ms > 0 && ttft > slo->ttft_ms) {
    *which = SL_LIMIT_TTFT;
    return 1;
  }
  return 0;
}

int sl_queue_max_rate(const sl_queue_t *q, const sl_slo_t *slo, double *max_rate, sl_limit_t *limit,
                      sl_err_t *err) {
  sl_limit_t dummy;
  if (!limit) limit = &dummy;
  *max_rate = 0;
  *limit = SL_LIMIT_STABILITY;
  if (!(isfinite(slo->ttft_ms) && slo->ttft_ms >= 0))
    return sl_err(err, SL_EINVAL, "ttft_ms: must be >= 0 (0 = no target), got %g", slo->ttft_ms);
  if (!(isfinite(slo->itl_ms) && slo->itl_ms >= 0))
    return sl_err(err, SL_EINVAL, "itl_ms: must be >= 0 (0 = no target), got %g", slo->itl_ms);
  if (!(isfinite(slo->percentile) && slo->percentile >= 0 && slo->percentile < 1))
    return sl_err(err, SL_EINVAL, "percentile: must be in (0, 1), or 0 for means (got %g)",
                  slo->percentile);
  double hi = RATE_LIMIT_FRAC * q->mu_n, lo = RATE_FLOOR_FRAC * q->mu_1;
  if (slo->ttft_ms <= 0 && slo->itl_ms <= 0) {
    *max_rate = hi * 1000;
    return SL_OK;
  }
  sl_pred_t o;
  sl_limit_t which;
  warm_t warm;
  warm.valid = 0;
  evaluate_warm(q, hi, slo->percentile, &o, &warm);
  if (!missed(slo, &o, &which)) {
    *max_rate = hi * 1000;
    return SL_OK;
  }
  *limit = which;
  evaluate_warm(q, lo, slo->percentile, &o, &warm);
  if (missed(slo, &o, &which)) {
    *limit = which;
    int pct = slo->percentile > 0;
    char what[32] = "mean";
    if (pct) snprintf(what, sizeof what, "p%g", slo->percentile * 100);
    if (which == SL_LIMIT_ITL)
      return sl_err(err, SL_ERANGE,
                    "itl_ms target %g is below the %s ITL at the lowest rate "
                    "(%.4g ms at %.4g req/s)",
                    slo->itl_ms, what, pct ? o.itl_p_ms : o.itl_ms, lo * 1000);
    return sl_err(err, SL_ERANGE,
                  "ttft_ms target %g is below the %s TTFT at the lowest rate "
                  "(%.4g ms at %.4g req/s)",
                  slo->ttft_ms, what, pct ? o.ttft_p_ms : o.ttft_ms, lo * 1000);
  }
  for (int i = 0; i < INVERSE_MAX_STEPS && hi - lo > INVERSE_REL_WIDTH * hi; i++) {
    double mid = 0.5 * (lo + hi);
    evaluate_warm(q, mid, slo->percentile, &o, &warm);
    if (missed(slo, &o, &which)) {
      hi = mid;
      *limit = which;
    } else {
      lo = mid;
    }
  }
  *max_rate = lo * 1000;
  return SL_OK;
}

long sl_queue_replicas(double demand, double max_rate, double *fractional, sl_err_t *err) {
  if (!(isfinite(demand) && demand >= 0)) {
    sl_err(err, SL_EINVAL, "demand: must be >= 0 req/s (got %g)", demand);
    return -1;
  }
  if (!(isfinite(max_rate) && max_rate > 0)) {
    sl_err(err, SL_EINVAL, "max_rate: must be > 0 req/s (got %g)", max_rate);
    return -1;
  }
  double r = demand / max_rate;
  if (fractional) *fractional = r;
  if (r > 1e15) {
    sl_err(err, SL_ERANGE, "demand %g req/s needs more than 1e15 replicas of %g req/s", demand,
           max_rate);
    return -1;
  }
  return (long)ceil(r * (1 - 1e-9));
}
