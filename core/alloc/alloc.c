// The allocator's entry point: checks the problem, puts it in canonical order, runs the
// heuristic (and the exact search on small instances), and reports in input order.
#include "core/alloc/alloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc/exact.h"
#include "core/alloc/heur.h"
#include "core/alloc/inst.h"

#define MAX_GPUS_PER_REPLICA 4096

void sl_alloc_opts_init(sl_alloc_opts_t *opts) {
  memset(opts, 0, sizeof *opts);
  opts->transition_penalty = 0.1;
  opts->effort = SL_ALLOC_DEFAULT_EFFORT;
  opts->exact_budget = 200000;
  opts->exact_max_groups = 8;
}

static void *default_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  (void)osize;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, nsize);
}

// --- validation ------------------------------------------------------------------------------

static int bad_name(const char *s) {
  return !s || !*s;
}

typedef const char *(*name_at_fn)(const sl_alloc_problem_t *p, int i);
static const char *group_name(const sl_alloc_problem_t *p, int i) {
  return p->groups[i].name;
}
static const char *variant_name(const sl_alloc_problem_t *p, int i) {
  return p->variants[i].id;
}
static const char *type_name(const sl_alloc_problem_t *p, int i) {
  return p->types[i].name;
}

// Reports the first duplicate name (by sorting indices; no hashing, so no order dependence).
static int check_unique(const sl_alloc_problem_t *p, int n, name_at_fn name, const char *what,
                        sl_alloc_fn af, void *aud, sl_err_t *err) {
  if (n < 2) return SL_OK;
  int *idx = af(aud, NULL, 0, (size_t)n * 2 * sizeof(int));
  if (!idx) return sl_err(err, SL_ENOMEM, "out of memory");
  int *tmp = idx + n;
  for (int i = 0; i < n; i++) idx[i] = i;
  // Bottom-up merge sort by name.
  for (int w = 1; w < n; w *= 2) {
    for (int lo = 0; lo < n; lo += 2 * w) {
      int mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      int a = lo, b = mid, k = lo;
      while (a < mid && b < hi) tmp[k++] = strcmp(name(p, idx[b]), name(p, idx[a])) < 0 ? idx[b++] : idx[a++];
      while (a < mid) tmp[k++] = idx[a++];
      while (b < hi) tmp[k++] = idx[b++];
    }
    memcpy(idx, tmp, (size_t)n * sizeof *idx);
  }
  int rc = SL_OK;
  for (int i = 1; i < n; i++)
    if (!strcmp(name(p, idx[i - 1]), name(p, idx[i]))) {
      int a = idx[i - 1] < idx[i] ? idx[i - 1] : idx[i], b = idx[i - 1] ^ idx[i] ^ a;
      rc = sl_err(err, SL_EINVAL, "%s[%d] and %s[%d]: duplicate name '%s'", what, a, what, b,
                  name(p, a));
      break;
    }
  af(aud, idx, (size_t)n * 2 * sizeof(int), 0);
  return rc;
}

