// The allocator: replicas per variant across accelerator types under a GPU inventory. When the
// inventory can serve every model group it finds the cheapest allocation (with a penalty for
// moving away from the current one); when it cannot, it serves higher priorities first, shares
// fairly (leximin on the fraction of demand served) within a priority, then serves the most
// demand, then minimises cost. Pure computation: no I/O, no global state. See docs/allocator.md.
#pragma once

#include <stddef.h>

#include "core/util/err.h"

#define SL_ALLOC_UNLIMITED (-1L)  // inventory count of an accelerator type without a limit

// Input limits (checked): keep the work of one solve bounded.
#define SL_ALLOC_MAX_GROUPS   10000
#define SL_ALLOC_MAX_VARIANTS 100000
#define SL_ALLOC_MAX_TYPES    256
#define SL_ALLOC_MAX_REPLICAS 100000  // per variant (max)
#define SL_ALLOC_DEFAULT_EFFORT 100000

typedef struct {
  const char *name;      // unique among groups; the tie-break identity (never input order)
  double demand;         // req/s, >= 0
  double in_tokens;      // token mix the variants' max_rate was computed for (carried, >= 0)
  double out_tokens;
  int priority;          // larger = more important (Kubernetes PriorityClass convention)
  const char *slo_class; // label, may be NULL (the SLO is already in each variant's max_rate)
} sl_alloc_group_t;

typedef struct {
  const char *id;   // unique among variants; tie-break identity
  int group;        // index into groups
  int type;         // index into types
  int gpus;         // GPUs per replica, >= 1
  double max_rate;  // req/s one replica sustains within the group's SLO, >= 0
  double cost;      // per replica and unit of time (e.g. $/h), >= 0
  int min, max;     // replica bounds, 0 <= min <= max
  int current;      // replicas now, >= 0 (for the transition penalty)
} sl_alloc_variant_t;

typedef struct {
  const char *name;  // unique among types
  long gpus;         // GPUs available to these variants, >= 0, or SL_ALLOC_UNLIMITED
} sl_alloc_type_t;

typedef struct {
  const sl_alloc_group_t *groups;
  int ngroups;
  const sl_alloc_variant_t *variants;
  int nvariants;
  const sl_alloc_type_t *types;
  int ntypes;
} sl_alloc_problem_t;

// Same contract as lua_Alloc: nsize 0 frees, otherwise (re)allocates; NULL on failure.
typedef void *(*sl_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize);

typedef struct {
  // Charged per replica added or removed, as a fraction of that replica's cost (WVA's
  // accelerator-change factor is 0.1). In [0, 1): removing an unneeded replica always pays.
  double transition_penalty;
  // Work budget of the local search, in subproblem nodes (about 50-100 ns each): the knob
  // between speed and closeness to optimal. The LP and the bounds are not counted.
  long effort;
  // Work budget of the exact search that runs after the heuristic on small instances (in search
  // nodes plus subproblem nodes); 0 turns it off. The exact search is skipped above
  // exact_max_groups groups.
  long exact_budget;
  int exact_max_groups;
  // Memory for the solve and the result; NULL uses malloc/realloc/free.
  sl_alloc_fn alloc;
  void *alloc_ud;
} sl_alloc_opts_t;

typedef struct {
  int *replicas;       // [nvariants], input order
  double *capacity;    // [ngroups] req/s the chosen replicas sustain within the SLO
  double *served;      // [ngroups] fraction of demand served: min(1, capacity / demand), 1 if no demand
  double *attainment;  // [ngroups] predicted fraction of requests meeting the SLO (= served, see docs)
  long *gpus_used;     // [ntypes]
  int shortage;        // some group with demand is not fully served
  int overcommitted;   // the variants' minimum replicas alone exceed some type's inventory
  double cost;         // sum of cost x replicas
  double transition;   // transition penalty of the move from current replicas
  double objective;    // cost + transition: what is minimised once service is settled
  // Lower bound on `objective` over all allocations that serve every group at least as well
  // as this one (Lagrangian bound); gap = (objective - bound) / objective.
  double cost_bound;
  double cost_gap;
  // Upper bound on the lowest served fraction achievable in the highest-priority level that is
  // short of demand (1 and the level's priority = 0 if none is short); fair_gap = bound - achieved.
  double fair_bound;
  double fair_min;       // lowest served fraction achieved in that level
  int fair_priority;
  double lp_cost_bound;  // the LP-relaxation part of cost_bound (<= cost_bound)
  int optimal;           // proven optimal (exact search completed, or bound met)
  long work;             // subproblem and search nodes used
  // private
  sl_alloc_fn alloc_;
  void *alloc_ud_;
  int nv_, ng_, nt_;
} sl_alloc_result_t;

void sl_alloc_opts_init(sl_alloc_opts_t *opts);
// Validates the problem (errors name the field, e.g. "variants[3] (x): max 2 < min 3"), solves
// it and fills res (which the caller frees with sl_alloc_result_deinit, also after an error).
int sl_alloc_solve(const sl_alloc_problem_t *p, const sl_alloc_opts_t *opts,
                   sl_alloc_result_t *res, sl_err_t *err);
void sl_alloc_result_deinit(sl_alloc_result_t *res);
