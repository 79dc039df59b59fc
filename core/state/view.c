// View builder and windowed queries. See view.h.
#include "core/state/view.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sl_view_init(sl_view_t *v) {
  memset(v, 0, sizeof *v);
}

void sl_view_deinit(sl_view_t *v) {
  free(v->lay_order);
  free(v->lay_names);
  free(v->lay_model);
  free(v->lay_sv);
  free(v->variants);
  free(v->models);
  free(v->accels);
  free(v->pod_pool);
  free(v->model_var_pool);
  free(v->hist_scratch);
  memset(v, 0, sizeof *v);
}

static int ensure(void **p, int *cap, int need, size_t size) {
  if (need <= *cap) return SL_OK;
  int n = *cap ? *cap : 16;
  while (n < need) n *= 2;
  void *q = realloc(*p, (size_t)n * size);
  if (!q) return SL_ENOMEM;
  *p = q;
  *cap = n;
  return SL_OK;
}

static const sl_variant_t *const *g_sort_variants; // qsort has no context argument in C11
static int cmp_variant(const void *a, const void *b) {
  return strcmp(g_sort_variants[*(const int *)a]->id, g_sort_variants[*(const int *)b]->id);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_accel(const void *a, const void *b) {
  return strcmp(((const sl_view_accel_t *)a)->type, ((const sl_view_accel_t *)b)->type);
}

// Merges the window delta of one histogram metric over pods into v->hist_scratch. Returns the
// bucket count (0 when no pod had two samples in the window) and the layout's bounds.
static int merge_hist(sl_view_t *v, sl_pod_t *const *pods, int npods, sl_metric_t m, double window,
                      const double **bounds, double *sum, double *count) {
  int nb = 0;
  *sum = *count = 0;
  *bounds = NULL;
  for (int i = 0; i < npods; i++) {
    const sl_series_t *s = pods[i]->m[m];
    if (!s || !s->nb) continue;
    if (!nb) {
      nb = s->nb;
      *bounds = s->bounds;
      if (ensure((void **)&v->hist_scratch, &v->hist_cap, nb, sizeof(double)) < 0) return 0;
      memset(v->hist_scratch, 0, sizeof(double) * nb);
    } else if (s->nb != nb || memcmp(s->bounds, *bounds, sizeof(double) * nb) != 0) {
      continue; // a pod with another bucket layout cannot be merged
    }
    sl_series_hist_delta(s, v->time, window, v->hist_scratch, sum, count);
  }
  return nb;
}

static double pods_rate(const sl_view_t *v, sl_pod_t *const *pods, int npods, sl_metric_t m,
                        double window) {
  double total = 0;
  int any = 0;
  for (int i = 0; i < npods; i++) {
    double r = sl_series_rate(pods[i]->m[m], v->time, window);
    if (isnan(r)) continue;
    total += r;
    any = 1;
  }
  return any ? total : NAN;
}

static double pods_increase(const sl_view_t *v, sl_pod_t *const *pods, int npods, sl_metric_t m,
                            double window) {
  double total = 0;
  int any = 0;
  for (int i = 0; i < npods; i++) {
    double x = sl_series_increase(pods[i]->m[m], v->time, window, NULL);
    if (isnan(x)) continue;
    total += x;
    any = 1;
  }
  return any ? total : NAN;
}

static void derive_variant(sl_view_t *v, sl_view_variant_t *vv, double window) {
  sl_store_variant_t *sv = vv->sv;
  for (int i = 0; i < SL_V__COUNT; i++) vv->sig[i] = NAN;
  if (!sv) return;
  // Latest gauges over Ready pods.
  double waiting = 0, running = 0, kv_sum = 0, kv_max = NAN, cap = 0;
  int n_w = 0, n_r = 0, n_kv = 0, n_cap = 0;
  for (int i = 0; i < sv->npods; i++) {
    sl_pod_t *p = sv->pods[i];
    if (p->phase != SL_POD_READY) continue;
    double x;
    if (!isnan(x = sl_series_last(p->m[SL_M_WAITING], NULL))) waiting += x, n_w++;
    if (!isnan(x = sl_series_last(p->m[SL_M_RUNNING], NULL))) running += x, n_r++;
    if (!isnan(x = sl_series_last(p->m[SL_M_KV_USAGE], NULL))) {
      kv_sum += x, n_kv++;
      if (isnan(kv_max) || x > kv_max) kv_max = x;
    }
    if (!isnan(x = sl_series_last(p->m[SL_M_KV_CAPACITY_TOKENS], NULL))) cap += x, n_cap++;
  }
  if (n_w) vv->sig[SL_V_WAITING] = waiting;
  if (n_r) vv->sig[SL_V_RUNNING] = running;
  if (n_kv) vv->sig[SL_V_KV_USAGE] = kv_sum / n_kv, vv->sig[SL_V_KV_USAGE_MAX] = kv_max;
  if (n_cap) vv->sig[SL_V_KV_CAPACITY_TOKENS] = cap;
  // Which metrics any pod reports: windows over metrics nobody sends are skipped.
  uint32_t have = 0;
  for (int i = 0; i < sv->npods; i++) have |= sv->pods[i]->mask;
#define HAVE(m) (have & (1u << (m)))
  // Rates over all pods: completions of a draining pod still happened.
  if (HAVE(SL_M_REQUESTS))
    vv->sig[SL_V_REQUEST_RATE] = pods_rate(v, sv->pods, sv->npods, SL_M_REQUESTS, window);
  if (HAVE(SL_M_PROMPT_TOKENS))
    vv->sig[SL_V_PROMPT_TOKENS_RATE] =
        pods_rate(v, sv->pods, sv->npods, SL_M_PROMPT_TOKENS, window);
  if (HAVE(SL_M_GENERATION_TOKENS))
    vv->sig[SL_V_GENERATION_TOKENS_RATE] =
        pods_rate(v, sv->pods, sv->npods, SL_M_GENERATION_TOKENS, window);
  if (HAVE(SL_M_PREEMPTIONS))
    vv->sig[SL_V_PREEMPTION_RATE] = pods_rate(v, sv->pods, sv->npods, SL_M_PREEMPTIONS, window);
  if (HAVE(SL_M_PREFIX_HITS) && HAVE(SL_M_PREFIX_QUERIES)) {
    double hits = pods_increase(v, sv->pods, sv->npods, SL_M_PREFIX_HITS, window);
    double queries = pods_increase(v, sv->pods, sv->npods, SL_M_PREFIX_QUERIES, window);
    if (!isnan(hits) && queries > 0) vv->sig[SL_V_PREFIX_HIT_RATE] = hits / queries;
  }
  const double *bounds;
  double sum, count;
  if (HAVE(SL_M_REQ_PROMPT_TOKENS) &&
      merge_hist(v, sv->pods, sv->npods, SL_M_REQ_PROMPT_TOKENS, window, &bounds, &sum, &count) &&
      count > 0)
    vv->sig[SL_V_INPUT_TOKENS_MEAN] = sum / count;
  if (HAVE(SL_M_REQ_GEN_TOKENS) &&
      merge_hist(v, sv->pods, sv->npods, SL_M_REQ_GEN_TOKENS, window, &bounds, &sum, &count) &&
      count > 0)
    vv->sig[SL_V_OUTPUT_TOKENS_MEAN] = sum / count;
  static const struct {
    sl_metric_t m;
    sl_vsig_t mean, p50, p90, p99;
  } lat[] = {{SL_M_TTFT, SL_V_TTFT_MEAN, SL_V_TTFT_P50, SL_V_TTFT_P90, SL_V_TTFT_P99},
             {SL_M_ITL, SL_V_ITL_MEAN, SL_V_ITL_P50, SL_V_ITL_P90, SL_V_ITL_P99}};
  for (int k = 0; k < 2; k++) {
    if (!HAVE(lat[k].m)) continue;
    int nb = merge_hist(v, sv->pods, sv->npods, lat[k].m, window, &bounds, &sum, &count);
    if (!nb || !(count > 0)) continue;
    vv->sig[lat[k].mean] = sum / count;
    vv->sig[lat[k].p50] = sl_series_hist_quantile(bounds, v->hist_scratch, nb, 0.50);
    vv->sig[lat[k].p90] = sl_series_hist_quantile(bounds, v->hist_scratch, nb, 0.90);
    vv->sig[lat[k].p99] = sl_series_hist_quantile(bounds, v->hist_scratch, nb, 0.99);
  }
#undef HAVE
}

static sl_series_t *sig_series(sl_series_t **slot, int cap) {
  if (*slot) return *slot;
  sl_series_t *s = malloc(sizeof *s);
  if (!s || sl_series_init(s, SL_KIND_GAUGE, cap) < 0) {
    free(s);
    return NULL;
  }
  return *slot = s;
}

static void record_variant(sl_store_t *st, sl_view_variant_t *vv, double now) {
  sl_store_variant_t *sv = vv->sv;
  for (int i = 0; i < SL_V__COUNT; i++) {
    if (sv->direct & (1u << i)) {
      // Given by a source: the view shows its latest value, history is what the source wrote.
      vv->sig[i] = sl_series_last(sv->sig[i], NULL);
      continue;
    }
    if (!sv->sig[i] && isnan(vv->sig[i])) continue; // a signal never seen has no history yet
    sl_series_t *s = sig_series(&sv->sig[i], st->cap);
    if (s) sl_series_push(s, now, vv->sig[i]);
  }
}

static void derive_model(sl_view_t *v, sl_view_model_t *vm, double window) {
  sl_store_model_t *sm = vm->sm;
  for (int i = 0; i < SL_G__COUNT; i++) vm->sig[i] = NAN;
  vm->age = INFINITY;
  if (!sm) return;
  vm->age = isinf(sm->last_sample) ? INFINITY : v->time - sm->last_sample;
  vm->sig[SL_G_QUEUE_SIZE] = sl_series_last(sm->m[SL_M_GW_QUEUE_SIZE], NULL);
  vm->sig[SL_G_QUEUE_BYTES] = sl_series_last(sm->m[SL_M_GW_QUEUE_BYTES], NULL);
  vm->sig[SL_G_RUNNING] = sl_series_last(sm->m[SL_M_GW_RUNNING], NULL);
  vm->sig[SL_G_SATURATION] = sl_series_last(sm->m[SL_M_GW_SATURATION], NULL);
  vm->sig[SL_G_INFLIGHT_TOKENS] = sl_series_last(sm->m[SL_M_GW_INFLIGHT_TOKENS], NULL);
  vm->sig[SL_G_READY_ENDPOINTS] = sl_series_last(sm->m[SL_M_GW_READY_ENDPOINTS], NULL);
  vm->sig[SL_G_ARRIVAL_RATE] = sl_series_rate(sm->m[SL_M_GW_REQUESTS], v->time, window);
  vm->sig[SL_G_DROP_RATE] = sl_series_rate(sm->m[SL_M_GW_DROPPED], v->time, window);
  const sl_series_t *qd = sm->m[SL_M_GW_QUEUE_DURATION];
  if (qd && qd->nb) {
    double sum = 0, count = 0;
    if (ensure((void **)&v->hist_scratch, &v->hist_cap, qd->nb, sizeof(double)) == 0) {
      memset(v->hist_scratch, 0, sizeof(double) * qd->nb);
      if (sl_series_hist_delta(qd, v->time, window, v->hist_scratch, &sum, &count) && count > 0)
        vm->sig[SL_G_QUEUE_DURATION_MEAN] = sum / count;
    }
  }
}

static void record_model(sl_store_t *st, sl_view_model_t *vm, double now) {
  sl_store_model_t *sm = vm->sm;
  for (int i = 0; i < SL_G__COUNT; i++) {
    if (sm->direct & (1u << i)) {
      vm->sig[i] = sl_series_last(sm->sig[i], NULL);
      continue;
    }
    sl_series_t *s = sig_series(&sm->sig[i], st->cap);
    if (s) sl_series_push(s, now, vm->sig[i]);
  }
}

// The layout (id order, models, store entries) depends only on the configured variants, which
// do not change between ticks: compute it once and reuse it.
static int layout(sl_view_t *v, sl_store_t *st, const sl_view_params_t *p, sl_err_t *err) {
  int n = p->nvariants;
  if (v->lay_variants == p->variants && v->lay_n == n && v->lay_store == st) return SL_OK;
  free(v->lay_order), free(v->lay_names), free(v->lay_model), free(v->lay_sv);
  v->lay_order = malloc(sizeof(int) * (n ? n : 1));
  v->lay_names = malloc(sizeof(char *) * (n ? n : 1));
  v->lay_model = malloc(sizeof(int) * (n ? n : 1));
  v->lay_sv = malloc(sizeof(*v->lay_sv) * (n ? n : 1));
  const sl_variant_t **vp = malloc(sizeof(*vp) * (n ? n : 1));
  if (!v->lay_order || !v->lay_names || !v->lay_model || !v->lay_sv || !vp) {
    free(vp);
    v->lay_variants = NULL;
    return sl_err(err, SL_ENOMEM, "out of memory building the view");
  }
  for (int i = 0; i < n; i++) v->lay_order[i] = i, vp[i] = &p->variants[i];
  g_sort_variants = vp;
  qsort(v->lay_order, n, sizeof(int), cmp_variant);
  free(vp);
  const char **names = v->lay_names;
  for (int i = 0; i < n; i++) names[i] = p->variants[i].model;
  qsort(names, n, sizeof(char *), cmp_str);
  int nm = 0;
  for (int i = 0; i < n; i++)
    if (nm == 0 || strcmp(names[nm - 1], names[i])) names[nm++] = names[i];
  v->lay_nm = nm;
  for (int i = 0; i < n; i++) {
    const sl_variant_t *d = &p->variants[v->lay_order[i]];
    const char **hit = bsearch(&d->model, names, nm, sizeof(char *), cmp_str);
    v->lay_model[i] = hit ? (int)(hit - names) : -1;
    if (!(v->lay_sv[i] = sl_store_variant(st, d->id))) {
      v->lay_variants = NULL;
      return sl_err(err, SL_ENOMEM, "out of memory building the view");
    }
  }
  v->lay_variants = p->variants;
  v->lay_n = n;
  v->lay_store = st;
  return SL_OK;
}

int sl_view_build(sl_view_t *v, sl_store_t *st, const sl_view_params_t *p, int *order,
                  sl_err_t *err) {
  int n = p->nvariants;
  v->time = p->now;
  v->window = p->window;
  v->store = st;
  v->tick++;
  int rc = layout(v, st, p, err);
  if (rc < 0) return rc;
  int nm = v->lay_nm;
  const char **names = v->lay_names;
  const int *ord = v->lay_order;
  if (ensure((void **)&v->variants, &v->variants_cap, n + 1, sizeof *v->variants) < 0 ||
      ensure((void **)&v->models, &v->models_cap, nm + 1, sizeof *v->models) < 0 ||
      ensure((void **)&v->model_var_pool, &v->model_var_cap, n + 1, sizeof(int)) < 0)
    return sl_err(err, SL_ENOMEM, "out of memory building the view");
  memset(v->variants, 0, sizeof *v->variants * (n ? n : 1));
  memset(v->models, 0, sizeof *v->models * (nm ? nm : 1));
  v->nvariants = n;
  v->nmodels = nm;

  // Pods: count first, then lay out in one pool.
  int npods = 0;
  for (int i = 0; i < n; i++) npods += v->lay_sv[i]->npods;
  if (ensure((void **)&v->pod_pool, &v->pod_cap, npods + 1, sizeof(sl_view_pod_t)) < 0) goto oom;

  int pod_at = 0;
  for (int i = 0; i < n; i++) {
    int ci = ord[i];
    if (order) order[i] = ci;
    const sl_variant_t *d = &p->variants[ci];
    sl_view_variant_t *vv = &v->variants[i];
    vv->desc = d;
    vv->sv = v->lay_sv[i];
    vv->last = p->last ? p->last[ci] : (sl_last_t){-1, -1, NAN};
    vv->model = v->lay_model[i];
    sl_store_variant_t *sv = vv->sv;
    vv->pods = v->pod_pool + pod_at;
    vv->npods = sv->npods;
    double freshest = -INFINITY;
    int ready = 0, starting = 0, pending = 0;
    for (int k = 0; k < sv->npods; k++) {
      sl_pod_t *pod = sv->pods[k];
      sl_view_pod_t *vp2 = &vv->pods[k];
      vp2->name = pod->name;
      vp2->phase = pod->phase;
      vp2->age = isinf(pod->last_sample) ? INFINITY : p->now - pod->last_sample;
      vp2->sig[SL_P_WAITING] = sl_series_last(pod->m[SL_M_WAITING], NULL);
      vp2->sig[SL_P_RUNNING] = sl_series_last(pod->m[SL_M_RUNNING], NULL);
      vp2->sig[SL_P_KV_USAGE] = sl_series_last(pod->m[SL_M_KV_USAGE], NULL);
      vp2->sig[SL_P_KV_CAPACITY_TOKENS] = sl_series_last(pod->m[SL_M_KV_CAPACITY_TOKENS], NULL);
      if (pod->last_sample > freshest) freshest = pod->last_sample;
      ready += pod->phase == SL_POD_READY;
      starting += pod->phase == SL_POD_STARTING;
      pending += pod->phase == SL_POD_PENDING;
    }
    pod_at += sv->npods;
    if (sv->counts_known) {
      vv->spec = sv->spec, vv->ready = sv->ready, vv->starting = sv->starting;
      vv->pending = sv->pending;
    } else {
      vv->ready = ready, vv->starting = starting, vv->pending = pending;
      vv->spec = ready + starting + pending;
    }
    derive_variant(v, vv, p->window);
    for (int k = 0; k < SL_V__COUNT; k++) {
      double t;
      if ((sv->direct & (1u << k)) && sv->sig[k]) {
        sl_series_last(sv->sig[k], &t);
        if (t > freshest) freshest = t;
      }
    }
    record_variant(st, vv, p->now);
    vv->age = isinf(freshest) ? INFINITY : p->now - freshest;
    // With no Ready replica there is nothing to sample: not stale, just empty.
    vv->stale = p->stale_after > 0 && vv->ready > 0 && vv->age > p->stale_after;
    // A source that watches object state (the Kubernetes informers) says when it last could;
    // counts it has not confirmed for longer are as stale as old samples.
    vv->state_age = isnan(sv->counts_at) ? NAN : p->now - sv->counts_at;
    if (p->stale_after > 0 && vv->state_age > p->stale_after) vv->stale = 1;
  }

  // Each model's variants, in id order: count, lay out, fill.
  int *counts = calloc(nm ? nm : 1, sizeof(int));
  if (!counts) goto oom;
  for (int i = 0; i < n; i++) counts[v->variants[i].model]++;
  int at = 0;
  for (int k = 0; k < nm; k++) {
    sl_view_model_t *vm = &v->models[k];
    vm->name = names[k];
    vm->sm = sl_store_model(st, names[k]);
    if (!vm->sm) goto oom;
    vm->variants = v->model_var_pool + at;
    vm->nvariants = 0;
    at += counts[k];
  }
  for (int i = 0; i < n; i++) {
    sl_view_model_t *vm = &v->models[v->variants[i].model];
    vm->variants[vm->nvariants++] = i;
  }
  free(counts);
  for (int k = 0; k < nm; k++) {
    derive_model(v, &v->models[k], p->window);
    record_model(st, &v->models[k], p->now);
  }

  // Inventory: what sources report, else the configuration with usage from replica counts.
  int na = (int)sl_map_len(&st->accels);
  int from_config = na == 0;
  if (from_config) na = p->naccels;
  free(v->accels);
  v->accels = calloc(na ? na : 1, sizeof *v->accels);
  if (!v->accels) goto oom;
  v->naccels = 0;
  if (!from_config) {
    for (size_t i = 0; i < st->accels.n_entries; i++) {
      if (!st->accels.entries[i].key) continue;
      sl_store_accel_t *a = st->accels.entries[i].value;
      v->accels[v->naccels++] = (sl_view_accel_t){a->type, a->total, a->used, a->cost};
    }
  } else {
    for (int i = 0; i < p->naccels; i++) {
      sl_view_accel_t *a = &v->accels[v->naccels++];
      *a = (sl_view_accel_t){p->accels[i].type, p->accels[i].count, 0, p->accels[i].cost};
      for (int k = 0; k < n; k++) {
        const sl_view_variant_t *vv = &v->variants[k];
        if (!strcmp(vv->desc->accelerator, a->type))
          a->used += (vv->ready + vv->starting) * vv->desc->gpus_per_replica;
      }
    }
  }
  qsort(v->accels, v->naccels, sizeof *v->accels, cmp_accel);
  return SL_OK;
oom:
  return sl_err(err, SL_ENOMEM, "out of memory building the view");
}

int sl_view_find_variant(const sl_view_t *v, const char *id) {
  int lo = 0, hi = v->nvariants - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2, c = strcmp(v->variants[mid].desc->id, id);
    if (!c) return mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid - 1;
  }
  return -1;
}

