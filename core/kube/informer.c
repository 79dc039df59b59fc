// List + watch informer. See informer.h.
//
// States: LIST (pages, each applied as it arrives; entries seen carry the list's generation)
// -> end of list: entries of an older generation are deleted, synced -> WATCH from the list's
// resourceVersion -> on a clean end rewatch at once; on 410 relist; on any other failure
// rewatch from the last resourceVersion after a jittered exponential backoff.
#include "core/kube/informer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util/log.h"
#include "core/util/map.h"
#include "core/util/rng.h"

#define DEFAULT_PAGE         500
#define DEFAULT_WATCH_S      300
#define DEFAULT_EVENT_BYTES  ((size_t)16 << 20)
#define DEFAULT_BACKOFF_BASE 0.8
#define DEFAULT_BACKOFF_MAX  30.0
#define STOP_RELIST          1 // json stream callback codes (positive: not errors of the parser)
#define STOP_ERROR           2

typedef struct {
  void *rec;
  size_t bytes;
  uint32_t gen;
  char *rv;
} entry_t;

typedef enum { ST_IDLE, ST_LIST, ST_WATCH, ST_WAIT } state_t;

struct sl_informer {
  sl_kube_client_t *client;
  sl_sched_t *sched;
  sl_informer_opts_t o;
  char *group, *version, *resource, *ns, *lsel, *fsel;
  sl_map_t cache;
  size_t mem;
  uint32_t gen;
  char *rv;   // last resourceVersion seen
  char *cont; // list continue token
  int synced, running, needs_relist, watch_open;
  state_t state;
  double last_contact;
  int failures; // consecutive, for backoff
  uint64_t timer;
  sl_kube_call_t *call;
  sl_json_stream_t *stream;
  char error[512]; // last ERROR event's message
  sl_rng_t rng;
  sl_informer_stats_t st;
};

static void start_list(sl_informer_t *inf);
static void start_watch(sl_informer_t *inf);

static char *dup_or_null(const char *s) {
  return s && *s ? strdup(s) : NULL;
}

static void set_rv(sl_informer_t *inf, const char *rv) {
  if (!rv || !*rv || (inf->rv && !strcmp(inf->rv, rv))) return;
  char *n = strdup(rv);
  if (!n) return;
  free(inf->rv);
  inf->rv = n;
}

// Our entry, the key and version strings, the record (the index is counted separately).
static size_t entry_mem(const char *key, const entry_t *e) {
  return sizeof *e + strlen(key) + 1 + (e->rv ? strlen(e->rv) + 1 : 0) + e->bytes;
}

static void entry_free(sl_informer_t *inf, entry_t *e) {
  if (!e) return;
  if (e->rec && inf->o.h.free_rec) inf->o.h.free_rec(inf->o.h.project_ud, e->rec);
  free(e->rv);
  free(e);
}

static void emit(sl_informer_t *inf, sl_informer_op_t op, const char *key, const void *old,
                 const void *new) {
  if (inf->o.h.on_event) inf->o.h.on_event(inf->o.h.ud, op, key, old, new);
}

// The object's cache key, or 0 when it has no name.
static int key_of(const sl_json_t *obj, char *key, size_t n) {
  const char *name = sl_json_str_or(sl_json_at(obj, "metadata.name"), NULL);
  const char *ns = sl_json_str_or(sl_json_at(obj, "metadata.namespace"), NULL);
  if (!name || !*name) return 0;
  int w = ns && *ns ? snprintf(key, n, "%s/%s", ns, name) : snprintf(key, n, "%s", name);
  return w > 0 && (size_t)w < n;
}

static void remove_key(sl_informer_t *inf, const char *key) {
  entry_t *e = sl_map_get(&inf->cache, key);
  if (!e) return;
  inf->mem -= entry_mem(key, e);
  char *k = strdup(key); // the map's copy of the key goes with the entry
  sl_map_del(&inf->cache, key);
  emit(inf, SL_INFORMER_DELETE, k ? k : "", e->rec, NULL);
  free(k);
  entry_free(inf, e);
}

