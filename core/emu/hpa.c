// The emulator's HPA controller (hpa.h): one sync every period — list the HPAs, query every
// External metric of each at once, and reconcile each HPA when its answers are in. A sync does not
// start while the previous one still waits on Prometheus (queries time out within the period).
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/emu/hpa.h"

#include "core/emu/hpacalc.h"
#include "core/kube/pod.h"
#include "core/util/httpc.h"
#include "core/util/json.h"
#include "core/util/log.h"

#define HPA_RESOURCE "horizontalpodautoscalers.autoscaling"
#define COMPONENT    "horizontal-pod-autoscaler"

typedef struct ent ent_t;

typedef struct {
  ent_t *ent;
  char *name;            // the metric's name
  char *url;             // the query, as a GET of /api/v1/query
  char *shown;           // "NAME(&LabelSelector{...})"-like, for messages
  const sl_json_t *spec; // the HPA's metric entry (borrowed from `snapshot`)
  int average;           // AverageValue (else Value)
  int64_t target_m;
  int ok;
  int64_t usage_m;
  char err[384];
  sl_httpc_req_t *req;
} metric_t;

struct ent {
  struct sl_emu_hpa *h;
  char ns[254], name[254];
  sl_hpa_state_t st;
  sl_json_t *snapshot; // the HPA's spec.metrics at the sync's start
  metric_t *m;
  size_t nm, pending;
  int seen;
};

struct sl_emu_hpa {
  sl_emu_t *e;
  uv_loop_t *loop;
  sl_httpc_t *http;
  uv_timer_t timer;
  sl_emu_hpa_opts_t o;
  char *url, *ns_label;
  ent_t **ents;
  size_t n, cap;
  size_t pending;
  sl_hpa_flags_t flags;
};

// ---- queries ----------------------------------------------------------------------------------

