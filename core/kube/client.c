// Kubernetes API calls. See client.h.
//
// A call goes: rate limiter (a reservation, so calls keep their order) -> HTTP -> classify ->
// either done, or a retry scheduled on the scheduler (Retry-After as a floor, else exponential
// backoff with jitter) that goes through the limiter again.
#include "core/kube/client.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util/log.h"
#include "core/util/rng.h"
#include "core/util/tbucket.h"

#define DEFAULT_QPS      20.0
#define DEFAULT_BURST    30
#define DEFAULT_RETRIES  10
#define DEFAULT_BASE     0.25
#define DEFAULT_MAX      8.0
#define DEFAULT_TIMEOUT  30.0
#define DEFAULT_MAX_BODY ((size_t)64 << 20)
#define DEFAULT_429_WAIT 1.0

struct sl_kube_call {
  sl_kube_client_t *c;
  char *method, *path, *body, *ctype;
  size_t body_len;
  int idempotent, no_retry;
  double timeout_s, stall_s;
  size_t max_body;
  sl_httpc_data_fn on_data; // the caller's stream callback
  sl_httpc_head_fn on_head;
  void *data_ud;
  sl_kube_done_fn done;
  void *ud;
  int attempts;
  int token_refreshed;
  uint64_t timer;
  sl_httpc_req_t *req;
  struct sl_kube_call *prev, *next;
};

struct sl_kube_client {
  sl_httpc_t *http;
  sl_sched_t *sched;
  sl_kube_config_t cfg;
  sl_kube_client_opts_t o;
  sl_tbucket_t bucket;
  sl_rng_t rng;
  sl_kube_call_t *calls;
  sl_kube_client_stats_t st;
};

const char *sl_kube_reason_name(sl_kube_reason_t r) {
  static const char *const names[] = {"OK",
                                      "Transport",
                                      "BadRequest",
                                      "Unauthorized",
                                      "Forbidden",
                                      "NotFound",
                                      "MethodNotAllowed",
                                      "Conflict",
                                      "AlreadyExists",
                                      "Gone",
                                      "RequestEntityTooLarge",
                                      "UnsupportedMediaType",
                                      "Invalid",
                                      "TooManyRequests",
                                      "InternalError",
                                      "ServiceUnavailable",
                                      "Timeout",
                                      "Other",
                                      "BadResponse"};
  return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "?";
}

// ---- paths and formats -------------------------------------------------------------------------

int sl_kube_path(char *buf, size_t n, const char *group, const char *version, const char *ns,
                 const char *resource, const char *name, const char *sub) {
  int w;
  if (!group || !*group)
    w = snprintf(buf, n, "/api/%s", version ? version : "v1");
  else
    w = snprintf(buf, n, "/apis/%s/%s", group, version ? version : "v1");
  size_t used = (size_t)w;
  const char *parts[] = {ns && *ns ? "namespaces" : NULL, ns, resource, name, sub};
  for (int i = 0; i < 5; i++) {
    if (!parts[i] || !*parts[i]) {
      if (i >= 2) break; // nothing after a missing resource or name
      continue;
    }
    w = snprintf(buf + used, used < n ? n - used : 0, "/%s", parts[i]);
    used += (size_t)w;
  }
  return used < n ? (int)used : -1;
}

int sl_kube_escape(char *buf, size_t n, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    int keep = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
               ch == '-' || ch == '.' || ch == '_' || ch == '~';
    if (keep) {
      if (o + 1 >= n) return -1;
      buf[o++] = (char)ch;
    } else {
      if (o + 3 >= n) return -1;
      buf[o++] = '%';
      buf[o++] = hex[ch >> 4];
      buf[o++] = hex[ch & 15];
    }
  }
  if (o >= n) return -1;
  buf[o] = '\0';
  return (int)o;
}

void sl_kube_time_format(double wall, int micro, char *buf, size_t n) {
  time_t secs = (time_t)floor(wall);
  long us = (long)((wall - (double)secs) * 1e6 + 0.5);
  if (us >= 1000000) secs++, us -= 1000000;
  struct tm tm;
  gmtime_r(&secs, &tm);
  char base[32];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  if (micro)
    snprintf(buf, n, "%s.%06ldZ", base, us);
  else
    snprintf(buf, n, "%sZ", base);
}

// ---- classification ----------------------------------------------------------------------------

