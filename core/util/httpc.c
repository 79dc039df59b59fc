// HTTP over libcurl's multi-socket API on libuv. See httpc.h.
//
// curl forbids re-entering the multi handle from its own callbacks, while our callers may start
// or cancel requests from inside theirs (a watch's data callback stops its own transfer; a done
// callback starts the retry). So: starts made while curl is running are added after
// curl_multi_socket_action returns, cancels made while curl runs or while completions are being
// dispatched only mark the request, and marked requests are reaped once nothing is on the stack.
#include "core/util/httpc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_MAX_BODY  ((size_t)16 << 20)
#define DEFAULT_CONNECT_S 10.0
// Easy handles and request records are kept for reuse up to this many (what a client had in
// flight at once), so a steady stream of requests allocates nothing of ours: a scraper of
// thousands of targets has a hundred or so in flight at the top of each interval.
#define POOL_MAX 256
#define KEEP_BUF ((size_t)64 << 10) // a pooled record keeps a buffered body's buffer up to this

typedef struct sock {
  uv_poll_t poll;
  curl_socket_t fd;
  sl_httpc_t *h;
  struct sock *prev, *next;
} sock_t;

struct sl_httpc_req {
  sl_httpc_t *h;
  CURL *easy;
  struct curl_slist *hdrs;
  char *what; // "METHOD URL" for messages
  size_t what_cap;
  char errbuf[CURL_ERROR_SIZE];
  char *buf;
  size_t len, cap, max;
  char content_type[128];
  double retry_after;
  sl_httpc_data_fn on_data;
  sl_httpc_done_fn on_done;
  sl_httpc_head_fn on_head;
  void *ud;
  int attached;  // added to the multi handle
  int pending;   // started while curl was running: added when it returns
  int cancelled; // no more callbacks
  int overflow, stopped;
  CURLcode result;
  struct sl_httpc_req *prev, *next; // active list
  struct sl_httpc_req *next_done;
  struct sl_httpc_req *next_free; // in the pool of records
};

struct sl_httpc {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  int in_curl;     // inside curl_multi_socket_action
  int dispatching; // inside done callbacks
  sl_httpc_req_t *active;
  size_t n_active;
  sock_t *socks;
  CURL *pool[POOL_MAX];
  int n_pool;
  sl_httpc_req_t *free_reqs; // records kept for reuse, with their buffers and header list
  int n_free;
  long connects;
};

static void process(sl_httpc_t *h);
static void finish(sl_httpc_req_t *r);

// ---- sockets and timers ------------------------------------------------------------------------

static void sock_closed(uv_handle_t *hd) {
  free(hd->data);
}

static void sock_close(sock_t *sk) {
  sl_httpc_t *h = sk->h;
  if (sk->prev)
    sk->prev->next = sk->next;
  else
    h->socks = sk->next;
  if (sk->next) sk->next->prev = sk->prev;
  uv_poll_stop(&sk->poll);
  uv_close((uv_handle_t *)&sk->poll, sock_closed);
}

static void action(sl_httpc_t *h, curl_socket_t fd, int flags) {
  int running;
  h->in_curl++;
  curl_multi_socket_action(h->multi, fd, flags, &running);
  h->in_curl--;
  for (sl_httpc_req_t *r = h->active; r; r = r->next) {
    if (!r->pending || r->cancelled) continue;
    r->pending = 0;
    if (curl_multi_add_handle(h->multi, r->easy) == CURLM_OK) {
      r->attached = 1;
    } else {
      r->result = CURLE_FAILED_INIT;
      snprintf(r->errbuf, sizeof r->errbuf, "cannot start the transfer");
      h->dispatching = 1;
      finish(r);
      h->dispatching = 0;
      r->cancelled = 1; // reaped below
    }
  }
  process(h);
}

