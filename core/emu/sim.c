// The simulation backend: the default backend's pods carry the simulator's model servers. See
// sim.h. Simulated time is (wall time since the start) x speed; the loop brings the simulation up
// to it every tick and before every /metrics answer, so a page shows the servers as they are.
#include "core/emu/sim.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/emu/faults.h"
#include "core/serve/http.h"
#include "core/sim/clair.h"
#include "core/sim/cluster.h"
#include "core/sim/gateway.h"
#include "core/sim/inflight.h"
#include "core/sim/replica.h"
#include "core/sim/trace.h"
#include "core/util/log.h"
#include "core/util/rng.h"

#define TICK_MS        20
#define EPP_ANNOTATION "sluice.io/epp-model"
// The built-in load: each model at this share of one replica's rate under its SLO until
// STEP_AT simulated seconds, then at STEP_TO replicas' worth.
#define STEP_FROM 0.6
#define STEP_TO   4.0
#define STEP_AT   120.0

typedef struct server server_t;

typedef struct {
  char *load;    // the trace spec it replays
  sl_trace_t *t; // NULL: no load
  double mult;   // the --load or POST /_emu/load multiplier of its rate
  double t_off;  // simulated time the stream was (re)opened at: added to its times
  unsigned opens;
  sl_req_t head;
  int live;
  char slug[64];    // DNS-safe name of the model ("llama-3-1-8b-instruct")
  char epp_ns[254]; // where its EPP Deployment lives
} model_t;

struct server {
  server_t *next;
  sl_emu_sim_t *s;
  char ns[254], name[254], uid[64];
  int variant; // -1: the model's EPP
  int model;
  sl_http_server_t *http;
  int port;
  int reopen_failed; // said so once
  double created;    // Unix time, for the _created series
  sl_replica_t rep;
  sl_gateway_ep_t ep;
};

typedef struct slow {
  uv_timer_t t;
  struct slow *next;
  sl_emu_sim_t *s;
  server_t *sv; // valid while !gone
  sl_http_req_t *r;
  int gone, closing;
} slow_t;

static void free_all(sl_emu_sim_t *s);

struct sl_emu_sim {
  uv_loop_t *loop;
  sl_emu_t *emu;
  sl_emu_backend_t inner;
  sl_emu_pod_hooks_t hooks;
  sl_emu_sim_opts_t o;
  char *nodes; // --nodes made from the scenario's accelerators
  sl_cluster_t cl;
  int have_cl;
  model_t *m;
  int *warm; // per variant: pods that start Ready at once
  sl_inflight_pool_t pool;
  sl_gateway_t gw;
  int have_gw;
  server_t *servers;
  slow_t *slows;
  uint64_t next_tie;
  uint64_t t0_ns;
  double now; // simulated time the servers have been brought to
  sl_rng_t rng;
  uv_timer_t tick;
  int open_handles, stopping, oom_warned;
};

// ---- small helpers ------------------------------------------------------------------------------

static const char *mstr(const sl_json_t *obj, const char *key) {
  return sl_json_str_or(sl_json_get(sl_json_get(obj, "metadata"), key), "");
}

static const char *annotation(const sl_json_t *obj, const char *key) {
  return sl_json_str_or(sl_json_get(sl_json_at(obj, "metadata.annotations"), key), NULL);
}

static sl_json_t *obj_at(sl_json_t *o, const char *key) {
  sl_json_t *v = sl_json_get(o, key);
  if (v && v->type == SL_JSON_OBJECT) return v;
  if (sl_json_set(o, key, sl_json_object()) < 0) return NULL;
  return sl_json_get(o, key);
}

static int set_str(sl_json_t *o, const char *k, const char *v) {
  return o ? sl_json_set(o, k, sl_json_string(v)) : -1;
}

static int is_ready(const sl_json_t *pod) {
  const sl_json_t *cs = sl_json_at(pod, "status.conditions");
  for (size_t i = 0; cs && cs->type == SL_JSON_ARRAY && i < cs->n; i++)
    if (!strcmp(sl_json_str_or(sl_json_get(cs->items[i], "type"), ""), "Ready"))
      return !strcmp(sl_json_str_or(sl_json_get(cs->items[i], "status"), ""), "True");
  return 0;
}

static const sl_json_t *owner_named(const sl_json_t *obj, const char *kind) {
  const sl_json_t *refs = sl_json_at(obj, "metadata.ownerReferences");
  for (size_t i = 0; refs && refs->type == SL_JSON_ARRAY && i < refs->n; i++)
    if (!strcmp(sl_json_str_or(sl_json_get(refs->items[i], "kind"), ""), kind))
      return refs->items[i];
  return NULL;
}

// The Deployment a pod belongs to (through its ReplicaSet), or NULL.
static const sl_json_t *pod_deployment(sl_emu_sim_t *s, const sl_json_t *pod) {
  const sl_json_t *ref = owner_named(pod, "ReplicaSet");
  if (!ref) return NULL;
  const sl_json_t *rs = sl_emu_get(s->emu, "replicasets.apps", mstr(pod, "namespace"),
                                   sl_json_str_or(sl_json_get(ref, "name"), ""));
  const sl_json_t *dref = rs ? owner_named(rs, "Deployment") : NULL;
  if (!dref) return NULL;
  return sl_emu_get(s->emu, "deployments.apps", mstr(pod, "namespace"),
                    sl_json_str_or(sl_json_get(dref, "name"), ""));
}

// The variant a Deployment carries: the scenario's variant of that namespace/name, else the first
// variant of the model its llm-d.ai/model-id annotation names; -1 for neither.
static int deployment_variant(const sl_emu_sim_t *s, const sl_json_t *d) {
  if (!d) return -1;
  const sl_config_t *c = &s->cl.cfg;
  for (int v = 0; v < c->nvariants; v++)
    if (!strcmp(c->variants[v].ns, mstr(d, "namespace")) &&
        !strcmp(c->variants[v].name, mstr(d, "name")))
      return v;
  const char *model = annotation(d, "llm-d.ai/model-id");
  int m = model ? sl_cluster_find_model(&s->cl, model) : -1;
  for (int v = 0; m >= 0 && v < c->nvariants; v++)
    if (s->cl.vx[v].model == m) return v;
  return -1;
}

static int epp_model(const sl_emu_sim_t *s, const sl_json_t *pod) {
  const char *m = annotation(pod, EPP_ANNOTATION);
  return m ? sl_cluster_find_model(&s->cl, m) : -1;
}

static double unix_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double wall_sim(const sl_emu_sim_t *s) {
  return (double)(uv_hrtime() - s->t0_ns) * 1e-9 * s->o.speed;
}

// ---- the simulation -----------------------------------------------------------------------------

#define SERVER_OF(r) ((server_t *)((char *)(r)-offsetof(server_t, rep)))

