// Policy VMs: lifecycle, the capped allocator, the instruction-budget hook, the one protected-call
// wrapper with traceback and error mapping, loading source, and copying plain data between VMs.
//
// Two rules keep LuaJIT's error unwinding (which crosses our C frames) safe:
// - no Lua API call that can allocate (and so raise) runs outside a protected call: host-facing
//   entry points run their Lua work through vm_protect, whose trampoline is created up front;
// - no C frame that a Lua error can unwind holds malloc'd memory.
#include "core/lua/vm.h"

#include <lauxlib.h>
#include <lualib.h>
#include <luajit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lua/sandbox.h"
#include "core/lua/vm_priv.h"
#include "core/lua/watchdog.h"
#include "core/util/log.h"

// Registry keys (addresses only).
static char KEY_TRAMPOLINE, KEY_HANDLER, KEY_CFN;
static int g_deadlines = 1; // sl_vm_bench_deadlines
static int sllua_cfn_trampoline(lua_State *L);

// Work charged per allocated byte: bulk copies (concatenation, string.rep, table.concat) run in
// C without instructions, so their bytes count against the same budget.
#define ALLOC_CHARGE_SHIFT 8
// Full collections the hook may run per call when memory gets close to the cap.
#define MAX_HOOK_GCS 8

// ---- allocator ---------------------------------------------------------------------------------

static void vm_hook(lua_State *L, lua_Debug *ar);

// Refuses an allocation and aborts the call: LuaJIT raises "not enough memory", and the hook,
// switched to every instruction (lua_sethook is safe anywhere, even in here), keeps raising.
static void *alloc_refuse(sl_vm_t *vm, int why) {
  if (!vm->abort) vm->abort = why;
  if (vm->depth > 0 && !vm->rearmed) {
    sl_watchdog_sethook(vm->L, vm_hook, LUA_MASKCOUNT, 1);
    vm->rearmed = 1;
  }
  return NULL;
}

#define HOST_RESERVE ((size_t)1 << 20)

static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  sl_vm_t *vm = ud;
  vm->nallocs++;
  if (ptr == NULL) osize = 0;
  if (nsize == 0) {
    free(ptr);
    vm->mem -= osize;
    return NULL;
  }
  // The cap binds policy code. Outside a call, the host's own few allocations (pushing the view,
  // reading results) get a small reserve above it, so they cannot fail unprotected after a
  // policy filled its VM to the cap.
  size_t limit = vm->depth > 0 || vm->strict > 0 ? vm->mem_limit : vm->mem_limit + HOST_RESERVE;
  if (nsize > osize && vm->mem - osize + nsize > limit) return alloc_refuse(vm, SL_VM_ABORT_MEM);
  if (nsize > osize && vm->depth > 0) {
    vm->used += (nsize - osize) >> ALLOC_CHARGE_SHIFT;
    // A loop of bulk copies can spend the budget between two hook calls: fail the allocation
    // that overspends it (once; the error message itself must still be allocated).
    if (vm->used >= vm->budget && !vm->abort) return alloc_refuse(vm, SL_VM_ABORT_BUDGET);
  }
  void *p = realloc(ptr, nsize);
  if (p == NULL) {
    vm->sys_oom = 1;
    return NULL;
  }
  vm->mem = vm->mem - osize + nsize;
  if (vm->mem > vm->mem_peak) vm->mem_peak = vm->mem;
  return p;
}

sl_vm_t *sl_vm_from(lua_State *L) {
  void *ud = NULL;
  lua_Alloc f = lua_getallocf(L, &ud);
  return f == vm_alloc ? ud : NULL;
}

void sl_vm_fmt_bytes(char *buf, size_t n, size_t bytes) {
  if (bytes >= ((size_t)1 << 20))
    snprintf(buf, n, "%.1f MiB", bytes / 1048576.0);
  else if (bytes >= 1024)
    snprintf(buf, n, "%.1f KiB", bytes / 1024.0);
  else
    snprintf(buf, n, "%zu bytes", bytes);
}

// ---- budget ------------------------------------------------------------------------------------

uint64_t sl_vm_remaining(sl_vm_t *vm) {
  if (vm->depth == 0) return vm->budget;
  return vm->used < vm->budget ? vm->budget - vm->used : 0;
}

void sl_vm_charge(sl_vm_t *vm, uint64_t n) {
  if (vm->depth > 0) vm->used += n;
}

void sl_vm_check_cstack(lua_State *L, sl_vm_t *vm) {
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  if (vm->cstack_base && vm->cstack_base > here && vm->cstack_base - here > SL_VM_MAX_CSTACK)
    luaL_error(L, "C stack overflow (callbacks nested too deeply)");
}

// "file:line" of the innermost Lua function on the stack, "" if there is none. lua_getinfo with
// "Sl" does not allocate, so this is safe at the memory cap.
static void record_where(lua_State *L, char *buf, size_t n) {
  lua_Debug ar;
  for (int level = 0; lua_getstack(L, level, &ar); level++) {
    if (!lua_getinfo(L, "Sl", &ar)) break;
    if (ar.currentline > 0) {
      snprintf(buf, n, "%s:%d", ar.short_src, ar.currentline);
      return;
    }
  }
}

