// The Kubernetes client against a fake API server: typed errors from Status objects, Retry-After
// honoured on 429 (the retry is not sent before it, on a manual clock and on the real one),
// 5xx and connection failures retried with backoff only when idempotent, the token bucket's
// burst and rate, a 401 answered by re-reading the token file, bad bodies, cancellation.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/kube/client.h"
#include "tests/unit/fake_api.h"
#include "tests/unit/tap.h"

typedef struct {
  int done;
  sl_kube_result_t res;
  char msg[1024];
  char name[128];
} out_t;

static void on_done(void *ud, sl_kube_result_t *r) {
  out_t *o = ud;
  o->done++;
  o->res = *r;
  o->res.body = NULL;
  snprintf(o->msg, sizeof o->msg, "%s", r->message);
  snprintf(o->name, sizeof o->name, "%s", sl_json_str_or(sl_json_at(r->body, "metadata.name"), ""));
  o->res.message = o->msg;
}

static int is_done(void *ud) {
  return ((out_t *)ud)->done > 0;
}

typedef struct {
  int flaky_left; // 500s before success on /flaky
  char good_token[64];
} script_t;

static void handler(fake_api_t *f, const fa_req_t *rq, fa_resp_t *resp, void *ud) {
  script_t *s = ud;
  const char *p = rq->path;
  if (!strcmp(p, "/api/v1/namespaces/llm/pods/p1")) {
    fa_resp_body(resp, 200, "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p1\"}}");
  } else if (!strcmp(p, "/missing")) {
    fa_resp_status(resp, 404, "NotFound", "pods \\\"x\\\" not found");
  } else if (!strcmp(p, "/conflict")) {
    fa_resp_status(resp, 409, "Conflict", "the object has been modified");
  } else if (!strcmp(p, "/exists")) {
    fa_resp_status(resp, 409, "AlreadyExists", "already exists");
  } else if (!strcmp(p, "/expired")) {
    fa_resp_status(resp, 410, "Expired", "too old resource version: 1 (5)");
  } else if (!strcmp(p, "/invalid")) {
    fa_resp_status(resp, 422, "Invalid", "spec.replicas: Invalid value");
  } else if (!strcmp(p, "/plain500")) {
    fa_resp_body(resp, 500, "oops");
    fa_resp_header(resp, "Content-Type: text/plain");
  } else if (!strcmp(p, "/busy")) {
    int n = 0;
    for (int i = 0; i < f->n_reqs; i++) n += !strcmp(f->reqs[i].path, "/busy");
    if (n == 1) {
      fa_resp_status(resp, 429, "TooManyRequests", "the server has received too many requests");
      fa_resp_header(resp, "Retry-After: 2");
    } else {
      fa_resp_body(resp, 200, "{\"metadata\":{\"name\":\"after-wait\"}}");
    }
  } else if (!strcmp(p, "/busy1")) {
    int n = 0;
    for (int i = 0; i < f->n_reqs; i++) n += !strcmp(f->reqs[i].path, "/busy1");
    if (n == 1) {
      fa_resp_status(resp, 429, "TooManyRequests", "slow down");
      fa_resp_header(resp, "Retry-After: 1");
    } else {
      fa_resp_body(resp, 200, "{}");
    }
  } else if (!strcmp(p, "/flaky")) {
    if (s->flaky_left > 0) {
      s->flaky_left--;
      fa_resp_status(resp, 500, "InternalError", "etcd hiccup");
    } else {
      fa_resp_body(resp, 200, "{\"metadata\":{\"name\":\"ok\"}}");
    }
  } else if (!strcmp(p, "/unavailable")) {
    int n = 0;
    for (int i = 0; i < f->n_reqs; i++) n += !strcmp(f->reqs[i].path, "/unavailable");
    if (n == 1) {
      fa_resp_status(resp, 503, "ServiceUnavailable", "try later");
      fa_resp_header(resp, "Retry-After: 1");
    } else {
      fa_resp_body(resp, 201, "{\"metadata\":{\"name\":\"created\"}}");
    }
  } else if (!strcmp(p, "/auth")) {
    char want[128];
    snprintf(want, sizeof want, "Bearer %s", s->good_token);
    if (strcmp(rq->auth, want))
      fa_resp_status(resp, 401, "Unauthorized", "token expired");
    else
      fa_resp_body(resp, 200, "{\"metadata\":{\"name\":\"authed\"}}");
  } else if (!strcmp(p, "/notjson")) {
    fa_resp_body(resp, 200, "{\"metadata\":");
  } else if (!strcmp(p, "/hang")) {
    resp->hang = 1;
  } else {
    fa_resp_body(resp, 200, "{}");
  }
}

