// Online fitting of a 4p or 3p performance profile from what a running replica shows (request
// rate, token mix, mean TTFT and ITL, optionally the mean running batch): an iterated extended
// Kalman filter in the spirit of WVA's tuner. State and observations are in log space (the
// parameters stay positive, errors are relative); each update is a damped Gauss-Newton descent
// on the posterior, so the sharp bend of the queue's latency curve cannot throw it off; a
// random-walk drift lets it track slow change; bounds and innovation gating reject outliers.
//
// The state is a small plain struct (no pointers) so a policy can keep it as plain Lua data
// across hot reloads (core/lua/bind_model.c converts it to and from a table).
#pragma once

#include "core/model/perf.h"
#include "core/model/queue.h"
#include "core/util/err.h"

#define SL_FIT_MAX 4

typedef struct {
  sl_perf_kind_t kind;                   // SL_PERF_4P or SL_PERF_3P
  int dim;                               // parameters fitted (4 or 3)
  double theta[SL_FIT_MAX];              // log of each parameter (units of sl_perf_params)
  double cov[SL_FIT_MAX * SL_FIT_MAX];   // covariance of theta, row-major
  double lo[SL_FIT_MAX], hi[SL_FIT_MAX]; // bounds on theta
  double drift;  // per-update standard deviation of the log-parameter random walk
  double noise;  // relative standard deviation of one observed mean (TTFT, ITL, batch)
  double gate;   // reject an observation whose normalised innovation squared exceeds this
                 // (0 = the 99.9% chi-square point for its dimension)
  double spread; // prior standard deviation of each log-parameter, restored after a streak
  long updates, rejected;
  int streak;      // consecutive rejections; at SL_FIT_REWIDEN the covariance is reset to the
                   // prior (a run of "outliers" means the replica changed, not the data)
  double last_nis; // the last update's minimised posterior cost (its normalised innovation
                   // squared when the model is linear): small = consistent, > gate = rejected
} sl_fit_t;

#define SL_FIT_REWIDEN 5

typedef struct {
  double rate;       // req/s arriving at the replica (> 0)
  double in_tokens;  // mean prompt tokens
  double out_tokens; // mean output tokens (>= 1)
  double ttft_ms;    // observed mean TTFT (> 0)
  double itl_ms;     // observed mean ITL (> 0)
  double batch;      // observed mean running requests; 0 = not observed
  int max_batch;     // the server's max batch (N)
  int max_queue;     // < 0: 10 N
} sl_fit_obs_t;

typedef struct {
  double drift;  // 0 = 0.002 (a few hundred updates of memory)
  double noise;  // 0 = 0.05
  double spread; // prior standard deviation of each log-parameter; 0 = 1 (a factor e)
  double gate;   // 0 = chi-square 99.9%
  double bound;  // parameters stay within [guess / bound, guess * bound]; 0 = 100
} sl_fit_opts_t;

// Starts a fit at `guess` (every parameter > 0). opts may be NULL.
int sl_fit_init(sl_fit_t *f, const sl_perf_t *guess, const sl_fit_opts_t *opts, sl_err_t *err);

// Folds one observation in. *accepted (may be NULL) is 0 when the observation was rejected as an
// outlier (the state then only widens by the drift). work is a queue buffer of at least
// sl_queue_bytes(obs->max_batch) bytes, or NULL to allocate one for the call.
int sl_fit_update(sl_fit_t *f, const sl_fit_obs_t *obs, void *work, size_t work_bytes,
                  int *accepted, sl_err_t *err);

// The fitted profile (name and source NULL).
void sl_fit_perf(const sl_fit_t *f, sl_perf_t *out);

// Checks a state read back from storage (kind, dim, finite values, symmetric covariance with a
// positive diagonal, bounds ordered, options in range); the message names the field.
int sl_fit_check(const sl_fit_t *f, sl_err_t *err);
