// sluice.host: the controller driven from Lua, for specs and tooling. A host built from a config
// and a fixture is a controller on a simulated clock with the fixture as its source; each
// h:tick() runs one controller tick (the next fixture frame, the real policies, vote and guard)
// into a recording actuator.
//
//   local host = require "sluice.host"
//   local h = assert(host.new{config = "path/sluice.yaml"})      -- or config_text = "..."
//   local outcomes = h:tick()         -- { {variant=, current=, requested=, target=, change=,
//                                     --    held=, actuated=, reason=}, ... }
//   h:check_files()                   -- re-read policy files now (returns how many changed)
//   local e = h:wait_event(10)        -- run the file watcher until an event or the timeout
//   h:events()                        -- events since the last call: {kind=, file=, version=,
//   message=} h:policies()                      -- {file=, name=, version=, runs=, failures=,
//   period=} h:close()
#include "core/luamod/host.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/lua/watchdog.h"
#include "core/runtime/controller.h"
#include "core/state/fixture.h"
#include "core/util/log.h"

#define MT "sluice.host"

typedef struct {
  int closed;
  sl_config_t cfg;
  sl_clock_t clock;
  sl_fixture_t fixture;
  int have_fixture;
  sl_actuator_t actuator;
  sl_observer_t observer;
  sl_controller_t c;
  int have_c;
  uv_loop_t loop;
  int loop_ready;
  lua_State *L; // valid only inside a method call
  int outcomes_ref, events_ref;
  int event_seen;
} lhost_t;

static int rec_scale(sl_actuator_t *a, const sl_variant_t *v, int from, int to, const char *reason,
                     double now, sl_err_t *err) {
  lhost_t *h = a->ud;
  // The fixture drives replica counts; reflect the change so the next view sees it unless the
  // next frame says otherwise.
  sl_store_variant_t *sv = sl_store_variant(h->c.store, v->id);
  if (sv) sv->spec = to;
  return 0;
}

static void on_outcome(sl_observer_t *ob, double now, const sl_outcome_t *o) {
  lhost_t *h = ob->ud;
  lua_State *L = h->L;
  if (!L) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, h->outcomes_ref);
  lua_createtable(L, 0, 8);
  lua_pushstring(L, o->variant->id), lua_setfield(L, -2, "variant");
  lua_pushinteger(L, o->current), lua_setfield(L, -2, "current");
  lua_pushinteger(L, o->requested), lua_setfield(L, -2, "requested");
  lua_pushinteger(L, o->target), lua_setfield(L, -2, "target");
  lua_pushboolean(L, o->change), lua_setfield(L, -2, "change");
  lua_pushboolean(L, o->held), lua_setfield(L, -2, "held");
  lua_pushboolean(L, o->actuated), lua_setfield(L, -2, "actuated");
  lua_pushstring(L, o->reason), lua_setfield(L, -2, "reason");
  if (o->policy) lua_pushstring(L, o->policy), lua_setfield(L, -2, "policy");
  if (o->inputs && o->inputs[0]) lua_pushstring(L, o->inputs), lua_setfield(L, -2, "inputs");
  lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
  lua_pop(L, 1);
}

static void on_event(sl_observer_t *ob, const sl_decider_event_t *e) {
  lhost_t *h = ob->ud;
  lua_State *L = h->L;
  h->event_seen = 1;
  if (!L) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, h->events_ref);
  lua_createtable(L, 0, 4);
  lua_pushstring(L, sl_decider_event_name(e->kind)), lua_setfield(L, -2, "kind");
  lua_pushstring(L, e->file), lua_setfield(L, -2, "file");
  lua_pushinteger(L, e->version), lua_setfield(L, -2, "version");
  if (e->message) lua_pushstring(L, e->message), lua_setfield(L, -2, "message");
  lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
  lua_pop(L, 1);
}

static lhost_t *check(lua_State *L) {
  lhost_t *h = luaL_checkudata(L, 1, MT);
  if (h->closed) luaL_error(L, "host is closed");
  h->L = L;
  return h;
}

static void teardown(lhost_t *h) {
  if (h->closed) return;
  h->closed = 1;
  if (h->have_c) sl_host_unwatch(&h->c.host);
  if (h->loop_ready) {
    uv_run(&h->loop, UV_RUN_DEFAULT); // let closed handles finish
    uv_loop_close(&h->loop);
  }
  if (h->have_c) sl_controller_deinit(&h->c);
  if (h->have_fixture) sl_fixture_deinit(&h->fixture);
  if (h->cfg.path) sl_config_deinit(&h->cfg);
  if (h->L) {
    luaL_unref(h->L, LUA_REGISTRYINDEX, h->outcomes_ref);
    luaL_unref(h->L, LUA_REGISTRYINDEX, h->events_ref);
  }
}

