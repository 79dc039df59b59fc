// The raw metrics' vocabulary and the ingestion alias table (see docs/view.md).
#include "core/state/metric.h"

#include <string.h>

static const sl_metric_info_t metric_info[SL_M__COUNT] = {
    [SL_M_WAITING] = {"waiting", SL_KIND_GAUGE, SL_SCOPE_POD, "requests"},
    [SL_M_RUNNING] = {"running", SL_KIND_GAUGE, SL_SCOPE_POD, "requests"},
    [SL_M_KV_USAGE] = {"kv_usage", SL_KIND_GAUGE, SL_SCOPE_POD, "fraction"},
    [SL_M_KV_CAPACITY_TOKENS] = {"kv_capacity_tokens", SL_KIND_GAUGE, SL_SCOPE_POD, "tokens"},
    [SL_M_REQUESTS] = {"requests", SL_KIND_COUNTER, SL_SCOPE_POD, "requests"},
    [SL_M_PROMPT_TOKENS] = {"prompt_tokens", SL_KIND_COUNTER, SL_SCOPE_POD, "tokens"},
    [SL_M_GENERATION_TOKENS] = {"generation_tokens", SL_KIND_COUNTER, SL_SCOPE_POD, "tokens"},
    [SL_M_PREEMPTIONS] = {"preemptions", SL_KIND_COUNTER, SL_SCOPE_POD, "events"},
    [SL_M_PREFIX_HITS] = {"prefix_hits", SL_KIND_COUNTER, SL_SCOPE_POD, "tokens"},
    [SL_M_PREFIX_QUERIES] = {"prefix_queries", SL_KIND_COUNTER, SL_SCOPE_POD, "tokens"},
    [SL_M_TTFT] = {"ttft", SL_KIND_HISTOGRAM, SL_SCOPE_POD, "seconds"},
    [SL_M_ITL] = {"itl", SL_KIND_HISTOGRAM, SL_SCOPE_POD, "seconds"},
    [SL_M_E2E] = {"e2e", SL_KIND_HISTOGRAM, SL_SCOPE_POD, "seconds"},
    [SL_M_REQ_PROMPT_TOKENS] = {"request_prompt_tokens", SL_KIND_HISTOGRAM, SL_SCOPE_POD, "tokens"},
    [SL_M_REQ_GEN_TOKENS] = {"request_generation_tokens", SL_KIND_HISTOGRAM, SL_SCOPE_POD,
                             "tokens"},
    [SL_M_GW_QUEUE_SIZE] = {"queue_size", SL_KIND_GAUGE, SL_SCOPE_MODEL, "requests"},
    [SL_M_GW_QUEUE_BYTES] = {"queue_bytes", SL_KIND_GAUGE, SL_SCOPE_MODEL, "bytes"},
    [SL_M_GW_RUNNING] = {"gateway_running", SL_KIND_GAUGE, SL_SCOPE_MODEL, "requests"},
    [SL_M_GW_SATURATION] = {"saturation", SL_KIND_GAUGE, SL_SCOPE_MODEL, "fraction"},
    [SL_M_GW_INFLIGHT_TOKENS] = {"inflight_tokens", SL_KIND_GAUGE, SL_SCOPE_MODEL, "tokens"},
    [SL_M_GW_READY_ENDPOINTS] = {"ready_endpoints", SL_KIND_GAUGE, SL_SCOPE_MODEL, "pods"},
    [SL_M_GW_REQUESTS] = {"gateway_requests", SL_KIND_COUNTER, SL_SCOPE_MODEL, "requests"},
    [SL_M_GW_DROPPED] = {"gateway_dropped", SL_KIND_COUNTER, SL_SCOPE_MODEL, "requests"},
    [SL_M_GW_QUEUE_DURATION] = {"queue_duration", SL_KIND_HISTOGRAM, SL_SCOPE_MODEL, "seconds"},
};

