// The clairvoyant reference: per time bin, the fewest whole replicas, placed as cheaply as the
// inventory allows, whose per-replica highest rate under the SLO (from the calibrated queueing
// kernel, core/model/queue.h) covers that bin's arrival rate at that bin's token mix, with zero
// start-up. Also the per-replica capacity the simulator uses for warm starts, --peak-replicas and
// reaction times.
#pragma once

#include <stddef.h>

#include "core/sim/cluster.h"
#include "core/util/map.h"

// Demand per bin and model, index [bin * nmodels + model]: requests, and the sums of their token
// lengths and of their squares.
typedef struct {
  double bin_s;
  size_t n;
  int nmodels;
  double end; // where the last bin ends (it may be shorter than bin_s)
  double *count, *in_sum, *out_sum, *in_sq, *out_sq;
} sl_clair_bins_t;

// A model's demand: arrival rate and token mix (means and coefficients of variation).
typedef struct {
  double rate; // req/s
  double in, out;
  double in_cv, out_cv;
} sl_clair_mix_t;

int sl_clair_bins_init(sl_clair_bins_t *b, double bin_s, int nmodels, size_t n);
// Makes room for bin i (zero-filled).
int sl_clair_bins_reserve(sl_clair_bins_t *b, size_t i);
void sl_clair_bins_deinit(sl_clair_bins_t *b);
// Seconds covered by bin i.
double sl_clair_bins_len(const sl_clair_bins_t *b, size_t i);

typedef struct {
  const sl_cluster_t *cl;
  double percentile; // 0: the SLO's targets apply to means; else to that percentile
  sl_map_t memo;     // per (variant, token mix) max rate
} sl_clair_t;

int sl_clair_init(sl_clair_t *c, const sl_cluster_t *cl, double percentile);
void sl_clair_deinit(sl_clair_t *c);

// Highest rate (req/s) one replica of variant v sustains under its SLO class at a token mix
// (mix->rate is not used), with the variant's engine: max_num_seqs, the KV cache and the token
// budget. A variant whose SLO cannot be met at any rate is sized for throughput alone (its
// stability limit); one with no SLO class likewise.
int sl_clair_rate(sl_clair_t *c, int v, const sl_clair_mix_t *mix, double *rate, sl_err_t *err);

// Replicas per variant for one bin: mix[m] is model m's demand. Returns 1 when the inventory
// cannot cover the demand (everything that fits is placed), else 0.
int sl_clair_place(sl_clair_t *c, const sl_clair_mix_t *mix, int *replicas, sl_err_t *err);

typedef struct {
  double gpu_hours, cost;
  int peak_replicas;
  size_t short_bins; // bins whose demand the inventory could not cover
  size_t nbins;
  int *replicas; // per bin, all variants
} sl_clair_result_t;

int sl_clair_run(sl_clair_t *c, const sl_clair_bins_t *b, sl_clair_result_t *out, sl_err_t *err);
void sl_clair_result_deinit(sl_clair_result_t *r);
// Model m's demand in bin i (zero rate and tokens when the bin is empty).
void sl_clair_bin_mix(const sl_clair_bins_t *b, size_t i, int m, sl_clair_mix_t *mix);
// Adds one request to bin i of model m.
void sl_clair_bins_add(sl_clair_bins_t *b, size_t i, int m, double in, double out);
