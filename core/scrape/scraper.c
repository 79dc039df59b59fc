// The scraper. See scraper.h.
//
// Schedule: one uv_timer for all targets, armed for the earliest of a binary heap keyed by each
// target's next slot (monotonic seconds). A target leaves the heap while its scrape is in flight
// and goes back when it finishes, so scrapes of one target never overlap; its next slot is counted
// from the slot it was due at, not from when the scrape ended, so phases do not drift.
//
// Memory: a body is only needed while its scrape is in flight, so bodies live in a pool of
// buffers taken when the first byte arrives and given back when the page has been committed or
// rejected. The pool grows to the number of scrapes in flight at once (a handful per thousand
// targets at 1 s), not to the number of targets: 5,000 targets with a buffer each would hold
// 5,000 pages. Parsing and staging go through one sl_ingest_t, since a page is parsed and
// committed in one go inside the completion callback.
//
// Lifetimes: the uv_timer and the HTTP client live in a block of their own that outlives a stop
// until the timer's close callback has run, so sl_scraper_stop may be called from inside our own
// callbacks (where the HTTP client is still dispatching completions) and the scraper may be freed
// right after a stop. A target removed from inside on_scrape is freed when that callback returns.
#include "core/scrape/scraper.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/httpc.h"
#include "core/util/map.h"

#define DEFAULT_INTERVAL_S    1.0
#define DEFAULT_TIMEOUT_FRAC  0.8
#define DEFAULT_BACKOFF_MAX_S 30.0
#define DEFAULT_MAX_BODY      ((size_t)8 << 20)
#define FIRST_BUF             ((size_t)64 << 10)
#define POOL_KEEP             256 // buffers kept for reuse; more in flight at once are freed after
#define NOPOS                 ((size_t)-1)
#define SLACK_S               0.0005 // a timer may fire this early (millisecond steps)
#define COALESCE_S            0.02   // scrapes due this soon start with the one due now ...
#define COALESCE_FRAC         0.02   // ... but never more than this share of an interval early
#define ERR_LEN               512

// Asks for OpenMetrics first, as Prometheus does, and takes text 0.0.4 or anything else (parsed
// as text, as Prometheus falls back).
static const char accept_hdr[] = "Accept: application/openmetrics-text;version=1.0.0,"
                                 "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
static const char agent_hdr[] = "User-Agent: sluice-scraper";

const double sl_scraper_duration_bounds[SL_SCRAPER_DURATION_BUCKETS] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, INFINITY};

typedef struct target {
  struct sl_scraper *s;
  char *url, *pod, *variant, *model;
  sl_scrape_kind_t kind;
  char **hdrs; // NULL-terminated: Accept, User-Agent, then the target's own
  double given_interval, given_timeout;
  double interval, timeout;
  double phase; // [0, 1): where in its interval the target is scraped
  double due;   // monotonic time of the slot it waits for (or was started for)
  size_t hpos;  // index in the heap, NOPOS when not in it
  size_t idx;   // index in s->targets
  unsigned epoch;
  int registered; // this target added its pod to the store
  int removed;    // removed from inside on_scrape: freed when the callback returns
  // the scrape in flight
  sl_httpc_req_t *req;
  char *body;
  size_t len, cap;
  int overflow;
  double t0_mono, t0_clock;
  // health
  int up, done, consecutive_failures, changed;
  double backoff, last_attempt, last_success, last_duration;
  long last_status;
  size_t last_samples, last_bytes;
  uint64_t scrapes, failures, rejected, samples;
  char err[ERR_LEN];
} target_t;

typedef struct {
  char *p;
  size_t cap;
} buf_t;

typedef struct {
  uv_timer_t timer;
  sl_httpc_t *http;
  struct sl_scraper *s;
} loopside_t;

struct sl_scraper {
  sl_scraper_opts_t o;
  sl_clock_t real_clock;
  sl_clock_t *clock;
  sl_ingest_t *ingest;
  sl_map_t by_url;
  target_t **targets;
  size_t n, cap;
  target_t **heap;
  size_t nheap, cap_heap;
  size_t pending; // targets with no finished scrape yet
  unsigned epoch;
  loopside_t *ls; // NULL when stopped
  sl_store_t *store;
  double armed_due;
  buf_t *pool;
  size_t npool, cap_pool;
  target_t *reporting; // whose on_scrape is running
  uint64_t scrapes, failures, rejected, samples, bytes, skipped;
  uint64_t duration_count[SL_SCRAPER_DURATION_BUCKETS];
  double duration_sum;
  sl_source_t source;
};

