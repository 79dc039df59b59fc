// Prices, construction, local search and bounds of the allocator.
//
// Every stage keeps the solution feasible (within inventory, min and max) and the local search
// only accepts moves that the exact objective order (sl_inst_cmp_delta) calls improvements, so
// the result is never worse than the construction it starts from. Time is bounded by the local
// search's work budget and fixed iteration counts everywhere else.
#include "core/alloc/heur.h"

#include <math.h>
#include <string.h>

#include "core/alloc/build.h"
#include "core/alloc/fairmove.h"
#include "core/alloc/group.h"
#include "core/alloc/hs.h"
#include "core/alloc/knap.h"
#include "core/alloc/lp.h"
#include "core/alloc/relax.h"
#include "core/alloc/search.h"

#define LAGR_ITERS 160 // subgradient steps on the GPU prices (instances too large for the LP)
#define FAIR_ITERS 40  // multiplicative-weight steps on the fairness prices (likewise)
// Integer Lagrangian steps, each solving every group's subproblem once: for the final bound,
// and for priced constructions at the start. More on small instances, where they are cheap.
#define LAGR_INT_ITERS(ng)   ((ng) < 400 ? 600 / ((ng) + 20) + 3 : 4)
#define LAGR_START_ITERS(ng) ((ng) < 400 ? 600 / ((ng) + 40) + 1 : 1)
#define FAIR_BISECT          6 // bisection steps on a level's common target

// --- cost stage: Lagrangian prices and bound --------------------------------------------------

// phi(mu) of the LP relaxation: sum of the groups' fractional cheapest covers at prices mu minus
// mu . cap; fu receives the GPUs they use. NAN when some need exceeds a group's maximum.
static double lagr_eval(sl_hs_t *h, const double *need, const double *mu) {
  sl_inst_t *in = h->in;
  memset(h->fu, 0, (size_t)in->nt * sizeof *h->fu);
  double s = 0;
  for (int g = 0; g < in->ng; g++) {
    double c = sl_knap_frac(in, &h->kn, g, 1.0, mu, need[g], h->fu);
    if (!isfinite(c)) return NAN;
    s += c;
  }
  for (int t = 0; t < in->nt; t++)
    if (in->cap[t] < SL_INST_BIG) s -= mu[t] * (double)in->cap[t];
  return s;
}

// Projected subgradient ascent on the LP dual (Polyak steps towards ub, the best known primal
// objective). Leaves the best prices in h->mu and returns the LP lower bound (-INF if none).
static double lagr_ascent(sl_hs_t *h, const double *need, double ub) {
  sl_inst_t *in = h->in;
  double *mu = h->mu2, best = -INFINITY, theta = 1.0;
  memset(mu, 0, (size_t)in->nt * sizeof *mu);
  memset(h->mu, 0, (size_t)in->nt * sizeof *h->mu);
  int noimp = 0;
  for (int it = 0; it < LAGR_ITERS; it++) {
    double phi = lagr_eval(h, need, mu);
    if (isnan(phi)) return -INFINITY;
    if (best == -INFINITY || phi > best) {
      if (best == -INFINITY || phi > best + 1e-6 * (1 + fabs(best)))
        noimp = 0;
      else if (++noimp >= 6) {
        theta *= 0.5;
        noimp = 0;
      }
      best = phi;
      memcpy(h->mu, mu, (size_t)in->nt * sizeof *mu);
    } else if (++noimp >= 6) {
      theta *= 0.5;
      noimp = 0;
      if (theta < 1e-3) break;
    }
    double norm = 0;
    for (int t = 0; t < in->nt; t++) {
      double g = in->cap[t] < SL_INST_BIG ? h->fu[t] - (double)in->cap[t] : 0;
      if (mu[t] <= 0 && g < 0) g = 0;
      h->sg[t] = g;
      norm += g * g;
    }
    if (norm == 0) break; // no type is over-used and every priced type is full: optimal
    double target = isfinite(ub) && ub > phi ? ub : phi + 0.05 * (1 + fabs(phi));
    double step = theta * (target - phi) / norm;
    for (int t = 0; t < in->nt; t++) {
      mu[t] += step * h->sg[t];
      if (mu[t] < 0) mu[t] = 0;
    }
  }
  return best;
}

// --- fairness stage ----------------------------------------------------------------------------

