// The informer: exact add/update/delete sequences for lists, watch events (also fed one byte at
// a time), bookmarks, relists that deliver only the difference, ERROR 410 and HTTP 410, a watch
// dropped mid-object, reconnect from the last resourceVersion, clean renewals, freshness, the
// pod projection, and garbage that must not crash.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/kube/informer.h"
#include "core/kube/pod.h"
#include "tests/unit/fake_api.h"
#include "tests/unit/kube_pods.h"
#include "tests/unit/tap.h"

typedef struct {
  char log[8192];
  int n;
} seq_t;

static void on_event(void *ud, sl_informer_op_t op, const char *key, const void *old,
                     const void *new) {
  seq_t *s = ud;
  static const char *const ops[] = {"ADD", "UPDATE", "DELETE"};
  const sl_kube_pod_t *p = new ? new : old;
  size_t l = strlen(s->log);
  snprintf(s->log + l, sizeof s->log - l, "%s%s %s%s", l ? ", " : "", ops[op], key,
           op == SL_INFORMER_DELETE ? "" : (p->ready ? " ready" : ""));
  s->n++;
}

static sl_informer_opts_t pod_opts(seq_t *s) {
  sl_informer_opts_t o = {0};
  o.version = "v1";
  o.resource = "pods";
  o.namespace = "llm";
  o.label_selector = "app=vllm";
  o.seed = 3;
  o.h = (sl_informer_handlers_t){sl_kube_pod_project, sl_kube_pod_free, sl_kube_pod_equal, on_event,
                                 s};
  return o;
}

static char *list_json(const char *rv, const char *cont, const char *const *names,
                       const char *const *rvs, int n) {
  size_t cap = 8192 * (size_t)(n + 1);
  char *b = malloc(cap);
  int w = snprintf(b, cap,
                   "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{"
                   "\"resourceVersion\":\"%s\"%s%s%s},\"items\":[",
                   rv, cont ? ",\"continue\":\"" : "", cont ? cont : "", cont ? "\"" : "");
  for (int i = 0; i < n; i++) {
    if (i) b[w++] = ',';
    w += kp_pod(b + w, cap - (size_t)w, "llm", names[i], rvs[i], "Running", 1, "gpu-node-3");
  }
  snprintf(b + w, cap - (size_t)w, "]}");
  return b;
}

static void feed_list(sl_informer_t *inf, const char *rv, const char *const *names,
                      const char *const *rvs, int n) {
  char *b = list_json(rv, NULL, names, rvs, n);
  sl_err_t err = {0};
  sl_json_t *j = sl_json_parse(b, strlen(b), NULL, &err);
  sl_informer_feed_list(inf, j, &err);
  sl_json_free(j);
  free(b);
}

