// Buffered line reading for trace files (from a descriptor or from memory) and the small field
// parsers the CSV formats share. Lines are handed out in place: no per-line allocation.
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/sim/trace_lines.h"

#define CHUNK    (1 << 16)
#define MAX_LINE (16 << 20) // a longer line is not a trace line; refuse rather than grow forever

int sl_trace_lines_open(sl_trace_lines_t *l, const char *path, sl_err_t *err) {
  memset(l, 0, sizeof *l);
  l->fd = -1;
  l->name = strdup(path);
  l->buf = malloc(CHUNK);
  if (!l->name || !l->buf) {
    sl_trace_lines_deinit(l);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  l->cap = CHUNK;
  l->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (l->fd < 0) {
    int e = errno;
    sl_trace_lines_deinit(l);
    return sl_err(err, SL_EIO, "cannot open %s: %s", path, strerror(e));
  }
  return 0;
}

int sl_trace_lines_mem(sl_trace_lines_t *l, const void *data, size_t len, const char *name,
                       sl_err_t *err) {
  memset(l, 0, sizeof *l);
  l->fd = -1;
  l->mem = data ? data : "";
  l->mem_len = data ? len : 0;
  l->name = strdup(name ? name : "(memory)");
  if (!l->name) return sl_err(err, SL_ENOMEM, "out of memory");
  return 0;
}

void sl_trace_lines_deinit(sl_trace_lines_t *l) {
  if (l->fd >= 0) close(l->fd);
  free(l->buf);
  free(l->name);
  memset(l, 0, sizeof *l);
  l->fd = -1;
}

int sl_trace_lines_err(const sl_trace_lines_t *l, sl_err_t *err, const char *fmt, ...) {
  char msg[SL_ERR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return sl_err(err, SL_EPARSE, "%s:%ld: %s", l->name, l->line, msg);
}

// Reads more bytes after the unconsumed tail [beg, end), moving it to the front first.
static int fill(sl_trace_lines_t *l, sl_err_t *err) {
  if (l->beg > 0) {
    memmove(l->buf, l->buf + l->beg, l->end - l->beg);
    l->end -= l->beg;
    l->beg = 0;
  }
  if (l->end == l->cap) {
    if (l->cap >= MAX_LINE) {
      l->line++;
      return sl_trace_lines_err(l, err, "line longer than %d bytes", MAX_LINE);
    }
    char *nb = realloc(l->buf, l->cap * 2);
    if (!nb) return sl_err(err, SL_ENOMEM, "out of memory");
    l->buf = nb;
    l->cap *= 2;
  }
  ssize_t n;
  do n = read(l->fd, l->buf + l->end, l->cap - l->end);
  while (n < 0 && errno == EINTR);
  if (n < 0) return sl_err(err, SL_EIO, "%s: read: %s", l->name, strerror(errno));
  if (n == 0) l->eof = true;
  l->end += (size_t)n;
  return 0;
}

// Finds the next line without consuming it; *adv is how far to move past it.
static int find(sl_trace_lines_t *l, const char **line, size_t *len, size_t *adv, sl_err_t *err) {
  if (l->fd < 0) {
    if (l->mem_pos >= l->mem_len) return 0;
    const char *p = l->mem + l->mem_pos;
    size_t rest = l->mem_len - l->mem_pos;
    const char *nl = memchr(p, '\n', rest);
    *line = p;
    *len = nl ? (size_t)(nl - p) : rest;
    *adv = nl ? *len + 1 : rest;
  } else {
    size_t scanned = 0;
    for (;;) {
      char *p = l->buf + l->beg;
      char *nl = memchr(p + scanned, '\n', l->end - l->beg - scanned);
      if (nl) {
        *line = p;
        *len = (size_t)(nl - p);
        *adv = *len + 1;
        break;
      }
      scanned = l->end - l->beg;
      if (l->eof) {
        if (scanned == 0) return 0;
        *line = p;
        *len = *adv = scanned;
        break;
      }
      int rc = fill(l, err);
      if (rc < 0) return rc;
    }
  }
  if (*len > 0 && (*line)[*len - 1] == '\r') (*len)--;
  return 1;
}

int sl_trace_lines_next(sl_trace_lines_t *l, const char **line, size_t *len, sl_err_t *err) {
  size_t adv;
  int rc = find(l, line, len, &adv, err);
  if (rc <= 0) return rc;
  if (l->fd < 0)
    l->mem_pos += adv;
  else
    l->beg += adv;
  l->line++;
  return 1;
}

int sl_trace_lines_peek(sl_trace_lines_t *l, const char **line, size_t *len, sl_err_t *err) {
  size_t adv;
  return find(l, line, len, &adv, err);
}

int sl_trace_lines_split(const char *line, size_t len, const char **f, size_t *flen, int max) {
  int n = 0;
  const char *p = line, *end = line + len;
  for (;;) {
    const char *c = memchr(p, ',', (size_t)(end - p));
    const char *fe = c ? c : end;
    if (n < max) {
      f[n] = p;
      flen[n] = (size_t)(fe - p);
    }
    n++;
    if (!c) break;
    p = c + 1;
  }
  return n;
}

// Fields are short; a copy gives strtod its terminator without touching the line.
static bool term(const char *s, size_t n, char *tmp, size_t cap) {
  while (n > 0 && (*s == ' ' || *s == '\t')) s++, n--;
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  if (n == 0 || n >= cap) return false;
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  return true;
}

bool sl_trace_lines_num(const char *s, size_t n, double *out) {
  char tmp[64], *e;
  if (!term(s, n, tmp, sizeof tmp)) return false;
  errno = 0;
  double v = strtod(tmp, &e);
  if (*e || errno == ERANGE || !isfinite(v)) return false;
  *out = v;
  return true;
}

bool sl_trace_lines_uint(const char *s, size_t n, uint64_t *out) {
  while (n > 0 && (*s == ' ' || *s == '\t')) s++, n--;
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  if (n == 0 || n > 19) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (d > 9) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}