static int valid_name(const char *s, int colon) {
  if (!s || !*s) return 0;
  for (const char *c = s; *c; c++) {
    int word =
        (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' || (colon && *c == ':');
    if (!word && !(c > s && *c >= '0' && *c <= '9')) return 0;
  }
  return 1;
}

// A PromQL string literal's body; regex metacharacters escaped first when `regex`.
static void quote(FILE *f, const char *s, int regex) {
  for (const char *c = s; *c; c++) {
    if (regex && strchr(".+*?()|[]{}^$\\", *c)) fputs("\\\\", f);
    if (*c == '"' || *c == '\\') fputc('\\', f);
    if (*c == '\n')
      fputs("\\n", f);
    else
      fputc(*c, f);
  }
}

static int expressions(FILE *f, const sl_json_t *exprs, const char **sep, char *err, size_t n) {
  for (size_t i = 0; exprs && i < exprs->n; i++) {
    const sl_json_t *x = exprs->items[i];
    const char *key = sl_json_str_or(sl_json_get(x, "key"), NULL);
    const char *op = sl_json_str_or(sl_json_get(x, "operator"), "");
    const sl_json_t *vals = sl_json_get(x, "values");
    if (!valid_name(key, 0)) {
      snprintf(err, n, "selector.matchExpressions[%zu].key: not a label name", i);
      return -1;
    }
    if (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist")) {
      fprintf(f, "%s%s%s\"\"", *sep, key, op[0] == 'E' ? "!=" : "=");
      *sep = ",";
      continue;
    }
    if ((strcmp(op, "In") && strcmp(op, "NotIn")) || !vals || vals->type != SL_JSON_ARRAY ||
        vals->n == 0) {
      snprintf(err, n, "selector.matchExpressions[%zu]: operator In or NotIn needs values", i);
      return -1;
    }
    fprintf(f, "%s%s%s\"", *sep, key, op[0] == 'I' ? "=~" : "!~");
    *sep = ",";
    for (size_t j = 0; j < vals->n; j++) {
      if (j) fputc('|', f);
      quote(f, sl_json_str_or(vals->items[j], ""), 1);
    }
    fputc('"', f);
  }
  return 0;
}

// sum(NAME{labels..., NSLABEL="ns"}) as a query URL, or -1 with why.
static int build_query(sl_emu_hpa_t *h, metric_t *m, const char *ns, const sl_json_t *metric) {
  const char *name = sl_json_str_or(sl_json_get(metric, "name"), NULL);
  if (!valid_name(name, 1)) {
    snprintf(m->err, sizeof m->err, "external.metric.name: \"%.80s\" is not a metric name",
             name ? name : "");
    return -1;
  }
  m->name = strdup(name);
  char *q = NULL;
  size_t qn = 0;
  FILE *f = open_memstream(&q, &qn);
  if (!f || !m->name) {
    if (f) fclose(f);
    free(q);
    snprintf(m->err, sizeof m->err, "out of memory");
    return -1;
  }
  fprintf(f, "sum(%s{", name);
  const char *sep = "";
  const sl_json_t *sel = sl_json_get(metric, "selector");
  const sl_json_t *ml = sl_json_get(sel, "matchLabels");
  int rc = 0;
  for (size_t i = 0; ml && ml->type == SL_JSON_OBJECT && i < ml->n; i++) {
    if (!valid_name(ml->keys[i], 0)) {
      snprintf(m->err, sizeof m->err, "selector.matchLabels: \"%.80s\" is not a label name",
               ml->keys[i]);
      rc = -1;
      break;
    }
    fprintf(f, "%s%s=\"", sep, ml->keys[i]);
    sep = ",";
    quote(f, sl_json_str_or(ml->items[i], ""), 0);
    fputc('"', f);
  }
  if (rc == 0)
    rc = expressions(f, sl_json_get(sel, "matchExpressions"), &sep, m->err, sizeof m->err);
  if (rc == 0 && *h->ns_label) {
    fprintf(f, "%s%s=\"", sep, h->ns_label);
    quote(f, ns, 0);
    fputc('"', f);
  }
  fputs("})", f);
  fclose(f);
  if (rc < 0) {
    free(q);
    return -1;
  }
  // The URL: the query percent-encoded.
  char *u = NULL;
  size_t un = 0;
  FILE *g = open_memstream(&u, &un);
  if (g) {
    fprintf(g, "%s/api/v1/query?query=", h->url);
    for (const unsigned char *c = (const unsigned char *)q; *c; c++) {
      if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
          strchr("-_.~", *c))
        fputc(*c, g);
      else
        fprintf(g, "%%%02X", *c);
    }
    fclose(g);
  }
  m->url = u;
  free(q);
  // How the controller names the metric in reasons: NAME(&LabelSelector{...}).
  char *w = NULL;
  size_t wn = 0;
  FILE *sh = open_memstream(&w, &wn);
  if (sh) {
    fprintf(sh, "%s(&LabelSelector{MatchLabels:map[string]string{", name);
    for (size_t i = 0; ml && ml->type == SL_JSON_OBJECT && i < ml->n; i++)
      fprintf(sh, "%s: %s,", ml->keys[i], sl_json_str_or(ml->items[i], ""));
    fprintf(sh, "},})");
    fclose(sh);
  }
  m->shown = w;
  return u && w ? 0 : -1;
}

static int target_of(metric_t *m, const sl_json_t *target) {
  const char *type = sl_json_str_or(sl_json_get(target, "type"), "");
  const char *key = !strcmp(type, "AverageValue") ? "averageValue"
                    : !strcmp(type, "Value")      ? "value"
                                                  : NULL;
  if (!key) {
    snprintf(m->err, sizeof m->err, "external.target.type: \"%.40s\" is not AverageValue or Value",
             type);
    return -1;
  }
  m->average = key[0] == 'a';
  const sl_json_t *v = sl_json_get(target, key);
  char num[64];
  const char *s = v && v->type == SL_JSON_STRING ? v->str : NULL;
  if (v && v->type == SL_JSON_NUMBER) {
    snprintf(num, sizeof num, "%.17g", v->num);
    s = num;
  }
  if (!s || sl_kube_quantity_milli(s, &m->target_m) < 0 || m->target_m <= 0) {
    snprintf(m->err, sizeof m->err, "external.target.%s: must be a quantity above 0", key);
    return -1;
  }
  return 0;
}

static void reconcile(ent_t *x);

