// sluice run: the controller loop. Sources fill the store, the pipeline ticks on a libuv timer,
// the host watches the policy directory for hot reloads.
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/cmd/cmd.h"
#include "core/lua/host.h"
#include "core/state/fixture.h"
#include "core/util/log.h"

typedef struct {
  sl_config_t cfg;
  sl_clock_t clock;
  sl_store_t *store;
  sl_fixture_t fixture;
  int have_fixture;
  sl_actuator_t *actuator;
  sl_pipeline_t pipeline;
  sl_host_t host;
  uv_loop_t *loop;
  uv_timer_t timer;
  uv_signal_t sigint, sigterm;
  long ticks, max_ticks;
  int status;
} run_t;

static void on_outcome(void *ud, double now, const sl_outcome_t *o) {
  if (o->actuated) return;  // the actuator already logged it
  char when[32];
  sl_format_time(now, when, sizeof when);
  printf("%s %s %s at %d: %s\n", when, o->change ? "would scale" : "hold", o->variant->id,
         o->change ? o->target : o->current, o->reason);
  fflush(stdout);
}

static void stop(run_t *r) {
  uv_timer_stop(&r->timer);
  sl_host_unwatch(&r->host);
  uv_close((uv_handle_t *)&r->timer, NULL);
  uv_close((uv_handle_t *)&r->sigint, NULL);
  uv_close((uv_handle_t *)&r->sigterm, NULL);
}

static void on_tick(uv_timer_t *t) {
  run_t *r = t->data;
  double now = sl_clock_now(&r->clock);
  sl_err_t err = {0};
  if (r->have_fixture && sl_fixture_step(&r->fixture, r->store, now, &err) < 0)
    sl_error("fixture: %s", err.msg);
  if (sl_pipeline_tick(&r->pipeline, &err) < 0) sl_error("tick: %s", err.msg);
  if (r->max_ticks > 0 && ++r->ticks >= r->max_ticks) stop(r);
}

static void on_signal(uv_signal_t *s, int signum) {
  run_t *r = s->data;
  sl_info("signal %d: stopping", signum);
  stop(r);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: sluice run -c CONFIG [--ticks N] [--dry-run] [--log-level LEVEL]\n"
          "  -c, --config FILE   sluice.yaml\n"
          "  --ticks N           stop after N ticks (default: run until SIGINT/SIGTERM)\n"
          "  --dry-run           decide and log, never actuate\n"
          "  --log-level LEVEL   debug, info (default), warn or error\n");
}

int sl_cmd_run(int argc, char **argv) {
  static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                       {"ticks", required_argument, 0, 't'},
                                       {"dry-run", no_argument, 0, 'd'},
                                       {"log-level", required_argument, 0, 'l'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *config = NULL;
  long max_ticks = 0;
  int dry = 0, c;
  optind = 1;
  while ((c = getopt_long(argc + 1, argv - 1, "c:h", opts, NULL)) != -1) {
    switch (c) {
    case 'c': config = optarg; break;
    case 't': {
      char *end;
      max_ticks = strtol(optarg, &end, 10);
      if (*end || max_ticks <= 0) {
        fprintf(stderr, "sluice run: --ticks: expected a positive integer, got '%s'\n", optarg);
        return SL_EXIT_USAGE;
      }
      break;
    }
    case 'd': dry = 1; break;
    case 'l':
      if (!strcmp(optarg, "debug")) sl_log_set_level(SL_LOG_DEBUG);
      else if (!strcmp(optarg, "info")) sl_log_set_level(SL_LOG_INFO);
      else if (!strcmp(optarg, "warn")) sl_log_set_level(SL_LOG_WARN);
      else if (!strcmp(optarg, "error")) sl_log_set_level(SL_LOG_ERROR);
      else {
        fprintf(stderr, "sluice run: --log-level: expected debug, info, warn or error\n");
        return SL_EXIT_USAGE;
      }
      break;
    case 'h': usage(stdout); return SL_EXIT_OK;
    default: usage(stderr); return SL_EXIT_USAGE;
    }
  }
  if (!config) {
    fprintf(stderr, "sluice run: -c CONFIG is required\n");
    usage(stderr);
    return SL_EXIT_USAGE;
  }
  run_t *r = calloc(1, sizeof *r);
  if (!r) return SL_EXIT_FAIL;
  r->max_ticks = max_ticks;
  sl_err_t err = {0};
  int code = SL_EXIT_OK;
  if (sl_config_load(&r->cfg, config, &err) < 0) {
    fprintf(stderr, "sluice run: %s\n", err.msg);
    free(r);
    return SL_EXIT_USAGE;
  }
  if (dry) r->cfg.guard.dry_run = 1;
  sl_clock_init_real(&r->clock);
  r->store = sl_store_new(1024);
  r->actuator = sl_actuator_log_new(stdout);
  if (!r->store || !r->actuator) {
    fprintf(stderr, "sluice run: out of memory\n");
    code = SL_EXIT_FAIL;
    goto out;
  }
  if (r->cfg.source_kind && !strcmp(r->cfg.source_kind, "fixture")) {
    if (sl_fixture_load(&r->fixture, r->cfg.source_file, &r->cfg, &err) < 0) {
      fprintf(stderr, "sluice run: %s\n", err.msg);
      code = SL_EXIT_USAGE;
      goto out;
    }
    r->have_fixture = 1;
  } else {
    fprintf(stderr, "sluice run: %s: no source configured (source: {fixture: FILE})\n", config);
    code = SL_EXIT_USAGE;
    goto out;
  }
  if (sl_pipeline_init(&r->pipeline, &r->cfg, &r->clock, r->store, r->actuator, &err) < 0 ||
      sl_host_init(&r->host, &r->cfg, &r->clock, &r->pipeline, getenv("SLUICE_LUA_PATH"), &err) < 0) {
    fprintf(stderr, "sluice run: %s\n", err.msg);
    code = SL_EXIT_USAGE;
    goto out;
  }
  r->pipeline.on_outcome = on_outcome;
  r->loop = uv_default_loop();
  sl_host_watch(&r->host, r->loop, 2.0, &err);
  uv_timer_init(r->loop, &r->timer);
  r->timer.data = r;
  uint64_t ms = (uint64_t)llround(r->cfg.interval * 1000);
  uv_timer_start(&r->timer, on_tick, 0, ms ? ms : 1);
  uv_signal_init(r->loop, &r->sigint);
  uv_signal_init(r->loop, &r->sigterm);
  r->sigint.data = r->sigterm.data = r;
  uv_signal_start(&r->sigint, on_signal, SIGINT);
  uv_signal_start(&r->sigterm, on_signal, SIGTERM);
  sl_info("running: %d variants, %d policies, tick every %gs", r->cfg.nvariants,
          r->cfg.npolicies, r->cfg.interval);
  uv_run(r->loop, UV_RUN_DEFAULT);
  uv_loop_close(r->loop);

out:
  sl_host_deinit(&r->host);
  sl_pipeline_deinit(&r->pipeline);
  if (r->have_fixture) sl_fixture_free(&r->fixture);
  sl_actuator_free(r->actuator);
  sl_store_free(r->store);
  sl_config_free(&r->cfg);
  free(r);
  return code;
}
