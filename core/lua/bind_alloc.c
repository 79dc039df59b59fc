// sluice.alloc: the allocator for Lua policies.
//
//   local alloc = require "sluice.alloc"
//   local r, err = alloc.solve{ groups = {...}, variants = {...}, inventory = {...},
//                               transition_penalty = 0.1, effort = 100000,
//                               priority_order = "kubernetes" | "wva" }
//
// Runs inside sandboxed policy VMs, so it checks every argument before doing any work, keeps
// its parsing buffers in userdata (nothing leaks if Lua raises), gives the solver the VM's own
// allocator (its memory counts against the VM's cap) and bounds the solver's work. Malformed
// arguments (wrong Lua types, missing fields, unknown references, duplicate names) raise an
// error naming the field; values the allocator rejects (a negative demand, max below min) and
// running out of memory return nil and a message.
#include "core/lua/bind_alloc.h"

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc/alloc.h"

#define EFFORT_MAX 100000000L // about ten seconds of work: the upper end a policy may ask for

typedef struct {
  lua_State *L;
  char where[96]; // "groups[3]" or "groups.llama"
} ctx_t;

// Raises a formatted error (lua_pushfstring knows too few formats). Only userdata is held, so
// nothing leaks.
static int raise(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int raise(lua_State *L, const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return luaL_error(L, "%s", buf);
}

// Keys of a map-form table, sorted, so nothing depends on hash order.
typedef struct {
  const char *key;
  int ref; // stack position is not stable; we re-fetch by key
} keyent_t;

// Insertion sort by name: the inputs are policy-sized, and this needs no global comparator state.
static void sort_keys(keyent_t *k, int n) {
  for (int i = 1; i < n; i++) {
    keyent_t x = k[i];
    int j = i - 1;
    while (j >= 0 && strcmp(k[j].key, x.key) > 0) {
      k[j + 1] = k[j];
      j--;
    }
    k[j + 1] = x;
  }
}

// Lists the entries of table t (array form 1..n, or string-keyed map form, sorted). Returns
// the count and leaves a userdata of keys (NULL keys for array form) on the stack.
static int entries(lua_State *L, int t, const char *what, keyent_t **out) {
  size_t n = lua_objlen(L, t);
  int count = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    count++;
  }
  if (n > 0 && (size_t)count != n)
    return luaL_error(L, "%s: mix of list and map entries (use one form)", what);
  keyent_t *k = lua_newuserdata(L, (size_t)(count ? count : 1) * sizeof *k);
  if (n > 0) {
    for (int i = 0; i < count; i++) k[i].key = NULL, k[i].ref = i + 1;
  } else {
    int i = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "%s: keys must be names (strings) or 1..n", what);
      k[i].key = lua_tostring(L, -1); // kept alive by table t
      k[i++].ref = 0;
    }
    sort_keys(k, count);
  }
  *out = k;
  return count;
}

// Pushes entry i of table t (by index or key) and describes where it is.
static void push_entry(lua_State *L, int t, const keyent_t *e, const char *what, ctx_t *c) {
  if (e->key) {
    lua_pushstring(L, e->key);
    snprintf(c->where, sizeof c->where, "%s.%s", what, e->key);
  } else {
    lua_pushinteger(L, e->ref);
    snprintf(c->where, sizeof c->where, "%s[%d]", what, e->ref);
  }
  lua_rawget(L, t);
  if (!lua_istable(L, -1))
    luaL_error(L, "%s: want a table, got %s", c->where, luaL_typename(L, -1));
}

// Pushes field name of the table on top of the stack (raw: no metamethods run).
static int field(lua_State *L, const char *name) {
  lua_pushstring(L, name);
  lua_rawget(L, -2);
  return lua_type(L, -1);
}

// Pushes field name of the argument table.
static int arg_field(lua_State *L, const char *name) {
  lua_pushstring(L, name);
  lua_rawget(L, 1);
  return lua_type(L, -1);
}

