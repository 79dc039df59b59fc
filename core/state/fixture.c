// Fixture source. Validation and application share one walker so that a file that validates
// always applies.
#include "core/state/fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/state/signals.h"

#define TRY(x)                                                                                     \
  do {                                                                                             \
    int rc_ = (x);                                                                                 \
    if (rc_ < 0) return rc_;                                                                       \
  } while (0)

typedef struct {
  const sl_ydoc_t *d;
  const sl_config_t *cfg;
  sl_store_t *st; // NULL: validate only
  double now;
  sl_err_t *err;
} walk_t;

static int walk_signals_v(walk_t *w, const sl_yval_t *m, const char *path, const char *variant) {
  TRY(sl_y_expect(w->d, m, SL_Y_MAP, path, w->err));
  for (size_t i = 0; i < m->n; i++) {
    char fp[512];
    snprintf(fp, sizeof fp, "%s.%s", path, m->keys[i]);
    int s = sl_signals_variant_by_name(m->keys[i]);
    if (s < 0) return sl_y_err(w->d, m->items[i], w->err, "%s: unknown variant signal", fp);
    double x;
    TRY(sl_y_num(w->d, m->items[i], fp, -1e18, 1e18, &x, w->err));
    if (w->st) sl_store_put_variant_signal(w->st, variant, (sl_vsig_t)s, w->now, x);
  }
  return SL_OK;
}

// A mapping of metric values for one pod or one model: canonical store names ("waiting") or,
// with raw set, exposition names ("vllm:num_requests_waiting") mapped through the alias table.
static int walk_metrics(walk_t *w, const sl_yval_t *f, const char *fp, sl_scope_t scope, int raw,
                        const char *entity, double at) {
  TRY(sl_y_expect(w->d, f, SL_Y_MAP, fp, w->err));
  for (size_t i = 0; i < f->n; i++) {
    char sp[600];
    snprintf(sp, sizeof sp, "%s.%s", fp, f->keys[i]);
    const sl_metric_alias_t *a = raw ? sl_metric_alias_lookup(f->keys[i]) : NULL;
    int m = raw ? (a ? (int)a->metric : -1) : sl_metric_by_name(f->keys[i]);
    const sl_metric_info_t *mi = m >= 0 ? sl_metric_info(m) : NULL;
    if (!mi || mi->scope != scope || mi->kind == SL_KIND_HISTOGRAM) {
      const char *what = scope == SL_SCOPE_POD ? "model-server" : "gateway";
      if (raw)
        return sl_y_err(w->d, f->items[i], w->err,
                        "%s: not a %s metric sluice reads (see docs/view.md)", sp, what);
      return sl_y_err(w->d, f->items[i], w->err, "%s: unknown %s signal", sp,
                      scope == SL_SCOPE_POD ? "pod" : "gateway");
    }
    double x;
    TRY(sl_y_num(w->d, f->items[i], sp, -1e18, 1e18, &x, w->err));
    if (a) x *= a->scale;
    if (!w->st) continue;
    if (scope == SL_SCOPE_POD)
      TRY(sl_store_put_pod(w->st, entity, m, at, x, w->err));
    else
      TRY(sl_store_put_model(w->st, entity, m, at, x, w->err));
  }
  return SL_OK;
}

// `age: SECONDS` on a pod or a model: its values are that old at the frame's time (a recorded
// view keeps how fresh its data was, so a replay holds where the run held on stale data).
static int walk_age(walk_t *w, const sl_yval_t *m, const char *path, double *age) {
  const sl_yval_t *f = sl_y_get(m, "age");
  if (!f) return SL_OK;
  char fp[600];
  snprintf(fp, sizeof fp, "%s.age", path);
  return sl_y_num(w->d, f, fp, 0, 1e9, age, w->err);
}

