// The REPL's line protocol. See proto.h.
#include "core/repl/proto.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- framing ------------------------------------------------------------------------------------

void sl_repl_proto_lines_init(sl_repl_proto_lines_t *b, size_t max) {
  memset(b, 0, sizeof *b);
  b->max = max;
}

void sl_repl_proto_lines_deinit(sl_repl_proto_lines_t *b) {
  free(b->buf);
  memset(b, 0, sizeof *b);
}

int sl_repl_proto_lines_feed(sl_repl_proto_lines_t *b, const char *data, size_t n) {
  if (b->start > 0) {
    // Lines already handed out are dead: make room by moving the rest to the front.
    memmove(b->buf, b->buf + b->start, b->len - b->start);
    b->len -= b->start;
    b->start = 0;
  }
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char *nb = realloc(b->buf, cap);
    if (!nb) return SL_ENOMEM;
    b->buf = nb;
    b->cap = cap;
  }
  memcpy(b->buf + b->len, data, n);
  b->len += n;
  return SL_OK;
}

int sl_repl_proto_lines_next(sl_repl_proto_lines_t *b, const char **line, size_t *len) {
  size_t avail = b->len - b->start;
  char *s = b->buf ? b->buf + b->start : NULL;
  char *nl = s ? memchr(s, '\n', avail) : NULL;
  if (!nl) return avail >= b->max ? SL_ERANGE : 0;
  size_t n = (size_t)(nl - s);
  if (n + 1 > b->max) return SL_ERANGE;
  b->start += n + 1;
  if (n > 0 && s[n - 1] == '\r') n--;
  s[n] = '\0';
  *line = s;
  *len = n;
  return 1;
}

size_t sl_repl_proto_lines_pending(const sl_repl_proto_lines_t *b) {
  return b->len - b->start;
}

// ---- text ---------------------------------------------------------------------------------------

