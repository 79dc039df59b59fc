// The view recorder (see view_record.h).
#include "core/runtime/view_record.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/state/signals.h"
#include "core/state/store.h"
#include "core/state/view.h"
#include "core/util/log.h"

static void put(sl_view_recorder_t *r, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void put(sl_view_recorder_t *r, size_t *len, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = r->cap - *len;
    int n = vsnprintf(r->buf ? r->buf + *len : NULL, r->buf ? room : 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < room) {
      *len += (size_t)n;
      return;
    }
    size_t cap = r->cap ? r->cap : 4096;
    while (cap - *len <= (size_t)n) cap *= 2;
    char *b = realloc(r->buf, cap);
    if (!b) return; // the frame is cut short; caught when it is written
    r->buf = b;
    r->cap = cap;
  }
}

// A YAML double-quoted scalar (JSON's escapes are YAML's too).
static void put_str(sl_view_recorder_t *r, size_t *len, const char *s) {
  put(r, len, "\"");
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    if (*c == '"' || *c == '\\')
      put(r, len, "\\%c", *c);
    else if (*c < 0x20 || *c == 0x7f)
      put(r, len, "\\x%02x", *c);
    else
      put(r, len, "%c", *c);
  }
  put(r, len, "\"");
}

static void put_signals(sl_view_recorder_t *r, size_t *len, const double *sig, int n,
                        const char *(*name)(int)) {
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (!isfinite(sig[i])) continue;
    put(r, len, "%s%s: %.17g", k++ ? ", " : ", signals: {", name(i), sig[i]);
  }
  if (k) put(r, len, "}");
}

static const char *vname(int i) {
  return sl_signals_variant_name((sl_vsig_t)i);
}
static const char *pname(int i) {
  return sl_signals_pod_name((sl_psig_t)i);
}
static const char *gname(int i) {
  return sl_signals_gateway_name((sl_gsig_t)i);
}

static size_t frame(sl_view_recorder_t *r, const sl_view_t *v, sl_decider_t *const *d,
                    const unsigned char *due, int nd) {
  size_t len = 0;
  put(r, &len, "  - t: %.6f\n    ran: [", v->time);
  for (int k = 0, n = 0; k < nd; k++) {
    if (!due[k]) continue;
    if (n++) put(r, &len, ", ");
    put_str(r, &len, d[k]->name);
  }
  put(r, &len, "]\n");
  if (v->nvariants) put(r, &len, "    variants:\n");
  for (int i = 0; i < v->nvariants; i++) {
    const sl_view_variant_t *x = &v->variants[i];
    put(r, &len, "      ");
    put_str(r, &len, x->desc->id);
    put(r, &len, ": {replicas: {spec: %d, ready: %d, starting: %d, pending: %d}", x->spec, x->ready,
        x->starting, x->pending);
    put_signals(r, &len, x->sig, SL_V__COUNT, vname);
    put(r, &len, ", pods: [");
    for (int k = 0; k < x->npods; k++) {
      const sl_view_pod_t *p = &x->pods[k];
      put(r, &len, "%s{name: ", k ? ", " : "");
      put_str(r, &len, p->name);
      put(r, &len, ", phase: %s", sl_store_phase_name(p->phase));
      if (isfinite(p->age)) put(r, &len, ", age: %.6f", p->age);
      put_signals(r, &len, p->sig, SL_P__COUNT, pname);
      put(r, &len, "}");
    }
    put(r, &len, "]}\n");
  }
  if (v->nmodels) put(r, &len, "    models:\n");
  for (int i = 0; i < v->nmodels; i++) {
    const sl_view_model_t *m = &v->models[i];
    put(r, &len, "      ");
    put_str(r, &len, m->name);
    put(r, &len, ": {");
    size_t at = len;
    if (isfinite(m->age)) put(r, &len, "age: %.6f", m->age);
    put_signals(r, &len, m->sig, SL_G__COUNT, gname);
    // put_signals leads with ", ": drop it when nothing came before.
    if (len > at && r->buf[at] == ',')
      memmove(r->buf + at, r->buf + at + 2, len - at - 2), len -= 2;
    put(r, &len, "}\n");
  }
  if (v->naccels) put(r, &len, "    inventory:\n");
  for (int i = 0; i < v->naccels; i++) {
    const sl_view_accel_t *a = &v->accels[i];
    put(r, &len, "      ");
    put_str(r, &len, a->type);
    put(r, &len, ": {total: %d, used: %d, cost: %.17g}\n", a->total, a->used, a->cost);
  }
  return len;
}

// FILE -> FILE.1 -> ... -> FILE.keep (the oldest dropped).
static void rotate(sl_view_recorder_t *r) {
  size_t n = strlen(r->path) + 16;
  char *a = malloc(n), *b = malloc(n);
  if (a && b) {
    snprintf(a, n, "%s.%d", r->path, r->keep);
    if (r->keep > 0) remove(a);
    for (int i = r->keep - 1; i >= 1; i--) {
      snprintf(a, n, "%s.%d", r->path, i);
      snprintf(b, n, "%s.%d", r->path, i + 1);
      rename(a, b);
    }
    snprintf(b, n, "%s.1", r->path);
    if (r->keep > 0)
      rename(r->path, b);
    else
      remove(r->path);
  }
  free(a), free(b);
}

