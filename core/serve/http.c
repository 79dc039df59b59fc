// HTTP serving with libmicrohttpd on a libuv loop. See http.h.
//
// MHD runs in external-event mode with its own epoll set: libuv polls that set's fd and calls
// MHD_run when it is readable, and a uv_timer follows MHD_get_timeout. Every callback therefore
// runs on the loop thread. A connection with nothing to send (a deferred reply, an idle stream)
// is suspended; writing to it resumes it, which MHD signals through its ITC, itself in the
// epoll set, so the next MHD_run picks the connection up.
#include "core/serve/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/util/log.h"

#define DEFAULT_MAX_BODY    ((size_t)8 << 20)
#define DEFAULT_MAX_PENDING ((size_t)64 << 20)

typedef struct {
  char *key, *value;
} kv_t;

typedef struct {
  kv_t *v;
  size_t n, cap;
} kvs_t;

typedef struct {
  char *method; // NULL: any
  char *prefix;
  size_t plen;
  sl_http_handler_fn fn;
  void *ud;
} route_t;

struct sl_http_server {
  uv_loop_t *loop;
  struct MHD_Daemon *d;
  uv_poll_t poll;
  uv_timer_t timer, probe;
  int handles_open;
  int closing;
  int in_run, kicked;
  route_t *routes;
  size_t n_routes;
  size_t max_body, max_pending;
  unsigned probe_ms;
  int port;
  sl_http_req_t *parked; // suspended requests, for the probe and for shutdown
  size_t n_reqs, n_streams;
};

enum {
  R_RECEIVING,
  R_HANDLING, // inside the handler
  R_DEFERRED, // waiting for a reply from the loop
  R_READY,    // a response is pending, to be queued at the next access call
  R_QUEUED,   // the response is with MHD
};

struct sl_http_req {
  sl_http_server_t *srv;
  struct MHD_Connection *conn;
  char *method, *path;
  kvs_t headers, query, resp_headers;
  char *body;
  size_t body_len, body_cap;
  int too_big;
  int state;
  struct MHD_Response *pending;
  unsigned pending_status;
  sl_http_gone_fn gone;
  void *gone_ud;
  sl_http_stream_t *stream;
  int parked; // suspended by us
  int dead;   // the probe saw the peer leave
  sl_http_req_t *pnext, *pprev;
};

struct sl_http_stream {
  sl_http_server_t *srv;
  sl_http_req_t *req; // NULL once the request is over
  char *buf;
  size_t len, off, cap;
  int ended, cut, closed;
  sl_http_close_fn on_close;
  void *ud;
};

// ---- small helpers
// --------------------------------------------------------------------------------

static int kvs_add(kvs_t *k, const char *key, const char *value) {
  if (k->n == k->cap) {
    size_t cap = k->cap ? k->cap * 2 : 8;
    kv_t *v = realloc(k->v, cap * sizeof *v);
    if (!v) return SL_ENOMEM;
    k->v = v;
    k->cap = cap;
  }
  char *a = strdup(key), *b = strdup(value ? value : "");
  if (!a || !b) {
    free(a);
    free(b);
    return SL_ENOMEM;
  }
  k->v[k->n].key = a;
  k->v[k->n++].value = b;
  return SL_OK;
}

static void kvs_deinit(kvs_t *k) {
  for (size_t i = 0; i < k->n; i++) {
    free(k->v[i].key);
    free(k->v[i].value);
  }
  free(k->v);
  memset(k, 0, sizeof *k);
}

static void park(sl_http_req_t *r) {
  sl_http_server_t *s = r->srv;
  if (r->parked) return;
  MHD_suspend_connection(r->conn);
  r->parked = 1;
  r->pprev = NULL;
  r->pnext = s->parked;
  if (s->parked) s->parked->pprev = r;
  s->parked = r;
}

static void unpark(sl_http_req_t *r) {
  sl_http_server_t *s = r->srv;
  if (!r->parked) return;
  r->parked = 0;
  if (r->pprev)
    r->pprev->pnext = r->pnext;
  else
    s->parked = r->pnext;
  if (r->pnext) r->pnext->pprev = r->pprev;
  r->pnext = r->pprev = NULL;
  MHD_resume_connection(r->conn);
}

// ---- the MHD driver ---------------------------------------------------------------------------

static void run_mhd(sl_http_server_t *s);

