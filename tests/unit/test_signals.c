// Alias table: every generation of a signal maps to one canonical metric.
#include "core/state/signals.h"
#include "tests/unit/tap.h"

int main(void) {
  const sl_metric_alias_t *a = sl_metric_alias_lookup("vllm:kv_cache_usage_perc");
  const sl_metric_alias_t *b = sl_metric_alias_lookup("vllm:gpu_cache_usage_perc");
  T_OK(a && b && a->metric == SL_M_KV_USAGE && b->metric == SL_M_KV_USAGE,
       "vLLM V0 and V1 KV usage map to kv_usage");
  const sl_metric_alias_t *q1 =
      sl_metric_alias_lookup("inference_extension_flow_control_queue_size");
  const sl_metric_alias_t *q2 = sl_metric_alias_lookup("llm_d_epp_flow_control_queue_size");
  T_OK(q1 && q2 && q1->metric == SL_M_GW_QUEUE_SIZE && q2->metric == SL_M_GW_QUEUE_SIZE,
       "GAIE and llm-d EPP queue size map to queue_size");
  const sl_metric_alias_t *c = sl_metric_alias_lookup("vllm:request_success");
  T_OK(c && c->metric == SL_M_REQUESTS, "OpenMetrics counter family without _total is found");
  T_OK(sl_metric_alias_lookup("process_cpu_seconds_total") == NULL,
       "unrelated metrics are not read");
  T_OK(sl_metric_alias_lookup("vllm:request_success_tota") == NULL,
       "a near-miss name is not matched");
  T_EQ_INT(sl_signals_variant_by_name("kv_usage"), SL_V_KV_USAGE, "variant signal name lookup");
  T_EQ_INT(sl_signals_gateway_by_name("queue_size"), SL_G_QUEUE_SIZE, "gateway signal name lookup");
  T_EQ_INT(sl_signals_variant_by_name("nope"), -1, "unknown signal name");
  for (int i = 0; i < SL_V__COUNT; i++)
    T_OK(sl_signals_variant_name(i) != NULL, "vsig %d named", i);
  for (int i = 0; i < SL_M__COUNT; i++)
    T_OK(sl_metric_info(i)->name != NULL, "metric %d described", i);
  return tap_done();
}
