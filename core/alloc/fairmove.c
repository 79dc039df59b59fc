#include "core/alloc/fairmove.h"

#include <math.h>
#include <string.h>

#include "core/alloc/group.h"
#include "core/alloc/knap.h"

// What donor d can answer when it must hold q fewer GPUs of type t: a higher level must keep
// its requirement (cheapest way), a group of level l its best response. Writes nb; returns the
// new capacity, or -1.
static double donor_response(sl_hs_t *h, int d, int t, long q, int l) {
  sl_inst_t *in = h->in;
  long ut = sl_group_use_t(in, &h->s, d, t);
  sl_group_avail(in, &h->s, d, h->av);
  h->av[t] = ut - q;
  if (in->lvl[d] < l) {
    double c = sl_knap_mincost(in, &h->kn, d, h->av, 1.0, NULL, h->req[d], h->nb);
    return isfinite(c) ? sl_group_capof(in, d, h->nb) : -1;
  }
  return sl_hs_best_response(h, d, h->av, h->nb);
}

#define FAIR_LOWEST 4  // receivers tried per call: the lowest served of the level
#define FAIR_DONORS 16 // holders considered per receiver, best served first
int sl_fairmove_transfer(sl_hs_t *h, int l, const double *mu) {
  sl_inst_t *in = h->in;
  sl_sol_t *s = &h->s;
  int m = 0;
  for (int g = 0; g < in->ng; g++)
    if (in->lvl[g] == l && sl_inst_frac(in, g, s->capg[g]) < 1 - SL_INST_FEPS) h->ord[m++] = g;
  for (int i = 1; i < m; i++) {
    int g = h->ord[i], j = i - 1;
    while (j >= 0 && sl_group_less(in, s, g, h->ord[j])) {
      h->ord[j + 1] = h->ord[j];
      j--;
    }
    h->ord[j + 1] = g;
  }
  int *donor = h->heap, *give = h->xpick;
  int *set = h->xextra; // groups whose capacity changes
  double *oldc = h->xgain, *newc = h->xloss;
  in->work += (in->ng + in->nv) / 32 + 1;
  for (int i = 0; i < m && i < FAIR_LOWEST; i++) {
    int g = h->ord[i];
    double sg = sl_inst_frac(in, g, s->capg[g]);
    in->work += (in->ng + in->nv) / 32;
    for (int v = in->vb[g]; v < in->ve[g]; v++) {
      if (in->rate[v] <= 0 || s->n[v] >= in->hi[v]) continue;
      int t = in->type[v];
      long shortby = in->gpus[v] - (in->cap[t] - s->use[t]);
      if (shortby <= 0) { // room appeared: take it
        sl_sol_set(in, s, v, s->n[v] + 1);
        return 1;
      }
      // Candidates: holders of t of level l or higher priority, best served first.
      int nd = 0;
      for (int d = 0; d < in->ng; d++) {
        if (d == g || in->lvl[d] > l || !sl_group_use_t(in, s, d, t)) continue;
        int j = nd < FAIR_DONORS ? nd++ : FAIR_DONORS - 1;
        if (j == FAIR_DONORS - 1 && nd == FAIR_DONORS && sl_group_less(in, s, d, donor[j]))
          continue;
        while (j > 0 && sl_group_less(in, s, donor[j - 1], d)) {
          donor[j] = donor[j - 1];
          j--;
        }
        donor[j] = d;
      }
      long got = 0;
      for (int k = 0; k < nd; k++) give[donor[k]] = 0;
      for (int k = 0; k < nd && got < shortby; k++) {
        int d = donor[k];
        long most = sl_group_use_t(in, s, d, t);
        if (most > shortby - got) most = shortby - got;
        for (long q = most; q >= 1; q--) {
          double cap = donor_response(h, d, t, q, l);
          if (cap < 0) continue;
          if (in->lvl[d] == l && !(sl_inst_frac(in, d, cap) > sg + SL_INST_FEPS)) continue;
          give[d] = (int)q;
          got += q;
          break;
        }
      }
      if (got < shortby) continue;
      // Apply: donors answer in turn with what is really left, then the receiver's replica.
      int *saved = h->nb2;
      memcpy(saved, s->n, (size_t)in->nv * sizeof *saved);
      double before = s->cost;
      int ns = 0, ok = 1;
      set[ns] = g;
      oldc[ns++] = s->capg[g];
      for (int k = 0; k < nd && ok; k++) {
        int d = donor[k];
        if (!give[d]) continue;
        set[ns] = d;
        oldc[ns++] = s->capg[d];
        if (donor_response(h, d, t, give[d], l) < 0)
          ok = 0;
        else
          sl_group_apply(in, s, d, h->nb);
        give[d] = 0;
      }
      for (int k = 0; k < nd; k++) give[donor[k]] = 0;
      if (ok && in->cap[t] - s->use[t] >= in->gpus[v]) {
        sl_sol_set(in, s, v, s->n[v] + 1);
        for (int k = 0; k < ns; k++) newc[k] = s->capg[set[k]];
        if (sl_sol_fits(in, s) && sl_inst_cmp_delta(in, ns, set, oldc, newc, s->cost - before) > 0)
          return 1;
      }
      for (int w = 0; w < in->nv; w++) sl_sol_set(in, s, w, saved[w]);
    }
  }
  return 0;
}

