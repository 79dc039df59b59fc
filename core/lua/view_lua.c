// View proxies. One userdata type with a kind tag; __index dispatches on (kind, field code).
// Field names are interned once per VM in a table mapping name -> code, so a lookup is one
// table read plus a switch. Proxies are cached per VM so a tick allocates almost nothing.
#include "core/lua/view_lua.h"

#include <lauxlib.h>
#include <math.h>
#include <string.h>

#include "core/state/signals.h"

enum kind {
  K_VIEW,
  K_VARIANTS,
  K_VARIANT,
  K_REPLICAS,
  K_LAST,
  K_SIGNALS,
  K_ENGINE,
  K_SLO,
  K_POD,
  K_POD_SIGNALS,
  K_MODELS,
  K_MODEL,
  K_MODEL_SIGNALS,
  K_INVENTORY,
  K_ACCEL
};

enum field {
  F_TIME = 1,
  F_TICK,
  F_PERIOD,
  F_WINDOW,
  F_VARIANTS,
  F_MODELS,
  F_INVENTORY,
  F_ACCELERATORS,
  F_AVG_OVER,
  F_MAX_OVER,
  F_MIN_OVER,
  F_RATE,
  F_QUANTILE_OVER,
  F_ID,
  F_NAMESPACE,
  F_NAME,
  F_MODEL,
  F_ACCELERATOR,
  F_GPUS,
  F_ROLE,
  F_COST,
  F_MIN,
  F_MAX,
  F_PRIORITY,
  F_SLO_CLASS,
  F_SLO,
  F_ENGINE,
  F_REPLICAS,
  F_LAST,
  F_AGE,
  F_STALE,
  F_SIGNALS,
  F_PODS,
  F_SPEC,
  F_READY,
  F_STARTING,
  F_PENDING,
  F_REQUESTED,
  F_APPLIED,
  F_AT,
  F_TTFT_MS,
  F_ITL_MS,
  F_MAX_NUM_SEQS,
  F_MAX_NUM_BATCHED_TOKENS,
  F_BLOCK_SIZE,
  F_KV_CAPACITY_TOKENS,
  F_PHASE,
  F_TYPE,
  F_TOTAL,
  F_USED,
  F_FREE,
  F_PROFILE
};

static const struct {
  const char *name;
  int code;
} fields[] = {
    {"time", F_TIME},
    {"tick", F_TICK},
    {"period", F_PERIOD},
    {"window", F_WINDOW},
    {"variants", F_VARIANTS},
    {"models", F_MODELS},
    {"inventory", F_INVENTORY},
    {"accelerators", F_ACCELERATORS},
    {"avg_over", F_AVG_OVER},
    {"max_over", F_MAX_OVER},
    {"min_over", F_MIN_OVER},
    {"rate", F_RATE},
    {"quantile_over", F_QUANTILE_OVER},
    {"id", F_ID},
    {"namespace", F_NAMESPACE},
    {"name", F_NAME},
    {"model", F_MODEL},
    {"accelerator", F_ACCELERATOR},
    {"gpus_per_replica", F_GPUS},
    {"role", F_ROLE},
    {"cost", F_COST},
    {"min", F_MIN},
    {"max", F_MAX},
    {"priority", F_PRIORITY},
    {"slo_class", F_SLO_CLASS},
    {"slo", F_SLO},
    {"engine", F_ENGINE},
    {"replicas", F_REPLICAS},
    {"last", F_LAST},
    {"age", F_AGE},
    {"stale", F_STALE},
    {"signals", F_SIGNALS},
    {"pods", F_PODS},
    {"spec", F_SPEC},
    {"ready", F_READY},
    {"starting", F_STARTING},
    {"pending", F_PENDING},
    {"requested", F_REQUESTED},
    {"applied", F_APPLIED},
    {"at", F_AT},
    {"ttft_ms", F_TTFT_MS},
    {"itl_ms", F_ITL_MS},
    {"max_num_seqs", F_MAX_NUM_SEQS},
    {"max_num_batched_tokens", F_MAX_NUM_BATCHED_TOKENS},
    {"block_size", F_BLOCK_SIZE},
    {"kv_capacity_tokens", F_KV_CAPACITY_TOKENS},
    {"phase", F_PHASE},
    {"type", F_TYPE},
    {"total", F_TOTAL},
    {"used", F_USED},
    {"free", F_FREE},
    {"profile", F_PROFILE},
};

