// The clairvoyant reference: per time bin, the fewest whole replicas, placed as cheaply as the
// inventory allows, whose per-replica highest rate under the SLO (from the calibrated queueing
// kernel, core/model/queue.h) covers that bin's arrival rate at that bin's token mix, with zero
// start-up. Also the per-replica capacity the simulator uses for warm starts, --peak-replicas and
// reaction times.
#pragma once

#include <stddef.h>

#include "core/sim/cluster.h"
#include "core/util/map.h"

// Demand per bin and model, index [bin * nmodels + model].
typedef struct {
  double bin_s;
  size_t n;
  int nmodels;
  double end; // where the last bin ends (it may be shorter than bin_s)
  double *count, *in_sum, *out_sum;
} sl_clair_bins_t;

int sl_clair_bins_init(sl_clair_bins_t *b, double bin_s, int nmodels, size_t n);
// Makes room for bin i (zero-filled).
int sl_clair_bins_reserve(sl_clair_bins_t *b, size_t i);
void sl_clair_bins_free(sl_clair_bins_t *b);
// Seconds covered by bin i.
double sl_clair_bins_len(const sl_clair_bins_t *b, size_t i);

typedef struct {
  const sl_cluster_t *cl;
  double percentile; // 0: the SLO's targets apply to means; else to that percentile
  sl_map_t memo;     // per (variant, token mix) max rate
} sl_clair_t;

int sl_clair_init(sl_clair_t *c, const sl_cluster_t *cl, double percentile);
void sl_clair_deinit(sl_clair_t *c);

// Highest rate (req/s) one replica of variant v sustains under its SLO class at a token mix.
// A variant whose SLO cannot be met at any rate is sized for throughput alone (its stability
// limit); one with no SLO class likewise.
int sl_clair_rate(sl_clair_t *c, int v, double in_mean, double out_mean, double *rate,
                  sl_err_t *err);

// Replicas per variant for one bin: demand[m] req/s at in_mean[m] / out_mean[m] tokens.
// Returns 1 when the inventory cannot cover the demand (everything that fits is placed), else 0.
int sl_clair_place(sl_clair_t *c, const double *demand, const double *in_mean,
                   const double *out_mean, int *replicas, sl_err_t *err);

typedef struct {
  double gpu_hours, cost;
  int peak_replicas;
  size_t short_bins; // bins whose demand the inventory could not cover
  size_t nbins;
  int *replicas; // per bin, all variants
} sl_clair_result_t;

int sl_clair_run(sl_clair_t *c, const sl_clair_bins_t *b, sl_clair_result_t *out, sl_err_t *err);
void sl_clair_result_free(sl_clair_result_t *r);
// Per-bin mean tokens of model m (0 when the bin is empty).
void sl_clair_bin_mix(const sl_clair_bins_t *b, size_t i, int m, double *rate, double *in_mean,
                      double *out_mean);
