// ServeGen rate series turned into arrivals. A client file gives, per window, the mean rate and
// the inter-arrival law (Gamma or Weibull with a shape, or exponential when blank); an aggregate
// file gives the total rate per window (exponential gaps). A window with rate r and length W gets
// N = r*W arrivals (stochastically rounded; ServeGen rates are counts/W, so N is exact): N + 1 gaps
// are drawn from the window's law and rescaled to span the window, which keeps the law's shape
// (its CV) and makes the window's rate exactly the file's. Each (client, window) has its own
// random stream derived from the seed, so a window's arrivals do not depend on other clients, on
// skipped windows or on merge order. A directory merges its clients with a heap; memory is one
// window of arrival times per client.
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sim/trace_servegen.h"

#define MAX_WINDOW_REQUESTS (1u << 22) // 4.2M arrivals in one client window (data: <= 1.74M)
#define DEFAULT_WINDOW      600.0      // ServeGen's window, for a file with one row

enum { PAT_EXP, PAT_GAMMA, PAT_WEIBULL };

typedef struct {
  double w0, rate, shape;
  int pat;
  long line;
} row_t;

typedef struct {
  sl_trace_src_t base;
  sl_trace_lines_t l;
  bool agg;
  uint64_t id, seed;
  row_t cur, nxt;
  bool has_cur, has_nxt, started;
  double last_len; // length of the window before, for the last row
  double origin;   // source time 0, in file seconds
  double from;     // windows ending at or before this (file seconds) are skipped unsampled
  double *arr;     // arrival times of the current window (file seconds)
  size_t n, i, cap;
  double last;
  sl_rng_t rng; // the current window's stream, continued by the pipeline's token draws
} sg_t;

static uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static int read_row(sg_t *s, row_t *row, bool *got, sl_err_t *err) {
  const char *line;
  size_t len;
  sl_trace_lines_t *l = &s->l;
  for (;;) {
    int rc = sl_trace_lines_next(l, &line, &len, err);
    if (rc < 0) return rc;
    if (rc == 0) {
      *got = false;
      return 0;
    }
    if (len == 0) continue;
    const char *f[6];
    size_t fl[6];
    int want = s->agg ? 3 : 6;
    int nf = sl_trace_lines_split(line, len, f, fl, 6);
    if (l->line == 1 && fl[0] == 14 && !memcmp(f[0], "window_start_s", 14)) continue; // header
    if (nf != want)
      return sl_trace_lines_err(l, err, "expected %d fields (%s), got %d", want,
                                s->agg ? "window_start_s,total_rate_rps,active_clients"
                                       : "window_start_s,rate_req_per_s,cv_of_interarrival,"
                                         "pattern,shape,scale",
                                nf);
    static const char *const cname[] = {"window_start_s", "rate_req_per_s", "cv_of_interarrival",
                                        "pattern",        "shape",          "scale"};
    static const char *const aname[] = {"window_start_s", "total_rate_rps", "active_clients"};
    const char *const *name = s->agg ? aname : cname;
    double v[6] = {0};
    for (int i = 0; i < want; i++) {
      if (i == 3 && !s->agg) continue;
      if (!sl_trace_lines_num(f[i], fl[i], &v[i]))
        return sl_trace_lines_err(l, err, "%s is not a number: '%.*s'", name[i], (int)fl[i], f[i]);
    }
    if (fabs(v[0]) > 1e12)
      return sl_trace_lines_err(l, err, "window_start_s is out of range: %g", v[0]);
    if (v[1] < 0) return sl_trace_lines_err(l, err, "%s is negative: %g", name[1], v[1]);
    row->w0 = v[0];
    row->rate = v[1];
    row->pat = PAT_EXP;
    row->shape = 0;
    row->line = l->line;
    if (!s->agg) {
      if (fl[3] == 5 && !memcmp(f[3], "Gamma", 5))
        row->pat = PAT_GAMMA;
      else if (fl[3] == 7 && !memcmp(f[3], "Weibull", 7))
        row->pat = PAT_WEIBULL;
      else if (fl[3] != 0)
        return sl_trace_lines_err(l, err, "pattern must be Gamma, Weibull or empty, got '%.*s'",
                                  (int)fl[3], f[3]);
      row->shape = v[4];
      if (row->pat != PAT_EXP && row->rate > 0 && !(v[4] >= 1e-4 && v[4] <= 1e6))
        return sl_trace_lines_err(l, err, "shape must lie in [1e-4, 1e6] for %.*s, got %g",
                                  (int)fl[3], f[3], v[4]);
    }
    *got = true;
    return 0;
  }
}

