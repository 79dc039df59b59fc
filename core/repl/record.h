// What the REPL remembers of the data path, as an observer of the controller: per variant, the
// last outcome with what its deciders saw and voted that tick (for `variants`, `explain` and the
// Lua `decisions`/`outcomes`), and a bounded ring of policy events (for `errors` and `reload`).
// Everything is copied when it happens, so it reads the same however the view moves on later.
#pragma once

#include <stdint.h>

#include "core/runtime/controller.h"

// One voter's ballot in a variant's last outcome.
typedef struct {
  int decider;   // pipeline index
  int requested; // -1 no opinion, SL_VOTE_FAILED
  int won;       // its request and reason carried
  int shadow;    // a shadow policy: decided, did not vote
  char reason[SL_REASON_MAX];
  char inputs[SL_INPUTS_MAX];
} sl_repl_ballot_t;

// A variant's last outcome and what it was decided on.
typedef struct {
  int seen; // an outcome was recorded
  double at;
  uint64_t tick;
  // the outcome
  int current, requested, target, change, held, actuated;
  char reason[SL_REASON_MAX];
  int winner; // pipeline index of the decider whose vote carried, -1 when none
  char inputs[SL_INPUTS_MAX];
  // what the deciders saw in the view that tick
  int spec, ready, starting, pending, stale;
  double age;
  double sig[SL_V__COUNT];
  int have_model;
  double model_age;
  double gsig[SL_G__COUNT];
  sl_repl_ballot_t *ballots;
  int nballots, cap;
} sl_repl_last_t;

typedef enum { SL_REPL_EV_LOAD, SL_REPL_EV_RUN, SL_REPL_EV_OTHER } sl_repl_ev_class_t;

// A policy event; repeats of the same failure are folded into one entry with a count.
typedef struct {
  uint64_t seq; // increases with every event recorded (repeats too)
  double first, last;
  unsigned count;
  sl_decider_event_kind_t kind;
  int version;
  char file[256];
  char msg[SL_ERR_MAX];
} sl_repl_event_t;

#define SL_REPL_EVENTS 64

typedef struct sl_repl_record {
  sl_observer_t observer; // added to the controller by sl_repl_record_init
  sl_controller_t *c;
  sl_repl_last_t *last; // per configured variant
  int nvariants;
  sl_repl_event_t events[SL_REPL_EVENTS]; // ring, oldest overwritten
  int nevents, head;
  uint64_t seq;
  // Where the metrics come from, for `targets` (cluster mode; NULL otherwise). Borrowed; kept
  // across a new controller.
  const struct sl_scraper *scraper;
  const struct sl_prom *prom;
} sl_repl_record_t;

int sl_repl_record_init(sl_repl_record_t *r, sl_controller_t *c, sl_err_t *err);
// Removes the observer from the controller and frees the record.
void sl_repl_record_deinit(sl_repl_record_t *r);
// The last outcome of configured variant ci, or NULL when it has had none.
const sl_repl_last_t *sl_repl_record_last(const sl_repl_record_t *r, int ci);
// Event i in time order (0 = oldest kept), NULL past the end.
const sl_repl_event_t *sl_repl_record_event(const sl_repl_record_t *r, int i);
// Whether an event kind is a failure of loading (rejected, restored) or of running (failed).
sl_repl_ev_class_t sl_repl_record_class(sl_decider_event_kind_t kind);
