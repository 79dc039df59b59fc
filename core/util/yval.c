// YAML tree loader (libyaml document API) and typed readers with positioned errors.
#include "core/util/yval.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <yaml.h>

#include "core/util/file.h"
#include "core/util/map.h"

// Aliases can make a small file expand into a huge tree ("billion laughs"): cap the nodes built.
#define MAX_NODES 200000
#define MAX_DEPTH 64
#define MAX_BYTES (16 << 20)

static void yval_free(sl_yval_t *v) {
  if (!v) return;
  for (size_t i = 0; i < v->n; i++) {
    yval_free(v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->key_lines);
  free(v->str);
  free(v);
}

// The tree is built from libyaml's events, not its document API, so the limits bind while
// parsing: a file nested 100,000 deep stops at the 65th level, not after libyaml has built it.

typedef struct {
  sl_yval_t *v;
  char *key; // MAP: the key waiting for its value
  int key_line;
  sl_map_t seen; // MAP with many keys: duplicate detection without a quadratic scan
  int use_seen;
} frame_t;

typedef struct {
  char *name;
  sl_yval_t *v;
  int owned; // v is the anchor's own copy (an anchored scalar may become a key and be freed)
} anchor_t;

typedef struct {
  const char *file;
  const char *buf;
  size_t len;
  sl_err_t *err;
  size_t built;
  frame_t stack[MAX_DEPTH + 2];
  int depth;
  anchor_t *anchors;
  int nanchors, capanchors;
  sl_yval_t *root;
} build_ctx_t;

// Line and column (1-based) of a byte offset, for errors libyaml reports by offset.
static void offset_pos(const char *buf, size_t len, size_t off, size_t *line, size_t *col) {
  *line = 1;
  *col = 1;
  for (size_t i = 0; i < off && i < len; i++) {
    if (buf[i] == '\n') {
      (*line)++;
      *col = 1;
    } else {
      (*col)++;
    }
  }
}

static int too_big(build_ctx_t *c, size_t line) {
  return sl_err(c->err, SL_EPARSE,
                "%s:%zu: document too large or too deeply nested (at most %d "
                "levels and %d nodes)",
                c->file, line, MAX_DEPTH, MAX_NODES);
}

static sl_yval_t *clone(build_ctx_t *c, const sl_yval_t *v, size_t line) {
  if (++c->built > MAX_NODES) {
    too_big(c, line);
    return NULL;
  }
  sl_yval_t *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  *n = *v;
  n->str = NULL;
  n->items = NULL;
  n->keys = NULL;
  n->key_lines = NULL;
  n->n = 0;
  if (v->str && !(n->str = strdup(v->str))) goto fail;
  if (v->n) {
    n->items = calloc(v->n, sizeof *n->items);
    if (!n->items) goto fail;
    if (v->keys) {
      n->keys = calloc(v->n, sizeof *n->keys);
      n->key_lines = calloc(v->n, sizeof *n->key_lines);
      if (!n->keys || !n->key_lines) goto fail;
    }
    for (size_t i = 0; i < v->n; i++) {
      if (!(n->items[i] = clone(c, v->items[i], line))) goto fail;
      if (v->keys && !(n->keys[i] = strdup(v->keys[i]))) {
        yval_free(n->items[i]);
        goto fail;
      }
      if (v->keys) n->key_lines[i] = v->key_lines[i];
      n->n++;
    }
  }
  return n;
fail:
  if (c->err && !c->err->msg[0]) sl_err(c->err, SL_ENOMEM, "%s: out of memory", c->file);
  yval_free(n);
  return NULL;
}

static int add_anchor(build_ctx_t *c, const char *name, sl_yval_t *v) {
  if (!name) return SL_OK;
  sl_yval_t *own = NULL;
  if (v->type != SL_Y_SEQ && v->type != SL_Y_MAP) {
    // Scalars: keep a copy, since the node itself is consumed when it is used as a map key.
    c->built--; // the copy is not a second node of the document
    if (!(own = clone(c, v, (size_t)v->line))) return SL_ENOMEM;
  }
  for (int i = 0; i < c->nanchors; i++) {
    if (!strcmp(c->anchors[i].name, name)) {
      // YAML allows redefining an anchor; later aliases see the new one.
      if (c->anchors[i].owned) yval_free(c->anchors[i].v);
      c->anchors[i].v = own ? own : v;
      c->anchors[i].owned = own != NULL;
      return SL_OK;
    }
  }
  if (c->nanchors == c->capanchors) {
    int cap = c->capanchors ? c->capanchors * 2 : 8;
    anchor_t *a = realloc(c->anchors, (size_t)cap * sizeof *a);
    if (!a) {
      yval_free(own);
      return SL_ENOMEM;
    }
    c->anchors = a;
    c->capanchors = cap;
  }
  if (!(c->anchors[c->nanchors].name = strdup(name))) {
    yval_free(own);
    return SL_ENOMEM;
  }
  c->anchors[c->nanchors].v = own ? own : v;
  c->anchors[c->nanchors++].owned = own != NULL;
  return SL_OK;
}

// Attaches a finished node to the container on top (or makes it the root). Takes v.
static int attach(build_ctx_t *c, sl_yval_t *v, int is_scalar_key_candidate, size_t line) {
  if (c->depth == 0) {
    c->root = v;
    return SL_OK;
  }
  frame_t *f = &c->stack[c->depth - 1];
  sl_yval_t *p = f->v;
  if (p->type == SL_Y_SEQ || f->key) {
    size_t cap = p->n + 1;
    sl_yval_t **items = realloc(p->items, cap * sizeof *items);
    if (!items) goto oom;
    p->items = items;
    if (p->type == SL_Y_MAP) {
      char **keys = realloc(p->keys, cap * sizeof *keys);
      if (!keys) goto oom;
      p->keys = keys;
      int *kl = realloc(p->key_lines, cap * sizeof *kl);
      if (!kl) goto oom;
      p->key_lines = kl;
      p->keys[p->n] = f->key;
      p->key_lines[p->n] = f->key_line;
      f->key = NULL;
    }
    p->items[p->n++] = v;
    return SL_OK;
  }
  // A mapping waiting for a key.
  if (!is_scalar_key_candidate || v->type == SL_Y_SEQ || v->type == SL_Y_MAP) {
    yval_free(v);
    return sl_err(c->err, SL_EPARSE, "%s:%zu: mapping keys must be plain strings", c->file, line);
  }
  const char *k = v->str ? v->str : "";
  int dup_line = 0;
  if (f->use_seen) {
    void *at = sl_map_get(&f->seen, k);
    if (at) dup_line = (int)(intptr_t)at;
  } else {
    for (size_t j = 0; j < p->n; j++)
      if (!strcmp(p->keys[j], k)) dup_line = p->key_lines[j];
  }
  if (dup_line) {
    int rc = sl_err(c->err, SL_EPARSE, "%s:%zu: duplicate key '%s' (first at line %d)", c->file,
                    line, k, dup_line);
    yval_free(v);
    return rc;
  }
  if (!f->use_seen && p->n >= 32) {
    f->use_seen = 1;
    sl_map_init(&f->seen);
    for (size_t j = 0; j < p->n; j++)
      if (sl_map_put(&f->seen, p->keys[j], (void *)(intptr_t)p->key_lines[j]) < 0) goto oomv;
  }
  if (f->use_seen && sl_map_put(&f->seen, k, (void *)(intptr_t)line) < 0) goto oomv;
  f->key = v->str ? v->str : strdup("");
  v->str = NULL;
  f->key_line = (int)line;
  yval_free(v);
  if (!f->key) goto oom;
  return SL_OK;
oomv:
  yval_free(v);
  return sl_err(c->err, SL_ENOMEM, "%s: out of memory", c->file);
oom:
  yval_free(v);
  return sl_err(c->err, SL_ENOMEM, "%s: out of memory", c->file);
}

static void ctx_free(build_ctx_t *c) {
  for (int i = c->depth - 1; i >= 0; i--) {
    free(c->stack[i].key);
    if (c->stack[i].use_seen) sl_map_deinit(&c->stack[i].seen);
    if (i == 0) yval_free(c->stack[i].v);
  }
  c->depth = 0;
  for (int i = 0; i < c->nanchors; i++) {
    free(c->anchors[i].name);
    if (c->anchors[i].owned) yval_free(c->anchors[i].v);
  }
  free(c->anchors);
}

static int parse_error(build_ctx_t *c, yaml_parser_t *parser) {
  size_t line = parser->problem_mark.line + 1, col = parser->problem_mark.column + 1;
  if (parser->error == YAML_READER_ERROR || parser->error == YAML_MEMORY_ERROR) {
    // Reader errors (bad UTF-8, NUL and other control characters) carry a byte offset only.
    offset_pos(c->buf, c->len, parser->problem_offset, &line, &col);
    if (parser->problem_value >= 0)
      return sl_err(c->err, SL_EPARSE, "%s:%zu:%zu: %s (byte 0x%02x)", c->file, line, col,
                    parser->problem ? parser->problem : "unreadable input",
                    parser->problem_value & 0xff);
  }
  return sl_err(c->err, SL_EPARSE, "%s:%zu:%zu: %s%s%s", c->file, line, col,
                parser->problem ? parser->problem : "syntax error", parser->context ? " " : "",
                parser->context ? parser->context : "");
}

static int load(sl_ydoc_t *d, const char *buf, size_t len, const char *name, sl_err_t *err) {
  memset(d, 0, sizeof *d);
  d->file = strdup(name);
  if (!d->file) return sl_err(err, SL_ENOMEM, "out of memory");
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    free(d->file);
    d->file = NULL;
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  build_ctx_t c;
  memset(&c, 0, sizeof c);
  c.file = name;
  c.buf = buf;
  c.len = len;
  c.err = err;
  if (err) err->msg[0] = '\0';
  int rc = SL_OK, docs = 0, done = 0;
  while (!done && rc == 0) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      rc = parse_error(&c, &parser);
      break;
    }
    size_t line = ev.start_mark.line + 1;
    switch (ev.type) {
    case YAML_STREAM_END_EVENT:
      done = 1;
      break;
    case YAML_DOCUMENT_START_EVENT:
      if (++docs > 1)
        rc = sl_err(err, SL_EPARSE, "%s:%zu: a second YAML document ('---'); a file holds one",
                    name, line);
      break;
    case YAML_SCALAR_EVENT:
    case YAML_ALIAS_EVENT:
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
      sl_yval_t *v = NULL;
      const char *anchor = NULL;
      if (ev.type == YAML_ALIAS_EVENT) {
        const char *a = (const char *)ev.data.alias.anchor;
        const sl_yval_t *target = NULL;
        for (int i = 0; i < c.nanchors && !target; i++)
          if (!strcmp(c.anchors[i].name, a)) target = c.anchors[i].v;
        if (!target) {
          rc = sl_err(err, SL_EPARSE, "%s:%zu: unknown alias '*%s'", name, line, a);
          break;
        }
        // Aliases can make a small file expand into a huge tree ("billion laughs"): every
        // copy counts against the node cap.
        if (!(v = clone(&c, target, line))) {
          rc = err && err->code ? err->code : SL_ENOMEM;
          break;
        }
        v->line = (int)line;
        v->col = (int)ev.start_mark.column + 1;
        rc = attach(&c, v, 1, line);
        break;
      }
      if (++c.built > MAX_NODES) {
        rc = too_big(&c, line);
        break;
      }
      if (!(v = calloc(1, sizeof *v))) {
        rc = sl_err(err, SL_ENOMEM, "%s: out of memory", name);
        break;
      }
      v->line = (int)line;
      v->col = (int)ev.start_mark.column + 1;
      if (ev.type == YAML_SCALAR_EVENT) {
        const char *sv = (const char *)ev.data.scalar.value;
        size_t sl = ev.data.scalar.length;
        anchor = (const char *)ev.data.scalar.anchor;
        v->quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        int is_key =
            c.depth > 0 && c.stack[c.depth - 1].v->type == SL_Y_MAP && !c.stack[c.depth - 1].key;
        // Keys are always their text; a value that reads as null is a null.
        if (!is_key && !v->quoted &&
            (sl == 0 || !strcmp(sv, "~") || !strcmp(sv, "null") || !strcmp(sv, "Null") ||
             !strcmp(sv, "NULL"))) {
          v->type = SL_Y_NULL;
        } else {
          v->type = SL_Y_SCALAR;
          if ((v->str = malloc(sl + 1))) {
            memcpy(v->str, sv, sl);
            v->str[sl] = '\0';
          } else {
            yval_free(v);
            rc = sl_err(err, SL_ENOMEM, "%s: out of memory", name);
            break;
          }
        }
        if (anchor && (rc = add_anchor(&c, anchor, v)) < 0) {
          yval_free(v);
          if (!err || !err->msg[0]) rc = sl_err(err, SL_ENOMEM, "%s: out of memory", name);
          break;
        }
        rc = attach(&c, v, 1, line);
        break;
      }
      // A container opens.
      v->type = ev.type == YAML_SEQUENCE_START_EVENT ? SL_Y_SEQ : SL_Y_MAP;
      anchor = (const char *)(ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.anchor
                                                                   : ev.data.mapping_start.anchor);
      if (c.depth >= MAX_DEPTH) {
        yval_free(v);
        rc = too_big(&c, line);
        break;
      }
      // Attach first (so the parent owns it), then push it as the open container.
      if ((rc = attach(&c, v, 0, line)) < 0) break;
      if (anchor && add_anchor(&c, anchor, v) < 0) {
        rc = sl_err(err, SL_ENOMEM, "%s: out of memory", name);
        break;
      }
      c.stack[c.depth++] = (frame_t){v, NULL, 0, {0}, 0};
      if (c.depth == 1) c.root = NULL; // owned by the stack until it closes
      break;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
      frame_t *f = &c.stack[--c.depth];
      free(f->key);
      if (f->use_seen) sl_map_deinit(&f->seen);
      if (c.depth == 0) c.root = f->v;
      break;
    }
    default:
      break;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  if (rc < 0) {
    // An anchored container still open is owned by the stack; the root by c.root.
    if (c.depth == 0) yval_free(c.root);
    ctx_free(&c);
    free(d->file);
    d->file = NULL;
    if (err && !err->msg[0]) sl_err(err, rc, "%s: out of memory", name);
    return rc;
  }
  ctx_free(&c);
  d->root = c.root;
  return SL_OK;
}

