// Bounded primal revised simplex (see lp.h).
//
// The basis inverse is kept dense and updated by one elimination step per pivot, and rebuilt
// from scratch every REFACTOR pivots to shed rounding. Entering columns are chosen by the most
// negative reduced cost (Bland's rule after a run of degenerate pivots, which rules out
// cycling); the ratio test respects both bounds and lets the entering column flip bounds.
#include "core/alloc/lp.h"

#include <math.h>
#include <string.h>

#define REFACTOR 120
#define PTOL     1e-9   // smallest pivot
#define DEGEN    40     // degenerate pivots before switching to Bland's rule

typedef struct {
  sl_lp_t *lp;
  int m, n, nt;      // rows, structural columns, all columns (with artificials)
  double *binv;      // m x m, row-major
  double *xb;        // basic values
  int *basis;        // column of each row
  signed char *st;   // per column: 0 at lower, 1 at upper, 2 basic
  double *cost;      // per column, current phase
  double *ub;        // per column, current phase
  double *asign;     // artificial i's coefficient in row i
  double *alpha, *yv, *work;
  int phase;
} sx_t;

int sl_lp_init(sl_inst_t *in, sl_lp_t *lp, int m, int ncols, int nzcap) {
  memset(lp, 0, sizeof *lp);
  lp->ncap = ncols;
  lp->nzcap = nzcap;
  lp->b = sl_inst_calloc(in, (size_t)m, sizeof *lp->b);
  lp->y = sl_inst_calloc(in, (size_t)m, sizeof *lp->y);
  lp->c = sl_inst_calloc(in, (size_t)ncols, sizeof *lp->c);
  lp->u = sl_inst_calloc(in, (size_t)ncols, sizeof *lp->u);
  lp->x = sl_inst_calloc(in, (size_t)ncols, sizeof *lp->x);
  lp->cb = sl_inst_calloc(in, (size_t)ncols + 1, sizeof *lp->cb);
  lp->ri = sl_inst_calloc(in, (size_t)nzcap, sizeof *lp->ri);
  lp->rv = sl_inst_calloc(in, (size_t)nzcap, sizeof *lp->rv);
  lp->m = m;
  lp->mmax = m;
  size_t mm = (size_t)m * m, nt = (size_t)ncols + m;
  lp->binv_ = sl_inst_calloc(in, mm, sizeof(double));
  lp->work_ = sl_inst_calloc(in, mm, sizeof(double));
  lp->xb_ = sl_inst_calloc(in, (size_t)m, sizeof(double));
  lp->basis_ = sl_inst_calloc(in, (size_t)m, sizeof(int));
  lp->st_ = sl_inst_calloc(in, nt, sizeof(signed char));
  lp->cost_ = sl_inst_calloc(in, nt, sizeof(double));
  lp->ub_ = sl_inst_calloc(in, nt, sizeof(double));
  lp->asign_ = sl_inst_calloc(in, (size_t)m, sizeof(double));
  lp->alpha_ = sl_inst_calloc(in, (size_t)m, sizeof(double));
  lp->yv_ = sl_inst_calloc(in, (size_t)m, sizeof(double));
  return in->oom ? SL_ENOMEM : SL_OK;
}

void sl_lp_reset(sl_lp_t *lp, int m) {
  lp->m = m;
  lp->n = 0;
  lp->nz = 0;
  lp->cb[0] = 0;
  memset(lp->b, 0, (size_t)m * sizeof *lp->b);
}

int sl_lp_col(sl_lp_t *lp, double cost, double ub, int nnz, const int *rows, const double *vals) {
  if (lp->n >= lp->ncap || lp->nz + nnz > lp->nzcap) return -1;
  int j = lp->n++;
  lp->c[j] = cost;
  lp->u[j] = ub;
  for (int k = 0; k < nnz; k++) {
    lp->ri[lp->nz] = rows[k];
    lp->rv[lp->nz++] = vals[k];
  }
  lp->cb[j + 1] = lp->nz;
  return j;
}

// alpha = B^-1 A_j
static void ftran(sx_t *s, int j) {
  int m = s->m;
  memset(s->alpha, 0, (size_t)m * sizeof *s->alpha);
  if (j >= s->n) {
    int r = j - s->n;
    double a = s->asign[r];
    for (int i = 0; i < m; i++) s->alpha[i] = s->binv[(size_t)i * m + r] * a;
    return;
  }
  const sl_lp_t *lp = s->lp;
  for (int k = lp->cb[j]; k < lp->cb[j + 1]; k++) {
    int r = lp->ri[k];
    double a = lp->rv[k];
    for (int i = 0; i < m; i++) s->alpha[i] += s->binv[(size_t)i * m + r] * a;
  }
}

static double col_dot(const sx_t *s, int j, const double *y) {
  if (j >= s->n) return y[j - s->n] * s->asign[j - s->n];
  const sl_lp_t *lp = s->lp;
  double d = 0;
  for (int k = lp->cb[j]; k < lp->cb[j + 1]; k++) d += y[lp->ri[k]] * lp->rv[k];
  return d;
}

