#include "core/alloc/bound.h"

#include <math.h>
#include <string.h>

#include "core/alloc/lp.h"
#include "core/alloc/price.h"
#include "core/alloc/relax.h"

void sl_bound_cost(sl_hs_t *h, const double *need, double ub, double *lp, double *best) {
  sl_inst_t *in = h->in;
  double b = -INFINITY;
  if (h->cov_lp > -INFINITY && !memcmp(need, h->cov_need, (size_t)in->ng * sizeof *need)) {
    b = h->cov_lp; // the cover's LP was this one
    memcpy(h->mu, h->cov_mu, (size_t)in->nt * sizeof *h->mu);
  } else if (sl_relax_build(h, in->nl - 1, need, 0, 0) == 0 && sl_relax_run(h) == SL_LP_OPTIMAL) {
    b = h->lp.obj;
    for (int v = 0; v < in->nv; v++) b += sl_inst_vcost(in, v, in->lo[v]);
  } else {
    b = sl_price_lagr(h, need, ub);
  }
  *lp = b;
  double li = b > -INFINITY ? sl_price_lagr_int(h, need, SL_PRICE_INT_ITERS(in->ng), ub, NULL, NULL)
                            : -INFINITY;
  *best = li > b ? li : b;
}
