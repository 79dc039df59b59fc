// Workload and scaler projections. See workload.h.
#include "core/kube/workload.h"

#include <stdlib.h>
#include <string.h>

#include "core/kube/pod.h"

static const char *const kept_prefixes[] = {"llm-d.ai/", "sluice.io/", NULL};
static const char *const gpu_resources[] = {"nvidia.com/gpu", "amd.com/gpu", NULL};

static char *dup_or_empty(const char *s) {
  return strdup(s ? s : "");
}

static int kept(const char *key) {
  for (const char *const *p = kept_prefixes; *p; p++)
    if (!strncmp(key, *p, strlen(*p))) return 1;
  return 0;
}

// Copies the string entries of a JSON object into flattened pairs, keeping those `want` accepts.
static int copy_pairs(const sl_json_t *obj, int (*want)(const char *), char ***out, size_t *n,
                      size_t *bytes) {
  *out = NULL;
  *n = 0;
  if (!obj || obj->type != SL_JSON_OBJECT) return 0;
  size_t k = 0;
  for (size_t i = 0; i < obj->n; i++)
    if (obj->items[i]->type == SL_JSON_STRING && (!want || want(obj->keys[i]))) k++;
  if (!k) return 0;
  char **p = calloc(2 * k, sizeof *p);
  if (!p) return -1;
  size_t j = 0;
  for (size_t i = 0; i < obj->n; i++) {
    if (obj->items[i]->type != SL_JSON_STRING || (want && !want(obj->keys[i]))) continue;
    p[j] = strdup(obj->keys[i]);
    p[j + 1] = strdup(obj->items[i]->str);
    if (!p[j] || !p[j + 1]) {
      for (size_t q = 0; q < j + 2; q++) free(p[q]);
      free(p);
      return -1;
    }
    *bytes += strlen(p[j]) + strlen(p[j + 1]) + 2 + 2 * sizeof(char *);
    j += 2;
  }
  *out = p;
  *n = k;
  return 0;
}

static void free_pairs(char **p, size_t n) {
  for (size_t i = 0; i < 2 * n; i++) free(p[i]);
  free(p);
}

static const char *pair_get(char *const *p, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(p[2 * i], key)) return p[2 * i + 1];
  return NULL;
}

static int pairs_equal(char *const *a, size_t na, char *const *b, size_t nb) {
  if (na != nb) return 0;
  for (size_t i = 0; i < 2 * na; i++)
    if (strcmp(a[i], b[i])) return 0;
  return 1;
}

// GPUs one pod of the template requests (limits when requests are absent).
static int64_t template_gpus(const sl_json_t *spec) {
  int64_t total = 0;
  const sl_json_t *cs = sl_json_get(spec, "containers");
  for (size_t i = 0; cs && cs->type == SL_JSON_ARRAY && i < cs->n; i++) {
    const sl_json_t *res = sl_json_get(cs->items[i], "resources");
    const sl_json_t *req = sl_json_get(res, "requests"), *lim = sl_json_get(res, "limits");
    for (const char *const *g = gpu_resources; *g; g++) {
      const char *q = sl_json_str_or(sl_json_get(req, *g), NULL);
      if (!q) q = sl_json_str_or(sl_json_get(lim, *g), NULL);
      const sl_json_t *num = !q ? sl_json_get(req, *g) : NULL;
      int64_t m = 0;
      if (q && sl_kube_quantity_milli(q, &m) == 0)
        total += m;
      else if (num && num->type == SL_JSON_NUMBER)
        total += (int64_t)(num->num * 1000);
    }
  }
  return total;
}

