// The step kind's engine under load. See stepmix.h; the derivation is in docs/kernels.md.
#include "core/model/stepmix.h"

#include <math.h>
#include <string.h>

void sl_stepmix_init(sl_stepmix_t *m, const sl_step_t *s, double in, double in_cv, double out,
                     double out_cv, double budget) {
  memset(m, 0, sizeof *m);
  m->s = *s;
  m->in = in > 0 ? in : 0;
  m->in_var = in_cv > 0 ? in_cv * in_cv * m->in * m->in : 0;
  m->out = out > 1 ? out : 1;
  // A request decodes for out - 1 steps, reading in + j context tokens at its j-th (from 0).
  // Weighted by steps over requests (independent lengths): in + E[(o-1)(o-2)] / (2 E[o-1]).
  m->ctx = m->in;
  if (m->out > 1) {
    double o2 = m->out * m->out * (1 + (out_cv > 0 ? out_cv * out_cv : 0));
    double extra = (o2 - 3 * m->out + 2) / (2 * (m->out - 1));
    if (extra > 0) m->ctx += extra;
  }
  // A prompt of p tokens from offset 0 makes p^2 / 2 attention pairs: per token, E[p^2]/(2 E[p]).
  double in2 = m->in * m->in + m->in_var;
  m->b_cmp = s->ms_per_tok + (m->in > 0 ? s->ms_per_pair * in2 / (2 * m->in) : 0);
  m->budget = budget > 0 ? budget : SL_STEPMIX_BUDGET;
}

double sl_stepmix_decoding(const sl_stepmix_t *m, double n) {
  if (m->out <= 1) return 0;
  const sl_step_t *s = &m->s;
  double o = s->overhead_ms;
  double am = s->a_ms + s->b_ms_per_tok * n + s->c_ms_per_ctx * n * m->ctx, ac = s->ms_per_tok * n;
  double dec = (am > ac ? am : ac) + o;
  double pm = am + s->b_ms_per_tok * m->in, pc = ac + m->b_cmp * m->in;
  double pre = (pm > pc ? pm : pc) + o;
  return (m->out - 1) * dec / (pre + (m->out - 1) * dec);
}

double sl_stepmix_room_rate(const sl_stepmix_t *m, const sl_stepmix_at_t *a) {
  return m->in > 0 ? a->room / (m->in * a->t_room) : INFINITY;
}

void sl_stepmix_add_prompt(sl_stepmix_t *m, double extra) {
  if (!(extra > 0)) return;
  double in2 = m->in * m->in + m->in_var;
  in2 += 2 * m->in * extra + extra * extra;
  m->in += extra;
  m->b_cmp = m->s.ms_per_tok + m->s.ms_per_pair * in2 / (2 * m->in);
}

// ---- a step's time as a function of its prompt tokens P ---------------------------------------
//
// Up to the room: max(memory line, compute line), two pieces split where they cross. Beyond it
// the prompts continue in full-room steps, tau ms per token, one engine step per room of tokens.
// The first token of a prompt that joins k others in such a run comes once its own tokens and,
// on average, half of the others' (FCFS among co-arrivals) are done: a share (k+2)/(2k+2) of the
// run's tokens, so its time is linear beyond the room too.

// The standard normal CDF; beyond 8.3 standard deviations it is 0 or 1 to double precision
// relative to the moments it weighs, and erfc is the set-up's main cost.
static inline double phi_cdf(double z) {
  if (z < -8.3) return 0;
  if (z > 8.3) return 1;
  return 0.5 * erfc(-z * M_SQRT1_2);
}

// A lognormal with mean mp and variance vp, or a point at mp when vp is 0.
typedef struct {
  double mp, m2, s, s2, lmp;
  int point;
} dist_t;

static void dist_init(dist_t *d, double mp, double vp) {
  d->mp = mp;
  d->m2 = vp + mp * mp;
  d->point = !(mp > 0) || !(vp > 1e-12 * mp * mp);
  if (!d->point) {
    d->s2 = log1p(vp / (mp * mp));
    d->s = sqrt(d->s2);
    d->lmp = log(mp);
  }
}

