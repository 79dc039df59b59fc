// The tick pipeline: store -> view -> deciders (policies) -> vote -> guard -> actuator.
// One pipeline serves `run` (real clock, libuv timer) and `sim` (simulated clock, driven by the
// simulator's event loop); nothing in it knows which.
#pragma once

#include <stdint.h>

#include "core/runtime/actuator.h"
#include "core/state/clock.h"
#include "core/state/config.h"
#include "core/runtime/guard.h"
#include "core/state/store.h"
#include "core/state/view.h"

// One decision of one decider for one view variant.
typedef struct {
  int requested;  // -1 = no opinion
  char reason[SL_REASON_MAX];
} sl_decision_t;

// A decider: a policy (Lua, through the host) or anything else that decides. `decide` fills
// out[i] for view variant i (only for variants it manages) and returns 0, or a negative code with
// err describing the failure (its variants then hold).
typedef struct sl_decider {
  const char *name;
  int (*decide)(struct sl_decider *d, sl_view_t *view, sl_decision_t *out, sl_err_t *err);
  void *ud;
  double period;       // seconds between runs
  double next_due;     // pipeline time of the next run
  int scale_from_zero; // lets the guard start a replica for a queued request at zero
  unsigned char *manages;  // per configured variant: 1 if this decider votes on it
  uint64_t runs, failures;
  char last_error[SL_ERR_MAX];
} sl_decider_t;

// What happened to one variant in one tick (for logs, /metrics, tests).
typedef struct {
  const sl_variant_t *variant;
  int current, requested, target, change, held, actuated;
  char reason[SL_REASON_MAX];
} sl_outcome_t;

typedef void (*sl_outcome_fn)(void *ud, double now, const sl_outcome_t *o);

typedef struct sl_pipeline {
  sl_clock_t *clock;
  sl_store_t *store;
  const sl_config_t *config;
  sl_actuator_t *actuator;
  sl_view_t view;
  int *order;        // view index -> configured index
  sl_last_t *last;   // per configured variant
  sl_decider_t **deciders;
  int ndeciders;
  sl_decision_t *scratch;  // per decider x view variant
  uint64_t ticks;
  sl_outcome_fn on_outcome;
  void *on_outcome_ud;
} sl_pipeline_t;

int sl_pipeline_init(sl_pipeline_t *p, const sl_config_t *cfg, sl_clock_t *clock,
                     sl_store_t *store, sl_actuator_t *actuator, sl_err_t *err);
void sl_pipeline_deinit(sl_pipeline_t *p);
// Adds a decider (borrowed). Its `manages` must have cfg->nvariants entries.
int sl_pipeline_add(sl_pipeline_t *p, sl_decider_t *d, sl_err_t *err);
// Runs one tick at the clock's time: builds the view, runs every decider that is due, combines
// their votes per variant (largest scale-up wins; scale-down only when every voter asks for one,
// then the smallest step), guards and actuates. Deciders that are not due keep their variants
// untouched this tick. Returns the number of deciders that ran.
int sl_pipeline_tick(sl_pipeline_t *p, sl_err_t *err);
// The time the next decider is due.
double sl_pipeline_next_due(const sl_pipeline_t *p);
