// sluice run: asks the controller for the data path (configuration, fixture source, policies,
// log actuator, an observer that prints holds) and runs it on the default libuv loop.
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/cmd/run.h"

#include "core/cmd/cmd.h"
#include "core/repl/server.h"
#include "core/runtime/actuator_log.h"
#include "core/runtime/controller.h"
#include "core/state/fixture.h"
#include "core/util/log.h"

// Changes the log actuator already printed; everything else is printed with its reason here.
static void print_outcome(sl_observer_t *ob, double now, const sl_outcome_t *o) {
  if (o->actuated) return;
  char when[32];
  sl_clock_format(now, when, sizeof when);
  printf("%s %s %s at %d: %s\n", when, o->change ? "would scale" : "hold", o->variant->id,
         o->change ? o->target : o->current, o->reason);
  fflush(stdout);
}

static void usage(FILE *f) {
  fprintf(f, "usage: sluice run -c CONFIG [--ticks N] [--dry-run] [--log-level LEVEL]\n"
             "                  [--repl-socket PATH]\n"
             "  -c, --config FILE   sluice.yaml\n"
             "  --ticks N           stop after N ticks (default: run until SIGINT/SIGTERM)\n"
             "  --dry-run           decide and log, never actuate\n"
             "  --log-level LEVEL   debug, info (default), warn or error\n"
             "  --repl-socket PATH  where `sluice repl` connects ('' for none; default in "
             "docs/repl.md)\n");
}

int sl_cmd_run(int argc, char **argv) {
  static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                       {"ticks", required_argument, 0, 't'},
                                       {"dry-run", no_argument, 0, 'd'},
                                       {"log-level", required_argument, 0, 'l'},
                                       {"help", no_argument, 0, 'h'},
                                       {"repl-socket", required_argument, 0, 'r'},
                                       {0, 0, 0, 0}};
  const char *config = NULL;
  const char *repl_socket = NULL; // NULL: repl_socket in the config, else the default
  long max_ticks = 0;
  int dry = 0, opt;
  optind = 1;
  while ((opt = getopt_long(argc + 1, argv - 1, "c:h", opts, NULL)) != -1) {
    switch (opt) {
    case 'c':
      config = optarg;
      break;
    case 't': {
      char *end;
      max_ticks = strtol(optarg, &end, 10);
      if (*end || max_ticks <= 0) {
        fprintf(stderr, "sluice run: --ticks: expected a positive integer, got '%s'\n", optarg);
        return SL_EXIT_USAGE;
      }
      break;
    }
    case 'd':
      dry = 1;
      break;
    case 'r':
      repl_socket = optarg;
      break;
    case 'l':
      if (!strcmp(optarg, "debug"))
        sl_log_set_level(SL_LOG_DEBUG);
      else if (!strcmp(optarg, "info"))
        sl_log_set_level(SL_LOG_INFO);
      else if (!strcmp(optarg, "warn"))
        sl_log_set_level(SL_LOG_WARN);
      else if (!strcmp(optarg, "error"))
        sl_log_set_level(SL_LOG_ERROR);
      else {
        fprintf(stderr, "sluice run: --log-level: expected debug, info, warn or error\n");
        return SL_EXIT_USAGE;
      }
      break;
    case 'h':
      usage(stdout);
      return SL_EXIT_OK;
    default:
      usage(stderr);
      return SL_EXIT_USAGE;
    }
  }
  if (!config) {
    fprintf(stderr, "sluice run: -c CONFIG is required\n");
    usage(stderr);
    return SL_EXIT_USAGE;
  }
  sl_err_t err = {0};
  sl_config_t cfg;
  if (sl_config_load(&cfg, config, &err) < 0) {
    fprintf(stderr, "sluice run: %s\n", err.msg);
    return SL_EXIT_USAGE;
  }
  if (dry) cfg.guard.dry_run = 1;
  int code = SL_EXIT_OK;
  sl_clock_t clock;
  sl_clock_init_real(&clock);
  sl_fixture_t fixture;
  int have_fixture = 0;
  sl_actuator_t *actuator = sl_actuator_log_new(stdout);
  sl_observer_t printer = {.outcome = print_outcome};
  sl_controller_t c;
  sl_controller_opts_t co = {&cfg, &clock, 1024, getenv("SLUICE_LUA_PATH"), 0};
  int have_c = 0;
  if (!actuator) {
    fprintf(stderr, "sluice run: out of memory\n");
    code = SL_EXIT_FAIL;
    goto out;
  }
  if (!cfg.source_kind || strcmp(cfg.source_kind, "fixture")) {
    fprintf(stderr, "sluice run: %s: no source configured (source: {fixture: FILE})\n", config);
    code = SL_EXIT_USAGE;
    goto out;
  }
  if (sl_fixture_load(&fixture, cfg.source_file, &cfg, &err) < 0) {
    fprintf(stderr, "sluice run: %s\n", err.msg);
    code = SL_EXIT_USAGE;
    goto out;
  }
  have_fixture = 1;
  if (sl_controller_init(&c, &co, &err) < 0) {
    fprintf(stderr, "sluice run: %s\n", err.msg);
    code = SL_EXIT_FAIL;
    goto out;
  }
  have_c = 1;
  if (sl_controller_load_policies(&c, &err) < 0 ||
      sl_controller_add_source(&c, &fixture.source, &err) < 0 ||
      sl_controller_add_observer(&c, &printer, &err) < 0) {
    fprintf(stderr, "sluice run: %s\n", err.msg);
    code = SL_EXIT_USAGE;
    goto out;
  }
  sl_controller_set_actuator(&c, -1, actuator);
  uv_loop_t *loop = uv_default_loop();
  sl_repl_server_t *repl = NULL;
  if (sl_repl_server_open(&repl, &c, loop, repl_socket ? repl_socket : cfg.repl_socket, &err) < 0) {
    fprintf(stderr, "sluice run: %s\n", err.msg);
    code = SL_EXIT_FAIL;
    goto out;
  }
  if (sl_controller_run(&c, loop, max_ticks, &err) < 0) {
    fprintf(stderr, "sluice run: %s\n", err.msg);
    code = SL_EXIT_FAIL;
  }
  sl_repl_server_free(repl);
  uv_loop_close(loop);

out:
  if (have_c) sl_controller_deinit(&c);
  if (have_fixture) sl_fixture_deinit(&fixture);
  sl_actuator_log_free(actuator);
  sl_config_deinit(&cfg);
  return code;
}
