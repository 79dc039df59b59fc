// The decision log: one JSON line per applied decision, parseable, escaped, with the inputs the
// policy reported as an object.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/runtime/decision_log.h"
#include "core/util/json.h"
#include "tests/unit/tap.h"

int main(void) {
  sl_variant_t v = {.id = "llm/a"};
  sl_outcome_t o = {&v,    2,
                    4,     4,
                    1,     0,
                    1,     "load 31 \"needs\" 4\nreplicas",
                    "slo", "{\"demand_rps\":41.2,\"bound\":\"forecast\"}"};
  char line[2048];
  int n = sl_decision_log_format(1765132460.25, &o, line, sizeof line);
  T_OK(n > 0 && strchr(line, '\n') == NULL, "one line, no raw newline");
  sl_err_t err;
  sl_json_t *j = sl_json_parse(line, (size_t)n, NULL, &err);
  T_OK(j != NULL, "parses as JSON (%s)", j ? "" : err.msg);
  T_OK(!strcmp(sl_json_str_or(sl_json_get(j, "variant"), ""), "llm/a"), "variant");
  T_EQ_INT(sl_json_num_or(sl_json_get(j, "from"), -1), 2, "from");
  T_EQ_INT(sl_json_num_or(sl_json_get(j, "to"), -1), 4, "to");
  T_OK(!strcmp(sl_json_str_or(sl_json_get(j, "policy"), ""), "slo"), "policy");
  T_OK(!strcmp(sl_json_str_or(sl_json_get(j, "reason"), ""), "load 31 \"needs\" 4\nreplicas"),
       "reason escaped and round-trips");
  T_NEAR(sl_json_num_or(sl_json_at(j, "inputs.demand_rps"), 0), 41.2, 1e-9, "inputs are an object");
  T_OK(!strncmp(sl_json_str_or(sl_json_get(j, "ts"), ""), "2025-12-07T18:34:20.250Z", 24),
       "ISO 8601 time in UTC (%s)", sl_json_str_or(sl_json_get(j, "ts"), ""));
  sl_json_free(j);
  o.policy = NULL;
  o.inputs = "";
  n = sl_decision_log_format(0, &o, line, sizeof line);
  j = sl_json_parse(line, (size_t)n, NULL, &err);
  T_OK(j && !sl_json_get(j, "policy") && !sl_json_get(j, "inputs"),
       "no policy or inputs keys when there are none");
  sl_json_free(j);
  T_EQ_INT(sl_decision_log_format(0, &o, line, 20), -1, "a buffer too small is refused");

  // A shadow's line: what it wants beside the current count, and a line only when that changes.
  sl_shadow_t s = {&v, "slo", 3, 5, "p99 ttft 410ms > 350ms", "{\"ttft_p99\":0.41}"};
  n = sl_decision_log_format_shadow(0, &s, line, sizeof line);
  j = n > 0 ? sl_json_parse(line, (size_t)n, NULL, &err) : NULL;
  T_OK(j && !strcmp(sl_json_str_or(sl_json_get(j, "shadow"), ""), "slo") &&
           sl_json_num_or(sl_json_get(j, "current"), -1) == 3 &&
           sl_json_num_or(sl_json_get(j, "wants"), -1) == 5 && !sl_json_get(j, "to"),
       "a shadow line names the policy and what it wants, and has no \"to\"");
  sl_json_free(j);
  s.requested = -2;
  n = sl_decision_log_format_shadow(0, &s, line, sizeof line);
  T_OK(n > 0 && strstr(line, "\"wants\":null,\"failed\":true"), "a failed shadow run: %s", line);
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  sl_decision_log_t dl;
  sl_decision_log_init(&dl, out);
  s.requested = 4;
  dl.obs.shadow(&dl.obs, 0, &s);
  dl.obs.shadow(&dl.obs, 1, &s); // same wish: no line
  s.requested = 6;
  dl.obs.shadow(&dl.obs, 2, &s);
  fflush(out);
  T_EQ_INT(dl.lines, 2, "two shadow lines for three ticks with two wishes");
  sl_decision_log_deinit(&dl);
  fclose(out);
  free(buf);
  return tap_done();
}
