// The allocator's main method, for instances of any size: Lagrangian prices on the GPU
// inventory (LP relaxation), a priced construction, then local search under the exact objective
// order; and the bounds that say how far from optimal the result can be.
#pragma once

#include "core/alloc/inst.h"

typedef struct {
  double lp_bound;    // LP relaxation of the final cost stage: lower bound on the objective
  double cost_bound;  // best Lagrangian lower bound on the objective (>= lp_bound)
  double fair_bound;  // upper bound on the lowest served fraction of the first short level
  double fair_min;    // lowest served fraction achieved in that level
  int fair_level;     // that level, or -1 when every group is fully served
} sl_heur_report_t;

// Fills out (initialised with sl_sol_init) with a feasible allocation and rep with bounds. The
// local search stops after budget units of work (subproblem nodes); the rest is bounded by
// fixed iteration counts.
int sl_heur_solve(sl_inst_t *in, sl_sol_t *out, long budget, sl_heur_report_t *rep);

// Lagrangian lower bound on the objective of any allocation giving each group g capacity at
// least need[g] (the final cost stage): LP part in *lp, best overall returned.
double sl_heur_cost_bound(sl_inst_t *in, const double *need, double *lp);