static void on_poll(uv_poll_t *p, int status, int events) {
  sock_t *sk = p->data;
  int flags = 0;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  action(sk->h, sk->fd, flags);
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  sl_httpc_t *h = userp;
  sock_t *sk = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (sk) {
      curl_multi_assign(h->multi, s, NULL);
      sock_close(sk);
    }
    return 0;
  }
  if (!sk) {
    if (!(sk = calloc(1, sizeof *sk))) return -1;
    if (uv_poll_init_socket(h->loop, &sk->poll, s) < 0) {
      free(sk);
      return -1;
    }
    sk->fd = s;
    sk->h = h;
    sk->poll.data = sk;
    sk->next = h->socks;
    if (h->socks) h->socks->prev = sk;
    h->socks = sk;
    curl_multi_assign(h->multi, s, sk);
  }
  int ev = 0;
  if (what & CURL_POLL_IN) ev |= UV_READABLE;
  if (what & CURL_POLL_OUT) ev |= UV_WRITABLE;
  uv_poll_start(&sk->poll, ev, on_poll);
  return 0;
}

static void on_timeout(uv_timer_t *t) {
  action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int on_timer(CURLM *m, long timeout_ms, void *userp) {
  sl_httpc_t *h = userp;
  if (timeout_ms < 0) uv_timer_stop(&h->timer);
  // Never call back into curl from here: a zero timeout runs on the next loop turn.
  else
    uv_timer_start(&h->timer, on_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

// ---- requests ----------------------------------------------------------------------------------

static void unlink_req(sl_httpc_req_t *r) {
  sl_httpc_t *h = r->h;
  if (r->prev)
    r->prev->next = r->next;
  else if (h->active == r)
    h->active = r->next;
  if (r->next) r->next->prev = r->prev;
  r->prev = r->next = NULL;
  h->n_active--;
}

static void req_release(sl_httpc_req_t *r) {
  curl_slist_free_all(r->hdrs);
  free(r->what);
  free(r->buf);
  free(r);
}

static void destroy(sl_httpc_req_t *r) {
  sl_httpc_t *h = r->h;
  if (r->easy) {
    if (r->attached) curl_multi_remove_handle(h->multi, r->easy);
    if (h->n_pool < POOL_MAX) {
      curl_easy_reset(r->easy);
      h->pool[h->n_pool++] = r->easy;
    } else {
      curl_easy_cleanup(r->easy);
    }
  }
  if (h->n_free < POOL_MAX) {
    if (r->cap > KEEP_BUF) { // a large listing's buffer is not kept for the next request
      free(r->buf);
      r->buf = NULL;
      r->cap = 0;
    }
    r->next_free = h->free_reqs;
    h->free_reqs = r;
    h->n_free++;
    return;
  }
  req_release(r);
}

// A record from the pool, its buffers and header list kept, everything else zero.
static sl_httpc_req_t *req_take(sl_httpc_t *h) {
  sl_httpc_req_t *r = h->free_reqs;
  if (!r) return calloc(1, sizeof *r);
  h->free_reqs = r->next_free;
  h->n_free--;
  sl_httpc_req_t keep = *r;
  memset(r, 0, sizeof *r);
  r->what = keep.what;
  r->what_cap = keep.what_cap;
  r->buf = keep.buf;
  r->cap = keep.cap;
  r->hdrs = keep.hdrs;
  if (r->buf) r->buf[0] = '\0'; // an empty body reads as ""
  return r;
}

// Whether list (after its leading "Expect:") holds exactly these headers, in order.
static int same_headers(const struct curl_slist *list, const char *const *hp) {
  if (!list) return 0;
  for (list = list->next; hp && *hp; hp++, list = list->next)
    if (!list || strcmp(list->data, *hp)) return 0;
  return list == NULL;
}

static int is_2xx(sl_httpc_req_t *r, long *status) {
  long st = 0;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
  *status = st;
  return st >= 200 && st < 300;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud) {
  sl_httpc_req_t *r = ud;
  size_t len = size * n;
  if (r->cancelled) return 0;
  long st;
  if (r->on_data && is_2xx(r, &st)) {
    if (r->on_data(r->ud, st, p, len) != 0) {
      r->stopped = 1;
      return 0;
    }
    return r->cancelled ? 0 : len;
  }
  if (r->len + len > r->max) {
    r->overflow = 1;
    return 0;
  }
  if (r->len + len + 1 > r->cap) {
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < r->len + len + 1) cap *= 2;
    if (cap > r->max + 1) cap = r->max + 1;
    char *nb = realloc(r->buf, cap);
    if (!nb) {
      r->overflow = 1;
      return 0;
    }
    r->buf = nb;
    r->cap = cap;
  }
  memcpy(r->buf + r->len, p, len);
  r->len += len;
  r->buf[r->len] = '\0';
  return len;
}

static int header_is(const char *line, size_t len, const char *name, const char **val,
                     size_t *vlen) {
  size_t n = strlen(name);
  if (len <= n || strncasecmp(line, name, n) || line[n] != ':') return 0;
  const char *v = line + n + 1, *end = line + len;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
  *val = v;
  *vlen = (size_t)(end - v);
  return 1;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  sl_httpc_req_t *r = ud;
  size_t len = size * n;
  const char *v;
  size_t vl;
  if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
    long st = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
    if (st >= 200 && r->on_head && !r->cancelled) r->on_head(r->ud, st);
  } else if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
    // A new response (after a 100 Continue or a redirect): forget the previous one's headers.
    r->content_type[0] = '\0';
    r->retry_after = -1;
  } else if (header_is(p, len, "Content-Type", &v, &vl)) {
    if (vl >= sizeof r->content_type) vl = sizeof r->content_type - 1;
    memcpy(r->content_type, v, vl);
    r->content_type[vl] = '\0';
  } else if (header_is(p, len, "Retry-After", &v, &vl) && vl < 64) {
    char tmp[64];
    memcpy(tmp, v, vl);
    tmp[vl] = '\0';
    char *end;
    double s = strtod(tmp, &end);
    if (end != tmp && *end == '\0') {
      r->retry_after = s < 0 ? 0 : s;
    } else {
      time_t t = curl_getdate(tmp, NULL); // an HTTP date
      if (t >= 0) {
        double d = difftime(t, time(NULL));
        r->retry_after = d < 0 ? 0 : d;
      }
    }
  }
  return len;
}

