// Single-group subproblems of the allocator.
#include "core/alloc/knap.h"

#include <math.h>
#include <string.h>

#define KNAP_NODE_LIMIT 2000000L  // per call; far above what groups of a few variants need

int sl_knap_init(sl_inst_t *in, sl_knap_t *k) {
  memset(k, 0, sizeof *k);
  int mg = 1;
  for (int g = 0; g < in->ng; g++)
    if (in->ve[g] - in->vb[g] > mg) mg = in->ve[g] - in->vb[g];
  k->ord = sl_inst_calloc(in, (size_t)mg, sizeof *k->ord);
  k->x = sl_inst_calloc(in, (size_t)mg, sizeof *k->x);
  k->bx = sl_inst_calloc(in, (size_t)mg, sizeof *k->bx);
  k->ub = sl_inst_calloc(in, (size_t)mg, sizeof *k->ub);
  k->s1 = sl_inst_calloc(in, (size_t)mg, sizeof *k->s1);
  k->p1 = sl_inst_calloc(in, (size_t)mg, sizeof *k->p1);
  k->p2 = sl_inst_calloc(in, (size_t)mg, sizeof *k->p2);
  k->rate = sl_inst_calloc(in, (size_t)mg, sizeof *k->rate);
  k->segp = sl_inst_calloc(in, (size_t)(2 * mg), sizeof *k->segp);
  k->segi = sl_inst_calloc(in, (size_t)(2 * mg), sizeof *k->segi);
  k->avail = sl_inst_calloc(in, (size_t)(in->nt ? in->nt : 1), sizeof *k->avail);
  k->limit = KNAP_NODE_LIMIT;
  return in->oom ? SL_ENOMEM : SL_OK;
}

// --- largest capacity ------------------------------------------------------------------------

typedef struct {
  const sl_inst_t *in;
  const int *vs;  // variants sharing one type, sorted by rate per GPU, best first
  int m;
  double best;
  long nodes;
} pack_t;

static void pack_dfs(pack_t *p, int i, long room, double val) {
  p->nodes++;
  if (val > p->best) p->best = val;
  if (i == p->m || p->nodes > KNAP_NODE_LIMIT) return;
  // Fractional bound: the remaining room at the best remaining rate per GPU.
  const sl_inst_t *in = p->in;
  double bound = val;
  long r = room;
  for (int j = i; j < p->m && r > 0; j++) {
    int v = p->vs[j];
    long take = (long)(in->hi[v] - in->lo[v]) * in->gpus[v];
    if (take > r) {
      bound += in->rate[v] * (double)r / in->gpus[v];
      r = 0;
    } else {
      bound += in->rate[v] * (in->hi[v] - in->lo[v]);
      r -= take;
    }
  }
  if (bound <= p->best + 1e-12 * (1 + p->best)) return;
  int v = p->vs[i];
  long most = room / in->gpus[v];
  if (most > in->hi[v] - in->lo[v]) most = in->hi[v] - in->lo[v];
  for (long x = most; x >= 0; x--) pack_dfs(p, i + 1, room - x * in->gpus[v], val + x * in->rate[v]);
}

double sl_knap_maxcap(sl_inst_t *in, sl_knap_t *k, int g, const long *avail) {
  int vb = in->vb[g], ve = in->ve[g];
  double cap = 0;
  for (int v = vb; v < ve; v++) cap += in->lo[v] * in->rate[v];
  if (!avail) {
    for (int v = vb; v < ve; v++) cap += (in->hi[v] - in->lo[v]) * in->rate[v];
    return cap;
  }
  for (int v = vb; v < ve; v++) k->avail[in->type[v]] = avail[in->type[v]];
  for (int v = vb; v < ve; v++) k->avail[in->type[v]] -= (long)in->lo[v] * in->gpus[v];
  for (int v = vb; v < ve; v++)
    if (k->avail[in->type[v]] < 0) return -1;
  for (int v = vb; v < ve; v++) {
    int t = in->type[v];
    int first = 1, count = 0;
    for (int w = vb; w < ve; w++)
      if (in->type[w] == t) {
        if (w < v) first = 0;
        count++;
      }
    if (!first) continue;
    if (count == 1) {
      long x = k->avail[t] / in->gpus[v];
      if (x > in->hi[v] - in->lo[v]) x = in->hi[v] - in->lo[v];
      cap += x * in->rate[v];
      continue;
    }
    // Several variants of this group share the type (e.g. TP1 and TP2): a bounded knapsack.
    int m = 0;
    for (int w = vb; w < ve; w++)
      if (in->type[w] == t && in->rate[w] > 0) k->ord[m++] = w;
    for (int i = 1; i < m; i++) {  // rate per GPU, best first; ties by canonical index
      int w = k->ord[i], j = i - 1;
      double e = in->rate[w] / in->gpus[w];
      while (j >= 0 && in->rate[k->ord[j]] / in->gpus[k->ord[j]] < e) {
        k->ord[j + 1] = k->ord[j];
        j--;
      }
      k->ord[j + 1] = w;
    }
    pack_t p = {in, k->ord, m, 0, 0};
    pack_dfs(&p, 0, k->avail[t], 0);
    in->work += p.nodes;
    cap += p.best;
  }
  return cap;
}

