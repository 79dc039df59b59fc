// The local search: best responses, the cost stage's exchanges on full types and ruin and
// recreate, and the fairness stage's moves (core/alloc/fairmove.c), from the best of a few
// polished starts, until nothing improves or the work budget is spent. Every move is kept
// only when the objective order calls it an improvement.
#pragma once

#include "core/alloc/hs.h"

enum { SL_SEARCH_COST = 1, SL_SEARCH_FAIR = 2 }; // what the local search works on

// A start for the local search, after a quick polish (best responses only): kept among the
// SL_HS_NSTART best distinct ones, cheapest first.
void sl_search_polish(sl_hs_t *h, const sl_sol_t *start, int *found);
// Local search until nothing improves or the work budget is spent: best responses, then the
// moves of the stage (SL_SEARCH_FAIR: transfers to the lowest served and their ruin and recreate;
// SL_SEARCH_COST: exchanges on full types and cost ruin and recreate), again from the top after any
// success.
void sl_search_improve(sl_hs_t *h, int what);
