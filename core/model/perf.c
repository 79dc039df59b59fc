// Performance profiles: parameter tables, validation, built-ins and per-request times.
#include "core/model/perf.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/model/stepmix.h"

static const sl_perf_param_t params_4p[] = {
    {"alpha", "ms", "decode time per token at batch 0", 1},
    {"beta", "ms/seq", "decode time added per sequence in the batch", 0},
    {"gamma", "ms", "prefill time at batch 0", 0},
    {"delta", "ms/(token*seq)", "prefill time per input token per sequence in the batch", 0},
};

static const sl_perf_param_t params_3p[] = {
    {"alpha", "ms", "fixed time per engine iteration", 1},
    {"beta", "ms/token", "compute time per token", 0},
    {"gamma", "ms/token", "KV-cache memory access time per token of context", 0},
};

static const sl_perf_param_t params_step[] = {
    {"a_ms", "ms", "per step: weights read once (the floor of every step)", 1},
    {"b_ms", "ms/token", "per token scheduled in the step, decode or prefill", 0},
    {"c_ms_per_ktok", "ms/1000 tokens", "per 1000 resident context tokens read by decode", 0},
    {"prefill_tok_s", "tokens/s", "compute-bound token throughput (prefill)", 1},
    {"attn_ms_per_mpair", "ms/1e6 pairs", "prefill attention per million (query, key) pairs", 0},
    {"overhead_ms", "ms", "host scheduling per step, not overlapped with the GPU", 0},
    {"request_ms", "ms", "per request before the engine (HTTP, tokenisation); TTFT only", 0},
};

const sl_perf_param_t *sl_perf_params(sl_perf_kind_t kind, int *n) {
  switch (kind) {
  case SL_PERF_4P:
    *n = 4;
    return params_4p;
  case SL_PERF_3P:
    *n = 3;
    return params_3p;
  case SL_PERF_STEP:
    *n = 7;
    return params_step;
  }
  *n = 0;
  return NULL;
}

const char *sl_perf_kind_name(sl_perf_kind_t kind) {
  switch (kind) {
  case SL_PERF_4P:
    return "4p";
  case SL_PERF_3P:
    return "3p";
  case SL_PERF_STEP:
    return "step";
  }
  return "?";
}

sl_perf_kind_t sl_perf_kind_parse(const char *s) {
  if (!s) return 0;
  if (!strcmp(s, "4p")) return SL_PERF_4P;
  if (!strcmp(s, "3p")) return SL_PERF_3P;
  if (!strcmp(s, "step")) return SL_PERF_STEP;
  return 0;
}

int sl_perf_check(const sl_perf_t *p, sl_err_t *err) {
  int n;
  const sl_perf_param_t *d = sl_perf_params(p->kind, &n);
  if (!d) return sl_err(err, SL_EINVAL, "kind: unknown profile kind %d", (int)p->kind);
  for (int i = 0; i < n; i++) {
    double v = p->v[i];
    if (!isfinite(v)) return sl_err(err, SL_EINVAL, "%s: must be a finite number", d[i].name);
    if (d[i].positive && v <= 0)
      return sl_err(err, SL_EINVAL, "%s: must be > 0 %s (got %g)", d[i].name, d[i].unit, v);
    if (v < 0)
      return sl_err(err, SL_EINVAL, "%s: must be >= 0 %s (got %g)", d[i].name, d[i].unit, v);
  }
  return SL_OK;
}

void sl_perf_to_step(const sl_perf_t *p, sl_step_t *s) {
  s->a_ms = p->v[SL_PS_A_MS];
  s->b_ms_per_tok = p->v[SL_PS_B_MS];
  s->c_ms_per_ctx = p->v[SL_PS_C_MS_PER_KTOK] / 1000.0;
  s->ms_per_tok = 1000.0 / p->v[SL_PS_PREFILL_TOK_S];
  s->ms_per_pair = p->v[SL_PS_ATTN_MS_PER_MPAIR] / 1e6;
  s->overhead_ms = p->v[SL_PS_OVERHEAD_MS];
  s->request_ms = p->v[SL_PS_REQUEST_MS];
}

void sl_perf_from_step(const sl_step_t *s, sl_perf_t *p) {
  memset(p, 0, sizeof *p);
  p->kind = SL_PERF_STEP;
  p->v[SL_PS_A_MS] = s->a_ms;
  p->v[SL_PS_B_MS] = s->b_ms_per_tok;
  p->v[SL_PS_C_MS_PER_KTOK] = s->c_ms_per_ctx * 1000.0;
  p->v[SL_PS_PREFILL_TOK_S] = 1000.0 / s->ms_per_tok;
  p->v[SL_PS_ATTN_MS_PER_MPAIR] = s->ms_per_pair * 1e6;
  p->v[SL_PS_OVERHEAD_MS] = s->overhead_ms;
  p->v[SL_PS_REQUEST_MS] = s->request_ms;
}

#define SRC_WVA_CHART                                                                              \
  "llm-d WVA chart default (charts/.../variantautoscaling.yaml @56a651b), "                        \
  "data/perf/wva_perf_params.csv"

