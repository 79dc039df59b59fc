// Store: object state and the series kept per pod, variant and model. See store.h.
#include "core/state/store.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---- objects ------------------------------------------------------------------------------

const char *sl_store_phase_name(sl_pod_phase_t p) {
  static const char *const names[] = {"pending", "starting", "ready", "draining"};
  return (unsigned)p < 4 ? names[p] : "unknown";
}

void sl_store_set_pod_history(sl_store_t *st, int samples) {
  st->pod_cap = samples > 2 ? samples : 2;
}

int sl_store_pod_history_for(double window, double interval) {
  double n = ceil(window / (interval > 0 ? interval : 1)) + 8;
  return n < 16 ? 16 : n > 1024 ? 1024 : (int)n;
}

sl_store_t *sl_store_new(int samples_per_series) {
  sl_store_t *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  st->cap = samples_per_series > 2 ? samples_per_series : 2;
  st->pod_cap = st->cap;
  sl_map_init(&st->pods);
  sl_map_init(&st->variants);
  sl_map_init(&st->models);
  sl_map_init(&st->accels);
  return st;
}

static void series_free(sl_series_t *s) {
  if (!s) return;
  sl_series_deinit(s);
  free(s);
}

static void pod_free(sl_pod_t *p) {
  for (int i = 0; i < SL_M__COUNT; i++) series_free(p->m[i]);
  free(p->name);
  free(p->variant);
  free(p);
}

void sl_store_free(sl_store_t *st) {
  if (!st) return;
  for (size_t i = 0; i < st->pods.n_entries; i++)
    if (st->pods.entries[i].key) pod_free(st->pods.entries[i].value);
  for (size_t i = 0; i < st->variants.n_entries; i++) {
    sl_store_variant_t *v = st->variants.entries[i].value;
    if (!st->variants.entries[i].key) continue;
    for (int k = 0; k < SL_V__COUNT; k++) series_free(v->sig[k]);
    free(v->pods);
    free(v->id);
    free(v);
  }
  for (size_t i = 0; i < st->models.n_entries; i++) {
    sl_store_model_t *m = st->models.entries[i].value;
    if (!st->models.entries[i].key) continue;
    for (int k = 0; k < SL_M__COUNT; k++) series_free(m->m[k]);
    for (int k = 0; k < SL_G__COUNT; k++) series_free(m->sig[k]);
    free(m->name);
    free(m);
  }
  for (size_t i = 0; i < st->accels.n_entries; i++) {
    sl_store_accel_t *a = st->accels.entries[i].value;
    if (!st->accels.entries[i].key) continue;
    free(a->type);
    free(a);
  }
  sl_map_deinit(&st->pods);
  sl_map_deinit(&st->variants);
  sl_map_deinit(&st->models);
  sl_map_deinit(&st->accels);
  free(st);
}

sl_store_variant_t *sl_store_find_variant(const sl_store_t *st, const char *id) {
  return sl_map_get(&st->variants, id);
}

sl_store_model_t *sl_store_find_model(const sl_store_t *st, const char *name) {
  return sl_map_get(&st->models, name);
}

sl_store_variant_t *sl_store_variant(sl_store_t *st, const char *id) {
  sl_store_variant_t *v = sl_map_get(&st->variants, id);
  if (v) return v;
  v = calloc(1, sizeof *v);
  if (!v || !(v->id = strdup(id)) || sl_map_put(&st->variants, id, v) < 0) {
    if (v) free(v->id);
    free(v);
    return NULL;
  }
  v->counts_at = NAN;
  return v;
}

sl_store_model_t *sl_store_model(sl_store_t *st, const char *name) {
  sl_store_model_t *m = sl_map_get(&st->models, name);
  if (m) return m;
  m = calloc(1, sizeof *m);
  if (!m || !(m->name = strdup(name)) || sl_map_put(&st->models, name, m) < 0) {
    if (m) free(m->name);
    free(m);
    return NULL;
  }
  m->last_sample = -INFINITY;
  return m;
}

void sl_store_set_replicas(sl_store_t *st, const char *variant, int spec, int ready, int starting,
                           int pending) {
  sl_store_variant_t *v = sl_store_variant(st, variant);
  if (!v) return;
  v->spec = spec;
  v->ready = ready;
  v->starting = starting;
  v->pending = pending;
  v->counts_known = 1;
}

