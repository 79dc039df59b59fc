// The emulator's HTTP API: resource paths parsed into (type, namespace, name, subresource),
// each verb turned into a store read or a write operation, lists and Tables, chunked watches
// with history replay, bookmarks and timeouts, the scale and status subresources, the three
// patch formats plus a server-side apply approximation, fault injection, and the /_emu admin
// endpoints.
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/emu/api.h"
#include "core/emu/discovery.h"
#include "core/emu/table.h"
#include "core/emu/kinds.h"
#include "core/emu/patch.h"
#include "core/emu/proto.h"
#include "core/emu/select.h"
#include "core/util/log.h"
#include "core/util/yval.h"

#define BODY_DEPTH 100

struct sl_emu_watch {
  sl_emu_t *e;
  sl_emu_rtype_t *t;
  char *ns; // NULL: every namespace
  char api_version[200];
  sl_sel_t lsel, fsel;
  sl_http_stream_t *st;
  sl_emu_watcher_t *w;
  int table, include, bookmarks;
  uv_timer_t bookmark, timeout;
  int handles;
  int closed;
  sl_emu_watch_t *next, *prev;
};

typedef struct {
  const char *group, *version;
  char gbuf[200], vbuf[64];
  char ns[254];
  int has_ns;
  char res[128], name[254], sub[32];
  sl_emu_rtype_t *t;
  int legacy_watch;
} target_t;

// ---- replies -----------------------------------------------------------------------------------

static void common_headers(sl_http_req_t *r) {
  sl_http_add_header(r, "Cache-Control", "no-cache, private");
}