// An object as it now is (listed, ADDED or MODIFIED).
static int upsert(sl_informer_t *inf, const sl_json_t *obj) {
  char key[512];
  if (!key_of(obj, key, sizeof key)) return SL_OK; // nameless: nothing to key it by
  const char *rv = sl_json_str_or(sl_json_at(obj, "metadata.resourceVersion"), NULL);
  entry_t *old = sl_map_get(&inf->cache, key);
  if (old && rv && old->rv && !strcmp(old->rv, rv)) {
    old->gen = inf->gen; // unchanged since we last saw it
    return SL_OK;
  }
  size_t bytes = 0;
  void *rec = inf->o.h.project ? inf->o.h.project(inf->o.h.project_ud, obj, &bytes) : NULL;
  if (!rec) {
    // The projection declined it (e.g. a pod not ours any more): absent from the cache.
    if (old) remove_key(inf, key);
    return SL_OK;
  }
  entry_t *e = calloc(1, sizeof *e);
  if (!e || (rv && !(e->rv = strdup(rv)))) {
    free(e);
    if (inf->o.h.free_rec) inf->o.h.free_rec(inf->o.h.project_ud, rec);
    return SL_ENOMEM;
  }
  e->rec = rec;
  e->bytes = bytes;
  e->gen = inf->gen;
  if (sl_map_put(&inf->cache, key, e) < 0) {
    entry_free(inf, e);
    return SL_ENOMEM;
  }
  inf->mem += entry_mem(key, e);
  if (old) {
    inf->mem -= entry_mem(key, old);
    int same = inf->o.h.equal && inf->o.h.equal(inf->o.h.project_ud, old->rec, rec);
    if (!same) emit(inf, SL_INFORMER_UPDATE, key, old->rec, rec);
    entry_free(inf, old);
  } else {
    emit(inf, SL_INFORMER_ADD, key, NULL, rec);
  }
  return SL_OK;
}

// ---- lists -------------------------------------------------------------------------------------

static void finish_list(sl_informer_t *inf) {
  // Whatever the list did not contain is gone.
  for (size_t i = 0; i < inf->cache.n_entries; i++) {
    sl_map_entry_t *me = &inf->cache.entries[i];
    if (!me->key) continue;
    entry_t *e = me->value;
    if (e->gen != inf->gen) remove_key(inf, me->key);
  }
  inf->synced = 1;
}

int sl_informer_feed_list(sl_informer_t *inf, const sl_json_t *page, sl_err_t *err) {
  if (!page || page->type != SL_JSON_OBJECT)
    return sl_err(err, SL_EPARSE, "list response is not an object");
  const sl_json_t *items = sl_json_get(page, "items");
  if (items && items->type != SL_JSON_ARRAY && items->type != SL_JSON_NULL)
    return sl_err(err, SL_EPARSE, "list response: items is not an array");
  if (!inf->cont) {
    inf->gen++; // the first page of a new list
    inf->needs_relist = 0;
  }
  inf->st.pages++;
  for (size_t i = 0; items && items->type == SL_JSON_ARRAY && i < items->n; i++)
    if (upsert(inf, items->items[i]) < 0) return sl_err(err, SL_ENOMEM, "out of memory");
  const char *cont = sl_json_str_or(sl_json_at(page, "metadata.continue"), NULL);
  free(inf->cont);
  inf->cont = dup_or_null(cont);
  if (!inf->cont) {
    set_rv(inf, sl_json_str_or(sl_json_at(page, "metadata.resourceVersion"), NULL));
    finish_list(inf);
  }
  return SL_OK;
}

// ---- watch events ------------------------------------------------------------------------------

