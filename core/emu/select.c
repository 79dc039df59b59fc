// Label and field selectors. See select.h.
#include "core/emu/select.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_sel_deinit(sl_sel_t *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) {
    free(s->reqs[i].key);
    for (size_t j = 0; j < s->reqs[i].n_values; j++) free(s->reqs[i].values[j]);
    free(s->reqs[i].values);
  }
  free(s->reqs);
  s->reqs = NULL;
  s->n = 0;
}

static sl_sel_req_t *add_req(sl_sel_t *s) {
  sl_sel_req_t *r = realloc(s->reqs, (s->n + 1) * sizeof *r);
  if (!r) return NULL;
  s->reqs = r;
  memset(&r[s->n], 0, sizeof r[s->n]);
  return &r[s->n++];
}

static int add_value(sl_sel_req_t *r, const char *v, size_t n) {
  char **vs = realloc(r->values, (r->n_values + 1) * sizeof *vs);
  if (!vs) return SL_ENOMEM;
  r->values = vs;
  if (!(vs[r->n_values] = strndup(v, n))) return SL_ENOMEM;
  r->n_values++;
  return SL_OK;
}

// ---- label syntax ------------------------------------------------------------------------------

// A label name or value segment: up to 63 of [A-Za-z0-9-_.], alphanumeric at both ends.
static int valid_name(const char *s, size_t n, int allow_empty) {
  if (n == 0) return allow_empty;
  if (n > 63) return 0;
  if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1])) return 0;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') return 0;
  return 1;
}

// A DNS-1123 subdomain: dot-separated lowercase labels, 253 at most.
static int valid_subdomain(const char *s, size_t n) {
  if (n == 0 || n > 253) return 0;
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || s[i] == '.') {
      size_t len = i - start;
      if (len == 0 || len > 63) return 0;
      if (!isalnum((unsigned char)s[start]) || !isalnum((unsigned char)s[i - 1])) return 0;
      for (size_t k = start; k < i; k++)
        if (!(islower((unsigned char)s[k]) || isdigit((unsigned char)s[k]) || s[k] == '-'))
          return 0;
      start = i + 1;
    }
  }
  return 1;
}

static int valid_key(const char *s, size_t n) {
  const char *slash = memchr(s, '/', n);
  if (!slash) return valid_name(s, n, 0);
  size_t p = (size_t)(slash - s);
  return valid_subdomain(s, p) && valid_name(slash + 1, n - p - 1, 0);
}

typedef enum {
  T_END,
  T_IDENT,
  T_BANG,
  T_EQ,
  T_EQEQ,
  T_NEQ,
  T_LPAREN,
  T_RPAREN,
  T_COMMA,
  T_GT,
  T_LT,
} tok_t;

typedef struct {
  const char *s;
  size_t pos;
  const char *tok; // start of the current identifier
  size_t tlen;
} lex_t;

static int is_special(char c) {
  return c == '!' || c == '=' || c == '(' || c == ')' || c == ',' || c == '<' || c == '>';
}

static tok_t lex_next(lex_t *l) {
  while (l->s[l->pos] && isspace((unsigned char)l->s[l->pos])) l->pos++;
  const char *p = l->s + l->pos;
  l->tok = p;
  l->tlen = 0;
  switch (*p) {
  case '\0':
    return T_END;
  case '!':
    if (p[1] == '=') {
      l->pos += 2;
      return T_NEQ;
    }
    l->pos++;
    return T_BANG;
  case '=':
    if (p[1] == '=') {
      l->pos += 2;
      return T_EQEQ;
    }
    l->pos++;
    return T_EQ;
  case '(':
    l->pos++;
    return T_LPAREN;
  case ')':
    l->pos++;
    return T_RPAREN;
  case ',':
    l->pos++;
    return T_COMMA;
  case '>':
    l->pos++;
    return T_GT;
  case '<':
    l->pos++;
    return T_LT;
  }
  size_t n = 0;
  while (p[n] && !isspace((unsigned char)p[n]) && !is_special(p[n])) n++;
  l->tlen = n;
  l->pos += n;
  return T_IDENT;
}

