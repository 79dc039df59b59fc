// The fixture source: replays recorded views from a YAML file into the store, one frame per tick.
// For tests, `sluice check`, and the demo. A frame gives variants' replica counts, view signals
// (canonical names), pods with signals or raw exposition metrics (mapped through the alias
// table), gateway signals per model, and inventory. See docs/fixtures.md.
#pragma once

#include "core/state/config.h"
#include "core/state/source.h"
#include "core/state/store.h"
#include "core/util/yval.h"

typedef struct sl_fixture {
  sl_ydoc_t doc;
  const sl_yval_t *frames; // sequence
  int nframes;
  int next;           // next frame to apply
  sl_source_t source; // sync = the next frame at each tick (sl_fixture_step)
} sl_fixture_t;

// Loads and validates every frame against the configuration (unknown variant ids, signal names,
// phases and metric names are errors naming file:line).
// A gzip'd file (what `sluice run --record` writes) is read too, up to this much inflated.
#define SL_FIXTURE_MAX_INFLATED (1 << 30)
int sl_fixture_load(sl_fixture_t *f, const char *path, const sl_config_t *cfg, sl_err_t *err);
// Frame i's recorded time (`t:`), or NaN when it has none.
double sl_fixture_time(const sl_fixture_t *f, int i);
// Whether the policy `name` ran on frame i as recorded (`ran:`): 1, 0, or -1 when the frame
// does not say.
int sl_fixture_ran(const sl_fixture_t *f, int i, const char *name);
int sl_fixture_load_buffer(sl_fixture_t *f, const char *buf, size_t len, const char *name,
                           const sl_config_t *cfg, sl_err_t *err);
void sl_fixture_deinit(sl_fixture_t *f);
// Writes frame i (clamped to the last) into the store at time `now`.
int sl_fixture_apply(sl_fixture_t *f, int i, sl_store_t *st, double now, sl_err_t *err);
// Applies the next frame (the last one repeats once the file is exhausted). Returns the frame
// index applied.
int sl_fixture_step(sl_fixture_t *f, sl_store_t *st, double now, sl_err_t *err);
