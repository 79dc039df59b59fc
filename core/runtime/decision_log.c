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

int sl_decision_log_format_shadow(double now, const sl_shadow_t *s, char *buf, size_t n) {
  sl_json_buf_t b = {0};
  char when[48], num[64];
  iso_time(now, when, sizeof when);
  int ok = sl_json_buf_add(&b, "{\"ts\":", 6) == 0 &&
           sl_json_buf_quote(&b, when, strlen(when)) == 0 &&
           sl_json_buf_add(&b, ",\"variant\":", 11) == 0 &&
           sl_json_buf_quote(&b, s->variant->id, strlen(s->variant->id)) == 0 &&
           sl_json_buf_add(&b, ",\"shadow\":", 10) == 0 &&
           sl_json_buf_quote(&b, s->policy, strlen(s->policy)) == 0;
  int k = s->requested >= 0
              ? snprintf(num, sizeof num, ",\"current\":%d,\"wants\":%d", s->current, s->requested)
              : snprintf(num, sizeof num, ",\"current\":%d,\"wants\":null%s", s->current,
                         s->requested == -1 ? "" : ",\"failed\":true");
  ok = ok && sl_json_buf_add(&b, num, (size_t)k) == 0 &&
       sl_json_buf_add(&b, ",\"reason\":", 10) == 0 &&
       sl_json_buf_quote(&b, s->reason, strlen(s->reason)) == 0;
  if (s->inputs && s->inputs[0])
    ok = ok && sl_json_buf_add(&b, ",\"inputs\":", 10) == 0 &&
         sl_json_buf_add(&b, s->inputs, strlen(s->inputs)) == 0;
  ok = ok && sl_json_buf_add(&b, "}", 1) == 0;
  int len = -1;
  if (ok && b.len < n) {
    memcpy(buf, b.buf, b.len + 1);
    len = (int)b.len;
  }
  sl_json_buf_deinit(&b);
  return len;
}

// A shadow's line when the replicas it wants change (its reasons move every tick).
static void on_shadow(sl_observer_t *ob, double now, const sl_shadow_t *s) {
  sl_decision_log_t *l = ob->ud;
  char key[512], line[4096];
  snprintf(key, sizeof key, "%s\x1f%s", s->policy, s->variant->id);
  uintptr_t v = (uintptr_t)(s->requested + 16) | ((uintptr_t)1 << 40);
  if ((uintptr_t)sl_map_get(&l->shadows, key) == v) return;
  sl_map_put(&l->shadows, key, (void *)v);
  if (sl_decision_log_format_shadow(now, s, line, sizeof line) < 0) return;
  fprintf(l->out, "%s\n", line);
  fflush(l->out);
  l->lines++;
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
  sl_map_init(&l->shadows);
  l->obs = (sl_observer_t){.outcome = on_outcome, .ud = l, .shadow = on_shadow};
}

void sl_decision_log_deinit(sl_decision_log_t *l) {
  sl_map_deinit(&l->shadows);
}
