// What policy code can reach: the environment built for each loaded chunk, the guarded string
// library (budgeted pattern matching, string.rep checked against the memory cap), the read-only
// string metatable, os.time/os.clock on the pipeline clock, and require limited to sluice.*.
// memmem needs _GNU_SOURCE, which the build defines for every file.
#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/lua/sandbox.h"

#include "core/lua/pattern.h"
#include "core/lua/vm_priv.h"
#include "core/util/file.h"
#include "core/util/log.h"
#include "core/util/str.h"

extern const struct sl_embedded {
  const char *name, *path, *src;
  size_t len;
} sl_embedded_lua[];

// Registry keys (addresses only).
static char KEY_TEMPLATE, KEY_ENVMT, KEY_READONLY, KEY_LOADED, KEY_LOADING;

// One print line is cut at this many bytes.
#define SL_PRINT_MAX 512

// Lua modules from the module path: as for policy files.
#define SL_MODULE_MAX_BYTES ((size_t)4 << 20)

// Plain-find work is charged one instruction per this many bytes scanned.
#define FIND_CHARGE_SHIFT 6

static sl_vm_t *vm_of(lua_State *L) {
  sl_vm_t *vm = sl_vm_from(L);
  if (!vm) luaL_error(L, "sandbox function called outside a policy VM");
  return vm;
}

// ---- pattern functions -------------------------------------------------------------------------

static void check_subject(lua_State *L, sl_vm_t *vm, const char *fname, size_t ls) {
  if (ls > vm->max_pattern_subject) {
    char msg[160]; // lua_pushfstring knows no %zu
    snprintf(msg, sizeof msg,
             "%s: subject of %zu bytes is longer than the %zu bytes allowed for pattern matching",
             fname, ls, vm->max_pattern_subject);
    luaL_error(L, "%s", msg);
  }
}

// Charges the steps of a finished match and raises if it stopped on an error.
static void finish_match(lua_State *L, sl_vm_t *vm, sl_pattern_t *ms, const char *fname) {
  sl_vm_charge(vm, ms->steps);
  if (ms->err == SL_PATTERN_EBUDGET) {
    char what[160];
    snprintf(what, sizeof what,
             "instruction budget exceeded (%llu instructions; pattern matching in %s)",
             (unsigned long long)vm->budget, fname);
    sl_vm_trip(L, vm, SL_VM_ABORT_BUDGET, what);
  } else if (ms->err) {
    luaL_error(L, "%s", ms->msg);
  }
}

static void push_onecapture(lua_State *L, sl_pattern_t *ms, int i, const char *s, const char *e) {
  if (i >= ms->level) {
    if (i != 0) luaL_error(L, "invalid capture index");
    lua_pushlstring(L, s, (size_t)(e - s));
    return;
  }
  ptrdiff_t l = ms->capture[i].len;
  if (l == SL_PATTERN_CAP_UNFINISHED) luaL_error(L, "unfinished capture");
  if (l == SL_PATTERN_CAP_POSITION)
    lua_pushinteger(L, ms->capture[i].init - ms->src_init + 1);
  else
    lua_pushlstring(L, (const char *)ms->capture[i].init, (size_t)l);
}

// Pushes the captures (or the whole match s..e when there are none and s is given).
static int push_captures(lua_State *L, sl_pattern_t *ms, const char *s, const char *e) {
  int n = (ms->level == 0 && s) ? 1 : ms->level;
  luaL_checkstack(L, n, "too many captures");
  for (int i = 0; i < n; i++) push_onecapture(L, ms, i, s, e);
  return n;
}

// 1-based init as Lua 5.1 takes it (negative from the end), as a 0-based offset clamped to the
// subject.
static ptrdiff_t start_offset(lua_State *L, int arg, size_t ls) {
  lua_Integer init = luaL_optinteger(L, arg, 1);
  if (init < 0) {
    init += (lua_Integer)ls;
    if (init < 0) init = 0;
  } else if (init > 0) {
    init--;
  }
  return (size_t)init > ls ? (ptrdiff_t)ls : (ptrdiff_t)init;
}