static sl_kube_reason_t from_code(long st) {
  switch (st) {
  case 400:
    return SL_KUBE_BAD_REQUEST;
  case 401:
    return SL_KUBE_UNAUTHORIZED;
  case 403:
    return SL_KUBE_FORBIDDEN;
  case 404:
    return SL_KUBE_NOT_FOUND;
  case 405:
    return SL_KUBE_METHOD_NOT_ALLOWED;
  case 409:
    return SL_KUBE_CONFLICT;
  case 410:
    return SL_KUBE_GONE;
  case 413:
    return SL_KUBE_TOO_LARGE;
  case 415:
    return SL_KUBE_UNSUPPORTED_MEDIA;
  case 422:
    return SL_KUBE_INVALID;
  case 429:
    return SL_KUBE_TOO_MANY_REQUESTS;
  case 500:
    return SL_KUBE_INTERNAL;
  case 503:
    return SL_KUBE_UNAVAILABLE;
  case 504:
    return SL_KUBE_TIMEOUT;
  default:
    return SL_KUBE_OTHER;
  }
}

static sl_kube_reason_t from_reason(const char *r, long st) {
  static const struct {
    const char *name;
    sl_kube_reason_t r;
  } map[] = {{"BadRequest", SL_KUBE_BAD_REQUEST},
             {"Unauthorized", SL_KUBE_UNAUTHORIZED},
             {"Forbidden", SL_KUBE_FORBIDDEN},
             {"NotFound", SL_KUBE_NOT_FOUND},
             {"MethodNotAllowed", SL_KUBE_METHOD_NOT_ALLOWED},
             {"Conflict", SL_KUBE_CONFLICT},
             {"AlreadyExists", SL_KUBE_ALREADY_EXISTS},
             {"Gone", SL_KUBE_GONE},
             {"Expired", SL_KUBE_GONE},
             {"RequestEntityTooLarge", SL_KUBE_TOO_LARGE},
             {"UnsupportedMediaType", SL_KUBE_UNSUPPORTED_MEDIA},
             {"Invalid", SL_KUBE_INVALID},
             {"TooManyRequests", SL_KUBE_TOO_MANY_REQUESTS},
             {"InternalError", SL_KUBE_INTERNAL},
             {"ServiceUnavailable", SL_KUBE_UNAVAILABLE},
             {"ServerTimeout", SL_KUBE_TIMEOUT},
             {"Timeout", SL_KUBE_TIMEOUT}};
  if (r)
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
      if (!strcmp(r, map[i].name)) return map[i].r;
  return from_code(st);
}

static int rc_of(sl_kube_reason_t r) {
  switch (r) {
  case SL_KUBE_OK:
    return SL_OK;
  case SL_KUBE_NOT_FOUND:
    return SL_ENOTFOUND;
  case SL_KUBE_CONFLICT:
  case SL_KUBE_ALREADY_EXISTS:
    return SL_ESTATE;
  case SL_KUBE_BAD_REQUEST:
  case SL_KUBE_INVALID:
    return SL_EINVAL;
  case SL_KUBE_BAD_RESPONSE:
    return SL_EPARSE;
  default:
    return SL_EIO;
  }
}

// ---- calls -------------------------------------------------------------------------------------

static void call_free(sl_kube_call_t *k) {
  sl_kube_client_t *c = k->c;
  if (k->prev)
    k->prev->next = k->next;
  else if (c->calls == k)
    c->calls = k->next;
  if (k->next) k->next->prev = k->prev;
  sl_sched_cancel(c->sched, k->timer);
  if (k->req) sl_httpc_cancel(k->req);
  free(k->method);
  free(k->path);
  free(k->body);
  free(k->ctype);
  free(k);
}

static void finish(sl_kube_call_t *k, sl_kube_result_t *res) {
  res->attempts = k->attempts;
  k->req = NULL;
  k->done(k->ud, res);
  sl_json_free(res->body);
  call_free(k);
}

static void send_now(void *ud);

static void fail_now(sl_kube_call_t *k, const char *msg) {
  sl_kube_result_t res = {SL_EIO, SL_KUBE_TRANSPORT, 0, msg, NULL, "", 0, -1, 0};
  finish(k, &res);
}

static void limiter_then_send(void *ud);
static int reserve_and_arm(sl_kube_call_t *k);

