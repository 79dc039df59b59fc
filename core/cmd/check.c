// sluice check: load policies in the sandbox, validate the contract and params, and run one dry
// tick on a fixture view. Exit 0 with one summary line per valid policy; exit 2 naming file:line
// and the reason at the first invalid one ("invalid policy").
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cmd/check.h"

#include "core/cmd/cmd.h"
#include "core/runtime/controller.h"
#include "core/runtime/decision_log.h"
#include "core/state/fixture.h"
#include "core/util/log.h"

// The built-in fixture: one model on two accelerator types, a busy H100 variant and an idle
// A100 one, a gateway queue, and three frames so windowed queries have history.
static const char builtin_config[] =
    "interval: 1s\n"
    "slo_classes:\n"
    "  standard: {ttft_ms: 500, itl_ms: 24}\n"
    "accelerators:\n"
    "  H100: {count: 16, cost: 4.0}\n"
    "  A100: {count: 8, cost: 2.2}\n"
    "variants:\n"
    "  - {id: llm/llama-h100, model: meta-llama/Llama-3.1-8B, accelerator: H100, min: 1, max: 8,"
    " slo_class: standard, profile: llama-3.1-8b/h100}\n"
    "  - {id: llm/llama-a100, model: meta-llama/Llama-3.1-8B, accelerator: A100, min: 0, max: 4,"
    " slo_class: standard, profile: llama-3.1-8b/h100}\n";

static const char builtin_fixture[] =
    "frames:\n"
    "  - variants:\n"
    "      llm/llama-h100:\n"
    "        replicas: {spec: 2, ready: 2}\n"
    "        pods:\n"
    "          - {name: h-0, signals: {waiting: 2, running: 30, kv_usage: 0.62, "
    "kv_capacity_tokens: 440000}}\n"
    "          - {name: h-1, signals: {waiting: 4, running: 34, kv_usage: 0.71, "
    "kv_capacity_tokens: 440000}}\n"
    "      llm/llama-a100:\n"
    "        replicas: {spec: 0}\n"
    "    models:\n"
    "      meta-llama/Llama-3.1-8B: {signals: {queue_size: 3, arrival_rate: 9.5}}\n"
    "  - variants:\n"
    "      llm/llama-h100:\n"
    "        pods:\n"
    "          - {name: h-0, signals: {waiting: 3, running: 31, kv_usage: 0.66}}\n"
    "          - {name: h-1, signals: {waiting: 5, running: 36, kv_usage: 0.74}}\n"
    "  - variants:\n"
    "      llm/llama-h100:\n"
    "        pods:\n"
    "          - {name: h-0, signals: {waiting: 4, running: 33, kv_usage: 0.70}}\n"
    "          - {name: h-1, signals: {waiting: 6, running: 38, kv_usage: 0.78}}\n";

static void usage(FILE *f) {
  fprintf(f,
          "usage: sluice check [-c CONFIG] [--fixture FILE] POLICY.lua...\n"
          "       sluice check --replay RECORDING [-c CONFIG] [POLICY.lua...]\n"
          "Loads each policy in the sandbox, checks its shape and params, and runs one tick on a\n"
          "fixture view (a built-in one, or FILE with -c CONFIG naming its variants).\n"
          "--replay runs every frame of a recording (sluice run --record) as a tick, with the\n"
          "recorded sluice.yaml (or CONFIG) and its policies (or the POLICY files, voting), and\n"
          "prints each change they would have applied as the run's decision log does.\n"
          "Exit status: 0 all valid; 2 an invalid policy (the message names file:line and why)\n"
          "or bad usage.\n");
}