typedef struct {
  int kind;
  int a, b; // variant / model / accel index, pod index
  sl_lview_t *lv;
} proxy_t;

#define MT_NAME "sluice.view"

static sl_view_t *live(lua_State *L, proxy_t *p) {
  if (!p->lv->view) luaL_error(L, "the view can only be read during decide()");
  return p->lv->view;
}

static int visible(const sl_lview_t *lv, int vi) {
  return vi >= 0 && vi < lv->view->nvariants && lv->manages[lv->order[vi]];
}

static int model_visible(const sl_lview_t *lv, int mi) {
  const sl_view_model_t *m = &lv->view->models[mi];
  for (int k = 0; k < m->nvariants; k++)
    if (visible(lv, m->variants[k])) return 1;
  return 0;
}

// Pushes a cached proxy (kind, a, b), creating it on first use.
static void push_proxy(lua_State *L, sl_lview_t *lv, int kind, int a, int b) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, lv->cache_ref);
  double key = ((double)kind * 1048576.0 + a) * 1048576.0 + b;
  lua_pushnumber(L, key);
  lua_rawget(L, -2);
  if (!lua_isnil(L, -1)) {
    lua_remove(L, -2);
    return;
  }
  lua_pop(L, 1);
  proxy_t *p = lua_newuserdata(L, sizeof *p);
  p->kind = kind, p->a = a, p->b = b, p->lv = lv;
  luaL_getmetatable(L, MT_NAME);
  lua_setmetatable(L, -2);
  lua_pushnumber(L, key);
  lua_pushvalue(L, -2);
  lua_rawset(L, -4);
  lua_remove(L, -2);
}

static void push_num_or_nil(lua_State *L, double x) {
  if (isnan(x))
    lua_pushnil(L);
  else
    lua_pushnumber(L, x);
}

// Looks a name up in one of the interned tables: returns its code (fields: F_*, signals: index + 1)
// or 0. One table read instead of string comparisons.
static int intern_lookup(lua_State *L, int ref, int idx) {
  if (lua_type(L, idx) != LUA_TSTRING) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  lua_pushvalue(L, idx);
  lua_rawget(L, -2);
  int code = (int)lua_tointeger(L, -1);
  lua_pop(L, 2);
  return code;
}

// Resolves a variant or model argument: a proxy or a variant id string. *is_model set for models.
static int resolve_target(lua_State *L, sl_lview_t *lv, int idx, int *is_model) {
  *is_model = 0;
  if (lua_type(L, idx) == LUA_TSTRING) {
    int vi = sl_view_find_variant(lv->view, lua_tostring(L, idx));
    if (vi >= 0 && visible(lv, vi)) return vi;
    int mi = sl_view_find_model(lv->view, lua_tostring(L, idx));
    if (mi >= 0 && model_visible(lv, mi)) {
      *is_model = 1;
      return mi;
    }
    return luaL_error(L, "no variant or model '%s' in this policy's view", lua_tostring(L, idx));
  }
  proxy_t *p = luaL_testudata(L, idx, MT_NAME);
  if (p && p->kind == K_VARIANT) return p->a;
  if (p && p->kind == K_MODEL) {
    *is_model = 1;
    return p->a;
  }
  return luaL_argerror(L, idx, "expected a variant, a model or a variant id");
}

static double check_window(lua_State *L, int idx) {
  double w = luaL_checknumber(L, idx);
  if (!(w > 0) || isinf(w)) luaL_argerror(L, idx, "window must be a positive number of seconds");
  return w;
}

