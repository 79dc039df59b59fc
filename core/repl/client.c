// The REPL client. See client.h.
#include "core/repl/client.h"

#include <editline/readline.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/repl/cmds.h"

// ---- the connection -----------------------------------------------------------------------------

static int read_line(sl_repl_client_t *cl, const char **line, size_t *len, sl_err_t *err) {
  for (;;) {
    int rc = sl_repl_proto_lines_next(&cl->in, line, len);
    if (rc == 1) return SL_OK;
    if (rc < 0)
      return sl_err(err, SL_EPARSE, "the controller sent a reply longer than %zu bytes",
                    SL_REPL_REPLY_MAX);
    char buf[16384];
    ssize_t n = recv(cl->fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sl_err(err, SL_EIO, "reading from the controller: %s", strerror(errno));
    if (n == 0) return sl_err(err, SL_EIO, "the controller closed the connection");
    if (sl_repl_proto_lines_feed(&cl->in, buf, (size_t)n) < 0)
      return sl_err(err, SL_ENOMEM, "out of memory");
  }
}

static int send_all(int fd, const char *p, size_t n, sl_err_t *err) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return sl_err(err, SL_EIO, "writing to the controller: %s", strerror(errno));
    p += w, n -= (size_t)w;
  }
  return SL_OK;
}

int sl_repl_client_connect(sl_repl_client_t *cl, const char *path, sl_err_t *err) {
  memset(cl, 0, sizeof *cl);
  cl->fd = -1;
  cl->next_id = 1;
  sl_repl_proto_lines_init(&cl->in, SL_REPL_REPLY_MAX);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path)
    return sl_err(err, SL_EINVAL, "%s: longer than a unix socket path may be", path);
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  cl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (cl->fd < 0) return sl_err(err, SL_EIO, "socket: %s", strerror(errno));
  if (connect(cl->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    if (e == ENOENT)
      return sl_err(err, SL_EIO,
                    "%s: no REPL socket there (is `sluice run` running? --socket PATH)", path);
    if (e == ECONNREFUSED)
      return sl_err(err, SL_EIO, "%s: no controller is listening (a stale socket)", path);
    if (e == EACCES || e == EPERM)
      return sl_err(err, SL_EIO, "%s: permission denied (the socket is for the controller's user)",
                    path);
    return sl_err(err, SL_EIO, "%s: %s", path, strerror(e));
  }
  const char *line;
  size_t len;
  int rc = read_line(cl, &line, &len, err);
  if (rc < 0) return sl_err_wrap(err, "%s", path);
  sl_repl_reply_t r;
  if ((rc = sl_repl_proto_parse_reply(line, len, &r, err)) < 0)
    return sl_err_wrap(err, "%s: not a sluice REPL", path);
  if (!r.ok) {
    rc = sl_err(err, SL_EINVAL, "%s: %s", path, r.error);
  } else if (r.protocol != SL_REPL_PROTO_VERSION) {
    rc = sl_err(err, SL_EINVAL, "%s: the controller speaks REPL protocol %d, this client %d", path,
                r.protocol, SL_REPL_PROTO_VERSION);
  } else {
    cl->banner = r.hello ? strdup(r.hello) : NULL;
  }
  sl_repl_proto_reply_deinit(&r);
  return rc;
}

void sl_repl_client_close(sl_repl_client_t *cl) {
  if (cl->fd >= 0) close(cl->fd);
  sl_repl_proto_lines_deinit(&cl->in);
  free(cl->banner);
  memset(cl, 0, sizeof *cl);
  cl->fd = -1;
}

int sl_repl_client_call(sl_repl_client_t *cl, sl_repl_op_t op, const char *text, sl_repl_reply_t *r,
                        sl_err_t *err) {
  memset(r, 0, sizeof *r);
  char cwd[PATH_MAX];
  sl_repl_req_t req = {op, 1, cl->next_id++, (char *)text, strlen(text), NULL};
  if (op == SL_REPL_OP_LINE && getcwd(cwd, sizeof cwd)) req.cwd = cwd;
  if (req.len + 64 + (req.cwd ? strlen(req.cwd) : 0) > SL_REPL_LINE_MAX)
    return sl_err(err, SL_EINVAL, "the line is longer than the %zu bytes a request may be",
                  SL_REPL_LINE_MAX);
  sl_json_buf_t b = {0};
  int rc = sl_repl_proto_write_request(&b, &req);
  if (rc == 0 && b.len > SL_REPL_LINE_MAX)
    rc = sl_err(err, SL_EINVAL, "the line is longer than the %zu bytes a request may be",
                SL_REPL_LINE_MAX);
  else if (rc < 0)
    sl_err(err, rc, "out of memory");
  if (rc == 0) rc = send_all(cl->fd, b.buf, b.len, err);
  sl_json_buf_deinit(&b);
  if (rc < 0) return rc;
  const char *line;
  size_t len;
  if ((rc = read_line(cl, &line, &len, err)) < 0) return rc;
  if ((rc = sl_repl_proto_parse_reply(line, len, r, err)) < 0)
    return sl_err_wrap(err, "a reply from the controller");
  if (!r->has_id || r->id != req.id) {
    sl_repl_proto_reply_deinit(r);
    return sl_err(err, SL_EPARSE, "the controller answered another request");
  }
  return SL_OK;
}