// One policy file through the same data path as `sluice run`: a controller with the fixture as
// its source replays every frame (so the view has history) and the policy decides once, on the
// last one, with the guard in dry-run mode.
static int check_one(const sl_config_t *base, sl_fixture_t *fx, const char *config,
                     const char *file) {
  sl_config_t cfg = *base; // shallow: the fixture's variants, this one policy
  sl_policy_cfg_t pc = {0};
  for (int i = 0; config && i < base->npolicies; i++) {
    const sl_policy_cfg_t *b = &base->policies[i];
    if (strcmp(b->file, file)) continue;
    pc.params = b->params, pc.memory = b->memory, pc.budget = b->budget;
    pc.time_limit = b->time_limit;
  }
  pc.file = (char *)file;
  cfg.policies = &pc;
  cfg.npolicies = 1;
  cfg.policy_dir = NULL; // files as given on the command line
  cfg.path = NULL;       // errors name the policy file, not a configuration entry
  cfg.guard.dry_run = 1;
  fx->next = 0;
  sl_clock_t clock;
  sl_clock_init_sim(&clock, 0);
  sl_controller_t c;
  sl_controller_opts_t co = {&cfg, &clock, 64, getenv("SLUICE_LUA_PATH"), 1};
  sl_err_t err = {0};
  int code = SL_EXIT_OK;
  if (sl_controller_init(&c, &co, &err) < 0) {
    fprintf(stderr, "sluice check: %s\n", err.msg);
    return SL_EXIT_FAIL;
  }
  int loaded = sl_controller_load_policies(&c, &err) == 0;
  if (loaded && sl_controller_add_source(&c, &fx->source, &err) < 0) loaded = 0;
  sl_decider_t *d = loaded ? c.pipeline.deciders[0] : NULL;
  if (loaded) {
    sl_controller_defer(&c, fx->nframes - 1);
    // The failure is reported below, once, with its file:line first.
    sl_log_level_t level = sl_log_get_level();
    sl_log_set_level(SL_LOG_ERROR);
    for (int i = 0; i < fx->nframes && code == SL_EXIT_OK; i++) {
      sl_clock_set(&clock, i);
      if (sl_controller_tick(&c, &err) < 0) {
        fprintf(stderr, "sluice check: %s\n", err.msg);
        code = SL_EXIT_USAGE;
      }
    }
    sl_log_set_level(level);
    if (code == SL_EXIT_OK && d->failures) {
      snprintf(err.msg, sizeof err.msg, "%s", d->last_error);
      loaded = 0;
    }
  }
  if (code == SL_EXIT_OK && !loaded) {
    // "file:line: reason" first; the traceback, when there is one, after it.
    int n = (int)strcspn(err.msg, "\n");
    fprintf(stderr, "%.*s%s%s\n", n, err.msg, d ? " (in the dry tick)" : "", err.msg + n);
    code = SL_EXIT_USAGE;
  } else if (code == SL_EXIT_OK) {
    sl_slot_info_t si;
    sl_host_slot_info(&c.host, 0, &si);
    const sl_view_t *view = &c.pipeline.view;
    const sl_decision_t *out = c.pipeline.scratch; // the one decider's row, by view variant
    int decided = 0;
    char first[SL_REASON_MAX + 128] = "";
    for (int i = 0; i < view->nvariants; i++) {
      if (out[i].requested < 0) continue;
      if (!decided++)
        snprintf(first, sizeof first, "; %s -> %d: %s", view->variants[i].desc->id,
                 out[i].requested, out[i].reason[0] ? out[i].reason : "(no reason)");
    }
    printf("ok %s: policy '%s', period %gs, decided %d of %d variants%s\n", si.path, si.name,
           si.period, decided, view->nvariants, first);
  }
  sl_controller_deinit(&c);
  return code;
}

// ---- replaying a recording -----------------------------------------------------------------

// The replay's actuator: every change "succeeds", as the run's did, and is only counted.
static int noop_scale(sl_actuator_t *a, const sl_variant_t *v, int from, int to, const char *reason,
                      double now, sl_err_t *err) {
  (void)v, (void)from, (void)to, (void)reason, (void)now, (void)err;
  ++*(long *)a->ud;
  return 0;
}

