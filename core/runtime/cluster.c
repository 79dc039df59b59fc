// Cluster mode. See cluster.h.
#include "core/runtime/cluster.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "core/kube/actuator.h"
#include "core/kube/cluster.h"
#include "core/kube/events.h"
#include "core/kube/lease.h"
#include "core/kube/recorder.h"
#include "core/runtime/actuator_log.h"
#include "core/runtime/controller.h"
#include "core/runtime/decision_log.h"
#include "core/runtime/telemetry.h"
#include "core/scrape/prom.h"
#include "core/scrape/scraper.h"
#include "core/util/file.h"
#include "core/util/httpc.h"
#include "core/util/log.h"
#include "core/util/map.h"
#include "core/util/sched.h"

// One generation of the data path: a configuration (the file's variants and those discovered)
// and the controller built for it.
typedef struct gen {
  sl_config_t cfg;     // shallow copy of the file's, with its own variants array
  sl_variant_t *extra; // the discovered variants (their strings are this generation's)
  int nextra;
  uint64_t signature; // of the discovered set, to notice when it changes
  sl_controller_t c;
  int have_c;
  struct gen *retired; // freed once the loop has closed its handles
} gen_t;

typedef struct {
  sl_config_t *base;
  const sl_cluster_opts_t *o;
  uv_loop_t *loop;
  sl_httpc_t *http;
  sl_sched_t *sched;
  sl_kube_client_t *client;
  sl_kube_cluster_t *cluster;
  sl_source_t proxy; // the cluster source, sync and ready only: it outlives generations
  // Direct scraping of the pods and gateways the cluster source names. The scraper and its
  // targets' health outlive generations; each generation's controller starts it on its store.
  sl_scraper_t *scraper;      // NULL when source.scrape.enabled is false
  sl_source_t scrape_proxy;   // start, stop and ready of the scraper, for each generation
  int targets_known, scraped; // a target list arrived; every target of it finished a scrape
  sl_kube_actuator_t *scale;
  sl_actuator_t *log;
  sl_kube_events_t *events;
  sl_kube_recorder_t *rec;
  sl_actuator_log_printer_t printer; // holds, when they change
  sl_decision_log_t dlog;            // applied decisions, one JSON line each
  sl_kube_lease_t *lease;
  sl_telemetry_t *tel;
  sl_prom_t *prom; // the Prometheus source, when sluice.yaml names one
  int leading;
  gen_t *gen;
  uv_timer_t boot, rediscover;
  uv_signal_t sigint, sigterm;
  long ticks_left;
  int stopping, status;
  sl_err_t err;
} run_t;

// ---- generations --------------------------------------------------------------------------------

static void gen_free(gen_t *g) {
  if (!g) return;
  if (g->have_c) sl_controller_deinit(&g->c);
  for (int i = 0; i < g->nextra; i++) {
    sl_variant_t *v = &g->extra[i];
    free(v->id), free(v->ns), free(v->name), free(v->model), free(v->accelerator);
    free(v->kind);
  }
  free(g->extra);
  free(g->cfg.variants);
  gen_free(g->retired);
  free(g);
}

static uint64_t mix(uint64_t h, const char *s) {
  for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return (h ^ 0x1f) * 1099511628211ULL;
}

static uint64_t signature(const sl_kube_found_t *f, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) {
    char num[96];
    snprintf(num, sizeof num, "%.6g|%d|%d|%d", f[i].cost, f[i].min, f[i].max, f[i].gpus);
    h = mix(mix(mix(mix(mix(mix(h, f[i].namespace), f[i].name), f[i].kind), f[i].model),
                f[i].accelerator),
            num);
  }
  return h;
}

// The SLO class a discovered variant gets: one named "default", else the only one there is.
static const sl_slo_class_t *default_slo(const sl_config_t *cfg) {
  for (int i = 0; i < cfg->nslo; i++)
    if (!strcmp(cfg->slo_classes[i].name, "default")) return &cfg->slo_classes[i];
  return cfg->nslo == 1 ? &cfg->slo_classes[0] : NULL;
}