void sl_repl_client_print(const sl_repl_reply_t *r, FILE *out, FILE *errf) {
  size_t n = r->out ? strlen(r->out) : 0;
  if (n) {
    fputs(r->out, out);
    if (r->out[n - 1] != '\n') fputc('\n', out);
    fflush(out);
  }
  if (!r->ok && r->error) {
    size_t m = strlen(r->error);
    fputs(r->error, errf);
    if (!m || r->error[m - 1] != '\n') fputc('\n', errf);
    fflush(errf);
  }
}

// ---- interactive --------------------------------------------------------------------------------

// libedit's completion callbacks take no user data.
static sl_repl_client_t *g_client;
static char **g_matches;
static size_t g_nmatches, g_next;
static char g_breaks[] = SL_REPL_WORD_BREAKS;

static char *next_match(const char *text, int state) {
  if (state == 0) g_next = 0;
  return g_next < g_nmatches ? strdup(g_matches[g_next++]) : NULL;
}

static char **complete(const char *text, int start, int end) {
  rl_attempted_completion_over = 1;
  rl_completion_append_character = ' ';
  // A file to dry-run is on this side of the socket: libedit completes file names itself.
  if (!strncmp(rl_line_buffer, "dry-run ", 8)) {
    rl_attempted_completion_over = 0;
    return NULL;
  }
  char *upto = strndup(rl_line_buffer, (size_t)end);
  if (!upto) return NULL;
  sl_repl_reply_t r;
  sl_err_t err;
  int rc = sl_repl_client_call(g_client, SL_REPL_OP_COMPLETE, upto, &r, &err);
  free(upto);
  if (rc < 0 || !r.ok || !r.nmatches) {
    if (rc == 0) sl_repl_proto_reply_deinit(&r);
    return NULL;
  }
  g_matches = r.matches;
  g_nmatches = r.nmatches;
  // "set target." goes on with a parameter name: no space after it.
  if (r.nmatches == 1 && r.matches[0][0] && r.matches[0][strlen(r.matches[0]) - 1] == '.')
    rl_completion_append_character = '\0';
  char **out = rl_completion_matches(text, next_match);
  g_matches = NULL;
  g_nmatches = 0;
  sl_repl_proto_reply_deinit(&r);
  return out;
}

// The history may hold parameter values and Lua lines: readable by the user only.
static void save_history(const char *path) {
  if (!path) return;
  mode_t old = umask(077);
  write_history(path);
  umask(old);
}

int sl_repl_client_interactive(sl_repl_client_t *cl, const char *history) {
  g_client = cl;
  rl_readline_name = "sluice";
  rl_attempted_completion_function = complete;
  rl_basic_word_break_characters = g_breaks;
  rl_completer_word_break_characters = g_breaks;
  using_history();
  stifle_history(1000);
  if (history) read_history(history);
  if (cl->banner) printf("%s\n", cl->banner);
  int code = 0;
  char *line;
  while ((line = readline("sluice> "))) {
    const char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) {
      free(line);
      continue;
    }
    add_history(line);
    save_history(history);
    sl_repl_reply_t r;
    sl_err_t err;
    int rc = sl_repl_client_call(cl, SL_REPL_OP_LINE, line, &r, &err);
    free(line);
    if (rc < 0) {
      fprintf(stderr, "sluice repl: %s\n", err.msg);
      if (rc == SL_EIO) {
        code = 1;
        break;
      }
      continue;
    }
    sl_repl_client_print(&r, stdout, stdout);
    sl_repl_proto_reply_deinit(&r);
  }
  if (!line) printf("\n");
  save_history(history);
  g_client = NULL;
  return code;
}

int sl_repl_client_script(sl_repl_client_t *cl, FILE *in) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int code = 0;
  while ((n = getline(&line, &cap, in)) >= 0) {
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (!n) continue;
    sl_repl_reply_t r;
    sl_err_t err;
    int rc = sl_repl_client_call(cl, SL_REPL_OP_LINE, line, &r, &err);
    if (rc < 0) {
      fprintf(stderr, "sluice repl: %s\n", err.msg);
      code = rc == SL_EIO ? 2 : 1;
      if (rc == SL_EIO) break;
      continue;
    }
    sl_repl_client_print(&r, stdout, stderr);
    if (!r.ok) code = 1;
    sl_repl_proto_reply_deinit(&r);
  }
  free(line);
  return code;
}
