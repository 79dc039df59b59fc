// The Mooncake trace: JSON lines {"timestamp": ms, "input_length": n, "output_length": n,
// "hash_ids": [...]}, parsed with yajl one line at a time so errors name their line. hash_ids
// are the prompt's 512-token blocks (equal ids = same prefix), kept as a trie of blocks
// (core/sim/blocks.h): a request carries its last block, and its prefix_blocks is the leading run
// of its blocks that some earlier request already had, i.e. what an unbounded prefix cache would
// hit. The trie is the only state that grows, bounded by the file's own size.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "core/sim/trace_json.h"

enum { K_OTHER, K_TS, K_IN, K_OUT, K_HASH };
static const char *const key_names[] = {"", "timestamp", "input_length", "output_length",
                                        "hash_ids"};

typedef struct {
  sl_trace_src_t base;
  sl_trace_lines_t l;
  yajl_handle h;
  sl_blocks_t blocks;
  sl_err_t *err; // where callbacks report, valid during yajl_parse
  int rc;        // callback failure code
  // the object being read
  int depth, key, objects;
  bool seen[5];
  double ts;
  uint32_t in, out, prefix;
  uint32_t block; // the last block of the object's hash_ids so far
  bool in_prefix;
  // across lines
  bool have0;
  double ts0, last, tol;
} mc_t;

static int fail(mc_t *m, const char *fmt, const char *arg) {
  m->rc = sl_trace_lines_err(&m->l, m->err, fmt, arg);
  return 0;
}

static int scalar_ok(mc_t *m, const char *type) {
  if (m->depth == 0) return fail(m, "expected a JSON object, got %s", type);
  if (m->depth == 1 && m->key != K_OTHER) {
    m->rc = sl_trace_lines_err(&m->l, m->err, "%s must be %s, got %s", key_names[m->key],
                               m->key == K_HASH ? "an array" : "a number", type);
    return 0;
  }
  if (m->depth == 2 && m->key == K_HASH)
    return fail(m, "hash_ids must hold integers, got %s", type);
  return 1;
}

static int cb_null(void *ctx) {
  return scalar_ok(ctx, "null");
}
static int cb_bool(void *ctx, int b) {
  return scalar_ok(ctx, "a boolean");
}
static int cb_string(void *ctx, const unsigned char *s, size_t n) {
  return scalar_ok(ctx, "a string");
}

static int length(mc_t *m, const char *s, size_t n, uint32_t *out) {
  uint64_t v;
  double x;
  const char *what = key_names[m->key];
  if (sl_trace_lines_uint(s, n, &v) && v <= UINT32_MAX) {
    *out = (uint32_t)v;
    return 1;
  }
  if (sl_trace_lines_num(s, n, &x) && x < 0) return fail(m, "%s is negative", what);
  if (sl_trace_lines_num(s, n, &x) && x == floor(x)) return fail(m, "%s is too large", what);
  return fail(m, "%s is not a whole number", what);
}

static int cb_number(void *ctx, const char *s, size_t n) {
  mc_t *m = ctx;
  if (m->depth == 0) return fail(m, "expected a JSON object, got %s", "a number");
  if (m->depth == 1) {
    switch (m->key) {
    case K_TS:
      if (!sl_trace_lines_num(s, n, &m->ts)) return fail(m, "%s is out of range", "timestamp");
      return 1;
    case K_IN:
      return length(m, s, n, &m->in);
    case K_OUT:
      return length(m, s, n, &m->out);
    case K_HASH:
      return fail(m, "hash_ids must be an array, got %s", "a number");
    default:
      return 1;
    }
  }
  if (m->depth == 2 && m->key == K_HASH) {
    bool neg = n > 0 && s[0] == '-';
    uint64_t id;
    if (!sl_trace_lines_uint(s + neg, n - neg, &id))
      return fail(m, "hash_ids must hold integers%s", "");
    bool seen;
    if (sl_blocks_intern(&m->blocks, m->block, neg ? ~id : id, &m->block, &seen) < 0) {
      m->rc = sl_err(m->err, SL_ENOMEM, "out of memory");
      return 0;
    }
    if (m->in_prefix && seen)
      m->prefix++;
    else
      m->in_prefix = false;
  }
  return 1;
}

static int cb_start_map(void *ctx) {
  mc_t *m = ctx;
  if (m->depth == 1 && m->key != K_OTHER) return scalar_ok(m, "an object");
  if (m->depth == 2 && m->key == K_HASH) return scalar_ok(m, "an object");
  if (m->depth == 0) {
    m->key = K_OTHER;
    memset(m->seen, 0, sizeof m->seen);
    m->in = m->out = m->prefix = 0;
    m->block = SL_BLOCK_NONE;
    m->ts = 0;
  }
  m->depth++;
  return 1;
}

