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

#define LAGR_ITERS 160 // subgradient steps on the GPU prices (instances too large for the LP)
#define FAIR_ITERS 40  // multiplicative-weight steps on the fairness prices (likewise)
// Integer Lagrangian steps, each solving every group's subproblem once: for the final bound,
// and for priced constructions at the start. More on small instances, where they are cheap.
#define LAGR_INT_ITERS(ng)   ((ng) < 400 ? 600 / ((ng) + 20) + 3 : 4)
#define LAGR_START_ITERS(ng) ((ng) < 400 ? 600 / ((ng) + 40) + 1 : 1)
#define FAIR_BISECT          6   // bisection steps on a level's common target
#define IMPROVE_PASS         30  // best-response passes in a row (each stops when nothing improves)
#define XCHG_ROUNDS          40  // accepted exchanges per type in a row
#define RR_ITERS             300 // ruin-and-recreate attempts per round (cost)
#define FAIR_RR_ITERS        100 // ... (fairness)

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

// --- cost stage: local search -------------------------------------------------------------------

// Each group in turn takes its best response (most capacity it can serve, then cheapest) to
// what is free plus what it holds, lowest served fraction first; kept when the objective
// improves. Returns 1 if anything changed.
static int one_opt(sl_hs_t *h, sl_sol_t *s) {
  sl_inst_t *in = h->in;
  for (int g = 0; g < in->ng; g++) {
    h->ord[g] = g;
    h->key[g] = in->lvl[g] + sl_inst_frac(in, g, s->capg[g]) * 0.5;
  }
  for (int i = 1; i < in->ng; i++) {
    int g = h->ord[i], j = i - 1;
    while (j >= 0 && h->key[h->ord[j]] > h->key[g]) {
      h->ord[j + 1] = h->ord[j];
      j--;
    }
    h->ord[j + 1] = g;
  }
  int changed = 0;
  for (int i = 0; i < in->ng; i++) {
    int g = h->ord[i];
    sl_group_avail(in, s, g, h->av);
    double cap = sl_hs_best_response(h, g, h->av, h->nb);
    if (cap < 0) continue;
    double oldc = s->capg[g], dc = sl_group_costof(in, g, h->nb) - sl_group_cost(in, s, g);
    if (sl_inst_cmp_delta(in, 1, &g, &oldc, &cap, dc) > 0) {
      sl_group_apply(in, s, g, h->nb);
      changed = 1;
    }
  }
  return changed;
}

// Donors for an exchange on type t: the groups other than b that give up GPUs of t, chosen by a
// knapsack on their losses (loss[a*Q + q-1]: cost increase for a to hold q fewer GPUs of t,
// given the current state) so that at least x GPUs are released at the least total loss.
// Fills give[] and returns the total loss (INFINITY if impossible).
static double pick_donors(sl_hs_t *h, int b, int x, int Q, int *give) {
  sl_inst_t *in = h->in;
  double *dp = h->xdp, *loss = h->xloss;
  int *pick = h->xpick; // pick[a*(x+1) + y]: GPUs donor a gives in the best way to release y
  for (int y = 0; y <= x; y++) dp[y] = y ? INFINITY : 0;
  memset(pick, 0, (size_t)in->ng * (x + 1) * sizeof *pick);
  for (int a = 0; a < in->ng; a++) {
    if (a == b) continue;
    for (int y = x; y >= 1; y--)
      for (int q = 1; q <= Q; q++) {
        double l = loss[a * Q + q - 1];
        if (!isfinite(l)) continue;
        int from = y - q < 0 ? 0 : y - q;
        if (dp[from] + l < dp[y] - 1e-12) {
          dp[y] = dp[from] + l;
          pick[a * (x + 1) + y] = q;
        }
      }
  }
  if (!isfinite(dp[x])) return INFINITY;
  // Walk back through the donors (later donors improved dp last).
  memset(give, 0, (size_t)in->ng * sizeof *give);
  double total = dp[x];
  int y = x;
  for (int a = in->ng - 1; a >= 0 && y > 0; a--) {
    int q = pick[a * (x + 1) + y];
    if (!q) continue;
    give[a] = q;
    y = y - q < 0 ? 0 : y - q;
  }
  return y > 0 ? INFINITY : total;
}