int sl_ydoc_load_buffer(sl_ydoc_t *d, const char *buf, size_t len, const char *name,
                        sl_err_t *err) {
  if (len > MAX_BYTES)
    return sl_err(err, SL_EPARSE, "%s: %zu bytes, larger than the %d MiB a YAML file may have",
                  name, len, MAX_BYTES >> 20);
  return load(d, buf, len, name, err);
}

int sl_ydoc_load_file(sl_ydoc_t *d, const char *path, sl_err_t *err) {
  char *buf;
  size_t len;
  int rc = sl_file_read(path, MAX_BYTES, 0, &buf, &len, err);
  if (rc < 0) {
    if (rc == SL_ERANGE) err->code = SL_EPARSE;
    return rc;
  }
  rc = load(d, buf, len, path, err);
  free(buf);
  return rc;
}

void sl_ydoc_deinit(sl_ydoc_t *d) {
  yval_free(d->root);
  free(d->file);
  memset(d, 0, sizeof *d);
}

// ---- typed access -------------------------------------------------------------------------

int sl_y_err(const sl_ydoc_t *d, const sl_yval_t *v, sl_err_t *err, const char *fmt, ...) {
  char msg[SL_ERR_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (v) return sl_err(err, SL_EINVAL, "%s:%d: %s", d->file, v->line, msg);
  return sl_err(err, SL_EINVAL, "%s: %s", d->file, msg);
}

const sl_yval_t *sl_y_get(const sl_yval_t *map, const char *key) {
  if (!map || map->type != SL_Y_MAP) return NULL;
  for (size_t i = 0; i < map->n; i++)
    if (!strcmp(map->keys[i], key)) return map->items[i];
  return NULL;
}

static const char *type_name(const sl_yval_t *v) {
  if (!v) return "nothing";
  switch (v->type) {
  case SL_Y_NULL:
    return "null";
  case SL_Y_SCALAR:
    return "a scalar";
  case SL_Y_SEQ:
    return "a list";
  case SL_Y_MAP:
    return "a mapping";
  }
  return "?";
}

int sl_y_expect(const sl_ydoc_t *d, const sl_yval_t *v, sl_ytype_t type, const char *path,
                sl_err_t *err) {
  static const char *const want[] = {"null", "a scalar", "a list", "a mapping"};
  if (v && v->type == type) return SL_OK;
  return sl_y_err(d, v, err, "%s: expected %s, got %s", path, want[type], type_name(v));
}

int sl_parse_number(const char *s, double *out) {
  if (!s || !*s) return SL_EINVAL;
  char *end;
  errno = 0;
  double x = strtod(s, &end);
  if (errno || *end || isnan(x) || isinf(x)) return SL_EINVAL;
  *out = x;
  return SL_OK;
}

int sl_parse_duration(const char *s, double *out) {
  if (!s || !*s) return SL_EINVAL;
  char *end;
  errno = 0;
  double x = strtod(s, &end);
  if (errno || end == s || isnan(x) || isinf(x) || x < 0) return SL_EINVAL;
  double mul;
  if (!*end || !strcmp(end, "s"))
    mul = 1;
  else if (!strcmp(end, "ms"))
    mul = 1e-3;
  else if (!strcmp(end, "m"))
    mul = 60;
  else if (!strcmp(end, "h"))
    mul = 3600;
  else if (!strcmp(end, "d"))
    mul = 86400;
  else
    return SL_EINVAL;
  *out = x * mul;
  return SL_OK;
}

int sl_parse_size(const char *s, size_t *out) {
  if (!s || !*s) return SL_EINVAL;
  char *end;
  errno = 0;
  double x = strtod(s, &end);
  if (errno || end == s || isnan(x) || x < 0) return SL_EINVAL;
  static const struct {
    const char *suf;
    double mul;
  } units[] = {{"", 1},          {"B", 1},       {"KiB", 1024.0},   {"MiB", 1048576.0},
               {"GiB", 1 << 30}, {"KB", 1e3},    {"MB", 1e6},       {"GB", 1e9},
               {"k", 1e3},       {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1 << 30}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(end, units[i].suf)) continue;
    double b = x * units[i].mul;
    if (b > 1e15) return SL_EINVAL;
    *out = (size_t)b;
    return SL_OK;
  }
  return SL_EINVAL;
}

