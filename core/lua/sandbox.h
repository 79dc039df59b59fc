// The sandbox library (sandbox.c): what a policy's environment holds — the guarded string
// functions, table.sort with a deadline, os.time/os.clock on the pipeline clock, print and
// require limited to sluice.* — installed once per VM and copied into each chunk's environment.
#pragma once

#include <lua.h>

#include "core/lua/vm_priv.h"

// Installs the guarded library into the global tables (once per VM, inside a protected call).
void sl_sandbox_setup(lua_State *L, sl_vm_t *vm);
// Builds a fresh policy environment on top of the stack.
void sl_sandbox_push_env(lua_State *L, sl_vm_t *vm);