static void answered(void *ud, const sl_httpc_resp_t *r) {
  metric_t *m = ud;
  ent_t *x = m->ent;
  m->req = NULL;
  if (r->rc < 0 || r->status != 200) {
    snprintf(m->err, sizeof m->err, "unable to get external metric %s/%s: %s", x->ns, m->name,
             r->rc < 0 ? r->error : "the metrics server answered with an error");
  } else {
    sl_json_limits_t lim = {32, 64u << 20};
    sl_err_t err;
    sl_json_t *j = sl_json_parse(r->body, r->body_len, &lim, &err);
    const sl_json_t *res = sl_json_at(j, "data.result");
    if (!j || strcmp(sl_json_str_or(sl_json_get(j, "status"), ""), "success") || !res ||
        res->type != SL_JSON_ARRAY) {
      snprintf(m->err, sizeof m->err, "unable to get external metric %s/%s: %s", x->ns, m->name,
               j ? "the answer is not an instant vector" : err.msg);
    } else if (res->n == 0) {
      snprintf(m->err, sizeof m->err,
               "unable to get external metric %s/%s: no metrics returned from external metrics API",
               x->ns, m->name);
    } else {
      double sum = 0;
      int finite = 1;
      for (size_t i = 0; i < res->n; i++) {
        const sl_json_t *v = sl_json_get(res->items[i], "value");
        const char *s = v && v->n == 2 ? sl_json_str_or(v->items[1], NULL) : NULL;
        char *end;
        double d = s ? strtod(s, &end) : NAN;
        if (!s || end == s || *end || !isfinite(d))
          finite = 0;
        else
          sum += d;
      }
      if (!finite || fabs(sum) > 9e15) {
        snprintf(m->err, sizeof m->err,
                 "unable to get external metric %s/%s: a value that is not a finite number", x->ns,
                 m->name);
      } else {
        m->ok = 1;
        m->usage_m = (int64_t)(sum * 1000.0); // the adapter's NewMilliQuantity(int64(v*1000))
      }
    }
    sl_json_free(j);
  }
  x->pending--;
  x->h->pending--;
  if (x->pending == 0) reconcile(x);
}

// ---- status -----------------------------------------------------------------------------------

static void quantity(char *buf, size_t n, int64_t milli) {
  if (milli % 1000 == 0)
    snprintf(buf, n, "%lld", (long long)(milli / 1000));
  else
    snprintf(buf, n, "%lldm", (long long)milli);
}

typedef struct {
  sl_json_t *conds; // array
  const sl_json_t *old;
  char now[32];
} conds_t;

static void cond(conds_t *c, const char *type, int status, const char *reason, const char *msg) {
  const char *st = status ? "True" : "False";
  const char *since = c->now;
  for (size_t i = 0; c->old && i < c->old->n; i++) {
    const sl_json_t *o = c->old->items[i];
    if (!strcmp(sl_json_str_or(sl_json_get(o, "type"), ""), type) &&
        !strcmp(sl_json_str_or(sl_json_get(o, "status"), ""), st))
      since = sl_json_str_or(sl_json_get(o, "lastTransitionTime"), c->now);
  }
  for (size_t i = 0; i < c->conds->n; i++) // one of each type: the later word wins
    if (!strcmp(sl_json_str_or(sl_json_get(c->conds->items[i], "type"), ""), type))
      sl_json_free(sl_json_take_at(c->conds, i--));
  sl_json_t *o = sl_json_object();
  sl_json_set(o, "type", sl_json_string(type));
  sl_json_set(o, "status", sl_json_string(st));
  sl_json_set(o, "lastTransitionTime", sl_json_string(since));
  sl_json_set(o, "reason", sl_json_string(reason));
  sl_json_set(o, "message", sl_json_string(msg));
  sl_json_push(c->conds, o);
}

static sl_json_t *metric_status(const metric_t *m, long status_replicas) {
  char q[48];
  sl_json_t *s = sl_json_object(), *ext = sl_json_object(), *id = sl_json_object(),
            *cur = sl_json_object();
  sl_json_set(s, "type", sl_json_string("External"));
  sl_json_set(id, "name", sl_json_string(m->name));
  const sl_json_t *sel = sl_json_at(m->spec, "external.metric.selector");
  if (sel) sl_json_set(id, "selector", sl_json_clone(sel));
  sl_json_set(ext, "metric", id);
  if (m->average) {
    int64_t avg =
        status_replicas > 0 ? (int64_t)ceil((double)m->usage_m / (double)status_replicas) : 0;
    quantity(q, sizeof q, avg);
    sl_json_set(cur, "averageValue", sl_json_string(q));
  } else {
    quantity(q, sizeof q, m->usage_m);
    sl_json_set(cur, "value", sl_json_string(q));
  }
  sl_json_set(ext, "current", cur);
  sl_json_set(s, "external", ext);
  return s;
}

