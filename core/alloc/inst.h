// The allocator's working form of a problem: groups, variants and accelerator types in canonical
// order (by name and id, so nothing depends on input order), a solution with its running totals,
// and the objective: the order in which two allocations are compared. One arena per solve holds
// all of it.
#pragma once

#include "core/alloc/alloc.h"

#define SL_INST_FEPS 1e-9  // served fractions closer than this are equal
#define SL_INST_BIG  (1L << 40)  // capacity of an unlimited type

typedef struct sl_inst_block sl_inst_block_t;

typedef struct {
  int ng, nv, nt, nl;
  // groups
  double *dem;   // demand, req/s
  int *lvl;      // priority level, 0 = highest priority
  int *vb, *ve;  // variants of group g are vb[g] .. ve[g]-1
  // variants
  double *rate, *cost;
  int *gpus, *type, *lo, *hi, *cur, *grp;
  // types
  long *cap;  // GPUs: max(inventory, what the minimums need); SL_INST_BIG when unlimited
  // levels
  int *lvl_prio;     // priority of each level
  double *lvl_dem;   // demand of each level
  double lambda;     // transition penalty
  double ctol;       // cost differences below this are ties
  int overcommitted;
  // canonical -> input index
  int *gin, *vin, *tin;
  // scratch for comparisons
  double *sa, *sb;
  int *gall;  // 0 .. ng-1
  // memory
  sl_alloc_fn af;
  void *aud;
  sl_inst_block_t *blocks;
  int oom;
  long work;  // nodes spent, for budgets and reporting
} sl_inst_t;

typedef struct {
  int *n;        // replicas per variant
  long *use;     // GPUs used per type
  double *capg;  // capacity per group, req/s
  double cost;   // objective cost: sum of f_v(n_v)
} sl_sol_t;

// Builds the canonical instance from a validated problem. Returns SL_ENOMEM on failure.
int sl_inst_init(sl_inst_t *in, const sl_alloc_problem_t *p, double lambda, sl_alloc_fn af,
                 void *aud);
void sl_inst_deinit(sl_inst_t *in);
// Zeroed arena memory that lives until sl_inst_deinit; NULL (and in->oom set) on failure.
void *sl_inst_calloc(sl_inst_t *in, size_t n, size_t size);

// Cost of n replicas of variant v: its cost plus the transition penalty from its current count.
double sl_inst_vcost(const sl_inst_t *in, int v, int n);
double sl_inst_frac(const sl_inst_t *in, int g, double cap);

int sl_sol_init(sl_inst_t *in, sl_sol_t *s);  // all variants at their minimum
void sl_sol_copy(const sl_inst_t *in, sl_sol_t *dst, const sl_sol_t *src);
void sl_sol_set(const sl_inst_t *in, sl_sol_t *s, int v, int n);
void sl_sol_recompute(const sl_inst_t *in, sl_sol_t *s);  // exact totals in canonical order
int sl_sol_fits(const sl_inst_t *in, const sl_sol_t *s);

// The objective order. Returns > 0 when the new capacities/cost are better than the old, < 0
// when worse, 0 on a tie. Only the k listed groups differ; the comparison is exact for the whole
// allocation because leximin, served totals and cost are all separable.
int sl_inst_cmp_delta(sl_inst_t *in, int k, const int *g, const double *oldcap,
                      const double *newcap, double dcost);
// > 0 when a is better than b.
int sl_inst_cmp(sl_inst_t *in, const sl_sol_t *a, const sl_sol_t *b);
