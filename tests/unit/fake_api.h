// A scriptable HTTP server for the Kubernetes client tests: libmicrohttpd with a thread per
// connection, so a handler may block (stall), and a watch is a stream the test feeds byte by
// byte, ends cleanly, or drops mid-object. Every request is recorded (method, URL with its
// query, body, headers, and the time on the real and the test's virtual clock) for the test to
// assert on. Handlers run on server threads under the server's mutex; tests read shared state
// with fa_lock/fa_unlock. Header-only: each test binary includes it once.
#pragma once

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define FA_MAX_REQS 4096

typedef struct fa_stream {
  pthread_mutex_t *mu;
  pthread_cond_t *cv;
  char *buf;
  size_t len, off;
  int ended, dropped, opened, closed;
  int *stopping;
  struct fa_stream *next;
} fa_stream_t;

typedef struct {
  char method[16];
  char path[1024];
  char url[4096]; // path?query (decoded values, in the order received)
  char *body;
  size_t body_len;
  char auth[512];
  char content_type[128];
  char accept_encoding[128];
  char accept[256];
  char user_agent[128];
  double t_real, t_virt;
  int conn; // connection number (keep-alive shows as repeats)
} fa_req_t;

typedef struct {
  int status;      // 0 = 200
  char *body;      // malloc'd by fa_resp_body; freed by the server
  size_t body_len; // 0 = strlen(body)
  char headers[4][256];
  int n_headers;
  fa_stream_t *stream; // chunked body fed by the test
  int hang;            // block until the server stops (a peer that never answers)
} fa_resp_t;

typedef struct fake_api fake_api_t;
typedef void (*fa_handler_fn)(fake_api_t *f, const fa_req_t *req, fa_resp_t *resp, void *ud);

struct fake_api {
  struct MHD_Daemon *d;
  int port;
  char base[64]; // "http://127.0.0.1:PORT"
  pthread_mutex_t mu;
  pthread_cond_t cv;
  fa_handler_fn handler;
  void *ud;
  fa_req_t *reqs;
  int n_reqs;
  int stopping;
  fa_stream_t *streams;
  _Atomic double vnow; // the test's virtual clock, recorded with each request
  atomic_int conns;
  char *tls_cert, *tls_key;
};

typedef struct {
  char *buf;
  size_t len, cap;
} fa_upload_t;

static inline double fa_real_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void fa_lock(fake_api_t *f) {
  pthread_mutex_lock(&f->mu);
}
static inline void fa_unlock(fake_api_t *f) {
  pthread_mutex_unlock(&f->mu);
}

static inline void fa_resp_body(fa_resp_t *r, int status, const char *body) {
  r->status = status;
  free(r->body);
  r->body = strdup(body ? body : "");
}

static inline void fa_resp_header(fa_resp_t *r, const char *h) {
  if (r->n_headers < 4) snprintf(r->headers[r->n_headers++], sizeof r->headers[0], "%s", h);
}

// A Kubernetes Status body with the given code and reason.
static inline void fa_resp_status(fa_resp_t *r, int code, const char *reason, const char *msg) {
  char b[1024];
  snprintf(b, sizeof b,
           "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
           "\"message\":\"%s\",\"reason\":\"%s\",\"code\":%d}",
           msg, reason, code);
  fa_resp_body(r, code, b);
  fa_resp_header(r, "Content-Type: application/json");
}

// A stream for a response; owned by the server (freed with it). Call under fa_lock or not.
static inline fa_stream_t *fa_stream_new(fake_api_t *f) {
  fa_stream_t *s = calloc(1, sizeof *s);
  s->mu = &f->mu;
  s->cv = &f->cv;
  s->stopping = &f->stopping;
  s->next = f->streams;
  f->streams = s;
  return s;
}

// Caller holds fa_lock.
static inline void fa_stream_push_locked(fa_stream_t *s, const char *data, size_t n) {
  s->buf = realloc(s->buf, s->len + n + 1);
  memcpy(s->buf + s->len, data, n);
  s->len += n;
  pthread_cond_broadcast(s->cv);
}