// --- cheapest cover --------------------------------------------------------------------------

// Lower bound on the cost of covering rem with items ord[i..]: the LP relaxation, a fractional
// knapsack over price segments (each item capped by what its own type still has free).
static double frac_bound(const sl_inst_t *in, sl_knap_t *k, int i, double rem) {
  double c = 0;
  for (int s = 0; s < k->nseg && rem > k->tol; s++) {
    int it = k->segi[s] >> 1, which = k->segi[s] & 1;
    if (it < i) continue;  // items are decided in order: it < i is fixed
    int v = k->ord[it];
    long dyn = k->avail[in->type[v]] / in->gpus[v];
    if (dyn > k->ub[it]) dyn = k->ub[it];
    long cnt = which == 0 ? (k->s1[it] < dyn ? k->s1[it] : dyn) : dyn - (k->s1[it] < dyn ? k->s1[it] : dyn);
    if (cnt <= 0) continue;
    double r = k->rate[it], p = which == 0 ? k->p1[it] : k->p2[it];
    if (cnt * r >= rem) {
      c += p * rem / r;
      rem = 0;
    } else {
      c += p * cnt;
      rem -= cnt * r;
    }
  }
  return rem > k->tol ? INFINITY : c;
}

static double item_cost(const sl_knap_t *k, int it, int x) {
  int a = x < k->s1[it] ? x : k->s1[it];
  return a * k->p1[it] + (x - a) * k->p2[it];
}

static void cover_dfs(const sl_inst_t *in, sl_knap_t *k, int i, double rem, double cost) {
  if (++k->nodes > k->limit) return;
  if (rem <= k->tol) {
    if (cost < k->best) {
      k->best = cost;
      memcpy(k->bx, k->x, (size_t)k->m * sizeof *k->x);
    }
    return;
  }
  if (i == k->m) return;
  double lb = cost + frac_bound(in, k, i, rem);
  if (isfinite(k->best) ? !(lb < k->best - 1e-12 * (1.0 + fabs(k->best))) : !isfinite(lb)) return;
  int v = k->ord[i];
  int t = in->type[v];
  long most = k->avail[t] / in->gpus[v];
  if (most > k->ub[i]) most = k->ub[i];
  double r = k->rate[i];
  long needx = (long)ceil((rem - k->tol) / r);
  if (needx < 0) needx = 0;
  if (most > needx) most = needx;
  for (long x = most; x >= 0; x--) {
    k->x[i] = (int)x;
    k->avail[t] -= x * in->gpus[v];
    cover_dfs(in, k, i + 1, rem - x * r, cost + item_cost(k, i, (int)x));
    k->avail[t] += x * in->gpus[v];
    if (k->nodes > k->limit) break;
  }
  k->x[i] = 0;
}

