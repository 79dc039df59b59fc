// Lua at the REPL prompt. See eval.h.
#include "core/repl/eval.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/lua/modules.h"
#include "core/lua/view_lua.h"
#include "core/lua/vm.h"
#include "core/repl/proto.h"
#include "core/state/signals.h"

// The printer, compiled in each line's VM: values the way a Lua REPL shows them (tables sorted
// and indented, view objects expanded field by field), and a print() that writes to the reply
// instead of the controller's log. It runs under the line's budget like the line itself.
static const char PRELUDE[] =
    "local emit, view, vnames, pnames, gnames = ...\n"
    "local type, tostring, next, select = type, tostring, next, select\n"
    "local sort, concat, fmt, floor, huge = table.sort, table.concat, string.format, math.floor, "
    "math.huge\n"
    "\n"
    "-- What a view object has, by the name tostring gives it (core/lua/view_lua.c).\n"
    "local FIELDS = {\n"
    "  [\"sluice view\"] = { \"time\", \"tick\", \"period\", \"window\", \"variants\", \"models\", "
    "\"inventory\" },\n"
    "  [\"sluice variant\"] = { \"id\", \"namespace\", \"name\", \"model\", \"accelerator\", "
    "\"gpus_per_replica\",\n"
    "    \"role\", \"cost\", \"min\", \"max\", \"priority\", \"slo_class\", \"slo\", \"profile\", "
    "\"engine\", \"replicas\",\n"
    "    \"last\", \"age\", \"stale\", \"signals\", \"pods\" },\n"
    "  [\"sluice replicas\"] = { \"spec\", \"ready\", \"starting\", \"pending\" },\n"
    "  [\"sluice last\"] = { \"requested\", \"applied\", \"at\" },\n"
    "  [\"sluice signals\"] = vnames,\n"
    "  [\"sluice engine\"] = { \"max_num_seqs\", \"max_num_batched_tokens\", \"block_size\",\n"
    "    \"kv_capacity_tokens\" },\n"
    "  [\"sluice slo\"] = { \"ttft_ms\", \"itl_ms\" },\n"
    "  [\"sluice pod\"] = { \"name\", \"phase\", \"age\", \"signals\" },\n"
    "  [\"sluice pod signals\"] = pnames,\n"
    "  [\"sluice model\"] = { \"name\", \"variants\", \"age\", \"signals\" },\n"
    "  [\"sluice model signals\"] = gnames,\n"
    "  [\"sluice accelerator\"] = { \"type\", \"total\", \"used\", \"free\", \"cost\" },\n"
    "}\n"
    "local ITERATE = { [\"sluice variants\"] = \"variants\", [\"sluice models\"] = \"models\",\n"
    "  [\"sluice inventory\"] = \"accelerators\" }\n"
    "local MAX_DEPTH = 8\n"
    "\n"
    "local function num(x)\n"
    "  if x ~= x then return \"nan\" end\n"
    "  if x == huge then return \"math.huge\" end\n"
    "  if x == -huge then return \"-math.huge\" end\n"
    "  if x == floor(x) and x > -1e15 and x < 1e15 then return fmt(\"%d\", x) end\n"
    "  return fmt(\"%.14g\", x)\n"
    "end\n"
    "\n"
    "local function str(s)\n"
    "  return (fmt(\"%q\", s):gsub(\"\\\\\\n\", \"\\\\n\"))\n"
    "end\n"
    "\n"
    "local function key(k)\n"
    "  if type(k) == \"string\" and k:match(\"^[%a_][%w_]*$\") then return k end\n"
    "  if type(k) == \"string\" then return \"[\" .. str(k) .. \"]\" end\n"
    "  if type(k) == \"number\" then return \"[\" .. num(k) .. \"]\" end\n"
    "  return \"[\" .. tostring(k) .. \"]\"\n"
    "end\n"
    "\n"
    "local function before(a, b)\n"
    "  local ta, tb = type(a[1]), type(b[1])\n"
    "  if ta ~= tb then return ta < tb end\n"
    "  if ta == \"number\" or ta == \"string\" then return a[1] < b[1] end\n"
    "  return tostring(a[1]) < tostring(b[1])\n"
    "end\n"
    "\n"
    "-- (key, value) pairs of a table (sorted, read raw) or of a view object (in its own order).\n"
    "local function entries(v)\n"
    "  local out = {}\n"
    "  if type(v) == \"table\" then\n"
    "    local k, x = next(v)\n"
    "    while k ~= nil do\n"
    "      out[#out + 1] = { k, x }\n"
    "      k, x = next(v, k)\n"
    "    end\n"
    "    sort(out, before)\n"
    "    return out\n"
    "  end\n"
    "  local name = tostring(v)\n"
    "  if ITERATE[name] then\n"
    "    for k, x in view[ITERATE[name]](view) do out[#out + 1] = { k, x } end\n"
    "    return out\n"
    "  end\n"
    "  local f = FIELDS[name]\n"
    "  if not f then return nil end\n"
    "  for i = 1, #f do\n"
    "    local x = v[f[i]]\n"
    "    if x ~= nil then out[#out + 1] = { f[i], x } end\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "\n"
    "local show\n"
    "\n"
    "local function inline(es, isarray)\n"
    "  local parts = {}\n"
    "  for i = 1, #es do\n"
    "    local x = es[i][2]\n"
    "    local t = type(x)\n"
    "    if t == \"table\" or t == \"userdata\" then return nil end\n"
    "    local b = {}\n"
    "    show(x, \"\", 0, {}, b)\n"
    "    parts[i] = (isarray and \"\" or key(es[i][1]) .. \" = \") .. concat(b)\n"
    "  end\n"
    "  local s = \"{ \" .. concat(parts, \", \") .. \" }\"\n"
    "  if #s <= 96 then return s end\n"
    "end\n"
    "\n"
    "show = function(v, indent, depth, seen, buf)\n"
    "  local t = type(v)\n"
    "  if t == \"string\" then buf[#buf + 1] = str(v) return end\n"
    "  if t == \"number\" then buf[#buf + 1] = num(v) return end\n"
    "  if t ~= \"table\" and t ~= \"userdata\" then buf[#buf + 1] = tostring(v) return end\n"
    "  if seen[v] then buf[#buf + 1] = \"<cycle>\" return end\n"
    "  local es = entries(v)\n"
    "  if not es then buf[#buf + 1] = tostring(v) return end\n"
    "  if #es == 0 then buf[#buf + 1] = \"{}\" return end\n"
    "  if depth >= MAX_DEPTH then buf[#buf + 1] = \"{ ... }\" return end\n"
    "  local isarray = type(v) == \"table\"\n"
    "  for i = 1, #es do\n"
    "    if es[i][1] ~= i then isarray = false break end\n"
    "  end\n"
    "  local one = inline(es, isarray)\n"
    "  if one then buf[#buf + 1] = one return end\n"
    "  seen[v] = true\n"
    "  local pad = indent .. \"  \"\n"
    "  buf[#buf + 1] = \"{\\n\"\n"
    "  for i = 1, #es do\n"
    "    buf[#buf + 1] = pad\n"
    "    if not isarray then buf[#buf + 1] = key(es[i][1]) .. \" = \" end\n"
    "    show(es[i][2], pad, depth + 1, seen, buf)\n"
    "    buf[#buf + 1] = \",\\n\"\n"
    "  end\n"
    "  buf[#buf + 1] = indent .. \"}\"\n"
    "  seen[v] = nil\n"
    "end\n"
    "\n"
    "local function results(...)\n"
    "  local parts = {}\n"
    "  for i = 1, select(\"#\", ...) do\n"
    "    local b = {}\n"
    "    show((select(i, ...)), \"\", 0, {}, b)\n"
    "    parts[i] = concat(b)\n"
    "  end\n"
    "  emit(concat(parts, \"\\t\") .. \"\\n\")\n"
    "end\n"
    "\n"
    "local function print(...)\n"
    "  local parts = {}\n"
    "  for i = 1, select(\"#\", ...) do parts[i] = tostring((select(i, ...))) end\n"
    "  emit(concat(parts, \"\\t\") .. \"\\n\")\n"
    "end\n"
    "\n"
    "return print, results\n";

