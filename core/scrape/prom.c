// The Prometheus source (see prom.h for what it asks and why).
#include "core/scrape/prom.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/state/metric.h"
#include "core/util/json.h"
#include "core/util/log.h"
#include "core/util/map.h"

// A growing string (open_memstream), for building queries and URLs.
typedef struct {
  FILE *f;
  char *buf;
  size_t len;
} sbuf_t;

static int sb_open(sbuf_t *b) {
  b->buf = NULL;
  b->len = 0;
  return (b->f = open_memstream(&b->buf, &b->len)) ? 0 : SL_ENOMEM;
}

// The text built (the caller frees it), or NULL when out of memory.
static char *sb_take(sbuf_t *b) {
  int bad = ferror(b->f);
  fclose(b->f);
  if (bad) free(b->buf), b->buf = NULL;
  return b->buf;
}

typedef enum { Q_VALUE, Q_BUCKET, Q_SUM, Q_COUNT, Q_CACHE_INFO } qpart_t;

typedef struct {
  char *text; // the PromQL
  char *url;  // base/api/v1/query?query=<escaped>
  sl_metric_t m;
  qpart_t part;
} query_t;

typedef struct {
  double *le, *cum;
  int n, cap;
  double sum, count;
  uint8_t has_sum, has_count;
} hist_t;

typedef struct {
  char *pod, *model;
  double val[SL_M__COUNT];
  uint8_t has[SL_M__COUNT];
  double cache_info; // num_gpu_blocks x block_size, NaN when absent
  hist_t *hist[SL_M__COUNT];
} target_t;

struct sl_prom {
  sl_prom_opts_t o;
  char *url, *matchers, *ns_label, *pod_label, *auth;
  query_t *q;
  size_t nq;
  target_t *t;
  size_t nt;
  sl_map_t by_key; // "namespace\x1fpod" -> target index + 1
  char **namespaces;
  size_t nns;
  // running
  uv_loop_t *loop;
  sl_sched_t *sched, *own_sched;
  sl_store_t *store;
  sl_httpc_t *http;
  uint64_t timer;
  sl_httpc_req_t **reqs;
  size_t pending;
  int failed, polled_once, running, namespaces_dirty;
  double poll_start;
  char poll_error[256];
  long staged_series, staged_unmatched;
  sl_prom_stats_t st;
  sl_source_t src;
};

// ---- queries ------------------------------------------------------------------------------------

static int is_fraction(sl_metric_t m) {
  return m == SL_M_KV_USAGE || m == SL_M_GW_SATURATION;
}

// `agg by (ns, pod[, extra]) (name<suffix>{selector})`, one branch per alias of m, joined by or.
static char *build_query(sl_prom_t *p, sl_metric_t m, qpart_t part, const char *sel) {
  size_t n;
  const sl_metric_alias_t *tab = sl_metric_alias_table(&n);
  sbuf_t s;
  if (sb_open(&s) < 0) return NULL;
  const char *suffix = part == Q_BUCKET  ? "_bucket"
                       : part == Q_SUM   ? "_sum"
                       : part == Q_COUNT ? "_count"
                                         : "";
  const char *agg = part == Q_VALUE && is_fraction(m) ? "avg"
                    : part == Q_CACHE_INFO            ? "max"
                                                      : "sum";
  const char *extra = part == Q_BUCKET       ? ", le"
                      : part == Q_CACHE_INFO ? ", num_gpu_blocks, block_size"
                                             : "";
  int branches = 0;
  for (size_t i = 0; i < n; i++) {
    if (tab[i].metric != m) continue;
    int info = !strcmp(tab[i].raw, "vllm:cache_config_info");
    if ((part == Q_CACHE_INFO) != info) continue;
    fprintf(s.f, "%s%s by (%s, %s%s) (%s%s{%s})", branches ? " or " : "", agg, p->ns_label,
            p->pod_label, extra, tab[i].raw, suffix, sel);
    if (tab[i].scale != 1 && part != Q_BUCKET) fprintf(s.f, " * %.17g", tab[i].scale);
    branches++;
  }
  char *text = sb_take(&s);
  if (!branches) free(text), text = NULL;
  return text;
}