int sl_y_num(const sl_ydoc_t *d, const sl_yval_t *v, const char *path, double lo, double hi,
             double *out, sl_err_t *err) {
  double x;
  if (!v || v->type != SL_Y_SCALAR || sl_parse_number(v->str, &x) < 0)
    return sl_y_err(d, v, err, "%s: expected a number, got %s%s%s", path, v && v->str ? "'" : "",
                    v && v->str ? v->str : type_name(v), v && v->str ? "'" : "");
  if (x < lo || x > hi) return sl_y_err(d, v, err, "%s: %g is outside [%g, %g]", path, x, lo, hi);
  *out = x;
  return SL_OK;
}

int sl_y_int(const sl_ydoc_t *d, const sl_yval_t *v, const char *path, long long lo, long long hi,
             long long *out, sl_err_t *err) {
  double x;
  if (!v || v->type != SL_Y_SCALAR || sl_parse_number(v->str, &x) < 0 || x != floor(x))
    return sl_y_err(d, v, err, "%s: expected an integer, got %s%s%s", path, v && v->str ? "'" : "",
                    v && v->str ? v->str : type_name(v), v && v->str ? "'" : "");
  if (x < (double)lo || x > (double)hi)
    return sl_y_err(d, v, err, "%s: %g is outside [%lld, %lld]", path, x, lo, hi);
  *out = (long long)x;
  return SL_OK;
}

