// The log actuator. See actuator_log.h.
#include "core/runtime/actuator_log.h"

#include <stdint.h>
#include <stdio.h>
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

static void print_outcome(sl_observer_t *ob, double now, const sl_outcome_t *o) {
  const sl_actuator_log_printer_t *pr = ob->ud;
  FILE *out = pr->out;
  char when[32];
  sl_clock_format(now, when, sizeof when);
  if (o->actuated) {
    if (pr->applied) {
      fprintf(out, "%s scale %s %d -> %d: %s\n", when, o->variant->id, o->current, o->target,
              o->reason);
      fflush(out);
    }
    return;
  }
  if (pr->changes_only) {
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(o->change ? o->target : o->current);
    for (const char *c = o->reason; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    h |= 1;
    uintptr_t *last =
        (uintptr_t *)sl_map_get(&((sl_actuator_log_printer_t *)pr)->last, o->variant->id);
    if ((uintptr_t)last == (uintptr_t)h) return;
    sl_map_put(&((sl_actuator_log_printer_t *)pr)->last, o->variant->id, (void *)(uintptr_t)h);
  }
  fprintf(out, "%s %s %s at %d: %s\n", when, o->change ? "would scale" : "hold", o->variant->id,
          o->change ? o->target : o->current, o->reason);
  fflush(out);
}

// "shadow POLICY VARIANT wants N (at M): reason"; with changes_only, only when N changes.
static void print_shadow(sl_observer_t *ob, double now, const sl_shadow_t *s) {
  sl_actuator_log_printer_t *pr = ob->ud;
  if (pr->changes_only) {
    char key[512];
    snprintf(key, sizeof key, "shadow\x1f%s\x1f%s", s->policy, s->variant->id);
    uintptr_t v = (uintptr_t)(s->requested + 16) | ((uintptr_t)1 << 40);
    if ((uintptr_t)sl_map_get(&pr->last, key) == v) return;
    sl_map_put(&pr->last, key, (void *)v);
  }
  char when[32], wants[32];
  sl_clock_format(now, when, sizeof when);
  if (s->requested >= 0)
    snprintf(wants, sizeof wants, "wants %d", s->requested);
  else
    snprintf(wants, sizeof wants, "%s", s->requested == -1 ? "has no opinion" : "failed");
  fprintf(pr->out, "%s shadow %s %s %s (at %d): %s\n", when, s->policy, s->variant->id, wants,
          s->current, s->reason);
  fflush(pr->out);
}

void sl_actuator_log_printer_init(sl_actuator_log_printer_t *p, FILE *out, int applied,
                                  int changes_only) {
  p->out = out;
  p->applied = applied;
  p->changes_only = changes_only;
  sl_map_init(&p->last);
  p->obs = (sl_observer_t){.outcome = print_outcome, .ud = p, .shadow = print_shadow};
}

void sl_actuator_log_printer_deinit(sl_actuator_log_printer_t *p) {
  sl_map_deinit(&p->last);
}
