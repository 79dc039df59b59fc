// Cluster mode scrapes what the cluster names: sl_cluster_run against the emulator's API (in
// process, on a loop of its own in a thread) holding two Deployments with a Ready pod each and a
// model's EPP pod, whose prometheus.io/ annotations point at fake metric servers on loopback. A Lua
// policy echoes the signals it sees into its reason, so the test reads what policies saw from the
// outcomes. Then pod a's server serves garbage (every page rejected: nothing of it reaches the
// store, the guard holds a on stale data), hangs (scrapes time out, ticks go on), and dies
// (refused); pod b and the gateway stay fresh and b is decided on at every tick throughout. The
// scrape health is read from /metrics and /readyz over HTTP. Bounded by a tick limit, never by a
// timed assertion.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/emu/emu.h"
#include "core/runtime/cluster.h"
#include "core/util/log.h"
#include "tests/unit/fake_api.h"
#include "tests/unit/scrape_pages.h"
#include "tests/unit/tap.h"

static const char *garbage = "vllm:num_requests_running 1\nvllm:num_requests_waiting{ 3\n";

enum { GOOD, GARBAGE, HANG };

typedef struct {
  int mode; // pod a's server, under its lock
} srv_t;

static void handler_a(fake_api_t *f, const fa_req_t *rq, fa_resp_t *resp, void *ud) {
  srv_t *s = ud;
  if (s->mode == HANG) {
    resp->hang = 1;
    return;
  }
  fa_resp_body(resp, 200, s->mode == GARBAGE ? garbage : vllm_v0);
  fa_resp_header(resp, "Content-Type: text/plain; version=0.0.4");
}

static void handler_b(fake_api_t *f, const fa_req_t *rq, fa_resp_t *resp, void *ud) {
  fa_resp_body(resp, 200, !strcmp(rq->path, "/epp") ? llmd : vllm_v1);
  fa_resp_header(resp, "Content-Type: text/plain; version=0.0.4");
}

// ---- the emulator, on its own loop --------------------------------------------------------------

typedef struct {
  uv_loop_t loop;
  uv_async_t stop;
  sl_emu_t *emu;
  pthread_t th;
} emu_t;

static void emu_stop_cb(uv_async_t *a) {
  emu_t *e = a->data;
  sl_emu_free(e->emu);
  uv_close((uv_handle_t *)a, NULL);
}

static void *emu_main(void *ud) {
  emu_t *e = ud;
  uv_run(&e->loop, UV_RUN_DEFAULT);
  return NULL;
}

static int create(sl_emu_t *emu, const char *resource, const char *json) {
  sl_err_t err;
  sl_json_t *o = sl_json_parse(json, strlen(json), NULL, &err);
  if (!o || sl_emu_create(emu, resource, o, NULL, &err) < 0) {
    printf("# create %s: %s\n", resource, err.msg);
    return -1;
  }
  return 0;
}

static int deployment(sl_emu_t *emu, const char *name) {
  char j[1024];
  snprintf(j, sizeof j,
           "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"%s\","
           "\"namespace\":\"llm\"},\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":"
           "{\"app\":\"%s\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"%s\"}},"
           "\"spec\":{\"containers\":[{\"name\":\"vllm\",\"image\":\"vllm\"}]}}}}",
           name, name, name);
  return create(emu, "deployments.apps", j);
}

// A Ready pod whose metrics are at http://127.0.0.1:PORT/PATH. `extra` adds annotations.
static int pod(sl_emu_t *emu, const char *name, const char *app, int port, const char *path,
               const char *extra) {
  char j[2048];
  snprintf(j, sizeof j,
           "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"namespace\":"
           "\"llm\",\"labels\":{\"app\":\"%s\"},\"annotations\":{\"prometheus.io/port\":\"%d\","
           "\"prometheus.io/path\":\"%s\"%s}},\"spec\":{\"nodeName\":\"n1\",\"containers\":"
           "[{\"name\":\"c\",\"image\":\"i\"}]},\"status\":{\"phase\":\"Running\",\"podIP\":"
           "\"127.0.0.1\",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\"},"
           "{\"type\":\"Ready\",\"status\":\"True\"}]}}",
           name, app, port, path, extra ? extra : "");
  return create(emu, "pods", j);
}

