// The tick pipeline, stage by stage: the view from the store, the deciders that are due, and per
// variant the vote, the guard, the variant's actuator and the observers. The controller runs the
// stages in order each tick (core/runtime/controller.c); nothing here knows whether the clock is
// real or simulated, or what filled the store.
#pragma once

#include <stdint.h>

#include "core/runtime/guard.h"
#include "core/runtime/vote.h"
#include "core/state/actuator.h"
#include "core/state/clock.h"
#include "core/state/config.h"
#include "core/state/decider.h"
#include "core/state/observer.h"
#include "core/state/store.h"
#include "core/state/view.h"

typedef struct sl_pipeline {
  sl_clock_t *clock;
  sl_store_t *store;
  const sl_config_t *config; // read at every tick (window, guard, interval may change)
  sl_actuator_t **actuators; // per configured variant (borrowed)
  sl_view_t view;
  int *order;      // view index -> configured index
  sl_last_t *last; // per configured variant
  sl_decider_t **deciders;
  int ndeciders;
  sl_decision_t *scratch; // per decider x view variant
  unsigned char *due;     // per decider: runs this tick
  sl_vote_ballot_t *ballots;
  uint64_t ticks;
  sl_observer_t **observers;
  int nobservers;
} sl_pipeline_t;

int sl_pipeline_init(sl_pipeline_t *p, const sl_config_t *cfg, sl_clock_t *clock, sl_store_t *store,
                     sl_err_t *err);
void sl_pipeline_deinit(sl_pipeline_t *p);
// Adds a decider (borrowed). Its `manages` must have cfg->nvariants entries.
int sl_pipeline_add_decider(sl_pipeline_t *p, sl_decider_t *d, sl_err_t *err);
// Sets the actuator of configured variant i, or of every variant when i < 0 (borrowed).
void sl_pipeline_set_actuator(sl_pipeline_t *p, int i, sl_actuator_t *a);
int sl_pipeline_add_observer(sl_pipeline_t *p, sl_observer_t *o, sl_err_t *err);
// Forgets an observer (one that goes away before the pipeline does); unknown ones are ignored.
void sl_pipeline_remove_observer(sl_pipeline_t *p, sl_observer_t *o);
// Tells every observer about a decider event.
void sl_pipeline_decider_event(sl_pipeline_t *p, const sl_decider_event_t *e);

// ---- the stages of one tick, in order -----------------------------------------------------------

// Marks the deciders due at `now`; returns how many (0: nothing to do this tick).
int sl_pipeline_due(sl_pipeline_t *p, double now);
// Rebuilds the view from the store at `now`.
int sl_pipeline_build_view(sl_pipeline_t *p, double now, sl_err_t *err);
// Runs every due decider on the view; a failure is recorded, its variants will hold.
void sl_pipeline_decide(sl_pipeline_t *p, double now);
// Per variant: the vote of its due deciders, the guard, its actuator, the observers.
void sl_pipeline_apply(sl_pipeline_t *p, double now);

// The time the next decider is due.
double sl_pipeline_next_due(const sl_pipeline_t *p);
// What decider k decided for view variant vi at its latest run (requested -1: no opinion,
// SL_VOTE_FAILED: the run failed, d->last_error says why), or NULL when out of range or it never
// ran. *this_tick (may be NULL) tells whether that run was in the latest tick, i.e. whether it
// voted in this tick's outcomes. For observers that explain a vote.
const sl_decision_t *sl_pipeline_decision(const sl_pipeline_t *p, int k, int vi, int *this_tick);