// Writes status when it differs from what is stored (the controller's updateStatusIfNeeded).
static void write_status(sl_emu_hpa_t *h, ent_t *x, const sl_json_t *hpa, sl_json_t *status) {
  const sl_json_t *old = sl_json_get(hpa, "status");
  if (old && sl_json_equal(old, status)) {
    sl_json_free(status);
    return;
  }
  sl_json_t *next = sl_json_clone(hpa);
  sl_err_t err;
  if (!next) sl_json_free(status);
  if (!next || sl_json_set(next, "status", status) < 0 ||
      sl_emu_update(h->e, HPA_RESOURCE, next, NULL, &err) < 0)
    sl_warn("emulate: hpa %s/%s: cannot write status", x->ns, x->name);
}

static long ready_pods(sl_emu_hpa_t *h, const char *ns, const char *selector, int *matched) {
  const sl_json_t **items = NULL;
  size_t n = 0;
  sl_err_t err;
  *matched = 0;
  if (!*selector || sl_emu_list(h->e, "pods", ns, selector, &items, &n, &err) < 0) return 0;
  long ready = 0;
  for (size_t i = 0; i < n; i++) {
    const sl_json_t *st = sl_json_get(items[i], "status");
    if (sl_json_at(items[i], "metadata.deletionTimestamp")) continue;
    if (strcmp(sl_json_str_or(sl_json_get(st, "phase"), ""), "Running")) continue;
    const sl_json_t *cs = sl_json_get(st, "conditions");
    for (size_t j = 0; cs && j < cs->n; j++)
      if (!strcmp(sl_json_str_or(sl_json_get(cs->items[j], "type"), ""), "Ready") &&
          !strcmp(sl_json_str_or(sl_json_get(cs->items[j], "status"), ""), "True"))
        ready++;
  }
  *matched = n > 0;
  free(items);
  return ready;
}

// ---- one HPA ----------------------------------------------------------------------------------

typedef struct {
  long raw;
  int invalid;
  const char *bad_reason; // of the first invalid metric
  char bad[400], best[300];
} proposal_t;

static void propose(sl_emu_hpa_t *h, ent_t *x, const sl_hpa_spec_t *sp, const sl_emu_scale_t *sc,
                    proposal_t *p, sl_json_t *cur_metrics) {
  memset(p, 0, sizeof *p);
  for (size_t i = 0; i < x->nm; i++) {
    metric_t *m = &x->m[i];
    const char *type = sl_json_str_or(sl_json_get(m->spec, "type"), "");
    if (!m->ok) {
      sl_json_t *blank = sl_json_object(); // the real status keeps the index: a zero entry
      sl_json_set(blank, "type", sl_json_string(""));
      sl_json_push(cur_metrics, blank);
      if (!p->invalid++) {
        p->bad_reason =
            strcmp(type, "External") ? "InvalidMetricSourceType" : "FailedGetExternalMetric";
        snprintf(p->bad, sizeof p->bad, "%s", m->err);
      }
      continue;
    }
    long ready = 0;
    if (!m->average) {
      int matched;
      ready = ready_pods(h, x->ns, sc->selector, &matched);
      if (!matched) {
        sl_json_t *blank = sl_json_object();
        sl_json_set(blank, "type", sl_json_string(""));
        sl_json_push(cur_metrics, blank);
        if (!p->invalid++) {
          p->bad_reason = "FailedGetExternalMetric";
          snprintf(p->bad, sizeof p->bad, "unable to get the ready pods: no pods match %s",
                   *sc->selector ? sc->selector : "the target (it has no selector)");
        }
        continue;
      }
    }
    long r = sl_hpa_external_replicas(m->average, m->usage_m, m->target_m, sc->spec_replicas,
                                      sc->status_replicas, ready, sp);
    sl_json_push(cur_metrics, metric_status(m, sc->status_replicas));
    if (p->raw == 0 || r > p->raw) {
      p->raw = r;
      snprintf(p->best, sizeof p->best, "external metric %s", m->shown);
    }
  }
}

