// Reference pieces for the allocator tests, written independently of core/alloc: the objective
// as docs/allocator.md defines it, feasibility, exhaustive search, and small random instances.
#pragma once

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc/alloc.h"
#include "core/alloc/allocgen.h"

#define REF_MAXG 8
#define REF_MAXV 32
#define REF_MAXT 4

typedef struct {
  sl_alloc_problem_t p;
  sl_alloc_group_t g[REF_MAXG];
  sl_alloc_variant_t v[REF_MAXV];
  sl_alloc_type_t t[REF_MAXT];
  char names[REF_MAXG + REF_MAXV + REF_MAXT][16];
} ref_inst_t;

// The objective of one allocation: per priority level (highest first) the sorted served
// fractions and the served req/s, then the cost with the transition penalty.
typedef struct {
  int nl;
  int prio[REF_MAXG];
  int cnt[REF_MAXG];
  double frac[REF_MAXG][REF_MAXG];  // [level][i], ascending
  double served[REF_MAXG];
  double dem[REF_MAXG];
  double cost;
  double maxc;
} ref_key_t;

static inline double ref_vcost(const sl_alloc_variant_t *v, int n, double pen) {
  return v->cost * n + pen * v->cost * abs(n - v->current);
}

static inline void ref_key(const sl_alloc_problem_t *p, const int *n, double pen, ref_key_t *k) {
  memset(k, 0, sizeof *k);
  for (int g = 0; g < p->ngroups; g++) {
    int pr = p->groups[g].priority, l = 0;
    while (l < k->nl && k->prio[l] != pr) l++;
    if (l == k->nl) k->prio[k->nl++] = pr;
  }
  for (int a = 0; a < k->nl; a++)  // priorities descending
    for (int b = a + 1; b < k->nl; b++)
      if (k->prio[b] > k->prio[a]) {
        int x = k->prio[a];
        k->prio[a] = k->prio[b];
        k->prio[b] = x;
      }
  for (int g = 0; g < p->ngroups; g++) {
    double cap = 0;
    for (int i = 0; i < p->nvariants; i++)
      if (p->variants[i].group == g) cap += n[i] * p->variants[i].max_rate;
    double d = p->groups[g].demand, f = d > 0 ? fmin(1.0, cap / d) : 1.0;
    int l = 0;
    while (k->prio[l] != p->groups[g].priority) l++;
    int c = k->cnt[l]++;
    k->frac[l][c] = f;
    for (int j = c; j > 0 && k->frac[l][j - 1] > k->frac[l][j]; j--) {
      double x = k->frac[l][j];
      k->frac[l][j] = k->frac[l][j - 1];
      k->frac[l][j - 1] = x;
    }
    k->served[l] += fmin(d, cap);
    k->dem[l] += d;
  }
  for (int i = 0; i < p->nvariants; i++) {
    k->cost += ref_vcost(&p->variants[i], n[i], pen);
    k->maxc = fmax(k->maxc, p->variants[i].cost);
  }
}

// > 0 when a is better than b (tolerances as documented).
static inline int ref_cmp(const ref_key_t *a, const ref_key_t *b) {
  for (int l = 0; l < a->nl; l++) {
    for (int i = 0; i < a->cnt[l]; i++) {
      double d = a->frac[l][i] - b->frac[l][i];
      if (d > 1e-9) return 1;
      if (d < -1e-9) return -1;
    }
    double d = a->served[l] - b->served[l], tol = 1e-9 * (1 + a->dem[l]);
    if (d > tol) return 1;
    if (d < -tol) return -1;
  }
  double tol = 1e-7 * (1 + a->maxc);
  if (a->cost < b->cost - tol) return 1;
  if (a->cost > b->cost + tol) return -1;
  return 0;
}

// Replicas within [min, max] and, past what the minimums alone force, within the inventory.
static inline int ref_feasible(const sl_alloc_problem_t *p, const int *n) {
  for (int i = 0; i < p->nvariants; i++)
    if (n[i] < p->variants[i].min || n[i] > p->variants[i].max) return 0;
  for (int t = 0; t < p->ntypes; t++) {
    if (p->types[t].gpus < 0) continue;
    long use = 0, mins = 0;
    for (int i = 0; i < p->nvariants; i++)
      if (p->variants[i].type == t) {
        use += (long)n[i] * p->variants[i].gpus;
        mins += (long)p->variants[i].min * p->variants[i].gpus;
      }
    long cap = p->types[t].gpus > mins ? p->types[t].gpus : mins;
    if (use > cap) return 0;
  }
  return 1;
}

typedef struct {
  const sl_alloc_problem_t *p;
  double pen;
  int n[REF_MAXV];
  int best[REF_MAXV];
  ref_key_t bk;
  int found;
  long use[REF_MAXT], cap[REF_MAXT];
  long evals;
} ref_bf_t;

