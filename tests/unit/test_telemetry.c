// Telemetry's /metrics page: valid exposition text (our own parser reads it whole), WVA's
// gauges with WVA's labels for every variant, its replicas by state and signal age as the last
// view had them, decisions and holds counted, a failing policy's failures counted by kind, a
// shadow policy's wish exported but never actuated, and the publishing actuators counting what
// they were handed.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/runtime/telemetry.h"
#include "core/scrape/expo.h"
#include "tests/unit/tap.h"

typedef struct {
  char want[160];
  double value;
  int found;
  long samples;
} look_t;

static int on_family(void *ud, const sl_expo_family_t *f) {
  return 1;
}

static int on_sample(void *ud, const sl_expo_sample_t *s) {
  look_t *l = ud;
  l->samples++;
  char key[512];
  int n = snprintf(key, sizeof key, "%.*s", (int)s->name.len, s->name.ptr);
  for (size_t i = 0; i < s->nlabels && n < (int)sizeof key; i++)
    n += snprintf(key + n, sizeof key - n, "|%.*s=%.*s", (int)s->labels[i].name.len,
                  s->labels[i].name.ptr, (int)s->labels[i].value.len, s->labels[i].value.ptr);
  if (!strcmp(key, l->want)) l->value = s->value, l->found = 1;
  return 0;
}

static double lookup(const char *page, const char *want, int *ok) {
  look_t l = {{0}, NAN, 0, 0};
  snprintf(l.want, sizeof l.want, "%s", want);
  sl_expo_handler_t h = {on_family, on_sample};
  sl_err_t err;
  *ok = sl_expo_parse(page, strlen(page), SL_EXPO_TEXT_004, &h, &l, &err) == 0 && l.found;
  return l.value;
}

static const char *cfg_text = "interval: 1s\n"
                              "guard: {stale_after: 0}\n"
                              "accelerators: {H100: {count: 8, cost: 4}}\n"
                              "variants:\n"
                              "  - {id: llm/a, model: m, accelerator: H100, min: 1, max: 8}\n"
                              "  - {id: llm/b, model: m, accelerator: H100, min: 1, max: 8}\n"
                              "policies:\n"
                              "  - {file: up.lua, variants: [llm/a]}\n"
                              "  - {file: bad.lua, variants: [llm/b]}\n"
                              "  - {file: shadow.lua, variants: [llm/a], shadow: true}\n";

