// Policy loading, contract checks, params merging, and decide() with result validation.
#include "core/lua/policy.h"

#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/lua/modules.h"
#include "core/util/file.h"
#include "core/util/json.h"
#include "core/util/str.h"

extern const struct sl_embedded {
  const char *name, *path, *src;
  size_t len;
} sl_embedded_lua[];

uint64_t sl_hash64(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
  return h;
}

int sl_policy_source(const char *dir, const char *file, char **path, char **src, size_t *len,
                     int *owned, sl_err_t *err) {
  char *p = NULL;
  if (file[0] == '/' || !dir)
    p = strdup(file);
  else if (asprintf(&p, "%s/%s", dir, file) < 0)
    p = NULL;
  if (!p) return sl_err(err, SL_ENOMEM, "out of memory");
  struct stat sb;
  int exists = stat(p, &sb) == 0;
  // A directory that happens to share a canned policy's name (`slo/` next to `--policy slo`)
  // is not a policy file; anything else that exists is read, or refused with the reason.
  if (exists && !S_ISDIR(sb.st_mode)) {
    int rc = sl_file_read(p, SL_POLICY_MAX_BYTES, SL_FILE_REGULAR, src, len, err);
    if (rc < 0) {
      free(p);
      return rc;
    }
    *owned = 1;
    *path = p;
    return SL_OK;
  }
  // A canned policy by name.
  char name[256];
  snprintf(name, sizeof name, "policies/%s", file);
  size_t nl = strlen(name);
  if (nl > 4 && !strcmp(name + nl - 4, ".lua")) name[nl - 4] = '\0';
  for (const struct sl_embedded *e = sl_embedded_lua; e->name; e++) {
    if (strcmp(e->name, name)) continue;
    free(p);
    *path = strdup(e->path);
    *src = (char *)e->src;
    *len = e->len;
    *owned = 0;
    return *path ? SL_OK : sl_err(err, SL_ENOMEM, "out of memory");
  }
  int rc = exists ? sl_err(err, SL_EINVAL, "%s: is a directory, not a policy file", p)
                  : sl_err(err, SL_ENOTFOUND, "%s: no such file, and no canned policy named '%s'",
                           p, file);
  free(p);
  return rc;
}

void sl_policy_free(sl_policy_t *p) {
  if (!p) return;
  sl_vm_free(p->vm);
  free(p->name);
  free(p->chunkname);
  free(p);
}

// t[k] without metamethods: host code never runs policy code by reading policy tables.
static int rawfield(lua_State *L, int idx, const char *k) {
  if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = lua_gettop(L) + idx + 1;
  lua_pushstring(L, k);
  lua_rawget(L, idx);
  return lua_type(L, -1);
}

// Policy tables, their params and their decisions are plain tables: a metatable there could make
// a read run code, and nothing in the contract needs one.
static int has_metatable(lua_State *L, int idx) {
  if (!lua_getmetatable(L, idx)) return 0;
  lua_pop(L, 1);
  return 1;
}

// Converts a YAML node to a Lua value: plain scalars that read as booleans or numbers become
// those; quoted scalars stay strings.
static void push_yval(lua_State *L, const sl_yval_t *v) {
  double x;
  switch (v->type) {
  case SL_Y_NULL:
    lua_pushnil(L);
    return;
  case SL_Y_SCALAR:
    if (!v->quoted && (!strcmp(v->str, "true") || !strcmp(v->str, "false")))
      lua_pushboolean(L, v->str[0] == 't');
    else if (!v->quoted && sl_parse_number(v->str, &x) == 0)
      lua_pushnumber(L, x);
    else
      lua_pushstring(L, v->str);
    return;
  case SL_Y_SEQ:
    lua_createtable(L, (int)v->n, 0);
    for (size_t i = 0; i < v->n; i++) {
      push_yval(L, v->items[i]);
      lua_rawseti(L, -2, (int)i + 1);
    }
    return;
  case SL_Y_MAP:
    lua_createtable(L, 0, (int)v->n);
    for (size_t i = 0; i < v->n; i++) {
      lua_pushstring(L, v->keys[i]);
      push_yval(L, v->items[i]);
      lua_rawset(L, -3);
    }
    return;
  }
}