static void format_abort(sl_vm_t *vm, const char *what) {
  if (vm->where[0])
    snprintf(vm->abort_msg, sizeof vm->abort_msg, "%s: %s", vm->where, what);
  else
    snprintf(vm->abort_msg, sizeof vm->abort_msg, "%s", what);
}

static void format_budget(sl_vm_t *vm, char *what, size_t n) {
  snprintf(what, n, "instruction budget exceeded (%llu instructions)",
           (unsigned long long)vm->budget);
}

static void format_time(sl_vm_t *vm, char *what, size_t n) {
  snprintf(what, n, "time limit exceeded (%.0f ms per call)", vm->time_limit * 1e3);
}

// The message for an abort raised where no message could be made (inside the allocator).
static void format_late_abort(sl_vm_t *vm) {
  char lim[32], what[128];
  if (vm->abort == SL_VM_ABORT_BUDGET) {
    format_budget(vm, what, sizeof what);
  } else if (vm->abort == SL_VM_ABORT_TIME) {
    format_time(vm, what, sizeof what);
  } else {
    sl_vm_fmt_bytes(lim, sizeof lim, vm->mem_limit);
    snprintf(what, sizeof what, "memory cap exceeded (limit %s)", lim);
  }
  format_abort(vm, what);
}

static int raise_abort(lua_State *L, sl_vm_t *vm) {
  if (!vm->rearmed) {
    // From now on every instruction lands here, so pcall/xpcall in the policy cannot resume it.
    sl_watchdog_sethook(L, vm_hook, LUA_MASKCOUNT, 1);
    vm->rearmed = 1;
  }
  // Allocating the message can itself fail at the memory cap; that raises too, which is all we
  // need: sl_vm_pcall reports from vm->abort_msg, not from the error object.
  lua_pushstring(L, vm->abort_msg);
  return lua_error(L);
}

int sl_vm_trip(lua_State *L, sl_vm_t *vm, int why, const char *what) {
  if (!vm->abort || !vm->abort_msg[0]) {
    if (!vm->abort) vm->abort = why;
    record_where(L, vm->where, sizeof vm->where);
    format_abort(vm, what);
  }
  return raise_abort(L, vm);
}

static size_t next_gc_at(sl_vm_t *vm) {
  size_t three_quarters = vm->mem_limit / 4 * 3;
  size_t half_headroom = vm->mem + (vm->mem_limit - vm->mem) / 2;
  return half_headroom > three_quarters ? half_headroom : three_quarters;
}

void sl_vm_check_deadline(lua_State *L) {
  sl_vm_t *vm = sl_vm_from(L);
  if (!vm || vm->depth == 0 || !g_deadlines || sl_watchdog_now() < vm->deadline) return;
  char what[96];
  format_time(vm, what, sizeof what);
  sl_vm_trip(L, vm, SL_VM_ABORT_TIME, what);
}

// A full collection in bounded steps: a heap of a few hundred thousand live tables takes longer
// to mark than a call may run, so the deadline is checked between steps.
void sl_vm_collect(lua_State *L, sl_vm_t *vm) {
  if (vm->depth == 0) {
    lua_gc(L, LUA_GCCOLLECT, 0);
    return;
  }
  // Finish the cycle in progress, then run one whole cycle more (what LUA_GCCOLLECT does).
  for (int cycles = 0; cycles < 2;) {
    if (lua_gc(L, LUA_GCSTEP, 64)) cycles++;
    sl_vm_check_deadline(L);
  }
}

static void vm_hook(lua_State *L, lua_Debug *ar) {
  sl_vm_t *vm = sl_vm_from(L);
  if (!vm || vm->depth == 0) return;
  if (vm->abort) {
    if (!vm->abort_msg[0]) {
      record_where(L, vm->where, sizeof vm->where);
      format_late_abort(vm);
    }
    raise_abort(L, vm);
    return;
  }
  vm->used += (uint64_t)vm->hook_every;
  // Keep a location for the errors the allocator raises (LuaJIT calls no handler for them),
  // once the call gets anywhere near either limit.
  if (vm->mem > vm->mem_limit / 2 || vm->used > vm->budget / 2)
    record_where(L, vm->where, sizeof vm->where);
  if (vm->used >= vm->budget) {
    char what[96];
    format_budget(vm, what, sizeof what);
    sl_vm_trip(L, vm, SL_VM_ABORT_BUDGET, what);
    return;
  }
  // The watchdog flags an expired call (and makes the hook run at once when a C function kept
  // the VM past its deadline); every 16th hook also reads the clock itself, in case the
  // watchdog could not start.
  if (g_deadlines &&
      (vm->expired || ((++vm->hooks & 15) == 0 && sl_watchdog_now() >= vm->deadline))) {
    char what[96];
    format_time(vm, what, sizeof what);
    sl_vm_trip(L, vm, SL_VM_ABORT_TIME, what);
    return;
  }
  // Garbage counts against the cap until it is collected; collect before the cap is hit rather
  // than fail an allocation that a collection would have made room for.
  if (vm->mem > vm->gc_at && vm->hook_gcs < MAX_HOOK_GCS) {
    size_t before = vm->mem;
    vm->hook_gcs++;
    sl_vm_collect(L, vm);
    vm->gc_at = next_gc_at(vm);
    // Mostly live data: further collections would cost time and free nothing.
    if (before - vm->mem < vm->mem_limit / 8) vm->hook_gcs = MAX_HOOK_GCS;
  }
}

