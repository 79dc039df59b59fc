// Ingestion of a page into the store. See ingest.h.
//
// The parser calls back per family and per sample. The family callback decides, from a cache of
// family names, whether the family feeds a store metric; declined families cost the parser a
// memchr per line. Accepted samples go into one slot per store metric: a running sum for gauges
// and counters, the raw buckets and _sum/_count for histograms, which are assembled once the whole
// page has parsed. Nothing is written to the store until sl_ingest_commit_*.
#include "core/scrape/ingest.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// Family names seen, with what they feed. Bounded so that a target serving ever new names cannot
// grow it without end; past the bound names are looked up every time.
#define CACHE_SLOTS  8192
#define CACHE_MAX    4096
#define NAME_MAX_LEN 255

typedef struct {
  uint64_t h; // 0 = empty slot
  char *name;
  uint32_t len;
  uint8_t type;
  uint8_t info_kv; // vllm:cache_config_info: the value is num_gpu_blocks x block_size
  int rank;        // precedence among the names of one metric: lower wins
  const sl_metric_alias_t *a;
} fam_ent_t;

typedef struct {
  double le, v;
} bucket_t;

typedef struct {
  uint64_t key; // hash of the series' labels but le
  int first, n; // buckets[first .. first+n)
  int keep;     // same layout as the first series
} run_t;

typedef struct {
  uint64_t key;
  double v;
  int is_count;
} tail_t; // a _sum or _count sample

typedef struct {
  int rank; // of the name the staged samples came from
  int have; // samples staged
  // gauges and counters
  double sum;
  int n;
  // histograms, as read
  bucket_t *bk;
  int nbk, cap_bk;
  run_t *runs;
  int nruns, cap_runs;
  tail_t *tails;
  int ntails, cap_tails;
  int in_run;
  // histograms, assembled
  double *bounds, *cum;
  int nb, cap_bounds, cap_cum;
  double hsum, hcount;
} slot_t;

struct sl_ingest {
  sl_ingest_lookup_fn lookup;
  sl_expo_parser_t *parser;
  const sl_metric_alias_t *table;
  size_t table_n;
  fam_ent_t *cache;
  int ncache;
  // the page being read
  sl_scope_t scope;
  slot_t slot[SL_M__COUNT];
  uint32_t touched; // bit m: slot m was reset for this page
  slot_t *cur;      // slot of the family being read, NULL when declined
  double cur_scale;
  int cur_hist;
  int cur_info_kv;
  size_t samples;
  int dropped;
  int staged; // a page parsed and is staged
};

// ---- hashing -----------------------------------------------------------------------------------

static inline uint64_t mix(uint64_t h, uint64_t w) {
  h ^= w;
  h *= 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}

// A word at a time: family names are 20-60 bytes and this runs once per family per page.
static uint64_t hash_bytes(uint64_t h, const char *p, size_t n) {
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = mix(h, w);
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, p, n);
  return mix(h, w ^ ((uint64_t)n << 56));
}

static uint64_t series_key(const sl_expo_sample_t *s) {
  uint64_t h = 0x243f6a8885a308d3ull;
  for (size_t i = 0; i < s->nlabels; i++) {
    const sl_expo_label_t *l = &s->labels[i];
    if (l->name.len == 2 && l->name.ptr[0] == 'l' && l->name.ptr[1] == 'e') continue;
    h = hash_bytes(h, l->name.ptr, l->name.len);
    h = hash_bytes(h, l->value.ptr, l->value.len);
  }
  return h;
}

// ---- the family cache --------------------------------------------------------------------------

static int rank_of(const sl_ingest_t *g, const sl_metric_alias_t *a) {
  if (a >= g->table && a < g->table + g->table_n) return (int)(a - g->table) + 1;
  return 0;
}