static char *selector(sl_prom_t *p) {
  sbuf_t s;
  if (sb_open(&s) < 0) return NULL;
  fprintf(s.f, "%s=~\"", p->ns_label);
  for (size_t i = 0; i < p->nns; i++) // namespaces are DNS labels: no regex metacharacters
    fprintf(s.f, "%s%s", i ? "|" : "", p->namespaces[i]);
  fprintf(s.f, "\"");
  if (p->matchers && p->matchers[0]) fprintf(s.f, ", %s", p->matchers);
  return sb_take(&s);
}

static void free_queries(sl_prom_t *p) {
  for (size_t i = 0; i < p->nq; i++) free(p->q[i].text), free(p->q[i].url);
  free(p->q);
  p->q = NULL;
  p->nq = 0;
}

static char *query_url(const char *base, const char *q) {
  sbuf_t s;
  if (sb_open(&s) < 0) return NULL;
  fprintf(s.f, "%s/api/v1/query?query=", base);
  for (const unsigned char *c = (const unsigned char *)q; *c; c++) {
    if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
        strchr("-_.~", *c))
      fputc(*c, s.f);
    else
      fprintf(s.f, "%%%02X", *c);
  }
  return sb_take(&s);
}

static int build_queries(sl_prom_t *p) {
  free_queries(p);
  char *sel = selector(p);
  if (!sel) return SL_ENOMEM;
  p->q = calloc((size_t)SL_M__COUNT * 4 + 1, sizeof *p->q);
  if (!p->q) {
    free(sel);
    return SL_ENOMEM;
  }
  for (int m = 0; m < SL_M__COUNT; m++) {
    const sl_metric_info_t *mi = sl_metric_info((sl_metric_t)m);
    qpart_t parts[4];
    int np = 0;
    if (mi->kind == SL_KIND_HISTOGRAM)
      parts[np++] = Q_BUCKET, parts[np++] = Q_SUM, parts[np++] = Q_COUNT;
    else
      parts[np++] = Q_VALUE;
    if (m == SL_M_KV_CAPACITY_TOKENS) parts[np++] = Q_CACHE_INFO;
    for (int k = 0; k < np; k++) {
      char *text = build_query(p, (sl_metric_t)m, parts[k], sel);
      if (!text) continue;
      char *url = query_url(p->url, text);
      if (!url) {
        free(text);
        free(sel);
        return SL_ENOMEM;
      }
      p->q[p->nq++] = (query_t){text, url, (sl_metric_t)m, parts[k]};
    }
  }
  free(sel);
  free(p->reqs);
  p->reqs = calloc(p->nq ? p->nq : 1, sizeof *p->reqs);
  return p->reqs ? SL_OK : SL_ENOMEM;
}

// ---- targets ------------------------------------------------------------------------------------

static void free_targets(sl_prom_t *p) {
  for (size_t i = 0; i < p->nt; i++) {
    free(p->t[i].pod), free(p->t[i].model);
    for (int m = 0; m < SL_M__COUNT; m++) {
      if (!p->t[i].hist[m]) continue;
      free(p->t[i].hist[m]->le), free(p->t[i].hist[m]->cum), free(p->t[i].hist[m]);
    }
  }
  free(p->t);
  p->t = NULL;
  p->nt = 0;
  sl_map_deinit(&p->by_key);
  sl_map_init(&p->by_key);
  for (size_t i = 0; i < p->nns; i++) free(p->namespaces[i]);
  free(p->namespaces);
  p->namespaces = NULL;
  p->nns = 0;
}

static int add_namespace(sl_prom_t *p, const char *ns, size_t len) {
  for (size_t i = 0; i < p->nns; i++)
    if (strlen(p->namespaces[i]) == len && !memcmp(p->namespaces[i], ns, len)) return SL_OK;
  char **n = realloc(p->namespaces, (p->nns + 1) * sizeof *n);
  if (!n) return SL_ENOMEM;
  p->namespaces = n;
  if (!(n[p->nns] = strndup(ns, len))) return SL_ENOMEM;
  p->nns++;
  return SL_OK;
}

