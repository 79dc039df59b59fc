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
          "Loads each policy in the sandbox, checks its shape and params, and runs one tick on a\n"
          "fixture view (a built-in one, or FILE with -c CONFIG naming its variants).\n"
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

int sl_cmd_check(int argc, char **argv) {
  static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                       {"fixture", required_argument, 0, 'f'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *config = NULL, *fixture = NULL;
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