typedef struct {
  const char *file; // names file:line in messages (NULL: overrides not from a file, e.g. the REPL)
  sl_err_t *err;
} merge_ctx_t;

static int bad_params(const merge_ctx_t *c, const sl_yval_t *v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad_params(const merge_ctx_t *c, const sl_yval_t *v, const char *fmt, ...) {
  char what[SL_ERR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  if (c->file) return sl_err(c->err, SL_EINVAL, "%s:%d: bad params: %s", c->file, v->line, what);
  return sl_err(c->err, SL_EINVAL, "bad params: %s", what);
}

// Merges overrides (YAML mapping) into the defaults table at stack top. A key the defaults do
// not have, or a value of another type, is "bad params".
static int merge_params(lua_State *L, const merge_ctx_t *c, const sl_yval_t *map,
                        const char *path) {
  for (size_t i = 0; i < map->n; i++) {
    const char *k = map->keys[i];
    const sl_yval_t *v = map->items[i];
    char fp[256];
    snprintf(fp, sizeof fp, "%s%s%s", path, *path ? "." : "", k);
    int dt = rawfield(L, -1, k);
    if (dt == LUA_TNIL) {
      lua_pop(L, 1);
      return bad_params(c, v, "'%s' is not a parameter of this policy", fp);
    }
    if (dt == LUA_TTABLE && v->type == SL_Y_MAP) {
      if (has_metatable(L, -1)) {
        lua_pop(L, 1);
        return bad_params(c, v, "'%s' has a metatable in the policy (params must be plain tables)",
                          fp);
      }
      int rc = merge_params(L, c, v, fp);
      lua_pop(L, 1);
      if (rc < 0) return rc;
      continue;
    }
    // A default of "auto" means "computed unless given": a number may replace it.
    int is_auto = dt == LUA_TSTRING && !strcmp(lua_tostring(L, -1), "auto");
    lua_pop(L, 1);
    lua_pushstring(L, k);
    push_yval(L, v);
    int vt = lua_type(L, -1);
    if (vt != dt && !(is_auto && vt == LUA_TNUMBER)) {
      const char *want = lua_typename(L, dt), *got = lua_typename(L, vt);
      lua_pop(L, 2);
      return bad_params(c, v, "'%s' must be a %s, got a %s", fp, want, got);
    }
    lua_rawset(L, -3);
  }
  return SL_OK;
}

static const char *const policy_keys[] = {
    "name", "params", "init", "decide", "validate", "period", "signals", "scale_from_zero", NULL};

static int check_contract(lua_State *L, sl_policy_t *p, sl_err_t *err) {
  const char *f = p->chunkname + (p->chunkname[0] == '@');
  if (!lua_istable(L, -1))
    return sl_err(err, SL_EINVAL, "%s: the policy file must return a table, got %s", f,
                  luaL_typename(L, -1));
  if (has_metatable(L, -1))
    return sl_err(err, SL_EINVAL, "%s: the policy table must not have a metatable", f);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      lua_pop(L, 1);
      return sl_err(err, SL_EINVAL, "%s: the policy table has a non-string key", f);
    }
    const char *k = lua_tostring(L, -1);
    int ok = 0;
    for (const char *const *a = policy_keys; *a && !ok; a++) ok = !strcmp(*a, k);
    if (!ok) {
      int rc = sl_err(err, SL_EINVAL,
                      "%s: unknown field '%s' in the policy table (allowed: name, "
                      "params, init, decide, validate, period, signals, scale_from_zero)",
                      f, k);
      lua_pop(L, 1);
      return rc;
    }
  }
  rawfield(L, -1, "name");
  if (lua_type(L, -1) != LUA_TSTRING || !lua_objlen(L, -1) || lua_objlen(L, -1) > 128) {
    lua_pop(L, 1);
    return sl_err(err, SL_EINVAL,
                  "%s: the policy needs a name (a non-empty string of at most "
                  "128 bytes)",
                  f);
  }
  for (const unsigned char *c = (const unsigned char *)lua_tostring(L, -1); *c; c++) {
    if (*c < 0x20 || *c == 0x7f) {
      lua_pop(L, 1);
      return sl_err(err, SL_EINVAL, "%s: the policy name must not contain control characters", f);
    }
  }
  if (!(p->name = strdup(lua_tostring(L, -1)))) {
    lua_pop(L, 1);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  lua_pop(L, 1);
  rawfield(L, -1, "decide");
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    return sl_err(err, SL_EINVAL, "%s: missing decide(view, params, state) function", f);
  }
  lua_pop(L, 1);
  static const struct {
    const char *k;
    int t;
  } opt[] = {{"init", LUA_TFUNCTION}, {"validate", LUA_TFUNCTION},
             {"params", LUA_TTABLE},  {"period", LUA_TNUMBER},
             {"signals", LUA_TTABLE}, {"scale_from_zero", LUA_TBOOLEAN}};
  for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++) {
    int t = rawfield(L, -1, opt[i].k);
    lua_pop(L, 1);
    if (t != LUA_TNIL && t != opt[i].t)
      return sl_err(err, SL_EINVAL, "%s: '%s' must be a %s, got a %s", f, opt[i].k,
                    lua_typename(L, opt[i].t), lua_typename(L, t));
  }
  rawfield(L, -1, "period");
  p->period = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
  lua_pop(L, 1);
  if (p->period < 0 || isnan(p->period) || isinf(p->period) || (p->period > 0 && p->period < 0.01))
    return sl_err(err, SL_EINVAL, "%s: 'period' must be at least 0.01 seconds", f);
  rawfield(L, -1, "scale_from_zero");
  p->scale_from_zero = lua_isboolean(L, -1) ? lua_toboolean(L, -1) : 1;
  lua_pop(L, 1);
  p->scrape_interval = p->lag = p->window = NAN;
  rawfield(L, -1, "signals");
  if (lua_istable(L, -1)) {
    static const char *const sk[] = {"scrape_interval", "lag", "window"};
    double *dst[] = {&p->scrape_interval, &p->lag, &p->window};
    if (has_metatable(L, -1)) {
      lua_pop(L, 1);
      return sl_err(err, SL_EINVAL, "%s: 'signals' must not have a metatable", f);
    }
    for (int i = 0; i < 3; i++) {
      rawfield(L, -1, sk[i]);
      if (!lua_isnil(L, -1)) {
        double x = lua_tonumber(L, -1);
        if (lua_type(L, -1) != LUA_TNUMBER || !(x >= 0) || isinf(x)) {
          lua_pop(L, 2);
          return sl_err(err, SL_EINVAL, "%s: signals.%s must be a number of seconds >= 0", f,
                        sk[i]);
        }
        *dst[i] = x;
      }
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return SL_OK;
}

typedef struct {
  sl_policy_t *p;
  const sl_policy_opts_t *o;
  sl_err_t *err;
  int rc;
} load_ctx_t;

// Runs inside the VM's protected call, under its budget and deadline, with the table the chunk
// returned as its argument: anything it reads is read raw, and validate() runs as policy code.
static int contract_protected(lua_State *L, void *ud) {
  load_ctx_t *c = ud;
  sl_policy_t *p = c->p;
  const sl_policy_opts_t *o = c->o;
  const char *f = o->chunkname + (o->chunkname[0] == '@');
  if ((c->rc = check_contract(L, p, c->err)) < 0) return 0;
  rawfield(L, 1, "decide");
  p->ref_decide = luaL_ref(L, LUA_REGISTRYINDEX);
  if (rawfield(L, 1, "init") == LUA_TFUNCTION)
    p->ref_init = luaL_ref(L, LUA_REGISTRYINDEX);
  else
    lua_pop(L, 1);
  if (rawfield(L, 1, "params") == LUA_TNIL) {
    lua_pop(L, 1);
    lua_newtable(L);
  } else if (has_metatable(L, -1)) {
    c->rc = sl_err(c->err, SL_EINVAL, "%s: 'params' must not have a metatable", f);
    return 0;
  }
  merge_ctx_t mc = {o->doc ? o->doc->file : NULL, c->err};
  if (o->params && o->params->n && (c->rc = merge_params(L, &mc, o->params, "")) < 0) return 0;
  if (rawfield(L, 1, "validate") == LUA_TFUNCTION) {
    // Kept for sl_policy_override_params: a change made later is validated the same way.
    lua_pushvalue(L, -1);
    p->ref_validate = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, -2);
    lua_call(L, 1, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      c->rc = sl_err(c->err, SL_EINVAL, "%s: bad params: %s", f, lua_tostring(L, -1));
      return 0;
    }
    if (!lua_isnil(L, -1)) {
      c->rc = sl_err(c->err, SL_EINVAL, "%s: validate() must return nil or an error string", f);
      return 0;
    }
  }
  lua_pop(L, 1);
  p->ref_params = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

int sl_policy_load(const sl_policy_opts_t *o, sl_policy_t **out, sl_err_t *err) {
  sl_policy_t *p = calloc(1, sizeof *p);
  if (!p || !(p->chunkname = strdup(o->chunkname))) {
    free(p);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  p->ref_decide = p->ref_params = p->ref_state = p->ref_init = p->ref_validate = LUA_NOREF;
  p->src_hash = sl_hash64(o->src, o->len);
  sl_vm_opts_t vo = {o->mem_limit, o->budget, 0, o->clock, o->module_path, o->time_limit};
  p->vm = sl_vm_new(&vo, err);
  if (!p->vm) {
    sl_policy_free(p);
    return err ? err->code : SL_ENOMEM;
  }
  sl_vm_set_name(p->vm, o->chunkname + (o->chunkname[0] == '@'));
  sl_lua_preload_kernels(p->vm);
  lua_State *L = sl_vm_state(p->vm);
  int rc = sl_vm_load(p->vm, o->src, o->len, o->chunkname, err);
  if (rc == 0) rc = sl_vm_pcall(p->vm, 0, 1, err);
  if (rc == 0) {
    load_ctx_t c = {p, o, err, 0};
    rc = sl_vm_protect(p->vm, contract_protected, &c, 1, 0, err);
    if (rc == 0) rc = c.rc;
  }
  lua_settop(L, 0);
  if (rc < 0) {
    sl_policy_free(p);
    return rc;
  }
  *out = p;
  return SL_OK;
}

int sl_policy_init_state(sl_policy_t *p, sl_err_t *err) {
  lua_State *L = sl_vm_state(p->vm);
  lua_newtable(L);
  p->ref_state = luaL_ref(L, LUA_REGISTRYINDEX);
  if (p->ref_init == LUA_NOREF) return SL_OK;
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref_init);
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref_params);
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref_state);
  int rc = sl_vm_pcall(p->vm, 2, 0, err);
  lua_settop(L, 0);
  if (rc < 0) sl_err_wrap(err, "init");
  return rc;
}

