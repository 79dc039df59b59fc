// Scale, status, events and leader election against fake API servers: a 409 on PATCH is
// retried on a fresh read and applied once; the VariantAutoscaling status patch; 10 identical
// events become 1 create and 9 PATCHes ending at count 10, similar ones combine, the spam
// filter caps a burst and refills; two candidates on one lease never lead at once, and the
// second takes over only after the first stops renewing and the lease expires.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/kube/events.h"
#include "core/kube/lease.h"
#include "core/kube/scale.h"
#include "tests/unit/fake_api.h"
#include "tests/unit/tap.h"

typedef struct {
  uv_loop_t loop;
  sl_httpc_t *http;
  sl_sched_t *sched;
  fake_api_t *f;
} env_t;

static sl_kube_client_t *client(env_t *e, const char *token) {
  sl_kube_config_t cfg = {0};
  cfg.server = strdup(e->f->base);
  cfg.namespace = strdup("llm");
  cfg.token = strdup(token);
  cfg.token_read_at = NAN;
  return sl_kube_client_new(e->http, e->sched, &cfg, NULL, NULL);
}

static void env_init(env_t *e, fa_handler_fn h, void *ud) {
  memset(e, 0, sizeof *e);
  uv_loop_init(&e->loop);
  e->f = fa_start(h, ud);
  e->http = sl_httpc_new(&e->loop, NULL);
  e->sched = sl_sched_new_manual(0, 1748779200);
}

static void env_deinit(env_t *e) {
  sl_httpc_free(e->http);
  sl_sched_free(e->sched);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  uv_loop_close(&e->loop);
  fa_stop(e->f);
}

// ---- scale -------------------------------------------------------------------------------------

typedef struct {
  int replicas, rv, applied, conflict_next, patches;
} scale_srv_t;

static void scale_handler(fake_api_t *f, const fa_req_t *rq, fa_resp_t *resp, void *ud) {
  scale_srv_t *s = ud;
  char b[1024];
  if (strstr(rq->path, "/scale")) {
    if (!strcmp(rq->method, "PATCH")) {
      s->patches++;
      char want[64];
      snprintf(want, sizeof want, "\"resourceVersion\":\"%d\"", s->rv);
      if (s->conflict_next) {
        // Someone else scaled in between: the version moved on.
        s->conflict_next = 0;
        s->rv++;
        s->replicas = 3;
        fa_resp_status(resp, 409, "Conflict", "the object has been modified");
        return;
      }
      if (!strstr(rq->body, want) || strcmp(rq->content_type, "application/merge-patch+json")) {
        fa_resp_status(resp, 409, "Conflict", "stale version");
        return;
      }
      const char *r = strstr(rq->body, "\"replicas\":");
      s->replicas = r ? atoi(r + 11) : s->replicas;
      s->rv++;
      s->applied++;
    }
    snprintf(
        b, sizeof b,
        "{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{\"name\":"
        "\"vllm\",\"namespace\":\"llm\",\"resourceVersion\":\"%d\"},\"spec\":{\"replicas\":%d},"
        "\"status\":{\"replicas\":%d,\"selector\":\"app=vllm,role=decode\"}}",
        s->rv, s->replicas, s->replicas);
    fa_resp_body(resp, 200, b);
  } else if (strstr(rq->path, "/status")) {
    fa_resp_body(resp, 200, "{\"kind\":\"VariantAutoscaling\"}");
  } else {
    fa_resp_status(resp, 404, "NotFound", "no");
  }
}

typedef struct {
  int done, writes;
  sl_kube_result_t res;
  sl_kube_scale_t scale;
  int have;
} scale_out_t;

static void on_scale(void *ud, const sl_kube_result_t *res, const sl_kube_scale_t *sc, int writes) {
  scale_out_t *o = ud;
  o->done++;
  o->res = *res;
  o->writes = writes;
  o->have = sc != NULL;
  if (sc) o->scale = *sc;
}

static int scale_done(void *ud) {
  return ((scale_out_t *)ud)->done > 0;
}

