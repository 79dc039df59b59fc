// Event recording with client-go's correlation rules. See events.h.
#include "core/kube/events.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util/log.h"
#include "core/util/map.h"
#include "core/util/tbucket.h"

#define MAX_MESSAGE 1024
#define COMBINED    "(combined from similar events): "

// A bounded cache whose insertion order is its recency order (a hit is moved to the back).
typedef struct {
  sl_map_t m;
  size_t cap;
  void (*free_val)(void *);
} lru_t;

static void *lru_get(lru_t *l, const char *key) {
  void *v = sl_map_del(&l->m, key);
  if (v && sl_map_put(&l->m, key, v) < 0) {
    l->free_val(v);
    return NULL;
  }
  return v;
}

static int lru_put(lru_t *l, const char *key, void *v) {
  void *old = sl_map_del(&l->m, key);
  if (old && old != v) l->free_val(old);
  while (sl_map_len(&l->m) >= l->cap) {
    for (size_t i = 0; i < l->m.n_entries; i++) {
      if (!l->m.entries[i].key) continue;
      l->free_val(sl_map_del(&l->m, l->m.entries[i].key));
      break;
    }
  }
  if (sl_map_put(&l->m, key, v) < 0) {
    l->free_val(v);
    return SL_ENOMEM;
  }
  return SL_OK;
}

static void lru_deinit(lru_t *l) {
  for (size_t i = 0; i < l->m.n_entries; i++)
    if (l->m.entries[i].key) l->free_val(l->m.entries[i].value);
  sl_map_deinit(&l->m);
}

typedef struct {
  char *msgs[64]; // distinct messages seen in the group (at most aggregate_max)
  int n;
  double last;
} agg_t;

static void agg_free(void *p) {
  agg_t *a = p;
  if (!a) return;
  for (int i = 0; i < a->n; i++) free(a->msgs[i]);
  free(a);
}

typedef struct {
  long count;
  double first;
  char name[300];
} logrec_t;

typedef struct write {
  char *method, *path, *body;
  char *create_path, *create_body; // a PATCH's fallback when the event expired
  struct write *next;
} write_t;

struct sl_kube_events {
  sl_kube_client_t *c;
  sl_kube_events_opts_t o;
  char component[128], instance[256];
  lru_t agg, log, spam;
  write_t *head, *tail;
  size_t queued;
  sl_kube_call_t *inflight;
  write_t *cur;
  sl_kube_events_stats_t st;
};

static void write_free(write_t *w) {
  if (!w) return;
  free(w->method);
  free(w->path);
  free(w->body);
  free(w->create_path);
  free(w->create_body);
  free(w);
}

static void pump(sl_kube_events_t *ev);

static void on_written(void *ud, sl_kube_result_t *res) {
  sl_kube_events_t *ev = ud;
  write_t *w = ev->cur;
  ev->inflight = NULL;
  ev->cur = NULL;
  if (res->rc == SL_OK) {
    if (!strcmp(w->method, "POST"))
      ev->st.created++;
    else
      ev->st.patched++;
  } else if (res->reason == SL_KUBE_NOT_FOUND && w->create_path) {
    // The event expired (the API server keeps them about an hour): write it anew.
    write_t *again = calloc(1, sizeof *again);
    if (again) {
      again->method = strdup("POST");
      again->path = w->create_path;
      again->body = w->create_body;
      w->create_path = w->create_body = NULL;
      again->next = ev->head;
      ev->head = again;
      if (!ev->tail) ev->tail = again;
      ev->queued++;
    }
  } else {
    ev->st.failed++;
    sl_warn("event not recorded: %s", res->message);
  }
  write_free(w);
  pump(ev);
}