static int walk_pod(walk_t *w, const sl_yval_t *p, const char *path, const char *variant) {
  static const char *const keys[] = {"name", "phase", "age", "signals", "metrics", NULL};
  TRY(sl_y_expect(w->d, p, SL_Y_MAP, path, w->err));
  TRY(sl_y_known_keys(w->d, p, path, keys, w->err));
  char fp[512];
  const sl_yval_t *f = sl_y_get(p, "name");
  snprintf(fp, sizeof fp, "%s.name", path);
  TRY(sl_y_expect(w->d, f, SL_Y_SCALAR, fp, w->err));
  const char *name = f->str;
  sl_pod_phase_t phase = SL_POD_READY;
  if ((f = sl_y_get(p, "phase"))) {
    snprintf(fp, sizeof fp, "%s.phase", path);
    TRY(sl_y_expect(w->d, f, SL_Y_SCALAR, fp, w->err));
    int ok = 0;
    for (int k = 0; k < 4; k++)
      if (!strcmp(f->str, sl_store_phase_name(k))) phase = k, ok = 1;
    if (!ok)
      return sl_y_err(w->d, f, w->err, "%s: expected ready, starting, pending or draining", fp);
  }
  double age = 0;
  TRY(walk_age(w, p, path, &age));
  if (w->st && !sl_store_set_pod(w->st, variant, name, phase))
    return sl_err(w->err, SL_ENOMEM, "out of memory");
  if ((f = sl_y_get(p, "signals"))) {
    snprintf(fp, sizeof fp, "%s.signals", path);
    TRY(walk_metrics(w, f, fp, SL_SCOPE_POD, 0, name, w->now - age));
  }
  if ((f = sl_y_get(p, "metrics"))) {
    snprintf(fp, sizeof fp, "%s.metrics", path);
    TRY(walk_metrics(w, f, fp, SL_SCOPE_POD, 1, name, w->now - age));
  }
  return SL_OK;
}

static int walk_variant(walk_t *w, const char *id, const sl_yval_t *v, const char *path) {
  static const char *const keys[] = {"replicas", "signals", "pods", NULL};
  if (w->cfg && !sl_config_variant(w->cfg, id))
    return sl_y_err(w->d, v, w->err, "%s: no variant '%s' in the configuration", path, id);
  TRY(sl_y_expect(w->d, v, SL_Y_MAP, path, w->err));
  TRY(sl_y_known_keys(w->d, v, path, keys, w->err));
  char fp[512];
  const sl_yval_t *f;
  if ((f = sl_y_get(v, "replicas"))) {
    static const char *const rk[] = {"spec", "ready", "starting", "pending", NULL};
    snprintf(fp, sizeof fp, "%s.replicas", path);
    TRY(sl_y_expect(w->d, f, SL_Y_MAP, fp, w->err));
    TRY(sl_y_known_keys(w->d, f, fp, rk, w->err));
    long long r[4] = {0, -1, 0, 0};
    for (int k = 0; k < 4; k++) {
      const sl_yval_t *x = sl_y_get(f, rk[k]);
      char xp[600];
      snprintf(xp, sizeof xp, "%s.%s", fp, rk[k]);
      if (x) TRY(sl_y_int(w->d, x, xp, 0, 100000, &r[k], w->err));
    }
    if (r[1] < 0) r[1] = r[0]; // ready defaults to spec
    if (w->st) sl_store_set_replicas(w->st, id, (int)r[0], (int)r[1], (int)r[2], (int)r[3]);
  }
  if ((f = sl_y_get(v, "signals"))) {
    snprintf(fp, sizeof fp, "%s.signals", path);
    TRY(walk_signals_v(w, f, fp, id));
  }
  if ((f = sl_y_get(v, "pods"))) {
    snprintf(fp, sizeof fp, "%s.pods", path);
    TRY(sl_y_expect(w->d, f, SL_Y_SEQ, fp, w->err));
    for (size_t i = 0; i < f->n; i++) {
      char pp[600];
      snprintf(pp, sizeof pp, "%s[%zu]", fp, i);
      TRY(walk_pod(w, f->items[i], pp, id));
    }
    // A frame's pod list is the whole set: pods it no longer lists are gone.
    sl_store_variant_t *sv = w->st ? sl_store_find_variant(w->st, id) : NULL;
    for (int k = sv ? sv->npods - 1 : -1; k >= 0; k--) {
      int listed = 0;
      for (size_t i = 0; i < f->n && !listed; i++) {
        const sl_yval_t *nm = sl_y_get(f->items[i], "name");
        listed = nm && nm->str && !strcmp(nm->str, sv->pods[k]->name);
      }
      if (!listed) sl_store_remove_pod(w->st, sv->pods[k]->name);
    }
  }
  return SL_OK;
}

