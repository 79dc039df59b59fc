// The Kubernetes client's figures: watch-event decode throughput on realistic ~4 KB pods
// (the JSON stream alone, and through an informer with the pod projection), the informer's
// memory for 5,000 pods (the target is < 16 MB), and a /scale PATCH round trip against a local
// fake API server. Printed, never judged.
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/kube/informer.h"
#include "core/kube/pod.h"
#include "core/kube/scale.h"
#include "tests/unit/fake_api.h"
#include "tests/unit/kube_pods.h"

#define PODS   5000
#define EVENTS 20000

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long events_seen;

static void on_event(void *ud, sl_informer_op_t op, const char *key, const void *old,
                     const void *new) {
  events_seen++;
}

static int count_value(void *ud, sl_json_t *v) {
  (*(long *)ud)++;
  sl_json_free(v);
  return 0;
}

static char *make_stream(size_t *len, long *n) {
  size_t cap = (size_t)EVENTS * 6000, w = 0;
  char *b = malloc(cap);
  char name[32], rv[32];
  for (int i = 0; i < EVENTS; i++) {
    snprintf(name, sizeof name, "vllm-decode-7d9f8c6b5-%05d", i % PODS);
    snprintf(rv, sizeof rv, "%d", 100000 + i);
    w += (size_t)kp_event(b + w, cap - w, "MODIFIED", "llm", name, rv, i % 3 != 0);
  }
  *len = w;
  *n = EVENTS;
  return b;
}

static void feed_chunks(sl_informer_t *inf, sl_json_stream_t *js, const char *b, size_t len) {
  sl_err_t err;
  for (size_t off = 0; off < len; off += 16384) {
    size_t n = len - off < 16384 ? len - off : 16384;
    if (inf)
      sl_informer_feed_watch(inf, b + off, n, &err);
    else
      sl_json_stream_feed(js, b + off, n, &err);
  }
}

static sl_informer_t *pod_informer(void) {
  sl_informer_opts_t o = {0};
  o.resource = "pods";
  o.h = (sl_informer_handlers_t){
      sl_kube_pod_project, sl_kube_pod_free, sl_kube_pod_equal, on_event, NULL, NULL};
  return sl_informer_new(NULL, NULL, &o, NULL);
}

static void bench_decode(void) {
  size_t len;
  long n;
  char *b = make_stream(&len, &n);
  printf("watch stream: %ld MODIFIED events, %.1f MB, %.0f bytes/event\n", n, len / 1e6,
         (double)len / n);
  long values = 0;
  sl_json_stream_t *js = sl_json_stream_new(NULL, count_value, &values);
  double t0 = now();
  feed_chunks(NULL, js, b, len);
  double dt = now() - t0;
  sl_json_stream_free(js);
  printf("decode (sl_json_stream only)        %8.0f events/s  %6.1f MB/s\n", values / dt,
         len / dt / 1e6);

  sl_informer_t *inf = pod_informer();
  // First pass adds every pod; the measured pass updates them.
  feed_chunks(inf, NULL, b, len);
  events_seen = 0;
  t0 = now();
  feed_chunks(inf, NULL, b, len);
  dt = now() - t0;
  printf("decode + project + cache (informer) %8.0f events/s  %6.1f MB/s  (%ld callbacks)\n",
         n / dt, len / dt / 1e6, events_seen);
  sl_informer_free(inf);
  free(b);
}

