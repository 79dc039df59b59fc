// Synthetic traces (poisson, gamma, weibull, diurnal, step, ...) from "NAME:k=v,..." specs, and
// the k=v parameter parser the specs (and the token-length specs) use.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sim/trace.h"
#include "core/sim/trace_src.h"

typedef struct {
  const char *key;
  double *dst;
  double min, max; // inclusive range checked after parsing
  bool required;
  bool min_open; // min itself is not allowed (> min)
} sl_trace_gen_param_t;

// Parses "k=v,k=v" against the table; what names the spec in messages. SL_EINVAL on an unknown
// key (listing the known ones), a duplicate, a missing required key or a value out of range.
int sl_trace_gen_params(const char *what, const char *kv, sl_trace_gen_param_t *p, int np,
                        sl_err_t *err);

int sl_trace_gen_open(const char *spec, const sl_trace_opts_t *o, sl_trace_src_t **out,
                      sl_err_t *err);
// True when spec names a generator ("NAME" or "NAME:...").
bool sl_trace_gen_is(const char *spec);