static void finish(sl_httpc_req_t *r) {
  sl_httpc_resp_t resp = {0};
  char err[CURL_ERROR_SIZE + 512];
  long st = 0;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
  long nc = 0;
  curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &nc);
  r->h->connects += nc;
  curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME, &resp.total_s);
  resp.curl_code = r->result;
  resp.status = st;
  resp.body = r->buf ? r->buf : "";
  resp.body_len = r->len;
  resp.content_type = r->content_type;
  resp.retry_after = r->retry_after;
  resp.error = "";
  if (r->stopped) {
    resp.rc = SL_ESTATE;
    snprintf(err, sizeof err, "%s: stopped by the receiver", r->what);
    resp.error = err;
  } else if (r->overflow) {
    resp.rc = SL_ERANGE;
    snprintf(err, sizeof err, "%s: response body larger than %zu bytes", r->what, r->max);
    resp.error = err;
  } else if (r->result != CURLE_OK) {
    resp.rc = SL_EIO;
    snprintf(err, sizeof err, "%s: %s", r->what,
             r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->result));
    size_t l = strlen(err);
    while (l && err[l - 1] == '\n') err[--l] = '\0';
    resp.error = err;
  }
  r->on_done(r->ud, &resp);
}

// Hands finished transfers to their callbacks, then frees them and anything cancelled meanwhile.
static void process(sl_httpc_t *h) {
  if (h->in_curl || h->dispatching) return;
  sl_httpc_req_t *done = NULL, **tail = &done;
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(h->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    sl_httpc_req_t *r = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (!r) continue;
    r->result = m->data.result;
    curl_multi_remove_handle(h->multi, r->easy);
    r->attached = 0;
    unlink_req(r);
    r->next_done = NULL;
    *tail = r;
    tail = &r->next_done;
  }
  h->dispatching = 1;
  for (sl_httpc_req_t *r = done; r; r = r->next_done)
    if (!r->cancelled) finish(r);
  h->dispatching = 0;
  while (done) {
    sl_httpc_req_t *next = done->next_done;
    destroy(done);
    done = next;
  }
  // Cancelled while curl or a callback was running.
  for (sl_httpc_req_t *r = h->active, *next; r; r = next) {
    next = r->next;
    if (r->cancelled) {
      unlink_req(r);
      destroy(r);
    }
  }
}