static int sllua_gc(lua_State *L) {
  lhost_t *h = luaL_checkudata(L, 1, MT);
  h->L = L;
  teardown(h);
  return 0;
}

static int sllua_close(lua_State *L) {
  return sllua_gc(L);
}

static int sllua_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "config");
  const char *config = lua_tostring(L, -1);
  lua_getfield(L, 1, "config_text");
  size_t tlen;
  const char *text = lua_tolstring(L, -1, &tlen);
  lua_getfield(L, 1, "start");
  double start = luaL_optnumber(L, -1, 0);
  lua_getfield(L, 1, "log_level");
  const char *level = lua_tostring(L, -1);
  if (level) {
    static const char *const names[] = {"debug", "info", "warn", "error"};
    int found = 0;
    for (int i = 0; i < 4; i++)
      if (!strcmp(level, names[i])) sl_log_set_level((sl_log_level_t)i), found = 1;
    if (!found) return luaL_error(L, "host.new: log_level must be debug, info, warn or error");
  }
  lua_pop(L, 4);
  if (!config && !text) return luaL_error(L, "host.new: config or config_text is required");

  lhost_t *h = lua_newuserdata(L, sizeof *h);
  memset(h, 0, sizeof *h);
  h->closed = 1; // until fully built, __gc has nothing to undo
  luaL_getmetatable(L, MT);
  lua_setmetatable(L, -2);
  sl_err_t err = {0};
  int rc = config ? sl_config_load(&h->cfg, config, &err)
                  : sl_config_load_buffer(&h->cfg, text, tlen, "config_text", &err);
  if (rc < 0) goto fail;
  h->closed = 0;
  h->L = L;
  lua_newtable(L);
  h->outcomes_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_newtable(L);
  h->events_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  sl_clock_init_sim(&h->clock, start);
  if (h->cfg.source_file) {
    if ((rc = sl_fixture_load(&h->fixture, h->cfg.source_file, &h->cfg, &err)) < 0) goto fail;
    h->have_fixture = 1;
  }
  h->actuator = (sl_actuator_t){"record", rec_scale, NULL, h};
  h->observer = (sl_observer_t){.outcome = on_outcome, .decider_event = on_event, .ud = h};
  sl_controller_opts_t co = {&h->cfg, &h->clock, 256, getenv("SLUICE_LUA_PATH"), 0};
  if ((rc = sl_controller_init(&h->c, &co, &err)) < 0) goto fail;
  h->have_c = 1;
  sl_controller_set_actuator(&h->c, -1, &h->actuator);
  if ((rc = sl_controller_add_observer(&h->c, &h->observer, &err)) < 0 ||
      (h->have_fixture && (rc = sl_controller_add_source(&h->c, &h->fixture.source, &err)) < 0) ||
      (rc = sl_controller_load_policies(&h->c, &err)) < 0)
    goto fail;
  h->L = NULL;
  return 1;
fail:
  h->L = L;
  teardown(h);
  lua_pushnil(L);
  lua_pushstring(L, err.msg);
  return 2;
}

static int take(lua_State *L, int *ref) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, *ref);
  luaL_unref(L, LUA_REGISTRYINDEX, *ref);
  lua_newtable(L);
  *ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

static int sllua_tick(lua_State *L) {
  lhost_t *h = check(L);
  double dt = luaL_optnumber(L, 2, h->cfg.interval);
  sl_err_t err = {0};
  if (h->c.pipeline.ticks > 0 || h->have_fixture)
    sl_clock_advance(&h->clock, h->c.pipeline.ticks ? dt : 0);
  int rc = sl_controller_tick(&h->c, &err);
  h->L = NULL;
  if (rc < 0) return luaL_error(L, "tick: %s", err.msg);
  return take(L, &h->outcomes_ref);
}

static int sllua_check_files(lua_State *L) {
  lhost_t *h = check(L);
  int n = sl_host_check_files(&h->c.host);
  h->L = NULL;
  lua_pushinteger(L, n);
  return 1;
}

static int sllua_events(lua_State *L) {
  lhost_t *h = check(L);
  h->L = NULL;
  return take(L, &h->events_ref);
}

static void on_timeout(uv_timer_t *t) {
  (void)t;
}