static int find_aux(lua_State *L, int find) {
  sl_vm_t *vm = vm_of(L);
  const char *fname = find ? "string.find" : "string.match";
  size_t ls, lp;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  ptrdiff_t init = start_offset(L, 3, ls);
  if (find && (lua_toboolean(L, 4) || sl_pattern_is_plain(p, lp))) {
    // Linear and free of backtracking: no subject limit, work charged by bytes scanned.
    const char *hit = lp == 0 ? s + init : memmem(s + init, ls - (size_t)init, p, lp);
    sl_vm_charge(vm, (ls - (size_t)init) >> FIND_CHARGE_SHIFT);
    if (!hit) {
      lua_pushnil(L);
      return 1;
    }
    lua_pushinteger(L, hit - s + 1);
    lua_pushinteger(L, hit - s + (ptrdiff_t)lp);
    return 2;
  }
  check_subject(L, vm, fname, ls);
  int anchor = lp > 0 && *p == '^';
  if (anchor) p++, lp--;
  sl_pattern_t ms;
  sl_pattern_init(&ms, s, ls, p, lp, sl_vm_remaining(vm));
  const char *s1 = s + init;
  do {
    const char *e = sl_pattern_match(&ms, s1, p);
    if (ms.err) break;
    if (e) {
      finish_match(L, vm, &ms, fname);
      if (!find) return push_captures(L, &ms, s1, e);
      lua_pushinteger(L, s1 - s + 1);
      lua_pushinteger(L, e - s);
      return push_captures(L, &ms, NULL, NULL) + 2;
    }
  } while (s1++ < s + ls && !anchor);
  finish_match(L, vm, &ms, fname);
  lua_pushnil(L);
  return 1;
}

static int sllua_find(lua_State *L) {
  return find_aux(L, 1);
}

static int sllua_match(lua_State *L) {
  return find_aux(L, 0);
}

static int sllua_gmatch_aux(lua_State *L) {
  sl_vm_t *vm = vm_of(L);
  size_t ls, lp;
  const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
  const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
  size_t pos = (size_t)lua_tointeger(L, lua_upvalueindex(3));
  sl_pattern_t ms;
  sl_pattern_init(&ms, s, ls, p, lp, sl_vm_remaining(vm));
  for (const char *src = s + pos; src <= s + ls; src++) {
    const char *e = sl_pattern_match(&ms, src, p);
    if (ms.err) break;
    if (e) {
      finish_match(L, vm, &ms, "string.gmatch");
      size_t next = (size_t)(e - s);
      if (e == src) next++; // an empty match moves on by one character
      lua_pushinteger(L, (lua_Integer)next);
      lua_replace(L, lua_upvalueindex(3));
      return push_captures(L, &ms, src, e);
    }
  }
  finish_match(L, vm, &ms, "string.gmatch");
  return 0;
}

static int sllua_gmatch(lua_State *L) {
  sl_vm_t *vm = vm_of(L);
  size_t ls;
  luaL_checklstring(L, 1, &ls);
  luaL_checkstring(L, 2);
  check_subject(L, vm, "string.gmatch", ls);
  lua_settop(L, 2);
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, sllua_gmatch_aux, 3);
  return 1;
}

static void add_repl_string(lua_State *L, luaL_Buffer *b, sl_pattern_t *ms, const char *s,
                            const char *e) {
  size_t l;
  const char *news = lua_tolstring(L, 3, &l);
  for (size_t i = 0; i < l; i++) {
    if (news[i] != '%') {
      luaL_addchar(b, news[i]);
      continue;
    }
    if (++i == l) luaL_error(L, "invalid use of '%%' in replacement string");
    unsigned char d = (unsigned char)news[i];
    if (d < '0' || d > '9') {
      luaL_addchar(b, news[i]); // "%%" and "%x": the character itself
    } else if (d == '0') {
      luaL_addlstring(b, s, (size_t)(e - s));
    } else {
      push_onecapture(L, ms, d - '1', s, e);
      luaL_addvalue(b);
    }
  }
}

static void add_value(lua_State *L, luaL_Buffer *b, sl_pattern_t *ms, const char *s,
                      const char *e) {
  switch (lua_type(L, 3)) {
  case LUA_TNUMBER:
  case LUA_TSTRING:
    add_repl_string(L, b, ms, s, e);
    return;
  case LUA_TFUNCTION: {
    lua_pushvalue(L, 3);
    int n = push_captures(L, ms, s, e);
    lua_call(L, n, 1);
    break;
  }
  default: // table
    push_onecapture(L, ms, 0, s, e);
    lua_gettable(L, 3);
    break;
  }
  if (!lua_toboolean(L, -1)) {
    lua_pop(L, 1);
    luaL_addlstring(b, s, (size_t)(e - s)); // false or nil keeps the original text
  } else if (!lua_isstring(L, -1)) {
    luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
  } else {
    luaL_addvalue(b);
  }
}

