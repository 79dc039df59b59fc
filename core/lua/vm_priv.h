// The VM's internals (vm.c): the state behind sl_vm_t and the calls the sandbox library
// (sandbox.c) and the bindings need to charge, trip and collect. Nothing outside core/lua
// includes this.
#pragma once

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "core/lua/vm.h"

enum {
  SL_VM_ABORT_NONE = 0,
  SL_VM_ABORT_BUDGET = 1, // instruction budget spent
  SL_VM_ABORT_MEM = 2,    // memory cap reached
  SL_VM_ABORT_TIME = 3,   // wall-clock deadline passed
};

typedef struct {
  char name[64]; // full module name, "sluice.model"
  lua_CFunction open;
} sl_vm_preload_t;

struct sl_vm {
  lua_State *L;
  sl_clock_t *clock;
  double mono0; // os.clock() origin
  char *module_path;
  size_t max_pattern_subject;

  // Memory: every byte LuaJIT holds goes through vm_alloc.
  size_t mem, mem_peak, mem_limit;
  size_t gc_at;     // run a full collection when mem passes this during a call
  int hook_gcs;     // collections the hook ran in this call
  uint64_t nallocs; // allocator calls so far (0 after lua_newstate = no custom allocators)
  int sys_oom;      // the system allocator failed

  // Budget for the current outermost sl_vm_pcall.
  uint64_t budget, used;
  double time_limit, deadline; // seconds; deadline on sl_watchdog_now's clock, 0 outside calls
  int armed;                   // the watchdog knows this call
  volatile int expired;        // set by the watchdog when the deadline passed
  unsigned hooks;              // hook runs in this call (the clock is read every 16th)
  // Output written through print / sluice.log in the current call.
  int log_lines;
  size_t log_bytes;
  uint64_t log_suppressed;
  char name[256];
  int hook_every;        // count-hook period in instructions
  int depth;             // sl_vm_pcall nesting
  int strict;            // > 0: the cap binds even outside a call (copies, loads)
  int abort;             // SL_VM_ABORT_*; once set, every instruction raises until depth is 0
  int rearmed;           // hook already switched to every instruction
  uintptr_t cstack_base; // frame address of the outermost sl_vm_pcall (0 outside calls)

  char where[256];              // last known "file:line" of policy code (for memory errors)
  char abort_msg[SL_ERR_MAX];   // the first line of the budget/memory error
  char handler_msg[SL_ERR_MAX]; // written by the traceback handler without allocating
  int handler_ran;

  sl_vm_preload_t *preload;
  int npreload, cappreload;
};

// The VM owning L (any thread of it), or NULL if L was not created by sl_vm_new.
sl_vm_t *sl_vm_from(lua_State *L);
// Budget left in the current call, in instructions (the whole budget outside calls).
uint64_t sl_vm_remaining(sl_vm_t *vm);
// Counts n instruction-equivalents of work done in C against the current call.
void sl_vm_charge(sl_vm_t *vm, uint64_t n);
// Marks the call as aborted (SL_VM_ABORT_*), records the calling Lua location, makes every
// further instruction raise, and raises "file:line: <what>". Does not return.
int sl_vm_trip(lua_State *L, sl_vm_t *vm, int why, const char *what);
// C stack that callbacks from our C functions into Lua (gsub with a function, require) may use
// below the outermost sl_vm_pcall. LuaJIT does not bound this recursion itself.
#define SL_VM_MAX_CSTACK ((uintptr_t)1 << 20)
// Raises "C stack overflow" when the C stack is deeper than SL_VM_MAX_CSTACK.
void sl_vm_check_cstack(lua_State *L, sl_vm_t *vm);
// A full garbage collection; inside a call it runs in steps that stop at the deadline.
void sl_vm_collect(lua_State *L, sl_vm_t *vm);
// Formats a byte count for messages ("64.0 MiB").
void sl_vm_fmt_bytes(char *buf, size_t n, size_t bytes);