static void resolve(const sl_ingest_t *g, fam_ent_t *e, const char *name, size_t len,
                    sl_expo_type_t type) {
  e->a = NULL;
  e->info_kv = 0;
  e->rank = INT_MAX;
  if (len > NAME_MAX_LEN) return; // longer than any name we read
  char buf[NAME_MAX_LEN + 6];
  memcpy(buf, name, len);
  buf[len] = '\0';
  const sl_metric_alias_t *a = g->lookup(buf);
  if (!a && type == SL_EXPO_INFO) { // OpenMetrics names an info family without its _info
    memcpy(buf + len, "_info", 6);
    a = g->lookup(buf);
  }
  if (!a) return;
  const sl_metric_info_t *mi = sl_metric_info(a->metric);
  if (!mi) return;
  // A store histogram is read from a histogram family only, a gauge or counter from a family of
  // single values; anything else under a known name is not what the table means.
  if (mi->kind == SL_KIND_HISTOGRAM) {
    if (type != SL_EXPO_HISTOGRAM) return;
  } else if (type != SL_EXPO_COUNTER && type != SL_EXPO_GAUGE && type != SL_EXPO_UNTYPED &&
             type != SL_EXPO_INFO) {
    return;
  }
  e->a = a;
  e->rank = rank_of(g, a);
  e->info_kv = a->metric == SL_M_KV_CAPACITY_TOKENS && !strncmp(a->raw, "vllm:cache_config", 17);
}

static const fam_ent_t *family_entry(sl_ingest_t *g, const sl_expo_family_t *f, fam_ent_t *tmp) {
  uint64_t h = hash_bytes((uint64_t)f->type + 1, f->name.ptr, f->name.len) | 1;
  size_t i = h & (CACHE_SLOTS - 1);
  for (;;) {
    fam_ent_t *e = &g->cache[i];
    if (!e->h) break;
    if (e->h == h && e->len == f->name.len && e->type == f->type &&
        !memcmp(e->name, f->name.ptr, f->name.len))
      return e;
    i = (i + 1) & (CACHE_SLOTS - 1);
  }
  fam_ent_t *e = &g->cache[i];
  char *name = g->ncache < CACHE_MAX ? malloc(f->name.len + 1) : NULL;
  if (!name) e = tmp; // full (or out of memory): resolve without keeping it
  resolve(g, e, f->name.ptr, f->name.len, f->type);
  if (name) {
    memcpy(name, f->name.ptr, f->name.len);
    name[f->name.len] = '\0';
    e->name = name;
    e->len = (uint32_t)f->name.len;
    e->type = (uint8_t)f->type;
    e->h = h;
    g->ncache++;
  }
  return e;
}

// ---- staging -----------------------------------------------------------------------------------

static int grow(void **p, int *cap, int need, size_t size) {
  if (need <= *cap) return SL_OK;
  int n = *cap ? *cap * 2 : 32;
  while (n < need) n *= 2;
  void *q = realloc(*p, (size_t)n * size);
  if (!q) return SL_ENOMEM;
  *p = q;
  *cap = n;
  return SL_OK;
}

static void slot_reset(slot_t *s) {
  s->have = 0;
  s->rank = INT_MAX;
  s->sum = 0;
  s->n = 0;
  s->nbk = s->nruns = s->ntails = 0;
  s->in_run = 0;
  s->nb = 0;
}

static int on_family(void *ud, const sl_expo_family_t *f) {
  sl_ingest_t *g = ud;
  g->cur = NULL;
  fam_ent_t tmp;
  const fam_ent_t *e = family_entry(g, f, &tmp);
  if (!e->a) return 0;
  const sl_metric_info_t *mi = sl_metric_info(e->a->metric);
  if (mi->scope != g->scope) return 0;
  slot_t *s = &g->slot[e->a->metric];
  uint32_t bit = 1u << e->a->metric;
  if (!(g->touched & bit)) {
    slot_reset(s);
    g->touched |= bit;
  }
  if (s->have && e->rank > s->rank) return 0; // a preferred name already gave this metric
  if (s->have && e->rank < s->rank) {
    g->samples -= (size_t)(s->n + s->nbk + s->ntails);
    slot_reset(s);
  }
  s->rank = e->rank;
  s->in_run = 0;
  // The entry may be the temporary one: keep what the samples need by value.
  g->cur = s;
  g->cur_scale = e->a->scale;
  g->cur_hist = mi->kind == SL_KIND_HISTOGRAM;
  g->cur_info_kv = e->info_kv;
  return 1;
}

static int label_num(const sl_expo_sample_t *s, const char *name, double *out) {
  const sl_expo_label_t *l = sl_expo_sample_label(s, name);
  return l && sl_expo_parse_float(l->value.ptr, l->value.len, out) == 0 && isfinite(*out);
}