int sl_prom_set_targets(sl_prom_t *p, const sl_prom_target_t *t, size_t n, sl_err_t *err) {
  // A poll in flight stages into the targets: drop it (the next one starts on time).
  for (size_t i = 0; i < p->nq; i++)
    if (p->reqs && p->reqs[i]) sl_httpc_cancel(p->reqs[i]), p->reqs[i] = NULL;
  p->pending = 0;
  free_targets(p);
  if (n && !(p->t = calloc(n, sizeof *p->t))) return sl_err(err, SL_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    const char *slash = strchr(t[i].pod, '/');
    if (!slash) continue; // not namespace/name: nothing in Prometheus can match it
    target_t *x = &p->t[p->nt];
    x->pod = strdup(t[i].pod);
    x->model = t[i].model ? strdup(t[i].model) : NULL;
    x->cache_info = NAN;
    char key[512];
    snprintf(key, sizeof key, "%.*s\x1f%s", (int)(slash - t[i].pod), t[i].pod, slash + 1);
    if (!x->pod || (t[i].model && !x->model) ||
        sl_map_put(&p->by_key, key, (void *)(uintptr_t)(p->nt + 1)) < 0 ||
        add_namespace(p, t[i].pod, (size_t)(slash - t[i].pod)) < 0) {
      free(x->pod), free(x->model);
      return sl_err(err, SL_ENOMEM, "out of memory");
    }
    p->nt++;
  }
  if (build_queries(p) < 0) return sl_err(err, SL_ENOMEM, "out of memory");
  return SL_OK;
}

// ---- staging ------------------------------------------------------------------------------------

void sl_prom_stage_reset(sl_prom_t *p) {
  for (size_t i = 0; i < p->nt; i++) {
    target_t *x = &p->t[i];
    memset(x->has, 0, sizeof x->has);
    x->cache_info = NAN;
    for (int m = 0; m < SL_M__COUNT; m++)
      if (x->hist[m]) x->hist[m]->n = 0, x->hist[m]->has_sum = x->hist[m]->has_count = 0;
  }
  p->staged_series = p->staged_unmatched = 0;
}

static hist_t *hist_of(target_t *x, sl_metric_t m) {
  if (!x->hist[m]) x->hist[m] = calloc(1, sizeof *x->hist[m]);
  return x->hist[m];
}

static int hist_add(hist_t *h, double le, double cum) {
  if (h->n == h->cap) {
    int cap = h->cap ? h->cap * 2 : 16;
    double *a = realloc(h->le, (size_t)cap * sizeof *a);
    if (!a) return SL_ENOMEM;
    h->le = a;
    double *b = realloc(h->cum, (size_t)cap * sizeof *b);
    if (!b) return SL_ENOMEM;
    h->cum = b;
    h->cap = cap;
  }
  // Keep the bounds ascending as they arrive (answers come in no promised order).
  int i = h->n;
  while (i > 0 && h->le[i - 1] > le) {
    h->le[i] = h->le[i - 1], h->cum[i] = h->cum[i - 1];
    i--;
  }
  if (i > 0 && h->le[i - 1] == le) { // the same bound twice: the answer is malformed
    memmove(&h->le[i], &h->le[i + 1], (size_t)(h->n - i) * sizeof *h->le);
    memmove(&h->cum[i], &h->cum[i + 1], (size_t)(h->n - i) * sizeof *h->cum);
    return SL_EPARSE;
  }
  h->le[i] = le, h->cum[i] = cum;
  h->n++;
  return SL_OK;
}

static int num_label(const sl_json_t *metric, const char *name, double *out) {
  const sl_json_t *v = sl_json_get(metric, name);
  if (!v || v->type != SL_JSON_STRING) return 0;
  char *end;
  *out = strtod(v->str, &end);
  return end != v->str && *end == '\0';
}

