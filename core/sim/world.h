// One replay of a trace against a simulated cluster: every model's trace merged in time order,
// the gateway and its flow-control queue, the pods and their model servers, the probe that
// samples them into the store the way Prometheus or a direct scraper would, and the recorder.
// To the controller (core/runtime) it is three things: a discrete-event source (its events run
// between ticks, and the probe fills the store), an actuator (a variant's desired replicas) and
// an observer (the decisions file). Nothing here knows about policies.
#pragma once

#include "core/sim/sim.h"
#include "core/state/actuator.h"
#include "core/state/observer.h"
#include "core/state/source.h"

typedef struct sl_sim_world sl_sim_world_t;

// A world for one run of session s, filling `store`, sampled every scrape_interval seconds and
// delivered `lag` seconds later, with its results in res. Starts warm (s->warm Ready at 0).
int sl_sim_world_new(sl_sim_t *s, sl_store_t *store, double scrape_interval, double lag,
                     sl_sim_result_t *res, sl_sim_world_t **out, sl_err_t *err);
void sl_sim_world_free(sl_sim_world_t *w);
sl_source_t *sl_sim_world_source(sl_sim_world_t *w);
sl_actuator_t *sl_sim_world_actuator(sl_sim_world_t *w);
// The decisions-file observer, or NULL when the session writes none.
sl_observer_t *sl_sim_world_observer(sl_sim_world_t *w);
// After the run: what needs the whole replay (latency percentiles, reaction time, the bins).
void sl_sim_world_finish(sl_sim_world_t *w, sl_err_t *err);
