// Raw metrics: what the store keeps per pod and per model group, and the alias table that maps
// exposition names from every generation (vLLM V0/V1, SGLang, GAIE EPP, llm-d EPP) onto them at
// ingestion (sl_metric_alias_lookup), so each appears once under one name.
#pragma once

#include <stddef.h>

// Raw per-series metrics kept in the store, per pod (SL_SCOPE_POD) or per model group at the
// gateway (SL_SCOPE_MODEL). Kind says how windows treat them.
typedef enum { SL_KIND_GAUGE, SL_KIND_COUNTER, SL_KIND_HISTOGRAM } sl_kind_t;
typedef enum { SL_SCOPE_POD, SL_SCOPE_MODEL } sl_scope_t;

typedef enum {
  // model server (per pod)
  SL_M_WAITING,            // gauge, requests queued in the engine
  SL_M_RUNNING,            // gauge, requests in the running batch
  SL_M_KV_USAGE,           // gauge, fraction 0-1
  SL_M_KV_CAPACITY_TOKENS, // gauge, tokens (num_gpu_blocks x block_size)
  SL_M_REQUESTS,           // counter, finished requests
  SL_M_PROMPT_TOKENS,      // counter, prompt tokens processed
  SL_M_GENERATION_TOKENS,  // counter, tokens generated
  SL_M_PREEMPTIONS,        // counter
  SL_M_PREFIX_HITS,        // counter, tokens
  SL_M_PREFIX_QUERIES,     // counter, tokens
  SL_M_TTFT,               // histogram, seconds
  SL_M_ITL,                // histogram, seconds
  SL_M_E2E,                // histogram, seconds
  SL_M_REQ_PROMPT_TOKENS,  // histogram, tokens per request
  SL_M_REQ_GEN_TOKENS,     // histogram, tokens per request
  // gateway / EPP (per model group)
  SL_M_GW_QUEUE_SIZE,      // gauge, requests held by flow control
  SL_M_GW_QUEUE_BYTES,     // gauge, bytes held by flow control
  SL_M_GW_RUNNING,         // gauge, requests in flight through the gateway
  SL_M_GW_SATURATION,      // gauge, pool saturation (0-1, >1 = throttling)
  SL_M_GW_INFLIGHT_TOKENS, // gauge, tokens in flight
  SL_M_GW_READY_ENDPOINTS, // gauge
  SL_M_GW_REQUESTS,        // counter, requests arriving at the gateway
  SL_M_GW_DROPPED,         // counter, requests rejected or timed out in the queue
  SL_M_GW_QUEUE_DURATION,  // histogram, seconds spent in the flow-control queue
  SL_M__COUNT
} sl_metric_t;

typedef struct {
  const char *name; // canonical raw name used in fixtures, e.g. "kv_usage"
  sl_kind_t kind;
  sl_scope_t scope;
  const char *unit;
} sl_metric_info_t;

const sl_metric_info_t *sl_metric_info(sl_metric_t m);
// Canonical name -> metric, or -1.
int sl_metric_by_name(const char *name);

// Alias table entry: an exposition metric name (one of several generations) and what it feeds.
typedef struct {
  const char *raw; // exposition family name, e.g. "vllm:kv_cache_usage_perc"
  sl_metric_t metric;
  double scale;       // multiply by this at ingestion (e.g. percent -> fraction)
  const char *origin; // "vllm v1", "vllm v0", "sglang", "gaie epp", "llm-d epp"
} sl_metric_alias_t;

// Looks up an exposition family name (without _sum/_count/_bucket/_total suffix handling:
// pass the family name). Returns NULL when the name is not a signal sluice reads.
const sl_metric_alias_t *sl_metric_alias_lookup(const char *raw);
const sl_metric_alias_t *sl_metric_alias_table(size_t *n);