void sl_httpc_cancel(sl_httpc_req_t *r) {
  if (!r || r->cancelled) return;
  r->cancelled = 1;
  sl_httpc_t *h = r->h;
  if (h->in_curl || h->dispatching) return; // reaped by process()
  unlink_req(r);
  destroy(r);
}

static int set_tls(CURL *e, const sl_httpc_tls_t *t) {
  int rc = 0;
  if (t->ca_data && t->ca_len) {
    struct curl_blob b = {(void *)t->ca_data, t->ca_len, CURL_BLOB_COPY};
    rc |= curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
  }
  if (t->ca_file)
    rc |= curl_easy_setopt(e, CURLOPT_CAINFO, t->ca_file);
  else if (t->ca_data && t->ca_len)
    rc |= curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
  // A cluster CA replaces the system bundle rather than adding to it.
  if (t->ca_file || (t->ca_data && t->ca_len)) rc |= curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
  if (t->cert_data && t->cert_len) {
    struct curl_blob b = {(void *)t->cert_data, t->cert_len, CURL_BLOB_COPY};
    rc |= curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &b);
    rc |= curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
  } else if (t->cert_file) {
    rc |= curl_easy_setopt(e, CURLOPT_SSLCERT, t->cert_file);
  }
  if (t->key_data && t->key_len) {
    struct curl_blob b = {(void *)t->key_data, t->key_len, CURL_BLOB_COPY};
    rc |= curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &b);
    rc |= curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
  } else if (t->key_file) {
    rc |= curl_easy_setopt(e, CURLOPT_SSLKEY, t->key_file);
  }
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, t->insecure ? 0L : 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, t->insecure ? 0L : 2L);
  return rc;
}