static void bench_memory(void) {
  struct mallinfo2 m0 = mallinfo2();
  sl_informer_t *inf = pod_informer();
  char ev[16384], name[32], rv[32];
  size_t json_bytes = 0;
  sl_err_t err;
  for (int i = 0; i < PODS; i++) {
    snprintf(name, sizeof name, "vllm-decode-7d9f8c6b5-%05d", i);
    snprintf(rv, sizeof rv, "%d", 1000 + i);
    int n = kp_event(ev, sizeof ev, "ADDED", "llm", name, rv, 1);
    json_bytes += (size_t)n;
    sl_informer_feed_watch(inf, ev, (size_t)n, &err);
  }
  struct mallinfo2 m1 = mallinfo2();
  printf("informer memory, %d pods: %.2f MB accounted, %.2f MB heap growth (JSON was %.1f MB; "
         "target < 16 MB)\n",
         PODS, sl_informer_mem(inf) / 1048576.0, (double)(m1.uordblks - m0.uordblks) / 1048576.0,
         json_bytes / 1048576.0);
  const sl_kube_pod_t *p = sl_informer_get(inf, "llm/vllm-decode-7d9f8c6b5-00000");
  if (p) printf("pod record: %zu bytes\n", p->size);
  sl_informer_free(inf);
}

typedef struct {
  int replicas, rv;
} srv_t;

static void handler(fake_api_t *f, const fa_req_t *rq, fa_resp_t *resp, void *ud) {
  srv_t *s = ud;
  if (!strcmp(rq->method, "PATCH")) {
    const char *r = strstr(rq->body, "\"replicas\":");
    if (r) s->replicas = atoi(r + 11);
    s->rv++;
  }
  char b[512];
  snprintf(b, sizeof b,
           "{\"kind\":\"Scale\",\"metadata\":{\"name\":\"vllm\",\"resourceVersion\":\"%d\"},"
           "\"spec\":{\"replicas\":%d},\"status\":{\"replicas\":%d}}",
           s->rv, s->replicas, s->replicas);
  fa_resp_body(resp, 200, b);
}

typedef struct {
  int done;
} flag_t;

static void on_done(void *ud, sl_kube_result_t *r) {
  ((flag_t *)ud)->done = r->rc == SL_OK ? 1 : -1;
}

static int is_done(void *ud) {
  return ((flag_t *)ud)->done != 0;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void bench_patch(void) {
  srv_t s = {1, 1};
  fake_api_t *f = fa_start(handler, &s);
  if (!f) {
    printf("PATCH round trip: fake server did not start\n");
    return;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  sl_httpc_t *http = sl_httpc_new(&loop, NULL);
  sl_sched_t *sched = sl_sched_new_uv(&loop);
  sl_kube_config_t cfg = {0};
  cfg.server = strdup(f->base);
  cfg.namespace = strdup("llm");
  cfg.token = strdup("t");
  sl_kube_client_opts_t o = {.qps = -1};
  sl_kube_client_t *c = sl_kube_client_new(http, sched, &cfg, &o, NULL);
  enum { N = 300 };
  static double lat[N];
  char path[256], body[64];
  sl_kube_scale_path(path, sizeof path, SL_KUBE_DEPLOYMENT, "llm", "vllm");
  for (int i = 0; i < N + 20; i++) {
    snprintf(body, sizeof body, "{\"spec\":{\"replicas\":%d}}", 1 + i % 7);
    sl_kube_req_t q = {.method = "PATCH", .path = path, .body = body, .idempotent = 1};
    flag_t fl = {0};
    double t0 = now();
    sl_kube_client_call(c, &q, on_done, &fl, NULL);
    fa_pump(&loop, is_done, &fl, 100000);
    if (i >= 20) lat[i - 20] = (now() - t0) * 1e3; // the first ones warm the connection
  }
  qsort(lat, N, sizeof lat[0], cmp);
  double sum = 0;
  for (int i = 0; i < N; i++) sum += lat[i];
  printf("PATCH /scale round trip (loopback, keep-alive): mean %.3f ms, p50 %.3f ms, p99 %.3f ms "
         "over %d (%ld connections)\n",
         sum / N, lat[N / 2], lat[N * 99 / 100], N, sl_httpc_connects(http));
  sl_kube_client_free(c);
  sl_httpc_free(http);
  sl_sched_free(sched);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  fa_stop(f);
}

int main(void) {
  bench_decode();
  bench_memory();
  bench_patch();
  return 0;
}