// The accelerator the template asks for: nodeSelector[label], else the first value of a
// required node-affinity term on that label.
static const char *template_accelerator(const sl_json_t *spec, const char *label) {
  const char *v = sl_json_str_or(sl_json_get(sl_json_get(spec, "nodeSelector"), label), NULL);
  if (v) return v;
  const sl_json_t *terms =
      sl_json_at(spec, "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution");
  terms = sl_json_get(terms, "nodeSelectorTerms");
  for (size_t i = 0; terms && terms->type == SL_JSON_ARRAY && i < terms->n; i++) {
    const sl_json_t *ex = sl_json_get(terms->items[i], "matchExpressions");
    for (size_t k = 0; ex && ex->type == SL_JSON_ARRAY && k < ex->n; k++) {
      const sl_json_t *e = ex->items[k];
      const sl_json_t *vals = sl_json_get(e, "values");
      if (!strcmp(sl_json_str_or(sl_json_get(e, "key"), ""), label) &&
          !strcmp(sl_json_str_or(sl_json_get(e, "operator"), ""), "In") && vals &&
          vals->type == SL_JSON_ARRAY && vals->n > 0)
        return sl_json_str_or(vals->items[0], NULL);
    }
  }
  return NULL;
}

void sl_kube_workload_free(void *ud, void *rec) {
  (void)ud;
  sl_kube_workload_t *w = rec;
  if (!w) return;
  free(w->name), free(w->namespace), free(w->accelerator);
  free_pairs(w->selector, w->n_selector);
  free_pairs(w->annotations, w->n_annotations);
  free(w);
}

void *sl_kube_workload_project(void *ud, const sl_json_t *obj, size_t *bytes) {
  const sl_kube_workload_proj_t *pj = ud;
  const char *label =
      pj && pj->accelerator_label ? pj->accelerator_label : "nvidia.com/gpu.product";
  sl_kube_workload_t *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  size_t b = sizeof *w;
  const sl_json_t *meta = sl_json_get(obj, "metadata"), *spec = sl_json_get(obj, "spec");
  w->lws = !strcmp(sl_json_str_or(sl_json_get(obj, "kind"), ""), "LeaderWorkerSet");
  w->name = dup_or_empty(sl_json_str_or(sl_json_get(meta, "name"), NULL));
  w->namespace = dup_or_empty(sl_json_str_or(sl_json_get(meta, "namespace"), NULL));
  const sl_json_t *r = sl_json_get(spec, "replicas");
  w->replicas = r && r->type == SL_JSON_NUMBER ? (int)r->num : 1;
  const sl_json_t *tpl;
  if (w->lws) {
    const sl_json_t *lwt = sl_json_get(spec, "leaderWorkerTemplate");
    const sl_json_t *size = sl_json_get(lwt, "size");
    w->group_size = size && size->type == SL_JSON_NUMBER && size->num >= 1 ? (int)size->num : 1;
    tpl = sl_json_get(lwt, "leaderTemplate");
    if (!tpl) tpl = sl_json_get(lwt, "workerTemplate");
    // LeaderWorkerSet pods carry the set's name; the selector is that label.
    w->selector = calloc(2, sizeof *w->selector);
    if (w->selector) {
      w->selector[0] = strdup("leaderworkerset.sigs.k8s.io/name");
      w->selector[1] = strdup(w->name);
      w->n_selector = 1;
    }
  } else {
    w->group_size = 1;
    tpl = sl_json_get(spec, "template");
    if (copy_pairs(sl_json_at(spec, "selector.matchLabels"), NULL, &w->selector, &w->n_selector,
                   &b) < 0)
      goto fail;
  }
  const sl_json_t *pspec = sl_json_get(tpl, "spec");
  w->gpu_milli = template_gpus(pspec);
  w->accelerator = dup_or_empty(template_accelerator(pspec, label));
  if (copy_pairs(sl_json_get(meta, "annotations"), kept, &w->annotations, &w->n_annotations, &b) <
      0)
    goto fail;
  if (!w->name || !w->namespace || !w->accelerator || (w->lws && !w->selector)) goto fail;
  b += strlen(w->name) + strlen(w->namespace) + strlen(w->accelerator) + 3;
  w->size = b;
  *bytes = b;
  return w;
fail:
  sl_kube_workload_free(NULL, w);
  return NULL;
}

