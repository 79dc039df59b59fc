// The heuristic's state, shared by its stages: the instance and its subproblem workspace, the
// current, best and start solutions, the requirement each group must keep, the LP workspace, the
// GPU prices and LP solution that one stage leaves for the next, and scratch arrays the stages
// borrow. Also what several stages ask of it: a group's best response to what is free, the
// requirement that keeps every group's service, and the ruin-and-recreate moves' random numbers.
#pragma once

#include "core/alloc/inst.h"
#include "core/alloc/knap.h"
#include "core/alloc/lp.h"

#define SL_HS_NSTART    4    // starts kept for the local search
#define SL_HS_XCHG_MAXQ 16   // largest lump of GPUs an exchange moves
#define SL_HS_RR_MAX    6    // most groups ruined at once
#define SL_HS_BAN_PRICE 1e30 // a price that rules a type out without producing inf * 0

typedef struct {
  sl_inst_t *in;
  sl_knap_t kn;
  sl_sol_t s;                       // current solution
  sl_sol_t best, keep;              // best of several starts; the state before a stage
  double *req;                      // per group: capacity the final stages must keep
  long *av;                         // per type scratch
  int *nb, *nb2;                    // per variant scratch replicas
  double *mu, *mu2, *mu3, *fu, *sg; // per type
  int *ord;                         // per group scratch
  double *key;                      // per group scratch
  int *heap;                        // per group
  double *xgain, *xloss, *xdp;      // exchange tables: per group and lump size
  int *xextra, *xpick;
  // segment tables of the fairness LP: per group, sorted segments beyond the minimums
  int *sbeg;       // [ng+1]
  double *sp, *sr; // price per req/s, capacity req/s
  int *st;         // type of the segment's variant
  double *su;      // GPUs per req/s of the segment's variant
  double *base;    // per group: capacity of the minimums
  // LP relaxation
  sl_lp_t lp;
  int lp_ready;     // workspace allocated (instance small enough)
  int *grow, *trow; // row of each group / type, or -1
  int *colv;        // variant of each LP column, or -1
  int tcol;         // the max-min column of a fairness LP
  double *nstar;    // per variant: replicas in the LP solution
  double cov_lp;    // LP bound of the last cover (-INFINITY if none) ...
  double *cov_need; // ... for these needs, at these prices
  double *cov_mu;
  double *tneed; // per group: targets of the fairness bisection
  unsigned long long rng;
  int *maxk;                     // per type: most GPUs of a replica that can still be added
  long stop;                     // in->work at which the running local search stops
  long budget, spent;            // work the local search may do in all, and has done
  sl_sol_t starts[SL_HS_NSTART]; // starts for the local search, best first
  int nstart;
} sl_hs_t;

// Allocates the state in the instance's arena (the LP workspace only when the instance is
// small enough for the dense solver). SL_OK or SL_ENOMEM.
int sl_hs_init(sl_inst_t *in, sl_hs_t *h);

// Best response of group g to availability av: the largest served capacity it can reach, then
// the cheapest way to reach it. Writes nb; returns its capacity (or -1 if the minimums do not fit).
double sl_hs_best_response(sl_hs_t *h, int g, const long *av, int *nb);
// Requirement that keeps each group's service: its demand if served in full, else what it has.
void sl_hs_set_req(sl_hs_t *h, const sl_sol_t *s);

// Deterministic pseudo-random numbers for the ruin-and-recreate moves (splitmix64), seeded from
// the instance's size so results never depend on anything but the canonical instance.
unsigned long long sl_hs_rand(sl_hs_t *h);
int sl_hs_rand_below(sl_hs_t *h, int n);