static double mono(void) {
  return (double)uv_hrtime() * 1e-9;
}

// ---- the heap of waiting targets ---------------------------------------------------------------

static void heap_set(sl_scraper_t *s, size_t i, target_t *t) {
  s->heap[i] = t;
  t->hpos = i;
}

static void sift_up(sl_scraper_t *s, size_t i) {
  target_t *t = s->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (s->heap[p]->due <= t->due) break;
    heap_set(s, i, s->heap[p]);
    i = p;
  }
  heap_set(s, i, t);
}

static void sift_down(sl_scraper_t *s, size_t i) {
  target_t *t = s->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= s->nheap) break;
    if (c + 1 < s->nheap && s->heap[c + 1]->due < s->heap[c]->due) c++;
    if (t->due <= s->heap[c]->due) break;
    heap_set(s, i, s->heap[c]);
    i = c;
  }
  heap_set(s, i, t);
}

static int heap_push(sl_scraper_t *s, target_t *t) {
  if (s->nheap == s->cap_heap) {
    size_t cap = s->cap_heap ? s->cap_heap * 2 : 64;
    target_t **h = realloc(s->heap, cap * sizeof *h);
    if (!h) return SL_ENOMEM;
    s->heap = h;
    s->cap_heap = cap;
  }
  s->heap[s->nheap++] = t;
  t->hpos = s->nheap - 1;
  sift_up(s, t->hpos);
  return SL_OK;
}

static void heap_remove(sl_scraper_t *s, target_t *t) {
  size_t i = t->hpos;
  if (i == NOPOS) return;
  t->hpos = NOPOS;
  target_t *last = s->heap[--s->nheap];
  if (i == s->nheap) return;
  heap_set(s, i, last);
  sift_down(s, i);
  sift_up(s, last->hpos);
}

static void on_timer(uv_timer_t *h);

static void arm(sl_scraper_t *s) {
  if (!s->ls) return;
  if (!s->nheap) {
    uv_timer_stop(&s->ls->timer);
    s->armed_due = INFINITY;
    return;
  }
  double due = s->heap[0]->due;
  if (due == s->armed_due) return;
  double d = due - mono();
  uint64_t ms = d <= 0 ? 0 : (uint64_t)ceil(d * 1e3);
  uv_timer_start(&s->ls->timer, on_timer, ms, 0);
  s->armed_due = due;
}

// The first slot at the target's phase after now: phases are taken on one grid for every target,
// so a target added later keeps the spacing its URL gives it.
static double first_due(const target_t *t, double now) {
  double off = t->phase * t->interval - fmod(now, t->interval);
  if (off < 0) off += t->interval;
  return now + off;
}

// ---- body buffers ------------------------------------------------------------------------------

static void buf_take(sl_scraper_t *s, target_t *t) {
  if (s->npool) {
    buf_t b = s->pool[--s->npool];
    t->body = b.p;
    t->cap = b.cap;
  }
}

static void buf_give(sl_scraper_t *s, target_t *t) {
  if (!t->body) return;
  if (s->npool == s->cap_pool && s->cap_pool < POOL_KEEP) {
    size_t cap = s->cap_pool ? s->cap_pool * 2 : 16;
    buf_t *p = realloc(s->pool, cap * sizeof *p);
    if (p) {
      s->pool = p;
      s->cap_pool = cap;
    }
  }
  if (s->npool < s->cap_pool)
    s->pool[s->npool++] = (buf_t){t->body, t->cap};
  else
    free(t->body);
  t->body = NULL;
  t->cap = t->len = 0;
}

// ---- one scrape --------------------------------------------------------------------------------

static int on_data(void *ud, long status, const char *p, size_t len) {
  target_t *t = ud;
  sl_scraper_t *s = t->s;
  size_t max = s->o.max_body;
  if (t->len + len > max) {
    t->overflow = 1;
    return 1; // stops the transfer
  }
  if (!t->body) buf_take(s, t);
  if (t->len + len + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : FIRST_BUF;
    while (cap < t->len + len + 1) cap *= 2;
    if (cap > max + 1) cap = max + 1;
    char *nb = realloc(t->body, cap);
    if (!nb) {
      t->overflow = 1; // reported as the cap: the page cannot be held either way
      return 1;
    }
    t->body = nb;
    t->cap = cap;
  }
  memcpy(t->body + t->len, p, len);
  t->len += len;
  return 0;
}