// A variant from what the cluster declares, with the file's defaults for the rest.
static int found_variant(const sl_config_t *base, const sl_kube_found_t *f, sl_variant_t *v) {
  memset(v, 0, sizeof *v);
  if (asprintf(&v->id, "%s/%s", f->namespace, f->name) < 0) return SL_ENOMEM;
  v->ns = strdup(f->namespace);
  v->name = strdup(f->name);
  v->model = strdup(f->model);
  v->accelerator = strdup(f->accelerator && f->accelerator[0] ? f->accelerator : "unknown");
  v->kind = strdup(f->kind);
  if (!v->ns || !v->name || !v->model || !v->accelerator || !v->kind) return SL_ENOMEM;
  v->gpus_per_replica = f->gpus > 0 ? f->gpus : 1;
  v->min = f->min >= 0 ? f->min : 1;
  v->max = f->max >= 0 ? f->max : 100;
  if (v->max < v->min) v->max = v->min;
  v->engine = (sl_engine_t){256, 8192, 16, 0};
  v->slo = default_slo(base);
  v->slo_class = v->slo ? v->slo->name : NULL;
  double unit = NAN;
  for (int a = 0; a < base->naccels; a++)
    if (!strcmp(base->accels[a].type, v->accelerator)) unit = base->accels[a].cost;
  // WVA's rule: the annotation's cost, else 10 per replica; the inventory's unit cost when known.
  v->cost = !isnan(f->cost) ? f->cost : unit > 0 ? unit * v->gpus_per_replica : 10.0;
  v->discovered = 1;
  return SL_OK;
}

static int build_config(run_t *R, gen_t *g, const sl_kube_found_t *f, size_t n, sl_err_t *err) {
  const sl_config_t *base = R->base;
  g->cfg = *base;
  g->extra = calloc(n ? n : 1, sizeof *g->extra);
  g->cfg.variants = calloc((size_t)base->nvariants + n + 1, sizeof *g->cfg.variants);
  if (!g->extra || !g->cfg.variants) return sl_err(err, SL_ENOMEM, "out of memory");
  if (base->nvariants) // no variants in sluice.yaml: every one is discovered
    memcpy(g->cfg.variants, base->variants, sizeof *base->variants * (size_t)base->nvariants);
  g->cfg.nvariants = base->nvariants;
  for (size_t i = 0; i < n; i++) {
    char id[512];
    snprintf(id, sizeof id, "%s/%s", f[i].namespace, f[i].name);
    if (sl_config_variant(base, id)) continue; // listed in sluice.yaml: the file wins
    sl_variant_t *v = &g->extra[g->nextra];
    int rc = found_variant(base, &f[i], v);
    g->nextra++;
    if (rc < 0) return sl_err(err, rc, "out of memory");
    g->cfg.variants[g->cfg.nvariants++] = *v;
    sl_info("discovered variant %s (model %s, %s, from its %s)", v->id, v->model, v->kind,
            f[i].from);
  }
  g->signature = signature(f, n);
  return SL_OK;
}

static int source_sync(sl_source_t *s, sl_store_t *st, double now, sl_err_t *err) {
  run_t *R = s->ud;
  sl_source_t *real = sl_kube_cluster_source(R->cluster);
  return real->sync(real, st, now, err);
}

static int source_ready(sl_source_t *s) {
  run_t *R = s->ud;
  return sl_kube_cluster_synced(R->cluster);
}

// ---- scraping -----------------------------------------------------------------------------------

static void prom_targets(run_t *R, const sl_kube_target_t *t, size_t n);

