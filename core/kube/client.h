// Requests against the Kubernetes API, asynchronously on the caller's loop: JSON in and out,
// Bearer or client-certificate auth from a sl_kube_config_t, typed errors from Status objects,
// a client-side token bucket (QPS and burst), 429 retried after Retry-After, 5xx and connection
// failures retried with exponential backoff and jitter when the request is idempotent, and a
// re-read of the token file on 401. Watches go through the same path as streams.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/kube/config.h"
#include "core/util/err.h"
#include "core/util/httpc.h"
#include "core/util/json.h"
#include "core/util/sched.h"

// What went wrong, from the Status object's reason (or the HTTP code when there is none).
typedef enum {
  SL_KUBE_OK = 0,
  SL_KUBE_TRANSPORT,          // no HTTP response: connect, TLS, timeout, reset
  SL_KUBE_BAD_REQUEST,        // 400
  SL_KUBE_UNAUTHORIZED,       // 401
  SL_KUBE_FORBIDDEN,          // 403
  SL_KUBE_NOT_FOUND,          // 404
  SL_KUBE_METHOD_NOT_ALLOWED, // 405
  SL_KUBE_CONFLICT,           // 409 Conflict: stale resourceVersion
  SL_KUBE_ALREADY_EXISTS,     // 409 AlreadyExists: create of an existing name
  SL_KUBE_GONE,               // 410 Gone / Expired: resourceVersion or continue token too old
  SL_KUBE_TOO_LARGE,          // 413
  SL_KUBE_UNSUPPORTED_MEDIA,  // 415
  SL_KUBE_INVALID,            // 422
  SL_KUBE_TOO_MANY_REQUESTS,  // 429
  SL_KUBE_INTERNAL,           // 500
  SL_KUBE_UNAVAILABLE,        // 503
  SL_KUBE_TIMEOUT,            // 504, ServerTimeout, Timeout
  SL_KUBE_OTHER,              // any other non-2xx
  SL_KUBE_BAD_RESPONSE,       // a 2xx whose body is not JSON (or over the size cap)
} sl_kube_reason_t;

const char *sl_kube_reason_name(sl_kube_reason_t r);

typedef struct {
  int rc; // SL_OK; SL_ENOTFOUND (404); SL_ESTATE (409); SL_EINVAL (400, 422);
          // SL_EPARSE (bad body); SL_EIO (anything else)
  sl_kube_reason_t reason;
  long status;         // HTTP status, 0 without a response
  const char *message; // "" on success; else "PATCH /apis/...: 409 Conflict: <Status.message>"
  sl_json_t *body;     // parsed 2xx body (NULL when empty or streamed). Freed after the
                       // callback unless the callee takes it by setting it to NULL.
  const char *raw;     // the body as received
  size_t raw_len;
  double retry_after; // seconds the server asked to wait, -1 when it did not
  int attempts;       // requests sent for this call
} sl_kube_result_t;

typedef void (*sl_kube_done_fn)(void *ud, sl_kube_result_t *res);

typedef struct {
  const char *method;       // NULL = GET
  const char *path;         // "/api/v1/namespaces/llm/pods?labelSelector=app%3Dvllm" (escaped)
  const char *body;         // JSON text (copied), or NULL
  size_t body_len;          // 0 = strlen(body)
  const char *content_type; // NULL = application/json; PATCH defaults to merge-patch+json
  int idempotent;           // -1 = by method (GET, HEAD, PUT, DELETE), 0 = no, 1 = yes
  int no_retry;             // report the first failure as is (callers with their own loop)
  double timeout_s;         // 0 = the client's default
  double stall_s;           // abort a stream that is silent this long (0 = never)
  size_t max_body;          // buffered body cap (0 = the client's default)
  sl_httpc_data_fn on_data; // stream a 2xx body (a watch); implies no_retry and no parse
  sl_httpc_head_fn on_head; // optional: the response's headers arrived (called with data_ud)
  void *data_ud;
} sl_kube_req_t;

typedef struct {
  double qps;            // client-side rate limit: sustained requests per second (default 20;
                         // negative: no limit)
  int burst;             // and the bucket size (default 30)
  int max_retries;       // retries per call (default 10, client-go's Retry-After limit)
  double backoff_base_s; // first retry delay before jitter (default 0.25 s)
  double backoff_max_s;  // cap (default 8 s)
  double timeout_s;      // per request (default 30 s)
  size_t max_body;       // buffered response cap (default 64 MiB: a 500-item list page)
  uint64_t seed;         // jitter stream (0 = from the clock)
} sl_kube_client_opts_t;

typedef struct sl_kube_client sl_kube_client_t;
typedef struct sl_kube_call sl_kube_call_t;

// `cfg` is moved into the client (zeroed on success). `http` and `sched` are borrowed and must
// outlive it.
sl_kube_client_t *sl_kube_client_new(sl_httpc_t *http, sl_sched_t *sched, sl_kube_config_t *cfg,
                                     const sl_kube_client_opts_t *opts, sl_err_t *err);
// Cancels outstanding calls without calling back.
void sl_kube_client_free(sl_kube_client_t *c);
sl_kube_config_t *sl_kube_client_config(sl_kube_client_t *c);
sl_sched_t *sl_kube_client_sched(sl_kube_client_t *c);

// Starts a call; `done` runs exactly once, later (never inside this function), unless the call
// is cancelled. Returns the call (valid until done returns) or NULL with err.
sl_kube_call_t *sl_kube_client_call(sl_kube_client_t *c, const sl_kube_req_t *req,
                                    sl_kube_done_fn done, void *ud, sl_err_t *err);
// No callback after this. Not from inside the call's own done callback.
void sl_kube_call_cancel(sl_kube_call_t *call);

typedef struct {
  long calls, sent, retries, throttled; // throttled: requests the rate limit delayed
  double throttled_s;                   // total delay it imposed
} sl_kube_client_stats_t;
void sl_kube_client_stats(const sl_kube_client_t *c, sl_kube_client_stats_t *out);

// ---- paths -------------------------------------------------------------------------------------

// "/api/v1[/namespaces/NS]/RESOURCE[/NAME[/SUB]]" for the core group (group "" or NULL), else
// "/apis/GROUP/VERSION/...". Empty or NULL parts are left out. Returns the length or -1 when it
// does not fit.
int sl_kube_path(char *buf, size_t n, const char *group, const char *version, const char *ns,
                 const char *resource, const char *name, const char *sub);
// Percent-encodes s for a query value (RFC 3986 unreserved characters kept). Returns the length
// or -1 when it does not fit.
int sl_kube_escape(char *buf, size_t n, const char *s);
// RFC 3339 with microseconds (MicroTime), UTC: "2025-06-01T12:00:00.123456Z". buf >= 32 bytes.
void sl_kube_time_format(double wall, int micro, char *buf, size_t n);