static void fill_info(const target_t *t, sl_scrape_info_t *o) {
  *o = (sl_scrape_info_t){
      .url = t->url,
      .pod = t->pod,
      .variant = t->variant,
      .model = t->model,
      .kind = t->kind,
      .interval_s = t->interval,
      .timeout_s = t->timeout,
      .phase_s = t->phase * t->interval,
      .up = t->up,
      .done = t->done,
      .changed = t->changed,
      .in_flight = t->req != NULL,
      .consecutive_failures = t->consecutive_failures,
      .backoff_s = t->backoff,
      .last_attempt = t->last_attempt,
      .last_success = t->last_success,
      .last_duration_s = t->last_duration,
      .last_status = t->last_status,
      .last_samples = t->last_samples,
      .last_bytes = t->last_bytes,
      .last_error = t->err,
      .scrapes = t->scrapes,
      .failures = t->failures,
      .rejected = t->rejected,
      .samples = t->samples,
  };
}

static void target_free(target_t *t) {
  if (!t) return;
  free(t->url);
  free(t->pod);
  free(t->variant);
  free(t->model);
  if (t->hdrs)
    for (char **h = t->hdrs; *h; h++) free(*h);
  free(t->hdrs);
  free(t->body);
  free(t);
}

static void schedule_next(sl_scraper_t *s, target_t *t, double now) {
  double delay = t->interval;
  t->backoff = 0;
  if (t->consecutive_failures > 0) {
    double cap = s->o.backoff_max_s > t->interval ? s->o.backoff_max_s : t->interval;
    int k = t->consecutive_failures - 1;
    delay = k >= 30 ? cap : t->interval * (double)(1u << k);
    if (delay > cap) delay = cap;
    t->backoff = delay;
  }
  double due = t->due + delay;
  while (due <= now + SLACK_S) {
    due += t->interval;
    if (!t->backoff) s->skipped++; // a scrape that outlasted its interval
  }
  t->due = due;
  if (heap_push(s, t) == SL_OK) return;
  // Out of memory for the heap: the target waits for the next set_targets or restart.
  t->hpos = NOPOS;
}

static void finish(sl_scraper_t *s, target_t *t, int ok, int rejected, double now) {
  t->req = NULL;
  double dur = now - t->t0_mono;
  t->changed = !t->done || t->up != (ok != 0);
  if (!t->done) s->pending--;
  t->done = 1;
  t->scrapes++;
  s->scrapes++;
  t->last_duration = dur;
  s->duration_sum += dur;
  int b = 0;
  while (b < SL_SCRAPER_DURATION_BUCKETS - 1 && dur > sl_scraper_duration_bounds[b]) b++;
  s->duration_count[b]++;
  t->last_attempt = t->t0_clock;
  s->bytes += t->last_bytes;
  if (ok) {
    size_t n = sl_ingest_samples(s->ingest);
    t->up = 1;
    t->consecutive_failures = 0;
    t->err[0] = '\0';
    t->last_success = t->t0_clock;
    t->last_samples = n;
    t->samples += n;
    s->samples += n;
  } else {
    t->up = 0;
    t->consecutive_failures++;
    t->failures++;
    s->failures++;
    if (rejected) {
      t->rejected++;
      s->rejected++;
    }
  }
  buf_give(s, t);
  if (s->ls) schedule_next(s, t, now);
  arm(s);
  if (!s->o.on_scrape) return;
  sl_scrape_info_t info;
  fill_info(t, &info);
  s->reporting = t;
  s->o.on_scrape(s->o.ud, &info);
  s->reporting = NULL;
  if (t->removed) target_free(t);
}

static int commit(sl_scraper_t *s, target_t *t, sl_err_t *err) {
  sl_store_t *st = s->store;
  if (t->kind == SL_SCRAPE_GATEWAY)
    return sl_ingest_commit_model(s->ingest, st, t->model, t->t0_clock, err);
  sl_pod_t *p = sl_store_find_pod(st, t->pod);
  if (!p) {
    // Pods belong to another source: a page for a pod it does not (or no longer) know is dropped.
    if (s->o.external_pods) return SL_OK;
    if (!(p = sl_store_set_pod(st, t->variant, t->pod, SL_POD_READY)))
      return sl_err(err, SL_ENOMEM, "out of memory");
    t->registered = 1;
  }
  return sl_ingest_commit_pod(s->ingest, st, p, t->t0_clock, err);
}