static void reconcile(ent_t *x) {
  sl_emu_hpa_t *h = x->h;
  const sl_json_t *hpa = sl_emu_get(h->e, HPA_RESOURCE, x->ns, x->name);
  if (!hpa) return; // deleted meanwhile
  sl_hpa_spec_t sp;
  char msg[512];
  conds_t c = {sl_json_array(), sl_json_at(hpa, "status.conditions"), ""};
  sl_emu_timestamp(c.now);
  sl_json_t *status = sl_json_object(), *cur_metrics = sl_json_array();
  const sl_json_t *old_status = sl_json_get(hpa, "status");
  const sl_json_t *last = sl_json_get(old_status, "lastScaleTime");
  if (last) sl_json_set(status, "lastScaleTime", sl_json_clone(last));
  const sl_json_t *gen = sl_json_at(hpa, "metadata.generation");
  if (gen) sl_json_set(status, "observedGeneration", sl_json_clone(gen));
  const sl_json_t *spec = sl_json_get(hpa, "spec");
  const sl_json_t *ref = sl_json_get(spec, "scaleTargetRef");
  sl_emu_scale_t sc;
  sl_err_t err;
  long cur = 0, desired = 0;
  if (sl_hpa_spec_parse(spec, &h->flags, &sp, msg, sizeof msg) < 0) {
    cond(&c, "AbleToScale", 0, "InvalidSpec", msg);
    sl_emu_event(h->e, hpa, "Warning", "InvalidSpec", msg, COMPONENT);
    goto out;
  }
  if (sl_emu_get_scale(h->e, sl_json_str_or(sl_json_get(ref, "apiVersion"), "apps/v1"),
                       sl_json_str_or(sl_json_get(ref, "kind"), ""), x->ns,
                       sl_json_str_or(sl_json_get(ref, "name"), ""), &sc, &err) < 0) {
    snprintf(msg, sizeof msg, "the HPA controller was unable to get the target's current scale: %s",
             err.msg);
    cond(&c, "AbleToScale", 0, "FailedGetScale", msg);
    sl_emu_event(h->e, hpa, "Warning", "FailedGetScale", msg, COMPONENT);
    goto out;
  }
  cur = desired = sc.spec_replicas;
  double now = (double)uv_now(h->loop) / 1000.0;
  sl_hpa_seed(&x->st, now, cur);
  cond(&c, "AbleToScale", 1, "SucceededGetScale",
       "the HPA controller was able to get the target's current scale");
  char why[400] = "";
  if (cur == 0 && sp.min != 0) {
    cond(&c, "ScalingActive", 0, "ScalingDisabled",
         "scaling is disabled since the replica count of the target is zero");
  } else if (cur > sp.max || cur < sp.min) {
    desired = cur > sp.max ? sp.max : sp.min;
    snprintf(why, sizeof why, "Current number of replicas %s Spec.%sReplicas",
             cur > sp.max ? "above" : "below", cur > sp.max ? "Max" : "Min");
  } else {
    proposal_t p;
    propose(h, x, &sp, &sc, &p, cur_metrics);
    if (x->nm == 0) {
      p.invalid = 1;
      p.bad_reason = "InvalidMetricSourceType";
      snprintf(p.bad, sizeof p.bad,
               "no External metric: the emulator's HPA controller has no CPU metrics to read");
    }
    if (p.invalid >= (int)(x->nm ? x->nm : 1) || (p.invalid > 0 && p.raw < cur)) {
      cond(&c, "ScalingActive", 0, p.bad_reason, p.bad);
      sl_emu_event(h->e, hpa, "Warning", p.bad_reason, p.bad, COMPONENT);
      snprintf(msg, sizeof msg, "invalid metrics (%d invalid out of %zu), first error is: %s",
               p.invalid, x->nm, p.bad);
      sl_emu_event(h->e, hpa, "Warning", "FailedComputeMetricsReplicas", msg, COMPONENT);
      goto out; // held where it is
    }
    snprintf(msg, sizeof msg, "the HPA was able to successfully calculate a replica count from %s",
             p.best);
    cond(&c, "ScalingActive", 1, "ValidMetricFound", msg);
    sl_hpa_why_t w;
    desired = sl_hpa_normalize(&x->st, &sp, now, cur, p.raw, &w);
    cond(&c, "AbleToScale", 1, w.able_reason, w.able_message);
    cond(&c, "ScalingLimited", w.limited, w.limited_reason, w.limited_message);
    if (desired > cur)
      snprintf(why, sizeof why, "%s above target", p.best);
    else
      snprintf(why, sizeof why, "All metrics below target");
  }
  if (desired != cur) {
    if (sl_emu_set_scale(h->e, sc.resource, x->ns, sl_json_str_or(sl_json_get(ref, "name"), ""),
                         desired, &err) < 0) {
      snprintf(msg, sizeof msg, "New size: %ld; reason: %s; error: %s", desired, why, err.msg);
      cond(&c, "AbleToScale", 0, "FailedUpdateScale", msg);
      sl_emu_event(h->e, hpa, "Warning", "FailedRescale", msg, COMPONENT);
      desired = cur;
    } else {
      snprintf(msg, sizeof msg, "New size: %ld; reason: %s", desired, why);
      sl_emu_event(h->e, hpa, "Normal", "SuccessfulRescale", msg, COMPONENT);
      sl_info("emulate: hpa %s/%s: %s", x->ns, x->name, msg);
      sl_hpa_record_scale(&x->st, &sp, now, cur, desired);
      sl_json_set(status, "lastScaleTime", sl_json_string(c.now));
      cond(&c, "AbleToScale", 1, "SucceededRescale",
           "the HPA controller was able to update the target scale");
    }
  }
out:
  sl_json_set(status, "currentReplicas", sl_json_number((double)cur));
  sl_json_set(status, "desiredReplicas", sl_json_number((double)desired));
  sl_json_set(status, "currentMetrics", cur_metrics);
  sl_json_set(status, "conditions", c.conds);
  hpa = sl_emu_get(h->e, HPA_RESOURCE, x->ns, x->name); // events and scales wrote meanwhile
  if (hpa)
    write_status(h, x, hpa, status);
  else
    sl_json_free(status);
}