static int cb_map_key(void *ctx, const unsigned char *k, size_t n) {
  mc_t *m = ctx;
  if (m->depth != 1) return 1;
  m->key = K_OTHER;
  for (int i = K_TS; i <= K_HASH; i++)
    if (strlen(key_names[i]) == n && !memcmp(key_names[i], k, n)) m->key = i;
  if (m->key != K_OTHER) {
    if (m->seen[m->key]) return fail(m, "key '%s' appears twice", key_names[m->key]);
    m->seen[m->key] = true;
  }
  return 1;
}

static int cb_end_map(void *ctx) {
  mc_t *m = ctx;
  if (--m->depth == 0)
    m->objects++;
  else if (m->depth == 1)
    m->key = K_OTHER; // a nested value under an unknown key ended
  return 1;
}

static int cb_start_array(void *ctx) {
  mc_t *m = ctx;
  if (m->depth == 0) return fail(m, "expected a JSON object, got %s", "an array");
  if (m->depth == 1 && m->key != K_OTHER && m->key != K_HASH) return scalar_ok(m, "an array");
  if (m->depth == 2 && m->key == K_HASH) return scalar_ok(m, "an array");
  if (m->depth == 1 && m->key == K_HASH) m->in_prefix = true, m->block = SL_BLOCK_NONE;
  m->depth++;
  return 1;
}

static int cb_end_array(void *ctx) {
  mc_t *m = ctx;
  m->depth--;
  return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_bool,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end_map,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end_array,
};

// yajl's own message for a syntax error, without its multi-line context.
static int syntax(mc_t *m, const char *line, size_t len) {
  unsigned char *msg = yajl_get_error(m->h, 0, (const unsigned char *)line, len);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", msg ? (const char *)msg : "invalid JSON");
  if (msg) yajl_free_error(m->h, msg);
  size_t n = strlen(buf);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = '\0';
  return sl_trace_lines_err(&m->l, m->err, "invalid JSON (%s)", buf);
}

static int mc_next(sl_trace_src_t *s, sl_req_t *r, sl_rng_t **rng, sl_err_t *err) {
  mc_t *m = (mc_t *)s;
  const char *line;
  size_t len;
  for (;;) {
    int rc = sl_trace_lines_next(&m->l, &line, &len, err);
    if (rc <= 0) return rc;
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
    if (i == len) continue;
    m->err = err;
    m->rc = 0;
    m->objects = 0;
    yajl_status st = yajl_parse(m->h, (const unsigned char *)line, len);
    if (st == yajl_status_ok) st = yajl_parse(m->h, (const unsigned char *)"\n", 1);
    if (st == yajl_status_client_canceled) return m->rc;
    if (st != yajl_status_ok) return syntax(m, line, len);
    if (m->depth > 0 || m->objects == 0)
      return sl_trace_lines_err(&m->l, err, "truncated JSON object");
    if (m->objects > 1) return sl_trace_lines_err(&m->l, err, "more than one object on a line");
    for (int k = K_TS; k <= K_OUT; k++)
      if (!m->seen[k]) return sl_trace_lines_err(&m->l, err, "missing key '%s'", key_names[k]);
    if (!m->have0) {
      m->have0 = true;
      m->ts0 = m->ts;
    }
    double t = (m->ts - m->ts0) / 1000.0;
    if (!isfinite(t)) return sl_trace_lines_err(&m->l, err, "timestamp is out of range");
    if (t < m->last) {
      if (t < m->last - m->tol)
        return sl_trace_lines_err(&m->l, err, "timestamp goes back %.6g s (tolerance %g s)",
                                  m->last - t, m->tol);
      t = m->last;
    }
    m->last = t;
    memset(r, 0, sizeof *r);
    r->t = t;
    r->in_tokens = m->in;
    r->out_tokens = m->out;
    r->prefix_blocks = m->prefix;
    r->block = m->block;
    return 1;
  }
}

static void mc_free(sl_trace_src_t *s) {
  mc_t *m = (mc_t *)s;
  if (m->h) yajl_free(m->h);
  sl_blocks_deinit(&m->blocks);
  sl_trace_lines_deinit(&m->l);
  free(m);
}

int sl_trace_json_open(sl_trace_lines_t *l, const sl_trace_opts_t *o, sl_trace_src_t **out,
                       sl_err_t *err) {
  mc_t *m = calloc(1, sizeof *m);
  if (!m) {
    sl_trace_lines_deinit(l);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  m->l = *l;
  m->tol = o->order_tol_s;
  sl_blocks_init(&m->blocks, SL_TRACE_MOONCAKE_BLOCK);
  m->h = yajl_alloc(&callbacks, NULL, m);
  if (!m->h) {
    mc_free(&m->base);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  yajl_config(m->h, yajl_allow_multiple_values, 1);
  m->base.next = mc_next;
  m->base.free = mc_free;
  m->base.kind = "mooncake";
  m->base.has_tokens = true;
  m->base.end = INFINITY;
  m->base.blocks = &m->blocks;
  *out = &m->base;
  return 0;
}
