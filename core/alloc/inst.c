// Canonical instance, solutions and the objective order of the allocator.
#include "core/alloc/inst.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sl_inst_block {
  sl_inst_block_t *next;
  size_t size;
};

static void *default_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, nsize);
}

void *sl_inst_calloc(sl_inst_t *in, size_t n, size_t size) {
  if (n == 0) n = 1;
  if (size && n > ((size_t)-1 - 64) / size) {
    in->oom = 1;
    return NULL;
  }
  size_t body = n * size, total = sizeof(sl_inst_block_t) + body;
  // Round the header so the body keeps the alignment of any scalar.
  total = (total + 15) & ~(size_t)15;
  sl_inst_block_t *b = in->af(in->aud, NULL, 0, total + 16);
  if (!b) {
    in->oom = 1;
    return NULL;
  }
  b->next = in->blocks;
  b->size = total + 16;
  in->blocks = b;
  char *p = (char *)(b + 1);
  p += (16 - ((size_t)p & 15)) & 15;
  memset(p, 0, body);
  return p;
}

void sl_inst_deinit(sl_inst_t *in) {
  sl_inst_block_t *b = in->blocks;
  while (b) {
    sl_inst_block_t *next = b->next;
    in->af(in->aud, b, b->size, 0);
    b = next;
  }
  in->blocks = NULL;
}

// Stable merge sort of an index array with a context comparator: deterministic, no globals.
typedef int (*idx_cmp_fn)(const void *ctx, int a, int b);

static void sort_idx(int *idx, int *tmp, int n, idx_cmp_fn cmp, const void *ctx) {
  if (n < 2) return;
  int h = n / 2;
  sort_idx(idx, tmp, h, cmp, ctx);
  sort_idx(idx + h, tmp, n - h, cmp, ctx);
  int i = 0, j = h, k = 0;
  while (i < h && j < n) tmp[k++] = cmp(ctx, idx[j], idx[i]) < 0 ? idx[j++] : idx[i++];
  while (i < h) tmp[k++] = idx[i++];
  while (j < n) tmp[k++] = idx[j++];
  memcpy(idx, tmp, (size_t)n * sizeof *idx);
}

static int cmp_group(const void *ctx, int a, int b) {
  const sl_alloc_problem_t *p = ctx;
  return strcmp(p->groups[a].name, p->groups[b].name);
}

static int cmp_type(const void *ctx, int a, int b) {
  const sl_alloc_problem_t *p = ctx;
  return strcmp(p->types[a].name, p->types[b].name);
}

typedef struct {
  const sl_alloc_problem_t *p;
  const int *grank;
} vctx_t;

static int cmp_variant(const void *ctx, int a, int b) {
  const vctx_t *c = ctx;
  int ga = c->grank[c->p->variants[a].group], gb = c->grank[c->p->variants[b].group];
  if (ga != gb) return ga < gb ? -1 : 1;
  return strcmp(c->p->variants[a].id, c->p->variants[b].id);
}

static int cmp_int_desc(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x < y) - (x > y);
}