static int view_over(lua_State *L, int how) {
  proxy_t *self = luaL_checkudata(L, 1, MT_NAME);
  sl_lview_t *lv = self->lv;
  live(L, self);
  int is_model, i = resolve_target(L, lv, 2, &is_model);
  const char *sig = luaL_checkstring(L, 3);
  double w = check_window(L, 4);
  int s = is_model ? sl_signals_gateway_by_name(sig) : sl_signals_variant_by_name(sig);
  if (s < 0)
    return luaL_error(L, "unknown %s signal '%s' (see docs/view.md)",
                      is_model ? "gateway" : "variant", sig);
  push_num_or_nil(L, is_model ? sl_view_model_over(lv->view, i, s, w, how)
                              : sl_view_variant_over(lv->view, i, s, w, how));
  return 1;
}

static int sllua_avg_over(lua_State *L) {
  return view_over(L, SL_OVER_AVG);
}
static int sllua_max_over(lua_State *L) {
  return view_over(L, SL_OVER_MAX);
}
static int sllua_min_over(lua_State *L) {
  return view_over(L, SL_OVER_MIN);
}

static int sllua_rate(lua_State *L) {
  proxy_t *self = luaL_checkudata(L, 1, MT_NAME);
  sl_lview_t *lv = self->lv;
  live(L, self);
  int is_model, i = resolve_target(L, lv, 2, &is_model);
  const char *name = luaL_checkstring(L, 3);
  double w = check_window(L, 4);
  int m = sl_metric_by_name(name);
  const sl_metric_info_t *mi = m >= 0 ? sl_metric_info(m) : NULL;
  if (!mi || mi->kind != SL_KIND_COUNTER || mi->scope != (is_model ? SL_SCOPE_MODEL : SL_SCOPE_POD))
    return luaL_error(L, "'%s' is not a %s counter (see docs/view.md)", name,
                      is_model ? "gateway" : "model-server");
  push_num_or_nil(L, is_model ? sl_view_model_rate(lv->view, i, m, w)
                              : sl_view_variant_rate(lv->view, i, m, w));
  return 1;
}

static int sllua_quantile_over(lua_State *L) {
  proxy_t *self = luaL_checkudata(L, 1, MT_NAME);
  sl_lview_t *lv = self->lv;
  live(L, self);
  int is_model, i = resolve_target(L, lv, 2, &is_model);
  const char *name = luaL_checkstring(L, 3);
  double q = luaL_checknumber(L, 4);
  double w = check_window(L, 5);
  if (!(q >= 0 && q <= 1)) return luaL_argerror(L, 4, "quantile must be in [0, 1]");
  int m = sl_metric_by_name(name);
  const sl_metric_info_t *mi = m >= 0 ? sl_metric_info(m) : NULL;
  if (!mi || mi->kind != SL_KIND_HISTOGRAM ||
      mi->scope != (is_model ? SL_SCOPE_MODEL : SL_SCOPE_POD))
    return luaL_error(L, "'%s' is not a %s histogram (see docs/view.md)", name,
                      is_model ? "gateway" : "model-server");
  push_num_or_nil(L, is_model ? sl_view_model_quantile(lv->view, i, m, q, w)
                              : sl_view_variant_quantile(lv->view, i, m, q, w));
  return 1;
}

// Iterators: the control variable is the next index to look at, kept as an upvalue.
static int sllua_iter_variants(lua_State *L) {
  proxy_t *self = lua_touserdata(L, lua_upvalueindex(1));
  sl_lview_t *lv = self->lv;
  live(L, self);
  int i = (int)lua_tointeger(L, lua_upvalueindex(2));
  const char *model = lua_tostring(L, lua_upvalueindex(3));
  for (; i < lv->view->nvariants; i++) {
    const sl_view_variant_t *vv = &lv->view->variants[i];
    if (!visible(lv, i) || (model && strcmp(vv->desc->model, model))) continue;
    lua_pushinteger(L, i + 1);
    lua_replace(L, lua_upvalueindex(2));
    lua_rawgeti(L, LUA_REGISTRYINDEX, lv->ids_ref); // interned once, not per tick
    lua_rawgeti(L, -1, i + 1);
    lua_remove(L, -2);
    push_proxy(L, lv, K_VARIANT, i, 0);
    return 2;
  }
  lua_pushinteger(L, i);
  lua_replace(L, lua_upvalueindex(2));
  return 0;
}

