// The scraper against fake HTTP servers (libmicrohttpd threads): pages of every generation, the
// real vLLM page plain and gzip-encoded, the request it sends (Accept, Accept-Encoding,
// keep-alive); faults asserted exactly — a target that hangs, one that serves garbage, one that
// is dead (backoff), an HTTP error, a page over the cap (also once decoded) — with the store
// compared before and after; targets changing while scrapes are in flight; phases; health.
// Waits are bounded polling of the loop, never timed assertions.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/scrape/scraper.h"
#include "tests/unit/fake_api.h"
#include "tests/unit/scrape_pages.h"
#include "tests/unit/tap.h"

#define TURNS 5000 // about 10 s of loop turns: a bound for broken code, not a timing

static const char *garbage = "# TYPE vllm:num_requests_running gauge\n"
                             "vllm:num_requests_running 1\n"
                             "vllm:num_requests_waiting{model_name=\"m\" 3\n";

typedef struct {
  char *real;
  size_t real_len;
  char *real_gz; // the real page (or, when absent, vllm_v1) gzip-encoded
  size_t real_gz_len;
  char *big_gz; // 60 KB of valid lines, gzip-encoded to a few KB
  size_t big_gz_len;
  char big[10001];
  int flip; // /flip: 0 a good page, 1 garbage, 2 hang
  fa_stream_t *stream;
} srv_t;

static void body(fa_resp_t *r, const char *b, size_t n) {
  r->status = 200;
  free(r->body);
  r->body = malloc(n ? n : 1);
  memcpy(r->body, b, n);
  r->body_len = n;
}

static void handler(fake_api_t *f, const fa_req_t *rq, fa_resp_t *resp, void *ud) {
  srv_t *s = ud;
  const char *text = "Content-Type: text/plain; version=0.0.4; charset=utf-8";
  const char *p = rq->path;
  if (!strcmp(p, "/v1")) {
    fa_resp_body(resp, 200, vllm_v1);
    fa_resp_header(resp, text);
  } else if (!strcmp(p, "/v0")) {
    fa_resp_body(resp, 200, vllm_v0);
    fa_resp_header(resp, text);
  } else if (!strcmp(p, "/om")) {
    fa_resp_body(resp, 200, vllm_om);
    fa_resp_header(resp,
                   "Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8");
  } else if (!strcmp(p, "/sglang")) {
    fa_resp_body(resp, 200, sglang);
    fa_resp_header(resp, text);
  } else if (!strcmp(p, "/gw")) {
    fa_resp_body(resp, 200, llmd);
    fa_resp_header(resp, text);
  } else if (!strcmp(p, "/real") && s->real) {
    body(resp, s->real, s->real_len);
    fa_resp_header(resp, text);
  } else if (!strcmp(p, "/real.gz")) {
    body(resp, s->real_gz, s->real_gz_len);
    fa_resp_header(resp, text);
    fa_resp_header(resp, "Content-Encoding: gzip");
  } else if (!strcmp(p, "/big")) {
    fa_resp_body(resp, 200, s->big);
    fa_resp_header(resp, text);
  } else if (!strcmp(p, "/big.gz")) {
    body(resp, s->big_gz, s->big_gz_len);
    fa_resp_header(resp, text);
    fa_resp_header(resp, "Content-Encoding: gzip");
  } else if (!strcmp(p, "/flip")) {
    if (s->flip == 2) {
      resp->hang = 1;
    } else {
      fa_resp_body(resp, 200, s->flip ? garbage : vllm_v0);
      fa_resp_header(resp, text);
    }
  } else if (!strcmp(p, "/hang")) {
    resp->hang = 1;
  } else if (!strcmp(p, "/500")) {
    fa_resp_body(resp, 500, "internal error\n");
    fa_resp_header(resp, "Content-Type: text/plain");
  } else if (!strcmp(p, "/stream")) {
    s->stream = fa_stream_new(f);
    resp->stream = s->stream;
    fa_resp_header(resp, text);
  } else {
    fa_resp_body(resp, 404, "not found\n");
  }
}

// gzip -c of a buffer, through a temporary file and the gzip CLI.
static char *gzip_of(const char *data, size_t n, size_t *out_len) {
  char path[] = "/tmp/sluice-scrape-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return NULL;
  if (write(fd, data, n) != (ssize_t)n) {
    close(fd);
    unlink(path);
    return NULL;
  }
  close(fd);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "gzip -c %s", path);
  FILE *p = popen(cmd, "r");
  size_t cap = n + 1024, len = 0;
  char *buf = malloc(cap);
  size_t got;
  while (p && (got = fread(buf + len, 1, cap - len, p)) > 0) len += got;
  if (p) pclose(p);
  unlink(path);
  *out_len = len;
  return buf;
}

static char *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)len + 1);
  *n = fread(b, 1, (size_t)len, f);
  b[*n] = '\0';
  fclose(f);
  return b;
}

// ---- helpers -----------------------------------------------------------------------------------