int sl_prom_stage(sl_prom_t *p, size_t qi, const char *body, size_t len, sl_err_t *err) {
  if (qi >= p->nq) return sl_err(err, SL_EINVAL, "no query %zu", qi);
  const query_t *q = &p->q[qi];
  sl_json_limits_t lim = {64, 256u << 20};
  sl_json_t *j = sl_json_parse(body, len, &lim, err);
  if (!j) return SL_EPARSE;
  int rc = SL_OK;
  const char *status = sl_json_str_or(sl_json_get(j, "status"), "");
  const sl_json_t *res = sl_json_at(j, "data.result");
  if (strcmp(status, "success")) {
    rc = sl_err(err, SL_EPARSE, "status %s: %s", status[0] ? status : "missing",
                sl_json_str_or(sl_json_get(j, "error"), "no error given"));
  } else if (strcmp(sl_json_str_or(sl_json_at(j, "data.resultType"), ""), "vector") || !res ||
             res->type != SL_JSON_ARRAY) {
    rc = sl_err(err, SL_EPARSE, "data.result: not an instant vector");
  }
  for (size_t i = 0; rc == SL_OK && i < res->n; i++) {
    const sl_json_t *metric = sl_json_get(res->items[i], "metric");
    const sl_json_t *value = sl_json_get(res->items[i], "value");
    if (!metric || metric->type != SL_JSON_OBJECT || !value || value->type != SL_JSON_ARRAY ||
        value->n != 2 || value->items[1]->type != SL_JSON_STRING) {
      rc = sl_err(err, SL_EPARSE, "data.result[%zu]: not {metric, value: [t, \"v\"]}", i);
      break;
    }
    p->staged_series++;
    const char *ns = sl_json_str_or(sl_json_get(metric, p->ns_label), NULL);
    const char *pod = sl_json_str_or(sl_json_get(metric, p->pod_label), NULL);
    char key[512];
    uintptr_t at = 0;
    if (ns && pod && snprintf(key, sizeof key, "%s\x1f%s", ns, pod) < (int)sizeof key)
      at = (uintptr_t)sl_map_get(&p->by_key, key);
    const sl_metric_info_t *mi = sl_metric_info(q->m);
    if (!at || (p->t[at - 1].model != NULL) != (mi->scope == SL_SCOPE_MODEL)) {
      p->staged_unmatched += !at;
      continue;
    }
    target_t *x = &p->t[at - 1];
    char *end;
    double v = strtod(value->items[1]->str, &end);
    if (end == value->items[1]->str || *end) {
      rc = sl_err(err, SL_EPARSE, "data.result[%zu].value: not a number", i);
      break;
    }
    if (isnan(v)) continue;
    if (q->part == Q_VALUE) {
      x->val[q->m] = v, x->has[q->m] = 1;
    } else if (q->part == Q_CACHE_INFO) {
      double blocks, size;
      if (num_label(metric, "num_gpu_blocks", &blocks) && num_label(metric, "block_size", &size))
        x->cache_info = blocks * size;
    } else {
      hist_t *h = hist_of(x, q->m);
      double le;
      if (!h) {
        rc = sl_err(err, SL_ENOMEM, "out of memory");
      } else if (q->part == Q_SUM) {
        h->sum = v, h->has_sum = 1;
      } else if (q->part == Q_COUNT) {
        h->count = v, h->has_count = 1;
      } else if (!num_label(metric, "le", &le)) {
        rc = sl_err(err, SL_EPARSE, "data.result[%zu]: a bucket without a numeric le", i);
      } else if (hist_add(h, le, v) < 0) {
        rc = sl_err(err, SL_EPARSE, "data.result[%zu]: bucket le=%g twice for one pod", i, le);
      }
    }
  }
  sl_json_free(j);
  return rc;
}

int sl_prom_commit(sl_prom_t *p, sl_store_t *store, double t, sl_err_t *err) {
  for (size_t i = 0; i < p->nt; i++) {
    target_t *x = &p->t[i];
    if (!x->has[SL_M_KV_CAPACITY_TOKENS] && !isnan(x->cache_info))
      x->val[SL_M_KV_CAPACITY_TOKENS] = x->cache_info, x->has[SL_M_KV_CAPACITY_TOKENS] = 1;
    sl_pod_t *pod = x->model ? NULL : sl_store_find_pod(store, x->pod);
    if (!x->model && !pod) continue; // not (or no longer) in the store
    for (int m = 0; m < SL_M__COUNT; m++) {
      int rc = SL_OK;
      hist_t *h = x->hist[m];
      if (sl_metric_info((sl_metric_t)m)->kind == SL_KIND_HISTOGRAM) {
        if (!h || h->n == 0 || !isinf(h->le[h->n - 1])) continue; // no +Inf bucket: not whole
        double count = h->has_count ? h->count : h->cum[h->n - 1];
        double sum = h->has_sum ? h->sum : NAN;
        rc = x->model ? sl_store_put_model_hist(store, x->model, (sl_metric_t)m, t, h->le, h->cum,
                                                h->n, sum, count, err)
                      : sl_store_put_pod_hist_at(store, pod, (sl_metric_t)m, t, h->le, h->cum, h->n,
                                                 sum, count, err);
      } else if (x->has[m]) {
        rc = x->model ? sl_store_put_model(store, x->model, (sl_metric_t)m, t, x->val[m], err)
                      : sl_store_put_pod_at(store, pod, (sl_metric_t)m, t, x->val[m], err);
      }
      if (rc < 0) return rc;
    }
  }
  return SL_OK;
}