static inline void fa_stream_push(fake_api_t *f, fa_stream_t *s, const char *data) {
  fa_lock(f);
  fa_stream_push_locked(s, data, strlen(data));
  fa_unlock(f);
}

// Ends the body cleanly once what was pushed is sent (drop = 0), or closes the connection
// abruptly once it is sent, without the terminating chunk (drop = 1).
static inline void fa_stream_end(fake_api_t *f, fa_stream_t *s, int drop) {
  fa_lock(f);
  if (drop)
    s->dropped = 1;
  else
    s->ended = 1;
  pthread_cond_broadcast(&f->cv);
  fa_unlock(f);
}

static inline int fa_stream_opened(fake_api_t *f, fa_stream_t *s) {
  fa_lock(f);
  int o = s->opened;
  fa_unlock(f);
  return o;
}

static inline int fa_stream_closed(fake_api_t *f, fa_stream_t *s) {
  fa_lock(f);
  int o = s->closed;
  fa_unlock(f);
  return o;
}

static ssize_t fa_reader(void *cls, uint64_t pos, char *buf, size_t max) {
  fa_stream_t *s = cls;
  pthread_mutex_lock(s->mu);
  s->opened = 1;
  ssize_t rc;
  for (;;) {
    if (s->off < s->len) {
      size_t n = s->len - s->off;
      if (n > max) n = max;
      memcpy(buf, s->buf + s->off, n);
      s->off += n;
      rc = (ssize_t)n;
      break;
    }
    if (s->dropped || *s->stopping) {
      rc = MHD_CONTENT_READER_END_WITH_ERROR;
      break;
    }
    if (s->ended) {
      rc = MHD_CONTENT_READER_END_OF_STREAM;
      break;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 20 * 1000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    pthread_cond_timedwait(s->cv, s->mu, &ts);
  }
  pthread_mutex_unlock(s->mu);
  return rc;
}

static void fa_reader_free(void *cls) {
  fa_stream_t *s = cls;
  pthread_mutex_lock(s->mu);
  s->closed = 1;
  pthread_cond_broadcast(s->cv);
  pthread_mutex_unlock(s->mu);
}

typedef struct {
  char *q;
  size_t len, cap;
} fa_qbuf_t;

static enum MHD_Result fa_arg(void *cls, enum MHD_ValueKind kind, const char *k, const char *v) {
  fa_qbuf_t *b = cls;
  char tmp[2048];
  int n = snprintf(tmp, sizeof tmp, "%s%s=%s", b->len ? "&" : "", k, v ? v : "");
  if (n < 0 || (size_t)n >= sizeof tmp) return MHD_YES;
  if (b->len + (size_t)n + 1 > b->cap) return MHD_YES;
  memcpy(b->q + b->len, tmp, (size_t)n + 1);
  b->len += (size_t)n;
  return MHD_YES;
}

static void fa_conn_cb(void *cls, struct MHD_Connection *c, void **socket_context,
                       enum MHD_ConnectionNotificationCode toe) {
  fake_api_t *f = cls;
  if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
    int *id = malloc(sizeof *id);
    *id = atomic_fetch_add(&f->conns, 1) + 1;
    *socket_context = id;
  } else {
    free(*socket_context);
  }
}