// Per group, its variants' capacity beyond the minimums as segments sorted by GPU price per
// req/s at prices mu: the LP relaxation of "raise this group to capacity R".
static void fair_tables(sl_hs_t *h, const double *mu) {
  sl_inst_t *in = h->in;
  int pos = 0;
  for (int g = 0; g < in->ng; g++) {
    h->sbeg[g] = pos;
    h->base[g] = 0;
    for (int v = in->vb[g]; v < in->ve[g]; v++) {
      h->base[g] += in->lo[v] * in->rate[v];
      if (in->rate[v] <= 0 || in->hi[v] <= in->lo[v]) continue;
      int t = in->type[v];
      double p = mu[t] * in->gpus[v] / in->rate[v];
      int j = pos - 1;
      while (j >= h->sbeg[g] && h->sp[j] > p) {
        h->sp[j + 1] = h->sp[j];
        h->sr[j + 1] = h->sr[j];
        h->st[j + 1] = h->st[j];
        h->su[j + 1] = h->su[j];
        j--;
      }
      h->sp[j + 1] = p;
      h->sr[j + 1] = (in->hi[v] - in->lo[v]) * in->rate[v];
      h->st[j + 1] = t;
      h->su[j + 1] = in->gpus[v] / in->rate[v];
      pos++;
    }
  }
  h->sbeg[in->ng] = pos;
}

static double fair_phi(sl_hs_t *h, int g, double R, double *fu) {
  double rem = R - h->base[g], c = 0;
  if (rem <= 0) return 0;
  for (int i = h->sbeg[g]; i < h->sbeg[g + 1] && rem > 0; i++) {
    double take = h->sr[i] < rem ? h->sr[i] : rem;
    c += take * h->sp[i];
    if (fu) fu[h->st[i]] += take * h->su[i];
    rem -= take;
  }
  return rem > 1e-9 * (1 + R) ? INFINITY : c;
}

// T(mu): the largest t such that the LP relaxation, priced at mu, can raise every group of level
// l to t x demand while higher levels keep need[]. For any mu >= 0 it bounds the LP's max-min
// (and so the integer one) from above. fu receives the GPUs used beyond minimums at T.
static double fair_T(sl_hs_t *h, int l, const double *need, const double *mu, const double *room) {
  sl_inst_t *in = h->in;
  fair_tables(h, mu);
  double rhs = 0, fixed = 0;
  for (int t = 0; t < in->nt; t++)
    if (in->cap[t] < SL_INST_BIG) rhs += mu[t] * room[t];
  for (int g = 0; g < in->ng; g++)
    if (in->lvl[g] < l) fixed += fair_phi(h, g, need[g], NULL);
  double lo = 0, hi = 1;
  double f1 = fixed;
  for (int g = 0; g < in->ng && isfinite(f1); g++)
    if (in->lvl[g] == l) f1 += fair_phi(h, g, in->dem[g], NULL);
  double t = 1;
  if (!(f1 <= rhs)) {
    for (int it = 0; it < 40 && hi - lo > 1e-7; it++) {
      double mid = 0.5 * (lo + hi), f = fixed;
      for (int g = 0; g < in->ng && isfinite(f); g++)
        if (in->lvl[g] == l) f += fair_phi(h, g, mid * in->dem[g], NULL);
      if (f <= rhs)
        lo = mid;
      else
        hi = mid;
    }
    t = hi; // an upper bound: hi is infeasible or 1
  }
  memset(h->fu, 0, (size_t)in->nt * sizeof *h->fu);
  for (int g = 0; g < in->ng; g++) {
    if (in->lvl[g] < l)
      fair_phi(h, g, need[g], h->fu);
    else if (in->lvl[g] == l)
      fair_phi(h, g, lo * in->dem[g], h->fu);
  }
  return t;
}

// Prices for level l by multiplicative weights on T(mu): over-used types get dearer. Leaves the
// best prices in h->mu and returns the smallest T found (the fairness bound).
static double fair_prices(sl_hs_t *h, int l, const double *need) {
  sl_inst_t *in = h->in;
  // room[t]: GPUs beyond every group's minimums (what the LP may distribute).
  double *room = h->mu2;
  for (int t = 0; t < in->nt; t++) room[t] = (double)in->cap[t];
  for (int v = 0; v < in->nv; v++) room[in->type[v]] -= (double)in->lo[v] * in->gpus[v];
  double *mu = h->sg, *best_mu = h->mu;
  int nlim = 0;
  for (int t = 0; t < in->nt; t++) nlim += in->cap[t] < SL_INST_BIG;
  for (int t = 0; t < in->nt; t++) {
    if (in->cap[t] >= SL_INST_BIG)
      mu[t] = 0;
    else if (room[t] <= 0)
      mu[t] = SL_HS_BAN_PRICE;
    else
      mu[t] = 1.0 / (nlim * room[t]);
  }
  memcpy(best_mu, mu, (size_t)in->nt * sizeof *mu);
  double best = INFINITY;
  for (int it = 0; it < FAIR_ITERS; it++) {
    double T = fair_T(h, l, need, mu, room);
    if (T < best) {
      best = T;
      memcpy(best_mu, mu, (size_t)in->nt * sizeof *mu);
    }
    double eta = 1.0 / sqrt(1.0 + it), z = 0;
    for (int t = 0; t < in->nt; t++) {
      if (in->cap[t] >= SL_INST_BIG || room[t] <= 0) continue;
      mu[t] *= exp(eta * (h->fu[t] / room[t] - 1.0));
      z += mu[t] * room[t];
    }
    if (z <= 0) break;
    for (int t = 0; t < in->nt; t++)
      if (in->cap[t] < SL_INST_BIG && room[t] > 0) mu[t] /= z;
  }
  return best > 1 ? 1 : best;
}

