// The decision log: one JSON line per applied decision — time, variant, from, to, the policy
// whose vote carried, its reason and the inputs it reported — for log pipelines that parse what
// the controller did. An observer of the controller's outcomes.
//
//   {"ts":"2026-12-07T18:54:20.1Z","variant":"llm/a","from":1,"to":3,"policy":"slo",
//    "reason":"...","inputs":{"demand_rps":41.2}}
//
// and for a shadow policy (`shadow: true`), a line whenever the replicas it wants change:
//
//   {"ts":"...","variant":"llm/a","shadow":"slo","current":3,"wants":4,"reason":"..."}
#pragma once

#include <stdio.h>

#include "core/state/observer.h"
#include "core/util/map.h"

typedef struct {
  sl_observer_t obs; // add &log.obs to the controller
  FILE *out;
  long lines;
  sl_map_t shadows; // "policy\x1fvariant" -> what it wanted at its last line
} sl_decision_log_t;

void sl_decision_log_init(sl_decision_log_t *l, FILE *out);
void sl_decision_log_deinit(sl_decision_log_t *l);
int sl_decision_log_format_shadow(double now, const sl_shadow_t *s, char *buf, size_t n);
// The line for one outcome into buf (without the newline); its length, or -1 when it does not fit.
int sl_decision_log_format(double now, const sl_outcome_t *o, char *buf, size_t n);
