// Actuators carry the guard's decisions out: `log` prints them; the simulator and the Kubernetes
// `scale` actuator implement the same interface.
#pragma once

#include <stdio.h>

#include "core/state/config.h"
#include "core/util/err.h"

typedef struct sl_actuator {
  const char *name;
  // Sets the variant's desired replicas. Called only for changes the guard approved.
  int (*scale)(struct sl_actuator *a, const sl_variant_t *v, int from, int to, const char *reason,
               double now, sl_err_t *err);
  void (*free)(struct sl_actuator *a);
  void *ud;
} sl_actuator_t;

// Prints "t=… scale ns/name 2 -> 3: reason" lines to `out`.
sl_actuator_t *sl_actuator_log_new(FILE *out);
void sl_actuator_free(sl_actuator_t *a);
// "12:04:31.5Z" for wall-clock times, "t=31.5" for simulated ones.
void sl_format_time(double t, char *buf, size_t n);
