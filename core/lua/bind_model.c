// sluice.model: profiles, predictions, the inverse, replicas and online fitting for policies.
//
// Everything crossing the boundary is plain Lua data (numbers, strings, tables), so policies can
// keep profiles and fitter state in their `state` across hot reloads. Calls are bounded (O(max
// batch) work, no Lua callbacks, raw table access only), take their scratch memory from Lua
// (userdata, counted by a VM's memory cap) and hold no C allocation when they raise. Arguments
// are checked and converted before any work; malformed arguments raise, a target no rate can
// meet or an observation with unusable values returns nil and a message. See docs/kernels.md.
#include "core/lua/bind_model.h"

#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/model/fit.h"
#include "core/model/perf.h"
#include "core/model/queue.h"
#include "core/model/step.h"

// Tables read from Lua are small; anything larger is a mistake, refused before iterating.
#define MAX_FIELDS 64

static int raise(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int raise(lua_State *L, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  luaL_where(L, 1);
  lua_pushstring(L, msg);
  lua_concat(L, 2);
  return lua_error(L);
}

static void check_table(lua_State *L, int idx, const char *fn, const char *what) {
  if (!lua_istable(L, idx))
    raise(L, "model.%s: %s must be a table (got %s)", fn, what, luaL_typename(L, idx));
}

static int absindex(lua_State *L, int idx) {
  return idx < 0 && idx > LUA_REGISTRYINDEX ? lua_gettop(L) + idx + 1 : idx;
}

// Raw field access (idx absolute): no metamethods, so no Lua code runs inside a kernel call.
static int rawfield(lua_State *L, int idx, const char *key) {
  lua_pushstring(L, key);
  lua_rawget(L, idx);
  return lua_type(L, -1);
}

static double num_field(lua_State *L, int idx, const char *fn, const char *what, const char *key,
                        int required, double dflt) {
  int t = rawfield(L, idx, key);
  double v = dflt;
  if (t == LUA_TNUMBER) {
    v = lua_tonumber(L, -1);
  } else if (t != LUA_TNIL || required) {
    lua_pop(L, 1);
    raise(L, "model.%s: %s.%s must be a number (got %s)", fn, what, key,
          t == LUA_TNIL ? "nil" : lua_typename(L, t));
  }
  lua_pop(L, 1);
  return v;
}

static int int_field(lua_State *L, int idx, const char *fn, const char *what, const char *key,
                     int required, int dflt, int lo, int hi) {
  double v = num_field(L, idx, fn, what, key, required, dflt);
  if (!(v == floor(v) && v >= lo && v <= hi))
    raise(L, "model.%s: %s.%s must be an integer in %d..%d (got %.17g)", fn, what, key, lo, hi, v);
  return (int)v;
}

static const char *str_field(lua_State *L, int idx, const char *fn, const char *what,
                             const char *key) {
  int t = rawfield(L, idx, key);
  const char *s = NULL;
  if (t == LUA_TSTRING)
    s = lua_tostring(L, -1); // stays alive: the table holds it
  else if (t != LUA_TNIL)
    raise(L, "model.%s: %s.%s must be a string (got %s)", fn, what, key, lua_typename(L, t));
  lua_pop(L, 1);
  return s;
}

// Refuses keys outside `allowed` (NULL-terminated) so a typo in a field name is caught.
static void only_fields(lua_State *L, int idx, const char *fn, const char *what,
                        const char *const *allowed, const char *const *more) {
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (++n > MAX_FIELDS) {
      lua_pop(L, 1);
      raise(L, "model.%s: %s has more than %d fields", fn, what, MAX_FIELDS);
    }
    if (lua_type(L, -1) != LUA_TSTRING) {
      lua_pop(L, 1);
      raise(L, "model.%s: %s has a non-string key", fn, what);
    }
    const char *k = lua_tostring(L, -1);
    int ok = 0;
    for (const char *const *a = allowed; a && *a && !ok; a++) ok = !strcmp(*a, k);
    for (const char *const *a = more; a && *a && !ok; a++) ok = !strcmp(*a, k);
    if (!ok) {
      char key[64];
      snprintf(key, sizeof key, "%s", k);
      lua_pop(L, 1);
      raise(L, "model.%s: %s has an unknown field '%s'", fn, what, key);
    }
  }
}

// ---- profiles ------------------------------------------------------------------------------

