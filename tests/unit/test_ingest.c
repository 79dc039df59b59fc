// Ingestion: pages of every metric generation (vLLM V0 and V1, SGLang, GAIE and llm-d EPP) in text
// and OpenMetrics, committed into a store whose exact contents are then checked — values, the
// sum over series and the mean of fractions, histogram buckets by le with +Inf last, the preferred
// name when two generations feed one metric, the KV capacity from vllm:cache_config_info, scales;
// a malformed page rejected whole with nothing committed; and the real vLLM page.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/scrape/ingest.h"
#include "tests/unit/scrape_pages.h"
#include "tests/unit/tap.h"

#define TXT SL_EXPO_TEXT_004
#define OM  SL_EXPO_OPENMETRICS

static double last(const sl_series_t *s) {
  return s ? sl_series_last(s, NULL) : NAN;
}

// The newest histogram sample of a series: bounds, cumulative buckets, sum and count.
typedef struct {
  int nb;
  const double *bounds, *cum;
  double sum, count, t;
} hist_t;

static hist_t hist_last(const sl_series_t *s) {
  hist_t h = {0};
  if (!s || !s->len || !s->nb) return h;
  int at = (s->head - 1 + s->cap) % s->cap;
  static double row[64];
  if (s->nb > 64 || sl_series_hist_row(s, s->len - 1, row) != s->nb) return h;
  h.nb = s->nb;
  h.bounds = s->bounds;
  h.cum = row;
  h.sum = s->sum[at];
  h.count = s->v[at];
  h.t = s->t[at];
  return h;
}

static int ingest_pod(sl_ingest_t *g, sl_store_t *st, const char *page, sl_expo_format_t fmt,
                      double t, sl_err_t *err) {
  sl_pod_t *p = sl_store_find_pod(st, "pod-a");
  int rc = sl_ingest_page(g, page, strlen(page), fmt, SL_SCOPE_POD, err);
  if (rc < 0) return rc;
  return sl_ingest_commit_pod(g, st, p, t, err);
}

static sl_store_t *fresh_store(void) {
  sl_store_t *st = sl_store_new(16);
  sl_store_set_pod(st, "ns/v", "pod-a", SL_POD_READY);
  return st;
}

// ---- vLLM V1 (>= 0.10), text 0.0.4, as prometheus_client writes it ----------------------------

