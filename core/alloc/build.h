// Constructions: allocations built group by group at given GPU prices. The cheapest cover of
// every group's need, from the minimums or from a partial allocation (a group that no longer
// fits makes room by having holders of a full type give up GPUs), and the fairness stage's
// progressive filling.
#pragma once

#include "core/alloc/hs.h"

// Groups one after another (higher priority first, then those that lose most without the
// priced-up types) take their cheapest cover at prices mu within what is left. 0 or -1.
// money weighs the replicas' own cost against the prices; 0 builds for fairness targets.
int sl_build_cover_w(sl_hs_t *h, const double *need, const double *mu, double money, sl_sol_t *s);
// The same with money 1 (cost stages), from s as it is.
int sl_build_cover_from(sl_hs_t *h, const double *need, const double *mu, sl_sol_t *s);
// The same from every variant at its minimum.
int sl_build_cover(sl_hs_t *h, const double *need, const double *mu, sl_sol_t *s);
// Progressive filling of level l: the group with the lowest served fraction gets one more
// replica, of its variant with the lowest scarcity price, until nothing more fits.
void sl_build_fill(sl_hs_t *h, int l, const double *mu);
