// A simulated cluster names the profile each variant runs, so policies can size with it:
// built-in names pass through, derived profiles are registered under model@accelerator.
#include <string.h>

#include "core/model/perf.h"
#include "core/sim/cluster.h"
#include "tests/unit/tap.h"

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
  sl_perf_t bad = *sl_perf_builtin("llama-3.1-8b/h100");
  T_OK(sl_perf_register("llama-3.1-8b/h100", &bad, &err) < 0, "built-in names cannot be replaced");
  return tap_done();
}