// ---- protected helpers -------------------------------------------------------------------------

typedef int (*vm_protected_fn)(lua_State *L, void *ud);
typedef struct {
  vm_protected_fn fn;
  void *ud;
} trampoline_t;

static int sllua_trampoline(lua_State *L) {
  trampoline_t *t = lua_touserdata(L, 1);
  lua_remove(L, 1);
  return t->fn(L, t->ud);
}

// Pushes a function cached in the registry under key (no allocation), or the C function itself
// for a state not made by sl_vm_new.
static void push_cached(lua_State *L, void *key, lua_CFunction fallback) {
  lua_pushlightuserdata(L, key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (lua_type(L, -1) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    lua_pushcfunction(L, fallback);
  }
}

// Runs fn(L, ud) in protected mode with the nargs values on top of the stack as its arguments.
// On success leaves nresults results; on failure leaves nothing, copies a string error message
// (if any) into msg and returns the lua_pcall status.
static int vm_protect(lua_State *L, vm_protected_fn fn, void *ud, int nargs, int nresults,
                      char *msg, size_t msglen) {
  trampoline_t t = {fn, ud};
  push_cached(L, &KEY_TRAMPOLINE, sllua_trampoline);
  lua_insert(L, -(nargs + 1));
  lua_pushlightuserdata(L, &t);
  lua_insert(L, -(nargs + 1));
  int st = lua_pcall(L, nargs + 1, nresults, 0);
  if (st != 0) {
    if (msg) {
      const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
      snprintf(msg, msglen, "%s", s ? s : "error");
    }
    lua_pop(L, 1);
  }
  return st;
}

// ---- traceback handler -------------------------------------------------------------------------

typedef struct {
  char *buf;
  size_t cap, len;
} strbuf_t;

static void buf_add(strbuf_t *b, const char *s, size_t n) {
  if (b->len + 1 >= b->cap) return;
  size_t room = b->cap - 1 - b->len;
  if (n > room) n = room;
  memcpy(b->buf + b->len, s, n);
  b->len += n;
  b->buf[b->len] = '\0';
}

// The error text a policy chose: escape sequences and other control characters are written as
// \xNN so they reach no terminal; newlines and tabs stay (messages have several lines).
static void buf_add_text(strbuf_t *b, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      char e[5];
      snprintf(e, sizeof e, "\\x%02x", c);
      buf_add(b, e, 4);
    } else {
      buf_add(b, s + i, 1);
    }
  }
}

