// Reload latency: from writing a policy file to the new version being ready (compiled, checked,
// dry-run: "reloaded"), and to it deciding, with the real watcher and a pipeline ticking every
// 100 ms on a libuv timer. 20 reloads; median and max.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "core/runtime/controller.h"
#include "core/util/log.h"

#define N 20

typedef struct {
  sl_controller_t *c;
  int want_version;
  double written, ready, deciding;
  uv_timer_t tick;
  uv_loop_t *loop;
} bench_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void on_event(sl_observer_t *o, const sl_decider_event_t *e) {
  bench_t *b = o->ud;
  if (e->version != b->want_version) return;
  if (e->kind == SL_DECIDER_RELOADED && b->ready == 0) b->ready = now_s();
  if (e->kind == SL_DECIDER_SWAPPED && b->deciding == 0) b->deciding = now_s();
}

static void on_tick(uv_timer_t *t) {
  bench_t *b = t->data;
  sl_err_t err;
  sl_clock_set(b->c->o.clock, now_s());
  sl_controller_tick(b->c, &err);
  if (b->deciding > 0) uv_stop(b->loop);
}

static int noop_scale(sl_actuator_t *a, const sl_variant_t *v, int from, int to, const char *r,
                      double now, sl_err_t *err) {
  return 0;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void write_policy(const char *path, int version) {
  char tmp[600];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  fprintf(f,
          "return { name = 'v%d', decide = function(view, params, state)\n"
          "  return { ['ns/a'] = { replicas = %d, reason = 'v%d' } } end }\n",
          version, 1 + version % 5, version);
  fclose(f);
  rename(tmp, path); // atomic, as editors and ConfigMap updates do
}

int main(void) {
  sl_log_set_level(SL_LOG_ERROR);
  char dir[] = "/tmp/sluice-reload-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char path[512], yaml[1024];
  snprintf(path, sizeof path, "%s/p.lua", dir);
  write_policy(path, 1);
  int n = snprintf(yaml, sizeof yaml,
                   "interval: 100ms\npolicy_dir: %s\nvariants:\n  - {id: ns/a, model: m}\n"
                   "policies:\n  - p.lua\n",
                   dir);
  sl_err_t err = {0};
  sl_config_t cfg;
  sl_clock_t clock;
  sl_clock_init_sim(&clock, now_s());
  sl_actuator_t act = {"noop", noop_scale, NULL, NULL};
  sl_controller_t c;
  sl_controller_opts_t co = {&cfg, &clock, 16, NULL, 0};
  bench_t b = {&c};
  sl_observer_t obs = {.decider_event = on_event, .ud = &b};
  if (sl_config_load_buffer(&cfg, yaml, n, "r.yaml", &err) < 0 ||
      sl_controller_init(&c, &co, &err) < 0 || sl_controller_load_policies(&c, &err) < 0 ||
      sl_controller_add_observer(&c, &obs, &err) < 0) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  sl_controller_set_actuator(&c, -1, &act);
  sl_store_t *st = c.store;
  sl_store_set_replicas(st, "ns/a", 1, 1, 0, 0);
  sl_store_put_variant_signal(st, "ns/a", SL_V_RUNNING, now_s(), 1);
  uv_loop_t loop;
  uv_loop_init(&loop);
  b.loop = &loop;
  sl_host_watch(&c.host, &loop, 5.0, &err);
  uv_timer_init(&loop, &b.tick);
  b.tick.data = &b;
  uv_timer_start(&b.tick, on_tick, 0, 100);
  double ready[N], deciding[N];
  for (int i = 0; i < N; i++) {
    b.want_version = i + 2;
    b.ready = b.deciding = 0;
    b.written = now_s();
    write_policy(path, i + 2);
    uv_run(&loop, UV_RUN_DEFAULT);
    ready[i] = (b.ready - b.written) * 1e3;
    deciding[i] = (b.deciding - b.written) * 1e3;
  }
  qsort(ready, N, sizeof(double), cmp);
  qsort(deciding, N, sizeof(double), cmp);
  printf("reload, file write -> new version checked and dry-run: median %.1f ms, max %.1f ms\n",
         ready[N / 2], ready[N - 1]);
  printf("reload, file write -> new version deciding (ticks every 100 ms): median %.1f ms, max "
         "%.1f ms\n",
         deciding[N / 2], deciding[N - 1]);
  uv_timer_stop(&b.tick);
  uv_close((uv_handle_t *)&b.tick, NULL);
  sl_host_unwatch(&c.host);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  sl_controller_deinit(&c);
  sl_config_deinit(&cfg);
  unlink(path);
  rmdir(dir);
  return 0;
}
