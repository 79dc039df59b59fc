// The oracle: an SLO-meeting reference. Per bin (the session's bin_s, 60 s by default) and model,
// the fewest replicas of one variant at which the simulated servers, given exactly that bin's
// requests, zero cold start and the in-flight work carried over from the bins before, keep at
// least `target` of the bin's requests within the SLO. It is found by search with the simulator's
// own servers and routing (core/sim/replica.h, core/sim/gateway.h), not with a formula: each
// candidate count replays the bin from a copy of the servers' state at its start, and the bin's
// requests are followed to their end (the arrivals after the bin keep coming, at the same count).
// Every variant of a model is searched and the one whose schedule costs least is kept.
//
// The schedule is then replayed as a run of its own through the simulator's world (zero cold
// start, warm at the first bin's counts), where a bin's tail meets the next bin's count and
// scale-downs drain; a bin that falls short there gets one more replica and the replay is run
// again, a few rounds at most, so the replay reaches the target in every bin it can.
//
// A request that misses its SLO even alone on an idle server (a prompt whose prefill alone
// exceeds the TTFT target) is infeasible: no replica count serves it, so it is counted apart and
// a bin's target is met when its met and infeasible requests together reach `target`.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/sim/sim.h"
#include "core/util/map.h"

typedef struct {
  double bin_s, target;
  size_t nbins;
  int nv, nm;
  int *variant_of;        // per model: the variant the oracle places it on
  int *replicas;          // [bin * nv + v]: the schedule
  int peak_replicas;      // most replicas in one bin, all variants
  int peak_gpus;          // most GPUs in one bin
  int *peak_gpus_by_type; // per accelerator type (cfg.accels), most GPUs in one bin
  uint64_t requests;      // requests the last replay saw
  uint64_t infeasible;    // of them, missing their SLO even alone on an idle server
  size_t infeasible_bins; // bins with at least one infeasible request
  size_t capped_bins;     // bins whose count the variant's max or the inventory bound
  int rounds;             // replays run
  size_t short_bins;      // bins still below the target in the last replay
  uint64_t trials;        // bin trials the search ran
  // Per [bin * nm + model], filled by each replay: requests arrived, and of them met or
  // infeasible.
  uint64_t *bin_count, *bin_met, *bin_infeasible;
  size_t cap_bins;   // bins the per-bin arrays hold
  sl_map_t feasible; // "v/in/out" -> whether a request meets the SLO alone (memo)
} sl_oracle_t;

// The search alone: fills o's schedule (o is initialised here; sl_oracle_deinit frees it).
int sl_oracle_search(sl_sim_t *s, double target, sl_oracle_t *o, sl_err_t *err);
// Replays o's schedule through the simulator's world into res (policy "oracle"), filling o's
// per-bin counts; `sched` replaces o's schedule when not NULL (same layout).
int sl_oracle_replay(sl_sim_t *s, sl_oracle_t *o, const int *sched, sl_sim_result_t *res,
                     sl_err_t *err);
// Search, then replay until every bin reaches the target or max_rounds replays have run; res is
// the last replay.
int sl_oracle_run(sl_sim_t *s, double target, int max_rounds, sl_oracle_t *o, sl_sim_result_t *res,
                  sl_err_t *err);
void sl_oracle_deinit(sl_oracle_t *o);
// Whether one request meets variant v's SLO alone on an idle server (memoised in o).
int sl_oracle_feasible(sl_oracle_t *o, const sl_cluster_t *cl, int v, uint32_t in, uint32_t out);
// Whether bin i of model m reached the target in the last replay.
int sl_oracle_bin_ok(const sl_oracle_t *o, size_t i, int m);