sl_httpc_req_t *sl_httpc_start(sl_httpc_t *h, const sl_httpc_opts_t *o, sl_err_t *err) {
  if (!o || !o->url || !o->on_done) {
    sl_err(err, SL_EINVAL, "http request needs a URL and a done callback");
    return NULL;
  }
  const char *method = o->method ? o->method : "GET";
  sl_httpc_req_t *r = req_take(h);
  if (!r) goto oom;
  r->h = h;
  r->max = o->max_body ? o->max_body : DEFAULT_MAX_BODY;
  r->retry_after = -1;
  r->on_data = o->on_data;
  r->on_done = o->on_done;
  r->on_head = o->on_head;
  r->ud = o->ud;
  size_t wl = strlen(method) + strlen(o->url) + 2;
  if (wl > r->what_cap) {
    char *w = realloc(r->what, wl);
    if (!w) goto oom;
    r->what = w;
    r->what_cap = wl;
  }
  snprintf(r->what, wl, "%s %s", method, o->url);
  r->easy = h->n_pool ? h->pool[--h->n_pool] : curl_easy_init();
  if (!r->easy) goto oom;
  CURL *e = r->easy;
  int rc = 0;
  rc |= curl_easy_setopt(e, CURLOPT_URL, o->url);
  rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
  rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  rc |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  rc |= curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  rc |= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); // every encoding curl was built with
  rc |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);   // notices a silently dead watch peer
  rc |= curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
  rc |= curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
  rc |= curl_easy_setopt(e, CURLOPT_PROXY, o->proxy ? o->proxy : "");
  double ct = o->connect_timeout_s > 0 ? o->connect_timeout_s : DEFAULT_CONNECT_S;
  rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(ct * 1e3));
  if (o->timeout_s > 0) rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(o->timeout_s * 1e3));
  if (o->stall_s > 0) {
    rc |= curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)(o->stall_s + 0.999));
  }
  if (!strcmp(method, "HEAD")) {
    rc |= curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (strcmp(method, "GET")) {
    rc |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  }
  if (o->body || !strcmp(method, "POST")) {
    rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
    rc |= curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, o->body ? o->body : "");
  }
  rc |= set_tls(e, &o->tls);
  // No "Expect: 100-continue" round trip for bodies: the API server answers at once. A record
  // from the pool keeps its list when the headers are the same (a scraper's always are).
  if (!same_headers(r->hdrs, o->headers)) {
    curl_slist_free_all(r->hdrs);
    if (!(r->hdrs = curl_slist_append(NULL, "Expect:"))) goto oom;
    for (const char *const *hp = o->headers; hp && *hp; hp++) {
      struct curl_slist *l = curl_slist_append(r->hdrs, *hp);
      if (!l) goto oom;
      r->hdrs = l;
    }
  }
  rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
  if (rc) {
    sl_err(err, SL_EINVAL, "%s: libcurl rejected an option (TLS blobs need libcurl >= 7.77)",
           r->what);
    destroy(r);
    return NULL;
  }
  if (h->in_curl) {
    r->pending = 1; // curl refuses re-entry from its callbacks
  } else if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
    sl_err(err, SL_EIO, "%s: cannot start the transfer", r->what);
    destroy(r);
    return NULL;
  } else {
    r->attached = 1;
  }
  r->next = h->active;
  if (h->active) h->active->prev = r;
  h->active = r;
  h->n_active++;
  return r;
oom:
  sl_err(err, SL_ENOMEM, "out of memory");
  if (r) destroy(r);
  return NULL;
}

size_t sl_httpc_active(const sl_httpc_t *h) {
  size_t n = 0;
  for (const sl_httpc_req_t *r = h->active; r; r = r->next) n += !r->cancelled;
  return n;
}

void sl_httpc_set_max_connects(sl_httpc_t *h, long n) {
  curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, n > 0 ? n : 0L);
}

long sl_httpc_connects(const sl_httpc_t *h) {
  return h->connects;
}

// ---- lifetime ----------------------------------------------------------------------------------

sl_httpc_t *sl_httpc_new(uv_loop_t *loop, sl_err_t *err) {
  static int global_done;
  if (!global_done) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      sl_err(err, SL_EIO, "libcurl failed to initialise");
      return NULL;
    }
    global_done = 1;
  }
  sl_httpc_t *h = calloc(1, sizeof *h);
  if (!h || !(h->multi = curl_multi_init())) {
    free(h);
    sl_err(err, SL_ENOMEM, "out of memory");
    return NULL;
  }
  h->loop = loop;
  uv_timer_init(loop, &h->timer);
  h->timer.data = h;
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
  // HTTP/2 streams share one connection per host instead of a connection per watch.
  curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  return h;
}

static void httpc_closed(uv_handle_t *hd) {
  free(hd->data);
}

void sl_httpc_free(sl_httpc_t *h) {
  if (!h) return;
  while (h->active) {
    sl_httpc_req_t *r = h->active;
    unlink_req(r);
    destroy(r);
  }
  for (int i = 0; i < h->n_pool; i++) curl_easy_cleanup(h->pool[i]);
  h->n_pool = 0;
  while (h->free_reqs) {
    sl_httpc_req_t *r = h->free_reqs;
    h->free_reqs = r->next_free;
    req_release(r);
  }
  h->n_free = 0;
  curl_multi_cleanup(h->multi);
  while (h->socks) sock_close(h->socks);
  uv_timer_stop(&h->timer);
  uv_close((uv_handle_t *)&h->timer, httpc_closed);
}
