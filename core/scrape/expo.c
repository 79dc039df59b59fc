// Prometheus text 0.0.4 / OpenMetrics 1.0 parser. One pass over the buffer, one line at a time;
// the only per-page state besides the current family is a small hash set of the family names seen
// so far, which is what rejects interleaved families and names that clash with another family's
// samples. Scratch (labels, unescaped strings, that set) lives in the parser and is reused.
#include "core/scrape/expo.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_ESC ((size_t)-1)
#define BIT(r) ((uint16_t)(1u << (r)))
#define BARE   BIT(SL_EXPO_ROLE_NONE)
// Past this many labels, duplicates are found by sorting rather than by pairwise comparison.
#define DUP_LINEAR_MAX 16
// OpenMetrics caps an exemplar's label names and values at 128 code points together.
#define EXEMPLAR_MAX_RUNES 128

// ---- character classes ----------------------------------------------------------------------

enum { C_NSTART = 1, C_NAME = 2, C_LSTART = 4, C_LNAME = 8, C_DIGIT = 16, C_BLANK = 32, C_LV = 64 };

// C_LV: bytes a label value can hold as they are (no escape, no UTF-8 check, no end): every ASCII
// byte but NUL, LF, '"' and '\\'.
#define LNAME (C_NSTART | C_NAME | C_LSTART | C_LNAME | C_LV)
static const uint8_t cls[256] = {
    [0x01 ... 0x08] = C_LV,
    ['\t'] = C_BLANK | C_LV,
    [0x0b ... 0x1f] = C_LV,
    [' '] = C_BLANK | C_LV,
    ['!'] = C_LV,
    ['#' ... '/'] = C_LV,
    ['0' ... '9'] = C_NAME | C_LNAME | C_DIGIT | C_LV,
    [':'] = C_NSTART | C_NAME | C_LV,
    [';' ... '@'] = C_LV,
    ['A' ... 'Z'] = LNAME,
    ['['] = C_LV,
    [']' ... '^'] = C_LV,
    ['_'] = LNAME,
    ['`'] = C_LV,
    ['a' ... 'z'] = LNAME,
    ['{' ... 0x7f] = C_LV,
};
#undef LNAME

#define IS(c, k) (cls[(uint8_t)(c)] & (k))

// Word-at-a-time tests: whether any of 8 bytes is zero, or equal to c.
#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
static inline uint64_t load64(const char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static inline uint64_t has_zero(uint64_t v) {
  return (v - ONES) & ~v & HIGHS;
}
static inline uint64_t has_byte(uint64_t v, uint8_t c) {
  return has_zero(v ^ (ONES * c));
}

// Length of the valid UTF-8 sequence at p (2..4), 0 when invalid, overlong or a surrogate.
static size_t utf8_len(const uint8_t *p, const uint8_t *e) {
  uint8_t c = p[0];
  if (c >= 0xc2 && c <= 0xdf) return e - p >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (e - p < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80) return 0;
    if (c == 0xe0 && p[1] < 0xa0) return 0; // overlong
    if (c == 0xed && p[1] > 0x9f) return 0; // surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (e - p < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
      return 0;
    if (c == 0xf0 && p[1] < 0x90) return 0; // overlong
    if (c == 0xf4 && p[1] > 0x8f) return 0; // beyond U+10FFFF
    return 4;
  }
  return 0;
}

