// YAML tree loader (libyaml document API) and typed readers with positioned errors.
#include "core/util/yval.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

// Aliases can make a small file expand into a huge tree ("billion laughs"): cap the nodes built.
#define MAX_NODES 200000
#define MAX_DEPTH 64

typedef struct {
  yaml_document_t *doc;
  size_t built;
  const char *file;
  sl_err_t *err;
} build_ctx_t;

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

static sl_yval_t *build(build_ctx_t *c, yaml_node_t *node, int depth) {
  if (++c->built > MAX_NODES || depth > MAX_DEPTH) {
    sl_err(c->err, SL_EPARSE, "%s:%zu: document too large or too deeply nested", c->file,
           node->start_mark.line + 1);
    return NULL;
  }
  sl_yval_t *v = calloc(1, sizeof *v);
  if (!v) goto oom;
  v->line = (int)node->start_mark.line + 1;
  v->col = (int)node->start_mark.column + 1;
  switch (node->type) {
  case YAML_SCALAR_NODE: {
    const char *s = (const char *)node->data.scalar.value;
    size_t len = node->data.scalar.length;
    v->quoted = node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    if (!v->quoted && (len == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
                       !strcmp(s, "NULL"))) {
      v->type = SL_Y_NULL;
      return v;
    }
    v->type = SL_Y_SCALAR;
    v->str = malloc(len + 1);
    if (!v->str) goto oom;
    memcpy(v->str, s, len);
    v->str[len] = '\0';
    return v;
  }
  case YAML_SEQUENCE_NODE: {
    v->type = SL_Y_SEQ;
    size_t n = node->data.sequence.items.top - node->data.sequence.items.start;
    v->items = calloc(n ? n : 1, sizeof *v->items);
    if (!v->items) goto oom;
    for (size_t i = 0; i < n; i++) {
      yaml_node_t *child = yaml_document_get_node(c->doc, node->data.sequence.items.start[i]);
      if (!child || !(v->items[i] = build(c, child, depth + 1))) goto fail;
      v->n++;
    }
    return v;
  }
  case YAML_MAPPING_NODE: {
    v->type = SL_Y_MAP;
    size_t n = node->data.mapping.pairs.top - node->data.mapping.pairs.start;
    v->items = calloc(n ? n : 1, sizeof *v->items);
    v->keys = calloc(n ? n : 1, sizeof *v->keys);
    v->key_lines = calloc(n ? n : 1, sizeof *v->key_lines);
    if (!v->items || !v->keys || !v->key_lines) goto oom;
    for (size_t i = 0; i < n; i++) {
      yaml_node_pair_t *p = &node->data.mapping.pairs.start[i];
      yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
      yaml_node_t *val = yaml_document_get_node(c->doc, p->value);
      if (!k || !val) goto fail;
      if (k->type != YAML_SCALAR_NODE) {
        sl_err(c->err, SL_EPARSE, "%s:%zu: mapping keys must be plain strings", c->file,
               k->start_mark.line + 1);
        goto fail;
      }
      for (size_t j = 0; j < v->n; j++) {
        if (!strcmp(v->keys[j], (const char *)k->data.scalar.value)) {
          sl_err(c->err, SL_EPARSE, "%s:%zu: duplicate key '%s' (first at line %d)", c->file,
                 k->start_mark.line + 1, v->keys[j], v->key_lines[j]);
          goto fail;
        }
      }
      if (!(v->keys[i] = strdup((const char *)k->data.scalar.value))) goto oom;
      v->key_lines[i] = (int)k->start_mark.line + 1;
      if (!(v->items[i] = build(c, val, depth + 1))) {
        free(v->keys[i]);
        v->keys[i] = NULL;
        goto fail;
      }
      v->n++;
    }
    return v;
  }
  default:
    v->type = SL_Y_NULL;
    return v;
  }
oom:
  sl_err(c->err, SL_ENOMEM, "%s: out of memory", c->file);
fail:
  yval_free(v);
  return NULL;
}

