// Lua policies in the simulator: each run loads the policy through the policy host
// (core/lua/host.h), the same way `sluice run` does, into that run's pipeline, with fresh state,
// and takes the policy file's own period, signal settings (scrape_interval, lag, window) and
// scale_from_zero for the run.
#pragma once

#include "core/lua/host.h"
#include "core/sim/sim.h"

typedef struct {
  sl_sim_policy_t base; // first: pass &p.base to sl_sim_run
  char file[512];       // canned policy name ("hpa") or a path
  sl_config_t hcfg;     // the run's configuration with this policy in it, for the host
  sl_policy_cfg_t pc;
  sl_host_t host;
  int live;
} sl_lpolicy_t;

// file: a canned policy name or a policy file (relative to the working directory).
void sl_lpolicy_init(sl_lpolicy_t *p, const char *file);
// Loads the policy once outside any run, to report a bad name or file before simulating.
int sl_lpolicy_check(sl_lpolicy_t *p, const sl_config_t *cfg, sl_err_t *err);
