// The Prometheus source against a scripted Prometheus HTTP API: the PromQL it sends (WVA's
// shape, every generation's name joined by `or`, scoped to the targets' namespaces), answers
// staged per pod and committed into the store (gauges, counters, a histogram whose buckets
// arrive out of order, vllm:cache_config_info's labels, a gateway pod's series under its model),
// series of unknown pods left out, and a poll that fails in any one query — HTTP 500, an error
// status, a body that is not JSON, Prometheus gone — writing nothing, reported, then recovering.
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "core/scrape/prom.h"
#include "core/state/series.h"
#include "tests/unit/fake_api.h"
#include "tests/unit/tap.h"

enum { MODE_OK, MODE_500, MODE_ERROR_STATUS, MODE_GARBAGE, MODE_TTFT_500 };
static _Atomic int mode = MODE_OK;
static _Atomic int waiting_p1 = 3;

static const char *vec(const char *samples) {
  static __thread char buf[4096];
  snprintf(buf, sizeof buf,
           "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[%s]}}",
           samples);
  return buf;
}

static void handler(fake_api_t *f, const fa_req_t *req, fa_resp_t *resp, void *ud) {
  (void)f, (void)ud;
  const char *q = strstr(req->url, "query=");
  q = q ? q + 6 : "";
  char s[2048];
  int m = mode;
  if (m == MODE_500) {
    fa_resp_body(resp, 500,
                 "{\"status\":\"error\",\"errorType\":\"internal\",\"error\":\"tsdb closed\"}");
    return;
  }
  if (m == MODE_GARBAGE) {
    fa_resp_body(resp, 200, "<html>proxy error</html>");
    return;
  }
  if (m == MODE_ERROR_STATUS) {
    fa_resp_body(resp, 200, "{\"status\":\"error\",\"error\":\"query timed out\"}");
    return;
  }
  if (strstr(q, "vllm:num_requests_waiting{")) {
    snprintf(s, sizeof s,
             "{\"metric\":{\"namespace\":\"llm\",\"pod\":\"p1\"},\"value\":[100.5,\"%d\"]},"
             "{\"metric\":{\"namespace\":\"llm\",\"pod\":\"p2\"},\"value\":[100.5,\"5\"]},"
             "{\"metric\":{\"namespace\":\"other\",\"pod\":\"x\"},\"value\":[100.5,\"9\"]}",
             (int)waiting_p1);
    fa_resp_body(resp, 200, vec(s));
  } else if (strstr(q, "vllm:kv_cache_usage_perc{")) {
    fa_resp_body(resp, 200,
                 vec("{\"metric\":{\"namespace\":\"llm\",\"pod\":\"p1\"},\"value\":[1,\"0.5\"]},"
                     "{\"metric\":{\"namespace\":\"llm\",\"pod\":\"p2\"},\"value\":[1,\"NaN\"]}"));
  } else if (strstr(q, "vllm:cache_config_info{")) {
    fa_resp_body(
        resp, 200,
        vec("{\"metric\":{\"namespace\":\"llm\",\"pod\":\"p1\",\"num_gpu_blocks\":\"1000\","
            "\"block_size\":\"16\"},\"value\":[1,\"1\"]}"));
  } else if (strstr(q, "vllm:time_to_first_token_seconds_bucket{")) {
    if (m == MODE_TTFT_500) {
      fa_resp_body(resp, 503, "{\"status\":\"error\",\"error\":\"overloaded\"}");
      return;
    }
    fa_resp_body(resp, 200,
                 vec("{\"metric\":{\"namespace\":\"llm\",\"pod\":\"p1\",\"le\":\"+Inf\"},\"value\":"
                     "[1,\"6\"]},"
                     "{\"metric\":{\"namespace\":\"llm\",\"pod\":\"p1\",\"le\":\"0.1\"},\"value\":["
                     "1,\"2\"]},"
                     "{\"metric\":{\"namespace\":\"llm\",\"pod\":\"p1\",\"le\":\"0.5\"},\"value\":["
                     "1,\"5\"]}"));
  } else if (strstr(q, "vllm:time_to_first_token_seconds_sum{")) {
    fa_resp_body(resp, 200,
                 vec("{\"metric\":{\"namespace\":\"llm\",\"pod\":\"p1\"},\"value\":[1,\"1.5\"]}"));
  } else if (strstr(q, "vllm:time_to_first_token_seconds_count{")) {
    fa_resp_body(resp, 200,
                 vec("{\"metric\":{\"namespace\":\"llm\",\"pod\":\"p1\"},\"value\":[1,\"6\"]}"));
  } else if (strstr(q, "inference_extension_flow_control_queue_size{")) {
    // The gateway pod's series; and the same name on a model-server pod, which is not its scope.
    fa_resp_body(resp, 200,
                 vec("{\"metric\":{\"namespace\":\"llm\",\"pod\":\"epp\"},\"value\":[1,\"7\"]},"
                     "{\"metric\":{\"namespace\":\"llm\",\"pod\":\"p1\"},\"value\":[1,\"99\"]}"));
  } else {
    fa_resp_body(resp, 200, vec(""));
  }
  fa_resp_header(resp, "Content-Type: application/json");
}