// Losses of every group for holding q = 1..Q fewer GPUs of t than now. A solution that frees r
// GPUs answers every q up to r, so few subproblems are solved.
static void donor_losses(sl_hs_t *h, const sl_sol_t *s, int t, int Q) {
  sl_inst_t *in = h->in;
  for (int a = 0; a < in->ng; a++) {
    long ut = sl_group_use_t(in, s, a, t);
    for (int q = 1; q <= Q; q++) h->xloss[a * Q + q - 1] = INFINITY;
    if (!ut) continue;
    double old = sl_group_cost(in, s, a);
    for (int q = 1; q <= Q && q <= ut;) {
      sl_group_avail(in, s, a, h->av);
      h->av[t] = ut - q;
      double c = sl_knap_mincost(in, &h->kn, a, h->av, 1.0, NULL, h->req[a], h->nb);
      if (!isfinite(c)) break; // freeing more is no easier
      long nu = 0;
      for (int v = in->vb[a]; v < in->ve[a]; v++)
        if (in->type[v] == t) nu += (long)h->nb[v] * in->gpus[v];
      long freed = ut - nu;
      for (; q <= Q && q <= freed; q++) h->xloss[a * Q + q - 1] = c - old;
    }
  }
}

// Exchange on a full type t: one group (b) takes a lump of GPUs of t, possibly giving up GPUs of
// other types, and others give up GPUs of t to make room (moving elsewhere, including into what
// b gave up), when the total cost falls while every group keeps its requirement. Candidates b
// are ranked by their own gain; for the best few the donors are chosen by a knapsack on their
// losses in the state after b's move. Returns 1 if an exchange was made.
#define XCHG_CANDS 3
static int exchange(sl_hs_t *h, sl_sol_t *s, int t, int Q) {
  sl_inst_t *in = h->in;
  const double *need = h->req;
  long freet = in->cap[t] - s->use[t];
  double *gain = h->xgain;
  int *extra = h->xextra;
  for (int g = 0; g < in->ng; g++) {
    double old = sl_group_cost(in, s, g);
    long ut = sl_group_use_t(in, s, g, t);
    int has = sl_group_has_t(in, g, t);
    for (int q = 1; q <= Q; q++) {
      gain[g * Q + q - 1] = -INFINITY;
      extra[g * Q + q - 1] = 0;
    }
    // From the largest lump down: a solution using e extra GPUs answers every lump from e up.
    for (int q = Q; has && q >= 1;) {
      sl_group_avail(in, s, g, h->av);
      h->av[t] = ut + freet + q;
      double c = sl_knap_mincost(in, &h->kn, g, h->av, 1.0, NULL, need[g], h->nb);
      if (!isfinite(c)) break;
      long nu = 0;
      for (int v = in->vb[g]; v < in->ve[g]; v++)
        if (in->type[v] == t) nu += (long)h->nb[v] * in->gpus[v];
      int e = (int)(nu - ut - freet);
      if (e <= 0) break;             // fits without donors: a best response, not an exchange
      gain[g * Q + e - 1] = old - c; // one entry per distinct move
      extra[g * Q + e - 1] = e;
      q = e - 1;
    }
  }
  int *saved = h->nb2, *give = h->ord;
  memcpy(saved, s->n, (size_t)in->nv * sizeof *saved);
  double before = s->cost;
  for (int k = 0; k < XCHG_CANDS; k++) {
    int bb = -1, bq = 0;
    double bg = in->ctol;
    for (int i = 0; i < in->ng * Q; i++)
      if (gain[i] > bg) {
        bg = gain[i];
        bb = i / Q;
        bq = i % Q + 1;
      }
    if (bb < 0) return 0;
    int x = extra[bb * Q + bq - 1];
    gain[bb * Q + bq - 1] = -INFINITY;
    // b moves first (over the inventory of t by x for a moment), then donors answer.
    long ut = sl_group_use_t(in, s, bb, t);
    sl_group_avail(in, s, bb, h->av);
    h->av[t] = ut + freet + bq;
    if (!isfinite(sl_knap_mincost(in, &h->kn, bb, h->av, 1.0, NULL, need[bb], h->nb))) continue;
    sl_group_apply(in, s, bb, h->nb);
    donor_losses(h, s, t, Q);
    double lost = pick_donors(h, bb, x, Q, give);
    int ok = isfinite(lost) && before - s->cost - lost > in->ctol;
    for (int a = 0; a < in->ng && ok; a++) {
      if (!give[a]) continue;
      long ua = sl_group_use_t(in, s, a, t);
      sl_group_avail(in, s, a, h->av);
      h->av[t] = ua - give[a];
      if (!isfinite(sl_knap_mincost(in, &h->kn, a, h->av, 1.0, NULL, need[a], h->nb)))
        ok = 0;
      else
        sl_group_apply(in, s, a, h->nb);
    }
    if (ok && s->cost < before - in->ctol && sl_sol_fits(in, s)) return 1;
    for (int v = 0; v < in->nv; v++) sl_sol_set(in, s, v, saved[v]);
  }
  return 0;
}