// ---- the sync ---------------------------------------------------------------------------------

static void clear_metrics(ent_t *x) {
  for (size_t i = 0; i < x->nm; i++) {
    if (x->m[i].req) sl_httpc_cancel(x->m[i].req);
    free(x->m[i].name);
    free(x->m[i].url);
    free(x->m[i].shown);
  }
  free(x->m);
  x->m = NULL;
  x->nm = x->pending = 0;
  sl_json_free(x->snapshot);
  x->snapshot = NULL;
}

static void ent_free(ent_t *x) {
  clear_metrics(x);
  sl_hpa_state_free(&x->st);
  free(x);
}

static ent_t *ent_for(sl_emu_hpa_t *h, const char *ns, const char *name) {
  for (size_t i = 0; i < h->n; i++)
    if (!strcmp(h->ents[i]->ns, ns) && !strcmp(h->ents[i]->name, name)) return h->ents[i];
  if (h->n == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 8;
    ent_t **g = realloc(h->ents, cap * sizeof *g);
    if (!g) return NULL;
    h->ents = g;
    h->cap = cap;
  }
  ent_t *x = calloc(1, sizeof *x);
  if (!x) return NULL;
  x->h = h;
  snprintf(x->ns, sizeof x->ns, "%s", ns);
  snprintf(x->name, sizeof x->name, "%s", name);
  h->ents[h->n++] = x;
  return x;
}

static void start_queries(sl_emu_hpa_t *h, ent_t *x, const sl_json_t *hpa) {
  clear_metrics(x);
  x->snapshot = sl_json_clone(sl_json_at(hpa, "spec.metrics"));
  const sl_json_t *ms = x->snapshot;
  size_t n = ms && ms->type == SL_JSON_ARRAY ? ms->n : 0;
  x->m = n ? calloc(n, sizeof *x->m) : NULL;
  if (n && !x->m) return;
  x->nm = n;
  for (size_t i = 0; i < n; i++) {
    metric_t *m = &x->m[i];
    m->ent = x;
    m->spec = ms->items[i];
    const char *type = sl_json_str_or(sl_json_get(m->spec, "type"), "");
    if (strcmp(type, "External")) {
      snprintf(m->err, sizeof m->err,
               "the emulator's HPA controller reads External metrics only, not %.40s", type);
      continue;
    }
    const sl_json_t *ext = sl_json_get(m->spec, "external");
    if (build_query(h, m, x->ns, sl_json_get(ext, "metric")) < 0 ||
        target_of(m, sl_json_get(ext, "target")) < 0)
      continue;
    double t = h->o.sync_period_s < 10 ? h->o.sync_period_s : 10;
    sl_httpc_opts_t ro = {.url = m->url,
                          .timeout_s = t,
                          .connect_timeout_s = t,
                          .max_body = 8u << 20,
                          .on_done = answered,
                          .ud = m};
    sl_err_t err;
    if (!(m->req = sl_httpc_start(h->http, &ro, &err))) {
      snprintf(m->err, sizeof m->err, "unable to get external metric %s/%s: %s", x->ns, m->name,
               err.msg);
      continue;
    }
    x->pending++;
    h->pending++;
  }
  if (x->pending == 0) reconcile(x);
}

