// The trace pipeline: picks a source for a spec (file format by content, ServeGen directory or
// generator), then slices (start, duration), stretches (time_scale), thins or copies (rate_scale)
// and fills in token lengths, keeping the output in time order with a small heap for the jittered
// copies. Also the one-pass per-bin summary the simulator sizes runs with.
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/sim/trace_csv.h"
#include "core/sim/trace_gen.h"
#include "core/sim/trace_json.h"
#include "core/sim/trace_lines.h"
#include "core/sim/trace_servegen.h"
#include "core/sim/trace_src.h"

struct sl_trace {
  sl_trace_src_t *src;
  sl_trace_opts_t o;
  sl_trace_tokens_t tok;
  sl_rng_t rng;   // thinning, copies and tokens for sources without their own stream
  double src_end; // source time at which the slice ends
  double out_end; // output time past which copies are dropped
  double rs_int;  // floor(rate_scale)
  double rs_frac; // rate_scale - floor(rate_scale)
  double last;    // output time of the latest request taken from the source
  bool src_done;
  sl_req_t *heap; // copies (and the originals they overtake) waiting for their turn
  size_t hn, hcap;
};

void sl_trace_opts_init(sl_trace_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->seed = 1;
  o->rate_scale = 1;
  o->time_scale = 1;
  o->jitter_s = 1;
  o->order_tol_s = 1;
}

static int check_opts(const sl_trace_opts_t *o, sl_err_t *err) {
#define BAD(cond, what)                                                                            \
  if (!(cond)) return sl_err(err, SL_EINVAL, "trace option %s", what)
  BAD(isfinite(o->rate_scale) && o->rate_scale >= 0 && o->rate_scale <= 1e6,
      "rate_scale must lie in [0, 1e6]");
  BAD(isfinite(o->time_scale) && o->time_scale > 0 && o->time_scale <= 1e6,
      "time_scale must lie in (0, 1e6]");
  BAD(isfinite(o->start) && o->start >= 0, "start must be a finite number >= 0");
  BAD(isfinite(o->duration) && o->duration >= 0, "duration must be a finite number >= 0");
  BAD(isfinite(o->jitter_s) && o->jitter_s >= 0, "jitter_s must be a finite number >= 0");
  BAD(isfinite(o->order_tol_s) && o->order_tol_s >= 0, "order_tol_s must be a finite number >= 0");
  BAD(o->format >= SL_TRACE_AUTO && o->format <= SL_TRACE_SERVEGEN_AGG, "format is unknown");
#undef BAD
  return 0;
}

static bool starts_digit(const char *s, size_t n) {
  return n > 0 && s[0] >= '0' && s[0] <= '9';
}

// The format of a trace file from its first line (the extension only breaks a tie).
static int detect(sl_trace_lines_t *l, int *fmt, sl_err_t *err) {
  const char *line;
  size_t len;
  int rc = sl_trace_lines_peek(l, &line, &len, err);
  if (rc < 0) return rc;
  if (rc == 0) return sl_err(err, SL_EPARSE, "%s: empty trace file", l->name);
  size_t i = 0;
  while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
  const char *f[7];
  size_t fl[7];
  int nf = sl_trace_lines_split(line + i, len - i, f, fl, 7);
  if (i < len && line[i] == '{')
    *fmt = SL_TRACE_MOONCAKE;
  else if ((fl[0] == 9 && !strncasecmp(f[0], "TIMESTAMP", 9)) ||
           (fl[0] >= 10 && starts_digit(f[0], fl[0]) && f[0][4] == '-'))
    *fmt = SL_TRACE_AZURE;
  else if ((fl[0] == 14 && !memcmp(f[0], "window_start_s", 14)) || starts_digit(f[0], fl[0])) {
    if (nf == 3)
      *fmt = SL_TRACE_SERVEGEN_AGG;
    else if (nf == 6)
      *fmt = SL_TRACE_SERVEGEN;
    else
      return sl_err(err, SL_EPARSE,
                    "%s:1: %d fields: neither a ServeGen client file (6) nor an aggregate (3)",
                    l->name, nf);
  } else {
    size_t n = strlen(l->name);
    if (n > 6 && !strcmp(l->name + n - 6, ".jsonl"))
      *fmt = SL_TRACE_MOONCAKE;
    else
      return sl_err(err, SL_EPARSE, "%s: cannot tell the trace format from its first line '%.*s'",
                    l->name, (int)(len > 60 ? 60 : len), line);
  }
  return 0;
}