static void test_vllm_v1(void) {
  sl_ingest_t *g = sl_ingest_new(NULL);
  sl_store_t *st = fresh_store();
  sl_err_t err = {0};
  T_EQ_INT(ingest_pod(g, st, vllm_v1, TXT, 100, &err), 0, "v1: page ingested");
  sl_pod_t *p = sl_store_find_pod(st, "pod-a");
  T_NEAR(last(p->m[SL_M_RUNNING]), 12, 0, "v1: running summed over engines (7 + 5)");
  T_NEAR(last(p->m[SL_M_WAITING]), 3, 0, "v1: waiting summed (2 + 1)");
  T_NEAR(last(p->m[SL_M_KV_USAGE]), 0.5, 1e-15,
         "v1: kv_usage is the mean over engines, from the V1 name (not the V0 0.99 before it)");
  T_NEAR(last(p->m[SL_M_PREFIX_QUERIES]), 1000, 0, "v1: prefix queries");
  T_NEAR(last(p->m[SL_M_PREFIX_HITS]), 400, 0, "v1: prefix hits");
  T_NEAR(last(p->m[SL_M_PROMPT_TOKENS]), 12345, 0, "v1: prompt tokens");
  T_NEAR(last(p->m[SL_M_GENERATION_TOKENS]), 678, 0, "v1: generation tokens");
  T_NEAR(last(p->m[SL_M_PREEMPTIONS]), 3, 0, "v1: preemptions");
  T_NEAR(last(p->m[SL_M_REQUESTS]), 100, 0, "v1: requests summed over finished_reason");
  T_NEAR(last(p->m[SL_M_KV_CAPACITY_TOKENS]), 27147.0 * 16, 0,
         "v1: kv capacity = num_gpu_blocks x block_size");
  hist_t h = hist_last(p->m[SL_M_TTFT]);
  T_EQ_INT(h.nb, 3, "v1: ttft has 3 buckets");
  if (h.nb == 3) {
    T_OK(h.bounds[0] == 0.1 && h.bounds[1] == 0.5 && isinf(h.bounds[2]),
         "v1: ttft bounds 0.1, 0.5, +Inf");
    T_OK(h.cum[0] == 11 && h.cum[1] == 42 && h.cum[2] == 53,
         "v1: ttft buckets added over engines (11, 42, 53)");
    T_NEAR(h.count, 53, 0, "v1: ttft count summed");
    T_NEAR(h.sum, 14, 1e-12, "v1: ttft sum summed");
    T_NEAR(h.t, 100, 0, "v1: at the commit time");
  }
  h = hist_last(p->m[SL_M_ITL]);
  T_OK(h.nb == 2 && h.cum[0] == 100 && h.count == 120 && h.sum == 1.2,
       "v1: itl from inter_token_latency, the older name after it skipped");
  T_OK(!p->m[SL_M_E2E] && !p->m[SL_M_REQ_PROMPT_TOKENS], "v1: nothing the page lacks");
  T_EQ_INT(sl_ingest_metrics(g), 12, "v1: 12 metrics staged");
  // 2+2+2 gauges, 1+1+1+1+1+3 counters, 1 capacity; ttft 6 buckets + 4 tails, itl 2 + 2
  T_EQ_INT(sl_ingest_samples(g), 29, "v1: samples counted once, the replaced V0 one not");
  T_NEAR(p->last_sample, 100, 0, "v1: the pod's freshest sample is the commit time");
  sl_store_free(st);
  sl_ingest_free(g);
}

// ---- vLLM V0, text --------------------------------------------------------------------------

static void test_vllm_v0(void) {
  sl_ingest_t *g = sl_ingest_new(NULL);
  sl_store_t *st = fresh_store();
  sl_err_t err = {0};
  T_EQ_INT(ingest_pod(g, st, vllm_v0, TXT, 5, &err), 0, "v0: page ingested");
  sl_pod_t *p = sl_store_find_pod(st, "pod-a");
  T_NEAR(last(p->m[SL_M_RUNNING]), 4, 0, "v0: running");
  T_NEAR(last(p->m[SL_M_WAITING]), 0, 0, "v0: waiting 0 is a value, not missing");
  T_NEAR(last(p->m[SL_M_KV_USAGE]), 0.125, 0, "v0: kv_usage from gpu_cache_usage_perc");
  T_NEAR(last(p->m[SL_M_PREFIX_HITS]), 11, 0, "v0: prefix hits from the gpu_ name");
  T_NEAR(last(p->m[SL_M_PREFIX_QUERIES]), 22, 0, "v0: prefix queries from the gpu_ name");
  hist_t h = hist_last(p->m[SL_M_ITL]);
  T_OK(h.nb == 3 && h.bounds[0] == 0.025 && h.bounds[1] == 0.05 && isinf(h.bounds[2]) &&
           h.cum[0] == 3 && h.cum[1] == 5 && h.cum[2] == 6 && h.count == 6 && h.sum == 0.2,
       "v0: itl from time_per_output_token");
  h = hist_last(p->m[SL_M_E2E]);
  T_OK(h.nb == 2 && h.cum[1] == 2 && h.sum == 1.5, "v0: e2e");
  T_EQ_INT(sl_ingest_metrics(g), 7, "v0: 7 metrics");
  sl_store_free(st);
  sl_ingest_free(g);
}

// ---- vLLM in OpenMetrics (prometheus_client's OpenMetrics writer) ---------------------------

