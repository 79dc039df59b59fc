// The allocator against exhaustive search on small random instances (up to 5 groups x 3
// accelerator types): the exact search must reach the best objective; the heuristic alone must
// stay feasible and its bounds must hold against the true optimum.
#include <stdio.h>

#include "tests/unit/alloc_ref.h"
#include "tests/unit/tap.h"

#define INSTANCES 600

static double first_short_min(const ref_key_t *k) {
  for (int l = 0; l < k->nl; l++)
    if (k->cnt[l] && k->frac[l][0] < 1 - 1e-9) return k->frac[l][0];
  return 1;
}

int main(void) {
  int equal = 0, proven = 0, feas = 0, hfeas = 0, hequal = 0, cbound_ok = 0, cbound_n = 0;
  int fbound_ok = 0, fbound_n = 0, shortage_ok = 0, shortages = 0, failures = 0;
  long evals = 0;
  static const double pens[] = {0.1, 0.0, 0.5};
  for (int seed = 1; seed <= INSTANCES; seed++) {
    ref_inst_t x;
    if (seed % 2) ref_random(&x, (unsigned long long)seed, 1, 5, 1, 3, 500000);
    else ref_random(&x, (unsigned long long)seed, 4, 5, 3, 3, 1000000);  // the largest: 4-5 x 3
    double pen = pens[seed % 3];
    ref_bf_t bf;
    ref_bruteforce(&x.p, pen, &bf);
    evals += bf.evals;

    sl_alloc_opts_t o;
    sl_alloc_opts_init(&o);
    o.transition_penalty = pen;
    o.exact_budget = 100000000;
    o.exact_max_groups = 5;
    sl_alloc_result_t r;
    sl_err_t e;
    if (sl_alloc_solve(&x.p, &o, &r, &e)) {
      T_OK(0, "seed %d: solve failed: %s", seed, e.msg);
      sl_alloc_result_deinit(&r);
      continue;
    }
    ref_key_t k;
    ref_key(&x.p, r.replicas, pen, &k);
    int c = ref_cmp(&k, &bf.bk), f = ref_feasible(&x.p, r.replicas);
    equal += c == 0;
    feas += f;
    proven += r.optimal;
    int short_opt = first_short_min(&bf.bk) < 1;
    shortages += short_opt;
    shortage_ok += r.shortage == short_opt;
    if ((c != 0 || !f || !r.optimal) && failures++ < 5) {
      printf("# seed %d: cmp %d feasible %d optimal %d, cost %g vs %g\n", seed, c, f, r.optimal,
             k.cost, bf.bk.cost);
      for (int i = 0; i < x.p.nvariants; i++)
        printf("#   %s: allocator %d, exhaustive %d\n", x.p.variants[i].id, r.replicas[i],
               bf.best[i]);
    }
    sl_alloc_result_deinit(&r);

    // The heuristic alone.
    o.exact_budget = 0;
    if (sl_alloc_solve(&x.p, &o, &r, &e)) {
      T_OK(0, "seed %d: heuristic solve failed: %s", seed, e.msg);
      sl_alloc_result_deinit(&r);
      continue;
    }
    ref_key(&x.p, r.replicas, pen, &k);
    hfeas += ref_feasible(&x.p, r.replicas);
    hequal += ref_cmp(&k, &bf.bk) == 0;
    if (!short_opt) {  // a lower bound on the cost of serving everything
      cbound_n++;
      cbound_ok += r.cost_bound <= bf.bk.cost + 1e-7 * (1 + bf.bk.cost) &&
                   r.lp_cost_bound <= r.cost_bound + 1e-9 * (1 + r.cost_bound);
    } else if (r.shortage) {  // an upper bound on the lowest served fraction of that level
      fbound_n++;
      fbound_ok += r.fair_bound >= first_short_min(&bf.bk) - 1e-7;
    }
    sl_alloc_result_deinit(&r);
  }
  printf("# %d instances, %ld allocations enumerated, %d short of inventory\n", INSTANCES, evals,
         shortages);
  T_EQ_INT(equal, INSTANCES, "allocator reaches the exhaustive-search optimum");
  T_EQ_INT(proven, INSTANCES, "exact search completes and says so");
  T_EQ_INT(feas, INSTANCES, "allocations stay within min/max and inventory");
  T_EQ_INT(shortage_ok, INSTANCES, "shortage is reported exactly when demand cannot be met");
  T_EQ_INT(hfeas, INSTANCES, "heuristic alone stays within min/max and inventory");
  T_EQ_INT(cbound_ok, cbound_n, "cost bound never exceeds the optimal cost");
  T_EQ_INT(fbound_ok, fbound_n, "fairness bound never falls below the optimal lowest fraction");
  T_OK(hequal * 10 >= INSTANCES * 8, "heuristic alone is optimal on most instances (%d of %d)",
       hequal, INSTANCES);
  return tap_done();
}