typedef struct {
  uv_loop_t loop;
  sl_httpc_t *http;
  sl_sched_t *sched;
  sl_kube_client_t *c;
  fake_api_t *f;
  int manual;
} env_t;

static void env_init(env_t *e, fake_api_t *f, int manual, const sl_kube_client_opts_t *o,
                     const char *token_file) {
  memset(e, 0, sizeof *e);
  uv_loop_init(&e->loop);
  e->f = f;
  e->manual = manual;
  e->http = sl_httpc_new(&e->loop, NULL);
  e->sched = manual ? sl_sched_new_manual(1000, 1.7e9) : sl_sched_new_uv(&e->loop);
  if (manual) atomic_store(&f->vnow, 1000);
  sl_kube_config_t cfg = {0};
  cfg.server = strdup(f->base);
  cfg.namespace = strdup("llm");
  cfg.token = strdup("tok-1");
  if (token_file) cfg.token_file = strdup(token_file);
  cfg.token_read_at = 0.0 / 0.0;
  sl_err_t err = {0};
  e->c = sl_kube_client_new(e->http, e->sched, &cfg, o, &err);
  if (!e->c) printf("# client: %s\n", err.msg);
}

static void env_deinit(env_t *e) {
  sl_kube_client_free(e->c);
  sl_httpc_free(e->http);
  sl_sched_free(e->sched);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  uv_loop_close(&e->loop);
}

static sl_kube_call_t *call(env_t *e, const char *method, const char *path, const char *body,
                            out_t *o) {
  sl_kube_req_t q = {.method = method, .path = path, .body = body, .idempotent = -1};
  sl_err_t err = {0};
  sl_kube_call_t *k = sl_kube_client_call(e->c, &q, on_done, o, &err);
  if (!k) printf("# call: %s\n", err.msg);
  return k;
}

static int wait_done(env_t *e, out_t *o) {
  return fa_pump_s(&e->loop, e->manual ? e->sched : NULL, is_done, o, 5000);
}