static void test_vllm_openmetrics(void) {
  sl_ingest_t *g = sl_ingest_new(NULL);
  sl_store_t *st = fresh_store();
  sl_err_t err = {0};
  T_EQ_INT(ingest_pod(g, st, vllm_om, OM, 7, &err), 0, "om: page ingested");
  sl_pod_t *p = sl_store_find_pod(st, "pod-a");
  T_NEAR(last(p->m[SL_M_PROMPT_TOKENS]), 321, 0,
         "om: a counter family named without _total maps, _created ignored");
  T_NEAR(last(p->m[SL_M_KV_USAGE]), 0.5, 0, "om: gauge");
  T_NEAR(last(p->m[SL_M_KV_CAPACITY_TOKENS]), 32000, 0, "om: an info family's capacity");
  hist_t h = hist_last(p->m[SL_M_TTFT]);
  T_OK(h.nb == 2 && h.cum[0] == 1 && h.cum[1] == 4 && h.count == 4 && h.sum == 6,
       "om: histogram with an exemplar and _created");
  T_EQ_INT(sl_ingest_samples(g), 7, "om: 7 samples");
  sl_store_free(st);
  sl_ingest_free(g);
}

// ---- SGLang ----------------------------------------------------------------------------------

static void test_sglang(void) {
  sl_ingest_t *g = sl_ingest_new(NULL);
  sl_store_t *st = fresh_store();
  sl_err_t err = {0};
  T_EQ_INT(ingest_pod(g, st, sglang, TXT, 9, &err), 0, "sglang: page ingested");
  sl_pod_t *p = sl_store_find_pod(st, "pod-a");
  T_NEAR(last(p->m[SL_M_PROMPT_TOKENS]), 8.128902e+06, 0, "sglang: prompt tokens");
  T_NEAR(last(p->m[SL_M_GENERATION_TOKENS]), 7.557572e+06, 0, "sglang: generation tokens");
  T_NEAR(last(p->m[SL_M_KV_USAGE]), 0.28, 0, "sglang: token_usage is kv_usage");
  T_NEAR(last(p->m[SL_M_RUNNING]), 162, 0, "sglang: running");
  T_NEAR(last(p->m[SL_M_WAITING]), 2826, 0, "sglang: queue is waiting");
  T_NEAR(last(p->m[SL_M_KV_CAPACITY_TOKENS]), 161721, 0, "sglang: capacity");
  T_NEAR(last(p->m[SL_M_PREFIX_HITS]), 5000, 0, "sglang: cached tokens are prefix hits");
  T_NEAR(last(p->m[SL_M_REQUESTS]), 11228, 0, "sglang: requests");
  hist_t h = hist_last(p->m[SL_M_TTFT]);
  T_OK(h.nb == 3 && h.cum[0] == 6 && h.cum[2] == 11008 && h.sum == 2.35e+06 && h.count == 11008,
       "sglang: ttft with _sum before the buckets");
  h = hist_last(p->m[SL_M_ITL]);
  T_OK(h.nb == 2 && h.cum[0] == 11685 && h.sum == 866964.5,
       "sglang: itl from the older time_per_output_token name");
  T_EQ_INT(sl_ingest_metrics(g), 10, "sglang: 10 metrics, cache_hit_rate not among them");
  sl_store_free(st);
  sl_ingest_free(g);
}

// ---- gateways --------------------------------------------------------------------------------