void emu_reply_json(sl_http_req_t *r, int code, sl_json_t *j) {
  char *out = NULL;
  size_t len = 0;
  sl_err_t err;
  common_headers(r);
  if (!j || sl_json_write(j, &out, &len, &err) < 0) {
    sl_json_free(j);
    static const char msg[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                              "\"reason\":\"InternalError\",\"code\":500}";
    sl_http_reply(r, 500, "application/json", msg, sizeof msg - 1);
    return;
  }
  sl_json_free(j);
  sl_http_reply_owned(r, code, "application/json", out, len);
}

void emu_reply_fail(sl_http_req_t *r, const sl_emu_fail_t *f) {
  emu_reply_json(r, f->code, emu_status(f));
}

static void fail(sl_http_req_t *r, int code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(sl_http_req_t *r, int code, const char *reason, const char *fmt, ...) {
  sl_emu_fail_t f = {0};
  f.code = code;
  f.reason = reason;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(f.msg, sizeof f.msg, fmt, ap);
  va_end(ap);
  emu_reply_fail(r, &f);
}

static void not_found_resource(sl_http_req_t *r) {
  fail(r, 404, "NotFound", "the server could not find the requested resource");
}

// The object as served at the requested version: stored versions keep the apiVersion they were
// written with, so a multi-version CRD's objects are relabelled on the way out.
static char *render(sl_emu_obj_t *o, const char *api_version, size_t *len) {
  const char *av = sl_json_str_or(sl_json_get(o->json, "apiVersion"), "");
  if (!strcmp(av, api_version)) {
    const char *b = sl_emu_obj_bytes(o, len);
    if (!b) return NULL;
    char *c = malloc(*len + 1);
    if (c) memcpy(c, b, *len + 1);
    return c;
  }
  sl_json_t *j = sl_json_clone(o->json);
  char *out = NULL;
  sl_err_t err;
  if (j && sl_json_set(j, "apiVersion", sl_json_string(api_version)) == 0)
    sl_json_write(j, &out, len, &err);
  sl_json_free(j);
  return out;
}

static int buf_obj(sl_json_buf_t *b, sl_emu_obj_t *o, const char *api_version) {
  const char *av = sl_json_str_or(sl_json_get(o->json, "apiVersion"), "");
  if (!strcmp(av, api_version)) {
    size_t len;
    const char *bytes = sl_emu_obj_bytes(o, &len);
    return bytes ? sl_json_buf_add(b, bytes, len) : SL_ENOMEM;
  }
  size_t len;
  char *c = render(o, api_version, &len);
  if (!c) return SL_ENOMEM;
  int rc = sl_json_buf_add(b, c, len);
  free(c);
  return rc;
}

static void reply_obj(sl_http_req_t *r, int code, sl_emu_obj_t *o, const char *api_version) {
  size_t len;
  char *out = render(o, api_version, &len);
  common_headers(r);
  if (!out) {
    fail(r, 500, "InternalError", "out of memory");
    return;
  }
  sl_http_reply_owned(r, code, "application/json", out, len);
}

// ---- request helpers ----------------------------------------------------------------------------

static int accepts_table(sl_http_req_t *r) {
  const char *a = sl_http_req_header(r, "Accept");
  return a && strstr(a, "as=Table") != NULL;
}

static int accepts_partial(sl_http_req_t *r) {
  const char *a = sl_http_req_header(r, "Accept");
  return a && strstr(a, "as=PartialObjectMetadata") != NULL;
}

// JSON is what is served; a client that accepts only something else is told so.
static int acceptable(sl_http_req_t *r) {
  const char *a = sl_http_req_header(r, "Accept");
  if (!a || !*a) return 1;
  return strstr(a, "json") || strstr(a, "*/*") || strstr(a, "yaml");
}

static int media_is(const char *ct, const char *want) {
  size_t n = strlen(want);
  if (!ct) return 0;
  while (*ct == ' ') ct++;
  return !strncasecmp(ct, want, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static sl_json_t *yval_to_json(const sl_yval_t *v, int depth);

static sl_json_t *scalar_json(const sl_yval_t *v) {
  const char *s = v->str ? v->str : "";
  if (v->quoted) return sl_json_string(s);
  if (!*s || !strcmp(s, "null") || !strcmp(s, "~") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
    return sl_json_null();
  if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) return sl_json_bool(1);
  if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) return sl_json_bool(0);
  // Numbers as YAML 1.2's core schema writes them (no hex, no leading '+' quirks).
  const char *p = s;
  if (*p == '-') p++;
  if (isdigit((unsigned char)*p)) {
    char *end;
    strtod(s, &end);
    if (!*end && !strpbrk(s, "xXnN")) return sl_json_number_text(s);
  }
  return sl_json_string(s);
}

static sl_json_t *yval_to_json(const sl_yval_t *v, int depth) {
  if (!v || depth > BODY_DEPTH) return v ? NULL : sl_json_null();
  switch (v->type) {
  case SL_Y_NULL:
    return sl_json_null();
  case SL_Y_SCALAR:
    return scalar_json(v);
  case SL_Y_SEQ: {
    sl_json_t *a = sl_json_array();
    for (size_t i = 0; a && i < v->n; i++) {
      sl_json_t *x = yval_to_json(v->items[i], depth + 1);
      if (!x || sl_json_push(a, x) < 0) {
        sl_json_free(a);
        return NULL;
      }
    }
    return a;
  }
  case SL_Y_MAP: {
    sl_json_t *o = sl_json_object();
    for (size_t i = 0; o && i < v->n; i++) {
      sl_json_t *x = yval_to_json(v->items[i], depth + 1);
      if (!x || sl_json_set(o, v->keys[i], x) < 0) {
        sl_json_free(o);
        return NULL;
      }
    }
    return o;
  }
  }
  return NULL;
}

// The request body as JSON (YAML is accepted where the content type says so). Answers the
// request and returns NULL when it cannot be read.
static sl_json_t *read_body(sl_http_req_t *r, int yaml) {
  size_t len;
  const char *b = sl_http_req_body(r, &len);
  sl_err_t err = {0};
  if (yaml) {
    sl_ydoc_t doc = {0};
    if (sl_ydoc_load_buffer(&doc, b, len, "body", &err) < 0) {
      fail(r, 400, "BadRequest", "the body is not valid YAML: %s", err.msg);
      return NULL;
    }
    sl_json_t *j = yval_to_json(doc.root, 0);
    sl_ydoc_deinit(&doc);
    if (!j) fail(r, 400, "BadRequest", "the body is nested too deeply");
    return j;
  }
  sl_json_limits_t lim = {BODY_DEPTH, 0};
  sl_json_t *j = sl_json_parse(b, len, &lim, &err);
  if (!j) fail(r, 400, "BadRequest", "the body is not valid JSON: %s", err.msg);
  return j;
}

// The body of a create or update: JSON, or YAML when declared so.
static sl_json_t *read_object_body(sl_http_req_t *r) {
  const char *ct = sl_http_req_header(r, "Content-Type");
  if (!ct || !*ct || media_is(ct, "application/json") || media_is(ct, "*/*"))
    return read_body(r, 0);
  if (media_is(ct, "application/yaml") || media_is(ct, "application/x-yaml"))
    return read_body(r, 1);
  if (media_is(ct, "application/vnd.kubernetes.protobuf")) {
    size_t len;
    const char *b = sl_http_req_body(r, &len);
    sl_json_t *j = NULL;
    sl_err_t err;
    int rc = sl_emu_proto_decode(b, len, &j, &err);
    if (rc == SL_ENOTFOUND)
      fail(r, 415, "UnsupportedMediaType",
           "the body of the request was in an unknown format - accepted media types include: "
           "application/json, application/yaml (%s)",
           err.msg);
    else if (rc < 0)
      fail(r, 400, "BadRequest", "%s", err.msg);
    return j;
  }
  fail(r, 415, "UnsupportedMediaType",
       "the body of the request was in an unknown format - accepted media types include: "
       "application/json, application/yaml");
  return NULL;
}

static int dry_run(sl_http_req_t *r) {
  const char *d = sl_http_req_query(r, "dryRun");
  return d && !strcmp(d, "All") ? EMU_DRY_RUN : 0;
}

static void api_version_of(const target_t *tg, char *buf, size_t n) {
  snprintf(buf, n, "%s%s%s", tg->group, *tg->group ? "/" : "", tg->version);
}

// ---- path parsing
// ----------------------------------------------------------------------------------

static int split_path(const char *path, char seg[][254], int max) {
  int n = 0;
  const char *p = path;
  while (*p) {
    while (*p == '/') p++;
    if (!*p) break;
    size_t k = strcspn(p, "/");
    if (n == max || k >= 254) return -1;
    memcpy(seg[n], p, k);
    seg[n][k] = '\0';
    n++;
    p += k;
  }
  return n;
}

static sl_emu_rtype_t *served_type(sl_emu_t *e, const char *group, const char *version,
                                   const char *res) {
  sl_emu_rtype_t *t = sl_emu_store_type(e->store, group, res);
  if (!t || !t->served) return NULL;
  for (size_t i = 0; i < t->n_versions; i++)
    if (!strcmp(t->versions[i], version)) return t;
  return NULL;
}

// 0 and *tg filled for a resource path; -1 when it is not one (discovery and others).
static int parse_target(sl_emu_t *e, const char *path, target_t *tg) {
  char seg[10][254];
  int n = split_path(path, seg, 10);
  memset(tg, 0, sizeof *tg);
  int i;
  if (n >= 3 && !strcmp(seg[0], "api")) {
    tg->gbuf[0] = '\0';
    snprintf(tg->vbuf, sizeof tg->vbuf, "%s", seg[1]);
    i = 2;
  } else if (n >= 4 && !strcmp(seg[0], "apis")) {
    snprintf(tg->gbuf, sizeof tg->gbuf, "%s", seg[1]);
    snprintf(tg->vbuf, sizeof tg->vbuf, "%s", seg[2]);
    i = 3;
  } else {
    return -1;
  }
  tg->group = tg->gbuf;
  tg->version = tg->vbuf;
  if (!strcmp(seg[i], "watch")) {
    tg->legacy_watch = 1;
    i++;
  }
  int rest = n - i;
  // namespaces/NS/RES... unless it is a namespace's own subresource (namespaces/NS/status).
  if (rest >= 3 && !strcmp(seg[i], "namespaces") &&
      served_type(e, tg->group, tg->version, seg[i + 2])) {
    snprintf(tg->ns, sizeof tg->ns, "%s", seg[i + 1]);
    tg->has_ns = 1;
    i += 2;
    rest -= 2;
  }
  if (rest < 1 || rest > 3) return 1;
  snprintf(tg->res, sizeof tg->res, "%s", seg[i]);
  if (rest >= 2) snprintf(tg->name, sizeof tg->name, "%s", seg[i + 1]);
  if (rest == 3) snprintf(tg->sub, sizeof tg->sub, "%s", seg[i + 2]);
  tg->t = served_type(e, tg->group, tg->version, tg->res);
  return tg->t ? 0 : 1;
}

// ---- lists
// ---------------------------------------------------------------------------------------

static int parse_selectors(sl_http_req_t *r, sl_sel_t *ls, sl_sel_t *fs) {
  sl_err_t err;
  if (sl_sel_parse_labels(sl_http_req_query(r, "labelSelector"), ls, &err) < 0) {
    fail(r, 400, "BadRequest", "%s", err.msg);
    return -1;
  }
  if (sl_sel_parse_fields(sl_http_req_query(r, "fieldSelector"), fs, &err) < 0) {
    sl_sel_deinit(ls);
    fail(r, 400, "BadRequest", "%s", err.msg);
    return -1;
  }
  return 0;
}

static int matches(const sl_sel_t *ls, const sl_sel_t *fs, const sl_json_t *obj) {
  return sl_sel_match_labels(ls, sl_json_at(obj, "metadata.labels")) &&
         sl_sel_match_fields(fs, obj);
}

// A list's continue token is the last key served, hex-encoded (opaque to clients).
static void hex_encode(const char *s, char *out, size_t n) {
  size_t k = 0;
  for (; *s && k + 3 < n; s++, k += 2) snprintf(out + k, 3, "%02x", (unsigned char)*s);
  out[k] = '\0';
}

static int hex_decode(const char *s, char *out, size_t n) {
  size_t len = strlen(s), k = 0;
  if (len % 2 || len / 2 >= n) return -1;
  for (size_t i = 0; i < len; i += 2) {
    unsigned v;
    if (!isxdigit((unsigned char)s[i]) || !isxdigit((unsigned char)s[i + 1]) ||
        sscanf(s + i, "%2x", &v) != 1)
      return -1;
    out[k++] = (char)v;
  }
  out[k] = '\0';
  return 0;
}

static int expired_rv(const char *rv) {
  return rv && *rv && strcmp(rv, "0");
}

static void do_list(sl_emu_t *e, sl_http_req_t *r, const target_t *tg) {
  sl_sel_t ls, fs;
  if (parse_selectors(r, &ls, &fs) < 0) return;
  const char *rv = sl_http_req_query(r, "resourceVersion");
  if (expired_rv(rv) && sl_emu_faults_take_expire(&e->faults)) {
    sl_sel_deinit(&ls);
    sl_sel_deinit(&fs);
    fail(r, 410, "Expired",
         "The provided continue parameter is too old to display a consistent "
         "list result. You can start a new list without the continue "
         "parameter, or use the continue token in this response to retrieve "
         "the remainder of the results.");
    return;
  }
  long limit = 0;
  const char *ls_ = sl_http_req_query(r, "limit");
  if (ls_ && *ls_) limit = strtol(ls_, NULL, 10);
  char after[600] = "";
  const char *cont = sl_http_req_query(r, "continue");
  if (cont && *cont && hex_decode(cont, after, sizeof after) < 0) {
    sl_sel_deinit(&ls);
    sl_sel_deinit(&fs);
    fail(r, 400, "BadRequest", "continue key is not valid");
    return;
  }
  sl_emu_obj_t **objs;
  size_t n = sl_emu_store_list(e->store, tg->t, tg->has_ns ? tg->ns : NULL, &objs);
  sl_emu_obj_t **sel = malloc((n + 1) * sizeof *sel);
  size_t m = 0, remaining = 0;
  char last[600] = "";
  for (size_t i = 0; sel && i < n; i++) {
    const sl_json_t *j = objs[i]->json;
    char key[600];
    snprintf(key, sizeof key, "%s/%s", sl_json_str_or(sl_json_at(j, "metadata.namespace"), ""),
             sl_json_str_or(sl_json_at(j, "metadata.name"), ""));
    if (*after && strcmp(key, after) <= 0) continue;
    if (!matches(&ls, &fs, j)) continue;
    if (limit > 0 && (long)m == limit) {
      remaining++;
      continue;
    }
    sel[m++] = objs[i];
    snprintf(last, sizeof last, "%s", key);
  }
  free(objs);
  sl_sel_deinit(&ls);
  sl_sel_deinit(&fs);
  if (!sel) {
    fail(r, 500, "InternalError", "out of memory");
    return;
  }
  char rvs[24], av[200];
  snprintf(rvs, sizeof rvs, "%" PRIu64, sl_emu_store_rv(e->store));
  api_version_of(tg, av, sizeof av);
  char token[1300] = "";
  if (remaining) hex_encode(last, token, sizeof token);
  if (accepts_table(r)) {
    const char *inc = sl_http_req_query(r, "includeObject");
    int include = !inc || !strcmp(inc, "Metadata") ? 1 : !strcmp(inc, "Object") ? 2 : 0;
    sl_json_t *tbl = emu_table(e, tg->t, sel, m, include, 1);
    free(sel);
    if (!tbl) {
      fail(r, 500, "InternalError", "out of memory");
      return;
    }
    sl_json_t *md = sl_json_get(tbl, "metadata");
    sl_json_set(md, "resourceVersion", sl_json_string(rvs));
    if (*token) sl_json_set(md, "continue", sl_json_string(token));
    if (remaining) sl_json_set(md, "remainingItemCount", sl_json_number((double)remaining));
    emu_reply_json(r, 200, tbl);
    return;
  }
  int partial = accepts_partial(r);
  sl_json_buf_t b = {0};
  int rc = sl_json_buf_add(&b, "{\"kind\":", 8);
  rc |= sl_json_buf_quote(&b, partial ? "PartialObjectMetadataList" : tg->t->list_kind,
                          strlen(partial ? "PartialObjectMetadataList" : tg->t->list_kind));
  rc |= sl_json_buf_add(&b, ",\"apiVersion\":", 14);
  rc |= sl_json_buf_quote(&b, partial ? "meta.k8s.io/v1" : av,
                          strlen(partial ? "meta.k8s.io/v1" : av));
  rc |= sl_json_buf_add(&b, ",\"metadata\":{\"resourceVersion\":", 31);
  rc |= sl_json_buf_quote(&b, rvs, strlen(rvs));
  if (*token) {
    char extra[64];
    rc |= sl_json_buf_add(&b, ",\"continue\":", 12);
    rc |= sl_json_buf_quote(&b, token, strlen(token));
    snprintf(extra, sizeof extra, ",\"remainingItemCount\":%zu", remaining);
    rc |= sl_json_buf_add(&b, extra, strlen(extra));
  }
  rc |= sl_json_buf_add(&b, "},\"items\":[", 11);
  for (size_t i = 0; i < m && rc == 0; i++) {
    if (i) rc |= sl_json_buf_add(&b, ",", 1);
    if (partial) {
      sl_json_t *p = sl_json_object();
      sl_json_set(p, "kind", sl_json_string("PartialObjectMetadata"));
      sl_json_set(p, "apiVersion", sl_json_string("meta.k8s.io/v1"));
      sl_json_set(p, "metadata", sl_json_clone(sl_json_get(sel[i]->json, "metadata")));
      rc |= sl_json_write_buf(p, &b);
      sl_json_free(p);
    } else {
      rc |= buf_obj(&b, sel[i], av);
    }
  }
  rc |= sl_json_buf_add(&b, "]}", 2);
  free(sel);
  if (rc < 0) {
    sl_json_buf_deinit(&b);
    fail(r, 500, "InternalError", "out of memory");
    return;
  }
  common_headers(r);
  sl_http_reply_owned(r, 200, "application/json", b.buf, b.len);
}

// ---- watches
// -------------------------------------------------------------------------------------

static void watch_handle_closed(uv_handle_t *h) {
  sl_emu_watch_t *w = h->data;
  if (--w->handles == 0) free(w);
}

// The stream is gone (ended, cut, client left, server stopping): stop listening and release.
static void watch_on_close(void *ud) {
  sl_emu_watch_t *w = ud;
  sl_emu_t *e = w->e;
  w->closed = 1;
  w->st = NULL;
  sl_emu_store_unwatch(e->store, w->w);
  w->w = NULL;
  if (w->prev)
    w->prev->next = w->next;
  else
    e->watches = w->next;
  if (w->next) w->next->prev = w->prev;
  e->n_watches--;
  sl_sel_deinit(&w->lsel);
  sl_sel_deinit(&w->fsel);
  free(w->ns);
  uv_close((uv_handle_t *)&w->bookmark, watch_handle_closed);
  uv_close((uv_handle_t *)&w->timeout, watch_handle_closed);
}

static void watch_write(sl_emu_watch_t *w, const char *data, size_t len) {
  if (w->closed || !w->st) return;
  int rc = sl_http_stream_write(w->st, data, len);
  // A client too far behind is cut off, as the API server drops slow watchers.
  if (rc == SL_EBUDGET) sl_http_stream_cut(w->st);
}

static void watch_event(sl_emu_watch_t *w, const char *type, sl_emu_obj_t *o) {
  sl_json_buf_t b = {0};
  int rc = sl_json_buf_add(&b, "{\"type\":", 8);
  rc |= sl_json_buf_quote(&b, type, strlen(type));
  rc |= sl_json_buf_add(&b, ",\"object\":", 10);
  if (w->table) {
    sl_emu_obj_t *one[1] = {o};
    sl_json_t *tbl = emu_table(w->e, w->t, one, 1, w->include, 1);
    if (tbl) {
      char rvs[24];
      snprintf(rvs, sizeof rvs, "%" PRIu64, o->rv);
      sl_json_set(sl_json_get(tbl, "metadata"), "resourceVersion", sl_json_string(rvs));
    }
    rc |= tbl ? sl_json_write_buf(tbl, &b) : SL_ENOMEM;
    sl_json_free(tbl);
  } else {
    rc |= buf_obj(&b, o, w->api_version);
  }
  rc |= sl_json_buf_add(&b, "}\n", 2);
  if (rc == 0) watch_write(w, b.buf, b.len);
  sl_json_buf_deinit(&b);
}

static int watch_matches(const sl_emu_watch_t *w, const sl_emu_obj_t *o) {
  if (!o) return 0;
  if (w->ns && strcmp(sl_json_str_or(sl_json_at(o->json, "metadata.namespace"), ""), w->ns))
    return 0;
  return matches(&w->lsel, &w->fsel, o->json);
}

// What a filtered watch sees of a change: an object entering the selection is ADDED, one
// leaving it DELETED (as the API server's watch cache reports them).
static void watch_on_change(void *ud, const sl_emu_change_t *c) {
  sl_emu_watch_t *w = ud;
  if (w->closed) return;
  int now = watch_matches(w, c->obj), before = watch_matches(w, c->old);
  switch (c->type) {
  case SL_EMU_ADDED:
    if (now) watch_event(w, "ADDED", c->obj);
    break;
  case SL_EMU_MODIFIED:
    if (now && before)
      watch_event(w, "MODIFIED", c->obj);
    else if (now)
      watch_event(w, "ADDED", c->obj);
    else if (before)
      watch_event(w, "DELETED", c->obj);
    break;
  case SL_EMU_DELETED:
    if (now) watch_event(w, "DELETED", c->obj);
    break;
  }
}

static void watch_bookmark(sl_emu_watch_t *w, int initial_end) {
  char rvs[24];
  snprintf(rvs, sizeof rvs, "%" PRIu64, sl_emu_store_rv(w->e->store));
  sl_json_t *ev = sl_json_object(), *o = sl_json_object(), *md = sl_json_object();
  sl_json_set(ev, "type", sl_json_string("BOOKMARK"));
  sl_json_set(o, "kind", sl_json_string(w->table ? "Table" : w->t->kind));
  sl_json_set(o, "apiVersion", sl_json_string(w->table ? "meta.k8s.io/v1" : w->api_version));
  sl_json_set(md, "resourceVersion", sl_json_string(rvs));
  if (initial_end) {
    sl_json_t *ann = sl_json_object();
    sl_json_set(ann, "k8s.io/initial-events-end", sl_json_string("true"));
    sl_json_set(md, "annotations", ann);
  }
  sl_json_set(o, "metadata", md);
  sl_json_set(ev, "object", o);
  sl_json_buf_t b = {0};
  if (sl_json_write_buf(ev, &b) == 0 && sl_json_buf_add(&b, "\n", 1) == 0)
    watch_write(w, b.buf, b.len);
  sl_json_buf_deinit(&b);
  sl_json_free(ev);
}

static void on_bookmark(uv_timer_t *t) {
  watch_bookmark(t->data, 0);
}

static void on_watch_timeout(uv_timer_t *t) {
  sl_emu_watch_t *w = t->data;
  if (!w->closed && w->st) sl_http_stream_end(w->st);
}

static void watch_expired(sl_emu_watch_t *w, const char *why) {
  sl_emu_fail_t f = {0};
  f.code = 410;
  f.reason = "Expired";
  snprintf(f.msg, sizeof f.msg, "%s", why);
  sl_json_t *ev = sl_json_object();
  sl_json_set(ev, "type", sl_json_string("ERROR"));
  sl_json_set(ev, "object", emu_status(&f));
  sl_json_buf_t b = {0};
  if (sl_json_write_buf(ev, &b) == 0 && sl_json_buf_add(&b, "\n", 1) == 0)
    watch_write(w, b.buf, b.len);
  sl_json_buf_deinit(&b);
  sl_json_free(ev);
  if (w->st) sl_http_stream_end(w->st);
}

static void do_watch(sl_emu_t *e, sl_http_req_t *r, const target_t *tg) {
  const char *rv = sl_http_req_query(r, "resourceVersion");
  const char *sie = sl_http_req_query(r, "sendInitialEvents");
  int initial = !rv || !*rv || !strcmp(rv, "0") || (sie && !strcmp(sie, "true"));
  uint64_t since = 0;
  if (!initial) {
    char *end;
    since = strtoull(rv, &end, 10);
    if (*end || *rv == '-') {
      fail(r, 400, "BadRequest", "resourceVersion: Invalid value: \"%.100s\": must be a number",
           rv);
      return;
    }
  }
  sl_emu_watch_t *w = calloc(1, sizeof *w);
  if (!w) {
    fail(r, 500, "InternalError", "out of memory");
    return;
  }
  if (parse_selectors(r, &w->lsel, &w->fsel) < 0) {
    free(w);
    return;
  }
  w->e = e;
  w->t = tg->t;
  if (tg->has_ns && !(w->ns = strdup(tg->ns))) {
    sl_sel_deinit(&w->lsel);
    sl_sel_deinit(&w->fsel);
    free(w);
    fail(r, 500, "InternalError", "out of memory");
    return;
  }
  // A watch on one name (?fieldSelector=metadata.name=x, or the legacy watch/RES/NAME path).
  if (*tg->name) {
    sl_sel_req_t *q = realloc(w->fsel.reqs, (w->fsel.n + 1) * sizeof *q);
    if (q) {
      w->fsel.reqs = q;
      memset(&q[w->fsel.n], 0, sizeof *q);
      q[w->fsel.n].key = strdup("metadata.name");
      q[w->fsel.n].op = SL_SEL_EQ;
      q[w->fsel.n].values = malloc(sizeof(char *));
      if (q[w->fsel.n].values) q[w->fsel.n].values[0] = strdup(tg->name);
      q[w->fsel.n].n_values = q[w->fsel.n].values ? 1 : 0;
      w->fsel.n++;
    }
  }
  api_version_of(tg, w->api_version, sizeof w->api_version);
  w->table = accepts_table(r);
  const char *inc = sl_http_req_query(r, "includeObject");
  w->include = !inc || !strcmp(inc, "Metadata") ? 1 : !strcmp(inc, "Object") ? 2 : 0;
  const char *bm = sl_http_req_query(r, "allowWatchBookmarks");
  w->bookmarks = bm && (!strcmp(bm, "true") || !strcmp(bm, "1"));
  uv_timer_init(e->loop, &w->bookmark);
  uv_timer_init(e->loop, &w->timeout);
  w->bookmark.data = w->timeout.data = w;
  w->handles = 2;
  w->next = e->watches;
  if (e->watches) e->watches->prev = w;
  e->watches = w;
  e->n_watches++;
  common_headers(r);
  w->st = sl_http_stream_start(r, 200, "application/json", watch_on_close, w);
  if (!w->st) {
    watch_on_close(w);
    fail(r, 500, "InternalError", "out of memory");
    return;
  }

  if (expired_rv(rv) && sl_emu_faults_take_expire(&e->faults)) {
    watch_expired(w, "too old resource version (forced by sluice emulate's expire fault)");
    return;
  }
  if (initial) {
    sl_emu_obj_t **objs;
    size_t n = sl_emu_store_list(e->store, w->t, w->ns, &objs);
    for (size_t i = 0; i < n; i++)
      if (matches(&w->lsel, &w->fsel, objs[i]->json)) watch_event(w, "ADDED", objs[i]);
    free(objs);
    if (sie && !strcmp(sie, "true") && w->bookmarks) watch_bookmark(w, 1);
  } else {
    if (sl_emu_store_replay(e->store, w->t, since, watch_on_change, w) == SL_ERANGE) {
      char why[160];
      snprintf(why, sizeof why, "too old resource version: %" PRIu64 " (%" PRIu64 ")", since,
               sl_emu_store_oldest_rv(e->store));
      watch_expired(w, why);
      return;
    }
  }
  if (!(w->w = sl_emu_store_watch(e->store, w->t, watch_on_change, w))) {
    sl_http_stream_cut(w->st);
    return;
  }
  const char *ts = sl_http_req_query(r, "timeoutSeconds");
  double secs = ts && *ts ? strtod(ts, NULL) : 0;
  // Without a timeout the API server ends a watch after a while anyway (30 to 60 minutes).
  if (secs <= 0) secs = 1800 + (double)(sl_rng_u64(&e->rng) % 1800);
  uv_timer_start(&w->timeout, on_watch_timeout, (uint64_t)(secs * 1000), 0);
  if (w->bookmarks) {
    uint64_t ms = (uint64_t)(e->o.bookmark_s * 1000);
    uv_timer_start(&w->bookmark, on_bookmark, ms, ms);
  }
}

void emu_api_drop_watches(sl_emu_t *e) {
  static const char half[] = "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"";
  for (sl_emu_watch_t *w = e->watches; w; w = w->next) {
    if (w->closed || !w->st) continue;
    // Half an event, then the connection goes without the final chunk.
    sl_http_stream_write(w->st, half, sizeof half - 1);
    sl_http_stream_cut(w->st);
    e->faults.drops++;
  }
}

void emu_api_close_watches(sl_emu_t *e) {
  for (sl_emu_watch_t *w = e->watches; w; w = w->next)
    if (!w->closed && w->st) sl_http_stream_end(w->st);
}

// ---- scale
// ---------------------------------------------------------------------------------------

static sl_json_t *scale_of(const sl_emu_rtype_t *t, const sl_json_t *obj) {
  sl_json_t *s = sl_json_object(), *md = sl_json_object(), *spec = sl_json_object(),
            *st = sl_json_object();
  sl_json_set(s, "kind", sl_json_string("Scale"));
  sl_json_set(s, "apiVersion", sl_json_string("autoscaling/v1"));
  static const char *const keep[] = {"name", "namespace", "uid", "resourceVersion",
                                     "creationTimestamp"};
  const sl_json_t *omd = sl_json_get(obj, "metadata");
  for (size_t i = 0; i < 5; i++) {
    const sl_json_t *v = sl_json_get(omd, keep[i]);
    if (v) sl_json_set(md, keep[i], sl_json_clone(v));
  }
  sl_json_set(s, "metadata", md);
  const sl_json_t *want = sl_json_at(obj, t->scale_spec ? t->scale_spec : "spec.replicas");
  sl_json_set(spec, "replicas", sl_json_number(sl_json_num_or(want, 0)));
  sl_json_set(s, "spec", spec);
  const sl_json_t *have = t->scale_status ? sl_json_at(obj, t->scale_status) : NULL;
  sl_json_set(st, "replicas", sl_json_number(sl_json_num_or(have, 0)));
  char *sel = NULL;
  if (sl_emu_is(t, "apps", "deployments") || sl_emu_is(t, "apps", "replicasets"))
    sel = sl_sel_format(sl_json_at(obj, "spec.selector"));
  else if (t->scale_selector)
    sel = strdup(sl_json_str_or(sl_json_at(obj, t->scale_selector), ""));
  if (sel && *sel) sl_json_set(st, "selector", sl_json_string(sel));
  free(sel);
  sl_json_set(s, "status", st);
  return s;
}

// Writes a Scale's spec.replicas into the object; `scale` is what the client sent or patched.
static void scale_write(sl_emu_t *e, sl_http_req_t *r, const target_t *tg, sl_emu_obj_t *cur,
                        const sl_json_t *scale) {
  const sl_json_t *rep = sl_json_at(scale, "spec.replicas");
  if (!rep || rep->type != SL_JSON_NUMBER || rep->num < 0 || rep->num != (double)(long)rep->num ||
      rep->num > 2147483647.0) {
    fail(r, 422, "Invalid",
         "Scale.autoscaling \"%s\" is invalid: spec.replicas: Invalid value: "
         "must be a non-negative integer",
         tg->name);
    return;
  }
  sl_json_t *next = sl_json_clone(cur->json);
  const char *path = tg->t->scale_spec ? tg->t->scale_spec : "spec.replicas";
  const char *dot = strrchr(path, '.');
  char parent[128];
  snprintf(parent, sizeof parent, "%.*s", dot ? (int)(dot - path) : 0, path);
  sl_json_t *p = dot ? sl_json_at(next, parent) : next;
  if (!p && dot) {
    // The spec path does not exist yet: make it (one level is what CRDs use).
    sl_json_set(next, parent, sl_json_object());
    p = sl_json_at(next, parent);
  }
  const char *rv = sl_json_str_or(sl_json_at(scale, "metadata.resourceVersion"), "");
  sl_json_set(sl_json_get(next, "metadata"), "resourceVersion", sl_json_string(rv));
  if (!p || sl_json_set(p, dot ? dot + 1 : path, sl_json_number(rep->num)) < 0) {
    sl_json_free(next);
    fail(r, 500, "InternalError", "cannot set %s", path);
    return;
  }
  sl_emu_obj_t *o;
  sl_emu_fail_t f;
  if (emu_update(e, tg->t, tg->ns, tg->name, next, EMU_MAIN, dry_run(r), &o, &f) < 0) {
    emu_reply_fail(r, &f);
    return;
  }
  emu_reply_json(r, 200, scale_of(tg->t, o->json));
  sl_emu_obj_unref(o);
}

// ---- patches
// -------------------------------------------------------------------------------------

static int patch_fail(sl_http_req_t *r, int rc, const sl_err_t *err) {
  if (rc == SL_EPARSE)
    fail(r, 400, "BadRequest", "%s", err->msg);
  else
    fail(r, 422, "Invalid", "%s", err->msg);
  return -1;
}

// Applies the request's patch to doc. NULL (the request answered) on failure.
static sl_json_t *apply_patch(sl_http_req_t *r, const sl_json_t *doc, const sl_smp_type_t *smp,
                              int allow_smp) {
  const char *ct = sl_http_req_header(r, "Content-Type");
  sl_json_t *out = NULL, *patch;
  sl_err_t err = {0};
  int rc;
  if (media_is(ct, "application/merge-patch+json")) {
    if (!(patch = read_body(r, 0))) return NULL;
    rc = sl_patch_merge(doc, patch, &out, &err);
  } else if (media_is(ct, "application/json-patch+json")) {
    if (!(patch = read_body(r, 0))) return NULL;
    rc = sl_patch_json(doc, patch, &out, &err);
  } else if (media_is(ct, "application/strategic-merge-patch+json") && allow_smp) {
    if (!(patch = read_body(r, 0))) return NULL;
    rc = sl_patch_strategic(doc, patch, smp, &out, &err);
  } else if (media_is(ct, "application/apply-patch+yaml")) {
    if (!(patch = read_body(r, 1))) return NULL;
    rc = patch->type == SL_JSON_OBJECT
             ? sl_patch_strategic(doc, patch, smp ? smp : sl_emu_kinds_meta_schema(), &out, &err)
             : sl_err(&err, SL_EPARSE, "an apply configuration must be an object");
  } else {
    fail(r, 415, "UnsupportedMediaType",
         "the body of the request was in an unknown format - accepted media types include: "
         "application/json-patch+json, application/merge-patch+json, "
         "application/apply-patch+yaml%s",
         allow_smp ? ", application/strategic-merge-patch+json" : "");
    return NULL;
  }
  sl_json_free(patch);
  if (rc < 0) {
    patch_fail(r, rc, &err);
    return NULL;
  }
  if (out->type != SL_JSON_OBJECT) {
    sl_json_free(out);
    fail(r, 422, "Invalid", "the patched document is not an object");
    return NULL;
  }
  return out;
}

static void do_patch(sl_emu_t *e, sl_http_req_t *r, const target_t *tg) {
  const char *ct = sl_http_req_header(r, "Content-Type");
  sl_emu_obj_t *cur = sl_emu_store_get(e->store, tg->t, tg->ns, tg->name);
  char q[200];
  int ssa = media_is(ct, "application/apply-patch+yaml");
  if (ssa) {
    const char *fm = sl_http_req_query(r, "fieldManager");
    if (!fm || !*fm) {
      fail(r, 400, "BadRequest",
           "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: "
           "Required value: is required for apply patch");
      return;
    }
  }
  if (!cur && ssa && !*tg->sub) {
    // Server-side apply of something new creates it.
    sl_json_t *body = read_body(r, 1);
    if (!body) return;
    sl_json_t *md = sl_json_get(body, "metadata");
    if (md && !sl_json_get(md, "name")) sl_json_set(md, "name", sl_json_string(tg->name));
    sl_emu_obj_t *o;
    sl_emu_fail_t f;
    if (emu_create(e, tg->t, tg->ns, body, dry_run(r), &o, &f) < 0) {
      emu_reply_fail(r, &f);
      return;
    }
    char av[200];
    api_version_of(tg, av, sizeof av);
    reply_obj(r, 201, o, av);
    sl_emu_obj_unref(o);
    return;
  }
  if (!cur) {
    fail(r, 404, "NotFound", "%s \"%s\" not found", emu_qualified(tg->t, q, sizeof q), tg->name);
    return;
  }
  int scale = !strcmp(tg->sub, "scale");
  if (scale) {
    sl_json_t *s = scale_of(tg->t, cur->json);
    sl_json_t *out = apply_patch(r, s, NULL, 1);
    sl_json_free(s);
    if (!out) return;
    scale_write(e, r, tg, cur, out);
    sl_json_free(out);
    return;
  }
  const sl_smp_type_t *smp = tg->t->smp;
  int allow_smp = smp || *tg->sub; // custom resources' subresources take it (metadata rules)
  if (!smp && *tg->sub) smp = sl_emu_kinds_meta_schema();
  sl_json_t *out = apply_patch(r, cur->json, smp, allow_smp);
  if (!out) return;
  sl_emu_obj_t *o;
  sl_emu_fail_t f;
  int part = !strcmp(tg->sub, "status") ? EMU_STATUS : EMU_MAIN;
  if (emu_update(e, tg->t, tg->ns, tg->name, out, part, dry_run(r), &o, &f) < 0) {
    emu_reply_fail(r, &f);
    return;
  }
  char av[200];
  api_version_of(tg, av, sizeof av);
  reply_obj(r, 200, o, av);
  sl_emu_obj_unref(o);
}

// ---- the verbs
// -----------------------------------------------------------------------------------

static void do_get(sl_emu_t *e, sl_http_req_t *r, const target_t *tg) {
  char q[200], av[200];
  sl_emu_obj_t *o = sl_emu_store_get(e->store, tg->t, tg->ns, tg->name);
  if (!o) {
    sl_emu_fail_t f = {0};
    emu_fail(&f, 404, "NotFound", "%s \"%s\" not found", emu_qualified(tg->t, q, sizeof q),
             tg->name);
    f.t = tg->t;
    snprintf(f.name, sizeof f.name, "%s", tg->name);
    emu_reply_fail(r, &f);
    return;
  }
  if (!strcmp(tg->sub, "scale")) {
    emu_reply_json(r, 200, scale_of(tg->t, o->json));
    return;
  }
  if (accepts_table(r) && !*tg->sub) {
    const char *inc = sl_http_req_query(r, "includeObject");
    int include = !inc || !strcmp(inc, "Metadata") ? 1 : !strcmp(inc, "Object") ? 2 : 0;
    sl_emu_obj_t *one[1] = {o};
    sl_json_t *tbl = emu_table(e, tg->t, one, 1, include, 1);
    if (tbl) {
      char rvs[24];
      snprintf(rvs, sizeof rvs, "%" PRIu64, o->rv);
      sl_json_set(sl_json_get(tbl, "metadata"), "resourceVersion", sl_json_string(rvs));
    }
    emu_reply_json(r, 200, tbl);
    return;
  }
  if (accepts_partial(r)) {
    sl_json_t *p = sl_json_object();
    sl_json_set(p, "kind", sl_json_string("PartialObjectMetadata"));
    sl_json_set(p, "apiVersion", sl_json_string("meta.k8s.io/v1"));
    sl_json_set(p, "metadata", sl_json_clone(sl_json_get(o->json, "metadata")));
    emu_reply_json(r, 200, p);
    return;
  }
  api_version_of(tg, av, sizeof av);
  reply_obj(r, 200, o, av);
}

static void do_create(sl_emu_t *e, sl_http_req_t *r, const target_t *tg) {
  if (tg->t->namespaced && !tg->has_ns) {
    fail(r, 405, "MethodNotAllowed", "create of %s needs a namespace in the path", tg->res);
    return;
  }
  sl_json_t *body = read_object_body(r);
  if (!body) return;
  sl_emu_obj_t *o;
  sl_emu_fail_t f;
  if (emu_create(e, tg->t, tg->ns, body, dry_run(r), &o, &f) < 0) {
    emu_reply_fail(r, &f);
    return;
  }
  char av[200];
  api_version_of(tg, av, sizeof av);
  reply_obj(r, 201, o, av);
  sl_emu_obj_unref(o);
}

static void do_update(sl_emu_t *e, sl_http_req_t *r, const target_t *tg) {
  sl_json_t *body = read_object_body(r);
  if (!body) return;
  if (!strcmp(tg->sub, "scale")) {
    sl_emu_obj_t *cur = sl_emu_store_get(e->store, tg->t, tg->ns, tg->name);
    char q[200];
    if (!cur)
      fail(r, 404, "NotFound", "%s \"%s\" not found", emu_qualified(tg->t, q, sizeof q), tg->name);
    else
      scale_write(e, r, tg, cur, body);
    sl_json_free(body);
    return;
  }
  sl_emu_obj_t *o;
  sl_emu_fail_t f;
  int part = !strcmp(tg->sub, "status") ? EMU_STATUS : EMU_MAIN;
  if (emu_update(e, tg->t, tg->ns, tg->name, body, part, dry_run(r), &o, &f) < 0) {
    emu_reply_fail(r, &f);
    return;
  }
  char av[200];
  api_version_of(tg, av, sizeof av);
  reply_obj(r, 200, o, av);
  sl_emu_obj_unref(o);
}

static sl_json_t *delete_options(sl_http_req_t *r, int *bad) {
  *bad = 0;
  size_t len;
  sl_http_req_body(r, &len);
  sl_json_t *opts = NULL;
  if (len) {
    if (!(opts = read_body(r, 0))) {
      *bad = 1;
      return NULL;
    }
  } else {
    opts = sl_json_object();
  }
  const char *pp = sl_http_req_query(r, "propagationPolicy");
  if (pp && opts && opts->type == SL_JSON_OBJECT)
    sl_json_set(opts, "propagationPolicy", sl_json_string(pp));
  return opts;
}

static void do_delete(sl_emu_t *e, sl_http_req_t *r, const target_t *tg) {
  int bad;
  sl_json_t *opts = delete_options(r, &bad);
  if (bad) return;
  sl_emu_obj_t *o;
  sl_emu_fail_t f;
  int rc = emu_delete(e, tg->t, tg->ns, tg->name, opts, dry_run(r), &o, &f);
  sl_json_free(opts);
  if (rc < 0) {
    emu_reply_fail(r, &f);
    return;
  }
  char av[200];
  api_version_of(tg, av, sizeof av);
  reply_obj(r, 200, o, av);
  sl_emu_obj_unref(o);
}

static void do_delete_collection(sl_emu_t *e, sl_http_req_t *r, const target_t *tg) {
  sl_sel_t ls, fs;
  if (parse_selectors(r, &ls, &fs) < 0) return;
  int bad;
  sl_json_t *opts = delete_options(r, &bad);
  if (bad) {
    sl_sel_deinit(&ls);
    sl_sel_deinit(&fs);
    return;
  }
  sl_emu_obj_t **objs;
  size_t n = sl_emu_store_list(e->store, tg->t, tg->has_ns ? tg->ns : NULL, &objs);
  char **names = calloc(n + 1, sizeof *names), **nss = calloc(n + 1, sizeof *nss);
  size_t k = 0;
  for (size_t i = 0; names && nss && i < n; i++) {
    if (!matches(&ls, &fs, objs[i]->json)) continue;
    names[k] = strdup(sl_json_str_or(sl_json_at(objs[i]->json, "metadata.name"), ""));
    nss[k++] = strdup(sl_json_str_or(sl_json_at(objs[i]->json, "metadata.namespace"), ""));
  }
  free(objs);
  sl_sel_deinit(&ls);
  sl_sel_deinit(&fs);
  char av[200];
  api_version_of(tg, av, sizeof av);
  sl_json_buf_t b = {0};
  sl_json_buf_add(&b, "{\"kind\":", 8);
  sl_json_buf_quote(&b, tg->t->list_kind, strlen(tg->t->list_kind));
  sl_json_buf_add(&b, ",\"apiVersion\":", 14);
  sl_json_buf_quote(&b, av, strlen(av));
  sl_json_buf_add(&b, ",\"metadata\":{},\"items\":[", 24);
  size_t done = 0;
  for (size_t i = 0; i < k; i++) {
    sl_emu_obj_t *o;
    sl_emu_fail_t f;
    if (names[i] && nss[i] &&
        emu_delete(e, tg->t, nss[i], names[i], opts, dry_run(r), &o, &f) == 0) {
      if (done++) sl_json_buf_add(&b, ",", 1);
      buf_obj(&b, o, av);
      sl_emu_obj_unref(o);
    }
    free(names[i]);
    free(nss[i]);
  }
  free(names);
  free(nss);
  sl_json_free(opts);
  sl_json_buf_add(&b, "]}", 2);
  common_headers(r);
  sl_http_reply_owned(r, 200, "application/json", b.buf, b.len);
}

static int is_true(const char *v) {
  return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

static void on_resource(sl_emu_t *e, sl_http_req_t *r, target_t *tg) {
  const char *m = sl_http_req_method(r);
  int write = strcmp(m, "GET") && strcmp(m, "HEAD");
  // Faults hit resource requests only: discovery keeps working, so clients get to the calls
  // whose error handling is being tested.
  int fault = sl_emu_faults_draw(&e->faults, write);
  if (fault == 500) {
    fail(r, 500, "InternalError", "Internal error occurred: injected by sluice emulate");
    return;
  }
  if (fault == 429) {
    char ra[32];
    double s = e->faults.retry_after_s;
    snprintf(ra, sizeof ra, "%ld", (long)(s + 0.999));
    sl_http_add_header(r, "Retry-After", ra);
    sl_emu_fail_t f = {0};
    emu_fail(&f, 429, "TooManyRequests",
             "the server has received too many requests and has "
             "asked us to try again later (injected)");
    sl_json_t *st = emu_status(&f);
    sl_json_set(sl_json_get(st, "details"), "retryAfterSeconds", sl_json_number((long)(s + 0.999)));
    emu_reply_json(r, 429, st);
    return;
  }
  if (fault == 409) {
    char q[200];
    fail(r, 409, "Conflict",
         "Operation cannot be fulfilled on %s \"%s\": the object has been modified; please apply "
         "your changes to the latest version and try again (injected)",
         emu_qualified(tg->t, q, sizeof q), tg->name);
    return;
  }
  if (!acceptable(r)) {
    fail(r, 406, "NotAcceptable",
         "only the following media types are accepted: "
         "application/json, application/yaml");
    return;
  }
  const sl_emu_rtype_t *t = tg->t;
  if (*tg->name && t->namespaced && !tg->has_ns) {
    not_found_resource(r);
    return;
  }
  if (tg->has_ns && !t->namespaced) {
    not_found_resource(r);
    return;
  }
  if (!t->namespaced) tg->ns[0] = '\0';
  if (*tg->sub && strcmp(tg->sub, "status") && strcmp(tg->sub, "scale")) {
    not_found_resource(r);
    return;
  }
  if ((!strcmp(tg->sub, "status") && !t->has_status) ||
      (!strcmp(tg->sub, "scale") && !t->has_scale)) {
    not_found_resource(r);
    return;
  }
  if (!strcmp(m, "GET") || !strcmp(m, "HEAD")) {
    if (tg->legacy_watch || is_true(sl_http_req_query(r, "watch"))) {
      if (*tg->sub) {
        not_found_resource(r);
        return;
      }
      do_watch(e, r, tg);
    } else if (*tg->name) {
      do_get(e, r, tg);
    } else {
      do_list(e, r, tg);
    }
    return;
  }
  if (!strcmp(m, "POST") && !*tg->name) {
    do_create(e, r, tg);
  } else if (!strcmp(m, "PUT") && *tg->name) {
    do_update(e, r, tg);
  } else if (!strcmp(m, "PATCH") && *tg->name) {
    do_patch(e, r, tg);
  } else if (!strcmp(m, "DELETE") && *tg->name && !*tg->sub) {
    do_delete(e, r, tg);
  } else if (!strcmp(m, "DELETE") && !*tg->name) {
    do_delete_collection(e, r, tg);
  } else {
    fail(r, 405, "MethodNotAllowed",
         "the server does not allow this method on the requested "
         "resource");
  }
}

// ---- admin --------------------------------------------------------------------------------------

// The clients' scales the emulator stored, oldest first (the last EMU_SCALES).
static sl_json_t *scales_json(const sl_emu_t *e) {
  sl_json_t *out = sl_json_object(), *list = sl_json_array();
  uint64_t first = e->n_scales > EMU_SCALES ? e->n_scales - EMU_SCALES : 0;
  for (uint64_t i = first; i < e->n_scales; i++) {
    const sl_emu_scale_rec_t *c = &e->scales[i % EMU_SCALES];
    sl_json_t *o = sl_json_object();
    sl_json_set(o, "resource", sl_json_string(c->resource));
    sl_json_set(o, "namespace", sl_json_string(c->ns));
    sl_json_set(o, "name", sl_json_string(c->name));
    sl_json_set(o, "from", sl_json_number((double)c->from));
    sl_json_set(o, "to", sl_json_number((double)c->to));
    sl_json_set(o, "time", sl_json_number(c->time));
    sl_json_push(list, o);
  }
  sl_json_set(out, "scales", list);
  sl_json_set(out, "total", sl_json_number((double)e->n_scales));
  return out;
}

static void admin_to_backend(sl_emu_t *e, sl_http_req_t *r, const char *m, const char *path) {
  sl_json_t *body = NULL;
  if (!strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH")) {
    if (!(body = read_body(r, 0))) return;
  }
  sl_json_t *reply = NULL;
  sl_err_t err;
  int rc = e->backend.admin(e->backend.ud, e, m, path, body, &reply, &err);
  sl_json_free(body);
  if (rc == SL_ENOTFOUND)
    fail(r, 404, "NotFound", "%s", err.msg);
  else if (rc < 0)
    fail(r, 400, "BadRequest", "%s", err.msg);
  else
    emu_reply_json(r, 200, reply ? reply : sl_json_object());
}

static void on_admin(sl_emu_t *e, sl_http_req_t *r, const char *path) {
  const char *m = sl_http_req_method(r);
  if (!strcmp(path, "/_emu/faults")) {
    if (!strcmp(m, "GET")) {
      emu_reply_json(r, 200, sl_emu_faults_json(&e->faults));
      return;
    }
    if (!strcmp(m, "DELETE")) {
      sl_emu_faults_reset(&e->faults);
      emu_faults_changed(e);
      emu_reply_json(r, 200, sl_emu_faults_json(&e->faults));
      return;
    }
    if (!strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH")) {
      sl_json_t *j = read_body(r, 0);
      if (!j) return;
      int drop = 0;
      sl_err_t err;
      int rc = sl_emu_faults_update(&e->faults, j, &drop, &err);
      sl_json_free(j);
      if (rc < 0) {
        fail(r, 400, "BadRequest", "%s", err.msg);
        return;
      }
      emu_faults_changed(e);
      if (drop) emu_api_drop_watches(e);
      emu_reply_json(r, 200, sl_emu_faults_json(&e->faults));
      return;
    }
  }
  if (!strcmp(path, "/_emu/stats") && !strcmp(m, "GET")) {
    size_t reqs, streams;
    sl_http_server_stats(e->http, &reqs, &streams);
    sl_json_t *s = sl_json_object(), *objs = sl_json_object();
    sl_json_set(s, "watches", sl_json_number((double)e->n_watches));
    sl_json_set(s, "requests", sl_json_number((double)reqs));
    sl_json_set(s, "streams", sl_json_number((double)streams));
    sl_json_set(s, "resourceVersion", sl_json_number((double)sl_emu_store_rv(e->store)));
    sl_json_set(s, "watchesDropped", sl_json_number(e->faults.drops));
    for (size_t i = 0; i < sl_emu_store_ntypes(e->store); i++) {
      const sl_emu_rtype_t *t = sl_emu_store_type_at(e->store, i);
      char q[200];
      if (t->served && sl_map_len(&t->objects))
        sl_json_set(objs, emu_qualified(t, q, sizeof q),
                    sl_json_number((double)sl_map_len(&t->objects)));
    }
    sl_json_set(s, "objects", objs);
    emu_reply_json(r, 200, s);
    return;
  }
  if (!strcmp(path, "/_emu/drop-watches") && !strcmp(m, "POST")) {
    size_t n = e->n_watches;
    emu_api_drop_watches(e);
    sl_json_t *s = sl_json_object();
    sl_json_set(s, "dropped", sl_json_number((double)n));
    emu_reply_json(r, 200, s);
    return;
  }
  if (!strcmp(path, "/_emu/scales") && !strcmp(m, "GET")) {
    emu_reply_json(r, 200, scales_json(e));
    return;
  }
  if (e->has_backend && e->backend.admin) {
    admin_to_backend(e, r, m, path);
    return;
  }
  fail(r, 404, "NotFound", "no such admin endpoint: %s %s", m, path);
}

// ---- the one handler
// -------------------------------------------------------------------------------

static void on_request(void *ud, sl_http_req_t *r) {
  sl_emu_t *e = ud;
  const char *path = sl_http_req_path(r);
  if (!strcmp(path, "/healthz") || !strcmp(path, "/livez") || !strcmp(path, "/readyz")) {
    sl_http_reply(r, 200, "text/plain; charset=utf-8", "ok", 2);
    return;
  }
  if (!strncmp(path, "/_emu/", 6)) {
    on_admin(e, r, path);
    return;
  }
  target_t tg;
  int rc = parse_target(e, path, &tg);
  if (rc == 0) {
    on_resource(e, r, &tg);
    return;
  }
  if (rc > 0) {
    not_found_resource(r);
    return;
  }
  if (strcmp(sl_http_req_method(r), "GET") && strcmp(sl_http_req_method(r), "HEAD")) {
    fail(r, 405, "MethodNotAllowed",
         "the server does not allow this method on the requested "
         "resource");
    return;
  }
  common_headers(r);
  emu_discovery_route(e, r, path);
}

int emu_api_init(sl_emu_t *e, sl_err_t *err) {
  sl_http_opts_t ho = {0};
  ho.host = e->o.host;
  ho.port = e->o.port;
  ho.max_body = e->o.max_body;
  ho.tls_cert_pem = e->cert_pem;
  ho.tls_key_pem = e->key_pem;
  int rc = sl_http_server_new(e->loop, &ho, &e->http, err);
  if (rc < 0) return rc;
  if ((rc = sl_http_route(e->http, NULL, "/", on_request, e)) < 0) {
    sl_http_server_free(e->http);
    e->http = NULL;
    return sl_err(err, rc, "out of memory");
  }
  return SL_OK;
}
