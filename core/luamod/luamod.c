// The Lua C module loaded by busted specs (build/sluice.so). The submodules live in core/lua and
// are found by Lua's all-in-one loader: require "sluice.model" calls luaopen_sluice_model here.
#include "core/luamod/luamod.h"

#include <lauxlib.h>

int luaopen_sluice(lua_State *L) {
  lua_newtable(L);
  lua_pushliteral(L, "0.1.0");
  lua_setfield(L, -2, "version");
  return 1;
}