// State may hold at most this much plain data; more is almost always a leak in the policy.
#define STATE_MAX_BYTES (16u << 20)

int sl_policy_copy_state(sl_policy_t *to, sl_policy_t *from, sl_err_t *err) {
  lua_State *Lf = sl_vm_state(from->vm), *Lt = sl_vm_state(to->vm);
  lua_rawgeti(Lf, LUA_REGISTRYINDEX, from->ref_state);
  int rc = sl_vm_copy_plain(Lf, -1, Lt, STATE_MAX_BYTES, err);
  lua_pop(Lf, 1);
  if (rc < 0) return rc;
  if (!lua_istable(Lt, -1)) {
    lua_pop(Lt, 1);
    lua_newtable(Lt);
  }
  if (to->ref_state != LUA_NOREF) luaL_unref(Lt, LUA_REGISTRYINDEX, to->ref_state);
  to->ref_state = luaL_ref(Lt, LUA_REGISTRYINDEX);
  return SL_OK;
}

int sl_policy_copy_data(sl_policy_t *p, const char *which, lua_State *to, sl_err_t *err) {
  int ref = !strcmp(which, "params") ? p->ref_params : !strcmp(which, "state") ? p->ref_state : -2;
  if (ref == -2) return sl_err(err, SL_EINVAL, "no policy data named '%s'", which);
  lua_State *L = sl_vm_state(p->vm);
  if (ref == LUA_NOREF || ref == LUA_REFNIL) {
    lua_pushnil(to);
    return SL_OK;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  int rc = sl_vm_copy_plain_named(L, -1, to, STATE_MAX_BYTES, which, err);
  lua_pop(L, 1);
  return rc;
}

typedef struct {
  sl_policy_t *p;
  const sl_yval_t *map;
  sl_err_t *err;
  int rc;
} override_ctx_t;

// On a copy of the params (argument 1): the load-time merge rules, then validate(). Only when
// both pass does the copy become the params the next tick sees.
static int override_protected(lua_State *L, void *ud) {
  override_ctx_t *c = ud;
  sl_policy_t *p = c->p;
  merge_ctx_t mc = {NULL, c->err};
  if ((c->rc = merge_params(L, &mc, c->map, "")) < 0) return 0;
  if (p->ref_validate != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref_validate);
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      c->rc = sl_err(c->err, SL_EINVAL, "bad params: %s", lua_tostring(L, -1));
      return 0;
    }
    if (!lua_isnil(L, -1)) {
      c->rc = sl_err(c->err, SL_EINVAL, "validate() must return nil or an error string");
      return 0;
    }
  }
  lua_settop(L, 1);
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  luaL_unref(L, LUA_REGISTRYINDEX, p->ref_params);
  p->ref_params = ref;
  return 0;
}