static int sllua_gsub(lua_State *L) {
  sl_vm_t *vm = vm_of(L);
  size_t ls, lp;
  const char *src = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  int tr = lua_type(L, 3);
  luaL_argcheck(L,
                tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE,
                3, "string/function/table expected");
  lua_Integer max_n = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
  check_subject(L, vm, "string.gsub", ls);
  if (tr == LUA_TFUNCTION || tr == LUA_TTABLE) sl_vm_check_cstack(L, vm);
  int anchor = lp > 0 && *p == '^';
  if (anchor) p++, lp--;
  const char *s0 = src, *end = src + ls;
  lua_Integer n = 0;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  sl_pattern_t ms;
  while (n < max_n) {
    // A replacement function spends budget too, so take what is left at each match.
    sl_pattern_init(&ms, s0, ls, p, lp, sl_vm_remaining(vm));
    const char *e = sl_pattern_match(&ms, src, p);
    finish_match(L, vm, &ms, "string.gsub");
    if (e) {
      n++;
      add_value(L, &b, &ms, src, e);
    }
    if (e && e > src)
      src = e;
    else if (src < end)
      luaL_addchar(&b, *src++);
    else
      break;
    if (anchor) break;
  }
  luaL_addlstring(&b, src, (size_t)(end - src));
  luaL_pushresult(&b);
  lua_pushinteger(L, n);
  return 2;
}