static void test_gateways(void) {
  sl_ingest_t *g = sl_ingest_new(NULL);
  sl_store_t *st = fresh_store();
  sl_err_t err = {0};
  T_EQ_INT(sl_ingest_page(g, gaie, strlen(gaie), TXT, SL_SCOPE_MODEL, &err), 0, "gaie: parsed");
  T_EQ_INT(sl_ingest_commit_model(g, st, "m", 50, &err), 0, "gaie: committed");
  sl_store_model_t *m = sl_store_find_model(st, "m");
  T_OK(m != NULL, "gaie: the model group exists");
  if (m) {
    T_NEAR(last(m->m[SL_M_GW_REQUESTS]), 520, 0, "gaie: requests summed over targets");
    T_NEAR(last(m->m[SL_M_GW_DROPPED]), 2, 0, "gaie: errors are drops");
    T_NEAR(last(m->m[SL_M_GW_RUNNING]), 17, 0, "gaie: running");
    T_NEAR(last(m->m[SL_M_GW_READY_ENDPOINTS]), 3, 0, "gaie: ready pods");
    T_NEAR(last(m->m[SL_M_GW_QUEUE_SIZE]), 5, 0, "gaie: queue summed over flows");
    T_NEAR(last(m->m[SL_M_GW_QUEUE_BYTES]), 4096, 0, "gaie: queue bytes");
    T_NEAR(last(m->m[SL_M_GW_SATURATION]), 0.9, 0, "gaie: saturation");
    hist_t h = hist_last(m->m[SL_M_GW_QUEUE_DURATION]);
    T_OK(h.nb == 3 && h.cum[0] == 8 && h.cum[2] == 10 && h.sum == 0.35 && h.count == 10,
         "gaie: queue duration histogram");
    T_NEAR(m->last_sample, 50, 0, "gaie: the model's freshest sample");
  }
  T_EQ_INT(sl_ingest_metrics(g), 8, "gaie: 8 gateway metrics, the model server's name skipped");
  sl_pod_t *p = sl_store_find_pod(st, "pod-a");
  T_OK(p->mask == 0, "gaie: no pod metric written");

  T_EQ_INT(sl_ingest_page(g, llmd, strlen(llmd), TXT, SL_SCOPE_MODEL, &err), 0, "llm-d: parsed");
  T_EQ_INT(sl_ingest_commit_model(g, st, "n", 51, &err), 0, "llm-d: committed");
  m = sl_store_find_model(st, "n");
  if (m) {
    T_NEAR(last(m->m[SL_M_GW_REQUESTS]), 70, 0, "llm-d: requests");
    T_NEAR(last(m->m[SL_M_GW_DROPPED]), 1, 0, "llm-d: errors");
    T_NEAR(last(m->m[SL_M_GW_RUNNING]), 6, 0, "llm-d: running");
    T_NEAR(last(m->m[SL_M_GW_READY_ENDPOINTS]), 2, 0, "llm-d: ready endpoints");
    T_NEAR(last(m->m[SL_M_GW_QUEUE_SIZE]), 3, 0, "llm-d: queue");
    T_NEAR(last(m->m[SL_M_GW_QUEUE_BYTES]), 300, 0, "llm-d: queue bytes");
    T_NEAR(last(m->m[SL_M_GW_SATURATION]), 1.25, 0, "llm-d: saturation above 1 kept");
    T_NEAR(last(m->m[SL_M_GW_INFLIGHT_TOKENS]), 8192, 0, "llm-d: in-flight tokens");
    hist_t h = hist_last(m->m[SL_M_GW_QUEUE_DURATION]);
    T_OK(h.nb == 2 && h.cum[1] == 2 && h.sum == 0.75, "llm-d: queue duration");
  }
  // A gateway page read as a model server's: nothing of it is the pod's.
  T_EQ_INT(sl_ingest_page(g, llmd, strlen(llmd), TXT, SL_SCOPE_POD, &err), 0, "pod scope parse");
  T_EQ_INT(sl_ingest_metrics(g), 0, "a gateway page gives a pod nothing");
  sl_store_free(st);
  sl_ingest_free(g);
}

// ---- all or nothing ----------------------------------------------------------------------------