// The cluster's scrape targets, as they change, become the scraper's (or, with the Prometheus
// source, the pods whose series count). A target whose URL the scraper would refuse (a
// prometheus.io/scheme other than http or https) or that repeats another's is left out with a
// warning rather than failing the whole list.
static void on_targets(void *ud, const sl_kube_target_t *t, size_t n) {
  run_t *R = ud;
  prom_targets(R, t, n);
  if (!R->scraper) return;
  sl_scrape_target_t *st = calloc(n ? n : 1, sizeof *st);
  if (!st) {
    sl_warn("scrape targets: out of memory; the previous targets stay");
    return;
  }
  sl_map_t seen;
  sl_map_init(&seen);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int web = !strncmp(t[i].url, "http://", 7) || !strncmp(t[i].url, "https://", 8);
    if (!web || sl_map_get(&seen, t[i].url)) {
      sl_warn("scrape target %s (pod %s): %s; not scraped", t[i].url, t[i].pod,
              web ? "another pod has the same URL" : "not an http:// or https:// URL");
      continue;
    }
    if (sl_map_put(&seen, t[i].url, (void *)1) < 0) break;
    st[k++] = (sl_scrape_target_t){.url = t[i].url,
                                   .kind = t[i].variant ? SL_SCRAPE_POD : SL_SCRAPE_GATEWAY,
                                   .pod = t[i].pod,
                                   .variant = t[i].variant,
                                   .model = t[i].model};
  }
  sl_err_t err = {0};
  if (sl_scraper_set_targets(R->scraper, st, k, &err) < 0)
    sl_warn("scrape targets: %s; the previous targets stay", err.msg);
  else
    R->targets_known = 1;
  sl_map_deinit(&seen);
  free(st);
}

// A target going down or coming back is logged once, not every second.
static void on_scrape(void *ud, const sl_scrape_info_t *i) {
  if (!i->changed) return;
  const char *who = i->kind == SL_SCRAPE_GATEWAY ? i->model : i->pod;
  if (!i->up)
    sl_warn("scrape %s: %s", who, i->last_error);
  else if (i->scrapes > 1)
    sl_info("scrape %s (%s): up again", i->url, who);
}

static int scrape_start(sl_source_t *s, struct uv_loop_s *loop, sl_store_t *st, sl_err_t *err) {
  run_t *R = s->ud;
  return sl_scraper_start(R->scraper, loop, st, err);
}

static void scrape_stop(sl_source_t *s) {
  run_t *R = s->ud;
  sl_scraper_stop(R->scraper);
}

// Ready once the first target list has been scraped once (each target answered or failed), so
// the first decisions see the signals. Latched: a pod added later is not waited for (its
// variant's other pods still speak for it, and with none the guard holds it), so new pods never
// pause the other variants' decisions.
static int scrape_ready(sl_source_t *s) {
  run_t *R = s->ud;
  if (!R->scraped && R->targets_known && sl_scraper_ready(R->scraper)) R->scraped = 1;
  return R->scraped;
}

// Every target keeps a connection open: a large fleet needs more descriptors than the default
// soft limit (1024), so take the hard limit, as controllers do.
static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max) return;
  rlim_t was = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
    sl_debug("open files: limit raised from %llu to %llu", (unsigned long long)was,
             (unsigned long long)rl.rlim_max);
}

static void retire_now(uv_timer_t *t) {
  gen_t *g = t->data;
  uv_close((uv_handle_t *)t, (uv_close_cb)free);
  gen_free(g);
}

// Frees a generation whose controller was stopped, once its closed handles are done with.
static void retire(run_t *R, gen_t *g) {
  uv_timer_t *t = malloc(sizeof *t);
  if (!t) return; // leak rather than free memory libuv may still touch
  uv_timer_init(R->loop, t);
  t->data = g;
  uv_timer_start(t, retire_now, 100, 0);
}

static void on_controller_stopped(void *ud);

// Samples kept per pod series: the view's window at the scrape interval and a little more, so
// every windowed signal has its samples, and no more. Pods are most of the store: at 1024 samples
// a vLLM pod's series take about a megabyte, at the default window's 68 a twentieth of that.
static int pod_history(const sl_config_t *cfg) {
  return sl_store_pod_history_for(cfg->window, cfg->scrape.interval);
}