typedef struct {
  int done;
  sl_kube_result_t res;
} call_out_t;

static void on_call(void *ud, sl_kube_result_t *r) {
  call_out_t *o = ud;
  o->done++;
  o->res = *r;
  o->res.body = NULL;
}

static int call_done(void *ud) {
  return ((call_out_t *)ud)->done > 0;
}

static void test_scale(void) {
  scale_srv_t s = {.replicas = 2, .rv = 100};
  env_t e;
  env_init(&e, scale_handler, &s);
  sl_kube_client_t *c = client(&e, "t");
  sl_err_t err = {0};

  scale_out_t g = {0};
  sl_kube_scale_get(c, SL_KUBE_DEPLOYMENT, "llm", "vllm", on_scale, &g, &err);
  fa_pump_s(&e.loop, e.sched, scale_done, &g, 5000);
  T_OK(g.res.rc == SL_OK && g.have && g.scale.spec_replicas == 2 && g.scale.status_replicas == 2,
       "GET /scale reads spec and status replicas");
  T_OK(!strcmp(g.scale.selector, "app=vllm,role=decode") && !strcmp(g.scale.rv, "100"),
       "and the selector and version");
  T_OK(!strcmp(fa_get(e.f, 0).path, "/apis/apps/v1/namespaces/llm/deployments/vllm/scale"),
       "Deployment scale path");

  // A PATCH answered 409: a fresh read, a second PATCH, applied exactly once.
  fa_lock(e.f);
  s.conflict_next = 1;
  fa_unlock(e.f);
  int n0 = fa_count(e.f);
  scale_out_t o = {0};
  sl_kube_scale_set(c, SL_KUBE_DEPLOYMENT, "llm", "vllm", 5, on_scale, &o, &err);
  fa_pump_s(&e.loop, e.sched, scale_done, &o, 5000);
  char seq[256] = "";
  for (int i = n0; i < fa_count(e.f); i++) {
    fa_req_t r = fa_get(e.f, i);
    strncat(seq, r.method, sizeof seq - strlen(seq) - 2);
    strncat(seq, " ", sizeof seq - strlen(seq) - 1);
  }
  T_OK(!strcmp(seq, "GET PATCH GET PATCH "), "409 -> fresh read -> PATCH (%s)", seq);
  T_OK(o.res.rc == SL_OK && o.writes == 1 && s.applied == 1 && s.replicas == 5,
       "applied once (writes %d, applied %d, replicas %d)", o.writes, s.applied, s.replicas);
  fa_req_t last = fa_get(e.f, fa_count(e.f) - 1);
  T_STR_HAS(last.body, "\"resourceVersion\":\"101\"", "the retry carries the fresh version");
  T_OK(o.have && o.scale.spec_replicas == 5, "the result is the server's new scale");

  // Already at the target: no write.
  n0 = fa_count(e.f);
  scale_out_t same = {0};
  sl_kube_scale_set(c, SL_KUBE_DEPLOYMENT, "llm", "vllm", 5, on_scale, &same, &err);
  fa_pump_s(&e.loop, e.sched, scale_done, &same, 5000);
  T_OK(same.res.rc == SL_OK && same.writes == 0 && fa_count(e.f) - n0 == 1,
       "already at the target: one GET, no PATCH");

  // Two conflicts in a row: reported, not retried forever.
  fa_lock(e.f);
  s.conflict_next = 1;
  fa_unlock(e.f);
  scale_out_t lws = {0};
  n0 = fa_count(e.f);
  sl_kube_scale_set(c, SL_KUBE_LEADERWORKERSET, "llm", "vllm", 7, on_scale, &lws, &err);
  fa_pump_s(&e.loop, e.sched, scale_done, &lws, 5000);
  T_OK(!strcmp(fa_get(e.f, n0).path,
               "/apis/leaderworkerset.x-k8s.io/v1/namespaces/llm/leaderworkersets/vllm/scale"),
       "LeaderWorkerSet scale path");
  T_OK(lws.res.rc == SL_OK && s.replicas == 7, "LWS scaled after one conflict");
  T_EQ_INT(sl_kube_scale_set(c, SL_KUBE_DEPLOYMENT, "llm", "vllm", -1, on_scale, &o, &err) != NULL,
           0, "negative replicas refused");

  call_out_t st = {0};
  n0 = fa_count(e.f);
  sl_kube_va_status(c, "llm", "llama-8b-decode", 4, "H100", "spare kv 0.07 < 0.10", 1, 1748779200,
                    on_call, &st, &err);
  fa_pump_s(&e.loop, e.sched, call_done, &st, 5000);
  fa_req_t vr = fa_get(e.f, n0);
  T_OK(
      st.res.rc == SL_OK && !strcmp(vr.method, "PATCH") &&
          !strcmp(
              vr.path,
              "/apis/llmd.ai/v1alpha1/namespaces/llm/variantautoscalings/llama-8b-decode/status") &&
          !strcmp(vr.content_type, "application/merge-patch+json"),
      "VA status: merge patch on the status subresource");
  T_STR_HAS(vr.body,
            "\"desiredOptimizedAlloc\":{\"numReplicas\":4,\"accelerator\":\"H100\","
            "\"lastRunTime\":\"2025-06-01T12:00:00Z\"}",
            "desired replicas");
  T_STR_HAS(vr.body, "\"message\":\"spare kv 0.07 < 0.10\"", "the policy's reason");
  sl_kube_client_free(c);
  env_deinit(&e);
}