// ---- numbers --------------------------------------------------------------------------------

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;
static void c_locale_init(void) {
  c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

// strtod in the C locale (a process may have set another decimal point) on a copy that ends.
static double slow_strtod(const char *s, size_t n) {
  char small[128], *tmp = n < sizeof small ? small : malloc(n + 1);
  if (!tmp) return NAN;
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  pthread_once(&c_locale_once, c_locale_init);
  double d = c_locale ? strtod_l(tmp, NULL, c_locale) : strtod(tmp, NULL);
  if (tmp != small) free(tmp);
  return d;
}

static int ci_eq(const char *s, size_t n, const char *lower) {
  size_t i = 0;
  for (; i < n && lower[i]; i++)
    if ((s[i] | 0x20) != lower[i]) return 0;
  return i == n && !lower[i];
}

// 0, -1 bad syntax, -2 a finite literal beyond the double range. Short decimals (up to 19
// significant digits, mantissa within 2^53, power of ten within 10^22) are exact with one IEEE
// multiply or divide; the rest go to strtod.
static int parse_num(const char *s, size_t n, double *out) {
  const char *p = s, *e = s + n;
  int neg = 0;
  if (p < e && (*p == '+' || *p == '-')) neg = *p++ == '-';
  if (p == e) return -1;
  if ((*p | 0x20) == 'i') {
    if (!ci_eq(p, e - p, "inf") && !ci_eq(p, e - p, "infinity")) return -1;
    *out = neg ? -INFINITY : INFINITY;
    return 0;
  }
  if ((*p | 0x20) == 'n') {
    if (p != s || !ci_eq(p, e - p, "nan")) return -1; // NaN takes no sign
    *out = NAN;
    return 0;
  }
  uint64_t m = 0;
  int sig = 0, nd = 0;
  long long exp10 = 0;
  for (; p < e && IS(*p, C_DIGIT); p++, nd++) {
    unsigned d = *p - '0';
    if (m || d) {
      if (sig < 19) m = m * 10 + d;
      sig++;
      if (sig > 19) exp10++;
    }
  }
  if (p < e && *p == '.') {
    for (p++; p < e && IS(*p, C_DIGIT); p++, nd++) {
      unsigned d = *p - '0';
      if (m || d) {
        if (sig < 19) m = m * 10 + d, exp10--;
        sig++;
      } else {
        exp10--;
      }
    }
  }
  if (!nd) return -1;
  if (p < e && (*p | 0x20) == 'e') {
    int eneg = 0;
    long long ev = 0;
    p++;
    if (p < e && (*p == '+' || *p == '-')) eneg = *p++ == '-';
    if (p == e || !IS(*p, C_DIGIT)) return -1;
    for (; p < e && IS(*p, C_DIGIT); p++)
      if (ev < 1000000) ev = ev * 10 + (*p - '0');
    exp10 += eneg ? -ev : ev;
  }
  if (p != e) return -1;
  double d;
  if (m == 0) {
    d = 0;
  } else if (sig <= 19 && m <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
    d = (double)m;
    d = exp10 < 0 ? d / pow10_exact[-exp10] : d * pow10_exact[exp10];
  } else {
    d = fabs(slow_strtod(s, n));
    if (isnan(d)) return -1; // out of memory for an absurdly long literal
    if (isinf(d)) return -2;
  }
  *out = neg ? -d : d;
  return 0;
}

int sl_expo_parse_float(const char *s, size_t len, double *out) {
  double d;
  if (!s || parse_num(s, len, &d) < 0) return SL_EPARSE;
  *out = d;
  return 0;
}

static int parse_i64(const char *s, size_t n, int64_t *out) {
  const char *p = s, *e = s + n;
  int neg = 0;
  if (p < e && (*p == '+' || *p == '-')) neg = *p++ == '-';
  if (p == e) return -1;
  uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; p < e; p++) {
    if (!IS(*p, C_DIGIT)) return -1;
    unsigned d = *p - '0';
    if (v > (lim - d) / 10) return -2;
    v = v * 10 + d;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 0;
}

// ---- parser state ---------------------------------------------------------------------------

typedef struct {
  const char *ptr;
  uint32_t len, hash, gen;
  uint16_t owned; // sample-name suffixes of the family of this name (BIT(role)), when exists
  uint16_t child; // suffixes x such that a family named this + x exists
  uint8_t exists, type;
  int line;
} seen_t;

struct sl_expo_parser {
  sl_expo_label_t *labels;
  size_t *esc; // per label: offset of its unescaped value in lv, or NO_ESC
  size_t labels_cap, esc_cap;
  char *lv; // unescaped label values of the current line
  size_t lv_len, lv_cap;
  char *help; // unescaped HELP of the current family
  size_t help_cap;
  const sl_expo_label_t **sorted;
  size_t sorted_cap;
  seen_t *seen;
  size_t seen_cap, seen_n;
  uint32_t gen;
};

enum { META_HELP, META_TYPE, META_UNIT };
static const char *const meta_kw[] = {"HELP", "TYPE", "UNIT"};

typedef struct {
  sl_expo_family_t pub;
  const char *decl; // the name on its metadata lines, or its first sample's name
  size_t decl_len;
  uint32_t hash; // of decl
  int active, announced, wanted;
  int implicit; // started by a sample, without metadata
  int have[3];  // META_*
  long nsamples;
  uint16_t owned;
  sl_expo_role_t bare_role;
  int in_run, run_line; // histogram: inside a bucket series not yet closed by le="+Inf"
  double last_le;
} fam_t;

typedef struct {
  sl_expo_parser_t *P;
  const char *end, *ls; // ls: start of the current line
  int line, om, eof, rc;
  const sl_expo_handler_t *h;
  void *ud;
  sl_err_t *err;
  size_t nlabels; // labels of the current sample
  int any_esc;
  fam_t fam;
} ps_t;

// Room for 40 bytes each escaped as \xNN, the quotes and an ellipsis.
typedef char qbuf_t[176];

// Quotes up to 40 bytes of p for a message, escaping what would not print.
static const char *quote(qbuf_t dst, const char *p, size_t n) {
  size_t o = 0, lim = n > 40 ? 40 : n;
  dst[o++] = '"';
  for (size_t i = 0; i < lim; i++) {
    uint8_t c = p[i];
    if (c == '"' || c == '\\')
      dst[o++] = '\\', dst[o++] = c;
    else if (c >= 0x20 && c < 0x7f)
      dst[o++] = c;
    else
      o += snprintf(dst + o, 5, "\\x%02x", c);
  }
  if (lim < n) memcpy(dst + o, "...", 3), o += 3;
  dst[o++] = '"';
  dst[o] = '\0';
  return dst;
}

static const char *line_end(const ps_t *s, const char *from) {
  const char *nl = memchr(from, '\n', s->end - from);
  return nl ? nl : s->end;
}

// Fails the parse at a line (0: the current one) and, when at is set, at that column.
static void failv(ps_t *s, int line, const char *at, const char *fmt, va_list ap) {
  char msg[SL_ERR_MAX - 64];
  s->rc = SL_EPARSE;
  if (!line) {
    line = s->line;
    // Any failure on a line that ends in CR LF is reported as that, the root cause.
    const char *nl = line_end(s, s->ls);
    if (nl < s->end && nl > s->ls && nl[-1] == '\r') {
      sl_err(s->err, SL_EPARSE, "line %d: CR LF line ending (lines must end with LF alone)", line);
      return;
    }
  }
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (at)
    sl_err(s->err, SL_EPARSE, "line %d: %s (column %d)", line, msg, (int)(at - s->ls + 1));
  else
    sl_err(s->err, SL_EPARSE, "line %d: %s", line, msg);
}

// For functions that return the position reached: NULL.
__attribute__((format(printf, 3, 4))) static const char *fail(ps_t *s, const char *at,
                                                              const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  failv(s, 0, at, fmt, ap);
  va_end(ap);
  return NULL;
}

// For functions that return a code: SL_EPARSE.
__attribute__((format(printf, 4, 5))) static int failc(ps_t *s, int line, const char *at,
                                                       const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  failv(s, line, at, fmt, ap);
  va_end(ap);
  return s->rc;
}

static int nomem(ps_t *s) {
  s->rc = SL_ENOMEM;
  sl_err(s->err, SL_ENOMEM, "line %d: out of memory", s->line);
  return SL_ENOMEM;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : 16;
  while (n < need) n *= 2;
  void *q = realloc(*p, n * elem);
  if (!q) return SL_ENOMEM;
  *p = q;
  *cap = n;
  return 0;
}

// ---- names, suffixes, types -----------------------------------------------------------------

static const char *const role_sfx[] = {"",         "_total", "_bucket", "_sum", "_count",
                                       "_created", "_gsum",  "_gcount", "_info"};

// The role a suffix stands for, or -1.
static int sfx_role(const char *x, size_t n) {
  switch (n) {
  case 0:
    return SL_EXPO_ROLE_NONE;
  case 4:
    return !memcmp(x, "_sum", 4) ? SL_EXPO_ROLE_SUM : -1;
  case 5:
    if (!memcmp(x, "_gsum", 5)) return SL_EXPO_ROLE_GSUM;
    return !memcmp(x, "_info", 5) ? SL_EXPO_ROLE_INFO : -1;
  case 6:
    if (!memcmp(x, "_total", 6)) return SL_EXPO_ROLE_TOTAL;
    return !memcmp(x, "_count", 6) ? SL_EXPO_ROLE_COUNT : -1;
  case 7:
    if (!memcmp(x, "_bucket", 7)) return SL_EXPO_ROLE_BUCKET;
    return !memcmp(x, "_gcount", 7) ? SL_EXPO_ROLE_GCOUNT : -1;
  case 8:
    return !memcmp(x, "_created", 8) ? SL_EXPO_ROLE_CREATED : -1;
  }
  return -1;
}

// The suffix a family name ends with (a role > 0, its length in *slen), or 0.
static int name_sfx(const char *n, size_t len, size_t *slen) {
  for (size_t k = 4; k <= 8 && k < len; k++) {
    int r = sfx_role(n + len - k, k);
    if (r > 0) {
      *slen = k;
      return r;
    }
  }
  *slen = 0;
  return 0;
}

// Which sample names a family owns: OpenMetrics' suffix table. In text 0.0.4 counters, gauges and
// untyped metrics are their own name (a counter declared without _total also owns name_total, as
// exporters following OpenMetrics naming write it), and _created is a family of its own.
static void set_type(fam_t *f, int om, sl_expo_type_t t) {
  f->pub.type = t;
  f->bare_role = SL_EXPO_ROLE_NONE;
  f->pub.name.len = f->decl_len;
  switch (t) {
  case SL_EXPO_COUNTER:
    if (om) {
      f->owned = BIT(SL_EXPO_ROLE_TOTAL) | BIT(SL_EXPO_ROLE_CREATED);
    } else if (f->decl_len > 6 && !memcmp(f->decl + f->decl_len - 6, "_total", 6)) {
      f->owned = BARE;
      f->bare_role = SL_EXPO_ROLE_TOTAL;
      f->pub.name.len = f->decl_len - 6;
    } else {
      f->owned = BARE | BIT(SL_EXPO_ROLE_TOTAL);
    }
    break;
  case SL_EXPO_HISTOGRAM:
    f->owned = BIT(SL_EXPO_ROLE_BUCKET) | BIT(SL_EXPO_ROLE_SUM) | BIT(SL_EXPO_ROLE_COUNT) |
               (om ? BIT(SL_EXPO_ROLE_CREATED) : 0);
    break;
  case SL_EXPO_SUMMARY:
    f->owned = BARE | BIT(SL_EXPO_ROLE_SUM) | BIT(SL_EXPO_ROLE_COUNT) |
               (om ? BIT(SL_EXPO_ROLE_CREATED) : 0);
    break;
  case SL_EXPO_GAUGEHISTOGRAM:
    f->owned = BIT(SL_EXPO_ROLE_BUCKET) | BIT(SL_EXPO_ROLE_GSUM) | BIT(SL_EXPO_ROLE_GCOUNT);
    break;
  case SL_EXPO_INFO:
    f->owned = BIT(SL_EXPO_ROLE_INFO);
    break;
  default:
    f->owned = BARE;
    break;
  }
}

static int parse_type(const char *t, size_t n, int om, sl_expo_type_t *out) {
  static const struct {
    const char *name;
    size_t len;
    sl_expo_type_t type;
    int fmt; // 0 text only, 1 OpenMetrics only, 2 both
  } types[] = {
#define T(name, type, fmt) {name, sizeof name - 1, type, fmt}
      T("counter", SL_EXPO_COUNTER, 2),
      T("gauge", SL_EXPO_GAUGE, 2),
      T("histogram", SL_EXPO_HISTOGRAM, 2),
      T("summary", SL_EXPO_SUMMARY, 2),
      T("untyped", SL_EXPO_UNTYPED, 0),
      T("unknown", SL_EXPO_UNTYPED, 1),
      T("gaugehistogram", SL_EXPO_GAUGEHISTOGRAM, 1),
      T("info", SL_EXPO_INFO, 1),
      T("stateset", SL_EXPO_STATESET, 1),
#undef T
  };
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    if (types[i].len != n || memcmp(types[i].name, t, n)) continue;
    if (types[i].fmt != 2 && types[i].fmt != om) return -1;
    *out = types[i].type;
    return 0;
  }
  return -1;
}