static void on_timer(uv_timer_t *t) {
  run_mhd(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events) {
  run_mhd(p->data);
}

static void run_mhd(sl_http_server_t *s) {
  if (s->closing) return;
  s->in_run = 1;
  s->kicked = 0;
  MHD_run(s->d);
  s->in_run = 0;
  MHD_UNSIGNED_LONG_LONG ms;
  if (s->kicked)
    uv_timer_start(&s->timer, on_timer, 0, 0);
  else if (MHD_get_timeout(s->d, &ms) == MHD_YES)
    uv_timer_start(&s->timer, on_timer, ms, 0);
  else
    uv_timer_stop(&s->timer);
}

// A connection was resumed: MHD learns of it through its ITC, but running it on the next loop
// turn does not depend on that.
static void kick(sl_http_server_t *s) {
  if (s->closing) return;
  s->kicked = 1;
  if (!s->in_run) uv_timer_start(&s->timer, on_timer, 0, 0);
}

// Suspended connections do not notice a peer that hangs up, so they are peeked at now and
// then: a watch whose client left is closed instead of lingering until its next event.
static void on_probe(uv_timer_t *t) {
  sl_http_server_t *s = t->data;
  sl_http_req_t *next;
  int woke = 0;
  for (sl_http_req_t *r = s->parked; r; r = next) {
    next = r->pnext;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) continue;
    char c;
    ssize_t n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      r->dead = 1;
      unpark(r);
      woke = 1;
    }
  }
  if (woke) kick(s);
}

static void log_mhd(void *cls, const char *fmt, va_list ap) {
  char buf[512];
  vsnprintf(buf, sizeof buf, fmt, ap);
  size_t n = strlen(buf);
  while (n && buf[n - 1] == '\n') buf[--n] = '\0';
  sl_debug("http: %s", buf);
}

// ---- requests ---------------------------------------------------------------------------------

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value) {
  return kvs_add(cls, key, value) == 0 ? MHD_YES : MHD_NO;
}

static void req_free(sl_http_req_t *r) {
  if (r->pending) MHD_destroy_response(r->pending);
  kvs_deinit(&r->headers);
  kvs_deinit(&r->query);
  kvs_deinit(&r->resp_headers);
  free(r->method);
  free(r->path);
  free(r->body);
  r->srv->n_reqs--;
  free(r);
}

static sl_http_req_t *req_new(sl_http_server_t *s, struct MHD_Connection *c, const char *url,
                              const char *method) {
  sl_http_req_t *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->srv = s;
  r->conn = c;
  s->n_reqs++;
  r->method = strdup(method);
  r->path = strdup(url);
  if (!r->method || !r->path ||
      MHD_get_connection_values(c, MHD_HEADER_KIND, collect, &r->headers) < 0 ||
      MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect, &r->query) < 0) {
    req_free(r);
    return NULL;
  }
  return r;
}

static const char *kvs_get(const kvs_t *k, const char *key, int nocase) {
  for (size_t i = 0; i < k->n; i++)
    if (nocase ? !strcasecmp(k->v[i].key, key) : !strcmp(k->v[i].key, key)) return k->v[i].value;
  return NULL;
}

const char *sl_http_req_method(const sl_http_req_t *r) {
  return r->method;
}

const char *sl_http_req_path(const sl_http_req_t *r) {
  return r->path;
}

const char *sl_http_req_query(const sl_http_req_t *r, const char *key) {
  return kvs_get(&r->query, key, 0);
}

const char *sl_http_req_header(const sl_http_req_t *r, const char *name) {
  return kvs_get(&r->headers, name, 1);
}

const char *sl_http_req_body(const sl_http_req_t *r, size_t *len) {
  if (len) *len = r->body_len;
  return r->body ? r->body : "";
}

int sl_http_add_header(sl_http_req_t *r, const char *name, const char *value) {
  return kvs_add(&r->resp_headers, name, value);
}

// Hands a response to the request: queued when the access handler next runs (right after the
// handler returns, or after the parked connection is resumed).
static int set_pending(sl_http_req_t *r, struct MHD_Response *resp, int status) {
  if (r->state != R_HANDLING && r->state != R_DEFERRED) {
    MHD_destroy_response(resp);
    return SL_ESTATE;
  }
  for (size_t i = 0; i < r->resp_headers.n; i++)
    MHD_add_response_header(resp, r->resp_headers.v[i].key, r->resp_headers.v[i].value);
  r->pending = resp;
  r->pending_status = (unsigned)status;
  int was_deferred = r->state == R_DEFERRED;
  r->state = R_READY;
  if (was_deferred && r->parked && !r->srv->closing) {
    unpark(r);
    kick(r->srv);
  }
  return SL_OK;
}

