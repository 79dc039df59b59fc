// The HPA's arithmetic (hpacalc.h), after kube-controller-manager's horizontal.go and
// replica_calculator.go: the same milli-unit sums, the same inclusive tolerance band, the same
// strict window comparisons and the same rounding (ceil on scale-up percentages, truncation on
// scale-down ones).
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/emu/hpacalc.h"

// ---- spec ---------------------------------------------------------------------------------------

static int bad(char *msg, size_t n, const char *fmt, const char *field) {
  snprintf(msg, n, fmt, field);
  return -1;
}

static int whole(const sl_json_t *v, double lo, double hi, long *out) {
  if (!v || v->type != SL_JSON_NUMBER || v->num != floor(v->num) || v->num < lo || v->num > hi)
    return -1;
  *out = (long)v->num;
  return 0;
}

static void default_rules(sl_hpa_rules_t *r, int up, const sl_hpa_flags_t *f) {
  memset(r, 0, sizeof *r);
  r->select = SL_HPA_SELECT_MAX;
  r->tolerance = f->tolerance;
  if (up) { // 4 pods or 100% per 15 s, no window
    r->policies[0] = (sl_hpa_policy_t){SL_HPA_PODS, 4, 15};
    r->policies[1] = (sl_hpa_policy_t){SL_HPA_PERCENT, 100, 15};
    r->npolicies = 2;
  } else { // 100% per 15 s after the controller's window
    r->window_s = f->downscale_window_s;
    r->policies[0] = (sl_hpa_policy_t){SL_HPA_PERCENT, 100, 15};
    r->npolicies = 1;
  }
}

static int parse_rules(const sl_json_t *j, const char *dir, sl_hpa_rules_t *r, char *msg,
                       size_t n) {
  char field[96];
  if (!j) return 0;
  if (j->type != SL_JSON_OBJECT)
    return snprintf(field, sizeof field, "spec.behavior.%s", dir),
           bad(msg, n, "%s: must be an object", field);
  const sl_json_t *w = sl_json_get(j, "stabilizationWindowSeconds");
  long win;
  if (w) {
    if (whole(w, 0, 3600, &win) < 0)
      return snprintf(field, sizeof field, "spec.behavior.%s.stabilizationWindowSeconds", dir),
             bad(msg, n, "%s: must be a whole number from 0 to 3600", field);
    r->window_s = (double)win;
  }
  const char *sel = sl_json_str_or(sl_json_get(j, "selectPolicy"), NULL);
  if (sel) {
    if (!strcmp(sel, "Max"))
      r->select = SL_HPA_SELECT_MAX;
    else if (!strcmp(sel, "Min"))
      r->select = SL_HPA_SELECT_MIN;
    else if (!strcmp(sel, "Disabled"))
      r->select = SL_HPA_SELECT_DISABLED;
    else
      return snprintf(field, sizeof field, "spec.behavior.%s.selectPolicy", dir),
             bad(msg, n, "%s: must be Max, Min or Disabled", field);
  }
  const sl_json_t *tol = sl_json_get(j, "tolerance");
  if (tol) {
    double t = -1;
    if (tol->type == SL_JSON_NUMBER)
      t = tol->num;
    else if (tol->type == SL_JSON_STRING) {
      char *end;
      t = strtod(tol->str, &end);
      if (end == tol->str)
        t = -1;
      else if (!strcmp(end, "m"))
        t /= 1000;
      else if (*end)
        t = -1;
    }
    if (!(t >= 0) || !isfinite(t))
      return snprintf(field, sizeof field, "spec.behavior.%s.tolerance", dir),
             bad(msg, n, "%s: must be a quantity of at least 0", field);
    r->tolerance = t;
  }
  const sl_json_t *ps = sl_json_get(j, "policies");
  if (ps) { // replaced as a whole list, never merged
    if (ps->type != SL_JSON_ARRAY || ps->n == 0 || ps->n > SL_HPA_MAX_POLICIES)
      return snprintf(field, sizeof field, "spec.behavior.%s.policies", dir),
             bad(msg, n, "%s: must list 1 to 8 policies", field);
    r->npolicies = ps->n;
    for (size_t i = 0; i < ps->n; i++) {
      const sl_json_t *p = ps->items[i];
      const char *type = sl_json_str_or(sl_json_get(p, "type"), "");
      long v, period;
      snprintf(field, sizeof field, "spec.behavior.%s.policies[%zu]", dir, i);
      if (strcmp(type, "Pods") && strcmp(type, "Percent"))
        return bad(msg, n, "%s.type: must be Pods or Percent", field);
      if (whole(sl_json_get(p, "value"), 1, INT_MAX, &v) < 0)
        return bad(msg, n, "%s.value: must be a whole number above 0", field);
      if (whole(sl_json_get(p, "periodSeconds"), 1, 1800, &period) < 0)
        return bad(msg, n, "%s.periodSeconds: must be a whole number from 1 to 1800", field);
      r->policies[i] = (sl_hpa_policy_t){!strcmp(type, "Pods") ? SL_HPA_PODS : SL_HPA_PERCENT, v,
                                         (double)period};
    }
  }
  return 0;
}

