// The fairness stage's moves for the local search on a short level: transfers of GPUs of a full
// type to its lowest served groups, and a fairness ruin and recreate. Each keeps a move only when
// the objective order calls it an improvement, and returns 1 if it kept one.
#pragma once

#include "core/alloc/hs.h"

// Transfers for level l: a group among the lowest served gets one more replica of a variant
// whose type is full, and other groups (of this level, served better, or of a higher level,
// keeping their service) make room by giving up GPUs of that type, moving elsewhere if they
// can. Donors are taken best served first, each giving as much as it can while staying above
// the receiver. Kept when the objective improves.
int sl_fairmove_transfer(sl_hs_t *h, int l, const double *mu);
// Ruin and recreate for a short level l: one of its lowest served groups and a few holders of
// a full type it can use give up everything above their minimums; groups of higher levels come
// back first at their cheapest (keeping their service), then the level's groups are filled one
// replica at a time, lowest served first, each with its variant of the best GPUs per req/s
// (randomly perturbed) that still fits. Kept when the objective improves.
int sl_fairmove_ruin(sl_hs_t *h, int l, int iters);