static tok_t lex_peek(lex_t *l) {
  size_t save = l->pos;
  const char *t = l->tok;
  size_t n = l->tlen;
  tok_t k = lex_next(l);
  l->pos = save;
  l->tok = t;
  l->tlen = n;
  return k;
}

static int is_word(const lex_t *l, const char *w) {
  return l->tlen == strlen(w) && !memcmp(l->tok, w, l->tlen);
}

static int bad(sl_err_t *err, const char *sel, const char *why) {
  return sl_err(err, SL_EPARSE, "unable to parse requirement in \"%.200s\": %s", sel, why);
}

static int parse_int(const char *s, size_t n, long long *out) {
  char buf[32];
  if (n == 0 || n >= sizeof buf) return -1;
  memcpy(buf, s, n);
  buf[n] = '\0';
  char *end;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (*end || errno) return -1;
  *out = v;
  return 0;
}

int sl_sel_parse_labels(const char *s, sl_sel_t *out, sl_err_t *err) {
  memset(out, 0, sizeof *out);
  if (!s) return SL_OK;
  lex_t l = {s, 0, NULL, 0};
  if (lex_peek(&l) == T_END) return SL_OK;
  int rc = SL_OK;
  for (;;) {
    sl_sel_req_t *r = add_req(out);
    if (!r) {
      rc = sl_err(err, SL_ENOMEM, "out of memory");
      goto fail;
    }
    tok_t t = lex_next(&l);
    int negate = 0;
    if (t == T_BANG) {
      negate = 1;
      t = lex_next(&l);
    }
    if (t != T_IDENT) {
      rc = bad(err, s, "expected a label key");
      goto fail;
    }
    if (!valid_key(l.tok, l.tlen)) {
      char why[160];
      snprintf(why, sizeof why, "invalid label key \"%.*s\"", (int)(l.tlen > 100 ? 100 : l.tlen),
               l.tok);
      rc = bad(err, s, why);
      goto fail;
    }
    if (!(r->key = strndup(l.tok, l.tlen))) {
      rc = sl_err(err, SL_ENOMEM, "out of memory");
      goto fail;
    }
    tok_t op = lex_peek(&l);
    if (negate) {
      r->op = SL_SEL_NOTEXISTS;
    } else if (op == T_END || op == T_COMMA) {
      r->op = SL_SEL_EXISTS;
    } else if (op == T_EQ || op == T_EQEQ || op == T_NEQ || op == T_GT || op == T_LT) {
      lex_next(&l);
      r->op = op == T_NEQ  ? SL_SEL_NEQ
              : op == T_GT ? SL_SEL_GT
              : op == T_LT ? SL_SEL_LT
                           : SL_SEL_EQ;
      tok_t v = lex_peek(&l);
      const char *val = "";
      size_t vlen = 0;
      if (v == T_IDENT) {
        lex_next(&l);
        val = l.tok;
        vlen = l.tlen;
      } else if (r->op == SL_SEL_GT || r->op == SL_SEL_LT || (v != T_END && v != T_COMMA)) {
        rc = bad(err, s, "expected a value");
        goto fail;
      }
      long long dummy;
      if ((r->op == SL_SEL_GT || r->op == SL_SEL_LT) && parse_int(val, vlen, &dummy)) {
        rc = bad(err, s, "for 'gt', 'lt' operators, the value must be an integer");
        goto fail;
      }
      if (r->op != SL_SEL_GT && r->op != SL_SEL_LT && !valid_name(val, vlen, 1)) {
        rc = bad(err, s, "invalid label value");
        goto fail;
      }
      if ((rc = add_value(r, val, vlen)) < 0) {
        sl_err(err, rc, "out of memory");
        goto fail;
      }
    } else if (op == T_IDENT) {
      lex_next(&l);
      if (is_word(&l, "in"))
        r->op = SL_SEL_IN;
      else if (is_word(&l, "notin"))
        r->op = SL_SEL_NOTIN;
      else {
        rc = bad(err, s, "expected an operator (=, ==, !=, in, notin, >, <)");
        goto fail;
      }
      if (lex_next(&l) != T_LPAREN) {
        rc = bad(err, s, "expected '(' after in/notin");
        goto fail;
      }
      for (;;) {
        tok_t v = lex_next(&l);
        if (v == T_RPAREN && r->n_values == 0) break;
        const char *val = "";
        size_t vlen = 0;
        if (v == T_IDENT) {
          val = l.tok;
          vlen = l.tlen;
          v = lex_next(&l);
        }
        if (!valid_name(val, vlen, 1)) {
          rc = bad(err, s, "invalid label value");
          goto fail;
        }
        if ((rc = add_value(r, val, vlen)) < 0) {
          sl_err(err, rc, "out of memory");
          goto fail;
        }
        if (v == T_RPAREN) break;
        if (v != T_COMMA) {
          rc = bad(err, s, "expected ',' or ')' in a set of values");
          goto fail;
        }
      }
      if (r->n_values == 0) {
        rc = bad(err, s, "for 'in', 'notin' operators, values set can't be empty");
        goto fail;
      }
    } else {
      rc = bad(err, s, "expected an operator (=, ==, !=, in, notin, >, <)");
      goto fail;
    }
    tok_t sep = lex_next(&l);
    if (sep == T_END) break;
    if (sep != T_COMMA) {
      rc = bad(err, s, "expected ',' between requirements");
      goto fail;
    }
  }
  return SL_OK;
fail:
  sl_sel_deinit(out);
  return rc;
}