// Client id of a ServeGen chunk-<id>-trace.csv file, so it is seeded as in its directory.
static uint64_t client_id(const char *path) {
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  uint64_t id = 0;
  size_t n = strlen(b);
  if (n > 16 && !strncmp(b, "chunk-", 6) && !strcmp(b + n - 10, "-trace.csv") &&
      sl_trace_lines_uint(b + 6, n - 16, &id))
    return id;
  return 0;
}

static int open_lines(sl_trace_lines_t *l, const sl_trace_opts_t *o, uint64_t client,
                      sl_trace_src_t **src, sl_err_t *err) {
  int fmt = o->format, rc;
  if (fmt == SL_TRACE_AUTO && (rc = detect(l, &fmt, err)) < 0) {
    sl_trace_lines_deinit(l);
    return rc;
  }
  switch (fmt) {
  case SL_TRACE_AZURE:
    return sl_trace_csv_open_azure(l, o, src, err);
  case SL_TRACE_MOONCAKE:
    return sl_trace_json_open(l, o, src, err);
  case SL_TRACE_SERVEGEN:
    return sl_trace_servegen_open(l, false, client, o, src, err);
  default:
    return sl_trace_servegen_open(l, true, 0, o, src, err);
  }
}

// Wraps a source in the pipeline (takes the source; frees it on failure).
static int wrap(sl_trace_src_t *src, const sl_trace_opts_t *o, sl_trace_t **out, sl_err_t *err) {
  sl_trace_t *t = calloc(1, sizeof *t);
  if (!t) {
    src->free(src);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  t->src = src;
  t->o = *o;
  t->o.tokens = NULL; // the caller's string need not outlive the open
  int rc = sl_trace_tokens_parse(o->tokens, &t->tok, err);
  if (rc < 0) {
    sl_trace_free(t);
    return rc;
  }
  sl_rng_t root;
  sl_rng_seed(&root, o->seed);
  sl_rng_split(&root, &t->rng);
  t->src_end = o->duration > 0 ? o->start + o->duration : INFINITY;
  if (src->end < t->src_end) t->src_end = src->end;
  t->out_end = isfinite(t->src_end) ? (t->src_end - o->start) * o->time_scale : INFINITY;
  t->rs_int = floor(o->rate_scale);
  t->rs_frac = o->rate_scale - t->rs_int;
  if (o->start > 0 && src->seek) src->seek(src, o->start);
  *out = t;
  return 0;
}

int sl_trace_open(const char *spec, const sl_trace_opts_t *opts, sl_trace_t **out, sl_err_t *err) {
  sl_trace_opts_t def;
  if (!opts) {
    sl_trace_opts_init(&def);
    opts = &def;
  }
  *out = NULL;
  if (!spec || !*spec) return sl_err(err, SL_EINVAL, "trace: empty spec");
  int rc = check_opts(opts, err);
  if (rc < 0) return rc;
  sl_trace_src_t *src = NULL;
  struct stat st;
  if (stat(spec, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      rc = sl_trace_servegen_open_dir(spec, opts, &src, err);
    } else {
      sl_trace_lines_t l;
      rc = sl_trace_lines_open(&l, spec, err);
      if (rc == 0) rc = open_lines(&l, opts, client_id(spec), &src, err);
    }
  } else if (sl_trace_gen_is(spec)) {
    rc = sl_trace_gen_open(spec, opts, &src, err);
  } else if (strchr(spec, ':') && strchr(spec, '=')) {
    return sl_trace_gen_open(spec, opts, &src, err); // names the unknown generator
  } else {
    return sl_err(err, SL_EINVAL,
                  "trace '%s': no such file, and not a generator (poisson, gamma, weibull, "
                  "diurnal, step)",
                  spec);
  }
  if (rc < 0) return rc;
  return wrap(src, opts, out, err);
}

int sl_trace_open_mem(const void *data, size_t len, const char *name, const sl_trace_opts_t *opts,
                      sl_trace_t **out, sl_err_t *err) {
  sl_trace_opts_t def;
  if (!opts) {
    sl_trace_opts_init(&def);
    opts = &def;
  }
  *out = NULL;
  int rc = check_opts(opts, err);
  if (rc < 0) return rc;
  sl_trace_lines_t l;
  if ((rc = sl_trace_lines_mem(&l, data, len, name, err)) < 0) return rc;
  sl_trace_src_t *src;
  if ((rc = open_lines(&l, opts, name ? client_id(name) : 0, &src, err)) < 0) return rc;
  return wrap(src, opts, out, err);
}

void sl_trace_free(sl_trace_t *t) {
  if (!t) return;
  if (t->src) t->src->free(t->src);
  free(t->heap);
  free(t);
}

const sl_blocks_t *sl_trace_blocks(const sl_trace_t *t) {
  return t->src->blocks;
}

const char *sl_trace_kind(const sl_trace_t *t) {
  return t->src->kind;
}

static int heap_push(sl_trace_t *t, const sl_req_t *r, sl_err_t *err) {
  if (t->hn == t->hcap) {
    size_t cap = t->hcap ? t->hcap * 2 : 64;
    sl_req_t *h = realloc(t->heap, cap * sizeof *h);
    if (!h) return sl_err(err, SL_ENOMEM, "out of memory");
    t->heap = h;
    t->hcap = cap;
  }
  size_t i = t->hn++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (t->heap[p].t <= r->t) break;
    t->heap[i] = t->heap[p];
    i = p;
  }
  t->heap[i] = *r;
  return 0;
}

