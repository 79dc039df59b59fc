// A YAML document as a small tree of values with source positions, loaded with libyaml.
// Typed readers on top of it produce errors that name file:line and the field path, which is
// what every config and cluster file error message needs.
#pragma once

#include <stddef.h>

#include "core/util/err.h"

typedef enum { SL_Y_NULL, SL_Y_SCALAR, SL_Y_SEQ, SL_Y_MAP } sl_ytype_t;

typedef struct sl_yval {
  sl_ytype_t type;
  int line, col;          // 1-based
  char *str;              // scalar text
  int quoted;             // scalar was quoted: always a string
  struct sl_yval **items; // seq items, or map values
  char **keys;            // map keys (NULL for seq)
  int *key_lines;
  size_t n;
} sl_yval_t;

typedef struct {
  char *file;      // name used in messages
  sl_yval_t *root; // NULL for an empty document
} sl_ydoc_t;

// Loads the first document of a file or buffer. Errors: "file:line:col: message".
int sl_ydoc_load_file(sl_ydoc_t *doc, const char *path, sl_err_t *err);
int sl_ydoc_load_buffer(sl_ydoc_t *doc, const char *buf, size_t len, const char *name,
                        sl_err_t *err);
void sl_ydoc_deinit(sl_ydoc_t *doc);

// ---- typed access -------------------------------------------------------------------------
// `path` is the field's dotted path for messages ("variants[2].max"). Each reader returns 0,
// or a negative code with err = "file:line: path: what was expected, what was found".

const sl_yval_t *sl_y_get(const sl_yval_t *map, const char *key);
int sl_y_expect(const sl_ydoc_t *d, const sl_yval_t *v, sl_ytype_t type, const char *path,
                sl_err_t *err);
int sl_y_int(const sl_ydoc_t *d, const sl_yval_t *v, const char *path, long long lo, long long hi,
             long long *out, sl_err_t *err);
int sl_y_num(const sl_ydoc_t *d, const sl_yval_t *v, const char *path, double lo, double hi,
             double *out, sl_err_t *err);
int sl_y_bool(const sl_ydoc_t *d, const sl_yval_t *v, const char *path, int *out, sl_err_t *err);
// Durations: a number of seconds or "500ms", "15s", "5m", "2h", "1d".
int sl_y_duration(const sl_ydoc_t *d, const sl_yval_t *v, const char *path, double *out,
                  sl_err_t *err);
// Sizes: a number of bytes or "512KiB", "64MiB", "1GiB", "1MB".
int sl_y_size(const sl_ydoc_t *d, const sl_yval_t *v, const char *path, size_t *out, sl_err_t *err);
// Copies the scalar (caller frees *out).
int sl_y_str(const sl_ydoc_t *d, const sl_yval_t *v, const char *path, char **out, sl_err_t *err);
// Rejects keys of `map` not in the NULL-terminated `allowed` list, naming the closest match.
int sl_y_known_keys(const sl_ydoc_t *d, const sl_yval_t *map, const char *path,
                    const char *const *allowed, sl_err_t *err);
// Formats an error at v's position.
int sl_y_err(const sl_ydoc_t *d, const sl_yval_t *v, sl_err_t *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

// Plain scalars: parse helpers shared with the CLI (flags take the same forms).
int sl_parse_duration(const char *s, double *out);
int sl_parse_size(const char *s, size_t *out);
int sl_parse_number(const char *s, double *out);
