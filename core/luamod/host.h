// sluice.host: the controller driven from Lua (see host.c for the methods).
#pragma once

#include <lua.h>

int luaopen_sluice_host(lua_State *L);