// Builds the data path for the variants the cluster declares now, and swaps it in.
static int build(run_t *R, sl_err_t *err) {
  sl_kube_found_t *found = NULL;
  size_t nfound = 0;
  int rc = R->base->kube.discover ? sl_kube_cluster_discover(R->cluster, &found, &nfound, err) : 0;
  if (rc < 0) return rc;
  if (R->gen && signature(found, nfound) == R->gen->signature) {
    sl_kube_cluster_found_free(found, nfound);
    return SL_OK; // nothing changed
  }
  gen_t *g = calloc(1, sizeof *g);
  if (!g) {
    sl_kube_cluster_found_free(found, nfound);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  rc = build_config(R, g, found, nfound, err);
  sl_kube_cluster_found_free(found, nfound);
  sl_clock_t *clock = R->gen ? R->gen->c.o.clock : NULL;
  static sl_clock_t real;
  if (!clock) {
    sl_clock_init_real(&real);
    clock = &real;
  }
  sl_controller_opts_t co = {&g->cfg, clock, 1024, getenv("SLUICE_LUA_PATH"), 0};
  if (rc == 0 && (rc = sl_controller_init(&g->c, &co, err)) == 0) g->have_c = 1;
  if (rc == 0) sl_store_set_pod_history(g->c.store, pod_history(&g->cfg));
  if (rc == 0) rc = sl_controller_load_policies(&g->c, err);
  if (rc == 0) rc = sl_controller_add_source(&g->c, &R->proxy, err);
  // After the cluster source: its sync names the targets before readiness is asked.
  if (rc == 0 && R->scraper) rc = sl_controller_add_source(&g->c, &R->scrape_proxy, err);
  if (rc == 0 && R->prom) rc = sl_controller_add_source(&g->c, sl_prom_source(R->prom), err);
  if (rc == 0) rc = sl_controller_add_observer(&g->c, &R->printer.obs, err);
  if (rc == 0) rc = sl_controller_add_observer(&g->c, &R->dlog.obs, err);
  if (rc == 0) rc = sl_controller_add_observer(&g->c, sl_kube_recorder_observer(R->rec), err);
  for (int i = 0; rc == 0 && i < g->cfg.nvariants; i++) {
    const sl_variant_t *v = &g->cfg.variants[i];
    const char *name = v->actuator ? v->actuator : g->cfg.actuator;
    const char *bind =
        R->o->metrics_bind_address ? R->o->metrics_bind_address : R->base->metrics_bind_address;
    if (!strcmp(name, "scale"))
      sl_controller_set_actuator(&g->c, i, sl_kube_actuator_get(R->scale));
    else if (!strcmp(name, "log"))
      sl_controller_set_actuator(&g->c, i, R->log);
    else if (!bind || !bind[0])
      rc = sl_err(err, SL_EINVAL,
                  "variant %s: the '%s' actuator publishes on sluice's /metrics: set "
                  "metrics_bind_address in sluice.yaml or --metrics-bind-address",
                  v->id, name);
    else if (!strcmp(name, "metric"))
      sl_controller_set_actuator(&g->c, i, sl_telemetry_metric_actuator(R->tel));
    else
      sl_controller_set_actuator(&g->c, i, sl_telemetry_keda_actuator(R->tel));
  }

  if (rc < 0) {
    gen_free(g);
    return rc;
  }
  sl_kube_cluster_set_config(R->cluster, &g->cfg);
  if (R->gen) {
    // Carry the policies' state into the new generation, then swap at this tick boundary.
    int carried = sl_host_adopt_state(&g->c.host, &R->gen->c.host);
    sl_info("variants changed: %d now (was %d); %d policies keep their state", g->cfg.nvariants,
            R->gen->cfg.nvariants, carried);
    sl_controller_stop(&R->gen->c);
    retire(R, R->gen);
  }
  R->gen = g;
  // Telemetry and the caller (the REPL) follow the controller that runs now.
  if ((rc = sl_telemetry_attach(R->tel, &g->c, err)) < 0) return rc;
  if (R->o->on_sources) R->o->on_sources(R->o->on_controller_ud, R->scraper, R->prom);
  if (R->o->on_controller && (rc = R->o->on_controller(R->o->on_controller_ud, &g->c, err)) < 0)
    return rc;
  sl_telemetry_set_ready(R->tel, 1);
  g->c.on_stopped = on_controller_stopped;
  g->c.on_stopped_ud = R;
  return sl_controller_start(&g->c, R->loop, R->ticks_left, err);
}

// ---- series from Prometheus --------------------------------------------------------------------

// The pods whose series count: the cluster's scrape targets, whether or not sluice scrapes them.
static void prom_targets(run_t *R, const sl_kube_target_t *t, size_t n) {
  if (!R->prom) return;
  sl_prom_target_t *pt = calloc(n ? n : 1, sizeof *pt);
  sl_err_t err = {0};
  if (!pt) return;
  for (size_t i = 0; i < n; i++) pt[i] = (sl_prom_target_t){t[i].pod, t[i].model};
  if (sl_prom_set_targets(R->prom, pt, n, &err) < 0) sl_warn("prometheus: %s", err.msg);
  free(pt);
}

static void render_prom(void *ud, sl_json_buf_t *b) {
  sl_prom_stats_t st;
  sl_prom_stats(ud, &st);
  char line[512];
  int n =
      snprintf(line, sizeof line,
               "# HELP sluice_prometheus_up Whether the last poll of Prometheus was committed.\n"
               "# TYPE sluice_prometheus_up gauge\nsluice_prometheus_up %d\n"
               "# HELP sluice_prometheus_polls_total Polls of Prometheus, by outcome.\n"
               "# TYPE sluice_prometheus_polls_total counter\n"
               "sluice_prometheus_polls_total{outcome=\"ok\"} %ld\n"
               "sluice_prometheus_polls_total{outcome=\"failed\"} %ld\n",
               st.up, st.polls - st.polls_failed, st.polls_failed);
  sl_json_buf_add(b, line, (size_t)n);
  n = snprintf(line, sizeof line,
               "# HELP sluice_prometheus_poll_duration_seconds How long the last poll took.\n"
               "# TYPE sluice_prometheus_poll_duration_seconds gauge\n"
               "sluice_prometheus_poll_duration_seconds %.6f\n"
               "# HELP sluice_prometheus_series Series the last committed poll read, and of "
               "those on no known pod.\n"
               "# TYPE sluice_prometheus_series gauge\n"
               "sluice_prometheus_series{matched=\"true\"} %ld\n"
               "sluice_prometheus_series{matched=\"false\"} %ld\n",
               st.last_duration_s, st.series - st.series_unmatched, st.series_unmatched);
  sl_json_buf_add(b, line, (size_t)n);
}

static int start_prom(run_t *R, sl_err_t *err) {
  const sl_prom_cfg_t *pc = &R->base->prometheus;
  char *token = NULL;
  if (pc->bearer_token_file) {
    size_t len;
    if (sl_file_read(pc->bearer_token_file, 64 * 1024, 0, &token, &len, err) < 0)
      return sl_err(err, err->code, "source.prometheus.bearer_token_file: %s", err->msg);
    while (len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r')) token[--len] = '\0';
  }
  sl_prom_opts_t po = {.url = pc->url,
                       .interval = pc->interval,
                       .timeout = pc->timeout,
                       .namespace_label = pc->namespace_label,
                       .pod_label = pc->pod_label,
                       .matchers = pc->matchers,
                       .bearer_token = token,
                       .tls = {.ca_file = pc->ca_file, .insecure = pc->insecure_skip_tls_verify}};
  R->prom = sl_prom_new(&po, err);
  free(token);
  if (!R->prom) return err->code;
  sl_kube_cluster_on_targets(R->cluster, on_targets, R);
  sl_info("series from Prometheus at %s, every %gs", pc->url, po.interval);
  return sl_telemetry_add_renderer(R->tel, render_prom, R->prom);
}

// ---- lifecycle ----------------------------------------------------------------------------------

static void shutdown_all(run_t *R) {
  if (R->stopping) return;
  R->stopping = 1;
  if (R->gen) sl_controller_stop(&R->gen->c);
  sl_source_t *src = sl_kube_cluster_source(R->cluster);
  src->stop(src);
  if (R->lease) sl_kube_lease_stop(R->lease);
  if (R->tel) sl_telemetry_close(R->tel); // stops serving now: the loop must end
  uv_timer_stop(&R->boot);
  uv_timer_stop(&R->rediscover);
  uv_close((uv_handle_t *)&R->boot, NULL);
  uv_close((uv_handle_t *)&R->rediscover, NULL);
  uv_close((uv_handle_t *)&R->sigint, NULL);
  uv_close((uv_handle_t *)&R->sigterm, NULL);
  uv_stop(R->loop);
}

static void on_controller_stopped(void *ud) {
  shutdown_all(ud); // max_ticks reached
}

static void on_signal(uv_signal_t *s, int signum) {
  run_t *R = s->data;
  sl_info("signal %d: stopping", signum);
  shutdown_all(R);
}

static void on_boot(uv_timer_t *t) {
  run_t *R = t->data;
  static int waited;
  const char *fatal = sl_kube_cluster_fatal(R->cluster);
  if (fatal) {
    sl_err(&R->err, SL_EIO, "kubernetes: %s", fatal);
    R->status = SL_EIO;
    shutdown_all(R);
    return;
  }
  if (!sl_kube_cluster_synced(R->cluster)) {
    if (++waited % 50 == 0) sl_info("waiting for the API server to list every resource");
    return;
  }
  uv_timer_stop(t);
  if (build(R, &R->err) < 0) {
    sl_error("sluice run: %s", R->err.msg);
    R->status = R->err.code;
    shutdown_all(R);
  }
}

static void on_rediscover(uv_timer_t *t) {
  run_t *R = t->data;
  if (!R->gen || R->stopping) return;
  sl_err_t err = {0};
  if (build(R, &err) < 0) sl_warn("discovery: %s; the running variants stay", err.msg);
}

static void set_leading(run_t *R, int leading) {
  R->leading = leading;
  sl_telemetry_set_leader(R->tel, leading);
  sl_kube_actuator_set_leading(R->scale, leading);
  sl_kube_recorder_set_leading(R->rec, leading);
}

static void on_started_leading(void *ud) {
  sl_info("leader election: this instance leads; actuating");
  set_leading(ud, 1);
}

static void on_stopped_leading(void *ud) {
  sl_info("leader election: this instance does not lead; deciding without actuating");
  set_leading(ud, 0);
}

static void on_new_leader(void *ud, const char *identity) {
  sl_info("leader election: %s leads", identity[0] ? identity : "nobody");
}

// The namespace and selector this instance watches: the shard's, else source.kubernetes'.
static int scope(const sl_config_t *cfg, const char *shard, const char **ns, const char **sel,
                 sl_err_t *err) {
  *ns = cfg->kube.namespace;
  *sel = cfg->kube.selector;
  if (!shard) return SL_OK;
  for (int i = 0; i < cfg->nshards; i++) {
    if (strcmp(cfg->shards[i].name, shard)) continue;
    *ns = cfg->shards[i].namespace ? cfg->shards[i].namespace : *ns;
    *sel = cfg->shards[i].selector ? cfg->shards[i].selector : *sel;
    return SL_OK;
  }
  char known[512] = "";
  size_t k = 0;
  for (int i = 0; i < cfg->nshards && k < sizeof known; i++)
    k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", i ? ", " : "", cfg->shards[i].name);
  return sl_err(err, SL_EINVAL, "--shard %s: %s has no such shard (shards: %s)", shard,
                cfg->path ? cfg->path : "the configuration", k ? known : "none");
}

int sl_cluster_run(sl_config_t *cfg, const sl_cluster_opts_t *o, sl_err_t *err) {
  run_t *R = calloc(1, sizeof *R);
  if (!R) return sl_err(err, SL_ENOMEM, "out of memory");
  R->base = cfg;
  R->o = o;
  R->ticks_left = o->max_ticks;
  R->loop = uv_default_loop();
  int rc = SL_OK;
  const char *ns, *sel;
  char identity[300];
  sl_kube_config_t kc = {0};
  if ((rc = scope(cfg, o->shard, &ns, &sel, err)) < 0) goto out;
  if ((rc = sl_kube_config_load(&kc, o->kubeconfig, o->context, err)) < 0) goto out;
  sl_info("kubernetes: %s (context %s, from %s)", kc.server, kc.context, kc.source);
  char host[256] = "sluice";
  gethostname(host, sizeof host - 1);
  snprintf(identity, sizeof identity, "%s", o->identity ? o->identity : host);
  if (!o->identity) snprintf(identity, sizeof identity, "%s_%ld", host, (long)getpid());
  R->http = sl_httpc_new(R->loop, err);
  R->sched = sl_sched_new_uv(R->loop);
  if (!R->http || !R->sched) {
    rc = err->code ? err->code : sl_err(err, SL_ENOMEM, "out of memory");
    goto out;
  }
  sl_kube_client_opts_t ko = {.qps = cfg->kube.qps, .burst = cfg->kube.burst};
  if (!(R->client = sl_kube_client_new(R->http, R->sched, &kc, &ko, err))) {
    rc = err->code;
    goto out;
  }
  sl_kube_cluster_opts_t clo = {cfg, ns, sel, cfg->kube.accelerator_label, cfg->guard.stale_after};
  sl_kube_events_opts_t eo = {.component = "sluice", .instance = identity};
  if (!(R->cluster = sl_kube_cluster_new(R->client, R->sched, &clo, err)) ||
      !(R->scale = sl_kube_actuator_new(R->client, err)) ||
      !(R->events = sl_kube_events_new(R->client, &eo, err)) ||
      !(R->rec = sl_kube_recorder_new(R->client, R->events, R->cluster, err)) ||
      !(R->log = sl_actuator_log_new(stdout)) || !(R->tel = sl_telemetry_new(err))) {
    rc = err->code ? err->code : SL_ENOMEM;
    goto out;
  }
  const char *bind = o->metrics_bind_address ? o->metrics_bind_address : cfg->metrics_bind_address;
  if (bind && bind[0]) {
    if ((rc = sl_telemetry_listen(R->tel, R->loop, bind, err)) < 0) goto out;
    sl_info("serving /metrics, /healthz and /readyz on port %d", sl_telemetry_port(R->tel));
  }
  if (cfg->prometheus.enabled && (rc = start_prom(R, err)) < 0) goto out;
  if (cfg->policy_configmap) {
    // NAME, or NAMESPACE/NAME; a bare name lives in sluice's own namespace.
    const char *slash = strchr(cfg->policy_configmap, '/');
    char ns[256];
    snprintf(ns, sizeof ns, "%.*s", slash ? (int)(slash - cfg->policy_configmap) : 0,
             cfg->policy_configmap);
    const char *own = getenv("POD_NAMESPACE") ? getenv("POD_NAMESPACE")
                                              : sl_kube_client_config(R->client)->namespace;
    if ((rc = sl_kube_recorder_set_policy_configmap(
             R->rec, slash ? ns : own, slash ? slash + 1 : cfg->policy_configmap)) < 0) {
      sl_err(err, rc, "out of memory");
      goto out;
    }
  }
  sl_actuator_log_printer_init(&R->printer, stdout, 0, 1);
  sl_decision_log_init(&R->dlog, stdout);
  R->proxy =
      (sl_source_t){.name = "kubernetes", .sync = source_sync, .ready = source_ready, .ud = R};
  if (cfg->scrape.enabled) {
    raise_nofile();
    sl_scraper_opts_t so = {.interval_s = cfg->scrape.interval,
                            .timeout_s = cfg->scrape.timeout,
                            .backoff_max_s = cfg->scrape.backoff_max,
                            .external_pods = 1, // the cluster source owns the pods
                            // Pages land in the quarter interval before each tick.
                            .phase_lo = 0.7,
                            .phase_hi = 0.95,
                            .on_scrape = on_scrape,
                            .ud = R};
    if (!(R->scraper = sl_scraper_new(&so, err)) ||
        (rc = sl_telemetry_add_scraper(R->tel, R->scraper)) < 0) {
      rc = R->scraper ? sl_err(err, SL_ENOMEM, "out of memory") : err->code;
      goto out;
    }
    R->scrape_proxy = (sl_source_t){.name = "scrape",
                                    .start = scrape_start,
                                    .stop = scrape_stop,
                                    .ready = scrape_ready,
                                    .ud = R};
    sl_kube_cluster_on_targets(R->cluster, on_targets, R);
    sl_info("scraping model servers and gateways every %gs", cfg->scrape.interval);
  }
  sl_source_t *src = sl_kube_cluster_source(R->cluster);
  if ((rc = src->start(src, R->loop, NULL, err)) < 0) goto out;
  if (o->leader_elect) {
    char lease[300];
    const char *lname = cfg->lease_name ? cfg->lease_name : "sluice";
    if (o->shard)
      snprintf(lease, sizeof lease, "%s-%s", lname, o->shard);
    else
      snprintf(lease, sizeof lease, "%s", lname);
    const char *lns = cfg->lease_namespace      ? cfg->lease_namespace
                      : getenv("POD_NAMESPACE") ? getenv("POD_NAMESPACE")
                                                : sl_kube_client_config(R->client)->namespace;
    sl_kube_lease_opts_t lo = {.namespace = lns,
                               .name = lease,
                               .identity = identity,
                               .release_on_stop = 1,
                               .on_started = on_started_leading,
                               .on_stopped = on_stopped_leading,
                               .on_new_leader = on_new_leader,
                               .ud = R};
    set_leading(R, 0);
    if (!(R->lease = sl_kube_lease_new(R->client, &lo, err)) ||
        (rc = sl_kube_lease_start(R->lease, err)) < 0) {
      rc = rc < 0 ? rc : err->code;
      goto out;
    }
    sl_info("leader election: campaigning for lease %s/%s as %s", lns, lease, identity);
  }
  uv_timer_init(R->loop, &R->boot);
  uv_timer_init(R->loop, &R->rediscover);
  R->boot.data = R->rediscover.data = R;
  uv_timer_start(&R->boot, on_boot, 0, 100);
  uint64_t every = (uint64_t)llround((o->rediscover_s > 0 ? o->rediscover_s : 2) * 1000);
  uv_timer_start(&R->rediscover, on_rediscover, every, every);
  uv_signal_init(R->loop, &R->sigint);
  uv_signal_init(R->loop, &R->sigterm);
  R->sigint.data = R->sigterm.data = R;
  uv_signal_start(&R->sigint, on_signal, SIGINT);
  uv_signal_start(&R->sigterm, on_signal, SIGTERM);
  uv_run(R->loop, UV_RUN_DEFAULT);
  rc = R->status;
  if (rc < 0) sl_err(err, rc, "%s", R->err.msg);

out:
  // The lease release gets a moment on the loop. Then what holds requests goes, each cancelling
  // its own without calling back, the client after them; then the loop finishes closing every
  // handle (the controllers' too) before their memory is freed.
  if (R->lease && R->leading)
    for (int i = 0; i < 20 && uv_run(R->loop, UV_RUN_NOWAIT); i++) usleep(10000);
  sl_kube_actuator_free(R->scale);
  sl_kube_events_free(R->events);
  sl_kube_recorder_free(R->rec);
  sl_kube_cluster_free(R->cluster);
  sl_prom_free(R->prom);
  sl_kube_lease_free(R->lease);
  sl_kube_client_free(R->client);
  sl_telemetry_free(R->tel);
  sl_scraper_free(R->scraper); // stopped with the last controller; its handles close below
  sl_sched_free(R->sched);
  sl_httpc_free(R->http);
  if (o->on_controller) o->on_controller(o->on_controller_ud, NULL, NULL);
  uv_run(R->loop, UV_RUN_DEFAULT);
  gen_free(R->gen);
  sl_actuator_log_free(R->log);
  sl_actuator_log_printer_deinit(&R->printer);
  sl_decision_log_deinit(&R->dlog);
  uv_loop_close(R->loop);
  sl_kube_config_deinit(&kc);
  free(R);
  return rc;
}
