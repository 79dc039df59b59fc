// The store: what sources know, in one place. Time series (ring buffers with windowed rate, max,
// mean and quantile-from-histogram) and object state (variants' replica counts, pods and their
// phases, inventory). Live scraping, the simulator and the fixture source all fill it the same
// way; the view builder is its only reader on the decision path.
#pragma once

#include <stdint.h>

#include "core/state/series.h"
#include "core/state/signals.h"
#include "core/util/err.h"
#include "core/util/map.h"

// ---- objects ------------------------------------------------------------------------------

typedef enum { SL_POD_PENDING, SL_POD_STARTING, SL_POD_READY, SL_POD_DRAINING } sl_pod_phase_t;
const char *sl_store_phase_name(sl_pod_phase_t p);

typedef struct sl_pod {
  char *name;
  char *variant; // variant id
  sl_pod_phase_t phase;
  double last_sample;          // time of the freshest sample, -inf when none
  uint32_t mask;               // bit m: m[m] exists
  sl_series_t *m[SL_M__COUNT]; // lazily created, pod-scope metrics only
} sl_pod_t;

typedef struct sl_store_variant {
  char *id;
  int spec, ready, starting, pending;
  int counts_known;              // a source reported replica counts
  double counts_at;              // when a source last confirmed them (NaN: it does not say)
  sl_series_t *sig[SL_V__COUNT]; // history of the view's signals (and fixture-given values)
  unsigned direct;               // bit i: sig[i] is given by a source, not derived from pods
  sl_pod_t **pods;               // borrowed from the pod map, in insertion order
  int npods, cap_pods;
} sl_store_variant_t;

typedef struct sl_store_model {
  char *name;
  double last_sample;
  sl_series_t *m[SL_M__COUNT];   // gateway-scope metrics
  sl_series_t *sig[SL_G__COUNT]; // history of the view's gateway signals
  unsigned direct;
} sl_store_model_t;

typedef struct {
  char *type;
  int total, used;
  double cost; // per GPU-hour
} sl_store_accel_t;

typedef struct sl_store {
  int cap;           // samples kept per series
  int pod_cap;       // ... per pod series (default cap): pods are many, the view reads a window
  sl_map_t pods;     // name -> sl_pod_t
  sl_map_t variants; // id -> sl_store_variant_t
  sl_map_t models;   // name -> sl_store_model_t
  sl_map_t accels;   // type -> sl_store_accel_t
} sl_store_t;

sl_store_t *sl_store_new(int samples_per_series);
// Samples kept per pod series from now on (series already made keep theirs). A fleet's pods hold
// most of the store; what the view derives from them needs only the view's window, while the
// per-variant and per-model series keep samples_per_series for the policies' longer windows.
void sl_store_set_pod_history(sl_store_t *st, int samples);
// The samples a pod series needs so that every windowed query over `window` seconds (the view's,
// the longest a signal is computed over) finds its samples at one scrape every `interval`
// seconds, with room for a late scrape or two: window / interval + 8, within 16..1024.
int sl_store_pod_history_for(double window, double interval);
void sl_store_free(sl_store_t *st);

sl_store_variant_t *sl_store_variant(sl_store_t *st, const char *id); // creates
sl_store_model_t *sl_store_model(sl_store_t *st, const char *name);   // creates
sl_store_variant_t *sl_store_find_variant(const sl_store_t *st, const char *id);
sl_store_model_t *sl_store_find_model(const sl_store_t *st, const char *name);

void sl_store_set_replicas(sl_store_t *st, const char *variant, int spec, int ready, int starting,
                           int pending);
// Adds or updates a pod of a variant; a pod that moves to another variant is re-parented.
sl_pod_t *sl_store_set_pod(sl_store_t *st, const char *variant, const char *pod,
                           sl_pod_phase_t phase);
void sl_store_remove_pod(sl_store_t *st, const char *pod);
void sl_store_set_accelerator(sl_store_t *st, const char *type, int total, int used, double cost);

// Samples. Metric scope must match (pod metrics on pods, gateway metrics on models).
// A source writing many metrics of one pod looks the pod up once and uses the _at forms.
sl_pod_t *sl_store_find_pod(const sl_store_t *st, const char *pod);
int sl_store_put_pod_at(sl_store_t *st, sl_pod_t *p, sl_metric_t m, double t, double v,
                        sl_err_t *err);
int sl_store_put_pod_hist_at(sl_store_t *st, sl_pod_t *p, sl_metric_t m, double t,
                             const double *bounds, const double *cum, int nb, double sum,
                             double count, sl_err_t *err);
int sl_store_put_pod(sl_store_t *st, const char *pod, sl_metric_t m, double t, double v,
                     sl_err_t *err);
int sl_store_put_model(sl_store_t *st, const char *model, sl_metric_t m, double t, double v,
                       sl_err_t *err);
int sl_store_put_model_hist(sl_store_t *st, const char *model, sl_metric_t m, double t,
                            const double *bounds, const double *cum, int nb, double sum,
                            double count, sl_err_t *err);
// A value of a view signal given directly by a source (fixtures, recorded views): it wins over
// what the view builder would derive from pods.
int sl_store_put_variant_signal(sl_store_t *st, const char *variant, sl_vsig_t s, double t,
                                double v);
int sl_store_put_model_signal(sl_store_t *st, const char *model, sl_gsig_t s, double t, double v);