// string.rep refuses up front a result the memory cap could not hold, instead of letting LuaJIT
// try to build it. Upvalue 1: the original string.rep.
static int sllua_rep(lua_State *L) {
  sl_vm_t *vm = vm_of(L);
  size_t l, lsep = 0;
  luaL_checklstring(L, 1, &l);
  lua_Number n = luaL_checknumber(L, 2);
  luaL_optlstring(L, 3, "", &lsep);
  if (n >= 1 && l + lsep > 0) {
    double total = n * (double)l + (n - 1) * (double)lsep;
    size_t avail = vm->mem_limit > vm->mem ? vm->mem_limit - vm->mem : 0;
    if (total > (double)avail && total <= (double)vm->mem_limit) {
      lua_gc(L, LUA_GCCOLLECT, 0);
      avail = vm->mem_limit > vm->mem ? vm->mem_limit - vm->mem : 0;
    }
    if (total > (double)avail) {
      char lim[32], used[32], what[192];
      sl_vm_fmt_bytes(lim, sizeof lim, vm->mem_limit);
      sl_vm_fmt_bytes(used, sizeof used, vm->mem);
      snprintf(what, sizeof what,
               "memory cap exceeded (string.rep of %.0f bytes; limit %s, %s in use)", total, lim,
               used);
      sl_vm_trip(L, vm, SL_VM_ABORT_MEM, what);
    }
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

// ---- table.sort
// ----------------------------------------------------------------------------------

// The same quicksort as Lua 5.1's table.sort (median of three, the same comparisons in the same
// order, so results, ties included, match the stock function), but it looks at the deadline as
// it goes: sorting a large table with the default comparison runs no VM instruction, so neither
// the count hook nor the watchdog could stop it.

#define SORT_CHECK_EVERY 256

typedef struct {
  int has_cmp;
  unsigned ncmp;
} sort_ctx_t;

// a < b for the values at stack indices a and b (absolute).
static int sort_lt(lua_State *L, sort_ctx_t *c, int a, int b) {
  if ((++c->ncmp % SORT_CHECK_EVERY) == 0) sl_vm_check_deadline(L);
  if (!c->has_cmp) return lua_lessthan(L, a, b);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, a);
  lua_pushvalue(L, b);
  lua_call(L, 2, 1);
  int r = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return r;
}

static void sort_swap(lua_State *L, int i, int j) {
  lua_rawgeti(L, 1, i);
  lua_rawgeti(L, 1, j);
  lua_rawseti(L, 1, i);
  lua_rawseti(L, 1, j);
}

// Compares t[i] and t[j] without leaving anything on the stack.
static int sort_lt_at(lua_State *L, sort_ctx_t *c, int i, int j) {
  lua_rawgeti(L, 1, i);
  lua_rawgeti(L, 1, j);
  int top = lua_gettop(L);
  int r = sort_lt(L, c, top - 1, top);
  lua_pop(L, 2);
  return r;
}

static void sort_range(lua_State *L, sort_ctx_t *c, int lo, int up) {
  while (lo < up) {
    if (sort_lt_at(L, c, up, lo)) sort_swap(L, lo, up);
    if (up - lo == 1) break;
    int i = lo + (up - lo) / 2;
    if (sort_lt_at(L, c, i, lo))
      sort_swap(L, i, lo);
    else if (sort_lt_at(L, c, up, i))
      sort_swap(L, i, up);
    if (up - lo == 2) break;
    lua_rawgeti(L, 1, i); // the pivot stays on the stack while partitioning
    int pv = lua_gettop(L);
    sort_swap(L, i, up - 1);
    int a = lo, b = up - 1;
    for (;;) {
      for (;;) {
        lua_rawgeti(L, 1, ++a);
        int lt = sort_lt(L, c, lua_gettop(L), pv);
        lua_pop(L, 1);
        if (!lt) break;
        if (a > up) luaL_error(L, "invalid order function for sorting");
      }
      for (;;) {
        lua_rawgeti(L, 1, --b);
        int lt = sort_lt(L, c, pv, lua_gettop(L));
        lua_pop(L, 1);
        if (!lt) break;
        if (b < lo) luaL_error(L, "invalid order function for sorting");
      }
      if (b < a) break;
      sort_swap(L, a, b);
    }
    lua_pop(L, 1);
    sort_swap(L, up - 1, a);
    // Recurse into the smaller part, loop on the larger: stack depth O(log n).
    if (a - lo < up - a) {
      sort_range(L, c, lo, a - 1);
      lo = a + 1;
    } else {
      sort_range(L, c, a + 1, up);
      up = a - 1;
    }
  }
}

static int sllua_sort(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int n = (int)lua_objlen(L, 1);
  lua_settop(L, 2);
  sort_ctx_t c = {!lua_isnil(L, 2), 0};
  if (c.has_cmp) luaL_checktype(L, 2, LUA_TFUNCTION);
  luaL_checkstack(L, 40, "");
  sort_range(L, &c, 1, n);
  return 0;
}

// ---- base functions ----------------------------------------------------------------------------

static int sllua_os_time(lua_State *L) {
  if (!lua_isnoneornil(L, 1))
    return luaL_error(L, "os.time: only os.time() without arguments is available in the sandbox");
  lua_pushnumber(L, floor(sl_clock_now(vm_of(L)->clock)));
  return 1;
}

static int sllua_os_clock(lua_State *L) {
  sl_vm_t *vm = vm_of(L);
  lua_pushnumber(L, sl_clock_mono(vm->clock) - vm->mono0);
  return 1;
}

static int sllua_collectgarbage(lua_State *L) {
  const char *opt = luaL_optstring(L, 1, "collect");
  if (strcmp(opt, "count") == 0) {
    lua_pushnumber(L, lua_gc(L, LUA_GCCOUNT, 0) + lua_gc(L, LUA_GCCOUNTB, 0) / 1024.0);
    return 1;
  }
  if (strcmp(opt, "collect") == 0) {
    sl_vm_collect(L, vm_of(L)); // in steps, each followed by a look at the deadline
    lua_pushinteger(L, 0);
    return 1;
  }
  return luaL_error(L,
                    "collectgarbage: option '%s' is not available in the sandbox "
                    "(\"count\" and \"collect\" are)",
                    opt);
}

static int is_readonly(lua_State *L, int idx) {
  lua_pushlightuserdata(L, &KEY_READONLY);
  lua_rawget(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, idx);
  lua_rawget(L, -2);
  int ro = lua_toboolean(L, -1);
  lua_pop(L, 2);
  return ro;
}

static int sllua_rawset(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  luaL_checkany(L, 3);
  if (is_readonly(L, 1)) return luaL_error(L, "rawset: this table is read-only in the sandbox");
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 1;
}

// print goes to the log at info level, prefixed with the caller's file:line. No metamethods run.
// Output is capped per call (the rest is counted and reported once) and control characters are
// escaped, so a policy can neither flood the log nor forge lines in it.
static int sllua_print(lua_State *L) {
  int n = lua_gettop(L);
  luaL_where(L, 1);
  for (int i = 1; i <= n; i++) {
    if (i > 1) lua_pushliteral(L, "\t");
    switch (lua_type(L, i)) {
    case LUA_TSTRING:
    case LUA_TNUMBER:
      lua_pushvalue(L, i);
      lua_tostring(L, -1);
      break;
    case LUA_TNIL:
      lua_pushliteral(L, "nil");
      break;
    case LUA_TBOOLEAN:
      lua_pushstring(L, lua_toboolean(L, i) ? "true" : "false");
      break;
    default:
      lua_pushfstring(L, "%s: %p", luaL_typename(L, i), lua_topointer(L, i));
      break;
    }
  }
  lua_concat(L, lua_gettop(L) - n);
  size_t len;
  const char *line = lua_tolstring(L, -1, &len);
  if (len > SL_PRINT_MAX) len = SL_PRINT_MAX;
  if (!sl_vm_log_allow(L, len)) return 0;
  char buf[SL_PRINT_MAX * 4 + 1];
  sl_str_escape(buf, sizeof buf, line, len);
  sl_info("%s", buf);
  return 0;
}

static int sllua_aborted(lua_State *L) {
  sl_vm_t *vm = sl_vm_from(L);
  lua_pushboolean(L, vm && vm->abort);
  return 1;
}

// xpcall whose handler is skipped once the call is aborted: an error raised by the budget hook
// reaches the handler while LuaJIT has hooks suspended, so a looping handler would never stop.
static const char XPCALL_SRC[] = "local xpcall, aborted, type, error = ...\n"
                                 "return function(f, handler, ...)\n"
                                 "  if type(handler) ~= 'function' then\n"
                                 "    error(\"bad argument #2 to 'xpcall' (function expected, got "
                                 "\" .. type(handler) .. ')', 2)\n"
                                 "  end\n"
                                 "  return xpcall(f, function(e)\n"
                                 "    if aborted() then return e end\n"
                                 "    return handler(e)\n"
                                 "  end, ...)\n"
                                 "end\n";

static int sllua_strict_newindex(lua_State *L) {
  const char *k = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : NULL;
  if (k) return luaL_error(L, "assignment to undeclared global '%s'", k);
  return luaL_error(L, "assignment to undeclared global (a %s key)", luaL_typename(L, 2));
}

static int sllua_readonly_newindex(lua_State *L) {
  return luaL_error(L, "the %s is read-only in the sandbox", lua_tostring(L, lua_upvalueindex(1)));
}

// Pushes a read-only view of the table at idx (reads go through, writes raise).
static void push_readonly(lua_State *L, int idx, const char *what) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  lua_newtable(L);
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, idx);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, what);
  lua_pushcclosure(L, sllua_readonly_newindex, 1);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  lua_pushlightuserdata(L, &KEY_READONLY);
  lua_rawget(L, LUA_REGISTRYINDEX);
  lua_pushvalue(L, -2);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