static int on_event_value(void *ud, sl_json_t *ev) {
  sl_informer_t *inf = ud;
  int rc = 0;
  const char *type = sl_json_str_or(sl_json_get(ev, "type"), "");
  const sl_json_t *obj = sl_json_get(ev, "object");
  inf->st.events++;
  if (!obj || obj->type != SL_JSON_OBJECT) {
    inf->st.errors++;
    goto out; // not an event we can use; the stream goes on
  }
  if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED")) {
    if (upsert(inf, obj) < 0) rc = STOP_ERROR;
    set_rv(inf, sl_json_str_or(sl_json_at(obj, "metadata.resourceVersion"), NULL));
  } else if (!strcmp(type, "DELETED")) {
    char key[512];
    if (key_of(obj, key, sizeof key)) remove_key(inf, key);
    set_rv(inf, sl_json_str_or(sl_json_at(obj, "metadata.resourceVersion"), NULL));
  } else if (!strcmp(type, "BOOKMARK")) {
    inf->st.bookmarks++;
    set_rv(inf, sl_json_str_or(sl_json_at(obj, "metadata.resourceVersion"), NULL));
  } else if (!strcmp(type, "ERROR")) {
    double code = sl_json_num_or(sl_json_get(obj, "code"), 0);
    const char *reason = sl_json_str_or(sl_json_get(obj, "reason"), "");
    snprintf(inf->error, sizeof inf->error, "%s", sl_json_str_or(sl_json_get(obj, "message"), ""));
    if (code == 410 || !strcmp(reason, "Expired") || !strcmp(reason, "Gone")) {
      inf->needs_relist = 1;
      inf->st.gone++;
      rc = STOP_RELIST;
    } else {
      inf->st.errors++;
      rc = STOP_ERROR;
    }
  } else {
    inf->st.errors++;
  }
out:
  sl_json_free(ev);
  return rc;
}

static int ensure_stream(sl_informer_t *inf, sl_err_t *err) {
  if (inf->stream) return SL_OK;
  sl_json_limits_t lim = {0, inf->o.max_event_bytes};
  inf->stream = sl_json_stream_new(&lim, on_event_value, inf);
  return inf->stream ? SL_OK : sl_err(err, SL_ENOMEM, "out of memory");
}

int sl_informer_feed_watch(sl_informer_t *inf, const char *buf, size_t len, sl_err_t *err) {
  int rc = ensure_stream(inf, err);
  if (rc < 0) return rc;
  rc = sl_json_stream_feed(inf->stream, buf, len, err);
  if (rc == STOP_RELIST)
    return sl_err(err, SL_ESTATE, "watch ERROR event: 410 Gone: %s (relist)", inf->error);
  if (rc == STOP_ERROR) return sl_err(err, SL_ESTATE, "watch ERROR event: %s", inf->error);
  return rc;
}

int sl_informer_feed_watch_end(sl_informer_t *inf, sl_err_t *err) {
  if (!inf->stream) return SL_OK;
  int rc = sl_json_stream_finish(inf->stream, err);
  sl_json_stream_free(inf->stream);
  inf->stream = NULL;
  return rc == SL_ESTATE ? SL_OK : rc; // a stream that already failed reported it then
}

int sl_informer_needs_relist(const sl_informer_t *inf) {
  return inf->needs_relist;
}

// ---- the loop ----------------------------------------------------------------------------------

static double backoff(sl_informer_t *inf) {
  int n = inf->failures < 30 ? inf->failures : 30;
  double d = inf->o.backoff_base_s * pow(2, n > 0 ? n - 1 : 0);
  if (d > inf->o.backoff_max_s) d = inf->o.backoff_max_s;
  return d * (0.5 + 0.5 * sl_rng_uniform(&inf->rng));
}

static void on_timer(void *ud) {
  sl_informer_t *inf = ud;
  inf->timer = 0;
  if (!inf->running) return;
  if (inf->needs_relist || !inf->rv || !inf->synced)
    start_list(inf);
  else
    start_watch(inf);
}

static void later(sl_informer_t *inf, double delay) {
  inf->state = ST_WAIT;
  inf->timer = sl_sched_after(inf->sched, delay, on_timer, inf);
}

