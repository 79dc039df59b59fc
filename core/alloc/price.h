// GPU prices on the inventory: Lagrangian multipliers of a level's cost problem (subgradient
// ascent on the LP relaxation's dual, for instances too large for the dense LP; and with exact
// integer group subproblems, for the cost bound and for priced constructions) and the fairness
// prices of a short level (multiplicative weights on the LP's max-min). Prices are left in h->mu.
#pragma once

#include "core/alloc/hs.h"

// Integer Lagrangian steps, each solving every group's subproblem once: for the final bound,
// and for priced constructions at the start. More on small instances, where they are cheap.
#define SL_PRICE_INT_ITERS(ng)   ((ng) < 400 ? 600 / ((ng) + 20) + 3 : 4)
#define SL_PRICE_START_ITERS(ng) ((ng) < 400 ? 600 / ((ng) + 40) + 1 : 1)

// Projected subgradient ascent on the LP dual (Polyak steps towards ub, the best known primal
// objective). Leaves the best prices in h->mu and returns the LP lower bound (-INF if none).
double sl_price_lagr(sl_hs_t *h, const double *need, double ub);
// Prices for level l by multiplicative weights on T(mu): over-used types get dearer. Leaves the
// best prices in h->mu and returns the smallest T found (the fairness bound).
double sl_price_fair(sl_hs_t *h, int l, const double *need);
// Subgradient ascent on the Lagrangian dual with exact integer group subproblems, from the
// prices in h->mu: a bound at least as strong as the LP's, and at every step a priced
// construction (the Lagrangian heuristic) as a start for the local search, built in trial and
// polished into h's starts (trial NULL: bound only). Returns the best bound; h->mu keeps its
// prices.
double sl_price_lagr_int(sl_hs_t *h, const double *need, int iters, double ub0, sl_sol_t *trial,
                         int *found);
