// A small dense linear-programming solver for the allocator's relaxations: bounded primal
// revised simplex with an explicit basis inverse, two phases. Rows are equalities (callers add
// slack columns); columns are sparse, with bounds 0 <= x <= u. Meant for a few hundred rows.
#pragma once

#include "core/alloc/inst.h"

#define SL_LP_MAX_ROWS 700

enum { SL_LP_OPTIMAL = 0, SL_LP_INFEASIBLE = 1, SL_LP_UNBOUNDED = 2, SL_LP_LIMIT = 3 };

typedef struct {
  int m, n, ncap, nzcap;
  double *b;          // [m] right-hand side
  double *c, *u;      // [n] cost, upper bound (INFINITY for none)
  int *cb;            // [n+1] column starts into ri/rv
  int *ri;            // row of each nonzero
  double *rv;         // value of each nonzero
  int nz;
  // results
  double *x;          // [n] primal values
  double *y;          // [m] duals: reduced cost of column j is c[j] - y . A_j
  double obj;
  int status;
  long iters;
  // solver workspace, sized at init
  int mmax;
  double *binv_, *work_, *xb_, *cost_, *ub_, *asign_, *alpha_, *yv_;
  int *basis_;
  signed char *st_;
} sl_lp_t;

// Room for up to m rows and ncols columns with nzcap nonzeros in all (arena memory).
int sl_lp_init(sl_inst_t *in, sl_lp_t *lp, int m, int ncols, int nzcap);
void sl_lp_reset(sl_lp_t *lp, int m);  // no columns; b zeroed
// Adds a column; returns its index.
int sl_lp_col(sl_lp_t *lp, double cost, double ub, int nnz, const int *rows, const double *vals);
// Solves; status in lp->status. iter_limit bounds the work (pivots).
int sl_lp_solve(sl_inst_t *in, sl_lp_t *lp, long iter_limit);