static int add_query(char *buf, size_t n, size_t *used, const char *k, const char *v) {
  char esc[4096];
  if (sl_kube_escape(esc, sizeof esc, v) < 0) return -1;
  int w = snprintf(buf + *used, n - *used, "%s%s=%s", strchr(buf, '?') ? "&" : "?", k, esc);
  if (w < 0 || (size_t)w >= n - *used) return -1;
  *used += (size_t)w;
  return 0;
}

static int build_path(sl_informer_t *inf, char *buf, size_t n, int watch) {
  int w = sl_kube_path(buf, n, inf->group, inf->version, inf->ns, inf->resource, NULL, NULL);
  if (w < 0) return -1;
  size_t used = (size_t)w;
  if (inf->lsel && add_query(buf, n, &used, "labelSelector", inf->lsel) < 0) return -1;
  if (inf->fsel && add_query(buf, n, &used, "fieldSelector", inf->fsel) < 0) return -1;
  char num[32];
  if (watch) {
    int t = (int)(inf->o.watch_timeout_s * (1 + sl_rng_uniform(&inf->rng)));
    snprintf(num, sizeof num, "%d", t);
    if (add_query(buf, n, &used, "watch", "1") < 0 ||
        add_query(buf, n, &used, "resourceVersion", inf->rv ? inf->rv : "") < 0 ||
        add_query(buf, n, &used, "allowWatchBookmarks", "true") < 0 ||
        add_query(buf, n, &used, "timeoutSeconds", num) < 0)
      return -1;
    return t;
  }
  snprintf(num, sizeof num, "%d", inf->o.page_size);
  if (add_query(buf, n, &used, "limit", num) < 0) return -1;
  if (inf->cont && add_query(buf, n, &used, "continue", inf->cont) < 0) return -1;
  return 0;
}

static void on_list(void *ud, sl_kube_result_t *res) {
  sl_informer_t *inf = ud;
  inf->call = NULL;
  if (!inf->running) return;
  sl_err_t err = {0};
  if (res->rc == SL_OK && res->body && sl_informer_feed_list(inf, res->body, &err) == SL_OK) {
    inf->last_contact = sl_sched_now(inf->sched);
    inf->failures = 0;
    if (inf->cont)
      start_list(inf);
    else
      start_watch(inf);
    return;
  }
  if (res->reason == SL_KUBE_GONE && inf->cont) {
    // The continue token expired: start the list over.
    free(inf->cont);
    inf->cont = NULL;
    start_list(inf);
    return;
  }
  inf->st.errors++;
  inf->failures++;
  free(inf->cont);
  inf->cont = NULL;
  sl_warn("informer %s: list failed: %s", inf->resource, res->rc == SL_OK ? err.msg : res->message);
  double d = backoff(inf);
  if (res->retry_after > d) d = res->retry_after;
  later(inf, d);
}

static void start_list(sl_informer_t *inf) {
  char path[8192];
  if (build_path(inf, path, sizeof path, 0) < 0) {
    sl_error("informer %s: list path too long", inf->resource);
    return;
  }
  if (!inf->cont) {
    inf->st.lists++;
    if (inf->synced) inf->st.relists++;
  }
  inf->state = ST_LIST;
  sl_kube_req_t q = {.path = path, .idempotent = 1};
  sl_err_t err = {0};
  inf->call = sl_kube_client_call(inf->client, &q, on_list, inf, &err);
  if (!inf->call) {
    inf->failures++;
    later(inf, backoff(inf));
  }
}

static int on_watch_data(void *ud, long status, const char *buf, size_t len) {
  sl_informer_t *inf = ud;
  inf->last_contact = sl_sched_now(inf->sched);
  sl_err_t err = {0};
  int rc = sl_informer_feed_watch(inf, buf, len, &err);
  if (rc == 0) {
    inf->failures = 0; // a working watch
    return 0;
  }
  if (rc != SL_ESTATE) {
    inf->st.errors++;
    sl_warn("informer %s: watch stream: %s", inf->resource, err.msg);
  }
  return 1; // stop the transfer
}