static void on_done(void *ud, const sl_httpc_resp_t *r) {
  target_t *t = ud;
  sl_scraper_t *s = t->s;
  t->req = NULL;
  int ok = 0, rejected = 0;
  t->last_status = r->status;
  t->last_bytes = r->rc == SL_OK && r->status / 100 != 2 ? r->body_len : t->len;
  if (t->overflow) {
    rejected = 1;
    snprintf(t->err, sizeof t->err, "GET %s: page larger than %zu bytes", t->url, s->o.max_body);
  } else if (r->rc != SL_OK) {
    snprintf(t->err, sizeof t->err, "%s", r->error);
  } else if (r->status / 100 != 2) {
    snprintf(t->err, sizeof t->err, "GET %s: HTTP %ld", t->url, r->status);
  } else {
    sl_err_t err;
    sl_expo_format_t fmt = sl_expo_format_from_content_type(r->content_type);
    sl_scope_t scope = t->kind == SL_SCRAPE_GATEWAY ? SL_SCOPE_MODEL : SL_SCOPE_POD;
    int rc = sl_ingest_page(s->ingest, t->body ? t->body : "", t->len, fmt, scope, &err);
    if (rc == 0) rc = commit(s, t, &err);
    if (rc == 0)
      ok = 1;
    else
      snprintf(t->err, sizeof t->err, "GET %s: %s", t->url, err.msg);
    rejected = rc == SL_EPARSE;
  }
  finish(s, t, ok, rejected, mono());
}

static void fire(sl_scraper_t *s, target_t *t, double now) {
  t->t0_mono = now;
  t->t0_clock = sl_clock_now(s->clock);
  t->len = 0;
  t->overflow = 0;
  sl_httpc_opts_t o = {
      .url = t->url,
      .headers = (const char *const *)t->hdrs,
      .timeout_s = t->timeout,
      .connect_timeout_s = t->timeout,
      .max_body = s->o.max_body,
      .on_data = on_data,
      .on_done = on_done,
      .ud = t,
  };
  sl_err_t err;
  if ((t->req = sl_httpc_start(s->ls->http, &o, &err))) return;
  snprintf(t->err, sizeof t->err, "%s", err.msg);
  t->last_status = 0;
  t->last_bytes = 0;
  finish(s, t, 0, 0, now);
}

static double coalesce_s(const target_t *t) {
  double c = t->interval * COALESCE_FRAC;
  return c < COALESCE_S ? c : COALESCE_S;
}

static void on_timer(uv_timer_t *h) {
  loopside_t *ls = h->data;
  sl_scraper_t *s = ls->s;
  s->armed_due = INFINITY;
  double now = mono();
  // Targets due now, and those due within the next few milliseconds with them: one wakeup for
  // several scrapes (whose answers then tend to arrive together too) costs a fraction of one per
  // scrape, and the loop's wakeups are most of a scrape's cost. Their slots stay where they were,
  // so nothing drifts. Those rescheduled by these scrapes are a whole interval away.
  while (s->ls && s->nheap && s->heap[0]->due <= now + coalesce_s(s->heap[0])) {
    target_t *t = s->heap[0];
    heap_remove(s, t);
    fire(s, t, now);
  }
  arm(s);
}

// ---- targets -----------------------------------------------------------------------------------

