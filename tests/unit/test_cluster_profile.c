// A simulated cluster names the profile each variant runs, so policies can size with it:
// built-in names pass through, derived profiles are registered under model@accelerator.
#include <stdio.h>
#include <string.h>

#include "core/model/perf.h"
#include "core/model/step.h"
#include "core/sim/cluster.h"
#include "tests/unit/tap.h"

// A derived multi-GPU profile pays its all-reduces (built-in GPUs know their link bandwidth);
// a GPU sluice does not know needs link_bw for it, and the error says where.
static int load(const char *gpu, int tp, sl_cluster_t *c, sl_err_t *err) {
  char y[1024];
  snprintf(y, sizeof y,
           "slo_classes: {s: {ttft_ms: 1000, itl_ms: 50}}\n"
           "accelerators: {%s: {count: 8, cost: 1}}\n"
           "gpus: {X: {mem_bw: 2e12, flops: 300e12, memory: 80GiB}}\n"
           "models:\n  - {name: m, shape: llama-3.1-70b, trace: \"poisson:rate=1,duration=60\"}\n"
           "variants:\n  - {id: ns/v, model: m, accelerator: %s, gpus_per_replica: %d,\n"
           "     slo_class: s, min: 1, max: 2, engine: {kv_capacity_tokens: 100000}}\n",
           gpu, gpu, tp);
  return sl_cluster_load_buffer(c, y, strlen(y), "tp.yaml", err);
}

static void tensor_parallel(void) {
  sl_cluster_t c;
  sl_err_t err = {0};
  int ok = load("A100", 1, &c, &err) == 0;
  T_OK(ok, "70B on one A100 loads: %s", err.msg);
  if (!ok) return;
  double one = c.vx[0].engine.step.overhead_ms;
  sl_cluster_deinit(&c);
  ok = load("A100", 4, &c, &err) == 0;
  T_OK(ok, "70B on 4 A100s loads: %s", err.msg);
  if (!ok) return;
  // 80 layers x 2 all-reduces x log2(4) rounds of the default latency
  T_NEAR(c.vx[0].engine.step.overhead_ms - one, 160 * 2 * SL_STEP_AR_HOP_US * 1e-3, 1e-9,
         "TP 4 adds the all-reduce latency to the per-step overhead");
  sl_cluster_deinit(&c);
  T_OK(load("X", 2, &c, &err) < 0 && strstr(err.msg, "gpus.X.link_bw: needed for tp 2"),
       "an unknown GPU under tensor parallelism needs link_bw: %s", err.msg);
  T_OK(strstr(err.msg, "tp.yaml:") != NULL, "the error names the file: %s", err.msg);
}

int main(void) {
  sl_cluster_t c;
  sl_err_t err = {0};
  int rc = sl_cluster_load_buffer(&c, sl_cluster_builtin_yaml, strlen(sl_cluster_builtin_yaml),
                                  "built-in", &err);
  T_EQ_INT(rc, 0, "built-in scenario loads");
  if (rc < 0) return tap_done();
  for (int i = 0; i < c.cfg.nvariants; i++) {
    const sl_variant_t *v = &c.cfg.variants[i];
    T_OK(v->profile != NULL, "%s has a profile name", v->id);
    const sl_perf_t *p = v->profile ? sl_perf_builtin(v->profile) : NULL;
    T_OK(p && p->kind == SL_PERF_STEP, "%s: '%s' resolves to a step profile", v->id,
         v->profile ? v->profile : "(none)");
    if (p && strcmp(v->accelerator, "H100") && strchr(v->profile, '@')) {
      sl_step_t st;
      sl_perf_to_step(p, &st);
      T_NEAR(st.a_ms, c.vx[i].engine.step.a_ms, 1e-12, "registered profile is the one simulated");
    }
  }
  sl_cluster_deinit(&c);
  tensor_parallel();
  sl_perf_t bad = *sl_perf_builtin("llama-3.1-8b/h100");
  T_OK(sl_perf_register("llama-3.1-8b/h100", &bad, &err) < 0, "built-in names cannot be replaced");
  return tap_done();
}
