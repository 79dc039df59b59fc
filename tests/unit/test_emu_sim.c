// The emulator's simulation backend over real sockets (the emulator's loop on the main thread,
// libcurl on a client thread): the built-in scenario's pods and EPPs publish their metrics ports,
// their pages parse and carry every family sluice reads in the format of a real vLLM page, the
// load rises, a pod scaled up serves a busy server, a deleted pod's endpoint goes away, and the
// metric-endpoint faults (garbage, dead, slow) take effect and clear.
#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "core/emu/emu.h"
#include "core/emu/sim.h"
#include "core/scrape/expo.h"
#include "core/state/metric.h"
#include "core/util/file.h"
#include "tests/unit/tap.h"

#define SPEED 50.0

typedef struct {
  uv_loop_t loop;
  uv_async_t quit;
  sl_emu_t *emu;
  int port;
} env_t;

static env_t g_env;
static double g_start; // wall time the emulator started

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_s(double s) {
  usleep((useconds_t)(s * 1e6));
}

// ---- HTTP ---------------------------------------------------------------------------------------

typedef struct {
  char *buf;
  size_t len;
} body_t;

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  body_t *b = ud;
  size_t k = size * n;
  b->buf = realloc(b->buf, b->len + k + 1);
  memcpy(b->buf + b->len, p, k);
  b->len += k;
  b->buf[b->len] = '\0';
  return k;
}

typedef struct {
  CURLcode rc;
  long status;
  char *body;
  size_t len;
  double seconds;
} resp_t;

