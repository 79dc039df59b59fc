// The REPL server: a unix socket on the controller's libuv loop that `sluice repl` connects to
// (docs/repl.md). The socket is created 0600 (the umask is narrowed around bind, so it never
// exists with a wider mode) and every connection's peer is checked with SO_PEERCRED: only the
// controller's own uid, and root, may connect. Many clients at once; each line runs to the end
// before the next one (of any client) starts, one per loop iteration, so ticks go on between
// lines. A line longer than SL_REPL_LINE_MAX ends its connection; a client that does not read
// its replies stops being read once SL_REPL_QUEUE_MAX bytes wait for it.
#pragma once

#include <uv.h>

#include "core/runtime/controller.h"

// Replies waiting for one client, past which the server reads nothing more from it.
#define SL_REPL_QUEUE_MAX   ((size_t)1 << 20)
#define SL_REPL_MAX_CLIENTS 16

struct sl_scraper;
struct sl_prom;

typedef struct sl_repl_server sl_repl_server_t;

// Listens on `path` for the controller: NULL is the default path (sockpath.h), where a failure
// is only a warning and *out stays NULL; "" or "off" is no socket (*out NULL, 0); anything else
// must work or the call fails. Adds the REPL's observer to the controller, so call it before the
// controller runs. A stale socket file left by a dead controller is replaced; a live one is not.
int sl_repl_server_open(sl_repl_server_t **out, sl_controller_t *c, uv_loop_t *loop,
                        const char *path, sl_err_t *err);
// Points the server at another controller (cluster mode builds a new one when the variants
// change): what it recorded of the old one goes, its observer moves to the new one.
int sl_repl_server_attach(sl_repl_server_t *s, sl_controller_t *c, sl_err_t *err);
// The scraper and the Prometheus source `targets` reports on (either may be NULL), borrowed for
// the server's life.
void sl_repl_server_set_sources(sl_repl_server_t *s, const struct sl_scraper *scraper,
                                const struct sl_prom *prom);
// Closes every connection and the socket and removes the socket file, running the loop until
// its handles are closed; after the controller has stopped and before uv_loop_close. The
// server's handles do not keep the loop alive, so the controller stopping ends the run.
void sl_repl_server_free(sl_repl_server_t *s);