const char *sl_expo_type_name(sl_expo_type_t t) {
  switch (t) {
  case SL_EXPO_COUNTER:
    return "counter";
  case SL_EXPO_GAUGE:
    return "gauge";
  case SL_EXPO_HISTOGRAM:
    return "histogram";
  case SL_EXPO_SUMMARY:
    return "summary";
  case SL_EXPO_GAUGEHISTOGRAM:
    return "gaugehistogram";
  case SL_EXPO_INFO:
    return "info";
  case SL_EXPO_STATESET:
    return "stateset";
  default:
    return "untyped";
  }
}

const char *sl_expo_role_suffix(sl_expo_role_t r) {
  return (unsigned)r < sizeof role_sfx / sizeof role_sfx[0] ? role_sfx[r] : "";
}

// ---- the set of family names seen on this page ----------------------------------------------

// Names are hashed 8 bytes at a time; quality matters little, the set holds a few hundred names.
static uint32_t name_hash(const char *p, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
  for (; n >= 8; p += 8, n -= 8) h = (h ^ load64(p)) * 0xff51afd7ed558ccdull, h ^= h >> 29;
  if (n) {
    uint64_t t = 0;
    memcpy(&t, p, n);
    h = (h ^ t) * 0xff51afd7ed558ccdull;
  }
  h ^= h >> 32;
  return (uint32_t)h;
}

// Entries of older pages (another generation) count as empty.
static seen_t *seen_find(sl_expo_parser_t *P, const char *p, size_t n, uint32_t h) {
  if (!P->seen_cap) return NULL;
  for (size_t i = h & (P->seen_cap - 1);; i = (i + 1) & (P->seen_cap - 1)) {
    seen_t *e = &P->seen[i];
    if (e->gen != P->gen) return NULL;
    if (e->hash == h && e->len == n && !memcmp(e->ptr, p, n)) return e;
  }
}

// Finds or adds; the table stays at most half full. NULL when out of memory. Moves entries.
static seen_t *seen_add(sl_expo_parser_t *P, const char *p, size_t n, uint32_t h) {
  seen_t *e = seen_find(P, p, n, h);
  if (e) return e;
  if ((P->seen_n + 1) * 2 > P->seen_cap) {
    size_t cap = P->seen_cap ? P->seen_cap * 2 : 64;
    seen_t *t = calloc(cap, sizeof *t);
    if (!t) return NULL;
    for (size_t i = 0; i < P->seen_cap; i++) {
      seen_t *o = &P->seen[i];
      if (o->gen != P->gen) continue;
      size_t j = o->hash & (cap - 1);
      while (t[j].gen == P->gen) j = (j + 1) & (cap - 1);
      t[j] = *o;
    }
    free(P->seen);
    P->seen = t;
    P->seen_cap = cap;
  }
  size_t i = h & (P->seen_cap - 1);
  while (P->seen[i].gen == P->gen) i = (i + 1) & (P->seen_cap - 1);
  e = &P->seen[i];
  *e = (seen_t){.ptr = p, .len = (uint32_t)n, .hash = h, .gen = P->gen};
  P->seen_n++;
  return e;
}

