// The libuv-driven HTTP client against fake servers: buffered and streamed bodies, methods and
// headers, keep-alive, gzip, size caps, timeouts, Retry-After, cancellation (also from inside a
// callback), refused connections, and TLS: a CA from a file or from memory, a server signed by
// another CA refused, insecure only when asked, a client certificate from memory.
#include <stdlib.h>
#include <string.h>

#include "core/util/httpc.h"
#include "tests/unit/certs.h"
#include "tests/unit/fake_api.h"
#include "tests/unit/tap.h"

typedef struct {
  int done, rc, curl_code;
  long status;
  char body[8192];
  size_t body_len;
  char ctype[128];
  double retry_after;
  char error[1024];
  char streamed[8192];
  size_t n_streamed;
  int data_calls;
  int cancel_in_data;
  sl_httpc_req_t *self;
} result_t;

static void on_done(void *ud, const sl_httpc_resp_t *r) {
  result_t *res = ud;
  res->done++;
  res->rc = r->rc;
  res->curl_code = r->curl_code;
  res->status = r->status;
  res->body_len = r->body_len;
  snprintf(res->body, sizeof res->body, "%s", r->body);
  snprintf(res->ctype, sizeof res->ctype, "%s", r->content_type);
  res->retry_after = r->retry_after;
  snprintf(res->error, sizeof res->error, "%s", r->error);
}

static int on_data(void *ud, long status, const char *buf, size_t len) {
  result_t *res = ud;
  res->data_calls++;
  if (res->n_streamed + len < sizeof res->streamed) {
    memcpy(res->streamed + res->n_streamed, buf, len);
    res->n_streamed += len;
    res->streamed[res->n_streamed] = '\0';
  }
  if (res->cancel_in_data) sl_httpc_cancel(res->self);
  return 0;
}

static int is_done(void *ud) {
  return ((result_t *)ud)->done > 0;
}

static int got_part(void *ud) {
  return ((result_t *)ud)->n_streamed >= 15;
}

static int called(void *ud) {
  return ((result_t *)ud)->data_calls > 0;
}

typedef struct {
  fa_stream_t *stream;
  char gz[4096];
  size_t gz_len;
} server_t;

static void handler(fake_api_t *f, const fa_req_t *rq, fa_resp_t *resp, void *ud) {
  server_t *s = ud;
  if (!strcmp(rq->path, "/hello")) {
    fa_resp_body(resp, 200, "{\"hello\":\"world\"}");
  } else if (!strcmp(rq->path, "/echo")) {
    char b[4096];
    snprintf(b, sizeof b, "%s %s %s", rq->method, rq->content_type, rq->body);
    fa_resp_body(resp, 201, b);
    fa_resp_header(resp, "Content-Type: text/plain");
  } else if (!strcmp(rq->path, "/busy")) {
    fa_resp_status(resp, 429, "TooManyRequests", "slow down");
    fa_resp_header(resp, "Retry-After: 7");
  } else if (!strcmp(rq->path, "/big")) {
    char *b = malloc(100001);
    memset(b, 'x', 100000);
    b[100000] = '\0';
    fa_resp_body(resp, 200, b);
    free(b);
  } else if (!strcmp(rq->path, "/empty")) {
    fa_resp_body(resp, 200, "");
  } else if (!strcmp(rq->path, "/hang")) {
    resp->hang = 1;
  } else if (!strcmp(rq->path, "/stream")) {
    resp->stream = s->stream;
  } else if (!strcmp(rq->path, "/gone")) {
    fa_resp_status(resp, 410, "Expired", "too old resource version");
  } else if (!strcmp(rq->path, "/gzip")) {
    resp->body = malloc(s->gz_len);
    memcpy(resp->body, s->gz, s->gz_len);
    resp->body_len = s->gz_len;
    fa_resp_header(resp, "Content-Encoding: gzip");
  } else {
    fa_resp_status(resp, 404, "NotFound", "no such path");
  }
}

static sl_httpc_req_t *get(sl_httpc_t *h, const char *url, result_t *res, sl_httpc_opts_t *extra) {
  sl_httpc_opts_t o = extra ? *extra : (sl_httpc_opts_t){0};
  o.url = url;
  o.on_done = on_done;
  o.ud = res;
  sl_err_t err = {0};
  sl_httpc_req_t *r = sl_httpc_start(h, &o, &err);
  if (!r) printf("# start failed: %s\n", err.msg);
  return r;
}