int sl_http_reply_owned(sl_http_req_t *r, int status, const char *content_type, char *body,
                        size_t len) {
  if (!body) return sl_http_reply(r, status, content_type, "", 0);
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    free(body);
    return SL_ENOMEM;
  }
  if (content_type) MHD_add_response_header(resp, "Content-Type", content_type);
  return set_pending(r, resp, status);
}

int sl_http_reply(sl_http_req_t *r, int status, const char *content_type, const char *body,
                  size_t len) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
  if (!resp) return SL_ENOMEM;
  if (content_type) MHD_add_response_header(resp, "Content-Type", content_type);
  return set_pending(r, resp, status);
}

int sl_http_defer(sl_http_req_t *r, sl_http_gone_fn gone, void *ud) {
  if (r->state != R_HANDLING) return SL_ESTATE;
  r->state = R_DEFERRED;
  r->gone = gone;
  r->gone_ud = ud;
  return SL_OK;
}

// ---- streams ----------------------------------------------------------------------------------

static void stream_wake(sl_http_stream_t *st) {
  if (st->srv->closing || !st->req || !st->req->parked || st->req->state != R_QUEUED) return;
  unpark(st->req);
  kick(st->srv);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  sl_http_stream_t *st = cls;
  if (st->len > st->off) {
    size_t n = st->len - st->off;
    if (n > max) n = max;
    memcpy(buf, st->buf + st->off, n);
    st->off += n;
    if (st->off == st->len) st->off = st->len = 0;
    return (ssize_t)n;
  }
  if (st->cut || !st->req || st->req->dead || st->srv->closing)
    return MHD_CONTENT_READER_END_WITH_ERROR;
  if (st->ended) return MHD_CONTENT_READER_END_OF_STREAM;
  park(st->req);
  return 0;
}

static void stream_closed(sl_http_stream_t *st) {
  if (st->closed) return;
  st->closed = 1;
  st->srv->n_streams--;
  if (st->on_close) st->on_close(st->ud);
}

// MHD is done with the response: the one place a stream is released.
static void stream_free(void *cls) {
  sl_http_stream_t *st = cls;
  stream_closed(st);
  if (st->req) st->req->stream = NULL;
  free(st->buf);
  free(st);
}

sl_http_stream_t *sl_http_stream_start(sl_http_req_t *r, int status, const char *content_type,
                                       sl_http_close_fn on_close, void *ud) {
  if (r->state != R_HANDLING && r->state != R_DEFERRED) return NULL;
  sl_http_stream_t *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  st->srv = r->srv;
  st->req = r;
  struct MHD_Response *resp =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, st, stream_free);
  if (!resp) {
    free(st);
    return NULL;
  }
  r->srv->n_streams++;
  r->stream = st;
  if (content_type) MHD_add_response_header(resp, "Content-Type", content_type);
  set_pending(r, resp, status); // cannot fail: the state was checked above
  st->on_close = on_close;
  st->ud = ud;
  return st;
}

int sl_http_stream_write(sl_http_stream_t *st, const char *data, size_t len) {
  if (st->ended || st->cut || st->closed || !st->req) return SL_ESTATE;
  if (!len) return SL_OK;
  size_t live = st->len - st->off;
  if (live + len > st->srv->max_pending) return SL_EBUDGET;
  if (st->off && st->len + len > st->cap) {
    memmove(st->buf, st->buf + st->off, live);
    st->len = live;
    st->off = 0;
  }
  if (st->len + len > st->cap) {
    size_t cap = st->cap ? st->cap : 4096;
    while (cap < st->len + len) cap *= 2;
    char *b = realloc(st->buf, cap);
    if (!b) return SL_ENOMEM;
    st->buf = b;
    st->cap = cap;
  }
  memcpy(st->buf + st->len, data, len);
  st->len += len;
  stream_wake(st);
  return SL_OK;
}

size_t sl_http_stream_pending(const sl_http_stream_t *st) {
  return st->len - st->off;
}

void sl_http_stream_end(sl_http_stream_t *st) {
  if (st->ended || st->cut) return;
  st->ended = 1;
  stream_wake(st);
}

void sl_http_stream_cut(sl_http_stream_t *st) {
  if (st->ended || st->cut) return;
  st->cut = 1;
  stream_wake(st);
}

