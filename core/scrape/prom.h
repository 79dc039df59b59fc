// The Prometheus source: the same raw series direct scraping reads, taken from a Prometheus
// server that already scrapes the model servers and the gateway, through its HTTP API
// (/api/v1/query) instead of from the pods themselves. It is what a cluster that runs Prometheus
// for HPA, KEDA or WVA can point sluice at without opening the pods' ports to it.
//
// Each poll runs one instant PromQL query per store metric, shaped as WVA's collectors shape
// theirs — an aggregation by (namespace, pod) over every exposition name the alias table knows
// for that metric, the first-listed name winning per pod through `or`:
//
//   sum by (namespace, pod) (vllm:num_requests_waiting{namespace=~"llm"})
//     or sum by (namespace, pod) (sglang:num_queue_reqs{namespace=~"llm"})
//   avg by (namespace, pod) (vllm:kv_cache_usage_perc{...}) or ...        (fractions: the mean)
//   sum by (namespace, pod, le) (vllm:time_to_first_token_seconds_bucket{...}) or ...
//
// plus the _sum and _count of each histogram and vllm:cache_config_info's labels. It asks for
// raw gauges, counters and buckets, not rate()s: the store applies the same windows to them as
// to scraped samples, so both modes build the same view and policies decide alike, up to
// Prometheus' own scrape lag. A series is matched to a pod of a variant (or a model's gateway
// pod) by its namespace and pod labels (names configurable: relabelling conventions differ).
//
// A poll is committed to the store whole or not at all: if any query fails (Prometheus down,
// an error status, a body that is not a vector), nothing is written, so the pods age into the
// guard's stale hold exactly as when scrapes fail, and the failure is counted and logged once
// per outage. Polls never overlap; all I/O is on the caller's loop (core/util/httpc).
#pragma once

#include <stddef.h>
#include <uv.h>

#include "core/state/source.h"
#include "core/state/store.h"
#include "core/util/err.h"
#include "core/util/httpc.h"
#include "core/util/sched.h"

typedef struct {
  const char *url;             // base URL, e.g. http://prometheus.monitoring:9090
  double interval;             // seconds between polls (default 1)
  double timeout;              // per query (default: the interval, at most 10 s)
  const char *namespace_label; // default "namespace"
  const char *pod_label;       // default "pod"
  const char *matchers;        // extra label matchers for every selector, e.g. job="vllm"
  const char *bearer_token;    // sent as Authorization: Bearer (NULL: none)
  sl_httpc_tls_t tls;
} sl_prom_opts_t;

// Where a pod's series go: a model server of a variant (model NULL), or a model's gateway
// (model set). `pod` is "namespace/name", the store's key.
typedef struct {
  const char *pod, *model;
} sl_prom_target_t;

typedef struct {
  long polls, polls_failed, queries, queries_failed;
  long series;            // series read by the last committed poll
  long series_unmatched;  // of those, on no known pod
  double last_duration_s; // the last poll, first request to last answer
  double last_success;    // scheduler time of the last committed poll (-1: never)
  int up;                 // the last poll was committed
  char last_error[256];   // "" when the last poll succeeded
} sl_prom_stats_t;

typedef struct sl_prom sl_prom_t;

sl_prom_t *sl_prom_new(const sl_prom_opts_t *opts, sl_err_t *err);
void sl_prom_free(sl_prom_t *p);
// The pods whose series are kept. Copied. Replaces the previous list.
int sl_prom_set_targets(sl_prom_t *p, const sl_prom_target_t *t, size_t n, sl_err_t *err);
// Starts polling on loop with sched's timers, writing into store.
int sl_prom_start(sl_prom_t *p, uv_loop_t *loop, sl_sched_t *sched, sl_store_t *store,
                  sl_err_t *err);
void sl_prom_stop(sl_prom_t *p);
void sl_prom_stats(const sl_prom_t *p, sl_prom_stats_t *out);
// The queries a poll runs, for docs and tests.
size_t sl_prom_nqueries(const sl_prom_t *p);
const char *sl_prom_query(const sl_prom_t *p, size_t i);
// A source (start only, with sched = a uv scheduler of its own on the loop); ready after the
// first poll ended, whatever its outcome. Owned by p.
sl_source_t *sl_prom_source(sl_prom_t *p);

// Parses one query's answer (the body of /api/v1/query) into the poll being staged: query i's
// samples for the targets known. Exposed for the fuzzer and tests; returns 0, or SL_EPARSE with
// err saying what was wrong ("status error: ...", "data.result: not a vector", ...).
int sl_prom_stage(sl_prom_t *p, size_t i, const char *body, size_t len, sl_err_t *err);
// Clears what was staged; commits what was staged at time t.
void sl_prom_stage_reset(sl_prom_t *p);
int sl_prom_commit(sl_prom_t *p, sl_store_t *store, double t, sl_err_t *err);