static int walk_model(walk_t *w, const char *name, const sl_yval_t *m, const char *path) {
  static const char *const keys[] = {"age", "signals", "metrics", NULL};
  TRY(sl_y_expect(w->d, m, SL_Y_MAP, path, w->err));
  TRY(sl_y_known_keys(w->d, m, path, keys, w->err));
  char fp[512];
  const sl_yval_t *f;
  double age = 0;
  TRY(walk_age(w, m, path, &age));
  if ((f = sl_y_get(m, "signals"))) {
    snprintf(fp, sizeof fp, "%s.signals", path);
    TRY(sl_y_expect(w->d, f, SL_Y_MAP, fp, w->err));
    for (size_t i = 0; i < f->n; i++) {
      char sp[600];
      snprintf(sp, sizeof sp, "%s.%s", fp, f->keys[i]);
      int s = sl_signals_gateway_by_name(f->keys[i]);
      if (s < 0) return sl_y_err(w->d, f->items[i], w->err, "%s: unknown gateway signal", sp);
      double x;
      TRY(sl_y_num(w->d, f->items[i], sp, -1e18, 1e18, &x, w->err));
      if (w->st) sl_store_put_model_signal(w->st, name, (sl_gsig_t)s, w->now - age, x);
    }
  }
  if ((f = sl_y_get(m, "metrics"))) {
    snprintf(fp, sizeof fp, "%s.metrics", path);
    TRY(walk_metrics(w, f, fp, SL_SCOPE_MODEL, 1, name, w->now - age));
  }
  return SL_OK;
}

static int walk_frame(walk_t *w, const sl_yval_t *fr, int idx) {
  static const char *const keys[] = {"t", "ran", "variants", "models", "inventory", NULL};
  char path[64], fp[512];
  snprintf(path, sizeof path, "frames[%d]", idx);
  TRY(sl_y_expect(w->d, fr, SL_Y_MAP, path, w->err));
  TRY(sl_y_known_keys(w->d, fr, path, keys, w->err));
  const sl_yval_t *f;
  if ((f = sl_y_get(fr, "t"))) {
    double t;
    snprintf(fp, sizeof fp, "%s.t", path);
    TRY(sl_y_num(w->d, f, fp, -1e12, 1e12, &t, w->err));
  }
  if ((f = sl_y_get(fr, "ran"))) {
    snprintf(fp, sizeof fp, "%s.ran", path);
    TRY(sl_y_expect(w->d, f, SL_Y_SEQ, fp, w->err));
    for (size_t i = 0; i < f->n; i++) TRY(sl_y_expect(w->d, f->items[i], SL_Y_SCALAR, fp, w->err));
  }
  if ((f = sl_y_get(fr, "variants"))) {
    snprintf(fp, sizeof fp, "%s.variants", path);
    TRY(sl_y_expect(w->d, f, SL_Y_MAP, fp, w->err));
    for (size_t i = 0; i < f->n; i++) {
      char vp[600];
      snprintf(vp, sizeof vp, "%s[%s]", fp, f->keys[i]);
      TRY(walk_variant(w, f->keys[i], f->items[i], vp));
    }
  }
  if ((f = sl_y_get(fr, "models"))) {
    snprintf(fp, sizeof fp, "%s.models", path);
    TRY(sl_y_expect(w->d, f, SL_Y_MAP, fp, w->err));
    for (size_t i = 0; i < f->n; i++) {
      char mp[600];
      snprintf(mp, sizeof mp, "%s[%s]", fp, f->keys[i]);
      TRY(walk_model(w, f->keys[i], f->items[i], mp));
    }
  }
  if ((f = sl_y_get(fr, "inventory"))) {
    static const char *const ik[] = {"total", "used", "cost", NULL};
    snprintf(fp, sizeof fp, "%s.inventory", path);
    TRY(sl_y_expect(w->d, f, SL_Y_MAP, fp, w->err));
    for (size_t i = 0; i < f->n; i++) {
      char ap[600], xp[700];
      snprintf(ap, sizeof ap, "%s.%s", fp, f->keys[i]);
      const sl_yval_t *a = f->items[i], *x;
      TRY(sl_y_expect(w->d, a, SL_Y_MAP, ap, w->err));
      TRY(sl_y_known_keys(w->d, a, ap, ik, w->err));
      long long total = 0, used = 0;
      double cost = 0;
      if ((x = sl_y_get(a, "total"))) {
        snprintf(xp, sizeof xp, "%s.total", ap);
        TRY(sl_y_int(w->d, x, xp, 0, 10000000, &total, w->err));
      }
      if ((x = sl_y_get(a, "used"))) {
        snprintf(xp, sizeof xp, "%s.used", ap);
        TRY(sl_y_int(w->d, x, xp, 0, 10000000, &used, w->err));
      }
      if ((x = sl_y_get(a, "cost"))) {
        snprintf(xp, sizeof xp, "%s.cost", ap);
        TRY(sl_y_num(w->d, x, xp, 0, 1e9, &cost, w->err));
      }
      if (w->st) sl_store_set_accelerator(w->st, f->keys[i], (int)total, (int)used, cost);
    }
  }
  return SL_OK;
}