// E[P^j; P <= c], j = 0, 1, 2.
static void below(const dist_t *d, double c, double q[3]) {
  if (d->point) {
    int in = d->mp <= c;
    q[0] = in, q[1] = in * d->mp, q[2] = in * d->mp * d->mp;
    return;
  }
  if (!(c > 0)) {
    q[0] = q[1] = q[2] = 0;
    return;
  }
  double z = (log(c) - d->lmp + 0.5 * d->s2) / d->s;
  q[0] = phi_cdf(z);
  q[1] = d->mp * phi_cdf(z - d->s);
  q[2] = d->m2 * phi_cdf(z - 2 * d->s);
}

// E[g], E[g^2] for g = a[i] + b[i] P on the i-th of the intervals split at n ascending cuts
// (n + 1 pieces, the last unbounded), given q[i] = E[P^j; P <= cut i].
static void moments(const dist_t *d, const double (*q)[3], int n, const double *a, const double *b,
                    double *e1, double *e2) {
  double lo[3] = {0, 0, 0}, top[3] = {1, d->mp, d->m2};
  *e1 = *e2 = 0;
  for (int i = 0; i <= n; i++) {
    const double *hi = i < n ? q[i] : top;
    double q0 = hi[0] - lo[0], q1 = hi[1] - lo[1], q2 = hi[2] - lo[2];
    *e1 += a[i] * q0 + b[i] * q1;
    *e2 += a[i] * a[i] * q0 + 2 * a[i] * b[i] * q1 + b[i] * b[i] * q2;
    memcpy(lo, hi, sizeof lo);
  }
}

// Beyond the room, the first token of a prompt that joins k others comes when its own and, on
// average, half of the others' tokens are done - a share (k+2)/(2k+2) of the run's - and not before
// the first full step: max(t_room, tau share P), which turns linear at P = room / share.
static inline double own_share(int k) {
  return (k + 2.0) / (2.0 * k + 2.0);
}
static inline double own_at(const sl_stepmix_at_t *a, int k, double pa) {
  double late = a->t_room / a->room * own_share(k) * pa;
  return late > a->t_room ? late : a->t_room;
}

void sl_stepmix_at(const sl_stepmix_t *m, double d, sl_stepmix_at_t *a) {
  const sl_step_t *s = &m->s;
  memset(a, 0, sizeof *a);
  a->d = d > 0 ? d : 0;
  a->a_mem = s->a_ms + s->b_ms_per_tok * a->d + s->c_ms_per_ctx * a->d * m->ctx;
  a->a_cmp = s->ms_per_tok * a->d;
  a->room = m->budget - a->d;
  if (a->room < 1) a->room = 1;
  double o = s->overhead_ms, bm = s->b_ms_per_tok, bc = m->b_cmp;
  double tm = a->a_mem + bm * a->room, tc = a->a_cmp + bc * a->room;
  a->t_room = (tm > tc ? tm : tc) + o;
  // The two lines up to the room, ordered: the one that is larger just above P = 0 first.
  double db = bc - bm;
  a->cross = db != 0 ? (a->a_mem - a->a_cmp) / db : INFINITY;
  int mem_first = a->a_mem > a->a_cmp || (a->a_mem == a->a_cmp && bm >= bc);
  a->la[0] = (mem_first ? a->a_mem : a->a_cmp) + o, a->lb[0] = mem_first ? bm : bc;
  a->la[1] = (mem_first ? a->a_cmp : a->a_mem) + o, a->lb[1] = mem_first ? bc : bm;
  if (!(a->cross > 0 && a->cross < a->room)) a->cross = a->room;
  if (a->cross <= 0) a->cross = 0;
  a->la[2] = 0, a->lb[2] = a->t_room / a->room;
  // From klin prompts (at their mean) on, a step is a run of full-room steps whose time, steps and
  // own times are all linear in k (own: share (k+2)/(2k+2) of (k+1) in tokens is past the room).
  a->klin = m->in > 0 ? (int)ceil(2 * a->room / m->in) + 1 : 0;
  a->nk = 0;
  if (!(m->in > 0 && m->in_var > 0)) return;
  double tau = a->t_room / a->room;
  for (int k = 0; k < SL_STEPMIX_K; k++) {
    dist_t p, pa;
    double q[2][3], qa[3][3], e2;
    double cut[3] = {a->cross, a->room, a->room / own_share(k)};
    dist_init(&p, k * m->in, k * m->in_var);
    below(&p, cut[0], q[0]);
    below(&p, cut[1], q[1]);
    moments(&p, q, 2, a->la, a->lb, &a->t1[k], &a->t2[k]);
    a->st[k] = q[1][0] + (p.mp - q[1][1]) / a->room;
    dist_init(&pa, (k + 1) * m->in, (k + 1) * m->in_var);
    for (int c = 0; c < 3; c++) below(&pa, cut[c], qa[c]);
    double oa[4] = {a->la[0], a->la[1], a->t_room, 0}, ob[4] = {a->lb[0], a->lb[1], 0, 0};
    ob[3] = tau * own_share(k);
    moments(&pa, qa, 3, oa, ob, &a->own[k], &e2);
    a->nk = k + 1;
    // Past the last cut every piece is linear in P, where the untabulated form is exact.
    if (k > 0 && q[1][0] < 1e-11 && qa[2][0] < 1e-11) break;
  }
}

