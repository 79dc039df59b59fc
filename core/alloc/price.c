#include "core/alloc/price.h"

#include <math.h>
#include <string.h>

#include "core/alloc/build.h"
#include "core/alloc/knap.h"
#include "core/alloc/search.h"

#define LAGR_ITERS 160 // subgradient steps on the GPU prices (instances too large for the LP)
#define FAIR_ITERS 40  // multiplicative-weight steps on the fairness prices (likewise)

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

double sl_price_lagr(sl_hs_t *h, const double *need, double ub) {
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

double sl_price_fair(sl_hs_t *h, int l, const double *need) {
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

double sl_price_lagr_int(sl_hs_t *h, const double *need, int iters, double ub0, sl_sol_t *trial,
                         int *found) {
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