static int load(sl_ydoc_t *d, yaml_parser_t *parser, const char *name, sl_err_t *err) {
  yaml_document_t doc;
  memset(d, 0, sizeof *d);
  d->file = strdup(name);
  if (!d->file) return sl_err(err, SL_ENOMEM, "out of memory");
  if (!yaml_parser_load(parser, &doc)) {
    int rc = sl_err(err, SL_EPARSE, "%s:%zu:%zu: %s%s%s", name, parser->problem_mark.line + 1,
                    parser->problem_mark.column + 1, parser->problem ? parser->problem : "syntax error",
                    parser->context ? " " : "", parser->context ? parser->context : "");
    free(d->file);
    d->file = NULL;
    return rc;
  }
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  int rc = SL_OK;
  if (root) {
    build_ctx_t c = {&doc, 0, name, err};
    d->root = build(&c, root, 0);
    if (!d->root) rc = err ? err->code : SL_EPARSE;
  }
  yaml_document_delete(&doc);
  if (rc < 0) {
    free(d->file);
    d->file = NULL;
  }
  return rc;
}

int sl_ydoc_load_buffer(sl_ydoc_t *d, const char *buf, size_t len, const char *name,
                        sl_err_t *err) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) return sl_err(err, SL_ENOMEM, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  int rc = load(d, &parser, name, err);
  yaml_parser_delete(&parser);
  return rc;
}

int sl_ydoc_load_file(sl_ydoc_t *d, const char *path, sl_err_t *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return sl_err(err, SL_EIO, "%s: %s", path, strerror(errno));
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    fclose(f);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  yaml_parser_set_input_file(&parser, f);
  int rc = load(d, &parser, path, err);
  yaml_parser_delete(&parser);
  fclose(f);
  return rc;
}

void sl_ydoc_free(sl_ydoc_t *d) {
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
  case SL_Y_NULL: return "null";
  case SL_Y_SCALAR: return "a scalar";
  case SL_Y_SEQ: return "a list";
  case SL_Y_MAP: return "a mapping";
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
  if (!*end || !strcmp(end, "s")) mul = 1;
  else if (!strcmp(end, "ms")) mul = 1e-3;
  else if (!strcmp(end, "m")) mul = 60;
  else if (!strcmp(end, "h")) mul = 3600;
  else if (!strcmp(end, "d")) mul = 86400;
  else return SL_EINVAL;
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
  } units[] = {{"", 1},          {"B", 1},           {"KiB", 1024.0},      {"MiB", 1048576.0},
               {"GiB", 1 << 30}, {"KB", 1e3},        {"MB", 1e6},          {"GB", 1e9},
               {"k", 1e3},       {"Ki", 1024.0},     {"Mi", 1048576.0},    {"Gi", 1 << 30}};
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
    return sl_y_err(d, v, err, "%s: expected a number, got %s%s%s", path,
                    v && v->str ? "'" : "", v && v->str ? v->str : type_name(v),
                    v && v->str ? "'" : "");
  if (x < lo || x > hi) return sl_y_err(d, v, err, "%s: %g is outside [%g, %g]", path, x, lo, hi);
  *out = x;
  return SL_OK;
}

int sl_y_int(const sl_ydoc_t *d, const sl_yval_t *v, const char *path, long long lo, long long hi,
             long long *out, sl_err_t *err) {
  double x;
  if (!v || v->type != SL_Y_SCALAR || sl_parse_number(v->str, &x) < 0 || x != floor(x))
    return sl_y_err(d, v, err, "%s: expected an integer, got %s%s%s", path,
                    v && v->str ? "'" : "", v && v->str ? v->str : type_name(v),
                    v && v->str ? "'" : "");
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
  return sl_y_err(d, v, err, "%s: expected true or false, got %s%s%s", path,
                  v && v->str ? "'" : "", v && v->str ? v->str : type_name(v),
                  v && v->str ? "'" : "");
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

int sl_y_str(const sl_ydoc_t *d, const sl_yval_t *v, const char *path, char **out,
             sl_err_t *err) {
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
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && dp[i - 2][j - 2] + 1 < c)
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