static const sl_perf_t builtins[] = {
    {.kind = SL_PERF_STEP,
     .v = {SL_L8H_A_MS, SL_L8H_B_MS, SL_L8H_C_MS_KTOK, SL_L8H_TOK_S, SL_L8H_ATTN_MS_MPAIR,
           SL_L8H_OVERHEAD_MS, SL_L8H_REQUEST_MS},
     .name = "llama-3.1-8b/h100",
     .source = "fit to data/perf/h100_synthetic_measured (GPU) and the guidellm vLLM run "
               "(host overhead); docs/calibration.md"},
    {.kind = SL_PERF_4P,
     .v = {7.47, 0.044, 15.415, 0.000337},
     .name = "llama-3.1-8b/h100:4p",
     .source = SRC_WVA_CHART},
    {.kind = SL_PERF_4P,
     .v = {22.619, 0.181, 226.19, 0.018},
     .name = "llama-3.1-8b/l40s:4p",
     .source = SRC_WVA_CHART},
    {.kind = SL_PERF_3P,
     .v = {6.49, 0.0219, 4.96e-5},
     .name = "llama-3.1-8b/h100:3p",
     .source =
         "WVA queueing-model fit for Llama-3.1-8B on H100 (reference/wva.md 2.5 test vectors)"},
};
#define N_BUILTINS (int)(sizeof builtins / sizeof builtins[0])

const sl_perf_t *sl_perf_builtin_at(int i) {
  return i >= 0 && i < N_BUILTINS ? &builtins[i] : NULL;
}

// Profiles named at run time (a simulator cluster's derived or measured profiles), so policies
// can ask for them by name like the built-ins. A small fixed table: profiles are per (model,
// accelerator), a handful per process.
#define MAX_REGISTERED 128
static struct {
  char name[128];
  sl_perf_t p;
} registered[MAX_REGISTERED];
static int n_registered;

int sl_perf_register(const char *name, const sl_perf_t *p, sl_err_t *err) {
  if (!name || !*name || strlen(name) >= sizeof registered[0].name)
    return sl_err(err, SL_EINVAL, "profile name must be 1 to %zu characters",
                  sizeof registered[0].name - 1);
  int rc = sl_perf_check(p, err);
  if (rc < 0) return rc;
  for (int i = 0; i < N_BUILTINS; i++)
    if (!strcmp(builtins[i].name, name))
      return sl_err(err, SL_EINVAL, "profile '%s' is built in", name);
  int i = 0;
  while (i < n_registered && strcmp(registered[i].name, name)) i++;
  if (i == MAX_REGISTERED) return sl_err(err, SL_ERANGE, "too many named profiles");
  if (i == n_registered) n_registered++;
  snprintf(registered[i].name, sizeof registered[i].name, "%s", name);
  registered[i].p = *p;
  registered[i].p.name = registered[i].name;
  if (!registered[i].p.source) registered[i].p.source = "registered at run time";
  return SL_OK;
}

const sl_perf_t *sl_perf_builtin(const char *name) {
  if (!name) return NULL;
  for (int i = 0; i < N_BUILTINS; i++)
    if (!strcmp(builtins[i].name, name)) return &builtins[i];
  for (int i = 0; i < n_registered; i++)
    if (!strcmp(registered[i].name, name)) return &registered[i].p;
  return NULL;
}

// A step profile at batch n with no other prompts arriving - the rate-free limit of the step mix
// (core/model/stepmix.h), which the queue evaluates at its rate instead: the request's prompt in a
// step of its own beside the n - 1 others decoding, then decode-only steps with all n.
static void times_step(const sl_perf_t *p, double in, double out, double n, sl_perf_times_t *t) {
  sl_step_t s;
  sl_perf_to_step(p, &s);
  sl_stepmix_t m;
  sl_stepmix_init(&m, &s, in, 0, out, 0, 0);
  sl_stepmix_at_t a;
  sl_stepmix_sol_t so;
  sl_stepmix_at(&m, n > 1 ? n - 1 : 0, &a);
  sl_stepmix_solve(&m, &a, 0, 0, NULL, &so);
  t->pre = so.own;
  sl_stepmix_at(&m, n, &a);
  sl_stepmix_solve(&m, &a, 0, 0, NULL, &so);
  t->dec = so.itl;
  t->svc = t->pre + (out - 1) * t->dec;
  t->ttft_extra = s.request_ms;
}

void sl_perf_times(const sl_perf_t *p, double in, double out, double n, sl_perf_times_t *t) {
  const double *v = p->v;
  t->ttft_extra = 0;
  switch (p->kind) {
  case SL_PERF_4P:
    t->pre = in > 0 ? v[SL_P4_GAMMA] + v[SL_P4_DELTA] * in * n : 0;
    t->dec = v[SL_P4_ALPHA] + v[SL_P4_BETA] * n;
    // A request with no prompt and one output token is a single decode step.
    t->svc = (in <= 0 && out <= 1) ? t->dec : t->pre + (out - 1) * t->dec;
    return;
  case SL_PERF_3P: {
    double a = v[SL_P3_ALPHA], b = v[SL_P3_BETA], g = v[SL_P3_GAMMA];
    double tok_compute = (in + out) / (out + 1), tok_memory = in + out / 2;
    double iter = a + n * (b * tok_compute + g * tok_memory);
    t->pre = in > 0 ? iter + (b + g) * in : 0;
    t->dec = iter + b + g * (in + out / 2);
    t->svc = t->pre + out * t->dec;
    return;
  }
  case SL_PERF_STEP:
    times_step(p, in, out, n, t);
    return;
  }
  t->pre = t->dec = t->svc = 0;
}