static resp_t http(int port, const char *method, const char *path, const char *ctype,
                   const char *body) {
  resp_t r = {0};
  body_t b = {0};
  char url[1024];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  CURL *c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  struct curl_slist *hs = curl_slist_append(NULL, "Expect:");
  char h[200];
  if (ctype) {
    snprintf(h, sizeof h, "Content-Type: %s", ctype);
    hs = curl_slist_append(hs, h);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
  if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  double t0 = wall();
  r.rc = curl_easy_perform(c);
  r.seconds = wall() - t0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(hs);
  curl_easy_cleanup(c);
  r.body = b.buf;
  r.len = b.len;
  return r;
}

static sl_json_t *api_json(const char *path) {
  resp_t r = http(g_env.port, "GET", path, NULL, NULL);
  sl_err_t err;
  sl_json_t *j = r.body && r.status == 200 ? sl_json_parse(r.body, r.len, NULL, &err) : NULL;
  free(r.body);
  return j;
}

static int faults(const char *json) {
  resp_t r = http(g_env.port, "POST", "/_emu/faults", "application/json", json);
  free(r.body);
  return r.status == 200;
}

// ---- pages --------------------------------------------------------------------------------------

typedef struct {
  char name[160];
  sl_expo_type_t type;
} fam_t;

typedef struct {
  char name[160];
  char labels[400]; // label names in page order, comma-separated, without le
  char le[40];      // a bucket's le as written
  char model[200];  // its model_name label
  double value;
} sample_t;

typedef struct {
  fam_t f[400];
  int nf;
  sample_t *s;
  int ns, cap;
} page_t;

static int on_family(void *ud, const sl_expo_family_t *f) {
  page_t *p = ud;
  if (p->nf < 400) {
    snprintf(p->f[p->nf].name, sizeof p->f[0].name, "%.*s", (int)f->name.len, f->name.ptr);
    p->f[p->nf++].type = f->type;
  }
  return 1;
}

static int on_sample(void *ud, const sl_expo_sample_t *s) {
  page_t *p = ud;
  if (p->ns == p->cap) {
    p->cap = p->cap ? 2 * p->cap : 256;
    p->s = realloc(p->s, sizeof *p->s * (size_t)p->cap);
  }
  sample_t *o = &p->s[p->ns++];
  memset(o, 0, sizeof *o);
  snprintf(o->name, sizeof o->name, "%.*s", (int)s->name.len, s->name.ptr);
  for (size_t i = 0; i < s->nlabels; i++) {
    const sl_expo_label_t *l = &s->labels[i];
    if (l->name.len == 2 && !memcmp(l->name.ptr, "le", 2)) {
      snprintf(o->le, sizeof o->le, "%.*s", (int)l->value.len, l->value.ptr);
      continue;
    }
    if (l->name.len == 10 && !memcmp(l->name.ptr, "model_name", 10))
      snprintf(o->model, sizeof o->model, "%.*s", (int)l->value.len, l->value.ptr);
    size_t k = strlen(o->labels);
    snprintf(o->labels + k, sizeof o->labels - k, "%s%.*s", k ? "," : "", (int)l->name.len,
             l->name.ptr);
  }
  o->value = s->value;
  return 0;
}

// Parses a page; 0 when it is a valid exposition.
static int parse(const char *buf, size_t len, page_t *p, sl_err_t *err) {
  memset(p, 0, sizeof *p);
  sl_expo_handler_t h = {on_family, on_sample};
  return sl_expo_parse(buf, len, SL_EXPO_TEXT_004, &h, p, err);
}

static const fam_t *family(const page_t *p, const char *name) {
  for (int i = 0; i < p->nf; i++)
    if (!strcmp(p->f[i].name, name)) return &p->f[i];
  return NULL;
}

static const sample_t *sample(const page_t *p, const char *name) {
  for (int i = 0; i < p->ns; i++)
    if (!strcmp(p->s[i].name, name)) return &p->s[i];
  return NULL;
}

static double value(const page_t *p, const char *name) {
  const sample_t *s = sample(p, name);
  return s ? s->value : NAN;
}

// The metrics sluice reads (the store's raw metrics) that some family of the page feeds.
static int covers(const page_t *p, sl_metric_t m) {
  for (int i = 0; i < p->nf; i++) {
    const sl_metric_alias_t *a = sl_metric_alias_lookup(p->f[i].name);
    if (a && a->metric == m) return 1;
  }
  return 0;
}

// Fetches and parses a pod's page; the HTTP result in *r (body freed).
static int scrape(int port, page_t *p, resp_t *r) {
  *r = http(port, "GET", "/metrics", NULL, NULL);
  sl_err_t err = {0};
  int rc = r->rc == CURLE_OK && r->status == 200 ? parse(r->body, r->len, p, &err) : -1;
  free(r->body);
  r->body = NULL;
  return rc;
}

// ---- pods ---------------------------------------------------------------------------------------

typedef struct {
  char name[254], ip[64];
  int port, container_port, ready;
} pod_t;

// The pods of a deployment (app label), with their published metrics ports.
static int pods_of(const char *app, pod_t *out, int max) {
  char path[300];
  snprintf(path, sizeof path, "/api/v1/namespaces/llm/pods?labelSelector=app%%3D%s", app);
  sl_json_t *j = api_json(path);
  const sl_json_t *items = sl_json_get(j, "items");
  int n = 0;
  for (size_t i = 0; items && i < items->n && n < max; i++) {
    const sl_json_t *p = items->items[i];
    pod_t *o = &out[n++];
    memset(o, 0, sizeof *o);
    snprintf(o->name, sizeof o->name, "%s", sl_json_str_or(sl_json_at(p, "metadata.name"), ""));
    snprintf(o->ip, sizeof o->ip, "%s", sl_json_str_or(sl_json_at(p, "status.podIP"), ""));
    o->port = atoi(sl_json_str_or(
        sl_json_get(sl_json_at(p, "metadata.annotations"), "prometheus.io/port"), "0"));
    const sl_json_t *ports = sl_json_at(p, "spec.containers");
    ports = ports && ports->n ? sl_json_get(ports->items[0], "ports") : NULL;
    for (size_t k = 0; ports && k < ports->n; k++)
      if (!strcmp(sl_json_str_or(sl_json_get(ports->items[k], "name"), ""), "metrics"))
        o->container_port = (int)sl_json_num_or(sl_json_get(ports->items[k], "containerPort"), 0);
    const sl_json_t *cs = sl_json_at(p, "status.conditions");
    for (size_t k = 0; cs && k < cs->n; k++)
      if (!strcmp(sl_json_str_or(sl_json_get(cs->items[k], "type"), ""), "Ready"))
        o->ready = !strcmp(sl_json_str_or(sl_json_get(cs->items[k], "status"), ""), "True");
  }
  sl_json_free(j);
  return n;
}

static int one_pod(const char *app, pod_t *p) {
  pod_t all[16];
  int n = pods_of(app, all, 16);
  for (int i = 0; i < n; i++)
    if (all[i].ready && all[i].port) {
      *p = all[i];
      return 1;
    }
  return 0;
}

static const char *const variants[] = {"llama-8b-h100", "llama-8b-a100", "llama-3b-a100",
                                       "llama-3b-h100"};
static const char *const epps[] = {"llama-3-1-8b-instruct-epp", "llama-3-2-3b-instruct-epp"};

// ---- the checks ---------------------------------------------------------------------------------

static void check_published(void) {
  double until = wall() + 10;
  pod_t p;
  int ready = 0;
  while (wall() < until) {
    ready = 0;
    for (int i = 0; i < 4; i++) ready += one_pod(variants[i], &p);
    for (int i = 0; i < 2; i++) ready += one_pod(epps[i], &p);
    if (ready == 6) break;
    sleep_s(0.05);
  }
  T_EQ_INT(ready, 6,
           "every variant starts with a Ready pod publishing its port, and so do the EPPs");
  for (int i = 0; i < 4; i++) {
    if (!one_pod(variants[i], &p)) continue;
    T_OK(!strcmp(p.ip, "127.0.0.1"), "%s: podIP 127.0.0.1 (%s)", p.name, p.ip);
    T_EQ_INT(p.container_port, p.port, "the container port is the annotated one");
    T_OK(p.port != g_env.port, "the pod's port is its own, not the API server's");
  }
}

// Families, labels and buckets as a real vLLM page has them; and every metric sluice reads.
static void check_vllm_page(void) {
  pod_t p;
  page_t pg;
  resp_t r;
  T_OK(one_pod("llama-8b-h100", &p), "a llama-8b-h100 pod");
  T_EQ_INT(scrape(p.port, &pg, &r), 0, "the vLLM page is a valid exposition");
  static const sl_metric_t want[] = {SL_M_WAITING,
                                     SL_M_RUNNING,
                                     SL_M_KV_USAGE,
                                     SL_M_KV_CAPACITY_TOKENS,
                                     SL_M_REQUESTS,
                                     SL_M_PROMPT_TOKENS,
                                     SL_M_GENERATION_TOKENS,
                                     SL_M_PREEMPTIONS,
                                     SL_M_TTFT,
                                     SL_M_ITL,
                                     SL_M_E2E,
                                     SL_M_REQ_PROMPT_TOKENS,
                                     SL_M_REQ_GEN_TOKENS};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    T_OK(covers(&pg, want[i]), "the vLLM page feeds %s", sl_metric_info(want[i])->name);
  const sample_t *s = sample(&pg, "vllm:num_requests_running");
  T_OK(s && !strcmp(s->model, "meta-llama/Llama-3.1-8B-Instruct"),
       "model_name is the variant's model (%s)", s ? s->model : "none");
  const sample_t *cc = sample(&pg, "vllm:cache_config_info");
  T_OK(cc && strstr(cc->labels, "num_gpu_blocks") && strstr(cc->labels, "block_size"),
       "cache_config_info carries num_gpu_blocks and block_size");

  char *ref = NULL;
  size_t rlen = 0;
  sl_err_t err;
  if (sl_file_read(SL_SOURCE_DIR "/../shared/data/metrics/vllm_metrics_page.txt", 1 << 24, 0, &ref,
                   &rlen, &err) < 0) {
    printf("# the reference vLLM page is not there: format comparison skipped\n");
    free(pg.s);
    return;
  }
  page_t rf;
  T_EQ_INT(parse(ref, rlen, &rf, &err), 0, "the reference page parses");
  int nfam = 0, bad = 0;
  for (int i = 0; i < pg.nf; i++) {
    const fam_t *f = &pg.f[i], *g = family(&rf, f->name);
    nfam++;
    if (!g || g->type != f->type) {
      printf("# %s: %s in the reference page\n", f->name, g ? "another type" : "not");
      bad++;
    }
  }
  T_EQ_INT(bad, 0, "every family is one of the real page's, with its type");
  T_OK(nfam >= 20, "families on the page (%d)", nfam);
  bad = 0;
  for (int i = 0; i < pg.ns; i++) {
    const sample_t *a = &pg.s[i];
    if (!strcmp(a->name, "vllm:cache_config_info")) continue; // a subset of the real labels
    int found = 0;
    for (int k = 0; k < rf.ns && !found; k++) {
      const sample_t *b = &rf.s[k];
      found = !strcmp(a->name, b->name) && !strcmp(a->labels, b->labels) && !strcmp(a->le, b->le);
    }
    if (!found) {
      printf("# %s{%s le=%s} has no counterpart in the real page\n", a->name, a->labels, a->le);
      bad++;
    }
  }
  T_EQ_INT(bad, 0, "every sample has the real page's labels (and buckets)");
  bad = 0; // and no bucket of the real page's histograms is missing
  for (int k = 0; k < rf.ns; k++) {
    const sample_t *b = &rf.s[k];
    size_t n = strlen(b->name);
    if (!*b->le || n < 7) continue;
    char fam[160];
    snprintf(fam, sizeof fam, "%.*s", (int)(n - 7), b->name);
    if (!family(&pg, fam)) continue;
    int found = 0;
    for (int i = 0; i < pg.ns && !found; i++)
      found = !strcmp(pg.s[i].name, b->name) && !strcmp(pg.s[i].le, b->le);
    bad += !found;
  }
  T_EQ_INT(bad, 0, "every bucket of the real page's histograms is there");
  free(ref);
  free(rf.s);
  free(pg.s);
}

static void check_epp_page(void) {
  pod_t p;
  page_t pg;
  resp_t r;
  T_OK(one_pod(epps[0], &p), "the 8B model's EPP pod");
  T_EQ_INT(scrape(p.port, &pg, &r), 0, "the EPP page is a valid exposition");
  static const sl_metric_t want[] = {
      SL_M_GW_QUEUE_SIZE, SL_M_GW_QUEUE_BYTES,     SL_M_GW_RUNNING,
      SL_M_GW_SATURATION, SL_M_GW_INFLIGHT_TOKENS, SL_M_GW_READY_ENDPOINTS,
      SL_M_GW_REQUESTS,   SL_M_GW_DROPPED,         SL_M_GW_QUEUE_DURATION};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    T_OK(covers(&pg, want[i]), "the EPP page feeds %s", sl_metric_info(want[i])->name);
  const sample_t *s = sample(&pg, "inference_objective_request_total");
  T_OK(s && !strcmp(s->model, "meta-llama/Llama-3.1-8B-Instruct"), "per model (%s)",
       s ? s->model : "none");
  T_EQ_INT(value(&pg, "inference_pool_ready_pods"), 2, "two Ready servers of the model");
  free(pg.s);
}

// Arrivals per simulated second at the EPP over [t, t + dt) of wall time.
static double arrival_rate(int port, double dt) {
  page_t a, b;
  resp_t r;
  double t0 = wall();
  if (scrape(port, &a, &r) < 0) return NAN;
  sleep_s(dt);
  double t1 = wall();
  if (scrape(port, &b, &r) < 0) {
    free(a.s);
    return NAN;
  }
  double n = value(&b, "inference_objective_request_total") -
             value(&a, "inference_objective_request_total");
  free(a.s);
  free(b.s);
  return n / ((t1 - t0) * SPEED);
}

static void check_load_rises(void) {
  pod_t p;
  T_OK(one_pod(epps[0], &p), "the EPP");
  // The built-in step comes at 120 simulated seconds: 2.4 s of wall time at this speed.
  double before = arrival_rate(p.port, 0.6);
  T_OK(wall() - g_start < 2.3, "measured before the step (%.2f s)", wall() - g_start);
  T_OK(before > 0, "requests arrive from the start (%.2f/s)", before);
  while (wall() - g_start < 2.8) sleep_s(0.05);
  double after = arrival_rate(p.port, 0.6);
  T_OK(after > 3 * before, "the load rises several-fold (%.2f/s -> %.2f/s)", before, after);
}

static int scale(const char *deploy, int n) {
  char path[200], body[64];
  snprintf(path, sizeof path, "/apis/apps/v1/namespaces/llm/deployments/%s/scale", deploy);
  snprintf(body, sizeof body, "{\"spec\":{\"replicas\":%d}}", n);
  resp_t r = http(g_env.port, "PATCH", path, "application/merge-patch+json", body);
  free(r.body);
  return r.status == 200;
}

// A pod of app that is not in `old`, Ready with a port.
static int new_pod(const char *app, const pod_t *old, int nold, pod_t *out) {
  pod_t all[16];
  int n = pods_of(app, all, 16);
  for (int i = 0; i < n; i++) {
    int seen = 0;
    for (int k = 0; k < nold; k++) seen |= !strcmp(all[i].name, old[k].name);
    if (!seen && all[i].ready && all[i].port) {
      *out = all[i];
      return 1;
    }
  }
  return 0;
}

static void check_scale_up(void) {
  pod_t old[16], p;
  int nold = pods_of("llama-8b-h100", old, 16);
  T_EQ_INT(nold, 1, "one llama-8b-h100 pod before scaling");
  T_OK(scale("llama-8b-h100", 2), "scaled llama-8b-h100 to 2");
  double until = wall() + 10;
  int found = 0;
  while (!(found = new_pod("llama-8b-h100", old, nold, &p)) && wall() < until) sleep_s(0.02);
  T_OK(found, "the new pod turns Ready with a metrics port");
  if (!found) return;
  // Under the stepped-up load the gateway sends it work at once.
  double running = 0;
  page_t pg;
  resp_t r;
  until = wall() + 10;
  while (wall() < until) {
    if (scrape(p.port, &pg, &r) == 0) {
      running = value(&pg, "vllm:num_requests_running");
      free(pg.s);
      if (running > 0) break;
    }
    sleep_s(0.02);
  }
  T_OK(running > 0, "the new server runs requests (%g)", running);
  pod_t epp;
  if (one_pod(epps[0], &epp) && scrape(epp.port, &pg, &r) == 0) {
    T_EQ_INT(value(&pg, "inference_pool_ready_pods"), 3, "the EPP counts three Ready servers");
    free(pg.s);
  }
}

static int connect_fails(int port) {
  resp_t r = http(port, "GET", "/metrics", NULL, NULL);
  free(r.body);
  return r.rc == CURLE_COULDNT_CONNECT;
}

static void check_faults(void) {
  pod_t p;
  page_t pg;
  resp_t r;
  T_OK(one_pod("llama-3b-a100", &p), "a llama-3b-a100 pod");
  char spec[600];
  snprintf(spec, sizeof spec, "{\"pods\":{\"llm/%s\":{\"mode\":\"garbage\"}}}", p.name);
  T_OK(faults(spec), "garbage switched on");
  T_OK(scrape(p.port, &pg, &r) < 0 && r.status == 200,
       "a garbage page is answered 200 and rejected");
  snprintf(spec, sizeof spec, "{\"pods\":{\"llm/%s\":{\"mode\":\"dead\"}}}", p.name);
  T_OK(faults(spec), "dead switched on");
  double until = wall() + 5;
  int refused = 0;
  while (!(refused = connect_fails(p.port)) && wall() < until) sleep_s(0.02);
  T_OK(refused, "a dead endpoint refuses connections");
  snprintf(spec, sizeof spec, "{\"pods\":{\"llm/%s\":{\"mode\":\"slow\",\"delaySeconds\":0.6}}}",
           p.name);
  T_OK(faults(spec), "slow switched on");
  until = wall() + 5;
  while (connect_fails(p.port) && wall() < until) sleep_s(0.02);
  int rc = scrape(p.port, &pg, &r);
  T_OK(rc == 0 && r.seconds >= 0.55, "a slow endpoint answers a valid page late (%.2f s)",
       r.seconds);
  if (rc == 0) free(pg.s);
  snprintf(spec, sizeof spec, "{\"pods\":{\"llm/%s\":{\"mode\":\"ok\"}}}", p.name);
  T_OK(faults(spec), "faults cleared");
  rc = scrape(p.port, &pg, &r);
  T_OK(rc == 0 && r.seconds < 0.5, "the endpoint is back to normal (%.2f s)", r.seconds);
  T_OK(rc == 0 && value(&pg, "vllm:num_requests_running") >= 0, "with live values");
  if (rc == 0) free(pg.s);
}

static void check_delete(void) {
  pod_t p;
  T_OK(one_pod("llama-3b-h100", &p), "a llama-3b-h100 pod");
  char path[400];
  snprintf(path, sizeof path, "/api/v1/namespaces/llm/pods/%s", p.name);
  resp_t r = http(g_env.port, "DELETE", path, NULL, NULL);
  free(r.body);
  T_EQ_INT(r.status, 200, "pod deleted");
  double until = wall() + 5;
  int refused = 0;
  while (!(refused = connect_fails(p.port)) && wall() < until) sleep_s(0.02);
  T_OK(refused, "the deleted pod's endpoint goes away");
  // Its replacement serves on a port of its own.
  pod_t q;
  until = wall() + 10;
  int found = 0;
  while (!(found = new_pod("llama-3b-h100", &p, 1, &q)) && wall() < until) sleep_s(0.02);
  page_t pg;
  T_OK(found && scrape(q.port, &pg, &r) == 0, "the replacement pod serves its page");
  if (found && r.status == 200) free(pg.s);
}

static void *client(void *ud) {
  check_published();
  check_vllm_page();
  check_epp_page();
  check_load_rises();
  check_scale_up();
  check_faults();
  check_delete();
  uv_async_send(&g_env.quit);
  return NULL;
}

static void on_quit(uv_async_t *a) {
  sl_emu_free(g_env.emu);
  uv_close((uv_handle_t *)a, NULL);
}

static void check_bad_cluster(void) {
  sl_emu_sim_opts_t o;
  sl_emu_sim_opts_init(&o);
  o.cluster = "/nonexistent/cluster.yaml";
  sl_emu_backend_t be;
  sl_err_t err = {0};
  T_OK(sl_emu_sim_backend(uv_default_loop(), &o, &be, NULL, &err) < 0, "a missing cluster file");
  T_STR_HAS(err.msg, "/nonexistent/cluster.yaml", "the error names the file");
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  check_bad_cluster();
  uv_loop_init(&g_env.loop);
  uv_async_init(&g_env.loop, &g_env.quit, on_quit);
  sl_emu_sim_opts_t so;
  sl_emu_sim_opts_init(&so);
  so.speed = SPEED;
  so.start_delay_s = 2; // 40 ms of wall time
  sl_emu_backend_t be;
  sl_emu_sim_t *sim;
  sl_err_t err = {0};
  T_OK(sl_emu_sim_backend(&g_env.loop, &so, &be, &sim, &err) == 0, "backend (%s)", err.msg);
  sl_emu_opts_t o = {.seed = 5};
  T_OK(sl_emu_new(&g_env.loop, &o, &be, &g_env.emu, &err) == 0, "emulator starts (%s)", err.msg);
  g_start = wall();
  g_env.port = sl_emu_port(g_env.emu);
  T_STR_HAS(sl_emu_sim_load(sim, 0), "step:", "the built-in scenario's load is the step");
  pthread_t th;
  pthread_create(&th, NULL, client, NULL);
  uv_run(&g_env.loop, UV_RUN_DEFAULT);
  pthread_join(th, NULL);
  T_EQ_INT(uv_loop_close(&g_env.loop), 0, "every handle closed");
  curl_global_cleanup();
  return tap_done();
}
