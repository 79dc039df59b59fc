// The actuator interface: what carries the guard's decisions out. One per variant (chosen in
// configuration): the `log` actuator prints them, the simulator sets its workloads' desired
// replicas, and cluster mode's `scale`, `metric` and `keda-metrics-api` actuators implement the
// same call.
#pragma once

#include "core/state/config.h"
#include "core/util/err.h"

typedef struct sl_actuator {
  const char *name;
  // Sets the variant's desired replicas. Called only for changes the guard approved.
  int (*scale)(struct sl_actuator *a, const sl_variant_t *v, int from, int to, const char *reason,
               double now, sl_err_t *err);
  void (*free)(struct sl_actuator *a); // may be NULL (the owner frees it)
  void *ud;
} sl_actuator_t;