static int sllua_iter_models(lua_State *L) {
  proxy_t *self = lua_touserdata(L, lua_upvalueindex(1));
  sl_lview_t *lv = self->lv;
  live(L, self);
  int i = (int)lua_tointeger(L, lua_upvalueindex(2));
  for (; i < lv->view->nmodels; i++) {
    if (!model_visible(lv, i)) continue;
    lua_pushinteger(L, i + 1);
    lua_replace(L, lua_upvalueindex(2));
    lua_pushstring(L, lv->view->models[i].name);
    push_proxy(L, lv, K_MODEL, i, 0);
    return 2;
  }
  return 0;
}

static int sllua_iter_accels(lua_State *L) {
  proxy_t *self = lua_touserdata(L, lua_upvalueindex(1));
  sl_lview_t *lv = self->lv;
  live(L, self);
  int i = (int)lua_tointeger(L, lua_upvalueindex(2));
  if (i >= lv->view->naccels) return 0;
  lua_pushinteger(L, i + 1);
  lua_replace(L, lua_upvalueindex(2));
  lua_pushstring(L, lv->view->accels[i].type);
  push_proxy(L, lv, K_ACCEL, i, 0);
  return 2;
}

static int make_iter(lua_State *L, lua_CFunction f) {
  proxy_t *self = luaL_checkudata(L, 1, MT_NAME);
  live(L, self);
  lua_pushvalue(L, 1);
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, f, 2);
  return 1;
}

static int sllua_accelerators(lua_State *L) {
  return make_iter(L, sllua_iter_accels);
}

// view.variants and view.models are maps that can also be called, so that view:variants([model])
// and view:models() iterate them in order: view:variants(m) is view.variants(view, m).
static int sllua_call(lua_State *L) {
  proxy_t *p = lua_touserdata(L, 1);
  live(L, p);
  if (p->kind == K_VARIANTS) {
    // view:variants(model) arrives as (variants, view, model).
    const char *model = lua_isnoneornil(L, 3) ? NULL : luaL_checkstring(L, 3);
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 0);
    if (model)
      lua_pushstring(L, model);
    else
      lua_pushnil(L);
    lua_pushcclosure(L, sllua_iter_variants, 3);
    return 1;
  }
  if (p->kind == K_MODELS) {
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, sllua_iter_models, 2);
    return 1;
  }
  return luaL_error(L, "attempt to call a view field");
}

static int index_view(lua_State *L, proxy_t *p, int code) {
  sl_lview_t *lv = p->lv;
  switch (code) {
  case F_TIME:
    lua_pushnumber(L, lv->view->time);
    return 1;
  case F_TICK:
    lua_pushnumber(L, (double)lv->tick);
    return 1;
  case F_PERIOD:
    lua_pushnumber(L, lv->period);
    return 1;
  case F_WINDOW:
    lua_pushnumber(L, lv->view->window);
    return 1;
  case F_VARIANTS:
    push_proxy(L, lv, K_VARIANTS, 0, 0);
    return 1;
  case F_MODELS:
    push_proxy(L, lv, K_MODELS, 0, 0);
    return 1;
  case F_INVENTORY:
    push_proxy(L, lv, K_INVENTORY, 0, 0);
    return 1;
  case F_ACCELERATORS:
    lua_pushcfunction(L, sllua_accelerators);
    return 1;
  case F_AVG_OVER:
    lua_pushcfunction(L, sllua_avg_over);
    return 1;
  case F_MAX_OVER:
    lua_pushcfunction(L, sllua_max_over);
    return 1;
  case F_MIN_OVER:
    lua_pushcfunction(L, sllua_min_over);
    return 1;
  case F_RATE:
    lua_pushcfunction(L, sllua_rate);
    return 1;
  case F_QUANTILE_OVER:
    lua_pushcfunction(L, sllua_quantile_over);
    return 1;
  }
  return 0;
}