// ---- require -----------------------------------------------------------------------------------

static int valid_module_name(const char *name) {
  if (strncmp(name, "sluice", 6) != 0 || (name[6] != '\0' && name[6] != '.')) return 0;
  int comp = 0;
  for (const char *c = name; *c; c++) {
    if (*c == '.') {
      if (comp == 0) return 0;
      comp = 0;
    } else if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
               *c == '_') {
      comp++;
    } else {
      return 0;
    }
  }
  return comp > 0;
}

// Pushes the compiled chunk of a Lua module, or nothing (returns 0) when there is none.
static int load_module_source(lua_State *L, sl_vm_t *vm, const char *name, char *searched,
                              size_t searched_len) {
  searched[0] = '\0';
  if (vm->module_path) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, vm->module_path);
    luaL_addchar(&b, '/');
    for (const char *c = name; *c; c++) luaL_addchar(&b, *c == '.' ? '/' : *c);
    luaL_addstring(&b, ".lua");
    luaL_pushresult(&b);
    const char *path = lua_tostring(L, -1);
    snprintf(searched, searched_len, "%s, ", path);
    const char *kind = sl_file_kind(path);
    if (kind && strcmp(kind, "missing"))
      return luaL_error(L, "module '%s': %s is %s, not a regular file", name, path, kind);
    if (!kind) {
      // Read straight into VM memory (a userdata) so a raise from here on leaks nothing; the
      // buffer is made before the file is opened, so no descriptor is open when it raises.
      // Opened without blocking and checked again: the file may have been swapped meanwhile.
      struct stat st;
      if (stat(path, &st) != 0) return luaL_error(L, "module '%s': cannot read %s", name, path);
      if ((size_t)st.st_size > SL_MODULE_MAX_BYTES || (size_t)st.st_size > vm->mem_limit)
        return luaL_error(L, "module '%s': %s is larger than %d MiB", name, path,
                          (int)(SL_MODULE_MAX_BYTES >> 20));
      size_t cap = (size_t)st.st_size;
      char *buf = lua_newuserdata(L, cap + 1);
      int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
      if (fd < 0) return luaL_error(L, "module '%s': cannot open %s", name, path);
      if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return luaL_error(L, "module '%s': %s is not a regular file", name, path);
      }
      size_t n = 0;
      while (n < cap) {
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        n += (size_t)got;
      }
      close(fd);
      if (n > 0 && buf[0] == LUA_SIGNATURE[0])
        return luaL_error(L, "module '%s': %s is precompiled bytecode, not source", name, path);
      lua_pushfstring(L, "@%s", path);
      if (luaL_loadbufferx(L, buf, n, lua_tostring(L, -1), "t") != 0) return lua_error(L);
      lua_replace(L, -4); // chunk replaces the path string
      lua_pop(L, 2);      // buffer, chunk name
      return 1;
    }
    lua_pop(L, 1);
  }
  for (const struct sl_embedded *e = sl_embedded_lua; e->name; e++) {
    if (strcmp(e->name, name) != 0) continue;
    lua_pushfstring(L, "@%s", e->path);
    if (luaL_loadbufferx(L, e->src, e->len, lua_tostring(L, -1), "t") != 0) return lua_error(L);
    lua_remove(L, -2);
    return 1;
  }
  return 0;
}