int sl_policy_override_params(sl_policy_t *p, const sl_yval_t *map, sl_err_t *err) {
  lua_State *L = sl_vm_state(p->vm);
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref_params);
  // A copy, so a refused change leaves the running params exactly as they were.
  int rc = sl_vm_copy_plain_named(L, -1, L, 0, "params", err);
  lua_remove(L, rc == 0 ? -2 : -1);
  if (rc < 0) return rc;
  override_ctx_t c = {p, map, err, 0};
  rc = sl_vm_protect(p->vm, override_protected, &c, 1, 0, err);
  lua_settop(L, 0);
  return rc < 0 ? rc : c.rc;
}

typedef struct {
  const char *key;
  int type;
  double num;
  const char *str;
  size_t len;
} input_t;

static int input_cmp(const void *a, const void *b) {
  return strcmp(((const input_t *)a)->key, ((const input_t *)b)->key);
}

// A decision's `inputs` (at decision table index -1): what the policy decided on, for explain,
// the decision log and Events. A flat table of names to numbers, strings or booleans, written as
// one JSON object with sorted keys; entries past the size cap are dropped.
static int read_inputs(lua_State *L, const char *f, const char *id, char *buf, size_t cap,
                       sl_err_t *err) {
  buf[0] = '\0';
  int t = rawfield(L, -1, "inputs");
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return SL_OK;
  }
  if (t != LUA_TTABLE || has_metatable(L, -1)) {
    lua_pop(L, 1);
    return sl_err(err, SL_EINVAL,
                  "%s: malformed decision for %s: inputs must be a plain table "
                  "of names to numbers, strings or booleans",
                  f, id);
  }
  input_t in[32];
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    int vt = lua_type(L, -1);
    if (lua_type(L, -2) != LUA_TSTRING ||
        (vt != LUA_TNUMBER && vt != LUA_TSTRING && vt != LUA_TBOOLEAN)) {
      lua_pop(L, 3);
      return sl_err(err, SL_EINVAL,
                    "%s: malformed decision for %s: inputs must be a plain table "
                    "of names to numbers, strings or booleans",
                    f, id);
    }
    if (n < (int)(sizeof in / sizeof in[0])) {
      // Keys and strings stay on the table, which is alive until the decisions are read.
      in[n].key = lua_tostring(L, -2);
      in[n].type = vt;
      in[n].num = vt == LUA_TNUMBER    ? lua_tonumber(L, -1)
                  : vt == LUA_TBOOLEAN ? lua_toboolean(L, -1)
                                       : 0;
      in[n].str = vt == LUA_TSTRING ? lua_tolstring(L, -1, &in[n].len) : NULL;
      n++;
    }
    lua_pop(L, 1);
  }
  qsort(in, (size_t)n, sizeof in[0], input_cmp);
  size_t o = 0;
  buf[o++] = '{';
  for (int i = 0; i < n; i++) {
    char item[320], val[160];
    if (in[i].type == LUA_TNUMBER) {
      if (isfinite(in[i].num))
        snprintf(val, sizeof val, "%.6g", in[i].num);
      else
        snprintf(val, sizeof val, "null");
    } else if (in[i].type == LUA_TBOOLEAN) {
      snprintf(val, sizeof val, "%s", in[i].num ? "true" : "false");
    } else {
      sl_json_buf_t jb = {0};
      sl_json_buf_quote(&jb, in[i].str, in[i].len < 120 ? in[i].len : 120);
      snprintf(val, sizeof val, "%s", jb.buf ? jb.buf : "\"\"");
      sl_json_buf_deinit(&jb);
    }
    sl_json_buf_t kb = {0};
    sl_json_buf_quote(&kb, in[i].key, strlen(in[i].key) < 64 ? strlen(in[i].key) : 64);
    int m = snprintf(item, sizeof item, "%s%s:%s", o > 1 ? "," : "", kb.buf ? kb.buf : "\"\"", val);
    sl_json_buf_deinit(&kb);
    if (m < 0 || o + (size_t)m + 2 > cap) break;
    memcpy(buf + o, item, (size_t)m);
    o += (size_t)m;
  }
  buf[o++] = '}';
  buf[o] = '\0';
  lua_pop(L, 1);
  return SL_OK;
}

