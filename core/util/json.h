// JSON values as a small tree, parsed with yajl (incrementally, so a watch stream's objects are
// built as their bytes arrive and handed over one by one) and written back with yajl_gen.
// Kubernetes objects, watch events, kubeconfig-adjacent JSON and the emulator's stored objects
// all go through this one representation.
#pragma once

#include <stddef.h>

#include "core/util/err.h"

typedef enum {
  SL_JSON_NULL,
  SL_JSON_BOOL,
  SL_JSON_NUMBER,
  SL_JSON_STRING,
  SL_JSON_ARRAY,
  SL_JSON_OBJECT,
} sl_json_type_t;

typedef struct sl_json {
  sl_json_type_t type;
  int b;      // BOOL
  double num; // NUMBER
  char *str;  // STRING (NUL-terminated; len excludes the NUL), or NUMBER's text as written
  size_t len;
  // ARRAY and OBJECT: n items; keys[i] names items[i] in an OBJECT (insertion order kept).
  struct sl_json **items;
  char **keys;
  size_t n, cap;
} sl_json_t;

// ---- parsing ----------------------------------------------------------------------------------

// Limits that keep a hostile or broken peer from exhausting memory or the C stack.
typedef struct {
  int max_depth;    // nesting of arrays/objects (default 128 when 0)
  size_t max_bytes; // bytes of one top-level value (default 64 MiB when 0)
} sl_json_limits_t;

// Parses one complete JSON text. NULL and err ("offset N: reason") on malformed input.
sl_json_t *sl_json_parse(const char *buf, size_t len, const sl_json_limits_t *lim, sl_err_t *err);

// An incremental parser for a stream of concatenated top-level values (a Kubernetes watch:
// one object per line). Each value is handed to `on_value` as soon as it is complete; the
// callee owns it. A non-zero return from on_value stops the stream with that code.
typedef int (*sl_json_value_fn)(void *ud, sl_json_t *v);
typedef struct sl_json_stream sl_json_stream_t;

sl_json_stream_t *sl_json_stream_new(const sl_json_limits_t *lim, sl_json_value_fn on_value,
                                     void *ud);
void sl_json_stream_free(sl_json_stream_t *s);
// Feeds bytes; any split is fine. Returns 0, the callback's code, or SL_EPARSE with err filled.
int sl_json_stream_feed(sl_json_stream_t *s, const char *buf, size_t len, sl_err_t *err);
// End of stream: SL_EPARSE when it stopped inside a value (a truncated event).
int sl_json_stream_finish(sl_json_stream_t *s, sl_err_t *err);
// Bytes fed so far.
size_t sl_json_stream_bytes(const sl_json_stream_t *s);

// ---- building -----------------------------------------------------------------------------------
// Constructors return NULL only when out of memory. Containers take ownership of what is added.

sl_json_t *sl_json_null(void);
sl_json_t *sl_json_bool(int b);
sl_json_t *sl_json_number(double x);
// A number written exactly as `text` (e.g. an int64 that a double would round).
sl_json_t *sl_json_number_text(const char *text);
sl_json_t *sl_json_string(const char *s);
sl_json_t *sl_json_stringn(const char *s, size_t n);
sl_json_t *sl_json_array(void);
sl_json_t *sl_json_object(void);
// Appends to an array. Returns 0 or SL_ENOMEM (v is freed on failure).
int sl_json_push(sl_json_t *arr, sl_json_t *v);
// Sets obj[key], replacing (and freeing) an existing value. 0 or SL_ENOMEM (v freed on failure).
int sl_json_set(sl_json_t *obj, const char *key, sl_json_t *v);
// Removes obj[key]; returns whether it was there.
int sl_json_del(sl_json_t *obj, const char *key);
// Removes items[i] from an array or object, keeping the order of the rest.
void sl_json_remove_at(sl_json_t *j, size_t i);
// Takes items[i] out without freeing it (the caller owns the result).
sl_json_t *sl_json_take_at(sl_json_t *j, size_t i);
sl_json_t *sl_json_clone(const sl_json_t *j);
void sl_json_free(sl_json_t *j);

// ---- reading ------------------------------------------------------------------------------------

// obj[key], or NULL when j is not an object or has no such key.
sl_json_t *sl_json_get(const sl_json_t *obj, const char *key);
// Follows a dotted path of object keys ("metadata.name"); a key containing dots cannot be
// reached this way (use sl_json_get). NULL when any step is missing.
sl_json_t *sl_json_at(const sl_json_t *j, const char *path);
// Typed readers: the value, or the fallback when j is NULL or of another type.
const char *sl_json_str_or(const sl_json_t *j, const char *fallback);
double sl_json_num_or(const sl_json_t *j, double fallback);
int sl_json_bool_or(const sl_json_t *j, int fallback);
// Index of key in obj, or -1.
long sl_json_index(const sl_json_t *obj, const char *key);
// Structural equality (object key order ignored; numbers compared by value).
int sl_json_equal(const sl_json_t *a, const sl_json_t *b);

// ---- writing ------------------------------------------------------------------------------------

// Serializes compactly into a malloc'd NUL-terminated buffer (*len excludes the NUL).
int sl_json_write(const sl_json_t *j, char **out, size_t *len, sl_err_t *err);
// Appends the serialization to a growing buffer.
typedef struct {
  char *buf;
  size_t len, cap;
} sl_json_buf_t;
int sl_json_write_buf(const sl_json_t *j, sl_json_buf_t *b);
void sl_json_buf_deinit(sl_json_buf_t *b);
// Appends s as a JSON string literal (quoted, escaped) to b.
int sl_json_buf_quote(sl_json_buf_t *b, const char *s, size_t n);
int sl_json_buf_add(sl_json_buf_t *b, const char *s, size_t n);
