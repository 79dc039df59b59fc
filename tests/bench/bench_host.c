// Host overhead per tick: 1,000 variants across 10 policies whose decide does real per-variant
// work (reads several signals, keeps a window in state, returns a decision with a reason).
// Prints median and p99 of the whole pipeline tick (view build, 10 policy calls, vote, guard),
// of the view build alone, and of the same tick with policies that return a decision table
// built once (what the host itself costs: view, calls, reading results, vote, guard).
// Target: p99 < 5 ms.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/lua/vm.h"
#include "core/runtime/controller.h"
#include "core/util/log.h"
#include "core/util/rng.h"

#define NVAR      1000
#define NPOL      10
#define TICKS_MAX 300

static const char policy_src[] = "return {\n"
                                 "  name = 'bench',\n"
                                 "  params = { target = 8, window = 10 },\n"
                                 "  decide = function(view, params, state)\n"
                                 "    local out = {}\n"
                                 "    for id, v in view:variants() do\n"
                                 "      local s = v.signals\n"
                                 "      local load = (s.running or 0) + (s.waiting or 0)\n"
                                 "      local kv = s.kv_usage or 0\n"
                                 "      local w = state[id]\n"
                                 "      if not w then w = { n = 0, i = 0 }; state[id] = w end\n"
                                 "      w.i = w.i % params.window + 1\n"
                                 "      w[w.i] = load\n"
                                 "      if w.n < params.window then w.n = w.n + 1 end\n"
                                 "      local sum = 0\n"
                                 "      for k = 1, w.n do sum = sum + w[k] end\n"
                                 "      local mean = sum / w.n\n"
                                 "      local want = math.max(1, math.ceil(mean / params.target))\n"
                                 "      if kv > 0.9 then want = want + 1 end\n"
                                 "      out[id] = { replicas = want, reason = string.format('mean "
                                 "load %.1f over %d ticks, kv %.2f', mean, w.n, kv) }\n"
                                 "    end\n"
                                 "    return out\n"
                                 "  end,\n"
                                 "}\n";

static const char idle_src[] = "return {\n"
                               "  name = 'idle',\n"
                               "  decide = function(view, params, state)\n"
                               "    if not state.out then\n"
                               "      state.out = {}\n"
                               "      for id, v in view:variants() do state.out[id] = { replicas = "
                               "2, reason = 'steady' } end\n"
                               "    end\n"
                               "    return state.out\n"
                               "  end,\n"
                               "}\n";