static void test_plain(uv_loop_t *loop, sl_httpc_t *h, fake_api_t *f, server_t *srv) {
  char url[256];
  result_t a = {0}, b = {0};
  snprintf(url, sizeof url, "%s/hello", f->base);
  get(h, url, &a, NULL);
  T_OK(fa_pump(loop, is_done, &a, 5000), "GET completes");
  T_EQ_INT(a.rc, SL_OK, "GET rc");
  T_EQ_INT(a.status, 200, "GET status");
  T_OK(!strcmp(a.body, "{\"hello\":\"world\"}"), "GET body buffered whole");
  T_OK(!strcmp(a.ctype, "application/json"), "Content-Type handed back");
  T_OK(a.retry_after < 0, "no Retry-After is -1");
  get(h, url, &b, NULL);
  T_OK(fa_pump(loop, is_done, &b, 5000), "second GET completes");
  int n = fa_count(f);
  T_OK(n >= 2 && fa_get(f, n - 1).conn == fa_get(f, n - 2).conn,
       "the second request reuses the first one's connection");
  T_EQ_INT(sl_httpc_connects(h), 1, "one connection opened for two requests");
  T_OK(strstr(fa_get(f, n - 1).accept_encoding, "gzip") != NULL, "gzip offered");

  const char *methods[] = {"POST", "PUT", "PATCH", "DELETE"};
  for (int i = 0; i < 4; i++) {
    result_t r = {0};
    snprintf(url, sizeof url, "%s/echo", f->base);
    const char *hdrs[] = {"Content-Type: application/merge-patch+json", NULL};
    sl_httpc_opts_t o = {
        .method = methods[i], .headers = hdrs, .body = "{\"spec\":{}}", .body_len = 11};
    get(h, url, &r, &o);
    fa_pump(loop, is_done, &r, 5000);
    char want[256];
    snprintf(want, sizeof want, "%s application/merge-patch+json {\"spec\":{}}", methods[i]);
    T_OK(r.status == 201 && !strcmp(r.body, want), "%s sends its body and headers (%s)", methods[i],
         r.body);
  }

  // Request records are reused: each request still sends its own headers, and an empty body
  // after a full one reads as empty.
  const char *types[] = {"text/a", "text/b", "text/b", NULL};
  for (int i = 0; i < 4; i++) {
    result_t r = {0};
    snprintf(url, sizeof url, "%s/echo", f->base);
    char hdr[64];
    snprintf(hdr, sizeof hdr, "Content-Type: %s", types[i] ? types[i] : "");
    const char *hdrs[] = {hdr, NULL};
    sl_httpc_opts_t o = {
        .method = "PUT", .headers = types[i] ? hdrs : NULL, .body = "x", .body_len = 1};
    get(h, url, &r, &o);
    fa_pump(loop, is_done, &r, 5000);
    char want[128];
    snprintf(want, sizeof want, "PUT %s x",
             types[i] ? types[i] : "application/x-www-form-urlencoded");
    T_OK(!strcmp(r.body, want), "pooled records: request %d sends its own headers (%s)", i, r.body);
  }
  result_t full = {0}, empty = {0};
  snprintf(url, sizeof url, "%s/hello", f->base);
  get(h, url, &full, NULL);
  fa_pump(loop, is_done, &full, 5000);
  snprintf(url, sizeof url, "%s/empty", f->base);
  get(h, url, &empty, NULL);
  fa_pump(loop, is_done, &empty, 5000);
  T_OK(empty.status == 200 && empty.body_len == 0 && !strcmp(empty.body, ""),
       "pooled records: an empty body after a full one is empty (%zu: %s)", empty.body_len,
       empty.body);

  result_t z = {0};
  snprintf(url, sizeof url, "%s/gzip", f->base);
  get(h, url, &z, NULL);
  fa_pump(loop, is_done, &z, 5000);
  T_OK(z.rc == SL_OK && !strcmp(z.body, "compressed hello\n"), "gzip body decoded (%s)", z.body);
  (void)srv;
}