int sl_y_bool(const sl_ydoc_t *d, const sl_yval_t *v, const char *path, int *out, sl_err_t *err) {
  if (v && v->type == SL_Y_SCALAR && !v->quoted) {
    if (!strcmp(v->str, "true") || !strcmp(v->str, "True") || !strcmp(v->str, "yes")) {
      *out = 1;
      return SL_OK;
    }
    if (!strcmp(v->str, "false") || !strcmp(v->str, "False") || !strcmp(v->str, "no")) {
      *out = 0;
      return SL_OK;
    }
  }
  return sl_y_err(d, v, err, "%s: expected true or false, got %s%s%s", path, v && v->str ? "'" : "",
                  v && v->str ? v->str : type_name(v), v && v->str ? "'" : "");
}

int sl_y_duration(const sl_ydoc_t *d, const sl_yval_t *v, const char *path, double *out,
                  sl_err_t *err) {
  if (!v || v->type != SL_Y_SCALAR || sl_parse_duration(v->str, out) < 0)
    return sl_y_err(d, v, err, "%s: expected a duration like 15s, 500ms or 5m, got %s%s%s", path,
                    v && v->str ? "'" : "", v && v->str ? v->str : type_name(v),
                    v && v->str ? "'" : "");
  return SL_OK;
}