// ---- /metrics and /readyz, fetched from a thread of their own -----------------------------------

typedef struct {
  int port;
  atomic_int want;  // phase whose page to fetch (-1: none), set by the loop's thread
  atomic_int have;  // last phase fetched
  char *metrics[4]; // /metrics at the end of each phase
  long readyz[4];   // /readyz's status then
  atomic_int quit;
} fetch_t;

static size_t collect(char *p, size_t sz, size_t n, void *ud) {
  fa_upload_t *u = ud;
  size_t len = sz * n;
  if (u->len + len + 1 > u->cap) {
    u->cap = (u->len + len + 1) * 2;
    u->buf = realloc(u->buf, u->cap);
  }
  memcpy(u->buf + u->len, p, len);
  u->len += len;
  u->buf[u->len] = '\0';
  return len;
}

static char *get(int port, const char *path, long *status) {
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  CURL *e = curl_easy_init();
  fa_upload_t u = {0};
  curl_easy_setopt(e, CURLOPT_URL, url);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &u);
  curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
  *status = curl_easy_perform(e) == CURLE_OK ? 0 : -1;
  if (*status == 0) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
  curl_easy_cleanup(e);
  return u.buf ? u.buf : strdup("");
}

static void *fetch_main(void *ud) {
  fetch_t *f = ud;
  while (!f->quit) {
    int w = f->want;
    if (w >= 0 && w != f->have) {
      long st;
      f->metrics[w] = get(f->port, "/metrics", &st);
      free(get(f->port, "/readyz", &f->readyz[w]));
      f->have = w;
    }
    usleep(5000);
  }
  return NULL;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
      getsockname(fd, (struct sockaddr *)&a, &l) < 0)
    return -1;
  close(fd);
  return ntohs(a.sin_port);
}

// ---- the run ------------------------------------------------------------------------------------

#define PHASE_TICKS 15 // ticks each fault phase lasts once its effect is seen

typedef struct {
  fake_api_t *fa, *fb;
  srv_t *sa;
  fetch_t *fetch;
  int phase; // 0 fresh, 1 garbage, 2 hang, 3 dead, 4 done
  int phase_ticks, phase_started;
  long ticks;
  // what the policy saw, from its reasons
  int a_fresh, b_fresh, gw_seen;
  int a_garbage_seen; // a reason showed a value only the garbage page has
  int a_held[4], b_applied[4], b_held[4], b_outcomes[4];
  char a_stale_reason[SL_REASON_MAX];
  char first_a[SL_REASON_MAX], first_b[SL_REASON_MAX];
} run_t;

static run_t R;

static void next_phase(void) {
  R.fetch->want = R.phase; // the page at the end of this phase
  R.phase++;
  R.phase_ticks = 0;
  R.phase_started = 0;
  if (R.phase == 1 || R.phase == 2) {
    fa_lock(R.fa);
    R.sa->mode = R.phase == 1 ? GARBAGE : HANG;
    fa_unlock(R.fa);
  } else if (R.phase == 3) {
    fa_stop(R.fa); // releases the hung requests; the port now refuses
    R.fa = NULL;
  }
}

