// The HTTP server through real sockets: libcurl clients on a thread while the server's loop runs
// on the main thread. Plain replies, query and headers, the body cap (declared and chunked),
// deferred replies, streams that park and resume, a stream cut short, a client that leaves
// mid-stream, and a clean shutdown with a stream still open.
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

#include "core/serve/http.h"
#include "tests/unit/tap.h"

typedef struct {
  uv_loop_t *loop;
  sl_http_server_t *srv;
  uv_async_t done;
  int port;
  // server-side observations
  int closes, gones;
  sl_http_stream_t *slow; // the stream the "later" timer writes to
  uv_timer_t later;
  sl_http_req_t *deferred;
  uv_timer_t defer_timer;
  sl_http_stream_t *forever;
  int forever_closed;
  int open_streams_seen; // streams open while a parked stream waited
} srv_t;

// ---- server side ------------------------------------------------------------------------------

static void h_hello(void *ud, sl_http_req_t *r) {
  char buf[256];
  const char *q = sl_http_req_query(r, "name");
  const char *h = sl_http_req_header(r, "x-test");
  int n =
      snprintf(buf, sizeof buf, "hello %s %s %s", q ? q : "-", h ? h : "-", sl_http_req_method(r));
  sl_http_add_header(r, "X-Served-By", "test");
  sl_http_reply(r, 200, "text/plain", buf, (size_t)n);
}

static void h_echo(void *ud, sl_http_req_t *r) {
  size_t len;
  const char *b = sl_http_req_body(r, &len);
  sl_http_reply(r, 201, "application/octet-stream", b, len);
}

static void on_stream_close(void *ud) {
  srv_t *s = ud;
  s->closes++;
}

static void later_cb(uv_timer_t *t) {
  srv_t *s = t->data;
  size_t reqs, streams;
  sl_http_server_stats(s->srv, &reqs, &streams);
  s->open_streams_seen = (int)streams;
  sl_http_stream_write(s->slow, "second\n", 7);
  sl_http_stream_end(s->slow);
}

static void h_stream(void *ud, sl_http_req_t *r) {
  srv_t *s = ud;
  s->slow = sl_http_stream_start(r, 200, "text/plain", on_stream_close, s);
  sl_http_stream_write(s->slow, "first\n", 6);
  // Nothing more for a while: the connection parks until the timer writes again.
  uv_timer_start(&s->later, later_cb, 100, 0);
}

static void h_cut(void *ud, sl_http_req_t *r) {
  srv_t *s = ud;
  sl_http_stream_t *st = sl_http_stream_start(r, 200, "application/json", on_stream_close, s);
  sl_http_stream_write(st, "{\"type\":\"ADDED\",\"obj", 20);
  sl_http_stream_cut(st);
}

static void on_forever_close(void *ud) {
  srv_t *s = ud;
  s->forever_closed = 1;
  s->forever = NULL;
}

static void h_forever(void *ud, sl_http_req_t *r) {
  srv_t *s = ud;
  s->forever = sl_http_stream_start(r, 200, "text/plain", on_forever_close, s);
  sl_http_stream_write(s->forever, "tick\n", 5);
}

static void defer_cb(uv_timer_t *t) {
  srv_t *s = t->data;
  sl_http_reply(s->deferred, 202, "text/plain", "later", 5);
  s->deferred = NULL;
}

static void on_gone(void *ud) {
  srv_t *s = ud;
  s->gones++;
}

static void h_defer(void *ud, sl_http_req_t *r) {
  srv_t *s = ud;
  sl_http_defer(r, on_gone, s);
  s->deferred = r;
  uv_timer_start(&s->defer_timer, defer_cb, 50, 0);
}

static void h_nothing(void *ud, sl_http_req_t *r) {}

static void h_defer_forever(void *ud, sl_http_req_t *r) {
  sl_http_defer(r, on_gone, ud);
}

static void on_done(uv_async_t *a) {
  srv_t *s = a->data;
  uv_timer_stop(&s->later);
  sl_http_server_free(s->srv);
  s->srv = NULL;
  uv_close((uv_handle_t *)&s->done, NULL);
  uv_close((uv_handle_t *)&s->later, NULL);
  uv_close((uv_handle_t *)&s->defer_timer, NULL);
}

// ---- client side ------------------------------------------------------------------------------

