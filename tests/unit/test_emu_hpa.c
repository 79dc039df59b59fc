// The emulator's HPA arithmetic against kube-controller-manager's: the External metric formulas
// (AverageValue and Value, tolerance, from zero), the default behavior's burst (3 -> 7 -> 14 ->
// 20), scale-down stabilisation, selectPolicy Min and Disabled, the legacy path's cap of
// max(2 x current, 4), and spec parsing with its field-naming errors.
#include <stdint.h>
#include <string.h>

#include "core/emu/hpacalc.h"
#include "core/util/json.h"
#include "tests/unit/tap.h"

static const sl_hpa_flags_t flags = {0.1, 300};

static sl_hpa_spec_t spec_of(const char *json) {
  sl_hpa_spec_t sp;
  char msg[200] = "";
  sl_json_t *j = sl_json_parse(json, strlen(json), NULL, NULL);
  int rc = sl_hpa_spec_parse(j, &flags, &sp, msg, sizeof msg);
  T_OK(rc == 0, "spec parses: %s (%s)", json, msg);
  sl_json_free(j);
  return sp;
}

static void parse_error(const char *json, const char *want) {
  sl_hpa_spec_t sp;
  char msg[200] = "";
  sl_json_t *j = sl_json_parse(json, strlen(json), NULL, NULL);
  int rc = sl_hpa_spec_parse(j, &flags, &sp, msg, sizeof msg);
  T_OK(rc < 0, "rejected: %s", json);
  T_STR_HAS(msg, want, "the error names the field");
  sl_json_free(j);
}

static void external(void) {
  sl_hpa_spec_t sp = spec_of("{\"maxReplicas\": 10}");
  // AverageValue 1 (WVA's desired-replicas gauge): the count is the sum, whatever the pods.
  T_EQ_INT(sl_hpa_external_replicas(1, 7000, 1000, 3, 3, 3, &sp), 7, "AverageValue: ceil(7/1)");
  T_EQ_INT(sl_hpa_external_replicas(1, 2500, 1000, 3, 3, 1, &sp), 3, "AverageValue: ceil(2.5)");
  // Within the 10% band of the status replicas: no change (ratio 10.5 / 10 = 1.05).
  T_EQ_INT(sl_hpa_external_replicas(1, 10500, 1000, 10, 10, 10, &sp), 10, "within tolerance");
  T_EQ_INT(sl_hpa_external_replicas(1, 11500, 1000, 10, 10, 10, &sp), 12, "outside tolerance");
  // From zero status replicas: the ratio is infinite, the count is ceil(usage / target).
  T_EQ_INT(sl_hpa_external_replicas(1, 95000, 10000, 0, 0, 0, &sp), 10, "queue 95 / 10 from 0");
  T_EQ_INT(sl_hpa_external_replicas(1, 0, 1000, 0, 0, 0, &sp), 0, "nothing from nothing");
  // Value: a ratio times the ready pods (so a desired-replicas gauge must not use it).
  T_EQ_INT(sl_hpa_external_replicas(0, 7000, 1000, 3, 3, 2, &sp), 14, "Value: 7 x 2 ready");
  T_EQ_INT(sl_hpa_external_replicas(0, 1050, 1000, 3, 3, 3, &sp), 3, "Value: within tolerance");
  T_EQ_INT(sl_hpa_external_replicas(0, 2500, 1000, 0, 0, 0, &sp), 3, "Value: ceil(ratio) from 0");
  // A tolerance of the behavior's own replaces the cluster's.
  sl_hpa_spec_t tight =
      spec_of("{\"maxReplicas\": 30, \"behavior\": {\"scaleUp\": {\"tolerance\": \"50m\"}}}");
  T_NEAR(tight.up.tolerance, 0.05, 1e-12, "50m is 0.05");
  T_EQ_INT(sl_hpa_external_replicas(1, 10800, 1000, 10, 10, 10, &sp), 10, "1.08 within 10%");
  T_EQ_INT(sl_hpa_external_replicas(1, 10800, 1000, 10, 10, 10, &tight), 11, "1.08 outside 5%");
}

