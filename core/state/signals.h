// The signals a policy sees, by canonical name: per variant (aggregated from pods over the view
// window), per pod, and per model group at the gateway. docs/view.md lists them with units.
#pragma once

#include "core/state/metric.h"

// Signals a policy sees per variant (aggregated from pods over the view window) ...
typedef enum {
  SL_V_WAITING,                // sum over ready pods, requests
  SL_V_RUNNING,                // sum, requests
  SL_V_KV_USAGE,               // mean over ready pods, 0-1
  SL_V_KV_USAGE_MAX,           // max over ready pods, 0-1
  SL_V_KV_CAPACITY_TOKENS,     // sum, tokens
  SL_V_REQUEST_RATE,           // finished requests per second
  SL_V_PROMPT_TOKENS_RATE,     // tokens per second
  SL_V_GENERATION_TOKENS_RATE, // tokens per second
  SL_V_PREEMPTION_RATE,        // per second
  SL_V_PREFIX_HIT_RATE,        // fraction 0-1 of prompt tokens served from cache
  SL_V_INPUT_TOKENS_MEAN,      // tokens per request
  SL_V_OUTPUT_TOKENS_MEAN,     // tokens per request
  SL_V_TTFT_MEAN,              // seconds
  SL_V_TTFT_P50,
  SL_V_TTFT_P90,
  SL_V_TTFT_P99,
  SL_V_ITL_MEAN, // seconds
  SL_V_ITL_P50,
  SL_V_ITL_P90,
  SL_V_ITL_P99,
  SL_V__COUNT
} sl_vsig_t;

// ... per pod (latest sample) ...
typedef enum {
  SL_P_WAITING,
  SL_P_RUNNING,
  SL_P_KV_USAGE,
  SL_P_KV_CAPACITY_TOKENS,
  SL_P__COUNT
} sl_psig_t;

// ... and per model group at the gateway.
typedef enum {
  SL_G_QUEUE_SIZE,      // requests
  SL_G_QUEUE_BYTES,     // bytes
  SL_G_RUNNING,         // requests
  SL_G_SATURATION,      // 0-1+
  SL_G_INFLIGHT_TOKENS, // tokens
  SL_G_READY_ENDPOINTS,
  SL_G_ARRIVAL_RATE,        // requests per second arriving at the gateway
  SL_G_DROP_RATE,           // requests per second dropped
  SL_G_QUEUE_DURATION_MEAN, // seconds
  SL_G__COUNT
} sl_gsig_t;

const char *sl_signals_variant_name(sl_vsig_t s);
const char *sl_signals_pod_name(sl_psig_t s);
const char *sl_signals_gateway_name(sl_gsig_t s);
// Canonical name -> signal, or -1.
int sl_signals_variant_by_name(const char *name);
int sl_signals_gateway_by_name(const char *name);