static void test_limits(uv_loop_t *loop, sl_httpc_t *h, fake_api_t *f) {
  char url[256];
  result_t r = {0};
  snprintf(url, sizeof url, "%s/busy", f->base);
  get(h, url, &r, NULL);
  fa_pump(loop, is_done, &r, 5000);
  T_EQ_INT(r.status, 429, "429 status handed back");
  T_NEAR(r.retry_after, 7, 0, "Retry-After parsed");
  T_STR_HAS(r.body, "TooManyRequests", "error body buffered");

  result_t big = {0};
  snprintf(url, sizeof url, "%s/big", f->base);
  sl_httpc_opts_t o = {.max_body = 1000};
  get(h, url, &big, &o);
  fa_pump(loop, is_done, &big, 5000);
  T_EQ_INT(big.rc, SL_ERANGE, "a body over the cap is refused");
  T_STR_HAS(big.error, "larger than 1000 bytes", "cap error says why");
  T_STR_HAS(big.error, "/big", "cap error names the URL");

  result_t slow = {0};
  snprintf(url, sizeof url, "%s/hang", f->base);
  o = (sl_httpc_opts_t){.timeout_s = 0.3};
  get(h, url, &slow, &o);
  T_OK(fa_pump(loop, is_done, &slow, 5000), "a server that never answers times out");
  T_EQ_INT(slow.rc, SL_EIO, "timeout is an I/O error");
  T_STR_HAS(slow.error, "GET http://127.0.0.1", "timeout error names method and URL");

  result_t stall = {0};
  o = (sl_httpc_opts_t){.stall_s = 1};
  get(h, url, &stall, &o);
  T_OK(fa_pump(loop, is_done, &stall, 5000), "a stalled transfer is cut by stall_s");
  T_EQ_INT(stall.rc, SL_EIO, "stall is an I/O error");

  result_t c = {0};
  sl_httpc_req_t *rq = get(h, url, &c, NULL);
  fa_pump(loop, NULL, NULL, 20);
  sl_httpc_cancel(rq);
  T_EQ_INT(sl_httpc_active(h), 0, "cancelled request is gone");
  fa_pump(loop, NULL, NULL, 20);
  T_EQ_INT(c.done, 0, "cancelled request never calls back");

  result_t refused = {0};
  int port = certs_free_port();
  snprintf(url, sizeof url, "http://127.0.0.1:%d/x", port);
  get(h, url, &refused, NULL);
  fa_pump(loop, is_done, &refused, 5000);
  T_EQ_INT(refused.rc, SL_EIO, "connection refused is an I/O error");
  T_EQ_INT(refused.status, 0, "no status without a response");
  T_STR_HAS(refused.error, url, "refusal names the URL");

  sl_err_t err = {0};
  sl_httpc_opts_t bad = {0};
  T_OK(sl_httpc_start(h, &bad, &err) == NULL && err.code == SL_EINVAL, "no URL is refused");
}

static void test_stream(uv_loop_t *loop, sl_httpc_t *h, fake_api_t *f, server_t *srv) {
  char url[256];
  snprintf(url, sizeof url, "%s/stream", f->base);
  srv->stream = fa_stream_new(f);
  result_t r = {0};
  sl_httpc_opts_t o = {.on_data = on_data};
  get(h, url, &r, &o);
  fa_stream_push(f, srv->stream, "{\"type\":\"ADDED\"");
  T_OK(fa_pump(loop, got_part, &r, 5000), "streamed bytes arrive before the body ends");
  T_EQ_INT(r.done, 0, "the transfer is still open");
  fa_stream_push(f, srv->stream, "}\n");
  fa_stream_end(f, srv->stream, 0);
  fa_pump(loop, is_done, &r, 5000);
  T_OK(r.rc == SL_OK && !strcmp(r.streamed, "{\"type\":\"ADDED\"}\n"), "whole stream delivered");
  T_EQ_INT(r.body_len, 0, "streamed bytes are not also buffered");

  // A dropped stream: the bytes so far are delivered, then a transport error.
  srv->stream = fa_stream_new(f);
  result_t d = {0};
  get(h, url, &d, &o);
  fa_stream_push(f, srv->stream, "{\"type\":\"ADD");
  fa_stream_end(f, srv->stream, 1);
  fa_pump(loop, is_done, &d, 5000);
  T_EQ_INT(d.rc, SL_EIO, "a dropped stream ends with an I/O error");

  // Non-2xx on a streaming request: buffered for the done callback, not streamed.
  result_t g = {0};
  snprintf(url, sizeof url, "%s/gone", f->base);
  get(h, url, &g, &o);
  fa_pump(loop, is_done, &g, 5000);
  T_EQ_INT(g.status, 410, "410 on a stream");
  T_EQ_INT(g.data_calls, 0, "error body not streamed");
  T_STR_HAS(g.body, "Expired", "error body buffered");

  // Cancelled from inside its own data callback.
  snprintf(url, sizeof url, "%s/stream", f->base);
  srv->stream = fa_stream_new(f);
  result_t c = {0};
  c.cancel_in_data = 1;
  c.self = get(h, url, &c, &o);
  fa_stream_push(f, srv->stream, "abc");
  fa_pump(loop, called, &c, 5000);
  fa_pump(loop, NULL, NULL, 20);
  T_EQ_INT(c.done, 0, "cancel inside the data callback: no done callback");
  T_EQ_INT(sl_httpc_active(h), 0, "and the request is gone");
}