typedef struct {
  sl_controller_t *c;
  const sl_repl_record_t *rec;
  sl_lview_t lv;
  unsigned char *manages; // every variant: the REPL sees them all
  sl_json_buf_t *out;
  size_t room; // bytes out may still take
  int cut;
  int globals_ref, results_ref;
  sl_json_t *tmp; // parsed inputs being pushed; freed by the caller if a Lua error unwinds
} eval_ctx_t;

// ---- keys -------------------------------------------------------------------------------------

void sl_repl_eval_key(const sl_controller_t *c, int k, char *buf, size_t n) {
  const sl_pipeline_t *p = &c->pipeline;
  const char *name = p->deciders[k]->name ? p->deciders[k]->name : "?";
  int same = 0;
  for (int j = 0; j < k; j++)
    if (p->deciders[j]->name && !strcmp(p->deciders[j]->name, name)) same++;
  if (same)
    snprintf(buf, n, "%s#%d", name, same + 1);
  else
    snprintf(buf, n, "%s", name);
}

int sl_repl_eval_slot(const sl_controller_t *c, int k) {
  if (!c->have_host || k < 0 || k >= c->pipeline.ndeciders) return -1;
  sl_host_t *h = (sl_host_t *)&c->host;
  for (int i = 0; i < h->nslots; i++)
    if (sl_host_decider(h, i) == c->pipeline.deciders[k]) return i;
  return -1;
}