static void pump(sl_kube_events_t *ev) {
  while (!ev->inflight && ev->head) {
    write_t *w = ev->head;
    ev->head = w->next;
    if (!ev->head) ev->tail = NULL;
    ev->queued--;
    sl_kube_req_t q = {.method = w->method,
                       .path = w->path,
                       .body = w->body,
                       .content_type = !strcmp(w->method, "PATCH") ? "application/merge-patch+json"
                                                                   : "application/json",
                       .idempotent = !strcmp(w->method, "PATCH")};
    sl_err_t err = {0};
    ev->cur = w;
    ev->inflight = sl_kube_client_call(ev->c, &q, on_written, ev, &err);
    if (!ev->inflight) {
      ev->cur = NULL;
      ev->st.failed++;
      sl_warn("event not recorded: %s", err.msg);
      write_free(w);
    }
  }
}

static int enqueue(sl_kube_events_t *ev, write_t *w) {
  if (ev->queued >= ev->o.max_queue) {
    ev->st.queue_dropped++;
    write_free(w);
    return 1;
  }
  w->next = NULL;
  if (ev->tail)
    ev->tail->next = w;
  else
    ev->head = w;
  ev->tail = w;
  ev->queued++;
  pump(ev);
  return 0;
}

sl_kube_events_t *sl_kube_events_new(sl_kube_client_t *c, const sl_kube_events_opts_t *o,
                                     sl_err_t *err) {
  sl_kube_events_t *ev = calloc(1, sizeof *ev);
  if (!ev) {
    sl_err(err, SL_ENOMEM, "out of memory");
    return NULL;
  }
  ev->c = c;
  ev->o = o ? *o : (sl_kube_events_opts_t){0};
  sl_strlcpy(ev->component, ev->o.component ? ev->o.component : "sluice", sizeof ev->component);
  if (ev->o.instance)
    sl_strlcpy(ev->instance, ev->o.instance, sizeof ev->instance);
  else if (gethostname(ev->instance, sizeof ev->instance) < 0)
    sl_strlcpy(ev->instance, "", 1);
  ev->o.component = ev->o.instance = NULL;
  if (ev->o.spam_burst <= 0) ev->o.spam_burst = 25;
  if (ev->o.spam_qps <= 0) ev->o.spam_qps = 1.0 / 300;
  if (ev->o.aggregate_max <= 0) ev->o.aggregate_max = 10;
  if (ev->o.aggregate_max > 64) ev->o.aggregate_max = 64;
  if (ev->o.aggregate_window_s <= 0) ev->o.aggregate_window_s = 600;
  if (!ev->o.cache_size) ev->o.cache_size = 4096;
  if (!ev->o.max_queue) ev->o.max_queue = 1000;
  ev->agg = (lru_t){.cap = ev->o.cache_size, .free_val = agg_free};
  ev->log = (lru_t){.cap = ev->o.cache_size, .free_val = free};
  ev->spam = (lru_t){.cap = ev->o.cache_size, .free_val = free};
  sl_map_init(&ev->agg.m);
  sl_map_init(&ev->log.m);
  sl_map_init(&ev->spam.m);
  return ev;
}

void sl_kube_events_free(sl_kube_events_t *ev) {
  if (!ev) return;
  if (ev->inflight) sl_kube_call_cancel(ev->inflight);
  write_free(ev->cur);
  while (ev->head) {
    write_t *w = ev->head;
    ev->head = w->next;
    write_free(w);
  }
  lru_deinit(&ev->agg);
  lru_deinit(&ev->log);
  lru_deinit(&ev->spam);
  free(ev);
}

size_t sl_kube_events_pending(const sl_kube_events_t *ev) {
  return ev->queued + (ev->inflight ? 1 : 0);
}

void sl_kube_events_stats(const sl_kube_events_t *ev, sl_kube_events_stats_t *out) {
  *out = ev->st;
}

static const char *nz(const char *s) {
  return s ? s : "";
}