// Reads the table decide() returned (at stack top) into out[]. Any problem fails the whole
// result: a policy that returns garbage for one variant cannot be trusted for the others. Every
// read is raw, and tables with metatables are refused, so reading runs no policy code.
static int read_decisions(lua_State *L, sl_policy_t *p, const unsigned char *manages,
                          const int *order, sl_decision_t *out, sl_err_t *err) {
  const char *f = p->chunkname + (p->chunkname[0] == '@');
  if (!lua_istable(L, -1))
    return sl_err(err, SL_EINVAL,
                  "%s: malformed decision: decide returned %s, expected a table "
                  "{[variant_id] = {replicas = n, reason = \"...\"}}",
                  f, luaL_typename(L, -1));
  if (has_metatable(L, -1))
    return sl_err(err, SL_EINVAL,
                  "%s: malformed decision: the returned table has a metatable "
                  "(decisions must be plain tables)",
                  f);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      return sl_err(err, SL_EINVAL, "%s: malformed decision: key %s is not a variant id", f,
                    luaL_typename(L, -2));
    char id[256];
    size_t idlen;
    const char *rawid = lua_tolstring(L, -2, &idlen);
    sl_str_escape(id, sizeof id, rawid, idlen);
    int vi = sl_lview_find(L, &p->lv, -2);
    if (vi < 0 || !manages[order[vi]])
      return sl_err(err, SL_EINVAL,
                    "%s: malformed decision: '%.200s' is not a variant this policy "
                    "manages",
                    f, id);
    if (!lua_istable(L, -1))
      return sl_err(err, SL_EINVAL, "%s: malformed decision for %s: expected a table, got %s", f,
                    id, luaL_typename(L, -1));
    if (has_metatable(L, -1))
      return sl_err(err, SL_EINVAL,
                    "%s: malformed decision for %s: the table has a metatable "
                    "(decisions must be plain tables)",
                    f, id);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pop(L, 1);
      const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
      if (!k || (strcmp(k, "replicas") && strcmp(k, "reason") && strcmp(k, "inputs"))) {
        char kesc[128];
        if (k) sl_str_escape(kesc, sizeof kesc, k, strlen(k));
        return sl_err(err, SL_EINVAL,
                      "%s: malformed decision for %s: unknown field '%s' "
                      "(expected replicas, reason, inputs)",
                      f, id, k ? kesc : luaL_typename(L, -1));
      }
    }
    rawfield(L, -1, "replicas");
    double r = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || isnan(r) || r < 0 || r > 1e6 || r != floor(r)) {
      char got[64];
      if (lua_type(L, -1) == LUA_TNUMBER)
        snprintf(got, sizeof got, "%.14g", r);
      else
        snprintf(got, sizeof got, "%s", luaL_typename(L, -1));
      return sl_err(err, SL_EINVAL,
                    "%s: malformed decision for %s: replicas must be a whole "
                    "number >= 0, got %s",
                    f, id, got);
    }
    lua_pop(L, 1);
    rawfield(L, -1, "reason");
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
      return sl_err(err, SL_EINVAL, "%s: malformed decision for %s: reason must be a string", f,
                    id);
    out[vi].requested = (int)r;
    size_t rlen = 0;
    const char *reason = lua_isnil(L, -1) ? "" : lua_tolstring(L, -1, &rlen);
    // Reasons reach logs, Events and terminals: no raw newlines or escape sequences.
    sl_str_escape(out[vi].reason, sizeof out[vi].reason, reason, rlen);
    lua_pop(L, 1);
    int rc = read_inputs(L, f, id, out[vi].inputs, sizeof out[vi].inputs, err);
    if (rc < 0) return rc;
    lua_pop(L, 1);
  }
  return SL_OK;
}