// ---- events ------------------------------------------------------------------------------------

typedef struct {
  int expire_next_patch;
} ev_srv_t;

static void ev_handler(fake_api_t *f, const fa_req_t *rq, fa_resp_t *resp, void *ud) {
  ev_srv_t *s = ud;
  if (!strcmp(rq->method, "PATCH") && s->expire_next_patch) {
    s->expire_next_patch = 0;
    fa_resp_status(resp, 404, "NotFound", "events \\\"x\\\" not found");
    return;
  }
  fa_resp_body(resp, !strcmp(rq->method, "POST") ? 201 : 200, "{\"kind\":\"Event\"}");
}

static int events_idle(void *ud) {
  return sl_kube_events_pending(ud) == 0;
}

static void test_events(void) {
  ev_srv_t s = {0};
  env_t e;
  env_init(&e, ev_handler, &s);
  sl_kube_client_t *c = client(&e, "t");
  sl_err_t err = {0};
  sl_kube_events_opts_t eo = {.instance = "sluice-7d9f8-abcde"};
  sl_kube_events_t *ev = sl_kube_events_new(c, &eo, &err);
  sl_kube_objref_t obj = {"apps/v1", "Deployment", "llm", "vllm", "uid-1"};

  for (int i = 0; i < 10; i++) {
    sl_kube_events_record(ev, &obj, "Normal", "SuccessfulRescale", "New size: 4; reason: queue",
                          &err);
    fa_advance(e.f, e.sched, 1);
  }
  fa_pump_s(&e.loop, e.sched, events_idle, ev, 5000);
  T_EQ_INT(fa_count_match(e.f, "POST", "/api/v1/namespaces/llm/events"), 1,
           "10 identical events: one create");
  T_EQ_INT(fa_count_match(e.f, "PATCH", "/api/v1/namespaces/llm/events/vllm."), 9,
           "and nine PATCHes of it");
  fa_req_t first = fa_get(e.f, 0), last = fa_get(e.f, fa_count(e.f) - 1);
  T_STR_HAS(first.body,
            "\"involvedObject\":{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
            "\"namespace\":\"llm\",\"name\":\"vllm\",\"uid\":\"uid-1\"}",
            "involvedObject is the workload");
  T_STR_HAS(first.body, "\"source\":{\"component\":\"sluice\"}", "source.component");
  T_STR_HAS(first.body,
            "\"reportingComponent\":\"sluice\",\"reportingInstance\":"
            "\"sluice-7d9f8-abcde\"",
            "reporting component and instance");
  T_STR_HAS(first.body, "\"message\":\"New size: 4; reason: queue\",\"type\":\"Normal\"",
            "the reason as the message");
  T_STR_HAS(last.body, "\"count\":10", "the last PATCH carries count 10");
  T_STR_HAS(last.body, "\"lastTimestamp\":\"2025-06-01T12:00:09Z\"", "and the last time");
  T_OK(strstr(last.path, "/events/vllm.") != NULL, "PATCHes the event it created");

  // Flapping: distinct messages, same reason. From the 10th distinct one, combined.
  int n0 = fa_count(e.f);
  for (int i = 0; i < 14; i++) {
    char m[64];
    snprintf(m, sizeof m, "New size: %d", 5 + i);
    sl_kube_events_record(ev, &obj, "Normal", "Flap", m, &err);
  }
  fa_pump_s(&e.loop, e.sched, events_idle, ev, 5000);
  int posts = 0, patches = 0, combined = 0;
  for (int i = n0; i < fa_count(e.f); i++) {
    fa_req_t r = fa_get(e.f, i);
    posts += !strcmp(r.method, "POST");
    patches += !strcmp(r.method, "PATCH");
    combined += strstr(r.body, "(combined from similar events): ") != NULL;
  }
  T_EQ_INT(posts, 10, "9 distinct events, then one combined event created");
  T_EQ_INT(patches, 4, "later similar ones PATCH the combined event");
  T_EQ_INT(combined, 5, "combined messages say so");

  // Spam filter: burst 25 per object (10 + 14 already spent... new object for a clean count).
  sl_kube_objref_t obj2 = {"apps/v1", "Deployment", "llm", "other", NULL};
  int dropped = 0;
  for (int i = 0; i < 30; i++)
    dropped += sl_kube_events_record(ev, &obj2, "Warning", "Spam", "same", &err) == 1;
  T_EQ_INT(dropped, 5, "30 at once: the burst of 25 passes, 5 dropped");
  fa_advance(e.f, e.sched, 299);
  T_EQ_INT(sl_kube_events_record(ev, &obj2, "Warning", "Spam", "same", &err), 1,
           "still dropped before the 300 s refill");
  fa_advance(e.f, e.sched, 1.01);
  T_EQ_INT(sl_kube_events_record(ev, &obj2, "Warning", "Spam", "same", &err), 0,
           "one more after 300 s");
  fa_pump_s(&e.loop, e.sched, events_idle, ev, 5000);
  last = fa_get(e.f, fa_count(e.f) - 1);
  T_STR_HAS(last.body, "\"count\":32", "the count includes the dropped ones");

  // An expired event: the PATCH's 404 creates it again.
  fa_lock(e.f);
  s.expire_next_patch = 1;
  fa_unlock(e.f);
  n0 = fa_count(e.f);
  sl_kube_events_record(ev, &obj, "Normal", "SuccessfulRescale", "New size: 4; reason: queue",
                        &err);
  fa_pump_s(&e.loop, e.sched, events_idle, ev, 5000);
  T_OK(fa_count(e.f) - n0 == 2 && !strcmp(fa_get(e.f, n0 + 1).method, "POST"),
       "PATCH 404 -> create");
  T_STR_HAS(fa_get(e.f, n0 + 1).body, "\"count\":11", "with the running count");

  T_EQ_INT(sl_kube_events_record(ev, &obj, "Info", "X", "m", &err), SL_EINVAL,
           "type must be Normal or Warning");
  sl_kube_events_stats_t st;
  sl_kube_events_stats(ev, &st);
  T_EQ_INT(st.spam_dropped, 6, "spam drops counted");
  sl_kube_events_free(ev);
  sl_kube_client_free(c);
  env_deinit(&e);
}