typedef struct {
  char *buf;
  size_t len;
  size_t limit; // abort after this many bytes (0: never)
} body_t;

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  body_t *b = ud;
  size_t k = size * n;
  b->buf = realloc(b->buf, b->len + k + 1);
  memcpy(b->buf + b->len, p, k);
  b->len += k;
  b->buf[b->len] = '\0';
  if (b->limit && b->len >= b->limit) return 0;
  return k;
}

typedef struct {
  long status;
  CURLcode rc;
  body_t body;
  char served_by[64];
} resp_t;

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  resp_t *r = ud;
  if (!strncasecmp(p, "X-Served-By: ", 13)) sscanf(p + 13, "%63s", r->served_by);
  return size * n;
}

typedef struct {
  const char *data;
  size_t len, off;
} upload_t;

static size_t on_read(char *p, size_t size, size_t n, void *ud) {
  upload_t *u = ud;
  size_t k = size * n;
  if (k > u->len - u->off) k = u->len - u->off;
  memcpy(p, u->data + u->off, k);
  u->off += k;
  return k;
}

static resp_t request(int port, const char *method, const char *path, const char *body,
                      size_t body_len, int chunked, size_t limit) {
  resp_t r = {0};
  r.body.limit = limit;
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  CURL *c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  struct curl_slist *hs = curl_slist_append(NULL, "X-Test: yes");
  hs = curl_slist_append(hs, "Expect:");
  upload_t up = {body, body_len, 0};
  if (body && chunked) {
    hs = curl_slist_append(hs, "Transfer-Encoding: chunked");
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
  } else if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
  r.rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(hs);
  curl_easy_cleanup(c);
  return r;
}