double sl_knap_mincost_from(sl_inst_t *in, sl_knap_t *k, int g, const long *avail, double money,
                            const double *mu, double need, const int *bn, int *n) {
#define lo_(v) (bn ? bn[v] : in->lo[v])
  int vb = in->vb[g], ve = in->ve[g];
  double base = 0, have = 0;
  for (int v = vb; v < ve; v++) {
    n[v] = lo_(v);
    base += money * sl_inst_vcost(in, v, lo_(v)) +
            (mu ? mu[in->type[v]] * in->gpus[v] * lo_(v) : 0);
    have += lo_(v) * in->rate[v];
    k->avail[in->type[v]] = avail ? avail[in->type[v]] : SL_INST_BIG;
  }
  for (int v = vb; v < ve; v++) k->avail[in->type[v]] -= (long)lo_(v) * in->gpus[v];
  for (int v = vb; v < ve; v++)
    if (k->avail[in->type[v]] < 0) return INFINITY;
  k->exact = 1;
  k->tol = 1e-9 * (1.0 + need);
  double rem = need - have;
  if (rem <= k->tol) return base;

  // Items: variants that add capacity, with their two price segments (below and above the
  // current count: removing a current replica saves less than adding a new one costs).
  int m = 0;
  for (int v = vb; v < ve; v++) {
    if (in->rate[v] <= 0 || in->hi[v] <= lo_(v)) continue;
    double c = money * in->cost[v], gp = mu ? mu[in->type[v]] * in->gpus[v] : 0;
    k->ord[m] = v;
    k->ub[m] = in->hi[v] - lo_(v);
    int s1 = in->cur[v] - lo_(v);
    k->s1[m] = s1 < 0 ? 0 : s1 > k->ub[m] ? k->ub[m] : s1;
    k->p1[m] = c * (1 - in->lambda) + gp;
    k->p2[m] = c * (1 + in->lambda) + gp;
    k->rate[m] = in->rate[v];
    m++;
  }
  // Search cheapest per req/s first (first segment's price); ties by canonical index.
  for (int i = 1; i < m; i++) {
    int v = k->ord[i], ub = k->ub[i], s1 = k->s1[i];
    double p1 = k->p1[i], p2 = k->p2[i], r = k->rate[i];
    double e = (s1 > 0 ? p1 : p2) / r;
    int j = i - 1;
    while (j >= 0 && (k->s1[j] > 0 ? k->p1[j] : k->p2[j]) / k->rate[j] > e) {
      k->ord[j + 1] = k->ord[j];
      k->ub[j + 1] = k->ub[j];
      k->s1[j + 1] = k->s1[j];
      k->p1[j + 1] = k->p1[j];
      k->p2[j + 1] = k->p2[j];
      k->rate[j + 1] = k->rate[j];
      j--;
    }
    k->ord[j + 1] = v;
    k->ub[j + 1] = ub;
    k->s1[j + 1] = s1;
    k->p1[j + 1] = p1;
    k->p2[j + 1] = p2;
    k->rate[j + 1] = r;
  }
  k->m = m;
  // Segments for the bound, by price per req/s.
  int ns = 0;
  for (int i = 0; i < m; i++) {
    if (k->s1[i] > 0) {
      k->segp[ns] = k->p1[i] / k->rate[i];
      k->segi[ns++] = i << 1;
    }
    if (k->ub[i] > k->s1[i]) {
      k->segp[ns] = k->p2[i] / k->rate[i];
      k->segi[ns++] = (i << 1) | 1;
    }
  }
  for (int i = 1; i < ns; i++) {
    double p = k->segp[i];
    int si = k->segi[i], j = i - 1;
    while (j >= 0 && k->segp[j] > p) {
      k->segp[j + 1] = k->segp[j];
      k->segi[j + 1] = k->segi[j];
      j--;
    }
    k->segp[j + 1] = p;
    k->segi[j + 1] = si;
  }
  k->nseg = ns;
  memset(k->x, 0, (size_t)m * sizeof *k->x);
  k->best = INFINITY;
  k->nodes = 0;
  cover_dfs(in, k, 0, rem, 0);
  in->work += k->nodes;
  if (k->nodes > k->limit) k->exact = 0;
  if (!isfinite(k->best)) return INFINITY;
  for (int i = 0; i < m; i++) n[k->ord[i]] = lo_(k->ord[i]) + k->bx[i];
  return base + k->best;
}
#undef lo_

double sl_knap_mincost(sl_inst_t *in, sl_knap_t *k, int g, const long *avail, double money,
                       const double *mu, double need, int *n) {
  return sl_knap_mincost_from(in, k, g, avail, money, mu, need, NULL, n);
}

double sl_knap_frac(sl_inst_t *in, sl_knap_t *k, int g, double money, const double *mu,
                    double need, double *use) {
  int vb = in->vb[g], ve = in->ve[g];
  double cost = 0, rem = need;
  for (int v = vb; v < ve; v++) {
    double gp = mu ? mu[in->type[v]] * in->gpus[v] : 0;
    cost += money * sl_inst_vcost(in, v, in->lo[v]) + gp * in->lo[v];
    rem -= in->lo[v] * in->rate[v];
    if (use) use[in->type[v]] += (double)in->lo[v] * in->gpus[v];
  }
  if (rem <= 1e-12 * (1 + need)) return cost;
  int ns = 0;
  for (int v = vb; v < ve; v++) {
    if (in->rate[v] <= 0 || in->hi[v] <= in->lo[v]) continue;
    double c = money * in->cost[v], gp = mu ? mu[in->type[v]] * in->gpus[v] : 0;
    int ub = in->hi[v] - in->lo[v], s1 = in->cur[v] - in->lo[v];
    s1 = s1 < 0 ? 0 : s1 > ub ? ub : s1;
    if (s1 > 0) {
      k->segp[ns] = (c * (1 - in->lambda) + gp) / in->rate[v];
      k->segi[ns++] = ((v - vb) << 1);
    }
    if (ub > s1) {
      k->segp[ns] = (c * (1 + in->lambda) + gp) / in->rate[v];
      k->segi[ns++] = ((v - vb) << 1) | 1;
    }
  }
  for (int i = 1; i < ns; i++) {
    double p = k->segp[i];
    int si = k->segi[i], j = i - 1;
    while (j >= 0 && k->segp[j] > p) {
      k->segp[j + 1] = k->segp[j];
      k->segi[j + 1] = k->segi[j];
      j--;
    }
    k->segp[j + 1] = p;
    k->segi[j + 1] = si;
  }
  for (int s = 0; s < ns && rem > 0; s++) {
    int v = vb + (k->segi[s] >> 1), which = k->segi[s] & 1;
    int ub = in->hi[v] - in->lo[v], s1 = in->cur[v] - in->lo[v];
    s1 = s1 < 0 ? 0 : s1 > ub ? ub : s1;
    double cnt = which == 0 ? s1 : ub - s1;
    double r = in->rate[v], x = cnt;
    if (cnt * r > rem) x = rem / r;
    cost += x * r * k->segp[s];
    rem -= x * r;
    if (use) use[in->type[v]] += x * in->gpus[v];
  }
  return rem > 1e-9 * (1 + need) ? INFINITY : cost;
}
