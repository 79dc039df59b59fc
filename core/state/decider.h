// The decider interface: what decides replicas for variants each tick. Policies (Lua, through
// the host in core/lua) are deciders; so is anything a test or tool plugs in. A decider fills one
// decision per view variant it manages, or fails, and its variants then hold.
#pragma once

#include <stdint.h>

#include "core/state/view.h"
#include "core/util/err.h"

#define SL_REASON_MAX 512
#define SL_INPUTS_MAX 512

// One decision of one decider for one view variant.
typedef struct {
  int requested; // -1 = no opinion
  char reason[SL_REASON_MAX];
  // What the decider reports it decided on, as a JSON object ({"kv":0.91,"load":27}), or ""
  // when it reported nothing (decision.inputs in a Lua policy; docs/view.md).
  char inputs[SL_INPUTS_MAX];
} sl_decision_t;

typedef struct sl_decider {
  const char *name;
  // Fills out[i] for view variant i (only for variants it manages) and returns 0, or a negative
  // code with err describing the failure.
  int (*decide)(struct sl_decider *d, sl_view_t *view, sl_decision_t *out, sl_err_t *err);
  void *ud;
  double period;          // seconds between runs
  double next_due;        // pipeline time of the next run
  int scale_from_zero;    // lets the guard start a replica for a queued request at zero
  unsigned char *manages; // per configured variant: 1 if this decider votes on it
  uint64_t runs, failures;
  char last_error[SL_ERR_MAX];
  int shadow; // decides and is reported (the observers' `shadow`), never votes
} sl_decider_t;

// What happened to a decider's code: loaded, replaced on the fly, refused, restored, failed.
typedef enum {
  SL_DECIDER_LOADED,   // first load at start
  SL_DECIDER_RELOADED, // a new version passed its checks and will decide from the next tick
  SL_DECIDER_SWAPPED,  // the new version is now deciding
  SL_DECIDER_REJECTED, // a new version failed to load or dry-run; the old one keeps running
  SL_DECIDER_RESTORED, // the new version failed its first ticks; the previous one is back
  SL_DECIDER_FAILED,   // a live tick failed (variants held)
} sl_decider_event_kind_t;

typedef struct {
  sl_decider_event_kind_t kind;
  const char *file; // as configured
  int version;      // version now deciding (or offered, for REJECTED)
  const char *message;
} sl_decider_event_t;

const char *sl_decider_event_name(sl_decider_event_kind_t k);