static void *client(void *ud) {
  srv_t *s = ud;
  int port = s->port;

  resp_t r = request(port, "GET", "/hello/x?name=a%20b+c", NULL, 0, 0, 0);
  T_EQ_INT(r.status, 200, "GET answered 200");
  T_OK(r.body.buf && !strcmp(r.body.buf, "hello a b c yes GET"),
       "handler saw the decoded query, a header and the method (got %s)", r.body.buf);
  T_OK(!strcmp(r.served_by, "test"), "extra reply header sent");
  free(r.body.buf);

  r = request(port, "GET", "/nowhere", NULL, 0, 0, 0);
  T_EQ_INT(r.status, 404, "unrouted path is 404");
  free(r.body.buf);

  r = request(port, "PUT", "/echo", "x", 1, 0, 0);
  T_EQ_INT(r.status, 404, "route bound to POST does not take PUT");
  free(r.body.buf);

  char big[3000];
  memset(big, 'z', sizeof big);
  r = request(port, "POST", "/echo", big, 1000, 0, 0);
  T_EQ_INT(r.status, 201, "body under the cap is accepted");
  T_EQ_INT(r.body.len, 1000, "whole body reached the handler");
  free(r.body.buf);

  r = request(port, "POST", "/echo", big, sizeof big, 0, 0);
  T_EQ_INT(r.status, 413, "declared body over the cap is 413");
  free(r.body.buf);

  r = request(port, "POST", "/echo", big, sizeof big, 1, 0);
  T_EQ_INT(r.status, 413, "chunked body over the cap is 413");
  free(r.body.buf);

  r = request(port, "POST", "/echo", big, 500, 1, 0);
  T_EQ_INT(r.status, 201, "chunked body under the cap is accepted");
  T_EQ_INT(r.body.len, 500, "chunked body reached the handler whole");
  free(r.body.buf);

  r = request(port, "GET", "/stream", NULL, 0, 0, 0);
  T_EQ_INT(r.status, 200, "stream answered 200");
  T_OK(r.body.buf && !strcmp(r.body.buf, "first\nsecond\n"),
       "both writes arrived, before and after the connection parked (got %s)", r.body.buf);
  T_OK(r.rc == CURLE_OK, "stream ended cleanly");
  free(r.body.buf);

  r = request(port, "GET", "/defer", NULL, 0, 0, 0);
  T_EQ_INT(r.status, 202, "deferred reply sent from the loop");
  T_OK(r.body.buf && !strcmp(r.body.buf, "later"), "deferred body");
  free(r.body.buf);

  r = request(port, "GET", "/cut", NULL, 0, 0, 0);
  T_OK(r.rc != CURLE_OK, "a cut stream is an error for the client (curl: %s)",
       curl_easy_strerror(r.rc));
  T_OK(r.body.buf && !strncmp(r.body.buf, "{\"type\":\"ADDED\",\"obj", 20),
       "bytes before the cut were delivered");
  free(r.body.buf);

  r = request(port, "GET", "/nothing", NULL, 0, 0, 0);
  T_EQ_INT(r.status, 500, "a handler that does not answer gives 500");
  free(r.body.buf);

  // A client that reads the first chunk and leaves: the parked stream must be closed.
  r = request(port, "GET", "/forever", NULL, 0, 0, 5);
  T_OK(r.body.buf && !strcmp(r.body.buf, "tick\n"), "first chunk of the endless stream");
  free(r.body.buf);
  int closed = 0;
  for (int i = 0; i < 400 && !closed; i++) {
    __atomic_load(&s->forever_closed, &closed, __ATOMIC_SEQ_CST);
    if (!closed) usleep(10000);
  }
  T_OK(closed, "the stream of a client that left was closed");

  // A deferred request whose client gives up: the owner hears it is gone.
  {
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/defer-forever", port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 200L);
    T_OK(curl_easy_perform(c) == CURLE_OPERATION_TIMEDOUT, "never-answered request times out");
    curl_easy_cleanup(c);
    int gones = 0;
    for (int i = 0; i < 400 && !gones; i++) {
      __atomic_load(&s->gones, &gones, __ATOMIC_SEQ_CST);
      if (!gones) usleep(10000);
    }
    T_EQ_INT(gones, 1, "gone ran for the deferred request whose client left");
  }

  // Another endless stream left open: shutdown must close it.
  r = request(port, "GET", "/forever", NULL, 0, 0, 5);
  free(r.body.buf);
  uv_async_send(&s->done);
  return NULL;
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  uv_loop_t loop;
  uv_loop_init(&loop);
  srv_t s = {0};
  s.loop = &loop;
  sl_err_t err = {0};
  sl_http_opts_t o = {.port = 0, .max_body = 2048, .probe_ms = 20};
  T_OK(sl_http_server_new(&loop, &o, &s.srv, &err) == 0, "server starts (%s)", err.msg);
  s.port = sl_http_server_port(s.srv);
  T_OK(s.port > 0, "OS-chosen port reported (%d)", s.port);
  sl_http_opts_t bad = {.host = "not-an-ip"};
  sl_http_server_t *nope = NULL;
  T_OK(sl_http_server_new(&loop, &bad, &nope, &err) == SL_EINVAL && !nope,
       "bad bind address refused");
  T_STR_HAS(err.msg, "not-an-ip", "error names the address");

  sl_http_route(s.srv, "GET", "/hello", h_hello, &s);
  sl_http_route(s.srv, "POST", "/echo", h_echo, &s);
  sl_http_route(s.srv, "GET", "/stream", h_stream, &s);
  sl_http_route(s.srv, "GET", "/cut", h_cut, &s);
  sl_http_route(s.srv, "GET", "/defer", h_defer, &s);
  sl_http_route(s.srv, "GET", "/forever", h_forever, &s);
  sl_http_route(s.srv, NULL, "/nothing", h_nothing, &s);
  sl_http_route(s.srv, "GET", "/defer-forever", h_defer_forever, &s);
  uv_async_init(&loop, &s.done, on_done);
  s.done.data = &s;
  uv_timer_init(&loop, &s.later);
  s.later.data = &s;
  uv_timer_init(&loop, &s.defer_timer);
  s.defer_timer.data = &s;

  pthread_t th;
  pthread_create(&th, NULL, client, &s);
  uv_run(&loop, UV_RUN_DEFAULT);
  pthread_join(th, NULL);

  T_EQ_INT(s.open_streams_seen, 1, "the parked stream counted as open while it waited");
  T_OK(s.closes >= 2, "on_close ran for the ended and the cut streams (%d)", s.closes);
  T_EQ_INT(s.gones, 1, "an answered deferred request never reports gone");
  T_OK(s.forever == NULL, "shutdown closed the stream left open");
  T_EQ_INT(uv_loop_close(&loop), 0, "every handle closed");
  curl_global_cleanup();
  return tap_done();
}
