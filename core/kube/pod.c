// Pod projection. See pod.h.
#include "core/kube/pod.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util/err.h"

static const char *const default_prefixes[] = {"llm-d.ai/", "sluice.io/", NULL};
static const char *const default_gpus[] = {"nvidia.com/gpu", "amd.com/gpu", NULL};

int sl_kube_quantity_milli(const char *s, int64_t *out) {
  if (!s || !*s) return SL_EINVAL;
  char *end;
  double x = strtod(s, &end);
  if (end == s || isnan(x) || isinf(x)) return SL_EINVAL;
  static const struct {
    const char *suf;
    double mul;
  } units[] = {{"", 1},
               {"n", 1e-9},
               {"u", 1e-6},
               {"m", 1e-3},
               {"k", 1e3},
               {"M", 1e6},
               {"G", 1e9},
               {"T", 1e12},
               {"P", 1e15},
               {"E", 1e18},
               {"Ki", 1024},
               {"Mi", 1048576.0},
               {"Gi", 1073741824.0},
               {"Ti", 1099511627776.0},
               {"Pi", 1125899906842624.0},
               {"Ei", 1152921504606846976.0}};
  // strtod already took any e/E exponent.
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(end, units[i].suf)) continue;
    double m = x * units[i].mul * 1000;
    if (fabs(m) > 9.2e18) return SL_EINVAL;
    // Round up, ignoring float noise below a millionth of a milli.
    double c = ceil(m - 1e-6);
    *out = (int64_t)c;
    return SL_OK;
  }
  return SL_EINVAL;
}

int sl_kube_time_parse(const char *s, double *out) {
  if (!s) return SL_EINVAL;
  struct tm tm = {0};
  const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p) return SL_EINVAL;
  double frac = 0;
  if (*p == '.') {
    char *e;
    frac = strtod(p, &e);
    p = e;
  }
  long off = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1, hh, mm;
    if (!isdigit((unsigned char)p[1]) || sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2) return SL_EINVAL;
    off = sign * (hh * 3600L + mm * 60L);
    p += 6;
  } else {
    return SL_EINVAL;
  }
  if (*p) return SL_EINVAL;
  *out = (double)timegm(&tm) - (double)off + frac;
  return SL_OK;
}

static int has_prefix(const char *s, const char *const *prefixes) {
  for (; *prefixes; prefixes++)
    if (!strncmp(s, *prefixes, strlen(*prefixes))) return 1;
  return 0;
}

static int64_t gpus_of(const sl_json_t *containers, const char *const *gpus) {
  int64_t total = 0;
  for (size_t i = 0; containers && containers->type == SL_JSON_ARRAY && i < containers->n; i++) {
    const sl_json_t *res = sl_json_get(containers->items[i], "resources");
    for (const char *const *g = gpus; *g; g++) {
      // Extended resources must have requests == limits; limits alone imply the requests.
      const sl_json_t *v = sl_json_get(sl_json_get(res, "requests"), *g);
      if (!v) v = sl_json_get(sl_json_get(res, "limits"), *g);
      int64_t m = 0;
      const char *q = v && v->type == SL_JSON_STRING   ? v->str
                      : v && v->type == SL_JSON_NUMBER ? v->str
                                                       : NULL;
      if (q && sl_kube_quantity_milli(q, &m) == 0 && m > 0)
        total += m;
      else if (v && v->type == SL_JSON_NUMBER && !v->str)
        total += (int64_t)(v->num * 1000);
    }
  }
  return total;
}

typedef struct {
  const char *s;
  size_t n;
} span_t;

static span_t sp(const sl_json_t *j) {
  if (j && j->type == SL_JSON_STRING) return (span_t){j->str, j->len};
  return (span_t){"", 0};
}

#define MAX_PAIRS 128

