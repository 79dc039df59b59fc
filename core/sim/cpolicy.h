// Deciders written in C for the simulator: the stand-in for the canned `target` policy
// (policies/target.lua, the same rule, number for number) used by `sluice sim` until the Lua
// policy host is linked in, and by the simulator's tests.
#pragma once

#include "core/sim/sim.h"

typedef struct {
  double target;      // running requests per replica
  double tolerance;   // no change within this fraction of the target
  double down_after;  // seconds of low load before scaling down
} sl_cpolicy_params_t;

typedef struct sl_cpolicy_run sl_cpolicy_run_t;

typedef struct {
  sl_sim_policy_t base;  // pass &x.base to sl_sim_run
  sl_cpolicy_params_t params;
  sl_cpolicy_run_t *live;  // state of the run in progress
} sl_cpolicy_t;

// The `target` policy with its file's settings: period 1 s, signals scraped every 1 s with no
// lag over a 30 s window, scale-from-zero on. params NULL = its defaults (8, 0.1, 60).
void sl_cpolicy_target(sl_cpolicy_t *p, const sl_cpolicy_params_t *params);
