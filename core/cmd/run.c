// sluice run: asks the controller for the data path and runs it on the default libuv loop —
// against a cluster (source: {kubernetes: ...}: core/runtime/cluster.c), or on recorded views
// (source: {fixture: FILE}) with the log actuator.
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
#include "core/runtime/cluster.h"
#include "core/runtime/controller.h"
#include "core/runtime/telemetry.h"
#include "core/runtime/view_record.h"
#include "core/state/fixture.h"
#include "core/util/file.h"
#include "core/util/log.h"

// After the last tick (--ticks) the HTTP server is what would keep the loop running.
static void stop_telemetry(void *ud) {
  if (ud) sl_telemetry_close(ud);
}

static void usage(FILE *f) {
  fprintf(f, "usage: sluice run -c CONFIG [--kubeconfig FILE] [--context NAME] [--leader-elect]\n"
             "                  [--shard NAME] [--metrics-bind-address HOST:PORT] [--ticks N]\n"
             "                  [--dry-run] [--log-level LEVEL] [--record FILE]\n"
             "  -c, --config FILE   sluice.yaml\n"
             "  --kubeconfig FILE   cluster credentials (default: $KUBECONFIG, in-cluster, then\n"
             "                      ~/.kube/config)\n"
             "  --context NAME      kubeconfig context (default: its current context)\n"
             "  --leader-elect      act only while holding the leader lease\n"
             "  --shard NAME        watch and scale only this shard of sluice.yaml's shards:\n"
             "  --metrics-bind-address HOST:PORT\n"
             "                      serve /metrics, /healthz, /readyz and /keda/NS/NAME there\n"
             "                      (also metrics_bind_address: in sluice.yaml)\n"
             "  --ticks N           stop after N ticks (default: run until SIGINT/SIGTERM)\n"
             "  --dry-run           decide and log, never actuate\n"
             "  --log-level LEVEL   debug, info (default), warn or error\n"
             "  --repl-socket PATH  where `sluice repl` connects ('' for none; default in "
             "docs/repl.md)\n"
             "  --record FILE       write the view of every tick there (gzip'd fixture frames,\n"
             "                      replayed by `sluice check --replay`)\n"
             "  --record-max-size N rotate FILE once it holds N bytes (k, M, G; default 16M)\n"
             "  --record-keep N     rotated files kept: FILE.1 ... FILE.N (default 3)\n");
}

// Cluster mode: the REPL opens on the first controller and follows each one built after it; the
// recorder watches each one.
typedef struct {
  const char *path;
  sl_repl_server_t *server;
  sl_view_recorder_t *rec;
  const struct sl_scraper *scraper;
  const struct sl_prom *prom;
} repl_ctx_t;

static void repl_sources(void *ud, const struct sl_scraper *scraper, const struct sl_prom *prom) {
  repl_ctx_t *rx = ud;
  rx->scraper = scraper;
  rx->prom = prom;
}

static int repl_follow(void *ud, sl_controller_t *c, sl_err_t *err) {
  repl_ctx_t *rx = ud;
  if (!c) { // the run ends: the server goes before the controller it reads
    sl_repl_server_free(rx->server);
    rx->server = NULL;
    return SL_OK;
  }
  if (rx->rec) {
    if (sl_controller_add_observer(c, &rx->rec->obs, err) < 0) return err->code;
    sl_view_recorder_set_variants(rx->rec, c->o.cfg);
  }
  int rc = rx->server ? sl_repl_server_attach(rx->server, c, err)
                      : sl_repl_server_open(&rx->server, c, uv_default_loop(), rx->path, err);
  sl_repl_server_set_sources(rx->server, rx->scraper, rx->prom);
  return rc;
}