static void outcome(sl_observer_t *o, double now, const sl_outcome_t *out) {
  int a = !strcmp(out->variant->id, "llm/a");
  int ph = R.phase < 4 ? R.phase : 3;
  if (a) {
    if (strstr(out->reason, "running=1 ")) R.a_garbage_seen = 1;
    if (!R.first_a[0]) snprintf(R.first_a, sizeof R.first_a, "%s", out->reason);
    if (strstr(out->reason, "kv=0.125 running=4 waiting=0")) R.a_fresh++;
    if (out->held && strstr(out->reason, "stale data")) {
      R.a_held[ph]++;
      if (ph == 1 && !R.a_stale_reason[0])
        snprintf(R.a_stale_reason, sizeof R.a_stale_reason, "%s", out->reason);
      R.phase_started = 1; // the fault's effect is seen: the phase's ticks count from here
    }
  } else {
    if (!R.first_b[0]) snprintf(R.first_b, sizeof R.first_b, "%s", out->reason);
    if (strstr(out->reason, "kv=0.5 running=12 waiting=3")) R.b_fresh++;
    if (strstr(out->reason, "saturation=1.25")) R.gw_seen++;
    R.b_outcomes[ph]++;
    R.b_applied[ph] += !out->held && strstr(out->reason, "running=12") != NULL;
    R.b_held[ph] += out->held;
    // Once per tick (b is decided after a): move the phases on.
    R.ticks++;
    if (R.phase == 0 && R.a_fresh >= 3 && R.b_fresh >= 3 && R.gw_seen >= 3) {
      next_phase();
    } else if (R.phase >= 1 && R.phase <= 3 && (R.phase_started || R.phase >= 2)) {
      if (++R.phase_ticks >= PHASE_TICKS && (R.phase < 3 || R.a_held[3] > 0)) next_phase();
    } else if (R.phase == 4 && R.fetch->have == 3) {
      R.phase = 5;
      raise(SIGTERM); // sl_cluster_run stops on it
    }
  }
}

static sl_observer_t obs = {.outcome = outcome};

static int on_controller(void *ud, sl_controller_t *c, sl_err_t *err) {
  return c ? sl_controller_add_observer(c, &obs, err) : 0;
}

static int count_lines(const char *page, const char *needle) {
  int n = 0;
  for (const char *p = page; p && (p = strstr(p, needle)); p++) n++;
  return n;
}

// The value of the first line starting with `prefix`, NAN when none.
static double value_of(const char *page, const char *prefix) {
  for (const char *p = page; p && *p;) {
    if (!strncmp(p, prefix, strlen(prefix))) {
      const char *sp = strchr(p, ' ');
      return sp ? strtod(sp + 1, NULL) : NAN;
    }
    p = strchr(p, '\n');
    if (p) p++;
  }
  return NAN;
}

