// Lua policies through the host. See lpolicy.h.
#include "core/sim/lpolicy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void detach(sl_sim_policy_t *sp) {
  sl_lpolicy_t *p = (sl_lpolicy_t *)sp;
  if (!p->live) return;
  sl_host_deinit(&p->host);
  p->live = 0;
}

static int attach(sl_sim_policy_t *sp, sl_pipeline_t *pl, const sl_config_t *cfg, sl_clock_t *clock,
                  sl_err_t *err) {
  sl_lpolicy_t *p = (sl_lpolicy_t *)sp;
  detach(sp);
  p->hcfg = *cfg;
  memset(&p->pc, 0, sizeof p->pc);
  p->pc.file = p->file;
  p->hcfg.policies = &p->pc;
  p->hcfg.npolicies = 1;
  p->hcfg.policy_dir = ".";
  int rc = sl_host_init(&p->host, &p->hcfg, clock, pl, getenv("SLUICE_LUA_PATH"), err);
  if (rc < 0) {
    // The host names the configuration entry ("file:line: policies[0]: ..."); here the policy
    // came from the command line, so only what follows matters.
    const char *at = err ? strstr(err->msg, "policies[0]: ") : NULL;
    if (at) memmove(err->msg, at + 13, strlen(at + 13) + 1);
    return rc;
  }
  p->live = 1;
  sl_slot_info_t si;
  if (sl_host_slot_info(&p->host, 0, &si) == 0) {
    sp->period = si.period;
    sp->scrape_interval = si.scrape_interval;
    sp->lag = si.lag;
    sp->window = si.window;
    sp->scale_from_zero = si.scale_from_zero;
  }
  return SL_OK;
}

void sl_lpolicy_init(sl_lpolicy_t *p, const char *file) {
  memset(p, 0, sizeof *p);
  snprintf(p->file, sizeof p->file, "%s", file);
  p->base = (sl_sim_policy_t){.name = p->file, .attach = attach, .detach = detach};
}

int sl_lpolicy_check(sl_lpolicy_t *p, const sl_config_t *cfg, sl_err_t *err) {
  sl_config_t c = *cfg;
  c.interval = 1;
  c.window = 60;
  sl_clock_t clock;
  sl_clock_init_sim(&clock, 0);
  sl_pipeline_t pl;
  sl_actuator_t act = {0};
  int rc = sl_pipeline_init(&pl, &c, &clock, NULL, &act, err);
  if (rc < 0) return rc;
  p->base.period = NAN;
  rc = attach(&p->base, &pl, &c, &clock, err);
  detach(&p->base);
  sl_pipeline_deinit(&pl);
  return rc;
}