// ---- the globals --------------------------------------------------------------------------------

static int sllua_emit(lua_State *L) {
  eval_ctx_t *e = lua_touserdata(L, lua_upvalueindex(1));
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  if (e->cut) return 0;
  if (n > e->room) {
    n = e->room;
    e->cut = 1;
  }
  if (n && sl_json_buf_add(e->out, s, n) < 0) return luaL_error(L, "out of memory");
  e->room -= n;
  return 0;
}

static void set_num(lua_State *L, const char *k, double x) {
  lua_pushnumber(L, x);
  lua_setfield(L, -2, k);
}

static void set_str(lua_State *L, const char *k, const char *s) {
  if (!s) return;
  lua_pushstring(L, s);
  lua_setfield(L, -2, k);
}

static void set_bool(lua_State *L, const char *k, int b) {
  lua_pushboolean(L, b);
  lua_setfield(L, -2, k);
}

// A decision's inputs (a flat JSON object, core/lua/policy.c) as a table; the text itself when
// it does not parse.
static void push_inputs(lua_State *L, eval_ctx_t *e, const char *text) {
  sl_err_t jerr;
  e->tmp = sl_json_parse(text, strlen(text), NULL, &jerr);
  if (!e->tmp || e->tmp->type != SL_JSON_OBJECT) {
    sl_json_free(e->tmp);
    e->tmp = NULL;
    lua_pushstring(L, text);
    return;
  }
  lua_createtable(L, 0, (int)e->tmp->n);
  for (size_t i = 0; i < e->tmp->n; i++) {
    const sl_json_t *v = e->tmp->items[i];
    if (v->type == SL_JSON_NUMBER)
      lua_pushnumber(L, v->num);
    else if (v->type == SL_JSON_STRING)
      lua_pushlstring(L, v->str, v->len);
    else if (v->type == SL_JSON_BOOL)
      lua_pushboolean(L, v->b);
    else
      continue;
    lua_setfield(L, -2, e->tmp->keys[i]);
  }
  sl_json_free(e->tmp);
  e->tmp = NULL;
}

static void push_policies(lua_State *L, eval_ctx_t *e) {
  sl_controller_t *c = e->c;
  lua_newtable(L);
  for (int k = 0; k < c->pipeline.ndeciders; k++) {
    const sl_decider_t *d = c->pipeline.deciders[k];
    char key[192];
    sl_repl_eval_key(c, k, key, sizeof key);
    lua_newtable(L);
    set_str(L, "name", d->name);
    set_num(L, "runs", (double)d->runs);
    set_num(L, "failures", (double)d->failures);
    set_num(L, "period", d->period);
    if (d->failures) set_str(L, "last_error", d->last_error);
    sl_slot_info_t info;
    int si = sl_repl_eval_slot(c, k);
    if (si >= 0 && sl_host_slot_info(&c->host, si, &info) == 0) {
      set_str(L, "file", info.file);
      set_str(L, "path", info.path);
      set_num(L, "version", info.version);
      set_bool(L, "on_probation", info.on_probation);
      static const char *const which[] = {"params", "state"};
      for (int w = 0; w < 2; w++) {
        sl_err_t cerr = {0};
        if (sl_host_policy_data(&c->host, si, which[w], L, &cerr) == 0) {
          lua_setfield(L, -2, which[w]);
        } else {
          char k2[32];
          snprintf(k2, sizeof k2, "%s_error", which[w]);
          set_str(L, k2, cerr.msg);
        }
      }
    }
    lua_setfield(L, -2, key);
  }
}