static void test_offline(void) {
  seq_t s = {0};
  sl_informer_opts_t o = pod_opts(&s);
  sl_err_t err = {0};
  sl_informer_t *inf = sl_informer_new(NULL, NULL, &o, &err);
  T_OK(!sl_informer_synced(inf), "not synced before a list");
  feed_list(inf, "10", (const char *[]){"a", "b", "c"}, (const char *[]){"1", "2", "3"}, 3);
  T_OK(!strcmp(s.log, "ADD llm/a ready, ADD llm/b ready, ADD llm/c ready"), "list adds (%s)",
       s.log);
  T_OK(sl_informer_synced(inf), "synced after the list");
  T_OK(!strcmp(sl_informer_resource_version(inf), "10"), "list resourceVersion kept");
  const sl_kube_pod_t *p = sl_informer_get(inf, "llm/b");
  T_OK(p && !strcmp(p->name, "b") && !strcmp(p->namespace, "llm") && p->ready &&
           !strcmp(p->phase, "Running") && !strcmp(p->node, "gpu-node-3") &&
           !strcmp(p->ip, "10.244.3.17") && p->gpu_milli == 1000 &&
           !strcmp(p->owner, "vllm-decode-7d9f8c6b5"),
       "pod projection: identity, phase, Ready, node, IP, GPUs, owner");
  T_OK(p && !strcmp(sl_kube_pod_label(p, "llm-d.ai/role"), "decode") && p->n_labels == 8,
       "labels kept");
  T_OK(p && p->n_annotations == 3 && !strcmp(p->annotations[0], "llm-d.ai/model-id"),
       "only llm-d.ai/ annotations kept (%zu)", p ? p->n_annotations : 0);
  T_NEAR(p ? p->ready_time : 0, 1748772110, 0, "Ready's transition time");
  T_OK(p && p->size < 1024, "a pod record is small (%zu bytes)", p ? p->size : 0);

  s = (seq_t){0};
  char ev[16384], stream[65536];
  size_t n = 0;
  n += (size_t)kp_event(stream + n, sizeof stream - n, "MODIFIED", "llm", "b", "11", 0);
  n += (size_t)kp_event(stream + n, sizeof stream - n, "ADDED", "llm", "d", "12", 1);
  n += (size_t)snprintf(stream + n, sizeof stream - n,
                        "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\","
                        "\"namespace\":\"llm\",\"resourceVersion\":\"13\"}}}\n");
  n += (size_t)kp_event(stream + n, sizeof stream - n, "ADDED", "llm", "c", "14", 1);
  n += (size_t)snprintf(stream + n, sizeof stream - n,
                        "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{"
                        "\"resourceVersion\":\"20\"}}}\n");
  // One byte at a time: events come out as they complete, none twice.
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) rc = sl_informer_feed_watch(inf, stream + i, 1, &err);
  T_EQ_INT(rc, 0, "byte-by-byte stream accepted");
  T_OK(!strcmp(s.log, "UPDATE llm/b, ADD llm/d ready, DELETE llm/a"),
       "watch: update, add, delete; a re-ADD of an unchanged pod is silent (%s)", s.log);
  T_OK(!strcmp(sl_informer_resource_version(inf), "20"), "bookmark advanced the version");
  T_EQ_INT(sl_informer_len(inf), 3, "three cached");
  T_EQ_INT(sl_informer_feed_watch_end(inf, &err), 0, "clean end");

  // Relist: b changed, c unchanged, d vanished, e appeared.
  s = (seq_t){0};
  feed_list(inf, "30", (const char *[]){"b", "c", "e"}, (const char *[]){"25", "14", "26"}, 3);
  T_OK(!strcmp(s.log, "UPDATE llm/b ready, ADD llm/e ready, DELETE llm/d"),
       "relist delivers exactly the difference (%s)", s.log);

  // ERROR 410 event, a truncated event, garbage.
  s = (seq_t){0};
  const char *gone = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"status\":\"Failure\","
                     "\"message\":\"too old resource version: 30 (40)\",\"reason\":\"Expired\","
                     "\"code\":410}}\n";
  rc = sl_informer_feed_watch(inf, gone, strlen(gone), &err);
  T_OK(rc == SL_ESTATE && sl_informer_needs_relist(inf), "ERROR 410 asks for a relist");
  T_STR_HAS(err.msg, "too old resource version", "with the server's message");
  sl_informer_feed_watch_end(inf, &err);
  int len = kp_event(ev, sizeof ev, "MODIFIED", "llm", "c", "41", 0);
  rc = sl_informer_feed_watch(inf, ev, (size_t)len / 2, &err);
  T_EQ_INT(rc, 0, "half an event is held");
  T_EQ_INT(sl_informer_feed_watch_end(inf, &err), SL_EPARSE, "a truncated event is an error");
  T_EQ_INT(s.n, 0, "and is not applied");
  rc = sl_informer_feed_watch(inf, "{]garbage", 9, &err);
  T_EQ_INT(rc, SL_EPARSE, "garbage is a parse error");
  sl_informer_feed_watch_end(inf, &err);
  const char *useless = "[1,2]\n{\"type\":\"ADDED\"}\n\"x\"\n";
  rc = sl_informer_feed_watch(inf, useless, strlen(useless), &err);
  T_OK(rc == 0 && s.n == 0, "well-formed but useless events are skipped");
  sl_informer_feed_watch_end(inf, &err);
  sl_json_t *notlist = sl_json_parse("[1]", 3, NULL, &err);
  T_EQ_INT(sl_informer_feed_list(inf, notlist, &err), SL_EPARSE, "a list that is not an object");
  sl_json_free(notlist);
  T_OK(sl_informer_mem(inf) > 0 && sl_informer_mem(inf) < 16384, "memory accounted (%zu)",
       sl_informer_mem(inf));
  sl_informer_free(inf);

  // One event over the per-event cap: refused without building it whole.
  o.max_event_bytes = 1000;
  inf = sl_informer_new(NULL, NULL, &o, &err);
  len = kp_event(ev, sizeof ev, "ADDED", "llm", "big", "1", 1);
  T_EQ_INT(sl_informer_feed_watch(inf, ev, (size_t)len, &err), SL_EPARSE,
           "an event over max_event_bytes is an error");
  T_STR_HAS(err.msg, "larger than the limit", "saying why");
  T_EQ_INT(sl_informer_len(inf), 0, "and nothing is cached");
  sl_informer_free(inf);

  o.resource = NULL;
  T_OK(!sl_informer_new(NULL, NULL, &o, &err) && err.code == SL_EINVAL, "needs a resource");
}