static void burst(void) {
  // The reference's worked example: default behavior, 3 -> 20 goes 7, 14, 20 at 15 s apart.
  sl_hpa_spec_t sp = spec_of("{\"maxReplicas\": 50, \"behavior\": {}}");
  T_OK(sp.has_behavior, "an empty behavior is a behavior (defaults filled)");
  sl_hpa_state_t st = {0};
  sl_hpa_why_t why;
  long cur = 3;
  const long want[] = {7, 14, 20};
  for (int i = 0; i < 3; i++) {
    double now = 1000 + 15 * i;
    long d = sl_hpa_normalize(&st, &sp, now, cur, 20, &why);
    T_EQ_INT(d, want[i], "burst step");
    sl_hpa_record_scale(&st, &sp, now, cur, d);
    cur = d;
  }
  T_OK(!strcmp(why.limited_reason, "DesiredWithinRange"), "the last step is not limited (%s)",
       why.limited_reason);
  // A second step inside the period is held by the first one's events.
  sl_hpa_state_t st2 = {0};
  long d = sl_hpa_normalize(&st2, &sp, 0, 3, 20, &why);
  sl_hpa_record_scale(&st2, &sp, 0, 3, d);
  T_EQ_INT(sl_hpa_normalize(&st2, &sp, 5, d, 20, &why), 7, "no more inside the 15 s period");
  T_OK(why.limited && !strcmp(why.limited_reason, "ScaleUpLimit"), "limited by the scale rate");
  sl_hpa_state_free(&st);
  sl_hpa_state_free(&st2);
}

static void stabilisation(void) {
  sl_hpa_spec_t sp = spec_of("{\"maxReplicas\": 50, \"behavior\": {}}");
  sl_hpa_state_t st = {0};
  sl_hpa_why_t why;
  // Recommendations 10, 8, 6 inside the 300 s window; now 4 at 10 current: held at 10.
  sl_hpa_seed(&st, 0, 10);
  T_EQ_INT(sl_hpa_normalize(&st, &sp, 100, 10, 8, &why), 10, "held by the seed");
  T_EQ_INT(sl_hpa_normalize(&st, &sp, 200, 10, 6, &why), 10, "held");
  T_EQ_INT(sl_hpa_normalize(&st, &sp, 250, 10, 4, &why), 10, "held at the window's highest");
  T_OK(!strcmp(why.able_reason, "ScaleDownStabilized"), "AbleToScale says so (%s)",
       why.able_reason);
  // The 10 ages out at 300 s: the highest left is 8.
  T_EQ_INT(sl_hpa_normalize(&st, &sp, 301, 10, 4, &why), 8, "down to the next highest");
  // A scale-up window: up only to the lowest recommendation of the last 60 s.
  sl_hpa_spec_t up = spec_of(
      "{\"maxReplicas\": 50, \"behavior\": {\"scaleUp\": {\"stabilizationWindowSeconds\": 60}}}");
  sl_hpa_state_t su = {0};
  T_EQ_INT(sl_hpa_normalize(&su, &up, 0, 2, 9, &why), 2, "the seed (2) holds the scale-up");
  T_OK(!strcmp(why.able_reason, "ScaleUpStabilized"), "ScaleUpStabilized (%s)", why.able_reason);
  T_EQ_INT(sl_hpa_normalize(&su, &up, 61, 2, 9, &why), 6, "after 60 s: up, at the rate limit");
  sl_hpa_state_free(&st);
  sl_hpa_state_free(&su);
}