int sl_hpa_spec_parse(const sl_json_t *spec, const sl_hpa_flags_t *flags, sl_hpa_spec_t *out,
                      char *msg, size_t n) {
  memset(out, 0, sizeof *out);
  out->min = 1;
  const sl_json_t *mn = sl_json_get(spec, "minReplicas");
  if (mn && whole(mn, 0, INT_MAX, &out->min) < 0)
    return bad(msg, n, "%s: must be a whole number of at least 0", "spec.minReplicas");
  if (whole(sl_json_get(spec, "maxReplicas"), 1, INT_MAX, &out->max) < 0)
    return bad(msg, n, "%s: must be a whole number of at least 1", "spec.maxReplicas");
  if (out->max < out->min)
    return bad(msg, n, "%s: must be greater than or equal to spec.minReplicas", "spec.maxReplicas");
  default_rules(&out->up, 1, flags);
  default_rules(&out->down, 0, flags);
  const sl_json_t *b = sl_json_get(spec, "behavior");
  if (!b || b->type == SL_JSON_NULL) return 0;
  if (b->type != SL_JSON_OBJECT) return bad(msg, n, "%s: must be an object", "spec.behavior");
  out->has_behavior = 1;
  if (parse_rules(sl_json_get(b, "scaleUp"), "scaleUp", &out->up, msg, n) < 0) return -1;
  return parse_rules(sl_json_get(b, "scaleDown"), "scaleDown", &out->down, msg, n);
}

// ---- one metric -------------------------------------------------------------------------------

static int within(const sl_hpa_spec_t *sp, double ratio) {
  return 1.0 - sp->down.tolerance <= ratio && ratio <= 1.0 + sp->up.tolerance;
}

static long ceil_count(double x) {
  if (!(x > 0)) return 0; // NaN (0/0) included
  return x > INT_MAX ? INT_MAX : (long)ceil(x);
}

long sl_hpa_external_replicas(int average_value, int64_t usage_m, int64_t target_m,
                              long spec_replicas, long status_replicas, long ready,
                              const sl_hpa_spec_t *sp) {
  if (average_value) {
    double ratio = (double)usage_m / ((double)target_m * (double)status_replicas);
    if (within(sp, ratio)) return status_replicas;
    return ceil_count((double)usage_m / (double)target_m);
  }
  double ratio = (double)usage_m / (double)target_m;
  if (spec_replicas == 0) return ceil_count(ratio); // from zero: no tolerance
  if (within(sp, ratio)) return spec_replicas;
  return ceil_count(ratio * (double)ready);
}

// ---- history ----------------------------------------------------------------------------------

static int push(sl_hpa_mark_t **a, size_t *n, size_t *cap, sl_hpa_mark_t m) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 8;
    sl_hpa_mark_t *g = realloc(*a, c * sizeof *g);
    if (!g) return -1;
    *a = g;
    *cap = c;
  }
  (*a)[(*n)++] = m;
  return 0;
}

void sl_hpa_state_free(sl_hpa_state_t *st) {
  free(st->recs);
  free(st->ups);
  free(st->downs);
  memset(st, 0, sizeof *st);
}

void sl_hpa_seed(sl_hpa_state_t *st, double now, long current) {
  if (st->seeded) return;
  st->seeded = 1;
  push(&st->recs, &st->nrecs, &st->caprecs, (sl_hpa_mark_t){now, current});
}

// The replicas added (or removed) within the last `period` seconds: events strictly after the cut.
static long change_in(const sl_hpa_mark_t *ev, size_t n, double now, double period) {
  long sum = 0;
  for (size_t i = 0; i < n; i++)
    if (ev[i].value >= 0 && ev[i].ts > now - period) sum += ev[i].value;
  return sum;
}

static long pick(int select_min, long a, long b) {
  return select_min ? (a < b ? a : b) : (a > b ? a : b);
}

// How far the policies let the count go from `cur` this period, up or down. Max takes the
// largest change (the highest count up, the lowest down), Min the smallest.
static long rate_limit(const sl_hpa_state_t *st, const sl_hpa_rules_t *r, double now, long cur,
                       int up) {
  if (r->select == SL_HPA_SELECT_DISABLED) return cur;
  int highest = (r->select == SL_HPA_SELECT_MIN) != up;
  long result = highest ? LONG_MIN : LONG_MAX;
  for (size_t i = 0; i < r->npolicies; i++) {
    const sl_hpa_policy_t *p = &r->policies[i];
    long start = cur - change_in(st->ups, st->nups, now, p->period_s) +
                 change_in(st->downs, st->ndowns, now, p->period_s);
    double pct = (double)p->value / 100;
    long proposed = p->type == SL_HPA_PODS ? (up ? start + p->value : start - p->value)
                    : up ? (long)ceil((double)start * (1 + pct)) // rounded up, so it moves
                         : (long)((double)start * (1 - pct));    // truncated, as Go's int32()
    result = pick(!highest, result, proposed);
  }
  return result;
}

