// The decision log. See decision_log.h.
#include "core/runtime/decision_log.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "core/util/json.h"

static void iso_time(double t, char *buf, size_t n) {
  time_t s = (time_t)floor(t);
  struct tm tm;
  gmtime_r(&s, &tm);
  size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + k, n - k, ".%03dZ", (int)((t - floor(t)) * 1000));
}

int sl_decision_log_format(double now, const sl_outcome_t *o, char *buf, size_t n) {
  sl_json_buf_t b = {0};
  char when[48], num[64];
  iso_time(now, when, sizeof when);
  int ok = sl_json_buf_add(&b, "{\"ts\":", 6) == 0 &&
           sl_json_buf_quote(&b, when, strlen(when)) == 0 &&
           sl_json_buf_add(&b, ",\"variant\":", 11) == 0 &&
           sl_json_buf_quote(&b, o->variant->id, strlen(o->variant->id)) == 0;
  int k = snprintf(num, sizeof num, ",\"from\":%d,\"to\":%d", o->current, o->target);
  ok = ok && sl_json_buf_add(&b, num, (size_t)k) == 0;
  if (o->policy)
    ok = ok && sl_json_buf_add(&b, ",\"policy\":", 10) == 0 &&
         sl_json_buf_quote(&b, o->policy, strlen(o->policy)) == 0;
  ok = ok && sl_json_buf_add(&b, ",\"reason\":", 10) == 0 &&
       sl_json_buf_quote(&b, o->reason, strlen(o->reason)) == 0;
  // The inputs are already a JSON object (written by the policy reader).
  if (o->inputs && o->inputs[0])
    ok = ok && sl_json_buf_add(&b, ",\"inputs\":", 10) == 0 &&
         sl_json_buf_add(&b, o->inputs, strlen(o->inputs)) == 0;
  ok = ok && sl_json_buf_add(&b, "}", 1) == 0;
  int len = -1;
  if (ok && b.len < n) {
    memcpy(buf, b.buf, b.len + 1);
    len = (int)b.len;
  }
  sl_json_buf_deinit(&b);
  return len;
}

static void on_outcome(sl_observer_t *ob, double now, const sl_outcome_t *o) {
  sl_decision_log_t *l = ob->ud;
  if (!o->actuated) return;
  char line[4096];
  if (sl_decision_log_format(now, o, line, sizeof line) < 0) return;
  fprintf(l->out, "%s\n", line);
  fflush(l->out);
  l->lines++;
}

void sl_decision_log_init(sl_decision_log_t *l, FILE *out) {
  l->out = out;
  l->lines = 0;
  l->obs = (sl_observer_t){.outcome = on_outcome, .ud = l};
}