static sl_req_t heap_pop(sl_trace_t *t) {
  sl_req_t top = t->heap[0], x = t->heap[--t->hn];
  size_t i = 0, n = t->hn;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && t->heap[c + 1].t < t->heap[c].t) c++;
    if (t->heap[c].t >= x.t) break;
    t->heap[i] = t->heap[c];
    i = c;
  }
  if (n) t->heap[i] = x;
  return top;
}

// One source request through the slice, stretch, thinning and lengths. Returns how many copies
// to add (their times are drawn next, from the same rng), DROP when it is thinned away (its time
// already output time), BEFORE when it precedes the slice, PAST when the source has gone beyond
// the slice. The draws per request are the same
// whichever caller (stream or per-client bins) does this, so both see the same requests.
enum { DROP = -1, PAST = -2, BEFORE = -3 };

static int shape(const sl_trace_t *t, sl_req_t *r, sl_rng_t *rng) {
  const sl_trace_opts_t *o = &t->o;
  if (r->t >= t->src_end) return PAST;
  if (r->t < o->start) return BEFORE;
  r->t = (r->t - o->start) * o->time_scale;
  int copies = 0;
  if (o->rate_scale < 1) {
    if (sl_rng_uniform(rng) >= o->rate_scale) return DROP;
  } else if (o->rate_scale > 1) {
    copies = (int)t->rs_int - 1;
    if (t->rs_frac > 0 && sl_rng_uniform(rng) < t->rs_frac) copies++;
  }
  if (!t->src->has_tokens) sl_trace_tokens_draw(&t->tok, rng, &r->in_tokens, &r->out_tokens);
  if (r->in_tokens == 0) r->in_tokens = 1;
  if (r->out_tokens == 0) r->out_tokens = 1;
  r->model = o->model;
  return copies;
}

static inline double copy_time(const sl_trace_t *t, const sl_req_t *r, sl_rng_t *rng) {
  return r->t + sl_rng_uniform(rng) * t->o.jitter_s;
}