// The recording's sluice.yaml (or CONFIG), with every variant the run had.
static int replay_config(sl_config_t *cfg, const char *config, const sl_fixture_t *raw,
                         const char *rec, sl_err_t *err) {
  const sl_yval_t *text = sl_y_get(raw->doc.root, "config");
  int rc;
  if (config) {
    rc = sl_config_load(cfg, config, err);
  } else if (!text || text->type != SL_Y_SCALAR) {
    return sl_err(err, SL_EINVAL, "%s: no recorded config: give -c CONFIG", rec);
  } else {
    char name[600];
    snprintf(name, sizeof name, "%s (its recorded sluice.yaml)", rec);
    rc = sl_config_load_buffer(cfg, text->str, strlen(text->str), name, err);
  }
  if (rc < 0) return rc;
  rc = sl_config_add_variants(cfg, &raw->doc, sl_y_get(raw->doc.root, "variants"), err);
  if (rc < 0) sl_config_deinit(cfg);
  return rc;
}

static int replay(const char *rec, const char *config, char **files, int nfiles) {
  sl_err_t err = {0};
  sl_fixture_t raw, fx;
  sl_config_t cfg;
  if (sl_fixture_load(&raw, rec, NULL, &err) < 0) {
    fprintf(stderr, "sluice check: %s\n", err.msg);
    return SL_EXIT_USAGE;
  }
  int rc = replay_config(&cfg, config, &raw, rec, &err);
  sl_fixture_deinit(&raw);
  if (rc < 0 || sl_fixture_load(&fx, rec, &cfg, &err) < 0) {
    fprintf(stderr, "sluice check: %s\n", err.msg);
    if (rc == 0) sl_config_deinit(&cfg);
    return SL_EXIT_USAGE;
  }
  sl_policy_cfg_t *pcs = NULL;
  if (nfiles > 0) { // the files given vote instead of the recorded policies
    pcs = calloc((size_t)nfiles, sizeof *pcs);
    for (int k = 0; pcs && k < nfiles; k++) {
      pcs[k].file = files[k];
      for (int i = 0; i < cfg.npolicies; i++)
        if (!strcmp(cfg.policies[i].file, files[k])) pcs[k] = cfg.policies[i];
    }
  }
  sl_config_t run = cfg; // shallow: the policies swapped
  if (pcs) run.policies = pcs, run.npolicies = nfiles, run.policy_dir = NULL; // paths as given
  sl_clock_t clock;
  sl_clock_init_sim(&clock, 0);
  sl_controller_t c;
  sl_controller_opts_t co = {&run, &clock, 1024, getenv("SLUICE_LUA_PATH"), 0};
  sl_decision_log_t dlog;
  sl_decision_log_init(&dlog, stdout);
  long changes = 0;
  sl_actuator_t noop = {"replay", noop_scale, NULL, &changes};
  int code = SL_EXIT_OK, have_c = 0;
  if ((nfiles > 0 && !pcs) || sl_controller_init(&c, &co, &err) < 0 || !(have_c = 1) ||
      sl_controller_load_policies(&c, &err) < 0 ||
      sl_controller_add_source(&c, &fx.source, &err) < 0 ||
      sl_controller_add_observer(&c, &dlog.obs, &err) < 0) {
    fprintf(stderr, "sluice check: %s\n", err.msg[0] ? err.msg : "out of memory");
    code = SL_EXIT_USAGE;
  }
  double t0 = NAN, t1 = NAN;
  for (int i = 0; code == SL_EXIT_OK && i < fx.nframes; i++) {
    double t = sl_fixture_time(&fx, i);
    if (isnan(t)) t = i * cfg.interval;
    if (i == 0) t0 = t;
    t1 = t;
    sl_clock_set(&clock, t);
    if (i == 0) sl_controller_set_actuator(&c, -1, &noop);
    // A policy runs on the frames it ran on in the run (its period's grid started before the
    // first frame), one the recording does not know on every frame; without `ran:`, periods
    // decide as in a run.
    int known = 0;
    for (int k = 0; k < c.pipeline.ndeciders; k++)
      known |= sl_fixture_ran(&fx, i, c.pipeline.deciders[k]->name) == 1;
    for (int k = 0; k < c.pipeline.ndeciders; k++) {
      sl_decider_t *d = c.pipeline.deciders[k];
      int ran = sl_fixture_ran(&fx, i, d->name);
      if (ran >= 0) d->next_due = ran == 1 || !known ? -INFINITY : INFINITY;
    }
    if (sl_controller_tick(&c, &err) < 0) {
      fprintf(stderr, "sluice check: frame %d: %s\n", i, err.msg);
      code = SL_EXIT_FAIL;
    }
  }
  if (code == SL_EXIT_OK)
    fprintf(stderr, "sluice check: replayed %d frames (%.1f s of the run): %ld changes\n",
            fx.nframes, t1 - t0, changes);
  if (have_c) sl_controller_deinit(&c);
  sl_decision_log_deinit(&dlog);
  free(pcs);
  sl_fixture_deinit(&fx);
  sl_config_deinit(&cfg);
  return code;
}

