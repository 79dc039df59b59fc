// Policy VM costs: creating a VM, loading a chunk, the fixed cost of sl_vm_pcall, how long the
// budget takes to stop `while true do end` and a catastrophic pattern at the default budget, what
// the budget hook costs per instruction, and copying state between VMs.
#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/lua/vm.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, n, sizeof *v, cmp_double);
  return v[n / 2];
}

static sl_clock_t clk;

static sl_vm_t *vm_new(void) {
  sl_vm_opts_t o = {.clock = &clk};
  sl_err_t err;
  sl_vm_t *vm = sl_vm_new(&o, &err);
  if (!vm) {
    fprintf(stderr, "sl_vm_new: %s\n", err.msg);
    exit(1);
  }
  return vm;
}

// Loads src and leaves the function on the stack.
static void load(sl_vm_t *vm, const char *src) {
  sl_err_t err;
  if (sl_vm_load(vm, src, strlen(src), "@bench.lua", &err) != 0) {
    fprintf(stderr, "load: %s\n", err.msg);
    exit(1);
  }
}

// Runs src once; returns seconds and the error code.
static double run_once(sl_vm_t *vm, const char *src, int *rc) {
  sl_err_t err;
  load(vm, src);
  double t0 = now();
  *rc = sl_vm_pcall(vm, 0, 0, &err);
  return now() - t0;
}

int main(void) {
  sl_clock_init_sim(&clk, 0);
  enum { REPS = 7 };
  double t[REPS];

  for (int r = 0; r < REPS; r++) {
    double t0 = now();
    for (int i = 0; i < 100; i++) sl_vm_free(vm_new());
    t[r] = (now() - t0) / 100;
  }
  printf("vm_new+free: %.1f us (median of %d x 100)\n", median(t, REPS) * 1e6, REPS);

  sl_vm_t *vm = vm_new();
  lua_State *L = sl_vm_state(vm);
  const char *policy = "local M = { name = 'p' } function M.decide(v) return {} end return M";
  for (int r = 0; r < REPS; r++) {
    double t0 = now();
    for (int i = 0; i < 1000; i++) {
      load(vm, policy);
      lua_pop(L, 1);
    }
    t[r] = (now() - t0) / 1000;
  }
  printf("sl_vm_load (small policy, fresh sandbox env): %.1f us\n", median(t, REPS) * 1e6);

  load(vm, "return function() end");
  sl_err_t err;
  sl_vm_pcall(vm, 0, 1, &err);
  int fn = lua_gettop(L);
  enum { CALLS = 200000 };
  for (int r = 0; r < REPS; r++) {
    double t0 = now();
    for (int i = 0; i < CALLS; i++) {
      lua_pushvalue(L, fn);
      sl_vm_pcall(vm, 0, 0, &err);
    }
    t[r] = (now() - t0) / CALLS;
  }
  printf("sl_vm_pcall on an empty function: %.0f ns per call\n", median(t, REPS) * 1e9);
  lua_settop(L, 0);

  int rc = 0;
  for (int r = 0; r < REPS; r++) t[r] = run_once(vm, "while true do end", &rc);
  printf("budget stops `while true do end` (10M instructions): %.1f ms (%s)\n",
         median(t, REPS) * 1e3, rc == SL_EBUDGET ? "SL_EBUDGET" : "UNEXPECTED");
  for (int r = 0; r < REPS; r++)
    t[r] = run_once(vm, "while true do pcall(function() while true do end end) end", &rc);
  printf("budget stops `while true do pcall(<loop>) end`: %.1f ms (%s)\n", median(t, REPS) * 1e3,
         rc == SL_EBUDGET ? "SL_EBUDGET" : "UNEXPECTED");
  for (int r = 0; r < REPS; r++)
    t[r] = run_once(vm, "local i = ('a'):rep(1e4):find('(.-)(.-)(.-)(.-)b') return i", &rc);
  printf("budget stops ('a'):rep(1e4):find('(.-)(.-)(.-)(.-)b'): %.1f ms (%s)\n",
         median(t, REPS) * 1e3, rc == SL_EBUDGET ? "SL_EBUDGET" : "UNEXPECTED");

  // The hook's cost: the same loop in the VM and in a bare interpreter state with no hook.
  const char *loop = "local x = 0 for i = 1, 2000000 do x = x + i end return x";
  for (int r = 0; r < REPS; r++) t[r] = run_once(vm, loop, &rc);
  double in_vm = median(t, REPS);
  lua_State *bare = luaL_newstate();
  luaL_openlibs(bare);
  luaJIT_setmode(bare, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
  for (int r = 0; r < REPS; r++) {
    luaL_loadstring(bare, loop);
    double t0 = now();
    lua_pcall(bare, 0, 0, 0);
    t[r] = now() - t0;
  }
  double in_bare = median(t, REPS);
  lua_close(bare);
  printf("2M-iteration loop: %.2f ms in a policy VM, %.2f ms in a bare interpreter (%+.1f%%)\n",
         in_vm * 1e3, in_bare * 1e3, (in_vm / in_bare - 1) * 100);

  // State carried across a reload: 1,000 variants x a 32-sample window.
  sl_vm_t *dst = vm_new();
  load(vm, "local s = {} for v = 1, 1000 do local w = {} for i = 1, 32 do w[i] = i * 0.5 end "
           "s['ns/variant-' .. v] = { window = w, last = v, reason = 'steady' } end return s");
  sl_vm_pcall(vm, 0, 1, &err);
  for (int r = 0; r < REPS; r++) {
    double t0 = now();
    if (sl_vm_copy_plain(L, -1, sl_vm_state(dst), 0, &err) != 0) printf("copy: %s\n", err.msg);
    t[r] = now() - t0;
    lua_settop(sl_vm_state(dst), 0);
  }
  printf("sl_vm_copy_plain of 1,000 variants x 32-sample windows: %.2f ms\n",
         median(t, REPS) * 1e3);
  sl_vm_free(dst);
  sl_vm_free(vm);
  return 0;
}
