// One model group's part of a solution: its cost, capacity and GPUs, what it could use, and the
// order in which the fairness moves visit groups. Shared by the stages of the heuristic.
#pragma once

#include "core/alloc/inst.h"

// Cost of group g's replicas in s, transition penalty included.
double sl_group_cost(const sl_inst_t *in, const sl_sol_t *s, int g);
// av[t] = GPUs group g could use on type t: what is free plus what it holds.
void sl_group_avail(const sl_inst_t *in, const sl_sol_t *s, int g, long *av);

// Capacity and cost of group g with replicas n (indexed by variant, like sl_sol_t.n).
double sl_group_capof(const sl_inst_t *in, int g, const int *n);
double sl_group_costof(const sl_inst_t *in, int g, const int *n);
// Gives group g the replicas n in s (totals kept up to date).
void sl_group_apply(const sl_inst_t *in, sl_sol_t *s, int g, const int *n);

// GPUs of type t that group g holds in s.
long sl_group_use_t(const sl_inst_t *in, const sl_sol_t *s, int g, int t);
// Whether group g has a variant on type t that serves and can grow beyond its minimum.
int sl_group_has_t(const sl_inst_t *in, int g, int t);

// Lower served fraction first, then canonical index: the order in which the fairness stage
// visits groups (its heaps and scans), so ties never depend on anything but names.
int sl_group_less(const sl_inst_t *in, const sl_sol_t *s, int a, int b);