static const char *const profile_meta[] = {"kind", "name", "source", "units", NULL};

static void read_profile(lua_State *L, int idx, const char *fn, sl_perf_t *p) {
  idx = absindex(L, idx);
  check_table(L, idx, fn, "profile");
  const char *kind = str_field(L, idx, fn, "profile", "kind");
  memset(p, 0, sizeof *p);
  p->kind = sl_perf_kind_parse(kind);
  if (!p->kind)
    raise(L, "model.%s: profile.kind must be \"4p\", \"3p\" or \"step\" (got %s)", fn,
          kind ? kind : "nil");
  int n;
  const sl_perf_param_t *d = sl_perf_params(p->kind, &n);
  const char *names[SL_PERF_MAX_PARAMS + 1] = {0};
  for (int i = 0; i < n; i++) {
    names[i] = d[i].name;
    p->v[i] = num_field(L, idx, fn, "profile", d[i].name, 1, 0);
  }
  only_fields(L, idx, fn, "profile", names, profile_meta);
  sl_err_t err;
  if (sl_perf_check(p, &err)) raise(L, "model.%s: profile.%s", fn, err.msg);
}

static void push_profile(lua_State *L, const sl_perf_t *p, const char *name, const char *source) {
  int n;
  const sl_perf_param_t *d = sl_perf_params(p->kind, &n);
  lua_createtable(L, 0, n + 4);
  lua_pushstring(L, sl_perf_kind_name(p->kind));
  lua_setfield(L, -2, "kind");
  if (name) {
    lua_pushstring(L, name);
    lua_setfield(L, -2, "name");
  }
  if (source) {
    lua_pushstring(L, source);
    lua_setfield(L, -2, "source");
  }
  lua_createtable(L, 0, n);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, d[i].unit);
    lua_setfield(L, -2, d[i].name);
  }
  lua_setfield(L, -2, "units");
  for (int i = 0; i < n; i++) {
    lua_pushnumber(L, p->v[i]);
    lua_setfield(L, -2, d[i].name);
  }
}

// model.profile{kind = "4p"|"3p"|"step", <parameters>, name = ?, source = ?}
static int sllua_model_profile(lua_State *L) {
  sl_perf_t p;
  read_profile(L, 1, "profile", &p);
  const char *name = str_field(L, 1, "profile", "profile", "name");
  const char *source = str_field(L, 1, "profile", "profile", "source");
  push_profile(L, &p, name, source);
  return 1;
}

// model.builtin(name) -> profile | nil, err
static int sllua_model_builtin(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const sl_perf_t *p = sl_perf_builtin(name);
  if (!p) {
    char known[512] = "";
    for (int i = 0; sl_perf_builtin_at(i); i++) {
      size_t len = strlen(known);
      snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", sl_perf_builtin_at(i)->name);
    }
    lua_pushnil(L);
    lua_pushfstring(L, "unknown profile '%s' (known: %s)", name, known);
    return 2;
  }
  push_profile(L, p, p->name, p->source);
  return 1;
}

