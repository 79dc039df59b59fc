// Guard rules, one at a time, each with the reason it records.
#include <math.h>

#include "core/runtime/guard.h"
#include "tests/unit/tap.h"

static sl_variant_t desc = {.id = "ns/a", .min = 1, .max = 8};

static sl_view_variant_t vv_at(int spec) {
  sl_view_variant_t vv = {.desc = &desc, .spec = spec, .ready = spec};
  for (int i = 0; i < SL_V__COUNT; i++) vv.sig[i] = NAN;
  vv.sig[SL_V_KV_USAGE] = 0.5;
  return vv;
}

static sl_view_model_t model_with_queue(double q) {
  sl_view_model_t m = {.name = "m"};
  for (int i = 0; i < SL_G__COUNT; i++) m.sig[i] = NAN;
  m.sig[SL_G_QUEUE_SIZE] = q;
  return m;
}

int main(void) {
  sl_guard_cfg_t cfg = {0};
  sl_guard_out_t o;
  sl_view_variant_t vv = vv_at(3);
  sl_view_model_t m = model_with_queue(0);

  sl_guard_decide(&cfg, &vv, &m, &(sl_guard_in_t){5, 0, "kv high", 0}, &o);
  T_EQ_INT(o.target, 5, "a request inside bounds passes");
  T_OK(o.change && !o.held, "and is a change");
  T_STR_HAS(o.reason, "kv high", "the policy's reason is kept");

  sl_guard_decide(&cfg, &vv, &m, &(sl_guard_in_t){20, 0, "burst", 0}, &o);
  T_EQ_INT(o.target, 8, "clamped to max");
  T_STR_HAS(o.reason, "capped at max 8", "clamp is explained");

  sl_guard_decide(&cfg, &vv, &m, &(sl_guard_in_t){0, 0, "idle", 0}, &o);
  T_EQ_INT(o.target, 1, "raised to min");
  T_STR_HAS(o.reason, "raised to min 1", "raise is explained");

  cfg.max_step = 2;
  sl_guard_decide(&cfg, &vv, &m, &(sl_guard_in_t){8, 0, "x", 0}, &o);
  T_EQ_INT(o.target, 5, "max_step limits the increase");
  sl_guard_decide(&cfg, &vv, &m, &(sl_guard_in_t){1, 0, "x", 0}, &o);
  T_EQ_INT(o.target, 1, "a decrease within max_step passes");
  cfg.max_step = 1;
  sl_guard_decide(&cfg, &vv, &m, &(sl_guard_in_t){1, 0, "x", 0}, &o);
  T_EQ_INT(o.target, 2, "max_step limits the decrease");
  T_STR_HAS(o.reason, "step limited to 1", "step limit is explained");
  cfg.max_step = 0;

  vv.stale = 1;
  vv.age = 95;
  sl_guard_decide(&cfg, &vv, &m, &(sl_guard_in_t){6, 0, "x", 0}, &o);
  T_OK(o.held && o.target == 3 && !o.change, "stale data holds");
  T_STR_HAS(o.reason, "stale data (freshest sample 95s old)", "stale hold names the age");
  vv.stale = 0;

  sl_guard_decide(&cfg, &vv, &m, &(sl_guard_in_t){-1, 1, "boom at x.lua:3", 0}, &o);
  T_OK(o.held && o.target == 3, "a failed policy holds");
  T_STR_HAS(o.reason, "boom at x.lua:3", "and the failure is the reason");

  sl_guard_decide(&cfg, &vv, &m, &(sl_guard_in_t){-1, 0, NULL, 0}, &o);
  T_OK(o.held && o.target == 3, "no opinion holds");

  sl_view_variant_t empty = vv_at(3);
  empty.sig[SL_V_KV_USAGE] = NAN;
  sl_view_model_t nomodel = model_with_queue(NAN);
  sl_guard_decide(&cfg, &empty, &nomodel, &(sl_guard_in_t){1, 0, "x", 0}, &o);
  T_OK(o.held && o.target == 3, "no data at all: no scale-down");
  T_STR_HAS(o.reason, "no data", "missing-data hold is explained");
  sl_guard_decide(&cfg, &empty, &nomodel, &(sl_guard_in_t){4, 0, "x", 0}, &o);
  T_EQ_INT(o.target, 4, "no data does not block a scale-up");

  desc.min = 0;
  sl_view_variant_t zero = vv_at(0);
  sl_view_model_t queued = model_with_queue(2);
  sl_guard_decide(&cfg, &zero, &queued, &(sl_guard_in_t){0, 0, "idle", 1}, &o);
  T_EQ_INT(o.target, 1, "scale-from-zero starts one replica for a queued request");
  T_STR_HAS(o.reason, "scale from zero: 2 queued", "and says so");
  sl_guard_decide(&cfg, &zero, &queued, &(sl_guard_in_t){0, 0, "idle", 0}, &o);
  T_EQ_INT(o.target, 0, "without the policy's permission it stays at zero");
  sl_guard_decide(&cfg, &zero, &queued, &(sl_guard_in_t){-1, 1, "err", 1}, &o);
  T_EQ_INT(o.target, 1, "scale-from-zero applies even when the policy failed");
  sl_guard_decide(&cfg, &zero, &queued, &(sl_guard_in_t){0, 0, "placed on the other", 1, 2}, &o);
  T_EQ_INT(o.target, 0, "not while a sibling variant of the model has replicas set");
  T_STR_HAS(o.reason, "placed on the other", "the policy's decision stands");
  sl_guard_decide(&cfg, &vv, &m, &(sl_guard_in_t){0, 0, "idle", 1}, &o);
  T_EQ_INT(o.target, 0, "with min 0, scaling to zero is allowed");

  cfg.paused = 1;
  sl_guard_decide(&cfg, &vv, &m, &(sl_guard_in_t){6, 0, "x", 0}, &o);
  T_OK(o.held && o.target == 3 && !strcmp(o.reason, "paused"), "paused holds everything");
  return tap_done();
}