// ---- leader election ---------------------------------------------------------------------------

typedef struct {
  int exists, rv;
  char body[2048];
  char partitioned[32]; // requests with this bearer token fail
} lease_srv_t;

static void lease_handler(fake_api_t *f, const fa_req_t *rq, fa_resp_t *resp, void *ud) {
  lease_srv_t *s = ud;
  if (s->partitioned[0] && strstr(rq->auth, s->partitioned)) {
    fa_resp_status(resp, 503, "ServiceUnavailable", "partitioned");
    return;
  }
  char b[4096];
  if (!strcmp(rq->method, "GET")) {
    if (!s->exists) {
      fa_resp_status(resp, 404, "NotFound", "leases not found");
      return;
    }
    fa_resp_body(resp, 200, s->body);
    return;
  }
  // POST or PUT: store the spec, with a new version; PUT must carry the current one.
  if (!strcmp(rq->method, "POST") && s->exists) {
    fa_resp_status(resp, 409, "AlreadyExists", "already exists");
    return;
  }
  if (!strcmp(rq->method, "PUT")) {
    char want[64];
    snprintf(want, sizeof want, "\"resourceVersion\":\"%d\"", s->rv);
    if (!s->exists || !strstr(rq->body, want)) {
      fa_resp_status(resp, 409, "Conflict", "the object has been modified");
      return;
    }
  }
  s->exists = 1;
  s->rv++;
  // Replace the version in the body with the new one.
  const char *spec = strstr(rq->body, "\"spec\":");
  snprintf(b, sizeof b,
           "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{"
           "\"name\":\"sluice-leader\",\"namespace\":\"llm\",\"resourceVersion\":\"%d\"},%s",
           s->rv, spec ? spec : "\"spec\":{}}");
  snprintf(s->body, sizeof s->body, "%s", b);
  fa_resp_body(resp, 200, s->body);
}