static int on_sample(void *ud, const sl_expo_sample_t *smp) {
  sl_ingest_t *g = ud;
  slot_t *s = g->cur;
  if (!s) return 0;
  if (!g->cur_hist) {
    double v;
    if (g->cur_info_kv) {
      double blocks, size;
      if (smp->role != SL_EXPO_ROLE_NONE && smp->role != SL_EXPO_ROLE_INFO) return 0;
      // "None" before the engine has sized its cache: no capacity yet.
      if (!label_num(smp, "num_gpu_blocks", &blocks) || !label_num(smp, "block_size", &size))
        return 0;
      v = blocks * size;
    } else {
      if (smp->role != SL_EXPO_ROLE_NONE && smp->role != SL_EXPO_ROLE_TOTAL &&
          smp->role != SL_EXPO_ROLE_INFO)
        return 0; // _created, and the parts of types we do not read
      v = smp->value;
    }
    if (isnan(v)) return 0;
    s->sum += v * g->cur_scale;
    s->n++;
    s->have = 1;
    g->samples++;
    return 0;
  }
  double scale = g->cur_scale;
  switch (smp->role) {
  case SL_EXPO_ROLE_BUCKET: {
    if (!s->in_run) {
      if (grow((void **)&s->runs, &s->cap_runs, s->nruns + 1, sizeof *s->runs) < 0)
        return SL_ENOMEM;
      s->runs[s->nruns++] = (run_t){series_key(smp), s->nbk, 0, 0};
      s->in_run = 1;
    }
    if (grow((void **)&s->bk, &s->cap_bk, s->nbk + 1, sizeof *s->bk) < 0) return SL_ENOMEM;
    double le = isinf(smp->le) ? smp->le : smp->le * scale;
    s->bk[s->nbk++] = (bucket_t){le, smp->value};
    s->runs[s->nruns - 1].n++;
    // The parser guarantees that a series' buckets increase and end at +Inf.
    if (isinf(smp->le) && smp->le > 0) s->in_run = 0;
    break;
  }
  case SL_EXPO_ROLE_SUM:
  case SL_EXPO_ROLE_COUNT: {
    if (grow((void **)&s->tails, &s->cap_tails, s->ntails + 1, sizeof *s->tails) < 0)
      return SL_ENOMEM;
    int is_count = smp->role == SL_EXPO_ROLE_COUNT;
    s->tails[s->ntails++] =
        (tail_t){series_key(smp), is_count ? smp->value : smp->value * scale, is_count};
    break;
  }
  default:
    return 0; // _created
  }
  s->have = 1;
  g->samples++;
  return 0;
}

// Buckets of every series with the first series' layout added together, with their _sum and
// _count. Returns 0, or SL_ENOMEM.
static int assemble(sl_ingest_t *g, slot_t *s) {
  s->nb = 0;
  if (!s->nruns) {
    s->have = 0; // _sum/_count without buckets: not a histogram we can use
    return SL_OK;
  }
  const run_t *r0 = &s->runs[0];
  if (grow((void **)&s->bounds, &s->cap_bounds, r0->n, sizeof *s->bounds) < 0 ||
      grow((void **)&s->cum, &s->cap_cum, r0->n, sizeof *s->cum) < 0)
    return SL_ENOMEM;
  for (int i = 0; i < r0->n; i++) {
    s->bounds[i] = s->bk[r0->first + i].le;
    s->cum[i] = s->bk[r0->first + i].v;
  }
  s->nb = r0->n;
  s->runs[0].keep = 1;
  for (int k = 1; k < s->nruns; k++) {
    run_t *r = &s->runs[k];
    int same = r->n == s->nb;
    for (int i = 0; same && i < r->n; i++) same = s->bk[r->first + i].le == s->bounds[i];
    if (!same) {
      g->dropped++;
      continue;
    }
    r->keep = 1;
    for (int i = 0; i < r->n; i++) s->cum[i] += s->bk[r->first + i].v;
  }
  double sum = 0, count = 0;
  int have_sum = 0, have_count = 0;
  for (int j = 0; j < s->ntails; j++) {
    const tail_t *t = &s->tails[j];
    int kept = 0;
    for (int k = 0; k < s->nruns && !kept; k++) kept = s->runs[k].keep && s->runs[k].key == t->key;
    if (!kept) continue;
    if (t->is_count)
      count += t->v, have_count = 1;
    else
      sum += t->v, have_sum = 1;
  }
  s->hsum = have_sum ? sum : NAN;
  s->hcount = have_count ? count : s->cum[s->nb - 1];
  return SL_OK;
}