// After `floor_s` (a Retry-After or a backoff), through the limiter, then out. Always via the
// scheduler, so a call never completes inside sl_kube_client_call.
static void schedule_send(sl_kube_call_t *k, double floor_s) {
  sl_kube_client_t *c = k->c;
  if (floor_s > 0) k->timer = sl_sched_after(c->sched, floor_s, limiter_then_send, k);
  if (floor_s <= 0 || !k->timer) limiter_then_send(k);
}

// The limiter hands out reservations, so delayed calls keep the order they were made in.
static int reserve_and_arm(sl_kube_call_t *k) {
  sl_kube_client_t *c = k->c;
  double wait = sl_tbucket_reserve(&c->bucket, sl_sched_now(c->sched));
  if (wait > 0) {
    c->st.throttled++;
    c->st.throttled_s += wait;
  }
  k->timer = sl_sched_after(c->sched, wait, send_now, k);
  return k->timer ? SL_OK : SL_ENOMEM;
}

static void limiter_then_send(void *ud) {
  sl_kube_call_t *k = ud;
  k->timer = 0;
  if (reserve_and_arm(k) < 0) fail_now(k, "out of memory scheduling a request");
}

static double backoff(sl_kube_client_t *c, int attempt) {
  double d = c->o.backoff_base_s * pow(2, attempt - 1);
  if (d > c->o.backoff_max_s) d = c->o.backoff_max_s;
  // "Equal jitter": at least half the step, so retries spread out yet still back off.
  return d * (0.5 + 0.5 * sl_rng_uniform(&c->rng));
}

static void on_http(void *ud, const sl_httpc_resp_t *r) {
  sl_kube_call_t *k = ud;
  sl_kube_client_t *c = k->c;
  k->req = NULL;
  sl_kube_result_t res = {0};
  res.status = r->status;
  res.raw = r->body;
  res.raw_len = r->body_len;
  res.retry_after = r->retry_after;
  char msg[SL_ERR_MAX];
  msg[0] = '\0';
  res.message = msg;

  if (r->status == 0 || r->rc == SL_EIO) {
    // No response, or one cut short (a dropped watch, a reset mid-body): a transport failure.
    res.reason = SL_KUBE_TRANSPORT;
    snprintf(msg, sizeof msg, "%s", r->error[0] ? r->error : "no response");
  } else if (r->status >= 200 && r->status < 300) {
    if (r->rc == SL_ERANGE) {
      res.reason = SL_KUBE_BAD_RESPONSE;
      snprintf(msg, sizeof msg, "%s", r->error);
    } else if (r->rc == SL_ESTATE) {
      res.reason = SL_KUBE_OK; // the stream's receiver stopped it: its own decision
    } else if (!k->on_data && r->body_len) {
      sl_err_t perr = {0};
      sl_json_limits_t lim = {0, k->max_body};
      res.body = sl_json_parse(r->body, r->body_len, &lim, &perr);
      if (!res.body) {
        res.reason = SL_KUBE_BAD_RESPONSE;
        snprintf(msg, sizeof msg, "%s %s: %ld response is not JSON (%s)", k->method, k->path,
                 r->status, perr.msg);
      }
    }
  } else {
    // An error status: the Status object says which, when there is one.
    sl_json_t *st = r->body_len ? sl_json_parse(r->body, r->body_len, NULL, NULL) : NULL;
    const char *kind = sl_json_str_or(sl_json_get(st, "kind"), "");
    const char *reason = NULL, *smsg = NULL;
    if (!strcmp(kind, "Status")) {
      reason = sl_json_str_or(sl_json_get(st, "reason"), NULL);
      smsg = sl_json_str_or(sl_json_get(st, "message"), NULL);
      double ra = sl_json_num_or(sl_json_at(st, "details.retryAfterSeconds"), -1);
      if (res.retry_after < 0 && ra >= 0) res.retry_after = ra;
    }
    res.reason = from_reason(reason, r->status);
    if (smsg)
      snprintf(msg, sizeof msg, "%s %s: %ld %s: %s", k->method, k->path, r->status,
               sl_kube_reason_name(res.reason), smsg);
    else
      snprintf(msg, sizeof msg, "%s %s: HTTP %ld%s%.*s", k->method, k->path, r->status,
               r->body_len ? ": " : "", (int)(r->body_len > 200 ? 200 : r->body_len), r->body);
    sl_json_free(st);
  }
  res.rc = rc_of(res.reason);

  // Retry?
  int can = !k->no_retry && k->attempts <= c->o.max_retries;
  double floor_s = -1;
  if (res.reason == SL_KUBE_UNAUTHORIZED && c->cfg.token_file && !k->token_refreshed) {
    // A rotated projected token: read it again and try once more.
    char *old = c->cfg.token ? strdup(c->cfg.token) : NULL;
    sl_kube_config_token(&c->cfg, sl_sched_now(c->sched), 1, NULL);
    k->token_refreshed = 1;
    if (!k->no_retry && c->cfg.token && (!old || strcmp(old, c->cfg.token))) floor_s = 0;
    free(old);
  } else if (can && res.reason == SL_KUBE_TOO_MANY_REQUESTS) {
    // Not processed, so safe for any method.
    floor_s = res.retry_after >= 0 ? res.retry_after : DEFAULT_429_WAIT;
  } else if (can && r->status >= 500 && r->status < 600 && res.retry_after >= 0) {
    floor_s = res.retry_after; // the server says when to come back
  } else if (can && k->idempotent &&
             (res.reason == SL_KUBE_TRANSPORT || (r->status >= 500 && r->status < 600))) {
    floor_s = backoff(c, k->attempts);
  }
  if (floor_s >= 0 && !k->on_data) {
    c->st.retries++;
    sl_debug("%s (attempt %d), retrying in %.2fs", msg[0] ? msg : "request failed", k->attempts,
             floor_s);
    sl_json_free(res.body);
    schedule_send(k, floor_s);
    return;
  }
  finish(k, &res);
}