int sl_trace_next(sl_trace_t *t, sl_req_t *out, sl_err_t *err) {
  for (;;) {
    // Nothing the source yields later can come before t->last, so anything waiting up to it
    // is safe to hand out.
    if (t->hn && (t->src_done || t->heap[0].t <= t->last)) {
      *out = heap_pop(t);
      if (out->t >= t->out_end) continue;
      return 1;
    }
    if (t->src_done) return 0;
    sl_req_t r;
    sl_rng_t *rng = NULL;
    int rc = t->src->next(t->src, &r, &rng, err);
    if (rc < 0) return rc;
    if (rc == 0) {
      t->src_done = true;
      continue;
    }
    int copies = shape(t, &r, rng ? rng : &t->rng);
    if (copies == PAST) {
      t->src_done = true;
      continue;
    }
    if (copies == BEFORE) continue;
    t->last = r.t; // a lower bound for whatever comes next, thinned or not
    if (copies == DROP) continue;
    for (int i = 0; i < copies; i++) {
      sl_req_t c = r;
      c.t = copy_time(t, &r, rng ? rng : &t->rng);
      if ((rc = heap_push(t, &c, err)) < 0) return rc;
    }
    if (t->hn == 0 || r.t <= t->heap[0].t) {
      *out = r;
      return 1;
    }
    if ((rc = heap_push(t, &r, err)) < 0) return rc;
  }
}

void sl_trace_bins_deinit(sl_trace_bins_t *b) {
  if (!b) return;
  free(b->count);
  free(b->in_tokens);
  free(b->out_tokens);
  free(b->in_sq);
  free(b->out_sq);
  memset(b, 0, sizeof *b);
}

static int bins_grow(sl_trace_bins_t *b, size_t *cap, size_t need, sl_err_t *err) {
  if (need <= *cap) return 0;
  size_t nc = *cap ? *cap : 1024;
  while (nc < need) nc *= 2;
  uint64_t **arr[3] = {&b->count, &b->in_tokens, &b->out_tokens};
  for (int k = 0; k < 3; k++) {
    uint64_t *p = realloc(*arr[k], nc * sizeof *p);
    if (!p) return sl_err(err, SL_ENOMEM, "out of memory");
    memset(p + *cap, 0, (nc - *cap) * sizeof *p);
    *arr[k] = p;
  }
  double **sq[2] = {&b->in_sq, &b->out_sq};
  for (int k = 0; k < 2; k++) {
    double *p = realloc(*sq[k], nc * sizeof *p);
    if (!p) return sl_err(err, SL_ENOMEM, "out of memory");
    memset(p + *cap, 0, (nc - *cap) * sizeof *p);
    *sq[k] = p;
  }
  *cap = nc;
  return 0;
}

#define MAX_BINS ((size_t)1 << 28)

static int bins_add(sl_trace_bins_t *b, size_t *cap, const sl_req_t *r, sl_err_t *err) {
  double x = floor(r->t / b->bin_s);
  if (x >= (double)MAX_BINS)
    return sl_err(err, SL_ERANGE, "trace bins: more than %zu bins of %g s", MAX_BINS, b->bin_s);
  size_t i = (size_t)x;
  if (i >= b->n) {
    int rc = bins_grow(b, cap, i + 1, err);
    if (rc < 0) return rc;
    b->n = i + 1;
  }
  b->count[i]++;
  b->in_tokens[i] += r->in_tokens;
  b->out_tokens[i] += r->out_tokens;
  b->in_sq[i] += (double)r->in_tokens * r->in_tokens;
  b->out_sq[i] += (double)r->out_tokens * r->out_tokens;
  b->total++;
  if (r->t > b->last_t) b->last_t = r->t;
  return 0;
}

// A ServeGen directory's bins need no merge: its clients are binned independently, in parallel,
// each request shaped exactly as the merged stream would shape it.
typedef struct {
  sl_trace_t *t;
  size_t n;
  atomic_size_t next;
} job_t;

typedef struct {
  job_t *job;
  pthread_t th;
  sl_trace_bins_t b;
  size_t cap;
  int rc;
  size_t err_client;
  sl_err_t err;
} worker_t;

static int bin_client(worker_t *w, sl_trace_src_t *c) {
  const sl_trace_t *t = w->job->t;
  for (;;) {
    sl_req_t r;
    sl_rng_t *rng = NULL;
    int rc = c->next(c, &r, &rng, &w->err);
    if (rc <= 0) return rc;
    int copies = shape(t, &r, rng);
    if (copies == PAST) return 0;
    if (copies < 0) continue;
    if ((rc = bins_add(&w->b, &w->cap, &r, &w->err)) < 0) return rc;
    for (int i = 0; i < copies; i++) {
      sl_req_t cp = r;
      cp.t = copy_time(t, &r, rng);
      if (cp.t < t->out_end && (rc = bins_add(&w->b, &w->cap, &cp, &w->err)) < 0) return rc;
    }
  }
}

