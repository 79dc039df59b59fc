// JSON trees over yajl. See json.h.
#include "core/util/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#define DEFAULT_DEPTH 128
#define DEFAULT_BYTES ((size_t)64 << 20)

// ---- building -----------------------------------------------------------------------------------

static sl_json_t *node(sl_json_type_t t) {
  sl_json_t *j = calloc(1, sizeof *j);
  if (j) j->type = t;
  return j;
}

sl_json_t *sl_json_null(void) {
  return node(SL_JSON_NULL);
}

sl_json_t *sl_json_bool(int b) {
  sl_json_t *j = node(SL_JSON_BOOL);
  if (j) j->b = !!b;
  return j;
}

sl_json_t *sl_json_number(double x) {
  sl_json_t *j = node(SL_JSON_NUMBER);
  if (j) j->num = x;
  return j;
}

sl_json_t *sl_json_number_text(const char *text) {
  sl_json_t *j = node(SL_JSON_NUMBER);
  if (!j) return NULL;
  j->len = strlen(text);
  if (!(j->str = strdup(text))) {
    free(j);
    return NULL;
  }
  j->num = strtod(text, NULL);
  return j;
}

sl_json_t *sl_json_stringn(const char *s, size_t n) {
  sl_json_t *j = node(SL_JSON_STRING);
  if (!j) return NULL;
  if (!(j->str = malloc(n + 1))) {
    free(j);
    return NULL;
  }
  memcpy(j->str, s, n);
  j->str[n] = '\0';
  j->len = n;
  return j;
}

sl_json_t *sl_json_string(const char *s) {
  return sl_json_stringn(s, strlen(s));
}

sl_json_t *sl_json_array(void) {
  return node(SL_JSON_ARRAY);
}

sl_json_t *sl_json_object(void) {
  return node(SL_JSON_OBJECT);
}

void sl_json_free(sl_json_t *j) {
  if (!j) return;
  for (size_t i = 0; i < j->n; i++) {
    sl_json_free(j->items[i]);
    if (j->keys) free(j->keys[i]);
  }
  free(j->items);
  free(j->keys);
  free(j->str);
  free(j);
}

static int grow(sl_json_t *j) {
  if (j->n < j->cap) return SL_OK;
  size_t cap = j->cap ? j->cap * 2 : 4;
  sl_json_t **items = realloc(j->items, cap * sizeof *items);
  if (!items) return SL_ENOMEM;
  j->items = items;
  if (j->type == SL_JSON_OBJECT) {
    char **keys = realloc(j->keys, cap * sizeof *keys);
    if (!keys) return SL_ENOMEM;
    j->keys = keys;
  }
  j->cap = cap;
  return SL_OK;
}

int sl_json_push(sl_json_t *arr, sl_json_t *v) {
  if (!v) return SL_ENOMEM;
  if (!arr || arr->type != SL_JSON_ARRAY || grow(arr) < 0) {
    sl_json_free(v);
    return arr && arr->type == SL_JSON_ARRAY ? SL_ENOMEM : SL_EINVAL;
  }
  arr->items[arr->n++] = v;
  return SL_OK;
}

long sl_json_index(const sl_json_t *obj, const char *key) {
  if (!obj || obj->type != SL_JSON_OBJECT) return -1;
  for (size_t i = 0; i < obj->n; i++)
    if (!strcmp(obj->keys[i], key)) return (long)i;
  return -1;
}

static int set_keyn(sl_json_t *obj, const char *key, size_t klen, sl_json_t *v) {
  for (size_t i = 0; i < obj->n; i++) {
    if (strlen(obj->keys[i]) == klen && !memcmp(obj->keys[i], key, klen)) {
      sl_json_free(obj->items[i]);
      obj->items[i] = v;
      return SL_OK;
    }
  }
  char *k = malloc(klen + 1);
  if (!k || grow(obj) < 0) {
    free(k);
    sl_json_free(v);
    return SL_ENOMEM;
  }
  memcpy(k, key, klen);
  k[klen] = '\0';
  obj->keys[obj->n] = k;
  obj->items[obj->n++] = v;
  return SL_OK;
}

int sl_json_set(sl_json_t *obj, const char *key, sl_json_t *v) {
  if (!v) return SL_ENOMEM;
  if (!obj || obj->type != SL_JSON_OBJECT) {
    sl_json_free(v);
    return SL_EINVAL;
  }
  return set_keyn(obj, key, strlen(key), v);
}