static int sllua_require(lua_State *L) {
  sl_vm_t *vm = vm_of(L);
  const char *name = luaL_checkstring(L, 1);
  lua_settop(L, 1);
  if (!valid_module_name(name))
    return luaL_error(L,
                      "module '%s' is not available in the sandbox (require loads only sluice.* "
                      "modules)",
                      name);
  lua_pushlightuserdata(L, &KEY_LOADED);
  lua_rawget(L, LUA_REGISTRYINDEX); // 2: loaded
  lua_getfield(L, 2, name);
  if (lua_touserdata(L, -1) == &KEY_LOADING)
    return luaL_error(L, "loop or previous error loading module '%s'", name);
  if (!lua_isnil(L, -1)) return 1;
  lua_pop(L, 1);

  lua_CFunction open = NULL;
  for (int i = 0; i < vm->npreload; i++)
    if (strcmp(vm->preload[i].name, name) == 0) open = vm->preload[i].open;
  sl_vm_check_cstack(L, vm);
  if (open) {
    lua_pushcfunction(L, open);
  } else {
    char searched[512];
    if (!load_module_source(L, vm, name, searched, sizeof searched))
      return luaL_error(L, "module '%s' not found (searched: %sthe embedded modules)", name,
                        searched);
    sl_sandbox_push_env(L, vm);
    lua_setfenv(L, -2);
  }
  // Mark as loading so a module requiring itself fails instead of recursing; an error leaves
  // the mark, as Lua 5.1 does, and later requires report it.
  lua_pushlightuserdata(L, &KEY_LOADING);
  lua_setfield(L, 2, name);
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, 2, name);
  return 1;
}

// ---- setup -------------------------------------------------------------------------------------

static void set_cfunc(lua_State *L, int t, const char *name, lua_CFunction f) {
  lua_pushcfunction(L, f);
  lua_setfield(L, t, name);
}