static void policies(void) {
  sl_hpa_why_t why;
  // WVA's benchmark HPA: 10 pods per 150 s both ways, 240 s scale-down window.
  sl_hpa_spec_t wva = spec_of(
      "{\"maxReplicas\": 100, \"behavior\": {\"scaleUp\": {\"stabilizationWindowSeconds\": 0, "
      "\"policies\": [{\"type\": \"Pods\", \"value\": 10, \"periodSeconds\": 150}]}, "
      "\"scaleDown\": {\"stabilizationWindowSeconds\": 240, \"policies\": [{\"type\": \"Pods\", "
      "\"value\": 10, \"periodSeconds\": 150}]}}}");
  sl_hpa_state_t st = {0};
  long d = sl_hpa_normalize(&st, &wva, 0, 2, 40, &why);
  T_EQ_INT(d, 12, "10 pods a period");
  sl_hpa_record_scale(&st, &wva, 0, 2, d);
  T_EQ_INT(sl_hpa_normalize(&st, &wva, 100, d, 40, &why), 12, "the same period: no more");
  T_EQ_INT(sl_hpa_normalize(&st, &wva, 151, d, 40, &why), 22, "the next period: 10 more");
  sl_hpa_state_free(&st);
  // selectPolicy Min picks the smaller change; Disabled none.
  sl_hpa_spec_t mn = spec_of("{\"maxReplicas\": 100, \"behavior\": {\"scaleUp\": "
                             "{\"selectPolicy\": \"Min\"}}}");
  sl_hpa_state_t s2 = {0};
  T_EQ_INT(sl_hpa_normalize(&s2, &mn, 0, 10, 40, &why), 14, "Min: 4 pods over 100%");
  sl_hpa_state_free(&s2);
  sl_hpa_spec_t off = spec_of("{\"maxReplicas\": 100, \"behavior\": {\"scaleDown\": "
                              "{\"selectPolicy\": \"Disabled\", \"stabilizationWindowSeconds\": "
                              "0}}}");
  sl_hpa_state_t s3 = {0};
  T_EQ_INT(sl_hpa_normalize(&s3, &off, 0, 10, 2, &why), 10, "Disabled: no scale-down");
  sl_hpa_state_free(&s3);
  // Percent down truncates what remains: 80 at 10% a period -> 72.
  sl_hpa_spec_t pct = spec_of("{\"maxReplicas\": 100, \"behavior\": {\"scaleDown\": "
                              "{\"stabilizationWindowSeconds\": 0, \"policies\": [{\"type\": "
                              "\"Percent\", \"value\": 10, \"periodSeconds\": 60}]}}}");
  sl_hpa_state_t s4 = {0};
  T_EQ_INT(sl_hpa_normalize(&s4, &pct, 0, 80, 1, &why), 72, "int32(80 x 0.9)");
  sl_hpa_state_free(&s4);
  // Bounds: never above maxReplicas, never below minReplicas.
  sl_hpa_spec_t b = spec_of("{\"minReplicas\": 2, \"maxReplicas\": 5, \"behavior\": "
                            "{\"scaleDown\": {\"stabilizationWindowSeconds\": 0}}}");
  sl_hpa_state_t s5 = {0};
  T_EQ_INT(sl_hpa_normalize(&s5, &b, 0, 4, 40, &why), 5, "max");
  T_OK(!strcmp(why.limited_reason, "TooManyReplicas"), "TooManyReplicas (%s)", why.limited_reason);
  T_EQ_INT(sl_hpa_normalize(&s5, &b, 100, 4, 0, &why), 2, "min");
  T_OK(!strcmp(why.limited_reason, "TooFewReplicas"), "TooFewReplicas (%s)", why.limited_reason);
  sl_hpa_state_free(&s5);
}

static void legacy(void) {
  sl_hpa_spec_t sp = spec_of("{\"maxReplicas\": 100}");
  T_OK(!sp.has_behavior, "no behavior: the legacy path");
  sl_hpa_state_t st = {0};
  sl_hpa_why_t why;
  T_EQ_INT(sl_hpa_normalize(&st, &sp, 0, 1, 50, &why), 4, "max(2 x 1, 4)");
  T_EQ_INT(sl_hpa_normalize(&st, &sp, 1, 10, 50, &why), 20, "2 x 10");
  T_EQ_INT(sl_hpa_normalize(&st, &sp, 2, 50, 5, &why), 50, "held by the highest of 5 minutes");
  T_EQ_INT(sl_hpa_normalize(&st, &sp, 400, 50, 5, &why), 5, "and down once it aged out");
  sl_hpa_state_free(&st);
}

static void errors(void) {
  parse_error("{}", "spec.maxReplicas");
  parse_error("{\"maxReplicas\": 2, \"minReplicas\": 3}", "spec.maxReplicas");
  parse_error("{\"maxReplicas\": 2, \"minReplicas\": -1}", "spec.minReplicas");
  parse_error("{\"maxReplicas\": 2, \"behavior\": {\"scaleUp\": {\"selectPolicy\": \"Most\"}}}",
              "spec.behavior.scaleUp.selectPolicy");
  parse_error("{\"maxReplicas\": 2, \"behavior\": {\"scaleDown\": {\"policies\": [{\"type\": "
              "\"Pods\", \"value\": 1, \"periodSeconds\": 3600}]}}}",
              "spec.behavior.scaleDown.policies[0].periodSeconds");
  parse_error("{\"maxReplicas\": 2, \"behavior\": {\"scaleUp\": {\"policies\": []}}}",
              "spec.behavior.scaleUp.policies");
  parse_error("{\"maxReplicas\": 2, \"behavior\": {\"scaleUp\": {\"tolerance\": \"-1\"}}}",
              "spec.behavior.scaleUp.tolerance");
}

int main(void) {
  external();
  burst();
  stabilisation();
  policies();
  legacy();
  errors();
  return tap_done();
}