sl_json_t *sl_json_take_at(sl_json_t *j, size_t i) {
  if (!j || i >= j->n) return NULL;
  sl_json_t *v = j->items[i];
  if (j->keys) free(j->keys[i]);
  memmove(j->items + i, j->items + i + 1, (j->n - i - 1) * sizeof *j->items);
  if (j->keys) memmove(j->keys + i, j->keys + i + 1, (j->n - i - 1) * sizeof *j->keys);
  j->n--;
  return v;
}

void sl_json_remove_at(sl_json_t *j, size_t i) {
  sl_json_free(sl_json_take_at(j, i));
}

int sl_json_del(sl_json_t *obj, const char *key) {
  long i = sl_json_index(obj, key);
  if (i < 0) return 0;
  sl_json_remove_at(obj, (size_t)i);
  return 1;
}

sl_json_t *sl_json_clone(const sl_json_t *j) {
  if (!j) return NULL;
  sl_json_t *c = node(j->type);
  if (!c) return NULL;
  c->b = j->b;
  c->num = j->num;
  c->len = j->len;
  if (j->str) {
    if (!(c->str = malloc(j->len + 1))) goto fail;
    memcpy(c->str, j->str, j->len + 1);
  }
  for (size_t i = 0; i < j->n; i++) {
    sl_json_t *v = sl_json_clone(j->items[i]);
    if (!v) goto fail;
    int rc = c->type == SL_JSON_OBJECT ? sl_json_set(c, j->keys[i], v) : sl_json_push(c, v);
    if (rc < 0) goto fail;
  }
  return c;
fail:
  sl_json_free(c);
  return NULL;
}

// ---- reading ------------------------------------------------------------------------------------

sl_json_t *sl_json_get(const sl_json_t *obj, const char *key) {
  long i = sl_json_index(obj, key);
  return i < 0 ? NULL : obj->items[i];
}

sl_json_t *sl_json_at(const sl_json_t *j, const char *path) {
  const sl_json_t *cur = j;
  while (cur && *path) {
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    const sl_json_t *next = NULL;
    if (cur->type == SL_JSON_OBJECT)
      for (size_t i = 0; i < cur->n && !next; i++)
        if (strlen(cur->keys[i]) == n && !memcmp(cur->keys[i], path, n)) next = cur->items[i];
    cur = next;
    path += n + (dot != NULL);
  }
  return (sl_json_t *)cur;
}

const char *sl_json_str_or(const sl_json_t *j, const char *fallback) {
  return j && j->type == SL_JSON_STRING ? j->str : fallback;
}

double sl_json_num_or(const sl_json_t *j, double fallback) {
  return j && j->type == SL_JSON_NUMBER ? j->num : fallback;
}

int sl_json_bool_or(const sl_json_t *j, int fallback) {
  return j && j->type == SL_JSON_BOOL ? j->b : fallback;
}