static int validate(const sl_alloc_problem_t *p, const sl_alloc_opts_t *o, sl_alloc_fn af,
                    void *aud, sl_err_t *err) {
  if (!p) return sl_err(err, SL_EINVAL, "problem: missing");
  if (o->effort < 0) return sl_err(err, SL_EINVAL, "effort: %ld, want >= 0", o->effort);
  if (!(o->transition_penalty >= 0 && o->transition_penalty < 1))
    return sl_err(err, SL_EINVAL, "transition_penalty: %g not in [0, 1)", o->transition_penalty);
  if (p->ngroups < 0 || p->ngroups > SL_ALLOC_MAX_GROUPS)
    return sl_err(err, SL_EINVAL, "groups: %d, want 0..%d", p->ngroups, SL_ALLOC_MAX_GROUPS);
  if (p->nvariants < 0 || p->nvariants > SL_ALLOC_MAX_VARIANTS)
    return sl_err(err, SL_EINVAL, "variants: %d, want 0..%d", p->nvariants, SL_ALLOC_MAX_VARIANTS);
  if (p->ntypes < 0 || p->ntypes > SL_ALLOC_MAX_TYPES)
    return sl_err(err, SL_EINVAL, "types: %d, want 0..%d", p->ntypes, SL_ALLOC_MAX_TYPES);
  if ((p->ngroups && !p->groups) || (p->nvariants && !p->variants) || (p->ntypes && !p->types))
    return sl_err(err, SL_EINVAL, "problem: array missing");
  for (int i = 0; i < p->ngroups; i++) {
    const sl_alloc_group_t *g = &p->groups[i];
    if (bad_name(g->name)) return sl_err(err, SL_EINVAL, "groups[%d].name: missing", i);
    if (!(isfinite(g->demand) && g->demand >= 0))
      return sl_err(err, SL_EINVAL, "groups[%d] (%s).demand: %g, want a number >= 0", i, g->name,
                    g->demand);
    if (!(isfinite(g->in_tokens) && g->in_tokens >= 0))
      return sl_err(err, SL_EINVAL, "groups[%d] (%s).in_tokens: %g, want >= 0", i, g->name,
                    g->in_tokens);
    if (!(isfinite(g->out_tokens) && g->out_tokens >= 0))
      return sl_err(err, SL_EINVAL, "groups[%d] (%s).out_tokens: %g, want >= 0", i, g->name,
                    g->out_tokens);
  }
  for (int i = 0; i < p->ntypes; i++) {
    const sl_alloc_type_t *t = &p->types[i];
    if (bad_name(t->name)) return sl_err(err, SL_EINVAL, "types[%d].name: missing", i);
    if (t->gpus < 0 && t->gpus != SL_ALLOC_UNLIMITED)
      return sl_err(err, SL_EINVAL, "types[%d] (%s).gpus: %ld, want >= 0 or unlimited", i,
                    t->name, t->gpus);
    if (t->gpus > (1L << 40))
      return sl_err(err, SL_EINVAL, "types[%d] (%s).gpus: %ld is too large", i, t->name, t->gpus);
  }
  for (int i = 0; i < p->nvariants; i++) {
    const sl_alloc_variant_t *v = &p->variants[i];
    if (bad_name(v->id)) return sl_err(err, SL_EINVAL, "variants[%d].id: missing", i);
    if (v->group < 0 || v->group >= p->ngroups)
      return sl_err(err, SL_EINVAL, "variants[%d] (%s).group: %d, no such group", i, v->id,
                    v->group);
    if (v->type < 0 || v->type >= p->ntypes)
      return sl_err(err, SL_EINVAL, "variants[%d] (%s).type: %d, no such accelerator type", i,
                    v->id, v->type);
    if (v->gpus < 1 || v->gpus > MAX_GPUS_PER_REPLICA)
      return sl_err(err, SL_EINVAL, "variants[%d] (%s).gpus: %d, want 1..%d", i, v->id, v->gpus,
                    MAX_GPUS_PER_REPLICA);
    if (!(isfinite(v->max_rate) && v->max_rate >= 0))
      return sl_err(err, SL_EINVAL, "variants[%d] (%s).max_rate: %g, want a number >= 0", i,
                    v->id, v->max_rate);
    if (!(isfinite(v->cost) && v->cost >= 0))
      return sl_err(err, SL_EINVAL, "variants[%d] (%s).cost: %g, want a number >= 0", i, v->id,
                    v->cost);
    if (v->min < 0 || v->min > SL_ALLOC_MAX_REPLICAS)
      return sl_err(err, SL_EINVAL, "variants[%d] (%s).min: %d, want 0..%d", i, v->id, v->min,
                    SL_ALLOC_MAX_REPLICAS);
    if (v->max < v->min || v->max > SL_ALLOC_MAX_REPLICAS)
      return sl_err(err, SL_EINVAL, "variants[%d] (%s).max: %d, want min (%d)..%d", i, v->id,
                    v->max, v->min, SL_ALLOC_MAX_REPLICAS);
    if (v->current < 0 || v->current > SL_ALLOC_MAX_REPLICAS)
      return sl_err(err, SL_EINVAL, "variants[%d] (%s).current: %d, want 0..%d", i, v->id,
                    v->current, SL_ALLOC_MAX_REPLICAS);
  }
  int rc = check_unique(p, p->ngroups, group_name, "groups", af, aud, err);
  if (!rc) rc = check_unique(p, p->nvariants, variant_name, "variants", af, aud, err);
  if (!rc) rc = check_unique(p, p->ntypes, type_name, "types", af, aud, err);
  return rc;
}

// --- results ---------------------------------------------------------------------------------

void sl_alloc_result_deinit(sl_alloc_result_t *res) {
  if (!res || !res->alloc_) return;
  sl_alloc_fn af = res->alloc_;
  void *ud = res->alloc_ud_;
  if (res->replicas) af(ud, res->replicas, (size_t)res->nv_ * sizeof(int) + 1, 0);
  if (res->capacity) af(ud, res->capacity, (size_t)res->ng_ * 3 * sizeof(double) + 1, 0);
  if (res->gpus_used) af(ud, res->gpus_used, (size_t)res->nt_ * sizeof(long) + 1, 0);
  memset(res, 0, sizeof *res);
}