int sl_kube_workload_equal(void *ud, const void *a, const void *b) {
  (void)ud;
  const sl_kube_workload_t *x = a, *y = b;
  return x->replicas == y->replicas && x->gpu_milli == y->gpu_milli &&
         x->group_size == y->group_size && x->lws == y->lws &&
         !strcmp(x->accelerator, y->accelerator) &&
         pairs_equal(x->selector, x->n_selector, y->selector, y->n_selector) &&
         pairs_equal(x->annotations, x->n_annotations, y->annotations, y->n_annotations);
}

const char *sl_kube_workload_annotation(const sl_kube_workload_t *w, const char *key) {
  return pair_get(w->annotations, w->n_annotations, key);
}

int sl_kube_workload_owns(const sl_kube_workload_t *w, const char *const *labels, size_t n) {
  if (!w->n_selector) return 0; // an empty selector would match everything: never
  for (size_t i = 0; i < w->n_selector; i++) {
    const char *want = w->selector[2 * i + 1], *got = NULL;
    for (size_t k = 0; k < n && !got; k++)
      if (!strcmp(labels[2 * k], w->selector[2 * i])) got = labels[2 * k + 1];
    if (!got || strcmp(got, want)) return 0;
  }
  if (w->lws) {
    for (size_t k = 0; k < n; k++)
      if (!strcmp(labels[2 * k], "leaderworkerset.sigs.k8s.io/worker-index"))
        return !strcmp(labels[2 * k + 1], "0");
  }
  return 1;
}

// ---- HPAs and ScaledObjects
// ----------------------------------------------------------------------

void sl_kube_scaler_free(void *ud, void *rec) {
  (void)ud;
  sl_kube_scaler_t *s = rec;
  if (!s) return;
  free(s->name), free(s->namespace), free(s->target_kind), free(s->target_name);
  free_pairs(s->annotations, s->n_annotations);
  free(s);
}

void *sl_kube_scaler_project(void *ud, const sl_json_t *obj, size_t *bytes) {
  (void)ud;
  sl_kube_scaler_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  size_t b = sizeof *s;
  const sl_json_t *meta = sl_json_get(obj, "metadata"), *spec = sl_json_get(obj, "spec");
  int keda = !strcmp(sl_json_str_or(sl_json_get(obj, "kind"), ""), "ScaledObject");
  const sl_json_t *ref = sl_json_get(spec, "scaleTargetRef");
  s->name = dup_or_empty(sl_json_str_or(sl_json_get(meta, "name"), NULL));
  s->namespace = dup_or_empty(sl_json_str_or(sl_json_get(meta, "namespace"), NULL));
  s->target_kind = dup_or_empty(sl_json_str_or(sl_json_get(ref, "kind"), "Deployment"));
  s->target_name = dup_or_empty(sl_json_str_or(sl_json_get(ref, "name"), NULL));
  const sl_json_t *mn = sl_json_get(spec, keda ? "minReplicaCount" : "minReplicas");
  const sl_json_t *mx = sl_json_get(spec, keda ? "maxReplicaCount" : "maxReplicas");
  s->min = mn && mn->type == SL_JSON_NUMBER ? (int)mn->num : keda ? 0 : 1;
  s->max = mx && mx->type == SL_JSON_NUMBER ? (int)mx->num : keda ? 100 : 1;
  if (copy_pairs(sl_json_get(meta, "annotations"), kept, &s->annotations, &s->n_annotations, &b) <
          0 ||
      !s->name || !s->namespace || !s->target_kind || !s->target_name) {
    sl_kube_scaler_free(NULL, s);
    return NULL;
  }
  b += strlen(s->name) + strlen(s->namespace) + strlen(s->target_kind) + strlen(s->target_name);
  s->size = b;
  *bytes = b;
  return s;
}

int sl_kube_scaler_equal(void *ud, const void *a, const void *b) {
  (void)ud;
  const sl_kube_scaler_t *x = a, *y = b;
  return x->min == y->min && x->max == y->max && !strcmp(x->target_kind, y->target_kind) &&
         !strcmp(x->target_name, y->target_name) &&
         pairs_equal(x->annotations, x->n_annotations, y->annotations, y->n_annotations);
}

const char *sl_kube_scaler_annotation(const sl_kube_scaler_t *s, const char *key) {
  return pair_get(s->annotations, s->n_annotations, key);
}
