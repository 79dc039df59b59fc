// The C modules policies may `require`: the kernels' bindings and the log. One list, so every
// policy VM (controller, sluice check, simulator) offers the same set.
#pragma once

#include <lua.h>

#include "core/lua/vm.h"

int luaopen_sluice_model(lua_State *L);
int luaopen_sluice_log(lua_State *L);
int luaopen_sluice_alloc(lua_State *L);

void sl_lua_preload_kernels(sl_vm_t *vm);