static void on_watch_head(void *ud, long status) {
  sl_informer_t *inf = ud;
  if (status >= 200 && status < 300) {
    inf->watch_open = 1;
    inf->last_contact = sl_sched_now(inf->sched);
  }
}

static void on_watch_done(void *ud, sl_kube_result_t *res) {
  sl_informer_t *inf = ud;
  inf->call = NULL;
  inf->watch_open = 0;
  if (!inf->running) return;
  sl_err_t err = {0};
  int tail = sl_informer_feed_watch_end(inf, &err);
  if (res->status >= 200 && res->status < 300 && res->rc == SL_OK) {
    if (inf->needs_relist) {
      sl_info("informer %s: %s; relisting", inf->resource, inf->error);
      start_list(inf);
      return;
    }
    if (tail == SL_OK && res->reason == SL_KUBE_OK && !inf->error[0]) {
      // timeoutSeconds ran out: renew from where we are.
      inf->last_contact = sl_sched_now(inf->sched);
      start_watch(inf);
      return;
    }
  }
  if (res->reason == SL_KUBE_GONE) {
    inf->st.gone++;
    inf->needs_relist = 1;
    sl_info("informer %s: %s; relisting", inf->resource, res->message);
    start_list(inf);
    return;
  }
  inf->st.reconnects++;
  inf->failures++;
  double d = backoff(inf);
  if (res->retry_after > d) d = res->retry_after;
  sl_info("informer %s: watch ended (%s); reconnecting in %.1fs", inf->resource,
          res->message[0] ? res->message
          : inf->error[0] ? inf->error
                          : err.msg,
          d);
  inf->error[0] = '\0';
  later(inf, d);
}

static void start_watch(sl_informer_t *inf) {
  char path[8192];
  int t = build_path(inf, path, sizeof path, 1);
  if (t < 0) {
    sl_error("informer %s: watch path too long", inf->resource);
    return;
  }
  inf->state = ST_WATCH;
  inf->st.watches++;
  inf->error[0] = '\0';
  sl_json_stream_free(inf->stream);
  inf->stream = NULL;
  sl_kube_req_t q = {.path = path,
                     .on_data = on_watch_data,
                     .on_head = on_watch_head,
                     .data_ud = inf,
                     .timeout_s = t + 30}; // the server ends it at t; this catches a silent one
  sl_err_t err = {0};
  inf->call = sl_kube_client_call(inf->client, &q, on_watch_done, inf, &err);
  if (!inf->call) {
    inf->failures++;
    later(inf, backoff(inf));
  }
}

// ---- lifetime ----------------------------------------------------------------------------------

sl_informer_t *sl_informer_new(sl_kube_client_t *client, sl_sched_t *sched,
                               const sl_informer_opts_t *o, sl_err_t *err) {
  if (!o || !o->resource || !o->h.project) {
    sl_err(err, SL_EINVAL, "an informer needs a resource and a projection");
    return NULL;
  }
  sl_informer_t *inf = calloc(1, sizeof *inf);
  if (!inf) goto oom;
  inf->client = client;
  inf->sched = sched;
  inf->o = *o;
  if (inf->o.page_size <= 0) inf->o.page_size = DEFAULT_PAGE;
  if (inf->o.watch_timeout_s <= 0) inf->o.watch_timeout_s = DEFAULT_WATCH_S;
  if (!inf->o.max_event_bytes) inf->o.max_event_bytes = DEFAULT_EVENT_BYTES;
  if (inf->o.backoff_base_s <= 0) inf->o.backoff_base_s = DEFAULT_BACKOFF_BASE;
  if (inf->o.backoff_max_s <= 0) inf->o.backoff_max_s = DEFAULT_BACKOFF_MAX;
  inf->group = dup_or_null(o->group);
  inf->version = strdup(o->version ? o->version : "v1");
  inf->resource = strdup(o->resource);
  inf->ns = dup_or_null(o->namespace);
  inf->lsel = dup_or_null(o->label_selector);
  inf->fsel = dup_or_null(o->field_selector);
  if (!inf->version || !inf->resource || (o->group && *o->group && !inf->group) ||
      (o->namespace && *o->namespace && !inf->ns) ||
      (o->label_selector && *o->label_selector && !inf->lsel) ||
      (o->field_selector && *o->field_selector && !inf->fsel)) {
    sl_informer_free(inf);
    goto oom;
  }
  // Strings in the copied options point at the caller's memory: only ours are used.
  inf->o.group = inf->o.version = inf->o.resource = inf->o.namespace = NULL;
  inf->o.label_selector = inf->o.field_selector = NULL;
  sl_map_init(&inf->cache);
  inf->last_contact = -INFINITY;
  sl_rng_seed(&inf->rng, o->seed ? o->seed : (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)inf);
  return inf;
oom:
  sl_err(err, SL_ENOMEM, "out of memory");
  return NULL;
}