int sl_sel_parse_fields(const char *s, sl_sel_t *out, sl_err_t *err) {
  memset(out, 0, sizeof *out);
  if (!s || !*s) return SL_OK;
  size_t n = strlen(s);
  char *buf = malloc(n + 1);
  if (!buf) return sl_err(err, SL_ENOMEM, "out of memory");
  int rc = SL_OK;
  size_t i = 0;
  while (i <= n) {
    // One term up to an unescaped ','; the key ends at the first unescaped operator.
    size_t k = 0, key_end = (size_t)-1;
    sl_sel_op_t op = SL_SEL_EQ;
    for (; i < n && s[i] != ','; i++) {
      if (s[i] == '\\' && i + 1 < n) {
        buf[k++] = s[++i];
        continue;
      }
      if (key_end == (size_t)-1 && (s[i] == '=' || (s[i] == '!' && s[i + 1] == '='))) {
        key_end = k;
        op = s[i] == '!' ? SL_SEL_NEQ : SL_SEL_EQ;
        i += (s[i] == '!' || s[i + 1] == '=') ? 1 : 0;
        continue;
      }
      buf[k++] = s[i];
    }
    i++; // past ','
    if (key_end == (size_t)-1) {
      rc = sl_err(err, SL_EPARSE, "invalid field selector \"%.200s\": a term needs =, == or !=", s);
      goto fail;
    }
    size_t ks = 0, ke = key_end;
    while (ks < ke && isspace((unsigned char)buf[ks])) ks++;
    while (ke > ks && isspace((unsigned char)buf[ke - 1])) ke--;
    if (ke == ks) {
      rc = sl_err(err, SL_EPARSE, "invalid field selector \"%.200s\": empty field name", s);
      goto fail;
    }
    sl_sel_req_t *r = add_req(out);
    if (!r || !(r->key = strndup(buf + ks, ke - ks)) ||
        add_value(r, buf + key_end, k - key_end) < 0) {
      rc = sl_err(err, SL_ENOMEM, "out of memory");
      goto fail;
    }
    r->op = op;
  }
  free(buf);
  return SL_OK;
fail:
  free(buf);
  sl_sel_deinit(out);
  return rc;
}

// ---- matching ----------------------------------------------------------------------------------

static int in_values(const sl_sel_req_t *r, const char *v) {
  for (size_t i = 0; i < r->n_values; i++)
    if (!strcmp(r->values[i], v)) return 1;
  return 0;
}

