// The Lua C module busted specs and tools load (build/sluice.so): `require "sluice"` and, through
// Lua's all-in-one loader, every `sluice.*` module: the kernels' bindings and the log from
// core/lua, the controller from core/luamod/host.c.
#pragma once

#include <lua.h>

int luaopen_sluice(lua_State *L);