// ---- against a fake API server -----------------------------------------------------------------

typedef struct {
  fa_stream_t *watch[8]; // scripted watch responses in order; NULL = answer 410
  int watch_gone[8];
  int n_watch, next_watch;
  int list_phase; // which list to serve
} script_t;

static void handler(fake_api_t *f, const fa_req_t *rq, fa_resp_t *resp, void *ud) {
  script_t *s = ud;
  if (strcmp(rq->path, "/api/v1/namespaces/llm/pods")) {
    fa_resp_status(resp, 404, "NotFound", "no");
    return;
  }
  if (strstr(rq->url, "watch=1")) {
    int i = s->next_watch++;
    if (i >= s->n_watch) {
      resp->hang = 1; // nothing more scripted: a watch that stays quiet
    } else if (s->watch_gone[i]) {
      fa_resp_status(resp, 410, "Expired", "too old resource version");
    } else {
      resp->stream = s->watch[i];
    }
    return;
  }
  char *b;
  if (s->list_phase == 0) {
    if (!strstr(rq->url, "continue="))
      b = list_json("10", "page2", (const char *[]){"p1"}, (const char *[]){"5"}, 1);
    else
      b = list_json("10", NULL, (const char *[]){"p2"}, (const char *[]){"6"}, 1);
  } else {
    // After the outage: p3 was deleted meanwhile, p4 created; p1 and p2 as last seen.
    b = list_json("21", NULL, (const char *[]){"p1", "p2", "p4"},
                  (const char *[]){"12", "13", "21"}, 3);
  }
  fa_resp_body(resp, 200, b);
  free(b);
}

typedef struct {
  fake_api_t *f;
  int n;
  const char *needle;
} count_t;

static int count_reached(void *ud) {
  count_t *c = ud;
  return fa_count_match(c->f, "GET", c->needle) >= c->n;
}