static uint64_t url_hash(const char *u) {
  uint64_t h = 1469598103934665603ull;
  for (; *u; u++) h = (h ^ (unsigned char)*u) * 1099511628211ull;
  // FNV's low bits mix poorly for similar strings; fold the high half in.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

static void resolve_times(const sl_scraper_t *s, target_t *t) {
  t->interval = t->given_interval > 0 ? t->given_interval : s->o.interval_s;
  if (t->given_timeout > 0)
    t->timeout = t->given_timeout;
  else if (s->o.timeout_s > 0)
    t->timeout = s->o.timeout_s;
  else
    t->timeout = t->interval * DEFAULT_TIMEOUT_FRAC;
}

static char **build_headers(const char *const *extra) {
  size_t n = 0;
  while (extra && extra[n]) n++;
  char **h = calloc(n + 3, sizeof *h);
  if (!h) return NULL;
  h[0] = strdup(accept_hdr);
  h[1] = strdup(agent_hdr);
  int ok = h[0] && h[1];
  for (size_t i = 0; ok && i < n; i++) ok = (h[2 + i] = strdup(extra[i])) != NULL;
  if (ok) return h;
  for (size_t i = 0; i < n + 2; i++) free(h[i]);
  free(h);
  return NULL;
}

static int same_identity(const target_t *t, const sl_scrape_target_t *d) {
  if (t->kind != d->kind) return 0;
  if (d->kind == SL_SCRAPE_GATEWAY) return !strcmp(t->model, d->model);
  return !strcmp(t->pod, d->pod) && !strcmp(t->variant, d->variant);
}

static int check_target(const sl_scrape_target_t *d, sl_err_t *err) {
  if (!d->url || (strncmp(d->url, "http://", 7) && strncmp(d->url, "https://", 8)))
    return sl_err(err, SL_EINVAL, "scrape target %s: the URL must start with http:// or https://",
                  d->url ? d->url : "(null)");
  if (d->kind == SL_SCRAPE_POD) {
    if (!d->pod || !*d->pod || !d->variant || !*d->variant)
      return sl_err(err, SL_EINVAL, "scrape target %s: a model server needs a pod and a variant",
                    d->url);
  } else if (d->kind == SL_SCRAPE_GATEWAY) {
    if (!d->model || !*d->model)
      return sl_err(err, SL_EINVAL, "scrape target %s: a gateway needs a model", d->url);
  } else {
    return sl_err(err, SL_EINVAL, "scrape target %s: unknown kind %d", d->url, (int)d->kind);
  }
  if (d->interval_s < 0 || d->timeout_s < 0 || isnan(d->interval_s) || isnan(d->timeout_s))
    return sl_err(err, SL_EINVAL, "scrape target %s: negative interval or timeout", d->url);
  return SL_OK;
}

static void update_connects(sl_scraper_t *s) {
  // Every target keeps its connection between scrapes.
  if (s->ls) sl_httpc_set_max_connects(s->ls->http, (long)s->n + 16);
}

static void target_remove(sl_scraper_t *s, target_t *t) {
  if (t->req) {
    sl_httpc_cancel(t->req);
    t->req = NULL;
  }
  buf_give(s, t);
  heap_remove(s, t);
  sl_map_del(&s->by_url, t->url);
  target_t *last = s->targets[--s->n];
  s->targets[t->idx] = last;
  last->idx = t->idx;
  if (!t->done) s->pending--;
  if (t->registered && s->store && !s->o.external_pods) {
    sl_pod_t *p = sl_store_find_pod(s->store, t->pod);
    if (p && !strcmp(p->variant, t->variant)) sl_store_remove_pod(s->store, t->pod);
  }
  if (s->reporting == t)
    t->removed = 1;
  else
    target_free(t);
  arm(s);
}

static int target_add(sl_scraper_t *s, const sl_scrape_target_t *d) {
  target_t *t = calloc(1, sizeof *t);
  if (!t) return SL_ENOMEM;
  t->s = s;
  t->kind = d->kind;
  t->hpos = NOPOS;
  t->epoch = s->epoch;
  t->last_attempt = t->last_success = -INFINITY;
  t->given_interval = d->interval_s;
  t->given_timeout = d->timeout_s;
  resolve_times(s, t);
  double lo = s->o.phase_lo, hi = s->o.phase_hi;
  if (!(lo >= 0 && hi > lo && hi <= 1)) lo = 0, hi = 1;
  t->phase = lo + (hi - lo) * (double)(url_hash(d->url) >> 11) * 0x1.0p-53;
  t->url = strdup(d->url);
  t->pod = strdup(d->kind == SL_SCRAPE_POD ? d->pod : "");
  t->variant = strdup(d->kind == SL_SCRAPE_POD ? d->variant : "");
  t->model = strdup(d->kind == SL_SCRAPE_GATEWAY ? d->model : "");
  t->hdrs = build_headers(d->headers);
  if (!t->url || !t->pod || !t->variant || !t->model || !t->hdrs) goto oom;
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    target_t **nt = realloc(s->targets, cap * sizeof *nt);
    if (!nt) goto oom;
    s->targets = nt;
    s->cap = cap;
  }
  if (sl_map_put(&s->by_url, t->url, t) < 0) goto oom;
  if (s->ls) {
    t->due = first_due(t, mono());
    if (heap_push(s, t) < 0) {
      sl_map_del(&s->by_url, t->url);
      goto oom;
    }
  }
  t->idx = s->n;
  s->targets[s->n++] = t;
  s->pending++;
  update_connects(s);
  arm(s);
  return SL_OK;
oom:
  target_free(t);
  return SL_ENOMEM;
}