// Reads the first row (the file's start time); windows are generated later.
static int prime(sg_t *s, sl_err_t *err) {
  int rc = read_row(s, &s->cur, &s->has_cur, err);
  if (rc < 0) return rc;
  s->origin = s->has_cur ? s->cur.w0 : 0;
  return 0;
}

// Unit-mean-free gaps of the window's law; the caller normalises them. For shapes below 1 the
// gaps span hundreds of orders of magnitude, so they are drawn as logarithms and exponentiated
// relative to the largest: otherwise every gap of a short window can underflow to 0.
static void draw_gaps(sg_t *s, const row_t *r, double *g, size_t n) {
  sl_rng_t *rng = &s->rng;
  double k = r->shape;
  if (r->pat == PAT_EXP) {
    for (size_t i = 0; i < n; i++) g[i] = -log(sl_rng_uniform_pos(rng));
    return;
  }
  if (k >= 1) {
    for (size_t i = 0; i < n; i++)
      g[i] = r->pat == PAT_GAMMA ? sl_rng_gamma(rng, k, 1) : sl_rng_weibull(rng, k, 1);
    return;
  }
  double top = -INFINITY, ik = 1 / k;
  for (size_t i = 0; i < n; i++) {
    double lg;
    if (r->pat == PAT_GAMMA) // Gamma(k) = Gamma(k + 1) * U^(1/k)
      lg = log(sl_rng_gamma(rng, k + 1, 1)) + log(sl_rng_uniform_pos(rng)) * ik;
    else
      lg = log(-log(sl_rng_uniform_pos(rng))) * ik;
    g[i] = lg;
    if (lg > top) top = lg;
  }
  for (size_t i = 0; i < n; i++) g[i] = exp(g[i] - top);
}

static int gen_window(sg_t *s, const row_t *r, double w, sl_err_t *err) {
  s->n = s->i = 0;
  sl_rng_seed(&s->rng,
              splitmix(s->seed ^ splitmix(s->id ^ splitmix((uint64_t)llround(r->w0 * 1e3)))));
  double x = r->rate * w;
  if (x > MAX_WINDOW_REQUESTS)
    return sl_err(err, SL_EPARSE, "%s:%ld: rate %g over a %g s window is more than %u requests",
                  s->l.name, r->line, r->rate, w, MAX_WINDOW_REQUESTS);
  // Rates printed from counts/W come back a hair off a whole count: take the count then.
  double whole = floor(x + 0.5);
  size_t n = (size_t)whole;
  if (fabs(x - whole) > 1e-6) {
    n = (size_t)floor(x);
    n += sl_rng_uniform(&s->rng) < x - floor(x);
  }
  if (n == 0) return 0;
  if (n + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 256;
    while (cap < n + 1) cap *= 2;
    double *a = realloc(s->arr, cap * sizeof *a);
    if (!a) return sl_err(err, SL_ENOMEM, "out of memory");
    s->arr = a;
    s->cap = cap;
  }
  double *g = s->arr;
  draw_gaps(s, r, g, n + 1);
  double sum = 0;
  for (size_t i = 0; i <= n; i++) sum += g[i];
  // Arrivals stay in [w0, w0 + w): the last gap can underflow to nothing next to a huge one.
  double end = nextafter(r->w0 + w, -INFINITY), c = 0, scale = w / sum;
  for (size_t i = 0; i < n; i++) {
    c += g[i];
    double t = r->w0 + c * scale;
    g[i] = t < end ? t : end;
  }
  s->n = n;
  return 0;
}

// Moves to the next window with arrivals; 0 at the end of the file.
static int next_window(sg_t *s, sl_err_t *err) {
  while (s->has_cur) {
    int rc = read_row(s, &s->nxt, &s->has_nxt, err);
    if (rc < 0) return rc;
    double w = s->last_len > 0 ? s->last_len : DEFAULT_WINDOW;
    if (s->has_nxt) {
      if (!(s->nxt.w0 > s->cur.w0))
        return sl_trace_lines_err(&s->l, err, "window_start_s does not increase (%g after %g)",
                                  s->nxt.w0, s->cur.w0);
      w = s->nxt.w0 - s->cur.w0;
      s->last_len = w;
    }
    row_t cur = s->cur;
    s->cur = s->nxt;
    s->has_cur = s->has_nxt;
    if (cur.rate > 0 && cur.w0 + w > s->from) {
      rc = gen_window(s, &cur, w, err);
      if (rc < 0) return rc;
      if (s->n > 0) return 1;
    }
  }
  return 0;
}