static void variant_unlink_pod(sl_store_t *st, sl_pod_t *p) {
  sl_store_variant_t *v = sl_map_get(&st->variants, p->variant);
  if (!v) return;
  for (int i = 0; i < v->npods; i++) {
    if (v->pods[i] != p) continue;
    memmove(v->pods + i, v->pods + i + 1, sizeof(*v->pods) * (v->npods - i - 1));
    v->npods--;
    return;
  }
}

static int variant_link_pod(sl_store_variant_t *v, sl_pod_t *p) {
  if (v->npods == v->cap_pods) {
    int cap = v->cap_pods ? v->cap_pods * 2 : 8;
    sl_pod_t **n = realloc(v->pods, sizeof(*n) * cap);
    if (!n) return SL_ENOMEM;
    v->pods = n;
    v->cap_pods = cap;
  }
  v->pods[v->npods++] = p;
  return SL_OK;
}

sl_pod_t *sl_store_set_pod(sl_store_t *st, const char *variant, const char *pod,
                           sl_pod_phase_t phase) {
  sl_store_variant_t *v = sl_store_variant(st, variant);
  if (!v) return NULL;
  sl_pod_t *p = sl_map_get(&st->pods, pod);
  if (p && strcmp(p->variant, variant) != 0) {
    variant_unlink_pod(st, p);
    char *nv = strdup(variant);
    if (!nv) return NULL;
    free(p->variant);
    p->variant = nv;
    if (variant_link_pod(v, p) < 0) return NULL;
  }
  if (!p) {
    p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->name = strdup(pod);
    p->variant = strdup(variant);
    p->last_sample = -INFINITY;
    if (!p->name || !p->variant || sl_map_put(&st->pods, pod, p) < 0) {
      pod_free(p);
      return NULL;
    }
    if (variant_link_pod(v, p) < 0) {
      sl_map_del(&st->pods, pod);
      pod_free(p);
      return NULL;
    }
  }
  p->phase = phase;
  return p;
}

void sl_store_remove_pod(sl_store_t *st, const char *pod) {
  sl_pod_t *p = sl_map_del(&st->pods, pod);
  if (!p) return;
  variant_unlink_pod(st, p);
  pod_free(p);
}

void sl_store_set_accelerator(sl_store_t *st, const char *type, int total, int used, double cost) {
  sl_store_accel_t *a = sl_map_get(&st->accels, type);
  if (!a) {
    a = calloc(1, sizeof *a);
    if (!a || !(a->type = strdup(type)) || sl_map_put(&st->accels, type, a) < 0) {
      if (a) free(a->type);
      free(a);
      return;
    }
  }
  a->total = total;
  a->used = used;
  a->cost = cost;
}

static sl_series_t *series_get(sl_series_t **slot, sl_kind_t kind, int cap) {
  if (*slot) return *slot;
  sl_series_t *s = malloc(sizeof *s);
  if (!s) return NULL;
  if (sl_series_init(s, kind, cap) < 0) {
    free(s);
    return NULL;
  }
  return *slot = s;
}

static int check_scope(sl_metric_t m, sl_scope_t scope, int hist, sl_err_t *err) {
  const sl_metric_info_t *mi = sl_metric_info(m);
  if (!mi) return sl_err(err, SL_EINVAL, "unknown metric %d", (int)m);
  if (mi->scope != scope)
    return sl_err(err, SL_EINVAL, "metric %s is %s-scoped", mi->name,
                  mi->scope == SL_SCOPE_POD ? "pod" : "model");
  if ((mi->kind == SL_KIND_HISTOGRAM) != hist)
    return sl_err(err, SL_EINVAL, "metric %s is %s a histogram", mi->name, hist ? "not" : "");
  return SL_OK;
}

sl_pod_t *sl_store_find_pod(const sl_store_t *st, const char *pod) {
  return sl_map_get(&st->pods, pod);
}

