// Guard rules, in order. See guard.h and README "The guard".
#include "core/runtime/guard.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void say(sl_guard_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(sl_guard_out_t *o, const char *fmt, ...) {
  size_t n = strlen(o->reason);
  if (n >= sizeof o->reason - 1) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->reason + n, sizeof o->reason - n, fmt, ap);
  va_end(ap);
}

static int has_any_signal(const sl_view_variant_t *vv, const sl_view_model_t *vm) {
  for (int i = 0; i < SL_V__COUNT; i++)
    if (!isnan(vv->sig[i])) return 1;
  if (vm)
    for (int i = 0; i < SL_G__COUNT; i++)
      if (!isnan(vm->sig[i])) return 1;
  return 0;
}

void sl_guard_decide(const sl_guard_cfg_t *cfg, const sl_view_variant_t *vv,
                     const sl_view_model_t *vm, const sl_guard_in_t *in, sl_guard_out_t *out) {
  const sl_variant_t *d = vv->desc;
  int current = vv->spec;
  double queued = vm ? vm->sig[SL_G_QUEUE_SIZE] : NAN;
  // Only while the whole model is at zero: with replicas set on a sibling variant the queue
  // waits for those, and starting one here would fight the policy's placement every tick.
  int from_zero =
      in->allow_from_zero && current == 0 && in->model_spec <= 0 && queued > 0 && d->max > 0;
  memset(out, 0, sizeof *out);
  out->target = current;

  if (cfg->paused) {
    out->held = 1;
    say(out, "paused");
    return;
  }
  if (from_zero && (in->failed || in->requested <= 0 || vv->stale)) {
    // A request is waiting and nothing serves it: starting one replica is never wrong.
    out->target = d->min > 1 ? d->min : 1;
    out->change = 1;
    say(out, "scale from zero: %.0f queued at the gateway", queued);
    return;
  }
  if (in->failed) {
    out->held = 1;
    say(out, "hold: %s", in->reason ? in->reason : "policy failed");
    return;
  }
  if (in->requested < 0) {
    out->held = 1;
    say(out, "hold: no decision");
    return;
  }
  if (vv->stale) {
    out->held = 1;
    if (vv->state_age > cfg->stale_after)
      say(out, "hold: stale cluster state (replica counts last confirmed %.0fs ago)",
          vv->state_age);
    else
      say(out, "hold: stale data (freshest sample %.0fs old)", vv->age);
    return;
  }
  int target = in->requested;
  sl_strlcpy(out->reason, in->reason && *in->reason ? in->reason : "policy decision",
             sizeof out->reason);
  if (target < current && !has_any_signal(vv, vm)) {
    out->held = 1;
    out->reason[0] = '\0';
    say(out, "hold: no data, not scaling down from %d", current);
    return;
  }
  if (target < d->min) {
    target = d->min;
    say(out, " (raised to min %d)", d->min);
  } else if (target > d->max) {
    target = d->max;
    say(out, " (capped at max %d)", d->max);
  }
  if (cfg->max_step > 0 && abs(target - current) > cfg->max_step) {
    target = current + (target > current ? cfg->max_step : -cfg->max_step);
    say(out, " (step limited to %d)", cfg->max_step);
  }
  out->target = target;
  out->change = target != current;
}