int sl_inst_init(sl_inst_t *in, const sl_alloc_problem_t *p, double lambda, sl_alloc_fn af,
                 void *aud) {
  memset(in, 0, sizeof *in);
  in->af = af ? af : default_alloc;
  in->aud = af ? aud : NULL;
  int ng = p->ngroups, nv = p->nvariants, nt = p->ntypes;
  in->ng = ng;
  in->nv = nv;
  in->nt = nt;
  in->lambda = lambda;
  int big = ng > nv ? ng : nv;
  if (nt > big) big = nt;
  int *tmp = sl_inst_calloc(in, (size_t)big, sizeof *tmp);
  int *grank = sl_inst_calloc(in, (size_t)ng, sizeof *grank);
  int *trank = sl_inst_calloc(in, (size_t)nt, sizeof *trank);
  int *prios = sl_inst_calloc(in, (size_t)ng, sizeof *prios);
  in->gin = sl_inst_calloc(in, (size_t)ng, sizeof *in->gin);
  in->vin = sl_inst_calloc(in, (size_t)nv, sizeof *in->vin);
  in->tin = sl_inst_calloc(in, (size_t)nt, sizeof *in->tin);
  in->dem = sl_inst_calloc(in, (size_t)ng, sizeof *in->dem);
  in->lvl = sl_inst_calloc(in, (size_t)ng, sizeof *in->lvl);
  in->vb = sl_inst_calloc(in, (size_t)ng, sizeof *in->vb);
  in->ve = sl_inst_calloc(in, (size_t)ng, sizeof *in->ve);
  in->rate = sl_inst_calloc(in, (size_t)nv, sizeof *in->rate);
  in->cost = sl_inst_calloc(in, (size_t)nv, sizeof *in->cost);
  in->gpus = sl_inst_calloc(in, (size_t)nv, sizeof *in->gpus);
  in->type = sl_inst_calloc(in, (size_t)nv, sizeof *in->type);
  in->lo = sl_inst_calloc(in, (size_t)nv, sizeof *in->lo);
  in->hi = sl_inst_calloc(in, (size_t)nv, sizeof *in->hi);
  in->cur = sl_inst_calloc(in, (size_t)nv, sizeof *in->cur);
  in->grp = sl_inst_calloc(in, (size_t)nv, sizeof *in->grp);
  in->cap = sl_inst_calloc(in, (size_t)nt, sizeof *in->cap);
  in->sa = sl_inst_calloc(in, (size_t)ng, sizeof *in->sa);
  in->sb = sl_inst_calloc(in, (size_t)ng, sizeof *in->sb);
  in->gall = sl_inst_calloc(in, (size_t)ng, sizeof *in->gall);
  if (in->oom) return SL_ENOMEM;
  for (int g = 0; g < ng; g++) in->gall[g] = g;

  for (int i = 0; i < ng; i++) in->gin[i] = i;
  sort_idx(in->gin, tmp, ng, cmp_group, p);
  for (int i = 0; i < ng; i++) grank[in->gin[i]] = i;
  for (int i = 0; i < nt; i++) in->tin[i] = i;
  sort_idx(in->tin, tmp, nt, cmp_type, p);
  for (int i = 0; i < nt; i++) trank[in->tin[i]] = i;
  for (int i = 0; i < nv; i++) in->vin[i] = i;
  vctx_t vc = {p, grank};
  sort_idx(in->vin, tmp, nv, cmp_variant, &vc);

  // Priority levels: distinct priorities, highest first.
  for (int g = 0; g < ng; g++) prios[g] = p->groups[g].priority;
  qsort(prios, (size_t)ng, sizeof *prios, cmp_int_desc);
  int nl = 0;
  for (int g = 0; g < ng; g++)
    if (nl == 0 || prios[nl - 1] != prios[g]) prios[nl++] = prios[g];
  in->nl = nl;
  in->lvl_prio = sl_inst_calloc(in, (size_t)(nl ? nl : 1), sizeof *in->lvl_prio);
  in->lvl_dem = sl_inst_calloc(in, (size_t)(nl ? nl : 1), sizeof *in->lvl_dem);
  if (in->oom) return SL_ENOMEM;
  memcpy(in->lvl_prio, prios, (size_t)nl * sizeof *prios);

  for (int g = 0; g < ng; g++) {
    const sl_alloc_group_t *src = &p->groups[in->gin[g]];
    in->dem[g] = src->demand;
    int l = 0;
    while (in->lvl_prio[l] != src->priority) l++;
    in->lvl[g] = l;
    in->lvl_dem[l] += src->demand;
    in->vb[g] = in->ve[g] = 0;
  }
  double maxc = 0;
  for (int v = 0; v < nv; v++) {
    const sl_alloc_variant_t *src = &p->variants[in->vin[v]];
    int g = grank[src->group];
    in->grp[v] = g;
    in->type[v] = trank[src->type];
    in->rate[v] = src->max_rate;
    in->cost[v] = src->cost;
    in->gpus[v] = src->gpus;
    in->lo[v] = src->min;
    in->hi[v] = src->max;
    in->cur[v] = src->current;
    if (src->cost > maxc) maxc = src->cost;
  }
  // Variants are sorted by group, so each group's variants are contiguous.
  for (int v = nv - 1; v >= 0; v--) in->vb[in->grp[v]] = v;
  for (int v = 0; v < nv; v++) in->ve[in->grp[v]] = v + 1;
  in->ctol = 1e-7 * (1.0 + maxc);

  for (int t = 0; t < nt; t++) {
    long inv = p->types[in->tin[t]].gpus;
    in->cap[t] = inv < 0 ? SL_INST_BIG : inv;
  }
  // Minimums are a hard floor (as the guard enforces them anyway); when they alone exceed a
  // type's inventory, that type has no room beyond them.
  long *need = (long *)sl_inst_calloc(in, (size_t)nt, sizeof(long));
  if (in->oom) return SL_ENOMEM;
  for (int v = 0; v < nv; v++) need[in->type[v]] += (long)in->gpus[v] * in->lo[v];
  for (int t = 0; t < nt; t++)
    if (need[t] > in->cap[t]) {
      in->cap[t] = need[t];
      in->overcommitted = 1;
    }
  return SL_OK;
}