// ---- families -------------------------------------------------------------------------------

static void fam_begin(ps_t *s, const char *name, size_t n, uint32_t hash) {
  fam_t *f = &s->fam;
  *f = (fam_t){.decl = name, .decl_len = n, .hash = hash, .active = 1};
  f->pub.name.ptr = name;
  f->pub.help.ptr = f->pub.unit.ptr = "";
  f->pub.line = s->line;
  set_type(f, s->om, SL_EXPO_UNTYPED);
}

// Registers the family in the page's name set, refusing a name that clashes with another family's
// sample names, then asks the handler whether it wants the samples.
static int announce(ps_t *s) {
  fam_t *f = &s->fam;
  sl_expo_parser_t *P = s->P;
  qbuf_t q1, q2;
  size_t slen;
  int sfx = name_sfx(f->decl, f->decl_len, &slen);
  size_t plen = f->decl_len - slen;
  uint32_t h = f->hash, hp = sfx ? name_hash(f->decl, plen) : h;
  seen_t *e = seen_find(P, f->decl, f->decl_len, h);
  uint16_t hit = e ? e->child & f->owned & ~BARE : 0;
  if (hit) {
    char other[64];
    snprintf(other, sizeof other, "%.*s%s", (int)(f->decl_len < 48 ? f->decl_len : 48), f->decl,
             role_sfx[__builtin_ctz(hit)]);
    return failc(s, 0, NULL, "%s family %s clashes with family %s seen before",
                 sl_expo_type_name(f->pub.type), quote(q1, f->decl, f->decl_len),
                 quote(q2, other, strlen(other)));
  }
  if (sfx) {
    seen_t *pe = seen_find(P, f->decl, plen, hp);
    if (pe && pe->exists && (pe->owned & BIT(sfx))) {
      if (f->implicit)
        return failc(s, 0, NULL,
                     "sample %s belongs to %s family %s of line %d, which has ended (a family's "
                     "lines must form one group)",
                     quote(q1, f->decl, f->decl_len), sl_expo_type_name(pe->type),
                     quote(q2, f->decl, plen), pe->line);
      return failc(s, 0, NULL, "family %s clashes with the samples of %s family %s of line %d",
                   quote(q1, f->decl, f->decl_len), sl_expo_type_name(pe->type),
                   quote(q2, f->decl, plen), pe->line);
    }
    seen_t *c = seen_add(P, f->decl, plen, hp);
    if (!c) return nomem(s);
    c->child |= BIT(sfx);
  }
  if (!(e = seen_add(P, f->decl, f->decl_len, h))) return nomem(s);
  e->exists = 1;
  e->owned = f->owned;
  e->type = (uint8_t)f->pub.type;
  e->line = f->pub.line;
  f->announced = 1;
  int want = s->h && s->h->family ? s->h->family(s->ud, &f->pub) : 1;
  if (want < 0) {
    s->rc = want;
    sl_err(s->err, want, "line %d: the family handler stopped the parse (%s)", s->line,
           sl_strerror(want));
    return want;
  }
  f->wanted = want > 0;
  return 0;
}

static int fam_close(ps_t *s) {
  fam_t *f = &s->fam;
  qbuf_t q;
  if (!f->active) return 0;
  if (!f->announced) {
    int rc = announce(s);
    if (rc) return rc;
  }
  if (f->in_run)
    return failc(s, f->run_line, NULL, "histogram %s: bucket series ends without le=\"+Inf\"",
                 quote(q, f->pub.name.ptr, f->pub.name.len));
  f->active = 0;
  return 0;
}

// A family starting on a metadata line or a sample must not have been seen on the page before.
static int fam_fresh(ps_t *s, const char *name, size_t n, uint32_t *hash) {
  qbuf_t q;
  seen_t *e = seen_find(s->P, name, n, *hash = name_hash(name, n));
  if (e && e->exists)
    return failc(s, 0, NULL,
                 "family %s appears again after line %d (a family's lines must form one group)",
                 quote(q, name, n), e->line);
  return 0;
}

// ---- HELP and label values ------------------------------------------------------------------

// HELP text [p, eol): \\ and \n are escapes, and \" in OpenMetrics; another backslash stays.
static int set_help(ps_t *s, const char *p, const char *eol) {
  fam_t *f = &s->fam;
  if (eol > p && eol[-1] == '\r') return failc(s, 0, eol - 1, "CR at the end of HELP");
  int esc = 0;
  const char *q = p;
  for (; eol - q >= 8; q += 8) {
    uint64_t v = load64(q);
    if ((v & HIGHS) | has_zero(v) | has_byte(v, '\\')) break;
  }
  for (; q < eol; q++) {
    uint8_t c = *q;
    if (c == '\\') {
      esc = 1;
    } else if (c == 0) {
      return failc(s, 0, q, "NUL byte in HELP text");
    } else if (c >= 0x80) {
      size_t k = utf8_len((const uint8_t *)q, (const uint8_t *)eol);
      if (!k) return failc(s, 0, q, "invalid UTF-8 in HELP text");
      q += k - 1;
    }
  }
  if (!esc) {
    f->pub.help = (sl_expo_str_t){p, eol - p};
    return 0;
  }
  sl_expo_parser_t *P = s->P;
  if (grow((void **)&P->help, &P->help_cap, eol - p, 1)) return nomem(s);
  char *o = P->help;
  for (q = p; q < eol; q++) {
    if (*q == '\\' && q + 1 < eol && (q[1] == '\\' || q[1] == 'n' || (q[1] == '"' && s->om))) {
      *o++ = q[1] == 'n' ? '\n' : q[1];
      q++;
    } else {
      *o++ = *q;
    }
  }
  f->pub.help = (sl_expo_str_t){P->help, o - P->help};
  return 0;
}