static int result_alloc(sl_alloc_result_t *res, int ng, int nv, int nt, sl_alloc_fn af,
                        void *aud) {
  res->alloc_ = af;
  res->alloc_ud_ = aud;
  res->ng_ = ng;
  res->nv_ = nv;
  res->nt_ = nt;
  // Zero-size requests still get a distinct block so every pointer is valid.
  res->replicas = af(aud, NULL, 0, (size_t)nv * sizeof(int) + 1);
  res->capacity = af(aud, NULL, 0, (size_t)ng * 3 * sizeof(double) + 1);
  res->gpus_used = af(aud, NULL, 0, (size_t)nt * sizeof(long) + 1);
  if (!res->replicas || !res->capacity || !res->gpus_used) return SL_ENOMEM;
  res->served = res->capacity + ng;
  res->attainment = res->capacity + 2 * ng;
  return SL_OK;
}

int sl_alloc_solve(const sl_alloc_problem_t *p, const sl_alloc_opts_t *opts,
                   sl_alloc_result_t *res, sl_err_t *err) {
  sl_alloc_opts_t dflt;
  if (!opts) {
    sl_alloc_opts_init(&dflt);
    opts = &dflt;
  }
  memset(res, 0, sizeof *res);
  sl_alloc_fn af = opts->alloc ? opts->alloc : default_alloc;
  void *aud = opts->alloc ? opts->alloc_ud : NULL;
  int rc = validate(p, opts, af, aud, err);
  if (rc) return rc;
  if (result_alloc(res, p->ngroups, p->nvariants, p->ntypes, af, aud))
    return sl_err(err, SL_ENOMEM, "out of memory");

  sl_inst_t in;
  sl_sol_t sol;
  sl_heur_report_t rep;
  rc = sl_inst_init(&in, p, opts->transition_penalty, af, aud);
  if (!rc) rc = sl_sol_init(&in, &sol);
  if (!rc) rc = sl_heur_solve(&in, &sol, opts->effort, &rep);
  int proven = 0;
  if (!rc && opts->exact_budget > 0 && in.ng <= opts->exact_max_groups)
    rc = sl_exact_solve(&in, &sol, opts->exact_budget, &proven);
  if (rc) {
    sl_inst_deinit(&in);
    return sl_err(err, rc, "out of memory");
  }
  sl_sol_recompute(&in, &sol);

  for (int v = 0; v < in.nv; v++) res->replicas[in.vin[v]] = sol.n[v];
  res->shortage = 0;
  for (int g = 0; g < in.ng; g++) {
    int i = in.gin[g];
    double f = sl_inst_frac(&in, g, sol.capg[g]);
    res->capacity[i] = sol.capg[g];
    res->served[i] = f;
    res->attainment[i] = f;
    if (f < 1 - SL_INST_FEPS) res->shortage = 1;
  }
  for (int t = 0; t < in.nt; t++) res->gpus_used[in.tin[t]] = sol.use[t];
  res->overcommitted = in.overcommitted;
  double cost = 0;
  for (int v = 0; v < in.nv; v++) cost += in.cost[v] * sol.n[v];
  res->cost = cost;
  res->objective = sol.cost;
  res->transition = sol.cost - cost;

  // Bounds: recomputed for the final allocation when the exact search changed it.
  res->lp_cost_bound = rep.lp_bound;
  res->cost_bound = rep.cost_bound;
  res->fair_priority = rep.fair_level >= 0 ? in.lvl_prio[rep.fair_level] : 0;
  res->fair_bound = rep.fair_bound;
  res->fair_min = 1;
  if (rep.fair_level >= 0) {
    double m = 1;
    for (int g = 0; g < in.ng; g++)
      if (in.lvl[g] == rep.fair_level) m = fmin(m, sl_inst_frac(&in, g, sol.capg[g]));
    res->fair_min = m;
  }
  res->optimal = proven;
  if (proven) {
    res->cost_bound = res->objective;
    if (res->lp_cost_bound > res->objective) res->lp_cost_bound = res->objective;
    res->fair_bound = res->fair_min;
  }
  if (!(res->cost_bound > -INFINITY)) res->cost_bound = 0;
  if (!(res->lp_cost_bound > -INFINITY)) res->lp_cost_bound = 0;
  // Rounding can put the bound a hair above the objective; more than that would be a bug to see.
  if (res->cost_bound > res->objective && res->cost_bound <= res->objective * (1 + 1e-9) + 1e-12)
    res->cost_bound = res->objective;
  res->cost_gap = res->objective > 0 ? (res->objective - res->cost_bound) / res->objective : 0;
  if (!res->shortage && res->cost_gap <= 1e-9) res->optimal = 1;
  res->work = in.work;
  sl_inst_deinit(&in);
  return SL_OK;
}
