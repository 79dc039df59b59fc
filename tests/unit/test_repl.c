// The REPL's commands and Lua evaluation against a controller with real policies, ticked by
// hand on a simulated clock: what each command shows, that Lua lines see copies and cannot
// change the controller or stop it, and that set, pause, dry-run and reload do what they say.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/repl/cmds.h"
#include "core/repl/eval.h"
#include "core/repl/record.h"
#include "core/state/fixture.h"
#include "tests/unit/tap.h"

typedef struct {
  int calls;
  int to[2];
} rec_t;

static int rec_scale(sl_actuator_t *a, const sl_variant_t *v, int from, int to, const char *reason,
                     double now, sl_err_t *err) {
  rec_t *r = a->ud;
  r->calls++;
  r->to[v->id[3] - 'a'] = to;
  return 0;
}

static sl_controller_t c;
static sl_repl_record_t rec;
static sl_clock_t clock_;
static char dir[64];

// Runs a line; returns its code, with what it printed in *out (caller frees) and err.
static int run(const char *line, char **out, sl_err_t *err) {
  sl_json_buf_t b = {0};
  memset(err, 0, sizeof *err);
  int rc = sl_repl_cmds_run(&c, &rec, line, strlen(line), dir, &b, err);
  *out = b.buf ? b.buf : strdup("");
  return rc;
}

// The text a line prints, which must succeed (static, overwritten by the next call).
static const char *show(const char *line) {
  static char last[8192];
  char *out;
  sl_err_t err;
  int rc = run(line, &out, &err);
  T_OK(rc == 0, "'%s' succeeds%s%s", line, rc ? ": " : "", rc ? err.msg : "");
  snprintf(last, sizeof last, "%s", out);
  free(out);
  return last;
}

// The error of a line that must fail, and its code.
static const char *fails(const char *line, int *code) {
  static char last[SL_ERR_MAX];
  char *out;
  sl_err_t err;
  int rc = run(line, &out, &err);
  T_OK(rc < 0, "'%s' fails", line);
  if (code) *code = rc;
  snprintf(last, sizeof last, "%s", err.msg);
  free(out);
  return last;
}

static void tick(void) {
  sl_err_t err;
  sl_clock_advance(&clock_, 1);
  int rc = sl_controller_tick(&c, &err);
  if (rc < 0) printf("# tick: %s\n", err.msg);
}

static void put(const char *name, const char *text) {
  char p[128], tmp[140];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s.tmp", p);
  FILE *f = fopen(tmp, "w");
  fputs(text, f);
  fclose(f);
  rename(tmp, p);
}

static const char *P_LUA =
    "return { name = 'p', params = { want = 3, nested = { k = 1 } },\n"
    "  validate = function(p) if p.want > 6 then return 'want must be at most 6' end end,\n"
    "  decide = function(view, params, state)\n"
    "    state.n = (state.n or 0) + 1\n"
    "    return { ['ns/a'] = { replicas = params.want, reason = 'p wants ' .. params.want,\n"
    "                          inputs = { load = 27, bound = 'kv' } },\n"
    "             ['ns/b'] = { replicas = 2, reason = 'steady' } }\n"
    "  end }\n";