// p is just past the opening quote of label i's value. Returns the position after the closing
// quote; the value points into buf, or (escapes) gets an offset into the lv scratch, resolved to a
// pointer once the line is done because the scratch may move while it grows.
static const char *label_value(ps_t *s, const char *p, size_t i) {
  const char *start = p, *e = s->end;
  sl_expo_parser_t *P = s->P;
  for (; e - p >= 8; p += 8) {
    uint64_t v = load64(p);
    if ((v & HIGHS) | has_zero(v) | has_byte(v, '"') | has_byte(v, '\\') | has_byte(v, '\n')) break;
  }
  while (p < e && IS(*p, C_LV)) p++;
  if (p < e && *p == '"') {
    P->labels[i].value = (sl_expo_str_t){start, p - start};
    P->esc[i] = NO_ESC;
    return p + 1;
  }
  int esc = 0;
  for (; p < e && *p != '"'; p++) {
    uint8_t c = *p;
    if (c == '\\') {
      esc = 1;
      if (p + 1 < e && (p[1] == '\\' || p[1] == '"' || p[1] == 'n')) p++;
    } else if (c == '\n') {
      return fail(s, p, "line feed inside a label value");
    } else if (c == 0) {
      return fail(s, p, "NUL byte in a label value");
    } else if (c >= 0x80) {
      size_t k = utf8_len((const uint8_t *)p, (const uint8_t *)e);
      if (!k) return fail(s, p, "invalid UTF-8 in a label value");
      p += k - 1;
    }
  }
  if (p >= e) return fail(s, start - 1, "unterminated label value");
  if (!esc) {
    P->labels[i].value = (sl_expo_str_t){start, p - start};
    P->esc[i] = NO_ESC;
    return p + 1;
  }
  if (grow((void **)&P->lv, &P->lv_cap, P->lv_len + (p - start), 1)) return nomem(s), NULL;
  size_t off = P->lv_len;
  char *o = P->lv + off;
  for (const char *q = start; q < p; q++) {
    if (*q == '\\' && (q[1] == '\\' || q[1] == '"' || q[1] == 'n')) {
      *o++ = q[1] == 'n' ? '\n' : q[1];
      q++;
    } else {
      *o++ = *q;
    }
  }
  P->labels[i].value = (sl_expo_str_t){NULL, o - (P->lv + off)};
  P->esc[i] = off;
  P->lv_len = o - P->lv;
  s->any_esc = 1;
  return p + 1;
}

// A label's value bytes before the pointers are resolved.
static const char *lval(const ps_t *s, const sl_expo_label_t *l) {
  size_t off = s->P->esc[l - s->P->labels];
  return off == NO_ESC ? l->value.ptr : s->P->lv + off;
}

static int lname_cmp(const void *a, const void *b) {
  const sl_expo_label_t *x = *(const sl_expo_label_t *const *)a;
  const sl_expo_label_t *y = *(const sl_expo_label_t *const *)b;
  if (x->name.len != y->name.len) return x->name.len < y->name.len ? -1 : 1;
  return memcmp(x->name.ptr, y->name.ptr, x->name.len);
}

static int dup_label(ps_t *s, const sl_expo_label_t *l) {
  qbuf_t q;
  return failc(s, 0, l->name.ptr, "duplicate label name %s", quote(q, l->name.ptr, l->name.len));
}

static int check_dups(ps_t *s, size_t from, size_t to) {
  sl_expo_parser_t *P = s->P;
  sl_expo_label_t *L = P->labels;
  if (to - from <= DUP_LINEAR_MAX) {
    for (size_t i = from + 1; i < to; i++)
      for (size_t j = from; j < i; j++)
        if (L[i].name.len == L[j].name.len && !memcmp(L[i].name.ptr, L[j].name.ptr, L[i].name.len))
          return dup_label(s, &L[i]);
    return 0;
  }
  if (grow((void **)&P->sorted, &P->sorted_cap, to - from, sizeof *P->sorted)) return nomem(s);
  for (size_t i = from; i < to; i++) P->sorted[i - from] = &L[i];
  qsort(P->sorted, to - from, sizeof *P->sorted, lname_cmp);
  for (size_t i = 1; i < to - from; i++)
    if (!lname_cmp(&P->sorted[i - 1], &P->sorted[i])) return dup_label(s, P->sorted[i]);
  return 0;
}

static const char *skip_blanks(const char *p, const char *e) {
  while (p < e && IS(*p, C_BLANK)) p++;
  return p;
}

// p at '{'. Appends the label set to P->labels from s->nlabels on. Text 0.0.4 allows blanks
// between tokens and a trailing comma; OpenMetrics neither.
static const char *label_set(ps_t *s, const char *p) {
  const char *e = s->end;
  sl_expo_parser_t *P = s->P;
  size_t from = s->nlabels;
  int text = !s->om;
  qbuf_t q;
  p++;
  if (text) p = skip_blanks(p, e);
  if (p < e && *p == '}') return p + 1;
  for (;;) {
    const char *n0 = p;
    if (p >= e || !IS(*p, C_LSTART)) {
      if (p < e && *p == '}') return fail(s, p, "trailing comma in label set");
      return fail(s, p, "expected a label name");
    }
    for (p++; p < e && IS(*p, C_LNAME);) p++;
    size_t nlen = p - n0;
    if (text) p = skip_blanks(p, e);
    if (p >= e || *p != '=')
      return fail(s, p, "expected '=' after label name %s", quote(q, n0, nlen));
    p++;
    if (text) p = skip_blanks(p, e);
    if (p >= e || *p != '"') return fail(s, p, "expected '\"' to open a label value");
    size_t i = s->nlabels;
    if (i >= P->labels_cap &&
        (grow((void **)&P->labels, &P->labels_cap, i + 1, sizeof *P->labels) ||
         grow((void **)&P->esc, &P->esc_cap, i + 1, sizeof *P->esc)))
      return nomem(s), NULL;
    P->labels[i].name = (sl_expo_str_t){n0, nlen};
    s->nlabels = i + 1;
    if (!(p = label_value(s, p + 1, i))) return NULL;
    if (text) p = skip_blanks(p, e);
    if (p < e && *p == ',') {
      p++;
      if (text) {
        p = skip_blanks(p, e);
        if (p < e && *p == '}') return check_dups(s, from, s->nlabels) ? NULL : p + 1;
      }
      continue;
    }
    if (p < e && *p == '}') return check_dups(s, from, s->nlabels) ? NULL : p + 1;
    return fail(s, p, "expected ',' or '}' after a label value");
  }
}

static const sl_expo_label_t *find_label(const ps_t *s, const char *name, size_t n) {
  for (size_t i = 0; i < s->nlabels; i++) {
    const sl_expo_label_t *l = &s->P->labels[i];
    if (l->name.len == n && !memcmp(l->name.ptr, name, n)) return l;
  }
  return NULL;
}

// ---- lines ----------------------------------------------------------------------------------

static const char *next_line(const ps_t *s, const char *p) {
  const char *nl = memchr(p, '\n', s->end - p);
  return nl ? nl + 1 : s->end;
}