static const char *opt_string(lua_State *L, ctx_t *c, const char *name, const char *dflt) {
  int ty = field(L, name);
  const char *s = dflt;
  if (ty == LUA_TSTRING)
    s = lua_tostring(L, -1); // kept alive by the enclosing table
  else if (ty != LUA_TNIL)
    luaL_error(L, "%s.%s: want a string, got %s", c->where, name, lua_typename(L, ty));
  lua_pop(L, 1);
  return s;
}

static double opt_number(lua_State *L, ctx_t *c, const char *name, double dflt, int *present) {
  int ty = field(L, name);
  double v = dflt;
  if (ty == LUA_TNUMBER)
    v = lua_tonumber(L, -1);
  else if (ty != LUA_TNIL)
    luaL_error(L, "%s.%s: want a number, got %s", c->where, name, lua_typename(L, ty));
  if (present) *present = ty != LUA_TNIL;
  lua_pop(L, 1);
  return v;
}

static double req_number(lua_State *L, ctx_t *c, const char *name) {
  int present;
  double v = opt_number(L, c, name, 0, &present);
  if (!present) luaL_error(L, "%s.%s: missing", c->where, name);
  return v;
}

static int to_int(lua_State *L, ctx_t *c, const char *name, double v, long lo, long hi) {
  if (!(v == floor(v)) || v < lo || v > hi)
    raise(L, "%s.%s: %g is not a whole number in %ld..%ld", c->where, name, v, lo, hi);
  return (int)v;
}