int sl_view_find_model(const sl_view_t *v, const char *name) {
  for (int i = 0; i < v->nmodels; i++)
    if (!strcmp(v->models[i].name, name)) return i;
  return -1;
}

static double over(const sl_series_t *s, double now, double window, int how) {
  switch (how) {
  case SL_OVER_MAX:
    return sl_series_max_over(s, now, window);
  case SL_OVER_MIN:
    return sl_series_min_over(s, now, window);
  default:
    return sl_series_avg_over(s, now, window);
  }
}

double sl_view_variant_over(const sl_view_t *v, int vi, sl_vsig_t s, double window, int how) {
  if (vi < 0 || vi >= v->nvariants || (unsigned)s >= SL_V__COUNT) return NAN;
  return over(v->variants[vi].sv->sig[s], v->time, window, how);
}

double sl_view_model_over(const sl_view_t *v, int mi, sl_gsig_t s, double window, int how) {
  if (mi < 0 || mi >= v->nmodels || (unsigned)s >= SL_G__COUNT) return NAN;
  return over(v->models[mi].sm->sig[s], v->time, window, how);
}

double sl_view_variant_rate(const sl_view_t *v, int vi, sl_metric_t counter, double window) {
  if (vi < 0 || vi >= v->nvariants) return NAN;
  const sl_metric_info_t *mi = sl_metric_info(counter);
  if (!mi || mi->kind != SL_KIND_COUNTER || mi->scope != SL_SCOPE_POD) return NAN;
  const sl_store_variant_t *sv = v->variants[vi].sv;
  return pods_rate(v, sv->pods, sv->npods, counter, window);
}