static sl_scrape_info_t info_of(sl_scraper_t *s, const char *url) {
  sl_scrape_info_t i;
  memset(&i, 0, sizeof i);
  if (sl_scraper_target_info(s, url, &i) < 0) i.url = NULL;
  return i;
}

typedef struct {
  sl_scraper_t *s;
  const char *url;
  uint64_t n;
} until_t;

static int ready_cond(void *ud) {
  return sl_scraper_ready(ud);
}

static int scrapes_at_least(void *ud) {
  until_t *u = ud;
  return info_of(u->s, u->url).scrapes >= u->n;
}

static int failures_at_least(void *ud) {
  until_t *u = ud;
  return info_of(u->s, u->url).consecutive_failures >= (int)u->n;
}

static void pump_until(uv_loop_t *loop, sl_scraper_t *s, const char *url, uint64_t n,
                       int failures) {
  until_t u = {s, url, n};
  fa_pump(loop, failures ? failures_at_least : scrapes_at_least, &u, TURNS);
}

static double last(const sl_series_t *se) {
  return se ? sl_series_last(se, NULL) : NAN;
}

static char url_buf[32][128];
static int url_n;
static const char *U(fake_api_t *f, const char *path) {
  char *u = url_buf[url_n++ % 32];
  snprintf(u, sizeof url_buf[0], "%s%s", f->base, path);
  return u;
}

// What the store holds of one pod, to compare before and after.
typedef struct {
  int present;
  double last_sample;
  uint32_t mask;
  int len[SL_M__COUNT];
  double v[SL_M__COUNT], t[SL_M__COUNT];
} snap_t;

static snap_t snap(sl_store_t *st, const char *pod) {
  snap_t s;
  memset(&s, 0, sizeof s);
  sl_pod_t *p = sl_store_find_pod(st, pod);
  if (!p) return s;
  s.present = 1;
  s.last_sample = p->last_sample;
  s.mask = p->mask;
  for (int m = 0; m < SL_M__COUNT; m++) {
    if (!p->m[m]) continue;
    s.len[m] = p->m[m]->len;
    s.v[m] = sl_series_last(p->m[m], &s.t[m]);
  }
  return s;
}

static int same_snap(const snap_t *a, const snap_t *b) {
  if (a->present != b->present || a->last_sample != b->last_sample || a->mask != b->mask) return 0;
  for (int m = 0; m < SL_M__COUNT; m++)
    if (a->len[m] != b->len[m] || a->t[m] != b->t[m] ||
        (a->v[m] != b->v[m] && !(isnan(a->v[m]) && isnan(b->v[m]))))
      return 0;
  return 1;
}

// ---- every generation, the real page, the request ----------------------------------------------