// model.builtins() -> {name, ...}
static int sllua_model_builtins(lua_State *L) {
  lua_newtable(L);
  for (int i = 0; sl_perf_builtin_at(i); i++) {
    lua_pushstring(L, sl_perf_builtin_at(i)->name);
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

// ---- queue ---------------------------------------------------------------------------------

static const char *const shape_fields[] = {
    "max_batch", "max_queue", "in_tokens",          "out_tokens", "in_cv",
    "out_cv",    "kv_tokens", "max_batched_tokens", NULL};

static void read_shape(lua_State *L, int idx, const char *fn, sl_shape_t *s) {
  idx = absindex(L, idx);
  check_table(L, idx, fn, "shape");
  only_fields(L, idx, fn, "shape", shape_fields, NULL);
  s->max_batch = int_field(L, idx, fn, "shape", "max_batch", 1, 0, 1, SL_QUEUE_MAX_BATCH);
  s->max_queue = int_field(L, idx, fn, "shape", "max_queue", 0, -1, -1, SL_QUEUE_MAX_QUEUE);
  s->in_tokens = num_field(L, idx, fn, "shape", "in_tokens", 1, 0);
  s->out_tokens = num_field(L, idx, fn, "shape", "out_tokens", 1, 0);
  // Step profiles only: the spread of the lengths, the KV cache and the per-step token budget.
  s->in_cv = num_field(L, idx, fn, "shape", "in_cv", 0, 0);
  s->out_cv = num_field(L, idx, fn, "shape", "out_cv", 0, 0);
  s->kv_tokens = num_field(L, idx, fn, "shape", "kv_tokens", 0, 0);
  s->max_batched_tokens = int_field(L, idx, fn, "shape", "max_batched_tokens", 0, 0, 0, 16777216);
}

// A queue for (profile, shape) in a userdata left on the stack; raises on bad values.
static sl_queue_t *make_queue(lua_State *L, const char *fn, const sl_perf_t *p,
                              const sl_shape_t *s) {
  size_t bytes = sl_queue_bytes(s->max_batch);
  sl_queue_t *q = lua_newuserdata(L, bytes);
  sl_err_t err;
  if (sl_queue_init(q, bytes, p, s, &err)) raise(L, "model.%s: shape.%s", fn, err.msg);
  return q;
}

static void set_num(lua_State *L, const char *k, double v) {
  lua_pushnumber(L, v);
  lua_setfield(L, -2, k);
}

static void push_pred(lua_State *L, const sl_pred_t *o) {
  lua_createtable(L, 0, 14);
  set_num(L, "rate", o->rate);
  set_num(L, "throughput", o->throughput);
  set_num(L, "ttft_ms", o->ttft_ms);
  set_num(L, "itl_ms", o->itl_ms);
  set_num(L, "wait_ms", o->wait_ms);
  set_num(L, "service_ms", o->service_ms);
  set_num(L, "in_service", o->in_service);
  set_num(L, "in_system", o->in_system);
  set_num(L, "utilization", o->utilization);
  set_num(L, "blocking", o->blocking);
  if (o->percentile > 0) {
    set_num(L, "percentile", o->percentile);
    set_num(L, "ttft_p_ms", o->ttft_p_ms);
    set_num(L, "itl_p_ms", o->itl_p_ms);
  }
}

static double check_percentile(lua_State *L, double p, const char *fn) {
  if (!(p >= 0 && p < 1))
    raise(L, "model.%s: percentile must be in (0, 1), e.g. 0.95, or nil for means (got %.17g)", fn,
          p);
  return p;
}

// model.predict(profile, shape, rate [, percentile]) -> table
static int sllua_model_predict(lua_State *L) {
  sl_perf_t p;
  sl_shape_t s = {0};
  read_profile(L, 1, "predict", &p);
  read_shape(L, 2, "predict", &s);
  double rate = luaL_checknumber(L, 3);
  if (!(rate > 0 && isfinite(rate)))
    raise(L, "model.predict: rate must be a positive number of req/s (got %.17g)", rate);
  double pct = check_percentile(L, luaL_optnumber(L, 4, 0), "predict");
  sl_queue_t *q = make_queue(L, "predict", &p, &s);
  sl_pred_t o;
  sl_err_t err;
  if (sl_queue_predict(q, rate, pct, &o, &err)) raise(L, "model.predict: %s", err.msg);
  push_pred(L, &o);
  return 1;
}

static const char *const slo_fields[] = {"ttft_ms", "itl_ms", "percentile", NULL};

// model.max_rate(profile, shape [, slo]) -> rate, limit | nil, err
static int sllua_model_max_rate(lua_State *L) {
  sl_perf_t p;
  sl_shape_t s = {0};
  sl_slo_t slo = {0};
  read_profile(L, 1, "max_rate", &p);
  read_shape(L, 2, "max_rate", &s);
  if (!lua_isnoneornil(L, 3)) {
    check_table(L, 3, "max_rate", "slo");
    only_fields(L, 3, "max_rate", "slo", slo_fields, NULL);
    slo.ttft_ms = num_field(L, 3, "max_rate", "slo", "ttft_ms", 0, 0);
    slo.itl_ms = num_field(L, 3, "max_rate", "slo", "itl_ms", 0, 0);
    slo.percentile =
        check_percentile(L, num_field(L, 3, "max_rate", "slo", "percentile", 0, 0), "max_rate");
    if (!(slo.ttft_ms >= 0 && isfinite(slo.ttft_ms)))
      raise(L, "model.max_rate: slo.ttft_ms must be >= 0 (got %.17g)", slo.ttft_ms);
    if (!(slo.itl_ms >= 0 && isfinite(slo.itl_ms)))
      raise(L, "model.max_rate: slo.itl_ms must be >= 0 (got %.17g)", slo.itl_ms);
  }
  sl_queue_t *q = make_queue(L, "max_rate", &p, &s);
  double rate;
  sl_limit_t limit;
  sl_err_t err;
  int rc = sl_queue_max_rate(q, &slo, &rate, &limit, &err);
  if (rc == SL_ERANGE) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  if (rc) raise(L, "model.max_rate: %s", err.msg);
  lua_pushnumber(L, rate);
  lua_pushstring(L, sl_queue_limit_name(limit));
  return 2;
}

// model.replicas(demand, max_rate) -> integer, fractional
static int sllua_model_replicas(lua_State *L) {
  double demand = luaL_checknumber(L, 1), max_rate = luaL_checknumber(L, 2);
  double frac;
  sl_err_t err;
  long n = sl_queue_replicas(demand, max_rate, &frac, &err);
  if (n < 0) raise(L, "model.replicas: %s", err.msg);
  lua_pushinteger(L, n);
  lua_pushnumber(L, frac);
  return 2;
}

// model.step_ms(profile, batch, ctx_tokens, prefill_tokens) -> ms
static int sllua_model_step_ms(lua_State *L) {
  sl_perf_t p;
  read_profile(L, 1, "step_ms", &p);
  if (p.kind != SL_PERF_STEP) raise(L, "model.step_ms: profile.kind must be \"step\"");
  double b = luaL_checknumber(L, 2), ctx = luaL_checknumber(L, 3), pf = luaL_optnumber(L, 4, 0);
  if (!(b >= 0 && ctx >= 0 && pf >= 0 && isfinite(b + ctx + pf)))
    raise(L, "model.step_ms: batch, ctx_tokens and prefill_tokens must be >= 0");
  sl_step_t s;
  sl_perf_to_step(&p, &s);
  lua_pushnumber(L, sl_step_ms_ex(&s, b, ctx, pf, 0.5 * pf * pf));
  return 1;
}

static const char *const derive_fields[] = {"weight_bytes",
                                            "kv_bytes_per_token",
                                            "params",
                                            "attn_flops_per_pair",
                                            "layers",
                                            "hidden",
                                            "mem_bw",
                                            "flops",
                                            "tp",
                                            "comm_ms",
                                            "mem_eff",
                                            "flop_eff",
                                            "link_bw",
                                            "ar_hop_us",
                                            "name",
                                            "source",
                                            NULL};

// model.derive{weight_bytes=, kv_bytes_per_token=, params=, attn_flops_per_pair=, layers=,
//              hidden=, mem_bw=, flops=, tp=, comm_ms=, mem_eff=, flop_eff=, link_bw=,
//              ar_hop_us=, name=} -> step profile
static int sllua_model_derive(lua_State *L) {
  check_table(L, 1, "derive", "spec");
  only_fields(L, 1, "derive", "spec", derive_fields, NULL);
  sl_step_llm_t m = {
      .weight_bytes = num_field(L, 1, "derive", "spec", "weight_bytes", 1, 0),
      .kv_bytes_per_token = num_field(L, 1, "derive", "spec", "kv_bytes_per_token", 1, 0),
      .params = num_field(L, 1, "derive", "spec", "params", 1, 0),
      .attn_flops_per_pair = num_field(L, 1, "derive", "spec", "attn_flops_per_pair", 1, 0),
      .layers = num_field(L, 1, "derive", "spec", "layers", 0, 0),
      .hidden = num_field(L, 1, "derive", "spec", "hidden", 0, 0),
  };
  sl_step_gpu_t g = {
      .mem_bw = num_field(L, 1, "derive", "spec", "mem_bw", 1, 0),
      .flops = num_field(L, 1, "derive", "spec", "flops", 1, 0),
      .tp = int_field(L, 1, "derive", "spec", "tp", 0, 1, 1, 64),
      .comm_ms = num_field(L, 1, "derive", "spec", "comm_ms", 0, 0),
      .mem_eff = num_field(L, 1, "derive", "spec", "mem_eff", 0, 0),
      .flop_eff = num_field(L, 1, "derive", "spec", "flop_eff", 0, 0),
      .link_bw = num_field(L, 1, "derive", "spec", "link_bw", 0, 0),
      .ar_hop_us = num_field(L, 1, "derive", "spec", "ar_hop_us", 0, 0),
  };
  const char *name = str_field(L, 1, "derive", "spec", "name");
  sl_step_t s;
  sl_err_t err;
  if (sl_step_derive(&m, &g, &s, &err)) raise(L, "model.derive: spec.%s", err.msg);
  sl_perf_t p;
  sl_perf_from_step(&s, &p);
  push_profile(L, &p, name, "derived from model shape and GPU speeds (docs/calibration.md)");
  return 1;
}

// ---- fitting -------------------------------------------------------------------------------

static const char *const fit_fields[] = {"kind",     "theta",  "cov",      "lo",     "hi",
                                         "drift",    "noise",  "gate",     "spread", "updates",
                                         "rejected", "streak", "last_nis", NULL};

static void read_array(lua_State *L, int idx, const char *key, double *out, int n) {
  int t = rawfield(L, idx, key);
  if (t != LUA_TTABLE) {
    lua_pop(L, 1);
    raise(L, "model.fit_update: state.%s must be an array of %d numbers", key, n);
  }
  if ((int)lua_objlen(L, -1) != n) {
    lua_pop(L, 1);
    raise(L, "model.fit_update: state.%s must have %d entries", key, n);
  }
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, -1, i + 1);
    if (lua_type(L, -1) != LUA_TNUMBER) {
      lua_pop(L, 2);
      raise(L, "model.fit_update: state.%s[%d] must be a number", key, i + 1);
    }
    out[i] = lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static void read_fit(lua_State *L, int idx, sl_fit_t *f) {
  idx = absindex(L, idx);
  check_table(L, idx, "fit_update", "state");
  only_fields(L, idx, "fit_update", "state", fit_fields, NULL);
  memset(f, 0, sizeof *f);
  const char *kind = str_field(L, idx, "fit_update", "state", "kind");
  f->kind = sl_perf_kind_parse(kind);
  int n = 0;
  if (f->kind != SL_PERF_4P && f->kind != SL_PERF_3P)
    raise(L, "model.fit_update: state.kind must be \"4p\" or \"3p\" (got %s)", kind ? kind : "nil");
  sl_perf_params(f->kind, &n);
  f->dim = n;
  read_array(L, idx, "theta", f->theta, n);
  read_array(L, idx, "cov", f->cov, n * n);
  read_array(L, idx, "lo", f->lo, n);
  read_array(L, idx, "hi", f->hi, n);
  f->drift = num_field(L, idx, "fit_update", "state", "drift", 1, 0);
  f->noise = num_field(L, idx, "fit_update", "state", "noise", 1, 0);
  f->gate = num_field(L, idx, "fit_update", "state", "gate", 1, 0);
  f->spread = num_field(L, idx, "fit_update", "state", "spread", 1, 0);
  f->updates = (long)num_field(L, idx, "fit_update", "state", "updates", 1, 0);
  f->rejected = (long)num_field(L, idx, "fit_update", "state", "rejected", 1, 0);
  f->streak = int_field(L, idx, "fit_update", "state", "streak", 1, 0, 0, SL_FIT_REWIDEN);
  f->last_nis = num_field(L, idx, "fit_update", "state", "last_nis", 0, 0);
  sl_err_t err;
  if (sl_fit_check(f, &err)) raise(L, "model.fit_update: state.%s", err.msg);
}

static void push_array(lua_State *L, const char *key, const double *v, int n) {
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushnumber(L, v[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, key);
}

static void push_fit(lua_State *L, const sl_fit_t *f) {
  int n = f->dim;
  lua_createtable(L, 0, 13);
  lua_pushstring(L, sl_perf_kind_name(f->kind));
  lua_setfield(L, -2, "kind");
  push_array(L, "theta", f->theta, n);
  push_array(L, "cov", f->cov, n * n);
  push_array(L, "lo", f->lo, n);
  push_array(L, "hi", f->hi, n);
  set_num(L, "drift", f->drift);
  set_num(L, "noise", f->noise);
  set_num(L, "gate", f->gate);
  set_num(L, "spread", f->spread);
  set_num(L, "updates", (double)f->updates);
  set_num(L, "rejected", (double)f->rejected);
  set_num(L, "streak", f->streak);
  set_num(L, "last_nis", f->last_nis);
}

static const char *const fit_opt_fields[] = {"drift", "noise", "spread", "gate", "bound", NULL};

// model.fit_new(guess_profile [, {drift=, noise=, spread=, gate=, bound=}]) -> state
static int sllua_model_fit_new(lua_State *L) {
  sl_perf_t p;
  read_profile(L, 1, "fit_new", &p);
  sl_fit_opts_t o = {0};
  if (!lua_isnoneornil(L, 2)) {
    check_table(L, 2, "fit_new", "opts");
    only_fields(L, 2, "fit_new", "opts", fit_opt_fields, NULL);
    o.drift = num_field(L, 2, "fit_new", "opts", "drift", 0, 0);
    o.noise = num_field(L, 2, "fit_new", "opts", "noise", 0, 0);
    o.spread = num_field(L, 2, "fit_new", "opts", "spread", 0, 0);
    o.gate = num_field(L, 2, "fit_new", "opts", "gate", 0, 0);
    o.bound = num_field(L, 2, "fit_new", "opts", "bound", 0, 0);
  }
  sl_fit_t f;
  sl_err_t err;
  if (sl_fit_init(&f, &p, &o, &err)) raise(L, "model.fit_new: %s", err.msg);
  push_fit(L, &f);
  return 1;
}

static const char *const obs_fields[] = {"rate",  "in_tokens", "out_tokens", "ttft_ms", "itl_ms",
                                         "batch", "max_batch", "max_queue",  NULL};

// model.fit_update(state, obs) -> new state, accepted | nil, err
// obs = {rate=, in_tokens=, out_tokens=, ttft_ms=, itl_ms=, batch=?, max_batch=, max_queue=?}
static int sllua_model_fit_update(lua_State *L) {
  sl_fit_t f;
  read_fit(L, 1, &f);
  check_table(L, 2, "fit_update", "obs");
  only_fields(L, 2, "fit_update", "obs", obs_fields, NULL);
  sl_fit_obs_t o = {
      .rate = num_field(L, 2, "fit_update", "obs", "rate", 1, 0),
      .in_tokens = num_field(L, 2, "fit_update", "obs", "in_tokens", 1, 0),
      .out_tokens = num_field(L, 2, "fit_update", "obs", "out_tokens", 1, 0),
      .ttft_ms = num_field(L, 2, "fit_update", "obs", "ttft_ms", 1, 0),
      .itl_ms = num_field(L, 2, "fit_update", "obs", "itl_ms", 1, 0),
      .batch = num_field(L, 2, "fit_update", "obs", "batch", 0, 0),
      .max_batch = int_field(L, 2, "fit_update", "obs", "max_batch", 1, 0, 1, SL_QUEUE_MAX_BATCH),
      .max_queue = int_field(L, 2, "fit_update", "obs", "max_queue", 0, -1, -1, SL_QUEUE_MAX_QUEUE),
  };
  size_t bytes = sl_queue_bytes(o.max_batch);
  void *work = lua_newuserdata(L, bytes);
  int accepted = 0;
  sl_err_t err;
  int rc = sl_fit_update(&f, &o, work, bytes, &accepted, &err);
  if (rc) {
    // Observations come from live metrics: unusable values (no traffic, a gap) are expected.
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  push_fit(L, &f);
  lua_pushboolean(L, accepted);
  return 2;
}

// model.fit_params(state) -> profile
static int sllua_model_fit_params(lua_State *L) {
  sl_fit_t f;
  read_fit(L, 1, &f);
  sl_perf_t p;
  sl_fit_perf(&f, &p);
  push_profile(L, &p, NULL, "online fit");
  return 1;
}

static const luaL_Reg funcs[] = {
    {"profile", sllua_model_profile},       {"builtin", sllua_model_builtin},
    {"builtins", sllua_model_builtins},     {"predict", sllua_model_predict},
    {"max_rate", sllua_model_max_rate},     {"replicas", sllua_model_replicas},
    {"step_ms", sllua_model_step_ms},       {"derive", sllua_model_derive},
    {"fit_new", sllua_model_fit_new},       {"fit_update", sllua_model_fit_update},
    {"fit_params", sllua_model_fit_params}, {NULL, NULL},
};

int luaopen_sluice_model(lua_State *L) {
  lua_newtable(L);
  luaL_register(L, NULL, funcs);
  return 1;
}