// ---- routing ----------------------------------------------------------------------------------

int sl_http_route(sl_http_server_t *s, const char *method, const char *prefix,
                  sl_http_handler_fn fn, void *ud) {
  route_t *rs = realloc(s->routes, (s->n_routes + 1) * sizeof *rs);
  if (!rs) return SL_ENOMEM;
  s->routes = rs;
  route_t *rt = &rs[s->n_routes];
  rt->method = method ? strdup(method) : NULL;
  rt->prefix = strdup(prefix);
  if ((method && !rt->method) || !rt->prefix) {
    free(rt->method);
    free(rt->prefix);
    return SL_ENOMEM;
  }
  rt->plen = strlen(prefix);
  rt->fn = fn;
  rt->ud = ud;
  s->n_routes++;
  return SL_OK;
}

static void dispatch(sl_http_server_t *s, sl_http_req_t *r) {
  const route_t *best = NULL;
  for (size_t i = 0; i < s->n_routes; i++) {
    const route_t *rt = &s->routes[i];
    if (rt->method && strcmp(rt->method, r->method)) continue;
    if (strncmp(r->path, rt->prefix, rt->plen)) continue;
    if (!best || rt->plen > best->plen) best = rt;
  }
  if (!best) {
    static const char msg[] = "404 page not found\n";
    sl_http_reply(r, 404, "text/plain; charset=utf-8", msg, sizeof msg - 1);
    return;
  }
  best->fn(best->ud, r);
}

static enum MHD_Result queue_pending(sl_http_req_t *r) {
  struct MHD_Response *resp = r->pending;
  r->pending = NULL;
  r->state = R_QUEUED;
  enum MHD_Result ok = MHD_queue_response(r->conn, r->pending_status, resp);
  MHD_destroy_response(resp);
  return ok;
}

static enum MHD_Result reply_now(sl_http_req_t *r, int status, const char *msg) {
  r->state = R_HANDLING;
  if (sl_http_reply(r, status, "text/plain; charset=utf-8", msg, strlen(msg)) < 0) return MHD_NO;
  return queue_pending(r);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls) {
  sl_http_server_t *s = cls;
  sl_http_req_t *r = *con_cls;
  if (!r) {
    if (!(r = req_new(s, c, url, method))) return MHD_NO;
    *con_cls = r;
    // A declared length over the cap is refused before the body is read.
    const char *cl = sl_http_req_header(r, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > s->max_body)
      return reply_now(r, 413, "request body too large\n");
    return MHD_YES;
  }
  if (*upload_size) {
    if (r->state == R_RECEIVING && !r->too_big) {
      size_t n = *upload_size;
      if (r->body_len + n > s->max_body) {
        // Keep reading (and dropping) so the 413 can still be sent on this connection.
        r->too_big = 1;
        free(r->body);
        r->body = NULL;
        r->body_len = r->body_cap = 0;
      } else {
        if (r->body_len + n + 1 > r->body_cap) {
          size_t cap = r->body_cap ? r->body_cap : 1024;
          while (cap < r->body_len + n + 1) cap *= 2;
          char *b = realloc(r->body, cap);
          if (!b) return MHD_NO;
          r->body = b;
          r->body_cap = cap;
        }
        memcpy(r->body + r->body_len, upload, n);
        r->body_len += n;
        r->body[r->body_len] = '\0';
      }
    }
    *upload_size = 0;
    return MHD_YES;
  }
  switch (r->state) {
  case R_RECEIVING:
    if (r->too_big) return reply_now(r, 413, "request body too large\n");
    if (s->closing) return MHD_NO;
    r->state = R_HANDLING;
    dispatch(s, r);
    if (r->state == R_READY) return queue_pending(r);
    if (r->state == R_DEFERRED) {
      park(r);
      return MHD_YES;
    }
    return reply_now(r, 500, "the handler did not answer\n");
  case R_READY:
    return queue_pending(r);
  case R_DEFERRED:
    // Resumed without a reply: the probe found the peer gone, or the server is stopping.
    return MHD_NO;
  default:
    return MHD_YES;
  }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  sl_http_req_t *r = *con_cls;
  if (!r) return;
  *con_cls = NULL;
  if (r->parked) {
    // MHD only completes a suspended request while stopping; keep the list consistent.
    r->parked = 0;
    sl_http_server_t *s = r->srv;
    if (r->pprev)
      r->pprev->pnext = r->pnext;
    else
      s->parked = r->pnext;
    if (r->pnext) r->pnext->pprev = r->pprev;
  }
  if (r->state == R_DEFERRED && r->gone) r->gone(r->gone_ud);
  if (r->stream) {
    r->stream->req = NULL;
    stream_closed(r->stream);
  }
  req_free(r);
}

