// Cluster mode's latencies against `sluice emulate`'s API server, in process on one loop (the
// server's work counts too, so these are upper bounds for a real cluster's client side): from a
// change of a Deployment's replicas (what `kubectl scale` does) to sluice's informer holding it,
// after which the next tick's view sees it; and from a decision to the /scale PATCH being
// acknowledged. Median and p99 over repeated changes. Printed, never judged.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "core/emu/emu.h"
#include "core/kube/actuator.h"
#include "core/kube/informer.h"
#include "core/kube/workload.h"
#include "core/util/log.h"

#define N 100

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int want_replicas = -1;
static double seen_at;

static void on_event(void *ud, sl_informer_op_t op, const char *key, const void *old,
                     const void *rec) {
  const sl_kube_workload_t *w = rec;
  if (w && w->replicas == want_replicas && !seen_at) seen_at = now_s();
}

static void run_until(uv_loop_t *loop, int (*done)(void *), void *ud, double timeout) {
  double t0 = now_s();
  while (!done(ud) && now_s() - t0 < timeout) uv_run(loop, UV_RUN_ONCE);
}

static int seen(void *ud) {
  return seen_at > 0;
}

static int synced(void *ud) {
  return sl_informer_synced(ud);
}

static int settled(void *ud) {
  return sl_kube_actuator_pending(ud) == 0;
}

static sl_json_t *deployment(void) {
  const char *src =
      "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"llama\","
      "\"namespace\":\"default\"},\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":"
      "{\"app\":\"llama\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"llama\"}},"
      "\"spec\":{\"containers\":[{\"name\":\"vllm\",\"image\":\"vllm\"}]}}}}";
  sl_err_t err;
  return sl_json_parse(src, strlen(src), NULL, &err);
}

int main(void) {
  sl_log_set_level(SL_LOG_ERROR);
  uv_loop_t *loop = uv_default_loop();
  sl_err_t err = {0};
  sl_emu_opts_t eo = {.port = 0, .seed = 1};
  sl_emu_t *emu;
  if (sl_emu_new(loop, &eo, NULL, &emu, &err) < 0) {
    fprintf(stderr, "emulator: %s\n", err.msg);
    return 1;
  }
  if (sl_emu_create(emu, "deployments.apps", deployment(), NULL, &err) < 0) {
    fprintf(stderr, "create: %s\n", err.msg);
    return 1;
  }
  sl_httpc_t *http = sl_httpc_new(loop, &err);
  sl_sched_t *sched = sl_sched_new_uv(loop);
  sl_kube_config_t kc = {0};
  char kcpath[] = "/tmp/sluice-bench-kc-XXXXXX";
  int fd = mkstemp(kcpath);
  if (fd >= 0) close(fd);
  if (sl_emu_write_kubeconfig(emu, kcpath, &err) < 0 ||
      sl_kube_config_load_file(&kc, kcpath, NULL, &err) < 0) {
    fprintf(stderr, "kubeconfig: %s\n", err.msg);
    return 1;
  }
  unlink(kcpath);
  sl_kube_client_opts_t ko = {.qps = -1};
  sl_kube_client_t *client = sl_kube_client_new(http, sched, &kc, &ko, &err);
  sl_kube_workload_proj_t wp = {NULL};
  sl_informer_opts_t io = {.group = "apps",
                           .version = "v1",
                           .resource = "deployments",
                           .namespace = "default",
                           .h = {sl_kube_workload_project, sl_kube_workload_free,
                                 sl_kube_workload_equal, on_event, NULL, &wp}};
  sl_informer_t *inf = sl_informer_new(client, sched, &io, &err);
  if (!client || !inf || sl_informer_start(inf, &err) < 0) {
    fprintf(stderr, "informer: %s\n", err.msg);
    return 1;
  }
  run_until(loop, synced, inf, 10);

  // 1. A change of replicas written into the API (kubectl scale) -> the informer has it.
  double seen_ms[N];
  int got = 0;
  for (int i = 0; i < N; i++) {
    const sl_json_t *cur = sl_emu_get(emu, "deployments.apps", "default", "llama");
    sl_json_t *upd = sl_json_clone(cur);
    want_replicas = 2 + i % 7;
    sl_json_set(sl_json_get(upd, "spec"), "replicas", sl_json_number(want_replicas));
    seen_at = 0;
    double t0 = now_s();
    if (sl_emu_update(emu, "deployments.apps", upd, NULL, &err) < 0) break;
    run_until(loop, seen, NULL, 5);
    if (seen_at > 0) seen_ms[got++] = (seen_at - t0) * 1e3;
  }
  qsort(seen_ms, (size_t)got, sizeof(double), cmp);
  if (got)
    printf("kubectl scale -> sluice's informer: median %.2f ms, p99 %.2f ms over %d changes "
           "(the view sees it at the next tick)\n",
           seen_ms[got / 2], seen_ms[got * 99 / 100], got);

  // 2. A decision -> the /scale PATCH acknowledged (GET, conditional PATCH).
  sl_kube_actuator_t *act = sl_kube_actuator_new(client, &err);
  sl_variant_t v = {.id = "default/llama", .ns = "default", .name = "llama", .kind = "Deployment"};
  double ack_ms[N];
  int acks = 0;
  for (int i = 0; i < N; i++) {
    sl_actuator_t *a = sl_kube_actuator_get(act);
    double t0 = now_s();
    if (a->scale(a, &v, 0, 10 + i % 5, "bench", 0, &err) < 0) break;
    run_until(loop, settled, act, 5);
    if (sl_kube_actuator_pending(act) == 0) ack_ms[acks++] = (now_s() - t0) * 1e3;
  }
  qsort(ack_ms, (size_t)acks, sizeof(double), cmp);
  if (acks)
    printf("decision -> /scale PATCH acknowledged: median %.2f ms, p99 %.2f ms over %d "
           "decisions\n",
           ack_ms[acks / 2], ack_ms[acks * 99 / 100], acks);
  sl_kube_actuator_free(act);
  sl_informer_free(inf);
  sl_kube_client_free(client);
  sl_sched_free(sched);
  sl_httpc_free(http);
  sl_emu_free(emu);
  for (int i = 0; i < 50; i++) uv_run(loop, UV_RUN_NOWAIT);
  sl_kube_config_deinit(&kc);
  return 0;
}
