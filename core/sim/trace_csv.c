// The Azure LLM inference trace (TIMESTAMP,ContextTokens,GeneratedTokens): one request per line,
// timestamps like 2023-11-16 18:15:46.6805900, read as whole seconds plus a fraction so that
// sub-microsecond digits survive a 1.7e9-second epoch.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/sim/trace_csv.h"

typedef struct {
  sl_trace_src_t base;
  sl_trace_lines_t l;
  bool have0;
  int64_t sec0;
  double frac0, last, tol;
} azure_t;

// Days since 1970-01-01 of a proleptic Gregorian date.
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static bool digits(const char *s, int n, int *v) {
  int x = 0;
  for (int i = 0; i < n; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (d > 9) return false;
    x = x * 10 + (int)d;
  }
  *v = x;
  return true;
}

// "YYYY-MM-DD HH:MM:SS[.f...]" (or a 'T' separator) -> whole seconds since the epoch + fraction.
static bool parse_ts(const char *s, size_t n, int64_t *sec, double *frac) {
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  while (n > 0 && (*s == ' ' || *s == '\t')) s++, n--;
  int y, mo, d, h, mi, se;
  if (n < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' ||
      s[16] != ':')
    return false;
  if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
      !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
    return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return false;
  double f = 0, scale = 0.1;
  if (n > 19) {
    if (s[19] != '.' || n == 20) return false;
    for (size_t i = 20; i < n; i++) {
      unsigned dg = (unsigned)(s[i] - '0');
      if (dg > 9) return false;
      f += dg * scale;
      scale *= 0.1;
    }
  }
  *sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
  *frac = f;
  return true;
}

// Token counts: whole, non-negative, 32-bit.
static int tokens(sl_trace_lines_t *l, const char *f, size_t n, const char *what, uint32_t *out,
                  sl_err_t *err) {
  uint64_t v;
  if (!sl_trace_lines_uint(f, n, &v)) {
    double x;
    if (sl_trace_lines_num(f, n, &x) && x < 0)
      return sl_trace_lines_err(l, err, "%s is negative: '%.*s'", what, (int)n, f);
    return sl_trace_lines_err(l, err, "%s is not a whole number: '%.*s'", what, (int)n, f);
  }
  if (v > UINT32_MAX) return sl_trace_lines_err(l, err, "%s is too large: '%.*s'", what, (int)n, f);
  *out = (uint32_t)v;
  return 0;
}

static int azure_next(sl_trace_src_t *s, sl_req_t *r, sl_rng_t **rng, sl_err_t *err) {
  azure_t *a = (azure_t *)s;
  const char *line;
  size_t len;
  for (;;) {
    int rc = sl_trace_lines_next(&a->l, &line, &len, err);
    if (rc <= 0) return rc;
    if (len == 0) continue;
    const char *f[3];
    size_t fl[3];
    int nf = sl_trace_lines_split(line, len, f, fl, 3);
    if (a->l.line == 1 && fl[0] == 9 && !strncasecmp(f[0], "TIMESTAMP", 9)) {
      if (nf != 3)
        return sl_trace_lines_err(&a->l, err,
                                  "header has %d fields, expected 3 "
                                  "(TIMESTAMP,ContextTokens,GeneratedTokens)",
                                  nf);
      continue;
    }
    if (nf != 3)
      return sl_trace_lines_err(&a->l, err,
                                "expected 3 fields (TIMESTAMP,ContextTokens,"
                                "GeneratedTokens), got %d",
                                nf);
    int64_t sec;
    double frac;
    if (!parse_ts(f[0], fl[0], &sec, &frac))
      return sl_trace_lines_err(&a->l, err, "TIMESTAMP is not a date-time: '%.*s'", (int)fl[0],
                                f[0]);
    memset(r, 0, sizeof *r);
    if ((rc = tokens(&a->l, f[1], fl[1], "ContextTokens", &r->in_tokens, err)) < 0) return rc;
    if ((rc = tokens(&a->l, f[2], fl[2], "GeneratedTokens", &r->out_tokens, err)) < 0) return rc;
    if (!a->have0) {
      a->have0 = true;
      a->sec0 = sec;
      a->frac0 = frac;
    }
    double t = (double)(sec - a->sec0) + (frac - a->frac0);
    if (t < a->last) {
      if (t < a->last - a->tol)
        return sl_trace_lines_err(&a->l, err, "TIMESTAMP goes back %.6g s (tolerance %g s)",
                                  a->last - t, a->tol);
      t = a->last;
    }
    a->last = t;
    r->t = t;
    return 1;
  }
}

static void azure_free(sl_trace_src_t *s) {
  azure_t *a = (azure_t *)s;
  sl_trace_lines_deinit(&a->l);
  free(a);
}

int sl_trace_csv_open_azure(sl_trace_lines_t *l, const sl_trace_opts_t *o, sl_trace_src_t **out,
                            sl_err_t *err) {
  azure_t *a = calloc(1, sizeof *a);
  if (!a) {
    sl_trace_lines_deinit(l);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  a->l = *l;
  a->tol = o->order_tol_s;
  a->base.next = azure_next;
  a->base.free = azure_free;
  a->base.kind = "azure";
  a->base.has_tokens = true;
  a->base.end = INFINITY;
  *out = &a->base;
  return 0;
}