static void test_rejected(void) {
  sl_ingest_t *g = sl_ingest_new(NULL);
  sl_store_t *st = fresh_store();
  sl_err_t err = {0};
  T_EQ_INT(ingest_pod(g, st, vllm_v0, TXT, 5, &err), 0, "a good page first");
  sl_pod_t *p = sl_store_find_pod(st, "pod-a");
  uint32_t mask = p->mask;
  const char *bad = "# TYPE vllm:num_requests_running gauge\n"
                    "vllm:num_requests_running{model_name=\"m\"} 40.0\n"
                    "# TYPE vllm:gpu_cache_usage_perc gauge\n"
                    "vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.9\n"
                    "vllm:num_requests_waiting{model_name=\"m\" 3\n";
  int rc = sl_ingest_page(g, bad, strlen(bad), TXT, SL_SCOPE_POD, &err);
  T_EQ_INT(rc, SL_EPARSE, "a malformed page is a parse error");
  T_STR_HAS(err.msg, "line 5: ", "the error names the line");
  T_EQ_INT(sl_ingest_samples(g), 0, "nothing is staged after a failure");
  T_EQ_INT(sl_ingest_commit_pod(g, st, p, 6, &err), 0, "committing it is a no-op");
  T_NEAR(last(p->m[SL_M_RUNNING]), 4, 0, "running keeps the good page's value (40 not written)");
  T_NEAR(last(p->m[SL_M_KV_USAGE]), 0.125, 0, "kv_usage too");
  T_NEAR(p->last_sample, 5, 0, "the freshest sample did not advance");
  T_OK(p->mask == mask, "no metric appeared");
  T_EQ_INT(p->m[SL_M_RUNNING]->len, 1, "one sample in the series, not two");

  const char *om_no_eof = "# TYPE vllm:num_requests_running gauge\n"
                          "vllm:num_requests_running 1\n";
  T_EQ_INT(sl_ingest_page(g, om_no_eof, strlen(om_no_eof), OM, SL_SCOPE_POD, &err), SL_EPARSE,
           "an OpenMetrics page cut before # EOF is rejected");

  // A NaN is skipped, a capacity not yet known ("None") too.
  const char *nan = "vllm:num_requests_running NaN\nvllm:num_requests_waiting 1\n"
                    "vllm:cache_config_info{block_size=\"16\",num_gpu_blocks=\"None\"} 1\n";
  T_EQ_INT(sl_ingest_page(g, nan, strlen(nan), TXT, SL_SCOPE_POD, &err), 0, "untyped page");
  T_EQ_INT(sl_ingest_metrics(g), 1, "only waiting: NaN and \"None\" give nothing");
  sl_store_free(st);
  sl_ingest_free(g);
}

// Series of one histogram with different bucket layouts: the first layout wins, others dropped.
static void test_layouts(void) {
  sl_ingest_t *g = sl_ingest_new(NULL);
  sl_store_t *st = fresh_store();
  sl_err_t err = {0};
  const char *page = "# TYPE vllm:e2e_request_latency_seconds histogram\n"
                     "vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"1\"} 1\n"
                     "vllm:e2e_request_latency_seconds_bucket{engine=\"0\",le=\"+Inf\"} 2\n"
                     "vllm:e2e_request_latency_seconds_sum{engine=\"0\"} 3\n"
                     "vllm:e2e_request_latency_seconds_count{engine=\"0\"} 2\n"
                     "vllm:e2e_request_latency_seconds_bucket{engine=\"1\",le=\"2\"} 5\n"
                     "vllm:e2e_request_latency_seconds_bucket{engine=\"1\",le=\"+Inf\"} 6\n"
                     "vllm:e2e_request_latency_seconds_sum{engine=\"1\"} 30\n"
                     "vllm:e2e_request_latency_seconds_count{engine=\"1\"} 6\n"
                     "vllm:e2e_request_latency_seconds_bucket{engine=\"2\",le=\"1\"} 10\n"
                     "vllm:e2e_request_latency_seconds_bucket{engine=\"2\",le=\"+Inf\"} 10\n";
  T_EQ_INT(ingest_pod(g, st, page, TXT, 1, &err), 0, "layouts: ingested");
  T_EQ_INT(sl_ingest_dropped_series(g), 1, "layouts: the series with other buckets is dropped");
  hist_t h = hist_last(sl_store_find_pod(st, "pod-a")->m[SL_M_E2E]);
  T_OK(h.nb == 2 && h.bounds[0] == 1 && h.cum[0] == 11 && h.cum[1] == 12,
       "layouts: engines 0 and 2 added");
  T_NEAR(h.sum, 3, 0, "layouts: sum of the kept series with one (engine 2 has none)");
  T_NEAR(h.count, 2, 0, "layouts: count of the kept series that gave one");
  sl_store_free(st);
  sl_ingest_free(g);
}

