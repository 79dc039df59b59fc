// The REPL server. See server.h.
#include "core/repl/server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/repl/cmds.h"
#include "core/repl/proto.h"
#include "core/repl/record.h"
#include "core/repl/sockpath.h"
#include "core/util/log.h"
#include "core/util/str.h"

typedef struct conn {
  uv_pipe_t pipe;
  sl_repl_server_t *srv;
  struct conn *prev, *next; // every connection
  struct conn *rnext;       // the queue of connections with a line to run
  int queued, reading, closing, close_when_sent;
  int eof; // the client shut down its side: answer what it sent, then close
  sl_repl_proto_lines_t in;
} conn_t;

typedef struct {
  uv_write_t req;
  conn_t *conn;
  size_t len;
  char data[];
} wreq_t;

struct sl_repl_server {
  sl_controller_t *c;
  uv_loop_t *loop;
  uv_pipe_t listen;
  uv_idle_t idle;
  int have_listen, have_idle;
  int open_handles; // handles not yet closed (the socket, the idle handle, the connections)
  sl_repl_record_t rec;
  char *path;
  dev_t dev; // the socket file we made, so we remove only that one
  ino_t ino;
  conn_t *conns;
  int nconns;
  conn_t *ready, *ready_tail;
  char readbuf[64 << 10];
};

// ---- writing ------------------------------------------------------------------------------------

static void conn_close(conn_t *k);
static void conn_wake(conn_t *k);

static size_t queued_bytes(conn_t *k) {
  return uv_stream_get_write_queue_size((uv_stream_t *)&k->pipe);
}

static void on_written(uv_write_t *req, int status) {
  wreq_t *w = (wreq_t *)req;
  conn_t *k = w->conn;
  free(w);
  if (k->closing) return;
  if (status < 0) {
    conn_close(k);
    return;
  }
  if (k->close_when_sent && queued_bytes(k) == 0) {
    conn_close(k);
    return;
  }
  // A client that was not reading its replies may have caught up.
  if (queued_bytes(k) < SL_REPL_QUEUE_MAX) conn_wake(k);
}

static void conn_send(conn_t *k, const char *data, size_t len) {
  if (k->closing) return;
  wreq_t *w = malloc(sizeof *w + len);
  if (!w) {
    conn_close(k);
    return;
  }
  w->conn = k;
  w->len = len;
  memcpy(w->data, data, len);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
  int rc = uv_write(&w->req, (uv_stream_t *)&k->pipe, &b, 1, on_written);
  if (rc < 0) {
    free(w);
    conn_close(k);
  }
}

static void conn_reply(conn_t *k, sl_repl_reply_t *r) {
  sl_json_buf_t b = {0};
  if (sl_repl_proto_write_reply(&b, r) < 0) {
    sl_json_buf_deinit(&b);
    conn_close(k);
    return;
  }
  conn_send(k, b.buf, b.len);
  sl_json_buf_deinit(&b);
}

// Answers with an error and ends the connection once the answer is out.
static void conn_refuse(conn_t *k, const char *why) {
  sl_repl_reply_t r = {0};
  r.error = (char *)why;
  k->close_when_sent = 1;
  conn_reply(k, &r);
}

// ---- connections --------------------------------------------------------------------------------

static void on_closed(uv_handle_t *h) {
  conn_t *k = h->data;
  k->srv->open_handles--;
  sl_repl_proto_lines_deinit(&k->in);
  free(k);
}

static void unqueue(conn_t *k) {
  sl_repl_server_t *s = k->srv;
  if (!k->queued) return;
  conn_t **pp = &s->ready, *prev = NULL;
  while (*pp && *pp != k) prev = *pp, pp = &(*pp)->rnext;
  if (*pp) *pp = k->rnext;
  if (s->ready_tail == k) s->ready_tail = prev;
  k->rnext = NULL;
  k->queued = 0;
}