static void test_pages(uv_loop_t *loop, fake_api_t *f, srv_t *srv) {
  sl_clock_t clk;
  sl_clock_init_sim(&clk, 5000);
  sl_scraper_opts_t o = {.interval_s = 0.05, .clock = &clk};
  sl_err_t err = {0};
  sl_scraper_t *s = sl_scraper_new(&o, &err);
  sl_store_t *st = sl_store_new(16);
  const char *u_v1 = U(f, "/v1"), *u_om = U(f, "/om"), *u_sg = U(f, "/sglang"), *u_gw = U(f, "/gw"),
             *u_real = U(f, "/real"), *u_gz = U(f, "/real.gz");
  sl_scrape_target_t t[] = {
      {.url = u_v1, .kind = SL_SCRAPE_POD, .pod = "pod-v1", .variant = "ns/a"},
      {.url = u_om, .kind = SL_SCRAPE_POD, .pod = "pod-om", .variant = "ns/a"},
      {.url = u_sg, .kind = SL_SCRAPE_POD, .pod = "pod-sg", .variant = "ns/b"},
      {.url = u_gw, .kind = SL_SCRAPE_GATEWAY, .model = "m"},
      {.url = u_gz, .kind = SL_SCRAPE_POD, .pod = "pod-gz", .variant = "ns/c"},
      {.url = u_real, .kind = SL_SCRAPE_POD, .pod = "pod-real", .variant = "ns/c"},
  };
  size_t nt = srv->real ? 6 : 5;
  T_EQ_INT(sl_scraper_set_targets(s, t, nt, &err), 0, "pages: targets set");
  T_OK(!sl_scraper_ready(s), "pages: not ready before it starts");
  T_EQ_INT(sl_scraper_start(s, loop, st, &err), 0, "pages: started");
  T_EQ_INT(sl_scraper_start(s, loop, st, &err), SL_ESTATE, "pages: a second start is refused");
  T_OK(fa_pump(loop, ready_cond, s, TURNS), "pages: ready once every target was scraped");

  sl_pod_t *p = sl_store_find_pod(st, "pod-v1");
  T_OK(p && p->phase == SL_POD_READY && !strcmp(p->variant, "ns/a"),
       "pages: the pod was added, Ready, under its variant");
  if (p) {
    T_NEAR(last(p->m[SL_M_RUNNING]), 12, 0, "v1 over HTTP: running");
    T_NEAR(last(p->m[SL_M_KV_USAGE]), 0.5, 1e-15, "v1 over HTTP: kv_usage");
    T_NEAR(last(p->m[SL_M_REQUESTS]), 100, 0, "v1 over HTTP: requests");
    T_NEAR(p->last_sample, 5000, 0, "v1 over HTTP: at the scrape's clock time");
    T_OK(p->m[SL_M_TTFT] && p->m[SL_M_TTFT]->nb == 3, "v1 over HTTP: ttft buckets");
  }
  p = sl_store_find_pod(st, "pod-om");
  T_NEAR(p ? last(p->m[SL_M_PROMPT_TOKENS]) : NAN, 321, 0,
         "OpenMetrics content type: parsed as OpenMetrics");
  p = sl_store_find_pod(st, "pod-sg");
  T_NEAR(p ? last(p->m[SL_M_WAITING]) : NAN, 2826, 0, "sglang over HTTP: waiting");
  sl_store_model_t *m = sl_store_find_model(st, "m");
  T_NEAR(m ? last(m->m[SL_M_GW_REQUESTS]) : NAN, 70, 0, "gateway: requests on the model");
  T_NEAR(m ? last(m->m[SL_M_GW_SATURATION]) : NAN, 1.25, 0, "gateway: saturation on the model");
  T_OK(!sl_store_find_pod(st, "m"), "gateway: no pod for a gateway");
  p = sl_store_find_pod(st, "pod-gz");
  if (srv->real) {
    T_NEAR(p ? last(p->m[SL_M_RUNNING]) : NAN, 23, 0, "gzip: the real page decoded");
    T_OK(p && p->m[SL_M_TTFT] && p->m[SL_M_TTFT]->nb == 23, "gzip: ttft's 23 buckets");
    sl_pod_t *r = sl_store_find_pod(st, "pod-real");
    T_NEAR(r ? last(r->m[SL_M_KV_CAPACITY_TOKENS]) : NAN, 27147.0 * 16, 0, "real page over HTTP");
    T_EQ_INT(info_of(s, u_real).last_samples, 121, "real page: 121 samples to the store");
    T_EQ_INT(info_of(s, u_real).last_bytes, srv->real_len, "real page: every byte");
    T_EQ_INT(info_of(s, u_gz).last_bytes, srv->real_len, "gzip: bytes counted decoded");
  } else {
    printf("# skip: ../shared/data absent, the real page is not served (gzip of a small page)\n");
    T_NEAR(p ? last(p->m[SL_M_RUNNING]) : NAN, 12, 0, "gzip: the page decoded");
  }

  sl_scrape_info_t i = info_of(s, u_v1);
  T_OK(i.up && i.done && i.last_status == 200 && i.consecutive_failures == 0, "v1: up, 200");
  T_EQ_INT(i.last_samples, 29, "v1: 29 samples");
  T_OK(!strcmp(i.last_error, ""), "v1: no error");
  T_NEAR(i.last_success, 5000, 0, "v1: last success at the clock's time");
  T_NEAR(i.interval_s, 0.05, 0, "v1: the scraper's interval");
  T_NEAR(i.timeout_s, 0.04, 1e-12, "v1: timeout 80% of the interval by default");
  T_OK(!strcmp(i.pod, "pod-v1") && !strcmp(i.variant, "ns/a") && i.kind == SL_SCRAPE_POD,
       "v1: what the target is");

  // The request: OpenMetrics first, then text 0.0.4; compression offered.
  fa_req_t rq = {0};
  for (int k = 0; k < fa_count(f); k++)
    if (!strcmp((rq = fa_get(f, k)).path, "/v1")) break;
  T_OK(!strncmp(rq.accept, "application/openmetrics-text;version=1.0.0", 42),
       "Accept asks for OpenMetrics first (%s)", rq.accept);
  T_STR_HAS(rq.accept, "text/plain;version=0.0.4;q=0.5", "then text 0.0.4");
  T_STR_HAS(rq.accept_encoding, "gzip", "gzip offered");
  T_STR_HAS(rq.user_agent, "sluice", "says who it is");

  // Keep-alive: many scrapes over few connections.
  int before = fa_count(f);
  pump_until(loop, s, u_v1, i.scrapes + 6, 0);
  int n = fa_count(f), conns[64], nc = 0;
  for (int k = before; k < n; k++) {
    int c = fa_get(f, k).conn, seen = 0;
    for (int j = 0; j < nc; j++) seen |= conns[j] == c;
    if (!seen && nc < 64) conns[nc++] = c;
  }
  T_OK(n - before >= 6 * (int)nt - 6, "keep-alive: %d more scrapes", n - before);
  T_OK(nc <= (int)nt, "keep-alive: over at most one connection per target (%d)", nc);

  sl_scraper_stats_t stv;
  sl_scraper_stats(s, &stv);
  uint64_t sum = 0, samples = 0, nd = 0;
  for (size_t k = 0; k < sl_scraper_count(s); k++) {
    sl_scraper_target_at(s, k, &i);
    sum += i.scrapes;
    samples += i.samples;
  }
  for (int b = 0; b < SL_SCRAPER_DURATION_BUCKETS; b++) nd += stv.duration_count[b];
  T_OK(stv.targets == nt && stv.up == nt && stv.down == 0 && stv.pending == 0,
       "stats: every target up");
  T_OK(stv.scrapes == sum && stv.samples == samples && stv.failures == 0,
       "stats: totals are the targets' sums");
  T_OK(nd == stv.scrapes && stv.duration_sum > 0, "stats: every scrape has a duration");
  sl_scraper_free(s);
  uv_run(loop, UV_RUN_DEFAULT); // handles close
  sl_store_free(st);
}

