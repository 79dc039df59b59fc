// Asynchronous HTTP client: libcurl's multi-socket API driven by libuv on the caller's loop
// (uv_poll per socket, one uv_timer for curl's timeouts), so no request blocks the loop and no
// thread is spawned. One sl_httpc_t per loop shares curl's connection cache, DNS cache and TLS
// sessions across requests (keep-alive); easy handles are recycled. It serves the Kubernetes
// client (requests and watch streams) and the metric scraper.
#pragma once

#include <stddef.h>
#include <uv.h>

#include "core/util/err.h"

typedef struct sl_httpc sl_httpc_t;
typedef struct sl_httpc_req sl_httpc_req_t;

// TLS material. Files are paths; *_data are PEM bytes held in memory (a kubeconfig's
// certificate-authority-data, decoded). Verification is on unless `insecure` is set.
typedef struct {
  const char *ca_file;
  const char *ca_data;
  size_t ca_len;
  const char *cert_file;
  const char *cert_data;
  size_t cert_len;
  const char *key_file;
  const char *key_data;
  size_t key_len;
  int insecure; // skip peer and host verification: only when configuration asks for it
} sl_httpc_tls_t;

// What a finished request hands back. Valid during the callback only.
typedef struct {
  int rc;           // SL_OK, SL_EIO (transport/timeout), SL_ERANGE (body over max_body),
                    // SL_ESTATE (the data callback stopped it)
  int curl_code;    // CURLcode
  long status;      // HTTP status, 0 when no response arrived
  const char *body; // buffered body (NUL-terminated), "" when streamed or empty
  size_t body_len;
  const char *content_type; // "" when absent
  double retry_after;       // Retry-After in seconds (delta or HTTP date), -1 when absent
  const char *error;        // "GET https://...: <what failed>", "" when rc == SL_OK
  double total_s;           // time the transfer took
} sl_httpc_resp_t;

// Streamed bytes of a 2xx response as they arrive. Return 0 to go on; non-zero stops the
// transfer (the done callback then reports SL_ESTATE). Non-2xx bodies are buffered instead, so
// the done callback can read the error (a Kubernetes Status) with `body`.
typedef int (*sl_httpc_data_fn)(void *ud, long status, const char *buf, size_t len);
typedef void (*sl_httpc_done_fn)(void *ud, const sl_httpc_resp_t *resp);
// The response's status line and headers have all arrived (1xx interim responses skipped).
typedef void (*sl_httpc_head_fn)(void *ud, long status);

typedef struct {
  const char *method; // NULL = GET
  const char *url;
  const char *const *headers; // NULL-terminated "Name: value" list, or NULL
  const char *body;           // copied
  size_t body_len;
  double timeout_s;         // whole transfer; 0 = none (watches bound themselves)
  double connect_timeout_s; // 0 = 10 s
  double stall_s;           // abort when no byte arrives for this long; 0 = never
  size_t max_body;          // buffered body cap; 0 = 16 MiB
  const char *proxy;        // NULL = none (environment proxies are ignored)
  sl_httpc_tls_t tls;
  sl_httpc_data_fn on_data; // streaming (2xx); NULL = buffered
  sl_httpc_head_fn on_head; // optional
  sl_httpc_done_fn on_done; // required; called exactly once unless cancelled
  void *ud;
} sl_httpc_opts_t;

sl_httpc_t *sl_httpc_new(uv_loop_t *loop, sl_err_t *err);
// Cancels every request without calling back and closes the handles; memory is released when
// they have closed, so run the loop once more after this.
void sl_httpc_free(sl_httpc_t *h);

// Starts a request. Everything in opts is copied. Returns the request (valid until its done
// callback returns or it is cancelled) or NULL with err.
sl_httpc_req_t *sl_httpc_start(sl_httpc_t *h, const sl_httpc_opts_t *opts, sl_err_t *err);
// Cancels a request: its callbacks are not called after this. Safe from inside callbacks.
void sl_httpc_cancel(sl_httpc_req_t *r);
// Idle connections kept open for reuse. curl's default keeps four per request in flight, which
// is plenty for one API server but closes most connections of a scraper that talks to thousands
// of hosts one at a time; the scraper sets this to its number of targets.
void sl_httpc_set_max_connects(sl_httpc_t *h, long n);
// Requests started and not yet finished or cancelled.
size_t sl_httpc_active(const sl_httpc_t *h);
// Connections opened so far (to tell keep-alive reuse apart from reconnects).
long sl_httpc_connects(const sl_httpc_t *h);