static void test_tls(uv_loop_t *loop, sl_httpc_t *h) {
  certs_t c;
  if (certs_make(&c) < 0) {
    T_OK(0, "openssl CLI makes test certificates");
    return;
  }
  char *cert = certs_slurp(c.srv, NULL), *key = certs_slurp(c.srv_key, NULL);
  size_t ca_len;
  char *ca = certs_slurp(c.ca, &ca_len);
  fake_api_t *f = fa_start_tls(handler, NULL, cert, key);
  T_OK(f != NULL, "TLS fake server starts (MHD with TLS: %d)",
       MHD_is_feature_supported(MHD_FEATURE_TLS));
  if (f) {
    char url[256];
    snprintf(url, sizeof url, "%s/hello", f->base);
    result_t a = {0}, b = {0}, bad = {0}, ins = {0}, none = {0};
    sl_httpc_opts_t o = {.tls = {.ca_file = c.ca}};
    get(h, url, &a, &o);
    fa_pump(loop, is_done, &a, 5000);
    T_OK(a.rc == SL_OK && a.status == 200, "CA file: verified (%s)", a.error);
    o = (sl_httpc_opts_t){.tls = {.ca_data = ca, .ca_len = ca_len}};
    get(h, url, &b, &o);
    fa_pump(loop, is_done, &b, 5000);
    T_OK(b.rc == SL_OK && b.status == 200, "CA in memory: verified (%s)", b.error);
    o = (sl_httpc_opts_t){.tls = {.ca_file = c.other_ca}};
    get(h, url, &bad, &o);
    fa_pump(loop, is_done, &bad, 5000);
    T_EQ_INT(bad.rc, SL_EIO, "a server signed by another CA is refused");
    T_EQ_INT(bad.status, 0, "no response read from it");
    T_STR_HAS(bad.error, "certificate", "the refusal says it is the certificate");
    T_STR_HAS(bad.error, url, "and names the URL");
    get(h, url, &none, NULL);
    fa_pump(loop, is_done, &none, 5000);
    T_EQ_INT(none.rc, SL_EIO, "verification is on by default (system CAs do not know it)");
    o = (sl_httpc_opts_t){.tls = {.insecure = 1}};
    get(h, url, &ins, &o);
    fa_pump(loop, is_done, &ins, 5000);
    T_OK(ins.rc == SL_OK && ins.status == 200, "insecure skips verification when asked");
    fa_stop(f);
  }

  int port = certs_free_port();
  pid_t pid = certs_s_server(&c, port);
  T_OK(pid > 0 && certs_port_open(port), "openssl s_server demanding client certs starts");
  if (pid > 0) {
    char url[256];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", port);
    size_t cl, kl;
    char *cli = certs_slurp(c.cli, &cl), *cli_key = certs_slurp(c.cli_key, &kl);
    result_t with = {0}, without = {0};
    sl_httpc_opts_t o = {.timeout_s = 10,
                         .tls = {.ca_data = ca,
                                 .ca_len = ca_len,
                                 .cert_data = cli,
                                 .cert_len = cl,
                                 .key_data = cli_key,
                                 .key_len = kl}};
    get(h, url, &with, &o);
    fa_pump(loop, is_done, &with, 5000);
    T_OK(with.rc == SL_OK && with.status == 200, "client certificate from memory accepted (%s)",
         with.error);
    o = (sl_httpc_opts_t){.timeout_s = 10, .tls = {.ca_data = ca, .ca_len = ca_len}};
    get(h, url, &without, &o);
    fa_pump(loop, is_done, &without, 5000);
    T_OK(without.rc != SL_OK || without.status != 200, "no client certificate: refused");
    free(cli);
    free(cli_key);
    certs_s_server_stop(pid);
  }
  free(cert);
  free(key);
  free(ca);
  certs_remove(&c);
}

int main(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  sl_err_t err = {0};
  sl_httpc_t *h = sl_httpc_new(&loop, &err);
  T_OK(h != NULL, "client created");
  server_t srv = {0};
  FILE *p = popen("printf 'compressed hello\\n' | gzip -c", "r");
  if (p) {
    srv.gz_len = fread(srv.gz, 1, sizeof srv.gz, p);
    pclose(p);
  }
  fake_api_t *f = fa_start(handler, &srv);
  T_OK(f != NULL, "fake server starts");
  test_plain(&loop, h, f, &srv);
  test_limits(&loop, h, f);
  test_stream(&loop, h, f, &srv);
  test_tls(&loop, h);
  sl_httpc_free(h);
  uv_run(&loop, UV_RUN_DEFAULT);
  fa_stop(f);
  T_EQ_INT(uv_loop_close(&loop), 0, "every handle closed");
  return tap_done();
}