int sl_cmd_check(int argc, char **argv) {
  static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                       {"fixture", required_argument, 0, 'f'},
                                       {"replay", required_argument, 0, 'r'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *config = NULL, *fixture = NULL, *rec = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc + 1, argv - 1, "c:f:h", opts, NULL)) != -1) {
    switch (c) {
    case 'c':
      config = optarg;
      break;
    case 'f':
      fixture = optarg;
      break;
    case 'r':
      rec = optarg;
      break;
    case 'h':
      usage(stdout);
      return SL_EXIT_OK;
    default:
      usage(stderr);
      return SL_EXIT_USAGE;
    }
  }
  int nfiles = argc + 1 - optind;
  char **files = argv - 1 + optind;
  if (rec && fixture) {
    fprintf(stderr, "sluice check: --replay and --fixture: one or the other\n");
    return SL_EXIT_USAGE;
  }
  if (rec) {
    sl_log_set_level(SL_LOG_WARN);
    return replay(rec, config, files, nfiles);
  }
  if (nfiles <= 0) {
    fprintf(stderr, "sluice check: no policy files given\n");
    usage(stderr);
    return SL_EXIT_USAGE;
  }
  if (!!config != !!fixture) {
    fprintf(
        stderr,
        "sluice check: --fixture and -c go together (the config names the fixture's variants)\n");
    return SL_EXIT_USAGE;
  }
  sl_log_set_level(SL_LOG_WARN);
  sl_err_t err = {0};
  sl_config_t cfg;
  sl_fixture_t fx;
  int rc = config ? sl_config_load(&cfg, config, &err)
                  : sl_config_load_buffer(&cfg, builtin_config, sizeof builtin_config - 1,
                                          "built-in fixture config", &err);
  if (rc < 0) {
    fprintf(stderr, "sluice check: %s\n", err.msg);
    return SL_EXIT_USAGE;
  }
  rc = fixture ? sl_fixture_load(&fx, fixture, &cfg, &err)
               : sl_fixture_load_buffer(&fx, builtin_fixture, sizeof builtin_fixture - 1,
                                        "built-in fixture", &cfg, &err);
  if (rc < 0) {
    fprintf(stderr, "sluice check: %s\n", err.msg);
    sl_config_deinit(&cfg);
    return SL_EXIT_USAGE;
  }
  int code = SL_EXIT_OK;
  for (int k = 0; k < nfiles && code == SL_EXIT_OK; k++)
    code = check_one(&cfg, &fx, config, files[k]);

  sl_fixture_deinit(&fx);
  sl_config_deinit(&cfg);
  return code;
}
