// The sluice.log Lua module: policies write to the controller's log, capped and escaped.
#pragma once

#include <lua.h>

int luaopen_sluice_log(lua_State *L);