// ---- polling ------------------------------------------------------------------------------------

static void schedule(sl_prom_t *p, double delay);

static void poll_done(sl_prom_t *p) {
  double now = sl_sched_now(p->sched);
  p->st.polls++;
  p->st.last_duration_s = now - p->poll_start;
  p->polled_once = 1;
  sl_err_t err = {0};
  if (!p->failed && sl_prom_commit(p, p->store, sl_sched_wall(p->sched), &err) < 0) {
    p->failed = 1;
    snprintf(p->poll_error, sizeof p->poll_error, "%s", err.msg);
  }
  if (p->failed) {
    p->st.polls_failed++;
    if (p->st.up || p->st.polls == 1)
      sl_warn("prometheus: %s (holding: nothing is written until a poll succeeds)", p->poll_error);
    p->st.up = 0;
    snprintf(p->st.last_error, sizeof p->st.last_error, "%s", p->poll_error);
  } else {
    if (!p->st.up && p->st.polls > 1) sl_info("prometheus: answering again");
    p->st.up = 1;
    p->st.last_error[0] = '\0';
    p->st.last_success = now;
    p->st.series = p->staged_series;
    p->st.series_unmatched = p->staged_unmatched;
  }
}

typedef struct {
  sl_prom_t *p;
  size_t qi;
} ctx_t;

static void on_done(void *ud, const sl_httpc_resp_t *r) {
  ctx_t *c = ud;
  sl_prom_t *p = c->p;
  size_t qi = c->qi;
  free(c);
  p->reqs[qi] = NULL;
  p->st.queries++;
  sl_err_t err = {0};
  if (!p->failed) {
    if (r->rc != SL_OK) {
      // httpc says "GET <the whole query URL>: why"; the base URL is enough here.
      const char *why = r->error, *c;
      while ((c = strstr(why, ": "))) why = c + 2;
      sl_err(&err, SL_EIO, "no answer from %s: %s", p->url, why);
    } else if (r->status != 200) {
      // Prometheus answers 400/422/503 with a JSON error body: say what it said.
      sl_json_t *j = sl_json_parse(r->body, r->body_len, NULL, &err);
      sl_err(&err, SL_EIO, "HTTP %ld from %s: %s", r->status, p->url,
             j ? sl_json_str_or(sl_json_get(j, "error"), "no error given") : "no JSON body");
      sl_json_free(j);
    } else if (sl_prom_stage(p, qi, r->body, r->body_len, &err) == SL_OK) {
      err.code = 0;
    }
    if (err.code) {
      p->failed = 1;
      snprintf(p->poll_error, sizeof p->poll_error, "query %zu: %s", qi, err.msg);
    }
  }
  if (err.code) p->st.queries_failed++;
  if (--p->pending == 0) poll_done(p);
}

static void poll(void *ud) {
  sl_prom_t *p = ud;
  p->timer = 0;
  schedule(p, p->o.interval);
  if (p->pending) return; // the last poll is still out: never two at once
  if (!p->nt || !p->nq) {
    p->polled_once = 1; // nothing to ask about yet
    return;
  }
  sl_prom_stage_reset(p);
  p->failed = 0;
  p->poll_error[0] = '\0';
  p->poll_start = sl_sched_now(p->sched);
  const char *headers[3] = {"Accept: application/json", p->auth, NULL};
  for (size_t i = 0; i < p->nq; i++) {
    ctx_t *c = malloc(sizeof *c);
    if (!c) break;
    *c = (ctx_t){p, i};
    sl_httpc_opts_t ho = {.url = p->q[i].url,
                          .headers = headers,
                          .timeout_s = p->o.timeout,
                          .connect_timeout_s = p->o.timeout,
                          .max_body = 256u << 20,
                          .tls = p->o.tls,
                          .on_done = on_done,
                          .ud = c};
    sl_err_t err = {0};
    p->reqs[i] = sl_httpc_start(p->http, &ho, &err);
    if (!p->reqs[i]) {
      free(c);
      p->failed = 1;
      snprintf(p->poll_error, sizeof p->poll_error, "%s", err.msg);
      break;
    }
    p->pending++;
  }
  if (!p->pending) poll_done(p);
}

