// sluice emulate: an emulated Kubernetes API server on loopback, with the simulation backend (the
// simulator's model servers in the pods, serving live /metrics) or the simple one (GPU nodes,
// deployments that turn into pods), for kubectl, end-to-end tests and demos.
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "core/cmd/emulate.h"

#include "core/cmd/cmd.h"
#include "core/emu/emu.h"
#include "core/emu/hpa.h"
#include "core/emu/sim.h"
#include "core/util/log.h"

static const char usage_text[] =
    "usage: sluice emulate [--cluster FILE] [--speed X] [--load X] [--backend sim|simple]\n"
    "                      [--port N] [--host ADDR] [--kubeconfig OUT] [--start-delay SECONDS]\n"
    "                      [--nodes PRODUCT:COUNT[:GPUS],...] [--fault SPEC]... [--seed N]\n"
    "                      [--history N] [--bookmark-interval SECONDS] [--tls] [--no-backend]\n"
    "                      [--hpa-metrics URL [--hpa-sync-period S] [--hpa-namespace-label L]]\n"
    "\n"
    "Serves a subset of the Kubernetes API that kubectl works against, until SIGINT or SIGTERM.\n"
    "With the simulation backend (the default) every Ready pod of a variant is a simulated vLLM\n"
    "server under load serving /metrics, and each model has an EPP pod serving the gateway's.\n"
    "\n"
    "  --cluster FILE        a `sluice sim` cluster file: nodes, a Deployment per variant, the\n"
    "                        models' traces (default: sluice sim's built-in scenario)\n"
    "  --speed X             simulated seconds per wall-clock second (default 1; 0.01 to 1000)\n"
    "  --load X              multiplies every model's arrival rate (default 1; 0: no requests)\n"
    "  --backend NAME        sim (default) or simple (nodes and pods only, nothing served)\n"
    "  --port N              port to listen on (default 0: chosen by the OS, printed at start)\n"
    "  --host ADDR           IPv4 address to bind (default 127.0.0.1)\n"
    "  --kubeconfig OUT      write a kubeconfig for the server to OUT once it is listening\n"
    "  --start-delay S       simulated seconds from scheduled to Running/Ready (default: the\n"
    "                        cluster's cold start with sim, 2 with simple)\n"
    "  --nodes SPEC          emulated nodes, e.g. H100:2:8,L40S:1:4 (default: the cluster's\n"
    "                        accelerators with sim, H100:2:8 with simple);\n"
    "                        products: H100 H200 A100 L40S L4 A10G, any other name, or cpu\n"
    "  --fault SPEC          500=P, 429=P, 409=P (rates of injected errors; 409 on writes only),\n"
    "                        retry-after=S (on 429s), expire=N (410 for the next N lists and\n"
    "                        watches given a resourceVersion), watch-drop=S (cut every watch\n"
    "                        mid-event every S seconds), pod:NS/NAME=slow:S|dead|garbage|ok\n"
    "                        (a pod's /metrics answers after S wall-clock seconds, refuses\n"
    "                        connections, or serves a page that is not an exposition);\n"
    "                        repeatable\n"
    "  --seed N              seed for generated names, uids and fault draws (default 1)\n"
    "  --history N           changes kept for watches resuming from a resourceVersion (4096)\n"
    "  --bookmark-interval S BOOKMARK events on watches that allow them (default 30)\n"
    "  --tls                 serve HTTPS with a self-signed certificate (its CA in the "
    "kubeconfig)\n"
    "  --no-backend          objects only: no nodes, deployments do not make pods\n"
    "  --hpa-metrics URL     run an HPA controller for autoscaling/v2 HPAs with External\n"
    "                        metrics, read from the Prometheus server at URL as\n"
    "                        prometheus-adapter does (e.g. WVA's HPA on wva_desired_replicas)\n"
    "  --hpa-sync-period S   seconds between the controller's syncs (default 15)\n"
    "  --hpa-namespace-label L  the series' label matched to the HPA's namespace (default\n"
    "                        exported_namespace, as WVA's adapter rule; \"\" for none)\n"
    "\n"
    "Faults can also be switched at run time: POST /_emu/faults with JSON, e.g.\n"
    "  {\"error500\": 0.1, \"error429\": 0.05, \"retryAfterSeconds\": 2, \"conflict409\": 0.1,\n"
    "   \"expireNext\": 1, \"dropWatches\": true, \"watchDropEverySeconds\": 30,\n"
    "   \"pods\": {\"default/web-abc12\": {\"mode\": \"slow\", \"delaySeconds\": 3}}}\n"
    "GET /_emu/faults shows them, DELETE /_emu/faults clears them, GET /_emu/stats counts.\n"
    "The load too (--backend sim): POST /_emu/load {\"load\": 2} or\n"
    "  {\"models\": {\"MODEL\": 2}}; GET /_emu/load shows it. GET /_emu/scales lists the\n"
    "replica changes clients made, with the time each was stored.\n";

