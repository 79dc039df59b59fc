// The simulator's session: what every run of a comparison shares (cluster, trace, scaling, warm
// start, the clairvoyant reference). Each run is a world (core/sim/world.h) that a controller on
// a simulated clock drives through the same data path as `sluice run` (core/runtime/simrun.h):
// there is no other decision path. Runs replay the trace on a fresh copy of the cluster with the
// same seed.
#pragma once

#include <stdint.h>

#include "core/sim/clair.h"
#include "core/sim/cluster.h"
#include "core/sim/record.h"
#include "core/sim/trace.h"

typedef struct {
  const sl_cluster_t *cluster;
  const char *trace;  // trace for models without their own (file or GENERATOR:k=v,...)
  const char *tokens; // token lengths for traces without them; NULL = "azure"
  uint64_t seed;
  double duration;       // simulated seconds to replay; 0 = the whole trace
  double rate_scale;     // 1 = as recorded
  double time_scale;     // 1 = as recorded
  double peak_replicas;  // > 0: choose rate_scale so the clairvoyant peak is this many
                         // replicas of each model's cheapest variant
  double bin_s;          // clairvoyant bins (60 s)
  double record_bin_s;   // time-series bins (0: 60 s, wider for long runs)
  double slo_percentile; // the clairvoyant sizes for this percentile (0: means)
  int progress;          // progress lines on stderr for runs longer than a few seconds
  void *decisions;       // FILE *: every change the guard applies, with its reason, or NULL
  void *requests;        // FILE *: one CSV row per request as it ends (--requests), or NULL
} sl_sim_opts_t;

void sl_sim_opts_init(sl_sim_opts_t *o);

typedef struct {
  char policy[64];
  double period, scrape_interval, lag, window; // what the run used
  uint64_t requests, completed, dropped, cut, met;
  uint64_t late_ttft, late_itl; // completed requests over the TTFT / ITL target (both can hold)
  double slo_attainment;
  double gpu_hours, cost;
  double ttft_p50_ms, ttft_p90_ms, ttft_p99_ms, itl_p50_ms, itl_p99_ms;
  double ttft_mean_ms, itl_mean_ms, e2e_mean_ms, e2e_p99_ms; // itl: per-request means
  int peak_replicas;                                         // most pods holding GPUs at once
  double peak_gpus;                                          // most GPUs held at once
  uint64_t scale_events;
  // Prompt tokens of completed requests, and of those found in a server's prefix cache; their
  // ratio, NaN when the trace names no prompt blocks.
  double prefix_prompt_tokens, prefix_hit_tokens, prefix_hit_rate;
  double reaction_s; // NaN when load never outran the Ready replicas
  int episodes;
  uint64_t pods_created;
  double wall_s;
  sl_record_t rec;
} sl_sim_result_t;

void sl_sim_result_deinit(sl_sim_result_t *r);

typedef struct {
  sl_sim_opts_t o;
  double rate_scale; // applied to every model's trace
  double start_bins_end;
  int *warm; // per variant: Ready replicas at time 0
  sl_clair_t clair;
  sl_clair_bins_t bins; // exact per-bin demand, counted during the first run
  int have_bins;
  double end;     // simulated end of the replay (known after the first run)
  double est_end; // estimate for progress before that
  uint64_t total_requests;
  double total_wall;
} sl_sim_t;

// Checks the options, opens every trace once, chooses the rate scale (--peak-replicas) and the
// warm start.
int sl_sim_init(sl_sim_t *s, const sl_sim_opts_t *o, sl_err_t *err);
void sl_sim_deinit(sl_sim_t *s);
// The clairvoyant reference over the replayed trace (after a run).
int sl_sim_clairvoyant(sl_sim_t *s, sl_clair_result_t *out, sl_err_t *err);
// Simulated requests per second of wall time over all runs so far.
double sl_sim_rate(const sl_sim_t *s);
// The trace model m replays (its own, else the session's), and the options to open it with.
const char *sl_sim_model_trace(const sl_sim_opts_t *o, int m);
void sl_sim_trace_opts(const sl_sim_opts_t *o, int m, double rate_scale, sl_trace_opts_t *to);