// ---- the server -------------------------------------------------------------------------------

static void on_handle_closed(uv_handle_t *h) {
  sl_http_server_t *s = h->data;
  if (--s->handles_open > 0) return;
  for (size_t i = 0; i < s->n_routes; i++) {
    free(s->routes[i].method);
    free(s->routes[i].prefix);
  }
  free(s->routes);
  free(s);
}

int sl_http_server_new(uv_loop_t *loop, const sl_http_opts_t *opts, sl_http_server_t **out,
                       sl_err_t *err) {
  *out = NULL;
  sl_http_opts_t o = opts ? *opts : (sl_http_opts_t){0};
  if (o.port < 0 || o.port > 65535) return sl_err(err, SL_EINVAL, "port %d out of range", o.port);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)o.port);
  const char *host = o.host ? o.host : "127.0.0.1";
  if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
    return sl_err(err, SL_EINVAL, "bind address '%s' is not an IPv4 address", host);
  sl_http_server_t *s = calloc(1, sizeof *s);
  if (!s) return sl_err(err, SL_ENOMEM, "out of memory");
  s->loop = loop;
  s->max_body = o.max_body ? o.max_body : DEFAULT_MAX_BODY;
  s->max_pending = o.max_stream_pending ? o.max_stream_pending : DEFAULT_MAX_PENDING;
  s->probe_ms = o.probe_ms ? o.probe_ms : 1000;
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  int tls = o.tls_cert_pem && o.tls_key_pem;
  if (tls) flags |= MHD_USE_TLS;
  struct MHD_OptionItem tls_opts[] = {
      {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)o.tls_cert_pem},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)o.tls_key_pem},
      {MHD_OPTION_END, 0, NULL},
  };
  s->d = MHD_start_daemon(
      flags, 0, NULL, NULL, on_access, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)(o.max_connections ? o.max_connections : 4096), MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned)(o.idle_timeout_s ? o.idle_timeout_s : 300), MHD_OPTION_EXTERNAL_LOGGER, log_mhd,
      NULL, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_ARRAY, tls_opts,
      MHD_OPTION_END);
  if (!s->d) {
    free(s);
    return sl_err(err, SL_EIO, "cannot listen on %s:%d%s", host, o.port,
                  tls ? " (or the TLS certificate was refused)" : " (address in use?)");
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
  s->port = di ? di->port : o.port;
  di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
  int rc;
  if (!di || (rc = uv_poll_init(loop, &s->poll, di->epoll_fd)) < 0) {
    MHD_stop_daemon(s->d);
    free(s);
    return sl_err(err, SL_EIO, "cannot poll the HTTP server's event set");
  }
  s->poll.data = s;
  uv_timer_init(loop, &s->timer);
  s->timer.data = s;
  uv_timer_init(loop, &s->probe);
  s->probe.data = s;
  s->handles_open = 3;
  uv_poll_start(&s->poll, UV_READABLE, on_poll);
  uv_timer_start(&s->probe, on_probe, s->probe_ms, s->probe_ms);
  // Parked connections are checked by the probe; it must not keep the loop alive alone.
  uv_unref((uv_handle_t *)&s->probe);
  run_mhd(s);
  *out = s;
  return SL_OK;
}

int sl_http_server_port(const sl_http_server_t *s) {
  return s->port;
}

void sl_http_server_stats(const sl_http_server_t *s, size_t *requests, size_t *streams) {
  if (requests) *requests = s->n_reqs;
  if (streams) *streams = s->n_streams;
}

void sl_http_server_free(sl_http_server_t *s) {
  if (!s) return;
  s->closing = 1;
  // MHD must not be stopped with suspended connections: wake them all first.
  while (s->parked) unpark(s->parked);
  // The epoll fd is closed by MHD_stop_daemon; libuv must stop watching it before.
  uv_poll_stop(&s->poll);
  MHD_stop_daemon(s->d);
  s->d = NULL;
  uv_close((uv_handle_t *)&s->poll, on_handle_closed);
  uv_close((uv_handle_t *)&s->timer, on_handle_closed);
  uv_close((uv_handle_t *)&s->probe, on_handle_closed);
}
