// The canonical signal names (see docs/view.md).
#include "core/state/signals.h"

#include <string.h>

static const char *const vsig_names[SL_V__COUNT] = {
    [SL_V_WAITING] = "waiting",
    [SL_V_RUNNING] = "running",
    [SL_V_KV_USAGE] = "kv_usage",
    [SL_V_KV_USAGE_MAX] = "kv_usage_max",
    [SL_V_KV_CAPACITY_TOKENS] = "kv_capacity_tokens",
    [SL_V_REQUEST_RATE] = "request_rate",
    [SL_V_PROMPT_TOKENS_RATE] = "prompt_tokens_rate",
    [SL_V_GENERATION_TOKENS_RATE] = "generation_tokens_rate",
    [SL_V_PREEMPTION_RATE] = "preemption_rate",
    [SL_V_PREFIX_HIT_RATE] = "prefix_hit_rate",
    [SL_V_INPUT_TOKENS_MEAN] = "input_tokens_mean",
    [SL_V_OUTPUT_TOKENS_MEAN] = "output_tokens_mean",
    [SL_V_TTFT_MEAN] = "ttft_mean",
    [SL_V_TTFT_P50] = "ttft_p50",
    [SL_V_TTFT_P90] = "ttft_p90",
    [SL_V_TTFT_P99] = "ttft_p99",
    [SL_V_ITL_MEAN] = "itl_mean",
    [SL_V_ITL_P50] = "itl_p50",
    [SL_V_ITL_P90] = "itl_p90",
    [SL_V_ITL_P99] = "itl_p99",
};

static const char *const psig_names[SL_P__COUNT] = {
    [SL_P_WAITING] = "waiting",
    [SL_P_RUNNING] = "running",
    [SL_P_KV_USAGE] = "kv_usage",
    [SL_P_KV_CAPACITY_TOKENS] = "kv_capacity_tokens",
};

static const char *const gsig_names[SL_G__COUNT] = {
    [SL_G_QUEUE_SIZE] = "queue_size",
    [SL_G_QUEUE_BYTES] = "queue_bytes",
    [SL_G_RUNNING] = "running",
    [SL_G_SATURATION] = "saturation",
    [SL_G_INFLIGHT_TOKENS] = "inflight_tokens",
    [SL_G_READY_ENDPOINTS] = "ready_endpoints",
    [SL_G_ARRIVAL_RATE] = "arrival_rate",
    [SL_G_DROP_RATE] = "drop_rate",
    [SL_G_QUEUE_DURATION_MEAN] = "queue_duration_mean",
};

static int index_of(const char *const *names, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (names[i] && strcmp(names[i], name) == 0) return i;
  return -1;
}

const char *sl_signals_variant_name(sl_vsig_t s) {
  return (int)s >= 0 && s < SL_V__COUNT ? vsig_names[s] : NULL;
}
const char *sl_signals_pod_name(sl_psig_t s) {
  return (int)s >= 0 && s < SL_P__COUNT ? psig_names[s] : NULL;
}
const char *sl_signals_gateway_name(sl_gsig_t s) {
  return (int)s >= 0 && s < SL_G__COUNT ? gsig_names[s] : NULL;
}
int sl_signals_variant_by_name(const char *name) {
  return index_of(vsig_names, SL_V__COUNT, name);
}
int sl_signals_gateway_by_name(const char *name) {
  return index_of(gsig_names, SL_G__COUNT, name);
}