static inline void ref_bf_rec(ref_bf_t *b, int i) {
  const sl_alloc_problem_t *p = b->p;
  if (i == p->nvariants) {
    ref_key_t k;
    ref_key(p, b->n, b->pen, &k);
    b->evals++;
    if (!b->found || ref_cmp(&k, &b->bk) > 0) {
      b->bk = k;
      memcpy(b->best, b->n, sizeof b->n);
      b->found = 1;
    }
    return;
  }
  const sl_alloc_variant_t *v = &p->variants[i];
  for (int x = v->min; x <= v->max; x++) {
    long add = (long)(x - v->min) * v->gpus;  // the minimums are counted up front
    if (b->use[v->type] + add > b->cap[v->type]) break;
    b->n[i] = x;
    b->use[v->type] += add;
    ref_bf_rec(b, i + 1);
    b->use[v->type] -= add;
  }
}

// Exhaustive search: every allocation within min/max and inventory, best by ref_cmp.
static inline void ref_bruteforce(const sl_alloc_problem_t *p, double pen, ref_bf_t *b) {
  memset(b, 0, sizeof *b);
  b->p = p;
  b->pen = pen;
  for (int t = 0; t < p->ntypes; t++) {
    long mins = 0;
    for (int i = 0; i < p->nvariants; i++)
      if (p->variants[i].type == t) mins += (long)p->variants[i].min * p->variants[i].gpus;
    long inv = p->types[t].gpus < 0 ? 1L << 40 : p->types[t].gpus;
    b->cap[t] = inv > mins ? inv : mins;
    b->use[t] = mins;
  }
  ref_bf_rec(b, 0);
}

static inline int ref_below(sl_allocgen_rng_t *r, int n) {
  return (int)(sl_allocgen_uniform(r) * n);
}

// A small random instance: ming..maxg groups, mint..maxt types, small replica ranges, some priority
// levels, minimums, current replicas, zero costs or rates now and then, tight inventories.
// Regenerates until the search space is at most `space` allocations.
static inline void ref_random(ref_inst_t *x, unsigned long long seed, int ming, int maxg,
                              int mint, int maxt, double space) {
  sl_allocgen_rng_t r = {seed * 7919 + 13};
  for (;;) {
    memset(x, 0, sizeof *x);
    int ng = ming + ref_below(&r, maxg - ming + 1), nt = mint + ref_below(&r, maxt - mint + 1);
    int nv = 0, nn = 0;
    static const int ks[] = {1, 1, 2, 4, 8};
    double ucost[REF_MAXT];
    for (int t = 0; t < nt; t++) {
      snprintf(x->names[nn], 16, "t%d", t);
      x->t[t].name = x->names[nn++];
      x->t[t].gpus = ref_below(&r, 10) == 0 ? SL_ALLOC_UNLIMITED : ref_below(&r, 36);
      ucost[t] = 1 + 9 * sl_allocgen_uniform(&r);
    }
    int levels = 1 + ref_below(&r, 3);
    for (int g = 0; g < ng; g++) {
      snprintf(x->names[nn], 16, "g%d", g);
      x->g[g].name = x->names[nn++];
      x->g[g].priority = 10 * ref_below(&r, levels);
      x->g[g].demand = ref_below(&r, 8) == 0 ? 0 : 20 * sl_allocgen_uniform(&r);
      for (int t = 0; t < nt && nv < REF_MAXV - 1; t++) {
        if (ref_below(&r, 3) == 0) continue;
        int twice = ref_below(&r, 6) == 0;  // two variants on one type (e.g. TP1 and TP2)
        for (int c = 0; c <= twice; c++) {
          sl_alloc_variant_t *v = &x->v[nv];
          snprintf(x->names[nn], 16, "v%d", nv);
          v->id = x->names[nn++];
          v->group = g;
          v->type = t;
          v->gpus = ks[ref_below(&r, 5)];
          v->max_rate = ref_below(&r, 12) == 0 ? 0 : 1 + 12 * sl_allocgen_uniform(&r) * v->gpus;
          v->cost = ref_below(&r, 12) == 0 ? 0 : ucost[t] * v->gpus * (0.8 + 0.4 * sl_allocgen_uniform(&r));
          v->min = ref_below(&r, 6) == 0 ? 1 : 0;
          v->max = v->min + ref_below(&r, 6);
          v->current = ref_below(&r, 3) ? 0 : ref_below(&r, 4);
          nv++;
        }
      }
    }
    x->p.groups = x->g;
    x->p.ngroups = ng;
    x->p.variants = x->v;
    x->p.nvariants = nv;
    x->p.types = x->t;
    x->p.ntypes = nt;
    double sz = 1;
    for (int i = 0; i < nv; i++) sz *= x->v[i].max - x->v[i].min + 1;
    if (sz <= space) return;
  }
}