// A metadata line for the family [name, name+n): continues the current family or starts one.
static int meta_family(ps_t *s, const char *name, size_t n, int kind) {
  fam_t *f = &s->fam;
  qbuf_t q;
  if (f->active && n == f->decl_len && !memcmp(name, f->decl, n)) {
    if (f->nsamples)
      return failc(s, 0, NULL, "%s line for %s after its samples", meta_kw[kind],
                   quote(q, name, n));
    if (f->have[kind])
      return failc(s, 0, NULL, "second %s line for %s", meta_kw[kind], quote(q, name, n));
  } else {
    uint32_t hash;
    int rc = fam_close(s);
    if (!rc) rc = fam_fresh(s, name, n, &hash);
    if (rc) return rc;
    fam_begin(s, name, n, hash);
  }
  f->have[kind] = 1;
  return 0;
}

static int set_family_type(ps_t *s, const char *t, size_t n) {
  fam_t *f = &s->fam;
  qbuf_t q;
  sl_expo_type_t type;
  if (parse_type(t, n, s->om, &type))
    return failc(s, 0, t, "invalid metric type %s for %s", quote(q, t, n),
                 s->om ? "OpenMetrics" : "text format 0.0.4");
  if ((type == SL_EXPO_INFO || type == SL_EXPO_STATESET) && f->pub.unit.len)
    return failc(s, 0, t, "%s family with a UNIT", sl_expo_type_name(type));
  set_type(f, s->om, type);
  return 0;
}

// A metric name at p, which must end at a blank or at the line's end. Returns its end.
static const char *meta_name(ps_t *s, const char *p, const char *kw) {
  const char *e = s->end, *name = p;
  qbuf_t q;
  const fam_t *f = &s->fam;
  if (p >= e || !IS(*p, C_NSTART)) return fail(s, p, "expected a metric name after %s", kw);
  // HELP and TYPE usually name the family the line before named: skip what is known valid.
  if (f->active && (size_t)(e - p) >= f->decl_len && !memcmp(p, f->decl, f->decl_len))
    p += f->decl_len - 1;
  for (p++; p < e && IS(*p, C_NAME);) p++;
  if (p < e && *p != '\n' && !IS(*p, C_BLANK))
    return fail(s, p, "invalid character in metric name %s", quote(q, name, p + 1 - name));
  return p;
}

// "# HELP", "# TYPE" or any other comment, which text 0.0.4 ignores. p at '#'.
static const char *text_comment(ps_t *s, const char *p) {
  const char *e = s->end;
  p = skip_blanks(p + 1, e);
  const char *k = p;
  while (p < e && *p != '\n' && !IS(*p, C_BLANK)) p++;
  int kind = p - k != 4              ? -1
             : !memcmp(k, "HELP", 4) ? META_HELP
             : !memcmp(k, "TYPE", 4) ? META_TYPE
                                     : -1;
  if (kind < 0) return next_line(s, p);
  const char *name = p = skip_blanks(p, e);
  if (!(p = meta_name(s, p, meta_kw[kind]))) return NULL;
  if (meta_family(s, name, p - name, kind)) return NULL;
  p = skip_blanks(p, e);
  const char *eol = line_end(s, p);
  if (kind == META_HELP) {
    if (set_help(s, p, eol)) return NULL;
    return eol < e ? eol + 1 : e;
  }
  const char *t = p;
  while (p < e && *p != '\n' && !IS(*p, C_BLANK)) p++;
  if (p == t) return fail(s, p, "TYPE line without a type");
  size_t tn = p - t;
  p = skip_blanks(p, e);
  if (p < e && *p != '\n') return fail(s, p, "unexpected text after the type");
  if (set_family_type(s, t, tn)) return NULL;
  return p < e ? p + 1 : e;
}

// "# HELP name text", "# TYPE name type", "# UNIT name unit" or "# EOF", separated by one space.
static const char *om_meta(ps_t *s, const char *p) {
  const char *e = s->end;
  fam_t *f = &s->fam;
  qbuf_t q1, q2;
  if (e - p >= 5 && !memcmp(p, "# EOF", 5)) {
    p += 5;
    if (p < e && !(*p == '\n' && p + 1 == e)) return fail(s, p, "content after \"# EOF\"");
    if (fam_close(s)) return NULL;
    s->eof = 1;
    return e;
  }
  int kind = -1;
  if (e - p >= 7 && !memcmp(p, "# ", 2) && p[6] == ' ') {
    for (int k = 0; k < 3; k++)
      if (!memcmp(p + 2, meta_kw[k], 4)) kind = k;
  }
  if (kind < 0)
    return fail(s, p, "comment line (OpenMetrics allows only # HELP, # TYPE, # UNIT and # EOF)");
  const char *name = p += 7;
  if (!(p = meta_name(s, p, meta_kw[kind]))) return NULL;
  size_t n = p - name;
  if (p >= e || *p != ' ') {
    if (p < e && *p != '\n') return fail(s, p, "expected one space after the metric name");
    return fail(s, p, "%s line without a %s", meta_kw[kind],
                kind == META_HELP   ? "text"
                : kind == META_TYPE ? "type"
                                    : "unit");
  }
  p++;
  if (meta_family(s, name, n, kind)) return NULL;
  const char *eol = line_end(s, p);
  if (eol == e) return fail(s, eol, "missing \"# EOF\" at the end");
  if (kind == META_HELP) {
    if (set_help(s, p, eol)) return NULL;
  } else if (kind == META_TYPE) {
    if (set_family_type(s, p, eol - p)) return NULL;
  } else {
    for (const char *u = p; u < eol; u++)
      if (!IS(*u, C_NAME)) return fail(s, u, "invalid character in unit");
    size_t un = eol - p;
    if (un && (f->decl_len < un + 1 || memcmp(f->decl + f->decl_len - un, p, un) ||
               f->decl[f->decl_len - un - 1] != '_'))
      return fail(s, p, "unit %s is not the suffix of %s", quote(q1, p, un),
                  quote(q2, f->decl, f->decl_len));
    if (un && (f->pub.type == SL_EXPO_INFO || f->pub.type == SL_EXPO_STATESET))
      return fail(s, p, "%s family with a UNIT", sl_expo_type_name(f->pub.type));
    f->pub.unit = (sl_expo_str_t){p, un};
  }
  return eol + 1;
}

// The end of a value or timestamp token.
static const char *token_end(const ps_t *s, const char *p) {
  const char *e = s->end;
  if (s->om)
    while (p < e && *p != ' ' && *p != '\n') p++;
  else
    while (p < e && *p != ' ' && *p != '\t' && *p != '\n') p++;
  return p;
}