typedef struct {
  sl_prom_t *p;
  long polls;
} wait_t;

static int polled(void *ud) {
  wait_t *w = ud;
  sl_prom_stats_t st;
  sl_prom_stats(w->p, &st);
  return st.polls > w->polls;
}

// One more poll: move the clock to the next one and run the loop until it has ended.
static int next_poll(uv_loop_t *loop, sl_sched_t *s, sl_prom_t *p, double dt) {
  sl_prom_stats_t st;
  sl_prom_stats(p, &st);
  wait_t w = {p, st.polls};
  sl_sched_advance(s, dt);
  return fa_pump_s(loop, s, polled, &w, 5000);
}

static double last(sl_series_t *se, double *t) {
  return se ? sl_series_last(se, t) : NAN;
}

int main(void) {
  fake_api_t *f = fa_start(handler, NULL);
  if (!f) return 1;
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", f->port);
  uv_loop_t loop;
  uv_loop_init(&loop);
  sl_sched_t *sched = sl_sched_new_manual(0, 1000);
  sl_err_t err = {0};
  sl_prom_opts_t o = {.url = url, .interval = 1, .matchers = "job=\"vllm\""};
  sl_prom_t *p = sl_prom_new(&o, &err);
  T_OK(p != NULL, "created (%s)", p ? "" : err.msg);
  sl_prom_target_t t[] = {{"llm/p1", NULL}, {"llm/p2", NULL}, {"llm/epp", "m"}, {"bad", NULL}};
  T_EQ_INT(sl_prom_set_targets(p, t, 4, &err), 0, "targets set");

  // The queries.
  const char *want = "sum by (namespace, pod) (vllm:num_requests_waiting{namespace=~\"llm\", "
                     "job=\"vllm\"}) or sum by (namespace, pod) (sglang:num_queue_reqs{"
                     "namespace=~\"llm\", job=\"vllm\"})";
  int found = 0, avg = 0, le = 0;
  for (size_t i = 0; i < sl_prom_nqueries(p); i++) {
    const char *q = sl_prom_query(p, i);
    found |= !strcmp(q, want);
    avg |= !strncmp(q, "avg by (namespace, pod) (vllm:kv_cache_usage_perc{", 50);
    le |= strstr(q, "sum by (namespace, pod, le) (vllm:time_to_first_token_seconds_bucket{") == q;
  }
  T_OK(found, "waiting: WVA's shape, vLLM's name before SGLang's, scoped to the namespace");
  T_OK(avg, "kv usage, a fraction: averaged, not summed");
  T_OK(le, "histogram buckets kept apart by le");

  sl_store_t *st = sl_store_new(16);
  sl_store_set_pod(st, "llm/a", "llm/p1", SL_POD_READY);
  sl_store_set_pod(st, "llm/a", "llm/p2", SL_POD_READY);
  T_EQ_INT(sl_prom_start(p, &loop, sched, st, &err), 0, "started");
  T_OK(next_poll(&loop, sched, p, 0), "a first poll");
  sl_prom_stats_t ps;
  sl_prom_stats(p, &ps);
  T_OK(ps.up && ps.polls_failed == 0, "it was committed (%s)", ps.last_error);
  sl_pod_t *p1 = sl_store_find_pod(st, "llm/p1"), *p2 = sl_store_find_pod(st, "llm/p2");
  double tw;
  T_NEAR(last(p1->m[SL_M_WAITING], &tw), 3, 0, "p1 waiting");
  T_NEAR(tw, 1000, 1e-9, "at the poll's wall time");
  T_NEAR(last(p2->m[SL_M_WAITING], NULL), 5, 0, "p2 waiting");
  T_NEAR(last(p1->m[SL_M_KV_USAGE], NULL), 0.5, 0, "p1 kv usage");
  T_OK(isnan(last(p2->m[SL_M_KV_USAGE], NULL)), "a NaN answer is no sample");
  T_NEAR(last(p1->m[SL_M_KV_CAPACITY_TOKENS], NULL), 16000, 0,
         "KV capacity from cache_config_info's labels");
  sl_series_t *h = p1->m[SL_M_TTFT];
  T_OK(h && h->nb == 3 && h->bounds[0] == 0.1 && h->bounds[1] == 0.5 && isinf(h->bounds[2]),
       "TTFT buckets sorted by le, +Inf last");
  T_NEAR(last(h, NULL), 6, 0, "TTFT count");
  T_OK(!p1->m[SL_M_GW_QUEUE_SIZE], "a gateway series on a model-server pod is not taken");
  sl_store_model_t *mm = sl_store_find_model(st, "m");
  T_NEAR(mm ? last(mm->m[SL_M_GW_QUEUE_SIZE], NULL) : NAN, 7, 0,
         "the gateway pod's queue, under its model");
  T_OK(ps.series_unmatched >= 1, "the other namespace's series counted as unmatched");

  // Failures: nothing is written, the failure is said, and the next good poll recovers.
  static const struct {
    int mode;
    const char *says;
  } bad[] = {{MODE_500, "HTTP 500"},
             {MODE_ERROR_STATUS, "query timed out"},
             {MODE_GARBAGE, "query"},
             {MODE_TTFT_500, "HTTP 503"}};
  double clock = 0;
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    mode = bad[k].mode;
    waiting_p1 = 40 + (int)k;
    T_OK(next_poll(&loop, sched, p, 1), "poll %zu ended", k);
    clock += 1;
    sl_prom_stats(p, &ps);
    T_OK(!ps.up && strstr(ps.last_error, bad[k].says), "mode %d reported: %s", bad[k].mode,
         ps.last_error);
    double v = last(p1->m[SL_M_WAITING], &tw);
    T_OK(v == 3 && tw == 1000, "mode %d: nothing written, the sample ages (%g at %g)", bad[k].mode,
         v, tw);
  }
  mode = MODE_OK;
  waiting_p1 = 8;
  T_OK(next_poll(&loop, sched, p, 1), "poll after recovery");
  sl_prom_stats(p, &ps);
  T_OK(ps.up && ps.polls_failed == 4, "up again after 4 failed polls (%ld)", ps.polls_failed);
  T_NEAR(last(p1->m[SL_M_WAITING], &tw), 8, 0, "the new value");
  T_NEAR(tw, 1000 + clock + 1, 1e-9, "at the new time");

  // Prometheus gone: a connection refused is a failed poll, not a stall.
  fa_stop(f);
  T_OK(next_poll(&loop, sched, p, 1), "a poll with Prometheus gone ends");
  sl_prom_stats(p, &ps);
  T_OK(!ps.up && ps.last_error[0], "and is reported: %s", ps.last_error);

  // Answers that are not a vector are refused by the stager itself.
  sl_prom_stage_reset(p);
  const char *matrix =
      "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}";
  T_EQ_INT(sl_prom_stage(p, 0, matrix, strlen(matrix), &err), SL_EPARSE, "a matrix is refused");
  const char *dup = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
                    "{\"metric\":{\"namespace\":\"llm\",\"pod\":\"p1\"},\"value\":[1]}]}}";
  T_EQ_INT(sl_prom_stage(p, 0, dup, strlen(dup), &err), SL_EPARSE, "a value without its string");

  sl_prom_stop(p);
  sl_prom_free(p);
  uv_run(&loop, UV_RUN_DEFAULT);
  sl_sched_free(sched);
  uv_loop_close(&loop);
  sl_store_free(st);
  return tap_done();
}
