// sluice.log: policies write to the controller's log. log.info("kv %.2f on %s", kv, id) formats
// like string.format; messages are tagged with the calling policy's chunk name, capped in length
// and in lines per call (with the print lines: see sl_vm_log_allow), and control characters are
// escaped, so a chatty or hostile policy cannot flood the log or forge lines in it.
#include "core/lua/bind_log.h"

#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "core/lua/vm.h"
#include "core/util/log.h"
#include "core/util/str.h"

#define LOG_MAX 512

static int emit(lua_State *L, sl_log_level_t level) {
  int n = lua_gettop(L);
  if (n == 0) return 0;
  if (level < sl_log_get_level()) return 0; // skip formatting work nobody will see
  const char *msg;
  if (n > 1) {
    // string.format from the VM's own string library.
    lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
    lua_getfield(L, -1, "string");
    lua_getfield(L, -1, "format");
    lua_insert(L, 1);
    lua_pop(L, 2);
    lua_call(L, n, 1);
    msg = lua_tostring(L, -1);
  } else {
    msg = luaL_checkstring(L, 1);
  }
  size_t len = msg ? strlen(msg) : 0;
  if (len > LOG_MAX) len = LOG_MAX;
  if (!sl_vm_log_allow(L, len)) return 0;
  lua_Debug ar;
  const char *where = "policy";
  if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "S", &ar)) where = ar.short_src;
  char buf[LOG_MAX * 4 + 1];
  sl_str_escape(buf, sizeof buf, msg ? msg : "", len);
  sl_log(level, "%s: %s", where, buf);
  return 0;
}

static int sllua_debug(lua_State *L) {
  return emit(L, SL_LOG_DEBUG);
}
static int sllua_info(lua_State *L) {
  return emit(L, SL_LOG_INFO);
}
static int sllua_warn(lua_State *L) {
  return emit(L, SL_LOG_WARN);
}
static int sllua_error(lua_State *L) {
  return emit(L, SL_LOG_ERROR);
}

int luaopen_sluice_log(lua_State *L) {
  static const luaL_Reg fns[] = {{"debug", sllua_debug},
                                 {"info", sllua_info},
                                 {"warn", sllua_warn},
                                 {"error", sllua_error},
                                 {NULL, NULL}};
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  return 1;
}
