// Helpers shared by the trace unit tests: fixture files in a private temp directory (removed at
// exit) and draining a trace into an array.
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/sim/trace.h"

static char fx_dir[64];
static char fx_paths[64][128];
static int fx_n;

__attribute__((unused)) static void fx_cleanup(void) {
  for (int i = fx_n - 1; i >= 0; i--) {
    if (unlink(fx_paths[i]) != 0) rmdir(fx_paths[i]);
  }
  rmdir(fx_dir);
}

__attribute__((unused)) static const char *fx_root(void) {
  if (!fx_dir[0]) {
    strcpy(fx_dir, "/tmp/sl_trace_test_XXXXXX");
    if (!mkdtemp(fx_dir)) {
      perror("mkdtemp");
      exit(2);
    }
    atexit(fx_cleanup);
  }
  return fx_dir;
}

// Creates a subdirectory of the fixture root; returns its path.
__attribute__((unused)) static const char *fx_mkdir(const char *name) {
  char *p = fx_paths[fx_n++];
  snprintf(p, 128, "%s/%s", fx_root(), name);
  mkdir(p, 0700);
  return p;
}

// Writes content to name under the fixture root; returns its path.
__attribute__((unused)) static const char *fx_put(const char *name, const char *content) {
  char *p = fx_paths[fx_n++];
  snprintf(p, 128, "%s/%s", fx_root(), name);
  FILE *f = fopen(p, "wb");
  if (!f) {
    perror(p);
    exit(2);
  }
  fputs(content, f);
  fclose(f);
  return p;
}

typedef struct {
  sl_req_t *r;
  size_t n, cap;
  int rc; // 0 after a clean end, else the error code
  sl_err_t err;
} fx_reqs_t;

__attribute__((unused)) static void fx_push(fx_reqs_t *o, const sl_req_t *r) {
  if (o->n == o->cap) {
    o->cap = o->cap ? o->cap * 2 : 64;
    o->r = realloc(o->r, o->cap * sizeof *o->r);
    if (!o->r) exit(2);
  }
  o->r[o->n++] = *r;
}

// Reads a trace to its end (or first error, or max requests).
__attribute__((unused)) static fx_reqs_t fx_drain_max(const char *spec, const sl_trace_opts_t *opts,
                                                      size_t max) {
  fx_reqs_t o = {0};
  sl_trace_t *t;
  o.rc = sl_trace_open(spec, opts, &t, &o.err);
  if (o.rc < 0) return o;
  sl_req_t r;
  int rc;
  while (o.n < max && (rc = sl_trace_next(t, &r, &o.err)) > 0) fx_push(&o, &r);
  o.rc = o.n < max && rc < 0 ? rc : 0;
  sl_trace_free(t);
  return o;
}

__attribute__((unused)) static fx_reqs_t fx_drain(const char *spec, const sl_trace_opts_t *opts) {
  return fx_drain_max(spec, opts, (size_t)-1);
}

__attribute__((unused)) static int fx_ordered(const fx_reqs_t *o) {
  for (size_t i = 1; i < o->n; i++)
    if (o->r[i].t < o->r[i - 1].t) return 0;
  return 1;
}

__attribute__((unused)) static sl_trace_opts_t fx_opts(void) {
  sl_trace_opts_t o;
  sl_trace_opts_init(&o);
  return o;
}