// The conditional moments for k prompts: tabulated, or with prompt tokens at their mean.
static inline __attribute__((always_inline)) void at_k(const sl_stepmix_t *m,
                                                       const sl_stepmix_at_t *a, int k, double *t) {
  if (k < a->nk) {
    t[0] = a->t1[k], t[1] = a->t2[k], t[2] = a->st[k], t[3] = a->own[k];
    return;
  }
  double p = k * m->in, pa = p + m->in;
  int i = p <= a->cross ? 0 : p <= a->room ? 1 : 2;
  t[0] = a->la[i] + a->lb[i] * p;
  t[1] = t[0] * t[0] + a->lb[i] * a->lb[i] * k * m->in_var;
  t[2] = p <= a->room ? 1 : p / a->room;
  if (pa <= a->room) {
    i = pa <= a->cross ? 0 : 1;
    t[3] = a->la[i] + a->lb[i] * pa;
  } else {
    t[3] = own_at(a, k, pa);
  }
}

// Weighted sums over the number of prompts k in a step: negative binomial with mean mu and
// variance var (Poisson when var <= mu). Terms are added from k = 0 (or, for large means, from
// the mode outward) until the weight left is negligible; past klin the terms are linear in k
// (quadratic for the second moment) and the rest is added in closed form from the distribution's
// moments. With `all` unset only the step-time moments are summed.
typedef struct {
  double t1, t2, st, own;
  double fd; // E[t1(k + 1) - t1(k)]: the step time one more prompt adds
} sums_t;

static inline __attribute__((always_inline)) void add(const sl_stepmix_t *m,
                                                      const sl_stepmix_at_t *a, int k, double w,
                                                      int all, sums_t *s, double c[3]) {
  double t[4];
  at_k(m, a, k, t);
  s->t1 += w * t[0], s->t2 += w * t[1];
  if (all) {
    double u[4];
    at_k(m, a, k + 1, u);
    s->st += w * t[2], s->own += w * t[3], s->fd += w * (u[0] - t[0]);
  }
  c[0] += w, c[1] += w * k, c[2] += w * (double)k * k;
}