static void duals(sx_t *s) {
  int m = s->m;
  memset(s->yv, 0, (size_t)m * sizeof *s->yv);
  for (int i = 0; i < m; i++) {
    double cb = s->cost[s->basis[i]];
    if (cb == 0) continue;
    const double *row = s->binv + (size_t)i * m;
    for (int k = 0; k < m; k++) s->yv[k] += cb * row[k];
  }
}

// Rebuilds B^-1 by Gauss-Jordan elimination and the basic values from the nonbasic ones.
static int refactor(sx_t *s) {
  int m = s->m;
  double *a = s->work, *inv = s->binv;
  memset(a, 0, (size_t)m * m * sizeof *a);
  for (int i = 0; i < m; i++) {
    int j = s->basis[i];
    if (j >= s->n) {
      a[(size_t)(j - s->n) * m + i] = s->asign[j - s->n];
    } else {
      const sl_lp_t *lp = s->lp;
      for (int k = lp->cb[j]; k < lp->cb[j + 1]; k++) a[(size_t)lp->ri[k] * m + i] += lp->rv[k];
    }
  }
  memset(inv, 0, (size_t)m * m * sizeof *inv);
  for (int i = 0; i < m; i++) inv[(size_t)i * m + i] = 1;
  for (int c = 0; c < m; c++) {
    int p = c;
    for (int r = c + 1; r < m; r++)
      if (fabs(a[(size_t)r * m + c]) > fabs(a[(size_t)p * m + c])) p = r;
    if (fabs(a[(size_t)p * m + c]) < 1e-12) return -1;
    if (p != c)
      for (int k = 0; k < m; k++) {
        double t = a[(size_t)p * m + k];
        a[(size_t)p * m + k] = a[(size_t)c * m + k];
        a[(size_t)c * m + k] = t;
        t = inv[(size_t)p * m + k];
        inv[(size_t)p * m + k] = inv[(size_t)c * m + k];
        inv[(size_t)c * m + k] = t;
      }
    double d = a[(size_t)c * m + c];
    for (int k = 0; k < m; k++) {
      a[(size_t)c * m + k] /= d;
      inv[(size_t)c * m + k] /= d;
    }
    for (int r = 0; r < m; r++) {
      if (r == c) continue;
      double f = a[(size_t)r * m + c];
      if (f == 0) continue;
      for (int k = 0; k < m; k++) {
        a[(size_t)r * m + k] -= f * a[(size_t)c * m + k];
        inv[(size_t)r * m + k] -= f * inv[(size_t)c * m + k];
      }
    }
  }
  // xb = B^-1 (b - sum of nonbasic columns at their upper bound)
  double *rhs = s->alpha;
  memcpy(rhs, s->lp->b, (size_t)m * sizeof *rhs);
  for (int j = 0; j < s->nt; j++) {
    if (s->st[j] != 1) continue;
    if (j >= s->n) continue;  // artificials never rest at a nonzero upper bound
    const sl_lp_t *lp = s->lp;
    for (int k = lp->cb[j]; k < lp->cb[j + 1]; k++) rhs[lp->ri[k]] -= lp->rv[k] * s->ub[j];
  }
  for (int i = 0; i < m; i++) {
    double v = 0;
    for (int k = 0; k < m; k++) v += inv[(size_t)i * m + k] * rhs[k];
    s->xb[i] = v;
  }
  return 0;
}

static int simplex(sx_t *s, long *iters, long limit) {
  int m = s->m;
  double cmax = 0;
  for (int j = 0; j < s->nt; j++) cmax = fmax(cmax, fabs(s->cost[j]));
  double dtol = 1e-9 * (1 + cmax);
  int degen = 0, since = 0, fresh = 1;
  for (;;) {
    if (++*iters > limit) return SL_LP_LIMIT;
    if (++since >= REFACTOR) {
      since = 0;
      if (refactor(s)) return SL_LP_LIMIT;
    }
    if (since == 0 || fresh) duals(s);  // else updated after each pivot below
    fresh = 0;
    int enter = -1;
    double best = 0;
    for (int j = 0; j < s->nt; j++) {
      if (s->st[j] == 2 || s->ub[j] == 0) continue;
      double d = s->cost[j] - col_dot(s, j, s->yv), score = s->st[j] == 0 ? -d : d;
      if (score <= dtol) continue;
      if (degen > DEGEN) {  // Bland: first eligible
        enter = j;
        break;
      }
      if (score > best) {
        best = score;
        enter = j;
      }
    }
    if (enter < 0) return SL_LP_OPTIMAL;
    ftran(s, enter);
    double denter = s->cost[enter] - col_dot(s, enter, s->yv);
    double sg = s->st[enter] == 0 ? 1.0 : -1.0;
    double theta = s->ub[enter];
    int r = -1, to_upper = 0;
    for (int i = 0; i < m; i++) {
      double a = sg * s->alpha[i], lim;
      int up;
      if (a > PTOL) {
        lim = s->xb[i] / a;
        up = 0;
      } else if (a < -PTOL && isfinite(s->ub[s->basis[i]])) {
        lim = (s->ub[s->basis[i]] - s->xb[i]) / -a;
        up = 1;
      } else {
        continue;
      }
      if (lim < 0) lim = 0;
      if (lim < theta - 1e-12 ||
          (lim <= theta + 1e-12 && r >= 0 && fabs(s->alpha[i]) > fabs(s->alpha[r]))) {
        theta = lim;
        r = i;
        to_upper = up;
      }
    }
    if (!isfinite(theta)) return SL_LP_UNBOUNDED;
    for (int i = 0; i < m; i++) s->xb[i] -= sg * theta * s->alpha[i];
    degen = theta < 1e-12 ? degen + 1 : 0;
    if (r < 0) {  // the entering column reaches its other bound first
      s->st[enter] = s->st[enter] == 0 ? 1 : 0;
      continue;
    }
    int leave = s->basis[r];
    s->st[leave] = to_upper ? 1 : 0;
    s->xb[r] = sg > 0 ? theta : s->ub[enter] - theta;
    s->basis[r] = enter;
    s->st[enter] = 2;
    double piv = s->alpha[r];
    double *rowr = s->binv + (size_t)r * m;
    for (int k = 0; k < m; k++) rowr[k] /= piv;
    // The entering column's reduced cost becomes zero: y += d_enter x (row r of the new B^-1).
    for (int k = 0; k < m; k++) s->yv[k] += denter * rowr[k];
    for (int i = 0; i < m; i++) {
      if (i == r) continue;
      double f = s->alpha[i];
      if (f == 0) continue;
      double *row = s->binv + (size_t)i * m;
      for (int k = 0; k < m; k++) row[k] -= f * rowr[k];
    }
  }
}