int main(void) {
  char dir[] = "/tmp/sluice-tel-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char path[600];
  snprintf(path, sizeof path, "%s/up.lua", dir);
  FILE *f = fopen(path, "w");
  fputs("return {name='up', decide=function(v) return {['llm/a']={replicas=3, reason='three'}} "
        "end}\n",
        f);
  fclose(f);
  snprintf(path, sizeof path, "%s/shadow.lua", dir);
  f = fopen(path, "w");
  fputs("return {name='shadow', decide=function(v) return {['llm/a']={replicas=7, reason='more'}} "
        "end}\n",
        f);
  fclose(f);
  snprintf(path, sizeof path, "%s/bad.lua", dir);
  f = fopen(path, "w");
  fputs("return {name='bad', decide=function(v) while true do end end}\n", f);
  fclose(f);
  char cfgbuf[2048];
  snprintf(cfgbuf, sizeof cfgbuf, "policy_dir: %s\n%s", dir, cfg_text);
  sl_config_t cfg;
  sl_err_t err = {0};
  if (sl_config_load_buffer(&cfg, cfgbuf, strlen(cfgbuf), "t.yaml", &err) < 0) {
    printf("# %s\n", err.msg);
    return 1;
  }
  sl_clock_t clock;
  sl_clock_init_sim(&clock, 100);
  sl_controller_t c;
  sl_controller_opts_t co = {&cfg, &clock, 64, NULL, 0};
  sl_telemetry_t *t = sl_telemetry_new(&err);
  int rc = sl_controller_init(&c, &co, &err);
  if (rc == 0) rc = sl_controller_load_policies(&c, &err);
  if (rc == 0) rc = sl_telemetry_attach(t, &c, &err);
  T_EQ_INT(rc, 0, "controller with telemetry attached");
  sl_controller_set_actuator(&c, -1, sl_telemetry_metric_actuator(t));
  sl_store_set_replicas(c.store, "llm/a", 1, 1, 0, 0);
  sl_store_set_replicas(c.store, "llm/b", 2, 2, 0, 0);
  sl_controller_tick(&c, &err);
  sl_store_set_replicas(c.store, "llm/a", 3, 3, 0, 0);
  sl_store_set_replicas(c.store, "llm/b", 2, 1, 1, 0);
  sl_store_put_variant_signal(c.store, "llm/a", SL_V_RUNNING, 100.5, 4);
  sl_clock_advance(&clock, 1);
  sl_controller_tick(&c, &err);
  size_t n;
  char *page = sl_telemetry_render(t, &n);
  int ok;
  double v =
      lookup(page, "wva_desired_replicas|variant_name=a|namespace=llm|accelerator_type=H100", &ok);
  T_OK(ok && v == 3, "wva_desired_replicas for llm/a is 3, with WVA's labels (got %g)", v);
  v = lookup(page, "wva_current_replicas|variant_name=b|namespace=llm|accelerator_type=H100", &ok);
  T_OK(ok && v == 2, "the failing policy's variant is published too, at its current count");
  v = lookup(page, "sluice_decisions_total|variant=llm/a|direction=up", &ok);
  T_OK(ok && v == 1, "one scale-up applied (got %g)", v);
  v = lookup(page,
             "sluice_shadow_desired_replicas|variant=llm/a|variant_name=a|namespace=llm|"
             "policy=shadow",
             &ok);
  T_OK(ok && v == 7, "the shadow policy's 7 is exported (got %g)", v);
  v = lookup(page, "sluice_holds_total|variant=llm/a", &ok);
  T_OK(ok && v == 1, "then one hold at 3");
  char want[256];
  // A loop stops at the instruction budget, or at the time limit on a slow (sanitizer) build.
  snprintf(want, sizeof want, "sluice_policy_failures_total|file=bad.lua|kind=budget");
  v = lookup(page, want, &ok);
  int ok2;
  double v2 = lookup(page, "sluice_policy_failures_total|file=bad.lua|kind=time", &ok2);
  T_OK(ok && ok2 && v + v2 == 2,
       "the looping policy's two ticks counted as failures by kind "
       "(budget %g, time %g)",
       v, v2);
  v = lookup(page, "sluice_replicas|variant=llm/b|state=ready", &ok);
  T_OK(ok && v == 1, "llm/b's ready replicas as the last view had them (got %g)", v);
  v = lookup(page, "sluice_replicas|variant=llm/b|state=starting", &ok);
  T_OK(ok && v == 1, "and its starting one (got %g)", v);
  v = lookup(page, "sluice_replicas|variant=llm/a|state=spec", &ok);
  T_OK(ok && v == 3, "llm/a's spec replicas (got %g)", v);
  v = lookup(page, "sluice_signal_age_seconds|variant=llm/a", &ok);
  T_OK(ok && fabs(v - 0.5) < 1e-9, "llm/a's freshest sample is 0.5 s old (got %g)", v);
  v = lookup(page, "sluice_signal_age_seconds|variant=llm/b", &ok);
  T_OK(ok && isinf(v) && v > 0, "llm/b has no sample: +Inf, which the exposition parser reads");
  v = lookup(page, "sluice_variant_stale|variant=llm/a", &ok);
  T_OK(ok && v == 0, "staleness off (stale_after 0): not stale");
  v = lookup(page, "sluice_tick_duration_seconds_count", &ok);
  T_OK(ok && v == 2, "two ticks in the histogram");
  v = lookup(page, "sluice_publish_only_changes_total|actuator=metric", &ok);
  T_OK(ok && v == 1, "the metric actuator was handed the one change");
  T_OK(strstr(page, "# TYPE wva_desired_ratio gauge") != NULL, "families have TYPE lines");
  free(page);
  sl_controller_deinit(&c);
  sl_telemetry_free(t);
  sl_config_deinit(&cfg);
  snprintf(path, sizeof path, "rm -rf %s", dir);
  if (system(path) != 0) return 1;
  return tap_done();
}
