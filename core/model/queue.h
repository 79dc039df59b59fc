// The state-dependent queue of one replica: a birth-death chain on 0..K requests (K = max batch N
// + max queue) whose departure rate mu(n) = n / T(n) depends on the number in service, T from a
// performance profile. Predictions at a request rate (TTFT, ITL, throughput, utilisation,
// blocking, and TTFT/ITL percentiles), the inverse (highest rate meeting TTFT/ITL targets), and
// replicas for a demand. Times in ms, rates in req/s at the interface.
//
// Numerics: the chain is solved in log space up to N; beyond N the chain is geometric and its
// sums are closed forms, so one evaluation costs O(N) whatever K is, and nothing overflows for
// N up to thousands and K up to millions.
#pragma once

#include <stddef.h>

#include "core/model/perf.h"
#include "core/model/stepmix.h"
#include "core/util/err.h"

#define SL_QUEUE_MAX_BATCH 16384
// Step profiles: a state whose decoding requests leave too little room for the prompts arriving
// is solved at this fraction of the prompt rate the room takes (docs/kernels.md).
#define SL_QUEUE_PREFILL_HEADROOM 0.95
#define SL_QUEUE_MAX_QUEUE        10000000

typedef struct {
  int max_batch;     // N: requests in service at most (vLLM max_num_seqs)
  int max_queue;     // requests waiting at most; < 0 means the default 10 * N
  double in_tokens;  // mean prompt tokens per request (>= 0)
  double out_tokens; // mean output tokens per request (>= 1)
  // Used by step profiles only (the 4p and 3p kinds see means alone):
  double in_cv;           // coefficient of variation (std / mean) of prompt tokens; 0 = all alike
  double out_cv;          // same for output tokens
  int max_batched_tokens; // tokens per engine step (vLLM max_num_batched_tokens); 0 = 8192
  double kv_tokens;       // KV cache capacity in tokens; 0 = never the limit
} sl_shape_t;

typedef struct {
  sl_perf_t perf;
  sl_shape_t shape; // max_queue and max_batched_tokens resolved
  int n, k;         // N (max_batch, or for step profiles what the KV cache holds) and K
  double mu_n;      // mu(N), per ms
  double mu_1;      // mu(1) at the lowest rates, per ms
  // Step profiles: the token mix, knots of the batch size where the step mix is solved at each
  // rate, and the saturated state (admissions at departures, at mu(N)).
  sl_stepmix_t mix;
  int nknots;
  int kv_bound;            // N is what the KV cache holds, below max_batch
  double pre_sat, dec_sat; // TTFT in the engine after a queue wait, and ITL, at saturation (ms)
  // 4p and 3p: 2 * (N + 1) values: for n = 0..N the cumulative log mu(1) + ... + log mu(n) (mu
  // per ms), then the decode step time at batch n (ms). Step: the knots.
  double data[];
} sl_queue_t;

// Bytes an sl_queue_t for max batch n occupies (for callers that provide the memory), whatever
// the profile kind.
size_t sl_queue_bytes(int max_batch);
// Initialises q in caller memory of `bytes` bytes (>= sl_queue_bytes(shape->max_batch)).
int sl_queue_init(sl_queue_t *q, size_t bytes, const sl_perf_t *perf, const sl_shape_t *shape,
                  sl_err_t *err);
// Same, allocated; free with sl_queue_free.
sl_queue_t *sl_queue_new(const sl_perf_t *perf, const sl_shape_t *shape, sl_err_t *err);
void sl_queue_free(sl_queue_t *q);

typedef struct {
  double rate;        // offered load, req/s
  double throughput;  // accepted load, req/s (rate * (1 - blocking))
  double ttft_ms;     // mean time to first token
  double itl_ms;      // mean inter-token latency
  double wait_ms;     // mean time queued before service
  double service_ms;  // mean time in service
  double in_service;  // mean requests in service (L_s)
  double in_system;   // mean requests in service or queued (L)
  double utilization; // in_service / N, as WVA reports it
  double blocking;    // probability an arrival finds the queue full
  double percentile;  // the percentile of the two fields below (0 = not computed)
  double ttft_p_ms;   // TTFT at that percentile (FCFS waiting-time distribution + prefill)
  double itl_p_ms;    // decode step time at that quantile of the token-weighted batch size
} sl_pred_t;

// Predictions at `rate` req/s. percentile in (0, 1) also computes ttft_p_ms and itl_p_ms;
// 0 skips them.
int sl_queue_predict(const sl_queue_t *q, double rate, double percentile, sl_pred_t *out,
                     sl_err_t *err);

// The stability limit 0.999 * mu(N), req/s, and the lowest rate the inverse searches,
// 0.001 * mu(1).
double sl_queue_rate_limit(const sl_queue_t *q);
double sl_queue_rate_floor(const sl_queue_t *q);

typedef struct {
  double ttft_ms;    // target, 0 = none
  double itl_ms;     // target, 0 = none
  double percentile; // 0 = targets apply to means; else in (0, 1)
} sl_slo_t;

typedef enum { SL_LIMIT_STABILITY, SL_LIMIT_TTFT, SL_LIMIT_ITL } sl_limit_t;

// The highest per-replica rate (req/s) whose predictions meet every target in slo, or the
// stability limit when none binds (or none is given). *limit (may be NULL) says which binds.
// A target missed even at the lowest rate returns SL_ERANGE with a message saying by how much.
int sl_queue_max_rate(const sl_queue_t *q, const sl_slo_t *slo, double *max_rate, sl_limit_t *limit,
                      sl_err_t *err);
const char *sl_queue_limit_name(sl_limit_t limit);

// Replicas to carry `demand` req/s at `max_rate` req/s each: the integer ceil (returned, with a
// relative tolerance of 1e-9 so 2.0000000001 stays 2) and the fraction (*fractional, may be NULL).
// Returns -1 and fills err for a negative/non-finite demand or a max_rate <= 0.
long sl_queue_replicas(double demand, double max_rate, double *fractional, sl_err_t *err);
