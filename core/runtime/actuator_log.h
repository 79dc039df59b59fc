// The `log` actuator: prints every applied change ("t=4.0 scale llm/a 2 -> 3: reason") to a
// stream. What `sluice run` uses when no cluster actuator is configured, and what tests read.
#pragma once

#include <stdio.h>

#include "core/state/actuator.h"
#include "core/state/observer.h"
#include "core/util/map.h"

sl_actuator_t *sl_actuator_log_new(FILE *out);
void sl_actuator_log_free(sl_actuator_t *a);
// Its companion observer: prints every outcome the log actuator did not print itself ("hold
// ...", "would scale ..."), each with its reason, to out; with `applied` set also the changes
// another actuator carried out ("scale ... 2 -> 3: reason"), in the log actuator's form; and
// what shadow policies decided ("shadow slo llm/a wants 4 (at 3): reason").
typedef struct {
  sl_observer_t obs; // add &printer.obs to the controller
  FILE *out;
  int applied;
  int changes_only; // a variant's hold is printed only when its line differs from the last,
                    // a shadow's decision only when the replicas it wants change
  sl_map_t last;    // variant id -> hash of the last line printed (changes_only)
} sl_actuator_log_printer_t;
void sl_actuator_log_printer_init(sl_actuator_log_printer_t *p, FILE *out, int applied,
                                  int changes_only);
void sl_actuator_log_printer_deinit(sl_actuator_log_printer_t *p);