static void registry_set(lua_State *L, void *key) {
  lua_pushlightuserdata(L, key);
  lua_insert(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
}

static void registry_get(lua_State *L, void *key) {
  lua_pushlightuserdata(L, key);
  lua_rawget(L, LUA_REGISTRYINDEX);
}

static const char *const BASE_NAMES[] = {
    "assert", "error",        "ipairs",       "next",     "pairs",  "pcall",
    "select", "tonumber",     "tostring",     "type",     "unpack", "rawequal",
    "rawget", "setmetatable", "getmetatable", "_VERSION", NULL,
};
static const char *const LIB_NAMES[] = {"string", "table", "math", "bit", "coroutine", NULL};

void sl_sandbox_setup(lua_State *L, sl_vm_t *vm) {
  int top = lua_gettop(L);
  lua_newtable(L);
  registry_set(L, &KEY_READONLY);
  lua_newtable(L);
  registry_set(L, &KEY_LOADED);

  // The shared string table (what ("x"):find resolves to) gets the guarded functions.
  lua_getfield(L, LUA_GLOBALSINDEX, "string");
  int str = lua_gettop(L);
  set_cfunc(L, str, "find", sllua_find);
  set_cfunc(L, str, "match", sllua_match);
  set_cfunc(L, str, "gmatch", sllua_gmatch);
  set_cfunc(L, str, "gsub", sllua_gsub);
  lua_getfield(L, str, "rep");
  lua_pushcclosure(L, sllua_rep, 1);
  lua_setfield(L, str, "rep");
  lua_pushnil(L);
  lua_setfield(L, str, "dump");

  // getmetatable("") returns a read-only stand-in whose __index is a read-only view of the
  // string table; the real metatable stays out of reach.
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  int mt = lua_gettop(L);
  push_readonly(L, str, "string library");
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "__index");
  push_readonly(L, -1, "string metatable");
  lua_setfield(L, mt, "__metatable");
  lua_settop(L, str);

  // table.sort that stops at the deadline (the per-environment table copies take it from here).
  lua_getfield(L, LUA_GLOBALSINDEX, "table");
  set_cfunc(L, lua_gettop(L), "sort", sllua_sort);
  lua_pop(L, 1);

  // Environment metatable: writes to undeclared globals raise; reads of unknown names give nil.
  lua_createtable(L, 0, 2);
  set_cfunc(L, lua_gettop(L), "__newindex", sllua_strict_newindex);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  registry_set(L, &KEY_ENVMT);

  // Template every environment is copied from; library tables in it are copied per environment.
  lua_newtable(L);
  int tpl = lua_gettop(L);
  for (const char *const *n = BASE_NAMES; *n; n++) {
    lua_getfield(L, LUA_GLOBALSINDEX, *n);
    lua_setfield(L, tpl, *n);
  }
  for (const char *const *n = LIB_NAMES; *n; n++) {
    lua_getfield(L, LUA_GLOBALSINDEX, *n);
    lua_setfield(L, tpl, *n);
  }
  lua_createtable(L, 0, 2);
  set_cfunc(L, lua_gettop(L), "time", sllua_os_time);
  set_cfunc(L, lua_gettop(L), "clock", sllua_os_clock);
  lua_setfield(L, tpl, "os");
  set_cfunc(L, tpl, "rawset", sllua_rawset);
  set_cfunc(L, tpl, "print", sllua_print);
  set_cfunc(L, tpl, "collectgarbage", sllua_collectgarbage);
  set_cfunc(L, tpl, "require", sllua_require);
  if (luaL_loadbuffer(L, XPCALL_SRC, sizeof XPCALL_SRC - 1, "=[sandbox xpcall]") != 0) lua_error(L);
  lua_getfield(L, LUA_GLOBALSINDEX, "xpcall");
  lua_pushcfunction(L, sllua_aborted);
  lua_getfield(L, LUA_GLOBALSINDEX, "type");
  lua_getfield(L, LUA_GLOBALSINDEX, "error");
  lua_call(L, 4, 1);
  lua_setfield(L, tpl, "xpcall");
  registry_set(L, &KEY_TEMPLATE);
  lua_settop(L, top);
  (void)vm;
}

void sl_sandbox_push_env(lua_State *L, sl_vm_t *vm) {
  (void)vm;
  lua_createtable(L, 0, 40);
  int env = lua_gettop(L);
  registry_get(L, &KEY_TEMPLATE);
  int tpl = env + 1;
  lua_pushnil(L);
  while (lua_next(L, tpl)) {
    if (lua_type(L, -1) == LUA_TTABLE) {
      // A fresh copy, so a policy changing string.x or math.y changes only its own.
      int src = lua_gettop(L);
      lua_createtable(L, 0, 32);
      lua_pushnil(L);
      while (lua_next(L, src)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, src + 1);
      }
      lua_replace(L, src);
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, env);
  }
  lua_pop(L, 1);
  lua_pushvalue(L, env);
  lua_setfield(L, env, "_G");
  registry_get(L, &KEY_ENVMT);
  lua_setmetatable(L, env);
}