// Every generation of every name we read. Keep in step with the table in docs/view.md.
static const sl_metric_alias_t aliases[] = {
    {"vllm:num_requests_waiting", SL_M_WAITING, 1, "vllm"},
    {"sglang:num_queue_reqs", SL_M_WAITING, 1, "sglang"},
    {"vllm:num_requests_running", SL_M_RUNNING, 1, "vllm"},
    {"sglang:num_running_reqs", SL_M_RUNNING, 1, "sglang"},
    {"vllm:kv_cache_usage_perc", SL_M_KV_USAGE, 1, "vllm v1"},
    {"vllm:gpu_cache_usage_perc", SL_M_KV_USAGE, 1, "vllm v0"},
    {"sglang:token_usage", SL_M_KV_USAGE, 1, "sglang"},
    {"sglang:max_total_num_tokens", SL_M_KV_CAPACITY_TOKENS, 1, "sglang"},
    // vllm:cache_config_info carries capacity in labels (num_gpu_blocks x block_size); the
    // exposition reader computes the value before handing it to the store under this name.
    {"vllm:cache_config_info", SL_M_KV_CAPACITY_TOKENS, 1, "vllm"},
    {"vllm:request_success_total", SL_M_REQUESTS, 1, "vllm"},
    {"sglang:num_requests_total", SL_M_REQUESTS, 1, "sglang"},
    {"vllm:prompt_tokens_total", SL_M_PROMPT_TOKENS, 1, "vllm"},
    {"sglang:prompt_tokens_total", SL_M_PROMPT_TOKENS, 1, "sglang"},
    {"vllm:generation_tokens_total", SL_M_GENERATION_TOKENS, 1, "vllm"},
    {"sglang:generation_tokens_total", SL_M_GENERATION_TOKENS, 1, "sglang"},
    {"vllm:num_preemptions_total", SL_M_PREEMPTIONS, 1, "vllm"},
    {"vllm:prefix_cache_hits_total", SL_M_PREFIX_HITS, 1, "vllm v1"},
    {"vllm:gpu_prefix_cache_hits_total", SL_M_PREFIX_HITS, 1, "vllm v0"},
    {"sglang:cached_tokens_total", SL_M_PREFIX_HITS, 1, "sglang"},
    {"vllm:prefix_cache_queries_total", SL_M_PREFIX_QUERIES, 1, "vllm v1"},
    {"vllm:gpu_prefix_cache_queries_total", SL_M_PREFIX_QUERIES, 1, "vllm v0"},
    {"vllm:time_to_first_token_seconds", SL_M_TTFT, 1, "vllm"},
    {"sglang:time_to_first_token_seconds", SL_M_TTFT, 1, "sglang"},
    {"vllm:inter_token_latency_seconds", SL_M_ITL, 1, "vllm >= 0.10"},
    {"vllm:time_per_output_token_seconds", SL_M_ITL, 1, "vllm < 0.10"},
    {"sglang:inter_token_latency_seconds", SL_M_ITL, 1, "sglang"},
    {"sglang:time_per_output_token_seconds", SL_M_ITL, 1, "sglang (older)"},
    {"vllm:e2e_request_latency_seconds", SL_M_E2E, 1, "vllm"},
    {"sglang:e2e_request_latency_seconds", SL_M_E2E, 1, "sglang"},
    {"vllm:request_prompt_tokens", SL_M_REQ_PROMPT_TOKENS, 1, "vllm"},
    {"sglang:prompt_tokens_histogram", SL_M_REQ_PROMPT_TOKENS, 1, "sglang"},
    {"vllm:request_generation_tokens", SL_M_REQ_GEN_TOKENS, 1, "vllm"},
    {"sglang:generation_tokens_histogram", SL_M_REQ_GEN_TOKENS, 1, "sglang"},
    {"inference_extension_flow_control_queue_size", SL_M_GW_QUEUE_SIZE, 1, "gaie epp"},
    {"llm_d_epp_flow_control_queue_size", SL_M_GW_QUEUE_SIZE, 1, "llm-d epp"},
    {"inference_extension_flow_control_queue_bytes", SL_M_GW_QUEUE_BYTES, 1, "gaie epp"},
    {"llm_d_epp_flow_control_queue_bytes", SL_M_GW_QUEUE_BYTES, 1, "llm-d epp"},
    {"inference_model_running_requests", SL_M_GW_RUNNING, 1, "gaie epp (old)"},
    {"inference_objective_running_requests", SL_M_GW_RUNNING, 1, "gaie epp"},
    {"llm_d_epp_request_running", SL_M_GW_RUNNING, 1, "llm-d epp"},
    {"inference_extension_flow_control_pool_saturation", SL_M_GW_SATURATION, 1, "gaie epp"},
    {"llm_d_epp_flow_control_pool_saturation", SL_M_GW_SATURATION, 1, "llm-d epp"},
    {"llm_d_epp_inflight_tokens", SL_M_GW_INFLIGHT_TOKENS, 1, "llm-d epp"},
    {"inference_pool_ready_pods", SL_M_GW_READY_ENDPOINTS, 1, "gaie epp"},
    {"llm_d_epp_ready_endpoints", SL_M_GW_READY_ENDPOINTS, 1, "llm-d epp"},
    {"inference_model_request_total", SL_M_GW_REQUESTS, 1, "gaie epp (old)"},
    {"inference_objective_request_total", SL_M_GW_REQUESTS, 1, "gaie epp"},
    {"llm_d_epp_request_total", SL_M_GW_REQUESTS, 1, "llm-d epp"},
    {"inference_objective_request_error_total", SL_M_GW_DROPPED, 1, "gaie epp"},
    {"llm_d_epp_request_error_total", SL_M_GW_DROPPED, 1, "llm-d epp"},
    {"inference_extension_flow_control_request_queue_duration_seconds", SL_M_GW_QUEUE_DURATION, 1,
     "gaie epp"},
    {"llm_d_epp_flow_control_request_queue_duration_seconds", SL_M_GW_QUEUE_DURATION, 1,
     "llm-d epp"},
};

const sl_metric_info_t *sl_metric_info(sl_metric_t m) {
  if ((int)m < 0 || m >= SL_M__COUNT) return NULL;
  return &metric_info[m];
}

int sl_metric_by_name(const char *name) {
  for (int i = 0; i < SL_M__COUNT; i++)
    if (strcmp(metric_info[i].name, name) == 0) return i;
  return -1;
}

const sl_metric_alias_t *sl_metric_alias_lookup(const char *raw) {
  size_t n = sizeof aliases / sizeof aliases[0];
  for (size_t i = 0; i < n; i++)
    if (strcmp(aliases[i].raw, raw) == 0) return &aliases[i];
  // OpenMetrics names counter families without the _total suffix.
  size_t len = strlen(raw);
  for (size_t i = 0; i < n; i++) {
    size_t al = strlen(aliases[i].raw);
    if (al == len + 6 && strncmp(aliases[i].raw, raw, len) == 0 &&
        strcmp(aliases[i].raw + len, "_total") == 0)
      return &aliases[i];
  }
  return NULL;
}

const sl_metric_alias_t *sl_metric_alias_table(size_t *n) {
  *n = sizeof aliases / sizeof aliases[0];
  return aliases;
}
