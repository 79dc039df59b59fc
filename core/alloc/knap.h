// One model group on its own: the exact small integer programs the allocator solves many times
// (largest capacity that fits, cheapest replicas that reach a capacity) and the LP relaxation
// used for prices and bounds. Each group has few variants, so branch and bound is fast.
#pragma once

#include "core/alloc/inst.h"

typedef struct {
  int *ord;      // variant order for the search (indices into the group's variants)
  int *x, *bx;   // extra replicas above the minimum: current and best
  int *ub;       // per item: most extra replicas
  int *s1;       // per item: extra replicas charged at the removal price (below current)
  double *p1, *p2;  // per item: price of a replica in each segment
  double *segp;  // segments sorted by price per req/s: price, rate, item, which
  int *segi;
  long *avail;   // per type, working copy
  double need, tol, best;
  double *rate;  // per item
  int m, nseg;
  long nodes, limit;
  int exact;     // the last call finished its search
} sl_knap_t;

int sl_knap_init(sl_inst_t *in, sl_knap_t *k);

// Largest capacity (req/s, not capped at demand) group g reaches with at most avail[t] GPUs of
// each type counting its minimums; -1 when the minimums alone do not fit.
double sl_knap_maxcap(sl_inst_t *in, sl_knap_t *k, int g, const long *avail);

// Cheapest replicas of group g with capacity >= need, at most avail[t] GPUs per type (NULL: no
// limit), each replica costing money x f_v plus mu[t] per GPU (mu may be NULL). Writes n[v] for
// the group's variants and returns the cost, or INFINITY when need cannot be reached.
double sl_knap_mincost(sl_inst_t *in, sl_knap_t *k, int g, const long *avail, double money,
                       const double *mu, double need, int *n);
// The same, keeping at least base[v] replicas of each variant (base >= min).
double sl_knap_mincost_from(sl_inst_t *in, sl_knap_t *k, int g, const long *avail, double money,
                            const double *mu, double need, const int *base, int *n);

// LP relaxation of sl_knap_mincost without availability. Adds the GPUs it uses to use[t] (may
// be NULL); returns INFINITY when need exceeds the group's maximum capacity.
double sl_knap_frac(sl_inst_t *in, sl_knap_t *k, int g, double money, const double *mu,
                    double need, double *use);
