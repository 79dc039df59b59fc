// The sandboxed LuaJIT VM every scaling policy runs in: one lua_State per policy with its own
// memory cap, the JIT engine off, a restricted global environment, require limited to sluice.*,
// guarded string patterns, and a per-call instruction budget that pcall inside the policy cannot
// swallow. docs/sandbox.md describes what a policy sees.
#pragma once

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "core/state/clock.h"
#include "core/util/err.h"

typedef struct sl_vm sl_vm_t;

#define SL_VM_DEFAULT_MEM_LIMIT           ((size_t)64 << 20)
#define SL_VM_DEFAULT_INSTR_BUDGET        10000000ull
#define SL_VM_DEFAULT_MAX_PATTERN_SUBJECT ((size_t)1 << 20)
#define SL_VM_DEFAULT_TIME_LIMIT          1.0 // seconds of wall-clock time per call
#define SL_VM_MAX_TIME_LIMIT              60.0
// What one call may write through print and sluice.log; the rest is counted and suppressed.
#define SL_VM_LOG_MAX_LINES 100
#define SL_VM_LOG_MAX_BYTES ((size_t)16 << 10)
#define SL_VM_MIN_MEM_LIMIT ((size_t)1 << 20)
// Tables nested deeper than this are refused by sl_vm_copy_plain.
#define SL_VM_COPY_MAX_DEPTH 64

typedef struct {
  size_t mem_limit;           // bytes this VM may hold (default 64 MiB when 0)
  uint64_t instr_budget;      // VM instructions per sl_vm_pcall (default 10,000,000 when 0)
  size_t max_pattern_subject; // string pattern functions refuse longer subjects (default 1 MiB)
  sl_clock_t *clock;          // os.time()/os.clock() read this (must not be NULL)
  const char *module_path;    // optional dir searched for sluice.* Lua modules (lua/ tree);
                              // NULL = embedded only
  double time_limit;          // wall-clock seconds per sl_vm_pcall (default 1 s when 0); it
                              // holds inside C functions too (see watchdog.h)
} sl_vm_opts_t;

// NULL and err filled on failure (including "LuaJIT must be built with GC64").
sl_vm_t *sl_vm_new(const sl_vm_opts_t *opts, sl_err_t *err);
void sl_vm_free(sl_vm_t *vm);
lua_State *sl_vm_state(sl_vm_t *vm);

// Compiles source text (never bytecode) as chunk `chunkname` (e.g. "@policies/hpa.lua") with a
// fresh sandbox environment and pushes the compiled function. Syntax errors → SL_EPARSE with
// "file:line: msg"; bytecode → SL_EPARSE; memory cap while compiling → SL_EBUDGET.
int sl_vm_load(sl_vm_t *vm, const char *src, size_t len, const char *chunkname, sl_err_t *err);

// The single way into Lua: calls the function below nargs args with a fresh instruction budget
// and wall-clock deadline (when not nested in another sl_vm_pcall on this VM), a traceback
// handler and error mapping:
//   SL_EBUDGET  instruction budget, time limit or memory cap exceeded; the message says which
//               and where
//   SL_ENOMEM   the system allocator failed
//   SL_EINVAL   a Lua runtime error: "file:line: msg", then "\nstack traceback:\n..."
// Leaves nresults values (or all, for LUA_MULTRET) on success and nothing on failure; the
// function and args are consumed either way. The VM is usable again after any failure.
int sl_vm_pcall(sl_vm_t *vm, int nargs, int nresults, sl_err_t *err);

// Runs fn(L, ud) as sl_vm_pcall runs a Lua function: under the budget, the deadline and the
// memory cap, with the same error mapping. For host code that reads or writes policy-owned
// values: whatever it triggers (an allocation failure, a budget trip) is that call's error.
int sl_vm_protect(sl_vm_t *vm, int (*fn)(lua_State *L, void *ud), void *ud, int nargs, int nresults,
                  sl_err_t *err);

// Raises the time-limit error when the current call is past its deadline. For C functions that
// loop (sorting, collecting garbage) so they stop within the bound themselves.
void sl_vm_check_deadline(lua_State *L);

// Benchmarks only: switches the wall-clock deadline off (0) or on (1, the default) for every VM,
// so the cost of the bound can be measured against the same work without it.
void sl_vm_bench_deadlines(int on);

// Names the VM in messages it logs itself ("policies/x.lua: 12 log lines suppressed").
void sl_vm_set_name(sl_vm_t *vm, const char *name);
// Counts one line of policy output against the call's cap; 0 when it must be suppressed.
int sl_vm_log_allow(lua_State *L, size_t bytes);

// Checks that the value at idx of L is plain data, with the rules and messages of
// sl_vm_copy_plain (root names it), without copying it.
int sl_vm_check_plain(lua_State *L, int idx, size_t max_bytes, const char *root, sl_err_t *err);

// Deep-copies a plain-data value (nil, boolean, number, string, tables of those with string or
// number keys and no metatable) from `from` at index idx onto the top of `to` (from may equal to).
// Rejects functions, userdata, threads, metatables, cycles, nesting deeper than
// SL_VM_COPY_MAX_DEPTH tables, or more than max_bytes of content (0 = no limit) with SL_EINVAL
// naming the offending path ("state.window[3]: function values cannot be kept in state").
// Content is string bytes plus 8 per number or boolean and 8 per table. On failure nothing is
// pushed. The memory cap of `to` applies (SL_EBUDGET).
int sl_vm_copy_plain(lua_State *from, int idx, lua_State *to, size_t max_bytes, sl_err_t *err);
// The same, with `root` naming the value in paths and messages instead of "state".
int sl_vm_copy_plain_named(lua_State *from, int idx, lua_State *to, size_t max_bytes,
                           const char *root, sl_err_t *err);

size_t sl_vm_mem_used(sl_vm_t *vm);
// The highest sl_vm_mem_used since the VM was created.
size_t sl_vm_mem_peak(sl_vm_t *vm);
// Instructions (and instruction-equivalents charged for pattern steps and allocation) used by
// the last (or current) outermost sl_vm_pcall.
uint64_t sl_vm_instr_used(sl_vm_t *vm);

// Registers a C module opener available to `require "sluice.<name>"` inside the sandbox (the
// kernels' bindings). `name` may be given as "model" or as "sluice.model". Registering a name
// again replaces its opener for modules not yet required.
void sl_vm_preload(sl_vm_t *vm, const char *name, lua_CFunction open);
