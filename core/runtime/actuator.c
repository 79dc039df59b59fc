// The log actuator.
#include "core/runtime/actuator.h"

#include <stdlib.h>
#include <time.h>

void sl_format_time(double t, char *buf, size_t n) {
  if (t > 1e8) {  // wall-clock time: UTC, to the tenth of a second
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t k = strftime(buf, n, "%H:%M:%S", &tm);
    snprintf(buf + k, n - k, ".%dZ", (int)((t - (double)s) * 10));
  } else {  // simulated or relative time
    snprintf(buf, n, "t=%.1f", t);
  }
}

static int log_scale(sl_actuator_t *a, const sl_variant_t *v, int from, int to, const char *reason,
                     double now, sl_err_t *err) {
  FILE *out = a->ud;
  char when[32];
  sl_format_time(now, when, sizeof when);
  fprintf(out, "%s scale %s %d -> %d: %s\n", when, v->id, from, to, reason);
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
