// The decision log: one JSON line per applied decision, parseable, escaped, with the inputs the
// policy reported as an object.
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
  return tap_done();
}
