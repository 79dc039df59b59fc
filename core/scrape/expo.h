// Prometheus exposition parser: text format 0.0.4 and OpenMetrics 1.0 text, streamed over one
// response buffer with callbacks, zero-copy. It owns the grammar and the family/type rules of both
// formats; what to keep is the caller's business.
//
// Contract:
// - Names (family, sample, label) always point into buf. Label values and HELP text point into buf
//   unless they contained escapes; then they point into parser scratch that is reused for the next
//   sample (label values) or family (HELP). Copy what you keep beyond the callback.
// - The callbacks run while the page is being read. A malformed page is rejected whole: the parse
//   returns SL_EPARSE with err->msg = "line N: reason" after samples before the bad line were
//   already delivered. Callers stage what they receive and commit only when the parse returns 0.
// - A family the handler declines (family callback returns 0) has its sample lines checked only for
//   their metric name, which is what decides where the family ends; the rest of each such line is
//   skipped without being validated. Everything delivered was fully validated.
// - CR LF line endings are rejected in both formats (OpenMetrics forbids CR; text 0.0.4 allows only
//   blanks and tabs as whitespace); the error says so.
// - NUL bytes and invalid UTF-8 are rejected in label values and HELP text (OpenMetrics would allow
//   NUL; label values travel on as C strings).
// See docs/scrape.md for what each format accepts.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/util/err.h"

typedef enum { SL_EXPO_TEXT_004, SL_EXPO_OPENMETRICS } sl_expo_format_t;

typedef enum {
  SL_EXPO_UNTYPED, // text "untyped", OpenMetrics "unknown", or no TYPE line
  SL_EXPO_COUNTER,
  SL_EXPO_GAUGE,
  SL_EXPO_HISTOGRAM,
  SL_EXPO_SUMMARY,
  SL_EXPO_GAUGEHISTOGRAM, // OpenMetrics only, as are the two below
  SL_EXPO_INFO,
  SL_EXPO_STATESET,
} sl_expo_type_t;

// What a sample is to its family, from the metric name's suffix.
typedef enum {
  SL_EXPO_ROLE_NONE, // the family name itself: gauge, untyped, summary quantile, stateset
  SL_EXPO_ROLE_TOTAL,
  SL_EXPO_ROLE_BUCKET,
  SL_EXPO_ROLE_SUM,
  SL_EXPO_ROLE_COUNT,
  SL_EXPO_ROLE_CREATED,
  SL_EXPO_ROLE_GSUM,
  SL_EXPO_ROLE_GCOUNT,
  SL_EXPO_ROLE_INFO,
} sl_expo_role_t;

typedef struct {
  const char *ptr; // not NUL-terminated
  size_t len;
} sl_expo_str_t;

typedef struct {
  sl_expo_str_t name, value; // value unescaped
} sl_expo_label_t;

typedef struct {
  // The OpenMetrics family name in both formats: a text 0.0.4 counter declared as "foo_total"
  // is family "foo", its samples "foo_total" with role TOTAL, as OpenMetrics would have it.
  sl_expo_str_t name;
  sl_expo_type_t type;
  sl_expo_str_t help; // unescaped; len 0 when absent or empty
  sl_expo_str_t unit; // OpenMetrics UNIT; len 0 when absent or empty
  int line;           // first line of the family
} sl_expo_family_t;

typedef struct {
  sl_expo_str_t name; // the full sample name, e.g. "foo_bucket"
  const sl_expo_family_t *family;
  sl_expo_role_t role;
  const sl_expo_label_t *labels; // in page order, names unique
  size_t nlabels;
  double value;
  double le;       // a bucket's upper bound; NaN for other samples
  double quantile; // a summary quantile sample's quantile; NaN for other samples
  int has_ts;
  int64_t ts_ms; // text: the integer milliseconds; OpenMetrics: seconds * 1000, rounded
  int line;
} sl_expo_sample_t;

typedef struct {
  // Called once per family, before its first sample (or at its end when it has none). Return > 0
  // to receive its samples, 0 to skip them, < 0 (an SL_E* code) to stop the parse with that code.
  // NULL receives every family.
  int (*family)(void *ud, const sl_expo_family_t *f);
  // Return 0 to go on, < 0 (an SL_E* code) to stop the parse with that code. NULL only validates.
  int (*sample)(void *ud, const sl_expo_sample_t *s);
} sl_expo_handler_t;

// Reusable state: scratch for unescaped strings, labels and the page's family names. Keep one per
// scraping thread so a steady stream of pages allocates nothing.
typedef struct sl_expo_parser sl_expo_parser_t;

sl_expo_parser_t *sl_expo_parser_new(void);
void sl_expo_parser_free(sl_expo_parser_t *p);

// Parses buf[0..len) in one go. Returns 0, SL_EPARSE (err: "line N: reason"), SL_ENOMEM, or the
// negative code a callback returned.
int sl_expo_parser_run(sl_expo_parser_t *p, const char *buf, size_t len, sl_expo_format_t fmt,
                       const sl_expo_handler_t *h, void *ud, sl_err_t *err);
// The same with a parser of its own (a few allocations per call).
int sl_expo_parse(const char *buf, size_t len, sl_expo_format_t fmt, const sl_expo_handler_t *h,
                  void *ud, sl_err_t *err);

// OpenMetrics when the media type is application/openmetrics-text (any version), else text 0.0.4
// (also for NULL or an unknown type, as Prometheus falls back to it).
sl_expo_format_t sl_expo_format_from_content_type(const char *content_type);

// Parses a number as the formats write values and "le"/"quantile" label values: decimal with an
// optional exponent, [+-]Inf/Infinity and NaN in any case. No hex, no underscores, no blanks.
// Returns 0, or SL_EPARSE for anything else or a finite literal beyond the double range.
int sl_expo_parse_float(const char *s, size_t len, double *out);

// The label of that name, or NULL.
const sl_expo_label_t *sl_expo_sample_label(const sl_expo_sample_t *s, const char *name);

const char *sl_expo_type_name(sl_expo_type_t t);   // "counter", ..., "untyped" for UNTYPED
const char *sl_expo_role_suffix(sl_expo_role_t r); // "", "_total", "_bucket", ...