static void conn_close(conn_t *k) {
  if (k->closing) return;
  sl_repl_server_t *s = k->srv;
  k->closing = 1;
  unqueue(k);
  if (k->prev)
    k->prev->next = k->next;
  else
    s->conns = k->next;
  if (k->next) k->next->prev = k->prev;
  s->nconns--;
  uv_close((uv_handle_t *)&k->pipe, on_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  conn_t *k = h->data;
  *buf = uv_buf_init(k->srv->readbuf, sizeof k->srv->readbuf);
}

static void on_idle(uv_idle_t *idle);

static void enqueue(conn_t *k) {
  sl_repl_server_t *s = k->srv;
  if (k->queued || k->closing) return;
  k->queued = 1;
  k->rnext = NULL;
  if (s->ready_tail)
    s->ready_tail->rnext = k;
  else
    s->ready = k;
  s->ready_tail = k;
  uv_idle_start(&s->idle, on_idle);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  conn_t *k = st->data;
  if (nread == 0) return;
  if (nread == UV_EOF) {
    // The client is done sending (`printf ... | socat`): its complete lines still get answers;
    // a half-sent line dies with the connection.
    uv_read_stop(st);
    k->reading = 0;
    k->eof = 1;
    conn_wake(k);
    return;
  }
  if (nread < 0) {
    conn_close(k);
    return;
  }
  if (sl_repl_proto_lines_feed(&k->in, buf->base, (size_t)nread) < 0) {
    conn_close(k);
    return;
  }
  // A complete line (or one already too long to be one): stop reading until it has been run,
  // so a client that floods holds at most one read's worth of bytes here.
  if (memchr(buf->base, '\n', (size_t)nread) || sl_repl_proto_lines_pending(&k->in) >= k->in.max) {
    uv_read_stop(st);
    k->reading = 0;
    enqueue(k);
  }
}

// Reads again, or queues the next line already received, unless replies are piling up.
static void conn_wake(conn_t *k) {
  if (k->closing || k->queued || k->close_when_sent) return;
  if (queued_bytes(k) >= SL_REPL_QUEUE_MAX) return;
  const char *nl =
      memchr(k->in.buf ? k->in.buf + k->in.start : "", '\n', sl_repl_proto_lines_pending(&k->in));
  if (nl || sl_repl_proto_lines_pending(&k->in) >= k->in.max) {
    enqueue(k);
    return;
  }
  if (k->eof) {
    k->close_when_sent = 1;
    if (queued_bytes(k) == 0) conn_close(k);
    return;
  }
  if (!k->reading && uv_read_start((uv_stream_t *)&k->pipe, on_alloc, on_read) == 0) k->reading = 1;
}

// ---- requests -----------------------------------------------------------------------------------

static void run_request(conn_t *k, const char *line, size_t len) {
  sl_repl_server_t *s = k->srv;
  sl_repl_req_t req;
  sl_repl_reply_t r = {0};
  sl_err_t err = {0};
  if (sl_repl_proto_parse_request(line, len, &req, &err) < 0) {
    char msg[SL_ERR_MAX + 32];
    snprintf(msg, sizeof msg, "bad request: %s", err.msg);
    r.error = msg;
    conn_reply(k, &r);
    return;
  }
  r.has_id = req.has_id;
  r.id = req.id;
  sl_json_buf_t out = {0};
  char **matches = NULL, *none[1] = {NULL};
  size_t nmatches = 0;
  if (req.op == SL_REPL_OP_COMPLETE) {
    r.ok = sl_repl_cmds_complete(s->c, req.text, &matches, &nmatches) == 0;
    if (!r.ok) r.error = "out of memory";
    r.matches = matches;
    r.nmatches = nmatches;
    if (r.ok && !matches) r.matches = none; // an empty list, not a missing one
  } else {
    char shown[256]; // a line may hold anything; the log gets it escaped
    sl_str_escape(shown, sizeof shown, req.text, req.len);
    sl_debug("repl: %s", shown);
    int rc = sl_repl_cmds_run(s->c, &s->rec, req.text, req.len, req.cwd, &out, &err);
    r.ok = rc == 0;
    if (!r.ok) r.error = err.msg[0] ? err.msg : "failed";
  }
  if (out.len > SL_REPL_OUT_MAX) {
    out.len = SL_REPL_OUT_MAX;
    out.buf[out.len] = '\0';
    char note[80];
    int n = snprintf(note, sizeof note, "\n... (output cut at %zu bytes)\n", SL_REPL_OUT_MAX);
    sl_json_buf_add(&out, note, (size_t)n);
  }
  r.out = out.buf ? out.buf : "";
  conn_reply(k, &r);
  sl_json_buf_deinit(&out);
  sl_repl_cmds_free_matches(matches, nmatches);
  sl_repl_proto_req_deinit(&req);
}

// One line per loop iteration, round robin over the clients: the tick timer runs between them.
static void on_idle(uv_idle_t *idle) {
  sl_repl_server_t *s = idle->data;
  conn_t *k = s->ready;
  if (!k) {
    uv_idle_stop(idle);
    return;
  }
  unqueue(k);
  const char *line;
  size_t len;
  int rc = sl_repl_proto_lines_next(&k->in, &line, &len);
  if (rc == SL_ERANGE) {
    char msg[96];
    snprintf(msg, sizeof msg, "bad request: a line is longer than %zu bytes", SL_REPL_LINE_MAX);
    conn_refuse(k, msg);
  } else if (rc == 1) {
    if (len) run_request(k, line, len);
    conn_wake(k);
  } else {
    conn_wake(k);
  }
  if (!s->ready) uv_idle_stop(idle);
}

// Only the controller's own user, and root (who can read the process's memory anyway).
static int peer_allowed(conn_t *k, char *why, size_t n) {
  uv_os_fd_t fd;
  struct ucred cr;
  socklen_t l = sizeof cr;
  if (uv_fileno((uv_handle_t *)&k->pipe, &fd) < 0 ||
      getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) < 0) {
    snprintf(why, n, "refused: the peer's credentials cannot be read");
    return 0;
  }
  if (cr.uid == geteuid() || cr.uid == 0) return 1;
  snprintf(why, n, "refused: uid %u may not use this controller's REPL (only uid %u and root)",
           (unsigned)cr.uid, (unsigned)geteuid());
  sl_warn("repl: refused a connection from uid %u (pid %d)", (unsigned)cr.uid, (int)cr.pid);
  return 0;
}