static enum MHD_Result fa_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls) {
  fake_api_t *f = cls;
  fa_upload_t *up = *con_cls;
  if (!up) {
    *con_cls = calloc(1, sizeof *up);
    return MHD_YES;
  }
  if (*upload_size) {
    if (up->len + *upload_size + 1 > up->cap) {
      up->cap = (up->len + *upload_size + 1) * 2;
      up->buf = realloc(up->buf, up->cap);
    }
    memcpy(up->buf + up->len, upload, *upload_size);
    up->len += *upload_size;
    up->buf[up->len] = '\0';
    *upload_size = 0;
    return MHD_YES;
  }
  fa_req_t rq = {0};
  snprintf(rq.method, sizeof rq.method, "%s", method);
  snprintf(rq.path, sizeof rq.path, "%s", url);
  char q[3000] = {0};
  fa_qbuf_t qb = {q, 0, sizeof q};
  MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, fa_arg, &qb);
  snprintf(rq.url, sizeof rq.url, "%s%s%s", url, qb.len ? "?" : "", q);
  const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  snprintf(rq.auth, sizeof rq.auth, "%s", a ? a : "");
  const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
  snprintf(rq.content_type, sizeof rq.content_type, "%s", ct ? ct : "");
  const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
  snprintf(rq.accept_encoding, sizeof rq.accept_encoding, "%s", ae ? ae : "");
  const char *ac = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
  snprintf(rq.accept, sizeof rq.accept, "%s", ac ? ac : "");
  const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
  snprintf(rq.user_agent, sizeof rq.user_agent, "%s", ua ? ua : "");
  rq.body = up->buf ? up->buf : strdup("");
  rq.body_len = up->len;
  up->buf = NULL;
  rq.t_real = fa_real_now();
  rq.t_virt = atomic_load(&f->vnow);
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  rq.conn = ci && ci->socket_context ? *(int *)ci->socket_context : 0;

  fa_resp_t resp = {0};
  pthread_mutex_lock(&f->mu);
  if (f->n_reqs < FA_MAX_REQS) {
    f->reqs[f->n_reqs] = rq;
    f->reqs[f->n_reqs].body = strdup(rq.body);
    f->n_reqs++;
  }
  if (f->handler) f->handler(f, &rq, &resp, f->ud);
  pthread_cond_broadcast(&f->cv);
  if (resp.hang) {
    while (!f->stopping) pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
    free(rq.body);
    free(resp.body);
    free(up);
    *con_cls = NULL;
    return MHD_NO;
  }
  pthread_mutex_unlock(&f->mu);
  free(rq.body);
  free(up);
  *con_cls = NULL;

  struct MHD_Response *r;
  if (resp.stream) {
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, fa_reader, resp.stream,
                                          fa_reader_free);
  } else {
    const char *b = resp.body ? resp.body : "";
    size_t bl = resp.body_len ? resp.body_len : strlen(b);
    r = MHD_create_response_from_buffer(bl, (void *)b, MHD_RESPMEM_MUST_COPY);
  }
  free(resp.body);
  int has_ct = 0;
  for (int i = 0; i < resp.n_headers; i++) {
    char *colon = strchr(resp.headers[i], ':');
    if (!colon) continue;
    *colon = '\0';
    const char *v = colon + 1;
    while (*v == ' ') v++;
    if (!strcasecmp(resp.headers[i], "Content-Type")) has_ct = 1;
    MHD_add_response_header(r, resp.headers[i], v);
  }
  if (!has_ct) MHD_add_response_header(r, "Content-Type", "application/json");
  enum MHD_Result ok = MHD_queue_response(c, resp.status ? (unsigned)resp.status : 200, r);
  MHD_destroy_response(r);
  return ok;
}

static void fa_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  fa_upload_t *up = *con_cls;
  if (up) {
    free(up->buf);
    free(up);
    *con_cls = NULL;
  }
}

// Starts a server on 127.0.0.1 (an ephemeral port). With cert/key PEM (NUL-terminated), TLS.
static inline fake_api_t *fa_start_tls(fa_handler_fn h, void *ud, const char *cert_pem,
                                       const char *key_pem) {
  fake_api_t *f = calloc(1, sizeof *f);
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  f->handler = h;
  f->ud = ud;
  f->reqs = calloc(FA_MAX_REQS, sizeof *f->reqs);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
  if (cert_pem) {
    f->tls_cert = strdup(cert_pem);
    f->tls_key = strdup(key_pem);
    f->d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, fa_access, f, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, fa_completed, f,
                            MHD_OPTION_NOTIFY_CONNECTION, fa_conn_cb, f, MHD_OPTION_HTTPS_MEM_CERT,
                            f->tls_cert, MHD_OPTION_HTTPS_MEM_KEY, f->tls_key, MHD_OPTION_END);
  } else {
    f->d = MHD_start_daemon(flags, 0, NULL, NULL, fa_access, f, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, fa_completed, f,
                            MHD_OPTION_NOTIFY_CONNECTION, fa_conn_cb, f, MHD_OPTION_END);
  }
  if (!f->d) {
    free(f->reqs);
    free(f->tls_cert);
    free(f->tls_key);
    free(f);
    return NULL;
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(f->d, MHD_DAEMON_INFO_BIND_PORT);
  f->port = di ? di->port : 0;
  snprintf(f->base, sizeof f->base, "%s://127.0.0.1:%d", cert_pem ? "https" : "http", f->port);
  return f;
}