int sl_fairmove_ruin(sl_hs_t *h, int l, int iters) {
  sl_inst_t *in = h->in;
  sl_sol_t *s = &h->s;
  int *set = h->ord, *low = h->heap, improved = 0;
  double *oldc = h->xgain, *newc = h->xloss;
  for (int it = 0; it < iters && in->work < h->stop; it++) {
    in->work += (in->ng + in->nv) / 4 + 1; // the scans below, in subproblem-node units
    // The (up to) four lowest served groups of the level, in one pass.
    int nlow = 0;
    double lowf[4];
    for (int g = 0; g < in->ng; g++) {
      if (in->lvl[g] != l) continue;
      double f = sl_inst_frac(in, g, s->capg[g]);
      if (f >= 1 - SL_INST_FEPS || (nlow == 4 && f >= lowf[3])) continue;
      int j = nlow < 4 ? nlow++ : 3;
      while (j > 0 && lowf[j - 1] > f) {
        lowf[j] = lowf[j - 1];
        low[j] = low[j - 1];
        j--;
      }
      lowf[j] = f;
      low[j] = g;
    }
    if (!nlow) return improved;
    int pickn = nlow;
    int g0 = low[sl_hs_rand_below(h, pickn)];
    int nv0 = 0, vs[64];
    for (int v = in->vb[g0]; v < in->ve[g0] && nv0 < 64; v++)
      if (in->rate[v] > 0 && s->n[v] < in->hi[v]) vs[nv0++] = v;
    if (!nv0) continue;
    int t = in->type[vs[sl_hs_rand_below(h, nv0)]], m = 0;
    set[m++] = g0;
    for (int g = 0; g < in->ng; g++)
      if (g != g0 && in->lvl[g] <= l && sl_group_use_t(in, s, g, t) > 0) set[m++] = g;
    for (int i = m - 1; i > 1; i--) { // shuffle the holders, keep a few
      int j = 1 + sl_hs_rand_below(h, i), x = set[i];
      set[i] = set[j];
      set[j] = x;
    }
    int want = 2 + sl_hs_rand_below(h, SL_HS_RR_MAX);
    if (m > want) m = want;
    if (m < 2) continue;
    // Chains: sometimes also holders of a second type that one of the ruined holders can use.
    if (sl_hs_rand_below(h, 2)) {
      int hg = set[1 + sl_hs_rand_below(h, m - 1)], nv1 = 0;
      for (int v = in->vb[hg]; v < in->ve[hg] && nv1 < 64; v++)
        if (in->rate[v] > 0 && in->type[v] != t) vs[nv1++] = v;
      if (nv1) {
        int t2 = in->type[vs[sl_hs_rand_below(h, nv1)]], extra = 0,
            lim = 1 + sl_hs_rand_below(h, SL_HS_RR_MAX);
        for (int g = 0; g < in->ng && extra < lim; g++) {
          if (in->lvl[g] > l || !sl_group_use_t(in, s, g, t2) || sl_hs_rand_below(h, 2)) continue;
          int dup = 0;
          for (int i = 0; i < m; i++) dup |= set[i] == g;
          if (!dup) {
            set[m++] = g;
            extra++;
          }
        }
      }
    }
    double before = s->cost;
    for (int i = 0; i < m; i++) {
      h->key[set[i]] = 0;
      oldc[i] = s->capg[set[i]];
      for (int v = in->vb[set[i]]; v < in->ve[set[i]]; v++) {
        h->nb2[v] = s->n[v];
        sl_sol_set(in, s, v, in->lo[v]);
      }
    }
    int ok = 1;
    for (int i = 0; i < m && ok; i++) { // higher levels first, at their cheapest
      int g = set[i];
      if (in->lvl[g] >= l) continue;
      sl_group_avail(in, s, g, h->av);
      if (!isfinite(sl_knap_mincost(in, &h->kn, g, h->av, 1.0, NULL, h->req[g], h->nb)))
        ok = 0;
      else
        sl_group_apply(in, s, g, h->nb);
    }
    while (ok) { // progressive filling of the level's groups in the set
      int g = -1;
      for (int i = 0; i < m; i++) {
        int c = set[i];
        if (in->lvl[c] != l || h->key[c] < 0) continue;
        if (sl_inst_frac(in, c, s->capg[c]) >= 1 - SL_INST_FEPS) continue;
        if (g < 0 || sl_group_less(in, s, c, g)) g = c;
      }
      if (g < 0) break;
      int best = -1;
      double bs = 0;
      for (int v = in->vb[g]; v < in->ve[g]; v++) {
        int tv = in->type[v];
        if (in->rate[v] <= 0 || s->n[v] >= in->hi[v] || in->cap[tv] - s->use[tv] < in->gpus[v])
          continue;
        double sc = (1e-12 + h->mu[tv]) * in->gpus[v] / in->rate[v] *
                    (1 + 0.5 * (double)(sl_hs_rand(h) >> 11) / 9007199254740992.0);
        if (best < 0 || sc < bs) {
          best = v;
          bs = sc;
        }
      }
      if (best < 0) {
        h->key[g] = -1; // stuck
        continue;
      }
      sl_sol_set(in, s, best, s->n[best] + 1);
    }
    for (int i = 0; i < m; i++) {
      h->key[set[i]] = 0;
      newc[i] = s->capg[set[i]];
    }
    if (ok && sl_inst_cmp_delta(in, m, set, oldc, newc, s->cost - before) > 0) {
      improved = 1;
      continue;
    }
    for (int i = 0; i < m; i++) sl_group_apply(in, s, set[i], h->nb2);
  }
  return improved;
}
