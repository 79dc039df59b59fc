// Token-length distributions for traces that carry no lengths (ServeGen, generators): fixed,
// lognormal, and the default fit to the Azure 2023 conversation trace (docs/traces.md derives it).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sim/trace_tokens.h"

#include "core/sim/trace_gen.h"

// Azure conv: input mean 1155, p50 1020, p99 4142; output mean 211, p50 129, p99 601. Input: the
// lognormal minimising the squared log-errors of the three statistics. Output: no lognormal gets
// all three within 14% (the real outputs are bimodal with a mode near 400), so it is clamped at
// 640 and mu, sigma match p50 and the mean exactly given the clamp.
#define AZ_IN_MU     6.9014
#define AZ_IN_SIGMA  0.6096
#define AZ_OUT_MU    4.8598 // ln 129
#define AZ_OUT_SIGMA 1.2884
#define AZ_OUT_MAX   640
#define LEN_MAX      4294967295.0

static void azure(sl_trace_tokens_t *d) {
  memset(d, 0, sizeof *d);
  d->in_mu = AZ_IN_MU;
  d->in_sigma = AZ_IN_SIGMA;
  d->out_mu = AZ_OUT_MU;
  d->out_sigma = AZ_OUT_SIGMA;
  d->in_max = LEN_MAX;
  d->out_max = AZ_OUT_MAX;
}

int sl_trace_tokens_parse(const char *spec, sl_trace_tokens_t *out, sl_err_t *err) {
  if (!spec || !*spec || !strcmp(spec, "azure")) {
    azure(out);
    return 0;
  }
  const char *colon = strchr(spec, ':');
  size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
  const char *kv = colon ? colon + 1 : "";
  sl_trace_tokens_t d;
  memset(&d, 0, sizeof d);
  if (nlen == 5 && !strncmp(spec, "fixed", 5)) {
    double in = 0, o = 0;
    sl_trace_gen_param_t p[] = {
        {"in", &in, 1, LEN_MAX, true, false},
        {"out", &o, 1, LEN_MAX, true, false},
    };
    int rc = sl_trace_gen_params("tokens 'fixed'", kv, p, 2, err);
    if (rc < 0) return rc;
    if (in != floor(in) || o != floor(o))
      return sl_err(err, SL_EINVAL, "tokens 'fixed': in and out must be whole numbers");
    d.fixed = 1;
    d.in_n = (uint32_t)in;
    d.out_n = (uint32_t)o;
  } else if (nlen == 9 && !strncmp(spec, "lognormal", 9)) {
    d.in_max = d.out_max = LEN_MAX;
    sl_trace_gen_param_t p[] = {
        {"in_mu", &d.in_mu, -20, 22, true, false},
        {"in_sigma", &d.in_sigma, 0, 10, true, false},
        {"out_mu", &d.out_mu, -20, 22, true, false},
        {"out_sigma", &d.out_sigma, 0, 10, true, false},
        {"in_max", &d.in_max, 1, LEN_MAX, false, false},
        {"out_max", &d.out_max, 1, LEN_MAX, false, false},
    };
    int rc = sl_trace_gen_params("tokens 'lognormal'", kv, p, 6, err);
    if (rc < 0) return rc;
  } else if (nlen == 5 && !strncmp(spec, "azure", 5) && !*kv) {
    azure(&d);
  } else {
    return sl_err(err, SL_EINVAL,
                  "unknown token distribution '%.*s' (known: azure, fixed, lognormal)", (int)nlen,
                  spec);
  }
  *out = d;
  return 0;
}

static uint32_t clamp_len(double x, double max) {
  x = floor(x + 0.5);
  if (!(x >= 1)) return 1; // also NaN
  if (x > max) x = max;
  return (uint32_t)x;
}

void sl_trace_tokens_draw(const sl_trace_tokens_t *d, sl_rng_t *r, uint32_t *in, uint32_t *out) {
  if (d->fixed) {
    *in = d->in_n;
    *out = d->out_n;
    return;
  }
  double za = sl_rng_normal(r), zb = sl_rng_normal(r);
  *in = clamp_len(exp(d->in_mu + d->in_sigma * za), d->in_max);
  *out = clamp_len(exp(d->out_mu + d->out_sigma * zb), d->out_max);
}