// ---- faults ------------------------------------------------------------------------------------

static double backoffs[16];
static int nbackoffs;
static const char *dead_url;
static const char *flip_url;
static int flip_changes, flip_scrapes;
static void record_backoff(void *ud, const sl_scrape_info_t *i) {
  if (dead_url && !strcmp(i->url, dead_url) && nbackoffs < 16) backoffs[nbackoffs++] = i->backoff_s;
  if (flip_url && !strcmp(i->url, flip_url)) {
    flip_scrapes++;
    flip_changes += i->changed;
  }
}

static void test_faults(uv_loop_t *loop, fake_api_t *f, srv_t *srv) {
  sl_clock_t clk;
  sl_clock_init_sim(&clk, 1000);
  // A dead port: a server started and stopped.
  fake_api_t *gone = fa_start(handler, srv);
  char dead[128];
  snprintf(dead, sizeof dead, "%s/metrics", gone->base);
  fa_stop(gone);
  dead_url = dead;
  sl_scraper_opts_t o = {
      .interval_s = 0.1, .backoff_max_s = 0.4, .clock = &clk, .on_scrape = record_backoff};
  sl_err_t err = {0};
  sl_scraper_t *s = sl_scraper_new(&o, &err);
  sl_store_t *st = sl_store_new(16);
  const char *u_ok = U(f, "/v1"), *u_flip = U(f, "/flip"), *u_500 = U(f, "/500");
  sl_scrape_target_t t[] = {
      {.url = u_ok, .kind = SL_SCRAPE_POD, .pod = "pod-ok", .variant = "ns/a"},
      {.url = u_flip, .kind = SL_SCRAPE_POD, .pod = "pod-f", .variant = "ns/a"},
      {.url = dead, .kind = SL_SCRAPE_POD, .pod = "pod-dead", .variant = "ns/a"},
      {.url = u_500, .kind = SL_SCRAPE_POD, .pod = "pod-500", .variant = "ns/a"},
  };
  flip_url = u_flip;
  fa_lock(f);
  srv->flip = 0;
  fa_unlock(f);
  sl_scraper_set_targets(s, t, 4, &err);
  sl_scraper_start(s, loop, st, &err);
  pump_until(loop, s, u_flip, 1, 0);
  T_OK(info_of(s, u_flip).up, "flip: up while it serves a good page");
  snap_t good = snap(st, "pod-f");
  T_OK(good.present && good.last_sample == 1000, "flip: its page is in the store at t=1000");

  // Garbage: rejected whole, nothing committed, counted.
  sl_clock_set(&clk, 2000);
  fa_lock(f);
  srv->flip = 1;
  fa_unlock(f);
  pump_until(loop, s, u_flip, 1, 1);
  sl_scrape_info_t i = info_of(s, u_flip);
  T_OK(!i.up && i.consecutive_failures == 1 && i.rejected == 1, "garbage: down, one rejected page");
  T_STR_HAS(i.last_error, "line 3: ", "garbage: the error names the line");
  T_STR_HAS(i.last_error, u_flip, "garbage: and the URL");
  T_EQ_INT(i.last_status, 200, "garbage: served with 200 all the same");
  T_NEAR(i.last_success, 1000, 0, "garbage: the last success is still the good page's");
  snap_t after = snap(st, "pod-f");
  T_OK(same_snap(&good, &after), "garbage: the pod's store is exactly as before");
  T_NEAR(after.last_sample, 1000, 0, "garbage: its freshest sample did not advance");

  // Hang: times out, counted down; the others go on.
  fa_lock(f);
  srv->flip = 2;
  fa_unlock(f);
  sl_clock_set(&clk, 3000);
  uint64_t ok_before = info_of(s, u_ok).scrapes;
  pump_until(loop, s, u_flip, 3, 1);
  i = info_of(s, u_flip);
  T_EQ_INT(i.consecutive_failures, 3, "hang: three failures in a row (garbage, then two timeouts)");
  T_STR_HAS(i.last_error, "timed out", "hang: a timeout");
  T_STR_HAS(i.last_error, u_flip, "hang: naming the URL");
  T_EQ_INT(i.rejected, 1, "hang: a timeout is not a rejected page");
  T_EQ_INT(i.last_status, 0, "hang: no response");
  T_NEAR(i.last_duration_s, 0.08, 0.5, "hang: lasted about the timeout");
  T_OK(i.last_duration_s >= 0.08, "hang: not less than the timeout (%.3f)", i.last_duration_s);
  sl_scrape_info_t ok = info_of(s, u_ok);
  T_OK(ok.up && ok.scrapes >= ok_before + 2, "hang: the healthy target kept being scraped (%llu)",
       (unsigned long long)(ok.scrapes - ok_before));
  T_NEAR(ok.last_success, 3000, 0, "hang: ... and committed at the new time");
  after = snap(st, "pod-f");
  T_OK(same_snap(&good, &after), "hang: the hung pod's store is unchanged: it goes stale");

  // Dead: refused, backoff doubling to its cap.
  pump_until(loop, s, dead, 5, 1);
  i = info_of(s, dead);
  T_OK(!i.up && i.consecutive_failures >= 5 && i.rejected == 0, "dead: down, nothing rejected");
  T_STR_HAS(i.last_error, dead, "dead: the error names the URL");
  T_OK(strstr(i.last_error, "refused") || strstr(i.last_error, "connect"),
       "dead: connection refused (%s)", i.last_error);
  T_OK(nbackoffs >= 5 && backoffs[0] == 0.1 && backoffs[1] == 0.2 && backoffs[2] == 0.4 &&
           backoffs[3] == 0.4 && backoffs[4] == 0.4,
       "dead: backoff 0.1, 0.2, 0.4 (the cap), 0.4 ... (%g %g %g %g %g)", backoffs[0], backoffs[1],
       backoffs[2], backoffs[3], backoffs[4]);
  T_OK(!sl_store_find_pod(st, "pod-dead"), "dead: never scraped, never added to the store");

  i = info_of(s, u_500);
  T_OK(!i.up && i.last_status == 500 && i.rejected == 0, "500: down, not a rejected page");
  T_STR_HAS(i.last_error, "HTTP 500", "500: says so");
  T_OK(!sl_store_find_pod(st, "pod-500"), "500: nothing committed");

  // Back to a good page: up again, backoff gone.
  fa_lock(f);
  srv->flip = 0;
  fa_unlock(f);
  sl_clock_set(&clk, 4000);
  uint64_t n = info_of(s, u_flip).scrapes;
  pump_until(loop, s, u_flip, n + 1, 0);
  i = info_of(s, u_flip);
  T_OK(i.up && i.consecutive_failures == 0 && i.backoff_s == 0 && !strcmp(i.last_error, ""),
       "recovery: up, no backoff, no error");
  T_NEAR(snap(st, "pod-f").last_sample, 4000, 0, "recovery: fresh again");
  T_OK(flip_changes == 3 && flip_scrapes > 3,
       "changed: set on the first scrape, going down and coming back only (%d of %d scrapes)",
       flip_changes, flip_scrapes);

  sl_scraper_stats_t stv;
  sl_scraper_stats(s, &stv);
  T_OK(stv.rejected == 1 && stv.failures >= 3 + 5 && stv.down >= 2, "stats: failures counted");
  sl_scraper_free(s);
  uv_run(loop, UV_RUN_DEFAULT);
  sl_store_free(st);
  dead_url = NULL;
}

