// The sluice.model Lua module: the latency-model kernels (core/model) for policies.
#pragma once

#include <lua.h>

int luaopen_sluice_model(lua_State *L);