int sl_ingest_page(sl_ingest_t *g, const char *buf, size_t len, sl_expo_format_t fmt,
                   sl_scope_t scope, sl_err_t *err) {
  g->staged = 0;
  g->touched = 0;
  g->samples = 0;
  g->dropped = 0;
  g->cur = NULL;
  g->scope = scope;
  sl_expo_handler_t h = {on_family, on_sample};
  int rc = sl_expo_parser_run(g->parser, buf, len, fmt, &h, g, err);
  if (rc == SL_ENOMEM) sl_err(err, SL_ENOMEM, "out of memory staging a page");
  if (rc < 0) {
    g->touched = 0;
    g->samples = 0;
    return rc;
  }
  for (int m = 0; m < SL_M__COUNT; m++) {
    slot_t *s = &g->slot[m];
    if (!(g->touched & (1u << m)) || !s->have) continue;
    if (sl_metric_info(m)->kind == SL_KIND_HISTOGRAM && assemble(g, s) < 0) {
      g->touched = 0;
      g->samples = 0;
      return sl_err(err, SL_ENOMEM, "out of memory staging a page");
    }
  }
  g->staged = 1;
  return SL_OK;
}

size_t sl_ingest_samples(const sl_ingest_t *g) {
  return g->staged ? g->samples : 0;
}

int sl_ingest_metrics(const sl_ingest_t *g) {
  if (!g->staged) return 0;
  int n = 0;
  for (int m = 0; m < SL_M__COUNT; m++) n += (g->touched & (1u << m)) && g->slot[m].have;
  return n;
}

int sl_ingest_dropped_series(const sl_ingest_t *g) {
  return g->staged ? g->dropped : 0;
}

// ---- commit ------------------------------------------------------------------------------------

static double scalar(const slot_t *s, sl_metric_t m) {
  // Fractions of several engines of one server are averaged; counts add up.
  const char *unit = sl_metric_info(m)->unit;
  return !strcmp(unit, "fraction") ? s->sum / s->n : s->sum;
}

int sl_ingest_commit_pod(sl_ingest_t *g, sl_store_t *st, sl_pod_t *p, double t, sl_err_t *err) {
  if (!g->staged) return SL_OK;
  for (int m = 0; m < SL_M__COUNT; m++) {
    const slot_t *s = &g->slot[m];
    if (!(g->touched & (1u << m)) || !s->have) continue;
    int rc = sl_metric_info(m)->kind == SL_KIND_HISTOGRAM
                 ? sl_store_put_pod_hist_at(st, p, m, t, s->bounds, s->cum, s->nb, s->hsum,
                                            s->hcount, err)
                 : sl_store_put_pod_at(st, p, m, t, scalar(s, m), err);
    if (rc < 0) return rc;
  }
  return SL_OK;
}

int sl_ingest_commit_model(sl_ingest_t *g, sl_store_t *st, const char *model, double t,
                           sl_err_t *err) {
  if (!g->staged) return SL_OK;
  for (int m = 0; m < SL_M__COUNT; m++) {
    const slot_t *s = &g->slot[m];
    if (!(g->touched & (1u << m)) || !s->have) continue;
    int rc = sl_metric_info(m)->kind == SL_KIND_HISTOGRAM
                 ? sl_store_put_model_hist(st, model, m, t, s->bounds, s->cum, s->nb, s->hsum,
                                           s->hcount, err)
                 : sl_store_put_model(st, model, m, t, scalar(s, m), err);
    if (rc < 0) return rc;
  }
  return SL_OK;
}

// ---- lifetime ----------------------------------------------------------------------------------

sl_ingest_t *sl_ingest_new(sl_ingest_lookup_fn lookup) {
  sl_ingest_t *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->lookup = lookup ? lookup : sl_metric_alias_lookup;
  g->table = sl_metric_alias_table(&g->table_n);
  g->parser = sl_expo_parser_new();
  g->cache = calloc(CACHE_SLOTS, sizeof *g->cache);
  if (!g->parser || !g->cache) {
    sl_ingest_free(g);
    return NULL;
  }
  for (int m = 0; m < SL_M__COUNT; m++) slot_reset(&g->slot[m]);
  return g;
}

void sl_ingest_free(sl_ingest_t *g) {
  if (!g) return;
  sl_expo_parser_free(g->parser);
  if (g->cache)
    for (size_t i = 0; i < CACHE_SLOTS; i++) free(g->cache[i].name);
  free(g->cache);
  for (int m = 0; m < SL_M__COUNT; m++) {
    slot_t *s = &g->slot[m];
    free(s->bk);
    free(s->runs);
    free(s->tails);
    free(s->bounds);
    free(s->cum);
  }
  free(g);
}