double sl_inst_vcost(const sl_inst_t *in, int v, int n) {
  double c = in->cost[v];
  return c * n + in->lambda * c * abs(n - in->cur[v]);
}

double sl_inst_frac(const sl_inst_t *in, int g, double cap) {
  double d = in->dem[g];
  if (d <= 0) return 1.0;
  double s = cap / d;
  return s > 1.0 ? 1.0 : s;
}

int sl_sol_init(sl_inst_t *in, sl_sol_t *s) {
  s->n = sl_inst_calloc(in, (size_t)in->nv, sizeof *s->n);
  s->use = sl_inst_calloc(in, (size_t)in->nt, sizeof *s->use);
  s->capg = sl_inst_calloc(in, (size_t)in->ng, sizeof *s->capg);
  if (in->oom) return SL_ENOMEM;
  for (int v = 0; v < in->nv; v++) s->n[v] = in->lo[v];
  sl_sol_recompute(in, s);
  return SL_OK;
}

void sl_sol_copy(const sl_inst_t *in, sl_sol_t *dst, const sl_sol_t *src) {
  memcpy(dst->n, src->n, (size_t)in->nv * sizeof *dst->n);
  memcpy(dst->use, src->use, (size_t)in->nt * sizeof *dst->use);
  memcpy(dst->capg, src->capg, (size_t)in->ng * sizeof *dst->capg);
  dst->cost = src->cost;
}

void sl_sol_set(const sl_inst_t *in, sl_sol_t *s, int v, int n) {
  int d = n - s->n[v];
  if (!d) return;
  s->use[in->type[v]] += (long)d * in->gpus[v];
  s->capg[in->grp[v]] += d * in->rate[v];
  s->cost += sl_inst_vcost(in, v, n) - sl_inst_vcost(in, v, s->n[v]);
  s->n[v] = n;
}

void sl_sol_recompute(const sl_inst_t *in, sl_sol_t *s) {
  memset(s->use, 0, (size_t)in->nt * sizeof *s->use);
  s->cost = 0;
  for (int g = 0; g < in->ng; g++) {
    double c = 0;
    for (int v = in->vb[g]; v < in->ve[g]; v++) {
      c += s->n[v] * in->rate[v];
      s->use[in->type[v]] += (long)s->n[v] * in->gpus[v];
      s->cost += sl_inst_vcost(in, v, s->n[v]);
    }
    s->capg[g] = c;
  }
}

int sl_sol_fits(const sl_inst_t *in, const sl_sol_t *s) {
  for (int t = 0; t < in->nt; t++)
    if (s->use[t] > in->cap[t]) return 0;
  return 1;
}

static void sort_dbl(double *a, int n) {
  for (int i = 1; i < n; i++) {
    double x = a[i];
    int j = i - 1;
    while (j >= 0 && a[j] > x) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = x;
  }
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int sl_inst_cmp_delta(sl_inst_t *in, int k, const int *g, const double *oldcap,
                      const double *newcap, double dcost) {
  for (int l = 0; l < in->nl; l++) {
    int m = 0;
    double dserved = 0;
    for (int i = 0; i < k; i++) {
      int gi = g[i];
      if (in->lvl[gi] != l) continue;
      in->sa[m] = sl_inst_frac(in, gi, oldcap[i]);
      in->sb[m] = sl_inst_frac(in, gi, newcap[i]);
      double d = in->dem[gi];
      dserved += fmin(d, newcap[i]) - fmin(d, oldcap[i]);
      m++;
    }
    if (!m) continue;
    if (m < 32) {
      sort_dbl(in->sa, m);
      sort_dbl(in->sb, m);
    } else {
      qsort(in->sa, (size_t)m, sizeof(double), cmp_dbl);
      qsort(in->sb, (size_t)m, sizeof(double), cmp_dbl);
    }
    for (int i = 0; i < m; i++) {
      double d = in->sb[i] - in->sa[i];
      if (d > SL_INST_FEPS) return 1;
      if (d < -SL_INST_FEPS) return -1;
    }
    double stol = 1e-9 * (1.0 + in->lvl_dem[l]);
    if (dserved > stol) return 1;
    if (dserved < -stol) return -1;
  }
  if (dcost < -in->ctol) return 1;
  if (dcost > in->ctol) return -1;
  return 0;
}

int sl_inst_cmp(sl_inst_t *in, const sl_sol_t *a, const sl_sol_t *b) {
  return sl_inst_cmp_delta(in, in->ng, in->gall, b->capg, a->capg, a->cost - b->cost);
}