static int index_variant(lua_State *L, proxy_t *p, int code) {
  const sl_view_variant_t *vv = &p->lv->view->variants[p->a];
  const sl_variant_t *d = vv->desc;
  switch (code) {
  case F_ID:
    lua_pushstring(L, d->id);
    return 1;
  case F_NAMESPACE:
    lua_pushstring(L, d->ns);
    return 1;
  case F_NAME:
    lua_pushstring(L, d->name);
    return 1;
  case F_MODEL:
    lua_pushstring(L, d->model);
    return 1;
  case F_ACCELERATOR:
    lua_pushstring(L, d->accelerator);
    return 1;
  case F_GPUS:
    lua_pushinteger(L, d->gpus_per_replica);
    return 1;
  case F_ROLE:
    lua_pushstring(L, sl_role_name(d->role));
    return 1;
  case F_COST:
    lua_pushnumber(L, d->cost);
    return 1;
  case F_MIN:
    lua_pushinteger(L, d->min);
    return 1;
  case F_MAX:
    lua_pushinteger(L, d->max);
    return 1;
  case F_PRIORITY:
    lua_pushinteger(L, d->priority);
    return 1;
  case F_SLO_CLASS:
    if (d->slo_class)
      lua_pushstring(L, d->slo_class);
    else
      lua_pushnil(L);
    return 1;
  case F_PROFILE:
    if (d->profile)
      lua_pushstring(L, d->profile);
    else
      lua_pushnil(L);
    return 1;
  case F_SLO:
    if (d->slo)
      push_proxy(L, p->lv, K_SLO, p->a, 0);
    else
      lua_pushnil(L);
    return 1;
  case F_ENGINE:
    push_proxy(L, p->lv, K_ENGINE, p->a, 0);
    return 1;
  case F_REPLICAS:
    push_proxy(L, p->lv, K_REPLICAS, p->a, 0);
    return 1;
  case F_LAST:
    push_proxy(L, p->lv, K_LAST, p->a, 0);
    return 1;
  case F_SIGNALS:
    push_proxy(L, p->lv, K_SIGNALS, p->a, 0);
    return 1;
  case F_PODS: {
    // A plain array, so ipairs and # work as policies expect; the pod proxies inside are cached.
    lua_createtable(L, vv->npods, 0);
    for (int i = 0; i < vv->npods; i++) {
      push_proxy(L, p->lv, K_POD, p->a, i);
      lua_rawseti(L, -2, i + 1);
    }
    return 1;
  }
  case F_AGE:
    lua_pushnumber(L, vv->age);
    return 1;
  case F_STALE:
    lua_pushboolean(L, vv->stale);
    return 1;
  }
  return 0;
}

