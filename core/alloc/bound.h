// The bounds stage: lower bounds on the cost of any allocation that serves every group at least
// as well as the heuristic's, which say how far from optimal its result can be.
#pragma once

#include "core/alloc/hs.h"

// Lower bounds on the objective of any allocation giving each group at least need[g]: the LP
// relaxation (exact when the dense solver takes it, else its Lagrangian dual by subgradient)
// and the Lagrangian bound with exact integer group subproblems at the LP's prices (*lp: the
// former; *best: the stronger). ub, the best known objective, steers the subgradient steps.
void sl_bound_cost(sl_hs_t *h, const double *need, double ub, double *lp, double *best);
