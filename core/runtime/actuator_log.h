// The `log` actuator: prints every applied change ("t=4.0 scale llm/a 2 -> 3: reason") to a
// stream. What `sluice run` uses when no cluster actuator is configured, and what tests read.
#pragma once

#include <stdio.h>

#include "core/state/actuator.h"
#include "core/state/observer.h"

sl_actuator_t *sl_actuator_log_new(FILE *out);
void sl_actuator_log_free(sl_actuator_t *a);
// Its companion observer: prints every outcome the actuator did not carry out ("hold ...",
// "would scale ..."), each with its reason, to out.
void sl_actuator_log_observer_init(sl_observer_t *o, FILE *out);