static void buf_addf(strbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_addf(strbuf_t *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

// Writes "message\nstack traceback:\n\t..." into vm->handler_msg without allocating anything
// in the VM, so it works at the memory cap, and returns the error object unchanged.
static int sllua_handler(lua_State *L) {
  sl_vm_t *vm = sl_vm_from(L);
  if (!vm) return 1;
  strbuf_t b = {vm->handler_msg, sizeof vm->handler_msg, 0};
  vm->handler_msg[0] = '\0';
  int t = lua_type(L, 1);
  if (t == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, 1, &n);
    buf_add_text(&b, s, n);
  } else if (t == LUA_TNUMBER) {
    buf_addf(&b, "%.14g", lua_tonumber(L, 1));
  } else {
    buf_addf(&b, "(error object is a %s value)", lua_typename(L, t));
  }
  buf_add(&b, "\nstack traceback:", 17);
  lua_Debug ar;
  for (int level = 1; lua_getstack(L, level, &ar); level++) {
    if (level > 22) {
      buf_add(&b, "\n\t...", 5);
      break;
    }
    if (!lua_getinfo(L, "Sln", &ar)) break;
    buf_addf(&b, "\n\t%s:", ar.short_src);
    if (ar.currentline > 0) buf_addf(&b, "%d:", ar.currentline);
    if (ar.namewhat && *ar.namewhat)
      buf_addf(&b, " in function '%s'", ar.name ? ar.name : "?");
    else if (*ar.what == 'm')
      buf_add(&b, " in main chunk", 14);
    else if (*ar.what == 'C')
      buf_add(&b, " in ?", 5);
    else
      buf_addf(&b, " in function <%s:%d>", ar.short_src, ar.linedefined);
  }
  vm->handler_ran = 1;
  lua_settop(L, 1);
  return 1;
}

// ---- lifecycle ---------------------------------------------------------------------------------

static int sllua_panic(lua_State *L) {
  const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
  sl_error("lua: unprotected error in a policy VM: %s", msg);
  abort();
  return 0;
}

static void open_lib(lua_State *L, lua_CFunction open, const char *name) {
  lua_pushcfunction(L, open);
  lua_pushstring(L, name);
  lua_call(L, 1, 0);
}

static int sllua_setup(lua_State *L) {
  sl_vm_t *vm = lua_touserdata(L, 1);
  // Only the pure libraries; io, os, package, debug, jit and ffi are never opened.
  open_lib(L, luaopen_base, "");
  open_lib(L, luaopen_table, LUA_TABLIBNAME);
  open_lib(L, luaopen_string, LUA_STRLIBNAME);
  open_lib(L, luaopen_math, LUA_MATHLIBNAME);
  open_lib(L, luaopen_bit, LUA_BITLIBNAME);
  lua_pushlightuserdata(L, &KEY_TRAMPOLINE);
  lua_pushcfunction(L, sllua_trampoline);
  lua_rawset(L, LUA_REGISTRYINDEX);
  lua_pushlightuserdata(L, &KEY_HANDLER);
  lua_pushcfunction(L, sllua_handler);
  lua_rawset(L, LUA_REGISTRYINDEX);
  lua_pushlightuserdata(L, &KEY_CFN);
  lua_pushcfunction(L, sllua_cfn_trampoline);
  lua_rawset(L, LUA_REGISTRYINDEX);
  sl_sandbox_setup(L, vm);
  return 0;
}

sl_vm_t *sl_vm_new(const sl_vm_opts_t *opts, sl_err_t *err) {
  if (!opts || !opts->clock) {
    sl_err(err, SL_EINVAL, "sl_vm_new: a clock is required");
    return NULL;
  }
  size_t limit = opts->mem_limit ? opts->mem_limit : SL_VM_DEFAULT_MEM_LIMIT;
  if (limit < SL_VM_MIN_MEM_LIMIT) {
    sl_err(err, SL_EINVAL, "mem_limit: %zu bytes is below the minimum of %zu", limit,
           SL_VM_MIN_MEM_LIMIT);
    return NULL;
  }
  sl_vm_t *vm = calloc(1, sizeof *vm);
  if (!vm) goto nomem;
  vm->clock = opts->clock;
  vm->mem_limit = limit;
  vm->budget = opts->instr_budget ? opts->instr_budget : SL_VM_DEFAULT_INSTR_BUDGET;
  vm->hook_every = vm->budget < 1000 ? (int)vm->budget : 1000;
  vm->time_limit = opts->time_limit > 0 ? opts->time_limit : SL_VM_DEFAULT_TIME_LIMIT;
  if (!(vm->time_limit <= SL_VM_MAX_TIME_LIMIT)) {
    sl_err(err, SL_EINVAL, "time_limit: %g s is above the maximum of %g s", opts->time_limit,
           SL_VM_MAX_TIME_LIMIT);
    free(vm);
    return NULL;
  }
  vm->max_pattern_subject =
      opts->max_pattern_subject ? opts->max_pattern_subject : SL_VM_DEFAULT_MAX_PATTERN_SUBJECT;
  if (opts->module_path && !(vm->module_path = strdup(opts->module_path))) goto nomem;

  vm->L = lua_newstate(vm_alloc, vm);
  if (!vm->L) {
    if (vm->nallocs == 0) {
      // Non-GC64 x64 LuaJIT only offers luaL_newstate and its own allocator, so no cap.
      sl_err(err, SL_EINVAL,
             "LuaJIT must be built with GC64: this build refuses lua_newstate with a custom "
             "allocator, which the per-policy memory cap needs");
      sl_vm_free(vm);
      return NULL;
    }
    goto nomem;
  }
  lua_atpanic(vm->L, sllua_panic);
  // LuaJIT never runs hooks inside compiled traces, so the budget needs the interpreter.
  luaJIT_setmode(vm->L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
  if (lua_cpcall(vm->L, sllua_setup, vm) != 0) {
    sl_err(err, vm->sys_oom ? SL_ENOMEM : SL_EBUDGET, "setting up the policy VM: %s",
           lua_type(vm->L, -1) == LUA_TSTRING ? lua_tostring(vm->L, -1) : "out of memory");
    sl_vm_free(vm);
    return NULL;
  }
  lua_settop(vm->L, 0);
  vm->abort = SL_VM_ABORT_NONE;
  vm->gc_at = next_gc_at(vm);
  vm->mono0 = sl_clock_mono(vm->clock);
  sl_err_clear(err);
  return vm;

nomem:
  sl_err(err, SL_ENOMEM, "out of memory creating a policy VM");
  sl_vm_free(vm);
  return NULL;
}

void sl_vm_free(sl_vm_t *vm) {
  if (!vm) return;
  if (vm->L) lua_close(vm->L);
  free(vm->preload);
  free(vm->module_path);
  free(vm);
}

lua_State *sl_vm_state(sl_vm_t *vm) {
  return vm->L;
}

size_t sl_vm_mem_used(sl_vm_t *vm) {
  return vm->mem;
}

size_t sl_vm_mem_peak(sl_vm_t *vm) {
  return vm->mem_peak;
}

void sl_vm_bench_deadlines(int on) {
  g_deadlines = on;
}

void sl_vm_set_name(sl_vm_t *vm, const char *name) {
  snprintf(vm->name, sizeof vm->name, "%s", name);
}

int sl_vm_log_allow(lua_State *L, size_t bytes) {
  sl_vm_t *vm = sl_vm_from(L);
  if (!vm) return 1;
  if (vm->log_lines >= SL_VM_LOG_MAX_LINES || vm->log_bytes + bytes > SL_VM_LOG_MAX_BYTES) {
    vm->log_suppressed++;
    return 0;
  }
  vm->log_lines++;
  vm->log_bytes += bytes;
  return 1;
}

uint64_t sl_vm_instr_used(sl_vm_t *vm) {
  return vm->used;
}

void sl_vm_preload(sl_vm_t *vm, const char *name, lua_CFunction open) {
  char full[sizeof vm->preload[0].name];
  int n = strncmp(name, "sluice.", 7) == 0 ? snprintf(full, sizeof full, "%s", name)
                                           : snprintf(full, sizeof full, "sluice.%s", name);
  if (n <= 7 || (size_t)n >= sizeof full || !open) {
    sl_error("sl_vm_preload: invalid module name '%s'", name);
    return;
  }
  for (int i = 0; i < vm->npreload; i++) {
    if (strcmp(vm->preload[i].name, full) == 0) {
      vm->preload[i].open = open;
      return;
    }
  }
  if (vm->npreload == vm->cappreload) {
    int cap = vm->cappreload ? vm->cappreload * 2 : 8;
    sl_vm_preload_t *p = realloc(vm->preload, (size_t)cap * sizeof *p);
    if (!p) {
      sl_error("sl_vm_preload: out of memory registering '%s'", full);
      return;
    }
    vm->preload = p;
    vm->cappreload = cap;
  }
  memcpy(vm->preload[vm->npreload].name, full, sizeof full);
  vm->preload[vm->npreload].open = open;
  vm->npreload++;
}

// Clears the abort state a failed host-side operation left behind (outside any call only).
static int mem_error(sl_vm_t *vm, sl_err_t *err, const char *doing) {
  int code = SL_ENOMEM;
  char lim[32];
  if (vm && vm->sys_oom) {
    sl_err(err, code, "out of memory %s", doing);
  } else if (vm) {
    sl_vm_fmt_bytes(lim, sizeof lim, vm->mem_limit);
    code = sl_err(err, SL_EBUDGET, "memory cap exceeded (limit %s) %s", lim, doing);
  } else {
    sl_err(err, code, "out of memory %s", doing);
  }
  if (vm && vm->depth == 0) {
    vm->abort = SL_VM_ABORT_NONE;
    vm->sys_oom = 0;
  }
  return code;
}

// ---- load --------------------------------------------------------------------------------------

typedef struct {
  sl_vm_t *vm;
  const char *src, *name;
  size_t len;
  int status;
} load_ctx_t;

static int load_protected(lua_State *L, void *ud) {
  load_ctx_t *c = ud;
  c->status = luaL_loadbufferx(L, c->src, c->len, c->name, "t");
  if (c->status != 0) return lua_error(L);
  sl_sandbox_push_env(L, c->vm);
  lua_setfenv(L, -2);
  return 1;
}

static const char *display_name(const char *chunkname) {
  return (*chunkname == '@' || *chunkname == '=') ? chunkname + 1 : chunkname;
}

int sl_vm_load(sl_vm_t *vm, const char *src, size_t len, const char *chunkname, sl_err_t *err) {
  if (!chunkname) chunkname = "=?";
  if (len > 0 && src[0] == LUA_SIGNATURE[0])
    return sl_err(err, SL_EPARSE, "%s: precompiled bytecode is not accepted; load the source text",
                  display_name(chunkname));
  load_ctx_t c = {vm, src, chunkname, len, 0};
  char msg[SL_ERR_MAX];
  vm->strict++; // compiling policy text is the policy's memory, not the host's
  int st = vm_protect(vm->L, load_protected, &c, 0, 1, msg, sizeof msg);
  vm->strict--;
  if (st == 0) return 0;
  if (c.status == LUA_ERRSYNTAX) {
    if (vm->depth == 0) vm->abort = SL_VM_ABORT_NONE;
    return sl_err(err, SL_EPARSE, "%s", msg);
  }
  if (st == LUA_ERRMEM || c.status == LUA_ERRMEM) {
    char doing[256];
    snprintf(doing, sizeof doing, "while compiling %s", display_name(chunkname));
    return mem_error(vm, err, doing);
  }
  return sl_err(err, SL_EINVAL, "%s", msg);
}

// ---- pcall -------------------------------------------------------------------------------------

// Appends the traceback part of the handler's output (from "\nstack traceback:") to msg.
static void append_traceback(sl_vm_t *vm, char *msg, size_t cap) {
  if (!vm->handler_ran) return;
  const char *tb = strstr(vm->handler_msg, "\nstack traceback:");
  if (!tb) return;
  size_t n = strlen(msg);
  if (n + 1 < cap) snprintf(msg + n, cap - n, "%s", tb);
}

int sl_vm_pcall(sl_vm_t *vm, int nargs, int nresults, sl_err_t *err) {
  lua_State *L = vm->L;
  int fn = lua_gettop(L) - nargs;
  if (fn < 1) return sl_err(err, SL_EINVAL, "sl_vm_pcall: no function below %d arguments", nargs);
  int outer = vm->depth == 0;
  if (outer) {
    vm->used = 0;
    vm->abort = SL_VM_ABORT_NONE;
    vm->sys_oom = 0;
    vm->rearmed = 0;
    vm->hook_gcs = 0;
    vm->where[0] = '\0';
    vm->abort_msg[0] = '\0';
    vm->gc_at = next_gc_at(vm);
    if (vm->mem > vm->gc_at) {
      lua_gc(L, LUA_GCCOLLECT, 0);
      vm->gc_at = next_gc_at(vm);
    }
    vm->log_lines = 0;
    vm->log_bytes = 0;
    vm->log_suppressed = 0;
    vm->deadline = sl_watchdog_now() + vm->time_limit;
    vm->hooks = 0;
    vm->expired = 0;
    vm->armed = g_deadlines && sl_watchdog_arm(L, vm_hook, vm->deadline, &vm->expired) == 0;
    sl_watchdog_sethook(L, vm_hook, LUA_MASKCOUNT, vm->hook_every);
    vm->cstack_base = (uintptr_t)__builtin_frame_address(0);
  } else if (vm->abort) {
    lua_settop(L, fn - 1);
    return sl_err(err, SL_EBUDGET, "%s", vm->abort_msg[0] ? vm->abort_msg : "budget exceeded");
  }
  vm->handler_ran = 0;
  push_cached(L, &KEY_HANDLER, sllua_handler);
  lua_insert(L, fn);
  vm->depth++;
  int st = lua_pcall(L, nargs, nresults, fn);
  vm->depth--;
  lua_remove(L, fn);

  int rc = 0;
  if (st == 0 && outer && vm->abort) {
    // The policy tripped a limit and still got back to us (a tail call returning straight after
    // a caught error): its results do not count.
    lua_settop(L, fn - 1);
    lua_pushnil(L);
    st = LUA_ERRRUN;
  }
  if (st != 0) {
    char msg[SL_ERR_MAX];
    if (vm->abort) {
      if (!vm->abort_msg[0]) format_late_abort(vm);
      snprintf(msg, sizeof msg, "%s", vm->abort_msg);
      append_traceback(vm, msg, sizeof msg);
      rc = sl_err(err, SL_EBUDGET, "%s", msg);
    } else if (vm->sys_oom || st == LUA_ERRMEM) {
      rc = sl_err(err, SL_ENOMEM, "%s%sout of memory", vm->where, vm->where[0] ? ": " : "");
    } else if (st == LUA_ERRERR) {
      rc = sl_err(err, SL_EINVAL, "error in error handling");
    } else if (vm->handler_ran) {
      rc = sl_err(err, SL_EINVAL, "%s", vm->handler_msg);
    } else {
      const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "unknown error";
      rc = sl_err(err, SL_EINVAL, "%s", s);
    }
    lua_pop(L, 1);
  }
  if (outer) {
    vm->cstack_base = 0;
    if (vm->armed) sl_watchdog_disarm(L);
    vm->armed = 0;
    sl_watchdog_sethook(L, NULL, 0, 0);
    if (vm->log_suppressed)
      sl_warn("%s: %llu lines of output suppressed in one call (at most %d lines and %zu bytes "
              "per call)",
              vm->name[0] ? vm->name : "policy", (unsigned long long)vm->log_suppressed,
              SL_VM_LOG_MAX_LINES, SL_VM_LOG_MAX_BYTES);
    if (vm->abort == SL_VM_ABORT_MEM || vm->mem > next_gc_at(vm)) lua_gc(L, LUA_GCCOLLECT, 0);
    vm->abort = SL_VM_ABORT_NONE;
    vm->rearmed = 0;
  }
  return rc;
}

typedef struct {
  int (*fn)(lua_State *L, void *ud);
  void *ud;
} cfn_t;

static int sllua_cfn_trampoline(lua_State *L) {
  cfn_t *c = lua_touserdata(L, 1);
  lua_remove(L, 1);
  return c->fn(L, c->ud);
}

int sl_vm_protect(sl_vm_t *vm, int (*fn)(lua_State *L, void *ud), void *ud, int nargs, int nresults,
                  sl_err_t *err) {
  lua_State *L = vm->L;
  cfn_t c = {fn, ud};
  // The cached sllua_trampoline takes (userdata, args...): the same shape, so no allocation here.
  push_cached(L, &KEY_CFN, sllua_cfn_trampoline);
  lua_insert(L, -(nargs + 1));
  lua_pushlightuserdata(L, &c);
  lua_insert(L, -(nargs + 1));
  return sl_vm_pcall(vm, nargs + 1, nresults, err);
}

// ---- plain-data copy ---------------------------------------------------------------------------

typedef struct {
  lua_State *from, *to;
  sl_vm_t *to_vm;
  int same;     // from == to: the value is the protected function's first argument
  int root_idx; // absolute index of the value in `from` when !same
  size_t max_bytes, bytes;
  const void *anc[SL_VM_COPY_MAX_DEPTH + 1]; // tables being copied, outermost first
  int nanc;
  // Stack indices (in `from`) of the keys leading to the value being copied; the path in
  // messages is only built from them when something is refused.
  int keys[SL_VM_COPY_MAX_DEPTH + 1];
  int nkeys;
  const char *root;
  int code;
  char msg[SL_ERR_MAX];
} copy_ctx_t;

static int is_ident(const char *s, size_t n) {
  if (n == 0 || n > 64) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    int alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
    if (!alpha && !(i > 0 && ch >= '0' && ch <= '9')) return 0;
  }
  return 1;
}

// Appends ".name", ["odd key"], [3] or [<boolean>] for the key at kidx in `from`.
static void path_add_key(copy_ctx_t *c, char *path, size_t cap, int kidx) {
  lua_State *F = c->from;
  size_t len = strlen(path);
  if (len + 1 >= cap) return;
  char *end = path + len;
  size_t room = cap - len;
  switch (lua_type(F, kidx)) {
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(F, kidx, &n);
    if (is_ident(s, n)) {
      snprintf(end, room, ".%.*s", (int)n, s);
    } else {
      char q[40];
      size_t m = 0;
      for (size_t i = 0; i < n && m < 32; i++)
        q[m++] = (s[i] >= 32 && s[i] < 127 && s[i] != '"' && s[i] != '\\') ? s[i] : '?';
      q[m] = '\0';
      snprintf(end, room, "[\"%s%s\"]", q, n > 32 ? "..." : "");
    }
    break;
  }
  case LUA_TNUMBER:
    snprintf(end, room, "[%.14g]", lua_tonumber(F, kidx));
    break;
  default:
    snprintf(end, room, "[<%s>]", lua_typename(F, lua_type(F, kidx)));
    break;
  }
}