static void head_cb(void *ud, long status) {
  sl_kube_call_t *k = ud;
  if (k->on_head) k->on_head(k->data_ud, status);
}

// Streams hand bytes to the caller's callback with the caller's pointer.
static int stream_data(void *ud, long status, const char *buf, size_t len) {
  sl_kube_call_t *k = ud;
  return k->on_data(k->data_ud, status, buf, len);
}

static void send_now(void *ud) {
  sl_kube_call_t *k = ud;
  sl_kube_client_t *c = k->c;
  k->timer = 0;
  k->attempts++;
  c->st.sent++;
  size_t ul = strlen(c->cfg.server) + strlen(k->path) + 1;
  char *url = malloc(ul);
  if (!url) {
    fail_now(k, "out of memory");
    return;
  }
  snprintf(url, ul, "%s%s", c->cfg.server, k->path);
  char auth[8192], ctype[160];
  const char *hdrs[6];
  int nh = 0;
  const char *tok = sl_kube_config_token(&c->cfg, sl_sched_now(c->sched), 0, NULL);
  if (tok) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
    hdrs[nh++] = auth;
  }
  hdrs[nh++] = "Accept: application/json";
  hdrs[nh++] = "User-Agent: sluice";
  if (k->body) {
    snprintf(ctype, sizeof ctype, "Content-Type: %s", k->ctype);
    hdrs[nh++] = ctype;
  }
  hdrs[nh] = NULL;
  sl_httpc_opts_t o = {
      .method = k->method,
      .url = url,
      .headers = hdrs,
      .body = k->body,
      .body_len = k->body_len,
      .timeout_s = k->timeout_s,
      .stall_s = k->stall_s,
      .max_body = k->max_body,
      .proxy = c->cfg.proxy,
      .tls = {.ca_file = c->cfg.ca_file,
              .ca_data = c->cfg.ca_data,
              .ca_len = c->cfg.ca_len,
              .cert_file = c->cfg.cert_file,
              .cert_data = c->cfg.cert_data,
              .cert_len = c->cfg.cert_len,
              .key_file = c->cfg.key_file,
              .key_data = c->cfg.key_data,
              .key_len = c->cfg.key_len,
              .insecure = c->cfg.insecure},
      .on_data = k->on_data ? stream_data : NULL,
      .on_head = k->on_head ? head_cb : NULL,
      .on_done = on_http,
      .ud = k,
  };
  sl_err_t err = {0};
  k->req = sl_httpc_start(c->http, &o, &err);
  free(url);
  if (!k->req) fail_now(k, err.msg);
}