static int sg_next(sl_trace_src_t *src, sl_req_t *r, sl_rng_t **rng, sl_err_t *err) {
  sg_t *s = (sg_t *)src;
  if (s->i == s->n) {
    int rc = next_window(s, err);
    if (rc <= 0) return rc;
  }
  double t = s->arr[s->i++] - s->origin;
  if (t < s->last) t = s->last;
  s->last = t;
  memset(r, 0, sizeof *r);
  r->t = t;
  *rng = &s->rng;
  return 1;
}

static void sg_seek(sl_trace_src_t *src, double t) {
  sg_t *s = (sg_t *)src;
  s->from = s->origin + t;
}

static void sg_free(sl_trace_src_t *src) {
  sg_t *s = (sg_t *)src;
  if (!s) return;
  free(s->arr);
  sl_trace_lines_deinit(&s->l);
  free(s);
}

static int sg_new(sl_trace_lines_t *l, bool agg, uint64_t client, const sl_trace_opts_t *o,
                  sg_t **out, sl_err_t *err) {
  sg_t *s = calloc(1, sizeof *s);
  if (!s) {
    sl_trace_lines_deinit(l);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  s->l = *l;
  s->agg = agg;
  s->id = client;
  s->seed = o->seed;
  s->from = -INFINITY;
  s->base.next = sg_next;
  s->base.seek = sg_seek;
  s->base.free = sg_free;
  s->base.kind = agg ? "servegen-aggregate" : "servegen";
  s->base.has_tokens = false;
  s->base.end = INFINITY;
  int rc = prime(s, err);
  if (rc < 0) {
    sg_free(&s->base);
    return rc;
  }
  *out = s;
  return 0;
}

int sl_trace_servegen_open(sl_trace_lines_t *l, bool agg, uint64_t client, const sl_trace_opts_t *o,
                           sl_trace_src_t **out, sl_err_t *err) {
  sg_t *s;
  int rc = sg_new(l, agg, client, o, &s, err);
  if (rc < 0) return rc;
  *out = &s->base;
  return 0;
}

// ---- a model directory: every client merged ---------------------------------------------------

// The merge is a tree of losers: a pick replays one leaf-to-root path, log2(clients) compares.
typedef struct {
  sl_trace_src_t base;
  sg_t **c;
  size_t n;
  sl_req_t *head; // each client's next request; t = INFINITY once it has none
  size_t *tree;   // tree[0] the winner, tree[1..n-1] the loser at each internal node
  bool primed;
  bool refill; // the winner's request went out: fetch its successor before the next pick
} dir_t;

// Ties go to the lower client index, so the merge order is fixed.
static inline bool before(const dir_t *d, size_t a, size_t b) {
  double ta = d->head[a].t, tb = d->head[b].t;
  return ta < tb || (ta == tb && a < b);
}

static void replay(dir_t *d, size_t p) {
  size_t cand = p;
  for (size_t node = (p + d->n) / 2; node >= 1; node /= 2) {
    if (before(d, d->tree[node], cand)) {
      size_t x = d->tree[node];
      d->tree[node] = cand;
      cand = x;
    }
  }
  d->tree[0] = cand;
}

// Fetches client ci's next request into head[ci] (t = INFINITY when it has none).
static int fetch(dir_t *d, size_t ci, sl_err_t *err) {
  sl_rng_t *rng;
  int rc = sg_next(&d->c[ci]->base, &d->head[ci], &rng, err);
  if (rc == 0) d->head[ci].t = INFINITY;
  return rc;
}

static int build(dir_t *d, sl_err_t *err) {
  size_t n = d->n;
  size_t *win = malloc(2 * n * sizeof *win);
  if (!win) return sl_err(err, SL_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) win[n + i] = i;
  for (size_t j = n - 1; j >= 1; j--) {
    size_t a = win[2 * j], b = win[2 * j + 1];
    bool ab = before(d, a, b);
    win[j] = ab ? a : b;
    d->tree[j] = ab ? b : a;
  }
  d->tree[0] = n > 1 ? win[1] : 0;
  free(win);
  return 0;
}

static int dir_next(sl_trace_src_t *src, sl_req_t *r, sl_rng_t **rng, sl_err_t *err) {
  dir_t *d = (dir_t *)src;
  int rc;
  if (!d->primed) {
    d->primed = true;
    for (size_t i = 0; i < d->n; i++)
      if ((rc = fetch(d, i, err)) < 0) return rc;
    if ((rc = build(d, err)) < 0) return rc;
  } else if (d->refill) {
    d->refill = false;
    size_t ci = d->tree[0];
    if ((rc = fetch(d, ci, err)) < 0) return rc;
    replay(d, ci);
  }
  size_t ci = d->tree[0];
  if (d->head[ci].t == INFINITY) return 0;
  *r = d->head[ci];
  *rng = &d->c[ci]->rng; // still this request's window: the refill waits for the next call
  d->refill = true;
  return 1;
}

size_t sl_trace_servegen_nclients(const sl_trace_src_t *src) {
  return src->next == dir_next ? ((const dir_t *)src)->n : 0;
}

sl_trace_src_t *sl_trace_servegen_client(sl_trace_src_t *src, size_t i) {
  return &((dir_t *)src)->c[i]->base;
}

static void dir_seek(sl_trace_src_t *src, double t) {
  dir_t *d = (dir_t *)src;
  for (size_t i = 0; i < d->n; i++) sg_seek(&d->c[i]->base, t);
}

static void dir_free(sl_trace_src_t *src) {
  dir_t *d = (dir_t *)src;
  for (size_t i = 0; i < d->n; i++) sg_free(&d->c[i]->base);
  free(d->c);
  free(d->head);
  free(d->tree);
  free(d);
}

typedef struct {
  uint64_t id;
  char *name;
} chunk_t;

static int cmp_chunk(const void *a, const void *b) {
  const chunk_t *x = a, *y = b;
  return (x->id > y->id) - (x->id < y->id);
}

// "chunk-<id>-trace.csv" -> id.
static bool chunk_id(const char *name, uint64_t *id) {
  size_t n = strlen(name);
  if (n < 17 || strncmp(name, "chunk-", 6) || strcmp(name + n - 10, "-trace.csv")) return false;
  return sl_trace_lines_uint(name + 6, n - 16, id);
}

int sl_trace_servegen_open_dir(const char *path, const sl_trace_opts_t *o, sl_trace_src_t **out,
                               sl_err_t *err) {
  int rc = 0;
  chunk_t *ch = NULL;
  size_t nch = 0, cap = 0;
  dir_t *d = NULL;
  DIR *dir = opendir(path);
  if (!dir) return sl_err(err, SL_EIO, "cannot open directory %s", path);
  struct dirent *e;
  while ((e = readdir(dir))) {
    uint64_t id;
    if (!chunk_id(e->d_name, &id)) continue;
    if (nch == cap) {
      cap = cap ? cap * 2 : 64;
      chunk_t *nc = realloc(ch, cap * sizeof *nc);
      if (!nc) {
        rc = sl_err(err, SL_ENOMEM, "out of memory");
        goto done;
      }
      ch = nc;
    }
    ch[nch].id = id;
    ch[nch].name = malloc(strlen(path) + strlen(e->d_name) + 2);
    if (!ch[nch].name) {
      rc = sl_err(err, SL_ENOMEM, "out of memory");
      goto done;
    }
    sprintf(ch[nch].name, "%s/%s", path, e->d_name);
    nch++;
  }
  if (nch == 0) {
    rc = sl_err(err, SL_EINVAL, "%s: no chunk-<id>-trace.csv client files", path);
    goto done;
  }
  // Directory order is the file system's; the merge and the seeds must not depend on it.
  qsort(ch, nch, sizeof *ch, cmp_chunk);
  d = calloc(1, sizeof *d);
  if (!d || !(d->c = calloc(nch, sizeof *d->c)) || !(d->head = calloc(nch, sizeof *d->head)) ||
      !(d->tree = calloc(nch, sizeof *d->tree))) {
    rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto done;
  }
  double origin = INFINITY;
  for (size_t i = 0; i < nch; i++) {
    sl_trace_lines_t l;
    if ((rc = sl_trace_lines_open(&l, ch[i].name, err)) < 0) goto done;
    if ((rc = sg_new(&l, false, ch[i].id, o, &d->c[i], err)) < 0) goto done;
    d->n++;
    if (d->c[i]->has_cur && d->c[i]->origin < origin) origin = d->c[i]->origin;
  }
  if (!isfinite(origin)) origin = 0;
  for (size_t i = 0; i < d->n; i++) d->c[i]->origin = origin;
  d->base.next = dir_next;
  d->base.seek = dir_seek;
  d->base.free = dir_free;
  d->base.kind = "servegen-dir";
  d->base.has_tokens = false;
  d->base.end = INFINITY;
  *out = &d->base;
  d = NULL;
done:
  if (d) dir_free(&d->base);
  for (size_t i = 0; i < nch; i++) free(ch[i].name);
  free(ch);
  closedir(dir);
  return rc;
}
