#include "core/alloc/search.h"

#include <math.h>
#include <string.h>

#include "core/alloc/fairmove.h"
#include "core/alloc/group.h"
#include "core/alloc/knap.h"

#define IMPROVE_PASS  30  // best-response passes in a row (each stops when nothing improves)
#define XCHG_ROUNDS   40  // accepted exchanges per type in a row
#define RR_ITERS      300 // ruin-and-recreate attempts per round (cost)
#define FAIR_RR_ITERS 100 // ... (fairness)

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

void sl_search_polish(sl_hs_t *h, const sl_sol_t *start, int *found) {
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

void sl_search_improve(sl_hs_t *h, int what) {
  sl_inst_t *in = h->in;
  long w0 = in->work;
  h->stop = w0 + (h->budget > h->spent ? h->budget - h->spent : 0);
  while (in->work < h->stop) {
    int changed = 0;
    for (int k = 0; k < IMPROVE_PASS && in->work < h->stop && one_opt(h, &h->s); k++) changed = 1;
    if (what & SL_SEARCH_FAIR)
      for (int l = 0; l < in->nl; l++)
        for (int k = 0; k < 64 && in->work < h->stop && sl_fairmove_transfer(h, l, h->mu); k++)
          changed = 1;
    if ((what & SL_SEARCH_COST) && in->work < h->stop) changed |= exchanges(h, &h->s);
    if (changed) continue;
    if (what & SL_SEARCH_FAIR) {
      int any = 0;
      sl_hs_set_req(h, &h->s);
      for (int l = 0; l < in->nl; l++) any |= sl_fairmove_ruin(h, l, FAIR_RR_ITERS);
      if (any) continue;
    }
    if (!(what & SL_SEARCH_COST) || !ruin_recreate(h, RR_ITERS)) break;
  }
  h->spent += in->work - w0;
}