// Length of the valid UTF-8 sequence at s (n bytes available), or 0. Overlong forms, surrogates
// and code points past U+10FFFF are invalid, as in yajl's and every terminal's reading.
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t k;
  unsigned cp;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf)
    k = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef)
    k = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4)
    k = 4, cp = c & 0x07;
  else
    return 0;
  if (n < k) return 0;
  for (size_t i = 1; i < k; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if ((k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return k;
}

int sl_repl_proto_clean(sl_json_buf_t *b, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0, run = 0; // bytes [i - run, i) are clean and not yet copied
  while (i < n) {
    unsigned c = u[i];
    size_t k = (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? 0 : utf8_len(u + i, n - i);
    if (k) {
      i += k, run += k;
      continue;
    }
    if (run && sl_json_buf_add(b, s + i - run, run) < 0) return SL_ENOMEM;
    run = 0;
    char esc[5];
    snprintf(esc, sizeof esc, "\\x%02x", c);
    if (sl_json_buf_add(b, esc, 4) < 0) return SL_ENOMEM;
    i++;
  }
  if (run && sl_json_buf_add(b, s + n - run, run) < 0) return SL_ENOMEM;
  if (!b->buf && sl_json_buf_add(b, "", 0) < 0) return SL_ENOMEM;
  return SL_OK;
}

// ---- messages -----------------------------------------------------------------------------------

static const sl_json_limits_t LIMITS = {8, SL_REPL_REPLY_MAX};

static int set_str(sl_json_t *o, const char *k, const char *s) {
  sl_json_buf_t b = {0};
  if (sl_repl_proto_clean(&b, s, strlen(s)) < 0) return SL_ENOMEM;
  sl_json_t *v = sl_json_stringn(b.buf, b.len);
  sl_json_buf_deinit(&b);
  return v ? sl_json_set(o, k, v) : SL_ENOMEM;
}

// Appends o, serialized, and a newline; frees o.
static int finish(sl_json_buf_t *b, sl_json_t *o, int rc) {
  if (rc == 0) rc = sl_json_write_buf(o, b);
  if (rc == 0) rc = sl_json_buf_add(b, "\n", 1);
  sl_json_free(o);
  return rc < 0 ? SL_ENOMEM : SL_OK;
}

// A text field: a string without NUL bytes (lines are C strings from here on).
static int get_text(const sl_json_t *o, const char *k, int required, char **out, size_t *len,
                    sl_err_t *err) {
  const sl_json_t *v = sl_json_get(o, k);
  *out = NULL;
  if (!v || v->type == SL_JSON_NULL) {
    if (required) return sl_err(err, SL_EPARSE, "missing \"%s\"", k);
    return SL_OK;
  }
  if (v->type != SL_JSON_STRING) return sl_err(err, SL_EPARSE, "\"%s\" must be a string", k);
  if (memchr(v->str, '\0', v->len)) return sl_err(err, SL_EPARSE, "\"%s\" contains a NUL byte", k);
  if (!(*out = strdup(v->str))) return sl_err(err, SL_ENOMEM, "out of memory");
  if (len) *len = v->len;
  return SL_OK;
}

static int get_id(const sl_json_t *o, int *has, double *id, sl_err_t *err) {
  const sl_json_t *v = sl_json_get(o, "id");
  *has = 0;
  if (!v || v->type == SL_JSON_NULL) return SL_OK;
  if (v->type != SL_JSON_NUMBER || !isfinite(v->num))
    return sl_err(err, SL_EPARSE, "\"id\" must be a number");
  *has = 1;
  *id = v->num;
  return SL_OK;
}

static sl_json_t *parse_object(const char *line, size_t len, sl_err_t *err) {
  sl_json_t *j = sl_json_parse(line, len, &LIMITS, err);
  if (!j) {
    sl_err_wrap(err, "not a JSON object");
    return NULL;
  }
  if (j->type != SL_JSON_OBJECT) {
    sl_json_free(j);
    sl_err(err, SL_EPARSE, "not a JSON object");
    return NULL;
  }
  return j;
}

int sl_repl_proto_parse_request(const char *line, size_t len, sl_repl_req_t *req, sl_err_t *err) {
  memset(req, 0, sizeof *req);
  sl_json_t *j = parse_object(line, len, err);
  if (!j) return SL_EPARSE;
  const char *op = sl_json_str_or(sl_json_get(j, "op"), NULL);
  int rc = SL_OK;
  if (!op)
    rc = sl_err(err, SL_EPARSE, "missing \"op\" (a string: \"line\" or \"complete\")");
  else if (!strcmp(op, "line"))
    req->op = SL_REPL_OP_LINE;
  else if (!strcmp(op, "complete"))
    req->op = SL_REPL_OP_COMPLETE;
  else
    rc = sl_err(err, SL_EPARSE, "unknown op (expected \"line\" or \"complete\")");
  if (rc == 0) rc = get_id(j, &req->has_id, &req->id, err);
  if (rc == 0) rc = get_text(j, "text", 1, &req->text, &req->len, err);
  if (rc == 0) rc = get_text(j, "cwd", 0, &req->cwd, NULL, err);
  sl_json_free(j);
  if (rc < 0) sl_repl_proto_req_deinit(req);
  return rc;
}

void sl_repl_proto_req_deinit(sl_repl_req_t *req) {
  free(req->text);
  free(req->cwd);
  memset(req, 0, sizeof *req);
}

int sl_repl_proto_write_request(sl_json_buf_t *b, const sl_repl_req_t *req) {
  sl_json_t *o = sl_json_object();
  if (!o) return SL_ENOMEM;
  int rc =
      sl_json_set(o, "op", sl_json_string(req->op == SL_REPL_OP_COMPLETE ? "complete" : "line"));
  if (rc == 0 && req->has_id) rc = sl_json_set(o, "id", sl_json_number(req->id));
  if (rc == 0) {
    sl_json_t *t = sl_json_stringn(req->text ? req->text : "", req->text ? req->len : 0);
    rc = t ? sl_json_set(o, "text", t) : SL_ENOMEM;
  }
  if (rc == 0 && req->cwd) rc = sl_json_set(o, "cwd", sl_json_string(req->cwd));
  return finish(b, o, rc);
}

int sl_repl_proto_parse_reply(const char *line, size_t len, sl_repl_reply_t *r, sl_err_t *err) {
  memset(r, 0, sizeof *r);
  sl_json_t *j = parse_object(line, len, err);
  if (!j) return SL_EPARSE;
  int rc = SL_OK;
  const sl_json_t *ok = sl_json_get(j, "ok");
  if (!ok || ok->type != SL_JSON_BOOL)
    rc = sl_err(err, SL_EPARSE, "missing \"ok\" (a boolean)");
  else
    r->ok = ok->b;
  if (rc == 0) rc = get_id(j, &r->has_id, &r->id, err);
  if (rc == 0) rc = get_text(j, "out", 0, &r->out, NULL, err);
  if (rc == 0) rc = get_text(j, "error", 0, &r->error, NULL, err);
  if (rc == 0) rc = get_text(j, "hello", 0, &r->hello, NULL, err);
  if (rc == 0 && !r->out && !(r->out = strdup(""))) rc = sl_err(err, SL_ENOMEM, "out of memory");
  if (rc == 0 && !r->ok && !r->error) rc = sl_err(err, SL_EPARSE, "a failed reply needs \"error\"");
  const sl_json_t *p = sl_json_get(j, "protocol");
  if (rc == 0 && p) {
    if (p->type != SL_JSON_NUMBER || p->num != floor(p->num) || p->num < 0 || p->num > 1e6)
      rc = sl_err(err, SL_EPARSE, "\"protocol\" must be a whole number");
    else
      r->protocol = (int)p->num;
  }
  const sl_json_t *m = sl_json_get(j, "matches");
  if (rc == 0 && m) {
    if (m->type != SL_JSON_ARRAY) rc = sl_err(err, SL_EPARSE, "\"matches\" must be an array");
    if (rc == 0 && m->n && !(r->matches = calloc(m->n, sizeof *r->matches)))
      rc = sl_err(err, SL_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < m->n; i++) {
      const sl_json_t *s = m->items[i];
      if (s->type != SL_JSON_STRING || memchr(s->str, '\0', s->len))
        rc = sl_err(err, SL_EPARSE, "\"matches\" must hold strings");
      else if (!(r->matches[r->nmatches++] = strdup(s->str)))
        rc = sl_err(err, SL_ENOMEM, "out of memory");
    }
  }
  sl_json_free(j);
  if (rc < 0) sl_repl_proto_reply_deinit(r);
  return rc;
}

void sl_repl_proto_reply_deinit(sl_repl_reply_t *r) {
  free(r->out);
  free(r->error);
  free(r->hello);
  for (size_t i = 0; i < r->nmatches; i++) free(r->matches[i]);
  free(r->matches);
  memset(r, 0, sizeof *r);
}

int sl_repl_proto_write_reply(sl_json_buf_t *b, const sl_repl_reply_t *r) {
  sl_json_t *o = sl_json_object();
  if (!o) return SL_ENOMEM;
  int rc = sl_json_set(o, "ok", sl_json_bool(r->ok));
  if (rc == 0 && r->has_id) rc = sl_json_set(o, "id", sl_json_number(r->id));
  if (rc == 0 && r->hello) rc = set_str(o, "hello", r->hello);
  if (rc == 0 && r->hello) rc = sl_json_set(o, "protocol", sl_json_number(r->protocol));
  if (rc == 0) rc = set_str(o, "out", r->out ? r->out : "");
  if (rc == 0 && r->error) rc = set_str(o, "error", r->error);
  if (rc == 0 && r->matches) {
    sl_json_t *a = sl_json_array();
    rc = a ? sl_json_set(o, "matches", a) : SL_ENOMEM;
    for (size_t i = 0; rc == 0 && i < r->nmatches; i++) {
      sl_json_buf_t t = {0};
      rc = sl_repl_proto_clean(&t, r->matches[i], strlen(r->matches[i]));
      if (rc == 0) rc = sl_json_push(a, sl_json_stringn(t.buf, t.len));
      sl_json_buf_deinit(&t);
    }
  }
  return finish(b, o, rc);
}