static void test_online(void) {
  script_t sc = {0};
  fake_api_t *f = fa_start(handler, &sc);
  for (int i = 0; i < 8; i++) sc.watch[i] = fa_stream_new(f);
  sc.n_watch = 5;
  sc.watch_gone[2] = 1; // the third watch gets an HTTP 410
  uv_loop_t loop;
  uv_loop_init(&loop);
  sl_httpc_t *http = sl_httpc_new(&loop, NULL);
  sl_sched_t *sched = sl_sched_new_manual(0, 1.7e9);
  sl_kube_config_t cfg = {0};
  cfg.server = strdup(f->base);
  cfg.namespace = strdup("llm");
  sl_err_t err = {0};
  sl_kube_client_t *c = sl_kube_client_new(http, sched, &cfg, NULL, &err);
  seq_t s = {0};
  sl_informer_opts_t o = pod_opts(&s);
  sl_informer_t *inf = sl_informer_new(c, sched, &o, &err);
  T_OK(!sl_informer_fresh(inf, 60), "not fresh before syncing");
  T_EQ_INT(sl_informer_start(inf, &err), 0, "starts");

  count_t w1 = {f, 1, "watch=1"};
  T_OK(fa_pump_s(&loop, sched, count_reached, &w1, 5000), "two list pages, then a watch");
  T_OK(sl_informer_synced(inf), "synced after the paginated list");
  T_OK(!strcmp(s.log, "ADD llm/p1 ready, ADD llm/p2 ready"), "list adds (%s)", s.log);
  T_EQ_INT(fa_count_match(f, "GET", "continue=page2"), 1, "second page asked with continue");
  int wi = -1;
  for (int i = 0; i < fa_count(f); i++)
    if (strstr(fa_get(f, i).url, "watch=1")) wi = i;
  fa_req_t wr = fa_get(f, wi);
  T_STR_HAS(wr.url, "resourceVersion=10", "watch starts at the list's resourceVersion");
  T_STR_HAS(wr.url, "allowWatchBookmarks=true", "asks for bookmarks");
  T_STR_HAS(wr.url, "timeoutSeconds=", "and a timeout to renew at");
  T_STR_HAS(wr.url, "labelSelector=app=vllm", "with the label selector");

  // Watch 1: two events, then half of a third, then the connection drops.
  char ev[16384];
  for (int i = 0; i < 2000 && !fa_stream_opened(f, sc.watch[0]); i++)
    fa_pump_s(&loop, sched, NULL, NULL, 1);
  T_OK(sl_informer_fresh(inf, 0), "fresh while the watch is open");
  kp_event(ev, sizeof ev, "ADDED", "llm", "p3", "11", 1);
  fa_stream_push(f, sc.watch[0], ev);
  kp_event(ev, sizeof ev, "MODIFIED", "llm", "p1", "12", 0);
  fa_stream_push(f, sc.watch[0], ev);
  int len = kp_event(ev, sizeof ev, "MODIFIED", "llm", "p2", "13", 0);
  ev[len / 2] = '\0';
  fa_stream_push(f, sc.watch[0], ev);
  fa_stream_end(f, sc.watch[0], 1);
  for (int i = 0; i < 3000 && sl_httpc_active(http) > 0; i++)
    fa_pump_s(&loop, sched, NULL, NULL, 1);
  T_OK(!strcmp(s.log, "ADD llm/p1 ready, ADD llm/p2 ready, ADD llm/p3 ready, UPDATE llm/p1"),
       "events before the drop applied, the cut one not (%s)", s.log);
  T_OK(!strcmp(sl_informer_resource_version(inf), "12"), "version of the last whole event");
  fa_advance(f, sched, 1000);
  T_OK(!sl_informer_fresh(inf, 60), "stale after a drop and a long silence");

  // Watch 2, after the backoff: from resourceVersion 12; the cut event again, a bookmark, then
  // an ERROR 410 event.
  count_t w2 = {f, 2, "watch=1"};
  T_OK(fa_pump_s(&loop, sched, count_reached, &w2, 5000), "reconnects after the backoff");
  for (int i = fa_count(f) - 1; i >= 0; i--)
    if (strstr(fa_get(f, i).url, "watch=1")) {
      wr = fa_get(f, i);
      break;
    }
  T_STR_HAS(wr.url, "resourceVersion=12", "reconnect resumes from the last version");
  len = kp_event(ev, sizeof ev, "MODIFIED", "llm", "p2", "13", 0);
  fa_stream_push(f, sc.watch[1], ev);
  fa_stream_push(f, sc.watch[1],
                 "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"20\"}}}\n"
                 "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":"
                 "\"Expired\",\"message\":\"too old resource version: 20 (21)\"}}\n");
  // The relist (phase 1) follows; then watch 3 gets an HTTP 410 and relists again.
  fa_lock(f);
  sc.list_phase = 1;
  fa_unlock(f);
  count_t w4 = {f, 4, "watch=1"};
  T_OK(fa_pump_s(&loop, sched, count_reached, &w4, 5000), "410 event and 410 status: relists");
  T_OK(!strcmp(s.log, "ADD llm/p1 ready, ADD llm/p2 ready, ADD llm/p3 ready, UPDATE llm/p1, "
                      "UPDATE llm/p2, ADD llm/p4 ready, DELETE llm/p3"),
       "after both relists: exactly the difference, no duplicate add (%s)", s.log);
  sl_informer_stats_t st;
  sl_informer_stats(inf, &st);
  T_EQ_INT(st.relists, 2, "two relists");
  T_EQ_INT(st.gone, 2, "both 410s seen");
  T_EQ_INT(st.bookmarks, 1, "bookmark seen");

  // Watch 4 trickles one event a byte per turn, then ends cleanly: renewed at once.
  for (int i = 0; i < 2000 && !fa_stream_opened(f, sc.watch[3]); i++)
    fa_pump_s(&loop, sched, NULL, NULL, 1);
  len = kp_event(ev, sizeof ev, "MODIFIED", "llm", "p4", "22", 0);
  for (int i = 0; i < len; i++) {
    char one[2] = {ev[i], 0};
    fa_stream_push(f, sc.watch[3], one);
    if (i % 64 == 0) fa_pump_s(&loop, sched, NULL, NULL, 1);
  }
  fa_stream_end(f, sc.watch[3], 0);
  count_t w5 = {f, 5, "watch=1"};
  T_OK(fa_pump_s(&loop, sched, count_reached, &w5, 5000), "clean end: renewed without backoff");
  T_STR_HAS(s.log, "UPDATE llm/p4", "the trickled event applied");
  T_OK(!strcmp(sl_informer_resource_version(inf), "22"), "at its version");
  T_EQ_INT(sl_informer_len(inf), 3, "p1, p2, p4 cached");

  sl_informer_free(inf);
  sl_kube_client_free(c);
  sl_httpc_free(http);
  sl_sched_free(sched);
  uv_run(&loop, UV_RUN_DEFAULT);
  fa_stop(f);
  T_EQ_INT(uv_loop_close(&loop), 0, "loop closed");
}