sl_kube_call_t *sl_kube_client_call(sl_kube_client_t *c, const sl_kube_req_t *q,
                                    sl_kube_done_fn done, void *ud, sl_err_t *err) {
  if (!q || !q->path || q->path[0] != '/' || !done) {
    sl_err(err, SL_EINVAL, "a Kubernetes call needs a path starting with / and a callback");
    return NULL;
  }
  sl_kube_call_t *k = calloc(1, sizeof *k);
  if (!k) goto oom;
  k->c = c;
  const char *m = q->method ? q->method : "GET";
  const char *ct = q->content_type       ? q->content_type
                   : !strcmp(m, "PATCH") ? "application/merge-patch+json"
                                         : "application/json";
  k->method = strdup(m);
  k->path = strdup(q->path);
  k->ctype = strdup(ct);
  if (!k->method || !k->path || !k->ctype) goto oom;
  if (q->body) {
    k->body_len = q->body_len ? q->body_len : strlen(q->body);
    if (!(k->body = malloc(k->body_len + 1))) goto oom;
    memcpy(k->body, q->body, k->body_len);
    k->body[k->body_len] = '\0';
  }
  k->idempotent = q->idempotent >= 0 ? q->idempotent
                                     : (!strcmp(m, "GET") || !strcmp(m, "HEAD") ||
                                        !strcmp(m, "PUT") || !strcmp(m, "DELETE"));
  k->no_retry = q->no_retry || q->on_data;
  k->timeout_s = q->timeout_s > 0 ? q->timeout_s : q->on_data ? 0 : c->o.timeout_s;
  k->stall_s = q->stall_s;
  k->max_body = q->max_body ? q->max_body : c->o.max_body;
  k->done = done;
  k->ud = ud;
  k->on_data = q->on_data;
  k->on_head = q->on_head;
  k->data_ud = q->data_ud;
  k->next = c->calls;
  if (c->calls) c->calls->prev = k;
  c->calls = k;
  c->st.calls++;
  if (reserve_and_arm(k) < 0) {
    call_free(k);
    sl_err(err, SL_ENOMEM, "out of memory");
    return NULL;
  }
  return k;
oom:
  sl_err(err, SL_ENOMEM, "out of memory");
  if (k) {
    free(k->method);
    free(k->path);
    free(k->ctype);
    free(k->body);
    free(k);
  }
  return NULL;
}

void sl_kube_call_cancel(sl_kube_call_t *k) {
  if (k) call_free(k);
}

sl_kube_client_t *sl_kube_client_new(sl_httpc_t *http, sl_sched_t *sched, sl_kube_config_t *cfg,
                                     const sl_kube_client_opts_t *opts, sl_err_t *err) {
  if (!http || !sched || !cfg || !cfg->server) {
    sl_err(err, SL_EINVAL, "a Kubernetes client needs HTTP, a scheduler and a configuration");
    return NULL;
  }
  sl_kube_client_t *c = calloc(1, sizeof *c);
  if (!c) {
    sl_err(err, SL_ENOMEM, "out of memory");
    return NULL;
  }
  c->http = http;
  c->sched = sched;
  c->o = opts ? *opts : (sl_kube_client_opts_t){0};
  if (c->o.qps == 0) c->o.qps = DEFAULT_QPS;
  if (c->o.burst <= 0) c->o.burst = DEFAULT_BURST;
  if (c->o.max_retries == 0) c->o.max_retries = DEFAULT_RETRIES;
  if (c->o.max_retries < 0) c->o.max_retries = 0;
  if (c->o.backoff_base_s <= 0) c->o.backoff_base_s = DEFAULT_BASE;
  if (c->o.backoff_max_s <= 0) c->o.backoff_max_s = DEFAULT_MAX;
  if (c->o.timeout_s <= 0) c->o.timeout_s = DEFAULT_TIMEOUT;
  if (!c->o.max_body) c->o.max_body = DEFAULT_MAX_BODY;
  sl_rng_seed(&c->rng, c->o.seed ? c->o.seed : (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)c);
  sl_tbucket_init(&c->bucket, c->o.qps, c->o.burst, sl_sched_now(sched));
  c->cfg = *cfg;
  memset(cfg, 0, sizeof *cfg);
  return c;
}

void sl_kube_client_free(sl_kube_client_t *c) {
  if (!c) return;
  while (c->calls) call_free(c->calls);
  sl_kube_config_deinit(&c->cfg);
  free(c);
}

sl_kube_config_t *sl_kube_client_config(sl_kube_client_t *c) {
  return &c->cfg;
}

sl_sched_t *sl_kube_client_sched(sl_kube_client_t *c) {
  return c->sched;
}

void sl_kube_client_stats(const sl_kube_client_t *c, sl_kube_client_stats_t *out) {
  *out = c->st;
}