static void test_cap(uv_loop_t *loop, fake_api_t *f, srv_t *srv) {
  sl_scraper_opts_t o = {.interval_s = 0.05, .max_body = 8192};
  sl_err_t err = {0};
  sl_scraper_t *s = sl_scraper_new(&o, &err);
  sl_store_t *st = sl_store_new(16);
  const char *u_big = U(f, "/big"), *u_gz = U(f, "/big.gz"), *u_small = U(f, "/v0");
  sl_scrape_target_t t[] = {
      {.url = u_big, .kind = SL_SCRAPE_POD, .pod = "pod-big", .variant = "ns/a"},
      {.url = u_gz, .kind = SL_SCRAPE_POD, .pod = "pod-gz", .variant = "ns/a"},
      {.url = u_small, .kind = SL_SCRAPE_POD, .pod = "pod-small", .variant = "ns/a"},
  };
  sl_scraper_set_targets(s, t, 3, &err);
  sl_scraper_start(s, loop, st, &err);
  T_OK(fa_pump(loop, ready_cond, s, TURNS), "cap: every target scraped once");
  sl_scrape_info_t i = info_of(s, u_big);
  T_OK(!i.up && i.rejected == 1, "cap: a 10000-byte page over an 8192-byte cap is rejected");
  T_STR_HAS(i.last_error, "page larger than 8192 bytes", "cap: says why");
  T_OK(!sl_store_find_pod(st, "pod-big"), "cap: nothing committed");
  i = info_of(s, u_gz);
  T_OK(srv->big_gz_len < 8192, "cap: the compressed page fits (%zu bytes)", srv->big_gz_len);
  T_OK(!i.up && i.rejected == 1, "cap: rejected once decoded past the cap");
  T_OK(!sl_store_find_pod(st, "pod-gz"), "cap: nothing of it committed");
  T_OK(info_of(s, u_small).up, "cap: a page under the cap is read");
  sl_scraper_free(s);
  uv_run(loop, UV_RUN_DEFAULT);
  sl_store_free(st);
}