static int finish_load(sl_fixture_t *f, const sl_config_t *cfg, sl_err_t *err) {
  const sl_yval_t *root = f->doc.root;
  if (!root) return sl_y_err(&f->doc, NULL, err, "empty fixture");
  // A recording's header (config, variants) is read by `sluice check --replay`.
  static const char *const keys[] = {"frames", "config", "variants", NULL};
  TRY(sl_y_expect(&f->doc, root, SL_Y_MAP, "top level", err));
  TRY(sl_y_known_keys(&f->doc, root, "", keys, err));
  f->frames = sl_y_get(root, "frames");
  TRY(sl_y_expect(&f->doc, f->frames, SL_Y_SEQ, "frames", err));
  if (f->frames->n == 0) return sl_y_err(&f->doc, f->frames, err, "frames: no frames");
  f->nframes = (int)f->frames->n;
  walk_t w = {&f->doc, cfg, NULL, 0, err};
  for (int i = 0; i < f->nframes; i++) TRY(walk_frame(&w, f->frames->items[i], i));
  return SL_OK;
}

static int source_sync(sl_source_t *s, sl_store_t *st, double now, sl_err_t *err) {
  int rc = sl_fixture_step(s->ud, st, now, err);
  return rc < 0 ? rc : 0;
}

static void init_source(sl_fixture_t *f) {
  f->source = (sl_source_t){.name = "fixture", .sync = source_sync, .ud = f};
}