static void schedule(sl_prom_t *p, double delay) {
  if (p->running) p->timer = sl_sched_after(p->sched, delay, poll, p);
}

int sl_prom_start(sl_prom_t *p, uv_loop_t *loop, sl_sched_t *sched, sl_store_t *store,
                  sl_err_t *err) {
  p->loop = loop;
  p->sched = sched;
  p->store = store;
  if (!p->http && !(p->http = sl_httpc_new(loop, err))) return err->code;
  p->running = 1;
  schedule(p, 0);
  return SL_OK;
}

void sl_prom_stop(sl_prom_t *p) {
  if (!p->running) return;
  p->running = 0;
  if (p->timer) sl_sched_cancel(p->sched, p->timer);
  p->timer = 0;
  for (size_t i = 0; i < p->nq; i++)
    if (p->reqs[i]) sl_httpc_cancel(p->reqs[i]), p->reqs[i] = NULL;
  p->pending = 0;
}

void sl_prom_stats(const sl_prom_t *p, sl_prom_stats_t *out) {
  *out = p->st;
}

size_t sl_prom_nqueries(const sl_prom_t *p) {
  return p->nq;
}

const char *sl_prom_query(const sl_prom_t *p, size_t i) {
  return i < p->nq ? p->q[i].text : NULL;
}

// ---- as a source --------------------------------------------------------------------------------

static int src_start(sl_source_t *s, uv_loop_t *loop, sl_store_t *store, sl_err_t *err) {
  sl_prom_t *p = s->ud;
  if (!p->own_sched && !(p->own_sched = sl_sched_new_uv(loop)))
    return sl_err(err, SL_ENOMEM, "out of memory");
  return sl_prom_start(p, loop, p->own_sched, store, err);
}

static void src_stop(sl_source_t *s) {
  sl_prom_stop(s->ud);
}

static int src_ready(sl_source_t *s) {
  return ((sl_prom_t *)s->ud)->polled_once;
}

sl_source_t *sl_prom_source(sl_prom_t *p) {
  return &p->src;
}

// ---- lifetime -----------------------------------------------------------------------------------

sl_prom_t *sl_prom_new(const sl_prom_opts_t *o, sl_err_t *err) {
  if (!o->url || strncmp(o->url, "http", 4))
    return sl_err(err, SL_EINVAL, "prometheus url: want http:// or https://, got '%s'",
                  o->url ? o->url : ""),
           NULL;
  sl_prom_t *p = calloc(1, sizeof *p);
  if (!p) return sl_err(err, SL_ENOMEM, "out of memory"), NULL;
  p->o = *o;
  if (!(p->o.interval > 0)) p->o.interval = 1;
  if (!(p->o.timeout > 0)) p->o.timeout = p->o.interval < 10 ? p->o.interval : 10;
  size_t ul = strlen(o->url);
  while (ul > 0 && o->url[ul - 1] == '/') ul--; // base URL with or without the slash
  p->url = strndup(o->url, ul);
  p->ns_label = strdup(o->namespace_label ? o->namespace_label : "namespace");
  p->pod_label = strdup(o->pod_label ? o->pod_label : "pod");
  p->matchers = o->matchers ? strdup(o->matchers) : NULL;
  if (o->bearer_token && asprintf(&p->auth, "Authorization: Bearer %s", o->bearer_token) < 0)
    p->auth = NULL;
  p->st.last_success = -1;
  sl_map_init(&p->by_key);
  p->src = (sl_source_t){
      .name = "prometheus", .start = src_start, .stop = src_stop, .ready = src_ready, .ud = p};
  if (!p->url || !p->ns_label || !p->pod_label || (o->matchers && !p->matchers) ||
      (o->bearer_token && !p->auth) || build_queries(p) < 0) {
    sl_prom_free(p);
    return sl_err(err, SL_ENOMEM, "out of memory"), NULL;
  }
  return p;
}

void sl_prom_free(sl_prom_t *p) {
  if (!p) return;
  sl_prom_stop(p);
  if (p->http) sl_httpc_free(p->http);
  if (p->own_sched) sl_sched_free(p->own_sched);
  free_targets(p);
  sl_map_deinit(&p->by_key);
  free_queries(p);
  free(p->reqs);
  free(p->url), free(p->ns_label), free(p->pod_label), free(p->matchers), free(p->auth);
  free(p);
}
