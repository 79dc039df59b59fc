// The heuristic's driver: runs the stages level by level, highest priority first. A level is
// first covered in full at least cost (cover: the LP relaxation, priced and unpriced
// constructions, polished starts, local search); when it cannot be, it shares what the higher
// levels leave (share: the max-min LP or the fairness prices, progressive filling, a bisection
// on a common target, local search with the fairness moves). What the level got then binds the
// levels below. A local search under the full objective order and the cost bounds close. The
// stages: relax.c (LP relaxation), price.c (prices), build.c (constructions), search.c and
// fairmove.c (local search), bound.c (bounds), on the shared state of hs.c.
//
// Every stage keeps the solution feasible (within inventory, min and max) and the local search
// only accepts moves that the exact objective order (sl_inst_cmp_delta) calls improvements, so
// the result is never worse than the construction it starts from. Time is bounded by the local
// search's work budget and fixed iteration counts everywhere else.
#include "core/alloc/heur.h"

#include <math.h>
#include <string.h>

#include "core/alloc/bound.h"
#include "core/alloc/build.h"
#include "core/alloc/hs.h"
#include "core/alloc/lp.h"
#include "core/alloc/price.h"
#include "core/alloc/relax.h"
#include "core/alloc/search.h"

#define FAIR_BISECT 6 // bisection steps on a level's common target

static double level_min(const sl_inst_t *in, const sl_sol_t *s, int l) {
  double m = 1;
  for (int g = 0; g < in->ng; g++)
    if (in->lvl[g] == l) {
      double f = sl_inst_frac(in, g, s->capg[g]);
      if (f < m) m = f;
    }
  return m;
}

// Keeps h->s in h->best when it beats what is there.
static void keep_best(sl_hs_t *h, int *found) {
  if (!*found || sl_inst_cmp(h->in, &h->s, &h->best) > 0) sl_sol_copy(h->in, &h->best, &h->s);
  *found = 1;
}

// Cheapest allocation giving every group of level <= L capacity need[g], into h->s: starts
// from the LP solution rounded down and completed, from priced constructions along the
// Lagrangian ascent and from the unpriced one; the best start goes through the full local
// search. Returns 0, 1 when the LP proves that no allocation does it, or -1 when none was found.
static int cover(sl_hs_t *h, int L, const double *need, sl_sol_t *trial) {
  sl_inst_t *in = h->in;
  int found = 0;
  h->nstart = 0;
  sl_sol_copy(in, &h->keep, &h->s);
  int have_mu = 0;
  if (sl_relax_build(h, L, need, 0, 0) == 0) {
    int st = sl_relax_run(h);
    if (st == SL_LP_INFEASIBLE) return 1;
    if (st == SL_LP_OPTIMAL) {
      have_mu = 1;
      h->cov_lp = h->lp.obj;
      for (int v = 0; v < in->nv; v++) h->cov_lp += sl_inst_vcost(in, v, in->lo[v]);
      memcpy(h->cov_need, need, (size_t)in->ng * sizeof *need);
      memcpy(h->cov_mu, h->mu, (size_t)in->nt * sizeof *h->mu);
      sl_sol_copy(in, trial, &h->keep);
      sl_relax_floor(h, L, trial, 0);
      if (sl_sol_fits(in, trial) && sl_build_cover_from(h, need, h->mu, trial) == 0)
        sl_search_polish(h, trial, &found);
    }
  }
  if (!have_mu) have_mu = sl_price_lagr(h, need, 0) > -INFINITY;
  if (have_mu) sl_price_lagr_int(h, need, SL_PRICE_START_ITERS(in->ng), INFINITY, trial, &found);
  for (int t = 0; t < in->nt; t++) h->mu3[t] = 0;
  if (sl_build_cover(h, need, h->mu3, trial) == 0) sl_search_polish(h, trial, &found);
  if (!found) {
    sl_sol_copy(in, &h->s, &h->keep);
    return -1;
  }
  // Descend from the best start, then from the others while the budget lasts.
  found = 0;
  for (int i = 0; i < h->nstart && (i == 0 || h->spent < h->budget); i++) {
    sl_sol_copy(in, &h->s, &h->starts[i]);
    sl_search_improve(h, SL_SEARCH_COST);
    keep_best(h, &found);
  }
  sl_sol_copy(in, &h->s, &h->best);
  return 0;
}

