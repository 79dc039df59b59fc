// The policy host: every configured policy as a pipeline decider, with hot reload.
// A changed file is compiled in a fresh VM, checked against the contract, dry-run once on the
// current view with a copy of the live state, and swapped in at the next tick boundary with the
// state copied over. If it fails to load or dry-run, the running version stays. If it then fails
// on each of its first 3 live ticks, the previous version is restored with the state it had.
#pragma once

#include <uv.h>

#include "core/lua/policy.h"
#include "core/runtime/pipeline.h"

typedef enum {
  SL_HOST_LOADED,    // first load at start
  SL_HOST_RELOADED,  // a new version passed its checks and will decide from the next tick
  SL_HOST_SWAPPED,   // the new version is now deciding
  SL_HOST_REJECTED,  // a new version failed to load or dry-run; the old one keeps running
  SL_HOST_RESTORED,  // the new version failed its first ticks; the previous one is back
  SL_HOST_FAILED,    // a live tick failed (variants held)
} sl_host_event_kind_t;

const char *sl_host_event_name(sl_host_event_kind_t k);

typedef struct {
  sl_host_event_kind_t kind;
  const char *file;   // as configured
  int version;        // version now deciding (or offered, for REJECTED)
  const char *message;
} sl_host_event_t;

typedef void (*sl_host_event_fn)(void *ud, const sl_host_event_t *e);

typedef struct sl_slot sl_slot_t;

typedef struct sl_host {
  const sl_config_t *cfg;
  sl_clock_t *clock;
  sl_pipeline_t *pipeline;
  sl_slot_t **slots;
  int nslots;
  const char *module_path;
  sl_host_event_fn on_event;
  void *on_event_ud;
  // watching
  uv_loop_t *loop;
  uv_fs_event_t watch;
  uv_timer_t poll, debounce;
  int watching;
} sl_host_t;

// Loads every policy of the configuration and registers it with the pipeline. A policy that
// fails to load is a startup error naming file:line.
int sl_host_init(sl_host_t *h, const sl_config_t *cfg, sl_clock_t *clock, sl_pipeline_t *p,
                 const char *module_path, sl_err_t *err);
void sl_host_deinit(sl_host_t *h);
// Re-reads every policy file and offers changed ones for reload. Returns how many changed.
int sl_host_check_files(sl_host_t *h);
// Watches the policy directory (inotify through libuv, including a ConfigMap's ..data symlink
// swap) and polls every poll_s seconds as a fallback. Close with sl_host_unwatch before the loop
// ends.
int sl_host_watch(sl_host_t *h, uv_loop_t *loop, double poll_s, sl_err_t *err);
void sl_host_unwatch(sl_host_t *h);

// Introspection (REPL, specs, /metrics).
typedef struct {
  const char *file, *name;
  int version;
  uint64_t runs, failures;
  double period;
  int on_probation;
} sl_slot_info_t;
int sl_host_slot_info(const sl_host_t *h, int i, sl_slot_info_t *out);