int main(void) {
  sl_log_set_level(SL_LOG_WARN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  srv_t sa = {GOOD};
  fake_api_t *fa = fa_start(handler_a, &sa), *fb = fa_start(handler_b, NULL);
  T_OK(fa && fb, "metric servers");
  int pa = fa->port, pb = fb->port;
  char dir[] = "/tmp/sluice-cluster-scrape-XXXXXX";
  T_OK(mkdtemp(dir) != NULL, "temp dir");

  emu_t E = {0};
  uv_loop_init(&E.loop);
  sl_err_t err = {0};
  sl_emu_opts_t eo = {.port = 0, .seed = 1};
  T_EQ_INT(sl_emu_new(&E.loop, &eo, NULL, &E.emu, &err), 0, "emulator");
  char extra[64];
  snprintf(extra, sizeof extra, ",\"sluice.io/epp-model\":\"m\"");
  int setup =
      create(E.emu, "namespaces",
             "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"llm\"}}") ==
          0 &&
      deployment(E.emu, "a") == 0 && deployment(E.emu, "b") == 0 &&
      pod(E.emu, "a-0", "a", pa, "/a", NULL) == 0 && pod(E.emu, "b-0", "b", pb, "/b", NULL) == 0 &&
      pod(E.emu, "epp-0", "epp", pb, "/epp", extra) == 0;
  T_OK(setup, "namespace, deployments and pods");
  if (!setup) return tap_done();
  char kc[300], cfgp[300], pol[300];
  snprintf(kc, sizeof kc, "%s/kubeconfig", dir);
  T_EQ_INT(sl_emu_write_kubeconfig(E.emu, kc, &err), 0, "kubeconfig");
  uv_async_init(&E.loop, &E.stop, emu_stop_cb);
  E.stop.data = &E;
  pthread_create(&E.th, NULL, emu_main, &E);

  snprintf(pol, sizeof pol, "%s/echo.lua", dir);
  FILE *f = fopen(pol, "w");
  fputs("return { name = 'echo', decide = function(view, params, state)\n"
        "  local out = {}\n"
        "  for id, v in view:variants() do\n"
        "    local s, m = v.signals, view.models[v.model]\n"
        "    out[id] = { replicas = 2, reason = string.format('kv=%s running=%s waiting=%s "
        "saturation=%s', tostring(s.kv_usage), tostring(s.running), tostring(s.waiting), "
        "tostring(m and m.signals.saturation)) }\n"
        "  end\n"
        "  return out\n"
        "end }\n",
        f);
  fclose(f);
  fetch_t F = {.port = free_port(), .want = -1, .have = -1};
  snprintf(cfgp, sizeof cfgp, "%s/sluice.yaml", dir);
  f = fopen(cfgp, "w");
  fprintf(f,
          "interval: 100ms\n"
          "window: 5s\n"
          "source:\n"
          "  kubernetes: {namespace: llm, discover: false}\n"
          "  scrape: {interval: 250ms, timeout: 250ms, backoff_max: 500ms}\n"
          "guard: {stale_after: 1500ms}\n"
          "actuator: metric\n"
          "metrics_bind_address: 127.0.0.1:%d\n"
          "repl_socket: ''\n"
          "policy_dir: .\n"
          "policies: [echo.lua]\n"
          "variants:\n"
          "  - {id: llm/a, model: m, min: 1, max: 10}\n"
          "  - {id: llm/b, model: m, min: 1, max: 10}\n",
          F.port);
  fclose(f);
  sl_config_t cfg;
  if (sl_config_load(&cfg, cfgp, &err) < 0) {
    T_OK(0, "configuration: %s", err.msg);
    return tap_done();
  }

  pthread_t fth;
  pthread_create(&fth, NULL, fetch_main, &F);
  R = (run_t){.fa = fa, .fb = fb, .sa = &sa, .fetch = &F};
  // 100 ms ticks: 900 bound a broken run to 90 s; a working one ends itself (SIGTERM) far sooner.
  sl_cluster_opts_t co = {.kubeconfig = kc, .max_ticks = 900, .on_controller = on_controller};
  int rc = sl_cluster_run(&cfg, &co, &err);
  T_EQ_INT(rc, 0, "the run ended cleanly");
  if (rc) printf("# %s\n", err.msg);
  F.quit = 1;
  pthread_join(fth, NULL);
  uv_async_send(&E.stop);
  pthread_join(E.th, NULL);
  uv_loop_close(&E.loop);

  T_OK(R.phase == 5, "every phase ran (stopped in phase %d)", R.phase);
  // Fresh: the policy saw both pods' and the gateway's scraped signals.
  T_OK(R.a_fresh >= 3, "a: the policy saw its scraped signals (first: %s)", R.first_a);
  T_OK(R.b_fresh >= 3, "b: the policy saw its scraped signals (first: %s)", R.first_b);
  T_OK(R.gw_seen >= 3, "the gateway's saturation reached the model group");
  T_EQ_INT(R.b_held[0], 0, "fresh: b never held");
  // Garbage, then a hang, then connection refused: a holds, nothing of the garbage got in.
  T_OK(!R.a_garbage_seen, "no value of a rejected page reached the policy");
  T_OK(R.a_held[1] > 0, "garbage: a held");
  T_STR_HAS(R.a_stale_reason, "hold: stale data (freshest sample", "garbage: held on stale data");
  T_OK(R.a_held[2] >= PHASE_TICKS, "hang: a held on %d ticks", R.a_held[2]);
  T_OK(R.a_held[3] > 0, "dead: a held on %d ticks", R.a_held[3]);
  for (int ph = 1; ph <= 3; ph++) {
    T_OK(R.b_outcomes[ph] >= PHASE_TICKS && R.b_held[ph] == 0 &&
             R.b_applied[ph] == R.b_outcomes[ph],
         "phase %d: b decided on fresh signals at every tick (%d of %d)", ph, R.b_applied[ph],
         R.b_outcomes[ph]);
  }

  // /metrics and /readyz as each phase ended.
  char la[256], lb[256], lg[256];
  snprintf(la, sizeof la,
           "{target=\"http://127.0.0.1:%d/a\",kind=\"pod\",pod=\"llm/a-0\",variant=\"llm/a\"}", pa);
  snprintf(lb, sizeof lb,
           "{target=\"http://127.0.0.1:%d/b\",kind=\"pod\",pod=\"llm/b-0\",variant=\"llm/b\"}", pb);
  snprintf(lg, sizeof lg, "{target=\"http://127.0.0.1:%d/epp\",kind=\"gateway\",model=\"m\"}", pb);
  char key[512];
#define V(ph, fam, lab) (snprintf(key, sizeof key, "%s%s ", fam, lab), value_of(F.metrics[ph], key))
  T_OK(F.metrics[0] && F.metrics[3], "the /metrics pages were fetched");
  T_EQ_INT(F.readyz[0], 200, "/readyz: ready once synced, scraped and ticked");
  T_NEAR(V(0, "sluice_scrape_up", la), 1, 0, "fresh: a up");
  T_NEAR(V(0, "sluice_scrape_up", lb), 1, 0, "fresh: b up");
  T_NEAR(V(0, "sluice_scrape_up", lg), 1, 0, "fresh: the gateway up");
  T_OK(V(0, "sluice_scrape_samples", lb) > 0, "fresh: b's page gave samples");
  T_NEAR(V(0, "sluice_scrape_failures_total", la), 0, 0, "fresh: a never failed");
  T_NEAR(V(1, "sluice_scrape_up", la), 0, 0, "garbage: a down");
  T_OK(V(1, "sluice_scrape_rejected_total", la) >= 1, "garbage: a's pages counted as rejected");
  T_NEAR(V(1, "sluice_scrape_up", lb), 1, 0, "garbage: b up");
  double rej = V(1, "sluice_scrape_rejected_total", la);
  T_OK(V(2, "sluice_scrape_failures_total", la) > V(1, "sluice_scrape_failures_total", la) &&
           V(2, "sluice_scrape_rejected_total", la) == rej,
       "hang: a's timeouts are failures, not rejections");
  // Scrapes over 0.1 s (healthy ones take milliseconds): the hung target's ran to the timeout.
  double slow1 = value_of(F.metrics[1], "sluice_scrape_duration_seconds_count ") -
                 value_of(F.metrics[1], "sluice_scrape_duration_seconds_bucket{le=\"0.1\"} ");
  double slow2 = value_of(F.metrics[2], "sluice_scrape_duration_seconds_count ") -
                 value_of(F.metrics[2], "sluice_scrape_duration_seconds_bucket{le=\"0.1\"} ");
  T_OK(slow2 > slow1, "hang: scrapes ran to the timeout (%.0f over 0.1s, %.0f before)", slow2,
       slow1);
  T_OK(V(3, "sluice_scrape_failures_total", la) > V(2, "sluice_scrape_failures_total", la),
       "dead: a's refused scrapes are failures");
  T_NEAR(V(3, "sluice_scrape_failures_total", lb), 0, 0, "b never failed");
  T_NEAR(value_of(F.metrics[3], "sluice_scrape_targets{state=\"up\"} "), 2, 0,
         "two targets up at the end");
  T_NEAR(value_of(F.metrics[3], "sluice_scrape_targets{state=\"down\"} "), 1, 0,
         "one target down at the end");
  T_OK(value_of(F.metrics[3], "sluice_scrape_duration_seconds_count ") ==
           value_of(F.metrics[3], "sluice_scrape_duration_seconds_bucket{le=\"+Inf\"} "),
       "the duration histogram's count is its +Inf bucket");
  T_EQ_INT(count_lines(F.metrics[3], "# TYPE sluice_scrape_up gauge\n"), 1,
           "one TYPE line per family");
  T_EQ_INT(F.readyz[3], 200, "/readyz stays ready while a target is down");

  for (int i = 0; i < 4; i++) free(F.metrics[i]);
  if (R.fa) fa_stop(R.fa);
  fa_stop(fb);
  sl_config_deinit(&cfg);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) printf("# could not remove %s\n", dir);
  curl_global_cleanup();
  return tap_done();
}