static void on_sync(uv_timer_t *t) {
  sl_emu_hpa_t *h = t->data;
  if (h->pending) return; // the last sync is still waiting on its answers
  const sl_json_t **items = NULL;
  size_t n = 0;
  sl_err_t err;
  if (sl_emu_list(h->e, HPA_RESOURCE, NULL, NULL, &items, &n, &err) < 0) return;
  for (size_t i = 0; i < h->n; i++) h->ents[i]->seen = 0;
  ent_t **todo = n ? calloc(n, sizeof *todo) : NULL;
  sl_json_t **objs = n ? calloc(n, sizeof *objs) : NULL;
  for (size_t i = 0; todo && objs && i < n; i++) {
    const char *ns = sl_json_str_or(sl_json_at(items[i], "metadata.namespace"), "default");
    const char *name = sl_json_str_or(sl_json_at(items[i], "metadata.name"), "");
    if ((todo[i] = ent_for(h, ns, name))) todo[i]->seen = 1;
    objs[i] = sl_json_clone(items[i]); // reconciling writes: the borrowed list goes stale
  }
  free(items);
  // An HPA that is gone takes its history with it, as the real controller's does.
  for (size_t i = 0; i < h->n;)
    if (!h->ents[i]->seen) {
      ent_free(h->ents[i]);
      h->ents[i] = h->ents[--h->n];
    } else
      i++;
  for (size_t i = 0; todo && objs && i < n; i++)
    if (todo[i] && objs[i]) start_queries(h, todo[i], objs[i]);
  for (size_t i = 0; objs && i < n; i++) sl_json_free(objs[i]);
  free(objs);
  free(todo);
}

int sl_emu_hpa_start(sl_emu_t *e, const sl_emu_hpa_opts_t *o, sl_emu_hpa_t **out, sl_err_t *err) {
  if (!o->metrics_url || !*o->metrics_url)
    return sl_err(err, SL_EINVAL, "the HPA controller needs a metrics URL");
  sl_emu_hpa_t *h = calloc(1, sizeof *h);
  if (!h) return sl_err(err, SL_ENOMEM, "out of memory");
  h->e = e;
  h->loop = sl_emu_loop(e);
  h->o = *o;
  if (!(h->o.sync_period_s > 0)) h->o.sync_period_s = 15;
  h->flags.tolerance = o->tolerance > 0 ? o->tolerance : 0.1;
  h->flags.downscale_window_s = o->downscale_window_s > 0 ? o->downscale_window_s : 300;
  h->url = strdup(o->metrics_url);
  h->ns_label = strdup(o->namespace_label ? o->namespace_label : "exported_namespace");
  size_t ul = h->url ? strlen(h->url) : 0;
  while (ul > 0 && h->url[ul - 1] == '/') h->url[--ul] = 0;
  if (!h->url || !h->ns_label || (*h->ns_label && !valid_name(h->ns_label, 0))) {
    int bad_label = h->url && h->ns_label;
    free(h->url), free(h->ns_label), free(h);
    return bad_label ? sl_err(err, SL_EINVAL, "--hpa-namespace-label: not a label name")
                     : sl_err(err, SL_ENOMEM, "out of memory");
  }
  if (!(h->http = sl_httpc_new(h->loop, err))) {
    free(h->url), free(h->ns_label), free(h);
    return SL_EIO;
  }
  uv_timer_init(h->loop, &h->timer);
  h->timer.data = h;
  uint64_t ms = (uint64_t)(h->o.sync_period_s * 1000);
  uv_timer_start(&h->timer, on_sync, ms, ms);
  *out = h;
  return SL_OK;
}

static void on_closed(uv_handle_t *t) {
  sl_emu_hpa_t *h = t->data;
  free(h->url);
  free(h->ns_label);
  free(h);
}

void sl_emu_hpa_stop(sl_emu_hpa_t *h) {
  if (!h) return;
  for (size_t i = 0; i < h->n; i++) ent_free(h->ents[i]);
  free(h->ents);
  h->ents = NULL;
  h->n = 0;
  sl_httpc_free(h->http);
  uv_timer_stop(&h->timer);
  uv_close((uv_handle_t *)&h->timer, on_closed);
}