int sl_json_equal(const sl_json_t *a, const sl_json_t *b) {
  if (!a || !b) return a == b;
  if (a->type != b->type) return 0;
  switch (a->type) {
  case SL_JSON_NULL:
    return 1;
  case SL_JSON_BOOL:
    return a->b == b->b;
  case SL_JSON_NUMBER:
    return a->num == b->num;
  case SL_JSON_STRING:
    return a->len == b->len && !memcmp(a->str, b->str, a->len);
  case SL_JSON_ARRAY:
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
      if (!sl_json_equal(a->items[i], b->items[i])) return 0;
    return 1;
  case SL_JSON_OBJECT:
    if (a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
      if (!sl_json_equal(a->items[i], sl_json_get(b, a->keys[i]))) return 0;
    return 1;
  }
  return 0;
}

// ---- parsing ------------------------------------------------------------------------------------

struct sl_json_stream {
  yajl_handle h;
  sl_json_limits_t lim;
  sl_json_value_fn on_value;
  void *ud;
  sl_json_t **stack; // open containers, outermost first
  int depth, cap;
  char *key; // pending object key
  size_t klen;
  size_t bytes; // content of the value being built
  size_t fed;
  int cb_rc; // what on_value returned, or a limit/alloc failure
  char why[160];
  sl_json_t *single; // sl_json_parse: the one value
  int single_mode;
};

static int emit(sl_json_stream_t *s, sl_json_t *v);

static int fail_cb(sl_json_stream_t *s, int code, const char *why) {
  s->cb_rc = code;
  snprintf(s->why, sizeof s->why, "%s", why);
  return 0; // stops yajl
}

static void clear_stack(sl_json_stream_t *s) {
  if (s->depth > 0) sl_json_free(s->stack[0]);
  s->depth = 0;
  free(s->key);
  s->key = NULL;
  s->bytes = 0;
}

// Adds a finished value to the open container, or hands a top-level value over.
static int add_value(sl_json_stream_t *s, sl_json_t *v, int opens) {
  if (!v) return fail_cb(s, SL_ENOMEM, "out of memory");
  s->bytes += sizeof *v + v->len;
  if (s->bytes > s->lim.max_bytes) {
    sl_json_free(v);
    return fail_cb(s, SL_EPARSE, "value larger than the limit");
  }
  if (s->depth > 0) {
    sl_json_t *top = s->stack[s->depth - 1];
    int rc;
    if (top->type == SL_JSON_OBJECT) {
      rc = set_keyn(top, s->key ? s->key : "", s->key ? s->klen : 0, v);
      free(s->key);
      s->key = NULL;
    } else {
      rc = sl_json_push(top, v);
    }
    if (rc < 0) return fail_cb(s, SL_ENOMEM, "out of memory");
  }
  if (opens) {
    if (s->depth >= s->lim.max_depth) {
      if (s->depth == 0) sl_json_free(v);
      return fail_cb(s, SL_EPARSE, "nested too deeply");
    }
    if (s->depth == s->cap) {
      int cap = s->cap ? s->cap * 2 : 16;
      sl_json_t **st = realloc(s->stack, (size_t)cap * sizeof *st);
      if (!st) {
        if (s->depth == 0) sl_json_free(v);
        return fail_cb(s, SL_ENOMEM, "out of memory");
      }
      s->stack = st;
      s->cap = cap;
    }
    s->stack[s->depth++] = v;
    return 1;
  }
  if (s->depth == 0) return emit(s, v);
  return 1;
}

static int emit(sl_json_stream_t *s, sl_json_t *v) {
  s->bytes = 0;
  if (s->single_mode) {
    if (s->single) {
      sl_json_free(v);
      return fail_cb(s, SL_EPARSE, "more than one value");
    }
    s->single = v;
    return 1;
  }
  int rc = s->on_value(s->ud, v);
  if (rc != 0) return fail_cb(s, rc, "stopped by the consumer");
  return 1;
}

static int cb_null(void *ctx) {
  return add_value(ctx, sl_json_null(), 0);
}

static int cb_bool(void *ctx, int b) {
  return add_value(ctx, sl_json_bool(b), 0);
}

static int cb_number(void *ctx, const char *s, size_t n) {
  sl_json_t *j = node(SL_JSON_NUMBER);
  if (j) {
    if (!(j->str = malloc(n + 1))) {
      free(j);
      j = NULL;
    } else {
      memcpy(j->str, s, n);
      j->str[n] = '\0';
      j->len = n;
      j->num = strtod(j->str, NULL);
    }
  }
  return add_value(ctx, j, 0);
}

static int cb_string(void *ctx, const unsigned char *s, size_t n) {
  return add_value(ctx, sl_json_stringn((const char *)s, n), 0);
}

static int cb_start_map(void *ctx) {
  return add_value(ctx, sl_json_object(), 1);
}

static int cb_key(void *ctx, const unsigned char *k, size_t n) {
  sl_json_stream_t *s = ctx;
  free(s->key);
  if (!(s->key = malloc(n + 1))) return fail_cb(s, SL_ENOMEM, "out of memory");
  memcpy(s->key, k, n);
  s->key[n] = '\0';
  s->klen = n;
  s->bytes += n;
  return 1;
}

static int cb_end(void *ctx) {
  sl_json_stream_t *s = ctx;
  sl_json_t *v = s->stack[--s->depth];
  if (s->depth == 0) return emit(s, v);
  return 1;
}

static int cb_start_array(void *ctx) {
  return add_value(ctx, sl_json_array(), 1);
}

static const yajl_callbacks callbacks = {
    cb_null,      cb_bool, NULL,   NULL,           cb_number, cb_string,
    cb_start_map, cb_key,  cb_end, cb_start_array, cb_end,
};

static sl_json_stream_t *stream_new(const sl_json_limits_t *lim, sl_json_value_fn fn, void *ud) {
  sl_json_stream_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->lim.max_depth = lim && lim->max_depth > 0 ? lim->max_depth : DEFAULT_DEPTH;
  s->lim.max_bytes = lim && lim->max_bytes > 0 ? lim->max_bytes : DEFAULT_BYTES;
  s->on_value = fn;
  s->ud = ud;
  s->h = yajl_alloc(&callbacks, NULL, s);
  if (!s->h) {
    free(s);
    return NULL;
  }
  yajl_config(s->h, yajl_allow_multiple_values, 1);
  return s;
}

sl_json_stream_t *sl_json_stream_new(const sl_json_limits_t *lim, sl_json_value_fn on_value,
                                     void *ud) {
  return on_value ? stream_new(lim, on_value, ud) : NULL;
}

void sl_json_stream_free(sl_json_stream_t *s) {
  if (!s) return;
  clear_stack(s);
  sl_json_free(s->single);
  free(s->stack);
  yajl_free(s->h);
  free(s);
}

size_t sl_json_stream_bytes(const sl_json_stream_t *s) {
  return s->fed;
}

static int report(sl_json_stream_t *s, yajl_status st, const char *buf, size_t len, sl_err_t *err) {
  if (s->cb_rc) {
    int rc = s->cb_rc;
    if (rc == SL_EPARSE || rc == SL_ENOMEM)
      return sl_err(err, rc, "offset %zu: %s", s->fed, s->why);
    return rc; // the consumer's own code; it filled err itself if it wanted to
  }
  s->cb_rc = SL_EPARSE; // yajl cannot resume after an error
  snprintf(s->why, sizeof s->why, "malformed JSON");
  unsigned char *m = yajl_get_error(s->h, 0, (const unsigned char *)buf, len);
  size_t at = s->fed - len + yajl_get_bytes_consumed(s->h);
  int rc = sl_err(err, SL_EPARSE, "offset %zu: %s", at, m ? (const char *)m : "malformed JSON");
  if (m) yajl_free_error(s->h, m);
  // yajl leaves trailing whitespace in its message; trim it.
  if (err) {
    size_t n = strlen(err->msg);
    while (n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == ' ')) err->msg[--n] = '\0';
  }
  (void)st;
  return rc;
}