// ---- targets that change
// -------------------------------------------------------------------------

static sl_scraper_t *hooked; // the scraper the hooks act on
static const char *remove_me;
static int removed_in_hook;
static void remove_in_hook(void *ud, const sl_scrape_info_t *i) {
  if (remove_me && !strcmp(i->url, remove_me)) {
    removed_in_hook = sl_scraper_remove(hooked, i->url) == 0;
    remove_me = NULL;
  }
}

static int removed(void *ud) {
  return remove_me == NULL;
}

static int stream_opened(void *ud) {
  srv_t *s = ud;
  return s->stream && s->stream->opened;
}

// The server's thread only notices a closed peer when it writes: keep writing until it does.
static srv_t *the_srv;
static int stream_closed(void *ud) {
  fake_api_t *f = ud;
  if (fa_stream_closed(f, the_srv->stream)) return 1;
  fa_stream_push(f, the_srv->stream, "vllm:num_requests_waiting 1\n");
  return 0;
}

static void test_changes(uv_loop_t *loop, fake_api_t *f, srv_t *srv) {
  sl_scraper_opts_t o = {.interval_s = 0.05, .on_scrape = remove_in_hook};
  sl_err_t err = {0};
  sl_scraper_t *s = hooked = sl_scraper_new(&o, &err);
  sl_store_t *st = sl_store_new(16);
  const char *u_a = U(f, "/v1"), *u_b = U(f, "/v0"), *u_c = U(f, "/sglang"),
             *u_st = U(f, "/stream"), *u_h = U(f, "/hang");
  sl_scrape_target_t t[] = {
      {.url = u_a, .kind = SL_SCRAPE_POD, .pod = "pod-a", .variant = "ns/a"},
      {.url = u_b, .kind = SL_SCRAPE_POD, .pod = "pod-b", .variant = "ns/a"},
      {.url = u_st, .kind = SL_SCRAPE_POD, .pod = "pod-st", .variant = "ns/a", .timeout_s = 5},
      {.url = u_h, .kind = SL_SCRAPE_POD, .pod = "pod-h", .variant = "ns/a", .timeout_s = 5},
  };
  fa_lock(f);
  srv->stream = NULL;
  fa_unlock(f);
  T_EQ_INT(sl_scraper_set_targets(s, t, 4, &err), 0, "changes: four targets");
  sl_scraper_start(s, loop, st, &err);
  pump_until(loop, s, u_a, 2, 0);
  pump_until(loop, s, u_b, 2, 0);
  sl_scrape_info_t a0 = info_of(s, u_a);
  T_OK(sl_store_find_pod(st, "pod-b") != NULL, "changes: pod-b added by its scrape");

  // A scrape in flight with half a page received, removed.
  T_OK(fa_pump(loop, stream_opened, srv, TURNS), "mid-scrape: the stream is open");
  fa_stream_push(f, srv->stream,
                 "# TYPE vllm:num_requests_running gauge\n"
                 "vllm:num_requests_running 3\nvllm:num_requests_wai");
  fa_pump(loop, NULL, NULL, 50); // let the bytes arrive
  T_OK(info_of(s, u_st).in_flight, "mid-scrape: still in flight");
  T_EQ_INT(sl_scraper_remove(s, u_st), 0, "mid-scrape: removed");
  T_OK(info_of(s, u_st).url == NULL, "mid-scrape: gone");
  T_OK(fa_pump(loop, stream_closed, f, TURNS), "mid-scrape: its connection was closed");
  T_OK(!sl_store_find_pod(st, "pod-st"), "mid-scrape: nothing of the half page committed");

  // set_targets: keep a (untouched), drop b and the hung one (in flight), add c.
  T_OK(info_of(s, u_h).in_flight, "hung: in flight when the set changes");
  sl_scrape_target_t t2[] = {
      {.url = u_a, .kind = SL_SCRAPE_POD, .pod = "pod-a", .variant = "ns/a"},
      {.url = u_c, .kind = SL_SCRAPE_POD, .pod = "pod-c", .variant = "ns/b"},
  };
  T_EQ_INT(sl_scraper_set_targets(s, t2, 2, &err), 0, "changes: the new set");
  T_EQ_INT(sl_scraper_count(s), 2, "changes: two targets");
  sl_scrape_info_t a1 = info_of(s, u_a);
  T_OK(a1.scrapes >= a0.scrapes && a1.done && a1.up && a1.last_success >= a0.last_success &&
           a1.phase_s == a0.phase_s,
       "changes: the unchanged target keeps its health and phase");
  T_OK(!sl_store_find_pod(st, "pod-b"), "changes: the pod b's target added is removed with it");
  T_OK(info_of(s, u_h).url == NULL, "changes: the hung target, cancelled");
  T_OK(!sl_scraper_ready(s), "changes: not ready until the new target is scraped");
  T_OK(fa_pump(loop, ready_cond, s, TURNS), "changes: ready again");
  T_OK(sl_store_find_pod(st, "pod-c") != NULL, "changes: c scraped");
  pump_until(loop, s, u_a, a1.scrapes + 2, 0);
  T_OK(info_of(s, u_a).scrapes >= a1.scrapes + 2, "changes: a scraped on");

  // The same address now serves another pod: a new target, the old pod gone.
  sl_scrape_target_t t3 = {.url = u_c, .kind = SL_SCRAPE_POD, .pod = "pod-c2", .variant = "ns/b"};
  T_EQ_INT(sl_scraper_add(s, &t3, &err), 0, "reuse of an address: added");
  T_OK(!sl_store_find_pod(st, "pod-c"), "reuse of an address: the old pod removed");
  T_EQ_INT(info_of(s, u_c).scrapes, 0, "reuse of an address: a new target, no history");
  T_EQ_INT(sl_scraper_count(s), 2, "reuse of an address: still two targets");
  // Headers and interval change in place.
  const char *hdr[] = {"Authorization: Bearer xyz", NULL};
  sl_scrape_target_t t4 = {.url = u_a,
                           .kind = SL_SCRAPE_POD,
                           .pod = "pod-a",
                           .variant = "ns/a",
                           .headers = hdr,
                           .interval_s = 0.08};
  uint64_t before = info_of(s, u_a).scrapes;
  T_EQ_INT(sl_scraper_add(s, &t4, &err), 0, "update in place");
  T_OK(info_of(s, u_a).scrapes == before && info_of(s, u_a).interval_s == 0.08,
       "update in place: same target, new interval");
  pump_until(loop, s, u_a, before + 2, 0);
  int auth = 0;
  for (int k = 0; k < fa_count(f); k++)
    auth += !strcmp(fa_get(f, k).path, "/v1") && !strcmp(fa_get(f, k).auth, "Bearer xyz");
  T_OK(auth >= 1, "update in place: the new header is sent");

  // Removed from inside its own on_scrape.
  remove_me = u_a;
  fa_pump(loop, removed, NULL, TURNS);
  T_OK(removed_in_hook, "hook: a target removed itself from on_scrape");
  T_OK(info_of(s, u_a).url == NULL && sl_scraper_count(s) == 1, "hook: and is gone");
  pump_until(loop, s, u_c, 2, 0);
  T_OK(info_of(s, u_c).scrapes >= 2, "hook: the other target goes on");

  // Bad targets are refused whole.
  sl_scrape_target_t bad[] = {
      {.url = u_a, .kind = SL_SCRAPE_POD, .pod = "p", .variant = "v"},
      {.url = "ftp://x/metrics", .kind = SL_SCRAPE_POD, .pod = "p", .variant = "v"},
  };
  T_EQ_INT(sl_scraper_set_targets(s, bad, 2, &err), SL_EINVAL, "bad URL refused");
  T_STR_HAS(err.msg, "ftp://x/metrics", "the error names it");
  T_EQ_INT(sl_scraper_count(s), 1, "nothing changed");
  sl_scrape_target_t dup[] = {
      {.url = u_a, .kind = SL_SCRAPE_POD, .pod = "p", .variant = "v"},
      {.url = u_a, .kind = SL_SCRAPE_POD, .pod = "q", .variant = "v"},
  };
  T_EQ_INT(sl_scraper_set_targets(s, dup, 2, &err), SL_EINVAL, "a URL twice refused");
  sl_scrape_target_t nopod = {.url = u_a, .kind = SL_SCRAPE_POD, .variant = "v"};
  T_EQ_INT(sl_scraper_add(s, &nopod, &err), SL_EINVAL, "a model server without a pod refused");
  sl_scrape_target_t nomodel = {.url = u_a, .kind = SL_SCRAPE_GATEWAY};
  T_EQ_INT(sl_scraper_add(s, &nomodel, &err), SL_EINVAL, "a gateway without a model refused");
  T_EQ_INT(sl_scraper_remove(s, "http://nowhere/"), SL_ENOTFOUND, "removing an unknown URL");

  // Stop from inside a completion, then start again.
  sl_scraper_stop(s);
  T_OK(!sl_scraper_ready(s), "stopped: not ready");
  uint64_t n = info_of(s, u_c).scrapes;
  fa_pump(loop, NULL, NULL, 60);
  T_EQ_INT(info_of(s, u_c).scrapes, n, "stopped: no scrape while stopped");
  T_EQ_INT(sl_scraper_start(s, loop, st, &err), 0, "restarted");
  pump_until(loop, s, u_c, n + 1, 0);
  T_OK(info_of(s, u_c).scrapes > n, "restarted: scraping again");
  sl_scraper_free(s);
  hooked = NULL;
  uv_run(loop, UV_RUN_DEFAULT);
  sl_store_free(st);
}

