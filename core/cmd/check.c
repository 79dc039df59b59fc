// sluice check: load policies in the sandbox, validate the contract and params, and run one dry
// tick on a fixture view. Exit 0 with one summary line per valid policy; exit 2 naming file:line
// and the reason at the first invalid one ("invalid policy").
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cmd/cmd.h"
#include "core/lua/policy.h"
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
    "          - {name: h-0, signals: {waiting: 2, running: 30, kv_usage: 0.62, kv_capacity_tokens: 440000}}\n"
    "          - {name: h-1, signals: {waiting: 4, running: 34, kv_usage: 0.71, kv_capacity_tokens: 440000}}\n"
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
    case 'c': config = optarg; break;
    case 'f': fixture = optarg; break;
    case 'h': usage(stdout); return SL_EXIT_OK;
    default: usage(stderr); return SL_EXIT_USAGE;
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
    fprintf(stderr, "sluice check: --fixture and -c go together (the config names the fixture's variants)\n");
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
    sl_config_free(&cfg);
    return SL_EXIT_USAGE;
  }
  sl_clock_t clock;
  sl_clock_init_sim(&clock, 0);
  sl_store_t *st = sl_store_new(64);
  sl_view_t view;
  sl_view_init(&view);
  int *order = calloc(cfg.nvariants ? cfg.nvariants : 1, sizeof *order);
  sl_last_t *last = calloc(cfg.nvariants ? cfg.nvariants : 1, sizeof *last);
  unsigned char *all = malloc(cfg.nvariants ? cfg.nvariants : 1);
  sl_decision_t *out = calloc(cfg.nvariants ? cfg.nvariants : 1, sizeof *out);
  int code = SL_EXIT_OK;
  if (!st || !order || !last || !all || !out) {
    fprintf(stderr, "sluice check: out of memory\n");
    code = SL_EXIT_FAIL;
    goto done;
  }
  memset(all, 1, cfg.nvariants ? cfg.nvariants : 1);
  for (int i = 0; i < cfg.nvariants; i++) last[i] = (sl_last_t){-1, -1, NAN};
  // Replay every frame so the view has history; the dry tick runs on the last one.
  for (int i = 0; i < fx.nframes; i++) {
    sl_clock_set(&clock, i);
    sl_view_params_t vp = {i, cfg.window, cfg.guard.stale_after, cfg.variants, cfg.nvariants, last,
                           cfg.accels, cfg.naccels};
    if (sl_fixture_apply(&fx, i, st, i, &err) < 0 || sl_view_build(&view, st, &vp, order, &err) < 0) {
      fprintf(stderr, "sluice check: %s\n", err.msg);
      code = SL_EXIT_USAGE;
      goto done;
    }
  }

  for (int k = 0; k < nfiles && code == SL_EXIT_OK; k++) {
    char *path = NULL, *src = NULL, chunk[1100];
    size_t len = 0;
    int owned = 0;
    sl_policy_t *p = NULL;
    const sl_policy_cfg_t *pc = NULL;
    int dry = 0;
    for (int i = 0; config && i < cfg.npolicies; i++)
      if (!strcmp(cfg.policies[i].file, files[k])) pc = &cfg.policies[i];
    rc = sl_policy_source(NULL, files[k], &path, &src, &len, &owned, &err);
    if (rc == 0) {
      snprintf(chunk, sizeof chunk, "@%s", path);
      sl_policy_opts_t o = {src,
                            len,
                            chunk,
                            &cfg.doc,
                            pc ? pc->params : NULL,
                            &clock,
                            pc ? pc->memory : 0,
                            pc ? pc->budget : 0,
                            getenv("SLUICE_LUA_PATH"),
                            pc ? pc->time_limit : 0};
      rc = sl_policy_load(&o, &p, &err);
    }
    if (rc == 0) rc = sl_policy_init_state(p, &err);
    if (rc == 0) {
      p->lv.period = p->period > 0 ? p->period : cfg.interval;
      rc = sl_policy_decide(p, &view, all, order, 1, out, &err);
      dry = 1;
    }
    if (rc < 0) {
      // "file:line: reason" first; the traceback, when there is one, after it.
      int n = (int)strcspn(err.msg, "\n");
      fprintf(stderr, "%.*s%s%s\n", n, err.msg, dry ? " (in the dry tick)" : "", err.msg + n);
      code = SL_EXIT_USAGE;
    } else {
      int decided = 0;
      char first[SL_REASON_MAX + 128] = "";
      for (int i = 0; i < view.nvariants; i++) {
        if (out[i].requested < 0) continue;
        if (!decided++)
          snprintf(first, sizeof first, "; %s -> %d: %s", view.variants[i].desc->id,
                   out[i].requested, out[i].reason[0] ? out[i].reason : "(no reason)");
      }
      printf("ok %s: policy '%s', period %gs, decided %d of %d variants%s\n", path, p->name,
             p->period > 0 ? p->period : cfg.interval, decided, view.nvariants, first);
    }
    sl_policy_free(p);
    if (owned) free(src);
    free(path);
  }

done:
  free(order);
  free(last);
  free(all);
  free(out);
  sl_view_deinit(&view);
  sl_store_free(st);
  sl_fixture_free(&fx);
  sl_config_free(&cfg);
  return code;
}
