// The policy host: every configured policy as a pipeline decider, with hot reload.
// A changed file is compiled in a fresh VM, checked against the contract, dry-run once on the
// current view with a copy of the live state, and swapped in at the next tick boundary with the
// state copied over. If it fails to load or dry-run, the running version stays. If it then fails
// on each of its first 3 live ticks, the previous version is restored with the state it had.
#pragma once

#include <uv.h>

#include "core/lua/policy.h"
#include "core/state/decider.h"

typedef void (*sl_host_event_fn)(void *ud, const sl_decider_event_t *e);

typedef struct sl_slot sl_slot_t;

typedef struct sl_host {
  const sl_config_t *cfg;
  sl_clock_t *clock;
  const sl_view_t *view; // the view live ticks decide on, for dry runs of new versions
  const int *order;      // view index -> configured index
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

// Loads every policy of the configuration, each as a decider (sl_host_decider). A policy that
// fails to load is a startup error naming file:line. `view` and `order` are where the live view
// will be (the pipeline's): a reload's dry run decides on it.
int sl_host_init(sl_host_t *h, const sl_config_t *cfg, sl_clock_t *clock, const sl_view_t *view,
                 const int *order, const char *module_path, sl_err_t *err);
// The decider of policy i (the configuration's order), NULL past the end.
sl_decider_t *sl_host_decider(sl_host_t *h, int i);
// Carries the state of every policy of `from` over to the policy of `to` loaded from the same
// file, as plain data (when the set of variants changes, a new host takes over). Policies whose
// state cannot be copied start fresh (a warning says so). Returns how many were carried.
int sl_host_adopt_state(sl_host_t *to, sl_host_t *from);
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
  const char *path; // where the source was found ("policies/hpa.lua" for a canned one)
  int version;
  uint64_t runs, failures;
  double period;
  int on_probation;
  // The policy file's signal settings (NaN when unset) and scale-from-zero, for `sluice sim`.
  double scrape_interval, lag, window;
  int scale_from_zero;
} sl_slot_info_t;
int sl_host_slot_info(const sl_host_t *h, int i, sl_slot_info_t *out);

// ---- for the REPL -------------------------------------------------------------------------------

// Pushes onto `to` (another VM) a plain-data copy of policy i's "params" or "state", as it is
// now: never a reference into the policy's VM (sl_policy_copy_data).
int sl_host_policy_data(sl_host_t *h, int i, const char *which, lua_State *to, sl_err_t *err);
// Sets policy i's parameter at `path` (dot-separated: "target", "hpa.tolerance") to `value`,
// read as a YAML scalar would be in `params:` ('"16"' is a string, 16 a number, true a boolean),
// with the configuration's type rules and the policy's validate(). In effect from the next tick;
// a version waiting to swap in gets it too. A later reload starts from the configured params.
int sl_host_set_param(sl_host_t *h, int i, const char *path, const char *value, sl_err_t *err);

typedef struct {
  int slot;        // the running policy it was matched with (-1: none)
  int fresh_state; // it started from a fresh state (no match, or that state could not be copied)
  char name[132];  // the policy's name, from the file
  char note[SL_ERR_MAX];
} sl_host_dry_t;
// Loads src (the text of `path`) as a policy and runs it once on the live view, the way a reload
// is dry-run, without swapping it in: matched to a running policy by file name, else by policy
// name, it gets that policy's params overrides, limits, variants and a copy of its state;
// unmatched, every variant, its own defaults and a fresh state. out[] has one decision per view
// variant. Nothing is actuated and no running policy changes.
int sl_host_dry_run(sl_host_t *h, const char *src, size_t len, const char *path, sl_decision_t *out,
                    sl_host_dry_t *res, sl_err_t *err);
