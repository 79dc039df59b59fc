// Performance profiles per (model, accelerator): the parameter sets (WVA's 4-parameter and
// 3-parameter forms, and the context-aware step model), their names, units and sources, the
// built-in calibrated profiles, and the per-request times each implies at a batch size for a
// given token mix — what the queueing model consumes.
#pragma once

#include "core/model/step.h"
#include "core/util/err.h"

typedef enum {
  SL_PERF_4P = 1, // ITL = alpha + beta*n; prefill = gamma + delta*in*n          (WVA, Inferno)
  SL_PERF_3P,     // alpha per iteration, beta compute/token, gamma KV memory/token (WVA QM)
  SL_PERF_STEP,   // context-aware step model (core/model/step.h)
} sl_perf_kind_t;

#define SL_PERF_MAX_PARAMS 8

typedef struct {
  const char *name; // field name in Lua tables and docs
  const char *unit;
  const char *what;
  int positive; // must be > 0 (otherwise >= 0)
} sl_perf_param_t;

// A profile: its kind and parameters in the user-facing units of sl_perf_params(kind).
// name and source are borrowed (static strings for built-ins, NULL when unknown).
typedef struct {
  sl_perf_kind_t kind;
  double v[SL_PERF_MAX_PARAMS];
  const char *name;
  const char *source;
} sl_perf_t;

// Parameter indices per kind.
enum { SL_P4_ALPHA, SL_P4_BETA, SL_P4_GAMMA, SL_P4_DELTA };
enum { SL_P3_ALPHA, SL_P3_BETA, SL_P3_GAMMA };
enum {
  SL_PS_A_MS,              // ms
  SL_PS_B_MS,              // ms per token in the step
  SL_PS_C_MS_PER_KTOK,     // ms per 1000 context tokens
  SL_PS_PREFILL_TOK_S,     // tokens/s
  SL_PS_ATTN_MS_PER_MPAIR, // ms per million prefill attention pairs
  SL_PS_OVERHEAD_MS,       // ms per step
  SL_PS_REQUEST_MS,        // ms per request (TTFT only)
};

// Parameter descriptions of a kind; *n receives their count. NULL for an unknown kind.
const sl_perf_param_t *sl_perf_params(sl_perf_kind_t kind, int *n);
// "4p", "3p", "step" and back (0 when unknown).
const char *sl_perf_kind_name(sl_perf_kind_t kind);
sl_perf_kind_t sl_perf_kind_parse(const char *s);

// Checks every parameter is finite and in range; the message names the field.
int sl_perf_check(const sl_perf_t *p, sl_err_t *err);

// The step model in its fast form (kind must be SL_PERF_STEP).
void sl_perf_to_step(const sl_perf_t *p, sl_step_t *out);
void sl_perf_from_step(const sl_step_t *s, sl_perf_t *out);

// Names a profile for the rest of the process (replacing one of the same name), so that
// sl_perf_builtin and sluice.model.builtin find it: how a simulated cluster's derived profiles
// reach the policies. Built-in names cannot be replaced.
int sl_perf_register(const char *name, const sl_perf_t *p, sl_err_t *err);
// Built-in (and registered) profiles by name ("llama-3.1-8b/h100", ...); NULL when unknown.
const sl_perf_t *sl_perf_builtin(const char *name);
// The i-th built-in, NULL past the end (for listings).
const sl_perf_t *sl_perf_builtin_at(int i);

// Per-request times at (possibly fractional) batch size n for a token mix, in ms:
// pre = time to the first token once in service, dec = one decode step (the ITL at n),
// svc = the whole service time, so mu(n) = n / svc. For step profiles these are the rate-free
// limit (no other prompts arriving); the queue evaluates the step kind at its arrival rate
// (core/model/stepmix.h).
typedef struct {
  double pre, dec, svc;
  double ttft_extra; // added to TTFT outside the engine (request_ms of a step profile)
} sl_perf_times_t;

void sl_perf_times(const sl_perf_t *p, double in_tokens, double out_tokens, double n,
                   sl_perf_times_t *t);