int sl_cmd_run(int argc, char **argv) {
  static const struct option opts[] = {{"config", required_argument, 0, 'c'},
                                       {"ticks", required_argument, 0, 't'},
                                       {"dry-run", no_argument, 0, 'd'},
                                       {"log-level", required_argument, 0, 'l'},
                                       {"kubeconfig", required_argument, 0, 'k'},
                                       {"context", required_argument, 0, 'x'},
                                       {"leader-elect", no_argument, 0, 'L'},
                                       {"shard", required_argument, 0, 's'},
                                       {"metrics-bind-address", required_argument, 0, 'm'},
                                       {"repl-socket", required_argument, 0, 'r'},
                                       {"record", required_argument, 0, 'R'},
                                       {"record-max-size", required_argument, 0, 'M'},
                                       {"record-keep", required_argument, 0, 'K'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *config = NULL;
  sl_cluster_opts_t clo = {0};
  const char *repl_socket = NULL; // NULL: repl_socket in the config, else the default
  long max_ticks = 0;
  int dry = 0, opt;
  const char *record = NULL;
  size_t record_max = (size_t)16 << 20;
  int record_keep = 3;
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
    case 'k':
      clo.kubeconfig = optarg;
      break;
    case 'x':
      clo.context = optarg;
      break;
    case 'L':
      clo.leader_elect = 1;
      break;
    case 's':
      clo.shard = optarg;
      break;
    case 'm':
      clo.metrics_bind_address = optarg;
      break;
    case 'r':
      repl_socket = optarg;
      break;
    case 'R':
      record = optarg;
      break;
    case 'M': {
      char *end;
      double n = strtod(optarg, &end);
      double mul = !*end               ? 1
                   : !strcmp(end, "k") ? 1024
                   : !strcmp(end, "M") ? 1 << 20
                   : !strcmp(end, "G") ? 1 << 30
                                       : -1;
      if (end == optarg || mul < 0 || !(n * mul >= 1024) || n * mul > 1e12) {
        fprintf(stderr,
                "sluice run: --record-max-size: expected bytes (k, M, G), at least 1k, got '%s'\n",
                optarg);
        return SL_EXIT_USAGE;
      }
      record_max = (size_t)(n * mul);
      break;
    }
    case 'K': {
      char *end;
      long n = strtol(optarg, &end, 10);
      if (*end || n < 0 || n > 1000) {
        fprintf(stderr, "sluice run: --record-keep: expected 0 to 1000, got '%s'\n", optarg);
        return SL_EXIT_USAGE;
      }
      record_keep = (int)n;
      break;
    }
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
  sl_view_recorder_t rec;
  if (record) {
    // The recording carries the sluice.yaml it was made with, for replays.
    char *text = NULL;
    size_t tlen;
    int rc = sl_file_read(config, 4 << 20, 0, &text, &tlen, &err);
    if (rc == 0) rc = sl_view_recorder_open(&rec, record, record_max, record_keep, text, &err);
    free(text);
    if (rc < 0) {
      fprintf(stderr, "sluice run: %s\n", err.msg);
      sl_config_deinit(&cfg);
      return SL_EXIT_USAGE;
    }
  }
  if (record) sl_info("recording every tick's view in %s", record);
  if (cfg.kube.enabled) {
    repl_ctx_t rx = {repl_socket ? repl_socket : cfg.repl_socket, NULL, record ? &rec : NULL, NULL,
                     NULL};
    clo.max_ticks = max_ticks;
    clo.on_controller = repl_follow;
    clo.on_controller_ud = &rx;
    clo.on_sources = repl_sources;
    int rc = sl_cluster_run(&cfg, &clo, &err);
    if (rc < 0) fprintf(stderr, "sluice run: %s\n", err.msg);
    if (record) sl_view_recorder_close(&rec);
    sl_config_deinit(&cfg);
    return rc == 0 ? SL_EXIT_OK : rc == SL_EINVAL ? SL_EXIT_USAGE : SL_EXIT_FAIL;
  }
  const char *bind = clo.metrics_bind_address ? clo.metrics_bind_address : cfg.metrics_bind_address;
  if (clo.kubeconfig || clo.context || clo.leader_elect || clo.shard) {
    fprintf(stderr,
            "sluice run: --kubeconfig, --context, --leader-elect and --shard need "
            "source: {kubernetes: ...} in %s\n",
            config);
    sl_config_deinit(&cfg);
    return SL_EXIT_USAGE;
  }
  int code = SL_EXIT_OK;
  sl_clock_t clock;
  sl_clock_init_real(&clock);
  sl_fixture_t fixture;
  int have_fixture = 0;
  sl_actuator_t *actuator = sl_actuator_log_new(stdout);
  sl_actuator_log_printer_t printer;
  sl_actuator_log_printer_init(&printer, stdout, 0, 0);
  sl_controller_t c;
  sl_controller_opts_t co = {&cfg, &clock, 1024, getenv("SLUICE_LUA_PATH"), 0};
  sl_telemetry_t *tel = NULL;
  sl_repl_server_t *repl = NULL;
  int have_c = 0;
  if (!actuator) {
    fprintf(stderr, "sluice run: out of memory\n");
    code = SL_EXIT_FAIL;
    goto out;
  }
  if (!cfg.source_kind || strcmp(cfg.source_kind, "fixture")) {
    fprintf(stderr,
            "sluice run: %s: no source configured (source: {kubernetes: {}} or {fixture: FILE})\n",
            config);
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
      sl_controller_add_observer(&c, &printer.obs, &err) < 0 ||
      (record && sl_controller_add_observer(&c, &rec.obs, &err) < 0)) {
    fprintf(stderr, "sluice run: %s\n", err.msg);
    code = SL_EXIT_USAGE;
    goto out;
  }
  if (record) sl_view_recorder_set_variants(&rec, &cfg);
  sl_controller_set_actuator(&c, -1, actuator);
  uv_loop_t *loop = uv_default_loop();
  if (bind && bind[0]) {
    if (!(tel = sl_telemetry_new(&err)) || sl_telemetry_listen(tel, loop, bind, &err) < 0 ||
        sl_telemetry_attach(tel, &c, &err) < 0) {
      fprintf(stderr, "sluice run: %s\n", err.msg);
      code = SL_EXIT_USAGE;
      goto out;
    }
    sl_telemetry_set_ready(tel, 1);
    sl_info("serving /metrics, /healthz and /readyz on port %d", sl_telemetry_port(tel));
  }
  c.on_stopped = stop_telemetry;
  c.on_stopped_ud = tel;
  if (sl_repl_server_open(&repl, &c, loop, repl_socket ? repl_socket : cfg.repl_socket, &err) < 0) {
    fprintf(stderr, "sluice run: %s\n", err.msg);
    code = SL_EXIT_FAIL;
    goto out;
  }
  if (sl_controller_run(&c, loop, max_ticks, &err) < 0) {
    fprintf(stderr, "sluice run: %s\n", err.msg);
    code = SL_EXIT_FAIL;
  }

out:
  sl_repl_server_free(repl);
  if (tel) {
    sl_telemetry_close(tel);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  }
  sl_telemetry_free(tel);
  if (have_c) sl_controller_deinit(&c);
  if (have_fixture) sl_fixture_deinit(&fixture);
  sl_actuator_log_free(actuator);
  sl_actuator_log_printer_deinit(&printer);
  if (record) sl_view_recorder_close(&rec);
  sl_config_deinit(&cfg);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  uv_loop_close(uv_default_loop());
  return code;
}