// Wall time by default; process CPU time (the watchdog thread included) for the bound's cost,
// which is a few percent at most and would drown in a loaded machine's wall-clock noise.
static clockid_t g_clock = CLOCK_MONOTONIC;
static double now_s(void) {
  struct timespec ts;
  clock_gettime(g_clock, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int noop_scale(sl_actuator_t *a, const sl_variant_t *v, int from, int to, const char *r,
                      double now, sl_err_t *err) {
  return 0;
}

static int run(const char *src, const char *label, int report_view, double *median_ms) {
  char dir[] = "/tmp/sluice-bench-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char path[512];
  snprintf(path, sizeof path, "%s/bench.lua", dir);
  FILE *f = fopen(path, "w");
  fputs(src, f);
  fclose(f);
  size_t cap = 256 * 1024;
  char *yaml = malloc(cap);
  size_t n = (size_t)snprintf(yaml, cap, "interval: 1s\npolicy_dir: %s\nvariants:\n", dir);
  for (int i = 0; i < NVAR; i++)
    n += (size_t)snprintf(yaml + n, cap - n, "  - {id: ns/v%04d, model: m%d, min: 1, max: 50}\n", i,
                          i % NPOL);
  n += (size_t)snprintf(yaml + n, cap - n, "policies:\n");
  for (int k = 0; k < NPOL; k++)
    n += (size_t)snprintf(yaml + n, cap - n, "  - {file: bench.lua, model: m%d}\n", k);

  sl_err_t err = {0};
  sl_config_t cfg;
  if (sl_config_load_buffer(&cfg, yaml, n, "bench.yaml", &err) < 0) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  sl_clock_t clock;
  sl_clock_init_sim(&clock, 0);
  sl_actuator_t act = {"noop", noop_scale, NULL, NULL};
  sl_controller_t c;
  sl_controller_opts_t co = {&cfg, &clock, 64, NULL, 0};
  if (sl_controller_init(&c, &co, &err) < 0 || sl_controller_load_policies(&c, &err) < 0) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  sl_controller_set_actuator(&c, -1, &act);
  sl_store_t *st = c.store;
  sl_rng_t rng;
  sl_rng_seed(&rng, 1);
  char pod[64];
  for (int i = 0; i < NVAR; i++) {
    sl_store_set_replicas(st, cfg.variants[i].id, 2, 2, 0, 0);
    for (int k = 0; k < 2; k++) {
      snprintf(pod, sizeof pod, "v%04d-%d", i, k);
      sl_store_set_pod(st, cfg.variants[i].id, pod, SL_POD_READY);
    }
  }
  double tick_ms[TICKS_MAX], view_ms[TICKS_MAX];
  int TICKS = getenv("BENCH_TICKS") ? atoi(getenv("BENCH_TICKS")) : TICKS_MAX;
  if (TICKS < 1 || TICKS > TICKS_MAX) TICKS = TICKS_MAX;
  sl_view_t scratch;
  sl_view_init(&scratch);
  for (int t = 0; t < TICKS; t++) {
    sl_clock_set(&clock, t);
    for (int i = 0; i < NVAR; i++)
      for (int k = 0; k < 2; k++) {
        snprintf(pod, sizeof pod, "v%04d-%d", i, k);
        sl_store_put_pod(st, pod, SL_M_RUNNING, t, floor(sl_rng_uniform(&rng) * 30), &err);
        sl_store_put_pod(st, pod, SL_M_WAITING, t, floor(sl_rng_uniform(&rng) * 4), &err);
        sl_store_put_pod(st, pod, SL_M_KV_USAGE, t, sl_rng_uniform(&rng), &err);
      }
    double t0 = now_s();
    sl_controller_tick(&c, &err);
    tick_ms[t] = (now_s() - t0) * 1e3;
    sl_view_params_t vp = {t, cfg.window, 0, cfg.variants, cfg.nvariants, NULL, NULL, 0};
    t0 = now_s();
    sl_view_build(&scratch, st, &vp, NULL, &err);
    view_ms[t] = (now_s() - t0) * 1e3;
  }
  qsort(tick_ms, TICKS, sizeof(double), cmp);
  qsort(view_ms, TICKS, sizeof(double), cmp);
  printf("%s, %d variants across %d policies: median %.2f ms, p99 %.2f ms per tick\n", label, NVAR,
         NPOL, tick_ms[TICKS / 2], tick_ms[TICKS * 99 / 100]);
  if (report_view)
    printf("  view build alone: median %.2f ms, p99 %.2f ms\n", view_ms[TICKS / 2],
           view_ms[TICKS * 99 / 100]);
  if (median_ms) *median_ms = tick_ms[TICKS / 2];
  sl_slot_info_t si;
  sl_host_slot_info(&c.host, 0, &si);
  if (si.failures) printf("  (policy failures: %llu)\n", (unsigned long long)si.failures);
  sl_view_deinit(&scratch);
  sl_controller_deinit(&c);
  sl_config_deinit(&cfg);
  free(yaml);
  unlink(path);
  rmdir(dir);
  return 0;
}

int main(void) {
  sl_log_set_level(SL_LOG_ERROR);
  const char *only = getenv("BENCH_POLICY"); // "work" or "idle": one run (for profiling)
  printf("target: host overhead p99 < 5 ms\n");
  double on = 0, off = 0;
  if ((!only || !strcmp(only, "work")) &&
      run(policy_src, "whole tick, policies doing real per-variant work", 1, &on))
    return 1;
  if ((!only || !strcmp(only, "idle")) &&
      run(idle_src, "host overhead (policies return a prepared table)", 0, NULL))
    return 1;
  if (!only || !strcmp(only, "bound")) {
    // The same work with the wall-clock bound switched off: what the deadline costs (the clock
    // read in every hook, the watchdog's lock per call). Alternated to cancel drift.
    double a[3], b[3];
    g_clock = CLOCK_PROCESS_CPUTIME_ID;
    for (int r = 0; r < 3; r++) {
      sl_vm_bench_deadlines(0);
      if (run(policy_src, "  bound off", 0, &b[r])) return 1;
      sl_vm_bench_deadlines(1);
      if (run(policy_src, "  bound on ", 0, &a[r])) return 1;
    }
    qsort(a, 3, sizeof(double), cmp);
    qsort(b, 3, sizeof(double), cmp);
    on = a[1], off = b[1];
    printf("time bound cost on the 1,000-variant tick: %+.1f%% (CPU time, median of medians "
           "%.2f ms on, %.2f ms off; target < 5%%)\n",
           100 * (on - off) / off, on, off);
  }
  return 0;
}