static void on_done(void *ud, sl_replica_t *r, int32_t id, double t, sl_replica_outcome_t outcome) {
  sl_emu_sim_t *s = ud;
  sl_inflight_t *q = &s->pool.r[id];
  sl_gateway_model_t *gm = &s->gw.m[q->model];
  gm->inflight -= 1;
  gm->inflight_tokens -= q->in;
  if (outcome == SL_REPLICA_REJECTED) gm->dropped += 1;
  sl_inflight_release(&s->pool, id);
}

static void dispatch(sl_emu_sim_t *s, sl_replica_t *rep, int32_t id, double now) {
  server_t *sv = SERVER_OF(rep);
  sl_inflight_t *q = &s->pool.r[id];
  sl_gateway_model_t *gm = &s->gw.m[q->model];
  q->variant = (uint16_t)sv->variant;
  gm->inflight += 1;
  gm->inflight_tokens += q->in;
  sl_promhist_add(&gm->qdur, now - q->t_arrive, 1);
  sl_replica_submit(rep, id, now);
  sl_gateway_update(&s->gw, &sv->ep);
}

// Sends queued requests of a model to servers while any is unsaturated.
static void pump(sl_emu_sim_t *s, int model, double now) {
  sl_gateway_model_t *gm = &s->gw.m[model];
  while (gm->n > 0) {
    sl_replica_t *rep = sl_gateway_pick(&s->gw, model);
    if (!rep) break;
    dispatch(s, rep, sl_gateway_pop(&s->gw, model), now);
  }
}

static int next_head(model_t *md, sl_err_t *err) {
  int rc = sl_trace_next(md->t, &md->head, err);
  if (rc > 0) md->head.t += md->t_off;
  return rc;
}

static int arrival(sl_emu_sim_t *s, int m) {
  model_t *md = &s->m[m];
  int32_t id = sl_inflight_alloc(&s->pool);
  if (id < 0) return SL_ENOMEM;
  sl_inflight_t *q = &s->pool.r[id];
  q->t_arrive = md->head.t;
  q->in = md->head.in_tokens;
  q->out = md->head.out_tokens;
  q->model = (uint16_t)m;
  sl_gateway_model_t *gm = &s->gw.m[m];
  gm->requests += 1;
  sl_replica_t *rep = gm->n == 0 ? sl_gateway_pick(&s->gw, m) : NULL;
  if (rep)
    dispatch(s, rep, id, md->head.t);
  else
    sl_gateway_enqueue(&s->gw, m, id);
  sl_err_t err;
  int rc = next_head(md, &err);
  if (rc < 0) sl_warn("emulate: the load of %s: %s", s->cl.models[m].name, err.msg);
  md->live = rc > 0;
  return SL_OK;
}

static void drop(sl_emu_sim_t *s, int m, double now) {
  int32_t id = sl_gateway_pop(&s->gw, m);
  sl_gateway_model_t *gm = &s->gw.m[m];
  gm->dropped += 1;
  sl_promhist_add(&gm->qdur, now - s->pool.r[id].t_arrive, 1);
  sl_inflight_release(&s->pool, id);
}

// Runs every event up to simulated time t in time order: server steps, queue timeouts, arrivals.
static void run_to(sl_emu_sim_t *s, double t) {
  if (t < s->now) t = s->now;
  for (;;) {
    server_t *due = NULL;
    double ts = INFINITY;
    for (server_t *sv = s->servers; sv; sv = sv->next)
      if (sv->variant >= 0 && sl_replica_next_event(&sv->rep) < ts) {
        ts = sl_replica_next_event(&sv->rep);
        due = sv;
      }
    int dm = -1;
    double td = sl_gateway_next_drop(&s->gw, &dm);
    int am = -1;
    double ta = INFINITY;
    for (int m = 0; m < s->cl.nmodels; m++)
      if (s->m[m].live && s->m[m].head.t < ta) ta = s->m[m].head.t, am = m;
    double next = fmin(ts, fmin(td, ta));
    if (next > t) break;
    if (next == ts) {
      sl_replica_advance(&due->rep);
      sl_gateway_update(&s->gw, &due->ep);
      if (s->gw.m[due->model].n > 0) pump(s, due->model, ts);
    } else if (next == td) {
      drop(s, dm, td);
    } else if (arrival(s, am) < 0) {
      if (!s->oom_warned++) sl_warn("emulate: out of memory for requests; the load stops");
      for (int m = 0; m < s->cl.nmodels; m++) s->m[m].live = 0;
    }
  }
  s->now = t;
}

// ---- /metrics pages -----------------------------------------------------------------------------

typedef struct {
  char *p;
  size_t n, cap;
  int oom;
} buf_t;