typedef struct {
  sl_emu_t *emu;
  sl_emu_hpa_t *hpa;
  uv_signal_t sigint, sigterm;
} emulate_t;

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "sluice emulate: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n(see 'sluice emulate --help')\n");
  return SL_EXIT_USAGE;
}

static int parse_num(const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static void on_signal(uv_signal_t *s, int signum) {
  emulate_t *em = s->data;
  sl_info("emulate: signal %d, stopping", signum);
  sl_emu_hpa_stop(em->hpa);
  em->hpa = NULL;
  sl_emu_free(em->emu);
  em->emu = NULL;
  uv_close((uv_handle_t *)&em->sigint, NULL);
  uv_close((uv_handle_t *)&em->sigterm, NULL);
}

// A thousand watches are a thousand sockets: take what the hard limit allows.
static void raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int sl_cmd_emulate(int argc, char **argv) {
  sl_emu_opts_t o = {0};
  sl_emu_backend_opts_t bo = {.start_delay_s = 2};
  sl_emu_sim_opts_t so;
  sl_emu_sim_opts_init(&so);
  int simulate = 1, start_delay_set = 0;
  const char *kubeconfig = NULL;
  const char **faults = calloc((size_t)argc + 1, sizeof *faults);
  size_t n_faults = 0;
  int backend = 1;
  sl_emu_hpa_opts_t ho = {.sync_period_s = 15};
  o.seed = 1;
  if (!faults) return SL_EXIT_FAIL;
  int rc = SL_EXIT_OK;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    double v;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      fputs(usage_text, stdout);
      free(faults);
      return SL_EXIT_OK;
    }
    if (!strcmp(a, "--tls")) {
      o.tls = 1;
      continue;
    }
    if (!strcmp(a, "--no-backend")) {
      backend = 0;
      continue;
    }
    static const char *const with_value[] = {"--port",
                                             "--host",
                                             "--kubeconfig",
                                             "--start-delay",
                                             "--nodes",
                                             "--fault",
                                             "--seed",
                                             "--history",
                                             "--bookmark-interval",
                                             "--cluster",
                                             "--speed",
                                             "--load",
                                             "--backend",
                                             "--hpa-metrics",
                                             "--hpa-sync-period",
                                             "--hpa-namespace-label",
                                             NULL};
    int known = 0;
    for (const char *const *f = with_value; *f && !known; f++) known = !strcmp(a, *f);
    if (!known) {
      rc = usage_error("unknown argument '%s'", a);
      goto out;
    }
    if (i + 1 >= argc) {
      rc = usage_error("%s needs a value", a);
      goto out;
    }
    const char *val = argv[++i];
    if (!strcmp(a, "--port")) {
      if (parse_num(val, 0, 65535, &v) || v != floor(v)) {
        rc = usage_error("--port: '%s' is not a port number (0 to 65535)", val);
        goto out;
      }
      o.port = (int)v;
    } else if (!strcmp(a, "--host")) {
      struct in_addr ia;
      if (inet_pton(AF_INET, val, &ia) != 1) {
        rc = usage_error("--host: '%s' is not an IPv4 address", val);
        goto out;
      }
      o.host = val;
    } else if (!strcmp(a, "--kubeconfig")) {
      kubeconfig = val;
    } else if (!strcmp(a, "--start-delay")) {
      if (parse_num(val, 0, 86400, &v)) {
        rc = usage_error("--start-delay: '%s' is not a number of seconds (0 to 86400)", val);
        goto out;
      }
      bo.start_delay_s = v;
      start_delay_set = 1;
    } else if (!strcmp(a, "--nodes")) {
      bo.nodes = val;
    } else if (!strcmp(a, "--cluster")) {
      so.cluster = val;
    } else if (!strcmp(a, "--speed")) {
      if (parse_num(val, 0.01, 1000, &v)) {
        rc = usage_error("--speed: '%s' is not a speed-up (0.01 to 1000)", val);
        goto out;
      }
      so.speed = v;
    } else if (!strcmp(a, "--load")) {
      if (parse_num(val, 0, 1000, &v)) {
        rc = usage_error("--load: '%s' is not a rate multiplier (0 to 1000)", val);
        goto out;
      }
      so.load = v;
    } else if (!strcmp(a, "--backend")) {
      if (strcmp(val, "sim") && strcmp(val, "simple")) {
        rc = usage_error("--backend: '%s' is not a backend (sim or simple)", val);
        goto out;
      }
      simulate = !strcmp(val, "sim");
    } else if (!strcmp(a, "--fault")) {
      faults[n_faults++] = val;
    } else if (!strcmp(a, "--hpa-metrics")) {
      if (strncmp(val, "http://", 7) && strncmp(val, "https://", 8)) {
        rc = usage_error("--hpa-metrics: '%s' is not an http:// or https:// URL", val);
        goto out;
      }
      ho.metrics_url = val;
    } else if (!strcmp(a, "--hpa-sync-period")) {
      if (parse_num(val, 0.1, 3600, &v)) {
        rc = usage_error("--hpa-sync-period: '%s' is not a number of seconds (0.1 to 3600)", val);
        goto out;
      }
      ho.sync_period_s = v;
    } else if (!strcmp(a, "--hpa-namespace-label")) {
      ho.namespace_label = val;
    } else if (!strcmp(a, "--seed")) {
      if (parse_num(val, 0, 9007199254740992.0, &v) || v != floor(v)) {
        rc = usage_error("--seed: '%s' is not a non-negative integer", val);
        goto out;
      }
      o.seed = (uint64_t)v;
    } else if (!strcmp(a, "--history")) {
      if (parse_num(val, 16, 1e7, &v) || v != floor(v)) {
        rc = usage_error("--history: '%s' is not a count (16 to 10000000)", val);
        goto out;
      }
      o.history = (size_t)v;
    } else if (!strcmp(a, "--bookmark-interval")) {
      if (parse_num(val, 0.05, 86400, &v)) {
        rc = usage_error("--bookmark-interval: '%s' is not a number of seconds (0.05 to 86400)",
                         val);
        goto out;
      }
      o.bookmark_s = v;
    }
  }

  sl_err_t err = {0};
  // Faults are checked before anything listens, so a typo is a usage error.
  for (size_t i = 0; i < n_faults; i++) {
    if (sl_emu_fault_check(faults[i], &err) < 0) {
      fprintf(stderr, "sluice emulate: %s\n", err.msg);
      rc = SL_EXIT_USAGE;
      goto out;
    }
  }
  if (!ho.metrics_url && (ho.namespace_label || ho.sync_period_s != 15)) {
    rc = usage_error("%s", "--hpa-sync-period and --hpa-namespace-label need --hpa-metrics");
    goto out;
  }
  if (!simulate && (so.cluster || so.speed != 1 || so.load != 1)) {
    rc = usage_error("%s", "--cluster, --speed and --load need the sim backend");
    goto out;
  }
  sl_emu_backend_t be;
  int brc = 0;
  if (backend && simulate) {
    so.start_delay_s = start_delay_set ? bo.start_delay_s : -1;
    so.nodes = bo.nodes;
    so.seed = o.seed;
    brc = sl_emu_sim_backend(uv_default_loop(), &so, &be, NULL, &err);
  } else if (backend) {
    brc = sl_emu_default_backend(uv_default_loop(), &bo, &be, &err);
  }
  if (brc < 0) {
    fprintf(stderr, "sluice emulate: %s\n", err.msg);
    rc = SL_EXIT_USAGE;
    goto out;
  }
  signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();
  uv_loop_t *loop = uv_default_loop();
  emulate_t em = {0};
  if (sl_emu_new(loop, &o, backend ? &be : NULL, &em.emu, &err) < 0) {
    if (backend && be.stop) be.stop(be.ud);
    fprintf(stderr, "sluice emulate: %s\n", err.msg);
    uv_run(loop, UV_RUN_NOWAIT);
    rc = SL_EXIT_FAIL;
    goto out;
  }
  for (size_t i = 0; i < n_faults; i++) sl_emu_set_fault(em.emu, faults[i], &err);
  if (ho.metrics_url && sl_emu_hpa_start(em.emu, &ho, &em.hpa, &err) < 0) {
    fprintf(stderr, "sluice emulate: %s\n", err.msg);
    sl_emu_free(em.emu);
    uv_run(loop, UV_RUN_DEFAULT);
    rc = SL_EXIT_USAGE;
    goto out;
  }
  if (kubeconfig && sl_emu_write_kubeconfig(em.emu, kubeconfig, &err) < 0) {
    fprintf(stderr, "sluice emulate: kubeconfig: %s\n", err.msg);
    sl_emu_hpa_stop(em.hpa);
    sl_emu_free(em.emu);
    uv_run(loop, UV_RUN_DEFAULT);
    rc = SL_EXIT_FAIL;
    goto out;
  }
  printf("sluice emulate: serving %s\n", sl_emu_url(em.emu));
  if (kubeconfig)
    printf("sluice emulate: kubeconfig %s (kubectl --kubeconfig %s get nodes)\n", kubeconfig,
           kubeconfig);
  fflush(stdout);
  uv_signal_init(loop, &em.sigint);
  uv_signal_init(loop, &em.sigterm);
  em.sigint.data = em.sigterm.data = &em;
  uv_signal_start(&em.sigint, on_signal, SIGINT);
  uv_signal_start(&em.sigterm, on_signal, SIGTERM);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
out:
  free(faults);
  return rc;
}