static void push_decisions(lua_State *L, eval_ctx_t *e) {
  const sl_config_t *cfg = e->c->o.cfg;
  lua_newtable(L);
  for (int ci = 0; ci < cfg->nvariants; ci++) {
    const sl_repl_last_t *l = sl_repl_record_last(e->rec, ci);
    if (!l) continue;
    lua_newtable(L);
    for (int b = 0; b < l->nballots; b++) {
      const sl_repl_ballot_t *bl = &l->ballots[b];
      char key[192];
      sl_repl_eval_key(e->c, bl->decider, key, sizeof key);
      lua_newtable(L);
      if (bl->requested >= 0) set_num(L, "replicas", bl->requested);
      if (bl->requested == SL_VOTE_FAILED) set_bool(L, "failed", 1);
      set_str(L, "reason", bl->reason);
      set_bool(L, "won", bl->won);
      if (bl->shadow) set_bool(L, "shadow", 1);
      if (bl->inputs[0]) {
        push_inputs(L, e, bl->inputs);
        lua_setfield(L, -2, "inputs");
      }
      lua_setfield(L, -2, key);
    }
    lua_setfield(L, -2, cfg->variants[ci].id);
  }
}

static void push_outcomes(lua_State *L, eval_ctx_t *e) {
  const sl_config_t *cfg = e->c->o.cfg;
  lua_newtable(L);
  for (int ci = 0; ci < cfg->nvariants; ci++) {
    const sl_repl_last_t *l = sl_repl_record_last(e->rec, ci);
    if (!l) continue;
    lua_newtable(L);
    set_num(L, "at", l->at);
    set_num(L, "tick", (double)l->tick);
    set_num(L, "current", l->current);
    if (l->requested >= 0) set_num(L, "requested", l->requested);
    set_num(L, "target", l->target);
    set_bool(L, "change", l->change);
    set_bool(L, "held", l->held);
    set_bool(L, "actuated", l->actuated);
    set_str(L, "reason", l->reason);
    if (l->winner >= 0) {
      char key[192];
      sl_repl_eval_key(e->c, l->winner, key, sizeof key);
      set_str(L, "policy", key);
    }
    if (l->inputs[0]) {
      push_inputs(L, e, l->inputs);
      lua_setfield(L, -2, "inputs");
    }
    lua_setfield(L, -2, cfg->variants[ci].id);
  }
}

static void push_names(lua_State *L, const char *(*name)(int), int n) {
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, name(i));
    lua_rawseti(L, -2, i + 1);
  }
}

static const char *vname(int i) {
  return sl_signals_variant_name((sl_vsig_t)i);
}
static const char *pname(int i) {
  return sl_signals_pod_name((sl_psig_t)i);
}
static const char *gname(int i) {
  return sl_signals_gateway_name((sl_gsig_t)i);
}

// Builds the globals (argument 1 is the compiled printer) and keeps them in the registry.
static int setup_protected(lua_State *L, void *ud) {
  eval_ctx_t *e = ud;
  lua_newtable(L);
  int g = lua_gettop(L);
  sl_lview_push(L, &e->lv);
  lua_setfield(L, g, "view");
  push_policies(L, e);
  lua_setfield(L, g, "policies");
  push_decisions(L, e);
  lua_setfield(L, g, "decisions");
  push_outcomes(L, e);
  lua_setfield(L, g, "outcomes");
  lua_newtable(L);
  set_num(L, "ticks", (double)sl_controller_ticks(e->c));
  set_bool(L, "paused", sl_controller_paused(e->c));
  set_bool(L, "dry_run", e->c->o.cfg->guard.dry_run);
  set_num(L, "interval", e->c->o.cfg->interval);
  lua_setfield(L, g, "controller");
  lua_pushvalue(L, 1);
  lua_pushlightuserdata(L, e);
  lua_pushcclosure(L, sllua_emit, 1);
  lua_getfield(L, g, "view");
  push_names(L, vname, SL_V__COUNT);
  push_names(L, pname, SL_P__COUNT);
  push_names(L, gname, SL_G__COUNT);
  lua_call(L, 5, 2);
  e->results_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_setfield(L, g, "print");
  lua_settop(L, g);
  e->globals_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

// Argument 1 is the line, compiled: gives it the globals, runs it, shows what it returned.
static int run_protected(lua_State *L, void *ud) {
  eval_ctx_t *e = ud;
  lua_getfenv(L, 1);
  int env = lua_gettop(L);
  lua_rawgeti(L, LUA_REGISTRYINDEX, e->globals_ref);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, env); // the environment refuses undeclared globals; these are declared
  }
  lua_settop(L, 1);
  lua_call(L, 0, LUA_MULTRET);
  int n = lua_gettop(L);
  if (n > 0) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->results_ref);
    lua_insert(L, 1);
    lua_call(L, n, 0);
  }
  return 0;
}