static size_t header(sl_view_recorder_t *r) {
  size_t len = 0;
  put(r, &len,
      "# sluice run --record: the run's sluice.yaml, its variants, one frame per tick "
      "(docs/fixtures.md)\n");
  if (r->config_text) {
    put(r, &len, "config: |\n");
    for (const char *l = r->config_text; *l;) {
      size_t n = strcspn(l, "\n");
      put(r, &len, "  %.*s\n", (int)n, l);
      l += n + (l[n] == '\n');
    }
  }
  put(r, &len, "%s", r->variants ? r->variants : "");
  put(r, &len, "frames:\n");
  return len;
}

static int open_file(sl_view_recorder_t *r, int rotate_first, sl_err_t *err) {
  struct stat st;
  if (rotate_first && stat(r->path, &st) == 0) rotate(r);
  if (!(r->gz = gzopen(r->path, "wb6")))
    return sl_err(err, SL_EIO, "--record %s: cannot create it", r->path);
  size_t len = header(r);
  r->file_frames = 0;
  if (!r->buf || gzwrite(r->gz, r->buf, (unsigned)len) != (int)len ||
      gzflush(r->gz, Z_SYNC_FLUSH) != Z_OK) {
    gzclose(r->gz);
    r->gz = NULL;
    return sl_err(err, SL_EIO, "--record %s: cannot write it", r->path);
  }
  r->files++;
  return SL_OK;
}

static void on_view(sl_observer_t *o, const sl_view_t *v, sl_decider_t *const *d,
                    const unsigned char *due, int nd) {
  sl_view_recorder_t *r = o->ud;
  if (!r->gz) return;
  size_t len = frame(r, v, d, due, nd);
  if (!r->buf || len == 0 || gzwrite(r->gz, r->buf, (unsigned)len) != (int)len ||
      gzflush(r->gz, Z_SYNC_FLUSH) != Z_OK) {
    if (!r->errors++) sl_warn("--record %s: a frame could not be written", r->path);
    return;
  }
  r->frames++;
  r->file_frames++;
  if ((size_t)gzoffset(r->gz) < r->max_bytes) return;
  gzclose(r->gz);
  r->gz = NULL;
  sl_err_t err = {0};
  if (open_file(r, 1, &err) < 0) sl_warn("%s: recording stops", err.msg);
}

static uint64_t mix(uint64_t h, const char *s) {
  for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return (h ^ 0xff) * 1099511628211ULL;
}

void sl_view_recorder_set_variants(sl_view_recorder_t *r, const sl_config_t *cfg) {
  size_t len = 0;
  put(r, &len, "variants:\n");
  for (int i = 0; i < cfg->nvariants; i++) {
    const sl_variant_t *v = &cfg->variants[i];
    put(r, &len, "  - {id: ");
    put_str(r, &len, v->id);
    put(r, &len, ", model: ");
    put_str(r, &len, v->model);
    put(r, &len, ", accelerator: ");
    put_str(r, &len, v->accelerator);
    put(r, &len, ", gpus_per_replica: %d, role: %s, cost: %.17g, min: %d, max: %d, priority: %d",
        v->gpus_per_replica, sl_role_name(v->role), v->cost, v->min, v->max, v->priority);
    if (v->slo_class) put(r, &len, ", slo_class: "), put_str(r, &len, v->slo_class);
    if (v->profile) put(r, &len, ", profile: "), put_str(r, &len, v->profile);
    if (v->kind) put(r, &len, ", kind: "), put_str(r, &len, v->kind);
    if (v->actuator) put(r, &len, ", actuator: "), put_str(r, &len, v->actuator);
    put(r, &len,
        ", engine: {max_num_seqs: %d, max_num_batched_tokens: %d, block_size: %d, "
        "kv_capacity_tokens: %.17g}}\n",
        v->engine.max_num_seqs, v->engine.max_num_batched_tokens, v->engine.block_size,
        v->engine.kv_capacity_tokens);
  }
  if (!r->buf) return;
  uint64_t sig = mix(1469598103934665603ULL, r->buf);
  if (sig == r->signature && r->variants) return;
  char *text = strndup(r->buf, len);
  if (!text) return;
  free(r->variants);
  r->variants = text;
  r->signature = sig;
  // The header changes: a file with frames is rotated, an empty one rewritten.
  if (r->gz) gzclose(r->gz);
  r->gz = NULL;
  if (r->file_frames > 0)
    sl_info("--record: the variants changed; %s starts again (the frames so far are in %s.1)",
            r->path, r->path);
  sl_err_t err = {0};
  if (open_file(r, r->file_frames > 0, &err) < 0) sl_warn("%s: recording stops", err.msg);
}

int sl_view_recorder_open(sl_view_recorder_t *r, const char *path, size_t max_bytes, int keep,
                          const char *config_text, sl_err_t *err) {
  memset(r, 0, sizeof *r);
  if (config_text && !(r->config_text = strdup(config_text)))
    return sl_err(err, SL_ENOMEM, "out of memory");
  r->obs = (sl_observer_t){.ud = r, .view = on_view};
  r->max_bytes = max_bytes ? max_bytes : (size_t)16 << 20;
  r->keep = keep < 0 ? 0 : keep;
  if (!(r->path = strdup(path))) return sl_err(err, SL_ENOMEM, "out of memory");
  int rc = open_file(r, 1, err);
  if (rc < 0) sl_view_recorder_close(r);
  return rc;
}

void sl_view_recorder_close(sl_view_recorder_t *r) {
  if (r->gz) gzclose(r->gz);
  r->gz = NULL;
  free(r->path), free(r->buf), free(r->config_text), free(r->variants);
  r->path = r->buf = r->config_text = r->variants = NULL;
}