static void build_path(copy_ctx_t *c, char *path, size_t cap) {
  snprintf(path, cap, "%s", c->root);
  for (int i = 0; i < c->nkeys; i++) path_add_key(c, path, cap, c->keys[i]);
}

static int copy_refuse(copy_ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int copy_refuse(copy_ctx_t *c, const char *fmt, ...) {
  char what[256], path[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  build_path(c, path, sizeof path);
  c->code = SL_EINVAL;
  snprintf(c->msg, sizeof c->msg, "%s: %s", path, what);
  lua_State *R = c->to ? c->to : c->from; // the state the protected call runs on
  lua_pushboolean(R, 0);                  // error value; the message is in c->msg
  return lua_error(R);
}

static void copy_count(copy_ctx_t *c, size_t n) {
  c->bytes += n;
  if (c->max_bytes && c->bytes > c->max_bytes)
    copy_refuse(c, "more than %zu bytes of content cannot be kept in %s", c->max_bytes, c->root);
}

static void copy_value(copy_ctx_t *c, int fidx);

static void copy_table(copy_ctx_t *c, int fidx) {
  lua_State *F = c->from, *T = c->to;
  const void *self = lua_topointer(F, fidx);
  for (int i = 0; i < c->nanc; i++)
    if (c->anc[i] == self)
      copy_refuse(c, "cycles cannot be kept in %s (this table contains itself)", c->root);
  if (c->nanc >= SL_VM_COPY_MAX_DEPTH)
    copy_refuse(c, "tables nested more than %d deep cannot be kept in %s", SL_VM_COPY_MAX_DEPTH,
                c->root);
  if (lua_getmetatable(F, fidx)) {
    lua_pop(F, 1);
    copy_refuse(c, "tables with metatables cannot be kept in %s", c->root);
  }
  copy_count(c, 8);
  // from's stack was grown up front; only `to` may need more room, and we are protected on it.
  if (T && !lua_checkstack(T, c->same ? 8 : 4))
    copy_refuse(c, "nesting too deep for the Lua stack");
  int tidx = 0;
  if (T) {
    lua_createtable(T, (int)lua_objlen(F, fidx), 0);
    tidx = lua_gettop(T);
  }
  c->anc[c->nanc++] = self;
  lua_pushnil(F);
  while (lua_next(F, fidx)) {
    int k = lua_gettop(F) - 1, v = k + 1;
    c->keys[c->nkeys++] = k;
    switch (lua_type(F, k)) {
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(F, k, &n);
      copy_count(c, n);
      if (T) lua_pushlstring(T, s, n);
      break;
    }
    case LUA_TNUMBER:
      copy_count(c, 8);
      if (T) lua_pushnumber(T, lua_tonumber(F, k));
      break;
    default:
      copy_refuse(c, "%s keys cannot be kept in %s (only string and number keys)",
                  lua_typename(F, lua_type(F, k)), c->root);
    }
    copy_value(c, v);
    if (T) lua_rawset(T, tidx);
    c->nkeys--;
    lua_pop(F, 1);
  }
  c->nanc--;
}

static void copy_value(copy_ctx_t *c, int fidx) {
  lua_State *F = c->from, *T = c->to;
  switch (lua_type(F, fidx)) {
  case LUA_TNIL:
    if (T) lua_pushnil(T);
    break;
  case LUA_TBOOLEAN:
    copy_count(c, 8);
    if (T) lua_pushboolean(T, lua_toboolean(F, fidx));
    break;
  case LUA_TNUMBER:
    copy_count(c, 8);
    if (T) lua_pushnumber(T, lua_tonumber(F, fidx));
    break;
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(F, fidx, &n);
    copy_count(c, n);
    if (T) lua_pushlstring(T, s, n);
    break;
  }
  case LUA_TTABLE:
    copy_table(c, fidx);
    break;
  default:
    copy_refuse(c, "%s values cannot be kept in %s", lua_typename(F, lua_type(F, fidx)), c->root);
  }
}

