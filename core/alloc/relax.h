// The LP relaxation of a level's cost or fairness problem over the heuristic's state, solved by
// the dense simplex (core/alloc/lp.c): replicas beyond the minimums are fractional. Its solution
// (nstar) is rounded into starts and its duals are the GPU prices (mu) the constructions use;
// its value bounds the integer problem.
#pragma once

#include "core/alloc/hs.h"

// Builds the LP relaxation over the replicas beyond every minimum (two price segments per
// variant). Cost mode: groups of level <= L cover need[g] at least cost. Fairness mode:
// maximise t with every group of level L at t x demand and higher levels at need[g]; with
// fixed_above, higher levels keep their current replicas (taken out of the inventory) instead.
// Returns 0, or -1 when the LP is too large for the dense solver.
int sl_relax_build(sl_hs_t *h, int L, const double *need, int fair, int fixed_above);
// Solves the built LP. Returns its status (SL_LP_*); on success fills nstar and the GPU prices
// h->mu (the capacity rows' duals, >= 0).
int sl_relax_run(sl_hs_t *h);
// Rounds the LP solution down for the groups of level <= L (lower levels at their minimums);
// the caller covers what is left.
void sl_relax_floor(sl_hs_t *h, int L, sl_sol_t *s, int only_level);
// The LP's max-min for level L (higher levels at need[], routed freely): an upper bound on the
// lowest served fraction any allocation gives level L; INFINITY when the LP is too large. Its
// solution stays in h (nstar, mu).
double sl_relax_maxmin(sl_hs_t *h, int L, const double *need);