int sl_lp_solve(sl_inst_t *in, sl_lp_t *lp, long iter_limit) {
  int m = lp->m, n = lp->n;
  sx_t s;
  memset(&s, 0, sizeof s);
  s.lp = lp;
  s.m = m;
  s.n = n;
  s.nt = n + m;
  if (m > lp->mmax) return SL_EINVAL;
  s.binv = lp->binv_;
  s.work = lp->work_;
  s.xb = lp->xb_;
  s.basis = lp->basis_;
  s.st = lp->st_;
  s.cost = lp->cost_;
  s.ub = lp->ub_;
  s.asign = lp->asign_;
  s.alpha = lp->alpha_;
  s.yv = lp->yv_;
  memset(s.st, 0, (size_t)s.nt * sizeof *s.st);
  memset(s.cost, 0, (size_t)s.nt * sizeof *s.cost);
  lp->iters = 0;
  // Starting basis: a slack-like column (one nonzero, feasible value) where a row has one,
  // otherwise an artificial.
  for (int i = 0; i < m; i++) s.basis[i] = -1;
  for (int j = 0; j < n; j++) {
    s.ub[j] = lp->u[j];
    if (lp->cb[j + 1] - lp->cb[j] != 1) continue;
    int r = lp->ri[lp->cb[j]];
    double a = lp->rv[lp->cb[j]], v = lp->b[r] / a;
    if (s.basis[r] >= 0 || !(v >= 0) || v > lp->u[j]) continue;
    s.basis[r] = j;
    s.st[j] = 2;
  }
  int arts = 0;
  for (int i = 0; i < m; i++) {
    s.asign[i] = lp->b[i] >= 0 ? 1 : -1;
    if (s.basis[i] < 0) {
      s.basis[i] = n + i;
      s.st[n + i] = 2;
      s.ub[n + i] = INFINITY;
      arts++;
    } else {
      s.ub[n + i] = 0;
    }
  }
  int st = SL_LP_OPTIMAL;
  if (refactor(&s)) st = SL_LP_LIMIT;
  if (!st && arts) {
    for (int j = 0; j < s.nt; j++) s.cost[j] = j >= n ? 1 : 0;
    st = simplex(&s, &lp->iters, iter_limit);
    double infeas = 0, bsum = 0;
    for (int i = 0; i < m; i++) {
      bsum += fabs(lp->b[i]);
      if (s.basis[i] >= n) infeas += s.xb[i];
    }
    if (!st && infeas > 1e-7 * (1 + bsum)) st = SL_LP_INFEASIBLE;
  }
  if (!st) {
    for (int j = 0; j < n; j++) s.cost[j] = lp->c[j];
    for (int i = 0; i < m; i++) {
      s.cost[n + i] = 0;
      s.ub[n + i] = 0;  // artificials stay at zero from here on
    }
    st = simplex(&s, &lp->iters, iter_limit);
  }
  lp->status = st;
  in->work += lp->iters;
  if (st) return SL_OK;
  refactor(&s);
  duals(&s);
  memcpy(lp->y, s.yv, (size_t)m * sizeof *lp->y);
  lp->obj = 0;
  for (int j = 0; j < n; j++) {
    lp->x[j] = s.st[j] == 1 ? lp->u[j] : 0;
  }
  for (int i = 0; i < m; i++)
    if (s.basis[i] < n) lp->x[s.basis[i]] = s.xb[i] < 0 ? 0 : s.xb[i];
  for (int j = 0; j < n; j++) lp->obj += lp->c[j] * lp->x[j];
  return SL_OK;
}