// Stopping from on_scrape, while the HTTP client is still handing out completions.
static int stopped_in_hook;
static void stop_in_hook(void *ud, const sl_scrape_info_t *i) {
  if (!stopped_in_hook++) sl_scraper_stop(hooked);
}

static int hook_ran(void *ud) {
  return stopped_in_hook > 0;
}

static void test_stop_in_hook(uv_loop_t *loop, fake_api_t *f) {
  sl_scraper_opts_t o = {.interval_s = 0.05, .on_scrape = stop_in_hook};
  sl_err_t err = {0};
  sl_scraper_t *s = hooked = sl_scraper_new(&o, &err);
  sl_store_t *st = sl_store_new(16);
  sl_scrape_target_t t[8];
  char urls[8][128];
  for (int k = 0; k < 8; k++) {
    snprintf(urls[k], sizeof urls[k], "%s/v0?k=%d", f->base, k);
    t[k] = (sl_scrape_target_t){
        .url = urls[k], .kind = SL_SCRAPE_POD, .pod = urls[k], .variant = "ns/a"};
  }
  sl_scraper_set_targets(s, t, 8, &err);
  sl_scraper_start(s, loop, st, &err);
  T_OK(fa_pump(loop, hook_ran, NULL, TURNS), "stop in hook: a scrape finished");
  sl_scraper_stats_t a, b;
  sl_scraper_stats(s, &a);
  fa_pump(loop, NULL, NULL, 100);
  sl_scraper_stats(s, &b);
  T_OK(a.in_flight == 0 && b.scrapes == a.scrapes,
       "stop in hook: nothing in flight, no more scrapes");
  T_EQ_INT(sl_scraper_start(s, loop, st, &err), 0, "stop in hook: starts again");
  stopped_in_hook = 1; // no more stops
  T_OK(fa_pump(loop, ready_cond, s, TURNS), "stop in hook: every target scraped after the restart");
  sl_scraper_free(s);
  hooked = NULL;
  uv_run(loop, UV_RUN_DEFAULT);
  sl_store_free(st);
}

