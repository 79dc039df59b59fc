// The watchdog: a thread that makes an overrunning policy call stop at its next VM instruction.
// LuaJIT runs the count hook only between VM instructions, and a C function (table.sort on a
// large table, collectgarbage, a kernel) is one instruction however long it runs; a loop of such
// calls can spend seconds between two hooks. When a call passes its deadline, the watchdog sets
// that VM's hook to fire on the very next instruction, where the hook sees the deadline and
// stops the call. Every lua_sethook on a VM that can be armed goes through sl_watchdog_sethook,
// so the two threads never change a VM's hook at the same time.
#pragma once

#include <lua.h>
#include <stdint.h>

// Registers the outermost call of L with a deadline on sl_watchdog_now()'s clock. Once the
// deadline passes the watchdog sets *expired and installs `hook` with count 1. Returns 0, or
// SL_ENOMEM / SL_EIO when the watchdog cannot start (the call then relies on the hook's own
// periodic look at the clock).
int sl_watchdog_arm(lua_State *L, lua_Hook hook, double deadline, volatile int *expired);
// Unregisters L (idempotent). After it returns the watchdog will not touch L again.
void sl_watchdog_disarm(lua_State *L);
// lua_sethook, serialized with the watchdog.
void sl_watchdog_sethook(lua_State *L, lua_Hook f, int mask, int count);
// Monotonic seconds (CLOCK_MONOTONIC): the clock deadlines are on, never the pipeline clock, so
// a simulated run is bounded in real time too.
double sl_watchdog_now(void);
// How many times the watchdog forced a hook (for tests and /metrics).
uint64_t sl_watchdog_fired(void);
