// Token lengths for traces that carry none: the --tokens distributions.
#pragma once

#include <stdint.h>

#include "core/util/err.h"
#include "core/util/rng.h"

// Token-length distributions (the --tokens flag): "azure" (default), "fixed:in=N,out=M",
// "lognormal:in_mu=,in_sigma=,out_mu=,out_sigma=[,in_max=,out_max=]".
typedef struct {
  int fixed;
  uint32_t in_n, out_n;
  double in_mu, in_sigma, out_mu, out_sigma;
  double in_max, out_max; // lengths are clamped to [1, max]
} sl_trace_tokens_t;

int sl_trace_tokens_parse(const char *spec, sl_trace_tokens_t *out, sl_err_t *err);
void sl_trace_tokens_draw(const sl_trace_tokens_t *d, sl_rng_t *r, uint32_t *in, uint32_t *out);
