// The source interface: what fills the store. Live sources work asynchronously on the
// controller's loop (Kubernetes informers, scrapers, the Prometheus source) and write as data
// arrives; a fixture writes its next recorded frame at each tick; the simulator is a
// discrete-event world the controller advances from one tick to the next. Nothing downstream of
// the store knows which kind filled it.
#pragma once

#include "core/state/store.h"
#include "core/util/err.h"

struct uv_loop_s;

typedef struct sl_source {
  const char *name;
  // Optional. Live sources start their I/O on the loop, writing into the store as data arrives.
  int (*start)(struct sl_source *s, struct uv_loop_s *loop, sl_store_t *store, sl_err_t *err);
  void (*stop)(struct sl_source *s);
  // Optional. At each tick, before the view is built: bring the store up to `now`.
  int (*sync)(struct sl_source *s, sl_store_t *store, double now, sl_err_t *err);
  // Optional, discrete-event sources (at most one per controller): run every event that comes
  // before the tick due at `tick_at` (INFINITY: no tick is due). Returns 1 when the world stopped
  // for that tick, 0 when it has ended, or a negative code.
  int (*advance)(struct sl_source *s, double tick_at, sl_err_t *err);
  // Optional: 1 once the source has delivered a first complete picture (informers synced).
  int (*ready)(struct sl_source *s);
  void *ud;
} sl_source_t;