// An OpenMetrics timestamp (seconds, may be fractional) at p, in milliseconds. Returns its end.
static const char *om_timestamp(ps_t *s, const char *p, int64_t *ms) {
  qbuf_t q;
  const char *t = p;
  double ts;
  p = token_end(s, p);
  if (p == t || parse_num(t, p - t, &ts) || !isfinite(ts) || fabs(ts) >= 9.2e15)
    return fail(s, t, "invalid timestamp %s", quote(q, t, p - t));
  *ms = llround(ts * 1000);
  return p;
}

// "# {labels} value [timestamp]" after an OpenMetrics sample, p at '#': checked, then dropped.
static const char *exemplar(ps_t *s, const char *p) {
  const char *e = s->end;
  qbuf_t q;
  size_t from = s->nlabels;
  if (e - p < 3 || p[1] != ' ' || p[2] != '{')
    return fail(s, p, "expected \"# {\" to start an exemplar");
  if (!(p = label_set(s, p + 2))) return NULL;
  size_t runes = 0;
  for (size_t i = from; i < s->nlabels; i++) {
    const sl_expo_label_t *l = &s->P->labels[i];
    const char *v = lval(s, l);
    runes += l->name.len;
    for (size_t j = 0; j < l->value.len; j++) runes += ((uint8_t)v[j] & 0xc0) != 0x80;
  }
  s->nlabels = from;
  if (runes > EXEMPLAR_MAX_RUNES)
    return fail(s, p, "exemplar labels longer than %d characters", EXEMPLAR_MAX_RUNES);
  if (p >= e || *p != ' ')
    return fail(s, p, "expected one space and a value after exemplar labels");
  const char *v = ++p;
  double d;
  p = token_end(s, p);
  if (p == v || parse_num(v, p - v, &d))
    return fail(s, v, "invalid exemplar value %s", quote(q, v, p - v));
  if (p < e && *p == ' ') {
    int64_t ms;
    if (!(p = om_timestamp(s, p + 1, &ms))) return NULL;
  }
  return p;
}

// Checks what the family's type asks of a sample and fills le/quantile.
static int type_rules(ps_t *s, const char *name, sl_expo_role_t role, sl_expo_sample_t *smp) {
  fam_t *f = &s->fam;
  qbuf_t q;
  smp->le = smp->quantile = NAN;
  switch (f->pub.type) {
  case SL_EXPO_HISTOGRAM:
  case SL_EXPO_GAUGEHISTOGRAM: {
    if (role != SL_EXPO_ROLE_BUCKET) {
      if (f->in_run)
        return failc(s, f->run_line, NULL, "histogram %s: bucket series ends without le=\"+Inf\"",
                     quote(q, f->pub.name.ptr, f->pub.name.len));
      return 0;
    }
    const sl_expo_label_t *le = find_label(s, "le", 2);
    if (!le) return failc(s, 0, name, "histogram bucket without an \"le\" label");
    const char *v = lval(s, le);
    if (parse_num(v, le->value.len, &smp->le) || isnan(smp->le))
      return failc(s, 0, le->name.ptr, "invalid le %s", quote(q, v, le->value.len));
    if (f->in_run && !(smp->le > f->last_le))
      return failc(s, 0, le->name.ptr, "le %s after le %g: buckets must increase up to \"+Inf\"",
                   quote(q, v, le->value.len), f->last_le);
    f->in_run = !(isinf(smp->le) && smp->le > 0);
    f->last_le = smp->le;
    f->run_line = s->line;
    return 0;
  }
  case SL_EXPO_SUMMARY: {
    if (role != SL_EXPO_ROLE_NONE) return 0;
    const sl_expo_label_t *ql = find_label(s, "quantile", 8);
    if (!ql) return failc(s, 0, name, "summary sample without a \"quantile\" label");
    const char *v = lval(s, ql);
    if (parse_num(v, ql->value.len, &smp->quantile) || isnan(smp->quantile))
      return failc(s, 0, ql->name.ptr, "invalid quantile %s", quote(q, v, ql->value.len));
    return 0;
  }
  case SL_EXPO_STATESET:
    if (!find_label(s, f->decl, f->decl_len))
      return failc(s, 0, name, "stateset sample without a label named %s",
                   quote(q, f->decl, f->decl_len));
    return 0;
  default:
    return 0;
  }
}