double sl_view_model_rate(const sl_view_t *v, int mi, sl_metric_t counter, double window) {
  if (mi < 0 || mi >= v->nmodels) return NAN;
  const sl_metric_info_t *info = sl_metric_info(counter);
  if (!info || info->kind != SL_KIND_COUNTER || info->scope != SL_SCOPE_MODEL) return NAN;
  return sl_series_rate(v->models[mi].sm->m[counter], v->time, window);
}

double sl_view_variant_quantile(sl_view_t *v, int vi, sl_metric_t hist, double q, double window) {
  if (vi < 0 || vi >= v->nvariants) return NAN;
  const sl_metric_info_t *mi = sl_metric_info(hist);
  if (!mi || mi->kind != SL_KIND_HISTOGRAM || mi->scope != SL_SCOPE_POD) return NAN;
  const sl_store_variant_t *sv = v->variants[vi].sv;
  const double *bounds;
  double sum, count;
  int nb = merge_hist(v, sv->pods, sv->npods, hist, window, &bounds, &sum, &count);
  if (!nb || !(count > 0)) return NAN;
  return sl_series_hist_quantile(bounds, v->hist_scratch, nb, q);
}

double sl_view_model_quantile(sl_view_t *v, int mi, sl_metric_t hist, double q, double window) {
  if (mi < 0 || mi >= v->nmodels) return NAN;
  const sl_metric_info_t *info = sl_metric_info(hist);
  if (!info || info->kind != SL_KIND_HISTOGRAM || info->scope != SL_SCOPE_MODEL) return NAN;
  const sl_series_t *s = v->models[mi].sm->m[hist];
  if (!s || !s->nb) return NAN;
  if (ensure((void **)&v->hist_scratch, &v->hist_cap, s->nb, sizeof(double)) < 0) return NAN;
  memset(v->hist_scratch, 0, sizeof(double) * s->nb);
  double sum = 0, count = 0;
  if (!sl_series_hist_delta(s, v->time, window, v->hist_scratch, &sum, &count) || !(count > 0))
    return NAN;
  return sl_series_hist_quantile(s->bounds, v->hist_scratch, s->nb, q);
}