static inline fake_api_t *fa_start(fa_handler_fn h, void *ud) {
  return fa_start_tls(h, ud, NULL, NULL);
}

static inline void fa_stop(fake_api_t *f) {
  if (!f) return;
  pthread_mutex_lock(&f->mu);
  f->stopping = 1;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
  MHD_stop_daemon(f->d);
  for (int i = 0; i < f->n_reqs; i++) free(f->reqs[i].body);
  free(f->reqs);
  while (f->streams) {
    fa_stream_t *s = f->streams;
    f->streams = s->next;
    free(s->buf);
    free(s);
  }
  pthread_cond_destroy(&f->cv);
  pthread_mutex_destroy(&f->mu);
  free(f->tls_cert);
  free(f->tls_key);
  free(f);
}

static inline int fa_count(fake_api_t *f) {
  fa_lock(f);
  int n = f->n_reqs;
  fa_unlock(f);
  return n;
}

// A copy of request i (body borrowed from the server; valid until fa_stop).
static inline fa_req_t fa_get(fake_api_t *f, int i) {
  fa_lock(f);
  fa_req_t r = f->reqs[i];
  fa_unlock(f);
  return r;
}

// Requests so far whose method matches and whose URL contains `needle` (NULL: any).
static inline int fa_count_match(fake_api_t *f, const char *method, const char *needle) {
  fa_lock(f);
  int n = 0;
  for (int i = 0; i < f->n_reqs; i++)
    if ((!method || !strcmp(f->reqs[i].method, method)) &&
        (!needle || strstr(f->reqs[i].url, needle)))
      n++;
  fa_unlock(f);
  return n;
}

// ---- driving the client's loop --------------------------------------------------------------

#include <uv.h>

#include "core/util/sched.h"

typedef int (*fa_cond_fn)(void *ud);

static void fa_tick(uv_timer_t *t) {
  (void)t;
}

// Runs the loop until cond(ud) holds, at most `turns` turns of about 2 ms each (a bound that
// keeps a broken test from hanging, not a timing assertion). Returns whether cond held.
static inline int fa_pump_s(uv_loop_t *loop, sl_sched_t *manual, fa_cond_fn cond, void *ud,
                            int turns) {
  uv_timer_t tick;
  uv_timer_init(loop, &tick);
  uv_timer_start(&tick, fa_tick, 2, 2);
  int ok = 0;
  for (int i = 0; i < turns; i++) {
    if (cond && cond(ud)) {
      ok = 1;
      break;
    }
    uv_run(loop, UV_RUN_ONCE);
    if (manual) sl_sched_advance(manual, 0); // timers due now (a manual clock does not move)
  }
  if (!ok && cond && cond(ud)) ok = 1;
  uv_timer_stop(&tick);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return ok;
}

static inline int fa_pump(uv_loop_t *loop, fa_cond_fn cond, void *ud, int turns) {
  return fa_pump_s(loop, NULL, cond, ud, turns);
}

// Moves a manual clock (and the time the server records) forward.
static inline void fa_advance(fake_api_t *f, sl_sched_t *s, double dt) {
  sl_sched_advance(s, dt);
  if (f) atomic_store(&f->vnow, sl_sched_now(s));
}
