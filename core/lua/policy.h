// A loaded policy: one sandboxed VM, the policy table checked against the contract (design §4.3,
// docs/view.md "The policy file"), merged params, and its state. Everything a tick needs to call
// decide() and turn its result into decisions, or into a precise failure.
#pragma once

#include <stdint.h>

#include "core/lua/view_lua.h"
#include "core/lua/vm.h"
#include "core/state/decider.h"
#include "core/util/yval.h"

// Policy files larger than this are refused (a real policy is a few KiB; compiling megabytes
// of source would itself take longer than a tick).
#define SL_POLICY_MAX_BYTES ((size_t)4 << 20)

typedef struct {
  const char *src; // policy source text
  size_t len;
  const char *chunkname; // "@policies/hpa.lua": names file:line in errors
  const sl_ydoc_t *doc;  // params overrides: a mapping node in doc, or NULL
  const sl_yval_t *params;
  sl_clock_t *clock;
  size_t mem_limit; // 0 = VM default
  uint64_t budget;  // 0 = VM default
  const char *module_path;
  double time_limit; // seconds per call (0 = VM default)
} sl_policy_opts_t;

typedef struct sl_policy {
  sl_vm_t *vm;
  char *name;
  char *chunkname;
  uint64_t src_hash;
  int ref_decide, ref_params, ref_state, ref_init, ref_validate;
  double period;                       // 0 when the policy does not set one
  double scrape_interval, lag, window; // NaN when unset (signals = {...})
  int scale_from_zero;
  sl_lview_t lv;
} sl_policy_t;

// Compiles, runs the chunk, checks the contract and params. Does not create state.
int sl_policy_load(const sl_policy_opts_t *o, sl_policy_t **out, sl_err_t *err);
void sl_policy_free(sl_policy_t *p);
// Fresh state: an empty table passed to init(params, state) when the policy has one.
int sl_policy_init_state(sl_policy_t *p, sl_err_t *err);
// State copied as plain data from another policy's VM (hot reload).
int sl_policy_copy_state(sl_policy_t *to, sl_policy_t *from, sl_err_t *err);
// Pushes onto `to` a plain-data copy of the policy's "params" or "state" (nil when it has none),
// for another VM to read: never a reference into this one. The rules and limits are those of
// state across a reload (sl_vm_copy_plain); the copy counts against `to`'s memory cap.
int sl_policy_copy_data(sl_policy_t *p, const char *which, lua_State *to, sl_err_t *err);
// Changes the running params: `map` is a YAML mapping of overrides, merged with the rules of
// `params:` in the configuration (a known key, the default's type, "auto" takes a number), then
// the policy's validate() runs on the result. On any refusal the params are unchanged and err
// says why ("bad params: 'target' must be a number, got a string"); otherwise the next tick sees
// the new params.
int sl_policy_override_params(sl_policy_t *p, const sl_yval_t *map, sl_err_t *err);
// One tick: decide(view, params, state) for the variants `manages` marks. Fills out[i] for view
// variant i. Errors (a Lua error, budget or memory overrun, malformed result) name file:line or
// the offending field.
int sl_policy_decide(sl_policy_t *p, sl_view_t *view, const unsigned char *manages,
                     const int *order, uint64_t tick, sl_decision_t *out, sl_err_t *err);
// Finds a policy's source: FILE relative to dir (or absolute), else a canned policy by name
// ("hpa" or "hpa.lua" -> policies/hpa.lua built into the binary). *owned is set when *src must
// be freed. Returns SL_ENOTFOUND naming both places looked at.
int sl_policy_source(const char *dir, const char *file, char **path, char **src, size_t *len,
                     int *owned, sl_err_t *err);
uint64_t sl_hash64(const char *s, size_t n);