void *sl_kube_pod_project(void *ud, const sl_json_t *obj, size_t *bytes) {
  const sl_kube_pod_proj_t *pj = ud;
  const char *const *prefixes =
      pj && pj->annotation_prefixes ? pj->annotation_prefixes : default_prefixes;
  const char *const *gpus = pj && pj->gpu_resources ? pj->gpu_resources : default_gpus;
  const sl_json_t *meta = sl_json_get(obj, "metadata");
  const sl_json_t *spec = sl_json_get(obj, "spec");
  const sl_json_t *status = sl_json_get(obj, "status");
  span_t fixed[6] = {sp(sl_json_get(meta, "name")),     sp(sl_json_get(meta, "namespace")),
                     sp(sl_json_get(spec, "nodeName")), sp(sl_json_get(status, "podIP")),
                     sp(sl_json_get(status, "phase")),  {"", 0}};
  if (!fixed[0].n) return NULL;
  const sl_json_t *owners = sl_json_get(meta, "ownerReferences");
  for (size_t i = 0; owners && owners->type == SL_JSON_ARRAY && i < owners->n; i++)
    if (sl_json_bool_or(sl_json_get(owners->items[i], "controller"), 0))
      fixed[5] = sp(sl_json_get(owners->items[i], "name"));
  // Labels (all) and annotations (by prefix), string values only.
  span_t pairs[2 * MAX_PAIRS];
  size_t nl = 0, na = 0;
  const sl_json_t *labels = sl_json_get(meta, "labels");
  for (size_t i = 0; labels && labels->type == SL_JSON_OBJECT && i < labels->n && nl < MAX_PAIRS;
       i++) {
    if (labels->items[i]->type != SL_JSON_STRING) continue;
    pairs[2 * nl] = (span_t){labels->keys[i], strlen(labels->keys[i])};
    pairs[2 * nl + 1] = sp(labels->items[i]);
    nl++;
  }
  const sl_json_t *ann = sl_json_get(meta, "annotations");
  for (size_t i = 0; ann && ann->type == SL_JSON_OBJECT && i < ann->n && nl + na < MAX_PAIRS; i++) {
    if (ann->items[i]->type != SL_JSON_STRING || !has_prefix(ann->keys[i], prefixes)) continue;
    pairs[2 * (nl + na)] = (span_t){ann->keys[i], strlen(ann->keys[i])};
    pairs[2 * (nl + na) + 1] = sp(ann->items[i]);
    na++;
  }
  size_t np = 2 * (nl + na);
  size_t strs = 0;
  for (int i = 0; i < 6; i++) strs += fixed[i].n + 1;
  for (size_t i = 0; i < np; i++) strs += pairs[i].n + 1;
  size_t total = sizeof(sl_kube_pod_t) + np * sizeof(char *) + strs;
  sl_kube_pod_t *p = calloc(1, total);
  if (!p) return NULL;
  const char **ptrs = (const char **)(p + 1);
  char *w = (char *)(ptrs + np);
  const char **dst[6] = {&p->name, &p->namespace, &p->node, &p->ip, &p->phase, &p->owner};
  for (int i = 0; i < 6; i++) {
    memcpy(w, fixed[i].s, fixed[i].n);
    w[fixed[i].n] = '\0';
    *dst[i] = w;
    w += fixed[i].n + 1;
  }
  for (size_t i = 0; i < np; i++) {
    memcpy(w, pairs[i].s, pairs[i].n);
    w[pairs[i].n] = '\0';
    ptrs[i] = w;
    w += pairs[i].n + 1;
  }
  p->labels = ptrs;
  p->n_labels = nl;
  p->annotations = ptrs + 2 * nl;
  p->n_annotations = na;
  p->deleting = sl_json_get(meta, "deletionTimestamp") != NULL &&
                sl_json_get(meta, "deletionTimestamp")->type != SL_JSON_NULL;
  p->scheduled = *p->node != '\0';
  const sl_json_t *conds = sl_json_get(status, "conditions");
  for (size_t i = 0; conds && conds->type == SL_JSON_ARRAY && i < conds->n; i++) {
    const char *type = sl_json_str_or(sl_json_get(conds->items[i], "type"), "");
    int is_true = !strcmp(sl_json_str_or(sl_json_get(conds->items[i], "status"), ""), "True");
    if (!strcmp(type, "Ready")) {
      p->ready = is_true;
      sl_kube_time_parse(sl_json_str_or(sl_json_get(conds->items[i], "lastTransitionTime"), NULL),
                         &p->ready_time);
    } else if (!strcmp(type, "PodScheduled") && is_true) {
      p->scheduled = 1;
    }
  }
  sl_kube_time_parse(sl_json_str_or(sl_json_get(status, "startTime"), NULL), &p->start_time);
  p->gpu_milli = gpus_of(sl_json_get(spec, "containers"), gpus);
  p->size = total;
  if (bytes) *bytes = total;
  return p;
}

void sl_kube_pod_free(void *ud, void *rec) {
  free(rec);
}

int sl_kube_pod_equal(void *ud, const void *a, const void *b) {
  const sl_kube_pod_t *x = a, *y = b;
  if (x->size != y->size || x->n_labels != y->n_labels || x->n_annotations != y->n_annotations ||
      x->ready != y->ready || x->scheduled != y->scheduled || x->deleting != y->deleting ||
      x->gpu_milli != y->gpu_milli || x->start_time != y->start_time ||
      x->ready_time != y->ready_time)
    return 0;
  // Same shape: the packed strings decide.
  size_t np = 2 * (x->n_labels + x->n_annotations);
  const char *sx = x->name, *sy = y->name;
  size_t n = x->size - sizeof *x - np * sizeof(char *);
  return !memcmp(sx, sy, n);
}

const char *sl_kube_pod_label(const sl_kube_pod_t *p, const char *key) {
  for (size_t i = 0; i < p->n_labels; i++)
    if (!strcmp(p->labels[2 * i], key)) return p->labels[2 * i + 1];
  return NULL;
}