static void test_quantities(void) {
  int64_t m;
  T_OK(sl_kube_quantity_milli("2", &m) == 0 && m == 2000, "2");
  T_OK(sl_kube_quantity_milli("500m", &m) == 0 && m == 500, "500m");
  T_OK(sl_kube_quantity_milli("1.5", &m) == 0 && m == 1500, "1.5");
  T_OK(sl_kube_quantity_milli("1Ki", &m) == 0 && m == 1024000, "1Ki");
  T_OK(sl_kube_quantity_milli("1e3", &m) == 0 && m == 1000000, "1e3");
  T_OK(sl_kube_quantity_milli("0.0001", &m) == 0 && m == 1, "rounded up");
  T_OK(sl_kube_quantity_milli("1x", &m) < 0 && sl_kube_quantity_milli("", &m) < 0, "bad ones");
  double t;
  T_OK(sl_kube_time_parse("2025-06-01T12:00:00Z", &t) == 0 && t == 1748779200, "RFC 3339");
  T_OK(sl_kube_time_parse("2025-06-01T12:00:00.25+02:00", &t) == 0 && t == 1748772000.25,
       "fraction and offset");
  T_OK(sl_kube_time_parse("2025-06-01", &t) < 0, "date alone refused");
}

int main(void) {
  test_offline();
  test_online();
  test_quantities();
  return tap_done();
}