static int match_one(const sl_sel_req_t *r, const char *v) {
  switch (r->op) {
  case SL_SEL_EQ:
    return v && !strcmp(v, r->values[0]);
  case SL_SEL_NEQ:
    return !v || strcmp(v, r->values[0]);
  case SL_SEL_IN:
    return v && in_values(r, v);
  case SL_SEL_NOTIN:
    return !v || !in_values(r, v);
  case SL_SEL_EXISTS:
    return v != NULL;
  case SL_SEL_NOTEXISTS:
    return v == NULL;
  case SL_SEL_GT:
  case SL_SEL_LT: {
    long long a, b;
    if (!v || parse_int(v, strlen(v), &a) || parse_int(r->values[0], strlen(r->values[0]), &b))
      return 0;
    return r->op == SL_SEL_GT ? a > b : a < b;
  }
  }
  return 0;
}

int sl_sel_match_labels(const sl_sel_t *s, const sl_json_t *labels) {
  for (size_t i = 0; i < s->n; i++) {
    const sl_json_t *v = sl_json_get(labels, s->reqs[i].key);
    if (!match_one(&s->reqs[i], v && v->type == SL_JSON_STRING ? v->str : NULL)) return 0;
  }
  return 1;
}

const char *sl_sel_field_value(const sl_json_t *obj, const char *path, char *buf, size_t n) {
  const sl_json_t *v = sl_json_at(obj, path);
  if (!v) return "";
  switch (v->type) {
  case SL_JSON_STRING:
    return v->str;
  case SL_JSON_BOOL:
    return v->b ? "true" : "false";
  case SL_JSON_NUMBER:
    if (v->str) return v->str;
    snprintf(buf, n, "%.17g", v->num);
    return buf;
  default:
    return "";
  }
}

int sl_sel_match_fields(const sl_sel_t *s, const sl_json_t *obj) {
  char buf[64];
  for (size_t i = 0; i < s->n; i++) {
    const char *v = sl_sel_field_value(obj, s->reqs[i].key, buf, sizeof buf);
    if (!match_one(&s->reqs[i], v)) return 0;
  }
  return 1;
}

// ---- LabelSelector objects
// -----------------------------------------------------------------------

static int add_str(sl_json_buf_t *b, const char *s) {
  return sl_json_buf_add(b, s, strlen(s));
}

char *sl_sel_format(const sl_json_t *ls) {
  sl_json_buf_t b = {0};
  if (sl_json_buf_add(&b, "", 0) < 0) return NULL;
  const sl_json_t *ml = sl_json_get(ls, "matchLabels");
  int first = 1;
  for (size_t i = 0; ml && ml->type == SL_JSON_OBJECT && i < ml->n; i++) {
    if (!first) add_str(&b, ",");
    first = 0;
    add_str(&b, ml->keys[i]);
    add_str(&b, "=");
    add_str(&b, sl_json_str_or(ml->items[i], ""));
  }
  const sl_json_t *me = sl_json_get(ls, "matchExpressions");
  for (size_t i = 0; me && me->type == SL_JSON_ARRAY && i < me->n; i++) {
    const char *key = sl_json_str_or(sl_json_get(me->items[i], "key"), "");
    const char *op = sl_json_str_or(sl_json_get(me->items[i], "operator"), "");
    const sl_json_t *vals = sl_json_get(me->items[i], "values");
    if (!first) add_str(&b, ",");
    first = 0;
    if (!strcmp(op, "Exists")) {
      add_str(&b, key);
    } else if (!strcmp(op, "DoesNotExist")) {
      add_str(&b, "!");
      add_str(&b, key);
    } else {
      add_str(&b, key);
      add_str(&b, !strcmp(op, "NotIn") ? " notin (" : " in (");
      for (size_t j = 0; vals && vals->type == SL_JSON_ARRAY && j < vals->n; j++) {
        if (j) add_str(&b, ",");
        add_str(&b, sl_json_str_or(vals->items[j], ""));
      }
      add_str(&b, ")");
    }
  }
  return b.buf;
}

int sl_sel_object_matches(const sl_json_t *ls, const sl_json_t *labels) {
  char *s = sl_sel_format(ls);
  if (!s) return 0;
  sl_sel_t sel;
  int ok = sl_sel_parse_labels(s, &sel, NULL) == 0 && sl_sel_match_labels(&sel, labels);
  sl_sel_deinit(&sel);
  free(s);
  return ok;
}