static int target_update(sl_scraper_t *s, target_t *t, const sl_scrape_target_t *d) {
  char **h = build_headers(d->headers);
  if (!h) return SL_ENOMEM;
  for (char **p = t->hdrs; *p; p++) free(*p);
  free(t->hdrs);
  t->hdrs = h; // the scrape in flight copied the old ones
  t->given_interval = d->interval_s;
  t->given_timeout = d->timeout_s;
  resolve_times(s, t); // a new interval takes effect from the next slot
  t->epoch = s->epoch;
  return SL_OK;
}

static int apply(sl_scraper_t *s, const sl_scrape_target_t *d) {
  target_t *t = sl_map_get(&s->by_url, d->url);
  if (t && same_identity(t, d)) return target_update(s, t, d);
  if (t) target_remove(s, t); // the same address now serves another pod: a new target
  return target_add(s, d);
}

int sl_scraper_set_targets(sl_scraper_t *s, const sl_scrape_target_t *targets, size_t n,
                           sl_err_t *err) {
  // A map, not a pairwise comparison: cluster mode hands over thousands of targets at a time.
  sl_map_t seen;
  sl_map_init(&seen);
  for (size_t i = 0; i < n; i++) {
    int rc = check_target(&targets[i], err);
    if (rc == 0 && sl_map_get(&seen, targets[i].url))
      rc = sl_err(err, SL_EINVAL, "scrape target %s is listed twice", targets[i].url);
    if (rc == 0 && sl_map_put(&seen, targets[i].url, (void *)1) < 0)
      rc = sl_err(err, SL_ENOMEM, "out of memory");
    if (rc < 0) {
      sl_map_deinit(&seen);
      return rc;
    }
  }
  sl_map_deinit(&seen);
  s->epoch++;
  for (size_t i = 0; i < n; i++)
    if (apply(s, &targets[i]) < 0) return sl_err(err, SL_ENOMEM, "out of memory");
  for (size_t i = s->n; i-- > 0;) {
    // Removal moves the last target into slot i; it was looked at already.
    if (i < s->n && s->targets[i]->epoch != s->epoch) target_remove(s, s->targets[i]);
  }
  return SL_OK;
}

int sl_scraper_add(sl_scraper_t *s, const sl_scrape_target_t *t, sl_err_t *err) {
  int rc = check_target(t, err);
  if (rc < 0) return rc;
  if (apply(s, t) < 0) return sl_err(err, SL_ENOMEM, "out of memory");
  return SL_OK;
}

int sl_scraper_remove(sl_scraper_t *s, const char *url) {
  target_t *t = url ? sl_map_get(&s->by_url, url) : NULL;
  if (!t) return SL_ENOTFOUND;
  target_remove(s, t);
  return SL_OK;
}

// ---- running -----------------------------------------------------------------------------------

static void ls_closed(uv_handle_t *h) {
  loopside_t *ls = h->data;
  sl_httpc_free(ls->http); // its own handles close on a later turn
  free(ls);
}

int sl_scraper_start(sl_scraper_t *s, uv_loop_t *loop, sl_store_t *store, sl_err_t *err) {
  if (s->ls) return sl_err(err, SL_ESTATE, "the scraper is already running");
  loopside_t *ls = calloc(1, sizeof *ls);
  if (!ls) return sl_err(err, SL_ENOMEM, "out of memory");
  if (!(ls->http = sl_httpc_new(loop, err))) {
    free(ls);
    return err ? err->code : SL_EIO;
  }
  uv_timer_init(loop, &ls->timer);
  ls->timer.data = ls;
  ls->s = s;
  s->ls = ls;
  s->store = store;
  s->armed_due = INFINITY;
  update_connects(s);
  double now = mono();
  for (size_t i = 0; i < s->n; i++) {
    target_t *t = s->targets[i];
    t->due = first_due(t, now);
    if (heap_push(s, t) < 0) {
      sl_scraper_stop(s);
      return sl_err(err, SL_ENOMEM, "out of memory");
    }
  }
  arm(s);
  return SL_OK;
}

