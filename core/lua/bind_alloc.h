// The sluice.alloc Lua module: the allocator (core/alloc) for policies.
#pragma once

#include <lua.h>

int luaopen_sluice_alloc(lua_State *L);
