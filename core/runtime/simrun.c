// A policy's simulated run through the controller. See simrun.h.
#include "core/runtime/simrun.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/runtime/controller.h"
#include "core/sim/world.h"

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

// The configuration a simulated run starts from: the cluster's variants and inventory, a 1 s
// tick and 60 s window until the policy says otherwise, the one policy (if it is Lua).
static void run_config(const sl_config_t *cluster, const char *file, sl_policy_cfg_t *pc,
                       sl_config_t *cfg) {
  *cfg = *cluster; // shallow: variants stay the cluster's (the world maps them back by address)
  cfg->interval = 1;
  cfg->window = 60;
  cfg->guard = (sl_guard_cfg_t){0, 60, 0, 0};
  cfg->path = NULL; // errors name the policy file, not a configuration entry
  cfg->policy_dir = ".";
  memset(pc, 0, sizeof *pc);
  pc->file = (char *)file;
  cfg->policies = file ? pc : NULL;
  cfg->npolicies = file ? 1 : 0;
}

int sl_simrun_check(const sl_config_t *cluster, const char *file, sl_err_t *err) {
  sl_config_t cfg;
  sl_policy_cfg_t pc;
  run_config(cluster, file, &pc, &cfg);
  sl_clock_t clock;
  sl_clock_init_sim(&clock, 0);
  sl_controller_t c;
  sl_controller_opts_t co = {&cfg, &clock, 64, getenv("SLUICE_LUA_PATH"), 0};
  int rc = sl_controller_init(&c, &co, err);
  if (rc < 0) return rc;
  rc = sl_controller_load_policies(&c, err);
  sl_controller_deinit(&c);
  return rc;
}

int sl_simrun(sl_sim_t *s, const sl_simrun_policy_t *p, sl_sim_result_t *res, sl_err_t *err) {
  const sl_sim_opts_t *o = &s->o;
  memset(res, 0, sizeof *res);
  snprintf(res->policy, sizeof res->policy, "%s", p->name);
  double t_wall = wall_now();
  sl_config_t cfg;
  sl_policy_cfg_t pc;
  run_config(&o->cluster->cfg, p->file, &pc, &cfg);
  sl_clock_t clock;
  sl_clock_init_sim(&clock, 0);
  sl_controller_t c;
  sl_sim_world_t *world = NULL;
  // The store's depth is set below, once the policy's sampling is known.
  sl_controller_opts_t co = {&cfg, &clock, 64, getenv("SLUICE_LUA_PATH"), 0};
  int rc = sl_controller_init(&c, &co, err);
  if (rc < 0) goto out_nocontroller;

  // The policy first: its own settings decide how the world samples its signals.
  double period = NAN, scrape = NAN, lag = NAN, window = NAN;
  if (p->file) {
    if ((rc = sl_controller_load_policies(&c, err)) < 0) goto out;
    sl_slot_info_t si;
    if (sl_host_slot_info(&c.host, 0, &si) == 0) {
      period = si.period;
      scrape = si.scrape_interval;
      lag = si.lag;
      window = si.window;
    }
  } else {
    if ((rc = sl_controller_add_decider(&c, p->decider, err)) < 0) goto out;
    period = p->decider->period > 0 ? p->decider->period : NAN;
    scrape = p->scrape_interval;
    lag = p->lag;
    window = p->window;
  }
  res->period = isnan(period) ? 1 : period;
  res->scrape_interval = isnan(scrape) ? 1 : scrape;
  res->lag = isnan(lag) ? 0 : lag;
  res->window = isnan(window) ? 60 : window;
  cfg.window = res->window;
  cfg.interval = res->period;
  // A sample is late only when it is older than the lag plus three scrapes.
  cfg.guard.stale_after = fmax(60, res->lag + 3 * res->scrape_interval);
  {
    // Keep 10 minutes (or the window, if longer) of samples at the finer of scrape and tick.
    double step = fmin(res->scrape_interval, res->period);
    double horizon = fmax(600, 2 * res->window);
    double cap = ceil(horizon / step) + 16;
    c.store->cap = (int)(cap < 64 ? 64 : cap > 4096 ? 4096 : cap);
  }

  if ((rc = sl_sim_world_new(s, c.store, res->scrape_interval, res->lag, res, &world, err)) < 0)
    goto out;
  sl_observer_t *obs = sl_sim_world_observer(world);
  if ((rc = sl_controller_add_source(&c, sl_sim_world_source(world), err)) < 0 ||
      (obs && (rc = sl_controller_add_observer(&c, obs, err)) < 0))
    goto out;
  sl_controller_set_actuator(&c, -1, sl_sim_world_actuator(world));
  // The warm start holds for the first bin: policies decide once their signals have a minute of
  // traffic behind them.
  sl_controller_defer(&c, o->bin_s);
  if ((rc = sl_controller_simulate(&c, err)) < 0) goto out;
  sl_sim_world_finish(world, err);

out:
  sl_sim_world_free(world);
  sl_controller_deinit(&c);
out_nocontroller:
  res->wall_s = wall_now() - t_wall;
  s->total_requests += res->requests;
  s->total_wall += res->wall_s;
  if (rc < 0) sl_record_deinit(&res->rec);
  return rc;
}
