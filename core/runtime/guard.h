// The guard: the last word before actuation. Clamps to [min, max], limits the step, holds on
// stale data, never scales down on missing data, applies scale-from-zero, honours pause and
// dry-run, and writes down why for every outcome.
#pragma once

#include "core/state/config.h"
#include "core/state/decider.h"
#include "core/state/view.h"

typedef struct {
  int requested;       // combined request, -1 = no opinion
  int failed;          // a policy voting on this variant failed this tick
  const char *reason;  // the policies' reason, or the failure
  int allow_from_zero; // some voting policy enables scale-from-zero
  int model_spec;      // replicas set across all of the model's variants (this one too)
} sl_guard_in_t;

typedef struct {
  int target; // replicas to set (== current when held)
  int change; // target differs from current
  int held;   // the guard kept current replicas for a reason of its own
  char reason[SL_REASON_MAX];
} sl_guard_out_t;

void sl_guard_decide(const sl_guard_cfg_t *cfg, const sl_view_variant_t *vv,
                     const sl_view_model_t *vm, const sl_guard_in_t *in, sl_guard_out_t *out);