// Shares what higher levels leave among the groups of level L. Returns an upper bound on the
// lowest served fraction any allocation can give level L while higher levels get need[].
// T is the LP's max-min from sl_relax_maxmin; when no level is above L, the LP solution it left in
// h is the one to round.
static double share(sl_hs_t *h, int L, const double *need, double T) {
  sl_inst_t *in = h->in;
  int above = 0;
  for (int g = 0; g < in->ng; g++) above |= in->lvl[g] < L;
  int have = isfinite(T) && !above;
  if (!have) have = sl_relax_build(h, L, need, 1, 1) == 0 && sl_relax_run(h) == SL_LP_OPTIMAL;
  if (have) {
    sl_relax_floor(h, L, &h->s, 1);
    if (!sl_sol_fits(in, &h->s)) { // cannot happen with an exact LP; be safe
      for (int g = 0; g < in->ng; g++)
        if (in->lvl[g] == L)
          for (int v = in->vb[g]; v < in->ve[g]; v++) sl_sol_set(in, &h->s, v, in->lo[v]);
    }
  } else {
    double Tm = sl_price_fair(h, L, need);
    if (!isfinite(T)) T = Tm;
  }
  sl_build_fill(h, L, h->mu);
  // A common target for the level, by bisection between what the filling reached and the LP's
  // max-min: a construction at the scarcity prices that brings every group of the level to
  // t x demand (higher levels keeping need[]) proves t; filled up, it replaces the current
  // allocation when the objective prefers it.
  double lo = level_min(in, &h->s, L), hi = isfinite(T) && T < 1 ? T : 1;
  sl_sol_copy(in, &h->best, &h->s);
  sl_sol_copy(in, &h->keep, &h->s);
  // Prices: the LP's, plus a little per GPU so that ties never waste GPUs.
  double pmax = 0;
  for (int t = 0; t < in->nt; t++) pmax = fmax(pmax, h->mu[t]);
  for (int t = 0; t < in->nt; t++)
    h->mu3[t] = in->cap[t] >= SL_INST_BIG ? 0 : h->mu[t] + (pmax > 0 ? 1e-3 * pmax : 1);
  for (int it = 0; it < FAIR_BISECT && hi - lo > 1e-4; it++) {
    double mid = 0.5 * (lo + hi);
    for (int g = 0; g < in->ng; g++)
      h->tneed[g] = in->lvl[g] < L ? need[g] : in->lvl[g] == L ? mid * in->dem[g] : 0;
    sl_sol_copy(in, &h->s, &h->keep); // higher levels as they were
    // Start from the LP solution scaled to the target (still feasible, with room to spare for
    // rounding: x = min + (x* - min) mid / T), rounded down; the construction completes it.
    for (int v = 0; v < in->nv; v++) {
      int g = in->grp[v];
      if (in->lvl[g] > L)
        h->s.n[v] = in->lo[v];
      else if (in->lvl[g] == L && have && isfinite(T) && T > 0)
        h->s.n[v] = (int)floor(in->lo[v] + (h->nstar[v] - in->lo[v]) * mid / T + 1e-7);
    }
    sl_sol_recompute(in, &h->s);
    if (!sl_sol_fits(in, &h->s) || sl_build_cover_w(h, h->tneed, h->mu3, 0, &h->s) != 0) {
      hi = mid;
      continue;
    }
    sl_build_fill(h, L, h->mu);
    lo = fmax(mid, level_min(in, &h->s, L));
    if (sl_inst_cmp(in, &h->s, &h->best) > 0) sl_sol_copy(in, &h->best, &h->s);
  }
  sl_sol_copy(in, &h->s, &h->best);
  return T;
}

int sl_heur_solve(sl_inst_t *in, sl_sol_t *out, long budget, sl_heur_report_t *rep) {
  sl_hs_t h;
  if (sl_hs_init(in, &h)) return SL_ENOMEM;
  h.budget = budget;
  h.stop = in->work;
  sl_sol_t trial;
  if (sl_sol_init(in, &trial)) return SL_ENOMEM;
  double *need = sl_inst_calloc(in, (size_t)in->ng, sizeof *need);
  if (!need) return SL_ENOMEM;
  rep->fair_level = -1;
  rep->fair_bound = rep->fair_min = 1;
  for (int l = 0; l < in->nl; l++) {
    for (int g = 0; g < in->ng; g++)
      if (in->lvl[g] == l) need[g] = in->dem[g];
    // Try to serve level l in full unless it plainly cannot be: its demand at each group's
    // most GPU-efficient variant needs more GPUs than all limited types hold.
    double gneed = 0, gcap = 0;
    int unlimited = 0;
    for (int t = 0; t < in->nt; t++) {
      if (in->cap[t] >= SL_INST_BIG)
        unlimited = 1;
      else
        gcap += (double)in->cap[t];
    }
    for (int g = 0; g < in->ng; g++) {
      if (in->lvl[g] > l) continue;
      double best = INFINITY;
      for (int v = in->vb[g]; v < in->ve[g]; v++)
        if (in->rate[v] > 0 && in->hi[v] > 0) best = fmin(best, in->gpus[v] / in->rate[v]);
      gneed += need[g] > 0 ? need[g] * best : 0;
    }
    int plainly_short = !unlimited && gneed > gcap * (1 + 1e-9);
    if (plainly_short || cover(&h, l, need, &trial) != 0) {
      // Level l cannot be served in full: share what the higher levels leave.
      for (int g = 0; g < in->ng; g++)
        if (in->lvl[g] == l) need[g] = 0;
      double T = sl_relax_maxmin(&h, l, need);
      T = share(&h, l, need, T);
      sl_search_improve(&h, SL_SEARCH_FAIR);
      double m = level_min(in, &h.s, l);
      if (rep->fair_level < 0 && m < 1 - SL_INST_FEPS) {
        rep->fair_level = l;
        rep->fair_bound = T < m ? m : T; // T is the LP's max-min (the bisection's, if large)
      }
    }
    sl_hs_set_req(&h, &h.s);
    memcpy(need, h.req, (size_t)in->ng * sizeof *need);
  }
  sl_search_improve(&h, SL_SEARCH_COST | SL_SEARCH_FAIR);
  sl_sol_recompute(in, &h.s);
  sl_sol_copy(in, out, &h.s);
  if (rep->fair_level >= 0) rep->fair_min = level_min(in, out, rep->fair_level);
  sl_hs_set_req(&h, out);
  sl_bound_cost(&h, h.req, out->cost, &rep->lp_bound, &rep->cost_bound);
  return in->oom ? SL_ENOMEM : SL_OK;
}
