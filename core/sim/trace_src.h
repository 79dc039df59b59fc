// Internal to core/sim/trace*.c: the source interface every format and generator implements, the
// buffered line reader the file formats share, and the k=v parameter parser of specs.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sim/trace.h"

// A source yields requests in non-decreasing source time (seconds from its own start). The
// pipeline in trace.c slices, scales and thins them.
typedef struct sl_trace_src sl_trace_src_t;
struct sl_trace_src {
  // 1 = got one, 0 = end, < 0 = error. *rng may be set to the stream the pipeline must use for
  // this request's thinning and token draws (ServeGen keeps one per client window so a window's
  // requests do not depend on other clients); left NULL, the pipeline uses its own.
  int (*next)(sl_trace_src_t *s, sl_req_t *r, sl_rng_t **rng, sl_err_t *err);
  // Skips ahead without work to source time t (requests before t may still come out).
  void (*seek)(sl_trace_src_t *s, double t);
  void (*free)(sl_trace_src_t *s);
  const char *kind;
  bool has_tokens; // false: the pipeline draws lengths from opts->tokens
  double end;      // source time after which nothing comes (generators), else INFINITY
};

// ---- line reader (trace_lines.c) ---------------------------------------------------------------

typedef struct {
  int fd;          // -1 when reading from memory
  const char *mem; // memory input (not owned)
  size_t mem_len, mem_pos;
  char *buf; // fd input: read buffer
  size_t cap, beg, end;
  bool eof;
  long line;  // number of the line last returned, from 1
  char *name; // for messages
} sl_trace_lines_t;

// Opens path (SL_EIO naming it) or wraps memory.
int sl_trace_lines_open(sl_trace_lines_t *l, const char *path, sl_err_t *err);
int sl_trace_lines_mem(sl_trace_lines_t *l, const void *data, size_t len, const char *name,
                       sl_err_t *err);
// 1 = *line/*len set (no newline; a trailing '\r' dropped; valid until the next call), 0 = end,
// < 0 = error.
int sl_trace_lines_next(sl_trace_lines_t *l, const char **line, size_t *len, sl_err_t *err);
// The first line, without consuming it (for format detection).
int sl_trace_lines_peek(sl_trace_lines_t *l, const char **line, size_t *len, sl_err_t *err);
void sl_trace_lines_deinit(sl_trace_lines_t *l);
// Formats "NAME:LINE: " + message as an SL_EPARSE error.
int sl_trace_lines_err(const sl_trace_lines_t *l, sl_err_t *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Splits a CSV line (no quoting in these formats) into at most max fields; returns the count
// (which may exceed max: the rest are not stored).
int sl_trace_split(const char *line, size_t len, const char **f, size_t *flen, int max);
// Whole-field numbers; false on anything else (empty, trailing junk, out of range, NaN).
bool sl_trace_num(const char *s, size_t n, double *out);
bool sl_trace_uint(const char *s, size_t n, uint64_t *out);

// ---- k=v parameters of specs (trace_gen.c) -----------------------------------------------------

typedef struct {
  const char *key;
  double *dst;
  double min, max; // inclusive range checked after parsing
  bool required;
  bool min_open; // min itself is not allowed (> min)
} sl_trace_param_t;

// Parses "k=v,k=v" against the table; what names the spec in messages. SL_EINVAL on an unknown
// key (listing the known ones), a duplicate, a missing required key or a value out of range.
int sl_trace_params(const char *what, const char *kv, sl_trace_param_t *p, int np, sl_err_t *err);

// ---- sources -----------------------------------------------------------------------------------

int sl_trace_gen_open(const char *spec, const sl_trace_opts_t *o, sl_trace_src_t **out,
                      sl_err_t *err);
// True when spec names a generator ("NAME" or "NAME:...").
bool sl_trace_gen_is(const char *spec);

int sl_trace_csv_open_azure(sl_trace_lines_t *l, const sl_trace_opts_t *o, sl_trace_src_t **out,
                            sl_err_t *err);
int sl_trace_json_open(sl_trace_lines_t *l, const sl_trace_opts_t *o, sl_trace_src_t **out,
                       sl_err_t *err);
// ServeGen: one client file (agg = false) or an aggregate file; client is the chunk id used to
// seed its windows.
int sl_trace_servegen_open(sl_trace_lines_t *l, bool agg, uint64_t client, const sl_trace_opts_t *o,
                           sl_trace_src_t **out, sl_err_t *err);
// Every chunk-*-trace.csv of a directory, merged.
int sl_trace_servegen_open_dir(const char *dir, const sl_trace_opts_t *o, sl_trace_src_t **out,
                               sl_err_t *err);
// A directory's clients as sources of their own (in the directory's time base), for work that
// needs no merge; a client's requests do not depend on the others. 0 clients for other sources.
// Use either the clients or the directory, not both.
size_t sl_trace_servegen_nclients(const sl_trace_src_t *src);
sl_trace_src_t *sl_trace_servegen_client(sl_trace_src_t *src, size_t i);