void sl_informer_stop(sl_informer_t *inf) {
  if (!inf) return;
  inf->running = 0;
  inf->watch_open = 0;
  if (inf->sched) sl_sched_cancel(inf->sched, inf->timer);
  inf->timer = 0;
  if (inf->call) sl_kube_call_cancel(inf->call);
  inf->call = NULL;
  inf->state = ST_IDLE;
}

int sl_informer_start(sl_informer_t *inf, sl_err_t *err) {
  if (!inf->client || !inf->sched)
    return sl_err(err, SL_ESTATE, "informer %s has no client to list with", inf->resource);
  if (inf->running) return SL_OK;
  inf->running = 1;
  start_list(inf);
  return SL_OK;
}

void sl_informer_free(sl_informer_t *inf) {
  if (!inf) return;
  sl_informer_stop(inf);
  for (size_t i = 0; i < inf->cache.n_entries; i++)
    if (inf->cache.entries[i].key) entry_free(inf, inf->cache.entries[i].value);
  sl_map_deinit(&inf->cache);
  sl_json_stream_free(inf->stream);
  free(inf->group);
  free(inf->version);
  free(inf->resource);
  free(inf->ns);
  free(inf->lsel);
  free(inf->fsel);
  free(inf->rv);
  free(inf->cont);
  free(inf);
}

int sl_informer_synced(const sl_informer_t *inf) {
  return inf->synced;
}

double sl_informer_last_contact(const sl_informer_t *inf) {
  return inf->last_contact;
}

int sl_informer_fresh(const sl_informer_t *inf, double max_age) {
  if (!inf->synced) return 0;
  if (inf->watch_open) return 1;
  return inf->sched && sl_sched_now(inf->sched) - inf->last_contact <= max_age;
}

const char *sl_informer_resource_version(const sl_informer_t *inf) {
  return inf->rv ? inf->rv : "";
}

const void *sl_informer_get(const sl_informer_t *inf, const char *key) {
  entry_t *e = sl_map_get(&inf->cache, key);
  return e ? e->rec : NULL;
}

size_t sl_informer_len(const sl_informer_t *inf) {
  return sl_map_len(&inf->cache);
}

size_t sl_informer_mem(const sl_informer_t *inf) {
  return inf->mem + inf->cache.cap_entries * sizeof(sl_map_entry_t) +
         inf->cache.n_slots * sizeof(int) + sizeof *inf;
}

void sl_informer_foreach(const sl_informer_t *inf,
                         void (*fn)(void *ud, const char *key, const void *rec), void *ud) {
  for (size_t i = 0; i < inf->cache.n_entries; i++) {
    const sl_map_entry_t *me = &inf->cache.entries[i];
    if (me->key) fn(ud, me->key, ((entry_t *)me->value)->rec);
  }
}

void sl_informer_stats(const sl_informer_t *inf, sl_informer_stats_t *out) {
  *out = inf->st;
}
