#include "core/alloc/build.h"

#include <math.h>
#include <string.h>

#include "core/alloc/group.h"
#include "core/alloc/knap.h"

// Raises group g to need[g] by taking GPUs from groups already placed: for each variant of g
// (cheapest at prices mu first) whose type is full, donors holding that type give up what they
// can while still reaching their own need (moving to free GPUs of other types), most spare
// capacity first. Returns 0 once g reaches need[g], -1 when no variant can be made room for.
#define ROOM_DONORS 64
static int make_room(sl_hs_t *h, const double *need, const double *mu, double money, sl_sol_t *s,
                     int g) {
  sl_inst_t *in = h->in;
  int *donor = h->heap, *saved = h->nb2;
  double tol = 1e-9 * (1 + need[g]);
  for (int step = 0; step < 256 && s->capg[g] < need[g] - tol; step++) {
    int progress = 0;
    for (int pass = 0; pass < 2 && !progress; pass++) { // pass 0: best price; 1: any
      int vbest = -1;
      double pb = INFINITY;
      for (int v = in->vb[g]; v < in->ve[g]; v++) {
        if (in->rate[v] <= 0 || s->n[v] >= in->hi[v]) continue;
        double p = (mu ? mu[in->type[v]] : 0) * in->gpus[v] / in->rate[v];
        if (pass == 0 ? p < pb : vbest < 0) {
          pb = p;
          vbest = v;
        }
      }
      for (int v = pass ? in->vb[g] : vbest; v >= 0 && v < in->ve[g] && !progress;
           v = pass ? v + 1 : -1) {
        if (in->rate[v] <= 0 || s->n[v] >= in->hi[v]) continue;
        int t = in->type[v];
        long shortby = in->gpus[v] - (in->cap[t] - s->use[t]);
        if (shortby > 0) {
          // Donors: holders of t other than g, most spare capacity (relative) first.
          int nd = 0;
          for (int d = 0; d < in->ng && nd < ROOM_DONORS; d++) {
            if (d == g || !sl_group_use_t(in, s, d, t)) continue;
            double spare = (s->capg[d] - need[d]) / (need[d] > 0 ? need[d] : 1);
            int j = nd++;
            h->key[d] = spare;
            while (j > 0 && h->key[donor[j - 1]] < spare) {
              donor[j] = donor[j - 1];
              j--;
            }
            donor[j] = d;
          }
          memcpy(saved, s->n, (size_t)in->nv * sizeof *saved);
          for (int k = 0; k < nd && shortby > 0; k++) {
            int d = donor[k];
            long ut = sl_group_use_t(in, s, d, t);
            long q = ut < shortby ? ut : shortby;
            for (; q >= 1; q--) {
              sl_group_avail(in, s, d, h->av);
              h->av[t] = ut - q;
              if (isfinite(sl_knap_mincost(in, &h->kn, d, h->av, money, mu, need[d], h->nb))) break;
            }
            if (q < 1) continue;
            sl_group_apply(in, s, d, h->nb);
            shortby = in->gpus[v] - (in->cap[t] - s->use[t]);
          }
          if (shortby > 0) { // not enough: undo
            for (int w = 0; w < in->nv; w++) sl_sol_set(in, s, w, saved[w]);
            continue;
          }
        }
        sl_sol_set(in, s, v, s->n[v] + 1);
        progress = 1;
      }
    }
    if (!progress) return -1;
  }
  return s->capg[g] >= need[g] - tol ? 0 : -1;
}

