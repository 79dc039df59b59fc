// Branch and bound over whole model groups: proves an allocation optimal under the full
// objective order. Exhaustive in the worst case, so it runs on small instances under a work
// budget, starting from the heuristic's allocation as the incumbent.
#pragma once

#include "core/alloc/inst.h"

// Improves best (a feasible allocation) in place. Returns SL_OK and sets *proven when the
// search finished within budget (then best is optimal), or SL_ENOMEM.
int sl_exact_solve(sl_inst_t *in, sl_sol_t *best, long budget, int *proven);