// ---- phases ------------------------------------------------------------------------------------

static void test_phases(void) {
  sl_err_t err = {0};
  sl_scraper_t *s = sl_scraper_new(NULL, &err);
  enum { N = 1000 };
  static char urls[N][64];
  static sl_scrape_target_t t[N];
  for (int k = 0; k < N; k++) {
    snprintf(urls[k], sizeof urls[k], "http://10.1.%d.%d:8000/metrics", k / 250, k % 250);
    t[k] = (sl_scrape_target_t){
        .url = urls[k], .kind = SL_SCRAPE_POD, .pod = urls[k], .variant = "ns/v"};
  }
  T_EQ_INT(sl_scraper_set_targets(s, t, N, &err), 0, "phases: a thousand targets");
  int bins[10] = {0}, in_range = 1;
  for (int k = 0; k < N; k++) {
    sl_scrape_info_t i;
    sl_scraper_target_info(s, urls[k], &i);
    in_range &= i.phase_s >= 0 && i.phase_s < 1;
    if (i.phase_s >= 0 && i.phase_s < 1) bins[(int)(i.phase_s * 10)]++;
  }
  T_OK(in_range, "phases: within the 1 s interval");
  int lo = N, hi = 0;
  for (int b = 0; b < 10; b++) lo = bins[b] < lo ? bins[b] : lo, hi = bins[b] > hi ? bins[b] : hi;
  T_OK(lo >= 70 && hi <= 130, "phases: spread over the interval (each tenth holds %d..%d of 1000)",
       lo, hi);
  sl_scraper_free(s);
}

int main(void) {
  srv_t srv;
  memset(&srv, 0, sizeof srv);
  srv.real = read_file("../shared/data/metrics/vllm_metrics_page.txt", &srv.real_len);
  if (srv.real)
    srv.real_gz = gzip_of(srv.real, srv.real_len, &srv.real_gz_len);
  else
    srv.real_gz = gzip_of(vllm_v1, strlen(vllm_v1), &srv.real_gz_len);
  size_t bl = 0, cap = 64 << 10;
  char *big = malloc(cap);
  bl += (size_t)snprintf(big, cap, "# TYPE vllm:num_requests_running gauge\n");
  for (int k = 0; bl + 64 < cap && k < 2000; k++)
    bl += (size_t)snprintf(big + bl, cap - bl, "vllm:num_requests_running{engine=\"%d\"} 1\n", k);
  srv.big_gz = gzip_of(big, bl, &srv.big_gz_len);
  free(big);
  memset(srv.big, '#', 10000);
  for (int k = 99; k < 10000; k += 100) srv.big[k] = '\n';

  the_srv = &srv;
  fake_api_t *f = fa_start(handler, &srv);
  if (!f || !srv.real_gz || !srv.big_gz) {
    printf("not ok 1 - the fake server or gzip is unavailable\n");
    return 1;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  test_pages(&loop, f, &srv);
  test_faults(&loop, f, &srv);
  test_cap(&loop, f, &srv);
  test_changes(&loop, f, &srv);
  test_stop_in_hook(&loop, f);
  test_phases();
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  fa_stop(f);
  free(srv.real);
  free(srv.real_gz);
  free(srv.big_gz);
  return tap_done();
}
