#include "core/alloc/relax.h"

#include <math.h>

#include "core/alloc/lp.h"

int sl_relax_build(sl_hs_t *h, int L, const double *need, int fair, int fixed_above) {
  sl_inst_t *in = h->in;
  if (!h->lp_ready) return -1;
  sl_lp_t *lp = &h->lp;
  int m = 0;
  for (int g = 0; g < in->ng; g++) {
    h->grow[g] = -1;
    double base = 0;
    for (int v = in->vb[g]; v < in->ve[g]; v++) base += in->lo[v] * in->rate[v];
    h->base[g] = base;
    if (in->lvl[g] > L || (fixed_above && in->lvl[g] < L)) continue;
    if (fair && in->lvl[g] == L ? in->dem[g] > 0 : need[g] > base + 1e-9 * (1 + need[g]))
      h->grow[g] = m++;
  }
  for (int t = 0; t < in->nt; t++) h->trow[t] = in->cap[t] < SL_INST_BIG ? m++ : -1;
  sl_lp_reset(lp, m);
  for (int t = 0; t < in->nt; t++)
    if (h->trow[t] >= 0) lp->b[h->trow[t]] = (double)in->cap[t];
  for (int v = 0; v < in->nv; v++) {
    int t = in->type[v], g = in->grp[v];
    int fixed = fixed_above && in->lvl[g] < L;
    if (h->trow[t] >= 0) lp->b[h->trow[t]] -= (double)in->gpus[v] * (fixed ? h->s.n[v] : in->lo[v]);
  }
  for (int g = 0; g < in->ng; g++) {
    int r = h->grow[g];
    if (r < 0) continue;
    lp->b[r] = fair && in->lvl[g] == L ? -h->base[g] : need[g] - h->base[g];
    for (int v = in->vb[g]; v < in->ve[g]; v++) {
      if (in->rate[v] <= 0 || in->hi[v] <= in->lo[v]) continue;
      int ub = in->hi[v] - in->lo[v], s1 = in->cur[v] - in->lo[v];
      s1 = s1 < 0 ? 0 : s1 > ub ? ub : s1;
      int rows[2] = {r, h->trow[in->type[v]]};
      double vals[2] = {in->rate[v], (double)in->gpus[v]}, c = fair ? 0 : in->cost[v];
      int nnz = rows[1] >= 0 ? 2 : 1;
      if (s1 > 0) h->colv[sl_lp_col(lp, c * (1 - in->lambda), s1, nnz, rows, vals)] = v;
      if (ub > s1) h->colv[sl_lp_col(lp, c * (1 + in->lambda), ub - s1, nnz, rows, vals)] = v;
    }
    double minus = -1;
    h->colv[sl_lp_col(lp, 0, INFINITY, 1, &r, &minus)] = -1; // surplus
  }
  for (int t = 0; t < in->nt; t++) {
    if (h->trow[t] < 0) continue;
    double one = 1;
    h->colv[sl_lp_col(lp, 0, INFINITY, 1, &h->trow[t], &one)] = -1; // idle GPUs
  }
  h->tcol = -1;
  if (fair) {
    int nnz = 0;
    int *rows = h->ord;
    double *vals = h->key;
    for (int g = 0; g < in->ng; g++)
      if (h->grow[g] >= 0 && in->lvl[g] == L) {
        rows[nnz] = h->grow[g];
        vals[nnz++] = -in->dem[g];
      }
    h->tcol = sl_lp_col(lp, -1, 1, nnz, rows, vals);
    h->colv[h->tcol] = -1;
  }
  return 0;
}

int sl_relax_run(sl_hs_t *h) {
  sl_inst_t *in = h->in;
  sl_lp_t *lp = &h->lp;
  if (sl_lp_solve(in, lp, 50L * lp->m + 2000) || lp->status)
    return lp->status ? lp->status : SL_LP_LIMIT;
  for (int v = 0; v < in->nv; v++) h->nstar[v] = in->lo[v];
  for (int j = 0; j < lp->n; j++)
    if (h->colv[j] >= 0) h->nstar[h->colv[j]] += lp->x[j];
  for (int t = 0; t < in->nt; t++) {
    double y = h->trow[t] >= 0 ? -lp->y[h->trow[t]] : 0;
    h->mu[t] = y > 0 ? y : 0;
  }
  return SL_LP_OPTIMAL;
}

void sl_relax_floor(sl_hs_t *h, int L, sl_sol_t *s, int only_level) {
  sl_inst_t *in = h->in;
  for (int v = 0; v < in->nv; v++) {
    int g = in->grp[v];
    if (in->lvl[g] > L)
      s->n[v] = in->lo[v];
    else if (!only_level || in->lvl[g] == L)
      s->n[v] = (int)floor(h->nstar[v] + 1e-7);
  }
  sl_sol_recompute(in, s);
}

double sl_relax_maxmin(sl_hs_t *h, int L, const double *need) {
  if (sl_relax_build(h, L, need, 1, 0) != 0 || sl_relax_run(h) != SL_LP_OPTIMAL) return INFINITY;
  return h->lp.x[h->tcol];
}
