// The observer interface: who hears what the data path did. Every variant's outcome of every
// tick, and every event of a decider's code (loaded, reloaded, rejected, ...). The decision log,
// Kubernetes Events, /metrics, the REPL and the simulator's recorder are observers.
#pragma once

#include "core/state/config.h"
#include "core/state/decider.h"

// What happened to one variant in one tick.
typedef struct {
  const sl_variant_t *variant;
  int current, requested, target, change, held, actuated;
  char reason[SL_REASON_MAX];
  const char *policy; // the decider whose vote carried (NULL: none, or a combined reason)
  const char *inputs; // what it reported deciding on (JSON object text, "" when nothing)
} sl_outcome_t;

// What a shadow policy decided for one variant in one tick: reported beside the live outcome,
// never voted or actuated (`shadow: true` in sluice.yaml's policies).
typedef struct {
  const sl_variant_t *variant;
  const char *policy;
  int current;   // the variant's replicas now (spec)
  int requested; // what the shadow asks for: >= 0, -1 no opinion, -2 its run failed
  const char *reason;
  const char *inputs; // JSON object text, "" when nothing
} sl_shadow_t;

struct sl_view;

typedef struct sl_observer {
  void (*outcome)(struct sl_observer *o, double now, const sl_outcome_t *out); // may be NULL
  void (*decider_event)(struct sl_observer *o, const sl_decider_event_t *e);   // may be NULL
  void *ud;
  void (*shadow)(struct sl_observer *o, double now, const sl_shadow_t *s); // may be NULL
  // The view the policies are about to decide on, every tick they decide (may be NULL);
  // due[k] says whether deciders[k] runs on it.
  void (*view)(struct sl_observer *o, const struct sl_view *v, sl_decider_t *const *deciders,
               const unsigned char *due, int ndeciders);
} sl_observer_t;
