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

// How one request ended, as the per-request hook and the --requests file see it.
typedef enum {
  SL_SIM_MET,     // within the SLO (or the variant has none)
  SL_SIM_TTFT,    // completed, over the TTFT target only
  SL_SIM_ITL,     // completed, over the ITL target only
  SL_SIM_BOTH,    // completed, over both
  SL_SIM_DROPPED, // timed out in the gateway's queue, or can never fit a KV cache
  SL_SIM_CUT,     // still in flight when its draining pod's grace ended
} sl_sim_outcome_t;

const char *sl_sim_outcome_name(sl_sim_outcome_t o);

typedef struct {
  double t_arrive;
  int model, variant; // variant -1 when never routed
  long long replica;  // the pod's creation number, -1 when never routed
  uint32_t in, out, cached;
  double ttft_ms, itl_ms, e2e_ms; // NaN when not served (itl: also for one-token outputs)
  sl_sim_outcome_t outcome;
} sl_sim_request_t;

// What a world may do differently from a policy's run.
typedef struct {
  const int *warm; // Ready replicas per variant at time 0 (NULL: the session's warm start)
  int zero_start;  // a scheduled pod is Ready at once, with no cold start
  void (*on_request)(void *ud, const sl_sim_request_t *r); // every request as it ends, or NULL
  void *ud;
} sl_sim_world_cfg_t;

// A world for one run of session s, filling `store`, sampled every scrape_interval seconds and
// delivered `lag` seconds later, with its results in res. Starts warm (s->warm Ready at 0).
int sl_sim_world_new(sl_sim_t *s, sl_store_t *store, double scrape_interval, double lag,
                     sl_sim_result_t *res, sl_sim_world_t **out, sl_err_t *err);
// The same with cfg (NULL: as above).
int sl_sim_world_new_cfg(sl_sim_t *s, sl_store_t *store, double scrape_interval, double lag,
                         const sl_sim_world_cfg_t *cfg, sl_sim_result_t *res, sl_sim_world_t **out,
                         sl_err_t *err);
void sl_sim_world_free(sl_sim_world_t *w);
sl_source_t *sl_sim_world_source(sl_sim_world_t *w);
sl_actuator_t *sl_sim_world_actuator(sl_sim_world_t *w);
// The decisions-file observer, or NULL when the session writes none.
sl_observer_t *sl_sim_world_observer(sl_sim_world_t *w);
// After the run: what needs the whole replay (latency percentiles, reaction time, the bins).
void sl_sim_world_finish(sl_sim_world_t *w, sl_err_t *err);