// 1 / k, to keep divisions off the weight recurrence.
#define RECIPS 64
static const double recip[RECIPS] = {
    0,        1.0 / 1,  1.0 / 2,  1.0 / 3,  1.0 / 4,  1.0 / 5,  1.0 / 6,  1.0 / 7,
    1.0 / 8,  1.0 / 9,  1.0 / 10, 1.0 / 11, 1.0 / 12, 1.0 / 13, 1.0 / 14, 1.0 / 15,
    1.0 / 16, 1.0 / 17, 1.0 / 18, 1.0 / 19, 1.0 / 20, 1.0 / 21, 1.0 / 22, 1.0 / 23,
    1.0 / 24, 1.0 / 25, 1.0 / 26, 1.0 / 27, 1.0 / 28, 1.0 / 29, 1.0 / 30, 1.0 / 31,
    1.0 / 32, 1.0 / 33, 1.0 / 34, 1.0 / 35, 1.0 / 36, 1.0 / 37, 1.0 / 38, 1.0 / 39,
    1.0 / 40, 1.0 / 41, 1.0 / 42, 1.0 / 43, 1.0 / 44, 1.0 / 45, 1.0 / 46, 1.0 / 47,
    1.0 / 48, 1.0 / 49, 1.0 / 50, 1.0 / 51, 1.0 / 52, 1.0 / 53, 1.0 / 54, 1.0 / 55,
    1.0 / 56, 1.0 / 57, 1.0 / 58, 1.0 / 59, 1.0 / 60, 1.0 / 61, 1.0 / 62, 1.0 / 63,
};

static void nb_sums(const sl_stepmix_t *m, const sl_stepmix_at_t *a, double mu, double var, int all,
                    sums_t *s) {
  double c[3] = {0, 0, 0}; // sums of w k^j over the terms added
  memset(s, 0, sizeof *s);
  if (!(mu > 0)) {
    add(m, a, 0, 1, 1, s, c);
    return;
  }
  double beta = var > mu ? var / mu - 1 : 0; // var = mu (1 + beta)
  // w(k+1) / w(k) = (mu + k beta) / ((k + 1)(1 + beta)); w(0) = (1 + beta)^(-mu / beta).
  int kstart = 0;
  double lw;
  if (mu < 30) {
    lw = beta > 1e-8 ? -mu * log1p(beta) / beta : -mu * (1 - beta / 2);
  } else {
    kstart = (int)floor(mu);
    if (beta > 1e-8) {
      double r = mu / beta, th = beta / (1 + beta);
      lw =
          lgamma(r + kstart) - lgamma(r) - lgamma(kstart + 1.0) + r * log1p(-th) + kstart * log(th);
    } else {
      lw = kstart * log(mu) - mu - lgamma(kstart + 1.0);
    }
  }
  int klin = a->klin > a->nk ? a->klin : a->nk;
  double w0 = exp(lw), w = w0, ib = 1 / (1 + beta);
  int k = kstart;
  for (; k < klin; k++) {
    add(m, a, k, w, all, s, c);
    if (k > mu && (w < 1e-17 || 1 - c[0] < 1e-16)) break;
    w *= (mu + k * beta) * ib * (k + 1 < RECIPS ? recip[k + 1] : 1.0 / (k + 1));
  }
  int tail = k >= klin;
  w = w0;
  for (int j = kstart - 1; j >= 0; j--) {
    w *= (j + 1) * (1 + beta) / (mu + j * beta);
    if (j < klin) add(m, a, j, w, all, s, c);
    if (j < mu && w < 1e-17) break;
  }
  if (tail) {
    // Terms k >= klin: time tau P, P = k in (variance k in_var), P / room engine steps, and the
    // own time of a run (a share (k+2)/(2k+2) of its (k+1) in tokens: tau in (k + 2) / 2).
    double t0 = 1 - c[0], t1 = mu - c[1], t2 = var + mu * mu - c[2];
    if (t0 < 0) t0 = 0;
    if (t1 < 0) t1 = 0;
    if (t2 < 0) t2 = 0;
    double tau = a->t_room / a->room, in = m->in;
    s->t1 += tau * in * t1;
    s->t2 += tau * tau * (in * in * t2 + m->in_var * t1);
    s->st += in / a->room * t1;
    s->own += 0.5 * tau * in * (t1 + 2 * t0);
    s->fd += tau * in * t0;
  }
}