// A lookup of one's own: scales apply to values, and to histograms' bounds and sums.
static const sl_metric_alias_t my_aliases[] = {
    {"kv_percent", SL_M_KV_USAGE, 0.01, "test"},
    {"ttft_ms", SL_M_TTFT, 0.001, "test"},
    {"vllm:num_requests_running", SL_M_RUNNING, 1, "test"}, // outranks the table's names
};
static const sl_metric_alias_t *my_lookup(const char *name) {
  for (size_t i = 0; i < sizeof my_aliases / sizeof my_aliases[0]; i++)
    if (!strcmp(my_aliases[i].raw, name)) return &my_aliases[i];
  return sl_metric_alias_lookup(name);
}

static void test_scale(void) {
  sl_ingest_t *g = sl_ingest_new(my_lookup);
  sl_store_t *st = fresh_store();
  sl_err_t err = {0};
  const char *page = "# TYPE kv_percent gauge\nkv_percent 50\n"
                     "# TYPE ttft_ms histogram\n"
                     "ttft_ms_bucket{le=\"10\"} 1\nttft_ms_bucket{le=\"100\"} 3\n"
                     "ttft_ms_bucket{le=\"+Inf\"} 4\nttft_ms_sum 500\nttft_ms_count 4\n"
                     "# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting 2\n";
  T_EQ_INT(ingest_pod(g, st, page, TXT, 1, &err), 0, "scale: ingested");
  sl_pod_t *p = sl_store_find_pod(st, "pod-a");
  T_NEAR(last(p->m[SL_M_KV_USAGE]), 0.5, 1e-15, "scale: percent x 0.01");
  hist_t h = hist_last(p->m[SL_M_TTFT]);
  T_OK(h.nb == 3 && fabs(h.bounds[0] - 0.01) < 1e-15 && fabs(h.bounds[1] - 0.1) < 1e-15 &&
           isinf(h.bounds[2]) && h.cum[1] == 3,
       "scale: bounds in seconds, +Inf kept, counts unscaled");
  T_NEAR(h.sum, 0.5, 1e-12, "scale: sum in seconds");
  T_NEAR(h.count, 4, 0, "scale: count unscaled");
  T_NEAR(last(p->m[SL_M_WAITING]), 2, 0, "scale: the table still serves the rest");
  sl_store_free(st);
  sl_ingest_free(g);
}

// Pages one after another through one ingest: the staging starts clean every time.
static void test_reuse(void) {
  sl_ingest_t *g = sl_ingest_new(NULL);
  sl_store_t *st = fresh_store();
  sl_err_t err = {0};
  ingest_pod(g, st, vllm_v1, TXT, 1, &err);
  T_EQ_INT(ingest_pod(g, st, vllm_v0, TXT, 2, &err), 0, "reuse: v0 after v1");
  T_EQ_INT(sl_ingest_metrics(g), 7, "reuse: only v0's metrics staged");
  sl_pod_t *p = sl_store_find_pod(st, "pod-a");
  T_NEAR(last(p->m[SL_M_RUNNING]), 4, 0, "reuse: the second page's value");
  double t;
  sl_series_last(p->m[SL_M_TTFT], &t);
  T_NEAR(t, 1, 0, "reuse: a metric the second page lacks was not written again");
  for (int i = 0; i < 50; i++) ingest_pod(g, st, vllm_v1, TXT, 3 + i, &err);
  hist_t h = hist_last(p->m[SL_M_TTFT]);
  T_OK(h.nb == 3 && h.cum[2] == 53 && h.t == 52, "reuse: fifty pages later the same histogram");
  sl_store_free(st);
  sl_ingest_free(g);
}

// ---- the real vLLM page -------------------------------------------------------------------------

