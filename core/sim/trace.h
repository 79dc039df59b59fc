// Request traces for the simulator: a streaming source of timed requests read from a trace file
// (Azure LLM CSV, Mooncake JSONL, ServeGen per-client/aggregate rate CSVs or a ServeGen model
// directory) or drawn from a generator (poisson, gamma, weibull, diurnal, step), with rate and
// time scaling applied on the way out. Memory stays bounded by one window of the source, never
// the whole trace. Formats, generators and options: docs/traces.md.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/util/err.h"
#include "core/util/rng.h"
#include "core/sim/blocks.h"
#include "core/sim/trace_tokens.h"

typedef struct {
  double t;               // arrival, seconds from the start of the (sliced, scaled) trace
  uint32_t in_tokens;     // prompt length, >= 1
  uint32_t out_tokens;    // generated length, >= 1
  uint32_t prefix_blocks; // leading prompt blocks already seen earlier in the trace (Mooncake)
  uint32_t block;         // the prompt's last block in sl_trace_blocks(), SL_BLOCK_NONE if none
  uint16_t model;         // opts->model
} sl_req_t;

// File formats; SL_TRACE_AUTO tells them apart by content.
enum {
  SL_TRACE_AUTO = 0,
  SL_TRACE_AZURE,        // TIMESTAMP,ContextTokens,GeneratedTokens
  SL_TRACE_MOONCAKE,     // JSONL: timestamp (ms), input_length, output_length, hash_ids
  SL_TRACE_SERVEGEN,     // one client: window_start_s,rate,cv,pattern,shape,scale (no header)
  SL_TRACE_SERVEGEN_AGG, // window_start_s,total_rate_rps,active_clients
};

// Tokens per hash_ids block in the Mooncake trace.
#define SL_TRACE_MOONCAKE_BLOCK 512

typedef struct {
  uint64_t seed;
  double rate_scale;  // < 1 thins, > 1 adds jittered copies; 1 = as recorded
  double time_scale;  // output time = (source time - start) * time_scale
  double start;       // source seconds skipped at the beginning
  double duration;    // source seconds kept after start; 0 = to the end
  double jitter_s;    // copies made by rate_scale > 1 land uniformly in [t, t + jitter_s)
  double order_tol_s; // a file timestamp may go back this much (it is clamped); more is an error
  uint16_t model;     // stamped on every request
  int format;         // SL_TRACE_* for files; AUTO detects
  const char *tokens; // token-length distribution for sources without lengths; NULL = "azure"
} sl_trace_opts_t;

typedef struct sl_trace sl_trace_t;

// Defaults: seed 1, scales 1, no slice, jitter 1 s, tolerance 1 s, model 0, auto format.
void sl_trace_opts_init(sl_trace_opts_t *o);

// spec: a file or ServeGen model directory path, or a generator "NAME:k=v,k=v". opts may be NULL.
// Bad spec or option -> SL_EINVAL; unreadable file -> SL_EIO; bad content -> SL_EPARSE naming
// FILE:LINE.
int sl_trace_open(const char *spec, const sl_trace_opts_t *opts, sl_trace_t **out, sl_err_t *err);
// The same, reading one trace file's bytes from memory (format AUTO or SL_TRACE_*); name is used
// in error messages. data must outlive the trace.
int sl_trace_open_mem(const void *data, size_t len, const char *name, const sl_trace_opts_t *opts,
                      sl_trace_t **out, sl_err_t *err);
// 1 = *out filled, 0 = end of trace, < 0 = error (the message names FILE:LINE for files).
// Times are non-decreasing.
int sl_trace_next(sl_trace_t *t, sl_req_t *out, sl_err_t *err);
void sl_trace_free(sl_trace_t *t);
// The trace's prompt blocks (Mooncake's hash_ids), or NULL when it has none. Valid, and growing
// as the trace is read, until sl_trace_free.
const sl_blocks_t *sl_trace_blocks(const sl_trace_t *t);
// "azure", "mooncake", "servegen", "servegen-aggregate", "servegen-dir" or the generator name.
const char *sl_trace_kind(const sl_trace_t *t);

// Per-bin arrivals and token sums of a whole trace with its options applied, from one streaming
// pass. The bins match what sl_trace_next yields for the same spec and opts, request for request.
typedef struct {
  double bin_s;
  size_t n; // bins [i*bin_s, (i+1)*bin_s); trailing empty bins up to a set duration
  uint64_t *count;
  uint64_t *in_tokens;
  uint64_t *out_tokens;
  double *in_sq, *out_sq; // sums of squared lengths
  uint64_t total;         // sum of count
  double last_t;          // last arrival time, or 0
} sl_trace_bins_t;

int sl_trace_bins(const char *spec, const sl_trace_opts_t *opts, double bin_s, sl_trace_bins_t *out,
                  sl_err_t *err);
void sl_trace_bins_deinit(sl_trace_bins_t *b);
