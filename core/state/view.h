// The view: a read-only snapshot of the store built once per tick for all policies (docs/view.md).
// Aggregates pods into per-variant signals over the view window, records those signals back into
// the store so windowed queries over any view signal work, and carries what the guard last did.
#pragma once

#include <stdint.h>

#include "core/state/config.h"
#include "core/state/signals.h"
#include "core/state/store.h"

// What the guard last did for a variant; owned by the pipeline, read by the view.
typedef struct {
  int requested; // -1 = never
  int applied;   // -1 = never
  double at;     // NaN = never
} sl_last_t;

typedef struct {
  const char *name;
  sl_pod_phase_t phase;
  double age;
  double sig[SL_P__COUNT]; // NaN = missing
} sl_view_pod_t;

typedef struct {
  const sl_variant_t *desc;
  int spec, ready, starting, pending;
  sl_last_t last;
  double age;              // seconds since the freshest sample; INFINITY when none
  int stale;               // signals or object state older than the view's stale_after
  double state_age;        // seconds since a source confirmed the replica counts (NaN: never says)
  double sig[SL_V__COUNT]; // NaN = missing
  sl_view_pod_t *pods;
  int npods;
  int model; // index into models
  sl_store_variant_t *sv;
} sl_view_variant_t;

typedef struct {
  const char *name;
  double age;
  double sig[SL_G__COUNT];
  int *variants; // indexes into variants, ascending id
  int nvariants;
  sl_store_model_t *sm;
} sl_view_model_t;

typedef struct {
  const char *type;
  int total, used;
  double cost;
} sl_view_accel_t;

typedef struct sl_view {
  double time, window;
  uint64_t tick;
  sl_view_variant_t *variants; // ascending id
  int nvariants;
  sl_view_model_t *models; // ascending name
  int nmodels;
  sl_view_accel_t *accels; // ascending type
  int naccels;
  const sl_store_t *store;
  // storage reused across builds
  int variants_cap, models_cap, model_var_cap;
  sl_view_pod_t *pod_pool;
  int pod_cap;
  int *model_var_pool;
  // layout cache (see layout() in view.c)
  const sl_variant_t *lay_variants;
  int lay_n, lay_nm;
  const sl_store_t *lay_store;
  int *lay_order, *lay_model;
  const char **lay_names;
  struct sl_store_variant **lay_sv;
  double *hist_scratch;
  int hist_cap;
} sl_view_t;

typedef struct {
  double now, window, stale_after;
  const sl_variant_t *variants; // configured variants
  int nvariants;
  const sl_last_t *last;        // per configured variant (same order), or NULL
  const sl_accel_cfg_t *accels; // configured inventory, used when no source reports one
  int naccels;
} sl_view_params_t;

void sl_view_init(sl_view_t *v);
void sl_view_deinit(sl_view_t *v);
// Rebuilds the view from the store. Variants in the view are sorted by id; `order[i]` (if not
// NULL) receives the configured index of view variant i.
int sl_view_build(sl_view_t *v, sl_store_t *st, const sl_view_params_t *p, int *order,
                  sl_err_t *err);

int sl_view_find_variant(const sl_view_t *v, const char *id);
int sl_view_find_model(const sl_view_t *v, const char *name);

// Windowed queries (NaN when the window holds too little data). Variant signals are the view's
// recorded history; counters and histograms are summed / merged over the variant's pods.
double sl_view_variant_over(const sl_view_t *v, int vi, sl_vsig_t s, double window, int how);
double sl_view_model_over(const sl_view_t *v, int mi, sl_gsig_t s, double window, int how);
enum { SL_OVER_AVG, SL_OVER_MAX, SL_OVER_MIN };
double sl_view_variant_rate(const sl_view_t *v, int vi, sl_metric_t counter, double window);
double sl_view_model_rate(const sl_view_t *v, int mi, sl_metric_t counter, double window);
double sl_view_variant_quantile(sl_view_t *v, int vi, sl_metric_t hist, double q, double window);
double sl_view_model_quantile(sl_view_t *v, int mi, sl_metric_t hist, double q, double window);
