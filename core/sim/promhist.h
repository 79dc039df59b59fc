// Prometheus-style histograms with fixed bucket bounds, as a model server or the gateway exposes
// them (the bucket lists are vLLM's real ones), plus the closed-form observation of a run of
// evenly growing values: the simulator observes the inter-token latency of k decode steps of B
// sequences at once, without a pass over the steps.
#pragma once

#define SL_PROMHIST_MAXB 24

typedef enum {
  SL_PH_TTFT,          // vllm:time_to_first_token_seconds
  SL_PH_ITL,           // vllm:inter_token_latency_seconds
  SL_PH_E2E,           // vllm:e2e_request_latency_seconds
  SL_PH_PROMPT_TOKENS, // vllm:request_prompt_tokens
  SL_PH_GEN_TOKENS,    // vllm:request_generation_tokens
  SL_PH_QUEUE_TIME,    // vllm:request_queue_time_seconds (also the gateway's queue duration)
  SL_PH__COUNT
} sl_promhist_kind_t;

// Upper bounds of a kind, ascending, the last +Inf; *nb receives their count.
const double *sl_promhist_bounds(sl_promhist_kind_t kind, int *nb);

typedef struct {
  const double *bounds;
  int nb;
  double c[SL_PROMHIST_MAXB]; // per bucket (not cumulative)
  double sum, count;
} sl_promhist_t;

void sl_promhist_init(sl_promhist_t *h, sl_promhist_kind_t kind);
void sl_promhist_add(sl_promhist_t *h, double x, double weight);
// Observes x0 + slope * j for j = 0 .. n-1, each `weight` times (slope >= 0).
void sl_promhist_add_linear(sl_promhist_t *h, double x0, double slope, double n, double weight);
// Cumulative counts per bucket into cum[nb].
void sl_promhist_cumulative(const sl_promhist_t *h, double *cum);