static int copy_protected(lua_State *L, void *ud) {
  copy_ctx_t *c = ud;
  copy_value(c, c->same ? 1 : c->root_idx);
  return 1;
}

static int sllua_grow_stack(lua_State *L) {
  // Enough for SL_VM_COPY_MAX_DEPTH levels of (key, value) while walking the source.
  if (!lua_checkstack(L, 2 * SL_VM_COPY_MAX_DEPTH + 16)) return luaL_error(L, "stack overflow");
  return 0;
}

int sl_vm_copy_plain_named(lua_State *from, int idx, lua_State *to, size_t max_bytes,
                           const char *root, sl_err_t *err) {
  if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = lua_gettop(from) + idx + 1;
  // On the C stack: a foreign `to` may raise before the protected call starts.
  copy_ctx_t ctx, *c = &ctx;
  memset(c, 0, sizeof *c);
  c->from = from;
  c->to = to;
  c->to_vm = sl_vm_from(to);
  c->same = from == to;
  c->root_idx = idx;
  c->max_bytes = max_bytes;
  c->root = root;

  int st;
  int from_top = lua_gettop(from);
  if (c->to_vm) c->to_vm->strict++;
  if (c->same) {
    lua_pushvalue(from, idx);
    st = vm_protect(to, copy_protected, c, 1, 1, NULL, 0);
  } else {
    // Reads on `from` happen inside a protected call on `to`, so they must not be able to raise:
    // grow from's stack now, protected on from itself.
    if (lua_cpcall(from, sllua_grow_stack, NULL) != 0) {
      lua_pop(from, 1);
      return sl_err(err, SL_ENOMEM, "no stack space to copy %s", root);
    }
    st = vm_protect(to, copy_protected, c, 0, 1, NULL, 0);
    lua_settop(from, from_top);
  }
  if (c->to_vm) c->to_vm->strict--;
  if (st == 0) return 0;
  int rc;
  if (c->code) {
    rc = sl_err(err, c->code, "%s", c->msg);
  } else if (st == LUA_ERRMEM) {
    char doing[300];
    snprintf(doing, sizeof doing, "while copying %.200s", root);
    rc = mem_error(c->to_vm, err, doing);
  } else {
    rc = sl_err(err, SL_EINVAL, "copying %s failed", root);
  }
  return rc;
}

static int check_protected(lua_State *L, void *ud) {
  copy_ctx_t *c = ud;
  c->from = L; // the protected call's own frame: the value is its argument
  sllua_grow_stack(L);
  copy_value(c, 1);
  return 0;
}

int sl_vm_check_plain(lua_State *L, int idx, size_t max_bytes, const char *root, sl_err_t *err) {
  copy_ctx_t ctx, *c = &ctx;
  memset(c, 0, sizeof *c);
  c->from = L;
  c->same = 1;
  c->max_bytes = max_bytes;
  c->root = root;
  lua_pushvalue(L, idx);
  int st = vm_protect(L, check_protected, c, 1, 0, NULL, 0);
  if (st == 0) return 0;
  if (c->code) return sl_err(err, c->code, "%s", c->msg);
  return mem_error(sl_vm_from(L), err, "while checking state");
}

int sl_vm_copy_plain(lua_State *from, int idx, lua_State *to, size_t max_bytes, sl_err_t *err) {
  return sl_vm_copy_plain_named(from, idx, to, max_bytes, "state", err);
}