static int sllua_index(lua_State *L) {
  proxy_t *p = lua_touserdata(L, 1);
  sl_view_t *view = live(L, p);
  sl_lview_t *lv = p->lv;
  switch (p->kind) {
  case K_VARIANTS: {
    if (lua_type(L, 2) != LUA_TSTRING) return 0;
    int vi = sl_view_find_variant(view, lua_tostring(L, 2));
    if (!visible(lv, vi)) return 0;
    push_proxy(L, lv, K_VARIANT, vi, 0);
    return 1;
  }
  case K_MODELS: {
    if (lua_type(L, 2) != LUA_TSTRING) return 0;
    int mi = sl_view_find_model(view, lua_tostring(L, 2));
    if (mi < 0 || !model_visible(lv, mi)) return 0;
    push_proxy(L, lv, K_MODEL, mi, 0);
    return 1;
  }
  case K_INVENTORY: {
    if (lua_type(L, 2) != LUA_TSTRING) return 0;
    for (int i = 0; i < view->naccels; i++)
      if (!strcmp(view->accels[i].type, lua_tostring(L, 2))) {
        push_proxy(L, lv, K_ACCEL, i, 0);
        return 1;
      }
    return 0;
  }
  case K_SIGNALS:
  case K_POD_SIGNALS:
  case K_MODEL_SIGNALS: {
    if (lua_type(L, 2) != LUA_TSTRING) return 0;
    double x = NAN;
    int s;
    if (p->kind == K_SIGNALS) {
      if ((s = intern_lookup(L, lv->vsig_ref, 2))) x = view->variants[p->a].sig[s - 1];
    } else if (p->kind == K_POD_SIGNALS) {
      const sl_view_variant_t *vv = &view->variants[p->a];
      if (p->b < vv->npods && (s = intern_lookup(L, lv->psig_ref, 2)))
        x = vv->pods[p->b].sig[s - 1];
    } else if ((s = intern_lookup(L, lv->gsig_ref, 2))) {
      x = view->models[p->a].sig[s - 1];
    }
    push_num_or_nil(L, x);
    return 1;
  }
  default:
    break;
  }

  int code = intern_lookup(L, lv->fields_ref, 2);
  if (!code) return 0;
  switch (p->kind) {
  case K_VIEW:
    return index_view(L, p, code);
  case K_VARIANT:
    return index_variant(L, p, code);
  case K_REPLICAS: {
    const sl_view_variant_t *vv = &view->variants[p->a];
    switch (code) {
    case F_SPEC:
      lua_pushinteger(L, vv->spec);
      return 1;
    case F_READY:
      lua_pushinteger(L, vv->ready);
      return 1;
    case F_STARTING:
      lua_pushinteger(L, vv->starting);
      return 1;
    case F_PENDING:
      lua_pushinteger(L, vv->pending);
      return 1;
    }
    return 0;
  }
  case K_LAST: {
    const sl_last_t *l = &view->variants[p->a].last;
    if (code == F_REQUESTED && l->requested >= 0)
      lua_pushinteger(L, l->requested);
    else if (code == F_APPLIED && l->applied >= 0)
      lua_pushinteger(L, l->applied);
    else if (code == F_AT && !isnan(l->at))
      lua_pushnumber(L, l->at);
    else
      return 0;
    return 1;
  }
  case K_ENGINE: {
    const sl_engine_t *e = &view->variants[p->a].desc->engine;
    switch (code) {
    case F_MAX_NUM_SEQS:
      lua_pushinteger(L, e->max_num_seqs);
      return 1;
    case F_MAX_NUM_BATCHED_TOKENS:
      lua_pushinteger(L, e->max_num_batched_tokens);
      return 1;
    case F_BLOCK_SIZE:
      lua_pushinteger(L, e->block_size);
      return 1;
    case F_KV_CAPACITY_TOKENS:
      if (e->kv_capacity_tokens > 0)
        lua_pushnumber(L, e->kv_capacity_tokens);
      else
        lua_pushnil(L);
      return 1;
    }
    return 0;
  }
  case K_SLO: {
    const sl_slo_class_t *s = view->variants[p->a].desc->slo;
    if (!s) return 0;
    if (code == F_NAME)
      lua_pushstring(L, s->name);
    else if (code == F_TTFT_MS && !isinf(s->ttft_ms))
      lua_pushnumber(L, s->ttft_ms);
    else if (code == F_ITL_MS && !isinf(s->itl_ms))
      lua_pushnumber(L, s->itl_ms);
    else
      return 0;
    return 1;
  }
  case K_POD: {
    const sl_view_variant_t *vv = &view->variants[p->a];
    if (p->b >= vv->npods) return 0;
    const sl_view_pod_t *pod = &vv->pods[p->b];
    switch (code) {
    case F_NAME:
      lua_pushstring(L, pod->name);
      return 1;
    case F_PHASE:
      lua_pushstring(L, sl_store_phase_name(pod->phase));
      return 1;
    case F_AGE:
      lua_pushnumber(L, pod->age);
      return 1;
    case F_SIGNALS:
      push_proxy(L, lv, K_POD_SIGNALS, p->a, p->b);
      return 1;
    }
    return 0;
  }
  case K_MODEL: {
    const sl_view_model_t *m = &view->models[p->a];
    switch (code) {
    case F_NAME:
      lua_pushstring(L, m->name);
      return 1;
    case F_AGE:
      lua_pushnumber(L, m->age);
      return 1;
    case F_SIGNALS:
      push_proxy(L, lv, K_MODEL_SIGNALS, p->a, 0);
      return 1;
    case F_VARIANTS: {
      // A fresh array each access: callers may sort or modify it.
      lua_createtable(L, m->nvariants, 0);
      int n = 0;
      for (int k = 0; k < m->nvariants; k++) {
        if (!visible(lv, m->variants[k])) continue;
        lua_pushstring(L, view->variants[m->variants[k]].desc->id);
        lua_rawseti(L, -2, ++n);
      }
      return 1;
    }
    }
    return 0;
  }
  case K_ACCEL: {
    const sl_view_accel_t *a = &view->accels[p->a];
    switch (code) {
    case F_TYPE:
      lua_pushstring(L, a->type);
      return 1;
    case F_TOTAL:
      lua_pushinteger(L, a->total);
      return 1;
    case F_USED:
      lua_pushinteger(L, a->used);
      return 1;
    case F_FREE:
      lua_pushinteger(L, a->total - a->used);
      return 1;
    case F_COST:
      lua_pushnumber(L, a->cost);
      return 1;
    }
    return 0;
  }
  }
  return 0;
}