void sl_scraper_stop(sl_scraper_t *s) {
  loopside_t *ls = s->ls;
  if (!ls) return;
  for (size_t i = 0; i < s->n; i++) {
    target_t *t = s->targets[i];
    if (t->req) sl_httpc_cancel(t->req);
    t->req = NULL;
    buf_give(s, t);
    t->hpos = NOPOS;
  }
  s->nheap = 0;
  s->ls = NULL;
  s->store = NULL;
  uv_timer_stop(&ls->timer);
  uv_close((uv_handle_t *)&ls->timer, ls_closed);
}

int sl_scraper_ready(const sl_scraper_t *s) {
  return s->ls && s->pending == 0;
}

// ---- health ------------------------------------------------------------------------------------

size_t sl_scraper_count(const sl_scraper_t *s) {
  return s->n;
}

int sl_scraper_target_at(const sl_scraper_t *s, size_t i, sl_scrape_info_t *out) {
  if (i >= s->n) return SL_ENOTFOUND;
  fill_info(s->targets[i], out);
  return SL_OK;
}

int sl_scraper_target_info(const sl_scraper_t *s, const char *url, sl_scrape_info_t *out) {
  const target_t *t = url ? sl_map_get(&s->by_url, url) : NULL;
  if (!t) return SL_ENOTFOUND;
  fill_info(t, out);
  return SL_OK;
}

void sl_scraper_stats(const sl_scraper_t *s, sl_scraper_stats_t *o) {
  memset(o, 0, sizeof *o);
  o->targets = s->n;
  for (size_t i = 0; i < s->n; i++) {
    const target_t *t = s->targets[i];
    o->in_flight += t->req != NULL;
    if (!t->done)
      o->pending++;
    else if (t->up)
      o->up++;
    else
      o->down++;
  }
  o->scrapes = s->scrapes;
  o->failures = s->failures;
  o->rejected = s->rejected;
  o->samples = s->samples;
  o->bytes = s->bytes;
  o->skipped = s->skipped;
  memcpy(o->duration_count, s->duration_count, sizeof o->duration_count);
  o->duration_sum = s->duration_sum;
}

// ---- the source --------------------------------------------------------------------------------

static int src_start(sl_source_t *src, struct uv_loop_s *loop, sl_store_t *store, sl_err_t *err) {
  return sl_scraper_start(src->ud, loop, store, err);
}

static void src_stop(sl_source_t *src) {
  sl_scraper_stop(src->ud);
}

static int src_ready(sl_source_t *src) {
  return sl_scraper_ready(src->ud);
}

sl_source_t *sl_scraper_source(sl_scraper_t *s) {
  return &s->source;
}

// ---- lifetime ----------------------------------------------------------------------------------

sl_scraper_t *sl_scraper_new(const sl_scraper_opts_t *opts, sl_err_t *err) {
  sl_scraper_t *s = calloc(1, sizeof *s);
  if (!s) {
    sl_err(err, SL_ENOMEM, "out of memory");
    return NULL;
  }
  if (opts) s->o = *opts;
  if (!(s->o.interval_s > 0)) s->o.interval_s = DEFAULT_INTERVAL_S;
  if (!(s->o.backoff_max_s > 0)) s->o.backoff_max_s = DEFAULT_BACKOFF_MAX_S;
  if (!s->o.max_body) s->o.max_body = DEFAULT_MAX_BODY;
  if (s->o.timeout_s < 0 || isnan(s->o.timeout_s)) s->o.timeout_s = 0;
  sl_clock_init_real(&s->real_clock);
  s->clock = s->o.clock ? s->o.clock : &s->real_clock;
  sl_map_init(&s->by_url);
  if (!(s->ingest = sl_ingest_new(s->o.lookup))) {
    free(s);
    sl_err(err, SL_ENOMEM, "out of memory");
    return NULL;
  }
  s->source = (sl_source_t){
      .name = "scrape", .start = src_start, .stop = src_stop, .ready = src_ready, .ud = s};
  return s;
}

void sl_scraper_free(sl_scraper_t *s) {
  if (!s) return;
  sl_scraper_stop(s);
  for (size_t i = 0; i < s->n; i++) target_free(s->targets[i]);
  free(s->targets);
  free(s->heap);
  for (size_t i = 0; i < s->npool; i++) free(s->pool[i].p);
  free(s->pool);
  sl_map_deinit(&s->by_url);
  sl_ingest_free(s->ingest);
  free(s);
}
