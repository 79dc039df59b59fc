// Seeded random allocator instances for tests and benchmarks: model groups of several sizes
// (1B to 405B parameters), accelerator types with realistic speed and cost spreads, GPUs per
// replica 1-8 as the model's memory requires, demand scaled to a chosen load of the inventory.
// The same seed gives the same instance on every machine.
#pragma once

#include "core/alloc/alloc.h"

typedef struct {
  int ngroups;
  int ntypes;     // 1..6, taken from a fixed catalogue (L4, L40S, Gaudi2, A100, H100, MI300X)
  long gpus;      // total inventory, split over the types in whole 8-GPU nodes
  double load;    // GPUs the demand needs at each group's most GPU-efficient variant / inventory
  int levels;     // priority levels (1: all groups equal)
  double current; // probability that a group already runs replicas (transition penalty)
  double min_one; // probability that a group keeps a minimum of one replica somewhere
  unsigned long long seed;
} sl_allocgen_opts_t;

typedef struct {
  sl_alloc_problem_t p;
  sl_alloc_group_t *groups;
  sl_alloc_variant_t *variants;
  sl_alloc_type_t *types;
  char *names; // storage for every name and id
} sl_allocgen_t;

void sl_allocgen_opts_init(sl_allocgen_opts_t *o);
int sl_allocgen_make(const sl_allocgen_opts_t *o, sl_allocgen_t *out, sl_err_t *err);
void sl_allocgen_deinit(sl_allocgen_t *g);

// The generator's random numbers (splitmix64), exposed so tests draw from the same source.
typedef struct {
  unsigned long long s;
} sl_allocgen_rng_t;
unsigned long long sl_allocgen_next(sl_allocgen_rng_t *r);
double sl_allocgen_uniform(sl_allocgen_rng_t *r); // [0, 1)