static int exchanges(sl_hs_t *h, sl_sol_t *s) {
  sl_inst_t *in = h->in;
  int changed = 0;
  for (int t = 0; t < in->nt; t++) {
    if (in->cap[t] >= SL_INST_BIG) continue;
    // Lumps of several replicas: replacing one large replica elsewhere can take a few small
    // ones here (four 2-GPU replicas for one 4-GPU replica of a dearer type, say).
    int maxk = h->maxk[t], q = 4 * maxk;
    if (maxk > SL_HS_XCHG_MAXQ) continue; // replicas larger than any lump the tables hold
    if (q > SL_HS_XCHG_MAXQ) q = SL_HS_XCHG_MAXQ;
    for (int r = 0; r < XCHG_ROUNDS; r++) {
      if (in->cap[t] - s->use[t] >= maxk) break; // not full: best responses already use it
      sl_hs_set_req(h, s);
      if (in->work >= h->stop || !exchange(h, s, t, q)) break;
      changed = 1;
    }
  }
  return changed;
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

enum { IMP_COST = 1, IMP_FAIR = 2 }; // what the local search works on
static void improve(sl_hs_t *h, int what);

// Keeps h->s in h->best when it beats what is there.
static void keep_best(sl_hs_t *h, int *found) {
  if (!*found || sl_inst_cmp(h->in, &h->s, &h->best) > 0) sl_sol_copy(h->in, &h->best, &h->s);
  *found = 1;
}

// A start for the local search, after a quick polish (best responses only): kept among the
// NSTART best distinct ones, cheapest first.
static void polish(sl_hs_t *h, const sl_sol_t *start, int *found) {
  sl_inst_t *in = h->in;
  sl_sol_copy(in, &h->s, start);
  for (int k = 0; k < 2 && one_opt(h, &h->s); k++) {
  }
  *found = 1;
  int pos = h->nstart;
  for (int i = 0; i < h->nstart; i++) {
    if (!memcmp(h->starts[i].n, h->s.n, (size_t)in->nv * sizeof *h->s.n)) return;
    if (pos == h->nstart && sl_inst_cmp(in, &h->s, &h->starts[i]) > 0) pos = i;
  }
  if (pos >= SL_HS_NSTART) return;
  if (h->nstart < SL_HS_NSTART) h->nstart++;
  for (int i = h->nstart - 1; i > pos; i--) sl_sol_copy(in, &h->starts[i], &h->starts[i - 1]);
  sl_sol_copy(in, &h->starts[pos], &h->s);
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
      polish(h, trial, found); // (h->fu: scratch)
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
        polish(h, trial, &found);
    }
  }
  if (!have_mu) have_mu = lagr_ascent(h, need, 0) > -INFINITY;
  if (have_mu) lagr_int_ascent(h, need, LAGR_START_ITERS(in->ng), INFINITY, trial, &found);
  for (int t = 0; t < in->nt; t++) h->mu3[t] = 0;
  if (sl_build_cover(h, need, h->mu3, trial) == 0) polish(h, trial, &found);
  if (!found) {
    sl_sol_copy(in, &h->s, &h->keep);
    return -1;
  }
  // Descend from the best start, then from the others while the budget lasts.
  found = 0;
  for (int i = 0; i < h->nstart && (i == 0 || h->spent < h->budget); i++) {
    sl_sol_copy(in, &h->s, &h->starts[i]);
    improve(h, IMP_COST);
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

// Ruin and recreate: a few groups sharing a full type give up everything above their minimums
// and come back one by one, in random order, each at its cheapest within what is left. Kept
// when the total cost falls (every group keeps its requirement). Returns 1 if anything changed.
static int ruin_recreate(sl_hs_t *h, int iters) {
  sl_inst_t *in = h->in;
  sl_sol_t *s = &h->s;
  int *tight = h->heap, nt = 0, *set = h->ord, improved = 0;
  sl_hs_set_req(h, s);
  for (int it = 0; it < iters; it++) {
    in->work += (in->ng + in->nv) / 32 + 1; // the scans below, in subproblem-node units
    nt = 0;
    for (int t = 0; t < in->nt; t++) {
      if (in->cap[t] >= SL_INST_BIG) continue;
      if (in->cap[t] - s->use[t] < h->maxk[t]) tight[nt++] = t;
    }
    if (!nt || in->work >= h->stop) return improved;
    int t = tight[sl_hs_rand_below(h, nt)], m = 0;
    int want = 2 + sl_hs_rand_below(h, SL_HS_RR_MAX - 1);
    for (int g = 0; g < in->ng; g++)
      if (sl_group_use_t(in, s, g, t) > 0) set[m++] = g;
    for (int i = m - 1; i > 0; i--) { // shuffle, keep the first `want`
      int j = sl_hs_rand_below(h, i + 1), x = set[i];
      set[i] = set[j];
      set[j] = x;
    }
    if (m > want) m = want;
    if (m < in->ng && sl_hs_rand_below(h, 2)) { // and sometimes one that could use t but does not
      int g = sl_hs_rand_below(h, in->ng), dup = 0;
      for (int i = 0; i < m; i++) dup |= set[i] == g;
      if (!dup && sl_group_has_t(in, g, t)) set[m++] = g;
    }
    if (m < 2) continue;
    double before = s->cost;
    for (int i = 0; i < m; i++)
      for (int v = in->vb[set[i]]; v < in->ve[set[i]]; v++) {
        h->nb2[v] = s->n[v];
        sl_sol_set(in, s, v, in->lo[v]);
      }
    int ok = 1;
    for (int i = 0; i < m && ok; i++) {
      int g = set[i];
      sl_group_avail(in, s, g, h->av);
      if (!isfinite(sl_knap_mincost(in, &h->kn, g, h->av, 1.0, NULL, h->req[g], h->nb)))
        ok = 0;
      else
        sl_group_apply(in, s, g, h->nb);
    }
    if (ok && s->cost < before - in->ctol) {
      improved = 1;
      continue;
    }
    for (int i = 0; i < m; i++) sl_group_apply(in, s, set[i], h->nb2);
  }
  return improved;
}

// Local search until nothing improves or the work budget is spent: best responses, then the
// moves of the stage (IMP_FAIR: transfers to the lowest served and their ruin and recreate;
// IMP_COST: exchanges on full types and cost ruin and recreate), again from the top after any
// success.
static void improve(sl_hs_t *h, int what) {
  sl_inst_t *in = h->in;
  long w0 = in->work;
  h->stop = w0 + (h->budget > h->spent ? h->budget - h->spent : 0);
  while (in->work < h->stop) {
    int changed = 0;
    for (int k = 0; k < IMPROVE_PASS && in->work < h->stop && one_opt(h, &h->s); k++) changed = 1;
    if (what & IMP_FAIR)
      for (int l = 0; l < in->nl; l++)
        for (int k = 0; k < 64 && in->work < h->stop && sl_fairmove_transfer(h, l, h->mu); k++)
          changed = 1;
    if ((what & IMP_COST) && in->work < h->stop) changed |= exchanges(h, &h->s);
    if (changed) continue;
    if (what & IMP_FAIR) {
      int any = 0;
      sl_hs_set_req(h, &h->s);
      for (int l = 0; l < in->nl; l++) any |= sl_fairmove_ruin(h, l, FAIR_RR_ITERS);
      if (any) continue;
    }
    if (!(what & IMP_COST) || !ruin_recreate(h, RR_ITERS)) break;
  }
  h->spent += in->work - w0;
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
      improve(&h, IMP_FAIR);
      double m = level_min(in, &h.s, l);
      if (rep->fair_level < 0 && m < 1 - SL_INST_FEPS) {
        rep->fair_level = l;
        rep->fair_bound = T < m ? m : T; // T is the LP's max-min (the bisection's, if large)
      }
    }
    sl_hs_set_req(&h, &h.s);
    memcpy(need, h.req, (size_t)in->ng * sizeof *need);
  }
  improve(&h, IMP_COST | IMP_FAIR);
  sl_sol_recompute(in, &h.s);
  sl_sol_copy(in, out, &h.s);
  if (rep->fair_level >= 0) rep->fair_min = level_min(in, out, rep->fair_level);
  sl_hs_set_req(&h, out);
  cost_bounds(&h, h.req, out->cost, &rep->lp_bound, &rep->cost_bound);
  return in->oom ? SL_ENOMEM : SL_OK;
}