static int sllua_newindex(lua_State *L) {
  return luaL_error(L, "the view is read-only");
}

static int sllua_tostring(lua_State *L) {
  proxy_t *p = lua_touserdata(L, 1);
  static const char *const names[] = {"view",          "variants",    "variant",    "replicas",
                                      "last",          "signals",     "engine",     "slo",
                                      "pod",           "pod signals", "models",     "model",
                                      "model signals", "inventory",   "accelerator"};
  lua_pushfstring(L, "sluice %s", names[p->kind]);
  return 1;
}

static int intern_table(lua_State *L, const char *(*name)(int), int n) {
  lua_createtable(L, 0, n);
  for (int i = 0; i < n; i++) {
    lua_pushinteger(L, i + 1);
    lua_setfield(L, -2, name(i));
  }
  return luaL_ref(L, LUA_REGISTRYINDEX);
}

static const char *vsig_name(int i) {
  return sl_signals_variant_name((sl_vsig_t)i);
}
static const char *psig_name(int i) {
  return sl_signals_pod_name((sl_psig_t)i);
}
static const char *gsig_name(int i) {
  return sl_signals_gateway_name((sl_gsig_t)i);
}

static void setup(lua_State *L, sl_lview_t *lv) {
  if (luaL_newmetatable(L, MT_NAME)) {
    lua_pushcfunction(L, sllua_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, sllua_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, sllua_call);
    lua_setfield(L, -2, "__call");
    lua_pushcfunction(L, sllua_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
  }
  lua_pop(L, 1);
  lua_newtable(L);
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    lua_pushinteger(L, fields[i].code);
    lua_setfield(L, -2, fields[i].name);
  }
  lv->fields_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lv->vsig_ref = intern_table(L, vsig_name, SL_V__COUNT);
  lv->psig_ref = intern_table(L, psig_name, SL_P__COUNT);
  lv->gsig_ref = intern_table(L, gsig_name, SL_G__COUNT);
  lua_newtable(L);
  lv->cache_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

void sl_lview_push(lua_State *L, sl_lview_t *lv) {
  if (!lv->cache_ref) setup(L, lv);
  if (!lv->ids_ref) {
    const sl_view_t *v = lv->view;
    lua_createtable(L, v->nvariants, 0);
    lua_createtable(L, 0, v->nvariants);
    for (int i = 0; i < v->nvariants; i++) {
      lua_pushstring(L, v->variants[i].desc->id);
      lua_pushvalue(L, -1);
      lua_rawseti(L, -4, i + 1);
      lua_pushinteger(L, i + 1);
      lua_rawset(L, -3);
    }
    lv->index_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lv->ids_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  push_proxy(L, lv, K_VIEW, 0, 0);
}

int sl_lview_find(lua_State *L, sl_lview_t *lv, int idx) {
  if (!lv->index_ref || lua_type(L, idx) != LUA_TSTRING) return -1;
  if (idx < 0) idx = lua_gettop(L) + idx + 1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, lv->index_ref);
  lua_pushvalue(L, idx);
  lua_rawget(L, -2);
  int i = (int)lua_tointeger(L, -1) - 1;
  lua_pop(L, 2);
  return i;
}