static const char *Q_LUA = "return { name = 'q', params = { fail = false },\n"
                           "  decide = function(view, params, state)\n"
                           "    if params.fail then error('q was told to fail') end\n"
                           "    return { ['ns/a'] = { replicas = 2, reason = 'q wants 2' } }\n"
                           "  end }\n";

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/sluice-repl-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  put("p.lua", P_LUA);
  put("q.lua", Q_LUA);
  char yaml[1024];
  snprintf(yaml, sizeof yaml,
           "interval: 1s\n"
           "policy_dir: %s\n"
           "variants:\n"
           "  - {id: ns/a, model: m, min: 1, max: 8}\n"
           "  - {id: ns/b, model: m, min: 1, max: 8}\n"
           "policies:\n"
           "  - p.lua\n"
           "  - {file: q.lua, variants: [ns/a]}\n",
           dir);
  static const char fixture[] = "frames:\n"
                                "  - variants:\n"
                                "      ns/a:\n"
                                "        replicas: {spec: 2, ready: 2}\n"
                                "        signals: {running: 5, kv_usage: 0.42}\n"
                                "      ns/b:\n"
                                "        replicas: {spec: 2, ready: 2}\n"
                                "        signals: {running: 3}\n"
                                "    models:\n"
                                "      m: {signals: {queue_size: 3, arrival_rate: 4.5}}\n";
  sl_config_t cfg;
  sl_fixture_t fx;
  sl_err_t err;
  if (sl_config_load_buffer(&cfg, yaml, strlen(yaml), "t.yaml", &err) < 0 ||
      sl_fixture_load_buffer(&fx, fixture, sizeof fixture - 1, "f.yaml", &cfg, &err) < 0) {
    printf("# %s\n", err.msg);
    return 1;
  }
  sl_clock_init_sim(&clock_, 1000);
  sl_controller_opts_t co = {&cfg, &clock_, 64, NULL, 0};
  rec_t act = {0};
  sl_actuator_t actuator = {"rec", rec_scale, NULL, &act};
  T_EQ_INT(sl_controller_init(&c, &co, &err), 0, "controller");
  T_EQ_INT(sl_controller_load_policies(&c, &err), 0, "policies load");
  sl_controller_add_source(&c, &fx.source, &err);
  sl_controller_set_actuator(&c, -1, &actuator);
  T_EQ_INT(sl_repl_record_init(&rec, &c, &err), 0, "the REPL's record observes the controller");
  int code;

  T_STR_HAS(fails("variants", &code), "no view yet", "before the first tick there is no view");
  for (int i = 0; i < 3; i++) tick();
  T_EQ_INT(act.to[0], 3, "p's scale-up of ns/a to 3 was actuated");

  // variants, explain
  const char *s = show("variants");
  T_STR_HAS(s, "tick 3 at", "variants: the tick");
  T_STR_HAS(s, "ns/a  replicas 2 (ready 2, starting 0, pending 0)  running 5", "replicas, signals");
  T_STR_HAS(s, "arrival 4.5 req/s", "the model's arrival rate");
  T_STR_HAS(s, "scaled 2 -> 3 by p: p wants 3", "the last decision, who made it and why");
  T_STR_HAS(s, "held at 2 by p: steady", "a hold too");
  s = show("explain ns/a");
  T_STR_HAS(s, "decided by: p (", "explain: the policy that carried");
  T_STR_HAS(s, "signals   running 5, kv_usage 0.42", "the variant's signals it saw");
  T_STR_HAS(s, "gateway   queue_size 3, arrival_rate 4.5", "its model's gateway signals");
  T_STR_HAS(s, "  bound = \"kv\"\n  load = 27\n", "the inputs it reported");
  T_STR_HAS(s, "* p                wants 3", "the winning ballot");
  T_STR_HAS(s, "  q                wants 2      q wants 2", "the other voter");
  T_STR_HAS(s, "requested 3, current 2 -> target 3: p wants 3\n  scaled 2 -> 3", "the guard");
  T_STR_HAS(fails("explain ns/zz", &code), "no variant 'ns/zz' (variants: ns/a, ns/b)",
            "an unknown variant is named, with the ones there are");
  T_EQ_INT(code, SL_ENOTFOUND, "SL_ENOTFOUND");
  T_STR_HAS(fails("explain", NULL), "usage: explain VARIANT", "explain needs a variant");
  T_STR_HAS(fails("variants now", NULL), "takes no argument", "variants takes none");

  // Lua on the live state
  T_OK(!strcmp(show("view.variants['ns/a'].replicas.spec"), "2\n"), "an expression's value");
  T_OK(!strcmp(show("return view.tick, controller.ticks"), "3\t3\n"), "several values, tabbed");
  T_OK(!strcmp(show("= view.tick"), "3\n"), "= EXPR");
  T_OK(!strcmp(show("local x = 2; print('x is', x)"), "x is\t2\n"), "a chunk; print goes here");
  T_STR_HAS(show("view.variants['ns/a'].signals"), "{ running = 5, kv_usage = 0.42 }",
            "view objects are shown field by field");
  T_OK(!strcmp(show("policies.p.state.n"), "3\n"), "policies carry each policy's state");
  T_OK(!strcmp(show("policies.q.params.fail"), "false\n"), "and params");
  T_OK(!strcmp(show("policies.p.state.n = 100; return policies.p.state.n"), "100\n"),
       "the REPL's copy can be changed...");
  tick();
  T_OK(!strcmp(show("policies.p.state.n"), "4\n"), "...but the policy's own state is untouched");
  T_OK(!strcmp(show("decisions['ns/a'].q.replicas, decisions['ns/a'].p.won"), "2\ttrue\n"),
       "decisions per variant and policy");
  T_OK(!strcmp(show("decisions['ns/a'].p.inputs.load"), "27\n"), "with their inputs as a table");
  T_OK(!strcmp(show("outcomes['ns/a'].policy, outcomes['ns/a'].target"), "\"p\"\t3\n"),
       "outcomes per variant");
  T_STR_HAS(fails("view.time = 1", NULL), "the view is read-only", "the view refuses writes");
  T_STR_HAS(fails("y = 1", NULL), "assignment to undeclared global 'y'", "the sandbox's globals");
  T_STR_HAS(fails("return io.open('/etc/passwd')", NULL), "attempt to index global 'io'", "no io");
  T_STR_HAS(fails("this is not lua", NULL), "repl:1:", "a syntax error names the line");
  char *out;
  int prc = run("print('before') error('boom')", &out, &err);
  T_OK(prc < 0 && !strcmp(out, "before\n") && strstr(err.msg, "repl:1: boom"),
       "what a failing line printed comes back with its error");
  free(out);

  // Lines that would never end, or never stop allocating
  int before = act.calls;
  T_STR_HAS(fails("while true do end", &code),
            "repl:1: instruction budget exceeded (10000000 instructions)",
            "an endless loop is stopped by the budget");
  T_EQ_INT(code, SL_EBUDGET, "SL_EBUDGET");
  T_STR_HAS(fails("while true do pcall(function() while true do end end) end", NULL),
            "instruction budget exceeded", "pcall does not swallow it");
  T_STR_HAS(fails("local a, b = ('x'):rep(65536), ('x'):rep(65535) .. 'y' "
                  "while true do local _ = a < b end",
                  NULL),
            "time limit exceeded (1000 ms per call)", "work in C is stopped by the time limit");
  T_STR_HAS(fails("local s = 'x' while true do s = s .. s end", &code), "memory cap exceeded",
            "unbounded allocation is stopped by the memory cap");
  T_STR_HAS(fails("local t = {} while true do t[#t + 1] = {} end", NULL), "memory cap exceeded",
            "tables too");
  tick();
  T_EQ_INT(sl_controller_ticks(&c), 5, "the controller ticks on after those lines");
  T_OK(act.calls > before, "and still actuates");
  T_OK(!strcmp(show("1 + 1"), "2\n"), "and the next line works");

  // set
  T_STR_HAS(show("set p.want 4"), "p: params.want = 4 from the next tick", "set a parameter");
  T_OK(!strcmp(show("policies.p.params.want"), "4\n"), "the running params have it");
  tick();
  T_EQ_INT(act.to[0], 4, "and the next tick decides with it");
  T_STR_HAS(fails("set p.want 9", NULL), "set p.want refused: bad params: want must be at most 6",
            "validate() has its say");
  T_STR_HAS(fails("set p.want '4'", NULL), "'want' must be a number, got a string",
            "the configuration's type rules: a quoted value is a string");
  T_STR_HAS(fails("set p.nope 1", NULL), "'nope' is not a parameter of this policy",
            "unknown parameters are refused");
  T_STR_HAS(fails("set p.nested 1", NULL), "'nested' must be a table, got a number",
            "a table is not replaced by a scalar");
  show("set p.nested.k 5");
  T_OK(!strcmp(show("policies.p.params.nested.k, policies.p.params.want"), "5\t4\n"),
       "a nested parameter; refused changes left the others as they were");
  T_STR_HAS(fails("set zz.want 1", NULL),
            "'zz.want' is not POLICY.PARAM of a running policy "
            "(policies: p, q)",
            "an unknown policy is named");
  T_STR_HAS(fails("set p.want", NULL), "usage: set POLICY.PARAM VALUE", "set needs a value");
  show("set q.lua.fail true");
  tick();
  T_STR_HAS(show("explain ns/a"), "q                wants failed", "a failing voter is shown");
  tick();
  s = show("errors");
  T_STR_HAS(s, "q.lua: failed (version 1), 2 times until", "run failures, counted");
  T_STR_HAS(s, "q was told to fail", "with the error and its file:line");
  show("set q.fail false");

  // targets: cluster mode's; here there is nothing to scrape
  T_STR_HAS(show("targets"), "no scraping here", "targets outside cluster mode says so");
  T_STR_HAS(fails("targets all", NULL), "targets takes no argument", "targets takes no argument");

  // pause, resume
  T_STR_HAS(show("pause"), "actuation paused", "pause");
  T_OK(!strcmp(show("controller.paused"), "true\n"), "the controller says so");
  show("set p.want 5");
  before = act.calls;
  tick();
  tick();
  T_EQ_INT(act.calls, before, "nothing is actuated while paused");
  T_STR_HAS(show("explain ns/a"), "(held): paused", "the guard says why");
  T_STR_HAS(show("variants"), "actuation PAUSED", "variants says so");
  T_STR_HAS(show("pause"), "already paused", "pausing twice is harmless");
  show("resume");
  tick();
  T_EQ_INT(act.to[0], 5, "after resume the decision is actuated");

  // dry-run
  put("try.lua", "return { name = 'p', params = { want = 3, nested = { k = 1 } },\n"
                 "  decide = function(view, params, state)\n"
                 "    return { ['ns/a'] = { replicas = 7, reason = 'dry ' .. state.n } } end }\n");
  before = act.calls;
  int n_before = 0;
  sscanf(show("policies.p.state.n"), "%d", &n_before);
  s = show("dry-run try.lua");
  T_STR_HAS(s, "policy 'p' as p, with its params and a copy of its state; nothing is actuated",
            "dry-run: matched by name, the running policy's state");
  char want[64];
  snprintf(want, sizeof want, "  dry-run  7      dry %d   <- differs", n_before);
  T_STR_HAS(s, want, "its decision, on the copied state, beside the running one");
  T_STR_HAS(s, "  running  5      p wants 5", "the running policy's decision");
  T_EQ_INT(act.calls, before, "nothing was actuated");
  tick();
  T_EQ_INT(act.to[0], 5, "and the running policy still decides");
  put("other.lua", "return { name = 'other', decide = function() "
                   "return { ['ns/b'] = { replicas = 6, reason = 'six' } } end }\n");
  T_STR_HAS(show("dry-run other.lua"), "matches no running policy", "an unmatched file");
  T_STR_HAS(fails("dry-run missing.lua", NULL), "missing.lua", "a missing file is named");
  put("bad.lua", "return { name = 'p', decide = function() while true do end end }\n");
  T_STR_HAS(fails("dry-run bad.lua", NULL), "instruction budget exceeded",
            "a dry run is bounded like a tick");

  // reload, errors
  put("p.lua", "return { name = 'p', decide = function( }\n");
  int rrc = run("reload", &out, &err);
  T_OK(rrc < 0 && strstr(out, "p.lua: rejected (version 2)") && strstr(out, "p.lua:1:"),
       "reload reports a broken file, and fails");
  free(out);
  T_STR_HAS(show("errors"), "p.lua: rejected (version 2): ", "errors lists it");
  T_STR_HAS(show("reload"), "no policy file changed", "nothing new to reload");
  put("p.lua", P_LUA);
  T_STR_HAS(show("reload"), "p.lua: reloaded (version 2)", "a fixed file is taken");
  tick();
  T_OK(!strcmp(show("policies.p.version, policies.p.params.want"), "2\t3\n"),
       "the new version runs with the configured params again");

  // completion
  char **m;
  size_t nm;
  sl_repl_cmds_complete(&c, "explain ns/", &m, &nm);
  T_OK(nm == 2 && !strcmp(m[0], "ns/a") && !strcmp(m[1], "ns/b"), "variant ids after explain");
  sl_repl_cmds_free_matches(m, nm);
  sl_repl_cmds_complete(&c, "ex", &m, &nm);
  T_OK(nm == 1 && !strcmp(m[0], "explain"), "command names");
  sl_repl_cmds_free_matches(m, nm);
  sl_repl_cmds_complete(&c, "set ", &m, &nm);
  T_OK(nm == 2 && !strcmp(m[0], "p.") && !strcmp(m[1], "q."), "policies after set");
  sl_repl_cmds_free_matches(m, nm);
  sl_repl_cmds_complete(&c, "return view.variants[\"ns/b", &m, &nm);
  T_OK(nm == 1 && !strcmp(m[0], "ns/b"), "variant ids inside Lua strings");
  sl_repl_cmds_free_matches(m, nm);
  sl_repl_cmds_complete(&c, "", &m, &nm);
  T_EQ_INT(nm, 15, "an empty line: every command and global");
  sl_repl_cmds_free_matches(m, nm);

  T_STR_HAS(show("help"), "dry-run FILE", "help");
  T_OK(!strcmp(show("   "), ""), "a blank line does nothing");

  // A REPL that goes away before the controller (it could not open its socket) leaves no
  // observer behind: the next ticks must not reach it (ASan would see it).
  sl_repl_record_t gone;
  T_EQ_INT(sl_repl_record_init(&gone, &c, &err), 0, "a second record");
  sl_repl_record_deinit(&gone);
  int nobs = c.pipeline.nobservers;
  tick();
  tick();
  T_EQ_INT(nobs, 1, "its observer was removed; the controller ticks on");

  sl_repl_record_deinit(&rec);
  sl_controller_deinit(&c);
  sl_fixture_deinit(&fx);
  sl_config_deinit(&cfg);
  static const char *const files[] = {"p.lua", "q.lua", "try.lua", "other.lua", "bad.lua"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, files[i]);
    unlink(p);
  }
  rmdir(dir);
  return tap_done();
}
