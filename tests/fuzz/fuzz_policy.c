// libFuzzer: the policy contract and decision readers. The input drives a small generator of
// Lua source (so almost every input is a syntactically valid policy): tables of every shape,
// metatables whose __index errors or loops, functions, odd keys and values, placed where the
// host reads them — the policy table, params, signals, decide's result and state. Each policy is
// loaded, initialised and run for two ticks on a fixed view. Whatever it does, the host must
// return an error or decisions, never crash, hang or run policy code unprotected.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/lua/policy.h"
#include "core/state/fixture.h"

typedef struct {
  const uint8_t *d;
  size_t n, i;
  char out[16384];
  size_t len;
} gen_t;

static unsigned take(gen_t *g) {
  return g->i < g->n ? g->d[g->i++] : 0;
}

static void put(gen_t *g, const char *s) {
  size_t k = strlen(s);
  if (g->len + k + 1 >= sizeof g->out) return;
  memcpy(g->out + g->len, s, k);
  g->len += k;
  g->out[g->len] = '\0';
}

static const char *const words[] = {
    "name",     "decide", "params", "init",    "validate", "period", "signals", "scale_from_zero",
    "replicas", "reason", "llm/a",  "llm/b",   "x",        "window", "lag",     "scrape_interval",
    "__index",  "",       "\\0nul", "\\27[2J", "\\n",      "auto",   "hpa",     "state"};

static void value(gen_t *g, int depth);

static void table(gen_t *g, int depth) {
  put(g, "{");
  unsigned n = take(g) % 5;
  for (unsigned k = 0; k < n; k++) {
    unsigned kind = take(g) % 3;
    if (kind == 0) {
      put(g, "[\"");
      put(g, words[take(g) % (sizeof words / sizeof words[0])]);
      put(g, "\"]=");
    } else if (kind == 1) {
      char b[32];
      snprintf(b, sizeof b, "[%d]=", (int)(take(g) % 4) - 1);
      put(g, b);
    }
    value(g, depth + 1);
    put(g, ",");
  }
  put(g, "}");
}

static void value(gen_t *g, int depth) {
  unsigned c = depth > 4 ? take(g) % 4 : take(g) % 12;
  char b[64];
  switch (c) {
  case 0:
    snprintf(b, sizeof b, "%d", (int)take(g) - 64);
    put(g, b);
    break;
  case 1:
    put(g, "\"");
    put(g, words[take(g) % (sizeof words / sizeof words[0])]);
    put(g, "\"");
    break;
  case 2:
    put(g, take(g) & 1 ? "true" : "false");
    break;
  case 3:
    put(g, take(g) & 1 ? "nil" : "0/0");
    break;
  case 4:
  case 5:
    table(g, depth);
    break;
  case 6:
    put(g, "setmetatable(");
    table(g, depth);
    put(g, ", {__index = function() error('boom') end})");
    break;
  case 7:
    put(g, "setmetatable(");
    table(g, depth);
    put(g, ", {__index = function() while true do end end, __newindex = function() end})");
    break;
  case 8:
    put(g, "function(...) return ");
    value(g, depth + 1);
    put(g, " end");
    break;
  case 9:
    put(g, "coroutine.create(function() end)");
    break;
  case 10:
    put(g, "string.rep('a', 100)");
    break;
  default:
    put(g, "1e309");
    break;
  }
}

static void policy(gen_t *g) {
  unsigned shape = take(g) % 8;
  if (shape == 0) {
    put(g, "return ");
    value(g, 0);
    return;
  }
  put(g, shape == 1 ? "return setmetatable({" : "return {");
  put(g, "name = ");
  if (take(g) % 4)
    put(g, "\"fz\"");
  else
    value(g, 1);
  put(g, ", decide = function(view, params, state) ");
  if (take(g) & 1) {
    put(g, "state.k = ");
    value(g, 2);
    put(g, " ");
  }
  if (take(g) % 3 == 0) put(g, "for _ = 1, 1e9 do end ");
  put(g, "return ");
  unsigned r = take(g) % 4;
  if (r == 0)
    value(g, 1);
  else if (r == 1) {
    put(g, "{[\"llm/a\"] = ");
    value(g, 2);
    put(g, "}");
  } else {
    put(g, "{[\"llm/a\"] = {replicas = ");
    value(g, 3);
    put(g, ", reason = ");
    value(g, 3);
    put(g, "}}");
  }
  put(g, " end");
  for (unsigned k = take(g) % 4; k > 0; k--) {
    put(g, ", ");
    put(g, words[take(g) % 8]);
    put(g, " = ");
    value(g, 1);
  }
  put(g, shape == 1 ? "}, {__index = function() error('x') end})" : "}");
}

static const char config[] = "interval: 1s\n"
                             "variants:\n"
                             "  - {id: llm/a, model: m, min: 0, max: 8}\n"
                             "  - {id: llm/b, model: m, min: 1, max: 4}\n";
static const char views[] = "frames:\n"
                            "  - variants:\n"
                            "      llm/a: {replicas: {spec: 2}, signals: {running: 4}}\n"
                            "      llm/b: {replicas: {spec: 1}}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sl_config_t cfg;
  static sl_store_t *st;
  static sl_view_t view;
  static int order[2];
  static sl_clock_t clock;
  static int ready;
  sl_err_t err = {0};
  if (!ready) {
    sl_fixture_t fx;
    if (sl_config_load_buffer(&cfg, config, sizeof config - 1, "c.yaml", &err) < 0 ||
        sl_fixture_load_buffer(&fx, views, sizeof views - 1, "v.yaml", &cfg, &err) < 0)
      __builtin_trap();
    st = sl_store_new(16);
    sl_fixture_apply(&fx, 0, st, 0, &err);
    sl_view_init(&view);
    sl_view_params_t vp = {0, 60, 60, cfg.variants, cfg.nvariants, NULL, NULL, 0};
    if (sl_view_build(&view, st, &vp, order, &err) < 0) __builtin_trap();
    sl_fixture_deinit(&fx);
    sl_clock_init_sim(&clock, 0);
    ready = 1;
  }
  gen_t g = {data, size, 0, {0}, 0};
  policy(&g);
  sl_policy_opts_t o = {g.out, g.len, "@fz.lua", NULL, NULL, &clock, 0, 200000, NULL, 0.05};
  sl_policy_t *p = NULL;
  if (sl_policy_load(&o, &p, &err) < 0) {
    if (!err.msg[0]) __builtin_trap();
    return 0;
  }
  unsigned char manages[2] = {1, 1};
  sl_decision_t out[2];
  if (sl_policy_init_state(p, &err) == 0) {
    for (int t = 0; t < 2; t++) {
      int rc = sl_policy_decide(p, &view, manages, order, (uint64_t)t + 1, out, &err);
      if (rc < 0 && !err.msg[0]) __builtin_trap();
      if (rc == 0)
        for (int i = 0; i < 2; i++)
          if (out[i].requested < -1 || out[i].requested > 1000000) __builtin_trap();
    }
  }
  sl_policy_free(p);
  return 0;
}