// A gzip'd file (a recording) is inflated into memory first; a stream cut short (the recorder
// killed mid-frame) keeps its whole frames: the text is cut at the last frame that ended.
static int load_gz(sl_fixture_t *f, const char *path, sl_err_t *err) {
  gzFile gz = gzopen(path, "rb");
  if (!gz) return sl_err(err, SL_EIO, "%s: cannot open", path);
  size_t cap = 1 << 20, len = 0;
  char *buf = malloc(cap);
  int n = 0, truncated = 0;
  while (buf) {
    if (len + 65536 + 1 > cap) {
      if (cap >= SL_FIXTURE_MAX_INFLATED) {
        free(buf), gzclose(gz);
        return sl_err(err, SL_ERANGE, "%s: more than %d MiB once inflated", path,
                      SL_FIXTURE_MAX_INFLATED >> 20);
      }
      char *nb = realloc(buf, cap * 2);
      if (!nb) break;
      buf = nb, cap *= 2;
    }
    if ((n = gzread(gz, buf + len, 65536)) <= 0) break;
    len += (size_t)n;
  }
  if (!buf) {
    gzclose(gz);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  int zerr = Z_OK;
  const char *zmsg = gzerror(gz, &zerr);
  if (zerr != Z_OK && zerr != Z_BUF_ERROR) { // Z_BUF_ERROR: the stream ended early
    sl_err(err, SL_EPARSE, "%s: %s", path, zmsg);
    free(buf), gzclose(gz);
    return SL_EPARSE;
  }
  truncated = zerr == Z_BUF_ERROR;
  gzclose(gz);
  if (truncated) {
    buf[len] = '\0';
    char *cut = NULL;
    for (char *s = strstr(buf, "\n  - "); s; s = strstr(s + 1, "\n  - ")) cut = s;
    if (cut) len = (size_t)(cut - buf) + 1;
  }
  int rc = sl_ydoc_load_buffer(&f->doc, buf, len, path, err);
  free(buf);
  return rc;
}

static int is_gzip(const char *path) {
  FILE *fp = fopen(path, "rb");
  unsigned char m[2] = {0, 0};
  int gz = fp && fread(m, 1, 2, fp) == 2 && m[0] == 0x1f && m[1] == 0x8b;
  if (fp) fclose(fp);
  return gz;
}

int sl_fixture_load(sl_fixture_t *f, const char *path, const sl_config_t *cfg, sl_err_t *err) {
  memset(f, 0, sizeof *f);
  init_source(f);
  TRY(is_gzip(path) ? load_gz(f, path, err) : sl_ydoc_load_file(&f->doc, path, err));
  int rc = finish_load(f, cfg, err);
  if (rc < 0) sl_fixture_deinit(f);
  return rc;
}

int sl_fixture_ran(const sl_fixture_t *f, int i, const char *name) {
  const sl_yval_t *ran = i >= 0 && i < f->nframes ? sl_y_get(f->frames->items[i], "ran") : NULL;
  if (!ran) return -1;
  for (size_t k = 0; k < ran->n; k++)
    if (ran->items[k]->str && !strcmp(ran->items[k]->str, name)) return 1;
  return 0;
}

double sl_fixture_time(const sl_fixture_t *f, int i) {
  if (i < 0 || i >= f->nframes) return NAN;
  const sl_yval_t *t = sl_y_get(f->frames->items[i], "t");
  double v;
  return t && t->type == SL_Y_SCALAR && sl_y_num(&f->doc, t, "t", -1e12, 1e12, &v, NULL) == 0 ? v
                                                                                              : NAN;
}

int sl_fixture_load_buffer(sl_fixture_t *f, const char *buf, size_t len, const char *name,
                           const sl_config_t *cfg, sl_err_t *err) {
  memset(f, 0, sizeof *f);
  init_source(f);
  TRY(sl_ydoc_load_buffer(&f->doc, buf, len, name, err));
  int rc = finish_load(f, cfg, err);
  if (rc < 0) sl_fixture_deinit(f);
  return rc;
}

void sl_fixture_deinit(sl_fixture_t *f) {
  sl_ydoc_deinit(&f->doc);
  memset(f, 0, sizeof *f);
}

int sl_fixture_apply(sl_fixture_t *f, int i, sl_store_t *st, double now, sl_err_t *err) {
  if (i >= f->nframes) i = f->nframes - 1;
  if (i < 0) i = 0;
  // Ids were checked against the configuration at load; applying only writes.
  walk_t w = {&f->doc, NULL, st, now, err};
  return walk_frame(&w, f->frames->items[i], i);
}

int sl_fixture_step(sl_fixture_t *f, sl_store_t *st, double now, sl_err_t *err) {
  int i = f->next < f->nframes ? f->next : f->nframes - 1;
  TRY(sl_fixture_apply(f, i, st, now, err));
  if (f->next < f->nframes) f->next++;
  return i;
}