typedef struct {
  sl_policy_t *p;
  const unsigned char *manages;
  const int *order;
  sl_decision_t *out;
  int nvariants;
  sl_err_t *err;
  int rc;
} decide_ctx_t;

// One tick inside one protected call: decide(), reading its result and checking state all count
// against the same budget and deadline.
static int decide_protected(lua_State *L, void *ud) {
  decide_ctx_t *c = ud;
  sl_policy_t *p = c->p;
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref_decide);
  sl_lview_push(L, &p->lv);
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref_params);
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref_state);
  lua_call(L, 3, 1);
  for (int i = 0; i < c->nvariants; i++)
    c->out[i].requested = -1, c->out[i].reason[0] = c->out[i].inputs[0] = '\0';
  if ((c->rc = read_decisions(L, p, c->manages, c->order, c->out, c->err)) < 0) return 0;
  lua_settop(L, 0);
  // State must stay plain data (it is copied across reloads): a tick that leaves something
  // else there fails now, where the policy put it, not at some later reload.
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->ref_state);
  c->rc = sl_vm_check_plain(L, -1, STATE_MAX_BYTES, "state", c->err);
  if (c->rc < 0)
    sl_err_wrap(c->err, "%s: at the end of the tick", p->chunkname + (p->chunkname[0] == '@'));
  return 0;
}

int sl_policy_decide(sl_policy_t *p, sl_view_t *view, const unsigned char *manages,
                     const int *order, uint64_t tick, sl_decision_t *out, sl_err_t *err) {
  lua_State *L = sl_vm_state(p->vm);
  p->lv.view = view;
  p->lv.manages = manages;
  p->lv.order = order;
  p->lv.tick = tick;
  decide_ctx_t c = {p, manages, order, out, view->nvariants, err, 0};
  int rc = sl_vm_protect(p->vm, decide_protected, &c, 0, 0, err);
  if (rc == 0) rc = c.rc;
  if (rc < 0)
    for (int i = 0; i < view->nvariants; i++) out[i].requested = -1;
  lua_settop(L, 0);
  p->lv.view = NULL; // proxies kept past the tick fail loudly instead of reading freed memory
  return rc;
}