int sl_json_stream_feed(sl_json_stream_t *s, const char *buf, size_t len, sl_err_t *err) {
  if (s->cb_rc) return sl_err(err, SL_ESTATE, "the stream already failed");
  s->fed += len;
  yajl_status st = yajl_parse(s->h, (const unsigned char *)buf, len);
  if (st == yajl_status_ok) return SL_OK;
  return report(s, st, buf, len, err);
}

int sl_json_stream_finish(sl_json_stream_t *s, sl_err_t *err) {
  if (s->cb_rc) return sl_err(err, SL_ESTATE, "the stream already failed");
  yajl_status st = yajl_complete_parse(s->h);
  if (st != yajl_status_ok) return report(s, st, "", 0, err);
  if (s->depth > 0) return sl_err(err, SL_EPARSE, "offset %zu: truncated value", s->fed);
  return SL_OK;
}

sl_json_t *sl_json_parse(const char *buf, size_t len, const sl_json_limits_t *lim, sl_err_t *err) {
  sl_json_stream_t *s = stream_new(lim, NULL, NULL);
  if (!s) {
    sl_err(err, SL_ENOMEM, "out of memory");
    return NULL;
  }
  s->single_mode = 1;
  int rc = sl_json_stream_feed(s, buf, len, err);
  if (rc == 0) rc = sl_json_stream_finish(s, err);
  if (rc == 0 && !s->single) rc = sl_err(err, SL_EPARSE, "offset 0: no JSON value");
  sl_json_t *v = rc == 0 ? s->single : NULL;
  if (rc == 0) s->single = NULL;
  sl_json_stream_free(s);
  return v;
}

// ---- writing ------------------------------------------------------------------------------------

int sl_json_buf_add(sl_json_buf_t *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1) cap *= 2;
    char *nb = realloc(b->buf, cap);
    if (!nb) return SL_ENOMEM;
    b->buf = nb;
    b->cap = cap;
  }
  memcpy(b->buf + b->len, s, n);
  b->len += n;
  b->buf[b->len] = '\0';
  return SL_OK;
}