static const char *sample(ps_t *s, const char *p) {
  const char *e = s->end, *name = p, *q;
  fam_t *f = &s->fam;
  sl_expo_parser_t *P = s->P;
  qbuf_t q1, q2;
  // Most samples continue the current family: compare its name first, then scan only the rest.
  int prefix = f->active && (size_t)(e - p) >= f->decl_len && !memcmp(p, f->decl, f->decl_len);
  q = prefix ? p + f->decl_len : p + 1;
  while (q < e && IS(*q, C_NAME)) q++;
  size_t nlen = q - name;
  int role = -1;
  if (prefix) {
    role = sfx_role(name + f->decl_len, nlen - f->decl_len);
    if (role >= 0 && !(f->owned & BIT(role)))
      role = -1;
    else if (role == SL_EXPO_ROLE_NONE)
      role = f->bare_role;
  }
  if (role < 0) {
    if (prefix && nlen == f->decl_len)
      return fail(s, name, "sample %s does not fit %s family %s", quote(q1, name, nlen),
                  sl_expo_type_name(f->pub.type), quote(q2, f->pub.name.ptr, f->pub.name.len));
    uint32_t hash;
    if (fam_close(s) || fam_fresh(s, name, nlen, &hash)) return NULL;
    fam_begin(s, name, nlen, hash);
    f->implicit = 1;
    if (announce(s)) return NULL;
    role = SL_EXPO_ROLE_NONE;
  } else if (!f->announced && announce(s)) {
    return NULL;
  }
  f->nsamples++;
  if (!f->wanted) return next_line(s, q);

  p = q;
  s->nlabels = 0;
  s->any_esc = 0;
  P->lv_len = 0;
  if (s->om) {
    if (p < e && *p == '{' && !(p = label_set(s, p))) return NULL;
    if (p >= e || *p != ' ') {
      if (p < e && *p != '\n' && !IS(*p, C_BLANK))
        return fail(s, p, "invalid character in metric name %s", quote(q1, name, p + 1 - name));
      return fail(s, p, "expected one space and a value after the metric name");
    }
    p++;
  } else {
    const char *b = p;
    p = skip_blanks(p, e);
    if (p < e && *p == '{') {
      if (!(p = label_set(s, p))) return NULL;
      p = skip_blanks(p, e);
    } else if (p == b && p < e && *p != '\n') {
      return fail(s, p, "invalid character in metric name %s", quote(q1, name, p + 1 - name));
    }
  }
  sl_expo_sample_t smp;
  const char *v = p;
  p = token_end(s, p);
  if (p == v) return fail(s, v, "missing value");
  int rc = parse_num(v, p - v, &smp.value);
  if (rc)
    return fail(s, v, "%s value %s", rc == -2 ? "out-of-range" : "invalid", quote(q1, v, p - v));
  smp.has_ts = 0;
  smp.ts_ms = 0;
  if (s->om) {
    if (p < e && *p == ' ' && !(p + 1 < e && p[1] == '#')) {
      if (!(p = om_timestamp(s, p + 1, &smp.ts_ms))) return NULL;
      smp.has_ts = 1;
    }
    if (p < e && *p == ' ' && !(p = exemplar(s, p + 1))) return NULL;
    if (p >= e) return fail(s, p, "missing \"# EOF\" at the end");
    if (*p != '\n') return fail(s, p, "unexpected text after the value");
  } else {
    p = skip_blanks(p, e);
    if (p < e && *p != '\n') {
      const char *t = p;
      p = token_end(s, p);
      rc = parse_i64(t, p - t, &smp.ts_ms);
      if (rc)
        return fail(s, t, "%s timestamp %s (integer milliseconds)",
                    rc == -2 ? "out-of-range" : "invalid", quote(q1, t, p - t));
      smp.has_ts = 1;
      p = skip_blanks(p, e);
      if (p < e && *p != '\n') return fail(s, p, "unexpected text after the timestamp");
    }
  }
  if (type_rules(s, name, role, &smp)) return NULL;

  if (s->any_esc)
    for (size_t i = 0; i < s->nlabels; i++)
      if (P->esc[i] != NO_ESC) P->labels[i].value.ptr = P->lv + P->esc[i];
  if (s->h && s->h->sample) {
    smp.name = (sl_expo_str_t){name, nlen};
    smp.family = &f->pub;
    smp.role = role;
    smp.labels = P->labels;
    smp.nlabels = s->nlabels;
    smp.line = s->line;
    rc = s->h->sample(s->ud, &smp);
    if (rc < 0) {
      s->rc = rc;
      sl_err(s->err, rc, "line %d: the sample handler stopped the parse (%s)", s->line,
             sl_strerror(rc));
      return NULL;
    }
  }
  return p < e ? p + 1 : e;
}

// ---- entry points ---------------------------------------------------------------------------

sl_expo_parser_t *sl_expo_parser_new(void) {
  return calloc(1, sizeof(sl_expo_parser_t));
}

static void parser_deinit(sl_expo_parser_t *p) {
  free(p->labels);
  free(p->esc);
  free(p->lv);
  free(p->help);
  free(p->sorted);
  free(p->seen);
}

void sl_expo_parser_free(sl_expo_parser_t *p) {
  if (!p) return;
  parser_deinit(p);
  free(p);
}

int sl_expo_parser_run(sl_expo_parser_t *P, const char *buf, size_t len, sl_expo_format_t fmt,
                       const sl_expo_handler_t *h, void *ud, sl_err_t *err) {
  if (!P || (!buf && len)) return sl_err(err, SL_EINVAL, "sl_expo_parser_run: no parser or buffer");
  // Line numbers are ints and the name set stores 32-bit lengths.
  if (len > INT32_MAX) return sl_err(err, SL_EINVAL, "exposition larger than 2 GiB");
  if (err) sl_err_clear(err);
  ps_t s = {
      .P = P, .end = buf + len, .om = fmt == SL_EXPO_OPENMETRICS, .h = h, .ud = ud, .err = err};
  if (++P->gen == 0) { // the generation wrapped: clear, or stale entries would look current
    memset(P->seen, 0, P->seen_cap * sizeof *P->seen);
    P->gen = 1;
  }
  P->seen_n = 0;
  const char *p = buf, *e = s.end;
  qbuf_t q;
  while (p && p < e && !s.eof) {
    s.ls = p;
    s.line++;
    if (s.om) {
      if (*p == '#')
        p = om_meta(&s, p);
      else if (IS(*p, C_NSTART))
        p = sample(&s, p);
      else if (*p == '\n')
        p = fail(&s, p, "empty line (not allowed in OpenMetrics)");
      else if (IS(*p, C_BLANK))
        p = fail(&s, p, "leading whitespace");
      else
        p = fail(&s, p, "unexpected %s at the start of a line", quote(q, p, 1));
      continue;
    }
    p = skip_blanks(p, e);
    if (p == e) break;
    if (*p == '\n')
      p++;
    else if (*p == '#')
      p = text_comment(&s, p);
    else if (IS(*p, C_NSTART))
      p = sample(&s, p);
    else if (*p == '{')
      p = fail(&s, p, "sample without a metric name (quoted names unsupported)");
    else
      p = fail(&s, p, "unexpected %s at the start of a line", quote(q, p, 1));
  }
  if (!p) return s.rc;
  if (s.om && !s.eof) {
    s.ls = e;
    if (len == 0 || e[-1] == '\n') s.line++;
    return failc(&s, s.line, NULL, "missing \"# EOF\" at the end");
  }
  if (!s.om && fam_close(&s)) return s.rc;
  return 0;
}

int sl_expo_parse(const char *buf, size_t len, sl_expo_format_t fmt, const sl_expo_handler_t *h,
                  void *ud, sl_err_t *err) {
  sl_expo_parser_t p = {0};
  int rc = sl_expo_parser_run(&p, buf, len, fmt, h, ud, err);
  parser_deinit(&p);
  return rc;
}

sl_expo_format_t sl_expo_format_from_content_type(const char *ct) {
  static const char om[] = "application/openmetrics-text";
  if (!ct) return SL_EXPO_TEXT_004;
  while (*ct == ' ' || *ct == '\t') ct++;
  size_t n = sizeof om - 1;
  for (size_t i = 0; i < n; i++)
    if (!ct[i] || (ct[i] | 0x20) != om[i]) return SL_EXPO_TEXT_004;
  char c = ct[n];
  return c == '\0' || c == ';' || c == ' ' || c == '\t' ? SL_EXPO_OPENMETRICS : SL_EXPO_TEXT_004;
}

const sl_expo_label_t *sl_expo_sample_label(const sl_expo_sample_t *s, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < s->nlabels; i++)
    if (s->labels[i].name.len == n && !memcmp(s->labels[i].name.ptr, name, n)) return &s->labels[i];
  return NULL;
}