int sl_store_put_pod(sl_store_t *st, const char *pod, sl_metric_t m, double t, double v,
                     sl_err_t *err) {
  sl_pod_t *p = sl_map_get(&st->pods, pod);
  if (!p) return sl_err(err, SL_ENOTFOUND, "unknown pod %s", pod);
  return sl_store_put_pod_at(st, p, m, t, v, err);
}

int sl_store_put_pod_at(sl_store_t *st, sl_pod_t *p, sl_metric_t m, double t, double v,
                        sl_err_t *err) {
  int rc = check_scope(m, SL_SCOPE_POD, 0, err);
  if (rc < 0) return rc;
  sl_series_t *s = series_get(&p->m[m], sl_metric_info(m)->kind, st->pod_cap);
  if (!s) return sl_err(err, SL_ENOMEM, "out of memory");
  p->mask |= 1u << m;
  sl_series_push(s, t, v);
  if (t > p->last_sample) p->last_sample = t;
  return SL_OK;
}

int sl_store_put_pod_hist_at(sl_store_t *st, sl_pod_t *p, sl_metric_t m, double t,
                             const double *bounds, const double *cum, int nb, double sum,
                             double count, sl_err_t *err) {
  int rc = check_scope(m, SL_SCOPE_POD, 1, err);
  if (rc < 0) return rc;
  sl_series_t *s = series_get(&p->m[m], SL_KIND_HISTOGRAM, st->pod_cap);
  if (!s || sl_series_push_hist(s, t, bounds, cum, nb, sum, count) < 0)
    return sl_err(err, SL_ENOMEM, "out of memory");
  p->mask |= 1u << m;
  if (t > p->last_sample) p->last_sample = t;
  return SL_OK;
}

int sl_store_put_model(sl_store_t *st, const char *model, sl_metric_t m, double t, double v,
                       sl_err_t *err) {
  int rc = check_scope(m, SL_SCOPE_MODEL, 0, err);
  if (rc < 0) return rc;
  sl_store_model_t *mo = sl_store_model(st, model);
  sl_series_t *s = mo ? series_get(&mo->m[m], sl_metric_info(m)->kind, st->cap) : NULL;
  if (!s) return sl_err(err, SL_ENOMEM, "out of memory");
  sl_series_push(s, t, v);
  if (t > mo->last_sample) mo->last_sample = t;
  return SL_OK;
}

int sl_store_put_model_hist(sl_store_t *st, const char *model, sl_metric_t m, double t,
                            const double *bounds, const double *cum, int nb, double sum,
                            double count, sl_err_t *err) {
  int rc = check_scope(m, SL_SCOPE_MODEL, 1, err);
  if (rc < 0) return rc;
  sl_store_model_t *mo = sl_store_model(st, model);
  sl_series_t *s = mo ? series_get(&mo->m[m], SL_KIND_HISTOGRAM, st->cap) : NULL;
  if (!s || sl_series_push_hist(s, t, bounds, cum, nb, sum, count) < 0)
    return sl_err(err, SL_ENOMEM, "out of memory");
  if (t > mo->last_sample) mo->last_sample = t;
  return SL_OK;
}

int sl_store_put_variant_signal(sl_store_t *st, const char *variant, sl_vsig_t sig, double t,
                                double v) {
  if ((unsigned)sig >= SL_V__COUNT) return SL_EINVAL;
  sl_store_variant_t *va = sl_store_variant(st, variant);
  sl_series_t *s = va ? series_get(&va->sig[sig], SL_KIND_GAUGE, st->cap) : NULL;
  if (!s) return SL_ENOMEM;
  sl_series_push(s, t, v);
  va->direct |= 1u << sig;
  return SL_OK;
}

int sl_store_put_model_signal(sl_store_t *st, const char *model, sl_gsig_t sig, double t,
                              double v) {
  if ((unsigned)sig >= SL_G__COUNT) return SL_EINVAL;
  sl_store_model_t *mo = sl_store_model(st, model);
  sl_series_t *s = mo ? series_get(&mo->sig[sig], SL_KIND_GAUGE, st->cap) : NULL;
  if (!s) return SL_ENOMEM;
  sl_series_push(s, t, v);
  mo->direct |= 1u << sig;
  if (t > mo->last_sample) mo->last_sample = t;
  return SL_OK;
}