void sl_json_buf_deinit(sl_json_buf_t *b) {
  free(b->buf);
  memset(b, 0, sizeof *b);
}

typedef struct {
  sl_json_buf_t *b;
  int failed;
} print_ctx_t;

static void gen_print(void *ctx, const char *s, size_t n) {
  print_ctx_t *p = ctx;
  if (!p->failed && sl_json_buf_add(p->b, s, n) < 0) p->failed = 1;
}

int sl_json_buf_quote(sl_json_buf_t *b, const char *s, size_t n) {
  yajl_gen g = yajl_gen_alloc(NULL);
  if (!g) return SL_ENOMEM;
  print_ctx_t pc = {b, 0};
  yajl_gen_config(g, yajl_gen_print_callback, gen_print, &pc);
  yajl_gen_status st = yajl_gen_string(g, (const unsigned char *)s, n);
  yajl_gen_free(g);
  if (pc.failed) return SL_ENOMEM;
  return st == yajl_gen_status_ok ? SL_OK : SL_EINVAL;
}

static yajl_gen_status gen(yajl_gen g, const sl_json_t *j, int depth) {
  if (depth > 1000) return yajl_max_depth_exceeded;
  switch (j->type) {
  case SL_JSON_NULL:
    return yajl_gen_null(g);
  case SL_JSON_BOOL:
    return yajl_gen_bool(g, j->b);
  case SL_JSON_NUMBER:
    if (j->str) return yajl_gen_number(g, j->str, j->len);
    if (!isfinite(j->num)) return yajl_gen_null(g);
    if (j->num == floor(j->num) && fabs(j->num) < 1e15) {
      char t[32];
      int n = snprintf(t, sizeof t, "%.0f", j->num);
      return yajl_gen_number(g, t, (size_t)n);
    }
    {
      // The shortest text that reads back as the same double (yajl's own uses %.20g: 0.1 would
      // be written 0.10000000000000000555).
      char t[40];
      int n = 0;
      for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(t, sizeof t, "%.*g", prec, j->num);
        if (strtod(t, NULL) == j->num) break;
      }
      return yajl_gen_number(g, t, (size_t)n);
    }
  case SL_JSON_STRING:
    return yajl_gen_string(g, (const unsigned char *)j->str, j->len);
  case SL_JSON_ARRAY: {
    yajl_gen_status st = yajl_gen_array_open(g);
    for (size_t i = 0; i < j->n && st == yajl_gen_status_ok; i++)
      st = gen(g, j->items[i], depth + 1);
    return st == yajl_gen_status_ok ? yajl_gen_array_close(g) : st;
  }
  case SL_JSON_OBJECT: {
    yajl_gen_status st = yajl_gen_map_open(g);
    for (size_t i = 0; i < j->n && st == yajl_gen_status_ok; i++) {
      st = yajl_gen_string(g, (const unsigned char *)j->keys[i], strlen(j->keys[i]));
      if (st == yajl_gen_status_ok) st = gen(g, j->items[i], depth + 1);
    }
    return st == yajl_gen_status_ok ? yajl_gen_map_close(g) : st;
  }
  }
  return yajl_gen_invalid_string;
}

int sl_json_write_buf(const sl_json_t *j, sl_json_buf_t *b) {
  yajl_gen g = yajl_gen_alloc(NULL);
  if (!g) return SL_ENOMEM;
  print_ctx_t pc = {b, 0};
  yajl_gen_config(g, yajl_gen_print_callback, gen_print, &pc);
  yajl_gen_status st = gen(g, j, 0);
  yajl_gen_free(g);
  if (pc.failed) return SL_ENOMEM;
  return st == yajl_gen_status_ok ? SL_OK : SL_EINVAL;
}

int sl_json_write(const sl_json_t *j, char **out, size_t *len, sl_err_t *err) {
  sl_json_buf_t b = {0};
  int rc = sl_json_write_buf(j, &b);
  if (rc < 0) {
    sl_json_buf_deinit(&b);
    return sl_err(err, rc, rc == SL_ENOMEM ? "out of memory" : "a string is not valid UTF-8");
  }
  if (!b.buf && sl_json_buf_add(&b, "", 0) < 0) return sl_err(err, SL_ENOMEM, "out of memory");
  *out = b.buf;
  if (len) *len = b.len;
  return SL_OK;
}