static void bprintf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(buf_t *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if (b->p && b->n + (size_t)k < b->cap) {
      b->n += (size_t)k;
      return;
    }
    size_t cap = b->cap ? b->cap * 2 : 16384;
    while (cap < b->n + (size_t)k + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
}

// A value as Python's prometheus_client writes it: "23.0", "0.4126...", "+Inf".
static const char *num(char b[40], double v) {
  if (isnan(v)) return "NaN";
  if (isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == floor(v) && fabs(v) < 1e15) {
    snprintf(b, 40, "%.1f", v);
    return b;
  }
  for (int p = 1; p <= 17; p++) {
    snprintf(b, 40, "%.*g", p, v);
    if (strtod(b, NULL) == v) break;
  }
  return b;
}

static void meta(buf_t *b, const char *name, const char *type, const char *help) {
  bprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(buf_t *b, const char *name, const char *help, const char *labels, double v) {
  char n[40];
  meta(b, name, "gauge", help);
  bprintf(b, "%s{%s} %s\n", name, labels, num(n, v));
}

// A counter declared under its _total name, and its _created gauge, as prometheus_client writes.
static void counter(buf_t *b, const char *family, const char *help, const char *labels, double v,
                    double created) {
  char n[40], full[160];
  snprintf(full, sizeof full, "%s_total", family);
  meta(b, full, "counter", help);
  bprintf(b, "%s{%s} %s\n", full, labels, num(n, v));
  snprintf(full, sizeof full, "%s_created", family);
  meta(b, full, "gauge", help);
  bprintf(b, "%s{%s} %s\n", full, labels, num(n, created));
}

// Labels sort by name: `before` come ahead of le, `after` behind it.
static void histogram(buf_t *b, const char *name, const char *help, const char *before,
                      const char *after, const sl_promhist_t *h, double created) {
  char n[40], le[40];
  double cum[SL_PROMHIST_MAXB];
  sl_promhist_cumulative(h, cum);
  meta(b, name, "histogram", help);
  const char *sep = *before ? "," : "";
  for (int i = 0; i < h->nb; i++)
    bprintf(b, "%s_bucket{%s%sle=\"%s\",%s} %s\n", name, before, sep, num(le, h->bounds[i]), after,
            num(n, cum[i]));
  char all[512];
  snprintf(all, sizeof all, "%s%s%s", before, sep, after);
  bprintf(b, "%s_count{%s} %s\n", name, all, num(n, h->count));
  bprintf(b, "%s_sum{%s} %s\n", name, all, num(n, h->sum));
  char full[160];
  snprintf(full, sizeof full, "%s_created", name);
  meta(b, full, "gauge", help);
  bprintf(b, "%s{%s} %s\n", full, all, num(n, created));
}

// A label value with the exposition's escapes.
static void label_value(char *dst, size_t n, const char *v) {
  size_t k = 0;
  for (; *v && k + 3 < n; v++) {
    if (*v == '\\' || *v == '"')
      dst[k++] = '\\', dst[k++] = *v;
    else if (*v == '\n')
      dst[k++] = '\\', dst[k++] = 'n';
    else
      dst[k++] = *v;
  }
  dst[k] = '\0';
}

// vLLM's page (v0.10 names, with the deprecated families a real server still serves).
static void vllm_page(sl_emu_sim_t *s, const server_t *sv, buf_t *b) {
  const sl_replica_t *r = &sv->rep;
  sl_replica_gauges_t g;
  sl_replica_peek(r, s->now, &g);
  char model[400], L[480], ok[520], length[520];
  label_value(model, sizeof model, s->cl.models[sv->model].name);
  snprintf(L, sizeof L, "engine=\"0\",model_name=\"%s\"", model);
  char after[420];
  snprintf(after, sizeof after, "model_name=\"%s\"", model);
  double c = sv->created;
  gauge(b, "vllm:num_requests_running", "Number of requests in model execution batches.", L,
        g.running);
  gauge(b, "vllm:num_requests_waiting", "Number of requests waiting to be processed.", L,
        g.waiting);
  gauge(b, "vllm:gpu_cache_usage_perc",
        "GPU KV-cache usage. 1 means 100 percent usage.DEPRECATED: Use vllm:kv_cache_usage_perc "
        "instead.",
        L, g.kv_usage);
  gauge(b, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", L, g.kv_usage);
  counter(b, "vllm:prefix_cache_queries",
          "Prefix cache queries, in terms of number of queried tokens.", L, g.prompt_tokens, c);
  counter(b, "vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.", L,
          0, c);
  counter(b, "vllm:num_preemptions", "Cumulative number of preemption from the engine.", L,
          g.preemptions, c);
  counter(b, "vllm:prompt_tokens", "Number of prefill tokens processed.", L, g.prompt_tokens, c);
  counter(b, "vllm:generation_tokens", "Number of generation tokens processed.", L, g.gen_tokens,
          c);
  // Every finished request stopped on its own (the traces give each one its output length).
  char n[40];
  meta(b, "vllm:request_success_total", "counter", "Count of successfully processed requests.");
  snprintf(ok, sizeof ok, "engine=\"0\",finished_reason=\"stop\",model_name=\"%s\"", model);
  snprintf(length, sizeof length, "engine=\"0\",finished_reason=\"length\",model_name=\"%s\"",
           model);
  bprintf(b, "vllm:request_success_total{%s} %s\n", ok, num(n, g.requests));
  bprintf(b, "vllm:request_success_total{%s} 0.0\n", length);
  meta(b, "vllm:request_success_created", "gauge", "Count of successfully processed requests.");
  bprintf(b, "vllm:request_success_created{%s} %s\n", ok, num(n, c));
  bprintf(b, "vllm:request_success_created{%s} %s\n", length, num(n, c));
  histogram(b, "vllm:request_prompt_tokens", "Number of prefill tokens processed.", "engine=\"0\"",
            after, &r->h[SL_RH_PROMPT], c);
  histogram(b, "vllm:request_generation_tokens", "Number of generation tokens processed.",
            "engine=\"0\"", after, &r->h[SL_RH_GEN], c);
  histogram(b, "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
            "engine=\"0\"", after, &r->h[SL_RH_TTFT], c);
  histogram(b, "vllm:time_per_output_token_seconds",
            "Histogram of time per output token in seconds.DEPRECATED: Use "
            "vllm:inter_token_latency_seconds instead.",
            "engine=\"0\"", after, &r->h[SL_RH_ITL], c);
  histogram(b, "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
            "engine=\"0\"", after, &r->h[SL_RH_ITL], c);
  histogram(b, "vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.",
            "engine=\"0\"", after, &r->h[SL_RH_E2E], c);
  long blocks = (long)(r->cfg->kv_capacity / 16);
  meta(b, "vllm:cache_config_info", "gauge", "Information of the LLMEngine CacheConfig");
  bprintf(b,
          "vllm:cache_config_info{block_size=\"16\",cache_dtype=\"auto\","
          "enable_prefix_caching=\"True\",engine=\"0\",gpu_memory_utilization=\"0.9\","
          "num_cpu_blocks=\"None\",num_gpu_blocks=\"%ld\",swap_space=\"4\"} 1.0\n",
          blocks);
}

// The EPP's page: the gateway's view of one model (GAIE names; in-flight tokens under llm-d's).
static void epp_page(sl_emu_sim_t *s, const server_t *sv, buf_t *b) {
  int m = sv->model;
  const sl_gateway_model_t *gm = &s->gw.m[m];
  const model_t *md = &s->m[m];
  char model[400], L[900], pool[120], Q[1400];
  label_value(model, sizeof model, s->cl.models[m].name);
  snprintf(pool, sizeof pool, "%s", md->slug);
  snprintf(L, sizeof L, "model_name=\"%s\",target_model_name=\"%s\"", model, model);
  double c = sv->created;
  char n[40];
  meta(b, "inference_objective_request_total", "counter",
       "Counter of inference objective requests broken out for each model and target model.");
  bprintf(b, "inference_objective_request_total{%s} %s\n", L, num(n, gm->requests));
  meta(b, "inference_objective_request_error_total", "counter",
       "Counter of inference objective requests errors broken out for each model and target "
       "model.");
  bprintf(b, "inference_objective_request_error_total{error_code=\"ResourceExhausted\",%s} %s\n", L,
          num(n, gm->dropped));
  snprintf(Q, sizeof Q, "model_name=\"%s\"", model);
  gauge(b, "inference_objective_running_requests",
        "Inference objective number of running requests in each model.", Q, gm->inflight);
  double kv = 0, queue = 0;
  int ready = 0;
  for (const server_t *p = s->servers; p; p = p->next)
    if (p->variant >= 0 && p->model == m && p->ep.model >= 0) {
      sl_replica_gauges_t g;
      sl_replica_peek(&p->rep, s->now, &g);
      kv += g.kv_usage;
      queue += g.waiting;
      ready++;
    }
  snprintf(Q, sizeof Q, "name=\"%s\"", pool);
  gauge(b, "inference_pool_average_kv_cache_utilization",
        "The average kv cache utilization for an inference server pool.", Q,
        ready ? kv / ready : 0);
  gauge(b, "inference_pool_average_queue_size",
        "The average number of requests pending in the model server queue.", Q,
        ready ? queue / ready : 0);
  gauge(b, "inference_pool_ready_pods", "The number of ready pods in the inference server pool.", Q,
        ready);
  snprintf(Q, sizeof Q,
           "fairness_id=\"default\",inference_pool=\"%s\",model_name=\"%s\",priority=\"0\","
           "target_model_name=\"%s\"",
           pool, model, model);
  gauge(b, "inference_extension_flow_control_queue_size",
        "Current number of requests being actively managed by the EPP flow control layer.", Q,
        gm->n);
  gauge(b, "inference_extension_flow_control_queue_bytes",
        "Current size in bytes of all requests being actively managed by the EPP flow control "
        "layer.",
        Q, gm->bytes);
  snprintf(Q, sizeof Q, "inference_pool=\"%s\"", pool);
  gauge(b, "inference_extension_flow_control_pool_saturation",
        "Current saturation of the inference pool (above 1: throttling).", Q,
        sl_gateway_saturation(&s->gw, m));
  char before[200];
  snprintf(before, sizeof before, "fairness_id=\"default\",inference_pool=\"%s\"", pool);
  snprintf(Q, sizeof Q, "model_name=\"%s\",priority=\"0\",target_model_name=\"%s\"", model, model);
  histogram(b, "inference_extension_flow_control_request_queue_duration_seconds",
            "Distribution of the total time requests spend in the EPP flow control layer.", before,
            Q, &gm->qdur, c);
  gauge(b, "llm_d_epp_inflight_tokens", "Tokens of the requests in flight through the EPP.",
        "producer_name=\"inflight-load-producer\"", gm->inflight_tokens);
}

static const char garbage[] = "vllm:num_requests_running{engine=\"0\" 1\n"
                              "<html><body>502 Bad Gateway</body></html>\n\x01\x02\x03\n";

static void answer(sl_emu_sim_t *s, server_t *sv, sl_http_req_t *r) {
  run_to(s, wall_sim(s));
  buf_t b = {0};
  if (sv->variant >= 0)
    vllm_page(s, sv, &b);
  else
    epp_page(s, sv, &b);
  if (b.oom || !b.p) {
    free(b.p);
    sl_http_reply(r, 500, "text/plain", "out of memory\n", 14);
    return;
  }
  sl_http_reply_owned(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.n);
}

static void slow_closed(uv_handle_t *h) {
  slow_t *w = h->data;
  sl_emu_sim_t *s = w->s;
  free(w);
  if (--s->open_handles == 0) free_all(s);
}

static void slow_close(slow_t *w) {
  if (w->closing) return;
  w->closing = 1;
  sl_emu_sim_t *s = w->s;
  for (slow_t **pp = &s->slows; *pp; pp = &(*pp)->next)
    if (*pp == w) {
      *pp = w->next;
      break;
    }
  uv_close((uv_handle_t *)&w->t, slow_closed);
}

static void slow_gone(void *ud) {
  slow_t *w = ud;
  w->gone = 1;
  w->sv = NULL;
  w->r = NULL;
}

static void slow_fire(uv_timer_t *t) {
  slow_t *w = t->data;
  if (!w->gone) answer(w->s, w->sv, w->r);
  slow_close(w);
}

static void on_metrics(void *ud, sl_http_req_t *r) {
  server_t *sv = ud;
  sl_emu_sim_t *s = sv->s;
  const sl_emu_pod_fault_t *f = sl_emu_faults_pod(sl_emu_faults(s->emu), sv->ns, sv->name);
  if (f && f->kind == SL_EMU_POD_DEAD) {
    // Never answered: the next tick closes the listener and with it this connection.
    sl_http_defer(r, NULL, NULL);
    return;
  }
  if (f && f->kind == SL_EMU_POD_GARBAGE) {
    sl_http_reply(r, 200, "text/plain; version=0.0.4", garbage, sizeof garbage - 1);
    return;
  }
  if (f && f->kind == SL_EMU_POD_SLOW && f->delay_s > 0) {
    slow_t *w = calloc(1, sizeof *w);
    if (!w) {
      sl_http_reply(r, 500, "text/plain", "out of memory\n", 14);
      return;
    }
    w->s = s;
    w->sv = sv;
    w->r = r;
    uv_timer_init(s->loop, &w->t);
    w->t.data = w;
    s->open_handles++;
    w->next = s->slows;
    s->slows = w;
    sl_http_defer(r, slow_gone, w);
    uv_timer_start(&w->t, slow_fire, (uint64_t)(f->delay_s * 1000), 0);
    return;
  }
  answer(s, sv, r);
}

static int listen_server(server_t *sv, int port, sl_err_t *err) {
  sl_http_opts_t ho = {.host = "127.0.0.1", .port = port, .max_connections = 256};
  int rc = sl_http_server_new(sv->s->loop, &ho, &sv->http, err);
  if (rc < 0) return rc;
  if ((rc = sl_http_route(sv->http, "GET", "/metrics", on_metrics, sv)) < 0) {
    sl_http_server_free(sv->http);
    sv->http = NULL;
    return sl_err(err, rc, "out of memory");
  }
  sv->port = sl_http_server_port(sv->http);
  return SL_OK;
}

static void server_free(sl_emu_sim_t *s, server_t *sv) {
  if (sv->variant >= 0) {
    sl_gateway_remove_endpoint(&s->gw, &sv->ep);
    sl_replica_cut(&sv->rep, s->now);
    sl_replica_deinit(&sv->rep);
  }
  if (sv->http) sl_http_server_free(sv->http);
  free(sv);
}

// ---- the pods -----------------------------------------------------------------------------------

static double hook_delay(void *ud, const sl_json_t *pod) {
  sl_emu_sim_t *s = ud;
  if (epp_model(s, pod) >= 0) return 0;
  int v = deployment_variant(s, pod_deployment(s, pod));
  if (v >= 0 && s->warm[v] > 0) {
    s->warm[v]--;
    return 0;
  }
  double d = s->o.start_delay_s;
  if (d < 0) {
    const sl_cluster_t *c = &s->cl;
    d = c->cold_median;
    if (c->cold_p95 > c->cold_median && c->cold_median > 0)
      d = sl_rng_lognormal(&s->rng, log(c->cold_median), log(c->cold_p95 / c->cold_median) / 1.645);
    d = fmin(fmax(d, c->cold_min), c->cold_max);
  }
  return d / s->o.speed;
}

// Publishes the metrics port on the pod as the annotations a scraper reads and a container port.
static void publish(sl_json_t *pod, int port) {
  char ps[16];
  snprintf(ps, sizeof ps, "%d", port);
  sl_json_t *ann = obj_at(obj_at(pod, "metadata"), "annotations");
  set_str(ann, "prometheus.io/scrape", "true");
  set_str(ann, "prometheus.io/port", ps);
  set_str(ann, "prometheus.io/path", "/metrics");
  sl_json_t *cs = sl_json_at(pod, "spec.containers");
  if (!cs || cs->type != SL_JSON_ARRAY || !cs->n) return;
  sl_json_t *c = cs->items[0], *ports = sl_json_get(c, "ports");
  if (!ports || ports->type != SL_JSON_ARRAY) {
    sl_json_set(c, "ports", sl_json_array());
    ports = sl_json_get(c, "ports");
  }
  for (size_t i = 0; ports && i < ports->n; i++)
    if (!strcmp(sl_json_str_or(sl_json_get(ports->items[i], "name"), ""), "metrics")) {
      sl_json_remove_at(ports, i);
      break;
    }
  sl_json_t *p = sl_json_object();
  set_str(p, "name", "metrics");
  sl_json_set(p, "containerPort", sl_json_number(port));
  set_str(p, "protocol", "TCP");
  if (ports)
    sl_json_push(ports, p);
  else
    sl_json_free(p);
}

static void hook_ready(void *ud, sl_json_t *pod, const sl_json_t *deployment) {
  sl_emu_sim_t *s = ud;
  if (s->stopping) return;
  int model = epp_model(s, pod), variant = -1;
  if (model < 0) {
    variant = deployment_variant(s, deployment);
    if (variant < 0) return; // not a model server of the scenario: serves nothing
    model = s->cl.vx[variant].model;
  }
  server_t *sv = calloc(1, sizeof *sv);
  if (!sv) return;
  sv->s = s;
  snprintf(sv->ns, sizeof sv->ns, "%s", mstr(pod, "namespace"));
  snprintf(sv->name, sizeof sv->name, "%s", mstr(pod, "name"));
  snprintf(sv->uid, sizeof sv->uid, "%s", mstr(pod, "uid"));
  sv->variant = variant;
  sv->model = model;
  sv->created = unix_now();
  sl_err_t err;
  if (listen_server(sv, 0, &err) < 0) {
    sl_warn("emulate: pod %s/%s: no metrics endpoint: %s", sv->ns, sv->name, err.msg);
    free(sv);
    return;
  }
  run_to(s, wall_sim(s));
  if (variant >= 0) {
    sl_replica_init(&sv->rep, &s->cl.vx[variant].engine, &s->pool, on_done, s);
    sl_gateway_ep_init(&sv->ep, &sv->rep, s->next_tie++);
    if (sl_gateway_add_endpoint(&s->gw, model, &sv->ep) < 0) {
      sl_http_server_free(sv->http);
      free(sv);
      return;
    }
  }
  sv->next = s->servers;
  s->servers = sv;
  if (variant >= 0) pump(s, model, s->now);
  publish(pod, sv->port);
}

// A server whose pod is gone, replaced or no longer Ready stops; a dead-endpoint fault closes its
// listener (connections refused) until it is cleared.
static void check_servers(sl_emu_sim_t *s) {
  const sl_emu_faults_t *f = sl_emu_faults(s->emu);
  for (server_t **pp = &s->servers; *pp;) {
    server_t *sv = *pp;
    const sl_json_t *pod = sl_emu_get(s->emu, "pods", sv->ns, sv->name);
    if (!pod || strcmp(mstr(pod, "uid"), sv->uid) || !is_ready(pod) ||
        *mstr(pod, "deletionTimestamp")) {
      *pp = sv->next;
      server_free(s, sv);
      continue;
    }
    const sl_emu_pod_fault_t *pf = sl_emu_faults_pod(f, sv->ns, sv->name);
    int dead = pf && pf->kind == SL_EMU_POD_DEAD;
    if (dead && sv->http) {
      sl_http_server_free(sv->http);
      sv->http = NULL;
    } else if (!dead && !sv->http) {
      sl_err_t err;
      if (listen_server(sv, sv->port, &err) < 0 && !sv->reopen_failed++)
        sl_warn("emulate: pod %s/%s: reopening port %d (retrying): %s", sv->ns, sv->name, sv->port,
                err.msg);
    }
    pp = &sv->next;
  }
}

static void on_tick(uv_timer_t *t) {
  sl_emu_sim_t *s = t->data;
  run_to(s, wall_sim(s));
  check_servers(s);
}

// ---- the scenario's objects ---------------------------------------------------------------------

static int ensure_namespace(sl_emu_sim_t *s, const char *ns, sl_err_t *err) {
  if (sl_emu_get(s->emu, "namespaces", "", ns)) return SL_OK;
  sl_json_t *o = sl_json_object(), *md = sl_json_object();
  set_str(o, "apiVersion", "v1");
  set_str(o, "kind", "Namespace");
  set_str(md, "name", ns);
  sl_json_set(o, "metadata", md);
  return sl_emu_create(s->emu, "namespaces", o, NULL, err);
}

static sl_json_t *deployment(const char *ns, const char *name, sl_json_t *annotations,
                             sl_json_t *pod_annotations, sl_json_t *pod_spec) {
  sl_json_t *d = sl_json_object(), *md = sl_json_object(), *spec = sl_json_object();
  set_str(d, "apiVersion", "apps/v1");
  set_str(d, "kind", "Deployment");
  set_str(md, "name", name);
  set_str(md, "namespace", ns);
  sl_json_t *labels = sl_json_object();
  set_str(labels, "app", name);
  sl_json_set(md, "labels", sl_json_clone(labels));
  sl_json_set(md, "annotations", annotations);
  sl_json_set(d, "metadata", md);
  sl_json_set(spec, "replicas", sl_json_number(1));
  sl_json_t *sel = sl_json_object();
  sl_json_set(sel, "matchLabels", sl_json_clone(labels));
  sl_json_set(spec, "selector", sel);
  sl_json_t *tmpl = sl_json_object(), *tmd = sl_json_object();
  sl_json_set(tmd, "labels", labels);
  if (pod_annotations) sl_json_set(tmd, "annotations", pod_annotations);
  sl_json_set(tmpl, "metadata", tmd);
  sl_json_set(tmpl, "spec", pod_spec);
  sl_json_set(spec, "template", tmpl);
  sl_json_set(d, "spec", spec);
  return d;
}

static sl_json_t *container(const char *name, const char *image, sl_json_t *args, int gpus) {
  sl_json_t *c = sl_json_object();
  set_str(c, "name", name);
  set_str(c, "image", image);
  if (args) sl_json_set(c, "args", args);
  if (gpus > 0) {
    char g[16];
    snprintf(g, sizeof g, "%d", gpus);
    sl_json_t *res = sl_json_object(), *lim = sl_json_object();
    set_str(lim, "nvidia.com/gpu", g);
    sl_json_set(res, "limits", lim);
    sl_json_set(c, "resources", res);
  }
  sl_json_t *cs = sl_json_array(), *spec = sl_json_object();
  sl_json_push(cs, c);
  sl_json_set(spec, "containers", cs);
  return spec;
}

static int create_deployment(sl_emu_sim_t *s, sl_json_t *d, sl_err_t *err) {
  char what[600];
  snprintf(what, sizeof what, "deployment %s/%s", mstr(d, "namespace"), mstr(d, "name"));
  const sl_json_t *out;
  int rc = sl_emu_create(s->emu, "deployments.apps", d, &out, err);
  if (rc < 0) return sl_err_wrap(err, "%s", what);
  // Writes of the emulator's own are not reported to the backend: reconcile it here.
  s->inner.workload_changed(s->inner.ud, s->emu, "deployments.apps", out);
  return SL_OK;
}

static int variant_deployment(sl_emu_sim_t *s, int v, sl_err_t *err) {
  const sl_variant_t *va = &s->cl.cfg.variants[v];
  const char *model = s->cl.models[s->cl.vx[v].model].name;
  int rc = ensure_namespace(s, va->ns, err);
  if (rc < 0) return rc;
  sl_json_t *ann = sl_json_object();
  char cost[40];
  snprintf(cost, sizeof cost, "%g", va->cost);
  set_str(ann, "llm-d.ai/managed", "true");
  set_str(ann, "llm-d.ai/model-id", model);
  set_str(ann, "llm-d.ai/variant-cost", cost);
  sl_json_t *args = sl_json_array();
  sl_json_push(args, sl_json_string("--model"));
  sl_json_push(args, sl_json_string(model));
  sl_json_t *spec = container("vllm", "vllm/vllm-openai:v0.10.1", args,
                              va->gpus_per_replica > 0 ? va->gpus_per_replica : 1);
  if (va->accelerator) {
    char product[96];
    sl_json_t *sel = sl_json_object();
    set_str(sel, "nvidia.com/gpu.product",
            sl_emu_gpu_product(va->accelerator, product, sizeof product));
    sl_json_set(spec, "nodeSelector", sel);
  }
  return create_deployment(s, deployment(va->ns, va->name, ann, NULL, spec), err);
}

static int epp_deployment(sl_emu_sim_t *s, int m, sl_err_t *err) {
  model_t *md = &s->m[m];
  int rc = ensure_namespace(s, md->epp_ns, err);
  if (rc < 0) return rc;
  char name[96];
  snprintf(name, sizeof name, "%.59s-epp", md->slug);
  sl_json_t *pa = sl_json_object();
  set_str(pa, EPP_ANNOTATION, s->cl.models[m].name);
  sl_json_t *args = sl_json_array();
  sl_json_push(args, sl_json_string("--pool-name"));
  sl_json_push(args, sl_json_string(md->slug));
  sl_json_t *spec =
      container("epp", "registry.k8s.io/gateway-api-inference-extension/epp:v1.0.0", args, 0);
  return create_deployment(s, deployment(md->epp_ns, name, sl_json_object(), pa, spec), err);
}

// ---- the backend interface ----------------------------------------------------------------------

static int b_start(void *ud, sl_emu_t *emu, sl_err_t *err) {
  sl_emu_sim_t *s = ud;
  s->emu = emu;
  int rc = s->inner.start(s->inner.ud, emu, err);
  if (rc < 0) return rc;
  s->t0_ns = uv_hrtime();
  for (int v = 0; v < s->cl.cfg.nvariants; v++)
    if ((rc = variant_deployment(s, v, err)) < 0) return rc;
  for (int m = 0; m < s->cl.nmodels; m++)
    if ((rc = epp_deployment(s, m, err)) < 0) return rc;
  uv_timer_start(&s->tick, on_tick, TICK_MS, TICK_MS);
  return SL_OK;
}

static void b_changed(void *ud, sl_emu_t *emu, const char *resource, const sl_json_t *obj) {
  sl_emu_sim_t *s = ud;
  s->inner.workload_changed(s->inner.ud, emu, resource, obj);
}

static void b_scaled(void *ud, sl_emu_t *emu, const char *resource, const sl_json_t *obj, long from,
                     long to) {
  sl_emu_sim_t *s = ud;
  s->inner.workload_scaled(s->inner.ud, emu, resource, obj, from, to);
}

static void b_deleted(void *ud, sl_emu_t *emu, const char *resource, const sl_json_t *obj) {
  sl_emu_sim_t *s = ud;
  s->inner.workload_deleted(s->inner.ud, emu, resource, obj);
}

static void b_pod_deleted(void *ud, sl_emu_t *emu, const sl_json_t *pod) {
  sl_emu_sim_t *s = ud;
  s->inner.pod_deleted(s->inner.ud, emu, pod);
}

static void free_all(sl_emu_sim_t *s) {
  for (int m = 0; s->m && m < s->cl.nmodels; m++) {
    sl_trace_free(s->m[m].t);
    free(s->m[m].load);
  }
  free(s->m);
  free(s->warm);
  if (s->have_gw) sl_gateway_deinit(&s->gw);
  sl_inflight_pool_deinit(&s->pool);
  if (s->have_cl) sl_cluster_deinit(&s->cl);
  free(s->nodes);
  free(s);
}

static void tick_closed(uv_handle_t *h) {
  sl_emu_sim_t *s = h->data;
  if (--s->open_handles == 0) free_all(s);
}

static void b_stop(void *ud) {
  sl_emu_sim_t *s = ud;
  s->stopping = 1;
  if (s->inner.stop) s->inner.stop(s->inner.ud);
  while (s->servers) {
    server_t *sv = s->servers;
    s->servers = sv->next;
    server_free(s, sv);
  }
  while (s->slows) slow_close(s->slows);
  uv_close((uv_handle_t *)&s->tick, tick_closed);
}

static int open_stream(sl_emu_sim_t *s, int m, double at, sl_err_t *err);

// ---- the load at run time: /_emu/load -----------------------------------------------------------

static sl_json_t *load_json(sl_emu_sim_t *s) {
  sl_json_t *o = sl_json_object(), *ms = sl_json_object();
  sl_json_set(o, "time", sl_json_number(unix_now()));
  sl_json_set(o, "simulatedSeconds", sl_json_number(s->now));
  for (int m = 0; m < s->cl.nmodels; m++) {
    sl_json_t *mo = sl_json_object();
    sl_json_set(mo, "load", sl_json_number(s->m[m].mult));
    sl_json_set(mo, "trace", sl_json_string(s->m[m].load ? s->m[m].load : ""));
    sl_json_set(ms, s->cl.models[m].name, mo);
  }
  sl_json_set(o, "models", ms);
  return o;
}

static int load_value(const sl_json_t *v, const char *what, double *out, sl_err_t *err) {
  if (!v || v->type != SL_JSON_NUMBER || !(v->num >= 0 && v->num <= 1000))
    return sl_err(err, SL_EINVAL, "%s must be a number in [0, 1000]", what);
  *out = v->num;
  return SL_OK;
}

// A model by its name or its slug ("llama-3-1-8b-instruct").
static int model_named(const sl_emu_sim_t *s, const char *name) {
  for (int m = 0; m < s->cl.nmodels; m++)
    if (!strcmp(s->cl.models[m].name, name) || !strcmp(s->m[m].slug, name)) return m;
  return -1;
}

// {"load": X} sets every model's multiplier, {"models": {"NAME": X}} the named ones; all is
// checked before anything changes. The new rates start now, in simulated time.
static int set_load(sl_emu_sim_t *s, const sl_json_t *j, sl_err_t *err) {
  if (!j || j->type != SL_JSON_OBJECT) return sl_err(err, SL_EINVAL, "expected a JSON object");
  double *mult = malloc((size_t)s->cl.nmodels * sizeof *mult);
  if (!mult) return sl_err(err, SL_ENOMEM, "out of memory");
  for (int m = 0; m < s->cl.nmodels; m++) mult[m] = s->m[m].mult;
  int rc = SL_OK;
  for (size_t i = 0; i < j->n && rc == 0; i++)
    if (strcmp(j->keys[i], "load") && strcmp(j->keys[i], "models"))
      rc = sl_err(err, SL_EINVAL, "unknown field '%s' (expected load or models)", j->keys[i]);
  const sl_json_t *all = sl_json_get(j, "load"), *ms = sl_json_get(j, "models");
  if (rc == 0 && !all && !ms) rc = sl_err(err, SL_EINVAL, "give load or models");
  double x = 0;
  if (rc == 0 && all && (rc = load_value(all, "load", &x, err)) == 0)
    for (int m = 0; m < s->cl.nmodels; m++) mult[m] = x;
  if (rc == 0 && ms && ms->type != SL_JSON_OBJECT)
    rc = sl_err(err, SL_EINVAL, "models must map a model's name to its load");
  for (size_t i = 0; rc == 0 && ms && i < ms->n; i++) {
    int m = model_named(s, ms->keys[i]);
    char what[300];
    snprintf(what, sizeof what, "models.%s", ms->keys[i]);
    if (m < 0)
      rc = sl_err(err, SL_EINVAL, "models: no model '%s' in the scenario", ms->keys[i]);
    else
      rc = load_value(ms->items[i], what, &mult[m], err);
  }
  if (rc == 0) run_to(s, wall_sim(s));
  for (int m = 0; m < s->cl.nmodels && rc == 0; m++) {
    if (mult[m] == s->m[m].mult) continue;
    sl_info("emulate: %s: load x %g from %.1f s", s->cl.models[m].name,
            mult[m] * s->cl.models[m].rate_scale, s->now);
    s->m[m].mult = mult[m];
    rc = open_stream(s, m, s->now, err);
  }
  free(mult);
  return rc;
}

static int b_admin(void *ud, sl_emu_t *emu, const char *method, const char *path,
                   const sl_json_t *body, sl_json_t **reply, sl_err_t *err) {
  (void)emu;
  sl_emu_sim_t *s = ud;
  if (!strcmp(path, "/_emu/load")) {
    if (!strcmp(method, "GET")) {
      *reply = load_json(s);
      return SL_OK;
    }
    if (body) {
      int rc = set_load(s, body, err);
      if (rc < 0) return rc;
      *reply = load_json(s);
      return SL_OK;
    }
  }
  return sl_err(err, SL_ENOTFOUND, "no such admin endpoint: %s %s", method, path);
}

// ---- construction -------------------------------------------------------------------------------

void sl_emu_sim_opts_init(sl_emu_sim_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->speed = 1;
  o->load = 1;
  o->start_delay_s = -1;
  o->seed = 1;
}

// The token mix the built-in load draws (the default lengths of generated traces).
static int token_mix(uint64_t seed, sl_clair_mix_t *mix, sl_err_t *err) {
  sl_trace_opts_t to;
  sl_trace_opts_init(&to);
  to.seed = seed;
  sl_trace_t *t;
  int rc = sl_trace_open("poisson:rate=1,duration=100000", &to, &t, err);
  if (rc < 0) return rc;
  double n = 0, in = 0, in2 = 0, out = 0, out2 = 0;
  sl_req_t r;
  while (n < 4000 && (rc = sl_trace_next(t, &r, err)) > 0) {
    n++;
    in += r.in_tokens, in2 += (double)r.in_tokens * r.in_tokens;
    out += r.out_tokens, out2 += (double)r.out_tokens * r.out_tokens;
  }
  sl_trace_free(t);
  if (rc < 0) return rc;
  memset(mix, 0, sizeof *mix);
  mix->in = in / n;
  mix->out = out / n;
  mix->in_cv = sqrt(fmax(in2 / n - mix->in * mix->in, 0)) / mix->in;
  mix->out_cv = sqrt(fmax(out2 / n - mix->out * mix->out, 0)) / mix->out;
  return SL_OK;
}

// Opens model m's request stream at its multiplier from simulated time `at` on: the trace is
// sought to `at` and its times shifted by it, so a load changed at run time carries on from where
// the scenario is (a step already taken stays taken) at the new rate.
static int open_stream(sl_emu_sim_t *s, int m, double at, sl_err_t *err) {
  model_t *md = &s->m[m];
  sl_trace_free(md->t);
  md->t = NULL;
  md->live = 0;
  if (!(md->mult > 0)) return SL_OK;
  sl_trace_opts_t to;
  sl_trace_opts_init(&to);
  // Each reopening draws a fresh stream, reproducibly from the seed.
  to.seed = s->o.seed + 0x9e3779b97f4a7c15ULL * (uint64_t)m + 0x632be59bd9b4e019ULL * md->opens++;
  to.rate_scale = md->mult * s->cl.models[m].rate_scale;
  to.start = at;
  to.model = (uint16_t)m;
  int rc = sl_trace_open(md->load, &to, &md->t, err);
  if (rc < 0) {
    sl_err_wrap(err, "the load of %s", s->cl.models[m].name);
    return rc;
  }
  md->t_off = at;
  if ((rc = next_head(md, err)) < 0) return rc;
  md->live = rc > 0;
  return SL_OK;
}

// Each model's load: its own trace from a cluster file, else (and in the built-in scenario) a
// step from STEP_FROM of its largest variant's rate under the SLO to STEP_TO of it at STEP_AT.
static int open_loads(sl_emu_sim_t *s, sl_err_t *err) {
  const sl_cluster_t *c = &s->cl;
  sl_clair_t clair;
  sl_clair_mix_t mix;
  int rc = token_mix(s->o.seed, &mix, err);
  if (rc < 0) return rc;
  if ((rc = sl_clair_init(&clair, c, 0)) < 0) return sl_err(err, rc, "out of memory");
  for (int m = 0; m < c->nmodels && rc == 0; m++) {
    model_t *md = &s->m[m];
    // The built-in scenario's day-long traces start in their trough: it gets the step instead.
    if (c->models[m].trace && s->o.cluster) {
      md->load = strdup(c->models[m].trace);
    } else {
      double cap = 0;
      for (int v = 0; v < c->cfg.nvariants && rc == 0; v++) {
        double r = 0;
        if (c->vx[v].model == m && (rc = sl_clair_rate(&clair, v, &mix, &r, err)) == 0)
          cap = fmax(cap, r);
      }
      if (rc < 0) break;
      if (!(cap > 0)) cap = 1;
      char spec[200];
      snprintf(spec, sizeof spec, "step:rate=%.4g,to=%.4g,at=%g,duration=100000000",
               STEP_FROM * cap, STEP_TO * cap, STEP_AT);
      md->load = strdup(spec);
    }
    if (!md->load) {
      rc = sl_err(err, SL_ENOMEM, "out of memory");
      break;
    }
    md->mult = s->o.load;
    if (md->mult > 0) {
      sl_info("emulate: %s: load %s x %g", c->models[m].name, md->load,
              md->mult * c->models[m].rate_scale);
      rc = open_stream(s, m, 0, err);
    }
  }
  sl_clair_deinit(&clair);
  return rc;
}

// The nodes the scenario's accelerators need: GPUs in nodes of at most 8.
static int scenario_nodes(sl_emu_sim_t *s, sl_err_t *err) {
  const sl_config_t *c = &s->cl.cfg;
  buf_t b = {0};
  for (int i = 0; i < c->naccels; i++) {
    int count = c->accels[i].count > 0 ? c->accels[i].count : 16;
    int n = (count + 7) / 8;
    for (int k = 0; k < n; k++)
      bprintf(&b, "%s%s:1:%d", b.n ? "," : "", c->accels[i].type,
              count / n + (k < count % n ? 1 : 0));
  }
  // Accelerator types variants name without an inventory entry: two nodes of 8.
  for (int v = 0; v < c->nvariants; v++) {
    const char *a = c->variants[v].accelerator;
    int known = !a;
    for (int i = 0; !known && i < c->naccels; i++) known = !strcmp(c->accels[i].type, a);
    for (int w = 0; !known && w < v; w++)
      known = c->variants[w].accelerator && !strcmp(c->variants[w].accelerator, a);
    if (!known) bprintf(&b, "%s%s:2:8", b.n ? "," : "", a);
  }
  if (b.oom) return sl_err(err, SL_ENOMEM, "out of memory");
  s->nodes = b.p ? b.p : strdup("H100:2:8");
  return s->nodes ? SL_OK : sl_err(err, SL_ENOMEM, "out of memory");
}

static void slugify(const char *model, char *out, size_t n) {
  const char *base = strrchr(model, '/');
  base = base ? base + 1 : model;
  size_t k = 0;
  for (; *base && k + 1 < n; base++) {
    char ch = (char)tolower((unsigned char)*base);
    out[k++] = isalnum((unsigned char)ch) ? ch : '-';
  }
  while (k > 0 && out[k - 1] == '-') k--;
  out[k] = '\0';
  if (!k) snprintf(out, n, "model");
}

static int setup(sl_emu_sim_t *s, sl_err_t *err) {
  int rc = s->o.cluster ? sl_cluster_load(&s->cl, s->o.cluster, err)
                        : sl_cluster_load_buffer(&s->cl, sl_cluster_builtin_yaml,
                                                 strlen(sl_cluster_builtin_yaml), "built-in", err);
  if (rc < 0) return rc;
  s->have_cl = 1;
  const sl_config_t *c = &s->cl.cfg;
  if (!c->nvariants)
    return sl_err(err, SL_EINVAL, "%s: no variants", s->o.cluster ? s->o.cluster : "cluster");
  s->m = calloc((size_t)s->cl.nmodels, sizeof *s->m);
  s->warm = calloc((size_t)c->nvariants, sizeof *s->warm);
  if (!s->m || !s->warm) return sl_err(err, SL_ENOMEM, "out of memory");
  for (int v = 0; v < c->nvariants; v++) s->warm[v] = 1;
  for (int m = 0; m < s->cl.nmodels; m++) {
    slugify(s->cl.models[m].name, s->m[m].slug, sizeof s->m[m].slug);
    const char *ns = "default";
    for (int v = 0; v < c->nvariants; v++)
      if (s->cl.vx[v].model == m) {
        ns = c->variants[v].ns;
        break;
      }
    snprintf(s->m[m].epp_ns, sizeof s->m[m].epp_ns, "%s", ns);
  }
  sl_inflight_pool_init(&s->pool);
  if ((rc = sl_gateway_init(&s->gw, s->cl.nmodels, &s->pool, s->cl.queue_threshold,
                            s->cl.kv_threshold, s->cl.drop_timeout)) < 0)
    return sl_err(err, rc, "out of memory");
  s->have_gw = 1;
  if ((rc = open_loads(s, err)) < 0) return rc;
  if (!s->o.nodes && (rc = scenario_nodes(s, err)) < 0) return rc;
  return SL_OK;
}

int sl_emu_sim_backend(uv_loop_t *loop, const sl_emu_sim_opts_t *o, sl_emu_backend_t *out,
                       sl_emu_sim_t **sim, sl_err_t *err) {
  memset(out, 0, sizeof *out);
  if (sim) *sim = NULL;
  sl_emu_sim_t *s = calloc(1, sizeof *s);
  if (!s) return sl_err(err, SL_ENOMEM, "out of memory");
  s->loop = loop;
  if (o)
    s->o = *o;
  else
    sl_emu_sim_opts_init(&s->o);
  if (!(s->o.speed > 0)) s->o.speed = 1;
  sl_rng_seed(&s->rng, s->o.seed ^ 0x5eed5eedULL);
  int rc = setup(s, err);
  if (rc == 0) {
    s->hooks = (sl_emu_pod_hooks_t){s, hook_delay, hook_ready};
    sl_emu_backend_opts_t bo = {
        .start_delay_s = 0, .nodes = s->o.nodes ? s->o.nodes : s->nodes, .hooks = &s->hooks};
    rc = sl_emu_default_backend(loop, &bo, &s->inner, err);
  }
  if (rc < 0) {
    free_all(s);
    return rc;
  }
  uv_timer_init(loop, &s->tick);
  s->tick.data = s;
  s->open_handles = 1;
  out->ud = s;
  out->start = b_start;
  out->workload_changed = b_changed;
  out->workload_scaled = b_scaled;
  out->workload_deleted = b_deleted;
  out->pod_deleted = b_pod_deleted;
  out->admin = b_admin;
  out->stop = b_stop;
  if (sim) *sim = s;
  return SL_OK;
}

const char *sl_emu_sim_load(const sl_emu_sim_t *s, int model) {
  return model >= 0 && model < s->cl.nmodels ? s->m[model].load : NULL;
}