// Step time beyond which the prefill is taken to back up without bound (ms).
#define STEP_CAP_MS 1e7

void sl_stepmix_solve(const sl_stepmix_t *m, const sl_stepmix_at_t *a, double rate, int per_step,
                      const sl_stepmix_sol_t *guess, sl_stepmix_sol_t *o) {
  sums_t s;
  double lam = rate > 0 ? rate : 0;
  double j[2][2] = {{-1, 0}, {0, -1}};
  int it = 0;
  if (lam > 0 && m->in > 0 && per_step) {
    // k Poisson with mean lam per engine step: lam E[steps] per virtual step, E[steps] = S(st)
    // at that mean. h(st) = S(st) - st is >= 0 at st = 1 and falls once the prompts fit the room
    // (lam in < room); Illinois regula falsi between 1 and a doubled upper end. If they do not
    // fit, prefill backs up without bound: the step time is capped as below.
    double lo = 1, hi = 2, flo, fhi;
    nb_sums(m, a, lam, lam, 1, &s);
    flo = s.st - lo;
    it = 1;
    if (flo > 0) {
      for (;; hi *= 2, it++) {
        nb_sums(m, a, lam * hi, lam * hi, 1, &s);
        fhi = s.st - hi;
        if (fhi <= 0 || hi * a->t_room > STEP_CAP_MS) break;
        lo = hi, flo = fhi;
      }
      int side = 0;
      double st = hi;
      for (int i = 0; i < 100 && fhi < 0 && hi - lo > 1e-13 * hi; i++, it++) {
        st = (lo * fhi - hi * flo) / (fhi - flo);
        nb_sums(m, a, lam * st, lam * st, 1, &s);
        double f = s.st - st;
        if (fabs(f) <= 1e-13 * st) break;
        if (f < 0) {
          hi = st, fhi = f;
          if (side == 1) flo /= 2;
          side = 1;
        } else {
          lo = st, flo = f;
          if (side == -1) fhi /= 2;
          side = -1;
        }
      }
      nb_sums(m, a, lam * st, lam * st, 1, &s);
    }
  } else if (lam > 0 && m->in > 0) {
    // Fixed point u = F(u) of u = (mean, variance) of the step time: F gives the moments of a step
    // whose prompts arrived, Poisson at lam, during a step with moments u. Broyden's method on
    // G(u) = F(u) - u in units of the starting step time x0 (and x0^2), from the guess and its
    // Jacobian, or from a decode-only step and plain iteration (Jacobian -I). A step that leaves
    // the positive quadrant falls back to F(u).
    nb_sums(m, a, 0, 0, 0, &s);
    double u[2] = {s.t1, 0};
    if (guess && guess->step > 0 && isfinite(guess->step2)) {
      u[0] = guess->step;
      u[1] = guess->step2 - guess->step * guess->step;
      if (!(u[1] >= 0)) u[1] = 0;
      double det = guess->jac[0] * guess->jac[3] - guess->jac[1] * guess->jac[2];
      if (det != 0 && isfinite(det)) {
        j[0][0] = guess->jac[0], j[0][1] = guess->jac[1];
        j[1][0] = guess->jac[2], j[1][1] = guess->jac[3];
      }
    }
    double x0 = u[0], g[2], pu[2] = {0, 0}, pg[2] = {0, 0};
    for (it = 1; it <= 100; it++) {
      double mu = lam * u[0];
      nb_sums(m, a, mu, mu + lam * lam * u[1], 0, &s);
      double f[2] = {s.t1, s.t2 - s.t1 * s.t1};
      if (f[1] < 0) f[1] = 0;
      g[0] = (f[0] - u[0]) / x0, g[1] = (f[1] - u[1]) / (x0 * x0);
      double sc = u[0] / x0;
      if (fabs(g[0]) <= 1e-11 * sc && fabs(g[1]) <= 1e-10 * sc * sc) break;
      if (it > 1) {
        // Broyden's (good) update: J += (dg - J du) du^T / (du . du).
        double du[2] = {(u[0] - pu[0]) / x0, (u[1] - pu[1]) / (x0 * x0)};
        double dg[2] = {g[0] - pg[0], g[1] - pg[1]}, dd = du[0] * du[0] + du[1] * du[1];
        if (dd > 0)
          for (int r = 0; r < 2; r++) {
            double c = (dg[r] - j[r][0] * du[0] - j[r][1] * du[1]) / dd;
            j[r][0] += c * du[0], j[r][1] += c * du[1];
          }
      }
      pu[0] = u[0], pu[1] = u[1], pg[0] = g[0], pg[1] = g[1];
      double det = j[0][0] * j[1][1] - j[0][1] * j[1][0];
      double n0 = f[0], n1 = f[1];
      if (det != 0 && isfinite(det)) {
        double s0 = (-g[0] * j[1][1] + g[1] * j[0][1]) / det;
        double s1 = (-g[1] * j[0][0] + g[0] * j[1][0]) / det;
        double a0 = u[0] + s0 * x0, a1 = u[1] + s1 * x0 * x0;
        if (a0 > 0 && a1 >= 0 && isfinite(a0) && isfinite(a1)) n0 = a0, n1 = a1;
      }
      u[0] = n0, u[1] = n1;
      if (u[0] > STEP_CAP_MS) {
        // The prompts' compute exceeds the engine: prefill backs up without bound.
        u[1] = -1;
        break;
      }
    }
    if (u[1] < 0)
      nb_sums(m, a, lam * STEP_CAP_MS, lam * STEP_CAP_MS, 1, &s);
    else
      nb_sums(m, a, lam * u[0], lam * u[0] + lam * lam * u[1], 1, &s);
  } else {
    lam = 0;
    nb_sums(m, a, 0, 0, 1, &s);
  }
  double x = s.t1, v = s.t2 - s.t1 * s.t1;
  if (v < 0) v = 0;
  memset(o, 0, sizeof *o);
  o->jac[0] = j[0][0], o->jac[1] = j[0][1], o->jac[2] = j[1][0], o->jac[3] = j[1][1];
  o->iters = it;
  o->step = x;
  o->step2 = v + x * x;
  o->itl = s.st > 0 ? x / s.st : x;
  o->itl_step = o->itl;
  o->resid = o->step2 / (2 * x);
  o->prompts = per_step ? lam : lam * o->itl_step;
  // The prompts that join an arrival's step: those that arrived during the (length-biased) step
  // it landed in, or, admitted at a departure, the others admitted at that boundary.
  sums_t c;
  double mo = per_step ? lam : lam * o->step2 / x;
  nb_sums(m, a, mo, mo, 1, &c);
  o->own = c.own;
  // The arrival then holds a seat for its own prefill step - one step, at most a full one, if its
  // prompt fits the room, else its chunks - not for the wait before it (vLLM keeps waiting
  // requests out of the running batch).
  double most = m->in > a->room ? a->t_room * m->in / a->room : a->t_room;
  o->seat = o->own < most ? o->own : most;
  // A request's decode steps follow its own prefill step, and a long step gathers more prompts
  // for the next: the j-th step after it is longer than the mean by (seat - step) rho^j, rho =
  // lam dE[step]/dk (arrivals in time only). Averaged over the request's out - 1 steps.
  double rho = per_step ? 0 : lam * c.fd;
  double len = m->out - 1;
  if (rho > 0 && len >= 1 && o->seat > x) {
    if (rho > 0.999) rho = 0.999;
    double steps = len / (s.st > 1 ? s.st : 1);
    double g = rho * -expm1(steps * log(rho)) / (1 - rho);
    o->itl += (o->seat - x) * g / len;
  }
  o->rho = rho;
}