int sl_build_cover_w(sl_hs_t *h, const double *need, const double *mu, double money, sl_sol_t *s) {
  sl_inst_t *in = h->in;
  for (int t = 0; t < in->nt; t++) h->fu[t] = mu[t] > 0 ? SL_HS_BAN_PRICE : 0;
  for (int g = 0; g < in->ng; g++) {
    h->ord[g] = g;
    if (money == 0) {
      // Fairness targets: the groups with the least room to spare (most capacity they could
      // have in the whole inventory, against their target) go first.
      double mc = sl_knap_maxcap(in, &h->kn, g, in->cap);
      h->key[g] = need[g] > 0 ? (mc - need[g]) / need[g] : INFINITY;
      h->key[g] = -h->key[g]; // sorted descending below
      continue;
    }
    double a = sl_knap_frac(in, &h->kn, g, money, mu, need[g], NULL);
    double b = sl_knap_frac(in, &h->kn, g, money, h->fu, need[g], NULL);
    h->key[g] = isfinite(a) && isfinite(b) ? b - a : INFINITY;
  }
  for (int i = 1; i < in->ng; i++) { // level asc, key desc, index asc (insertion: stable)
    int g = h->ord[i], j = i - 1;
    while (j >= 0) {
      int o = h->ord[j];
      if (in->lvl[o] < in->lvl[g] || (in->lvl[o] == in->lvl[g] && h->key[o] >= h->key[g])) break;
      h->ord[j + 1] = o;
      j--;
    }
    h->ord[j + 1] = g;
  }
  for (int i = 0; i < in->ng; i++) {
    int g = h->ord[i];
    if (s->capg[g] >= need[g] - 1e-9 * (1 + need[g])) continue;
    sl_group_avail(in, s, g, h->av);
    double c = sl_knap_mincost_from(in, &h->kn, g, h->av, money, mu, need[g], s->n, h->nb);
    if (isfinite(c)) {
      sl_group_apply(in, s, g, h->nb);
      continue;
    }
    // It does not fit: take what does, then make room with donors.
    double cap = sl_hs_best_response(h, g, h->av, h->nb);
    if (cap > s->capg[g]) sl_group_apply(in, s, g, h->nb);
    if (make_room(h, need, mu, money, s, g) != 0) return -1;
  }
  return 0;
}

int sl_build_cover_from(sl_hs_t *h, const double *need, const double *mu, sl_sol_t *s) {
  return sl_build_cover_w(h, need, mu, 1.0, s);
}

int sl_build_cover(sl_hs_t *h, const double *need, const double *mu, sl_sol_t *s) {
  for (int v = 0; v < h->in->nv; v++) s->n[v] = h->in->lo[v];
  sl_sol_recompute(h->in, s);
  return sl_build_cover_from(h, need, mu, s);
}

// Scarcity score of one more replica of v: GPU price per req/s (then money per req/s).
static int better_variant(const sl_inst_t *in, const double *mu, int a, int b) {
  if (b < 0) return 1;
  double sa = mu[in->type[a]] * in->gpus[a] / in->rate[a];
  double sb = mu[in->type[b]] * in->gpus[b] / in->rate[b];
  if (sa < sb * (1 - 1e-9)) return 1;
  if (sb < sa * (1 - 1e-9)) return 0;
  return in->cost[a] / in->rate[a] < in->cost[b] / in->rate[b];
}

static void heap_push(sl_hs_t *h, int *n, int g) {
  int i = (*n)++;
  while (i > 0) {
    int p = (i - 1) / 2;
    if (!sl_group_less(h->in, &h->s, g, h->heap[p])) break;
    h->heap[i] = h->heap[p];
    i = p;
  }
  h->heap[i] = g;
}

static int heap_pop(sl_hs_t *h, int *n) {
  int top = h->heap[0], last = h->heap[--(*n)], i = 0;
  for (;;) {
    int c = 2 * i + 1;
    if (c >= *n) break;
    if (c + 1 < *n && sl_group_less(h->in, &h->s, h->heap[c + 1], h->heap[c])) c++;
    if (!sl_group_less(h->in, &h->s, h->heap[c], last)) break;
    h->heap[i] = h->heap[c];
    i = c;
  }
  if (*n) h->heap[i] = last;
  return top;
}

void sl_build_fill(sl_hs_t *h, int l, const double *mu) {
  sl_inst_t *in = h->in;
  sl_sol_t *s = &h->s;
  int n = 0;
  for (int g = 0; g < in->ng; g++)
    if (in->lvl[g] == l && sl_inst_frac(in, g, s->capg[g]) < 1 - SL_INST_FEPS) heap_push(h, &n, g);
  while (n) {
    int g = heap_pop(h, &n), best = -1;
    for (int v = in->vb[g]; v < in->ve[g]; v++) {
      if (in->rate[v] <= 0 || s->n[v] >= in->hi[v]) continue;
      if (in->cap[in->type[v]] - s->use[in->type[v]] < in->gpus[v]) continue;
      if (better_variant(in, mu, v, best)) best = v;
    }
    if (best < 0) continue;
    sl_sol_set(in, s, best, s->n[best] + 1);
    if (sl_inst_frac(in, g, s->capg[g]) < 1 - SL_INST_FEPS) heap_push(h, &n, g);
  }
}
