// HTTP serving on the caller's libuv loop: libmicrohttpd in external-event mode (its epoll fd
// polled by libuv, its timeouts on a uv_timer), no threads. Owns the listening socket, request
// parsing and body accumulation (with a size cap), a prefix router, replies, deferred replies
// and chunked streams whose connections are suspended while they have nothing to send.
//
// Lifetimes: a request handed to a handler lives until it is answered. A handler answers at
// once (sl_http_reply*), starts a stream (sl_http_stream_start), or defers (sl_http_defer) and
// answers later from the loop. A stream lives until its on_close callback has run; after that
// the owner must not touch it.
#pragma once

#include <stddef.h>
#include <uv.h>

#include "core/util/err.h"

typedef struct sl_http_server sl_http_server_t;
typedef struct sl_http_req sl_http_req_t;
typedef struct sl_http_stream sl_http_stream_t;

typedef struct {
  const char *host;          // bind address (default 127.0.0.1)
  int port;                  // 0: chosen by the OS (see sl_http_server_port)
  size_t max_body;           // bodies above this are answered 413 (default 8 MiB)
  size_t max_stream_pending; // bytes a stream may buffer for a slow reader (default 64 MiB)
  unsigned max_connections;  // default 4096
  unsigned idle_timeout_s;   // idle keep-alive connections are closed after this (default 300)
  unsigned probe_ms;         // how often parked connections are checked for a gone peer (1000)
  const char *tls_cert_pem;  // both set: serve HTTPS with this certificate and key
  const char *tls_key_pem;
} sl_http_opts_t;

typedef void (*sl_http_handler_fn)(void *ud, sl_http_req_t *req);

int sl_http_server_new(uv_loop_t *loop, const sl_http_opts_t *opts, sl_http_server_t **out,
                       sl_err_t *err);
// Stops listening and closes every connection (stream owners get on_close, deferred requests
// their gone callback, from inside this call). Memory is released once the loop has run the
// close callbacks of the server's handles.
void sl_http_server_free(sl_http_server_t *s);
int sl_http_server_port(const sl_http_server_t *s);
// Requests being served (including deferred ones) and open streams, for tests and /metrics.
void sl_http_server_stats(const sl_http_server_t *s, size_t *requests, size_t *streams);

// Routes requests whose path starts with prefix (method NULL: any method) to fn. The longest
// matching prefix wins; no match is answered 404.
int sl_http_route(sl_http_server_t *s, const char *method, const char *prefix,
                  sl_http_handler_fn fn, void *ud);

// ---- the request (valid until answered) -------------------------------------------------------

const char *sl_http_req_method(const sl_http_req_t *r);
// The path without the query string, percent-decoded.
const char *sl_http_req_path(const sl_http_req_t *r);
// A query parameter (decoded), "" for a bare "?key", NULL when absent.
const char *sl_http_req_query(const sl_http_req_t *r, const char *key);
// A request header (name case-insensitive), NULL when absent.
const char *sl_http_req_header(const sl_http_req_t *r, const char *name);
const char *sl_http_req_body(const sl_http_req_t *r, size_t *len);

// ---- answering ----------------------------------------------------------------------------------

// Adds a header to the coming reply or stream.
int sl_http_add_header(sl_http_req_t *r, const char *name, const char *value);
// Answers with a copy of body.
int sl_http_reply(sl_http_req_t *r, int status, const char *content_type, const char *body,
                  size_t len);
// Answers with a malloc'd body, which the server frees (also on failure).
int sl_http_reply_owned(sl_http_req_t *r, int status, const char *content_type, char *body,
                        size_t len);

// Keeps the request open past the handler; it is answered later with sl_http_reply* or
// sl_http_stream_start. `gone` runs instead when the client leaves or the server stops first.
typedef void (*sl_http_gone_fn)(void *ud);
int sl_http_defer(sl_http_req_t *r, sl_http_gone_fn gone, void *ud);

// ---- streams (chunked responses written from the loop) ------------------------------------------

typedef void (*sl_http_close_fn)(void *ud);
// Starts a chunked response. on_close runs once, when the connection is done with the stream
// (ended, cut, client gone, or server stopping). NULL when out of memory (the request is then
// answered 500).
sl_http_stream_t *sl_http_stream_start(sl_http_req_t *r, int status, const char *content_type,
                                       sl_http_close_fn on_close, void *ud);
// Queues bytes. SL_EBUDGET when the reader is so far behind that max_stream_pending would be
// passed (nothing is queued; the owner usually cuts the stream), SL_ESTATE after end or cut.
int sl_http_stream_write(sl_http_stream_t *st, const char *data, size_t len);
size_t sl_http_stream_pending(const sl_http_stream_t *st);
// Finishes the response once the queued bytes are sent.
void sl_http_stream_end(sl_http_stream_t *st);
// Sends the queued bytes, then closes the connection without the final chunk: the client sees
// a response cut short (a dropped watch).
void sl_http_stream_cut(sl_http_stream_t *st);