int sl_y_size(const sl_ydoc_t *d, const sl_yval_t *v, const char *path, size_t *out,
              sl_err_t *err) {
  if (!v || v->type != SL_Y_SCALAR || sl_parse_size(v->str, out) < 0)
    return sl_y_err(d, v, err, "%s: expected a size like 64MiB, got %s%s%s", path,
                    v && v->str ? "'" : "", v && v->str ? v->str : type_name(v),
                    v && v->str ? "'" : "");
  return SL_OK;
}

int sl_y_str(const sl_ydoc_t *d, const sl_yval_t *v, const char *path, char **out, sl_err_t *err) {
  if (!v || v->type != SL_Y_SCALAR)
    return sl_y_err(d, v, err, "%s: expected a string, got %s", path, type_name(v));
  if (!(*out = strdup(v->str))) return sl_err(err, SL_ENOMEM, "out of memory");
  return SL_OK;
}

static int edit_distance(const char *a, const char *b) {
  int la = (int)strlen(a), lb = (int)strlen(b);
  if (la > 40 || lb > 40) return 99;
  int dp[41][41];
  for (int i = 0; i <= la; i++) dp[i][0] = i;
  for (int j = 0; j <= lb; j++) dp[0][j] = j;
  for (int i = 1; i <= la; i++)
    for (int j = 1; j <= lb; j++) {
      int c = dp[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (dp[i - 1][j] + 1 < c) c = dp[i - 1][j] + 1;
      if (dp[i][j - 1] + 1 < c) c = dp[i][j - 1] + 1;
      // A swapped pair of letters is one typo, not two.
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          dp[i - 2][j - 2] + 1 < c)
        c = dp[i - 2][j - 2] + 1;
      dp[i][j] = c;
    }
  return dp[la][lb];
}

int sl_y_known_keys(const sl_ydoc_t *d, const sl_yval_t *map, const char *path,
                    const char *const *allowed, sl_err_t *err) {
  if (!map || map->type != SL_Y_MAP) return SL_OK;
  for (size_t i = 0; i < map->n; i++) {
    int ok = 0;
    const char *best = NULL;
    int best_d = 3;
    for (const char *const *a = allowed; *a; a++) {
      if (!strcmp(*a, map->keys[i])) {
        ok = 1;
        break;
      }
      int dist = edit_distance(*a, map->keys[i]);
      if (dist < best_d) best_d = dist, best = *a;
    }
    if (ok) continue;
    char where[256];
    snprintf(where, sizeof where, "%s%s%s", path, *path ? "." : "", map->keys[i]);
    if (best)
      return sl_err(err, SL_EINVAL, "%s:%d: %s: unknown field (did you mean '%s'?)", d->file,
                    map->key_lines[i], where, best);
    return sl_err(err, SL_EINVAL, "%s:%d: %s: unknown field", d->file, map->key_lines[i], where);
  }
  return SL_OK;
}