static void test_real_page(void) {
  const char *path = "../shared/data/metrics/vllm_metrics_page.txt";
  FILE *f = fopen(path, "rb");
  if (!f) {
    printf("# skip: %s absent, the real-page checks did not run\n", path);
    return;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  size_t got = fread(buf, 1, (size_t)n, f);
  fclose(f);
  buf[got] = '\0';
  sl_ingest_t *g = sl_ingest_new(NULL);
  sl_store_t *st = fresh_store();
  sl_err_t err = {0};
  T_EQ_INT(ingest_pod(g, st, buf, TXT, 1000, &err), 0, "real page: ingested");
  sl_pod_t *p = sl_store_find_pod(st, "pod-a");
  T_NEAR(last(p->m[SL_M_RUNNING]), 23, 0, "real page: running");
  T_NEAR(last(p->m[SL_M_WAITING]), 2, 0, "real page: waiting");
  T_NEAR(last(p->m[SL_M_KV_USAGE]), 0.41267184270186336, 0, "real page: kv_usage");
  T_NEAR(last(p->m[SL_M_KV_CAPACITY_TOKENS]), 27147.0 * 16, 0, "real page: kv capacity");
  T_NEAR(last(p->m[SL_M_REQUESTS]), 1318942.0 + 327518 + 47851, 0,
         "real page: requests over stop, length and abort");
  T_NEAR(last(p->m[SL_M_PROMPT_TOKENS]), 2.3779248e+09, 0, "real page: prompt tokens");
  T_NEAR(last(p->m[SL_M_GENERATION_TOKENS]), 4.42549442e+08, 0, "real page: generation tokens");
  T_NEAR(last(p->m[SL_M_PREEMPTIONS]), 2911, 0, "real page: preemptions");
  T_NEAR(last(p->m[SL_M_PREFIX_HITS]), 9.7567254e+08, 0, "real page: prefix hits");
  T_NEAR(last(p->m[SL_M_PREFIX_QUERIES]), 2.384749444e+09, 0, "real page: prefix queries");
  hist_t h = hist_last(p->m[SL_M_TTFT]);
  T_EQ_INT(h.nb, 23, "real page: ttft 23 buckets");
  if (h.nb == 23) {
    T_OK(h.bounds[0] == 0.001 && h.bounds[3] == 0.02 && h.bounds[21] == 2560 && isinf(h.bounds[22]),
         "real page: ttft bounds ascending, +Inf last");
    T_OK(h.cum[3] == 475 && h.cum[4] == 131911 && h.cum[22] == 1694311, "real page: ttft buckets");
    T_NEAR(h.sum, 353085.395358, 1e-6, "real page: ttft sum");
    T_NEAR(h.count, 1694311, 0, "real page: ttft count equals the requests");
  }
  T_EQ_INT(hist_last(p->m[SL_M_ITL]).nb, 20, "real page: itl 20 buckets");
  T_NEAR(hist_last(p->m[SL_M_ITL]).count, 4.3738741e+08, 0, "real page: itl count");
  T_EQ_INT(hist_last(p->m[SL_M_E2E]).nb, 22, "real page: e2e 22 buckets");
  T_EQ_INT(hist_last(p->m[SL_M_REQ_PROMPT_TOKENS]).nb, 17, "real page: prompt-length buckets");
  T_EQ_INT(hist_last(p->m[SL_M_REQ_GEN_TOKENS]).nb, 17, "real page: output-length buckets");
  T_EQ_INT(sl_ingest_metrics(g), 15, "real page: 15 metrics");
  // 9 gauges and counters (3 request series) + 1 capacity = 12; histograms 19 + 19 + 25 + 22 + 24
  T_EQ_INT(sl_ingest_samples(g), 121, "real page: 121 of its 435 samples feed the store");
  sl_store_free(st);
  sl_ingest_free(g);
  free(buf);
}

int main(void) {
  test_vllm_v1();
  test_vllm_v0();
  test_vllm_openmetrics();
  test_sglang();
  test_gateways();
  test_rejected();
  test_layouts();
  test_scale();
  test_reuse();
  test_real_page();
  return tap_done();
}
