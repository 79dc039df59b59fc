// The log actuator. See actuator_log.h.
#include "core/runtime/actuator_log.h"

#include <stdlib.h>

#include "core/state/clock.h"

static int log_scale(sl_actuator_t *a, const sl_variant_t *v, int from, int to, const char *reason,
                     double now, sl_err_t *err) {
  FILE *out = a->ud;
  char when[32];
  sl_clock_format(now, when, sizeof when);
  fprintf(out, "%s scale %s %d -> %d: %s\n", when, v->id, from, to, reason);
  fflush(out);
  return SL_OK;
}

sl_actuator_t *sl_actuator_log_new(FILE *out) {
  sl_actuator_t *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->name = "log";
  a->scale = log_scale;
  a->ud = out;
  return a;
}

void sl_actuator_log_free(sl_actuator_t *a) {
  free(a);
}