// Stabilisation: up to the lowest recommendation of the scale-up window, down only to the highest
// of the scale-down window. Then the raw count is recorded, reusing the last slot older than both.
static long stabilise(sl_hpa_state_t *st, const sl_hpa_spec_t *sp, double now, long cur, long raw,
                      sl_hpa_why_t *why) {
  double up_cut = now - sp->up.window_s, down_cut = now - sp->down.window_s;
  long up_rec = raw, down_rec = raw;
  size_t old = SIZE_MAX;
  for (size_t i = 0; i < st->nrecs; i++) {
    const sl_hpa_mark_t *r = &st->recs[i];
    if (sp->has_behavior && r->ts > up_cut && r->value < up_rec) up_rec = r->value;
    if (r->ts > down_cut && r->value > down_rec) down_rec = r->value;
    if (r->ts < up_cut && r->ts < down_cut) old = i;
  }
  long rec = down_rec; // the legacy path: the highest of the window
  if (sp->has_behavior) {
    rec = cur;
    if (rec < up_rec) rec = up_rec;
    if (rec > down_rec) rec = down_rec;
  }
  if (old != SIZE_MAX)
    st->recs[old] = (sl_hpa_mark_t){now, raw};
  else
    push(&st->recs, &st->nrecs, &st->caprecs, (sl_hpa_mark_t){now, raw});
  if (rec != raw) {
    int up = sp->has_behavior && raw >= cur;
    why->able_reason = up ? "ScaleUpStabilized" : "ScaleDownStabilized";
    why->able_message = up ? "recent recommendations were lower than current one, applying the "
                             "lowest recent recommendation"
                           : "recent recommendations were higher than current one, applying the "
                             "highest recent recommendation";
  } else {
    why->able_reason = "ReadyForNewScale";
    why->able_message = "recommended size matches current size";
  }
  return rec;
}

static long limit(const sl_hpa_state_t *st, const sl_hpa_spec_t *sp, double now, long cur,
                  long want, sl_hpa_why_t *why) {
  why->limited_reason = "DesiredWithinRange";
  why->limited_message = "the desired count is within the acceptable range";
  if (want > cur) {
    long cap =
        sp->has_behavior ? rate_limit(st, &sp->up, now, cur, 1) : (cur * 2 > 4 ? cur * 2 : 4);
    if (cap < cur) cap = cur; // until earlier scale-ups leave the periods
    long allowed = sp->max;
    if (allowed > cap) {
      allowed = cap;
      why->limited_reason = "ScaleUpLimit";
      why->limited_message = "the desired replica count is increasing faster than the maximum "
                             "scale rate";
    } else {
      why->limited_reason = "TooManyReplicas";
      why->limited_message = "the desired replica count is more than the maximum replica count";
    }
    if (want > allowed) return allowed;
  } else if (want < cur) {
    long floor_ = sp->has_behavior ? rate_limit(st, &sp->down, now, cur, 0) : 0;
    if (floor_ > cur) floor_ = cur;
    long allowed = sp->min;
    if (allowed < floor_) {
      allowed = floor_;
      why->limited_reason = "ScaleDownLimit";
      why->limited_message = "the desired replica count is decreasing faster than the maximum "
                             "scale rate";
    } else {
      why->limited_reason = "TooFewReplicas";
      why->limited_message = "the desired replica count is less than the minimum replica count";
    }
    if (want < allowed) return allowed;
  }
  why->limited_reason = "DesiredWithinRange";
  why->limited_message = "the desired count is within the acceptable range";
  return want;
}

long sl_hpa_normalize(sl_hpa_state_t *st, const sl_hpa_spec_t *sp, double now, long current,
                      long raw, sl_hpa_why_t *why) {
  sl_hpa_why_t spare;
  if (!why) why = &spare;
  memset(why, 0, sizeof *why);
  sl_hpa_seed(st, now, current);
  long stab = stabilise(st, sp, now, current, raw, why);
  long out = limit(st, sp, now, current, stab, why);
  why->limited = out != stab;
  return out;
}

void sl_hpa_record_scale(sl_hpa_state_t *st, const sl_hpa_spec_t *sp, double now, long from,
                         long to) {
  if (!sp->has_behavior || from == to) return;
  int up = to > from;
  const sl_hpa_rules_t *r = up ? &sp->up : &sp->down;
  double longest = 0;
  for (size_t i = 0; i < r->npolicies; i++)
    if (r->policies[i].period_s > longest) longest = r->policies[i].period_s;
  sl_hpa_mark_t *ev = up ? st->ups : st->downs;
  size_t n = up ? st->nups : st->ndowns;
  // Events older than the longest period are outdated; the last such slot is reused.
  size_t reuse = SIZE_MAX;
  for (size_t i = 0; i < n; i++) {
    if (ev[i].ts < now - longest) ev[i].value = -1;
    if (ev[i].value < 0) reuse = i;
  }
  sl_hpa_mark_t m = {now, labs(to - from)};
  if (reuse != SIZE_MAX)
    ev[reuse] = m;
  else if (up)
    push(&st->ups, &st->nups, &st->capups, m);
  else
    push(&st->downs, &st->ndowns, &st->capdowns, m);
}
