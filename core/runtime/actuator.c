// The log actuator.
#include "core/runtime/actuator.h"

#include <stdlib.h>

static int log_scale(sl_actuator_t *a, const sl_variant_t *v, int from, int to, const char *reason,
                     double now, sl_err_t *err) {
  FILE *out = a->ud;
  fprintf(out, "t=%.1f scale %s %d -> %d: %s\n", now, v->id, from, to, reason);
  fflush(out);
  return SL_OK;
}

static void log_free(sl_actuator_t *a) {
  free(a);
}

sl_actuator_t *sl_actuator_log_new(FILE *out) {
  sl_actuator_t *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->name = "log";
  a->scale = log_scale;
  a->free = log_free;
  a->ud = out;
  return a;
}

void sl_actuator_free(sl_actuator_t *a) {
  if (a && a->free) a->free(a);
}
