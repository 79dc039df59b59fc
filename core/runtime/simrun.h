// One policy replayed against a simulated cluster: a controller on a simulated clock whose
// source, actuator and observer are the simulator's world (core/sim/world.h). The policy's own
// settings decide how its signals are sampled (signals = {scrape_interval, lag, window}) and how
// often it runs (period): 1 s scrapes with no lag over a 60 s window and a 1 s period when it
// leaves them to the defaults.
#pragma once

#include "core/sim/sim.h"
#include "core/state/decider.h"

typedef struct {
  const char *name;                    // in results and the decisions file
  const char *file;                    // a Lua policy: canned name ("hpa") or a path; or NULL and:
  sl_decider_t *decider;               // a decider in C (tests), borrowed, with its signal settings
  double scrape_interval, lag, window; // (NaN: the defaults)
} sl_simrun_policy_t;

// Loads a Lua policy once against the cluster's configuration, outside any run, so a bad name or
// file is reported before anything is simulated.
int sl_simrun_check(const sl_config_t *cfg, const char *file, sl_err_t *err);
// Replays the session's trace for one policy into res (sl_sim_result_deinit frees it).
int sl_simrun(sl_sim_t *s, const sl_simrun_policy_t *p, sl_sim_result_t *res, sl_err_t *err);