// As the Lua REPL does: an expression's value is shown; anything else runs as a chunk. The
// expression is compiled as `return select(1, <line>\n)` where it can be, so that a call in it is
// not a tail call: `error("x")` then reports "repl:1: x", as it would in a chunk.
static int compile_line(sl_vm_t *vm, const char *line, size_t len, sl_err_t *err) {
  static const char *const wraps[][2] = {{"return select(1, ", "\n)"}, {"return ", ""}};
  char *buf = malloc(len + 32);
  if (!buf) return sl_err(err, SL_ENOMEM, "out of memory");
  int rc = SL_EPARSE;
  for (int w = 0; w < 2 && rc == SL_EPARSE; w++) {
    size_t a = strlen(wraps[w][0]), b = strlen(wraps[w][1]);
    memcpy(buf, wraps[w][0], a);
    memcpy(buf + a, line, len);
    memcpy(buf + a + len, wraps[w][1], b);
    sl_err_t werr = {0};
    rc = sl_vm_load(vm, buf, a + len + b, "=repl", &werr);
    if (rc < 0 && rc != SL_EPARSE) *err = werr;
  }
  free(buf);
  if (rc == SL_EPARSE) rc = sl_vm_load(vm, line, len, "=repl", err);
  return rc;
}

// The traceback of an error in the line's own text says nothing the message does not ("repl:1:
// in main chunk"); one that goes through functions or modules is kept.
static void tidy_traceback(char *msg) {
  char *tb = strstr(msg, "\nstack traceback:");
  if (!tb) return;
  for (char *l = strchr(tb + 1, '\n'); l; l = strchr(l + 1, '\n')) {
    const char *f = l + 1;
    while (*f == '\t') f++;
    const char *e = strchr(f, '\n');
    size_t n = e ? (size_t)(e - f) : strlen(f);
    int entry = (n == 9 && !strncmp(f, "[C]: in ?", 9)) ||
                (n == 24 && !strncmp(f, "[C]: in function 'error'", 24));
    int chunk = n > 15 && !strncmp(f, "repl:", 5) && !strncmp(f + n - 15, ": in main chunk", 15);
    if (!entry && !chunk) return;
  }
  *tb = '\0';
}

int sl_repl_eval_run(sl_controller_t *c, const sl_repl_record_t *rec, const char *line, size_t len,
                     sl_json_buf_t *out, sl_err_t *err) {
  const sl_config_t *cfg = c->o.cfg;
  eval_ctx_t e;
  memset(&e, 0, sizeof e);
  e.c = c;
  e.rec = rec;
  e.out = out;
  e.room = SL_REPL_OUT_MAX > out->len ? SL_REPL_OUT_MAX - out->len : 0;
  e.manages = malloc(cfg->nvariants ? (size_t)cfg->nvariants : 1);
  if (!e.manages) return sl_err(err, SL_ENOMEM, "out of memory");
  memset(e.manages, 1, cfg->nvariants ? (size_t)cfg->nvariants : 1);
  e.lv.view = &c->pipeline.view;
  e.lv.manages = e.manages;
  e.lv.order = c->pipeline.order;
  e.lv.period = cfg->interval;
  e.lv.tick = sl_controller_ticks(c);
  // The limits of a policy with nothing configured: the defaults of docs/sandbox.md.
  sl_vm_opts_t vo = {0, 0, 0, c->o.clock, c->o.module_path, 0};
  sl_vm_t *vm = sl_vm_new(&vo, err);
  if (!vm) {
    free(e.manages);
    return err->code < 0 ? err->code : SL_ENOMEM;
  }
  sl_vm_set_name(vm, "repl");
  sl_lua_preload_kernels(vm);
  lua_State *L = sl_vm_state(vm);
  int rc = sl_vm_load(vm, PRELUDE, sizeof PRELUDE - 1, "=repl-printer", err);
  if (rc == 0) rc = sl_vm_protect(vm, setup_protected, &e, 1, 0, err);
  if (rc == 0) rc = compile_line(vm, line, len, err);
  if (rc == 0 && (rc = sl_vm_protect(vm, run_protected, &e, 1, 0, err)) < 0)
    tidy_traceback(err->msg);
  if (e.cut) {
    char note[96];
    int n = snprintf(note, sizeof note, "\n... (output cut at %zu bytes)\n", SL_REPL_OUT_MAX);
    sl_json_buf_add(out, note, (size_t)n);
  }
  sl_json_free(e.tmp);
  lua_settop(L, 0);
  e.lv.view = NULL;
  sl_vm_free(vm);
  free(e.manages);
  return rc;
}