static void test_errors(fake_api_t *f) {
  env_t e;
  env_init(&e, f, 0, NULL, NULL);
  out_t o = {0};
  int before = fa_count(f);
  call(&e, "GET", "/api/v1/namespaces/llm/pods/p1", NULL, &o);
  T_EQ_INT(o.done, 0, "no callback inside the call");
  wait_done(&e, &o);
  T_OK(o.res.rc == SL_OK && o.res.reason == SL_KUBE_OK && !strcmp(o.name, "p1"),
       "GET parses the object");
  fa_req_t rq = fa_get(f, before);
  T_OK(!strcmp(rq.auth, "Bearer tok-1"), "bearer token sent");

  struct {
    const char *path;
    sl_kube_reason_t reason;
    int rc;
    long status;
    const char *msg;
  } cases[] = {
      {"/missing", SL_KUBE_NOT_FOUND, SL_ENOTFOUND, 404, "POST /missing: 404 NotFound: pods"},
      {"/conflict", SL_KUBE_CONFLICT, SL_ESTATE, 409, "409 Conflict: the object has been modified"},
      {"/exists", SL_KUBE_ALREADY_EXISTS, SL_ESTATE, 409, "409 AlreadyExists"},
      {"/expired", SL_KUBE_GONE, SL_EIO, 410, "410 Gone: too old resource version"},
      {"/invalid", SL_KUBE_INVALID, SL_EINVAL, 422, "Invalid value"},
      {"/notjson", SL_KUBE_BAD_RESPONSE, SL_EPARSE, 200, "not JSON"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    out_t r = {0};
    call(&e, "POST", cases[i].path, "{}", &r);
    wait_done(&e, &r);
    T_OK(r.res.reason == cases[i].reason && r.res.rc == cases[i].rc &&
             r.res.status == cases[i].status,
         "%s -> %s (got %s, rc %d)", cases[i].path, sl_kube_reason_name(cases[i].reason),
         sl_kube_reason_name(r.res.reason), r.res.rc);
    T_STR_HAS(r.msg, cases[i].msg, "message from the Status object");
  }

  out_t p = {0};
  call(&e, "POST", "/plain500", "{}", &p);
  wait_done(&e, &p);
  T_OK(p.res.reason == SL_KUBE_INTERNAL && p.res.attempts == 1,
       "a POST's 500 without Retry-After is not retried");
  T_STR_HAS(p.msg, "HTTP 500: oops", "a non-Status body is quoted");

  // 503 with Retry-After on a POST: the server said it did not process it, so it is retried.
  out_t u = {0};
  call(&e, "POST", "/unavailable", "{}", &u);
  wait_done(&e, &u);
  T_OK(u.res.rc == SL_OK && u.res.attempts == 2 && !strcmp(u.name, "created"),
       "503 with Retry-After retried even for POST");

  // Real clock: Retry-After 1 s, measured by the server; only the lower bound is asserted.
  out_t b = {0};
  int n0 = fa_count(f);
  call(&e, "GET", "/busy1", NULL, &b);
  wait_done(&e, &b);
  T_OK(b.res.rc == SL_OK && b.res.attempts == 2, "429 then success");
  double dt = fa_get(f, n0 + 1).t_real - fa_get(f, n0).t_real;
  T_OK(dt >= 1.0, "retry sent no earlier than Retry-After on the real clock (%.3fs)", dt);

  sl_kube_req_t bad = {.path = "no-slash"};
  sl_err_t err = {0};
  T_OK(!sl_kube_client_call(e.c, &bad, on_done, NULL, &err) && err.code == SL_EINVAL,
       "a path without / is refused");
  env_deinit(&e);
}

static void test_retry_after_manual(fake_api_t *f) {
  env_t e;
  env_init(&e, f, 1, NULL, NULL);
  out_t o = {0};
  int n0 = fa_count_match(f, NULL, "/busy");
  call(&e, "GET", "/busy", NULL, &o);
  // Until the 429 has been answered and processed.
  for (int i = 0; i < 2000 && (fa_count_match(f, NULL, "/busy") == n0 || sl_httpc_active(e.http));
       i++)
    fa_pump_s(&e.loop, e.sched, NULL, NULL, 1);
  T_EQ_INT(fa_count_match(f, NULL, "/busy") - n0, 1, "first request answered 429");
  int early = 0;
  for (int step = 0; step < 199; step++) { // 1.99 s in 10 ms steps
    fa_advance(f, e.sched, 0.01);
    fa_pump_s(&e.loop, e.sched, NULL, NULL, 2);
    early |= fa_count_match(f, NULL, "/busy") - n0 > 1;
  }
  T_OK(!early, "nothing sent during the 2 s Retry-After");
  T_EQ_INT(o.done, 0, "still waiting");
  fa_advance(f, e.sched, 0.011);
  wait_done(&e, &o);
  T_OK(o.res.rc == SL_OK && !strcmp(o.name, "after-wait"), "retry after Retry-After succeeds");
  T_EQ_INT(o.res.attempts, 2, "two attempts");
  int n = fa_count(f);
  double gap = fa_get(f, n - 1).t_virt - fa_get(f, n - 2).t_virt;
  T_OK(gap >= 2.0, "server saw the retry >= 2 s later on the manual clock (%.3f)", gap);
  env_deinit(&e);
}

static void test_backoff(fake_api_t *f, script_t *s) {
  sl_kube_client_opts_t opts = {.backoff_base_s = 0.5, .backoff_max_s = 4, .seed = 7};
  env_t e;
  env_init(&e, f, 1, &opts, NULL);
  fa_lock(f);
  s->flaky_left = 3;
  fa_unlock(f);
  out_t o = {0};
  call(&e, "GET", "/flaky", NULL, &o);
  // Let each failure land, then move the clock by the backoff cap.
  for (int i = 0; i < 10 && !o.done; i++) {
    for (int j = 0; j < 2000 && sl_httpc_active(e.http) == 0 && !o.done &&
                    sl_sched_next(e.sched) <= sl_sched_now(e.sched);
         j++)
      fa_pump_s(&e.loop, e.sched, NULL, NULL, 1);
    for (int j = 0; j < 2000 && sl_httpc_active(e.http) > 0; j++)
      fa_pump_s(&e.loop, e.sched, NULL, NULL, 1);
    if (!o.done) fa_advance(f, e.sched, 4.0);
  }
  T_OK(o.res.rc == SL_OK && o.res.attempts == 4, "GET retried through three 500s (attempts %d)",
       o.res.attempts);
  int n = fa_count(f);
  double g1 = fa_get(f, n - 3).t_virt - fa_get(f, n - 4).t_virt;
  double g3 = fa_get(f, n - 1).t_virt - fa_get(f, n - 2).t_virt;
  T_OK(g1 >= 0.25 && g3 >= 1.0, "backoff grows: >= base/2, then >= 4*base/2 (%.2f, %.2f)", g1, g3);
  sl_kube_client_stats_t st;
  sl_kube_client_stats(e.c, &st);
  T_EQ_INT(st.retries, 3, "three retries counted");
  env_deinit(&e);

  // Connection refused, GET: retried up to max_retries, then a transport error.
  fake_api_t dead = *f;
  snprintf(dead.base, sizeof dead.base, "http://127.0.0.1:1");
  opts.max_retries = 2;
  env_init(&e, &dead, 1, &opts, NULL);
  out_t r = {0};
  call(&e, "GET", "/x", NULL, &r);
  for (int i = 0; i < 20 && !r.done; i++) {
    fa_pump_s(&e.loop, e.sched, NULL, NULL, 50);
    sl_sched_advance(e.sched, 4.0);
  }
  T_OK(r.done && r.res.reason == SL_KUBE_TRANSPORT && r.res.attempts == 3,
       "connection refused: 1 + max_retries attempts, then Transport (attempts %d)",
       r.res.attempts);
  T_STR_HAS(r.msg, "http://127.0.0.1:1/x", "the error names the URL");
  out_t w = {0};
  call(&e, "POST", "/x", "{}", &w);
  for (int i = 0; i < 20 && !w.done; i++) {
    fa_pump_s(&e.loop, e.sched, NULL, NULL, 50);
    sl_sched_advance(e.sched, 4.0);
  }
  T_OK(w.done && w.res.attempts == 1, "a POST is not retried on a connection failure");
  env_deinit(&e);
}

static void test_rate_limit(fake_api_t *f) {
  sl_kube_client_opts_t opts = {.qps = 5, .burst = 2};
  env_t e;
  env_init(&e, f, 1, &opts, NULL);
  out_t o[5] = {{0}};
  int n0 = fa_count_match(f, "GET", "/limited");
  for (int i = 0; i < 5; i++) call(&e, "GET", "/limited", NULL, &o[i]);
  int seen[5];
  for (int step = 0; step < 5; step++) {
    for (int j = 0; j < 300; j++) fa_pump_s(&e.loop, e.sched, NULL, NULL, 1);
    seen[step] = fa_count_match(f, "GET", "/limited") - n0;
    fa_advance(f, e.sched, 0.2);
  }
  T_OK(seen[0] == 2 && seen[1] == 3 && seen[2] == 4 && seen[3] == 5,
       "burst 2 at once, then one per 1/qps (%d %d %d %d)", seen[0], seen[1], seen[2], seen[3]);
  sl_kube_client_stats_t st;
  sl_kube_client_stats(e.c, &st);
  T_EQ_INT(st.throttled, 3, "three requests delayed by the limiter");
  T_NEAR(st.throttled_s, 0.2 + 0.4 + 0.6, 1e-9, "by 0.2, 0.4 and 0.6 s");
  env_deinit(&e);
}

static void test_token_refresh(fake_api_t *f, script_t *s) {
  char path[] = "/tmp/sluice-tok-XXXXXX";
  int fd = mkstemp(path);
  if (write(fd, "tok-1\n", 6) != 6) return;
  close(fd);
  fa_lock(f);
  snprintf(s->good_token, sizeof s->good_token, "tok-2");
  fa_unlock(f);
  env_t e;
  env_init(&e, f, 0, NULL, path);
  FILE *fp = fopen(path, "w");
  fputs("tok-2\n", fp);
  fclose(fp);
  out_t o = {0};
  call(&e, "GET", "/auth", NULL, &o);
  wait_done(&e, &o);
  T_OK(o.res.rc == SL_OK && o.res.attempts == 2 && !strcmp(o.name, "authed"),
       "401 re-reads the token file and retries once (attempts %d)", o.res.attempts);
  fa_lock(f);
  snprintf(s->good_token, sizeof s->good_token, "tok-3");
  fa_unlock(f);
  out_t u = {0};
  call(&e, "GET", "/auth", NULL, &u);
  wait_done(&e, &u);
  T_OK(u.res.reason == SL_KUBE_UNAUTHORIZED && u.res.attempts == 1,
       "an unchanged token is not retried");
  env_deinit(&e);
  unlink(path);
}

static void test_cancel(fake_api_t *f) {
  env_t e;
  env_init(&e, f, 1, NULL, NULL);
  out_t o = {0}, h = {0};
  int n0 = fa_count_match(f, NULL, "/busy");
  // /busy answers 429 only to its very first request overall; use /hang instead for a
  // pending request, and cancel a call while it waits on the limiter-free timer.
  sl_kube_call_t *k = call(&e, "GET", "/hang", NULL, &h);
  for (int j = 0; j < 100; j++) fa_pump_s(&e.loop, e.sched, NULL, NULL, 1);
  sl_kube_call_cancel(k);
  T_EQ_INT(sl_httpc_active(e.http), 0, "cancel stops the HTTP request");
  k = call(&e, "GET", "/anything", NULL, &o);
  sl_kube_call_cancel(k);
  for (int j = 0; j < 50; j++) fa_pump_s(&e.loop, e.sched, NULL, NULL, 1);
  T_OK(!o.done && !h.done, "cancelled calls never call back");
  (void)n0;
  env_deinit(&e);
}

static void test_helpers(void) {
  char b[256];
  sl_kube_path(b, sizeof b, "", "v1", "llm", "pods", "p1", NULL);
  T_OK(!strcmp(b, "/api/v1/namespaces/llm/pods/p1"), "core path (%s)", b);
  sl_kube_path(b, sizeof b, "apps", "v1", "llm", "deployments", "vllm", "scale");
  T_OK(!strcmp(b, "/apis/apps/v1/namespaces/llm/deployments/vllm/scale"), "group path (%s)", b);
  sl_kube_path(b, sizeof b, NULL, "v1", NULL, "nodes", NULL, NULL);
  T_OK(!strcmp(b, "/api/v1/nodes"), "cluster-scoped list (%s)", b);
  T_EQ_INT(sl_kube_path(b, 10, "apps", "v1", "llm", "deployments", NULL, NULL), -1,
           "too small a buffer");
  sl_kube_escape(b, sizeof b, "app=vllm,role in (decode)");
  T_OK(!strcmp(b, "app%3Dvllm%2Crole%20in%20%28decode%29"), "selector escaped (%s)", b);
  sl_kube_time_format(1748779200.123456, 1, b, sizeof b);
  T_OK(!strcmp(b, "2025-06-01T12:00:00.123456Z"), "MicroTime (%s)", b);
  sl_kube_time_format(1748779200.9, 0, b, sizeof b);
  T_OK(!strcmp(b, "2025-06-01T12:00:00Z"), "Time (%s)", b);
}

int main(void) {
  script_t s = {0};
  fake_api_t *f = fa_start(handler, &s);
  T_OK(f != NULL, "fake API server");
  test_errors(f);
  test_retry_after_manual(f);
  test_backoff(f, &s);
  test_rate_limit(f);
  test_token_refresh(f, &s);
  test_cancel(f);
  test_helpers();
  fa_stop(f);
  return tap_done();
}