// --- driver -------------------------------------------------------------------------------------

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

// Subgradient ascent on the Lagrangian dual with exact integer group subproblems, from the
// prices in h->mu: a bound at least as strong as the LP's, and at every step a priced
// construction (the Lagrangian heuristic) as a start for the local search. Returns the best
// bound; h->mu keeps its prices.
static double lagr_int_ascent(sl_hs_t *h, const double *need, int iters, double ub0,
                              sl_sol_t *trial, int *found) {
  sl_inst_t *in = h->in;
  double *mu = h->mu3, best = -INFINITY, theta = 0.5;
  memcpy(mu, h->mu, (size_t)in->nt * sizeof *mu);
  memcpy(h->mu2, h->mu, (size_t)in->nt * sizeof *mu);
  for (int it = 0; it < iters; it++) {
    memset(h->fu, 0, (size_t)in->nt * sizeof *h->fu);
    double phi = 0;
    for (int g = 0; g < in->ng && isfinite(phi); g++) {
      phi += sl_knap_mincost(in, &h->kn, g, NULL, 1.0, mu, need[g], h->nb);
      for (int v = in->vb[g]; v < in->ve[g]; v++)
        h->fu[in->type[v]] += (double)h->nb[v] * in->gpus[v];
    }
    if (!isfinite(phi)) break;
    for (int t = 0; t < in->nt; t++)
      if (in->cap[t] < SL_INST_BIG) phi -= mu[t] * (double)in->cap[t];
    if (phi > best) {
      best = phi;
      memcpy(h->mu2, mu, (size_t)in->nt * sizeof *mu);
    } else {
      theta *= 0.7;
    }
    double norm = 0;
    for (int t = 0; t < in->nt; t++) {
      double g = in->cap[t] < SL_INST_BIG ? h->fu[t] - (double)in->cap[t] : 0;
      if (mu[t] <= 0 && g < 0) g = 0;
      h->sg[t] = g;
      norm += g * g;
    }
    if (trial && sl_build_cover(h, need, mu, trial) == 0)
      sl_search_polish(h, trial, found); // (h->fu: scratch)
    double ub = h->nstart ? h->starts[0].cost : isfinite(ub0) ? ub0 : phi + 0.02 * (1 + fabs(phi));
    if (norm == 0 || ub <= phi) break;
    double step = theta * (ub - phi) / norm;
    for (int t = 0; t < in->nt; t++) mu[t] = fmax(0, mu[t] + step * h->sg[t]);
  }
  memcpy(h->mu, h->mu2, (size_t)in->nt * sizeof *mu);
  return best;
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
  if (!have_mu) have_mu = lagr_ascent(h, need, 0) > -INFINITY;
  if (have_mu) lagr_int_ascent(h, need, LAGR_START_ITERS(in->ng), INFINITY, trial, &found);
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
    double Tm = fair_prices(h, L, need);
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

// Lower bounds on the objective of any allocation giving each group at least need[g]: the LP
// relaxation (exact when the dense solver takes it, else its Lagrangian dual by subgradient)
// and the Lagrangian bound with exact integer group subproblems at the LP's prices.
static void cost_bounds(sl_hs_t *h, const double *need, double ub, double *lp, double *best) {
  sl_inst_t *in = h->in;
  double b = -INFINITY;
  if (h->cov_lp > -INFINITY && !memcmp(need, h->cov_need, (size_t)in->ng * sizeof *need)) {
    b = h->cov_lp; // the cover's LP was this one
    memcpy(h->mu, h->cov_mu, (size_t)in->nt * sizeof *h->mu);
  } else if (sl_relax_build(h, in->nl - 1, need, 0, 0) == 0 && sl_relax_run(h) == SL_LP_OPTIMAL) {
    b = h->lp.obj;
    for (int v = 0; v < in->nv; v++) b += sl_inst_vcost(in, v, in->lo[v]);
  } else {
    b = lagr_ascent(h, need, ub);
  }
  *lp = b;
  double li =
      b > -INFINITY ? lagr_int_ascent(h, need, LAGR_INT_ITERS(in->ng), ub, NULL, NULL) : -INFINITY;
  *best = li > b ? li : b;
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
  cost_bounds(&h, h.req, out->cost, &rep->lp_bound, &rep->cost_bound);
  return in->oom ? SL_ENOMEM : SL_OK;
}