// Adds "key": "value" to a JSON object being written by hand, escaping the value.
static int jstr(sl_json_buf_t *b, const char *key, const char *val, int comma) {
  int rc = 0;
  if (comma) rc |= sl_json_buf_add(b, ",", 1);
  rc |= sl_json_buf_quote(b, key, strlen(key));
  rc |= sl_json_buf_add(b, ":", 1);
  rc |= sl_json_buf_quote(b, val, strlen(val));
  return rc;
}

int sl_kube_events_record(sl_kube_events_t *ev, const sl_kube_objref_t *obj, const char *type,
                          const char *reason, const char *message, sl_err_t *err) {
  if (!obj || !obj->name || !*obj->name || !obj->kind || !reason || !*reason)
    return sl_err(err, SL_EINVAL, "an event needs an object (kind, name) and a reason");
  if (!type || (strcmp(type, "Normal") && strcmp(type, "Warning")))
    return sl_err(err, SL_EINVAL, "event type must be Normal or Warning, got '%s'", nz(type));
  ev->st.recorded++;
  sl_sched_t *sched = sl_kube_client_sched(ev->c);
  double now = sl_sched_now(sched), wall = sl_sched_wall(sched);
  char msg[MAX_MESSAGE + 64];
  sl_strlcpy(msg, nz(message), MAX_MESSAGE);
  const char *ns = obj->namespace && *obj->namespace ? obj->namespace : "default";

  // The keys, as client-go joins them (fields concatenated; '\x1f' keeps them apart here).
  char spam_key[1024], agg_key[2048], full_key[4096];
  snprintf(spam_key, sizeof spam_key, "%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s", ev->component,
           nz(obj->kind), nz(obj->namespace), obj->name, nz(obj->uid), nz(obj->api_version));
  snprintf(agg_key, sizeof agg_key, "%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s", spam_key, type, reason,
           ev->component, ev->instance, "");
  snprintf(full_key, sizeof full_key, "%s\x1f%s\x1f%s\x1f%s", spam_key, type, reason, msg);

  // 1. Aggregate similar events.
  const char *key = full_key;
  agg_t *a = lru_get(&ev->agg, agg_key);
  if (a && now - a->last > ev->o.aggregate_window_s) a = NULL; // too old: start over
  if (!a) {
    if (!(a = calloc(1, sizeof *a))) return sl_err(err, SL_ENOMEM, "out of memory");
    if (lru_put(&ev->agg, agg_key, a) < 0) return sl_err(err, SL_ENOMEM, "out of memory");
  }
  int seen = 0;
  for (int i = 0; i < a->n && !seen; i++) seen = !strcmp(a->msgs[i], msg);
  if (!seen && a->n < ev->o.aggregate_max && (a->msgs[a->n] = strdup(msg))) a->n++;
  a->last = now;
  if (a->n >= ev->o.aggregate_max) {
    // Over the threshold: keep the set from growing (client-go pops one) and combine.
    free(a->msgs[--a->n]);
    char combined[MAX_MESSAGE + 64];
    snprintf(combined, sizeof combined, "%s%s", COMBINED, msg);
    sl_strlcpy(msg, combined, MAX_MESSAGE);
    key = agg_key;
    ev->st.aggregated++;
  }

  // 2. Count identical events.
  logrec_t *l = lru_get(&ev->log, key);
  int update = l != NULL;
  if (!l) {
    if (!(l = calloc(1, sizeof *l))) return sl_err(err, SL_ENOMEM, "out of memory");
    l->first = wall;
    // Names as client-go makes them: object name, a dot, the time in hex nanoseconds.
    snprintf(l->name, sizeof l->name, "%.200s.%llx", obj->name, (unsigned long long)(wall * 1e9));
    if (lru_put(&ev->log, key, l) < 0) return sl_err(err, SL_ENOMEM, "out of memory");
  }
  l->count++;

  // 3. Spam filter per source and object.
  sl_tbucket_t *b = lru_get(&ev->spam, spam_key);
  if (!b) {
    if (!(b = malloc(sizeof *b))) return sl_err(err, SL_ENOMEM, "out of memory");
    sl_tbucket_init(b, ev->o.spam_qps, ev->o.spam_burst, now);
    if (lru_put(&ev->spam, spam_key, b) < 0) return sl_err(err, SL_ENOMEM, "out of memory");
  }
  if (!sl_tbucket_try(b, now)) {
    ev->st.spam_dropped++;
    return 1;
  }

  char first[40], last[40], count[32];
  sl_kube_time_format(l->first, 0, first, sizeof first);
  sl_kube_time_format(wall, 0, last, sizeof last);
  snprintf(count, sizeof count, "%ld", l->count);
  char coll[1024], item[1400];
  if (sl_kube_path(coll, sizeof coll, NULL, "v1", ns, "events", NULL, NULL) < 0 ||
      sl_kube_path(item, sizeof item, NULL, "v1", ns, "events", l->name, NULL) < 0)
    return sl_err(err, SL_EINVAL, "event path too long");

  // The whole event (a create, or a PATCH's fallback).
  sl_json_buf_t full = {0};
  int rc = sl_json_buf_add(&full, "{", 1);
  rc |= jstr(&full, "apiVersion", "v1", 0);
  rc |= jstr(&full, "kind", "Event", 1);
  rc |= sl_json_buf_add(&full, ",\"metadata\":{", 13);
  rc |= jstr(&full, "name", l->name, 0);
  rc |= jstr(&full, "namespace", ns, 1);
  rc |= sl_json_buf_add(&full, "},\"involvedObject\":{", 20);
  rc |= jstr(&full, "apiVersion", nz(obj->api_version), 0);
  rc |= jstr(&full, "kind", obj->kind, 1);
  rc |= jstr(&full, "namespace", nz(obj->namespace), 1);
  rc |= jstr(&full, "name", obj->name, 1);
  if (obj->uid && *obj->uid) rc |= jstr(&full, "uid", obj->uid, 1);
  rc |= sl_json_buf_add(&full, "}", 1);
  rc |= jstr(&full, "reason", reason, 1);
  rc |= jstr(&full, "message", msg, 1);
  rc |= jstr(&full, "type", type, 1);
  rc |= sl_json_buf_add(&full, ",\"source\":{", 11);
  rc |= jstr(&full, "component", ev->component, 0);
  rc |= sl_json_buf_add(&full, "}", 1);
  rc |= jstr(&full, "firstTimestamp", first, 1);
  rc |= jstr(&full, "lastTimestamp", last, 1);
  rc |= sl_json_buf_add(&full, ",\"count\":", 9);
  rc |= sl_json_buf_add(&full, count, strlen(count));
  rc |= jstr(&full, "reportingComponent", ev->component, 1);
  rc |= jstr(&full, "reportingInstance", ev->instance, 1);
  rc |= sl_json_buf_add(&full, "}", 1);

  write_t *w = calloc(1, sizeof *w);
  if (rc || !w) {
    sl_json_buf_deinit(&full);
    free(w);
    return sl_err(err, rc == SL_EINVAL ? SL_EINVAL : SL_ENOMEM,
                  "cannot write the event (a string is not valid UTF-8?)");
  }
  if (update) {
    sl_json_buf_t p = {0};
    rc = sl_json_buf_add(&p, "{\"count\":", 9);
    rc |= sl_json_buf_add(&p, count, strlen(count));
    rc |= jstr(&p, "lastTimestamp", last, 1);
    rc |= jstr(&p, "message", msg, 1);
    rc |= sl_json_buf_add(&p, "}", 1);
    w->method = strdup("PATCH");
    w->path = strdup(item);
    w->body = p.buf;
    w->create_path = strdup(coll);
    w->create_body = full.buf;
  } else {
    w->method = strdup("POST");
    w->path = strdup(coll);
    w->body = full.buf;
  }
  if (rc || !w->method || !w->path || !w->body || (update && !w->create_path)) {
    write_free(w);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  return enqueue(ev, w);
}