// Runs the real watcher (inotify + poll) until the host reports an event or the timeout passes.
static int sllua_wait_event(lua_State *L) {
  lhost_t *h = check(L);
  double timeout = luaL_optnumber(L, 2, 10);
  sl_err_t err = {0};
  if (!h->loop_ready) {
    uv_loop_init(&h->loop);
    h->loop_ready = 1;
    sl_host_watch(&h->c.host, &h->loop, 0.5, &err);
  }
  uv_timer_t t;
  uv_timer_init(&h->loop, &t);
  uv_timer_start(&t, on_timeout, (uint64_t)(timeout * 1000), 0);
  h->event_seen = 0;
  while (!h->event_seen && uv_is_active((uv_handle_t *)&t)) uv_run(&h->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&h->loop, UV_RUN_NOWAIT);
  h->L = NULL;
  lua_pushboolean(L, h->event_seen);
  return 1;
}

static int sllua_policies(lua_State *L) {
  lhost_t *h = check(L);
  h->L = NULL;
  lua_newtable(L);
  sl_slot_info_t si;
  for (int i = 0; sl_host_slot_info(&h->c.host, i, &si) == 0; i++) {
    lua_createtable(L, 0, 7);
    lua_pushstring(L, si.file), lua_setfield(L, -2, "file");
    lua_pushstring(L, si.name), lua_setfield(L, -2, "name");
    lua_pushinteger(L, si.version), lua_setfield(L, -2, "version");
    lua_pushnumber(L, (double)si.runs), lua_setfield(L, -2, "runs");
    lua_pushnumber(L, (double)si.failures), lua_setfield(L, -2, "failures");
    lua_pushnumber(L, si.period), lua_setfield(L, -2, "period");
    lua_pushboolean(L, si.on_probation), lua_setfield(L, -2, "on_probation");
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

static int sllua_time(lua_State *L) {
  lhost_t *h = check(L);
  h->L = NULL;
  lua_pushnumber(L, sl_clock_now(&h->clock));
  return 1;
}

// host.monotonic(): seconds on the monotonic clock the policy deadlines use, for specs that
// check a tick ended within its bound.
static int sllua_monotonic(lua_State *L) {
  lua_pushnumber(L, sl_watchdog_now());
  return 1;
}

// host.capture_log(level): from now on log lines at level and above are kept (not printed);
// host.capture_log(false) prints them again; host.take_log() returns and clears them. Process-wide,
// for specs that assert what was logged.
typedef struct {
  char **lines;
  size_t n, cap;
} logbuf_t;
static logbuf_t g_log;

static void log_sink(void *ud, sl_log_level_t level, const char *msg) {
  (void)ud;
  static const char *const names[] = {"debug", "info", "warn", "error"};
  if (g_log.n == g_log.cap) {
    size_t cap = g_log.cap ? g_log.cap * 2 : 64;
    char **nl = realloc(g_log.lines, cap * sizeof *nl);
    if (!nl) return;
    g_log.lines = nl;
    g_log.cap = cap;
  }
  char *line = NULL;
  if (asprintf(&line, "%s: %s", names[level], msg) >= 0) g_log.lines[g_log.n++] = line;
}

static const char *const level_names[] = {"debug", "info", "warn", "error", NULL};

static int sllua_capture_log(lua_State *L) {
  if (lua_isboolean(L, 1) && !lua_toboolean(L, 1)) {
    sl_log_set_sink(NULL, NULL); // capture_log(false): back to stderr
    return 0;
  }
  int level = luaL_checkoption(L, 1, "info", level_names);
  sl_log_set_level((sl_log_level_t)level);
  sl_log_set_sink(log_sink, NULL);
  return 0;
}

static int sllua_take_log(lua_State *L) {
  lua_createtable(L, (int)g_log.n, 0);
  for (size_t i = 0; i < g_log.n; i++) {
    lua_pushstring(L, g_log.lines[i]);
    lua_rawseti(L, -2, (int)i + 1);
    free(g_log.lines[i]);
  }
  g_log.n = 0;
  return 1;
}

int luaopen_sluice_host(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"tick", sllua_tick},         {"check_files", sllua_check_files},
      {"events", sllua_events},     {"wait_event", sllua_wait_event},
      {"policies", sllua_policies}, {"time", sllua_time},
      {"close", sllua_close},       {NULL, NULL}};
  if (luaL_newmetatable(L, MT)) {
    lua_newtable(L);
    luaL_register(L, NULL, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, sllua_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  static const luaL_Reg functions[] = {{"new", sllua_new},
                                       {"monotonic", sllua_monotonic},
                                       {"capture_log", sllua_capture_log},
                                       {"take_log", sllua_take_log},
                                       {NULL, NULL}};
  lua_newtable(L);
  luaL_register(L, NULL, functions);
  return 1;
}