static void *bin_clients(void *arg) {
  worker_t *w = arg;
  job_t *j = w->job;
  for (;;) {
    size_t ci = atomic_fetch_add(&j->next, 1);
    if (ci >= j->n || w->rc < 0) break;
    int rc = bin_client(w, sl_trace_servegen_client(j->t->src, ci));
    if (rc < 0) {
      w->rc = rc;
      w->err_client = ci;
    }
  }
  return NULL;
}

static int bins_parallel(sl_trace_t *t, size_t nclients, sl_trace_bins_t *out, sl_err_t *err) {
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  size_t nw = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (size_t)ncpu;
  if (nw > nclients) nw = nclients;
  job_t job = {.t = t, .n = nclients};
  atomic_init(&job.next, 0);
  worker_t *w = calloc(nw, sizeof *w);
  if (!w) return sl_err(err, SL_ENOMEM, "out of memory");
  size_t started = 1;
  for (size_t i = 0; i < nw; i++) {
    w[i].job = &job;
    w[i].b.bin_s = out->bin_s;
  }
  for (size_t i = 1; i < nw; i++, started++)
    if (pthread_create(&w[i].th, NULL, bin_clients, &w[i]) != 0) break;
  bin_clients(&w[0]);
  for (size_t i = 1; i < started; i++) pthread_join(w[i].th, NULL);
  // Errors: the lowest client's, as a sequential pass over clients would report.
  int rc = 0;
  size_t best = (size_t)-1;
  for (size_t i = 0; i < started; i++)
    if (w[i].rc < 0 && w[i].err_client < best) {
      best = w[i].err_client;
      rc = w[i].rc;
      if (err) *err = w[i].err;
    }
  size_t cap = 0;
  for (size_t i = 0; i < started && rc == 0; i++) {
    if ((rc = bins_grow(out, &cap, w[i].b.n, err)) < 0) break;
    if (w[i].b.n > out->n) out->n = w[i].b.n;
    for (size_t k = 0; k < w[i].b.n; k++) {
      out->count[k] += w[i].b.count[k];
      out->in_tokens[k] += w[i].b.in_tokens[k];
      out->out_tokens[k] += w[i].b.out_tokens[k];
      out->in_sq[k] += w[i].b.in_sq[k];
      out->out_sq[k] += w[i].b.out_sq[k];
    }
    out->total += w[i].b.total;
    if (w[i].b.last_t > out->last_t) out->last_t = w[i].b.last_t;
  }
  for (size_t i = 0; i < nw; i++) sl_trace_bins_deinit(&w[i].b);
  free(w);
  return rc;
}

int sl_trace_bins(const char *spec, const sl_trace_opts_t *opts, double bin_s, sl_trace_bins_t *out,
                  sl_err_t *err) {
  memset(out, 0, sizeof *out);
  if (!(bin_s > 0) || !isfinite(bin_s))
    return sl_err(err, SL_EINVAL, "trace bins: bin_s must be > 0");
  sl_trace_t *t;
  int rc = sl_trace_open(spec, opts, &t, err);
  if (rc < 0) return rc;
  sl_trace_bins_t b = {.bin_s = bin_s};
  size_t cap = 0;
  size_t nclients = sl_trace_servegen_nclients(t->src);
  if (nclients > 0) {
    rc = bins_parallel(t, nclients, &b, err);
    // bins_parallel sizes the arrays exactly; find their capacity for the tail below.
    cap = b.n;
  } else {
    sl_req_t r;
    while ((rc = sl_trace_next(t, &r, err)) > 0)
      if ((rc = bins_add(&b, &cap, &r, err)) < 0) break;
  }
  if (rc == 0 && isfinite(t->out_end)) {
    double x = ceil(t->out_end / bin_s);
    size_t n = x < (double)MAX_BINS ? (size_t)x : MAX_BINS;
    if (n > b.n) {
      rc = bins_grow(&b, &cap, n, err);
      if (rc == 0) b.n = n;
    }
  }
  sl_trace_free(t);
  if (rc < 0) {
    sl_trace_bins_deinit(&b);
    return rc;
  }
  *out = b;
  return 0;
}