// Index of name among sorted names (binary search), or -1.
static int find_name(const char *const *names, const int *order, int n, const char *name) {
  int lo = 0, hi = n - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2, c = strcmp(names[order[mid]], name);
    if (!c) return order[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return -1;
}

// Sorted index over names (which must be unique); raises on a duplicate. Merge sort with the
// names passed along, so there is no global comparator state.
static int *index_names(lua_State *L, const char **names, int n, const char *what) {
  int *order = lua_newuserdata(L, (size_t)(n ? n : 1) * 2 * sizeof *order), *tmp = order + n;
  for (int i = 0; i < n; i++) order[i] = i;
  for (int w = 1; w < n; w *= 2) {
    for (int lo = 0; lo < n; lo += 2 * w) {
      int mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      int a = lo, b = mid, k = lo;
      while (a < mid && b < hi)
        tmp[k++] = strcmp(names[order[b]], names[order[a]]) < 0 ? order[b++] : order[a++];
      while (a < mid) tmp[k++] = order[a++];
      while (b < hi) tmp[k++] = order[b++];
    }
    memcpy(order, tmp, (size_t)n * sizeof *order);
  }
  for (int i = 1; i < n; i++)
    if (!strcmp(names[order[i - 1]], names[order[i]]))
      luaL_error(L, "%s: duplicate name '%s'", what, names[order[i]]);
  return order;
}

static int sllua_alloc_solve(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  ctx_t c = {L, "solve"};
  sl_alloc_opts_t opts;
  sl_alloc_opts_init(&opts);

  // Options (read from the argument table, on top of the stack here).
  opts.transition_penalty = opt_number(L, &c, "transition_penalty", 0.1, NULL);
  double eff = opt_number(L, &c, "effort", (double)SL_ALLOC_DEFAULT_EFFORT, NULL);
  opts.effort = to_int(L, &c, "effort", eff, 0, EFFORT_MAX);
  const char *porder = opt_string(L, &c, "priority_order", "kubernetes");
  int wva = 0;
  if (!strcmp(porder, "wva"))
    wva = 1;
  else if (strcmp(porder, "kubernetes"))
    return luaL_error(L, "solve.priority_order: '%s', want 'kubernetes' or 'wva'", porder);

  // Groups.
  if (arg_field(L, "groups") != LUA_TTABLE)
    return luaL_error(L, "solve.groups: want a table, got %s", luaL_typename(L, -1));
  int gt = lua_gettop(L);
  keyent_t *gk;
  int ng = entries(L, gt, "groups", &gk);
  if (ng > SL_ALLOC_MAX_GROUPS) return raise(L, "groups: more than %d", SL_ALLOC_MAX_GROUPS);
  sl_alloc_group_t *groups = lua_newuserdata(L, (size_t)(ng ? ng : 1) * sizeof *groups);
  const char **gnames = lua_newuserdata(L, (size_t)(ng ? ng : 1) * sizeof *gnames);
  for (int i = 0; i < ng; i++) {
    push_entry(L, gt, &gk[i], "groups", &c);
    sl_alloc_group_t *g = &groups[i];
    memset(g, 0, sizeof *g);
    g->name = opt_string(L, &c, "name", gk[i].key);
    if (!g->name) return luaL_error(L, "%s.name: missing", c.where);
    if (gk[i].key && strcmp(g->name, gk[i].key))
      return luaL_error(L, "%s.name: '%s' differs from its key", c.where, g->name);
    g->demand = req_number(L, &c, "demand");
    g->in_tokens = opt_number(L, &c, "in_tokens", 0, NULL);
    g->out_tokens = opt_number(L, &c, "out_tokens", 0, NULL);
    double pr = opt_number(L, &c, "priority", wva ? 1 : 0, NULL);
    int p = to_int(L, &c, "priority", pr, wva ? 1 : -1000000000, 1000000000);
    g->priority = wva ? -p : p; // WVA: 1 is the most important
    g->slo_class = opt_string(L, &c, "slo_class", NULL);
    gnames[i] = g->name;
    lua_pop(L, 1);
  }
  int *gorder = index_names(L, gnames, ng, "groups");

  // Inventory: accelerator -> GPUs (a count, or -1 / "unlimited"); absent: no limits at all.
  int it = 0, nt = 0, unlimited_all = 0;
  keyent_t *tk = NULL;
  int ity = arg_field(L, "inventory");
  if (ity == LUA_TNIL) {
    unlimited_all = 1;
    lua_pop(L, 1);
  } else if (ity != LUA_TTABLE) {
    return luaL_error(L, "solve.inventory: want a table, got %s", lua_typename(L, ity));
  } else {
    it = lua_gettop(L);
    nt = entries(L, it, "inventory", &tk);
    if (nt && !tk[0].key) return luaL_error(L, "inventory: want accelerator = GPUs entries");
  }
  // Variants (types are collected from them when there is no inventory).
  if (arg_field(L, "variants") != LUA_TTABLE)
    return luaL_error(L, "solve.variants: want a table, got %s", luaL_typename(L, -1));
  int vt = lua_gettop(L);
  keyent_t *vk;
  int nv = entries(L, vt, "variants", &vk);
  if (nv > SL_ALLOC_MAX_VARIANTS)
    return luaL_error(L, "variants: more than %d", SL_ALLOC_MAX_VARIANTS);
  int maxt = unlimited_all ? nv : nt;
  if (maxt > SL_ALLOC_MAX_TYPES)
    return luaL_error(L, "accelerator types: more than %d", SL_ALLOC_MAX_TYPES);
  sl_alloc_type_t *types = lua_newuserdata(L, (size_t)(maxt ? maxt : 1) * sizeof *types);
  const char **tnames = lua_newuserdata(L, (size_t)(maxt ? maxt : 1) * sizeof *tnames);
  for (int i = 0; i < nt; i++) {
    types[i].name = tnames[i] = tk[i].key;
    snprintf(c.where, sizeof c.where, "inventory.%s", tk[i].key);
    lua_pushstring(L, tk[i].key);
    lua_rawget(L, it);
    if (lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "unlimited")) {
      types[i].gpus = SL_ALLOC_UNLIMITED;
    } else if (lua_type(L, -1) == LUA_TNUMBER) {
      double n = lua_tonumber(L, -1);
      if (n == -1 || n == HUGE_VAL)
        types[i].gpus = SL_ALLOC_UNLIMITED;
      else if (n == floor(n) && n >= 0 && n <= 1e12)
        types[i].gpus = (long)n;
      else
        return raise(L, "%s: %g, want a whole number of GPUs or 'unlimited'", c.where, n);
    } else {
      return luaL_error(L, "%s: want a number of GPUs or 'unlimited', got %s", c.where,
                        luaL_typename(L, -1));
    }
    lua_pop(L, 1);
  }
  int *torder = index_names(L, tnames, nt, "inventory");
  sl_alloc_variant_t *variants = lua_newuserdata(L, (size_t)(nv ? nv : 1) * sizeof *variants);
  const char **vnames = lua_newuserdata(L, (size_t)(nv ? nv : 1) * sizeof *vnames);
  for (int i = 0; i < nv; i++) {
    push_entry(L, vt, &vk[i], "variants", &c);
    sl_alloc_variant_t *v = &variants[i];
    memset(v, 0, sizeof *v);
    v->id = opt_string(L, &c, "id", vk[i].key);
    if (!v->id) return luaL_error(L, "%s.id: missing", c.where);
    if (vk[i].key && strcmp(v->id, vk[i].key))
      return luaL_error(L, "%s.id: '%s' differs from its key", c.where, v->id);
    const char *gname = opt_string(L, &c, "group", NULL);
    if (!gname) return luaL_error(L, "%s.group: missing", c.where);
    v->group = find_name(gnames, gorder, ng, gname);
    if (v->group < 0) return luaL_error(L, "%s.group: no group named '%s'", c.where, gname);
    const char *acc = opt_string(L, &c, "accelerator", NULL);
    if (!acc) return luaL_error(L, "%s.accelerator: missing", c.where);
    if (unlimited_all) {
      int t = -1;
      for (int j = 0; j < nt && t < 0; j++)
        if (!strcmp(tnames[j], acc)) t = j;
      if (t < 0) {
        t = nt++;
        types[t].name = tnames[t] = acc;
        types[t].gpus = SL_ALLOC_UNLIMITED;
      }
      v->type = t;
    } else {
      v->type = find_name(tnames, torder, nt, acc);
      if (v->type < 0) return luaL_error(L, "%s.accelerator: '%s' not in inventory", c.where, acc);
    }
    v->gpus = to_int(L, &c, "gpus", opt_number(L, &c, "gpus", 1, NULL), 1, 4096);
    v->max_rate = req_number(L, &c, "max_rate");
    v->cost = opt_number(L, &c, "cost", 0, NULL);
    v->min = to_int(L, &c, "min", opt_number(L, &c, "min", 0, NULL), 0, SL_ALLOC_MAX_REPLICAS);
    v->max = to_int(L, &c, "max", req_number(L, &c, "max"), 0, SL_ALLOC_MAX_REPLICAS);
    v->current =
        to_int(L, &c, "current", opt_number(L, &c, "current", 0, NULL), 0, SL_ALLOC_MAX_REPLICAS);
    vnames[i] = v->id;
    lua_pop(L, 1);
  }
  index_names(L, vnames, nv, "variants");

  // Room for the results, taken before the solve so nothing can fail between the solve and
  // copying its results out of C memory.
  int *rep = lua_newuserdata(L, (size_t)(nv ? nv : 1) * sizeof *rep);
  double *gout = lua_newuserdata(L, (size_t)(ng ? ng : 1) * 3 * sizeof *gout);
  long *tout = lua_newuserdata(L, (size_t)(nt ? nt : 1) * sizeof *tout);

  sl_alloc_problem_t p = {groups, ng, variants, nv, types, nt};
  void *aud;
  opts.alloc = (sl_alloc_fn)lua_getallocf(L, &aud);
  opts.alloc_ud = aud;
  sl_alloc_result_t r;
  sl_err_t err;
  int rc = sl_alloc_solve(&p, &opts, &r, &err);
  if (!rc) {
    memcpy(rep, r.replicas, (size_t)nv * sizeof *rep);
    memcpy(gout, r.capacity, (size_t)ng * sizeof *gout);
    memcpy(gout + ng, r.served, (size_t)ng * sizeof *gout);
    memcpy(gout + 2 * ng, r.attainment, (size_t)ng * sizeof *gout);
    memcpy(tout, r.gpus_used, (size_t)nt * sizeof *tout);
  }
  sl_alloc_result_t s = r; // scalars survive the free
  sl_alloc_result_deinit(&r);
  if (rc) {
    // The allocator names entries by C index ("groups[0] (a).demand: ..."); say it the way
    // the caller wrote it ("groups[1].demand: ..." or "groups.a.demand: ...").
    const char *msg = err.msg;
    char buf[SL_ERR_MAX + 96];
    static const char *const kinds[] = {"groups", "variants"};
    for (int k = 0; k < 2; k++) {
      size_t kl = strlen(kinds[k]);
      int idx, used = 0;
      if (strncmp(msg, kinds[k], kl) || sscanf(msg + kl, "[%d]%n", &idx, &used) != 1) continue;
      const char *rest = strchr(msg + kl + used, ')');
      const keyent_t *e = k == 0 ? &gk[idx] : &vk[idx];
      if (!rest || idx < 0 || idx >= (k == 0 ? ng : nv)) continue;
      if (e->key)
        snprintf(buf, sizeof buf, "%s.%s%s", kinds[k], e->key, rest + 1);
      else
        snprintf(buf, sizeof buf, "%s[%d]%s", kinds[k], e->ref, rest + 1);
      msg = buf;
    }
    lua_pushnil(L);
    lua_pushstring(L, msg);
    return 2;
  }

  lua_createtable(L, 0, 20);
  int res = lua_gettop(L);
  lua_createtable(L, 0, nv);
  for (int i = 0; i < nv; i++) {
    lua_pushinteger(L, rep[i]);
    lua_setfield(L, -2, variants[i].id);
  }
  lua_setfield(L, res, "replicas");
  lua_createtable(L, 0, ng);
  for (int i = 0; i < ng; i++) {
    lua_createtable(L, 0, 4);
    lua_pushnumber(L, gout[ng + i]);
    lua_setfield(L, -2, "served");
    lua_pushnumber(L, gout[2 * ng + i]);
    lua_setfield(L, -2, "attainment");
    lua_pushnumber(L, gout[i]);
    lua_setfield(L, -2, "capacity");
    lua_pushnumber(L, groups[i].demand);
    lua_setfield(L, -2, "demand");
    lua_setfield(L, -2, groups[i].name);
  }
  lua_setfield(L, res, "groups");
  lua_createtable(L, 0, nt);
  for (int i = 0; i < nt; i++) {
    lua_pushinteger(L, (lua_Integer)tout[i]);
    lua_setfield(L, -2, types[i].name);
  }
  lua_setfield(L, res, "gpus_used");
#define SETB(k, v) (lua_pushboolean(L, (v)), lua_setfield(L, res, k))
#define SETN(k, v) (lua_pushnumber(L, (v)), lua_setfield(L, res, k))
  SETB("shortage", s.shortage);
  SETB("overcommitted", s.overcommitted);
  SETB("optimal", s.optimal);
  SETN("cost", s.cost);
  SETN("transition", s.transition);
  SETN("objective", s.objective);
  SETN("cost_bound", s.cost_bound);
  SETN("cost_gap", s.cost_gap);
  SETN("lp_cost_bound", s.lp_cost_bound);
  if (s.shortage) {
    SETN("fair_priority", wva ? -s.fair_priority : s.fair_priority);
    SETN("fair_min", s.fair_min);
    SETN("fair_bound", s.fair_bound);
  }
  SETN("work", (double)s.work);
#undef SETB
#undef SETN
  return 1;
}

int luaopen_sluice_alloc(lua_State *L) {
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, sllua_alloc_solve);
  lua_setfield(L, -2, "solve");
  lua_pushinteger(L, SL_ALLOC_DEFAULT_EFFORT);
  lua_setfield(L, -2, "DEFAULT_EFFORT");
  return 1;
}