static void on_connection(uv_stream_t *server, int status) {
  sl_repl_server_t *s = server->data;
  if (status < 0) return;
  conn_t *k = calloc(1, sizeof *k);
  if (!k) return;
  k->srv = s;
  sl_repl_proto_lines_init(&k->in, SL_REPL_LINE_MAX);
  uv_pipe_init(s->loop, &k->pipe, 0);
  s->open_handles++;
  k->pipe.data = k;
  k->next = s->conns;
  if (s->conns) s->conns->prev = k;
  s->conns = k;
  s->nconns++;
  if (uv_accept(server, (uv_stream_t *)&k->pipe) < 0) {
    conn_close(k);
    return;
  }
  uv_unref((uv_handle_t *)&k->pipe);
  char why[256];
  if (!peer_allowed(k, why, sizeof why)) {
    conn_refuse(k, why);
    return;
  }
  if (s->nconns > SL_REPL_MAX_CLIENTS) {
    snprintf(why, sizeof why, "refused: %d REPL clients are connected already",
             SL_REPL_MAX_CLIENTS);
    conn_refuse(k, why);
    return;
  }
  const sl_config_t *cfg = s->c->o.cfg;
  char hello[256];
  snprintf(hello, sizeof hello,
           "sluice run (pid %d): %d variant%s, %d polic%s%s; `help` lists the commands",
           (int)getpid(), cfg->nvariants, cfg->nvariants == 1 ? "" : "s", s->c->pipeline.ndeciders,
           s->c->pipeline.ndeciders == 1 ? "y" : "ies",
           sl_controller_paused(s->c) ? "; actuation PAUSED" : "");
  sl_repl_reply_t r = {0};
  r.ok = 1;
  r.hello = hello;
  r.protocol = SL_REPL_PROTO_VERSION;
  conn_reply(k, &r);
  conn_wake(k);
}

// ---- lifecycle ----------------------------------------------------------------------------------