typedef struct {
  int leading, started, stopped;
  double started_at, stopped_at;
  sl_sched_t *sched;
} cand_t;

static void started(void *ud) {
  cand_t *c = ud;
  c->leading = 1;
  c->started++;
  c->started_at = sl_sched_now(c->sched);
}

static void stopped(void *ud) {
  cand_t *c = ud;
  c->leading = 0;
  c->stopped++;
  c->stopped_at = sl_sched_now(c->sched);
}

static void holder_of(fake_api_t *f, lease_srv_t *s, char *out, size_t n) {
  fa_lock(f);
  const char *h = strstr(s->body, "\"holderIdentity\":\"");
  out[0] = '\0';
  if (h) {
    h += 18;
    size_t i = 0;
    while (h[i] && h[i] != '"' && i + 1 < n) out[i] = h[i], i++;
    out[i] = '\0';
  }
  fa_unlock(f);
}

static void test_lease(void) {
  lease_srv_t s = {0};
  env_t e;
  env_init(&e, lease_handler, &s);
  sl_kube_client_t *ca = client(&e, "A"), *cb = client(&e, "B");
  cand_t a = {.sched = e.sched}, b = {.sched = e.sched};
  sl_kube_lease_opts_t o = {.namespace = "llm",
                            .name = "sluice-leader",
                            .release_on_stop = 1,
                            .on_started = started,
                            .on_stopped = stopped};
  o.identity = "pod-a_1";
  o.ud = &a;
  o.seed = 1;
  sl_err_t err = {0};
  sl_kube_lease_t *la = sl_kube_lease_new(ca, &o, &err);
  o.identity = "pod-b_2";
  o.ud = &b;
  o.seed = 2;
  sl_kube_lease_t *lb = sl_kube_lease_new(cb, &o, &err);
  sl_kube_lease_start(la, &err);
  fa_pump_s(&e.loop, e.sched, NULL, NULL, 50);
  sl_kube_lease_start(lb, &err);

  int both = 0, mismatch = 0;
  char holder[256];
  // 20 s in 0.25 s steps, letting every request finish at each step.
  for (int i = 0; i < 80; i++) {
    for (int j = 0; j < 200; j++) {
      fa_pump_s(&e.loop, e.sched, NULL, NULL, 1);
      if (!sl_httpc_active(e.http) && sl_sched_next(e.sched) > sl_sched_now(e.sched)) break;
    }
    both |= a.leading && b.leading;
    holder_of(e.f, &s, holder, sizeof holder);
    if (a.leading && strcmp(holder, "pod-a_1")) mismatch = 1;
    if (b.leading && strcmp(holder, "pod-b_2")) mismatch = 1;
    fa_advance(e.f, e.sched, 0.25);
  }
  T_OK(a.leading && !b.leading && a.started == 1, "one candidate leads (the first)");
  T_OK(!both && !mismatch, "never both leading; the leader is the lease's holder");
  T_OK(!strcmp(sl_kube_lease_holder(lb), "pod-a_1"), "the other sees who holds it");
  sl_kube_lease_stats_t st;
  sl_kube_lease_stats(la, &st);
  T_OK(st.renewed >= 8, "the leader renews every retry period (%ld renewals)", st.renewed);

  // A is cut off from the API server: it stops renewing.
  double cut = sl_sched_now(e.sched);
  fa_lock(e.f);
  snprintf(s.partitioned, sizeof s.partitioned, "Bearer A");
  fa_unlock(e.f);
  for (int i = 0; i < 160 && !b.leading; i++) {
    for (int j = 0; j < 200; j++) {
      fa_pump_s(&e.loop, e.sched, NULL, NULL, 1);
      if (!sl_httpc_active(e.http) && sl_sched_next(e.sched) > sl_sched_now(e.sched)) break;
    }
    both |= a.leading && b.leading;
    fa_advance(e.f, e.sched, 0.25);
  }
  T_OK(a.stopped == 1 && !a.leading, "A steps down when renewals fail past the deadline");
  T_OK(a.stopped_at - cut <= 10 + 2 + 0.5, "within renew deadline + a retry period (%.2fs)",
       a.stopped_at - cut);
  T_OK(b.leading && b.started == 1, "B takes over");
  T_OK(b.started_at - cut >= 15 - 2, "only after the lease expired (%.2fs after the cut)",
       b.started_at - cut);
  T_OK(a.stopped_at < b.started_at && !both, "A stopped before B started: never both");
  fa_lock(e.f);
  int transitions = strstr(s.body, "\"leaseTransitions\":1") != NULL;
  fa_unlock(e.f);
  holder_of(e.f, &s, holder, sizeof holder);
  T_OK(!strcmp(holder, "pod-b_2") && transitions, "lease: holder B, one transition");

  // B stops and releases; A (reconnected) acquires it without waiting out 15 s.
  fa_lock(e.f);
  s.partitioned[0] = '\0';
  fa_unlock(e.f);
  sl_kube_lease_stop(lb);
  T_OK(!b.leading && b.stopped == 1, "stop: on_stopped");
  fa_pump_s(&e.loop, e.sched, NULL, NULL, 20); // the release goes out on the next turns
  for (int j = 0; j < 500 && sl_httpc_active(e.http); j++)
    fa_pump_s(&e.loop, e.sched, NULL, NULL, 1);
  holder_of(e.f, &s, holder, sizeof holder);
  T_OK(holder[0] == '\0', "released: no holder");
  double rel = sl_sched_now(e.sched);
  for (int i = 0; i < 40 && !a.leading; i++) {
    for (int j = 0; j < 200; j++) {
      fa_pump_s(&e.loop, e.sched, NULL, NULL, 1);
      if (!sl_httpc_active(e.http) && sl_sched_next(e.sched) > sl_sched_now(e.sched)) break;
    }
    fa_advance(e.f, e.sched, 0.25);
  }
  T_OK(a.leading && sl_sched_now(e.sched) - rel < 8, "A leads again soon after the release");

  sl_kube_lease_opts_t bad = o;
  bad.renew_deadline_s = 20;
  T_OK(!sl_kube_lease_new(ca, &bad, &err) && err.code == SL_EINVAL,
       "renew deadline must be below the lease duration");
  sl_kube_lease_free(la);
  sl_kube_lease_free(lb);
  sl_kube_client_free(ca);
  sl_kube_client_free(cb);
  env_deinit(&e);
}

int main(void) {
  test_scale();
  test_events();
  test_lease();
  return tap_done();
}