// A socket file left at path: a dead controller's is removed; a live one's, or anything that
// is not a socket, is an error.
static int clear_stale(const char *path, sl_err_t *err) {
  struct stat st;
  if (lstat(path, &st) < 0)
    return errno == ENOENT ? SL_OK : sl_err(err, SL_EIO, "%s: %s", path, strerror(errno));
  if (!S_ISSOCK(st.st_mode))
    return sl_err(err, SL_EINVAL, "%s exists and is not a socket; not replacing it", path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return sl_err(err, SL_EIO, "socket: %s", strerror(errno));
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  int live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  int why = errno;
  close(fd);
  if (live) return sl_err(err, SL_EINVAL, "%s: another controller is listening there", path);
  if (why != ECONNREFUSED)
    return sl_err(err, SL_EIO, "%s: cannot tell whether it is in use: %s", path, strerror(why));
  if (unlink(path) < 0) return sl_err(err, SL_EIO, "%s: cannot remove: %s", path, strerror(errno));
  return SL_OK;
}

static int listen_on(sl_repl_server_t *s, const char *path, sl_err_t *err) {
  if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
    return sl_err(err, SL_EINVAL, "%s: longer than a unix socket path may be", path);
  int rc = sl_repl_sockpath_prepare(path, err);
  if (rc == 0) rc = clear_stale(path, err);
  if (rc < 0) return rc;
  uv_pipe_init(s->loop, &s->listen, 0);
  s->listen.data = s;
  s->have_listen = 1;
  s->open_handles++;
  // 0600 from the first moment: with a wider umask the socket would exist, connectable by
  // others, until a chmod.
  mode_t old = umask(0177);
  int urc = uv_pipe_bind(&s->listen, path);
  umask(old);
  if (urc < 0) return sl_err(err, SL_EIO, "%s: bind: %s", path, uv_strerror(urc));
  struct stat st;
  if (stat(path, &st) == 0) s->dev = st.st_dev, s->ino = st.st_ino;
  if (!(s->path = strdup(path))) return sl_err(err, SL_ENOMEM, "out of memory");
  if ((urc = uv_listen((uv_stream_t *)&s->listen, 8, on_connection)) < 0)
    return sl_err(err, SL_EIO, "%s: listen: %s", path, uv_strerror(urc));
  uv_unref((uv_handle_t *)&s->listen);
  return SL_OK;
}

static void server_close(sl_repl_server_t *s);

int sl_repl_server_open(sl_repl_server_t **out, sl_controller_t *c, uv_loop_t *loop,
                        const char *path, sl_err_t *err) {
  *out = NULL;
  if (path && (!path[0] || !strcmp(path, "off"))) return SL_OK;
  char def[600];
  int is_default = !path;
  if (is_default) {
    sl_err_t perr = {0};
    if (sl_repl_sockpath_server(def, sizeof def, &perr) < 0) {
      sl_warn("repl: %s; running without a REPL", perr.msg);
      return SL_OK;
    }
    path = def;
  }
  // A client that goes away while a reply is being written must not kill the controller.
  signal(SIGPIPE, SIG_IGN);
  sl_repl_server_t *s = calloc(1, sizeof *s);
  if (!s) return sl_err(err, SL_ENOMEM, "out of memory");
  s->c = c;
  s->loop = loop;
  uv_idle_init(loop, &s->idle);
  s->idle.data = s;
  s->have_idle = 1;
  s->open_handles++;
  uv_unref((uv_handle_t *)&s->idle);
  int rc = sl_repl_record_init(&s->rec, c, err);
  if (rc == 0) rc = listen_on(s, path, err);
  if (rc < 0) {
    server_close(s);
    if (is_default) {
      sl_warn("repl: %s; running without a REPL", err->msg);
      sl_err_clear(err);
      return SL_OK;
    }
    return sl_err_wrap(err, "repl socket");
  }
  sl_info("repl: listening on %s (sluice repl --socket %s)", s->path, s->path);
  *out = s;
  return SL_OK;
}

int sl_repl_server_attach(sl_repl_server_t *s, sl_controller_t *c, sl_err_t *err) {
  if (!s || s->c == c) return SL_OK;
  const struct sl_scraper *sc = s->rec.scraper;
  const struct sl_prom *p = s->rec.prom;
  sl_repl_record_deinit(&s->rec);
  s->c = c;
  int rc = sl_repl_record_init(&s->rec, c, err);
  s->rec.scraper = sc;
  s->rec.prom = p;
  return rc;
}

void sl_repl_server_set_sources(sl_repl_server_t *s, const struct sl_scraper *scraper,
                                const struct sl_prom *prom) {
  if (!s) return;
  s->rec.scraper = scraper;
  s->rec.prom = prom;
}

static void on_handle_closed(uv_handle_t *h) {
  sl_repl_server_t *s = h->data;
  s->open_handles--;
}

// Closes every handle, runs the loop until they are closed, removes our socket file, frees.
static void server_close(sl_repl_server_t *s) {
  while (s->conns) conn_close(s->conns);
  if (s->have_listen) uv_close((uv_handle_t *)&s->listen, on_handle_closed);
  if (s->have_idle) uv_close((uv_handle_t *)&s->idle, on_handle_closed);
  // Only as long as our own handles take to close: other handles may still be on the loop.
  while (s->open_handles > 0) uv_run(s->loop, UV_RUN_NOWAIT);
  struct stat st;
  if (s->path && stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
    unlink(s->path);
  // The record is the controller's observer: it goes last, with nothing ticking any more.
  sl_repl_record_deinit(&s->rec);
  free(s->path);
  free(s);
}

void sl_repl_server_free(sl_repl_server_t *s) {
  if (s) server_close(s);
}
